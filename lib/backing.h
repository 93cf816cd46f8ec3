/* SPDX-License-Identifier: MIT */
/*
 * backing: the next allocator in the chain (glibc, or jemalloc/tcmalloc when
 * the program uses one), found with dlsym(RTLD_NEXT), and the static bootstrap
 * pool that serves the allocations dlsym itself makes before that is known.
 * It does not sample or count anything (interpose.c does).
 */
#ifndef HP_BACKING_H
#define HP_BACKING_H

#include "common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

extern const char *const hp_new_names[HP_NUM_NEW];
extern const char *const hp_delete_names[HP_NUM_DELETE];

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
} hp_backing_t;

/* Before hp_backing_init these point at bootstrap functions that trigger it. */
extern HP_HIDDEN hp_backing_t hp_real;

/* Resolves hp_real. Idempotent and thread-safe; the first allocation calls it. */
void hp_backing_init(void);
bool hp_backing_ready(void);

/* Re-resolves the C++ operators (they may appear with a later dlopen). */
void hp_backing_resolve_cxx(void);

/* Is p inside the bootstrap pool? Its blocks are never freed. */
bool hp_backing_is_boot(const void *p);
size_t hp_backing_boot_size(const void *p);

/*
 * Is pc inside one of the next allocator's operator new functions? Those are
 * wrappers around malloc (libstdc++): their frames are trimmed from the leaf
 * end of a captured stack like our own.
 */
bool hp_backing_is_wrapper_pc(uintptr_t pc);

#endif
