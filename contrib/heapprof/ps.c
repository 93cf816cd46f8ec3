/* SPDX-License-Identifier: MIT */
/*
 * ps: heapprof ps, this user's profiled processes (all users' as root)
 * from their records (records.c): pid, snapshot signal, handler, output
 * prefix, endpoint and command. It removes the records of processes that are
 * gone.
 */
#include "heapprof.h"
#include "config.h"
#include "proc_record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage_ps(FILE *f)
{
	fprintf(f, "usage: heapprof ps\n"
	           "Lists this user's profiled processes (all users' when run as root): "
	           "pid,\nsnapshot signal, whether its handler is still the profiler's, "
	           "output prefix,\nendpoint (HEAPPROF_HTTP) and command. Removes the "
	           "records of processes\nthat are gone.\n");
}

/*
 * The pid of a name a process gives a record on its way (lib/proc_record.c)
 * and leaves behind if it is killed meanwhile: a spare it took
 * (.claim-PID), a rewrite's temporary file (.PID.tmp, .PID.s.tmp) or a kept
 * symbol table's or stack rules' (syms2-*.PID.tmp, rules1-*.PID.tmp); else 0.
 */
static long leftover_of(const char *name)
{
	char *end;
	long pid;
	if (!strncmp(name, ".claim-", 7)) {
		pid = strtol(name + 7, &end, 10);
		return !*end && pid > 0 ? pid : 0;
	}
	if (!strncmp(name, "syms2-", 6) || !strncmp(name, "rules1-", 7)) {
		/* A kept table's or rules' temporary name: NAME.PID.tmp. */
		size_t n = strlen(name);
		const char *dot =
		    n > 4 && !strcmp(name + n - 4, ".tmp") ? name + n - 4 : NULL;
		const char *p = dot;
		while (p && p > name && p[-1] >= '0' && p[-1] <= '9')
			p--;
		if (!dot || p == dot || p[-1] != '.')
			return 0;
		pid = strtol(p, &end, 10);
		return end == dot && pid > 0 ? pid : 0;
	}
	if (name[0] != '.' || name[1] < '1' || name[1] > '9')
		return 0;
	pid = strtol(name + 1, &end, 10);
	return pid > 0 && (!strcmp(end, ".tmp") || !strcmp(end, ".s.tmp")) ? pid : 0;
}

/*
 * Lists the records in dir, the directory of user uid. A record of a process
 * whose effective user is now another one is listed from that user's
 * directory only (it moved there with its setuid; this one is a leftover).
 */
static void list_dir(const char *dir, uid_t uid)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		record_t r;
		char why[512], sig[16], cmd[256];
		long owner = leftover_of(e->d_name);
		if (owner) {
			if (kill((pid_t)owner, 0) < 0 && errno == ESRCH)
				unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		if (*end || pid <= 0)
			continue;
		if (!record_read((pid_t)pid, &r, why, sizeof(why))) {
			/* Left by a process that ended without exit (_exit, a signal). */
			if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
				unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		if (r.euid != uid)
			continue;
		record_command(r.pid, cmd, sizeof(cmd));
		printf("%-8d %-10s %-9s %-30s %-24s %s\n", (int)r.pid,
		       r.signo ? hp_config_signal_name(r.signo, sig, sizeof(sig))
		               : "none",
		       !r.signo         ? "-"
		       : r.handler_ours ? "ours"
		                        : "replaced",
		       r.output, r.endpoint[0] ? r.endpoint : "-", cmd);
	}
	closedir(d);
}

int cmd_ps(int argc, char **argv)
{
	const opt_t opts[] = {{0}};
	const cmdline_t cmd = {opts, usage_ps, 0, 0};
	parse_options(argc, argv, &cmd);
	printf("%-8s %-10s %-9s %-30s %-24s %s\n", "PID", "SIGNAL", "HANDLER", "OUTPUT",
	       "ENDPOINT", "COMMAND");
	if (geteuid() != 0) {
		char dir[64];
		snprintf(dir, sizeof(dir), HP_PROC_RECORD_DIR_FMT, (unsigned)geteuid());
		list_dir(dir, geteuid());
		return 0;
	}
	DIR *tmp = opendir("/tmp");
	for (struct dirent *e; tmp && (e = readdir(tmp));) {
		if (strncmp(e->d_name, "heapprof-", 9))
			continue;
		char *end;
		unsigned long uid = strtoul(e->d_name + 9, &end, 10);
		if (*end || end == e->d_name + 9)
			continue;
		char dir[300];
		snprintf(dir, sizeof(dir), "/tmp/%s", e->d_name);
		list_dir(dir, (uid_t)uid);
	}
	if (tmp)
		closedir(tmp);
	return 0;
}
