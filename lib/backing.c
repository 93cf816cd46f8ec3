/* SPDX-License-Identifier: MIT */
/*
 * backing: resolves the next allocator with dlsym(RTLD_NEXT). dlsym may itself
 * call malloc or calloc, which land back in interpose.c while hp_real still
 * points at the bootstrap functions below; those serve the request from a
 * static pool of whole pages, so that memalign up to a page works and a
 * block's size is found from its first page. It calls nothing above it:
 * interpose.c recognises pool blocks on free (hp_backing_is_boot).
 */
#include "backing.h"
#include "symbols.h"
#include "common.h"
#include "sys.h"
#include "log.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

const char *const hp_backing_new_names[HP_NUM_NEW] = {
    "_Znwm",
    "_Znam",
    "_ZnwmRKSt9nothrow_t",
    "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t",
    "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t",
    "_ZnamSt11align_val_tRKSt9nothrow_t",
};
const char *const hp_backing_delete_names[HP_NUM_DELETE] = {
    "_ZdlPv",
    "_ZdaPv",
    "_ZdlPvm",
    "_ZdaPvm",
    "_ZdlPvRKSt9nothrow_t",
    "_ZdaPvRKSt9nothrow_t",
    "_ZdlPvSt11align_val_t",
    "_ZdaPvSt11align_val_t",
    "_ZdlPvmSt11align_val_t",
    "_ZdaPvmSt11align_val_t",
    "_ZdlPvSt11align_val_tRKSt9nothrow_t",
    "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

/* ---- bootstrap pool ---------------------------------------------------- */

/* The pool answers only on the thread that is resolving, inside dlsym. */
enum { UNINIT, RESOLVING, READY };
static atomic_int state;
static HP_TLS bool resolving_here;

static bool ready(void)
{
	return atomic_load_explicit(&state, memory_order_acquire) == READY;
}

#define BOOT_PAGE  4096
#define BOOT_PAGES 256

HP_LARGE static char boot_pool[BOOT_PAGES * BOOT_PAGE]
    __attribute__((aligned(BOOT_PAGE)));
HP_LARGE static uint32_t
    boot_bytes[BOOT_PAGES];   /* request size of the block starting at a page */
static atomic_uint boot_next; /* next free page */

static void *boot_alloc(size_t n)
{
	size_t pages = n ? (n + BOOT_PAGE - 1) / BOOT_PAGE : 1;
	if (pages > BOOT_PAGES)
		return errno = ENOMEM, NULL;
	unsigned first = atomic_fetch_add(&boot_next, (unsigned)pages);
	if (first + pages > BOOT_PAGES)
		return errno = ENOMEM, NULL;
	boot_bytes[first] = (uint32_t)n;
	return boot_pool + (size_t)first * BOOT_PAGE;
}

void *hp_backing_boot_alloc(size_t n)
{
	return boot_alloc(n);
}

bool hp_backing_is_boot(const void *p)
{
	return (uintptr_t)p - (uintptr_t)boot_pool < sizeof(boot_pool);
}

size_t hp_backing_boot_size(const void *p)
{
	return boot_bytes[((uintptr_t)p - (uintptr_t)boot_pool) / BOOT_PAGE];
}

/*
 * Bootstrap entry points: hp_real points here until hp_backing_init is done.
 * Each first tries to finish initialisation; while this thread is inside
 * dlsym that is impossible, and the pool answers.
 */
static void *boot_malloc(size_t n)
{
	hp_backing_init();
	return ready() ? hp_real.malloc(n) : boot_alloc(n);
}

static void *boot_calloc(size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n))
		return errno = ENOMEM, NULL;
	hp_backing_init();
	return ready() ? hp_real.calloc(a, b) : boot_alloc(n); /* static: zero */
}

static void *boot_realloc(void *p, size_t n)
{
	hp_backing_init();
	if (ready())
		return hp_real.realloc(p, n);
	void *q = boot_alloc(n);
	if (q && p)
		memcpy(q, p, n); /* p is a pool block: pages stay readable */
	return q;
}

/*
 * reallocarray over hp_real.realloc: for the bootstrap, and for a next
 * allocator that lacks reallocarray.
 */
static void *realloc_array(void *p, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n))
		return errno = ENOMEM, NULL;
	return hp_real.realloc(p, n);
}

static void boot_free(void *p)
{
	(void)p; /* pool blocks are never reused; a real pointer cannot exist yet */
}

static void *boot_memalign(size_t al, size_t n)
{
	hp_backing_init();
	if (ready())
		return hp_real.memalign(al, n);
	return al <= BOOT_PAGE ? boot_alloc(n) : (errno = ENOMEM, NULL);
}

static int boot_posix_memalign(void **out, size_t al, size_t n)
{
	hp_backing_init();
	if (ready())
		return hp_real.posix_memalign(out, al, n);
	void *p = al <= BOOT_PAGE ? boot_alloc(n) : NULL;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void *boot_aligned_alloc(size_t al, size_t n)
{
	return boot_memalign(al, n);
}

static void *boot_valloc(size_t n)
{
	return boot_memalign(BOOT_PAGE, n);
}

static size_t boot_usable(void *p)
{
	hp_backing_init();
	return ready() ? hp_real.malloc_usable_size(p) : 0;
}

static int boot_dlclose(void *h)
{
	hp_backing_init();
	return hp_real.dlclose ? hp_real.dlclose(h) : -1;
}

hp_backing_t hp_real = {
    .malloc = boot_malloc,
    .free = boot_free,
    .calloc = boot_calloc,
    .realloc = boot_realloc,
    .reallocarray = realloc_array,
    .memalign = boot_memalign,
    .posix_memalign = boot_posix_memalign,
    .aligned_alloc = boot_aligned_alloc,
    .valloc = boot_valloc,
    .pvalloc = boot_valloc,
    .malloc_usable_size = boot_usable,
    .dlclose = boot_dlclose,
};

/* ---- resolution ------------------------------------------------------- */

/* glibc's own entry points: the fallback if RTLD_NEXT finds nothing. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

bool hp_backing_global;

/*
 * Where a PLT entry jumps: the global definition of a function that a
 * program not built as PIE takes the address of (python3) is its PLT entry.
 * Anything else is returned as it is.
 */
static void *through_plt(void *fn)
{
	const uint8_t *c = fn;
	if (c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa)
		c += 4; /* endbr64 */
	if (c[0] == 0xf2)
		c++; /* bnd */
	if (c[0] != 0xff || c[1] != 0x25)
		return fn; /* not jmp *disp32(%rip) */
	int32_t disp;
	memcpy(&disp, c + 2, sizeof(disp));
	void *target;
	memcpy(&target, c + 6 + disp, sizeof(target));
	return target;
}

/*
 * Preloaded, the next definition after this library; loaded by `heapprof
 * attach` (outside the global scope), the global definition the program's
 * calls were bound to.
 */
static void *next(const char *name)
{
	if (!hp_backing_global)
		return dlsym(RTLD_NEXT, name);
	void *p = dlsym(RTLD_DEFAULT, name), *q = p ? through_plt(p) : NULL;
	Dl_info a, b;
	if (q != p && dladdr(p, &a) && dladdr(q, &b) && a.dli_fbase == b.dli_fbase)
		return dlsym(RTLD_NEXT, name); /* not bound yet (lazy binding) */
	return q;
}

#define RESOLVE(field, name, fallback)                                                   \
	do {                                                                             \
		void *f_ = next(name);                                                   \
		if (!f_)                                                                 \
			f_ = (void *)(fallback);                                         \
		memcpy(&r.field, &f_, sizeof(f_));                                       \
	} while (0)

static void *glibc_aligned_alloc(size_t al, size_t n)
{
	return __libc_memalign(al, n);
}

static int glibc_posix_memalign(void **out, size_t al, size_t n)
{
	if (al % sizeof(void *) || (al & (al - 1)) || !al)
		return EINVAL;
	void *p = __libc_memalign(al, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void *glibc_valloc(size_t n)
{
	return __libc_memalign(BOOT_PAGE, n);
}

/* pvalloc for an allocator that lacks one (jemalloc): its memalign, page-rounded. */
static void *page_rounded_valloc(size_t n)
{
	size_t r = (n + BOOT_PAGE - 1) & ~(size_t)(BOOT_PAGE - 1);
	if (r < n)
		return errno = ENOMEM, NULL;
	return hp_real.memalign(BOOT_PAGE, r ? r : BOOT_PAGE);
}

static size_t no_usable(void *p)
{
	(void)p;
	return 0;
}

struct containing {
	uintptr_t addr;
	const void *object; /* the object's program headers: one per object */
	const char *name;   /* its file, as the loader names it */
};

static int find_containing(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct containing *c = arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD &&
		    c->addr - (info->dlpi_addr + ph->p_vaddr) < ph->p_memsz) {
			c->object = info->dlpi_phdr;
			c->name = info->dlpi_name;
			return 1;
		}
	}
	return 0;
}

/*
 * Which loaded object holds fn (an identity to compare, not an address).
 * Not dladdr: it searches the object's symbols, about 90,000 instructions a
 * call at start-up, for a name this does not need.
 */
static const void *object_of(void *fn)
{
	struct containing c = {(uintptr_t)fn, NULL, NULL};
	if (fn)
		dl_iterate_phdr(find_containing, &c);
	return c.object;
}

/*
 * Do fn_new and fn_delete live in the GNU C++ runtime, whose operator new
 * is malloc with a new_handler loop and whose operator delete is free?
 */
static bool in_libstdcxx(void *fn_new, void *fn_delete)
{
	struct containing a = {(uintptr_t)fn_new, NULL, NULL};
	struct containing b = {(uintptr_t)fn_delete, NULL, NULL};
	if (!fn_new || !fn_delete)
		return false;
	dl_iterate_phdr(find_containing, &a);
	dl_iterate_phdr(find_containing, &b);
	return a.object && a.object == b.object && a.name &&
	       strstr(a.name, "/libstdc++.so.");
}

static void *(*resolved_malloc)(size_t);

static int read_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof(info->dlpi_adds))
		*(unsigned long long *)arg = info->dlpi_adds;
	return 1;
}

/* How many objects the loader has loaded so far (0 if it does not say). */
static unsigned long long loads(void)
{
	unsigned long long n = 0;
	dl_iterate_phdr(read_adds, &n);
	return n;
}

/*
 * The operators of a C++ runtime that is loaded but not in the global scope:
 * a plugin dlopen'ed without RTLD_GLOBAL brings its libstdc++ (binutils'
 * LTO plugin, LLVM's), whose code calls our operators (we are first in the
 * global scope) while RTLD_NEXT cannot see the runtime. The handle is kept:
 * it keeps the operators it gave from being unloaded.
 */
static void local_runtime(hp_backing_t *r)
{
	static const char *const runtimes[] = {"libstdc++.so.6", "libc++.so.1"};
	for (size_t k = 0; k < sizeof(runtimes) / sizeof(runtimes[0]); k++) {
		void *h = dlopen(runtimes[k], RTLD_LAZY | RTLD_NOLOAD);
		if (!h || !dlsym(h, hp_backing_new_names[HP_NEW]))
			continue; /* (a handle from NOLOAD without the operators: kept) */
		for (int i = 0; i < HP_NUM_NEW; i++)
			if (!r->op_new[i])
				r->op_new[i] = dlsym(h, hp_backing_new_names[i]);
		for (int i = 0; i < HP_NUM_DELETE; i++)
			if (!r->op_delete[i])
				r->op_delete[i] = dlsym(h, hp_backing_delete_names[i]);
		return;
	}
}

static int find_cxx(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	const char *n = info->dlpi_name;
	bool *found = arg;
	*found = n && (strstr(n, "/libstdc++.so") || strstr(n, "/libc++.so"));
	return *found;
}

bool hp_backing_cxx_loaded(void)
{
	bool found = false;
	dl_iterate_phdr(find_cxx, &found);
	return found;
}

bool hp_backing_resolve_cxx(void)
{
	/* Looked for again only once an object was loaded since the last time:
	 * a failed dlsym costs tens of thousands of instructions, and a plugin
	 * with a runtime of its own linked in calls the operators all along. */
	static _Atomic unsigned long long looked_at;
	unsigned long long adds = loads();
	if (adds &&
	    atomic_exchange_explicit(&looked_at, adds, memory_order_relaxed) == adds)
		return false;
	hp_backing_t r = hp_real;
	for (int i = 0; i < HP_NUM_NEW; i++)
		if (!r.op_new[i])
			r.op_new[i] = next(hp_backing_new_names[i]);
	for (int i = 0; i < HP_NUM_DELETE; i++)
		if (!r.op_delete[i])
			r.op_delete[i] = next(hp_backing_delete_names[i]);
	if (!r.op_new[HP_NEW])
		local_runtime(&r);
	const void *new_obj = object_of(r.op_new[HP_NEW]);
	/* The malloc resolved: hp_real.malloc may be limit.c's check by now. */
	r.new_counts = new_obj && new_obj == object_of((void *)resolved_malloc);
	memcpy(hp_real.op_new, r.op_new, sizeof(r.op_new));
	memcpy(hp_real.op_delete, r.op_delete, sizeof(r.op_delete));
	hp_real.new_is_malloc =
	    !r.new_counts && in_libstdcxx(r.op_new[HP_NEW], r.op_delete[HP_DEL]);
	hp_real.new_counts = r.new_counts;
	return true;
}

void hp_backing_init(void)
{
	int s = atomic_load_explicit(&state, memory_order_acquire);
	if (s == READY || resolving_here)
		return;
	s = UNINIT;
	if (!atomic_compare_exchange_strong(&state, &s, RESOLVING)) {
		while (atomic_load_explicit(&state, memory_order_acquire) != READY)
			__builtin_ia32_pause(); /* another thread is resolving */
		return;
	}
	resolving_here = true;
	hp_backing_t r = hp_real;
	RESOLVE(malloc, "malloc", __libc_malloc);
	RESOLVE(free, "free", __libc_free);
	RESOLVE(calloc, "calloc", __libc_calloc);
	RESOLVE(realloc, "realloc", __libc_realloc);
	RESOLVE(reallocarray, "reallocarray", realloc_array);
	RESOLVE(memalign, "memalign", __libc_memalign);
	RESOLVE(posix_memalign, "posix_memalign", glibc_posix_memalign);
	RESOLVE(aligned_alloc, "aligned_alloc", glibc_aligned_alloc);
	RESOLVE(valloc, "valloc", glibc_valloc);
	RESOLVE(pvalloc, "pvalloc", glibc_valloc);
	RESOLVE(malloc_usable_size, "malloc_usable_size", no_usable);
	RESOLVE(dlclose, "dlclose", NULL);
	/*
	 * An allocator that lacks an entry point (jemalloc has no pvalloc nor
	 * reallocarray) leaves glibc's in the chain, which would hand out or
	 * resize blocks the allocator's free does not own. Build those from the
	 * malloc allocator's own functions instead.
	 */
	const void *owner = object_of((void *)r.malloc);
	if (owner && object_of((void *)r.pvalloc) != owner)
		r.pvalloc = page_rounded_valloc;
	if (owner && object_of((void *)r.reallocarray) != owner)
		r.reallocarray = realloc_array;
	r.malloc_is_libc = owner && owner == object_of((void *)__libc_malloc);
	resolved_malloc = r.malloc;
	hp_real = r;
	/* The C++ operators: by the first operator call (interpose.c), since a C
	 * program's twenty failed look-ups would cost 45,000 instructions. */
	resolving_here = false;
	atomic_store_explicit(&state, READY, memory_order_release);
}

/* ---- a program with an allocator of its own ----------------------------- */

HP_LARGE static char foreign_msg[PATH_MAX + 160];

/* The file of the object that holds fn: the executable's path when it is
 * the program itself, which the loader names "". */
static bool module_of(void *fn, char *path, size_t cap, bool *is_exe)
{
	Dl_info info;
	struct link_map *lm = NULL;
	if (!dladdr1(fn, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return false;
	*is_exe = !lm->l_prev; /* the first object: the executable */
	if (*is_exe) {
		ssize_t n = hp_sys_readlink("/proc/self/exe", path, cap - 1);
		if (n <= 0)
			return false;
		path[n] = '\0';
	} else {
		hp_fmt(path, cap, "%s", lm->l_name);
	}
	return true;
}

/* malloc, free, calloc and realloc as interpose.c defines them (hidden
 * aliases); NULL where this file is linked without it (unit tests). */
HP_HIDDEN void *hp_own_malloc(size_t n) __attribute__((weak));
HP_HIDDEN void hp_own_free(void *p) __attribute__((weak));
HP_HIDDEN void *hp_own_calloc(size_t a, size_t b) __attribute__((weak));
HP_HIDDEN void *hp_own_realloc(void *p, size_t n) __attribute__((weak));

const char *hp_backing_foreign(void)
{
	/* Not operator new: a program's own (a static libstdc++'s, as in
	 * gcc's cc1) calls malloc, and an allocator that does not comes with
	 * its malloc, which is found. */
	static const char *const names[] = {"malloc", "free", "calloc", "realloc"};
	static bool looked;
	if (looked)
		return foreign_msg[0] ? foreign_msg : NULL;
	looked = true;
	void *const own[] = {(void *)hp_own_malloc, (void *)hp_own_free,
	                     (void *)hp_own_calloc, (void *)hp_own_realloc};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *fn = dlsym(RTLD_DEFAULT, names[i]);
		char path[PATH_MAX];
		bool is_exe;
		if (fn && fn == own[i])
			continue; /* ours: no walk of the objects to tell */
		/* An executable built without -fPIE that takes free's address
		 * gives the name to its PLT entry (undefined, with a value):
		 * calls still reach the definition, ours. One probe of the
		 * object's hash table tells, where dladdr1 would scan all its
		 * symbols (cc1's 29,000, at every start). */
		if (!hp_symbols_defined_elsewhere(fn, names[i],
		                                  (void *)hp_backing_foreign) ||
		    !module_of(fn, path, sizeof(path), &is_exe))
			continue;
		hp_fmt(
		    foreign_msg, sizeof(foreign_msg),
		    "%s is defined by %s%s; its allocations cannot be seen by LD_PRELOAD",
		    names[i], path,
		    is_exe ? " itself" : ", loaded before libheapprof.so");
		return foreign_msg;
	}
	return NULL;
}
