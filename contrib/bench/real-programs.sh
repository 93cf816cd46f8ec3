#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cost real programs see: Debian's compilers, make, xmllint, sqlite3,
# python3 and a shell loop, each run plain and under the profiler with its
# exit profile on (as a user runs it). Two figures per program:
#   instructions  callgrind, every process of the command (--trace-children),
#                 profiled / plain, at the default rate and at rate 1
#   wall          PAIRS alternating plain/profiled runs; the median of the
#                 pairs' ratios (a pair shares the machine's state of the
#                 moment, so the ratio holds on a busy machine), and their
#                 quartiles: the parallel make's ratio ranged from 1.01 to
#                 1.17 over 15 pairs here (0.91 to 1.11 with an empty
#                 library preloaded), so it gets three times the pairs
# A program that is not installed is skipped with the package to install.
# Not a timed test: never part of make check.
#
# usage: real-programs.sh [--quick] [--pairs N] [--no-callgrind] [--no-rate1]
#                         [--only NAME]
# Environment: HEAPPROF_LIB (the library), SRCDIR (this project's source
# tree, for the parallel make; default: two levels above this script).
set -uo pipefail

quick=0 pairs=5 callgrind=1 rate1=1 only=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 pairs=3 ;;
	--pairs) pairs=$2; shift ;;
	--no-callgrind) callgrind=0 ;;
	--no-rate1) rate1=0 ;;
	--only) only=$2; shift ;;
	*) echo "usage: real-programs.sh [--quick] [--pairs N] [--no-callgrind] [--no-rate1] [--only NAME]" >&2
		exit 2 ;;
	esac
	shift
done
# Set per row below (the make's pairs, no callgrind for it), not by the caller.
unset PAIRS NO_CALLGRIND
: "${HEAPPROF_LIB:?set HEAPPROF_LIB to libheapprof.so}"
HERE=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$HERE/../.." && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-real.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
command -v valgrind >/dev/null || { echo "valgrind is not installed: instruction counts skipped (apt-get install valgrind)"; callgrind=0; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "-" }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# spread: the lower and upper quartiles of the numbers on stdin ("a-b"),
# the nearest ranks: how far a median of this many pairs can be trusted.
spread() { sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%s-%s", v[int((NR + 3) / 4)], v[int((3 * NR + 3) / 4)] }'; }

# The profiler's environment: exit profiles into the work directory, a new
# directory for each run, all kept to the end as a user keeps them (on ext4
# without a journal, deleting them after each run would make the next runs'
# files dearer to create: docs/performance.md).
profiled() {
	local d
	d=$(mktemp -d "$WORK/out/run.XXXXXX")
	env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$d/hp" "$@"
}

# ir COMMAND...: callgrind's instruction count summed over every process.
ir() {
	(cd "$WORK/run" && valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) |
		awk '/Collected :/ { n += $4 } END { printf "%.0f\n", n }'
}

# wall COMMAND...: seconds of one run, in the work directory.
wall() {
	local t0 t1
	t0=$(date +%s.%N)
	(cd "$WORK/run" && "$@" >/dev/null 2>&1)
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}

# measure NAME COMMAND...: one row of the table.
measure() {
	local name=$1 plain= hp hp1 p h r
	shift
	[ -n "$only" ] && [ "$only" != "$name" ] && return
	local irow="-" irow1="-"
	if [ "$callgrind" = 1 ] && [ "${NO_CALLGRIND:-0}" = 0 ]; then
		# Both through env, so that its own instructions are on both sides.
		plain=$(ir env "$@")
		# One profiled run first, with the measured run's seed and under
		# callgrind too: the symbol tables and stack rules the library keeps
		# across processes (lib/symcache.c, lib/rulecache.c) are then in
		# place, as for the processes of a build once earlier ones walked
		# the same code. Not a run outside callgrind: under it a program's
		# environment and addresses differ, it allocates a little
		# differently, and its samples walk code the other run never did.
		# The first run's cost is in docs/performance.md.
		# The same command, environment and all: a fixed seed, the same
		# samples, so the counts repeat.
		ir env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/out/cg" HEAPPROF_SEED=1 "$@" \
			>/dev/null
		hp=$(ir env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/out/cg" HEAPPROF_SEED=1 "$@")
		irow=$(ratio "$hp" "$plain")
		if [ "$rate1" = 1 ]; then
			hp1=$(ir env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/out/cg1" HEAPPROF_RATE=1 "$@")
			irow1=$(ratio "$hp1" "$plain")
		fi
	fi
	: >"$WORK/pairs"
	wall env "$@" >/dev/null # warm the page cache
	for ((r = 0; r < ${PAIRS:-$pairs}; r++)); do
		p=$(wall env "$@")
		h=$(wall profiled "$@")
		echo "$p $h" >>"$WORK/pairs"
	done
	printf '| %-22s | %12s | %8s | %8s | %8s | %8s | %13s |\n' "$name" "${plain:--}" "$irow" \
		"$irow1" "$(awk '{ print $1 }' "$WORK/pairs" | median)" \
		"$(awk '{ printf "%.4f\n", $2 / $1 }' "$WORK/pairs" | median)" \
		"$(awk '{ printf "%.3f\n", $2 / $1 }' "$WORK/pairs" | spread)"
	NO_CALLGRIND=0 PAIRS=
}

need() {
	command -v "$1" >/dev/null && return 0
	printf '| %-22s | skipped: %s is not installed (apt-get install %s) |\n' "$2" "$1" "$3"
	return 1
}

mkdir -p "$WORK/run" "$WORK/out"
# Inputs: a one-line file; a large real C file (this project's http.c,
# preprocessed: its headers make it a few thousand lines); an XML document
# of 8 MB; an SQL script; a Python workload.
echo 'int f(void) { return 1; }' >"$WORK/run/one.c"
gcc -E -P -I"$SRCDIR/lib" -I"$SRCDIR/include" -D_GNU_SOURCE -DPACKAGE_VERSION='"0"' \
	"$SRCDIR/lib/http.c" -o "$WORK/run/big.c" 2>/dev/null
python3 - "$WORK/run/doc.xml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("<?xml version='1.0'?>\n<catalog>\n")
    i = 0
    while f.tell() < 8 << 20:
        f.write(f"  <book id='b{i}' lang='en'><title>Title {i}</title>"
                f"<author>Author {i % 977}</author><price>{i % 100}.95</price>"
                f"<note>{'text ' * (i % 13)}</note></book>\n")
        i += 1
    f.write("</catalog>\n")
EOF
cat >"$WORK/run/script.sql" <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
INSERT INTO t SELECT x, 'name' || (x % 1000), x * 0.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT name, count(*), sum(v) FROM t GROUP BY name ORDER BY 3 DESC LIMIT 5;
EOF
cat >"$WORK/run/work.py" <<'EOF'
import json
d = [{"id": i, "name": "n%d" % i, "tags": list(range(i % 10))} for i in range(100000)]
s = json.dumps(d)
print(len(json.loads(s)), len(sorted(d, key=lambda x: x["name"])))
EOF

echo "real programs: instructions profiled/plain (callgrind, all processes, exit profile on), wall ratio (median of $pairs pairs)"
# Each profiled process creates a file (its exit profile): what that costs
# depends on the file system of the profiles' directory (docs/performance.md).
fs_note() {
	local fs dev journal
	read -r fs dev < <(findmnt -n -o FSTYPE,SOURCE --target "$WORK" 2>/dev/null) || return
	journal=$(cat "/sys/fs/ext4/${dev##*/}/journal_task" 2>/dev/null)
	printf 'profiles kept in %s (%s on %s%s)\n' "$WORK/out" "$fs" "$dev" \
		"$([ "$journal" = "<none>" ] && echo ', no journal: each new file scans the inodes freed in the last minute')"
}
fs_note
echo
printf '| %-22s | %12s | %8s | %8s | %8s | %8s | %13s |\n' program "plain instr" default "rate 1" \
	"plain s" "wall" "quartiles"
echo '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'
if need gcc "gcc -O2 -c (1 line)" gcc; then
	measure "gcc -O2 -c (1 line)" gcc -O2 -c one.c -o one.o
	measure "gcc -O2 -c (large)" gcc -O2 -c big.c -o big.o
fi
if need clang "clang -O2 -c (large)" clang; then
	measure "clang -O2 -c (1 line)" clang -O2 -c one.c -o one.o
	measure "clang -O2 -c (large)" clang -O2 -c big.c -o big.o
fi
need xmllint "xmllint --noout 8 MB" libxml2-utils &&
	measure "xmllint --noout 8 MB" xmllint --noout doc.xml
need sqlite3 "sqlite3 200k rows" sqlite3 &&
	measure "sqlite3 200k rows" sh -c 'sqlite3 :memory: < script.sql'
# One hash seed: with Python's random one, each run allocates differently
# and the plain count alone moved by 0.3% between runs.
need /usr/bin/python3 "python3 json" python3 &&
	measure "python3 json" PYTHONHASHSEED=0 /usr/bin/python3 work.py
measure "sh: 200 x /bin/true" sh -c 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i + 1)); done'
# bash forks for each subshell (a script's $(...), a pipeline's builtins)
# and each child writes its own exit profile: the shape of libtool.
measure "bash: 200 subshells" bash -c 'for i in $(seq 200); do ( : ); done'
# The parallel make of this project's library and command: wall only
# (callgrind would take an hour).
if [ -f "$SRCDIR/configure" ]; then
	mkdir -p "$WORK/run/proj"
	(cd "$WORK/run/proj" && "$SRCDIR/configure" >/dev/null 2>&1) &&
		NO_CALLGRIND=1 PAIRS=$((3 * pairs)) measure "make -j2 (this project)" \
			sh -c 'cd proj && make -s clean >/dev/null && make -s -j2 >/dev/null 2>&1'
else
	echo "| make -j2 (this project) | skipped: run autoreconf -fi in $SRCDIR first |"
fi
