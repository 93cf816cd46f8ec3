/* SPDX-License-Identifier: MIT */
/*
 * stream: a profile read as it inflates, its samples kept packed
 * (pp_samples_t) instead of unpacked one by one into protobuf-c's
 * allocations. Everything but the samples goes to protobuf-c and read.c's
 * checks; the samples are decoded here, since protobuf-c unpacks only whole
 * messages.
 */
#include "pprof/pprof.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_PROFILE_BYTES (1u << 30)
#define WINDOW            (1u << 20)
#define NOT_PPROF         "not a pprof profile (protobuf decoding failed)"

/* Room for need elements of elem bytes in *pp (capacity *cap), doubling. */
static bool grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 64, bytes;
	while (n < need)
		n *= 2;
	void *q =
	    __builtin_mul_overflow(n, elem, &bytes) ? NULL : realloc(*(void **)pp, bytes);
	if (!q)
		return false;
	*(void **)pp = q;
	*cap = n;
	return true;
}

/* ---- the samples, packed ----------------------------------------------- */

/*
 * What keeping samples needs besides the result. The sample being decoded
 * has its location ids packed at ss->ids + ss->nbytes already (nids bytes),
 * kept by moving nbytes past them.
 */
typedef struct {
	pp_samples_t *ss;
	size_t nids;  /* bytes of the sample's ids so far */
	size_t nvals; /* and its values */
	double *vals;
	size_t capvals;
	size_t mixed_at, mixed_n; /* the first sample whose count of values differs */
	bool mixed;
	int64_t label_min, label_max; /* string indexes labels name */
	bool oom;
} merge_t;

/* Room for n more bytes of the sample's ids; false: no memory. */
static bool ids_room(merge_t *m, size_t n)
{
	pp_samples_t *ss = m->ss;
	return grow(&ss->ids, &ss->capids, ss->nbytes + m->nids + n, 1) ||
	       (m->oom = true, false);
}

/* Appends id to the sample's packed ids, as a varint; false: no memory. */
static bool pack(merge_t *m, uint64_t id)
{
	if (!ids_room(m, 10))
		return false;
	uint8_t *q = m->ss->ids + m->ss->nbytes + m->nids;
	size_t n = 0;
	do {
		q[n++] = (uint8_t)(id & 0x7f) | (id > 0x7f ? 0x80 : 0);
		id >>= 7;
	} while (id);
	m->nids += n;
	return true;
}

/*
 * Appends packed location ids [q, end) as they are: varints of at most 10
 * bytes (varint's limit), the last one ended. False if malformed or out of
 * memory (m->oom).
 */
static bool pack_bytes(merge_t *m, const uint8_t *q, const uint8_t *end)
{
	unsigned run = 0; /* bytes of the current varint so far */
	for (const uint8_t *r = q; r < end; r++)
		if (!(*r & 0x80))
			run = 0;
		else if (++run == 10)
			return false;
	if (run || !ids_room(m, (size_t)(end - q)))
		return false;
	memcpy(m->ss->ids + m->ss->nbytes + m->nids, q, (size_t)(end - q));
	m->nids += (size_t)(end - q);
	return true;
}

/* Keeps the decoded sample (its ids, m->vals); false: no memory. */
static bool keep_sample(merge_t *m)
{
	pp_samples_t *ss = m->ss;
	if (ss->n == 0)
		ss->nvalues = m->nvals;
	if (m->nvals != ss->nvalues && !m->mixed) {
		m->mixed = true;
		m->mixed_at = ss->n;
		m->mixed_n = m->nvals;
	}
	if (m->mixed)
		return true; /* rejected at the end */
	if (!grow(&ss->off, &ss->capoff, ss->n + 2, sizeof(size_t)) ||
	    !grow(&ss->values, &ss->capvalues, (ss->n + 1) * ss->nvalues, sizeof(double)))
		return false;
	ss->nbytes += m->nids;
	double *to = ss->values + ss->n * ss->nvalues;
	for (size_t i = 0; i < ss->nvalues; i++) {
		to[i] = m->vals[i];
		ss->negative |= to[i] < 0;
	}
	ss->off[++ss->n] = ss->nbytes;
	return true;
}

static bool merge_init(merge_t *m, pp_samples_t *ss)
{
	memset(m, 0, sizeof(*m));
	m->ss = ss; /* zeroed, or a previous result whose buffers are reused */
	ss->n = ss->nbytes = ss->nvalues = 0;
	ss->negative = false;
	/* never NULL, even without samples or values: no offsets from NULL */
	return grow(&ss->off, &ss->capoff, 1, sizeof(size_t)) &&
	       grow(&ss->ids, &ss->capids, 1, 1) &&
	       grow(&ss->values, &ss->capvalues, 1, sizeof(double)) && !(ss->off[0] = 0);
}

static void merge_fini(merge_t *m)
{
	free(m->vals);
}

/* ---- checks once the rest of the profile is known ---------------------- */

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * Does every location id the samples name exist? Ids are usually 1..n: a
 * table by id then answers each reference in one load.
 */
static const char *check_locations(const pp_samples_t *ss, const pp_profile_t *p)
{
	uint64_t max = 0;
	for (size_t i = 0; i < p->n_location; i++)
		max = p->location[i]->id > max ? p->location[i]->id : max;
	bool dense = max <= 4 * (uint64_t)p->n_location + 1024;
	uint64_t *ids = malloc((p->n_location + 1) * sizeof(uint64_t));
	bool *present = dense ? calloc(max + 1, sizeof(bool)) : NULL;
	if (!ids || (dense && !present)) {
		free(ids);
		return "out of memory";
	}
	for (size_t i = 0; i < p->n_location; i++) {
		ids[i] = p->location[i]->id;
		if (dense)
			present[ids[i]] = true;
	}
	qsort(ids, p->n_location, sizeof(*ids), cmp_id);
	const char *bad = NULL;
	for (const uint8_t *q = ss->ids, *end = q + ss->nbytes; !bad && q < end;) {
		uint64_t id;
		q = pp_next_id(q, &id);
		bool ok = dense ? id <= max && present[id]
		                : bsearch(&id, ids, p->n_location, sizeof(*ids),
		                          cmp_id) != NULL;
		if (!ok)
			bad = "a sample refers to a missing location";
	}
	free(ids);
	free(present);
	return bad;
}

/* What read.c's checks would say of the samples kept in m, or NULL. */
static const char *check_samples(merge_t *m, const pp_profile_t *p)
{
	if (!m->ss->n && !m->mixed)
		m->ss->nvalues = p->n_sample_type;
	if (m->ss->nvalues != p->n_sample_type || m->mixed) {
		static char why[160];
		bool first = m->ss->nvalues != p->n_sample_type;
		snprintf(why, sizeof(why),
		         "sample %zu has %zu values for %zu sample types",
		         first ? (size_t)0 : m->mixed_at,
		         first ? m->ss->nvalues : m->mixed_n, p->n_sample_type);
		return why;
	}
	const char *bad = check_locations(m->ss, p);
	if (bad)
		return bad;
	if (m->label_min < 0 ||
	    (m->label_max >= 0 && (size_t)m->label_max >= p->n_string_table))
		return "a label names a string out of range";
	return NULL;
}

/* ---- protobuf wire format: what a Sample needs -------------------------- */

static bool varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 70 && *pp < end; shift += 7) {
		uint8_t b = *(*pp)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/*
 * A field's key, read as protobuf-c reads it (the whole-file reader,
 * lib/pprof/read.c, must accept exactly what this one does): at most five
 * bytes, and a first byte that is not a one-byte key of field 0 (protobuf-c
 * judges "0 is not a valid tag" on that byte alone). False if malformed.
 */
static bool read_key(const uint8_t **p, const uint8_t *end, unsigned *field, unsigned *wt)
{
	const uint8_t *start = *p;
	uint64_t key;
	if (start >= end || !(*start & 0xf8) || !varint(p, end, &key) || *p - start > 5)
		return false;
	*field = (unsigned)(key >> 3);
	*wt = key & 7;
	return true;
}

/* Past a field of wire type wt that is not read; false if malformed. */
static bool skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t v;
	switch (wt) {
	case 0:
		return varint(p, end, &v);
	case 1:
	case 5:
		v = wt == 1 ? 8 : 4;
		break;
	case 2:
		if (!varint(p, end, &v))
			return false;
		break;
	default:
		return false;
	}
	if (v > (uint64_t)(end - *p))
		return false;
	*p += v;
	return true;
}

/* The string indexes a Label names (key, str, num_unit) into m's range. */
static bool decode_label(merge_t *m, const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		uint64_t v;
		unsigned field, wt;
		if (!read_key(&p, end, &field, &wt))
			return false;
		if (field > 4) {
			if (!skip(&p, end, wt))
				return false;
			continue;
		}
		if (wt != 0 || !varint(&p, end, &v))
			return false;
		if (field == 3)
			continue; /* num */
		int64_t s = (int64_t)v;
		m->label_min = s < m->label_min ? s : m->label_min;
		m->label_max = s > m->label_max ? s : m->label_max;
	}
	return true;
}

/* One value of a repeated location_id (field 1) or value (2). */
static bool push(merge_t *m, unsigned field, uint64_t v)
{
	if (field == 1)
		return pack(m, v);
	if (m->nvals == m->capvals &&
	    !grow(&m->vals, &m->capvals, m->nvals + 1, sizeof(double)))
		return !(m->oom = true);
	m->vals[m->nvals++] = (double)(int64_t)v;
	return true;
}

/* Field 1 or 2 of a Sample, packed or not. */
static bool decode_repeated(merge_t *m, unsigned field, unsigned wt, const uint8_t **p,
                            const uint8_t *end)
{
	uint64_t v;
	if (wt == 0)
		return varint(p, end, &v) && push(m, field, v);
	if (wt != 2 || !varint(p, end, &v) || v > (uint64_t)(end - *p))
		return false;
	const uint8_t *q = *p, *qend = q + v;
	*p = qend;
	if (field == 1) /* the ids stay packed as they are */
		return pack_bytes(m, q, qend);
	while (q < qend)
		if (!varint(&q, qend, &v) || !push(m, field, v))
			return false;
	return true;
}

/* Decodes a Sample message and merges it; false if it is malformed. */
static bool decode_sample(merge_t *m, const uint8_t *p, const uint8_t *end)
{
	m->nids = m->nvals = 0;
	while (p < end) {
		uint64_t len;
		unsigned field, wt;
		if (!read_key(&p, end, &field, &wt))
			return false;
		if (field == 1 || field == 2) {
			if (!decode_repeated(m, field, wt, &p, end))
				return false;
		} else if (field == 3) {
			if (wt != 2 || !varint(&p, end, &len) ||
			    len > (uint64_t)(end - p) || !decode_label(m, p, p + len))
				return false;
			p += len;
		} else if (!skip(&p, end, wt)) {
			return false;
		}
	}
	return keep_sample(m) || !(m->oom = true);
}

/* ---- the bytes, inflated as they are needed ---------------------------- */

typedef struct {
	bool gz; /* inflating; else buf is the caller's data */
	z_stream z;
	int zret;           /* inflate's last return */
	const uint8_t *buf; /* unread bytes are buf[pos, len) */
	uint8_t *own;       /* buf when inflating (room: cap) */
	size_t pos, len, cap;
	size_t total;    /* bytes inflated so far */
	const char *err; /* gzip's error, once there is one */
} src_t;

/* Inflates into own[len, cap) until need bytes are unread or the stream ends. */
static void inflate_more(src_t *s, size_t need)
{
	while (s->len - s->pos < need && s->zret != Z_STREAM_END && !s->err) {
		s->z.next_out = s->own + s->len;
		s->z.avail_out = (uInt)(s->cap - s->len);
		s->zret = inflate(&s->z, Z_NO_FLUSH);
		size_t got = s->cap - s->len - s->z.avail_out;
		s->len += got;
		s->total += got;
		if (s->total > MAX_PROFILE_BYTES)
			s->err = "decompressed profile too large";
		else if (s->zret == Z_BUF_ERROR && s->z.avail_in == 0)
			s->err = "truncated gzip data";
		else if (s->zret != Z_OK && s->zret != Z_STREAM_END &&
		         s->zret != Z_BUF_ERROR)
			s->err = s->z.avail_in == 0 ? "truncated gzip data"
			                            : "corrupt gzip data";
	}
}

/* How many unread bytes there are after making up to need of them contiguous. */
static size_t src_fill(src_t *s, size_t need)
{
	if (!s->gz || s->len - s->pos >= need)
		return s->len - s->pos;
	memmove(s->own, s->own + s->pos, s->len - s->pos);
	s->len -= s->pos;
	s->pos = 0;
	if (need > s->cap) {
		size_t cap = s->cap;
		if (need > MAX_PROFILE_BYTES || !grow(&s->own, &cap, need, 1)) {
			s->err = "decompressed profile too large";
			return s->len;
		}
		s->cap = cap;
	}
	inflate_more(s, need);
	s->buf = s->own;
	return s->len - s->pos;
}

static const char *src_init(src_t *s, const uint8_t *data, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->buf = data;
	s->len = len;
	if (len < 2 || data[0] != 0x1f || data[1] != 0x8b)
		return NULL;
	s->gz = true;
	s->len = 0;
	s->cap = WINDOW;
	s->buf = s->own = malloc(s->cap);
	if (!s->own || inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
		return "out of memory";
	s->z.next_in = (uint8_t *)data;
	s->z.avail_in = (uInt)len;
	return NULL;
}

static void src_fini(src_t *s)
{
	if (s->gz)
		inflateEnd(&s->z);
	free(s->own);
}

/* ---- the Profile message ------------------------------------------------ */

/* A top-level field's size (tag included) from its first bytes; 0 if malformed. */
static size_t field_size(const uint8_t *start, size_t avail, unsigned *field,
                         unsigned *wt, size_t *head)
{
	const uint8_t *p = start, *end = start + avail;
	uint64_t v;
	if (!read_key(&p, end, field, wt))
		return 0;
	switch (*wt) {
	case 0:
		return varint(&p, end, &v) ? (size_t)(p - start) : 0;
	case 1:
	case 5:
		return (size_t)(p - start) + (*wt == 1 ? 8 : 4);
	case 2:
		if (!varint(&p, end, &v) || v > MAX_PROFILE_BYTES)
			return 0;
		*head = (size_t)(p - start);
		return *head + (size_t)v;
	default:
		return 0;
	}
}

/*
 * Splits the stream: samples into m, every other field into rest (malloc'd,
 * *nrest bytes) for protobuf-c. NULL, or why the bytes are not a profile.
 */
static const char *split(src_t *s, merge_t *m, uint8_t **rest, size_t *nrest)
{
	size_t cap = 0;
	for (;;) {
		size_t avail = src_fill(s, 24), head = 0;
		if (s->err || avail == 0)
			return s->err;
		unsigned field, wt;
		size_t size = field_size(s->buf + s->pos, avail, &field, &wt, &head);
		if (size == 0 || src_fill(s, size) < size)
			return s->err ? s->err : NOT_PPROF;
		const uint8_t *f = s->buf + s->pos;
		s->pos += size;
		if (field == 2) {
			if (wt != 2 || !decode_sample(m, f + head, f + size))
				return m->oom ? "out of memory" : NOT_PPROF;
			continue;
		}
		if (!grow(rest, &cap, *nrest + size, 1))
			return "out of memory";
		memcpy(*rest + *nrest, f, size);
		*nrest += size;
	}
}

/* pp_parse_samples into ss: zeroed, or a previous result to reuse. */
static pp_profile_t *parse_into(const unsigned char *data, size_t len, pp_samples_t *ss,
                                char *err, size_t errlen)
{
	src_t s = {0};
	merge_t m = {0};
	uint8_t *rest = NULL;
	size_t nrest = 0;
	pp_profile_t *p = NULL;
	const char *bad = len == 0 ? "empty file" : src_init(&s, data, len);
	if (!bad && !merge_init(&m, ss))
		bad = "out of memory";
	if (!bad)
		bad = split(&s, &m, &rest, &nrest);
	if (!bad && s.gz && s.zret != Z_STREAM_END)
		bad = "truncated gzip data";
	if (!bad && !(p = perftools__profiles__profile__unpack(NULL, nrest, rest)))
		bad = NOT_PPROF;
	if (!bad && (bad = pp_validate(p)) == NULL)
		bad = check_samples(&m, p);
	bool invalid = bad && p;
	src_fini(&s);
	merge_fini(&m);
	free(rest);
	if (!bad)
		return p;
	pp_free(p);
	pp_samples_free(ss);
	snprintf(err, errlen, invalid ? "invalid profile: %s" : "%s", bad);
	return NULL;
}

pp_profile_t *pp_parse_samples(const unsigned char *data, size_t len, pp_samples_t *ss,
                               char *err, size_t errlen)
{
	memset(ss, 0, sizeof(*ss));
	return parse_into(data, len, ss, err, errlen);
}

pp_profile_t *pp_load_samples_into(const char *path, pp_samples_t *ss, char *err,
                                   size_t errlen)
{
	size_t len = 0;
	unsigned char *raw = pp_read_file(path, &len, err, errlen);
	if (!raw)
		return NULL;
	pp_profile_t *p = parse_into(raw, len, ss, err, errlen);
	free(raw);
	return p;
}

pp_profile_t *pp_load_samples(const char *path, pp_samples_t *ss, char *err,
                              size_t errlen)
{
	memset(ss, 0, sizeof(*ss));
	return pp_load_samples_into(path, ss, err, errlen);
}

bool pp_samples_from_profile(const pp_profile_t *p, pp_samples_t *ss)
{
	merge_t m;
	memset(ss, 0, sizeof(*ss));
	bool ok = merge_init(&m, ss);
	for (size_t i = 0; ok && i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		m.nids = m.nvals = 0;
		for (size_t k = 0; ok && k < s->n_location_id; k++)
			ok = push(&m, 1, s->location_id[k]);
		for (size_t k = 0; ok && k < s->n_value; k++)
			ok = push(&m, 2, (uint64_t)s->value[k]);
		ok = ok && keep_sample(&m);
	}
	if (ok && !ss->n)
		ss->nvalues = p->n_sample_type;
	merge_fini(&m);
	if (!ok)
		pp_samples_free(ss);
	return ok;
}

void pp_samples_free(pp_samples_t *ss)
{
	free(ss->ids);
	free(ss->off);
	free(ss->values);
	memset(ss, 0, sizeof(*ss));
}
