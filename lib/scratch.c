/* SPDX-License-Identifier: MIT */
/*
 * scratch: each block carries a 16-byte header with its size and where it
 * came from; large blocks are whole mappings, grown with mremap.
 */
#include "scratch.h"
#include "backing.h"

#include <string.h>
#include <sys/mman.h>

#define LARGE 1024 /* glibc's large bins start here: no small block is as big */

typedef struct {
	size_t size;   /* bytes the caller asked for */
	size_t mapped; /* bytes of the mapping, header included; 0: from the heap */
} head_t;

static size_t pages(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* A new zeroed block of size bytes. */
static void *alloc(size_t size)
{
	size_t total = sizeof(head_t) + size;
	if (total < size)
		return NULL;
	head_t *h;
	if (size < LARGE) {
		if (!(h = hp_real.malloc(total)))
			return NULL;
		memset(h, 0, total);
	} else {
		h = mmap(NULL, pages(total), PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (h == MAP_FAILED)
			return NULL;
		h->mapped = pages(total);
	}
	h->size = size;
	return h + 1;
}

void hp_scratch_free(void *p)
{
	if (!p)
		return;
	head_t *h = (head_t *)p - 1;
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
	if (h->mapped && size >= LARGE && total > size) {
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
