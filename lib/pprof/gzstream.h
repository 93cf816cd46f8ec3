/* SPDX-License-Identifier: MIT */
/*
 * gzstream: the gzip stream a profile is written through: a pbenc stream
 * (pb_buf_t) whose flush deflates what it holds and writes what comes out
 * to a descriptor, in constant memory. It knows no schema (the caller) and
 * allocates only zlib's state, through the functions it is given.
 */
#ifndef HP_PPROF_GZSTREAM_H
#define HP_PPROF_GZSTREAM_H

#include "pprof/pbenc.h"
#include "pprof/strtab.h"

#include <stdbool.h>
#include <zlib.h>

typedef struct {
	pb_buf_t pb; /* first, so that its flush finds the stream; holds in[] */
	z_stream z;
	bool started; /* deflateInit2 done: by the first flush */
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

/* Deflates and writes what is left and the gzip trailer. */
void pp_gz_finish(pp_gz_t *g);

/* Frees zlib's state, finished or not; g is unusable after. */
void pp_gz_end(pp_gz_t *g);

#endif
