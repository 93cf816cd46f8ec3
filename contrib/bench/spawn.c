/* SPDX-License-Identifier: MIT */
/*
 * spawn: what a process costs to start and end under each of several
 * environments, for contrib/bench/short-process.sh. Forks and executes CMD
 * N times per environment per round, the environments in turn (rotated each
 * round, so that none always runs after the same one), and prints for each
 * the median, first and third quartiles of every process's wall time (fork
 * to reaped) and of its CPU time (user and system, from wait4). Medians of
 * single processes: a machine's noise moves a few processes, not the
 * median.
 *
 * usage: spawn ROUNDS N ENV... -- CMD [ARG...]
 * Each ENV is "-" (the environment as it is) or NAME=VALUE[,NAME=VALUE...]
 * added to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_ENVS 16

typedef struct {
	const char *label;
	char **env;
	double *wall, *cpu; /* microseconds, one per process */
	size_t n;
} variant_t;

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The environment as it is, with the pairs of spec ("-": none) added. */
static char **make_env(const char *spec)
{
	size_t n = 0, extra = 1;
	while (environ[n])
		n++;
	for (const char *p = spec; *p; p++)
		extra += *p == ',';
	char **env = calloc(n + extra + 1, sizeof(*env));
	if (!env)
		return NULL;
	memcpy(env, environ, n * sizeof(*env));
	if (strcmp(spec, "-")) {
		char *copy = strdup(spec);
		for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","))
			env[n++] = t;
	}
	return env;
}

/* One process of v: its wall and CPU time recorded; false if it failed. */
static int run_one(variant_t *v, char **cmd)
{
	double t0 = now_us();
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		execve(cmd[0], cmd, v->env);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) != pid)
		return 0;
	v->wall[v->n] = now_us() - t0;
	v->cpu[v->n++] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void report(variant_t *v)
{
	qsort(v->wall, v->n, sizeof(double), cmp_double);
	qsort(v->cpu, v->n, sizeof(double), cmp_double);
	size_t n = v->n;
	printf("%s wall %6.0f us (q1 %6.0f, q3 %6.0f)  cpu %6.0f us (q1 %6.0f, "
	       "q3 %6.0f)\n",
	       v->label, v->wall[n / 2], v->wall[n / 4], v->wall[3 * n / 4],
	       v->cpu[n / 2], v->cpu[n / 4], v->cpu[3 * n / 4]);
}

int main(int argc, char **argv)
{
	int sep = 3;
	while (sep < argc && strcmp(argv[sep], "--"))
		sep++;
	int nv = sep - 3;
	long rounds = argc > 2 ? atol(argv[1]) : 0, per = argc > 2 ? atol(argv[2]) : 0;
	if (sep + 1 >= argc || nv < 1 || nv > MAX_ENVS || rounds < 1 || per < 1) {
		fprintf(stderr, "usage: spawn ROUNDS N ENV... -- CMD [ARG...]\n");
		return 2;
	}
	variant_t v[MAX_ENVS];
	for (int i = 0; i < nv; i++) {
		v[i] = (variant_t){argv[3 + i], make_env(argv[3 + i]),
		                   calloc((size_t)(rounds * per), sizeof(double)),
		                   calloc((size_t)(rounds * per), sizeof(double)), 0};
		if (!v[i].env || !v[i].wall || !v[i].cpu) {
			fprintf(stderr, "spawn: out of memory\n");
			return 1;
		}
	}
	for (long r = 0; r < rounds; r++)
		for (int k = 0; k < nv; k++) {
			variant_t *x = &v[(k + r) % nv];
			for (long j = 0; j < per; j++)
				if (!run_one(x, argv + sep + 1)) {
					fprintf(stderr, "spawn: %s failed under %s\n",
					        argv[sep + 1], x->label);
					return 1;
				}
		}
	for (int i = 0; i < nv; i++)
		report(&v[i]);
	return 0;
}
