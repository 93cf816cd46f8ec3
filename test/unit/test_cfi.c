/* SPDX-License-Identifier: MIT */
/*
 * test_cfi: the rules lib/cfi.c reads from the call frame information,
 * checked against an unwinder written by others: a walk that applies only
 * those rules, from frames of several shapes (a frame pointer, alloca, a
 * large frame without a frame pointer, recursion, qsort's callback inside the
 * C library), must give the return addresses glibc's backtrace() (libgcc's
 * unwinder) gives, to the end of the stack. Also: an address outside any
 * object and one in a function without CFI are "cannot tell".
 */
#include "../../lib/cfi.h"
#include "tap.h"

#include <alloca.h>
#include <execinfo.h>
#include <stdlib.h>
#include <string.h>

#define MAX 64

/*
 * The return addresses above check_here's frame by the CFI's rules alone;
 * how many, or -1 if a rule was missing. Built with the frame pointer, so its
 * own caller's RSP and RBP at the call are known, as in unwind_fast.c.
 */
static __attribute__((noinline, optimize("no-omit-frame-pointer"))) int
cfi_walk(uintptr_t *out, int max, int *missing_at)
{
	const uintptr_t *fp = __builtin_frame_address(0);
	uintptr_t pc = fp[1], sp = (uintptr_t)(fp + 2), bp = fp[0];
	int n = 0;
	while (n < max) {
		out[n++] = pc;
		hp_cfi_rule_t r;
		if (!hp_cfi_rule(pc, &r)) {
			*missing_at = n - 1;
			return -1;
		}
		if (r.outermost)
			break;
		uintptr_t cfa = (r.from_rbp ? bp : sp) + (uintptr_t)r.cfa_off;
		if (r.rbp_saved)
			bp = *(const uintptr_t *)(cfa + (uintptr_t)r.rbp_off);
		pc = ((const uintptr_t *)cfa)[-1];
		sp = cfa;
	}
	return n;
}

static int checks_done;

/* Both walks from here; the first entry of each is in this function. */
static __attribute__((noinline, optimize("no-omit-frame-pointer"))) void
check_here(const char *shape)
{
	void *bt[MAX];
	uintptr_t ours[MAX];
	int missing = -1;
	int nb = backtrace(bt, MAX);
	int no = cfi_walk(ours, MAX, &missing);
	if (no < 0) {
		ok(0, "%s: a rule for every frame (none for frame %d of %d)", shape,
		   missing, nb);
		return;
	}
	int same = nb == no;
	for (int i = 1; same && i < nb; i++)
		same = (uintptr_t)bt[i] == ours[i];
	ok(same, "%s: the rules walk the stack as libgcc does (%d frames, %d)", shape, no,
	   nb);
	checks_done++;
}

static __attribute__((noinline, optimize("no-omit-frame-pointer"))) void with_fp(void)
{
	check_here("frame pointer");
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void with_alloca(size_t n)
{
	char *p = alloca(n);
	memset(p, 1, n);
	__asm__ volatile("" : : "r"(p) : "memory");
	check_here("alloca (CFA from RBP)");
	__asm__ volatile("" : : "r"(p) : "memory");
}

static __attribute__((noinline, optimize("omit-frame-pointer"))) void large_frame(void)
{
	volatile char buf[20000];
	buf[0] = 1;
	check_here("a 20,000-byte frame without a frame pointer");
	buf[1] = buf[0];
}

static __attribute__((noinline)) int recurse(int depth)
{
	if (!depth) {
		check_here("recursion 20 deep");
		return 0;
	}
	int r = recurse(depth - 1);
	__asm__ volatile("" : "+r"(r)::"memory"); /* not a tail call, not a loop */
	return r + 1;
}

static int compare(const void *a, const void *b)
{
	static int once;
	if (!once++)
		check_here("qsort's callback (frames of the C library)");
	return *(const int *)a - *(const int *)b;
}

void hp_test_no_cfi(void);
__asm__(".text\n"
        ".globl hp_test_no_cfi\n"
        ".type hp_test_no_cfi, @function\n"
        "hp_test_no_cfi:\n"
        "\tnop\n"
        "\tnop\n"
        "\tret\n");

int main(void)
{
	with_fp();
	with_alloca(100);
	with_alloca(5000);
	large_frame();
	recurse(20);
	int v[] = {3, 1, 2, 5, 4};
	qsort(v, 5, sizeof(v[0]), compare);
	ok(checks_done == 6, "every shape was walked (%d of 6)", checks_done);

	hp_cfi_rule_t r;
	ok(!hp_cfi_rule(1, &r) && !hp_cfi_rule((uintptr_t)&r, &r),
	   "an address in no object's code: cannot tell");
	ok(!hp_cfi_rule((uintptr_t)hp_test_no_cfi + 2, &r),
	   "a function without call frame information: cannot tell");
	return tap_done();
}
