# SPDX-License-Identifier: MIT
# Threads (prog_threads): 8 threads allocate and free each other's blocks
# while SIGUSR2 arrives every millisecond. No crash, no deadlock (timeout),
# exact totals at HEAPPROF_RATE=1, and the signal storm coalesces into a
# bounded number of valid snapshot files.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_threads
for alloc in $(allocators); do
	out=$WORK/$alloc
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 RUN_TIMEOUT=300 \
		run_profiled "$alloc" "$PROG" >"$out/stdout" 2>"$out/stderr"
	ok $? "$alloc: 8 threads under a SIGUSR2 storm ran to completion"
	read -r _ _ total live < <(grep '^expect' "$out/stdout")
	read -r _ signals < <(grep '^signals' "$out/stdout")
	p=$(one_file "$out"/hp.*.exit.pb.gz)
	check "$alloc: exit profile written" test -n "$p"
	[ -n "$p" ] || continue
	got=$(hp_flat "$p" alloc_objects thread_alloc)
	check "$alloc: thread_alloc alloc_objects = $total (got $got)" test "$got" = "$total"
	got=$(hp_flat "$p" inuse_objects thread_alloc)
	check "$alloc: thread_alloc inuse_objects = $live (got $got)" test "$got" = "$live"
	snaps=("$out"/hp.*.signal.pb.gz)
	n=${#snaps[@]}
	[ -e "${snaps[0]}" ] || n=0
	diag "$alloc: $signals signals sent, $n snapshot files"
	check "$alloc: snapshots written ($n) and no more than signals sent ($signals)" \
		test "$n" -ge 1 -a "$n" -le "$signals"
	bad=0
	for s in "${snaps[@]}"; do
		[ -e "$s" ] || continue
		quiet "$HEAPPROF_BIN" info "$s" || bad=$((bad + 1))
	done
	check "$alloc: every snapshot validates ($bad bad)" test "$bad" = 0
	if have_go && [ -e "${snaps[0]}" ]; then
		check "$alloc: go tool pprof reads a snapshot taken mid-storm" \
			pprof_lists "${snaps[$((n / 2))]}" alloc_objects thread_alloc
	fi
	check "$alloc: no temporary files left" bash -c "! ls '$out' | grep -q tmp"
	check "$alloc: nothing on stderr" test ! -s "$out/stderr"
done
done_testing
