/* SPDX-License-Identifier: MIT */
/*
 * tables: the command's lookups, entries by string key in the order they
 * were added (table_t, keys interned by lib/pprof/strtab.h), a profile
 * element's position by its id (id_index_t), and dense indexes of uint64
 * keys (ix64_t). What the entries hold is the caller's.
 */
#include "heapprof.h"
#include "common.h"

#include <stdlib.h>
#include <string.h>

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = ((const struct id_pos *)a)->id, y = ((const struct id_pos *)b)->id;
	return x < y ? -1 : x > y;
}

/* ids[i] is the id of element i. */
void idx_build(id_index_t *x, const uint64_t *ids, size_t n)
{
	memset(x, 0, sizeof(*x));
	x->n = n;
	for (size_t i = 0; i < n; i++)
		if (ids[i] > x->max)
			x->max = ids[i];
	if (x->max <= 4 * (uint64_t)n + 64) {
		x->dense = calloc(x->max + 1, sizeof(*x->dense));
		if (!x->dense)
			die("out of memory");
		for (size_t i = 0; i < n; i++)
			x->dense[ids[i]] = i + 1;
		return;
	}
	x->sorted = malloc((n ? n : 1) * sizeof(*x->sorted));
	if (!x->sorted)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		x->sorted[i] = (struct id_pos){ids[i], i};
	qsort(x->sorted, n, sizeof(*x->sorted), cmp_id);
}

/* Position of id, or SIZE_MAX. */
size_t idx_pos(const id_index_t *x, uint64_t id)
{
	if (x->dense)
		return id <= x->max && x->dense[id] ? x->dense[id] - 1 : SIZE_MAX;
	struct id_pos key = {id, 0},
	              *hit = bsearch(&key, x->sorted, x->n, sizeof(key), cmp_id);
	return hit ? hit->pos : SIZE_MAX;
}

void idx_free(id_index_t *x)
{
	free(x->dense);
	free(x->sorted);
}

static const pp_alloc_t libc_alloc = {realloc, free};

void table_init(table_t *t, size_t size)
{
	memset(t, 0, sizeof(*t));
	pp_strtab_init(&t->keys, &libc_alloc);
	t->size = size;
}

void *table_lookup(table_t *t, const char *key)
{
	int64_t i = pp_strtab_intern_copy(&t->keys, key);
	if (i < 0)
		die("out of memory");
	if ((size_t)i < t->n)
		return (char *)t->items + (size_t)i * t->size;
	void *items = pp_grow(&libc_alloc, t->items, &t->cap, t->n + 1, t->size);
	if (!items)
		die("out of memory");
	t->items = items;
	void *e = (char *)items + t->n++ * t->size;
	memset(e, 0, t->size);
	*(char **)e = t->keys.s[i];
	return e;
}

void *table_lookup2(table_t *t, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *key = malloc(la + lb + 2);
	if (!key)
		die("out of memory");
	memcpy(key, a, la);
	key[la] = '\n';
	memcpy(key + la + 1, b, lb + 1);
	void *e = table_lookup(t, key);
	free(key);
	return e;
}

void table_free(table_t *t)
{
	pp_strtab_fini(&t->keys);
	free(t->items);
}

void ix64_rebuild(ix64_t *m, const uint64_t *keys, size_t n, bool hashed)
{
	size_t ns = m->nslots ? m->nslots * 2 : 1024;
	uint32_t *s = calloc(ns, sizeof(*s));
	if (!s)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t h = (hashed ? keys[i] : hp_mix64(keys[i])) & (ns - 1);
		while (s[h])
			h = (h + 1) & (ns - 1);
		s[h] = (uint32_t)i + 1;
	}
	free(m->slots);
	m->slots = s;
	m->nslots = ns;
}

int64_t ix64_intern(ix64_t *m, uint64_t *keys, size_t *n, uint64_t key)
{
	if ((*n + 1) * 2 > m->nslots)
		ix64_rebuild(m, keys, *n, false);
	size_t mask = m->nslots - 1, h = hp_mix64(key) & mask;
	for (uint32_t i; (i = m->slots[h]); h = (h + 1) & mask)
		if (keys[i - 1] == key)
			return i - 1;
	if (*n >= UINT32_MAX - 1)
		return -1;
	keys[*n] = key;
	m->slots[h] = (uint32_t)(*n + 1);
	return (int64_t)(*n)++;
}

void ix64_free(ix64_t *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
