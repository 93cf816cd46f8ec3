/* SPDX-License-Identifier: MIT */
/*
 * symbols: module registry filled from dl_iterate_phdr (build IDs are read
 * from the PT_NOTE segments in memory, so no file is opened at refresh), and
 * a small ELF reader that maps an object's file read-only to look up function
 * names. Records live in the metadata arena and are never removed.
 */
#include "symbols.h"
#include "backing.h"
#include "common.h"
#include "meta_alloc.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct hp_sym {
	uintptr_t addr; /* st_value: file virtual address */
	size_t size;
	const char *name;
};

/*
 * The registry only grows, into a fixed array published through an atomic
 * count, so the dumper reads it without a lock. Writers (refresh) run inside
 * dl_iterate_phdr, so the lock order is always: loader lock, then ours.
 */
#define MAX_MODULES 8192

static hp_lock_t lock; /* serialises writers */
static hp_module_t *mods[MAX_MODULES];
static atomic_size_t nmods;
static atomic_uint generation; /* of the latest refresh; a module seen in it is loaded */

void hp_symbols_init(void)
{
	hp_symbols_refresh();
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[p[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void read_build_id(struct dl_phdr_info *info, char *out)
{
	out[0] = '\0';
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*nh);
			const char *desc = name + ((nh->n_namesz + 3) & ~3u);
			const char *next = desc + ((nh->n_descsz + 3) & ~3u);
			if (next > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && nh->n_descsz <= 64) {
				hex(out, (const uint8_t *)desc, nh->n_descsz);
				return;
			}
			p = next;
		}
	}
}

static hp_module_t *lookup_locked(uintptr_t start, uintptr_t bias, const char *path)
{
	size_t n = atomic_load(&nmods);
	for (size_t i = 0; i < n; i++)
		if (mods[i]->start == start && mods[i]->bias == bias &&
		    !strcmp(mods[i]->path, path))
			return mods[i];
	return NULL;
}

static void add_locked(hp_module_t *m)
{
	size_t n = atomic_load(&nmods);
	if (n == MAX_MODULES)
		return;
	mods[n] = m;
	atomic_store_explicit(&nmods, n + 1, memory_order_release);
}

static int refresh_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	int *index = arg;
	bool is_main = (*index)++ == 0;
	char path[sizeof(((hp_module_t *)0)->path)];
	if (is_main) {
		/* thread-self: after main's pthread_exit, /proc/self is a zombie. */
		ssize_t n = readlink("/proc/thread-self/exe", path, sizeof(path) - 1);
		if (n <= 0)
			n = readlink("/proc/self/exe", path, sizeof(path) - 1);
		path[n > 0 ? n : 0] = '\0';
	} else {
		const char *name = info->dlpi_name ? info->dlpi_name : "";
		size_t n = strlen(name);
		if (n >= sizeof(path))
			n = sizeof(path) - 1;
		memcpy(path, name, n);
		path[n] = '\0';
	}
	unsigned gen = atomic_load(&generation);
	hp_lock(&lock);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;
		hp_module_t *m = lookup_locked(start, info->dlpi_addr, path);
		if (!m) {
			m = hp_meta_alloc(sizeof(*m));
			if (!m)
				break;
			m->start = start;
			m->limit = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) &
			           ~(uintptr_t)4095;
			m->offset = ph->p_offset & ~(uint64_t)4095;
			m->bias = info->dlpi_addr;
			memcpy(m->path, path, strlen(path) + 1);
			read_build_id(info, m->build_id);
			add_locked(m);
		}
		atomic_store_explicit(&m->seen, gen, memory_order_relaxed);
	}
	hp_unlock(&lock);
	return 0;
}

void hp_symbols_refresh(void)
{
	atomic_fetch_add(&generation, 1);
	int index = 0;
	dl_iterate_phdr(refresh_one, &index);
}

/* Was m loaded at the last refresh? */
static bool loaded(const hp_module_t *m)
{
	return atomic_load_explicit(&m->seen, memory_order_relaxed) ==
	       atomic_load(&generation);
}

size_t hp_symbols_modules(hp_module_t *const **out)
{
	*out = mods;
	return atomic_load_explicit(&nmods, memory_order_acquire);
}

hp_module_t *hp_symbols_find(uintptr_t pc)
{
	size_t n = atomic_load_explicit(&nmods, memory_order_acquire);
	/* Newest first: an address reused after dlclose belongs to the newer object. */
	for (size_t i = n; i-- > 0;)
		if (pc >= mods[i]->start && pc < mods[i]->limit && loaded(mods[i]))
			return mods[i];
	for (size_t i = n; i-- > 0;)
		if (pc >= mods[i]->start && pc < mods[i]->limit)
			return mods[i];
	return NULL;
}

/* ---- ELF symbol tables ------------------------------------------------ */

static int cmp_sym(const void *a, const void *b)
{
	const struct hp_sym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * Sorts by address, stably: a radix sort, one pass per byte in which the
 * addresses differ (three or four for a library), instead of qsort's
 * comparisons, which cost a few million instructions for libc alone. Falls
 * back to qsort if the scratch copy cannot be allocated.
 */
static void sort_syms(struct hp_sym *a, size_t n)
{
	uintptr_t any = 0, every = UINTPTR_MAX;
	for (size_t i = 0; i < n; i++) {
		any |= a[i].addr;
		every &= a[i].addr;
	}
	struct hp_sym *src = a, *dst = hp_real.malloc(n * sizeof(*a)), *tmp = dst;
	if (!dst) {
		qsort(a, n, sizeof(*a), cmp_sym);
		return;
	}
	for (unsigned shift = 0; shift < 64; shift += 8) {
		if (!(((any ^ every) >> shift) & 0xff))
			continue; /* every address has the same byte here */
		size_t at[257] = {0};
		for (size_t i = 0; i < n; i++)
			at[((src[i].addr >> shift) & 0xff) + 1]++;
		for (unsigned d = 0; d < 256; d++)
			at[d + 1] += at[d];
		for (size_t i = 0; i < n; i++)
			dst[at[(src[i].addr >> shift) & 0xff]++] = src[i];
		struct hp_sym *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	hp_real.free(tmp);
}

static bool in_file(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

static void load_syms(hp_module_t *m)
{
	m->syms_state = -1;
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	void *map = MAP_FAILED;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) &&
	    st.st_size > (off_t)sizeof(ElfW(Ehdr)))
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	size_t len = (size_t)st.st_size;
	const unsigned char *f = map;
	const ElfW(Ehdr) *eh = map;
	if (memcmp(f, ELFMAG, SELFMAG) || f[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(ElfW(Shdr)) ||
	    !in_file(len, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr)))) {
		munmap(map, len);
		return;
	}
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(f + eh->e_shoff);
	size_t cap = 0, n = 0;
	struct hp_sym *syms = NULL;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < eh->e_shnum; i++) {
			if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM)
				continue;
			if (sh[i].sh_link >= eh->e_shnum ||
			    sh[i].sh_entsize != sizeof(ElfW(Sym)) ||
			    !in_file(len, sh[i].sh_offset, sh[i].sh_size))
				continue;
			const ElfW(Shdr) *strs = &sh[sh[i].sh_link];
			if (!in_file(len, strs->sh_offset, strs->sh_size))
				continue;
			/* A table ending in NUL terminates every name in it. */
			bool ended =
			    strs->sh_size && !f[strs->sh_offset + strs->sh_size - 1];
			const ElfW(Sym) *s = (const ElfW(Sym) *)(f + sh[i].sh_offset);
			size_t count = sh[i].sh_size / sizeof(*s);
			for (size_t k = 0; k < count; k++) {
				int type = ELF64_ST_TYPE(s[k].st_info);
				if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
				    !s[k].st_value || s[k].st_shndx == SHN_UNDEF ||
				    s[k].st_name >= strs->sh_size)
					continue;
				if (pass == 0) {
					cap++;
					continue;
				}
				syms[n].addr = s[k].st_value;
				syms[n].size = s[k].st_size;
				syms[n].name =
				    (const char *)f + strs->sh_offset + s[k].st_name;
				if (!ended && !memchr(syms[n].name, 0,
				                      strs->sh_size - s[k].st_name))
					continue;
				n++;
			}
		}
		if (pass == 0) {
			if (!cap || !(syms = hp_real.malloc(cap * sizeof(*syms)))) {
				munmap(map, len);
				return;
			}
		}
	}
	m->syms = syms; /* in table order: sorted once names are asked often */
	m->nsyms = n;
	m->file_map = map;
	m->file_len = len;
	m->syms_state = 1;
}

/*
 * The symbol for v among syms[0..n) in table order: of those with the
 * greatest address <= v, the last that covers v, else the last if unsized.
 * A scan of the table, for a module asked few names: libc's 2,800 functions
 * cost about 15,000 instructions a scan, sorting them 250,000.
 */
static const char *scan_syms(const struct hp_sym *syms, size_t n, uintptr_t v)
{
	const struct hp_sym *last = NULL, *cover = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct hp_sym *s = &syms[i];
		if (s->addr > v || (last && s->addr < last->addr))
			continue;
		if (last && s->addr > last->addr)
			cover = NULL;
		last = s;
		if (v < s->addr + (s->size ? s->size : 1))
			cover = s;
	}
	if (cover)
		return cover->name;
	return last && !last->size ? last->name : NULL;
}

/* The same answer as scan_syms, from the table sorted stably by address. */
static const char *search_syms(const struct hp_sym *syms, size_t n, uintptr_t v)
{
	size_t lo = 0, hi = n; /* first symbol with addr > v */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (syms[mid].addr <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	for (size_t i = lo; i-- > 0 && syms[i].addr == syms[lo - 1].addr;)
		if (v < syms[i].addr + (syms[i].size ? syms[i].size : 1))
			return syms[i].name;
	return syms[lo - 1].size ? NULL : syms[lo - 1].name;
}

/* Past this many look-ups in one module its table is sorted once. */
#define SCANS_BEFORE_SORT 16

static const char *table_name(hp_module_t *m, uintptr_t v)
{
	if (m->syms_state == 1 && ++m->lookups > SCANS_BEFORE_SORT) {
		sort_syms(m->syms, m->nsyms);
		m->syms_state = 2;
	}
	if (m->syms_state == 1)
		return scan_syms(m->syms, m->nsyms, v);
	return search_syms(m->syms, m->nsyms, v);
}

const char *hp_symbols_name(hp_module_t *m, uintptr_t pc)
{
	if (m->syms_state == 0)
		load_syms(m);
	if (m->syms_state > 0) {
		const char *name = table_name(m, pc - m->bias);
		if (name)
			return name;
	}
	if (loaded(m)) {
		Dl_info info;
		if (dladdr((void *)pc, &info) && info.dli_sname && info.dli_saddr &&
		    (uintptr_t)info.dli_saddr <= pc)
			return info.dli_sname;
	}
	return NULL;
}

void hp_symbols_prefork(void)
{
	hp_lock(&lock);
}

void hp_symbols_postfork_parent(void)
{
	hp_unlock(&lock);
}

void hp_symbols_postfork_child(void)
{
	hp_lock_reset(&lock);
}
