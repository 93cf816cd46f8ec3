/* SPDX-License-Identifier: MIT */
/*
 * locks: the pthread mutex, rwlock and condition-wait wrappers (locks.c).
 * Off, each forwards with one indirect jump; hp_locks_enable turns them to
 * the profiled paths, which time only what waits (contention.c keeps it).
 */
#ifndef HP_LOCKS_H
#define HP_LOCKS_H

#include <stdbool.h>

/*
 * Finds the C library's functions and, for block (the block profile: lock
 * waits and condition waits) or mutex (the mutex profile: lock waits and
 * the releases that ended them), sends the wrappers to the profiled paths.
 * At start-up, before the program's threads exist.
 */
void hp_locks_enable(bool block, bool mutex);

#endif
