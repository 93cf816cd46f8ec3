/* SPDX-License-Identifier: MIT */
/*
 * attach: heapprof attach and heapprof detach, profiling a process that is
 * already running and stopping again. This file checks that the process can
 * be attached to, and says why not; inject.c makes the call inside it, and
 * lib/attach.c is what runs there.
 */
#include "heapprof.h"
#include "attach.h"
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage_attach(FILE *f)
{
	fprintf(
	    f,
	    "usage: heapprof attach [--rate N] [--output PREFIX] [--http ADDR] "
	    "[--signal SIG] PID\n"
	    "Loads libheapprof.so into the running process PID (x86_64, dynamically "
	    "linked,\n"
	    "glibc 2.34 or later) and profiles it from now on, as if started under "
	    "it;\n"
	    "heapprof detach PID stops. Options as the HEAPPROF_ variables of the same "
	    "names\n"
	    "(default rate 524288, output ./heapprof, signal USR2); the process's "
	    "environment\n"
	    "is not read. docs/attach.md says how, and what it never does.\n");
}

static void usage_detach(FILE *f)
{
	fprintf(f,
	        "usage: heapprof detach PID\n"
	        "Stops profiling a process heapprof attach started profiling: its "
	        "allocation\n"
	        "calls go to its own allocator again; the library stays loaded, idle.\n");
}

/* /proc/PID/status's line "Name:\tvalue", value into out. */
static bool status_field(pid_t pid, const char *name, char *out, size_t len)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	bool found = false;
	size_t n = strlen(name);
	while (f && !found && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':') {
			found = true;
			snprintf(out, len, "%s",
			         line + n + 1 + strspn(line + n + 1, " \t"));
			out[strcspn(out, "\n")] = '\0';
		}
	if (f)
		fclose(f);
	return found;
}

/* What ptrace's EPERM means here, from kernel.yama.ptrace_scope. */
static void explain_eperm(pid_t pid)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int scope = -1;
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	const char *need =
	    scope == 1   ? "kernel.yama.ptrace_scope is 1: only a parent may trace its "
	                   "children; run heapprof as root or with CAP_SYS_PTRACE, or set "
	                   "kernel.yama.ptrace_scope=0"
	    : scope == 2 ? "kernel.yama.ptrace_scope is 2: only a process with "
	                   "CAP_SYS_PTRACE may trace; run heapprof as root"
	    : scope == 3
	        ? "kernel.yama.ptrace_scope is 3: no process may trace another "
	          "until a reboot"
	        : "the process is another user's, or not dumpable (setuid), or a "
	          "security module refuses; CAP_SYS_PTRACE (root) lifts the first two";
	die("ptrace of process %d is not permitted: %s", (int)pid, need);
}

/* Refuses a process that is another architecture's or statically linked. */
static void check_program(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	FILE *f = fopen(path, "re");
	Elf64_Ehdr eh;
	if (!f && (errno == EACCES || errno == EPERM))
		explain_eperm(pid); /* not dumpable, or another user's */
	if (!f)
		die("cannot read the program of process %d (%s)", (int)pid,
		    strerror(errno));
	bool ok = fread(&eh, 1, sizeof(eh), f) == sizeof(eh);
	if (ok && eh.e_ident[EI_CLASS] == ELFCLASS32)
		die("process %d is a 32-bit program: heapprof attach handles x86_64 "
		    "programs only",
		    (int)pid);
	if (!ok || eh.e_machine != EM_X86_64)
		die("process %d is not an x86_64 program (ELF machine %d): heapprof "
		    "attach handles x86_64 programs only",
		    (int)pid, ok ? eh.e_machine : -1);
	bool interp = false;
	for (int i = 0; i < eh.e_phnum && !interp; i++) {
		Elf64_Phdr ph;
		if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * sizeof(ph)), SEEK_SET) ||
		    fread(&ph, 1, sizeof(ph), f) != sizeof(ph))
			break;
		interp = ph.p_type == PT_INTERP;
	}
	fclose(f);
	if (!interp)
		die("process %d is statically linked: there is no dynamic loader in it "
		    "to "
		    "load libheapprof.so (nor would LD_PRELOAD work)",
		    (int)pid);
}

/* Refuses a process that a debugger or tracer already traces. */
static void check_not_traced(pid_t pid)
{
	char v[64], name[64] = "?";
	if (status_field(pid, "TracerPid", v, sizeof(v)) && atoi(v) != 0) {
		status_field((pid_t)atoi(v), "Name", name, sizeof(name));
		die("process %d is being traced by process %s (%s): a process has one "
		    "tracer at a time; detach that one first",
		    (int)pid, v, name);
	}
}

/* libheapprof's path in pid's maps, or "". */
static void mapped_library(pid_t pid, char *out, size_t len)
{
	char path[64], line[PATH_MAX + 256];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	out[0] = '\0';
	while (f && !out[0] && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');
		if (!p)
			continue;
		p[strcspn(p, "\n")] = '\0';
		char *gone = strstr(p, " (deleted)"); /* replaced on disk since: the */
		if (gone && !gone[10])                /* loader knows it by its name */
			*gone = '\0';
		if (inject_is_profiler(p))
			snprintf(out, len, "%s", p);
	}
	if (f)
		fclose(f);
}

/* Makes the call, or dies with the reason; the process runs on either way. */
static void call(pid_t pid, const inject_req_t *req, inject_res_t *res)
{
	char why[PATH_MAX + 256];
	int err = inject_call(pid, req, res, why, sizeof(why));
	if (err == -EPERM)
		explain_eperm(pid);
	if (err < 0)
		die("cannot make the call in process %d: %s; the process runs on as "
		    "before",
		    (int)pid, err == -ESRCH && !why[0] ? "it ended" : why);
	if (!res->loaded)
		die("process %d cannot load %s: %s; the process runs on as before",
		    (int)pid, req->lib, res->dlerror[0] ? res->dlerror : "dlopen failed");
	if (!res->found)
		die("%s in process %d has no %s (a different version of the library?)",
		    req->lib, (int)pid, req->fn);
}

/* The options for the library, validated here: lines NAME=VALUE. */
static void options_text(char *out, size_t len, const char *rate, const char *output,
                         const char *http, const char *sig)
{
	uint64_t r;
	int s;
	if (hp_config_parse_size(rate, &r))
		die("--rate: expected bytes between samples (0 = off, 1 = every "
		    "allocation, K/M/G suffixes), got '%s'",
		    rate);
	if (hp_config_parse_signal(sig, &s))
		die("--signal: expected a catchable signal (USR2, PROF, RTMIN+3, ...) or "
		    "none, got '%s'",
		    sig);
	char cwd[PATH_MAX] = "";
	if (output[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		die("cannot tell the current directory for --output %s", output);
	int n = snprintf(out, len,
	                 "HEAPPROF_RATE=%s\nHEAPPROF_OUTPUT=%s%s%s\nHEAPPROF_SIGNAL=%s\n"
	                 "%s%s\n",
	                 rate, cwd, cwd[0] ? "/" : "", output, sig,
	                 http[0] ? "HEAPPROF_HTTP=" : "", http);
	if (n < 0 || (size_t)n >= len)
		die("--output or --http is too long");
}

/* Refuses a snapshot signal the program handles or ignores itself. */
static void check_signal(pid_t pid, const char *sig)
{
	int s;
	char cgt[32], ign[32], name[16];
	if (hp_config_parse_signal(sig, &s) || !s ||
	    !status_field(pid, "SigCgt", cgt, sizeof(cgt)) ||
	    !status_field(pid, "SigIgn", ign, sizeof(ign)))
		return;
	unsigned long long bit = 1ull << (s - 1);
	if ((strtoull(cgt, NULL, 16) | strtoull(ign, NULL, 16)) & bit)
		die("process %d handles or ignores SIG%s itself: pass --signal with one "
		    "it "
		    "leaves alone (e.g. --signal RTMIN+3) or --signal none",
		    (int)pid, hp_config_signal_name(s, name, sizeof(name)));
}

int cmd_attach(int argc, char **argv)
{
	const char *rate = "524288", *output = "heapprof", *http = "", *sig = "USR2";
	const opt_t opts[] = {
	    {.name = "rate", .has_arg = true, .dst = &rate},
	    {.name = "output", .has_arg = true, .dst = &output},
	    {.name = "http", .has_arg = true, .dst = &http},
	    {.name = "signal", .has_arg = true, .dst = &sig},
	    {0},
	};
	const cmdline_t cmd = {opts, usage_attach, 1, 1};
	pid_t pid = target_process(argv[parse_options(argc, argv, &cmd)]);
	char text[PATH_MAX + 512], lib[PATH_MAX];
	options_text(text, sizeof(text), rate, output, http, sig);
	check_program(pid);
	check_not_traced(pid);
	record_t r;
	char why[PATH_MAX + 256];
	if (record_read(pid, &r, why, sizeof(why)))
		die("process %d is already profiled (its record: output %s); take "
		    "snapshots with heapprof snapshot %d",
		    (int)pid, r.output, (int)pid);
	check_signal(pid, sig);
	mapped_library(pid, lib, sizeof(lib));
	if (!lib[0]) {
		const char *own = find_library();
		if (!own)
			die("libheapprof.so not found next to heapprof");
		snprintf(lib, sizeof(lib), "%s", own);
	}
	inject_req_t req = {lib, 2 /* RTLD_NOW */, "heapprof_attach_start", text};
	inject_res_t res;
	call(pid, &req, &res);
	if (res.ret == HP_ATTACH_PRELOADED || res.ret == HP_ATTACH_ACTIVE)
		die("process %d is already profiled (%s)", (int)pid,
		    res.ret == HP_ATTACH_ACTIVE ? "attached" : "LD_PRELOAD or linked in");
	if (res.ret == HP_ATTACH_RATE)
		die("process %d was attached before at another rate: attach again with "
		    "that "
		    "--rate (a loaded profiler keeps its first rate)",
		    (int)pid);
	if (res.ret != HP_ATTACH_OK)
		die("process %d: the profiler did not start (%d); see its standard error",
		    (int)pid, res.ret);
	printf("attached to process %d: threads stopped %.2f ms, %d attempt%s\n",
	       (int)pid, res.stopped_ns / 1e6, res.attempts,
	       res.attempts == 1 ? "" : "s");
	return 0;
}

int cmd_detach(int argc, char **argv)
{
	const opt_t opts[] = {{0}};
	const cmdline_t cmd = {opts, usage_detach, 1, 1};
	pid_t pid = target_process(argv[parse_options(argc, argv, &cmd)]);
	char lib[PATH_MAX];
	check_not_traced(pid);
	mapped_library(pid, lib, sizeof(lib));
	if (!lib[0])
		die("process %d is not profiled: libheapprof.so is not loaded in it",
		    (int)pid);
	inject_req_t req = {lib, 2 | 4 /* RTLD_NOW | RTLD_NOLOAD */,
	                    "heapprof_attach_stop", ""};
	inject_res_t res;
	call(pid, &req, &res);
	if (res.ret == HP_ATTACH_PRELOADED)
		die("process %d was started under the profiler (LD_PRELOAD), not "
		    "attached "
		    "to: nothing to detach",
		    (int)pid);
	if (res.ret == HP_ATTACH_NOT_ACTIVE)
		die("process %d is not attached to (detached already)", (int)pid);
	printf("detached from process %d: threads stopped %.2f ms, %d attempt%s\n",
	       (int)pid, res.stopped_ns / 1e6, res.attempts,
	       res.attempts == 1 ? "" : "s");
	return 0;
}
