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

# The allocators every integration test runs on.
allocators() {
	echo glibc
	if [ -n "$JEMALLOC_SO" ] && [ -f "$JEMALLOC_SO" ]; then echo jemalloc; fi
}

preload_for() {
	case $1 in
	glibc) echo "$HEAPPROF_LIB" ;;
	jemalloc) echo "$HEAPPROF_LIB $JEMALLOC_SO" ;;
	esac
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
