/* SPDX-License-Identifier: MIT */
/*
 * backing: the next allocator in the chain (glibc, or jemalloc/tcmalloc when
 * the program uses one), found with dlsym(RTLD_NEXT), and the static bootstrap
 * pool that serves the allocations dlsym itself makes before that is known.
 * A leaf: it does not sample, count or route frees (interpose.c does), nor
 * trim stacks (stack.c).
 */
#ifndef HP_BACKING_H
#define HP_BACKING_H

#include "common.h"

#include <stdbool.h>
#include <stddef.h>

/* The C++ operators, in the order of hp_backing_t.op_new / op_delete. */
enum {
	HP_NEW,           /* _Znwm */
	HP_NEW_ARR,       /* _Znam */
	HP_NEW_NT,        /* _ZnwmRKSt9nothrow_t */
	HP_NEW_ARR_NT,    /* _ZnamRKSt9nothrow_t */
	HP_NEW_AL,        /* _ZnwmSt11align_val_t */
	HP_NEW_ARR_AL,    /* _ZnamSt11align_val_t */
	HP_NEW_AL_NT,     /* _ZnwmSt11align_val_tRKSt9nothrow_t */
	HP_NEW_ARR_AL_NT, /* _ZnamSt11align_val_tRKSt9nothrow_t */
	HP_NUM_NEW
};
enum {
	HP_DEL,           /* _ZdlPv */
	HP_DEL_ARR,       /* _ZdaPv */
	HP_DEL_SZ,        /* _ZdlPvm */
	HP_DEL_ARR_SZ,    /* _ZdaPvm */
	HP_DEL_NT,        /* _ZdlPvRKSt9nothrow_t */
	HP_DEL_ARR_NT,    /* _ZdaPvRKSt9nothrow_t */
	HP_DEL_AL,        /* _ZdlPvSt11align_val_t */
	HP_DEL_ARR_AL,    /* _ZdaPvSt11align_val_t */
	HP_DEL_SZ_AL,     /* _ZdlPvmSt11align_val_t */
	HP_DEL_ARR_SZ_AL, /* _ZdaPvmSt11align_val_t */
	HP_DEL_AL_NT,     /* _ZdlPvSt11align_val_tRKSt9nothrow_t */
	HP_DEL_ARR_AL_NT, /* _ZdaPvSt11align_val_tRKSt9nothrow_t */
	HP_NUM_DELETE
};

typedef struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	void *(*memalign)(size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*malloc_usable_size)(void *);
	int (*dlclose)(void *);
	/* C++ operators; NULL until libstdc++ (or the allocator defining them) is loaded.
	 */
	void *op_new[HP_NUM_NEW];
	void *op_delete[HP_NUM_DELETE];
	/*
	 * True when the next operator new lives in the same object as the next
	 * malloc (jemalloc, tcmalloc): it never calls malloc, so the operators
	 * must count allocations themselves. False for libstdc++, whose new calls
	 * malloc, which counts them.
	 */
	bool new_counts;
	/*
	 * The next operators are libstdc++'s: the unaligned ones may be replaced
	 * by malloc and free themselves (interpose.c), which is all they do but
	 * for the new_handler loop, still theirs when malloc fails.
	 */
	bool new_is_malloc;
	/* The next malloc is glibc's (it lives in the same object as __libc_malloc). */
	bool malloc_is_libc;
} hp_backing_t;

/*
 * Set by attach.c before hp_backing_init when the library was loaded into a
 * running process: resolve from the global scope, and never place blocks
 * (place.c), since the program's own free gets them back after a detach.
 */
extern HP_HIDDEN bool hp_backing_global;

/* The operators' mangled names, in the order of op_new and op_delete. */
extern HP_HIDDEN const char *const hp_backing_new_names[HP_NUM_NEW];
extern HP_HIDDEN const char *const hp_backing_delete_names[HP_NUM_DELETE];

/* Before hp_backing_init these point at bootstrap functions that trigger it. */
extern HP_HIDDEN hp_backing_t hp_real;

/* Resolves hp_real. Idempotent and thread-safe; the first allocation calls it. */
void hp_backing_init(void);

/*
 * Re-resolves the C++ operators (they may appear with a later dlopen),
 * including those of a runtime loaded outside the global scope; only once
 * an object was loaded since its last look. Whether it looked.
 */
bool hp_backing_resolve_cxx(void);

/* Is a C++ runtime (libstdc++, libc++) among the loaded objects? */
bool hp_backing_cxx_loaded(void);

/*
 * Is p a block of the bootstrap pool? hp_real hands those out only while it
 * is being resolved, and they must never reach the next allocator's free or
 * realloc: they are never freed, and realloc copies them out.
 */
bool hp_backing_is_boot(const void *p);

/*
 * A zeroed block of the pool, or NULL with ENOMEM when it is used up: for
 * the few allocations made where the next allocator's locks may be held (a
 * thread started from a signal handler). Never freed.
 */
void *hp_backing_boot_alloc(size_t n);
/* The size requested for pool block p. */
size_t hp_backing_boot_size(const void *p);

/*
 * A program that brings its own allocator: the sentence saying that malloc
 * (or free, calloc, realloc) as the program calls it is
 * defined elsewhere than in this library, naming the module (the executable
 * itself, as rustc with its jemalloc, or a library preloaded before this
 * one); NULL when they are all ours. Found by dlsym(RTLD_DEFAULT), so an
 * allocator that is linked in without exporting malloc (a Rust
 * #[global_allocator], a prefixed jemalloc) goes unnoticed. Call after
 * hp_backing_init; the first call looks, later ones return the same.
 */
const char *hp_backing_foreign(void);

#endif
