/* SPDX-License-Identifier: MIT */
/*
 * test_stack_load: libunwind is loaded by the first capture that needs it,
 * which may come while another thread is inside dl_iterate_phdr's callback
 * (a program's callback that allocates) and so holds the loader's lock that
 * the loading thread's dlopen needs. That thread's own capture must not wait
 * for the load (both hung), and the load must then complete.
 */
#include "../../lib/stack.h"
#include "tap.h"

#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

static atomic_int loading;
static double waited = -1; /* seconds the capture in the callback spent */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *loader(void *arg)
{
	atomic_store(&loading, 1);
	hp_stack_load_libunwind(); /* its dlopen waits for the callback to end */
	return arg;
}

static int in_callback(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info;
	(void)size;
	pthread_t *t = arg;
	if (pthread_create(t, NULL, loader, NULL))
		return 1;
	while (!atomic_load(&loading))
		sched_yield();
	usleep(300000); /* the loader is in dlopen by now, waiting for our lock */
	double t0 = now();
	hp_stack_load_libunwind(); /* as a capture in this callback does */
	waited = now() - t0;
	return 1;
}

int main(void)
{
	alarm(20); /* a hang fails the test rather than the suite */
	pthread_t t;
	dl_iterate_phdr(in_callback, &t);
	ok(waited >= 0 && waited < 1,
	   "a thread holding the loader's lock does not wait for another's load "
	   "(%.3f s)",
	   waited);
	pthread_join(t, NULL);
	hp_stack_load_libunwind();
	ok(atomic_load_explicit(&hp_stack_backtrace, memory_order_acquire) != NULL,
	   "the other thread's load then completes: libunwind is loaded");
	return tap_done();
}
