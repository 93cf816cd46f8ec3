/* SPDX-License-Identifier: MIT */
/*
 * summary: the exit drain of byte-interval profiles, the final profile, and
 * HEAPPROF_SUMMARY's lines: what is still in use, by whom, and the peak. The
 * values are the heap kind's in-use sample types (kinds.c), summed over the
 * buckets as weights and rounded once.
 */
#include "summary.h"
#include "attach.h"
#include "backing.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "dump.h"
#include "kinds.h"
#include "log.h"
#include "sampler.h"
#include "stack_table.h"
#include "symbols.h"
#include "trigger.h"

#include <string.h>
#include <unistd.h>

#define SUMMARY_TOP 5

typedef struct {
	struct {
		const hp_bucket_t *b;
		int64_t bytes, count; /* in use; count in HP_W_ONE units */
	} top[SUMMARY_TOP];           /* largest first */
	int64_t bytes, count;
} summary_t;

static void tally(const hp_bucket_t *b, void *arg)
{
	summary_t *S = arg;
	const hp_sample_type_t *types = hp_kinds[HP_KIND_HEAP].types;
	hp_counts_t c;
	hp_stack_table_read(b, &c);
	int64_t bytes = hp_kind_raw(&types[HP_HEAP_INUSE_SPACE], &c),
	        count = hp_kind_raw(&types[HP_HEAP_INUSE_OBJECTS], &c);
	if (bytes <= 0)
		return;
	S->bytes += bytes;
	S->count += count;
	int i = SUMMARY_TOP;
	while (i > 0 && (!S->top[i - 1].b || S->top[i - 1].bytes < bytes))
		i--;
	if (i == SUMMARY_TOP)
		return;
	memmove(&S->top[i + 1], &S->top[i], (SUMMARY_TOP - 1 - i) * sizeof(S->top[0]));
	S->top[i].b = b;
	S->top[i].bytes = bytes;
	S->top[i].count = count;
}

/* The leaf function's name: the caller of the allocation function. */
static const char *leaf_name(const hp_bucket_t *b)
{
	if (!b->nframes)
		return "?";
	uintptr_t pc = b->frames[0] - 1;
	hp_module_t *m = hp_symbols_find(pc);
	const char *name = m ? hp_symbols_name(m, pc) : NULL;
	return name ? name : "?";
}

/* A few lines on stderr: what is still in use, by whom; the peak. Dump lock held. */
static void print_summary(const char *exit_path, void *arg)
{
	(void)arg;
	summary_t S;
	memset(&S, 0, sizeof(S));
	hp_symbols_lock();
	hp_symbols_refresh();
	hp_stack_table_foreach(tally, &S);
	hp_log("summary of process %d at exit: %llu bytes in %llu objects still in use "
	       "(estimated); peak in use %lld bytes",
	       (int)hp_sys_getpid(), (unsigned long long)S.bytes,
	       (unsigned long long)hp_weight_to_objects((uint64_t)S.count),
	       (long long)hp_trigger_peak());
	const char *foreign = hp_attach_is_preloaded() ? hp_backing_foreign() : NULL;
	if (foreign)
		hp_log("  not counted: %s", foreign);
	uintptr_t leaves[SUMMARY_TOP];
	size_t n = 0;
	for (int i = 0; i < SUMMARY_TOP && S.top[i].b; i++)
		if (S.top[i].b->nframes)
			leaves[n++] = S.top[i].b->frames[0] - 1;
	hp_symbols_want(leaves, n); /* the names leaf_name asks for */
	for (int i = 0; i < SUMMARY_TOP && S.top[i].b; i++)
		hp_log("  %12llu bytes %8llu objects  %s",
		       (unsigned long long)S.top[i].bytes,
		       (unsigned long long)hp_weight_to_objects((uint64_t)S.top[i].count),
		       leaf_name(S.top[i].b));
	hp_symbols_unlock();
	hp_log("exit profile: %s", exit_path ? exit_path : "(none)");
	for (size_t k = 0; k < HP_NKINDS && exit_path; k++) {
		char name[HP_OUTPUT_MAX + 160];
		if (!hp_kinds[k].suffix || !hp_kinds[k].enabled())
			continue;
		hp_dump_beside(name, sizeof(name), exit_path, hp_kinds[k].suffix);
		hp_log("%s profile: %s", hp_kinds[k].suffix, name);
	}
}

void hp_summary_at_exit(void)
{
	hp_guard_enter();
	hp_trigger_poll();              /* also without an exit profile */
	while (hp_trigger_take_bytes()) /* asked for and not yet written */
		hp_dump_write(HP_DUMP_BYTES, NULL);
	if (hp_config.at_exit)
		hp_dump_write(HP_DUMP_EXIT, NULL);
	else
		hp_dump_close(); /* wait for a snapshot in progress, start no other */
	if (hp_config.summary)
		hp_dump_locked(print_summary, NULL);
	hp_guard_exit();
}
