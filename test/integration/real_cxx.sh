# SPDX-License-Identifier: MIT
# A C++ program that uses new/delete heavily: clang-format (LLVM) on a large
# generated file. Same output and status with and without the profiler; a
# SIGUSR2 snapshot mid-run and an exit profile naming LLVM/clang functions.
. "$(dirname "$0")/lib.sh"

need clang-format clang-format
awk 'BEGIN { for (i = 0; i < 8000; i++)
	printf "namespace ns%d { class C%d : public Base { public: C%d(int a,int b):a_(a),b_(b){} int get() const { return a_+b_*%d; } template<typename T> T conv(T t) { return static_cast<T>(t*a_); } private: int a_; int b_; }; }\n", i, i, i, i }' >"$WORK/big.cc"
timeout "$RUN_TIMEOUT" clang-format --style=LLVM "$WORK/big.cc" >"$WORK/plain.out" 2>&1
plain=$?
check "plain run succeeds" test "$plain" = 0

profile_mid_run cf 0.6 "$plain" /dev/null clang-format --style=LLVM "$WORK/big.cc"
snap=$SNAP exitp=$EXITP
[ -n "$snap" ] && check_real clang-format "$snap" 'llvm::|clang::'
[ -n "$exitp" ] && check_real clang-format "$exitp" 'llvm::|clang::' alloc_space
done_testing
