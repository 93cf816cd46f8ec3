/* SPDX-License-Identifier: MIT */
/*
 * folded: heapprof folded, one line per merged stack, root first
 * ("main;f;g VALUE"), for flamegraph.pl, speedscope or inferno. Merging the
 * samples is input.c's and profiles.c's.
 */
#include "heapprof.h"

#include <stdlib.h>
#include <string.h>

static void usage_folded(FILE *f)
{
	fprintf(f, "usage: heapprof folded [OPTIONS] PROFILE...\n"
	           "Prints one line per stack, root first: \"main;f;g VALUE\", for "
	           "flamegraph.pl,\n"
	           "speedscope or inferno. With --base, values are NEW minus OLD (may be "
	           "negative).\n");
	usage_reading(f);
}

int cmd_folded(int argc, char **argv)
{
	input_t in = {.cmd = argv[0], .keep = true};
	opt_t opts[MAX_READING_OPTS + 1] = {0};
	reading_options(opts, &in);
	const cmdline_t cmd = {opts, usage_folded, 1, -1};
	int op = parse_options(argc, argv, &cmd);
	in.paths = argv + op;
	in.npaths = argc - op;
	load_input(&in);
	char *key = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < in.stacks.n; i++) {
		double value = in.stacks.value[i];
		if (value == 0)
			continue;
		/* key: leaf first, each name followed by '\n'; print root first. */
		stacks_key(&in.stacks, i, &key, &cap);
		size_t end = strlen(key);
		bool first = true;
		while (end > 0) {
			size_t start = end - 1;
			while (start > 0 && key[start - 1] != '\n')
				start--;
			if (!first)
				putchar(';');
			first = false;
			for (size_t k = start; k < end - 1; k++)
				putchar(key[k] == ';' ? ':' : key[k]);
			end = start;
		}
		printf(" %.0f\n", value);
	}
	free(key);
	free_input(&in);
	return 0;
}
