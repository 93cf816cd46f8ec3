/* SPDX-License-Identifier: MIT */
/*
 * prog_loader_lock PLUGIN: while another thread is inside dlopen(PLUGIN),
 * whose constructor waits for this thread, this thread calls each lock
 * function, C++'s operator new and delete, sigaction and setuid, the
 * first calls of any in the process. Anything in those calls that takes the loader's lock
 * (a dlsym) would wait for ever: the profiler resolves them before any thread starts.
 * Prints "done" and exits 0.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

sem_t ctor_entered, ctor_go;

/* C++'s operator new and delete, by their names (libstdc++ is linked). */
void *_Znwm(size_t n);
void _ZdlPv(void *p);
static const char *plugin;

static void *load(void *arg)
{
	(void)arg;
	return dlopen(plugin, RTLD_NOW);
}

/* Each lock function once (a deadline in the past for the waits), C++'s
 * operator new and delete, sigaction and setuid (to the same user). */
static int first_calls(void)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec past = {0, 0}, soon;
	clock_gettime(CLOCK_REALTIME, &soon);
	soon.tv_sec += 5;
	int bad = 0;
	bad += pthread_rwlock_rdlock(&rw) || pthread_rwlock_unlock(&rw);
	bad += pthread_rwlock_wrlock(&rw) || pthread_rwlock_unlock(&rw);
	bad += pthread_rwlock_timedrdlock(&rw, &soon) || pthread_rwlock_unlock(&rw);
	bad += pthread_rwlock_timedwrlock(&rw, &soon) || pthread_rwlock_unlock(&rw);
	bad += pthread_rwlock_clockrdlock(&rw, CLOCK_REALTIME, &soon) ||
	       pthread_rwlock_unlock(&rw);
	bad += pthread_rwlock_clockwrlock(&rw, CLOCK_REALTIME, &soon) ||
	       pthread_rwlock_unlock(&rw);
	bad += pthread_mutex_timedlock(&m, &soon) || pthread_mutex_unlock(&m);
	bad += pthread_mutex_clocklock(&m, CLOCK_REALTIME, &soon) ||
	       pthread_mutex_unlock(&m);
	pthread_mutex_lock(&m);
	bad += pthread_cond_timedwait(&c, &m, &past) != ETIMEDOUT;
	bad += pthread_cond_clockwait(&c, &m, CLOCK_REALTIME, &past) != ETIMEDOUT;
	pthread_mutex_unlock(&m);
	void *p = _Znwm(48);
	bad += !p;
	_ZdlPv(p);
	struct sigaction sa;
	bad += sigaction(SIGUSR1, NULL, &sa) != 0;
	bad += setuid(getuid()) != 0;
	return bad;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: prog_loader_lock PLUGIN\n");
		return 2;
	}
	plugin = argv[1];
	sem_init(&ctor_entered, 0, 0);
	sem_init(&ctor_go, 0, 0);
	pthread_t t;
	if (pthread_create(&t, NULL, load, NULL))
		return 1;
	while (sem_wait(&ctor_entered) && errno == EINTR)
		;
	int bad = first_calls();
	sem_post(&ctor_go);
	void *h = NULL;
	pthread_join(t, &h);
	if (!h || bad) {
		fprintf(stderr, "dlopen %s, %d calls failed\n", h ? "ok" : dlerror(),
		        bad);
		return 1;
	}
	puts("done");
	return 0;
}
