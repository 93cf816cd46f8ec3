/* SPDX-License-Identifier: MIT */
/*
 * locks: the only file that defines pthread_mutex_lock, ..._unlock, the
 * rwlock and condition-wait functions. Each is one indirect jump through an
 * entry of E: to the C library's function while the profiles are off (one
 * instruction more than calling it directly), to a profiled path below when
 * on. A profiled acquisition returns at once when the lock was free (a
 * normal mutex read first, anything else tried first); only a wait is timed
 * (contention.c records it). It does not sample or store anything itself.
 */
#include "contention.h"
#include "common.h"
#include "config.h"
#include "locks.h"
#include "log.h"
#include "sampler.h"
#include "stack.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

typedef int (*mutex_fn)(pthread_mutex_t *);
typedef int (*mutex_timed_fn)(pthread_mutex_t *, const struct timespec *);
typedef int (*rw_fn)(pthread_rwlock_t *);
typedef int (*rw_timed_fn)(pthread_rwlock_t *, const struct timespec *);
typedef int (*cond_fn)(pthread_cond_t *, pthread_mutex_t *);
typedef int (*cond_timed_fn)(pthread_cond_t *, pthread_mutex_t *,
                             const struct timespec *);
/* glibc 2.30's clock forms: C++'s timed waits (std::condition_variable's
 * wait_for and wait_until, std::timed_mutex, std::shared_timed_mutex) call
 * these with CLOCK_MONOTONIC. */
typedef int (*mutex_clock_fn)(pthread_mutex_t *, clockid_t, const struct timespec *);
typedef int (*rw_clock_fn)(pthread_rwlock_t *, clockid_t, const struct timespec *);
typedef int (*cond_clock_fn)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
                             const struct timespec *);

typedef struct {
	mutex_fn mutex_lock, mutex_trylock, mutex_unlock;
	mutex_timed_fn mutex_timedlock;
	rw_fn rdlock, tryrdlock, wrlock, trywrlock, rwunlock;
	rw_timed_fn timedrdlock, timedwrlock;
	cond_fn cond_wait;
	cond_timed_fn cond_timedwait;
	mutex_clock_fn mutex_clocklock;
	rw_clock_fn clockrdlock, clockwrlock;
	cond_clock_fn cond_clockwait;
} fns_t;

static fns_t R; /* the C library's, once resolved */
static fns_t E; /* where each exported function jumps: boot, R, or profiled */
static int boot_mutex_lock(pthread_mutex_t *m);

/*
 * The next definitions, found once. The condition variables' by version:
 * glibc keeps the pre-2.3.2 ones (GLIBC_2.2.5, another pthread_cond_t) for
 * old binaries, and dlsym alone would pick whichever is the default.
 */
static void resolve(void)
{
	static atomic_bool done;
	if (atomic_load_explicit(&done, memory_order_acquire))
		return;
	fns_t r;
#define NEXT(field, name) r.field = (__typeof__(r.field))dlsym(RTLD_NEXT, name)
	NEXT(mutex_lock, "pthread_mutex_lock");
	NEXT(mutex_trylock, "pthread_mutex_trylock");
	NEXT(mutex_unlock, "pthread_mutex_unlock");
	NEXT(mutex_timedlock, "pthread_mutex_timedlock");
	NEXT(rdlock, "pthread_rwlock_rdlock");
	NEXT(tryrdlock, "pthread_rwlock_tryrdlock");
	NEXT(wrlock, "pthread_rwlock_wrlock");
	NEXT(trywrlock, "pthread_rwlock_trywrlock");
	NEXT(rwunlock, "pthread_rwlock_unlock");
	NEXT(timedrdlock, "pthread_rwlock_timedrdlock");
	NEXT(timedwrlock, "pthread_rwlock_timedwrlock");
	NEXT(mutex_clocklock, "pthread_mutex_clocklock");
	NEXT(clockrdlock, "pthread_rwlock_clockrdlock");
	NEXT(clockwrlock, "pthread_rwlock_clockwrlock");
	NEXT(cond_clockwait, "pthread_cond_clockwait");
#undef NEXT
	r.cond_wait = (cond_fn)dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2");
	r.cond_timedwait =
	    (cond_timed_fn)dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
	if (!r.cond_wait)
		r.cond_wait = (cond_fn)dlsym(RTLD_NEXT, "pthread_cond_wait");
	if (!r.cond_timedwait)
		r.cond_timedwait =
		    (cond_timed_fn)dlsym(RTLD_NEXT, "pthread_cond_timedwait");
	R = r;
	/* Only once R is complete: a boot entry then jumps to it. */
	if (E.mutex_lock == boot_mutex_lock)
		E = R;
	atomic_store_explicit(&done, true, memory_order_release);
}

/* ---- before resolution: each entry resolves, then jumps ------------------ */

static int boot_mutex_lock(pthread_mutex_t *m)
{
	return resolve(), R.mutex_lock(m);
}
static int boot_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
	return resolve(), R.mutex_timedlock(m, t);
}
static int boot_mutex_unlock(pthread_mutex_t *m)
{
	return resolve(), R.mutex_unlock(m);
}
static int boot_rdlock(pthread_rwlock_t *l)
{
	return resolve(), R.rdlock(l);
}
static int boot_wrlock(pthread_rwlock_t *l)
{
	return resolve(), R.wrlock(l);
}
static int boot_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
	return resolve(), R.timedrdlock(l, t);
}
static int boot_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
	return resolve(), R.timedwrlock(l, t);
}
static int boot_rwunlock(pthread_rwlock_t *l)
{
	return resolve(), R.rwunlock(l);
}
static int boot_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	return resolve(), R.cond_wait(c, m);
}
static int boot_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                               const struct timespec *t)
{
	return resolve(), R.cond_timedwait(c, m, t);
}
static int boot_mutex_clocklock(pthread_mutex_t *m, clockid_t k, const struct timespec *t)
{
	return resolve(), R.mutex_clocklock(m, k, t);
}
static int boot_clockrdlock(pthread_rwlock_t *l, clockid_t k, const struct timespec *t)
{
	return resolve(), R.clockrdlock(l, k, t);
}
static int boot_clockwrlock(pthread_rwlock_t *l, clockid_t k, const struct timespec *t)
{
	return resolve(), R.clockwrlock(l, k, t);
}
static int boot_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k,
                               const struct timespec *t)
{
	return resolve(), R.cond_clockwait(c, m, k, t);
}

static fns_t E = {
    .mutex_lock = boot_mutex_lock,
    .mutex_timedlock = boot_mutex_timedlock,
    .mutex_unlock = boot_mutex_unlock,
    .rdlock = boot_rdlock,
    .wrlock = boot_wrlock,
    .timedrdlock = boot_timedrdlock,
    .timedwrlock = boot_timedwrlock,
    .rwunlock = boot_rwunlock,
    .cond_wait = boot_cond_wait,
    .cond_timedwait = boot_cond_timedwait,
    .mutex_clocklock = boot_mutex_clocklock,
    .clockrdlock = boot_clockrdlock,
    .clockwrlock = boot_clockwrlock,
    .cond_clockwait = boot_cond_clockwait,
};

/* ---- the exported functions: one jump each ------------------------------ */

HP_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	return E.mutex_lock(m);
}
HP_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
	return E.mutex_timedlock(m, t);
}
HP_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	return E.mutex_unlock(m);
}
HP_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	return E.rdlock(l);
}
HP_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	return E.wrlock(l);
}
HP_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
	return E.timedrdlock(l, t);
}
HP_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
	return E.timedwrlock(l, t);
}
HP_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	return E.rwunlock(l);
}
HP_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	return E.cond_wait(c, m);
}
HP_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                     const struct timespec *t)
{
	return E.cond_timedwait(c, m, t);
}
HP_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t k,
                                      const struct timespec *t)
{
	return E.mutex_clocklock(m, k, t);
}
HP_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t k,
                                         const struct timespec *t)
{
	return E.clockrdlock(l, k, t);
}
HP_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t k,
                                         const struct timespec *t)
{
	return E.clockwrlock(l, k, t);
}
HP_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k,
                                     const struct timespec *t)
{
	return E.cond_clockwait(c, m, k, t);
}

/* ---- the profiled paths -------------------------------------------------- */

/* What a wait calls, once the try failed: one of the C library's functions. */
typedef enum {
	MUTEX,
	MUTEX_TIMED,
	MUTEX_CLOCK,
	RDLOCK,
	WRLOCK,
	RD_TIMED,
	WR_TIMED,
	RD_CLOCK,
	WR_CLOCK,
	COND, /* the condition waits last: they register no lock wait */
	COND_TIMED,
	COND_CLOCK
} op_t;

typedef struct {
	op_t op;
	void *lock;                /* the mutex, rwlock or condition variable */
	pthread_mutex_t *mutex;    /* COND*: the mutex it releases and retakes */
	const struct timespec *at; /* *_TIMED, *_CLOCK: the caller's absolute deadline */
	clockid_t clock;           /* *_CLOCK: its clock */
} call_t;

static int call(const call_t *c)
{
	switch (c->op) {
	case MUTEX:
		return R.mutex_lock(c->lock);
	case MUTEX_TIMED:
		return R.mutex_timedlock(c->lock, c->at);
	case RDLOCK:
		return R.rdlock(c->lock);
	case WRLOCK:
		return R.wrlock(c->lock);
	case RD_TIMED:
		return R.timedrdlock(c->lock, c->at);
	case WR_TIMED:
		return R.timedwrlock(c->lock, c->at);
	case MUTEX_CLOCK:
		return R.mutex_clocklock(c->lock, c->clock, c->at);
	case RD_CLOCK:
		return R.clockrdlock(c->lock, c->clock, c->at);
	case WR_CLOCK:
		return R.clockwrlock(c->lock, c->clock, c->at);
	case COND:
		return R.cond_wait(c->lock, c->mutex);
	case COND_CLOCK:
		return R.cond_clockwait(c->lock, c->mutex, c->clock, c->at);
	default:
		return R.cond_timedwait(c->lock, c->mutex, c->at);
	}
}

static bool on_mutex(op_t op)
{
	return op == MUTEX || op == MUTEX_TIMED || op == MUTEX_CLOCK;
}

/* Did the call end a wait that the block profile counts? */
static bool waited(op_t op, int r)
{
	if (op >= COND)
		return r == 0 || r == ETIMEDOUT || r == EOWNERDEAD;
	return r == 0 || (r == EOWNERDEAD && on_mutex(op));
}

static bool mutex_word_waiters(pthread_mutex_t *m);

/*
 * glibc's kinds (its pthreadP.h) whose lock word is not the 0/1/2 of a
 * normal, recursive, error-checking or adaptive mutex: robust (16),
 * priority-inheritance (32), priority-protect (64), elided (256).
 */
#define KIND_WORD_OWNER (16 | 32 | 64) /* above 1 whenever held */
#define KIND_OTHER_WORD (KIND_WORD_OWNER | 256)
#define WORD_MARKED     3

/*
 * Will the caller's release of the mutex it has just taken reach
 * unlock_slow, and so hp_contention_flush? A mutex whose word says threads
 * may sleep on it keeps that word until its holder's unlock
 * (prof_mutex_unlock); a waiter that slept leaves it so. One taken without
 * sleeping (word 1) is marked 3 here, with a compare-and-swap on the line
 * the acquisition just wrote: glibc reads 3 as it reads 2 (its unlock wakes
 * a sleeper for any word above 1; a thread about to sleep swaps in 2, then
 * sleeps while the word is 2), and unlock_slow swaps it back to 1 before
 * the real unlock when no thread came to sleep, so that no futex wake is
 * added. So no wait on a mutex leaves the waiters' table inside the
 * critical section. A rwlock's bits can be cleared by other threads
 * meanwhile: its waits leave at once (no defer).
 */
static bool mutex_releases_slow(void *lock)
{
	pthread_mutex_t *m = lock;
	if (mutex_word_waiters(m))
		return true;
	int one = 1;
	return !(m->__data.__kind & KIND_OTHER_WORD) &&
	       __atomic_compare_exchange_n(&m->__data.__lock, &one, WORD_MARKED, false,
	                                   __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/*
 * Before a release of m by a thread whose pending wait on it marked it: 3
 * back to 1 when no thread came to sleep since (then true: the release
 * wakes nobody and charges nobody). A word of 2 stays: the release wakes.
 */
static bool unmark(pthread_mutex_t *m)
{
	if (!hp_contention_pending_on(m) || (m->__data.__kind & KIND_OTHER_WORD) ||
	    __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) != WORD_MARKED)
		return false; /* a load first: a failed swap would still own the line */
	int marked = WORD_MARKED;
	return __atomic_compare_exchange_n(&m->__data.__lock, &marked, 1, false,
	                                   __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/*
 * A wait, timed. The stack is taken after it, only when the wait is kept:
 * that lengthens the critical section just entered by one capture for a
 * kept wait, where taking it before every wait would cost one per wait.
 * The guard is set around the bookkeeping: libunwind may allocate or lock.
 * Inside the profiler (its own locks, the dumper's) nothing is recorded. A
 * cancelled condition wait unwinds through here with nothing to undo: only
 * lock waits register in the waiters' table, and they are no cancellation
 * points.
 */
static HP_NOINLINE int wait_slow(op_t op, void *lock, pthread_mutex_t *mutex,
                                 const struct timespec *at, clockid_t clock)
{
	const call_t *c = &(call_t){op, lock, mutex, at, clock};
	if (hp_thread.in_profiler)
		return call(c);
	int saved = errno;
	hp_wait_t w;
	hp_guard_enter();
	hp_contention_wait_begin(&w, c->lock, c->op < COND);
	hp_guard_exit();
	errno = saved;
	int r = call(c);
	saved = errno;
	uint64_t count, delay;
	hp_guard_enter();
	if (hp_contention_wait_end(&w, waited(c->op, r),
	                           on_mutex(c->op) ? mutex_releases_slow : NULL, &count,
	                           &delay)) {
		uintptr_t raw[hp_config.max_frames + HP_STACK_ROOM];
		hp_stack_t st;
		hp_stack_capture(&st, raw, hp_config.max_frames);
		hp_contention_add_block(&st, count, delay);
	}
	hp_guard_exit();
	errno = saved;
	return r;
}

/*
 * A release while threads wait (on some lock): the real unlock first, so
 * that the critical section is no longer than without the profiler, then
 * the charge, the stack and the record. A waiter that the release woke may
 * leave the waiters' table before the charge: its wait waits there for it
 * (contention.c). A failed unlock (the caller did not hold the lock)
 * charges nothing: the waits go on to the real owner's release.
 */
static HP_NOINLINE int unlock_slow(void *lock, bool rw)
{
	/* A word this thread marked, that no sleeper changed since: a release
	 * as the fast path's, its pending waits leaving after it. */
	bool quiet = !rw && hp_contention_npending && unmark(lock);
	/* Read before the unlock, while the lock's line is still here. */
	bool owner_word =
	    !rw && (((pthread_mutex_t *)lock)->__data.__kind & KIND_WORD_OWNER);
	int r = rw ? R.rwunlock(lock) : R.mutex_unlock(lock);
	if (hp_thread.in_profiler)
		return r;
	/* Looked up after the unlock, outside the critical section: a waiter
	 * the unlock woke that leaves first leaves its wait as an orphan, which
	 * keeps its entry, or, if an earlier release charged it, gives its
	 * wake-up to that release. Where the word said that threads sleep (a
	 * normal-protocol mutex, a rwlock) and every wait is followed
	 * (fraction 1) the charge looks itself: reading the set first would
	 * move its line here twice. A robust, PI or PP mutex's word says
	 * nothing, and at a fraction above 1 most waits are not followed:
	 * there the read, of a line seldom written, spares the set's lock. */
	if (!hp_contention_npending &&
	    (quiet || r ||
	     ((owner_word || hp_mutex_fraction > 1) && !hp_contention_waited_on(lock))))
		return r;
	int saved = errno;
	hp_charge_t ch;
	hp_guard_enter();
	/* This thread's own waits on the lock leave first: its release is
	 * not theirs to charge. */
	if (hp_contention_npending)
		hp_contention_flush(lock);
	if (!r && !quiet && hp_contention_charge(lock, &ch)) {
		uintptr_t raw[hp_config.max_frames + HP_STACK_ROOM];
		hp_stack_t st;
		hp_stack_capture(&st, raw, hp_config.max_frames);
		hp_contention_add_mutex(lock, &ch, &st);
	}
	hp_guard_exit();
	errno = saved;
	return r;
}

/*
 * A normal mutex (kind 0) whose word says held is contended: the wait is
 * timed at once, without a trylock's compare-and-swap on a line another
 * core holds; a free one is taken by the real call, as without us. Any
 * other kind (recursive: held by this thread is no wait) tries first.
 */
static int prof_mutex_lock(pthread_mutex_t *m)
{
	if (hp_likely(!(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) |
	                m->__data.__kind)))
		return R.mutex_lock(m);
	if (m->__data.__kind) {
		int r = R.mutex_trylock(m);
		if (r != EBUSY)
			return r;
	}
	return wait_slow(MUTEX, m, NULL, NULL, 0);
}

static int prof_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
	int r = R.mutex_trylock(m);
	if (hp_likely(r != EBUSY))
		return r;
	return wait_slow(MUTEX_TIMED, m, NULL, t, 0);
}

static int prof_rdlock(pthread_rwlock_t *l)
{
	int r = R.tryrdlock(l);
	if (hp_likely(r != EBUSY))
		return r;
	return wait_slow(RDLOCK, l, NULL, NULL, 0);
}

static int prof_wrlock(pthread_rwlock_t *l)
{
	int r = R.trywrlock(l);
	if (hp_likely(r != EBUSY))
		return r;
	return wait_slow(WRLOCK, l, NULL, NULL, 0);
}

/*
 * glibc's timed rwlock calls check the deadline before anything else
 * (pthread_rwlock_common.c): a tv_nsec outside [0, 10^9) is EINVAL even on
 * a free lock, which a try would take. Such a call goes to the real one,
 * untried and untimed (it returns at once).
 */
static bool bad_deadline(const struct timespec *t)
{
	return t && (unsigned long)t->tv_nsec >= 1000000000ul;
}

static int prof_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
	if (hp_unlikely(bad_deadline(t)))
		return R.timedrdlock(l, t);
	int r = R.tryrdlock(l);
	if (hp_likely(r != EBUSY))
		return r;
	return wait_slow(RD_TIMED, l, NULL, t, 0);
}

static int prof_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
	if (hp_unlikely(bad_deadline(t)))
		return R.timedwrlock(l, t);
	int r = R.trywrlock(l);
	if (hp_likely(r != EBUSY))
		return r;
	return wait_slow(WR_TIMED, l, NULL, t, 0);
}

/*
 * A condition wait releases the mutex inside the C library, past our
 * unlock: this thread's pending waits on it leave before. With the block
 * profile off these wrappers only do that.
 */
static void flush_before_cond(pthread_mutex_t *m)
{
	if (hp_likely(!hp_contention_npending) || hp_thread.in_profiler)
		return;
	int saved = errno;
	hp_guard_enter();
	unmark(m); /* the C library's unlock there wakes for a word above 1 */
	hp_contention_flush(m);
	hp_guard_exit();
	errno = saved;
}

static int prof_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	flush_before_cond(m);
	if (!hp_block_rate)
		return R.cond_wait(c, m);
	return wait_slow(COND, c, m, NULL, 0);
}

static int prof_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                               const struct timespec *t)
{
	if (hp_unlikely(bad_deadline(t)))
		return R.cond_timedwait(c, m, t); /* EINVAL: nothing released */
	flush_before_cond(m);
	if (!hp_block_rate)
		return R.cond_timedwait(c, m, t);
	return wait_slow(COND_TIMED, c, m, t, 0);
}

/*
 * The clock forms. glibc refuses a clock other than these two (EINVAL)
 * before anything else, and its rwlock and condition forms a bad deadline
 * too: such a call goes to the real one untried (a try would take a free
 * lock), and a condition wait so refused releases nothing (no flush).
 */
static bool bad_clock(clockid_t k)
{
	return k != CLOCK_REALTIME && k != CLOCK_MONOTONIC;
}

static int prof_mutex_clocklock(pthread_mutex_t *m, clockid_t k, const struct timespec *t)
{
	if (hp_unlikely(bad_clock(k)))
		return R.mutex_clocklock(m, k, t);
	int r = R.mutex_trylock(m);
	if (hp_likely(r != EBUSY))
		return r;
	return wait_slow(MUTEX_CLOCK, m, NULL, t, k);
}

static int prof_clockrdlock(pthread_rwlock_t *l, clockid_t k, const struct timespec *t)
{
	if (hp_unlikely(bad_clock(k) || bad_deadline(t)))
		return R.clockrdlock(l, k, t);
	int r = R.tryrdlock(l);
	if (hp_likely(r != EBUSY))
		return r;
	return wait_slow(RD_CLOCK, l, NULL, t, k);
}

static int prof_clockwrlock(pthread_rwlock_t *l, clockid_t k, const struct timespec *t)
{
	if (hp_unlikely(bad_clock(k) || bad_deadline(t)))
		return R.clockwrlock(l, k, t);
	int r = R.trywrlock(l);
	if (hp_likely(r != EBUSY))
		return r;
	return wait_slow(WR_CLOCK, l, NULL, t, k);
}

static int prof_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k,
                               const struct timespec *t)
{
	if (hp_unlikely(bad_clock(k) || bad_deadline(t)))
		return R.cond_clockwait(c, m, k, t);
	flush_before_cond(m);
	if (!hp_block_rate)
		return R.cond_clockwait(c, m, k, t);
	return wait_slow(COND_CLOCK, c, m, t, k);
}

/*
 * glibc's lock word of a normal, recursive, error-checking or adaptive
 * mutex is 0 (free), 1 (held) or 2 (held, and threads may sleep on it: the
 * unlock wakes one); a robust, PI or PP mutex's holds its owner or its
 * ceiling, above 1 whenever held. Only a word above 1 takes the slow path,
 * which charges when threads wait: as Go charges the Unlock that wakes a
 * waiter, and not the releases made while a waiter is still on its way to
 * sleep. The word is in the caller's own cache line, where a counter of all
 * waits would be a line that every wait writes.
 */
static bool mutex_word_waiters(pthread_mutex_t *m)
{
	return (unsigned)__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) >= 2;
}

static int prof_mutex_unlock(pthread_mutex_t *m)
{
	if (hp_likely(!mutex_word_waiters(m)))
		return R.mutex_unlock(m);
	return unlock_slow(m, false);
}

/*
 * The same for a rwlock (glibc 2.25's): a thread about to sleep on it sets
 * the "futex used" bit (2) of the word it sleeps on, __wrphase_futex or
 * __writers_futex, or sleeps on __readers with its "readers waiting" bit
 * (4) set; an unlock wakes only where such a bit is set.
 */
static int prof_rwunlock(pthread_rwlock_t *l)
{
	unsigned f = __atomic_load_n(&l->__data.__wrphase_futex, __ATOMIC_RELAXED) |
	             __atomic_load_n(&l->__data.__writers_futex, __ATOMIC_RELAXED);
	unsigned r = __atomic_load_n(&l->__data.__readers, __ATOMIC_RELAXED);
	if (hp_likely(!((f & 2) | (r & 4))))
		return R.rwunlock(l);
	return unlock_slow(l, true);
}

void hp_locks_enable(bool block, bool mutex)
{
	resolve();
	if (!block && !mutex)
		return;
	E.mutex_lock = prof_mutex_lock;
	E.mutex_timedlock = prof_mutex_timedlock;
	E.rdlock = prof_rdlock;
	E.wrlock = prof_wrlock;
	E.timedrdlock = prof_timedrdlock;
	E.timedwrlock = prof_timedwrlock;
	E.cond_wait = prof_cond_wait;
	E.cond_timedwait = prof_cond_timedwait;
	E.mutex_clocklock = prof_mutex_clocklock;
	E.clockrdlock = prof_clockrdlock;
	E.clockwrlock = prof_clockwrlock;
	E.cond_clockwait = prof_cond_clockwait;
	if (mutex) {
		E.mutex_unlock = prof_mutex_unlock;
		E.rwunlock = prof_rwunlock;
	}
}
