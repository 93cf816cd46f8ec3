/* SPDX-License-Identifier: MIT */
/*
 * interpose: the only file that defines malloc, free, ... and the C++
 * operators. Each entry forwards to the next allocator; the fast path is the
 * sampler's subtract-and-branch (allocations) or the live map's filter test
 * (frees). Everything else, sampled blocks and the bootstrap pool's alike, is
 * behind a noinline *_slow function. It does not know how stacks are stored
 * or profiles written.
 */
#include "backing.h"
#include "common.h"
#include "config.h"
#include "interpose.h"
#include "lifetimes.h"
#include "live_map.h"
#include "log.h"
#include "meta_alloc.h"
#include "profile.h"
#include "sampler.h"
#include "stack.h"
#include "stack_table.h"
#include "symbols.h"
#include "trigger.h"
#include "unwind_fast.h"

#include <errno.h>
#include <string.h>

/* Is p perhaps a sampled block (or the bootstrap pool's)? False is certain. */
static inline bool maybe_sampled(const void *p)
{
	if (hp_likely(hp_page_mode))
		return hp_unlikely(hp_at_page(p)); /* reads no memory: interpose.h */
	if (hp_every_block)
		return p != NULL; /* the filter would only say "maybe" */
	return hp_live_map_maybe_contains(p);
}

/* ---- bookkeeping ------------------------------------------------------ */

static int metadata_warned;

static void out_of_metadata(void)
{
	if (hp_meta_limit_hit())
		hp_log_once(&metadata_warned,
		            "profiler metadata reached HEAPPROF_METADATA_MAX (%llu "
		            "bytes): sampling "
		            "stopped, the program continues unprofiled",
		            (unsigned long long)hp_config.metadata_max);
	else
		hp_log_once(&metadata_warned, "out of memory for profiler metadata (mmap "
		                              "failed): sampling stopped, "
		                              "the program continues unprofiled");
	hp_sampler_disable();
}

/*
 * Captures the caller's stack, the re-entry guard held (libunwind may
 * allocate) and errno kept. Inlined, like hp_stack_capture, into the slow
 * path the interposer tail-calls.
 */
static inline __attribute__((always_inline)) const hp_stack_t *capture(hp_stack_t *st,
                                                                       uintptr_t *raw)
{
	int saved = errno;
	hp_guard_enter();
	hp_stack_capture(st, raw, hp_config.max_frames);
	hp_guard_exit();
	errno = saved;
	return st;
}

/*
 * In a slow path, once the sampler has decided: declares the capture buffer
 * and points name at the caller's stack when sample is set, else at NULL.
 */
#define CAPTURE_IF(sample, name)                                                         \
	uintptr_t name##_raw[(sample) ? hp_config.max_frames + HP_STACK_ROOM : 1];       \
	hp_stack_t name##_st;                                                            \
	const hp_stack_t *name = (sample) ? capture(&name##_st, name##_raw) : NULL

/* Records a sampled block: bucket, counters, live record. */
static HP_NOINLINE void record(void *p, size_t n, const hp_stack_t *st)
{
	int saved = errno;
	hp_guard_enter();
	hp_live_t rec = {.addr = (uintptr_t)p,
	                 .size = n,
	                 .stamp = hp_lifetimes_on ? hp_lifetimes_stamp() : 0};
	uint64_t count_w, bytes_w;
	hp_sampler_weights(n, &count_w, &bytes_w);
	rec.bucket = hp_stack_table_intern(st->frames, st->n, st->truncated);
	if (!rec.bucket || hp_live_map_insert(&rec))
		out_of_metadata();
	else {
		hp_stack_table_add_alloc(rec.bucket, count_w, bytes_w);
		hp_trigger_note_alloc(bytes_w);
	}
	hp_trigger_poll();
	if (hp_unlikely(atomic_load_explicit(&hp_profile_forked, memory_order_relaxed)))
		hp_profile_name_for_children();
	hp_guard_exit();
	errno = saved;
}

/*
 * Every block a slow path hands out passes here; st is the caller's stack
 * when the sampler chose the block (before the backing call), else NULL.
 * Blocks of the bootstrap pool come out only
 * before start-up, when every allocation takes a slow path (the sampler is
 * not initialised yet, see hp_sampler_decide_slow) and none is sampled. They
 * must never reach the next allocator's free: pinning their filter bytes
 * sends free and realloc to their slow paths, which recognise them.
 */
static void *handed_out(void *p, size_t n, const hp_stack_t *st)
{
	if (hp_unlikely(hp_backing_is_boot(p)))
		hp_live_map_pin(p);
	else if (st && p)
		record(p, n, st);
	return p;
}

/* Subtracts from rec's bucket what its allocation added: the same weights. */
static void subtract(const hp_live_t *rec)
{
	uint64_t count_w, bytes_w;
	hp_sampler_weights(rec->size, &count_w, &bytes_w);
	hp_stack_table_add_free(rec->bucket, count_w, bytes_w);
	hp_trigger_note_free(bytes_w);
}

/*
 * HEAPPROF_LIFETIMES: the sampled block rec is gone; its freeing stack (ours
 * trimmed, as an allocation's) and lifetime go to its pair.
 */
static HP_NOINLINE void lifetime_end(const hp_live_t *rec)
{
	CAPTURE_IF(true, st);
	int saved = errno;
	hp_guard_enter();
	if (hp_lifetimes_note_free(rec, st->frames, st->n, st->truncated))
		out_of_metadata();
	hp_guard_exit();
	errno = saved;
}

/* Removes p from the live map and subtracts what its allocation added. */
static bool forget(void *p, hp_live_t *rec)
{
	if (!hp_live_map_remove((uintptr_t)p, rec))
		return false;
	subtract(rec);
	if (hp_unlikely(hp_lifetimes_on))
		lifetime_end(rec);
	return true;
}

/* ---- malloc family ---------------------------------------------------- */

static HP_NOINLINE void *malloc_slow(size_t n)
{
	if (hp_pool_only())
		return handed_out(hp_backing_boot_alloc(n), n, NULL);
	bool sample = hp_sampler_decide_slow();
	CAPTURE_IF(sample, st);
	void *p = st && hp_page_mode ? hp_place_malloc(n, HP_PAGE) : hp_real.malloc(n);
	return handed_out(p, n, st);
}

static inline void *malloc_entry(size_t n)
{
	if (hp_likely(hp_sampler_skip(n)))
		return hp_real.malloc(n);
	return malloc_slow(n);
}

HP_EXPORT void *malloc(size_t n)
{
	return malloc_entry(n);
}

static HP_NOINLINE void free_slow(void *p)
{
	if (!p || hp_backing_is_boot(p))
		return;
	/* In page mode a block not placed was not sampled: no record to look up. */
	void *base = hp_at_page(p) ? hp_placed_base(p) : NULL;
	hp_live_t rec;
	if (base || !hp_page_mode)
		forget(p,
		       &rec); /* before the backing free, or the address can be reused */
	if (base)
		hp_place_free(p, base);
	else
		hp_real.free(p);
}

static inline void free_entry(void *p)
{
	if (hp_unlikely(maybe_sampled(p))) {
		free_slow(p);
		return;
	}
	hp_real.free(p);
}

HP_EXPORT void free(void *p)
{
	free_entry(p);
}

static HP_NOINLINE void *calloc_slow(size_t a, size_t b)
{
	size_t n;
	if (hp_pool_only()) /* the pool is zeroed: it is never reused */
		return __builtin_mul_overflow(a, b, &n)
		           ? (errno = ENOMEM, NULL)
		           : handed_out(hp_backing_boot_alloc(n), n, NULL);
	bool sample = !__builtin_mul_overflow(a, b, &n) && hp_sampler_decide_slow();
	CAPTURE_IF(sample, st);
	void *p = st && hp_page_mode ? hp_place_calloc(n) : hp_real.calloc(a, b);
	return handed_out(p, n, st);
}

HP_EXPORT void *calloc(size_t a, size_t b)
{
	size_t n;
	if (hp_likely(!__builtin_mul_overflow(a, b, &n) && hp_sampler_skip(n)))
		return hp_real.calloc(a, b);
	return calloc_slow(a, b);
}

/*
 * consumed: the fast check already took n from the countdown (and failed);
 * otherwise p may be a sampled block and the countdown is untouched.
 */
static HP_NOINLINE void *realloc_slow(void *p, size_t n, bool consumed)
{
	if (!p && hp_pool_only())
		return malloc_slow(n);
	if (p && hp_backing_is_boot(p)) {
		/* A bootstrap block moves to the real allocator. */
		void *q = malloc(n);
		if (q) {
			size_t old = hp_backing_boot_size(p);
			memcpy(q, p, old < n ? old : n);
		}
		return q;
	}
	hp_live_t old;
	bool had = p && maybe_sampled(p) && hp_live_map_remove((uintptr_t)p, &old);
	bool sample = consumed ? hp_sampler_decide_slow() : hp_sampler_decide(n);
	CAPTURE_IF(sample, st);
	int saved = errno;
	void *q = hp_place_realloc(p, n, st && hp_page_mode);
	if (!q) {
		if (had) {
			/* n == 0: the block was freed. Otherwise it is intact and still
			 * ours. */
			if (n == 0 || hp_live_map_insert(&old))
				subtract(&old);
			if (n == 0 && hp_lifetimes_on)
				lifetime_end(&old);
		}
		return NULL;
	}
	if (had) {
		subtract(&old);
		if (hp_lifetimes_on)
			lifetime_end(&old);
	}
	handed_out(q, n, st);
	errno = saved;
	return q;
}

HP_EXPORT void *realloc(void *p, size_t n)
{
	if (hp_unlikely(maybe_sampled(p)))
		return realloc_slow(p, n, false);
	if (hp_likely(hp_sampler_skip(n)))
		return hp_real.realloc(p, n);
	return realloc_slow(p, n, true);
}

/* This library's own definitions, whatever the global ones are
 * (hp_backing_foreign, which declares them: a program's own allocator).
 * Only their addresses are taken: the C library's attributes on malloc
 * need not be repeated. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#endif
void *hp_own_malloc(size_t) __attribute__((alias("malloc")));
void hp_own_free(void *) __attribute__((alias("free")));
void *hp_own_calloc(size_t, size_t) __attribute__((alias("calloc")));
void *hp_own_realloc(void *, size_t) __attribute__((alias("realloc")));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

HP_EXPORT void *reallocarray(void *p, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n))
		return hp_real.reallocarray(p, a, b); /* the backing sets ENOMEM */
	if (hp_unlikely(maybe_sampled(p)))
		return realloc_slow(p, n, false);
	if (hp_likely(hp_sampler_skip(n)))
		return hp_real.realloc(p, n);
	return realloc_slow(p, n, true);
}

enum { MEMALIGN, ALIGNED_ALLOC, VALLOC, PVALLOC };

static void *call_aligned(int kind, size_t al, size_t n)
{
	switch (kind) {
	case MEMALIGN:
		return hp_real.memalign(al, n);
	case ALIGNED_ALLOC:
		return hp_real.aligned_alloc(al, n);
	case VALLOC:
		return hp_real.valloc(n);
	default:
		return hp_real.pvalloc(n);
	}
}

/*
 * A sampled aligned block in page mode: placed at the requested alignment
 * rounded up to a power of two (as glibc's memalign rounds) and to a page.
 * NULL with *placed false where it cannot be (an alignment past half the
 * address space, a pvalloc size that overflows): the backing call then.
 */
static void *place_aligned(int kind, size_t al, size_t n, bool *placed)
{
	size_t a = HP_PAGE;
	if ((kind == MEMALIGN || kind == ALIGNED_ALLOC) && al > HP_PAGE) {
		if (al > (SIZE_MAX >> 1) + 1)
			return *placed = false, NULL;
		while (a < al)
			a <<= 1;
	}
	if (kind == PVALLOC && __builtin_add_overflow(n ? n : 1, HP_PAGE - 1, &n))
		return *placed = false, NULL;
	if (kind == PVALLOC)
		n &= ~(size_t)(HP_PAGE - 1);
	*placed = true;
	return hp_place_malloc(n, a);
}

static HP_NOINLINE void *aligned_slow(int kind, size_t al, size_t n)
{
	bool sample = hp_sampler_decide_slow();
	CAPTURE_IF(sample, st);
	bool placed = false;
	void *p = st && hp_page_mode ? place_aligned(kind, al, n, &placed) : NULL;
	if (!placed) {
		p = call_aligned(kind, al, n);
		if (hp_page_mode)
			st = NULL; /* in page mode every sampled block is placed */
	}
	return handed_out(p, n, st);
}

HP_EXPORT void *memalign(size_t al, size_t n)
{
	if (hp_likely(hp_sampler_skip(n)))
		return hp_real.memalign(al, n);
	return aligned_slow(MEMALIGN, al, n);
}

HP_EXPORT void *aligned_alloc(size_t al, size_t n)
{
	if (hp_likely(hp_sampler_skip(n)))
		return hp_real.aligned_alloc(al, n);
	return aligned_slow(ALIGNED_ALLOC, al, n);
}

HP_EXPORT void *valloc(size_t n)
{
	if (hp_likely(hp_sampler_skip(n)))
		return hp_real.valloc(n);
	return aligned_slow(VALLOC, 0, n);
}

HP_EXPORT void *pvalloc(size_t n)
{
	if (hp_likely(hp_sampler_skip(n)))
		return hp_real.pvalloc(n);
	return aligned_slow(PVALLOC, 0, n);
}

static HP_NOINLINE int posix_memalign_slow(void **out, size_t al, size_t n)
{
	bool sample = hp_sampler_decide_slow();
	CAPTURE_IF(sample, st);
	bool valid = al && !(al & (al - 1)) && !(al % sizeof(void *));
	if (st && hp_page_mode && valid && al <= (SIZE_MAX >> 1) + 1) {
		void *p = hp_place_malloc(n, al < HP_PAGE ? HP_PAGE : al);
		if (!p)
			return ENOMEM;
		*out = handed_out(p, n, st);
		return 0;
	}
	if (hp_page_mode)
		st = NULL; /* invalid: nothing comes out; or too aligned to place */
	int r = hp_real.posix_memalign(out, al, n);
	if (!r)
		handed_out(*out, n, st);
	return r;
}

HP_EXPORT int posix_memalign(void **out, size_t al, size_t n)
{
	if (hp_likely(hp_sampler_skip(n)))
		return hp_real.posix_memalign(out, al, n);
	return posix_memalign_slow(out, al, n);
}

HP_EXPORT size_t malloc_usable_size(void *p)
{
	if (hp_unlikely(hp_backing_is_boot(p)))
		return hp_backing_boot_size(p);
	void *base;
	if (hp_unlikely(hp_at_page(p)) && (base = hp_placed_base(p)))
		return hp_placed_usable(p, base);
	return hp_real.malloc_usable_size(p);
}

/* ---- dlclose: remember the mapping before it goes --------------------- */

HP_EXPORT int dlclose(void *handle)
{
	if (hp_sampler_active()) {
		int saved = errno;
		hp_guard_enter();
		hp_symbols_refresh();
		hp_guard_exit();
		errno = saved;
	}
	int r = hp_real.dlclose(handle);
	hp_unwind_fast_forget(); /* its code may be gone: rules for it too */
	return r;
}

/* ---- C++ operators ----------------------------------------------------
 * With libstdc++ behind us its operator new calls malloc, which counts: the
 * operators only forward. With jemalloc or tcmalloc behind us their operators
 * never call malloc, so the operators count (hp_real.new_counts).
 */

typedef struct {
	char dummy;
} nothrow_t; /* std::nothrow_t: empty, passed by reference */

/*
 * After a look that left slot empty (a plugin with its C++ runtime linked
 * in calls the operators all along, and no runtime is there to find), the
 * next QUIET calls look no more: even a look that finds nothing new costs a
 * dl_iterate_phdr, about 300 instructions.
 */
#define QUIET 4096u

/*
 * Looks for the operators again (the C++ runtime, or the allocator defining
 * them, may have been loaded since) and lets the stack module find the new
 * operator new functions it must trim.
 */
static HP_NOINLINE void look_for_operators(void *const *slot)
{
	static _Atomic unsigned quiet;
	unsigned q = atomic_load_explicit(&quiet, memory_order_relaxed);
	if (q) { /* racy, never below zero: a look a little sooner or later */
		atomic_store_explicit(&quiet, q - 1, memory_order_relaxed);
		return;
	}
	/* The loader's allocations while it looks are not the program's. */
	hp_guard_enter();
	bool looked = hp_backing_resolve_cxx();
	hp_guard_exit();
	if (looked) {
		hp_stack_find_wrappers();
		/* Operators that count place their samples anywhere: back to the
		 * filter, which knows every sampled block (it never leaves it). */
		if (hp_real.new_counts)
			hp_page_mode = 0;
	}
	if (!*slot)
		atomic_store_explicit(&quiet, QUIET, memory_order_relaxed);
}

void hp_interpose_find_operators(void)
{
	if (!hp_real.op_new[HP_NEW] && hp_backing_cxx_loaded())
		look_for_operators(&hp_real.op_new[HP_NEW]);
}

/* The next operator in *slot; NULL while none is found. */
static inline void *next_op(void *const *slot)
{
	if (hp_unlikely(!*slot))
		look_for_operators(slot);
	return *slot;
}

static bool new_is_aligned(int i)
{
	return i >= HP_NEW_AL;
}

static bool new_is_nothrow(int i)
{
	return i == HP_NEW_NT || i == HP_NEW_ARR_NT || i == HP_NEW_AL_NT ||
	       i == HP_NEW_ARR_AL_NT;
}

static void *call_new(int i, size_t n, size_t al, const nothrow_t *nt)
{
	void *f = next_op(&hp_real.op_new[i]);
	/* No C++ runtime found: a plugin loaded with RTLD_LOCAL that links one
	 * in (-static-libstdc++), whose operators are a malloc, or another thread
	 * looking. Through the profiled malloc: its blocks count. */
	if (hp_unlikely(!f))
		return al ? aligned_alloc(al, n ? n : 1) : malloc_entry(n ? n : 1);
	if (new_is_aligned(i))
		return new_is_nothrow(i)
		           ? ((void *(*)(size_t, size_t, const nothrow_t *))f)(n, al, nt)
		           : ((void *(*)(size_t, size_t))f)(n, al);
	return new_is_nothrow(i) ? ((void *(*)(size_t, const nothrow_t *))f)(n, nt)
	                         : ((void *(*)(size_t))f)(n);
}

static HP_NOINLINE void *new_slow(int i, size_t n, size_t al, const nothrow_t *nt)
{
	bool sample = hp_sampler_decide_slow();
	CAPTURE_IF(sample, st);
	return handed_out(call_new(i, n, al, nt), n, st); /* may throw: no guard held */
}

static inline void *op_new(int i, size_t n, size_t al, const nothrow_t *nt)
{
	if (hp_likely(hp_real.new_is_malloc) && !new_is_aligned(i)) {
		/* libstdc++'s new is this malloc: one layer, not two. Its own new
		 * runs only when malloc fails, for the new_handler and bad_alloc.
		 * new_is_malloc is set only once the operators are found. */
		void *p = malloc_entry(n ? n : 1);
		if (hp_likely(p))
			return p;
	}
	if (hp_unlikely(!hp_real.op_new[i]))
		next_op(&hp_real.op_new[i]); /* knows new_counts before the first count */
	if (hp_likely(!hp_real.new_counts || hp_sampler_skip(n)))
		return call_new(i, n, al, nt);
	return new_slow(i, n, al, nt);
}

static void call_delete(int i, void *p, size_t sz, size_t al)
{
	void *f = next_op(&hp_real.op_delete[i]);
	if (hp_unlikely(!f)) {
		free_entry(p); /* call_new's blocks without a runtime: maybe sampled */
		return;
	}
	switch (i) {
	case HP_DEL:
	case HP_DEL_ARR:
	case HP_DEL_NT:
	case HP_DEL_ARR_NT: /* the nothrow_t reference is never read */
		((void (*)(void *, const void *))f)(p, NULL);
		break;
	case HP_DEL_SZ:
	case HP_DEL_ARR_SZ:
		((void (*)(void *, size_t))f)(p, sz);
		break;
	case HP_DEL_AL:
	case HP_DEL_ARR_AL:
	case HP_DEL_AL_NT:
	case HP_DEL_ARR_AL_NT:
		((void (*)(void *, size_t, const void *))f)(p, al, NULL);
		break;
	default: /* sized and aligned */
		((void (*)(void *, size_t, size_t))f)(p, sz, al);
	}
}

static HP_NOINLINE void delete_slow(int i, void *p, size_t sz, size_t al)
{
	hp_live_t rec;
	if (p)
		forget(p, &rec); /* before the backing delete, as in free */
	call_delete(i, p, sz, al);
}

static inline void op_delete(int i, void *p, size_t sz, size_t al)
{
	if (hp_likely(hp_real.new_is_malloc) && i < HP_DEL_AL) {
		free_entry(p); /* libstdc++'s unaligned deletes are free */
		return;
	}
	if (hp_unlikely(hp_real.new_counts && hp_live_map_maybe_contains(p))) {
		delete_slow(i, p, sz, al);
		return;
	}
	call_delete(i, p, sz, al);
}

/* clang-format off */
HP_EXPORT void *_Znwm(size_t n) { return op_new(HP_NEW, n, 0, NULL); }
HP_EXPORT void *_Znam(size_t n) { return op_new(HP_NEW_ARR, n, 0, NULL); }
HP_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const nothrow_t *t) { return op_new(HP_NEW_NT, n, 0, t); }
HP_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const nothrow_t *t) { return op_new(HP_NEW_ARR_NT, n, 0, t); }
HP_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al) { return op_new(HP_NEW_AL, n, al, NULL); }
HP_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al) { return op_new(HP_NEW_ARR_AL, n, al, NULL); }
HP_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const nothrow_t *t) { return op_new(HP_NEW_AL_NT, n, al, t); }
HP_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const nothrow_t *t) { return op_new(HP_NEW_ARR_AL_NT, n, al, t); }

HP_EXPORT void _ZdlPv(void *p) { op_delete(HP_DEL, p, 0, 0); }
HP_EXPORT void _ZdaPv(void *p) { op_delete(HP_DEL_ARR, p, 0, 0); }
HP_EXPORT void _ZdlPvm(void *p, size_t sz) { op_delete(HP_DEL_SZ, p, sz, 0); }
HP_EXPORT void _ZdaPvm(void *p, size_t sz) { op_delete(HP_DEL_ARR_SZ, p, sz, 0); }
HP_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const nothrow_t *t) { (void)t; op_delete(HP_DEL_NT, p, 0, 0); }
HP_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const nothrow_t *t) { (void)t; op_delete(HP_DEL_ARR_NT, p, 0, 0); }
HP_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) { op_delete(HP_DEL_AL, p, 0, al); }
HP_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) { op_delete(HP_DEL_ARR_AL, p, 0, al); }
HP_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t sz, size_t al) { op_delete(HP_DEL_SZ_AL, p, sz, al); }
HP_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t sz, size_t al) { op_delete(HP_DEL_ARR_SZ_AL, p, sz, al); }
HP_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const nothrow_t *t) { (void)t; op_delete(HP_DEL_AL_NT, p, 0, al); }
HP_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const nothrow_t *t) { (void)t; op_delete(HP_DEL_ARR_AL_NT, p, 0, al); }
/* clang-format on */
