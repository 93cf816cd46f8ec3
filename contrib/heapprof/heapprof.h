/* SPDX-License-Identifier: MIT */
/*
 * heapprof.h: what the heapprof command's files share. Reading a file is
 * lib/pprof's. The files, in the order data flows:
 *   main.c       the table of subcommands, read by dispatch and --help
 *   options.c    the one parser of the subcommands' command lines
 *   die.c        bad usage or bad input: one line and EXIT_USAGE
 *   tables.c     entries by string key; element positions by id
 *   units.c      values and percentages as pprof prints them, --unit
 *   load.c       a profile from a file (fetch.c: a URL), symbolized by
 *                debuginfo.c; its sample types, checked by name
 *   input.c      the reading commands' options and front end (load_input)
 *   profiles.c   samples merged by stack as pprof does; filter.c holds
 *                --focus/--ignore/--hide/--show
 *   stacks.c     stacks of names, merged or summed; by_function's rows
 *   header.c     pprof's lines above a report's rows
 *   source.c     source lines and their values (list, web)
 *   trie.c       samples as a trie of frames, trimmed (web, flame)
 *   records.c    the records profiled processes publish (snapshot, ps)
 *   write.c      a profile written gzipped (merge, symbolize)
 *   inject.c     a call of libheapprof.so made inside a running process
 *                by ptrace (attach and detach)
 * and one file per subcommand, named after it: info.c, top.c (top and
 * diff), flame.c, folded.c, web.c, peek.c, merge.c, list.c, symbolize.c,
 * run.c, snapshot.c, ps.c, attach.c (attach and detach), lifetimes.c;
 * lifetime_sites.c gathers a lifetimes profile by site (lifetimes, web).
 */
#ifndef HEAPPROF_CMD_H
#define HEAPPROF_CMD_H

#include "pprof/pprof.h"
#include "pprof/strtab.h"

#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>

/* Bad usage or bad input: one line on stderr and this exit status. */
#define EXIT_USAGE 2

/* "heapprof COMMAND: " and the message on stderr, then exit EXIT_USAGE. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
extern const char *die_command; /* COMMAND, set by main; NULL: "heapprof: " */

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
	const char *value; /* a flag with a value: dst is a const char ** set to it */
	bool required;     /* without it: the usage on stderr, exit EXIT_USAGE */
} opt_t;

/* -o/--output FILE, required: where a writing command writes (flame, web, ...). */
#define OPT_OUTPUT(dstp)                                                                 \
	{                                                                                \
		.name = "output", .letter = 'o', .has_arg = true, .dst = (dstp),         \
		.required = true                                                         \
	}

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

/*
 * The options every reading command (top, diff, folded, flame, peek) takes,
 * pointing into in, written to opts; returns how many (input.c). pprof's
 * spellings too: --sample_index, --inuse_space..., --diff_base, and one dash
 * (-base) since the reading commands parse like getopt_long_only. A sample
 * type is only a name here: load_input checks it against the profile's.
 */
#define MAX_READING_OPTS 13 /* how many reading_options writes */
struct input;
size_t reading_options(opt_t *opts, struct input *in);
void usage_reading(FILE *f); /* their lines of --help */

/* What --sample-index takes, in the usage texts: the profile has the list. */
#define USAGE_SAMPLE_TYPE "a sample type of the profile (heapprof info lists them)"

/* --unit's parse function for opt_t: a unit valid_unit accepts. */
bool parse_unit(const char *arg, void *dst);

/* Do a and b have the same sample types, in the same order? */
bool same_types(const pp_profile_t *a, const pp_profile_t *b);

/*
 * id -> position in a profile's array (of functions, locations, mappings).
 * Ids are usually 1..n and index a table directly; sparse ids (any uint64 is
 * valid) use a sorted copy.
 */
typedef struct {
	size_t *dense; /* position + 1 by id, when dense */
	uint64_t max;
	struct id_pos {
		uint64_t id;
		size_t pos;
	} * sorted;
	size_t n;
} id_index_t;

/* ids[i] is the id of element i; pos is that of id, or SIZE_MAX. */
void idx_build(id_index_t *x, const uint64_t *ids, size_t n);
size_t idx_pos(const id_index_t *x, uint64_t id);
void idx_free(id_index_t *x);

/* Loads and validates a profile, or dies naming the file and the problem. */
pp_profile_t *load(const char *path);

/*
 * The same, its samples kept packed in ss as it is read (pp_load_samples):
 * ss zeroed, or a previous result whose buffers it reuses.
 */
pp_profile_t *load_samples(const char *path, pp_samples_t *ss);

/* A URL (http:// or https://): load() fetches it (fetch.c, libcurl). */
bool is_url(const char *s);
pp_profile_t *fetch_profile(const char *url, char *err, size_t errlen);

/* The sample type named name (NULL: the profile's default), or dies. */
int sample_index(const pp_profile_t *p, const char *name, const char *path);

/* Dies unless a and b have the same sample types, in the same order. */
void check_compatible(const pp_profile_t *a, const pp_profile_t *b, const char *base);

/* A value in the unit of a sample type, like pprof: 45.51MB, 1.20kB, 1234. */
void fmt_value(char *buf, size_t len, double v, const char *unit);

/*
 * The same in unit to, as pprof's -unit: "auto" scales each value, a memory
 * unit (B, kB, MB, GB, TB, PB) fixes it; other sample units are not scaled.
 * min_unit is what pprof's default "minimum" resolves to for values from
 * least (the smallest nonzero) to most (the total). valid_unit checks to.
 */
void fmt_unit(char *buf, size_t len, double v, const char *unit, const char *to);
const char *min_unit(double least, double most, const char *unit);

/* |v| as a percentage of total, as pprof prints it: "  100%", "45.51%", "0.012%". */
void fmt_pct(char *buf, size_t len, double v, double total);
bool valid_unit(const char *to);

/*
 * pprof's -focus, -ignore, -hide, -show (filter.c). arg[] comes from the
 * command line; filter_compile compiles what is set or dies with a usage
 * error naming cmd. A name matches when the regex matches anywhere in it.
 */
enum { F_FOCUS, F_IGNORE, F_HIDE, F_SHOW, F_N };
typedef struct {
	const char *arg[F_N];
	regex_t re[F_N];
	bool on[F_N];
} filter_t;
void filter_compile(filter_t *f, const char *cmd);
bool filter_active(const filter_t *f);
bool filter_matches(const filter_t *f, int which, const char *s);
void filter_print(const filter_t *f); /* pprof's "Active filters:" lines */
void filter_free(filter_t *f);

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
/* table_lookup of the key "a\nb" (neither holding a '\n'). */
void *table_lookup2(table_t *t, const char *a, const char *b);
void table_free(table_t *t);

/* A stack of function names and its value, keyed by string (web's stacks). */
typedef struct {
	char *key; /* names joined by '\n', leaf first, each followed by '\n' */
	double value;
} merged_t;

/*
 * Dense indexes of uint64 keys (tables.c): open addressing over an array the
 * caller keeps, slots holding index + 1. ix64_intern returns the index of key
 * in keys[0..*n), appending it (keys must have room for one more) if new; -1
 * past 2^32 keys. Out of memory, the command dies.
 */
typedef struct {
	uint32_t *slots;
	size_t nslots; /* a power of two, at least twice the keys */
} ix64_t;
int64_t ix64_intern(ix64_t *m, uint64_t *keys, size_t *n, uint64_t key);
void ix64_free(ix64_t *m);

/*
 * Twice the slots (1024 at first), filled again from keys[0..n): hashed
 * says the keys are hashes already (a caller that probes and compares on its
 * own, as stacks.c does), else they are mixed as ix64_intern mixes them.
 */
void ix64_rebuild(ix64_t *m, const uint64_t *keys, size_t n, bool hashed);

/* Per function (by name index) and per call, the sums of stacks (stacks.c). */
#define PAIR_CACHE 4096
typedef struct {
	double *flat, *cum; /* by name */
	bool *live;         /* by name: on a stack with a nonzero value */
	size_t *stamp;      /* by name: the last stack added to cum */
	size_t cap;         /* room by name */
	double total;       /* sum |v|: pprof's total */
	size_t nstacks;     /* stacks added */
	bool edges;         /* sum the calls too (peek) */
	ix64_t pix;         /* over pairs: caller << 32 | callee, by name */
	uint64_t *pairs;
	double *weight; /* by pair, once per stack */
	size_t *pstamp; /* by pair: the last stack added */
	size_t npairs, cappairs;
	uint32_t pcache[PAIR_CACHE]; /* pair + 1 by (caller * 31 + callee) % PAIR_CACHE */
} sums_t;

/*
 * Stacks of frame names after drop_frames pruning, as pprof merges samples
 * (stacks.c). Kept (keep) they are merged by names and can be printed; else
 * each stack only adds to sums as it comes, which is the same as merging
 * first when all values have one sign (stacks_keep switches an empty t).
 */
typedef struct {
	pp_strtab_t names; /* frame names, by name index */
	bool keep;
	uint32_t *frames; /* kept: every stack's names, root first */
	size_t *off;      /* by stack (and one more): frames[off[i] .. off[i + 1]) */
	double *value;    /* by stack */
	uint64_t *hash;   /* by stack: of its names */
	size_t n, cap, capoff, capframes; /* stacks; room */
	ix64_t index;  /* over hash; stacks.c probes and compares itself */
	bool unmerged; /* kept, but never merged (no hash): values of one sign */
	/* not kept, but merged for the total (stacks_merge_totals): by hashes */
	bool merge_totals;
	struct total_bucket { /* the stacks added whose a's top bits are its index */
		struct merged_hash {
			uint64_t a, b; /* two hashes of its names */
			double v;
		} * h; /* by stack added, not yet merged */
		size_t n, cap;
	} * tb; /* TOTAL_BUCKETS of them */
	sums_t sums;
	bool summed; /* kept: sums are up to date */
	/* With inline_calls, every call (caller << 32 | callee, by name) met
	 * in a sample, its weight and whether it was met inlined (ways 1), as
	 * a call (2) or both: top's "(inline)" labels (stacks_note_calls).
	 * 1: in profiles with inlined frames only (one profile); 2: in every
	 * profile (several merged: one without inlined frames still has calls
	 * that make another's partly inlined). */
	uint8_t inline_calls;
	struct inline_calls {
		ix64_t ix;
		uint64_t *pairs;
		double *weight;
		uint8_t *ways;
		size_t *stamp; /* by call: the last sample that met it */
		size_t n, cap, samples;
		uint32_t cache[PAIR_CACHE]; /* call + 1, as sums_t's pcache */
	} ic;
} stacks_t;

void stacks_init(stacks_t *t, bool keep);
void stacks_keep(stacks_t *t);
/*
 * Stacks of both signs may meet, but the report only sums them per function
 * and call (linear: merging first changes nothing) and needs the total of
 * |value| over merged stacks: merge them for that alone, by hashes of their
 * names (an empty t only; stacks.c says how unlikely a false merge is).
 */
void stacks_merge_totals(stacks_t *t);
void stacks_free(stacks_t *t);
uint32_t stacks_name(stacks_t *t, const char *name); /* its index, added if new */
void stacks_add(stacks_t *t, const uint32_t *names, size_t n, double v); /* root first */
/*
 * With t->inline_calls, the calls of a sample of value v (names root
 * first; inl[i]: names[i] is inlined into names[i - 1], the same location's
 * next line), each once a sample, as pprof's graph counts its edges; with
 * want (by name index), only the calls into the names it marks.
 */
void stacks_note_calls(stacks_t *t, const uint32_t *names, const uint8_t *inl, size_t n,
                       double v, const uint8_t *want);
/*
 * By name index (t->names.n of them, malloc'd), how pprof -top labels a
 * function from the calls into it of weight cutoff or more (smaller ones it
 * trims): 1 all inlined, "(inline)"; 3 both, "(partial-inline)"; else none.
 */
uint8_t *stacks_inline_labels(const stacks_t *t, double cutoff);
/* Room for stacks more kept stacks of frames more names in all (a hint). */
void stacks_reserve(stacks_t *t, size_t stacks, size_t frames);
double stacks_total(const stacks_t *t); /* sum |value|: pprof's total */
const sums_t *stacks_sums(stacks_t *t); /* per function and call (kept: computed once) */

/* Kept stack i as the old string key (merged_t's), in *buf (malloc'd, room *cap). */
const char *stacks_key(const stacks_t *t, size_t i, char **buf, size_t *cap);

/* The kept stacks of t as merged_t entries of merged, in the order first added. */
void stacks_to_table(const stacks_t *t, table_t *merged);

/*
 * Adds sign * value[vi] of every sample of p to stacks, keeping and cutting
 * samples as f says (NULL: all of them). ss: p's samples as they were read
 * (pp_load_samples); NULL: p's own.
 */
void add_stacks(stacks_t *stacks, const pp_profile_t *p, const pp_samples_t *ss, int vi,
                double sign, const filter_t *f);

/*
 * The same walk for a report that wants every sample type at once: calls fn
 * with each sample's names (root first) and its values (one per sample type),
 * for every sample with a nonzero value that f keeps. Names go into out's table.
 */
typedef void stack_fn(void *arg, const uint32_t *names, size_t n, const double *values);
void each_stack(stacks_t *out, const pp_profile_t *p, const pp_samples_t *ss,
                const filter_t *f, stack_fn *fn, void *arg);

/*
 * Samples as trie.c reads them: sample i has the names frames[off[i] ..
 * off[i + 1]) (root first), belongs to profile prof[i] (NULL: all to 0) and
 * has nt values val[i * nt ...]. A column is a profile and a type, prof * nt
 * + t; total[column] is its sum |v|.
 */
typedef struct {
	uint32_t *frames;
	size_t *off;
	uint32_t *prof;
	double *val, *total;
	size_t n, nt, ncols;
} trie_src_t;

/*
 * The samples as a trie of frames, root first, trimmed as pprof trims its
 * graph: a node whose width (sum |v|) is under cut of the total in every
 * column is dropped, and what it and its siblings so dropped held goes to
 * one child of their parent named trimmed (a name index). A stack is where
 * samples end: at a node, or at a trimmed node; its values are by column.
 * Functions are the names the nodes use, numbered as they first come.
 */
typedef struct {
	const trie_src_t *s;
	double cut;
	uint32_t *up, *func;  /* by node: parent + 1 (0: a root), function */
	uint32_t *stack_node; /* by stack: its node, UINT32_MAX for an empty stack */
	double *sval, *sabs;  /* by stack: ncols values; and the sums of their |v| */
	uint32_t *fmap;       /* by name: function + 1 */
	uint32_t *fname;      /* by function: its name */
	uint32_t trimmed;     /* the name of the trimmed nodes */
	size_t nnodes, nstacks, nfuncs, dropped; /* dropped: nodes merged */
	size_t capn, caps, capsv, capfn;
	/* trie.c's: a hash by name (nslots, current where hgen is gen), room */
	uint32_t *hname, *hgroup, *hgen, gen, *slot, *tmp;
	uint32_t *key; /* by position in the samples' order: the name grouped by */
	size_t nslots, capslot, captmp, capcount;
	size_t *count;
} trie_t;
void trie_build(trie_t *w, const trie_src_t *s, size_t nnames, uint32_t trimmed,
                double cut);
void trie_free(trie_t *w);

/* Per function flat/cum from merged stacks (rows: table of row_t). Returns sum |v|. */
typedef struct {
	char *name;
	double flat, cum;
	unsigned seen;        /* 1 + the last stack added to cum: once per stack */
	uint8_t inline_label; /* top: stacks_inline_labels' */
} row_t;
double by_function(stacks_t *stacks, table_t *rows);

/*
 * The common front end of top, diff, folded, flame and peek: with
 * sample_index, base, path (and paths) and filter set from the command line,
 * load_input loads the profiles, merging them as pprof merges several
 * sources, picks the sample type (vi), and fills stacks (a table of
 * merged_t) with their samples minus the base's, filtered. total is pprof's
 * total for percentages: of the samples before filtering, or with diff_base
 * of the base's samples alone.
 */
typedef struct input {
	const char *sample_index, *base, *diff_base, *path;
	char **paths; /* with npaths > 0: the profiles merged, path is paths[0] */
	int npaths;
	const char *cmd;    /* the command, for messages */
	bool keep;          /* the report prints stacks: keep them (stacks_t) */
	bool edges;         /* the report sums calls (peek) */
	bool inline_labels; /* the report labels inlined functions (top) */
	bool unmerged;      /* keep, but merging is not needed where values have one sign
	                       (flame) */
	filter_t filter;
	pp_profile_t *profile; /* the first one: sample types, units */
	int vi;
	stacks_t stacks;
	double total;
} input_t;
void load_input(input_t *in);
void free_input(input_t *in);

/*
 * pprof's report labels: "Type:", the active filters, and "Showing nodes
 * accounting for shown_flat, P% of in->total total", values in unit to.
 */
void report_labels(const input_t *in, double shown_flat, const char *to);

/*
 * pprof's minValue for the unit "minimum" picks: the smallest nonzero |flat|
 * (else |cum|) among the first shown rows (a table of row_t) whose |cum|
 * exceeds fraction * total (pprof -top drops nodes under 0.005; peek none).
 */
double least_value(const table_t *rows, size_t shown, double total, double fraction);

/*
 * The subcommands: each parses its own command line (argv[0] is its name)
 * and returns the exit status. main.c's table names them for dispatch and
 * --help.
 */
/*
 * A lifetimes profile by allocation site (lifetime_sites.c): lt_sites fills
 * sites (a table of lt_site_t, in the order first met; each site's freers
 * most objects first) or dies naming path when p is no lifetimes profile.
 */
#define LT_NBINS 24 /* lib/lifetimes.c's bins: [4^k, 4^(k+1)) ns, bin 0 from 0 */
typedef struct {
	char *key; /* the allocation site: the leaf function */
	double objects, bytes, censored, freed;
	double bins[LT_NBINS]; /* freed objects by lifetime */
	table_t freers;        /* of lt_freer_t: who freed them */
} lt_site_t;
typedef struct {
	char *key;
	double objects;
} lt_freer_t;
void lt_sites(const pp_profile_t *p, const char *path, table_t *sites);
void lt_sites_free(table_t *sites);
/* The q-quantile of a site's freed lifetimes in ns (-1: none freed), and the
 * share of its objects freed within ns, both interpolated inside a bin. */
double lt_quantile(const lt_site_t *s, double q);
double lt_freed_within(const lt_site_t *s, double ns);

typedef int cmd_fn(int argc, char **argv);
cmd_fn cmd_info, cmd_top, cmd_diff, cmd_flame, cmd_folded, cmd_web, cmd_peek, cmd_merge,
    cmd_list, cmd_symbolize, cmd_run, cmd_snapshot, cmd_ps, cmd_attach, cmd_detach;
cmd_fn cmd_lifetimes;

/*
 * Fills in, in place, function names, source files, lines and inlined frames
 * of the locations that have no lines, from their binaries' debug info
 * (debuginfo.c); load does it for every reading command. Returns whether it
 * added anything.
 */
bool symbolize(pp_profile_t *p);
/* Closes the binaries symbolize opened (each once a run): every profile is read. */
void symbolize_done(void);

/* Packs p and writes it gzipped (pprof's framing) to path, or dies (write.c). */
void write_profile(const pp_profile_t *p, const char *path);

/* Frames are "function file:line" (top --lines, list), not functions. */
extern bool by_lines;

/*
 * Source lines (source.c, for list and web). A routine is a function and one
 * of its source files, with its lines that have values, one entry a line.
 */
typedef struct {
	char *key;               /* name '\n' file */
	const char *name, *file; /* the profile's strings */
	int64_t start_line;      /* the smallest the profile gives, 0 when unknown */
	struct src_line {
		int64_t line;
		double flat, cum;
	} * lines; /* malloc'd, sorted by line; the caller frees them */
	size_t n;
} routine_t;

/* Adds to routines (a table of routine_t) p's functions that have a file and match(name,
 * arg). */
void find_routines(const pp_profile_t *p,
                   bool (*match)(const char *name, const void *arg), const void *arg,
                   table_t *routines);

/*
 * Gives each routine its lines' flat and cum: the rows (row_t, by_function)
 * of stacks merged by_lines named "name file:line" for its name and file.
 */
void routine_lines(table_t *routines, const table_t *rows);

/* The file at path, or under a directory of dirs (':'-separated) by a suffix of path;
 * malloc'd. */
char *read_source(const char *path, const char *dirs, size_t *len);

/* The text of line n (from 1) of text, its length in *len; NULL past the end. */
const char *nth_line(const char *text, size_t tlen, int64_t n, int *len);

/*
 * The lines pprof's getSourceFromFile shows of r (n > 0): from the function's
 * start (or 5 lines before its first line with a value) to 5 lines after its last.
 */
void line_range(const routine_t *r, int64_t *start, int64_t *end);

/*
 * What a profiled process published about itself (records.c reads the file
 * lib/proc_record.c writes), with what /proc says about the same process.
 */
typedef struct {
	pid_t pid, rec_pid;        /* the process; the pid the record names */
	uid_t euid;                /* the process's effective user, who owns the record */
	unsigned long long start;  /* start time in clock ticks, as in /proc/PID/stat */
	unsigned long long alive;  /* a moment after the start, ns since boot */
	int signo;                 /* snapshot signal, 0 = none */
	bool handler_ours;         /* the signal's handler is still the profiler's */
	unsigned long long caught; /* SigCgt of /proc/PID/status */
	char output[PATH_MAX];     /* the output prefix, absolute */
	char endpoint[160];        /* HEAPPROF_HTTP as served, or "" */
} record_t;

/*
 * Reads pid's record and checks that it is that process's own (owner, pid,
 * start time, libheapprof.so mapped). False with the reason in why.
 */
bool record_read(pid_t pid, record_t *r, char *why, size_t len);

/* Is sig blocked in every thread of pid (a request would only wait)? */
bool record_signal_blocked(pid_t pid, int sig);

/* The command line of pid, arguments joined by spaces ("?" if unknown), into buf. */
void record_command(pid_t pid, char *buf, size_t cap);

/* ---- attach and detach (attach.c, inject.c) ---- */

/* A call of fn(options) in libheapprof.so, lib, loaded by dlopen(lib, dlflags). */
typedef struct {
	const char *lib;
	int dlflags;
	const char *fn;
	const char *options;
} inject_req_t;

typedef struct {
	bool loaded, found;  /* dlopen returned a handle; dlsym found fn */
	int ret;             /* what fn returned */
	char dlerror[512];   /* dlerror() when dlopen failed */
	uint64_t stopped_ns; /* how long the threads were stopped */
	int attempts;        /* stops until no thread was busy */
} inject_res_t;

/*
 * Makes the call in process pid (x86_64) by ptrace; 0 once it ran (res says
 * how it went), else -errno with the reason in why. Either way the process is
 * left running as it was, but for what the call did.
 */
int inject_call(pid_t pid, const inject_req_t *req, inject_res_t *res, char *why,
                size_t len);
bool inject_is_loader(const char *path);
bool inject_is_libc(const char *path);
bool inject_is_profiler(const char *path);

/* run.c: libheapprof.so beside this program or where it was installed. */
const char *find_library(void);

/* snapshot.c: the process named by arg, which exists and is ours, or dies. */
pid_t target_process(const char *arg);

#endif
