/* SPDX-License-Identifier: MIT */
/*
 * read: file -> bytes (inflating gzip) -> protobuf-c unpack -> checks, with
 * a one-line reason for whatever is rejected. Its only allocator is the C
 * library's: the preloaded library never calls it (it is linked with
 * --gc-sections, which leaves the reader out).
 */
#include "pprof/pprof.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_PROFILE_BYTES (1u << 30)

static void *fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return NULL;
}

/*
 * buf (cap bytes, and extra for a terminator) at twice the size, up to
 * MAX_PROFILE_BYTES; or NULL, with buf freed.
 */
static unsigned char *double_buffer(unsigned char *buf, size_t *cap, size_t extra)
{
	unsigned char *b =
	    *cap >= MAX_PROFILE_BYTES ? NULL : realloc(buf, *cap * 2 + extra);
	if (!b) {
		free(buf);
		return NULL;
	}
	*cap *= 2;
	return b;
}

unsigned char *pp_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(err, errlen, "%s", strerror(errno));
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap + 1);
	while (buf) {
		if (n == cap && !(buf = double_buffer(buf, &cap, 1)))
			break;
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int rerr = ferror(f);
	fclose(f);
	if (!buf)
		return fail(err, errlen, "file too large");
	if (rerr) {
		free(buf);
		return fail(err, errlen, "read error");
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static unsigned char *gunzip(const unsigned char *in, size_t inlen, size_t *outlen,
                             char *err, size_t errlen)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return fail(err, errlen, "out of memory");
	size_t cap = inlen * 4 + 4096, n = 0;
	unsigned char *out = malloc(cap);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)inlen;
	int r = Z_OK;
	while (out && r != Z_STREAM_END) {
		if (n == cap && !(out = double_buffer(out, &cap, 0)))
			break;
		z.next_out = out + n;
		z.avail_out = (uInt)(cap - n);
		r = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (r == Z_BUF_ERROR && z.avail_in == 0) {
			r = Z_DATA_ERROR;
			break;
		}
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
			break;
	}
	inflateEnd(&z);
	if (!out)
		return fail(err, errlen, "decompressed profile too large");
	if (r != Z_STREAM_END) {
		free(out);
		return fail(err, errlen,
		            z.avail_in == 0 ? "truncated gzip data"
		                            : "corrupt gzip data");
	}
	*outlen = n;
	return out;
}

const char *pp_str(const pp_profile_t *p, int64_t i)
{
	return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Are the ids nonzero and unique? Sorts a copy. */
static int ids_ok(uint64_t *ids, size_t n)
{
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (!ids[i] || (i && ids[i] == ids[i - 1]))
			return 0;
	return 1;
}

static int has_id(const uint64_t *sorted, size_t n, uint64_t id)
{
	return bsearch(&id, sorted, n, sizeof(*sorted), cmp_u64) != NULL;
}

static bool str_ok(const pp_profile_t *p, int64_t i)
{
	return i >= 0 && (size_t)i < p->n_string_table;
}

/* string_table[0] and the sample types, by which the rest is read. */
static const char *check_sample_types(const pp_profile_t *p)
{
	if (p->n_string_table == 0 || p->string_table[0][0])
		return "string_table[0] is not empty";
	if (p->n_sample_type == 0)
		return "no sample types";
	for (size_t i = 0; i < p->n_sample_type; i++)
		if (!str_ok(p, p->sample_type[i]->type) ||
		    !str_ok(p, p->sample_type[i]->unit))
			return "sample type names a string out of range";
	return NULL;
}

/* The ids of the mappings, functions and locations, sorted. */
typedef struct {
	uint64_t *mappings, *functions, *locations;
} ids_t;

/*
 * Fills ids (the caller frees them, also on failure) and checks that they are
 * nonzero and unique, and the strings mappings and functions name.
 */
static const char *check_ids(const pp_profile_t *p, ids_t *ids)
{
	ids->mappings = malloc((p->n_mapping + 1) * sizeof(uint64_t));
	ids->functions = malloc((p->n_function + 1) * sizeof(uint64_t));
	ids->locations = malloc((p->n_location + 1) * sizeof(uint64_t));
	if (!ids->mappings || !ids->functions || !ids->locations)
		return "out of memory";
	bool bad_mapping = false, bad_function = false;
	for (size_t i = 0; i < p->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = p->mapping[i];
		ids->mappings[i] = m->id;
		bad_mapping |= !str_ok(p, m->filename) || !str_ok(p, m->build_id);
	}
	for (size_t i = 0; i < p->n_function; i++) {
		const Perftools__Profiles__Function *f = p->function[i];
		ids->functions[i] = f->id;
		bad_function |= !str_ok(p, f->name) || !str_ok(p, f->system_name) ||
		                !str_ok(p, f->filename);
	}
	for (size_t i = 0; i < p->n_location; i++)
		ids->locations[i] = p->location[i]->id;
	if (bad_function)
		return "function names a string out of range";
	if (bad_mapping)
		return "mapping names a string out of range";
	if (!ids_ok(ids->mappings, p->n_mapping))
		return "mapping ids are zero or repeated";
	if (!ids_ok(ids->functions, p->n_function))
		return "function ids are zero or repeated";
	if (!ids_ok(ids->locations, p->n_location))
		return "location ids are zero or repeated";
	return NULL;
}

/* Every id a location or a sample names exists; samples have a value per type. */
static const char *check_references(const pp_profile_t *p, const ids_t *ids)
{
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];
		if (l->mapping_id && !has_id(ids->mappings, p->n_mapping, l->mapping_id))
			return "a location refers to a missing mapping";
		for (size_t k = 0; k < l->n_line; k++)
			if (l->line[k]->function_id &&
			    !has_id(ids->functions, p->n_function,
			            l->line[k]->function_id))
				return "a location refers to a missing function";
	}
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		if (s->n_value != p->n_sample_type) {
			static char why[160];
			snprintf(why, sizeof(why),
			         "sample %zu has %zu values for %zu sample types", i,
			         s->n_value, p->n_sample_type);
			return why;
		}
		for (size_t k = 0; k < s->n_location_id; k++)
			if (!has_id(ids->locations, p->n_location, s->location_id[k]))
				return "a sample refers to a missing location";
		for (size_t k = 0; k < s->n_label; k++)
			if (!str_ok(p, s->label[k]->key) ||
			    !str_ok(p, s->label[k]->str) ||
			    !str_ok(p, s->label[k]->num_unit))
				return "a label names a string out of range";
	}
	return NULL;
}

/* The strings the profile itself names: comments, header fields, period type. */
static const char *check_header_strings(const pp_profile_t *p)
{
	for (size_t i = 0; i < p->n_comment; i++)
		if (!str_ok(p, p->comment[i]))
			return "a comment names a string out of range";
	if (!str_ok(p, p->drop_frames) || !str_ok(p, p->keep_frames) ||
	    !str_ok(p, p->default_sample_type) || !str_ok(p, p->doc_url))
		return "a header field names a string out of range";
	if (p->period_type &&
	    (!str_ok(p, p->period_type->type) || !str_ok(p, p->period_type->unit)))
		return "period type names a string out of range";
	return NULL;
}

const char *pp_validate(const pp_profile_t *p)
{
	const char *bad = check_sample_types(p);
	if (bad)
		return bad;
	ids_t ids;
	bad = check_ids(p, &ids);
	if (!bad)
		bad = check_references(p, &ids);
	if (!bad)
		bad = check_header_strings(p);
	free(ids.mappings);
	free(ids.functions);
	free(ids.locations);
	return bad;
}

pp_profile_t *pp_parse(const unsigned char *raw, size_t len, char *err, size_t errlen)
{
	if (len == 0)
		return fail(err, errlen, "empty file");
	const unsigned char *data = raw;
	unsigned char *inflated = NULL;
	if (len >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
		inflated = gunzip(raw, len, &len, err, errlen);
		if (!inflated)
			return NULL;
		data = inflated;
	}
	pp_profile_t *p = perftools__profiles__profile__unpack(NULL, len, data);
	free(inflated);
	if (!p)
		return fail(err, errlen,
		            "not a pprof profile (protobuf decoding failed)");
	const char *bad = pp_validate(p);
	if (bad) {
		pp_free(p);
		return fail(err, errlen, "invalid profile: %s", bad);
	}
	return p;
}

pp_profile_t *pp_load(const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	unsigned char *raw = pp_read_file(path, &len, err, errlen);
	if (!raw)
		return NULL;
	pp_profile_t *p = pp_parse(raw, len, err, errlen);
	free(raw);
	return p;
}

void pp_free(pp_profile_t *p)
{
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
}

int pp_sample_index(const pp_profile_t *p, const char *name)
{
	for (size_t i = 0; i < p->n_sample_type; i++)
		if (!strcmp(pp_str(p, p->sample_type[i]->type), name))
			return (int)i;
	return -1;
}

int pp_default_index(const pp_profile_t *p)
{
	if (p->default_sample_type) {
		int i = pp_sample_index(p, pp_str(p, p->default_sample_type));
		if (i >= 0)
			return i;
	}
	return (int)p->n_sample_type - 1;
}
