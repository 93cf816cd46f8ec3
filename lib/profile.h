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

#include <stdint.h>

typedef struct {
	const char *trigger; /* "signal", "exit", "api" */
	uint64_t start_ns;   /* when profiling started (duration_nanos) */
	uint64_t rate;       /* the sampling rate, written as the period */
} hp_profile_opts_t;

/*
 * Writes the current profile to fd. Call with the re-entry guard set and the
 * dump lock held (symbol tables are cached under it). Application threads
 * keep allocating meanwhile: buckets are read lock-free. Scratch memory comes
 * from the backing allocator and is freed before returning.
 * Returns 0, or a negative errno (a write error such as -ENOSPC, or -ENOMEM).
 */
int hp_profile_write(int fd, const hp_profile_opts_t *opts);

#endif
