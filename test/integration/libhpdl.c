/* SPDX-License-Identifier: MIT */
/* libhpdl: a library that allocates, for the dlopen/dlclose tests. */
#include <stdlib.h>

static void *blocks[1000];

__attribute__((noinline)) void lib_alloc(void)
{
	for (int i = 0; i < 1000; i++)
		blocks[i] = malloc(1000);
}

void lib_free_all(void)
{
	for (int i = 0; i < 1000; i++)
		free(blocks[i]);
}
