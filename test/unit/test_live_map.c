/* SPDX-License-Identifier: MIT */
/*
 * live_map: churn against a reference set (backward-shift deletion must never
 * lose an entry), and the free-path mask closing and opening with unaligned
 * records.
 */
#include "live_map.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define N 200000

int main(void)
{
	hp_live_map_init(true);
	ok(!hp_live_map_maybe_contains((void *)0x1010), "unaligned pointer ruled out");
	ok(hp_live_map_maybe_contains((void *)0x5000), "page-aligned pointer looked up");

	static uintptr_t addrs[N];
	static char live[N];
	for (int i = 0; i < N; i++)
		addrs[i] = 0x100000000ULL + (uintptr_t)i * 4096;
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
			hp_live_t r = {
			    .addr = addrs[i], .size = (uint64_t)i, .count_w = 1};
			if (hp_live_map_insert(&r))
				bad++;
			live[i] = 1;
		}
	}
	size_t expect = 0;
	for (int i = 0; i < N; i++)
		expect += live[i];
	ok(bad == 0,
	   "800,000 random inserts and removes agree with the reference (%d bad)", bad);
	ok(hp_live_map_size() == expect, "size %zu == %zu", hp_live_map_size(), expect);
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

	hp_live_t u = {.addr = 0x7000010, .size = 8};
	hp_live_map_insert(&u);
	ok(hp_live_map_maybe_contains((void *)0x1010),
	   "an unaligned record opens the mask");
	hp_live_t out;
	ok(hp_live_map_remove(0x7000010, &out) && out.size == 8,
	   "unaligned record found");
	ok(!hp_live_map_maybe_contains((void *)0x1010), "mask closes when none is left");
	return tap_done();
}
