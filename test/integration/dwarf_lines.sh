# SPDX-License-Identifier: MIT
# Source lines from the debug info as compilers and linkers write it today:
# gcc and clang 14 with DWARF 5 split units (-gsplit-dwarf, the .dwo beside
# the binary), clang 14 without .debug_aranges (libdw 0.188's eu-addr2line
# finds nothing there), linked by lld. A small C program (an always-inlined
# helper in a noinline function) at HEAPPROF_RATE=1: heapprof top --lines
# gives the helper its own frame at its line and the caller its call line.
# With libc6-dbg, libc's frames join a relative compilation directory right
# (csu/libc-start.c, not .csu/libc-start.c).
. "$(dirname "$0")/lib.sh"
unset DEBUGINFOD_URLS

cat >"$WORK/inl.c" <<'EOF2'
#include <stdio.h>
#include <stdlib.h>
static inline __attribute__((always_inline)) void *helper(size_t n) { return malloc(n); } /* line:helper */
__attribute__((noinline)) void *outer(size_t n) { return helper(n); } /* line:outer */
int main(void)
{
	void *v[10];
	for (int i = 0; i < 10; i++)
		v[i] = outer(100); /* line:main */
	printf("%p\n", v[3]);
	return 0;
}
EOF2
line_of() { grep -n "line:$1 " "$WORK/inl.c" | cut -d: -f1; }

# rows of top --lines --raw: "cum" of NAME FILE:LINE
lines_cum() { # lines_cum PROFILE NAME LINE
	"$HEAPPROF_BIN" top --raw --lines --sample-index=alloc_space "$1" |
		awk -F'\t' -v f="$2 $WORK/inl.c:$3" '$3 == f { print $1 "/" $2; found = 1 }
			END { if (!found) print "absent" }'
}

one_build() { # one_build LABEL COMPILER FLAGS...
	local label=$1 cc=$2 dir=$WORK/$1
	shift 2
	if ! command -v "$cc" >/dev/null; then
		skip "$label: $cc not installed"
		return
	fi
	mkdir -p "$dir"
	(cd "$dir" && "$cc" -O2 -fno-optimize-sibling-calls "$@" -o inl "$WORK/inl.c") 2>"$dir/cc.err"
	ok $? "$label: $cc -O2 $*"
	HEAPPROF_OUTPUT=$dir/hp HEAPPROF_RATE=1 run_profiled glibc "$dir/inl" >/dev/null 2>"$dir/err"
	local p
	p=$(one_file "$dir"/hp.*.exit.pb.gz)
	[ -n "$p" ] || { ok 1 "$label: exit profile"; return; }
	local h o m
	h=$(lines_cum "$p" helper "$(line_of helper)")
	o=$(lines_cum "$p" outer "$(line_of outer)")
	m=$(lines_cum "$p" main "$(line_of main)")
	check "$label: the inlined helper at its line, 1000 bytes flat and cum ($h)" test "$h" = 1000/1000
	check "$label: outer at the inlined call's line, 1000 cum ($o)" test "$o" = 0/1000
	check "$label: main at its call's line, 1000 cum ($m)" test "$m" = 0/1000
	if [ "$label" = gcc-split ] && [ -d /usr/lib/debug/.build-id ] &&
		dpkg -s libc6-dbg >/dev/null 2>&1; then
		local rows
		rows=$("$HEAPPROF_BIN" top --raw --lines "$p" --sample-index=alloc_space | cut -f3 |
			grep '^__libc_start_main_impl ')
		check "libc's start: csu/libc-start.c, joined right ($rows)" \
			bash -c "grep -q '^__libc_start_main_impl csu/libc-start.c:[0-9]*$' <<<'$rows'"
	fi
}

one_build gcc-split gcc -gdwarf-5 -gsplit-dwarf
one_build clang-split clang-14 -gdwarf-5 -gsplit-dwarf
if command -v ld.lld >/dev/null; then
	one_build clang-lld clang-14 -gdwarf-5 -fuse-ld=lld
else
	skip "clang-lld: ld.lld not installed (Debian package lld)"
fi
dpkg -s libc6-dbg >/dev/null 2>&1 || skip "libc's start: libc6-dbg not installed"
done_testing
