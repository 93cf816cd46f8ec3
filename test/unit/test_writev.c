/* SPDX-License-Identifier: MIT */
/*
 * common: hp_writev_all writes every buffer whole, and an empty buffer (zlib
 * gives none for many chunks of a large profile) is no error: a writev of
 * nothing returns 0, which the loop once took for a failed write.
 */
#include "common.h"
#include "tap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* What fd holds, from the start, into buf (NUL-terminated). */
static const char *contents(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

int main(void)
{
	FILE *f = tmpfile();
	int fd = f ? fileno(f) : -1;
	char got[64];
	struct iovec none = {(void *)"", 0};
	ok(fd >= 0 && hp_writev_all(fd, &none, 1) == 0, "one empty buffer: 0, no error");
	struct iovec some[] = {{(void *)"", 0},
	                       {(void *)"abc", 3},
	                       {(void *)"", 0},
	                       {(void *)"de", 2},
	                       {(void *)"", 0}};
	ok(hp_writev_all(fd, some, 5) == 0, "empty buffers among full ones: 0");
	ok(!strcmp(contents(fd, got, sizeof(got)), "abcde"), "the bytes, in order: %s",
	   got);
	ok(hp_writev_all(fd, some, 0) == 0, "no buffers: 0");
	struct iovec bad = {(void *)"x", 1};
	ok(hp_writev_all(-1, &bad, 1) == -EBADF, "a bad descriptor: -EBADF");
	if (f)
		fclose(f);
	return tap_done();
}
