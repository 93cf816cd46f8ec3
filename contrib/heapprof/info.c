/* SPDX-License-Identifier: MIT */
/*
 * info: heapprof info, what a profile says about itself: sample types,
 * period, time, duration, comments, mappings and the total of each sample
 * type.
 */
#include "heapprof.h"

#include <inttypes.h>
#include <time.h>

static void usage_info(FILE *f)
{
	fprintf(f, "usage: heapprof info PROFILE\n"
	           "Prints sample types, period, time, duration, comments, mappings and "
	           "totals.\n");
}

int cmd_info(int argc, char **argv)
{
	static const opt_t opts[] = {{0}};
	const cmdline_t cmd = {opts, usage_info, 1, 1};
	const char *path = argv[parse_options(argc, argv, &cmd)];
	pp_profile_t *p = load(path);
	printf("File: %s\n", path);
	printf("Sample types:");
	for (size_t i = 0; i < p->n_sample_type; i++)
		printf(" %s/%s%s", pp_str(p, p->sample_type[i]->type),
		       pp_str(p, p->sample_type[i]->unit),
		       (int)i == pp_default_index(p) ? " (default)" : "");
	printf("\n");
	if (p->period_type)
		printf("Period: %" PRId64 " %s/%s\n", p->period,
		       pp_str(p, p->period_type->type), pp_str(p, p->period_type->unit));
	if (p->time_nanos) {
		time_t t = (time_t)(p->time_nanos / 1000000000);
		char buf[64];
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
		printf("Time: %s\n", buf);
	}
	printf("Duration: %.3f s\n", (double)p->duration_nanos / 1e9);
	for (size_t i = 0; i < p->n_comment; i++)
		printf("Comment: %s\n", pp_str(p, p->comment[i]));
	printf("Samples: %zu, locations: %zu, functions: %zu, mappings: %zu\n",
	       p->n_sample, p->n_location, p->n_function, p->n_mapping);
	for (size_t i = 0; i < p->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = p->mapping[i];
		printf("Mapping %" PRIu64 ": %#" PRIx64 "-%#" PRIx64 " offset %#" PRIx64
		       " %s build-id %s\n",
		       m->id, m->memory_start, m->memory_limit, m->file_offset,
		       pp_str(p, m->filename),
		       *pp_str(p, m->build_id) ? pp_str(p, m->build_id) : "-");
	}
	for (size_t i = 0; i < p->n_sample_type; i++) {
		double t = 0;
		for (size_t k = 0; k < p->n_sample; k++)
			t += (double)p->sample[k]->value[i];
		char v[32];
		fmt_value(v, sizeof(v), t, pp_str(p, p->sample_type[i]->unit));
		printf("Total %s: %s (%.0f)\n", pp_str(p, p->sample_type[i]->type), v, t);
	}
	pp_free(p);
	return 0;
}
