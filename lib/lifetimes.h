/* SPDX-License-Identifier: MIT */
/*
 * lifetimes: how long sampled blocks live and who frees them
 * (HEAPPROF_LIFETIMES=1). A sampled block's live record carries a stamp, its
 * allocation time and thread; its free adds the lifetime to the pair
 * (allocation stack, free stack, same or different thread). The lifetimes
 * profile (tcmalloc's data model) is written from the pairs and, for the
 * blocks still alive, from the live map. It does not capture stacks
 * (interpose.c) nor encode the profile (profile.c).
 */
#ifndef HP_LIFETIMES_H
#define HP_LIFETIMES_H

#include "common.h"
#include "live_map.h"
#include "profile.h"
#include "sampler.h"
#include "stack_table.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* HEAPPROF_LIFETIMES: set once at start-up, before any sample. */
extern HP_HIDDEN bool hp_lifetimes_on;

/* Records when profiling started: stamps count from there. */
void hp_lifetimes_init(bool on);

/*
 * A stamp for a block sampled now: nanoseconds of CLOCK_MONOTONIC since
 * start, modulo 2^48 (3.2 days: lifetimes are differences, exact below
 * that), above the calling thread's tag (1 to 65535, given at its first
 * stamp or free, then again from 1) in the low 16 bits.
 */
#define HP_STAMP_THREAD_BITS 16
uint64_t hp_lifetimes_stamp(void);

/*
 * The sampled block rec was freed (or moved by realloc) by the calling
 * thread, whose stack is frames[0..n) (leaf first): adds its lifetime to the
 * pair. Call with the guard set. Returns 0 or -ENOMEM (metadata exhausted).
 */
int hp_lifetimes_note_free(const hp_live_t *rec, const uintptr_t *frames, unsigned n,
                           bool truncated);

/* The lifetimes kind's samples (kinds.c): every pair, then every bucket's
 * blocks still alive (censored). o->window: the window's only. */
void hp_lifetimes_samples(hp_profile_writer_t *W, const hp_profile_opts_t *o);

/* ?seconds=N: opens the window (only blocks allocated from now on count) or
 * closes it. One at a time: the endpoint writes one profile at a time. */
void hp_lifetimes_window(bool open);

/* Fork: the stripes are taken before the metadata arena's lock (a pair is
 * allocated under its stripe); the child has no window open. */
void hp_lifetimes_prefork(void);
void hp_lifetimes_postfork_parent(void);
void hp_lifetimes_postfork_child(void);

#endif
