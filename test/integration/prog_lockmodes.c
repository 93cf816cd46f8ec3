/* SPDX-License-Identifier: MIT */
/*
 * The lock calls behave as without the profiler (contention.sh runs this
 * plain, preloaded with the profiles off, and with both on): error-checking,
 * recursive, robust and priority-inheritance mutexes, timed locks and waits
 * that keep their absolute deadline, a cancelled condition wait, errno.
 * Every lock below is contended, so that the profiled wait path runs. One
 * line per check, "ok NAME" or "not ok NAME: why"; exit status 1 if any failed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void report(const char *name, int good, const char *why)
{
	printf(good ? "ok %s\n" : "not ok %s: %s\n", name, why);
	failed |= !good;
}

static uint64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec in_ms_on(clockid_t clock, int ms)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	return ts;
}

static struct timespec in_ms(int ms)
{
	return in_ms_on(CLOCK_REALTIME, ms);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A thread that takes m, holds it ms, then releases it (or dies holding it). */
typedef struct {
	pthread_mutex_t *m;
	pthread_rwlock_t *rw;
	int ms, die;
	atomic_int holding; /* set once it holds the lock */
} holder_t;

static void *hold(void *arg)
{
	holder_t *h = arg;
	if (h->m)
		pthread_mutex_lock(h->m);
	else
		pthread_rwlock_wrlock(h->rw);
	atomic_store(&h->holding, 1);
	sleep_ms(h->ms);
	if (h->die)
		return NULL;
	if (h->m)
		pthread_mutex_unlock(h->m);
	else
		pthread_rwlock_unlock(h->rw);
	return NULL;
}

static pthread_t held(holder_t *h)
{
	pthread_t t;
	pthread_create(&t, NULL, hold, h);
	/* Until it holds the lock (a fixed sleep missed it on a loaded machine). */
	while (!atomic_load(&h->holding))
		sleep_ms(1);
	return t;
}

static void mutex_of(pthread_mutex_t *m, int type, int robust, int proto)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	pthread_mutexattr_setrobust(&a, robust);
	pthread_mutexattr_setprotocol(&a, proto);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

static void errorcheck(void)
{
	pthread_mutex_t m;
	mutex_of(&m, PTHREAD_MUTEX_ERRORCHECK, 0, PTHREAD_PRIO_NONE);
	holder_t h = {&m, NULL, 60, 0};
	pthread_t t = held(&h);
	errno = ENOSPC;
	int r = pthread_mutex_lock(&m);
	report("errorcheck: a contended lock returns 0 and keeps errno",
	       r == 0 && errno == ENOSPC, strerror(r));
	r = pthread_mutex_lock(&m);
	report("errorcheck: relocking returns EDEADLK", r == EDEADLK, strerror(r));
	pthread_mutex_unlock(&m);
	pthread_join(t, NULL);
	r = pthread_mutex_unlock(&m);
	report("errorcheck: unlocking unowned returns EPERM", r == EPERM, strerror(r));
}

static void recursive(void)
{
	pthread_mutex_t m;
	mutex_of(&m, PTHREAD_MUTEX_RECURSIVE, 0, PTHREAD_PRIO_NONE);
	holder_t h = {&m, NULL, 40, 0};
	pthread_t t = held(&h);
	int r = pthread_mutex_lock(&m), r2 = pthread_mutex_lock(&m);
	int u = pthread_mutex_unlock(&m), u2 = pthread_mutex_unlock(&m);
	int u3 = pthread_mutex_unlock(&m);
	report("recursive: contended, twice locked, twice unlocked, then EPERM",
	       !r && !r2 && !u && !u2 && u3 == EPERM, strerror(u3));
	pthread_join(t, NULL);
}

static void robust(void)
{
	pthread_mutex_t m;
	mutex_of(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_NONE);
	holder_t h = {&m, NULL, 40, 1};
	pthread_t t = held(&h);
	int r = pthread_mutex_lock(&m);
	report("robust: waiting on a holder that dies returns EOWNERDEAD",
	       r == EOWNERDEAD, strerror(r));
	report("robust: pthread_mutex_consistent then works",
	       !pthread_mutex_consistent(&m) && !pthread_mutex_unlock(&m), "");
	pthread_join(t, NULL);
}

static void pi(void)
{
	pthread_mutex_t m;
	mutex_of(&m, PTHREAD_MUTEX_NORMAL, 0, PTHREAD_PRIO_INHERIT);
	holder_t h = {&m, NULL, 40, 0};
	pthread_t t = held(&h);
	int r = pthread_mutex_lock(&m);
	report("priority inheritance: a contended lock returns 0", r == 0, strerror(r));
	pthread_mutex_unlock(&m);
	pthread_join(t, NULL);
}

/* The call returned ETIMEDOUT at its deadline (100 ms), not before, not late. */
static void deadline(const char *name, int r, uint64_t t0)
{
	uint64_t ms = (now() - t0) / 1000000;
	char why[64];
	snprintf(why, sizeof(why), "%s after %llu ms", strerror(r),
	         (unsigned long long)ms);
	report(name, r == ETIMEDOUT && ms >= 95 && ms < 600, why);
}

static void timed(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	holder_t h = {&m, NULL, 500, 0};
	pthread_t t = held(&h);
	struct timespec at = in_ms(100);
	uint64_t t0 = now();
	deadline("pthread_mutex_timedlock keeps its deadline",
	         pthread_mutex_timedlock(&m, &at), t0);
	pthread_join(t, NULL);

	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	holder_t w = {NULL, &rw, 500, 0};
	t = held(&w);
	at = in_ms(100);
	t0 = now();
	deadline("pthread_rwlock_timedwrlock keeps its deadline",
	         pthread_rwlock_timedwrlock(&rw, &at), t0);
	at = in_ms(100);
	t0 = now();
	deadline("pthread_rwlock_timedrdlock keeps its deadline",
	         pthread_rwlock_timedrdlock(&rw, &at), t0);
	pthread_join(t, NULL);

	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	pthread_mutex_lock(&m);
	at = in_ms(100);
	t0 = now();
	deadline("pthread_cond_timedwait keeps its deadline",
	         pthread_cond_timedwait(&c, &m, &at), t0);
	pthread_mutex_unlock(&m);
}

/*
 * glibc's timed rwlock calls check the deadline first: a tv_nsec outside
 * [0, 10^9) is EINVAL even when the lock is free (a try would take it).
 */
static void bad_deadline(void)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	struct timespec bad[2] = {{time(NULL) + 5, 1000000000}, {time(NULL) + 5, -1}};
	for (int i = 0; i < 2; i++) {
		int r = pthread_rwlock_timedrdlock(&rw, &bad[i]);
		report(i ? "pthread_rwlock_timedrdlock, free, tv_nsec -1: EINVAL"
		         : "pthread_rwlock_timedrdlock, free, tv_nsec 10^9: EINVAL",
		       r == EINVAL, strerror(r));
		if (!r)
			pthread_rwlock_unlock(&rw);
		r = pthread_rwlock_timedwrlock(&rw, &bad[i]);
		report(i ? "pthread_rwlock_timedwrlock, free, tv_nsec -1: EINVAL"
		         : "pthread_rwlock_timedwrlock, free, tv_nsec 10^9: EINVAL",
		       r == EINVAL, strerror(r));
		if (!r)
			pthread_rwlock_unlock(&rw);
	}
}

/*
 * The clock forms (glibc 2.30, what C++'s timed waits call): a deadline on
 * CLOCK_MONOTONIC kept; a clock glibc does not take (CLOCK_PROCESS_CPUTIME_ID)
 * EINVAL even when the lock is free, and no mutex released by the wait.
 */
static void clock_forms(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	holder_t h = {&m, NULL, 500, 0};
	pthread_t t = held(&h);
	struct timespec at = in_ms_on(CLOCK_MONOTONIC, 100);
	uint64_t t0 = now();
	deadline("pthread_mutex_clocklock keeps its deadline",
	         pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &at), t0);
	pthread_join(t, NULL);

	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	holder_t w = {NULL, &rw, 500, 0};
	t = held(&w);
	at = in_ms_on(CLOCK_MONOTONIC, 100);
	t0 = now();
	deadline("pthread_rwlock_clockwrlock keeps its deadline",
	         pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &at), t0);
	at = in_ms_on(CLOCK_MONOTONIC, 100);
	t0 = now();
	deadline("pthread_rwlock_clockrdlock keeps its deadline",
	         pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &at), t0);
	pthread_join(t, NULL);

	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	pthread_mutex_lock(&m);
	at = in_ms_on(CLOCK_MONOTONIC, 100);
	t0 = now();
	deadline("pthread_cond_clockwait keeps its deadline",
	         pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &at), t0);

	at = in_ms_on(CLOCK_MONOTONIC, 100);
	int r = pthread_cond_clockwait(&c, &m, CLOCK_PROCESS_CPUTIME_ID, &at);
	report("pthread_cond_clockwait, CPU clock: EINVAL, the mutex still held",
	       r == EINVAL && pthread_mutex_trylock(&m) == EBUSY, strerror(r));
	pthread_mutex_unlock(&m);

	r = pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &at);
	report("pthread_mutex_clocklock, free, CPU clock: EINVAL", r == EINVAL,
	       strerror(r));
	if (!r)
		pthread_mutex_unlock(&m);
	r = pthread_rwlock_clockrdlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &at);
	report("pthread_rwlock_clockrdlock, free, CPU clock: EINVAL", r == EINVAL,
	       strerror(r));
	if (!r)
		pthread_rwlock_unlock(&rw);
	struct timespec bad = {at.tv_sec, 1000000000};
	r = pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &bad);
	report("pthread_rwlock_clockwrlock, free, tv_nsec 10^9: EINVAL", r == EINVAL,
	       strerror(r));
	if (!r)
		pthread_rwlock_unlock(&rw);
}

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cleaned;

static void cleanup(void *arg)
{
	(void)arg;
	cleaned = 1;
	pthread_mutex_unlock(&cm);
}

static void *wait_forever(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cm);
	pthread_cleanup_push(cleanup, NULL);
	for (;;)
		pthread_cond_wait(&cv, &cm);
	pthread_cleanup_pop(1);
	return NULL;
}

static void cancel(void)
{
	pthread_t t;
	void *ret = NULL;
	pthread_create(&t, NULL, wait_forever, NULL);
	sleep_ms(50);
	pthread_cancel(t);
	pthread_join(t, &ret);
	int r = pthread_mutex_trylock(&cm);
	report("a cancelled pthread_cond_wait unwinds: cleanup ran, mutex retaken and "
	       "released",
	       ret == PTHREAD_CANCELED && cleaned && r == 0, strerror(r));
	if (!r)
		pthread_mutex_unlock(&cm);
}

/*
 * Short critical sections, four threads: many waits end without sleeping
 * (the lock was released between the failed try and the real lock), which
 * the profiler marks in the lock word (locks.c). Each kind of mutex keeps
 * mutual exclusion, every wait returns, and each word is 0 again at the end.
 * A condition wait and a timed lock take the same mutexes. Acquisitions
 * that saw the mark, and the times the threads were seen to run at once,
 * are printed by `prog_lockmodes marks`.
 */
#define STRESS_THREADS 4
#define STRESS_TAKES   50000
enum { NORMAL, RECURSIVE, ERRORCHECK, ADAPTIVE, KINDS };
static pthread_mutex_t sm[KINDS];
static pthread_cond_t scv = PTHREAD_COND_INITIALIZER;
static long scount[KINDS];
static _Atomic long marked;
static pthread_barrier_t sbar; /* the threads start together */
/* Did the threads run at once? Each publishes its progress; another that
 * sees it move within a few microseconds (too short to have been
 * descheduled) counts an overlap: on a loaded machine they may not. */
static _Atomic long progress[STRESS_THREADS], overlaps;

static void look_at(int other, volatile unsigned *x)
{
	uint64_t t0 = now();
	long p0 = progress[other];
	for (int j = 0; j < 200; j++)
		*x = *x * 1103515245u + 12345u;
	long p1 = progress[other];
	if (now() - t0 < 20000 && p1 != p0)
		overlaps++;
}

static void take(pthread_mutex_t *m, int i)
{
	if (i % 16 == 0) {
		struct timespec at = in_ms(10000);
		if (pthread_mutex_timedlock(m, &at)) {
			failed = 1;
			pthread_mutex_lock(m);
		}
	} else {
		pthread_mutex_lock(m);
	}
	if (m->__data.__lock == 3)
		marked++;
}

static void *stress_thread(void *arg)
{
	int id = (int)(uintptr_t)arg - 1;
	volatile unsigned x = (unsigned)(uintptr_t)arg;
	pthread_barrier_wait(&sbar);
	for (int i = 0; i < STRESS_TAKES; i++) {
		int k = i % KINDS;
		take(&sm[k], i);
		if (k == RECURSIVE)
			pthread_mutex_lock(&sm[k]);
		for (int j = 0; j < 20; j++)
			x = x * 1103515245u + 12345u;
		scount[k]++;
		if (i % 997 == 0 && k != RECURSIVE) { /* a condition wait on a
			                                mutex just taken */
			struct timespec at = in_ms(0);
			pthread_cond_timedwait(&scv, &sm[k], &at);
		}
		if (k == RECURSIVE)
			pthread_mutex_unlock(&sm[k]);
		pthread_mutex_unlock(&sm[k]);
		for (int j = 0; j < 20; j++)
			x = x * 1103515245u + 12345u;
		progress[id] = i;
		if (i % 64 == 0)
			look_at((id + 1) % STRESS_THREADS, &x);
	}
	return NULL;
}

static void stress(void)
{
	static const int type[KINDS] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE,
	                                PTHREAD_MUTEX_ERRORCHECK,
	                                PTHREAD_MUTEX_ADAPTIVE_NP};
	for (int k = 0; k < KINDS; k++)
		mutex_of(&sm[k], type[k], 0, PTHREAD_PRIO_NONE);
	pthread_t t[STRESS_THREADS];
	pthread_barrier_init(&sbar, NULL, STRESS_THREADS);
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_create(&t[i], NULL, stress_thread, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_join(t[i], NULL);
	int good = 1;
	for (int k = 0; k < KINDS; k++)
		good &= scount[k] == STRESS_THREADS * STRESS_TAKES / KINDS &&
		        sm[k].__data.__lock == 0;
	report("short sections, four threads, four kinds of mutex: counts exact, words "
	       "free",
	       good, "a count or a lock word is off");
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "marks")) {
		stress();
		printf("marked %ld overlaps %ld\n", (long)marked, (long)overlaps);
		return failed;
	}
	errorcheck();
	recursive();
	robust();
	pi();
	timed();
	bad_deadline();
	clock_forms();
	cancel();
	stress();
	return failed;
}
