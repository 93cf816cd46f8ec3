/* SPDX-License-Identifier: MIT */
/*
 * limit: HEAPPROF_DUMP_LIMIT, a "limit" profile when the process nears the
 * memory it may use (its cgroup's limit, RLIMIT_AS), and an "oom" profile
 * the first time an allocation fails for want of memory. What "memory" is,
 * and why, is in docs/memory-limits.md. It does not count bytes (trigger.c
 * does, and calls hp_limit_reached) nor encode profiles (dump.c).
 */
#ifndef HP_LIMIT_H
#define HP_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * With HEAPPROF_DUMP_LIMIT set, from start-up before any other thread: reads
 * the limits, computes the heap threshold, reserves the memory the oom
 * profile is written from, and puts checks behind the next allocator's
 * entry points (hp_real) that notice a failure. Does nothing otherwise.
 */
void hp_limit_init(void);

/*
 * Is in_use (bytes in use on the heap, as the profiler counts them) at or
 * over the threshold while armed? One load and a compare: the per-sample
 * cost. True once per arming.
 */
bool hp_limit_crossed(int64_t in_use);

/* After a free: re-arms once in_use is back under the re-arm level. */
void hp_limit_note_free(int64_t in_use);

/*
 * After hp_limit_crossed, in the allocating thread (guard set, no profiler
 * lock held): reads the limits again and writes the limit profile if
 * in_use is still over the threshold.
 */
void hp_limit_reached(int64_t in_use);

/* In a forked child: its first failed allocation writes its own oom profile. */
void hp_limit_postfork_child(void);

#endif
