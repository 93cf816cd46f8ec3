/* SPDX-License-Identifier: MIT */
/*
 * proc_record: the process record, /tmp/heapprof-<euid>/<pid>, what
 * `heapprof snapshot` and `heapprof ps` trust about a profiled process. See
 * proc_record.h for the format's guarantees; contrib/heapprof/records.c is
 * its reader.
 */
#include "proc_record.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "dump.h"
#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * Spare record files. A process's record is not removed at exit but renamed
 * to one of SPARES spare names: first the one it was taken from, else from
 * the one its pid picks upwards. A new process takes one, tried from the
 * one below its pid's downwards (processes just before it have pids just
 * below), rewrites it and renames it to its pid, and creates a file only
 * when it finds none. On ext4 without a journal each file
 * creation steps, one by one, over every inode of its group freed in the
 * last minute (five if the inode's table block is dirty), so a record made
 * and removed by each process of a build made every later file creation
 * there dearer, the build's own as much as ours (docs/performance.md).
 */
#define SPARES      16
#define SPARE_TRIES 4 /* a new process's tries */

static int rec_sig;
static unsigned rec_slot; /* the spare to hand the record back to first */
static char rec_prefix[HP_OUTPUT_MAX];
static unsigned long long rec_alive; /* ns since boot, after the start */
static pid_t rec_pid;                /* 0 until published */
static bool rec_forked;              /* publishing in a forked child */
static uid_t rec_euid;               /* whose directory holds it */
static volatile sig_atomic_t rec_ours = 1;
static char rec_endpoint[160]; /* "" without an endpoint */

/* The decimal number p starts with, 0 if none. */
static unsigned long long digits(const char *p)
{
	unsigned long long v = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (unsigned long long)(*p - '0');
	return v;
}

/*
 * When this process started, in nanoseconds since boot (field 22 of
 * /proc/self/stat, in clock ticks, rounded down), or 0. Read only when a
 * record is already there: a fresh process never needs it.
 */
static unsigned long long start_ns(void)
{
	char buf[1024];
	int fd = hp_sys_open("/proc/self/stat", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	hp_sys_close(fd);
	unsigned long hz = getauxval(AT_CLKTCK);
	if (n <= 0 || !hz)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return 0;
	/* Field 3 follows ") "; starttime is field 22. */
	for (int field = 2; field < 22 && *p; p++)
		if (*p == ' ')
			field++;
	return digits(p) * (1000000000ull / hz);
}

/* The number after key in text, or 0. */
static unsigned long long field(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? digits(p + strlen(key)) : 0;
}

/* Is st a directory of euid's that no one else may enter? */
static bool private_to(const struct stat *st, uid_t euid)
{
	return S_ISDIR(st->st_mode) && st->st_uid == euid && !(st->st_mode & 077);
}

/* The records' directory of euid, created 0700 if missing, open. */
static int open_private_dir(uid_t euid)
{
	char dir[64];
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	hp_fmt(dir, sizeof(dir), HP_PROC_RECORD_DIR_FMT, (unsigned)euid);
	/* Open first: the directory exists for every process but the first. */
	int dfd = hp_sys_open(dir, flags, 0);
	if (dfd < 0 && errno == ENOENT) {
		if (hp_sys_mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		dfd = hp_sys_open(dir, flags, 0);
	}
	if (dfd < 0)
		return -errno;
	struct stat st;
	if (hp_sys_fstat(dfd, &st) < 0 || !private_to(&st, euid)) {
		hp_sys_close(dfd);
		return -EPERM;
	}
	return dfd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	struct iovec v = {(void *)buf, len};
	return hp_writev_all(fd, &v, 1);
}

/*
 * Makes name in dfd (flags: O_EXCL or O_TRUNC) holding buf; on failure
 * nothing of it stays. 0 or a negative errno (-EEXIST with O_EXCL if the
 * name is taken).
 */
static int write_file(int dfd, const char *name, int flags, const char *buf, size_t len)
{
	int fd = hp_sys_openat(dfd, name,
	                       O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | flags, 0600);
	if (fd < 0)
		return -errno;
	int err = write_all(fd, buf, len);
	if (hp_sys_close(fd) < 0 && !err && errno != EINTR)
		err = -errno;
	if (err)
		hp_sys_unlinkat(dfd, name, 0);
	return err;
}

/*
 * Hands the file name in dfd (dir: its path with a '/', or "" for dfd
 * itself) to a free spare name, or removes it if they are all taken.
 */
static void retire(int dfd, const char *dir, const char *name)
{
	char from[96], to[96];
	hp_fmt(from, sizeof(from), "%s%s", dir, name);
	/* Every slot: a record removed whenever four were taken kept the
	 * spares below SPARES, and processes then found none. */
	for (unsigned i = 0; i < SPARES; i++) {
		hp_fmt(to, sizeof(to), "%s.spare-%u", dir, (rec_slot + i) % SPARES);
		int err = hp_rename_noreplace(dfd, from, to);
		if (!err)
			return;
		if (err != -EEXIST)
			break;
	}
	hp_sys_unlinkat(dfd, from, 0);
}

/*
 * Makes name in dfd holding buf from a spare file: taken under a name of
 * this process's own (no other process writes to it then), rewritten, and
 * renamed to name unless name is there. 0, -EEXIST if name is taken, or
 * another negative errno (-ENOENT: no spare) with nothing changed.
 */
static int from_spare(int dfd, const char *name, const char *buf, size_t len)
{
	char spare[24], mine[32];
	hp_fmt(mine, sizeof(mine), ".claim-%d", (int)rec_pid);
	int err = -ENOENT;
	rec_slot = (unsigned)rec_pid % SPARES;
	for (unsigned i = 0; i < SPARE_TRIES && err == -ENOENT; i++) {
		unsigned slot = ((unsigned)rec_pid - 1 - i) % SPARES;
		hp_fmt(spare, sizeof(spare), ".spare-%u", slot);
		err = hp_sys_renameat(dfd, spare, dfd, mine) ? -errno : 0;
		if (!err)
			rec_slot = slot; /* free now: where this one goes back */
	}
	if (err)
		return err;
	int fd = hp_sys_openat(dfd, mine, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	err = fd < 0 ? -errno : write_all(fd, buf, len);
	/* Shortened, never emptied: its block stays, no extent is freed. */
	if (!err && hp_sys_ftruncate(fd, (off_t)len) < 0)
		err = -errno;
	if (fd >= 0 && hp_sys_close(fd) < 0 && !err && errno != EINTR)
		err = -errno;
	if (!err)
		err = hp_rename_noreplace(dfd, mine, name);
	if (err)
		retire(dfd, "", mine);
	return err == -EEXIST || !err ? err : -ENOENT;
}

/* The record's text into buf. */
static size_t format(char *buf, size_t size)
{
	return hp_fmt(buf, size,
	              "heapprof-record 2\npid %d\nalive-at %llu\nsignal %d\n"
	              "handler %s\noutput %s\n%s%s%s",
	              (int)rec_pid, rec_alive, rec_sig, rec_ours ? "ours" : "replaced",
	              rec_prefix, rec_endpoint[0] ? "endpoint " : "", rec_endpoint,
	              rec_endpoint[0] ? "\n" : "");
}

/*
 * Is a record there under this pid, and is it this process's, saying
 * exactly what buf would? 1 if so, 0 if one is there that is not, -1 if
 * none is. It is this process's own when the moment it names is at or
 * after this process started: an image before an exec wrote it (a shell,
 * or a forked child, that executes a profiled program). Its moment is then
 * kept and buf made again with it, so a record saying the same is left as
 * it is. Not inlined: its buffer stays off write_record's frame, which the
 * signal-handler path (hp_proc_record_set_handler) uses.
 */
static HP_NOINLINE int same(int dfd, const char *name, char *buf, size_t size,
                            size_t *len)
{
	char old[HP_OUTPUT_MAX + 512];
	int fd = hp_sys_openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? -1 : 0;
	ssize_t n = read(fd, old, sizeof(old) - 1);
	hp_sys_close(fd);
	if (n <= 0)
		return 0;
	old[n] = '\0';
	unsigned long long at = field(old, "\nalive-at ");
	if (field(old, "\npid ") != (unsigned long long)rec_pid || !at || at > rec_alive)
		return 0;
	unsigned long long start = start_ns();
	if (!start || start > at)
		return 0; /* left by an earlier process of this pid */
	rec_alive = at;
	*len = format(buf, size);
	return (size_t)n == *len && !memcmp(old, buf, *len);
}

/*
 * Replaces the record whole: a temporary name, renamed into place. tag
 * keeps the temporary names of a write from a sigaction and of the write
 * it may interrupt apart.
 */
static int replace(int dfd, const char *name, const char *buf, size_t len,
                   const char *tag)
{
	char tmp[40];
	hp_fmt(tmp, sizeof(tmp), ".%d%s.tmp", (int)rec_pid, tag);
	int err = write_file(dfd, tmp, O_TRUNC, buf, len);
	if (!err && hp_sys_renameat(dfd, tmp, dfd, name) < 0) {
		err = -errno;
		hp_sys_unlinkat(dfd, tmp, 0);
	}
	return err;
}

/*
 * Writes the record. Fresh (at start-up, in a forked child, after a change
 * of user): a record already there is looked at first, before a spare is
 * taken: a program a profiled shell executes finds the one its image before
 * the exec wrote, which says the same (a look: two reads; taking a spare
 * first, to find the name taken, cost three renames). With none there, it
 * is made from a spare or under its name with one write (a reader takes an
 * empty one for one being written). Otherwise, or if the one there (left by
 * an earlier process of this pid, or written before an exec) says something
 * else, it is replaced whole.
 */
static int write_once(bool fresh, const char *tag)
{
	char buf[HP_OUTPUT_MAX + 512], name[24];
	size_t len = format(buf, sizeof(buf));
	hp_fmt(name, sizeof(name), "%d", (int)rec_pid);
	rec_euid = hp_sys_geteuid();
	int dfd = open_private_dir(rec_euid);
	if (dfd < 0)
		return dfd;
	/* A record kept from the image before an exec goes back, at exit, to
	 * the spare that image most likely took: the first it tried. */
	if (fresh)
		rec_slot = ((unsigned)rec_pid - 1) % SPARES;
	int there = !fresh       ? 0
	            : rec_forked ? -1
	                         : same(dfd, name, buf, sizeof(buf), &len);
	int err = there > 0 ? 0 : -EEXIST;
	if (there < 0 && (err = from_spare(dfd, name, buf, len)) && err != -EEXIST)
		err = write_file(dfd, name, O_EXCL, buf, len);
	if (err == -EEXIST)
		err = replace(dfd, name, buf, len, tag);
	hp_sys_close(dfd);
	return err;
}

/*
 * Writes the record until no change of the handler's state came during the
 * write: a sigaction in a signal handler may interrupt a write of the state
 * before it and write its own first, which the interrupted write would then
 * replace with the old state ("ours" for a program's own handler). The
 * sigaction's write (from_sigaction) has its own temporary name.
 */
static int write_record(bool fresh, bool from_sigaction)
{
	int err = 0;
	for (int i = 0; i < 4; i++) {
		sig_atomic_t ours = rec_ours;
		err = write_once(fresh && !i, from_sigaction ? ".s" : "");
		if (rec_ours == ours)
			break;
	}
	return err;
}

int hp_proc_record_publish(int sig, const char *prefix)
{
	static int warned;
	int saved = errno;
	rec_sig = sig;
	/* A forked child's prefix is its parent's: not written, no page copied. */
	if (strcmp(rec_prefix, prefix))
		hp_fmt(rec_prefix, sizeof(rec_prefix), "%s", prefix);
	rec_alive = hp_clock_ns(CLOCK_BOOTTIME); /* /proc's clock */
	pid_t pid = hp_sys_getpid();
	/* A forked child (the parent's record published, another pid): no
	 * record under its pid can be its own, the last process of that pid is
	 * gone, so none is looked for first; one left there is replaced when
	 * taking a spare finds the name taken. */
	rec_forked = rec_pid && rec_pid != pid;
	rec_pid = pid;
	int err = write_record(true, false);
	rec_forked = false;
	if (err) {
		rec_pid = 0;
		hp_log_once(
		    &warned,
		    "cannot publish this process's record in " HP_PROC_RECORD_DIR_FMT
		    " (%s): heapprof snapshot and heapprof ps will not find it",
		    (unsigned)hp_sys_geteuid(),
		    err == -EPERM ? "not a directory private to this user"
		                  : strerror(-err));
	}
	errno = saved;
	return err;
}

void hp_proc_record_set_handler(bool ours)
{
	int saved = errno;
	/* A vfork child shares our memory: its sigaction is not the parent's. */
	if (rec_ours == ours || (rec_pid && rec_pid != hp_sys_getpid())) {
		errno = saved;
		return;
	}
	rec_ours = ours;
	if (rec_pid)
		write_record(false, true);
	errno = saved;
}

void hp_proc_record_set_endpoint(const char *addr)
{
	hp_fmt(rec_endpoint, sizeof(rec_endpoint), "%s", addr ? addr : "");
	int saved = errno;
	if (rec_pid && rec_pid == hp_sys_getpid())
		write_record(false, false);
	errno = saved;
}

void hp_proc_record_set_output(const char *prefix)
{
	hp_fmt(rec_prefix, sizeof(rec_prefix), "%s", prefix);
	int saved = errno;
	if (rec_pid && rec_pid == hp_sys_getpid())
		write_record(false, false);
	errno = saved;
}

int hp_proc_record_private_dir(char *buf, size_t len)
{
	uid_t euid = hp_sys_geteuid();
	hp_fmt(buf, len, HP_PROC_RECORD_DIR_FMT, (unsigned)euid);
	/* The symbol tables' and rules' files ask once an object: one lstat
	 * where it is there, not an open, fstat and close. Checked each time:
	 * a cleaner may remove it and another user make one of the name. */
	struct stat st;
	if (!hp_sys_lstat(buf, &st) && private_to(&st, euid))
		return 0;
	int dfd = open_private_dir(euid);
	if (dfd < 0)
		return dfd;
	hp_sys_close(dfd);
	return 0;
}

void hp_proc_record_remove(void)
{
	if (!rec_pid || rec_pid != hp_sys_getpid())
		return;
	char dir[64], name[24];
	hp_fmt(dir, sizeof(dir), HP_PROC_RECORD_DIR_FMT "/", (unsigned)rec_euid);
	hp_fmt(name, sizeof(name), "%d", (int)rec_pid);
	int saved = errno;
	retire(AT_FDCWD, dir, name);
	errno = saved;
	rec_pid = 0;
}

void hp_proc_record_check_uid(void)
{
	int saved = errno;
	if (rec_pid && rec_pid == hp_sys_getpid() && hp_sys_geteuid() != rec_euid)
		write_record(false, false);
	errno = saved;
}

/* ---- the program's changes of user ------------------------------------------ */

/*
 * Before the program changes its user: the record leaves the old user's
 * directory while this process may still write there. Returns whether it
 * was published.
 */
static bool before_uid_change(void)
{
	bool had = rec_pid && rec_pid == hp_sys_getpid();
	if (had)
		hp_proc_record_remove();
	return had;
}

/*
 * After the call, failed or not: the output prefix is checked for the
 * effective user (dump.c falls back to its private directory) and the record
 * is written again, in the directory of the effective user it now has. A
 * vfork child, which shares the parent's memory, published nothing (its pid
 * is not the record's) and changes nothing here; a process whose record could
 * not be published gets the prefix checked before its next profile.
 */
static void after_uid_change(bool had)
{
	if (!had)
		return; /* not published, or a vfork child: nothing of ours to move */
	int saved = errno;
	hp_dump_check_output();
	rec_pid = hp_sys_getpid();
	write_record(true, false);
	errno = saved;
}

/*
 * The C library's functions, found by hp_proc_record_resolve at start-up,
 * before the program's threads: a dlsym at a first call would wait for the
 * loader's lock, held by a thread inside dlopen. A call before start-up (a
 * constructor that ran first) finds its own.
 */
static int (*real_setuid)(uid_t);
static int (*real_seteuid)(uid_t);
static int (*real_setreuid)(uid_t, uid_t);
static int (*real_setresuid)(uid_t, uid_t, uid_t);

void hp_proc_record_resolve(void)
{
	real_setuid = (int (*)(uid_t))dlsym(RTLD_NEXT, "setuid");
	real_seteuid = (int (*)(uid_t))dlsym(RTLD_NEXT, "seteuid");
	real_setreuid = (int (*)(uid_t, uid_t))dlsym(RTLD_NEXT, "setreuid");
	real_setresuid = (int (*)(uid_t, uid_t, uid_t))dlsym(RTLD_NEXT, "setresuid");
}

#define UID_WRAPPER(name, params, args)                                                  \
	HP_EXPORT int name params                                                        \
	{                                                                                \
		if (!real_##name)                                                        \
			real_##name = (int(*) params)dlsym(RTLD_NEXT, #name);            \
		if (!real_##name)                                                        \
			return errno = ENOSYS, -1;                                       \
		bool had = before_uid_change();                                          \
		int ret = real_##name args;                                              \
		after_uid_change(had);                                                   \
		return ret;                                                              \
	}

UID_WRAPPER(setuid, (uid_t u), (u))
UID_WRAPPER(seteuid, (uid_t u), (u))
UID_WRAPPER(setreuid, (uid_t ru, uid_t eu), (ru, eu))
UID_WRAPPER(setresuid, (uid_t ru, uid_t eu, uid_t su), (ru, eu, su))

/* ---- _exit ------------------------------------------------------------------ */

/*
 * _exit runs no exit handlers, and shells end with it (dash at the end of
 * every script and subshell, bash in its subshells): without this, each
 * such process left its record behind for heapprof ps to clear, a file per
 * shell of a build. Only the record goes: no profile is written (a vfork
 * child and a child whose exec failed end here too, and _exit may be called
 * from a signal handler); retire() makes system calls only.
 */
static HP_NORETURN void exit_now(int status)
{
	hp_proc_record_remove();
	hp_sys_exit(status);
}

HP_EXPORT HP_NORETURN void _exit(int status)
{
	exit_now(status);
}

HP_EXPORT HP_NORETURN void _Exit(int status)
{
	exit_now(status);
}
