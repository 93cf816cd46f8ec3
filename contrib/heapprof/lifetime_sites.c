/* SPDX-License-Identifier: MIT */
/*
 * lifetime_sites: a lifetimes profile (HEAPPROF_LIFETIMES, tcmalloc's data
 * model) gathered by allocation site, for heapprof lifetimes and heapprof
 * web: a site is the leaf function of the allocation stack; a pair's two
 * samples are joined by their callstack-pair-id label; the freed blocks'
 * histogram comes from the lifetime_bin and lifetime_bin_objects labels.
 */
#include "heapprof.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char *key;
	size_t site; /* the pair's allocation site: its position in sites + 1 */
} pair_t;

typedef struct {
	const pp_profile_t *p;
	id_index_t locs, funcs;
	int ao, as, dobj, co; /* the sample types used */
	table_t *sites, pairs;
} ctx_t;

/* The position of the sample type name, or dies: not a lifetimes profile. */
static int need_type(const pp_profile_t *p, const char *name, const char *path)
{
	int i = pp_sample_index(p, name);
	if (i < 0)
		die("%s: not a lifetimes profile (no %s; HEAPPROF_LIFETIMES=1 writes "
		    "one)",
		    path, name);
	return i;
}

/* The leaf function's name of sample s, or its address. */
static const char *leaf_name(const ctx_t *c, const Perftools__Profiles__Sample *s,
                             char *buf, size_t len)
{
	size_t li = s->n_location_id ? idx_pos(&c->locs, s->location_id[0]) : SIZE_MAX;
	if (li == SIZE_MAX)
		return "[no stack]";
	const Perftools__Profiles__Location *l = c->p->location[li];
	size_t fi = l->n_line ? idx_pos(&c->funcs, l->line[0]->function_id) : SIZE_MAX;
	const char *n = fi == SIZE_MAX ? "" : pp_str(c->p, c->p->function[fi]->name);
	if (*n)
		return n;
	snprintf(buf, len, "%#" PRIx64, l->address);
	return buf;
}

/* The numeric label key of s (the first), or -1. */
static int64_t num_label(const ctx_t *c, const Perftools__Profiles__Sample *s,
                         const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (!strcmp(pp_str(c->p, s->label[i]->key), key))
			return s->label[i]->num;
	return -1;
}

/* Bin of a bin's lower bound, as written in the lifetime_bin labels. */
static unsigned bin_of(int64_t lo)
{
	unsigned k = 0;
	while (k + 1 < LT_NBINS && (int64_t)1 << (2 * (k + 1)) <= lo)
		k++;
	return k;
}

/* An allocation sample: its site's objects, bytes, censored and histogram. */
static void add_allocation(ctx_t *c, const Perftools__Profiles__Sample *s, int64_t id)
{
	char buf[64], idkey[32];
	lt_site_t *site = table_lookup(c->sites, leaf_name(c, s, buf, sizeof(buf)));
	site->objects += (double)s->value[c->ao];
	site->bytes += (double)s->value[c->as];
	site->censored += (double)s->value[c->co];
	if (site->freers.size == 0)
		table_init(&site->freers, sizeof(lt_freer_t));
	snprintf(idkey, sizeof(idkey), "%" PRId64, id);
	((pair_t *)table_lookup(&c->pairs, idkey))->site =
	    (size_t)(site - (lt_site_t *)c->sites->items) + 1;
	if (s->value[c->co])
		return; /* still alive: its ages are no lifetimes */
	/* The bins' lower bounds and objects, two labels in the same order. */
	int64_t lo[LT_NBINS], obj[LT_NBINS];
	size_t nlo = 0, nobj = 0;
	for (size_t i = 0; i < s->n_label; i++) {
		const char *k = pp_str(c->p, s->label[i]->key);
		if (!strcmp(k, "lifetime_bin") && nlo < LT_NBINS)
			lo[nlo++] = s->label[i]->num;
		else if (!strcmp(k, "lifetime_bin_objects") && nobj < LT_NBINS)
			obj[nobj++] = s->label[i]->num;
	}
	for (size_t i = 0; i < nlo && i < nobj; i++)
		site->bins[bin_of(lo[i])] += (double)obj[i];
}

/* A free sample: the allocating site's freed objects, by freeing site. */
static void add_free(ctx_t *c, const Perftools__Profiles__Sample *s, int64_t id)
{
	char buf[64], idkey[32];
	snprintf(idkey, sizeof(idkey), "%" PRId64, id);
	pair_t *pr = table_lookup(&c->pairs, idkey);
	if (!pr->site)
		return; /* no allocation sample with this id: not ours to guess */
	lt_site_t *site = (lt_site_t *)c->sites->items + pr->site - 1;
	site->freed += (double)s->value[c->dobj];
	((lt_freer_t *)table_lookup(&site->freers, leaf_name(c, s, buf, sizeof(buf))))
	    ->objects += (double)s->value[c->dobj];
}

/* The q-quantile of a site's freed lifetimes, in ns, from its bins: the bin
 * where the count crosses q, interpolated geometrically inside it. */
double lt_quantile(const lt_site_t *s, double q)
{
	double total = 0, cum = 0;
	for (unsigned k = 0; k < LT_NBINS; k++)
		total += s->bins[k];
	if (total <= 0)
		return -1;
	for (unsigned k = 0; k < LT_NBINS; k++) {
		if (cum + s->bins[k] < q * total) {
			cum += s->bins[k];
			continue;
		}
		double f = s->bins[k] > 0 ? (q * total - cum) / s->bins[k] : 0;
		double lo = k ? ldexp(1, 2 * (int)k) : 1;
		return lo * pow(4, f);
	}
	return ldexp(1, 2 * LT_NBINS);
}

/* The share of a site's allocated objects freed within ns, the bin that
 * straddles it interpolated geometrically: the bins' share of the freed
 * objects, times the freed share. Each bin's objects are scaled on their
 * own, so at a sampling rate above 1 the bins need not add up to the
 * allocated objects less the censored; their own total keeps the share
 * at most the freed share (it was 100.3% once). At rate 1 both agree. */
double lt_freed_within(const lt_site_t *s, double ns)
{
	double n = 0, total = 0;
	for (unsigned k = 0; k < LT_NBINS; k++) {
		double lo = k ? ldexp(1, 2 * (int)k) : 1, hi = lo * 4;
		total += s->bins[k];
		if (hi <= ns)
			n += s->bins[k];
		else if (lo < ns)
			n += s->bins[k] * log(ns / lo) / log(4);
	}
	if (s->objects <= 0 || total <= 0)
		return 0;
	double freed = s->objects > s->censored ? s->objects - s->censored : 0;
	return n / total * freed / s->objects;
}

static int cmp_freers(const void *pa, const void *pb)
{
	const lt_freer_t *a = pa, *b = pb;
	return a->objects < b->objects   ? 1
	       : a->objects > b->objects ? -1
	                                 : strcmp(a->key, b->key);
}

/* An index of the elements' ids: locations or functions. */
#define INDEX_IDS(x, arr, n)                                                             \
	do {                                                                             \
		uint64_t *ids_ = calloc((n) + 1, sizeof(uint64_t));                      \
		if (!ids_)                                                               \
			die("out of memory");                                            \
		for (size_t i_ = 0; i_ < (n); i_++)                                      \
			ids_[i_] = (arr)[i_]->id;                                        \
		idx_build((x), ids_, (n));                                               \
		free(ids_);                                                              \
	} while (0)

void lt_sites(const pp_profile_t *p, const char *path, table_t *sites)
{
	ctx_t c = {.p = p, .sites = sites};
	c.ao = need_type(p, "allocated_objects", path);
	c.as = need_type(p, "allocated_space", path);
	c.dobj = need_type(p, "deallocated_objects", path);
	c.co = need_type(p, "censored_allocated_objects", path);
	INDEX_IDS(&c.locs, p->location, p->n_location);
	INDEX_IDS(&c.funcs, p->function, p->n_function);
	table_init(sites, sizeof(lt_site_t));
	table_init(&c.pairs, sizeof(pair_t));
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->n_sample; i++) {
			const Perftools__Profiles__Sample *s = p->sample[i];
			int64_t id = num_label(&c, s, "callstack-pair-id");
			if (pass == 0 && s->value[c.ao])
				add_allocation(&c, s, id);
			else if (pass == 1 && s->value[c.dobj])
				add_free(&c, s, id);
		}
	lt_site_t *sv = sites->items;
	for (size_t i = 0; i < sites->n; i++)
		qsort(sv[i].freers.items, sv[i].freers.n, sizeof(lt_freer_t), cmp_freers);
	table_free(&c.pairs);
	idx_free(&c.locs);
	idx_free(&c.funcs);
}

void lt_sites_free(table_t *sites)
{
	lt_site_t *sv = sites->items;
	for (size_t i = 0; i < sites->n; i++)
		table_free(&sv[i].freers);
	table_free(sites);
}
