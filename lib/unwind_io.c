/* SPDX-License-Identifier: MIT */
/*
 * unwind_io: libunwind without its pipe. libunwind 1.6 checks that an
 * address is readable by writing a byte from it into a pipe it opens at
 * start-up and keeps for the life of the process. A program that closes its
 * descriptors and reuses the numbers (daemons, shells, Chromium) then has
 * libunwind read from and write into the program's own files and pipes, or
 * close them. Here the pipe2 calls made inside the profiler get two numbers
 * that can never be descriptors, and the read and write calls on them are
 * answered in-process: the read finds the pipe empty, the write checks the
 * byte with process_vm_readv, which needs no descriptor. Every other call is
 * forwarded untouched. It does not unwind (stack.c does).
 */
#include "common.h"
#include "sys.h"
#include "sampler.h"
#include "unwind_io.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Negative, so never a descriptor: a close of them fails with EBADF. */
#define PSEUDO_READ  (-0x6870)
#define PSEUDO_WRITE (-0x6871)

typedef int (*pipe2_fn)(int[2], int);
typedef ssize_t (*rw_fn)(int, void *, size_t);
typedef long (*syscall_fn)(long, ...);
static pipe2_fn real_pipe2;
static rw_fn real_read, real_write;
static syscall_fn real_syscall;

void hp_unwind_io_init(void)
{
	real_pipe2 = (pipe2_fn)dlsym(RTLD_NEXT, "pipe2");
	real_read = (rw_fn)dlsym(RTLD_NEXT, "read");
	real_write = (rw_fn)dlsym(RTLD_NEXT, "write");
	real_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
}

/* Called before hp_unwind_io_init only by constructors that run before ours. */
static void resolve(void)
{
	if (hp_unlikely(!real_syscall))
		hp_unwind_io_init();
}

/*
 * What libunwind's write of one byte from addr into its pipe would tell:
 * len if the bytes are readable, -1 with EFAULT if not. A kernel or seccomp
 * policy without process_vm_readv leaves libunwind's own residency check
 * (mincore) as the only one, as with its msync fallback.
 */
static ssize_t check_readable(const void *addr, size_t len)
{
	char buf[16];
	if (len > sizeof(buf))
		len = sizeof(buf);
	struct iovec local = {buf, len}, remote = {(void *)addr, len};
	/* The thread's id, not the process's: once main has called pthread_exit,
	 * the process's id names a zombie without memory. */
	if (hp_sys_process_vm_readv(hp_sys_gettid(), &local, 1, &remote, 1, 0) ==
	    (ssize_t)len)
		return (ssize_t)len;
	if (errno == ENOSYS || errno == EPERM)
		return (ssize_t)len;
	errno = EFAULT;
	return -1;
}

HP_EXPORT int pipe2(int fds[2], int flags)
{
	resolve();
	if (hp_unlikely(hp_thread.in_profiler)) {
		fds[0] = PSEUDO_READ;
		fds[1] = PSEUDO_WRITE;
		return 0;
	}
	return real_pipe2(fds, flags);
}

HP_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (hp_unlikely(fd == PSEUDO_READ)) {
		errno = EAGAIN; /* an empty non-blocking pipe */
		return -1;
	}
	resolve();
	return real_read(fd, buf, n);
}

HP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (hp_unlikely(fd == PSEUDO_WRITE))
		return check_readable(buf, n);
	resolve();
	return real_write(fd, (void *)buf, n);
}

/*
 * syscall(2) is variadic; the kernel takes at most six arguments, all in
 * registers, so reading six is what glibc's own syscall does.
 */
HP_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
	long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
	va_end(ap);
	/* An int argument leaves the register's upper half undefined. */
	if (hp_unlikely(nr == SYS_write && (int)a1 == PSEUDO_WRITE))
		return check_readable((const void *)a2, (size_t)a3);
	resolve();
	return real_syscall(nr, a1, a2, a3, a4, a5, a6);
}
