/* SPDX-License-Identifier: MIT */
/*
 * options: the one parser of the subcommands' command lines. A command lists
 * its options in a table (opt_t); this file hands the table to getopt_long,
 * stores each value where the table says, answers --help and reports bad
 * usage. What a value means is the command's business (its parse functions).
 */
#include "heapprof.h"

#include <getopt.h>
#include <stdlib.h>

#define MAX_OPTS 40

/* getopt_long's value for the long-only option opts[i]: past every letter. */
#define LONG_ONLY 256

static bool is_end(const opt_t *o)
{
	return !o->name && !o->letter;
}

/* getopt_long's tables for cmd's options, plus -h and --help. */
static void getopt_tables(const cmdline_t *cmd, struct option *longs, char *shorts)
{
	size_t n = 0;
	if (cmd->stop_at_operand)
		*shorts++ = '+'; /* the first operand ends the options */
	for (size_t i = 0; !is_end(&cmd->opts[i]); i++) {
		const opt_t *o = &cmd->opts[i];
		if (i == MAX_OPTS)
			die("internal error: more than %d options", MAX_OPTS);
		if (o->letter) {
			*shorts++ = o->letter;
			if (o->has_arg)
				*shorts++ = ':';
		}
		if (o->name)
			longs[n++] = (struct option){
			    o->name, o->has_arg ? required_argument : no_argument, NULL,
			    o->letter ? o->letter : LONG_ONLY + (int)i};
	}
	*shorts++ = 'h';
	*shorts = '\0';
	longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
	longs[n] = (struct option){NULL, 0, NULL, 0};
}

/* The option getopt_long answered c for, or NULL for an error ('?', ':'). */
static const opt_t *option_of(const cmdline_t *cmd, int c)
{
	if (c >= LONG_ONLY)
		return &cmd->opts[c - LONG_ONLY];
	for (const opt_t *o = cmd->opts; !is_end(o); o++)
		if (o->letter == c)
			return o;
	return NULL;
}

/* Stores o's value (a flag, the argument, or what o->parse makes of it). */
static void store(const char *cmdname, const opt_t *o, const char *arg)
{
	if (!o->has_arg && o->value) {
		*(const char **)o->dst = o->value;
		return;
	}
	if (!o->has_arg) {
		*(bool *)o->dst = true;
		return;
	}
	if (!o->parse) {
		*(const char **)o->dst = arg;
		return;
	}
	if (o->parse(arg, o->dst))
		return;
	if (o->name)
		fprintf(stderr, "%s: --%s: expected %s, got '%s'\n", cmdname, o->name,
		        o->expected, arg);
	else
		fprintf(stderr, "%s: -%c: expected %s, got '%s'\n", cmdname, o->letter,
		        o->expected, arg);
	exit(EXIT_USAGE);
}

int parse_options(int argc, char **argv, const cmdline_t *cmd)
{
	struct option longs[MAX_OPTS + 2];
	char shorts[2 * MAX_OPTS + 3];
	getopt_tables(cmd, longs, shorts);
	/* getopt_long names argv[0] in its messages: "heapprof top: ...". */
	char cmdname[64];
	snprintf(cmdname, sizeof(cmdname), "heapprof %s", argv[0]);
	char *self = argv[0];
	argv[0] = cmdname;
	optind = 1;
	int c;
	bool given[MAX_OPTS + 1] = {false};
	/*
	 * Like pprof, one dash introduces a long option too (-sample_index=x,
	 * -base F), except in run, where what follows belongs to the command.
	 */
	int (*next)(int, char *const *, const char *, const struct option *, int *) =
	    cmd->stop_at_operand ? getopt_long : getopt_long_only;
	while ((c = next(argc, argv, shorts, longs, NULL)) != -1) {
		if (c == 'h') {
			cmd->usage(stdout);
			exit(0);
		}
		const opt_t *o = option_of(cmd, c);
		if (!o) {
			cmd->usage(stderr);
			exit(EXIT_USAGE);
		}
		store(cmdname, o, optarg);
		given[o - cmd->opts] = true;
	}
	argv[0] = self;
	bool missing = false;
	for (const opt_t *o = cmd->opts; !is_end(o); o++)
		missing |= o->required && !given[o - cmd->opts];
	int operands = argc - optind;
	if (missing || operands < cmd->min_operands ||
	    (cmd->max_operands >= 0 && operands > cmd->max_operands)) {
		cmd->usage(stderr);
		exit(EXIT_USAGE);
	}
	return optind;
}
