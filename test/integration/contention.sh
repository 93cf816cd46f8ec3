# SPDX-License-Identifier: MIT
# The block and mutex profiles (prog_contention): at HEAPPROF_BLOCK_RATE=1
# and HEAPPROF_MUTEX_FRACTION=1 every wait is kept, so the block profile
# charges each waiting site with the waits the program timed itself, and
# the mutex profile charges each releasing site with the waits it ended
# (less each waiter's wake-up after the release: the 10% allows for it;
# the waits are 3 ms holds). The uncontended site shows in neither. Read by
# heapprof and by go tool pprof, from the files beside the heap profile and
# from the endpoint.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_contention

# value PROFILE TYPE FUNC: FUNC's flat value, by heapprof.
value() { hp_flat "$1" "$2" "$3"; }

# pprof_ns PROFILE-OR-URL FUNC: FUNC's flat delay in ns, by go tool pprof.
pprof_ns() {
	"$GO" tool pprof -top -nodefraction=0 -nodecount=1000 -unit=ns \
		-sample_index=delay "$1" 2>/dev/null |
		awk -v f="$2" '$6 == f { v = $1; sub(/ns$/, "", v); s += v; found = 1 }
			END { printf "%.0f\n", found ? s : 0 }'
}

# near GOT WANT PERCENT: GOT within PERCENT% of WANT (and WANT not 0).
near() {
	awk -v g="${1:-0}" -v w="${2:-0}" -v p="$3" \
		'BEGIN { d = g - w; if (d < 0) d = -d; exit !(w > 0 && d * 100 <= w * p) }'
}

# fourfold_near GOT WANT: GOT a multiple of 4 within 20% of WANT.
fourfold_near() {
	[ $((${1:-1} % 4)) = 0 ] && near "$1" "$2" 20
}

# close_to NAME GOT WANT: GOT within 10% of WANT.
close_to() {
	check "$1: $2 ns within 10% of the $3 ns the program timed" near "$2" "$3" 10
}

for alloc in $(allocators); do
	out=$WORK/$alloc
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/c HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=1 \
		run_profiled "$alloc" "$PROG" >"$out/stdout" 2>"$out/stderr"
	ok $? "$alloc: ran to completion under both profiles"
	read -r _ mutex < <(grep '^mutex' "$out/stdout")
	read -r _ read < <(grep '^read' "$out/stdout")
	read -r _ write < <(grep '^write' "$out/stdout")
	read -r _ cond < <(grep '^cond' "$out/stdout")
	read -r _ dying < <(grep '^dying' "$out/stdout")
	read -r _ handed < <(grep '^handed' "$out/stdout")
	read -r _ nested < <(grep '^nested' "$out/stdout")
	diag "$alloc: the program timed mutex $mutex ns, read $read ns, cond $cond ns"
	block=$(one_file "$out"/c.*.exit.block.pb.gz)
	mx=$(one_file "$out"/c.*.exit.mutex.pb.gz)
	check "$alloc: .block.pb.gz and .mutex.pb.gz beside the exit profile" \
		test -n "$block" -a -n "$mx" -a -n "$(one_file "$out"/c.*.exit.pb.gz)"
	[ -n "$block" ] && [ -n "$mx" ] || continue
	close_to "$alloc: block wait_mutex" "$(value "$block" delay wait_mutex)" "$mutex"
	close_to "$alloc: block wait_read (rwlock)" "$(value "$block" delay wait_read)" "$read"
	close_to "$alloc: block wait_cond (condvar)" "$(value "$block" delay wait_cond)" "$cond"
	close_to "$alloc: mutex release_mutex" "$(value "$mx" delay release_mutex)" "$mutex"
	# A reader's release charges the readers still waking from the writer's
	# release (docs/contention.md): the rwlock's waits go to its releases,
	# the writer's and the readers', together.
	rw=$(($(value "$mx" delay release_write) + $(value "$mx" delay wait_read)))
	close_to "$alloc: mutex release_write + wait_read (rwlock releases)" "$rw" "$((read + write))"
	# Waits whose bookkeeping waited for a release that came by another
	# path: the thread's exit, the C library's unlock in a condition wait.
	close_to "$alloc: block wait_dying (the waiter exits holding it)" \
		"$(value "$block" delay wait_dying)" "$dying"
	close_to "$alloc: mutex release_dying (the waiter exits holding it)" \
		"$(value "$mx" delay release_dying)" "$dying"
	close_to "$alloc: mutex release_handed (released in a condition wait)" \
		"$(value "$mx" delay release_handed)" "$handed"
	close_to "$alloc: block nested_take (two locks, released first to last)" \
		"$(value "$block" delay nested_take)" "$nested"
	close_to "$alloc: mutex release_na + release_nb (nested)" \
		"$(($(value "$mx" delay release_na) + $(value "$mx" delay release_nb)))" "$nested"
	n=$(value "$block" contentions wait_mutex)
	check "$alloc: block contentions at wait_mutex: $n, 1 to 48 (4 threads, 12 rounds)" \
		test "$n" -ge 1 -a "$n" -le 48
	n=$(value "$mx" contentions release_mutex)
	check "$alloc: mutex contentions at release_mutex: $n, 1 to 48" \
		test "$n" -ge 1 -a "$n" -le 48
	for p in "$block" "$mx"; do
		check "$alloc: $(basename "$p"): quiet_lock (never contended) absent" \
			test "$(value "$p" delay quiet_lock)" = 0
		check "$alloc: $(basename "$p"): Go's model (contentions/count, delay/nanoseconds, period 1)" \
			sh -c "'$HEAPPROF_BIN' info '$p' | grep -qx 'Sample types: contentions/count delay/nanoseconds (default)' &&
				'$HEAPPROF_BIN' info '$p' | grep -qx 'Period: 1 contentions/count'"
	done
	if have_go; then
		got=$(pprof_ns "$block" wait_mutex)
		check "$alloc: go tool pprof -top reads the block file: wait_mutex $got ns" \
			test "$got" = "$(value "$block" delay wait_mutex)"
		got=$(pprof_ns "$mx" release_mutex)
		check "$alloc: go tool pprof -top reads the mutex file: release_mutex $got ns" \
			test "$got" = "$(value "$mx" delay release_mutex)"
		for u in auto ms us; do
			rows='^ .* (wait_mutex|wait_read|wait_cond)$'
			check "$alloc: heapprof top --unit=$u shows the delays as go tool pprof does" \
				diff <("$HEAPPROF_BIN" top --unit=$u "$block" | grep -E "$rows") \
				<("$GO" tool pprof -top -unit=$u "$block" 2>/dev/null | grep -E "$rows")
		done
	fi
	check "$alloc: nothing on stderr" test ! -s "$out/stderr"
done
skip_jemalloc "the block and mutex profiles"

# Go's debug=1 text after its header (3 lines for a mutex profile): records
# of "<cycles> <count> @ <pcs>", a "#<tab>0x<pc>[<tab>name]" line per frame
# and a blank line; at least one record.
go_text_records() {
	awk 'NR <= 3 { next }
		/^[0-9]+ -?[0-9]+ @( 0x[0-9a-f]+)+$/ && !r { r = 1; n++; next }
		r && /^$/ { r = 0; next }
		r && /^#\t0x[0-9a-f]+(\t[^\t?][^\t]*)?$/ { next }
		{ bad = 1; exit }
		END { exit bad || r || !n }' "$1"
}

# The endpoint: /debug/pprof/block and /mutex, cumulative, ?seconds=N (a
# delta: nothing waits in the second after the workload), on the index,
# and ?debug=1 as Go's text. The program stays up to 60 s after its workload.
if command -v curl >/dev/null; then
	out=$WORK/http
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/c HEAPPROF_HTTP=127.0.0.1:0 HEAPPROF_BLOCK_RATE=1 \
		HEAPPROF_MUTEX_FRACTION=1 LD_PRELOAD=$HEAPPROF_LIB \
		timeout "$RUN_TIMEOUT" "$PROG" 60 >"$out/stdout" 2>"$out/stderr" &
	pid=$!
	for _ in $(seq 400); do
		grep -qs '^cond' "$out/stdout" && break
		sleep 0.05
	done
	child=$(pgrep -P "$pid" | head -n 1)
	ep=$(endpoint_of "$child" "$out/stderr")
	check "endpoint: the record names it ($ep)" test -n "$ep"
	U=http://$ep/debug/pprof
	read -r _ mutex < <(grep '^mutex' "$out/stdout")
	curl -sf -o "$out/block.pb.gz" "$U/block"
	curl -sf -o "$out/mutex.pb.gz" "$U/mutex"
	close_to "endpoint: /block, wait_mutex" "$(value "$out/block.pb.gz" delay wait_mutex)" "$mutex"
	close_to "endpoint: /mutex, release_mutex" "$(value "$out/mutex.pb.gz" delay release_mutex)" "$mutex"
	if have_go; then
		got=$(pprof_ns "$U/mutex" release_mutex)
		close_to "endpoint: go tool pprof -top $U/mutex, release_mutex" "$got" "$mutex"
		got=$(pprof_ns "$U/block" wait_mutex)
		close_to "endpoint: go tool pprof -top $U/block, wait_mutex" "$got" "$mutex"
	fi
	curl -sf -o "$out/delta.pb.gz" "$U/block?seconds=1"
	check "endpoint: /block?seconds=1 after the workload: no wait in it" \
		test "$(value "$out/delta.pb.gz" delay wait_mutex)" = 0 -a -s "$out/delta.pb.gz"
	check "endpoint: the index lists block and mutex" \
		sh -c "curl -sf '$U/' | grep -q 'href=\"block' && curl -sf '$U/' | grep -q 'href=\"mutex'"
	curl -sf "$U/mutex?debug=1" >"$out/mutex.txt"
	check "endpoint: /mutex?debug=1 is Go's text (header, sampling period)" \
		sh -c "head -3 '$out/mutex.txt' | tr '\n' '|' | grep -qx -- '--- mutex:|cycles/second=1000000000|sampling period=1|'"
	# As Go's printStackRecord: a blank line ends each record; a frame
	# without a name is "#<tab>0x<pc>" alone.
	check "endpoint: /mutex?debug=1, records end with a blank line, frames as Go's" \
		go_text_records "$out/mutex.txt"
	d=$(awk '/^#\t/ && $3 == "release_mutex" { print prev; exit } !/^#/ { prev = $1 }' "$out/mutex.txt")
	close_to "endpoint: /mutex?debug=1, release_mutex's record" "${d:-0}" "$mutex"
	check "endpoint: /block?debug=1 is headed --- contention:" \
		sh -c "curl -sf '$U/block?debug=1' | head -1 | grep -qx -- '--- contention:'"
	code=$(curl -s -o "$out/both.txt" -w '%{http_code}' "$U/mutex?debug=1&seconds=1")
	check "endpoint: ?debug=1&seconds=1 is refused, 400, saying why as Go does ($code: $(head -c 80 "$out/both.txt"))" \
		sh -c "test '$code' = 400 && grep -q 'seconds and debug params are incompatible' '$out/both.txt'"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
else
	skip "the endpoint: curl not found (Debian package curl)"
fi

# heapprof run --mutex --block: both profiles of every event, named at exit.
out=$WORK/run
mkdir -p "$out"
"$HEAPPROF_BIN" run --mutex --block --output "$out/r" -- "$PROG" >/dev/null 2>"$out/stderr"
check "heapprof run --mutex --block: both files, named on stderr at exit" \
	sh -c "grep -q '^heapprof: block profile: $out/r.*.exit.block.pb.gz' '$out/stderr' &&
		grep -q '^heapprof: mutex profile: $out/r.*.exit.mutex.pb.gz' '$out/stderr'"
p=$(one_file "$out"/r.*.exit.mutex.pb.gz)
check "heapprof run --mutex: fraction 1 in the profile" \
	sh -c "'$HEAPPROF_BIN' info '$p' | grep -q 'mutex profile fraction: 1 '"

# The lock calls' semantics (prog_lockmodes checks them itself): the same
# lines plain, preloaded with the profiles off, and with both on.
MODES=$TEST_BUILDDIR/prog_lockmodes
timeout "$RUN_TIMEOUT" "$MODES" >"$WORK/modes.plain" 2>&1
rc=$?
check "lock modes, plain: every check passes ($(grep -c '^ok' "$WORK/modes.plain") of them)" \
	test "$rc" = 0 -a -s "$WORK/modes.plain"
HEAPPROF_OUTPUT=$WORK/modes run_profiled glibc "$MODES" >"$WORK/modes.off" 2>&1
check "lock modes, profiles off: the same results" cmp -s "$WORK/modes.plain" "$WORK/modes.off"
diff "$WORK/modes.plain" "$WORK/modes.off" | sed 's/^/# /'
HEAPPROF_OUTPUT=$WORK/modes HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=1 \
	run_profiled glibc "$MODES" >"$WORK/modes.on" 2>&1
check "lock modes, both profiles on: the same results" cmp -s "$WORK/modes.plain" "$WORK/modes.on"
diff "$WORK/modes.plain" "$WORK/modes.on" | sed 's/^/# /'
# A wait that ended without sleeping marks the lock word (3) until its
# release: the short sections above exercise it when the threads run at
# once (the program counts overlaps: on a loaded machine they may not), in
# one of up to 5 runs.
most=0
for _ in 1 2 3 4 5; do
	HEAPPROF_OUTPUT=$WORK/modes HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=1 \
		run_profiled glibc "$MODES" marks >"$WORK/modes.marks" 2>&1
	n=$(awk '/^marked / { print $2 }' "$WORK/modes.marks")
	o=$(awk '/^marked / { print $4 }' "$WORK/modes.marks")
	[ "${o:-0}" -gt "$most" ] && most=$o
	[ "${n:-0}" -gt 0 ] && break
done
if [ "${n:-0}" -gt 0 ] || [ "$most" -ge 20 ]; then
	check "lock modes, both on: ${n:-no} acquisitions saw the mark, all checks pass" \
		sh -c "test '${n:-0}' -gt 0 && ! grep -q '^not ok' '$WORK/modes.marks'"
else
	skip "lock modes, the mark: the threads ran at once $most times at most in 5 runs (a loaded machine)"
fi

# At a fraction above 1 the mutex profile follows one wait in N and scales
# what it charges by N: 4 threads take one mutex 2,000 times each, holding
# it 100 us (about 6,000 waits, 1,500 followed at 4); the estimate's spread
# was 3% (0.967 to 1.054 of the timed total in 8 runs), so 20% is far
# outside it, and a charge not scaled (0.25) or counted twice (2) far
# outside that. The block profile at rate 1 keeps every wait.
# On a loaded machine (make check's other tests) a waiter preempted after
# it took the lock adds to what the program times and to no profile, and
# fewer, longer waits widen the spread: up to three runs, the checks on the
# last (a wrong scale fails them all).
out=$WORK/many
for try in 1 2 3; do
	rm -rf "$out" && mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/m HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=4 \
		run_profiled glibc "$PROG" many 2000 >"$out/stdout" 2>"$out/stderr"
	read -r _ many_ns < <(grep '^many' "$out/stdout")
	block=$(one_file "$out"/m.*.exit.block.pb.gz)
	mx=$(one_file "$out"/m.*.exit.mutex.pb.gz)
	[ -n "$block" ] && [ -n "$mx" ] || break
	bgot=$(value "$block" delay wait_many)
	got=$(value "$mx" delay release_many)
	# Each followed wait is one event (Go counts a wait woken), scaled by
	# the fraction: about the block profile's count of every wait.
	n=$(value "$mx" contentions release_many)
	nb=$(value "$block" contentions wait_many)
	near "$bgot" "$many_ns" 10 && near "$got" "$many_ns" 20 && near "$n" "$nb" 20 && break
	echo "# fraction 4, run $try: block $bgot, mutex $got of $many_ns ns; $n of $nb contentions"
done
if [ -n "$block" ] && [ -n "$mx" ]; then
	close_to "fraction 4: block wait_many (every wait)" "$bgot" "$many_ns"
	check "fraction 4: mutex release_many: $got ns within 20% of the ${many_ns:-?} ns the program timed" \
		near "$got" "$many_ns" 20
	check "fraction 4: mutex contentions at release_many, $n, a multiple of 4 within 20% of the block profile's $nb" \
		fourfold_near "$n" "$nb"
else
	check "fraction 4: .block.pb.gz and .mutex.pb.gz beside the exit profile" false
fi

# The clock forms, as C++'s timed waits call them (std::timed_mutex,
# std::condition_variable::wait_for): pthread_mutex_clocklock and
# pthread_cond_clockwait on CLOCK_MONOTONIC are profiled as the others.
out=$WORK/clock
mkdir -p "$out"
HEAPPROF_OUTPUT=$out/k HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=1 \
	run_profiled glibc "$PROG" clock 500 >"$out/stdout" 2>"$out/stderr"
read -r _ clocked_ns < <(grep '^clocked' "$out/stdout")
read -r _ cond_clocked_ns < <(grep '^cond_clocked' "$out/stdout")
block=$(one_file "$out"/k.*.exit.block.pb.gz)
mx=$(one_file "$out"/k.*.exit.mutex.pb.gz)
if [ -n "$block" ] && [ -n "$mx" ]; then
	close_to "clock forms: block wait_clocked" "$(value "$block" delay wait_clocked)" "$clocked_ns"
	close_to "clock forms: mutex release_clocked" "$(value "$mx" delay release_clocked)" "$clocked_ns"
	close_to "clock forms: block cond_clocked" "$(value "$block" delay cond_clocked)" "$cond_clocked_ns"
else
	check "clock forms: .block.pb.gz and .mutex.pb.gz beside the exit profile" false
fi

# A forked child's profiles hold its own waits, not its parent's: the
# parent's many waits come before the fork, the child's own after it. Up to
# three runs for the timed totals, as above.
out=$WORK/fork
for try in 1 2 3; do
	rm -rf "$out" && mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/f HEAPPROF_BLOCK_RATE=1 HEAPPROF_MUTEX_FRACTION=1 \
		run_profiled glibc "$PROG" fork 500 >"$out/stdout" 2>"$out/stderr"
	ran=$?
	read -r _ kid kid_ns < <(grep '^child' "$out/stdout")
	read -r _ parent_ns < <(grep '^many' "$out/stdout")
	kb=$(one_file "$out/f.${kid:-none}".*.exit.block.pb.gz)
	km=$(one_file "$out/f.${kid:-none}".*.exit.mutex.pb.gz)
	[ "$ran" = 0 ] && [ -n "$kb" ] && [ -n "$km" ] && [ "${parent_ns:-0}" -gt 0 ] || break
	kid_block=$(value "$kb" delay wait_in_child)
	kid_mutex=$(value "$km" delay release_in_child)
	pb=$(ls "$out"/f.*.exit.block.pb.gz | grep -v "/f\.$kid\.")
	parent_block=$(value "$pb" delay wait_many)
	near "$kid_block" "$kid_ns" 10 && near "$kid_mutex" "$kid_ns" 10 &&
		near "$parent_block" "$parent_ns" 10 && break
	echo "# fork, run $try: child $kid_block and $kid_mutex of $kid_ns ns, parent $parent_block of $parent_ns ns"
done
ok "$ran" "fork: parent and child ran to completion"
if [ "$ran" = 0 ] && [ -n "$kb" ] && [ -n "$km" ] && [ "${parent_ns:-0}" -gt 0 ]; then
	close_to "fork: the child's block wait_in_child" "$kid_block" "$kid_ns"
	close_to "fork: the child's mutex release_in_child" "$kid_mutex" "$kid_ns"
	check "fork: none of the parent's $parent_ns ns of waits in the child's profiles" \
		test "$(value "$kb" delay wait_many)" = 0 -a "$(value "$km" delay release_many)" = 0
	close_to "fork: the parent's block wait_many" "$parent_block" "$parent_ns"
else
	check "fork: the child's .block.pb.gz and .mutex.pb.gz, and the parent's waits ($kb $km ${parent_ns:-none})" false
fi

# Off by default, like Go's; each one alone when only its variable is set.
out=$WORK/off
mkdir -p "$out"
HEAPPROF_OUTPUT=$out/c run_profiled glibc "$PROG" >/dev/null 2>&1
check "off by default: the heap profile alone" \
	test -n "$(one_file "$out"/c.*.exit.pb.gz)" -a -z "$(one_file "$out"/c.*.block.pb.gz "$out"/c.*.mutex.pb.gz)"
out=$WORK/blockonly
mkdir -p "$out"
HEAPPROF_OUTPUT=$out/c HEAPPROF_BLOCK_RATE=1000 run_profiled glibc "$PROG" >/dev/null 2>&1
check "HEAPPROF_BLOCK_RATE alone: a block profile, no mutex profile" \
	test -n "$(one_file "$out"/c.*.exit.block.pb.gz)" -a -z "$(one_file "$out"/c.*.mutex.pb.gz)"

done_testing
