/* SPDX-License-Identifier: MIT */
/*
 * web: heapprof web, one self-contained HTML report of one or more profiles
 * (snapshots of a process, in time order) and an optional base. This file
 * aggregates the samples into compact JSON (a function table, a trie of
 * stacks, one array of values per profile and sample type, the source lines
 * of the top functions with their values, attributed by source.c) and pours
 * it into the page, whose script, style and template (web/) are compiled in from
 * web_assets.h, generated at build time. Merging by stack is profiles.c's;
 * everything the page shows is computed by web/report.js.
 */
#include "heapprof.h"
#include "web_assets.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * A profile to embed: the file, its profile, and per sample type its merged
 * stacks as (stack number in web_t, value) pairs.
 */
typedef struct {
	const char *path;
	pp_profile_t *p;
	size_t *n;      /* n[type]: pairs */
	size_t **stack; /* stack[type][i]: the stack number of pair i */
	double **value; /* value[type][i] */
} snap_t;

/*
 * Every stack of every profile, numbered once: funcs names the functions,
 * nodes is the trie of frames (root first) whose entries are keyed
 * "parent:func", stacks maps a merged key to its trie node.
 */
typedef struct {
	table_t funcs, nodes, stacks;
	size_t *node_parent, *node_func; /* by node: parent + 1 (0: root), function */
	size_t *stack_node;              /* by stack: its last (leaf) node */
	size_t cap_nodes, cap_stacks;
} web_t;

typedef struct {
	char *key;
} entry_t;

static void *grow(void *a, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return a;
	*cap = *cap ? *cap * 2 : 1024;
	a = realloc(a, *cap * size);
	if (!a)
		die("out of memory");
	return a;
}

/* The trie node of func under parent (parent + 1; 0 for the root). */
static size_t node_of(web_t *w, size_t parent, size_t func)
{
	char k[48];
	snprintf(k, sizeof(k), "%zu:%zu", parent, func);
	size_t before = w->nodes.n;
	entry_t *e = table_lookup(&w->nodes, k);
	size_t id = (size_t)(e - (entry_t *)w->nodes.items);
	if (w->nodes.n > before) {
		size_t cap = w->cap_nodes;
		w->node_parent = grow(w->node_parent, &cap, id, sizeof(size_t));
		w->node_func = grow(w->node_func, &w->cap_nodes, id, sizeof(size_t));
		w->node_parent[id] = parent;
		w->node_func[id] = func;
	}
	return id;
}

/* The number of the stack key (leaf first, names ended by '\n'). */
static size_t stack_of(web_t *w, const char *key)
{
	size_t before = w->stacks.n;
	entry_t *e = table_lookup(&w->stacks, key);
	size_t id = (size_t)(e - (entry_t *)w->stacks.items);
	if (w->stacks.n == before)
		return id;
	const char *names[4096];
	size_t depth = 0;
	char *k = strdup(key);
	if (!k)
		die("out of memory");
	for (char *s = k, *nl; *s && depth < 4096; s = nl + 1) {
		nl = strchr(s, '\n');
		*nl = '\0';
		names[depth++] = s;
	}
	size_t node = 0; /* parent + 1 */
	for (size_t i = depth; i-- > 0;) {
		entry_t *f = table_lookup(&w->funcs, names[i]);
		node = node_of(w, node, (size_t)(f - (entry_t *)w->funcs.items)) + 1;
	}
	free(k);
	w->stack_node = grow(w->stack_node, &w->cap_stacks, id, sizeof(size_t));
	w->stack_node[id] = node ? node - 1 : SIZE_MAX;
	return id;
}

/* Merges every sample type of s->p by stack and numbers the stacks in w. */
static void add_snap(web_t *w, snap_t *s)
{
	size_t nt = s->p->n_sample_type;
	s->n = calloc(nt, sizeof(*s->n));
	s->stack = calloc(nt, sizeof(*s->stack));
	s->value = calloc(nt, sizeof(*s->value));
	if (!s->n || !s->stack || !s->value)
		die("out of memory");
	for (size_t t = 0; t < nt; t++) {
		table_t merged;
		table_init(&merged, sizeof(merged_t));
		stacks_t st;
		stacks_init(&st, true);
		add_stacks(&st, s->p, NULL, (int)t, 1, NULL);
		stacks_to_table(&st, &merged);
		stacks_free(&st);
		s->n[t] = merged.n;
		s->stack[t] = malloc((merged.n + 1) * sizeof(size_t));
		s->value[t] = malloc((merged.n + 1) * sizeof(double));
		if (!s->stack[t] || !s->value[t])
			die("out of memory");
		for (size_t i = 0; i < merged.n; i++) {
			const merged_t *m = (const merged_t *)merged.items + i;
			s->stack[t][i] = stack_of(w, m->key);
			s->value[t][i] = m->value;
		}
		table_free(&merged);
	}
}

/* ---- JSON ------------------------------------------------------------- */

/*
 * A JSON string with every '<' written \u003c: then no "</script>" ends the
 * data early, and no "<!--" changes how the browser reads the rest of it.
 */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const char *c = s; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (u == '"' || u == '\\')
			fprintf(f, "\\%c", u);
		else if (u < 0x20 || u == '<')
			fprintf(f, "\\u%04x", u);
		else
			fputc(u, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (v == (double)(int64_t)v)
		fprintf(f, "%lld", (long long)v);
	else
		fprintf(f, "%.17g", v);
}

/* The values of s for type t, dense by stack number (nstacks of them). */
static double *dense_values(const snap_t *s, size_t t, size_t nstacks)
{
	double *dense = calloc(nstacks + 1, sizeof(double));
	if (!dense)
		die("out of memory");
	for (size_t i = 0; i < s->n[t]; i++)
		dense[s->stack[t][i]] += s->value[t][i];
	return dense;
}

/*
 * v as [v0,v1,...], or, given the previous snapshot's values, only what
 * changed: {"gaps":[...],"deltas":[...]}, each stack that changed as its
 * distance from the one before and its change. Snapshots of one process
 * mostly repeat each other, so a timeline costs little more than one profile.
 */
static void json_values(FILE *f, const double *v, const double *prev, size_t n)
{
	if (!prev) {
		fputc('[', f);
		for (size_t i = 0; i < n; i++) {
			if (i)
				fputc(',', f);
			json_num(f, v[i]);
		}
		fputc(']', f);
		return;
	}
	fputs("{\"gaps\":[", f);
	size_t last = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] != prev[i]) {
			fprintf(f, k++ ? ",%zu" : "%zu", i - last);
			last = i;
		}
	fputs("],\"deltas\":[", f);
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] != prev[i]) {
			if (k++)
				fputc(',', f);
			json_num(f, v[i] - prev[i]);
		}
	fputs("]}", f);
}

static void json_types(FILE *f, const pp_profile_t *p)
{
	fputs("\"types\":[", f);
	for (size_t t = 0; t < p->n_sample_type; t++) {
		fputs(t ? ",{\"type\":" : "{\"type\":", f);
		json_str(f, pp_str(p, p->sample_type[t]->type));
		fputs(",\"unit\":", f);
		json_str(f, pp_str(p, p->sample_type[t]->unit));
		fputc('}', f);
	}
	fprintf(f, "],\"defaultType\":%d,\n", pp_default_index(p));
}

/* The tables of w: function names, the trie, each stack's leaf node. */
static void json_stacks(FILE *f, const web_t *w)
{
	fputs("\"funcs\":[", f);
	for (size_t i = 0; i < w->funcs.n; i++) {
		if (i)
			fputc(',', f);
		json_str(f, w->funcs.keys.s[i]);
	}
	/* parents as the distance back to them (mostly small): id - parent, 0 = root */
	fputs("],\n\"nodeUp\":[", f);
	for (size_t i = 0; i < w->nodes.n; i++)
		fprintf(f, i ? ",%zu" : "%zu",
		        w->node_parent[i] ? i - (w->node_parent[i] - 1) : 0);
	fputs("],\n\"nodeFunc\":[", f);
	for (size_t i = 0; i < w->nodes.n; i++)
		fprintf(f, i ? ",%zu" : "%zu", w->node_func[i]);
	fputs("],\n\"stackNode\":[", f);
	for (size_t i = 0; i < w->stacks.n; i++) {
		if (i)
			fputc(',', f);
		if (w->stack_node[i] == SIZE_MAX)
			fputs("-1", f);
		else
			fprintf(f, "%zu", w->stack_node[i]);
	}
	fputs("],\n", f);
}

/*
 * One profile: {"file":...,"time":ns,"values":[values by type]}; prev (or
 * NULL) holds the previous snapshot's values by type, and gets this one's.
 */
static void json_snap(FILE *f, const web_t *w, const snap_t *s, double **prev)
{
	fputs("{\"file\":", f);
	json_str(f, s->path);
	fprintf(f, ",\"time\":%lld,\"values\":[", (long long)s->p->time_nanos);
	for (size_t t = 0; t < s->p->n_sample_type; t++) {
		double *v = dense_values(s, t, w->stacks.n);
		if (t)
			fputs(",\n", f);
		json_values(f, v, prev ? prev[t] : NULL, w->stacks.n);
		if (prev) {
			free(prev[t]);
			prev[t] = v;
		} else {
			free(v);
		}
	}
	fputs("]}", f);
}

/*
 * The data object's fields but its last ("sources") and closing brace. The
 * snapshots after the first carry only their changes; the base is whole.
 */
static void json_data(FILE *f, const web_t *w, const snap_t *snaps, size_t n,
                      const snap_t *base)
{
	size_t nt = snaps[0].p->n_sample_type;
	double **prev = calloc(nt, sizeof(*prev));
	if (!prev)
		die("out of memory");
	fputc('{', f);
	json_types(f, snaps[0].p);
	json_stacks(f, w);
	fputs("\"snapshots\":[", f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(",\n", f);
		json_snap(f, w, &snaps[i], prev);
	}
	fputs("],\n\"base\":", f);
	if (base)
		json_snap(f, w, base, NULL);
	else
		fputs("null", f);
	for (size_t t = 0; t < nt; t++)
		free(prev[t]);
	free(prev);
}

/* ---- source ----------------------------------------------------------- */

#define SOURCE_FUNCS 30           /* functions whose source is embedded, at most */
#define SOURCE_LINES 200          /* lines of one routine, at most */
#define SOURCE_BYTES (256 * 1024) /* source text in all, at most */

/*
 * The source view's data: for the functions with the largest cum (in any
 * sample type, as a share of its total) of the last snapshot minus the base,
 * their routines with per-line values, one table of routine_t per type, the
 * same routines in the same order in each.
 */
typedef struct {
	char **names; /* the candidates, largest first */
	size_t nnames, nt;
	table_t *routines; /* routines[type] */
} sources_t;

typedef struct {
	char *key;
	double share; /* the largest |cum| / sum |v| over the types */
} rank_t;

static int cmp_rank(const void *a, const void *b)
{
	const rank_t *x = a, *y = b;
	if (x->share != y->share)
		return x->share < y->share ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* The rows (row_t) of s minus base for type t; returns their sum |v|. */
static double rows_of(table_t *rows, const snap_t *s, const snap_t *base, size_t t)
{
	stacks_t merged;
	stacks_init(&merged, base != NULL);
	add_stacks(&merged, s->p, NULL, (int)t, 1, NULL);
	if (base)
		add_stacks(&merged, base->p, NULL, (int)t, -1, NULL);
	table_init(rows, sizeof(row_t));
	double total = by_function(&merged, rows);
	stacks_free(&merged);
	return total;
}

/* Up to max names of functions with a value, largest cum share first. */
static char **top_names(const snap_t *s, const snap_t *base, size_t max, size_t *n)
{
	table_t ranks;
	table_init(&ranks, sizeof(rank_t));
	for (size_t t = 0; t < s->p->n_sample_type; t++) {
		table_t rows;
		double total = rows_of(&rows, s, base, t);
		for (size_t i = 0; i < rows.n; i++) {
			const row_t *row = (const row_t *)rows.items + i;
			rank_t *r = table_lookup(&ranks, row->name);
			double x = total ? fabs(row->cum) / total : 0;
			if (x > r->share)
				r->share = x;
		}
		table_free(&rows);
	}
	rank_t *rv = ranks.items;
	qsort(rv, ranks.n, sizeof(*rv), cmp_rank);
	char **names = calloc(max + 1, sizeof(*names));
	if (!names)
		die("out of memory");
	for (*n = 0; *n < max && *n < ranks.n && rv[*n].share > 0; (*n)++)
		if (!(names[*n] = strdup(rv[*n].key)))
			die("out of memory");
	table_free(&ranks);
	return names;
}

static bool is_candidate(const char *name, const void *arg)
{
	const sources_t *src = arg;
	for (size_t i = 0; i < src->nnames; i++)
		if (!strcmp(name, src->names[i]))
			return true;
	return false;
}

static bool any_file(const char *name, const void *arg)
{
	(void)name, (void)arg;
	return true;
}

/* The routines of the top functions of s minus base, with their lines. */
static void find_sources(sources_t *src, const snap_t *s, const snap_t *base)
{
	table_t all;
	table_init(&all, sizeof(routine_t));
	find_routines(s->p, any_file, NULL, &all);
	size_t with_files = all.n;
	table_free(&all);
	src->nt = s->p->n_sample_type;
	src->nnames = 0;
	src->names = NULL;
	src->routines = calloc(src->nt, sizeof(table_t));
	if (!src->routines)
		die("out of memory");
	if (with_files) /* some may have no readable file: twice the room */
		src->names = top_names(s, base, 2 * SOURCE_FUNCS, &src->nnames);
	for (size_t t = 0; t < src->nt; t++) {
		table_init(&src->routines[t], sizeof(routine_t));
		if (!src->nnames)
			continue;
		find_routines(s->p, is_candidate, src, &src->routines[t]);
		table_t rows;
		by_lines = true;
		rows_of(&rows, s, base, t);
		by_lines = false;
		routine_lines(&src->routines[t], &rows);
		table_free(&rows);
	}
}

static void free_sources(sources_t *src)
{
	for (size_t t = 0; t < src->nt; t++) {
		routine_t *rv = src->routines[t].items;
		for (size_t k = 0; k < src->routines[t].n; k++)
			free(rv[k].lines);
		table_free(&src->routines[t]);
	}
	free(src->routines);
	for (size_t i = 0; i < src->nnames; i++)
		free(src->names[i]);
	free(src->names);
}

/* Routine k's lines of every type together (values unused), in *u. */
static bool union_lines(const sources_t *src, size_t k, routine_t *u)
{
	*u = ((const routine_t *)src->routines[0].items)[k];
	u->n = 0;
	u->lines = NULL;
	for (size_t t = 0; t < src->nt; t++) {
		const routine_t *r = (const routine_t *)src->routines[t].items + k;
		u->lines = realloc(u->lines, (u->n + r->n + 1) * sizeof(*u->lines));
		if (!u->lines)
			die("out of memory");
		memcpy(u->lines + u->n, r->lines, r->n * sizeof(*r->lines));
		u->n += r->n;
	}
	return u->n > 0;
}

/* The lines to show of u: pprof's, but SOURCE_LINES at most. */
static void show_range(const routine_t *u, int64_t *start, int64_t *end)
{
	line_range(u, start, end);
	if (*end - *start < SOURCE_LINES)
		return;
	int64_t first = u->lines[0].line;
	for (size_t i = 1; i < u->n; i++)
		if (u->lines[i].line < first)
			first = u->lines[i].line;
	if (first - 5 > *start)
		*start = first - 5;
	if (*end > *start + SOURCE_LINES - 1)
		*end = *start + SOURCE_LINES - 1;
}

/*
 * Flat and cum of line n of routine k in every type, [n,f0,c0,f1,c1,...],
 * after a comma if comma; false, writing nothing, if it has none.
 */
static bool json_line_values(FILE *f, const sources_t *src, size_t k, int64_t n,
                             bool comma)
{
	double v[2 * 64] = {0};
	bool any = false;
	for (size_t t = 0; t < src->nt && t < 64; t++) {
		const routine_t *r = (const routine_t *)src->routines[t].items + k;
		for (size_t i = 0; i < r->n; i++)
			if (r->lines[i].line == n) {
				v[2 * t] += r->lines[i].flat;
				v[2 * t + 1] += r->lines[i].cum;
				any = true;
			}
	}
	if (!any)
		return false;
	fprintf(f, comma ? ",[%lld" : "[%lld", (long long)n);
	for (size_t i = 0; i < 2 * src->nt && i < 2 * 64; i++) {
		fputc(',', f);
		json_num(f, v[i]);
	}
	fputc(']', f);
	return true;
}

/*
 * Routine k as {"func","file","first":line,"text":[lines],"lines":[[n,flat
 * and cum by type],...]}; returns the bytes of text, 0 if it has no lines or
 * its file cannot be read, or would take more than room.
 */
static size_t json_routine(FILE *f, const sources_t *src, size_t k, size_t room,
                           bool comma)
{
	routine_t u;
	if (!union_lines(src, k, &u)) {
		free(u.lines);
		return 0;
	}
	size_t tlen, bytes = 0;
	char *text = read_source(u.file, NULL, &tlen);
	int64_t start, end, n;
	show_range(&u, &start, &end);
	for (n = start; text && n <= end; n++) {
		int len;
		if (!nth_line(text, tlen, n, &len))
			break;
		bytes += (size_t)len + 1;
	}
	end = n - 1;
	if (text && bytes && bytes <= room) {
		fputs(comma ? ",\n{\"func\":" : "\n{\"func\":", f);
		json_str(f, u.name);
		fputs(",\"file\":", f);
		json_str(f, u.file);
		fprintf(f, ",\"first\":%lld,\"text\":[", (long long)start);
		for (n = start; n <= end; n++) {
			int len;
			const char *s = nth_line(text, tlen, n, &len);
			char *line = strndup(s, (size_t)len);
			if (!line)
				die("out of memory");
			if (n > start)
				fputc(',', f);
			json_str(f, line);
			free(line);
		}
		fputs("],\"lines\":[", f);
		bool some = false;
		for (n = start; n <= end; n++)
			some = json_line_values(f, src, k, n, some) || some;
		fputs("]}", f);
	} else {
		bytes = 0;
	}
	free(text);
	free(u.lines);
	return bytes;
}

/*
 * "sources":[routines], the routines of the first SOURCE_FUNCS candidates
 * whose source can be read, while the text stays under SOURCE_BYTES.
 */
static void json_sources(FILE *f, const sources_t *src)
{
	fputs(",\n\"sources\":[", f);
	size_t bytes = 0, funcs = 0;
	const routine_t *rv = src->nt ? src->routines[0].items : NULL;
	size_t nr = src->nt ? src->routines[0].n : 0;
	for (size_t i = 0; i < src->nnames && funcs < SOURCE_FUNCS; i++) {
		bool shown = false;
		for (size_t k = 0; k < nr; k++) {
			if (strcmp(rv[k].name, src->names[i]))
				continue;
			size_t b =
			    json_routine(f, src, k, SOURCE_BYTES - bytes, bytes > 0);
			bytes += b;
			shown = shown || b;
		}
		funcs += shown;
	}
	fputs("]", f);
}

/* ---- a lifetimes profile: its sites (lifetime_sites.c) ----------------- */

#define LIFETIME_SITES 50 /* the sites shown, most objects first */

static int cmp_objects(const void *pa, const void *pb)
{
	const lt_site_t *a = pa, *b = pb;
	return a->objects < b->objects   ? 1
	       : a->objects > b->objects ? -1
	                                 : strcmp(a->key, b->key);
}

/* ,"lifetimes":{...} when p is a lifetimes profile: per site its numbers,
 * its freed objects by bin and who freed them. */
static void json_lifetimes(FILE *f, const pp_profile_t *p, const char *path)
{
	if (pp_sample_index(p, "censored_allocated_objects") < 0)
		return;
	table_t sites;
	lt_sites(p, path, &sites);
	qsort(sites.items, sites.n, sizeof(lt_site_t), cmp_objects);
	fputs(",\"lifetimes\":[", f);
	const lt_site_t *sv = sites.items;
	for (size_t i = 0; i < sites.n && i < LIFETIME_SITES; i++) {
		const lt_site_t *s = &sv[i];
		fputs(i ? ",{\"site\":" : "{\"site\":", f);
		json_str(f, s->key);
		const double v[] = {s->objects,          s->bytes,
		                    s->censored,         s->freed,
		                    lt_quantile(s, 0.5), lt_quantile(s, 0.9)};
		fputs(",\"v\":[", f);
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			fputs(k ? "," : "", f), json_num(f, v[k]);
		fputs("],\"bins\":[", f);
		for (size_t k = 0; k < LT_NBINS; k++)
			fputs(k ? "," : "", f), json_num(f, s->bins[k]);
		fputs("],\"freers\":[", f);
		const lt_freer_t *fr = s->freers.items;
		for (size_t k = 0; k < s->freers.n && k < 5; k++) {
			fputs(k ? ",[" : "[", f);
			json_str(f, fr[k].key);
			fputc(',', f);
			json_num(f, fr[k].objects);
			fputc(']', f);
		}
		fputs("]}", f);
	}
	fputc(']', f);
	lt_sites_free(&sites);
}

/* ---- the page --------------------------------------------------------- */

/*
 * The template with its @@NAME@@ markers replaced: the style, the script,
 * the data and the title.
 */
static void write_page(FILE *f, const web_t *w, const snap_t *snaps, size_t n,
                       const snap_t *base, const sources_t *src)
{
	const char *t = web_report_html;
	for (const char *m; (m = strstr(t, "@@"));) {
		fwrite(t, 1, (size_t)(m - t), f);
		const char *name = m + 2, *end = strstr(name, "@@");
		if (!end)
			die("internal error: unterminated marker in the page template");
		size_t len = (size_t)(end - name);
		if (len == 3 && !strncmp(name, "CSS", 3))
			fputs(web_report_css, f);
		else if (len == 2 && !strncmp(name, "JS", 2))
			fputs(web_report_js, f);
		else if (len == 4 && !strncmp(name, "DATA", 4)) {
			json_data(f, w, snaps, n, base);
			json_sources(f, src);
			json_lifetimes(f, snaps[n - 1].p, snaps[n - 1].path);
			fputc('}', f);
		} else
			die("internal error: unknown marker in the page template");
		t = end + 2;
	}
	fputs(t, f);
}

static void usage_web(FILE *f)
{
	fprintf(f, "usage: heapprof web [--base OLD] PROFILE... -o REPORT.html\n"
	           "Writes one self-contained HTML report (no network access): a "
	           "flame graph,\n"
	           "a top table, callers and callees, the source of the top "
	           "functions,\n"
	           "every sample type, focus and ignore filters; given several "
	           "snapshots of a\n"
	           "process, a timeline of in-use bytes and the stacks that grew. "
	           "With --base,\n"
	           "what changed since OLD. Given a lifetimes profile, its sites' "
	           "lifetimes too.\n");
}

static int cmp_time(const void *a, const void *b)
{
	int64_t x = ((const snap_t *)a)->p->time_nanos,
	        y = ((const snap_t *)b)->p->time_nanos;
	return x < y ? -1 : x > y;
}

static void free_snap(snap_t *s)
{
	for (size_t t = 0; t < s->p->n_sample_type; t++) {
		free(s->stack[t]);
		free(s->value[t]);
	}
	free(s->n);
	free(s->stack);
	free(s->value);
	pp_free(s->p);
}

static void free_web(web_t *w)
{
	table_free(&w->funcs);
	table_free(&w->nodes);
	table_free(&w->stacks);
	free(w->node_parent);
	free(w->node_func);
	free(w->stack_node);
}

/* Loads the profiles (in time order) and the base into w. */
static snap_t *load_snaps(web_t *w, char **paths, size_t n, snap_t *base)
{
	snap_t *snaps = calloc(n, sizeof(*snaps));
	if (!snaps)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		snaps[i].path = paths[i];
		snaps[i].p = load(paths[i]);
		if (i)
			check_compatible(snaps[0].p, snaps[i].p, paths[i]);
	}
	qsort(snaps, n, sizeof(*snaps), cmp_time);
	for (size_t i = 0; i < n; i++)
		add_snap(w, &snaps[i]);
	if (base->path) {
		base->p = load(base->path);
		check_compatible(snaps[0].p, base->p, base->path);
		add_snap(w, base);
	}
	return snaps;
}

int cmd_web(int argc, char **argv)
{
	const char *outpath = NULL;
	snap_t base = {0};
	const opt_t opts[] = {
	    {.name = "base", .has_arg = true, .dst = &base.path},
	    OPT_OUTPUT(&outpath),
	    {0},
	};
	const cmdline_t cmd = {opts, usage_web, 1, -1};
	int first = parse_options(argc, argv, &cmd);
	web_t w;
	table_init(&w.funcs, sizeof(entry_t));
	table_init(&w.nodes, sizeof(entry_t));
	table_init(&w.stacks, sizeof(entry_t));
	w.node_parent = w.node_func = w.stack_node = NULL;
	w.cap_nodes = w.cap_stacks = 0;
	size_t n = (size_t)(argc - first);
	snap_t *snaps = load_snaps(&w, argv + first, n, &base);
	FILE *f = strcmp(outpath, "-") ? fopen(outpath, "w") : stdout;
	if (!f)
		die("%s: cannot write: %s", outpath, strerror(errno));
	sources_t src;
	find_sources(&src, &snaps[n - 1], base.path ? &base : NULL);
	write_page(f, &w, snaps, n, base.path ? &base : NULL, &src);
	free_sources(&src);
	if (f != stdout ? fclose(f) != 0 : fflush(f) != 0)
		die("%s: write error: %s", outpath, strerror(errno));
	for (size_t i = 0; i < n; i++)
		free_snap(&snaps[i]);
	free(snaps);
	if (base.path)
		free_snap(&base);
	free_web(&w);
	return 0;
}
