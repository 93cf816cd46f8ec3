/* SPDX-License-Identifier: MIT */
/*
 * pbenc: protobuf wire format, written (varints, tags, length prefixes).
 * It owns no memory: buffers and what empties them belong to the caller.
 */
#include "pbenc.h"

#include <errno.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* The most a tag and a length prefix take together. */
#define HEAD_MAX 20

/* Writes v at p, which has room for it; returns the byte after it. */
static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* The slow half of reserve: flushes, or fails. */
static int make_room(pb_buf_t *b, size_t need)
{
	if (!b->flush || need > b->cap) {
		b->err = -EOVERFLOW;
		return -1;
	}
	pb_flush(b);
	return b->err ? -1 : 0;
}

/* Room for need more bytes (need <= cap), flushing first if need be. */
static inline int reserve(pb_buf_t *b, size_t need)
{
	if (b->err)
		return -1;
	return b->cap - b->n >= need ? 0 : make_room(b, need);
}

void pb_flush(pb_buf_t *b)
{
	if (b->flush && b->n && !b->err)
		b->flush(b);
}

/* Appends len raw bytes, across as many flushes as it takes. */
static void put_raw(pb_buf_t *b, const void *p, size_t len)
{
	const uint8_t *s = p;
	while (len && !b->err) {
		size_t room = b->cap - b->n;
		if (!room && reserve(b, 1))
			return;
		room = b->cap - b->n;
		size_t k = len < room ? len : room;
		memcpy(b->buf + b->n, s, k);
		b->n += k;
		s += k;
		len -= k;
	}
}

/* A tag and, for a length-delimited field, its length. */
static void put_head(pb_buf_t *b, uint32_t field, int wire, size_t len)
{
	uint64_t tag = (uint64_t)field << 3 | (unsigned)wire;
	if (reserve(b, pb_varint_len(tag) + (wire == WIRE_LEN ? pb_varint_len(len) : 0)))
		return;
	uint8_t *p = put_varint(b->buf + b->n, tag);
	if (wire == WIRE_LEN)
		p = put_varint(p, len);
	b->n = (size_t)(p - b->buf);
}

void pb_uint(pb_buf_t *b, uint32_t field, uint64_t v)
{
	uint64_t tag = (uint64_t)field << 3 | WIRE_VARINT;
	/* With room for the largest tag and value, no lengths to work out. */
	if (!v ||
	    (b->cap - b->n < HEAD_MAX &&
	     reserve(b, pb_varint_len(tag) + pb_varint_len(v))) ||
	    b->err)
		return;
	uint8_t *p = put_varint(b->buf + b->n, tag);
	b->n = (size_t)(put_varint(p, v) - b->buf);
}

/* Both passes of pb_packed, for values that may not fit before a flush. */
static void packed_slow(pb_buf_t *b, uint32_t field, const uint64_t *v, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += pb_varint_len(v[i]);
	put_head(b, field, WIRE_LEN, len);
	for (size_t i = 0; i < n && !reserve(b, 10); i++)
		b->n = (size_t)(put_varint(b->buf + b->n, v[i]) - b->buf);
}

void pb_packed(pb_buf_t *b, uint32_t field, const uint64_t *v, size_t n)
{
	if (!n || b->err)
		return;
	size_t room = b->cap - b->n;
	if (room < HEAD_MAX || (room - HEAD_MAX) / 10 < n) {
		packed_slow(b, field, v, n);
		return;
	}
	/* One pass: the values go after the tag and a one-byte length, which
	 * is all a sample's few dozen bytes need; moved up when it is not. */
	uint8_t *p = put_varint(b->buf + b->n, (uint64_t)field << 3 | WIRE_LEN);
	uint8_t *body = p + 1, *end = body;
	for (size_t i = 0; i < n; i++)
		end = put_varint(end, v[i]);
	size_t len = (size_t)(end - body), more = pb_varint_len(len) - 1;
	if (more)
		memmove(body + more, body, len);
	b->n = (size_t)(put_varint(p, len) + len - b->buf);
}

void pb_bytes(pb_buf_t *b, uint32_t field, const void *p, size_t len)
{
	if (!b->err && b->cap - b->n >= HEAD_MAX && b->cap - b->n - HEAD_MAX >= len) {
		/* All of it fits: the head and the bytes, no flush between. */
		uint8_t *q = put_varint(b->buf + b->n, (uint64_t)field << 3 | WIRE_LEN);
		q = put_varint(q, len);
		if (len) /* p may be NULL then */
			memcpy(q, p, len);
		b->n = (size_t)(q + len - b->buf);
		return;
	}
	put_head(b, field, WIRE_LEN, len);
	put_raw(b, p, len);
}

void pb_message(pb_buf_t *b, uint32_t field, pb_buf_t *m)
{
	if (m->err && !b->err)
		b->err = m->err;
	pb_bytes(b, field, m->buf, m->n);
	m->n = 0;
}
