/* SPDX-License-Identifier: MIT */
/*
 * libhpplugin: a C++ plugin for prog_plugin, which loads it with
 * RTLD_LOCAL: the libstdc++ it brings is outside the global scope, where
 * RTLD_NEXT cannot find it, while its calls to operator new and delete bind
 * to the profiler's (binutils' LTO plugins, loaded by ar, ranlib and nm).
 */
#include <cstddef>

static char *kept[100000];

extern "C" __attribute__((visibility("default"))) size_t plugin_run(int n)
{
	size_t bytes = 0;
	for (int i = 0; i < n && i < 100000; i++) {
		kept[i] = new char[1000];
		kept[i][0] = static_cast<char>(i);
		bytes += 1000;
		delete new int(i); /* a new and a delete more, nothing kept */
	}
	return bytes;
}
