/* SPDX-License-Identifier: MIT */
/*
 * libhpctor: a library whose constructor allocates on the main thread
 * before the profiler's constructor runs (LD_PRELOAD="libheapprof.so
 * libhpctor.so" runs this one first), as libLLVM's do in clang: the
 * allocations a profiler sees only once its start-up is over. Keeps 16
 * blocks, freed at exit after the profiler started.
 */
#include <stdlib.h>

static void *kept[16];
void *volatile sink;

__attribute__((constructor)) static void ctor_allocate(void)
{
	for (int i = 0; i < 20000; i++)
		free(sink = malloc(64 + i % 64));
	for (int i = 0; i < 16; i++)
		kept[i] = malloc(3333);
}

__attribute__((destructor)) static void dtor_free(void)
{
	for (int i = 0; i < 16; i++)
		free(kept[i]);
}
