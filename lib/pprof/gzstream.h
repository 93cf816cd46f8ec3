/* SPDX-License-Identifier: MIT */
/*
 * gzstream: the gzip stream a profile is written through: a pbenc stream
 * (pb_buf_t) whose flush deflates what it holds and writes what comes out
 * to a descriptor, in constant memory. It knows no schema (the caller) and
 * allocates only zlib's state, through the functions it is given.
 *
 * zlib is not linked: it is loaded by pp_gz_load, which the caller calls
 * where loading a library is safe (no lock of its own held). A profile that
 * is small, or written before zlib could be loaded, is stored: a valid gzip
 * file of uncompressed blocks, which needs only a CRC.
 */
#ifndef HP_PPROF_GZSTREAM_H
#define HP_PPROF_GZSTREAM_H

#include "pprof/pbenc.h"
#include "pprof/strtab.h"

#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>

typedef struct {
	pb_buf_t pb; /* first, so that its flush finds the stream; holds in[] */
	z_stream z;
	bool started;        /* deflateInit2 done, or the stored header written */
	bool stored;         /* stored blocks, not deflate */
	uint32_t crc, isize; /* the stored stream's trailer, so far */
	int fd;
	unsigned char in[1 << 16];  /* encoded, not yet deflated */
	unsigned char out[1 << 16]; /* deflated, not yet written */
} pp_gz_t;

/*
 * Makes g a stream into fd: write with pb_* into g->pb. zlib's memory comes
 * from alloc (realloc(NULL, n) allocates), which must outlive the stream.
 * The deflate stream starts with the first flush; errors (a negative errno)
 * go to g->pb.err, sticky.
 */
void pp_gz_init(pp_gz_t *g, int fd, const pp_alloc_t *alloc);

/* The CRC-32 of gzip's trailer (zlib's crc32) of n bytes at p, continuing
 * crc (0 to start). */
uint32_t pp_crc32(uint32_t crc, const void *p, size_t n);

/*
 * Loads zlib once (dlopen of libz.so.1); true if it is there. Thread-safe;
 * the caller holds no lock that a library's constructor could want.
 */
bool pp_gz_load(void);

/* Deflates and writes what is left and the gzip trailer. */
void pp_gz_finish(pp_gz_t *g);

/* Frees zlib's state, finished or not; g is unusable after. */
void pp_gz_end(pp_gz_t *g);

#endif
