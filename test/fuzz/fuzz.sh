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
	"$SRC/contrib/heapprof/stacks.c" "$SRC/lib/pprof/stream.c"
	"$SRC/contrib/heapprof/filter.c" "$SRC/contrib/heapprof/tables.c"
	"$SRC/contrib/heapprof/die.c" "$SRC/lib/pprof/read.c"
	"$SRC/lib/pprof/strtab.c" "$GEN/profile.pb-c.c")
flags=(-g -O1 -I"$SRC/contrib/heapprof" -I"$SRC/lib" -I"$GEN" -fno-omit-frame-pointer)
libs=(-lprotobuf-c -lz -lm)
. "$(dirname "$0")/fuzzlib.sh"
fuzz_run "$SRC/test/fuzz/corpus" 5 2048 65536 "the reader" "$SECONDS_BUDGET"
done_testing
