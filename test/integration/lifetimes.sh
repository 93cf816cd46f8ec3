# SPDX-License-Identifier: MIT
# HEAPPROF_LIFETIMES=1: the lifetimes profile written beside each heap
# profile, and /debug/pprof/lifetimes?seconds=N. prog_lifetimes.c has three
# sites of known lifetimes: churn_site (1000 blocks of 100 B, each freed at
# once by its thread), held_site (50 of 200 B, freed 20 ms later by another
# thread in release_held), kept_site (30 of 300 B, alive at exit). At rate 1
# every count is exact; at the default rate the estimates are checked within
# 4 standard deviations of the sampling (docs/lifetimes.md).
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_lifetimes

# raw_sum PROFILE TYPE-INDEX LEAF [LABEL-REGEX]: the sum of value TYPE-INDEX
# (0-based) over the samples whose leaf function is LEAF and, if given,
# whose label lines match LABEL-REGEX, from go tool pprof -raw.
raw_sum() {
	"$GO" tool pprof -raw "$1" 2>/dev/null | awk -v t="$2" -v leaf="$3" -v rx="${4:-}" '
	/^Samples:/ { mode = 1; next }
	/^Locations/ { mode = 2; next }
	/^Mappings/ { mode = 3; next }
	mode == 1 && /^ *-?[0-9]+( +-?[0-9]+)*: / {
		split($0, a, ":"); split(a[1], v, " "); split(a[2], l, " ")
		n++; val[n] = v[t + 1]; loc[n] = l[1]; next }
	mode == 1 { labels[n] = labels[n] " " $0 }
	mode == 2 && /^ *[0-9]+: / { id = $1; sub(":", "", id); names[id] = $4 }
	END {
		for (i = 1; i <= n; i++)
			if (names[loc[i]] == leaf && (rx == "" || labels[i] ~ rx)) s += val[i]
		printf "%.0f\n", s }'
}

# raw_label PROFILE LEAF KEY: the numeric label KEY of the first sample whose
# leaf function is LEAF.
raw_label() {
	"$GO" tool pprof -raw "$1" 2>/dev/null | awk -v leaf="$2" -v key="$3" '
	/^Samples:/ { mode = 1; next }
	/^Locations/ { mode = 2; next }
	/^Mappings/ { mode = 3; next }
	mode == 1 && /^ *-?[0-9]+( +-?[0-9]+)*: / { split($0, a, ":"); split(a[2], l, " "); n++; loc[n] = l[1]; next }
	mode == 1 { if (match($0, key ":\\[[0-9]+")) { v = substr($0, RSTART + length(key) + 2, RLENGTH - length(key) - 2); if (!(n in val)) val[n] = v } }
	mode == 2 && /^ *[0-9]+: / { id = $1; sub(":", "", id); names[id] = $4 }
	END { for (i = 1; i <= n; i++) if (names[loc[i]] == leaf && (i in val)) { print val[i]; exit } }'
}

# tag_flat PROFILE TYPE FUNC TAGFOCUS: FUNC's flat value under -tagfocus.
tag_flat() {
	"$GO" tool pprof -top -nodefraction=0 -nodecount=100000 -sample_index="$2" \
		"-tagfocus=$4" "$1" 2>/dev/null |
		awk -v f="$3" '/^ *-?[0-9.]+ +-?[0-9.]+% / && $6 == f { s += $1 } END { printf "%.0f\n", s }'
}

# row_is OUTPUT SITE CONDITION: heapprof lifetimes' row of SITE meets the
# awk CONDITION.
row_is() {
	echo "$1" | awk -v site="$2" "\$7 == site && ($3) { ok = 1 } END { exit !ok }"
}

# Types, in the profile's order.
AO=0 AS=1 DO=2 DS=3 CO=4 CS=5

rate1() { # rate1 ALLOCATOR
	local a=$1 d=$WORK/r1-$1 f heap
	mkdir -p "$d"
	HEAPPROF_RATE=1 HEAPPROF_LIFETIMES=1 HEAPPROF_OUTPUT=$d/hp run_profiled "$a" "$PROG" files 1
	check "$a: rate 1: program exits 0" test $? -eq 0
	f=$(one_file "$d"/hp.*.exit.lifetimes.pb.gz)
	heap=$(one_file "$d"/hp.*.exit.pb.gz)
	check "$a: the lifetimes profile beside the heap profile, same number" \
		test -n "$f" -a "${f%.lifetimes.pb.gz}.pb.gz" = "$heap"
	[ -n "$f" ] || return
	if ! have_go; then
		skip "$a: exact counts: go tool pprof not installed (golang-go)"
		return
	fi
	local types
	types=$("$GO" tool pprof -raw "$f" 2>/dev/null | sed -n '/^Samples:/{n;p}')
	check "$a: tcmalloc's six sample types, deallocated_space the default" test \
		"$types" = "allocated_objects/count allocated_space/bytes deallocated_objects/count deallocated_space/bytes[dflt] censored_allocated_objects/count censored_allocated_space/bytes"
	local site n size free want
	for site in "churn_site 1000 100 churn_site same" "held_site 50 200 release_held different" \
		"kept_site 30 300 - -"; do
		set -- $site
		local alloc_o alloc_s free_o free_s cens_o cens_s
		alloc_o=$(raw_sum "$f" $AO "$1")
		alloc_s=$(raw_sum "$f" $AS "$1")
		cens_o=$(raw_sum "$f" $CO "$1")
		cens_s=$(raw_sum "$f" $CS "$1")
		check "$a: $1: allocated $alloc_o objects, $alloc_s bytes (want $2, $(($2 * $3)))" \
			test "$alloc_o $alloc_s" = "$2 $(($2 * $3))"
		if [ "$4" = - ]; then
			want="$2 $(($2 * $3))"
			free_o=$(raw_sum "$f" $DO "$1")
		else
			want="0 0"
			free_o=$(raw_sum "$f" $DO "$4" "active thread:\\[$5\\]")
			free_s=$(raw_sum "$f" $DS "$4" "active thread:\\[$5\\]")
			check "$a: $1: deallocated in $4, thread $5: $free_o objects, $free_s bytes" \
				test "$free_o $free_s" = "$2 $(($2 * $3))"
		fi
		check "$a: $1: censored $cens_o objects, $cens_s bytes (want $want)" \
			test "$cens_o $cens_s" = "$want"
	done
	local avg
	avg=$(raw_label "$f" churn_site avg_lifetime)
	check "$a: churn_site: average lifetime ${avg:-?} ns, under 1 ms" test "${avg:-1000000000}" -lt 1000000
	avg=$(raw_label "$f" held_site avg_lifetime)
	check "$a: held_site: average lifetime ${avg:-?} ns, 20 ms to 2 s" \
		test "${avg:-0}" -ge 20000000 -a "${avg:-0}" -le 2000000000
	avg=$(raw_label "$f" kept_site max_lifetime)
	check "$a: kept_site: censored, alive ${avg:-?} ns at exit" test "${avg:-0}" -gt 0
	# heapprof lifetimes: a row per site (objects bytes alive median p90
	# short-share site freer (count)...).
	local out
	out=$("$HEAPPROF_BIN" lifetimes "$f")
	diag "$out"
	check "$a: heapprof lifetimes: churn_site 1000 objects, none alive, >= 99% freed within 1ms, by churn_site (1000)" \
		row_is "$out" churn_site '$1 == 1000 && $3 == "0.0%" && $6 + 0 >= 99 && $8 == "churn_site" && $9 == "(1000)"'
	check "$a: heapprof lifetimes: held_site 50 objects, median in ms, none within 1ms, freed by release_held (50)" \
		row_is "$out" held_site '$1 == 50 && $4 ~ /[0-9]ms$/ && $6 == "0.0%" && $8 == "release_held" && $9 == "(50)"'
	check "$a: heapprof lifetimes: kept_site 30 objects, 100% alive" \
		row_is "$out" kept_site '$1 == 30 && $3 == "100.0%"'
	# pprof's own filters on the labels.
	check "$a: -tagfocus=avg_lifetime=10ms: keeps release_held's 50 frees, not churn_site's" \
		test "$(tag_flat "$f" deallocated_objects release_held avg_lifetime=10ms:) $(
			tag_flat "$f" deallocated_objects churn_site avg_lifetime=10ms:)" = "50 0"
	check "$a: -tagfocus='active thread=different': only release_held" \
		test "$(tag_flat "$f" deallocated_objects release_held "active thread=different") $(
			tag_flat "$f" deallocated_objects churn_site "active thread=different")" = "50 0"
}

# estimate PROFILE TYPE-INDEX LEAF N SIZE WHAT: the estimate of N blocks of
# SIZE bytes within 4 standard deviations: each block is sampled with
# p = 1 - exp(-SIZE / 524288) and weighs 1/p, so the relative deviation of
# the estimated count is sqrt((1 - p) / (N p)) (docs/sampling.md).
estimate() {
	local v tol
	v=$(raw_sum "$1" "$2" "$3")
	tol=$(awk -v n="$4" -v z="$5" 'BEGIN { p = 1 - exp(-z / 524288); printf "%.0f", 4 * n * sqrt((1 - p) / (n * p)) }')
	check "default rate: $3: $6 $v, want $4 within $tol (4 sd)" within "$v" "$4" "$tol"
}

default_rate() {
	local d=$WORK/dflt f
	mkdir -p "$d"
	HEAPPROF_SEED=1 HEAPPROF_LIFETIMES=1 HEAPPROF_OUTPUT=$d/hp run_profiled glibc "$PROG" files 2
	f=$(one_file "$d"/hp.*.exit.lifetimes.pb.gz)
	check "default rate: the lifetimes profile written" test -n "$f"
	[ -n "$f" ] || return
	# files 2: churn_site 200000 x 8 KiB, held_site 4000 x 64 KiB, kept_site 100 x 1 MiB.
	estimate "$f" $AO churn_site 200000 8192 "allocated objects"
	estimate "$f" $DO churn_site 200000 8192 "deallocated objects"
	estimate "$f" $AO held_site 4000 65536 "allocated objects"
	estimate "$f" $DO release_held 4000 65536 "deallocated objects"
	estimate "$f" $CO kept_site 100 1048576 "censored objects"
}

# /debug/pprof/lifetimes?seconds=2 while prog_lifetimes http runs: before
# the window 500 blocks churn and before_window keeps 40; in it, the three
# sites. The window's profile has only the latter.
window() {
	local d=$WORK/http pid ep U
	mkdir -p "$d"
	# Not through timeout(1): the endpoint is found by the program's pid.
	env HEAPPROF_RATE=1 HEAPPROF_LIFETIMES=1 HEAPPROF_HTTP=127.0.0.1:0 HEAPPROF_AT_EXIT=0 \
		LD_PRELOAD="$HEAPPROF_LIB" "$PROG" http "$d" 2>"$d/err" &
	pid=$!
	wait_file 20 "$d/ready"
	ep=$(endpoint_of "$pid" "$d/err")
	check "http: the endpoint is up ($ep)" test -n "$ep"
	if [ -z "$ep" ]; then
		touch "$d/go" "$d/stop"
		wait "$pid"
		return
	fi
	U=http://$ep/debug/pprof
	check "http: the index lists lifetimes" sh -c "curl -sf '$U/?debug=1' | grep -q '^lifetimes: '"
	curl -sf --max-time 30 -o "$d/win.pb.gz" "$U/lifetimes?seconds=2" &
	local c=$!
	sleep 1
	touch "$d/go"
	wait_file 20 "$d/done"
	wait "$c"
	check "http: ?seconds=2 answered" test -s "$d/win.pb.gz"
	curl -sf --max-time 30 -o "$d/all.pb.gz" "$U/lifetimes"
	touch "$d/stop"
	wait "$pid"
	local w="$d/win.pb.gz" all="$d/all.pb.gz"
	check "http: window: churn_site 1000 allocated, not the 500 before" \
		test "$(raw_sum "$w" $AO churn_site)" = 1000
	check "http: window: before_window neither allocated nor censored" \
		test "$(raw_sum "$w" $AO before_window) $(raw_sum "$w" $CO before_window)" = "0 0"
	check "http: window: release_held 50 deallocated, kept_site 30 censored" \
		test "$(raw_sum "$w" $DO release_held) $(raw_sum "$w" $CO kept_site)" = "50 30"
	check "http: since start: churn_site 1500, before_window 40 censored" \
		test "$(raw_sum "$all" $AO churn_site) $(raw_sum "$all" $CO before_window)" = "1500 40"
}

# heapprof web on a rate-1 lifetimes profile: the lifetimes view, through
# the page's test hook in headless Chromium (web.sh's way).
web_view() {
	local f r chromium
	f=$(one_file "$WORK"/r1-glibc/hp.*.exit.lifetimes.pb.gz)
	chromium=$(command -v chromium || command -v chromium-browser || true)
	if [ -z "$f" ]; then
		skip "web: no rate-1 lifetimes profile"
		return
	elif [ -z "$chromium" ]; then
		skip "web: the lifetimes view in Chromium: chromium not installed"
		return
	fi
	"$HEAPPROF_BIN" web "$f" -o "$WORK/lt.html"
	r=$(timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--host-resolver-rules="MAP * ~NOTFOUND" --user-data-dir="$WORK/chromium" \
		--virtual-time-budget=5000 --dump-dom "file://$WORK/lt.html#test=sample:deallocated_objects" \
		2>/dev/null | sed -n '/<pre id="test-result"/,/<\/pre>/p' | sed 's/<[^>]*>//g' | grep '^lifetime')
	diag "$r"
	# lifetime SITE objects bytes censored freed bars freers
	check "web: churn_site 1000 objects, 100000 B, 0 alive, 1000 freed, by churn_site" \
		sh -c "echo '$r' | awk -F'\t' '\$2 == \"churn_site\" && \$3 == 1000 && \$4 == 100000 && \$5 == 0 && \$6 == 1000 && \$7 >= 1 && \$8 == \"churn_site:1000\" { ok = 1 } END { exit !ok }'"
	check "web: held_site 50 freed by release_held, kept_site 30 alive" \
		sh -c "echo '$r' | awk -F'\t' '\$2 == \"held_site\" && \$6 == 50 && \$8 == \"release_held:50\" { a = 1 } \$2 == \"kept_site\" && \$3 == 30 && \$5 == 30 { b = 1 } END { exit !(a && b) }'"
}

for a in $(allocators); do
	rate1 "$a"
done
skip_jemalloc "the rate-1 lifetimes checks"
web_view
if have_go; then
	default_rate
else
	skip "the default rate: go tool pprof not installed (golang-go)"
fi
if ! command -v curl >/dev/null; then
	skip "the window: curl not installed (curl)"
elif have_go; then
	window
else
	skip "the window: go tool pprof not installed (golang-go)"
fi

done_testing
