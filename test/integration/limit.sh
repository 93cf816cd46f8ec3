# SPDX-License-Identifier: MIT
# HEAPPROF_DUMP_LIMIT: prog_limit grows by blocks of known size under
# `ulimit -v` (RLIMIT_AS) and, where this test can make one, in a cgroup v1
# memory cgroup of its own. At rate 1: the limit profile holds exactly the
# first multiple of the block at or over the threshold the profiler logged
# (PCT of the limit less what was mapped at start-up), the oom profile
# exactly the blocks the program got before its NULL, and the program's
# output and status are those of a run without the profiler.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_limit
MiB=1048576
flat() { # flat PROFILE: grow_block's inuse_space, by go tool pprof (heapprof's without Go)
	if have_go; then pprof_flat "$1" inuse_space grow_block; else hp_flat "$1" inuse_space grow_block; fi
}

# limited NAME KIB_LIMIT ARGS...: prog_limit under ulimit -v, plain and
# profiled at prefix WORK/NAME; statuses into plain_rc and rc.
limited() {
	local name=$1 kib=$2
	shift 2
	local plain=() alloc=${ALLOC:-glibc}
	[ "$alloc" = jemalloc ] && plain=(env LD_PRELOAD="$JEMALLOC_SO")
	(ulimit -v "$kib" && exec "${plain[@]}" "$PROG" "$@") >"$WORK/$name.plain" 2>&1
	plain_rc=$?
	(ulimit -v "$kib" && LD_PRELOAD="$(preload_for "$alloc")" HEAPPROF_RATE=1 HEAPPROF_DUMP_LIMIT=50 \
		HEAPPROF_OUTPUT="$WORK/$name" exec "$PROG" "$@") >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
}

# check_limit NAME BLOCK LIMIT-WORD: the one limit profile's numbers.
check_limit() {
	local name=$1 block=$2 what=$3 line in_use lim base thr p
	line=$(grep -m1 'reached HEAPPROF_DUMP_LIMIT=50%' "$WORK/$name.err")
	read -r in_use lim base <<<"$(echo "$line" | sed -E \
		's/.*: ([0-9]+) bytes in use .* of the ([0-9]+)-byte .*, less ([0-9]+) bytes there.*/\1 \2 \3/')"
	thr=$((lim / 100 * 50 - base))
	check "$name: the profiler logged the limit of $what ($line)" grep -q "byte $what, less" "$WORK/$name.err"
	p=$(one_file "$WORK/$name".*.limit.pb.gz)
	check "$name: one limit profile" test -n "$p" -a "$(ls "$WORK/$name".*.limit.pb.gz | wc -l)" = 1
	[ -n "$p" ] || return
	local got
	got=$(flat "$p")
	check "$name: the limit profile holds exactly the $in_use bytes logged (pprof: $got)" test "$got" = "$in_use"
	check "$name: $in_use is the first multiple of $block at or over the threshold $thr" \
		test $((in_use % block)) = 0 -a "$in_use" -ge "$thr" -a $((in_use - block)) -lt "$thr"
}

# 1 MiB blocks until NULL under a 256 MiB address space, on each allocator.
for ALLOC in $(allocators); do
	as=as-$ALLOC
	limited $as 262144 100000 1024
	check "$as: plain run ends on a NULL with ENOMEM (status $plain_rc = 3)" test "$plain_rc" = 3
	check "$as: profiled, the same status ($rc) and errno" test "$rc" = 3 -a "$(grep -o 'errno.*' "$WORK/$as.out")" = "errno 12"
	check_limit $as $MiB RLIMIT_AS
	n=$(awk '{ print $2 }' "$WORK/$as.out")
	oom=$(one_file "$WORK/$as".*.oom.pb.gz)
	check "$as: one oom profile" test -n "$oom" -a "$(ls "$WORK/$as".*.oom.pb.gz | wc -l)" = 1
	[ -n "$oom" ] && check "$as: the oom profile holds exactly the $n blocks the program got ($(flat "$oom"))" \
		test "$(flat "$oom")" = $((n * MiB))
	check "$as: the profiler said so once" test "$(grep -c 'failed (ENOMEM): writing an oom profile' "$WORK/$as.err")" = 1
done
ALLOC=glibc
skip_jemalloc "the limit and oom profiles"

# 64 KiB blocks fill the address space to the last page: the oom profile and
# the exit profile are written from the memory reserved at start-up.
limited small 262144 100000 64
check "small: status $rc = 3, as without the profiler ($plain_rc)" test "$rc" = 3 -a "$plain_rc" = 3
n=$(awk '{ print $2 }' "$WORK/small.out")
oom=$(one_file "$WORK"/small.*.oom.pb.gz)
check "small: the oom profile was written ($(cat "$WORK/small.err" | tail -n 1))" test -n "$oom"
[ -n "$oom" ] && check "small: it holds exactly the $n blocks of 64 KiB ($(flat "$oom"))" \
	test "$(flat "$oom")" = $((n * 65536))
check "small: and the exit profile" test -n "$(one_file "$WORK"/small.*.exit.pb.gz)"

# Re-armed only below the threshold less 5 points of the limit (300 MiB):
# grow to 200 MiB, over the threshold (150 MiB less start-up), free one
# block and take it again (no profile), free all and grow again (a second).
limited cycle 307200 200 1024 cycle
check "cycle: status 0 and output as without the profiler" \
	bash -c "test $rc = 0 -a $plain_rc = 0 && cmp -s '$WORK/cycle.plain' '$WORK/cycle.out'"
check "cycle: two limit profiles, one per crossing" test "$(ls "$WORK"/cycle.*.limit.pb.gz | wc -l)" = 2

# A cgroup v1 memory cgroup of 64 MiB; the program touches 40 MiB.
cg=/sys/fs/cgroup/memory/heapprof-test-$$
if [ "$(id -u)" = 0 ] && mkdir "$cg" 2>/dev/null; then
	trap 'rm -rf "$WORK"; rmdir "$cg" 2>/dev/null' EXIT
	echo $((64 * MiB)) >"$cg/memory.limit_in_bytes"
	sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" 40 1024 touch' - "$cg" "$PROG" >"$WORK/cg.plain" 2>&1
	plain_rc=$?
	LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 HEAPPROF_DUMP_LIMIT=50 HEAPPROF_OUTPUT="$WORK/cg" \
		sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" 40 1024 touch' - "$cg" "$PROG" \
		>"$WORK/cg.out" 2>"$WORK/cg.err"
	rc=$?
	check "cgroup: status $rc and output as without the profiler ($plain_rc)" \
		bash -c "test $rc = 0 -a $plain_rc = 0 && cmp -s '$WORK/cg.plain' '$WORK/cg.out'"
	check "cgroup: the limit is the cgroup's 64 MiB" grep -q "of the $((64 * MiB))-byte cgroup's memory limit" "$WORK/cg.err"
	check_limit cg $MiB "cgroup's memory limit"
else
	skip "cgroup: cannot make a memory cgroup under /sys/fs/cgroup/memory (cgroup v1, root)"
fi

# A bad value: one warning, the program unchanged, no limit profile.
LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_DUMP_LIMIT=150 HEAPPROF_OUTPUT="$WORK/bad" \
	"$PROG" 3 1024 >"$WORK/bad.out" 2>"$WORK/bad.err"
check "bad value: status 0" test $? = 0
check "bad value: one clear warning ($(cat "$WORK/bad.err"))" \
	test "$(grep -c 'ignoring HEAPPROF_DUMP_LIMIT="150": expected a percentage' "$WORK/bad.err")" = 1
check "bad value: no limit profile" test -z "$(one_file "$WORK"/bad.*.limit.pb.gz)"
done_testing
