/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http: the endpoint's request parser (lib/http_parse.c) under a
 * fuzzer. Every input must be accepted, refused with an HTTP status, or found
 * incomplete, without reading outside it; what is accepted must point inside
 * it. The same bytes also go through the query, number, symbol-address and
 * HEAPPROF_HTTP address parsers. libFuzzer calls LLVMFuzzerTestOneInput;
 * without libFuzzer, main() runs the files given on the command line.
 */
#include "http_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(hp_http_str_t s, const char *buf, size_t len)
{
	if (s.n && (s.p < buf || s.p + s.n > buf + len))
		abort();
}

static void request(const char *buf, size_t size)
{
	hp_http_req_t req;
	int r = hp_http_parse(buf, size, &req);
	if (r == 0 || r == -400 || r == -431 || r == -501 || r == -505)
		return;
	if (r < 0 || (size_t)r != req.head_len || req.head_len > size ||
	    req.head_len > HP_HTTP_HEAD_MAX || req.path.n == 0 || req.path.p[0] != '/')
		abort();
	inside(req.path, buf, size);
	inside(req.query, buf, size);
	inside(req.auth, buf, size);
	hp_http_str_t v;
	uint64_t n;
	if (hp_http_query(req.query, "seconds", &v)) {
		inside(v, buf, size);
		hp_http_uint(v, 300, &n);
	}
	hp_http_str_t body = {buf + req.head_len, size - req.head_len};
	size_t pos = 0, last = 0;
	while (hp_http_next_addr(body, &pos, &n)) {
		if (pos <= last && last)
			abort(); /* no progress: an endless loop */
		last = pos;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	request(buf, size);
	free(buf);
	char addr[300];
	size_t n = size < sizeof(addr) - 1 ? size : sizeof(addr) - 1;
	memcpy(addr, data, n);
	addr[n] = '\0';
	hp_http_addr_t a;
	if (!hp_http_parse_addr(addr, &a) && a.family == 1 /* AF_UNIX */) {
		char path[HP_HTTP_PATH_MAX];
		hp_http_expand_path(a.path, 2147483647, path, sizeof(path));
	}
	return 0;
}

#ifndef HP_LIBFUZZER
int main(int argc, char **argv)
{
	static unsigned char buf[1 << 20];
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("ran %d inputs\n", argc - 1);
	return 0;
}
#endif
