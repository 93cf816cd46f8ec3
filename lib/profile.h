/* SPDX-License-Identifier: MIT */
/*
 * profile: turns the stack table into a gzipped pprof Profile, laid out as
 * Go's runtime/pprof writes heap profiles (four sample types in Go's order,
 * period, mappings main executable first, return address - 1, function
 * names resolved in-process). It does not choose file names or decide when
 * to dump (dump.c).
 */
#ifndef HP_PROFILE_H
#define HP_PROFILE_H

#include "kinds.h"
#include "stack_table.h"

#include <stddef.h>
#include <stdint.h>

/* A bucket's counters at some earlier time, for a delta profile. */
typedef hp_stack_table_snap_t hp_profile_base_t;

typedef struct {
	const char *trigger;   /* the reason's name (dump.c): "signal", "exit", ... */
	uint64_t start_ns;     /* when profiling started (duration_nanos) */
	uint64_t rate;         /* the sampling rate, written as the period */
	const hp_kind_t *kind; /* the kind written (kinds.c); NULL: the heap */
	/* A row of the kind's types (kinds.c); NULL: the kind's default. */
	const hp_sample_type_t *default_type;
	/* Optional: counters subtracted from the buckets' (a delta profile), sorted
	 * by bucket address; buckets absent from it count from zero. */
	const hp_profile_base_t *base;
	size_t nbase;
	/* Optional (a "peak" profile): estimated bytes in use when it was written,
	 * and when (CLOCK_REALTIME ns); 0: no such comment. */
	int64_t in_use;
	uint64_t in_use_ns;
} hp_profile_opts_t;

/*
 * Writes the current profile to fd, streaming: each bucket is read, encoded
 * and compressed in turn. Call with the re-entry guard set and the dump lock
 * held (it takes the symbol tables' lock itself). Application threads keep
 * allocating meanwhile: buckets are read lock-free. Scratch memory (a few
 * hundred KiB, plus what grows with the distinct locations and functions,
 * never with the stacks) comes from the backing allocator and is freed
 * before returning. Returns 0, or a negative errno (a write error such as
 * -ENOSPC, or -ENOMEM); on error fd holds a partial profile.
 */
int hp_profile_write(int fd, const hp_profile_opts_t *opts);

#endif
