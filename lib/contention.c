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
 * last charge) off the sum, or, when no release charged it yet (its waker
 * charges after its unlock), leaves its wait to the next charge. The time
 * from the last release to a waiter's acquisition (its wake-up) goes to
 * that release too: the entry keeps the release's bucket once the
 * releasing thread has its stack (and the tails that came before, until
 * then). So the delays charged to releases add up to the waits, but for
 * the waits of a set that was full, the tails of the third of three
 * releases in a row that none named before the next, and waits that no
 * later release charges.
 *
 * A waiter whose release will reach the slow unlock (every mutex waiter:
 * locks.c marks the word of one taken without sleeping) leaves the table
 * after that release (its pending waits, thread-local), so that inside the
 * critical section it has entered it only reads the clock, unordered: the
 * CPU's counter, calibrated to CLOCK_MONOTONIC (the clock, below).
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
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <time.h>
#include <unistd.h>

/* Each in a cache line of its own: the rate and fraction are read by every
 * wait and release, the count written by few. */
_Alignas(64) uint64_t hp_block_rate, hp_mutex_fraction;
_Alignas(64) static _Atomic uint64_t dropped;

/* ---- the clock ------------------------------------------------------------
 *
 * The end of a wait is read inside the critical section the waiter has just
 * entered, so it is read from the CPU's counter where that counter ticks at
 * a constant rate on every core, as Go's cputicks: rdtsc on x86-64 with an
 * invariant TSC (CPUID 0x80000007, EDX bit 8), cntvct_el0 on aarch64. It is
 * turned into CLOCK_MONOTONIC nanoseconds with a rate measured against that
 * clock over the first CALIBRATE ns after start-up (until then, and where
 * there is no such counter, or it is slow to read, as where a hypervisor
 * traps it, clock_gettime itself), so that both give the same time.
 */
#define CALIBRATE 50000000u /* ns */

#if defined(__x86_64__)
/* Ordered: not read before the lock's acquisition (or another thread's
 * published time) that precedes it has completed, as Linux's rdtsc_ordered. */
static inline uint64_t ticks(void)
{
	__builtin_ia32_lfence();
	return __builtin_ia32_rdtsc();
}
/* Unordered: may be read while an earlier instruction (the acquisition's
 * swap on a line another core holds) has yet to complete; the fence costs
 * about 20 ns inside the critical section where a wait ends. */
static inline uint64_t ticks_unordered(void)
{
	return __builtin_ia32_rdtsc();
}
static bool have_ticks(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
}
#elif defined(__aarch64__)
static inline uint64_t ticks(void)
{
	uint64_t v;
	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v)::"memory");
	return v;
}
static inline uint64_t ticks_unordered(void)
{
	return ticks(); /* not measured there: kept ordered */
}
static bool have_ticks(void)
{
	return true;
}
#else
static inline uint64_t ticks(void)
{
	return 0;
}
static inline uint64_t ticks_unordered(void)
{
	return 0;
}
static bool have_ticks(void)
{
	return false;
}
#endif

enum { MONO, CALIBRATING, CLAIMED, TICKS };
static _Atomic int clock_kind; /* MONO until hp_contention_init */
static uint64_t tick0, mono0;  /* a reading of both, at start-up */
static uint64_t mult;          /* ns a tick, fixed point: 32 bits of fraction */

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The rate of ticks since start-up, kept if it is a clock's (1 MHz to 100
 * GHz) and 64 reads of it take under 6.4 us (a trapped read takes more). */
static void calibrate(uint64_t now)
{
	int want = CALIBRATING;
	if (!atomic_compare_exchange_strong(&clock_kind, &want, CLAIMED))
		return;
	uint64_t t = ticks(), m = 0;
	if (t > tick0)
		m = (uint64_t)(((unsigned __int128)(now - mono0) << 32) / (t - tick0));
	uint64_t t64 = ticks();
	for (int i = 0; i < 63; i++)
		t64 = ticks();
	uint64_t slow = ((unsigned __int128)(t64 - t) * m >> 32) >= 6400;
	bool ok = m >= (1ull << 32) / 100 && m <= (1ull << 32) * 1000 && !slow;
	mult = m;
	atomic_store_explicit(&clock_kind, ok ? TICKS : MONO, memory_order_release);
}

static HP_NOINLINE uint64_t now_slow(void)
{
	uint64_t ns = mono();
	if (atomic_load_explicit(&clock_kind, memory_order_relaxed) == CALIBRATING &&
	    ns - mono0 >= CALIBRATE)
		calibrate(ns);
	return ns;
}

/* Ticks since start-up in ns; a core whose counter is behind start-up's
 * reads start-up. */
static inline uint64_t ticks_ns(uint64_t t)
{
	return mono0 +
	       (t > tick0 ? (uint64_t)((unsigned __int128)(t - tick0) * mult >> 32) : 0);
}

uint64_t hp_contention_now(void)
{
	if (hp_likely(atomic_load_explicit(&clock_kind, memory_order_acquire) == TICKS))
		return ticks_ns(ticks());
	return now_slow();
}

/* The same, unordered: for the end of a wait, read inside the critical
 * section just entered (the clock, in docs/contention.md). */
static uint64_t now_unordered(void)
{
	if (hp_likely(atomic_load_explicit(&clock_kind, memory_order_acquire) == TICKS))
		return ticks_ns(ticks_unordered());
	return now_slow();
}

const char *hp_contention_clock(void)
{
	if (atomic_load_explicit(&clock_kind, memory_order_acquire) != TICKS)
		return "clock_gettime";
#if defined(__x86_64__)
	return "rdtsc";
#else
	return "cntvct_el0";
#endif
}

static void clock_init(void)
{
	if (!have_ticks())
		return;
	/* By the system call: the vDSO's first read faults pages in (common.c). */
	uint64_t before = ticks();
	uint64_t ns = hp_clock_ns(CLOCK_MONOTONIC);
	if (!ns)
		return;
	tick0 = before + (ticks() - before) / 2; /* the midpoint of the call */
	mono0 = ns;
	atomic_store_explicit(&clock_kind, CALIBRATING, memory_order_release);
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
	_Alignas(64) hp_lock_t lock; /* sets do not share cache lines */
	struct {
		uintptr_t key;  /* the lock's address; 0: a free entry */
		uint64_t nwait; /* threads waiting on it now */
		uint64_t sum;   /* the sum of their starts, each moved to last */
		uint64_t last;  /* when a release last charged them */
		/* That release: its number, its scale (the fraction when it
		 * charged a delay, else 0), its stack's bucket once named, and the
		 * tails (ns) of waiters that left before; awaiting: a charging
		 * release has not named its bucket yet (the entry stays until it
		 * has). */
		uint64_t gen, scale, pending;
		const hp_bucket_t *bucket;
		bool awaiting;
		/* The release before, if a newer one came before it named its
		 * stack: its number and the tails it is still owed. */
		uint64_t prev_gen, prev_pending;
		/* Waits (ns) of waiters that left before any release charged
		 * them: a release charges after its real unlock, so the waiter it
		 * woke may leave first, and the C library's own unlock in a
		 * condition wait charges nothing; the next charge takes them.
		 * While there are any, the entry stays, so that the next release
		 * looks (hp_contention_waited_on). */
		uint64_t orphan;
		/* When the charge before last was made, and time (ns) charged
		 * past the ends of waits that left late (a wait whose bookkeeping
		 * waited for its thread's release of the lock, see pending below):
		 * the next charges take it back. */
		uint64_t prev_last, credit;
		/* Waits registered since a charge last counted them: the next
		 * charge counts each one once (Go counts a wait woken, whichever
		 * release it was charged by). */
		uint64_t fresh;
	} way[WAYS];
} set_t;

HP_LARGE static _Alignas(64) set_t sets[SETS];

/* Sets ever used, a bit each: the child of a fork clears only those (each
 * page of the table it wrote would be a page fault, 32 of them at every
 * fork of a program that never waited on a lock). */
static _Atomic uint64_t sets_used[SETS / 64];

static bool set_used(size_t i)
{
	return atomic_load_explicit(&sets_used[i >> 6], memory_order_relaxed) >>
	           (i & 63) &
	       1;
}

static set_t *set_of(const void *lock)
{
	size_t i = hp_mix64((uintptr_t)lock) & (SETS - 1);
	if (!set_used(i))
		atomic_fetch_or_explicit(&sets_used[i >> 6], UINT64_C(1) << (i & 63),
		                         memory_order_relaxed);
	return &sets[i];
}

/* The way holding key in s, or -1; with claim, a free one is taken (or
 * one that only keeps orphans no release came for: they are dropped). */
static int find_way(set_t *s, uintptr_t key, bool claim)
{
	int free_way = -1;
	for (int i = 0; i < WAYS; i++) {
		if (s->way[i].key == key)
			return i;
		if (free_way < 0 &&
		    (!s->way[i].key || (!s->way[i].nwait && !s->way[i].awaiting)))
			free_way = i;
	}
	if (claim && free_way >= 0) {
		s->way[free_way] = (__typeof__(s->way[0])){.key = key};
		return free_way;
	}
	return -1;
}

/*
 * The clock is read under the set's lock, here and in hp_contention_charge:
 * a charge then comes wholly before or after a waiter's start, so that it
 * never misses one that had begun. A waiter's end is read when its call
 * returns, outside the set's lock, and a charge may come after it (a
 * release charges after its unlock, when the waiter it woke may already
 * hold the lock): leave_wait gives that part back.
 */
static int register_wait(const void *lock, uint64_t *start)
{
	set_t *s = set_of(lock);
	hp_lock(&s->lock);
	*start = hp_contention_now();
	int i = find_way(s, (uintptr_t)lock, true);
	if (i >= 0) {
		s->way[i].nwait++;
		s->way[i].fresh++;
		s->way[i].sum += *start;
	}
	hp_unlock(&s->lock);
	if (i < 0)
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
	return i;
}

enum { BLOCK, MUTEX }; /* the records' profiles */

static void add_delay(int p, const hp_bucket_t *b, uint64_t delay);

/*
 * A waiter acquired (or gave up) at end, returned: its wake-up after the last
 * release that charged it goes to that release; a wait no release charged
 * yet is left to the next charge (the release that woke it charges after
 * its unlock, maybe after this). A waiter that leaves after its end (its
 * bookkeeping waited for its own release of the lock) may have been charged
 * past its end: the last charge gives that part back (a negative wake-up),
 * and what earlier charges took past it is a credit the next ones repay.
 */
static void leave_wait(const void *lock, int i, uint64_t start, uint64_t end)
{
	set_t *s = set_of(lock);
	const hp_bucket_t *to = NULL;
	uint64_t tail = 0;
	hp_lock(&s->lock);
	__typeof__(s->way[0]) *w = &s->way[i];
	w->sum -= start > w->last ? start : w->last;
	if (start > w->last) {
		w->orphan += end > start ? end - start : 1;
	} else {
		uint64_t from = end;
		if (end < w->last && w->prev_last > end) {
			w->credit += w->prev_last - end;
			from = w->prev_last;
		}
		/* Modulo 2^64: a negative tail takes back what was charged. */
		tail = (end < w->last ? from - w->last : end - w->last) * w->scale;
	}
	if (tail) {
		if (w->bucket)
			to = w->bucket;
		else if (w->awaiting)
			w->pending += tail;
	}
	if (!--w->nwait && !w->awaiting && !w->orphan)
		w->key = 0;
	hp_unlock(&s->lock);
	if (to)
		add_delay(MUTEX, to, tail);
}

/* Read without the set's lock: a hint, as the lock word that sent the
 * release here. */
bool hp_contention_waited_on(const void *lock)
{
	set_t *s = set_of(lock);
	for (int i = 0; i < WAYS; i++)
		if (__atomic_load_n(&s->way[i].key, __ATOMIC_RELAXED) == (uintptr_t)lock)
			return true;
	return false;
}

/* ---- the records -------------------------------------------------------- */

#define RECS 8192

typedef struct {
	_Atomic(const hp_bucket_t *) bucket;
	_Atomic uint64_t count[2]; /* HP_W_ONE units, by profile */
	_Atomic uint64_t delay[2]; /* ns, by profile */
} rec_t;

HP_LARGE static rec_t recs[RECS];
static atomic_bool recs_made; /* a record was made: a child has some to forget */

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
		                                            memory_order_acquire)) {
			if (!atomic_load_explicit(&recs_made, memory_order_relaxed))
				atomic_store_explicit(&recs_made, true,
				                      memory_order_relaxed);
			return &recs[i];
		}
		if (k == b)
			return &recs[i];
	}
	return NULL;
}

/* Adds an event to the stack st of profile p; returns its bucket, or NULL
 * when it could not be recorded. Guard set by the caller. */
static const hp_bucket_t *add(int p, const hp_stack_t *st, uint64_t count, uint64_t delay)
{
	hp_bucket_t *b = hp_stack_table_intern(st->frames, st->n, st->truncated);
	rec_t *r = b ? rec_of(b, true) : NULL;
	if (!r) {
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
		return NULL;
	}
	atomic_fetch_add_explicit(&r->count[p], count, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->delay[p], delay, memory_order_release);
	return b;
}

/* More delay for b, already recorded (its record exists). */
static void add_delay(int p, const hp_bucket_t *b, uint64_t delay)
{
	rec_t *r = rec_of(b, false);
	if (r)
		atomic_fetch_add_explicit(&r->delay[p], delay, memory_order_release);
}

/* ---- events ------------------------------------------------------------- */

/*
 * Go's blocksampled draws after the wait; the draw is made here, before it,
 * so that the critical section the wait ends in only compares: a wait d is
 * kept when d >= draw, a number below the rate (for d >= rate, always).
 */
void hp_contention_wait_begin(hp_wait_t *w, const void *lock, bool reg)
{
	w->lock = lock;
	w->slot = -1;
	uint64_t rate = hp_block_rate, f = hp_mutex_fraction;
	w->draw = rate ? (uint64_t)((unsigned __int128)next_random() * rate >> 64) : 0;
	/* The mutex profile follows one wait in f (its charges scaled by f): the
	 * others touch nothing shared, and their releases stay fast. */
	if (reg && f && (f == 1 || !(next_random() % f)))
		w->slot = register_wait(lock, &w->start);
	else
		w->start = hp_contention_now();
}

/* ---- waits whose bookkeeping waits for the thread's release ------------- */

#define PENDING 4

HP_TLS uint32_t hp_contention_npending;
static HP_TLS hp_wait_t pending[PENDING];
static HP_TLS bool keyed;
static pthread_key_t exit_key;
static atomic_int key_state; /* 0: not made, 1: made, -1: failed, 2: making */

/* The key's destructor: a thread that ends holding a lock it waited for
 * (pthread_exit, cancellation, a robust mutex's dying owner) leaves. */
static void at_thread_exit(void *arg)
{
	(void)arg;
	/* A later destructor that waits sets the key again: glibc then runs
	 * this once more. */
	keyed = false;
	hp_guard_enter();
	hp_contention_flush(NULL);
	hp_guard_exit();
}

static bool key_thread(void)
{
	int st = atomic_load_explicit(&key_state, memory_order_acquire);
	if (st == 0) {
		int zero = 0;
		if (atomic_compare_exchange_strong(&key_state, &zero, 2)) {
			st = pthread_key_create(&exit_key, at_thread_exit) ? -1 : 1;
			atomic_store_explicit(&key_state, st, memory_order_release);
		}
	}
	if (atomic_load_explicit(&key_state, memory_order_acquire) != 1)
		return false;
	keyed = !pthread_setspecific(exit_key, &keyed);
	return keyed;
}

void hp_contention_flush(const void *lock)
{
	uint32_t n = hp_contention_npending, kept = 0;
	for (uint32_t i = 0; i < n; i++) {
		hp_wait_t *w = &pending[i];
		if (lock && w->lock != lock)
			pending[kept++] = *w;
		else
			leave_wait(w->lock, w->slot, w->start, w->end);
	}
	hp_contention_npending = kept;
}

bool hp_contention_pending_on(const void *lock)
{
	for (uint32_t i = 0; i < hp_contention_npending; i++)
		if (pending[i].lock == lock)
			return true;
	return false;
}

/*
 * Go's blocksampled and saveblockevent, in nanoseconds: a wait of at least
 * the rate is always kept, a shorter one with probability wait/rate (the
 * draw, made before the wait) and then scaled up by its inverse.
 */
static bool block_sample(uint64_t d, uint64_t draw, uint64_t *count, uint64_t *delay)
{
	uint64_t rate = hp_block_rate;
	if (!d)
		d = 1;
	if (d >= rate) {
		*count = HP_W_ONE;
		*delay = d;
		return true;
	}
	if (draw > d)
		return false;
	*count = rate * HP_W_ONE / d;
	*delay = rate;
	return true;
}

bool hp_contention_wait_end(hp_wait_t *w, bool acquired, bool (*defer)(void *lock),
                            uint64_t *count, uint64_t *delay)
{
	/* Unordered, it may come before the start in the reorder window of a
	 * lock taken at once: never before it. */
	uint64_t end = now_unordered();
	w->end = end > w->start ? end : w->start;
	if (w->slot >= 0) {
		if (acquired && defer && hp_contention_npending < PENDING &&
		    (keyed || key_thread()) && defer((void *)w->lock))
			pending[hp_contention_npending++] = *w;
		else
			leave_wait(w->lock, w->slot, w->start, w->end);
	}
	return acquired && hp_block_rate &&
	       block_sample(w->end - w->start, w->draw, count, delay);
}

void hp_contention_add_block(const hp_stack_t *st, uint64_t count, uint64_t delay)
{
	add(BLOCK, st, count, delay);
}

/*
 * Go's mutexevent, scaled by the fraction: the waiters charged are the
 * waits followed, one in fraction (hp_contention_wait_begin).
 */
bool hp_contention_charge(const void *lock, hp_charge_t *ch)
{
	set_t *s = set_of(lock);
	uint64_t d = 0, n = 0, f = hp_mutex_fraction;
	hp_lock(&s->lock);
	int i = find_way(s, (uintptr_t)lock, false);
	__typeof__(s->way[0]) *w = i >= 0 ? &s->way[i] : NULL;
	if (w && (w->nwait || w->orphan)) {
		uint64_t now = hp_contention_now(), all = w->nwait * now;
		d = (all > w->sum ? all - w->sum : 0) + w->orphan;
		uint64_t repay = d < w->credit ? d : w->credit;
		d -= repay;
		w->credit -= repay;
		w->orphan = 0;
		w->sum = all;
		w->prev_last = w->last;
		w->last = now;
		if (w->awaiting) { /* the release before is still to name its stack */
			w->prev_gen = w->gen;
			w->prev_pending = w->pending;
		}
		w->gen++;
		if (d) { /* the waits it charges first are its events */
			n = w->fresh;
			w->fresh = 0;
		}
		w->scale = d ? f : 0;
		w->bucket = NULL;
		w->pending = 0;
		w->awaiting = d != 0;
		ch->gen = w->gen;
		if (!w->nwait && !w->awaiting)
			w->key = 0;
	}
	hp_unlock(&s->lock);
	if (!d)
		return false;
	ch->count = f * n * HP_W_ONE;
	ch->delay = f * d;
	return true;
}

void hp_contention_add_mutex(const void *lock, const hp_charge_t *ch,
                             const hp_stack_t *st)
{
	const hp_bucket_t *b = st ? add(MUTEX, st, ch->count, ch->delay) : NULL;
	set_t *s = set_of(lock);
	uint64_t tails = 0;
	hp_lock(&s->lock);
	int i = find_way(s, (uintptr_t)lock, false);
	__typeof__(s->way[0]) *w = i >= 0 ? &s->way[i] : NULL;
	if (w && w->gen == ch->gen && w->awaiting) {
		w->bucket = b;
		tails = w->pending;
		w->pending = 0;
		w->awaiting = false;
		if (!w->nwait)
			w->key = 0;
	} else if (w && w->prev_gen == ch->gen) {
		tails = w->prev_pending; /* overtaken: only what it was owed */
		w->prev_gen = w->prev_pending = 0;
	}
	hp_unlock(&s->lock);
	if (b && tails)
		add_delay(MUTEX, b, tails);
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
 * The waits before a fork were the parent's: a child's block and mutex
 * profiles start empty, as a new process's, so that the workers of a
 * pre-forking server, merged, do not count the master's waits once each.
 * (Its heap profile keeps what it inherited: that memory is in its heap.)
 * The records keep their buckets, with nothing counted.
 */
static void forget_parents_waits(void)
{
	if (!atomic_load_explicit(&recs_made, memory_order_relaxed))
		return; /* none recorded: the table's pages are not read */
	for (size_t i = 0; i < RECS; i++) {
		rec_t *r = &recs[i];
		if (!atomic_load_explicit(&r->bucket, memory_order_relaxed))
			continue;
		for (int p = 0; p < 2; p++) {
			HP_RESET(r->count[p], 0);
			HP_RESET(r->delay[p], 0);
		}
	}
	HP_RESET(dropped, 0);
}

/*
 * The forking thread is the child's only one: no thread waits there. A set
 * lock another thread held at the fork is free again.
 */
void hp_contention_postfork_child(void)
{
	if (hp_block_rate || hp_mutex_fraction) /* else nothing was recorded */
		forget_parents_waits();
	for (size_t i = 0; i < SETS; i++) {
		if (!set_used(i))
			continue; /* never used: lock free, ways empty */
		hp_lock_reset(&sets[i].lock);
		for (int j = 0; j < WAYS; j++) /* orphans too: no waiter counts */
			sets[i].way[j] = (__typeof__(sets[i].way[j])){0};
	}
	HP_RESET(hp_contention_npending, 0);
}

void hp_contention_init(uint64_t block_rate, uint64_t mutex_fraction)
{
	if (block_rate || mutex_fraction)
		clock_init();
	hp_block_rate = block_rate;
	hp_mutex_fraction = mutex_fraction;
}
