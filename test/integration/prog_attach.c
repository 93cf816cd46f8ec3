/* SPDX-License-Identifier: MIT */
/*
 * prog_attach: started without the profiler, for attach.sh. It allocates
 * 100 blocks of 1000 bytes in before_attach(), says "ready", waits for the
 * file argv[1], then allocates 50 blocks of 3000 bytes in after_attach(),
 * frees the first 100, says "allocated", waits for argv[2], frees the rest
 * and exits with status 3. With "threads" as argv[3], four threads do the
 * same at once (4 x the counts), and all wait in a blocking call; with
 * "undumpable", it makes itself not dumpable (only CAP_SYS_PTRACE may trace it);
 * with "loader", a thread waits for argv[1] inside dl_iterate_phdr (which
 * holds the dynamic loader's lock) from before "ready" on.
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_BEFORE 100
#define N_AFTER  50

static const char *go1, *go2;

static void wait_for(const char *path)
{
	struct timespec ts = {0, 5000000};
	while (access(path, F_OK) != 0)
		nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void before_attach(void **b)
{
	for (int i = 0; i < N_BEFORE; i++)
		b[i] = malloc(1000);
}

__attribute__((noinline)) static void after_attach(void **a)
{
	for (int i = 0; i < N_AFTER; i++)
		a[i] = malloc(3000);
}

static pthread_barrier_t ready, allocated;

static void *work(void *arg)
{
	void *b[N_BEFORE], *a[N_AFTER];
	before_attach(b);
	pthread_barrier_wait(&ready);
	wait_for(go1);
	after_attach(a);
	for (int i = 0; i < N_BEFORE; i++) {
		memset(b[i], i, 1000);
		free(b[i]);
	}
	pthread_barrier_wait(&allocated);
	wait_for(go2);
	long sum = 0;
	for (int i = 0; i < N_AFTER; i++) {
		memset(a[i], 1, 3000);
		sum += ((unsigned char *)a[i])[i];
		free(a[i]);
	}
	return (void *)sum;
}

static pthread_barrier_t in_loader;

static int wait_in_loader(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info, (void)size, (void)arg;
	pthread_barrier_wait(&in_loader);
	wait_for(go1);
	return 1;
}

static void *loader(void *arg)
{
	return (void *)(long)dl_iterate_phdr(wait_in_loader, arg);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	go1 = argv[1];
	go2 = argv[2];
	int n = argc > 3 && !strcmp(argv[3], "threads") ? 4 : 1;
	if (argc > 3 && !strcmp(argv[3], "undumpable"))
		prctl(PR_SET_DUMPABLE, 0);
	pthread_t lt;
	bool in_dl = argc > 3 && !strcmp(argv[3], "loader");
	if (in_dl) {
		pthread_barrier_init(&in_loader, NULL, 2);
		pthread_create(&lt, NULL, loader, NULL);
		pthread_barrier_wait(&in_loader);
	}
	pthread_t t[4];
	pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
	pthread_barrier_init(&allocated, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, work, NULL);
	pthread_barrier_wait(&ready);
	printf("ready\n");
	fflush(stdout);
	pthread_barrier_wait(&allocated);
	printf("allocated\n");
	fflush(stdout);
	long total = 0;
	for (int i = 0; i < n; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (long)r;
	}
	if (in_dl)
		pthread_join(lt, NULL);
	printf("done %ld\n", total);
	return 3;
}
