/* SPDX-License-Identifier: MIT */
/*
 * stack_table: interns call stacks into buckets and keeps each bucket's
 * cumulative alloc and free counters. Buckets are immortal (alloc_* is
 * cumulative since start, which is what makes -base meaningful) and live in
 * the metadata arena. It does not know which blocks are live (live_map.c).
 */
#ifndef HP_STACK_TABLE_H
#define HP_STACK_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hp_bucket {
	/*
	 * The counters are per thread (stack_table.c's tallies, one per thread
	 * that sampled this stack, on this list), so that threads sampling the
	 * same stack write no common line; hp_stack_table_read sums them. The
	 * list is pushed to once per thread and bucket.
	 */
	struct hp_tally *_Atomic tallies;
	/*
	 * Only when a thread could get no tally (metadata exhausted): atomic
	 * adds, summed with the tallies. Same units as hp_counts_t.
	 */
	_Atomic uint64_t alloc_count, alloc_bytes, free_count, free_bytes;
	struct hp_bucket *all; /* the list of every bucket, newest first */
	/* Written once, before the bucket is published; read by lookups. */
	struct hp_bucket *_Atomic next; /* chain, read lock-free */
	uint64_t hash;
	uint32_t nframes;
	uint32_t truncated; /* the real stack was deeper than nframes */
	uintptr_t frames[]; /* return addresses, leaf first */
} hp_bucket_t;

/*
 * Returns the bucket for this stack, creating it if needed; NULL when the
 * metadata arena is exhausted. Lock-free when the stack is already known.
 */
hp_bucket_t *hp_stack_table_intern(const uintptr_t *frames, unsigned n, bool truncated);

/*
 * Add a sample's weights (HP_W_ONE objects, bytes) to the calling thread's
 * tally of b: plain stores to memory no other thread writes. The thread's
 * first call takes a slab of tallies (a short lock), returned at its exit;
 * its first call for b creates the tally. Called with or without the guard.
 */
void hp_stack_table_add_alloc(hp_bucket_t *b, uint64_t count_w, uint64_t bytes_w);
void hp_stack_table_add_free(hp_bucket_t *b, uint64_t count_w, uint64_t bytes_w);

/*
 * A consistent reading of one bucket: every thread's frees are read before
 * any thread's allocs, so a free is never counted without its allocation
 * (inuse never goes negative). Lock-free; safe while other threads allocate.
 */
typedef struct {
	uint64_t alloc_count, alloc_bytes, free_count, free_bytes;
	/* The block and mutex kinds' (contention.c): events (HP_W_ONE units)
	 * and their delay (ns); 0 in a heap bucket's reading. */
	uint64_t contentions, delay;
} hp_counts_t;

/* c less base, tally by tally (a delta profile); and is every tally 0? */
void hp_stack_table_counts_sub(hp_counts_t *c, const hp_counts_t *base);
bool hp_stack_table_counts_zero(const hp_counts_t *c);

void hp_stack_table_read(const hp_bucket_t *b, hp_counts_t *out);

/* Allocations sampled since start, every thread's. */
uint64_t hp_stack_table_samples(void);

/* A bucket's counters at one moment: an entry of a snapshot. */
typedef struct {
	const hp_bucket_t *bucket;
	hp_counts_t counts;
} hp_stack_table_snap_t;

/*
 * Every bucket's counters now, sorted by bucket address (the base of a delta
 * profile, ?seconds=N): *out gets the array, from the backing allocator,
 * released with hp_stack_table_snapshot_free; *n its length. Read lock-free,
 * as a profile reads them. Returns 0 or -ENOMEM (then *out is NULL).
 */
int hp_stack_table_snapshot(hp_stack_table_snap_t **out, size_t *n);
/* The same for another source of buckets and counters (a kind's, kinds.h). */
int hp_stack_table_snapshot_of(void (*foreach)(void (*)(const hp_bucket_t *, void *),
                                               void *),
                               void (*read)(const hp_bucket_t *, hp_counts_t *),
                               hp_stack_table_snap_t **out, size_t *n);
void hp_stack_table_snapshot_free(hp_stack_table_snap_t *snap);

/* Calls fn for every bucket; safe while other threads allocate. */
void hp_stack_table_foreach(void (*fn)(const hp_bucket_t *b, void *arg), void *arg);

/* The bucket added last, NULL if none. */
const hp_bucket_t *hp_stack_table_newest(void);

/* The same for the buckets added since old (NULL: all of them), newest
 * first; returns the newest, the old of the next call. */
const hp_bucket_t *hp_stack_table_foreach_since(const hp_bucket_t *old,
                                                void (*fn)(const hp_bucket_t *, void *),
                                                void *arg);
size_t hp_stack_table_size(void);

void hp_stack_table_prefork(void);
void hp_stack_table_postfork_parent(void);
void hp_stack_table_postfork_child(void);

#endif
