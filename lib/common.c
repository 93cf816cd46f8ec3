/* SPDX-License-Identifier: MIT */
/*
 * common: the out-of-line parts of common.h: the spin lock's slow path and
 * the clock. Nothing here allocates or logs.
 */
#include "common.h"

#include <sched.h>
#include <stdatomic.h>
#include <time.h>

void hp_lock_slow(hp_lock_t *l)
{
	for (unsigned spins = 0;; spins++) {
		while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
			if (spins++ < 100)
				__builtin_ia32_pause();
			else
				sched_yield();
		}
		if (!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
			return;
	}
}

uint64_t hp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
