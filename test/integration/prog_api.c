/* SPDX-License-Identifier: MIT */
/* prog_api: heapprof_dump() to a given path and to the default name; the
 * library is found at run time (weak symbol), as the header recommends. */
#include "heapprof.h"

#include <stdio.h>
#include <stdlib.h>

#pragma weak heapprof_dump

static void *kept[1000];

__attribute__((noinline)) void api_alloc(void)
{
	for (int i = 0; i < 1000; i++)
		kept[i] = malloc(1000);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	api_alloc();
	if (!heapprof_dump) {
		printf("not loaded\n");
		return 0;
	}
	int a = heapprof_dump(argv[1]);
	int b = heapprof_dump(argv[1]); /* an explicit path is replaced */
	int c = heapprof_dump(NULL);
	int d = heapprof_dump("/nonexistent-dir/x.pb.gz");
	printf("dump %d %d %d %d\n", a, b, c, d < 0);
	return 0;
}
