# SPDX-License-Identifier: MIT
# pprof's ways of reading, in heapprof: --focus, --ignore, --hide and --show
# give go tool pprof's numbers; pprof's spellings of sample types, -base,
# --diff-base, --nodecount and --unit are taken and mean what they mean in
# pprof; several profiles read as one (top A B, heapprof merge) on the
# workers of a forking program; peek prints pprof -peek's callers and callees.
. "$(dirname "$0")/lib.sh"

HP=$HEAPPROF_BIN
TYPES="alloc_objects alloc_space inuse_objects inuse_space"
# The functions of the test programs: their names do not depend on how the
# C library's frames are named (heapprof may symbolize them, pprof -symbolize=none
# shows [libc.so.6]).
OWN='^(keep_small|keep_big|churn|print_expect|main|parent_alloc|child_alloc|deep_alloc)$'

pprof() { "$GO" tool pprof -symbolize=none "$@" 2>/dev/null; }

# "name<TAB>flat" of the test programs' functions, and "TOTAL<TAB>sum of flat".
ours() { # ours ARGS... (heapprof top options and profiles)
	"$HP" top --raw "$@" | awk -F'\t' -v own="$OWN" '
		{ s += $1 } $1 != 0 && $3 ~ own { print $3 "\t" $1 }
		END { printf "TOTAL\t%.0f\n", s }' | sort
}
theirs() { # theirs ARGS... (pprof options and profiles)
	pprof -top -nodefraction=0 -nodecount=100000 -unit=B "$@" |
		awk -v own="$OWN" '/^ *-?[0-9.]+B? +-?[0-9.e+-]+% / {
			v = $1; sub(/B$/, "", v); s += v
			name = $6; for (i = 7; i <= NF; i++) name = name " " $i
			if (v != 0 && name ~ own) print name "\t" v }
			END { printf "TOTAL\t%.0f\n", s }' | sort
}
# The "Showing nodes accounting for X, P% of T total" line, values in bytes.
showing_ours() { "$HP" top --unit=B "$@" | grep '^Showing'; }
showing_theirs() { pprof -top -nodefraction=0 -unit=B "$@" | grep '^Showing'; }

same() { # same LABEL [OURS-ARGS] -- [PPROF-ARGS]: flats, total and header agree
	local label=$1 o=() t=()
	shift
	while [ "$1" != -- ]; do o+=("$1"); shift; done
	shift
	t=("$@")
	ours "${o[@]}" >"$WORK/ours"
	theirs "${t[@]}" >"$WORK/theirs"
	showing_ours "${o[@]}" >>"$WORK/ours"
	showing_theirs "${t[@]}" >>"$WORK/theirs"
	if [ "$(wc -l <"$WORK/ours")" -gt 2 ] && cmp -s "$WORK/ours" "$WORK/theirs"; then
		ok 0 "$label = go tool pprof ($(grep -c . "$WORK/ours") lines: flats, total, header)"
	else
		ok 1 "$label = go tool pprof"
		diff "$WORK/ours" "$WORK/theirs" | head -10 | sed 's/^/# /'
	fi
}

have_go || skip_all "go not found (Debian package golang-go)"

HEAPPROF_OUTPUT=$WORK/k HEAPPROF_RATE=1 HEAPPROF_SEED=3 \
	timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" "$TEST_BUILDDIR/prog_known" --snapshot >/dev/null
snap=$(one_file "$WORK"/k.*.signal.pb.gz)
final=$(one_file "$WORK"/k.*.exit.pb.gz)
check "known allocations profiled" test -n "$snap" -a -n "$final"

# focus, ignore, hide, show: pprof's semantics, on every sample type.
for t in inuse_space alloc_space; do
	same "top --focus keep_big, $t" --focus keep_big -sample_index=$t "$final" -- \
		-focus=keep_big -sample_index=$t "$final"
	same "top -focus=keep -ignore=small, $t" -focus=keep -ignore=small --sample-index $t "$final" -- \
		-focus=keep -ignore=small -sample_index=$t "$final"
	same "top --ignore keep_big, $t" --ignore keep_big --$t "$final" -- -ignore=keep_big -$t "$final"
	same "top --hide keep_small (its bytes go to main), $t" --hide keep_small -$t "$final" -- \
		-hide=keep_small -$t "$final"
	same "top --show '^(main|keep_big)\$', $t" --show '^(main|keep_big)$' -$t "$final" -- \
		-show='^(main|keep_big)$' -$t "$final"
done
flat_of() { awk -F'\t' -v f="$1" '$1 == f { print $2 }'; }
ks=$(ours -inuse_space "$final" | flat_of keep_small)
kb=$(ours -inuse_space "$final" | flat_of keep_big)
got=$(ours --hide keep_small -inuse_space "$final" | flat_of main)
check "hide keep_small: main's flat becomes keep_small's ($got = $ks)" test "$got" = "$ks" -a -n "$ks"
got=$(ours --focus keep_big -inuse_space "$final" | flat_of TOTAL)
check "focus keep_big: 41943040 bytes in all ($got)" test "$got" = 41943040 -a "$kb" = 41943040
# The other reading commands filter the same way.
same "top --focus keep -alloc_space -base OLD NEW" -focus=keep -alloc_space -base "$snap" "$final" -- \
	-focus=keep -alloc_space -base "$snap" "$final"
check "diff --focus keep OLD NEW = top --focus keep --base OLD NEW" \
	bash -c "diff <('$HP' diff --raw --focus keep '$snap' '$final') \
		<('$HP' top --raw --focus keep --base '$snap' '$final')"
got=$("$HP" folded --focus keep_big "$final" | awk '{ s += $NF } END { printf "%.0f", s }')
check "folded --focus keep_big: the stacks add up to keep_big's $kb ($got)" test "$got" = "$kb"
check "folded --hide keep_small: main holds keep_small's bytes, keep_small is gone" \
	bash -c "'$HP' folded --hide keep_small '$final' | grep -qE ';main $ks\$' &&
		! '$HP' folded --hide keep_small '$final' | grep -q keep_small"
check "folded --show '^(main|keep_big)\$': stacks of those two only" \
	bash -c "'$HP' folded --show '^(main|keep_big)\$' '$final' | cut -d' ' -f1 | sort -u |
		tr '\n' ' ' | grep -qx 'main main;keep_big '"
"$HP" flame --ignore keep_small "$final" -o "$WORK/ignore.svg"
check "flame --ignore keep_small: keep_big drawn, keep_small not" \
	bash -c "grep -q '>keep_big (' '$WORK/ignore.svg' && ! grep -q 'keep_small' '$WORK/ignore.svg'"
"$HP" top --focus '(' "$final" >/dev/null 2>"$WORK/err"
rc=$?
check "a bad regex: status 2, one line naming the option ($(cat "$WORK/err"))" \
	test $rc = 2 -a "$(grep -c '^heapprof top: --focus: bad regular expression' "$WORK/err")" = 1

# pprof's spellings of sample types: the same output as --sample-index.
for t in $TYPES; do
	"$HP" top --raw --sample-index=$t "$final" >"$WORK/want"
	bad=
	for spelling in "-sample_index=$t" "--sample_index=$t" "--sample_index $t" "--$t" "-$t"; do
		# shellcheck disable=SC2086
		"$HP" top --raw $spelling "$final" | cmp -s - "$WORK/want" || bad="$bad $spelling"
	done
	check "$t spelled as pprof does (-sample_index=, --sample_index, --$t, -$t)${bad:+: not$bad}" \
		test -z "$bad" -a -s "$WORK/want"
	same "top -$t" -$t "$final" -- -$t "$final"
done

# -base, --diff-base (percentages of the base's total), --nodecount, --unit.
same "top -base OLD" -base "$snap" -alloc_space "$final" -- -base "$snap" -alloc_space "$final"
same "top --diff-base OLD" --diff-base "$snap" "$final" -- -diff_base "$snap" "$final"
same "top -diff_base OLD -inuse_objects" -diff_base "$snap" -inuse_objects "$final" -- \
	-diff_base "$snap" -inuse_objects "$final"
diff <("$HP" top --unit=B -nodecount=2 "$final" | sed -n '/^Showing/p') \
	<("$HP" symbolize "$final" -o "$WORK/final.sym.pb.gz" && # N counts libc's frames
		pprof -top -unit=B -nodefraction=0 -nodecount=2 "$WORK/final.sym.pb.gz" |
		sed -n '/^Showing/p') >/dev/null
ok $? "top --nodecount 2: pprof's header (top 2 nodes out of N, what they account for)"
check "top -n 2 = top --nodecount=2 = top -nodecount 2" \
	bash -c "diff <('$HP' top -n 2 '$final') <('$HP' top --nodecount=2 '$final') &&
		diff <('$HP' top -n 2 '$final') <('$HP' top -nodecount 2 '$final')"
for u in B kB MB GB; do
	diff <("$HP" top --unit=$u "$final" | grep -E ' (keep_big|keep_small)$') \
		<(pprof -top -nodefraction=0 -unit=$u "$final" | grep -E ' (keep_big|keep_small)$') >/dev/null
	ok $? "top --unit $u: the rows of keep_big and keep_small as pprof -unit=$u prints them"
done
diff <("$HP" top "$final" | grep -E ' (keep_big|keep_small)$') \
	<(pprof -top "$final" | grep -E ' (keep_big|keep_small)$') >/dev/null
ok $? "top: pprof's default unit (minimum): the same rows as pprof -top"
"$HP" top --unit=parsecs "$final" >/dev/null 2>"$WORK/err"
rc=$?
check "top --unit parsecs: status 2, says what is expected" \
	test $rc = 2 -a "$(grep -c 'expected minimum, auto, B' "$WORK/err")" = 1
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$TEST_BUILDDIR/../../hp_autoconf.h")
check "heapprof --version prints 'heapprof $version'" \
	test "$("$HP" --version)" = "heapprof $version" -a -n "$version"

# Several profiles as one: the workers of a forking server, one file each.
HEAPPROF_OUTPUT=$WORK/f HEAPPROF_RATE=1 HEAPPROF_SEED=3 \
	timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" "$TEST_BUILDDIR/prog_fork" >"$WORK/fork.out"
parent=$(awk '/^parent/ { print $2 }' "$WORK/fork.out")
kids=()
for pid in $(awk '/^child/ { print $2 }' "$WORK/fork.out"); do
	f=$(one_file "$WORK"/f.$pid.*.exit.pb.gz)
	[ -n "$f" ] && kids+=("$f")
done
check "prog_fork: a profile per child (${#kids[@]} of 20)" test "${#kids[@]}" = 20
sum=0
for f in "${kids[@]}"; do
	v=$(ours -alloc_space "$f" | awk -F'\t' '$1 == "child_alloc" { print $2 }')
	sum=$((sum + ${v:-0}))
done
got=$(ours -alloc_space "${kids[@]}" | awk -F'\t' '$1 == "child_alloc" { print $2 }')
check "top of 20 children's profiles: child_alloc is the sum of theirs ($got = $sum = 20 x 50 x 20480)" \
	test "$got" = "$sum" -a "$sum" = 20480000
same "top of 20 children's profiles" -alloc_space "${kids[@]}" -- -alloc_space "${kids[@]}"
all=("${kids[@]}" "$(one_file "$WORK"/f."$parent".*.exit.pb.gz)")
"$HP" merge "${all[@]}" -o "$WORK/merged.pb.gz"
ok $? "heapprof merge of the parent's and children's profiles"
totals() { "$HP" info "$@" | awk '/^Total/ { gsub(/[()]/, "", $NF); print $2, $NF }'; }
for f in "${all[@]}"; do totals "$f"; done |
	awk '{ s[$1] += $2 } END { for (t in s) printf "%s %.0f\n", t, s[t] }' | sort >"$WORK/want"
totals "$WORK/merged.pb.gz" | sort >"$WORK/got"
check "merge: each sample type's total is the sum of the files' ($(tr '\n' ' ' <"$WORK/got"))" \
	cmp -s "$WORK/want" "$WORK/got"
locs() { "$HP" info "$1" | sed -n 's/.*locations: \([0-9]*\),.*/\1/p'; }
n=0
for f in "${all[@]}"; do n=$((n + $(locs "$f"))); done
check "merge: locations shared by the processes are stored once ($(locs "$WORK/merged.pb.gz") < $n)" \
	test "$(locs "$WORK/merged.pb.gz")" -lt "$n"
for t in $TYPES; do
	same "go tool pprof reads the merged file, $t" -$t "${all[@]}" -- -$t "$WORK/merged.pb.gz"
done
"$TEST_BUILDDIR/prog_badprof" "$WORK"
"$HP" merge "$final" "$WORK/twotypes.pb.gz" -o "$WORK/bad.pb.gz" 2>"$WORK/err"
rc=$?
check "merge of profiles with different sample types: status 2, says so ($(cat "$WORK/err"))" \
	test $rc = 2 -a "$(grep -c '^heapprof merge: .*sample types differ' "$WORK/err")" = 1
"$HP" top "$final" "$WORK/twotypes.pb.gz" >/dev/null 2>"$WORK/err"
rc=$?
check "top of profiles with different sample types: status 2, names both ($(cat "$WORK/err"))" \
	test $rc = 2 -a "$(grep -c "^heapprof top: $WORK/twotypes.pb.gz: sample types differ from $final's" "$WORK/err")" = 1

# peek: callers and callees, laid out as pprof -peek.
diff <("$HP" peek --unit=B 'keep_(big|small)' "$final" | sed -n '/^Showing/,$p') \
	<(pprof -peek 'keep_(big|small)' -unit=B "$final" | sed -n '/^Showing/,$p') >"$WORK/peekdiff"
ok $? "peek 'keep_(big|small)' = go tool pprof -peek, line for line"
sed 's/^/# /' "$WORK/peekdiff" | head -10
"$HP" peek --unit=B '^main$' "$final" >"$WORK/peek"
check "peek ^main\$: callees keep_small ($ks) and keep_big ($kb), their whole values" \
	bash -c "grep -qE '^ +${ks}B +[0-9.]+% \|   keep_small$' '$WORK/peek' &&
		grep -qE '^ +${kb}B +[0-9.]+% \|   keep_big$' '$WORK/peek'"
diff <(grep -E '\|   (keep_small|keep_big|print_expect)$' "$WORK/peek") \
	<(pprof -peek '^main$' -unit=B "$final" | grep -E '\|   (keep_small|keep_big|print_expect)$') >/dev/null
ok $? "peek ^main\$: main's callees as pprof -peek lists them"
timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/d" HEAPPROF_RATE=1 \
	"$TEST_BUILDDIR/prog_deep" >/dev/null
deep=$(one_file "$WORK"/d.*.exit.pb.gz)
"$HP" peek --unit=B '^deep_alloc$' "$deep" >"$WORK/peek"
diff <(grep -E '\|   (main|deep_alloc)$' "$WORK/peek") \
	<(pprof -peek '^deep_alloc$' -unit=B "$deep" | grep -E '\|   (main|deep_alloc)$') >/dev/null
ok $? "peek of recursive deep_alloc: callers main and deep_alloc as pprof -peek ($(grep -c '|   ' "$WORK/peek") edges)"
"$HP" peek nosuchfunction "$final" >/dev/null 2>"$WORK/err"
rc=$?
check "peek of a regex matching nothing: status 2, says so" \
	test $rc = 2 -a "$(grep -c '^heapprof peek: no matches' "$WORK/err")" = 1
for c in peek merge; do
	"$HP" $c --help >/dev/null 2>&1
	check "heapprof $c --help" test $? = 0
done
done_testing
