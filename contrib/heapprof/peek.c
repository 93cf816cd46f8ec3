/* SPDX-License-Identifier: MIT */
/*
 * peek: the callers and callees of the functions matching a regex, laid out
 * as go tool pprof -peek does (its tree report, untrimmed). Loading,
 * filtering and merging the samples is profiles.c's; this file builds the
 * call edges from the merged stacks and prints them.
 */
#include "heapprof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEPARATOR                                                                        \
	"----------------------------------------------------------+-------------"

/* A call edge: key "caller\ncallee", its weight counted once per stack. */
typedef struct {
	char *key;
	double weight;
	unsigned seen;
	bool inlined; /* every time, the callee inlined into the caller */
} edge_t;

/* One edge of a node as printed: the other end and the weight. */
typedef struct {
	const char *name;
	size_t len;
	double weight;
	bool inlined;
} end_t;

/* The edge of call pair (caller << 32 | callee, by name), added if new. */
static edge_t *edge_of(const stacks_t *t, table_t *edges, uint64_t pair)
{
	return table_lookup2(edges, t->names.s[pair >> 32], t->names.s[(uint32_t)pair]);
}

/*
 * pprof's graph edges: along each stack, root to leaf, caller -> callee for
 * each distinct pair of different functions, weighted by the stack's value
 * (summed as the stacks come, stacks.c); inlined when every call counted
 * was the callee inlined into the caller (stacks_note_calls).
 */
static void build_edges(stacks_t *t, table_t *edges)
{
	const sums_t *s = stacks_sums(t);
	for (size_t k = 0; k < s->npairs; k++)
		edge_of(t, edges, s->pairs[k])->weight += s->weight[k];
	for (size_t k = 0; k < t->ic.n; k++)
		if (t->ic.ways[k] == 1)
			edge_of(t, edges, t->ic.pairs[k])->inlined = true;
}

/* pprof's FlatNameOrder: |flat| descending, then the name. */
static int cmp_nodes(const void *pa, const void *pb)
{
	const row_t *a = pa, *b = pb;
	if (fabs(a->flat) != fabs(b->flat))
		return fabs(a->flat) < fabs(b->flat) ? 1 : -1;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	return fabs(a->cum) < fabs(b->cum) ? 1 : fabs(a->cum) > fabs(b->cum) ? -1 : 0;
}

/* pprof's edge order: |weight| descending, then the other end's name. */
static int cmp_ends(const void *pa, const void *pb)
{
	const end_t *a = pa, *b = pb;
	if (fabs(a->weight) != fabs(b->weight))
		return fabs(a->weight) < fabs(b->weight) ? 1 : -1;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->name, b->name, n);
	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/*
 * The edges into (callers) or out of name, sorted, printed as
 * "VALUE PERCENT-OF-CUM |   OTHER". ends: room for edges->n.
 */
static void print_edges(const table_t *edges, const char *name, bool callers, double cum,
                        const char *unit, const char *to, end_t *ends)
{
	size_t n = 0, len = strlen(name);
	for (size_t i = 0; i < edges->n; i++) {
		const edge_t *e = (const edge_t *)edges->items + i;
		const char *nl = strchr(e->key, '\n');
		const char *me = callers ? nl + 1 : e->key;
		size_t melen = callers ? strlen(nl + 1) : (size_t)(nl - e->key);
		if (e->weight == 0 || melen != len || memcmp(me, name, len))
			continue;
		ends[n++] =
		    callers
		        ? (end_t){e->key, (size_t)(nl - e->key), e->weight, e->inlined}
		        : (end_t){nl + 1, strlen(nl + 1), e->weight, e->inlined};
	}
	qsort(ends, n, sizeof(*ends), cmp_ends);
	for (size_t i = 0; i < n; i++) {
		char v[32], pc[16];
		fmt_unit(v, sizeof(v), ends[i].weight, unit, to);
		fmt_pct(pc, sizeof(pc), ends[i].weight, cum);
		printf("%50s %s |   %.*s%s\n", v, pc, (int)ends[i].len, ends[i].name,
		       ends[i].inlined ? " (inline)" : "");
	}
}

static void usage_peek(FILE *f)
{
	fprintf(f, "usage: heapprof peek [OPTIONS] REGEX PROFILE...\n"
	           "Prints the callers and callees of the functions matching REGEX "
	           "(POSIX extended),\n"
	           "like go tool pprof -peek.\n");
	usage_reading(f);
	fprintf(
	    f, "  --unit U             minimum (default), auto, B, kB, MB, GB, TB, PB\n");
}

/* The matching nodes of rows (sorted) with their edges; returns how many matched. */
static size_t print_nodes(const input_t *in, const table_t *rows, const table_t *edges,
                          const regex_t *re, const char *to)
{
	const pp_profile_t *p = in->profile;
	const char *unit = pp_str(p, p->sample_type[in->vi]->unit);
	end_t *ends = malloc((edges->n + 1) * sizeof(*ends));
	if (!ends)
		die("out of memory");
	size_t matched = 0;
	double sum = 0;
	for (size_t i = 0; i < rows->n; i++) {
		const row_t *r = (const row_t *)rows->items + i;
		if ((r->flat == 0 && r->cum == 0) || regexec(re, r->name, 0, NULL, 0))
			continue;
		matched++;
		sum += r->flat;
		puts(SEPARATOR);
		print_edges(edges, r->name, true, r->cum, unit, to, ends);
		char f[32], c[32], pf[16], ps[16], pc[16];
		fmt_unit(f, sizeof(f), r->flat, unit, to);
		fmt_unit(c, sizeof(c), r->cum, unit, to);
		fmt_pct(pf, sizeof(pf), r->flat, in->total);
		fmt_pct(ps, sizeof(ps), sum, in->total);
		fmt_pct(pc, sizeof(pc), r->cum, in->total);
		printf("%10s %s %s %10s %s                | %s\n", f, pf, ps, c, pc,
		       r->name);
		print_edges(edges, r->name, false, r->cum, unit, to, ends);
	}
	free(ends);
	return matched;
}

int cmd_peek(int argc, char **argv)
{
	input_t in = {.cmd = argv[0], .edges = true, .inline_labels = true};
	const char *to = "minimum";
	opt_t opts[MAX_READING_OPTS + 2] = {0};
	size_t n = reading_options(opts, &in);
	opts[n++] = (opt_t){.name = "unit",
	                    .has_arg = true,
	                    .dst = &to,
	                    .parse = parse_unit,
	                    .expected = "minimum, auto, B, kB, MB, GB, TB or PB"};
	const cmdline_t cmd = {opts, usage_peek, 2, -1};
	int first = parse_options(argc, argv, &cmd);
	const char *rx = argv[first++];
	regex_t re;
	if (regcomp(&re, rx, REG_EXTENDED | REG_NOSUB))
		die("bad regular expression '%s'", rx);
	in.paths = argv + first;
	in.npaths = argc - first;
	load_input(&in);
	table_t rows, edges;
	table_init(&rows, sizeof(row_t));
	table_init(&edges, sizeof(edge_t));
	by_function(&in.stacks, &rows);
	build_edges(&in.stacks, &edges);
	qsort(rows.items, rows.n, sizeof(row_t), cmp_nodes);
	double flat = 0;
	for (size_t i = 0; i < rows.n; i++)
		flat += ((const row_t *)rows.items)[i].flat;
	if (!strcmp(to, "minimum"))
		to = min_unit(least_value(&rows, rows.n, in.total, 0), in.total,
		              pp_str(in.profile, in.profile->sample_type[in.vi]->unit));
	report_labels(&in, flat, to);
	puts(SEPARATOR);
	puts("      flat  flat%   sum%        cum   cum%   calls calls% + context 	 "
	     "	 ");
	size_t matched = print_nodes(&in, &rows, &edges, &re, to);
	if (rows.n)
		puts(SEPARATOR);
	regfree(&re);
	table_free(&rows);
	table_free(&edges);
	free_input(&in);
	if (!matched)
		die("no matches found for regexp: %s", rx);
	return 0;
}
