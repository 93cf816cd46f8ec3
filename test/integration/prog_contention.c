/* SPDX-License-Identifier: MIT */
/*
 * Lock contention at known sites, for contention.sh. Four threads take a
 * mutex in wait_mutex and hold it HOLD_MS before release_mutex; readers take
 * a rwlock in wait_read while a writer holds it in write_hold and releases
 * it in release_write (its own waits for readers timed too); a thread waits
 * on a condition variable in wait_cond
 * until signalled after COND_MS. Each thread times its own waits around the
 * call; the program prints the sums (ns), which the profiles must match.
 * quiet_lock takes a mutex no other thread touches: it must not show.
 * Two waiters hold a wait whose bookkeeping waits for their release when
 * their lock leaves by another path: one exits holding the robust mutex it
 * waited for in wait_dying, one waits in wait_handed for a mutex that its
 * condition wait then releases; release_dying and release_handed must be
 * charged with their timed waits and no more. Nested: threads take na then
 * nb, both contended, and release na first (nested_take, release_na,
 * release_nb).
 * With an argument N, it stays N seconds after printing (for the endpoint).
 * `prog_contention many N`: many short waits on one mutex (below).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS  12
#define HOLD_MS 3
#define COND_MS 40
/* The dying and handed phases' waits, one or two each: long enough that a
 * thread preempted for a time slice (a loaded machine, the suite's other
 * tests) still times them within the driver's 10%. */
#define PHASE_MS 30

static pthread_mutex_t hot = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int signalled;
static _Atomic uint64_t mutex_waits, read_waits, write_waits, cond_waits;
static pthread_mutex_t dying, handed = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t handed_cv = PTHREAD_COND_INITIALIZER;
static int handed_signalled;
static _Atomic uint64_t dying_waits, handed_waits, nested_waits;
static pthread_mutex_t na = PTHREAD_MUTEX_INITIALIZER, nb = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;

static uint64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

void wait_mutex(void)
{
	uint64_t t = now();
	pthread_mutex_lock(&hot);
	mutex_waits += now() - t;
}

void release_mutex(void)
{
	pthread_mutex_unlock(&hot);
}

void quiet_lock(pthread_mutex_t *m)
{
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(m);
		pthread_mutex_unlock(m);
	}
}

static void *mutex_thread(void *arg)
{
	pthread_mutex_t mine = PTHREAD_MUTEX_INITIALIZER;
	(void)arg;
	pthread_barrier_wait(&start);
	for (int i = 0; i < ROUNDS; i++) {
		wait_mutex();
		sleep_ms(HOLD_MS);
		release_mutex();
		quiet_lock(&mine);
	}
	return NULL;
}

void wait_read(void)
{
	uint64_t t = now();
	pthread_rwlock_rdlock(&rw);
	read_waits += now() - t;
	pthread_rwlock_unlock(&rw);
}

void release_write(void)
{
	pthread_rwlock_unlock(&rw);
}

void write_hold(void)
{
	uint64_t t = now();
	pthread_rwlock_wrlock(&rw);
	write_waits += now() - t;
	sleep_ms(HOLD_MS * 4);
	release_write();
}

static void *reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		sleep_ms(HOLD_MS);
		wait_read();
	}
	return NULL;
}

void wait_cond(void)
{
	pthread_mutex_lock(&cm);
	uint64_t t = now();
	while (!signalled)
		pthread_cond_wait(&cv, &cm);
	cond_waits += now() - t;
	pthread_mutex_unlock(&cm);
}

static void *cond_thread(void *arg)
{
	(void)arg;
	wait_cond();
	return NULL;
}

void wait_dying(void)
{
	uint64_t t = now();
	if (pthread_mutex_lock(&dying) == EOWNERDEAD)
		pthread_mutex_consistent(&dying);
	dying_waits += now() - t;
}

void release_dying(void)
{
	pthread_mutex_unlock(&dying);
}

static void *dies_holding(void *arg)
{
	(void)arg;
	wait_dying();
	return NULL; /* still holding it */
}

static void *waits_once(void *arg)
{
	(void)arg;
	wait_dying();
	release_dying();
	return NULL;
}

/* A thread that ends holding a lock it waited for. */
static void dying_phase(void)
{
	pthread_mutexattr_t a;
	pthread_t t;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&dying, &a);
	pthread_mutex_lock(&dying);
	pthread_create(&t, NULL, dies_holding, NULL);
	sleep_ms(PHASE_MS);
	release_dying();
	pthread_join(t, NULL);
	wait_dying(); /* EOWNERDEAD at once: no wait */
	pthread_create(&t, NULL, waits_once, NULL);
	sleep_ms(PHASE_MS);
	release_dying();
	pthread_join(t, NULL);
}

void wait_handed(void)
{
	uint64_t t = now();
	pthread_mutex_lock(&handed);
	handed_waits += now() - t;
}

void release_handed(void)
{
	pthread_mutex_unlock(&handed);
}

static void *handed_thread(void *arg)
{
	(void)arg;
	wait_handed();
	while (!handed_signalled)
		pthread_cond_wait(&handed_cv, &handed);
	release_handed();
	return NULL;
}

static void *handed_once(void *arg)
{
	(void)arg;
	wait_handed();
	/* Condition waits refused for their deadline release nothing: the
	 * wait above is still release_handed's to charge. */
	struct timespec bad = {0, 1000000000L};
	if (pthread_cond_timedwait(&handed_cv, &handed, &bad) != EINVAL ||
	    pthread_cond_clockwait(&handed_cv, &handed, CLOCK_MONOTONIC, &bad) !=
	        EINVAL) {
		fprintf(stderr, "prog_contention: a bad deadline was not EINVAL\n");
		exit(1);
	}
	release_handed();
	return NULL;
}

/* A mutex waited for, then released inside a condition wait; another
 * waiter's release comes while the first is still in that wait. */
static void handed_phase(void)
{
	pthread_t t, u;
	pthread_mutex_lock(&handed);
	pthread_create(&t, NULL, handed_thread, NULL);
	sleep_ms(PHASE_MS);
	release_handed();
	sleep_ms(PHASE_MS);
	pthread_mutex_lock(&handed); /* t is in its condition wait */
	pthread_create(&u, NULL, handed_once, NULL);
	sleep_ms(PHASE_MS);
	handed_signalled = 1;
	pthread_cond_signal(&handed_cv);
	release_handed();
	pthread_join(u, NULL);
	pthread_join(t, NULL);
}

void nested_take(void)
{
	uint64_t t = now();
	pthread_mutex_lock(&na);
	pthread_mutex_lock(&nb);
	nested_waits += now() - t;
}

void release_na(void)
{
	pthread_mutex_unlock(&na);
}

void release_nb(void)
{
	pthread_mutex_unlock(&nb);
}

static void *nested_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		nested_take();
		sleep_ms(1);
		release_na();
		sleep_ms(1);
		release_nb();
	}
	return NULL;
}

/* THREADS threads running fn, which waits at the start barrier first. */
static void run_together(void *(*fn)(void *))
{
	pthread_t t[THREADS];
	pthread_barrier_init(&start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, fn, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
}

static void workload(void)
{
	pthread_t t[THREADS], r[2], c;
	run_together(mutex_thread);

	for (int i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	for (int i = 0; i < ROUNDS; i++) {
		write_hold();
		sleep_ms(1);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);

	signalled = 0;
	pthread_create(&c, NULL, cond_thread, NULL);
	sleep_ms(COND_MS);
	pthread_mutex_lock(&cm);
	signalled = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&cm);
	pthread_join(c, NULL);

	dying_phase();
	handed_phase();
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, nested_thread, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
}

/* ---- many short waits: the mutex profile at a fraction above 1 ---------- */

static pthread_mutex_t many = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t many_ns;
static int many_rounds;

void wait_many(void)
{
	uint64_t t = now();
	pthread_mutex_lock(&many);
	many_ns += now() - t;
}

void release_many(void)
{
	pthread_mutex_unlock(&many);
}

static void *many_thread(void *arg)
{
	struct timespec hold = {0, 100000}; /* 100 us */
	(void)arg;
	pthread_barrier_wait(&start);
	for (int i = 0; i < many_rounds; i++) {
		wait_many();
		nanosleep(&hold, NULL);
		release_many();
	}
	return NULL;
}

/* prog_contention many N: THREADS threads take one mutex N times each,
 * holding it 100 us; prints the waits' sum (ns). */
static int many_mode(int rounds)
{
	many_rounds = rounds;
	run_together(many_thread);
	printf("many %llu\n", (unsigned long long)many_ns);
	return 0;
}

/* ---- the clock forms (what C++'s timed waits call) ------------------------ */

static pthread_mutex_t clocked = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clocked_cv = PTHREAD_COND_INITIALIZER;
static int clocked_signalled;
static _Atomic uint64_t clocked_ns, cond_clocked_ns;

static struct timespec monotonic_in(int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	return ts;
}

void wait_clocked(void)
{
	struct timespec at = monotonic_in(60000);
	uint64_t t = now();
	pthread_mutex_clocklock(&clocked, CLOCK_MONOTONIC, &at);
	clocked_ns += now() - t;
}

void release_clocked(void)
{
	pthread_mutex_unlock(&clocked);
}

static void *clocked_thread(void *arg)
{
	struct timespec hold = {0, 100000}; /* 100 us */
	(void)arg;
	pthread_barrier_wait(&start);
	for (int i = 0; i < many_rounds; i++) {
		wait_clocked();
		nanosleep(&hold, NULL);
		release_clocked();
	}
	return NULL;
}

void cond_clocked(void)
{
	struct timespec at = monotonic_in(60000);
	pthread_mutex_lock(&clocked);
	uint64_t t = now();
	while (!clocked_signalled)
		pthread_cond_clockwait(&clocked_cv, &clocked, CLOCK_MONOTONIC, &at);
	cond_clocked_ns = now() - t;
	pthread_mutex_unlock(&clocked);
}

static void *cond_clocked_thread(void *arg)
{
	(void)arg;
	cond_clocked();
	return NULL;
}

/* prog_contention clock N: THREADS threads take a mutex with
 * pthread_mutex_clocklock N times each, holding it 100 us, then one thread
 * waits COND_MS in pthread_cond_clockwait; prints both sums (ns). */
static int clock_mode(int rounds)
{
	many_rounds = rounds;
	run_together(clocked_thread);
	pthread_t c;
	pthread_create(&c, NULL, cond_clocked_thread, NULL);
	sleep_ms(COND_MS);
	pthread_mutex_lock(&clocked);
	clocked_signalled = 1;
	pthread_cond_signal(&clocked_cv);
	pthread_mutex_unlock(&clocked);
	pthread_join(c, NULL);
	printf("clocked %llu\ncond_clocked %llu\n", (unsigned long long)clocked_ns,
	       (unsigned long long)cond_clocked_ns);
	return 0;
}

/* ---- a forked child's own waits ----------------------------------------- */

static pthread_mutex_t kids = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t kids_ns;

void wait_in_child(void)
{
	uint64_t t = now();
	pthread_mutex_lock(&kids);
	kids_ns += now() - t;
}

void release_in_child(void)
{
	pthread_mutex_unlock(&kids);
}

static void *child_thread(void *arg)
{
	struct timespec hold = {0, 100000}; /* 100 us */
	(void)arg;
	pthread_barrier_wait(&start);
	for (int i = 0; i < many_rounds; i++) {
		wait_in_child();
		nanosleep(&hold, NULL);
		release_in_child();
	}
	return NULL;
}

/* prog_contention fork N: the many waits in this process, then a forked
 * child's own (THREADS threads, N times each, on another mutex, from other
 * functions); prints both sums (ns) and the child's pid. */
static int fork_mode(int rounds)
{
	many_mode(rounds);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		run_together(child_thread);
		printf("child %d %llu\n", (int)getpid(), (unsigned long long)kids_ns);
		exit(0);
	}
	int status;
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	               WEXITSTATUS(status) == 0
	           ? 0
	           : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "many"))
		return many_mode(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "fork"))
		return fork_mode(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "clock"))
		return clock_mode(atoi(argv[2]));
	workload();
	printf("mutex %llu\nread %llu\nwrite %llu\ncond %llu\ndying %llu\nhanded "
	       "%llu\nnested %llu\n",
	       (unsigned long long)mutex_waits, (unsigned long long)read_waits,
	       (unsigned long long)write_waits, (unsigned long long)cond_waits,
	       (unsigned long long)dying_waits, (unsigned long long)handed_waits,
	       (unsigned long long)nested_waits);
	fflush(stdout);
	if (argc > 1)
		sleep((unsigned)atoi(argv[1]));
	return 0;
}
