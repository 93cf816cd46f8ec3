/* SPDX-License-Identifier: MIT */
/*
 * write: a profile packed and written gzipped, pprof's framing, for merge
 * and symbolize. Building the profile is theirs.
 */
#include "heapprof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void write_profile(const pp_profile_t *p, const char *path)
{
	size_t len = perftools__profiles__profile__get_packed_size(p);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		die("out of memory");
	perftools__profiles__profile__pack(p, buf);
	gzFile f = gzopen(path, "wb");
	if (!f)
		die("%s: cannot write: %s", path, strerror(errno));
	bool ok = len == 0 || gzwrite(f, buf, (unsigned)len) == (int)len;
	if (gzclose(f) != Z_OK || !ok)
		die("%s: write error", path);
	free(buf);
}
