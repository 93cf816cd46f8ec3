# SPDX-License-Identifier: MIT
# Fuzzes the profile reader (test/fuzz/fuzz_reader.c) for a bounded time with
# libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer, starting
# from the corpus in test/fuzz/corpus (copied: the corpus in the tree is not
# changed by a run). Without clang's libFuzzer, the same target built with
# gcc's sanitizers runs over the corpus instead. FUZZ_SECONDS sets the time.
. "$(dirname "$0")/../integration/lib.sh"

: "${TEST_SRCDIR:?run through make check}"
SRC=$TEST_SRCDIR
GEN=$(dirname "$HEAPPROF_BIN")/../../lib/pprof
SECONDS_BUDGET=${FUZZ_SECONDS:-60}
srcs=("$SRC/test/fuzz/fuzz_reader.c" "$SRC/contrib/heapprof/profiles.c"
	"$SRC/contrib/heapprof/filter.c" "$SRC/lib/pprof/read.c"
	"$SRC/lib/pprof/strtab.c" "$GEN/profile.pb-c.c" "$SRC/contrib/heapprof/symbolize.c" "$SRC/contrib/heapprof/fetch.c")
flags=(-g -O1 -I"$SRC/contrib/heapprof" -I"$SRC/lib" -I"$GEN" -fno-omit-frame-pointer)
libs=(-lprotobuf-c -lz -lcurl -ldw -lelf -liberty -lm)
CLANG=$(command -v clang || command -v clang-14 || true)
mkdir -p "$WORK/corpus"
cp "$SRC"/test/fuzz/corpus/* "$WORK/corpus/"
n=$(ls "$WORK/corpus" | wc -l)
check "a corpus of $n inputs" test "$n" -ge 5
if [ -n "$CLANG" ] && "$CLANG" -fsanitize=fuzzer,address,undefined -DHP_LIBFUZZER \
	"${flags[@]}" "${srcs[@]}" "${libs[@]}" -o "$WORK/fuzz" 2>"$WORK/build.err"; then
	ok 0 "built the libFuzzer target with ASan and UBSan"
	UBSAN_OPTIONS=halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
		timeout $((SECONDS_BUDGET + 120)) "$WORK/fuzz" -max_total_time="$SECONDS_BUDGET" \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$WORK/corpus" >"$WORK/fuzz.log" 2>&1
	rc=$?
	runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$WORK/fuzz.log")
	check "libFuzzer ran $SECONDS_BUDGET s without a crash ($runs inputs)" test "$rc" = 0
	[ "$rc" = 0 ] || tail -30 "$WORK/fuzz.log" | sed 's/^/# /'
else
	diag "libFuzzer unavailable ($(head -1 "$WORK/build.err" 2>/dev/null)); running the corpus under gcc's sanitizers"
	cc -fsanitize=address,undefined "${flags[@]}" "${srcs[@]}" "${libs[@]}" -o "$WORK/fuzz"
	ok $? "built the target with gcc's sanitizers"
	UBSAN_OPTIONS=halt_on_error=1 "$WORK/fuzz" "$WORK"/corpus/* >/dev/null
	ok $? "the corpus runs through the reader without a sanitizer report"
fi
done_testing
