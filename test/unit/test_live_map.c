/* SPDX-License-Identifier: MIT */
/*
 * live_map: churn against a reference set (backward-shift deletion must never
 * lose an entry), and the free filter: a pointer is ruled out exactly when no
 * live record shares its byte.
 */
#include "live_map.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define N 200000

static uintptr_t addrs[N];
static char live[N];

/* Random inserts and removes, checked against live[]; returns the failures. */
static int churn(void)
{
	int bad = 0;
	srand(7);
	for (int round = 0; round < 4 * N; round++) {
		int i = rand() % N;
		if (live[i]) {
			hp_live_t r;
			if (!hp_live_map_remove(addrs[i], &r) || r.addr != addrs[i] ||
			    r.size != (uint64_t)i)
				bad++;
			live[i] = 0;
		} else {
			hp_live_t r = {.addr = addrs[i], .size = (uint64_t)i};
			if (hp_live_map_insert(&r))
				bad++;
			live[i] = 1;
		}
	}
	return bad;
}

/*
 * Records as they come back: buckets are 64-byte lines, sizes from 0 to past
 * the 8 MiB that a record's packed form holds (those keep a list of their
 * own), an unaligned bucket too.
 */
static void test_packing(void)
{
	static char lines[64 * 64] __attribute__((aligned(64)));
	const uint64_t sizes[] = {0,
	                          1,
	                          4095,
	                          (1u << 23) - 2,
	                          (1u << 23) - 1,
	                          1u << 23,
	                          (uint64_t)1 << 40,
	                          UINT64_MAX};
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		hp_bucket_t *b = (hp_bucket_t *)(lines + 64 * i + (i == n - 1 ? 8 : 0));
		hp_live_t r = {
		    .addr = 0x5000000 + 4096 * i, .bucket = b, .size = sizes[i]};
		bad += hp_live_map_insert(&r) != 0;
	}
	for (size_t i = n; i-- > 0;) {
		hp_live_t r;
		hp_bucket_t *b = (hp_bucket_t *)(lines + 64 * i + (i == n - 1 ? 8 : 0));
		bad += !hp_live_map_remove(0x5000000 + 4096 * i, &r) || r.bucket != b ||
		       r.size != sizes[i] || r.addr != 0x5000000 + 4096 * i;
	}
	ok(!bad && hp_live_map_size() == 0,
	   "records come back whole, 0 B to 2^64 - 1, 8 MiB and over too (%d bad)", bad);
}

/* Removes every address: what was live must be found, nothing else. */
static void sweep(void)
{
	int missing = 0, ghost = 0;
	for (int i = 0; i < N; i++) {
		hp_live_t r;
		bool found = hp_live_map_remove(addrs[i], &r);
		if (live[i] && !found)
			missing++;
		if (!live[i] && found)
			ghost++;
	}
	ok(!missing && !ghost, "final sweep: %d missing, %d never inserted but found",
	   missing, ghost);
	ok(hp_live_map_size() == 0, "empty after the sweep");

	int left = 0;
	for (size_t i = 0; i < sizeof(hp_live_filter); i++)
		left += hp_live_filter[i] != 0;
	ok(left == 0, "filter empty after the sweep (%d bytes left)", left);
}

static void test_table(void)
{
	for (int i = 0; i < N; i++)
		addrs[i] = 0x100000000ULL + (uintptr_t)i * 4096;
	int bad = churn();
	size_t expect = 0;
	for (int i = 0; i < N; i++)
		expect += live[i];
	ok(bad == 0,
	   "800,000 random inserts and removes agree with the reference (%d bad)", bad);
	ok(hp_live_map_size() == expect, "size %zu == %zu", hp_live_map_size(), expect);
	sweep();
}

/* Two records a filter span apart share a byte; neighbours do not. */
static void test_shared_byte(uintptr_t a)
{
	uintptr_t b = a + HP_FILTER_SPAN;
	hp_live_t ra = {.addr = a, .size = 8}, rb = {.addr = b, .size = 9}, out;
	hp_live_map_insert(&ra);
	ok(hp_live_map_maybe_contains((void *)a), "inserted pointer looked up");
	const uintptr_t grain = (uintptr_t)1 << HP_FILTER_GRAIN_LG;
	uintptr_t first = a & ~(grain - 1);
	ok(!hp_live_map_maybe_contains((void *)(first + grain)) &&
	       !hp_live_map_maybe_contains((void *)(first - 1)),
	   "the next and previous granules stay ruled out");
	hp_live_map_insert(&rb);
	ok(hp_live_map_remove(a, &out) && out.size == 8,
	   "first of two sharing a byte removed");
	ok(hp_live_map_maybe_contains((void *)b), "the other still looked up");
	ok(!hp_live_map_remove(a + 2 * HP_FILTER_SPAN, &out),
	   "an alias that was never inserted is looked up and not found");
	ok(hp_live_map_remove(b, &out) && out.size == 9, "second removed");
	ok(!hp_live_map_maybe_contains((void *)a), "byte back to zero");
}

/* A count that reaches the ceiling stays: never a false "no". */
static void test_saturation(uintptr_t a)
{
	hp_live_t out;
	for (uintptr_t k = 0; k < 300; k++) {
		hp_live_t r = {.addr = a + k * HP_FILTER_SPAN, .size = k};
		hp_live_map_insert(&r);
	}
	for (uintptr_t k = 0; k < 299; k++)
		hp_live_map_remove(a + k * HP_FILTER_SPAN, &out);
	ok(hp_live_map_maybe_contains((void *)(a + 299 * HP_FILTER_SPAN)),
	   "300 records on one byte: the last is still looked up");
	hp_live_map_remove(a + 299 * HP_FILTER_SPAN, &out);
	ok(hp_live_map_maybe_contains((void *)a), "a saturated byte stays set");
	ok(hp_live_map_size() == 0, "map empty again");
}

/*
 * Rate 1: the filter is off and shards hold whole regions, so dense blocks
 * (16 bytes apart, as an allocator packs them) fill few tables to the
 * brim: every insertion that moves records to their other bucket, and every
 * growth, must keep them all findable.
 */
static void test_every_block_sampled(void)
{
	hp_live_map_init(true, false);
	ok(hp_live_map_maybe_contains((void *)0x1010), "rate 1: every pointer looked up");
	memset(live, 0, sizeof(live));
	for (int i = 0; i < N; i++)
		addrs[i] = 0x7f0000000000ULL + (uintptr_t)i * 16;
	int bad = churn();
	size_t expect = 0;
	for (int i = 0; i < N; i++)
		expect += live[i];
	ok(bad == 0 && hp_live_map_size() == expect,
	   "rate 1, dense addresses: churn agrees with the reference (%d bad)", bad);
	hp_live_t r;
	ok(!hp_live_map_remove(0, &r), "address 0 is never found");
	int missing = 0, ghost = 0;
	for (int i = 0; i < N; i++) {
		bool found = hp_live_map_remove(addrs[i], &r);
		missing += live[i] && (!found || r.size != (uint64_t)i);
		ghost += !live[i] && found;
	}
	ok(!missing && !ghost && hp_live_map_size() == 0,
	   "rate 1 sweep: %d missing, %d found but never inserted", missing, ghost);
}

int main(void)
{
	ok(!hp_live_map_maybe_contains((void *)0x1010), "empty filter rules out");
	test_packing();
	test_table();
	test_shared_byte(0x7000010);
	test_saturation(0x7000010);
	hp_live_map_pin((void *)0x9000);
	ok(hp_live_map_maybe_contains((void *)0x9000), "a pinned granule is looked up");
	test_every_block_sampled(); /* last: the filter stays off */
	return tap_done();
}
