# SPDX-License-Identifier: MIT
# The stack walker's rules kept across processes (lib/rulecache.c): a second
# run of a program reads no call frame information for the return addresses
# the first walked, and its stacks are the first's; a damaged file or bogus
# rules cost neither the program nor its profile's validity.
. "$(dirname "$0")/lib.sh"

need gcc gcc
# Forty call paths, each a chain of three frames, without frame pointers: the
# walker learns their rules from .eh_frame. A build ID of this run's own, so
# that no other run's file exists.
cat >"$WORK/paths.c" <<'C'
#include <stdlib.h>
void *kept[4096]; /* global: the allocations stay */
static int n;
#define PATH(i)                                                             \
	__attribute__((noinline)) static void leaf##i(int k)                \
	{                                                                   \
		for (int j = 0; j < k; j++)                                 \
			kept[n++ % 4096] = malloc(100 + i);                 \
		__asm__ volatile("" ::: "memory");                          \
	}                                                                   \
	__attribute__((noinline)) static void mid##i(int k)                 \
	{                                                                   \
		leaf##i(k);                                                 \
		__asm__ volatile("" ::: "memory");                          \
	}                                                                   \
	__attribute__((noinline)) void top##i(int k)                        \
	{                                                                   \
		mid##i(k + 1);                                              \
		__asm__ volatile("" ::: "memory");                          \
	}
#define TEN(d) PATH(d##0) PATH(d##1) PATH(d##2) PATH(d##3) PATH(d##4) \
	PATH(d##5) PATH(d##6) PATH(d##7) PATH(d##8) PATH(d##9)
TEN(1) TEN(2) TEN(3) TEN(4)
#define CALL(d) top##d##0(1); top##d##1(2); top##d##2(3); top##d##3(4); \
	top##d##4(5); top##d##5(6); top##d##6(7); top##d##7(8); top##d##8(9); top##d##9(10);
int main(void)
{
	CALL(1) CALL(2) CALL(3) CALL(4)
	return 0;
}
C
bid=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
gcc -O2 -fomit-frame-pointer -Wl,--build-id=0x"$bid" -o "$WORK/paths" "$WORK/paths.c"
check "the program builds with build ID $bid" test -x "$WORK/paths"
file=/tmp/heapprof-$(id -u)/rules1-$bid

# run N [ENV...]: the program at rate 1; its stderr in err.N, profile r.N.*
run() {
	local i=$1
	shift
	env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 HEAPPROF_VERBOSE=1 \
		HEAPPROF_OUTPUT="$WORK/r$i" "$@" "$WORK/paths" 2>"$WORK/err.$i"
}
# learnt N: "C K": rules read from the CFI, and kept from earlier processes.
learnt() {
	sed -n 's/.*learnt \([0-9]*\) from the CFI, [0-9]* from libunwind, \([0-9]*\) kept.*/\1 \2/p' \
		"$WORK/err.$1"
}
# stacks N: the profile's stacks, by function name, as go tool pprof or
# heapprof prints them.
stacks() {
	local p
	p=$(one_file "$WORK/r$1".*.exit.pb.gz)
	if have_go; then
		"$GO" tool pprof -traces -sample_index=alloc_space "$p" 2>/dev/null |
			grep -Ev '^(File|Build ID|Time|Duration|libheapprof|trigger|pid|command)'
	else
		"$HEAPPROF_BIN" top -n 1000 "$p" 2>/dev/null
	fi
}

run 1
read -r cfi1 kept1 <<<"$(learnt 1)"
check "first run: rules read from the CFI for the 40 paths ($cfi1), none kept (${kept1:-})" \
	test "${cfi1:-0}" -ge 80 -a "${kept1:-1}" = 0
check "and written for later runs ($file)" test -s "$file"
run 2
read -r cfi2 kept2 <<<"$(learnt 2)"
check "second run: nothing read from the CFI ($cfi2), $cfi1 rules kept ($kept2)" \
	test "${cfi2:-1}" = 0 -a "${kept2:-0}" = "$cfi1" -a "${kept2:-0}" -gt 0
stacks 1 >"$WORK/s1"
stacks 2 >"$WORK/s2"
# same A B: the stack files are equal, and name the paths' functions.
same() { grep -q 'top17' "$WORK/$1" && cmp -s "$WORK/$1" "$WORK/$2"; }
check "the same stacks ($(grep -c top "$WORK/s1") lines naming top*)" same s1 s2
check "leaf17's 9 blocks of 117 bytes in each" \
	test "$(hp_flat "$(one_file "$WORK"/r2.*.exit.pb.gz)" alloc_space leaf17)" = 1053
size=$(stat -c %s "$file")
run 3
check "a run that learns nothing new leaves the file alone ($size bytes)" \
	test -n "$size" -a "$(stat -c %s "$file")" = "$size" -a "$(learnt 3)" = "0 $cfi1"

# Damaged files, each read as nothing: the program exits 0, reads every rule
# from the CFI again, and writes a whole file for the next.
damage() { # damage KIND: the file changed the KIND way
	python3 - "$file" "$1" <<'PY'
import struct, sys
p, kind = sys.argv[1], sys.argv[2]
b = bytearray(open(p, "rb").read())
nmods, nrules = struct.unpack_from("<II", b, 8)
rules = 24 + 144 * nmods
if kind == "bytes":  # every byte after the header
    for i in range(24, len(b)):
        b[i] ^= 0x5A
elif kind == "cut":  # cut short
    b = b[: len(b) // 2]
elif kind == "count":  # more rules than the file holds
    struct.pack_into("<I", b, 12, nrules + 1)
elif kind == "overlap":  # the second object's rules start inside the first's
    struct.pack_into("<I", b, 24 + 144 + 136, 1)
elif kind == "order":  # two offsets swapped
    a, c = rules + 16 * 0, rules + 16 * 1
    b[a : a + 4], b[c : c + 4] = b[c : c + 4], b[a : a + 4]
elif kind == "shape":  # a rule no walk makes: libunwind's
    struct.pack_into("<Q", b, rules + 8, 0)
open(p, "wb").write(bytes(b))
PY
}
i=4
for kind in bytes cut count overlap order; do
	damage "$kind"
	run "$i"
	rc=$?
	read -r c k <<<"$(learnt "$i")"
	stacks "$i" >"$WORK/s$i"
	check "a damaged file ($kind): exit $rc, $c rules from the CFI, $k kept, the first run's stacks" \
		test "$rc" = 0 -a "${c:-0}" = "$cfi1" -a "${k:-1}" = 0 -a "${c:-0}" -gt 0
	check "and the same stacks ($kind)" same s1 "s$i"
	i=$((i + 1))
done
# whole_again WHAT: the next run reads nothing from the CFI, keeps them all.
whole_again() {
	run "$i"
	check "$1 (from the CFI and kept: $(learnt "$i"))" test "$(learnt "$i")" = "0 $cfi1"
	i=$((i + 1))
}
whole_again "a whole file again after them"
# A rule of a shape no walk makes is refused when a lookup finds it (the
# file is not checked rule by rule at start-up): that one is read from the
# CFI again, the others are kept, and the file written at exit is whole.
damage shape
run "$i"
rc=$?
read -r c k <<<"$(learnt "$i")"
stacks "$i" >"$WORK/s$i"
check "a rule of a shape no walk makes: exit $rc, $c rule from the CFI, $k kept" \
	test "$rc" = 0 -a "${c:-0}" = 1 -a "${k:-0}" = $((cfi1 - 1))
check "and the same stacks (shape)" same s1 "s$i"
i=$((i + 1))
whole_again "the file whole again after it"
# Rules of the walker's shapes, but wrong: each frame's caller looked for
# 8 to 512 bytes up the stack, RBP saved or not. Walks go astray inside the
# thread's stack, never outside it.
python3 - "$file" <<'PY'
import random, struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
nmods, nrules = struct.unpack_from("<II", b, 8)
at = 24 + 144 * nmods
for i in range(nrules):
    rule = random.choice((1, 2)) | (8 * random.randint(1, 64)) << 32
    if random.random() < 0.5:
        rule |= 4 | ((8 * random.randint(-8, 8)) & 0xFFFF) << 16
    struct.pack_into("<Q", b, at + 16 * i + 8, rule)
open(p, "wb").write(bytes(b))
PY
run "$i"
rc=$?
read -r c k <<<"$(learnt "$i")"
check "wrong rules of the walker's shapes: the program exits 0 ($rc), using them ($k kept)" \
	test "$rc" = 0 -a "${k:-0}" -gt 0
p=$(one_file "$WORK/r$i".*.exit.pb.gz)
check "and its profile is read ($p)" quiet "$HEAPPROF_BIN" info "$p"
check "nothing on stderr but what HEAPPROF_VERBOSE prints ($(grep -Evc 'heapprof: (config:|stack rules:|wrote )' "$WORK/err.$i"))" \
	test "$(grep -Evc 'heapprof: (config:|stack rules:|wrote )' "$WORK/err.$i")" = 0
# A writer killed before its rename leaves NAME.PID.tmp: heapprof ps removes
# those of processes gone, keeps a live one's.
dead=$(sh -c 'echo $$')
: >"$file.$dead.tmp"
: >"$file.$$.tmp"
"$HEAPPROF_BIN" ps >/dev/null 2>&1
check "heapprof ps removes rules1-*.$dead.tmp of a process gone, keeps its own" \
	test ! -e "$file.$dead.tmp" -a -e "$file.$$.tmp"
rm -f "$file.$$.tmp"
# A plugin loaded after start-up and closed before exit: its rules are
# used while it is there, never kept (its addresses may be another
# object's in a later run), and the program's own are.
cat >"$WORK/plug.c" <<'C'
#include <stdlib.h>
void *pk[64];
int pn;
__attribute__((noinline)) static void plug_leaf(int k)
{
	for (int j = 0; j < k; j++)
		pk[pn++ % 64] = malloc(300 + k);
	__asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) void plug_run(int k)
{
	plug_leaf(k);
	__asm__ volatile("" ::: "memory");
}
C
{
	sed -n '/^#include <stdlib.h>/,/^TEN(1)/p' "$WORK/paths.c"
	sed -n '/^#define CALL/,/top##d##9(10);$/p' "$WORK/paths.c"
	cat <<'C'
#include <dlfcn.h>
int main(int argc, char **argv)
{
	CALL(1)
	void *h = dlopen(argv[1], RTLD_NOW);
	void (*run)(int) = h ? (void (*)(int))dlsym(h, "plug_run") : 0;
	if (!run)
		return 1;
	run(7);
	dlclose(h);
	CALL(1)
	return 0;
}
C
} >"$WORK/host.c"
bid2=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
bid3=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
gcc -O2 -fomit-frame-pointer -shared -fPIC -Wl,--build-id=0x"$bid3" \
	-o "$WORK/plug.so" "$WORK/plug.c" &&
	gcc -O2 -fomit-frame-pointer -Wl,--build-id=0x"$bid2" -o "$WORK/host" \
		"$WORK/host.c" -ldl
check "a program that loads and closes a plugin builds" test -x "$WORK/host"
hostfile=/tmp/heapprof-$(id -u)/rules1-$bid2
# hrun N: the host at rate 1; its profile h.N.*, stderr herr.N
hrun() {
	env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 HEAPPROF_VERBOSE=1 \
		HEAPPROF_OUTPUT="$WORK/h$1" "$WORK/host" "$WORK/plug.so" 2>"$WORK/herr.$1"
}
hrun 1
hrc=$?
ids=$(python3 - "$hostfile" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
nmods = struct.unpack_from("<I", b, 8)[0]
print(" ".join(b[24 + 144 * i : 24 + 144 * i + 136].split(b"\0")[0].decode()
               for i in range(nmods)))
PY
)
check "the host's rules are kept, the plugin's not (exit $hrc; objects: ${ids:0:60}...)" \
	test "$hrc" = 0 -a -n "$ids" -a -z "${ids##*"$bid2"*}" -a -n "${ids##*"$bid3"*}"
hrun 2
hstacks() {
	"$GO" tool pprof -traces -sample_index=alloc_space "$(one_file "$WORK/h$1".*.exit.pb.gz)" \
		2>/dev/null | grep -Ev '^(File|Build ID|Time|Duration|libheapprof|trigger|pid|command)'
}
if have_go; then
	hstacks 1 >"$WORK/hs1"
	hstacks 2 >"$WORK/hs2"
	check "the second run's stacks are the first's, through the plugin too" \
		eval 'grep -q plug_leaf "$WORK/hs1" && cmp -s "$WORK/hs1" "$WORK/hs2"'
else
	skip "the second run's stacks: go not found"
fi
rm -f "$hostfile"

# An object loaded before the profiler's start (a library's constructor
# dlopens it), closed, and another loaded where it was: the other's rules
# must not be kept under the first's build ID.
cat >"$WORK/early.c" <<'C'
#include <dlfcn.h>
#include <stdlib.h>
static void *h;
__attribute__((constructor)) static void early(void)
{
	h = dlopen(getenv("EARLY_PLUGIN"), RTLD_NOW);
}
void *early_base(void)
{
	void *f = h ? dlsym(h, "plug_run") : 0;
	return f;
}
void early_close(void)
{
	if (h)
		dlclose(h);
}
C
cat >"$WORK/late.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
void *early_base(void);
void early_close(void);
int main(int argc, char **argv)
{
	void *a = early_base();
	early_close();
	void *h = dlopen(argv[1], RTLD_NOW);
	void (*run)(int) = h ? (void (*)(int))dlsym(h, "plug_run") : 0;
	if (!a || !run)
		return 1;
	printf("%d\n", a == (void *)run);
	for (int i = 0; i < 20; i++)
		run(i + 1);
	return 0;
}
C
bida=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
bidb=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
bidl=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
gcc -O2 -shared -fPIC -Wl,--build-id=0x"$bida" -o "$WORK/plugA.so" "$WORK/plug.c" &&
	gcc -O2 -fomit-frame-pointer -shared -fPIC -Wl,--build-id=0x"$bidb" \
		-o "$WORK/plugB.so" "$WORK/plug.c" &&
	gcc -O2 -shared -fPIC -o "$WORK/libearly.so" "$WORK/early.c" -ldl &&
	gcc -O2 -Wl,--build-id=0x"$bidl" -o "$WORK/late" "$WORK/late.c" \
		-L"$WORK" -learly -Wl,-rpath,"$WORK" -ldl
latefile=/tmp/heapprof-$(id -u)/rules1-$bidl
same_place=$(env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 EARLY_PLUGIN="$WORK/plugA.so" \
	HEAPPROF_OUTPUT="$WORK/late" "$WORK/late" "$WORK/plugB.so" 2>"$WORK/lateerr")
lrc=$?
if [ "$same_place" = 1 ]; then
	ids=$(python3 - "$latefile" <<'PY' 2>/dev/null
import struct, sys
b = open(sys.argv[1], "rb").read()
nmods = struct.unpack_from("<I", b, 8)[0]
print(" ".join(b[24 + 144 * i : 24 + 144 * i + 136].split(b"\0")[0].decode()
               for i in range(nmods)))
PY
)
	check "B loaded where A was: none of B's rules kept under A's build ID (exit $lrc; ${ids:-no file})" \
		test "$lrc" = 0 -a -n "${ids##*"$bida"*}" -a -n "${ids##*"$bidb"*}"
else
	skip "B was not loaded where A had been ($same_place, exit $lrc): nothing to tell"
fi
rm -f "$latefile"

# No exit profile, no registry at start-up: the file is neither read nor
# written.
rm -f "$file"
run 99 HEAPPROF_AT_EXIT=0
check "HEAPPROF_AT_EXIT=0: rules read from the CFI ($(learnt 99)), no file" \
	test ! -e "$file" -a "$(learnt 99)" = "$cfi1 0" -a "${cfi1:-0}" -gt 0
rm -f "$file"

# The directory removed while a program runs (a cleaner of /tmp) and made
# again by another user, open to all: the program's kept rules and symbol
# tables are not written there, nor anything else of its (the directory is
# checked at each write, not once).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	other=/tmp/heapprof-65534
	rm -rf "$other"
	setpriv --reuid=65534 --regid=65534 --clear-groups env LD_PRELOAD="$HEAPPROF_LIB" \
		HEAPPROF_RATE=1 HEAPPROF_OUTPUT=/dev/null/none python3 -c '
import json, sys, time
d = [json.dumps({"k": i, "v": list(range(i % 30))}) for i in range(20000)]
sys.stdout.write("ready\n"); sys.stdout.flush()
time.sleep(1.5)
print(len(d))' >"$WORK/taken.out" 2>/dev/null &
	tp=$!
	wait_line "$WORK/taken.out" ready
	rm -rf "$other" && mkdir -m 0777 "$other" && chown 4242:4242 "$other"
	wait "$tp"
	theirs=$(find "$other" -user 65534 | wc -l)
	check "a directory made again by another user gets none of the program's files ($theirs)" \
		test "$theirs" = 0 -a "$(tail -1 "$WORK/taken.out")" = 20000
	rm -rf "$other"
else
	skip "the directory made again by another user: needs root and setpriv"
fi
done_testing
