/* SPDX-License-Identifier: MIT */
/* log: the allocation-free formatter. */
#include "log.h"
#include "tap.h"

#include <string.h>

int main(void)
{
	char b[64];
	hp_fmt(b, sizeof(b), "%s.%d.%04u.%s", "heapprof", 1234, 7u, "exit");
	ok(!strcmp(b, "heapprof.1234.0007.exit"), "file name pattern: %s", b);
	hp_fmt(b, sizeof(b), "%d %ld %llu %zu %x", -5, -6L, 7ULL, (size_t)8, 255u);
	ok(!strcmp(b, "-5 -6 7 8 ff"), "integers: %s", b);
	hp_fmt(b, sizeof(b), "%p %c %%", (void *)0x10, 'z');
	ok(!strcmp(b, "0x10 z %"), "pointer, char, percent: %s", b);
	size_t n = hp_fmt(b, 8, "%s", "truncated string");
	ok(n == 7 && !strcmp(b, "truncat"), "truncates and terminates");
	/* volatile: GCC would see the NULL and warn, which is the point here. */
	const char *volatile null_str = NULL;
	hp_fmt(b, sizeof(b), "%s", null_str);
	ok(!strcmp(b, "(null)"), "NULL string");
	return tap_done();
}
