/* SPDX-License-Identifier: MIT */
/*
 * pprof_read: file -> bytes (inflating gzip) -> protobuf-c unpack -> checks.
 */
#include "pprof/pprof.h"

#include <errno.h>
#include <stdarg.h>
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

unsigned char *pp_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(err, errlen, "%s", strerror(errno));
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap + 1);
	while (buf) {
		if (n == cap) {
			unsigned char *b =
			    cap >= MAX_PROFILE_BYTES ? NULL : realloc(buf, cap * 2 + 1);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
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
		if (n == cap) {
			unsigned char *o =
			    cap >= MAX_PROFILE_BYTES ? NULL : realloc(out, cap * 2);
			if (!o) {
				free(out);
				out = NULL;
				break;
			}
			out = o;
			cap *= 2;
		}
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

static const char *validate(const pp_profile_t *p)
{
	static char why[160];
	if (p->n_string_table == 0 || p->string_table[0][0])
		return "string_table[0] is not empty";
	size_t ns = p->n_string_table;
#define STR_OK(i) ((i) >= 0 && (size_t)(i) < ns)
	if (p->n_sample_type == 0)
		return "no sample types";
	for (size_t i = 0; i < p->n_sample_type; i++)
		if (!STR_OK(p->sample_type[i]->type) || !STR_OK(p->sample_type[i]->unit))
			return "sample type names a string out of range";
	size_t nmax = p->n_mapping > p->n_location ? p->n_mapping : p->n_location;
	if (p->n_function > nmax)
		nmax = p->n_function;
	uint64_t *ids = malloc((nmax + 1) * sizeof(*ids));
	uint64_t *mids = malloc((p->n_mapping + 1) * sizeof(*mids));
	uint64_t *fids = malloc((p->n_function + 1) * sizeof(*fids));
	uint64_t *lids = malloc((p->n_location + 1) * sizeof(*lids));
	const char *bad = NULL;
	if (!ids || !mids || !fids || !lids) {
		bad = "out of memory";
		goto out;
	}
	for (size_t i = 0; i < p->n_mapping; i++) {
		mids[i] = p->mapping[i]->id;
		if (!STR_OK(p->mapping[i]->filename) || !STR_OK(p->mapping[i]->build_id))
			bad = "mapping names a string out of range";
	}
	for (size_t i = 0; i < p->n_function; i++) {
		fids[i] = p->function[i]->id;
		if (!STR_OK(p->function[i]->name) ||
		    !STR_OK(p->function[i]->system_name) ||
		    !STR_OK(p->function[i]->filename))
			bad = "function names a string out of range";
	}
	for (size_t i = 0; i < p->n_location; i++)
		lids[i] = p->location[i]->id;
	if (bad)
		goto out;
	if (!ids_ok(mids, p->n_mapping))
		bad = "mapping ids are zero or repeated";
	else if (!ids_ok(fids, p->n_function))
		bad = "function ids are zero or repeated";
	else if (!ids_ok(lids, p->n_location))
		bad = "location ids are zero or repeated";
	if (bad)
		goto out;
	for (size_t i = 0; i < p->n_location && !bad; i++) {
		const Perftools__Profiles__Location *l = p->location[i];
		if (l->mapping_id && !has_id(mids, p->n_mapping, l->mapping_id))
			bad = "a location refers to a missing mapping";
		for (size_t k = 0; k < l->n_line && !bad; k++)
			if (l->line[k]->function_id &&
			    !has_id(fids, p->n_function, l->line[k]->function_id))
				bad = "a location refers to a missing function";
	}
	for (size_t i = 0; i < p->n_sample && !bad; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		if (s->n_value != p->n_sample_type) {
			snprintf(why, sizeof(why),
			         "sample %zu has %zu values for %zu sample types", i,
			         s->n_value, p->n_sample_type);
			bad = why;
		}
		for (size_t k = 0; k < s->n_location_id && !bad; k++)
			if (!has_id(lids, p->n_location, s->location_id[k]))
				bad = "a sample refers to a missing location";
		for (size_t k = 0; k < s->n_label && !bad; k++)
			if (!STR_OK(s->label[k]->key) || !STR_OK(s->label[k]->str) ||
			    !STR_OK(s->label[k]->num_unit))
				bad = "a label names a string out of range";
	}
	for (size_t i = 0; i < p->n_comment && !bad; i++)
		if (!STR_OK(p->comment[i]))
			bad = "a comment names a string out of range";
	if (!bad && (!STR_OK(p->drop_frames) || !STR_OK(p->keep_frames) ||
	             !STR_OK(p->default_sample_type) || !STR_OK(p->doc_url)))
		bad = "a header field names a string out of range";
	if (!bad && p->period_type &&
	    (!STR_OK(p->period_type->type) || !STR_OK(p->period_type->unit)))
		bad = "period type names a string out of range";
out:
	free(ids);
	free(mids);
	free(fids);
	free(lids);
	return bad;
#undef STR_OK
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
	const char *bad = validate(p);
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
