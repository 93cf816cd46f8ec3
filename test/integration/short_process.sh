# SPDX-License-Identifier: MIT
# A short process's fixed cost in system calls (docs/performance.md, issue
# 23): what the library adds to /bin/true at the default rate. On a virtual
# machine a process pays five to ten times a call's cost the first time it
# makes it, and /bin/true makes almost none of its own, so each call the
# library adds shows in every shell loop and build. It reads nothing in
# /proc but the program's name (the record names a moment from the clock),
# makes two files (its record and its exit profile) and no other, and the
# profile reads, naming the modules loaded.
. "$(dirname "$0")/lib.sh"
need strace strace

# calls TRACE: the system calls in an strace -o file (not its exit line).
calls() { grep -vc '^+++' "$1"; }

strace -qq -o "$WORK/plain.tr" /bin/true
strace -qq -o "$WORK/prof.tr" -E LD_PRELOAD="$HEAPPROF_LIB" \
	-E HEAPPROF_OUTPUT="$WORK/p" /bin/true
plain=$(calls "$WORK/plain.tr")
prof=$(calls "$WORK/prof.tr")
# 37 at the time of writing (ld.so loading the library, its start-up, the
# record, the exit profile): a budget that a new first call in every
# process, or the /proc/self/stat read the clock replaced, would exceed.
check "the library adds at most 38 system calls to /bin/true (plain $plain, profiled $prof)" \
	test $((prof - plain)) -le 38
procs=$(grep '/proc/' "$WORK/prof.tr" | sed 's/^\([a-z]*\)(\("[^"]*"\).*/\1 \2/' | tr '\n' ' ')
check "one /proc access, the program's name for the profile's mappings ($procs)" \
	test "$procs" = 'readlink "/proc/self/exe" '
creates=$(grep -c 'O_CREAT' "$WORK/prof.tr")
check "two files created: the record and the exit profile ($creates)" test "$creates" = 2
check "the record is removed at exit" \
	grep -q "^unlink(\"/tmp/heapprof-$(id -u)/[0-9]*\") *= 0$" "$WORK/prof.tr"
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
# samples: the subshells inherit them. (They load zlib themselves: a profile
# this large is compressed.)
check "the subshells open neither bash nor the C library to name their stacks ($reads)" \
	test "$reads" = 0
done_testing
