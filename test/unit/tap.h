/* SPDX-License-Identifier: MIT */
/*
 * tap.h: the Test Anything Protocol in a few macros, for the unit tests.
 * ok(cond, fmt, ...) prints one "ok N - ..." line; tap_done() prints the plan
 * and returns the exit status (failures are counted, never abort early).
 */
#ifndef HP_TAP_H
#define HP_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

static __attribute__((format(printf, 2, 3), unused)) int ok(int cond, const char *fmt,
                                                            ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

static __attribute__((unused)) int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
