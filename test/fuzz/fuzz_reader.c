/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reader: the profile reader under a fuzzer. Every input must either be
 * rejected with a message or load into a profile that validates, and then be
 * aggregated like heapprof top does, without a crash, a leak or undefined
 * behaviour (built with ASan and UBSan). libFuzzer calls
 * LLVMFuzzerTestOneInput; without libFuzzer, main() runs the inputs given
 * on the command line (the corpus), so the target is also a plain test.
 */
#include "heapprof.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aggregates p (its samples, or st when set) like heapprof top, each sample type. */
static void aggregate(const pp_profile_t *p, const pp_samples_t *ss)
{
	for (size_t vi = 0; vi < p->n_sample_type; vi++) {
		stacks_t stacks;
		table_t rows;
		stacks_init(&stacks, vi % 2 == 0); /* kept and summed both */
		table_init(&rows, sizeof(row_t));
		add_stacks(&stacks, p, ss, (int)vi, 1, NULL);
		by_function(&stacks, &rows);
		stacks_free(&stacks);
		table_free(&rows);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], serr[256];
	pp_profile_t *p = pp_parse(data, size, err, sizeof(err));
	pp_samples_t ss;
	pp_profile_t *q = pp_parse_samples(data, size, &ss, serr, sizeof(serr));
	if (!p != !q)
		abort(); /* the streaming reader accepts what the whole-file one does */
	if (!p) {
		if (!err[0] || !serr[0])
			abort(); /* a rejection must say why */
		return 0;
	}
	aggregate(p, NULL);
	aggregate(q, &ss);
	pp_samples_free(&ss);
	pp_free(q);
	pp_free(p);
	return 0;
}

#ifndef HP_LIBFUZZER
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			continue;
		static unsigned char buf[1 << 22];
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("ran %d inputs\n", argc - 1);
	return 0;
}
#endif
