/* SPDX-License-Identifier: MIT */
/*
 * init: start-up order, the exit dump and the fork handlers. Start-up runs
 * from the constructor (or earlier, from the first allocation, for the
 * backing allocator only). The lock order every module follows is the order
 * of prefork(): dump, symbols, stack table, live map, metadata arena.
 */
#include "attach.h"
#include "backing.h"
#include "common.h"
#include "config.h"
#include "contention.h"
#include "dump.h"
#include "interpose.h"
#include "limit.h"
#include "http.h"
#include "lifetimes.h"
#include "live_map.h"
#include "locks.h"
#include "log.h"
#include "meta_alloc.h"
#include "profile.h"
#include "proc_record.h"
#include "rulecache.h"
#include "sampler.h"
#include "stack.h"
#include "stack_table.h"
#include "summary.h"
#include "symbols.h"
#include "trigger.h"
#include "unwind_fast.h"
#include "unwind_io.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <unistd.h>

/*
 * A fork by a process that never started a second thread (glibc's
 * __libc_single_threaded): no lock of ours can be held by another thread, so none is
 * taken before it nor released after it in the parent (each lock taken and released is a
 * page written on both sides of the fork: a copy-on-write fault each, in a shell that
 * forks for every subshell). The child still resets every lock that reads as held: the
 * code the fork interrupted (from a signal handler) may hold one. One bit a level of
 * forks nested in signal handlers, in the thread's own memory: a nested fork must not
 * change what the outer one's handlers do.
 */
static HP_TLS unsigned fork_alone_bits, fork_depth;

static bool fork_alone(void)
{
	return fork_depth && (fork_alone_bits >> ((fork_depth - 1) & 31)) & 1;
}

/*
 * The guard is set from prefork to postfork, so that a snapshot signal that
 * arrives in between starts no thread in this one (trigger.c): it would need
 * the locks prefork holds.
 */
static void prefork(void)
{
	/* Even from a handler that interrupted the profiler: the locks the
	 * interrupted code may hold are this thread's (taking them would wait
	 * for ever), those a fork nested in a handler during this one's
	 * handlers would find held too; the child resets them all. */
	bool alone = __libc_single_threaded;
	hp_guard_enter();
	unsigned bit = 1u << (fork_depth++ & 31);
	fork_alone_bits = alone ? fork_alone_bits | bit : fork_alone_bits & ~bit;
	if (alone)
		return;
	hp_dump_prefork();
	hp_symbols_prefork();
	hp_stack_table_prefork();
	hp_live_map_prefork();
	hp_lifetimes_prefork();
	hp_meta_prefork();
	hp_stack_prefork();
}

static void postfork_parent(void)
{
	bool alone = fork_alone();
	fork_depth--;
	HP_RESET(hp_profile_forked, true); /* written once: a page of the parent's */
	if (alone) {
		hp_guard_exit();
		return;
	}
	hp_stack_postfork_parent();
	hp_meta_postfork_parent();
	hp_lifetimes_postfork_parent();
	hp_live_map_postfork_parent();
	hp_stack_table_postfork_parent();
	hp_symbols_postfork_parent();
	hp_dump_postfork_parent();
	hp_guard_exit();
}

static void postfork_child(void)
{
	fork_depth--;
	HP_RESET(hp_profile_forked, false);
	hp_stack_postfork_child();
	hp_unwind_fast_postfork_child();
	hp_rulecache_postfork_child();
	hp_meta_postfork_child();
	hp_live_map_postfork_child();
	hp_stack_table_postfork_child();
	hp_symbols_postfork_child();
	hp_lifetimes_postfork_child();
	hp_dump_postfork_child();
	hp_contention_postfork_child();
	hp_trigger_postfork_child();
	hp_limit_postfork_child();
	hp_http_postfork_child();
	hp_proc_record_publish(hp_config.signal, hp_dump_prefix());
	hp_guard_exit();
}

/*
 * HEAPPROF_FOLLOW_EXEC=0: take this library out of LD_PRELOAD so that what
 * the program executes runs unprofiled. The string is edited in place (it
 * only gets shorter): setenv could allocate and race with getenv, and no
 * other thread exists yet.
 */
static void stop_following_exec(void)
{
	Dl_info self;
	if (!dladdr((void *)stop_following_exec, &self) || !self.dli_fname)
		return;
	const char *me = strrchr(self.dli_fname, '/');
	me = me ? me + 1 : self.dli_fname;
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "LD_PRELOAD=", 11))
			continue;
		char *out = *e + 11, *in = out;
		while (*in) {
			while (*in == ' ' || *in == ':')
				in++;
			char *tok = in;
			while (*in && *in != ' ' && *in != ':')
				in++;
			size_t len = (size_t)(in - tok);
			const char *base = tok;
			for (const char *c = tok; c < in; c++)
				if (*c == '/')
					base = c + 1;
			if (!len || ((size_t)(in - base) == strlen(me) &&
			             !strncmp(base, me, strlen(me))))
				continue;
			if (out != *e + 11)
				*out++ = ' ';
			memmove(out, tok, len);
			out += len;
		}
		*out = '\0';
	}
}

/* Start-up after the configuration is read: from the constructor or attach.c. */
void hp_init_start(void)
{
	if (hp_config.verbose)
		hp_config_print();
	if (!hp_config.follow_exec)
		stop_following_exec();
	hp_meta_set_limit(hp_config.metadata_max);
	uint64_t rate = hp_config.rate;
	if (rate == 0) {
		hp_sampler_init(0, 0); /* off: forward only, no signal, no files */
		/* The lock functions, C++ operators and signal functions forward
		 * too: resolved now, before any thread, not at a first call, whose
		 * dlsym would wait for the loader's lock (loader_lock.sh). */
		hp_locks_enable(false, false);
		hp_interpose_find_operators();
		hp_trigger_init(0); /* the signal functions: no handler */
		if (hp_config.http[0])
			hp_log("HEAPPROF_HTTP=%s: not served, HEAPPROF_RATE=0 turns the "
			       "profiler off",
			       hp_config.http);
		return;
	}
	/* Attached, the modules' GOT slots are ours whatever the lookup finds. */
	const char *foreign = hp_attach_is_preloaded() ? hp_backing_foreign() : NULL;
	if (foreign)
		hp_log("%s (see \"Programs with their own allocator\" in the README)",
		       foreign);
	hp_live_map_init(rate == 1, hp_config.lifetimes);
	hp_lifetimes_init(hp_config.lifetimes);
	hp_guard_enter();
	hp_stack_init();
	/* The registry of objects, which the exit profile reads anyway: read
	 * now, the children the program forks inherit it instead of each
	 * reading every object's note again (a subshell: five pages faulted). */
	if (hp_config.at_exit) {
		hp_symbols_refresh();
		/* The walker's rules that earlier runs of this program kept,
		 * by the objects' build IDs that the registry holds. */
		if (hp_attach_is_preloaded())
			hp_rulecache_load();
	}
	hp_guard_exit();
	hp_dump_init(hp_now_ns());
	hp_trigger_init(hp_config.signal);
	hp_limit_init(); /* HEAPPROF_DUMP_LIMIT: before any other thread */
	if (hp_config.http[0])
		hp_http_start();  /* the one resident thread, by the user's choice */
	hp_trigger_start_timer(); /* HEAPPROF_DUMP_SECONDS, by the user's choice */
	hp_proc_record_publish(hp_config.signal, hp_dump_prefix());
	pthread_atfork(prefork, postfork_parent, postfork_child);
	hp_interpose_init(rate);
	hp_interpose_find_operators(); /* after: it may turn page mode off */
	hp_sampler_init(rate, hp_config.seed);
	hp_contention_init(hp_config.block_rate, hp_config.mutex_fraction);
	hp_locks_enable(hp_config.block_rate != 0, hp_config.mutex_fraction != 0);
}

/*
 * The library is linked without the C start files (-nostartfiles,
 * Makefile.am): their exit-time hook, crtbegin.o's, calls __cxa_finalize,
 * which walks the program's whole list of exit handlers (a compiler's
 * thousands) to unregister what this library never unloads, and their
 * weak references (_ITM_*, __gmon_start__) are each looked for through
 * every loaded object. This is the handle they would define, under which
 * pthread_atfork registers the fork handlers.
 */
HP_HIDDEN void *__dso_handle = &__dso_handle;

/* glibc calls a constructor with the program's arguments: the profiles'
 * command line comes from them. */
__attribute__((constructor)) static void hp_init(int argc, char **argv)
{
	if (!hp_attach_is_preloaded())
		return; /* loaded by `heapprof attach`: attach.c starts it */
	hp_profile_note_args(argc, argv);
	hp_backing_init();
	hp_proc_record_resolve();
	hp_unwind_io_init();
	hp_config_init();
	hp_init_start();
}

__attribute__((destructor)) static void hp_fini(void)
{
	if (!hp_sampler_rate() || hp_attach_is_detached())
		return;
	hp_http_fini();
	if (hp_config.verbose) {
		unsigned long r[4], from[3];
		hp_unwind_fast_rules(r, from);
		hp_log("stack rules: %lu from RSP, %lu from RBP, %lu outermost, %lu "
		       "libunwind's; learnt %lu from the CFI, %lu from libunwind, %lu "
		       "kept from earlier processes",
		       r[1], r[2], r[3], r[0], from[0], from[1], from[2]);
	}
	hp_summary_at_exit();
	hp_rulecache_store();
	hp_proc_record_remove();
}
