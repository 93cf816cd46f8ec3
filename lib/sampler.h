/* SPDX-License-Identifier: MIT */
/*
 * sampler: decides which allocations are sampled, Go's MemProfileRate way: a
 * per-thread countdown of bytes refilled with an exponential draw of mean R,
 * and the unbiasing weight of each sample. The maths is in docs/sampling.md.
 * It does not capture stacks or store anything (interpose.c, stack_table.c).
 */
#ifndef HP_SAMPLER_H
#define HP_SAMPLER_H

#include "common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Count weights are fixed point with 16 fractional bits; byte weights are whole bytes. */
#define HP_W_ONE (1ULL << 16)

/*
 * Per-thread state: a plain struct in initial-exec TLS, all-zero meaning
 * "not initialised", no destructor (safe during thread exit and after fork).
 */
typedef struct {
	uint64_t until; /* bytes until the next sampled byte; 0 = go to the slow path */
	uint64_t rng;   /* xorshift64* state, 0 until initialised */
	uint32_t in_profiler; /* re-entry guard: allocations made inside the profiler */
	uint32_t thread_no;   /* order in which threads first allocated */
} hp_thread_t;

extern HP_TLS hp_thread_t hp_thread;

/*
 * Fast check, inlined into every allocation entry point: true when an
 * allocation of n bytes is certainly not sampled (it then consumed n bytes of
 * the countdown). False sends the caller to hp_sampler_decide.
 */
static inline bool hp_sampler_skip(size_t n)
{
	hp_thread_t *t = &hp_thread;
	if (hp_likely(n < t->until)) {
		t->until -= n;
		return true;
	}
	return false;
}

/*
 * The full decision for an allocation of n bytes: true if it is sampled, in
 * which case the countdown has been redrawn. False inside the profiler (the
 * guard is set), before initialisation, and when profiling is off.
 */
bool hp_sampler_decide(size_t n);

/* The weights a sample of n bytes carries: objects (HP_W_ONE units), bytes. */
void hp_sampler_weights(size_t n, uint64_t *count_w, uint64_t *bytes_w);

/* Configures the rate (0 off, 1 every allocation) and starts sampling. */
void hp_sampler_init(uint64_t rate, uint64_t seed);

/* Stops sampling for good (metadata exhausted); allocations keep forwarding. */
void hp_sampler_disable(void);
bool hp_sampler_active(void);
uint64_t hp_sampler_rate(void);

/* Draws the next countdown for mean rate with the given state (unit tests). */
uint64_t hp_sampler_draw(uint64_t *rng, uint64_t rate);

static inline void hp_guard_enter(void)
{
	hp_thread.in_profiler++;
}

static inline void hp_guard_exit(void)
{
	hp_thread.in_profiler--;
}

#endif
