# SPDX-License-Identifier: MIT
# C++ new/delete (prog_cxx): plain, array, aligned and nothrow operator new,
# sized and unsized delete; exact at HEAPPROF_RATE=1 on glibc (libstdc++'s new
# calls malloc) and with jemalloc behind the profiler (jemalloc's new does
# not, so the profiler's own operators count). Names are demangled.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_cxx
for alloc in $(allocators); do
	out=$WORK/$alloc
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 run_profiled "$alloc" "$PROG" >"$out/stdout" 2>"$out/stderr"
	ok $? "$alloc: C++ program ran to completion"
	p=$(one_file "$out"/hp.*.0001.exit.pb.gz)
	check "$alloc: exit profile written" test -n "$p"
	[ -n "$p" ] || continue
	read -r _ _ freed_o freed_b < <(grep '^freed' "$out/stdout")
	while read -r _ fn objects bytes live; do
		io=$objects is=$bytes
		[ "$live" = 0 ] && io=0 is=0
		[ "$fn" = cxx_keep_nodes ] && io=$((objects - freed_o)) is=$((bytes - freed_b))
		for pair in alloc_objects:$objects alloc_space:$bytes inuse_objects:$io inuse_space:$is; do
			t=${pair%%:*} want=${pair#*:}
			got=$(hp_flat "$p" "$t" "$fn")
			check "$alloc: $fn $t = $want (got $got)" test "$got" = "$want"
			if have_go; then
				pg=$(pprof_flat "$p" "$t" "$fn")
				check "$alloc: go tool pprof -sample_index=$t: $fn = $want (got $pg)" \
					test "$pg" = "$want"
			fi
		done
	done < <(grep '^expect' "$out/stdout")
	check "$alloc: no operator new frame left in the profile" \
		bash -c "! '$HEAPPROF_BIN' top --raw --sample-index=alloc_objects '$p' | grep -q 'operator new'"
	check "$alloc: nothing on stderr" test ! -s "$out/stderr"
done
skip_jemalloc "exact C++ operator counts"
have_go || skip "go tool pprof checks: go not installed"
done_testing
