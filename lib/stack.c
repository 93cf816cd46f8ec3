/* SPDX-License-Identifier: MIT */
/*
 * stack: unwind_fast's walk, or libunwind's unw_backtrace with the
 * per-thread cache where that cannot walk, libunwind loaded by the first
 * capture that needs it. Frames are
 * trimmed by address range (our text, and the next allocator's operator new
 * when it wraps malloc) rather than by a fixed count, so inlining and tail
 * calls in the interposers cannot leave a profiler frame at the leaf.
 */
#define UNW_LOCAL_ONLY
#include "stack.h"
#include "backing.h"
#include "config.h"
#include "sys.h"
#include "log.h"
#include "symbols.h"
#include "unwind_fast.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <sched.h>
#include <time.h>

static uintptr_t own_start, own_end; /* our executable segment(s) */
atomic_bool hp_stack_ready;
_Atomic(hp_backtrace_fn) hp_stack_backtrace;

/* The next allocator's operator new functions, when they wrap malloc. */
static struct {
	uintptr_t start, end;
} wrappers[HP_NUM_NEW];
static atomic_int num_wrappers; /* entries filled before the count is stored */

static int find_own(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	uintptr_t base = (uintptr_t)arg;
	if (info->dlpi_addr != base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t s = base + ph->p_vaddr, e = s + ph->p_memsz;
		if (!own_start || s < own_start)
			own_start = s;
		if (e > own_end)
			own_end = e;
	}
	return 1;
}

static void find_wrappers(void)
{
	int n = 0;
	for (int i = 0; i < HP_NUM_NEW && !hp_real.new_counts; i++) {
		void *f = hp_real.op_new[i];
		/* libstdc++'s unaligned new is bypassed (interpose.c): never a frame. */
		if (hp_real.new_is_malloc && i < HP_NEW_AL)
			continue;
		/* By the object's hash table: a dladdr1 here scanned every symbol
		 * of libstdc++, 160,000 instructions for each operator. */
		size_t size = hp_symbols_defined_size(f, hp_backing_new_names[i]);
		if (size) {
			wrappers[n].start = (uintptr_t)f;
			wrappers[n].end = (uintptr_t)f + size;
			n++;
		}
	}
	atomic_store(&num_wrappers, n);
}

void hp_stack_find_wrappers(void)
{
	/* Before the first capture there is nothing to trim: its set-up finds
	 * them, so a program never sampled never pays these searches. */
	if (atomic_load_explicit(&hp_stack_ready, memory_order_acquire))
		find_wrappers();
}

void hp_stack_init(void)
{
	Dl_info info;
	if (dladdr((void *)hp_stack_init, &info))
		dl_iterate_phdr(find_own, (void *)info.dli_fbase);
}

/*
 * libunwind is loaded, set up and warmed by the first capture that needs it,
 * not at start-up: that is about 250,000 instructions (the loader relocating
 * libunwind and liblzma, libunwind's caches and first trace) that a program
 * too short or too small to be sampled never pays, nor one whose frames the
 * call frame information all describes (unwind_fast.c). Called with the
 * re-entry guard held, as every capture is, so the loader's and libunwind's
 * allocations go straight to the next allocator; libunwind itself takes the
 * loader's lock on each new code address anyway. RTLD_LOCAL: its
 * _Unwind_Backtrace and backtrace never stand in for the program's.
 */
void (*hp_stack_loaded_hook)(void);

static void load_libunwind(void)
{
	void *h = dlopen(HP_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
	void *bt = h ? dlsym(h, "unw_backtrace") : NULL;
	int (*set_policy)(unw_addr_space_t, unw_caching_policy_t) =
	    h ? (int (*)(unw_addr_space_t, unw_caching_policy_t))dlsym(
	            h, HP_STRINGIFY(unw_set_caching_policy))
	      : NULL;
	unw_addr_space_t *space =
	    h ? (unw_addr_space_t *)dlsym(h, HP_STRINGIFY(unw_local_addr_space)) : NULL;
	if (!bt || !set_policy || !space) {
		hp_log("cannot load %s (%s): samples are taken without their stacks "
		       "where the call frame information does not describe them",
		       HP_LIBUNWIND_SONAME, h ? "a symbol is missing" : "dlopen failed");
		return;
	}
	if (hp_stack_loaded_hook)
		hp_stack_loaded_hook(); /* attach.c: libunwind's slots */
	set_policy(*space, UNW_CACHE_PER_THREAD);
	if (hp_config.unwind_fast)
		hp_unwind_fast_use_libunwind(h);
	atomic_store_explicit(&hp_stack_backtrace, (hp_backtrace_fn)bt,
	                      memory_order_relaxed);
}

static hp_lock_t setup_lock;
static hp_lock_t load_lock;   /* held by the thread loading libunwind */
static atomic_bool unw_tried; /* load_libunwind has run */
static atomic_bool gave_up;   /* a capture stopped waiting for a load */

/*
 * Another thread's load is waited for at most 20 ms, and not at all once a
 * capture gave up: the waiting thread may hold the loader's lock that the
 * loading thread's dlopen needs (a program's dl_iterate_phdr callback that
 * allocates), and waiting for it hung both (test_stack_load).
 */
static bool lock_load(void)
{
	uint64_t deadline = 0;
	while (!hp_trylock(&load_lock)) {
		if (atomic_load_explicit(&gave_up, memory_order_relaxed))
			return false;
		uint64_t now = hp_clock_ns(CLOCK_MONOTONIC);
		if (!deadline)
			deadline = now + 20000000;
		else if (now > deadline) {
			atomic_store_explicit(&gave_up, true, memory_order_relaxed);
			return false;
		}
		hp_sys_sched_yield();
	}
	return true;
}

bool hp_stack_load_libunwind(void)
{
	if (atomic_load_explicit(&unw_tried, memory_order_acquire))
		return true;
	if (!lock_load())
		return false;
	if (!atomic_load_explicit(&unw_tried, memory_order_relaxed)) {
		load_libunwind();
		atomic_store_explicit(&unw_tried, true, memory_order_release);
	}
	hp_unlock(&load_lock);
	return true;
}

void hp_stack_setup(void)
{
	if (!hp_config.unwind_fast)
		hp_stack_load_libunwind();
	hp_lock_t *lock = &setup_lock;
	hp_lock(lock);
	if (!atomic_load_explicit(&hp_stack_ready, memory_order_relaxed)) {
		find_wrappers(); /* 160,000 instructions each: not at start-up */
		if (hp_config.unwind_fast)
			hp_unwind_fast_enable();
		atomic_store_explicit(&hp_stack_ready, true, memory_order_release);
	}
	hp_unlock(lock);
}

int hp_stack_walk_libunwind(uintptr_t *raw, int max)
{
	if (!hp_stack_load_libunwind())
		return 0; /* being loaded by a thread that may wait for this one */
	hp_backtrace_fn bt =
	    atomic_load_explicit(&hp_stack_backtrace, memory_order_relaxed);
	return bt ? bt((void **)raw, max) : 0;
}

/* A fork never copies a set-up half done. */
void hp_stack_prefork(void)
{
	hp_lock(&setup_lock);
	hp_lock(&load_lock);
}

void hp_stack_postfork_parent(void)
{
	hp_unlock(&load_lock);
	hp_unlock(&setup_lock);
}

void hp_stack_postfork_child(void)
{
	hp_lock_reset(&load_lock);
	hp_lock_reset(&setup_lock);
}

/* Is pc inside libheapprof's own code, or inside a wrapper? */
static bool skipped(uintptr_t pc)
{
	if (pc - own_start < own_end - own_start)
		return true;
	int n = atomic_load_explicit(&num_wrappers, memory_order_relaxed);
	for (int i = 0; i < n; i++)
		if (pc - wrappers[i].start < wrappers[i].end - wrappers[i].start)
			return true;
	return false;
}

void hp_stack_trim(hp_stack_t *st, const uintptr_t *raw, int got, unsigned max)
{
	int i = 0;
	while (i < got && skipped(raw[i]))
		i++;
	unsigned keep = (unsigned)(got - i);
	st->truncated = keep > max;
	st->frames = raw + i;
	st->n = keep > max ? max : keep;
}
