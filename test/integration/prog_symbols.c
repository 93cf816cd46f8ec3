/* SPDX-License-Identifier: MIT */
/*
 * A program shaped like cc1 for symbols.sh: built with -rdynamic, so its
 * dynamic symbol table holds 16,384 exported functions and one of 1 MiB,
 * and allocating from exported and from static functions (which a stripped
 * binary names nowhere but in its debug info). Each allocation site is its
 * own function, so the exit profile has many locations to name.
 *
 * usage: prog_symbols [replace-self | two-dumps]
 * replace-self: before allocating, replace the executable's file by another
 * (a copy of /bin/true), as a package upgrade replaces a running program's
 * file: names must then come from the loaded image, not from that file.
 * two-dumps: after the sites' allocations, a profile (heapprof_dump), then
 * one more allocation from far_site, on a page of its own, so that the exit
 * profile names an address the first profile's table was not read for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, used))
volatile int sink;

/* 2^14 exported functions, exp_0000... through doubling macros. */
#define F0(p)                                                                            \
	NOINLINE int p(void)                                                             \
	{                                                                                \
		return sink++;                                                           \
	}
#define F1(p)  F0(p##0) F0(p##1)
#define F2(p)  F1(p##0) F1(p##1)
#define F3(p)  F2(p##0) F2(p##1)
#define F4(p)  F3(p##0) F3(p##1)
#define F5(p)  F4(p##0) F4(p##1)
#define F6(p)  F5(p##0) F5(p##1)
#define F7(p)  F6(p##0) F6(p##1)
#define F8(p)  F7(p##0) F7(p##1)
#define F9(p)  F8(p##0) F8(p##1)
#define F10(p) F9(p##0) F9(p##1)
#define F11(p) F10(p##0) F10(p##1)
#define F12(p) F11(p##0) F11(p##1)
#define F13(p) F12(p##0) F12(p##1)
#define F14(p) F13(p##0) F13(p##1)
F14(exp_)

/* One exported function of 1 MiB (code that never runs) just below the
 * sites, as cc1's .dynsym holds one of 311,460 bytes: an address no symbol
 * covers must not be looked for as far down as the longest symbol reaches. */
NOINLINE int exp_giant(void)
{
	if (sink < 0)
		__asm__ volatile(".skip 1048576, 0x90");
	return sink;
}

/* Allocation sites: 32 static, 32 exported, interleaved in the text. */
#define SITE(i)                                                                          \
	static NOINLINE void *static_site_##i(size_t n)                                  \
	{                                                                                \
		return malloc(n);                                                        \
	}                                                                                \
	NOINLINE void *exported_site_##i(size_t n)                                       \
	{                                                                                \
		return malloc(n + 1);                                                    \
	}
#define SITES4(i)  SITE(i##0) SITE(i##1) SITE(i##2) SITE(i##3)
#define SITES16(i) SITES4(i##0) SITES4(i##1) SITES4(i##2) SITES4(i##3)
SITES16(0)
SITES16(1)

#define CALL(i)                                                                          \
	keep[k++] = static_site_##i(1000);                                               \
	keep[k++] = exported_site_##i(2000);
#define CALLS4(i)  CALL(i##0) CALL(i##1) CALL(i##2) CALL(i##3)
#define CALLS16(i) CALLS4(i##0) CALLS4(i##1) CALLS4(i##2) CALLS4(i##3)

/* 8 KiB of code that never runs, then far_site: on a page of its own,
 * away from the sites (the compiler keeps the source's order). */
NOINLINE void padding(void)
{
	__asm__ volatile(".skip 8192, 0x90");
}

NOINLINE void *far_site(size_t n)
{
	return malloc(n + 3);
}

#pragma weak heapprof_dump
int heapprof_dump(const char *path);

static void replace_self(void)
{
	char self[4096], tmp[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		exit(3);
	self[n] = '\0';
	snprintf(tmp, sizeof(tmp), "%s.new", self);
	FILE *in = fopen("/bin/true", "rb"), *out = fopen(tmp, "wb");
	if (!in || !out)
		exit(3);
	char buf[65536];
	size_t got;
	while ((got = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, got, out);
	fclose(in);
	if (fclose(out) || rename(tmp, self))
		exit(3);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "replace-self"))
		replace_self();
	static void *keep[128];
	int k = 0;
	CALLS16(0)
	CALLS16(1)
	if (argc > 1 && !strcmp(argv[1], "two-dumps")) {
		if (!heapprof_dump || heapprof_dump(NULL))
			return 4;
		keep[k++] = far_site(4000);
	}
	printf("%d blocks\n", k);
	return exp_00000000000000() + exp_11111111111111() + exp_giant() < 0;
}
