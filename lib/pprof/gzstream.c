/* SPDX-License-Identifier: MIT */
/*
 * gzstream: deflate with gzip framing (pprof requires it) between a pbenc
 * buffer and write(2). Small profiles are stored rather than compressed; see
 * STORED_MAX. It does not encode (pbenc.c) nor know the schema.
 */
#include "pprof/gzstream.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void write_all(pp_gz_t *g, const unsigned char *p, size_t n)
{
	while (n && !g->pb.err) {
		ssize_t w = write(g->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			g->pb.err = w < 0 ? -errno : -EIO;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/*
 * A profile that fits in this much is stored in the gzip file uncompressed:
 * zlib's set-up (64 KiB of hash table cleared) and the Huffman trees of one
 * block cost about 300,000 instructions, most of writing a small exit
 * profile, to save a few KiB.
 */
#define STORED_MAX (16 << 10)

/* windowBits 16 + 15: gzip framing, as pprof requires. */
static bool start(pp_gz_t *g, int flush)
{
	bool stored = flush == Z_FINISH && g->pb.n <= STORED_MAX;
	if (deflateInit2(&g->z, stored ? Z_NO_COMPRESSION : Z_BEST_SPEED, Z_DEFLATED,
	                 16 + 15, stored ? 1 : 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		g->pb.err = -ENOMEM;
		return false;
	}
	return g->started = true;
}

/* Deflates what pb holds and writes what comes out; pb is empty after. */
static void deflate_in(pp_gz_t *g, int flush)
{
	if (!g->started && !start(g, flush))
		return;
	g->z.next_in = g->in;
	g->z.avail_in = (uInt)g->pb.n;
	do {
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		if (deflate(&g->z, flush) == Z_STREAM_ERROR) {
			g->pb.err = -EIO;
			break;
		}
		write_all(g, g->out, sizeof(g->out) - g->z.avail_out);
	} while (g->z.avail_out == 0 && !g->pb.err);
	g->pb.n = 0;
}

static void gz_flush(pb_buf_t *b)
{
	deflate_in((pp_gz_t *)b, Z_NO_FLUSH);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	const pp_alloc_t *a = opaque;
	size_t n;
	if (__builtin_mul_overflow(items, size, &n))
		return NULL;
	return a->realloc(NULL, n); /* zlib initialises what it reads, as with its own */
}

static void z_free(voidpf opaque, voidpf p)
{
	const pp_alloc_t *a = opaque;
	a->free(p);
}

void pp_gz_init(pp_gz_t *g, int fd, const pp_alloc_t *alloc)
{
	memset(&g->z, 0, sizeof(g->z));
	g->pb = (pb_buf_t){.buf = g->in, .cap = sizeof(g->in), .flush = gz_flush};
	g->fd = fd;
	g->started = false;
	g->z.zalloc = z_alloc;
	g->z.zfree = z_free;
	g->z.opaque = (voidpf)alloc;
}

void pp_gz_finish(pp_gz_t *g)
{
	deflate_in(g, Z_FINISH);
}

void pp_gz_end(pp_gz_t *g)
{
	if (g->started)
		deflateEnd(&g->z);
	g->started = false;
}
