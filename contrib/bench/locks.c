/* SPDX-License-Identifier: MIT */
/*
 * Lock calls for locks-bench.sh.
 *   locks uncontended N        N lock/unlock pairs of a mutex no other
 *                              thread takes (callgrind: the cost per pair)
 *   locks mutex T N WORK       T threads each take one mutex N times, WORK
 *                              steps of work inside it and as many outside
 *   locks rwlock T N WORK      the same on one rwlock, one take in 8 a write
 *                              lock, the others read locks
 * A step of work is one dependent multiply-add, about 2 ns on this 2.1 GHz
 * machine: 50 steps are about 100 ns, 500 about 1 us. Prints the wall time
 * in ms.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static volatile uint64_t shared;
static long iterations;
static int steps;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* steps dependent multiply-adds that the compiler keeps. */
static uint64_t work(uint64_t x)
{
	for (int i = 0; i < steps; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

static void *on_mutex(void *arg)
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

static void *on_rwlock(void *arg)
{
	uint64_t x = (uintptr_t)arg;
	for (long i = 0; i < iterations; i++) {
		if (i % 8 == 0) {
			pthread_rwlock_wrlock(&rw);
			shared = work(shared);
		} else {
			pthread_rwlock_rdlock(&rw);
			x ^= work(shared);
		}
		pthread_rwlock_unlock(&rw);
		x = work(x);
	}
	return (void *)(uintptr_t)x;
}

static void run(void *(*fn)(void *), int t)
{
	pthread_t th[64];
	for (int i = 0; i < t && i < 64; i++)
		pthread_create(&th[i], NULL, fn, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < t && i < 64; i++)
		pthread_join(th[i], NULL);
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
	} else if (argc == 5 &&
	           (!strcmp(argv[1], "mutex") || !strcmp(argv[1], "rwlock"))) {
		iterations = atol(argv[3]);
		steps = atoi(argv[4]);
		run(argv[1][0] == 'm' ? on_mutex : on_rwlock, atoi(argv[2]));
	} else {
		fprintf(stderr, "usage: locks uncontended N | locks mutex|rwlock "
		                "THREADS N WORK\n");
		return 2;
	}
	printf("%.1f\n", (double)(now_ns() - t0) / 1e6);
	return 0;
}
