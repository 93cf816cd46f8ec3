/* SPDX-License-Identifier: MIT */
/* http_parse: requests accepted and refused, queries, numbers, symbol
 * addresses, HEAPPROF_HTTP addresses and %p. */
#include "http_parse.h"
#include "tap.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static int parse(const char *s, hp_http_req_t *r)
{
	return hp_http_parse(s, strlen(s), r);
}

static int eq(hp_http_str_t s, const char *lit)
{
	return s.n == strlen(lit) && !memcmp(s.p, lit, s.n);
}

static void requests(void)
{
	hp_http_req_t r;
	const char *get = "GET /debug/pprof/heap?seconds=2&gc=1 HTTP/1.1\r\nHost: x\r\n"
	                  "Authorization:  Bearer t0k \r\n\r\n";
	ok(parse(get, &r) == (int)strlen(get) && r.method == HP_HTTP_GET &&
	       eq(r.path, "/debug/pprof/heap") && eq(r.query, "seconds=2&gc=1") &&
	       eq(r.auth, "Bearer t0k"),
	   "GET: path, query, trimmed Authorization, head length");
	ok(hp_http_parse(get, strlen(get) - 1, &r) == 0,
	   "without the last LF: incomplete");
	const char *post =
	    "POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 7\r\n\r\n0x1+0x2";
	ok(parse(post, &r) == (int)strlen(post) - 7 && r.method == HP_HTTP_POST &&
	       r.content_length == 7,
	   "POST: Content-Length, the body not part of the head");
	ok(parse("HEAD / HTTP/1.0\r\n\r\n", &r) > 0 && r.method == HP_HTTP_HEAD,
	   "HEAD, HTTP/1.0");
	ok(parse("DELETE / HTTP/1.1\r\n\r\n", &r) > 0 && r.method == HP_HTTP_OTHER,
	   "another method is parsed (405 is the server's)");
	ok(parse("GET / HTTP/1.1\n\n", &r) == -400, "bare LF: 400 at once");
	ok(parse("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", &r) == -400, "bare CR: 400");
	ok(parse("GET / HTTP/2.0\r\n\r\n", &r) == -505, "HTTP/2.0: 505");
	ok(parse("GET / FTP/1.1\r\n\r\n", &r) == -400, "not HTTP: 400");
	ok(parse("GET http://x/ HTTP/1.1\r\n\r\n", &r) == -400, "absolute form: 400");
	ok(parse("GET  / HTTP/1.1\r\n\r\n", &r) == -400, "two spaces: 400");
	ok(parse("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", &r) == -400,
	   "folded header: 400");
	ok(parse("GET / HTTP/1.1\r\nX : a\r\n\r\n", &r) == -400,
	   "space before colon: 400");
	ok(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n",
	         &r) == -400,
	   "two Content-Length: 400");
	ok(parse("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r) == -400,
	   "negative Content-Length: 400");
	ok(parse("GET / HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", &r) ==
	       -400,
	   "two Authorization: 400");
	ok(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r) == -501,
	   "Transfer-Encoding: 501");
	static char big[HP_HTTP_HEAD_MAX + 10];
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	ok(parse(big, &r) == -431, "no end within 8 KiB: 431");
	char many[4096] = "GET / HTTP/1.1\r\n";
	for (int i = 0; i < HP_HTTP_HEADERS_MAX + 1; i++)
		strcat(many, "A: b\r\n");
	strcat(many, "\r\n");
	ok(parse(many, &r) == -431, "65 headers: 431");
}

static void pieces(void)
{
	hp_http_str_t q = {"a=1&seconds=30&debug", 20}, v;
	ok(hp_http_query(q, "seconds", &v) && eq(v, "30"), "query: seconds=30");
	ok(hp_http_query(q, "debug", &v) && v.n == 0, "query: a key without a value");
	ok(!hp_http_query(q, "second", &v), "query: a prefix of a key is not the key");
	uint64_t n;
	ok(hp_http_uint((hp_http_str_t){"300", 3}, 300, &n) && n == 300,
	   "number at the max");
	ok(!hp_http_uint((hp_http_str_t){"301", 3}, 300, &n), "number over the max");
	ok(!hp_http_uint((hp_http_str_t){"99999999999999999999", 20}, UINT64_MAX, &n),
	   "20 digits refused");
	ok(!hp_http_uint((hp_http_str_t){"1x", 2}, 300, &n), "trailing letter refused");
	hp_http_str_t body = {"0x10+0X2f+ab\n", 13};
	size_t pos = 0;
	uint64_t a[3];
	int k = 0;
	while (k < 3 && hp_http_next_addr(body, &pos, &a[k]))
		k++;
	ok(k == 3 && a[0] == 16 && a[1] == 47 && a[2] == 0xab &&
	       !hp_http_next_addr(body, &pos, &n),
	   "symbol addresses: 0x10, 0X2f, ab, then the end");
	ok(!hp_http_next_addr((hp_http_str_t){"0xZZ", 4}, &(size_t){0}, &n),
	   "a malformed address stops");
}

static void addresses(void)
{
	hp_http_addr_t a;
	ok(!hp_http_parse_addr("127.0.0.1:6060", &a) && a.family == AF_INET &&
	       a.port == 6060 && a.loopback,
	   "127.0.0.1:6060");
	ok(!hp_http_parse_addr("localhost:0", &a) && a.family == AF_INET &&
	       a.ip[0] == 127 && a.port == 0,
	   "localhost:0 is 127.0.0.1, any port");
	ok(!hp_http_parse_addr("[::1]:80", &a) && a.family == AF_INET6 && a.loopback,
	   "[::1]:80");
	ok(!hp_http_parse_addr("0.0.0.0:80", &a) && !a.loopback,
	   "0.0.0.0 is not loopback");
	ok(!hp_http_parse_addr("[::]:80", &a) && !a.loopback, "[::] is not loopback");
	ok(!hp_http_parse_addr("unix:/tmp/x.%p.sock", &a) && a.family == AF_UNIX &&
	       a.loopback && !strcmp(a.path, "/tmp/x.%p.sock"),
	   "unix:/tmp/x.%%p.sock");
	const char *bad[] = {"127.0.0.1",     "[::1]",    "::1:80",     "example.com:80",
	                     "1.2.3.4:65536", "1.2.3.4:", "1.2.3.4:-1", "unix:rel.sock",
	                     "unix:/a%d",     ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(hp_http_parse_addr(bad[i], &a) == -EINVAL, "refused: \"%s\"", bad[i]);
	char out[HP_HTTP_PATH_MAX];
	ok(hp_http_expand_path("/tmp/a.%p.sock", 42, out, sizeof(out)) &&
	       !strcmp(out, "/tmp/a.42.sock"),
	   "%%p is the pid");
	ok(!hp_http_expand_path("/tmp/aaaaaaaa.%p", 1234567, out, 16), "too long: false");
}

int main(void)
{
	requests();
	pieces();
	addresses();
	return tap_done();
}
