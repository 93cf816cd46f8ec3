# SPDX-License-Identifier: MIT
# A compiler: gcc -O2 on a large generated file. The driver forks and execs
# cc1 and as, each profiled under its own pid. The object file is identical
# with and without the profiler; cc1 gives a SIGUSR2 snapshot mid-compile and
# an exit profile naming GCC's own allocators.
. "$(dirname "$0")/lib.sh"

need gcc gcc
awk 'BEGIN { for (i = 0; i < 600; i++)
	printf "int f%d(int x, int y) { int s = 0; for (int k = 0; k < x; k++) { switch ((k + y) %% 7) { case 0: s += k * %d; break; case 1: s ^= k << 2; break; case 2: s -= y; break; case 3: s += x / (k + 1); break; default: s += %d; } } return s; }\n", i, i, i }' >"$WORK/big.c"
timeout "$RUN_TIMEOUT" gcc -O2 -c "$WORK/big.c" -o "$WORK/plain.o" 2>"$WORK/plain.err"
plain=$?
check "plain compile succeeds" test "$plain" = 0

mkdir -p "$WORK/prof"
HEAPPROF_OUTPUT=$WORK/prof/gcc timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" \
	gcc -O2 -c "$WORK/big.c" -o "$WORK/prof.o" 2>"$WORK/prof.err" &
pid=$!
cc1=""
for _ in $(seq 100); do
	cc1=$(pgrep -x cc1 -P "$(pgrep -P "$pid" | head -n 1)" 2>/dev/null | head -n 1)
	[ -n "$cc1" ] && break
	sleep 0.05
done
sleep 0.7
[ -n "$cc1" ] && kill -USR2 "$cc1"
wait "$pid"
rc=$?
check "profiled compile exits $plain too (got $rc)" test "$rc" = "$plain"
check "identical object file" cmp -s "$WORK/plain.o" "$WORK/prof.o"
check "identical diagnostics" cmp -s "$WORK/plain.err" "$WORK/prof.err"
check "found cc1 running (pid ${cc1:-none})" test -n "$cc1"
snap=$(one_file "$WORK/prof/gcc.$cc1".*.signal.pb.gz)
exitp=$(one_file "$WORK/prof/gcc.$cc1".*.exit.pb.gz)
check "cc1 wrote a snapshot mid-compile" test -n "$snap"
check "cc1 wrote an exit profile" test -n "$exitp"
n=$(ls "$WORK/prof" | grep -c 'exit\.pb\.gz$')
check "the driver, cc1 and as each wrote their own exit profile ($n)" test "$n" -ge 3
rx='xmalloc|xcalloc|xrealloc|ggc_|obstack|^_?cpp_|bitmap|vec'
[ -n "$snap" ] && check_real cc1 "$snap" "$rx"
[ -n "$exitp" ] && check_real cc1 "$exitp" "$rx" alloc_space
# Every allocation of a one-line compile's cc1 (thousands of stacks, which
# fill the writer's arena): its exit profile still has its command line.
cc1_bin=$(gcc -print-prog-name=cc1)
echo 'int one(int x) { return x + 1; }' >"$WORK/one.c"
mkdir -p "$WORK/rate1"
HEAPPROF_OUTPUT=$WORK/rate1/hp HEAPPROF_RATE=1 timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" \
	"$cc1_bin" -quiet "$WORK/one.c" -o "$WORK/one.s"
ok $? "cc1 at HEAPPROF_RATE=1 compiles a one-line file"
p=$(one_file "$WORK"/rate1/hp.*.exit.pb.gz)
got=$([ -n "$p" ] && "$HEAPPROF_BIN" info "$p" | sed -n 's/^Comment: command line: //p')
check "cc1 at rate 1: the exit profile's command line ($got)" \
	test "$got" = "$cc1_bin -quiet $WORK/one.c -o $WORK/one.s"
if [ -n "$p" ] && have_go; then
	check "cc1 at rate 1: go tool pprof reads its exit profile" quiet "$GO" tool pprof -top "$p"
fi
done_testing
