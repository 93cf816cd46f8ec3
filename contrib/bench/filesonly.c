/* SPDX-License-Identifier: MIT */
/*
 * filesonly: a preloaded library that makes only the files libheapprof
 * makes in a short process, the same way, and nothing else: the process
 * record (its directory opened and checked, the file made with O_EXCL and
 * one write), and at exit a profile-sized file written under a temporary
 * name and renamed into place, then the record removed. What any profiler
 * that publishes a record per process and writes an exit profile pays on a
 * machine, against which contrib/bench/short-process.sh sets libheapprof's
 * fixed cost. Not shipped.
 *
 * Environment: FILESONLY_OUTPUT, the exit file's prefix (unset: none).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char record[128];

static void write_file(int dfd, const char *name, size_t len)
{
	char buf[1024];
	memset(buf, 'x', sizeof(buf));
	int fd =
	    openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, buf, len < sizeof(buf) ? len : sizeof(buf)) < 0)
		unlinkat(dfd, name, 0);
	close(fd);
}

__attribute__((constructor)) static void publish(void)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/heapprof-%u", (unsigned)geteuid());
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (dfd < 0)
		return;
	if (fstat(dfd, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 077)) {
		char name[32];
		snprintf(name, sizeof(name), "filesonly-%d", (int)getpid());
		write_file(dfd, name, 92); /* a record's size */
		snprintf(record, sizeof(record), "%s/%s", dir, name);
	}
	close(dfd);
}

__attribute__((destructor)) static void finish(void)
{
	const char *out = getenv("FILESONLY_OUTPUT");
	if (out) {
		char tmp[4300], final[4200];
		int pid = (int)getpid();
		snprintf(final, sizeof(final), "%s.%d.0001.exit.pb.gz", out, pid);
		snprintf(tmp, sizeof(tmp), "%s.%d.0.tmp", final, pid);
		write_file(AT_FDCWD, tmp, 906); /* /bin/true's exit profile's size */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) < 0)
			unlink(tmp);
	}
	if (record[0])
		unlink(record);
}
