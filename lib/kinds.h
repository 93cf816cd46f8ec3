/* SPDX-License-Identifier: MIT */
/*
 * kinds: the one table of the profile kinds the library writes (heap today):
 * each kind's period type, its sample types (name, unit, how the value is
 * read from a bucket's tallies), its default sample type and the endpoint
 * paths that serve it. The writer (profile.c), the endpoint (http_routes.c)
 * and the exit summary read it; nothing else names a sample type. It does
 * not keep the tallies (stack_table.c) nor encode anything (profile.c).
 */
#ifndef HP_KINDS_H
#define HP_KINDS_H

#include "sampler.h"
#include "stack_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most sample types a kind has: a Sample's values are built on the stack. */
#define HP_KIND_TYPES_MAX 8

/* A tally of hp_counts_t, by offset, for hp_sample_type_t; NONE: no tally. */
#define HP_TALLY(field) offsetof(hp_counts_t, field)
#define HP_TALLY_NONE   SIZE_MAX

typedef struct {
	const char *name, *unit; /* pprof's ValueType */
	/* The value: the tally at plus, less the one at minus (HP_TALLY_NONE:
	 * nothing less), both offsets into hp_counts_t. */
	size_t plus, minus;
	bool objects; /* a count weight (HP_W_ONE units), shown as objects */
	/* /metrics: the metric, its Prometheus type and help; NULL: none. */
	const char *metric, *metric_type, *help;
} hp_sample_type_t;

/* A path of the endpoint that serves the kind, and the type it shows first. */
typedef struct {
	const char *path;      /* under /debug/pprof/ */
	const char *what;      /* its line on the index page */
	unsigned default_type; /* an index into the kind's types */
} hp_kind_path_t;

struct hp_profile_writer;
struct hp_profile_opts;

typedef struct {
	const char *period_type, *period_unit; /* what the period counts */
	const hp_sample_type_t *types;         /* in the order pprof gets them */
	size_t ntypes;                         /* at most HP_KIND_TYPES_MAX */
	unsigned default_type;                 /* an index into types */
	const hp_kind_path_t *paths;
	size_t npaths;
	/* Its buckets and their tallies: the stack table's, or another's. */
	void (*foreach)(void (*fn)(const hp_bucket_t *b, void *arg), void *arg);
	void (*read)(const hp_bucket_t *b, hp_counts_t *out);
	/* The profile's period: this, or 0 for the heap's sampling rate. */
	uint64_t period;
	/* Written beside each heap profile, as "<name>.<suffix>.pb.gz", when
	 * enabled() (NULL suffix: never; the heap profile is the name). */
	const char *suffix;
	bool (*enabled)(void);
	/* Its sampling comment into buf; NULL: the heap's sampling rate. */
	void (*sampling)(char *buf, size_t len);
	/* Writes the kind's samples (hp_profile_sample); NULL: a sample per
	 * bucket, its values read from its tallies (types' plus and minus). */
	void (*samples)(struct hp_profile_writer *W, const struct hp_profile_opts *o);
	/* ?seconds=N: open (true) at the request, closed after the profile;
	 * NULL: the tallies at the request are subtracted (a delta profile). */
	void (*window)(bool open);
} hp_kind_t;

enum { HP_KIND_HEAP, HP_KIND_LIFETIMES, HP_KIND_BLOCK, HP_KIND_MUTEX, HP_NKINDS };
extern const hp_kind_t hp_kinds[HP_NKINDS];

/* The heap's sample types that code refers to (the exit summary's), by index. */
enum {
	HP_HEAP_ALLOC_OBJECTS,
	HP_HEAP_ALLOC_SPACE,
	HP_HEAP_INUSE_OBJECTS,
	HP_HEAP_INUSE_SPACE,
};

/* The lifetimes kind's sample types (tcmalloc's, in its order), by index. */
enum {
	HP_LT_ALLOC_OBJECTS,
	HP_LT_ALLOC_SPACE,
	HP_LT_FREE_OBJECTS,
	HP_LT_FREE_SPACE,
	HP_LT_CENSORED_OBJECTS,
	HP_LT_CENSORED_SPACE,
	HP_LT_NTYPES
};

/* Sample type t of a bucket whose tallies are c, before rounding: a count
 * weight for an objects type. May be negative (in use, in a delta profile). */
static inline int64_t hp_kind_raw(const hp_sample_type_t *t, const hp_counts_t *c)
{
	const char *p = (const char *)c;
	if (t->plus == HP_TALLY_NONE)
		return 0; /* a kind with samples of its own (hp_kind_t.samples) */
	uint64_t v = *(const uint64_t *)(p + t->plus);
	if (t->minus != HP_TALLY_NONE)
		v -= *(const uint64_t *)(p + t->minus);
	return (int64_t)v;
}

/* The value of sample type t as a profile shows it: objects rounded. */
static inline int64_t hp_kind_value(const hp_sample_type_t *t, const hp_counts_t *c)
{
	int64_t v = hp_kind_raw(t, c);
	return t->objects ? hp_weight_to_objects((uint64_t)v) : v;
}

#endif
