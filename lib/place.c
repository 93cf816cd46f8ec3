/* SPDX-License-Identifier: MIT */
/*
 * place: sampled blocks at page boundaries inside blocks of the backing
 * allocator (page mode, see interpose.h). Inside a larger block from glibc's
 * malloc rather than from glibc's memalign, which would place them too but
 * fragments the arenas: on the stress benchmark memalign raised peak RSS by
 * 1.6 MiB at 1 thread, 4.3 at 2 and 10.5 at 8; malloc of n + 4 KiB by none.
 * It does not decide what is sampled nor keep records (interpose.c).
 */
#include "interpose.h"
#include "backing.h"

#include <errno.h>
#include <string.h>

typedef struct {
	uintptr_t check; /* key ^ the placed address: a placed block */
	uintptr_t base;  /* the backing allocator's block */
} place_hdr_t;

uint8_t hp_page_mode, hp_every_block;
static uintptr_t key; /* 0: nothing was ever placed */

void hp_interpose_init(uint64_t rate)
{
	hp_every_block = rate == 1;
	if (rate < HP_PAGE_MODE_RATE || !hp_real.malloc_is_libc || hp_backing_global)
		return;
	key = hp_mix64((uintptr_t)&key ^ hp_now_ns()) | 1;
	hp_page_mode = 1;
}

/* Marks p, inside base, as a placed block. */
static void *place_at(void *base, void *p)
{
	place_hdr_t *h = (place_hdr_t *)p - 1;
	h->check = key ^ (uintptr_t)p;
	h->base = (uintptr_t)base;
	return p;
}

/* The first address at alignment al inside base with room for a header. */
static void *first_slot(void *base, size_t al)
{
	return (void *)(((uintptr_t)base + sizeof(place_hdr_t) + al - 1) &
	                ~(uintptr_t)(al - 1));
}

static void *place(void *base, size_t al)
{
	return base ? place_at(base, first_slot(base, al)) : NULL;
}

/* Bytes to ask for to place n at al; 0 when that overflows. */
static size_t room(size_t n, size_t al)
{
	size_t t;
	return __builtin_add_overflow(n, al + sizeof(place_hdr_t), &t) ? 0 : t;
}

void *hp_place_malloc(size_t n, size_t al)
{
	size_t t = room(n, al);
	return t ? place(hp_real.malloc(t), al) : (errno = ENOMEM, NULL);
}

void *hp_place_calloc(size_t n)
{
	size_t t = room(n, HP_PAGE);
	return t ? place(hp_real.calloc(1, t), HP_PAGE) : (errno = ENOMEM, NULL);
}

void *hp_placed_base(const void *p)
{
	if (!key)
		return NULL;
	const place_hdr_t *h = (const place_hdr_t *)p - 1;
	return h->check == (key ^ (uintptr_t)p) ? (void *)h->base : NULL;
}

void hp_place_free(void *p, void *base)
{
	/* A block later handed out at p must not look placed by what stays here. */
	((place_hdr_t *)p - 1)->check = 0;
	hp_real.free(base);
}

size_t hp_placed_usable(const void *p, void *base)
{
	return hp_real.malloc_usable_size(base) -
	       (size_t)((uintptr_t)p - (uintptr_t)base);
}

/*
 * Resizes the placed block p (in base) to n bytes by the backing allocator's
 * realloc of base, which grows in place or moves a large block's pages
 * (mremap) without copying them; p's offset in base moves with it. The
 * result is placed again: at the same offset if that is still a page
 * boundary (in place, or whole pages moved), else at the first one, the
 * contents moved there. A buffer grown by realloc is sampled at nearly
 * every step once it is large; a copy at each cost python3's json 113 M
 * instructions.
 */
static void *resize_placed(void *p, void *base, size_t n)
{
	place_hdr_t *h = (place_hdr_t *)p - 1;
	size_t off = (uintptr_t)p - (uintptr_t)base, old = hp_placed_usable(p, base);
	size_t lead =
	    off > HP_PAGE + sizeof(place_hdr_t) ? off : HP_PAGE + sizeof(place_hdr_t);
	size_t t;
	if (__builtin_add_overflow(n, lead, &t)) {
		errno = ENOMEM;
		return NULL;
	}
	/* Where the old block stays behind, it must not look placed. */
	h->check = 0;
	char *nb = hp_real.realloc(base, t);
	if (!nb) {
		h->check = key ^ (uintptr_t)p; /* p is intact and still placed */
		return NULL;
	}
	char *q = nb + off;
	if ((uintptr_t)q & (HP_PAGE - 1)) {
		char *r = first_slot(nb, HP_PAGE);
		memmove(r, q, old < n ? old : n);
		return place_at(nb, r);
	}
	return place_at(nb, q);
}

void *hp_place_realloc(void *p, size_t n, bool place_new)
{
	void *base = hp_at_page(p) ? hp_placed_base(p) : NULL;
	if (!base && !place_new)
		return hp_real.realloc(p, n);
	if (base && n == 0) { /* glibc's realloc(p, 0) frees p */
		hp_place_free(p, base);
		return NULL;
	}
	/* A placed block stays placed, sampled or not (free looks it up). */
	if (base)
		return resize_placed(p, base, n);
	void *q = hp_place_malloc(n, HP_PAGE);
	if (!q || !p)
		return q; /* on failure p is left as it was */
	size_t old = hp_real.malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	hp_real.free(p);
	return q;
}
