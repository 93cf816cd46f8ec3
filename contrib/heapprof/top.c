/* SPDX-License-Identifier: MIT */
/*
 * top: heapprof top and heapprof diff (top of NEW minus OLD), functions by
 * flat or cumulative value as go tool pprof -top prints them. Loading and
 * merging the samples is input.c's and profiles.c's.
 */
#include "heapprof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool sort_cum;
static const char *out_unit = "minimum"; /* --unit; resolved by print_header */

static int cmp_rows(const void *pa, const void *pb)
{
	const row_t *a = pa, *b = pb;
	double ka = sort_cum ? a->cum : a->flat, kb = sort_cum ? b->cum : b->flat;
	if (ka != kb)
		return ka < kb ? 1 : -1;
	double ca = sort_cum ? a->flat : a->cum, cb = sort_cum ? b->flat : b->cum;
	if (ca != cb)
		return ca < cb ? 1 : -1;
	return strcmp(a->name, b->name);
}

static void usage_top(FILE *f)
{
	fprintf(f,
	        "usage: heapprof top [OPTIONS] PROFILE...\n"
	        "       heapprof diff [OPTIONS] OLD NEW\n"
	        "Lists functions by flat (own) or cumulative value, like go tool pprof "
	        "-top;\n"
	        "several profiles are merged (summed) first.\n");
	usage_reading(f);
	fprintf(f,
	        "  -n, --nodecount N    show the top N functions (default all)\n"
	        "  --unit U             minimum (default), auto, B, kB, MB, GB, TB, PB\n"
	        "  --cum                sort by cumulative value\n"
	        "  --raw                print exact values: flat<TAB>cum<TAB>function\n"
	        "  --lines              rows by source line (function file:line), like "
	        "-lines\n");
}

static bool parse_count(const char *arg, void *dst)
{
	char *end;
	long n = strtol(arg, &end, 10);
	*(long *)dst = n;
	return !(*end || n < 0);
}

/* How many rows top shows (the nonzero ones, limit at most), and their flat sum. */
static size_t rows_shown(const table_t *rows, long limit, double *flat)
{
	const row_t *rv = rows->items;
	size_t shown = 0;
	*flat = 0;
	for (size_t i = 0; i < rows->n; i++)
		if ((rv[i].flat != 0 || rv[i].cum != 0) &&
		    (limit < 0 || shown < (size_t)limit))
			shown++, *flat += rv[i].flat;
	return shown;
}

/* pprof -top's header: the type, what the rows shown account for, the columns. */
static void print_header(const input_t *in, double shown_flat, size_t shown, size_t all)
{
	report_labels(in, shown_flat, out_unit);
	if (shown < all)
		printf("Showing top %zu nodes out of %zu\n", shown, all);
	printf("%10s %6s %6s %10s %6s\n", "flat", "flat%", "sum%", "cum", "cum%");
}

/* The first shown nonzero rows, as pprof -top prints them, or exact with raw. */
static void print_rows(const input_t *in, const table_t *rows, size_t shown, double total,
                       bool raw)
{
	const pp_profile_t *p = in->profile;
	const char *unit = pp_str(p, p->sample_type[in->vi]->unit);
	const row_t *rv = rows->items;
	size_t printed = 0;
	double sum = 0;
	for (size_t i = 0; i < rows->n && printed < shown; i++) {
		const row_t *r = &rv[i];
		if (r->flat == 0 && r->cum == 0)
			continue;
		printed++;
		sum += r->flat;
		const char *label = r->inline_label == 1   ? "(inline)"
		                    : r->inline_label == 3 ? "(partial-inline)"
		                                           : "";
		if (raw) { /* three columns: scripts read them */
			printf("%.0f\t%.0f\t%s\n", r->flat, r->cum, r->name);
			continue;
		}
		char f[32], cu[32], pf[16], ps[16], pc[16];
		fmt_unit(f, sizeof(f), r->flat, unit, out_unit);
		fmt_unit(cu, sizeof(cu), r->cum, unit, out_unit);
		fmt_pct(pf, sizeof(pf), r->flat, total);
		fmt_pct(ps, sizeof(ps), sum, total);
		fmt_pct(pc, sizeof(pc), r->cum, total);
		printf("%10s %s %s %10s %s  %s%s%s\n", f, pf, ps, cu, pc, r->name,
		       *label ? " " : "", label);
	}
}

/*
 * Each row's label as pprof -top prints it, from the calls into the
 * function its graph keeps: a call is inlined when the caller is the next
 * line of the callee's location, and pprof trims the calls under a
 * thousandth of the total of the flat values (its default edgefraction).
 * (With a node count, -n, that leaves functions out, pprof builds its graph
 * again from those it keeps, whose calls can differ: not followed.)
 */
static void label_inlined(stacks_t *t, table_t *rows)
{
	double flat = 0;
	for (size_t i = 0; i < rows->n; i++)
		flat += ((const row_t *)rows->items)[i].flat;
	uint8_t *label = stacks_inline_labels(t, fabs(trunc(flat * 0.001)));
	for (size_t k = 0; k < t->names.n; k++)
		if (label[k])
			((row_t *)table_lookup(rows, t->names.s[k]))->inline_label =
			    label[k];
	free(label);
}

/* top, or with diff the top of NEW minus OLD. */
static int top(int argc, char **argv, bool diff)
{
	input_t in = {.cmd = argv[0], .inline_labels = true};
	long limit = -1;
	bool raw = false;
	opt_t opts[MAX_READING_OPTS + 8] = {0}; /* top's own options, room, the end */
	size_t n = reading_options(opts, &in);
	opts[n++] = (opt_t){.name = "cum", .dst = &sort_cum};
	opts[n++] = (opt_t){.name = "raw", .dst = &raw};
	opts[n++] = (opt_t){.name = "lines", .dst = &by_lines};
	opts[n++] = (opt_t){.name = "nodecount",
	                    .letter = 'n',
	                    .has_arg = true,
	                    .dst = &limit,
	                    .parse = parse_count,
	                    .expected = "a non-negative number"};
	opts[n++] = (opt_t){.name = "unit",
	                    .has_arg = true,
	                    .dst = &out_unit,
	                    .parse = parse_unit,
	                    .expected = "minimum, auto, B, kB, MB, GB, TB or PB"};
	const cmdline_t cmd = {opts, usage_top, diff ? 2 : 1, diff ? 2 : -1};
	int first = parse_options(argc, argv, &cmd);
	if (diff)
		in.base = argv[first++];
	in.paths = argv + first;
	in.npaths = argc - first;
	load_input(&in);
	table_t rows;
	table_init(&rows, sizeof(row_t));
	by_function(&in.stacks, &rows);
	label_inlined(&in.stacks, &rows);
	double total = in.total;
	qsort(rows.items, rows.n, sizeof(row_t), cmp_rows);
	double shown_flat;
	size_t shown = rows_shown(&rows, limit, &shown_flat);
	if (!strcmp(out_unit, "minimum"))
		out_unit =
		    min_unit(least_value(&rows, shown, total, 0.005), total,
		             pp_str(in.profile, in.profile->sample_type[in.vi]->unit));
	if (!raw)
		print_header(&in, shown_flat, shown, rows_shown(&rows, -1, &(double){0}));
	print_rows(&in, &rows, shown, total, raw);
	table_free(&rows);
	free_input(&in);
	return 0;
}

int cmd_top(int argc, char **argv)
{
	return top(argc, argv, false);
}

int cmd_diff(int argc, char **argv)
{
	return top(argc, argv, true);
}
