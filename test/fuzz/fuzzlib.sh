# SPDX-License-Identifier: MIT
# The run shared by the fuzz drivers (sourced after lib.sh): build a target
# from the arrays srcs, flags and libs with clang's libFuzzer under ASan and
# UBSan and run it for FUZZ_SECONDS from a copy of a corpus; without
# libFuzzer, build it with gcc's sanitizers and run it over the corpus.

# fuzz_run CORPUS-DIR MIN-INPUTS RSS-MB MAX-LEN WHAT SECONDS
fuzz_run() {
	local corpus=$1 min=$2 rss=$3 maxlen=$4 what=$5 budget=$6
	local clang rc runs n
	clang=$(command -v clang || command -v clang-14 || true)
	mkdir -p "$WORK/corpus"
	cp "$corpus"/* "$WORK/corpus/"
	n=$(ls "$WORK/corpus" | wc -l)
	check "a corpus of $n inputs" test "$n" -ge "$min"
	if [ -n "$clang" ] && "$clang" -fsanitize=fuzzer,address,undefined -DHP_LIBFUZZER \
		"${flags[@]}" "${srcs[@]}" "${libs[@]}" -o "$WORK/fuzz" 2>"$WORK/build.err"; then
		ok 0 "built the libFuzzer target with ASan and UBSan"
		UBSAN_OPTIONS=halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
			timeout $((budget + 120)) "$WORK/fuzz" -max_total_time="$budget" \
			-rss_limit_mb="$rss" -max_len="$maxlen" -print_final_stats=1 "$WORK/corpus" \
			>"$WORK/fuzz.log" 2>&1
		rc=$?
		runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$WORK/fuzz.log")
		check "libFuzzer ran $budget s over $what without a crash ($runs inputs)" test "$rc" = 0
		[ "$rc" = 0 ] || tail -30 "$WORK/fuzz.log" | sed 's/^/# /'
	else
		diag "libFuzzer unavailable ($(head -1 "$WORK/build.err" 2>/dev/null)); running the corpus under gcc's sanitizers"
		cc -fsanitize=address,undefined "${flags[@]}" "${srcs[@]}" "${libs[@]}" -o "$WORK/fuzz"
		ok $? "built the target with gcc's sanitizers"
		UBSAN_OPTIONS=halt_on_error=1 "$WORK/fuzz" "$WORK"/corpus/* >/dev/null
		ok $? "the corpus runs through $what without a sanitizer report"
	fi
}
