/* SPDX-License-Identifier: MIT */
/*
 * fetch: profiles named by a URL (http://HOST:PORT/debug/pprof/heap, the
 * endpoint HEAPPROF_HTTP serves, or any Go program's), downloaded with
 * libcurl into memory and parsed like a file. HEAPPROF_HTTP_TOKEN, when set,
 * is sent as "Authorization: Bearer TOKEN". It does not validate profiles
 * (lib/pprof's reader) nor aggregate them (profiles.c).
 */
#include "heapprof.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_MAX (512u << 20) /* bytes: a profile larger than this is refused */

bool is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

typedef struct {
	unsigned char *p;
	size_t n, cap;
	bool too_big;
} body_t;

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	body_t *b = arg;
	size_t n = size * nmemb;
	if (b->n + n > FETCH_MAX) {
		b->too_big = true;
		return 0;
	}
	if (b->n + n > b->cap) {
		size_t cap = (b->n + n) * 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	return n;
}

/* The first line of an error body, for the message. */
static void first_line(const body_t *b, char *out, size_t len)
{
	size_t n = 0;
	while (n < b->n && n + 1 < len && b->p[n] != '\n' && b->p[n] >= ' ')
		n++;
	memcpy(out, b->p, n);
	out[n] = '\0';
}

/* Downloads url into b; 0, or -1 with err set. */
static int download(const char *url, body_t *b, char *err, size_t errlen)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	const char *token = getenv("HEAPPROF_HTTP_TOKEN");
	if (token && *token) {
		char h[512];
		snprintf(h, sizeof(h), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, h);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* ?seconds=N sends nothing for N seconds (at most 300 here, 30 in Go). */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 330L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "heapprof");
	CURLcode r = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (b->too_big) {
		snprintf(err, errlen, "larger than %u MiB", FETCH_MAX >> 20);
	} else if (r != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(r));
	} else if (status != 200) {
		char line[160];
		first_line(b, line, sizeof(line));
		snprintf(err, errlen, "HTTP %ld%s%s%s", status, line[0] ? " (" : "", line,
		         line[0] ? ")" : "");
		if (status == 401)
			snprintf(err + strlen(err), errlen - strlen(err),
			         "; set HEAPPROF_HTTP_TOKEN to the endpoint's token");
	} else {
		return 0;
	}
	return -1;
}

pp_profile_t *fetch_profile(const char *url, char *err, size_t errlen)
{
	body_t b = {0};
	pp_profile_t *p = NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!download(url, &b, err, errlen))
		p = pp_parse(b.p, b.n, err, errlen);
	free(b.p);
	return p;
}
