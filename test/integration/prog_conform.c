/* SPDX-License-Identifier: MIT */
/*
 * prog_conform: the malloc family's observable behaviour, printed without
 * addresses so that runs with and without the profiler can be compared line
 * by line: NULL and errno on failure, EINVAL for bad alignments, overflow in
 * calloc and reallocarray, realloc(NULL, n) and realloc(p, 0), alignment of
 * every aligned entry point, malloc_usable_size, errno kept by free, and
 * realloc growing and shrinking while keeping contents. Large sizes make the
 * allocations sampled at any rate up to 512 KiB. CONFORM_NO_PVALLOC skips
 * pvalloc, which jemalloc lacks (glibc's pvalloc then hands jemalloc's free a
 * block it does not own: the reference run would crash).
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void report(const char *what, void *p, int err)
{
	printf("%-40s %s errno=%s\n", what, p ? "ptr" : "NULL",
	       p ? "-"
	         : (err == ENOMEM   ? "ENOMEM"
	            : err == EINVAL ? "EINVAL"
	                            : "other"));
}

static int aligned_to(void *p, size_t a)
{
	return p && ((uintptr_t)p % a) == 0;
}

int main(void)
{
	void *p;
	/* Failures. */
	errno = 0;
	p = malloc(SIZE_MAX - 4096);
	report("malloc(SIZE_MAX-4096)", p, errno);
	errno = 0;
	p = calloc(SIZE_MAX / 2, 3);
	report("calloc overflow", p, errno);
	errno = 0;
	p = calloc(1, SIZE_MAX - 4096);
	report("calloc(1, SIZE_MAX-4096)", p, errno);
	void *q = malloc(64);
	errno = 0;
	p = reallocarray(q, SIZE_MAX / 2, 3);
	report("reallocarray overflow", p, errno);
	errno = 0;
	p = realloc(q, SIZE_MAX - 4096);
	report("realloc(p, SIZE_MAX-4096)", p, errno);
	free(q);
	errno = 0;
	int r = posix_memalign(&p, 3, 64);
	printf("%-40s %s\n", "posix_memalign(align=3)", r == EINVAL ? "EINVAL" : "other");
	r = posix_memalign(&p, 4, 64); /* not a multiple of sizeof(void *) */
	printf("%-40s %s\n", "posix_memalign(align=4)", r == EINVAL ? "EINVAL" : "other");
	r = posix_memalign(&p, 64, SIZE_MAX - 4096);
	printf("%-40s %s\n", "posix_memalign(64, huge)",
	       r == ENOMEM ? "ENOMEM" : "other");
	errno = 0;
	p = aligned_alloc(3, 64);
	report("aligned_alloc(align=3)", p, errno);
	free(p);
	errno = 0;
	p = memalign(64, SIZE_MAX - 4096);
	report("memalign(64, huge)", p, errno);

	/* Alignment of every aligned entry point, sampled (large) and not. */
	size_t aligns[] = {16, 64, 4096, 65536};
	size_t sizes[] = {24, 3 << 20};
	for (size_t s = 0; s < 2; s++) {
		for (size_t a = 0; a < 4; a++) {
			char what[64];
			void *x = NULL;
			r = posix_memalign(&x, aligns[a], sizes[s]);
			snprintf(what, sizeof(what), "posix_memalign(%zu, %zu)",
			         aligns[a], sizes[s]);
			printf("%-40s %s\n", what,
			       !r && aligned_to(x, aligns[a]) ? "aligned" : "BAD");
			free(x);
			x = aligned_alloc(aligns[a], sizes[s]);
			snprintf(what, sizeof(what), "aligned_alloc(%zu, %zu)", aligns[a],
			         sizes[s]);
			printf("%-40s %s\n", what,
			       aligned_to(x, aligns[a]) ? "aligned" : "BAD");
			free(x);
			x = memalign(aligns[a], sizes[s]);
			snprintf(what, sizeof(what), "memalign(%zu, %zu)", aligns[a],
			         sizes[s]);
			printf("%-40s %s\n", what,
			       aligned_to(x, aligns[a]) ? "aligned" : "BAD");
			free(x);
		}
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		void *v = valloc(sizes[s]);
		printf("%-40s %s\n", "valloc", aligned_to(v, page) ? "aligned" : "BAD");
		free(v);
		if (!getenv("CONFORM_NO_PVALLOC")) {
			v = pvalloc(sizes[s]);
			printf("%-40s %s\n", "pvalloc",
			       aligned_to(v, page) ? "aligned" : "BAD");
			free(v);
		}
		v = malloc(sizes[s]);
		printf("%-40s %s\n", "malloc 16-byte aligned",
		       aligned_to(v, 16) ? "aligned" : "BAD");
		printf("%-40s %s\n", "malloc_usable_size >= n",
		       malloc_usable_size(v) >= sizes[s] ? "yes" : "NO");
		free(v);
	}

	/* realloc semantics. */
	p = realloc(NULL, 100);
	printf("%-40s %s\n", "realloc(NULL, 100)",
	       p && malloc_usable_size(p) >= 100 ? "ptr" : "BAD");
	memset(p, 'a', 100);
	p = realloc(p, 4 << 20); /* grow into a large, sampled block */
	int same = p && !memcmp(p, "aaaaaaaaaa", 10) && ((char *)p)[99] == 'a';
	printf("%-40s %s\n", "realloc grow keeps contents", same ? "yes" : "NO");
	memset(p, 'b', 4 << 20);
	p = realloc(p, 50); /* shrink */
	same = p && ((char *)p)[0] == 'b' && ((char *)p)[49] == 'b';
	printf("%-40s %s\n", "realloc shrink keeps contents", same ? "yes" : "NO");
	p = realloc(p, 0);
	printf("%-40s %s\n", "realloc(p, 0)", p ? "ptr" : "NULL");
	free(p);

	/* calloc zeroes, small and large (sampled). */
	for (size_t s = 0; s < 2; s++) {
		unsigned char *c = calloc(sizes[s], 1);
		size_t nz = 0;
		for (size_t i = 0; c && i < sizes[s]; i++)
			nz += c[i] != 0;
		printf("%-40s %s\n", "calloc zeroed", c && !nz ? "yes" : "NO");
		free(c);
	}

	/* free and free(NULL) keep errno. */
	p = malloc(5 << 20);
	errno = 1234;
	free(p);
	free(NULL);
	printf("%-40s %s\n", "free keeps errno", errno == 1234 ? "yes" : "NO");
	errno = 4321;
	p = malloc(6 << 20);
	printf("%-40s %s\n", "successful malloc keeps errno",
	       errno == 4321 ? "yes" : "NO");
	free(p);
	return 0;
}
