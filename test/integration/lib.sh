# SPDX-License-Identifier: MIT
# Shared helpers for the integration drivers: TAP output, running programs
# under the profiler (on glibc, and with jemalloc preloaded behind it), and
# reading numbers out of profiles with heapprof and with go tool pprof.

set -u
: "${HEAPPROF_LIB:?run through make check}"
: "${HEAPPROF_BIN:?run through make check}"
: "${TEST_BUILDDIR:?run through make check}"
: "${JEMALLOC_SO:=}"
: "${GO:=}"

TAP_N=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PPROF_TMPDIR="$WORK"
# Each run may take this long before it counts as a hang.
RUN_TIMEOUT=${RUN_TIMEOUT:-120}

ok() { # ok STATUS DESCRIPTION
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then echo "ok $TAP_N - $2"; else echo "not ok $TAP_N - $2"; fi
}

check() { # check DESCRIPTION COMMAND...: ok if the command succeeds
	local d=$1
	shift
	if "$@"; then ok 0 "$d"; else ok 1 "$d"; fi
}

skip() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N # SKIP $1"
}

diag() { echo "# $*"; }

done_testing() { echo "1..$TAP_N"; }

have_go() { [ -n "$GO" ] && [ -x "$GO" ]; }

# Why the jemalloc runs cannot happen here; nothing when they can.
jemalloc_missing() {
	if [ -z "$JEMALLOC_SO" ]; then
		echo "libjemalloc.so.2 not found by configure (optional; Debian package libjemalloc-dev)"
	elif [ ! -f "$JEMALLOC_SO" ]; then
		echo "$JEMALLOC_SO does not exist"
	fi
}

# The allocators every integration test runs on.
allocators() {
	echo glibc
	[ -n "$(jemalloc_missing)" ] || echo jemalloc
}

# skip_jemalloc WHAT: without jemalloc, one skipped check in place of the
# jemalloc checks WHAT names, with the reason; nothing otherwise.
skip_jemalloc() {
	local why
	why=$(jemalloc_missing)
	if [ -n "$why" ]; then skip "$1 on jemalloc: $why"; fi
}

preload_for() {
	case $1 in
	glibc) echo "$HEAPPROF_LIB" ;;
	jemalloc) echo "$HEAPPROF_LIB $JEMALLOC_SO" ;;
	# A library whose constructor allocates before the profiler's runs.
	ctor) echo "$HEAPPROF_LIB $TEST_BUILDDIR/.libs/libhpctor.so" ;;
	esac
}

# endpoint_of PID [ERRFILE]: waits up to 5 s for PID's record to name its
# HEAPPROF_HTTP endpoint and prints it (nothing if none; stops waiting early
# once ERRFILE has something in it).
endpoint_of() {
	local rec=/tmp/heapprof-$(id -u)/$1 err=${2:-} ep=""
	for _ in $(seq 100); do
		ep=$(awk '$1 == "endpoint" { print $2 }' "$rec" 2>/dev/null)
		[ -n "$ep" ] && break
		[ -n "$err" ] && grep -qs . "$err" && break
		sleep 0.05
	done
	echo "$ep"
}

# run ALLOCATOR PROGRAM ARGS...: runs under the profiler with a timeout.
run_profiled() {
	local alloc=$1
	shift
	timeout "$RUN_TIMEOUT" env LD_PRELOAD="$(preload_for "$alloc")" "$@"
}

# Exact flat value of FUNC (function name, or a prefix ending in "(") for a
# sample type, from heapprof's reader; 0 if absent. BASE may be empty.
hp_flat() { # hp_flat PROFILE TYPE FUNC [BASE]
	local base=()
	[ -n "${4:-}" ] && base=(--base "$4")
	"$HEAPPROF_BIN" top --raw --sample-index="$2" "${base[@]}" "$1" |
		awk -F'\t' -v f="$3" '$3 == f || index($3, f "(") == 1 { s += $1; found = 1 }
			END { printf "%.0f\n", found ? s : 0 }'
}

# The same number from go tool pprof -top (exact units with -unit=B).
pprof_flat() { # pprof_flat PROFILE TYPE FUNC [BASE]
	local base=()
	[ -n "${4:-}" ] && base=(-base "$4")
	"$GO" tool pprof -top -nodefraction=0 -nodecount=100000 -unit=B \
		-sample_index="$2" "${base[@]}" "$1" 2>/dev/null |
		awk -v f="$3" '
		/^ *-?[0-9.]+B? +-?[0-9.]+% / {
			name = $6; for (i = 7; i <= NF; i++) name = name " " $i
			if (name == f || index(name, f "(") == 1) {
				v = $1; sub(/B$/, "", v); s += v; found = 1
			}
		}
		END { printf "%.0f\n", found ? s : 0 }'
}

# Does go tool pprof -top list FUNC for this sample type?
pprof_lists() { # pprof_lists PROFILE TYPE FUNC
	"$GO" tool pprof -top -nodefraction=0 -nodecount=100000 -sample_index="$2" "$1" \
		2>/dev/null | grep -q -- " $3"
}

within() { # within VALUE EXPECTED TOLERANCE
	awk -v v="$1" -v e="$2" -v t="$3" 'BEGIN { d = v - e; if (d < 0) d = -d; exit !(d <= t) }'
}

# The only file matching a glob, or nothing.
one_file() {
	local f
	for f in "$@"; do [ -e "$f" ] && echo "$f"; done | head -n 1
}

quiet() { "$@" >/dev/null 2>&1; }

wait_line() { # wait_line FILE TEXT: until FILE holds TEXT, up to 20 s
	local i
	for i in $(seq 400); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# The whole script is skipped (TAP skip plan): only for a missing package.
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 || skip_all "$1 not found (Debian package $2)"
}

wait_file() { # wait_file SECONDS GLOB...: until one of the files exists
	local n=$(($1 * 20))
	shift
	while [ $n -gt 0 ]; do
		[ -n "$(one_file "$@")" ] && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# Function names go tool pprof -top lists for a sample type (heapprof's when
# Go is absent), one per line.
top_names() { # top_names PROFILE TYPE
	if have_go; then
		"$GO" tool pprof -top -nodefraction=0 -nodecount=80 -sample_index="$2" "$1" 2>/dev/null |
			awk '/^ *-?[0-9.]+[a-zA-Z]* +-?[0-9.]+% / {
				name = $6; for (i = 7; i <= NF; i++) name = name " " $i; print name }'
	else
		"$HEAPPROF_BIN" top --raw --sample-index="$2" -n 80 "$1" | cut -f3
	fi
}

# check_real NAME PROFILE REGEX [TYPES]: the profile opens and its -top names
# functions of the program itself (REGEX) for each sample type (default
# alloc_space and inuse_space; exit profiles of programs that free everything
# before exiting have nothing in use, rightly).
check_real() {
	local name=$1 p=$2 rx=$3 types=${4:-alloc_space inuse_space} t
	check "$name: $(basename "$p") validates" quiet "$HEAPPROF_BIN" info "$p"
	for t in $types; do
		local hit
		hit=$(top_names "$p" "$t" | grep -E -m1 "$rx")
		check "$name: $(basename "$p") -sample_index=$t names the program's functions (${hit:-none})" \
			test -n "$hit"
	done
}

# signal_program PID SIG: PID is a `timeout` wrapper; signal the program it runs.
signal_program() {
	local child="" n=100
	while [ -z "$child" ] && [ $n -gt 0 ]; do
		child=$(pgrep -P "$1" | head -n 1)
		[ -n "$child" ] || sleep 0.05
		n=$((n - 1))
	done
	[ -n "$child" ] && kill -s "$2" "$child"
}

# profile_mid_run NAME DELAY PLAIN-STATUS STDIN CMD...: runs CMD under the
# profiler (stdin from STDIN, /dev/null for none) with output prefix
# WORK/NAME, sends it SIGUSR2 after DELAY seconds, and checks its status,
# stdout (against WORK/plain.out) and stderr against the plain run, and that a
# snapshot and an exit profile were written. Sets SNAP and EXITP.
profile_mid_run() {
	local name=$1 delay=$2 plain=$3 in=$4 pid rc
	shift 4
	HEAPPROF_OUTPUT=$WORK/$name timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" \
		"$@" <"$in" >"$WORK/prof.out" 2>"$WORK/prof.err" &
	pid=$!
	sleep "$delay"
	signal_program "$pid" USR2
	wait "$pid"
	rc=$?
	check "profiled run exits $plain too (got $rc)" test "$rc" = "$plain"
	check "identical output" cmp -s "$WORK/plain.out" "$WORK/prof.out"
	check "nothing on stderr" test ! -s "$WORK/prof.err"
	SNAP=$(one_file "$WORK/$name".*.signal.pb.gz)
	EXITP=$(one_file "$WORK/$name".*.exit.pb.gz)
	check "SIGUSR2 snapshot written mid-run" test -n "$SNAP"
	check "exit profile written" test -n "$EXITP"
}

# nginx_conf FILE PORT MAIN SERVER: an nginx configuration in $WORK with
# two workers on 127.0.0.1:PORT serving $WORK/www, its temporary files in
# $WORK/tmp; MAIN are more main-context directives (error_log, user),
# SERVER more server ones.
nginx_conf() {
	cat >"$1" <<CONF
daemon off;
master_process on;
worker_processes 2;
$3
pid $WORK/nginx.pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $WORK/tmp/body;
	proxy_temp_path $WORK/tmp/proxy;
	fastcgi_temp_path $WORK/tmp/fcgi;
	uwsgi_temp_path $WORK/tmp/uwsgi;
	scgi_temp_path $WORK/tmp/scgi;
	server { listen 127.0.0.1:$2; root $WORK/www; $4 }
}
CONF
}
