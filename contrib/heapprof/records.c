/* SPDX-License-Identifier: MIT */
/*
 * records: reads the record a profiled process publishes in
 * /tmp/heapprof-<euid>/<pid> (lib/proc_record.c writes it) and checks that it is
 * that very process's, without trusting the process's environment or title;
 * ps.c lists them. Sending signals is snapshot.c's.
 */
#include "heapprof.h"
#include "config.h"
#include "proc_record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* /proc/PID/NAME whole, NUL-terminated, or NULL. */
static char *proc_file(pid_t pid, const char *name, size_t *len)
{
	char path[PATH_MAX], err[256];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	size_t n;
	char *buf = (char *)pp_read_file(path, len ? len : &n, err, sizeof(err));
	return buf;
}

/* The value after "key:" on its line of /proc/PID/status, or NULL. */
static const char *status_field(const char *status, const char *key)
{
	size_t kl = strlen(key);
	for (const char *l = status; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == ':')
			return l + kl + 1;
	return NULL;
}

/* Field 22 of /proc/PID/stat (start time in clock ticks), or 0. */
static unsigned long long start_time(pid_t pid)
{
	char *stat = proc_file(pid, "stat", NULL);
	if (!stat)
		return 0;
	unsigned long long v = 0;
	char *p = strrchr(stat, ')');
	for (int field = 2; p && field < 22 && *p; p++)
		if (*p == ' ')
			field++;
	if (p)
		v = strtoull(p, NULL, 10);
	free(stat);
	return v;
}

/*
 * Is the record this process's? Records before version 2 name the start
 * time itself; version 2 names a moment when the process was alive (the
 * library reads the clock, not /proc, at start-up), which must not precede
 * the start: a record left by an earlier process of this pid names a
 * moment before the later process started. Nor may it follow now: a
 * record from a time namespace whose clock runs ahead of ours would pass
 * the first test whatever its age.
 */
static bool same_process(const record_t *r, unsigned long long ticks)
{
	if (r->start)
		return ticks && r->start == ticks;
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec now;
	if (!ticks || !r->alive || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &now))
		return false;
	unsigned long long now_ns = (unsigned long long)now.tv_sec * 1000000000ull +
	                            (unsigned long long)now.tv_nsec;
	return ticks * (1000000000ull / (unsigned long long)hz) <= r->alive &&
	       r->alive <= now_ns;
}

static bool proc_status(pid_t pid, record_t *r)
{
	char *status = proc_file(pid, "status", NULL);
	if (!status)
		return false;
	const char *uid = status_field(status, "Uid");
	const char *cgt = status_field(status, "SigCgt");
	unsigned long ruid = 0, euid = 0;
	bool ok = uid && sscanf(uid, "%lu %lu", &ruid, &euid) == 2;
	r->euid = (uid_t)euid;
	r->caught = cgt ? strtoull(cgt, NULL, 16) : 0;
	free(status);
	return ok;
}

/* Parses the record's "key value" lines into r; false if malformed. */
static bool parse_record(char *text, record_t *r)
{
	int have = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *val = strchr(line, ' ');
		if (!val)
			continue;
		*val++ = '\0';
		if (!strcmp(line, "pid"))
			r->rec_pid = (pid_t)atoi(val), have |= 1;
		else if (!strcmp(line, "alive-at"))
			r->alive = strtoull(val, NULL, 10), have |= 2;
		else if (!strcmp(line, "start")) /* version 1 records: exact */
			r->start = strtoull(val, NULL, 10), have |= 2;
		else if (!strcmp(line, "signal"))
			r->signo = atoi(val), have |= 4;
		else if (!strcmp(line, "handler"))
			r->handler_ours = !strcmp(val, "ours"), have |= 8;
		else if (!strcmp(line, "output"))
			snprintf(r->output, sizeof(r->output), "%s", val), have |= 16;
		else if (!strcmp(line, "endpoint"))
			snprintf(r->endpoint, sizeof(r->endpoint), "%s", val);
	}
	return have == 31;
}

/*
 * Opens dir/name without following a link, and only if it belongs to uid and
 * no one else can write it; the text, or NULL with the reason in why.
 */
static char *read_owned(const char *dir, const char *name, uid_t uid, char *why,
                        size_t len)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (dfd < 0) {
		snprintf(why, len, "no record in %s (%s)", dir, strerror(errno));
		return NULL;
	}
	if (fstat(dfd, &st) < 0 || st.st_uid != uid || (st.st_mode & 022)) {
		close(dfd);
		snprintf(why, len, "%s is not the process owner's private directory",
		         dir);
		return NULL;
	}
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		snprintf(why, len, "no record %s/%s", dir, name);
		return NULL;
	}
	char *text = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid &&
	    st.st_size < 16384 && (text = calloc(1, (size_t)st.st_size + 1)) &&
	    read(fd, text, (size_t)st.st_size) != st.st_size) {
		free(text);
		text = NULL;
	}
	close(fd);
	if (!text)
		snprintf(why, len, "the record %s/%s is not a file of the process owner",
		         dir, name);
	return text;
}

bool record_read(pid_t pid, record_t *r, char *why, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	if (!proc_status(pid, r)) {
		snprintf(why, len, "no process %d", (int)pid);
		return false;
	}
	char dir[64], name[24];
	snprintf(dir, sizeof(dir), HP_PROC_RECORD_DIR_FMT, (unsigned)r->euid);
	snprintf(name, sizeof(name), "%d", (int)pid);
	char *text = read_owned(dir, name, r->euid, why, len);
	/* Empty: the process is writing it (lib/proc_record.c makes a new record
	 * under its name, with one write). */
	for (int i = 0; text && !text[0] && i < 50; i++) {
		free(text);
		usleep(2000);
		text = read_owned(dir, name, r->euid, why, len);
	}
	if (!text)
		return false;
	bool ok = parse_record(text, r);
	free(text);
	if (!ok) {
		snprintf(why, len, "the record %s/%s is malformed", dir, name);
		return false;
	}
	if (r->rec_pid != pid || !same_process(r, start_time(pid))) {
		snprintf(
		    why, len,
		    "the record %s/%s is not this process's (left by an earlier process "
		    "with the same pid)",
		    dir, name);
		return false;
	}
	char *maps = proc_file(pid, "maps", NULL);
	bool mapped = maps && strstr(maps, "libheapprof");
	free(maps);
	if (!mapped) {
		snprintf(why, len,
		         "libheapprof.so is not loaded in it (it executed an "
		         "unprofiled program)");
		return false;
	}
	return true;
}

/* Is sig blocked in every thread of pid (then a request would only wait)? */
bool record_signal_blocked(pid_t pid, int sig)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	bool all = true, any = false;
	for (struct dirent *e; all && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char name[300];
		snprintf(name, sizeof(name), "task/%s/status", e->d_name);
		char *status = proc_file(pid, name, NULL);
		const char *blk = status ? status_field(status, "SigBlk") : NULL;
		if (blk) {
			any = true;
			all = (strtoull(blk, NULL, 16) >> (sig - 1)) & 1;
		}
		free(status);
	}
	closedir(d);
	return any && all;
}

void record_command(pid_t pid, char *buf, size_t cap)
{
	size_t len = 0;
	char *cmd = proc_file(pid, "cmdline", &len);
	for (size_t i = 0; cmd && i + 1 < len; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	snprintf(buf, cap, "%s", cmd && len ? cmd : "?");
	free(cmd);
}
