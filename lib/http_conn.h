/* SPDX-License-Identifier: MIT */
/*
 * http_conn: one connection of the endpoint, as the server (http.c: reading,
 * writing, deadlines) and the routes (http_routes.c: what each path answers)
 * share it, and what each offers the other. Both run on the server thread
 * alone, so nothing here takes a lock.
 */
#ifndef HP_HTTP_CONN_H
#define HP_HTTP_CONN_H

#include "http_parse.h"
#include "kinds.h"
#include "profile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A connection's state: free; reading the request; waiting out ?seconds=N;
 * writing the response; reading what the client still sends. */
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
	const hp_kind_t *kind;         /* the profile's kind */
	bool window;                   /* ?seconds=N opened the kind's window */
	hp_profile_base_t *base;       /* ?seconds=N: the counters at the start */
	size_t nbase;
	uint64_t base_ns;
} conn_t;

/* ---- the server's, for the routes (http.c) ------------------------------ */

/* Milliseconds, CLOCK_MONOTONIC: the unit of deadlines. */
uint64_t hp_http_now_ms(void);

/*
 * Queues a response: the head, then body (copied) or flen bytes of file
 * (taken over). extra is more header lines, each ending in CRLF. The
 * connection is closed if the response cannot be queued.
 */
void hp_http_respond(conn_t *c, int status, const char *type, const char *extra,
                     const char *body, size_t blen, int file, uint64_t flen);

/* An error response with a one-line body; counted for /metrics. */
void hp_http_respond_error(conn_t *c, int status, const char *extra);
/* The same, the body saying why (why: one line). */
void hp_http_respond_why(conn_t *c, int status, const char *why);

/* The statuses counted as refused (0: any other) and their counts; how many. */
size_t hp_http_refused(const int **codes, const uint64_t **counts);

/* ---- the routes', for the server (http_routes.c) ------------------------ */

/* Answers an authorized request whose head (and POST body) is in. */
void hp_http_routes_handle(conn_t *c);

/* A connection in C_WAIT reached its deadline: the delta profile is sent. */
void hp_http_routes_deadline(conn_t *c);

/* Frees what the routes gave c (a delta base) and its profile slot. */
void hp_http_routes_release(conn_t *c);

/* In a forked child: no profile is in progress there. */
void hp_http_routes_postfork_child(void);

#endif
