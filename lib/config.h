/* SPDX-License-Identifier: MIT */
/*
 * config: the option table, read once from HEAPPROF_* at load and immutable
 * afterwards. It validates values and warns once per bad value; it does not
 * act on them (init.c, interpose.c and dump.c do).
 */
#ifndef HP_CONFIG_H
#define HP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_DEFAULT_RATE       524288
#define HP_DEFAULT_MAX_FRAMES 128
#define HP_MAX_FRAMES_LIMIT   512
#define HP_OUTPUT_MAX         1024
#define HP_HTTP_MAX           256
#define HP_KEEP_MAX           4096

typedef struct {
	uint64_t rate;              /* bytes between samples; 0 off, 1 every allocation */
	char output[HP_OUTPUT_MAX]; /* path prefix of profile files, absolute */
	int signal;                 /* snapshot signal number, 0 = none */
	bool at_exit;               /* final profile at normal exit */
	unsigned max_frames;        /* stack depth cap, 1..HP_MAX_FRAMES_LIMIT */
	bool verbose;               /* print configuration and files written */
	uint64_t seed;         /* 0 = random; otherwise per-thread seeds derive from it */
	bool follow_exec;      /* programs this one executes are profiled too */
	uint64_t metadata_max; /* bytes of profiler metadata at most, 0 = no limit */
	char http[HP_HTTP_MAX];       /* HEAPPROF_HTTP, validated; "" = no endpoint */
	char http_token[HP_HTTP_MAX]; /* HEAPPROF_HTTP_TOKEN; "" = none */
	uint64_t dump_bytes;     /* a profile per this many bytes allocated, 0 = off */
	unsigned dump_seconds;   /* a profile every N seconds, 0 = off */
	unsigned keep;           /* newest bytes/time profiles kept, 0 = all */
	bool dump_peak;          /* keep one profile of the in-use high-water mark */
	unsigned peak_step;      /* percent over the last peak before a new one */
	bool summary;            /* in-use summary on stderr at exit */
	bool unwind_fast;        /* stacks by unwind_fast's rules, else libunwind alone */
	unsigned block_rate;     /* block profile: ns a wait is always kept, 0 = off */
	unsigned mutex_fraction; /* mutex profile: one event in N, 0 = off */
	bool lifetimes;          /* HEAPPROF_LIFETIMES: a lifetimes profile beside each */
	unsigned dump_limit;     /* limit profile at this percent of the limit, 0 = off */
} hp_config_t;

extern hp_config_t hp_config;

/* Fills hp_config from the environment (none in a setuid program, as
 * secure_getenv); warns on bad values. */
void hp_config_init(void);

/*
 * Sets the option named by name[0..len) (HEAPPROF_RATE, ...) from value, as
 * hp_config_init would from the environment (attach.c). -ENOENT: no such option.
 */
int hp_config_set(const char *name, size_t len, const char *value);

/* Parsers, exposed for the unit tests. Return 0, or -EINVAL on a bad value. */
int hp_config_parse_size(const char *s, uint64_t *out);
int hp_config_parse_bool(const char *s, bool *out);
int hp_config_parse_signal(const char *s, int *out);
/* sig as kill -l names it (USR2, RTMIN+3, RTMAX-2), without SIG; buf holds
 * names that are built, such as those of real-time signals. */
const char *hp_config_signal_name(int sig, char *buf, size_t len);

/* Prints the effective configuration (HEAPPROF_VERBOSE). */
void hp_config_print(void);

#endif
