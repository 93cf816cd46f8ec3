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
	/* Each length of buffer, the cut in a literal, a string, a number. */
	const char *whole = "run /tmp/x-12 of 3";
	size_t bad = 0;
	for (size_t cap = 1; cap <= strlen(whole) + 2; cap++) {
		memset(b, '#', sizeof(b));
		n = hp_fmt(b, cap, "run %s-%d of %u", "/tmp/x", 12, 3u);
		size_t want = strlen(whole) < cap - 1 ? strlen(whole) : cap - 1;
		bad += n != want || strncmp(b, whole, want) || b[want] || b[cap] != '#';
	}
	ok(!bad, "every cut of a literal, a string and a number (%zu wrong)", bad);
	hp_fmt(b, sizeof(b), "[%5s|%s]", "ab", "");
	ok(!strcmp(b, "[   ab|]"), "a string's width, an empty one: %s", b);
	ok(hp_fmt(b, 0, "abc") == 0, "no room: nothing written");
	return tap_done();
}
