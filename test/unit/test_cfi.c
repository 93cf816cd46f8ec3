/* SPDX-License-Identifier: MIT */
/*
 * test_cfi: the rules lib/cfi.c reads from the call frame information,
 * checked against an unwinder written by others: a walk that applies only
 * those rules, from frames of several shapes (a frame pointer, alloca, a
 * large frame without a frame pointer, recursion, qsort's callback inside the
 * C library), must give the return addresses glibc's backtrace() (libgcc's
 * unwinder) gives, to the end of the stack. Also: an address outside any
 * object and one in a function without CFI are "cannot tell", and the
 * rules of forms compilers seldom emit (check_forms).
 */
#include "../../lib/cfi.h"
#include "tap.h"

#include <alloca.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdio.h>
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

/*
 * Call frame information of forms compilers seldom emit, each label a return
 * address whose rule (at label - 1) is checked below; libdw (elfutils) reads
 * the same rules from them. hp_forms_a by gas's CFI with raw instructions:
 * def_cfa_sf and offset_extended_sf (factored by the data alignment, -8),
 * def_cfa_offset_sf and GNU_negative_offset_extended, remember_state with a
 * new CFA and restore_extended then restore_state (which restores the CFA
 * too), advance_loc2 and advance_loc4 (the gaps), the return address
 * elsewhere than CFA - 8, val_offset, same_value, and a state stack deeper
 * than the reader's. hp_forms_b by a hand-written CIE of version 3 (the
 * return column a ULEB128, of two bytes) with augmentation "zPLR" and an FDE that moves
 * by set_loc.
 */
void hp_forms_a(void);
extern const char hp_forms_a1[], hp_forms_a2[], hp_forms_a3[], hp_forms_a4[],
    hp_forms_a5[], hp_forms_a6[], hp_forms_a7[], hp_forms_a8[], hp_forms_b1[],
    hp_forms_b2[], hp_forms_b3[];
__asm__(".text\n"
        ".globl hp_forms_a\n"
        ".type hp_forms_a, @function\n"
        "hp_forms_a:\n"
        ".cfi_startproc\n"
        "\tnop\n"
        ".cfi_escape 0x12, 7, 0x7d\n"
        ".cfi_escape 0x11, 6, 0x03\n"
        "\tnop\n"
        ".globl hp_forms_a1\n"
        "hp_forms_a1:\n"
        "\tnop\n"
        ".cfi_escape 0x13, 0x7c\n"
        ".cfi_escape 0x2f, 6, 0x02\n"
        "\tnop\n"
        ".globl hp_forms_a2\n"
        "hp_forms_a2:\n"
        "\tnop\n"
        ".cfi_escape 0x0a\n"
        ".cfi_escape 0x0c, 6, 0x10\n"
        ".cfi_escape 0x06, 6\n"
        "\tnop\n"
        ".globl hp_forms_a3\n"
        "hp_forms_a3:\n"
        "\tnop\n"
        ".cfi_escape 0x0b\n"
        "\t.skip 300, 0x90\n"
        ".globl hp_forms_a4\n"
        "hp_forms_a4:\n"
        "\tnop\n"
        ".cfi_escape 0x05, 16, 0x02\n"
        "\t.skip 70000, 0x90\n"
        ".globl hp_forms_a5\n"
        "hp_forms_a5:\n"
        "\tnop\n"
        ".cfi_escape 0x05, 16, 0x01\n"
        ".cfi_escape 0x14, 6, 0x01\n"
        "\tnop\n"
        ".globl hp_forms_a6\n"
        "hp_forms_a6:\n"
        "\tnop\n"
        ".cfi_escape 0x08, 6\n"
        ".cfi_escape 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a\n"
        ".cfi_escape 0x0e, 0x08\n"
        "\tnop\n"
        ".globl hp_forms_a7\n"
        "hp_forms_a7:\n"
        "\tnop\n"
        ".cfi_escape 0x0a\n"
        "\tnop\n"
        ".globl hp_forms_a8\n"
        "hp_forms_a8:\n"
        "\tnop\n"
        "\tret\n"
        ".cfi_endproc\n"
        ".size hp_forms_a, . - hp_forms_a\n"
        ".globl hp_forms_b\n"
        ".type hp_forms_b, @function\n"
        "hp_forms_b:\n"
        "\tnop\n"
        "\tnop\n"
        ".globl hp_forms_b1\n"
        "hp_forms_b1:\n"
        "\tnop\n"
        "\tnop\n"
        ".globl hp_forms_b2\n"
        "hp_forms_b2:\n"
        "\tnop\n"
        "\tnop\n"
        ".globl hp_forms_b3\n"
        "hp_forms_b3:\n"
        "\tnop\n"
        "\tret\n"
        "hp_forms_b_end:\n"
        ".size hp_forms_b, . - hp_forms_b\n"
        ".section .rodata\n"
        "hp_forms_lsda:\n"
        "\t.long 0\n"
        ".section .eh_frame,\"a\",@unwind\n"
        "\t.balign 8\n"
        "hp_cie3:\n"
        "\t.long hp_cie3_end - hp_cie3_id\n"
        "hp_cie3_id:\n"
        "\t.long 0\n"
        "\t.byte 3\n"
        "\t.asciz \"zPLR\"\n"
        "\t.uleb128 1\n"
        "\t.sleb128 -8\n"
        "\t.byte 0x90, 0x00\n" /* return column 16 in a two-byte ULEB128 */
        "\t.uleb128 7\n"
        "\t.byte 0x1b\n"
        "\t.long hp_forms_b - .\n"
        "\t.byte 0x1b\n"
        "\t.byte 0x1b\n"
        "\t.byte 0x0c, 7, 8\n"
        "\t.byte 0x90, 1\n"
        "\t.balign 8, 0\n"
        "hp_cie3_end:\n"
        "\t.long hp_fde3_end - hp_fde3_id\n"
        "hp_fde3_id:\n"
        "\t.long hp_fde3_id - hp_cie3\n"
        "\t.long hp_forms_b - .\n"
        "\t.long hp_forms_b_end - hp_forms_b\n"
        "\t.uleb128 4\n"
        "\t.long hp_forms_lsda - .\n"
        "\t.byte 0x01\n"
        "\t.long hp_forms_b2 - 1 - .\n"
        "\t.byte 0x0e, 16\n"
        "\t.byte 0x01\n"
        "\t.long hp_forms_b3 - 1 - .\n"
        "\t.byte 0x0e, 24\n"
        "\t.byte 0x86, 2\n"
        "\t.balign 8, 0\n"
        "hp_fde3_end:\n"
        ".text\n");

/* The rule at pc - 1 as "RSP+24 RBP@-24", "outermost" or "cannot tell". */
static const char *rule_at(const char *pc, char *buf, size_t len)
{
	hp_cfi_rule_t r;
	if (!hp_cfi_rule((uintptr_t)pc, &r))
		return "cannot tell";
	if (r.outermost)
		return "outermost";
	int n = snprintf(buf, len, "%s%+lld", r.from_rbp ? "RBP" : "RSP",
	                 (long long)r.cfa_off);
	if (r.rbp_saved)
		snprintf(buf + n, len - (size_t)n, " RBP@%+lld", (long long)r.rbp_off);
	return buf;
}

static void check_forms(void)
{
	static const struct {
		const char *pc, *want, *what;
	} forms[] = {
	    {hp_forms_a1, "RSP+24 RBP@-24", "def_cfa_sf, offset_extended_sf"},
	    {hp_forms_a2, "RSP+32 RBP@+16",
	     "def_cfa_offset_sf, GNU_negative_offset_extended"},
	    {hp_forms_a3, "RBP+16", "remember_state, def_cfa, restore_extended"},
	    {hp_forms_a4, "RSP+32 RBP@+16", "restore_state (the CFA too), advance_loc2"},
	    {hp_forms_a5, "cannot tell", "the return address at CFA - 16, advance_loc4"},
	    {hp_forms_a6, "cannot tell", "val_offset of RBP"},
	    {hp_forms_a7, "RSP+8", "same_value, 8 states remembered"},
	    {hp_forms_a8, "cannot tell", "a ninth state remembered"},
	    {hp_forms_b1, "RSP+8", "a CIE of version 3, \"zPLR\""},
	    {hp_forms_b2, "RSP+16", "set_loc"},
	    {hp_forms_b3, "RSP+24 RBP@-16", "a second set_loc"},
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char buf[64];
		const char *got = rule_at(forms[i].pc, buf, sizeof(buf));
		ok(!strcmp(got, forms[i].want), "%s: %s (%s)", forms[i].what,
		   forms[i].want, got);
	}
}

/*
 * A rule is read without the loader's lock: another thread holds it here,
 * inside dl_iterate_phdr's callback, until the rule is read. A fork child
 * whose parent had a thread there (libgcc's unwinder, libunwind, a profiler
 * thread learning a rule) inherits the lock held for ever, and its first
 * capture of a new address hung.
 */
static atomic_int lock_held, may_release;

static int hold_loader_lock(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info;
	(void)size;
	(void)arg;
	atomic_store(&lock_held, 1);
	while (!atomic_load(&may_release))
		usleep(1000);
	return 1;
}

static void *holder(void *arg)
{
	dl_iterate_phdr(hold_loader_lock, NULL);
	return arg;
}

static void check_without_loader_lock(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, holder, NULL)) {
		ok(0, "a thread to hold the loader's lock");
		return;
	}
	while (!atomic_load(&lock_held))
		sched_yield();
	alarm(10); /* a hang fails the test rather than the suite */
	hp_cfi_rule_t r;
	bool got = hp_cfi_rule((uintptr_t)with_fp + 1, &r);
	alarm(0);
	ok(got && !r.outermost && !r.from_rbp && r.cfa_off == 8,
	   "a rule read while another thread holds the loader's lock (CFA RSP%+lld)",
	   (long long)r.cfa_off);
	atomic_store(&may_release, 1);
	pthread_join(t, NULL);
}

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
	check_forms();
	check_without_loader_lock();
	return tap_done();
}
