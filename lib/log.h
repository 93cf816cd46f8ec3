/* SPDX-License-Identifier: MIT */
/*
 * log: messages to stderr that never allocate and never use stdio, so they are
 * safe inside allocation hooks and after fork. It formats into a stack buffer
 * and writes with one write(2). It does not decide what is worth reporting.
 */
#ifndef HP_LOG_H
#define HP_LOG_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A tiny printf subset: %s %d %ld %lld %u %lu %llu %zu %x %lx %llx %p %c %%,
 * with an optional field width ("%4lu", "%04lu"). Always NUL-terminates;
 * returns the length written (truncated to cap - 1).
 */
size_t hp_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t hp_fmt(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "heapprof: <message>\n" on stderr, errno preserved. */
void hp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Like hp_log, but at most once per *flag for the life of the process (the
 * flag is a caller-owned static). For errors that could repeat on every call.
 */
void hp_log_once(int *flag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
