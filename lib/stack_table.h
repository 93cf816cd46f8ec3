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
	 * Written by every sample of the stack, from any thread: the first cache
	 * line holds these alone, so that other threads' lookups (which read the
	 * line after it) do not miss on each add. Buckets are line aligned.
	 */
	_Atomic uint64_t alloc_count; /* objects, HP_W_ONE fixed point, unbiased */
	_Atomic uint64_t alloc_bytes; /* bytes, unbiased */
	_Atomic uint64_t free_count;
	_Atomic uint64_t free_bytes;
	struct hp_bucket *all; /* the list of every bucket, newest first */
	/* Written once, before the bucket is published; read by lookups. */
	struct hp_bucket *_Atomic next
	    __attribute__((aligned(64))); /* chain, read lock-free */
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

void hp_stack_table_add_alloc(hp_bucket_t *b, uint64_t count_w, uint64_t bytes_w);
void hp_stack_table_add_free(hp_bucket_t *b, uint64_t count_w, uint64_t bytes_w);

/*
 * A consistent reading of one bucket: frees are read before allocs, so a
 * free is never counted without its allocation (inuse never goes negative).
 */
typedef struct {
	uint64_t alloc_count, alloc_bytes, free_count, free_bytes;
} hp_counts_t;

void hp_stack_table_read(const hp_bucket_t *b, hp_counts_t *out);

/* Calls fn for every bucket; safe while other threads allocate. */
void hp_stack_table_foreach(void (*fn)(const hp_bucket_t *b, void *arg), void *arg);
size_t hp_stack_table_size(void);

void hp_stack_table_prefork(void);
void hp_stack_table_postfork_parent(void);
void hp_stack_table_postfork_child(void);

#endif
