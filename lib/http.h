/* SPDX-License-Identifier: MIT */
/*
 * http: the /debug/pprof/ endpoint (HEAPPROF_HTTP), served as Go's
 * net/http/pprof serves it, by one thread of its own that exists only when
 * the variable is set. It does not parse requests (http_parse.c) nor encode
 * profiles (profile.c, through dump.c's lock).
 */
#ifndef HP_HTTP_H
#define HP_HTTP_H

/*
 * Binds hp_config.http and starts the server thread; names the endpoint in
 * the process record. Refuses a non-loopback address without
 * HEAPPROF_HTTP_TOKEN. Logs once and returns a negative errno on failure; the
 * program carries on without an endpoint.
 */
int hp_http_start(void);

/* At exit: removes the unix socket this process created. */
void hp_http_fini(void);

/*
 * In a forked child, before its record is published: the server thread does
 * not exist there; the parent's sockets, which the fork copied, are closed
 * (they are the profiler's own). A server of the child's own starts when its
 * address cannot be the parent's: a unix path with %p, or port 0.
 */
void hp_http_postfork_child(void);

#endif
