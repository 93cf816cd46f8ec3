/* SPDX-License-Identifier: MIT */
/* stack_table: interning dedups equal stacks, separates different ones, and
 * counters read back consistently. */
#include "stack_table.h"
#include "tap.h"

static size_t seen;
static void count(const hp_bucket_t *b, void *arg)
{
	(void)b;
	(void)arg;
	seen++;
}

int main(void)
{
	uintptr_t a[] = {0x401000, 0x402000, 0x403000};
	uintptr_t b[] = {0x401000, 0x402000, 0x403001};
	hp_bucket_t *x = hp_stack_table_intern(a, 3, false);
	hp_bucket_t *y = hp_stack_table_intern(a, 3, false);
	hp_bucket_t *z = hp_stack_table_intern(b, 3, false);
	hp_bucket_t *t = hp_stack_table_intern(a, 3, true);
	hp_bucket_t *s = hp_stack_table_intern(a, 2, false);
	ok(x && x == y, "same stack, same bucket");
	ok(z && z != x, "different frame, different bucket");
	ok(t && t != x, "truncated flag is part of the key");
	ok(s && s != x, "prefix is a different stack");
	ok(x->nframes == 3 && x->frames[2] == 0x403000, "frames stored leaf first");
	hp_stack_table_add_alloc(x, 3 << 16, 300);
	hp_stack_table_add_free(x, 1 << 16, 100);
	hp_counts_t c;
	hp_stack_table_read(x, &c);
	ok(c.alloc_count == 3 << 16 && c.alloc_bytes == 300 && c.free_count == 1 << 16 &&
	       c.free_bytes == 100,
	   "counters read back");
	for (uintptr_t i = 0; i < 50000; i++) {
		uintptr_t f[2] = {i, i * 7};
		hp_stack_table_intern(f, 2, false);
	}
	seen = 0;
	hp_stack_table_foreach(count, NULL);
	ok(seen == 50004 && hp_stack_table_size() == 50004,
	   "50,004 buckets iterated (%zu)", seen);
	return tap_done();
}
