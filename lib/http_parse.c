/* SPDX-License-Identifier: MIT */
/*
 * http_parse: a strict reading of RFC 9112's request head, only what the
 * endpoint needs: the method, an origin-form target, Content-Length and
 * Authorization. Everything else is checked for syntax and skipped. It reads
 * the caller's buffer and never writes outside *req.
 */
#include "http_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/* RFC 9110 tchar: the characters of a method or a header name. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool ieq(hp_http_str_t s, const char *lit)
{
	size_t n = strlen(lit);
	if (s.n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}

/* The end of the head (the index after CRLF CRLF), 0 if it is not in
 * buf yet, or -1 at a bare LF: such a request is refused without waiting. */
static ssize_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return -1;
		if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return (ssize_t)i + 1;
	}
	return 0;
}

/* METHOD SP /target SP HTTP/1.x; the line without its CRLF. */
static int request_line(hp_http_str_t line, hp_http_req_t *req)
{
	size_t i = 0;
	while (i < line.n && is_tchar((unsigned char)line.p[i]))
		i++;
	if (!i || i > 16 || i >= line.n || line.p[i] != ' ')
		return -400;
	hp_http_str_t m = {line.p, i};
	req->method = m.n == 3 && !memcmp(m.p, "GET", 3)    ? HP_HTTP_GET
	              : m.n == 4 && !memcmp(m.p, "HEAD", 4) ? HP_HTTP_HEAD
	              : m.n == 4 && !memcmp(m.p, "POST", 4) ? HP_HTTP_POST
	                                                    : HP_HTTP_OTHER;
	size_t t = ++i;
	while (i < line.n && line.p[i] > ' ' && line.p[i] < 0x7f && line.p[i] != '#')
		i++;
	if (i == t || line.p[t] != '/' || i >= line.n || line.p[i] != ' ')
		return -400;
	hp_http_str_t target = {line.p + t, i - t};
	const char *q = memchr(target.p, '?', target.n);
	req->path.p = target.p;
	req->path.n = q ? (size_t)(q - target.p) : target.n;
	req->query.p = q ? q + 1 : target.p + target.n;
	req->query.n = q ? target.n - req->path.n - 1 : 0;
	hp_http_str_t v = {line.p + i + 1, line.n - i - 1};
	if (v.n != 8 || memcmp(v.p, "HTTP/", 5) || v.p[6] != '.' || v.p[5] < '0' ||
	    v.p[5] > '9' || v.p[7] < '0' || v.p[7] > '9')
		return -400;
	return v.p[5] == '1' ? 0 : -505;
}

/* name: OWS value OWS; the value trimmed into *value. */
static int header_line(hp_http_str_t line, hp_http_str_t *name, hp_http_str_t *value)
{
	size_t i = 0;
	while (i < line.n && is_tchar((unsigned char)line.p[i]))
		i++;
	if (!i || i >= line.n || line.p[i] != ':')
		return -400;
	*name = (hp_http_str_t){line.p, i};
	size_t s = i + 1, e = line.n;
	while (s < e && (line.p[s] == ' ' || line.p[s] == '\t'))
		s++;
	while (e > s && (line.p[e - 1] == ' ' || line.p[e - 1] == '\t'))
		e--;
	for (size_t k = s; k < e; k++) {
		unsigned char c = (unsigned char)line.p[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -400;
	}
	*value = (hp_http_str_t){line.p + s, e - s};
	return 0;
}

static int header(hp_http_req_t *req, hp_http_str_t name, hp_http_str_t value,
                  bool *have_length)
{
	if (ieq(name, "transfer-encoding"))
		return -501;
	if (ieq(name, "content-length")) {
		uint64_t n;
		if (*have_length || !hp_http_uint(value, 1u << 30, &n))
			return -400;
		*have_length = true;
		req->content_length = n;
	} else if (ieq(name, "authorization")) {
		if (req->auth.p)
			return -400;
		req->auth = value;
	}
	return 0;
}

int hp_http_parse(const char *buf, size_t len, hp_http_req_t *req)
{
	ssize_t found = head_end(buf, len < HP_HTTP_HEAD_MAX ? len : HP_HTTP_HEAD_MAX);
	if (found < 0)
		return -400;
	if (!found)
		return len >= HP_HTTP_HEAD_MAX ? -431 : 0;
	size_t end = (size_t)found;
	memset(req, 0, sizeof(*req));
	req->head_len = end;
	bool have_length = false;
	size_t pos = 0, nheaders = 0;
	for (;;) {
		const char *lf = memchr(buf + pos, '\n', end - pos);
		size_t stop = (size_t)(lf - buf); /* a '\n' is found: end ends in one */
		if (stop == pos || buf[stop - 1] != '\r')
			return -400; /* a bare LF */
		hp_http_str_t line = {buf + pos, stop - 1 - pos};
		if (memchr(line.p, '\r', line.n))
			return -400; /* a bare CR */
		int r;
		if (pos == 0) {
			r = request_line(line, req);
		} else if (!line.n) {
			return (int)end;
		} else if (++nheaders > HP_HTTP_HEADERS_MAX) {
			r = -431;
		} else {
			hp_http_str_t name, value;
			r = header_line(line, &name, &value);
			if (!r)
				r = header(req, name, value, &have_length);
		}
		if (r)
			return r;
		pos = stop + 1;
	}
}

bool hp_http_query(hp_http_str_t q, const char *key, hp_http_str_t *val)
{
	size_t klen = strlen(key), i = 0;
	while (i <= q.n) {
		size_t e = i;
		while (e < q.n && q.p[e] != '&')
			e++;
		if (e - i > klen && !memcmp(q.p + i, key, klen) && q.p[i + klen] == '=') {
			*val = (hp_http_str_t){q.p + i + klen + 1, e - i - klen - 1};
			return true;
		}
		if (e - i == klen && !memcmp(q.p + i, key, klen)) {
			*val = (hp_http_str_t){q.p + e, 0};
			return true;
		}
		i = e + 1;
	}
	return false;
}

bool hp_http_uint(hp_http_str_t s, uint64_t max, uint64_t *out)
{
	if (!s.n || s.n > 19)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool hp_http_next_addr(hp_http_str_t s, size_t *pos, uint64_t *addr)
{
	size_t i = *pos;
	while (i < s.n && (s.p[i] == '+' || s.p[i] == '\r' || s.p[i] == '\n'))
		i++;
	if (i + 1 < s.n && s.p[i] == '0' && (s.p[i + 1] == 'x' || s.p[i + 1] == 'X'))
		i += 2;
	uint64_t v = 0;
	size_t start = i;
	for (; i < s.n && hexval(s.p[i]) >= 0; i++) {
		if (i - start >= 16)
			return false;
		v = v << 4 | (uint64_t)hexval(s.p[i]);
	}
	if (i == start || (i < s.n && s.p[i] != '+' && s.p[i] != '\r' && s.p[i] != '\n'))
		return false;
	*addr = v;
	*pos = i;
	return true;
}

static int parse_port(const char *s, unsigned *port)
{
	uint64_t v;
	if (!hp_http_uint((hp_http_str_t){s, strlen(s)}, 65535, &v))
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

static int parse_unix(const char *path, hp_http_addr_t *a)
{
	size_t n = strlen(path);
	/* %p becomes at most 10 digits: keep room for them. */
	if (path[0] != '/' || n + 8 >= sizeof(a->path))
		return -EINVAL;
	for (const char *p = path; *p; p++)
		if (*p == '%' && p[1] != 'p')
			return -EINVAL;
	a->family = AF_UNIX;
	a->loopback = true;
	memcpy(a->path, path, n + 1);
	return 0;
}

int hp_http_parse_addr(const char *s, hp_http_addr_t *a)
{
	memset(a, 0, sizeof(*a));
	if (!strncmp(s, "unix:", 5))
		return parse_unix(s + 5, a);
	char host[64];
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
		a->family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		a->family = AF_INET;
		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
	}
	if (parse_port(colon + 1, &a->port) || inet_pton(a->family, host, a->ip) != 1)
		return -EINVAL;
	static const unsigned char v6_loopback[16] = {[15] = 1};
	a->loopback =
	    a->family == AF_INET ? a->ip[0] == 127 : !memcmp(a->ip, v6_loopback, 16);
	return 0;
}

bool hp_http_expand_path(const char *path, int pid, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = path; *p; p++) {
		char num[16];
		const char *piece = num;
		if (p[0] == '%' && p[1] == 'p') {
			char *d = num + sizeof(num) - 1;
			*d = '\0';
			unsigned v = (unsigned)pid;
			do
				*--d = (char)('0' + v % 10);
			while (v /= 10);
			piece = d;
			p++;
		} else {
			num[0] = *p, num[1] = '\0';
		}
		size_t n = strlen(piece);
		if (o + n >= len)
			return false;
		memcpy(out + o, piece, n);
		o += n;
	}
	out[o] = '\0';
	return true;
}
