/* SPDX-License-Identifier: MIT */
/*
 * contention's clock: once calibrated, the CPU's counter gives
 * CLOCK_MONOTONIC's time, and two threads reading it never see it go back.
 */
#include "contention.h"
#include "tap.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Atomic uint64_t latest;
static _Atomic int stop;
static _Atomic uint64_t reads, back, worst;

/* Each read must not be before the latest another thread published. */
static void *race(void *arg)
{
	(void)arg;
	uint64_t n = 0, b = 0, w = 0;
	while (!atomic_load(&stop)) {
		uint64_t seen = atomic_load(&latest), t = hp_contention_now();
		n++;
		if (t < seen) {
			b++;
			w = seen - t > w ? seen - t : w;
		} else {
			atomic_compare_exchange_strong(&latest, &seen, t);
		}
	}
	atomic_fetch_add(&reads, n);
	atomic_fetch_add(&back, b);
	if (w > atomic_load(&worst))
		atomic_store(&worst, w);
	return NULL;
}

int main(void)
{
	hp_contention_init(0, 1);
	uint64_t a = mono(), t = hp_contention_now(), b = mono();
	ok(a <= t && t <= b, "before calibration: CLOCK_MONOTONIC (%llu in %llu..%llu)",
	   (unsigned long long)t, (unsigned long long)a, (unsigned long long)b);
	nanosleep(&(struct timespec){0, 60000000}, NULL);
	hp_contention_now(); /* calibrates */
	const char *kind = hp_contention_clock();
	printf("# clock: %s\n", kind);
	/* 2 us either side: the rate is measured over 60 ms with reads of tens
	 * of ns, and the test runs for under a second after it. */
	uint64_t off = 0;
	for (int i = 0; i < 1000; i++) {
		a = mono();
		t = hp_contention_now();
		b = mono();
		uint64_t o = t < a ? a - t : t > b ? t - b : 0;
		off = o > off ? o : off;
	}
	ok(off <= 2000, "%s agrees with CLOCK_MONOTONIC: %llu ns off at most", kind,
	   (unsigned long long)off);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, race, NULL);
	nanosleep(&(struct timespec){0, 300000000}, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ok(atomic_load(&worst) <= 1000,
	   "two threads: %llu reads, %llu went back, by %llu ns at most (limit 1 us)",
	   (unsigned long long)atomic_load(&reads),
	   (unsigned long long)atomic_load(&back),
	   (unsigned long long)atomic_load(&worst));
	return tap_done();
}
