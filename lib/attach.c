/* SPDX-License-Identifier: MIT */
/*
 * attach: the library loaded into a running process by `heapprof attach`
 * (dlopen, RTLD_LOCAL, in one of the target's threads) instead of preloaded.
 * Nothing then binds the program's malloc to this library's, so
 * heapprof_attach_start rewrites the GOT slots (JUMP_SLOT and GLOB_DAT
 * relocations) that name an allocation function in every loaded module, and
 * again in each module loaded later (the slots of dlopen point at a wrapper
 * here), and heapprof_attach_stop writes the old values back. The slots of
 * pipe2, read, write and syscall are rewritten in libunwind only, for
 * unwind_io.c. It does not profile (interpose.c and the rest do).
 */
#include "attach.h"
#include "backing.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "http.h"
#include "interpose.h"
#include "log.h"
#include "proc_record.h"
#include "sampler.h"
#include "stack.h"
#include "trigger.h"
#include "unwind_io.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * The functions whose slots are rewritten: the malloc family, the C++
 * operators (backing.c names them), dlopen, and last NIO that are rewritten
 * in libunwind only. names[] is filled by the first attach.
 */
static const char *const family[] = {"malloc",
                                     "free",
                                     "calloc",
                                     "realloc",
                                     "reallocarray",
                                     "memalign",
                                     "posix_memalign",
                                     "aligned_alloc",
                                     "valloc",
                                     "pvalloc",
                                     "malloc_usable_size",
                                     "dlclose"};
static const char *const tail[] = {"dlopen", "pipe2", "read", "write", "syscall"};
#define NFAMILY HP_ARRAY_SIZE(family)
#define NNAMES  (NFAMILY + HP_NUM_NEW + HP_NUM_DELETE + HP_ARRAY_SIZE(tail))
#define NIO     4
#define DLOPEN  (NNAMES - NIO - 1)
static const char *names[NNAMES];

static void fill_names(void)
{
	size_t n = 0;
	for (size_t i = 0; i < NFAMILY; i++)
		names[n++] = family[i];
	for (size_t i = 0; i < HP_NUM_NEW; i++)
		names[n++] = hp_backing_new_names[i];
	for (size_t i = 0; i < HP_NUM_DELETE; i++)
		names[n++] = hp_backing_delete_names[i];
	for (size_t i = 0; i < HP_ARRAY_SIZE(tail); i++)
		names[n++] = tail[i];
}

static uintptr_t wrapper[NNAMES]; /* this library's definitions */
static void *(*real_dlopen)(const char *, int);

/* A rewritten slot and what it held; base: its module's load address. */
typedef struct {
	uintptr_t *slot;
	uintptr_t old;
	uintptr_t base;
	unsigned name;
} saved_t;

#define MAX_SAVED (1u << 16)
static saved_t *saved; /* MAX_SAVED entries, mmap'd by the first attach */
static size_t nsaved;
static hp_lock_t lock; /* saved, nsaved, attached, the slots themselves */
static enum { NEVER, ATTACHED, DETACHED } state;
static uint64_t first_rate;
static bool serving; /* the endpoint's thread, which a detach leaves running */
static uintptr_t self_base;

/*
 * Is this library in the global scope, where LD_PRELOAD and linking put it
 * and dlopen(RTLD_LOCAL) does not? By a symbol only it defines, looked up
 * in the main program's scope: the global malloc of a program not built as
 * PIE is the program's PLT entry, whether this library is preloaded or not.
 */
bool hp_attach_is_preloaded(void)
{
	/* Asked at start-up three times and at exit: a dlopen and a dlsym
	 * each, 1,800 instructions. How the library came is for good. Racing
	 * threads store the same answer. */
	static _Atomic int known; /* 0 not asked, 1 preloaded, 2 not */
	int k = atomic_load_explicit(&known, memory_order_relaxed);
	if (k)
		return k == 1;
	/* RTLD_DEFAULT would search this library's own scope too. The main
	 * program's handle, never closed, is not worth a dlclose. */
	void *main = dlopen(NULL, RTLD_LAZY);
	bool yes =
	    main && dlsym(main, "heapprof_attach_start") == (void *)heapprof_attach_start;
	atomic_store_explicit(&known, yes ? 1 : 2, memory_order_relaxed);
	return yes;
}

bool hp_attach_is_detached(void)
{
	return state == DETACHED;
}

static int lookup(const char *name)
{
	for (size_t i = 0; i < NNAMES; i++)
		if (!strcmp(names[i], name))
			return (int)i;
	return -1;
}

/* Writes v at slot, through a writable mapping if RELRO made it read-only. */
static void write_slot(uintptr_t *slot, uintptr_t v, uintptr_t ro_lo, uintptr_t ro_hi)
{
	uintptr_t page = (uintptr_t)slot & ~(uintptr_t)4095;
	bool ro = (uintptr_t)slot >= ro_lo && (uintptr_t)slot < ro_hi;
	if (ro && hp_sys_mprotect((void *)page, 4096, PROT_READ | PROT_WRITE))
		return;
	__atomic_store_n(slot, v, __ATOMIC_RELEASE);
	if (ro)
		hp_sys_mprotect((void *)page, 4096, PROT_READ);
}

/* One module's dynamic section, as the loader relocated it. */
typedef struct {
	const Elf64_Sym *sym;
	const char *str;
	const Elf64_Rela *rel[2];
	size_t nrel[2];
	uintptr_t ro_lo, ro_hi; /* the pages RELRO made read-only */
} dyn_t;

static uintptr_t addr_of(uintptr_t base, Elf64_Addr v)
{
	return v < base ? base + v : v; /* the vDSO's are not relocated */
}

static bool read_dynamic(const struct dl_phdr_info *info, dyn_t *d)
{
	memset(d, 0, sizeof(*d));
	const Elf64_Dyn *dyn = NULL;
	uintptr_t b = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const Elf64_Phdr *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_DYNAMIC)
			dyn = (const Elf64_Dyn *)(b + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO) {
			d->ro_lo = (b + ph->p_vaddr) & ~(uintptr_t)4095;
			d->ro_hi = (b + ph->p_vaddr + ph->p_memsz) & ~(uintptr_t)4095;
		}
	}
	for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB:
			d->sym = (const Elf64_Sym *)addr_of(b, dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			d->str = (const char *)addr_of(b, dyn->d_un.d_ptr);
			break;
		case DT_RELA:
			d->rel[0] = (const Elf64_Rela *)addr_of(b, dyn->d_un.d_ptr);
			break;
		case DT_RELASZ:
			d->nrel[0] = dyn->d_un.d_val / sizeof(Elf64_Rela);
			break;
		case DT_JMPREL:
			d->rel[1] = (const Elf64_Rela *)addr_of(b, dyn->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			d->nrel[1] = dyn->d_un.d_val / sizeof(Elf64_Rela);
			break;
		}
	}
	return d->sym && d->str;
}

static void save(uintptr_t *slot, uintptr_t base, unsigned name)
{
	if (nsaved < MAX_SAVED)
		saved[nsaved++] = (saved_t){slot, *slot, base, name};
}

/* dl_iterate_phdr: rewrites the slots of one module. Under lock. */
static int patch_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	dyn_t d;
	if (info->dlpi_addr == self_base || !read_dynamic(info, &d))
		return 0;
	bool unwinder = info->dlpi_name && strstr(info->dlpi_name, "/libunwind");
	for (int t = 0; t < 2; t++)
		for (size_t i = 0; d.rel[t] && i < d.nrel[t]; i++) {
			const Elf64_Rela *r = &d.rel[t][i];
			unsigned type = ELF64_R_TYPE(r->r_info);
			if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
				continue;
			int k = lookup(d.str + d.sym[ELF64_R_SYM(r->r_info)].st_name);
			if (k < 0 || (k > (int)DLOPEN && !unwinder) || !wrapper[k])
				continue;
			uintptr_t *slot = (uintptr_t *)(info->dlpi_addr + r->r_offset);
			if (*slot == wrapper[k] || nsaved == MAX_SAVED)
				continue;
			save(slot, info->dlpi_addr, (unsigned)k);
			write_slot(slot, wrapper[k], d.ro_lo, d.ro_hi);
		}
	return 0;
}

/* dl_iterate_phdr: writes back the slots of one module. Under lock. */
static int unpatch_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	dyn_t d;
	if (!read_dynamic(info, &d))
		return 0;
	for (size_t i = 0; i < nsaved; i++) {
		saved_t *s = &saved[i];
		if (s->base == info->dlpi_addr && *s->slot == wrapper[s->name])
			write_slot(s->slot, s->old, d.ro_lo, d.ro_hi);
	}
	return 0;
}

static void patch_loaded(void)
{
	if (state != ATTACHED)
		return;
	hp_lock(&lock);
	if (state == ATTACHED)
		dl_iterate_phdr(patch_module, NULL);
	hp_unlock(&lock);
}

/* The program's dlopen while attached: the new modules' slots too. */
static void *attached_dlopen(const char *file, int mode)
{
	void *h = real_dlopen(file, mode);
	if (h)
		patch_loaded();
	return h;
}

/* This library's definitions of names[], and the real dlopen. */
static bool find_wrappers(void)
{
	Dl_info me;
	if (!dladdr((void *)find_wrappers, &me) || !me.dli_fname)
		return false;
	self_base = (uintptr_t)me.dli_fbase;
	void *h = dlopen(me.dli_fname, RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		return false;
	fill_names();
	for (size_t i = 0; i < NNAMES; i++) {
		Dl_info in;
		void *f = i == DLOPEN ? (void *)attached_dlopen : dlsym(h, names[i]);
		if (f && dladdr(f, &in) && (uintptr_t)in.dli_fbase == self_base)
			wrapper[i] = (uintptr_t)f;
	}
	dlclose(h);
	real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_DEFAULT, "dlopen");
	saved = hp_sys_mmap(NULL, MAX_SAVED * sizeof(saved_t), PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return real_dlopen && wrapper[0] && saved != MAP_FAILED;
}

/* Applies options: lines NAME=VALUE. */
static void apply_options(const char *options)
{
	while (options && *options) {
		const char *end = strchr(options, '\n');
		size_t len = end ? (size_t)(end - options) : strlen(options);
		const char *eq = memchr(options, '=', len);
		char value[HP_OUTPUT_MAX];
		if (eq && (size_t)(options + len - eq - 1) < sizeof(value)) {
			memcpy(value, eq + 1, (size_t)(options + len - eq - 1));
			value[options + len - eq - 1] = '\0';
			if (hp_config_set(options, (size_t)(eq - options), value))
				hp_log("attach: ignoring unknown option %.*s",
				       (int)(eq - options), options);
		}
		options = end ? end + 1 : NULL;
	}
}

/* A second attach: what the first one started is still there. */
static int restart(const char *options)
{
	uint64_t rate = hp_config.rate;
	apply_options(options);
	if (hp_config.rate != first_rate) {
		hp_config.rate = rate;
		return HP_ATTACH_RATE;
	}
	hp_trigger_init(hp_config.signal);
	hp_proc_record_publish(hp_config.signal, hp_config.output);
	if (!serving && hp_config.http[0])
		serving = hp_http_start() == 0;
	hp_sampler_init(first_rate, hp_config.seed);
	return HP_ATTACH_OK;
}

HP_EXPORT int heapprof_attach_start(const char *options)
{
	if (hp_attach_is_preloaded())
		return HP_ATTACH_PRELOADED;
	if (state == ATTACHED)
		return HP_ATTACH_ACTIVE;
	if (state == DETACHED) {
		int r = restart(options);
		if (r)
			return r;
	} else {
		if (!find_wrappers())
			return -1;
		hp_backing_global = true;
		hp_stack_loaded_hook = patch_loaded;
		hp_backing_init();
		hp_unwind_io_init();
		apply_options(options);
		first_rate = hp_config.rate;
		hp_init_start();
		serving = first_rate && hp_config.http[0];
	}
	hp_lock(&lock);
	state = ATTACHED;
	dl_iterate_phdr(patch_module, NULL);
	hp_unlock(&lock);
	return HP_ATTACH_OK;
}

HP_EXPORT int heapprof_attach_stop(void)
{
	if (state != ATTACHED)
		return hp_attach_is_preloaded() ? HP_ATTACH_PRELOADED
		                                : HP_ATTACH_NOT_ACTIVE;
	hp_lock(&lock);
	state = DETACHED;
	dl_iterate_phdr(unpatch_module, NULL);
	nsaved = 0;
	hp_unlock(&lock);
	hp_sampler_disable();
	hp_trigger_release();
	hp_proc_record_remove();
	return HP_ATTACH_OK;
}
