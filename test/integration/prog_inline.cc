// SPDX-License-Identifier: MIT
// prog_inline: allocations at known source lines, through a namespace, a
// template and an always-inlined helper, for symbolize.sh. Built with -O2 -g:
// the helper exists only inlined, so only DWARF can name it. The lines the
// driver checks carry a "line:" marker; it greps for them. Nothing is freed.
#include <cstdlib>
#include <cstring>

namespace shapes {

static void keep(void *p)
{
	// The compiler must not drop the allocation nor make it a tail call.
	asm volatile("" : : "r"(p) : "memory");
}

template <typename T> struct Pool {
	__attribute__((noinline)) static T *grow(size_t n)
	{
		T *p = static_cast<T *>(malloc(n * sizeof(T))); // line:pool
		keep(p);
		return p;
	}
};

__attribute__((always_inline)) inline char *helper(size_t n)
{
	char *p = static_cast<char *>(malloc(n)); // line:helper
	keep(p);
	return p;
}

__attribute__((noinline)) char *outer(size_t n)
{
	char *p = helper(n); // line:outer
	keep(p);
	return p;
}

} // namespace shapes

int main()
{
	for (int i = 0; i < 3; i++)
		shapes::Pool<int>::grow(25); // 3 x 100 bytes
	for (int i = 0; i < 2; i++)
		shapes::outer(200); // 2 x 200 bytes
	// libc's strdup calls malloc inside libc: a frame only debug info names.
	shapes::keep(strdup("a string of forty bytes, with the NUL.."));
	return 0;
}
