# SPDX-License-Identifier: MIT
# In-process names in a program shaped like cc1 (prog_symbols: 16,384
# exported functions, allocations from 32 exported and 32 static functions):
# the library names every function a symbol covers, from .symtab when the
# file has one, else from .dynsym; leaves the static functions of a stripped
# binary unnamed (never a neighbour's name) for heapprof symbolize to name;
# takes the names from the loaded image when the file was replaced since; and
# its exit profile stays within an instruction budget (callgrind), where a
# dladdr per address cost 87 million.
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_symbols
BUDGET=3000000
unset DEBUGINFOD_URLS

# profile NAME BINARY [ARG]: runs it at rate 1; p is the exit profile's path.
profile() {
	local out=$WORK/$1
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 run_profiled glibc "${@:2}" >"$out/stdout" 2>"$out/stderr"
	ok $? "$1: the program ran to completion"
	check "$1: nothing on stderr" test ! -s "$out/stderr"
	p=$(one_file "$out"/hp.*.exit.pb.gz)
	check "$1: exit profile written" test -n "$p"
}

# sites PROFILE KIND VALUE: how many KIND_site_NNN functions have exactly VALUE
# bytes flat (alloc_space), by heapprof's reader.
sites() {
	"$HEAPPROF_BIN" top --raw --sample-index=alloc_space "$1" |
		awk -F'\t' -v k="$2_site_" -v v="$3" 'index($3, k) == 1 && $1 == v { n++ } END { print n + 0 }'
}

# stored_names PROFILE: the function names the library wrote for the program's
# own mapping (M=1), as go tool pprof reads them without symbolizing.
stored_names() {
	"$GO" tool pprof -raw -symbolize=none "$1" 2>/dev/null |
		awk '/^Locations/ { on = 1; next } /^Mappings/ { on = 0 }
			on && $3 == "M=1" { print ($4 == "" ? "?" : $4) }'
}

# 1. As built: .symtab names the static functions too.
profile symtab "$PROG"
check "symtab: 32 exported sites of 2001 bytes each" test "$(sites "$p" exported 2001)" = 32
check "symtab: 32 static sites of 1000 bytes each" test "$(sites "$p" static 1000)" = 32
if have_go; then
	n=$(stored_names "$p" | grep -c '^static_site_')
	check "symtab: the library itself named the 32 static sites (got $n)" test "$n" = 32
else
	skip "symtab: stored names: go not installed"
fi

# 2. Stripped, with its debug info beside it: .dynsym names the exported
# functions; the static ones stay unnamed until heapprof symbolize.
STRIPPED=$WORK/prog_stripped
if objcopy --only-keep-debug "$PROG" "$WORK/prog_stripped.debug" 2>/dev/null &&
	objcopy --strip-all --add-gnu-debuglink="$WORK/prog_stripped.debug" "$PROG" "$STRIPPED"; then
	profile stripped "$STRIPPED"
	check "stripped: 32 exported sites of 2001 bytes each" test "$(sites "$p" exported 2001)" = 32
	if have_go; then
		stored_names "$p" >"$WORK/stripped.names"
		n=$(grep -c '^exported_site_' "$WORK/stripped.names")
		u=$(grep -c '^?$' "$WORK/stripped.names")
		check "stripped: the library named the 32 exported sites (got $n)" test "$n" = 32
		check "stripped: the 32 static sites are stored unnamed, not as a neighbour (got $u)" \
			test "$u" = 32
		check "stripped: no other name in the program's mapping" \
			test -z "$(grep -vE '^(exported_site_[0-9]+|main|_start|\?)$' "$WORK/stripped.names")"
	else
		skip "stripped: stored names: go not installed"
	fi
	"$HEAPPROF_BIN" symbolize "$p" -o "$WORK/sym.pb.gz" 2>"$WORK/symbolize.err"
	ok $? "stripped: heapprof symbolize wrote a profile"
	check "stripped: symbolize names the 32 static sites (1000 bytes each) from the debug file" \
		test "$(sites "$WORK/sym.pb.gz" static 1000)" = 32

	# 3. The file replaced while the program runs: names from the loaded image.
	cp "$STRIPPED" "$WORK/prog_replaced"
	profile replaced "$WORK/prog_replaced" replace-self
	check "replaced: the file is another program now" cmp -s "$WORK/prog_replaced" /bin/true
	check "replaced: 32 exported sites of 2001 bytes each (the reader ignores the new file)" \
		test "$(sites "$p" exported 2001)" = 32
	if have_go; then
		stored_names "$p" >"$WORK/replaced.names"
		n=$(grep -c '^exported_site_' "$WORK/replaced.names")
		check "replaced: the 32 exported sites named from the loaded .dynsym (got $n)" test "$n" = 32
		check "replaced: no name from the replacing file" \
			test -z "$(grep -vE '^(exported_site_[0-9]+|main|_start|\?)$' "$WORK/replaced.names")"
	else
		skip "replaced: stored names: go not installed"
	fi
else
	skip "stripped and replaced: objcopy failed (apt-get install binutils)"
fi

# 4. Two profiles: the exit profile names an address (far_site, on a page
# of its own) that the first profile's table was not read for.
if [ -x "$STRIPPED" ] && have_go; then
	for bin in "$PROG" "$STRIPPED"; do
		name=two-dumps-$(basename "$bin")
		profile "$name" "$bin" two-dumps
		first=$(one_file "$WORK/$name"/hp.*.0001.api.pb.gz)
		p=$(one_file "$WORK/$name"/hp.*.0002.exit.pb.gz)
		check "$name: the first profile names the 32 exported sites, not far_site" \
			sh -c "[ -n '$first' ] && [ \$('$GO' tool pprof -raw -symbolize=none '$first' 2>/dev/null | grep -c ' exported_site_') = 32 ]"
		stored_names "$p" >"$WORK/$name.names"
		n=$(grep -c '^exported_site_' "$WORK/$name.names")
		check "$name: the exit profile names far_site and the 32 exported sites (got $n)" \
			sh -c "[ '$n' = 32 ] && grep -qx far_site '$WORK/$name.names'"
		check "$name: far_site's 4003 bytes" \
			test "$("$HEAPPROF_BIN" top --raw --sample-index=alloc_space "$p" | awk -F'\t' '$3 == "far_site" { print $1 }')" = 4003
	done
else
	skip "two profiles: no stripped program or no go"
fi

# 5. The exit profile's instructions, the stripped program at rate 1.
if command -v valgrind >/dev/null && [ -x "$STRIPPED" ]; then
	n=$(cd "$WORK" && HEAPPROF_RATE=1 HEAPPROF_OUTPUT="$WORK/cg" LD_PRELOAD="$HEAPPROF_LIB" \
		valgrind --tool=callgrind --toggle-collect=hp_fini --callgrind-out-file=/dev/null \
		"$STRIPPED" 2>&1 | awk '/Collected :/ { print $4 }')
	check "the exit profile (hp_fini) takes ${n:-?} instructions, within $BUDGET" \
		test "${n:-0}" -gt 0 -a "${n:-0}" -le "$BUDGET"
else
	skip "instruction budget: valgrind not installed (apt-get install valgrind)"
fi

# 6. The table kept across processes (lib/symcache.c): the symtab run above
# stored prog_symbols' built table (16,384 symbols) under its build ID; a
# later run reads it and names the same; a damaged file never crashes one.
ID=$(readelf -n "$PROG" 2>/dev/null | awk '/Build ID/ { print $3 }')
CACHE=$(ls "/tmp/heapprof-$(id -u)/syms2-$ID-s"* 2>/dev/null | head -1)
if [ -n "$ID" ] && have_go; then
	check "cache: the first run left its table for later processes (${CACHE:-none})" \
		test -n "$CACHE" -a -s "$CACHE"
	stored_names "$(one_file "$WORK"/symtab/hp.*.exit.pb.gz)" | sort >"$WORK/symtab.names"
	profile cached "$PROG"
	stored_names "$p" | sort >"$WORK/cached.names"
	check "cache: a run that reads it stores the same names ($(grep -c _site_ "$WORK/cached.names") sites)" \
		cmp -s "$WORK/symtab.names" "$WORK/cached.names"
	cp "$CACHE" "$WORK/cache.bak"
	truncate -s 1000 "$CACHE"
	profile truncated "$PROG"
	stored_names "$p" | sort >"$WORK/truncated.names"
	check "cache: a truncated file is ignored, the names are the same" \
		cmp -s "$WORK/symtab.names" "$WORK/truncated.names"
	# The header intact, the entries and index noise: a lookup checks every
	# offset it follows, so names may be lost or wrong but nothing is read astray.
	{ head -c 208 "$WORK/cache.bak"
	  head -c $(($(stat -c %s "$WORK/cache.bak") - 208)) /dev/urandom; } >"$CACHE"
	profile garbage "$PROG"
	check "cache: over a damaged file the profile is whole (go tool pprof reads it)" \
		quiet "$GO" tool pprof -raw -symbolize=none "$p"
	if command -v valgrind >/dev/null; then
		cg() { # cg: the exit profile's instructions, prog_symbols at rate 1
			(cd "$WORK" && HEAPPROF_RATE=1 HEAPPROF_OUTPUT="$WORK/cg" LD_PRELOAD="$HEAPPROF_LIB" \
				valgrind --tool=callgrind --toggle-collect=hp_fini --callgrind-out-file=/dev/null \
				"$PROG" 2>&1 | awk '/Collected :/ { print $4 }')
		}
		rm -f "$CACHE"
		built=$(cg)
		read_=$(cg)
		check "cache: the exit profile takes ${read_:-?} instructions with the table read, ${built:-?} building and storing it" \
			test "${read_:-0}" -gt 0 -a "${read_:-0}" -lt "${built:-0}"
	fi
else
	skip "cache: no build ID in prog_symbols or no go"
fi
done_testing
