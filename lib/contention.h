/* SPDX-License-Identifier: MIT */
/*
 * contention: the block and mutex profiles' data, Go's model exactly. A
 * wait's delay is sampled as SetBlockProfileRate samples it (block) and a
 * release that made others wait as SetMutexProfileFraction does (mutex);
 * each stack's contentions and delay are kept beside the stack table's
 * buckets. It does not wrap the pthread functions (locks.c) nor encode
 * profiles (profile.c). The design and its limits: docs/contention.md.
 */
#ifndef HP_CONTENTION_H
#define HP_CONTENTION_H

#include "common.h"
#include "stack.h"
#include "stack_table.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* HEAPPROF_BLOCK_RATE (ns) and HEAPPROF_MUTEX_FRACTION; 0: off. Set once, at
 * start-up, before the wrappers turn to the profiled paths. */
extern HP_HIDDEN uint64_t hp_block_rate, hp_mutex_fraction;

/*
 * Has lock an entry in the waiters' table (threads registered as waiting
 * on it, or waits no release has charged yet)? An unlock whose lock word
 * says threads sleep on it (locks.c) charges only then. It reads the
 * lock's own set, without its lock: no line that every wait writes.
 */
bool hp_contention_waited_on(const void *lock);

/* CLOCK_MONOTONIC in nanoseconds: from the CPU's counter, calibrated, once
 * the profiles have run 50 ms where it is usable, else the vDSO's. */
uint64_t hp_contention_now(void);

/* What hp_contention_now reads now: "rdtsc", "cntvct_el0", "clock_gettime". */
const char *hp_contention_clock(void);

/* One wait, from its begin to its end, on the waiting thread's stack. */
typedef struct {
	uint64_t start;   /* hp_contention_now() when it began */
	uint64_t end;     /* ... and when it ended */
	uint64_t draw;    /* the block profile's draw, below its rate */
	const void *lock; /* the lock's address: the waiters' table key */
	int slot;         /* its entry in the waiters' table, -1: not registered */
} hp_wait_t;

/*
 * A wait on lock begins (a try failed, or a condition wait starts). For
 * the mutex profile (register: the wait is on a lock others release, not a
 * condition variable), it registers in the waiters' table, so that the
 * releasing thread can be charged with it.
 */
void hp_contention_wait_begin(hp_wait_t *w, const void *lock, bool reg);

/*
 * The wait ended (acquired: the lock was taken, not a timeout or an error).
 * Reads the clock, the one thing done inside the critical section just
 * entered; for the block profile, compares the delay with the draw made
 * before the wait. A registered wait leaves the waiters' table now, or,
 * when defer (NULL: never) returns true for its lock (the caller's release
 * of it will reach hp_contention_flush; asked only when the wait can
 * wait), waits in the thread's pending waits, so that the table's lock,
 * shared by every waiter of the lock, is taken after the release, outside
 * the critical section. Returns true when the wait is kept for the block
 * profile: *count (HP_W_ONE units) and *delay (ns), already scaled, for
 * hp_contention_add_block with the waiter's stack.
 */
bool hp_contention_wait_end(hp_wait_t *w, bool acquired, bool (*defer)(void *lock),
                            uint64_t *count, uint64_t *delay);

/* Has the calling thread a pending wait on lock? */
bool hp_contention_pending_on(const void *lock);

/* Waits of this thread whose bookkeeping waits for its release. */
extern HP_TLS HP_HIDDEN uint32_t hp_contention_npending;

/*
 * The calling thread released lock (or is about to release it, in a
 * condition wait; NULL: every lock, at its exit): its pending waits on it
 * leave the waiters' table, with the times they ended. Guard set.
 */
void hp_contention_flush(const void *lock);

/* Adds a kept wait to the waiting stack st. */
void hp_contention_add_block(const hp_stack_t *st, uint64_t count, uint64_t delay);

/* A release that made others wait: count (HP_W_ONE units) and delay (ns),
 * scaled by the fraction; gen names it in the waiters' table. */
typedef struct {
	uint64_t count, delay, gen;
} hp_charge_t;

/*
 * The calling thread has just released lock: the delay of the threads
 * registered as waiting on it, since the last release charged them, and
 * the waits of those that left before any release charged them, go to this
 * release. Returns false when nothing is to be recorded (no waiter, or
 * the event not sampled); else fills *ch for hp_contention_add_mutex, which
 * must follow.
 */
bool hp_contention_charge(const void *lock, hp_charge_t *ch);

/*
 * Adds the sampled release ch of lock to the releasing stack st (NULL: the
 * release failed, nothing is added) and names that stack to the waiters'
 * table, for the wake-ups of its waiters still to come.
 */
void hp_contention_add_mutex(const void *lock, const hp_charge_t *ch,
                             const hp_stack_t *st);

/* The kinds' sources (kinds.c): the buckets that have block or mutex
 * counts, and one bucket's, in hp_counts_t's contentions and delay. */
void hp_contention_foreach_block(void (*fn)(const hp_bucket_t *, void *), void *arg);
void hp_contention_foreach_mutex(void (*fn)(const hp_bucket_t *, void *), void *arg);
void hp_contention_read_block(const hp_bucket_t *b, hp_counts_t *out);
void hp_contention_read_mutex(const hp_bucket_t *b, hp_counts_t *out);
bool hp_contention_block_enabled(void);
bool hp_contention_mutex_enabled(void);

/* Events that could not be recorded (a table full): the profiles' comments. */
uint64_t hp_contention_dropped(void);

/* Sets the rate and fraction (0: off), before hp_locks_enable (locks.h). */
void hp_contention_init(uint64_t block_rate, uint64_t mutex_fraction);

void hp_contention_postfork_child(void);

#endif
