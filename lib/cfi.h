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
 * or false when the object's CFI does not say it in those terms. Reads the
 * object's CFI with the loader's lock held (dl_iterate_phdr), so the object
 * cannot be unloaded meanwhile; no allocation, no system call.
 */
bool hp_cfi_rule(uintptr_t pc, hp_cfi_rule_t *r);

#endif
