/* SPDX-License-Identifier: MIT */
/*
 * filter: pprof's -focus, -ignore, -hide and -show, compiled once. The
 * regexes are POSIX extended, unanchored, matched against a function's name
 * and file and a mapping's file as pprof's FilterSamplesByName does; what they
 * do to samples and frames is applied in profiles.c, per location.
 */
#include "heapprof.h"

#include <stdlib.h>

static const char *const names[F_N] = {"focus", "ignore", "hide", "show"};

void filter_compile(filter_t *f, const char *cmd)
{
	for (int i = 0; i < F_N; i++) {
		f->on[i] = f->arg[i] != NULL;
		if (!f->on[i])
			continue;
		int rc = regcomp(&f->re[i], f->arg[i], REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char why[256];
			regerror(rc, &f->re[i], why, sizeof(why));
			fprintf(stderr,
			        "heapprof %s: --%s: bad regular expression '%s': %s\n",
			        cmd, names[i], f->arg[i], why);
			exit(EXIT_USAGE);
		}
	}
}

bool filter_active(const filter_t *f)
{
	return f && (f->on[F_FOCUS] || f->on[F_IGNORE] || f->on[F_HIDE] || f->on[F_SHOW]);
}

bool filter_matches(const filter_t *f, int which, const char *s)
{
	return f->on[which] && !regexec(&f->re[which], s, 0, NULL, 0);
}

void filter_print(const filter_t *f)
{
	if (!filter_active(f))
		return;
	printf("Active filters:\n");
	for (int i = 0; i < F_N; i++)
		if (f->on[i])
			printf("   %s=%s\n", names[i], f->arg[i]);
}

void filter_free(filter_t *f)
{
	for (int i = 0; i < F_N; i++)
		if (f->on[i])
			regfree(&f->re[i]);
}
