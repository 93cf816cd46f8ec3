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

typedef struct hp_module {
	uintptr_t start, limit; /* executable segment, page aligned start */
	uint64_t offset;        /* file offset of start */
	uintptr_t bias;         /* load address (dlpi_addr) */
	char path[512];
	char build_id[2 * 64 + 1]; /* hex, "" if none */
	_Atomic unsigned seen;     /* generation of the last refresh that saw it */
	/* Symbol table, loaded on first use by the dumper (guarded by the dump lock). */
	int syms_state;   /* 0 not tried, 1 loaded, 2 sorted, -1 unavailable */
	unsigned lookups; /* names asked while unsorted */
	struct hp_sym *syms;
	size_t nsyms;
	void *file_map;
	size_t file_len;
} hp_module_t;

void hp_symbols_init(void);

/*
 * Adds every currently loaded object to the registry and marks which are
 * loaded. Called at start-up, by the dumper and before dlclose. Takes the
 * loader lock, then the registry lock: never call it holding another
 * profiler lock.
 */
void hp_symbols_refresh(void);

/* The registry, main executable first; entries are never removed or moved. */
size_t hp_symbols_modules(hp_module_t *const **out);

/* The module containing pc (newest first), or NULL. */
hp_module_t *hp_symbols_find(uintptr_t pc);

/*
 * The name of the function containing pc, in module m, or NULL. The string
 * lives as long as the module's symbol table (the process). Dumper only.
 */
const char *hp_symbols_name(hp_module_t *m, uintptr_t pc);

void hp_symbols_prefork(void);
void hp_symbols_postfork_parent(void);
void hp_symbols_postfork_child(void);

#endif
