# SPDX-License-Identifier: MIT
# nginx's workers drop root for nobody after the fork. Each moves its process
# record to /tmp/heapprof-65534 when it calls setuid (proc_record.c), so
# heapprof ps lists master and workers, and heapprof snapshot reaches a worker
# as root and as nobody; nobody cannot write in the output prefix's
# directory, so a worker's profiles go to its private directory, said once.
# nginx's error log, at notice, names every signal nginx's own handlers
# receive: only the SIGQUIT this test sends, SIGCHLD and SIGIO (nginx's
# channels to its workers are O_ASYNC) may appear, never SIGPROF. The
# profiler's messages are there too: nginx sends its stderr to that log. With
# SIGUSR2, which nginx handles itself, heapprof snapshot refuses and sends
# nothing. Root only.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root: nginx's workers change user only when started as root"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || skip_all "nginx not found (Debian package nginx-light)"
need curl curl
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
command -v su >/dev/null || skip_all "no su"
nobody_uid=$(id -u nobody)
port=$((20000 + ($$ + 7) % 20000))
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/out" "$WORK/tmp"
chmod 1777 "$WORK/tmp"
echo hello >"$WORK/www/index.html"
nginx_conf "$WORK/nginx.conf" "$port" "user nobody nogroup;
error_log $WORK/error.log notice;" ""
fallback=/tmp/heapprof-$nobody_uid
all_workers=""
trap 'rm -rf "$WORK"; for w in $all_workers; do rm -f "$fallback/prof.$w".*; done' EXIT

# start SIGNAL: nginx under the profiler; sets master, w1, w2.
start() {
	: >"$WORK/error.log"
	LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_SIGNAL=$1 HEAPPROF_RATE=16K \
		HEAPPROF_OUTPUT=$WORK/out/prof timeout "$RUN_TIMEOUT" \
		"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" >"$WORK/stderr" 2>&1 &
	server=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
		sleep 0.05
	done
	master=$(cat "$WORK/nginx.pid")
	set -- $(pgrep -P "$master")
	w1=${1:-x} w2=${2:-x}
	all_workers="$all_workers $w1 $w2"
}

stop() {
	kill -QUIT "$master"
	wait "$server"
}

as_nobody() { su nobody -s /bin/sh -c "$*"; }

start PROF
check "two workers, user nobody" test "$(ps -o user= -p "$w1,$w2" | sort -u)" = nobody
"$HEAPPROF_BIN" ps >"$WORK/ps.root"
for p in $master $w1 $w2; do
	check "heapprof ps as root lists $p" grep -q "^$p " "$WORK/ps.root"
done
check "each process is listed once" test -z "$(awk '{print $1}' "$WORK/ps.root" | sort | uniq -d)"
as_nobody "'$HEAPPROF_BIN' ps" >"$WORK/ps.nobody"
check "heapprof ps as nobody lists both workers" \
	bash -c "grep -q '^$w1 ' '$WORK/ps.nobody' && grep -q '^$w2 ' '$WORK/ps.nobody'"
check "heapprof ps as nobody does not list root's master" bash -c "! grep -q '^$master ' '$WORK/ps.nobody'"
check "a worker's record names the fallback prefix" grep -q "^$w1 .* $fallback/prof " "$WORK/ps.root"

snap1=$("$HEAPPROF_BIN" snapshot "$w1" 2>"$WORK/snap1.err")
check "heapprof snapshot of worker $w1 as root ($snap1)" test -f "$snap1"
case "$snap1" in "$fallback/prof.$w1."*.signal.pb.gz) ok 0 "in the worker's fallback directory" ;;
*) ok 1 "in the worker's fallback directory" ;; esac
[ -f "$snap1" ] && check_real "nginx worker (root's snapshot)" "$snap1" '^ngx_' alloc_space
snap2=$(as_nobody "'$HEAPPROF_BIN' snapshot $w2" 2>"$WORK/snap2.err")
check "heapprof snapshot of worker $w2 as nobody ($snap2)" test -f "$snap2"
[ -f "$snap2" ] && check_real "nginx worker (nobody's snapshot)" "$snap2" '^ngx_' alloc_space
snapm=$("$HEAPPROF_BIN" snapshot "$master" 2>"$WORK/snapm.err")
case "$snapm" in "$WORK/out/prof.$master."*.signal.pb.gz) ok 0 "the master's snapshot is at the prefix ($snapm)" ;;
*) ok 1 "the master's snapshot is at the prefix ($snapm)" ;; esac
check "heapprof snapshot of the master as nobody: refused, another user's" \
	bash -c "! su nobody -s /bin/sh -c \"'$HEAPPROF_BIN' snapshot $master\" 2>/dev/null"
stop
for w in $w1 $w2; do
	check "worker $w says once where its profiles go" \
		test "$(grep -c "process $w, now user $nobody_uid, cannot write profiles" "$WORK/error.log")" = 1
	check "worker $w wrote its exit profile in $fallback" test -n "$(one_file "$fallback/prof.$w".*.exit.pb.gz)"
done
check "the master wrote its exit profile at the prefix" test -n "$(one_file "$WORK/out/prof.$master".*.exit.pb.gz)"
check "no record is left behind" bash -c "! ls /tmp/heapprof-0/$master $fallback/$w1 $fallback/$w2 2>/dev/null | grep -q ."
grep 'signal [0-9]* (' "$WORK/error.log" >"$WORK/signals"
check "nginx's handlers received SIGQUIT, SIGCHLD, SIGIO only, no SIGPROF ($(wc -l <"$WORK/signals") signals)" \
	bash -c "grep -q 'signal 3 (SIGQUIT)' '$WORK/signals' && ! grep -v -e 'signal 3 (SIGQUIT)' -e 'signal 17 (SIGCHLD)' -e 'signal 29 (SIGIO)' '$WORK/signals'"

# With SIGUSR2, nginx's own signal, heapprof snapshot refuses for everyone.
start USR2
for p in $master $w1; do
	check "USR2: heapprof snapshot $p refuses" bash -c "! '$HEAPPROF_BIN' snapshot $p 2>'$WORK/refuse.$p'"
	check "USR2: because nginx installed its own handler" grep -q "installed its own handler for SIGUSR2" "$WORK/refuse.$p"
done
stop
check "USR2: nginx's handlers received no SIGUSR2" bash -c "! grep -q 'signal 12 (SIGUSR2)' '$WORK/error.log'"
done_testing
