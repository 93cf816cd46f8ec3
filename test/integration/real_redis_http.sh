# SPDX-License-Identifier: MIT
# Debian's redis-server under HEAPPROF_HTTP at the default rate, beside a
# plain one: redis-benchmark (SET and GET, pipelined) against each in
# alternating pairs (100000 requests each), the time ratio of each pair and their median printed as
# diagnostics (never asserted: a shared machine's timings are noise), and,
# while the profiled server is under load, its /debug/pprof/heap read by
# go tool pprof -top URL and heapprof top URL, which must name Redis's own
# functions.
. "$(dirname "$0")/lib.sh"

need redis-server redis-server
need redis-benchmark redis-tools
need redis-cli redis-tools
need curl curl
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT

# serve NAME [ENV...]: a server on WORK/NAME.sock; its pid appended to PIDS.
serve() {
	local name=$1
	shift
	env "$@" redis-server --port 0 --unixsocket "$WORK/$name.sock" --save '' \
		--appendonly no --daemonize no --loglevel warning >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do [ -S "$WORK/$name.sock" ] && break; sleep 0.05; done
}
serve plain
serve prof LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_HTTP=127.0.0.1:0 HEAPPROF_AT_EXIT=0
PROF_PID=${PIDS[1]}
EP=$(endpoint_of "$PROF_PID")
check "the profiled server serves the endpoint (${EP:-none})" test -n "$EP"

# bench NAME [N]: redis-benchmark on server NAME; prints the seconds it took.
# 256-byte values under random keys, so the keys stay and the heap grows.
bench() {
	local t0 t1
	t0=$(date +%s.%N)
	redis-benchmark -s "$WORK/$1.sock" -q -n "${2:-100000}" -t set,get -P 16 -d 256 \
		-r 1000000 >"$WORK/$1.bench" 2>&1 || return 1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

ratios=()
for i in 1 2 3; do
	p=$(bench plain)
	q=$(bench prof)
	check "pair $i: both benchmarks ran (plain ${p:-failed} s, profiled ${q:-failed} s)" \
		test -n "$p" -a -n "$q"
	check "pair $i: the profiled run completed (its GET line)" \
		sh -c "tr '\\r' '\\n' <'$WORK/prof.bench' | grep -q '^GET: '"
	r=$(awk -v p="${p:-0}" -v q="${q:-0}" 'BEGIN { if (p > 0) printf "%.3f", q / p; else print "nan" }')
	ratios+=("$r")
	diag "pair $i: plain $p s, profiled $q s, ratio $r ($(tr '\r' '\n' <"$WORK/prof.bench" | grep -E "^(SET|GET): .*requests per second" | tr '\n' ' '))"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | sed -n 2p)
diag "profiled/plain time ratios: ${ratios[*]}; median $median (not asserted)"

# Under load: a longer benchmark runs while the heap profile is read.
redis-benchmark -s "$WORK/prof.sock" -q -n 400000 -t set -P 16 -d 256 -r 1000000 \
	>"$WORK/load.bench" 2>&1 &
LOAD=$!
PIDS+=("$LOAD")
sleep 0.3
rx='^z(try)?(malloc|calloc|realloc)|^sds|^dict|^create|Object'
U=http://$EP/debug/pprof/heap
if have_go; then
	"$GO" tool pprof -top -nodefraction=0 -sample_index=inuse_space "$U" \
		>"$WORK/pprof.txt" 2>"$WORK/pprof.err"
	hit=$(awk '/^ *-?[0-9.]+[a-zA-Z]* +-?[0-9.]+% / { print $6 }' "$WORK/pprof.txt" |
		grep -E -m1 "$rx")
	check "go tool pprof -top URL under load names Redis's functions (${hit:-none; $(head -c 200 "$WORK/pprof.err")})" \
		test -n "$hit"
else
	skip "go tool pprof -top URL: go not found (Debian package golang-go)"
fi
hit=$("$HEAPPROF_BIN" top --raw --sample-index=inuse_space "$U" 2>"$WORK/top.err" |
	cut -f3 | grep -E -m1 "$rx")
check "heapprof top URL under load names Redis's functions (${hit:-none; $(head -c 200 "$WORK/top.err")})" \
	test -n "$hit"
check "the load ran on meanwhile (still running, or done)" \
	sh -c "kill -0 $LOAD 2>/dev/null || tr '\\r' '\\n' <'$WORK/load.bench' | grep -q '^SET: '"
wait "$LOAD"
check "the benchmark under load completed" sh -c "tr '\\r' '\\n' <'$WORK/load.bench' | grep -q '^SET: '"
for s in plain prof; do redis-cli -s "$WORK/$s.sock" SHUTDOWN NOSAVE >/dev/null 2>&1; done
wait "${PIDS[0]}"
plain=$?
wait "$PROF_PID"
rc=$?
check "the profiled server exits as the plain one ($rc = $plain)" test "$rc" = "$plain"
check "no profiler message in the server log" sh -c "! grep -q heapprof '$WORK/prof.log'"
done_testing
