# SPDX-License-Identifier: MIT
# Setuid programs ignore HEAPPROF_* (secure_getenv). The dynamic loader only
# preloads into a setuid program a library from a system directory that is
# itself set-user-ID, so this test installs such a copy, runs a set-user-ID
# copy of prog_simple as root, and removes both. Root only.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to install a set-user-ID library"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
libdir=/usr/lib/x86_64-linux-gnu
[ -d "$libdir" ] || libdir=/usr/lib
name=libheapprof-setuid-test-$$.so
cp "$HEAPPROF_LIB" "$libdir/$name" && chmod 4755 "$libdir/$name"
cp "$TEST_BUILDDIR/prog_simple" "$WORK/suid" && chown nobody "$WORK/suid" && chmod 4755 "$WORK/suid"
trap 'rm -f "$libdir/$name"; rm -rf "$WORK"' EXIT
chmod 1777 "$WORK"
mkdir -p "$WORK/run" && chmod 1777 "$WORK/run"
cd "$WORK/run" || exit 1
# Run directly: a wrapper such as timeout would load the library too, and,
# not being set-user-ID, honour the variables. The harness times the script.
LD_PRELOAD=$name HEAPPROF_OUTPUT=$WORK/asked HEAPPROF_RATE=1 HEAPPROF_VERBOSE=1 \
	"$WORK/suid" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "the set-user-ID program ran (status $rc = 3)" test "$rc" = 3
check "the profiler was loaded (it wrote a profile)" test -n "$(one_file heapprof.*.exit.pb.gz)"
check "HEAPPROF_OUTPUT was ignored: nothing at the asked prefix" test -z "$(one_file "$WORK"/asked.*)"
check "HEAPPROF_VERBOSE was ignored: nothing on stderr" test ! -s "$WORK/err"
p=$(one_file heapprof.*.exit.pb.gz)
check "HEAPPROF_RATE was ignored: the profile's rate is the default" \
	bash -c "'$HEAPPROF_BIN' info '$p' | grep -q '^Period: 524288 '"
done_testing
