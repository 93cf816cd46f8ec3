# SPDX-License-Identifier: MIT
# Running prog_http under HEAPPROF_HTTP, for http.sh and metrics.sh (sourced
# after lib.sh, with PROG set to prog_http).

# start NAME [VAR=VALUE...]: runs the program (60 s at most, until
# $WORK/NAME.stop exists; $MODE its third argument) under the profiler at
# rate 1 (on $ALLOC, glibc by default); PID and EP are set once its record
# names the endpoint (EP empty if none after 5 s).
start() {
	local name=$1
	shift
	env "$@" HEAPPROF_RATE=1 HEAPPROF_AT_EXIT=0 HEAPPROF_OUTPUT="$WORK/$name" \
		LD_PRELOAD="$(preload_for "${ALLOC:-glibc}")" "$PROG" 60 "$WORK/$name.stop" ${MODE:-} \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	PID=$!
	EP=$(endpoint_of "$PID" "$WORK/$name.err")
}

# stop NAME: ends the program; checks its output and status are its own.
stop() {
	touch "$WORK/$1.stop"
	wait "$PID"
	local rc=$?
	check "$1: the program's output and exit status are its own (rc $rc)" \
		test "$rc" = 7 -a "$(cat "$WORK/$1.out")" = "prog_http: done"
}
