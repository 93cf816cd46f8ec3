#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Six benchmarks of mimalloc-bench (https://github.com/daanx/mimalloc-bench),
# the allocator community's suite, plain against libheapprof at its default
# rate (HEAPPROF_RATE unset: 512 KiB) and against the bare forwarding
# interposer (contrib/bench/bare.c, the floor for any LD_PRELOAD profiler).
#
# What it does: compiles larson, glibc-simple, rptest, xmalloc-test, mstress
# and cfrac from a checkout of mimalloc-bench with cc/c++ and the flags of its
# bench/CMakeLists.txt (Release: -O3 -DNDEBUG) into a temporary directory,
# never into this tree; runs each under plain, bare and libheapprof, in an
# order rotated each repetition (so the configurations alternate), REPS
# times; prints a table of medians and ratios against plain.
#
# Arguments are those of mimalloc-bench's bench.sh at 2 threads (--threads),
# scaled so that a plain run takes about 0.5-2 s on a 2-core machine:
#   larson        larson 1 8 1000 5000 100 4141 T   (bench.sh: 5 s, not 1)
#   glibc-simple  glibc-simple                      (fixed work, ~2-3 s)
#   rptest        rptest T 0 1 2 500 1000 100 8 16000
#   xmalloc-test  xmalloc-test -w T -t 1 -s 64      (bench.sh: -t 5)
#   mstress       mstress T 50 300                  (bench.sh: 25 iterations)
#   cfrac         cfrac 1754518652050731705637113883632748379278
#                 (bench.sh factors a 44-digit number: ~4 s)
# larson, xmalloc-test and rptest run for a fixed time (larson also sleeps
# 2.5 s after its run, rptest about 16 s of sleeps between phases) and
# report a throughput: as in mimalloc-bench, their measure is the relative
# time they print (larson: 1e9/ops per s; xmalloc-test: 100/Mfrees per s;
# rptest: here 1e6/(memory ops per CPU second)), not the wall time, which
# the table also shows. The others' measure is the wall time. None of the
# throughput measures includes start-up or the exit profile; the wall times
# do. The table adds the CPU time (user + system, from the shell's `times`):
# CPU seconds for the fixed-work benchmarks, CPU ns per operation for larson
# and xmalloc-test. Other processes disturb it less than the wall time; on a
# busy machine read the CPU columns, or use --callgrind.
#
# usage: MIMALLOC_BENCH_DIR=/path/to/mimalloc-bench \
#        HEAPPROF_LIB=build/lib/.libs/libheapprof.so \
#        BENCH_BIN=build/contrib/bench \
#        contrib/bench/mimalloc-bench.sh [--reps N] [--threads T] [--only "B1 B2"]
#            [--configs "plain bare hp"] [--keep DIR] [--callgrind]
#   MIMALLOC_BENCH_DIR  a checkout of mimalloc-bench (the directory holding
#                       bench/larson/larson.cpp; `git clone
#                       https://github.com/daanx/mimalloc-bench`, nothing
#                       built there), required
#   HEAPPROF_LIB        the libheapprof.so to preload, required
#   BENCH_BIN           the build's contrib/bench (for .libs/libbare.so, made
#                       by `make contrib/bench/libbare.la`); without it, or
#                       without the library, bare is skipped
#   CC, CXX, CFLAGS     compilers (cc, c++) and flags (-O3 -DNDEBUG)
#   HEAPPROF_BENCH_ENV  extra variables for the profiled runs, e.g.
#                       "HEAPPROF_RATE=65536"
# --keep DIR builds into DIR and keeps it (and the binaries) afterwards.
# --callgrind: instead of timing, one run per configuration under valgrind
#   --tool=callgrind --cache-sim=yes (L1d 32 KiB, last level 1 MiB: an L2,
#   as contrib/bench/free-path.sh; HEAPPROF_SEED=1), smaller arguments
#   (mstress 30 iterations, cfrac a 35-digit number; larson and xmalloc-test
#   run 5 s, valgrind being ~50x slower), and a table of the
#   estimated cycles (Ir + 10 x L1 misses + 100 x LL misses) against plain:
#   totals for the fixed-work benchmarks, per free call for the fixed-time
#   ones (larson, xmalloc-test, rptest), leaving out the profiler's
#   start-up and exit profile (under valgrind these run few operations, so
#   the fixed costs would weigh far more than in a real run); with the
#   profiled run's samples (calls of record), and the inclusive estimated
#   cycles of sampling (record), start-up (hp_init) and the exit profile
#   (hp_dump_at_exit) as shares of the whole run. The figures the wall
#   clock cannot give on a loaded machine. glibc-simple, which takes no
#   size argument, runs ~15 min under callgrind on 2 busy cores.
# Not a timed test: never part of make check.
set -uo pipefail

usage() {
	cat >&2 <<'EOF'
usage: MIMALLOC_BENCH_DIR=DIR HEAPPROF_LIB=libheapprof.so [BENCH_BIN=build/contrib/bench] \
       mimalloc-bench.sh [--reps N] [--threads T] [--only "larson cfrac ..."] [--configs "plain bare hp"] [--keep DIR] [--callgrind]
  MIMALLOC_BENCH_DIR: a checkout of https://github.com/daanx/mimalloc-bench
EOF
	exit 2
}

reps=5 threads=2 only="" keep="" configs="plain bare hp" cg=0
all="larson glibc-simple rptest xmalloc-test mstress cfrac"
while [ $# -gt 0 ]; do
	case $1 in
	--reps) [ $# -ge 2 ] || usage; reps=$2; shift ;;
	--threads) [ $# -ge 2 ] || usage; threads=$2; shift ;;
	--only) [ $# -ge 2 ] || usage; only=$2; shift ;;
	--configs) [ $# -ge 2 ] || usage; configs=$2; shift ;;
	--keep) [ $# -ge 2 ] || usage; keep=$2; shift ;;
	--callgrind) cg=1 ;;
	-h | --help) usage ;;
	*) echo "mimalloc-bench.sh: unknown argument: $1" >&2; usage ;;
	esac
	shift
done
case $reps in '' | *[!0-9]* | 0) echo "mimalloc-bench.sh: --reps wants a positive number" >&2; usage ;; esac
case $threads in '' | *[!0-9]* | 0) echo "mimalloc-bench.sh: --threads wants a positive number" >&2; usage ;; esac
if [ -z "${MIMALLOC_BENCH_DIR:-}" ] || [ -z "${HEAPPROF_LIB:-}" ]; then
	echo "mimalloc-bench.sh: set MIMALLOC_BENCH_DIR and HEAPPROF_LIB" >&2
	usage
fi
SRC=$MIMALLOC_BENCH_DIR/bench
[ -f "$SRC/larson/larson.cpp" ] || { echo "mimalloc-bench.sh: no bench/larson/larson.cpp under MIMALLOC_BENCH_DIR=$MIMALLOC_BENCH_DIR" >&2; exit 2; }
[ -f "$HEAPPROF_LIB" ] || { echo "mimalloc-bench.sh: HEAPPROF_LIB=$HEAPPROF_LIB: no such file" >&2; exit 2; }
HEAPPROF_LIB=$(cd "$(dirname "$HEAPPROF_LIB")" && pwd)/$(basename "$HEAPPROF_LIB")
BARE=""
if [ -n "${BENCH_BIN:-}" ] && [ -f "$BENCH_BIN/.libs/libbare.so" ]; then
	BARE=$(cd "$BENCH_BIN/.libs" && pwd)/libbare.so
fi
if [ -z "$BARE" ]; then
	case " $configs " in *" bare "*)
		echo "mimalloc-bench.sh: no \$BENCH_BIN/.libs/libbare.so (make contrib/bench/libbare.la): bare skipped" >&2
		configs=$(echo " $configs " | sed 's/ bare / /; s/^ *//; s/ *$//') ;;
	esac
fi
benches=${only:-$all}
for b in $benches; do
	case " $all " in *" $b "*) ;; *) echo "mimalloc-bench.sh: unknown benchmark $b (known: $all)" >&2; exit 2 ;; esac
done
for c in $configs; do
	case $c in plain | bare | hp) ;; *) echo "mimalloc-bench.sh: unknown configuration $c (plain bare hp)" >&2; exit 2 ;; esac
done

CC=${CC:-cc} CXX=${CXX:-c++}
CFLAGS=${CFLAGS:--O3 -DNDEBUG}
if [ -n "$keep" ]; then
	mkdir -p "$keep" && WORK=$(cd "$keep" && pwd)
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-mb.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK/bin" "$WORK/out" "$WORK/run"
: >"$WORK/runs"

# ---- build (bench/CMakeLists.txt: warnings off, gnu89 for cfrac) ----------
build() { # build NAME: compiles one benchmark into $WORK/bin/NAME
	local w="-w" s=$SRC
	case $1 in
	larson) $CXX $CFLAGS $w -DCPP=1 -o "$WORK/bin/larson" "$s/larson/larson.cpp" -lpthread ;;
	glibc-simple) $CC $CFLAGS $w -o "$WORK/bin/glibc-simple" "$s/glibc-bench/bench-malloc-simple.c" -lpthread ;;
	rptest) $CC $CFLAGS $w -I"$s/rptest" -o "$WORK/bin/rptest" \
		"$s/rptest/rptest.c" "$s/rptest/thread.c" "$s/rptest/timer.c" -lpthread -lm ;;
	xmalloc-test) $CC $CFLAGS $w -o "$WORK/bin/xmalloc-test" "$s/xmalloc-test/xmalloc-test.c" -lpthread ;;
	mstress) $CC $CFLAGS $w -o "$WORK/bin/mstress" "$s/mstress/mstress.c" -lpthread ;;
	cfrac)
		local f files=""
		for f in cfrac pops pconst pio pabs pneg pcmp podd phalf padd psub pmul pdivmod \
			psqrt ppowmod atop ptoa itop utop ptou errorp pfloat pidiv pimod picmp primes pcfrac pgcd; do
			files="$files $s/cfrac/$f.c"
		done
		# shellcheck disable=SC2086
		$CC $CFLAGS $w -std=gnu89 -DNOMEMOPT=1 -o "$WORK/bin/cfrac" $files -lm ;;
	esac
}
for b in $benches; do
	build "$b" || { echo "mimalloc-bench.sh: building $b failed" >&2; exit 1; }
done

cmd_for() { # cmd_for NAME: sets CMD
	local t=$threads
	case $1 in
	larson) CMD=(larson 1 8 1000 5000 100 4141 "$t"); [ "$cg" = 1 ] && CMD[1]=5 ;;
	glibc-simple) CMD=(glibc-simple) ;;
	rptest) CMD=(rptest "$t" 0 1 2 500 1000 100 8 16000) ;;
	xmalloc-test) CMD=(xmalloc-test -w "$t" -t 1 -s 64); [ "$cg" = 1 ] && CMD[3]=5 ;;
	mstress) CMD=(mstress "$t" 50 300); [ "$cg" = 1 ] && CMD=(mstress "$t" 50 30) ;;
	cfrac) CMD=(cfrac 1754518652050731705637113883632748379278)
		[ "$cg" = 1 ] && CMD=(cfrac 41757646344123832613190542166099121) ;;
	esac
	CMD[0]=$WORK/bin/${CMD[0]}
}
metric_name() {
	case $1 in
	larson) echo "larson rel. s" ;;
	xmalloc-test) echo "xmalloc rtime" ;;
	rptest) echo "s/Mops (CPU)" ;;
	*) echo "wall s" ;;
	esac
}
# metric NAME OUTFILE WALL: the benchmark's own measure (lower is better)
metric() {
	case $1 in
	larson) sed -n 's/.*relative time: \([0-9.]*\)s.*/\1/p' "$2" | tail -1 ;;
	xmalloc-test) sed -n 's/^rtime: \([0-9.]*\).*/\1/p' "$2" | tail -1 ;;
	rptest) sed -n 's/.*[^0-9]\([0-9][0-9]*\) memory ops\/CPU second.*/\1/p' "$2" | tail -1 |
		awk '$1 > 0 { printf "%.6f\n", 1e6 / $1 }' ;;
	*) echo "$3" ;;
	esac
}

# cpu_per_op NAME OUTFILE CPU WALL: CPU time per unit of work, the measure
# that contention from other processes disturbs least (lower is better):
# CPU ns per operation for the fixed-time benchmarks (their run time is about
# their -t/runtime argument: 1 s), the CPU seconds for the others.
cpu_per_op() {
	case $1 in
	larson) sed -n 's/^Throughput = *\([0-9.]*\) operations.*/\1/p' "$2" | tail -1 |
		awk -v c="$3" '$1 > 0 { printf "%.2f\n", c * 1e9 / ($1 * 1.0) }' ;;
	xmalloc-test) sed -n 's/.*free\/sec: \([0-9.]*\) M.*/\1/p' "$2" | tail -1 |
		awk -v c="$3" '$1 > 0 { printf "%.2f\n", c * 1e3 / ($1 * 1.0) }' ;;
	*) echo "$3" ;;
	esac
}

run_one() { # run_one CONFIG NAME: appends "NAME CONFIG wall metric" to runs
	local c=$1 b=$2 t0 t1 wall m rc cpu
	local -a envs=()
	cmd_for "$b"
	case $c in
	bare) envs=(LD_PRELOAD="$BARE") ;;
	# shellcheck disable=SC2206
	hp) envs=(LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/out/hp" ${HEAPPROF_BENCH_ENV:-}) ;;
	esac
	t0=$EPOCHREALTIME
	# `times` in the subshell: its children's user and system time, the
	# benchmark's CPU time.
	(cd "$WORK/run" && env "${envs[@]}" "${CMD[@]}" >"$WORK/out/stdout" 2>&1 </dev/null
	 rc=$?; times >"$WORK/out/times"; exit $rc)
	rc=$?
	t1=$EPOCHREALTIME
	cpu=$(awk 'NR == 2 { split($0, f, " "); s = 0
		for (i = 1; i <= 2; i++) { split(f[i], a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] }
		printf "%.4f", s }' "$WORK/out/times")
	rm -f "$WORK"/out/hp.* "$WORK"/run/* 2>/dev/null
	if [ "$rc" != 0 ]; then
		echo "mimalloc-bench.sh: $b under $c exited with $rc:" >&2
		tail -5 "$WORK/out/stdout" >&2
		return 1
	fi
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
	m=$(metric "$b" "$WORK/out/stdout" "$wall")
	[ -n "$m" ] || { echo "mimalloc-bench.sh: no measure in the output of $b under $c" >&2; return 1; }
	echo "$b $c $wall $m $cpu $(cpu_per_op "$b" "$WORK/out/stdout" "$cpu" "$wall")" >>"$WORK/runs"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.3f", a / b }'; }

# ---- --callgrind ----------------------------------------------------------
# fnstat FILE OB_PATTERN FN: for function FN in objects matching OB_PATTERN,
# from callgrind's output file: "calls excl_est incl_est", the estimated
# cycles of the function alone and with its callees.
fnstat() {
	awk -v obpat="$2" -v want="$3" '
	function name(s, kind,   id, rest) { # "(id) name" or "(id)"
		if (match(s, /^\([0-9]+\)/)) {
			id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 1); sub(/^ /, "", rest)
			if (rest != "") names[kind, id] = rest
			return names[kind, id]
		}
		return s
	}
	function est(   i, e) { # the events are Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
		e = 0
		for (i = npos + 1; i <= NF; i++) e += $i * w[i - npos]
		return e
	}
	BEGIN { w[1] = 1; w[4] = w[5] = w[6] = 10; w[7] = w[8] = w[9] = 100 }
	/^positions:/ { npos = NF - 1 }
	/^ob=/ { ob = name(substr($0, 4), "ob"); next }
	/^cob=/ { cob = name(substr($0, 5), "ob"); next }
	/^fn=/ { fn = name(substr($0, 4), "fn"); cob = ob; here = (fn == want && ob ~ obpat); next }
	/^cfn=/ { cfn = name(substr($0, 5), "fn"); next }
	/^calls=/ { split(substr($0, 7), c, " "); skip = 1
		if (cfn == want && cob ~ obpat) calls += c[1]
		cob = ob # a call without cob= stays in the object of the caller
		next }
	/^[0-9+*-]/ {
		if (skip) { skip = 0; if (here) incl += est(); next }
		if (here) { e = est(); excl += e; incl += e }
		next }
	END { printf "%.0f %.0f %.0f\n", calls, excl, incl }' "$1"
}
# fnstat_ir FILE OB_PATTERN FN: FN's inclusive instruction count
fnstat_ir() {
	awk -v obpat="$2" -v want="$3" '
	function name(s, kind,   id, rest) {
		if (match(s, /^\([0-9]+\)/)) {
			id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 1); sub(/^ /, "", rest)
			if (rest != "") names[kind, id] = rest
			return names[kind, id]
		}
		return s
	}
	/^positions:/ { npos = NF - 1 }
	/^ob=/ { ob = name(substr($0, 4), "ob"); next }
	/^cob=/ { name(substr($0, 5), "ob"); next }
	/^fn=/ { fn = name(substr($0, 4), "fn"); here = (fn == want && ob ~ obpat); next }
	/^cfn=/ { name(substr($0, 5), "fn"); next }
	/^calls=/ { skip = 1; next }
	/^[0-9+*-]/ { if (skip) skip = 0; if (here) incl += $(npos + 1); next }
	END { printf "%.0f\n", incl }' "$1"
}
if [ "$cg" = 1 ]; then
	command -v valgrind >/dev/null || { echo "mimalloc-bench.sh: --callgrind needs valgrind" >&2; exit 2; }
	echo "mimalloc-bench --callgrind: [$benches] x [$configs], $threads threads" >&2
	echo
	echo "callgrind --cache-sim=yes (D1 32 KiB 8-way, LL 1 MiB 16-way), HEAPPROF_SEED=1, one run each; est. = Ir + 10 x L1 misses + 100 x LL misses."
	echo "Fixed-time benchmarks (larson, xmalloc-test, rptest): est. cycles (and Ir) per free call (each benchmark frees what it allocates, by malloc, calloc or memalign), without the profiler's start-up and exit profile; the others: totals."
	echo
	echo "| benchmark | plain est. | bare × | profiled × | plain Ir | bare Ir × | profiled Ir × | samples | record | hp_init | exit dump |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for b in $benches; do
		cmd_for "$b"
		declare -A E=() I=()
		for c in $configs; do
			envs=() ob='libc\.so'
			case $c in
			bare) envs=(LD_PRELOAD="$BARE"); ob='libbare\.so' ;;
			# shellcheck disable=SC2206
			hp) envs=(LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/out/hp" ${HEAPPROF_BENCH_ENV:-}); ob=$(basename "$HEAPPROF_LIB" | sed 's/[.]/\\./g') ;;
			esac
			out=$WORK/out/cg.$b.$c
			(cd "$WORK/run" && env "${envs[@]}" HEAPPROF_SEED=1 valgrind --tool=callgrind --cache-sim=yes \
				--D1=32768,8,64 --LL=1048576,16,64 --callgrind-out-file="$out" \
				"${CMD[@]}" >"$WORK/out/stdout" 2>"$WORK/out/log" </dev/null) ||
				{ echo "mimalloc-bench.sh: $b under $c failed in callgrind" >&2; tail -5 "$WORK/out/log" >&2; continue; }
			rm -f "$WORK"/out/hp.* "$WORK"/run/* 2>/dev/null
			whole=$(sed -n 's/^summary: //p' "$out" | awk '{ printf "%.0f %.0f", $1 + 10 * ($4 + $5 + $6) + 100 * ($7 + $8 + $9), $1 }')
			E[$c]=${whole% *} I[$c]=${whole#* }
			fixed_e=0 fixed_i=0
			if [ "$c" = hp ]; then
				samples=$(fnstat "$out" "$ob" record | awk '{ print $1 }')
				# share FN: FN's inclusive estimated cycles in % of the run's
				share() { fnstat "$out" "$ob" "$1" | awk -v w="${E[hp]}" '{ printf "%.2f%%", 100 * $3 / w }'; }
				rec=$(share record) ini=$(share hp_init) ext=$(share hp_dump_at_exit)
				# start-up and the exit profile, left out of the per-call figures
				fixed_e=$({ fnstat "$out" "$ob" hp_init; fnstat "$out" "$ob" hp_dump_at_exit; } | awk '{ s += $3 } END { printf "%.0f", s }')
				fixed_i=$(for f in hp_init hp_dump_at_exit; do fnstat_ir "$out" "$ob" "$f"; done | awk '{ s += $1 } END { printf "%.0f", s }')
			fi
			case $b in
			larson | xmalloc-test | rptest)
				# glibc's free: every free ends there, whichever entry the
				# program called (the profiler's delete goes straight to it)
				n=$(fnstat "$out" 'libc\.so' free | awk '{ print $1 }')
				E[$c]=$(awk -v e="${E[$c]}" -v f="$fixed_e" -v n="$n" 'BEGIN { if (n > 0) printf "%.2f", (e - f) / n; else print 0 }')
				I[$c]=$(awk -v e="${I[$c]}" -v f="$fixed_i" -v n="$n" 'BEGIN { if (n > 0) printf "%.2f", (e - f) / n; else print 0 }') ;;
			esac
		done
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$b" "${E[plain]:--}" \
			"$(ratio "${E[bare]:-}" "${E[plain]:-}")" "$(ratio "${E[hp]:-}" "${E[plain]:-}")" "${I[plain]:--}" \
			"$(ratio "${I[bare]:-}" "${I[plain]:-}")" "$(ratio "${I[hp]:-}" "${I[plain]:-}")" \
			"${samples:--}" "${rec:--}" "${ini:--}" "${ext:--}"
		unset E I samples rec ini ext
	done
	exit 0
fi

echo "mimalloc-bench: $reps repetitions of [$benches] x [$configs], $threads threads, $(nproc) cores" >&2
for r in $(seq "$reps"); do
	set -- $configs
	k=$(( (r - 1) % $# ))
	order=$(echo $configs $configs | cut -d' ' -f$((k + 1))-$((k + $#)))
	for b in $benches; do
		for c in $order; do run_one "$c" "$b"; done
	done
	echo "  repetition $r done ($order)" >&2
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stat() { awk -v b="$1" -v c="$2" -v f="$3" '$1 == b && $2 == c { print $f }' "$WORK/runs" | median; }

echo
echo "Medians of $reps alternating runs, $threads threads, HEAPPROF_RATE ${HEAPPROF_BENCH_ENV:-unset (512 KiB)}; $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)."
echo
echo "| benchmark | measure | plain | bare × | profiled × | plain wall s | bare × | profiled × | CPU measure | plain | bare × | profiled × |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
for b in $benches; do
	pm=$(stat "$b" plain 4) pw=$(stat "$b" plain 3)
	pc=$(stat "$b" plain 6)
	bm="" bw="" hm="" hw="" bc="" hc=""
	case " $configs " in *" bare "*) bm=$(stat "$b" bare 4) bw=$(stat "$b" bare 3) bc=$(stat "$b" bare 6) ;; esac
	case " $configs " in *" hp "*) hm=$(stat "$b" hp 4) hw=$(stat "$b" hp 3) hc=$(stat "$b" hp 6) ;; esac
	case $b in larson | xmalloc-test) cm="CPU ns/op" ;; *) cm="CPU s" ;; esac
	printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$b" "$(metric_name "$b")" "${pm:--}" \
		"$(ratio "$bm" "$pm")" "$(ratio "$hm" "$pm")" "${pw:--}" "$(ratio "$bw" "$pw")" "$(ratio "$hw" "$pw")" \
		"$cm" "${pc:--}" "$(ratio "$bc" "$pc")" "$(ratio "$hc" "$pc")"
done
