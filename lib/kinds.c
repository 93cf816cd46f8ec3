/* SPDX-License-Identifier: MIT */
/*
 * kinds: the table itself. A new sample type of a kind is a row in its
 * types (and, if it needs one, a tally in stack_table.c); a new kind is a
 * row in hp_kinds with its types and paths. See kinds.h.
 */
#include "kinds.h"

/* Go's four heap sample types, in Go's order (pprof diffs only profiles
 * whose sample types match). */
static const hp_sample_type_t heap_types[] = {
    [HP_HEAP_ALLOC_OBJECTS] = {"alloc_objects", "count", HP_TALLY(alloc_count),
                               HP_TALLY_NONE, true, "heapprof_alloc_objects_total",
                               "counter", "Estimated objects allocated since start."},
    [HP_HEAP_ALLOC_SPACE] = {"alloc_space", "bytes", HP_TALLY(alloc_bytes), HP_TALLY_NONE,
                             false, "heapprof_alloc_bytes_total", "counter",
                             "Estimated bytes allocated since start."},
    [HP_HEAP_INUSE_OBJECTS] = {"inuse_objects", "count", HP_TALLY(alloc_count),
                               HP_TALLY(free_count), true, "heapprof_inuse_objects",
                               "gauge", "Estimated objects in use."},
    [HP_HEAP_INUSE_SPACE] = {"inuse_space", "bytes", HP_TALLY(alloc_bytes),
                             HP_TALLY(free_bytes), false, "heapprof_inuse_bytes", "gauge",
                             "Estimated bytes in use."},
};

static const hp_kind_path_t heap_paths[] = {
    {"allocs", "A sampling of all past memory allocations", HP_HEAP_ALLOC_SPACE},
    {"heap",
     "A sampling of memory allocations of live objects. You can specify the "
     "seconds GET parameter to get a delta profile.",
     HP_HEAP_INUSE_SPACE},
};

const hp_kind_t hp_kinds[HP_NKINDS] = {
    [HP_KIND_HEAP] = {"space", "bytes", heap_types, HP_ARRAY_SIZE(heap_types),
                      HP_HEAP_INUSE_SPACE, heap_paths, HP_ARRAY_SIZE(heap_paths)},
};

_Static_assert(HP_ARRAY_SIZE(heap_types) <= HP_KIND_TYPES_MAX,
               "a Sample's values are built in HP_KIND_TYPES_MAX slots");
