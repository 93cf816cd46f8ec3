# SPDX-License-Identifier: MIT
# A program that manages its own descriptors (prog_fds): it closes every
# descriptor above 2 (close_range, closefrom, or one by one from
# /proc/self/fd), reuses the low numbers for a file, a pipe and 1014
# duplicates of the file, and asks for 20 snapshots while it writes known
# records through them. The profiler holds no descriptor between operations,
# so nothing it does lands in the program's file or pipe, no descriptor of
# the program is closed or taken, and exactly the snapshots asked for are
# written: 20 signal profiles and one exit profile, each readable, with the
# program's allocations exact at HEAPPROF_RATE=1.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_fds
ROUNDS=20
# Six 32-byte records a round, through fd 3 and its duplicates.
BYTES=$((ROUNDS * 6 * 32))
# round_keep: 16 blocks of 40960 per round; start_keep: 8 of 65536 before
# the descriptors are closed; round_churn: 100 blocks freed at once, per round
# and once at start.
KEEP=$((ROUNDS * 16 * 40960))
START=$((8 * 65536))
CHURN=$(((ROUNDS + 1) * 100))

for alloc in $(allocators); do
	for rate in 1 524288; do
		for method in close_range closefrom procfs; do
			name="$alloc $method rate=$rate"
			out=$WORK/$alloc-$method-$rate
			mkdir -p "$out"
			HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=$rate HEAPPROF_SEED=11 \
				run_profiled "$alloc" "$PROG" "$method" "$out" "$ROUNDS" \
				</dev/null >"$out/stdout" 2>"$out/stderr"
			rc=$?
			check "$name: exits 0 (got $rc)" test "$rc" = 0
			check "$name: nothing on stderr ($(head -c 400 "$out/stderr" | tr '\n' ' '))" \
				test ! -s "$out/stderr"
			want="$method: $ROUNDS rounds, $ROUNDS snapshots, $BYTES bytes written and read back, fds 0-5 and 10-1023 only"
			check "$name: every record and pipe byte as written, only its own descriptors" \
				grep -qxF "$want" "$out/stdout"
			nsig=$(find "$out" -name 'hp.*.signal.pb.gz' | wc -l)
			nexit=$(find "$out" -name 'hp.*.exit.pb.gz' | wc -l)
			nall=$(find "$out" -name '*.pb.gz' | wc -l)
			check "$name: $ROUNDS signal profiles, one per request (got $nsig)" \
				test "$nsig" = "$ROUNDS"
			check "$name: one exit profile (got $nexit)" test "$nexit" = 1
			check "$name: no other profile ($nall in all)" test "$nall" = $((ROUNDS + 1))
			unreadable=0
			for f in "$out"/*.pb.gz; do
				[ -e "$f" ] || continue
				quiet "$HEAPPROF_BIN" info "$f" || unreadable=$((unreadable + 1))
			done
			check "$name: heapprof info reads every profile ($unreadable unreadable)" \
				test "$unreadable" = 0
			exitp=$(one_file "$out"/hp.*.exit.pb.gz)
			last=$(one_file "$out"/hp.*."$(printf %04d "$ROUNDS")".signal.pb.gz)
			if [ -z "$exitp" ]; then
				ok 1 "$name: no exit profile to read"
				continue
			fi
			got=$(hp_flat "$exitp" inuse_space round_keep)
			if [ "$rate" = 1 ]; then
				check "$name: exit profile: round_keep inuse_space $KEEP (got $got)" \
					test "$got" = "$KEEP"
				got=$(hp_flat "$exitp" inuse_space start_keep)
				check "$name: exit profile: start_keep inuse_space $START (got $got)" \
					test "$got" = "$START"
				got=$(hp_flat "$exitp" alloc_objects round_churn)
				check "$name: exit profile: round_churn alloc_objects $CHURN (got $got)" \
					test "$got" = "$CHURN"
				got=$(hp_flat "$exitp" inuse_objects round_churn)
				check "$name: exit profile: round_churn inuse_objects 0 (got $got)" \
					test "$got" = 0
				got=$([ -n "$last" ] && hp_flat "$last" inuse_space round_keep)
				check "$name: snapshot $ROUNDS: round_keep inuse_space $KEEP (got ${got:-no file})" \
					test "$got" = "$KEEP"
			else
				# 320 blocks of 40 KiB at 512 KiB: sd = 40960 * sqrt(320 (1-p)/p),
				# p = 1 - exp(-40960/524288), about 2.6 MB; 4 sd.
				check "$name: exit profile: round_keep inuse_space $KEEP +- 10300000 (got $got)" \
					within "$got" "$KEEP" 10300000
			fi
			if have_go && [ "$method" = close_range ]; then
				check "$name: go tool pprof reads the exit profile (round_keep)" \
					pprof_lists "$exitp" alloc_space round_keep
			fi
		done
	done
done
skip_jemalloc "descriptors managed by the program"
have_go || skip "go tool pprof checks: go not installed"
done_testing
