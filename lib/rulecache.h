/* SPDX-License-Identifier: MIT */
/*
 * rulecache: the stack walker's rules (unwind_fast.c) kept across processes,
 * in the user's private directory, one file per program (by its build ID):
 * for each object loaded at start-up (by build ID), the rules of the return
 * addresses its processes walked through, by offset. A process reads the
 * file at start-up; a return address it holds a rule for is not looked up
 * in the object's call frame information again (2,900 instructions each,
 * the largest part of a short compile's profiling cost after ld.so's). A
 * process that learnt enough new rules writes the file again at exit, with
 * the old ones (a temporary name renamed, so that a reader sees a whole file
 * or none). A rule only says where a frame's caller is on the stack, and the
 * walker reads nothing outside the thread's stack: a damaged or stale file
 * can make a stack wrong, never a fault. The files are safe to delete.
 * Kept with the exit profile only (HEAPPROF_AT_EXIT): that reads the
 * registry of objects at start-up, which names the objects.
 */
#ifndef HP_RULECACHE_H
#define HP_RULECACHE_H

#include <stdbool.h>
#include <stdint.h>

/* Reads this program's file, after the registry of objects (init.c). */
void hp_rulecache_load(void);

/*
 * The kept rule of return address pc, if the file had one for it. No lock,
 * no system call: for the walker, on the allocation path and in signal
 * handlers.
 */
bool hp_rulecache_find(uintptr_t pc, uint64_t *rule);

/* Code was unloaded: the file's rules answer no more lookups (another
 * object may hold an address now). */
void hp_rulecache_forget(void);

/* At exit: writes the file again if this process learnt enough new rules. */
void hp_rulecache_store(void);

/* A forked child writes only what it learns itself. */
void hp_rulecache_postfork_child(void);

#endif
