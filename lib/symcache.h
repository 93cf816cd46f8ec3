/* SPDX-License-Identifier: MIT */
/*
 * symcache: a module's built symbol table (symbols.c's buckets, not the
 * names) kept across processes in the user's private directory, by build
 * ID, so that the processes of a build that all load cc1 or libLLVM read
 * it instead of scanning tens of thousands of ELF symbols each. The names
 * stay in the ELF file, which symbols.c maps anyway. A file must match its
 * key and its own size, and a lookup checks every offset it follows
 * (symbols.c): a damaged file can lose or misname, never crash. The files are
 * safe to delete at any time.
 * Nothing here runs on the allocation path.
 */
#ifndef HP_SYMCACHE_H
#define HP_SYMCACHE_H

#include "symbols.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Smaller tables are built faster than a file is opened and mapped. The C
 * library's .dynsym (3,044 symbols) is above: scanning it cost 78,000
 * instructions in each process that names a libc frame, and /bin/ls at
 * HEAPPROF_RATE=1 spawned 47 us faster reading it (docs/performance.md).
 */
#define HP_SYMCACHE_MIN 1024

/* The table a module's names come from, which a cached table must match. */
typedef struct {
	char kind;      /* 's': the file's .symtab, 'd': its .dynsym */
	uint64_t count; /* its symbols */
	uint64_t strsz; /* its string table's bytes */
} hp_symcache_key_t;

/*
 * Fills m's table (syms, nsyms, index, index_shift, index_n,
 * cache_map, cache_len) from the cache file for m's build ID and k, if
 * there is one that matches; false otherwise, m untouched.
 */
bool hp_symcache_load(hp_module_t *m, const hp_symcache_key_t *k);

/* Writes m's whole table (syms_state 1) for later processes; failures are
 * silent (a full disk, a directory not private to this user). */
void hp_symcache_store(const hp_module_t *m, const hp_symcache_key_t *k);

#endif
