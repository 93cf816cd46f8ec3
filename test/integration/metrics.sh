# SPDX-License-Identifier: MIT
# HEAPPROF_HTTP's /metrics: Prometheus' text format 0.0.4. A program with a
# known story (prog_http.c: 1000000 bytes in 100 blocks kept for good; 4096
# bytes allocated and freed every 10 ms) at HEAPPROF_RATE=1, where the
# estimates are exact: /metrics says 1000000 bytes and 100 objects in use,
# counts the profiles served and the requests refused, and keeps the token.
# Then a real Prometheus (Debian's prometheus) scrapes it every second on
# loopback and its query API must return the same 1000000.
. "$(dirname "$0")/lib.sh"
need curl curl

PROG=$TEST_BUILDDIR/prog_http
PROM_PID=""
trap '[ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null; [ -n "$PROM_PID" ] && wait "$PROM_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

. "$(dirname "$0")/http_prog.sh"

# value NAME: the value of the sample line NAME (with its labels) on the page.
value() { awk -v n="$1" '$1 == n { print $2 }' "$WORK/metrics"; }

# The 4096 bytes of alloc_steady are in use for a moment each 10 ms: a page
# read in that moment says 1004096. Reads again until it says 1000000.
read_metrics() {
	for _ in 1 2 3 4 5; do
		curl -sf --max-time 10 -D "$WORK/headers" "$@" "http://$EP/metrics" >"$WORK/metrics"
		[ "$(value heapprof_inuse_bytes)" = 1000000 ] && return 0
		sleep 0.03
	done
}

start m HEAPPROF_HTTP=127.0.0.1:0
check "the endpoint is up ($EP)" test -n "$EP"
read_metrics
inuse=$(value heapprof_inuse_bytes)
diag "program: 1000000 bytes in 100 objects in use; /metrics: $inuse bytes, $(value heapprof_inuse_objects) objects"
check "Content-Type: text/plain; version=0.0.4" grep -qi '^Content-Type: text/plain; version=0.0.4' "$WORK/headers"
check "heapprof_inuse_bytes 1000000 (exact at rate 1): $inuse" test "$inuse" = 1000000
check "heapprof_inuse_objects 100" test "$(value heapprof_inuse_objects)" = 100
check "a HELP and a TYPE line for each name" sh -c \
	"test \$(grep -c '^# HELP heapprof_' '$WORK/metrics') = 9 -a \$(grep -c '^# TYPE heapprof_' '$WORK/metrics') = 9"
check "heapprof_inuse_bytes is a gauge" grep -qx '# TYPE heapprof_inuse_bytes gauge' "$WORK/metrics"
check "heapprof_alloc_bytes_total is a counter" grep -qx '# TYPE heapprof_alloc_bytes_total counter' "$WORK/metrics"
ab=$(value heapprof_alloc_bytes_total)
ao=$(value heapprof_alloc_objects_total)
check "alloc bytes: 1000000 + 4096 per steady block ($ab, $ao objects)" \
	test "$ab" -gt 1000000 -a $(((ab - 1000000) % 4096)) = 0 -a $(((ab - 1000000) / 4096)) = $((ao - 100))
check "samples = objects allocated at rate 1 ($(value heapprof_samples_total))" \
	test "$(value heapprof_samples_total)" = "$ao"
check "heapprof_sampling_rate_bytes 1" test "$(value heapprof_sampling_rate_bytes)" = 1
check "no profile written yet" test "$(value 'heapprof_profiles_written_total{reason="http"}')" = 0
curl -sf -o /dev/null "http://$EP/debug/pprof/heap"
curl -s -o /dev/null "http://$EP/no/such/path"
read_metrics
check "a heap profile served counts as reason=\"http\"" \
	test "$(value 'heapprof_profiles_written_total{reason="http"}')" = 1
check "a 404 counts as refused" test "$(value 'heapprof_http_requests_refused_total{code="404"}')" = 1
check "no profile failed" test "$(awk '/^heapprof_profiles_failed_total/ { s += $2 } END { print s }' "$WORK/metrics")" = 0
check "/metrics is not on the /debug/pprof/ index" sh -c "! curl -sf 'http://$EP/debug/pprof/?debug=1' | grep -q metrics"
check "HEAD /metrics: 200, no body" test "$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "http://$EP/metrics")" = "200 0"
stop m

start tok HEAPPROF_HTTP=127.0.0.1:0 HEAPPROF_HTTP_TOKEN=s3cret
check "token: /metrics without it is 401" test "$(curl -s -o /dev/null -w '%{http_code}' "http://$EP/metrics")" = 401
read_metrics -H "Authorization: Bearer s3cret"
check "token: with it, 200 and the numbers" test "$(value heapprof_inuse_bytes)" = 1000000
check "token: the 401 is counted" test "$(value 'heapprof_http_requests_refused_total{code="401"}')" = 1
stop tok

# ---- a real Prometheus scrapes it -------------------------------------------
if [ ! -x /usr/bin/prometheus ]; then
	skip "/usr/bin/prometheus missing (Debian package prometheus): no scrape by a real Prometheus"
	done_testing
	exit 0
fi
start prom HEAPPROF_HTTP=127.0.0.1:0
# A free loopback port for Prometheus: the kernel's pick, released at once.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 30000)))
cat >"$WORK/prom.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: heapprof
    static_configs:
      - targets: ['$EP']
EOF
/usr/bin/prometheus --config.file="$WORK/prom.yml" --storage.tsdb.path="$WORK/prom" \
	--web.listen-address="127.0.0.1:$PORT" >"$WORK/prom.log" 2>&1 &
PROM_PID=$!
Q="http://127.0.0.1:$PORT/api/v1/query"
got=""
for _ in $(seq 200); do # 20 s at most: up, scraped, the value in
	got=$(curl -s --max-time 2 "$Q?query=heapprof_inuse_bytes" |
		sed -n 's/.*"value":\[[0-9.]*,"\([0-9.e+]*\)"\].*/\1/p')
	[ "$got" = 1000000 ] && break
	sleep 0.1
done
diag "program: 1000000 bytes in use; Prometheus' query heapprof_inuse_bytes: ${got:-none}"
check "Prometheus scraped /metrics: heapprof_inuse_bytes = 1000000 (${got:-none})" test "$got" = 1000000
up=$(curl -s --max-time 2 "$Q?query=up" | sed -n 's/.*"value":\[[0-9.]*,"\([0-9]*\)"\].*/\1/p')
check "Prometheus: the target is up ($up)" test "$up" = 1
kill "$PROM_PID" 2>/dev/null
wait "$PROM_PID" 2>/dev/null
PROM_PID=""
stop prom
done_testing
