/* SPDX-License-Identifier: MIT */
/*
 * prog_deep: allocates at the bottom of a 60-deep recursion, then, if given a
 * signal name, raises it and waits for the snapshot file before exiting; with
 * "wait", waits to be killed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void *kept[100];

__attribute__((noinline)) void deep_alloc(int depth)
{
	if (depth > 0) {
		deep_alloc(depth - 1);
		__asm__ volatile("" ::: "memory"); /* not a tail call */
		return;
	}
	for (int i = 0; i < 100; i++)
		kept[i] = malloc(1000);
}

int main(int argc, char **argv)
{
	deep_alloc(60);
	if (argc < 2)
		return 0;
	if (!strcmp(argv[1], "wait")) { /* for heapprof snapshot: wait to be killed */
		printf("waiting\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	int sig = !strcmp(argv[1], "USR1") ? SIGUSR1 : SIGUSR2;
	const char *prefix = getenv("HEAPPROF_OUTPUT");
	char path[4096];
	snprintf(path, sizeof(path), "%s.%d.0001.signal.pb.gz", prefix, (int)getpid());
	raise(sig);
	for (int i = 0; i < 500; i++) {
		struct stat st;
		if (stat(path, &st) == 0) {
			printf("snapshot written\n");
			return 0;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	printf("no snapshot\n");
	return 1;
}
