/* SPDX-License-Identifier: MIT */
/*
 * prog_limit COUNT KIB [touch|cycle]: allocates blocks of exactly KIB KiB in
 * grow_block until it holds COUNT of them or malloc returns NULL. "touch"
 * writes each block, so that a cgroup charges it. "cycle" then frees the
 * last block and takes one again, frees them all and grows to COUNT again.
 * Prints how many it got and errno; exits 3 after a NULL with ENOMEM, 4
 * after a NULL without, 0 when it reached COUNT. Holds every block to the
 * end but for the cycle's frees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 65536
static void *blocks[MAX_BLOCKS];

__attribute__((noinline)) static void *grow_block(size_t size)
{
	void *p = malloc(size);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

/* Grows from n to count blocks; the status (3 or 4 after a NULL, else 0). */
static int grow(long *n, long count, size_t size, int touch)
{
	while (*n < count) {
		errno = 0;
		char *p = grow_block(size);
		if (!p)
			return errno == ENOMEM ? 3 : 4;
		if (touch)
			memset(p, 1, size);
		blocks[(*n)++] = p;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 0, n = 0;
	size_t size = (size_t)(argc > 2 ? atol(argv[2]) : 1024) * 1024;
	const char *mode = argc > 3 ? argv[3] : "";
	if (count > MAX_BLOCKS)
		count = MAX_BLOCKS;
	int status = grow(&n, count, size, !strcmp(mode, "touch"));
	int err = status ? errno : 0;
	if (!status && !strcmp(mode, "cycle")) {
		free(blocks[--n]);
		status = grow(&n, count, size, 0);
		while (!status && n)
			free(blocks[--n]);
		status = status ? status : grow(&n, count, size, 0);
	}
	printf("blocks %ld errno %d\n", n, err);
	return status;
}
