/* SPDX-License-Identifier: MIT */
/* stack_table: interning dedups equal stacks, separates different ones, and
 * counters read back consistently: summed over threads, kept when threads
 * exit, and never a free without its allocation while threads count. */
#include "stack_table.h"
#include "tap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static size_t seen;
static void count(const hp_bucket_t *b, void *arg)
{
	(void)b;
	(void)arg;
	seen++;
}

#define WORKERS 8
#define ROUNDS  100000

static hp_bucket_t *shared[2];
static atomic_bool stop;

/* Allocs on one bucket, frees on the other: each thread owns its tallies. */
static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		hp_stack_table_add_alloc(shared[i & 1], 1 << 16, 16);
		hp_stack_table_add_free(shared[i & 1], 1 << 16, 16);
	}
	hp_stack_table_add_alloc(shared[0], 1 << 16, 100); /* one left live */
	return NULL;
}

/*
 * Each round one thread allocates two objects and the next, told through a
 * pipe, frees one of them. A reading taken meanwhile must never show more
 * than half as many frees as allocations: it would have counted a free
 * without its allocation (the clamp in the read hides only the extreme).
 */
static int pipe_fd[2];
static void *allocator(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		hp_stack_table_add_alloc(shared[1], 2 << 16, 16);
		char c = 0;
		if (write(pipe_fd[1], &c, 1) != 1)
			break;
	}
	close(pipe_fd[1]);
	return NULL;
}

static void *freer(void *arg)
{
	(void)arg;
	char c;
	while (read(pipe_fd[0], &c, 1) == 1)
		hp_stack_table_add_free(shared[1], 1 << 16, 8);
	atomic_store(&stop, true);
	return NULL;
}

static void test_threads(void)
{
	uintptr_t f0[] = {0x501000}, f1[] = {0x502000};
	shared[0] = hp_stack_table_intern(f0, 1, false);
	shared[1] = hp_stack_table_intern(f1, 1, false);
	/* Three generations of threads that exit: their counts stay. */
	for (int gen = 0; gen < 3; gen++) {
		pthread_t t[WORKERS];
		for (int i = 0; i < WORKERS; i++)
			pthread_create(&t[i], NULL, worker, NULL);
		for (int i = 0; i < WORKERS; i++)
			pthread_join(t[i], NULL);
	}
	hp_counts_t c;
	hp_stack_table_read(shared[0], &c);
	uint64_t n = 3 * WORKERS * (ROUNDS / 2 + 1);
	ok(c.alloc_count == n << 16 &&
	       c.alloc_bytes == 3 * WORKERS * (ROUNDS / 2 * 16 + 100) &&
	       c.free_count == (n - 3 * WORKERS) << 16,
	   "24 exited threads' counts summed exactly (%llu objects allocated)",
	   (unsigned long long)(c.alloc_count >> 16));

	hp_counts_t before;
	hp_stack_table_read(shared[1], &before);
	if (pipe(pipe_fd))
		return;
	pthread_t a, b;
	pthread_create(&a, NULL, allocator, NULL);
	pthread_create(&b, NULL, freer, NULL);
	int early = 0, reads = 0;
	while (!atomic_load(&stop)) {
		hp_stack_table_read(shared[1], &c);
		early += 2 * (c.free_count - before.free_count) >
		         c.alloc_count - before.alloc_count;
		reads++;
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	ok(!early, "no reading counts a free before its allocation (%d of %d did)", early,
	   reads);
	hp_stack_table_read(shared[1], &c);
	ok(c.alloc_count - before.alloc_count == (uint64_t)ROUNDS << 17 &&
	       c.free_count - before.free_count == (uint64_t)ROUNDS << 16,
	   "frees in one thread of another's allocations: all counted");
}

/*
 * Threads intern the same stacks, each in its own order, while the heads
 * grow (2^10 to 2^13 past 2,048 buckets, to 2^16 past 16,384): every thread
 * must get the one bucket of each stack, and no stack two.
 */
#define GROWERS 4
#define STACKS  100000
static hp_bucket_t *got[GROWERS][STACKS];

static void *grower(void *arg)
{
	size_t me = (size_t)arg;
	for (size_t k = 0; k < STACKS; k++) {
		static const size_t step[GROWERS] = {1, 3, 7, 9}; /* prime to STACKS */
		size_t i = (k * step[me] + me * 7919) % STACKS; /* an order of its own */
		uintptr_t f[3] = {0x7000000 + i, i * 13, 42};
		got[me][i] = hp_stack_table_intern(f, 3, false);
	}
	return NULL;
}

static void test_grow_threads(void)
{
	size_t before = hp_stack_table_size();
	pthread_t t[GROWERS];
	for (size_t i = 0; i < GROWERS; i++)
		pthread_create(&t[i], NULL, grower, (void *)i);
	for (size_t i = 0; i < GROWERS; i++)
		pthread_join(t[i], NULL);
	size_t differ = 0;
	for (size_t i = 0; i < STACKS; i++)
		for (size_t w = 1; w < GROWERS; w++)
			differ += !got[0][i] || got[w][i] != got[0][i];
	ok(!differ && hp_stack_table_size() - before == STACKS,
	   "%d threads interning %d stacks while the heads grow: one bucket each "
	   "(%zu added, %zu differ)",
	   GROWERS, STACKS, hp_stack_table_size() - before, differ);
}

int main(void)
{
	/* First, while the heads are few: stacks on one head come together. */
	test_grow_threads();
	size_t base = hp_stack_table_size();
	uintptr_t a[] = {0x401000, 0x402000, 0x403000};
	uintptr_t b[] = {0x401000, 0x402000, 0x403001};
	hp_bucket_t *x = hp_stack_table_intern(a, 3, false);
	hp_bucket_t *y = hp_stack_table_intern(a, 3, false);
	hp_bucket_t *z = hp_stack_table_intern(b, 3, false);
	hp_bucket_t *t = hp_stack_table_intern(a, 3, true);
	hp_bucket_t *s = hp_stack_table_intern(a, 2, false);
	ok(x && x == y, "same stack, same bucket");
	ok(z && z != x, "different frame, different bucket");
	ok(t && t != x, "truncated flag is part of the key");
	ok(s && s != x, "prefix is a different stack");
	ok(x->nframes == 3 && x->frames[2] == 0x403000, "frames stored leaf first");
	hp_stack_table_add_alloc(x, 3 << 16, 300);
	hp_stack_table_add_free(x, 1 << 16, 100);
	hp_counts_t c;
	hp_stack_table_read(x, &c);
	ok(c.alloc_count == 3 << 16 && c.alloc_bytes == 300 && c.free_count == 1 << 16 &&
	       c.free_bytes == 100,
	   "counters read back");
	for (uintptr_t i = 0; i < 50000; i++) {
		uintptr_t f[2] = {i, i * 7};
		hp_stack_table_intern(f, 2, false);
	}
	seen = 0;
	hp_stack_table_foreach(count, NULL);
	ok(seen == base + 50004 && hp_stack_table_size() == base + 50004,
	   "50,004 more buckets iterated (%zu)", seen - base);
	test_threads();
	return tap_done();
}
