/* SPDX-License-Identifier: MIT */
/*
 * live_map with stamps (HEAPPROF_LIFETIMES) at rate 1: dense blocks fill a
 * few tables that grow by half at seven eighths full, so bucket counts are
 * not powers of two and insertions often move records to their other
 * bucket. Every record must come back with its own size and stamp.
 */
#include "live_map.h"
#include "tap.h"

#include <stdlib.h>

#define N 400000 /* 6.4 MB of 16-byte blocks: three 2 MiB regions and a bit */

static char live[N];

static uintptr_t addr_of(int i)
{
	return 0x7f0000000000ULL + (uintptr_t)i * 16;
}

/* All 64 bits used, different for every record. */
static uint64_t stamp_of(int i)
{
	return (uint64_t)i * 0x9e3779b97f4a7c15ULL | UINT64_C(1) << 63;
}

static int insert(int i)
{
	hp_live_t r = {.addr = addr_of(i), .size = (uint64_t)i, .stamp = stamp_of(i)};
	live[i] = 1;
	return hp_live_map_insert(&r) != 0;
}

static int remove_checked(int i)
{
	hp_live_t r;
	live[i] = 0;
	return !hp_live_map_remove(addr_of(i), &r) || r.addr != addr_of(i) ||
	       r.size != (uint64_t)i || r.stamp != stamp_of(i);
}

struct seen {
	size_t n;
	int bad;
};

static void visit(const hp_live_t *r, void *arg)
{
	struct seen *s = arg;
	uintptr_t off = r->addr - addr_of(0);
	int i = (int)(off / 16);
	s->n++;
	s->bad += off % 16 || i >= N || !live[i] || r->size != (uint64_t)i ||
	          r->stamp != stamp_of(i);
}

int main(void)
{
	hp_live_map_init(true, true);
	int bad = 0;
	for (int i = 0; i < N; i++)
		bad += insert(i);
	size_t expect = N;
	ok(!bad && hp_live_map_size() == expect, "%d records inserted (%d failed)", N,
	   bad);

	srand(11);
	bad = 0;
	for (int round = 0; round < 2 * N; round++) {
		int i = rand() % N;
		if (live[i]) {
			bad += remove_checked(i);
			expect--;
		} else {
			bad += insert(i);
			expect++;
		}
	}
	ok(!bad && hp_live_map_size() == expect,
	   "800,000 random inserts and removes: sizes and stamps come back (%d bad)",
	   bad);

	struct seen s = {0, 0};
	hp_live_map_foreach(visit, &s);
	ok(s.n == expect && !s.bad, "foreach visits the %zu live records (%zu, %d bad)",
	   expect, s.n, s.bad);

	int missing = 0, ghost = 0;
	for (int i = 0; i < N; i++) {
		hp_live_t r;
		if (live[i])
			missing += remove_checked(i);
		else
			ghost += hp_live_map_remove(addr_of(i), &r);
	}
	ok(!missing && !ghost && hp_live_map_size() == 0,
	   "sweep: %d missing or wrong, %d found but never inserted", missing, ghost);
	return tap_done();
}
