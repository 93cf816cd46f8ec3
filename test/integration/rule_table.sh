# SPDX-License-Identifier: MIT
# The unwinder's table of rules at a dense rate (lib/unwind_fast.c): clang++
# compiling a little C++ that includes <regex> walks stacks through about
# 17,000 return addresses at HEAPPROF_RATE=1. A table of 2^14 slots could
# not keep them: 1,650,726 rules were read from the CFI again and again
# (2,900 instructions each), 1.4 times the compile's profiled wall time.
# Each is now read once, and the object is the plain compile's.
. "$(dirname "$0")/lib.sh"

cxx=$(command -v clang++-14 || command -v clang++)
[ -n "$cxx" ] || skip_all "clang++ not found (Debian package clang-14)"
cat >"$WORK/t.cc" <<'CXX'
#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <vector>
int main()
{
	std::map<std::string, std::vector<int>> m;
	std::regex r("a+b");
	m["x"].push_back(std::regex_match("aab", r));
	std::sort(m["x"].begin(), m["x"].end());
	return (int)m.size();
}
CXX
timeout "$RUN_TIMEOUT" "$cxx" -O1 -c "$WORK/t.cc" -o "$WORK/plain.o"
check "plain compile succeeds" test $? = 0
timeout "$RUN_TIMEOUT" env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 \
	HEAPPROF_VERBOSE=1 HEAPPROF_AT_EXIT=0 "$cxx" -O1 -c "$WORK/t.cc" \
	-o "$WORK/prof.o" 2>"$WORK/err"
check "profiled at rate 1, the same object" cmp -s "$WORK/plain.o" "$WORK/prof.o"
# "stack rules: A from RSP, B from RBP, C outermost, D libunwind's; learnt E
# from the CFI, F from libunwind", the compiler's own line (the driver runs
# it in-process, or as a child: the line with the most rules).
line=$(grep 'stack rules:' "$WORK/err" | sort -t: -k3 -n | tail -n 1)
rules=$(echo "$line" | sed -n 's/.*rules: \([0-9]*\) from RSP, \([0-9]*\) from RBP, \([0-9]*\) outermost, \([0-9]*\) libunwind.*/\1+\2+\3+\4/p')
learnt=$(echo "$line" | sed -n 's/.*learnt \([0-9]*\) from the CFI, \([0-9]*\) from libunwind.*/\1+\2/p')
rules=$((${rules:-0})) learnt=$((${learnt:-0}))
check "more than 2^13 return addresses walked ($rules)" test "$rules" -gt 8192
check "each rule read about once: $learnt for $rules" \
	test "$learnt" -le $((rules + rules / 20))
done_testing
