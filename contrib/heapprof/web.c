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

/* A profile to embed: the file, its profile, its samples as read. */
typedef struct {
	const char *path;
	pp_profile_t *p;
	pp_samples_t ss;
} snap_t;

/*
 * Every sample of every profile as names (store_t), one after the other: the
 * snapshots in time order, then the base. A column is a profile and a sample
 * type, prof * nt + t.
 */
typedef struct {
	trie_src_t d;   /* the samples */
	stacks_t names; /* their names' table, nothing else */
	size_t cur;     /* the profile being added */
	size_t capf, capo, capp, capv;
} store_t;

static void *grow(void *a, size_t *cap, size_t need, size_t size)
{
	static const pp_alloc_t libc = {realloc, free};
	if (!(a = pp_grow(&libc, a, cap, need, size)))
		die("out of memory");
	return a;
}

static void store_sample(void *arg, const uint32_t *names, size_t n, const double *v)
{
	store_t *s = arg;
	size_t at = s->d.off[s->d.n];
	s->d.frames = grow(s->d.frames, &s->capf, at + n + 1, sizeof(uint32_t));
	s->d.off = grow(s->d.off, &s->capo, s->d.n + 2, sizeof(size_t));
	s->d.prof = grow(s->d.prof, &s->capp, s->d.n + 1, sizeof(uint32_t));
	s->d.val = grow(s->d.val, &s->capv, (s->d.n + 1) * s->d.nt, sizeof(double));
	memcpy(s->d.frames + at, names, n * sizeof(*names));
	s->d.off[s->d.n + 1] = at + n;
	s->d.prof[s->d.n] = (uint32_t)s->cur;
	for (size_t t = 0; t < s->d.nt; t++) {
		s->d.val[s->d.n * s->d.nt + t] = v[t];
		s->d.total[s->cur * s->d.nt + t] += fabs(v[t]);
	}
	s->d.n++;
}

static void store_init(store_t *s, size_t nprof, size_t nt)
{
	memset(s, 0, sizeof(*s));
	stacks_init(&s->names, false);
	s->d.nt = nt;
	s->d.ncols = nprof * nt;
	s->d.off = grow(NULL, &s->capo, 1, sizeof(size_t));
	s->d.off[0] = 0;
	if (!(s->d.total = calloc(s->d.ncols + 1, sizeof(double))))
		die("out of memory");
}

/* Room for samples with frames in all, at first: no copies as they come. */
static void store_reserve(store_t *s, size_t samples, size_t frames)
{
	s->d.frames = grow(s->d.frames, &s->capf, frames + 1, sizeof(uint32_t));
	s->d.off = grow(s->d.off, &s->capo, samples + 2, sizeof(size_t));
	s->d.prof = grow(s->d.prof, &s->capp, samples + 1, sizeof(uint32_t));
	s->d.val = grow(s->d.val, &s->capv, (samples + 1) * s->d.nt, sizeof(double));
}

/* Adds the samples of profile number prof. */
static void store_add(store_t *s, snap_t *snap, size_t prof)
{
	s->cur = prof;
	each_stack(&s->names, snap->p, &snap->ss, NULL, store_sample, s);
}

static void store_free(store_t *s)
{
	stacks_free(&s->names);
	free(s->d.frames);
	free(s->d.off);
	free(s->d.prof);
	free(s->d.val);
	free(s->d.total);
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

/* Column c's values, dense by stack number. */
static double *dense_values(const trie_t *w, size_t c)
{
	double *dense = malloc((w->nstacks + 1) * sizeof(double));
	if (!dense)
		die("out of memory");
	for (size_t i = 0; i < w->nstacks; i++)
		dense[i] = w->sval[i * w->s->ncols + c];
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

/* The tables of w: function names, the trie, each stack's node. */
static void json_stacks(FILE *f, const trie_t *w, const pp_strtab_t *names)
{
	fputs("\"funcs\":[", f);
	for (size_t i = 0; i < w->nfuncs; i++) {
		if (i)
			fputc(',', f);
		json_str(f, names->s[w->fname[i]]);
	}
	/* parents as the distance back to them (mostly small): id - parent, 0 = root */
	fputs("],\n\"nodeUp\":[", f);
	for (size_t i = 0; i < w->nnodes; i++)
		fprintf(f, i ? ",%zu" : "%zu", w->up[i] ? i - (w->up[i] - 1) : 0);
	fputs("],\n\"nodeFunc\":[", f);
	for (size_t i = 0; i < w->nnodes; i++)
		fprintf(f, i ? ",%u" : "%u", w->func[i]);
	fputs("],\n\"stackNode\":[", f);
	for (size_t i = 0; i < w->nstacks; i++) {
		if (i)
			fputc(',', f);
		if (w->stack_node[i] == UINT32_MAX)
			fputs("-1", f);
		else
			fprintf(f, "%u", w->stack_node[i]);
	}
	fputs("],\n", f);
}

/*
 * Profile k: {"file":...,"time":ns,"values":[values by type]}; prev (or
 * NULL) holds the previous snapshot's values by type, and gets this one's.
 */
static void json_snap(FILE *f, const trie_t *w, const snap_t *s, size_t k, double **prev)
{
	fputs("{\"file\":", f);
	json_str(f, s->path);
	fprintf(f, ",\"time\":%lld,\"values\":[", (long long)s->p->time_nanos);
	for (size_t t = 0; t < w->s->nt; t++) {
		double *v = dense_values(w, k * w->s->nt + t);
		if (t)
			fputs(",\n", f);
		json_values(f, v, prev ? prev[t] : NULL, w->nstacks);
		if (prev) {
			free(prev[t]);
			prev[t] = v;
		} else {
			free(v);
		}
	}
	fputs("]}", f);
}

/* What trimming dropped, for the page's notice. */
static void json_trim(FILE *f, const trie_t *w, double nodefraction, double edgefraction)
{
	fputs(",\n\"trim\":{\"nodefraction\":", f);
	fprintf(f,
	        "%g,\"edgefraction\":%g,\"dropped\":%zu,\"nodes\":%zu,\"samples\":%zu}",
	        nodefraction, edgefraction, w->dropped, w->nnodes, w->s->n);
}

/*
 * The data object's fields but its last ("sources") and closing brace. The
 * snapshots after the first carry only their changes; the base (profile n)
 * is whole.
 */
static void json_data(FILE *f, const trie_t *w, const pp_strtab_t *names,
                      const snap_t *snaps, size_t n, const snap_t *base)
{
	size_t nt = w->s->nt;
	double **prev = calloc(nt, sizeof(*prev));
	if (!prev)
		die("out of memory");
	fputc('{', f);
	json_types(f, snaps[0].p);
	json_stacks(f, w, names);
	fputs("\"snapshots\":[", f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(",\n", f);
		json_snap(f, w, &snaps[i], i, prev);
	}
	fputs("],\n\"base\":", f);
	if (base)
		json_snap(f, w, base, n, NULL);
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

/*
 * Flat and cum by name and type (name * nt + t), sample by sample: both are
 * sums over stacks, so this is the same as merging first.
 */
typedef struct {
	size_t nt, nstacks, cap; /* cap: room by name */
	double *flat, *cum, sign;
	size_t *stamp; /* by name: the last stack added to cum */
} nsums_t;

static void nsums_add(void *arg, const uint32_t *fr, size_t n, const double *v)
{
	nsums_t *ns = arg;
	size_t nt = ns->nt, stamp = ++ns->nstacks;
	for (size_t k = 0; k < n; k++)
		if (fr[k] >= ns->cap) {
			size_t old = ns->cap,
			       cap = 2 * old > fr[k] + 1024 ? 2 * old : fr[k] + 1024;
			ns->flat = realloc(ns->flat, cap * nt * sizeof(double));
			ns->cum = realloc(ns->cum, cap * nt * sizeof(double));
			ns->stamp = realloc(ns->stamp, cap * sizeof(size_t));
			if (!ns->flat || !ns->cum || !ns->stamp)
				die("out of memory");
			memset(ns->flat + old * nt, 0, (cap - old) * nt * sizeof(double));
			memset(ns->cum + old * nt, 0, (cap - old) * nt * sizeof(double));
			memset(ns->stamp + old, 0, (cap - old) * sizeof(size_t));
			ns->cap = cap;
		}
	for (size_t k = 0; k < n; k++) {
		if (ns->stamp[fr[k]] == stamp)
			continue;
		ns->stamp[fr[k]] = stamp;
		for (size_t t = 0; t < nt; t++)
			ns->cum[fr[k] * nt + t] += ns->sign * v[t];
	}
	for (size_t t = 0; n && t < nt; t++)
		ns->flat[fr[n - 1] * nt + t] += ns->sign * v[t];
}

/* The sums of profile last minus profile base (SIZE_MAX: none) in s. */
static void name_sums(const store_t *s, size_t last, size_t base, nsums_t *ns)
{
	memset(ns, 0, sizeof(*ns));
	ns->nt = s->d.nt;
	for (size_t i = 0; i < s->d.n; i++) {
		if (s->d.prof[i] != last && s->d.prof[i] != base)
			continue;
		ns->sign = s->d.prof[i] == last ? 1 : -1;
		nsums_add(ns, s->d.frames + s->d.off[i], s->d.off[i + 1] - s->d.off[i],
		          s->d.val + i * s->d.nt);
	}
}

static void nsums_free(nsums_t *ns)
{
	free(ns->flat);
	free(ns->cum);
	free(ns->stamp);
}

/* Type t's rows (row_t) of the sums name_sums made. */
static void rows_of(table_t *rows, const pp_strtab_t *names, const nsums_t *ns, size_t t)
{
	table_init(rows, sizeof(row_t));
	for (size_t k = 0; k < names->n && k < ns->cap; k++) {
		double fl = ns->flat[k * ns->nt + t], cu = ns->cum[k * ns->nt + t];
		if (fl == 0 && cu == 0)
			continue;
		row_t *r = table_lookup(rows, names->s[k]);
		r->flat += fl;
		r->cum += cu;
	}
}

/* Up to max names of functions with a value, largest cum share first. */
static char **top_names(const store_t *s, size_t last, size_t base, size_t max, size_t *n)
{
	nsums_t ns;
	name_sums(s, last, base, &ns);
	size_t nn = ns.cap < s->names.names.n ? ns.cap : s->names.names.n, nt = s->d.nt;
	rank_t *rv = calloc(nn + 1, sizeof(*rv));
	if (!rv)
		die("out of memory");
	for (size_t k = 0; k < nn; k++) {
		rv[k].key = s->names.names.s[k];
		for (size_t t = 0; t < nt; t++) {
			double total = s->d.total[last * nt + t] +
			               (base != SIZE_MAX ? s->d.total[base * nt + t] : 0);
			double x = total ? fabs(ns.cum[k * nt + t]) / total : 0;
			if (x > rv[k].share)
				rv[k].share = x;
		}
	}
	qsort(rv, nn, sizeof(*rv), cmp_rank);
	char **names = calloc(max + 1, sizeof(*names));
	if (!names)
		die("out of memory");
	for (*n = 0; *n < max && *n < nn && rv[*n].share > 0; (*n)++)
		if (!(names[*n] = strdup(rv[*n].key)))
			die("out of memory");
	free(rv);
	nsums_free(&ns);
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

/*
 * The routines of the top functions of the last snapshot (snaps[n - 1])
 * minus the base, with their lines: the samples of those two again, named
 * by line.
 */
static void find_sources(sources_t *src, snap_t *snaps, size_t n, snap_t *base,
                         const store_t *all)
{
	const snap_t *s = &snaps[n - 1];
	size_t bi = base ? n : SIZE_MAX;
	table_t files;
	table_init(&files, sizeof(routine_t));
	find_routines(s->p, any_file, NULL, &files);
	size_t with_files = files.n;
	table_free(&files);
	src->nt = all->d.nt;
	src->nnames = 0;
	src->names = NULL;
	src->routines = calloc(src->nt, sizeof(table_t));
	if (!src->routines)
		die("out of memory");
	if (with_files) /* some may have no readable file: twice the room */
		src->names = top_names(all, n - 1, bi, 2 * SOURCE_FUNCS, &src->nnames);
	for (size_t t = 0; t < src->nt; t++)
		table_init(&src->routines[t], sizeof(routine_t));
	if (!src->nnames)
		return;
	/* the two profiles again, named by line, summed as they come */
	stacks_t lines;
	stacks_init(&lines, false);
	nsums_t ns = {.nt = all->d.nt, .sign = 1};
	by_lines = true;
	each_stack(&lines, snaps[n - 1].p, &snaps[n - 1].ss, NULL, nsums_add, &ns);
	ns.sign = -1;
	if (base)
		each_stack(&lines, base->p, &base->ss, NULL, nsums_add, &ns);
	by_lines = false;
	for (size_t t = 0; t < src->nt; t++) {
		find_routines(s->p, is_candidate, src, &src->routines[t]);
		table_t rows;
		rows_of(&rows, &lines.names, &ns, t);
		routine_lines(&src->routines[t], &rows);
		table_free(&rows);
	}
	nsums_free(&ns);
	stacks_free(&lines);
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
static void json_lifetimes(FILE *f, const snap_t *snap)
{
	if (pp_sample_index(snap->p, "censored_allocated_objects") < 0)
		return;
	/* A file's samples were packed without their labels: the sites read
	 * the whole file once more (lifetimes profiles are small). A profile
	 * fetched by URL kept its samples, and is not fetched again: another
	 * request would be another window. */
	pp_profile_t *own = snap->p->n_sample ? NULL : load(snap->path);
	const pp_profile_t *p = own ? own : snap->p;
	table_t sites;
	lt_sites(p, snap->path, &sites);
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
	pp_free(own);
}

/* ---- the page --------------------------------------------------------- */

/* What the page is made of. */
typedef struct {
	const trie_t *w;
	const pp_strtab_t *names;
	const snap_t *snaps, *base;
	size_t n;
	const sources_t *src;
	double nodefraction, edgefraction;
} page_t;

/*
 * The template with its @@NAME@@ markers replaced: the style, the script,
 * the data and the title.
 */
static void write_page(FILE *f, const page_t *pg)
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
			json_data(f, pg->w, pg->names, pg->snaps, pg->n, pg->base);
			json_trim(f, pg->w, pg->nodefraction, pg->edgefraction);
			json_sources(f, pg->src);
			json_lifetimes(f, &pg->snaps[pg->n - 1]);
			fputc('}', f);
		} else
			die("internal error: unknown marker in the page template");
		t = end + 2;
	}
	fputs(t, f);
}

static void usage_web(FILE *f)
{
	fprintf(f,
	        "usage: heapprof web [--base OLD] [--nodefraction F] [--edgefraction F] "
	        "PROFILE... -o REPORT.html\n"
	        "Writes one self-contained HTML report (no network access): a "
	        "flame graph,\n"
	        "a top table, callers and callees, the source of the top "
	        "functions,\n"
	        "every sample type, focus and ignore filters; given several "
	        "snapshots of a\n"
	        "process, a timeline of in-use bytes and the stacks that grew. "
	        "With --base,\n"
	        "what changed since OLD. Given a lifetimes profile, its sites' "
	        "lifetimes too.\n"
	        "  --nodefraction F   merge call paths under F of the total into "
	        "(trimmed)\n"
	        "                     frames (default 0.005, as pprof; 0 keeps "
	        "everything)\n"
	        "  --edgefraction F   the same for calls (default 0.001); a call "
	        "weighs its callee\n"
	        "Profiles of different processes are refused: heapprof merge sums "
	        "them into one\n"
	        "profile first.\n");
}

static int cmp_time(const void *a, const void *b)
{
	int64_t x = ((const snap_t *)a)->p->time_nanos,
	        y = ((const snap_t *)b)->p->time_nanos;
	return x < y ? -1 : x > y;
}

static void free_snap(snap_t *s)
{
	pp_samples_free(&s->ss);
	pp_free(s->p);
}

/* The process a profile of the library's came from (its "pid: N"
 * comment), or 0 when it does not say. */
static long profile_pid(const pp_profile_t *p)
{
	for (size_t i = 0; i < p->n_comment; i++) {
		const char *c = pp_str(p, p->comment[i]);
		char *end;
		if (strncmp(c, "pid: ", 5))
			continue;
		long pid = strtol(c + 5, &end, 10);
		if (!*end && pid > 0)
			return pid;
	}
	return 0;
}

/*
 * Several profiles are one process's snapshots, drawn as a timeline. Those
 * of different processes are refused, as a timeline of them would be
 * wrong; the user merges them first to see their sum, as pprof sums several
 * sources.
 */
static void check_one_process(const snap_t *snaps, size_t n)
{
	long first = 0;
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		long pid = profile_pid(snaps[i].p);
		if (!pid)
			continue;
		if (!first) {
			first = pid;
			at = i;
		} else if (pid != first) {
			die("%s (process %ld) and %s (process %ld) are profiles of "
			    "different "
			    "processes; a report's timeline is one process's snapshots. "
			    "For their sum: heapprof merge PROFILE... -o all.pb.gz, then "
			    "heapprof web all.pb.gz",
			    snaps[at].path, first, snaps[i].path, pid);
		}
	}
}

/* Loads the profiles (in time order) and the base; their samples into all. */
static snap_t *load_snaps(store_t *all, char **paths, size_t n, snap_t *base)
{
	snap_t *snaps = calloc(n, sizeof(*snaps));
	if (!snaps)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		snaps[i].path = paths[i];
		snaps[i].p = load_samples(paths[i], &snaps[i].ss);
		if (i)
			check_compatible(snaps[0].p, snaps[i].p, paths[i]);
	}
	check_one_process(snaps, n);
	qsort(snaps, n, sizeof(*snaps), cmp_time);
	if (base->path) {
		base->p = load_samples(base->path, &base->ss);
		check_compatible(snaps[0].p, base->p, base->path);
	}
	symbolize_done(); /* every profile is read */
	store_init(all, n + (base->path != NULL), snaps[0].p->n_sample_type);
	size_t samples = base->path ? base->ss.n : 0,
	       ids = base->path ? base->ss.nbytes : 0;
	for (size_t i = 0; i < n; i++)
		samples += snaps[i].ss.n, ids += snaps[i].ss.nbytes;
	store_reserve(all, samples, ids); /* a byte at least an id */
	for (size_t i = 0; i < n; i++)
		store_add(all, &snaps[i], i);
	if (base->path)
		store_add(all, base, n);
	return snaps;
}

static bool parse_fraction(const char *arg, void *dst)
{
	char *end;
	double x = strtod(arg, &end);
	*(double *)dst = x;
	return *arg && !*end && x >= 0 && x <= 1;
}

int cmd_web(int argc, char **argv)
{
	const char *outpath = NULL;
	snap_t base = {0};
	page_t pg = {.nodefraction = 0.005, .edgefraction = 0.001};
	const opt_t opts[] = {
	    {.name = "base", .has_arg = true, .dst = &base.path},
	    {.name = "nodefraction",
	     .has_arg = true,
	     .dst = &pg.nodefraction,
	     .parse = parse_fraction,
	     .expected = "a fraction from 0 to 1"},
	    {.name = "edgefraction",
	     .has_arg = true,
	     .dst = &pg.edgefraction,
	     .parse = parse_fraction,
	     .expected = "a fraction from 0 to 1"},
	    OPT_OUTPUT(&outpath),
	    {0},
	};
	const cmdline_t cmd = {opts, usage_web, 1, -1};
	int first = parse_options(argc, argv, &cmd);
	size_t n = (size_t)(argc - first);
	store_t all;
	snap_t *snaps = load_snaps(&all, argv + first, n, &base);
	trie_t w;
	uint32_t trimmed = stacks_name(&all.names, "(trimmed)");
	trie_build(&w, &all.d, all.names.names.n, trimmed,
	           pg.nodefraction > pg.edgefraction ? pg.nodefraction : pg.edgefraction);
	FILE *f = strcmp(outpath, "-") ? fopen(outpath, "w") : stdout;
	if (!f)
		die("%s: cannot write: %s", outpath, strerror(errno));
	sources_t src;
	find_sources(&src, snaps, n, base.path ? &base : NULL, &all);
	pg.w = &w, pg.names = &all.names.names, pg.snaps = snaps,
	pg.base = base.path ? &base : NULL, pg.n = n, pg.src = &src;
	write_page(f, &pg);
	free_sources(&src);
	if (f != stdout ? fclose(f) != 0 : fflush(f) != 0)
		die("%s: write error: %s", outpath, strerror(errno));
	for (size_t i = 0; i < n; i++)
		free_snap(&snaps[i]);
	free(snaps);
	if (base.path)
		free_snap(&base);
	trie_free(&w);
	store_free(&all);
	return 0;
}
