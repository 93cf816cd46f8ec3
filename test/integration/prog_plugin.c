/* SPDX-License-Identifier: MIT */
/*
 * prog_plugin PLUGIN N: a C program that loads a C++ plugin with
 * RTLD_LOCAL and runs its plugin_run(N) (libhpplugin.cc).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: prog_plugin PLUGIN N\n");
		return 2;
	}
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	size_t (*run)(int) = h ? (size_t(*)(int))dlsym(h, "plugin_run") : NULL;
	if (!run) {
		fprintf(stderr, "prog_plugin: %s\n", dlerror());
		return 1;
	}
	printf("plugin_run %zu bytes\n", run(atoi(argv[2])));
	return 0;
}
