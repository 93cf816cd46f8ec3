/* SPDX-License-Identifier: MIT */
/*
 * dump: writes one profile at a time under the dump lock, for the snapshot
 * thread (trigger.c), the exit and heapprof_dump. A profile appears complete
 * or not at all, mode 0600: an unnamed file (O_TMPFILE) linked into place, or
 * a temporary name (O_EXCL|O_NOFOLLOW) renamed into place. Its descriptor is
 * opened for that profile and closed after it.
 */
#include "dump.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "heapprof.h"
#include "kinds.h"
#include "log.h"
#include "proc_record.h"
#include "profile.h"
#include "sampler.h"
#include "stack_table.h"
#include "pprof/gzstream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t start_ns;
static atomic_uint seq; /* last sequence number used by this process */
static int last_err;    /* guarded by dump_lock */
static bool closed;     /* after the final profile; guarded by dump_lock */
static bool ready;
static uid_t start_euid;
/* The prefix in use when the process, having changed its user, cannot write
 * at HEAPPROF_OUTPUT's: /tmp/heapprof-<euid>/<name>; "" otherwise. Guarded by
 * dump_lock. */
static char fallback[HP_OUTPUT_MAX];

/* HEAPPROF_KEEP: this process's profiles of the kept reasons, oldest
 * first, a ring; guarded by dump_lock. */
static struct {
	unsigned seq;
	hp_dump_reason_t reason;
} kept[HP_KEEP_MAX] HP_LARGE;
static unsigned kept_first, kept_n;

/* By reason: the last profile's sequence number, 0 if none, of those that
 * replace their previous one; guarded by dump_lock. */
static unsigned replaced_seq[HP_DUMP_NREASONS];
static const char *final_path; /* the final profile's name (hp_dump_locked) */
static char final_name[HP_OUTPUT_MAX + 96];

const hp_dump_reason_row_t hp_dump_reasons[HP_DUMP_NREASONS] = {
    [HP_DUMP_SIGNAL] = {"signal"},
    [HP_DUMP_EXIT] = {"exit", .final = true},
    [HP_DUMP_API] = {"api"},
    [HP_DUMP_HTTP] = {"http"},
    [HP_DUMP_BYTES] = {"bytes", .kept = true},
    [HP_DUMP_TIME] = {"time", .kept = true},
    [HP_DUMP_PEAK] = {"peak", .replaces = true},
    [HP_DUMP_LIMIT] = {"limit"},
    [HP_DUMP_OOM] = {"oom"},
};

/* Profiles written and failed, by reason; read lock-free by /metrics. */
static _Atomic uint64_t n_written[HP_DUMP_NREASONS], n_failed[HP_DUMP_NREASONS];

/* Counts one profile of reason, written (err 0) or not. */
static void count(hp_dump_reason_t reason, int err)
{
	atomic_fetch_add_explicit(err ? &n_failed[reason] : &n_written[reason], 1,
	                          memory_order_relaxed);
}

void hp_dump_counts(uint64_t written[HP_DUMP_NREASONS], uint64_t failed[HP_DUMP_NREASONS])
{
	for (size_t i = 0; i < HP_DUMP_NREASONS; i++) {
		written[i] = atomic_load_explicit(&n_written[i], memory_order_relaxed);
		failed[i] = atomic_load_explicit(&n_failed[i], memory_order_relaxed);
	}
}

void hp_dump_init(uint64_t start)
{
	start_ns = start;
	start_euid = hp_sys_geteuid();
	ready = true;
}

/*
 * Gives the anonymous file fd the name final (never replacing), or -errno.
 * Through /proc/thread-self: once the main thread has called pthread_exit,
 * /proc/self is a zombie whose descriptors cannot be looked up.
 */
static int link_anon(int fd, const char *final)
{
	static const char *const dirs[] = {"/proc/thread-self/fd", "/proc/self/fd"};
	int err = -ENOENT;
	for (size_t i = 0; i < HP_ARRAY_SIZE(dirs) && err == -ENOENT; i++) {
		char proc[64];
		hp_fmt(proc, sizeof(proc), "%s/%d", dirs[i], fd);
		err =
		    hp_sys_linkat(AT_FDCWD, proc, AT_FDCWD, final, AT_SYMLINK_FOLLOW) < 0
		        ? -errno
		        : 0;
	}
	return err;
}

/* A name beside final that no other thread or earlier attempt has used. */
static void tmp_name(const char *final, char *tmp, size_t len)
{
	static atomic_uint counter;
	hp_fmt(tmp, len, "%s.%d.%u.tmp", final, (int)hp_sys_gettid(),
	       atomic_fetch_add(&counter, 1));
}

static int open_named_tmp(const char *final, char *tmp, size_t len)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		tmp_name(final, tmp, len);
		int fd = hp_sys_open(
		    tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/*
 * Writes the profile to final. The data goes first to an unnamed file in the
 * target directory (O_TMPFILE), which is linked into place only once
 * complete: if the process dies mid-write nothing is left behind, and linkat
 * refuses to replace an existing name. Filesystems without O_TMPFILE get a
 * named temporary file (O_EXCL|O_NOFOLLOW) renamed into place.
 * replace: the caller named the file explicitly and may overwrite it.
 * sync: the data reaches the disk before the name does, for a profile that
 * takes the place of another (a replaced file, a peak, HEAPPROF_KEEP's
 * rotation), so that a power cut cannot leave neither. Every other profile
 * is complete for any reader without it, and a sync cost 0.6 to 5 ms per
 * file here, paid by every short process at exit.
 * named: a named temporary file from the start. The exit profile's choice:
 * an O_TMPFILE costs ext4 an orphan-list entry and its journal, several times
 * the cost of creating a file (perf, a shell loop of short processes: the
 * largest part of the profiler's cost per process on this project's
 * machines, docs/performance.md), and a process that is exiting rarely dies
 * mid-write; should it, its .tmp file is left, never a partial profile.
 */
static int write_to(const char *final, bool replace, bool sync, bool named,
                    const hp_profile_opts_t *o)
{
	char dir[HP_OUTPUT_MAX + 96], tmp[HP_OUTPUT_MAX + 160];
	const char *slash = strrchr(final, '/');
	if (slash == final)
		hp_fmt(dir, sizeof(dir), "/");
	else if (slash)
		hp_fmt(dir, sizeof(dir), "%s", final), dir[slash - final] = '\0';
	else
		hp_fmt(dir, sizeof(dir), ".");
	int fd = named ? -1 : hp_sys_open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	bool anon = fd >= 0;
	if (!anon && (fd = open_named_tmp(final, tmp, sizeof(tmp))) < 0)
		return fd;
	hp_profile_opts_t opts = *o;
	opts.start_ns = start_ns;
	opts.rate = hp_sampler_rate();
	int err = hp_profile_write(fd, &opts);
	if (!err && sync && hp_sys_fdatasync(fd) < 0 && errno != EINVAL)
		err = -errno;
	if (!err && anon) {
		if (!replace) {
			err = link_anon(fd, final);
		} else {
			/* Link under a unique name, then rename over the target. */
			tmp_name(final, tmp, sizeof(tmp));
			err = link_anon(fd, tmp);
			if (!err && hp_sys_rename(tmp, final) < 0) {
				err = -errno;
				hp_sys_unlink(tmp);
			}
		}
		if (err == -ENOENT && hp_sys_access("/proc/thread-self/fd", X_OK) < 0) {
			/* No /proc to link through: write again the old way. */
			hp_sys_close(fd);
			anon = false;
			if ((fd = open_named_tmp(final, tmp, sizeof(tmp))) < 0)
				return fd;
			err = hp_profile_write(fd, &opts);
		}
	}
	if (hp_sys_close(fd) < 0 && !err && errno != EINTR)
		err = -errno;
	if (!anon) {
		if (!err)
			err = replace ? (hp_sys_rename(tmp, final) < 0 ? -errno : 0)
			              : hp_rename_noreplace(AT_FDCWD, tmp, final);
		if (err)
			hp_sys_unlink(tmp);
	}
	return err;
}

/* ---- the kinds written beside each heap profile (kinds.c) -------------- */

void hp_dump_beside(char *buf, size_t len, const char *heap, const char *suffix)
{
	size_t n = strlen(heap);
	if (n >= 6 && !strcmp(heap + n - 6, ".pb.gz"))
		n -= 6;
	if (n >= len)
		n = len - 1; /* hp_fmt has no %.*s */
	memcpy(buf, heap, n);
	hp_fmt(buf + n, len - n, ".%s.pb.gz", suffix);
}

/* Removes a profile and the kinds' files beside it. Dump lock held. */
static void unlink_profile(const char *heap)
{
	hp_sys_unlink(heap);
	for (size_t k = 0; k < HP_NKINDS; k++) {
		char name[HP_OUTPUT_MAX + 160];
		if (!hp_kinds[k].suffix)
			continue;
		hp_dump_beside(name, sizeof(name), heap, hp_kinds[k].suffix);
		hp_sys_unlink(name);
	}
}

/* Each enabled kind with a suffix, beside the heap profile just written as
 * heap, from the same options but the heap's own. Dump lock held. */
static void write_beside(const char *heap, bool sync, bool named,
                         const hp_profile_opts_t *o)
{
	for (size_t k = 0; k < HP_NKINDS; k++) {
		const hp_kind_t *kind = &hp_kinds[k];
		if (!kind->suffix || !kind->enabled())
			continue;
		char name[HP_OUTPUT_MAX + 160];
		hp_dump_beside(name, sizeof(name), heap, kind->suffix);
		hp_profile_opts_t ko = *o;
		ko.kind = kind;
		ko.default_type = NULL;
		ko.base = NULL;
		ko.nbase = 0;
		ko.in_use_ns = 0;
		int err = write_to(name, true, sync, named, &ko);
		if (err)
			hp_log("cannot write profile %s: %s (the program continues)",
			       name, strerror(-err));
		else if (hp_config.verbose)
			hp_log("wrote %s", name);
	}
}

/* This process's profile number s of reason, as named on disk. */
static void numbered_name(char *buf, size_t len, unsigned s, hp_dump_reason_t reason)
{
	hp_fmt(buf, len, "%s.%d.%04u.%s.pb.gz", hp_dump_prefix(), (int)hp_sys_getpid(), s,
	       hp_dump_reasons[reason].name);
}

const char *hp_dump_prefix(void)
{
	return fallback[0] ? fallback : hp_config.output;
}

/*
 * After a change of user (a server's worker that dropped root): when this
 * user cannot write in HEAPPROF_OUTPUT's directory (err, or a check when 0),
 * the profiles go to the user's private record directory under the same
 * name, said once. Dump lock held. True if the prefix changed.
 */
static bool fall_back(int err)
{
	static int warned;
	char dir[HP_OUTPUT_MAX], priv[64];
	const char *out = hp_config.output, *slash = strrchr(out, '/');
	if (fallback[0] || hp_sys_geteuid() == start_euid || !slash)
		return false;
	if (!err) {
		hp_fmt(dir, sizeof(dir), "%s", out);
		dir[slash == out ? 1 : slash - out] = '\0';
		if (!faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS))
			return false;
	} else if (err != -EACCES && err != -EPERM && err != -EROFS) {
		return false;
	}
	if (hp_proc_record_private_dir(priv, sizeof(priv)))
		return false;
	hp_fmt(fallback, sizeof(fallback), "%s/%s", priv, slash + 1);
	hp_log_once(&warned,
	            "process %d, now user %u, cannot write profiles in the directory of "
	            "%s: they go to %s.%d.* instead",
	            (int)hp_sys_getpid(), (unsigned)hp_sys_geteuid(), out, fallback,
	            (int)hp_sys_getpid());
	hp_proc_record_set_output(fallback);
	return true;
}

void hp_dump_check_output(void)
{
	if (!ready)
		return;
	pthread_mutex_lock(&dump_lock);
	fall_back(0);
	pthread_mutex_unlock(&dump_lock);
}

/* HEAPPROF_KEEP: notes profile s and removes this process's oldest beyond N,
 * by the names it gave them. Dump lock held. */
static void keep_newest(unsigned s, hp_dump_reason_t reason)
{
	unsigned n = hp_config.keep;
	if (!n)
		return;
	if (kept_n == n) {
		char old[HP_OUTPUT_MAX + 96];
		numbered_name(old, sizeof(old), kept[kept_first].seq,
		              kept[kept_first].reason);
		unlink_profile(old);
		kept_first = (kept_first + 1) % n;
		kept_n--;
	}
	unsigned at = (kept_first + kept_n++) % n;
	kept[at].seq = s;
	kept[at].reason = reason;
}

/* After profile s of reason is complete: the previous one goes. Dump lock held. */
static void replace_previous(unsigned s, hp_dump_reason_t reason)
{
	if (replaced_seq[reason]) {
		char old[HP_OUTPUT_MAX + 96];
		numbered_name(old, sizeof(old), replaced_seq[reason], reason);
		unlink_profile(old);
	}
	replaced_seq[reason] = s;
}

/* Writes the next numbered profile of reason; final gets its name. */
static int write_numbered(hp_dump_reason_t reason, const hp_profile_opts_t *o,
                          char *final, size_t len)
{
	const hp_dump_reason_row_t *r = &hp_dump_reasons[reason];
	bool sync = r->replaces || (r->kept && hp_config.keep);
	int err;
	unsigned s;
	do {
		s = atomic_fetch_add(&seq, 1) + 1;
		numbered_name(final, len, s, reason);
		err = write_to(final, false, sync, r->final, o);
	} while (err == -EEXIST || /* a file of an earlier process with our pid */
	         (err && fall_back(err)));
	if (err)
		return err;
	if (r->kept)
		keep_newest(s, reason);
	if (r->replaces)
		replace_previous(s, reason);
	if (r->final)
		final_path = memcpy(final_name, final, strlen(final) + 1);
	return 0;
}

static int write_locked(hp_dump_reason_t reason, const hp_profile_opts_t *o,
                        const char *path)
{
	char final[HP_OUTPUT_MAX + 96];
	int err;
	if (path) {
		size_t n = strlen(path);
		if (!n || n >= HP_OUTPUT_MAX)
			err = -ENAMETOOLONG;
		else
			err = write_to(path, true, true, false, o);
		memcpy(final, path, n < sizeof(final) ? n + 1 : 0);
	} else {
		fall_back(0);
		hp_proc_record_check_uid();
		err = write_numbered(reason, o, final, sizeof(final));
	}
	if (err && err != last_err)
		hp_log("cannot write profile %s: %s (the program continues; fix the path "
		       "with HEAPPROF_OUTPUT)",
		       path ? path : final, strerror(-err));
	else if (!err && hp_config.verbose)
		hp_log("wrote %s", final);
	if (!err)
		write_beside(final, path || hp_dump_reasons[reason].replaces,
		             !path && hp_dump_reasons[reason].final, o);
	last_err = err;
	return err;
}

/*
 * zlib is loaded here, before the dump lock and never under it (a library's
 * constructor could wait for that lock while its loader holds the loader's),
 * and only for a profile likely to outgrow gzstream's buffer, which is
 * written stored: about 155 bytes a stack (cc1's exit profile, 127 stacks
 * in 19.7 KiB), so about 420 stacks fill its 64 KiB. A larger profile
 * without zlib is written stored all the same. Loading it cost each
 * subshell of a shell with 64 stacks about 100 us at its exit.
 */
#define ZLIB_STACKS 400

static void zlib_before_lock(void)
{
	if (hp_stack_table_size() >= ZLIB_STACKS)
		pp_gz_load();
}

static int dump_opts(hp_dump_reason_t reason, hp_profile_opts_t *o, const char *path)
{
	o->trigger = hp_dump_reasons[reason].name;
	if (!ready) {
		count(reason, -ENOTSUP);
		return -ENOTSUP;
	}
	zlib_before_lock();
	pthread_mutex_lock(&dump_lock);
	int err = -ESHUTDOWN; /* exiting: a dump started now could be cut short */
	if (!closed)
		err = write_locked(reason, o, path);
	if (hp_dump_reasons[reason].final)
		closed = true;
	pthread_mutex_unlock(&dump_lock);
	count(reason, err);
	return err;
}

int hp_dump_write(hp_dump_reason_t reason, const char *path)
{
	hp_profile_opts_t o = {0};
	return dump_opts(reason, &o, path);
}

int hp_dump_noting(hp_dump_reason_t reason, int64_t in_use)
{
	hp_profile_opts_t o = {.in_use = in_use < 0 ? 0 : in_use,
	                       .in_use_ns = hp_now_ns()};
	return dump_opts(reason, &o, NULL);
}

int hp_dump_peak(int64_t in_use)
{
	return hp_dump_noting(HP_DUMP_PEAK, in_use);
}

int hp_dump_to_fd(int fd, hp_dump_reason_t reason, hp_profile_opts_t *opts)
{
	opts->trigger = hp_dump_reasons[reason].name;
	if (!ready) {
		count(reason, -ENOTSUP);
		return -ENOTSUP;
	}
	zlib_before_lock();
	pthread_mutex_lock(&dump_lock);
	int err = -ESHUTDOWN;
	if (!closed) {
		if (!opts->start_ns)
			opts->start_ns = start_ns;
		opts->rate = hp_sampler_rate();
		err = hp_profile_write(fd, opts);
	}
	pthread_mutex_unlock(&dump_lock);
	count(reason, err);
	return err;
}

void hp_dump_close(void)
{
	pthread_mutex_lock(&dump_lock);
	closed = true;
	pthread_mutex_unlock(&dump_lock);
}

void hp_dump_locked(void (*fn)(const char *final_path, void *arg), void *arg)
{
	pthread_mutex_lock(&dump_lock);
	fn(final_path, arg);
	pthread_mutex_unlock(&dump_lock);
}

void hp_dump_prefork(void)
{
	pthread_mutex_lock(&dump_lock);
}

void hp_dump_postfork_parent(void)
{
	pthread_mutex_unlock(&dump_lock);
}

void hp_dump_postfork_child(void)
{
	hp_mutex_reset(&dump_lock);
	HP_RESET(seq, 0);
	HP_RESET(last_err, 0);
	HP_RESET(closed, false);
	HP_RESET(kept_first, 0); /* the parent's files are the parent's */
	HP_RESET(kept_n, 0);
	hp_zero_if_set(replaced_seq, sizeof(replaced_seq));
	HP_RESET(final_path, NULL);
}

HP_EXPORT int heapprof_dump(const char *path)
{
	if (!hp_sampler_active())
		return -ENOTSUP;
	hp_guard_enter();
	int r = hp_dump_write(HP_DUMP_API, path);
	hp_guard_exit();
	return r;
}
