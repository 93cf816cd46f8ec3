#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rate 1 on many threads: the wall time of stress under HEAPPROF_RATE=1
# against the plain program, at 1, 2 and 8 threads. Runs alternate (plain,
# profiled, plain, ...) so that a neighbour's load hits both sides of a pair
# alike; the ratio printed is the median of the pairs' ratios. Not a timed
# test: never part of make check.
#
# usage: threads-bench.sh [--reps N] [--iters N]
#   --iters: operations per thread at 8 threads (default 2,500,000); 1 and 2
#   threads do 4 times as many in all, so each run lasts about as long.
# Environment: BENCH_BIN (the directory of the bench programs), HEAPPROF_LIB.
set -uo pipefail

reps=7 iters=2500000
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2; shift ;;
	--iters) iters=$2; shift ;;
	*) echo "usage: threads-bench.sh [--reps N] [--iters N]" >&2; exit 2 ;;
	esac
	shift
done
: "${BENCH_BIN:?}" "${HEAPPROF_LIB:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-threads.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RUNNER=$BENCH_BIN/runner STRESS=$BENCH_BIN/stress

wall() { # wall [ENV...] -- ARGS: one run's wall seconds
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" "$RUNNER" "$STRESS" "$@" | awk '{ print $1 }'
	rm -f "$WORK"/hp.*
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-8s %10s %10s %8s  (%d pairs, medians)\n' threads plain_s rate1_s ratio "$reps"
for t in 1 2 8; do
	n=$iters
	[ "$t" != 8 ] && n=$((4 * iters / t))
	: >"$WORK/pairs"
	for _ in $(seq "$reps"); do
		p=$(wall -- "$t" "$n")
		h=$(wall LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 \
			HEAPPROF_OUTPUT="$WORK/hp" -- "$t" "$n")
		echo "$p $h" | awk '{ printf "%s %s %.4f\n", $1, $2, $2 / $1 }' >>"$WORK/pairs"
	done
	printf '%-8s %10.3f %10.3f %7.2fx\n' "$t x $n" \
		"$(awk '{ print $1 }' "$WORK/pairs" | median)" \
		"$(awk '{ print $2 }' "$WORK/pairs" | median)" \
		"$(awk '{ print $3 }' "$WORK/pairs" | median)"
done
