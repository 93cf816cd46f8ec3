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
 * A count weight (HP_W_ONE units) as whole objects, rounded to nearest.
 * w may be a negative difference (in use, in a delta profile), passed as
 * its two's complement; it rounds away from zero at one half either way.
 */
static inline int64_t hp_weight_to_objects(uint64_t w)
{
	int64_t v = (int64_t)w, one = (int64_t)HP_W_ONE;
	return v >= 0 ? (v + one / 2) / one : -((-v + one / 2) / one);
}

/*
 * Per-thread state: a plain struct in initial-exec TLS, all-zero meaning
 * "not initialised", no destructor (safe during thread exit and after fork).
 */
typedef struct {
	int64_t until; /* bytes until the next sampled byte, minus one; < 0: slow path */
	uint64_t rng;  /* xorshift64* state, 0 until initialised */
	uint32_t in_profiler; /* re-entry guard: allocations made inside the profiler */
	uint32_t thread_no;   /* order in which threads first allocated */
} hp_thread_t;

/* Initialised to until = -1, so every thread's first allocation takes the slow path. */
extern HP_TLS HP_HIDDEN hp_thread_t hp_thread;

/*
 * Fast check, inlined into every allocation entry point: consumes n bytes of
 * the countdown and returns true when the allocation is certainly not
 * sampled. One subtract on thread-local memory and a sign test: the countdown
 * went negative iff a sampled byte lies within these n bytes. False sends the
 * caller to hp_sampler_decide_slow, with the countdown already consumed.
 */
static inline bool hp_sampler_skip(size_t n)
{
	return hp_likely((hp_thread.until -= (int64_t)n) >= 0);
}

/*
 * After hp_sampler_skip returned false: true if the allocation is sampled, in
 * which case the countdown has been redrawn. False inside the profiler (the
 * guard is set), before initialisation, and when profiling is off.
 */
bool hp_sampler_decide_slow(void);

/* Both steps at once, for paths that did not take the fast check. */
static inline bool hp_sampler_decide(size_t n)
{
	return !hp_sampler_skip(n) && hp_sampler_decide_slow();
}

/* The weights a sample of n bytes carries: objects (HP_W_ONE units), bytes. */
void hp_sampler_weights(size_t n, uint64_t *count_w, uint64_t *bytes_w);

/* Configures the rate (0 off, 1 every allocation) and starts sampling. */
void hp_sampler_init(uint64_t rate, uint64_t seed);

/* Stops sampling for good (metadata exhausted); allocations keep forwarding. */
void hp_sampler_disable(void);
bool hp_sampler_active(void);
uint64_t hp_sampler_rate(void);

/* Draws the next countdown for mean rate with the given state (unit tests). */
int64_t hp_sampler_draw(uint64_t *rng, uint64_t rate);

/*
 * Pool mode: until hp_pool_exit, every allocation of this thread takes a slow
 * path and is served by the bootstrap pool, unsampled. For code that runs
 * where the next allocator's lock may be held by the interrupted code (a
 * signal handler starting a thread). Nests with the guard.
 */
#define HP_POOL_ONLY 0x10000u
typedef struct {
	int64_t until;
} hp_pool_state_t;

static inline hp_pool_state_t hp_pool_enter(void)
{
	hp_pool_state_t saved = {hp_thread.until};
	hp_thread.until = -1;
	hp_thread.in_profiler += HP_POOL_ONLY;
	return saved;
}

static inline void hp_pool_exit(hp_pool_state_t saved)
{
	hp_thread.in_profiler -= HP_POOL_ONLY;
	hp_thread.until = saved.until;
}

static inline bool hp_pool_only(void)
{
	return hp_unlikely(hp_thread.in_profiler >= HP_POOL_ONLY);
}

static inline void hp_guard_enter(void)
{
	hp_thread.in_profiler++;
}

static inline void hp_guard_exit(void)
{
	hp_thread.in_profiler--;
}

#endif
