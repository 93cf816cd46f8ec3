/* SPDX-License-Identifier: MIT */
/*
 * http: the endpoint's server. One thread, one poll loop, non-blocking
 * sockets it created itself (close-on-exec), every signal blocked, the
 * re-entry guard set for its whole life (nothing it allocates is sampled),
 * MSG_NOSIGNAL on every send. Each connection has a deadline; one profile is
 * in progress at a time; every connection answers one request and closes.
 */
#include "http.h"
#include "backing.h"
#include "common.h"
#include "config.h"
#include "dump.h"
#include "http_parse.h"
#include "kinds.h"
#include "log.h"
#include "profile.h"
#include "proc_record.h"
#include "sampler.h"
#include "stack_table.h"
#include "trigger.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS   32
#define READ_MS     5000  /* the whole request must arrive within this */
#define WRITE_MS    10000 /* a response may stall this long at most, */
#define SEND_MS     60000 /* and take this long in all (a trickling reader) */
#define DRAIN_MS    1000  /* reading what a client still sends, after ours */
#define BODY_MAX    (1u << 20)
#define SECONDS_MAX 300

enum { C_FREE, C_READ, C_WAIT, C_WRITE, C_DRAIN };

typedef struct {
	int fd, st;
	uint64_t deadline; /* ms, CLOCK_MONOTONIC */
	uint64_t send_end; /* ms: the response must be sent by then */
	char *in;          /* the request: head, then body */
	size_t nin, cap;
	hp_http_req_t req;
	bool head_only;
	char *out; /* response head and small bodies */
	size_t nout, sent;
	int file; /* a profile (memfd), streamed after out; -1 none */
	uint64_t foff, flen;
	bool holds;                    /* owns the one profile slot */
	const hp_sample_type_t *dtype; /* the default sample type */
	hp_profile_base_t *base;       /* ?seconds=N: the counters at the start */
	size_t nbase;
	uint64_t base_ns;
} conn_t;

/* The server's state: the server thread's alone (and a forked child's, where
 * that thread does not exist), so no lock. */
static struct {
	int lfd; /* -1: no server */
	pid_t owner;
	char path[HP_HTTP_PATH_MAX]; /* the unix socket we created, or "" */
	dev_t dev;
	ino_t ino;
	bool busy;                         /* a profile is in progress */
	bool stopped;                      /* the program closed our listening socket */
	bool alone;                        /* every thread of the program has ended */
	uint64_t busy_until, accept_after; /* ms */
	conn_t c[MAX_CONNS];
	uint64_t refused[12]; /* error responses, by refused_codes' index */
} S = {.lfd = -1};

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

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- connections ------------------------------------------------------ */

static void release(conn_t *c)
{
	if (c->holds)
		S.busy = false;
	c->holds = false;
	hp_real.free(c->base);
	c->base = NULL;
	c->nbase = 0;
}

/* Frees what the connection holds; closes its descriptors if close_fds. */
static void drop_conn(conn_t *c, bool close_fds)
{
	release(c);
	if (close_fds) {
		close(c->fd);
		if (c->file >= 0)
			close(c->file);
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
static void respond(conn_t *c, int status, const char *type, const char *extra,
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
			close(file), file = -1;
	}
	c->out = hp_real.malloc(hlen + blen);
	if (!c->out) {
		if (file >= 0)
			close(file);
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
	c->send_end = now_ms() + SEND_MS;
	c->deadline = now_ms() + WRITE_MS;
}

static void respond_error(conn_t *c, int status, const char *extra)
{
	char body[64];
	size_t n = hp_fmt(body, sizeof(body), "%d %s\n", status, reason(status));
	count_refused(status);
	respond(c, status, "text/plain; charset=utf-8", extra, body, n, -1, 0);
}

/* ---- a growing buffer, for the bodies made here ------------------------ */

typedef struct {
	char *p;
	size_t n, cap;
	bool oom;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = (b->n + n) * 2 + 256;
		char *p = hp_real.realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void puts_(buf_t *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Sends b as the body (or 500 if it could not be built) and frees it. */
static void respond_buf(conn_t *c, const char *type, buf_t *b)
{
	if (b->oom)
		respond_error(c, 500, NULL);
	else
		respond(c, 200, type, NULL, b->p, b->n, -1, 0);
	hp_real.free(b->p);
}

/* ---- the paths ---------------------------------------------------------- */

/* The index's entries besides the kinds' paths (kinds.c). */
static const struct {
	const char *name, *what;
} others[] = {
    {"cmdline", "The command line invocation of the current program"},
    {"symbol", "Function names of program counters, for go tool pprof"},
};

typedef struct {
	const char *name, *what;
} entry_t;

/* Every entry of the index, sorted by name as Go's index is; returns how many. */
static size_t index_entries(entry_t *e, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < HP_ARRAY_SIZE(others) && n < cap; i++)
		e[n++] = (entry_t){others[i].name, others[i].what};
	for (size_t k = 0; k < HP_NKINDS; k++)
		for (size_t i = 0; i < hp_kinds[k].npaths && n < cap; i++)
			e[n++] = (entry_t){hp_kinds[k].paths[i].path,
			                   hp_kinds[k].paths[i].what};
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(e[j - 1].name, e[j].name) > 0; j--) {
			entry_t t = e[j];
			e[j] = e[j - 1];
			e[j - 1] = t;
		}
	return n;
}

static void serve_index(conn_t *c)
{
	hp_http_str_t v;
	bool text = hp_http_query(c->req.query, "debug", &v) && v.n == 1 && v.p[0] == '1';
	entry_t e[32];
	size_t n = index_entries(e, HP_ARRAY_SIZE(e));
	buf_t b = {0};
	if (!text)
		puts_(&b,
		      "<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n"
		      "/debug/pprof/<br>\n<br>\nTypes of profiles available:\n<ul>\n");
	for (size_t i = 0; i < n; i++) {
		char line[256];
		hp_fmt(line, sizeof(line),
		       text ? "%s: %s\n" : "<li><a href=\"%s?debug=0\">%s</a>: %s</li>\n",
		       e[i].name, text ? e[i].what : e[i].name, e[i].what);
		puts_(&b, line);
	}
	if (!text)
		puts_(&b, "</ul>\n<p>Served by libheapprof " PACKAGE_VERSION
		          " (HEAPPROF_HTTP).</p>\n</body>\n</html>\n");
	respond_buf(c, text ? "text/plain; charset=utf-8" : "text/html; charset=utf-8",
	            &b);
}

/* The arguments separated by NUL bytes, as Go's cmdline handler sends them. */
static void serve_cmdline(conn_t *c)
{
	buf_t b = {0};
	int fd = open("/proc/thread-self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	char chunk[4096];
	ssize_t n;
	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0 && b.n < (1u << 20))
		put(&b, chunk, (size_t)n);
	if (fd >= 0)
		close(fd);
	if (b.n && b.p[b.n - 1] == '\0')
		b.n--;
	respond_buf(c, "text/plain; charset=utf-8", &b);
}

/* Go's symbol protocol: GET says symbols are served; POST resolves
 * "0xADDR+0xADDR..." into "0xADDR name" lines, unknown addresses left out. */
static void serve_symbol(conn_t *c)
{
	buf_t b = {0};
	if (c->req.method != HP_HTTP_POST) {
		puts_(&b, "num_symbols: 1\n");
		respond_buf(c, "text/plain; charset=utf-8", &b);
		return;
	}
	hp_http_str_t body = {c->in + c->req.head_len, (size_t)c->req.content_length};
	size_t pos = 0;
	uint64_t addr;
	while (hp_http_next_addr(body, &pos, &addr)) {
		Dl_info info;
		if (!dladdr((void *)(uintptr_t)addr, &info) || !info.dli_sname)
			continue;
		char line[64];
		hp_fmt(line, sizeof(line), "0x%llx ", (unsigned long long)addr);
		puts_(&b, line);
		puts_(&b, info.dli_sname);
		puts_(&b, "\n");
	}
	respond_buf(c, "text/plain; charset=utf-8", &b);
}

static void take_bucket(const hp_bucket_t *bk, void *arg)
{
	conn_t *c = arg;
	if (!c->base)
		return;
	if ((c->nbase & (c->nbase - 1)) == 0 && c->nbase >= 64) {
		void *p = hp_real.realloc(c->base, c->nbase * 2 * sizeof(*c->base));
		if (!p) {
			hp_real.free(c->base);
			c->base = NULL;
			return;
		}
		c->base = p;
	}
	c->base[c->nbase].bucket = bk;
	hp_stack_table_read(bk, &c->base[c->nbase++].counts);
}

static int cmp_bucket(const void *a, const void *b)
{
	const hp_bucket_t *x = ((const hp_profile_base_t *)a)->bucket;
	const hp_bucket_t *y = ((const hp_profile_base_t *)b)->bucket;
	return x < y ? -1 : x > y;
}

/* The counters of every bucket now, sorted by bucket, for a delta profile. */
static int take_base(conn_t *c)
{
	c->nbase = 0;
	c->base = hp_real.malloc(64 * sizeof(*c->base));
	hp_stack_table_foreach(take_bucket, c);
	if (!c->base)
		return -ENOMEM;
	qsort(c->base, c->nbase, sizeof(*c->base), cmp_bucket);
	c->base_ns = hp_now_ns();
	return 0;
}

/* An anonymous file for the profile: memory, never a name on disk. */
static int scratch_file(void)
{
	int fd = memfd_create("heapprof-http", MFD_CLOEXEC);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd;
}

/* Writes the profile (a delta one after ?seconds=N) and queues it. */
static void send_profile(conn_t *c)
{
	int fd = scratch_file();
	if (fd < 0) {
		respond_error(c, 500, NULL);
		return;
	}
	hp_profile_opts_t o = {.start_ns = c->base ? c->base_ns : 0,
	                       .default_type = c->dtype,
	                       .base = c->base,
	                       .nbase = c->nbase};
	int err = hp_dump_to_fd(fd, HP_DUMP_HTTP, &o);
	off_t len = err ? -1 : lseek(fd, 0, SEEK_END);
	hp_real.free(c->base);
	c->base = NULL;
	c->nbase = 0;
	if (len < 0) {
		close(fd);
		respond_error(c, err == -ESHUTDOWN ? 503 : 500, NULL);
		return;
	}
	respond(c, 200, "application/octet-stream",
	        "Content-Disposition: attachment; filename=\"profile\"\r\n", NULL, 0, fd,
	        (uint64_t)len);
}

static void serve_profile(conn_t *c, const hp_sample_type_t *dtype)
{
	hp_http_str_t v;
	uint64_t secs = 0;
	if (hp_http_query(c->req.query, "seconds", &v) &&
	    !hp_http_uint(v, UINT32_MAX, &secs)) {
		respond_error(c, 400, NULL);
		return;
	}
	if (secs > SECONDS_MAX)
		secs = SECONDS_MAX;
	uint64_t now = now_ms();
	if (S.busy) {
		char extra[64];
		uint64_t wait =
		    S.busy_until > now ? (S.busy_until - now + 999) / 1000 : 1;
		hp_fmt(extra, sizeof(extra), "Retry-After: %llu\r\n",
		       (unsigned long long)wait);
		respond_error(c, 429, extra);
		return;
	}
	S.busy = c->holds = true;
	S.busy_until = now + secs * 1000;
	c->dtype = dtype;
	if (!secs) {
		send_profile(c);
	} else if (take_base(c) < 0) {
		respond_error(c, 500, NULL);
	} else {
		c->st = C_WAIT;
		c->deadline = S.busy_until;
	}
}

/* The kind's path "/debug/pprof/NAME" names, or NULL; *kind its kind. */
static const hp_kind_path_t *kind_path(hp_http_str_t path, const hp_kind_t **kind)
{
	static const char prefix[] = "/debug/pprof/";
	size_t pl = sizeof(prefix) - 1;
	if (path.n <= pl || memcmp(path.p, prefix, pl))
		return NULL;
	for (size_t k = 0; k < HP_NKINDS; k++)
		for (size_t i = 0; i < hp_kinds[k].npaths; i++) {
			const char *name = hp_kinds[k].paths[i].path;
			if (strlen(name) == path.n - pl &&
			    !memcmp(name, path.p + pl, path.n - pl)) {
				*kind = &hp_kinds[k];
				return &hp_kinds[k].paths[i];
			}
		}
	return NULL;
}

/* ---- /metrics: Prometheus' text format 0.0.4 ---------------------------- */

/* Each sample type's sum over the buckets, each rounded as a profile shows it. */
typedef struct {
	int64_t v[HP_NKINDS][HP_KIND_TYPES_MAX];
} totals_t;

/* Sums the buckets' counters, lock-free, the way a profile reads them. */
static void add_bucket(const hp_bucket_t *b, void *arg)
{
	totals_t *t = arg;
	hp_counts_t c;
	hp_stack_table_read(b, &c);
	for (size_t k = 0; k < HP_NKINDS; k++)
		for (size_t i = 0; i < hp_kinds[k].ntypes; i++)
			t->v[k][i] += hp_kind_value(&hp_kinds[k].types[i], &c);
}

/* One metric without labels: its HELP, TYPE and value. */
static void metric(buf_t *b, const char *name, const char *type, const char *help,
                   unsigned long long v)
{
	char line[320];
	size_t n = hp_fmt(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
	                  name, help, name, type, name, v);
	put(b, line, n);
}

/* A counter with one label: HELP, TYPE, and a line per value. */
static void labelled(buf_t *b, const char *name, const char *help, const char *label,
                     const char *const *vals, const uint64_t *counts, size_t n)
{
	char line[320];
	put(b, line,
	    hp_fmt(line, sizeof(line), "# HELP %s %s\n# TYPE %s counter\n", name, help,
	           name));
	for (size_t i = 0; i < n; i++)
		put(b, line,
		    hp_fmt(line, sizeof(line), "%s{%s=\"%s\"} %llu\n", name, label,
		           vals[i], (unsigned long long)counts[i]));
}

static void serve_metrics(conn_t *c)
{
	totals_t t = {0};
	hp_stack_table_foreach(add_bucket, &t);
	uint64_t written[HP_DUMP_NREASONS], failed[HP_DUMP_NREASONS];
	hp_dump_counts(written, failed);
	const char *reason_names[HP_DUMP_NREASONS];
	for (size_t i = 0; i < HP_DUMP_NREASONS; i++)
		reason_names[i] = hp_dump_reasons[i].name;
	char codes[12][8];
	const char *code_names[12];
	for (size_t i = 0; i < 12; i++) {
		hp_fmt(codes[i], sizeof(codes[i]), "%d", refused_codes[i]);
		code_names[i] = refused_codes[i] ? codes[i] : "other";
	}
	buf_t b = {0};
	for (size_t k = 0; k < HP_NKINDS; k++)
		for (size_t i = 0; i < hp_kinds[k].ntypes; i++) {
			const hp_sample_type_t *st = &hp_kinds[k].types[i];
			if (st->metric)
				metric(
				    &b, st->metric, st->metric_type, st->help,
				    (unsigned long long)(t.v[k][i] < 0 ? 0 : t.v[k][i]));
		}
	metric(&b, "heapprof_samples_total", "counter",
	       "Allocations sampled since start.", hp_stack_table_samples());
	metric(&b, "heapprof_sampling_rate_bytes", "gauge",
	       "Mean bytes between samples (HEAPPROF_RATE; 1: every allocation).",
	       hp_sampler_rate());
	labelled(&b, "heapprof_profiles_written_total", "Profiles written, by reason.",
	         "reason", reason_names, written, HP_DUMP_NREASONS);
	labelled(&b, "heapprof_profiles_failed_total",
	         "Profiles that could not be written, by reason.", "reason", reason_names,
	         failed, HP_DUMP_NREASONS);
	labelled(&b, "heapprof_http_requests_refused_total",
	         "Requests to the endpoint answered with an error, by status.", "code",
	         code_names, S.refused, 12);
	respond_buf(c, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static const struct {
	const char *path;
	void (*serve)(conn_t *c);
	bool post;
} routes[] = {
    {"/debug/pprof/", serve_index, false},
    {"/debug/pprof/cmdline", serve_cmdline, false},
    {"/debug/pprof/symbol", serve_symbol, true},
    {"/metrics", serve_metrics, false},
};

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
	if (hp_config.http_token[0] && !authorized(q->auth)) {
		respond_error(c, 401, "WWW-Authenticate: Bearer realm=\"heapprof\"\r\n");
		return;
	}
	for (size_t i = 0; i < HP_ARRAY_SIZE(routes); i++) {
		if (strlen(routes[i].path) != q->path.n ||
		    memcmp(routes[i].path, q->path.p, q->path.n))
			continue;
		if (q->method == HP_HTTP_GET || q->method == HP_HTTP_HEAD ||
		    (q->method == HP_HTTP_POST && routes[i].post))
			routes[i].serve(c);
		else
			respond_error(c, 405,
			              routes[i].post ? "Allow: GET, HEAD, POST\r\n"
			                             : "Allow: GET, HEAD\r\n");
		return;
	}
	const hp_kind_t *kind;
	const hp_kind_path_t *kp = kind_path(q->path, &kind);
	if (!kp)
		respond_error(c, 404, NULL);
	else if (q->method == HP_HTTP_GET || q->method == HP_HTTP_HEAD)
		serve_profile(c, &kind->types[kp->default_type]);
	else
		respond_error(c, 405, "Allow: GET, HEAD\r\n");
}

/* ---- reading and writing ------------------------------------------------ */

/* Once the head is in: waits for a POST body, then answers. */
static void try_request(conn_t *c)
{
	int r = hp_http_parse(c->in, c->nin, &c->req);
	if (r == 0)
		return;
	if (r < 0) {
		respond_error(c, -r, NULL);
		return;
	}
	if (c->req.method == HP_HTTP_POST) {
		if (c->req.content_length > BODY_MAX) {
			respond_error(c, 413, NULL);
			return;
		}
		size_t need = c->req.head_len + (size_t)c->req.content_length;
		if (c->nin < need) {
			if (need > c->cap) {
				char *p = hp_real.realloc(c->in, need);
				if (!p) {
					respond_error(c, 500, NULL);
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
		ssize_t n = recv(c->fd, c->in + c->nin, c->cap - c->nin, MSG_DONTWAIT);
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
	release(c);
	shutdown(c->fd, SHUT_WR);
	c->st = C_DRAIN;
	c->deadline = now_ms() + DRAIN_MS;
}

static void on_drain(conn_t *c)
{
	char sink[4096];
	ssize_t n;
	while ((n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		fail_conn(c);
}

/* Sends what it can; false when the connection had to be closed. */
static bool send_some(conn_t *c, const char *p, size_t n, size_t *done)
{
	ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return true;
	if (w <= 0) {
		fail_conn(c);
		return false;
	}
	*done += (size_t)w;
	uint64_t next = now_ms() + WRITE_MS;
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
		ssize_t n = pread(c->file, chunk, sizeof(chunk), (off_t)c->foff);
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
		send_profile(c); /* the end of a ?seconds=N window */
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
		int fd = accept4(S.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
			send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
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
	uint64_t now = now_ms(), next = UINT64_MAX;
	if (now >= S.accept_after)
		pfd[n++] = (struct pollfd){.fd = S.lfd, .events = POLLIN};
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
	int ready = poll(pfd, (nfds_t)n, timeout);
	if (ready < 0) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
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
	now = now_ms();
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
	prctl(PR_SET_NAME, "heapprof-http");
	while (!S.stopped && !S.alone)
		serve_once();
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
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
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
	int fd =
	    high_fd(socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		int err = -errno;
		close(fd);
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
	if (lstat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != geteuid())
		return false;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool stale = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 &&
	             errno == ECONNREFUSED;
	close(fd);
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
	if (!hp_http_expand_path(a->path, (int)getpid(), sun.sun_path,
	                         sizeof(sun.sun_path)))
		return -ENAMETOOLONG;
	int fd = high_fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (fd < 0)
		return -errno;
	int err = 0;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		if (err == -EADDRINUSE && stale_socket(&sun) && unlink(sun.sun_path) == 0)
			err = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno
			                                                         : 0;
		if (err) {
			close(fd);
			return err;
		}
	}
	struct stat st;
	if (fchmodat(AT_FDCWD, sun.sun_path, 0600, AT_SYMLINK_NOFOLLOW) < 0 ||
	    lstat(sun.sun_path, &st) < 0 || listen(fd, 64) < 0) {
		err = -errno;
		unlink(sun.sun_path);
		close(fd);
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
	if (S.path[0] && S.owner == getpid() && lstat(S.path, &st) == 0 &&
	    st.st_dev == S.dev && st.st_ino == S.ino)
		unlink(S.path);
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
	S.owner = getpid();
	char shown[160];
	int fd = a.family == AF_UNIX ? listen_unix(&a, shown, sizeof(shown))
	                             : listen_inet(&a, shown, sizeof(shown));
	int err = fd < 0 ? fd : 0;
	if (fd >= 0) {
		S.lfd = fd;
		if ((err = start_thread()) < 0) {
			remove_socket_file();
			close(fd);
			S.lfd = -1;
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
	remove_socket_file();
}

void hp_http_postfork_child(void)
{
	if (S.lfd < 0)
		return;
	close(S.lfd);
	S.lfd = -1;
	for (int i = 0; i < MAX_CONNS; i++)
		if (S.c[i].st != C_FREE)
			close_conn(&S.c[i]);
	S.busy = false;
	S.path[0] = '\0'; /* the parent's, removed by the parent */
	hp_proc_record_set_endpoint(NULL);
	hp_http_addr_t a;
	hp_http_parse_addr(hp_config.http, &a);
	if ((a.family == AF_UNIX && strstr(a.path, "%p")) ||
	    (a.family != AF_UNIX && a.port == 0))
		hp_http_start();
}
