/* SPDX-License-Identifier: MIT */
/*
 * cfi: the rule of a return address read straight from the call frame
 * information the compiler left in the loaded object (.eh_frame, found by
 * the sorted table of .eh_frame_hdr), for unwind_fast.c. It reads only what
 * a rule of unwind_fast's two shapes needs (the CFA from RSP or RBP plus an
 * offset, the return address at CFA - 8, RBP saved at CFA + k or left as
 * it was) and says "cannot tell" for anything else (signal frames,
 * expressions, code without CFI), which libunwind then judges. So a process
 * whose frames are all of those shapes never loads libunwind. x86-64 only.
 */
#ifndef HP_CFI_H
#define HP_CFI_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	bool outermost; /* the return address is undefined: the stack ends */
	bool from_rbp;  /* CFA = RBP + cfa_off, else RSP + cfa_off */
	bool rbp_saved; /* RBP was saved at CFA + rbp_off */
	int64_t cfa_off, rbp_off;
} hp_cfi_rule_t;

/*
 * The rule in force at pc - 1 (pc a return address). true with *r filled,
 * or false when the object's CFI does not say it in those terms. The object
 * is found by _dl_find_object (glibc 2.35), which takes no lock, else by
 * dl_iterate_phdr, which holds the loader's. No lock held means nothing stops
 * another thread unloading the object meanwhile: pc must be a return address
 * on the calling thread's stack, whose object cannot be unloaded while it
 * is there. No allocation, no system call.
 */
bool hp_cfi_rule(uintptr_t pc, hp_cfi_rule_t *r);

#endif
