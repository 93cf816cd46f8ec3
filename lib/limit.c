/* SPDX-License-Identifier: MIT */
/*
 * limit: the limits (cgroup v2 memory.max, v1 memory.limit_in_bytes, each
 * ancestor's too, and RLIMIT_AS), the heap threshold they give, and the oom
 * profile. Files are read with stack buffers and system calls only, at
 * start-up and when the threshold is reached: never per allocation.
 */
#include "limit.h"
#include "backing.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "dump.h"
#include "log.h"
#include "sampler.h"
#include "scratch.h"
#include "trigger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <unistd.h>

/* Points of the limit under the threshold at which the profile re-arms. */
#define HYSTERESIS_PCT 5
/* Address space reserved at start-up for the oom profile's writer. */
#define OOM_RESERVE (8u << 20)
#define NO_LIMIT    UINT64_MAX

static _Atomic int64_t fire_at = INT64_MAX; /* heap bytes; INT64_MAX: none */
static _Atomic int64_t rearm_at;
static atomic_bool armed = true;
static atomic_bool oom_done;

/* The limit the threshold comes from, and what the process had mapped or
 * resident at start-up (not on the heap the profiler counts). */
static uint64_t lim_bytes, lim_base;
static const char *lim_what = "";

static hp_backing_t next; /* hp_real before the checks went in front */

/* ---- reading the limits ---------------------------------------------------- */

/* Calls fn(line, arg) for each line of path (lines cut at 4 KiB) until it
 * returns true; with open, read and close only. */
static void each_line(const char *path, bool (*fn)(char *line, void *arg), void *arg)
{
	char buf[4096];
	int fd = hp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 && !have)
			break;
		have += n > 0 ? (size_t)n : 0;
		buf[have] = '\0';
		char *nl = strchr(buf, '\n');
		if (!nl && n > 0 && have < sizeof(buf) - 1)
			continue;
		if (nl)
			*nl = '\0';
		bool stop = fn(buf, arg);
		size_t used = nl ? (size_t)(nl + 1 - buf) : have;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (stop)
			break;
	}
	hp_sys_close(fd);
}

static bool first_line(char *line, void *arg)
{
	hp_fmt(arg, 64, "%s", line);
	return true;
}

/* The number in path ("max" or a missing file: NO_LIMIT). */
static uint64_t read_number(const char *path)
{
	char text[64] = "";
	each_line(path, first_line, text);
	if (text[0] < '0' || text[0] > '9')
		return NO_LIMIT;
	uint64_t v = strtoull(text, NULL, 10);
	return v >= (1ULL << 62) ? NO_LIMIT : v; /* v1 says "none" so */
}

typedef struct {
	char path[512]; /* the cgroup's path in the hierarchy */
	bool v1;
	char dir[1024]; /* where it is mounted */
} cgroup_t;

/* /proc/self/cgroup: v1's "N:...memory...:/path", else v2's "0::/path". */
static bool cgroup_line(char *line, void *arg)
{
	cgroup_t *cg = arg;
	char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2)
		return false;
	*c2 = '\0';
	bool v2 = !strcmp(line, "0") && c1 + 1 == c2;
	bool mem = false;
	char *save = NULL; /* strtok's own state is the program's too */
	for (char *t = strtok_r(c1 + 1, ",", &save); t && !mem;
	     t = strtok_r(NULL, ",", &save))
		mem = !strcmp(t, "memory");
	if (mem || (v2 && !cg->v1)) {
		hp_fmt(cg->path, sizeof(cg->path), "%s", c2 + 1);
		cg->v1 = mem;
	}
	return mem;
}

/* /proc/self/mountinfo: "id parent dev root mountpoint opts... - type src
 * superopts"; the mount of the hierarchy, the cgroup's directory under it. */
static bool mount_line(char *line, void *arg)
{
	cgroup_t *cg = arg;
	char *f[5], *dash = strstr(line, " - "), *save = NULL;
	if (!dash)
		return false;
	*dash = '\0';
	char *type = strtok_r(dash + 3, " ", &save);
	strtok_r(NULL, " ", &save); /* the source */
	char *super = strtok_r(NULL, " ", &save);
	save = NULL;
	f[0] = strtok_r(line, " ", &save);
	for (int i = 1; i < 5 && f[i - 1]; i++)
		f[i] = strtok_r(NULL, " ", &save);
	if (!type || !f[0] || !f[4])
		return false;
	bool match = cg->v1
	                 ? !strcmp(type, "cgroup") && super &&
	                       (strstr(super, ",memory") || !strncmp(super, "memory", 6))
	                 : !strcmp(type, "cgroup2");
	const char *root = f[3], *rest = cg->path;
	size_t rl = strlen(root);
	if (!match || (strcmp(root, "/") && strncmp(rest, root, rl)))
		return false;
	if (strcmp(root, "/"))
		rest += rl;
	hp_fmt(cg->dir, sizeof(cg->dir), "%s%s", f[4], rest);
	return true;
}

/* The lowest memory limit of the cgroup and its ancestors, or NO_LIMIT. */
static uint64_t cgroup_limit(void)
{
	cgroup_t cg = {.v1 = false};
	each_line("/proc/self/cgroup", cgroup_line, &cg);
	if (!cg.path[0])
		return NO_LIMIT;
	each_line("/proc/self/mountinfo", mount_line, &cg);
	if (!cg.dir[0])
		return NO_LIMIT;
	const char *file = cg.v1 ? "memory.limit_in_bytes" : "memory.max";
	uint64_t lim = NO_LIMIT;
	size_t mount_len = strlen(cg.dir) - strlen(cg.path) + (cg.path[1] ? 0 : 1);
	for (;;) {
		char path[1100];
		hp_fmt(path, sizeof(path), "%s/%s", cg.dir, file);
		uint64_t v = read_number(path);
		lim = v < lim ? v : lim;
		char *slash = strrchr(cg.dir, '/');
		if (!slash || (size_t)(slash - cg.dir) < mount_len)
			break;
		*slash = '\0';
	}
	return lim;
}

/* Field n (0: size, 1: resident) of /proc/self/statm, in bytes. */
static uint64_t statm(int n)
{
	char text[64] = "";
	each_line("/proc/self/statm", first_line, text);
	char *p = text;
	for (int i = 0; i < n && p; i++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p, NULL, 10) * (uint64_t)getauxval(AT_PAGESZ) : 0;
}

/* Reads the limits; sets the threshold from the one that leaves the heap
 * least; false if there is none. base: read the start-up sizes too. */
static bool read_limits(bool base)
{
	static uint64_t base_as, base_rss;
	if (base) {
		base_as = statm(0);
		base_rss = statm(1);
	}
	struct rlimit rl;
	uint64_t as =
	    hp_sys_getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	        ? (uint64_t)rl.rlim_cur
	        : NO_LIMIT;
	uint64_t cg = cgroup_limit(), pct = hp_config.dump_limit;
	if (as == NO_LIMIT && cg == NO_LIMIT)
		return false;
	/* The heap's share of each: PCT of the limit less what was there first. */
	int64_t t_as = as == NO_LIMIT ? INT64_MAX : (int64_t)(as / 100 * pct - base_as);
	int64_t t_cg = cg == NO_LIMIT ? INT64_MAX : (int64_t)(cg / 100 * pct - base_rss);
	bool use_as = t_as <= t_cg;
	lim_bytes = use_as ? as : cg;
	lim_base = use_as ? base_as : base_rss;
	lim_what = use_as ? "RLIMIT_AS" : "cgroup's memory limit";
	int64_t t = use_as ? t_as : t_cg;
	atomic_store(&fire_at, t > 0 ? t : 1);
	atomic_store(&rearm_at, t - (int64_t)(lim_bytes / 100 * HYSTERESIS_PCT));
	return true;
}

/* ---- the limit profile ------------------------------------------------------ */

bool hp_limit_crossed(int64_t in_use)
{
	bool on = true;
	return in_use >= atomic_load_explicit(&fire_at, memory_order_relaxed) &&
	       atomic_compare_exchange_strong(&armed, &on, false);
}

void hp_limit_note_free(int64_t in_use)
{
	if (hp_unlikely(!atomic_load_explicit(&armed, memory_order_relaxed)) &&
	    in_use < atomic_load_explicit(&rearm_at, memory_order_relaxed))
		atomic_store(&armed, true);
}

void hp_limit_reached(int64_t in_use)
{
	int saved = errno;
	/* A limit raised since start-up moves the threshold up: no profile yet. */
	if (!read_limits(false)) {
		atomic_store(&fire_at, INT64_MAX); /* the limits are gone */
		atomic_store(&armed, true);
		errno = saved;
		return;
	}
	if (in_use < atomic_load(&fire_at)) {
		atomic_store(&armed, true);
		errno = saved;
		return;
	}
	hp_log("process %d: %lld bytes in use on the heap reached HEAPPROF_DUMP_LIMIT="
	       "%u%% of the %llu-byte %s, less %llu bytes there at start-up: writing a "
	       "limit profile",
	       (int)hp_sys_getpid(), (long long)in_use, hp_config.dump_limit,
	       (unsigned long long)lim_bytes, lim_what, (unsigned long long)lim_base);
	hp_dump_noting(HP_DUMP_LIMIT, in_use);
	errno = saved;
}

/* ---- the oom profile -------------------------------------------------------- */

/*
 * An allocation of the program failed. The first that failed for want of
 * memory writes the oom profile from the reserve; the program then gets its
 * NULL and errno ENOMEM as the allocator gave them. The reserve stays open:
 * the profiles that follow (the exit's) may draw on what is left of it.
 */
static HP_NOINLINE void failed(size_t n)
{
	bool no = false;
	if (errno != ENOMEM || hp_thread.in_profiler || atomic_load(&oom_done) ||
	    !atomic_compare_exchange_strong(&oom_done, &no, true))
		return;
	hp_guard_enter();
	hp_log("process %d: an allocation of %zu bytes failed (ENOMEM): writing an oom "
	       "profile",
	       (int)hp_sys_getpid(), n);
	hp_scratch_reserve_open(true);
	hp_dump_noting(HP_DUMP_OOM, hp_trigger_in_use());
	hp_guard_exit();
	errno = ENOMEM;
}

static void *check_malloc(size_t n)
{
	void *p = next.malloc(n);
	if (hp_unlikely(!p))
		failed(n);
	return p;
}

static void *check_calloc(size_t a, size_t b)
{
	void *p = next.calloc(a, b);
	if (hp_unlikely(!p))
		failed(a * b);
	return p;
}

static void *check_realloc(void *q, size_t n)
{
	void *p = next.realloc(q, n);
	if (hp_unlikely(!p) && n)
		failed(n);
	return p;
}

static void *check_reallocarray(void *q, size_t a, size_t b)
{
	void *p = next.reallocarray(q, a, b);
	size_t n;
	if (hp_unlikely(!p) && !__builtin_mul_overflow(a, b, &n) && n)
		failed(n);
	return p;
}

static void *check_memalign(size_t al, size_t n)
{
	void *p = next.memalign(al, n);
	if (hp_unlikely(!p))
		failed(n);
	return p;
}

static void *check_aligned_alloc(size_t al, size_t n)
{
	void *p = next.aligned_alloc(al, n);
	if (hp_unlikely(!p))
		failed(n);
	return p;
}

static void *check_valloc(size_t n)
{
	void *p = next.valloc(n);
	if (hp_unlikely(!p))
		failed(n);
	return p;
}

static void *check_pvalloc(size_t n)
{
	void *p = next.pvalloc(n);
	if (hp_unlikely(!p))
		failed(n);
	return p;
}

static int check_posix_memalign(void **out, size_t al, size_t n)
{
	int r = next.posix_memalign(out, al, n);
	if (hp_unlikely(r == ENOMEM)) {
		int saved = errno;
		errno = ENOMEM;
		failed(n);
		errno = saved;
	}
	return r;
}

void hp_limit_init(void)
{
	if (!hp_config.dump_limit)
		return;
	static int warned;
	if (!read_limits(true))
		hp_log_once(
		    &warned,
		    "HEAPPROF_DUMP_LIMIT=%u: no cgroup memory limit and no "
		    "RLIMIT_AS: no limit profile (an oom profile still on ENOMEM)",
		    hp_config.dump_limit);
	if (hp_scratch_reserve(OOM_RESERVE))
		hp_log("HEAPPROF_DUMP_LIMIT: cannot reserve %u bytes for the oom profile",
		       OOM_RESERVE);
	next = hp_real;
	hp_real.malloc = check_malloc;
	hp_real.calloc = check_calloc;
	hp_real.realloc = check_realloc;
	hp_real.reallocarray = check_reallocarray;
	hp_real.memalign = check_memalign;
	hp_real.aligned_alloc = check_aligned_alloc;
	hp_real.valloc = check_valloc;
	hp_real.pvalloc = check_pvalloc;
	hp_real.posix_memalign = check_posix_memalign;
}

void hp_limit_postfork_child(void)
{
	HP_RESET(oom_done, false);
}
