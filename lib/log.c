/* SPDX-License-Identifier: MIT */
/*
 * log: allocation-free formatting and stderr output (see log.h). The lock's
 * slow path and the clock are common.c's.
 */
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

/* n bytes of s: as put of each, in one copy. */
static void put_str(struct out *o, const char *s, size_t n)
{
	if (o->len + 1 < o->cap) {
		size_t room = o->cap - 1 - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void put_num(struct out *o, unsigned long long v, unsigned base, int width,
                    char pad, int neg)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

size_t hp_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = {buf, cap, 0};
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			const char *q = p;
			while (q[1] && q[1] != '%')
				q++;
			put_str(&o, p, (size_t)(q - p) + 1);
			p = q;
			continue;
		}
		p++;
		char pad = ' ';
		int width = 0, lng = 0, sz = 0;
		if (*p == '0')
			pad = '0', p++;
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		while (*p == 'l')
			lng++, p++;
		if (*p == 'z')
			sz = 1, p++;
		switch (*p) {
		case 'd': {
			long long v =
			    lng ? (lng > 1 ? va_arg(ap, long long) : va_arg(ap, long))
			        : va_arg(ap, int);
			put_num(&o,
			        v < 0 ? -(unsigned long long)v : (unsigned long long)v,
			        10, width, pad, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v;
			if (sz)
				v = va_arg(ap, size_t);
			else if (lng > 1)
				v = va_arg(ap, unsigned long long);
			else if (lng)
				v = va_arg(ap, unsigned long);
			else
				v = va_arg(ap, unsigned);
			put_num(&o, v, *p == 'x' ? 16 : 10, width, pad, 0);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, 0, ' ', 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t n = strlen(s);
			for (int i = (int)n; i < width; i++)
				put(&o, ' ');
			put_str(&o, s, n);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '%');
			if (*p)
				put(&o, *p);
			else
				p--;
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

size_t hp_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = hp_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

static void vlog(const char *fmt, va_list ap)
{
	int saved = errno;
	char buf[512];
	size_t n = hp_fmt(buf, sizeof(buf), "heapprof: ");
	n += hp_vfmt(buf + n, sizeof(buf) - n - 1, fmt, ap);
	buf[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

void hp_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void hp_log_once(int *flag, const char *fmt, ...)
{
	if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}
