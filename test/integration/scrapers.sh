# SPDX-License-Identifier: MIT
# Fleet scrapers: what Parca and Grafana Alloy fetch by default
# (/debug/pprof/allocs, /heap: cumulative, Go's sample types, period type
# space/bytes) and godeltaprof's /debug/pprof/delta_heap for Alloy's delta
# mode (alloc_* since the previous request of that path, inuse_* whole), read
# by go tool pprof at rate 1 with known allocations between the requests.
. "$(dirname "$0")/lib.sh"
need curl curl
have_go || skip_all "go tool pprof is the reader here: go not found (Debian package golang-go)"

PROG=$TEST_BUILDDIR/prog_scrape
D=$WORK/ctl
mkdir -p "$D"
HEAPPROF_RATE=1 HEAPPROF_AT_EXIT=0 HEAPPROF_HTTP=127.0.0.1:0 HEAPPROF_OUTPUT="$WORK/hp" \
	LD_PRELOAD=$HEAPPROF_LIB "$PROG" "$D" >"$WORK/out" 2>"$WORK/err" &
PID=$!
EP=$(endpoint_of "$PID" "$WORK/err")
check "the endpoint is up ($EP)" test -n "$EP"
U=http://$EP/debug/pprof

allocate() { # allocate N: N x (alloc_kept 1000 B kept, alloc_freed 500 B freed)
	rm -f "$D/done"
	echo "$1" >"$D/go.tmp" && mv "$D/go.tmp" "$D/go"
	wait_file 20 "$D/done" || diag "prog_scrape did not answer"
}
fetch() { curl -sf --max-time 20 -o "$WORK/$1.pb.gz" "$U/$2"; }
flat() { pprof_flat "$WORK/$1.pb.gz" "$2" "$3"; }
# types PROFILE: go tool pprof -raw's period type and sample types, on one line.
types() {
	"$GO" tool pprof -raw "$WORK/$1.pb.gz" 2>/dev/null |
		awk '/^PeriodType:/ { p = $2 "/" $3 } /^Samples:/ { getline; print p, $0; exit }'
}
GO_TYPES='space/bytes alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes'

# ---- the cumulative paths, as Parca and Alloy fetch them --------------------
fetch allocs allocs && fetch heap heap
for p in allocs heap; do
	t=$(types "$p")
	check "$p: period type space/bytes, Go's four sample types in Go's order ($t)" \
		test "${t/\[dflt\]/}" = "$GO_TYPES"
done
check "allocs: default alloc_space" sh -c "'$GO' tool pprof -top '$WORK/allocs.pb.gz' 2>/dev/null | grep -q '^Type: alloc_space'"
check "heap: default inuse_space" sh -c "'$GO' tool pprof -top '$WORK/heap.pb.gz' 2>/dev/null | grep -q '^Type: inuse_space'"

# ---- delta_heap: requests with known allocations between them -------------
fetch d1 delta_heap
allocate 7
fetch d2 delta_heap
allocate 3
fetch d3 delta_heap
fetch d4 delta_heap
allocate 2
check "HEAD delta_heap: 200" test "$(curl -s -o /dev/null -I -w '%{http_code}' "$U/delta_heap")" = 200
fetch d5 delta_heap
fetch allocs2 allocs
t=$(types d2)
check "delta_heap: period type space/bytes, Go's sample types ($t)" test "${t/\[dflt\]/}" = "$GO_TYPES"
check "delta_heap: default alloc_space" sh -c "'$GO' tool pprof -top '$WORK/d2.pb.gz' 2>/dev/null | grep -q '^Type: alloc_space'"
# name profile type function expected
while read -r p t f e; do
	got=$(flat "$p" "$t" "$f")
	check "$p $t $f = $e (got $got)" test "$got" = "$e"
done <<'EOT'
d1 alloc_space alloc_before 1000000
d1 inuse_space alloc_before 1000000
d1 alloc_space alloc_kept 0
d2 alloc_space alloc_before 0
d2 inuse_space alloc_before 1000000
d2 alloc_space alloc_kept 7000
d2 alloc_objects alloc_kept 7
d2 inuse_space alloc_kept 7000
d2 alloc_space alloc_freed 3500
d2 inuse_space alloc_freed 0
d3 alloc_space alloc_kept 3000
d3 alloc_objects alloc_kept 3
d3 inuse_space alloc_kept 10000
d3 alloc_space alloc_freed 1500
d3 inuse_space alloc_before 1000000
d4 alloc_space alloc_kept 0
d4 inuse_space alloc_kept 10000
d5 alloc_space alloc_kept 2000
d5 inuse_space alloc_kept 12000
allocs2 alloc_space alloc_kept 12000
allocs2 alloc_space alloc_before 1000000
EOT
check "index lists delta_heap" sh -c "curl -sf '$U/?debug=1' | grep -q '^delta_heap: '"
check "delta_heap refuses POST (405)" test \
	"$(curl -s -o /dev/null -w '%{http_code}' --data x "$U/delta_heap")" = 405

touch "$D/stop"
wait "$PID"
rc=$?
check "the program's output and status are its own (rc $rc)" \
	test "$rc" = 7 -a "$(cat "$WORK/out")" = "prog_scrape: done"
check "no message on stderr" test ! -s "$WORK/err"
done_testing
