/* SPDX-License-Identifier: MIT */
/*
 * live_map: the sampled blocks still allocated, address -> {bucket, size,
 * weights}, so that a free subtracts exactly what the allocation added. It
 * does not decide what to sample (sampler.c) nor store stacks (stack_table.c).
 *
 * The cheap negative check: when sampled blocks are page aligned (rates of
 * 64 KiB and more, see interpose.c), a pointer with any of its low 12 bits set
 * cannot be a sampled block, and free skips the map without touching shared
 * memory beyond one read-mostly global.
 */
#ifndef HP_LIVE_MAP_H
#define HP_LIVE_MAP_H

#include "common.h"
#include "stack_table.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define HP_SAMPLE_ALIGN 4096

enum {
	HP_LIVE_CXX_ALIGNED =
	    1,             /* allocated by our operator new with an alignment we chose */
	HP_LIVE_ARRAY = 2, /* ... through operator new[] */
};

typedef struct {
	uintptr_t addr;
	hp_bucket_t *bucket;
	uint64_t size;    /* requested bytes */
	uint64_t count_w; /* the weights added to the bucket, subtracted verbatim */
	uint64_t bytes_w;
	uint32_t flags; /* HP_LIVE_* */
	uint32_t align; /* alignment passed to the backing allocator, if CXX_ALIGNED */
} hp_live_t;

/*
 * Pointers p with (p & hp_live_mask) != 0 are certainly not in the map. The
 * mask is HP_SAMPLE_ALIGN - 1 while every live sampled block is page aligned,
 * and 0 otherwise (low rates, or a sampled block that could not be aligned).
 */
extern HP_HIDDEN uintptr_t hp_live_mask; /* read with relaxed atomics; see live_map.c */

static inline bool hp_live_map_maybe_contains(const void *p)
{
	return ((uintptr_t)p & __atomic_load_n(&hp_live_mask, __ATOMIC_RELAXED)) == 0;
}

/* Whether sampled blocks are page aligned; set once at start-up. */
void hp_live_map_init(bool aligned_samples);
bool hp_live_map_aligned(void);

/* Returns 0, or -ENOMEM when the metadata arena is exhausted. */
int hp_live_map_insert(const hp_live_t *rec);

/* Removes addr and copies its record to *out; false if addr was not sampled. */
bool hp_live_map_remove(uintptr_t addr, hp_live_t *out);

size_t hp_live_map_size(void);

void hp_live_map_prefork(void);
void hp_live_map_postfork_parent(void);
void hp_live_map_postfork_child(void);

#endif
