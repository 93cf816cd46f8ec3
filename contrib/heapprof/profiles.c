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

/* ---- aggregation ------------------------------------------------------ */

/*
 * Samples are merged by their stack of names (after pruning), as pprof merges
 * a profile with its negated -base before computing anything, so totals are
 * sums of |value| over merged stacks (stacks.c). A location's names are
 * worked out once, not per sample.
 */

/* By location position: its frames' name indexes, leaf first, as kept. */
typedef struct {
	uint32_t *names; /* frames of location i: names[off[i] .. off[i + 1]) */
	size_t *off;
} frames_t;

/*
 * The names of location i's frames into out (room for n_line or 1),
 * inlined functions first; returns how many.
 */
static size_t loc_frames(const index_t *x, size_t i, stacks_t *out, uint32_t *names)
{
	const Perftools__Profiles__Location *l = x->p->location[i];
	if (x->f && (x->loc_flags[i] & LOC_HIDDEN))
		return 0;
	size_t nl = l->n_line ? l->n_line : 1, n = 0;
	for (size_t li = 0; li < nl; li++) {
		if (x->f && l->n_line && !x->line_kept[x->line_off[i] + li])
			continue;
		const char *name =
		    l->n_line ? func_name(x, l->line[li]->function_id) : NULL;
		char fb[64], lb[4096];
		if (name && by_lines)
			name = line_label(x, l->line[li], name, lb, sizeof(lb));
		names[n++] =
		    stacks_name(out, name ? name : loc_fallback(x, l, fb, sizeof(fb)));
	}
	return n;
}

static void build_frames(const index_t *x, stacks_t *out, frames_t *fr)
{
	const pp_profile_t *p = x->p;
	size_t total = 0;
	fr->off = malloc((p->n_location + 1) * sizeof(size_t));
	for (size_t i = 0; i < p->n_location; i++)
		total += p->location[i]->n_line ? p->location[i]->n_line : 1;
	fr->names = malloc((total + 1) * sizeof(uint32_t));
	if (!fr->off || !fr->names)
		die("out of memory");
	fr->off[0] = 0;
	for (size_t i = 0; i < p->n_location; i++)
		fr->off[i + 1] =
		    fr->off[i] + loc_frames(x, i, out, fr->names + fr->off[i]);
}

/* Room for a sample's positions and names. */
typedef struct {
	size_t *pos;
	uint32_t *names;
	uint8_t *inl; /* by name: inlined into the one before (a location's inner line) */
	size_t cap_pos, cap_names, cap_inl;
	const uint8_t *loc_want; /* by location position: fill inl if one is marked */
	bool want_inl;           /* inl is filled for this sample */
} scratch_t;

/*
 * sample_names' last step when a location of the sample holds an inlined
 * function: its names, and in sc->inl which of them is inlined into the one
 * before it (a location's inner line). Returns how many.
 */
static size_t names_inlined(const frames_t *fr, size_t from, size_t n, scratch_t *sc)
{
	static const pp_alloc_t libc = {realloc, free};
	size_t nn = 0;
	if (!(sc->inl =
	          pp_grow(&libc, sc->inl, &sc->cap_inl, sc->cap_names, sizeof(uint8_t))))
		die("out of memory");
	for (size_t k = n; k-- > from;) {
		/* callers first; last: past the location's outermost line */
		size_t last = fr->off[sc->pos[k] + 1];
		for (size_t j = last; j-- > fr->off[sc->pos[k]];) {
			sc->inl[nn] = j + 1 != last;
			sc->names[nn++] = fr->names[j];
		}
	}
	return nn;
}

/*
 * Sample i of ss as names, root first, in sc->names; returns how many, or
 * SIZE_MAX when the filters drop it (pprof drops a sample with nothing left).
 */
static size_t sample_names(const index_t *x, const frames_t *fr, const pp_samples_t *ss,
                           size_t i, scratch_t *sc)
{
	static const pp_alloc_t libc = {realloc, free};
	size_t n = 0, nn = 0, need = 0;
	uint8_t marked = 0; /* a location of it has an inlined function's line */
	const uint8_t *q = ss->ids + ss->off[i], *end = ss->ids + ss->off[i + 1];
	/* a byte at least per id */
	if (!(sc->pos = pp_grow(&libc, sc->pos, &sc->cap_pos, (size_t)(end - q) + 1,
	                        sizeof(size_t))))
		die("out of memory");
	while (q < end) {
		uint64_t id;
		q = pp_next_id(q, &id);
		size_t pos = sc->pos[n++] =
		    idx_pos(&x->locs, id); /* validated: present */
		need += fr->off[pos + 1] - fr->off[pos];
		if (sc->loc_want)
			marked |= sc->loc_want[pos];
	}
	size_t from = first_kept(x, sc->pos, n);
	if (x->f && !wanted(x, sc->pos, from, n))
		return SIZE_MAX;
	if (!(sc->names =
	          pp_grow(&libc, sc->names, &sc->cap_names, need + 1, sizeof(uint32_t))))
		die("out of memory");
	sc->want_inl = marked;
	if (marked)
		nn = names_inlined(fr, from, n, sc);
	else
		for (size_t k = n; k-- > from;) /* callers first */
			for (size_t j = fr->off[sc->pos[k] + 1];
			     j-- > fr->off[sc->pos[k]];)
				sc->names[nn++] = fr->names[j];
	return x->f && nn == 0 ? SIZE_MAX : nn;
}

/* What walking a profile's samples as stacks of names needs. */
typedef struct {
	index_t x;
	frames_t fr;
	scratch_t sc;
	pp_samples_t own;
	const pp_samples_t *ss;
} walk_t;

static void walk_begin(walk_t *w, stacks_t *out, const pp_profile_t *p,
                       const pp_samples_t *ss, const filter_t *f)
{
	memset(w, 0, sizeof(*w));
	if (!ss) {
		if (!pp_samples_from_profile(p, &w->own))
			die("out of memory");
		ss = &w->own;
	}
	w->ss = ss;
	build_index(&w->x, p, f);
	build_frames(&w->x, out, &w->fr);
}

static void walk_end(walk_t *w)
{
	free(w->sc.pos);
	free(w->sc.names);
	free(w->sc.inl);
	free(w->fr.names);
	free(w->fr.off);
	free_index(&w->x);
	if (w->ss == &w->own)
		pp_samples_free(&w->own);
}

/*
 * The functions that are an inner line of some location (inlined there),
 * by name index, or NULL if none is: only calls into them can make a label
 * (a profile alone; most native ones have no inlined frame at all). With
 * *loc, by location, whether one of its lines is such a function: samples
 * through none of those have no call to note.
 */
static uint8_t *inlined_names(const stacks_t *out, const frames_t *fr, size_t nloc,
                              uint8_t **loc)
{
	uint8_t *mark = NULL;
	*loc = NULL;
	for (size_t i = 0; i < nloc; i++)
		for (size_t j = fr->off[i]; j + 1 < fr->off[i + 1]; j++) {
			if (!mark && !(mark = calloc(out->names.n, 1)))
				die("out of memory");
			mark[fr->names[j]] = 1; /* names[off[i + 1] - 1]: the outermost */
		}
	if (!mark)
		return NULL;
	if (!(*loc = calloc(nloc ? nloc : 1, 1)))
		die("out of memory");
	for (size_t i = 0; i < nloc; i++)
		for (size_t j = fr->off[i]; j < fr->off[i + 1] && !(*loc)[i]; j++)
			(*loc)[i] = mark[fr->names[j]];
	return mark;
}

void add_stacks(stacks_t *out, const pp_profile_t *p, const pp_samples_t *ss, int vi,
                double sign, const filter_t *f)
{
	walk_t w;
	walk_begin(&w, out, p, ss, f);
	uint8_t *loc = NULL, *want = NULL;
	if (out->inline_calls == 1) {
		want = inlined_names(out, &w.fr, p->n_location, &loc);
	} else if (out->inline_calls == 2) {
		/* Several profiles merged: every call (one without inlined
		 * frames still has calls that make another's partly inlined). */
		if (!(loc = malloc(p->n_location + 1)))
			die("out of memory");
		memset(loc, 1, p->n_location + 1);
	}
	w.sc.loc_want = loc;
	ss = w.ss;
	/* a byte at least a location id, mostly one name a location */
	stacks_reserve(out, ss->n, ss->nbytes);
	for (size_t i = 0; i < ss->n; i++) {
		double v = sign * ss->values[i * ss->nvalues + (size_t)vi];
		if (v == 0)
			continue;
		size_t n = sample_names(&w.x, &w.fr, ss, i, &w.sc);
		if (n == SIZE_MAX)
			continue;
		stacks_add(out, w.sc.names, n, v);
		if (w.sc.want_inl)
			stacks_note_calls(out, w.sc.names, w.sc.inl, n, v, want);
	}
	free(want);
	free(loc);
	walk_end(&w);
}

void each_stack(stacks_t *out, const pp_profile_t *p, const pp_samples_t *ss,
                const filter_t *f, stack_fn *fn, void *arg)
{
	walk_t w;
	walk_begin(&w, out, p, ss, f);
	ss = w.ss;
	for (size_t i = 0; i < ss->n; i++) {
		const double *v = ss->values + i * ss->nvalues;
		size_t k = 0;
		while (k < ss->nvalues && !v[k])
			k++;
		if (k == ss->nvalues)
			continue; /* nothing in any sample type */
		size_t n = sample_names(&w.x, &w.fr, ss, i, &w.sc);
		if (n != SIZE_MAX)
			fn(arg, w.sc.names, n, v);
	}
	walk_end(&w);
}
