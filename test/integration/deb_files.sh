# SPDX-License-Identifier: MIT
# The Debian packaging (contrib/debian, make deb) against what make install
# installs: every installed file belongs to exactly one package's .install
# list (dh_missing would fail make deb otherwise), every line of the lists
# matches something, and the pkg-config file's preload variable names the
# installed library. Building the packages takes minutes on a shared
# machine, so the suite checks their inputs; make deb checks the rest.
. "$(dirname "$0")/lib.sh"

top=$(cd "$TEST_BUILDDIR/../.." && pwd)
deb=$TEST_SRCDIR/contrib/debian
root=$WORK/root
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" install DESTDIR="$root" \
	>"$WORK/install.log" 2>&1
check "make install DESTDIR=..." test $? = 0 || diag "$(tail -5 "$WORK/install.log")"
# The configured paths (prefix /usr/local by default) as the packages have
# them: prefix /usr, libdir /usr/lib/TRIPLET (the lists' usr/lib/*).
pc=$(find "$root" -name libheapprof.pc | head -n 1)
pcvar() { PKG_CONFIG_PATH=${pc%/*} pkg-config --variable="$1" libheapprof; }
prefix=$(pcvar prefix) libdir=$(pcvar libdir)
(cd "$root" && find . -type f -o -type l | sed 's|^\.||' | sort) |
	sed -e "s|^$libdir/|/usr/lib/TRIPLET/|" -e "s|^$prefix/|/usr/|" -e 's|^/||' >"$WORK/installed"
check "something was installed ($(grep -c . "$WORK/installed") files)" test -s "$WORK/installed"
diag "prefix $prefix, libdir $libdir"
# The license is removed by debian/rules (it is in the copyright file).
grep -vx 'usr/share/doc/libheapprof/LICENSE' "$WORK/installed" >"$WORK/wanted"
owners() { # owners FILE: the .install lists with a line that matches it
	local list pat
	for list in libheapprof heapprof; do
		while read -r pat; do
			# shellcheck disable=SC2053 # the line is a glob
			case $1 in $pat | $pat/*) echo "$list" ;; esac
		done <"$deb/$list.install"
	done | sort -u
}
bad=0
while read -r f; do
	o=$(owners "$f")
	if [ "$(echo "$o" | grep -c .)" != 1 ]; then
		diag "$f: in ${o:-no package}"
		bad=$((bad + 1))
	fi
done <"$WORK/wanted"
check "every installed file is in exactly one package ($bad not)" test "$bad" = 0
unused=0
for list in libheapprof heapprof; do
	while read -r pat; do
		# shellcheck disable=SC2053 # the line is a glob
		grep -q . < <(while read -r f; do case $f in $pat | $pat/*) echo "$f" ;; esac; done <"$WORK/wanted") ||
			{ diag "$list.install: $pat matches nothing"; unused=$((unused + 1)); }
	done <"$deb/$list.install"
done
check "every line of the .install lists matches an installed file ($unused do not)" test "$unused" = 0

pre=$(pcvar preload)
check "pkg-config --variable=preload: $pre = $libdir/libheapprof.so" test "$pre" = "$libdir/libheapprof.so"
check "the library is there, with its name as its SONAME" \
	sh -c "objdump -p '$root$pre' | grep -q 'SONAME *libheapprof.so\$'"
check "the library goes into libheapprof" \
	test "$(owners "usr/lib/TRIPLET/libheapprof.so")" = libheapprof
done_testing
