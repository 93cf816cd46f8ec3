/* SPDX-License-Identifier: MIT */
/*
 * die: the command's one way out on bad usage or bad input, a line on stderr
 * naming the subcommand and exit status EXIT_USAGE. What to say is the
 * caller's.
 */
#include "heapprof.h"

#include <stdarg.h>
#include <stdlib.h>

const char *die_command;

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (die_command)
		fprintf(stderr, "heapprof %s: ", die_command);
	else
		fprintf(stderr, "heapprof: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(EXIT_USAGE);
}
