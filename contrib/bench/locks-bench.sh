#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The contention profiles' targets (docs/contention.md):
#   off   callgrind instructions of 10^6 uncontended lock/unlock pairs,
#         plain and preloaded with the profiles off: at most 2 more a call
#   on    the same with HEAPPROF_MUTEX_FRACTION=100 HEAPPROF_BLOCK_RATE=10000:
#         at most 15 more a pair
#   wall  `locks mutex|rwlock T N WORK` for 4 and 8 threads, WORK 50 and 500
#         steps (about 100 ns and 1 us inside the lock, as much outside),
#         plain and profiled (both on) in alternating pairs: the median of
#         the ratios of wall and of CPU (user + system) time, and the load
# usage: locks-bench.sh [--pairs N]
# Environment: BENCH_BIN (the built contrib/bench), HEAPPROF_LIB.
set -uo pipefail
pairs=9
while [ $# -gt 0 ]; do
	case $1 in
	--pairs) pairs=$2; shift 2 ;;
	*) echo "usage: locks-bench.sh [--pairs N]" >&2; exit 2 ;;
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

# timed CMD...: "wall cpu" in seconds (bash's time; cpu is user + system).
timed() {
	local TIMEFORMAT='%R %U %S'
	{ time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ printf "%s %.3f\n", $1, $2 + $3 }'
}

# One case: its ratios profiled/plain over $pairs alternating pairs.
bench_case() {
	local wall=() cpu=() a b
	for _ in $(seq "$pairs"); do
		a=$(timed env $ON LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_AT_EXIT=0 "$LOCKS" "$@")
		b=$(timed "$LOCKS" "$@")
		wall+=("$(awk -v a="${a% *}" -v b="${b% *}" 'BEGIN { printf "%.4f", a / b }')")
		cpu+=("$(awk -v a="${a#* }" -v b="${b#* }" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 1) }')")
	done
	local w c
	w=$(printf '%s\n' "${wall[@]}" | sort -n | awk '{ r[NR] = $1 } END {
		printf "%.3f (min %.3f, max %.3f)", r[int((NR + 1) / 2)], r[1], r[NR] }')
	c=$(printf '%s\n' "${cpu[@]}" | sort -n | awk '{ r[NR] = $1 } END { printf "%.3f", r[int((NR + 1) / 2)] }')
	printf '%-24s wall %s, cpu %s, %d pairs\n' "$*" "$w" "$c" "$pairs"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "profiled/plain medians:"
for threads in 4 8; do
	bench_case mutex "$threads" $((3200000 / threads)) 50
	bench_case mutex "$threads" $((320000 / threads)) 500
	bench_case rwlock "$threads" $((3200000 / threads)) 50
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
