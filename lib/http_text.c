/* SPDX-License-Identifier: MIT */
/*
 * http_text: a contention profile (block, mutex) as the text Go's
 * /debug/pprof/block?debug=1 and /mutex?debug=1 print: a header, then one
 * record per stack, largest delay first, "<cycles> <count> @ <pcs>", a
 * "#" line per frame and a blank line. Cycles are nanoseconds
 * (cycles/second=1000000000).
 * Frame lines name the function, without Go's offset and file:line (the
 * binary profile has the addresses; heapprof symbolize adds the lines). It
 * does not serve anything (http_routes.c).
 */
#include "http_text.h"
#include "backing.h"
#include "contention.h"
#include "log.h"
#include "sampler.h"
#include "symbols.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	const hp_bucket_t *b;
	uint64_t delay;
	int64_t count;
} rec_t;

typedef struct {
	const hp_kind_t *kind;
	rec_t *v;
	size_t n, cap;
	bool oom;
	char *out;
	size_t len, outcap;
} text_t;

static void collect(const hp_bucket_t *b, void *arg)
{
	text_t *T = arg;
	hp_counts_t c;
	T->kind->read(b, &c);
	if (!c.delay || T->oom)
		return;
	if (T->n == T->cap) {
		size_t cap = T->cap ? T->cap * 2 : 64;
		rec_t *v = hp_real.realloc(T->v, cap * sizeof(*v));
		if (!v) {
			T->oom = true;
			return;
		}
		T->v = v, T->cap = cap;
	}
	T->v[T->n++] = (rec_t){b, c.delay, hp_weight_to_objects(c.contentions)};
}

static int by_delay(const void *a, const void *b)
{
	uint64_t x = ((const rec_t *)a)->delay, y = ((const rec_t *)b)->delay;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void put(text_t *T, const char *s)
{
	size_t n = strlen(s);
	if (T->oom)
		return;
	if (T->len + n + 1 > T->outcap) {
		size_t cap = (T->len + n + 1) * 2 + 4096;
		char *p = hp_real.realloc(T->out, cap);
		if (!p) {
			T->oom = true;
			return;
		}
		T->out = p, T->outcap = cap;
	}
	memcpy(T->out + T->len, s, n + 1);
	T->len += n;
}

static void record(text_t *T, const rec_t *r)
{
	char line[1200];
	hp_fmt(line, sizeof(line), "%llu %lld @", (unsigned long long)r->delay,
	       (long long)r->count);
	put(T, line);
	for (uint32_t i = 0; i < r->b->nframes; i++) {
		hp_fmt(line, sizeof(line), " 0x%llx",
		       (unsigned long long)r->b->frames[i]);
		put(T, line);
	}
	put(T, "\n");
	/* As Go's printStackRecord: a frame without a name is its address
	 * alone, and a blank line ends the record. */
	for (uint32_t i = 0; i < r->b->nframes; i++) {
		char name[1024];
		uintptr_t pc = r->b->frames[i] - 1;
		if (hp_symbols_name_copy(pc, name, sizeof(name)))
			hp_fmt(line, sizeof(line), "#\t0x%llx\t%s\n",
			       (unsigned long long)pc, name);
		else
			hp_fmt(line, sizeof(line), "#\t0x%llx\n", (unsigned long long)pc);
		put(T, line);
	}
	put(T, "\n");
}

int hp_http_text_contention(const hp_kind_t *kind, const char *name, char **out,
                            size_t *len)
{
	text_t T = {.kind = kind};
	kind->foreach (collect, &T);
	if (!T.oom)
		qsort(T.v, T.n, sizeof(*T.v), by_delay);
	char line[160];
	hp_fmt(line, sizeof(line), "--- %s:\ncycles/second=1000000000\n", name);
	put(&T, line);
	if (kind == &hp_kinds[HP_KIND_MUTEX]) {
		hp_fmt(line, sizeof(line), "sampling period=%llu\n",
		       (unsigned long long)hp_mutex_fraction);
		put(&T, line);
	}
	hp_symbols_refresh();
	for (size_t i = 0; i < T.n && !T.oom; i++)
		record(&T, &T.v[i]);
	hp_real.free(T.v);
	if (T.oom) {
		hp_real.free(T.out);
		return -1;
	}
	*out = T.out;
	*len = T.len;
	return 0;
}
