/* SPDX-License-Identifier: MIT */
/*
 * unwind_fast: a stack walker that remembers, for each return address, how
 * its frame leads to its caller's, learnt once (from the object's call frame
 * information, or from libunwind where that says more than a rule can) and
 * applied after that in a few loads. x86-64 only; elsewhere every call answers -1 and
 * libunwind walks. Any frame it cannot describe exactly sends the whole walk
 * back to libunwind. It does not trim or intern stacks (stack.c).
 */
#ifndef HP_UNWIND_FAST_H
#define HP_UNWIND_FAST_H

#include <stdbool.h>
#include <stdint.h>

/* Lets walks run (stack.c's first capture); before it, they answer -1. */
void hp_unwind_fast_enable(void);

/*
 * Takes libunwind's entry points from its handle, for the frames the call
 * frame information does not describe in a rule's terms.
 */
void hp_unwind_fast_use_libunwind(void *libunwind_handle);

/*
 * Stores the return addresses of the calling thread's stack in out, the
 * caller's own first, as unw_backtrace does; returns how many (at most max),
 * or -1 when libunwind must walk this stack instead.
 */
int hp_unwind_fast(uintptr_t *out, int max);

/*
 * How many return addresses have a rule, by kind (HEAPPROF_VERBOSE at exit):
 * counts[0] libunwind's, [1] from RSP, [2] from RBP, [3] outermost; and how
 * many rules were learnt in all, from[0] from the call frame information,
 * from[1] from libunwind, from[2] from the kept rules (rulecache.c).
 */
void hp_unwind_fast_rules(unsigned long counts[4], unsigned long from[3]);

/* Is r a rule of a shape this walker makes (rulecache.c checks a file's)? */
bool hp_unwind_fast_rule_ok(uint64_t r);

/* The rules learnt from the call frame information and libunwind so far. */
unsigned long hp_unwind_fast_learnt(void);

/*
 * Calls fn with each return address that has a rule of this epoch, and
 * that rule (the counts above; rulecache.c at exit).
 */
void hp_unwind_fast_each(void (*fn)(uintptr_t pc, uint64_t rule, void *arg), void *arg);

/* In a forked child: the growth a thread of the parent's was making is
 * not the child's (the lock it held is released). */
void hp_unwind_fast_postfork_child(void);

/* Code was unloaded (dlclose): what was learnt about any address is dropped. */
void hp_unwind_fast_forget(void);

#endif
