/* SPDX-License-Identifier: MIT */
/*
 * contention: two fixed tables in BSS, so nothing here allocates.
 *
 * The waiters' table (the mutex profile): 256 sets of 4 entries, a set per
 * lock address hash, each set under a spin lock held for a few
 * instructions. An entry is one lock that threads wait on now: how many
 * wait, the sum of their start times, and when a release last charged them.
 * A release charges every waiter with the time since it began waiting or
 * since the previous charge, whichever is later (waiters * now - sum), and
 * moves their starts to now; a waiter leaving takes its own start (or the
 * last charge) off the sum. So the delays charged to releases add up to the
 * waits, less the time from each waiter's last release to its acquisition.
 *
 * The records (both profiles): an open-addressing table of 8192 stacks by
 * bucket address (the stack table's), with atomic counters: contention
 * events are rare, and each one already waited.
 */
#include "contention.h"
#include "backing.h"
#include "log.h"
#include "sampler.h"
#include "stack_table.h"

#include <errno.h>
#include <time.h>

uint64_t hp_block_rate, hp_mutex_fraction;
atomic_uint hp_contention_waiting;
static _Atomic uint64_t dropped;

uint64_t hp_contention_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A per-thread xorshift64*, seeded from the thread's address and the clock. */
static HP_TLS uint64_t rng;

static uint64_t next_random(void)
{
	if (hp_unlikely(!rng))
		rng = hp_mix64((uintptr_t)&rng ^ hp_contention_now()) | 1;
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* ---- the waiters' table ------------------------------------------------ */

#define SETS 256
#define WAYS 4

typedef struct {
	hp_lock_t lock;
	struct {
		uintptr_t key;  /* the lock's address; 0: a free entry */
		uint64_t nwait; /* threads waiting on it now */
		uint64_t sum;   /* the sum of their starts, each moved to last */
		uint64_t last;  /* when a release last charged them */
	} way[WAYS];
} set_t;

static set_t sets[SETS];

static set_t *set_of(const void *lock)
{
	return &sets[hp_mix64((uintptr_t)lock) & (SETS - 1)];
}

/* The way holding key in s, or -1; with claim, a free one is taken. */
static int find_way(set_t *s, uintptr_t key, bool claim)
{
	int free_way = -1;
	for (int i = 0; i < WAYS; i++) {
		if (s->way[i].key == key)
			return i;
		if (!s->way[i].key && free_way < 0)
			free_way = i;
	}
	if (claim && free_way >= 0) {
		s->way[free_way].key = key;
		s->way[free_way].nwait = s->way[free_way].sum = 0;
		s->way[free_way].last = 0;
		return free_way;
	}
	return -1;
}

static int register_wait(const void *lock, uint64_t start)
{
	set_t *s = set_of(lock);
	hp_lock(&s->lock);
	int i = find_way(s, (uintptr_t)lock, true);
	if (i >= 0) {
		s->way[i].nwait++;
		s->way[i].sum += start;
		atomic_fetch_add_explicit(&hp_contention_waiting, 1,
		                          memory_order_relaxed);
	}
	hp_unlock(&s->lock);
	if (i < 0)
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
	return i;
}

static void leave_wait(const void *lock, int i, uint64_t start)
{
	set_t *s = set_of(lock);
	hp_lock(&s->lock);
	uint64_t eff = start > s->way[i].last ? start : s->way[i].last;
	s->way[i].sum -= eff;
	if (!--s->way[i].nwait)
		s->way[i].key = 0;
	hp_unlock(&s->lock);
	atomic_fetch_sub_explicit(&hp_contention_waiting, 1, memory_order_relaxed);
}

/* ---- the records -------------------------------------------------------- */

#define RECS 8192

enum { BLOCK, MUTEX };

typedef struct {
	_Atomic(const hp_bucket_t *) bucket;
	_Atomic uint64_t count[2]; /* HP_W_ONE units, by profile */
	_Atomic uint64_t delay[2]; /* ns, by profile */
} rec_t;

static rec_t recs[RECS];

/* b's record; with make, created if absent; NULL when absent or full. */
static rec_t *rec_of(const hp_bucket_t *b, bool make)
{
	size_t i = (size_t)hp_mix64((uintptr_t)b) & (RECS - 1);
	for (size_t n = 0; n < RECS; n++, i = (i + 1) & (RECS - 1)) {
		const hp_bucket_t *k =
		    atomic_load_explicit(&recs[i].bucket, memory_order_acquire);
		if (k == b)
			return &recs[i];
		if (k)
			continue;
		if (!make)
			return NULL;
		if (atomic_compare_exchange_strong_explicit(&recs[i].bucket, &k, b,
		                                            memory_order_acq_rel,
		                                            memory_order_acquire) ||
		    k == b)
			return &recs[i];
	}
	return NULL;
}

/* Adds an event to the stack st of profile p. Guard set by the caller. */
static void add(int p, const hp_stack_t *st, uint64_t count, uint64_t delay)
{
	hp_bucket_t *b = hp_stack_table_intern(st->frames, st->n, st->truncated);
	rec_t *r = b ? rec_of(b, true) : NULL;
	if (!r) {
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&r->count[p], count, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->delay[p], delay, memory_order_release);
}

/* ---- events ------------------------------------------------------------- */

void hp_contention_wait_begin(hp_wait_t *w, const void *lock, bool reg)
{
	w->lock = lock;
	w->start = hp_contention_now();
	w->slot = reg && hp_mutex_fraction ? register_wait(lock, w->start) : -1;
}

/*
 * Go's blocksampled and saveblockevent, in nanoseconds: a wait of at least
 * the rate is always kept, a shorter one with probability wait/rate and
 * then scaled up by its inverse.
 */
static bool block_sample(uint64_t d, uint64_t *count, uint64_t *delay)
{
	uint64_t rate = hp_block_rate;
	if (!d)
		d = 1;
	if (d >= rate) {
		*count = HP_W_ONE;
		*delay = d;
		return true;
	}
	if (next_random() % rate > d)
		return false;
	*count = rate * HP_W_ONE / d;
	*delay = rate;
	return true;
}

bool hp_contention_wait_end(hp_wait_t *w, bool acquired, uint64_t *count, uint64_t *delay)
{
	uint64_t end = hp_contention_now();
	if (w->slot >= 0)
		leave_wait(w->lock, w->slot, w->start);
	return acquired && hp_block_rate && block_sample(end - w->start, count, delay);
}

void hp_contention_add_block(const hp_stack_t *st, uint64_t count, uint64_t delay)
{
	add(BLOCK, st, count, delay);
}

/* Go's mutexevent: one event in fraction, scaled by it. */
bool hp_contention_charge(const void *lock, uint64_t *count, uint64_t *delay)
{
	set_t *s = set_of(lock);
	uint64_t now = hp_contention_now(), d = 0;
	hp_lock(&s->lock);
	int i = find_way(s, (uintptr_t)lock, false);
	if (i >= 0 && s->way[i].nwait) {
		uint64_t all = s->way[i].nwait * now;
		d = all > s->way[i].sum ? all - s->way[i].sum : 0;
		s->way[i].sum = all;
		s->way[i].last = now;
	}
	hp_unlock(&s->lock);
	if (!d)
		return false;
	uint64_t f = hp_mutex_fraction;
	if (f > 1 && next_random() % f)
		return false;
	*count = f * HP_W_ONE;
	*delay = f * d;
	return true;
}

void hp_contention_add_mutex(const hp_stack_t *st, uint64_t count, uint64_t delay)
{
	add(MUTEX, st, count, delay);
}

/* ---- the kinds' sources ------------------------------------------------- */

static void foreach (int p, void (*fn)(const hp_bucket_t *, void *), void *arg)
{
	for (size_t i = 0; i < RECS; i++) {
		const hp_bucket_t *b =
		    atomic_load_explicit(&recs[i].bucket, memory_order_acquire);
		if (b && atomic_load_explicit(&recs[i].count[p], memory_order_relaxed))
			fn(b, arg);
	}
}

static void read_rec(int p, const hp_bucket_t *b, hp_counts_t *o)
{
	*o = (hp_counts_t){0};
	rec_t *r = rec_of(b, false);
	if (!r)
		return;
	o->delay = atomic_load_explicit(&r->delay[p], memory_order_acquire);
	o->contentions = atomic_load_explicit(&r->count[p], memory_order_relaxed);
}

void hp_contention_foreach_block(void (*fn)(const hp_bucket_t *, void *), void *arg)
{
	foreach (BLOCK, fn, arg)
		;
}

void hp_contention_foreach_mutex(void (*fn)(const hp_bucket_t *, void *), void *arg)
{
	foreach (MUTEX, fn, arg)
		;
}

void hp_contention_read_block(const hp_bucket_t *b, hp_counts_t *o)
{
	read_rec(BLOCK, b, o);
}

void hp_contention_read_mutex(const hp_bucket_t *b, hp_counts_t *o)
{
	read_rec(MUTEX, b, o);
}

bool hp_contention_block_enabled(void)
{
	return hp_block_rate != 0;
}

bool hp_contention_mutex_enabled(void)
{
	return hp_mutex_fraction != 0;
}

uint64_t hp_contention_dropped(void)
{
	return atomic_load_explicit(&dropped, memory_order_relaxed);
}

/*
 * The forking thread is the child's only one: no thread waits there. A set
 * lock another thread held at the fork is free again.
 */
void hp_contention_postfork_child(void)
{
	for (size_t i = 0; i < SETS; i++) {
		hp_lock_reset(&sets[i].lock);
		for (int j = 0; j < WAYS; j++)
			sets[i].way[j].key = 0;
	}
	atomic_store_explicit(&hp_contention_waiting, 0, memory_order_relaxed);
}

void hp_contention_init(uint64_t block_rate, uint64_t mutex_fraction)
{
	hp_block_rate = block_rate;
	hp_mutex_fraction = mutex_fraction;
}
