# SPDX-License-Identifier: MIT
# A short process's fixed cost in system calls (docs/performance.md, issue
# 23): what the library adds to /bin/true at the default rate. On a virtual
# machine a process pays five to ten times a call's cost the first time it
# makes it, and /bin/true makes almost none of its own, so each call the
# library adds shows in every shell loop and build. It reads nothing in
# /proc but the program's name (the record names a moment from the clock),
# makes one file, its exit profile (its record is a spare file of an earlier
# process, renamed, and renamed back to a spare at exit), and the profile
# reads, naming the modules loaded.
. "$(dirname "$0")/lib.sh"
need strace strace

# calls TRACE: the system calls in an strace -o file (not its exit line).
calls() { grep -vc '^+++' "$1"; }

# Earlier processes leave their records as spares (proc_record.c). A new
# process tries the four spare names below its pid's; processes one after
# the other hand one spare on, and other tests running meanwhile move the
# pids on past it. Sixteen at once leave a spare under every name.
for _ in $(seq 16); do
	env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_AT_EXIT=0 sleep 0.3 &
done
wait
strace -qq -o "$WORK/plain.tr" /bin/true
strace -qq -o "$WORK/prof.tr" -E LD_PRELOAD="$HEAPPROF_LIB" \
	-E HEAPPROF_OUTPUT="$WORK/p" /bin/true
plain=$(calls "$WORK/plain.tr")
prof=$(calls "$WORK/prof.tr")
# Spares that other processes (the suite's other tests) took or gave back
# first: a rename more each, tried at start-up or at exit, not counted.
raced=$(grep -Ec '^renameat2?\(.*\.spare-[0-9]+".* = -1 (ENOENT|EEXIST)' "$WORK/prof.tr")
# 42 at the time of writing (ld.so loading the library, its start-up, the
# look for the program's kept stack rules, the record, the exit profile; a
# spare record costs three calls more than a new file): a budget that a new
# first call in every process, or the /proc/self/stat read the clock
# replaced, would exceed.
check "the library adds at most 43 system calls to /bin/true (plain $plain, profiled $prof, $raced renames of spares others took first)" \
	test $((prof - raced - plain)) -le 43
procs=$(grep '/proc/' "$WORK/prof.tr" | sed 's/^\([a-z]*\)(\("[^"]*"\).*/\1 \2/' | tr '\n' ' ')
check "one /proc access, the program's name for the profile's mappings ($procs)" \
	test "$procs" = 'readlink "/proc/self/exe" '
creates=$(grep -c 'O_CREAT' "$WORK/prof.tr")
check "one file created: the exit profile ($creates)" test "$creates" = 1
check "the record is a spare taken under the process's own name" \
	grep -Eq '^renameat\([0-9]+, "\.spare-[0-9]+", [0-9]+, "\.claim-[0-9]+"\) = 0$' "$WORK/prof.tr"
check "and renamed back to a spare at exit" \
	grep -Eq "^renameat2\(AT_FDCWD, \"/tmp/heapprof-$(id -u)/[0-9]+\", AT_FDCWD, \"/tmp/heapprof-$(id -u)/\.spare-[0-9]+\", RENAME_NOREPLACE\) = 0$" "$WORK/prof.tr"
# A program a profiled shell executes keeps the record the shell's child
# published under the same pid: no spare taken (a look, two reads), and at
# exit it goes back at the first try to the spare the child took.
# One trace file per process (-ff): with -f alone, a call another process
# interrupts is split into "<unfinished ...>" and "<... resumed>" lines.
strace -ff -qq -o "$WORK/exec.tr" -E LD_PRELOAD="$HEAPPROF_LIB" -E HEAPPROF_AT_EXIT=0 \
	bash -c '/bin/true; :'
kidtr=$(grep -l '^execve("/bin/true".* = 0$' "$WORK"/exec.tr.*)
kid=${kidtr##*.}
renames=$(test -n "$kidtr" && awk '/^execve\(/ { on = 1; next }
	on && /rename/ { printf "%s ", ($NF == "0" ? "ok" : "failed") }' "$kidtr")
check "the executed program ($kid): one rename, at exit, that succeeds (${renames:-none})" \
	test -n "$kid" -a "$renames" = "ok "
spares=$(ls -A "/tmp/heapprof-$(id -u)" | grep -c '^\.spare-')
check "at most 16 spares ($spares)" test "$spares" -le 16
# A shell ends with _exit, which runs no exit handlers: its record goes all
# the same (dash, at the end of every script and subshell).
pid=$(env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_AT_EXIT=0 dash -c 'echo $$; (exit 0)')
check "dash's record is gone after its _exit ($pid)" \
	test -n "$pid" -a ! -e "/tmp/heapprof-$(id -u)/$pid"
pid=$(env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_AT_EXIT=0 /usr/bin/python3 -c \
	'import os; print(os.getpid(), flush=True); os._exit(3)')
rc=$?
check "python3's os._exit keeps its status ($rc) and leaves no record ($pid)" \
	test "$rc" = 3 -a -n "$pid" -a ! -e "/tmp/heapprof-$(id -u)/$pid"
# A process killed after it took a spare under its own name and before it
# renamed it to its pid leaves that name behind: heapprof ps removes it
# once the process is gone, as it does a record.
for _ in $(seq 40); do
	env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_AT_EXIT=0 /bin/true
done
strace -qq -o "$WORK/kill.tr" -e trace=renameat,ftruncate -e inject=ftruncate:signal=SIGKILL \
	-E LD_PRELOAD="$HEAPPROF_LIB" -E HEAPPROF_AT_EXIT=0 /bin/true 2>/dev/null
claim=$(sed -n 's/^renameat([0-9]*, "\.spare-[0-9]*", [0-9]*, "\(\.claim-[0-9]*\)") = 0$/\1/p' "$WORK/kill.tr")
if [ -n "$claim" ] && [ -e "/tmp/heapprof-$(id -u)/$claim" ]; then
	"$HEAPPROF_BIN" ps >/dev/null 2>&1
	check "heapprof ps removes $claim, left by a process killed while it took a spare" \
		test ! -e "/tmp/heapprof-$(id -u)/$claim"
else
	skip "a process killed while it took a spare: it found none ($(tr '\n' ' ' <"$WORK/kill.tr"))"
fi
# And a rewrite's temporary names (proc_record.c's replace), of a process
# that is gone; those of a live one stay.
rdir=/tmp/heapprof-$(id -u)
dead=$(sh -c 'echo $$')
: >"$rdir/.$dead.tmp"
: >"$rdir/.$dead.s.tmp"
: >"$rdir/.$$.tmp"
"$HEAPPROF_BIN" ps >/dev/null 2>&1
check "heapprof ps removes .$dead.tmp and .$dead.s.tmp of a process gone, keeps .$$.tmp" \
	test ! -e "$rdir/.$dead.tmp" -a ! -e "$rdir/.$dead.s.tmp" -a -e "$rdir/.$$.tmp"
rm -f "$rdir/.$$.tmp"
profile=$(one_file "$WORK"/p.*.exit.pb.gz)
check "the exit profile was written ($profile)" test -n "$profile"
"$HEAPPROF_BIN" info "$profile" >"$WORK/info" 2>&1
maps=$(sed -n 's/^Samples: 0, locations: 0, functions: 0, mappings: \([0-9]*\)$/\1/p' "$WORK/info")
check "heapprof info reads it: no samples, the modules loaded ($maps mappings)" \
	test "${maps:-0}" -ge 3
if have_go; then
	"$GO" tool pprof -top "$profile" >"$WORK/top" 2>&1
	check "go tool pprof reads it ($(head -c 120 "$WORK/top" | tr '\n' '|'))" \
		grep -q "Total samples = 0" "$WORK/top"
else
	skip "go tool pprof: go not found"
fi

# With samples too.
env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 HEAPPROF_OUTPUT="$WORK/d" \
	"$TEST_BUILDDIR/prog_deep"
deep=$(one_file "$WORK"/d.*.exit.pb.gz)
"$HEAPPROF_BIN" info "$deep" >"$WORK/info-deep" 2>&1
maps=$(sed -n 's/^Samples: .*mappings: \([0-9]*\)$/\1/p' "$WORK/info-deep")
check "a profile with samples names its modules ($maps mappings)" test "${maps:-0}" -ge 3
check "and deep_alloc's 100 blocks of 1000 bytes" \
	test "$(hp_flat "$deep" inuse_space deep_alloc)" = 100000

# A forked child that exits without executing anything (a shell's subshell)
# writes its own exit profile, naming the stacks it inherited.
strace -f -qq -o "$WORK/sub.tr" -E LD_PRELOAD="$HEAPPROF_LIB" -E HEAPPROF_RATE=1 \
	-E HEAPPROF_OUTPUT="$WORK/s" bash -c 'x=$(seq 100); ( : ); ( echo "$x" >/dev/null )'
# Every pid in the trace: a clone's result may be on a "resumed" line.
kids=$(awk '{ print $1 }' "$WORK/sub.tr" | sort -u)
parent=$(head -n1 "$WORK/sub.tr" | awk '{ print $1 }')
nkids=0 named=0 reads=0
for k in $kids; do
	[ "$k" = "$parent" ] && continue
	# strace pads a short pid ("9999  execve").
	grep -Eq "^$k +execve\(" "$WORK/sub.tr" && continue # seq: not a subshell
	nkids=$((nkids + 1))
	p=$(one_file "$WORK/s.$k".*.exit.pb.gz)
	[ -n "$p" ] && "$HEAPPROF_BIN" top -n 1000 "$p" 2>/dev/null | grep -qw main &&
		named=$((named + 1))
	reads=$((reads + $(grep -Ec "^$k +openat\(.*(/bash|/libc\.so\.6)\"" "$WORK/sub.tr")))
done
check "two subshells, each with its own exit profile naming bash's main ($named of $nkids)" \
	test "$nkids" = 2 -a "$named" = 2
# The shell, which had forked ($(seq)), read the names of its stacks at its
# samples: the subshells inherit them.
check "the subshells open neither bash nor the C library to name their stacks ($reads)" \
	test "$reads" = 0

# A shell without samples: the registry of objects its start-up read is what
# its subshells' exit profiles list, not read again by each (a readlink, the
# note of every object).
strace -f -qq -o "$WORK/nos.tr" -E LD_PRELOAD="$HEAPPROF_LIB" \
	-E HEAPPROF_RATE=1073741824 -E HEAPPROF_OUTPUT="$WORK/n" bash -c '( : ); ( : )'
parent=$(head -n1 "$WORK/nos.tr" | awk '{ print $1 }')
nkids=0 links=0 listed=0
for k in $(awk '{ print $1 }' "$WORK/nos.tr" | sort -u); do
	[ "$k" = "$parent" ] && continue
	nkids=$((nkids + 1))
	links=$((links + $(grep -Ec "^$k +readlink\(\"/proc/self/exe\"" "$WORK/nos.tr")))
	p=$(one_file "$WORK/n.$k".*.exit.pb.gz)
	m=$([ -n "$p" ] && "$HEAPPROF_BIN" info "$p" 2>/dev/null |
		sed -n 's/^Samples: .*mappings: \([0-9]*\)$/\1/p')
	[ "${m:-0}" -ge 2 ] && listed=$((listed + 1))
done
check "two subshells of a shell without samples, each profile listing its modules ($listed of $nkids)" \
	test "$nkids" = 2 -a "$listed" = 2
check "and neither reads the program's name again ($links readlinks)" test "$links" = 0
done_testing
