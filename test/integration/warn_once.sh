# SPDX-License-Identifier: MIT
# One warning per process tree: a bad HEAPPROF_* value is warned about by the
# first process, which marks the environment its children inherit
# (HEAPPROF_WARNED); a shell loop prints it once, a good value prints
# nothing, and a different bad value set in a child is warned about again.
. "$(dirname "$0")/lib.sh"

loop='for i in 1 2 3; do /bin/true; done'
warnings() { grep -c '^heapprof: ignoring ' "$WORK/err"; }

HEAPPROF_RATE=abc HEAPPROF_AT_EXIT=0 LD_PRELOAD=$HEAPPROF_LIB bash -c "$loop" 2>"$WORK/err"
check "bad HEAPPROF_RATE under a bash loop of 3: one warning ($(warnings))" test "$(warnings)" = 1
check "it says children inherit the setting" grep -q 'processes it starts inherit the setting' "$WORK/err"
check "nothing else on stderr" test "$(grep -c . "$WORK/err")" = 1

HEAPPROF_RATE=1k HEAPPROF_AT_EXIT=0 LD_PRELOAD=$HEAPPROF_LIB bash -c "$loop; env" >"$WORK/out" 2>"$WORK/err"
check "a good value: no message" test ! -s "$WORK/err"
check "a good value: no mark in the environment" test "$(grep -c '^HEAPPROF_WARNED=' "$WORK/out")" = 0

# The tree: the first bash warns; its loop is quiet; a child that sets another
# bad value warns about it once (its own children stay quiet); a grandchild
# with both inherited is quiet.
HEAPPROF_RATE=abc HEAPPROF_AT_EXIT=0 LD_PRELOAD=$HEAPPROF_LIB bash -c "$loop
	HEAPPROF_RATE=xyz bash -c '$loop'
	HEAPPROF_SIGNAL=9 bash -c '$loop; bash -c \"$loop\"'" 2>"$WORK/err"
check "a tree with 3 bad settings: 3 warnings ($(warnings))" test "$(warnings)" = 3
for w in 'HEAPPROF_RATE="abc"' 'HEAPPROF_RATE="xyz"' 'HEAPPROF_SIGNAL="9"'; do
	n=$(grep -cF "ignoring $w" "$WORK/err")
	check "$w: warned once ($n)" test "$n" = 1
done
[ "$(warnings)" = 3 ] || diag "stderr: $(cat "$WORK/err")"

# make's recipes run through sh: one warning for make and all its children.
if command -v make >/dev/null; then
	printf 'all:\n\t@/bin/true\n\t@/bin/true\n\t@sh -c /bin/true\n' >"$WORK/Makefile"
	HEAPPROF_MAX_FRAMES=0 HEAPPROF_AT_EXIT=0 LD_PRELOAD=$HEAPPROF_LIB make -s -C "$WORK" 2>"$WORK/err" >/dev/null
	check "make with 3 recipe lines: one warning ($(warnings))" test "$(warnings)" = 1
else
	skip "make is not installed"
fi

# A bad token is a secret: not in the warning, and its hash names only the
# variable.
HEAPPROF_HTTP_TOKEN=' bad' HEAPPROF_AT_EXIT=0 LD_PRELOAD=$HEAPPROF_LIB bash -c "$loop; env" >"$WORK/out" 2>"$WORK/err"
check "a bad token: one warning, not showing it" \
	test "$(warnings)" = 1 -a "$(grep -c ' bad' "$WORK/err")" = 0
check "a bad token: the child's environment has the mark" grep -q '^HEAPPROF_WARNED=[0-9a-f]\{16\}$' "$WORK/out"
done_testing
