#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A short process's fixed cost (docs/performance.md, "The cost real programs
# see"): /bin/true executed ROUNDS x N times under each of
#   plain       nothing preloaded
#   bare        libbare.so, an interposer that only forwards the allocator
#   filesonly   libfilesonly.so, only the files libheapprof makes (the
#               process record, the exit profile under a temporary name)
#   libheapprof the profiler at its default rate, exit profile on
# by contrib/bench/spawn, the four in turn; per process, the medians of wall
# and CPU time, and each one's cost over plain. The profiles and files go to
# a new directory that is kept (deleting thousands of files slows the next
# file creations on some file systems for a minute).
# usage: short-process.sh [ROUNDS [N]]   (default 30 rounds of 30)
# Environment: BENCH_BIN (the built contrib/bench), HEAPPROF_LIB.
set -uo pipefail
rounds=${1:-30} per=${2:-30}
: "${BENCH_BIN:?}" "${HEAPPROF_LIB:?}"
libs=$BENCH_BIN/.libs
for f in "$BENCH_BIN/spawn" "$libs/libbare.so" "$libs/libfilesonly.so"; do
	[ -e "$f" ] || { echo "short-process.sh: $f is not built (make bench-short)" >&2; exit 2; }
done
out=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-short.XXXXXX")
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); files in $out"
"$BENCH_BIN/spawn" "$rounds" "$per" - \
	"LD_PRELOAD=$libs/libbare.so" \
	"LD_PRELOAD=$libs/libfilesonly.so,FILESONLY_OUTPUT=$out/f" \
	"LD_PRELOAD=$HEAPPROF_LIB,HEAPPROF_OUTPUT=$out/p" -- /bin/true |
	awk '{ name = $1; sub(/,.*/, "", name); sub(/.*\//, "", name); sub(/^LD_PRELOAD=/, "", name)
	       if (NR == 1) { name = "plain"; base = $3 }
	       gsub(/[(),]/, "")
	       printf "%-16s %6d us a process (quartiles %d, %d), +%d us over plain\n",
	              name, $3, $6, $8, $3 - base }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
