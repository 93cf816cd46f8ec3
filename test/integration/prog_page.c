/* SPDX-License-Identifier: MIT */
/*
 * prog_page: what the page mode of the free check (lib/interpose.c) must keep
 * true. Blocks of 1 MiB are sampled with certainty at HEAPPROF_RATE=65536
 * (p = 1 - exp(-16)), so every entry point hands out sampled blocks:
 *   - it prints how many of the 1 MiB blocks each entry point gave at a page
 *     boundary (the test expects all of them in page mode, none at rate 1
 *     with glibc, where glibc's own large blocks are page + 16);
 *   - calloc blocks are zero, also where the heap held 0xff bytes before;
 *   - realloc keeps the contents, growing into a sampled block and back;
 *   - memalign and posix_memalign keep alignments above and below a page,
 *     and an invalid alignment still fails with EINVAL;
 *   - after everything is freed, "kept" holds KEPT blocks of 1 MiB: the
 *     profile's inuse_space for keep() must be exactly that much.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N    64
#define MIB  (1 << 20)
#define KEPT 8

static void *blocks[N];
static void *kept[KEPT];

static int at_page(const void *p)
{
	return p && ((uintptr_t)p & 4095) == 0;
}

static int count_pages(void)
{
	int n = 0;
	for (int i = 0; i < N; i++) {
		n += at_page(blocks[i]);
		free(blocks[i]);
		blocks[i] = NULL;
	}
	return n;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* calloc after the heap was dirtied: small blocks come from reused chunks. */
static void check_calloc(void)
{
	int zero = 0, total = 0;
	for (size_t size = 64 * 1024; size <= 256 * 1024; size *= 2) {
		for (int i = 0; i < N; i++) {
			blocks[i] = malloc(size);
			memset(blocks[i], 0xff, size);
		}
		for (int i = 0; i < N; i++)
			free(blocks[i]);
		for (int i = 0; i < N; i++) {
			blocks[i] = calloc(1, size);
			zero += blocks[i] && all_zero(blocks[i], size);
			total++;
		}
		count_pages();
	}
	printf("calloc zero %d of %d\n", zero, total);
}

static void check_realloc(void)
{
	int kept_contents = 0;
	for (int i = 0; i < N; i++) {
		unsigned char *p = malloc(100);
		for (int k = 0; k < 100; k++)
			p[k] = (unsigned char)(i + k);
		p = realloc(p, MIB); /* grows into a sampled block */
		int same = 1;
		for (int k = 0; k < 100; k++)
			same &= p[k] == (unsigned char)(i + k);
		p = realloc(p, 50); /* and back */
		for (int k = 0; k < 50; k++)
			same &= p[k] == (unsigned char)(i + k);
		kept_contents += same;
		free(p);
	}
	printf("realloc kept %d of %d\n", kept_contents, N);
}

/* Fills or checks p[0..n) with a pattern of seed; the count of bytes off. */
static size_t pattern(unsigned char *p, size_t n, unsigned seed, int fill)
{
	size_t bad = 0;
	for (size_t k = 0; k < n; k++) {
		unsigned char v = (unsigned char)(seed * 31 + k * 7 + (k >> 12));
		if (fill)
			p[k] = v;
		else
			bad += p[k] != v;
	}
	return bad;
}

/*
 * A buffer grown by doubling from 1 KiB to 8 MiB and shrunk back, as string
 * builders do: heap blocks that move to another alignment, then mmapped ones
 * that grow in place; sampled or not at each step. Every byte checked at
 * every step; small blocks in between keep the heap from growing in place.
 */
static __attribute__((noinline)) void check_realloc_grown(void)
{
	int kept_contents = 0, total = 0;
	void *spacers[32] = {0};
	for (unsigned r = 0; r < 8; r++) {
		size_t n = 1024;
		unsigned char *p = malloc(n);
		size_t bad = pattern(p, n, r, 1);
		for (int step = 0; step < 26; step++) {
			size_t m = step < 13 ? n * 2 : n / 2;
			spacers[step] = malloc(48);
			unsigned char *q = realloc(p, m);
			if (!q)
				break;
			bad += pattern(q, m < n ? m : n, r, 0);
			pattern(q, m, r, 1);
			p = q;
			n = m;
		}
		kept_contents += !bad && n == 1024;
		total++;
		free(p);
		for (int i = 0; i < 32; i++) {
			free(spacers[i]);
			spacers[i] = NULL;
		}
	}
	printf("realloc grown kept %d of %d\n", kept_contents, total);
}

static void check_aligned(void)
{
	int ok = 0, total = 0;
	for (size_t al = 16; al <= 65536; al *= 4) {
		void *p = memalign(al, MIB);
		ok += p && ((uintptr_t)p % al) == 0;
		free(p);
		void *q = NULL;
		ok += !posix_memalign(&q, al, MIB) && ((uintptr_t)q % al) == 0;
		free(q);
		total += 2;
	}
	void *bad = NULL;
	printf("aligned %d of %d, invalid alignment %s\n", ok, total,
	       posix_memalign(&bad, 24, MIB) == EINVAL ? "EINVAL" : "accepted");
}

static __attribute__((noinline)) void keep(void)
{
	for (int i = 0; i < KEPT; i++)
		kept[i] = malloc(MIB);
}

int main(void)
{
	for (int i = 0; i < N; i++)
		blocks[i] = malloc(MIB);
	printf("malloc pages %d of %d\n", count_pages(), N);
	for (int i = 0; i < N; i++)
		blocks[i] = calloc(MIB, 1);
	printf("calloc pages %d of %d\n", count_pages(), N);
	for (int i = 0; i < N; i++)
		blocks[i] = realloc(NULL, MIB);
	printf("realloc pages %d of %d\n", count_pages(), N);
	check_calloc();
	check_realloc();
	check_realloc_grown();
	check_aligned();
	keep();
	printf("kept %d\n", KEPT * MIB);
	return 0;
}
