#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The reader benchmark (issue 22): profiles of 2^20 and 10^5 distinct stacks
# 26 frames deep (the stacks workload, -f, at HEAPPROF_RATE=1), read by
# heapprof top, peek, list, diff, flame and web, and by go tool pprof -top
# when Go is installed. Prints a table of medians over REPS runs: wall
# seconds and peak RSS (getrusage of the child, via /usr/bin/time -v).
# Builds nothing; never part of make check.
#
# usage: reader-bench.sh [--reps N] [--slow-reps N] [--sizes "1048576 100000"] [--no-pprof]
#   --slow-reps: runs of web and go tool pprof, which take minutes (default: REPS)
# Environment: BENCH_BIN (the directory of the bench programs, as built by
# `make bench`), HEAPPROF_LIB (the libheapprof.so to preload), HEAPPROF_BIN
# (the heapprof command to time).
set -uo pipefail

reps=3 slow_reps= sizes="1048576 100000" pprof=1
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2; shift ;;
	--slow-reps) slow_reps=$2; shift ;;
	--sizes) sizes=$2; shift ;;
	--no-pprof) pprof=0 ;;
	*) echo "usage: reader-bench.sh [--reps N] [--slow-reps N] [--sizes LIST] [--no-pprof]" >&2; exit 2 ;;
	esac
	shift
done
: "${BENCH_BIN:?}" "${HEAPPROF_LIB:?}" "${HEAPPROF_BIN:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-reader-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
GO=$(command -v go || true)
[ "$pprof" = 1 ] || GO=

# profile N NAME: a profile of N distinct stacks, in $WORK/NAME.pb.gz.
profile() {
	HEAPPROF_RATE=1 HEAPPROF_OUTPUT=$WORK/d HEAPPROF_AT_EXIT=0 LD_PRELOAD=$HEAPPROF_LIB \
		"$BENCH_BIN/stacks" -f "$1" "$WORK/d" >/dev/null || echo "stacks failed" >&2
	mv "$(ls "$WORK"/d.* | head -1)" "$WORK/$2.pb.gz"
	rm -f "$WORK"/d.*
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure LABEL COMMAND...: REPS runs (N with N=... before LABEL); prints a
# table row: LABEL, the median wall seconds, the median CPU seconds (user +
# system: steadier than wall on a shared machine), the median peak RSS in MiB.
measure() {
	local n=$reps label t=() c=() m=()
	case $1 in N=*) n=${1#N=}; shift ;; esac
	label=$1
	shift
	for _ in $(seq "$n"); do
		/usr/bin/time -v -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" ||
			echo "$label failed: $(tail -1 "$WORK/err")" >&2
		t+=("$(awk -F': ' '/Elapsed \(wall/ { n = split($2, a, ":"); s = 0
			for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$WORK/time")")
		c+=("$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$WORK/time")")
		m+=("$(awk -F': ' '/Maximum resident/ { printf "%.1f", $2 / 1024 }' "$WORK/time")")
	done
	printf '| %s | %s | %s | %s |\n' "$label" \
		"$(printf '%s\n' "${t[@]}" | median)" "$(printf '%s\n' "${c[@]}" | median)" \
		"$(printf '%s\n' "${m[@]}" | median)"
}

# total_of OUTPUT: the "of X total" of pprof's "Showing nodes accounting for" line.
total_of() { sed -n 's/.* of \(.*\) total$/\1/p' "$1" | head -1; }

# agree N: do heapprof and go tool pprof print the same totals? The default
# sample type from the runs just measured; at N <= 10^5 also every type,
# and diff against -base (pprof takes minutes a run at 2^20).
agree() {
	local bad=0 checked=0 t h g
	"$H" top "$A" >"$WORK/h" 2>&1
	h=$(total_of "$WORK/h") g=$(total_of "$WORK/out")
	checked=1
	[ -n "$h" ] && [ "$h" = "$g" ] || { bad=1; echo "top: heapprof $h, pprof $g" >&2; }
	if [ "$1" -le 100000 ]; then
		for t in alloc_objects alloc_space inuse_objects inuse_space; do
			"$H" top --sample-index=$t "$A" >"$WORK/h" 2>&1
			"$GO" tool pprof -top -sample_index=$t "$A" >"$WORK/g" 2>/dev/null
			h=$(total_of "$WORK/h") g=$(total_of "$WORK/g")
			checked=$((checked + 1))
			[ -n "$h" ] && [ "$h" = "$g" ] || { bad=1; echo "top $t: heapprof $h, pprof $g" >&2; }
		done
		"$H" diff "$B" "$A" >"$WORK/h" 2>&1
		"$GO" tool pprof -top -base "$B" "$A" >"$WORK/g" 2>/dev/null
		h=$(total_of "$WORK/h") g=$(total_of "$WORK/g")
		checked=$((checked + 1))
		[ -n "$h" ] && [ "$h" = "$g" ] || { bad=1; echo "diff: heapprof $h, pprof $g" >&2; }
	fi
	echo
	[ "$bad" = 0 ] && echo "go tool pprof prints the same totals ($checked compared)." ||
		echo "go tool pprof DISAGREES on a total (above)."
}

echo "Reader benchmark: medians of $reps runs (web, pprof: ${slow_reps:-$reps}); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
	profile "$n" a
	profile "$((n - n / 16))" b
	echo
	echo "$n stacks, 26 frames ($(stat -c %s "$WORK/a.pb.gz") bytes gzipped):"
	echo
	echo "| command | wall s | CPU s | peak RSS MiB |"
	echo "| --- | --- | --- | --- |"
	H=$HEAPPROF_BIN A=$WORK/a.pb.gz B=$WORK/b.pb.gz
	measure "heapprof top" "$H" top "$A"
	measure "heapprof peek" "$H" peek 'flat_a' "$A"
	measure "heapprof list" "$H" list 'flat_leaf' "$A"
	measure "heapprof diff" "$H" diff "$B" "$A"
	measure "heapprof flame" "$H" flame -o "$WORK/f.svg" "$A"
	echo "|   (SVG: $(stat -c %s "$WORK/f.svg" 2>/dev/null) bytes) | | | |"
	measure N="${slow_reps:-$reps}" "heapprof web" "$H" web -o "$WORK/w.html" "$A"
	echo "|   (page: $(stat -c %s "$WORK/w.html" 2>/dev/null) bytes) | | | |"
	[ -n "$GO" ] && measure N="${slow_reps:-$reps}" "go tool pprof -top" "$GO" tool pprof -top "$A"
	[ -n "$GO" ] && agree "$n"
done
