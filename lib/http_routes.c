/* SPDX-License-Identifier: MIT */
/*
 * http_routes: what each path of the endpoint answers, the table of paths
 * first: the fixed ones here, and each profile kind's paths from kinds.c
 * (heap, allocs). One profile is in progress at a time (429 otherwise).
 * It does not read, write or time connections (http.c).
 */
#include "backing.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "dump.h"
#include "http_conn.h"
#include "http_text.h"
#include "kinds.h"
#include "log.h"
#include "sampler.h"
#include "stack_table.h"
#include "symbols.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void serve_index(conn_t *c);
static void serve_cmdline(conn_t *c);
static void serve_symbol(conn_t *c);
static void serve_metrics(conn_t *c);
static void serve_delta_heap(conn_t *c);

#define PREFIX     "/debug/pprof/"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

/* The paths besides the kinds' (kinds.c); what: its line on the index, or
 * NULL for none. post: it also answers POST. */
static const struct {
	const char *path;
	void (*serve)(conn_t *c);
	bool post;
	const char *what;
} routes[] = {
    {PREFIX, serve_index, false, NULL},
    {PREFIX "cmdline", serve_cmdline, false,
     "The command line invocation of the current program"},
    {PREFIX "symbol", serve_symbol, true,
     "Function names of program counters, for go tool pprof"},
    {PREFIX "delta_heap", serve_delta_heap, false,
     "Allocations since the previous request of this path (alloc_*), and the "
     "live objects (inuse_*), as godeltaprof serves them"},
    {"/metrics", serve_metrics, false, NULL},
};

#define SECONDS_MAX 300 /* ?seconds=N: at most this */

/* The one profile in progress; the server thread's alone. */
static struct {
	bool busy;
	uint64_t busy_until; /* ms */
} P;

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
		hp_http_respond_error(c, 500, NULL);
	else
		hp_http_respond(c, 200, type, NULL, b->p, b->n, -1, 0);
	hp_real.free(b->p);
}

typedef struct {
	const char *name, *what;
} entry_t;

/* Every entry of the index, sorted by name as Go's index is; returns how many. */
static size_t index_entries(entry_t *e, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < HP_ARRAY_SIZE(routes) && n < cap; i++)
		if (routes[i].what)
			e[n++] = (entry_t){routes[i].path + PREFIX_LEN, routes[i].what};
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
	int fd = hp_sys_open("/proc/thread-self/cmdline", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		fd = hp_sys_open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC, 0);
	char chunk[4096];
	ssize_t n;
	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0 && b.n < (1u << 20))
		put(&b, chunk, (size_t)n);
	if (fd >= 0)
		hp_sys_close(fd);
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
	hp_symbols_refresh(); /* once a request: objects loaded since the last dump */
	while (hp_http_next_addr(body, &pos, &addr)) {
		/* The dumper's tables, not dladdr: a search of every symbol a time. */
		char name[1024], line[64];
		if (!hp_symbols_name_copy((uintptr_t)addr, name, sizeof(name)))
			continue;
		hp_fmt(line, sizeof(line), "0x%llx ", (unsigned long long)addr);
		puts_(&b, line);
		puts_(&b, name);
		puts_(&b, "\n");
	}
	respond_buf(c, "text/plain; charset=utf-8", &b);
}

/* The counters of every bucket now, for a delta profile. */
static int take_base(conn_t *c)
{
	c->base_ns = hp_now_ns();
	return hp_stack_table_snapshot_of(c->kind->foreach, c->kind->read, &c->base,
	                                  &c->nbase);
}

/* An anonymous file for the profile: memory, never a name on disk. */
static int scratch_file(void)
{
	int fd = hp_sys_memfd_create("heapprof-http", MFD_CLOEXEC);
	if (fd < 0)
		fd = hp_sys_open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd;
}

/* ?seconds=N of a kind with a window: opens it (kinds.h). */
static void open_window(conn_t *c)
{
	c->base_ns = hp_now_ns();
	c->window = true;
	c->kind->window(true);
}

static void close_window(conn_t *c)
{
	if (c->window)
		c->kind->window(false);
	c->window = false;
}

/* Writes the profile o describes and queues it; returns 0, or -1 after an
 * error response. */
static int write_profile(conn_t *c, hp_profile_opts_t *o)
{
	int fd = scratch_file();
	if (fd < 0) {
		hp_http_respond_error(c, 500, NULL);
		return -1;
	}
	int err = hp_dump_to_fd(fd, HP_DUMP_HTTP, o);
	off_t len = err ? -1 : hp_sys_lseek(fd, 0, SEEK_END);
	if (len < 0) {
		hp_sys_close(fd);
		hp_http_respond_error(c, err == -ESHUTDOWN ? 503 : 500, NULL);
		return -1;
	}
	hp_http_respond(c, 200, "application/octet-stream",
	                "Content-Disposition: attachment; filename=\"profile\"\r\n", NULL,
	                0, fd, (uint64_t)len);
	return 0;
}

/* Writes the profile (a delta one after ?seconds=N) and queues it. */
static void send_profile(conn_t *c)
{
	hp_profile_opts_t o = {.start_ns = c->base || c->window ? c->base_ns : 0,
	                       .kind = c->kind,
	                       .window = c->window,
	                       .default_type = c->dtype,
	                       .base = c->base,
	                       .nbase = c->nbase};
	write_profile(c, &o);
	close_window(c);
	hp_stack_table_snapshot_free(c->base);
	c->base = NULL;
	c->nbase = 0;
}

/* Takes the one profile slot for secs seconds, or answers 429 and says no. */
static bool claim(conn_t *c, uint64_t secs)
{
	uint64_t now = hp_http_now_ms();
	if (P.busy) {
		char extra[64];
		uint64_t wait =
		    P.busy_until > now ? (P.busy_until - now + 999) / 1000 : 1;
		hp_fmt(extra, sizeof(extra), "Retry-After: %llu\r\n",
		       (unsigned long long)wait);
		hp_http_respond_error(c, 429, extra);
		return false;
	}
	P.busy = c->holds = true;
	P.busy_until = now + secs * 1000;
	return true;
}

static void serve_profile(conn_t *c, const hp_kind_t *kind, const hp_sample_type_t *dtype)
{
	hp_http_str_t v;
	uint64_t secs = 0;
	if (hp_http_query(c->req.query, "seconds", &v) &&
	    !hp_http_uint(v, UINT32_MAX, &secs)) {
		hp_http_respond_error(c, 400, NULL);
		return;
	}
	if (secs > SECONDS_MAX)
		secs = SECONDS_MAX;
	if (!claim(c, secs))
		return;
	c->dtype = dtype;
	c->kind = kind;
	if (!secs) {
		send_profile(c);
	} else if (kind->window) {
		open_window(c);
		c->st = C_WAIT;
		c->deadline = P.busy_until;
	} else if (take_base(c) < 0) {
		hp_http_respond_error(c, 500, NULL);
	} else {
		c->st = C_WAIT;
		c->deadline = P.busy_until;
	}
}

/*
 * godeltaprof's /debug/pprof/delta_heap, which Grafana Alloy scrapes in its
 * delta mode: alloc_objects and alloc_space since the previous request of
 * this path (since start, the first time), inuse_* whole. The counters the
 * profile shows become the next request's base, so that an allocation is in
 * exactly one delta. The base is the server thread's alone.
 */
static struct {
	hp_profile_base_t *prev;
	size_t nprev;
	uint64_t prev_ns;
} D;

static void serve_delta_heap(conn_t *c)
{
	hp_profile_base_t *now;
	size_t nnow;
	if (!claim(c, 0))
		return;
	if (hp_stack_table_snapshot(&now, &nnow) < 0) {
		hp_http_respond_error(c, 500, NULL);
		return;
	}
	hp_profile_opts_t o = {.start_ns = D.prev ? D.prev_ns : 0,
	                       .default_type =
	                           &hp_kinds[HP_KIND_HEAP].types[HP_HEAP_ALLOC_SPACE],
	                       .base = D.prev,
	                       .nbase = D.nprev,
	                       .now = now,
	                       .nnow = nnow};
	uint64_t now_ns = hp_now_ns();
	/* A HEAD (headers only) or a failed request moves nothing on: the
	 * next one shows these allocations too. */
	if (write_profile(c, &o) || c->req.method == HP_HTTP_HEAD) {
		hp_stack_table_snapshot_free(now);
		return;
	}
	hp_stack_table_snapshot_free(D.prev);
	D.prev = now, D.nprev = nnow, D.prev_ns = now_ns;
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
	const int *refused_codes;
	const uint64_t *refused;
	size_t nrefused = hp_http_refused(&refused_codes, &refused);
	char codes[16][8];
	const char *code_names[16];
	for (size_t i = 0; i < nrefused && i < 16; i++) {
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
	         code_names, refused, nrefused < 16 ? nrefused : 16);
	respond_buf(c, "text/plain; version=0.0.4; charset=utf-8", &b);
}

/* The kind's path "/debug/pprof/NAME" names, or NULL; *kind its kind. */
static const hp_kind_path_t *kind_path(hp_http_str_t path, const hp_kind_t **kind)
{
	size_t pl = PREFIX_LEN;
	if (path.n <= pl || memcmp(path.p, PREFIX, pl))
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

/*
 * ?debug=1 of a contention kind (block, mutex): Go's text, cumulative (400
 * with ?seconds, as Go answers). False: not such a request.
 */
static bool serve_text(conn_t *c, const hp_kind_t *kind)
{
	hp_http_str_t v;
	if (!kind->suffix || !hp_http_query(c->req.query, "debug", &v) ||
	    (v.n == 1 && v.p[0] == '0'))
		return false;
	if (hp_http_query(c->req.query, "seconds", &v)) {
		hp_http_respond_why(c, 400, "seconds and debug params are incompatible");
		return true;
	}
	char *text;
	size_t n;
	const char *name = kind == &hp_kinds[HP_KIND_MUTEX] ? "mutex" : "contention";
	if (hp_http_text_contention(kind, name, &text, &n)) {
		hp_http_respond_error(c, 500, NULL);
		return true;
	}
	hp_http_respond(c, 200, "text/plain; charset=utf-8", NULL, text, n, -1, 0);
	hp_real.free(text);
	return true;
}

/* Is the request's method one the route answers? If not, a 405 is sent. */
static bool method_allowed(conn_t *c, bool post)
{
	hp_http_method_t m = c->req.method;
	if (m == HP_HTTP_GET || m == HP_HTTP_HEAD || (m == HP_HTTP_POST && post))
		return true;
	hp_http_respond_error(
	    c, 405, post ? "Allow: GET, HEAD, POST\r\n" : "Allow: GET, HEAD\r\n");
	return false;
}

void hp_http_routes_handle(conn_t *c)
{
	hp_http_str_t path = c->req.path;
	for (size_t i = 0; i < HP_ARRAY_SIZE(routes); i++) {
		if (strlen(routes[i].path) != path.n ||
		    memcmp(routes[i].path, path.p, path.n))
			continue;
		if (method_allowed(c, routes[i].post))
			routes[i].serve(c);
		return;
	}
	const hp_kind_t *kind;
	const hp_kind_path_t *kp = kind_path(path, &kind);
	if (!kp)
		hp_http_respond_error(c, 404, NULL);
	else if (method_allowed(c, false) && !serve_text(c, kind))
		serve_profile(c, kind, &kind->types[kp->default_type]);
}

void hp_http_routes_deadline(conn_t *c)
{
	send_profile(c);
}

void hp_http_routes_release(conn_t *c)
{
	if (c->holds)
		P.busy = false;
	c->holds = false;
	close_window(c);
	hp_stack_table_snapshot_free(c->base);
	c->base = NULL;
	c->nbase = 0;
}

void hp_http_routes_postfork_child(void)
{
	P.busy = false;
	/* The child's delta_heap starts from its own start, as its server does. */
	hp_stack_table_snapshot_free(D.prev);
	D.prev = NULL, D.nprev = 0;
}
