# SPDX-License-Identifier: MIT
# The lock functions, the C++ operators, the signal functions and the
# setuid family never wait for the loader's lock (locks.c, interpose.c,
# trigger.c, proc_record.c): a thread calls each of them, the process's
# first calls of any, while another thread is inside dlopen, whose
# constructor waits for the first (prog_loader_lock, libhplocked). A dlsym
# made at a first call would wait for the loader's lock held by the
# dlopen: both threads stuck. The profiler resolves them at start-up,
# before any thread, at every rate (HEAPPROF_RATE=0 too); with the
# contention profiles on, the profiled paths run instead.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_loader_lock
PLUGIN=$TEST_BUILDDIR/.libs/libhplocked.so

# run NAME [ENV...]: the program under the profiler, 30 s at most.
run() {
	local name=$1
	shift
	env "$@" timeout 30 "$PROG" "$PLUGIN" >"$WORK/$name.out" 2>"$WORK/$name.err"
	local rc=$?
	check "$name: exits 0 ($rc), prints done, nothing on stderr" \
		test "$rc" = 0 -a "$(cat "$WORK/$name.out")" = done -a ! -s "$WORK/$name.err"
}

run plain
run profiled LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/p"
run "rate 1" LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 HEAPPROF_OUTPUT="$WORK/r1"
run "rate 0" LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=0 HEAPPROF_OUTPUT="$WORK/r0"
run "contention profiles" LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/c" \
	HEAPPROF_MUTEX_FRACTION=1 HEAPPROF_BLOCK_RATE=1
for p in p r1 c; do
	f=$(ls "$WORK/$p".*.exit.pb.gz 2>/dev/null | head -1)
	check "its exit profile is read ($p: ${f##*/})" quiet "$HEAPPROF_BIN" info "$f"
done
done_testing
