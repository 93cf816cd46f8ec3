/* SPDX-License-Identifier: MIT */
/*
 * common: the out-of-line parts of common.h: the spin lock's slow path, the
 * clock, whole writes and the files kept across processes. Nothing here
 * allocates or logs.
 */
#include "common.h"
#include "sys.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

#include <sched.h>
#include <stdatomic.h>
#include <time.h>

void hp_lock_slow(hp_lock_t *l)
{
	for (unsigned spins = 0;; spins++) {
		while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
			if (spins++ < 100)
				__builtin_ia32_pause();
			else
				hp_sys_sched_yield();
		}
		if (!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
			return;
	}
}

void hp_zero_if_set(void *p, size_t len)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < len; i++)
		if (c[i]) {
			memset(p, 0, len);
			return;
		}
}

void hp_mutex_reset(void *mutex)
{
	static const pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	if (memcmp(mutex, &fresh, sizeof(fresh)))
		pthread_mutex_init(mutex, NULL);
}

/*
 * By the system call, not the vDSO: a few calls a process (start-up, each
 * profile), where the vDSO's first read faults in two pages (its data and
 * the clock's), tens of microseconds on the machines measured, in a program
 * that never reads the clock itself (docs/performance.md).
 */
uint64_t hp_clock_ns(clockid_t clock)
{
	struct timespec ts;
	if (hp_sys_clock_gettime(clock, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t hp_now_ns(void)
{
	return hp_clock_ns(CLOCK_REALTIME);
}

int hp_writev_all(int fd, struct iovec *iov, int n)
{
	for (;;) {
		/* Empty buffers write nothing: zlib often gives none for a chunk,
		 * and a writev of nothing returns 0, not a short write. */
		for (; n && !iov->iov_len; iov++, n--)
			;
		if (!n)
			return 0;
		ssize_t w = hp_sys_writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		for (; n && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

int hp_rename_noreplace(int dfd, const char *from, const char *to)
{
	if (!hp_sys_renameat2(dfd, from, dfd, to, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (hp_sys_linkat(dfd, from, dfd, to, 0) < 0)
		return -errno;
	hp_sys_unlinkat(dfd, from, 0);
	return 0;
}

int hp_open_own(const char *path, unsigned euid, size_t min, size_t max, size_t *len)
{
	struct stat st;
	int fd = hp_sys_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (hp_sys_fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != euid ||
	    (st.st_mode & 022) || (size_t)st.st_size < min || (size_t)st.st_size > max) {
		hp_sys_close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	return fd;
}

int hp_replace_file(const char *path, struct iovec *iov, int n)
{
	char tmp[600];
	if (hp_fmt(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)hp_sys_getpid()) >=
	    sizeof(tmp) - 1)
		return -ENAMETOOLONG;
	hp_sys_unlink(tmp);
	int fd =
	    hp_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int err = hp_writev_all(fd, iov, n);
	if (hp_sys_close(fd) < 0 && !err)
		err = -errno;
	if (!err && hp_sys_rename(tmp, path) < 0)
		err = -errno;
	if (err)
		hp_sys_unlink(tmp);
	return err;
}
