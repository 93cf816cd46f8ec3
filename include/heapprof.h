/* SPDX-License-Identifier: MIT */
/*
 * heapprof.h: the public API of libheapprof, for programs that want to write
 * a heap profile themselves. Everything else is configured through HEAPPROF_*
 * environment variables (see README.md).
 *
 * To call it without depending on the library at link time (it is usually
 * LD_PRELOADed), declare it weak and check it is there:
 *
 *     #pragma weak heapprof_dump
 *     if (heapprof_dump) heapprof_dump(NULL);
 */
#ifndef HEAPPROF_H
#define HEAPPROF_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes a gzipped pprof heap profile of the calling process.
 * path NULL: to "<HEAPPROF_OUTPUT>.<pid>.<seq>.api.pb.gz", never overwriting
 * an existing file. Otherwise to exactly path, replacing it atomically.
 * The file appears complete or not at all (temporary file, then rename).
 * Returns 0, or a negative errno: -ENOSPC, -EACCES, ... for I/O errors,
 * -ENOTSUP when profiling is off (HEAPPROF_RATE=0) or the library has not
 * finished starting, -ESHUTDOWN once the final profile has been written at
 * exit. Thread-safe; do not call it from a signal handler.
 */
int heapprof_dump(const char *path);

#ifdef __cplusplus
}
#endif

#endif
