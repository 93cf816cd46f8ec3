# SPDX-License-Identifier: MIT
# Headless Chromium under the profiler. Its zygote must be single-threaded
# when it forks renderers, so a profiler thread that exists from start-up
# breaks it ("Did not receive ping from zygote child", then "GPU process
# isn't usable. Goodbye." and an abort). With no profiler thread until a
# snapshot is asked for, Chromium prints the same DOM as without the
# profiler, its script having run, exits 0, and its processes that exit
# normally (the browser, the network service, crashpad) write exit profiles.
# Chromium's own allocations go to PartitionAlloc, inside the binary, so the
# profiles hold little; they are checked for being read and for naming the
# right program, not for their numbers.
. "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || skip_all "chromium not found (Debian package chromium)"

cat >"$WORK/page.html" <<'EOF'
<!DOCTYPE html>
<html><head><title>heapprof</title></head>
<body><div id="out">not run</div>
<script>
var sum = 0;
for (var i = 1; i <= 1000; i++) sum += i * i;
var parts = [];
for (var j = 0; j < 200; j++) parts.push("part" + j);
document.getElementById("out").textContent = "sum " + sum + " parts " + parts.join("").length;
</script></body></html>
EOF
# 1^2 + ... + 1000^2, and the length of "part0" ... "part199".
WANT='<div id="out">sum 333833500 parts 1290</div>'

# dump NAME [PRELOAD]: the page's DOM after its script, from a fresh profile
# directory; status in rc.
dump() {
	mkdir -p "$WORK/$1.home"
	HOME=$WORK/$1.home HEAPPROF_OUTPUT=$WORK/prof/cr timeout -k 5 60 \
		env ${2:+LD_PRELOAD="$2"} "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$WORK/$1.profile" \
		--dump-dom "file://$WORK/page.html" >"$WORK/$1.out" 2>"$WORK/$1.err"
	rc=$?
}

mkdir -p "$WORK/prof"
dump plain
check "plain chromium exits 0 (got $rc)" test "$rc" = 0
check "plain chromium ran the page's script: $WANT" grep -qF "$WANT" "$WORK/plain.out"
dump prof "$HEAPPROF_LIB"
check "profiled chromium exits 0 like without the profiler (got $rc)" test "$rc" = 0
check "profiled chromium prints the same DOM ($(wc -c <"$WORK/prof.out") bytes, plain $(wc -c <"$WORK/plain.out"))" \
	cmp -s "$WORK/plain.out" "$WORK/prof.out"
check "profiled chromium ran the page's script: $WANT" grep -qF "$WANT" "$WORK/prof.out"
trouble=$(grep -E "zygote|GPU process isn't usable|FATAL" "$WORK/prof.err" | head -n 3 | cut -c1-160 | tr '\n' ' ')
check "no zygote or GPU process failure (${trouble:-none})" test -z "$trouble"

# The exit profiles of Chromium's own processes: the browser (no --type)
# and its children (--type=...).
browser="" children=0 unreadable=0 all=0
for f in "$WORK"/prof/cr.*.exit.pb.gz; do
	[ -e "$f" ] || continue
	all=$((all + 1))
	if ! "$HEAPPROF_BIN" info "$f" >"$WORK/info" 2>&1; then
		unreadable=$((unreadable + 1))
		continue
	fi
	cmd=$(sed -n 's/^Comment: command line: //p' "$WORK/info")
	case $cmd in
	*/chromium\ *--type=*) children=$((children + 1)) ;;
	*/chromium\ *) browser=$f ;;
	esac
done
check "heapprof info reads every exit profile ($all, $unreadable unreadable)" \
	test "$all" -gt 0 -a "$unreadable" = 0
check "the browser process wrote an exit profile (${browser:+$(basename "$browser")})" \
	test -n "$browser"
check "Chromium's child processes wrote exit profiles too ($children)" test "$children" -ge 1
if [ -n "$browser" ]; then
	"$HEAPPROF_BIN" info "$browser" >"$WORK/info"
	check "the browser's profile: the chromium binary is its first mapping" \
		grep -qE '^Mapping 1: .*/chromium( |$)' "$WORK/info"
	if have_go; then
		check "go tool pprof -top opens the browser's profile" \
			quiet "$GO" tool pprof -top "$browser"
	fi
fi
have_go || skip "go tool pprof checks: go not installed"
done_testing
