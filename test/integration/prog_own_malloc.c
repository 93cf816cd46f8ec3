/* SPDX-License-Identifier: MIT */
/*
 * A program that carries its own allocator and exports it, as rustc does
 * with jemalloc: malloc, free, calloc and realloc are defined here, so the
 * program's calls (and the C library's) never reach a preloaded library's.
 * A bump allocator over a static pool; free keeps nothing. own_allocator.sh
 * checks that the profiler says so once, naming this executable.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static _Alignas(16) char pool[1 << 22];
static size_t used;

/* A block's size sits in the 16 bytes before it, for realloc. */
void *malloc(size_t n)
{
	size_t need = (n + 31) & ~(size_t)15;
	if (n > sizeof(pool) || used + need > sizeof(pool)) {
		errno = ENOMEM;
		return NULL;
	}
	char *p = pool + used + 16;
	used += need;
	*(size_t *)(p - 16) = n;
	return p;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(n); /* the pool is never reused: still zero */
}

void *realloc(void *p, size_t n)
{
	void *q = malloc(n);
	if (q && p) {
		size_t old = *(size_t *)((char *)p - 16);
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}

int main(void)
{
	char *s = malloc(100);
	for (int i = 0; i < 1000; i++)
		s = realloc(s, 100 + (size_t)i);
	strcpy(s, "own allocator");
	printf("%s: %zu bytes of the pool used\n", s, used);
	return 0;
}
