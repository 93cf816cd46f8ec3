# SPDX-License-Identifier: MIT
# Fuzzes the endpoint's request parser (test/fuzz/fuzz_http.c over
# lib/http_parse.c) for a bounded time with libFuzzer under AddressSanitizer
# and UndefinedBehaviorSanitizer, from the corpus in test/fuzz/http-corpus
# (copied, so a run leaves the tree alone). Without clang's libFuzzer, the
# target built with gcc's sanitizers runs over the corpus. FUZZ_SECONDS sets
# the time (30 s by default).
. "$(dirname "$0")/../integration/lib.sh"

: "${TEST_SRCDIR:?run through make check}"
SRC=$TEST_SRCDIR
SECONDS_BUDGET=${FUZZ_SECONDS:-30}
srcs=("$SRC/test/fuzz/fuzz_http.c" "$SRC/lib/http_parse.c")
flags=(-g -O1 -I"$SRC/lib" -fno-omit-frame-pointer)
CLANG=$(command -v clang || command -v clang-14 || true)
mkdir -p "$WORK/corpus"
cp "$SRC"/test/fuzz/http-corpus/* "$WORK/corpus/"
n=$(ls "$WORK/corpus" | wc -l)
check "a corpus of $n inputs" test "$n" -ge 10
if [ -n "$CLANG" ] && "$CLANG" -fsanitize=fuzzer,address,undefined -DHP_LIBFUZZER \
	"${flags[@]}" "${srcs[@]}" -o "$WORK/fuzz" 2>"$WORK/build.err"; then
	ok 0 "built the libFuzzer target with ASan and UBSan"
	UBSAN_OPTIONS=halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
		timeout $((SECONDS_BUDGET + 120)) "$WORK/fuzz" -max_total_time="$SECONDS_BUDGET" \
		-rss_limit_mb=1024 -max_len=10000 -print_final_stats=1 "$WORK/corpus" >"$WORK/fuzz.log" 2>&1
	rc=$?
	runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$WORK/fuzz.log")
	check "libFuzzer ran $SECONDS_BUDGET s over the request parser without a crash ($runs inputs)" \
		test "$rc" = 0
	[ "$rc" = 0 ] || tail -30 "$WORK/fuzz.log" | sed 's/^/# /'
else
	diag "libFuzzer unavailable ($(head -1 "$WORK/build.err" 2>/dev/null)); running the corpus under gcc's sanitizers"
	cc -fsanitize=address,undefined "${flags[@]}" "${srcs[@]}" -o "$WORK/fuzz"
	ok $? "built the target with gcc's sanitizers"
	UBSAN_OPTIONS=halt_on_error=1 "$WORK/fuzz" "$WORK"/corpus/* >/dev/null
	ok $? "the corpus runs through the request parser without a sanitizer report"
fi
done_testing
