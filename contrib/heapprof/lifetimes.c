/* SPDX-License-Identifier: MIT */
/*
 * lifetimes: heapprof lifetimes, a lifetimes profile (HEAPPROF_LIFETIMES,
 * tcmalloc's data model) by allocation site: objects, bytes, still alive,
 * the median and p90 lifetime of the freed blocks from the histogram labels,
 * the share freed within --short, and the sites that free them. Gathering
 * the sites is lifetime_sites.c's.
 */
#include "heapprof.h"

#include <stdlib.h>
#include <string.h>

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
	const lt_site_t *a = pa, *b = pb;
	double x = lt_freed_within(a, short_ns) * a->objects,
	       y = lt_freed_within(b, short_ns) * b->objects;
	if (x != y)
		return x < y ? 1 : -1;
	return a->objects < b->objects   ? 1
	       : a->objects > b->objects ? -1
	                                 : strcmp(a->key, b->key);
}

/* One row: the site's numbers and its top three freeing sites. */
static void print_site(lt_site_t *s, const char *unit)
{
	char bytes[32], med[32], p90[32], who[512] = "";
	fmt_value(bytes, sizeof(bytes), s->bytes, unit);
	fmt_ns(med, sizeof(med), lt_quantile(s, 0.5));
	fmt_ns(p90, sizeof(p90), lt_quantile(s, 0.9));
	const lt_freer_t *f = s->freers.items;
	for (size_t i = 0, n = 0; i < s->freers.n && i < 3; i++)
		n += (size_t)snprintf(who + n, n < sizeof(who) ? sizeof(who) - n : 0,
		                      "%s%s (%.0f)", i ? ", " : "", f[i].key,
		                      f[i].objects);
	printf("%12.0f %10s %6.1f%% %9s %9s %6.1f%%  %s  %s\n", s->objects, bytes,
	       s->objects > 0 ? 100 * s->censored / s->objects : 0, med, p90,
	       100 * lt_freed_within(s, short_ns), s->key, *who ? who : "-");
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
	pp_profile_t *p = load(path);
	table_t sites;
	lt_sites(p, path, &sites);
	qsort(sites.items, sites.n, sizeof(lt_site_t), cmp_sites);
	char sh[32];
	fmt_ns(sh, sizeof(sh), short_ns);
	printf("%12s %10s %7s %9s %9s %7s  %s  %s\n", "objects", "bytes", "alive",
	       "median", "p90", sh, "allocation site", "freed by (objects)");
	lt_site_t *sv = sites.items;
	const char *unit =
	    pp_str(p, p->sample_type[pp_sample_index(p, "allocated_space")]->unit);
	for (size_t i = 0; i < sites.n && (rows == 0 || (long)i < rows); i++)
		print_site(&sv[i], unit);
	lt_sites_free(&sites);
	pp_free(p);
	return 0;
}
