# SPDX-License-Identifier: MIT
# The awkward paths of issue "correct under real programs" (prog_paths), on
# glibc and with jemalloc: thread lifecycle and thread-exit destructors, exit
# racing with allocating threads, posix_spawn / vfork / fork + _exit with and
# without HEAPPROF_FOLLOW_EXEC, a SIGUSR2 storm during fork, address-space
# exhaustion, the metadata cap, dlclose before the dump, RTLD_DEEPBIND.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_paths
LIB=$TEST_BUILDDIR/.libs/libhpdl.so

# expect_counts PROFILE STDOUT: every "expect FUNC alloc inuse" line, exactly.
expect_counts() {
	local p=$1 out=$2 label=$3 fn ao io got
	while read -r _ fn ao io; do
		got=$(hp_flat "$p" alloc_objects "$fn")
		check "$label: $fn alloc_objects = $ao (got $got)" test "$got" = "$ao"
		got=$(hp_flat "$p" inuse_objects "$fn")
		check "$label: $fn inuse_objects = $io (got $got)" test "$got" = "$io"
	done < <(grep '^expect' "$out")
}

for alloc in $(allocators); do
	W=$WORK/$alloc
	mkdir -p "$W"

	# Threads created and exiting continuously, cross-thread frees, and
	# allocations in thread-specific-data destructors at thread exit.
	HEAPPROF_OUTPUT=$W/lc HEAPPROF_RATE=1 run_profiled "$alloc" "$PROG" lifecycle >"$W/lc.out" 2>"$W/lc.err"
	ok $? "$alloc lifecycle: 1000 threads, 8 at a time, ran to completion"
	p=$(one_file "$W"/lc.*.exit.pb.gz)
	expect_counts "$p" "$W/lc.out" "$alloc lifecycle"
	check "$alloc lifecycle: nothing on stderr" test ! -s "$W/lc.err"

	# exit() from a worker while others allocate; atexit handler and
	# destructor allocations come before the final profile and are in it.
	HEAPPROF_OUTPUT=$W/ex HEAPPROF_RATE=1 run_profiled "$alloc" "$PROG" exit-race >"$W/ex.out" 2>"$W/ex.err"
	rc=$?
	check "$alloc exit-race: exit status 7 from the exiting thread (got $rc)" test "$rc" = 7
	p=$(one_file "$W"/ex.*.exit.pb.gz)
	check "$alloc exit-race: the final profile validates" quiet "$HEAPPROF_BIN" info "$p"
	expect_counts "$p" "$W/ex.out" "$alloc exit-race"
	check "$alloc exit-race: nothing on stderr" test ! -s "$W/ex.err"

	# posix_spawn and vfork + exec: the new programs are profiled under their
	# own pids; the fork child that _exits writes nothing.
	for follow in 1 0; do
		d=$W/spawn$follow
		mkdir -p "$d"
		HEAPPROF_OUTPUT=$d/sp HEAPPROF_FOLLOW_EXEC=$follow run_profiled "$alloc" "$PROG" spawn >"$d/out" 2>&1
		ok $? "$alloc spawn FOLLOW_EXEC=$follow: ran, children exited 0"
		read -r _ a _ b _ c _ _ <"$d/out"
		if [ "$follow" = 1 ]; then
			check "$alloc spawn: posix_spawned program wrote its own profile" test -n "$(one_file "$d/sp.$a".*)"
			check "$alloc spawn: vforked + exec'd program wrote its own profile" test -n "$(one_file "$d/sp.$b".*)"
		else
			check "$alloc spawn FOLLOW_EXEC=0: exec'd programs are not profiled" \
				test -z "$(one_file "$d/sp.$a".* "$d/sp.$b".*)"
		fi
		check "$alloc spawn FOLLOW_EXEC=$follow: the fork child that called _exit wrote nothing" \
			test -z "$(one_file "$d/sp.$c".*)"
		check "$alloc spawn FOLLOW_EXEC=$follow: the parent wrote its profile" \
			test "$(ls "$d" | grep -c 'exit.pb.gz$')" -ge 1
	done

	# A SIGUSR2 storm while forking: no deadlock, children fine, the
	# requests coalesce into a bounded number of valid files.
	HEAPPROF_OUTPUT=$W/st run_profiled "$alloc" "$PROG" storm-fork >"$W/st.out" 2>"$W/st.err"
	ok $? "$alloc storm-fork: ran to completion, no child failed"
	read -r _ sent _ _ <"$W/st.out"
	files=$(ls "$W" | grep -c '^st\..*\.signal\.pb\.gz$')
	diag "$alloc storm-fork: $sent signals, $files snapshot files"
	check "$alloc storm-fork: thousands of signals ($sent) collapse into far fewer files ($files)" \
		test "$sent" -ge 1000 -a "$files" -ge 1 -a "$files" -lt "$((sent / 10))"
	bad=0
	for f in "$W"/st.*.pb.gz; do quiet "$HEAPPROF_BIN" info "$f" || bad=$((bad + 1)); done
	check "$alloc storm-fork: every file validates ($bad bad)" test "$bad" = 0
	check "$alloc storm-fork: 30 children wrote their exit profiles" \
		test "$(ls "$W" | grep -c '^st\..*exit\.pb\.gz$')" -ge 31
	check "$alloc storm-fork: nothing on stderr" test ! -s "$W/st.err"

	# Address-space limit: the program sees NULL/ENOMEM exactly as without us.
	(ulimit -v 400000 && exec env LD_PRELOAD="$(preload_for "$alloc")" HEAPPROF_OUTPUT="$W/oom" \
		"$PROG" oom) >"$W/oom.out" 2>"$W/oom.err"
	rc=$?
	if [ "$alloc" = glibc ]; then
		(ulimit -v 400000 && exec "$PROG" oom) >"$W/oom.ref" 2>&1
	else
		(ulimit -v 400000 && exec env LD_PRELOAD="$JEMALLOC_SO" "$PROG" oom) >"$W/oom.ref" 2>&1
	fi
	check "$alloc oom: exit status 0 under ulimit -v (got $rc)" test "$rc" = 0
	check "$alloc oom: same observations as without the profiler" cmp -s "$W/oom.ref" "$W/oom.out"
	check "$alloc oom: malloc returned NULL with ENOMEM" grep -q 'NULL: yes, errno ENOMEM' "$W/oom.out"

	# The metadata cap: one message, sampling stops, forwarding goes on.
	HEAPPROF_OUTPUT=$W/cap HEAPPROF_RATE=1 HEAPPROF_METADATA_MAX=2M \
		run_profiled "$alloc" "$TEST_BUILDDIR/prog_known" >"$W/cap.out" 2>"$W/cap.err"
	ok $? "$alloc metadata cap: the program ran to completion"
	check "$alloc metadata cap: its output is complete" test "$(grep -c '^expect' "$W/cap.out")" = 3
	check "$alloc metadata cap: one message naming HEAPPROF_METADATA_MAX" \
		test "$(grep -c . "$W/cap.err")" = 1 -a "$(grep -c HEAPPROF_METADATA_MAX "$W/cap.err")" = 1
	p=$(one_file "$W"/cap.*.exit.pb.gz)
	check "$alloc metadata cap: the exit profile says sampling stopped early" \
		bash -c "'$HEAPPROF_BIN' info '$p' | grep -q 'sampling stopped early'"

	# A library unloaded before the dump: its frames still have names, and
	# its mapping stays in the profile.
	HEAPPROF_OUTPUT=$W/dl HEAPPROF_RATE=1 run_profiled "$alloc" "$PROG" dlopen "$LIB" >"$W/dl.out" 2>&1
	ok $? "$alloc dlopen: ran, dlclose succeeded"
	p=$(one_file "$W"/dl.*.exit.pb.gz)
	got=$(hp_flat "$p" inuse_space lib_alloc)
	check "$alloc dlopen: lib_alloc named after dlclose, inuse 1000000 (got $got)" test "$got" = 1000000
	check "$alloc dlopen: the unloaded library's mapping is in the profile" \
		bash -c "'$HEAPPROF_BIN' info '$p' | grep -q 'libhpdl.so build-id [0-9a-f]'"
	if have_go; then
		pg=$(pprof_flat "$p" inuse_space lib_alloc)
		check "$alloc dlopen: go tool pprof agrees ($pg)" test "$pg" = 1000000
	fi

	# RTLD_DEEPBIND binds the library's malloc to libc's, past the profiler:
	# its allocations are not seen, and nothing breaks.
	HEAPPROF_OUTPUT=$W/deep HEAPPROF_RATE=1 run_profiled glibc "$PROG" deepbind "$LIB" >"$W/deep.out" 2>&1
	ok $? "deepbind ($alloc pass, run on glibc): ran, dlclose succeeded"
	p=$(one_file "$W"/deep.*.exit.pb.gz)
	got=$(hp_flat "$p" alloc_objects lib_alloc)
	check "deepbind: the library's allocations bypass the profiler (lib_alloc $got)" test "$got" = 0
done
skip_jemalloc "the awkward paths (threads, exit, exec, fork storm, oom, metadata cap, dlclose)"
done_testing
