/* SPDX-License-Identifier: MIT */
/*
 * live_map: the sampled blocks still allocated, address -> {bucket, size},
 * so that a free subtracts exactly what the allocation added. It
 * does not decide what to sample (sampler.c) nor store stacks (stack_table.c).
 *
 * The cheap negative check is a counting filter: one byte per 16-byte granule
 * of address space, modulo HP_FILTER_SPAN, holding how many live sampled
 * blocks start in a granule congruent to it. Every free reads its byte; zero
 * means "certainly not sampled" and the map is skipped without a lock or a
 * write. A nonzero byte sends the free to the map, which answers exactly.
 * Sampled blocks are ordinary blocks of the next allocator, placed wherever
 * it puts them.
 */
#ifndef HP_LIVE_MAP_H
#define HP_LIVE_MAP_H

#include "common.h"
#include "stack_table.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * 2^18 bytes of filter, a byte per 64-byte line, cover 16 MiB of address
 * space before they wrap. A byte per line, not per 16-byte granule: the
 * blocks of one line share a count, and the filter's footprint in the cache
 * over a heap is a quarter (on a Larson-shaped run in callgrind's cache
 * model, 25.0 estimated cycles per free over the bare forwarder instead of
 * 37.9). Used where blocks are not placed (interpose.h).
 */
#define HP_FILTER_LG       18
#define HP_FILTER_GRAIN_LG 6
#define HP_FILTER_SPAN     ((uintptr_t)1 << (HP_FILTER_LG + HP_FILTER_GRAIN_LG))
#define HP_FILTER_STUCK    255 /* a count that reached this stays: never ruled out */

/*
 * A sampled block's record (kept packed in 16 bytes, live_map.c). The
 * weights are not stored: they are a function of the size and the rate
 * (hp_sampler_weights), so a free recomputes exactly what the allocation
 * added. bucket must be a 64-byte line of the metadata arena.
 */
typedef struct {
	uintptr_t addr;
	hp_bucket_t *bucket;
	uint64_t size;  /* requested bytes */
	uint64_t stamp; /* HEAPPROF_LIFETIMES: when and by whom (lifetimes.h), else 0 */
} hp_live_t;

/* In BSS: pages no sampled block ever mapped to stay unallocated. */
extern HP_HIDDEN uint8_t hp_live_filter[1u << HP_FILTER_LG];

static inline size_t hp_live_filter_index(const void *p)
{
	return ((uintptr_t)p >> HP_FILTER_GRAIN_LG) & ((1u << HP_FILTER_LG) - 1);
}

/*
 * False: p is certainly not in the map. Inlined into every free. A plain byte
 * read, not an atomic one, to save the compiler's extra test: the byte cannot
 * tear, and a concurrent change to it comes from another block sharing it,
 * which leaves it nonzero whenever p itself is counted.
 */
static inline bool hp_live_map_maybe_contains(const void *p)
{
	return hp_live_filter[hp_live_filter_index(p)] != 0;
}

/*
 * With every block sampled (HEAPPROF_RATE=1) every free is looked up anyway:
 * the filter is set to "maybe" everywhere and no longer counted, which saves
 * two cache misses per allocation and free. stamped: records keep their
 * stamp (HEAPPROF_LIFETIMES), 8 bytes more each. Called once, before sampling.
 */
void hp_live_map_init(bool every_block_sampled, bool stamped);

/* Makes p's granule answer "maybe" for good (the bootstrap pool's blocks). */
void hp_live_map_pin(const void *p);

/* Returns 0, or -ENOMEM when the metadata arena is exhausted. */
int hp_live_map_insert(const hp_live_t *rec);

/* Removes addr and copies its record to *out; false if addr was not sampled. */
bool hp_live_map_remove(uintptr_t addr, hp_live_t *out);

size_t hp_live_map_size(void);

/*
 * Calls fn for every record, one shard at a time under its lock: fn must
 * not allocate through the interposed malloc nor touch the live map. For
 * the censored blocks of a lifetimes profile; call with the guard set.
 */
void hp_live_map_foreach(void (*fn)(const hp_live_t *rec, void *arg), void *arg);

void hp_live_map_prefork(void);
void hp_live_map_postfork_parent(void);
void hp_live_map_postfork_child(void);

#endif
