# SPDX-License-Identifier: MIT
# Allocator conformance (prog_conform): every line the program prints (NULL and
# errno on failure, EINVAL, overflow, alignment, usable size, realloc and
# calloc semantics, errno across free) is the same with the profiler as
# without, at several rates, on glibc and with jemalloc.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_conform
for alloc in $(allocators); do
	case $alloc in
	glibc) timeout "$RUN_TIMEOUT" "$PROG" >"$WORK/ref" ;;
	jemalloc) timeout "$RUN_TIMEOUT" env CONFORM_NO_PVALLOC=1 LD_PRELOAD="$JEMALLOC_SO" \
		"$PROG" >"$WORK/ref" ;;
	esac
	skip_pv=""
	[ "$alloc" = jemalloc ] && skip_pv=CONFORM_NO_PVALLOC=1
	check "$alloc: reference run without the profiler" test -s "$WORK/ref"
	check "$alloc: reference has no failed check" bash -c "! grep -qE 'BAD|NO$' '$WORK/ref'"
	for rate in 1 4096 65536 524288 0; do
		HEAPPROF_OUTPUT=$WORK/hp HEAPPROF_RATE=$rate \
			run_profiled "$alloc" env $skip_pv "$PROG" >"$WORK/out" 2>"$WORK/err"
		ok $? "$alloc rate=$rate: ran"
		if cmp -s "$WORK/ref" "$WORK/out"; then
			ok 0 "$alloc rate=$rate: output identical to the run without the profiler"
		else
			ok 1 "$alloc rate=$rate: output identical to the run without the profiler"
			diff "$WORK/ref" "$WORK/out" | sed 's/^/# /'
		fi
		check "$alloc rate=$rate: nothing on stderr" test ! -s "$WORK/err"
	done
done
skip_jemalloc "conformance at five rates against the run without the profiler"
done_testing
