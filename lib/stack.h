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

/*
 * Warms libunwind up (its own set-up allocations happen now), finds our text
 * and the wrappers (hp_stack_find_wrappers).
 */
void hp_stack_init(void);

/*
 * Finds the next allocator's operator new functions when they wrap malloc
 * (libstdc++: hp_real.new_counts is false). Their frames lie between the
 * caller and our malloc, and are trimmed like ours. Call again after
 * hp_backing_resolve_cxx found more operators (a later dlopen).
 */
void hp_stack_find_wrappers(void);

/*
 * Stores up to max return addresses in out (max <= HP_MAX_FRAMES_LIMIT),
 * returns how many. *truncated is set when the stack was deeper than max.
 */
unsigned hp_stack_capture(uintptr_t *out, unsigned max, bool *truncated);

#endif
