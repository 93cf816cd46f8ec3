/* SPDX-License-Identifier: MIT */
/*
 * prog_threads [N]: N threads (default 8, at most 64) allocate blocks and
 * hand them to the next thread,
 * which frees them (cross-thread free), while the main thread sends the
 * process SIGUSR2 every millisecond. At the end each thread keeps KEEP blocks
 * live. Prints "expect thread_alloc alloc_objects inuse_objects" and the
 * number of signals sent.
 *
 * prog_threads getattr: one thread whose first call is pthread_getattr_np
 * (which reallocs holding the thread's lock, as every Rust thread starts),
 * then one malloc in getattr_alloc. Prints "getattr ok".
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define PER         100000
#define KEEP        1000
#define QCAP        256

typedef struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void *items[QCAP];
	int n;
	int done; /* producers finished */
} queue_t;

static int THREADS = 8;
static queue_t q[MAX_THREADS];
static atomic_int running;
static void *kept[MAX_THREADS][KEEP];

static void push(queue_t *x, void *p)
{
	pthread_mutex_lock(&x->lock);
	while (x->n == QCAP)
		pthread_cond_wait(&x->cond, &x->lock);
	x->items[x->n++] = p;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

static int drain(queue_t *x, int wait)
{
	pthread_mutex_lock(&x->lock);
	while (wait && x->n == 0 && !x->done)
		pthread_cond_wait(&x->cond, &x->lock);
	int n = x->n;
	for (int i = 0; i < n; i++)
		free(x->items[i]);
	x->n = 0;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	return n;
}

__attribute__((noinline)) void *thread_alloc(size_t n)
{
	void *p = malloc(n);
	((volatile char *)p)[0] = 1;
	return p;
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	queue_t *next = &q[(id + 1) % THREADS], *mine = &q[id];
	for (int i = 0; i < PER; i++) {
		void *p = thread_alloc(64 + (size_t)(i % 512));
		if (i >= PER - KEEP)
			kept[id][i - (PER - KEEP)] = p;
		else
			push(next, p);
		if (i % 64 == 0)
			drain(mine, 0);
	}
	pthread_mutex_lock(&next->lock);
	next->done++;
	pthread_cond_broadcast(&next->cond);
	pthread_mutex_unlock(&next->lock);
	/* Free what the previous thread still sends until it is done. */
	for (;;) {
		pthread_mutex_lock(&mine->lock);
		int finished = mine->done && mine->n == 0;
		pthread_mutex_unlock(&mine->lock);
		if (finished)
			break;
		drain(mine, 1);
	}
	atomic_fetch_sub(&running, 1);
	return NULL;
}

__attribute__((noinline)) static void *getattr_alloc(void)
{
	return malloc(4000);
}

static void *getattr_first(void *arg)
{
	(void)arg;
	pthread_attr_t attr;
	void *p = NULL;
	if (!pthread_getattr_np(pthread_self(), &attr)) {
		p = getattr_alloc();
		pthread_attr_destroy(&attr);
	}
	return p;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "getattr")) {
		pthread_t t;
		void *p = NULL;
		if (pthread_create(&t, NULL, getattr_first, NULL) ||
		    pthread_join(t, &p) || !p)
			return 1;
		free(p);
		printf("getattr ok\n");
		return 0;
	}
	if (argc > 1)
		THREADS = atoi(argv[1]);
	if (THREADS < 2 || THREADS > MAX_THREADS)
		return 2;
	pthread_t t[MAX_THREADS];
	atomic_store(&running, THREADS);
	for (int i = 0; i < THREADS; i++) {
		pthread_mutex_init(&q[i].lock, NULL);
		pthread_cond_init(&q[i].cond, NULL);
	}
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	long signals = 0;
	while (atomic_load(&running) > 0) {
		kill(getpid(), SIGUSR2);
		signals++;
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("expect thread_alloc %d %d\n", THREADS * PER, THREADS * KEEP);
	printf("signals %ld\n", signals);
	return 0;
}
