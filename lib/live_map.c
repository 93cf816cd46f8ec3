/* SPDX-License-Identifier: MIT */
/*
 * live_map: 64 shards of linear-probing tables keyed by address, each under
 * its own lock, grown from the metadata arena at three-quarters load (the
 * retired table goes back to the arena) and shrunk never.
 * Deletion shifts later entries back, so there are no tombstones. Each
 * insert and remove also moves the record's count in the free filter.
 */
#include "live_map.h"
#include "meta_alloc.h"

#include <errno.h>
#include <string.h>

#define SHARDS_LOG2 6
#define SHARDS      (1u << SHARDS_LOG2)
#define MIN_CAP     16 /* 64 shards: a low rate leaves a handful of records in each */

typedef struct {
	hp_lock_t lock;
	hp_live_t *slots; /* addr 0 = empty; guarded by lock */
	size_t cap, used; /* cap is a power of two */
} __attribute__((aligned(64))) shard_t;

static shard_t shards[SHARDS];
uint8_t hp_live_filter[1u << HP_FILTER_LG] __attribute__((aligned(4096)));

static shard_t *shard_of(uintptr_t addr)
{
	return &shards[hp_mix64(hp_live_filter_index((const void *)addr)) >>
	               (64 - SHARDS_LOG2)];
}

static bool filter_off; /* set once at start-up, before any record */

void hp_live_map_init(bool every_block_sampled)
{
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

static uint64_t slot_hash(uintptr_t a)
{
	return hp_mix64(a >> 4);
}

/* Insert into a table known to have room; no duplicates by construction. */
static void put(hp_live_t *slots, size_t cap, const hp_live_t *rec)
{
	size_t i = slot_hash(rec->addr) & (cap - 1);
	while (slots[i].addr)
		i = (i + 1) & (cap - 1);
	slots[i] = *rec;
}

static int grow(shard_t *s)
{
	size_t cap = s->cap ? s->cap * 2 : MIN_CAP;
	hp_live_t *t = hp_meta_alloc(cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i].addr)
			put(t, cap, &s->slots[i]);
	hp_meta_free(s->slots, s->cap * sizeof(*t));
	s->slots = t;
	s->cap = cap;
	return 0;
}

int hp_live_map_insert(const hp_live_t *rec)
{
	shard_t *s = shard_of(rec->addr);
	hp_lock(&s->lock);
	/* Three quarters: 32 to 64 bytes per live block, probes still short. */
	if ((s->used + 1) * 4 > s->cap * 3 && grow(s)) {
		hp_unlock(&s->lock);
		return -ENOMEM;
	}
	put(s->slots, s->cap, rec);
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
	if (!s->cap) {
		hp_unlock(&s->lock);
		return false;
	}
	size_t mask = s->cap - 1, i = slot_hash(addr) & mask;
	while (s->slots[i].addr && s->slots[i].addr != addr)
		i = (i + 1) & mask;
	if (!s->slots[i].addr) {
		hp_unlock(&s->lock);
		return false;
	}
	*out = s->slots[i];
	/* Backward-shift deletion: move later members of the run into the hole. */
	size_t hole = i;
	for (size_t j = (i + 1) & mask; s->slots[j].addr; j = (j + 1) & mask) {
		size_t home = slot_hash(s->slots[j].addr) & mask;
		/* j may move to hole iff home is not cyclically in (hole, j]. */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			s->slots[hole] = s->slots[j];
			hole = j;
		}
	}
	s->slots[hole].addr = 0;
	s->used--;
	filter_add_locked(addr, -1);
	hp_unlock(&s->lock);
	return true;
}

size_t hp_live_map_size(void)
{
	size_t n = 0;
	for (unsigned i = 0; i < SHARDS; i++)
		n += __atomic_load_n(&shards[i].used, __ATOMIC_RELAXED);
	return n;
}

void hp_live_map_prefork(void)
{
	for (unsigned i = 0; i < SHARDS; i++)
		hp_lock(&shards[i].lock);
}

void hp_live_map_postfork_parent(void)
{
	for (unsigned i = SHARDS; i-- > 0;)
		hp_unlock(&shards[i].lock);
}

void hp_live_map_postfork_child(void)
{
	for (unsigned i = 0; i < SHARDS; i++)
		hp_lock_reset(&shards[i].lock);
}
