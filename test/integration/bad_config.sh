# SPDX-License-Identifier: MIT
# Bad input: an output directory that cannot be written, HEAPPROF_RATE=abc,
# HEAPPROF_SIGNAL=bogus, and others. The program runs to completion with its
# normal output and exit status, and stderr has exactly one clear warning.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_simple
"$PROG" >"$WORK/plain.out" 2>"$WORK/plain.err"
plain_rc=$?
check "prog_simple exits 3 without the profiler" test "$plain_rc" = 3

mkdir -p "$WORK/ok"
cases=(
	"HEAPPROF_OUTPUT=/nonexistent-dir/sub/hp|HEAPPROF_OUTPUT|cannot write profile /nonexistent-dir/sub/hp"
	"HEAPPROF_OUTPUT=/proc/hp|HEAPPROF_OUTPUT|cannot write profile /proc/hp"
	"HEAPPROF_RATE=abc|HEAPPROF_OUTPUT=$WORK/ok/rate|ignoring HEAPPROF_RATE=\"abc\""
	"HEAPPROF_SIGNAL=bogus|HEAPPROF_OUTPUT=$WORK/ok/sig|ignoring HEAPPROF_SIGNAL=\"bogus\""
	"HEAPPROF_SIGNAL=9|HEAPPROF_OUTPUT=$WORK/ok/kill|ignoring HEAPPROF_SIGNAL=\"9\""
	"HEAPPROF_MAX_FRAMES=100000|HEAPPROF_OUTPUT=$WORK/ok/frames|ignoring HEAPPROF_MAX_FRAMES=\"100000\""
	"HEAPPROF_AT_EXIT=perhaps|HEAPPROF_OUTPUT=$WORK/ok/exit|ignoring HEAPPROF_AT_EXIT=\"perhaps\""
)
for alloc in $(allocators); do
	for c in "${cases[@]}"; do
		IFS='|' read -r setting other expect <<<"$c"
		[ "$other" = HEAPPROF_OUTPUT ] && other=HEAPPROF_X=1
		timeout "$RUN_TIMEOUT" env "$setting" "$other" LD_PRELOAD="$(preload_for "$alloc")" \
			"$PROG" >"$WORK/out" 2>"$WORK/err"
		rc=$?
		check "$alloc $setting: exit status $rc = $plain_rc" test "$rc" = "$plain_rc"
		check "$alloc $setting: same output" cmp -s "$WORK/out" "$WORK/plain.out"
		lines=$(grep -c . "$WORK/err")
		check "$alloc $setting: exactly one line on stderr ($lines)" test "$lines" = 1
		check "$alloc $setting: it says: $expect" grep -qF -- "$expect" "$WORK/err"
		[ "$lines" = 1 ] || diag "stderr: $(cat "$WORK/err")"
	done
	# With a bad value, the default still applies and the profile is written.
	n=$(ls "$WORK/ok" | grep -c '^rate\..*\.exit\.pb\.gz$')
	check "$alloc: HEAPPROF_RATE=abc still profiles at the default rate ($n file)" test "$n" -ge 1
	rm -f "$WORK"/ok/*
done
skip_jemalloc "the bad-configuration runs"
# A full disk: one warning, no partial or temporary file, the program unharmed.
full=$WORK/full
mkdir -p "$full"
if mount -t tmpfs -o size=16k tmpfs "$full" 2>/dev/null; then
	head -c 15000 /dev/zero >"$full/filler" 2>/dev/null
	timeout "$RUN_TIMEOUT" env HEAPPROF_OUTPUT="$full/hp" HEAPPROF_RATE=1 LD_PRELOAD="$HEAPPROF_LIB" \
		"$TEST_BUILDDIR/prog_known" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	check "full disk: the program exits 0 (got $rc)" test "$rc" = 0
	check "full disk: its output is complete" test "$(grep -c '^expect' "$WORK/out")" = 3
	check "full disk: one warning, naming the cause" \
		test "$(grep -c . "$WORK/err")" = 1 -a "$(grep -c 'No space left on device' "$WORK/err")" = 1
	check "full disk: no profile and no temporary file left" \
		test "$(ls "$full" | grep -vc '^filler$')" = 0
	umount "$full"
else
	skip "full disk: cannot mount a small tmpfs here (needs root)"
fi

# A profile is never written through a planted symlink, nor over an existing
# file: both are planted at the exact names the program will use (exec keeps
# the shell's pid), and the profile moves on to the next free name.
planted=$WORK/planted
mkdir -p "$planted"
echo original >"$planted/victim"
HEAPPROF_OUTPUT=$planted/hp LD_PRELOAD=$HEAPPROF_LIB bash -c '
	ln -s "'"$planted"'/victim" "$HEAPPROF_OUTPUT.$$.0001.exit.pb.gz"
	echo mine >"$HEAPPROF_OUTPUT.$$.0002.exit.pb.gz"
	exec env -u LD_PRELOAD LD_PRELOAD="$LD_PRELOAD" "'"$PROG"'"' >/dev/null 2>&1
check "a symlink planted at the profile's name is not followed" \
	test "$(cat "$planted/victim")" = original
check "an existing file at the next name is not replaced" \
	test "$(cat "$planted"/hp.*.0002.exit.pb.gz)" = mine
check "the profile went to the next free name" \
	quiet "$HEAPPROF_BIN" info "$(one_file "$planted"/hp.*.0003.exit.pb.gz)"
done_testing
