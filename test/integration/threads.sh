# SPDX-License-Identifier: MIT
# Threads (prog_threads): 8, then 16 threads allocate and free each other's blocks
# while SIGUSR2 arrives every millisecond. No crash, no deadlock (timeout),
# exact totals at HEAPPROF_RATE=1, and the signal storm coalesces into a
# bounded number of valid snapshot files.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_threads
for run in $(allocators | sed 's/$/:8/'; allocators | sed 's/$/:16/'); do
	alloc=${run%:*} n=${run#*:}
	out=$WORK/$alloc-$n
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 RUN_TIMEOUT=300 \
		run_profiled "$alloc" "$PROG" "$n" >"$out/stdout" 2>"$out/stderr"
	ok $? "$alloc/$n: $n threads under a SIGUSR2 storm ran to completion"
	read -r _ _ total live < <(grep '^expect' "$out/stdout")
	read -r _ signals < <(grep '^signals' "$out/stdout")
	p=$(one_file "$out"/hp.*.exit.pb.gz)
	check "$alloc/$n: exit profile written" test -n "$p"
	[ -n "$p" ] || continue
	got=$(hp_flat "$p" alloc_objects thread_alloc)
	check "$alloc/$n: thread_alloc alloc_objects = $total (got $got)" test "$got" = "$total"
	got=$(hp_flat "$p" inuse_objects thread_alloc)
	check "$alloc/$n: thread_alloc inuse_objects = $live (got $got)" test "$got" = "$live"
	snaps=("$out"/hp.*.signal.pb.gz)
	nsnap=${#snaps[@]}
	[ -e "${snaps[0]}" ] || nsnap=0
	diag "$alloc/$n: $signals signals sent, $nsnap snapshot files"
	check "$alloc/$n: snapshots written ($nsnap) and no more than signals sent ($signals)" \
		test "$nsnap" -ge 1 -a "$nsnap" -le "$signals"
	bad=0
	for s in "${snaps[@]}"; do
		[ -e "$s" ] || continue
		quiet "$HEAPPROF_BIN" info "$s" || bad=$((bad + 1))
	done
	check "$alloc/$n: every snapshot validates ($bad bad)" test "$bad" = 0
	if have_go && [ -e "${snaps[0]}" ]; then
		check "$alloc/$n: go tool pprof reads a snapshot taken mid-storm" \
			pprof_lists "${snaps[$((nsnap / 2))]}" alloc_objects thread_alloc
	fi
	check "$alloc/$n: no temporary files left" bash -c "! ls '$out' | grep -q tmp"
	check "$alloc/$n: nothing on stderr" test ! -s "$out/stderr"
done
skip_jemalloc "8 and 16 threads under a SIGUSR2 storm"

# Killed with SIGKILL in the middle of a snapshot storm: every file present
# is complete, and no temporary file is left (profiles are written unnamed and
# linked into place only when complete).
kill9=$WORK/kill9
mkdir -p "$kill9"
HEAPPROF_OUTPUT=$kill9/hp timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=4096 \
	"$PROG" 8 >/dev/null 2>&1 &
pid=$!
sleep 0.4
signal_program "$pid" KILL
wait "$pid" 2>/dev/null
files=$(ls "$kill9" | wc -l)
bad=0
for f in "$kill9"/*; do [ -e "$f" ] || continue; quiet "$HEAPPROF_BIN" info "$f" || bad=$((bad + 1)); done
check "SIGKILL mid-storm: $files files, all complete ($bad bad)" test "$files" -ge 1 -a "$bad" = 0
check "SIGKILL mid-storm: no temporary file left" bash -c "! ls '$kill9' | grep -q tmp"
# A thread whose first call is pthread_getattr_np, which reallocs holding the
# thread's lock (every Rust thread starts so): the unwinder must not ask for
# that thread's stack then. It deadlocked at HEAPPROF_RATE=1 (rg, fd hung).
ga=$WORK/getattr
mkdir -p "$ga"
HEAPPROF_OUTPUT=$ga/hp HEAPPROF_RATE=1 timeout 30 env LD_PRELOAD="$HEAPPROF_LIB" \
	"$PROG" getattr >"$ga/stdout" 2>"$ga/stderr"
ok $? "getattr: a thread's first pthread_getattr_np does not deadlock"
p=$(one_file "$ga"/hp.*.exit.pb.gz)
check "getattr: exit profile written" test -n "$p"
if [ -n "$p" ]; then
	got=$(hp_flat "$p" alloc_objects getattr_alloc)
	check "getattr: getattr_alloc alloc_objects = 1 (got $got)" test "$got" = 1
	got=$("$HEAPPROF_BIN" top --raw --sample-index=alloc_objects "$p" |
		awk -F'\t' '$3 == "start_thread" { print $2 }')
	check "getattr: the thread's stacks reach start_thread (cum $got >= 2)" \
		test "${got:-0}" -ge 2
	have_go && check "getattr: go tool pprof reads it" \
		pprof_lists "$p" alloc_objects getattr_alloc
fi
done_testing
