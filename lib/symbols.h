/* SPDX-License-Identifier: MIT */
/*
 * symbols: the executable mappings of the process (main executable first)
 * with their GNU build IDs, kept for the life of the process so that a
 * library unloaded before a dump still has its mapping, and in-process
 * function names from each object's .symtab and .dynsym. Used by the dumper;
 * nothing here runs on the allocation path.
 */
#ifndef HP_SYMBOLS_H
#define HP_SYMBOLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A function of a module's table, 12 bytes: offsets, not pointers. */
struct hp_sym {
	uint32_t off;  /* st_value less the executable segment's start */
	uint32_t size; /* st_size, 0 if unsized */
	uint32_t name; /* into the module's string table */
};

typedef struct hp_module {
	uintptr_t start, limit; /* executable segment, page aligned start */
	uint64_t offset;        /* file offset of start */
	uintptr_t bias;         /* load address (dlpi_addr) */
	char path[512];
	char build_id[2 * 64 + 1]; /* hex, "" if none */
	_Atomic unsigned seen;     /* generation of the last refresh that saw it */
	/* Symbol table, loaded on first use (guarded by the tables lock). */
	int syms_state; /* 0 not tried, 1 loaded, 2 loaded for want, -1 unavailable */
	uint64_t *want; /* pages of the segment whose addresses are to be named */
	struct hp_sym *syms; /* by address into buckets (symbols.c) */
	size_t nsyms;
	const char *names; /* the string table the names are offsets into */
	size_t names_len;  /* its bytes */
	/* syms of bucket b: [index[b], index[b + 1]); then, from index[index_n + 1],
	 * down[b]: the lowest bucket holding a symbol that reaches b (symbols.c) */
	uint32_t *index;
	unsigned index_shift; /* log2 of a bucket's bytes */
	size_t index_n;       /* buckets */
	void *file_map;       /* the file mapped, or (file_len 0) a copy of .dynstr */
	size_t file_len;
	void *cache_map; /* syms and index mapped from symcache.c's file, or NULL */
	size_t cache_len;
} hp_module_t;

/*
 * Adds every currently loaded object to the registry and marks which are
 * loaded. Called by the dumper and before dlclose (not at start-up: a
 * program that never dumps nor unloads never needs it). Takes the
 * loader lock, then the registry lock: never call it holding another
 * profiler lock.
 */
void hp_symbols_refresh(void);

/* The registry, main executable first; entries are never removed or moved. */
size_t hp_symbols_modules(hp_module_t *const **out);

/* The module containing pc (newest first), or NULL. */
hp_module_t *hp_symbols_find(uintptr_t pc);

/*
 * The name of the function containing pc, in module m, or NULL: from the
 * module's .symtab, else its .dynsym, read once and kept (for the pages of
 * the addresses announced by hp_symbols_want, if they were: an address not
 * announced then gets NULL). The string lives
 * until hp_symbols_release_unloaded drops the table. Call with the tables
 * lock held (hp_symbols_lock), for as long as the name is used.
 */
const char *hp_symbols_name(hp_module_t *m, uintptr_t pc);

/*
 * Says which addresses the names are about to be asked for (tables lock
 * held, before any name is taken, as no name taken before stays valid): a
 * module whose table is not read yet keeps, when it reads it, only the
 * symbols on the pages of these addresses. An exit profile names a few
 * dozen addresses in a table of tens of thousands of symbols (cc1's,
 * libLLVM's); the whole table is read again if a later name needs it.
 * Entries of 0 (a hash map's empty slots) are skipped.
 */
void hp_symbols_want(const uintptr_t *pcs, size_t n);

/*
 * Reads the whole tables of the modules of these addresses (tables lock
 * held): for a forked child, whose own addresses may be anywhere in them,
 * to inherit (profile.c's hp_profile_name_for_children).
 */
void hp_symbols_read_whole(const uintptr_t *pcs, size_t n);

/*
 * The tables lock: a profile's writer holds it for the whole write, so a
 * name it took stays valid. Ordered after the dump lock, before the loader's
 * lock and the registry's.
 */
void hp_symbols_lock(void);
void hp_symbols_unlock(void);

/* The name of the function containing pc copied into buf (the endpoint's
 * symbol route, which refreshes the registry first); its length, 0 if none.
 * Takes the tables lock itself. */
size_t hp_symbols_name_copy(uintptr_t pc, char *buf, size_t len);

/*
 * Drops the tables of modules unloaded (dlclose) before the last refresh;
 * asked again, they are read again from the file. Call at the end of a
 * profile, tables lock held, once no name from them is in use.
 */
void hp_symbols_release_unloaded(void);

/*
 * The size of the dynamic symbol name defined at addr (a function's start),
 * from the hash table of the object that holds it: one probe, where dladdr1
 * scans every symbol of the object. 0 if the object does not export name
 * there.
 */
size_t hp_symbols_defined_size(const void *addr, const char *name);

/*
 * Whether an object other than self's defines name at addr (not a PLT
 * entry standing for a definition elsewhere), by the same one probe.
 */
bool hp_symbols_defined_elsewhere(const void *addr, const char *name, const void *self);

void hp_symbols_prefork(void);
void hp_symbols_postfork_parent(void);
void hp_symbols_postfork_child(void);

#endif
