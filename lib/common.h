/* SPDX-License-Identifier: MIT */
/*
 * common: small definitions every module of libheapprof shares: branch hints,
 * visibility and TLS attributes, the spin lock used for the few short
 * critical sections, and the hashes. Nothing here allocates or logs.
 */
#ifndef HP_COMMON_H
#define HP_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define hp_likely(x)   __builtin_expect(!!(x), 1)
#define hp_unlikely(x) __builtin_expect(!!(x), 0)

/* Every interposed symbol and every heapprof_* function; the rest is hidden. */
#define HP_EXPORT __attribute__((visibility("default")))
/*
 * On the declarations of the globals the fast path reads: -fvisibility=hidden
 * covers definitions only, and without this the compiler reaches a global
 * declared extern through the GOT, one instruction more per malloc and free.
 */
#define HP_HIDDEN   __attribute__((visibility("hidden")))
#define HP_NOINLINE __attribute__((noinline))
#define HP_NORETURN __attribute__((noreturn))
#define HP_TLS      __thread __attribute__((tls_model("initial-exec")))
/*
 * On the definitions of the large zeroed arrays (the tables, the bootstrap
 * pool): they go after every small variable (.lbss follows .bss), so the few
 * dozen small ones that every process touches share two pages instead of
 * sitting between megabytes of arrays, a page fault each (each fault costs
 * 10 to 50 us on the machines measured; see docs/performance.md).
 */
#if defined(__x86_64__) && defined(__ELF__)
#define HP_LARGE __attribute__((section(".lbss")))
#else
#define HP_LARGE
#endif

#define HP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* The name a macro expands to, as a string (libunwind.h's names, for dlsym). */
#define HP_STRINGIFY(x)  HP_STRINGIFY_(x)
#define HP_STRINGIFY_(x) #x

/*
 * hp_lock_t: a test-and-test-and-set lock. Critical sections guarded by it are
 * a handful of instructions (a bucket insert, a live-map probe), so spinning
 * beats a futex round trip; after a short spin it yields. All-zero is unlocked,
 * which keeps it valid in zeroed memory and trivially resettable after fork.
 */
typedef struct {
	atomic_int locked;
} hp_lock_t;

void hp_lock_slow(hp_lock_t *l);

static inline void hp_lock(hp_lock_t *l)
{
	if (hp_likely(!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)))
		return;
	hp_lock_slow(l);
}

/* Takes the lock if it is free (a load first: a failed swap would still
 * take the line); false if another holder has it. */
static inline bool hp_trylock(hp_lock_t *l)
{
	return !atomic_load_explicit(&l->locked, memory_order_relaxed) &&
	       !atomic_exchange_explicit(&l->locked, 1, memory_order_acquire);
}

static inline void hp_unlock(hp_lock_t *l)
{
	atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* In a forked child: a lock left free is not written, its page stays the
 * parent's (each page a child writes is a copy-on-write fault). */
static inline void hp_lock_reset(hp_lock_t *l)
{
	if (atomic_load_explicit(&l->locked, memory_order_relaxed))
		atomic_store_explicit(&l->locked, 0, memory_order_relaxed);
}

/* 64-bit finaliser (splitmix64): good avalanche for pointers and PCs. */
static inline uint64_t hp_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* FNV-1a over a NUL-terminated string: the one string hash of the tree. */
static inline uint64_t hp_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

uint64_t hp_clock_ns(clockid_t clock); /* nanoseconds, by the system call; 0: failed */
uint64_t hp_now_ns(void);              /* CLOCK_REALTIME, nanoseconds */

/*
 * In a forked child, state set back to its start only where it differs, so
 * that a page the child need not change stays its parent's: every page a
 * child writes is a copy-on-write fault, 10 us and more on a virtual
 * machine. HP_RESET for a variable (a plain or an _Atomic one: its
 * comparison and store are then atomic), hp_zero_if_set for an array,
 * hp_mutex_reset for a mutex (initialised again unless it reads as a fresh
 * one).
 */
#define HP_RESET(var, value)                                                             \
	do {                                                                             \
		if ((var) != (value))                                                    \
			(var) = (value);                                                 \
	} while (0)
void hp_zero_if_set(void *p, size_t len);
void hp_mutex_reset(void *mutex); /* a pthread_mutex_t */

struct iovec;
/* Writes the n buffers of iov whole (retrying short writes and EINTR,
 * skipping empty buffers; iov is consumed): 0, or a negative errno (-EIO
 * when the kernel writes nothing of a non-empty buffer). */
int hp_writev_all(int fd, struct iovec *iov, int n);

/*
 * Renames from to to within dfd (AT_FDCWD: the paths as given), refusing to
 * replace what is there: 0 or a negative errno (-EEXIST if to is taken).
 * Where the kernel or the file system has no renameat2, link and unlink,
 * which refuse to replace as well.
 */
int hp_rename_noreplace(int dfd, const char *from, const char *to);

/*
 * Opens path for reading (not through a symbolic link) if it is a regular
 * file of user euid that no other may write, of min to max bytes: its
 * descriptor, its size in *len; -1 otherwise. The files the library keeps
 * across processes in the user's private directory (symcache.c,
 * rulecache.c).
 */
int hp_open_own(const char *path, unsigned euid, size_t min, size_t max, size_t *len);

/*
 * Writes the n buffers of iov to path (mode 0600) through path.PID.tmp
 * (O_EXCL, not through a link) renamed over it, so that a reader sees a
 * whole file or none; a leftover under that name (a process of this pid
 * killed before its rename) goes first. 0, or a negative errno.
 */
int hp_replace_file(const char *path, struct iovec *iov, int n);

#endif
