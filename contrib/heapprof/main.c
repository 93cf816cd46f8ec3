/* SPDX-License-Identifier: MIT */
/*
 * heapprof: run, snapshot, read, diff and draw heap profiles without Go. It
 * reads any pprof profile (libheapprof's, Go's, other tools'). This file
 * only dispatches to the commands.
 */
#include "heapprof.h"

#include <string.h>

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: heapprof COMMAND [ARGS]\n"
	       "Reads pprof heap profiles (from libheapprof, Go, or other tools).\n"
	       "Commands:\n"
	       "  info PROFILE        sample types, period, time, comments, "
	       "mappings, totals\n"
	       "  top [...] PROFILE   functions by flat or cumulative value (--help "
	       "for options)\n"
	       "  diff OLD NEW        top of NEW minus OLD, growth first\n"
	       "  flame PROFILE -o F  an SVG flame graph (with --base: growth and "
	       "shrinkage)\n"
	       "  folded PROFILE      folded stacks (a;b;c value) for flame graph tools\n"
	       "  web PROFILE... -o F an HTML report: flame graph, tables, filters, "
	       "timeline\n"
	       "  peek REGEX PROFILE  callers and callees of matching functions\n"
	       "  merge PROFILE... -o OUT  one profile summing several (a server's "
	       "workers)\n"
	       "  list REGEX PROFILE  source lines of matching functions, flat and "
	       "cum per line\n"
	       "  symbolize IN -o OUT IN with functions, files, lines, inlined frames\n"
	       "  run [...] -- CMD    run CMD under the profiler\n"
	       "  snapshot PID        ask a profiled process for a profile now\n"
	       "  ps                  list profiled processes\n"
	       "Each command has --help. The reading commands (top, diff, flame, "
	       "folded, peek)\n"
	       "take several profiles and --focus, --ignore, --hide, --show as "
	       "pprof does.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-version") ||
	    !strcmp(cmd, "version")) {
		printf("heapprof %s\n", PACKAGE_VERSION);
		return 0;
	}
	die_command = cmd;
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc - 1, argv + 1, false);
	if (!strcmp(cmd, "diff"))
		return cmd_top(argc - 1, argv + 1, true);
	if (!strcmp(cmd, "flame"))
		return cmd_flame(argc - 1, argv + 1);
	if (!strcmp(cmd, "folded"))
		return cmd_folded(argc - 1, argv + 1);
	if (!strcmp(cmd, "web"))
		return cmd_web(argc - 1, argv + 1);
	if (!strcmp(cmd, "peek"))
		return cmd_peek(argc - 1, argv + 1);
	if (!strcmp(cmd, "merge"))
		return cmd_merge(argc - 1, argv + 1);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(cmd, "symbolize"))
		return cmd_symbolize(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "snapshot"))
		return cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(cmd, "ps"))
		return cmd_ps(argc - 1, argv + 1);
	fprintf(stderr, "heapprof: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
