# SPDX-License-Identifier: MIT
# A Rust program (prog_rust.rs, rustc -O -C debuginfo=2 on the system
# allocator and rustc's default linker) at HEAPPROF_RATE=1, built twice: with
# rustc's default symbol mangling (legacy, or v0 where rustc's default is v0)
# and with v0. heapprof top, top --lines, web and go tool pprof -symbolize=none
# on the symbolized file give exact bytes under demangled names (no hash
# suffix, the mangled name kept as the system name), and each frame's
# innermost file:line is eu-addr2line's for the same address.
. "$(dirname "$0")/lib.sh"

RUSTC=${RUSTC:-$(command -v rustc)}
[ -n "$RUSTC" ] || skip_all "rustc not found (Debian package rustc)"
SRC=$(cd "$(dirname "$0")" && pwd)/prog_rust.rs
unset DEBUGINFOD_URLS
HP=$HEAPPROF_BIN

line_of() { grep -n "line:$1\$" "$SRC" | cut -d: -f1; }

# The exact cum of FUNC for a sample type (heapprof top --raw), 0 if absent.
hp_cum() { # hp_cum PROFILE TYPE FUNC [--lines]
	"$HP" top --raw ${4:-} --sample-index="$2" "$1" |
		awk -F'\t' -v f="$3" '$3 == f { print $2; found = 1 } END { if (!found) print 0 }'
}

# The same from go tool pprof -top (cum is the fourth column).
pprof_cum() { # pprof_cum PROFILE TYPE FUNC
	"$GO" tool pprof -symbolize=none -top -nodefraction=0 -nodecount=100000 -unit=B \
		-sample_index="$2" "$1" 2>/dev/null |
		awk -v f="$3" '/^ *-?[0-9.]+B? +-?[0-9.]+% / {
			name = $6; for (i = 7; i <= NF; i++) name = name " " $i
			if (name == f) { v = $4; sub(/B$/, "", v); print v; found = 1 } }
			END { if (!found) print 0 }'
}

# Frames of the program's own mapping whose innermost file:line differs from
# eu-addr2line's for the same address: "compared mismatches".
compare_addr2line() { # compare_addr2line RAW BINARY (RAW: go tool pprof -raw's output)
	python3 - "$1" "$2" <<'PY'
import re, subprocess, sys
raw, binary = sys.argv[1], sys.argv[2]
text = open(raw).read()
m = re.search(r'^1: 0x([0-9a-f]+)/0x[0-9a-f]+/0x([0-9a-f]+) ', text, re.M)
start, off = int(m.group(1), 16), int(m.group(2), 16)
loads = []
for l in subprocess.run(['readelf', '-lW', binary], capture_output=True, text=True).stdout.splitlines():
    f = l.split()
    if f and f[0] == 'LOAD':
        loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
ours = {}
for l in re.finditer(r'^ +\d+: 0x([0-9a-f]+) M=1 (.*)$', text.split('Mappings')[0], re.M):
    fileline = re.search(r' (\S+):(\d+) s=\d+', l.group(2))
    if fileline:
        ours[int(l.group(1), 16)] = (fileline.group(1), fileline.group(2))
addrs = []
for a in ours:
    o = a - start + off
    for po, pv, fs in loads:
        if po <= o < po + fs:
            addrs.append((a, o - po + pv))
out = subprocess.run(['eu-addr2line', '-e', binary] + ['0x%x' % v for _, v in addrs],
                     capture_output=True, text=True).stdout.splitlines()
n = bad = 0
for (a, _), got in zip(addrs, out):
    f, _, ln = got.rpartition(':')
    if ln.isdigit() and ':' in f:  # file:line:column
        f, _, ln2 = f.rpartition(':')
        ln = ln2
    if f == '??' or ln == '0':
        continue
    n += 1
    if (f, ln) != ours[a]:
        bad += 1
        print('# 0x%x: heapprof %s:%s, eu-addr2line %s:%s' % (a, ours[a][0], ours[a][1], f, ln), file=sys.stderr)
print(n, bad)
PY
}

check_binary() { # check_binary LABEL BINARY MANGLED-PREFIX FILL-NAME
	local label=$1 bin=$2 prefix=$3 fill=$4 out=$WORK/$1
	mkdir -p "$out"
	HEAPPROF_OUTPUT=$out/hp HEAPPROF_RATE=1 run_profiled glibc "$bin" >"$out/stdout" 2>"$out/stderr"
	ok $? "$label: the program ran to completion"
	check "$label: nothing on stderr" test ! -s "$out/stderr"
	local p
	p=$(one_file "$out"/hp.*.0001.exit.pb.gz)
	check "$label: exit profile written" test -n "$p"
	[ -n "$p" ] || return
	local t f want got
	while read -r t f want; do
		got=$(hp_cum "$p" "$t" "$f")
		check "$label: heapprof top: $f $t cum $want (got $got)" test "$got" = "$want"
	done <<-EOF2
		inuse_space prog_rust::keep_buffers 7168
		inuse_objects prog_rust::keep_buffers 8
		inuse_space $fill 192
		inuse_objects $fill 3
		inuse_space prog_rust::main 7384
		inuse_space prog_rust::churn 0
		alloc_space prog_rust::churn 1000
		alloc_objects prog_rust::churn 5
	EOF2
	local mangled
	mangled=$("$HP" top --raw --sample-index=alloc_space "$p" | cut -f3 | grep -cE '^_(ZN|R[A-Z])')
	check "$label: no mangled name left in heapprof top ($mangled)" test "$mangled" = 0
	while read -r f l want; do
		got=$(hp_cum "$p" alloc_space "$f $SRC:$(line_of "$l")" --lines)
		check "$label: top --lines: $f at line:$l, cum $want (got $got)" test "$got" = "$want"
	done <<-EOF2
		prog_rust::keep_buffers outer 168
		prog_rust::keep_buffers buffer 7000
		prog_rust::churn churn 1000
		$fill box 192
	EOF2
	"$HP" web "$p" -o "$out/report.html"
	ok $? "$label: heapprof web wrote the report"
	check "$label: the report names prog_rust::keep_buffers" \
		grep -qF "\"prog_rust::keep_buffers\"" "$out/report.html"
	check "$label: no mangled name in the report" \
		bash -c "! grep -qE '\"_(ZN|R[A-Z])[0-9A-Za-z_]*\"' '$out/report.html'"
	local sym=$out/sym.pb.gz
	"$HP" symbolize "$p" -o "$sym"
	ok $? "$label: heapprof symbolize"
	if ! have_go; then
		skip "$label: go tool pprof checks: go not installed"
		return
	fi
	while read -r t f want; do
		got=$(pprof_cum "$sym" "$t" "$f")
		check "$label: go tool pprof -symbolize=none: $f $t cum $want (got $got)" test "$got" = "$want"
	done <<-EOF2
		inuse_space prog_rust::keep_buffers 7168
		inuse_space $fill 192
		alloc_space prog_rust::churn 1000
	EOF2
	"$GO" tool pprof -raw -symbolize=none "$sym" >"$out/raw" 2>/dev/null
	check "$label: pprof -raw: the name demangled, the system name mangled ($prefix...)" \
		grep -qE "prog_rust::keep_buffers .*s=[0-9]+\\($prefix" "$out/raw"
	if ! command -v eu-addr2line >/dev/null; then
		skip "$label: comparison with eu-addr2line: elfutils not installed"
		return
	fi
	local n bad
	read -r n bad < <(compare_addr2line "$out/raw" "$bin" 2>"$out/addr2line.diff")
	cat "$out/addr2line.diff"
	check "$label: every file:line eu-addr2line resolves is heapprof's ($bad of $n differ)" \
		test "${n:-0}" -gt 10 -a "${bad:-1}" = 0
}

"$RUSTC" -O -C debuginfo=2 -o "$WORK/prog_rust" "$SRC" 2>"$WORK/rustc.err"
ok $? "rustc -O -C debuginfo=2 prog_rust.rs ($("$RUSTC" --version))"
"$RUSTC" -O -C debuginfo=2 -C symbol-mangling-version=v0 -o "$WORK/prog_rust_v0" "$SRC" \
	2>"$WORK/rustc-v0.err"
ok $? "rustc -C symbol-mangling-version=v0"
# The default mangling names a method Type::method (legacy); v0 <Type>::method.
if nm "$WORK/prog_rust" | grep -q ' _ZN9prog_rust12keep_buffers'; then
	check_binary legacy "$WORK/prog_rust" '_ZN9prog_rust12keep_buffers17h' prog_rust::Table::fill
else
	check_binary default "$WORK/prog_rust" '_RNvCs' '<prog_rust::Table>::fill'
fi
[ -x "$WORK/prog_rust_v0" ] && check_binary v0 "$WORK/prog_rust_v0" '_RNvCs' '<prog_rust::Table>::fill'
done_testing
