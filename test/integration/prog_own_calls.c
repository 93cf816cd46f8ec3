/* SPDX-License-Identifier: MIT */
/*
 * prog_own_calls OUTDIR SOCKET: a program that defines, and exports
 * (-rdynamic), its own functions under the names of the system calls a
 * profiler makes: open, close, writev, rename, mmap, socket, send and the
 * others. The dynamic linker binds every later object's imports of those
 * names to them, so a profiler that called the C library's wrappers would
 * call these. Each one makes the system call itself and, when its caller
 * is not this program, says so on stderr: "foreign call: NAME from OBJECT".
 *
 * It allocates (stacks to name: the profiler reads binaries' symbol
 * tables), asks for a snapshot (SIGUSR2) and waits for its file, fetches
 * /debug/pprof/heap from the endpoint at SOCKET (HEAPPROF_HTTP=unix:...)
 * with its own socket calls, then returns: the exit profile and the
 * record's removal follow. Prints "own calls: N" (this program's calls
 * before the snapshot that reached its own definitions: 6 when they are
 * live), "snapshots: N", "http: STATUS BYTES" and "pid: PID".
 */
#define _GNU_SOURCE
#include "snapshots.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int own;

/* Whether the code at ret belongs to this executable; if not, one line. */
static void judge(const char *name, void *ret)
{
	Dl_info self, caller;
	if (dladdr((void *)judge, &self) && dladdr(ret, &caller) &&
	    caller.dli_fbase == self.dli_fbase) {
		own++;
		return;
	}
	char line[512];
	int n =
	    snprintf(line, sizeof(line), "foreign call: %s from %s\n", name,
	             dladdr(ret, &caller) && caller.dli_fname ? caller.dli_fname : "?");
	syscall(SYS_write, 2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
}

#define JUDGE(name) judge(name, __builtin_return_address(0))

int open(const char *path, int flags, ...)
{
	JUDGE("open");
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (mode_t)va_arg(ap, int);
	va_end(ap);
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int openat(int dfd, const char *path, int flags, ...)
{
	JUDGE("openat");
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (mode_t)va_arg(ap, int);
	va_end(ap);
	return (int)syscall(SYS_openat, dfd, path, flags, mode);
}

int close(int fd)
{
	JUDGE("close");
	return (int)syscall(SYS_close, fd);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	JUDGE("writev");
	return syscall(SYS_writev, fd, iov, n);
}

int ftruncate(int fd, off_t len)
{
	JUDGE("ftruncate");
	return (int)syscall(SYS_ftruncate, fd, len);
}

int fstat(int fd, struct stat *st)
{
	JUDGE("fstat");
	return (int)syscall(SYS_newfstatat, fd, "", st, AT_EMPTY_PATH);
}

int rename(const char *from, const char *to)
{
	JUDGE("rename");
	return (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}

int renameat(int od, const char *from, int nd, const char *to)
{
	JUDGE("renameat");
	return (int)syscall(SYS_renameat, od, from, nd, to);
}

int unlink(const char *path)
{
	JUDGE("unlink");
	return (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0);
}

int unlinkat(int dfd, const char *path, int flags)
{
	JUDGE("unlinkat");
	return (int)syscall(SYS_unlinkat, dfd, path, flags);
}

ssize_t readlink(const char *path, char *buf, size_t len)
{
	JUDGE("readlink");
	return syscall(SYS_readlinkat, AT_FDCWD, path, buf, len);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	JUDGE("mmap");
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	JUDGE("munmap");
	return (int)syscall(SYS_munmap, addr, len);
}

int socket(int domain, int type, int protocol)
{
	JUDGE("socket");
	return (int)syscall(SYS_socket, domain, type, protocol);
}

int bind(int fd, const struct sockaddr *a, socklen_t len)
{
	JUDGE("bind");
	return (int)syscall(SYS_bind, fd, a, len);
}

int listen(int fd, int backlog)
{
	JUDGE("listen");
	return (int)syscall(SYS_listen, fd, backlog);
}

int accept4(int fd, struct sockaddr *a, socklen_t *len, int flags)
{
	JUDGE("accept4");
	return (int)syscall(SYS_accept4, fd, a, len, flags);
}

int connect(int fd, const struct sockaddr *a, socklen_t len)
{
	JUDGE("connect");
	return (int)syscall(SYS_connect, fd, a, len);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	JUDGE("send");
	return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	JUDGE("recv");
	return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, 0);
}

int shutdown(int fd, int how)
{
	JUDGE("shutdown");
	return (int)syscall(SYS_shutdown, fd, how);
}

/* Stacks of a few frames for the profiles to name. */
static void *__attribute__((noinline)) leaf(size_t n)
{
	return malloc(n);
}

static void *__attribute__((noinline)) branch(size_t n)
{
	return leaf(n);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* GET /debug/pprof/heap from the endpoint at path: the status, the bytes. */
static int fetch(const char *path, long *bytes)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int fd = -1;
	for (int i = 0; i < 200 && fd < 0; i++) { /* the endpoint's thread starts */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			close(fd);
			fd = -1;
			sleep_ms(25);
		}
	}
	if (fd < 0)
		return -1;
	static const char req[] = "GET /debug/pprof/heap HTTP/1.0\r\nHost: x\r\n\r\n";
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return -1;
	}
	char buf[4096], head[16] = "";
	long got = 0;
	for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0; got += n)
		if (!got)
			memcpy(head, buf, n < 15 ? (size_t)n : 15);
	close(fd);
	*bytes = got;
	int status = 0;
	return sscanf(head, "HTTP/1.%*d %d", &status) == 1 ? status : -1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: prog_own_calls OUTDIR SOCKET\n");
		return 2;
	}
	static void *keep[64];
	for (int i = 0; i < 64; i++)
		keep[i] = branch(4096 + (size_t)i);

	/* This program's own calls reach its own definitions: 6 of them. */
	int p[2];
	if (pipe(p) || close(p[0]) || close(p[1]))
		return 3;
	char tmp[512], moved[520];
	snprintf(tmp, sizeof(tmp), "%s/own.tmp", argv[1]);
	snprintf(moved, sizeof(moved), "%s.moved", tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || close(fd) || rename(tmp, moved) || unlink(moved))
		return 4;
	int before = own;

	kill(getpid(), SIGUSR2);
	int snaps = 0;
	for (int i = 0; i < 400 && (snaps = count_snapshot_files(argv[1])) < 1; i++)
		sleep_ms(25);

	long bytes = 0;
	int status = fetch(argv[2], &bytes);
	printf("own calls: %d\nsnapshots: %d\nhttp: %d %ld\npid: %d\n", before, snaps,
	       status, bytes, (int)getpid());
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	return 0;
}
