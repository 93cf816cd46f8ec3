/* SPDX-License-Identifier: MIT */
/*
 * strtab: strings to dense indexes, by open addressing over str_hash. It
 * owns the index and the copies it makes, not the strings it is lent. It does
 * not know about profiles beyond keeping its strings in string_table order.
 */
#include "pprof/strtab.h"
#include "common.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

void *pp_grow(const pp_alloc_t *alloc, void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	size_t bytes;
	if (__builtin_mul_overflow(n, elem, &bytes))
		return NULL;
	void *q = alloc->realloc(p, bytes);
	if (q)
		*cap = n;
	return q;
}

void pp_strtab_init(pp_strtab_t *t, const pp_alloc_t *alloc)
{
	memset(t, 0, sizeof(*t));
	t->alloc = *alloc;
}

void pp_strtab_fini(pp_strtab_t *t)
{
	for (size_t i = 0; i < t->ncopies; i++)
		t->alloc.free(t->copies[i]);
	t->alloc.free(t->copies);
	t->alloc.free(t->s);
	t->alloc.free(t->slots);
	pp_strtab_init(t, &t->alloc);
}

/*
 * A string's hash, eight bytes a step: the names of C++ and Rust functions
 * run to hundreds of bytes, and a byte-at-a-time hash took 5 instructions a
 * byte (clang's exit profile: 40,000 instructions interning 107 strings).
 */
static uint64_t str_hash(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, sizeof(w));
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	for (w = 0; n; n--)
		w = w << 8 | (unsigned char)s[n - 1];
	return hp_mix64(h ^ w);
}

/* Doubles the slots (from 256) once they are half full. */
static int rehash(pp_strtab_t *t)
{
	if ((t->n + 1) * 2 <= t->nslots)
		return 0;
	size_t ns = t->nslots ? t->nslots * 2 : 256;
	uint32_t *slots = t->alloc.realloc(NULL, ns * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0, ns * sizeof(*slots));
	for (size_t i = 0; i < t->n; i++) {
		size_t j = str_hash(t->s[i]) & (ns - 1);
		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = (uint32_t)i + 1;
	}
	t->alloc.free(t->slots);
	t->slots = slots;
	t->nslots = ns;
	return 0;
}

/* The slot that holds s, or the empty one where it would go. */
static uint32_t *slot_of(const pp_strtab_t *t, const char *s)
{
	size_t j = str_hash(s) & (t->nslots - 1);
	while (t->slots[j] && strcmp(t->s[t->slots[j] - 1], s))
		j = (j + 1) & (t->nslots - 1);
	return &t->slots[j];
}

/* A copy of s that t frees in fini, or NULL. */
static char *copy_of(pp_strtab_t *t, const char *s)
{
	char **copies = pp_grow(&t->alloc, t->copies, &t->capcopies, t->ncopies + 1,
	                        sizeof(*t->copies));
	if (!copies)
		return NULL;
	t->copies = copies;
	size_t len = strlen(s) + 1;
	char *copy = t->alloc.realloc(NULL, len);
	if (copy) {
		memcpy(copy, s, len);
		t->copies[t->ncopies++] = copy;
	}
	return copy;
}

static int64_t intern(pp_strtab_t *t, const char *s, bool copy)
{
	if (rehash(t))
		return -ENOMEM;
	uint32_t *slot = slot_of(t, s);
	if (*slot)
		return *slot - 1;
	char **strs = pp_grow(&t->alloc, t->s, &t->cap, t->n + 1, sizeof(*t->s));
	if (!strs)
		return -ENOMEM;
	t->s = strs;
	if (copy && !(s = copy_of(t, s)))
		return -ENOMEM;
	t->s[t->n] = (char *)s;
	*slot = (uint32_t)++t->n;
	return (int64_t)t->n - 1;
}

int64_t pp_strtab_intern(pp_strtab_t *t, const char *s)
{
	return intern(t, s, false);
}

int64_t pp_strtab_intern_copy(pp_strtab_t *t, const char *s)
{
	return intern(t, s, true);
}
