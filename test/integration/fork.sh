# SPDX-License-Identifier: MIT
# fork (prog_fork): 20 children forked while 4 threads allocate; each child
# allocates and exits, and parent and children each write their own profile
# under their own pid, with their own allocations.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_fork
for alloc in $(allocators); do
	out=$WORK/$alloc
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 run_profiled "$alloc" "$PROG" >"$out/stdout" 2>"$out/stderr"
	ok $? "$alloc: forking program ran to completion, every child exited 0"
	parent=$(awk '/^parent/ { print $2 }' "$out/stdout")
	pp=$(one_file "$out/hp.$parent".*.exit.pb.gz)
	check "$alloc: parent wrote hp.$parent.0001.exit.pb.gz" test -n "$pp"
	if [ -n "$pp" ]; then
		got=$(hp_flat "$pp" inuse_space parent_alloc)
		check "$alloc: parent profile: parent_alloc inuse 1024000 (got $got)" test "$got" = 1024000
		got=$(hp_flat "$pp" inuse_space child_alloc)
		check "$alloc: parent profile has no child allocations (got $got)" test "$got" = 0
	fi
	missing=0 wrong=0
	for c in $(awk '/^child/ { print $2 }' "$out/stdout"); do
		cp=$(one_file "$out/hp.$c".0001.exit.pb.gz)
		if [ -z "$cp" ]; then
			missing=$((missing + 1))
			continue
		fi
		got=$(hp_flat "$cp" inuse_space child_alloc)
		[ "$got" = 1024000 ] || wrong=$((wrong + 1))
	done
	check "$alloc: every child wrote its own profile ($missing missing)" test "$missing" = 0
	check "$alloc: every child profile has child_alloc inuse 1024000 ($wrong wrong)" test "$wrong" = 0
	if have_go && [ -n "$cp" ]; then
		check "$alloc: go tool pprof reads a child profile" pprof_lists "$cp" inuse_space child_alloc
	fi
	check "$alloc: nothing on stderr" test ! -s "$out/stderr"
done
skip_jemalloc "fork while threads allocate"

# What a fork costs in pages: each page the fork handlers write is a page
# fault in the parent and in the child (copy-on-write), ten microseconds
# each on this project's machines. prog_fork faults: 200 children that exit
# at once, no exit profile; the profiler's faults per fork over the plain
# run's. Before the handlers kept to the pages in use: 76 a fork (all 1,024
# live-map shard locks, the whole contention table); now 18 here.
FAULT_BUDGET=30
plain=$(timeout "$RUN_TIMEOUT" "$PROG" faults 200)
prof=$(HEAPPROF_AT_EXIT=0 run_profiled glibc "$PROG" faults 200)
extra=$(printf '%s\n%s\n' "$plain" "$prof" |
	awk '{ p = $5 + $7 } NR == 1 { base = p } NR == 2 { printf "%.0f", p - base }')
check "a fork costs ${extra:-?} page faults more than plain, within $FAULT_BUDGET (plain: $plain; profiled: $prof)" \
	test -n "$extra" -a "${extra:-999}" -le "$FAULT_BUDGET"

# Forks from SIGALRM and SIGPROF handlers while the one thread allocates at
# HEAPPROF_RATE=1 (a handler's fork may interrupt the profiler, or the other
# handler's fork): before, the parent hung in 3 runs of 3 (a fork nested in
# a handler during the handlers of a fork that had taken the profiler's
# locks waited on them for ever). Two runs of 1000 forks.
for run in 1 2; do
	mkdir -p "$WORK/sig$run"
	HEAPPROF_OUTPUT=$WORK/sig$run/hp HEAPPROF_RATE=1 RUN_TIMEOUT=40 \
		run_profiled glibc "$PROG" sigforks 1000 >"$WORK/sig$run.out"
	got=$(tail -n 1 "$WORK/sig$run.out")
	check "run $run: forks from signal handlers, every child exited 0, errno and signal mask kept (${got:-hung or crashed})" \
		grep -Eq '^all 10[0-9][0-9] children exited 0, errno changed 0, mask changed 0$' "$WORK/sig$run.out"
done
parent=$(awk '/^parent/ { print $2 }' "$WORK/sig1.out")
pp=$(one_file "$WORK/sig1/hp.$parent".*.exit.pb.gz)
got=$(hp_flat "$pp" alloc_objects alloc_at)
check "the parent's profile: alloc_at's allocations, more than its 64 stacks (got $got)" \
	test "${got:-0}" -gt 64
if have_go && [ -n "$pp" ]; then
	check "go tool pprof names alloc_at in it" pprof_lists "$pp" alloc_space alloc_at
fi

# A process that forks reads, at its samples, the symbol tables of its new
# stacks for its children to inherit (profile.c): those of a library
# unloaded since are let go, as at the end of a profile. 20 copies of
# libhpdl loaded, sampled, unloaded in turn, a fork after each.
mkdir -p "$WORK/dl"
for i in $(seq 0 19); do cp "$TEST_BUILDDIR/.libs/libhpdl.so" "$WORK/dl/lib$i.so"; done
got=$(HEAPPROF_OUTPUT=$WORK/dl/hp HEAPPROF_RATE=1 run_profiled glibc "$PROG" dlchurn "$WORK/dl" 20)
check "a forking process keeps no mapping of 20 libraries it unloaded (${got:-no output})" \
	test "$got" = "mappings of unloaded libraries: 0"
pp=$(one_file "$WORK/dl/hp".*.exit.pb.gz)
got=$(hp_flat "$pp" alloc_space lib_alloc)
check "its exit profile names lib_alloc, 20 x 1000 blocks of 1000 bytes (got $got)" \
	test "$got" = 20000000
if have_go; then
	check "go tool pprof names lib_alloc in it" pprof_lists "$pp" alloc_space lib_alloc
fi
done_testing
