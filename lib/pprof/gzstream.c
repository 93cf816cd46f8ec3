/* SPDX-License-Identifier: MIT */
/*
 * gzstream: gzip framing (pprof requires it) between a pbenc buffer and
 * write(2): deflate through zlib when it is loaded and the profile is not
 * small, else stored blocks (RFC 1951 BTYPE 00) with our own CRC-32. It does
 * not encode (pbenc.c) nor know the schema.
 */
#include "pprof/gzstream.h"
#include "common.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Writes the n buffers of iov whole: one writev(2) for a small profile. */
static void writev_all(pp_gz_t *g, struct iovec *iov, int n)
{
	if (!g->pb.err)
		g->pb.err = hp_writev_all(g->fd, iov, n);
}

static void write_all(pp_gz_t *g, const unsigned char *p, size_t n)
{
	struct iovec v = {(void *)p, n};
	writev_all(g, &v, 1);
}

/* ---- zlib, loaded on demand --------------------------------------------- */

/*
 * Not linked: loading libz.so.1 into every process at start-up cost nine
 * system calls and five page faults, for a library that most short processes
 * never call (their exit profile is small, and stored).
 */
static struct {
	int (*init2)(z_streamp, int, int, int, int, int, const char *, int);
	int (*deflate)(z_streamp, int);
	int (*end)(z_streamp);
} zlib;
static pthread_once_t zlib_once = PTHREAD_ONCE_INIT;
static _Atomic bool zlib_ok;

static void zlib_load(void)
{
	void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h)
		return;
	*(void **)&zlib.init2 = dlsym(h, "deflateInit2_");
	*(void **)&zlib.deflate = dlsym(h, "deflate");
	*(void **)&zlib.end = dlsym(h, "deflateEnd");
	zlib_ok = zlib.init2 && zlib.deflate && zlib.end;
}

bool pp_gz_load(void)
{
	pthread_once(&zlib_once, zlib_load);
	return zlib_ok;
}

/* ---- stored blocks ------------------------------------------------------- */

/* CRC-32 (ISO 3309, reflected 0xEDB88320), as gzip's trailer wants. */
static const uint32_t crc_table[256] = {
    0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f, 0xe963a535,
    0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988, 0x09b64c2b, 0x7eb17cbd,
    0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de, 0x1adad47d,
    0x6ddde4eb, 0xf4d4b551, 0x83d385c7, 0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec,
    0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4,
    0xa2677172, 0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
    0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59, 0x26d930ac,
    0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
    0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924, 0x2f6f7c87, 0x58684c11, 0xc1611dab,
    0xb6662d3d, 0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f,
    0x9fbfe4a5, 0xe8b8d433, 0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb,
    0x086d3d2d, 0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
    0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea,
    0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65, 0x4db26158, 0x3ab551ce,
    0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a,
    0x346ed9fc, 0xad678846, 0xda60b8d0, 0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
    0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409,
    0xce61e49f, 0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
    0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a, 0xead54739,
    0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8,
    0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1, 0xf00f9344, 0x8708a3d2, 0x1e01f268,
    0x6906c2fe, 0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0,
    0x10da7a5a, 0x67dd4acc, 0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8,
    0xa1d1937e, 0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
    0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55, 0x316e8eef,
    0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236, 0xcc0c7795, 0xbb0b4703,
    0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7,
    0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d, 0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a,
    0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae,
    0x0cb61b38, 0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
    0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777, 0x88085ae6,
    0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
    0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2, 0xa7672661, 0xd06016f7, 0x4969474d,
    0x3e6e77db, 0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5,
    0x47b2cf7f, 0x30b5ffe9, 0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605,
    0xcdd70693, 0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
    0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

/*
 * Slicing by eight: eight bytes a step through eight tables, table k the CRC
 * of a byte followed by k zero bytes. callgrind, cc1's exit profile of 19.3
 * KB: 154,395 instructions a byte at a time (8.0 a byte, a sixth of the
 * profile's cost), 84,394 so, the tables' making included. They (8 KiB)
 * are made once, for a run long enough to repay it; a short one goes a
 * byte at a time, as does a run while another thread makes them.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CRC_SLICE_MIN 2048
static uint32_t crc_slices[8][256];
static _Atomic int crc_slices_state; /* 0 not made, 1 being made, 2 made */

static bool slices_ready(void)
{
	int none = 0;
	if (atomic_load_explicit(&crc_slices_state, memory_order_acquire) == 2)
		return true;
	if (!atomic_compare_exchange_strong(&crc_slices_state, &none, 1))
		return false;
	for (int i = 0; i < 256; i++) {
		uint32_t c = crc_table[i];
		crc_slices[0][i] = c;
		for (int k = 1; k < 8; k++)
			crc_slices[k][i] = c = crc_table[c & 0xff] ^ (c >> 8);
	}
	atomic_store_explicit(&crc_slices_state, 2, memory_order_release);
	return true;
}

static uint32_t crc_by_8(uint32_t crc, const unsigned char **pp, size_t *np)
{
	const unsigned char *p = *pp;
	size_t n = *np;
	const uint32_t(*t)[256] = crc_slices;
	for (; n >= 8; n -= 8, p += 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= crc;
		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
		      t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		      t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
	}
	*pp = p;
	*np = n;
	return crc;
}
#endif

uint32_t pp_crc32(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;
	crc = ~crc;
#ifdef CRC_SLICE_MIN
	if (n >= CRC_SLICE_MIN && slices_ready())
		crc = crc_by_8(crc, &p, &n);
#endif
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put_le(unsigned char *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* What pb holds as stored blocks; with the trailer if last. */
static void stored_in(pp_gz_t *g, bool last)
{
	/* gzip header: deflate, no flags, no time, "fastest", Unix. */
	static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3};
	/* pb holds at most 2 blocks of 65,535 bytes: header, 2 x (block's
	 * header, bytes), trailer. */
	_Static_assert(sizeof(g->in) <= 2 * 65535, "at most two stored blocks");
	struct iovec iov[6];
	unsigned char b[2][5], t[8];
	int k = 0;
	if (!g->started) {
		iov[k++] = (struct iovec){(void *)head, sizeof(head)};
		g->started = true;
	}
	unsigned char *p = g->in;
	size_t n = g->pb.n;
	g->crc = pp_crc32(g->crc, p, n);
	g->isize += (uint32_t)n;
	for (int i = 0; i == 0 || n; i++) {
		size_t len = n < 65535 ? n : 65535;
		b[i][0] = last && len == n;
		put_le(b[i] + 1, (uint32_t)len, 2);
		put_le(b[i] + 3, (uint32_t)~len & 0xffff, 2);
		iov[k++] = (struct iovec){b[i], sizeof(b[i])};
		iov[k++] = (struct iovec){p, len};
		p += len;
		n -= len;
	}
	if (last) {
		put_le(t, g->crc, 4);
		put_le(t + 4, g->isize, 4);
		iov[k++] = (struct iovec){t, sizeof(t)};
	}
	writev_all(g, iov, k);
	g->pb.n = 0;
}

/* ---- deflate -------------------------------------------------------------- */

/*
 * A profile that fits in the buffer whole is stored uncompressed. zlib's
 * set-up (64 KiB of hash table cleared) and the Huffman trees of one block
 * cost about 300,000 instructions, and its fastest level 65 more a byte:
 * cc1's exit profile, 25 KiB, took 1.7 M instructions to deflate to 13 KiB,
 * two thirds of writing it. Stored, a profile is at most 64 KiB, written
 * once by a process that is exiting.
 */
#define STORED_MAX sizeof(((pp_gz_t *)0)->in)

/* windowBits 16 + 15: gzip framing, as pprof requires. */
static bool start(pp_gz_t *g, int flush)
{
	if ((flush == Z_FINISH && g->pb.n <= STORED_MAX) || !zlib_ok) {
		g->stored = true;
		return true;
	}
	if (zlib.init2(&g->z, Z_BEST_SPEED, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY,
	               ZLIB_VERSION, (int)sizeof(g->z)) != Z_OK) {
		g->pb.err = -ENOMEM;
		return false;
	}
	return g->started = true;
}

/* Deflates what pb holds and writes what comes out; pb is empty after. */
static void deflate_in(pp_gz_t *g, int flush)
{
	if (!g->started && !g->stored && !start(g, flush))
		return;
	if (g->stored) {
		stored_in(g, flush == Z_FINISH);
		return;
	}
	g->z.next_in = g->in;
	g->z.avail_in = (uInt)g->pb.n;
	do {
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		if (zlib.deflate(&g->z, flush) == Z_STREAM_ERROR) {
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
	g->started = g->stored = false;
	g->crc = g->isize = 0;
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
	if (g->started && !g->stored)
		zlib.end(&g->z);
	g->started = false;
}
