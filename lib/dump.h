/* SPDX-License-Identifier: MIT */
/*
 * dump: where profiles are written. The snapshot thread (trigger.c), normal
 * exit (summary.c) and heapprof_dump write one profile at a time, under the
 * dump lock. How a profile is encoded is profile.c; when a snapshot is asked
 * for, trigger.c and summary.c: dump.c calls neither.
 */
#ifndef HP_DUMP_H
#define HP_DUMP_H

#include "profile.h"

#include <stdint.h>
#include <stdbool.h>

/* Records when profiling started (the profiles' duration). */
void hp_dump_init(uint64_t start_ns);

/*
 * Why a profile is written: a row each in hp_dump_reasons (dump.c), whose
 * order is this enum's. A new reason is an entry here and a row there.
 */
typedef enum {
	HP_DUMP_SIGNAL,
	HP_DUMP_EXIT,
	HP_DUMP_API,
	HP_DUMP_HTTP,
	HP_DUMP_BYTES,
	HP_DUMP_TIME,
	HP_DUMP_PEAK,
	HP_DUMP_LIMIT,
	HP_DUMP_OOM,
	HP_DUMP_NREASONS
} hp_dump_reason_t;

typedef struct {
	/* The file name's suffix ("<prefix>.<pid>.<seq>.<name>.pb.gz"), the
	 * profile's "trigger:" comment and /metrics' label. */
	const char *name;
	bool kept;     /* counts toward HEAPPROF_KEEP (the newest N are kept) */
	bool replaces; /* once complete, this process's previous one goes (peak) */
	bool final;    /* the process's last: none starts after it (exit) */
} hp_dump_reason_row_t;

extern const hp_dump_reason_row_t hp_dump_reasons[HP_DUMP_NREASONS];

/*
 * Writes one profile: to path if given (replacing it), else to the next
 * "<prefix>.<pid>.<seq>.<reason>.pb.gz" that does not exist. Logs the first
 * of a run of identical errors. Call with the re-entry guard set.
 * Returns 0 or a negative errno.
 */
int hp_dump_write(hp_dump_reason_t reason, const char *path);

/*
 * Writes a "peak" profile noting in_use (estimated bytes in use) and the time
 * in its comments; once it is complete, this process's previous peak profile
 * is removed, so one remains. From the snapshot thread, guard set.
 */
int hp_dump_peak(int64_t in_use);

/*
 * Writes a profile of reason noting in_use and the time, as the peak's; for
 * the limit and oom profiles (limit.c), from the allocating thread, guard set.
 */
int hp_dump_noting(hp_dump_reason_t reason, int64_t in_use);

/*
 * Writes one profile of reason to fd (the endpoint's, http_routes.c) under
 * the dump lock, with opts' default type and base; fills in the trigger and
 * the rate, and the start when opts->start_ns is 0. Call with the guard set.
 * Returns 0, a negative errno, or -ESHUTDOWN once the final profile began.
 */
int hp_dump_to_fd(int fd, hp_dump_reason_t reason, hp_profile_opts_t *opts);

/*
 * Starts no profile after this one: waits for one in progress. For an exit
 * without a final profile (HEAPPROF_AT_EXIT=0).
 */
void hp_dump_close(void);

/*
 * Calls fn under the dump lock with the
 * name of the final profile written (the exit's), or NULL, and arg.
 */
void hp_dump_locked(void (*fn)(const char *final_path, void *arg), void *arg);

/*
 * The name of a kind's profile beside the heap profile heap: "<name>.pb.gz"
 * as "<name>.<suffix>.pb.gz" (any other name: ".<suffix>.pb.gz" added).
 */
void hp_dump_beside(char *buf, size_t len, const char *heap, const char *suffix);

/* Profiles written and failed since start, by reason (the /metrics page). */
void hp_dump_counts(uint64_t written[HP_DUMP_NREASONS],
                    uint64_t failed[HP_DUMP_NREASONS]);

/*
 * The prefix of numbered profiles: HEAPPROF_OUTPUT's, or after a change of
 * user that left its directory unwritable, /tmp/heapprof-<euid>/<its name>.
 */
const char *hp_dump_prefix(void);

/* After a change of user: falls back (above) if the new user cannot write in
 * the prefix's directory, and says so once. */
void hp_dump_check_output(void);

void hp_dump_prefork(void);
void hp_dump_postfork_parent(void);
void hp_dump_postfork_child(void);

#endif
