/* SPDX-License-Identifier: MIT */
/*
 * profile: snapshot -> protobuf-c messages -> packed straight into a deflate
 * stream (gzip framing) -> write(2). Nothing is built in one big buffer: the
 * encoded profile is compressed as protobuf-c emits it. It does not intern
 * strings (lib/pprof/strtab.c) nor decide where or when to write (its caller).
 */
#include "profile.h"
#include "backing.h"
#include "common.h"
#include "log.h"
#include "pprof/strtab.h"
#include "profile.pb-c.h"
#include "sampler.h"
#include "stack_table.h"
#include "symbols.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Frames matching these never show: they are our own entry points. */
static const char drop_frames[] =
    "malloc|calloc|realloc|reallocarray|free|memalign|posix_memalign|aligned_alloc|"
    "valloc|pvalloc|operator new.*|operator delete.*|_Zn[wa]m.*|_Zd[la]Pv.*";

/* ---- scratch memory from the backing allocator ------------------------ */

typedef struct {
	int err;          /* first error (negative errno), sticky */
	pp_alloc_t alloc; /* the backing allocator's realloc and free */
} ctx_t;

/* pp_grow, the error made sticky: returns p unchanged when it fails. */
static void *grow(ctx_t *c, void *p, size_t *cap, size_t need, size_t elem)
{
	void *q = pp_grow(&c->alloc, p, cap, need, elem);
	if (!q) {
		c->err = -ENOMEM;
		return p;
	}
	return q;
}

/* ---- u64 -> id map --------------------------------------------------- */

typedef struct {
	uint64_t *keys;
	uint32_t *vals; /* 0 = empty */
	size_t n, cap;
} idmap_t;

static uint32_t *idmap_slot(ctx_t *c, idmap_t *m, uint64_t key)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 4096;
		uint64_t *k = hp_real.malloc(nc * sizeof(*k));
		uint32_t *v = hp_real.calloc(nc, sizeof(*v));
		if (!k || !v) {
			hp_real.free(k);
			hp_real.free(v);
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
		hp_real.free(m->keys);
		hp_real.free(m->vals);
		m->keys = k;
		m->vals = v;
		m->cap = nc;
	}
	size_t j = hp_mix64(key) & (m->cap - 1);
	while (m->vals[j] && m->keys[j] != key)
		j = (j + 1) & (m->cap - 1);
	m->keys[j] = key;
	return &m->vals[j];
}

/* ---- the builder ----------------------------------------------------- */

typedef struct {
	const hp_bucket_t *b;
	hp_counts_t c;
} snap_t;

typedef struct {
	ctx_t ctx;
	pp_strtab_t st;
	snap_t *snaps;
	size_t nsnaps, capsnaps;
	Perftools__Profiles__Location *locs;
	Perftools__Profiles__Line *lines; /* one per location at most */
	size_t nlocs, caplocs, caplines;
	Perftools__Profiles__Function *funcs;
	size_t nfuncs, capfuncs;
	idmap_t loc_ids;  /* address -> location id */
	idmap_t func_ids; /* system-name string index -> function id */
	uint64_t truncated_loc;
	const hp_profile_opts_t *opts;
	char *(*demangle)(const char *, char *, size_t *, int *);
	hp_module_t *const *mods;
	size_t nmods;
	/* The Profile's own arrays, filled by hp_profile_write's steps. */
	Perftools__Profiles__Sample *samples; /* one per snap */
	uint64_t *sample_locs;                /* every sample's location ids */
	int64_t *sample_values;               /* four per sample */
	Perftools__Profiles__Mapping *maps;   /* one per module */
	Perftools__Profiles__ValueType types[5], *type_ptrs[4]; /* [4]: the period's */
	int64_t comments[8];
	size_t ncomments;
	void **ptrs; /* the arrays of pointers protobuf-c wants */
} builder_t;

/* An index from the interner, or 0 with the error made sticky. */
static int64_t string_index(builder_t *B, int64_t i)
{
	if (i >= 0)
		return i;
	B->ctx.err = (int)i;
	return 0;
}

/* The string_table index of s, which outlives the write (symbols, modules). */
static int64_t intern(builder_t *B, const char *s)
{
	return B->ctx.err ? 0 : string_index(B, pp_strtab_intern(&B->st, s));
}

/* The same for a string in a buffer of ours: the table keeps a copy. */
static int64_t intern_copy(builder_t *B, const char *s)
{
	return B->ctx.err ? 0 : string_index(B, pp_strtab_intern_copy(&B->st, s));
}

static int cmp_base(const void *key, const void *elem)
{
	const hp_bucket_t *b = key, *e = ((const hp_profile_base_t *)elem)->bucket;
	return b < e ? -1 : b > e;
}

/* Takes the base's counters off c: what happened since the base was read. */
static void subtract_base(const hp_profile_opts_t *o, const hp_bucket_t *b,
                          hp_counts_t *c)
{
	const hp_profile_base_t *e =
	    o->nbase ? bsearch(b, o->base, o->nbase, sizeof(*o->base), cmp_base) : NULL;
	if (!e)
		return;
	c->alloc_count -= e->counts.alloc_count;
	c->alloc_bytes -= e->counts.alloc_bytes;
	c->free_count -= e->counts.free_count;
	c->free_bytes -= e->counts.free_bytes;
}

static void snapshot_one(const hp_bucket_t *b, void *arg)
{
	builder_t *B = arg;
	hp_counts_t c;
	hp_stack_table_read(b, &c);
	subtract_base(B->opts, b, &c);
	if (!c.alloc_count && !c.alloc_bytes && !c.free_count && !c.free_bytes)
		return;
	B->snaps =
	    grow(&B->ctx, B->snaps, &B->capsnaps, B->nsnaps + 1, sizeof(*B->snaps));
	if (B->ctx.err)
		return;
	B->snaps[B->nsnaps].b = b;
	B->snaps[B->nsnaps].c = c;
	B->nsnaps++;
}

static uint64_t function_id(builder_t *B, const char *sysname)
{
	int64_t sys = intern(B, sysname);
	uint32_t *slot = idmap_slot(&B->ctx, &B->func_ids, (uint64_t)sys);
	if (!slot)
		return 0;
	if (*slot)
		return *slot;
	int64_t name = sys;
	if (B->demangle && sysname[0] == '_' && sysname[1] == 'Z') {
		int status = -1;
		char *d = B->demangle(sysname, NULL, NULL, &status);
		if (d && status == 0)
			name = intern_copy(B, d);
		free(d); /* malloc'd by __cxa_demangle */
	}
	B->funcs =
	    grow(&B->ctx, B->funcs, &B->capfuncs, B->nfuncs + 1, sizeof(*B->funcs));
	if (B->ctx.err)
		return 0;
	Perftools__Profiles__Function *f = &B->funcs[B->nfuncs];
	perftools__profiles__function__init(f);
	f->id = ++B->nfuncs;
	f->name = name;
	f->system_name = sys;
	return *slot = (uint32_t)f->id;
}

static uint64_t mapping_id(builder_t *B, const hp_module_t *m)
{
	for (size_t i = 0; i < B->nmods; i++)
		if (B->mods[i] == m)
			return i + 1;
	return 0;
}

static Perftools__Profiles__Location *new_location(builder_t *B)
{
	B->locs = grow(&B->ctx, B->locs, &B->caplocs, B->nlocs + 1, sizeof(*B->locs));
	B->lines = grow(&B->ctx, B->lines, &B->caplines, B->nlocs + 1, sizeof(*B->lines));
	if (B->ctx.err)
		return NULL;
	Perftools__Profiles__Location *l = &B->locs[B->nlocs];
	perftools__profiles__location__init(l);
	perftools__profiles__line__init(&B->lines[B->nlocs]);
	l->id = ++B->nlocs;
	return l;
}

/* Frames are return addresses; pprof wants an address inside the call. */
static uint64_t location_id(builder_t *B, uintptr_t ret)
{
	uintptr_t pc = ret - 1;
	uint32_t *slot = idmap_slot(&B->ctx, &B->loc_ids, pc);
	if (!slot)
		return 0;
	if (*slot)
		return *slot;
	hp_module_t *m = hp_symbols_find(pc);
	const char *name = m ? hp_symbols_name(m, pc) : NULL;
	uint64_t fid = name ? function_id(B, name) : 0;
	Perftools__Profiles__Location *l = new_location(B);
	if (!l)
		return 0;
	l->address = pc;
	l->mapping_id = m ? mapping_id(B, m) : 0;
	if (fid) {
		B->lines[l->id - 1].function_id = fid;
		l->n_line = 1;
	}
	return *slot = (uint32_t)l->id;
}

/* The synthetic root frame that marks a stack cut at HEAPPROF_MAX_FRAMES. */
static uint64_t truncated_location(builder_t *B)
{
	if (B->truncated_loc)
		return B->truncated_loc;
	uint64_t fid = function_id(B, "[truncated stack: raise HEAPPROF_MAX_FRAMES]");
	Perftools__Profiles__Location *l = new_location(B);
	if (!l)
		return 0;
	B->lines[l->id - 1].function_id = fid;
	l->n_line = 1;
	return B->truncated_loc = l->id;
}

/* ---- gzip sink ------------------------------------------------------- */

typedef struct {
	ProtobufCBuffer base;
	z_stream z;
	int fd;
	int err;
	size_t nin;
	unsigned char in[1 << 16];
	unsigned char out[1 << 16];
} gz_t;

static void write_all(gz_t *g, const unsigned char *p, size_t n)
{
	while (n && !g->err) {
		ssize_t w = write(g->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			g->err = w < 0 ? -errno : -EIO;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void deflate_in(gz_t *g, int flush)
{
	g->z.next_in = g->in;
	g->z.avail_in = (uInt)g->nin;
	do {
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		int r = deflate(&g->z, flush);
		if (r == Z_STREAM_ERROR) {
			g->err = -EIO;
			return;
		}
		write_all(g, g->out, sizeof(g->out) - g->z.avail_out);
	} while (g->z.avail_out == 0 && !g->err);
	g->nin = 0;
}

static void gz_append(ProtobufCBuffer *buf, size_t len, const uint8_t *data)
{
	gz_t *g = (gz_t *)buf;
	while (len && !g->err) {
		size_t n = sizeof(g->in) - g->nin;
		if (n > len)
			n = len;
		memcpy(g->in + g->nin, data, n);
		g->nin += n;
		data += n;
		len -= n;
		if (g->nin == sizeof(g->in))
			deflate_in(g, Z_NO_FLUSH);
	}
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	size_t n;
	if (__builtin_mul_overflow(items, size, &n))
		return NULL;
	return hp_real.malloc(n); /* zlib initialises what it reads, as with its own */
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	hp_real.free(p);
}

/* ---- assembling the Profile ------------------------------------------ */

/* w may be a negative difference (in use, in a delta profile). */
static int64_t fixed_to_objects(uint64_t w)
{
	int64_t v = (int64_t)w, one = (int64_t)HP_W_ONE;
	return v >= 0 ? (v + one / 2) / one : -((-v + one / 2) / one);
}

static size_t read_cmdline(char *buf, size_t cap)
{
	/* thread-self: after main's pthread_exit, /proc/self is a zombie. */
	int fd = open("/proc/thread-self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
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

static void free_builder(builder_t *B)
{
	pp_strtab_fini(&B->st);
	hp_real.free(B->snaps);
	hp_real.free(B->locs);
	hp_real.free(B->lines);
	hp_real.free(B->funcs);
	hp_real.free(B->loc_ids.keys);
	hp_real.free(B->loc_ids.vals);
	hp_real.free(B->func_ids.keys);
	hp_real.free(B->func_ids.vals);
	hp_real.free(B->samples);
	hp_real.free(B->sample_locs);
	hp_real.free(B->sample_values);
	hp_real.free(B->maps);
	hp_real.free(B->ptrs);
}

/* The order of the steps below is the order of the string table. */

static void begin(builder_t *B)
{
	memset(B, 0, sizeof(*B));
	B->ctx.alloc = (pp_alloc_t){hp_real.realloc, hp_real.free};
	pp_strtab_init(&B->st, &B->ctx.alloc);
	B->demangle = (char *(*)(const char *, char *, size_t *, int *))dlsym(
	    RTLD_DEFAULT, "__cxa_demangle");
	intern(B, ""); /* string_table[0] must be "" */
}

/* A sample per snapped bucket: its locations (leaf first) and four values. */
static void build_samples(builder_t *B)
{
	size_t nids = 0;
	for (size_t i = 0; i < B->nsnaps; i++)
		nids += B->snaps[i].b->nframes + (B->snaps[i].b->truncated ? 1 : 0);
	size_t n = B->nsnaps ? B->nsnaps : 1;
	B->sample_locs = hp_real.malloc((nids ? nids : 1) * sizeof(*B->sample_locs));
	B->sample_values = hp_real.malloc(n * 4 * sizeof(*B->sample_values));
	B->samples = hp_real.malloc(n * sizeof(*B->samples));
	if (!B->sample_locs || !B->sample_values || !B->samples)
		B->ctx.err = -ENOMEM;
	uint64_t *ids = B->sample_locs;
	for (size_t i = 0; i < B->nsnaps && !B->ctx.err; i++) {
		const hp_bucket_t *b = B->snaps[i].b;
		const hp_counts_t *k = &B->snaps[i].c;
		Perftools__Profiles__Sample *s = &B->samples[i];
		perftools__profiles__sample__init(s);
		s->location_id = ids;
		for (uint32_t f = 0; f < b->nframes; f++)
			*ids++ = location_id(B, b->frames[f]);
		if (b->truncated)
			*ids++ = truncated_location(B);
		s->n_location_id = (size_t)(ids - s->location_id);
		s->value = B->sample_values + 4 * i;
		s->n_value = 4;
		s->value[0] = fixed_to_objects(k->alloc_count);
		s->value[1] = (int64_t)k->alloc_bytes;
		s->value[2] = fixed_to_objects(k->alloc_count - k->free_count);
		s->value[3] = (int64_t)(k->alloc_bytes - k->free_bytes);
	}
}

/* Mappings: the whole registry, so unloaded libraries keep theirs. */
static void build_mappings(builder_t *B)
{
	B->maps = hp_real.calloc(B->nmods + 1, sizeof(*B->maps));
	if (!B->maps)
		B->ctx.err = -ENOMEM;
	for (size_t i = 0; i < B->nmods && !B->ctx.err; i++) {
		Perftools__Profiles__Mapping *m = &B->maps[i];
		perftools__profiles__mapping__init(m);
		m->id = i + 1;
		m->memory_start = B->mods[i]->start;
		m->memory_limit = B->mods[i]->limit;
		m->file_offset = B->mods[i]->offset;
		m->filename = intern(B, B->mods[i]->path);
		m->build_id = intern(B, B->mods[i]->build_id);
	}
}

/* Go's four heap sample types, in Go's order, and the period's type. */
static void build_types(builder_t *B)
{
	static const char *const names[5][2] = {{"alloc_objects", "count"},
	                                        {"alloc_space", "bytes"},
	                                        {"inuse_objects", "count"},
	                                        {"inuse_space", "bytes"},
	                                        {"space", "bytes"}};
	for (int i = 0; i < 5; i++) {
		perftools__profiles__value_type__init(&B->types[i]);
		B->types[i].type = intern(B, names[i][0]);
		B->types[i].unit = intern(B, names[i][1]);
		if (i < 4)
			B->type_ptrs[i] = &B->types[i];
	}
}

static int64_t fmt_comment(builder_t *B, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int64_t fmt_comment(builder_t *B, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	hp_vfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return intern_copy(B, buf);
}

/* What pprof shows under the profile: who wrote it, when, how sampled. */
static void build_comments(builder_t *B, const hp_profile_opts_t *o)
{
	char cmd[2048];
	if (!read_cmdline(cmd, sizeof(cmd)))
		hp_fmt(cmd, sizeof(cmd), "?");
	int64_t *c = B->comments;
	*c++ = fmt_comment(B, "libheapprof %s", PACKAGE_VERSION);
	*c++ = fmt_comment(B, "trigger: %s", o->trigger);
	*c++ = fmt_comment(B, "pid: %d", (int)getpid());
	*c++ = fmt_comment(B, "sampling rate: %llu bytes%s", (unsigned long long)o->rate,
	                   o->rate == 1 ? " (every allocation)" : "");
	*c++ = fmt_comment(B, "command line: %s", cmd);
	*c++ = fmt_comment(B, "stacks: %zu", B->nsnaps);
	if (o->in_use_ns)
		*c++ = fmt_comment(
		    B, "in use: %lld bytes (estimated) at unix time %llu.%09llu",
		    (long long)o->in_use, (unsigned long long)(o->in_use_ns / 1000000000),
		    (unsigned long long)(o->in_use_ns % 1000000000));
	if (o->rate && !hp_sampler_active())
		*c++ = fmt_comment(B, "sampling stopped early: profiler metadata "
		                      "exhausted; later allocations are not counted");
	B->ncomments = (size_t)(c - B->comments);
}

static void fill_header(builder_t *B, const hp_profile_opts_t *o,
                        Perftools__Profiles__Profile *p)
{
	p->drop_frames = intern(B, drop_frames);
	p->default_sample_type = B->types[3].type;
	for (int i = 0; i < 4 && o->default_type; i++)
		if (!strcmp(B->st.s[B->types[i].type], o->default_type))
			p->default_sample_type = B->types[i].type;
	p->period_type = &B->types[4];
	p->period = (int64_t)o->rate;
	uint64_t now = hp_now_ns();
	p->time_nanos = (int64_t)now;
	p->duration_nanos = (int64_t)(now - o->start_ns);
	p->n_sample_type = 4;
	p->sample_type = B->type_ptrs;
	p->n_comment = B->ncomments;
	p->comment = B->comments;
	p->string_table = B->st.s;
	p->n_string_table = B->st.n;
}

/* protobuf-c wants arrays of pointers: one block holds them all. */
static void link_arrays(builder_t *B, Perftools__Profiles__Profile *p)
{
	size_t nptrs = B->nsnaps + B->nmods + B->nlocs * 2 + B->nfuncs + 4;
	void **q = B->ptrs = hp_real.malloc(nptrs * sizeof(*q));
	if (!q) {
		B->ctx.err = -ENOMEM;
		return;
	}
	p->sample = (Perftools__Profiles__Sample **)q;
	p->n_sample = B->nsnaps;
	for (size_t i = 0; i < B->nsnaps; i++)
		*q++ = &B->samples[i];
	p->mapping = (Perftools__Profiles__Mapping **)q;
	p->n_mapping = B->nmods;
	for (size_t i = 0; i < B->nmods; i++)
		*q++ = &B->maps[i];
	p->location = (Perftools__Profiles__Location **)q;
	p->n_location = B->nlocs;
	for (size_t i = 0; i < B->nlocs; i++)
		*q++ = &B->locs[i];
	void **linep = q;
	for (size_t i = 0; i < B->nlocs; i++) {
		*q++ = &B->lines[i];
		B->locs[i].line = (Perftools__Profiles__Line **)&linep[i];
	}
	p->function = (Perftools__Profiles__Function **)q;
	p->n_function = B->nfuncs;
	for (size_t i = 0; i < B->nfuncs; i++)
		*q++ = &B->funcs[i];
}

/* Packs p through deflate (gzip framing, as pprof requires) into fd. */
static int write_gzipped(int fd, const Perftools__Profiles__Profile *p)
{
	gz_t *g = hp_real.calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->base.append = gz_append;
	g->fd = fd;
	g->z.zalloc = z_alloc;
	g->z.zfree = z_free;
	int err = -ENOMEM;
	/* windowBits 16 + 15: gzip framing. */
	if (deflateInit2(&g->z, Z_BEST_SPEED, Z_DEFLATED, 16 + 15, 8,
	                 Z_DEFAULT_STRATEGY) == Z_OK) {
		protobuf_c_message_pack_to_buffer(&p->base, &g->base);
		if (!g->err)
			deflate_in(g, Z_FINISH);
		deflateEnd(&g->z);
		err = g->err;
	}
	hp_real.free(g);
	return err;
}

int hp_profile_write(int fd, const hp_profile_opts_t *o)
{
	builder_t B;
	begin(&B);
	B.opts = o;
	hp_symbols_refresh();
	B.nmods = hp_symbols_modules(&B.mods);
	hp_stack_table_foreach(snapshot_one, &B);
	build_samples(&B);
	build_mappings(&B);
	build_types(&B);
	build_comments(&B, o);
	Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	fill_header(&B, o, &p);
	if (!B.ctx.err)
		link_arrays(&B, &p);
	int err = B.ctx.err ? B.ctx.err : write_gzipped(fd, &p);
	free_builder(&B);
	return err;
}
