/* SPDX-License-Identifier: MIT */
/* prog_simple: fixed output and exit status 3, to compare runs with and
 * without the profiler under bad configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	size_t total = 0;
	for (int i = 0; i < 1000; i++) {
		char *p = malloc(100 + (size_t)i);
		memset(p, 'x', 100);
		total += strlen(strncpy(p, "hello", 100 + (size_t)i)) + 95;
		free(p);
	}
	printf("result %zu\n", total);
	return 3;
}
