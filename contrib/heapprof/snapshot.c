/* SPDX-License-Identifier: MIT */
/*
 * snapshot: heapprof snapshot, asks a running profiled process for a
 * profile (its snapshot signal, once records.c has checked that the process
 * is profiled and the handler still the profiler's) and waits for the file.
 */
#include "heapprof.h"
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Counts the snapshot files of pid under prefix; newest name into newest. */
static int list_snapshots(const char *prefix, pid_t pid, char *newest, size_t len)
{
	char dir[PATH_MAX], base[PATH_MAX];
	const char *slash = strrchr(prefix, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - prefix) : 1,
	         slash ? prefix : ".");
	if (slash == prefix)
		snprintf(dir, sizeof(dir), "/");
	snprintf(base, sizeof(base), "%s.%d.", slash ? slash + 1 : prefix, (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int count = 0;
	unsigned best = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t bl = strlen(base), nl = strlen(e->d_name);
		const char *suffix = ".signal.pb.gz";
		if (strncmp(e->d_name, base, bl) || nl < bl + strlen(suffix) ||
		    strcmp(e->d_name + nl - strlen(suffix), suffix))
			continue;
		count++;
		unsigned seq = (unsigned)strtoul(e->d_name + bl, NULL, 10);
		if (seq >= best) {
			best = seq;
			snprintf(newest, len, "%s/%s", strcmp(dir, "/") ? dir : "",
			         e->d_name);
		}
	}
	closedir(d);
	return count;
}

static void usage_snapshot(FILE *f)
{
	fprintf(f,
	        "usage: heapprof snapshot [--timeout S] PID\n"
	        "Asks the profiled process PID for a snapshot and prints the path of the "
	        "new\n"
	        "file once it is complete. --timeout: seconds to wait (default 10).\n");
}

static bool parse_seconds(const char *arg, void *dst)
{
	char *end;
	double s = strtod(arg, &end);
	*(double *)dst = s;
	return !(*end || s <= 0);
}

/* The process named by arg, which exists and is ours to signal, or dies. */
pid_t target_process(const char *arg)
{
	char *end;
	long lp = strtol(arg, &end, 10);
	if (*end || lp <= 0 || lp > INT_MAX)
		die("expected a process id, got '%s'", arg);
	pid_t pid = (pid_t)lp;
	if (kill(pid, 0) < 0) {
		if (errno == ESRCH)
			die("no process %d", (int)pid);
		if (errno == EPERM)
			die("process %d belongs to another user", (int)pid);
		die("process %d: %s", (int)pid, strerror(errno));
	}
	return pid;
}

/*
 * The signal pid takes snapshots on, from its record, or dies saying why a
 * signal would not be safe to send: no record that is the process's own, no
 * snapshot signal, a handler that is no longer the profiler's, or a signal
 * every thread blocks. Never a default: PostgreSQL's checkpointer shuts
 * down on SIGUSR2.
 */
static int snapshot_signal(pid_t pid, record_t *r)
{
	char why[PATH_MAX + 256], name[16];
	if (!record_read(pid, r, why, sizeof(why)))
		die("process %d is not profiled: %s; no signal sent (start it with "
		    "heapprof "
		    "run, or LD_PRELOAD)",
		    (int)pid, why);
	if (!r->signo)
		die("process %d takes no snapshots by signal (HEAPPROF_SIGNAL=none)",
		    (int)pid);
	const char *sig = hp_config_signal_name(r->signo, name, sizeof(name));
	if (!r->handler_ours || !((r->caught >> (r->signo - 1)) & 1))
		die("process %d installed its own handler for SIG%s, replacing the "
		    "profiler's: "
		    "no signal sent (the program would act on it); profile it with "
		    "another "
		    "signal, e.g. HEAPPROF_SIGNAL=PROF or RTMIN+3",
		    (int)pid, sig);
	if (record_signal_blocked(pid, r->signo))
		die("every thread of process %d blocks SIG%s: the request would wait "
		    "until one "
		    "unblocks it; no signal sent",
		    (int)pid, sig);
	return r->signo;
}

/*
 * Sends pid signo and prints the path of the snapshot file that appears
 * under prefix; dies if none does within timeout seconds.
 */
static int request_snapshot(pid_t pid, int signo, const char *prefix, double timeout)
{
	char newest[PATH_MAX + 256] = "";
	int before = list_snapshots(prefix, pid, newest, sizeof(newest));
	char name[16];
	const char *sig = hp_config_signal_name(signo, name, sizeof(name));
	if (kill(pid, signo) < 0)
		die("process %d: cannot send SIG%s: %s", (int)pid, sig, strerror(errno));
	struct timespec tick = {0, 20 * 1000 * 1000};
	for (double waited = 0; waited < timeout; waited += 0.02) {
		if (list_snapshots(prefix, pid, newest, sizeof(newest)) > before) {
			printf("%s\n", newest);
			return 0;
		}
		if (kill(pid, 0) < 0 && errno == ESRCH)
			die("process %d exited before writing a snapshot", (int)pid);
		nanosleep(&tick, NULL);
	}
	die("no snapshot from process %d within %.0f s (files %s.%d.*.signal.pb.gz): "
	    "a large profile may need a longer --timeout; if the process cannot write "
	    "there, its standard error says why",
	    (int)pid, timeout, prefix, (int)pid);
}

int cmd_snapshot(int argc, char **argv)
{
	double timeout = 10;
	const opt_t opts[] = {
	    {.name = "timeout",
	     .has_arg = true,
	     .dst = &timeout,
	     .parse = parse_seconds,
	     .expected = "seconds"},
	    {0},
	};
	const cmdline_t cmd = {opts, usage_snapshot, 1, 1};
	pid_t pid = target_process(argv[parse_options(argc, argv, &cmd)]);
	record_t r;
	int signo = snapshot_signal(pid, &r);
	return request_snapshot(pid, signo, r.output, timeout);
}
