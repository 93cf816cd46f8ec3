#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Quick start on Debian: installs the build dependencies that are missing,
# builds libheapprof in ./build, and profiles a small leaking demo program:
# a SIGUSR2 snapshot halfway, the exit profile, and what grew in between.
set -euo pipefail
cd "$(dirname "$0")/../.."

pkgs="build-essential autoconf automake libtool pkg-config libunwind-dev libprotobuf-c-dev
protobuf-c-compiler zlib1g-dev libjemalloc-dev golang-go libdw-dev libiberty-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "demo: installing:$missing"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q
make -s -j"$(nproc)" >/dev/null

out=$(mktemp -d)
echo "demo: LD_PRELOAD=build/lib/.libs/libheapprof.so contrib/demo/heapprof-demo (profiles in $out)"
HEAPPROF_OUTPUT=$out/demo LD_PRELOAD=$PWD/lib/.libs/libheapprof.so ./contrib/demo/heapprof-demo 20000 --pause &
pid=$!
sleep 1
kill -USR2 "$pid"
wait "$pid"
snap=$(ls "$out"/demo.*.signal.pb.gz)
final=$(ls "$out"/demo.*.exit.pb.gz)
echo
echo "== heapprof top $final (in use at exit)"
./contrib/heapprof/heapprof top -n 8 "$final"
echo
echo "== heapprof diff $snap $final (what grew after the snapshot)"
./contrib/heapprof/heapprof diff -n 5 "$snap" "$final"
if command -v go >/dev/null; then
	echo
	echo "== go tool pprof -top -sample_index=alloc_space $final"
	go tool pprof -top -nodecount=8 -sample_index=alloc_space "$final" 2>/dev/null | tail -n +10
fi
