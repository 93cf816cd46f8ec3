/* SPDX-License-Identifier: MIT */
/*
 * source: the commands about source lines. heapprof symbolize writes a
 * profile with the names, files, lines and inlined frames debuginfo.c found;
 * heapprof list prints the source lines of the functions a regex matches,
 * each with its flat and cum value, laid out as go tool pprof -list prints
 * them. The values per line come from profiles.c's stacks merged by
 * "function file:line" (by_lines); the text from the file the profile names,
 * or from under --source-path. web.c embeds source lines the same way
 * (find_routines, routine_lines, read_source).
 */
#include "heapprof.h"

#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_line(const void *a, const void *b)
{
	int64_t x = ((const struct src_line *)a)->line,
	        y = ((const struct src_line *)b)->line;
	return x < y ? -1 : x > y;
}

static int cmp_routine(const void *a, const void *b)
{
	return strcmp(((const routine_t *)a)->key, ((const routine_t *)b)->key);
}

void find_routines(const pp_profile_t *p, bool (*match)(const char *, const void *),
                   const void *arg, table_t *routines)
{
	for (size_t i = 0; i < p->n_function; i++) {
		const Perftools__Profiles__Function *f = p->function[i];
		const char *name = pp_str(p, f->name), *file = pp_str(p, f->filename);
		if (!*file || !match(name, arg))
			continue;
		char *key = malloc(strlen(name) + strlen(file) + 2);
		if (!key)
			die("out of memory");
		sprintf(key, "%s\n%s", name, file);
		routine_t *r = table_lookup(routines, key);
		free(key);
		r->name = name;
		r->file = file;
		if (f->start_line && (!r->start_line || f->start_line < r->start_line))
			r->start_line = f->start_line;
	}
}

void routine_lines(table_t *routines, const table_t *rows)
{
	routine_t *rv = routines->items;
	for (size_t i = 0; i < rows->n; i++) {
		const row_t *row = (const row_t *)rows->items + i;
		if (row->flat == 0 && row->cum == 0)
			continue;
		for (size_t k = 0; k < routines->n; k++) {
			routine_t *r = &rv[k];
			size_t nl = strlen(r->name), fl = strlen(r->file);
			const char *s = row->name;
			if (strncmp(s, r->name, nl) || s[nl] != ' ' ||
			    strncmp(s + nl + 1, r->file, fl) || s[nl + 1 + fl] != ':')
				continue;
			char *end;
			long long line = strtoll(s + nl + fl + 2, &end, 10);
			if (*end)
				continue;
			r->lines = realloc(r->lines, (r->n + 1) * sizeof(*r->lines));
			if (!r->lines)
				die("out of memory");
			r->lines[r->n++] = (struct src_line){line, row->flat, row->cum};
		}
	}
	for (size_t k = 0; k < routines->n; k++)
		if (rv[k].n)
			qsort(rv[k].lines, rv[k].n, sizeof(*rv[k].lines), cmp_line);
}

/* ---- source files ----------------------------------------------------- */

char *read_source(const char *path, const char *dirs, size_t *len)
{
	char err[256];
	unsigned char *text = pp_read_file(path, len, err, sizeof(err));
	for (const char *d = dirs; !text && d && *d;) {
		size_t dl = strcspn(d, ":");
		for (const char *suf = path; !text && suf;) {
			while (*suf == '/')
				suf++;
			char full[8192];
			snprintf(full, sizeof(full), "%.*s/%s", (int)dl, d, suf);
			text = pp_read_file(full, len, err, sizeof(err));
			suf = strchr(suf, '/');
		}
		d += dl + (d[dl] == ':');
	}
	return (char *)text;
}

const char *nth_line(const char *text, size_t tlen, int64_t n, int *len)
{
	const char *s = text, *end = text + tlen;
	for (int64_t i = 1; i < n && s < end; i++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		s = nl ? nl + 1 : end;
	}
	if (s >= end)
		return NULL;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	*len = (int)((nl ? nl : end) - s);
	return s;
}

/* ---- printing --------------------------------------------------------- */

static void value_or_dot(char *buf, size_t len, double v, const char *unit)
{
	if (v == 0)
		snprintf(buf, len, ".");
	else
		fmt_value(buf, len, v, unit);
}

void line_range(const routine_t *r, int64_t *start, int64_t *end)
{
	const int margin = 5;
	*start = r->start_line ? r->start_line : r->lines[0].line - margin;
	*end = r->lines[0].line + margin;
	for (size_t i = 0; i < r->n; i++) {
		int64_t s = r->start_line ? r->start_line : r->lines[i].line - margin;
		if (s < *start)
			*start = s;
		else if (r->lines[i].line + margin > *end)
			*end = r->lines[i].line + margin;
	}
	if (*start < 1)
		*start = 1;
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
	char t[32];
	fmt_value(t, sizeof(t), total, unit);
	printf("Total: %s\n", t);
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
	return 0;
}

/* ---- heapprof symbolize ----------------------------------------------- */

static void usage_symbolize(FILE *f)
{
	fprintf(f, "usage: heapprof symbolize PROFILE -o OUT\n"
	           "Writes PROFILE with function names, source files, lines and inlined "
	           "frames\n"
	           "from the binaries' debug info (the file itself, .gnu_debuglink, or\n"
	           "/usr/lib/debug/.build-id by build ID), so that go tool pprof -list "
	           "shows\n"
	           "source on any machine.\n"
	           "  -o OUT  the profile to write (gzipped pprof)\n");
}

int cmd_symbolize(int argc, char **argv)
{
	const char *out = NULL;
	const opt_t opts[] = {
	    {.name = "output",
	     .letter = 'o',
	     .has_arg = true,
	     .dst = &out,
	     .required = true},
	    {0},
	};
	const cmdline_t cmd = {opts, usage_symbolize, 1, 1};
	const char *path = argv[parse_options(argc, argv, &cmd)];
	pp_profile_t *p = load(path);
	write_profile(p, out);
	pp_free(p);
	return 0;
}
