/* SPDX-License-Identifier: MIT */
/*
 * live_map: 1024 shards (64 with the filter counted) of bucketed cuckoo hash
 * tables of 16-byte records keyed by address, each under its own lock, grown
 * from the metadata arena at three-quarters load (the retired table goes
 * back to the arena) and shrunk never. Each insert and remove also moves the record's
 * count in the free filter. With HEAPPROF_LIFETIMES each table has a second
 * array beside its slots, a stamp per slot, moved with it, and is fuller
 * (see grow_at).
 */
#include "live_map.h"
#include "meta_alloc.h"

#include <errno.h>
#include <string.h>

#define SHARDS_LOG2        10
#define SHARDS             (1u << SHARDS_LOG2)
#define FILTER_SHARDS_LOG2 6  /* with the filter counted: 64 shards */
#define MIN_CAP            16 /* a low rate leaves a handful of records in each shard */
#define REGION_LG          21 /* at rate 1, a shard holds whole 2 MiB regions */

/*
 * A record as the tables keep it, 16 bytes: the bucket as its line number
 * (buckets are 64-byte lines below 2^47) and the size in the low SIZE_BITS.
 * A block of 8 MiB or more (rare: one such sample holds as much as 500,000
 * small ones) keeps BIG there and its whole record in the shard's list.
 */
typedef struct {
	uintptr_t addr;  /* 0: a free slot */
	uint64_t packed; /* bucket line << SIZE_BITS | size, or BIG */
} slot_t;

#define SIZE_BITS 23
#define BIG       ((UINT64_C(1) << SIZE_BITS) - 1)

typedef struct {
	hp_lock_t lock;
	slot_t *slots;    /* addr 0 = empty; guarded by lock */
	uint64_t *stamps; /* the slots' stamps (HEAPPROF_LIFETIMES), else NULL */
	size_t cap, used; /* cap is a power of two */
	hp_live_t *big;   /* the records of BIG slots, nbig of them */
	size_t nbig, big_cap;
} __attribute__((aligned(64))) shard_t;

HP_LARGE static shard_t shards[SHARDS];
HP_LARGE uint8_t hp_live_filter[1u << HP_FILTER_LG] __attribute__((aligned(4096)));

static bool filter_off; /* set once at start-up, before any record */
static bool stamped;    /* the same: tables keep a stamp per slot */

/*
 * With the filter counted (rate above 1: samples are rare, contention too),
 * the shard is a function of the filter byte (see filter_add_locked), among
 * the first 64. At rate 1 the filter is not counted, and the shard is chosen
 * by 2 MiB region among all 1024: allocators give each thread regions of its
 * own (glibc's arenas, jemalloc's arenas, mimalloc's heaps), so a thread's
 * records, their lock and their slots stay in its core's cache instead of
 * moving between cores on every allocation and free.
 */
static inline shard_t *shard_of(uintptr_t addr)
{
	if (filter_off)
		return &shards[hp_mix64(addr >> REGION_LG) >> (64 - SHARDS_LOG2)];
	return &shards[hp_mix64(hp_live_filter_index((const void *)addr)) >>
	               (64 - FILTER_SHARDS_LOG2)];
}

void hp_live_map_init(bool every_block_sampled, bool with_stamps)
{
	stamped = with_stamps;
	if (!every_block_sampled)
		return;
	/* Nothing to rule out: every byte stuck, and no counting. */
	filter_off = true;
	memset(hp_live_filter, HP_FILTER_STUCK, sizeof(hp_live_filter));
}

/*
 * The shard is chosen by the filter byte, so every record counted in a byte
 * lives in one shard and its lock guards the count: a plain increment, not
 * an atomic one. The store is atomic only for the unlocked readers in free.
 * A count that reaches HP_FILTER_STUCK is left there: its granule is always
 * looked up, which costs time but is never wrong.
 */
static void filter_add_locked(uintptr_t addr, int delta)
{
	if (filter_off)
		return;
	uint8_t *f = &hp_live_filter[hp_live_filter_index((const void *)addr)];
	uint8_t v = *f;
	if (v != HP_FILTER_STUCK)
		__atomic_store_n(f, (uint8_t)(v + delta), __ATOMIC_RELAXED);
}

void hp_live_map_pin(const void *p)
{
	shard_t *s = shard_of((uintptr_t)p);
	hp_lock(&s->lock);
	__atomic_store_n(&hp_live_filter[hp_live_filter_index(p)], HP_FILTER_STUCK,
	                 __ATOMIC_RELAXED);
	hp_unlock(&s->lock);
}

/*
 * Bucketed cuckoo hashing: a record lives in one of two buckets of four
 * slots, chosen by two Fibonacci hashes of its address. A lookup reads at most
 * eight slots, a removal clears one, and an insertion takes a free slot of
 * either bucket, else moves a record to its other bucket (rarely more than
 * once at three-quarters load). Linear probing at that load walks about
 * seven slots per insertion and shifts a run back on each removal, and a
 * table whose live count holds steady sits at that load for good.
 */
#define WAYS      4 /* slot_in reads all four at once */
#define MAX_KICKS 64
_Static_assert(MIN_CAP >= 2 * WAYS, "a table has at least two buckets");

/*
 * How full a table gets before it grows, and to what. Without stamps a
 * table doubles at three quarters (3/8 to 3/4 full: 21 to 43 bytes per live
 * block). A stamp makes a slot 24 bytes, and at that rate a region's table
 * half full (rate 1: 65,536 blocks of 16 bytes in 2^17 slots) costs 48
 * bytes per live block. So a stamped table grows at seven eighths, and
 * from STAMPED_MIN_GROW slots on by half: 7/12 to 7/8 full, 27 to 41 bytes
 * per live block. Bucket counts are then not powers of two, hence the
 * multiply in bucket(). Filled until an insertion failed, tables of 4,096
 * to 131,072 slots took 91% to 98% (docs/lifetimes.md); one that fails
 * below seven eighths grows anyway.
 */
#define STAMPED_MIN_GROW 4096
static size_t grow_at(size_t cap)
{
	return stamped ? cap - cap / 8 : cap - cap / 4;
}

static size_t grown(size_t cap)
{
	if (!stamped || cap < STAMPED_MIN_GROW)
		return cap * 2;
	return (cap / WAYS + cap / WAYS / 2) * WAYS;
}

typedef struct {
	slot_t *slots;    /* cap slots, as cap / WAYS buckets, at least 2 */
	uint64_t *stamps; /* a stamp per slot, or NULL */
	uint64_t buckets; /* cap / WAYS */
} table_t;

static table_t table_of(slot_t *slots, uint64_t *stamps, size_t cap)
{
	return (table_t){slots, stamps, cap / WAYS};
}

/* A record and its stamp, as they move between slots. */
typedef struct {
	slot_t s;
	uint64_t stamp;
} entry_t;

static entry_t get(const table_t *t, const slot_t *at)
{
	return (entry_t){*at, t->stamps ? t->stamps[at - t->slots] : 0};
}

static void set(const table_t *t, slot_t *at, entry_t e)
{
	*at = e.s;
	if (t->stamps)
		t->stamps[at - t->slots] = e.stamp;
}

/*
 * The first slot of addr's bucket number `which` (0 or 1): a Fibonacci hash
 * scaled to the bucket count (its high bits when the count is a power of
 * two).
 */
static slot_t *bucket(const table_t *t, uintptr_t addr, int which)
{
	static const uint64_t mul[2] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL};
	uint64_t h = (addr >> 4) * mul[which];
	return t->slots + (size_t)(((unsigned __int128)h * t->buckets) >> 64) * WAYS;
}

/*
 * The first slot of b holding addr (0: a free one), or NULL. The four
 * compares are combined without branches: which slot matches is random, and
 * a branch on each mispredicts more often than it saves.
 */
static slot_t *slot_in(slot_t *b, uintptr_t addr)
{
	unsigned m = (unsigned)(b[0].addr == addr) | (unsigned)(b[1].addr == addr) << 1 |
	             (unsigned)(b[2].addr == addr) << 2 |
	             (unsigned)(b[3].addr == addr) << 3;
	return m ? &b[__builtin_ctz(m)] : NULL;
}

/* put's slow half: both of rec's buckets are full. */
static HP_NOINLINE bool kick(const table_t *t, entry_t rec)
{
	slot_t *moved[MAX_KICKS], *b = bucket(t, rec.s.addr, 0), *slot;
	unsigned n;
	for (n = 0; n < MAX_KICKS; n++) {
		slot_t *other = bucket(t, rec.s.addr, b == bucket(t, rec.s.addr, 0));
		/* Evict a slot of the other bucket, varied so walks do not cycle. */
		slot = moved[n] = &other[(n + (rec.s.addr >> 4)) % WAYS];
		entry_t r = get(t, slot);
		set(t, slot, rec);
		rec = r;
		b = other;
		/* The evicted record's other bucket: is there room? */
		other = bucket(t, rec.s.addr, b == bucket(t, rec.s.addr, 0));
		if ((slot = slot_in(other, 0))) {
			set(t, slot, rec);
			return true;
		}
	}
	while (n-- > 0) { /* undo, newest move first */
		entry_t r = get(t, moved[n]);
		set(t, moved[n], rec);
		rec = r;
	}
	return false;
}

/*
 * Inserts rec; no duplicates by construction. False, with the table as it
 * was, if MAX_KICKS moves found no room: then the table must grow.
 */
static inline bool put(const table_t *t, entry_t rec)
{
	slot_t *slot;
	if ((slot = slot_in(bucket(t, rec.s.addr, 0), 0)) ||
	    (slot = slot_in(bucket(t, rec.s.addr, 1), 0))) {
		set(t, slot, rec);
		return true;
	}
	return kick(t, rec);
}

/* A table of cap slots (and stamps), or NULL. */
static bool table_alloc(table_t *t, size_t cap)
{
	t->slots = hp_meta_alloc(cap * sizeof(*t->slots));
	t->stamps = stamped && t->slots ? hp_meta_alloc(cap * sizeof(*t->stamps)) : NULL;
	if (t->slots && (t->stamps || !stamped)) {
		*t = table_of(t->slots, t->stamps, cap);
		return true;
	}
	hp_meta_free(t->slots, cap * sizeof(*t->slots));
	return false;
}

static void table_free(slot_t *slots, uint64_t *stamps, size_t cap)
{
	hp_meta_free(slots, cap * sizeof(*slots));
	hp_meta_free(stamps, stamps ? cap * sizeof(*stamps) : 0);
}

/* Doubles the shard's table (or more, if a put still fails) and adds rec. */
static int grow(shard_t *s, entry_t rec)
{
	table_t old = table_of(s->slots, s->stamps, s->cap ? s->cap : MIN_CAP);
	for (size_t cap = s->cap ? grown(s->cap) : MIN_CAP;; cap = grown(cap)) {
		table_t t;
		if (!table_alloc(&t, cap))
			return -ENOMEM;
		bool ok = put(&t, rec);
		for (size_t i = 0; ok && i < s->cap; i++)
			if (s->slots[i].addr)
				ok = put(&t, get(&old, &s->slots[i]));
		if (ok) {
			table_free(s->slots, s->stamps, s->cap);
			s->slots = t.slots;
			s->stamps = t.stamps;
			s->cap = cap;
			return 0;
		}
		table_free(t.slots, t.stamps, cap);
	}
}

/* rec as a slot; a BIG one goes on the shard's list too (false: no memory). */
static bool pack(shard_t *s, const hp_live_t *rec, slot_t *out)
{
	uintptr_t line = (uintptr_t)rec->bucket >> 6;
	out->addr = rec->addr;
	if (rec->size < BIG && !(line >> (64 - SIZE_BITS)) &&
	    !((uintptr_t)rec->bucket & 63)) {
		out->packed = (uint64_t)line << SIZE_BITS | rec->size;
		return true;
	}
	out->packed = BIG;
	if (s->nbig == s->big_cap) {
		size_t cap = s->big_cap ? s->big_cap * 2 : 16;
		hp_live_t *big = hp_meta_alloc(cap * sizeof(*big));
		if (!big)
			return false;
		if (s->nbig)
			memcpy(big, s->big, s->nbig * sizeof(*big));
		hp_meta_free(s->big, s->big_cap * sizeof(*big));
		s->big = big;
		s->big_cap = cap;
	}
	s->big[s->nbig++] = *rec;
	return true;
}

/* The record of slot; take: a BIG one comes off the shard's list. */
static void unpack(shard_t *s, const slot_t *slot, hp_live_t *out, bool take)
{
	if (slot->packed != BIG) {
		out->addr = slot->addr;
		out->bucket =
		    (hp_bucket_t *)(uintptr_t)((slot->packed >> SIZE_BITS) << 6);
		out->size = slot->packed & BIG;
		out->stamp = s->stamps ? s->stamps[slot - s->slots] : 0;
		return;
	}
	for (size_t i = 0; i < s->nbig; i++)
		if (s->big[i].addr == slot->addr) {
			*out = s->big[i];
			if (take)
				s->big[i] = s->big[--s->nbig];
			return;
		}
}

int hp_live_map_insert(const hp_live_t *rec)
{
	shard_t *s = shard_of(rec->addr);
	hp_lock(&s->lock);
	entry_t e = {.stamp = rec->stamp};
	bool placed = false;
	if (!pack(s, rec, &e.s)) {
		hp_unlock(&s->lock);
		return -ENOMEM;
	}
	if (s->cap && s->used + 1 <= grow_at(s->cap)) {
		table_t t = table_of(s->slots, s->stamps, s->cap);
		placed = put(&t, e);
	}
	if (!placed && grow(s, e)) {
		if (e.s.packed == BIG)
			s->nbig--; /* the record just added, last on the list */
		hp_unlock(&s->lock);
		return -ENOMEM;
	}
	s->used++;
	/* Before the block is handed out, so no free of it can miss the count. */
	filter_add_locked(rec->addr, 1);
	hp_unlock(&s->lock);
	return 0;
}

bool hp_live_map_remove(uintptr_t addr, hp_live_t *out)
{
	shard_t *s = shard_of(addr);
	hp_lock(&s->lock);
	slot_t *slot = NULL;
	if (s->cap && addr) { /* 0 marks a free slot */
		table_t t = table_of(s->slots, s->stamps, s->cap);
		if (!(slot = slot_in(bucket(&t, addr, 0), addr)))
			slot = slot_in(bucket(&t, addr, 1), addr);
	}
	if (slot) {
		unpack(s, slot, out, true);
		slot->addr = 0;
		s->used--;
		filter_add_locked(addr, -1);
	}
	hp_unlock(&s->lock);
	return slot != NULL;
}

size_t hp_live_map_size(void)
{
	size_t n = 0;
	for (unsigned i = 0; i < SHARDS; i++)
		n += __atomic_load_n(&shards[i].used, __ATOMIC_RELAXED);
	return n;
}

void hp_live_map_foreach(void (*fn)(const hp_live_t *rec, void *arg), void *arg)
{
	for (unsigned i = 0; i < SHARDS; i++) {
		shard_t *s = &shards[i];
		hp_lock(&s->lock);
		for (size_t j = 0; j < s->cap; j++)
			if (s->slots[j].addr) {
				hp_live_t rec;
				unpack(s, &s->slots[j], &rec, false);
				fn(&rec, arg);
			}
		hp_unlock(&s->lock);
	}
}

/*
 * The shards shard_of can choose, fixed at start-up: with the filter
 * counted, the first 64, one page of locks. A fork writes each of their
 * locks in the parent and the child, and each page it writes is a page
 * fault on both sides (copy-on-write); all 1024 made it 32.
 */
static unsigned shards_in_use(void)
{
	return filter_off ? SHARDS : 1u << FILTER_SHARDS_LOG2;
}

void hp_live_map_prefork(void)
{
	for (unsigned i = 0; i < shards_in_use(); i++)
		hp_lock(&shards[i].lock);
}

void hp_live_map_postfork_parent(void)
{
	for (unsigned i = shards_in_use(); i-- > 0;)
		hp_unlock(&shards[i].lock);
}

void hp_live_map_postfork_child(void)
{
	for (unsigned i = 0; i < shards_in_use(); i++)
		hp_lock_reset(&shards[i].lock);
}
