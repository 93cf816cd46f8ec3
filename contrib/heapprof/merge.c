/* SPDX-License-Identifier: MIT */
/*
 * merge: several profiles into one file (heapprof merge), as pprof merges
 * its sources: strings, functions, mappings and locations deduplicated,
 * samples with the same locations and labels summed, written gzipped.
 * Reading a file is lib/pprof's; the stacks by name the other commands use
 * are profiles.c's.
 */
#include "heapprof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef Perftools__Profiles__Profile profile_t;

/* An object of the output by its key: pos + 1 in its array, 0 while new. */
typedef struct {
	char *key;
	size_t pos;
} slot_t;

/* The merged profile as it is built, and the tables that deduplicate it. */
typedef struct {
	profile_t out;
	table_t strs; /* entries: just the key; the index is the string's */
	table_t funcs, maps, locs, samples;
	size_t cap_funcs, cap_maps, cap_locs, cap_samples;
	char *key; /* scratch for keys */
	size_t keycap;
} merger_t;

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		die("out of memory");
	return p;
}

/* The output's index of src's string i. */
static int64_t str(merger_t *m, const profile_t *src, int64_t i)
{
	char **e = table_lookup(&m->strs, pp_str(src, i));
	return (int64_t)(e - (char **)m->strs.items);
}

/* Appends to m->key, growing it. */
static void keyf(merger_t *m, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void keyf(merger_t *m, size_t *len, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(m->key + *len, m->keycap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("out of memory");
		if ((size_t)n < m->keycap - *len) {
			*len += (size_t)n;
			return;
		}
		m->keycap *= 2;
		if (!(m->key = realloc(m->key, m->keycap)))
			die("out of memory");
	}
}

/* The slot for m->key in t; a new one gets the next position in *arr. */
static slot_t *slot(table_t *t, const char *key, void ***arr, size_t *n, size_t *cap,
                    size_t size)
{
	slot_t *s = table_lookup(t, key);
	if (s->pos)
		return s;
	static const pp_alloc_t libc = {realloc, free};
	void **a = pp_grow(&libc, *arr, cap, *n + 1, sizeof(void *));
	if (!a)
		die("out of memory");
	*arr = a;
	a[*n] = xcalloc(1, size);
	s->pos = ++*n;
	return s;
}

static uint64_t add_function(merger_t *m, const profile_t *src,
                             const Perftools__Profiles__Function *f)
{
	int64_t name = str(m, src, f->name), sys = str(m, src, f->system_name),
	        file = str(m, src, f->filename);
	size_t len = 0;
	keyf(m, &len, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64, name, sys, file,
	     f->start_line);
	slot_t *s =
	    slot(&m->funcs, m->key, (void ***)&m->out.function, &m->out.n_function,
	         &m->cap_funcs, sizeof(Perftools__Profiles__Function));
	Perftools__Profiles__Function *o = m->out.function[s->pos - 1];
	if (!o->id) {
		*o = (Perftools__Profiles__Function)PERFTOOLS__PROFILES__FUNCTION__INIT;
		o->id = s->pos;
		o->name = name;
		o->system_name = sys;
		o->filename = file;
		o->start_line = f->start_line;
	}
	return o->id;
}

static uint64_t add_mapping(merger_t *m, const profile_t *src,
                            const Perftools__Profiles__Mapping *p)
{
	int64_t file = str(m, src, p->filename), bid = str(m, src, p->build_id);
	size_t len = 0;
	keyf(m, &len, "%" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRId64 " %" PRId64,
	     p->memory_start, p->memory_limit, p->file_offset, file, bid);
	slot_t *s = slot(&m->maps, m->key, (void ***)&m->out.mapping, &m->out.n_mapping,
	                 &m->cap_maps, sizeof(Perftools__Profiles__Mapping));
	Perftools__Profiles__Mapping *o = m->out.mapping[s->pos - 1];
	if (!o->id) {
		*o = (Perftools__Profiles__Mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
		o->id = s->pos;
		o->memory_start = p->memory_start;
		o->memory_limit = p->memory_limit;
		o->file_offset = p->file_offset;
		o->filename = file;
		o->build_id = bid;
		o->has_functions = p->has_functions;
		o->has_filenames = p->has_filenames;
		o->has_line_numbers = p->has_line_numbers;
		o->has_inline_frames = p->has_inline_frames;
	}
	return o->id;
}

/* A source's ids, by position, in the output: 0 for what it does not have. */
typedef struct {
	id_index_t funcs, maps, locs;
	uint64_t *fid, *mid, *lid;
} renum_t;

#define IDS(arr, n, x)                                                                   \
	do {                                                                             \
		uint64_t *ids_ = xcalloc((n), sizeof(uint64_t));                         \
		for (size_t i_ = 0; i_ < (n); i_++)                                      \
			ids_[i_] = (arr)[i_]->id;                                        \
		idx_build((x), ids_, (n));                                               \
		free(ids_);                                                              \
	} while (0)

static uint64_t new_id(const id_index_t *x, const uint64_t *ids, uint64_t id)
{
	size_t i = id ? idx_pos(x, id) : SIZE_MAX;
	return i == SIZE_MAX ? 0 : ids[i];
}

static uint64_t add_location(merger_t *m, const renum_t *r,
                             const Perftools__Profiles__Location *l)
{
	uint64_t mid = new_id(&r->maps, r->mid, l->mapping_id);
	size_t len = 0;
	keyf(m, &len, "%" PRIu64 " %" PRIx64 " %d", mid, l->address, (int)l->is_folded);
	for (size_t k = 0; k < l->n_line; k++)
		keyf(m, &len, " %" PRIu64 ":%" PRId64 ":%" PRId64,
		     new_id(&r->funcs, r->fid, l->line[k]->function_id), l->line[k]->line,
		     l->line[k]->column);
	slot_t *s = slot(&m->locs, m->key, (void ***)&m->out.location, &m->out.n_location,
	                 &m->cap_locs, sizeof(Perftools__Profiles__Location));
	Perftools__Profiles__Location *o = m->out.location[s->pos - 1];
	if (o->id)
		return o->id;
	*o = (Perftools__Profiles__Location)PERFTOOLS__PROFILES__LOCATION__INIT;
	o->id = s->pos;
	o->mapping_id = mid;
	o->address = l->address;
	o->is_folded = l->is_folded;
	o->n_line = l->n_line;
	o->line = xcalloc(l->n_line, sizeof(*o->line));
	for (size_t k = 0; k < l->n_line; k++) {
		o->line[k] = xcalloc(1, sizeof(**o->line));
		*o->line[k] = (Perftools__Profiles__Line)PERFTOOLS__PROFILES__LINE__INIT;
		o->line[k]->function_id =
		    new_id(&r->funcs, r->fid, l->line[k]->function_id);
		o->line[k]->line = l->line[k]->line;
		o->line[k]->column = l->line[k]->column;
	}
	return o->id;
}

/* A new output sample like s (locations lids, labels re-indexed), values zero. */
static void init_sample(merger_t *m, const profile_t *src,
                        const Perftools__Profiles__Sample *s, const uint64_t *lids,
                        Perftools__Profiles__Sample *o)
{
	*o = (Perftools__Profiles__Sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
	o->n_location_id = s->n_location_id;
	o->location_id = xcalloc(s->n_location_id, sizeof(uint64_t));
	memcpy(o->location_id, lids, s->n_location_id * sizeof(uint64_t));
	o->n_value = m->out.n_sample_type;
	o->value = xcalloc(o->n_value, sizeof(int64_t));
	o->n_label = s->n_label;
	o->label = xcalloc(s->n_label, sizeof(*o->label));
	for (size_t k = 0; k < s->n_label; k++) {
		const Perftools__Profiles__Label *l = s->label[k];
		Perftools__Profiles__Label *ol = o->label[k] =
		    xcalloc(1, sizeof(**o->label));
		*ol = (Perftools__Profiles__Label)PERFTOOLS__PROFILES__LABEL__INIT;
		ol->key = str(m, src, l->key);
		ol->str = l->str ? str(m, src, l->str) : 0;
		ol->num = l->num;
		ol->num_unit = l->num_unit ? str(m, src, l->num_unit) : 0;
	}
}

static void add_sample(merger_t *m, const profile_t *src, const renum_t *r,
                       const Perftools__Profiles__Sample *s, uint64_t *lids)
{
	size_t len = 0;
	m->key[0] = '\0';
	for (size_t k = 0; k < s->n_location_id; k++) {
		lids[k] = new_id(&r->locs, r->lid, s->location_id[k]);
		keyf(m, &len, "%" PRIu64 " ", lids[k]);
	}
	for (size_t k = 0; k < s->n_label; k++) {
		const Perftools__Profiles__Label *l = s->label[k];
		keyf(m, &len, "|%" PRId64 "=%" PRId64 ",%" PRId64 ",%" PRId64,
		     str(m, src, l->key), l->str ? str(m, src, l->str) : 0, l->num,
		     l->num_unit ? str(m, src, l->num_unit) : 0);
	}
	slot_t *sl = slot(&m->samples, m->key, (void ***)&m->out.sample, &m->out.n_sample,
	                  &m->cap_samples, sizeof(Perftools__Profiles__Sample));
	Perftools__Profiles__Sample *o = m->out.sample[sl->pos - 1];
	if (!o->value)
		init_sample(m, src, s, lids, o);
	for (size_t v = 0; v < o->n_value && v < s->n_value; v++)
		o->value[v] += s->value[v];
}

/* Adds src (its sample types already checked) to m. */
static void add_source(merger_t *m, const profile_t *src)
{
	renum_t r;
	IDS(src->function, src->n_function, &r.funcs);
	IDS(src->mapping, src->n_mapping, &r.maps);
	IDS(src->location, src->n_location, &r.locs);
	r.fid = xcalloc(src->n_function, sizeof(uint64_t));
	r.mid = xcalloc(src->n_mapping, sizeof(uint64_t));
	r.lid = xcalloc(src->n_location, sizeof(uint64_t));
	for (size_t i = 0; i < src->n_function; i++)
		r.fid[i] = add_function(m, src, src->function[i]);
	for (size_t i = 0; i < src->n_mapping; i++)
		r.mid[i] = add_mapping(m, src, src->mapping[i]);
	for (size_t i = 0; i < src->n_location; i++)
		r.lid[i] = add_location(m, &r, src->location[i]);
	size_t nlids = 1;
	for (size_t i = 0; i < src->n_sample; i++)
		if (src->sample[i]->n_location_id > nlids)
			nlids = src->sample[i]->n_location_id;
	uint64_t *lids = xcalloc(nlids, sizeof(uint64_t));
	for (size_t i = 0; i < src->n_sample; i++)
		add_sample(m, src, &r, src->sample[i], lids);
	free(lids);
	for (size_t i = 0; i < src->n_comment; i++) {
		int64_t c = str(m, src, src->comment[i]);
		bool dup = false;
		for (size_t k = 0; k < m->out.n_comment && !dup; k++)
			dup = m->out.comment[k] == c;
		if (!dup) {
			m->out.comment = realloc(m->out.comment, (m->out.n_comment + 1) *
			                                             sizeof(int64_t));
			if (!m->out.comment)
				die("out of memory");
			m->out.comment[m->out.n_comment++] = c;
		}
	}
	idx_free(&r.funcs);
	idx_free(&r.maps);
	idx_free(&r.locs);
	free(r.fid);
	free(r.mid);
	free(r.lid);
}

static Perftools__Profiles__ValueType *value_type(merger_t *m, const profile_t *src,
                                                  const Perftools__Profiles__ValueType *t)
{
	Perftools__Profiles__ValueType *o = xcalloc(1, sizeof(*o));
	*o = (Perftools__Profiles__ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	o->type = str(m, src, t->type);
	o->unit = str(m, src, t->unit);
	return o;
}

/* The header of the output from the first profile: types, period, frames. */
static void start(merger_t *m, const profile_t *first)
{
	memset(m, 0, sizeof(*m));
	m->out = (profile_t)PERFTOOLS__PROFILES__PROFILE__INIT;
	table_init(&m->strs, sizeof(char *));
	table_init(&m->funcs, sizeof(slot_t));
	table_init(&m->maps, sizeof(slot_t));
	table_init(&m->locs, sizeof(slot_t));
	table_init(&m->samples, sizeof(slot_t));
	m->keycap = 256;
	m->key = xcalloc(m->keycap, 1);
	table_lookup(&m->strs, ""); /* string_table[0] */
	m->out.n_sample_type = first->n_sample_type;
	m->out.sample_type = xcalloc(first->n_sample_type, sizeof(void *));
	for (size_t i = 0; i < first->n_sample_type; i++)
		m->out.sample_type[i] = value_type(m, first, first->sample_type[i]);
	if (first->period_type)
		m->out.period_type = value_type(m, first, first->period_type);
	m->out.drop_frames = str(m, first, first->drop_frames);
	m->out.keep_frames = str(m, first, first->keep_frames);
	m->out.default_sample_type = str(m, first, first->default_sample_type);
	m->out.doc_url = str(m, first, first->doc_url);
}

/* pprof's Merge: the earliest time, the durations summed, the largest period. */
static void add_times(merger_t *m, const profile_t *p)
{
	if (p->time_nanos && (!m->out.time_nanos || p->time_nanos < m->out.time_nanos))
		m->out.time_nanos = p->time_nanos;
	m->out.duration_nanos += p->duration_nanos;
	if (p->period > m->out.period)
		m->out.period = p->period;
}

static void usage_merge(FILE *f)
{
	fprintf(f, "usage: heapprof merge PROFILE... -o OUT.pb.gz\n"
	           "Writes one profile holding the samples of all (say, the workers of "
	           "a forking\n"
	           "server): samples with the same stack and labels summed, functions, "
	           "mappings\n"
	           "and locations deduplicated. The profiles must have the same sample "
	           "types.\n"
	           "go tool pprof and every heapprof command read the result.\n");
}

int cmd_merge(int argc, char **argv)
{
	const char *outpath = NULL;
	const opt_t opts[] = {
	    OPT_OUTPUT(&outpath),
	    {0},
	};
	const cmdline_t cmd = {opts, usage_merge, 1, -1};
	int first = parse_options(argc, argv, &cmd);
	int n = argc - first;
	pp_profile_t **ps = xcalloc((size_t)n, sizeof(*ps));
	for (int i = 0; i < n; i++) {
		ps[i] = load(argv[first + i]);
		if (i && !same_types(ps[0], ps[i]))
			die("%s: sample types differ from %s's; cannot merge",
			    argv[first + i], argv[first]);
	}
	merger_t m;
	start(&m, ps[0]);
	for (int i = 0; i < n; i++) {
		add_source(&m, ps[i]);
		add_times(&m, ps[i]);
	}
	m.out.n_string_table = m.strs.n;
	m.out.string_table = m.strs.keys.s;
	write_profile(&m.out, outpath);
	/* The merged messages are left to exit: freeing them one by one buys nothing. */
	for (int i = 0; i < n; i++)
		pp_free(ps[i]);
	free(ps);
	return 0;
}
