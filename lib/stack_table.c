/* SPDX-License-Identifier: MIT */
/*
 * stack_table: an array of chain heads, grown from 2^10 to 2^17 as stacks
 * come, with 256 insert locks. Lookups walk the chain without a
 * lock; only creating a bucket takes the lock of its head. Counters are per
 * thread: each thread owns a slab of tallies, one per bucket it sampled,
 * found through the slab's own index and summed by readers through the
 * bucket's list of tallies. So no application thread writes a line another
 * writes per sample, nor waits for the dumper. A thread's slab goes back to
 * a free list at its exit (a pthread key destructor) and the next new thread
 * carries on counting in it: the counts stay, and slabs number the threads
 * alive at once, not all threads ever.
 */
#include "stack_table.h"
#include "backing.h"
#include "common.h"
#include "sys.h"
#include "meta_alloc.h"
#include "sampler.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * The heads start at 2^10 (8 KiB, in BSS) and grow by 8 times when the
 * buckets number twice the heads, up to 2^17. One array of 2^17 from the
 * start put each of a process's first few hundred stacks on a page of its
 * own: about 130 page faults in each of a build's compiles, the page read
 * (the zero page) and then written. A growth holds every insert lock and
 * relinks each bucket into the new array; a lookup without a lock that
 * meanwhile follows a link into another chain misses, and finds the bucket
 * again under the lock. An array replaced is kept: a lookup may still
 * read it.
 */
#define FIRST_LOG2 10
#define GROW_LOG2  3
#define HEADS_LOG2 17
#define LOCKS_LOG2 8 /* at most FIRST_LOG2: a head's lock is its hash's top bits */
#define LOCKS      (1u << LOCKS_LOG2)
_Static_assert(LOCKS_LOG2 <= FIRST_LOG2, "a head's stacks share their top bits");

typedef struct {
	hp_bucket_t *_Atomic *head;
	unsigned log2;
} heads_t;

HP_LARGE static hp_bucket_t *_Atomic first_heads[1u << FIRST_LOG2];
static heads_t arrays[4] = {{first_heads, FIRST_LOG2}}; /* 10, 13, 16, 17 */
static heads_t *_Atomic heads = &arrays[0];
static hp_lock_t grow_lock;
HP_LARGE static hp_lock_t locks[LOCKS];
static atomic_size_t count;
/* Every bucket, so a dump visits the buckets, not all the heads (whose
 * untouched pages would otherwise become resident). */
static hp_bucket_t *_Atomic all;

/*
 * One thread's counters for one bucket. Only the slab's owner writes them
 * (a load and a release store: no locked instruction); readers load them.
 * Cumulative, never reset, so a slab changing owner changes nothing.
 */
typedef struct hp_tally {
	_Atomic uint64_t alloc_count, alloc_bytes, free_count, free_bytes;
	const hp_bucket_t *bucket; /* the index's key */
	struct hp_tally *next;     /* the bucket's list; set before the push */
} tally_t;

#define CHUNK_TALLIES 21 /* 1008 bytes: a slab's tallies come in line-aligned chunks */
#define INDEX_MIN     16

/* A thread's tallies. Owned by one thread at a time; fields are the owner's. */
typedef struct slab {
	tally_t **index; /* open addressing by bucket address, half full at most */
	size_t cap, used;
	_Atomic uint64_t samples; /* allocations sampled by its owners: /metrics */
	tally_t *chunk;           /* the next free tallies, chunk_left of them */
	size_t chunk_left;
	struct slab *next_all, *next_free; /* guarded by slabs_lock */
} slab_t;

static _Atomic uint64_t samples_unslabbed; /* by threads without a slab */
static hp_lock_t slabs_lock;
static slab_t *all_slabs, *free_slabs; /* guarded by slabs_lock */
static pthread_key_t slab_key;
static int key_state; /* 0 not made, 1 made, -1 failed; guarded by slabs_lock */
static HP_TLS slab_t *mine;

/* A multiply and a rotate per frame, one full mix at the end: every frame
 * still reaches every bit of the head index, in a third of the instructions
 * of a full mix per frame. */
static uint64_t hash_frames(const uintptr_t *f, unsigned n, bool truncated)
{
	uint64_t h = 0x243f6a8885a308d3ULL ^ n ^ ((uint64_t)truncated << 40);
	for (unsigned i = 0; i < n; i++) {
		h = (h ^ f[i]) * 0x9e3779b97f4a7c15ULL;
		h = h << 29 | h >> 35;
	}
	return hp_mix64(h);
}

/* A loop, not memcmp: stacks are a few frames, shorter than memcmp's setup. */
static bool same_frames(const uintptr_t *a, const uintptr_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static hp_bucket_t *find(hp_bucket_t *b, uint64_t h, const uintptr_t *f, unsigned n,
                         bool truncated)
{
	for (; b; b = atomic_load_explicit(&b->next, memory_order_acquire))
		if (b->hash == h && b->nframes == n && b->truncated == truncated &&
		    same_frames(b->frames, f, n))
			return b;
	return NULL;
}

static hp_bucket_t *_Atomic *head_of(const heads_t *t, uint64_t h)
{
	return &t->head[h >> (64 - t->log2)];
}

/*
 * Replaces the heads t by 8 times as many, every bucket relinked. Called
 * with no insert lock held; one thread at a time, and none waits for it.
 */
static void grow(heads_t *t)
{
	size_t at = (size_t)(t - arrays) + 1;
	if (t->log2 >= HEADS_LOG2 || at >= HP_ARRAY_SIZE(arrays) ||
	    !hp_trylock(&grow_lock))
		return;
	unsigned log2 =
	    t->log2 + GROW_LOG2 < HEADS_LOG2 ? t->log2 + GROW_LOG2 : HEADS_LOG2;
	void *p = MAP_FAILED;
	if (atomic_load_explicit(&heads, memory_order_relaxed) == t)
		p = hp_sys_mmap(NULL, sizeof(*t->head) << log2, PROT_READ | PROT_WRITE,
		                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED) {
		heads_t *g = &arrays[at];
		*g = (heads_t){p, log2};
		for (unsigned i = 0; i < LOCKS; i++)
			hp_lock(&locks[i]);
		for (hp_bucket_t *b = atomic_load_explicit(&all, memory_order_relaxed); b;
		     b = b->all) {
			hp_bucket_t *_Atomic *head = head_of(g, b->hash);
			atomic_store_explicit(
			    &b->next, atomic_load_explicit(head, memory_order_relaxed),
			    memory_order_release);
			atomic_store_explicit(head, b, memory_order_relaxed);
		}
		atomic_store_explicit(&heads, g, memory_order_release);
		for (unsigned i = LOCKS; i-- > 0;)
			hp_unlock(&locks[i]);
	}
	hp_unlock(&grow_lock);
}

hp_bucket_t *hp_stack_table_intern(const uintptr_t *f, unsigned n, bool truncated)
{
	uint64_t h = hash_frames(f, n, truncated);
	heads_t *t = atomic_load_explicit(&heads, memory_order_acquire);
	hp_bucket_t *b = find(atomic_load_explicit(head_of(t, h), memory_order_acquire),
	                      h, f, n, truncated);
	if (b)
		return b;
	/* The lock of the head in every array: two stacks on one head, whatever
	 * their number, never insert under two locks. */
	hp_lock_t *l = &locks[h >> (64 - LOCKS_LOG2)];
	hp_lock(l);
	/* Stable while an insert lock is held: a growth holds them all. */
	t = atomic_load_explicit(&heads, memory_order_acquire);
	hp_bucket_t *_Atomic *head = head_of(t, h);
	hp_bucket_t *first = atomic_load_explicit(head, memory_order_relaxed);
	b = find(first, h, f, n, truncated); /* another thread may have won */
	bool grow_now = false;
	if (!b) {
		b = hp_meta_alloc_lines(offsetof(hp_bucket_t, frames) + n * sizeof(*f));
		if (b) {
			b->hash = h;
			b->nframes = n;
			b->truncated = truncated;
			memcpy(b->frames, f, n * sizeof(*f));
			atomic_store_explicit(&b->next, first, memory_order_relaxed);
			atomic_store_explicit(head, b, memory_order_release);
			b->all = atomic_load_explicit(&all, memory_order_relaxed);
			while (!atomic_compare_exchange_weak_explicit(
			    &all, &b->all, b, memory_order_release, memory_order_relaxed))
				;
			if (atomic_fetch_add_explicit(&count, 1, memory_order_relaxed) +
			        1 >
			    (size_t)2 << t->log2)
				grow_now = true;
		}
	}
	hp_unlock(l);
	if (grow_now)
		grow(t);
	return b;
}

static size_t slot_of(const hp_bucket_t *b, size_t cap)
{
	return ((uintptr_t)b >> 6) & (cap - 1); /* buckets are distinct lines */
}

static int grow_index(slab_t *s)
{
	size_t cap = s->cap ? s->cap * 2 : INDEX_MIN;
	tally_t **x = hp_meta_alloc_lines(cap * sizeof(*x));
	if (!x)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->index[i])
			continue;
		size_t j = slot_of(s->index[i]->bucket, cap);
		while (x[j])
			j = (j + 1) & (cap - 1);
		x[j] = s->index[i];
	}
	/* Indexes under 4 KiB are immortal (meta_alloc): at most 4 KiB a slab. */
	hp_meta_free(s->index, s->cap * sizeof(*x));
	s->index = x;
	s->cap = cap;
	return 0;
}

/* The key's destructor: the exiting thread gives its slab to the next one. */
static void release(void *arg)
{
	slab_t *s = arg;
	if (mine == s)
		mine = NULL; /* a later sample of this thread takes another */
	hp_lock(&slabs_lock);
	s->next_free = free_slabs;
	free_slabs = s;
	hp_unlock(&slabs_lock);
}

static HP_NOINLINE slab_t *adopt(void)
{
	hp_lock(&slabs_lock);
	if (!key_state)
		key_state = pthread_key_create(&slab_key, release) ? -1 : 1;
	slab_t *s = free_slabs;
	if (s) {
		free_slabs = s->next_free;
	} else if ((s = hp_meta_alloc_lines(sizeof(*s)))) {
		s->next_all = all_slabs;
		all_slabs = s;
	}
	/* A slab in use always has an index: the fast path tests no capacity. */
	if (s && !s->cap && grow_index(s)) {
		s->next_free = free_slabs;
		free_slabs = s;
		s = NULL;
	}
	bool keyed = key_state > 0;
	hp_unlock(&slabs_lock);
	if (!s)
		return NULL;
	mine = s;
	/* Without the key (or if this fails) the slab outlives its thread:
	 * memory, not counts, is lost. The guard: a key past the first 32
	 * makes glibc allocate here. */
	hp_guard_enter();
	if (keyed)
		pthread_setspecific(slab_key, s);
	hp_guard_exit();
	return s;
}

/* A new tally for b in s, indexed and on b's list; NULL without memory. */
static HP_NOINLINE tally_t *new_tally(slab_t *s, hp_bucket_t *b)
{
	if ((s->used + 1) * 2 > s->cap && grow_index(s))
		return NULL;
	if (!s->chunk_left) {
		s->chunk = hp_meta_alloc_lines(CHUNK_TALLIES * sizeof(tally_t));
		if (!s->chunk)
			return NULL;
		s->chunk_left = CHUNK_TALLIES;
	}
	tally_t *t = s->chunk++;
	s->chunk_left--;
	t->bucket = b;
	size_t i = slot_of(b, s->cap);
	while (s->index[i])
		i = (i + 1) & (s->cap - 1);
	s->index[i] = t;
	s->used++;
	t->next = atomic_load_explicit(&b->tallies, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
	    &b->tallies, &t->next, t, memory_order_release, memory_order_relaxed))
		;
	return t;
}

/* The calling thread's tally of b, if it has one: no call, no lock. */
static inline tally_t *known_tally(const hp_bucket_t *b)
{
	slab_t *s = mine;
	if (hp_unlikely(!s))
		return NULL;
	for (size_t i = slot_of(b, s->cap); s->index[i]; i = (i + 1) & (s->cap - 1))
		if (s->index[i]->bucket == b)
			return s->index[i];
	return NULL;
}

/* Single writer: a load and a release store, not a locked add. */
static void bump(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
	                      memory_order_release);
}

/*
 * The thread's first sample, or its first of b: take a slab, make the tally.
 * Without memory for either, the bucket's shared counters take the sample.
 */
static HP_NOINLINE void add_slow(hp_bucket_t *b, uint64_t cw, uint64_t bw, bool is_free)
{
	slab_t *s = mine ? mine : adopt();
	tally_t *t = s ? known_tally(b) : NULL;
	if (s && !t)
		t = new_tally(s, b);
	if (!is_free)
		s ? bump(&s->samples, 1)
		  : (void)atomic_fetch_add_explicit(&samples_unslabbed, 1,
		                                    memory_order_relaxed);
	if (t) {
		bump(is_free ? &t->free_bytes : &t->alloc_bytes, bw);
		bump(is_free ? &t->free_count : &t->alloc_count, cw);
	} else {
		atomic_fetch_add_explicit(is_free ? &b->free_count : &b->alloc_count, cw,
		                          memory_order_release);
		atomic_fetch_add_explicit(is_free ? &b->free_bytes : &b->alloc_bytes, bw,
		                          memory_order_release);
	}
}

void hp_stack_table_add_alloc(hp_bucket_t *b, uint64_t cw, uint64_t bw)
{
	tally_t *t = known_tally(b);
	if (hp_unlikely(!t)) {
		add_slow(b, cw, bw, false);
		return;
	}
	bump(&t->alloc_bytes, bw);
	bump(&t->alloc_count, cw);
	bump(&mine->samples, 1);
}

uint64_t hp_stack_table_samples(void)
{
	uint64_t n = atomic_load_explicit(&samples_unslabbed, memory_order_relaxed);
	hp_lock(&slabs_lock);
	for (slab_t *s = all_slabs; s; s = s->next_all)
		n += atomic_load_explicit(&s->samples, memory_order_relaxed);
	hp_unlock(&slabs_lock);
	return n;
}

void hp_stack_table_add_free(hp_bucket_t *b, uint64_t cw, uint64_t bw)
{
	tally_t *t = known_tally(b);
	if (hp_unlikely(!t)) {
		add_slow(b, cw, bw, true);
		return;
	}
	bump(&t->free_bytes, bw);
	bump(&t->free_count, cw);
}

static uint64_t load(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_acquire);
}

void hp_stack_table_counts_sub(hp_counts_t *c, const hp_counts_t *base)
{
	c->alloc_count -= base->alloc_count;
	c->alloc_bytes -= base->alloc_bytes;
	c->free_count -= base->free_count;
	c->free_bytes -= base->free_bytes;
	c->contentions -= base->contentions;
	c->delay -= base->delay;
}

bool hp_stack_table_counts_zero(const hp_counts_t *c)
{
	return !c->alloc_count && !c->alloc_bytes && !c->free_count && !c->free_bytes &&
	       !c->contentions && !c->delay;
}

/*
 * Frees first, from every tally, then allocs, from a list loaded again: a
 * free seen (acquire) was stored after its allocation's store, by the
 * freeing thread after the allocating one (the live map or the program
 * passed the block between them), so the second pass sees that allocation,
 * even in a tally pushed after the first pass began.
 */
void hp_stack_table_read(const hp_bucket_t *b, hp_counts_t *o)
{
	hp_bucket_t *m = (hp_bucket_t *)b;
	o->contentions = o->delay = 0;
	o->free_count = load(&m->free_count);
	o->free_bytes = load(&m->free_bytes);
	for (tally_t *t = atomic_load_explicit(&m->tallies, memory_order_acquire); t;
	     t = t->next) {
		o->free_count += load(&t->free_count);
		o->free_bytes += load(&t->free_bytes);
	}
	o->alloc_count = load(&m->alloc_count);
	o->alloc_bytes = load(&m->alloc_bytes);
	for (tally_t *t = atomic_load_explicit(&m->tallies, memory_order_acquire); t;
	     t = t->next) {
		o->alloc_count += load(&t->alloc_count);
		o->alloc_bytes += load(&t->alloc_bytes);
	}
	/* The order above already keeps free <= alloc; clamp in case of a bug
	 * elsewhere. */
	if (o->free_count > o->alloc_count)
		o->free_count = o->alloc_count;
	if (o->free_bytes > o->alloc_bytes)
		o->free_bytes = o->alloc_bytes;
}

void hp_stack_table_foreach(void (*fn)(const hp_bucket_t *, void *), void *arg)
{
	for (hp_bucket_t *b = atomic_load_explicit(&all, memory_order_acquire); b;
	     b = b->all)
		fn(b, arg);
}

const hp_bucket_t *hp_stack_table_newest(void)
{
	return atomic_load_explicit(&all, memory_order_acquire);
}

const hp_bucket_t *hp_stack_table_foreach_since(const hp_bucket_t *old,
                                                void (*fn)(const hp_bucket_t *, void *),
                                                void *arg)
{
	hp_bucket_t *newest = atomic_load_explicit(&all, memory_order_acquire);
	for (hp_bucket_t *b = newest; b && b != old; b = b->all)
		fn(b, arg);
	return newest;
}

size_t hp_stack_table_size(void)
{
	return atomic_load_explicit(&count, memory_order_relaxed);
}

void hp_stack_table_prefork(void)
{
	for (unsigned i = 0; i < LOCKS; i++)
		hp_lock(&locks[i]);
	hp_lock(&slabs_lock);
}

void hp_stack_table_postfork_parent(void)
{
	hp_unlock(&slabs_lock);
	for (unsigned i = LOCKS; i-- > 0;)
		hp_unlock(&locks[i]);
}

/*
 * Only the forking thread lives on: every other slab is free for the
 * child's new threads. Their counts stay where they are; a tally its owner
 * was writing at the fork may hold an allocation's count without its bytes,
 * as an atomic counter pair could.
 */
void hp_stack_table_postfork_child(void)
{
	for (unsigned i = 0; i < LOCKS; i++)
		hp_lock_reset(&locks[i]);
	hp_lock_reset(&grow_lock);
	hp_lock_reset(&slabs_lock);
	slab_t *free_list = NULL;
	for (slab_t *s = all_slabs; s; s = s->next_all)
		if (s != mine) {
			HP_RESET(s->next_free, free_list);
			free_list = s;
		}
	HP_RESET(free_slabs, free_list);
}

/* ---- snapshots (a delta profile's base) ------------------------------- */

typedef struct {
	hp_stack_table_snap_t *v;
	size_t n;
	void (*read)(const hp_bucket_t *, hp_counts_t *);
} snap_t;

static void snap_bucket(const hp_bucket_t *b, void *arg)
{
	snap_t *S = arg;
	if (!S->v)
		return;
	if ((S->n & (S->n - 1)) == 0 && S->n >= 64) {
		void *p = hp_real.realloc(S->v, S->n * 2 * sizeof(*S->v));
		if (!p) {
			hp_real.free(S->v);
			S->v = NULL;
			return;
		}
		S->v = p;
	}
	S->v[S->n].bucket = b;
	S->read(b, &S->v[S->n++].counts);
}

static int cmp_snap(const void *a, const void *b)
{
	const hp_bucket_t *x = ((const hp_stack_table_snap_t *)a)->bucket;
	const hp_bucket_t *y = ((const hp_stack_table_snap_t *)b)->bucket;
	return x < y ? -1 : x > y;
}

int hp_stack_table_snapshot(hp_stack_table_snap_t **out, size_t *n)
{
	return hp_stack_table_snapshot_of(hp_stack_table_foreach, hp_stack_table_read,
	                                  out, n);
}

int hp_stack_table_snapshot_of(void (*foreach)(void (*)(const hp_bucket_t *, void *),
                                               void *),
                               void (*read)(const hp_bucket_t *, hp_counts_t *),
                               hp_stack_table_snap_t **out, size_t *n)
{
	snap_t S = {hp_real.malloc(64 * sizeof(*S.v)), 0, read};
	foreach (snap_bucket, &S)
		;
	*out = S.v;
	*n = S.v ? S.n : 0;
	if (!S.v)
		return -ENOMEM;
	qsort(S.v, S.n, sizeof(*S.v), cmp_snap);
	return 0;
}

void hp_stack_table_snapshot_free(hp_stack_table_snap_t *snap)
{
	hp_real.free(snap);
}
