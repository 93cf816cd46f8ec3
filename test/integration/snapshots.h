/* SPDX-License-Identifier: MIT */
/*
 * snapshots.h: what the test programs that ask themselves for snapshots
 * share: counting the snapshot files in the output directory.
 */
#ifndef HP_TEST_SNAPSHOTS_H
#define HP_TEST_SNAPSHOTS_H

#include <dirent.h>
#include <string.h>

/* Number of *.signal.pb.gz files in dir, or -1 if it cannot be read. */
static inline int count_snapshot_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	const char *suffix = ".signal.pb.gz";
	size_t sl = strlen(suffix);
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (len > sl && !strcmp(e->d_name + len - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

#endif
