/* SPDX-License-Identifier: MIT */
/*
 * rulecache: the walker's rules across processes (rulecache.h). The file is
 * /tmp/heapprof-<euid>/rules1-<program's build ID> (1: the format's): a
 * header, then one entry per object (its build ID, and which of the rules
 * are its), then the rules, 16 bytes each (the offset of the return address
 * from the object's load address, and the rule as unwind_fast.c packs it),
 * sorted by offset within each object. It is read into memory of its own at
 * start-up, not mapped: a file cut short under a mapping would fault.
 */
#include "rulecache.h"
#include "common.h"
#include "sys.h"
#include "log.h"
#include "proc_record.h"
#include "scratch.h"
#include "symbols.h"
#include "unwind_fast.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAGIC     "HPRULE1" /* with its NUL, 8 bytes */
#define MAX_MODS  256
#define MAX_RULES (1u << 20)
/*
 * A process writes the file again when it learnt at least NEW_MIN rules the
 * file lacks: the first processes of a build write it, and it soon stops
 * changing. Fewer are learnt again by each process (2,900 instructions
 * each), which costs less than writing a file.
 */
#define NEW_MIN 8

typedef struct {
	char magic[8];
	uint32_t nmods, nrules;
	uint64_t reserved;
} hdr_t;

typedef struct {
	char build_id[sizeof(((hp_module_t *)0)->build_id) + 7];
	uint32_t first, count; /* its rules: [first, first + count) */
} mod_t;

typedef struct {
	uint32_t off, zero;
	uint64_t rule;
} entry_t;

_Static_assert(sizeof(hdr_t) == 24 && sizeof(mod_t) == 144 && sizeof(entry_t) == 16,
               "the file's layout");

/* An object's rules as read: the return addresses in [lo, lo + span). */
typedef struct {
	uintptr_t lo, span, bias;
	const entry_t *e;
	uint32_t n;
	uint32_t mod; /* the first registry index with the object's build ID */
} seg_t;

HP_LARGE static seg_t segs[MAX_MODS];
static _Atomic unsigned nsegs;
/*
 * The file's rules answer lookups until code is unloaded: an object loaded
 * at start-up (by an earlier constructor's dlopen) may go, and another take
 * its addresses. They still go into the file written at exit, under their
 * own build IDs.
 */
static atomic_bool usable;
static atomic_bool refused;   /* a lookup found a rule of a wrong shape */
static size_t nstartup;       /* the registry's objects at start-up */
static unsigned long learnt0; /* the walker's count at start-up or fork */

/* The file's path for the program m into buf (euid's directory); false
 * without a build ID. */
static bool path_of(const hp_module_t *m, unsigned euid, char *buf, size_t len)
{
	char dir[64];
	if (!m->build_id[0])
		return false;
	hp_fmt(dir, sizeof(dir), HP_PROC_RECORD_DIR_FMT, euid);
	return hp_fmt(buf, len, "%s/rules1-%s", dir, m->build_id) < len - 1;
}

/*
 * Does the file (len bytes at h) hold what its header says, as this file
 * writes it: each object's rules after the one before's, a build ID each,
 * offsets strictly increasing? Each rule's shape is checked when a lookup
 * finds it (hp_rulecache_find), not here: a compile's process loads
 * hundreds of rules and looks up a few.
 */
static bool valid(const hdr_t *h, size_t len)
{
	if (memcmp(h->magic, MAGIC, sizeof(h->magic)) || h->nmods > MAX_MODS ||
	    h->nrules > MAX_RULES ||
	    len != sizeof(*h) + h->nmods * sizeof(mod_t) + h->nrules * sizeof(entry_t))
		return false;
	const mod_t *m = (const mod_t *)(h + 1);
	const entry_t *e = (const entry_t *)(m + h->nmods);
	uint32_t next = 0;
	for (uint32_t i = 0; i < h->nmods; i++) {
		if (!m[i].build_id[0] ||
		    !memchr(m[i].build_id, 0, sizeof(m[i].build_id)) ||
		    m[i].first != next || !m[i].count || m[i].count > h->nrules - next)
			return false;
		for (uint32_t j = next; j < next + m[i].count; j++)
			if ((j > next && e[j].off <= e[j - 1].off) || e[j].zero)
				return false;
		next += m[i].count;
	}
	return next == h->nrules;
}

/* Two build IDs (hex) equal: the first bytes tell most apart. */
static bool same_id(const char *a, const char *b)
{
	return a[0] == b[0] && a[1] == b[1] && !strcmp(a, b);
}

/* The first of the n registry entries with m's build ID: an object's
 * executable segments, or the object loaded twice, share one. */
static uint32_t first_with(hp_module_t *const *mods, size_t n, const hp_module_t *m)
{
	for (size_t j = 0; j < n; j++)
		if (same_id(mods[j]->build_id, m->build_id))
			return (uint32_t)j;
	return UINT32_MAX;
}

/*
 * The rules of the file's objects that this process loaded at start-up (its
 * n registry entries): each entry with the object's build ID gets them,
 * with its own range and load address (the offsets are from that).
 */
static void attach(const hdr_t *h, hp_module_t *const *mods, size_t n)
{
	const mod_t *fm = (const mod_t *)(h + 1);
	const entry_t *e = (const entry_t *)(fm + h->nmods);
	unsigned k = 0;
	for (size_t j = 0; j < n && k < MAX_MODS; j++) {
		const hp_module_t *m = mods[j];
		for (uint32_t i = 0; m->build_id[0] && i < h->nmods; i++) {
			if (!same_id(fm[i].build_id, m->build_id))
				continue;
			segs[k++] = (seg_t){m->start,    m->limit - m->start,
			                    m->bias,     e + fm[i].first,
			                    fm[i].count, first_with(mods, n, m)};
			break;
		}
	}
	atomic_store_explicit(&usable, true, memory_order_relaxed);
	atomic_store_explicit(&nsegs, k, memory_order_release);
}

/* Reads fd (len bytes) whole into memory of its own and attaches its rules. */
static void read_rules(int fd, size_t len, hp_module_t *const *mods, size_t n)
{
	void *p = hp_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
	                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	size_t got = 0;
	while (got < len) {
		ssize_t r = hp_sys_pread(fd, (char *)p + got, len - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got == len && valid(p, len)) {
		attach(p, mods, n);
		hp_sys_mprotect(p, len, PROT_READ);
	} else {
		hp_sys_munmap(p, len);
	}
}

void hp_rulecache_load(void)
{
	hp_module_t *const *mods;
	size_t n = hp_symbols_modules(&mods), len;
	char path[256];
	learnt0 = hp_unwind_fast_learnt();
	nstartup = n;
	/* The auxiliary vector's user: no system call in every process (the
	 * first lookup of a file most programs never have). */
	unsigned euid = (unsigned)getauxval(AT_EUID);
	if (!n || !path_of(mods[0], euid, path, sizeof(path)))
		return;
	int saved = errno;
	int fd = hp_open_own(
	    path, euid, sizeof(hdr_t),
	    sizeof(hdr_t) + MAX_MODS * sizeof(mod_t) + MAX_RULES * sizeof(entry_t), &len);
	if (fd >= 0) {
		read_rules(fd, len, mods, n);
		hp_sys_close(fd);
	}
	errno = saved;
}

void hp_rulecache_forget(void)
{
	atomic_store_explicit(&usable, false, memory_order_relaxed);
}

/* The file's rule of pc: for lookups, or for the file written at exit. */
static bool kept_rule(uintptr_t pc, uint64_t *rule)
{
	unsigned n = atomic_load_explicit(&nsegs, memory_order_acquire);
	for (unsigned i = 0; i < n; i++) {
		const seg_t *s = &segs[i];
		if (pc - s->lo >= s->span)
			continue;
		uintptr_t off = pc - s->bias;
		size_t lo = 0, hi = s->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (s->e[mid].off < off)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == s->n || s->e[lo].off != off)
			return false;
		*rule = s->e[lo].rule;
		return true;
	}
	return false;
}

bool hp_rulecache_find(uintptr_t pc, uint64_t *rule)
{
	if (!atomic_load_explicit(&usable, memory_order_relaxed) || !kept_rule(pc, rule))
		return false;
	if (hp_likely(hp_unwind_fast_rule_ok(*rule)))
		return true;
	/* The file is written again at exit, without it. */
	atomic_store_explicit(&refused, true, memory_order_relaxed);
	return false;
}

void hp_rulecache_postfork_child(void)
{
	learnt0 = hp_unwind_fast_learnt();
	/* The parent mends the file; its children do not all write it again. */
	if (atomic_load_explicit(&refused, memory_order_relaxed))
		atomic_store_explicit(&refused, false, memory_order_relaxed);
}

/* ---- writing ------------------------------------------------------------ */

/* A rule the file lacks: its object (the registry's index), its address. */
typedef struct {
	uint32_t mod, off;
	uint64_t rule;
} item_t;

typedef struct {
	hp_module_t *const *mods;
	size_t nmods; /* those loaded at start-up */
	item_t *v;    /* the rules the file lacks */
	size_t n, cap;
	bool failed;
} gather_t;

/* Room for one more rule in g; false (and g failed) if there is none. */
static bool room(gather_t *g)
{
	if (g->n < g->cap)
		return true;
	size_t cap = g->cap ? 2 * g->cap : 256;
	item_t *v = cap > MAX_RULES ? NULL : hp_scratch_realloc(g->v, cap * sizeof(*v));
	if (!v)
		return !(g->failed = true);
	g->v = v;
	g->cap = cap;
	return true;
}

/*
 * unwind_fast's rule of pc, if the file lacks it and the object holding pc
 * now (the registry refreshed: not one unloaded since) was loaded at
 * start-up; filed under the first entry with its build ID.
 */
static void add_learnt(uintptr_t pc, uint64_t rule, void *arg)
{
	gather_t *g = arg;
	uint64_t kept;
	const hp_module_t *m = hp_symbols_find(pc);
	if (g->failed || !m || !m->build_id[0] || pc - m->bias > UINT32_MAX ||
	    !hp_unwind_fast_rule_ok(rule) ||
	    (kept_rule(pc, &kept) && hp_unwind_fast_rule_ok(kept)))
		return; /* nor one of a shape lookups refuse (libunwind's) */
	for (size_t i = 0; i < g->nmods; i++)
		if (g->mods[i] == m && room(g)) {
			g->v[g->n++] = (item_t){first_with(g->mods, g->nmods, m),
			                        (uint32_t)(pc - m->bias), rule};
			return;
		}
}

/* Does x go before y: by object, then address. */
static bool before(const item_t *x, const item_t *y)
{
	return x->mod != y->mod ? x->mod < y->mod : x->off < y->off;
}

/* Moves v[i] down the heap v[0..n) (a heap of the largest first). */
static void sift(item_t *v, size_t i, size_t n)
{
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && before(&v[c], &v[c + 1]))
			c++;
		if (!before(&v[i], &v[c]))
			return;
		item_t t = v[i];
		v[i] = v[c];
		v[c] = t;
	}
}

/*
 * Sorts g's rules (heapsort, in place: glibc's qsort sorts more than 1 KiB
 * in a buffer from malloc, the program's heap through this library's
 * wrappers, 356,000 instructions for 200 rules in clang's exit) and keeps
 * one per address (two threads may have learnt one address at once); how
 * many are left.
 */
static size_t unique(gather_t *g)
{
	item_t *v = g->v;
	for (size_t i = g->n / 2; i-- > 0;)
		sift(v, i, g->n);
	for (size_t end = g->n; end-- > 1;) {
		item_t t = v[0];
		v[0] = v[end];
		v[end] = t;
		sift(v, 0, end);
	}
	size_t k = 0;
	for (size_t i = 0; i < g->n; i++)
		if (!k || v[k - 1].mod != v[i].mod || v[k - 1].off != v[i].off)
			v[k++] = v[i];
	return g->n = k;
}

/* The file's rules of the registry's object mod, or NULL. */
static const seg_t *seg_of(uint32_t mod)
{
	unsigned n = atomic_load_explicit(&nsegs, memory_order_acquire);
	for (unsigned i = 0; i < n; i++)
		if (segs[i].mod == mod)
			return &segs[i];
	return NULL;
}

/*
 * Appends to e[*n] object mod's rules: the file's (s, sorted; those of a
 * shape the walker refuses left out) merged with the new ones (v[0..nv),
 * sorted); how many.
 */
static uint32_t merge(const seg_t *s, const item_t *v, size_t nv, entry_t *e, uint32_t *n)
{
	uint32_t start = *n, a = 0, na = s ? s->n : 0;
	size_t b = 0;
	while (a < na || b < nv) {
		if (b == nv || (a < na && s->e[a].off < v[b].off)) {
			if (hp_unwind_fast_rule_ok(s->e[a].rule))
				e[(*n)++] = (entry_t){s->e[a].off, 0, s->e[a].rule};
			a++;
		} else
			e[(*n)++] = (entry_t){v[b].off, 0, v[b++].rule};
	}
	return *n - start;
}

/* The file's rules and g's (sorted, by first entry with a build ID) to
 * path, object by object; nothing if they are more than a file holds. */
static void write_rules(const gather_t *g, const char *path)
{
	size_t total = g->n;
	for (unsigned i = 0; i < atomic_load(&nsegs); i++)
		total += segs[i].n;
	mod_t *m =
	    total <= MAX_RULES ? hp_scratch_realloc(NULL, MAX_MODS * sizeof(*m)) : NULL;
	entry_t *e = m ? hp_scratch_realloc(NULL, total * sizeof(*e)) : NULL;
	hdr_t h = {.magic = MAGIC};
	size_t b = 0;
	for (uint32_t mod = 0; e && mod < g->nmods && h.nmods < MAX_MODS; mod++) {
		size_t nv = 0;
		while (b + nv < g->n && g->v[b + nv].mod == mod)
			nv++;
		mod_t *o = &m[h.nmods];
		memset(o, 0, sizeof(*o));
		o->first = h.nrules;
		o->count = merge(seg_of(mod), g->v + b, nv, e, &h.nrules);
		b += nv;
		if (o->count) {
			memcpy(o->build_id, g->mods[mod]->build_id,
			       sizeof(g->mods[mod]->build_id));
			h.nmods++;
		}
	}
	if (e) {
		struct iovec v[3] = {{&h, sizeof(h)},
		                     {m, h.nmods * sizeof(*m)},
		                     {e, h.nrules * sizeof(*e)}};
		hp_replace_file(path, v, 3);
	}
	hp_scratch_free(m);
	hp_scratch_free(e);
}

void hp_rulecache_store(void)
{
	bool mend = atomic_load_explicit(&refused, memory_order_relaxed);
	if (!nstartup || (hp_unwind_fast_learnt() - learnt0 < NEW_MIN && !mend))
		return;
	gather_t g = {0};
	g.nmods = hp_symbols_modules(&g.mods);
	if (g.nmods > nstartup)
		g.nmods = nstartup;
	char path[256], dir[64];
	if (!g.nmods ||
	    !path_of(g.mods[0], (unsigned)hp_sys_geteuid(), path, sizeof(path)))
		return;
	int saved = errno;
	hp_symbols_refresh(); /* which objects hold the addresses now */
	hp_unwind_fast_each(add_learnt, &g);
	if (!g.failed && (unique(&g) >= NEW_MIN || mend) &&
	    !hp_proc_record_private_dir(dir, sizeof(dir)))
		write_rules(&g, path);
	hp_scratch_free(g.v);
	errno = saved;
}
