# SPDX-License-Identifier: MIT
# A C++ runtime outside the global scope (backing.c): a C program loads a
# C++ plugin with RTLD_LOCAL (prog_plugin, libhpplugin.cc), as ar, ranlib
# and nm load binutils' LTO plugins. The plugin's operator new and delete
# bind to the profiler's, while RTLD_NEXT cannot see the plugin's
# libstdc++: every call looked for it again, a failed dlsym each (ranlib
# with LLVM's plugin ran 12 times the instructions). Counted exactly at rate
# 1; a few instructions per call at the default rate (callgrind).
. "$(dirname "$0")/lib.sh"

PROG=$TEST_BUILDDIR/prog_plugin
PLUGIN=$TEST_BUILDDIR/.libs/libhpplugin.so
N=5000

"$PROG" "$PLUGIN" $N >"$WORK/plain.out" 2>&1
env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 HEAPPROF_OUTPUT="$WORK/r1" \
	"$PROG" "$PLUGIN" $N >"$WORK/r1.out" 2>"$WORK/r1.err"
ok $? "the plugin ran under the profiler at rate 1 ($(head -c 80 "$WORK/r1.out"))"
check "its output is the plain run's" cmp -s "$WORK/plain.out" "$WORK/r1.out"
check "nothing on stderr" test ! -s "$WORK/r1.err"
p=$(one_file "$WORK"/r1.*.exit.pb.gz)
check "exit profile written ($p)" test -n "$p"
for pair in alloc_objects:$((2 * N)) alloc_space:$((N * 1004)) \
	inuse_objects:$N inuse_space:$((N * 1000)); do
	t=${pair%%:*} want=${pair#*:}
	got=$(hp_flat "$p" "$t" plugin_run)
	check "plugin_run $t = $want (got $got)" test "$got" = "$want"
done

# A plugin that links its runtime in (-static-libstdc++): no runtime to
# find, its operators are a malloc, so the blocks count as malloc's would.
# (Built here: libtool links a C++ module with -nostdlib and its own
# -lstdc++, whatever -static-libstdc++ says.)
STATIC=$WORK/libhpplugin_static.so
if ${CXX:-c++} -shared -fPIC -O2 -fno-allocation-dce -static-libstdc++ -o "$STATIC" \
	"$TEST_SRCDIR/test/integration/libhpplugin.cc" 2>/dev/null &&
	! ldd "$STATIC" | grep -q 'libstdc++'; then
	env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_RATE=1 HEAPPROF_OUTPUT="$WORK/st" \
		"$PROG" "$STATIC" $N >"$WORK/st.out" 2>"$WORK/st.err"
	ok $? "the plugin with its runtime linked in ran at rate 1 ($(head -c 80 "$WORK/st.out"))"
	check "its output is the plain run's" cmp -s "$WORK/plain.out" "$WORK/st.out"
	p=$(one_file "$WORK"/st.*.exit.pb.gz)
	for pair in alloc_objects:$((2 * N)) inuse_objects:$N inuse_space:$((N * 1000)); do
		t=${pair%%:*} want=${pair#*:}
		got=$(hp_flat "$p" "$t" plugin_run)
		check "runtime linked in: plugin_run $t = $want (got $got)" test "$got" = "$want"
	done
else
	skip "a plugin with its C++ runtime linked in: ${CXX:-c++} -static-libstdc++ failed"
fi

if command -v valgrind >/dev/null; then
	# ir COMMAND...: instructions of the command and what it executes.
	ir() {
		valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=/dev/null \
			"$@" 2>&1 >/dev/null | awk '/Collected :/ { n += $4 } END { print n + 0 }'
	}
	plain=$(ir env "$PROG" "$PLUGIN" $N)
	prof=$(ir env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/d" "$PROG" "$PLUGIN" $N)
	extra=$((prof - plain))
	# 2N operator new and N delete; before, each new cost about 38,000
	# instructions (760 M here).
	check "at the default rate the profiler adds $extra instructions to $plain (budget 5 M)" \
		test -n "$plain" -a -n "$prof" -a "$extra" -lt 5000000
	if [ -f "$STATIC" ]; then
		# No runtime to find: a look after every 4,096 calls, not at each
		# (a dl_iterate_phdr, about 300 instructions: 5 M here).
		plain=$(ir env "$PROG" "$STATIC" $N)
		prof=$(ir env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/d" "$PROG" "$STATIC" $N)
		extra=$((prof - plain))
		check "runtime linked in: the profiler adds $extra instructions to $plain (budget 2 M)" \
			test -n "$plain" -a -n "$prof" -a "$extra" -lt 2000000
	fi
else
	skip "instruction budget: valgrind not installed"
fi

# The real case, where LLVM's LTO plugin is installed (llvm-14-linker-tools,
# with clang): ranlib loads it, with its libstdc++, for every archive.
gold=$(ls /usr/lib/bfd-plugins/LLVMgold*.so 2>/dev/null | head -n1)
if [ -n "$gold" ] && command -v ranlib >/dev/null && command -v valgrind >/dev/null; then
	cp /usr/lib/x86_64-linux-gnu/libc_nonshared.a "$WORK/plain.a" 2>/dev/null ||
		ar rc "$WORK/plain.a" "$PLUGIN"
	cp "$WORK/plain.a" "$WORK/prof.a"
	plain=$(ir env ranlib "$WORK/plain.a")
	prof=$(ir env LD_PRELOAD="$HEAPPROF_LIB" HEAPPROF_OUTPUT="$WORK/rl" ranlib "$WORK/prof.a")
	check "ranlib with $(basename "$gold") loaded: the same archive" \
		cmp -s "$WORK/plain.a" "$WORK/prof.a"
	check "ranlib: $prof instructions profiled, $plain plain (at most 1.25 times)" \
		test -n "$plain" -a -n "$prof" -a "$((prof * 100))" -le "$((plain * 125))"
else
	skip "ranlib with LLVM's LTO plugin: no /usr/lib/bfd-plugins/LLVMgold*.so (llvm-14-linker-tools)"
fi
done_testing
