/* SPDX-License-Identifier: MIT */
/*
 * sys: the system calls libheapprof makes, made directly, not through the C
 * library's wrappers. Each returns what the wrapper would (-1 with errno set
 * on failure) and makes the system call the wrapper makes on x86_64, so a
 * trace of a profiled program reads as before.
 *
 * Why not the wrappers:
 * - Each import is a symbol the loader looks up at start-up, through every
 *   object of the program in turn (the library binds at load, -z now): about
 *   700 instructions each in /bin/true, 950 in clang. These 45 were a third
 *   of the imports (docs/performance.md, seventeenth session).
 * - A name the program defines itself wins the lookup: an executable that
 *   exports its own connect, send or close would have had the profiler call
 *   it. So would another preloaded library that wraps open (fakeroot, a
 *   sandbox's shim) see the profiler's files as the program's.
 * - open, close, poll, pread and the others are cancellation points: a
 *   thread the program cancels while it writes a profile would unwind out of
 *   the profiler's code, its locks held. A direct call is not one.
 *
 * Calls whose wrapper does more than the call stay with the C library:
 * faccessat with AT_EACCESS, fchmodat with AT_SYMLINK_NOFOLLOW, and
 * clock_gettime where a thread reads the clock often (the vDSO, no system
 * call).
 */
#ifndef HP_SYS_H
#define HP_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HP_SYS_NORETURN __attribute__((noreturn))

/* The raw call: the kernel's result, -errno on failure. */
#if defined(__x86_64__)
static inline long hp_sys_raw(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
	                 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static inline long hp_sys_raw(long nr, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
	                 : "+r"(x0)
	                 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
	                 : "memory", "cc");
	return x0;
}
#else
/* Elsewhere through the C library's syscall(2) (the one unwind_io.c
 * forwards to), its -1 and errno turned back into -errno. */
static inline long hp_sys_raw(long nr, long a, long b, long c, long d, long e, long f)
{
	int saved = errno;
	long r = syscall(nr, a, b, c, d, e, f);
	if (r == -1) {
		r = -errno;
		errno = saved;
	}
	return r;
}
#endif

/* The wrapper's convention: -1 and errno for the kernel's -4095..-1. */
static inline long hp_sys_ret(long r)
{
	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#define HP_SYS(nr, a, b, c, d, e, f)                                                     \
	hp_sys_ret(hp_sys_raw((nr), (long)(a), (long)(b), (long)(c), (long)(d),          \
	                      (long)(e), (long)(f)))

/* ---- files ---------------------------------------------------------------- */

static inline int hp_sys_openat(int dfd, const char *path, int flags, mode_t mode)
{
	return (int)HP_SYS(SYS_openat, dfd, path, flags, mode, 0, 0);
}

static inline int hp_sys_open(const char *path, int flags, mode_t mode)
{
	return hp_sys_openat(AT_FDCWD, path, flags, mode);
}

static inline int hp_sys_close(int fd)
{
	return (int)HP_SYS(SYS_close, fd, 0, 0, 0, 0, 0);
}

static inline ssize_t hp_sys_pread(int fd, void *buf, size_t len, off_t off)
{
	return HP_SYS(SYS_pread64, fd, buf, len, off, 0, 0);
}

static inline ssize_t hp_sys_writev(int fd, const struct iovec *iov, int n)
{
	return HP_SYS(SYS_writev, fd, iov, n, 0, 0, 0);
}

static inline off_t hp_sys_lseek(int fd, off_t off, int whence)
{
	return HP_SYS(SYS_lseek, fd, off, whence, 0, 0, 0);
}

static inline int hp_sys_ftruncate(int fd, off_t len)
{
	return (int)HP_SYS(SYS_ftruncate, fd, len, 0, 0, 0, 0);
}

static inline int hp_sys_fdatasync(int fd)
{
	return (int)HP_SYS(SYS_fdatasync, fd, 0, 0, 0, 0, 0);
}

static inline int hp_sys_fcntl(int fd, int cmd, long arg)
{
	return (int)HP_SYS(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}

/* The kernel's struct stat is the C library's on both 64-bit targets. */
static inline int hp_sys_fstat(int fd, struct stat *st)
{
	if (fd < 0) { /* not AT_FDCWD's directory: glibc's EBADF */
		errno = EBADF;
		return -1;
	}
	return (int)HP_SYS(SYS_newfstatat, fd, "", st, AT_EMPTY_PATH, 0, 0);
}

static inline int hp_sys_lstat(const char *path, struct stat *st)
{
	return (int)HP_SYS(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW, 0, 0);
}

static inline int hp_sys_access(const char *path, int mode)
{
#ifdef SYS_access
	return (int)HP_SYS(SYS_access, path, mode, 0, 0, 0, 0);
#else
	return (int)HP_SYS(SYS_faccessat, AT_FDCWD, path, mode, 0, 0, 0);
#endif
}

static inline ssize_t hp_sys_readlink(const char *path, char *buf, size_t len)
{
#ifdef SYS_readlink
	return HP_SYS(SYS_readlink, path, buf, len, 0, 0, 0);
#else
	return HP_SYS(SYS_readlinkat, AT_FDCWD, path, buf, len, 0, 0);
#endif
}

static inline int hp_sys_mkdir(const char *path, mode_t mode)
{
#ifdef SYS_mkdir
	return (int)HP_SYS(SYS_mkdir, path, mode, 0, 0, 0, 0);
#else
	return (int)HP_SYS(SYS_mkdirat, AT_FDCWD, path, mode, 0, 0, 0);
#endif
}

static inline int hp_sys_unlinkat(int dfd, const char *path, int flags)
{
	return (int)HP_SYS(SYS_unlinkat, dfd, path, flags, 0, 0, 0);
}

static inline int hp_sys_unlink(const char *path)
{
#ifdef SYS_unlink
	return (int)HP_SYS(SYS_unlink, path, 0, 0, 0, 0, 0);
#else
	return hp_sys_unlinkat(AT_FDCWD, path, 0);
#endif
}

static inline int hp_sys_renameat(int od, const char *from, int nd, const char *to)
{
#ifdef SYS_renameat
	return (int)HP_SYS(SYS_renameat, od, from, nd, to, 0, 0);
#else
	return (int)HP_SYS(SYS_renameat2, od, from, nd, to, 0, 0);
#endif
}

static inline int hp_sys_renameat2(int od, const char *from, int nd, const char *to,
                                   unsigned flags)
{
	return (int)HP_SYS(SYS_renameat2, od, from, nd, to, flags, 0);
}

static inline int hp_sys_rename(const char *from, const char *to)
{
#ifdef SYS_rename
	return (int)HP_SYS(SYS_rename, from, to, 0, 0, 0, 0);
#else
	return hp_sys_renameat(AT_FDCWD, from, AT_FDCWD, to);
#endif
}

static inline int hp_sys_linkat(int od, const char *from, int nd, const char *to,
                                int flags)
{
	return (int)HP_SYS(SYS_linkat, od, from, nd, to, flags, 0);
}

/* The directory into buf, as getcwd(3) with a buffer: buf, or NULL. As
 * the C library, a directory outside the process's root (the kernel's
 * "(unreachable)/...") is no path: ENOENT. */
static inline char *hp_sys_getcwd(char *buf, size_t len)
{
	if (HP_SYS(SYS_getcwd, buf, len, 0, 0, 0, 0) < 0)
		return NULL;
	if (buf[0] != '/') {
		errno = ENOENT;
		return NULL;
	}
	return buf;
}

static inline int hp_sys_memfd_create(const char *name, unsigned flags)
{
	return (int)HP_SYS(SYS_memfd_create, name, flags, 0, 0, 0, 0);
}

/* ---- memory --------------------------------------------------------------- */

static inline void *hp_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
                                off_t off)
{
	long r = hp_sys_raw(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
	return (void *)hp_sys_ret(r);
}

static inline int hp_sys_munmap(void *addr, size_t len)
{
	return (int)HP_SYS(SYS_munmap, addr, len, 0, 0, 0, 0);
}

static inline int hp_sys_mprotect(void *addr, size_t len, int prot)
{
	return (int)HP_SYS(SYS_mprotect, addr, len, prot, 0, 0, 0);
}

static inline int hp_sys_madvise(void *addr, size_t len, int advice)
{
	return (int)HP_SYS(SYS_madvise, addr, len, advice, 0, 0, 0);
}

/* mremap without MREMAP_FIXED (no new address). */
static inline void *hp_sys_mremap(void *old, size_t old_len, size_t len, int flags)
{
	return (void *)HP_SYS(SYS_mremap, old, old_len, len, flags, 0, 0);
}

static inline ssize_t hp_sys_process_vm_readv(pid_t pid, const struct iovec *local,
                                              unsigned long nl,
                                              const struct iovec *remote,
                                              unsigned long nr, unsigned long flags)
{
	return HP_SYS(SYS_process_vm_readv, pid, local, nl, remote, nr, flags);
}

/* ---- the process ---------------------------------------------------------- */

static inline pid_t hp_sys_getpid(void)
{
	return (pid_t)hp_sys_raw(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

static inline pid_t hp_sys_gettid(void)
{
	return (pid_t)hp_sys_raw(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

static inline uid_t hp_sys_geteuid(void)
{
	return (uid_t)hp_sys_raw(SYS_geteuid, 0, 0, 0, 0, 0, 0);
}

static inline int hp_sys_getrlimit(int resource, struct rlimit *rl)
{
	return (int)HP_SYS(SYS_prlimit64, 0, resource, NULL, rl, 0, 0);
}

/* prctl(PR_SET_NAME): the calling thread's name (15 bytes kept). */
static inline int hp_sys_set_thread_name(const char *name)
{
	return (int)HP_SYS(SYS_prctl, PR_SET_NAME, name, 0, 0, 0, 0);
}

static inline int hp_sys_sched_yield(void)
{
	return (int)HP_SYS(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}

/* As clock_gettime(2), by the system call: for the few reads in a process
 * that may never read the clock otherwise (common.c's hp_clock_ns). */
static inline int hp_sys_clock_gettime(clockid_t clock, struct timespec *ts)
{
	return (int)HP_SYS(SYS_clock_gettime, clock, ts, 0, 0, 0, 0);
}

static inline int hp_sys_timer_create(clockid_t clock, struct sigevent *sev, int *id)
{
	return (int)HP_SYS(SYS_timer_create, clock, sev, id, 0, 0, 0);
}

static inline int hp_sys_timer_settime(int id, int flags, const struct itimerspec *its,
                                       struct itimerspec *old)
{
	return (int)HP_SYS(SYS_timer_settime, id, flags, its, old, 0, 0);
}

/* Ends the process (exit_group) or, where that returns, the thread. */
static inline HP_SYS_NORETURN void hp_sys_exit(int status)
{
	hp_sys_raw(SYS_exit_group, status, 0, 0, 0, 0, 0);
	for (;;)
		hp_sys_raw(SYS_exit, status, 0, 0, 0, 0, 0);
}

/* As nanosleep(3), by clock_nanosleep on CLOCK_REALTIME, glibc's call. */
static inline int hp_sys_nanosleep(const struct timespec *req, struct timespec *rem)
{
	return (int)HP_SYS(SYS_clock_nanosleep, CLOCK_REALTIME, 0, req, rem, 0, 0);
}

/* As clock_nanosleep(3): 0, or the error number (not -1 and errno). */
static inline int hp_sys_clock_nanosleep(clockid_t clock, int flags,
                                         const struct timespec *req, struct timespec *rem)
{
	return (int)-hp_sys_raw(SYS_clock_nanosleep, clock, flags, (long)req, (long)rem,
	                        0, 0);
}

static inline int hp_sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
#ifdef SYS_poll
	return (int)HP_SYS(SYS_poll, fds, n, timeout_ms, 0, 0, 0);
#else
	struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
	return (int)HP_SYS(SYS_ppoll, fds, n, timeout_ms < 0 ? NULL : &ts, NULL, 0, 0);
#endif
}

/* ---- sockets (the endpoint) ----------------------------------------------- */

static inline int hp_sys_socket(int domain, int type, int protocol)
{
	return (int)HP_SYS(SYS_socket, domain, type, protocol, 0, 0, 0);
}

static inline int hp_sys_bind(int fd, const struct sockaddr *a, socklen_t len)
{
	return (int)HP_SYS(SYS_bind, fd, a, len, 0, 0, 0);
}

static inline int hp_sys_listen(int fd, int backlog)
{
	return (int)HP_SYS(SYS_listen, fd, backlog, 0, 0, 0, 0);
}

static inline int hp_sys_accept4(int fd, struct sockaddr *a, socklen_t *len, int flags)
{
	return (int)HP_SYS(SYS_accept4, fd, a, len, flags, 0, 0);
}

static inline int hp_sys_connect(int fd, const struct sockaddr *a, socklen_t len)
{
	return (int)HP_SYS(SYS_connect, fd, a, len, 0, 0, 0);
}

static inline int hp_sys_getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
	return (int)HP_SYS(SYS_getsockname, fd, a, len, 0, 0, 0);
}

static inline int hp_sys_setsockopt(int fd, int level, int name, const void *val,
                                    socklen_t len)
{
	return (int)HP_SYS(SYS_setsockopt, fd, level, name, val, len, 0);
}

static inline int hp_sys_shutdown(int fd, int how)
{
	return (int)HP_SYS(SYS_shutdown, fd, how, 0, 0, 0, 0);
}

static inline ssize_t hp_sys_recv(int fd, void *buf, size_t len, int flags)
{
	return HP_SYS(SYS_recvfrom, fd, buf, len, flags, 0, 0);
}

static inline ssize_t hp_sys_send(int fd, const void *buf, size_t len, int flags)
{
	return HP_SYS(SYS_sendto, fd, buf, len, flags, 0, 0);
}

#endif
