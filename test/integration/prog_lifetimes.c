/* SPDX-License-Identifier: MIT */
/*
 * Three sites of known lifetimes, for lifetimes.sh:
 *   churn_site      A blocks of SA bytes, each freed at once by its thread;
 *   held_site       B blocks of SB bytes, handed to another thread that
 *                   sleeps 20 ms and frees them all in release_held;
 *   kept_site       C blocks of SC bytes, never freed.
 * usage: prog_lifetimes files SCALE   (counts and sizes x SCALE, see main)
 *        prog_lifetimes http DIR      (the window test: waits for DIR/go,
 *                                      then DIR/stop; touches DIR/ready,
 *                                      DIR/done)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t A = 1000, SA = 100, B = 50, SB = 200, C = 30, SC = 300;

static void *volatile sink;
static void **held, **kept;

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts))
		;
}

__attribute__((noinline)) void churn_site(size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		void *p = malloc(size);
		sink = p;
		free(p);
	}
}

__attribute__((noinline)) void held_site(size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++)
		held[i] = malloc(size);
}

__attribute__((noinline)) void release_held(size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(held[i]);
}

static void *releaser(void *arg)
{
	nap_ms(20);
	release_held((size_t)arg);
	return NULL;
}

__attribute__((noinline)) void kept_site(size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++)
		kept[i] = malloc(size);
}

/* Only in the http mode: allocated before the window, kept. */
__attribute__((noinline)) void before_window(size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++)
		kept[i] = malloc(size);
}

static void three_sites(void)
{
	churn_site(A, SA);
	held_site(B, SB);
	pthread_t t;
	if (pthread_create(&t, NULL, releaser, (void *)B) || pthread_join(t, NULL))
		exit(1);
	kept_site(C, SC);
}

static void touch(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f)
		fclose(f);
}

static void wait_for(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (int i = 0; i < 6000 && access(path, F_OK); i++)
		nap_ms(10);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "files")) {
		size_t scale = strtoul(argv[2], NULL, 10);
		if (scale > 1) /* the default rate: enough bytes for estimates */
			A *= 100 * scale, SA = 8192, B *= 80, SB = 65536, C = 100,
			    SC = 1 << 20;
	} else if (!(argc == 3 && !strcmp(argv[1], "http"))) {
		fprintf(stderr, "usage: prog_lifetimes files SCALE | http DIR\n");
		return 2;
	}
	held = calloc(B, sizeof(*held));
	kept = calloc(C + 40, sizeof(*kept));
	if (!held || !kept)
		return 1;
	if (argv[1][0] == 'f') {
		three_sites();
		return 0;
	}
	/* http: before the window, churn and 40 kept blocks; in it, the three. */
	churn_site(500, SA);
	before_window(40, 400);
	kept += 40;
	touch(argv[2], "ready");
	wait_for(argv[2], "go");
	three_sites();
	touch(argv[2], "done");
	wait_for(argv[2], "stop");
	return 0;
}
