/* SPDX-License-Identifier: MIT */
/*
 * http_parse: the endpoint's strict HTTP/1.1 request parser and its address
 * syntax (HEAPPROF_HTTP). Pure functions over caller buffers: no allocation,
 * no I/O, no locale. It does not serve anything (http.c).
 */
#ifndef HP_HTTP_PARSE_H
#define HP_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_HTTP_HEAD_MAX    8192 /* request line and headers, bytes */
#define HP_HTTP_HEADERS_MAX 64
#define HP_HTTP_PATH_MAX    108 /* sun_path */

typedef enum {
	HP_HTTP_GET = 1,
	HP_HTTP_HEAD,
	HP_HTTP_POST,
	HP_HTTP_OTHER
} hp_http_method_t;

/* A piece of the caller's buffer: not NUL-terminated. */
typedef struct {
	const char *p;
	size_t n;
} hp_http_str_t;

typedef struct {
	hp_http_method_t method;
	hp_http_str_t path;      /* the target up to '?', starting with '/' */
	hp_http_str_t query;     /* after '?'; n = 0 without one */
	hp_http_str_t auth;      /* the Authorization value; n = 0 without one */
	uint64_t content_length; /* 0 without Content-Length */
	size_t head_len;         /* bytes of request line and headers */
} hp_http_req_t;

/*
 * Parses the head of a request at the start of buf. Returns the head's length
 * (> 0) when it is complete and valid, 0 when more bytes are needed, or the
 * status to answer, negated: -400 malformed, -431 longer than
 * HP_HTTP_HEAD_MAX, -501 a Transfer-Encoding, -505 not HTTP/1.x. Line ends
 * are CRLF; no folded headers, no duplicate Content-Length or
 * Authorization, no absolute-form target.
 */
int hp_http_parse(const char *buf, size_t len, hp_http_req_t *req);

/* The value of key in a query string (a=1&b=2), undecoded; false if absent. */
bool hp_http_query(hp_http_str_t query, const char *key, hp_http_str_t *val);

/* A decimal number no greater than max; false otherwise. */
bool hp_http_uint(hp_http_str_t s, uint64_t max, uint64_t *out);

/*
 * The next address of a symbol request ("0x1234+0x5678"), from *pos in s;
 * advances *pos. False at the end or on a malformed address.
 */
bool hp_http_next_addr(hp_http_str_t s, size_t *pos, uint64_t *addr);

/* A HEAPPROF_HTTP value. */
typedef struct {
	int family; /* AF_INET, AF_INET6 or AF_UNIX */
	unsigned char ip[16];
	unsigned port;               /* 0: any free port */
	bool loopback;               /* 127.0.0.0/8, ::1, or a unix socket */
	char path[HP_HTTP_PATH_MAX]; /* AF_UNIX: absolute, %p not yet replaced */
} hp_http_addr_t;

/*
 * Parses 127.0.0.1:PORT, [::1]:PORT, localhost:PORT, any other IPv4 or
 * bracketed IPv6 literal with a port, or unix:/absolute/path, in which %p
 * stands for the pid. Returns 0 or -EINVAL.
 */
int hp_http_parse_addr(const char *s, hp_http_addr_t *a);

/* path with %p replaced by pid, into out; false if it does not fit. */
bool hp_http_expand_path(const char *path, int pid, char *out, size_t len);

#endif
