/* SPDX-License-Identifier: MIT */
/*
 * profile: encode a stack table with known stacks and counters, decode it with
 * the reader, and check every field pprof relies on: sample types in Go's
 * order, period, values, main executable first, return address - 1, names
 * resolved in-process, drop_frames, the truncated-stack marker. Then many
 * stacks and locations (more than one buffer, more than the id maps' first
 * size) and a delta against a base. First, the string interner the profile's
 * string table is built with, out of memory too, and the protobuf encoder
 * (pbenc) against bytes worked out by hand.
 */
#include "pprof/gzstream.h"
#include "pprof/pbenc.h"
#include "pprof/pprof.h"
#include "pprof/strtab.h"
#include "profile.h"
#include "sampler.h"
#include "stack_table.h"
#include "symbols.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline, used)) void leaf_function(void)
{
	__asm__ volatile("");
}
__attribute__((noinline, used)) void caller_function(void)
{
	__asm__ volatile("");
}

static const char *name_of(const pp_profile_t *p, uint64_t loc_id)
{
	for (size_t i = 0; i < p->n_location; i++) {
		if (p->location[i]->id != loc_id || !p->location[i]->n_line)
			continue;
		uint64_t fid = p->location[i]->line[0]->function_id;
		for (size_t k = 0; k < p->n_function; k++)
			if (p->function[k]->id == fid)
				return pp_str(p, p->function[k]->name);
	}
	return "";
}

static uint64_t address_of(const pp_profile_t *p, uint64_t loc_id)
{
	for (size_t i = 0; i < p->n_location; i++)
		if (p->location[i]->id == loc_id)
			return p->location[i]->address;
	return 0;
}

/* The allocator of the interner below: fails once its budget is spent. */
static int budget;
static void *tight_realloc(void *p, size_t n)
{
	return budget-- > 0 ? realloc(p, n) : NULL;
}
static const pp_alloc_t tight = {tight_realloc, free};

static void test_strtab(void)
{
	pp_strtab_t t;
	pp_strtab_init(&t, &tight);
	budget = 1 << 20;
	char buf[32];
	int in_order = 1, found = 1;
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "s%d", i);
		in_order &= pp_strtab_intern_copy(&t, buf) == i;
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "s%d", i);
		found &= pp_strtab_intern_copy(&t, buf) == i && !strcmp(t.s[i], buf);
	}
	ok(in_order && t.n == 5000, "5000 strings get indexes 0..4999 in order");
	ok(found && t.n == 5000, "each is found again, not added twice");
	static const char lent[] = "lent";
	ok(pp_strtab_intern(&t, lent) == 5000 && t.s[5000] == lent,
	   "pp_strtab_intern keeps the pointer it is lent");
	budget = 0;
	ok(pp_strtab_intern_copy(&t, "no room") == -ENOMEM && t.n == 5001,
	   "out of memory: -ENOMEM, and the table is unchanged");
	size_t cap = 0;
	ok(!pp_grow(&tight, NULL, &cap, SIZE_MAX / 2, 16) && cap == 0,
	   "pp_grow refuses a size that overflows");
	pp_strtab_fini(&t);
}

/* A stream that keeps what it is flushed, with a small buffer of its own. */
static uint8_t sink[1 << 16];
static size_t nsink, nflush;
static void to_sink(pb_buf_t *b)
{
	memcpy(sink + nsink, b->buf, b->n);
	nsink += b->n;
	b->n = 0;
	nflush++;
}

static void test_pbenc(void)
{
	int lens_ok = pb_varint_len(0) == 1 && pb_varint_len(UINT64_MAX) == 10;
	for (int bits = 1; bits < 64; bits++) {
		uint64_t v = 1ULL << bits; /* bits + 1 significant bits */
		lens_ok &= pb_varint_len(v) == (size_t)(bits + 1 + 6) / 7 &&
		           pb_varint_len(v - 1) == (size_t)(bits + 6) / 7;
	}
	ok(lens_ok, "varint lengths at every 7-bit boundary");

	uint8_t mem[64];
	pb_buf_t m = {.buf = mem, .cap = sizeof(mem)};
	pb_uint(&m, 1, 0);
	pb_uint(&m, 1, 150);
	pb_uint(&m, 2, (uint64_t)-1);
	static const uint8_t want1[] = {0x08, 0x96, 0x01, 0x10, 0xff, 0xff, 0xff,
	                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	ok(m.n == sizeof(want1) && !memcmp(mem, want1, m.n) && !m.err,
	   "pb_uint: 0 left out, 150 and -1 as protobuf writes them");

	uint64_t v[3] = {3, 270, 86942};
	m.n = 0;
	pb_packed(&m, 4, v, 3);
	pb_bytes(&m, 6, "", 0);
	pb_bytes(&m, 6, "ab", 2);
	static const uint8_t want2[] = {0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7,
	                                0x05, 0x32, 0x00, 0x32, 0x02, 'a',  'b'};
	ok(m.n == sizeof(want2) && !memcmp(mem, want2, m.n),
	   "pb_packed and pb_bytes: the example of the protobuf docs, empty string kept");

	/* 200 one-byte values: a two-byte length, the values moved up for it. */
	static uint64_t ones[200];
	static uint8_t big[4096]; /* room for the one-pass path: 10 bytes a value */
	for (int i = 0; i < 200; i++)
		ones[i] = 1;
	pb_buf_t l = {.buf = big, .cap = sizeof(big)};
	pb_packed(&l, 1, ones, 200);
	int moved = l.n == 203 && !memcmp(big, "\x0a\xc8\x01", 3);
	for (int i = 3; moved && i < 203; i++)
		moved = big[i] == 1;
	ok(moved && !l.err, "pb_packed longer than 127 bytes: a two-byte length");

	/* The same fields, and a longer string, through a stream of the
	 * smallest buffer it allows: flushed as it fills, split anywhere. */
	uint8_t small[20];
	char str[100];
	memset(str, 'x', sizeof(str));
	pb_buf_t s = {.buf = small, .cap = sizeof(small), .flush = to_sink};
	nsink = nflush = 0;
	pb_packed(&s, 4, v, 3);
	pb_bytes(&s, 6, "", 0);
	pb_bytes(&s, 6, "ab", 2);
	pb_bytes(&s, 6, str, sizeof(str));
	pb_flush(&s);
	ok(!s.err && nsink == sizeof(want2) + 2 + sizeof(str) &&
	       !memcmp(sink, want2, sizeof(want2)) &&
	       !memcmp(sink + sizeof(want2), "\x32\x64", 2) &&
	       !memcmp(sink + sizeof(want2) + 2, str, sizeof(str)) && nflush > 5,
	   "the same bytes through a 20-byte stream buffer (%zu flushes)", nflush);

	uint8_t tiny[8];
	pb_buf_t inner = {.buf = tiny, .cap = sizeof(tiny)};
	pb_uint(&inner, 1, 1);
	m.n = 0;
	pb_message(&m, 2, &inner);
	ok(m.n == 4 && !memcmp(mem, "\x12\x02\x08\x01", 4) && inner.n == 0,
	   "pb_message: tag, length, the message; the message emptied");
	pb_uint(&inner, 1, UINT64_MAX);
	ok(inner.err == -EOVERFLOW, "a message that does not fit fails with -EOVERFLOW");
	pb_uint(&inner, 1, 1);
	ok(inner.err == -EOVERFLOW && inner.n == 0, "and stays failed, writing nothing");
}

static off_t last_size; /* of the file write_and_load wrote last */

static int write_and_load(const hp_profile_opts_t *o, pp_profile_t **p)
{
	char path[] = "/tmp/hp_test_profile_XXXXXX";
	int fd = mkstemp(path);
	int err = fd < 0 ? -errno : hp_profile_write(fd, o);
	last_size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	if (fd >= 0)
		close(fd);
	char why[256] = "";
	*p = err ? NULL : pp_load(path, why, sizeof(why));
	if (!err && !*p)
		printf("# pp_load: %s\n", why);
	unlink(path);
	return err;
}

/* The sample whose leaf is at address pc, or NULL. */
static const Perftools__Profiles__Sample *sample_at(const pp_profile_t *p, uint64_t pc)
{
	for (size_t i = 0; i < p->n_sample; i++)
		if (p->sample[i]->n_location_id &&
		    address_of(p, p->sample[i]->location_id[0]) == pc)
			return p->sample[i];
	return NULL;
}

/*
 * MANY stacks of two frames, each leaf its own location: more samples than fit
 * one buffer of the stream, and more locations than the id map's first 4096
 * slots (it never grew, and a full map never ended its probe).
 */
#define MANY 6000
static hp_bucket_t *many[MANY];

static void test_many(void)
{
	uintptr_t root = (uintptr_t)caller_function + 1;
	for (int i = 0; i < MANY; i++) {
		uintptr_t frames[2] = {0x100000 + 16 * (uintptr_t)i, root};
		many[i] = hp_stack_table_intern(frames, 2, false);
		hp_stack_table_add_alloc(many[i], (uint64_t)(i + 1) * HP_W_ONE, 100);
	}
	pp_profile_t *p;
	hp_profile_opts_t o = {.trigger = "api", .start_ns = 1, .rate = 1};
	/* First without zlib: stored blocks over many flushes, then deflated. */
	ok(write_and_load(&o, &p) == 0 && p,
	   "%d more stacks written (stored, zlib not loaded) and read back", MANY);
	off_t stored = last_size;
	size_t stored_samples = p ? p->n_sample : 0;
	pp_free(p);
	ok(pp_gz_load(), "zlib loads");
	ok(write_and_load(&o, &p) == 0 && p, "and written again, deflated");
	if (!p)
		return;
	ok(p->n_sample == stored_samples && last_size * 2 < stored,
	   "the same samples; the deflated file is less than half the stored one "
	   "(%lld, %lld bytes)",
	   (long long)last_size, (long long)stored);
	int all = p->n_sample == MANY + 2 && p->n_location >= MANY + 1;
	for (int i = 0; all && i < MANY; i++) {
		const Perftools__Profiles__Sample *s =
		    sample_at(p, 0x100000 + 16 * i - 1);
		all = s && s->n_location_id == 2 && s->value[0] == i + 1 &&
		      address_of(p, s->location_id[1]) == root - 1;
	}
	ok(all,
	   "each stack once, its own leaf, the shared root, its values (%zu samples, "
	   "%zu locations)",
	   p->n_sample, p->n_location);
	int count = 0;
	for (size_t i = 0; i < p->n_comment; i++)
		count |= !strcmp(pp_str(p, p->comment[i]), "stacks: 6002");
	ok(p->n_string_table > 0 && !strcmp(p->string_table[0], "") && count,
	   "string_table[0] is \"\"; the comment counts the stacks");
	pp_free(p);
}

static int cmp_base(const void *a, const void *b)
{
	const hp_bucket_t *x = ((const hp_profile_base_t *)a)->bucket;
	const hp_bucket_t *y = ((const hp_profile_base_t *)b)->bucket;
	return x < y ? -1 : x > y;
}

/* ?seconds=N: counters taken off a base; unchanged stacks drop out. */
static void test_delta(void)
{
	static hp_profile_base_t base[MANY];
	for (int i = 0; i < MANY; i++) {
		base[i].bucket = many[i];
		hp_stack_table_read(many[i], &base[i].counts);
	}
	qsort(base, MANY, sizeof(*base), cmp_base);
	hp_stack_table_add_alloc(many[7], 2 * HP_W_ONE, 300);
	hp_stack_table_add_free(many[9], 10 * HP_W_ONE, 100);
	pp_profile_t *p;
	hp_profile_opts_t o = {
	    .trigger = "http", .start_ns = 1, .rate = 1, .base = base, .nbase = MANY};
	ok(write_and_load(&o, &p) == 0 && p, "a delta profile written and read back");
	if (!p)
		return;
	const Perftools__Profiles__Sample *a = sample_at(p, 0x100000 + 16 * 7 - 1),
	                                  *f = sample_at(p, 0x100000 + 16 * 9 - 1);
	ok(p->n_sample == 4 && a && a->value[0] == 2 && a->value[1] == 300 && f &&
	       f->value[0] == 0 && f->value[2] == -10 && f->value[3] == -100,
	   "only what changed since the base, frees as negative in-use (%zu samples)",
	   p->n_sample);
	pp_free(p);
}

/* The stored stream's CRC against zlib's, each length to past two slicing
 * thresholds, at every alignment, and continued from one part to the next. */
static void test_crc(void)
{
	static unsigned char buf[5000 + 8];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)((x = x * 1103515245 + 12345) >> 16);
	size_t bad = 0, runs = 0;
	for (size_t n = 0; n <= 5000; n += n < 64 ? 1 : 61)
		for (size_t a = 0; a < 8; a++, runs++)
			bad += pp_crc32(0, buf + a, n) != crc32(0, buf + a, (uInt)n);
	uint32_t parts = pp_crc32(pp_crc32(0, buf, 2049), buf + 2049, 2951);
	ok(!bad && parts == crc32(0, buf, 5000),
	   "CRC-32 as zlib's: %zu of %zu runs differ, in two parts %s", bad, runs,
	   parts == crc32(0, buf, 5000) ? "the same" : "different");
}

int main(void)
{
	test_strtab();
	test_pbenc();
	test_crc();
	hp_symbols_refresh();
	/* Return addresses one byte in: the functions are a bare "ret". */
	uintptr_t frames[2] = {(uintptr_t)leaf_function + 1,
	                       (uintptr_t)caller_function + 1};
	hp_bucket_t *b = hp_stack_table_intern(frames, 2, false);
	hp_stack_table_add_alloc(b, 5 * HP_W_ONE, 5000);
	hp_stack_table_add_free(b, 2 * HP_W_ONE, 2000);
	uintptr_t deep[1] = {(uintptr_t)caller_function + 1};
	hp_bucket_t *t = hp_stack_table_intern(deep, 1, true);
	hp_stack_table_add_alloc(t, HP_W_ONE + HP_W_ONE / 2,
	                         77); /* 1.5 objects: rounds to 2 */

	char path[] = "/tmp/hp_test_profile_XXXXXX";
	int fd = mkstemp(path);
	hp_profile_opts_t o = {.trigger = "api", .start_ns = 1, .rate = 524288};
	ok(fd >= 0 && hp_profile_write(fd, &o) == 0, "profile written");
	close(fd);
	char err[256] = "";
	pp_profile_t *p = pp_load(path, err, sizeof(err));
	unlink(path);
	ok(p != NULL, "profile reads back and validates %s", err);
	if (!p)
		return tap_done();
	static const char *types[] = {"alloc_objects", "alloc_space", "inuse_objects",
	                              "inuse_space"};
	static const char *units[] = {"count", "bytes", "count", "bytes"};
	int types_ok = p->n_sample_type == 4;
	for (int i = 0; types_ok && i < 4; i++)
		types_ok = !strcmp(pp_str(p, p->sample_type[i]->type), types[i]) &&
		           !strcmp(pp_str(p, p->sample_type[i]->unit), units[i]);
	ok(types_ok, "four sample types in Go's order");
	ok(!strcmp(pp_str(p, p->default_sample_type), "inuse_space"),
	   "default inuse_space");
	ok(p->period == 524288 && !strcmp(pp_str(p, p->period_type->type), "space") &&
	       !strcmp(pp_str(p, p->period_type->unit), "bytes"),
	   "period 524288 space/bytes");
	ok(p->n_sample == 2, "two samples (%zu)", p->n_sample);
	const Perftools__Profiles__Sample *s = NULL, *st = NULL;
	for (size_t i = 0; i < p->n_sample; i++)
		if (p->sample[i]->n_location_id == 2 && p->sample[i]->value[1] == 5000)
			s = p->sample[i];
		else
			st = p->sample[i];
	ok(s && s->value[0] == 5 && s->value[1] == 5000 && s->value[2] == 3 &&
	       s->value[3] == 3000,
	   "values alloc 5/5000, inuse 3/3000");
	ok(s && !strcmp(name_of(p, s->location_id[0]), "leaf_function") &&
	       !strcmp(name_of(p, s->location_id[1]), "caller_function"),
	   "leaf first, names resolved in-process");
	ok(s && address_of(p, s->location_id[0]) == (uintptr_t)leaf_function,
	   "location address is the return address - 1");
	ok(st && st->n_location_id == 2 &&
	       strstr(name_of(p, st->location_id[1]), "truncated"),
	   "truncated stack ends in a marker frame");
	ok(st && st->value[0] == 2 && st->value[2] == 2,
	   "1.5 weighted objects round to 2");
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	ok(p->n_mapping > 0 && !strcmp(pp_str(p, p->mapping[0]->filename), exe) &&
	       strlen(pp_str(p, p->mapping[0]->build_id)) == 40,
	   "mapping 1 is the main executable with its build ID");
	ok(strstr(pp_str(p, p->drop_frames), "malloc") != NULL,
	   "drop_frames names malloc");
	int found_trigger = 0;
	for (size_t i = 0; i < p->n_comment; i++)
		found_trigger |= !strcmp(pp_str(p, p->comment[i]), "trigger: api");
	ok(found_trigger, "comments say the trigger");
	ok(p->time_nanos > 0 && p->duration_nanos > 0, "time and duration set");
	pp_free(p);

	test_many();
	test_delta();

	/* A write error travels back as a negative errno, and nothing is left open. */
	fd = open("/dev/full", O_WRONLY);
	ok(fd >= 0 && hp_profile_write(fd, &o) == -ENOSPC,
	   "disk full reported as -ENOSPC");
	close(fd);
	return tap_done();
}
