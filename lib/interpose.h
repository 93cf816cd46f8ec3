/* SPDX-License-Identifier: MIT */
/*
 * interpose: the malloc family and the C++ operators (interpose.c), and
 * where sampled blocks are placed in page mode (place.c).
 *
 * Page mode: with glibc's malloc behind us and a rate of at least
 * HP_PAGE_MODE_RATE, each sampled block is placed at a page boundary inside
 * a block of n + HP_PAGE + 16 bytes from glibc's malloc, with a header (a
 * check word and that block's address) in the 16 bytes before it. free then
 * rules out every pointer not at a page boundary by its low bits, reading no
 * memory; one at a page boundary is a placed block iff its check word is the
 * process's random key XOR its address.
 */
#ifndef HP_INTERPOSE_H
#define HP_INTERPOSE_H

#include "common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_PAGE           4096
#define HP_PAGE_MODE_RATE 65536 /* a page per sample costs at most 6% there */

/* Nonzero: every sampled block is placed (it only ever turns off). */
extern HP_HIDDEN uint8_t hp_page_mode;

/* Nonzero at HEAPPROF_RATE=1: every block may be a sampled one, no filter. */
extern HP_HIDDEN uint8_t hp_every_block;

/* Chooses how free recognises sampled blocks; before sampling starts. */
void hp_interpose_init(uint64_t rate);

/*
 * Finds the C++ operators now, at start-up, before the program's threads,
 * where a C++ runtime is loaded: at a first operator call a thread's dlsym
 * would wait for the loader's lock, held by another thread's dlopen.
 */
void hp_interpose_find_operators(void);

/* Is p at a page boundary and not NULL: the only pointers placed blocks have. */
static inline bool hp_at_page(const void *p)
{
	return !((uintptr_t)p & (HP_PAGE - 1)) && p;
}

/* A block of n bytes placed at alignment al (a power of two >= HP_PAGE). */
void *hp_place_malloc(size_t n, size_t al);
void *hp_place_calloc(size_t n);

/*
 * The block of the backing allocator that p was placed in, or NULL when p is
 * not a placed block. p must be at a page boundary and not the bootstrap
 * pool's.
 */
void *hp_placed_base(const void *p);

/* Frees the placed block p, whose base hp_placed_base gave. */
void hp_place_free(void *p, void *base);

/* Bytes usable at p, a placed block in base. */
size_t hp_placed_usable(const void *p, void *base);

/*
 * realloc where p (a placed block, or any block) or the result (place_new)
 * is placed. A placed p stays placed, resized by the backing realloc (in
 * place or by moving pages where it can); an unplaced one is copied into a
 * new placed block and freed, as realloc does.
 */
void *hp_place_realloc(void *p, size_t n, bool place_new);

#endif
