/* SPDX-License-Identifier: MIT */
/*
 * meta_alloc: the private mmap arena for the profiler's own long-lived
 * metadata (stack buckets, live-map tables, module records). It never calls
 * the interposed malloc, so it is safe on the allocation slow path. It does
 * not hold per-dump scratch memory: that is scratch.c's.
 */
#ifndef HP_META_ALLOC_H
#define HP_META_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Returns zeroed memory aligned to 16 bytes, or NULL when the arena cannot
 * grow (mmap failed: address-space limit). Thread-safe.
 * Blocks of 4 KiB and more are rounded to a power of two and can be given
 * back with hp_meta_free for reuse; smaller blocks are immortal.
 */
void *hp_meta_alloc(size_t size);
/* The same, aligned to a 64-byte cache line (rounded up to whole lines). */
void *hp_meta_alloc_lines(size_t size);
void hp_meta_free(void *p, size_t size);

/* Refuse to map more than limit bytes in all (0 = no limit). */
void hp_meta_set_limit(size_t limit);

/* Did an allocation fail because of that limit (rather than mmap)? */
bool hp_meta_limit_hit(void);

void hp_meta_prefork(void);
void hp_meta_postfork_parent(void);
void hp_meta_postfork_child(void);

#endif
