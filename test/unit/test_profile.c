/* SPDX-License-Identifier: MIT */
/*
 * profile: encode a stack table with known stacks and counters, decode it with
 * the reader, and check every field pprof relies on: sample types in Go's
 * order, period, values, main executable first, return address - 1, names
 * resolved in-process, drop_frames, the truncated-stack marker. First, the
 * string interner the profile's string table is built with, out of memory too.
 */
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

int main(void)
{
	test_strtab();
	hp_symbols_init();
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

	/* A write error travels back as a negative errno, and nothing is left open. */
	fd = open("/dev/full", O_WRONLY);
	ok(fd >= 0 && hp_profile_write(fd, &o) == -ENOSPC,
	   "disk full reported as -ENOSPC");
	close(fd);
	return tap_done();
}
