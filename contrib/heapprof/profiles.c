/* SPDX-License-Identifier: MIT */
/*
 * profiles: merging the samples of loaded profiles by stack of function
 * names, as pprof does: drop_frames pruning, [mapping] or address for a
 * location without a function, several profiles summed and a -base profile
 * merged in negated before anything is totalled, then pprof's
 * focus/ignore/hide/show (compiled in filter.c). Loading a file is load.c's;
 * printing is report.c's and flame.c's.
 */
#include "heapprof.h"

#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- function names per location ------------------------------------- */

#define IDS_OF(arr, n, out)                                                              \
	do {                                                                             \
		out = malloc(((n) ? (n) : 1) * sizeof(uint64_t));                        \
		if (!out)                                                                \
			die("out of memory");                                            \
		for (size_t i_ = 0; i_ < (n); i_++)                                      \
			out[i_] = (arr)[i_]->id;                                         \
	} while (0)

typedef struct {
	const pp_profile_t *p;
	id_index_t funcs, locs, maps;
	bool *pruned_loc;    /* by location position: drop it and everything leafward */
	bool *prune_beneath; /* by location position: drop everything leafward of it */
	const filter_t *f;   /* NULL or not active: no filtering */
	unsigned char *loc_flags; /* by location position: LOC_* */
	size_t *line_off;         /* by location position: its first entry in line_kept */
	bool *line_kept;          /* by line: not hidden by hide/show */
} index_t;

enum { LOC_FOCUS = 1, LOC_IGNORE = 2, LOC_HIDDEN = 4 };

static const char *func_name(const index_t *x, uint64_t fid)
{
	size_t i = fid ? idx_pos(&x->funcs, fid) : SIZE_MAX;
	if (i == SIZE_MAX)
		return NULL;
	const char *n = pp_str(x->p, x->p->function[i]->name);
	return *n ? n : NULL;
}

bool by_lines;

/* pprof -lines' name of a frame, "function file:line", when its line is known. */
static const char *line_label(const index_t *x, const Perftools__Profiles__Line *ln,
                              const char *name, char *buf, size_t len)
{
	size_t i = idx_pos(&x->funcs, ln->function_id);
	const char *file = i == SIZE_MAX ? "" : pp_str(x->p, x->p->function[i]->filename);
	if (!ln->line || !*file)
		return name;
	snprintf(buf, len, "%s %s:%" PRId64, name, file, ln->line);
	return buf;
}

/* pprof's name for a location with no function: [mapping basename] or the address. */
static const char *loc_fallback(const index_t *x, const Perftools__Profiles__Location *l,
                                char *buf, size_t len)
{
	size_t mi = l->mapping_id ? idx_pos(&x->maps, l->mapping_id) : SIZE_MAX;
	if (mi != SIZE_MAX) {
		const char *f = pp_str(x->p, x->p->mapping[mi]->filename);
		const char *b = strrchr(f, '/');
		if (*f) {
			snprintf(buf, len, "[%s]", b ? b + 1 : f);
			return buf;
		}
	}
	snprintf(buf, len, "%#" PRIx64, l->address);
	return buf;
}

/* Strips a C++ parameter list as pprof's simplifyFunc does before matching. */
static void simplify(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name);
	char *paren = strchr(buf, '(');
	if (paren && paren != buf && strncmp(buf, "operator()", 10))
		*paren = '\0';
}

/*
 * Marks the locations whose innermost function matching drop_frames (the
 * whole name, without C++ parameters) makes pprof drop the location itself
 * (pruned_loc) or only what it calls (prune_beneath).
 */
static void mark_drop_frames(index_t *x)
{
	const pp_profile_t *p = x->p;
	const char *drop = pp_str(p, p->drop_frames);
	if (!*drop)
		return;
	char *rx = malloc(strlen(drop) + 8);
	if (!rx)
		die("out of memory");
	sprintf(rx, "^(%s)$", drop);
	regex_t re;
	if (regcomp(&re, rx, REG_EXTENDED | REG_NOSUB)) {
		free(rx);
		return; /* pprof ignores a bad drop_frames too */
	}
	free(rx);
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];
		for (size_t k = l->n_line; k-- > 0;) {
			const char *n = func_name(x, l->line[k]->function_id);
			char s[1024];
			if (!n)
				continue;
			simplify(n, s, sizeof(s));
			if (!regexec(&re, s, 0, NULL, 0)) {
				x->prune_beneath[i] = true;
				if (k == l->n_line - 1)
					x->pruned_loc[i] = true;
				break;
			}
		}
	}
	regfree(&re);
}

/* pprof's Location.matchesName: a function's name or file, or the mapping's file. */
static bool line_matches(const index_t *x, const Perftools__Profiles__Line *ln, int which)
{
	size_t i = ln->function_id ? idx_pos(&x->funcs, ln->function_id) : SIZE_MAX;
	if (i == SIZE_MAX)
		return false;
	const Perftools__Profiles__Function *fn = x->p->function[i];
	return filter_matches(x->f, which, pp_str(x->p, fn->name)) ||
	       filter_matches(x->f, which, pp_str(x->p, fn->filename));
}

static bool mapping_matches(const index_t *x, const Perftools__Profiles__Location *l,
                            int which)
{
	size_t mi = l->mapping_id ? idx_pos(&x->maps, l->mapping_id) : SIZE_MAX;
	return mi != SIZE_MAX &&
	       filter_matches(x->f, which, pp_str(x->p, x->p->mapping[mi]->filename));
}

static bool loc_matches(const index_t *x, const Perftools__Profiles__Location *l,
                        int which)
{
	for (size_t k = 0; k < l->n_line; k++)
		if (line_matches(x, l->line[k], which))
			return true;
	return mapping_matches(x, l, which);
}

/*
 * pprof's FilterSamplesByName, per location: whether it is focused or
 * ignored (judged on all its lines), which lines hide and show leave, and
 * whether nothing is left of it.
 */
static void mark_filters(index_t *x)
{
	const pp_profile_t *p = x->p;
	size_t nlines = 0;
	x->loc_flags = calloc(p->n_location + 1, 1);
	x->line_off = calloc(p->n_location + 1, sizeof(size_t));
	for (size_t i = 0; i < p->n_location; i++)
		nlines += p->location[i]->n_line;
	x->line_kept = calloc(nlines + 1, sizeof(bool));
	if (!x->loc_flags || !x->line_off || !x->line_kept)
		die("out of memory");
	const filter_t *f = x->f;
	nlines = 0;
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];
		if (f->on[F_IGNORE] && loc_matches(x, l, F_IGNORE))
			x->loc_flags[i] |= LOC_IGNORE;
		else if (!f->on[F_FOCUS] || loc_matches(x, l, F_FOCUS))
			x->loc_flags[i] |= LOC_FOCUS;
		bool hide_all = f->on[F_HIDE] && mapping_matches(x, l, F_HIDE);
		bool show_all = f->on[F_SHOW] && mapping_matches(x, l, F_SHOW);
		size_t kept = 0;
		x->line_off[i] = nlines;
		for (size_t k = 0; k < l->n_line; k++) {
			const Perftools__Profiles__Line *ln = l->line[k];
			bool keep = !hide_all && !line_matches(x, ln, F_HIDE);
			/* show keeps a line without a function (pprof's matchedLines) */
			if (keep && f->on[F_SHOW] && !show_all && ln->function_id &&
			    idx_pos(&x->funcs, ln->function_id) != SIZE_MAX)
				keep = line_matches(x, ln, F_SHOW);
			x->line_kept[nlines++] = keep;
			kept += keep;
		}
		/* A location without lines survives hide unless its mapping
		   matches, and never survives show (pprof). */
		if (l->n_line ? kept == 0 : hide_all || f->on[F_SHOW])
			x->loc_flags[i] |= LOC_HIDDEN;
	}
}

static void build_index(index_t *x, const pp_profile_t *p, const filter_t *f)
{
	memset(x, 0, sizeof(*x));
	x->p = p;
	uint64_t *ids;
	IDS_OF(p->function, p->n_function, ids);
	idx_build(&x->funcs, ids, p->n_function);
	free(ids);
	IDS_OF(p->location, p->n_location, ids);
	idx_build(&x->locs, ids, p->n_location);
	free(ids);
	IDS_OF(p->mapping, p->n_mapping, ids);
	idx_build(&x->maps, ids, p->n_mapping);
	free(ids);
	x->pruned_loc = calloc(p->n_location + 1, 1);
	x->prune_beneath = calloc(p->n_location + 1, 1);
	if (!x->pruned_loc || !x->prune_beneath)
		die("out of memory");
	mark_drop_frames(x);
	if (filter_active(f)) {
		x->f = f;
		mark_filters(x);
	}
}

static void free_index(index_t *x)
{
	idx_free(&x->funcs);
	idx_free(&x->locs);
	idx_free(&x->maps);
	free(x->pruned_loc);
	free(x->prune_beneath);
	free(x->loc_flags);
	free(x->line_off);
	free(x->line_kept);
}

/*
 * The index of the first kept frame of a sample whose locations are at
 * positions pos[0..n) (pprof's Prune).
 */
static size_t first_kept(const index_t *x, const size_t *pos, size_t n)
{
	bool found_user = false;
	for (size_t i = n; i-- > 0;) {
		size_t l = pos[i];
		if (!x->pruned_loc[l] && !x->prune_beneath[l]) {
			found_user = true;
			continue;
		}
		if (!found_user)
			continue;
		return x->pruned_loc[l] ? i + 1 : i;
	}
	return 0;
}

/* ---- aggregation ------------------------------------------------------ */

/*
 * Samples are first merged by their stack of names (after pruning), as pprof
 * merges a profile with its negated -base before computing anything, so
 * totals are sums of |value| over merged stacks. Then each stack's value goes
 * to its leaf function (flat) and once to every function on it (cum).
 */

/* A stack's key as it is built: names, each followed by '\n'. */
typedef struct {
	char *s;
	size_t len, cap;
} keybuf_t;

static void key_append(keybuf_t *k, const char *name)
{
	size_t nlen = strlen(name);
	if (k->len + nlen + 2 > k->cap) {
		k->cap = (k->len + nlen + 2) * 2;
		k->s = realloc(k->s, k->cap);
		if (!k->s)
			die("out of memory");
	}
	memcpy(k->s + k->len, name, nlen);
	k->len += nlen;
	k->s[k->len++] = '\n';
	k->s[k->len] = '\0';
}

/*
 * pprof's focusedAndNotIgnored over the locations pos[from..n): no location
 * ignored and one focused (any one, without --focus).
 */
static bool wanted(const index_t *x, const size_t *pos, size_t from, size_t n)
{
	bool focused = false;
	for (size_t i = from; i < n; i++) {
		if (x->loc_flags[pos[i]] & LOC_IGNORE)
			return false;
		focused |= (x->loc_flags[pos[i]] & LOC_FOCUS) != 0;
	}
	return focused;
}

/*
 * The key of sample s into k: the names of its kept frames, leaf first,
 * inlined functions before their callers. pos: room for a position per
 * location of s. False if the filters drop the sample.
 */
static bool sample_key(const index_t *x, const Perftools__Profiles__Sample *s,
                       size_t *pos, keybuf_t *k)
{
	k->len = 0;
	k->s[0] = '\0';
	for (size_t i = 0; i < s->n_location_id; i++)
		pos[i] = idx_pos(&x->locs, s->location_id[i]); /* validated: present */
	size_t from = first_kept(x, pos, s->n_location_id);
	if (x->f && !wanted(x, pos, from, s->n_location_id))
		return false;
	for (size_t i = from; i < s->n_location_id; i++) {
		const Perftools__Profiles__Location *l = x->p->location[pos[i]];
		if (x->f && (x->loc_flags[pos[i]] & LOC_HIDDEN))
			continue;
		char fb[64];
		size_t nl = l->n_line ? l->n_line : 1;
		for (size_t li = 0; li < nl; li++) {
			if (x->f && l->n_line && !x->line_kept[x->line_off[pos[i]] + li])
				continue;
			const char *n =
			    l->n_line ? func_name(x, l->line[li]->function_id) : NULL;
			char lb[4096];
			if (n && by_lines)
				n = line_label(x, l->line[li], n, lb, sizeof(lb));
			key_append(k, n ? n : loc_fallback(x, l, fb, sizeof(fb)));
		}
	}
	return !x->f || k->len > 0; /* pprof drops a sample with nothing left */
}

void add_profile(table_t *stacks, const pp_profile_t *p, int vi, double sign)
{
	add_filtered(stacks, p, vi, sign, NULL);
}

void add_filtered(table_t *stacks, const pp_profile_t *p, int vi, double sign,
                  const filter_t *f)
{
	index_t x;
	build_index(&x, p, f);
	keybuf_t key = {malloc(4096), 0, 4096};
	if (!key.s)
		die("out of memory");
	size_t npos = 0, *pos = NULL;
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		double v = sign * (double)s->value[vi];
		if (v == 0)
			continue;
		if (s->n_location_id > npos) {
			npos = s->n_location_id * 2;
			pos = realloc(pos, npos * sizeof(*pos));
			if (!pos)
				die("out of memory");
		}
		if (!sample_key(&x, s, pos, &key))
			continue;
		merged_t *st = table_lookup(stacks, key.s);
		st->value += v;
	}
	free(key.s);
	free(pos);
	free_index(&x);
}

/* Per-function flat and cum from merged stacks; returns the total (sum |v|). */
double by_function(const table_t *stacks, table_t *rows)
{
	double total = 0;
	for (size_t i = 0; i < stacks->n; i++) {
		const merged_t *st = (const merged_t *)stacks->items + i;
		double v = st->value;
		if (v == 0)
			continue;
		total += v < 0 ? -v : v;
		char *k = strdup(st->key);
		if (!k)
			die("out of memory");
		bool leaf = true;
		for (char *n = k, *nl; *n; n = nl + 1) {
			nl = strchr(n, '\n');
			*nl = '\0';
			row_t *r = table_lookup(rows, n);
			if (leaf)
				r->flat += v;
			leaf = false;
			if (r->seen != i + 1) {
				r->cum += v;
				r->seen = (unsigned)i + 1;
			}
		}
		free(k);
	}
	return total;
}
