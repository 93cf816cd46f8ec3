/* SPDX-License-Identifier: MIT */
/*
 * stacks: stacks of frame names as the reports need them (stacks_t): kept
 * and merged by name when a report prints stacks or values of both signs
 * meet, else only summed per function and per call as they arrive. Which
 * frames a stack has is profiles.c's; printing is the commands'.
 */
#include "heapprof.h"
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The buckets of the stacks merged for the total only (total_add). */
#define TOTAL_BITS    10
#define TOTAL_BUCKETS (1u << TOTAL_BITS)

static const pp_alloc_t libc_alloc = {realloc, free};

static void *grow_or_die(void *p, size_t *cap, size_t need, size_t elem)
{
	void *q = pp_grow(&libc_alloc, p, cap, need, elem);
	if (!q)
		die("out of memory");
	return q;
}

void stacks_init(stacks_t *t, bool keep)
{
	memset(t, 0, sizeof(*t));
	pp_strtab_init(&t->names, &libc_alloc);
	t->keep = keep;
	t->off = grow_or_die(NULL, &t->capoff, 1, sizeof(size_t));
	t->off[0] = 0;
}

void stacks_free(stacks_t *t)
{
	sums_t *s = &t->sums;
	pp_strtab_fini(&t->names);
	free(t->frames);
	free(t->off);
	free(t->value);
	free(t->hash);
	ix64_free(&t->index);
	free(s->flat);
	free(s->cum);
	free(s->live);
	free(s->stamp);
	ix64_free(&s->pix);
	for (size_t i = 0; t->tb && i < TOTAL_BUCKETS; i++)
		free(t->tb[i].h);
	free(t->tb);
	free(s->pairs);
	free(s->weight);
	free(s->pstamp);
	ix64_free(&t->ic.ix);
	free(t->ic.pairs);
	free(t->ic.weight);
	free(t->ic.ways);
	free(t->ic.stamp);
	memset(t, 0, sizeof(*t));
}

uint32_t stacks_name(stacks_t *t, const char *name)
{
	int64_t i = pp_strtab_intern_copy(&t->names, name);
	if (i < 0)
		die("out of memory");
	return (uint32_t)i;
}

/* ---- sums by function and by call ------------------------------------- */

/*
 * The index of the call pair a -> b among s's pairs, added if new. A stack
 * of 26 frames asks 25 times: a small cache by (a, b) answers most of them.
 */
static size_t pair_of(sums_t *s, uint32_t a, uint32_t b)
{
	uint64_t key = (uint64_t)a << 32 | b;
	size_t c = (a * 31u + b) & (PAIR_CACHE - 1);
	if (s->pcache[c] && s->pairs[s->pcache[c] - 1] == key)
		return s->pcache[c] - 1;
	size_t n = s->npairs;
	if (n == s->cappairs) { /* the three arrays share cappairs */
		size_t cw = n, cs = n;
		s->weight = grow_or_die(s->weight, &cw, n + 1, sizeof(double));
		s->pstamp = grow_or_die(s->pstamp, &cs, n + 1, sizeof(size_t));
		s->pairs = grow_or_die(s->pairs, &s->cappairs, n + 1, sizeof(uint64_t));
	}
	int64_t i = ix64_intern(&s->pix, s->pairs, &s->npairs, key);
	if (i < 0)
		die("out of memory");
	if (s->npairs != n) {
		s->weight[n] = 0;
		s->pstamp[n] = 0;
	}
	s->pcache[c] = (uint32_t)i + 1;
	return (size_t)i;
}

/* Room in s for every name of t. */
static void sums_fit(sums_t *s, size_t names)
{
	if (names <= s->cap)
		return;
	size_t old = s->cap, c = old, c2 = old, c3 = old;
	s->flat = grow_or_die(s->flat, &c, names, sizeof(double));
	s->cum = grow_or_die(s->cum, &c2, names, sizeof(double));
	s->live = grow_or_die(s->live, &c3, names, sizeof(bool));
	s->stamp = grow_or_die(s->stamp, &s->cap, names, sizeof(size_t));
	memset(s->flat + old, 0, (s->cap - old) * sizeof(double));
	memset(s->cum + old, 0, (s->cap - old) * sizeof(double));
	memset(s->live + old, 0, (s->cap - old) * sizeof(bool));
	memset(s->stamp + old, 0, (s->cap - old) * sizeof(size_t));
}

/*
 * Adds a stack (names root first) of value v: to its leaf's flat, once to
 * the cum of each function on it, once to each distinct call on it.
 */
static void sums_add(sums_t *s, size_t nnames, const uint32_t *names, size_t n, double v)
{
	if (v == 0)
		return;
	sums_fit(s, nnames);
	size_t stamp = ++s->nstacks;
	s->total += fabs(v);
	for (size_t i = 0; i < n; i++) {
		uint32_t f = names[i];
		s->live[f] = true;
		if (s->stamp[f] != stamp)
			s->cum[f] += v, s->stamp[f] = stamp;
		if (!s->edges || i == 0 || names[i - 1] == f)
			continue;
		size_t k = pair_of(s, names[i - 1], f);
		if (s->pstamp[k] != stamp)
			s->weight[k] += v, s->pstamp[k] = stamp;
	}
	if (n)
		s->flat[names[n - 1]] += v;
}

/* ---- kept stacks, merged by name ---------------------------------------- */

static uint64_t hash_names(const uint32_t *names, size_t n)
{
	uint64_t h = n;
	for (size_t i = 0; i < n; i++)
		h = hp_mix64(h ^ names[i]) + i;
	return h;
}

/* The kept stack with these names, added (with value 0) if new. */
static size_t stack_of(stacks_t *t, const uint32_t *names, size_t n)
{
	if ((t->n + 1) * 2 > t->index.nslots)
		ix64_rebuild(&t->index, t->hash, t->n, true);
	uint64_t h = hash_names(names, n);
	size_t mask = t->index.nslots - 1, at = h & mask;
	for (uint32_t i; (i = t->index.slots[at]); at = (at + 1) & mask)
		if (t->hash[i - 1] == h && t->off[i] - t->off[i - 1] == n &&
		    !memcmp(t->frames + t->off[i - 1], names, n * sizeof(*names)))
			return i - 1;
	size_t cv = t->cap;
	t->hash = grow_or_die(t->hash, &t->cap, t->n + 1, sizeof(uint64_t));
	t->value = grow_or_die(t->value, &cv, t->cap, sizeof(double));
	t->off = grow_or_die(t->off, &t->capoff, t->n + 2, sizeof(size_t));
	t->frames =
	    grow_or_die(t->frames, &t->capframes, t->off[t->n] + n + 1, sizeof(uint32_t));
	memcpy(t->frames + t->off[t->n], names, n * sizeof(*names));
	t->off[t->n + 1] = t->off[t->n] + n;
	t->hash[t->n] = h;
	t->value[t->n] = 0;
	t->index.slots[at] = (uint32_t)t->n + 1;
	return t->n++;
}

/* Two 64-bit hashes of names at once, by different multipliers, mixed. */
static void hash_names2(const uint32_t *names, size_t n, uint64_t *a, uint64_t *b)
{
	uint64_t x = n, y = ~(uint64_t)n;
	for (size_t i = 0; i < n; i++) {
		x = (x ^ names[i]) * 0x100000001b3ull;
		y = (y + names[i]) * 0x9e3779b97f4a7c15ull;
	}
	*a = hp_mix64(x);
	*b = hp_mix64(y ^ (x >> 32));
}

/*
 * The stacks merged for the total only (merge_totals) are known by two
 * independent 64-bit hashes of their names, not by the names, which are not
 * kept: two stacks would have to collide in both to be merged by mistake
 * (with n stacks, odds of about n^2 / 2^129). They are merged at the end,
 * not as they come: a table of a million stacks misses the cache at every
 * probe, so each stack goes to one of TOTAL_BUCKETS buckets by the top bits
 * of its first hash (an append: a cache line a bucket is hot), and each
 * bucket is merged alone in a table that fits in the cache.
 */
static void total_add(stacks_t *t, const uint32_t *names, size_t n, double v)
{
	uint64_t a, b;
	hash_names2(names, n, &a, &b);
	struct total_bucket *k = &t->tb[a >> (64 - TOTAL_BITS)];
	if (k->n == k->cap)
		k->h = grow_or_die(k->h, &k->cap, k->n + 1, sizeof(*k->h));
	k->h[k->n].a = a, k->h[k->n].b = b, k->h[k->n].v = v;
	k->n++;
}

/*
 * The sum of |v| over the stacks of bucket k once merged; slots and sums
 * have room for twice its stacks, rounded up to a power of two, and are
 * left zeroed.
 */
static double total_of_bucket(const struct total_bucket *k, uint32_t *slots, double *sums)
{
	size_t mask = 1;
	while (mask < 2 * k->n)
		mask <<= 1;
	mask--;
	for (size_t i = 0; i < k->n; i++) {
		const struct merged_hash *e = &k->h[i];
		size_t at = e->a & mask;
		for (uint32_t j; (j = slots[at]); at = (at + 1) & mask)
			if (k->h[j - 1].a == e->a && k->h[j - 1].b == e->b)
				break;
		if (!slots[at])
			slots[at] = (uint32_t)i + 1;
		sums[at] += e->v;
	}
	double total = 0;
	for (size_t at = 0; at <= mask; at++) {
		total += fabs(sums[at]);
		slots[at] = 0;
		sums[at] = 0;
	}
	return total;
}

static double merged_total(const stacks_t *t)
{
	size_t most = 0;
	for (size_t i = 0; i < TOTAL_BUCKETS; i++)
		most = t->tb[i].n > most ? t->tb[i].n : most;
	size_t room = 2;
	while (room < 2 * most)
		room <<= 1;
	uint32_t *slots = calloc(room, sizeof(*slots));
	double *sums = calloc(room, sizeof(*sums));
	if (!slots || !sums)
		die("out of memory");
	double total = 0;
	for (size_t i = 0; i < TOTAL_BUCKETS; i++)
		total += total_of_bucket(&t->tb[i], slots, sums);
	free(slots);
	free(sums);
	return total;
}

void stacks_merge_totals(stacks_t *t)
{
	if (t->keep || t->sums.nstacks || t->merge_totals)
		return;
	t->merge_totals = true;
	t->tb = calloc(TOTAL_BUCKETS, sizeof(*t->tb));
	if (!t->tb)
		die("out of memory");
}

/* A new kept stack, not merged with any other (unmerged). */
static void append_stack(stacks_t *t, const uint32_t *names, size_t n, double v)
{
	t->value = grow_or_die(t->value, &t->cap, t->n + 1, sizeof(double));
	t->off = grow_or_die(t->off, &t->capoff, t->n + 2, sizeof(size_t));
	t->frames =
	    grow_or_die(t->frames, &t->capframes, t->off[t->n] + n + 1, sizeof(uint32_t));
	memcpy(t->frames + t->off[t->n], names, n * sizeof(*names));
	t->off[t->n + 1] = t->off[t->n] + n;
	t->value[t->n++] = v;
	t->summed = false;
}

/*
 * Sized at once, the arrays of a profile's kept stacks are not copied as
 * they double (realloc copies what it cannot remap), nor their pages
 * touched twice.
 */
void stacks_reserve(stacks_t *t, size_t stacks, size_t frames)
{
	if (!t->keep || !t->unmerged)
		return; /* merged: how many stacks remain is not known */
	size_t cv = t->cap;
	t->value = grow_or_die(t->value, &cv, t->n + stacks, sizeof(double));
	t->cap = cv;
	t->off = grow_or_die(t->off, &t->capoff, t->n + stacks + 1, sizeof(size_t));
	t->frames = grow_or_die(t->frames, &t->capframes, t->off[t->n] + frames + 1,
	                        sizeof(uint32_t));
}

void stacks_add(stacks_t *t, const uint32_t *names, size_t n, double v)
{
	if (!t->keep) {
		sums_add(&t->sums, t->names.n, names, n, v);
		if (t->merge_totals && v != 0)
			total_add(t, names, n, v);
		return;
	}
	if (t->unmerged) {
		append_stack(t, names, n, v);
		return;
	}
	size_t i = stack_of(t, names, n); /* before reading t->value: it may move */
	t->value[i] += v;
	t->summed = false;
}

void stacks_keep(stacks_t *t)
{
	if (t->keep || t->sums.nstacks)
		return; /* kept already, or too late: only an empty t changes */
	t->keep = true;
}

double stacks_total(const stacks_t *t)
{
	if (!t->keep && t->merge_totals)
		return merged_total(t);
	if (!t->keep)
		return t->sums.total;
	double total = 0;
	for (size_t i = 0; i < t->n; i++)
		total += fabs(t->value[i]);
	return total;
}

const sums_t *stacks_sums(stacks_t *t)
{
	if (t->keep && !t->summed) {
		sums_t *s = &t->sums;
		s->total = 0;
		if (s->cap) {
			memset(s->flat, 0, s->cap * sizeof(double));
			memset(s->cum, 0, s->cap * sizeof(double));
			memset(s->live, 0, s->cap * sizeof(bool));
		}
		for (size_t k = 0; k < s->npairs; k++)
			s->weight[k] = 0;
		for (size_t i = 0; i < t->n; i++)
			sums_add(s, t->names.n, t->frames + t->off[i],
			         t->off[i + 1] - t->off[i], t->value[i]);
		t->summed = true;
	}
	sums_fit(&t->sums, t->names.n);
	return &t->sums;
}

double by_function(stacks_t *t, table_t *rows)
{
	const sums_t *s = stacks_sums(t);
	for (size_t k = 0; k < t->names.n; k++) {
		if (!s->live[k])
			continue;
		row_t *r = table_lookup(rows, t->names.s[k]);
		r->flat += s->flat[k];
		r->cum += s->cum[k];
	}
	return stacks_total(t);
}

const char *stacks_key(const stacks_t *t, size_t i, char **buf, size_t *cap)
{
	size_t len = 0;
	for (size_t k = t->off[i + 1]; k-- > t->off[i];) {
		const char *s = t->names.s[t->frames[k]];
		size_t n = strlen(s);
		*buf = grow_or_die(*buf, cap, len + n + 2, 1);
		memcpy(*buf + len, s, n);
		len += n;
		(*buf)[len++] = '\n';
	}
	*buf = grow_or_die(*buf, cap, len + 1, 1);
	(*buf)[len] = '\0';
	return *buf;
}

void stacks_to_table(const stacks_t *t, table_t *merged)
{
	char *buf = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < t->n; i++) {
		merged_t *m = table_lookup(merged, stacks_key(t, i, &buf, &cap));
		m->value += t->value[i];
	}
	free(buf);
}

/* ---- calls by their inlining (top's labels) ----------------------------- */

/* The index of call key (caller << 32 | callee) among c's, added if new. */
static size_t call_of(struct inline_calls *c, uint64_t key)
{
	size_t h = ((uint32_t)(key >> 32) * 31u + (uint32_t)key) & (PAIR_CACHE - 1);
	if (c->cache[h] && c->pairs[c->cache[h] - 1] == key)
		return c->cache[h] - 1;
	size_t n = c->n;
	if (n == c->cap) { /* the four arrays share cap */
		size_t cw = n, cy = n, cs = n;
		c->weight = grow_or_die(c->weight, &cw, n + 1, sizeof(double));
		c->ways = grow_or_die(c->ways, &cy, n + 1, sizeof(uint8_t));
		c->stamp = grow_or_die(c->stamp, &cs, n + 1, sizeof(size_t));
		c->pairs = grow_or_die(c->pairs, &c->cap, n + 1, sizeof(uint64_t));
	}
	int64_t i = ix64_intern(&c->ix, c->pairs, &c->n, key);
	if (i < 0)
		die("out of memory");
	if (c->n != n) {
		c->weight[n] = 0;
		c->ways[n] = 0;
		c->stamp[n] = 0;
	}
	c->cache[h] = (uint32_t)i + 1;
	return (size_t)i;
}

void stacks_note_calls(stacks_t *t, const uint32_t *names, const uint8_t *inl, size_t n,
                       double v, const uint8_t *want)
{
	struct inline_calls *c = &t->ic;
	if (v == 0)
		return; /* pprof skips a sample of no value */
	size_t stamp = ++c->samples;
	for (size_t i = 1; i < n; i++) {
		/* A function calling itself makes no edge; a callee want leaves
		 * out is never inlined. */
		if (names[i - 1] == names[i] || (want && !want[names[i]]))
			continue;
		size_t k = call_of(c, (uint64_t)names[i - 1] << 32 | names[i]);
		if (c->stamp[k] == stamp)
			continue; /* its first meeting in the sample counts */
		c->stamp[k] = stamp;
		c->weight[k] += v;
		c->ways[k] |= inl[i] ? 1 : 2;
	}
}

uint8_t *stacks_inline_labels(const stacks_t *t, double cutoff)
{
	const struct inline_calls *c = &t->ic;
	uint8_t *label = calloc(t->names.n ? t->names.n : 1, 1);
	if (!label)
		die("out of memory");
	for (size_t k = 0; k < c->n; k++)
		if (fabs(c->weight[k]) >= cutoff)
			label[(uint32_t)c->pairs[k]] |= c->ways[k] == 1 ? 1 : 2;
	return label;
}
