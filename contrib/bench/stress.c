/* SPDX-License-Identifier: MIT */
/*
 * stress: a malloc-bound workload. Each of THREADS threads keeps LIVE blocks
 * live in a ring and, ITERS times, frees one at random and allocates a new
 * one. Sizes: 80% uniform in 8..255 bytes, 19% log-uniform in 256 B..4 KiB,
 * 1% log-uniform in 4..256 KiB (mean about 1 KB, so one sample per ~500
 * allocations at the default rate). Prints the throughput.
 * usage: stress THREADS ITERS [LIVE]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long iters;
static int live = 1500;

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Log-uniform in [lo, hi): lo * (hi/lo)^u, from a table-free power of two. */
static size_t log_uniform(uint64_t *s, unsigned lg_lo, unsigned lg_hi)
{
	unsigned e = lg_lo + (unsigned)(next(s) % (lg_hi - lg_lo));
	size_t base = (size_t)1 << e;
	return base + next(s) % base; /* uniform within each power of two */
}

static size_t pick_size(uint64_t *s)
{
	uint64_t r = next(s) % 100;
	if (r < 80)
		return 8 + next(s) % 248;
	if (r < 99)
		return log_uniform(s, 8, 12);
	return log_uniform(s, 12, 18);
}

static void *worker(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
	char **ring = calloc((size_t)live, sizeof(*ring));
	for (int i = 0; i < live; i++)
		ring[i] = malloc(pick_size(&s));
	for (long i = 0; i < iters; i++) {
		size_t k = next(&s) % (uint64_t)live;
		free(ring[k]);
		ring[k] = malloc(pick_size(&s));
		ring[k][0] = (char)i;
	}
	for (int i = 0; i < live; i++)
		free(ring[i]);
	free(ring);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: stress THREADS ITERS [LIVE]\n");
		return 2;
	}
	int threads = atoi(argv[1]);
	iters = atol(argv[2]);
	if (argc > 3)
		live = atoi(argv[3]);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pthread_t t[256];
	for (int i = 0; i < threads && i < 256; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	for (int i = 0; i < threads && i < 256; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("threads %d ops %ld seconds %.3f ops_per_s %.0f\n", threads, threads * iters, s,
	       threads * iters / s);
	return 0;
}
