# SPDX-License-Identifier: MIT
# Symbolization (prog_inline, built -O2 -g): heapprof symbolize writes
# functions, files, lines and inlined frames; go tool pprof -list and
# heapprof list then show each known allocation line with its exact bytes,
# the always-inlined helper as a frame of its own; C++ names are demangled
# with their parameters; with libc6-dbg a frame inside libc is named. Only on
# glibc: what is checked is the reader, not the allocator.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_inline
SRC=$(dirname "$0")/prog_inline.cc
unset DEBUGINFOD_URLS # the symbolizer must not wait on the network here

out=$WORK/glibc
mkdir -p "$out"
HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 run_profiled glibc "$PROG" >"$out/stdout" 2>"$out/stderr"
ok $? "program ran to completion"
p=$(one_file "$out"/hp.*.0001.exit.pb.gz)
check "exit profile written" test -n "$p"
[ -n "$p" ] || {
	done_testing
	exit 0
}
sym=$out/sym.pb.gz
"$HEAPPROF_BIN" symbolize "$p" -o "$sym" 2>"$out/symbolize.err"
ok $? "heapprof symbolize wrote a profile"
check "nothing on stderr" test ! -s "$out/stderr" -a ! -s "$out/symbolize.err"

line_of() { grep -n "line:$1\$" "$SRC" | cut -d: -f1; }
POOL='shapes::Pool<int>::grow(unsigned long)'
HELPER='shapes::helper(unsigned long)'
OUTER='shapes::outer(unsigned long)'

# flat and cum of line LINE in routine FUNC of a -list output: "FLAT CUM".
list_line() { # list_line FILE FUNC LINE
	awk -v f="$2" -v l="$3" '
		/^ROUTINE =+ / { sub(/^ROUTINE =+ /, ""); sub(/ in [^ ]*$/, ""); in_f = ($0 == f); next }
		in_f && $3 == l ":" { print $1, $2; exit }
		in_f && index($3, l ":") == 1 { print $1, $2; exit }' "$1"
}

check_list() { # check_list WHO FILE
	local who=$1 f=$2
	got=$(list_line "$f" "$POOL" "$(line_of pool)")
	check "$who: $POOL line $(line_of pool): 300B flat and cum (got $got)" test "$got" = "300B 300B"
	got=$(list_line "$f" "$HELPER" "$(line_of helper)")
	check "$who: inlined $HELPER line $(line_of helper): 400B flat and cum (got $got)" \
		test "$got" = "400B 400B"
	got=$(list_line "$f" "$OUTER" "$(line_of outer)")
	check "$who: $OUTER line $(line_of outer), the inlined call: 400B cum only (got $got)" \
		test "$got" = ". 400B"
}

"$HEAPPROF_BIN" list 'shapes::' "$sym" >"$out/hp.list" 2>&1
check_list "heapprof list" "$out/hp.list"
"$HEAPPROF_BIN" list 'shapes::' "$p" >"$out/hp.list.raw" 2>&1
check "heapprof list of the unsymbolized profile is the same" cmp -s "$out/hp.list" "$out/hp.list.raw"
if have_go; then
	"$GO" tool pprof -list 'shapes::' "$sym" >"$out/go.list" 2>&1
	check_list "go tool pprof -list" "$out/go.list"
	rows() { grep -E '^ROUTINE|^ +[^ ]+ +[^ ]+ +[0-9]+:' "$1"; }
	check "heapprof list prints go tool pprof -list's routines and lines" \
		diff <(rows "$out/go.list") <(rows "$out/hp.list")
	"$GO" tool pprof -raw "$sym" >"$out/go.raw" 2>&1
	check "the program's mapping has functions, files, lines and inlines" \
		grep -q "$PROG .*\[FN\]\[FL\]\[LN\]\[IN\]" "$out/go.raw"
else
	skip "go tool pprof checks: go not installed"
fi

"$HEAPPROF_BIN" top --raw "$p" >"$out/top.raw"
check "the inlined helper is a frame of its own: $HELPER flat 400" \
	grep -qxF "400	400	$HELPER" "$out/top.raw"
check "its caller $OUTER: flat 0, cum 400" grep -qxF "0	400	$OUTER" "$out/top.raw"
check "the template's name demangled with parameters: $POOL flat 300" \
	grep -qxF "300	300	$POOL" "$out/top.raw"
"$HEAPPROF_BIN" top --raw --lines "$p" >"$out/lines.raw"
check "top --lines: $HELPER at its file:line" \
	grep -qE "^400	400	shapes::helper\(unsigned long\) /.*prog_inline.cc:$(line_of helper)\$" "$out/lines.raw"

libc=$(ldd "$PROG" | awk '/libc.so/ { print $3 }')
if dpkg -s libc6-dbg >/dev/null 2>&1; then
	check "with libc6-dbg, libc's strdup is named (flat 40)" \
		grep -qE "^40	40	.*strdup\$" "$out/top.raw"
else
	skip "a frame in $libc named: libc6-dbg is not installed"
fi
done_testing
