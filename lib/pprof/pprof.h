/* SPDX-License-Identifier: MIT */
/*
 * pprof: the profile reader (read.c, and stream.c for samples merged as the
 * file inflates). It loads a pprof profile (gzipped or plain profile.proto)
 * and checks it the way pprof's CheckValid does, so every later step can
 * trust indexes. It does not aggregate by name or print (contrib/heapprof/
 * does) nor write profiles (pbenc.c and gzstream.c beside it, for
 * lib/profile.c).
 */
#ifndef HP_PPROF_H
#define HP_PPROF_H

#include "profile.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* NULL, or the first reason p is invalid (what pp_parse checks). */
const char *pp_validate(const pp_profile_t *p);

/*
 * A profile's samples as they were read, packed (stream.c): per sample its
 * location ids, leaf first, as varints, and its values. Labels are checked,
 * then forgotten. A few bytes a frame instead of protobuf-c's allocations.
 */
typedef struct {
	uint8_t *ids; /* every sample's location ids, varints */
	size_t *off; /* by sample (and one more): its ids are ids[off[i] .. off[i + 1]) */
	double *values; /* by sample: nvalues, in the order of the sample types */
	size_t n, nvalues, nbytes, capids, capoff, capvalues;
	bool negative; /* a value is below zero: else no need to look */
} pp_samples_t;

/* The next id of a sample's packed ids at q (well formed: pp_samples_t's own). */
static inline const uint8_t *pp_next_id(const uint8_t *q, uint64_t *id)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		v |= (uint64_t)(*q & 0x7f) << shift;
		if (!(*q++ & 0x80))
			break;
	}
	*id = v;
	return q;
}

/*
 * pp_load and pp_parse that leave the profile's sample list empty and keep
 * the samples in ss instead, packed as the bytes inflate. The same checks
 * and reasons; ss is freed on failure.
 */
pp_profile_t *pp_load_samples(const char *path, pp_samples_t *ss, char *err,
                              size_t errlen);
pp_profile_t *pp_parse_samples(const unsigned char *data, size_t len, pp_samples_t *ss,
                               char *err, size_t errlen);

/*
 * pp_load_samples into ss's buffers: ss zeroed, or a previous result (its
 * samples are replaced). Reading profiles one after the other into one ss
 * touches no new pages for the second.
 */
pp_profile_t *pp_load_samples_into(const char *path, pp_samples_t *ss, char *err,
                                   size_t errlen);

/* ss from the samples of a loaded profile; false out of memory (ss freed). */
bool pp_samples_from_profile(const pp_profile_t *p, pp_samples_t *ss);
void pp_samples_free(pp_samples_t *ss);

/* string_table[i], or "" for an index out of range (validated profiles have none). */
const char *pp_str(const pp_profile_t *p, int64_t i);

/* Index of the sample type named name, or -1. */
int pp_sample_index(const pp_profile_t *p, const char *name);

/* The default sample type: default_sample_type, else the last one. */
int pp_default_index(const pp_profile_t *p);

#endif
