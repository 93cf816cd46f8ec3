/* SPDX-License-Identifier: MIT */
/*
 * trie: samples of names as a trie of frames, trimmed as pprof trims its
 * graph (web.c's report, flame.c's picture). Samples are grouped depth by
 * depth, the way a most-significant-digit radix sort goes: the samples of a
 * node are split by their next name, in one pass through a hash by name, and
 * a group too light to keep is merged with its trimmed siblings and never
 * looked at again, so the work is the frames above the cut, not every frame.
 */
#include "heapprof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROF(s, i) ((s)->prof ? (s)->prof[(i)] : 0u)

static void *grow(void *a, size_t *cap, size_t need, size_t size)
{
	static const pp_alloc_t libc = {realloc, free};
	if (!(a = pp_grow(&libc, a, cap, need, size)))
		die("out of memory");
	return a;
}

static uint32_t func_of(trie_t *t, uint32_t name)
{
	if (!t->fmap[name]) {
		t->fname = grow(t->fname, &t->capfn, t->nfuncs + 1, sizeof(uint32_t));
		t->fname[t->nfuncs++] = name;
		t->fmap[name] = (uint32_t)t->nfuncs;
	}
	return t->fmap[name] - 1;
}

static uint32_t new_node(trie_t *t, uint32_t parent, uint32_t name)
{
	size_t cu = t->capn;
	t->up = grow(t->up, &cu, t->nnodes + 1, sizeof(uint32_t));
	t->func = grow(t->func, &t->capn, t->nnodes + 1, sizeof(uint32_t));
	t->up[t->nnodes] = parent;
	t->func[t->nnodes] = func_of(t, name);
	return (uint32_t)t->nnodes++;
}

/* A stack at node (UINT32_MAX: empty); returns its values, zeroed. */
static double *new_stack(trie_t *t, uint32_t node)
{
	size_t nc = t->s->ncols;
	t->stack_node = grow(t->stack_node, &t->caps, t->nstacks + 1, sizeof(uint32_t));
	size_t ca = t->capsv;
	t->sabs = grow(t->sabs, &ca, (t->nstacks + 1) * nc, sizeof(double));
	t->sval = grow(t->sval, &t->capsv, (t->nstacks + 1) * nc, sizeof(double));
	t->stack_node[t->nstacks] = node;
	double *v = t->sval + t->nstacks * nc;
	memset(v, 0, nc * sizeof(double));
	memset(t->sabs + t->nstacks++ * nc, 0, nc * sizeof(double));
	return v;
}

/* Adds the values of samples idx[lo..hi) to v, by column; abs: their |v|. */
static void add_values(const trie_src_t *s, const uint32_t *idx, size_t lo, size_t hi,
                       double *v, bool abs)
{
	for (size_t i = lo; i < hi; i++) {
		const double *x = s->val + (size_t)idx[i] * s->nt;
		double *vc = v + PROF(s, idx[i]) * s->nt;
		for (size_t k = 0; k < s->nt; k++)
			vc[k] += abs ? fabs(x[k]) : x[k];
	}
}

/* key[i] for a sample that ends at the depth being grouped: no name. */
#define ENDS UINT32_MAX

/*
 * The names at depth of samples idx[lo..hi) into t->key[lo..hi) (ENDS for
 * a sample that ends there): one load from the frames a sample and depth,
 * which miss the cache, where every pass below reads t->key instead.
 */
static void keys_at(trie_t *t, const uint32_t *idx, size_t lo, size_t hi, size_t depth)
{
	const trie_src_t *s = t->s;
	for (size_t i = lo; i < hi; i++) {
		size_t at = s->off[idx[i]];
		t->key[i] =
		    s->off[idx[i] + 1] - at == depth ? ENDS : s->frames[at + depth];
	}
}

/*
 * Orders idx[lo..hi) (and key) by key, grouped in the order the names
 * first come and stable within a group (the samples stay in the order they
 * were read, which the caches like): names counted through a hash by name
 * whose slots are current only with this call's generation, then placed.
 */
static void group_by_name(trie_t *t, uint32_t *idx, size_t lo, size_t hi)
{
	uint32_t *key = t->key, first = key[lo];
	size_t i = lo + 1;
	while (i < hi && key[i] == first)
		i++;
	if (i == hi)
		return; /* one name: nothing to do */
	t->gen++;
	size_t ng = 0, mask = t->nslots - 1;
	t->slot = grow(t->slot, &t->capslot, hi - lo, sizeof(uint32_t));
	for (i = lo; i < hi; i++) {
		uint32_t name = key[i];
		size_t h = (name * 0x9e3779b1u) & mask;
		while (t->hgen[h] == t->gen && t->hname[h] != name)
			h = (h + 1) & mask;
		if (t->hgen[h] != t->gen) {
			t->hgen[h] = t->gen, t->hname[h] = name,
			t->hgroup[h] = (uint32_t)ng;
			t->count = grow(t->count, &t->capcount, ng + 1, sizeof(size_t));
			t->count[ng++] = 0;
		}
		t->slot[i - lo] = t->hgroup[h];
		t->count[t->hgroup[h]]++;
	}
	for (size_t g = 0, at = 0; g < ng; g++) { /* counts to starts */
		size_t c = t->count[g];
		t->count[g] = at;
		at += c;
	}
	t->tmp = grow(t->tmp, &t->captmp, 2 * (hi - lo), sizeof(uint32_t));
	uint32_t *tk = t->tmp + (hi - lo);
	for (i = lo; i < hi; i++) {
		size_t to = t->count[t->slot[i - lo]]++;
		t->tmp[to] = idx[i];
		tk[to] = key[i];
	}
	memcpy(idx + lo, t->tmp, (hi - lo) * sizeof(uint32_t));
	memcpy(key + lo, tk, (hi - lo) * sizeof(uint32_t));
}

/* Is a node of these widths (by column) kept? */
static bool kept(const trie_t *t, const double *w)
{
	for (size_t c = 0; c < t->s->ncols; c++)
		if (w[c] > 0 && w[c] >= t->cut * t->s->total[c])
			return true;
	return false;
}

/* A group of samples with the same next name: idx[a..b). */
typedef struct {
	size_t a, b;
	uint32_t name;
	bool keep;
} group_t;

/*
 * The groups of idx[m..hi) (grouped by key), each weighed: the trimmed
 * ones' values and |values| are added to tv and ta, and counted in *ntrim.
 * Returns the groups (malloc'd), *ng of them.
 */
static group_t *weigh_groups(trie_t *t, const uint32_t *idx, size_t m, size_t hi,
                             double *tv, double *ta, size_t *ng, size_t *ntrim)
{
	const trie_src_t *s = t->s;
	size_t nc = s->ncols, n = 0, cap = 0;
	group_t *g = NULL;
	double *w = malloc(nc * sizeof(double));
	if (!w)
		die("out of memory");
	for (size_t a = m, b; a < hi; a = b) {
		for (b = a + 1; b < hi && t->key[b] == t->key[a]; b++)
			;
		g = grow(g, &cap, n + 1, sizeof(*g));
		g[n] = (group_t){a, b, t->key[a], false};
		memset(w, 0, nc * sizeof(double));
		add_values(s, idx, a, b, w, true);
		g[n].keep = kept(t, w);
		if (!g[n].keep) {
			add_values(s, idx, a, b, tv, false);
			for (size_t c = 0; c < nc; c++)
				ta[c] += w[c];
			(*ntrim)++;
		}
		n++;
	}
	free(w);
	*ng = n;
	return g;
}

/*
 * The children of parent (node + 1, 0: the roots) from samples idx[lo..hi),
 * which have their first depth names in common: the samples that end there
 * make a stack of parent; the others, grouped by their next name, make a node
 * each, or go to parent's (trimmed) child.
 */
static void build(trie_t *t, uint32_t *idx, size_t lo, size_t hi, size_t depth,
                  uint32_t parent)
{
	const trie_src_t *s = t->s;
	size_t m = lo, nc = s->ncols;
	keys_at(t, idx, lo, hi, depth);
	for (size_t i = lo; i < hi; i++)
		if (t->key[i] == ENDS) {
			uint32_t x = idx[i];
			idx[i] = idx[m], idx[m] = x;
			t->key[i] = t->key[m], t->key[m++] = ENDS;
		}
	if (m > lo) {
		add_values(s, idx, lo, m, new_stack(t, parent ? parent - 1 : UINT32_MAX),
		           false);
		add_values(s, idx, lo, m, t->sabs + (t->nstacks - 1) * nc, true);
	}
	if (m == hi)
		return;
	group_by_name(t, idx, m, hi);
	double *tv = calloc(2 * nc, sizeof(double)), *ta = tv + nc;
	if (!tv)
		die("out of memory");
	size_t ntrim = 0, ng;
	group_t *g = weigh_groups(t, idx, m, hi, tv, ta, &ng, &ntrim);
	if (ntrim) {
		t->dropped += ntrim;
		memcpy(new_stack(t, new_node(t, parent, t->trimmed)), tv,
		       nc * sizeof(double));
		memcpy(t->sabs + (t->nstacks - 1) * nc, ta, nc * sizeof(double));
	}
	free(tv);
	for (size_t k = 0; k < ng; k++) /* t->key is the children's from here */
		if (g[k].keep)
			build(t, idx, g[k].a, g[k].b, depth + 1,
			      new_node(t, parent, g[k].name) + 1);
	free(g);
}

void trie_build(trie_t *w, const trie_src_t *s, size_t nnames, uint32_t trimmed,
                double cut)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->cut = cut;
	w->trimmed = trimmed;
	for (w->nslots = 64; w->nslots < 2 * nnames;)
		w->nslots *= 2;
	w->fmap = calloc(nnames + 1, sizeof(uint32_t));
	w->hname = malloc(w->nslots * sizeof(uint32_t));
	w->hgroup = malloc(w->nslots * sizeof(uint32_t));
	w->hgen = calloc(w->nslots, sizeof(uint32_t));
	uint32_t *idx = malloc((s->n + 1) * sizeof(uint32_t));
	w->key = malloc((s->n + 1) * sizeof(uint32_t));
	if (!w->fmap || !w->hname || !w->hgroup || !w->hgen || !idx || !w->key)
		die("out of memory");
	for (size_t i = 0; i < s->n; i++)
		idx[i] = (uint32_t)i;
	if (s->n)
		build(w, idx, 0, s->n, 0, 0);
	free(idx);
}

void trie_free(trie_t *w)
{
	free(w->up);
	free(w->func);
	free(w->stack_node);
	free(w->sval);
	free(w->sabs);
	free(w->fmap);
	free(w->fname);
	free(w->hname);
	free(w->hgroup);
	free(w->hgen);
	free(w->slot);
	free(w->tmp);
	free(w->key);
	free(w->count);
}
