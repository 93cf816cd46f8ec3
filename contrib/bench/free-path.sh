#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The free path on a Larson-shaped workload, in callgrind's cache simulation:
# small blocks (8-1000 B), a working set larger than the caches, most blocks
# freed by a thread other than the one that allocated them, threads replaced
# as in Larson (contrib/bench/larson_shape.c: Larson's pattern with a fixed
# amount of work, so the counts repeat exactly; Larson itself runs for a
# fixed time and cannot be compared under callgrind).
#
# One command, three runs: plain, bare (the forwarding interposer, the floor
# of any LD_PRELOAD profiler) and libheapprof at the default rate, each under
# valgrind --tool=callgrind --cache-sim=yes, HEAPPROF_SEED=1 (fixed samples).
# Prints, per configuration: Ir, D1 misses, LL misses, the estimated cycles
# (Ir + 10 x (I1 + D1 misses) + 100 x LL misses) and their ratios to plain;
# then, from the per-function exclusive costs (callgrind's own output file,
# summed by object and function: what callgrind_annotate --inclusive=no
# shows), the cost of libheapprof's free() itself per call: instructions,
# data reads, D1 and LL read misses per free (the filter byte of
# hp_live_map_maybe_contains, lib/live_map.h), and the whole run's extra
# misses per free against bare (direct and indirect: the filter's lines
# evict the program's).
#
# usage: HEAPPROF_LIB=build/lib/.libs/libheapprof.so BENCH_BIN=build/contrib/bench \
#        contrib/bench/free-path.sh [--reps N] [--cache "D1 LL"] [--keep DIR] [-- LARSON_SHAPE_ARGS...]
#   --reps N       runs per configuration (default 3), figures are medians of
#                  each count: instruction counts repeat to 0.1%, D1 misses
#                  to about 1%, but LL misses move by up to 20% from run to
#                  run (the threads' interleaving under valgrind changes
#                  which glibc arena serves which thread, so the heap's
#                  layout); the table shows their range
#   BENCH_BIN      the build's contrib/bench: .libs/libbare.so (make
#                  contrib/bench/libbare.la) and larson_shape (make
#                  contrib/bench/larson_shape); without larson_shape the
#                  script compiles contrib/bench/larson_shape.c with $CC (cc)
#   --cache        the simulated caches, callgrind's D1 and LL as
#                  size,assoc,line; default "32768,8,64 1048576,16,64": an L1d
#                  of 32 KiB and, as the last level, an L2 of 1 MiB (the L2 of
#                  this machine's EPYC cores; Larson's working set of 5 MB
#                  fits a 32 MiB L3, and a two-level model with the L3 as LL
#                  would hide the misses that cost time)
#   LARSON_SHAPE_ARGS  default "2 5000 500000 2" (2 threads, Larson's 5000
#                  chunks per thread, 500,000 replacements per thread, 2
#                  generations of threads)
# Needs valgrind. Not a timed test: never part of make check.
set -uo pipefail

usage() {
	echo "usage: HEAPPROF_LIB=libheapprof.so BENCH_BIN=build/contrib/bench free-path.sh [--reps N] [--cache \"D1 LL\"] [--keep DIR] [-- LARSON_SHAPE_ARGS...]" >&2
	exit 2
}
cache="32768,8,64 1048576,16,64" keep="" reps=3
while [ $# -gt 0 ]; do
	case $1 in
	--cache) [ $# -ge 2 ] || usage; cache=$2; shift ;;
	--keep) [ $# -ge 2 ] || usage; keep=$2; shift ;;
	--reps) [ $# -ge 2 ] || usage; reps=$2; shift ;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) echo "free-path.sh: unknown argument: $1" >&2; usage ;;
	esac
	shift
done
case $reps in '' | *[!0-9]* | 0) echo "free-path.sh: --reps wants a positive number" >&2; usage ;; esac
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(2 5000 500000 2)
[ -n "${HEAPPROF_LIB:-}" ] || { echo "free-path.sh: set HEAPPROF_LIB" >&2; usage; }
[ -f "$HEAPPROF_LIB" ] || { echo "free-path.sh: HEAPPROF_LIB=$HEAPPROF_LIB: no such file" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "free-path.sh: needs valgrind" >&2; exit 2; }
set -- $cache
[ $# = 2 ] || { echo "free-path.sh: --cache wants \"D1 LL\", each size,assoc,line" >&2; exit 2; }
d1=$1 ll=$2

if [ -n "$keep" ]; then
	mkdir -p "$keep" && WORK=$(cd "$keep" && pwd)
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-free.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
fi
BENCH_BIN=${BENCH_BIN:-}
BARE="" PROG=""
[ -n "$BENCH_BIN" ] && [ -f "$BENCH_BIN/.libs/libbare.so" ] && BARE=$BENCH_BIN/.libs/libbare.so
[ -n "$BENCH_BIN" ] && [ -x "$BENCH_BIN/larson_shape" ] && PROG=$BENCH_BIN/larson_shape
if [ -z "$PROG" ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	${CC:-cc} -O2 -o "$WORK/larson_shape" "$here/larson_shape.c" -lpthread ||
		{ echo "free-path.sh: cannot compile $here/larson_shape.c" >&2; exit 1; }
	PROG=$WORK/larson_shape
fi
configs="plain bare hp"
[ -n "$BARE" ] || { echo "free-path.sh: no \$BENCH_BIN/.libs/libbare.so: bare skipped" >&2; configs="plain hp"; }

# exclusive OUT OB_PATTERN FN: the exclusive costs of function FN in objects
# matching OB_PATTERN, and the calls made to it, from callgrind's file:
# "calls Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw".
exclusive() {
	awk -v obpat="$2" -v want="$3" '
	function name(s, kind,   id, rest) { # "(id) name" or "(id)"
		if (match(s, /^\([0-9]+\)/)) {
			id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 1); sub(/^ /, "", rest)
			if (rest != "") names[kind, id] = rest
			return names[kind, id]
		}
		return s
	}
	/^positions:/ { npos = NF - 1 }
	/^events:/ { nev = NF - 1 }
	/^ob=/ { ob = name(substr($0, 4), "ob"); next }
	/^cob=/ { cob = name(substr($0, 5), "ob"); next }
	/^fn=/ { fn = name(substr($0, 4), "fn"); cob = ob; next }
	/^cfn=/ { cfn = name(substr($0, 5), "fn"); next }
	/^calls=/ { split(substr($0, 7), c, " "); skip = 1
		if (cfn == want && cob ~ obpat) calls += c[1]
		cob = ob # a call without cob= stays in the object of the caller
		next }
	/^[0-9+*-]/ {
		if (skip) { skip = 0; next }
		if (fn == want && ob ~ obpat)
			for (i = npos + 1; i <= NF; i++) cost[i - npos] += $i
		next }
	END { printf "%.0f", calls; for (i = 1; i <= nev; i++) printf " %.0f", cost[i]; printf "\n" }' "$1"
}

run() { # run CONFIG REP: callgrind totals "Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw"
	local -a envs=()
	case $1 in
	bare) envs=(LD_PRELOAD="$BARE") ;;
	hp) envs=(LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/hp") ;;
	esac
	env "${envs[@]}" HEAPPROF_SEED=1 valgrind --tool=callgrind --cache-sim=yes \
		--D1="$d1" --LL="$ll" --callgrind-out-file="$WORK/cg.$1.$2" \
		"$PROG" "${args[@]}" >"$WORK/out.$1" 2>"$WORK/log.$1" ||
		{ echo "free-path.sh: the $1 run failed:" >&2; tail -5 "$WORK/log.$1" >&2; exit 1; }
	rm -f "$WORK"/hp.*
	sed -n 's/^summary: //p' "$WORK/cg.$1.$2"
}

# medians FILE: the median of each column
medians() {
	local n i cols
	n=$(wc -l <"$1") cols=$(head -1 "$1" | wc -w)
	for i in $(seq "$cols"); do
		awk -v i="$i" '{ print $i }' "$1" | sort -n | awk -v n="$n" '{ v[NR] = $1 } END { printf "%s ", (n % 2) ? v[(n + 1) / 2] : int((v[n / 2] + v[n / 2 + 1]) / 2) }'
	done
	echo
}

echo "free-path: larson_shape ${args[*]}, D1 $d1, LL $ll (size,assoc,line)" >&2
declare -A tot llrange
for r in $(seq "$reps"); do
	for c in $configs; do
		run "$c" "$r" >>"$WORK/sum.$c" || exit 1
	done
	echo "  repetition $r done" >&2
done
for c in $configs; do
	tot[$c]=$(medians "$WORK/sum.$c")
	llrange[$c]=$(awk '{ v = $7 + $8 + $9; if (NR == 1 || v < lo) lo = v; if (v > hi) hi = v } END { printf "%.0f-%.0f", lo, hi }' "$WORK/sum.$c")
done
frees=$(sed -n 's/.*frees \([0-9]*\).*/\1/p' "$WORK/out.plain")

est() { awk '{ printf "%.0f", $1 + 10 * ($4 + $5 + $6) + 100 * ($7 + $8 + $9) }' <<<"$1"; }
field() { awk -v f="$2" '{ print $f }' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.3f", a / b }'; }

echo
echo "larson_shape ${args[*]}: $frees frees; medians of $reps runs of callgrind --cache-sim=yes, D1 $d1, LL $ll; estimated cycles = Ir + 10 x (I1mr + D1mr + D1mw) + 100 x (ILmr + DLmr + DLmw)"
echo
echo "| config | Ir | × plain | D1 misses | × plain | LL misses | (range) | × plain | est. cycles | × plain |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
p=${tot[plain]}
pi=$(field "$p" 1) pd=$(awk '{ print $5 + $6 }' <<<"$p") pl=$(awk '{ print $7 + $8 + $9 }' <<<"$p") pe=$(est "$p")
for c in $configs; do
	t=${tot[$c]}
	i=$(field "$t" 1) d=$(awk '{ print $5 + $6 }' <<<"$t") l=$(awk '{ print $7 + $8 + $9 }' <<<"$t") e=$(est "$t")
	echo "| $c | $i | $(ratio "$i" "$pi") | $d | $(ratio "$d" "$pd") | $l | ${llrange[$c]} | $(ratio "$l" "$pl") | $e | $(ratio "$e" "$pe") |"
done

# Per free (medians over the runs): the costs of free() in each interposer (exclusive), and the whole
# run's extra over the floor.
echo
echo "| per free() call | calls | Ir | Dr | D1 read misses | LL read misses | est. cycles |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in $configs; do
	case $c in
	plain) continue ;;
	bare) ob='libbare\.so' ;;
	hp) ob=$(basename "$HEAPPROF_LIB" | sed 's/[.]/\\./g') ;;
	esac
	: >"$WORK/ex.$c"
	for r in $(seq "$reps"); do exclusive "$WORK/cg.$c.$r" "$ob" free >>"$WORK/ex.$c"; done
	x=$(medians "$WORK/ex.$c")
	awk -v c="$c" '{ n = $1; if (!n) { print "| " c " free | 0 | - | - | - | - | - |"; exit }
		e = $2 + 10 * ($5 + $6 + $7) + 100 * ($8 + $9 + $10)
		printf "| %s free (exclusive) | %d | %.2f | %.2f | %.3f | %.4f | %.1f |\n", c, n, $2 / n, $3 / n, $6 / n, $9 / n, e / n }' <<<"$x"
done
if [ -n "$BARE" ]; then
	awk -v n="$frees" -v b="${tot[bare]}" -v h="${tot[hp]}" 'BEGIN {
		split(b, x, " "); split(h, y, " ")
		eb = x[1] + 10 * (x[4] + x[5] + x[6]) + 100 * (x[7] + x[8] + x[9])
		eh = y[1] + 10 * (y[4] + y[5] + y[6]) + 100 * (y[7] + y[8] + y[9])
		printf "| whole run, profiled - bare, per free | %d | %.2f | %.2f | %.3f | %.4f | %.1f |\n", n,
			(y[1] - x[1]) / n, (y[2] - x[2]) / n, (y[5] - x[5]) / n, (y[8] - x[8]) / n, (eh - eb) / n }'
fi
