/* SPDX-License-Identifier: MIT */
/*
 * hold: keeps N blocks of 16 bytes live, then prints the process's resident
 * memory (VmRSS, KiB). Run plain and with HEAPPROF_RATE=1: the difference
 * divided by N is what the profiler keeps per live sampled block.
 * usage: hold N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long n = argc == 2 ? atol(argv[1]) : 0;
	if (n <= 0) {
		fprintf(stderr, "usage: hold N\n");
		return 2;
	}
	void **kept = malloc((size_t)n * sizeof(*kept));
	for (long i = 0; kept && i < n; i++)
		if (!(kept[i] = malloc(16)))
			return 1;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			printf("rss_kb %ld\n", atol(line + 6));
	return 0;
}
