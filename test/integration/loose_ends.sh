# SPDX-License-Identifier: MIT
# Small things a pprof user runs into: heapprof list with no match fails as
# go tool pprof -list does; heapprof web refuses profiles of different
# processes (a timeline is one process's) and names the merge that sums them;
# heapprof snapshot "" is one line; the boolean variables' warning lists
# on/off, which they accept; a program that replaces the snapshot signal's
# handler and allocates little is told so once, at exit, if its handler
# stayed a second.
. "$(dirname "$0")/lib.sh"

HP=$HEAPPROF_BIN
for i in 1 2; do
	HEAPPROF_OUTPUT=$WORK/p$i HEAPPROF_RATE=1 run_profiled glibc "$TEST_BUILDDIR/prog_simple" >/dev/null 2>&1
done
a=$(one_file "$WORK"/p1.*.exit.pb.gz)
b=$(one_file "$WORK"/p2.*.exit.pb.gz)
check "two exit profiles of two processes" test -n "$a" -a -n "$b"

# status, lines on stdout, lines on stderr, the first of them
run_cmd() { # run_cmd CMD...
	"$@" >"$WORK/o" 2>"$WORK/e"
	echo "$? $(grep -c . "$WORK/o") $(grep -c . "$WORK/e") $(head -n 1 "$WORK/e")"
}

r=$(run_cmd "$HP" list NOMATCH "$a")
check "list NOMATCH: status 1, nothing on stdout, one line ($r)" \
	test "$r" = "1 0 1 heapprof list: no matches found for regexp: NOMATCH"
if have_go; then
	"$GO" tool pprof -list NOMATCH "$a" >/dev/null 2>&1
	check "go tool pprof -list NOMATCH fails too (status $?)" test $? != 0
else
	skip "go tool pprof -list NOMATCH: go not installed"
fi
r=$(run_cmd "$HP" list main "$a")
check "list main: status 0 ($r)" test "${r%% *}" = 0

r=$(run_cmd "$HP" web "$a" "$b" -o "$WORK/two.html")
check "web of two processes' profiles: status 2, one line ($r)" \
	test "${r%% *}" = 2 -a "$(cut -d' ' -f2-3 <<<"$r")" = "0 1"
check "it says they are different processes and how to sum them" \
	grep -q "are profiles of different processes.*heapprof merge" "$WORK/e"
check "no report written" test ! -e "$WORK/two.html"
"$HP" merge "$a" "$b" -o "$WORK/all.pb.gz" && "$HP" web "$WORK/all.pb.gz" -o "$WORK/all.html"
ok $? "their merge gives a report"

r=$(run_cmd "$HP" snapshot "")
check "snapshot \"\": status 2, one line ($r)" \
	test "$r" = "2 0 1 heapprof snapshot: expected a process id, got ''"

HEAPPROF_AT_EXIT=maybe HEAPPROF_OUTPUT=$WORK/ae run_profiled glibc "$TEST_BUILDDIR/prog_simple" >/dev/null 2>"$WORK/ae.err"
check "HEAPPROF_AT_EXIT=maybe: the warning lists on/off ($(head -c 120 "$WORK/ae.err"))" \
	grep -qF 'ignoring HEAPPROF_AT_EXIT="maybe": expected 1/0, true/false, yes/no, on/off; using 1' \
	"$WORK/ae.err"
HEAPPROF_AT_EXIT=off HEAPPROF_OUTPUT=$WORK/off run_profiled glibc "$TEST_BUILDDIR/prog_simple" >/dev/null 2>"$WORK/off.err"
check "HEAPPROF_AT_EXIT=off: no exit profile, no warning" \
	test -z "$(one_file "$WORK"/off.*.exit.pb.gz)" -a ! -s "$WORK/off.err"

# perl with a SIGUSR2 handler of its own, then only sleeping, allocates
# almost nothing after it: the check runs at exit. (dash ends with _exit,
# which runs no exit code at all, so a shell would not do.)
run_profiled glibc perl -e '$SIG{USR2} = sub {}; sleep 1.5' >/dev/null 2>"$WORK/trap.err"
n=$(grep -c "installed its own SIGUSR2 handler" "$WORK/trap.err")
check "a program that allocates little and keeps its handler 1.5 s is told once ($n)" test "$n" = 1
run_profiled glibc perl -e '$SIG{USR2} = sub {}' >/dev/null 2>"$WORK/trap0.err"
check "one that exits at once is not (its handler may be a moment's)" \
	test "$(grep -c "installed its own" "$WORK/trap0.err")" = 0
done_testing
