/* SPDX-License-Identifier: MIT */
/*
 * prog_fds METHOD OUTDIR ROUNDS [SIGNAL]: a program that manages its own
 * descriptors, as daemons and sandboxes do. It allocates, closes every
 * descriptor above 2 (METHOD: close_range, closefrom or procfs), then reuses
 * the low numbers: a file (3), a pipe (4, 5) and the file dup'd onto 10..1023.
 * Each of ROUNDS rounds allocates with known stacks, writes a known record to
 * the file through several of its numbers, passes known bytes through the
 * pipe, and asks for a snapshot with SIGNAL (default USR2), waiting for a new
 * *.signal.pb.gz in OUTDIR. Any byte it did not write (in the file or the
 * pipe), and any descriptor it did not open, is a failure: exit status 1 with
 * a message. Prints a summary and exits 0 otherwise.
 */
#include "snapshots.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FIRST_DUP    10
#define LAST_DUP     1023
#define MAX_ROUNDS   100
#define KEEP_BLOCKS  16
#define KEEP_SIZE    40960
#define CHURN_BLOCKS 100
#define START_BLOCKS 8
#define START_SIZE   65536

static void *start_blocks[START_BLOCKS];
static void *kept[MAX_ROUNDS][KEEP_BLOCKS];
static char expected[MAX_ROUNDS * 6 * 64];
static size_t expected_len;

static int problems;

static void vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "prog_fds: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* A mismatch reported on stderr; the program goes on and exits 1. */
static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void complain(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	problems++;
}

/* A mismatch after which the program cannot go on: exit status 1. */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(1);
}

/* Puts the descriptor fd at number want (if it is not there already). */
static void move_fd(int fd, int want)
{
	if (fd == want)
		return;
	if (dup3(fd, want, O_CLOEXEC) != want)
		fail("dup3 %d %d: %s", fd, want, strerror(errno));
	close(fd);
}

__attribute__((noinline)) void start_keep(void)
{
	for (int i = 0; i < START_BLOCKS; i++) {
		start_blocks[i] = malloc(START_SIZE);
		memset(start_blocks[i], 's', START_SIZE);
	}
}

/* KEEP_BLOCKS blocks of KEEP_SIZE per round, never freed. */
__attribute__((noinline)) void round_keep(int r)
{
	for (int i = 0; i < KEEP_BLOCKS; i++) {
		kept[r][i] = malloc(KEEP_SIZE);
		memset(kept[r][i], 'k', 64);
	}
}

/* CHURN_BLOCKS blocks per round, each freed at once. */
__attribute__((noinline)) void round_churn(void)
{
	for (int i = 0; i < CHURN_BLOCKS; i++) {
		char *p = malloc(1000 + (size_t)i);
		p[0] = 'c';
		free(p);
	}
}

static int signal_number(const char *name)
{
	static const struct {
		const char *name;
		int signo;
	} known[] = {{"USR1", SIGUSR1},
	             {"USR2", SIGUSR2},
	             {"PROF", SIGPROF},
	             {"WINCH", SIGWINCH},
	             {"URG", SIGURG}};
	if (!strncmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(name, known[i].name))
			return known[i].signo;
	char *end;
	long n = strtol(name, &end, 10);
	if (*end || n <= 0 || n >= NSIG)
		fail("unknown signal '%s'", name);
	return (int)n;
}

static void close_above_2(const char *method)
{
	if (!strcmp(method, "close_range")) {
		if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
			fail("close_range: %s", strerror(errno));
	} else if (!strcmp(method, "closefrom")) {
		closefrom(3);
	} else if (!strcmp(method, "procfs")) {
		DIR *d = opendir("/proc/self/fd");
		if (!d)
			fail("opendir /proc/self/fd: %s", strerror(errno));
		int fds[4096], n = 0, self = dirfd(d);
		struct dirent *e;
		while ((e = readdir(d)) && n < 4096) {
			int fd = atoi(e->d_name);
			if (e->d_name[0] != '.' && fd > 2 && fd != self)
				fds[n++] = fd;
		}
		closedir(d);
		for (int i = 0; i < n; i++)
			close(fds[i]);
	} else {
		fail("unknown method '%s' (close_range, closefrom, procfs)", method);
	}
}

/* Number of *.signal.pb.gz files in dir. */
static int count_snapshots(const char *dir)
{
	int n = count_snapshot_files(dir);
	if (n < 0)
		fail("opendir %s: %s", dir, strerror(errno));
	return n;
}

static void snapshot(const char *dir, int signo, int round)
{
	int before = count_snapshots(dir);
	if (kill(getpid(), signo) < 0)
		fail("kill: %s", strerror(errno));
	struct timespec tick = {0, 10 * 1000 * 1000};
	for (int waited = 0; waited < 1000; waited++) {
		if (count_snapshots(dir) > before)
			return;
		nanosleep(&tick, NULL);
	}
	fail("round %d: no new snapshot in %s within 10 s", round, dir);
}

static void write_all(int fd, const char *buf, size_t len, int round)
{
	ssize_t n = write(fd, buf, len);
	if (n != (ssize_t)len)
		fail("round %d: write to fd %d: %s", round, fd,
		     n < 0 ? strerror(errno) : "short write");
}

/* Three records, through fd 3 and two of its duplicates; phase 'a' before
 * the round's snapshot, 'b' after it. */
static void write_records(int round, char phase)
{
	int fds[3] = {3, FIRST_DUP + (round * 53) % (LAST_DUP - FIRST_DUP + 1),
	              LAST_DUP - round};
	for (int i = 0; i < 3; i++) {
		char rec[64];
		int len =
		    snprintf(rec, sizeof(rec), "round %03d%c record %d via fd %04d\n",
		             round, phase, i, fds[i]);
		write_all(fds[i], rec, (size_t)len, round);
		memcpy(expected + expected_len, rec, (size_t)len);
		expected_len += (size_t)len;
	}
	struct stat st;
	if (fstat(3, &st) < 0)
		fail("round %d%c: fstat 3: %s", round, phase, strerror(errno));
	if ((size_t)st.st_size != expected_len)
		fail("round %d%c: the file has %lld bytes, %zu written", round, phase,
		     (long long)st.st_size, expected_len);
}

static void pipe_empty(int round, const char *when)
{
	char c;
	ssize_t n = read(4, &c, 1);
	if (n > 0)
		fail("round %d, %s: a byte the program did not write (%d) in its pipe",
		     round, when, c);
	if (n == 0)
		fail("round %d, %s: the pipe's write end is closed", round, when);
	if (errno != EAGAIN)
		fail("round %d, %s: reading the pipe (fd 4): %s", round, when,
		     strerror(errno));
}

static void pipe_round(int round)
{
	char msg[64], back[64];
	int len = snprintf(msg, sizeof(msg), "pipe bytes of round %03d", round);
	write_all(5, msg, (size_t)len, round);
	ssize_t n = read(4, back, sizeof(back));
	if (n != len || memcmp(msg, back, (size_t)len))
		fail("round %d: read %zd bytes back from the pipe, wrote %d", round, n,
		     len);
	pipe_empty(round, "after the round's bytes");
}

static void check_file(void)
{
	static char got[sizeof(expected) + 1];
	ssize_t n = pread(3, got, sizeof(got), 0);
	if (n != (ssize_t)expected_len || memcmp(got, expected, expected_len))
		fail("the file holds %zd bytes, not the %zu written", n, expected_len);
}

static bool expected_fd(int fd)
{
	return fd <= 5 || (fd >= FIRST_DUP && fd <= LAST_DUP);
}

/*
 * Descriptors open now that the program did not open, and ones it opened
 * that are gone, into report; the count of both.
 */
static int fd_mismatches(char *report, size_t len)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		fail("opendir /proc/self/fd: %s", strerror(errno));
	static bool seen[LAST_DUP + 1];
	memset(seen, 0, sizeof(seen));
	int self = dirfd(d), bad = 0;
	size_t used = 0;
	report[0] = '\0';
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == self)
			continue;
		if (fd <= LAST_DUP && expected_fd(fd)) {
			seen[fd] = true;
			continue;
		}
		char link[64], target[256] = "?";
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 1] = '\0';
		if (used < len)
			used += (size_t)snprintf(report + used, len - used,
			                         " extra %d -> %s;", fd, target);
		bad++;
	}
	closedir(d);
	for (int fd = 0; fd <= LAST_DUP; fd++) {
		if (expected_fd(fd) && !seen[fd]) {
			if (used < len)
				used += (size_t)snprintf(report + used, len - used,
				                         " missing %d;", fd);
			bad++;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		fail("usage: prog_fds close_range|closefrom|procfs OUTDIR ROUNDS "
		     "[SIGNAL]");
	const char *method = argv[1], *dir = argv[2];
	int rounds = atoi(argv[3]);
	int signo = argc > 4 ? signal_number(argv[4]) : SIGUSR2;
	if (rounds < 1 || rounds > MAX_ROUNDS)
		fail("ROUNDS: 1 to %d", MAX_ROUNDS);

	start_keep();
	round_churn();
	close_above_2(method);

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fail("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < LAST_DUP + 1) {
		rl.rlim_cur = LAST_DUP + 1;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			fail("setrlimit NOFILE %d: %s", LAST_DUP + 1, strerror(errno));
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/records.txt", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	if (fd != 3)
		complain("open %s gave fd %d, not 3: a low number was taken", path, fd);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		fail("pipe: %s", strerror(errno));
	if (p[0] != 4 || p[1] != 5)
		complain("pipe gave fds %d and %d, not 4 and 5", p[0], p[1]);
	/* Carry on with the numbers the program expects, to see what else goes
	 * wrong. */
	int tmp[3] = {fd, p[0], p[1]};
	for (int i = 0; i < 3; i++) {
		if (tmp[i] != 3 + i) {
			move_fd(tmp[i], 900 + i);
			tmp[i] = 900 + i;
		}
	}
	for (int i = 0; i < 3; i++)
		move_fd(tmp[i], 3 + i);
	if (fcntl(4, F_SETFL, O_NONBLOCK) < 0)
		fail("fcntl: %s", strerror(errno));
	for (int i = FIRST_DUP; i <= LAST_DUP; i++)
		if (dup2(3, i) != i)
			fail("dup2 3 %d: %s", i, strerror(errno));

	for (int r = 0; r < rounds; r++) {
		pipe_empty(r, "before the round");
		round_keep(r);
		round_churn();
		write_records(r, 'a');
		pipe_round(r);
		snapshot(dir, signo, r);
		pipe_empty(r, "after the snapshot");
		write_records(r, 'b');
	}
	check_file();

	/* A dump may still be closing its file when the snapshot appears: allow
	 * it a moment, but a descriptor that stays is the profiler's. */
	char report[2048];
	int bad = 0;
	for (int tries = 0; tries < 200; tries++) {
		if (!(bad = fd_mismatches(report, sizeof(report))))
			break;
		struct timespec tick = {0, 10 * 1000 * 1000};
		nanosleep(&tick, NULL);
	}
	if (bad)
		complain("%d descriptors differ from those the program opened:%s", bad,
		         report);
	if (problems)
		return 1;
	printf("%s: %d rounds, %d snapshots, %zu bytes written and read back, fds 0-5 "
	       "and %d-%d only\n",
	       method, rounds, rounds, expected_len, FIRST_DUP, LAST_DUP);
	return 0;
}
