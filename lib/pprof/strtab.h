/* SPDX-License-Identifier: MIT */
/*
 * strtab: the one string interner, shared by the preloaded library (a
 * profile's string_table, lib/profile.c) and the heapprof command (stacks and
 * functions by name, contrib/heapprof/profiles.c). It allocates only through
 * the functions it is given and reports failure as -ENOMEM, never exits.
 */
#ifndef HP_PPROF_STRTAB_H
#define HP_PPROF_STRTAB_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where an interner's memory comes from: the backing allocator inside the
 * library (hp_real), the C library's in the command. realloc(NULL, n) must
 * allocate, as the C standard's does.
 */
typedef struct {
	void *(*realloc)(void *p, size_t n);
	void (*free)(void *p);
} pp_alloc_t;

typedef struct {
	char **s;        /* the strings by index: a pprof string_table */
	size_t n, cap;   /* strings in s; room in s */
	uint32_t *slots; /* open addressing over s: index + 1, 0 empty */
	size_t nslots;   /* a power of two, at least twice n */
	char **copies;   /* the strings pp_strtab_intern_copy made, freed by fini */
	size_t ncopies, capcopies;
	pp_alloc_t alloc;
} pp_strtab_t;

void pp_strtab_init(pp_strtab_t *t, const pp_alloc_t *alloc);
/* Frees what the table allocated, copies included; t->s is gone after. */
void pp_strtab_fini(pp_strtab_t *t);

/*
 * The index of s in t, adding it if it is new (indexes count from 0 in the
 * order strings were first added). pp_strtab_intern keeps the pointer: s must
 * outlive t. pp_strtab_intern_copy keeps a copy of a new s. Both return the
 * index, or -ENOMEM with t unchanged.
 */
int64_t pp_strtab_intern(pp_strtab_t *t, const char *s);
int64_t pp_strtab_intern_copy(pp_strtab_t *t, const char *s);

/*
 * Makes room for need (at least 1) elements of elem bytes in the array p of
 * capacity *cap, doubling from 64, through alloc. Returns the array, or NULL
 * with p and *cap unchanged. The interner grows its arrays so, and so do its
 * users theirs.
 */
void *pp_grow(const pp_alloc_t *alloc, void *p, size_t *cap, size_t need, size_t elem);

#endif
