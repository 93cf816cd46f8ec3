/* SPDX-License-Identifier: MIT */
/*
 * prog_known: allocations whose totals are known exactly, one function each:
 *   keep_small  200,000 blocks of mixed sizes (8..4096 B), kept live
 *   keep_big    40 x 1 MiB, kept live
 *   churn       2 GiB in 4 KiB blocks, each freed at once
 * It prints "expect FUNC alloc_objects alloc_space inuse_objects inuse_space
 * sd_objects sd_space": the exact totals, and the standard deviation of
 * libheapprof's estimates at the rate in HEAPPROF_RATE (docs/sampling.md:
 * var = sum (1-p)/p objects, sum n^2 (1-p)/p bytes, p = 1 - exp(-n/R)).
 * With --snapshot it raises SIGUSR2 after keep_small and waits for the
 * snapshot file before going on, so -base shows keep_big and churn only.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMALL_N  200000
#define BIG_N    40
#define BIG_SIZE (1 << 20)
#define CHURN_N  (1 << 19) /* x 4 KiB = 2 GiB */

static void *small[SMALL_N], *big[BIG_N];
static double rate;

typedef struct {
	double objects, space, var_objects, var_space;
} expect_t;

static void account(expect_t *e, double n)
{
	e->objects += 1;
	e->space += n;
	if (rate > 1) {
		double p = -expm1(-n / rate);
		e->var_objects += (1 - p) / p;
		e->var_space += n * n * (1 - p) / p;
	}
}

static void print_expect(const char *fn, const expect_t *e, int live)
{
	printf("expect %s %.0f %.0f %.0f %.0f %.1f %.1f\n", fn, e->objects, e->space,
	       live ? e->objects : 0, live ? e->space : 0, sqrt(e->var_objects),
	       sqrt(e->var_space));
}

static size_t small_size(unsigned i)
{
	return 8 + (size_t)((i * 2654435761u) % 4089u);
}

__attribute__((noinline)) void keep_small(expect_t *e)
{
	for (unsigned i = 0; i < SMALL_N; i++) {
		size_t n = small_size(i);
		small[i] = malloc(n);
		memset(small[i], 1, n < 16 ? n : 16);
		account(e, (double)n);
	}
}

__attribute__((noinline)) void keep_big(expect_t *e)
{
	for (int i = 0; i < BIG_N; i++) {
		big[i] = malloc(BIG_SIZE);
		memset(big[i], 1, 64);
		account(e, BIG_SIZE);
	}
}

__attribute__((noinline)) void churn(expect_t *e)
{
	for (int i = 0; i < CHURN_N; i++) {
		volatile char *p = malloc(4096);
		p[0] = 1;
		free((void *)p);
		account(e, 4096);
	}
}

static int wait_for_snapshot(void)
{
	const char *prefix = getenv("HEAPPROF_OUTPUT");
	char path[4096];
	snprintf(path, sizeof(path), "%s.%d.0001.signal.pb.gz",
	         prefix ? prefix : "heapprof", (int)getpid());
	raise(SIGUSR2);
	for (int i = 0; i < 2000; i++) { /* 20 s */
		struct stat st;
		if (stat(path, &st) == 0)
			return 0;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "prog_known: no snapshot at %s\n", path);
	return 1;
}

int main(int argc, char **argv)
{
	const char *r = getenv("HEAPPROF_RATE");
	rate = r ? atof(r) : 524288;
	int snapshot = argc > 1 && !strcmp(argv[1], "--snapshot");
	expect_t s = {0}, b = {0}, c = {0};
	keep_small(&s);
	if (snapshot && wait_for_snapshot())
		return 1;
	keep_big(&b);
	churn(&c);
	print_expect("keep_small", &s, 1);
	print_expect("keep_big", &b, 1);
	print_expect("churn", &c, 0);
	return 0;
}
