/* SPDX-License-Identifier: MIT */
/*
 * meta_alloc: a bump allocator over 1 MiB mmap chunks for small immortal
 * objects, plus power-of-two free lists for the large tables that grow and
 * are retired (live-map shards). Large blocks come straight from mmap.
 */
#include "meta_alloc.h"
#include "common.h"
#include "sys.h"

#include <string.h>
#include <sys/mman.h>

#define CHUNK       (1u << 20)
#define LARGE_MIN   4096
#define NUM_CLASSES 48

/* The first chunk, in BSS: a short process's metadata (its modules, its
 * first stacks) costs no mmap call; pages never touched stay unallocated. */
#define FIRST_CHUNK (64u << 10)
HP_LARGE static char first_chunk[FIRST_CHUNK] __attribute__((aligned(4096)));

static hp_lock_t lock;
static char *cur = first_chunk, *end = first_chunk + FIRST_CHUNK; /* guarded by lock */
static void *free_list[NUM_CLASSES]; /* by log2 size, guarded by lock */
static atomic_size_t mapped;
static size_t limit; /* set once at start-up; 0 = none */
static atomic_bool limit_hit;

void hp_meta_set_limit(size_t l)
{
	limit = l;
}

static void *map(size_t size)
{
	if (limit && atomic_load_explicit(&mapped, memory_order_relaxed) + size > limit) {
		atomic_store(&limit_hit, true);
		return NULL;
	}
	void *p = hp_sys_mmap(NULL, size, PROT_READ | PROT_WRITE,
	                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	atomic_fetch_add_explicit(&mapped, size, memory_order_relaxed);
	return p;
}

static unsigned class_of(size_t size)
{
	return 64 - (unsigned)__builtin_clzll(size - 1); /* ceil(log2(size)) */
}

/* Carves size bytes at the given alignment (at most a page) from the chunk. */
static void *bump(size_t size, size_t align)
{
	hp_lock(&lock);
	cur = (char *)(((uintptr_t)cur + align - 1) & ~(uintptr_t)(align - 1));
	if ((size_t)(end - cur) < size) { /* chunks are page aligned: cur <= end */
		char *c = map(CHUNK);
		if (!c) {
			hp_unlock(&lock);
			return NULL;
		}
		cur = c;
		end = c + CHUNK;
	}
	void *p = cur;
	cur += size;
	hp_unlock(&lock);
	return p;
}

void *hp_meta_alloc(size_t size)
{
	if (size >= LARGE_MIN) {
		unsigned c = class_of(size);
		if (c >= NUM_CLASSES)
			return NULL;
		hp_lock(&lock);
		void *p = free_list[c];
		if (p)
			free_list[c] = *(void **)p;
		hp_unlock(&lock);
		if (p) { /* beyond size stays untouched (a table not a power of two) */
			memset(p, 0, size);
			return p;
		}
		return map((size_t)1 << c); /* fresh mappings are zero */
	}
	return bump((size + 15) & ~(size_t)15, 16);
}

void *hp_meta_alloc_lines(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	return size >= LARGE_MIN ? hp_meta_alloc(size) /* page aligned */
	                         : bump(size, 64);
}

void hp_meta_free(void *p, size_t size)
{
	if (!p || size < LARGE_MIN)
		return;
	unsigned c = class_of(size);
	/* A retired live-map table: give its pages back but its first, which
	 * holds the free-list link; they read as zero when reused. */
	if (((size_t)1 << c) > 4096)
		hp_sys_madvise((char *)p + 4096, ((size_t)1 << c) - 4096, MADV_DONTNEED);
	hp_lock(&lock);
	*(void **)p = free_list[c];
	free_list[c] = p;
	hp_unlock(&lock);
}

bool hp_meta_limit_hit(void)
{
	return atomic_load(&limit_hit);
}

void hp_meta_prefork(void)
{
	hp_lock(&lock);
}

void hp_meta_postfork_parent(void)
{
	hp_unlock(&lock);
}

void hp_meta_postfork_child(void)
{
	hp_lock_reset(&lock);
}
