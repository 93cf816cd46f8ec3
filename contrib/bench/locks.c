/* SPDX-License-Identifier: MIT */
/*
 * Lock calls for locks-bench.sh.
 *   locks uncontended N      N lock/unlock pairs of a mutex no other thread
 *                            takes (callgrind: the cost per pair)
 *   locks contended T N      T threads each take one mutex N times, a little
 *                            work inside and outside it (wall time)
 * Prints the wall time in ms.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static volatile uint64_t shared;
static long iterations;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* About a hundred nanoseconds of work that the compiler keeps. */
static uint64_t work(uint64_t x)
{
	for (int i = 0; i < 64; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

static void *contend(void *arg)
{
	uint64_t x = (uintptr_t)arg;
	for (long i = 0; i < iterations; i++) {
		pthread_mutex_lock(&m);
		shared = work(shared);
		pthread_mutex_unlock(&m);
		x = work(x);
	}
	return (void *)(uintptr_t)x;
}

int main(int argc, char **argv)
{
	uint64_t t0 = now_ns();
	if (argc == 3 && !strcmp(argv[1], "uncontended")) {
		long n = atol(argv[2]);
		for (long i = 0; i < n; i++) {
			pthread_mutex_lock(&m);
			pthread_mutex_unlock(&m);
		}
	} else if (argc == 4 && !strcmp(argv[1], "contended")) {
		int t = atoi(argv[2]);
		pthread_t th[64];
		iterations = atol(argv[3]);
		for (int i = 0; i < t && i < 64; i++)
			pthread_create(&th[i], NULL, contend, (void *)(uintptr_t)(i + 1));
		for (int i = 0; i < t && i < 64; i++)
			pthread_join(th[i], NULL);
	} else {
		fprintf(stderr,
		        "usage: locks uncontended N | locks contended THREADS N\n");
		return 2;
	}
	printf("%.1f\n", (double)(now_ns() - t0) / 1e6);
	return 0;
}
