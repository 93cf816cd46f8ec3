# SPDX-License-Identifier: MIT
# HEAPPROF_HTTP: Go's /debug/pprof/ served by the profiled program. A program
# with a known story (prog_http.c: 1000000 bytes kept by alloc_before, then
# 4096 bytes allocated and freed by alloc_steady every 10 ms) is read with
# go tool pprof, curl and heapprof over loopback and a unix socket; the
# limits (one profile at a time, a silent client, sizes, methods, the token)
# are checked with numbers, and the program's output and status stay its own.
. "$(dirname "$0")/lib.sh"
need curl curl

PROG=$TEST_BUILDDIR/prog_http
REC=/tmp/heapprof-$(id -u)

. "$(dirname "$0")/http_prog.sh"

code() { # code CURL-ARGS...: the HTTP status of one request
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "$@"
}

# ---- loopback: the paths, go tool pprof, heapprof ------------------------
start main HEAPPROF_HTTP=127.0.0.1:0
check "main: the record names the endpoint ($EP)" test -n "$EP"
U=http://$EP/debug/pprof
check "heapprof ps shows the endpoint" sh -c "'$HEAPPROF_BIN' ps | grep -Eq '^$PID .* $EP '"
check "main: no message on stderr" test ! -s "$WORK/main.err"
check "index: 200, lists heap and allocs" sh -c "curl -sf '$U/' | grep -q 'href=\"heap'"
check "index ?debug=1: plain text" sh -c "curl -sf '$U/?debug=1' | grep -q '^allocs: '"
check "cmdline: the arguments, NUL separated" sh -c \
	"curl -sf '$U/cmdline' | tr '\\0' ' ' | grep -q 'prog_http 60 '"
check "symbol GET: num_symbols: 1" sh -c "curl -sf '$U/symbol' | grep -qx 'num_symbols: 1'"
# The run-time address of malloc: the library's first mapping plus its value.
off=$(nm -D --defined-only "$HEAPPROF_LIB" | awk '$3 == "malloc" { print $1 }')
base=$(awk '/libheapprof.so/ && $3 == "00000000" { print $1; exit }' /proc/$PID/maps | cut -d- -f1)
abs=$(printf '0x%x' $((0x$base + 0x$off)))
sym=$(curl -sf --data-binary "0x1+$abs" "$U/symbol")
diag "symbol POST 0x1+$abs: $sym"
check "symbol POST resolves an address to its name" sh -c "echo '$sym' | grep -q ' malloc$'"
check "404 for an unknown path" test "$(code "$U/goroutine")" = 404
check "405 for DELETE" test "$(code -X DELETE "$U/heap")" = 405
check "405 for POST on heap" test "$(code --data x "$U/heap")" = 405
check "HEAD heap: 200" test "$(code -I "$U/heap")" = 200
big=$(head -c 9000 /dev/zero | tr '\0' a)
check "431 for 9000 bytes of headers" test "$(code -H "X-Big: $big" "$U/")" = 431
exec 3<>"/dev/tcp/${EP%:*}/${EP##*:}"
printf 'GET /debug/pprof/ HTTP/1.1\n\n' >&3
check "400 for bare LF line ends" sh -c "head -1 <&3 | grep -q '^HTTP/1.1 400 '"
exec 3<&-
check "400 for seconds=x" test "$(code "$U/heap?seconds=x")" = 400
if have_go; then
	got=$(pprof_flat "$U/heap" inuse_space alloc_before)
	check "go tool pprof heap URL: alloc_before inuse_space 1000000 (got $got)" test "$got" = 1000000
	got=$(pprof_flat "$U/allocs" alloc_space alloc_before)
	check "go tool pprof allocs URL: alloc_before alloc_space 1000000 (got $got)" test "$got" = 1000000
	"$GO" tool pprof -top "$U/allocs" 2>/dev/null | grep -q '^Type: alloc_space'
	ok $? "allocs: the default sample type is alloc_space"
	"$GO" tool pprof -top "$U/heap" 2>/dev/null | grep -q '^Type: inuse_space'
	ok $? "heap: the default sample type is inuse_space"
	t0=$(date +%s.%N)
	"$GO" tool pprof -seconds=2 -top -nodefraction=0 -unit=B -sample_index=alloc_space \
		"$U/allocs" >"$WORK/delta.txt" 2>"$WORK/delta.err"
	t1=$(date +%s.%N)
	before=$(awk '$NF == "alloc_before" { v = $1; sub(/B$/, "", v); print v }' "$WORK/delta.txt")
	steady=$(awk '$NF == "alloc_steady" { v = $1; sub(/B$/, "", v); print v }' "$WORK/delta.txt")
	took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	diag "-seconds=2: alloc_steady ${steady:-0} B (4096 per call), alloc_before ${before:-0} B, took $took s"
	check "-seconds=2 on allocs: alloc_before absent" test -z "$before"
	# 2 s at one call per 10 ms plus the call's own time: 100 to 200 calls.
	check "-seconds=2 on allocs: alloc_steady 100 to 200 calls' worth" \
		test "${steady:-0}" -ge 409600 -a "${steady:-0}" -le 819200
	check "-seconds=2 took 2 to 5 s ($took)" awk -v t="$took" 'BEGIN { exit !(t >= 2 && t < 5) }'
else
	skip "go tool pprof checks: go not found (Debian package golang-go)"
fi
got=$("$HEAPPROF_BIN" top --raw --sample-index=inuse_space "$U/heap" 2>"$WORK/top.err" |
	awk -F'\t' '$3 == "alloc_before" { print $1 }')
check "heapprof top URL: alloc_before 1000000 (got ${got:-nothing}: $(head -c 200 "$WORK/top.err"))" \
	test "$got" = 1000000

# ---- limits: one profile at a time, a silent client ----------------------
pids=()
for i in $(seq 16); do
	code "$U/heap" >"$WORK/c$i" &
	pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$WORK"/c* | sort | uniq -c | tr -s ' \n' '  ')
diag "16 concurrent heap requests: $codes"
check "16 concurrent requests: only 200 or 429" sh -c "! cat '$WORK'/c* | grep -qv '^200\$\\|^429\$'"
check "16 concurrent requests: at least one 200" grep -qx 200 "$WORK"/c*
code "$U/heap?seconds=3" >"$WORK/delta.code" &
dpid=$!
sleep 0.5
hdr=$(curl -s -i "$U/heap" | tr -d '\r' | grep -i '^retry-after\|^HTTP')
diag "during a 3 s delta: $hdr"
check "during a delta profile: 429 with Retry-After" sh -c "echo '$hdr' | grep -q '429' && echo '$hdr' | grep -qi 'retry-after: [1-3]'"
wait "$dpid"
check "the 3 s delta itself: 200" test "$(cat "$WORK/delta.code")" = 200
exec 4<>"/dev/tcp/${EP%:*}/${EP##*:}"
printf 'GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n' >&4 # never finished
t0=$(date +%s.%N)
c=$(code "$U/heap")
t1=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
diag "a heap request while a client sits silent: $c in $took s"
check "a silent client delays nobody ($took s)" awk -v t="$took" -v c="$c" 'BEGIN { exit !(c == 200 && t < 1) }'
t0=$(date +%s.%N)
timeout 10 cat <&4 >/dev/null
t1=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
check "the silent client is dropped after about 5 s (${took} s after the request)" \
	awk -v t="$took" 'BEGIN { exit !(t > 3 && t < 6.5) }'
exec 4<&-
conns=()
for i in $(seq 40); do
	exec {fd}<>"/dev/tcp/${EP%:*}/${EP##*:}" && conns+=("$fd")
done
sleep 0.3
full=$(timeout 5 curl -s -i "$U/" | head -1 | tr -d '\r')
check "40 idle connections: beyond 32, 503 at once ($full)" sh -c "echo '$full' | grep -q ' 503 '"
for fd in "${conns[@]}"; do exec {fd}<&-; done
sleep 0.3
check "once they are gone: 200 again" test "$(code "$U/")" = 200
stop main

# ---- jemalloc behind the profiler ---------------------------------------------
if [ -z "$(jemalloc_missing)" ]; then
	ALLOC=jemalloc start je HEAPPROF_HTTP=127.0.0.1:0
	curl -s -o "$WORK/je.pb.gz" "http://$EP/debug/pprof/heap"
	got=$(hp_flat "$WORK/je.pb.gz" inuse_space alloc_before)
	check "jemalloc: heap over HTTP holds alloc_before 1000000 (got $got)" test "$got" = 1000000
	stop je
fi
skip_jemalloc "the endpoint"

# ---- the token ---------------------------------------------------------------
start token HEAPPROF_HTTP=127.0.0.1:0 HEAPPROF_HTTP_TOKEN=s3cret-T0ken
U=http://$EP/debug/pprof
check "token: 401 without Authorization" test "$(code "$U/heap")" = 401
check "token: 401 with a wrong token" test "$(code -H 'Authorization: Bearer s3cret-T0kem' "$U/heap")" = 401
check "token: 401 with a prefix of it" test "$(code -H 'Authorization: Bearer s3cret' "$U/heap")" = 401
check "token: 200 with it" test "$(code -H 'Authorization: Bearer s3cret-T0ken' "$U/heap")" = 200
stop token

start badtoken HEAPPROF_HTTP=127.0.0.1:0 'HEAPPROF_HTTP_TOKEN=se cret'
check "a malformed token: one warning that does not show it" \
	sh -c "grep -q 'HEAPPROF_HTTP_TOKEN=(not shown)' '$WORK/badtoken.err' && ! grep -q 'se cret' '$WORK/badtoken.err'"
stop badtoken

env HEAPPROF_RATE=0 HEAPPROF_HTTP=127.0.0.1:0 LD_PRELOAD="$HEAPPROF_LIB" "$PROG" 0.1 \
	>"$WORK/off.out" 2>"$WORK/off.err"
rc=$?
check "HEAPPROF_RATE=0: no endpoint, one message saying why, the program's own output (rc $rc)" \
	sh -c "test $rc = 7 && test \$(grep -c . '$WORK/off.err') = 1 && grep -q 'HEAPPROF_RATE=0 turns' '$WORK/off.err'"

start open HEAPPROF_HTTP=0.0.0.0:0
check "0.0.0.0 without a token: no endpoint" test -z "$EP"
check "0.0.0.0 without a token: one warning naming HEAPPROF_HTTP" \
	sh -c "test \$(grep -c . '$WORK/open.err') = 1 && grep -q 'HEAPPROF_HTTP=0.0.0.0:0 is not a loopback' '$WORK/open.err'"
check "0.0.0.0 without a token: the program has no listening socket" \
	sh -c "! ls -l /proc/$PID/fd | grep -q socket"
stop open

# ---- IPv6 loopback, and a fork with a fixed address: the child does not serve
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	start v6 'HEAPPROF_HTTP=[::1]:0'
	check "[::1]:0: the record names [::1]:PORT ($EP)" sh -c "echo '$EP' | grep -Eq '^\[::1\]:[0-9]+\$'"
	check "[::1]: heap 200" test "$(code "http://$EP/debug/pprof/heap")" = 200
	stop v6
else
	skip "[::1]: no IPv6 loopback here"
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MODE=fork start fixed HEAPPROF_HTTP=127.0.0.1:$port
sleep 0.5
child=$(pgrep -P "$PID" prog_http)
check "fork with a fixed port: the child ($child) names no endpoint and holds no socket" \
	sh -c "test -n '$child' && ! grep -q '^endpoint' '$REC/$child' && ! ls -l /proc/$child/fd | grep -q socket"
check "fork with a fixed port: the parent still serves" test "$(code "http://$EP/debug/pprof/")" = 200
check "fork with a fixed port: no message" test ! -s "$WORK/fixed.err"
stop fixed

# ---- a program that closes every descriptor, the endpoint's too -------------
MODE=closeall start closeall HEAPPROF_HTTP=127.0.0.1:0
sleep 0.5
curl -s -o /dev/null --max-time 5 "http://$EP/debug/pprof/" # wakes the server
sleep 0.3
check "closeall: the server stops with one message" \
	grep -q 'closed the endpoint.s socket; the endpoint stops' "$WORK/closeall.err"
check "closeall: the server thread is gone" sh -c "! grep -qx heapprof-http /proc/$PID/task/*/comm"
stop closeall

# ---- a unix socket -----------------------------------------------------------
start unix "HEAPPROF_HTTP=unix:$WORK/hp.%p.sock"
sock=$WORK/hp.$PID.sock
check "unix: the record names unix:$sock" test "$EP" = "unix:$sock"
check "unix: the socket is 0600 ($(stat -c %a "$sock" 2>&1))" test "$(stat -c %a "$sock")" = 600
check "unix: heap over the socket, 200" test "$(code --unix-socket "$sock" http://x/debug/pprof/heap)" = 200
curl -s --unix-socket "$sock" -o "$WORK/unix.pb.gz" http://x/debug/pprof/heap
got=$(hp_flat "$WORK/unix.pb.gz" inuse_space alloc_before)
check "unix: the profile holds alloc_before 1000000 (got $got)" test "$got" = 1000000
stop unix
check "unix: the socket is removed at exit" test ! -e "$sock"
MODE=fork start fork "HEAPPROF_HTTP=unix:$WORK/f.%p.sock"
child=""
for _ in $(seq 100); do
	child=$(pgrep -P "$PID" prog_http)
	[ -n "$child" ] && [ -S "$WORK/f.$child.sock" ] && break
	sleep 0.05
done
check "fork: the child serves on its own socket f.$child.sock" test -S "$WORK/f.$child.sock"
curl -s --unix-socket "$WORK/f.$child.sock" -o "$WORK/child.pb.gz" http://x/debug/pprof/heap
curl -s --unix-socket "$WORK/f.$PID.sock" -o "$WORK/parent.pb.gz" http://x/debug/pprof/heap
got=$(hp_flat "$WORK/child.pb.gz" inuse_space alloc_child)
check "fork: the child's heap holds alloc_child 200000 (got $got)" test "$got" = 200000
got=$(hp_flat "$WORK/parent.pb.gz" inuse_space alloc_child)
check "fork: the parent's heap does not (got $got)" test "$got" = 0
stop fork
check "fork: both sockets are removed at exit" test ! -e "$WORK/f.$child.sock" -a ! -e "$WORK/f.$PID.sock"
ln -s "$WORK/target" "$WORK/link.sock"
start link "HEAPPROF_HTTP=unix:$WORK/link.sock"
check "unix: an existing symlink is not followed (no endpoint, a warning)" \
	sh -c "test -z '$EP' && test ! -e '$WORK/target' && grep -q 'cannot serve' '$WORK/link.err'"
stop link
done_testing
