# SPDX-License-Identifier: MIT
# Stack depth and the snapshot signal (prog_deep): a 60-deep stack under
# HEAPPROF_MAX_FRAMES=16 keeps 16 frames and a visible truncation marker;
# without the cap it is whole. HEAPPROF_SIGNAL picks another signal, and
# "none" installs no handler (SIGUSR2 then kills the program, its default).
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_deep
marker='[truncated stack: raise HEAPPROF_MAX_FRAMES]'
for alloc in $(allocators); do
	out=$WORK/$alloc
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/cut HEAPPROF_RATE=1 HEAPPROF_MAX_FRAMES=16 run_profiled "$alloc" "$PROG"
	p=$(one_file "$out"/cut.*.exit.pb.gz)
	check "$alloc: profile with HEAPPROF_MAX_FRAMES=16 written" test -n "$p"
	got=$(hp_flat "$p" inuse_objects deep_alloc)
	check "$alloc: the 100 blocks are still counted (got $got)" test "$got" = 100
	cum=$("$HEAPPROF_BIN" top --raw --sample-index=inuse_objects "$p" |
		awk -F'\t' -v m="$marker" '$3 == m { print $2 }')
	check "$alloc: truncated stacks end in the marker frame (cum ${cum:-none})" test "${cum:-0}" -ge 100
	if have_go; then
		check "$alloc: go tool pprof shows the marker" \
			bash -c "'$GO' tool pprof -top -nodefraction=0 '$p' 2>/dev/null | grep -qF '$marker'"
	fi
	HEAPPROF_OUTPUT=$out/whole HEAPPROF_RATE=1 run_profiled "$alloc" "$PROG"
	p=$(one_file "$out"/whole.*.exit.pb.gz)
	cum=$("$HEAPPROF_BIN" top --raw --sample-index=inuse_objects "$p" | awk -F'\t' '$3 == "main" { print $2 }')
	check "$alloc: with the default cap the stack reaches main (cum ${cum:-none})" test "${cum:-0}" -ge 100
	check "$alloc: and is not marked truncated" \
		bash -c "! '$HEAPPROF_BIN' top --raw '$p' | grep -qF '$marker'"

	res=$(HEAPPROF_OUTPUT=$out/usr1 HEAPPROF_SIGNAL=USR1 run_profiled "$alloc" "$PROG" USR1)
	check "$alloc: HEAPPROF_SIGNAL=USR1: SIGUSR1 writes a snapshot ($res)" test "$res" = "snapshot written"
	HEAPPROF_OUTPUT=$out/none HEAPPROF_SIGNAL=none run_profiled "$alloc" "$PROG" USR2 >/dev/null 2>&1
	rc=$?
	check "$alloc: HEAPPROF_SIGNAL=none: SIGUSR2 keeps its default action (status $rc = 128+12)" \
		test "$rc" = 140
	check "$alloc: HEAPPROF_SIGNAL=none: no snapshot file" test -z "$(one_file "$out"/none.*)"
done
skip_jemalloc "stack depth and the snapshot signal"
mkdir -p "$WORK/rel"
(cd "$WORK/rel" && HEAPPROF_OUTPUT=sub/p LD_PRELOAD=$HEAPPROF_LIB bash -c 'mkdir sub; cd /; exec '"$PROG")
check "a relative HEAPPROF_OUTPUT is taken from the starting directory" \
	test -n "$(one_file "$WORK"/rel/sub/p.*.exit.pb.gz)"
done_testing
