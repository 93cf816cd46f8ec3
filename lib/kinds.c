/* SPDX-License-Identifier: MIT */
/*
 * kinds: the table itself. A new sample type of a kind is a row in its
 * types (and, if it needs one, a tally in stack_table.c); a new kind is a
 * row in hp_kinds with its types and paths. See kinds.h.
 */
#include "kinds.h"
#include "config.h"
#include "lifetimes.h"
#include "contention.h"
#include "log.h"

/* Go's four heap sample types, in Go's order (pprof diffs only profiles
 * whose sample types match). */
static const hp_sample_type_t heap_types[] = {
    [HP_HEAP_ALLOC_OBJECTS] = {.name = "alloc_objects",
                               .unit = "count",
                               .plus = HP_TALLY(alloc_count),
                               .minus = HP_TALLY_NONE,
                               .objects = true,
                               .metric = "heapprof_alloc_objects_total",
                               .metric_type = "counter",
                               .help = "Estimated objects allocated since start."},
    [HP_HEAP_ALLOC_SPACE] = {.name = "alloc_space",
                             .unit = "bytes",
                             .plus = HP_TALLY(alloc_bytes),
                             .minus = HP_TALLY_NONE,
                             .metric = "heapprof_alloc_bytes_total",
                             .metric_type = "counter",
                             .help = "Estimated bytes allocated since start."},
    [HP_HEAP_INUSE_OBJECTS] = {.name = "inuse_objects",
                               .unit = "count",
                               .plus = HP_TALLY(alloc_count),
                               .minus = HP_TALLY(free_count),
                               .objects = true,
                               .metric = "heapprof_inuse_objects",
                               .metric_type = "gauge",
                               .help = "Estimated objects in use."},
    [HP_HEAP_INUSE_SPACE] = {.name = "inuse_space",
                             .unit = "bytes",
                             .plus = HP_TALLY(alloc_bytes),
                             .minus = HP_TALLY(free_bytes),
                             .metric = "heapprof_inuse_bytes",
                             .metric_type = "gauge",
                             .help = "Estimated bytes in use."},
};

static const hp_kind_path_t heap_paths[] = {
    {"allocs", "A sampling of all past memory allocations", HP_HEAP_ALLOC_SPACE},
    {"heap",
     "A sampling of memory allocations of live objects. You can specify the "
     "seconds GET parameter to get a delta profile.",
     HP_HEAP_INUSE_SPACE},
};

/* tcmalloc's lifetime profile: values come from lifetimes.c, not tallies. */
#define LT_TYPE(n, u, o)                                                                 \
	{                                                                                \
		.name = n, .unit = u, .plus = HP_TALLY_NONE, .minus = HP_TALLY_NONE,     \
		.objects = o                                                             \
	}
static const hp_sample_type_t lifetimes_types[] = {
    [HP_LT_ALLOC_OBJECTS] = LT_TYPE("allocated_objects", "count", true),
    [HP_LT_ALLOC_SPACE] = LT_TYPE("allocated_space", "bytes", false),
    [HP_LT_FREE_OBJECTS] = LT_TYPE("deallocated_objects", "count", true),
    [HP_LT_FREE_SPACE] = LT_TYPE("deallocated_space", "bytes", false),
    [HP_LT_CENSORED_OBJECTS] = LT_TYPE("censored_allocated_objects", "count", true),
    [HP_LT_CENSORED_SPACE] = LT_TYPE("censored_allocated_space", "bytes", false),
};

static const hp_kind_path_t lifetimes_paths[] = {
    {"lifetimes",
     "How long sampled blocks lived and which stacks freed them "
     "(HEAPPROF_LIFETIMES=1). You can specify the seconds GET parameter to count "
     "only blocks allocated in that window.",
     HP_LT_FREE_SPACE},
};

static bool lifetimes_enabled(void)
{
	return hp_config.lifetimes;
}

/* Go's contention profiles (block and mutex): the same two types, period 1,
 * contentions as a count weight (a sampled event may stand for several). */
static const hp_sample_type_t contention_types[] = {
    {.name = "contentions",
     .unit = "count",
     .plus = HP_TALLY(contentions),
     .minus = HP_TALLY_NONE,
     .objects = true},
    {.name = "delay",
     .unit = "nanoseconds",
     .plus = HP_TALLY(delay),
     .minus = HP_TALLY_NONE},
};

static const hp_kind_path_t block_paths[] = {
    {"block", "Stack traces that led to blocking on synchronization primitives", 1},
};

static const hp_kind_path_t mutex_paths[] = {
    {"mutex", "Stack traces of holders of contended mutexes", 1},
};

static void block_sampling(char *buf, size_t len)
{
	hp_fmt(buf, len, "block profile rate: %llu ns (HEAPPROF_BLOCK_RATE)",
	       (unsigned long long)hp_block_rate);
}

static void mutex_sampling(char *buf, size_t len)
{
	hp_fmt(buf, len, "mutex profile fraction: %llu (HEAPPROF_MUTEX_FRACTION)",
	       (unsigned long long)hp_mutex_fraction);
}

const hp_kind_t hp_kinds[HP_NKINDS] = {
    [HP_KIND_HEAP] = {"space", "bytes", heap_types, HP_ARRAY_SIZE(heap_types),
                      HP_HEAP_INUSE_SPACE, heap_paths, HP_ARRAY_SIZE(heap_paths),
                      hp_stack_table_foreach, hp_stack_table_read},
    [HP_KIND_LIFETIMES] = {"space", "bytes", lifetimes_types,
                           HP_ARRAY_SIZE(lifetimes_types), HP_LT_FREE_SPACE,
                           lifetimes_paths, HP_ARRAY_SIZE(lifetimes_paths),
                           .suffix = "lifetimes", .enabled = lifetimes_enabled,
                           .samples = hp_lifetimes_samples, .window = hp_lifetimes_window},
    [HP_KIND_BLOCK] = {"contentions", "count", contention_types,
                       HP_ARRAY_SIZE(contention_types), 1, block_paths,
                       HP_ARRAY_SIZE(block_paths), hp_contention_foreach_block,
                       hp_contention_read_block, .period = 1, .suffix = "block",
                       .enabled = hp_contention_block_enabled,
                       .sampling = block_sampling},
    [HP_KIND_MUTEX] = {"contentions", "count", contention_types,
                       HP_ARRAY_SIZE(contention_types), 1, mutex_paths,
                       HP_ARRAY_SIZE(mutex_paths), hp_contention_foreach_mutex,
                       hp_contention_read_mutex, .period = 1, .suffix = "mutex",
                       .enabled = hp_contention_mutex_enabled,
                       .sampling = mutex_sampling},
};

_Static_assert(HP_ARRAY_SIZE(lifetimes_types) <= HP_KIND_TYPES_MAX,
               "a Sample's values are built in HP_KIND_TYPES_MAX slots");
_Static_assert(HP_ARRAY_SIZE(heap_types) <= HP_KIND_TYPES_MAX,
               "a Sample's values are built in HP_KIND_TYPES_MAX slots");
