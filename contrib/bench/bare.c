/* SPDX-License-Identifier: MIT */
/*
 * bare: an interposer that only forwards malloc, free, calloc, realloc and
 * the aligned entry points to the next allocator. The floor any LD_PRELOAD
 * profiler is measured against. Not shipped.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

static void *(*next_malloc)(size_t);
static void (*next_free)(void *);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);

/* dlsym may call calloc before next_calloc is known. */
static char pool[4096] __attribute__((aligned(16)));
static size_t used;

static void *pool_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (used + n > sizeof(pool))
		return NULL;
	used += n;
	return pool + used - n;
}

__attribute__((constructor)) static void init(void)
{
	next_calloc = dlsym(RTLD_NEXT, "calloc");
	next_malloc = dlsym(RTLD_NEXT, "malloc");
	next_free = dlsym(RTLD_NEXT, "free");
	next_realloc = dlsym(RTLD_NEXT, "realloc");
	next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
}

void *malloc(size_t n)
{
	if (__builtin_expect(!next_malloc, 0))
		init();
	return next_malloc(n);
}

void free(void *p)
{
	if ((uintptr_t)p - (uintptr_t)pool < sizeof(pool))
		return;
	next_free(p);
}

void *calloc(size_t a, size_t b)
{
	if (__builtin_expect(!next_calloc, 0))
		return pool_alloc(a * b);
	return next_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	return next_realloc(p, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
	return next_posix_memalign(out, al, n);
}

void *aligned_alloc(size_t al, size_t n)
{
	return next_aligned_alloc(al, n);
}
