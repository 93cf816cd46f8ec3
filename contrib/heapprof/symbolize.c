/* SPDX-License-Identifier: MIT */
/*
 * symbolize: heapprof symbolize, a profile written again with the function
 * names, source files, lines and inlined frames debuginfo.c found, so that
 * go tool pprof -list shows source on any machine.
 */
#include "heapprof.h"

static void usage_symbolize(FILE *f)
{
	fprintf(f, "usage: heapprof symbolize PROFILE -o OUT\n"
	           "Writes PROFILE with function names, source files, lines and inlined "
	           "frames\n"
	           "from the binaries' debug info (the file itself, .gnu_debuglink, or\n"
	           "/usr/lib/debug/.build-id by build ID), so that go tool pprof -list "
	           "shows\n"
	           "source on any machine.\n"
	           "  -o OUT  the profile to write (gzipped pprof)\n");
}

int cmd_symbolize(int argc, char **argv)
{
	const char *out = NULL;
	const opt_t opts[] = {
	    OPT_OUTPUT(&out),
	    {0},
	};
	const cmdline_t cmd = {opts, usage_symbolize, 1, 1};
	const char *path = argv[parse_options(argc, argv, &cmd)];
	pp_profile_t *p = load(path);
	write_profile(p, out);
	pp_free(p);
	return 0;
}
