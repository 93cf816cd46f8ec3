/* SPDX-License-Identifier: MIT */
/*
 * symcache: built symbol tables across processes (symcache.h). A file is
 * /tmp/heapprof-<euid>/syms2-<build ID>-<kind><count>-<strsz> (2: the
 * format's, so that two versions of the library never take turns rewriting
 * one file): a header that repeats its key and the segment it was built
 * for, the table's entries, then its bucket index and each bucket's lower
 * bound (symbols.c's fill_down). Written under a temporary name and
 * renamed, so a reader sees a whole file or none; read by mapping it.
 */
#include "symcache.h"
#include "common.h"
#include "sys.h"
#include "log.h"
#include "proc_record.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAGIC "HPSYMC2" /* with its NUL, 8 bytes; 2: with down[] */

typedef struct {
	char magic[8];
	uint64_t count, strsz; /* the key's */
	uint64_t lo, span;     /* the executable segment's file address and bytes */
	uint64_t nsyms, index_n;
	uint32_t kind, shift, pad[2];
	char build_id[sizeof(((hp_module_t *)0)->build_id) + 7];
} hdr_t;
_Static_assert(sizeof(hdr_t) == 208, "test/integration/symbols.sh damages what follows");

/* The segment as symbols.c indexes it. */
static void segment(const hp_module_t *m, uint64_t *lo, uint64_t *span)
{
	*lo = m->start - m->bias;
	*span = m->limit - m->start;
}

/* The file's path for m and k into buf; false without a build ID or a
 * private directory. */
static bool path_for(const hp_module_t *m, const hp_symcache_key_t *k, char *buf,
                     size_t len)
{
	char dir[64];
	if (!m->build_id[0] || k->count < HP_SYMCACHE_MIN ||
	    hp_proc_record_private_dir(dir, sizeof(dir)))
		return false;
	return hp_fmt(buf, len, "%s/syms2-%s-%c%llu-%llu", dir, m->build_id, k->kind,
	              (unsigned long long)k->count,
	              (unsigned long long)k->strsz) < len - 1;
}

/* Does the file (len bytes at h) hold m's table for k, all of it inside? */
static bool matches(const hdr_t *h, size_t len, const hp_module_t *m,
                    const hp_symcache_key_t *k)
{
	uint64_t lo, span;
	segment(m, &lo, &span);
	if (memcmp(h->magic, MAGIC, sizeof(h->magic)) || h->kind != (uint32_t)k->kind ||
	    h->count != k->count || h->strsz != k->strsz || h->lo != lo ||
	    h->span != span || strcmp(h->build_id, m->build_id) || h->shift >= 32 ||
	    h->index_n != (span >> h->shift) + 1 || h->nsyms > h->count)
		return false;
	/* count is bounded by its file's size, index_n by 2^32: no overflow. */
	return len == sizeof(*h) + h->nsyms * sizeof(struct hp_sym) +
	                  (2 * h->index_n + 1) * sizeof(uint32_t);
}

bool hp_symcache_load(hp_module_t *m, const hp_symcache_key_t *k)
{
	char path[512];
	if (!path_for(m, k, path, sizeof(path)))
		return false;
	size_t len;
	int fd =
	    hp_open_own(path, (unsigned)hp_sys_geteuid(), sizeof(hdr_t), SIZE_MAX, &len);
	if (fd < 0)
		return false;
	void *map = hp_sys_mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	hp_sys_close(fd);
	if (map == MAP_FAILED)
		return false;
	const hdr_t *h = map;
	if (!matches(h, len, m, k)) {
		hp_sys_munmap(map, len);
		return false;
	}
	m->syms = (struct hp_sym *)(h + 1);
	m->nsyms = h->nsyms;
	m->index = (uint32_t *)(m->syms + h->nsyms);
	m->index_shift = h->shift;
	m->index_n = h->index_n;
	m->cache_map = map;
	m->cache_len = len;
	return true;
}

void hp_symcache_store(const hp_module_t *m, const hp_symcache_key_t *k)
{
	char path[512];
	if (m->syms_state != 1 || m->cache_map || !path_for(m, k, path, sizeof(path)))
		return;
	hdr_t h = {.magic = MAGIC,
	           .count = k->count,
	           .strsz = k->strsz,
	           .nsyms = m->nsyms,
	           .index_n = m->index_n,
	           .kind = (uint32_t)k->kind,
	           .shift = m->index_shift};
	segment(m, &h.lo, &h.span);
	memcpy(h.build_id, m->build_id, sizeof(m->build_id));
	int saved = errno;
	struct iovec v[3] = {{&h, sizeof(h)},
	                     {m->syms, m->nsyms * sizeof(struct hp_sym)},
	                     {m->index, (2 * m->index_n + 1) * sizeof(uint32_t)}};
	hp_replace_file(path, v, 3);
	errno = saved;
}
