# SPDX-License-Identifier: MIT
# A multi-process server that forks workers without exec: nginx, a master and
# two workers. The same responses with and without the profiler; each process
# writes its own snapshot and exit profile, naming nginx's allocators. nginx
# uses SIGUSR2 itself (binary upgrade), so snapshots use HEAPPROF_SIGNAL=PROF;
# left on SIGUSR2, the profiler says once that the program took the signal.
. "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || skip_all "nginx not found (Debian package nginx-light)"
need curl curl
port=$((20000 + $$ % 20000))
mkdir -p "$WORK/www" "$WORK/tmp"
chmod 1777 "$WORK" "$WORK/tmp"
head -c 200000 /dev/urandom | base64 >"$WORK/www/big.txt"
echo hello >"$WORK/www/index.html"
nginx_conf "$WORK/nginx.conf" "$port" "error_log stderr warn;" "gzip on; gzip_types text/plain;"

# serve NAME [ENV...]: start nginx, fetch pages, (snapshot), quit.
serve() {
	local name=$1
	shift
	HEAPPROF_OUTPUT=$WORK/$name timeout "$RUN_TIMEOUT" env "$@" \
		"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" >"$WORK/$name.log" 2>&1 &
	server=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
		sleep 0.05
	done
	: >"$WORK/$name.out"
	for _ in $(seq 60); do
		curl -s "http://127.0.0.1:$port/big.txt" | md5sum >>"$WORK/$name.out"
		curl -s --compressed "http://127.0.0.1:$port/big.txt" | md5sum >>"$WORK/$name.out"
	done
	curl -s "http://127.0.0.1:$port/missing" -o /dev/null -w '%{http_code}\n' >>"$WORK/$name.out"
	master=$(cat "$WORK/nginx.pid" 2>/dev/null)
	workers=$(pgrep -P "${master:-0}" | tr '\n' ' ')
	if [ "${SNAPSHOT:-}" = 1 ]; then
		for p in $master $workers; do kill -PROF "$p"; done
		for p in $master $workers; do wait_file 20 "$WORK/$name.$p".*.signal.pb.gz; done
	fi
	[ -n "${LINGER:-}" ] && sleep "$LINGER"
	[ -n "$master" ] && kill -QUIT "$master"
	wait "$server"
}
serve plain
plain=$?
check "plain nginx served and quit (status $plain)" test "$plain" = 0
# The master allocates well under 512 KiB: 16 KiB gives it four times the
# samples of 64 KiB, where one run in a loaded suite named no ngx_ function.
SNAPSHOT=1 serve prof LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_SIGNAL=PROF HEAPPROF_RATE=16K
rc=$?
check "profiled nginx exits $plain too (got $rc)" test "$rc" = "$plain"
check "identical responses (121)" cmp -s "$WORK/plain.out" "$WORK/prof.out"
check "two workers found ($workers)" test "$(echo $workers | wc -w)" = 2
for p in $master $workers; do
	role=worker
	[ "$p" = "$master" ] && role=master
	snap=$(one_file "$WORK/prof.$p".*.signal.pb.gz)
	exitp=$(one_file "$WORK/prof.$p".*.exit.pb.gz)
	check "$role $p wrote its own snapshot" test -n "$snap"
	check "$role $p wrote its own exit profile" test -n "$exitp"
	[ -n "$snap" ] && check_real "nginx $role" "$snap" '^ngx_' alloc_space
	[ -n "$exitp" ] && check_real "nginx $role" "$exitp" '^ngx_' alloc_space
done
check "no profiler message with HEAPPROF_SIGNAL=PROF" bash -c "! grep -q heapprof: '$WORK/prof.log'"

LINGER=1.5 serve usr2 LD_PRELOAD="$HEAPPROF_LIB"
check "left on SIGUSR2: the profiler says the program took the signal" \
	grep -q "installed its own SIGUSR2 handler" "$WORK/usr2.log"
done_testing
