# SPDX-License-Identifier: MIT
# Known allocations (prog_known): exact at HEAPPROF_RATE=1, within 4 standard
# deviations at the default rate, on glibc and with jemalloc behind the
# profiler; every profile read by heapprof and by go tool pprof (all four
# sample types, and -base between a SIGUSR2 snapshot and the exit profile).
# "ctor": glibc, with a preloaded library whose constructor allocates 20,000
# times on the main thread before the profiler's constructor runs (the main
# thread skips the sampler's slow path then, sampler.c; exact again after).
#
# Tolerance: each estimate is a sum of independent per-block terms whose
# variance the program computes from its own sizes (docs/sampling.md). A
# 4-sigma band fails by chance with probability 6e-5 per check; the seed is
# fixed (HEAPPROF_SEED) so the run is also reproducible.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_known
TYPES="alloc_objects alloc_space inuse_objects inuse_space"

for alloc in $(allocators) ctor; do
	for rate in 1 524288; do
		out=$WORK/$alloc-$rate
		mkdir -p "$out"
		HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=$rate HEAPPROF_SEED=7 \
			run_profiled "$alloc" "$PROG" --snapshot >"$out/stdout" 2>"$out/stderr"
		ok $? "$alloc rate=$rate: program ran to completion"
		snap=$(one_file "$out"/hp.*.0001.signal.pb.gz)
		exitp=$(one_file "$out"/hp.*.0002.exit.pb.gz)
		check "$alloc rate=$rate: SIGUSR2 snapshot and exit profile written" \
			test -n "$snap" -a -n "$exitp"
		[ -n "$snap" ] && [ -n "$exitp" ] || continue
		check "$alloc rate=$rate: both profiles validate" \
			quiet "$HEAPPROF_BIN" info "$snap"
		while read -r _ fn ao as io is sdo sds; do
			i=0
			for t in $TYPES; do
				i=$((i + 1))
				case $i in 1) want=$ao sd=$sdo ;; 2) want=$as sd=$sds ;;
				3) want=$io sd=$sdo ;; 4) want=$is sd=$sds ;; esac
				[ "$fn" = churn ] && [ $i -ge 3 ] && sd=0 # frees subtract exactly
				tol=$(awk -v s="$sd" 'BEGIN { printf "%.0f", 4 * s }')
				got=$(hp_flat "$exitp" "$t" "$fn")
				if [ "$rate" = 1 ] || [ "$tol" = 0 ]; then
					check "$alloc rate=$rate: $fn $t = $want exactly (got $got)" \
						test "$got" = "$want"
				else
					check "$alloc rate=$rate: $fn $t = $want +- $tol (got $got)" \
						within "$got" "$want" "$tol"
				fi
				if have_go; then
					pg=$(pprof_flat "$exitp" "$t" "$fn")
					check "$alloc rate=$rate: go tool pprof -top -sample_index=$t names $fn with the same value ($pg)" \
						test "$pg" = "$got"
				fi
			done
		done < <(grep '^expect' "$out/stdout")

		# What changed between the snapshot and exit: keep_big and churn only.
		if [ "$rate" = 1 ]; then
			read -r _ _ bo bs _ _ _ _ < <(grep '^expect keep_big' "$out/stdout")
			read -r _ _ co cs _ _ _ _ < <(grep '^expect churn' "$out/stdout")
			base_checks="inuse_space:keep_big:$bs inuse_objects:keep_big:$bo
				alloc_space:churn:$cs alloc_objects:churn:$co
				inuse_space:churn:0 inuse_space:keep_small:0 alloc_objects:keep_small:0"
			for c in $base_checks; do
				IFS=: read -r t fn want <<<"$c"
				got=$(hp_flat "$exitp" "$t" "$fn" "$snap")
				check "$alloc: heapprof top --base: $fn $t grew by $want (got $got)" \
					test "$got" = "$want"
				if have_go; then
					pg=$(pprof_flat "$exitp" "$t" "$fn" "$snap")
					check "$alloc: go tool pprof -base: $fn $t grew by $want (got $pg)" \
						test "$pg" = "$want"
				fi
			done
		fi
		if [ "$alloc" = ctor ]; then
			got=$(hp_flat "$exitp" alloc_objects ctor_allocate)
			check "ctor rate=$rate: what the constructor allocated before start-up is not in the profile (got $got)" \
				test "$got" = 0
		fi
		check "$alloc rate=$rate: nothing on stderr" test ! -s "$out/stderr"
	done
done
skip_jemalloc "known allocations, exact and within 4 sigma"
have_go || skip "go tool pprof checks: go not installed"
done_testing
