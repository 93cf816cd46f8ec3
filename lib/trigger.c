/* SPDX-License-Identifier: MIT */
/*
 * trigger: the snapshot signal, the on-demand snapshot thread, and the
 * wrappers of sigaction and signal that notice a program taking the signal
 * over. Why the thread is started from the handler, and when that is safe,
 * is in docs/host-safety.md.
 */
#include "trigger.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "dump.h"
#include "limit.h"
#include "log.h"
#include "proc_record.h"
#include "sampler.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* state: a snapshot thread runs; a snapshot was asked for and not begun
 * (by the signal, or a peak profile by an allocation). */
#define ALIVE   1u
#define REQUEST 2u
#define PEAK    4u
static atomic_uint state;

/* Bytes-interval profiles asked for and not begun: one per multiple of
 * HEAPPROF_DUMP_BYTES crossed, so none is lost to a busy thread. */
static atomic_uint pending_bytes;

/* Estimated bytes: allocated since start; in use now; the most in use seen;
 * in use when the last peak profile was asked for. */
static _Atomic uint64_t allocated;
static _Atomic int64_t in_use;
static _Atomic int64_t peak_seen, peak_asked;

static int trigger_sig; /* 0 until the handler is installed */

/* When the program put a handler of its own on the signal; 0 while ours. */
static _Atomic uint64_t replaced_ns;
#define REPLACED_WARN_NS 1000000000ULL

/* Code where the interrupted thread may hold a lock that starting a thread
 * takes: the C library, the dynamic loader, the next allocator. */
#define MAX_RANGES 8 /* glibc as the allocator is listed twice: harmless */
static struct {
	uintptr_t start, len;
} unsafe[MAX_RANGES];
static int nunsafe;

/* The memory-map calls glibc makes while holding its stack-cache lock (freeing
 * or protecting thread stacks): right after one of them, that lock may be held. */
#define MAX_MAPCALLS 5
static struct {
	uintptr_t start, len;
} mapcalls[MAX_MAPCALLS];
static int nmapcalls;

/* The retry timer: a kernel POSIX timer that sends our own signal again. */
#define RETRY_MAGIC 0x68707274 /* "hprt" */
#define RETRY_NS    (10 * 1000 * 1000)
static int retry_timer = -1;

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);
static sigaction_fn real_sigaction;
static signal_fn real_signal, real_sysv_signal, real_bsd_signal, real_sigset;

/* ---- the snapshot thread ------------------------------------------------ */

static bool claim_alive(void);

static void *snapshot_main(void *arg)
{
	(void)arg;
	hp_guard_enter(); /* for good: nothing this thread allocates is sampled */
	hp_sys_set_thread_name("heapprof");
	for (;;) {
		hp_trigger_poll(); /* a program that allocates little is told here */
		unsigned old = atomic_fetch_and(&state, ~(REQUEST | PEAK));
		if (old & REQUEST)
			hp_dump_write(HP_DUMP_SIGNAL, NULL);
		if (old & PEAK)
			hp_dump_peak(atomic_load(&in_use));
		if (old & (REQUEST | PEAK))
			continue;
		if (hp_trigger_take_bytes()) {
			hp_dump_write(HP_DUMP_BYTES, NULL);
			continue;
		}
		/* A request arriving after this starts a new thread; a bytes
		 * request counted just before it is taken back up here. */
		unsigned expect = ALIVE;
		if (!atomic_load(&pending_bytes) &&
		    atomic_compare_exchange_strong(&state, &expect, 0) &&
		    (!atomic_load(&pending_bytes) || !claim_alive()))
			return NULL;
	}
}

/* Takes the thread's ALIVE bit when no thread holds it: the caller starts one. */
static bool claim_alive(void)
{
	unsigned cur = atomic_load(&state);
	while (!(cur & ALIVE))
		if (atomic_compare_exchange_weak(&state, &cur, cur | ALIVE))
			return true;
	return false;
}

bool hp_trigger_take_bytes(void)
{
	unsigned n = atomic_load(&pending_bytes);
	while (n)
		if (atomic_compare_exchange_weak(&pending_bytes, &n, n - 1))
			return true;
	return false;
}

int hp_trigger_spawn(void *(*fn)(void *), size_t stack)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, stack);
	pthread_t t;
	int r = pthread_create(&t, &attr, fn, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

/*
 * Starts the snapshot thread from the signal handler. The allocations
 * pthread_create makes (the new thread's TLS vector) come from the bootstrap
 * pool, since the interrupted code may hold the next allocator's lock.
 */
static int start_thread(void)
{
	hp_pool_state_t saved = hp_pool_enter();
	int r = hp_trigger_spawn(snapshot_main, 256 * 1024);
	hp_pool_exit(saved);
	return r;
}

/* ---- requests from allocations (HEAPPROF_DUMP_BYTES, HEAPPROF_DUMP_PEAK) -- */

/*
 * Starts the snapshot thread, if none runs, for a request an allocation made.
 * This is normal context (a sampled allocation's slow path, guard set, no
 * profiler lock held), so pthread_create may use the next allocator.
 */
static void start_from_allocation(void)
{
	static int warned;
	if (!claim_alive())
		return;
	int r = hp_trigger_spawn(snapshot_main, 256 * 1024);
	if (!r)
		return;
	atomic_fetch_and(&state, ~ALIVE);
	hp_log_once(&warned, "process %d: cannot start the snapshot thread (%s)",
	            (int)hp_sys_getpid(), strerror(-r));
}

void hp_trigger_note_alloc(uint64_t bytes)
{
	uint64_t every = hp_config.dump_bytes;
	bool start = false;
	if (every) {
		uint64_t old = atomic_fetch_add(&allocated, bytes);
		if ((old + bytes) / every != old / every) {
			atomic_fetch_add(&pending_bytes, 1);
			start = true;
		}
	}
	if (hp_config.dump_peak || hp_config.summary || hp_config.dump_limit) {
		int64_t now = atomic_fetch_add(&in_use, (int64_t)bytes) + (int64_t)bytes;
		if (hp_config.dump_limit && hp_limit_crossed(now))
			hp_limit_reached(now);
		int64_t seen = atomic_load_explicit(&peak_seen, memory_order_relaxed);
		while (now > seen &&
		       !atomic_compare_exchange_weak(&peak_seen, &seen, now))
			;
		int64_t asked = atomic_load_explicit(&peak_asked, memory_order_relaxed);
		int64_t step = asked * (int64_t)hp_config.peak_step / 100;
		if (hp_config.dump_peak && now > asked + step &&
		    atomic_compare_exchange_strong(&peak_asked, &asked, now)) {
			atomic_fetch_or(&state, PEAK);
			start = true;
		}
	}
	if (start)
		start_from_allocation();
}

void hp_trigger_note_free(uint64_t bytes)
{
	if (hp_config.dump_peak || hp_config.summary || hp_config.dump_limit) {
		int64_t now = atomic_fetch_sub(&in_use, (int64_t)bytes) - (int64_t)bytes;
		if (hp_config.dump_limit)
			hp_limit_note_free(now);
	}
}

int64_t hp_trigger_in_use(void)
{
	return atomic_load(&in_use);
}

int64_t hp_trigger_peak(void)
{
	return atomic_load(&peak_seen);
}

/* ---- HEAPPROF_DUMP_SECONDS: the one thread that lives for the process ---- */

/* Has thread tid of this process ended (a zombie, as the main thread is
 * after pthread_exit, or gone)? */
static bool task_ended(const char *tid)
{
	char path[64], buf[512];
	hp_fmt(path, sizeof(path), "/proc/self/task/%s/stat", tid);
	int fd = hp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return true;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	hp_sys_close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	const char *r = strrchr(buf, ')'); /* after the name, which may hold one */
	return r && r[1] && (r[2] == 'Z' || r[2] == 'X');
}

/* Have all the other threads of the process ended? The directory is opened,
 * read and closed here; an error counts as "no". */
bool hp_trigger_others_ended(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return false;
	char self[16];
	hp_fmt(self, sizeof(self), "%d", (int)hp_sys_gettid());
	bool ended = true;
	struct dirent *e;
	while (ended && (e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && strcmp(e->d_name, self))
			ended = task_ended(e->d_name);
	closedir(d);
	return ended;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/*
 * Sleeps until next, a second at a time: after each second, if every other
 * thread has ended (the program's last one called pthread_exit), returns
 * false, and this thread ends too, so the C library ends the process as the
 * program's last thread would have (exit status 0, atexit handlers run).
 */
static bool sleep_until(const struct timespec *next)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	while (before(&now, next)) {
		struct timespec slice = {.tv_sec = now.tv_sec + 1,
		                         .tv_nsec = now.tv_nsec};
		if (before(next, &slice))
			slice = *next;
		while (hp_sys_clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &slice,
		                              NULL) == EINTR)
			;
		if (hp_trigger_others_ended())
			return false;
		hp_trigger_poll();
		clock_gettime(CLOCK_MONOTONIC, &now);
	}
	return true;
}

static void *timer_main(void *arg)
{
	(void)arg;
	hp_guard_enter(); /* for good, like the snapshot thread */
	hp_sys_set_thread_name("heapprof-time");
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_sec += hp_config.dump_seconds;
		if (!sleep_until(&next) ||
		    hp_dump_write(HP_DUMP_TIME, NULL) == -ESHUTDOWN)
			return NULL;
	}
}

void hp_trigger_start_timer(void)
{
	if (!hp_config.dump_seconds)
		return;
	hp_guard_enter(); /* what pthread_create allocates is not sampled */
	int r = hp_trigger_spawn(timer_main, 256 * 1024);
	hp_guard_exit();
	if (r)
		hp_log("HEAPPROF_DUMP_SECONDS=%u: cannot start the thread (%s)",
		       hp_config.dump_seconds, strerror(-r));
}

/* ---- when the handler may start a thread -------------------------------- */

/* The profiler's own code, where the interrupted thread may hold its locks. */
static uintptr_t own_start, own_len;

static bool in_unsafe_code(uintptr_t pc)
{
	for (int i = 0; i < nunsafe; i++)
		if (pc - unsafe[i].start < unsafe[i].len)
			return true;
	return false;
}

static bool in_mapcall(uintptr_t pc)
{
	for (int i = 0; i < nmapcalls; i++)
		if (pc - mapcalls[i].start < mapcalls[i].len)
			return true;
	return false;
}

/*
 * Starting a thread takes the C library's stack-cache and TLS locks and
 * allocates (from the pool, see start_thread, which takes a live-map lock).
 * It is safe unless the interrupted code is inside the profiler (its code,
 * or the guard is set, as between the fork handlers), or inside the C
 * library, the
 * loader or the allocator other than at a system call: one to be restarted
 * after the handler, or one that just returned, except the memory-map calls
 * glibc makes while holding its stack-cache lock. A thread parked in
 * epoll_wait, read or a futex, or one that just sent a signal, holds none.
 */
static bool safe_to_start(const ucontext_t *uc)
{
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (hp_thread.in_profiler || pc - own_start < own_len)
		return false;
	if (!in_unsafe_code(pc))
		return true;
	const unsigned char *ip = (const unsigned char *)pc;
	long rax = (long)uc->uc_mcontext.gregs[REG_RAX];
	/* Restarting after the handler (SA_RESTART): pc is at the syscall. */
	if (ip[0] == 0x0f && ip[1] == 0x05)
		return true;
	if (ip[-2] != 0x0f || ip[-1] != 0x05)
		return false;
	return rax == -EINTR || !in_mapcall(pc);
}

/* Asks the kernel to send our signal again shortly. */
static void arm_retry(void)
{
	if (retry_timer < 0) {
		struct sigevent sev;
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_SIGNAL;
		sev.sigev_signo = trigger_sig;
		sev.sigev_value.sival_int = RETRY_MAGIC;
		int id;
		if (hp_sys_timer_create(CLOCK_MONOTONIC, &sev, &id) < 0)
			return;
		retry_timer = id;
	}
	struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = RETRY_NS}};
	hp_sys_timer_settime(retry_timer, 0, &its, NULL);
}

static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si; /* a retry from our timer is one more request like any other */
	int saved = errno;
	atomic_fetch_or(&state, REQUEST);
	if (claim_alive()) {
		static int warned;
		int r = -EAGAIN;
		if (!safe_to_start(ucv))
			arm_retry();
		else if ((r = start_thread()) == 0)
			goto out;
		atomic_fetch_and(&state, ~ALIVE);
		if (r != -EAGAIN || retry_timer < 0)
			hp_log_once(&warned,
			            "process %d: cannot start the snapshot thread (%s)",
			            (int)hp_sys_getpid(), strerror(-r));
	}
out:
	errno = saved;
}

/* ---- set-up --------------------------------------------------------------- */

/* What find_code looks for: the objects holding these addresses. */
enum { T_SELF, T_LIBC, T_ALLOC, T_LDSO, NTARGETS };
static uintptr_t targets[NTARGETS];

static void add_range(uintptr_t start, uintptr_t len, int target)
{
	if (target == T_SELF) {
		own_start = start;
		own_len = len;
	} else if (nunsafe < MAX_RANGES) {
		unsafe[nunsafe].start = start;
		unsafe[nunsafe++].len = len;
	}
}

/*
 * One pass over the loaded objects: the executable segments of each target's,
 * until every target's object is found (arg: how many are left). A compiler's
 * twenty objects cost 10,000 instructions to walk whole, where ld.so's comes
 * tenth.
 */
static int find_code(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	int *left = arg;
	for (int t = 0; t < NTARGETS; t++) {
		bool holds = t == T_LDSO && targets[t] == info->dlpi_addr;
		for (int i = 0; i < info->dlpi_phnum && !holds && targets[t]; i++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
			holds =
			    ph->p_type == PT_LOAD &&
			    targets[t] - (info->dlpi_addr + ph->p_vaddr) < ph->p_memsz;
		}
		for (int i = 0; i < info->dlpi_phnum && holds; i++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
			if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
				add_range(info->dlpi_addr + ph->p_vaddr, ph->p_memsz, t);
		}
		*left -= holds;
	}
	return *left <= 0;
}

/*
 * The memory-map wrappers are a few dozen bytes each; a window of this many
 * bytes from each entry covers it (reading past it only makes the check more
 * careful). dladdr1 would give the exact size but costs 100,000 instructions
 * a call at start-up.
 */
#define MAPCALL_WINDOW 128

static void find_unsafe_code(void)
{
	static const char *const maps[] = {"munmap", "mprotect", "mmap", "madvise",
	                                   "mremap"};
	for (size_t i = 0; i < HP_ARRAY_SIZE(maps) && nmapcalls < MAX_MAPCALLS; i++) {
		void *addr = dlsym(RTLD_NEXT, maps[i]);
		if (addr) {
			mapcalls[nmapcalls].start = (uintptr_t)addr;
			mapcalls[nmapcalls++].len = MAPCALL_WINDOW;
		}
	}
	targets[T_SELF] = (uintptr_t)find_code;
	targets[T_LIBC] = (uintptr_t)dlsym(RTLD_NEXT, "pthread_create");
	targets[T_ALLOC] = (uintptr_t)dlsym(RTLD_NEXT, "malloc");
	targets[T_LDSO] = (uintptr_t)getauxval(AT_BASE);
	int left = 0;
	for (int t = 0; t < NTARGETS; t++)
		left += targets[t] != 0;
	dl_iterate_phdr(find_code, &left);
}

static void resolve_real(void)
{
	if (real_sigaction)
		return;
	real_signal = (signal_fn)dlsym(RTLD_NEXT, "signal");
	real_sysv_signal = (signal_fn)dlsym(RTLD_NEXT, "sysv_signal");
	real_bsd_signal = (signal_fn)dlsym(RTLD_NEXT, "bsd_signal");
	real_sigset = (signal_fn)dlsym(RTLD_NEXT, "sigset");
	real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
}

static struct sigaction replaced; /* the disposition hp_trigger_init replaced */

void hp_trigger_init(int sig)
{
	resolve_real();
	if (!sig)
		return;
	find_unsafe_code();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART; /* sa_mask empty: the memset */
	char name[16];
	if (real_sigaction(sig, &sa, &replaced) < 0) {
		hp_log(
		    "cannot install the SIG%s handler (%s): snapshots by signal disabled",
		    hp_config_signal_name(sig, name, sizeof(name)), strerror(errno));
		return;
	}
	trigger_sig = sig;
}

void hp_trigger_release(void)
{
	if (trigger_sig && hp_trigger_handler_is_ours())
		real_sigaction(trigger_sig, &replaced, NULL);
	trigger_sig = 0;
}

bool hp_trigger_handler_is_ours(void)
{
	struct sigaction cur;
	return trigger_sig && real_sigaction(trigger_sig, NULL, &cur) == 0 &&
	       (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_signal;
}

/* Each store only where the value differs: a page left as the parent's is
 * no copy-on-write fault. */
void hp_trigger_postfork_child(void)
{
	HP_RESET(state, 0);
	HP_RESET(pending_bytes, 0); /* the parent's to write */
	HP_RESET(retry_timer, -1);  /* timers are not inherited */
}

/* ---- the program's own signal calls ---------------------------------------- */

/*
 * The program set the disposition of the snapshot signal to h. The record
 * says at once whether the handler is still ours, for heapprof snapshot.
 * A handler of the program's own is reported by hp_trigger_poll if it is
 * still there a second later (libraries such as LLVM's install one for a
 * moment and put ours back); SIG_DFL and SIG_IGN, as set before an exec,
 * only go in the record. Async-signal-safe: programs call sigaction from
 * handlers.
 */
static void note_disposition(uintptr_t h)
{
	if (h == (uintptr_t)SIG_HOLD)
		return; /* sigset(sig, SIG_HOLD) blocks it, the handler stays */
	bool ours = h == (uintptr_t)on_signal;
	hp_proc_record_set_handler(ours);
	uint64_t none = 0;
	if (ours)
		atomic_store(&replaced_ns, 0);
	else if (h != (uintptr_t)SIG_DFL && h != (uintptr_t)SIG_IGN)
		atomic_compare_exchange_strong(&replaced_ns, &none, hp_now_ns());
}

void hp_trigger_poll(void)
{
	static int warned;
	uint64_t t = atomic_load_explicit(&replaced_ns, memory_order_relaxed);
	if (hp_likely(!t) || hp_now_ns() - t < REPLACED_WARN_NS ||
	    !atomic_compare_exchange_strong(&replaced_ns, &t, 0) ||
	    hp_trigger_handler_is_ours())
		return;
	char name[16];
	hp_log_once(
	    &warned,
	    "process %d installed its own SIG%s handler: snapshots by signal are off "
	    "in it (choose another signal with HEAPPROF_SIGNAL; see heapprof(1))",
	    (int)hp_sys_getpid(), hp_config_signal_name(trigger_sig, name, sizeof(name)));
}

HP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	resolve_real();
	if (act && sig == trigger_sig && trigger_sig)
		note_disposition((act->sa_flags & SA_SIGINFO)
		                     ? (uintptr_t)act->sa_sigaction
		                     : (uintptr_t)act->sa_handler);
	return real_sigaction(sig, act, old);
}

static sighandler_t set_handler(signal_fn fn, int sig, sighandler_t h)
{
	if (sig == trigger_sig && trigger_sig)
		note_disposition((uintptr_t)h);
	if (!fn) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	return fn(sig, h);
}

/* signal and its System V and BSD variants: the same wrapper around each. */
#define SIGNAL_WRAPPER(name, real)                                                       \
	HP_EXPORT sighandler_t name(int sig, sighandler_t h)                             \
	{                                                                                \
		resolve_real();                                                          \
		return set_handler(real, sig, h);                                        \
	}
SIGNAL_WRAPPER(signal, real_signal)
SIGNAL_WRAPPER(sysv_signal, real_sysv_signal)
SIGNAL_WRAPPER(bsd_signal, real_bsd_signal)
SIGNAL_WRAPPER(sigset, real_sigset)
