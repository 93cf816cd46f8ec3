/* SPDX-License-Identifier: MIT */
/*
 * sampler: the slow half of the countdown (hp_sampler_decide_slow) and the
 * weights. Bytes are marked by a Poisson process of rate 1/R; an allocation
 * of n bytes is sampled iff it contains a marked byte, probability
 * p = 1 - exp(-n/R), and then weighs 1/p objects and n/p bytes. See
 * docs/sampling.md.
 */
#include "sampler.h"
#include "config.h"
#include "sys.h"

#include <string.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

HP_TLS hp_thread_t hp_thread = {.until = -1};

/* Before hp_sampler_init, sampling waits; after it, it is on or off for good. */
enum { PHASE_STARTING, PHASE_ON, PHASE_OFF };

static uint64_t rate; /* immutable once on */
static uint64_t seed;
static atomic_int phase;
static atomic_uint thread_count;

uint64_t hp_sampler_rate(void)
{
	return rate;
}

bool hp_sampler_active(void)
{
	return atomic_load_explicit(&phase, memory_order_relaxed) == PHASE_ON;
}

static uint64_t next_u64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/*
 * -ln(u) for u in (0, 1], without libm (one library fewer to load, and a
 * fifth of the instructions of log): u = m * 2^e with m in [sqrt(1/2),
 * sqrt(2)), ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its
 * series to s^9: relative error under 1e-9, far below the draw's own noise.
 */
static double neg_log(double u)
{
	uint64_t bits;
	memcpy(&bits, &u, sizeof(bits));
	int e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1023) << 52);
	double m;
	memcpy(&m, &bits, sizeof(m));
	if (m >= 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double s = (m - 1.0) / (m + 1.0), s2 = s * s;
	double ln_m =
	    2.0 * s * (1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 / 9))));
	return -((double)e * 0.6931471805599453 + ln_m);
}

/*
 * exp(-x) for x >= 0, without libm: 2^-k exp(-f), x = k ln 2 + f, |f| <=
 * ln(2)/2; exp(-f) = exp(-f/8)^8, exp(-f/8) by its Taylor series to the 7th
 * power (relative error under 1e-15 after the squarings).
 */
static double exp_neg(double x)
{
	if (x > 700.0)
		return 0.0; /* below 1e-304: the weight it feeds is 1 */
	double k = (double)(int64_t)(x * 1.4426950408889634 + 0.5);
	/* ln 2 split in two so that k ln 2 is exact enough for any k < 1010. */
	double f = (x - k * 0.693147180369123816490) - k * 1.90821492927058770002e-10;
	double g = f * 0.125;
	double t = 1.0 - g * (1.0 / 7);
	t = 1.0 - g * (1.0 / 6) * t;
	t = 1.0 - g * (1.0 / 5) * t;
	t = 1.0 - g * (1.0 / 4) * t;
	t = 1.0 - g * (1.0 / 3) * t;
	t = 1.0 - g * (1.0 / 2) * t;
	t = 1.0 - g * t;
	t *= t;
	t *= t;
	t *= t;
	uint64_t bits = (uint64_t)(1023 - (int64_t)k) << 52; /* 2^-k, k <= 1010 */
	double scale;
	memcpy(&scale, &bits, sizeof(scale));
	return t * scale;
}

int64_t hp_sampler_draw(uint64_t *rng, uint64_t r)
{
	if (r == 0)
		return INT64_MAX;
	if (r == 1)
		return -1;
	/* u uniform in (0, 1]; -ln(u) * R is exponential with mean R. Capped at
	 * 2^62, which a draw reaches with probability exp(-2^62 / R). */
	double u = (double)((next_u64(rng) >> 11) + 1) * 0x1p-53;
	double e = neg_log(u) * (double)r;
	/* Sampled iff n > floor(e), i.e. e < n: P = 1 - exp(-n/R). */
	return e < 0x1p62 ? (int64_t)e : INT64_C(1) << 62;
}

static void thread_init(hp_thread_t *t)
{
	t->thread_no = atomic_fetch_add(&thread_count, 1);
	uint64_t s;
	if (seed) {
		s = hp_mix64(seed + 0x9e3779b97f4a7c15ULL * (t->thread_no + 1));
	} else {
		struct timespec ts; /* once a thread: the system call, as hp_now_ns */
		hp_sys_clock_gettime(CLOCK_MONOTONIC, &ts);
		s = hp_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
		             ((uint64_t)hp_sys_gettid() << 16) ^ (uintptr_t)t);
	}
	t->rng = s ? s : 1;
}

/*
 * The countdown while start-up is unfinished. The constructors that run
 * before ours allocate on the main thread, tens of thousands of times in a
 * program like clang; that thread skips this path for a budget of bytes,
 * which hp_sampler_init, called by our constructor on that same thread,
 * ends. Another thread keeps coming back (its budget could outlive it).
 * thread_no, unused until thread_init, remembers which thread is which.
 */
#define STARTING_BUDGET (INT64_C(1) << 20)
enum { UNCHECKED, MAIN_THREAD, OTHER_THREAD };

static int64_t starting_until(hp_thread_t *t)
{
	if (t->thread_no == UNCHECKED)
		t->thread_no =
		    hp_sys_gettid() == hp_sys_getpid() ? MAIN_THREAD : OTHER_THREAD;
	return t->thread_no == MAIN_THREAD ? STARTING_BUDGET : -1;
}

bool hp_sampler_decide_slow(void)
{
	hp_thread_t *t = &hp_thread;
	if (hp_pool_only()) {
		t->until = -1; /* every allocation comes back here until hp_pool_exit */
		return false;
	}
	int ph = atomic_load_explicit(&phase, memory_order_relaxed);
	if (hp_unlikely(ph != PHASE_ON)) {
		/* Before start-up finishes keep coming back here; when off, never. */
		t->until = ph == PHASE_OFF ? INT64_MAX : starting_until(t);
		return false;
	}
	if (hp_unlikely(!t->rng)) {
		/* First allocation of this thread: draw, and judge it against the draw.
		 */
		int64_t consumed = -1 - t->until; /* the n of the allocation at hand */
		thread_init(t);
		t->until = hp_sampler_draw(&t->rng, rate) - consumed;
		if (t->until >= 0)
			return false;
	}
	/*
	 * Memoryless: the next sampled byte is counted from the end of this
	 * allocation, so a huge allocation costs one draw. Inside the profiler a
	 * due sample is dropped and redrawn (not postponed to the next
	 * allocation, which would favour whatever the caller allocates next).
	 */
	t->until = hp_sampler_draw(&t->rng, rate);
	return t->in_profiler == 0;
}

void hp_sampler_weights(size_t n, uint64_t *count_w, uint64_t *bytes_w)
{
	if (rate <= 1) {
		*count_w = HP_W_ONE;
		*bytes_w = n;
		return;
	}
	if (n == 0) {
		/* Never sampled, but stay finite: weigh as the smallest block. */
		*count_w = HP_W_ONE * rate;
		*bytes_w = 0;
		return;
	}
	/*
	 * 1/p = 1 / (1 - exp(-x)), x = n/R. For small x its series
	 * 1/x + 1/2 + x/12 - x^3/720 + ... is cut after x/12: relative error under
	 * x^4/720 < 1e-10 for x < 2^-6, which covers nearly every sample at the
	 * default rate; above, 1 - exp(-x) >= 0.0155 loses no precision.
	 */
	double x = (double)n / (double)rate;
	double inv = x < 0x1p-6 ? 1.0 / x + 0.5 + x / 12.0 : 1.0 / (1.0 - exp_neg(x));
	*count_w = (uint64_t)((double)HP_W_ONE * inv + 0.5);
	*bytes_w = (uint64_t)((double)n * inv + 0.5);
}

void hp_sampler_init(uint64_t r, uint64_t s)
{
	rate = r;
	seed = s;
	hp_thread.rng = 0; /* the calling thread redraws with the new rate */
	hp_thread.until = -1;
	atomic_store(&phase, r ? PHASE_ON : PHASE_OFF);
}

void hp_sampler_disable(void)
{
	atomic_store(&phase, PHASE_OFF);
}
