/* SPDX-License-Identifier: MIT */
/*
 * prog_unwind: allocations from frames of every shape a stack walker meets,
 * the same on every run, so that two runs profiled with different walkers
 * must show the same stacks (unwind.sh):
 *   with_alloca     a frame of variable size (its CFA is RBP-based)
 *   with_fp         a function built with the frame pointer
 *   recurse         40 frames deep
 *   on_signal       inside a signal handler, on the thread's stack
 *   on_altstack     inside a signal handler on an alternate signal stack
 *   in_thread       from four threads
 *   lib_alloc       in libhpdl, loaded, unloaded and loaded again
 * usage: prog_unwind PATH-OF-libhpdl.so
 */
#include <alloca.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 100

static void *sink[N];

static __attribute__((noinline)) void leaf(int i, size_t n)
{
	sink[i % N] = malloc(n);
}

static __attribute__((noinline)) void with_alloca(size_t pad)
{
	volatile char *scratch = alloca(pad);
	scratch[0] = 1;
	for (int i = 0; i < N; i++)
		leaf(i, 100);
	scratch[pad - 1] = 2;
}

static __attribute__((noinline, optimize("no-omit-frame-pointer"))) void with_fp(void)
{
	for (int i = 0; i < N; i++)
		leaf(i, 200);
}

static __attribute__((noinline)) int recurse(int depth)
{
	if (!depth) {
		leaf(0, 300);
		return 0;
	}
	return recurse(depth - 1) + 1;
}

static void handler(int sig)
{
	(void)sig;
	leaf(0, 400); /* not async-signal-safe in general: safe here, nothing else runs */
}

static __attribute__((noinline)) void on_signal(void)
{
	signal(SIGUSR1, handler);
	for (int i = 0; i < N; i++)
		raise(SIGUSR1);
}

static __attribute__((noinline)) void on_altstack(void)
{
	stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
	sigaltstack(&ss, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < N; i++)
		raise(SIGUSR1);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
}

static void *in_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < N; i++)
		leaf(i, 500);
	return NULL;
}

static void with_library(const char *path)
{
	for (int round = 0; round < 3; round++) {
		void *h = dlopen(path, RTLD_NOW);
		if (!h) {
			fprintf(stderr, "prog_unwind: %s\n", dlerror());
			exit(1);
		}
		void (*alloc)(void) = (void (*)(void))dlsym(h, "lib_alloc");
		void (*release)(void) = (void (*)(void))dlsym(h, "lib_free_all");
		alloc();
		release();
		dlclose(h);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: prog_unwind PATH-OF-libhpdl.so\n");
		return 2;
	}
	/*
	 * The signal frames first: the fast walker loads libunwind for them
	 * (the call frame information leaves them to it), where HEAPPROF_UNWIND=
	 * libunwind loads it at the first capture; the loader's own allocations
	 * in the dlopens below differ with what is loaded already. Again at the
	 * end, so that their rules are in the table at exit.
	 */
	on_signal();
	on_altstack();
	with_library(argv[1]); /* unloading drops every rule learnt so far */
	for (size_t pad = 16; pad <= 4096; pad *= 4)
		with_alloca(pad);
	with_fp();
	for (int i = 0; i < N; i++)
		recurse(40);
	on_signal();
	on_altstack();
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, in_thread, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	puts("done");
	return 0;
}
