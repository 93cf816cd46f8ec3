/* SPDX-License-Identifier: MIT */
/*
 * stack: libunwind's unw_backtrace with the per-thread cache. Frames are
 * trimmed by address range rather than by a fixed count, so inlining and tail
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

void hp_stack_init(void)
{
	Dl_info info;
	if (dladdr((void *)hp_stack_init, &info))
		dl_iterate_phdr(find_own, (void *)info.dli_fbase);
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	void *warm[8];
	unw_backtrace(warm, 8);
}

bool hp_stack_is_own_pc(uintptr_t pc)
{
	return pc - own_start < own_end - own_start;
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
	while (i < n && (hp_stack_is_own_pc(buf[i]) || hp_backing_is_wrapper_pc(buf[i])))
		i++;
	unsigned keep = (unsigned)(n - i);
	*truncated = keep > max;
	if (keep > max)
		keep = max;
	for (unsigned k = 0; k < keep; k++)
		out[k] = buf[i + k];
	return keep;
}
