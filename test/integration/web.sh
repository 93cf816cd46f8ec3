# SPDX-License-Identifier: MIT
# heapprof web: the HTML report of prog_known's profiles at HEAPPROF_RATE=1,
# driven in headless Chromium through the page's test hook (#test=...), which
# writes the state it shows into <pre id="test-result">: the top table's rows
# with exact values, totals, timeline points, callers and callees. Checks the
# exact values of known_allocations.sh, that sample type, focus, ignore, base
# and snapshot change them as they must, that nothing leaves the page, and
# the size and time of a report of 100,000 stacks. The source view: on
# prog_inline (-O2 -g, symbolize.sh's) and prog_known (-g), a selected
# function's source lines with their exact values.
. "$(dirname "$0")/lib.sh"
unset DEBUGINFOD_URLS # the symbolizer must not wait on the network here

HP=$HEAPPROF_BIN
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)

out=$WORK/known
mkdir -p "$out"
HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 HEAPPROF_SEED=7 \
	run_profiled glibc "$TEST_BUILDDIR/prog_known" --snapshot >"$out/stdout" 2>"$out/stderr"
ok $? "prog_known ran at HEAPPROF_RATE=1 with a snapshot"
snap=$(one_file "$out"/hp.*.0001.signal.pb.gz)
exitp=$(one_file "$out"/hp.*.0002.exit.pb.gz)
[ -n "$snap" ] && [ -n "$exitp" ] || { ok 1 "two profiles written"; done_testing; exit 0; }
# expect FUNC alloc_objects alloc_space inuse_objects inuse_space ...
read -r _ _ small_ao small_as _ small_is _ _ < <(grep '^expect keep_small' "$out/stdout")
read -r _ _ _ _ _ big_is _ _ < <(grep '^expect keep_big' "$out/stdout")
read -r _ _ churn_ao churn_as _ _ _ _ < <(grep '^expect churn' "$out/stdout")

"$HP" web "$exitp" -o "$WORK/one.html"
ok $? "heapprof web PROFILE -o one.html"
"$HP" web "$exitp" "$snap" -o "$WORK/two.html" # out of order: sorted by time
ok $? "heapprof web SNAPSHOT EXIT -o two.html"
"$HP" web --base "$snap" "$exitp" -o "$WORK/diff.html"
ok $? "heapprof web --base SNAPSHOT EXIT -o diff.html"

# prog_inline allocates at the lines marked "line:NAME", 3 x 100 bytes in
# Pool<int>::grow, 2 x 200 in the inlined helper called from outer.
INL_SRC=$(dirname "$0")/prog_inline.cc
line_of() { grep -n "line:$1\$" "$INL_SRC" | cut -d: -f1; }
POOL='shapes::Pool<int>::grow(unsigned long)'
inl=$WORK/inline
mkdir -p "$inl"
HEAPPROF_OUTPUT=$inl/hp HEAPPROF_RATE=1 \
	run_profiled glibc "$TEST_BUILDDIR/prog_inline" >"$inl/stdout" 2>"$inl/stderr"
ok $? "prog_inline ran at HEAPPROF_RATE=1"
inlp=$(one_file "$inl"/hp.*.0001.exit.pb.gz)
"$HP" web "$inlp" -o "$WORK/inline.html"
ok $? "heapprof web of prog_inline's profile"
check "the report embeds the source line of Pool<int>::grow's malloc" \
	grep -qF 'malloc(n * sizeof(T))); // line:pool' "$WORK/inline.html"

"$HP" web "$exitp" >/dev/null 2>&1
check "heapprof web without -o: status 2" test $? = 2
"$HP" web "$WORK/missing.pb.gz" -o "$WORK/x.html" 2>"$WORK/err"
rc=$?
check "heapprof web of a missing file: status 2, one line ($(head -c 80 "$WORK/err"))" \
	test "$rc" = 2 -a "$(grep -c . "$WORK/err")" = 1

# No reference that would load anything: only namespace names.
refs=$(cat "$WORK/one.html" "$WORK/two.html" "$WORK/diff.html" | grep -o 'https\?://[^"'"'"' )]*' |
	grep -v '^http://www\.w3\.org/2000/svg$' | sort -u | tr '\n' ' ')
check "the reports name no URL but the SVG namespace (${refs:-none})" test -z "$refs"
check "the data is escaped: no </script> inside it" \
	test "$(grep -o '</script>' "$WORK/one.html" | wc -l)" = 2

if [ -z "$CHROMIUM" ]; then
	skip "the report in Chromium: chromium not installed"
	done_testing
	exit 0
fi

# The page's test result for FILE#test=STATE, with every host unresolvable so
# that any request would fail.
page() { # page FILE STATE
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--host-resolver-rules="MAP * ~NOTFOUND" --user-data-dir="$WORK/chromium" \
		--virtual-time-budget=5000 --dump-dom "file://$1#test=$2" 2>/dev/null |
		sed -n '/<pre id="test-result"/,/<\/pre>/p' | sed 's/<[^>]*>//g'
}
# The flat value of FUNC in a result, or "absent".
flat() { awk -F'\t' -v f="$2" '$1 == "row" && $4 == f { print $2; found = 1 }
	END { if (!found) print "absent" }' <<<"$1"; }
field() { awk -F'\t' -v k="$2" '$1 == k { print $2; exit }' <<<"$1"; }

r=$(page "$WORK/one.html" "sample:inuse_space")
check "the page ran its test hook (type $(field "$r" type))" test "$(field "$r" type)" = inuse_space
check "inuse_space: keep_small $small_is ($(flat "$r" keep_small))" test "$(flat "$r" keep_small)" = "$small_is"
check "inuse_space: keep_big $big_is ($(flat "$r" keep_big))" test "$(flat "$r" keep_big)" = "$big_is"
check "inuse_space: churn has nothing in use ($(flat "$r" churn))" test "$(flat "$r" churn)" = absent
want=$("$HP" top --raw --sample-index=inuse_space "$exitp" | awk -F'\t' '{ s += $1 } END { printf "%.0f", s }')
check "inuse_space: the total is heapprof top's, $want ($(field "$r" total))" test "$(field "$r" total)" = "$want"
check "the flame graph drew frames ($(field "$r" frames))" test "$(field "$r" frames)" -ge 4
check "one profile: no timeline ($(field "$r" points) points)" test "$(field "$r" points)" = 0

r=$(page "$WORK/one.html" "sample:alloc_space")
check "alloc_space: churn $churn_as ($(flat "$r" churn))" test "$(flat "$r" churn)" = "$churn_as"
check "alloc_space: keep_small $small_as ($(flat "$r" keep_small))" test "$(flat "$r" keep_small)" = "$small_as"

r=$(page "$WORK/one.html" "sample:alloc_objects;focus:^churn\$")
check "alloc_objects, focus ^churn\$: total $churn_ao ($(field "$r" total))" test "$(field "$r" total)" = "$churn_ao"
check "focus ^churn\$: keep_small is gone ($(flat "$r" keep_small))" test "$(flat "$r" keep_small)" = absent

r=$(page "$WORK/one.html" "sample:inuse_space;ignore:keep_")
want=$(awk -v t="$want" -v a="$small_is" -v b="$big_is" 'BEGIN { printf "%.0f", t - a - b }')
check "inuse_space, ignore keep_: total $want ($(field "$r" total))" test "$(field "$r" total)" = "$want"
check "ignore keep_: keep_big is gone ($(flat "$r" keep_big))" test "$(flat "$r" keep_big)" = absent

r=$(page "$WORK/one.html" "sample:inuse_space;sort:cum")
first=$(awk -F'\t' '$1 == "row" { print $3 "\t" $4; exit }' <<<"$r")
check "sorted by cum: the first row holds the whole total ($first)" \
	test "${first%%$'\t'*}" = "$(field "$r" total)"
r=$(page "$WORK/one.html" "sample:inuse_space;search:^keep_")
check "search ^keep_ highlights the two keep_ frames ($(field "$r" matches))" \
	test "$(field "$r" matches)" = 2

r=$(page "$WORK/one.html" "sample:inuse_space;hover:keep_big")
check "hovering over keep_big shows its value and share ($(field "$r" tip))" \
	test "$(field "$r" tip)" = "keep_big: 40MB (9.27%)"
r=$(page "$WORK/one.html" "sample:inuse_space;click:main")
check "a click on main zooms to it ($(field "$r" zoom))" test "$(field "$r" zoom)" = main

r=$(page "$WORK/one.html" "sample:inuse_space;select:keep_big")
caller=$(awk -F'\t' '$1 == "caller" { print $3 "=" $2 }' <<<"$r")
check "callers of keep_big: main with $big_is ($caller)" test "$caller" = "main=$big_is"

# The keyboard: arrows walk the flame graph from the root (up: the widest
# callee, up to the leaf), Enter zooms, Escape resets.
r=$(page "$WORK/one.html" "sample:inuse_space;keys:ArrowUp,ArrowUp,ArrowUp,ArrowUp,ArrowUp,ArrowUp,ArrowUp,ArrowUp,Enter")
check "arrows and Enter zoom to keep_small, the widest path ($(field "$r" zoom))" \
	test "$(field "$r" zoom)" = keep_small
check "Enter selects keep_small: its caller is main ($(awk -F'\t' '$1 == "caller" { print $3 }' <<<"$r"))" \
	test "$(awk -F'\t' '$1 == "caller" { print $3 }' <<<"$r")" = main
r=$(page "$WORK/one.html" "sample:inuse_space;keys:ArrowUp,ArrowUp,Enter,Escape")
check "Escape: no zoom ($(field "$r" zoom))" test -z "$(field "$r" zoom)"

# Two snapshots: a timeline of two points, in time order; a click shows one.
r=$(page "$WORK/two.html" "sample:inuse_space")
check "two snapshots: a timeline of 2 points ($(field "$r" points))" test "$(field "$r" points)" = 2
p0=$(awk -F'\t' '$1 == "point" && $2 == 0 { print $3 }' <<<"$r")
p1=$(awk -F'\t' '$1 == "point" && $2 == 1 { print $3 }' <<<"$r")
w0=$("$HP" top --raw --sample-index=inuse_space "$snap" | awk -F'\t' '{ s += $1 } END { printf "%.0f", s }')
check "the first point is the snapshot's in-use total, $w0 ($p0)" test "$p0" = "$w0"
check "the last point grew by keep_big's $big_is at least ($p0 -> $p1)" \
	test "$((p1 - p0))" -ge "$big_is"
check "keep_big is a leak suspect" grep -q $'^leak\tkeep_big' <<<"$r"
check "the last snapshot is shown first: keep_big $big_is ($(flat "$r" keep_big))" \
	test "$(flat "$r" keep_big)" = "$big_is"
r=$(page "$WORK/two.html" "sample:inuse_space;point:0")
check "a click on the first point shows snapshot 0 ($(field "$r" snapshot))" test "$(field "$r" snapshot)" = 0
check "snapshot 0: keep_small $small_is ($(flat "$r" keep_small))" \
	test "$(flat "$r" keep_small)" = "$small_is"
check "snapshot 0: keep_big not allocated yet ($(flat "$r" keep_big))" test "$(flat "$r" keep_big)" = absent

# --base: what grew since the snapshot.
r=$(page "$WORK/diff.html" "sample:inuse_space")
check "--base: keep_big grew by $big_is ($(flat "$r" keep_big))" test "$(flat "$r" keep_big)" = "$big_is"
check "--base: keep_small did not change ($(flat "$r" keep_small))" test "$(flat "$r" keep_small)" = absent
r=$(page "$WORK/diff.html" "sample:alloc_objects")
check "--base, alloc_objects: churn grew by $churn_ao ($(flat "$r" churn))" test "$(flat "$r" churn)" = "$churn_ao"

# The source view: select a function, read its lines ("src LINE FLAT CUM TEXT").
srcline() { awk -F'\t' -v l="$2" '$1 == "src" && $2 == l { print $3, $4; found = 1 }
	END { if (!found) print "absent" }' <<<"$1"; }
r=$(page "$WORK/inline.html" "sample:alloc_space;select:$POOL")
check "source of $POOL: line $(line_of pool) has 300 bytes flat and cum ($(srcline "$r" "$(line_of pool)"))" \
	test "$(srcline "$r" "$(line_of pool)")" = "300 300"
text=$(awk -F'\t' -v l="$(line_of pool)" '$1 == "src" && $2 == l' <<<"$r" | sed 's/&lt;/</g; s/&gt;/>/g')
check "source of $POOL: line $(line_of pool) is the file's line" grep -qF 'static_cast<T *>(malloc(n * sizeof(T))); // line:pool' <<<"$text"
check "source of $POOL: that is its only line with a value ($(awk -F'\t' '$1 == "src" && ($3 != 0 || $4 != 0)' <<<"$r" | wc -l))" \
	test "$(awk -F'\t' '$1 == "src" && ($3 != 0 || $4 != 0)' <<<"$r" | wc -l)" = 1
check "source of $POOL: lines around it, $(grep -c '^src' <<<"$r") of them" \
	test "$(grep -c '^src' <<<"$r")" -ge 5
r=$(page "$WORK/inline.html" "sample:alloc_objects;select:$POOL")
check "alloc_objects: line $(line_of pool) has 3 objects ($(srcline "$r" "$(line_of pool)"))" \
	test "$(srcline "$r" "$(line_of pool)")" = "3 3"
r=$(page "$WORK/inline.html" "sample:inuse_space;select:shapes::helper(unsigned long)")
check "source of the inlined helper: line $(line_of helper) has 400 bytes ($(srcline "$r" "$(line_of helper)"))" \
	test "$(srcline "$r" "$(line_of helper)")" = "400 400"
r=$(page "$WORK/inline.html" "sample:inuse_space;select:shapes::outer(unsigned long)")
check "source of outer: line $(line_of outer), the inlined call, has 400 bytes cum only ($(srcline "$r" "$(line_of outer)"))" \
	test "$(srcline "$r" "$(line_of outer)")" = "0 400"
big_line=$(grep -n 'big\[i\] = malloc(BIG_SIZE)' "$(dirname "$0")/prog_known.c" | cut -d: -f1)
r=$(page "$WORK/one.html" "sample:inuse_space;select:keep_big")
check "prog_known: keep_big's line $big_line holds $big_is in use ($(srcline "$r" "$big_line"))" \
	test "$(srcline "$r" "$big_line")" = "$big_is $big_is"
r=$(page "$WORK/one.html" "sample:inuse_space;click:keep_big")
check "a click on keep_big in the flame graph shows its source ($(srcline "$r" "$big_line"))" \
	test "$(srcline "$r" "$big_line")" = "$big_is $big_is"

# 100,000 stacks: a synthetic profile, 17 levels of two callers under main.
if command -v python3 >/dev/null; then
	# gen.py OUT TIME GROWN [STACKS [ROOT]]: STACKS (100,000) stacks of 17
	# levels under ROOT (main) at TIME seconds, the first GROWN with twice
	# the bytes in use. big.pb.gz, and big2.pb.gz a second later in which
	# 1,000 stacks grew.
	cat >"$WORK/gen.py" <<'EOF'
import gzip, sys
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)
def field(num, payload):  # length-delimited
    return varint(num << 3 | 2) + varint(len(payload)) + payload
def packed(num, values):
    return field(num, b''.join(varint(v) for v in values))
strings = ['']
def s(x):
    strings.append(x)
    return len(strings) - 1
out = bytearray()
for t, u in [('alloc_objects', 'count'), ('alloc_space', 'bytes'),
             ('inuse_objects', 'count'), ('inuse_space', 'bytes')]:
    out += field(1, varint(1 << 3) + varint(s(t)) + varint(2 << 3) + varint(s(u)))
nstacks = int(sys.argv[4]) if len(sys.argv) > 4 else 100000
names = [sys.argv[5] if len(sys.argv) > 5 else 'main'] + ['level%d_%s' % (d, c) for d in range(17) for c in 'ab']
for i, n in enumerate(names, 1):
    out += field(5, varint(1 << 3) + varint(i) + varint(2 << 3) + varint(s(n)))
    out += field(4, varint(1 << 3) + varint(i) + field(4, varint(1 << 3) + varint(i)))
for k in range(nstacks):
    locs = [1] + [2 + 2 * d + (k >> d & 1) for d in range(17)]
    size = 16 + k % 4000
    inuse = 2 * size if k < int(sys.argv[3]) else size
    out += field(2, packed(1, locs[::-1]) + packed(2, [1, size, 1, inuse]))
out += b''.join(field(6, x.encode()) for x in strings)
out += varint(9 << 3) + varint(int(sys.argv[2]) * 10**9)  # time_nanos
with gzip.open(sys.argv[1], 'wb', 6) as f:
    f.write(bytes(out))
EOF
	python3 "$WORK/gen.py" "$WORK/big.pb.gz" 1 0 && python3 "$WORK/gen.py" "$WORK/big2.pb.gz" 2 1000
	t0=$(date +%s.%N)
	"$HP" web "$WORK/big.pb.gz" -o "$WORK/big.html"
	rc=$?
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	size=$(wc -c <"$WORK/big.html")
	diag "100,000 stacks: report of $size bytes written in $secs s"
	ok $rc "heapprof web writes the report of 100,000 stacks"
	check "100,000 stacks: under 5 MiB ($size bytes)" test "$size" -lt $((5 * 1024 * 1024))
	check "100,000 stacks: written in under 10 s ($secs s; 2 s expected)" \
		awk -v s="$secs" 'BEGIN { exit !(s < 10) }'
	r=$(page "$WORK/big.html" "sample:inuse_objects")
	diag "100,000 stacks: the page computes and draws a view in $(field "$r" ms) ms"
	check "100,000 stacks: the page shows main with all of them ($(awk -F'\t' '$4 == "main" { print $3 }' <<<"$r"))" \
		test "$(awk -F'\t' '$4 == "main" { print $3 }' <<<"$r")" = 100000
	# Trimmed as pprof trims (--nodefraction 0.005, --edgefraction 0.001 by
	# default): 17 levels of two callers leave 1/128 of the total at level 7,
	# under 0.5%, so every path is cut there; the totals stay exact.
	want_is=$("$HP" top --raw --sample-index=inuse_space "$WORK/big.pb.gz" | awk -F'\t' '{ s += $1 } END { printf "%.0f", s }')
	r=$(page "$WORK/big.html" "sample:inuse_space")
	check "trimmed: the notice names $(field "$r" trimmed) call paths merged, how to keep everything" \
		eval 'test "$(field "$r" trimmed)" -gt 0 && grep -q "^notice.*(trimmed).*--nodefraction=0 --edgefraction=0" <<<"$r"'
	check "trimmed: the inuse_space total is heapprof top's, $want_is ($(field "$r" total))" \
		test "$(field "$r" total)" = "$want_is"
	sumflat=$(awk -F'\t' '$1 == "row" { s += $2 } END { printf "%.0f", s }' <<<"$r")
	check "trimmed: the rows' flat values add up to the total, (trimmed) among them ($sumflat)" \
		eval 'test "$sumflat" = "$want_is" && test "$(flat "$r" "(trimmed)")" != absent'
	check "trimmed: main holds all of it ($(awk -F'\t' '$4 == "main" { print $3 }' <<<"$r"))" \
		test "$(awk -F'\t' '$4 == "main" { print $3 }' <<<"$r")" = "$want_is"
	"$HP" web --nodefraction=0 --edgefraction=0 "$WORK/big.pb.gz" -o "$WORK/whole.html"
	r=$(page "$WORK/whole.html" "sample:inuse_space")
	check "--nodefraction=0 --edgefraction=0: nothing trimmed, no notice, the same total ($(field "$r" trimmed), $(field "$r" total))" \
		eval 'test "$(field "$r" trimmed)" = 0 && test -z "$(field "$r" notice)" && test "$(field "$r" total)" = "$want_is"'
	check "the trimmed page is smaller: $size bytes, $(wc -c <"$WORK/whole.html") whole" \
		test "$size" -lt "$(wc -c <"$WORK/whole.html")"
	"$HP" web --nodefraction=2 "$WORK/big.pb.gz" -o "$WORK/x.html" 2>"$WORK/err"
	rc=$?
	check "--nodefraction=2: status 2 ($(head -c 80 "$WORK/err"))" test "$rc" = 2
	# heapprof flame merges frames narrower than --minwidth (1 px of 1200)
	# into grey (trimmed) frames and says so; the widths still add up.
	"$HP" flame --sample-index=inuse_space "$WORK/big.pb.gz" -o "$WORK/big.svg"
	note=$(grep -o '<text id="trimmed"[^<]*' "$WORK/big.svg" | sed 's/.*>//')
	check "flame: the picture says what was merged ($note)" \
		grep -q '^[1-9][0-9]* frames narrower than 1 px merged into grey (trimmed) frames' <<<"$note"
	check "flame: main is the whole width, 100.00%" grep -q '<title>main ([^,]*, 100.00%)</title>' "$WORK/big.svg"
	roots=$(grep -o 'data-w="[0-9.]*" data-d="1"' "$WORK/big.svg" | cut -d'"' -f2 | awk '{ s += $1 } END { printf "%.0f", s }')
	check "flame: the frames over main fill its 1200 px ($roots)" test "$roots" = 1200
	fsize=$(wc -c <"$WORK/big.svg")
	"$HP" flame --minwidth=0 --sample-index=inuse_space "$WORK/big.pb.gz" -o "$WORK/whole.svg"
	check "flame --minwidth=0: every frame, no note; $fsize bytes trimmed, $(wc -c <"$WORK/whole.svg") whole" \
		eval '! grep -q "id=\"trimmed\"" "$WORK/whole.svg" && test "$fsize" -lt "$(wc -c <"$WORK/whole.svg")"'
	# The timeline of every stack: nothing trimmed.
	"$HP" web --nodefraction=0 --edgefraction=0 "$WORK/big.pb.gz" "$WORK/big2.pb.gz" -o "$WORK/big2.html"
	size2=$(wc -c <"$WORK/big2.html")
	size1=$(wc -c <"$WORK/whole.html")
	check "two snapshots of 100,000 stacks: only the change is added ($size2 bytes, one: $size1)" \
		test "$size2" -lt $((size1 + 100000))
	r=$(page "$WORK/big2.html" "sample:inuse_space")
	check "two snapshots of 100,000 stacks: 1000 leak suspects ($(grep -c '^leak' <<<"$r"))" \
		test "$(grep -c '^leak' <<<"$r")" = 1000
	# Three snapshots given out of time order: the timeline sorts them. Stacks
	# 0-2 grow at 2 and stay (leak suspects), 3-4 grow at 2 and fall back.
	python3 "$WORK/gen.py" "$WORK/t1.pb.gz" 1 0 10 &&
		python3 "$WORK/gen.py" "$WORK/t2.pb.gz" 2 5 10 &&
		python3 "$WORK/gen.py" "$WORK/t3.pb.gz" 3 3 10 &&
		"$HP" web "$WORK/t3.pb.gz" "$WORK/t1.pb.gz" "$WORK/t2.pb.gz" -o "$WORK/three.html"
	r=$(page "$WORK/three.html" "sample:inuse_space")
	pts=$(awk -F'\t' '$1 == "point" { printf "%s ", $3 }' <<<"$r")
	want=$(python3 -c 'b = [16 + k for k in range(10)]; print(" ".join(str(sum(b) + sum(b[:g])) for g in (0, 5, 3)))')
	check "three snapshots: 3 points in time order ($pts)" test "$pts" = "$want "
	check "three snapshots: the 3 stacks that never fell are the leak suspects ($(grep -c '^leak' <<<"$r"))" \
		test "$(grep -c '^leak' <<<"$r")" = 3
	r=$(page "$WORK/three.html" "sample:inuse_space;select:main")
	check "a function without a source file: no source available ($(field "$r" source))" \
		test "$(field "$r" source)" = none

	# A function whose name would end the data or open a comment.
	evil='</script><!--<script>alert(1)//'
	python3 "$WORK/gen.py" "$WORK/evil.pb.gz" 1 0 10 "$evil" &&
		"$HP" web "$WORK/evil.pb.gz" -o "$WORK/evil.html"
	r=$(page "$WORK/evil.html" "sample:alloc_objects")
	check "a function named $evil: the page lists it with its 10 stacks" \
		test "$(awk -F'\t' -v f="$evil" '$4 == f { print $3 }' <<<"$(sed 's/&lt;/</g; s/&gt;/>/g' <<<"$r")")" = 10
else
	skip "100,000 stacks: python3 not installed (it writes the synthetic profile)"
fi
done_testing
