#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The performance targets of issue 13, each measured by its own benchmark,
# from one command (`make bench-targets`). Prints the instruction counts it
# takes itself (callgrind: they repeat exactly with HEAPPROF_SEED=1), then
# runs the other benchmarks in turn:
#   start-up          callgrind of /bin/true, profiled minus plain
#   default rate      callgrind of stress 1 1000000: plain, bare, profiled
#   memory per block  hold N (16-byte blocks) at rate 1 minus plain, / N
#   free path         free-path.sh (Larson's shape, callgrind's cache model)
#   rate 1, threads   threads-bench.sh (wall, alternating pairs)
#   dump              dump-bench.sh (2^20 stacks)
#   mimalloc-bench    mimalloc-bench.sh, when MIMALLOC_BENCH_DIR names a
#                     checkout of mimalloc-bench
# Not a timed test: never part of make check. A benchmark that cannot run
# says why and the others go on.
#
# usage: targets.sh [--quick]   (--quick: fewer repetitions everywhere)
# Environment: BENCH_BIN, HEAPPROF_LIB, and optionally MIMALLOC_BENCH_DIR.
set -uo pipefail

quick=0
case ${1:-} in
--quick) quick=1 ;;
"") ;;
*) echo "usage: targets.sh [--quick]" >&2; exit 2 ;;
esac
: "${BENCH_BIN:?}" "${HEAPPROF_LIB:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-targets.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
BARE=$BENCH_BIN/.libs/libbare.so
reps=5
[ "$quick" = 1 ] && reps=2

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "-" }'; }

# ir [ENV...] -- COMMAND...: callgrind's instruction count, every process.
ir() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	(cd "$WORK" && env "${envs[@]}" valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) |
		awk '/Collected :/ { n = $4 } END { print n + 0 }'
}

heading() { printf '\n== %s\n' "$*"; }

instructions() {
	heading "start-up and the default rate: instructions (callgrind)"
	if ! command -v valgrind >/dev/null; then
		echo "skipped: valgrind is not installed (apt-get install valgrind)"
		return
	fi
	local plain hp
	plain=$(ir -- /bin/true)
	hp=$(ir HEAPPROF_AT_EXIT=0 LD_PRELOAD="$HEAPPROF_LIB" -- /bin/true)
	echo "start-up: $((hp - plain)) instructions (/bin/true: $plain plain, $hp profiled, no exit profile)"
	hp=$(ir LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/hp" -- /bin/true)
	echo "start-up and the exit profile: $((hp - plain)) instructions"
	local s=$BENCH_BIN/stress bare
	plain=$(ir -- "$s" 1 1000000)
	bare=-
	[ -f "$BARE" ] && bare=$(ir LD_PRELOAD="$BARE" -- "$s" 1 1000000)
	hp=$(ir HEAPPROF_SEED=1 HEAPPROF_OUTPUT="$WORK/hp" LD_PRELOAD="$HEAPPROF_LIB" -- "$s" 1 1000000)
	echo "stress 1 1000000: plain $plain, bare $bare ($(ratio "$bare" "$plain")x), profiled $hp ($(ratio "$hp" "$plain")x)"
	plain=$(ir -- "$s" 1 100000)
	hp=$(ir HEAPPROF_SEED=1 HEAPPROF_RATE=1 HEAPPROF_OUTPUT="$WORK/hp" LD_PRELOAD="$HEAPPROF_LIB" -- "$s" 1 100000)
	echo "stress 1 100000 at rate 1: plain $plain, profiled $hp ($(ratio "$hp" "$plain")x)"
}

memory() {
	heading "profiler memory per live sampled block (rate 1, 16-byte blocks)"
	local n plain hp
	for n in 300000 1000000 3000000; do
		plain=$("$BENCH_BIN/hold" "$n" | awk '{ print $2 }')
		hp=$(HEAPPROF_RATE=1 HEAPPROF_AT_EXIT=0 LD_PRELOAD="$HEAPPROF_LIB" \
			"$BENCH_BIN/hold" "$n" | awk '{ print $2 }')
		awk -v n="$n" -v p="$plain" -v h="$hp" \
			'BEGIN { printf "%d blocks: %.1f bytes each (VmRSS %d KiB plain, %d KiB profiled)\n", n, (h - p) * 1024 / n, p, h }'
	done
}

# run SCRIPT ARGS...: another benchmark of this directory, if it is there.
run() {
	local script=$HERE/$1
	shift
	if [ -f "$script" ]; then
		bash "$script" "$@"
	else
		echo "skipped: $script is missing"
	fi
}

instructions
memory
heading "the free path, Larson's shape (free-path.sh)"
run free-path.sh
heading "rate 1 on 1, 2 and 8 threads, wall (threads-bench.sh)"
run threads-bench.sh --reps "$reps"
heading "a profile of 2^20 stacks (dump-bench.sh)"
run dump-bench.sh --reps "$reps"
heading "mimalloc-bench (mimalloc-bench.sh)"
if [ -n "${MIMALLOC_BENCH_DIR:-}" ]; then
	run mimalloc-bench.sh --reps "$reps"
else
	echo "skipped: set MIMALLOC_BENCH_DIR to a checkout of mimalloc-bench"
fi
