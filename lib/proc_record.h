/* SPDX-License-Identifier: MIT */
/*
 * proc_record: the process record, the small per-process file that says
 * "this process is profiled, with this signal, writing here", read by
 * `heapprof snapshot` and `heapprof ps` instead of the process's environment,
 * which programs rewrite. It does not install handlers (trigger.c) nor read
 * the configuration.
 *
 * The file is /tmp/heapprof-<euid>/<pid>, mode 0600, in a directory of mode
 * 0700 owned by the effective user (like the JVM's /tmp/hsperfdata_<user>).
 * Each write opens, writes and closes in one operation: no descriptor is
 * kept. A new record is a spare file left by an earlier process, rewritten
 * under a name of this process's own and renamed to its pid, or, with no
 * spare, made under its name with one write (a reader may find it empty
 * for that moment, never partial); at exit (exit or _exit) it becomes a
 * spare again, or is removed when the spares are all there (proc_record.c
 * says why). A rewrite goes through a
 * temporary name renamed into place, so readers see the whole new record or
 * the previous one. A record already saying the same is left as it is.
 */
#ifndef HP_PROC_RECORD_H
#define HP_PROC_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#define HP_PROC_RECORD_DIR_FMT "/tmp/heapprof-%u"

/*
 * Publishes the record of this process: at start-up, and in a forked child
 * (under the child's pid). sig is the snapshot signal (0: none), prefix the
 * absolute output prefix. Logs once and returns a negative errno if the
 * directory is not private to this user; the program carries on.
 */
int hp_proc_record_publish(int sig, const char *prefix);

/*
 * Rewrites the record with the handler's state: ours is false once the
 * program installed its own handler for the snapshot signal. Async-signal-
 * safe (programs call sigaction from handlers): only system calls and
 * stack buffers.
 */
void hp_proc_record_set_handler(bool ours);

/*
 * Sets the endpoint the record names ("endpoint ADDR", HEAPPROF_HTTP as
 * bound: the real port, the socket path with the pid); NULL or "" for none.
 * Rewrites the record if it is published.
 */
void hp_proc_record_set_endpoint(const char *addr);

/*
 * Sets the output prefix the record names (dump.c's fallback after a change
 * of user) and rewrites the record if it is published.
 */
void hp_proc_record_set_output(const char *prefix);

/*
 * The directory of the effective user's records into buf, created 0700 if
 * missing: 0, or a negative errno if it is not private to this user.
 */
int hp_proc_record_private_dir(char *buf, size_t len);

/* Retires the record at exit (a spare, or removed), if this process published
 * it. Async-signal-safe: _exit calls it. */
void hp_proc_record_remove(void);

/*
 * A change of user: the interposed setuid, seteuid, setreuid and setresuid
 * move the record to the new effective user's directory themselves (a
 * worker of nginx, Apache or sshd that drops root after the fork); this
 * catches a change made another way (a raw system call): dump.c calls it
 * before each profile.
 */
void hp_proc_record_check_uid(void);

/* Finds the C library's setuid family for the wrappers: at start-up. */
void hp_proc_record_resolve(void);

#endif
