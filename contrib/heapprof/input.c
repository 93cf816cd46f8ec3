/* SPDX-License-Identifier: MIT */
/*
 * input: the common front end of the reading commands (top, diff, folded,
 * flame, peek, list): their shared options and usage lines, and
 * load_input, which loads the profiles, picks the sample type the profile
 * offers and merges the samples (profiles.c) minus the base's, filtered.
 * What each command prints is its own file's.
 */
#include "heapprof.h"

#include <stdlib.h>

/*
 * pprof's shortcuts for -sample_index=NAME (its legacy flags for heap
 * profiles). They only name a type: whether the profile has it is checked
 * against the profile's own sample types when it is loaded (sample_index).
 */
static const char *const pprof_shortcuts[] = {"inuse_space", "inuse_objects",
                                              "alloc_space", "alloc_objects"};

#define N_SHORTCUTS (sizeof(pprof_shortcuts) / sizeof(pprof_shortcuts[0]))

size_t reading_options(opt_t *opts, input_t *in)
{
	static const char *const filters[F_N] = {"focus", "ignore", "hide", "show"};
	size_t n = 0;
	opts[n++] =
	    (opt_t){.name = "sample-index", .has_arg = true, .dst = &in->sample_index};
	opts[n++] =
	    (opt_t){.name = "sample_index", .has_arg = true, .dst = &in->sample_index};
	for (size_t i = 0; i < N_SHORTCUTS; i++)
		opts[n++] = (opt_t){.name = pprof_shortcuts[i],
		                    .dst = &in->sample_index,
		                    .value = pprof_shortcuts[i]};
	opts[n++] = (opt_t){.name = "base", .has_arg = true, .dst = &in->base};
	opts[n++] = (opt_t){.name = "diff-base", .has_arg = true, .dst = &in->diff_base};
	opts[n++] = (opt_t){.name = "diff_base", .has_arg = true, .dst = &in->diff_base};
	for (int i = 0; i < F_N; i++)
		opts[n++] = (opt_t){
		    .name = filters[i], .has_arg = true, .dst = &in->filter.arg[i]};
	return n;
}

void usage_reading(FILE *f)
{
	fprintf(f, "  --sample-index TYPE  " USAGE_SAMPLE_TYPE "\n"
	           "                       (default: the profile's default); or pprof's\n"
	           "                       --inuse_space, --alloc_objects, ... for heap "
	           "profiles\n"
	           "  --base OLD           subtract OLD first: what changed since OLD\n"
	           "  --diff-base OLD      the same, percentages of OLD's total\n"
	           "  --focus RE           keep samples with a function matching RE\n"
	           "  --ignore RE          drop samples with a function matching RE\n"
	           "  --hide RE            remove functions matching RE from stacks\n"
	           "  --show RE            keep only functions matching RE in stacks\n"
	           "One dash works too (-sample_index=alloc_space, -base OLD), as in "
	           "pprof.\n");
}

/* Does a sample have a value below zero for type vi? */
static bool has_negative(const pp_samples_t *ss, int vi)
{
	for (size_t i = 0; ss->negative && i < ss->n; i++)
		if (ss->values[i * ss->nvalues + (size_t)vi] < 0)
			return true;
	return false;
}

/*
 * Adds path's samples (sign -1: subtracted) to in->stacks, filtered, and
 * unfiltered to all when it is not NULL (the total), read into ss (the
 * buffers of the file before). first: in->profile; last: no file follows.
 */
static void add_file(input_t *in, const char *path, double sign, stacks_t *all,
                     pp_samples_t *ss, bool last)
{
	pp_profile_t *p = load_samples(path, ss);
	if (last)
		symbolize_done(); /* the binaries' debug info is needed no more */
	if (!in->profile) {
		in->profile = p;
		in->vi = sample_index(p, in->sample_index, path);
	} else if (!same_types(in->profile, p)) {
		if (sign < 0)
			check_compatible(in->profile, p, path);
		die("%s: sample types differ from %s's; cannot merge", path, in->path);
	}
	if (has_negative(ss, in->vi)) {
		/* values of both signs: stacks must be merged before |v| is summed */
		in->stacks.unmerged = false;
		stacks_merge_totals(&in->stacks);
		if (all)
			stacks_merge_totals(all);
	}
	add_stacks(&in->stacks, p, ss, in->vi, sign, &in->filter);
	if (all)
		add_stacks(all, p, ss, in->vi, sign, NULL);
	if (p != in->profile)
		pp_free(p);
}

void load_input(input_t *in)
{
	if (in->base && in->diff_base)
		die("--base and --diff-base cannot be combined");
	filter_compile(&in->filter, in->cmd ? in->cmd : "");
	/* Several profiles or a base: stacks of both signs may meet. */
	bool merge = in->npaths > 1 || in->base || in->diff_base;
	stacks_init(&in->stacks, in->keep);
	if (merge)
		stacks_merge_totals(&in->stacks);
	in->stacks.sums.edges = in->edges;
	in->stacks.inline_calls = in->inline_labels ? 1 + merge : 0;
	/* one profile, no base: every value has one sign unless add_file finds otherwise
	 */
	in->stacks.unmerged =
	    in->unmerged && in->npaths <= 1 && !in->base && !in->diff_base;
	stacks_t all, *pall = NULL;
	if (filter_active(&in->filter)) {
		stacks_init(&all, in->keep);
		if (merge)
			stacks_merge_totals(&all);
		pall = &all;
	}
	if (in->npaths > 0)
		in->path = in->paths[0]; /* the messages name it */
	pp_samples_t ss = {0}; /* every file's samples in turn, in the same buffers */
	int n = in->npaths > 0 ? in->npaths : 1;
	for (int i = 0; i < n; i++)
		add_file(in, in->npaths > 0 ? in->paths[i] : in->path, 1, pall, &ss,
		         i == n - 1 && !in->base && !in->diff_base);
	const char *base = in->base ? in->base : in->diff_base;
	if (base && in->diff_base) {
		/* pprof's diff_base: percentages of the base's own total. */
		stacks_t b;
		stacks_init(&b, false);
		stacks_merge_totals(&b);
		add_file(in, base, -1, &b, &ss, true);
		in->total = stacks_total(&b);
		stacks_free(&b);
	} else if (base) {
		add_file(in, base, -1, pall, &ss, true);
	}
	if (!in->diff_base)
		in->total = stacks_total(pall ? pall : &in->stacks);
	pp_samples_free(&ss);
	if (pall)
		stacks_free(pall);
}

void free_input(input_t *in)
{
	stacks_free(&in->stacks);
	filter_free(&in->filter);
	pp_free(in->profile);
}
