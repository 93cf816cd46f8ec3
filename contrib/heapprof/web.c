/* SPDX-License-Identifier: MIT */
/*
 * web: heapprof web, one self-contained HTML report of one or more profiles
 * (snapshots of a process, in time order) and an optional base. This file
 * aggregates the samples into compact JSON (a function table, a trie of
 * stacks, one array of values per profile and sample type) and pours it into
 * the page, whose script, style and template (web/) are compiled in from
 * web_assets.h, generated at build time. Merging by stack is profiles.c's;
 * everything the page shows is computed by web/report.js.
 */
#include "heapprof.h"
#include "web_assets.h"

#include <errno.h>
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
		add_profile(&merged, s->p, (int)t, 1);
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

/* The snapshots after the first carry only their changes; the base is whole. */
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
	fputs("}", f);
	for (size_t t = 0; t < nt; t++)
		free(prev[t]);
	free(prev);
}

/* ---- the page --------------------------------------------------------- */

/*
 * The template with its @@NAME@@ markers replaced: the style, the script,
 * the data and the title.
 */
static void write_page(FILE *f, const web_t *w, const snap_t *snaps, size_t n,
                       const snap_t *base)
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
		else if (len == 4 && !strncmp(name, "DATA", 4))
			json_data(f, w, snaps, n, base);
		else
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
	           "a top table, callers and callees, every sample type, focus and "
	           "ignore\n"
	           "filters; given several snapshots of a process, a timeline of in-use "
	           "bytes\n"
	           "and the stacks that grew. With --base, what changed since OLD.\n");
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
	    {.name = "output", .letter = 'o', .has_arg = true, .dst = &outpath},
	    {0},
	};
	const cmdline_t cmd = {opts, usage_web, 1, -1};
	int first = parse_options(argc, argv, &cmd);
	if (!outpath) {
		usage_web(stderr);
		return EXIT_USAGE;
	}
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
	write_page(f, &w, snaps, n, base.path ? &base : NULL);
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
