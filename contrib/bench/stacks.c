/* SPDX-License-Identifier: MIT */
/*
 * stacks: the dump-latency workload. Allocates one block at the end of each
 * of N distinct call stacks (17 levels of two different callers: up to
 * 131,072 stacks), then, while a second thread keeps allocating and timing
 * every allocation, sends itself the snapshot signal and waits for the file.
 * Run it with HEAPPROF_RATE=1 so that every stack is in the profile.
 * Prints the dump time, the profile size, and the longest allocation the
 * other thread saw during the dump and during the same time before it.
 * usage: stacks N OUTPUT-PREFIX
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LEVELS 17

static void **kept;
static long made, wanted;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void level(int depth, unsigned path);

__attribute__((noinline)) void via_a(int depth, unsigned path)
{
	level(depth, path);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void via_b(int depth, unsigned path)
{
	level(depth, path);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void level(int depth, unsigned path)
{
	if (depth == 0) {
		if (made < wanted)
			kept[made++] = malloc(64);
		return;
	}
	if (path & 1)
		via_a(depth - 1, path >> 1);
	else
		via_b(depth - 1, path >> 1);
	__asm__ volatile("" ::: "memory");
}

static atomic_int phase; /* 0 warm-up, 1 baseline, 2 dump, 3 stop */
static double max_lat[3];

static void *staller(void *arg)
{
	(void)arg;
	int ph;
	while ((ph = atomic_load(&phase)) != 3) {
		double t0 = now();
		void *p = malloc(48);
		free(p);
		double dt = now() - t0;
		if (ph < 3 && dt > max_lat[ph])
			max_lat[ph] = dt;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: stacks N OUTPUT-PREFIX\n");
		return 2;
	}
	wanted = atol(argv[1]);
	kept = calloc((size_t)wanted, sizeof(*kept));
	for (unsigned path = 0; made < wanted && path < (1u << LEVELS); path++)
		level(LEVELS, path);
	pthread_t t;
	pthread_create(&t, NULL, staller, NULL);
	struct timespec pause = {0, 200 * 1000 * 1000};
	nanosleep(&pause, NULL);
	atomic_store(&phase, 1);
	double base0 = now();
	char path[4096];
	snprintf(path, sizeof(path), "%s.%d.0001.signal.pb.gz", argv[2], (int)getpid());
	/* The baseline window: as long as we expect the dump to take. */
	struct timespec win = {0, 300 * 1000 * 1000};
	nanosleep(&win, NULL);
	double base = now() - base0;
	atomic_store(&phase, 2);
	double t0 = now();
	kill(getpid(), SIGUSR2);
	struct stat st;
	struct timespec tick = {0, 100 * 1000};
	while (stat(path, &st) != 0) {
		nanosleep(&tick, NULL);
		if (now() - t0 > 60)
			break;
	}
	double dump = now() - t0;
	atomic_store(&phase, 3);
	pthread_join(t, NULL);
	printf("stacks %ld dump_ms %.1f size_bytes %lld max_stall_us %.0f baseline_max_us %.0f "
	       "baseline_window_ms %.0f\n",
	       made, dump * 1e3, (long long)st.st_size, max_lat[2] * 1e6, max_lat[1] * 1e6,
	       base * 1e3);
	return 0;
}
