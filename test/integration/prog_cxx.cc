// SPDX-License-Identifier: MIT
// prog_cxx: known allocations through every kind of C++ operator new, kept
// live, plus a churn of new/delete; prints "expect FUNC objects bytes live".
#include <cstdio>
#include <cstring>
#include <new>

struct Node {
	char data[48];
};
struct alignas(64) Aligned {
	char data[64];
};

static Node *nodes[10000];
static int *arrays[1000];
static Aligned *aligned[100];
static char *nothrow_blocks[100];

__attribute__((noinline)) void cxx_keep_nodes()
{
	for (auto &n : nodes)
		n = new Node();
}

__attribute__((noinline)) void cxx_keep_arrays()
{
	for (auto &a : arrays)
		a = new int[100]();
}

__attribute__((noinline)) void cxx_keep_aligned()
{
	for (auto &a : aligned)
		a = new Aligned();
}

__attribute__((noinline)) void cxx_keep_nothrow()
{
	for (auto &b : nothrow_blocks) {
		b = new (std::nothrow) char[1000];
		b[0] = 1;
	}
}

__attribute__((noinline)) void cxx_churn()
{
	for (int i = 0; i < 100000; i++) {
		Node *n = new Node();
		n->data[0] = (char)i;
		delete n; // sized delete
	}
}

int main()
{
	cxx_keep_nodes();
	cxx_keep_arrays();
	cxx_keep_aligned();
	cxx_keep_nothrow();
	cxx_churn();
	std::printf("expect cxx_keep_nodes 10000 480000 1\n");
	std::printf("expect cxx_keep_arrays 1000 400000 1\n");
	std::printf("expect cxx_keep_aligned 100 6400 1\n");
	std::printf("expect cxx_keep_nothrow 100 100000 1\n");
	std::printf("expect cxx_churn 100000 4800000 0\n");
	// Free half of the nodes through plain and sized delete to exercise both.
	for (int i = 0; i < 5000; i++)
		delete nodes[i];
	std::printf("freed cxx_keep_nodes 5000 240000\n");
	return 0;
}
