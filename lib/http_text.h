/* SPDX-License-Identifier: MIT */
/*
 * http_text: the endpoint's debug=1 text of a contention profile, as Go
 * prints it (http_text.c).
 */
#ifndef HP_HTTP_TEXT_H
#define HP_HTTP_TEXT_H

#include "kinds.h"

#include <stddef.h>

/*
 * The text of kind (block or mutex) under Go's header name ("contention"
 * for block, "mutex" for mutex): *out from the backing allocator (free it
 * with hp_real.free), *len its length. Returns 0, or -1 without memory.
 */
int hp_http_text_contention(const hp_kind_t *kind, const char *name, char **out,
                            size_t *len);

#endif
