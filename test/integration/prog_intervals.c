/* SPDX-License-Identifier: MIT */
/*
 * prog_intervals: a known story for the interval, peak and summary profiles.
 * leak_big leaks 3 blocks of 1,000,000 bytes; churn allocates and frees 20
 * blocks of 1 MiB; climb holds 40 blocks of 250,000 bytes (10,000,000) for
 * half a second, the peak, then frees them; then it sleeps for the given
 * milliseconds. Output "done 3000000" and exit status 5, with or without the
 * profiler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *keep[64];

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts))
		;
}

static size_t leak_big(void)
{
	for (int i = 0; i < 3; i++)
		memset(keep[i] = malloc(1000000), 1, 1000000);
	return 3000000;
}

static void churn(void)
{
	for (int i = 0; i < 20; i++) {
		char *p = malloc(1 << 20);
		memset(p, 2, 1 << 20);
		free(p);
	}
}

static void climb(void)
{
	for (int i = 0; i < 40; i++)
		memset(keep[10 + i] = malloc(250000), 3, 250000);
	sleep_ms(500);
	for (int i = 0; i < 40; i++)
		free(keep[10 + i]);
}

int main(int argc, char **argv)
{
	size_t leaked = leak_big();
	churn();
	climb();
	sleep_ms(argc > 1 ? atol(argv[1]) : 0);
	printf("done %zu\n", leaked);
	return 5;
}
