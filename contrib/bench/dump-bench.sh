#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dump benchmark (issue 13): a profile of 2^20 distinct stacks 26
# frames deep, at HEAPPROF_RATE=1. Runs the stacks workload REPS times with
# the snapshot and REPS times without it, alternating, and prints medians: the
# time from the signal to the complete file; the dumper thread's CPU time and
# its time waiting for a CPU (on a busy machine the first does not grow, the
# second does); the profile's size; the peak RSS of both runs and their
# difference (the dump's own memory); and the longest allocation another
# thread saw during the dump. Builds nothing; never part of make check.
#
# usage: dump-bench.sh [--reps N] [--stacks N]
# Environment: BENCH_BIN (the directory of the bench programs, as built by
# `make bench`), HEAPPROF_LIB (the libheapprof.so to preload).
set -uo pipefail

reps=5 stacks=1048576
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2; shift ;;
	--stacks) stacks=$2; shift ;;
	*) echo "usage: dump-bench.sh [--reps N] [--stacks N]" >&2; exit 2 ;;
	esac
	shift
done
: "${BENCH_BIN:?}" "${HEAPPROF_LIB:?}"
STACKS=$BENCH_BIN/stacks
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-dump-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

run() { # run OUT [-n]: one run of the workload, its line appended to OUT
	HEAPPROF_RATE=1 HEAPPROF_OUTPUT=$WORK/dump HEAPPROF_AT_EXIT=0 LD_PRELOAD=$HEAPPROF_LIB \
		"$STACKS" -f ${2:-} "$stacks" "$WORK/dump" >>"$1" || echo "stacks failed" >&2
	rm -f "$WORK"/dump.*
}
for r in $(seq "$reps"); do
	run "$WORK/with"
	run "$WORK/without" -n
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { # field FILE KEY: the median of KEY's values in FILE
	awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$1" | median
}
each() { # each FILE KEY: every value of KEY, in run order
	awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) printf "%s ", $(i + 1) }' "$1"
}
n=$(field "$WORK/with" stacks)
rss_with=$(field "$WORK/with" maxrss_kb) rss_without=$(field "$WORK/without" maxrss_kb)
echo "Dump of $n distinct stacks (stacks -f, HEAPPROF_RATE=1), medians of $reps runs:"
echo "  dump time     $(field "$WORK/with" dump_ms) ms   (runs: $(each "$WORK/with" dump_ms))"
echo "  dumper CPU    $(field "$WORK/with" dump_cpu_ms) ms   (runs: $(each "$WORK/with" dump_cpu_ms))"
echo "  dumper queued $(field "$WORK/with" dump_wait_ms) ms   (waiting for a CPU: the machine's load)"
echo "  profile size  $(field "$WORK/with" size_bytes) bytes"
echo "  peak RSS      $rss_with KiB with the dump, $rss_without KiB without;" \
	"the dump's extra $(awk -v a="$rss_with" -v b="$rss_without" 'BEGIN { printf "%.1f", (a - b) / 1024 }') MiB"
echo "  other thread  longest allocation $(field "$WORK/with" max_stall_us) µs during the dump," \
	"$(field "$WORK/with" baseline_max_us) µs during the same time before it"
