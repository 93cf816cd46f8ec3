/* SPDX-License-Identifier: MIT */
/*
 * dump: when and where profiles are written. Triggers (the snapshot signal,
 * normal exit, heapprof_dump) write one profile at a time, under the dump
 * lock. The signal handler only writes a byte to a pipe; a dumper thread with
 * every signal blocked does the work. How a profile is encoded is profile.c.
 */
#ifndef HP_DUMP_H
#define HP_DUMP_H

#include <stdint.h>

/* Installs the signal handler and starts the dumper thread (if a signal is set). */
void hp_dump_init(uint64_t start_ns);

/* The final profile, from the library destructor (HEAPPROF_AT_EXIT). */
void hp_dump_at_exit(void);

void hp_dump_prefork(void);
void hp_dump_postfork_parent(void);
void hp_dump_postfork_child(void);

#endif
