/* SPDX-License-Identifier: MIT */
/*
 * scratch: each block carries a 16-byte header with its size and where it
 * came from; large blocks are whole mappings, grown with mremap; while the
 * reserve is open, a block the heap or mmap refuses comes from it.
 */
#include "scratch.h"
#include "backing.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#define LARGE 1024 /* glibc's large bins start here: no small block is as big */

typedef struct {
	size_t size;   /* bytes the caller asked for */
	size_t mapped; /* bytes of the mapping, header included; 0: from the heap;
	                  FROM_RESERVE: from the reserve */
} head_t;
#define FROM_RESERVE 1

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
	void *p = mmap(NULL, pages(len), PROT_READ | PROT_WRITE,
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

/* A new zeroed block of size bytes. */
static void *alloc(size_t size)
{
	size_t total = sizeof(head_t) + size;
	if (total < size)
		return NULL;
	head_t *h;
	if (size < LARGE) {
		if ((h = hp_real.malloc(total)))
			memset(h, 0, total);
	} else {
		h = mmap(NULL, pages(total), PROT_READ | PROT_WRITE,
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
	if (h->mapped)
		munmap(h, h->mapped);
	else
		hp_real.free(h);
}

void *hp_scratch_realloc(void *p, size_t size)
{
	if (!p)
		return alloc(size);
	head_t *h = (head_t *)p - 1;
	size_t total = sizeof(head_t) + size;
	if (h->mapped > FROM_RESERVE && size >= LARGE && total > size) {
		/* Grows or shrinks in place or moves: no copy of ours. */
		head_t *n = mremap(h, h->mapped, pages(total), MREMAP_MAYMOVE);
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
