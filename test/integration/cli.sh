# SPDX-License-Identifier: MIT
# The heapprof command: top agrees with go tool pprof -top on profiles written
# by the library and by a Go program; diff agrees with pprof -base; folded
# adds up; flame writes valid SVG that renders in headless Chromium; run and
# snapshot drive real processes; every kind of bad input gets one line and
# exit status 2.
. "$(dirname "$0")/lib.sh"

HP=$HEAPPROF_BIN
TYPES="alloc_objects alloc_space inuse_objects inuse_space"

# rows: the rows of a pprof -top text (-unit=B) as "name<TAB>flat", sorted;
# names keep pprof's "(inline)" or "(partial-inline)" label.
rows() {
	awk '/^ *-?[0-9.]+[a-zA-Z]* +-?[0-9.]+% / {
		v = $1; sub(/B$/, "", v); if (v == 0) next
		name = $6; for (i = 7; i <= NF; i++) name = name " " $i; print name "\t" v }' | sort
}
# Per-function flat values, "name<TAB>value", sorted: ours (exact, from
# --raw, which has no labels) and pprof's, its labels taken off.
ours() { # ours PROFILE TYPE [BASE]
	local base=()
	[ -n "${3:-}" ] && base=(--base "$3")
	"$HP" top --raw --sample-index="$2" "${base[@]}" "$1" |
		awk -F'\t' '$1 != 0 { print $3 "\t" $1 }' | sort
}
# pprof reads the profiles as heapprof symbolized them (it does so in memory).
pprof_top() { # pprof_top PROFILE TYPE [BASE]: its -top text
	local base=()
	"$HP" symbolize "$1" -o "$WORK/theirs.pb.gz" || return
	[ -n "${3:-}" ] && "$HP" symbolize "$3" -o "$WORK/theirs.base.pb.gz" &&
		base=(-base "$WORK/theirs.base.pb.gz")
	"$GO" tool pprof -top -symbolize=none -nodefraction=0 -nodecount=100000 -unit=B \
		-sample_index="$2" "${base[@]}" "$WORK/theirs.pb.gz" 2>/dev/null
}
theirs() { # theirs PROFILE TYPE [BASE]
	pprof_top "$@" | rows | sed -E 's/ \((partial-)?inline\)\t/\t/' | sort
}
# The rows with an inlining label, "name (label)<TAB>flat": ours and pprof's.
labelled() { grep -E ' \((partial-)?inline\)'"$(printf '\t')" || true; }
ours_labels() { # ours_labels PROFILE TYPE [BASE]
	local base=()
	[ -n "${3:-}" ] && base=(--base "$3")
	"$HP" top --unit=B --sample-index="$2" "${base[@]}" "$1" | rows | labelled
}
theirs_labels() { pprof_top "$@" | rows | labelled; }
same_top() { # same_top LABEL PROFILE TYPE [BASE]
	ours "$2" "$3" "${4:-}" >"$WORK/ours"
	theirs "$2" "$3" "${4:-}" >"$WORK/theirs"
	ours_labels "$2" "$3" "${4:-}" >"$WORK/ours.labels"
	theirs_labels "$2" "$3" "${4:-}" >"$WORK/theirs.labels"
	local n l
	n=$(wc -l <"$WORK/ours")
	l=$(wc -l <"$WORK/ours.labels")
	if [ "$n" -gt 0 ] && cmp -s "$WORK/ours" "$WORK/theirs" &&
		cmp -s "$WORK/ours.labels" "$WORK/theirs.labels"; then
		ok 0 "$1: heapprof top = go tool pprof -top, $3, $n functions, $l labelled inlined"
	else
		ok 1 "$1: heapprof top = go tool pprof -top, $3"
		diff "$WORK/ours" "$WORK/theirs" | head -10 | sed 's/^/# /'
		diff "$WORK/ours.labels" "$WORK/theirs.labels" | head -10 | sed 's/^/# /'
	fi
}

# Profiles of a program with known allocations: a snapshot and the exit.
HEAPPROF_OUTPUT=$WORK/k HEAPPROF_RATE=1 HEAPPROF_SEED=3 \
	timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" "$TEST_BUILDDIR/prog_known" --snapshot >/dev/null
snap=$(one_file "$WORK"/k.*.signal.pb.gz)
final=$(one_file "$WORK"/k.*.exit.pb.gz)
check "known allocations profiled" test -n "$snap" -a -n "$final"

if have_go; then
	for t in $TYPES; do same_top libheapprof "$final" "$t"; done
	for t in $TYPES; do same_top "libheapprof --base" "$final" "$t" "$snap"; done
	diff <("$HP" diff --raw --sample-index=alloc_space "$snap" "$final") \
		<("$HP" top --raw --sample-index=alloc_space --base "$snap" "$final") >/dev/null
	ok $? "heapprof diff OLD NEW = heapprof top --base OLD NEW"
	# A heap profile written by Go itself.
	if GOCACHE=$WORK/gocache GOFLAGS=-mod=mod timeout 300 "$GO" run \
		"$(dirname "$0")/goheap.go" "$WORK/go.pb.gz" >/dev/null 2>"$WORK/go.err"; then
		for t in $TYPES; do same_top "Go's heap profile" "$WORK/go.pb.gz" "$t"; done
		check "Go's profile: main.allocPage, inlined in one caller and called by another, is labelled (partial-inline) as pprof labels it" \
			grep -q '^main.allocPage (partial-inline)' <(ours_labels "$WORK/go.pb.gz" alloc_space)
		"$HP" symbolize "$WORK/go.pb.gz" -o "$WORK/go.sym.pb.gz"
		diff <("$HP" peek --unit=B --sample-index=alloc_space 'main\.alloc' "$WORK/go.pb.gz" |
			sed -n '/^Showing/,$p') \
			<("$GO" tool pprof -peek 'main\.alloc' -unit=B -sample_index=alloc_space \
				-symbolize=none "$WORK/go.sym.pb.gz" 2>/dev/null | sed -n '/^Showing/,$p') \
			>"$WORK/go.peekdiff"
		ok $? "Go's profile: peek main\\.alloc = go tool pprof -peek, line for line, its inlined calls marked (inline)"
		sed 's/^/# /' "$WORK/go.peekdiff" | head -10
		got=$(ours "$WORK/go.pb.gz" inuse_space | awk -F'\t' '$1 == "main.allocBig" { print $2 }')
		check "Go's profile: main.allocBig holds about 50 MiB (${got:-0} B)" \
			within "${got:-0}" 52428800 5242880
	else
		ok 1 "go run goheap.go: $(head -1 "$WORK/go.err")"
	fi
else
	skip "go tool pprof comparisons: go not installed"
fi
check "default sample type is the profile's (inuse_space)" \
	bash -c "'$HP' top '$final' | head -1 | grep -qx 'Type: inuse_space'"

# folded: root first, values add up to the total.
"$HP" folded --sample-index=inuse_space "$final" >"$WORK/folded"
check "folded: every line is 'a;b;c VALUE'" \
	bash -c "! grep -vE '^[^ ].* -?[0-9]+$' '$WORK/folded'"
sum=$(awk '{ s += $NF } END { printf "%.0f", s }' "$WORK/folded")
total=$("$HP" info "$final" | awk '/^Total inuse_space/ { gsub(/[()]/, "", $NF); print $NF }')
check "folded: values add up to the inuse_space total ($sum = $total)" test "$sum" = "$total"
kb=$(grep -E ';keep_big [0-9]+$' "$WORK/folded" | awk '{ print $NF }')
check "folded: main;keep_big holds 41943040 ($kb)" test "$kb" = 41943040
check "folded: stacks run from the root (…;main;keep_big)" grep -qE ';main;keep_big [0-9]+$' "$WORK/folded"

# flame: valid SVG with the functions; --base colours growth and shrinkage.
"$HP" flame "$final" -o "$WORK/flame.svg"
ok $? "flame writes an SVG"
svgcheck() { # svgcheck FILE PYTHON-EXPR-OVER-ROOT-AND-TEXT
	python3 - "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
path, expr = sys.argv[1], sys.argv[2]
root = ET.parse(path).getroot()
text = open(path).read()
ns = "{http://www.w3.org/2000/svg}"
frames = [g for g in root.iter(ns + "g") if g.get("class") == "f"]
titles = [g.find(ns + "title").text for g in frames]
sys.exit(0 if eval(expr) else 1)
PY
}
if command -v python3 >/dev/null; then
	check "flame: well-formed XML with an <svg> root" svgcheck "$WORK/flame.svg" 'root.tag == ns + "svg"'
	check "flame: frames for the test functions, with values in their titles" \
		svgcheck "$WORK/flame.svg" 'any(t.startswith("keep_big (40MB") for t in titles) and any(t.startswith("keep_small ") for t in titles)'
	check "flame: hover and zoom script inside the file, nothing fetched" \
		svgcheck "$WORK/flame.svg" '"addEventListener" in text and "http" not in text.replace("http://www.w3.org/2000/svg", "")'
	"$HP" flame --base "$snap" "$final" -o "$WORK/growth.svg"
	"$HP" flame --base "$final" "$snap" -o "$WORK/shrink.svg"
	check "flame --base: growth is red" svgcheck "$WORK/growth.svg" '"fill=\"rgb(230," in text and ",230)\"" not in text'
	check "flame --base: shrinkage is blue" svgcheck "$WORK/shrink.svg" '",230)\"" in text and "fill=\"rgb(230," not in text'
else
	skip "SVG checks: python3 not installed"
fi
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$WORK/chromium" --window-size=1200,500 \
		--screenshot="$WORK/flame.png" "file://$WORK/flame.svg" >/dev/null 2>&1
	check "flame renders in headless Chromium" test -s "$WORK/flame.png"
	colours=$(python3 "$(dirname "$0")/png_colours.py" "$WORK/flame.png" 2>/dev/null)
	check "the screenshot is not blank (${colours:-0} distinct colours)" test "${colours:-0}" -ge 20
else
	skip "Chromium screenshot: chromium not installed"
fi

# run: the program's status, its profile, the allocator behind.
"$HP" run --rate 1 --output "$WORK/run" -- "$TEST_BUILDDIR/prog_known" >/dev/null
ok $? "heapprof run -- prog_known exits 0"
p=$(one_file "$WORK"/run.*.exit.pb.gz)
got=$(hp_flat "$p" inuse_space keep_big)
check "heapprof run: the profile has keep_big inuse 41943040 ($got)" test "$got" = 41943040
"$HP" run -- sh -c 'exit 7'
check "heapprof run passes the exit status through (7)" test $? = 7
if [ -z "$(jemalloc_missing)" ]; then
	(cd "$WORK" && "$HP" run --allocator jemalloc --output jem -- "$TEST_BUILDDIR/prog_simple" >/dev/null)
	check "heapprof run --allocator jemalloc: status 3 passed through" test $? = 3
	check "heapprof run --allocator jemalloc: jemalloc is in the profile's mappings" \
		bash -c "'$HP' info \$(ls '$WORK'/jem.*.exit.pb.gz | head -1) | grep -q libjemalloc"
else
	skip_jemalloc "heapprof run --allocator"
fi
for bad in "--allocator bogus" "--rate abc" "--signal nope"; do
	"$HP" run $bad -- true 2>"$WORK/err"
	rc=$?
	check "heapprof run $bad: status 2, one line ($(head -c 80 "$WORK/err"))" \
		test "$rc" = 2 -a "$(grep -c . "$WORK/err")" = 1
done
"$HP" run -- /nonexistent/program 2>/dev/null
check "heapprof run of a missing program: status 127" test $? = 127

# snapshot: a running profiled process, and the clear errors.
"$HP" run --rate 1 --output "$WORK/snap" -- "$TEST_BUILDDIR/prog_deep" wait >"$WORK/wait.out" &
pid=$!
for _ in $(seq 100); do grep -q waiting "$WORK/wait.out" && break; sleep 0.05; done
path=$(timeout 30 "$HP" snapshot "$pid")
ok $? "heapprof snapshot $pid printed $path"
check "the snapshot is complete, and has deep_alloc" \
	test "$(hp_flat "$path" inuse_objects deep_alloc)" -gt 0
path2=$(timeout 30 "$HP" snapshot --timeout 20 "$pid")
check "a second snapshot is a new file" test -n "$path2" -a "$path2" != "$path"
snap_err() { # snap_err LABEL EXPECTED-TEXT ARGS...
	local label=$1 want=$2
	shift 2
	"$@" >/dev/null 2>"$WORK/err"
	local rc=$?
	check "snapshot $label: fails with one line saying '$want' ($(head -c 90 "$WORK/err"))" \
		test "$rc" != 0 -a "$(grep -c . "$WORK/err")" = 1 -a "$(grep -c "$want" "$WORK/err")" = 1
}
# The record names a moment when the process was alive (proc_record.c):
# not before its start in /proc, not after now. One naming an earlier
# moment was left by an earlier process of this pid: refused, no signal.
rec=/tmp/heapprof-$(id -u)/$pid
alive=$(awk '$1 == "alive-at" { print $2 }' "$rec")
start=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.0f", $20 * (1e9 / hz) }' /proc/$pid/stat)
uptime_ns=$(awk '{ printf "%.0f", $1 * 1e9 }' /proc/uptime)
check "the record's alive-at ($alive) is after the start ($start) and before now ($uptime_ns)" \
	test -n "$alive" -a "$alive" -ge "$start" -a "$alive" -le "$((uptime_ns + 20000000))"
cp "$rec" "$WORK/rec.saved"
sed "s/^alive-at .*/alive-at $((start - 10000000))/" "$WORK/rec.saved" >"$rec"
snaps=$(ls "$WORK" | grep -c '^snap')
snap_err "when the record names a moment before the start" "left by an earlier process" \
	"$HP" snapshot --timeout 2 "$pid"
sed "s/^alive-at .*/alive-at $((uptime_ns + 3600000000000))/" "$WORK/rec.saved" >"$rec"
snap_err "when the record names a moment after now (another time namespace)" \
	"is not this process's" "$HP" snapshot --timeout 2 "$pid"
sleep 0.2
check "no signal was sent: no new snapshot" test "$(ls "$WORK" | grep -c '^snap')" = "$snaps"
cp "$WORK/rec.saved" "$rec"
kill "$pid"
wait "$pid" 2>/dev/null
snap_err "of a process that is gone" "no process" "$HP" snapshot 999999
sleep 30 &
plain=$!
snap_err "of a process not profiled" "is not profiled" "$HP" snapshot "$plain"
kill "$plain"
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null && id nobody >/dev/null 2>&1; then
	# The build tree may be in a 0700 directory: nobody runs a copy.
	pub=$(mktemp -d /tmp/heapprof-pub.XXXXXX)
	chmod 755 "$pub" && cp "$HP" "$pub/heapprof" && chmod 755 "$pub/heapprof"
	snap_err "of another user's process" "belongs to another user" \
		runuser -u nobody -- "$pub/heapprof" snapshot $$
	rm -rf "$pub"
else
	skip "snapshot of another user's process: needs root and user nobody"
fi

# The process record: a program that takes the signal over is refused, no
# signal sent; another signal works; heapprof ps lists both.
"$HP" run --output "$WORK/trap" -- sh -c 'trap "echo program-got-usr2" USR2; echo ready; while :; do sleep 0.1; done' >"$WORK/trap.out" &
trapped=$!
"$HP" run --rate 1 --signal RTMIN+3 --output "$WORK/rt" -- "$TEST_BUILDDIR/prog_deep" wait >"$WORK/rt.out" &
rt=$!
for _ in $(seq 100); do grep -q ready "$WORK/trap.out" && grep -q waiting "$WORK/rt.out" && break; sleep 0.05; done
snap_err "of a process that installed its own handler" "installed its own handler for SIGUSR2" \
	"$HP" snapshot "$trapped"
sleep 0.2
check "the refused snapshot sent no signal (the program's handler did not run)" \
	test "$(grep -c program-got-usr2 "$WORK/trap.out")" = 0
"$HP" ps >"$WORK/ps.out"
check "heapprof ps: the trapping shell, its handler replaced" \
	grep -Eq "^$trapped +USR2 +replaced +$WORK/trap " "$WORK/ps.out"
check "heapprof ps: the RTMIN+3 process, its handler ours" \
	grep -Eq "^$rt +RTMIN\+3 +ours +$WORK/rt " "$WORK/ps.out"
path=$(timeout 30 "$HP" snapshot "$rt")
check "heapprof snapshot with RTMIN+3: $path has deep_alloc" \
	test -n "$path" -a "$(hp_flat "$path" inuse_objects deep_alloc)" -gt 0
kill "$trapped" "$rt" 2>/dev/null
wait "$trapped" "$rt" 2>/dev/null
# forked_child NAME WHAT [STALE]: a profiled python3 forks a child that
# holds some memory and sleeps; heapprof ps lists the child (WHAT) with its
# own record, and a snapshot of it lands under its pid. With STALE=1 the
# parent first leaves records under the next 59 pids, as earlier processes
# of those pids would have after a crash or a kill.
forked_child() {
	local name=$1 what=$2 stale=${3:-0} parent child path
	"$HP" run --rate 1 --output "$WORK/$name" -- python3 -c 'import os, sys, time
if sys.argv[1] == "1":
    d = "/tmp/heapprof-%d" % os.geteuid()
    last = int(open("/proc/sys/kernel/ns_last_pid").read())
    for p in range(last + 1, last + 60):
        with open("%s/%d" % (d, p), "w") as f:
            f.write("heapprof-record 2\npid %d\nalive-at 1000\nsignal 10\n"
                    "handler ours\noutput /nowhere/stale\n" % p)
p = os.fork()
if p == 0:
    kept = [bytearray(1000) for _ in range(100)]
    print("child", os.getpid(), flush=True)
    time.sleep(60)
    os._exit(0)
os.waitpid(p, 0)' "$stale" >"$WORK/$name.out" &
	parent=$!
	wait_line "$WORK/$name.out" child
	child=$(awk '/^child/ { print $2 }' "$WORK/$name.out")
	"$HP" ps >"$WORK/ps-$name.out"
	check "heapprof ps: $what ($child), its handler ours" \
		grep -Eq "^$child +USR2 +ours +$WORK/$name " "$WORK/ps-$name.out"
	path=$(timeout 30 "$HP" snapshot "$child")
	check "heapprof snapshot of $what: $path, under its pid" \
		test -n "$path" -a -n "$(echo "$path" | grep "$name\.$child\.")"
	kill "$child" "$parent" 2>/dev/null
	wait "$parent" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$child" 2>/dev/null || break; sleep 0.05; done
}
# A forked child publishes its record in the fork handler (init.c).
forked_child fk "the forked child"
# It takes no look for an earlier record first (no record under its new pid
# can be its own) and replaces one left under its pid.
forked_child fs "a forked child over a stale record" 1
"$HP" ps >/dev/null # removes the stale records no process took, and the children's
# A shell that executes a profiled program in its place: the program's
# record says what the shell's said (pid, start time, signal, output), so
# the file is left as it is (proc_record.c), and heapprof ps names the
# program.
env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/ex" \
	sh -c 'echo ready; sleep 0.3; exec "$0" wait' "$TEST_BUILDDIR/prog_deep" >"$WORK/ex.out" &
ex=$!
rec=/tmp/heapprof-$(id -u)/$ex
for _ in $(seq 100); do grep -q ready "$WORK/ex.out" && [ -s "$rec" ] && break; sleep 0.05; done
inode=$(stat -c %i "$rec" 2>/dev/null)
for _ in $(seq 100); do grep -q waiting "$WORK/ex.out" && break; sleep 0.05; done
check "after exec the record is the shell's file, unchanged (inode $inode)" \
	test -n "$inode" -a "$(stat -c %i "$rec" 2>/dev/null)" = "$inode"
"$HP" ps >"$WORK/ps-ex.out"
check "heapprof ps: the executed program, under the shell's pid" \
	grep -Eq "^$ex +USR2 +ours +$WORK/ex .*prog_deep" "$WORK/ps-ex.out"
kill "$ex" 2>/dev/null
wait "$ex" 2>/dev/null
if cc -static -o "$WORK/static" -x c - <<<'int main(void) { return 5; }' 2>/dev/null; then
	"$HP" run -- "$WORK/static" 2>"$WORK/err"
	rc=$?
	check "heapprof run of a static binary: its status (5), and says it runs unprofiled" \
		test "$rc" = 5 -a "$(grep -c 'statically linked.*unprofiled' "$WORK/err")" = 1
else
	skip "heapprof run of a static binary: cc -static failed (no static libc)"
fi

# Bad input: one clear line, status 2, never a crash.
"$TEST_BUILDDIR/prog_badprof" "$WORK"
: >"$WORK/empty.pb.gz"
echo "this is not a profile" >"$WORK/text.pb.gz"
head -c 200 "$final" >"$WORK/truncated.pb.gz"
head -c 3000 /dev/urandom | gzip >"$WORK/random.pb.gz"
for f in missing.pb.gz empty.pb.gz text.pb.gz truncated.pb.gz random.pb.gz dangling-location.pb.gz \
	dangling-function.pb.gz dangling-mapping.pb.gz string-out-of-range.pb.gz string0.pb.gz \
	short-sample.pb.gz; do
	for cmd in info top folded; do
		"$HP" $cmd "$WORK/$f" >/dev/null 2>"$WORK/err"
		rc=$?
		check "$cmd $f: status 2 and one line ($(head -c 100 "$WORK/err"))" \
			test "$rc" = 2 -a "$(grep -c . "$WORK/err")" = 1
	done
done
"$HP" top --base "$WORK/twotypes.pb.gz" "$final" >/dev/null 2>"$WORK/err"
rc=$?
check "top --base with different sample types: status 2, says so ($(cat "$WORK/err"))" \
	test "$rc" = 2 -a "$(grep -c 'sample types differ' "$WORK/err")" = 1
"$HP" flame "$final" -o /nonexistent-dir/x.svg 2>"$WORK/err"
check "flame to an unwritable path: status 2, one line" test $? = 2 -a "$(grep -c . "$WORK/err")" = 1
got=$("$HP" top --raw --sample-index=alloc_space "$WORK/sparse.pb.gz" | awk -F'\t' '$3 == "f" { print $1 }')
check "a valid profile with sparse ids near 2^60 reads fine (f = $got)" test "$got" = 1000
"$HP" bogus 2>/dev/null
check "an unknown command: status 2" test $? = 2
for c in info top diff flame folded run snapshot ps; do
	"$HP" $c --help >/dev/null 2>&1
	check "heapprof $c --help" test $? = 0
done
done_testing
