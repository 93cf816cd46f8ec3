/* SPDX-License-Identifier: MIT */
/*
 * larson_shape: the allocation pattern of Larson's server benchmark (as in
 * mimalloc-bench's larson), with a fixed amount of work instead of a fixed
 * time, so that callgrind's counts repeat exactly and compare across
 * configurations (contrib/bench/free-path.sh).
 *
 * THREADS slots each own an array of CHUNKS blocks of uniform random size in
 * [MIN, MAX). The main thread allocates them all, shuffles them across the
 * slots and churns them (Larson's warm-up). Then GENERATIONS times, THREADS
 * threads run at once; thread i of generation g takes slot (i + g) % THREADS
 * and OPS times frees a random block of it and allocates a new one in its
 * place (writing its first two bytes). So most blocks a thread frees were
 * allocated by another thread, and every generation starts new threads, as
 * Larson's threads exit and are replaced. With the defaults the working set
 * is 2 x 20000 blocks of 504 B on average: 20 MB, larger than the caches.
 *
 * usage: larson_shape [THREADS [CHUNKS [OPS [GENERATIONS [MIN [MAX [SEED]]]]]]]
 *        (defaults 2 20000 250000 4 8 1000 4141)
 * Prints "allocs A frees F" (the counts of malloc and free it made).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
	char **blocks;
	long chunks, ops;
	uint64_t rng;
	long allocs, frees;
} slot_t;

static long min_size = 8, max_size = 1000;

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static size_t draw_size(uint64_t *rng)
{
	return (size_t)(min_size + (long)(next(rng) % (uint64_t)(max_size - min_size)));
}

static void *work(void *arg)
{
	slot_t *s = arg;
	for (long i = 0; i < s->ops; i++) {
		long v = (long)(next(&s->rng) % (uint64_t)s->chunks);
		free(s->blocks[v]);
		size_t n = draw_size(&s->rng);
		volatile char *p = malloc(n);
		if (!p) {
			perror("malloc");
			exit(1);
		}
		p[0] = 'a';
		p[1] = 'b';
		s->blocks[v] = (char *)p;
	}
	s->allocs += s->ops;
	s->frees += s->ops;
	return NULL;
}

static long arg(int argc, char **argv, int i, long def)
{
	if (argc <= i)
		return def;
	char *end;
	long v = strtol(argv[i], &end, 10);
	if (*end || v < 0) {
		fprintf(stderr, "larson_shape: bad argument %s\n", argv[i]);
		fprintf(stderr, "usage: larson_shape [THREADS [CHUNKS [OPS [GENERATIONS [MIN [MAX [SEED]]]]]]]\n");
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long threads = arg(argc, argv, 1, 2), chunks = arg(argc, argv, 2, 20000);
	long ops = arg(argc, argv, 3, 250000), gens = arg(argc, argv, 4, 4);
	min_size = arg(argc, argv, 5, 8);
	max_size = arg(argc, argv, 6, 1000);
	uint64_t seed = (uint64_t)arg(argc, argv, 7, 4141) * 0x9e3779b97f4a7c15ull | 1;
	if (threads < 1 || chunks < 1 || max_size <= min_size || min_size < 2) {
		fprintf(stderr, "larson_shape: need THREADS >= 1, CHUNKS >= 1, 2 <= MIN < MAX\n");
		return 2;
	}
	long total = threads * chunks, allocs = 0, frees = 0;
	char **all = malloc((size_t)total * sizeof *all);
	slot_t *slots = calloc((size_t)threads, sizeof *slots);
	pthread_t *tids = malloc((size_t)threads * sizeof *tids);
	if (!all || !slots || !tids)
		return 1;
	/* Larson's warm-up: allocate, shuffle, churn 4x. */
	for (long i = 0; i < total; i++)
		all[i] = malloc(draw_size(&seed));
	allocs += total;
	for (long i = total; i > 1; i--) {
		long v = (long)(next(&seed) % (uint64_t)i);
		char *t = all[v];
		all[v] = all[i - 1];
		all[i - 1] = t;
	}
	for (long i = 0; i < 4 * total; i++) {
		long v = (long)(next(&seed) % (uint64_t)total);
		free(all[v]);
		all[v] = malloc(draw_size(&seed));
	}
	allocs += 4 * total;
	frees += 4 * total;
	for (long t = 0; t < threads; t++) {
		slots[t].blocks = all + t * chunks;
		slots[t].chunks = chunks;
		slots[t].ops = ops;
		slots[t].rng = next(&seed) | 1;
	}
	for (long g = 0; g < gens; g++) {
		for (long i = 0; i < threads; i++)
			if (pthread_create(&tids[i], NULL, work, &slots[(i + g) % threads])) {
				perror("pthread_create");
				return 1;
			}
		for (long i = 0; i < threads; i++)
			pthread_join(tids[i], NULL);
	}
	for (long t = 0; t < threads; t++) {
		allocs += slots[t].allocs;
		frees += slots[t].frees;
	}
	for (long i = 0; i < total; i++)
		free(all[i]);
	frees += total;
	printf("allocs %ld frees %ld\n", allocs, frees);
	free(all);
	free(slots);
	free(tids);
	return 0;
}
