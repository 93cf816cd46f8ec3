/* SPDX-License-Identifier: MIT */
/*
 * scratch: each block carries a 16-byte header with its size and where it
 * came from; small blocks come from size classes of our own, carved from
 * mappings of 64 KiB and kept on free lists, never from the program's heap
 * (where one request of ours can make glibc sort every chunk the program
 * freed: 60 million instructions in xmllint's exit profile); large blocks
 * are whole mappings, grown with mremap; while the reserve is open, a block
 * mmap refuses comes from it.
 */
#include "scratch.h"
#include "common.h"
#include "sys.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#define LARGE 1024 /* from here on, a block is a mapping of its own */

typedef struct {
	size_t size;   /* bytes the caller asked for */
	size_t mapped; /* bytes of the mapping, header included; 0: from the heap;
	                  FROM_RESERVE: from the reserve */
} head_t;
#define FROM_RESERVE 1
#define FROM_SMALL   2 /* + the size class: 2 to 8, below any mapping's size */
#define MAPPED(h)    ((h)->mapped >= 4096)

static size_t pages(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* The reserve (hp_scratch_reserve): handed out in order, never given back. */
static char *reserve;
static size_t reserve_len;
static atomic_size_t reserve_used;
static atomic_bool reserve_open;

int hp_scratch_reserve(size_t len)
{
	void *p = hp_sys_mmap(NULL, pages(len), PROT_READ | PROT_WRITE,
	                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	reserve = p;
	reserve_len = pages(len);
	return 0;
}

void hp_scratch_reserve_open(bool open)
{
	atomic_store(&reserve_open, open);
}

/* total bytes of the reserve, 16-aligned, or NULL when it is closed or used up. */
static head_t *from_reserve(size_t total)
{
	if (!reserve || !atomic_load(&reserve_open))
		return NULL;
	total = (total + 15) & ~(size_t)15;
	size_t at = atomic_fetch_add(&reserve_used, total);
	if (at > reserve_len || total > reserve_len - at)
		return NULL;
	head_t *h = (head_t *)(reserve + at); /* zero: never handed out before */
	h->mapped = FROM_RESERVE;
	return h;
}

/* Small blocks: classes of 32 to 2048 bytes, header included. */
#define CLASSES 7
#define CHUNK   (64u << 10)
static hp_lock_t small_lock;
static head_t *small_free[CLASSES]; /* a freed block's first word: the next */
static char *chunk;                 /* what is left of the last 64 KiB */
static size_t chunk_left;

static head_t *small_alloc(size_t total)
{
	unsigned c = 0;
	while ((32u << c) < total)
		c++;
	size_t sz = 32u << c;
	hp_lock(&small_lock);
	head_t *h = small_free[c];
	if (h) {
		small_free[c] = *(head_t **)h;
	} else {
		if (chunk_left < sz) {
			void *m = hp_sys_mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
			                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED) {
				hp_unlock(&small_lock);
				return NULL;
			}
			chunk = m;
			chunk_left = CHUNK;
		}
		h = (head_t *)chunk;
		chunk += sz;
		chunk_left -= sz;
	}
	hp_unlock(&small_lock);
	memset(h, 0, sz);
	h->mapped = FROM_SMALL + c;
	return h;
}

static void small_free_block(head_t *h)
{
	unsigned c = (unsigned)(h->mapped - FROM_SMALL);
	hp_lock(&small_lock);
	*(head_t **)h = small_free[c];
	small_free[c] = h;
	hp_unlock(&small_lock);
}

/* A new zeroed block of size bytes. */
static void *alloc(size_t size)
{
	size_t total = sizeof(head_t) + size;
	if (total < size)
		return NULL;
	head_t *h;
	if (size < LARGE) {
		h = small_alloc(total);
	} else {
		h = hp_sys_mmap(NULL, pages(total), PROT_READ | PROT_WRITE,
		                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (h != MAP_FAILED)
			h->mapped = pages(total);
		else
			h = NULL;
	}
	if (!h && !(h = from_reserve(total)))
		return NULL;
	h->size = size;
	return h + 1;
}

void hp_scratch_free(void *p)
{
	if (!p)
		return;
	head_t *h = (head_t *)p - 1;
	if (h->mapped == FROM_RESERVE)
		return;
	if (MAPPED(h))
		hp_sys_munmap(h, h->mapped);
	else
		small_free_block(h);
}

void *hp_scratch_realloc(void *p, size_t size)
{
	if (!p)
		return alloc(size);
	head_t *h = (head_t *)p - 1;
	size_t total = sizeof(head_t) + size;
	if (MAPPED(h) && size >= LARGE && total > size) {
		/* Grows or shrinks in place or moves: no copy of ours. */
		head_t *n = hp_sys_mremap(h, h->mapped, pages(total), MREMAP_MAYMOVE);
		if (n == MAP_FAILED)
			return NULL;
		n->mapped = pages(total);
		n->size = size;
		return n + 1;
	}
	void *q = alloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, h->size < size ? h->size : size);
	hp_scratch_free(p);
	return q;
}
