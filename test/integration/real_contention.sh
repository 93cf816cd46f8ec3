# SPDX-License-Identifier: MIT
# The block and mutex profiles of real multithreaded programs from Debian:
# zstd -T4 (a compression thread pool: mutexes and condition variables)
# writes the same bytes profiled as plain, with both profiles written and
# read by go tool pprof; python3 with eight threads (the GIL is a mutex and a
# condition variable) prints the same, and its profiles name the GIL's
# functions as where threads wait and what releases.
. "$(dirname "$0")/lib.sh"

need zstd zstd

# ~24 MB of binaries: compressible, and enough blocks for four workers.
cat /usr/bin/* 2>/dev/null | head -c 24000000 >"$WORK/in"
timeout "$RUN_TIMEOUT" zstd -q -T4 -B1M -3 -c "$WORK/in" >"$WORK/plain.zst"
plain=$?
HEAPPROF_OUTPUT=$WORK/z HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=1 \
	run_profiled glibc zstd -q -T4 -B1M -3 -c "$WORK/in" >"$WORK/prof.zst" 2>"$WORK/z.err"
prof=$?
check "zstd -T4: the same status ($prof, plain $plain) and the same bytes as plain" \
	sh -c "[ $prof = $plain ] && cmp -s '$WORK/plain.zst' '$WORK/prof.zst'"
check "zstd -T4: nothing on stderr" test ! -s "$WORK/z.err"
for k in block mutex; do
	p=$(one_file "$WORK"/z.*.exit.$k.pb.gz)
	check "zstd -T4: $k profile written ($(basename "${p:-none}"))" test -n "$p"
	[ -n "$p" ] || continue
	d=$("$HEAPPROF_BIN" top --raw --sample-index=delay "$p" | awk -F'\t' '{ s += $1 } END { printf "%.0f\n", s }')
	diag "zstd -T4: $k profile: $d ns of delay in all"
	if have_go; then
		check "zstd -T4: go tool pprof -top reads the $k profile" \
			sh -c "'$GO' tool pprof -top -sample_index=delay '$p' 2>/dev/null | grep -q '^Showing nodes'"
	fi
done

PY=/usr/bin/python3
if [ -x "$PY" ]; then
	# A switch interval of 10 us (5 ms by default) and a time.sleep(0)
	# (which drops and takes the GIL again) every 8 steps make the threads
	# hand the GIL over thousands of times, so that its mutex is contended
	# in every run, on a quiet machine or a busy one.
	cat >"$WORK/threads.py" <<'PY'
import sys, threading, time
sys.setswitchinterval(1e-5)
results = [0] * 8
def work(k, n):
    h = 0
    for i in range(n):
        h = (h * 31 + i + k) % 1000003
        if i % 8 == 0:
            time.sleep(0)
    results[k] = h
ts = [threading.Thread(target=work, args=(k, 100000)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(results)
PY
	timeout "$RUN_TIMEOUT" "$PY" "$WORK/threads.py" >"$WORK/py.plain"
	HEAPPROF_OUTPUT=$WORK/py HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=1 \
		run_profiled glibc "$PY" "$WORK/threads.py" >"$WORK/py.prof" 2>"$WORK/py.err"
	check "python3, 8 threads: same output as plain" cmp -s "$WORK/py.plain" "$WORK/py.prof"
	# take_gil is static: named where the binary's symbols are at hand; the
	# API functions that take and drop the GIL are always named.
	for k in block mutex; do
		p=$(one_file "$WORK"/py.*.exit.$k.pb.gz)
		hit=$([ -n "$p" ] && top_names "$p" delay | grep -E -m1 '^(take_gil|drop_gil|PyEval_(Restore|Save|Acquire)Thread)$')
		check "python3, 8 threads: the $k profile names CPython's GIL (${hit:-none})" test -n "$hit"
		[ -n "$hit" ] || diag "$k: $([ -n "$p" ] && top_names "$p" delay | head -n 8 | tr '\n' ' ')"
	done
else
	skip "python3 threads: /usr/bin/python3 not found (Debian package python3)"
fi

# CPython's own thread tests pass with both profiles on, every event kept
# (about 35 s, mostly their sleeps). HEAPPROF_SIGNAL=none: test_threadsignals
# restores SIGUSR2's handler through Python, which refuses one it did not
# install (README, "Signals"). On a failure the plain run says whether the
# profiler is the cause.
TESTS_PY="test_threading test_thread test_queue test_threading_local test_threadsignals"
if [ -x "$PY" ] && "$PY" -c 'import test.test_threading' 2>/dev/null; then
	mkdir -p "$WORK/cpy"
	HEAPPROF_OUTPUT=$WORK/cpy/t HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=1 \
		HEAPPROF_SIGNAL=none run_profiled glibc "$PY" -m test $TESTS_PY \
		>"$WORK/cpy.prof" 2>&1
	if grep -q '^Tests result: SUCCESS' "$WORK/cpy.prof"; then
		ok 0 "CPython's thread tests pass with both profiles on ($TESTS_PY)"
	elif timeout "$RUN_TIMEOUT" "$PY" -m test $TESTS_PY 2>&1 | grep -q '^Tests result: SUCCESS'; then
		ok 1 "CPython's thread tests pass with both profiles on: they fail profiled, pass plain"
		diag "$(grep -E '^(test_|Tests result|[0-9]+ tests? failed)' "$WORK/cpy.prof" | head -n 8)"
	else
		skip "CPython's thread tests: they fail without the profiler too on this machine"
	fi
	p=$(ls "$WORK"/cpy/t.*.exit.block.pb.gz 2>/dev/null | head -n 1)
	check "CPython's thread tests: block and mutex profiles written ($(ls "$WORK"/cpy | grep -c 'block\.pb\.gz$') block files)" \
		test -n "$p"
	if have_go && [ -n "$p" ]; then
		check "CPython's thread tests: go tool pprof reads a block profile" \
			sh -c "'$GO' tool pprof -top -sample_index=delay '$p' 2>/dev/null | grep -q '^Showing nodes'"
	fi
else
	skip "CPython's thread tests: the test package is not installed (Debian package libpython3.11-testsuite)"
fi
done_testing
