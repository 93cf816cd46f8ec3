/* SPDX-License-Identifier: MIT */
/*
 * dump: signal handler -> pipe -> dumper thread -> dump(). Requests that
 * arrive while a dump runs collapse into one more dump, so a storm of signals
 * produces a bounded number of files. A profile appears complete or not at
 * all, mode 0600: an unnamed file (O_TMPFILE) linked into place, or a
 * temporary name (O_EXCL|O_NOFOLLOW) renamed into place.
 */
#include "dump.h"
#include "common.h"
#include "config.h"
#include "heapprof.h"
#include "log.h"
#include "profile.h"
#include "sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

/* How often the dumper thread checks that the signal handler is still ours. */
#define HANDLER_CHECK_MS 1000

static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t start_ns;
static atomic_uint seq;          /* last sequence number used by this process */
static volatile int pipe_w = -1; /* written by the signal handler */
static int pipe_r = -1;
static int last_err; /* guarded by dump_lock */
static bool closed;  /* after the final profile; guarded by dump_lock */
static bool ready;

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	char c = 1;
	if (pipe_w >= 0 && write(pipe_w, &c, 1) < 0) {
		/* Pipe full: a dump is already pending, which covers this request. */
	}
	errno = saved;
}

/*
 * A program that installs its own handler for our signal silently turns
 * snapshots off (nginx, for one, uses SIGUSR2). Say so once.
 */
static void check_handler(void)
{
	static int warned;
	struct sigaction cur;
	if (warned || sigaction(hp_config.signal, NULL, &cur) < 0 ||
	    cur.sa_handler == on_signal)
		return;
	hp_log_once(
	    &warned,
	    "the program installed its own SIG%s handler: snapshots by signal are off; "
	    "choose another signal with HEAPPROF_SIGNAL",
	    hp_config_signal_name(hp_config.signal));
}

static int dump(const char *trigger, const char *path);

static void *dumper_main(void *arg)
{
	(void)arg;
	hp_guard_enter(); /* for good: nothing this thread allocates is sampled */
	for (;;) {
		struct pollfd pfd = {.fd = pipe_r, .events = POLLIN};
		int n = poll(&pfd, 1, HANDLER_CHECK_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hp_log("snapshot thread stopped: poll: %s", strerror(errno));
			return NULL;
		}
		if (n == 0) {
			check_handler();
			continue;
		}
		char buf[256];
		while (read(pipe_r, buf, sizeof(buf)) > 0) {
		}
		dump("signal", NULL);
	}
}

static int start_dumper(void)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	pipe_r = fds[0];
	pipe_w = fds[1];
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int r = pthread_create(&t, &attr, dumper_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		close(fds[0]);
		close(fds[1]);
		pipe_r = pipe_w = -1;
		return -r;
	}
	pthread_setname_np(t, "heapprof");
	return 0;
}

void hp_dump_init(uint64_t start)
{
	start_ns = start;
	ready = true;
	if (!hp_config.signal)
		return;
	int r = start_dumper();
	if (r) {
		hp_log("cannot start the snapshot thread (%s): SIG%s snapshots disabled",
		       strerror(-r), hp_config_signal_name(hp_config.signal));
		return;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(hp_config.signal, &sa, NULL) < 0)
		hp_log(
		    "cannot install the SIG%s handler (%s): snapshots by signal disabled",
		    hp_config_signal_name(hp_config.signal), strerror(errno));
}

/* Gives the anonymous file fd the name final (never replacing), or -errno. */
static int link_anon(int fd, const char *final)
{
	char proc[64];
	hp_fmt(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, final, AT_SYMLINK_FOLLOW) < 0 ? -errno
	                                                                      : 0;
}

/* Renames tmp to final without replacing an existing file, or -errno. */
static int rename_noreplace(const char *tmp, const char *final)
{
	if (!syscall(SYS_renameat2, AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* No renameat2 here: link() refuses to replace as well. */
	if (link(tmp, final) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

/* A name beside final that no other thread or earlier attempt has used. */
static void tmp_name(const char *final, char *tmp, size_t len)
{
	static atomic_uint counter;
	hp_fmt(tmp, len, "%s.%d.%u.tmp", final, (int)syscall(SYS_gettid),
	       atomic_fetch_add(&counter, 1));
}

static int open_named_tmp(const char *final, char *tmp, size_t len)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		tmp_name(final, tmp, len);
		int fd =
		    open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
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
 */
static int write_to(const char *final, bool replace, const char *trigger)
{
	char dir[HP_OUTPUT_MAX + 96], tmp[HP_OUTPUT_MAX + 160];
	const char *slash = strrchr(final, '/');
	if (slash == final)
		hp_fmt(dir, sizeof(dir), "/");
	else if (slash)
		hp_fmt(dir, sizeof(dir), "%s", final), dir[slash - final] = '\0';
	else
		hp_fmt(dir, sizeof(dir), ".");
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	bool anon = fd >= 0;
	if (!anon && (fd = open_named_tmp(final, tmp, sizeof(tmp))) < 0)
		return fd;
	hp_profile_opts_t opts = {
	    .trigger = trigger, .start_ns = start_ns, .rate = hp_sampler_rate()};
	int err = hp_profile_write(fd, &opts);
	if (!err && fdatasync(fd) < 0 && errno != EINVAL)
		err = -errno;
	if (!err && anon) {
		if (!replace) {
			err = link_anon(fd, final);
		} else {
			/* Link under a unique name, then rename over the target. */
			tmp_name(final, tmp, sizeof(tmp));
			err = link_anon(fd, tmp);
			if (!err && rename(tmp, final) < 0) {
				err = -errno;
				unlink(tmp);
			}
		}
		if (err == -ENOENT && access("/proc/self/fd", X_OK) < 0) {
			/* No /proc to link through: write again the old way. */
			close(fd);
			anon = false;
			if ((fd = open_named_tmp(final, tmp, sizeof(tmp))) < 0)
				return fd;
			err = hp_profile_write(fd, &opts);
		}
	}
	if (close(fd) < 0 && !err && errno != EINTR)
		err = -errno;
	if (!anon) {
		if (!err)
			err = replace ? (rename(tmp, final) < 0 ? -errno : 0)
			              : rename_noreplace(tmp, final);
		if (err)
			unlink(tmp);
	}
	return err;
}

/*
 * Writes one profile: to path if given (replacing it), else to the next
 * "<prefix>.<pid>.<seq>.<trigger>.pb.gz" that does not exist. Logs the first
 * of a run of identical errors. Call with the re-entry guard set.
 * Returns 0 or a negative errno.
 */
static int dump(const char *trigger, const char *path)
{
	if (!ready)
		return -ENOTSUP;
	pthread_mutex_lock(&dump_lock);
	if (closed) {
		/* The process is exiting: a dump started now could be cut short. */
		pthread_mutex_unlock(&dump_lock);
		return -ESHUTDOWN;
	}
	char final[HP_OUTPUT_MAX + 96];
	int err;
	if (path) {
		size_t n = strlen(path);
		if (!n || n >= HP_OUTPUT_MAX)
			err = -ENAMETOOLONG;
		else
			err = write_to(path, true, trigger);
		memcpy(final, path, n < sizeof(final) ? n + 1 : 0);
	} else {
		do {
			unsigned s = atomic_fetch_add(&seq, 1) + 1;
			hp_fmt(final, sizeof(final), "%s.%d.%04u.%s.pb.gz",
			       hp_config.output, (int)getpid(), s, trigger);
			err = write_to(final, false, trigger);
		} while (err == -EEXIST); /* a file of an earlier process with our pid */
	}
	if (err && err != last_err)
		hp_log("cannot write profile %s: %s (the program continues; fix the path "
		       "with HEAPPROF_OUTPUT)",
		       path ? path : final, strerror(-err));
	else if (!err && hp_config.verbose)
		hp_log("wrote %s", final);
	last_err = err;
	if (!strcmp(trigger, "exit"))
		closed = true;
	pthread_mutex_unlock(&dump_lock);
	return err;
}

void hp_dump_at_exit(void)
{
	if (!ready)
		return;
	hp_guard_enter();
	if (hp_config.at_exit) {
		dump("exit", NULL);
	} else {
		/* Wait for a snapshot in progress, and start no other. */
		pthread_mutex_lock(&dump_lock);
		closed = true;
		pthread_mutex_unlock(&dump_lock);
	}
	hp_guard_exit();
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
	pthread_mutex_init(&dump_lock, NULL);
	atomic_store(&seq, 0);
	last_err = 0;
	closed = false;
	if (pipe_w < 0)
		return;
	/* The parent's pipe and thread are not ours: a signal to the child must
	 * wake the child's own dumper. */
	int old_r = pipe_r, old_w = pipe_w;
	pipe_w = -1;
	close(old_r);
	close(old_w);
	int r = start_dumper();
	if (r)
		hp_log("cannot start the snapshot thread in child %d (%s): snapshots by "
		       "signal disabled",
		       (int)getpid(), strerror(-r));
}

HP_EXPORT int heapprof_dump(const char *path)
{
	if (!hp_sampler_active())
		return -ENOTSUP;
	hp_guard_enter();
	int r = dump("api", path);
	hp_guard_exit();
	return r;
}
