/* SPDX-License-Identifier: MIT */
/*
 * heapprof: reads pprof heap profiles without Go. Subcommands: info, top,
 * diff. Aggregation follows pprof: drop_frames pruning, flat = leaf function,
 * cum = every function on the stack once, totals as sums of |value|.
 */
#include "pprof_read.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USAGE 2

static const char *prog = "heapprof";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(EXIT_USAGE);
}

static pp_profile_t *load(const char *path)
{
	char err[256];
	pp_profile_t *p = pp_load(path, err, sizeof(err));
	if (!p)
		die("%s: %s", path, err);
	return p;
}

/* ---- units ------------------------------------------------------------ */

static void fmt_value(char *buf, size_t len, double v, const char *unit)
{
	if (strcmp(unit, "bytes")) {
		snprintf(buf, len, "%.0f", v);
		return;
	}
	static const char *names[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double a = v < 0 ? -v : v;
	int i = 0;
	while (a >= 1024 && i < 5) {
		a /= 1024;
		v /= 1024;
		i++;
	}
	char num[64];
	snprintf(num, sizeof(num), "%.2f", v);
	char *dot = strchr(num, '.');
	if (dot) {
		char *e = num + strlen(num) - 1;
		while (e > dot && *e == '0')
			*e-- = '\0';
		if (e == dot)
			*e = '\0';
	}
	snprintf(buf, len, "%s%s", num, names[i]);
}

/* ---- function names per location ------------------------------------- */

typedef struct {
	const pp_profile_t *p;
	const Perftools__Profiles__Function **func_by_id; /* indexed by id when dense */
	uint64_t max_func_id;
	const Perftools__Profiles__Location **loc_by_id;
	uint64_t max_loc_id;
	const Perftools__Profiles__Mapping **map_by_id;
	uint64_t max_map_id;
	bool *pruned_loc;    /* drop this location (and everything leafward) */
	bool *prune_beneath; /* drop everything leafward of it */
} index_t;

/* Ids are usually 1..n; sparse ids fall back to a scan. */
#define BUILD_INDEX(arr, n, by, max)                                                     \
	do {                                                                             \
		max = 0;                                                                 \
		for (size_t i_ = 0; i_ < (n); i_++)                                      \
			if ((arr)[i_]->id > max)                                         \
				max = (arr)[i_]->id;                                     \
		by = calloc(max + 1, sizeof(*(by)));                                     \
		if (!by)                                                                 \
			die("out of memory");                                            \
		for (size_t i_ = 0; i_ < (n); i_++)                                      \
			(by)[(arr)[i_]->id] = (arr)[i_];                                 \
	} while (0)

static const char *func_name(const index_t *x, uint64_t fid)
{
	if (!fid || fid > x->max_func_id || !x->func_by_id[fid])
		return NULL;
	const char *n = pp_str(x->p, x->func_by_id[fid]->name);
	return *n ? n : NULL;
}

/* pprof's name for a location with no function: [mapping basename] or the address. */
static const char *loc_fallback(const index_t *x, const Perftools__Profiles__Location *l,
                                char *buf, size_t len)
{
	if (l->mapping_id && l->mapping_id <= x->max_map_id &&
	    x->map_by_id[l->mapping_id]) {
		const char *f = pp_str(x->p, x->map_by_id[l->mapping_id]->filename);
		const char *b = strrchr(f, '/');
		if (*f) {
			snprintf(buf, len, "[%s]", b ? b + 1 : f);
			return buf;
		}
	}
	snprintf(buf, len, "%#" PRIx64, l->address);
	return buf;
}

/* Strips a C++ parameter list as pprof's simplifyFunc does before matching. */
static void simplify(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name);
	char *paren = strchr(buf, '(');
	if (paren && paren != buf && strncmp(buf, "operator()", 10))
		*paren = '\0';
}

static void build_index(index_t *x, const pp_profile_t *p)
{
	memset(x, 0, sizeof(*x));
	x->p = p;
	BUILD_INDEX(p->function, p->n_function, x->func_by_id, x->max_func_id);
	BUILD_INDEX(p->location, p->n_location, x->loc_by_id, x->max_loc_id);
	BUILD_INDEX(p->mapping, p->n_mapping, x->map_by_id, x->max_map_id);
	x->pruned_loc = calloc(x->max_loc_id + 1, 1);
	x->prune_beneath = calloc(x->max_loc_id + 1, 1);
	if (!x->pruned_loc || !x->prune_beneath)
		die("out of memory");
	const char *drop = pp_str(p, p->drop_frames);
	if (!*drop)
		return;
	char *rx = malloc(strlen(drop) + 8);
	if (!rx)
		die("out of memory");
	sprintf(rx, "^(%s)$", drop);
	regex_t re;
	if (regcomp(&re, rx, REG_EXTENDED | REG_NOSUB)) {
		free(rx);
		return; /* pprof ignores a bad drop_frames too */
	}
	free(rx);
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];
		for (size_t k = l->n_line; k-- > 0;) {
			const char *n = func_name(x, l->line[k]->function_id);
			char s[1024];
			if (!n)
				continue;
			simplify(n, s, sizeof(s));
			if (!regexec(&re, s, 0, NULL, 0)) {
				x->prune_beneath[l->id] = true;
				if (k == l->n_line - 1)
					x->pruned_loc[l->id] = true;
				break;
			}
		}
	}
	regfree(&re);
}

/* The index of the first kept location of a sample (pprof's Prune). */
static size_t first_kept(const index_t *x, const Perftools__Profiles__Sample *s)
{
	bool found_user = false;
	for (size_t i = s->n_location_id; i-- > 0;) {
		uint64_t id = s->location_id[i];
		if (!x->pruned_loc[id] && !x->prune_beneath[id]) {
			found_user = true;
			continue;
		}
		if (!found_user)
			continue;
		return x->pruned_loc[id] ? i + 1 : i;
	}
	return 0;
}

/* ---- aggregation ------------------------------------------------------ */

/*
 * Samples are first merged by their stack of names (after pruning), as pprof
 * merges a profile with its negated -base before computing anything, so
 * totals are sums of |value| over merged stacks. Then each stack's value goes
 * to its leaf function (flat) and once to every function on it (cum).
 */

typedef struct {
	char *name;
	double flat, cum;
	unsigned seen; /* last stack that counted it in cum */
} row_t;

typedef struct {
	char *key; /* names joined by '\n', leaf first */
	double value;
} merged_t;

typedef struct {
	void *items; /* row_t or merged_t */
	size_t n, cap, size;
	size_t *slots; /* hash: index + 1 */
	size_t nslots;
} table_t;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* Finds or adds the entry whose first field (a char *) equals key. */
static void *lookup(table_t *t, const char *key)
{
#define KEY(i) (*(char **)((char *)t->items + (i)*t->size))
	if ((t->n + 1) * 2 > t->nslots) {
		size_t ns = t->nslots ? t->nslots * 2 : 1024;
		size_t *sl = calloc(ns, sizeof(*sl));
		if (!sl)
			die("out of memory");
		for (size_t i = 0; i < t->n; i++) {
			size_t j = hash_str(KEY(i)) & (ns - 1);
			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = i + 1;
		}
		free(t->slots);
		t->slots = sl;
		t->nslots = ns;
	}
	size_t j = hash_str(key) & (t->nslots - 1);
	for (; t->slots[j]; j = (j + 1) & (t->nslots - 1))
		if (!strcmp(KEY(t->slots[j] - 1), key))
			return (char *)t->items + (t->slots[j] - 1) * t->size;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->items = realloc(t->items, t->cap * t->size);
		if (!t->items)
			die("out of memory");
	}
	void *e = (char *)t->items + t->n * t->size;
	memset(e, 0, t->size);
	*(char **)e = strdup(key);
	if (!*(char **)e)
		die("out of memory");
	t->slots[j] = ++t->n;
	return e;
#undef KEY
}

static void table_free(table_t *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(*(char **)((char *)t->items + i * t->size));
	free(t->items);
	free(t->slots);
}

/* Adds sign * value[vi] of every sample of p to the stacks table. */
static void add_profile(table_t *stacks, const pp_profile_t *p, int vi, double sign)
{
	index_t x;
	build_index(&x, p);
	size_t cap = 4096;
	char *key = malloc(cap);
	if (!key)
		die("out of memory");
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		double v = sign * (double)s->value[vi];
		if (v == 0)
			continue;
		size_t len = 0;
		key[0] = '\0';
		for (size_t k = first_kept(&x, s); k < s->n_location_id; k++) {
			const Perftools__Profiles__Location *l =
			    x.loc_by_id[s->location_id[k]];
			char fb[64];
			size_t nl = l->n_line ? l->n_line : 1;
			for (size_t li = 0; li < nl; li++) {
				const char *n =
				    l->n_line ? func_name(&x, l->line[li]->function_id)
				              : NULL;
				if (!n)
					n = loc_fallback(&x, l, fb, sizeof(fb));
				size_t nlen = strlen(n);
				if (len + nlen + 2 > cap) {
					cap = (len + nlen + 2) * 2;
					key = realloc(key, cap);
					if (!key)
						die("out of memory");
				}
				memcpy(key + len, n, nlen);
				len += nlen;
				key[len++] = '\n';
				key[len] = '\0';
			}
		}
		merged_t *st = lookup(stacks, key);
		st->value += v;
	}
	free(key);
	free(x.func_by_id);
	free(x.loc_by_id);
	free(x.map_by_id);
	free(x.pruned_loc);
	free(x.prune_beneath);
}

/* Per-function flat and cum from merged stacks; returns the total (sum |v|). */
static double by_function(const table_t *stacks, table_t *rows)
{
	double total = 0;
	for (size_t i = 0; i < stacks->n; i++) {
		const merged_t *st = (const merged_t *)stacks->items + i;
		double v = st->value;
		if (v == 0)
			continue;
		total += v < 0 ? -v : v;
		char *k = strdup(st->key);
		if (!k)
			die("out of memory");
		bool leaf = true;
		for (char *n = k, *nl; *n; n = nl + 1) {
			nl = strchr(n, '\n');
			*nl = '\0';
			row_t *r = lookup(rows, n);
			if (leaf)
				r->flat += v;
			leaf = false;
			if (r->seen != i + 1) {
				r->cum += v;
				r->seen = (unsigned)i + 1;
			}
		}
		free(k);
	}
	return total;
}

static bool sort_cum;

static int cmp_rows(const void *pa, const void *pb)
{
	const row_t *a = pa, *b = pb;
	double ka = sort_cum ? a->cum : a->flat, kb = sort_cum ? b->cum : b->flat;
	if (ka != kb)
		return ka < kb ? 1 : -1;
	double ca = sort_cum ? a->flat : a->cum, cb = sort_cum ? b->flat : b->cum;
	if (ca != cb)
		return ca < cb ? 1 : -1;
	return strcmp(a->name, b->name);
}

/* ---- commands --------------------------------------------------------- */

static void check_compatible(const pp_profile_t *a, const pp_profile_t *b,
                             const char *base)
{
	bool ok = a->n_sample_type == b->n_sample_type;
	for (size_t i = 0; ok && i < a->n_sample_type; i++)
		ok = !strcmp(pp_str(a, a->sample_type[i]->type),
		             pp_str(b, b->sample_type[i]->type)) &&
		     !strcmp(pp_str(a, a->sample_type[i]->unit),
		             pp_str(b, b->sample_type[i]->unit));
	if (!ok)
		die("%s: sample types differ from the profile's; cannot subtract", base);
}

static int sample_index(const pp_profile_t *p, const char *name, const char *path)
{
	if (!name)
		return pp_default_index(p);
	int i = pp_sample_index(p, name);
	if (i < 0) {
		char list[1024] = "";
		for (size_t k = 0; k < p->n_sample_type; k++) {
			strncat(list, k ? ", " : "", sizeof(list) - strlen(list) - 1);
			strncat(list, pp_str(p, p->sample_type[k]->type),
			        sizeof(list) - strlen(list) - 1);
		}
		die("%s: no sample type '%s' (it has: %s)", path, name, list);
	}
	return i;
}

static void usage_top(FILE *f)
{
	fprintf(
	    f,
	    "usage: heapprof top [--sample-index TYPE] [--base OLD] [-n N] [--cum] "
	    "[--raw] PROFILE\n"
	    "       heapprof diff [--sample-index TYPE] [-n N] [--cum] [--raw] OLD NEW\n"
	    "Lists functions by flat (own) or cumulative value, like go tool pprof "
	    "-top.\n"
	    "  --sample-index TYPE  alloc_objects, alloc_space, inuse_objects, "
	    "inuse_space\n"
	    "                       (default: the profile's default, inuse_space for "
	    "heapprof)\n"
	    "  --base OLD           subtract OLD first: what changed since OLD\n"
	    "  -n N                 show the top N functions (default all)\n"
	    "  --cum                sort by cumulative value\n"
	    "  --raw                print exact values: flat<TAB>cum<TAB>function\n");
}

static int cmd_top(int argc, char **argv, bool diff)
{
	static const struct option opts[] = {
	    {"sample-index", required_argument, NULL, 's'},
	    {"base", required_argument, NULL, 'b'},
	    {"cum", no_argument, NULL, 'c'},
	    {"raw", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *si = NULL, *base = NULL;
	long limit = -1;
	bool raw = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			si = optarg;
			break;
		case 'b':
			base = optarg;
			break;
		case 'c':
			sort_cum = true;
			break;
		case 'r':
			raw = true;
			break;
		case 'n': {
			char *end;
			limit = strtol(optarg, &end, 10);
			if (*end || limit < 0)
				die("-n: expected a non-negative number, got '%s'",
				    optarg);
			break;
		}
		case 'h':
			usage_top(stdout);
			return 0;
		default:
			usage_top(stderr);
			return EXIT_USAGE;
		}
	}
	int want = diff ? 2 : 1;
	if (argc - optind != want) {
		usage_top(stderr);
		return EXIT_USAGE;
	}
	if (diff)
		base = argv[optind++];
	const char *path = argv[optind];
	pp_profile_t *p = load(path);
	int vi = sample_index(p, si, path);
	table_t stacks = {.size = sizeof(merged_t)}, rows = {.size = sizeof(row_t)};
	add_profile(&stacks, p, vi, 1);
	if (base) {
		pp_profile_t *b = load(base);
		check_compatible(p, b, base);
		add_profile(&stacks, b, vi, -1);
		pp_free(b);
	}
	double total = by_function(&stacks, &rows);
	row_t *rv = rows.items;
	qsort(rv, rows.n, sizeof(*rv), cmp_rows);
	const char *unit = pp_str(p, p->sample_type[vi]->unit);
	size_t shown = 0;
	double shown_flat = 0, sum = 0;
	for (size_t i = 0; i < rows.n; i++)
		if (rv[i].flat != 0 || rv[i].cum != 0)
			if (limit < 0 || shown < (size_t)limit)
				shown++, shown_flat += rv[i].flat;
	if (!raw) {
		char t[32], s[32];
		fmt_value(t, sizeof(t), total, unit);
		fmt_value(s, sizeof(s), shown_flat, unit);
		printf("Type: %s\n", pp_str(p, p->sample_type[vi]->type));
		printf("Showing nodes accounting for %s, %.2f%% of %s total\n", s,
		       total ? 100 * shown_flat / total : 0.0, t);
		printf("%10s %6s %6s %10s %6s\n", "flat", "flat%", "sum%", "cum", "cum%");
	}
	size_t printed = 0;
	for (size_t i = 0; i < rows.n && printed < shown; i++) {
		row_t *r = &rv[i];
		if (r->flat == 0 && r->cum == 0)
			continue;
		printed++;
		sum += r->flat;
		if (raw) {
			printf("%.0f\t%.0f\t%s\n", r->flat, r->cum, r->name);
			continue;
		}
		char f[32], cu[32];
		fmt_value(f, sizeof(f), r->flat, unit);
		fmt_value(cu, sizeof(cu), r->cum, unit);
		double t = total ? total : 1;
		printf("%10s %5.2f%% %5.2f%% %10s %5.2f%%  %s\n", f, 100 * r->flat / t,
		       100 * sum / t, cu, 100 * r->cum / t, r->name);
	}
	table_free(&stacks);
	table_free(&rows);
	pp_free(p);
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(
		    argc == 2 ? stdout : stderr,
		    "usage: heapprof info PROFILE\n"
		    "Prints sample types, period, time, duration, comments, mappings and "
		    "totals.\n");
		return argc == 2 ? 0 : EXIT_USAGE;
	}
	pp_profile_t *p = load(argv[1]);
	printf("File: %s\n", argv[1]);
	printf("Sample types:");
	for (size_t i = 0; i < p->n_sample_type; i++)
		printf(" %s/%s%s", pp_str(p, p->sample_type[i]->type),
		       pp_str(p, p->sample_type[i]->unit),
		       (int)i == pp_default_index(p) ? " (default)" : "");
	printf("\n");
	if (p->period_type)
		printf("Period: %" PRId64 " %s/%s\n", p->period,
		       pp_str(p, p->period_type->type), pp_str(p, p->period_type->unit));
	if (p->time_nanos) {
		time_t t = (time_t)(p->time_nanos / 1000000000);
		char buf[64];
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
		printf("Time: %s\n", buf);
	}
	printf("Duration: %.3f s\n", (double)p->duration_nanos / 1e9);
	for (size_t i = 0; i < p->n_comment; i++)
		printf("Comment: %s\n", pp_str(p, p->comment[i]));
	printf("Samples: %zu, locations: %zu, functions: %zu, mappings: %zu\n",
	       p->n_sample, p->n_location, p->n_function, p->n_mapping);
	for (size_t i = 0; i < p->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = p->mapping[i];
		printf("Mapping %" PRIu64 ": %#" PRIx64 "-%#" PRIx64 " offset %#" PRIx64
		       " %s build-id %s\n",
		       m->id, m->memory_start, m->memory_limit, m->file_offset,
		       pp_str(p, m->filename),
		       *pp_str(p, m->build_id) ? pp_str(p, m->build_id) : "-");
	}
	for (size_t i = 0; i < p->n_sample_type; i++) {
		double t = 0;
		for (size_t k = 0; k < p->n_sample; k++)
			t += (double)p->sample[k]->value[i];
		char v[32];
		fmt_value(v, sizeof(v), t, pp_str(p, p->sample_type[i]->unit));
		printf("Total %s: %s (%.0f)\n", pp_str(p, p->sample_type[i]->type), v, t);
	}
	pp_free(p);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: heapprof COMMAND [ARGS]\n"
	           "Reads pprof heap profiles (from libheapprof, Go, or other tools).\n"
	           "Commands:\n"
	           "  info PROFILE        sample types, period, time, comments, "
	           "mappings, totals\n"
	           "  top [...] PROFILE   functions by flat or cumulative value (--help "
	           "for options)\n"
	           "  diff OLD NEW        top of NEW minus OLD, growth first\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc - 1, argv + 1, false);
	if (!strcmp(cmd, "diff"))
		return cmd_top(argc - 1, argv + 1, true);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
	usage(stderr);
	return EXIT_USAGE;
}
