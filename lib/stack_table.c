/* SPDX-License-Identifier: MIT */
/*
 * stack_table: a fixed array of chain heads (2^17, in BSS so untouched heads
 * cost no memory) with 256 insert locks. Lookups walk the chain without a
 * lock; only creating a bucket takes the lock of its head, and counters are
 * plain atomic adds, so no application thread ever waits for the dumper.
 */
#include "stack_table.h"
#include "common.h"
#include "meta_alloc.h"

#include <stddef.h>
#include <string.h>

#define HEADS_LOG2 17
#define HEADS      (1u << HEADS_LOG2)
#define LOCKS      256

static hp_bucket_t *_Atomic heads[HEADS];
static hp_lock_t locks[LOCKS];
static atomic_size_t count;
/* Every bucket, so a dump visits the buckets, not all the heads (whose
 * untouched pages would otherwise become resident). */
static hp_bucket_t *_Atomic all;

static uint64_t hash_frames(const uintptr_t *f, unsigned n, bool truncated)
{
	uint64_t h = 0x243f6a8885a308d3ULL ^ n ^ ((uint64_t)truncated << 40);
	for (unsigned i = 0; i < n; i++)
		h = hp_mix64(h ^ f[i]);
	return h;
}

static hp_bucket_t *find(hp_bucket_t *b, uint64_t h, const uintptr_t *f, unsigned n,
                         bool truncated)
{
	for (; b; b = atomic_load_explicit(&b->next, memory_order_acquire))
		if (b->hash == h && b->nframes == n && b->truncated == truncated &&
		    !memcmp(b->frames, f, n * sizeof(*f)))
			return b;
	return NULL;
}

hp_bucket_t *hp_stack_table_intern(const uintptr_t *f, unsigned n, bool truncated)
{
	uint64_t h = hash_frames(f, n, truncated);
	hp_bucket_t *_Atomic *head = &heads[h >> (64 - HEADS_LOG2)];
	hp_bucket_t *b =
	    find(atomic_load_explicit(head, memory_order_acquire), h, f, n, truncated);
	if (b)
		return b;
	hp_lock_t *l = &locks[h & (LOCKS - 1)];
	hp_lock(l);
	hp_bucket_t *first = atomic_load_explicit(head, memory_order_relaxed);
	b = find(first, h, f, n, truncated); /* another thread may have won */
	if (!b) {
		b = hp_meta_alloc_lines(offsetof(hp_bucket_t, frames) +
		                        n * sizeof(*f)); /* not sizeof: it pads to 128 */
		if (b) {
			b->hash = h;
			b->nframes = n;
			b->truncated = truncated;
			memcpy(b->frames, f, n * sizeof(*f));
			atomic_store_explicit(&b->next, first, memory_order_relaxed);
			atomic_store_explicit(head, b, memory_order_release);
			b->all = atomic_load_explicit(&all, memory_order_relaxed);
			while (!atomic_compare_exchange_weak_explicit(
			    &all, &b->all, b, memory_order_release, memory_order_relaxed))
				;
			atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
		}
	}
	hp_unlock(l);
	return b;
}

void hp_stack_table_add_alloc(hp_bucket_t *b, uint64_t cw, uint64_t bw)
{
	atomic_fetch_add_explicit(&b->alloc_count, cw, memory_order_release);
	atomic_fetch_add_explicit(&b->alloc_bytes, bw, memory_order_release);
}

void hp_stack_table_add_free(hp_bucket_t *b, uint64_t cw, uint64_t bw)
{
	atomic_fetch_add_explicit(&b->free_count, cw, memory_order_release);
	atomic_fetch_add_explicit(&b->free_bytes, bw, memory_order_release);
}

void hp_stack_table_read(const hp_bucket_t *b, hp_counts_t *o)
{
	hp_bucket_t *m = (hp_bucket_t *)b;
	o->free_count = atomic_load_explicit(&m->free_count, memory_order_acquire);
	o->free_bytes = atomic_load_explicit(&m->free_bytes, memory_order_acquire);
	o->alloc_count = atomic_load_explicit(&m->alloc_count, memory_order_acquire);
	o->alloc_bytes = atomic_load_explicit(&m->alloc_bytes, memory_order_acquire);
	/* The order above already keeps free <= alloc; clamp in case of a bug elsewhere.
	 */
	if (o->free_count > o->alloc_count)
		o->free_count = o->alloc_count;
	if (o->free_bytes > o->alloc_bytes)
		o->free_bytes = o->alloc_bytes;
}

void hp_stack_table_foreach(void (*fn)(const hp_bucket_t *, void *), void *arg)
{
	for (hp_bucket_t *b = atomic_load_explicit(&all, memory_order_acquire); b;
	     b = b->all)
		fn(b, arg);
}

size_t hp_stack_table_size(void)
{
	return atomic_load_explicit(&count, memory_order_relaxed);
}

void hp_stack_table_prefork(void)
{
	for (unsigned i = 0; i < LOCKS; i++)
		hp_lock(&locks[i]);
}

void hp_stack_table_postfork_parent(void)
{
	for (unsigned i = LOCKS; i-- > 0;)
		hp_unlock(&locks[i]);
}

void hp_stack_table_postfork_child(void)
{
	for (unsigned i = 0; i < LOCKS; i++)
		hp_lock_reset(&locks[i]);
}
