#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The contention profiles' targets (docs/contention.md):
#   off   callgrind instructions of 10^6 uncontended lock/unlock pairs,
#         plain and preloaded with the profiles off: at most 2 more a call
#   on    the same with HEAPPROF_MUTEX_FRACTION=100 HEAPPROF_BLOCK_RATE=10000:
#         at most 15 more a pair
#   wall  locks contended THREADS N, plain and profiled (both on) in
#         alternating pairs, the median of the ratios
# usage: locks-bench.sh [--pairs N] [--threads T]
# Environment: BENCH_BIN (the built contrib/bench), HEAPPROF_LIB.
set -uo pipefail
pairs=9 threads=4
while [ $# -gt 0 ]; do
	case $1 in
	--pairs) pairs=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	*) echo "usage: locks-bench.sh [--pairs N] [--threads T]" >&2; exit 2 ;;
	esac
done
: "${BENCH_BIN:?}" "${HEAPPROF_LIB:?}"
LOCKS=$BENCH_BIN/locks
ON="HEAPPROF_MUTEX_FRACTION=100 HEAPPROF_BLOCK_RATE=10000"

ir() { # ir N ENV...: instructions of `locks uncontended N`
	local n=$1
	shift
	env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$LOCKS" uncontended "$n" 2>&1 >/dev/null |
		awk '/Collected :/ { n = $4 } END { print n + 0 }'
}

if command -v valgrind >/dev/null; then
	for cfg in plain off on; do
		case $cfg in
		plain) envs=(A=1) ;;
		off) envs=(LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_AT_EXIT=0) ;;
		on) envs=(LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_AT_EXIT=0 $ON) ;;
		esac
		per=$(($(ir 1000000 "${envs[@]}") - $(ir 0 "${envs[@]}")))
		eval "ir_$cfg=$per"
		printf '%-6s %d instructions per 10^6 lock/unlock pairs\n' "$cfg" "$per"
	done
	awk -v p="$ir_plain" -v o="$ir_off" -v n="$ir_on" 'BEGIN {
		printf "off: %.2f more a call; on: %.2f more a pair\n", (o - p) / 2e6, (n - p) / 1e6 }'
else
	echo "instructions: skipped, valgrind is not installed (apt-get install valgrind)"
fi

ratios=()
for _ in $(seq "$pairs"); do
	a=$(env $ON LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_AT_EXIT=0 "$LOCKS" contended "$threads" 200000)
	b=$("$LOCKS" contended "$threads" 200000)
	ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", a / b }')")
done
printf '%s\n' "${ratios[@]}" | sort -n |
	awk -v t="$threads" '{ r[NR] = $1 } END {
		printf "wall, %d threads contending: profiled/plain median %.3f (min %.3f, max %.3f, %d pairs)\n",
			t, r[int((NR + 1) / 2)], r[1], r[NR], NR }'
