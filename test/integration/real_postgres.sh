# SPDX-License-Identifier: MIT
# PostgreSQL under the profiler: a program that installs its own handler for
# the profiler's signal. The checkpointer takes SIGUSR2 as "shut down", and
# backends ignore it, so `heapprof snapshot` must refuse (exit status 2,
# saying the program replaced the handler) without sending anything: the
# cluster keeps running, untouched. With HEAPPROF_SIGNAL=PROF, a backend and
# the checkpointer each give a snapshot, and `heapprof ps` lists the
# postmaster. The cluster runs as the postgres user from a copy of the
# library in a world-readable directory, and is stopped at the end, or by a
# trap if the test fails.
. "$(dirname "$0")/lib.sh"

PGBIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/pg_ctl" ] || [ ! -x "$PGBIN/initdb" ]; then
	skip_all "pg_ctl and initdb not found under /usr/lib/postgresql/*/bin (Debian package postgresql)"
fi
need psql postgresql-client
id postgres >/dev/null 2>&1 || skip_all "no postgres user (Debian package postgresql)"
[ "$(id -u)" = 0 ] || skip_all "running the cluster as the postgres user needs root (runuser)"
need runuser util-linux

# The library and the files, where the postgres user can reach them even when
# the build tree is in a private directory.
PGTMP=$(mktemp -d /tmp/heapprof-pg.XXXXXX)
chmod 755 "$PGTMP"
cp "$HEAPPROF_LIB" "$PGTMP/libheapprof.so"
chmod 755 "$PGTMP/libheapprof.so"
LIB=$PGTMP/libheapprof.so
DATA=$PGTMP/data
SOCK=$PGTMP/run
PROF=$PGTMP/prof
LOG=$PGTMP/log/server.log
mkdir -p "$DATA" "$SOCK" "$PROF" "$PGTMP/log"
chown postgres: "$DATA" "$SOCK" "$PROF" "$PGTMP/log"
chmod 700 "$DATA"
PORT=$((20000 + $$ % 20000))

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

stop_cluster() {
	[ -f "$DATA/postmaster.pid" ] || return 0
	as_postgres "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 20 stop >/dev/null 2>&1
}
cleanup() {
	[ -n "${client:-}" ] && kill "$client" 2>/dev/null
	stop_cluster
	if [ -f "$DATA/postmaster.pid" ]; then
		kill -KILL "$(head -n 1 "$DATA/postmaster.pid")" 2>/dev/null
	fi
	rm -rf "$PGTMP" "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

# start_cluster [SIGNAL]: the postmaster and all its children under the
# profiler, at the default rate.
start_cluster() {
	as_postgres env LD_PRELOAD="$LIB" HEAPPROF_OUTPUT="$PROF/pg" \
		${1:+HEAPPROF_SIGNAL=$1} \
		"$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 \
		-o "-k $SOCK -c listen_addresses='' -p $PORT" start >/dev/null 2>&1
}

sql() { timeout 20 psql -X -A -t -q -U postgres -h "$SOCK" -p "$PORT" -d postgres -c "$1" 2>&1; }

postmaster() { head -n 1 "$DATA/postmaster.pid" 2>/dev/null; }

child_pid() { # child_pid PATTERN: the postmaster's child whose command matches
	ps --ppid "$(postmaster)" -o pid=,cmd= 2>/dev/null | awk -v p="$1" '$0 ~ p { print $1; exit }'
}

# open_session: a client that stays connected; sets client and backend.
open_session() {
	timeout 40 psql -X -q -U postgres -h "$SOCK" -p "$PORT" -d postgres \
		-c 'select pg_sleep(20)' >/dev/null 2>&1 &
	client=$!
	backend=""
	for _ in $(seq 100); do
		backend=$(sql "select pid from pg_stat_activity where query = 'select pg_sleep(20)'")
		[ -n "$backend" ] && [ "$backend" -gt 0 ] 2>/dev/null && break
		backend=""
		sleep 0.1
	done
}

close_session() {
	[ -n "${client:-}" ] || return 0
	kill "$client" 2>/dev/null
	wait "$client" 2>/dev/null
	client=""
}

# The log lines of a cluster in trouble.
log_trouble() {
	grep -E "terminated by signal|shutting down|database system was interrupted|all server processes terminated" "$LOG"
}

# started NAME [SIGNAL]: starts the cluster and a session; true when the
# postmaster, the checkpointer and the session's backend are all there.
started() {
	start_cluster "${2:-}"
	ok $? "pg_ctl start under the profiler ($1)"
	pm=$(postmaster)
	ckpt=$(child_pid checkpointer)
	open_session
	check "$1: postmaster ${pm:-none}, checkpointer ${ckpt:-none}, backend ${backend:-none}" \
		test -n "$pm" -a -n "$ckpt" -a -n "$backend"
	[ -n "$pm" ] && [ -n "$ckpt" ] && [ -n "$backend" ] && return 0
	tail -n 5 "$LOG" 2>/dev/null | while read -r l; do diag "$l"; done
	return 1
}

# ---- the default signal: PostgreSQL has its own SIGUSR2 handlers ----------
default_signal() {
	started "default signal" || return
	local before after now got trouble rc
	before=$(find "$PROF" -name 'pg.*.signal.pb.gz' | sort)
	timeout 20 "$HEAPPROF_BIN" snapshot --timeout 5 "$backend" >"$WORK/backend.out" 2>"$WORK/backend.err"
	rc=$?
	check "heapprof snapshot BACKEND (SIGUSR2 ignored there) refuses: exit status 2 (got $rc)" \
		test "$rc" = 2
	check "heapprof snapshot BACKEND says the program replaced the handler ($(head -c 300 "$WORK/backend.err"))" \
		grep -qi handler "$WORK/backend.err"
	timeout 20 "$HEAPPROF_BIN" snapshot --timeout 5 "$ckpt" >"$WORK/ckpt.out" 2>"$WORK/ckpt.err"
	rc=$?
	check "heapprof snapshot CHECKPOINTER refuses: exit status 2 (got $rc)" test "$rc" = 2
	check "heapprof snapshot CHECKPOINTER says the program replaced the handler ($(head -c 300 "$WORK/ckpt.err"))" \
		grep -qi handler "$WORK/ckpt.err"
	check "heapprof snapshot CHECKPOINTER prints no path ($(head -c 200 "$WORK/ckpt.out"))" \
		test ! -s "$WORK/ckpt.out"
	sleep 1
	after=$(find "$PROF" -name 'pg.*.signal.pb.gz' | sort)
	check "no snapshot written by the refused requests (exit profiles of backends that ended are fine) ($(comm -13 <(echo "$before") <(echo "$after") | xargs -r -n1 basename | tr '\n' ' '))" \
		test "$before" = "$after"
	check "the same postmaster after a second ($(postmaster), was $pm)" \
		test "$(postmaster)" = "$pm" -a -d "/proc/$pm"
	now=$(child_pid checkpointer)
	check "the same checkpointer after a second (${now:-none}, was $ckpt)" test "$now" = "$ckpt"
	check "the session's backend is still there ($backend)" test -d "/proc/$backend"
	got=$(sql 'select 1')
	check "psql -c 'select 1' works (got $got)" test "$got" = 1
	trouble=$(log_trouble | head -n 3 | tr '\n' ' ')
	check "the server log shows no crash, restart or shutdown (${trouble:-none})" test -z "$trouble"
}

# ---- HEAPPROF_SIGNAL=PROF: a signal PostgreSQL leaves alone ------------------
prof_signal() {
	started "HEAPPROF_SIGNAL=PROF" PROF || return
	local who pid p rc named got trouble
	for who in backend checkpointer; do
		pid=$backend
		[ "$who" = checkpointer ] && pid=$ckpt
		[ -n "$pid" ] || continue
		p=$(timeout 20 "$HEAPPROF_BIN" snapshot --timeout 10 "$pid" 2>"$WORK/$who.err")
		rc=$?
		check "heapprof snapshot $who ($pid) exits 0 (got $rc: $(head -c 300 "$WORK/$who.err"))" \
			test "$rc" = 0
		case $p in
		"$PROF/pg.$pid".*.signal.pb.gz) named=yes ;;
		*) named=no ;;
		esac
		check "heapprof snapshot $who prints the new profile's path (${p:-nothing})" \
			test "$named" = yes -a -f "$p"
		[ -f "$p" ] || continue
		"$HEAPPROF_BIN" info "$p" >"$WORK/$who.info" 2>&1
		check "heapprof info reads the $who's profile" test $? = 0
		check "the $who's profile: trigger signal, pid $pid" \
			test "$(grep -cxE "Comment: (trigger: signal|pid: $pid)" "$WORK/$who.info")" = 2
		check "the $who's profile: the postgres binary is its first mapping" \
			grep -qE "^Mapping 1: .* $PGBIN/postgres( |$)" "$WORK/$who.info"
		if have_go; then
			check "go tool pprof -top opens the $who's profile" \
				quiet "$GO" tool pprof -top "$p"
		fi
	done
	"$HEAPPROF_BIN" ps >"$WORK/ps.out" 2>"$WORK/ps.err"
	rc=$?
	check "heapprof ps exits 0 (got $rc: $(head -c 200 "$WORK/ps.err"))" test "$rc" = 0
	check "heapprof ps lists the postmaster ($pm)" grep -qw "$pm" "$WORK/ps.out"
	got=$(sql 'select 1')
	check "after the snapshots, psql -c 'select 1' works (got $got)" test "$got" = 1
	check "after the snapshots, the same postmaster and checkpointer" \
		test "$(postmaster)" = "$pm" -a "$(child_pid checkpointer)" = "$ckpt"
	trouble=$(log_trouble | head -n 3 | tr '\n' ' ')
	check "the server log shows no crash, restart or shutdown (${trouble:-none})" test -z "$trouble"
}

as_postgres "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust >"$WORK/initdb.log" 2>&1
ok $? "initdb as postgres in $DATA"
default_signal
close_session
stop_cluster
check "pg_ctl stop (default signal)" test ! -f "$DATA/postmaster.pid"
: >"$LOG"
prof_signal
close_session
stop_cluster
check "pg_ctl stop (HEAPPROF_SIGNAL=PROF)" test ! -f "$DATA/postmaster.pid"
have_go || skip "go tool pprof checks: go not installed"
done_testing
