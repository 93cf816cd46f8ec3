/* SPDX-License-Identifier: MIT */
/*
 * scratch: the memory a dump uses and gives back (the writer, its tables,
 * zlib's state, symbol tables). Blocks of 1 KiB and more come from mmap, so
 * a dump never asks the program's heap for a large block: glibc answers the
 * first one by consolidating every small block the program freed, which cost
 * xmllint's exit profile 60 million instructions. Smaller blocks come from
 * the backing allocator. Long-lived metadata is meta_alloc's, not this.
 */
#ifndef HP_SCRATCH_H
#define HP_SCRATCH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * realloc's contract, over this file's blocks only: p NULL allocates
 * (zeroed memory), NULL is returned (p untouched) when memory runs out.
 * Thread-safe; never calls the interposed malloc.
 */
void *hp_scratch_realloc(void *p, size_t size);
void hp_scratch_free(void *p);

/*
 * The reserve, for a profile written when memory has run out (limit.c's oom
 * profile): len bytes mapped now, at start-up, so that the address space
 * and commit charge are the process's already. While it is open, a block
 * the heap or mmap refuses is cut from it; its blocks are never reused.
 * hp_scratch_reserve returns 0 or -1.
 */
int hp_scratch_reserve(size_t len);
void hp_scratch_reserve_open(bool open);

#endif
