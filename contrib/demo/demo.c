/* SPDX-License-Identifier: MIT */
/*
 * heapprof-demo: a small "service" with a leak, for the quick start. Each
 * request allocates a scratch buffer (freed), a session (freed), and by
 * mistake leaves an entry in a cache that is never trimmed. Between the
 * first and second half it pauses so a snapshot can be taken with SIGUSR2.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct entry {
	struct entry *next;
	char key[48];
	char *value;
};

static struct entry *cache;

__attribute__((noinline)) static char *read_request(int id)
{
	char *buf = malloc(16384);
	snprintf(buf, 16384, "GET /item/%d", id);
	return buf;
}

__attribute__((noinline)) static void cache_insert(const char *key)
{
	struct entry *e = malloc(sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->value = malloc(2000 + strlen(key) * 10); /* the leak: nobody trims the cache */
	memset(e->value, 'v', 2000);
	e->next = cache;
	cache = e;
}

__attribute__((noinline)) static void handle_request(int id)
{
	char *req = read_request(id);
	char *session = calloc(1, 4096);
	strcpy(session, req);
	cache_insert(req + 4);
	free(session);
	free(req);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	for (int i = 0; i < n / 2; i++)
		handle_request(i);
	if (argc > 2 && !strcmp(argv[2], "--pause")) {
		printf("demo: pid %d, first half done; waiting for SIGUSR2 snapshot\n",
		       (int)getpid());
		fflush(stdout);
		sleep(2);
	}
	for (int i = n / 2; i < n; i++)
		handle_request(i);
	printf("demo: handled %d requests\n", n);
	return 0;
}
