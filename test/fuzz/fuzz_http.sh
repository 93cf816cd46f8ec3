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
libs=()
. "$(dirname "$0")/fuzzlib.sh"
fuzz_run "$SRC/test/fuzz/http-corpus" 10 1024 10000 "the request parser" "$SECONDS_BUDGET"
done_testing
