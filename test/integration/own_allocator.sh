# SPDX-License-Identifier: MIT
# Programs that carry their own allocator: prog_own_malloc exports malloc,
# free, calloc and realloc, as rustc does with the jemalloc it links in, so
# LD_PRELOAD cannot see its allocations. The profiler says so once at start,
# naming the executable, and heapprof run's exit summary says the numbers
# leave them out. A program on glibc's malloc gets no such line; an allocator
# preloaded before the profiler is named as such; rustc itself, when its
# executable exports malloc (rustup's toolchains; Debian's rustc uses glibc's).
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_own_malloc
WANT="heapprof: malloc is defined by $PROG itself; its allocations cannot be seen by LD_PRELOAD"

HEAPPROF_OUTPUT=$WORK/own run_profiled glibc "$PROG" >"$WORK/out" 2>"$WORK/err"
ok $? "prog_own_malloc ran to completion"
check "it printed its result" grep -q '^own allocator: ' "$WORK/out"
n=$(grep -cF "$WANT" "$WORK/err")
check "one line names the executable as malloc's definer ($n; $(head -c 150 "$WORK/err"))" test "$n" = 1
check "nothing else on stderr" test "$(grep -c . "$WORK/err")" = 1

"$HEAPPROF_BIN" run --output "$WORK/run" -- "$PROG" >/dev/null 2>"$WORK/run.err"
ok $? "heapprof run prog_own_malloc"
check "heapprof run: the line at start" test "$(grep -cF "$WANT" "$WORK/run.err")" = 1
check "heapprof run: the exit summary says what it leaves out" \
	grep -qF "heapprof:   not counted: malloc is defined by $PROG itself" "$WORK/run.err"

HEAPPROF_OUTPUT=$WORK/simple run_profiled glibc "$TEST_BUILDDIR/prog_simple" >/dev/null 2>"$WORK/simple.err"
check "a program on glibc's malloc: no such line" bash -c "! grep -q 'is defined by' '$WORK/simple.err'"

# gcc's cc1 is built without -fPIE: its dynamic symbol table gives free the
# address of its PLT entry, and it has a static libstdc++'s operator new,
# which calls malloc. Neither is an allocator of its own.
if command -v gcc >/dev/null; then
	echo 'int f(int x) { return x + 1; }' >"$WORK/f.c"
	HEAPPROF_OUTPUT=$WORK/gcc run_profiled glibc gcc -O2 -c "$WORK/f.c" -o "$WORK/f.o" 2>"$WORK/gcc.err"
	check "gcc (cc1: free's PLT entry, its own operator new): no such line ($(head -c 100 "$WORK/gcc.err"))" \
		test ! -s "$WORK/gcc.err"
else
	skip "gcc's cc1: gcc not installed"
fi

if [ -n "$JEMALLOC_SO" ]; then
	HEAPPROF_OUTPUT=$WORK/je timeout "$RUN_TIMEOUT" env LD_PRELOAD="$JEMALLOC_SO $HEAPPROF_LIB" \
		"$TEST_BUILDDIR/prog_simple" >/dev/null 2>"$WORK/je.err"
	check "jemalloc preloaded before the profiler is named ($(head -c 150 "$WORK/je.err"))" \
		grep -qF "malloc is defined by $JEMALLOC_SO, loaded before libheapprof.so" "$WORK/je.err"
else
	skip "jemalloc preloaded before the profiler: jemalloc not installed"
fi

# rustc: the executable the rustc on PATH runs (rustup's proxy execs the
# toolchain's), and whether it exports malloc.
RUSTC=$(command -v rustc || true)
real=""
if [ -n "$RUSTC" ]; then
	real=$("$RUSTC" --print sysroot 2>/dev/null)/bin/rustc
	[ -x "$real" ] || real=$(readlink -f "$RUSTC")
fi
if [ -z "$RUSTC" ]; then
	skip "rustc's own run: rustc not installed"
	skip "rustc's own run: rustc not installed"
elif nm -D --defined-only "$real" 2>/dev/null | grep -qw 'T malloc'; then
	"$HEAPPROF_BIN" run --output "$WORK/rustc" -- "$RUSTC" --version >"$WORK/rustc.out" 2>"$WORK/rustc.err"
	ok $? "heapprof run rustc --version ($(cat "$WORK/rustc.out"))"
	check "rustc: malloc is defined by $real itself ($(grep -c 'is defined by' "$WORK/rustc.err") lines)" \
		grep -qF "heapprof: malloc is defined by $(readlink -f "$real") itself" "$WORK/rustc.err"
else
	"$HEAPPROF_BIN" run --output "$WORK/rustc" -- "$RUSTC" --version >"$WORK/rustc.out" 2>"$WORK/rustc.err"
	ok $? "heapprof run rustc --version ($(cat "$WORK/rustc.out"))"
	check "rustc ($real) uses the C library's malloc: no such line" \
		bash -c "! grep -q 'is defined by' '$WORK/rustc.err'"
fi
done_testing
