/* SPDX-License-Identifier: MIT */
/*
 * stack: captures the calling thread's stack with libunwind, leaf first, with
 * the profiler's own frames and the allocator's operator-new wrappers removed
 * from the leaf end. It holds no lock and must be called with the re-entry
 * guard set (libunwind may allocate). It does not intern stacks.
 */
#ifndef HP_STACK_H
#define HP_STACK_H

#include <stdbool.h>
#include <stdint.h>

/* Warms libunwind up (its own set-up allocations happen now) and finds our text. */
void hp_stack_init(void);

/*
 * Stores up to max return addresses in out (max <= HP_MAX_FRAMES_LIMIT),
 * returns how many. *truncated is set when the stack was deeper than max.
 */
unsigned hp_stack_capture(uintptr_t *out, unsigned max, bool *truncated);

/* Is pc inside libheapprof's own code? */
bool hp_stack_is_own_pc(uintptr_t pc);

#endif
