/* SPDX-License-Identifier: MIT */
/*
 * list: heapprof list, the source lines of the functions a regex matches,
 * each with its flat and cum value, laid out as go tool pprof -list prints
 * them. Finding the lines and their values is source.c's.
 */
#include "heapprof.h"

#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_routine(const void *a, const void *b)
{
	return strcmp(((const routine_t *)a)->key, ((const routine_t *)b)->key);
}

static void value_or_dot(char *buf, size_t len, double v, const char *unit)
{
	if (v == 0)
		snprintf(buf, len, ".");
	else
		fmt_value(buf, len, v, unit);
}

static void print_routine(const routine_t *r, const char *unit, double total,
                          const char *source_path)
{
	double flat = 0, cum = 0;
	for (size_t i = 0; i < r->n; i++)
		flat += r->lines[i].flat, cum += r->lines[i].cum;
	char f[32], c[32], pct[32];
	fmt_value(f, sizeof(f), flat, unit);
	fmt_value(c, sizeof(c), cum, unit);
	fmt_pct(pct, sizeof(pct), cum, total);
	printf("ROUTINE ======================== %s in %s\n", r->name, r->file);
	printf("%10s %10s (flat, cum) %s of Total\n", f, c, pct);
	size_t tlen;
	char *text = read_source(r->file, source_path, &tlen);
	if (!text) {
		printf(" Error: could not find file %s on path %s\n", r->file,
		       source_path ? source_path : ".");
		return;
	}
	int64_t start, end;
	line_range(r, &start, &end);
	size_t k = 0;
	for (int64_t n = start; n <= end; n++) {
		int len;
		const char *s = nth_line(text, tlen, n, &len);
		if (!s)
			break;
		double lf = 0, lc = 0;
		for (; k < r->n && r->lines[k].line <= n; k++)
			if (r->lines[k].line == n)
				lf += r->lines[k].flat, lc += r->lines[k].cum;
		value_or_dot(f, sizeof(f), lf, unit);
		value_or_dot(c, sizeof(c), lc, unit);
		printf("%10s %10s %6lld:%.*s\n", f, c, (long long)n, len, s);
	}
	free(text);
}

static bool matches_re(const char *name, const void *re)
{
	return !regexec(re, name, 0, NULL, 0);
}

static void usage_list(FILE *f)
{
	fprintf(f, "usage: heapprof list [--sample-index TYPE] [--base OLD] "
	           "[--source-path DIR] REGEX PROFILE\n"
	           "Prints the source of the functions REGEX matches, with flat and cum "
	           "per line,\n"
	           "like go tool pprof -list.\n"
	           "  --sample-index TYPE  " USAGE_SAMPLE_TYPE "\n"
	           "  --base OLD           subtract OLD first: what changed since OLD\n"
	           "  --source-path DIR    look for the source files under DIR (with "
	           "each suffix\n"
	           "                       of the recorded path; several DIRs: "
	           "DIR1:DIR2)\n");
}

int cmd_list(int argc, char **argv)
{
	input_t in = {0};
	const char *source_path = NULL;
	const opt_t opts[] = {
	    {.name = "sample-index", .has_arg = true, .dst = &in.sample_index},
	    {.name = "base", .has_arg = true, .dst = &in.base},
	    {.name = "source-path", .has_arg = true, .dst = &source_path},
	    {0},
	};
	const cmdline_t cmd = {opts, usage_list, 2, 2};
	int first = parse_options(argc, argv, &cmd);
	regex_t re;
	if (regcomp(&re, argv[first], REG_EXTENDED | REG_NOSUB))
		die("list: bad regular expression '%s'", argv[first]);
	in.path = argv[first + 1];
	by_lines = true;
	load_input(&in);
	table_t rows, routines;
	table_init(&rows, sizeof(row_t));
	table_init(&routines, sizeof(routine_t));
	double total = by_function(&in.stacks, &rows);
	find_routines(in.profile, matches_re, &re, &routines);
	routine_lines(&routines, &rows);
	routine_t *rv = routines.items;
	qsort(rv, routines.n, sizeof(*rv), cmp_routine);
	const char *unit = pp_str(in.profile, in.profile->sample_type[in.vi]->unit);
	size_t shown = 0;
	for (size_t i = 0; i < routines.n; i++)
		shown += rv[i].n > 0;
	if (shown) {
		char t[32];
		fmt_value(t, sizeof(t), total, unit);
		printf("Total: %s\n", t);
	} else { /* as go tool pprof -list: a message and status 1 */
		fprintf(stderr, "heapprof list: no matches found for regexp: %s\n",
		        argv[first]);
	}
	for (size_t i = 0; i < routines.n; i++) {
		if (rv[i].n)
			print_routine(&rv[i], unit, total, source_path);
	}
	for (size_t i = 0; i < routines.n; i++)
		free(rv[i].lines);
	regfree(&re);
	table_free(&routines);
	table_free(&rows);
	free_input(&in);
	return shown ? 0 : 1;
}
