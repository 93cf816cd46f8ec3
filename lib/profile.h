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

#include "common.h"
#include "kinds.h"
#include "stack_table.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A bucket's counters at some earlier time, for a delta profile. */
typedef hp_stack_table_snap_t hp_profile_base_t;

typedef struct hp_profile_opts {
	const char *trigger; /* the reason's name (dump.c): "signal", "exit", ... */
	/* The kind written (kinds.c); NULL: the heap. */
	const hp_kind_t *kind;
	bool window;       /* ?seconds=N of a kind with a window (kinds.h) */
	uint64_t start_ns; /* when profiling started (duration_nanos) */
	uint64_t rate;     /* the sampling rate, written as the period */
	/* A row of the heap kind's types (kinds.c); NULL: the kind's default. */
	const hp_sample_type_t *default_type;
	/* Optional: counters subtracted from the buckets' (a delta profile), sorted
	 * by bucket address; buckets absent from it count from zero. */
	const hp_profile_base_t *base;
	size_t nbase;
	/* Optional (/debug/pprof/delta_heap): the counters to write instead of
	 * reading the buckets now, sorted as base is (buckets absent from it are
	 * left out), so that the next delta's base is exactly what this one
	 * showed; and the in-use types taken from them whole, not less base. */
	const hp_profile_base_t *now;
	size_t nnow;
	/* Optional (a "peak" profile): estimated bytes in use when it was written,
	 * and when (CLOCK_REALTIME ns); 0: no such comment. */
	int64_t in_use;
	uint64_t in_use_ns;
} hp_profile_opts_t;

/*
 * Writes the current profile to fd, streaming: each bucket is read, encoded
 * and compressed in turn. Call with the re-entry guard set and the dump lock
 * held (it takes the symbol tables' lock itself). Application threads keep
 * allocating meanwhile: buckets are read lock-free. The writer and an
 * arena of 64 KiB for its small blocks are static (one write at a time,
 * under the symbols lock); what more it needs (zlib's state, and what grows
 * with the distinct locations and functions, never with the stacks) comes
 * from scratch mappings and is unmapped before returning. Returns 0, or a negative errno
 * (a write error such as -ENOSPC, or -ENOMEM); on error fd holds a partial profile.
 */
int hp_profile_write(int fd, const hp_profile_opts_t *opts);

/*
 * The program's arguments as the constructor got them: the command line
 * the profiles name is read from their memory, as the kernel's
 * /proc/PID/cmdline reads it (a program that rewrites its title shows the
 * new one), with no file to open. Without them, /proc is read.
 */
void hp_profile_note_args(int argc, char **argv);

/*
 * Set by the fork handlers: true in a process that has forked, false in a
 * child until it forks itself.
 */
extern HP_HIDDEN atomic_bool hp_profile_forked;

/*
 * After a sample of a process that forked (hp_profile_forked), re-entry
 * guard held: reads the symbol tables of the stacks added since the last
 * time, whole, and refreshes the registry of objects, so that the children
 * it forks next inherit them instead of reading them again for their exit
 * profiles. Only in a process of one thread with exit profiles on; it
 * blocks every signal meanwhile. Preserves nothing: the caller keeps errno.
 */
void hp_profile_name_for_children(void);

/* A kind's own samples (hp_kind_t.samples) are written through these. */
typedef struct hp_profile_writer hp_profile_writer_t;

/* A Sample's label: str, or num with its unit (NULL: none). */
typedef struct {
	const char *key, *str, *unit;
	int64_t num;
} hp_profile_label_t;

#define HP_PROFILE_LABELS_MAX 64

/*
 * Writes one Sample: b's frames, v (one value per sample type of the kind),
 * and labels l[0..nl), nl at most HP_PROFILE_LABELS_MAX. Keys, units and
 * strings must outlive the write (string literals). Returns false once the
 * write has failed (the caller may stop).
 */
bool hp_profile_sample(hp_profile_writer_t *W, const hp_bucket_t *b, const int64_t *v,
                       const hp_profile_label_t *l, size_t nl);

#endif
