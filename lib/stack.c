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
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	void *warm[8];
	unw_backtrace(warm, 8);
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

/* Generous room for our own frames and the wrappers above the caller. */
#define SKIP_ROOM 32

unsigned hp_stack_capture(uintptr_t *out, unsigned max, bool *truncated)
{
	if (max > HP_MAX_FRAMES_LIMIT)
		max = HP_MAX_FRAMES_LIMIT;
	uintptr_t buf[max + SKIP_ROOM + 1];
	int n = unw_backtrace((void **)buf, (int)(max + SKIP_ROOM + 1));
	int i = 0;
	while (i < n && skipped(buf[i]))
		i++;
	unsigned keep = (unsigned)(n - i);
	*truncated = keep > max;
	if (keep > max)
		keep = max;
	for (unsigned k = 0; k < keep; k++)
		out[k] = buf[i + k];
	return keep;
}
