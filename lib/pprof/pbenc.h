/* SPDX-License-Identifier: MIT */
/*
 * pbenc: a protobuf writer for the one schema the library writes
 * (lib/pprof/profile.proto): varint and length-delimited fields into a
 * bounded buffer, which a flush function empties (into deflate, profile.c)
 * whenever it is full, so that a profile of any size is written in constant
 * memory. It knows no schema and does not allocate; the gzip stream is
 * gzstream.c, reading is read.c.
 */
#ifndef HP_PPROF_PBENC_H
#define HP_PPROF_PBENC_H

#include <stddef.h>
#include <stdint.h>

/*
 * A buffer of cap bytes at buf, n of them in use. With a flush function it is
 * a stream: flush is called when more room is needed and must consume all n
 * bytes and set n to 0 (it sets err to stop the write); its cap must hold the
 * largest tag and varint together, 20 bytes, as those are never split. Without one it
 * holds a nested message being built: a write that does not fit sets err to -EOVERFLOW.
 * err is the first error (a negative errno) and is sticky: every write after it does
 * nothing.
 */
typedef struct pb_buf {
	uint8_t *buf;
	size_t n, cap;
	int err;
	void (*flush)(struct pb_buf *b);
} pb_buf_t;

/* Bytes a varint of v takes: 1 to 10. */
static inline size_t pb_varint_len(uint64_t v)
{
	/* 7 bits a byte; v | 1 so that 0 takes one byte too. */
	return (size_t)(((63 - __builtin_clzll(v | 1)) * 9 + 73) / 64);
}

/*
 * Field writers. The scalar ones write nothing for 0, as protobuf writes a
 * proto3 field left at its default; int64 values are passed as their
 * two's-complement uint64_t (a negative one takes ten bytes).
 */
void pb_uint(pb_buf_t *b, uint32_t field, uint64_t v);
/* A packed repeated varint field of n values; nothing when n is 0. */
void pb_packed(pb_buf_t *b, uint32_t field, const uint64_t *v, size_t n);
/* A string or bytes field, written even when empty (a string_table entry). */
void pb_bytes(pb_buf_t *b, uint32_t field, const void *p, size_t len);
/* The message built in m as field of b; m is emptied for the next one. */
void pb_message(pb_buf_t *b, uint32_t field, pb_buf_t *m);
/* Hands what b holds to its flush function. */
void pb_flush(pb_buf_t *b);

#endif
