# SPDX-License-Identifier: MIT
# attach (prog_attach): heapprof attach and detach on a process started
# without the profiler. At --rate 1 the snapshot holds exactly what was
# allocated after the attach; blocks from before are freed without harm; after
# the detach the program prints what a run never attached prints and exits
# with its own status. Again with four threads, again after a second attach,
# again with the attacher killed at each stage of the injection; and each
# refusal with its message.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_attach
H=$HEAPPROF_BIN

start() { # start NAME [ARG]: PID, with "ready" printed
	rm -f "$WORK/$1.g1" "$WORK/$1.g2"
	"$PROG" "$WORK/$1.g1" "$WORK/$1.g2" ${2:+"$2"} \
		>"$WORK/$1.out" 2>"$WORK/$1.err" &
	PID=$!
	wait_line "$WORK/$1.out" ready
}

finish() { # finish NAME: lets the program end; its status in STATUS
	touch "$WORK/$1.g1"
	wait_line "$WORK/$1.out" allocated
	touch "$WORK/$1.g2"
	wait "$PID"
	STATUS=$?
}

mapped() { grep -q libheapprof "/proc/$1/maps"; }

# Runs never attached, for comparison.
for mode in one threads; do
	start "ref-$mode" "$([ $mode = threads ] && echo threads)"
	finish "ref-$mode"
	ok $((STATUS != 3)) "$mode: never attached, the program exits with its status 3"
done

# The exact run: attach, snapshot, detach.
exact() { # exact MODE THREADS
	local n=$1 k=$2 out=$WORK/$1 msg snap
	mkdir -p "$out"
	start "$n" "$([ "$k" = 4 ] && echo threads)"
	msg=$("$H" attach --rate 1 --output "$out/hp" "$PID" 2>&1)
	ok $? "$n: heapprof attach: $msg"
	diag "$msg"
	check "$n: process record published, libheapprof.so loaded" \
		test -e "/tmp/heapprof-$(id -u)/$PID" -a -n "$(mapped "$PID" && echo y)"
	touch "$WORK/$n.g1"
	wait_line "$WORK/$n.out" allocated
	snap=$("$H" snapshot "$PID")
	check "$n: heapprof snapshot wrote $snap" test -s "$snap"
	got=$(hp_flat "$snap" inuse_space after_attach)
	check "$n: after_attach inuse_space $((150000 * k)) (got $got)" test "$got" = $((150000 * k))
	got=$(hp_flat "$snap" inuse_objects after_attach)
	check "$n: after_attach inuse_objects $((50 * k)) (got $got)" test "$got" = $((50 * k))
	got=$("$H" top --raw --sample-index=alloc_space "$snap" | awk -F'\t' '{ s += $1 } END { print s + 0 }')
	check "$n: nothing else allocated since the attach: alloc_space $((150000 * k)) (got $got)" \
		test "$got" = $((150000 * k))
	got=$(hp_flat "$snap" alloc_space before_attach)
	check "$n: before_attach not in the profile (got $got)" test "$got" = 0
	if have_go; then
		got=$(pprof_flat "$snap" inuse_space after_attach)
		check "$n: go tool pprof: after_attach inuse_space $((150000 * k)) (got $got)" \
			test "$got" = $((150000 * k))
	else
		skip "$n: go tool pprof not installed"
	fi
	msg=$("$H" detach "$PID" 2>&1)
	ok $? "$n: heapprof detach: $msg"
	check "$n: process record removed" test ! -e "/tmp/heapprof-$(id -u)/$PID"
	finish "$n"
	ok $((STATUS != 3)) "$n: the program exits with its own status 3 (got $STATUS)"
	check "$n: its output is that of a run never attached" cmp -s "$WORK/$n.out" "$WORK/ref-$3.out"
	check "$n: nothing on its stderr" test ! -s "$WORK/$n.err"
	check "$n: no exit profile after the detach" test -z "$(one_file "$out"/hp.*.exit.pb.gz)"
}
exact single 1 one
exact threads 4 threads

# A second attach after a detach.
start again
"$H" attach --rate 1 --output "$WORK/again" "$PID" >/dev/null 2>&1 &&
	"$H" detach "$PID" >/dev/null 2>&1
ok $? "again: attach and detach"
msg=$("$H" attach --rate 1 --output "$WORK/again" --http 127.0.0.1:0 "$PID" 2>&1)
ok $? "again: attached a second time, with an endpoint: $msg"
touch "$WORK/again.g1"
wait_line "$WORK/again.out" allocated
snap=$("$H" snapshot "$PID")
got=$(hp_flat "$snap" inuse_space after_attach)
check "again: after_attach inuse_space 150000 (got $got)" test "$got" = 150000
ep=$("$H" ps | awk -v p="$PID" '$1 == p { print $5 }')
check "again: heapprof ps lists it with its endpoint ($ep)" test -n "$ep" -a "$ep" != -
if command -v curl >/dev/null && [ -n "$ep" ]; then
	curl -s "http://$ep/debug/pprof/heap" -o "$WORK/again.http.pb.gz"
	got=$(hp_flat "$WORK/again.http.pb.gz" inuse_space after_attach)
	check "again: the endpoint's heap profile: after_attach 150000 (got $got)" test "$got" = 150000
else
	skip "again: curl not installed"
fi
"$H" detach "$PID" >/dev/null 2>&1
ok $? "again: detached a second time"
finish again
ok $((STATUS != 3)) "again: exit status 3 (got $STATUS)"
check "again: output of a run never attached" cmp -s "$WORK/again.out" "$WORK/ref-one.out"

# The attacher killed at each stage: the program runs on, untraced.
for stage in stopped written hijacked called restored; do
	start "kill-$stage" threads
	HEAPPROF_ATTACH_PAUSE=$stage "$H" attach --output "$WORK/kill" "$PID" \
		>/dev/null 2>"$WORK/kill-$stage.attach" &
	ap=$!
	wait_line "$WORK/kill-$stage.attach" "paused at $stage"
	ok $? "$stage: the attacher paused at stage $stage"
	kill -KILL "$ap"
	wait "$ap" 2>/dev/null
	sleep 0.2
	tracer=$(awk '/^TracerPid/ { print $2 }' "/proc/$PID/status")
	check "$stage: process $PID runs on, traced by none (TracerPid $tracer)" test "$tracer" = 0
	case $stage in
	stopped | written) check "$stage: libheapprof.so not loaded" test -z "$(mapped "$PID" && echo y)" ;;
	*) check "$stage: the call completed without the attacher: libheapprof.so loaded" mapped "$PID" ;;
	esac
	finish "kill-$stage"
	ok $((STATUS != 3)) "$stage: exit status 3 (got $STATUS)"
	case $stage in
	stopped | written) ;;
	*)
		f=$(one_file "$WORK/kill.$PID".*.exit.pb.gz)
		check "$stage: attached, it wrote its exit profile ($f)" test -s "$f"
		;;
	esac
	check "$stage: output of a run never attached" cmp -s "$WORK/kill-$stage.out" "$WORK/ref-threads.out"
done

# A thread inside dl_iterate_phdr the whole time: the attach retries, gives
# up within its bound, changes nothing; the program ends as it would have.
start loader loader
t0=$(date +%s%N)
msg=$("$H" attach --output "$WORK/loader" "$PID" 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "loader: attach given up ($msg)" test "$rc" != 0 -a -n "$(echo "$msg" | grep "every one of 100 attempts")"
check "loader: given up within 20 s ($ms ms)" test "$ms" -lt 20000
check "loader: libheapprof.so not loaded, not traced" \
	test -z "$(mapped "$PID" && echo y)" -a "$(awk '/^TracerPid/ { print $2 }' "/proc/$PID/status")" = 0
finish loader
ok $((STATUS != 3)) "loader: exit status 3 (got $STATUS)"
check "loader: output of a run never attached" cmp -s "$WORK/loader.out" "$WORK/ref-one.out"

# Refusals, each with its reason; the program runs on.
refused() { # refused WHAT PATTERN COMMAND...
	local what=$1 pattern=$2 msg
	shift 2
	msg=$("$@" 2>&1)
	local rc=$?
	check "$what: refused ($msg)" test "$rc" != 0 -a -n "$(echo "$msg" | grep -- "$pattern")"
}

start preloaded-ref
kill "$PID"
rm -f "$WORK/pre.g1" "$WORK/pre.g2"
LD_PRELOAD=$HEAPPROF_LIB HEAPPROF_OUTPUT=$WORK/pre "$PROG" "$WORK/pre.g1" "$WORK/pre.g2" >"$WORK/pre.out" 2>&1 &
PID=$!
wait_line "$WORK/pre.out" ready
refused "already profiled" "already profiled" "$H" attach "$PID"
refused "detach of a preloaded process" "not attached to\|started under the profiler" "$H" detach "$PID"
finish pre

start traced
if command -v strace >/dev/null; then
	strace -p "$PID" -o /dev/null &
	sp=$!
	sleep 0.5
	refused "traced" "is being traced by process" "$H" attach "$PID"
	kill "$sp"
	wait "$sp" 2>/dev/null
else
	skip "traced: strace not installed"
fi
refused "detach, never attached" "not profiled" "$H" detach "$PID"
finish traced
ok $((STATUS != 3)) "traced, refused: exit status 3 (got $STATUS)"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	start undumpable undumpable
	refused "no CAP_SYS_PTRACE" "not permitted" \
		setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace "$H" attach "$PID"
	finish undumpable
else
	skip "ptrace not permitted: needs root and setpriv to drop CAP_SYS_PTRACE"
fi

if printf 'int main(void){for(;;)__asm__("pause");}\n' >"$WORK/static.c" &&
	${CC:-cc} -static -o "$WORK/static" "$WORK/static.c" 2>/dev/null; then
	"$WORK/static" &
	sp=$!
	refused "statically linked" "statically linked" "$H" attach "$sp"
	kill "$sp"
else
	skip "statically linked: cannot link a static program here"
fi

printf '.globl _start\n_start:\n1: pause\n jmp 1b\n' >"$WORK/i386.s"
if as --32 -o "$WORK/i386.o" "$WORK/i386.s" 2>/dev/null &&
	ld -m elf_i386 -o "$WORK/i386" "$WORK/i386.o" 2>/dev/null; then
	"$WORK/i386" 2>/dev/null &
	sp=$!
	sleep 0.2
	if kill -0 "$sp" 2>/dev/null; then
		refused "32-bit" "32-bit program" "$H" attach "$sp"
		kill "$sp"
	else
		skip "32-bit: this kernel runs no 32-bit programs (no IA32 emulation)"
	fi
else
	skip "32-bit: cannot build an i386 program here (as --32, ld -m elf_i386)"
fi
done_testing
