/* SPDX-License-Identifier: MIT */
/*
 * stack: captures the calling thread's stack with libunwind, leaf first, with
 * the profiler's own frames and the allocator's operator-new wrappers removed
 * from the leaf end. It holds no lock and must be called with the re-entry
 * guard set (libunwind may allocate). It does not intern stacks.
 */
#ifndef HP_STACK_H
#define HP_STACK_H

#include "common.h"
#include "unwind_fast.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Finds our text. libunwind and the wrappers (hp_stack_find_wrappers) are
 * set up later, by the first capture (hp_stack_setup).
 */
void hp_stack_init(void);

/*
 * Finds the next allocator's operator new functions when they wrap malloc
 * (libstdc++: hp_real.new_counts is false). Their frames lie between the
 * caller and our malloc, and are trimmed like ours. Call again after
 * hp_backing_resolve_cxx found more operators (a later dlopen); before the
 * first capture it does nothing (the capture's set-up finds them).
 */
void hp_stack_find_wrappers(void);

/*
 * libunwind's unw_backtrace once a capture has loaded libunwind
 * (hp_stack_load_libunwind); NULL before, and if it could not be loaded.
 */
typedef int (*hp_backtrace_fn)(void **buffer, int size);
extern HP_HIDDEN _Atomic(hp_backtrace_fn) hp_stack_backtrace;
extern HP_HIDDEN atomic_bool hp_stack_ready; /* hp_stack_setup has run */
void hp_stack_setup(void);

/*
 * Loads libunwind, once: for a frame the call frame information does not
 * describe, for a walk unwind_fast cannot make, or at set-up with
 * HEAPPROF_UNWIND=libunwind. Re-entry guard held. true once the load was
 * tried (hp_stack_backtrace says how it went); false while another thread
 * is loading it and waiting for it was not safe.
 */
bool hp_stack_load_libunwind(void);

/*
 * libunwind's walk of the calling thread's stack into raw (0 without it, or
 * while another thread loads it).
 */
int hp_stack_walk_libunwind(uintptr_t *raw, int max);

void hp_stack_prefork(void);
void hp_stack_postfork_parent(void);
void hp_stack_postfork_child(void);

/* Room in a capture buffer above max: the frames trimmed from the leaf end. */
#define HP_STACK_ROOM 32

typedef struct {
	const uintptr_t *frames; /* leaf first, inside the capture buffer */
	unsigned n;
	bool truncated; /* the real stack was deeper than max */
} hp_stack_t;

/* Points st at the frames of raw[0..got) left after trimming, at most max. */
void hp_stack_trim(hp_stack_t *st, const uintptr_t *raw, int got, unsigned max);

/*
 * Captures the calling thread's stack into raw, which holds max +
 * HP_STACK_ROOM entries (max <= HP_MAX_FRAMES_LIMIT): by unwind_fast's rules,
 * or by libunwind's unw_backtrace where they do not describe a frame. Always
 * inlined: in the function an interposer tail-calls, the walker's frame and
 * that function's are the only ones walked above the program's.
 */
static inline __attribute__((always_inline)) void
hp_stack_capture(hp_stack_t *st, uintptr_t *raw, unsigned max)
{
	if (hp_unlikely(!atomic_load_explicit(&hp_stack_ready, memory_order_acquire)))
		hp_stack_setup();
	int got = hp_unwind_fast(raw, (int)(max + HP_STACK_ROOM));
	if (got < 0)
		got = hp_stack_walk_libunwind(raw, (int)(max + HP_STACK_ROOM));
	hp_stack_trim(st, raw, got, max);
}

/* Set by attach.c: called once libunwind is loaded, before its first use. */
extern HP_HIDDEN void (*hp_stack_loaded_hook)(void);

#endif
