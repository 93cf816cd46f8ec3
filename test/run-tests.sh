#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds libheapprof in ./build and runs the whole test suite (make check),
# ending with one line: "N passed, M failed" (and skipped, if any).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -x configure ]; then autoreconf -fi || exit 2; fi
mkdir -p build && cd build || exit 2
if [ ! -f Makefile ]; then ../configure || exit 2; fi
make -j"$jobs" || exit 2
make -j"$jobs" check
status=$?
count() { awk -v k="# $1:" '$0 ~ "^" k { print $3; exit }' test-suite.log; }
pass=$(count PASS) fail=$(count FAIL) err=$(count ERROR) xpass=$(count XPASS) skip=$(count SKIP)
failed=$(( ${fail:-0} + ${err:-0} + ${xpass:-0} ))
[ -f test-suite.log ] || { echo "0 passed, 1 failed"; exit 1; }
if [ "${skip:-0}" != 0 ]; then
	echo "${pass:-0} passed, $failed failed, $skip skipped"
else
	echo "${pass:-0} passed, $failed failed"
fi
exit $status
