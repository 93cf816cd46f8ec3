/* SPDX-License-Identifier: MIT */
/*
 * heapprof: run, snapshot, read, diff and draw heap profiles without Go. It
 * reads any pprof profile (libheapprof's, Go's, other tools'). This file
 * holds the table of subcommands, which both dispatch and --help read; each
 * subcommand is in the file named after it.
 */
#include "heapprof.h"

#include <string.h>

/* A new subcommand is one row here and one file named after it. */
static const struct command {
	const char *name;
	cmd_fn *run;
	const char *args;    /* its operands in --help, after the name */
	const char *summary; /* one line in --help */
} commands[] = {
    {"info", cmd_info, "PROFILE",
     "sample types, period, time, comments, mappings, totals"},
    {"top", cmd_top, "[...] PROFILE",
     "functions by flat or cumulative value (--help for options)"},
    {"diff", cmd_diff, "OLD NEW", "top of NEW minus OLD, growth first"},
    {"flame", cmd_flame, "PROFILE -o F",
     "an SVG flame graph (with --base: growth and shrinkage)"},
    {"folded", cmd_folded, "PROFILE",
     "folded stacks (a;b;c value) for flame graph tools"},
    {"web", cmd_web, "PROFILE... -o F",
     "an HTML report: flame graph, tables, filters, timeline"},
    {"lifetimes", cmd_lifetimes, "PROFILE",
     "a lifetimes profile by allocation site: short-lived share, freeing sites"},
    {"peek", cmd_peek, "REGEX PROFILE", "callers and callees of matching functions"},
    {"merge", cmd_merge, "PROFILE... -o OUT",
     "one profile summing several (a server's workers)"},
    {"list", cmd_list, "REGEX PROFILE",
     "source lines of matching functions, flat and cum per line"},
    {"symbolize", cmd_symbolize, "IN -o OUT",
     "IN with functions, files, lines, inlined frames"},
    {"run", cmd_run, "[...] -- CMD", "run CMD under the profiler"},
    {"snapshot", cmd_snapshot, "PID", "ask a profiled process for a profile now"},
    {"ps", cmd_ps, "", "list profiled processes"},
    {"attach", cmd_attach, "[...] PID", "start profiling a running process"},
    {"detach", cmd_detach, "PID", "stop profiling a process attached to"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: heapprof COMMAND [ARGS]\n"
	           "Reads pprof heap profiles (from libheapprof, Go, or other tools).\n"
	           "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char synopsis[64];
		snprintf(synopsis, sizeof(synopsis), "%s%s%s", commands[i].name,
		         *commands[i].args ? " " : "", commands[i].args);
		fprintf(f, "  %-19s %s\n", synopsis, commands[i].summary);
	}
	fprintf(f, "Each command has --help. The reading commands (top, diff, flame, "
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
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(cmd, commands[i].name)) {
			die_command = cmd;
			return commands[i].run(argc - 1, argv + 1);
		}
	fprintf(stderr, "heapprof: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
