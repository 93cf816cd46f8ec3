/* SPDX-License-Identifier: MIT */
/*
 * stack: libunwind's unw_backtrace with the per-thread cache. Frames are
 * trimmed by address range (our text, and the next allocator's operator new
 * when it wraps malloc) rather than by a fixed count, so inlining and tail
 * calls in the interposers cannot leave a profiler frame at the leaf.
 */
#define UNW_LOCAL_ONLY
#include "stack.h"
#include "backing.h"
#include "config.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>

static uintptr_t own_start, own_end; /* our executable segment(s) */
atomic_bool hp_stack_ready;

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

void hp_stack_find_wrappers(void)
{
	int n = 0;
	for (int i = 0; i < HP_NUM_NEW && !hp_real.new_counts; i++) {
		Dl_info info;
		const ElfW(Sym) *sym = NULL;
		void *f = hp_real.op_new[i];
		if (f && dladdr1(f, &info, (void **)&sym, RTLD_DL_SYMENT) && sym &&
		    sym->st_size) {
			wrappers[n].start = (uintptr_t)f;
			wrappers[n].end = (uintptr_t)f + sym->st_size;
			n++;
		}
	}
	atomic_store(&num_wrappers, n);
}

void hp_stack_init(void)
{
	Dl_info info;
	if (dladdr((void *)hp_stack_init, &info))
		dl_iterate_phdr(find_own, (void *)info.dli_fbase);
	hp_stack_find_wrappers();
}

/*
 * libunwind's set-up (its caches, the per-thread policy, its first trace)
 * costs about 160,000 instructions: paid by the first sample, not by every
 * program that starts, most of which allocate too little to be sampled.
 * Called with the re-entry guard held, as every capture is: libunwind's own
 * allocations go straight to the next allocator.
 */
static hp_lock_t setup_lock;

void hp_stack_setup(void)
{
	hp_lock_t *lock = &setup_lock;
	hp_lock(lock); /* the others wait: none may trace while the policy changes */
	if (!atomic_load_explicit(&hp_stack_ready, memory_order_relaxed)) {
		unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
		atomic_store_explicit(&hp_stack_ready, true, memory_order_release);
	}
	hp_unlock(lock);
}

/* A fork never copies a set-up half done. */
void hp_stack_prefork(void)
{
	hp_lock(&setup_lock);
}

void hp_stack_postfork_parent(void)
{
	hp_unlock(&setup_lock);
}

void hp_stack_postfork_child(void)
{
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
