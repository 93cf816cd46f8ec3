/* SPDX-License-Identifier: MIT */
/*
 * source: source lines for list and web. The routines (a function in one of
 * its files) a match picks, each line's flat and cum from stacks merged by
 * "function file:line" (profiles.c's by_lines), and the text from the file
 * the profile names or from under a search path. Printing them is list.c's
 * and web.c's.
 */
#include "heapprof.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_line(const void *a, const void *b)
{
	int64_t x = ((const struct src_line *)a)->line,
	        y = ((const struct src_line *)b)->line;
	return x < y ? -1 : x > y;
}

void find_routines(const pp_profile_t *p, bool (*match)(const char *, const void *),
                   const void *arg, table_t *routines)
{
	for (size_t i = 0; i < p->n_function; i++) {
		const Perftools__Profiles__Function *f = p->function[i];
		const char *name = pp_str(p, f->name), *file = pp_str(p, f->filename);
		if (!*file || !match(name, arg))
			continue;
		routine_t *r = table_lookup2(routines, name, file);
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
