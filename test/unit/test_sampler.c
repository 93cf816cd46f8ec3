/* SPDX-License-Identifier: MIT */
/*
 * sampler: the countdown draw has mean R; sampling probability is
 * 1 - exp(-n/R); weighted sums are unbiased; R = 1 samples everything with
 * weight exactly one. Seeds are fixed, tolerances are stated per check.
 */
#include "sampler.h"
#include "tap.h"

#include <math.h>

/* Simulates the interposer's use of the sampler for allocations of size n. */
static void simulate(uint64_t rate, size_t n, long count, double *est_objects,
                     double *est_bytes, long *sampled)
{
	hp_sampler_init(rate, 12345);
	double o = 0, b = 0;
	long s = 0;
	for (long i = 0; i < count; i++) {
		if (hp_sampler_skip(n) || !hp_sampler_decide_slow())
			continue;
		uint64_t cw, bw;
		hp_sampler_weights(n, &cw, &bw);
		o += (double)cw / HP_W_ONE;
		b += (double)bw;
		s++;
	}
	*est_objects = o;
	*est_bytes = b;
	*sampled = s;
}

int main(void)
{
	/* Mean of 200,000 exponential draws: sd of the mean is R/sqrt(N) = 0.22% of R. */
	uint64_t rng = 42;
	int64_t sum = 0;
	const int N = 200000;
	for (int i = 0; i < N; i++)
		sum += hp_sampler_draw(&rng, 524288);
	double mean = (double)sum / N;
	ok(fabs(mean - 524288) < 524288 * 0.01,
	   "draw mean %.0f within 1%% (4.5 sd) of 524288", mean);
	ok(hp_sampler_draw(&rng, 1) == -1,
	   "rate 1: countdown -1, every allocation sampled");
	ok(hp_sampler_draw(&rng, 0) == INT64_MAX, "rate 0: never");

	/* 4 KiB blocks at R = 512 KiB: p = 0.0078; 2,000,000 blocks, 15,560 expected
	 * samples. */
	double o, b;
	long s;
	simulate(524288, 4096, 2000000, &o, &b, &s);
	double p = -expm1(-4096.0 / 524288), exp_s = p * 2000000,
	       sd = sqrt(exp_s * (1 - p));
	ok(fabs(s - exp_s) < 4 * sd,
	   "sampled %ld of 2e6 4 KiB blocks, expected %.0f +- %.0f", s, exp_s, 4 * sd);
	/* Estimate sd: sqrt(N (1-p)/p) objects = 16,000 on 2e6 (0.8%). */
	double osd = sqrt(2000000 * (1 - p) / p);
	ok(fabs(o - 2000000) < 4 * osd, "objects estimate %.0f within 4 sd (%.0f) of 2e6",
	   o, 4 * osd);
	ok(fabs(b - 4096.0 * 2000000) < 4 * osd * 4096, "bytes estimate %.0f within 4 sd",
	   b);

	/* Tiny blocks (16 B): p = 3e-5, weight ~ 32768. */
	simulate(524288, 16, 20000000, &o, &b, &s);
	p = -expm1(-16.0 / 524288);
	osd = sqrt(20000000 * (1 - p) / p);
	ok(fabs(o - 20000000) < 4 * osd,
	   "16 B objects estimate %.0f within 4 sd (%.0f) of 2e7", o, 4 * osd);

	/* Large blocks (4 MiB) are almost always sampled with weight ~1. */
	simulate(524288, 4 << 20, 1000, &o, &b, &s);
	ok(s >= 999, "4 MiB blocks: %ld of 1000 sampled", s);

	/* Rate 1: every allocation, weight exactly one object and n bytes. */
	simulate(1, 24, 1000, &o, &b, &s);
	ok(s == 1000 && o == 1000 && b == 24000,
	   "rate 1 exact: %ld samples, %.0f objects, %.0f B", s, o, b);
	simulate(1, 0, 10, &o, &b, &s);
	ok(s == 10 && o == 10 && b == 0, "rate 1 counts zero-byte allocations");

	/* The guard: nothing is sampled inside the profiler. */
	hp_sampler_init(1, 1);
	hp_guard_enter();
	bool any = false;
	for (int i = 0; i < 100; i++)
		any |= !hp_sampler_skip(8) && hp_sampler_decide_slow();
	hp_guard_exit();
	ok(!any, "no sample while the re-entry guard is set");

	/* The weights, computed without libm, against 1 / -expm1(-n/R). */
	double worst = 0;
	hp_sampler_init(524288, 1);
	for (size_t n = 1; n < ((size_t)1 << 40); n = n * 3 + 1) {
		uint64_t cw, bw;
		hp_sampler_weights(n, &cw, &bw);
		double want = (double)n / -expm1(-(double)n / 524288.0);
		/* bytes_w is rounded to a whole byte */
		double err = (fabs((double)bw - want) - 0.5) / want;
		worst = err > worst ? err : worst;
	}
	ok(worst < 1e-12, "byte weights within %.1e (beyond rounding) of libm's, 1 B to 1 TiB", worst);

	hp_sampler_init(0, 0);
	any = false;
	for (int i = 0; i < 100; i++)
		any |= !hp_sampler_skip(1 << 20) && hp_sampler_decide_slow();
	ok(!any, "rate 0 samples nothing");
	return tap_done();
}
