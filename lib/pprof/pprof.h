/* SPDX-License-Identifier: MIT */
/*
 * pprof: the profile reader (read.c). It loads a pprof profile (gzipped or
 * plain profile.proto) and checks it the way pprof's CheckValid does, so
 * every later step can trust indexes. It does not aggregate or print
 * (contrib/heapprof/ does) nor write profiles (pbenc.c and gzstream.c
 * beside it, for lib/profile.c).
 */
#ifndef HP_PPROF_H
#define HP_PPROF_H

#include "profile.pb-c.h"

#include <stddef.h>

typedef Perftools__Profiles__Profile pp_profile_t;

/*
 * Reads and validates path. On failure returns NULL and writes a one-line
 * reason (without the path) into err.
 */
pp_profile_t *pp_load(const char *path, char *err, size_t errlen);

/*
 * Reads a whole file (at most 1 GiB), NUL-terminated; NULL with a reason in
 * err if it cannot.
 */
unsigned char *pp_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* The same for bytes in memory (the fuzz target's entry). */
pp_profile_t *pp_parse(const unsigned char *data, size_t len, char *err, size_t errlen);
void pp_free(pp_profile_t *p);

/* string_table[i], or "" for an index out of range (validated profiles have none). */
const char *pp_str(const pp_profile_t *p, int64_t i);

/* Index of the sample type named name, or -1. */
int pp_sample_index(const pp_profile_t *p, const char *name);

/* The default sample type: default_sample_type, else the last one. */
int pp_default_index(const pp_profile_t *p);

#endif
