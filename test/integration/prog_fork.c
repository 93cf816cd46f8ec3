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
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

int main(int argc, char **argv)
{
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
