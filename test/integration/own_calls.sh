# SPDX-License-Identifier: MIT
# A program that defines and exports its own open, close, writev, rename,
# mmap, socket, send and the other names of the system calls a profiler
# makes (prog_own_calls). The dynamic linker binds every later object's
# imports of those names to the program's functions; the profiler makes its
# system calls itself (lib/sys.h), so none of its snapshots, exit profile,
# process record, symbol tables or endpoint call into the program. The
# program's functions report any call from outside it; a call from the
# profiler fails the test. Calls from other objects (jemalloc's mmap) are
# listed, not judged.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_own_calls

check "the program exports its own close, rename, send and mmap" \
	sh -c "nm -D '$PROG' | grep -Eq ' T close$' && nm -D '$PROG' | grep -Eq ' T rename$' &&
		nm -D '$PROG' | grep -Eq ' T send$' && nm -D '$PROG' | grep -Eq ' T mmap$'"

for alloc in $(allocators); do
	out=$WORK/$alloc
	mkdir -p "$out"
	sock=$out/hp.sock
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 HEAPPROF_HTTP="unix:$sock" \
		run_profiled "$alloc" "$PROG" "$out" "$sock" \
		</dev/null >"$out/stdout" 2>"$out/stderr"
	rc=$?
	check "$alloc: exits 0 (got $rc)" test "$rc" = 0
	check "$alloc: its own calls reach its own functions ($(grep '^own' "$out/stdout"))" \
		grep -qx "own calls: 6" "$out/stdout"
	check "$alloc: the profiler called none of the program's functions ($(grep -m3 libheapprof "$out/stderr" | tr '\n' ' '))" \
		sh -c "! grep -q 'foreign call: .* from .*libheapprof' '$out/stderr'"
	grep 'foreign call' "$out/stderr" | grep -v libheapprof | sort | uniq -c |
		while read -r line; do diag "$alloc: not the profiler's: $line"; done
	check "$alloc: a snapshot was written" grep -qx "snapshots: 1" "$out/stdout"
	check "$alloc: the endpoint answered 200 ($(grep '^http' "$out/stdout"))" \
		grep -Eq "^http: 200 [0-9]{3,}$" "$out/stdout"
	exitp=$(one_file "$out"/hp.*.exit.pb.gz)
	check "$alloc: an exit profile" test -n "$exitp"
	check "$alloc: it names the program's allocating function" \
		sh -c "'$HEAPPROF_BIN' top --sample-index alloc_space '$exitp' | grep -q leaf"
	pid=$(sed -n 's/^pid: //p' "$out/stdout")
	check "$alloc: the process record is gone" \
		test -n "$pid" -a ! -e "/tmp/heapprof-$(id -u)/$pid"
done
skip_jemalloc "own system-call names"
done_testing
