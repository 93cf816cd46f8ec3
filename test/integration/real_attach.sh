# SPDX-License-Identifier: MIT
# heapprof attach and detach on real programs started without the profiler:
# redis-server (jemalloc behind it) under redis-benchmark, through several
# attach / snapshot / detach cycles (ATTACH_CYCLES, default 5); python3 (a
# program not built as PIE, two threads); a multithreaded C++ program. Every
# snapshot opens in go tool pprof; each program answers and exits as it would
# have.
. "$(dirname "$0")/lib.sh"

H=$HEAPPROF_BIN
CYCLES=${ATTACH_CYCLES:-5}

# cycle NAME PID N [ATTACH-OPTIONS...]: N attach / snapshot / detach cycles.
cycle() {
	local name=$1 pid=$2 n=$3 i snap bad=0 read=0
	shift 3
	for i in $(seq "$n"); do
		"$H" attach --output "$WORK/$name" "$@" "$pid" >>"$WORK/$name.attach" 2>&1 || bad=$((bad + 1))
		sleep 0.2
		snap=$("$H" snapshot "$pid" 2>>"$WORK/$name.attach") || bad=$((bad + 1))
		if [ -n "$snap" ] && have_go && "$GO" tool pprof -raw "$snap" >/dev/null 2>&1; then
			read=$((read + 1))
		fi
		"$H" detach "$pid" >>"$WORK/$name.attach" 2>&1 || bad=$((bad + 1))
	done
	check "$name: $n attach / snapshot / detach cycles, no failure ($bad)" test "$bad" = 0
	if have_go; then
		check "$name: go tool pprof opens each snapshot ($read of $n)" test "$read" = "$n"
	else
		skip "$name: go tool pprof not installed"
	fi
	diag "$(grep -o 'threads stopped [0-9.]* ms' "$WORK/$name.attach" | awk '{ print $3 }' |
		sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%s: threads stopped, median %s ms, max %s ms, of %d calls", "'"$name"'", v[int((NR + 1) / 2)], v[NR], NR }')"
}

if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null &&
	command -v redis-cli >/dev/null; then
	sock=$WORK/redis.sock
	redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no \
		--daemonize no --loglevel warning >"$WORK/redis.log" 2>&1 &
	server=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	redis-cli -s "$sock" SET attach:key attach-value >/dev/null
	redis-benchmark -s "$sock" -l -n 20000 -c 8 -t set,get,lpush -q >"$WORK/bench" 2>&1 &
	bench=$!
	sleep 0.3
	cycle redis "$server" "$CYCLES"
	kill -TERM "$bench" 2>/dev/null
	wait "$bench" 2>/dev/null
	check "redis-benchmark reported no error" test -z "$(tr '\r' '\n' <"$WORK/bench" | grep -i error)"
	got=$(redis-cli -s "$sock" GET attach:key)
	check "redis answers, its data intact (got '$got')" test "$got" = attach-value
	redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1
	wait "$server"
	ok $? "redis-server exits with status 0"
else
	skip "redis-server, redis-cli or redis-benchmark not installed (redis-server, redis-tools)"
fi

if [ -x /usr/bin/python3 ]; then
	cat >"$WORK/prog.py" <<'PY'
import sys, threading, time
def work(n, size, keep):
    ring = []
    for i in range(n):
        ring.append(bytearray(size)); ring = ring[-keep:]; time.sleep(0.005)
    return len(ring)
t = threading.Thread(target=work, args=(600, 5000, 50)); t.start()
print("ready", flush=True)
n = work(600, 10000, 100)
t.join()
print("done", n)
PY
	/usr/bin/python3 "$WORK/prog.py" >"$WORK/py.out" 2>"$WORK/py.err" &
	py=$!
	wait_line "$WORK/py.out" ready
	cycle python3 "$py" 2 --rate 4096
	wait "$py"
	ok $? "python3 exits with status 0"
	check "python3 printed what it prints unattached" test "$(cat "$WORK/py.out")" = "$(printf 'ready\ndone 100')"
	check "python3: nothing on its stderr" test ! -s "$WORK/py.err"
	# A module loaded after the attach: libsqlite3's allocations are seen.
	cat >"$WORK/late.py" <<'PY'
import os, sys, time
def wait(f):
    while not os.path.exists(f): time.sleep(0.01)
print("ready", flush=True)
wait(sys.argv[1])
import sqlite3
c = sqlite3.connect(":memory:")
c.execute("create table t(a, b)")
c.executemany("insert into t values (?, ?)", ((i, "x" * 100) for i in range(20000)))
print("rows", c.execute("select count(*) from t").fetchone()[0], flush=True)
wait(sys.argv[2])
PY
	/usr/bin/python3 "$WORK/late.py" "$WORK/late.go" "$WORK/late.end" >"$WORK/late.out" 2>&1 &
	py=$!
	wait_line "$WORK/late.out" ready
	"$H" attach --rate 4096 --output "$WORK/late" "$py" >/dev/null 2>&1
	touch "$WORK/late.go"
	wait_line "$WORK/late.out" "rows 20000"
	snap=$("$H" snapshot "$py")
	got=$(hp_flat "$snap" alloc_space sqlite3Malloc)
	[ "$got" = 0 ] && got=$(hp_flat "$snap" alloc_space "[libsqlite3.so.0]")
	check "python3: libsqlite3, loaded after the attach, allocated $got bytes in the profile" test "${got:-0}" -gt 1000000
	"$H" detach "$py" >/dev/null 2>&1
	ok $? "python3: detached after the import"
	touch "$WORK/late.end"
	wait "$py"
	ok $? "python3 with sqlite3: exit status 0"
else
	skip "python3: /usr/bin/python3 not installed"
fi

cxx=$TEST_BUILDDIR/prog_attach_cxx
"$cxx" "$WORK/cxx.stop" >"$WORK/cxx.out" 2>"$WORK/cxx.err" &
pid=$!
wait_line "$WORK/cxx.out" ready
cycle cxx "$pid" 2 --rate 65536
snap=$(one_file "$WORK"/cxx.*.0002.signal.pb.gz)
got=$(hp_flat "$snap" alloc_objects "std::__new_allocator<long>::allocate")
check "cxx: allocations by operator new in the second snapshot (std::__new_allocator<long>::allocate: $got objects)" test "${got:-0}" -gt 0
touch "$WORK/cxx.stop"
wait "$pid"
rc=$?
check "cxx: exits with its own status 5 (got $rc)" test "$rc" = 5
check "cxx: printed its checksum" test "$(tail -n 1 "$WORK/cxx.out")" = "done 1024"
check "cxx: nothing on its stderr" test ! -s "$WORK/cxx.err"
done_testing
