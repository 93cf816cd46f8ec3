/* SPDX-License-Identifier: MIT */
/*
 * profile: the stack table, walked once, encoded as it is walked
 * (pprof/pbenc.c) into a bounded buffer that deflate (pprof/gzstream.c)
 * empties into write(2).
 * Mappings go out first; samples as their buckets are read; locations and
 * functions as they are first met; the string table last (protobuf lets a
 * repeated field's elements come in any order among the others). What it
 * keeps for the whole write grows with the distinct locations and functions
 * only, never with the stacks. It does not intern strings
 * (lib/pprof/strtab.c) nor decide where or when to write (its caller).
 */
#include "profile.h"
#include "backing.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "contention.h"
#include "kinds.h"
#include "log.h"
#include "pprof/gzstream.h"
#include "pprof/pbenc.h"
#include "pprof/strtab.h"
#include "sampler.h"
#include "scratch.h"
#include "stack_table.h"
#include "symbols.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <unistd.h>

/* Frames matching these never show: they are our own entry points. */
static const char drop_frames[] =
    "malloc|calloc|realloc|reallocarray|free|memalign|posix_memalign|aligned_alloc|"
    "valloc|pvalloc|operator new.*|operator delete.*|_Zn[wa]m.*|_Zd[la]Pv.*";

/* ---- scratch memory from the backing allocator ------------------------ */

typedef struct {
	int err;          /* first error (negative errno), sticky */
	pp_alloc_t alloc; /* the backing allocator's realloc and free */
} ctx_t;

/* ---- u64 -> id map --------------------------------------------------- */

typedef struct {
	uint64_t *keys;
	uint32_t *vals; /* 0 = empty */
	size_t n, cap;
} idmap_t;

static uint32_t *idmap_slot(ctx_t *c, idmap_t *m, uint64_t key)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 256;
		uint64_t *k = c->alloc.realloc(NULL, nc * sizeof(*k));
		uint32_t *v = c->alloc.realloc(NULL, nc * sizeof(*v));
		if (!k || !v) {
			c->alloc.free(k);
			c->alloc.free(v);
			c->err = -ENOMEM;
			return NULL;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->vals[i])
				continue;
			size_t j = hp_mix64(m->keys[i]) & (nc - 1);
			while (v[j])
				j = (j + 1) & (nc - 1);
			k[j] = m->keys[i];
			v[j] = m->vals[i];
		}
		c->alloc.free(m->keys);
		c->alloc.free(m->vals);
		m->keys = k;
		m->vals = v;
		m->cap = nc;
	}
	size_t j = hp_mix64(key) & (m->cap - 1);
	while (m->vals[j] && m->keys[j] != key)
		j = (j + 1) & (m->cap - 1);
	/* Counted when handed out empty: the caller fills it (or gives up,
	 * which only makes the map grow a little early). */
	if (!m->vals[j])
		m->n++;
	m->keys[j] = key;
	return &m->vals[j];
}

/* Field numbers of lib/pprof/profile.proto, by message. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_DROP_FRAMES = 7,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
enum { LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3, LABEL_NUM_UNIT = 4 };
enum {
	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
};
enum {
	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4
};
enum { LINE_FUNCTION_ID = 1 };
enum { FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3 };

/* ---- the writer ------------------------------------------------------ */

/*
 * The most one Sample takes: a location id per frame and the truncation
 * marker, a value per sample type, and the tags and lengths around them
 * (10 bytes a varint at most).
 */
#define SAMPLE_MAX                                                                       \
	((HP_MAX_FRAMES_LIMIT + 1) * 10 + HP_KIND_TYPES_MAX * 10 +                       \
	 HP_PROFILE_LABELS_MAX * LABEL_MAX + 128)
#define LABEL_MAX 48 /* a Label: four fields, a varint each, and its header */

typedef struct hp_profile_writer {
	/* Zeroed by begin: everything up to gz. */
	ctx_t ctx;
	pp_strtab_t st;
	idmap_t loc_ids;  /* address -> location id; the Locations are written
	                     from it after the samples (write_locations) */
	idmap_t func_ids; /* system-name string index -> function id */
	uint64_t nlocs, nfuncs, truncated_loc;
	size_t nsamples; /* samples written: buckets with nonzero counters */
	const hp_profile_opts_t *opts;
	const hp_kind_t *kind; /* the kind written: its sample types */
	hp_module_t *const *mods;
	size_t nmods;
	/* Nested messages are built here, then written with their length. */
	pb_buf_t msg;    /* a ValueType, Mapping, Location or Function */
	pb_buf_t line;   /* a Location's Line */
	pb_buf_t sample; /* a Sample */
	pb_buf_t label;  /* a Sample's Label */
	/* The previous sample's frames and their ids, by depth from the root:
	 * neighbours in the table mostly share their roots, so most frames
	 * are found here without a lookup. */
	const hp_bucket_t *prev;
	uint32_t prev_n; /* its frames used: at most HP_MAX_FRAMES_LIMIT */
	uint8_t msgbuf[256], linebuf[32];
	/* The stream, then what only samples use: a profile without samples
	 * touches the first pages of the writer and no others. */
	pp_gz_t gz;                            /* gz.pb: the Profile itself, streamed */
	uint64_t ids[HP_MAX_FRAMES_LIMIT + 1]; /* the sample's location ids */
	uint64_t prev_ids[HP_MAX_FRAMES_LIMIT];
	uint8_t labelbuf[LABEL_MAX], samplebuf[SAMPLE_MAX];
} writer_t;

/*
 * The writer and its small blocks are static: one profile is written at a
 * time (hp_profile_write holds the symbols lock throughout), and a process
 * that writes one profile at exit, as most do, then makes no mapping to
 * write it and none to unmap, and touches a few pages of the writer (on
 * this project's machines a page fault and an munmap each cost tens of
 * microseconds: docs/performance.md). Blocks the arena cannot hold come
 * from scratch.c.
 */
HP_LARGE static writer_t the_writer;

#define ARENA_SIZE  (64u << 10)
#define COMMENT_MAX 4096 /* a comment's bytes, at most */
#define CMDLINE_MAX 2048 /* of which the command line's */
HP_LARGE static unsigned char arena[ARENA_SIZE] __attribute__((aligned(4096)));
static size_t arena_used; /* bytes handed out since the write began */

typedef struct {
	size_t size; /* bytes the caller asked for */
	size_t pad;  /* keeps the block 16-aligned */
} arena_head_t;

static bool in_arena(const void *p)
{
	return (const unsigned char *)p >= arena &&
	       (const unsigned char *)p < arena + sizeof(arena);
}

/* A block of n bytes from the arena, zeroed if asked, or NULL if it has no
 * room. */
static void *arena_alloc(size_t n, bool zero)
{
	size_t total = (sizeof(arena_head_t) + n + 15) & ~(size_t)15;
	if (n > ARENA_SIZE || total > ARENA_SIZE - arena_used)
		return NULL;
	arena_head_t *h = (arena_head_t *)(arena + arena_used);
	arena_used += total;
	if (zero)
		memset(h + 1, 0, n);
	h->size = n;
	return h + 1;
}

/* The end of p's block in the arena, were it n bytes long. */
static size_t arena_end(const void *p, size_t n)
{
	return (size_t)((const unsigned char *)p - arena) + ((n + 15) & ~(size_t)15);
}

/* pp_alloc_t's realloc for the writer: the arena first, then scratch. */
static void *w_realloc(void *p, size_t n)
{
	if (p && !in_arena(p))
		return hp_scratch_realloc(p, n);
	size_t old = p ? ((arena_head_t *)p - 1)->size : 0;
	if (p && arena_end(p, old) == arena_used && arena_end(p, n) <= ARENA_SIZE) {
		/* the last block: grows or shrinks where it is */
		arena_used = arena_end(p, n);
		if (n > old)
			memset((unsigned char *)p + old, 0, n - old);
		((arena_head_t *)p - 1)->size = n;
		return p;
	}
	void *q = arena_alloc(n, true);
	if (!q)
		q = hp_scratch_realloc(NULL, n);
	if (q && p)
		memcpy(q, p, old < n ? old : n);
	return q;
}

/* The arena's blocks go all at once, when the write ends. */
static void w_free(void *p)
{
	if (!in_arena(p))
		hp_scratch_free(p);
}

static bool failed(const writer_t *W)
{
	return W->ctx.err || W->gz.pb.err;
}

/* An index from the interner, or 0 with the error made sticky. */
static int64_t string_index(writer_t *W, int64_t i)
{
	if (i >= 0)
		return i;
	W->ctx.err = (int)i;
	return 0;
}

/* The string_table index of s, which outlives the write (symbols, modules). */
static uint64_t intern(writer_t *W, const char *s)
{
	return W->ctx.err ? 0 : (uint64_t)string_index(W, pp_strtab_intern(&W->st, s));
}

/* The same for a string in a buffer of ours: the table keeps a copy. */
static uint64_t intern_copy(writer_t *W, const char *s)
{
	return W->ctx.err ? 0
	                  : (uint64_t)string_index(W, pp_strtab_intern_copy(&W->st, s));
}

/* The Function of sysname, written the first time it is met. */
static uint64_t function_id(writer_t *W, const char *sysname)
{
	uint64_t sys = intern(W, sysname);
	uint32_t *slot = idmap_slot(&W->ctx, &W->func_ids, sys);
	if (!slot)
		return 0;
	if (*slot)
		return *slot;
	if (W->ctx.err)
		return 0;
	/* The name as the symbol table has it: demangling is the reader's
	 * (heapprof, pprof), since __cxa_demangle allocates, exists only with
	 * libstdc++ and knows no Rust. */
	uint64_t id = ++W->nfuncs;
	pb_uint(&W->msg, FUNCTION_ID, id);
	pb_uint(&W->msg, FUNCTION_NAME, sys);
	pb_uint(&W->msg, FUNCTION_SYSTEM_NAME, sys);
	pb_message(&W->gz.pb, PROFILE_FUNCTION, &W->msg);
	return *slot = (uint32_t)id;
}

static uint64_t mapping_id(writer_t *W, const hp_module_t *m)
{
	for (size_t i = 0; i < W->nmods; i++)
		if (W->mods[i] == m)
			return i + 1;
	return 0;
}

/* Writes Location id, with one Line when its function is known. */
static void write_location(writer_t *W, uint64_t id, uint64_t pc, uint64_t mapping,
                           uint64_t fid)
{
	pb_uint(&W->msg, LOCATION_ID, id);
	pb_uint(&W->msg, LOCATION_MAPPING_ID, mapping);
	pb_uint(&W->msg, LOCATION_ADDRESS, pc);
	if (fid) {
		pb_uint(&W->line, LINE_FUNCTION_ID, fid);
		pb_message(&W->msg, LOCATION_LINE, &W->line);
	}
	pb_message(&W->gz.pb, PROFILE_LOCATION, &W->msg);
}

/* Frames are return addresses; pprof wants an address inside the call. */
static uint64_t location_id(writer_t *W, uintptr_t ret)
{
	uintptr_t pc = ret - 1;
	uint32_t *slot = idmap_slot(&W->ctx, &W->loc_ids, pc);
	if (!slot)
		return 0;
	if (!*slot)
		*slot = (uint32_t)++W->nlocs;
	return *slot;
}

/* The synthetic root frame that marks a stack cut at HEAPPROF_MAX_FRAMES. */
static uint64_t truncated_location(writer_t *W)
{
	if (!W->truncated_loc)
		W->truncated_loc = ++W->nlocs;
	return W->truncated_loc;
}

/*
 * Every location, and the functions they name, once the samples are out:
 * the symbol tables learn first which addresses are to be named
 * (hp_symbols_want; the map's empty slots hold address 0, in no module).
 */
static void write_locations(writer_t *W)
{
	const idmap_t *m = &W->loc_ids;
	_Static_assert(sizeof(*m->keys) == sizeof(uintptr_t), "the keys are addresses");
	hp_symbols_want((const uintptr_t *)m->keys, m->cap);
	for (size_t i = 0; i < m->cap && !failed(W); i++) {
		if (!m->vals[i])
			continue;
		uintptr_t pc = m->keys[i];
		hp_module_t *mod = hp_symbols_find(pc);
		const char *name = mod ? hp_symbols_name(mod, pc) : NULL;
		uint64_t fid = name ? function_id(W, name) : 0;
		write_location(W, m->vals[i], pc, mod ? mapping_id(W, mod) : 0, fid);
	}
	if (W->truncated_loc && !failed(W))
		write_location(
		    W, W->truncated_loc, 0, 0,
		    function_id(W, "[truncated stack: raise HEAPPROF_MAX_FRAMES]"));
}

static int cmp_base(const void *key, const void *elem)
{
	const hp_bucket_t *b = key, *e = ((const hp_profile_base_t *)elem)->bucket;
	return b < e ? -1 : b > e;
}

/* b's entry in a snapshot sorted by bucket, or NULL. */
static const hp_profile_base_t *snap_find(const hp_profile_base_t *s, size_t n,
                                          const hp_bucket_t *b)
{
	return n ? bsearch(b, s, n, sizeof(*s), cmp_base) : NULL;
}

/* Takes the base's counters off c: what happened since the base was read. */
static void subtract_base(const hp_profile_opts_t *o, const hp_bucket_t *b,
                          hp_counts_t *c)
{
	const hp_profile_base_t *e = snap_find(o->base, o->nbase, b);
	if (e)
		hp_stack_table_counts_sub(c, &e->counts);
}

/*
 * The bucket's values, one per sample type, into v; false: nothing to write.
 * With opts->now (delta_heap), the counters are the snapshot's, the types
 * counted since start are less the base and the in-use ones (those that
 * take frees off) stay whole, as godeltaprof writes them.
 */
static bool sample_values(writer_t *W, const hp_bucket_t *b, uint64_t *v)
{
	const hp_profile_opts_t *o = W->opts;
	const hp_kind_t *k = W->kind;
	hp_counts_t c, d;
	if (o->now) {
		const hp_profile_base_t *e = snap_find(o->now, o->nnow, b);
		if (!e)
			return false; /* newer than the snapshot: the next delta's */
		c = e->counts;
	} else {
		k->read(b, &c);
	}
	d = c;
	subtract_base(o, b, &d);
	if (!o->now)
		c = d;
	bool any = false;
	for (size_t i = 0; i < k->ntypes; i++) {
		const hp_sample_type_t *t = &k->types[i];
		v[i] = (uint64_t)hp_kind_value(t, t->minus != HP_TALLY_NONE ? &c : &d);
		any |= v[i] != 0;
	}
	return o->now ? any : !hp_stack_table_counts_zero(&d);
}

/* Fills W->ids with b's location ids, leaf first; returns how many. */
static uint32_t sample_locations(writer_t *W, const hp_bucket_t *b)
{
	/* Buckets hold at most HP_MAX_FRAMES_LIMIT frames; ids has room for them. */
	uint32_t n = b->nframes < HP_MAX_FRAMES_LIMIT ? b->nframes : HP_MAX_FRAMES_LIMIT;
	/* Locals, so that the loops keep them in registers. */
	const uintptr_t *f = b->frames, *pf = W->prev ? W->prev->frames : NULL;
	uint32_t pn = W->prev_n, same = pn < n ? pn : n, d = 0;
	uint64_t *ids = W->ids, *prev_ids = W->prev_ids;
	for (; d < same; d++) { /* d: depth from the root */
		uintptr_t pc = f[n - 1 - d];
		ids[n - 1 - d] = prev_ids[d] =
		    pf[pn - 1 - d] == pc ? prev_ids[d] : location_id(W, pc);
	}
	for (; d < n; d++)
		ids[n - 1 - d] = prev_ids[d] = location_id(W, f[n - 1 - d]);
	W->prev = b;
	W->prev_n = n;
	if (b->truncated || b->nframes > n)
		W->ids[n++] = truncated_location(W);
	return n;
}

/*
 * One bucket, read now, as a Sample: its locations leaf first, then a value
 * per sample type of the kind. Written at once, so nothing is kept per stack.
 */
static void write_sample(const hp_bucket_t *b, void *arg)
{
	writer_t *W = arg;
	if (failed(W))
		return;
	uint64_t v[HP_KIND_TYPES_MAX];
	if (!sample_values(W, b, v))
		return;
	uint32_t n = sample_locations(W, b);
	const hp_kind_t *k = W->kind;
	pb_packed(&W->sample, SAMPLE_LOCATION_ID, W->ids, n);
	pb_packed(&W->sample, SAMPLE_VALUE, v, k->ntypes);
	pb_message(&W->gz.pb, PROFILE_SAMPLE, &W->sample);
	W->nsamples++;
}

bool hp_profile_sample(writer_t *W, const hp_bucket_t *b, const int64_t *v,
                       const hp_profile_label_t *l, size_t nl)
{
	if (failed(W))
		return false;
	uint32_t n = sample_locations(W, b);
	uint64_t u[HP_KIND_TYPES_MAX];
	for (size_t i = 0; i < W->kind->ntypes; i++)
		u[i] = (uint64_t)v[i];
	pb_packed(&W->sample, SAMPLE_LOCATION_ID, W->ids, n);
	pb_packed(&W->sample, SAMPLE_VALUE, u, W->kind->ntypes);
	for (size_t i = 0; i < nl && i < HP_PROFILE_LABELS_MAX; i++) {
		pb_uint(&W->label, LABEL_KEY, intern(W, l[i].key));
		if (l[i].str)
			pb_uint(&W->label, LABEL_STR, intern(W, l[i].str));
		pb_uint(&W->label, LABEL_NUM, (uint64_t)l[i].num);
		if (l[i].unit)
			pb_uint(&W->label, LABEL_NUM_UNIT, intern(W, l[i].unit));
		pb_message(&W->sample, SAMPLE_LABEL, &W->label);
	}
	pb_message(&W->gz.pb, PROFILE_SAMPLE, &W->sample);
	W->nsamples++;
	return !failed(W);
}

/* ---- the rest of the Profile ----------------------------------------- */

/* A ValueType, as field of the Profile. */
static void write_value_type(writer_t *W, uint32_t field, const char *type,
                             const char *unit)
{
	pb_uint(&W->msg, VALUE_TYPE_TYPE, intern(W, type));
	pb_uint(&W->msg, VALUE_TYPE_UNIT, intern(W, unit));
	pb_message(&W->gz.pb, field, &W->msg);
}

/* Sample and period types, period, drop_frames, time and duration. */
static void write_header(writer_t *W, const hp_profile_opts_t *o)
{
	const hp_kind_t *k = W->kind;
	for (size_t i = 0; i < k->ntypes; i++)
		write_value_type(W, PROFILE_SAMPLE_TYPE, k->types[i].name,
		                 k->types[i].unit);
	write_value_type(W, PROFILE_PERIOD_TYPE, k->period_type, k->period_unit);
	const hp_sample_type_t *def =
	    o->default_type ? o->default_type : &k->types[k->default_type];
	pb_buf_t *out = &W->gz.pb;
	pb_uint(out, PROFILE_DEFAULT_SAMPLE_TYPE, intern(W, def->name));
	pb_uint(out, PROFILE_PERIOD, k->period ? k->period : o->rate);
	pb_uint(out, PROFILE_DROP_FRAMES, intern(W, drop_frames));
	uint64_t now = hp_now_ns();
	pb_uint(out, PROFILE_TIME_NANOS, now);
	pb_uint(out, PROFILE_DURATION_NANOS, now - o->start_ns);
}

/* Mappings: the whole registry, so unloaded libraries keep theirs. */
static void write_mappings(writer_t *W)
{
	for (size_t i = 0; i < W->nmods; i++) {
		const hp_module_t *m = W->mods[i];
		pb_uint(&W->msg, MAPPING_ID, i + 1);
		pb_uint(&W->msg, MAPPING_MEMORY_START, m->start);
		pb_uint(&W->msg, MAPPING_MEMORY_LIMIT, m->limit);
		pb_uint(&W->msg, MAPPING_FILE_OFFSET, m->offset);
		pb_uint(&W->msg, MAPPING_FILENAME, intern(W, m->path));
		pb_uint(&W->msg, MAPPING_BUILD_ID, intern(W, m->build_id));
		pb_message(&W->gz.pb, PROFILE_MAPPING, &W->msg);
	}
}

/* The arguments' strings, contiguous from argv[0] as execve laid them out. */
static const char *args_start;
static size_t args_len;

void hp_profile_note_args(int argc, char **argv)
{
	if (argc <= 0 || !argv || !argv[0] || !argv[argc - 1])
		return;
	const char *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	if (end <= argv[0] || end - argv[0] > (1 << 20))
		return; /* not the layout execve makes: /proc will say */
	args_start = argv[0];
	args_len = (size_t)(end - argv[0]);
}

/* What /proc/self/cmdline would hold: the arguments' bytes, and past their
 * end up to a NUL when the program wrote its title over that end. */
static size_t copy_args(char *buf, size_t cap)
{
	size_t n = args_len < cap ? args_len : cap;
	memcpy(buf, args_start, n);
	while (n < cap && buf[n - 1] != '\0' && args_start[n] != '\0') {
		buf[n] = args_start[n];
		n++;
	}
	return n;
}

static ssize_t read_proc_cmdline(char *buf, size_t cap)
{
	/* thread-self: after main's pthread_exit, /proc/self is a zombie. */
	int fd = hp_sys_open("/proc/thread-self/cmdline", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		fd = hp_sys_open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, cap);
	hp_sys_close(fd);
	return n;
}

/* The command line, its arguments joined by spaces, into buf. */
static size_t read_cmdline(char *buf, size_t cap)
{
	ssize_t n = args_start ? (ssize_t)copy_args(buf, cap - 1)
	                       : read_proc_cmdline(buf, cap - 1);
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return (size_t)n;
}

static uint64_t fmt_comment(writer_t *W, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static uint64_t fmt_comment(writer_t *W, const char *fmt, ...)
{
	/* Formatted in the arena, where the table keeps it: no deep stack. */
	char *buf = arena_alloc(COMMENT_MAX, false);
	char stack[256];
	if (!buf)
		buf = stack;
	va_list ap;
	va_start(ap, fmt);
	size_t n = hp_vfmt(buf, buf == stack ? sizeof(stack) : COMMENT_MAX, fmt, ap);
	va_end(ap);
	if (buf == stack)
		return intern_copy(W, buf);
	char *kept = w_realloc(buf, n + 1); /* the last block: shrinks in place */
	return intern(W, kept ? kept : buf);
}

/* "command line: ..." in the arena, where the table keeps it; when the
 * arena is full (a profile of thousands of stacks), copied from scratch. */
static uint64_t cmdline_comment(writer_t *W)
{
	static const char prefix[] = "command line: ";
	char *buf = arena_alloc(COMMENT_MAX, false), *scratch = NULL;
	if (!buf && !(buf = scratch = hp_scratch_realloc(NULL, COMMENT_MAX)))
		return intern(W, "command line: ?");
	memcpy(buf, prefix, sizeof(prefix) - 1);
	size_t n = read_cmdline(buf + sizeof(prefix) - 1, CMDLINE_MAX);
	if (!n)
		hp_fmt(buf + sizeof(prefix) - 1, 2, "?");
	if (scratch) {
		uint64_t id = intern_copy(W, scratch);
		hp_scratch_free(scratch);
		return id;
	}
	char *kept = w_realloc(buf, sizeof(prefix) + (n ? n : 1));
	return intern(W, kept ? kept : buf);
}

/*
 * What pprof shows under the profile: who wrote it, when, how sampled. Last
 * but the strings, as it counts the stacks written.
 */
static void write_comments(writer_t *W, const hp_profile_opts_t *o)
{
	uint64_t comments[8], *c = comments;
	*c++ = fmt_comment(W, "libheapprof %s", PACKAGE_VERSION);
	*c++ = fmt_comment(W, "trigger: %s", o->trigger);
	*c++ = fmt_comment(W, "pid: %d", (int)hp_sys_getpid());
	if (W->kind->sampling) {
		char line[128];
		W->kind->sampling(line, sizeof(line));
		*c++ = intern_copy(W, line);
	} else {
		*c++ = fmt_comment(W, "sampling rate: %llu bytes%s",
		                   (unsigned long long)o->rate,
		                   o->rate == 1 ? " (every allocation)" : "");
	}
	*c++ = cmdline_comment(W);
	*c++ = fmt_comment(W, "stacks: %zu", W->nsamples);
	if (o->in_use_ns)
		*c++ = fmt_comment(
		    W, "in use: %lld bytes (estimated) at unix time %llu.%09llu",
		    (long long)o->in_use, (unsigned long long)(o->in_use_ns / 1000000000),
		    (unsigned long long)(o->in_use_ns % 1000000000));
	if (W->kind->sampling && hp_contention_dropped())
		*c++ =
		    fmt_comment(W, "contention events not recorded (a table full): %llu",
		                (unsigned long long)hp_contention_dropped());
	else if (!W->kind->sampling && o->rate && !hp_sampler_active())
		*c++ = fmt_comment(W, "sampling stopped early: profiler metadata "
		                      "exhausted; later allocations are not counted");
	pb_packed(&W->gz.pb, PROFILE_COMMENT, comments, (size_t)(c - comments));
}

/* Last, once every index into it has been handed out; [0] is "". */
static void write_strings(writer_t *W)
{
	for (size_t i = 0; i < W->st.n && !failed(W); i++)
		pb_bytes(&W->gz.pb, PROFILE_STRING_TABLE, W->st.s[i], strlen(W->st.s[i]));
}

/* ---- the whole write ------------------------------------------------- */

static void buf_init(pb_buf_t *b, uint8_t *mem, size_t cap, void (*flush)(pb_buf_t *))
{
	*b = (pb_buf_t){.buf = mem, .cap = cap, .flush = flush};
}

/* The writer into fd, the symbols lock held; the deflate stream starts
 * with the first flush. */
static writer_t *begin(int fd, const hp_profile_opts_t *o)
{
	writer_t *W = &the_writer;
	memset(W, 0, offsetof(writer_t, gz));
	arena_used = 0;
	W->opts = o;
	W->kind = o->kind ? o->kind : &hp_kinds[HP_KIND_HEAP];
	W->ctx.alloc = (pp_alloc_t){w_realloc, w_free};
	pp_strtab_init(&W->st, &W->ctx.alloc);
	buf_init(&W->msg, W->msgbuf, sizeof(W->msgbuf), NULL);
	buf_init(&W->line, W->linebuf, sizeof(W->linebuf), NULL);
	buf_init(&W->sample, W->samplebuf, sizeof(W->samplebuf), NULL);
	buf_init(&W->label, W->labelbuf, sizeof(W->labelbuf), NULL);
	pp_gz_init(&W->gz, fd, &W->ctx.alloc);
	intern(W, ""); /* string_table[0] must be "" */
	return W;
}

static void finish(writer_t *W)
{
	pp_gz_end(&W->gz);
	pp_strtab_fini(&W->st);
	w_free(W->loc_ids.keys);
	w_free(W->loc_ids.vals);
	w_free(W->func_ids.keys);
	w_free(W->func_ids.vals);
	arena_used = 0;
}

/* ---- names for the children of a process that forks -------------------- */

atomic_bool hp_profile_forked;

typedef struct {
	uintptr_t *pcs;
	size_t n, cap;
	bool short_of_memory;
} pc_list_t;

static void add_frames(const hp_bucket_t *b, void *arg)
{
	pc_list_t *l = arg;
	for (uint32_t i = 0; i < b->nframes && !l->short_of_memory; i++) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 1024;
			uintptr_t *p = hp_scratch_realloc(l->pcs, cap * sizeof(*p));
			if (!p) {
				l->short_of_memory = true;
				return;
			}
			l->pcs = p;
			l->cap = cap;
		}
		l->pcs[l->n++] = b->frames[i] - 1; /* as location_id names it */
	}
}

/* The newest stack whose names were read for the children to inherit. */
static const hp_bucket_t *named_upto; /* one thread only: see below */

/*
 * A forked child names in its exit profile the stacks it inherited; without
 * this it opens and reads its parent's symbol tables and the registry of
 * objects again (a shell's subshell: bash's and the C library's tables, a
 * note per object, about 30 page faults). Read here, at a sample of the
 * parent, they are in memory the children copy. Not in the fork handlers,
 * which may run in a signal handler: here the program is in malloc, and
 * with every signal blocked no handler can run (and fork, or dump) while
 * the tables' lock is held. One thread only: a process of threads is
 * seldom a shell, and the others' allocations must not wait on file reads.
 */
void hp_profile_name_for_children(void)
{
	if (!hp_config.at_exit || !__libc_single_threaded ||
	    hp_stack_table_newest() == named_upto)
		return;
	sigset_t every, old;
	sigfillset(&every);
	if (pthread_sigmask(SIG_BLOCK, &every, &old))
		return;
	hp_symbols_lock();
	hp_symbols_refresh(); /* objects loaded or unloaded since */
	/* No name is in use: the tables of objects unloaded go, as at the end
	 * of a profile, or each library loaded and unloaded between forks
	 * would keep its file mapped and its table for good. */
	hp_symbols_release_unloaded();
	pc_list_t l = {0};
	const hp_bucket_t *newest =
	    hp_stack_table_foreach_since(named_upto, add_frames, &l);
	/* A child's own stacks may be anywhere in these modules: whole tables. */
	hp_symbols_read_whole(l.pcs, l.n);
	if (!l.short_of_memory)
		named_upto = newest;
	hp_symbols_unlock();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	hp_scratch_free(l.pcs);
}

/* ---- the whole write, continued ------------------------------------------ */

int hp_profile_write(int fd, const hp_profile_opts_t *o)
{
	hp_symbols_lock(); /* the names written stay valid to the end */
	writer_t *W = begin(fd, o);
	hp_symbols_refresh();
	W->nmods = hp_symbols_modules(&W->mods);
	write_header(W, o);
	write_mappings(W);
	if (W->kind->samples)
		W->kind->samples(W, o);
	else
		W->kind->foreach (write_sample, W);
	write_locations(W);
	write_comments(W, o);
	write_strings(W);
	if (!failed(W)) /* what the buffer holds goes in with the finish */
		pp_gz_finish(&W->gz);
	int err = W->ctx.err ? W->ctx.err : W->gz.pb.err;
	finish(W);
	hp_symbols_release_unloaded(); /* names of unloaded objects: no longer used */
	hp_symbols_unlock();
	return err;
}
