/* SPDX-License-Identifier: MIT */
/*
 * prog_http: a known memory story for the endpoint's tests. First
 * alloc_before keeps 100 blocks of 10000 bytes (1000000 bytes in use, for
 * good); then, every 10 ms, alloc_steady allocates 4096 bytes and frees them,
 * until SECONDS have passed or STOPFILE exists. Prints one line and exits 7,
 * so the tests can check that output and status are the program's own.
 * With a third argument "closeall", it closes every descriptor above 2 after
 * alloc_before (the endpoint's too), makes a pipe at the lowest numbers and
 * checks at the end that what it wrote there is still there. With "fork", a
 * child forked after alloc_before keeps 200000 more bytes (alloc_child) and
 * runs the same loop; the parent waits for it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static void *kept[100];

void alloc_before(void)
{
	for (int i = 0; i < 100; i++) {
		kept[i] = malloc(10000);
		memset(kept[i], 1, 10000);
	}
}

static void *child_kept;

void alloc_child(void)
{
	child_kept = malloc(200000);
	memset(child_kept, 2, 200000);
}

void alloc_steady(void)
{
	char *volatile p = malloc(4096);
	p[0] = 1;
	free(p);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	const char *stop = argc > 2 ? argv[2] : NULL;
	alloc_before();
	int p[2] = {-1, -1};
	if (argc > 3 && !strcmp(argv[3], "closeall")) {
		close_range(3, ~0U, 0);
		if (pipe(p) < 0 || write(p[1], "mine", 4) != 4)
			return 1;
	}
	pid_t child = -1;
	if (argc > 3 && !strcmp(argv[3], "fork") && (child = fork()) == 0)
		alloc_child();
	double end = now() + seconds;
	while (now() < end && !(stop && access(stop, F_OK) == 0)) {
		alloc_steady();
		usleep(10000);
	}
	if (child == 0)
		return 0;
	if (child > 0)
		waitpid(child, NULL, 0);
	char buf[8] = "";
	if (p[0] >= 0 && (read(p[0], buf, sizeof(buf)) != 4 || memcmp(buf, "mine", 4)))
		printf("prog_http: the pipe lost its bytes\n");
	printf("prog_http: done\n");
	return 7;
}
