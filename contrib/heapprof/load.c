/* SPDX-License-Identifier: MIT */
/*
 * load: a profile from a file or a URL, validated (lib/pprof/read.c) and
 * symbolized where debug info is found (debuginfo.c), and its sample types:
 * picking one by name, comparing two profiles'. Merging samples is
 * profiles.c's.
 */
#include "heapprof.h"

#include <string.h>

pp_profile_t *load(const char *path)
{
	char err[256];
	pp_profile_t *p = is_url(path) ? fetch_profile(path, err, sizeof(err))
	                               : pp_load(path, err, sizeof(err));
	if (!p)
		die("%s: %s", path, err);
	symbolize(p); /* where the profile has no lines and debug info is found */
	return p;
}

pp_profile_t *load_samples(const char *path, pp_samples_t *ss)
{
	if (is_url(path)) { /* fetched whole, then packed */
		pp_profile_t *p = load(path);
		pp_samples_free(ss);
		if (!pp_samples_from_profile(p, ss))
			die("out of memory");
		return p;
	}
	char err[256];
	pp_profile_t *p = pp_load_samples_into(path, ss, err, sizeof(err));
	if (!p)
		die("%s: %s", path, err);
	symbolize(p);
	return p;
}

bool same_types(const pp_profile_t *a, const pp_profile_t *b)
{
	bool ok = a->n_sample_type == b->n_sample_type;
	for (size_t i = 0; ok && i < a->n_sample_type; i++)
		ok = !strcmp(pp_str(a, a->sample_type[i]->type),
		             pp_str(b, b->sample_type[i]->type)) &&
		     !strcmp(pp_str(a, a->sample_type[i]->unit),
		             pp_str(b, b->sample_type[i]->unit));
	return ok;
}

void check_compatible(const pp_profile_t *a, const pp_profile_t *b, const char *base)
{
	if (!same_types(a, b))
		die("%s: sample types differ from the profile's; cannot subtract", base);
}

int sample_index(const pp_profile_t *p, const char *name, const char *path)
{
	if (!name)
		return pp_default_index(p);
	int i = pp_sample_index(p, name);
	if (i < 0) {
		char list[1024] = "";
		for (size_t k = 0; k < p->n_sample_type; k++) {
			strncat(list, k ? ", " : "", sizeof(list) - strlen(list) - 1);
			strncat(list, pp_str(p, p->sample_type[k]->type),
			        sizeof(list) - strlen(list) - 1);
		}
		die("%s: no sample type '%s' (it has: %s)", path, name, list);
	}
	return i;
}
