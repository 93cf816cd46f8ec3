/* SPDX-License-Identifier: MIT */
/*
 * trigger: the snapshot signal. Its handler holds no descriptor and writes
 * nothing: it sets a request bit and, when no snapshot thread exists, starts
 * one, which writes profiles (dump.c) while requests are pending and then
 * ends. So no profiler thread exists until a snapshot is asked for and none
 * outlives its work: a program's last thread still ends the process, and a
 * pre-forking server that must be single-threaded (Chromium's zygote) stays
 * so. It also watches the program's sigaction and signal calls, so that a
 * program that takes over the signal is noticed at once. It does not write
 * files (dump.c) nor publish the process record (proc_record.c).
 */
#ifndef HP_TRIGGER_H
#define HP_TRIGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Installs the handler for sig (0: none). Call once, from start-up. */
void hp_trigger_init(int sig);

/*
 * Called now and then: on a sampled allocation, in the snapshot thread,
 * at exit, and once a second from the endpoint's and the interval timer's
 * threads when they exist. Warns once if the program has kept a handler of
 * its own on the signal for a second. Takes no lock.
 */
void hp_trigger_poll(void);

/*
 * Starts fn in a detached thread of stack bytes with every signal blocked in
 * it (the snapshot thread; the endpoint's, http.c). The caller sets the guard
 * or the pool mode for what pthread_create allocates. 0 or a negative errno.
 */
int hp_trigger_spawn(void *(*fn)(void *), size_t stack);

/*
 * From a sampled allocation (record) and a sampled free (subtract), guard set,
 * no profiler lock held: the block's estimated bytes. Counts the bytes
 * allocated (HEAPPROF_DUMP_BYTES) and in use (HEAPPROF_DUMP_PEAK, _SUMMARY),
 * and asks the snapshot thread, starting it if needed, for a "bytes" profile
 * at each multiple crossed or a "peak" profile when in use grew by
 * HEAPPROF_PEAK_STEP percent over the last one asked for. Never writes.
 */
void hp_trigger_note_alloc(uint64_t bytes);
void hp_trigger_note_free(uint64_t bytes);

/* Estimated bytes in use now, and the most seen (with _DUMP_PEAK or _SUMMARY). */
int64_t hp_trigger_in_use(void);
int64_t hp_trigger_peak(void);

/* Takes one pending "bytes" profile request; false when none is pending. */
bool hp_trigger_take_bytes(void);

/*
 * HEAPPROF_DUMP_SECONDS: starts the thread that writes a "time" profile every
 * N seconds for the life of the process, every signal blocked, guard set.
 * It looks each second whether every other thread has ended, and then ends,
 * so that a program whose last thread calls pthread_exit still ends (within
 * a second). Call once, from start-up.
 */
void hp_trigger_start_timer(void);

/* Is the handler of the snapshot signal still ours? */
bool hp_trigger_handler_is_ours(void);

/*
 * Puts back the snapshot signal's disposition from before hp_trigger_init,
 * if the handler there is still ours (a detach, attach.c).
 */
void hp_trigger_release(void);

/*
 * In a forked child: no snapshot thread and no retry timer exist there, and
 * the parent's pending request is the parent's.
 */
void hp_trigger_postfork_child(void);

/*
 * Have all the other threads of the process ended? For the threads the user
 * asked to keep (HEAPPROF_DUMP_SECONDS, HEAPPROF_HTTP): when the program's
 * last thread has ended, they end too, so the C library ends the process as
 * it would have without them. Reads /proc/self/task (opened and closed here).
 */
bool hp_trigger_others_ended(void);

#endif
