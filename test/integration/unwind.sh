# SPDX-License-Identifier: MIT
# The stack walker (lib/unwind_fast.c) against libunwind: the same programs
# profiled at rate 1 with HEAPPROF_UNWIND=fast (the default) and =libunwind
# must show the same stacks with the same counts. prog_unwind has frames of
# every shape (alloca, frame pointer, deep recursion, signal handlers on the
# thread's stack and on an alternate one, threads, a library loaded and
# unloaded three times); sqlite3 and python3 are real programs nobody here
# wrote; prog_cxx runs behind jemalloc too. HEAPPROF_VERBOSE reports how many
# return addresses got a rule: the fast walker must have done the work.
. "$(dirname "$0")/lib.sh"

have_go || skip_all "go tool pprof (golang-go) is needed to compare stacks"
need python3 python3
SAME=$(dirname "$0")/same_stacks.py
LIB=$TEST_BUILDDIR/.libs/libhpdl.so

# compare NAME ALLOCATOR COMMAND...: both walkers, then the exit profiles.
compare() {
	local name=$1 alloc=$2 u
	shift 2
	for u in libunwind fast; do
		mkdir -p "$WORK/$name/$u"
		HEAPPROF_OUTPUT=$WORK/$name/$u/hp HEAPPROF_RATE=1 HEAPPROF_SEED=1 \
			HEAPPROF_UNWIND=$u HEAPPROF_VERBOSE=1 HEAPPROF_SIGNAL=none PYTHONHASHSEED=0 \
			run_profiled "$alloc" "$@" >"$WORK/$name/$u.out" 2>"$WORK/$name/$u.err"
		ok $? "$name ($u): ran"
	done
	local a b rules
	a=$(one_file "$WORK/$name"/libunwind/hp.*.exit.pb.gz)
	b=$(one_file "$WORK/$name"/fast/hp.*.exit.pb.gz)
	check "$name: same stacks with either walker ($(python3 "$SAME" "$GO" "$a" "$b" | head -1))" \
		quiet python3 "$SAME" "$GO" "$a" "$b"
	rules=$(grep -o 'stack rules: .*' "$WORK/$name/fast.err")
	check "$name: the rules walked the stacks (${rules:-no report})" \
		awk '/stack rules:/ { exit !($4 + $7 > 0) }' "$WORK/$name/fast.err"
}

compare prog_unwind glibc "$TEST_BUILDDIR/prog_unwind" "$LIB"
check "prog_unwind: a signal frame is left to libunwind (a rule of libunwind's: $(grep -o "[0-9]* libunwind's" "$WORK/prog_unwind/fast.err"))" \
	bash -c "grep -o \"[0-9]* libunwind's\" '$WORK/prog_unwind/fast.err' | awk '{ exit !(\$1 > 0) }'"
compare prog_cxx glibc "$TEST_BUILDDIR/prog_cxx"
if [ -z "$(jemalloc_missing)" ]; then
	compare prog_cxx-jemalloc jemalloc "$TEST_BUILDDIR/prog_cxx"
	compare prog_unwind-jemalloc jemalloc "$TEST_BUILDDIR/prog_unwind" "$LIB"
fi
skip_jemalloc "unwind"
if command -v sqlite3 >/dev/null; then
	compare sqlite3 glibc sqlite3 :memory: "create table t(a, b);
		with recursive n(x) as (select 1 union all select x + 1 from n where x < 20000)
		insert into t select x, printf('%08x', x) from n;
		create index i on t(b); select count(*) from t;"
else
	skip "sqlite3: not installed (apt-get install sqlite3)"
fi
# Debian's interpreter itself: a python3 found first on PATH may be a wrapper
# script that starts several processes.
if [ -x /usr/bin/python3 ]; then
	compare python3 glibc /usr/bin/python3 -c 'import json, re
json.dumps([re.sub("a", "b", str(i)) for i in range(3000)])'
else
	skip "python3: /usr/bin/python3 not installed (apt-get install python3)"
fi
done_testing
