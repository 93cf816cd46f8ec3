# SPDX-License-Identifier: MIT
# The free check's page mode (lib/interpose.c): with glibc's malloc and a rate
# of at least 64 KiB every sampled block is at a page boundary, and free looks
# no further for any other block. prog_page samples 1 MiB blocks with
# certainty through each entry point: they must all be page-aligned there,
# calloc blocks zero, realloc contents kept, alignments kept, EINVAL kept,
# and the profile's in-use bytes exact after everything else was freed
# (a sampled block that free did not recognise would stay in use). At rate 1
# and behind jemalloc the filter is used: the same answers, no page placing.
# At the default rate 1 MiB blocks are sampled with probability 0.86: the
# behaviours are checked there, not the placing nor the exact totals.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_page
expect_common() { # expect_common LABEL OUTDIR RATE
	local out=$2/stdout
	check "$1: calloc blocks are zero, over a dirtied heap ($(grep '^calloc zero' "$out"))" \
		grep -qx 'calloc zero 192 of 192' "$out"
	check "$1: realloc keeps the contents ($(grep '^realloc kept' "$out"))" \
		grep -qx 'realloc kept 64 of 64' "$out"
	check "$1: a buffer grown to 8 MiB and shrunk by realloc keeps every byte ($(grep '^realloc grown' "$out"))" \
		grep -qx 'realloc grown kept 8 of 8' "$out"
	check "$1: alignments kept, a bad one refused ($(grep '^aligned' "$out"))" \
		grep -qx 'aligned 14 of 14, invalid alignment EINVAL' "$out"
	# 1 MiB blocks are certain samples at 65536 and 1 only: exact there.
	[ "$3" = 524288 ] && return
	local p kept got
	p=$(one_file "$2"/hp.*.exit.pb.gz)
	kept=$(awk '$1 == "kept" { print $2 }' "$out")
	got=$(hp_flat "$p" inuse_space keep)
	check "$1: keep in use = $kept bytes exactly, every other sampled block recognised on free (got $got)" \
		test "$got" = "$kept"
	got=$(hp_flat "$p" inuse_space main)
	check "$1: nothing else in use (main: $got)" test "$got" = 0
	got=$(hp_flat "$p" inuse_space check_realloc_grown)
	check "$1: every block the grown buffer went through was recognised on free (in use: $got)" \
		test "$got" = 0
}

for alloc in $(allocators); do
	for rate in 65536 524288 1; do
		out=$WORK/$alloc-$rate
		mkdir -p "$out"
		HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=$rate \
			run_profiled "$alloc" "$PROG" >"$out/stdout" 2>"$out/stderr"
		ok $? "$alloc rate $rate: prog_page ran"
		expect_common "$alloc rate $rate" "$out" "$rate"
		[ "$alloc" = glibc ] && [ "$rate" != 524288 ] || continue
		for fn in malloc calloc realloc; do
			line=$(grep "^$fn pages" "$out/stdout")
			if [ "$rate" = 1 ]; then
				check "glibc rate 1 (the filter): $fn leaves blocks where glibc puts them ($line)" \
					test "$line" = "$fn pages 0 of 64"
			else
				check "glibc rate $rate (page mode): every sampled $fn block at a page boundary ($line)" \
					test "$line" = "$fn pages 64 of 64"
			fi
		done
	done
done
skip_jemalloc "page_mode"

# Plain, for reference: the same answers without the profiler.
"$PROG" >"$WORK/plain" 2>&1
check "plain: glibc's own 1 MiB blocks are not page-aligned ($(grep '^malloc pages' "$WORK/plain"))" \
	grep -qx 'malloc pages 0 of 64' "$WORK/plain"
done_testing
