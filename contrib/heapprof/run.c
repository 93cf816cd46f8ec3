/* SPDX-License-Identifier: MIT */
/*
 * run: heapprof run, a program started under the profiler: libheapprof.so
 * (and the allocator asked for) in LD_PRELOAD, the options in the
 * environment, then exec. The program's exit status is the command's.
 */
#include "heapprof.h"
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HEAPPROF_LIBDIR
#define HEAPPROF_LIBDIR "/usr/local/lib"
#endif

static bool readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/*
 * libheapprof.so next to this program (the build tree: contrib/heapprof/heapprof and
 * lib/.libs/libheapprof.so; an install: bin/heapprof and lib/libheapprof.so),
 * else where it was installed.
 */
const char *find_library(void)
{
	static char path[PATH_MAX + 64];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			static const char *rel[] = {"/../../lib/.libs/libheapprof.so",
			                            "/../lib/libheapprof.so",
			                            "/../lib64/libheapprof.so"};
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(path, sizeof(path), "%s%s", self, rel[i]);
				char *real = realpath(path, NULL);
				if (real && readable(real)) {
					snprintf(path, sizeof(path), "%s", real);
					free(real);
					return path;
				}
				free(real);
			}
		}
	}
	snprintf(path, sizeof(path), "%s/libheapprof.so", HEAPPROF_LIBDIR);
	return readable(path) ? path : NULL;
}

/*
 * Is a library of this name where the dynamic loader looks (LD_LIBRARY_PATH,
 * then the system directories)? Not by dlopen: jemalloc uses initial-exec
 * TLS and cannot be dlopened into a running program.
 */
static bool loader_finds(const char *name)
{
	char path[PATH_MAX];
	const char *env = getenv("LD_LIBRARY_PATH");
	if (env) {
		char *dirs = strdup(env), *save = NULL;
		for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d;
		     d = strtok_r(NULL, ":", &save)) {
			snprintf(path, sizeof(path), "%s/%s", d, name);
			if (readable(path)) {
				free(dirs);
				return true;
			}
		}
		free(dirs);
	}
	static const char *system_dirs[] = {"/lib/x86_64-linux-gnu",
	                                    "/usr/lib/x86_64-linux-gnu",
	                                    "/lib/aarch64-linux-gnu",
	                                    "/usr/lib/aarch64-linux-gnu",
	                                    "/lib64",
	                                    "/usr/lib64",
	                                    "/lib",
	                                    "/usr/lib",
	                                    "/usr/local/lib"};
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", system_dirs[i], name);
		if (readable(path))
			return true;
	}
	return false;
}

/* The preload entry for --allocator, or dies with the Debian package to install. */
static const char *allocator_entry(const char *a)
{
	static const struct {
		const char *name, *libs[2], *package;
	} known[] = {
	    {"jemalloc", {"libjemalloc.so.2", NULL}, "libjemalloc2"},
	    {"tcmalloc",
	     {"libtcmalloc_minimal.so.4", "libtcmalloc.so.4"},
	     "libtcmalloc-minimal4"},
	};
	if (!strcmp(a, "glibc"))
		return NULL;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(a, known[i].name))
			continue;
		for (int k = 0; k < 2 && known[i].libs[k]; k++)
			if (loader_finds(known[i].libs[k]))
				return known[i].libs[k];
		die("--allocator %s: %s not found (Debian: apt-get install %s)", a,
		    known[i].libs[0], known[i].package);
	}
	if (!strchr(a, '/'))
		die("--allocator: expected glibc, jemalloc, tcmalloc or a path to a .so, "
		    "got '%s'",
		    a);
	if (!readable(a))
		die("--allocator %s: %s", a, strerror(errno));
	return a;
}

static void usage_run(FILE *f)
{
	fprintf(f, "usage: heapprof run [--rate N] [--output PREFIX] [--signal SIG]\n"
	           "                    [--allocator glibc|jemalloc|tcmalloc|PATH] "
	           "[--mutex] [--block] -- CMD [ARGS...]\n"
	           "Runs CMD under the profiler (LD_PRELOAD=libheapprof.so) and exits "
	           "with its status.\n"
	           "  --rate N          mean bytes between samples (HEAPPROF_RATE; 1 = "
	           "all, 0 = off)\n"
	           "  --output PREFIX   profile files PREFIX.<pid>.<seq>.<trigger>.pb.gz "
	           "(HEAPPROF_OUTPUT)\n"
	           "  --signal SIG      snapshot signal, or none (HEAPPROF_SIGNAL; "
	           "default USR2)\n"
	           "  --allocator A     run CMD on jemalloc or tcmalloc (preloaded "
	           "behind the profiler)\n"
	           "  --mutex           also a mutex profile of every contention "
	           "(HEAPPROF_MUTEX_FRACTION=1)\n"
	           "  --block           also a block profile of every wait "
	           "(HEAPPROF_BLOCK_RATE=1)\n"
	           "At exit CMD prints a summary of what is still in use on stderr "
	           "(HEAPPROF_SUMMARY=0 turns it off).\n");
}

/* --rate and --signal are checked here and passed on as text, in the environment. */
static bool parse_rate(const char *arg, void *dst)
{
	uint64_t v;
	*(const char **)dst = arg;
	return !hp_config_parse_size(arg, &v);
}

static bool parse_signal(const char *arg, void *dst)
{
	int signo;
	*(const char **)dst = arg;
	return !hp_config_parse_signal(arg, &signo);
}

/* The file execvp would run for cmd, into path; false if there is none. */
static bool find_in_path(const char *cmd, char *path, size_t cap)
{
	if (strchr(cmd, '/')) {
		snprintf(path, cap, "%s", cmd);
		return true;
	}
	const char *dirs = getenv("PATH");
	for (const char *d = dirs ? dirs : "/usr/bin:/bin"; *d;) {
		size_t n = strcspn(d, ":");
		snprintf(path, cap, "%.*s%s%s", (int)n, d, n ? "/" : "", cmd);
		if (access(path, X_OK) == 0)
			return true;
		d += n + (d[n] == ':');
	}
	return false;
}

/* Is path a 64-bit ELF executable without a program interpreter? */
static bool statically_linked(const char *path)
{
	FILE *f = fopen(path, "rb");
	Elf64_Ehdr eh;
	bool is_static = false;
	if (f && fread(&eh, sizeof(eh), 1, f) == 1 &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh.e_phentsize == sizeof(Elf64_Phdr)) {
		is_static = true;
		for (unsigned i = 0; i < eh.e_phnum && is_static; i++) {
			Elf64_Phdr ph;
			if (fseek(f, (long)(eh.e_phoff + i * sizeof(ph)), SEEK_SET) ||
			    fread(&ph, sizeof(ph), 1, f) != 1 || ph.p_type == PT_INTERP)
				is_static = false;
		}
	}
	if (f)
		fclose(f);
	return is_static;
}

int cmd_run(int argc, char **argv)
{
	const char *rate = NULL, *output = NULL, *sig = NULL, *alloc = "glibc";
	bool mutex = false, block = false;
	const opt_t opts[] = {
	    {.name = "rate",
	     .has_arg = true,
	     .dst = &rate,
	     .parse = parse_rate,
	     .expected = "bytes between samples (K/M/G suffixes)"},
	    {.name = "output", .has_arg = true, .dst = &output},
	    {.name = "signal",
	     .has_arg = true,
	     .dst = &sig,
	     .parse = parse_signal,
	     .expected = "a catchable signal (USR2, PROF, RTMIN+3, 12) or none"},
	    {.name = "allocator", .has_arg = true, .dst = &alloc},
	    {.name = "mutex", .dst = &mutex},
	    {.name = "block", .dst = &block},
	    {0},
	};
	const cmdline_t cmd = {opts, usage_run, 1, -1, .stop_at_operand = true};
	int first = parse_options(argc, argv, &cmd);
	const char *lib = find_library();
	if (!lib)
		die("libheapprof.so not found next to heapprof nor in %s",
		    HEAPPROF_LIBDIR);
	const char *extra = allocator_entry(alloc);
	const char *old = getenv("LD_PRELOAD");
	size_t len = strlen(lib) + (extra ? strlen(extra) + 1 : 0) +
	             (old ? strlen(old) + 1 : 0) + 1;
	char *preload = malloc(len);
	if (!preload)
		die("out of memory");
	snprintf(preload, len, "%s%s%s%s%s", lib, extra ? " " : "", extra ? extra : "",
	         old && *old ? " " : "", old ? old : "");
	setenv("LD_PRELOAD", preload, 1);
	if (rate)
		setenv("HEAPPROF_RATE", rate, 1);
	if (sig)
		setenv("HEAPPROF_SIGNAL", sig, 1);
	setenv("HEAPPROF_SUMMARY", "1", 0); /* the user's own value wins */
	/* Every event, as go test -mutexprofile and -blockprofile record them;
	 * a fraction or rate of the user's own wins. */
	if (mutex)
		setenv("HEAPPROF_MUTEX_FRACTION", "1", 0);
	if (block)
		setenv("HEAPPROF_BLOCK_RATE", "1", 0);
	if (output) {
		/* Absolute, so that heapprof snapshot finds the files wherever the
		 * program moves. */
		char abs[PATH_MAX + 1];
		if (output[0] != '/' && getcwd(abs, PATH_MAX - strlen(output) - 2)) {
			strcat(abs, "/");
			strcat(abs, output);
			output = abs;
		}
		setenv("HEAPPROF_OUTPUT", output, 1);
	}
	char path[PATH_MAX];
	if (find_in_path(argv[first], path, sizeof(path)) && statically_linked(path))
		fprintf(stderr,
		        "heapprof run: %s is statically linked: nothing can be preloaded "
		        "into "
		        "it, so it runs unprofiled\n",
		        path);
	execvp(argv[first], argv + first);
	fprintf(stderr, "heapprof: cannot run %s: %s\n", argv[first], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
