/* SPDX-License-Identifier: MIT */
/*
 * dump: where profiles are written. The snapshot thread (trigger.c), normal
 * exit and heapprof_dump write one profile at a time, under the dump lock.
 * How a profile is encoded is profile.c; when a snapshot is asked for,
 * trigger.c.
 */
#ifndef HP_DUMP_H
#define HP_DUMP_H

#include "profile.h"

#include <stdint.h>
#include <stdbool.h>

/* Records when profiling started (the profiles' duration). */
void hp_dump_init(uint64_t start_ns);

/*
 * Writes one profile: to path if given (replacing it), else to the next
 * "<prefix>.<pid>.<seq>.<trigger>.pb.gz" that does not exist. Logs the first
 * of a run of identical errors. Call with the re-entry guard set.
 * Returns 0 or a negative errno.
 */
int hp_dump_write(const char *trigger, const char *path);

/*
 * Writes a "peak" profile noting in_use (estimated bytes in use) and the time
 * in its comments; once it is complete, this process's previous peak profile
 * is removed, so one remains. From the snapshot thread, guard set.
 */
int hp_dump_peak(int64_t in_use);

/*
 * Writes one profile to fd (the endpoint's, http.c) under the dump lock,
 * with opts' trigger, default type and base; fills in the rate, and the start
 * when opts->start_ns is 0. Call with the re-entry guard set. Returns 0, a
 * negative errno, or -ESHUTDOWN once the final profile began.
 */
int hp_dump_to_fd(int fd, hp_profile_opts_t *opts);

/*
 * The final profile, from the library destructor (HEAPPROF_AT_EXIT), after
 * any "bytes" profiles still asked for; then the summary (HEAPPROF_SUMMARY).
 */
void hp_dump_at_exit(void);

/*
 * The reasons a profile is written for, in the order hp_dump_counts uses:
 * "signal", "exit", "api", "http", "bytes", "time", "peak".
 */
#define HP_DUMP_NREASONS 7
extern const char *const hp_dump_reasons[HP_DUMP_NREASONS];

/* Profiles written and failed since start, by reason (the /metrics page). */
void hp_dump_counts(uint64_t written[HP_DUMP_NREASONS],
                    uint64_t failed[HP_DUMP_NREASONS]);

void hp_dump_prefork(void);
void hp_dump_postfork_parent(void);
void hp_dump_postfork_child(void);

#endif
