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
# A profile is never written through a planted symlink, nor over a file.
ln -s "$WORK/victim" "$WORK/hp.link"
HEAPPROF_OUTPUT=$WORK/hp.link LD_PRELOAD=$HEAPPROF_LIB "$PROG" >/dev/null 2>&1
check "a symlink at the output prefix's directory entry is not followed" test ! -e "$WORK/victim"
done_testing
