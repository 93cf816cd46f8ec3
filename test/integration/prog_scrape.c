/* SPDX-License-Identifier: MIT */
/*
 * prog_scrape: allocations on the test's request, for the scrapers' paths.
 * alloc_before keeps 1000000 bytes; then, each time DIR/go
 * appears, it reads a count N from it and calls alloc_kept (keeps 1000 bytes)
 * and alloc_freed (allocates 500 bytes and frees them) N times each, removes
 * go and creates DIR/done; it exits 7 once DIR/stop exists (60 s at most).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *alloc_before(void)
{
	char *p = malloc(1000000);
	memset(p, 1, 1000000);
	return p;
}

void *alloc_kept(void)
{
	char *p = malloc(1000);
	p[0] = 1;
	return p;
}

void alloc_freed(void)
{
	char *volatile p = malloc(500);
	p[0] = 1;
	free(p);
}

static int step(const char *go, const char *done)
{
	FILE *f = fopen(go, "r");
	if (!f)
		return 0;
	int n = 0;
	if (fscanf(f, "%d", &n) != 1)
		n = 0;
	fclose(f);
	for (int i = 0; i < n; i++) {
		void *volatile p = alloc_kept(); /* leaked on purpose: in use */
		(void)p;
		alloc_freed();
	}
	unlink(go);
	f = fopen(done, "w");
	if (f)
		fclose(f);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	char go[4096], done[4096], stop[4096];
	snprintf(go, sizeof(go), "%s/go", argv[1]);
	snprintf(done, sizeof(done), "%s/done", argv[1]);
	snprintf(stop, sizeof(stop), "%s/stop", argv[1]);
	void *volatile before = alloc_before(); /* in use until exit */
	(void)before;
	for (int i = 0; i < 60000 && access(stop, F_OK); i++)
		if (!step(go, done))
			usleep(1000);
	printf("prog_scrape: done\n");
	return 7;
}
