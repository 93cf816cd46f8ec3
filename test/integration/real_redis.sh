# SPDX-License-Identifier: MIT
# A program linked against jemalloc itself: redis-server (ldd shows
# libjemalloc.so.2), so the profiler forwards to jemalloc. 200,000 keys set
# over a unix socket; the same replies with and without the profiler; a
# SIGUSR2 snapshot of the loaded server and an exit profile after SHUTDOWN,
# naming Redis's own allocation functions.
. "$(dirname "$0")/lib.sh"

need redis-server redis-server
need redis-cli redis-tools
check "redis-server is linked against jemalloc" bash -c "ldd \$(command -v redis-server) | grep -q libjemalloc"
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "SET key:%d value-%d-%s\r\n", i, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" }' >"$WORK/load.txt"

# serve NAME [PRELOAD]: start a server, load it, query it, shut it down.
serve() {
	local name=$1 preload=${2:-} sock=$WORK/$1.sock
	HEAPPROF_OUTPUT=$WORK/$name timeout "$RUN_TIMEOUT" env ${preload:+LD_PRELOAD="$preload"} \
		redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no \
		--daemonize no --loglevel warning >"$WORK/$name.log" 2>&1 &
	server=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	redis-cli -s "$sock" --pipe <"$WORK/load.txt" >/dev/null 2>&1
	{
		redis-cli -s "$sock" DBSIZE
		redis-cli -s "$sock" GET key:777
		redis-cli -s "$sock" STRLEN key:199999
		redis-cli -s "$sock" EXISTS key:200000
	} >"$WORK/$name.out" 2>&1
	if [ -n "$preload" ]; then
		signal_program "$server" USR2
		wait_file 20 "$WORK/$name".*.signal.pb.gz
	fi
	redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1
	wait "$server"
}
serve plain
plain=$?
serve prof "$HEAPPROF_LIB"
rc=$?
check "server exit status $rc = $plain" test "$rc" = "$plain"
check "the same replies ($(tr '\n' ' ' <"$WORK/prof.out"))" cmp -s "$WORK/plain.out" "$WORK/prof.out"
check "200000 keys stored" grep -qx 200000 "$WORK/prof.out"
check "no profiler message in the server log" bash -c "! grep -q heapprof '$WORK/prof.log'"
snap=$(one_file "$WORK"/prof.*.signal.pb.gz)
exitp=$(one_file "$WORK"/prof.*.exit.pb.gz)
check "SIGUSR2 snapshot of the loaded server" test -n "$snap"
check "exit profile after SHUTDOWN" test -n "$exitp"
rx='^z(try)?(malloc|calloc|realloc)|^sds|^dict|^create|Object'
[ -n "$snap" ] && check_real redis-server "$snap" "$rx"
[ -n "$exitp" ] && check_real redis-server "$exitp" "$rx" alloc_space
if [ -n "$snap" ]; then
	kb=$(hp_flat "$snap" inuse_space zmalloc)
	check "the snapshot holds the keys: zmalloc inuse ${kb} B > 5 MB" test "${kb:-0}" -gt 5000000
fi
done_testing
