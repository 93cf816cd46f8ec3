/* SPDX-License-Identifier: MIT */
/*
 * prog_paths: the awkward paths a real service takes, one mode each:
 *   lifecycle   1000 short-lived threads, 8 at a time: allocations freed on
 *               another thread, and allocations and frees in thread-specific
 *               data destructors at thread exit
 *   exit-race   a worker thread calls exit(7) while others allocate; an
 *               atexit handler and a destructor allocate afterwards
 *   spawn       posix_spawn, vfork + exec, and a fork child that _exits
 *   storm-fork  a thread sends SIGUSR2 as fast as it can while the main
 *               thread forks children that allocate and exit
 *   oom         allocates 1 MiB blocks until malloc returns NULL
 *   dlopen LIB  dlopen, allocate in the library, dlclose
 *   deepbind LIB  the same with RTLD_DEEPBIND
 * It prints "expect FUNC alloc_objects inuse_objects" where it knows them.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* ---- lifecycle -------------------------------------------------------- */

#define LC_THREADS 1000
#define LC_BATCH   8
#define LC_PER     200

static pthread_key_t key;
static void *handed[LC_THREADS][LC_PER / 2];
static void *dtor_kept[LC_THREADS];
static atomic_int next_thread;

__attribute__((noinline)) void *lifecycle_alloc(size_t n)
{
	return malloc(n);
}

__attribute__((noinline)) void *key_value_alloc(void)
{
	return malloc(64);
}

__attribute__((noinline)) void *dtor_alloc(void)
{
	return malloc(96);
}

static void key_dtor(void *v)
{
	int id = *(int *)v;
	free(v);
	dtor_kept[id] = dtor_alloc();
}

static void *lifecycle_thread(void *arg)
{
	int id = (int)(long)arg;
	int *v = key_value_alloc();
	*v = id;
	pthread_setspecific(key, v);
	void *mine[LC_PER / 2];
	for (int i = 0; i < LC_PER; i++) {
		void *p = lifecycle_alloc(32 + (size_t)i);
		if (i % 2)
			mine[i / 2] = p;
		else
			handed[id][i / 2] = p; /* freed by the main thread */
	}
	for (int i = 0; i < LC_PER / 2; i++)
		free(mine[i]);
	return NULL;
}

static int lifecycle(void)
{
	pthread_key_create(&key, key_dtor);
	for (int t = 0; t < LC_THREADS; t += LC_BATCH) {
		pthread_t th[LC_BATCH];
		for (int k = 0; k < LC_BATCH; k++)
			pthread_create(&th[k], NULL, lifecycle_thread,
			               (void *)(long)(t + k));
		for (int k = 0; k < LC_BATCH; k++)
			pthread_join(th[k], NULL);
		for (int k = 0; k < LC_BATCH; k++)
			for (int i = 0; i < LC_PER / 2; i++)
				free(handed[t + k][i]);
	}
	printf("expect lifecycle_alloc %d 0\n", LC_THREADS * LC_PER);
	printf("expect key_value_alloc %d 0\n", LC_THREADS);
	printf("expect dtor_alloc %d %d\n", LC_THREADS, LC_THREADS);
	return 0;
}

/* ---- exit-race -------------------------------------------------------- */

static void *atexit_kept[100];

__attribute__((noinline)) void atexit_alloc(void)
{
	for (int i = 0; i < 100; i++)
		atexit_kept[i] = malloc(200);
}

__attribute__((noinline)) void late_alloc(void)
{
	for (int i = 0; i < 100; i++)
		free(malloc(300));
}

static int in_exit_race;

__attribute__((destructor)) static void program_destructor(void)
{
	if (in_exit_race)
		late_alloc();
}

static void *spinner(void *arg)
{
	for (;;) {
		void *p = malloc(64 + (size_t)(rand() % 1000));
		free(p);
		(void)arg;
	}
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	sleep_ms(200);
	exit(7);
}

static int exit_race(void)
{
	in_exit_race = 1;
	atexit(atexit_alloc);
	printf("expect atexit_alloc 100 100\n");
	printf("expect late_alloc 100 0\n");
	fflush(stdout);
	pthread_t t;
	for (int i = 0; i < 3; i++)
		pthread_create(&t, NULL, spinner, NULL);
	pthread_create(&t, NULL, exiter, NULL);
	for (;;)
		spinner(NULL);
}

/* ---- spawn ------------------------------------------------------------ */

static int spawn(void)
{
	char *argv[] = {"true", NULL};
	pid_t a;
	if (posix_spawn(&a, "/bin/true", NULL, NULL, argv, environ))
		return 1;
	pid_t b = vfork();
	if (b == 0) {
		execve("/bin/true", argv, environ);
		_exit(127);
	}
	pid_t c = fork();
	if (c == 0) {
		void *p = malloc(1 << 20);
		(void)p;
		_exit(0);
	}
	int ok = 1;
	pid_t pids[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		int st;
		ok &= waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) &&
		      !WEXITSTATUS(st);
	}
	printf("spawned %d vforked %d forked_exit %d ok %d\n", (int)a, (int)b, (int)c,
	       ok);
	return !ok;
}

/* ---- storm-fork ------------------------------------------------------- */

static atomic_int storm_stop;
static atomic_long storm_sent;

static void *storm(void *arg)
{
	(void)arg;
	while (!atomic_load(&storm_stop)) {
		kill(getpid(), SIGUSR2);
		atomic_fetch_add(&storm_sent, 1);
	}
	return NULL;
}

__attribute__((noinline)) void storm_child_alloc(void)
{
	for (int i = 0; i < 100; i++)
		free(malloc(4096));
}

static int storm_fork(void)
{
	pthread_t t;
	pthread_create(&t, NULL, storm, NULL);
	pthread_t s;
	pthread_create(&s, NULL, spinner, NULL);
	int bad = 0;
	for (int i = 0; i < 30; i++) {
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			storm_child_alloc();
			exit(0);
		}
		int st;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
		sleep_ms(20);
	}
	atomic_store(&storm_stop, 1);
	pthread_join(t, NULL);
	printf("signals %ld children_failed %d\n", atomic_load(&storm_sent), bad);
	return bad != 0;
}

/* ---- oom -------------------------------------------------------------- */

static int oom(void)
{
	static void *blocks[1 << 16];
	int n = 0;
	errno = 0;
	for (; n < (1 << 16); n++) {
		blocks[n] = malloc(1 << 20);
		if (!blocks[n])
			break;
		((char *)blocks[n])[0] = 1;
	}
	printf("malloc returned NULL: %s, errno %s, after some successes: %s\n",
	       n < (1 << 16) ? "yes" : "no", errno == ENOMEM ? "ENOMEM" : "other",
	       n > 10 ? "yes" : "no");
	for (int i = 0; i < n; i++)
		free(blocks[i]);
	void *p = malloc(1 << 20);
	printf("after freeing, malloc works again: %s\n", p ? "yes" : "no");
	free(p);
	return 0;
}

/* ---- dlopen ----------------------------------------------------------- */

static int with_library(const char *path, int flags)
{
	void *h = dlopen(path, flags);
	if (!h) {
		printf("dlopen failed: %s\n", dlerror());
		return 1;
	}
	void (*alloc)(void) = (void (*)(void))dlsym(h, "lib_alloc");
	void (*release)(void) = (void (*)(void))dlsym(h, "lib_free_all");
	alloc();
	if (flags & RTLD_DEEPBIND)
		release();
	int r = dlclose(h);
	printf("dlclose %d\n", r);
	/* Allocate again after dlclose, so the dump sees the library gone. */
	void *p = malloc(1 << 20);
	free(p);
	return r != 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "lifecycle"))
		return lifecycle();
	if (!strcmp(mode, "exit-race"))
		return exit_race();
	if (!strcmp(mode, "spawn"))
		return spawn();
	if (!strcmp(mode, "storm-fork"))
		return storm_fork();
	if (!strcmp(mode, "oom"))
		return oom();
	if (!strcmp(mode, "dlopen") && argc > 2)
		return with_library(argv[2], RTLD_NOW);
	if (!strcmp(mode, "deepbind") && argc > 2)
		return with_library(argv[2], RTLD_NOW | RTLD_DEEPBIND);
	fprintf(stderr, "usage: prog_paths MODE [LIB]\n");
	return 2;
}
