/* SPDX-License-Identifier: MIT */
/*
 * prog_lifecycle MODE [OUTDIR [SIGNAL]]: programs whose life depends on
 * their threads and descriptors, to show that the profiler changes neither.
 * OUTDIR, where a mode asks for a snapshot, is the directory of the profile
 * files ("-" or none: no profiler, no snapshot); SIGNAL defaults to USR2.
 *
 *   pthread_exit         main allocates and calls pthread_exit: the process
 *                        ends when its last thread does, running atexit
 *   pthread_exit_worker  the same while a worker allocates for 300 ms
 *   pthread_exit_term    main calls pthread_exit, a worker sleeps forever
 *                        (the driver ends it with SIGTERM)
 *   fork_from_worker     a worker forks; in the child the worker's function
 *                        returns, ending the child's only thread; prints the
 *                        child's status (waiting 3 s at most)
 *   stdin_closed         started with fd 0 closed; after a snapshot and more
 *                        allocations fd 0 is still closed
 *   list_fds             prints the descriptors open after a snapshot
 *   threads_at_start     prints the thread count at start, after allocating,
 *                        and once a snapshot is written
 *   retitle              writes a title over its arguments and on into its
 *                        environment's strings, as setproctitle does, and
 *                        prints /proc/self/cmdline as ps shows it
 */
#include "snapshots.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCKS 64
#define SIZE   16384

static const char *outdir;
static int signo = SIGUSR2;
static void *blocks[4][BLOCKS];

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

__attribute__((noinline)) void main_alloc(void)
{
	for (int i = 0; i < BLOCKS; i++) {
		blocks[0][i] = malloc(SIZE);
		memset(blocks[0][i], 'm', 64);
	}
}

__attribute__((noinline)) void later_alloc(void)
{
	for (int i = 0; i < BLOCKS; i++) {
		blocks[1][i] = malloc(SIZE);
		memset(blocks[1][i], 'l', 64);
	}
}

__attribute__((noinline)) void worker_alloc(void)
{
	for (int i = 0; i < BLOCKS; i++) {
		blocks[2][i] = malloc(SIZE);
		memset(blocks[2][i], 'w', 64);
	}
}

__attribute__((noinline)) void child_alloc(void)
{
	for (int i = 0; i < BLOCKS; i++) {
		blocks[3][i] = malloc(SIZE);
		memset(blocks[3][i], 'c', 64);
	}
}

static void on_exit_print(void)
{
	printf("atexit ran\n");
	fflush(stdout);
}

static int count_snapshots(void)
{
	int n = count_snapshot_files(outdir);
	if (n < 0) {
		fprintf(stderr, "prog_lifecycle: opendir %s: %s\n", outdir,
		        strerror(errno));
		exit(1);
	}
	return n;
}

/* Asks for a snapshot and waits up to 10 s for it; nothing without OUTDIR. */
static void snapshot(void)
{
	if (!outdir)
		return;
	int before = count_snapshots();
	kill(getpid(), signo);
	for (int i = 0; i < 1000; i++) {
		if (count_snapshots() > before) {
			printf("snapshot written\n");
			return;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "prog_lifecycle: no snapshot in %s within 10 s\n", outdir);
	exit(1);
}

static int threads_now(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

/* The descriptors open now, but the listing's own: "0 1 2". */
static void list_fds(char *buf, size_t len)
{
	DIR *d = opendir("/proc/self/fd");
	bool open[1024] = {false};
	int self = d ? dirfd(d) : -1;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != self && fd < 1024)
			open[fd] = true;
	}
	if (d)
		closedir(d);
	size_t used = 0;
	buf[0] = '\0';
	for (int fd = 0; fd < 1024 && used < len; fd++)
		if (open[fd])
			used += (size_t)snprintf(buf + used, len - used, "%s%d",
			                         used ? " " : "", fd);
}

static void *worker_alloc_sleep(void *arg)
{
	(void)arg;
	worker_alloc();
	sleep_ms(300);
	return NULL;
}

static void *worker_forever(void *arg)
{
	(void)arg;
	worker_alloc();
	for (;;)
		pause();
	return NULL;
}

/* Forks; the child returns from this function, ending its only thread. */
static void *worker_fork(void *arg)
{
	(void)arg;
	worker_alloc();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("prog_lifecycle: fork");
		exit(1);
	}
	if (pid == 0) {
		child_alloc();
		return NULL;
	}
	/* Polls rather than alarm(): the signal could go to the other thread. */
	int status = 0;
	pid_t r = 0;
	for (int i = 0; i < 300 && r == 0; i++) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == 0)
			sleep_ms(10);
	}
	if (r != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		printf("child %d still running after 3 s: killed\n", (int)pid);
		return (void *)1;
	}
	if (WIFEXITED(status))
		printf("child %d exited %d\n", (int)pid, WEXITSTATUS(status));
	else
		printf("child %d killed by signal %d\n", (int)pid, WTERMSIG(status));
	return (void *)(intptr_t) !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* What setproctitle does: the title over argv's strings and on into the
 * environment's (whose variables this program no longer needs). */
static void retitle(char **argv)
{
	extern char **environ;
	char *end = argv[0];
	for (char **a = argv; *a; a++)
		end = *a + strlen(*a) + 1;
	for (char **e = environ; *e && *e == end; e++)
		end = *e + strlen(*e) + 1;
	/* Longer than the arguments: the title runs on into the environment. */
	char title[400];
	snprintf(title, sizeof(title), "prog_lifecycle: retitled worker, %0*d", 360, 7);
	size_t room = (size_t)(end - argv[0]);
	size_t n = strlen(title) + 1 < room ? strlen(title) + 1 : room;
	memset(argv[0], 0, room);
	memcpy(argv[0], title, n - 1);
}

/* /proc/self/cmdline with NULs as spaces, trailing ones dropped. */
static void print_cmdline(void)
{
	char buf[4096];
	int fd = open("/proc/self/cmdline", O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n > 0 ? n : 0] = '\0';
	printf("cmdline: %s\n", buf);
}

static pthread_t start(void *(*fn)(void *))
{
	pthread_t t;
	int r = pthread_create(&t, NULL, fn, NULL);
	if (r) {
		fprintf(stderr, "prog_lifecycle: pthread_create: %s\n", strerror(r));
		exit(1);
	}
	return t;
}

static int parse_signal(const char *s)
{
	if (!strncmp(s, "SIG", 3))
		s += 3;
	if (!strcmp(s, "USR1"))
		return SIGUSR1;
	if (!strcmp(s, "USR2"))
		return SIGUSR2;
	if (!strcmp(s, "PROF"))
		return SIGPROF;
	return atoi(s);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: prog_lifecycle MODE [OUTDIR [SIGNAL]]\n");
		return 2;
	}
	const char *mode = argv[1];
	if (argc > 2 && strcmp(argv[2], "-"))
		outdir = argv[2];
	if (argc > 3)
		signo = parse_signal(argv[3]);

	if (!strcmp(mode, "threads_at_start")) {
		int at_start = threads_now();
		main_alloc();
		printf("threads at start: %d\n", at_start);
		printf("threads after allocating: %d\n", threads_now());
		if (outdir) {
			snapshot();
			/* A snapshot's thread, if any, ends once the file is written. */
			int n = threads_now();
			for (int i = 0; i < 200 && n != at_start; i++) {
				sleep_ms(10);
				n = threads_now();
			}
			printf("threads after the snapshot: %d\n", n);
		}
		return 0;
	}
	if (!strcmp(mode, "retitle")) {
		main_alloc();
		retitle(argv);
		print_cmdline();
		return 0;
	}
	if (!strcmp(mode, "pthread_exit")) {
		main_alloc();
		atexit(on_exit_print);
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "pthread_exit_worker")) {
		main_alloc();
		atexit(on_exit_print);
		start(worker_alloc_sleep);
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "pthread_exit_term")) {
		main_alloc();
		atexit(on_exit_print);
		start(worker_forever);
		printf("worker started\n");
		fflush(stdout);
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "fork_from_worker")) {
		main_alloc();
		void *failed;
		pthread_join(start(worker_fork), &failed);
		return failed != NULL;
	}
	if (!strcmp(mode, "stdin_closed")) {
		if (fcntl(0, F_GETFD) != -1 || errno != EBADF) {
			char target[256] = "";
			ssize_t n =
			    readlink("/proc/self/fd/0", target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = '\0';
			fprintf(stderr,
			        "prog_lifecycle: fd 0 is open at start (%s); start me "
			        "with fd 0 closed (<&-)\n",
			        target);
			return 1;
		}
		main_alloc();
		snapshot();
		later_alloc();
		/* A dump may hold a file for a moment after its snapshot appears. */
		bool closed = false;
		for (int i = 0; i < 200 && !closed; i++) {
			closed = fcntl(0, F_GETFD) == -1 && errno == EBADF;
			if (!closed)
				sleep_ms(10);
		}
		char target[256] = "";
		if (!closed) {
			ssize_t n =
			    readlink("/proc/self/fd/0", target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = '\0';
			fprintf(stderr, "prog_lifecycle: fd 0 is open (%s)\n", target);
			return 1;
		}
		printf("fd 0 still closed\n");
		return 0;
	}
	if (!strcmp(mode, "list_fds")) {
		char before[4096], after[4096];
		main_alloc();
		list_fds(before, sizeof(before));
		snapshot();
		later_alloc();
		/* Wait for a dump's file to close, not for a descriptor that stays. */
		list_fds(after, sizeof(after));
		for (int i = 0; i < 200 && strcmp(before, after); i++) {
			sleep_ms(10);
			list_fds(after, sizeof(after));
		}
		printf("fds: %s\n", after);
		return 0;
	}
	fprintf(stderr, "prog_lifecycle: unknown mode '%s'\n", mode);
	return 2;
}
