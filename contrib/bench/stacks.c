/* SPDX-License-Identifier: MIT */
/*
 * stacks: the dump-latency workload. Allocates one block at the end of each
 * of N distinct call stacks (17 levels of two different callers: up to
 * 131,072 stacks), then, while a second thread keeps allocating and timing
 * every allocation, sends itself the snapshot signal and waits for the file.
 * Run it with HEAPPROF_RATE=1 so that every stack is in the profile.
 * Prints the dump time, the profile size, and the longest allocation the
 * other thread saw during the dump and during the same time before it, and
 * the process's peak RSS, and the library's dumper thread's time on a CPU
 * and waiting for one (on a busy machine the dump waits for a core; its CPU
 * time does not).
 * usage: stacks [-f] [-n] N OUTPUT-PREFIX
 *   -f  one frame per choice instead of two, 20 levels: up to 1,048,576
 *       stacks 26 frames deep, the shape of issue 13's target
 *   -n  no snapshot: the same run without the dump, so that the peak RSS
 *       of the two runs shows what the dump itself costs
 */
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LEVELS      17
#define FLAT_LEVELS 20

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

/*
 * The flat shape (-f): each frame is one choice, since a return address
 * names both the function it is in (the previous choice) and the call site
 * (this one). 2^20 stacks of 26 frames come from a handful of locations:
 * the profile's bulk is its samples, which is what a dump streams. The two
 * functions are the same on purpose: a return address says which it is in.
 */
void flat_a(int depth, unsigned path);
void flat_b(int depth, unsigned path);

__attribute__((noinline)) static void flat_leaf(void)
{
	if (made < wanted)
		kept[made++] = malloc(64);
}

__attribute__((noinline)) void flat_a(int depth, unsigned path)
{
	if (depth == 0)
		flat_leaf();
	else if (path & 1)
		flat_a(depth - 1, path >> 1);
	else
		flat_b(depth - 1, path >> 1);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void flat_b(int depth, unsigned path)
{
	if (depth == 0)
		flat_leaf();
	else if (path & 1)
		flat_a(depth - 1, path >> 1);
	else
		flat_b(depth - 1, path >> 1);
	__asm__ volatile("" ::: "memory");
}

/*
 * The dumper's (the thread named "heapprof") time on a CPU and time waiting
 * for one, in ns, from its schedstat. It is started for a dump and ends after
 * it, so the caller polls, keeping the largest readings.
 */
static void dumper_sched(double *run, double *wait)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		int ours = fgets(comm, sizeof(comm), f) && !strcmp(comm, "heapprof\n");
		fclose(f);
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
		double r, w;
		if (ours && (f = fopen(path, "r"))) {
			if (fscanf(f, "%lf %lf", &r, &w) == 2 && r > *run) {
				*run = r;
				*wait = w;
			}
			fclose(f);
		}
	}
	if (d)
		closedir(d);
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
	int flat = 0, dump = 1, opt;
	while ((opt = getopt(argc, argv, "fn")) != -1) {
		if (opt == 'f')
			flat = 1;
		else if (opt == 'n')
			dump = 0;
		else
			argc = 0;
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: stacks [-f] [-n] N OUTPUT-PREFIX\n");
		return 2;
	}
	wanted = atol(argv[optind]);
	const char *prefix = argv[optind + 1];
	kept = calloc((size_t)wanted, sizeof(*kept));
	for (unsigned path = 0; !flat && made < wanted && path < (1u << LEVELS); path++)
		level(LEVELS, path);
	for (unsigned path = 0; flat && made < wanted && path < (1u << FLAT_LEVELS);
	     path++)
		flat_a(FLAT_LEVELS, path);
	pthread_t t;
	pthread_create(&t, NULL, staller, NULL);
	struct timespec pause = {0, 200 * 1000 * 1000};
	nanosleep(&pause, NULL);
	atomic_store(&phase, 1);
	double base0 = now();
	char path[4096];
	snprintf(path, sizeof(path), "%s.%d.0001.signal.pb.gz", prefix, (int)getpid());
	/* The baseline window: as long as we expect the dump to take. */
	struct timespec win = {0, 300 * 1000 * 1000};
	nanosleep(&win, NULL);
	double base = now() - base0;
	atomic_store(&phase, 2);
	double t0 = now(), cpu = 0, wait = 0;
	if (dump)
		kill(getpid(), SIGUSR2);
	else
		nanosleep(&win, NULL); /* as long as a dump, roughly */
	struct stat st = {0};
	struct timespec tick = {0, 100 * 1000};
	for (int i = 0; dump && stat(path, &st) != 0; i++) {
		if (i % 10 == 0)
			dumper_sched(&cpu, &wait);
		nanosleep(&tick, NULL);
		if (now() - t0 > 60)
			break;
	}
	double took = now() - t0;
	if (dump)
		dumper_sched(&cpu, &wait);
	atomic_store(&phase, 3);
	pthread_join(t, NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("stacks %ld dump_ms %.1f dump_cpu_ms %.1f dump_wait_ms %.1f "
	       "size_bytes %lld max_stall_us %.0f baseline_max_us %.0f "
	       "baseline_window_ms %.0f maxrss_kb %ld\n",
	       made, took * 1e3, cpu / 1e6, wait / 1e6, (long long)st.st_size,
	       max_lat[2] * 1e6, max_lat[1] * 1e6, base * 1e3, ru.ru_maxrss);
	return 0;
}
