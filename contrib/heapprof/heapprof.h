/* SPDX-License-Identifier: MIT */
/*
 * heapprof.h: what the heapprof command's files share. main.c dispatches to
 * the subcommands, options.c parses their command lines, profiles.c loads
 * profiles and merges their samples by stack as pprof does, report.c prints
 * them (info, top, diff, folded), flame.c draws them, process.c runs and
 * snapshots profiled programs. Reading a file is lib/pprof's.
 */
#ifndef HEAPPROF_CMD_H
#define HEAPPROF_CMD_H

#include "pprof/pprof.h"
#include "pprof/strtab.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stdio.h>

/* Bad usage or bad input: one line on stderr and this exit status. */
#define EXIT_USAGE 2

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * One option of a subcommand, for parse_options. Without an argument, dst is
 * a bool * set to true. With one, dst is a const char ** that gets the
 * argument, or, when parse is set, what parse makes of it; parse returns false
 * for a bad value, and the error says "--name: expected <expected>, got 'arg'".
 */
typedef struct {
	const char *name; /* the long name, without "--"; or NULL */
	char letter;      /* the short name, or 0 */
	bool has_arg;
	void *dst;
	bool (*parse)(const char *arg, void *dst);
	const char *expected;
} opt_t;

/* A subcommand's command line: its options (ended by {0}), usage, operands. */
typedef struct {
	const opt_t *opts;
	void (*usage)(FILE *f);
	int min_operands, max_operands; /* max_operands -1: no limit */
	bool stop_at_operand;           /* run: what follows the command is its own */
} cmdline_t;

/*
 * Parses argv (argv[0] is the subcommand) as cmd says and returns the index of
 * the first operand. --help and -h print the usage on stdout and exit 0. An
 * unknown option or a missing argument prints getopt's message ("heapprof
 * top: ...") and the usage on stderr, the wrong number of operands the usage
 * alone, a bad value one line ("heapprof top: -n: expected ..., got '...'");
 * each exits EXIT_USAGE.
 */
int parse_options(int argc, char **argv, const cmdline_t *cmd);

/* Loads and validates a profile, or dies naming the file and the problem. */
pp_profile_t *load(const char *path);

/* A URL (http:// or https://): load() fetches it (fetch.c, libcurl). */
bool is_url(const char *s);
pp_profile_t *fetch_profile(const char *url, char *err, size_t errlen);

/* The sample type named name (NULL: the profile's default), or dies. */
int sample_index(const pp_profile_t *p, const char *name, const char *path);

/* Dies unless a and b have the same sample types, in the same order. */
void check_compatible(const pp_profile_t *a, const pp_profile_t *b, const char *base);

/* A value in the unit of a sample type, like pprof: 45.51MB, 1.2kB, 1234. */
void fmt_value(char *buf, size_t len, double v, const char *unit);

/*
 * Entries of size bytes by a string key, in the order they were added. An
 * entry's first field is its char * key: the table's own copy, kept by the
 * one interner (lib/pprof/strtab.h). Out of memory, the command dies.
 */
typedef struct {
	pp_strtab_t keys; /* entry i's key is keys.s[i] */
	void *items;
	size_t n, cap, size; /* entries, room for entries, bytes per entry */
} table_t;

void table_init(table_t *t, size_t size);
void *table_lookup(table_t *t, const char *key); /* finds or adds (zeroed) */
void table_free(table_t *t);

/* A stack of function names after drop_frames pruning, and its value. */
typedef struct {
	char *key; /* names joined by '\n', leaf first, each followed by '\n' */
	double value;
} merged_t;

/* Adds sign * value[vi] of every sample of p to stacks (a table of merged_t). */
void add_profile(table_t *stacks, const pp_profile_t *p, int vi, double sign);

/* Per function flat/cum from merged stacks (rows: table of row_t). Returns sum |v|. */
typedef struct {
	char *name;
	double flat, cum;
	unsigned seen; /* 1 + the last stack added to cum: once per stack */
} row_t;
double by_function(const table_t *stacks, table_t *rows);

/*
 * The common front end of top, diff, folded and flame: with sample_index,
 * base and path set from the command line, load_input loads the profile(s),
 * picks the sample type (vi) and fills stacks (a table of merged_t).
 */
typedef struct {
	const char *sample_index, *base, *path;
	pp_profile_t *profile;
	int vi;
	table_t stacks;
} input_t;
void load_input(input_t *in);
void free_input(input_t *in);

int cmd_info(int argc, char **argv);
int cmd_top(int argc, char **argv, bool diff);
int cmd_folded(int argc, char **argv);
int cmd_flame(int argc, char **argv);
int cmd_web(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_ps(int argc, char **argv);

/*
 * What a profiled process published about itself (records.c reads the file
 * lib/record.c writes), with what /proc says about the same process.
 */
typedef struct {
	pid_t pid, rec_pid;        /* the process; the pid the record names */
	uid_t euid;                /* the process's effective user, who owns the record */
	unsigned long long start;  /* start time in clock ticks, as in /proc/PID/stat */
	int signo;                 /* snapshot signal, 0 = none */
	bool handler_ours;         /* the signal's handler is still the profiler's */
	unsigned long long caught; /* SigCgt of /proc/PID/status */
	char output[PATH_MAX];     /* the output prefix, absolute */
} record_t;

/*
 * Reads pid's record and checks that it is that process's own (owner, pid,
 * start time, libheapprof.so mapped). False with the reason in why.
 */
bool record_read(pid_t pid, record_t *r, char *why, size_t len);

/* Is sig blocked in every thread of pid (a request would only wait)? */
bool record_signal_blocked(pid_t pid, int sig);

#endif
