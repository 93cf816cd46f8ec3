# SPDX-License-Identifier: MIT
# heapprof_dump(): to a path (twice: replaced), to the default name, and to a
# directory that does not exist (a negative errno, no crash). Without the
# library the weak symbol is absent and the program still runs.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_api
for alloc in $(allocators); do
	out=$WORK/$alloc
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 HEAPPROF_AT_EXIT=0 \
		run_profiled "$alloc" "$PROG" "$out/explicit.pb.gz" >"$out/stdout" 2>"$out/stderr"
	ok $? "$alloc: program ran"
	check "$alloc: dump returned 0, 0, 0 and an error for a missing directory" \
		grep -qx 'dump 0 0 0 1' "$out/stdout"
	got=$(hp_flat "$out/explicit.pb.gz" inuse_space api_alloc)
	check "$alloc: explicit path holds api_alloc inuse 1000000 (got $got)" test "$got" = 1000000
	check "$alloc: default name hp.<pid>.0001.api.pb.gz" test -n "$(one_file "$out"/hp.*.0001.api.pb.gz)"
	check "$alloc: HEAPPROF_AT_EXIT=0 wrote no exit profile" test -z "$(one_file "$out"/hp.*.exit.pb.gz)"
	check "$alloc: one warning for the missing directory" test "$(grep -c . "$out/stderr")" = 1
done
skip_jemalloc "heapprof_dump to a path, to the default name and to a missing directory"
"$PROG" "$WORK/x.pb.gz" >"$WORK/stdout"
check "without the library: the program runs and says so" grep -qx 'not loaded' "$WORK/stdout"
done_testing
