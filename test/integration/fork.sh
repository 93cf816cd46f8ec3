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
done_testing
