# SPDX-License-Identifier: MIT
# The profiler's thread never changes the process's life (prog_lifecycle).
# No profiler thread exists until a snapshot is asked for, and it ends once
# the snapshot is written, so: a program whose main thread calls
# pthread_exit ends when its last thread does (atexit handlers run, the exit
# profile is written); it dies of SIGTERM as it would without the profiler;
# a child forked from a worker thread ends when that thread returns; fd 0
# closed at start stays closed; the program sees only its own descriptors,
# and one thread at start. Each mode runs without the profiler too, and
# behaves the same with it.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_lifecycle
# 64 blocks of 16384 in each of main_alloc, later_alloc, worker_alloc and
# child_alloc (exact at HEAPPROF_RATE=1).
BLOCK_BYTES=$((64 * 16384))
# How long a mode that should end by itself may take before it counts as
# hung (then timeout sends SIGTERM, and SIGKILL 2 s later: a process whose
# only thread blocks SIGTERM cannot die of it).
QUICK=5

# lines FILE: the file's lines joined by "|", for messages.
lines() { tr '\n' '|' <"$1" | head -c 300; }

# inuse PROFILE FUNC: in-use bytes of FUNC, or "no profile".
inuse() {
	if [ -n "$1" ]; then hp_flat "$1" inuse_space "$2"; else echo "no profile"; fi
}

# plain_run NAME ARGS...: the program without the profiler; status in rc.
plain_run() {
	local name=$1
	shift
	timeout -k 2 "$QUICK" "$PROG" "$@" >"$WORK/$name.plain.out" 2>"$WORK/$name.plain.err"
	rc=$?
}

# prof_run ALLOC NAME ARGS...: under the profiler at rate 1, output files
# OUT/hp.*; status in rc.
prof_run() {
	local alloc=$1 name=$2
	shift 2
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 timeout -k 2 "$QUICK" \
		env LD_PRELOAD="$(preload_for "$alloc")" "$PROG" "$@" >"$out/$name.out" 2>"$out/$name.err"
	rc=$?
}

# term_run NAME SNAP [ALLOC]: pthread_exit_term, then SIGTERM after 0.5 s
# (first a snapshot by SIGUSR2 when SNAP is yes); status in rc, stdout in
# NAME.out, the snapshot's path in snap.
term_run() {
	local name=$1 want_snap=$2 alloc=${3:-} pid dir=$WORK
	[ -n "$alloc" ] && dir=$out
	if [ -n "$alloc" ]; then
		HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 timeout -k 2 10 \
			env LD_PRELOAD="$(preload_for "$alloc")" "$PROG" pthread_exit_term \
			>"$dir/$name.out" 2>"$dir/$name.err" &
	else
		timeout -k 2 10 "$PROG" pthread_exit_term >"$dir/$name.out" 2>"$dir/$name.err" &
	fi
	pid=$!
	for _ in $(seq 100); do
		grep -qs "worker started" "$dir/$name.out" && break
		sleep 0.05
	done
	snap=""
	if [ "$want_snap" = yes ]; then
		signal_program "$pid" USR2
		for _ in $(seq 100); do
			snap=$(one_file "$out"/hp.*.signal.pb.gz)
			[ -n "$snap" ] && break
			sleep 0.05
		done
	fi
	sleep 0.5
	signal_program "$pid" TERM
	wait "$pid" 2>/dev/null
	rc=$?
}

# Without the profiler: what every mode does on its own.
plain_run pthread_exit pthread_exit
check "plain pthread_exit: exits 0 with atexit (got $rc, $(lines "$WORK/pthread_exit.plain.out"))" \
	test "$rc" = 0 -a "$(cat "$WORK/pthread_exit.plain.out")" = "atexit ran"
plain_run pthread_exit_worker pthread_exit_worker
check "plain pthread_exit_worker: exits 0 with atexit (got $rc)" \
	test "$rc" = 0 -a "$(cat "$WORK/pthread_exit_worker.plain.out")" = "atexit ran"
term_run term.plain no
plain_term=$rc
check "plain pthread_exit_term: dies of SIGTERM (status $rc)" test "$rc" = 143
plain_run fork fork_from_worker
check "plain fork_from_worker: the child exits 0 ($(lines "$WORK/fork.plain.out"))" \
	test "$rc" = 0 -a -n "$(grep -E '^child [0-9]+ exited 0$' "$WORK/fork.plain.out")"
plain_run stdin stdin_closed - <&-
check "plain stdin_closed: fd 0 stays closed (got $rc, $(lines "$WORK/stdin.plain.out"))" \
	test "$rc" = 0 -a "$(cat "$WORK/stdin.plain.out")" = "fd 0 still closed"
plain_run fds list_fds -
plain_fds=$(grep '^fds:' "$WORK/fds.plain.out")
check "plain list_fds: lists its descriptors (got $rc, $plain_fds)" test "$rc" = 0 -a -n "$plain_fds"
plain_run threads threads_at_start -
check "plain threads_at_start: one thread ($(lines "$WORK/threads.plain.out"))" \
	test "$(cat "$WORK/threads.plain.out")" = "threads at start: 1
threads after allocating: 1"

for alloc in $(allocators); do
	out=$WORK/$alloc
	mkdir -p "$out"

	# pthread_exit from main: the process ends with its last thread.
	rm -f "$out"/hp.*
	prof_run "$alloc" pthread_exit pthread_exit
	check "$alloc pthread_exit: exits 0 within $QUICK s (got $rc; 124 or 137: still running, killed)" \
		test "$rc" = 0
	check "$alloc pthread_exit: atexit ran ($(lines "$out/pthread_exit.out"))" \
		test "$(cat "$out/pthread_exit.out")" = "atexit ran"
	exitp=$(one_file "$out"/hp.*.exit.pb.gz)
	got=$(inuse "$exitp" main_alloc)
	check "$alloc pthread_exit: exit profile has main_alloc inuse $BLOCK_BYTES (got $got)" \
		test "$got" = "$BLOCK_BYTES"
	check "$alloc pthread_exit: nothing on stderr ($(lines "$out/pthread_exit.err"))" \
		test ! -s "$out/pthread_exit.err"

	# With the endpoint's thread (opt-in, resident): it ends with the program's
	# last thread too, within about a second.
	rm -f "$out"/hp.*
	HEAPPROF_HTTP=127.0.0.1:0 prof_run "$alloc" pthread_exit_http pthread_exit
	check "$alloc pthread_exit under HEAPPROF_HTTP: exits 0 within $QUICK s (got $rc)" \
		test "$rc" = 0
	check "$alloc pthread_exit under HEAPPROF_HTTP: atexit ran, exit profile written" \
		test "$(cat "$out/pthread_exit_http.out")" = "atexit ran" -a \
		-n "$(one_file "$out"/hp.*.exit.pb.gz)"

	# The same while a worker allocates for 300 ms.
	rm -f "$out"/hp.*
	prof_run "$alloc" pthread_exit_worker pthread_exit_worker
	check "$alloc pthread_exit_worker: exits 0 within $QUICK s (got $rc; 124 or 137: still running, killed)" \
		test "$rc" = 0
	check "$alloc pthread_exit_worker: atexit ran ($(lines "$out/pthread_exit_worker.out"))" \
		test "$(cat "$out/pthread_exit_worker.out")" = "atexit ran"
	exitp=$(one_file "$out"/hp.*.exit.pb.gz)
	got=$(inuse "$exitp" worker_alloc)
	check "$alloc pthread_exit_worker: exit profile has worker_alloc inuse $BLOCK_BYTES (got $got)" \
		test "$got" = "$BLOCK_BYTES"
	check "$alloc pthread_exit_worker: nothing on stderr ($(lines "$out/pthread_exit_worker.err"))" \
		test ! -s "$out/pthread_exit_worker.err"

	# A worker sleeps forever after main's pthread_exit: SIGTERM ends it.
	rm -f "$out"/hp.*
	term_run term no "$alloc"
	check "$alloc pthread_exit_term: dies of SIGTERM like without the profiler (status $rc, plain $plain_term)" \
		test "$rc" = 143
	check "$alloc pthread_exit_term: nothing on stderr ($(lines "$out/term.err"))" \
		test ! -s "$out/term.err"
	rm -f "$out"/hp.*
	term_run term_snap yes "$alloc"
	check "$alloc pthread_exit_term: SIGUSR2 snapshot written after main's pthread_exit" \
		test -n "$snap"
	got=$(inuse "$snap" worker_alloc)
	check "$alloc pthread_exit_term: the snapshot has worker_alloc inuse $BLOCK_BYTES (got $got)" \
		test "$got" = "$BLOCK_BYTES"
	check "$alloc pthread_exit_term: after the snapshot, dies of SIGTERM (status $rc)" \
		test "$rc" = 143
	check "$alloc pthread_exit_term: after the snapshot, nothing on stderr ($(lines "$out/term_snap.err"))" \
		test ! -s "$out/term_snap.err"

	# fork from a worker; the child's only thread returns.
	rm -f "$out"/hp.*
	prof_run "$alloc" fork fork_from_worker
	child=$(awk '/^child/ { print $2 }' "$out/fork.out")
	check "$alloc fork_from_worker: the child exits 0 without hanging ($(lines "$out/fork.out"))" \
		test -n "$(grep -E '^child [0-9]+ exited 0$' "$out/fork.out")"
	check "$alloc fork_from_worker: the parent exits 0 (got $rc)" test "$rc" = 0
	cexit=$([ -n "$child" ] && one_file "$out/hp.$child".*.exit.pb.gz)
	got=$(inuse "$cexit" child_alloc)
	check "$alloc fork_from_worker: the child's exit profile has child_alloc inuse $BLOCK_BYTES (got $got)" \
		test "$got" = "$BLOCK_BYTES"
	check "$alloc fork_from_worker: nothing on stderr ($(lines "$out/fork.err"))" \
		test ! -s "$out/fork.err"

	# fd 0 closed at start stays closed through a snapshot.
	rm -f "$out"/hp.*
	prof_run "$alloc" stdin stdin_closed "$out" <&-
	check "$alloc stdin_closed: fd 0 still closed after a snapshot (got $rc, $(lines "$out/stdin.out") $(lines "$out/stdin.err"))" \
		test "$rc" = 0 -a "$(cat "$out/stdin.out")" = "snapshot written
fd 0 still closed"
	snap=$(one_file "$out"/hp.*.signal.pb.gz)
	got=$(inuse "$snap" main_alloc)
	check "$alloc stdin_closed: the snapshot has main_alloc inuse $BLOCK_BYTES (got $got)" \
		test "$got" = "$BLOCK_BYTES"

	# The program sees only its own descriptors.
	rm -f "$out"/hp.*
	prof_run "$alloc" fds list_fds "$out"
	got=$(grep '^fds:' "$out/fds.out")
	check "$alloc list_fds: after a snapshot, the same descriptors as without the profiler ($got; plain $plain_fds)" \
		test "$rc" = 0 -a -n "$got" -a "$got" = "$plain_fds"

	# No resident thread: one thread at start, after allocating, and once a
	# snapshot is written.
	rm -f "$out"/hp.*
	prof_run "$alloc" threads threads_at_start "$out"
	check "$alloc threads_at_start: one thread at start, after allocating and after a snapshot ($(lines "$out/threads.out"))" \
		test "$rc" = 0 -a "$(cat "$out/threads.out")" = "threads at start: 1
threads after allocating: 1
snapshot written
threads after the snapshot: 1"
done
skip_jemalloc "the process's life with the profiler"

# The profiles' command line is what ps shows, also for a program that
# writes its title over its arguments (read from their memory at exit, as
# the kernel's /proc/PID/cmdline reads it), and for one that passed
# pthread_exit (/proc/self is then a zombie's).
out=$WORK/cmdline
mkdir -p "$out"
cmdline_of() { "$GO" tool pprof -raw "$1" 2>/dev/null | sed -n 's/^Comment: command line: //p'; }
if have_go; then
	prof_run glibc retitle retitle "$out" an-argument "another one"
	want=$(sed -n 's/^cmdline: //p' "$out/retitle.out")
	p=$(one_file "$out"/hp.*.exit.pb.gz)
	got=$([ -n "$p" ] && cmdline_of "$p")
	check "retitle: the exit profile's command line is /proc's ($got; /proc: $want)" \
		test -n "$want" -a "$got" = "$want"
	check "retitle: the title overwrote the arguments (/proc: $want)" \
		sh -c "case '$want' in 'prog_lifecycle: retitled'*) true ;; *) false ;; esac"
	rm -f "$out"/hp.*
	prof_run glibc pthread_exit pthread_exit "$out" arg2
	p=$(one_file "$out"/hp.*.exit.pb.gz)
	got=$([ -n "$p" ] && cmdline_of "$p")
	check "pthread_exit: the exit profile's command line ($got)" \
		test "$got" = "$PROG pthread_exit $out arg2"
else
	skip "command lines: go tool pprof not found (Debian package golang-go)"
fi
done_testing
