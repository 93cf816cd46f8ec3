/* SPDX-License-Identifier: MIT */
/*
 * symbols: module registry filled from dl_iterate_phdr (build IDs are read
 * from the PT_NOTE segments in memory, so no file is opened at refresh), and
 * a small ELF reader that maps an object's file read-only to look up function
 * names, or copies its .dynsym from memory when the file is not the one
 * loaded. Records live in the metadata arena and are never removed.
 */
#include "symbols.h"
#include "backing.h"
#include "common.h"
#include "sys.h"
#include "log.h"
#include "meta_alloc.h"
#include "scratch.h"
#include "symcache.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The registry only grows, into a fixed array published through an atomic
 * count, so the dumper reads it without a lock. Writers (refresh) run inside
 * dl_iterate_phdr, so the lock order is always: loader lock, then ours.
 */
#define MAX_MODULES 8192

static hp_lock_t lock; /* serialises writers */
/* Guards every module's symbol table: held by a profile's writer for the
 * whole write, by the endpoint's symbol route, by the exit summary. */
static pthread_mutex_t tables = PTHREAD_MUTEX_INITIALIZER;
HP_LARGE static hp_module_t *mods[MAX_MODULES];
static atomic_size_t nmods;
static atomic_uint generation; /* of the latest refresh; a module seen in it is loaded */

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[p[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The GNU build ID among the notes at p (size bytes) in hex, into out. */
static void note_build_id(const char *p, size_t size, char *out)
{
	const char *end = p + size;
	while (p + sizeof(ElfW(Nhdr)) <= end) {
		const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
		const char *name = p + sizeof(*nh);
		const char *desc = name + ((nh->n_namesz + 3) & ~3u);
		const char *next = desc + ((nh->n_descsz + 3) & ~3u);
		if (next > end || next < p)
			return;
		if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
		    !memcmp(name, "GNU", 4) && nh->n_descsz <= 64) {
			hex(out, (const uint8_t *)desc, nh->n_descsz);
			return;
		}
		p = next;
	}
}

static void read_build_id(struct dl_phdr_info *info, char *out)
{
	out[0] = '\0';
	for (int i = 0; i < info->dlpi_phnum && !out[0]; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_NOTE)
			note_build_id((const char *)(info->dlpi_addr + ph->p_vaddr),
			              ph->p_memsz, out);
	}
}

/* The record of this very object: a rebuilt one loaded at the same address
 * under the same path has another build ID, and other names. */
static hp_module_t *lookup_locked(uintptr_t start, uintptr_t bias, const char *path,
                                  const char *build_id)
{
	size_t n = atomic_load(&nmods);
	for (size_t i = 0; i < n; i++)
		if (mods[i]->start == start && mods[i]->bias == bias &&
		    !strcmp(mods[i]->path, path) && !strcmp(mods[i]->build_id, build_id))
			return mods[i];
	return NULL;
}

static bool add_locked(hp_module_t *m)
{
	size_t n = atomic_load(&nmods);
	if (n == MAX_MODULES)
		return false;
	mods[n] = m;
	atomic_store_explicit(&nmods, n + 1, memory_order_release);
	return true;
}

/*
 * The loader's counts of objects loaded and unloaded (dlpi_adds, dlpi_subs)
 * when the registry last took in every object: while they stay the same, a
 * refresh has nothing to add and stops at the first object (a process's
 * later dumps, the endpoint's requests, a dlclose): no note, no link read
 * again, no page of the registry written.
 */
static struct {
	bool valid;
	unsigned long long adds, subs;
} whole; /* under lock */

typedef struct {
	int index;
	bool counted;    /* the loader gave its counts, in adds and subs */
	bool skipped;    /* they were those of the last whole refresh */
	bool incomplete; /* an object left out: no room */
	unsigned long long adds, subs;
} walk_t;

/* Before the first object: false when nothing changed since the last whole refresh. */
static bool walk_begin(walk_t *w, const struct dl_phdr_info *info, size_t size)
{
	w->counted =
	    size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs);
	if (w->counted) {
		w->adds = info->dlpi_adds;
		w->subs = info->dlpi_subs;
		hp_lock(&lock);
		w->skipped =
		    whole.valid && whole.adds == w->adds && whole.subs == w->subs;
		hp_unlock(&lock);
		if (w->skipped)
			return false;
	}
	atomic_fetch_add(&generation, 1);
	return true;
}

static int refresh_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	walk_t *w = arg;
	bool is_main = w->index++ == 0;
	if (is_main && !walk_begin(w, info, size))
		return 1;
	char path[sizeof(((hp_module_t *)0)->path)];
	if (is_main) {
		/* thread-self: after main's pthread_exit, /proc/self is a zombie.
		 * self first: valgrind answers it with the program, not itself. */
		ssize_t n = hp_sys_readlink("/proc/self/exe", path, sizeof(path) - 1);
		if (n <= 0)
			n = hp_sys_readlink("/proc/thread-self/exe", path,
			                    sizeof(path) - 1);
		path[n > 0 ? n : 0] = '\0';
	} else {
		const char *name = info->dlpi_name ? info->dlpi_name : "";
		size_t n = strlen(name);
		if (n >= sizeof(path))
			n = sizeof(path) - 1;
		memcpy(path, name, n);
		path[n] = '\0';
	}
	char build_id[sizeof(((hp_module_t *)0)->build_id)];
	read_build_id(info, build_id);
	unsigned gen = atomic_load(&generation);
	hp_lock(&lock);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;
		hp_module_t *m = lookup_locked(start, info->dlpi_addr, path, build_id);
		if (!m) {
			m = hp_meta_alloc(sizeof(*m));
			if (!m) {
				w->incomplete = true;
				break;
			}
			m->start = start;
			m->limit = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) &
			           ~(uintptr_t)4095;
			m->offset = ph->p_offset & ~(uint64_t)4095;
			m->bias = info->dlpi_addr;
			memcpy(m->path, path, strlen(path) + 1);
			memcpy(m->build_id, build_id, sizeof(build_id));
			if (!add_locked(m))
				w->incomplete = true;
		}
		atomic_store_explicit(&m->seen, gen, memory_order_relaxed);
	}
	hp_unlock(&lock);
	return 0;
}

void hp_symbols_refresh(void)
{
	walk_t w = {0};
	dl_iterate_phdr(refresh_one, &w);
	if (!w.counted || w.skipped || w.incomplete)
		return;
	/* Every object of these counts is in: a later walk that finds the same
	 * counts may stop. Another walk's older counts, stored after, only make
	 * the next one whole. */
	hp_lock(&lock);
	whole.valid = true;
	whole.adds = w.adds;
	whole.subs = w.subs;
	hp_unlock(&lock);
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
	/* The last answer first: a profile asks about a stack's addresses in
	 * turn, most of them in one or two objects. Two loaded objects never
	 * overlap, so a loaded one that holds pc is the answer. */
	static hp_module_t *_Atomic last;
	hp_module_t *m = atomic_load_explicit(&last, memory_order_relaxed);
	if (m && pc >= m->start && pc < m->limit && loaded(m))
		return m;
	size_t n = atomic_load_explicit(&nmods, memory_order_acquire);
	/* Newest first: an address reused after dlclose belongs to the newer object. */
	for (size_t i = n; i-- > 0;)
		if (pc >= mods[i]->start && pc < mods[i]->limit && loaded(mods[i])) {
			atomic_store_explicit(&last, mods[i], memory_order_relaxed);
			return mods[i];
		}
	for (size_t i = n; i-- > 0;)
		if (pc >= mods[i]->start && pc < mods[i]->limit)
			return mods[i];
	return NULL;
}

/* ---- ELF symbol tables ------------------------------------------------ */

static bool in_file(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* Releases m's table: the file's mapping, or the copy of its names. */
static void drop_syms(hp_module_t *m)
{
	if (m->file_map && m->file_len)
		hp_sys_munmap(m->file_map, m->file_len);
	else
		hp_scratch_free(m->file_map);
	if (m->cache_map) {
		hp_sys_munmap(m->cache_map, m->cache_len);
	} else {
		hp_scratch_free(m->syms);
		hp_scratch_free(m->index);
	}
	hp_scratch_free(m->want);
	m->cache_map = NULL;
	m->cache_len = 0;
	m->want = NULL;
	m->syms = NULL;
	m->nsyms = 0;
	m->index = NULL;
	m->names = NULL;
	m->file_map = NULL;
	m->file_len = 0;
	m->syms_state = 0;
}

/* Is s a named function of m's executable segment (lo, span: its file
 * addresses), whose name ends inside the table? */
static inline __attribute__((always_inline)) bool keep(const ElfW(Sym) * s, uintptr_t lo,
                                                       uintptr_t span, size_t strsz)
{
	unsigned type = ELF64_ST_TYPE(s->st_info);
	return (type == STT_FUNC || type == STT_GNU_IFUNC) && s->st_value - lo < span &&
	       s->st_shndx != SHN_UNDEF && s->st_name < strsz;
}

#define WANT_SHIFT 12 /* hp_symbols_want's pages */

/* Is page p marked in want (hp_symbols_want's bitmap, 64 pages a word)? */
static inline bool want_bit(const uint64_t *want, uint64_t p)
{
	return (want[p >> 6] >> (p & 63)) & 1;
}

/* Does [off, off + size) (off < span, size > 0) touch a page of want? The
 * first page's bit decides for most functions, which fit in a page. */
static inline bool touches(const uint64_t *w, uint64_t off, uint64_t size, uintptr_t span)
{
	uint64_t p = off >> WANT_SHIFT, e;
	if (want_bit(w, p))
		return true;
	if ((off & ((1u << WANT_SHIFT) - 1)) + size <= (1u << WANT_SHIFT))
		return false;
	e = (off + size - 1) >> WANT_SHIFT;
	if (e > (span - 1) >> WANT_SHIFT)
		e = (span - 1) >> WANT_SHIFT;
	if (p >> 6 == e >> 6) /* one word: the common case */
		return w[p >> 6] & ((~0ull >> (63 - (e - p))) << (p & 63));
	for (; p <= e; p++)
		if (want_bit(w, p))
			return true;
	return false;
}

/*
 * The symbols build keeps into out (count entries of room): the functions of
 * m's executable segment, with m->want only those on its pages (a sized
 * symbol none of whose pages holds an address to name is skipped; an
 * unsized one may stand for any address above it). The segment test comes
 * first: it rejects what keep would, and the page test is the next cheapest.
 */
static inline __attribute__((always_inline)) size_t
gather_in(const hp_module_t *m, const ElfW(Sym) * s, size_t count, const char *strs,
          size_t strsz, struct hp_sym *out, const uint64_t *w)
{
	uintptr_t lo = m->start - m->bias, span = m->limit - m->start;
	bool ended = strsz && !strs[strsz - 1]; /* then every name ends */
	size_t n = 0;
	for (size_t k = 0; k < count; k++) {
		const ElfW(Sym) *e = &s[k];
		uint64_t off = e->st_value - lo;
		if (off >= span ||
		    (w && e->st_size && !touches(w, off, e->st_size, span)) ||
		    !keep(e, lo, span, strsz) ||
		    (!ended && !memchr(strs + e->st_name, 0, strsz - e->st_name)))
			continue;
		out[n++] = (struct hp_sym){(uint32_t)off,
		                           e->st_size > UINT32_MAX ? UINT32_MAX
		                                                   : (uint32_t)e->st_size,
		                           e->st_name};
	}
	return n;
}

/* gather_in, compiled once with a want bitmap and once without. */
static size_t gather(const hp_module_t *m, const ElfW(Sym) * s, size_t count,
                     const char *strs, size_t strsz, struct hp_sym *out,
                     const uint64_t *want)
{
	return want ? gather_in(m, s, count, strs, strsz, out, want)
	            : gather_in(m, s, count, strs, strsz, out, NULL);
}

/*
 * down[b] for each of the nb buckets of syms (index: each bucket's first
 * entry): the lowest bucket holding a symbol that covers a byte of bucket
 * b, or b. A name lookup walks down from its bucket to there, and no
 * further: below, every symbol ends before bucket b. One bound for the
 * whole table, the longest symbol's length, made every address that no
 * symbol covers walk that far down: in cc1, whose .dynsym holds a function
 * of 311,460 bytes, 304 buckets of 1 KiB, about 6,000 instructions an
 * unnamed address (half its exit profile's). reach holds nb scratch
 * entries: the highest bucket any symbol starting in bucket j or below
 * reaches, nondecreasing, so down[b] is the first j whose reach is b or
 * more.
 */
static void fill_down(const struct hp_sym *syms, const uint32_t *index, size_t nb,
                      unsigned shift, uint32_t *reach, uint32_t *down)
{
	uint32_t high = 0;
	for (size_t j = 0; j < nb; j++) {
		for (uint32_t i = index[j]; i < index[j + 1]; i++) {
			uint64_t end = ((uint64_t)syms[i].off +
			                (syms[i].size ? syms[i].size : 1) - 1) >>
			               shift;
			if (end > high)
				high = end >= nb ? (uint32_t)(nb - 1) : (uint32_t)end;
		}
		reach[j] = high;
	}
	size_t j = 0;
	for (size_t b = 0; b < nb; b++) {
		while (j < b && reach[j] < b)
			j++;
		down[b] = (uint32_t)j;
	}
}

/*
 * Builds m's table from s[0..count) (names in strs, strsz bytes): the
 * functions of its executable segment, by address into buckets of 2^shift
 * bytes, about one symbol a bucket, in table order within each, and each
 * bucket's lower bound (fill_down). One pass over the ELF table into a
 * compact array, one to place each entry: about 25 instructions a symbol,
 * where sorting them cost 96 and a dladdr per address scanned them all.
 * With want (m->want, or NULL for the whole table), only the symbols on
 * its pages. Returns false if memory runs out.
 */
static bool build(hp_module_t *m, const ElfW(Sym) * s, size_t count, const char *strs,
                  size_t strsz, const uint64_t *want)
{
	uintptr_t span = m->limit - m->start;
	uint32_t *first = NULL;
	struct hp_sym *tmp = hp_scratch_realloc(NULL, (count ? count : 1) * sizeof(*tmp)),
	              *syms;
	if (!tmp || count > UINT32_MAX || strsz > UINT32_MAX || span > UINT32_MAX)
		goto fail;
	size_t n = gather(m, s, count, strs, strsz, tmp, want);
	/* Buckets of 2^shift bytes, about one symbol each. */
	unsigned shift = 0;
	while ((span >> shift) > n)
		shift++;
	size_t nb = (span >> shift) + 1;
	/* index[0..nb], then down[0..nb) (fill_down): hp_module_t's index. */
	if (!(first = hp_scratch_realloc(NULL, (2 * nb + 1) * sizeof(*first))))
		goto fail;
	for (size_t i = 0; i < n; i++)
		first[(tmp[i].off >> shift) + 1]++;
	for (size_t b = 0; b < nb; b++)
		first[b + 1] += first[b];
	if (!(syms = hp_scratch_realloc(NULL, (n ? n : 1) * sizeof(*syms))))
		goto fail;
	for (size_t i = 0; i < n; i++)
		syms[first[tmp[i].off >> shift]++] = tmp[i];
	memmove(first + 1, first, nb * sizeof(*first)); /* each bucket's start */
	first[0] = 0;
	/* tmp's 12-byte entries, at least one and n, hold fill_down's nb
	 * reach entries: nb is 1 with no symbol, else at most n + 1. */
	_Static_assert(sizeof(*tmp) >= 2 * sizeof(uint32_t), "reach fits in tmp");
	fill_down(syms, first, nb, shift, (uint32_t *)tmp, first + nb + 1);
	hp_scratch_free(tmp);
	m->syms = syms;
	m->nsyms = n;
	m->names = strs;
	m->names_len = strsz;
	m->index = first;
	m->index_shift = shift;
	m->index_n = nb;
	m->syms_state = want ? 2 : 1;
	return true;
fail:
	hp_scratch_free(first);
	hp_scratch_free(tmp);
	return false;
}

/* The file's GNU build ID in hex ("" if none), from its program headers. */
static void file_build_id(const unsigned char *f, size_t len, char *out)
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)f;
	out[0] = '\0';
	if (eh->e_phentsize != sizeof(ElfW(Phdr)) ||
	    !in_file(len, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr))))
		return;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(f + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum && !out[0]; i++)
		if (ph[i].p_type == PT_NOTE &&
		    in_file(len, ph[i].p_offset, ph[i].p_filesz))
			note_build_id((const char *)f + ph[i].p_offset, ph[i].p_filesz,
			              out);
}

/*
 * The file's .symtab if it has one (every function, static ones too), else
 * its .dynsym: one table, not both, since the first holds the second.
 */
static const ElfW(Shdr) * pick_table(const unsigned char *f, size_t len)
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)f;
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(f + eh->e_shoff);
	const ElfW(Shdr) *best = NULL;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM)
			continue;
		if (sh[i].sh_link >= eh->e_shnum ||
		    sh[i].sh_entsize != sizeof(ElfW(Sym)) ||
		    !in_file(len, sh[i].sh_offset, sh[i].sh_size) ||
		    !in_file(len, sh[sh[i].sh_link].sh_offset, sh[sh[i].sh_link].sh_size))
			continue;
		if (!best || sh[i].sh_type == SHT_SYMTAB)
			best = &sh[i];
	}
	return best;
}

/*
 * m's table from the ELF table s (key k, names in names): from the cache
 * when a process built it before; else built, and when the cache would
 * serve the next process, built whole (not for m->want's pages) and stored.
 */
static bool table_for(hp_module_t *m, const hp_symcache_key_t *k, const ElfW(Sym) * s,
                      const char *names)
{
	bool ended = k->strsz && !names[k->strsz - 1];
	if (ended && hp_symcache_load(m, k)) {
		m->names = names;
		m->names_len = k->strsz;
		m->syms_state = 1;
		return true;
	}
	bool store = ended && m->build_id[0] && k->count >= HP_SYMCACHE_MIN;
	if (!build(m, s, k->count, names, k->strsz, store ? NULL : m->want))
		return false;
	if (store)
		hp_symcache_store(m, k);
	return true;
}

/*
 * Loads m's names from its file, mapped read-only and kept mapped (the names
 * point into it). Refuses a file whose build ID is not the module's: the
 * object was replaced on disk since it was loaded. Returns false when the
 * file gives no table.
 */
static bool load_file_syms(hp_module_t *m)
{
	int fd = hp_sys_open(m->path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct stat st;
	void *map = MAP_FAILED;
	if (!hp_sys_fstat(fd, &st) && S_ISREG(st.st_mode) &&
	    st.st_size > (off_t)sizeof(ElfW(Ehdr)))
		map =
		    hp_sys_mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	hp_sys_close(fd);
	if (map == MAP_FAILED)
		return false;
	size_t len = (size_t)st.st_size;
	const unsigned char *f = map;
	const ElfW(Ehdr) *eh = map;
	char id[sizeof(m->build_id)];
	const ElfW(Shdr) *t = NULL;
	if (!memcmp(f, ELFMAG, SELFMAG) && f[EI_CLASS] == ELFCLASS64 &&
	    eh->e_shentsize == sizeof(ElfW(Shdr)) &&
	    in_file(len, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr)))) {
		file_build_id(f, len, id);
		if (!m->build_id[0] || !strcmp(id, m->build_id))
			t = pick_table(f, len);
	}
	const ElfW(Shdr) *strs =
	    t ? (const ElfW(Shdr) *)(f + eh->e_shoff) + t->sh_link : NULL;
	hp_symcache_key_t key = {t && t->sh_type == SHT_SYMTAB ? 's' : 'd',
	                         t ? t->sh_size / sizeof(ElfW(Sym)) : 0,
	                         strs ? strs->sh_size : 0};
	if (!t || !table_for(m, &key, (const ElfW(Sym) *)(f + t->sh_offset),
	                     (const char *)f + strs->sh_offset)) {
		hp_sys_munmap(map, len);
		return false;
	}
	m->file_map = map;
	m->file_len = len;
	return true;
}

/* ---- .dynsym from memory, for an object whose file is gone ---------- */

/* The end of the loaded segment holding addr, or 0 if none does. */
static uintptr_t segment_end(const struct dl_phdr_info *info, uintptr_t addr)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && addr >= lo && addr - lo < ph->p_memsz)
			return lo + ph->p_memsz;
	}
	return 0;
}

/* Is [addr, addr + len) inside one of the object's loaded segments? */
static bool mapped(const struct dl_phdr_info *info, uintptr_t addr, size_t len)
{
	uintptr_t end = segment_end(info, addr);
	return end && len <= end - addr;
}

/* The number of symbols a DT_GNU_HASH table at h covers, or 0. */
static size_t gnu_hash_count(const struct dl_phdr_info *info, uintptr_t h)
{
	if (!mapped(info, h, 16))
		return 0;
	const uint32_t *w = (const uint32_t *)h;
	uint32_t nbuckets = w[0], symoffset = w[1], nbloom = w[2];
	uintptr_t buckets = h + 16 + (uintptr_t)nbloom * sizeof(ElfW(Addr));
	if (!mapped(info, buckets, (size_t)nbuckets * 4))
		return 0;
	uint32_t last = 0;
	for (uint32_t i = 0; i < nbuckets; i++)
		if (((const uint32_t *)buckets)[i] > last)
			last = ((const uint32_t *)buckets)[i];
	if (last < symoffset)
		return symoffset;
	/* The last bucket's chain runs to the entry with its low bit set. */
	const uint32_t *chain = (const uint32_t *)(buckets + (size_t)nbuckets * 4);
	const uint32_t *c = chain + (last - symoffset);
	uintptr_t end = segment_end(info, (uintptr_t)c);
	for (; end && (uintptr_t)(c + 1) <= end; c++, last++)
		if (*c & 1)
			return (size_t)last + 1;
	return 0;
}

/* A d_ptr of the dynamic section: ld.so relocates most, not the vDSO's. */
static uintptr_t dyn_ptr(const struct dl_phdr_info *info, ElfW(Addr) v)
{
	return v < info->dlpi_addr ? info->dlpi_addr + v : v;
}

/* The dynamic symbol table of the object info describes, as loaded. */
struct dyn_tables {
	uintptr_t symtab, strtab, gnu_hash; /* gnu_hash: 0 if it has none */
	size_t strsz, count;                /* count: symbols in symtab */
};

/* Reads info's dynamic section into t; false unless the table, its names
 * and (with count) its count are there and inside the loaded segments.
 * Counting walks every hash bucket: a lookup by name does without. */
static bool dyn_tables(const struct dl_phdr_info *info, struct dyn_tables *t, bool count)
{
	const ElfW(Dyn) *dyn = NULL;
	size_t ndyn = 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr +
			                          info->dlpi_phdr[i].p_vaddr);
			ndyn = info->dlpi_phdr[i].p_memsz / sizeof(*dyn);
		}
	uintptr_t hash = 0;
	*t = (struct dyn_tables){0};
	for (size_t i = 0; dyn && i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		ElfW(Addr) v = dyn[i].d_un.d_ptr;
		switch (dyn[i].d_tag) {
		case DT_SYMTAB:
			t->symtab = dyn_ptr(info, v);
			break;
		case DT_STRTAB:
			t->strtab = dyn_ptr(info, v);
			break;
		case DT_STRSZ:
			t->strsz = dyn[i].d_un.d_val;
			break;
		case DT_HASH:
			hash = dyn_ptr(info, v);
			break;
		case DT_GNU_HASH:
			t->gnu_hash = dyn_ptr(info, v);
			break;
		}
	}
	if (!count)
		return t->symtab && t->strsz && mapped(info, t->strtab, t->strsz);
	if (t->gnu_hash)
		t->count = gnu_hash_count(info, t->gnu_hash);
	else if (hash && mapped(info, hash, 8))
		t->count = ((const uint32_t *)hash)[1];
	return t->count && t->symtab && t->strsz && mapped(info, t->strtab, t->strsz) &&
	       mapped(info, t->symtab, t->count * sizeof(ElfW(Sym)));
}

/* The GNU hash of a symbol name (DT_GNU_HASH's, djb2). */
static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

struct defined {
	uintptr_t addr;
	const char *name;
	uintptr_t other; /* an address to find in the same object, or 0 */
	bool found;      /* out: name's symbol at addr, defined there */
	bool same;       /* out: other lies in addr's object */
	size_t size;     /* out: that symbol's st_size */
};

/* In the object holding d->addr: name's symbol there, by DT_GNU_HASH. */
static int find_defined(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct defined *d = arg;
	struct dyn_tables t;
	if (!segment_end(info, d->addr))
		return 0;
	d->same = d->other && segment_end(info, d->other);
	if (!dyn_tables(info, &t, false) || !t.gnu_hash || !mapped(info, t.gnu_hash, 16))
		return 1;
	uintptr_t h = t.gnu_hash, strtab = t.strtab;
	size_t strsz = t.strsz;
	const uint32_t *w = (const uint32_t *)h;
	const uint32_t *buckets =
	    (const uint32_t *)(h + 16 + (uintptr_t)w[2] * sizeof(ElfW(Addr)));
	if (!w[0] || !mapped(info, (uintptr_t)buckets, (size_t)w[0] * 4))
		return 1;
	const uint32_t *chain = buckets + w[0];
	const ElfW(Sym) *sym = (const ElfW(Sym) *)t.symtab;
	/* The walk stays inside the segments that hold the chain and the table. */
	uintptr_t chain_end = segment_end(info, (uintptr_t)chain),
	          sym_end = segment_end(info, t.symtab);
	uint32_t want = gnu_hash(d->name), i = buckets[want % w[0]];
	for (; i >= w[1] && (uintptr_t)(chain + (i - w[1]) + 1) <= chain_end &&
	       (uintptr_t)(sym + i + 1) <= sym_end;
	     i++) {
		const ElfW(Sym) *s = &sym[i];
		if ((chain[i - w[1]] | 1) == (want | 1) && s->st_name < strsz &&
		    s->st_shndx != SHN_UNDEF &&
		    info->dlpi_addr + s->st_value == d->addr &&
		    !strncmp((const char *)strtab + s->st_name, d->name,
		             strsz - s->st_name)) {
			d->found = true;
			d->size = s->st_size;
			break;
		}
		if (chain[i - w[1]] & 1)
			break;
	}
	return 1;
}

size_t hp_symbols_defined_size(const void *addr, const char *name)
{
	struct defined d = {.addr = (uintptr_t)addr, .name = name};
	if (addr)
		dl_iterate_phdr(find_defined, &d);
	return d.size;
}

bool hp_symbols_defined_elsewhere(const void *addr, const char *name, const void *self)
{
	struct defined d = {
	    .addr = (uintptr_t)addr, .name = name, .other = (uintptr_t)self};
	if (addr)
		dl_iterate_phdr(find_defined, &d);
	return d.found && !d.same;
}

/*
 * Copies the .dynsym of the object that info describes into m (its names
 * into a copy of .dynstr, since the object may be unloaded later). Runs
 * inside dl_iterate_phdr, under the loader's lock, so no dlclose can unmap
 * what it reads; every address is checked against the loaded segments.
 */
static bool copy_dynsym(hp_module_t *m, const struct dl_phdr_info *info)
{
	struct dyn_tables t;
	if (!dyn_tables(info, &t, true))
		return false;
	size_t strsz = t.strsz;
	char *names = hp_scratch_realloc(NULL, strsz);
	if (!names)
		return false;
	memcpy(names, (const char *)t.strtab, strsz);
	if (!build(m, (const ElfW(Sym) *)t.symtab, t.count, names, strsz, m->want)) {
		hp_scratch_free(names);
		return false;
	}
	m->file_map = names;
	m->file_len = 0; /* a copy, not a mapping */
	return true;
}

static int find_and_copy(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	hp_module_t *m = arg;
	char id[sizeof(m->build_id)];
	if (info->dlpi_addr != m->bias || !mapped(info, m->start, 1))
		return 0;
	read_build_id(info, id);
	if (!strcmp(id, m->build_id)) /* not another object loaded there since */
		copy_dynsym(m, info);
	return 1;
}

/* m's .dynsym as loaded, if m is still loaded. */
static void load_mem_syms(hp_module_t *m)
{
	if (loaded(m))
		dl_iterate_phdr(find_and_copy, m);
}

/*
 * The symbol covering v among syms[0..n) (v in [off, off + size), an
 * unsized symbol covering its first byte only): of those, the one starting
 * highest, the last in table order among equals. NULL if none covers v.
 */
static const struct hp_sym *scan(const struct hp_sym *syms, size_t n, uint32_t v)
{
	const struct hp_sym *cover = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct hp_sym *s = &syms[i];
		if (s->off <= v && v - s->off < (s->size ? s->size : 1) &&
		    (!cover || s->off >= cover->off))
			cover = s;
	}
	return cover;
}

/*
 * The name for v (an offset into m's executable segment) from the index:
 * the symbol covering v that starts highest, from v's bucket down to the
 * lowest bucket holding a symbol that reaches v's (fill_down). Which name
 * an address gets depends on the symbols covering it alone, so a table read
 * for some pages (hp_symbols_want) names them as the whole does.
 */
static const char *table_name(const hp_module_t *m, uint32_t v)
{
	size_t b = v >> m->index_shift;
	if (b >= m->index_n)
		b = m->index_n - 1;
	size_t low = m->index[m->index_n + 1 + b]; /* down[b], after the index */
	if (low > b)
		return NULL; /* a damaged cache file (symcache.c) */
	for (;; b--) {
		uint32_t i = m->index[b], e = m->index[b + 1];
		if (i > e || e > m->nsyms)
			return NULL;
		const struct hp_sym *s = scan(m->syms + i, e - i, v);
		if (s)
			return s->name < m->names_len ? m->names + s->name : NULL;
		if (b == low)
			return NULL;
	}
}

/* Is v (an offset into m's executable segment) on a page of m->want? */
static bool on_wanted_page(const hp_module_t *m, uintptr_t v)
{
	return want_bit(m->want, v >> WANT_SHIFT);
}

/*
 * Each table is read once, from the file (whose .symtab names static
 * functions too), or from memory when the file is gone or was replaced, and
 * searched for every name: no dladdr, which scans every dynamic symbol of the
 * object for each address (50 million instructions in the exit profile of a
 * one-line compile's cc1). An address no symbol covers stays unnamed: its
 * mapping and build ID let heapprof symbolize name it.
 */
const char *hp_symbols_name(hp_module_t *m, uintptr_t pc)
{
	if (pc < m->start || pc >= m->limit)
		return NULL;
	if (m->syms_state == 2 && !on_wanted_page(m, pc - m->start))
		return NULL; /* not announced (hp_symbols_want): never a wrong name */
	if (m->syms_state == 0 && !load_file_syms(m))
		load_mem_syms(m);
	if (m->syms_state == 0)
		m->syms_state = -1;
	if (m->syms_state <= 0)
		return NULL;
	return table_name(m, (uint32_t)(pc - m->start));
}

void hp_symbols_want(const uintptr_t *pcs, size_t n)
{
	/* First the tables read for other pages go, all of them before any
	 * page is marked: a table read again is read for every address here. */
	for (size_t i = 0; i < n; i++) {
		hp_module_t *m = pcs[i] ? hp_symbols_find(pcs[i]) : NULL;
		if (m && m->syms_state == 2 && !on_wanted_page(m, pcs[i] - m->start))
			drop_syms(m); /* no name of it is in use: the caller's promise */
	}
	for (size_t i = 0; i < n; i++) {
		hp_module_t *m = pcs[i] ? hp_symbols_find(pcs[i]) : NULL;
		if (!m || m->syms_state != 0)
			continue;
		if (!m->want) {
			size_t pages = ((m->limit - m->start) >> WANT_SHIFT) + 1;
			if (!(m->want = hp_scratch_realloc(NULL, (pages + 63) / 64 * 8)))
				continue; /* then the whole table */
		}
		uintptr_t p = (pcs[i] - m->start) >> WANT_SHIFT;
		m->want[p >> 6] |= 1ull << (p & 63);
	}
}

void hp_symbols_read_whole(const uintptr_t *pcs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		hp_module_t *m = pcs[i] ? hp_symbols_find(pcs[i]) : NULL;
		if (!m || m->syms_state == 1 || m->syms_state == -1)
			continue;
		if (m->syms_state == 2 || m->want)
			drop_syms(m); /* read for some pages: now for all */
		(void)hp_symbols_name(m, pcs[i]);
	}
}

void hp_symbols_release_unloaded(void)
{
	size_t n = atomic_load_explicit(&nmods, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		if (!loaded(mods[i]) && mods[i]->syms_state)
			drop_syms(mods[i]);
}

void hp_symbols_lock(void)
{
	pthread_mutex_lock(&tables);
}

void hp_symbols_unlock(void)
{
	pthread_mutex_unlock(&tables);
}

size_t hp_symbols_name_copy(uintptr_t pc, char *buf, size_t len)
{
	pthread_mutex_lock(&tables);
	hp_symbols_want(&pc, 1);
	hp_module_t *m = hp_symbols_find(pc);
	const char *name = m ? hp_symbols_name(m, pc) : NULL;
	size_t n = name ? hp_fmt(buf, len, "%s", name) : 0;
	pthread_mutex_unlock(&tables);
	return n;
}

void hp_symbols_prefork(void)
{
	pthread_mutex_lock(&tables);
	hp_lock(&lock);
}

void hp_symbols_postfork_parent(void)
{
	hp_unlock(&lock);
	pthread_mutex_unlock(&tables);
}

void hp_symbols_postfork_child(void)
{
	hp_lock_reset(&lock);
	hp_mutex_reset(&tables);
}
