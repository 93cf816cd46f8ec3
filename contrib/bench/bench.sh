#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The overhead benchmark. Runs each workload under each configuration, in
# rotating order, REPS times, and reports medians and ratios against the plain
# program (wall, CPU, peak RSS), callgrind instruction counts (one run each:
# they repeat exactly), 1- to 2-thread scaling, and the dump figures for a
# profile of 100,000 stacks. Prints one table and writes it as Markdown.
#
# usage: bench.sh [--reps N] [--quick] [--out FILE]   (run by `make bench`)
# Environment: BENCH_BIN (the directory of the bench programs),
# HEAPPROF_LIB, JEMALLOC_SO.
set -uo pipefail

reps=3 quick=0 out=bench.md
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2; shift ;;
	--quick) quick=1 ;;
	--out) out=$2; shift ;;
	*) echo "usage: bench.sh [--reps N] [--quick] [--out FILE]" >&2; exit 2 ;;
	esac
	shift
done
: "${BENCH_BIN:?}" "${HEAPPROF_LIB:?}"
JEMALLOC_SO=${JEMALLOC_SO:-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RUNNER=$BENCH_BIN/runner STRESS=$BENCH_BIN/stress STACKS=$BENCH_BIN/stacks
BARE=$BENCH_BIN/.libs/libbare.so

# Workload sizes: a third of a second to a second each for the plain program.
iters=10000000 cg_iters=1000000 sql_rows=400000 cg_rows=40000
if [ "$quick" = 1 ]; then iters=3000000 cg_iters=200000 sql_rows=200000 cg_rows=20000 reps=1; fi

sql() {
	cat <<EOF
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1)
INSERT INTO t SELECT x, printf('%08x-%d', (x * 2654435761) % 4294967296, x), x * 1.5 FROM n;
CREATE INDEX tb ON t(b);
SELECT count(*), sum(length(b)), min(b), max(b) FROM t;
SELECT count(*) FROM t AS x JOIN t AS y ON x.a = y.a + 1 WHERE x.b > y.b;
EOF
}
sql "$sql_rows" >"$WORK/work.sql"
sql "$cg_rows" >"$WORK/small.sql"

workloads="stress1 stress2 stress8"
command -v sqlite3 >/dev/null && workloads="$workloads sqlite"
# cmd_for WORKLOAD [small]: sets CMD to the workload's command line.
cmd_for() {
	local n=$iters rows=$WORK/work.sql
	[ -n "${2:-}" ] && n=$cg_iters rows=$WORK/small.sql
	case $1 in
	stress1) CMD=("$STRESS" 1 "$n") ;;
	stress2) CMD=("$STRESS" 2 "$n") ;;
	stress8) CMD=("$STRESS" 8 "$((n / 4))") ;;
	# sqlite3 itself, not a script that execs it: heaptrack follows no exec.
	sqlite) CMD=(sqlite3 :memory: ".read $rows") ;;
	esac
}

configs="plain bare hp512k hp64k hp4k hp1"
[ -f "$BARE" ] || configs=${configs/bare /}
[ -n "$JEMALLOC_SO" ] && [ -f "$JEMALLOC_SO" ] && configs="$configs jemalloc jeprof"
command -v heaptrack >/dev/null && configs="$configs heaptrack"

# env_for CONFIG: the environment variables that run a command under CONFIG.
env_for() {
	case $1 in
	plain) echo "" ;;
	bare) echo "LD_PRELOAD=$BARE" ;;
	hp512k) echo "LD_PRELOAD=$HEAPPROF_LIB HEAPPROF_RATE=524288 HEAPPROF_OUTPUT=$WORK/hp" ;;
	hp64k) echo "LD_PRELOAD=$HEAPPROF_LIB HEAPPROF_RATE=65536 HEAPPROF_OUTPUT=$WORK/hp" ;;
	hp4k) echo "LD_PRELOAD=$HEAPPROF_LIB HEAPPROF_RATE=4096 HEAPPROF_OUTPUT=$WORK/hp" ;;
	hp1) echo "LD_PRELOAD=$HEAPPROF_LIB HEAPPROF_RATE=1 HEAPPROF_OUTPUT=$WORK/hp" ;;
	jemalloc) echo "LD_PRELOAD=$JEMALLOC_SO" ;;
	jeprof) echo "LD_PRELOAD=$JEMALLOC_SO MALLOC_CONF=prof:true,lg_prof_sample:19,prof_final:true,prof_prefix:$WORK/je" ;;
	heaptrack) echo "" ;;
	esac
}

measure() { # measure CONFIG WORKLOAD: one run, "wall cpu rss_kb"
	local c=$1 w=$2
	cmd_for "$w"
	if [ "$c" = heaptrack ]; then
		"$RUNNER" heaptrack -o "$WORK/ht" "${CMD[@]}" 2>/dev/null
	else
		env $(env_for "$c") "$RUNNER" "${CMD[@]}"
	fi | awk '{ printf "%s %.4f %s\n", $1, $2 + $3, $4 }'
	rm -f "$WORK"/hp.* "$WORK"/je.* "$WORK"/ht* 2>/dev/null
}

echo "benchmark: $reps repetitions of [$workloads] x [$configs]" >&2
for r in $(seq "$reps"); do
	# Rotate the order of configurations each repetition.
	set -- $configs
	k=$(( (r - 1) % $# ))
	order=$(echo $configs $configs | cut -d' ' -f$((k + 1))-$((k + $#)))
	for w in $workloads; do
		for c in $order; do
			# heaptrack traces everything: its slowdown would dominate the
			# run time, so it is measured on stress1 and sqlite only.
			[ "$c" = heaptrack ] && case $w in stress2 | stress8) continue ;; esac
			echo "$w $c $(measure "$c" "$w")" >>"$WORK/runs"
		done
	done
	echo "  repetition $r done" >&2
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stat() { # stat WORKLOAD CONFIG FIELD(2=wall 3=cpu 4=rss)
	awk -v w="$1" -v c="$2" -v f="$3" '$1 == w && $2 == c { print $(f + 1) }' "$WORK/runs" | median
}

# callgrind: instructions, one run each (the seed is fixed, so they repeat).
cg() { # cg CONFIG WORKLOAD
	local c=$1 w=$2
	cmd_for "$w" small
	[ "$c" = heaptrack ] && { echo "-"; return; }
	env $(env_for "$c") HEAPPROF_SEED=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"${CMD[@]}" 2>&1 >/dev/null |
		awk '/Collected :/ { s += $4 } END { print s ? s : "-" }'
	rm -f "$WORK"/hp.* "$WORK"/je.* 2>/dev/null
}
have_cg=0
command -v valgrind >/dev/null && have_cg=1
declare -A instr
if [ "$have_cg" = 1 ]; then
	for w in stress1 sqlite; do
		case " $workloads " in *" $w "*) ;; *) continue ;; esac
		for c in $configs; do instr[$w.$c]=$(cg "$c" "$w"); done
	done
	echo "  callgrind done" >&2
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.3f", a / b }'; }

{
	echo "| workload | config | wall s | × plain | CPU s | × plain | peak RSS MiB | × plain | instructions | × plain |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for w in $workloads; do
		pw=$(stat "$w" plain 2) pc=$(stat "$w" plain 3) pr=$(stat "$w" plain 4)
		pi=${instr[$w.plain]:--}
		for c in $configs; do
			[ -n "$(stat "$w" "$c" 2)" ] || continue
			cw=$(stat "$w" "$c" 2) cc=$(stat "$w" "$c" 3) cr=$(stat "$w" "$c" 4)
			ci=${instr[$w.$c]:--}
			base_label=""
			if [ "$c" = jeprof ]; then
				# jemalloc's profiler is judged against jemalloc without it.
				bw=$(stat "$w" jemalloc 2) bi=${instr[$w.jemalloc]:--}
				base_label=" (vs jemalloc: wall $(ratio "$cw" "$bw"), instr. $(ratio "$ci" "$bi"))"
			fi
			printf "| %s | %s%s | %.3f | %s | %.3f | %s | %.1f | %s | %s | %s |\n" "$w" "$c" "$base_label" \
				"$cw" "$(ratio "$cw" "$pw")" "$cc" "$(ratio "$cc" "$pc")" \
				"$(awk -v r="$cr" 'BEGIN { print r / 1024 }')" "$(ratio "$cr" "$pr")" \
				"$ci" "$(ratio "$ci" "$pi")"
		done
	done
} >"$WORK/table.md"

# Scaling: 2-thread throughput over 1-thread, plain and at the default rate.
scale() { # scale CONFIG: ops/s ratio of 2 threads to 1 (same work per thread)
	local c=$1 one two
	one=$(for r in $(seq "$reps"); do env $(env_for "$c") "$STRESS" 1 "$iters" | awk '{ print $8 }'; done | median)
	two=$(for r in $(seq "$reps"); do env $(env_for "$c") "$STRESS" 2 "$iters" | awk '{ print $8 }'; done | median)
	rm -f "$WORK"/hp.* 2>/dev/null
	awk -v a="$two" -v b="$one" 'BEGIN { printf "%.2f", a / b }'
}
scale_plain=$(scale plain)
scale_hp=$(scale hp512k)

# Dumps: 100,000 distinct stacks, HEAPPROF_RATE=1 so each is in the profile.
for r in $(seq "$reps"); do
	HEAPPROF_RATE=1 HEAPPROF_OUTPUT=$WORK/dump LD_PRELOAD=$HEAPPROF_LIB HEAPPROF_AT_EXIT=0 \
		"$STACKS" 100000 "$WORK/dump" >>"$WORK/dumps"
	rm -f "$WORK"/dump.*
done
dstat() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$WORK/dumps" | median; }
dump_ms=$(dstat dump_ms) dump_size=$(dstat size_bytes) stall=$(dstat max_stall_us)
base_stall=$(dstat baseline_max_us) nstacks=$(dstat stacks)

machine="$(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(free -g | awk '/Mem:/ { print $2 }') GiB, Linux $(uname -r), $(ldd --version | head -1 | sed 's/.*) //') glibc"
{
	echo "Measured $(date -u '+%Y-%m-%d') on $machine."
	echo "Medians of $reps repetitions; instructions from one callgrind run (stress1 with $cg_iters iterations, sqlite with $cg_rows rows; they repeat exactly)."
	echo
	cat "$WORK/table.md"
	echo
	echo "Scaling, stress 2 threads over 1 thread (same work per thread), ops/s: plain $scale_plain×, libheapprof at 512 KiB $scale_hp×."
	echo
	echo "Dump of $nstacks distinct stacks (HEAPPROF_RATE=1): $dump_ms ms from the signal to the complete file, $dump_size bytes; longest allocation of another thread during the dump $stall µs (during the same time before it: $base_stall µs)."
} >"$out"
cat "$out"
