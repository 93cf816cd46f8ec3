# SPDX-License-Identifier: MIT
# HEAPPROF_DUMP_BYTES, _KEEP, _DUMP_PEAK, _DUMP_SECONDS and _SUMMARY on
# prog_intervals, whose story is known (see it), at HEAPPROF_RATE=1 where
# every estimate is exact: 3,000,000 + 20 MiB + 10,000,000 bytes allocated,
# plus stdout's 4096-byte buffer, 33,975,616 in all; a peak of 13,000,000 in
# use; 3,000,000 leaked by leak_big. Output and exit status never change.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_intervals
"$PROG" >"$WORK/plain.out" 2>"$WORK/plain.err"
check "prog_intervals exits 5 without the profiler" test $? = 5

# run NAME ALLOC SETTINGS...: the program under the profiler, in $WORK/NAME.
run() {
	local name=$1 alloc=$2
	shift 2
	mkdir -p "$WORK/$name"
	timeout "$RUN_TIMEOUT" env HEAPPROF_OUTPUT="$WORK/$name/hp" HEAPPROF_RATE=1 "$@" \
		LD_PRELOAD="$(preload_for "$alloc")" "$PROG" ${ARG:-} \
		>"$WORK/$name.out" 2>"$WORK/$name.err"
	local rc=$?
	check "$name: exit status 5 ($rc) and the same output" \
		test "$rc" = 5 -a "$(cat "$WORK/$name.out")" = "$(cat "$WORK/plain.out")"
}

count() { ls "$WORK/$1" | grep -c "$2"; }

# The "in use: N bytes" comment of a profile.
in_use() { "$HEAPPROF_BIN" info "$1" | sed -n 's/.*in use: \([0-9]*\) bytes.*/\1/p'; }

for alloc in $(allocators); do
	run "$alloc-bytes" "$alloc" HEAPPROF_DUMP_BYTES=2M
	n=$(count "$alloc-bytes" '\.bytes\.pb\.gz$')
	check "$alloc: 33,975,616 bytes at 2M a profile: 16 bytes profiles ($n)" test "$n" = 16
	check "$alloc: and nothing on stderr" test ! -s "$WORK/$alloc-bytes.err"
	last=$(ls "$WORK/$alloc-bytes"/*.bytes.pb.gz | tail -1)
	got=$(hp_flat "$last" alloc_space churn)
	check "$alloc: the last bytes profile has churn's 20 MiB allocated ($got)" test "$got" = 20971520

	run "$alloc-keep" "$alloc" HEAPPROF_DUMP_BYTES=2M HEAPPROF_KEEP=3
	kept=$(ls "$WORK/$alloc-keep" | grep '\.bytes\.pb\.gz$' | sed 's/.*\.\([0-9]*\)\.bytes.*/\1/' | tr '\n' ' ')
	check "$alloc: HEAPPROF_KEEP=3 leaves the newest 3 of 16 ($kept)" \
		test "$(count "$alloc-keep" '\.bytes\.pb\.gz$')" = 3 -a "$kept" = "0014 0015 0016 "

	run "$alloc-peak" "$alloc" HEAPPROF_DUMP_PEAK=1
	n=$(count "$alloc-peak" '\.peak\.pb\.gz$')
	check "$alloc: one peak profile left ($n)" test "$n" = 1
	p=$(one_file "$WORK/$alloc-peak"/*.peak.pb.gz)
	got=$(in_use "$p")
	check "$alloc: peak profile says ${got:-nothing} in use, within 10% under the true 13,000,000" \
		test -n "$got" && test "$got" -le 13000000 -a "$got" -ge 11818181
	sum=$(($(hp_flat "$p" inuse_space leak_big) + $(hp_flat "$p" inuse_space climb)))
	check "$alloc: its inuse_space, leak_big + climb ($sum), is as close" \
		test "$sum" -le 13000000 -a "$sum" -ge 11818181

	run "$alloc-summary" "$alloc" HEAPPROF_SUMMARY=1
	err=$WORK/$alloc-summary.err
	check "$alloc: summary: 3004096 bytes in 4 objects in use, peak 13000000" \
		grep -q 'at exit: 3004096 bytes in 4 objects still in use (estimated); peak in use 13000000 bytes' "$err"
	check "$alloc: summary: the largest is leak_big, 3000000 bytes in 3 objects" \
		bash -c "grep -A1 'at exit' '$err' | tail -1 | grep -Eq ' 3000000 bytes +3 objects  leak_big$'"
	e=$(one_file "$WORK/$alloc-summary"/*.exit.pb.gz)
	check "$alloc: summary names the exit profile" grep -qxF "heapprof: exit profile: $e" "$err"
	sed "s/^/# /" "$err"

	ARG=2600 run "$alloc-time" "$alloc" HEAPPROF_DUMP_SECONDS=1
	n=$(count "$alloc-time" '\.time\.pb\.gz$')
	check "$alloc: a time profile a second for about 3 s: 1 to 4 ($n)" test "$n" -ge 1 -a "$n" -le 4
	check "$alloc: and nothing on stderr" test ! -s "$WORK/$alloc-time.err"
done
skip_jemalloc "interval, peak and summary profiles"

# The time thread does not keep a process whose last thread called
# pthread_exit alive: it ends too, within a second, and the process with it.
LIFE=$TEST_BUILDDIR/prog_lifecycle
timeout -k 2 5 "$LIFE" pthread_exit >"$WORK/pe.plain" 2>&1
plain=$?
mkdir -p "$WORK/pe"
start=$(date +%s)
HEAPPROF_OUTPUT=$WORK/pe/hp HEAPPROF_DUMP_SECONDS=1 timeout -k 2 8 \
	env LD_PRELOAD="$HEAPPROF_LIB" "$LIFE" pthread_exit >"$WORK/pe.out" 2>&1
rc=$?
took=$(($(date +%s) - start))
check "HEAPPROF_DUMP_SECONDS=1, main calls pthread_exit: ends by itself in ${took}s, status $rc = $plain" \
	test "$rc" = "$plain" -a "$took" -le 4
check "and with the same output and its exit profile" \
	test "$(cat "$WORK/pe.out")" = "$(cat "$WORK/pe.plain")" -a -n "$(one_file "$WORK"/pe/hp.*.exit.pb.gz)"

for bad in HEAPPROF_DUMP_BYTES=lots HEAPPROF_DUMP_SECONDS=1K HEAPPROF_KEEP=-1 \
	HEAPPROF_DUMP_PEAK=maybe HEAPPROF_PEAK_STEP=0 HEAPPROF_SUMMARY=2; do
	run bad glibc "$bad"
	check "$bad: one warning naming it" \
		test "$(grep -c . "$WORK/bad.err")" = 1 -a "$(grep -c "ignoring ${bad%%=*}=" "$WORK/bad.err")" = 1
done
done_testing
