/* SPDX-License-Identifier: MIT */
/*
 * unwind_fast: x86-64 stack walking from a table of rules, one per return
 * address: the caller's frame starts at CFA = RSP + k or RBP + k, its return
 * address is at CFA - 8, and RBP was saved at CFA + j or not touched. That
 * covers the code compilers emit at call sites, with or without a frame
 * pointer. A rule is learnt the first time an address is seen: read from the
 * object's call frame information (cfi.c) when it says it in those terms,
 * else by asking libunwind to step from that frame twice, the second time
 * with RSP, RBP and the other registers each moved by a different amount: a
 * rule of one of the two shapes moves the CFA with exactly one of them, by
 * exactly as much. libunwind is loaded only for such a frame. Anything else
 * (signal frames, stack realignment, expressions) is remembered as
 * "libunwind's" and the whole walk goes back to libunwind, as does a frame
 * outside the thread's stack: this walker only reads the stack, between the
 * frame it starts from and the top of the thread's stack. Rules are dropped
 * when code is unloaded.
 *
 * The table is shared by every thread, read without a lock: each slot holds a
 * key (return address and the table's epoch) and a rule, written as a
 * sequence lock in which the key itself is the version.
 */
#include "unwind_fast.h"
#include "cfi.h"
#include "common.h"
#include "sys.h"
#include "config.h"
#include "rulecache.h"
#include "stack.h"

#if defined(__x86_64__)

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

static struct {
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	int (*get_save_loc)(unw_cursor_t *, int, unw_save_loc_t *);
} unw;
static atomic_bool ready;      /* the walker may run */
static atomic_bool unw_ready;  /* unw holds libunwind's entry points */
static atomic_ulong learnt[3]; /* rules from the CFI, libunwind, the kept ones */

void hp_unwind_fast_use_libunwind(void *h)
{
	void *f[4] = {dlsym(h, HP_STRINGIFY(unw_init_local)),
	              dlsym(h, HP_STRINGIFY(unw_step)),
	              dlsym(h, HP_STRINGIFY(unw_get_reg)),
	              dlsym(h, HP_STRINGIFY(unw_get_save_loc))};
	for (int i = 0; i < 4; i++)
		if (!f[i])
			return; /* the rules the CFI gives, and libunwind's walks */
	memcpy(&unw.init_local, &f[0], sizeof(f[0]));
	memcpy(&unw.step, &f[1], sizeof(f[1]));
	memcpy(&unw.get_reg, &f[2], sizeof(f[2]));
	memcpy(&unw.get_save_loc, &f[3], sizeof(f[3]));
	atomic_store_explicit(&unw_ready, true, memory_order_release);
}

/* ---- rules -------------------------------------------------------------- */

enum { LIBUNWIND = 0, FROM_RSP = 1, FROM_RBP = 2, OUTERMOST = 3 };
#define RBP_SAVED 4
#define NOT_YET   8 /* libunwind's while another thread loads it: not remembered */

/* base | RBP_SAVED | (uint16)rbp_off << 16 | (uint32)cfa_off << 32 */
static uint64_t pack(unsigned base, int64_t cfa_off, bool rbp_saved, int64_t rbp_off)
{
	return base | (rbp_saved ? RBP_SAVED : 0) | (uint64_t)(uint16_t)rbp_off << 16 |
	       (uint64_t)(uint32_t)cfa_off << 32;
}

/*
 * The rules, a cache by return address: open addressing, a key and its rule
 * written as a sequence lock in which the key itself is the version. It
 * starts at 2^10 slots in BSS (16 KiB) and grows, copied, by 8 times when
 * half full, to 2^14 slots, or to 2^17 at a dense rate. A bigger table
 * from the start put each of a process's first few hundred addresses on a
 * page of its own: about 120 page faults in each of a build's compiles,
 * the page read (the zero page) and then written. At a dense rate every
 * allocation's stack is walked: clang++ compiling a little C++ that
 * includes <regex>, at rate 1, walks through about 17,000 return addresses,
 * which filled 2^14 slots so that 1,650,726 rules were read from the CFI
 * (2,900 instructions each) to keep 14,668 (rule_table.sh). A table
 * replaced is kept (a walk may still read it); what is added to it while
 * it is copied is lost, as from a full neighbourhood: learnt again.
 */
#define FIRST_LG       10
#define GROW_LG        3
#define SLOTS_LG       14
#define DENSE_SLOTS_LG 17
#define DENSE_RATE     4096
#define PROBE_MAX      8
#define CLAIMED        UINT64_MAX /* a slot being written: occupied, matches nothing */
#define EPOCH_MAX      0xfffe     /* keys carry the epoch in their top 16 bits */

typedef struct {
	_Atomic uint64_t key; /* 0 empty; pc | epoch << 48 */
	_Atomic uint64_t rule;
} slot_t;

typedef struct {
	slot_t *slots;
	unsigned lg;
} rules_t;

HP_LARGE static slot_t first_slots[1u << FIRST_LG];
static rules_t tables[4] = {{first_slots, FIRST_LG}}; /* 10, 13, 16, 17 at most */
static rules_t *_Atomic rules = &tables[0];
static atomic_uint filled;         /* keys added to the current table */
static unsigned max_lg = SLOTS_LG; /* set before the walker is enabled */
static hp_lock_t grow_lock;
static _Atomic uint64_t epoch = 1;

void hp_unwind_fast_enable(void)
{
	if (hp_config.rate && hp_config.rate <= DENSE_RATE)
		max_lg = DENSE_SLOTS_LG;
	atomic_store_explicit(&ready, true, memory_order_release);
}

/* A slot's key that names an address (not empty, not being written). */
static bool is_key(uint64_t k)
{
	return k && k != CLAIMED;
}

static rules_t *current(void)
{
	return atomic_load_explicit(&rules, memory_order_acquire);
}

static size_t slot_of(const rules_t *t, uint64_t key)
{
	return (size_t)(hp_mix64(key) >> (64 - t->lg));
}

static size_t next_slot(const rules_t *t, size_t i)
{
	return (i + 1) & (((size_t)1 << t->lg) - 1);
}

/* The rule of slot s if its key is key and was not rewritten meanwhile. */
static bool read_slot(slot_t *s, uint64_t key, uint64_t *rule)
{
	uint64_t r = atomic_load_explicit(&s->rule, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->key, memory_order_relaxed) != key)
		return false;
	*rule = r;
	return true;
}

static bool lookup(uint64_t key, uint64_t *rule)
{
	rules_t *t = current();
	size_t i = slot_of(t, key);
	for (int n = 0; n < PROBE_MAX; n++, i = next_slot(t, i)) {
		uint64_t k = atomic_load_explicit(&t->slots[i].key, memory_order_acquire);
		if (k == key)
			return read_slot(&t->slots[i], key, rule);
		if (!k)
			return false;
	}
	return false;
}

#define PC_MASK ((UINT64_C(1) << 48) - 1) /* a key's address */

/* Calls fn with each address of t that has a rule of epoch tag, and the
 * rule (a slot rewritten while it is read is passed over). */
static void each_in(rules_t *t, uint64_t tag, void (*fn)(uintptr_t, uint64_t, void *),
                    void *arg)
{
	for (size_t i = 0; i < (size_t)1 << t->lg; i++) {
		uint64_t k = atomic_load_explicit(&t->slots[i].key, memory_order_acquire),
		         r;
		if (is_key(k) && k >> 48 == tag && read_slot(&t->slots[i], k, &r))
			fn((uintptr_t)(k & PC_MASK), r, arg);
	}
}

/* Puts key and rule in t, not yet shared: no other thread writes it. */
static bool place(rules_t *t, uint64_t key, uint64_t rule)
{
	size_t i = slot_of(t, key);
	for (int n = 0; n < PROBE_MAX; n++, i = next_slot(t, i)) {
		if (atomic_load_explicit(&t->slots[i].key, memory_order_relaxed))
			continue;
		atomic_store_explicit(&t->slots[i].rule, rule, memory_order_relaxed);
		atomic_store_explicit(&t->slots[i].key, key, memory_order_relaxed);
		return true;
	}
	return false;
}

/* grow's copy of a table's rules into a new one, not yet shared. */
struct copy {
	rules_t *to;
	uint64_t tag;
	unsigned kept;
};

static void copy_rule(uintptr_t pc, uint64_t rule, void *arg)
{
	struct copy *c = arg;
	c->kept += place(c->to, pc | c->tag << 48, rule);
}

/*
 * Replaces the current table by one 8 times its size with its rules of this
 * epoch. One thread at a time, and none waits for it: a walk may run in a
 * signal handler that interrupted the one growing.
 */
static void grow(rules_t *t)
{
	if (t->lg >= max_lg || !hp_trylock(&grow_lock))
		return;
	size_t at = (size_t)(t - tables) + 1;
	unsigned lg = t->lg + GROW_LG < max_lg ? t->lg + GROW_LG : max_lg;
	void *p = MAP_FAILED;
	if (current() == t && at < HP_ARRAY_SIZE(tables))
		p = hp_sys_mmap(NULL, sizeof(slot_t) << lg, PROT_READ | PROT_WRITE,
		                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED) {
		struct copy c = {&tables[at],
		                 atomic_load_explicit(&epoch, memory_order_relaxed)};
		*c.to = (rules_t){p, lg};
		each_in(t, c.tag, copy_rule, &c);
		atomic_store_explicit(&filled, c.kept, memory_order_relaxed);
		atomic_store_explicit(&rules, c.to, memory_order_release);
	}
	hp_unlock(&grow_lock);
}

/* Best effort: a full neighbourhood leaves the address to be learnt again. */
static void insert(uint64_t key, uint64_t rule)
{
	rules_t *t = current();
	size_t i = slot_of(t, key);
	for (int n = 0; n < PROBE_MAX; n++, i = next_slot(t, i)) {
		slot_t *s = &t->slots[i];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
		if (k == key)
			return;
		bool stale = is_key(k) && (k >> 48) != (key >> 48);
		if ((k && !stale) ||
		    !atomic_compare_exchange_strong(&s->key, &k, CLAIMED))
			continue;
		atomic_thread_fence(memory_order_release);
		atomic_store_explicit(&s->rule, rule, memory_order_relaxed);
		atomic_store_explicit(&s->key, key, memory_order_release);
		if (atomic_fetch_add_explicit(&filled, 1, memory_order_relaxed) + 1 >
		    (1u << t->lg) / 2)
			grow(t);
		return;
	}
	grow(t);
}

static void count_rule(uintptr_t pc, uint64_t rule, void *arg)
{
	(void)pc;
	((unsigned long *)arg)[rule & 3]++;
}

void hp_unwind_fast_rules(unsigned long counts[4], unsigned long from[3])
{
	for (int k = 0; k < 3; k++)
		from[k] = atomic_load_explicit(&learnt[k], memory_order_relaxed);
	for (int k = 0; k < 4; k++)
		counts[k] = 0;
	hp_unwind_fast_each(count_rule, counts);
}

bool hp_unwind_fast_rule_ok(uint64_t r)
{
	unsigned base = r & 3;
	int32_t cfa = (int32_t)(r >> 32);
	int16_t rbp = (int16_t)(r >> 16);
	if (base == LIBUNWIND || (r & 0xfff8))
		return false;
	if (base == OUTERMOST)
		return r == OUTERMOST;
	return cfa > 0 && !(cfa & 7) && !(rbp & 7) && ((r & RBP_SAVED) || !rbp);
}

unsigned long hp_unwind_fast_learnt(void)
{
	return atomic_load_explicit(&learnt[0], memory_order_relaxed) +
	       atomic_load_explicit(&learnt[1], memory_order_relaxed);
}

void hp_unwind_fast_each(void (*fn)(uintptr_t pc, uint64_t rule, void *arg), void *arg)
{
	each_in(current(), atomic_load_explicit(&epoch, memory_order_relaxed), fn, arg);
}

void hp_unwind_fast_postfork_child(void)
{
	/* A thread of the parent's may have held it, growing: the child has
	 * no such thread, and its tables would never grow again. What that
	 * thread had built is not referenced (rules still names the table it
	 * was copying) and is left. */
	hp_lock_reset(&grow_lock);
}

void hp_unwind_fast_forget(void)
{
	hp_rulecache_forget(); /* its objects' addresses may be another's now */
	uint64_t e = atomic_load(&epoch);
	while (e <= EPOCH_MAX && !atomic_compare_exchange_weak(&epoch, &e, e + 1))
		;
}

/* ---- learning a rule from libunwind ------------------------------------- */

typedef struct {
	uintptr_t cfa, ra, rbp;
	bool rbp_saved;
	uintptr_t rbp_at; /* where, if saved */
} step_t;

/*
 * One libunwind step from a frame at the call in front of return address pc
 * (pc - 1: the rule in force during the call), with the given RSP, RBP and
 * every other register. 1 stepped, 0 outermost frame, -1 failed.
 */
static int probe(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t others, step_t *s)
{
	unw_context_t uc;
	memset(&uc, 0, sizeof(uc));
	greg_t *g = uc.uc_mcontext.gregs;
	for (int r = 0; r < NGREG; r++)
		g[r] = (greg_t)others;
	g[REG_RIP] = (greg_t)(pc - 1);
	g[REG_RSP] = (greg_t)sp;
	g[REG_RBP] = (greg_t)bp;
	unw_cursor_t c;
	if (unw.init_local(&c, &uc) < 0)
		return -1;
	int r = unw.step(&c);
	if (r <= 0)
		return r < 0 ? -1 : 0;
	unw_word_t cfa, ra, rbp;
	unw_save_loc_t loc;
	if (unw.get_reg(&c, UNW_REG_SP, &cfa) || unw.get_reg(&c, UNW_REG_IP, &ra) ||
	    unw.get_reg(&c, UNW_X86_64_RBP, &rbp) ||
	    unw.get_save_loc(&c, UNW_X86_64_RBP, &loc))
		return -1;
	s->cfa = cfa;
	s->ra = ra;
	s->rbp = rbp;
	/* A register left as it was still "lives" in the context given to libunwind. */
	s->rbp_saved = loc.type == UNW_SLT_MEMORY && !(loc.u.addr >= (uintptr_t)&uc &&
	                                               loc.u.addr < (uintptr_t)(&uc + 1));
	s->rbp_at = s->rbp_saved ? loc.u.addr : 0;
	return 1;
}

static bool on_stack(uintptr_t a, uintptr_t sp, uintptr_t hi)
{
	return a >= sp && a <= hi;
}

/*
 * Is pc the kernel's way back from a signal handler, mov $15, %rax; syscall
 * (rt_sigreturn)? The frame under it is the interrupted one, described by the
 * ucontext on the stack, not by a rule: libunwind knows it by these bytes
 * too. Read with process_vm_readv, which fails instead of faulting: pc is
 * only a word found where a return address should be.
 */
static bool sigreturn_at(uintptr_t pc)
{
	static const unsigned char code[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00,
	                                     0x00, 0x00, 0x0f, 0x05};
	unsigned char got[sizeof(code)];
	struct iovec local = {got, sizeof(got)}, remote = {(void *)pc, sizeof(got)};
	if (hp_sys_process_vm_readv(hp_sys_getpid(), &local, 1, &remote, 1, 0) !=
	    (ssize_t)sizeof(got))
		return true; /* unreadable: let libunwind judge it */
	return !memcmp(got, code, sizeof(code));
}

/* A rule from the CFI (cfi.c) in the walker's terms; LIBUNWIND (0) if none. */
static uint64_t from_cfi(uintptr_t pc, const hp_cfi_rule_t *c)
{
	if (c->outermost)
		return sigreturn_at(pc) ? pack(LIBUNWIND, 0, false, 0)
		                        : pack(OUTERMOST, 0, false, 0);
	if (c->cfa_off <= 0 || c->cfa_off > INT32_MAX || (c->cfa_off & 7) ||
	    c->rbp_off < INT16_MIN || c->rbp_off > INT16_MAX || (c->rbp_off & 7))
		return pack(LIBUNWIND, 0, false, 0);
	return pack(c->from_rbp ? FROM_RBP : FROM_RSP, c->cfa_off, c->rbp_saved,
	            c->rbp_off);
}

/*
 * The rule for the frame at return address pc, from libunwind stepping
 * twice from that frame with these RSP and RBP.
 */
static uint64_t probe_rule(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t hi)
{
	step_t a, b;
	int r = probe(pc, sp, bp, sp, &a);
	if (r == 0) /* seen from the call before it, a signal return looks outermost */
		return pack(sigreturn_at(pc) ? LIBUNWIND : OUTERMOST, 0, false, 0);
	/*
	 * The second probe moves RSP by 16, RBP by 32 and every other register
	 * by 24: the CFA moves by exactly as much as the one register it is
	 * based on, so one probe tells the two shapes from each other and from
	 * anything else. It reads at most 32 bytes further up the stack than
	 * the real one, through RSP, or through RBP when RBP is the frame's base
	 * (and so points into the stack).
	 */
	if (r < 0 || !on_stack(a.cfa, sp + 8, hi - 32) ||
	    a.ra != ((const uintptr_t *)a.cfa)[-1])
		return pack(LIBUNWIND, 0, false, 0);
	if (probe(pc, sp + 16, bp + 32, sp + 24, &b) <= 0)
		return pack(LIBUNWIND, 0, false, 0);
	unsigned base;
	int64_t off;
	if (b.cfa == a.cfa + 16) {
		base = FROM_RSP;
		off = (int64_t)(a.cfa - sp);
	} else if (b.cfa == a.cfa + 32) {
		base = FROM_RBP;
		off = (int64_t)(a.cfa - bp);
	} else
		return pack(LIBUNWIND, 0, false, 0);
	int64_t rbp_off = a.rbp_saved ? (int64_t)(a.rbp_at - a.cfa) : 0;
	bool same = a.rbp_saved == b.rbp_saved &&
	            (!a.rbp_saved ? a.rbp == bp && b.rbp == bp + 32
	                          : rbp_off == (int64_t)(b.rbp_at - b.cfa));
	if (!same || off <= 0 || off > INT32_MAX || (off & 7) || rbp_off < INT16_MIN ||
	    rbp_off > INT16_MAX || (rbp_off & 7))
		return pack(LIBUNWIND, 0, false, 0);
	return pack(base, off, a.rbp_saved, rbp_off);
}

/*
 * The rule for the frame at return address pc: from the CFI when it says it
 * plainly, else from libunwind, loaded then (a process whose frames the CFI
 * all describe never loads it).
 */
static uint64_t learn(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t hi)
{
	hp_cfi_rule_t c;
	uint64_t rule = hp_cfi_rule(pc, &c) ? from_cfi(pc, &c) : 0;
	if (rule) {
		atomic_fetch_add_explicit(&learnt[0], 1, memory_order_relaxed);
		return rule;
	}
	if (!atomic_load_explicit(&unw_ready, memory_order_acquire) &&
	    !hp_stack_load_libunwind())
		return NOT_YET;
	if (!atomic_load_explicit(&unw_ready, memory_order_acquire))
		return pack(LIBUNWIND, 0, false, 0);
	atomic_fetch_add_explicit(&learnt[1], 1, memory_order_relaxed);
	return probe_rule(pc, sp, bp, hi);
}

/* ---- the walk ----------------------------------------------------------- */

extern void *__libc_stack_end;

static HP_TLS uintptr_t stack_hi; /* top of this thread's stack; 1: unknown */

/*
 * Another thread's stack ends below its descriptor: glibc puts the descriptor
 * and the static TLS at the top of the stack's block (its own or the
 * program's), the frames below them. Not pthread_getattr_np: it holds the
 * thread's lock while it reallocs, so its realloc, sampled, deadlocked here
 * (every thread a Rust program starts calls it first).
 */
static uintptr_t find_stack_hi(void)
{
	if (hp_sys_gettid() == hp_sys_getpid())
		return ((uintptr_t)__libc_stack_end + 4095) & ~(uintptr_t)4095;
	return (uintptr_t)pthread_self();
}

/*
 * The thread's own copy of the rules it used last, direct-mapped: no atomic
 * loads, no fences, and its lines stay in this core's cache.
 */
#define NEAR_LG 6
static HP_TLS struct {
	uint64_t key, rule;
} near[1u << NEAR_LG];

static inline uint64_t rule_for(uint64_t key, uintptr_t sp, uintptr_t bp, uintptr_t hi)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> (64 - NEAR_LG));
	if (hp_likely(near[i].key == key))
		return near[i].rule;
	uint64_t rule;
	if (!lookup(key, &rule)) {
		uintptr_t pc = (uintptr_t)(key & PC_MASK);
		if (hp_rulecache_find(pc, &rule))
			atomic_fetch_add_explicit(&learnt[2], 1, memory_order_relaxed);
		else if ((rule = learn(pc, sp, bp, hi)) == NOT_YET)
			return LIBUNWIND;
		insert(key, rule);
	}
	near[i].key = key;
	near[i].rule = rule;
	return rule;
}

/*
 * The frame pointer is kept here so that the caller's RSP and RBP at the call
 * are known: the CFA of this frame, and the RBP this frame saved.
 */
__attribute__((noinline, optimize("no-omit-frame-pointer"))) int
hp_unwind_fast(uintptr_t *out, int max)
{
	if (!atomic_load_explicit(&ready, memory_order_acquire))
		return -1;
	uint64_t tag = atomic_load_explicit(&epoch, memory_order_relaxed);
	if (hp_unlikely(tag > EPOCH_MAX))
		return -1; /* code unloaded too often: libunwind alone */
	tag <<= 48;
	if (hp_unlikely(!stack_hi))
		stack_hi = find_stack_hi();
	uintptr_t hi = stack_hi;
	const uintptr_t *fp = __builtin_frame_address(0);
	uintptr_t pc = fp[1], sp = (uintptr_t)(fp + 2), bp = fp[0];
	if (sp >= hi || hi - sp > ((uintptr_t)1 << 30))
		return -1; /* another stack: a signal stack, a child of a thread */
	int n = 0;
	while (n < max && pc) {
		out[n++] = pc;
		uint64_t rule = rule_for(pc | tag, sp, bp, hi);
		unsigned base = rule & 3;
		if (base == OUTERMOST)
			break;
		uintptr_t cfa = (base == FROM_RSP ? sp : bp) +
		                (uint64_t)(int64_t)(int32_t)(rule >> 32);
		if (base == LIBUNWIND || cfa <= sp || cfa > hi)
			return -1;
		if (rule & RBP_SAVED) {
			uintptr_t at = cfa + (uint64_t)(int64_t)(int16_t)(rule >> 16);
			if (at < sp || at + 8 > hi)
				return -1;
			bp = *(const uintptr_t *)at;
		}
		pc = ((const uintptr_t *)cfa)[-1];
		sp = cfa;
	}
	return n;
}

#else /* not x86-64: libunwind walks */

void hp_unwind_fast_enable(void) {}

void hp_unwind_fast_use_libunwind(void *h)
{
	(void)h;
}

int hp_unwind_fast(uintptr_t *out, int max)
{
	(void)out;
	(void)max;
	return -1;
}

void hp_unwind_fast_rules(unsigned long counts[4], unsigned long from[3])
{
	for (int k = 0; k < 4; k++)
		counts[k] = 0;
	from[0] = from[1] = from[2] = 0;
}

bool hp_unwind_fast_rule_ok(uint64_t r)
{
	(void)r;
	return false;
}

unsigned long hp_unwind_fast_learnt(void)
{
	return 0;
}

void hp_unwind_fast_each(void (*fn)(uintptr_t pc, uint64_t rule, void *arg), void *arg)
{
	(void)fn;
	(void)arg;
}

void hp_unwind_fast_postfork_child(void) {}

void hp_unwind_fast_forget(void) {}

#endif
