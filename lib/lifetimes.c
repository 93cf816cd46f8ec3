/* SPDX-License-Identifier: MIT */
/*
 * lifetimes: the pairs (allocation bucket, free bucket, same thread) in a
 * chained hash table of immortal entries in the metadata arena, each entry
 * under one of 64 striped locks; a pair keeps its lifetimes' weighted sum,
 * sum of squares, extremes and a histogram of 24 bins, factor 4 apart
 * (docs/lifetimes.md). The blocks still alive are read from the live map when
 * a profile is written.
 */
#include "lifetimes.h"
#include "kinds.h"
#include "meta_alloc.h"
#include "scratch.h"

#include <errno.h>
#include <string.h>

HP_HIDDEN bool hp_lifetimes_on;
static uint64_t start_ns; /* CLOCK_MONOTONIC at start */

#define TIME_BITS (64 - HP_STAMP_THREAD_BITS)
#define TIME_MASK ((UINT64_C(1) << TIME_BITS) - 1)
/* Bin k holds lifetimes in [4^k, 4^(k+1)) ns (bin 0 from 0); the last, all above. */
#define NBINS 24

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hp_lifetimes_init(bool on)
{
	if (on) /* else no clock read: its first costs two page faults */
		start_ns = monotonic_ns();
	hp_lifetimes_on = on;
}

/* Nanoseconds since start, modulo 2^48. */
static uint64_t now_ns(void)
{
	return (monotonic_ns() - start_ns) & TIME_MASK;
}

/* The calling thread's tag: its own, not the sampler's thread number, which
 * a thread that only frees never gets. */
static HP_TLS uint32_t tag;
static atomic_uint tags;

static uint32_t thread_tag(void)
{
	if (hp_unlikely(!tag))
		tag = atomic_fetch_add_explicit(&tags, 1, memory_order_relaxed) %
		          ((1u << HP_STAMP_THREAD_BITS) - 1) +
		      1;
	return tag;
}

uint64_t hp_lifetimes_stamp(void)
{
	return now_ns() << HP_STAMP_THREAD_BITS | thread_tag();
}

/* Nanoseconds from stamp's time to now (both modulo 2^48). */
static uint64_t age(uint64_t stamp, uint64_t now)
{
	return (now - (stamp >> HP_STAMP_THREAD_BITS)) & TIME_MASK;
}

static unsigned bin_of(uint64_t ns)
{
	unsigned k = ns < 4 ? 0 : (63 - (unsigned)__builtin_clzll(ns)) / 2;
	return k < NBINS ? k : NBINS - 1;
}

/* One pair's lifetimes (or one bucket's ages): weights as the heap's. */
typedef struct {
	uint64_t count_w, bytes_w; /* HP_W_ONE units; bytes */
	double sum, sumsq;         /* of w * ns and w * ns^2, w in objects */
	uint64_t min, max;         /* ns; min valid when count_w */
	uint64_t bins[NBINS];      /* count weights */
} stats_t;

static void stats_add(stats_t *s, uint64_t count_w, uint64_t bytes_w, uint64_t ns)
{
	double w = (double)count_w / HP_W_ONE, x = (double)ns;
	if (!s->count_w || ns < s->min)
		s->min = ns;
	if (ns > s->max)
		s->max = ns;
	s->count_w += count_w;
	s->bytes_w += bytes_w;
	s->sum += w * x;
	s->sumsq += w * x * x;
	s->bins[bin_of(ns)] += count_w;
}

/* ---- the pairs ----------------------------------------------------------- */

typedef struct pair {
	struct pair *_Atomic next; /* in its chain; written once, before publishing */
	const hp_bucket_t *alloc, *free;
	bool same;    /* freed by the allocating thread */
	stats_t s[2]; /* since start, and the open window's; under the stripe */
} pair_t;

#define HEADS_LG   16
#define STRIPES_LG 6
HP_LARGE static pair_t *_Atomic heads[1u << HEADS_LG];
HP_LARGE static hp_lock_t stripes[1u << STRIPES_LG];
/* The window's start (ns since start, modulo 2^48) + 1; 0: no window. */
static _Atomic uint64_t window_at;

static size_t head_of(const hp_bucket_t *a, const hp_bucket_t *f, bool same)
{
	uint64_t h = hp_mix64((uintptr_t)a ^ hp_mix64((uintptr_t)f + same));
	return h >> (64 - HEADS_LG);
}

static hp_lock_t *stripe_of(size_t head)
{
	return &stripes[head & ((1u << STRIPES_LG) - 1)];
}

/* The pair, created if new; NULL when the metadata arena is exhausted.
 * Stripe lock held. */
static pair_t *find_locked(size_t h, const hp_bucket_t *a, const hp_bucket_t *f,
                           bool same)
{
	for (pair_t *p = atomic_load_explicit(&heads[h], memory_order_acquire); p;
	     p = atomic_load_explicit(&p->next, memory_order_acquire))
		if (p->alloc == a && p->free == f && p->same == same)
			return p;
	pair_t *p = hp_meta_alloc(sizeof(*p));
	if (!p)
		return NULL;
	p->alloc = a, p->free = f, p->same = same;
	atomic_store_explicit(&p->next,
	                      atomic_load_explicit(&heads[h], memory_order_relaxed),
	                      memory_order_relaxed);
	atomic_store_explicit(&heads[h], p, memory_order_release);
	return p;
}

/* Was the block of stamp allocated since the window opened? win as window_at. */
static bool in_window(uint64_t stamp, uint64_t win, uint64_t now)
{
	/* It lived no longer than the window has: ages are exact below 2^48 ns. */
	return win && age(stamp, now) <= ((now - (win - 1)) & TIME_MASK);
}

int hp_lifetimes_note_free(const hp_live_t *rec, const uintptr_t *frames, unsigned n,
                           bool truncated)
{
	uint64_t now = now_ns(), ns = age(rec->stamp, now);
	hp_bucket_t *f = hp_stack_table_intern(frames, n, truncated);
	if (!f)
		return -ENOMEM;
	bool same = (rec->stamp & ((1u << HP_STAMP_THREAD_BITS) - 1)) == thread_tag();
	uint64_t count_w, bytes_w;
	hp_sampler_weights(rec->size, &count_w, &bytes_w);
	bool counted = in_window(
	    rec->stamp, atomic_load_explicit(&window_at, memory_order_acquire), now);
	size_t h = head_of(rec->bucket, f, same);
	hp_lock(stripe_of(h));
	pair_t *p = find_locked(h, rec->bucket, f, same);
	if (p) {
		stats_add(&p->s[0], count_w, bytes_w, ns);
		if (counted)
			stats_add(&p->s[1], count_w, bytes_w, ns);
	}
	hp_unlock(stripe_of(h));
	return p ? 0 : -ENOMEM;
}

void hp_lifetimes_window(bool open)
{
	if (!open) {
		atomic_store_explicit(&window_at, 0, memory_order_release);
		return;
	}
	for (size_t h = 0; h < HP_ARRAY_SIZE(heads); h++)
		for (pair_t *p = atomic_load_explicit(&heads[h], memory_order_acquire); p;
		     p = atomic_load_explicit(&p->next, memory_order_acquire)) {
			hp_lock(stripe_of(h));
			memset(&p->s[1], 0, sizeof(p->s[1]));
			hp_unlock(stripe_of(h));
		}
	atomic_store_explicit(&window_at, now_ns() + 1, memory_order_release);
}

/* ---- the profile --------------------------------------------------------- */

/* sqrt without libm (the library does not link it): Newton from above. */
static double root(double x)
{
	if (!(x > 0))
		return 0;
	double r = x > 1 ? x : 1;
	for (int i = 0; i < 200; i++) {
		double next = 0.5 * (r + x / r);
		if (next >= r)
			break;
		r = next;
	}
	return r;
}

static const char NS[] = "nanoseconds";

/* The lifetime labels of s: the pair's id, its statistics, its histogram
 * when bins; returns how many. */
static size_t labels(hp_profile_label_t *l, const stats_t *s, uint64_t id, int same,
                     bool bins)
{
	double w = (double)s->count_w / HP_W_ONE, avg = s->sum / w;
	double var = s->sumsq / w - avg * avg;
	size_t n = 0;
	l[n++] = (hp_profile_label_t){.key = "callstack-pair-id", .num = (int64_t)id};
	l[n++] = (hp_profile_label_t){
	    .key = "avg_lifetime", .unit = NS, .num = (int64_t)(avg + 0.5)};
	l[n++] = (hp_profile_label_t){
	    .key = "stddev_lifetime", .unit = NS, .num = (int64_t)(root(var) + 0.5)};
	l[n++] = (hp_profile_label_t){
	    .key = "min_lifetime", .unit = NS, .num = (int64_t)s->min};
	l[n++] = (hp_profile_label_t){
	    .key = "max_lifetime", .unit = NS, .num = (int64_t)s->max};
	if (same >= 0)
		l[n++] = (hp_profile_label_t){.key = "active thread",
		                              .str = same ? "same" : "different"};
	for (unsigned k = 0; bins && k < NBINS; k++) {
		if (!s->bins[k])
			continue;
		l[n++] = (hp_profile_label_t){.key = "lifetime_bin",
		                              .unit = NS,
		                              .num = k ? (int64_t)1 << (2 * k) : 0};
		l[n++] = (hp_profile_label_t){.key = "lifetime_bin_objects",
		                              .unit = "count",
		                              .num = hp_weight_to_objects(s->bins[k])};
	}
	return n;
}

/* A pair as two samples joined by their id (f NULL: blocks still alive, one
 * sample, censored, without a thread). Returns false once the write failed. */
static bool emit(hp_profile_writer_t *W, const hp_bucket_t *a, const hp_bucket_t *f,
                 const stats_t *s, int same, uint64_t id)
{
	hp_profile_label_t l[HP_PROFILE_LABELS_MAX];
	int64_t v[HP_LT_NTYPES] = {0};
	int64_t objects = hp_weight_to_objects(s->count_w), bytes = (int64_t)s->bytes_w;
	v[HP_LT_ALLOC_OBJECTS] = objects, v[HP_LT_ALLOC_SPACE] = bytes;
	if (!f)
		v[HP_LT_CENSORED_OBJECTS] = objects, v[HP_LT_CENSORED_SPACE] = bytes;
	if (!hp_profile_sample(W, a, v, l, labels(l, s, id, f ? same : -1, true)))
		return false;
	if (!f)
		return true;
	memset(v, 0, sizeof(v));
	v[HP_LT_FREE_OBJECTS] = objects, v[HP_LT_FREE_SPACE] = bytes;
	return hp_profile_sample(W, f, v, l, labels(l, s, id, same, false));
}

/* The blocks still alive, by allocation bucket: an open-addressed table. */
typedef struct {
	const hp_bucket_t *b; /* NULL: empty */
	stats_t s;
} alive_t;

typedef struct {
	alive_t *t;
	size_t n, cap;
	uint64_t win, now;
	bool oom;
} alive_table_t;

static alive_t *alive_slot(alive_t *t, size_t cap, const hp_bucket_t *b)
{
	size_t j = hp_mix64((uintptr_t)b) & (cap - 1);
	while (t[j].b && t[j].b != b)
		j = (j + 1) & (cap - 1);
	return &t[j];
}

static bool alive_grow(alive_table_t *A)
{
	size_t cap = A->cap ? A->cap * 2 : 256;
	alive_t *t = hp_scratch_realloc(NULL, cap * sizeof(*t));
	if (!t)
		return false;
	memset(t, 0, cap * sizeof(*t));
	for (size_t i = 0; i < A->cap; i++)
		if (A->t[i].b)
			*alive_slot(t, cap, A->t[i].b) = A->t[i];
	hp_scratch_free(A->t);
	A->t = t, A->cap = cap;
	return true;
}

/* From the live map, under a shard's lock: the backing allocator only. */
static void add_alive(const hp_live_t *rec, void *arg)
{
	alive_table_t *A = arg;
	if (A->oom || (A->win && !in_window(rec->stamp, A->win, A->now)))
		return;
	if ((A->n + 1) * 2 > A->cap && !alive_grow(A)) {
		A->oom = true;
		return;
	}
	alive_t *e = alive_slot(A->t, A->cap, rec->bucket);
	if (!e->b)
		e->b = rec->bucket, A->n++;
	uint64_t count_w, bytes_w;
	hp_sampler_weights(rec->size, &count_w, &bytes_w);
	stats_add(&e->s, count_w, bytes_w, age(rec->stamp, A->now));
}

void hp_lifetimes_samples(hp_profile_writer_t *W, const hp_profile_opts_t *o)
{
	if (!hp_lifetimes_on)
		return; /* no stamps: nothing to say (HEAPPROF_LIFETIMES=1) */
	unsigned which = o->window ? 1 : 0;
	uint64_t id = 0;
	alive_table_t A = {.win = o->window ? atomic_load(&window_at) : 0,
	                   .now = now_ns()};
	for (size_t h = 0; h < HP_ARRAY_SIZE(heads); h++)
		for (pair_t *p = atomic_load_explicit(&heads[h], memory_order_acquire); p;
		     p = atomic_load_explicit(&p->next, memory_order_acquire)) {
			stats_t s;
			hp_lock(stripe_of(h));
			s = p->s[which];
			hp_unlock(stripe_of(h));
			if (s.count_w && !emit(W, p->alloc, p->free, &s, p->same, ++id))
				return;
		}
	if (o->window && !A.win)
		return; /* closed: no window, nothing allocated in it is alive */
	hp_live_map_foreach(add_alive, &A);
	for (size_t i = 0; i < A.cap; i++)
		if (A.t[i].b && !emit(W, A.t[i].b, NULL, &A.t[i].s, -1, ++id))
			break;
	hp_scratch_free(A.t);
}

/* Off, nothing takes the stripes nor reads the window: a fork leaves their
 * page alone (each page a fork writes is a fault on both sides). */
void hp_lifetimes_prefork(void)
{
	if (!hp_lifetimes_on)
		return;
	for (size_t i = 0; i < HP_ARRAY_SIZE(stripes); i++)
		hp_lock(&stripes[i]);
}

void hp_lifetimes_postfork_parent(void)
{
	if (!hp_lifetimes_on)
		return;
	for (size_t i = HP_ARRAY_SIZE(stripes); i-- > 0;)
		hp_unlock(&stripes[i]);
}

void hp_lifetimes_postfork_child(void)
{
	if (!hp_lifetimes_on)
		return;
	for (size_t i = 0; i < HP_ARRAY_SIZE(stripes); i++)
		hp_lock_reset(&stripes[i]);
	HP_RESET(window_at, 0);
}
