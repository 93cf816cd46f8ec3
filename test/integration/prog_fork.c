/* SPDX-License-Identifier: MIT */
/*
 * prog_fork: a parent keeps blocks live, forks CHILDREN children while four
 * threads keep allocating (so profiler locks are held at fork time); each
 * child allocates in child_alloc and exits normally, writing its own
 * profile. Prints each child's pid.
 *
 * "faults N": forks N children that exit at once, and prints the minor page
 * faults of the parent and of the children per fork (getrusage), what a
 * fork costs the pages the profiler's fork handlers write.
 *
 * "dlchurn DIR N": loads DIR/lib0.so .. lib(N-1).so (copies of libhpdl) one
 * at a time, each where the last one was not, allocates from it, unloads it
 * and forks a child that exits; then prints how many of this process's
 * mappings are of those files: 0 once they are unloaded.
 *
 * "sigforks N": one thread allocates (from 64 stacks) while SIGALRM and
 * SIGPROF handlers fork, N children in all, some nested in the other's
 * fork; each child _exits at once (no exit profile: its exit could need
 * malloc, which the handler may have interrupted). Checks errno and the
 * signal mask around each allocation; prints its pid, then how many
 * children exited 0 (a fork nested in the other handler's may go
 * uncounted: more children than N).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 20

static atomic_int stop;
static void *parent_blocks[100], *child_blocks[50];

__attribute__((noinline)) void parent_alloc(void)
{
	for (int i = 0; i < 100; i++)
		parent_blocks[i] = malloc(10240);
}

__attribute__((noinline)) void child_alloc(void)
{
	for (int i = 0; i < 50; i++)
		child_blocks[i] = malloc(20480);
}

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		void *p = malloc(128 + (size_t)(rand() % 4096));
		free(p);
	}
	return NULL;
}

static int fault_count(int n)
{
	struct rusage self0, self1, kids;
	void *keep = malloc(100);
	getrusage(RUSAGE_SELF, &self0);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0)
			exit(0);
		waitpid(pid, NULL, 0);
	}
	getrusage(RUSAGE_SELF, &self1);
	getrusage(RUSAGE_CHILDREN, &kids);
	printf("faults per fork: parent %.1f children %.1f\n",
	       (double)(self1.ru_minflt - self0.ru_minflt) / n,
	       (double)kids.ru_minflt / n);
	free(keep);
	return 0;
}

/* The lines of /proc/self/maps naming a file under dir. */
static int mappings_under(const char *dir)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	int n = 0;
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, dir) != NULL;
	if (f)
		fclose(f);
	return n;
}

static int dl_churn(const char *dir, int n)
{
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/lib%d.so", dir, i);
		void *h = dlopen(path, RTLD_NOW);
		void (*alloc)(void) = h ? (void (*)(void))dlsym(h, "lib_alloc") : NULL;
		void (*free_all)(void) =
		    h ? (void (*)(void))dlsym(h, "lib_free_all") : NULL;
		struct link_map *lm;
		if (!alloc || !free_all || dlinfo(h, RTLD_DI_LINKMAP, &lm)) {
			fprintf(stderr, "%s: %s\n", path, dlerror());
			return 1;
		}
		alloc(); /* new stacks: the library is at a new place */
		free_all();
		void *base = (void *)lm->l_addr;
		dlclose(h);
		/* A page where it was: the next copy loads elsewhere. */
		mmap(base, 4096, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	printf("mappings of unloaded libraries: %d\n", mappings_under(dir));
	return 0;
}

static volatile sig_atomic_t nforks, forks_max;
static pid_t sig_kids[1100]; /* nested handlers may pass N by a few */

static void fork_on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	if (nforks < forks_max) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0); /* the interrupted code may be malloc */
		if (pid > 0)
			sig_kids[nforks++] = pid;
	}
	errno = saved;
}

static int errno_changed, mask_changed;

/* Allocates at depth d: each depth its own stack. */
static void *alloc_at(int d, size_t n)
{
	if (d > 0) {
		void *p = alloc_at(d - 1, n);
		__asm__ volatile("" ::: "memory");
		return p;
	}
	sigset_t before, after;
	sigemptyset(&before);
	sigemptyset(&after);
	sigprocmask(SIG_SETMASK, NULL, &before);
	errno = 777;
	void *p = malloc(n);
	errno_changed += errno != 777;
	sigprocmask(SIG_SETMASK, NULL, &after);
	for (int s = 1; s < 32; s++)
		mask_changed += sigismember(&before, s) != sigismember(&after, s);
	return p;
}

static int sig_forks(int n)
{
	forks_max = n < 1000 ? n : 1000;
	struct sigaction sa = {.sa_handler = fork_on_signal};
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);
	struct itimerval real = {{0, 1000}, {0, 1000}}, prof = {{0, 1500}, {0, 1500}},
	                 off = {0};
	setitimer(ITIMER_REAL, &real, NULL);
	setitimer(ITIMER_PROF, &prof, NULL);
	for (int i = 0; nforks < forks_max; i++) {
		void *p = alloc_at(i % 64, 16 + (size_t)(i % 4000));
		if (i % 7)
			free(p);
	}
	setitimer(ITIMER_REAL, &off, NULL);
	setitimer(ITIMER_PROF, &off, NULL);
	int exited = 0;
	for (int i = 0; i < nforks; i++) {
		int status;
		if (waitpid(sig_kids[i], &status, 0) == sig_kids[i] &&
		    WIFEXITED(status) && !WEXITSTATUS(status))
			exited++;
	}
	printf("parent %d\n", (int)getpid());
	if (exited == nforks)
		printf("all %d children exited 0", exited);
	else
		printf("%d of %d children exited 0", exited, (int)nforks);
	printf(", errno changed %d, mask changed %d\n", errno_changed, mask_changed);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "sigforks"))
		return sig_forks(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "faults"))
		return fault_count(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "dlchurn"))
		return dl_churn(argv[2], atoi(argv[3]));
	parent_alloc();
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, busy, NULL);
	int failures = 0;
	for (int c = 0; c < CHILDREN; c++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			child_alloc();
			exit(0);
		}
		printf("child %d\n", (int)pid);
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failures++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("parent %d failures %d\n", (int)getpid(), failures);
	return failures != 0;
}
