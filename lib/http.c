/* SPDX-License-Identifier: MIT */
/*
 * http: the endpoint's server. One thread, one poll loop, non-blocking
 * sockets it created itself (close-on-exec), every signal blocked, the
 * re-entry guard set for its whole life (nothing it allocates is sampled),
 * MSG_NOSIGNAL on every send. Each connection has a deadline and answers
 * one request, then closes. What each path answers is http_routes.c's.
 */
#include "http.h"
#include "http_conn.h"
#include "backing.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "http_parse.h"
#include "log.h"
#include "proc_record.h"
#include "trigger.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 32
#define READ_MS   5000  /* the whole request must arrive within this */
#define WRITE_MS  10000 /* a response may stall this long at most, */
#define SEND_MS   60000 /* and take this long in all (a trickling reader) */
#define DRAIN_MS  1000  /* reading what a client still sends, after ours */
#define BODY_MAX  (1u << 20)

/* The server's state: the server thread's alone (and a forked child's, where
 * that thread does not exist), so no lock. */
static struct {
	pid_t owner;
	char path[HP_HTTP_PATH_MAX]; /* the unix socket we created, or "" */
	dev_t dev;
	ino_t ino;
	bool stopped;          /* the program closed our listening socket */
	bool alone;            /* every thread of the program has ended */
	uint64_t accept_after; /* ms */
	conn_t c[MAX_CONNS];
	uint64_t refused[12]; /* error responses, by refused_codes' index */
} S HP_LARGE;
/* The listening socket, -1: no server. Apart from S, whose 7 KiB would
 * otherwise sit in initialised data, a page every process touches. */
static int lfd = -1;

/* The statuses counted in heapprof_http_requests_refused_total; 0 is any
 * other. */
static const int refused_codes[12] = {400, 401, 404, 405, 413, 429,
                                      431, 500, 501, 503, 505, 0};

static void count_refused(int status)
{
	size_t i = 0;
	while (refused_codes[i] && refused_codes[i] != status)
		i++;
	S.refused[i]++;
}

size_t hp_http_refused(const int **codes, const uint64_t **counts)
{
	*codes = refused_codes;
	*counts = S.refused;
	return HP_ARRAY_SIZE(refused_codes);
}

uint64_t hp_http_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- connections ------------------------------------------------------ */

/* Frees what the connection holds; closes its descriptors if close_fds. */
static void drop_conn(conn_t *c, bool close_fds)
{
	hp_http_routes_release(c);
	if (close_fds) {
		hp_sys_close(c->fd);
		if (c->file >= 0)
			hp_sys_close(c->file);
	}
	hp_real.free(c->in);
	hp_real.free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = c->file = -1;
}

static void close_conn(conn_t *c)
{
	drop_conn(c, true);
}

static void forget_conn(conn_t *c)
{
	drop_conn(c, false);
}

/* After a failed call: a descriptor the program closed is not ours to close. */
static void fail_conn(conn_t *c)
{
	drop_conn(c, errno != EBADF && errno != ENOTSOCK);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Internal Server Error";
	}
}

/*
 * Queues a response: the head, then body (copied) or flen bytes of file
 * (taken over). extra is more header lines, each ending in CRLF.
 */
void hp_http_respond(conn_t *c, int status, const char *type, const char *extra,
                     const char *body, size_t blen, int file, uint64_t flen)
{
	char head[512];
	uint64_t len = file >= 0 ? flen : blen;
	size_t hlen = hp_fmt(head, sizeof(head),
	                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
	                     "%llu\r\nConnection: close\r\nX-Content-Type-Options: "
	                     "nosniff\r\n%s\r\n",
	                     status, reason(status), type, (unsigned long long)len,
	                     extra ? extra : "");
	if (c->head_only) {
		blen = 0;
		if (file >= 0)
			hp_sys_close(file), file = -1;
	}
	c->out = hp_real.malloc(hlen + blen);
	if (!c->out) {
		if (file >= 0)
			hp_sys_close(file);
		close_conn(c);
		return;
	}
	memcpy(c->out, head, hlen);
	if (blen)
		memcpy(c->out + hlen, body, blen);
	c->nout = hlen + blen;
	c->file = file;
	c->flen = file >= 0 ? flen : 0;
	c->st = C_WRITE;
	c->send_end = hp_http_now_ms() + SEND_MS;
	c->deadline = hp_http_now_ms() + WRITE_MS;
}

static void respond_error(conn_t *c, int status, const char *extra, const char *why)
{
	char body[128];
	size_t n = hp_fmt(body, sizeof(body), "%d %s%s%s\n", status, reason(status),
	                  why ? ": " : "", why ? why : "");
	count_refused(status);
	hp_http_respond(c, status, "text/plain; charset=utf-8", extra, body, n, -1, 0);
}

void hp_http_respond_error(conn_t *c, int status, const char *extra)
{
	respond_error(c, status, extra, NULL);
}

void hp_http_respond_why(conn_t *c, int status, const char *why)
{
	respond_error(c, status, NULL, why);
}

/* "Bearer TOKEN", the token compared in time independent of where it differs. */
static bool authorized(hp_http_str_t auth)
{
	const char *tok = hp_config.http_token;
	size_t tl = strlen(tok);
	if (auth.n < 7 || strncasecmp(auth.p, "Bearer ", 7))
		return false;
	const char *t = auth.p + 7;
	size_t n = auth.n - 7;
	unsigned diff = n != tl;
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)tok[i] ^ (unsigned char)(i < n ? t[i] : 0);
	return !diff;
}

static void handle(conn_t *c)
{
	const hp_http_req_t *q = &c->req;
	c->head_only = q->method == HP_HTTP_HEAD;
	if (hp_config.http_token[0] && !authorized(q->auth))
		hp_http_respond_error(c, 401,
		                      "WWW-Authenticate: Bearer realm=\"heapprof\"\r\n");
	else
		hp_http_routes_handle(c);
}

/* ---- reading and writing ------------------------------------------------ */

/* Once the head is in: waits for a POST body, then answers. */
static void try_request(conn_t *c)
{
	int r = hp_http_parse(c->in, c->nin, &c->req);
	if (r == 0)
		return;
	if (r < 0) {
		hp_http_respond_error(c, -r, NULL);
		return;
	}
	if (c->req.method == HP_HTTP_POST) {
		if (c->req.content_length > BODY_MAX) {
			hp_http_respond_error(c, 413, NULL);
			return;
		}
		size_t need = c->req.head_len + (size_t)c->req.content_length;
		if (c->nin < need) {
			if (need > c->cap) {
				char *p = hp_real.realloc(c->in, need);
				if (!p) {
					hp_http_respond_error(c, 500, NULL);
					return;
				}
				c->in = p, c->cap = need;
			}
			return;
		}
	}
	handle(c);
}

static void on_readable(conn_t *c)
{
	for (;;) {
		if (c->nin == c->cap) {
			try_request(
			    c); /* a full head buffer: 431, or a body to wait for */
			if (c->st != C_READ || c->nin == c->cap)
				return;
		}
		ssize_t n =
		    hp_sys_recv(c->fd, c->in + c->nin, c->cap - c->nin, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			fail_conn(c);
			return;
		}
		c->nin += (size_t)n;
	}
	try_request(c);
}

/* After the response: no more writing, read what the client still sends
 * (closing with unread bytes would reset the connection under the reply). */
static void finish(conn_t *c)
{
	hp_http_routes_release(c);
	hp_sys_shutdown(c->fd, SHUT_WR);
	c->st = C_DRAIN;
	c->deadline = hp_http_now_ms() + DRAIN_MS;
}

static void on_drain(conn_t *c)
{
	char sink[4096];
	ssize_t n;
	while ((n = hp_sys_recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		fail_conn(c);
}

/* Sends what it can; false when the connection had to be closed. */
static bool send_some(conn_t *c, const char *p, size_t n, size_t *done)
{
	ssize_t w = hp_sys_send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return true;
	if (w <= 0) {
		fail_conn(c);
		return false;
	}
	*done += (size_t)w;
	uint64_t next = hp_http_now_ms() + WRITE_MS;
	c->deadline = next < c->send_end ? next : c->send_end;
	return true;
}

static void on_writable(conn_t *c)
{
	while (c->sent < c->nout) {
		size_t before = c->sent;
		if (!send_some(c, c->out + c->sent, c->nout - c->sent, &c->sent))
			return;
		if (c->sent == before)
			return;
	}
	while (c->file >= 0 && c->foff < c->flen) {
		char chunk[16384];
		ssize_t n = hp_sys_pread(c->file, chunk, sizeof(chunk), (off_t)c->foff);
		if (n <= 0) {
			fail_conn(c);
			return;
		}
		size_t done = 0;
		if (!send_some(c, chunk, (size_t)n, &done))
			return;
		c->foff += done;
		if (done < (size_t)n)
			return;
	}
	finish(c);
}

static void on_deadline(conn_t *c)
{
	if (c->st == C_WAIT)
		hp_http_routes_deadline(c); /* the end of a ?seconds=N window */
	else
		close_conn(c); /* silent, slow, stalled, or done draining */
}

static void on_event(conn_t *c, short revents)
{
	switch (c->st) {
	case C_READ:
		on_readable(c);
		break;
	case C_WAIT:
		close_conn(c); /* the client went away before its delta profile */
		break;
	case C_WRITE:
		if (revents & (POLLERR | POLLNVAL))
			close_conn(c);
		else
			on_writable(c);
		break;
	case C_DRAIN:
		on_drain(c);
		break;
	}
}

static void accept_all(uint64_t now)
{
	static const char full[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: "
	                           "0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n";
	for (;;) {
		int fd = hp_sys_accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EBADF || errno == ENOTSOCK || errno == EINVAL))
			S.stopped = true; /* the number is no longer our socket */
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				S.accept_after = now + 100; /* or poll would spin */
			return;
		}
		conn_t *c = NULL;
		for (int i = 0; i < MAX_CONNS && !c; i++)
			if (S.c[i].st == C_FREE)
				c = &S.c[i];
		char *in = c ? hp_real.malloc(HP_HTTP_HEAD_MAX) : NULL;
		if (!in) {
			count_refused(503);
			hp_sys_send(fd, full, sizeof(full) - 1,
			            MSG_NOSIGNAL | MSG_DONTWAIT);
			hp_sys_close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->file = -1;
		c->st = C_READ;
		c->in = in;
		c->cap = HP_HTTP_HEAD_MAX;
		c->deadline = now + READ_MS;
	}
}

/* One pass of the loop: poll every socket until the next deadline. */
static void serve_once(void)
{
	struct pollfd pfd[MAX_CONNS + 1];
	int map[MAX_CONNS + 1], n = 0;
	uint64_t now = hp_http_now_ms(), next = UINT64_MAX;
	if (now >= S.accept_after)
		pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
	else
		next = S.accept_after;
	int first = n;
	for (int i = 0; i < MAX_CONNS; i++) {
		conn_t *c = &S.c[i];
		if (c->st == C_FREE)
			continue;
		short ev = c->st == C_WRITE  ? POLLOUT
		           : c->st == C_WAIT ? POLLRDHUP
		                             : POLLIN;
		map[n] = i;
		pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
		if (c->deadline < next)
			next = c->deadline;
	}
	/* At least once a second: has the program's last thread ended? */
	int timeout = next == UINT64_MAX || next > now + 1000 ? 1000
	              : next <= now                           ? 0
	                                                      : (int)(next - now);
	int ready = hp_sys_poll(pfd, (nfds_t)n, timeout);
	if (ready < 0) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		hp_sys_nanosleep(&ts, NULL);
		return;
	}
	if (ready == 0 && timeout == 1000 && hp_trigger_others_ended()) {
		S.alone = true;
		return;
	}
	for (int k = first; k < n; k++) {
		conn_t *c = &S.c[map[k]];
		if (pfd[k].revents & POLLNVAL)
			forget_conn(
			    c); /* closed by the program: the number is not ours */
		else if (pfd[k].revents && c->fd == pfd[k].fd)
			on_event(c, pfd[k].revents);
	}
	if (first && (pfd[0].revents & POLLNVAL))
		S.stopped = true;
	now = hp_http_now_ms();
	for (int i = 0; i < MAX_CONNS; i++)
		if (S.c[i].st != C_FREE && now >= S.c[i].deadline)
			on_deadline(&S.c[i]);
	if (first && (pfd[0].revents & POLLIN))
		accept_all(now);
}

static void *serve(void *arg)
{
	(void)arg;
	hp_guard_enter(); /* for good: nothing this thread allocates is sampled */
	hp_sys_set_thread_name("heapprof-http");
	while (!S.stopped && !S.alone) {
		serve_once();
		hp_trigger_poll(); /* at least once a second, as the loop wakes */
	}
	if (S.alone)
		return NULL; /* the C library now ends the process, as without us */
	/* A program that closes descriptors it did not open (closefrom) took
	 * ours: stop, closing nothing, since the numbers may be its own now. */
	for (int i = 0; i < MAX_CONNS; i++)
		if (S.c[i].st != C_FREE)
			forget_conn(&S.c[i]);
	hp_log("HEAPPROF_HTTP=%s: the program closed the endpoint's socket; the "
	       "endpoint stops",
	       hp_config.http);
	return NULL;
}

/* ---- start-up ------------------------------------------------------------ */

/* Above 2: a program started with 0, 1 or 2 closed must find them free. */
static int high_fd(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int h = hp_sys_fcntl(fd, F_DUPFD_CLOEXEC, 3);
	hp_sys_close(fd);
	return h < 0 ? -1 : h;
}

static int listen_inet(const hp_http_addr_t *a, char *shown, size_t len)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sl;
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)a->port);
		memcpy(&in->sin_addr, a->ip, 4);
		sl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)a->port);
		memcpy(&in6->sin6_addr, a->ip, 16);
		sl = sizeof(*in6);
	}
	int fd = high_fd(
	    hp_sys_socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (fd < 0)
		return -errno;
	int one = 1;
	hp_sys_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (hp_sys_bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    hp_sys_listen(fd, 64) < 0 ||
	    hp_sys_getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		int err = -errno;
		hp_sys_close(fd);
		return err;
	}
	char ip[INET6_ADDRSTRLEN];
	bool v4 = a->family == AF_INET;
	inet_ntop(a->family,
	          v4 ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
	             : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
	          ip, sizeof(ip));
	unsigned port = ntohs(v4 ? ((struct sockaddr_in *)&ss)->sin_port
	                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
	hp_fmt(shown, len, v4 ? "%s:%u" : "[%s]:%u", ip, port);
	return fd;
}

/* A socket file left by a process that died: nothing accepts on it. */
static bool stale_socket(const struct sockaddr_un *sun)
{
	struct stat st;
	if (hp_sys_lstat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != hp_sys_geteuid())
		return false;
	int fd = hp_sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool stale = hp_sys_connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 &&
	             errno == ECONNREFUSED;
	hp_sys_close(fd);
	return stale;
}

/*
 * Binds the socket file, makes it 0600 before listening (a connection to a
 * socket that does not listen yet is refused), and never follows a symlink:
 * bind refuses an existing name, and the mode is set without following one.
 */
static int listen_unix(const hp_http_addr_t *a, char *shown, size_t len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (!hp_http_expand_path(a->path, (int)hp_sys_getpid(), sun.sun_path,
	                         sizeof(sun.sun_path)))
		return -ENAMETOOLONG;
	int fd = high_fd(
	    hp_sys_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (fd < 0)
		return -errno;
	int err = 0;
	if (hp_sys_bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		if (err == -EADDRINUSE && stale_socket(&sun) &&
		    hp_sys_unlink(sun.sun_path) == 0)
			err = hp_sys_bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0
			          ? -errno
			          : 0;
		if (err) {
			hp_sys_close(fd);
			return err;
		}
	}
	struct stat st;
	if (fchmodat(AT_FDCWD, sun.sun_path, 0600, AT_SYMLINK_NOFOLLOW) < 0 ||
	    hp_sys_lstat(sun.sun_path, &st) < 0 || hp_sys_listen(fd, 64) < 0) {
		err = -errno;
		hp_sys_unlink(sun.sun_path);
		hp_sys_close(fd);
		return err;
	}
	memcpy(S.path, sun.sun_path, sizeof(S.path));
	S.dev = st.st_dev;
	S.ino = st.st_ino;
	hp_fmt(shown, len, "unix:%s", sun.sun_path);
	return fd;
}

static void remove_socket_file(void)
{
	struct stat st;
	if (S.path[0] && S.owner == hp_sys_getpid() && hp_sys_lstat(S.path, &st) == 0 &&
	    st.st_dev == S.dev && st.st_ino == S.ino)
		hp_sys_unlink(S.path);
	S.path[0] = '\0';
}

static int start_thread(void)
{
	hp_guard_enter(); /* what pthread_create allocates is not sampled */
	int r = hp_trigger_spawn(serve, 512 * 1024);
	hp_guard_exit();
	return r;
}

int hp_http_start(void)
{
	hp_http_addr_t a;
	if (!hp_config.http[0] || hp_http_parse_addr(hp_config.http, &a))
		return -EINVAL;
	if (!a.loopback && !hp_config.http_token[0]) {
		hp_log(
		    "HEAPPROF_HTTP=%s is not a loopback address: not serving it without "
		    "HEAPPROF_HTTP_TOKEN (then every request must carry "
		    "\"Authorization: Bearer TOKEN\")",
		    hp_config.http);
		return -EPERM;
	}
	for (int i = 0; i < MAX_CONNS; i++)
		S.c[i].fd = S.c[i].file = -1;
	S.owner = hp_sys_getpid();
	char shown[160];
	int fd = a.family == AF_UNIX ? listen_unix(&a, shown, sizeof(shown))
	                             : listen_inet(&a, shown, sizeof(shown));
	int err = fd < 0 ? fd : 0;
	if (fd >= 0) {
		lfd = fd;
		if ((err = start_thread()) < 0) {
			remove_socket_file();
			hp_sys_close(fd);
			lfd = -1;
		}
	}
	if (err) {
		hp_log(
		    "HEAPPROF_HTTP=%s: cannot serve (%s); the program runs without the "
		    "endpoint",
		    hp_config.http, strerror(-err));
		return err;
	}
	hp_proc_record_set_endpoint(shown);
	if (hp_config.verbose)
		hp_log("serving /debug/pprof/ on %s", shown);
	return 0;
}

void hp_http_fini(void)
{
	if (hp_config.http[0]) /* else S was never used: leave its page alone */
		remove_socket_file();
}

void hp_http_postfork_child(void)
{
	if (lfd < 0)
		return;
	hp_sys_close(lfd);
	lfd = -1;
	for (int i = 0; i < MAX_CONNS; i++)
		if (S.c[i].st != C_FREE)
			close_conn(&S.c[i]);
	hp_http_routes_postfork_child();
	S.path[0] = '\0'; /* the parent's, removed by the parent */
	hp_proc_record_set_endpoint(NULL);
	hp_http_addr_t a;
	hp_http_parse_addr(hp_config.http, &a);
	if ((a.family == AF_UNIX && strstr(a.path, "%p")) ||
	    (a.family != AF_UNIX && a.port == 0))
		hp_http_start();
}
