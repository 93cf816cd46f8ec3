/* SPDX-License-Identifier: MIT */
/*
 * lifetimes: heapprof lifetimes, a lifetimes profile (HEAPPROF_LIFETIMES,
 * tcmalloc's data model) by allocation site: objects, bytes, still alive,
 * the median and p90 lifetime of the freed blocks from the histogram labels,
 * the share freed within --short, and the sites that free them. A site is
 * the leaf function of the allocation stack; a pair's two samples are joined
 * by their callstack-pair-id label.
 */
#include "heapprof.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* lib/lifetimes.c's bins: bin k holds [4^k, 4^(k+1)) ns, bin 0 from 0. */
#define NBINS 24

typedef struct {
	char *key;
	double objects, bytes, censored, freed;
	double bins[NBINS]; /* freed objects by lifetime */
	table_t freers;     /* of freer_t: who frees them */
} site_t;

typedef struct {
	char *key;
	double objects;
} freer_t;

typedef struct {
	char *key;
	size_t site; /* the pair's allocation site: its position in sites */
} pair_t;

typedef struct {
	const pp_profile_t *p;
	id_index_t locs, funcs;
	int ao, as, dobj, co; /* the sample types used */
	table_t sites, pairs;
} ctx_t;

static void usage_lifetimes(FILE *f)
{
	fprintf(f,
	        "usage: heapprof lifetimes [--short DURATION] [-n N] PROFILE\n"
	        "A lifetimes profile (HEAPPROF_LIFETIMES=1) by allocation site: objects "
	        "and bytes\n"
	        "allocated, the share still alive, the median and p90 lifetime of "
	        "those freed,\n"
	        "the share freed within --short (default 1ms; ns, us, ms or s), and the "
	        "sites\n"
	        "that free them. Sites with the most objects freed within --short "
	        "first;\n"
	        "-n: how many (default 20, 0: all).\n");
}

static bool parse_duration(const char *arg, void *dst)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}};
	char *end;
	double v = strtod(arg, &end);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit) && v > 0 && end != arg) {
			*(double *)dst = v * units[i].ns;
			return true;
		}
	return false;
}

static bool parse_rows(const char *arg, void *dst)
{
	char *end;
	long n = strtol(arg, &end, 10);
	*(long *)dst = n;
	return !(*end || n < 0 || end == arg);
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
	while (k + 1 < NBINS && (int64_t)1 << (2 * (k + 1)) <= lo)
		k++;
	return k;
}

/* An allocation sample: its site's objects, bytes, censored and histogram. */
static void add_allocation(ctx_t *c, const Perftools__Profiles__Sample *s, int64_t id)
{
	char buf[64], idkey[32];
	site_t *site = table_lookup(&c->sites, leaf_name(c, s, buf, sizeof(buf)));
	site->objects += (double)s->value[c->ao];
	site->bytes += (double)s->value[c->as];
	site->censored += (double)s->value[c->co];
	if (site->freers.size == 0)
		table_init(&site->freers, sizeof(freer_t));
	snprintf(idkey, sizeof(idkey), "%" PRId64, id);
	((pair_t *)table_lookup(&c->pairs, idkey))->site =
	    (size_t)(site - (site_t *)c->sites.items) + 1;
	if (s->value[c->co])
		return; /* still alive: its ages are no lifetimes */
	/* The bins' lower bounds and objects, two labels in the same order. */
	int64_t lo[NBINS], obj[NBINS];
	size_t nlo = 0, nobj = 0;
	for (size_t i = 0; i < s->n_label; i++) {
		const char *k = pp_str(c->p, s->label[i]->key);
		if (!strcmp(k, "lifetime_bin") && nlo < NBINS)
			lo[nlo++] = s->label[i]->num;
		else if (!strcmp(k, "lifetime_bin_objects") && nobj < NBINS)
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
	site_t *site = (site_t *)c->sites.items + pr->site - 1;
	site->freed += (double)s->value[c->dobj];
	((freer_t *)table_lookup(&site->freers, leaf_name(c, s, buf, sizeof(buf))))
	    ->objects += (double)s->value[c->dobj];
}

/* The q-quantile of a site's freed lifetimes, in ns, from its bins: the bin
 * where the count crosses q, interpolated geometrically inside it. */
static double quantile(const site_t *s, double q)
{
	double total = 0, cum = 0;
	for (unsigned k = 0; k < NBINS; k++)
		total += s->bins[k];
	if (total <= 0)
		return -1;
	for (unsigned k = 0; k < NBINS; k++) {
		if (cum + s->bins[k] < q * total) {
			cum += s->bins[k];
			continue;
		}
		double f = s->bins[k] > 0 ? (q * total - cum) / s->bins[k] : 0;
		double lo = k ? ldexp(1, 2 * (int)k) : 1;
		return lo * pow(4, f);
	}
	return ldexp(1, 2 * NBINS);
}

/* The share of a site's allocated objects freed within ns, the bin that
 * straddles it interpolated geometrically. */
static double freed_within(const site_t *s, double ns)
{
	double n = 0;
	for (unsigned k = 0; k < NBINS; k++) {
		double lo = k ? ldexp(1, 2 * (int)k) : 1, hi = lo * 4;
		if (hi <= ns)
			n += s->bins[k];
		else if (lo < ns)
			n += s->bins[k] * log(ns / lo) / log(4);
	}
	return s->objects > 0 ? n / s->objects : 0;
}

static void fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns < 1e3)
		snprintf(buf, len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.3gus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.3gms", ns / 1e6);
	else
		snprintf(buf, len, "%.3gs", ns / 1e9);
}

static double short_ns; /* --short, for the sort */

static int cmp_sites(const void *pa, const void *pb)
{
	const site_t *a = pa, *b = pb;
	double x = freed_within(a, short_ns) * a->objects,
	       y = freed_within(b, short_ns) * b->objects;
	if (x != y)
		return x < y ? 1 : -1;
	return a->objects < b->objects   ? 1
	       : a->objects > b->objects ? -1
	                                 : strcmp(a->key, b->key);
}

static int cmp_freers(const void *pa, const void *pb)
{
	const freer_t *a = pa, *b = pb;
	return a->objects < b->objects   ? 1
	       : a->objects > b->objects ? -1
	                                 : strcmp(a->key, b->key);
}

/* One row: the site's numbers and its top three freeing sites. */
static void print_site(site_t *s, const char *unit)
{
	char bytes[32], med[32], p90[32], who[512] = "";
	fmt_value(bytes, sizeof(bytes), s->bytes, unit);
	fmt_ns(med, sizeof(med), quantile(s, 0.5));
	fmt_ns(p90, sizeof(p90), quantile(s, 0.9));
	qsort(s->freers.items, s->freers.n, sizeof(freer_t), cmp_freers);
	const freer_t *f = s->freers.items;
	for (size_t i = 0, n = 0; i < s->freers.n && i < 3; i++)
		n += (size_t)snprintf(who + n, n < sizeof(who) ? sizeof(who) - n : 0,
		                      "%s%s (%.0f)", i ? ", " : "", f[i].key,
		                      f[i].objects);
	printf("%12.0f %10s %6.1f%% %9s %9s %6.1f%%  %s  %s\n", s->objects, bytes,
	       s->objects > 0 ? 100 * s->censored / s->objects : 0, med, p90,
	       100 * freed_within(s, short_ns), s->key, *who ? who : "-");
}

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

int cmd_lifetimes(int argc, char **argv)
{
	long rows = 20;
	short_ns = 1e6;
	const opt_t opts[] = {
	    {"short", 0, true, &short_ns, parse_duration, "a duration (500us, 1ms, 2s)"},
	    {NULL, 'n', true, &rows, parse_rows, "a count"},
	    {0}};
	const cmdline_t cmd = {opts, usage_lifetimes, 1, 1};
	const char *path = argv[parse_options(argc, argv, &cmd)];
	ctx_t c = {.p = load(path)};
	const pp_profile_t *p = c.p;
	c.ao = need_type(p, "allocated_objects", path);
	c.as = need_type(p, "allocated_space", path);
	c.dobj = need_type(p, "deallocated_objects", path);
	c.co = need_type(p, "censored_allocated_objects", path);
	uint64_t *ids = calloc(p->n_location + p->n_function + 1, sizeof(*ids));
	if (!ids)
		die("out of memory");
	for (size_t i = 0; i < p->n_location; i++)
		ids[i] = p->location[i]->id;
	idx_build(&c.locs, ids, p->n_location);
	for (size_t i = 0; i < p->n_function; i++)
		ids[i] = p->function[i]->id;
	idx_build(&c.funcs, ids, p->n_function);
	free(ids);
	table_init(&c.sites, sizeof(site_t));
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
	qsort(c.sites.items, c.sites.n, sizeof(site_t), cmp_sites);
	char sh[32];
	fmt_ns(sh, sizeof(sh), short_ns);
	printf("%12s %10s %7s %9s %9s %7s  %s  %s\n", "objects", "bytes", "alive",
	       "median", "p90", sh, "allocation site", "freed by (objects)");
	site_t *sv = c.sites.items;
	for (size_t i = 0; i < c.sites.n && (rows == 0 || (long)i < rows); i++)
		print_site(&sv[i], pp_str(p, p->sample_type[c.as]->unit));
	for (size_t i = 0; i < c.sites.n; i++)
		table_free(&sv[i].freers);
	table_free(&c.sites);
	table_free(&c.pairs);
	idx_free(&c.locs);
	idx_free(&c.funcs);
	pp_free((pp_profile_t *)p);
	return 0;
}
