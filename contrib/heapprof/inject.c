/* SPDX-License-Identifier: MIT */
/*
 * inject: calls a function of libheapprof.so inside another process, for
 * heapprof attach and detach (attach.c): ptrace (no debugger), x86_64 only.
 * Every thread is stopped; when none is inside the allocator, the dynamic
 * loader or the profiler, one thread is pointed at a trampoline that calls
 * dlopen(lib), dlsym(fn) and fn(options), puts its registers back by itself
 * and jumps back where the thread was. The attacher only watches for the
 * trampoline's marker system call, so that if it dies at any moment the
 * target still ends up where it was (docs/attach.md has the stages).
 */
#include "heapprof.h"

#include <cpuid.h>
#include <dirent.h>
#include <elf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The trampoline; rbx points at the data block (D_* offsets), rsp just below
 * it. Its source, assembled with as(1):
 *
 *   mov $-1,%eax; mov $-1,%edx; xsave64 D_XSAVE(%rbx)    save x87/SSE/AVX
 *   lea D_PATH(%rbx),%rdi; mov D_FLAGS(%rbx),%esi; call *D_DLOPEN(%rbx)
 *   mov %rax,D_HANDLE(%rbx); test %rax,%rax; jz 1f
 *   mov %rax,%rdi; lea D_NAME(%rbx),%rsi; call *D_DLSYM(%rbx)
 *   mov %rax,D_FN(%rbx); test %rax,%rax; jz 2f
 *   lea D_OPTIONS(%rbx),%rdi; call *%rax; mov %rax,D_RET(%rbx); jmp 2f
 *   1: call *D_DLERROR(%rbx); mov %rax,D_ERROR(%rbx)
 *   2: mov $-1,%eax; mov $-1,%edx; xrstor64 D_XSAVE(%rbx)
 *   mov $39,%eax; syscall                                 the marker: getpid
 *   lea D_REGS(%rbx),%rsp; pop %r15 ... pop %rdi; popfq; pop %rbx
 *   mov (%rsp),%rsp; jmp *orig_rip(%rip)
 *   orig_rip: .quad 0
 */
static const uint8_t tramp[] = {
    0xb8, 0xff, 0xff, 0xff, 0xff, 0xba, 0xff, 0xff, 0xff, 0xff, 0x48, 0x0f, 0xae, 0xa3,
    0x00, 0x1a, 0x00, 0x00, 0x48, 0x8d, 0xbb, 0x00, 0x01, 0x00, 0x00, 0x8b, 0x73, 0x38,
    0xff, 0x13, 0x48, 0x89, 0x43, 0x18, 0x48, 0x85, 0xc0, 0x74, 0x25, 0x48, 0x89, 0xc7,
    0x48, 0x8d, 0xb3, 0x00, 0x11, 0x00, 0x00, 0xff, 0x53, 0x08, 0x48, 0x89, 0x43, 0x20,
    0x48, 0x85, 0xc0, 0x74, 0x16, 0x48, 0x8d, 0xbb, 0x40, 0x11, 0x00, 0x00, 0xff, 0xd0,
    0x48, 0x89, 0x43, 0x28, 0xeb, 0x07, 0xff, 0x53, 0x10, 0x48, 0x89, 0x43, 0x30, 0xb8,
    0xff, 0xff, 0xff, 0xff, 0xba, 0xff, 0xff, 0xff, 0xff, 0x48, 0x0f, 0xae, 0xab, 0x00,
    0x1a, 0x00, 0x00, 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x8d, 0x63, 0x40,
    0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x41, 0x5b, 0x41, 0x5a, 0x41,
    0x59, 0x41, 0x58, 0x58, 0x59, 0x5a, 0x5e, 0x5f, 0x9d, 0x5b, 0x48, 0x8b, 0x24, 0x24,
    0xff, 0x25, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
#define T_MARKER_END 0x6c /* just after the marker's syscall instruction */
#define T_ORIG_RIP   0x92

/* The data block, on the thread's stack below its red zone. */
enum {
	D_DLOPEN = 0,
	D_DLSYM = 8,
	D_DLERROR = 16,
	D_HANDLE = 24,
	D_FN = 32,
	D_RET = 40,
	D_ERROR = 48,
	D_FLAGS = 56,
	D_REGS =
	    64, /* r15 r14 r13 r12 rbp r11 r10 r9 r8 rax rcx rdx rsi rdi flags rbx rsp */
	D_PATH = 256,
	D_NAME = 4352,
	D_OPTIONS = 4416,
	D_XSAVE = 6656,
	D_SIZE = 16384
};
#define STACK_ROOM (256 * 1024) /* a thread needs this much stack below rsp */

typedef struct {
	uintptr_t lo, hi;
	int kind; /* BUSY_*: what a thread found there holds */
} range_t;

/*
 * What a thread inside a range may hold: the allocator's or the profiler's
 * locks, which it does not hold while it waits in a system call there (a
 * condition variable, jemalloc's background thread, the profiler's
 * threads); or the dynamic loader's lock, which it may hold while it waits.
 */
enum { BUSY_NO, BUSY_WAITING_OK, BUSY_ALWAYS };

typedef struct {
	pid_t tid;
	int sig; /* a signal its stop held back, delivered when it is let go */
	bool in_signal_stop;
	bool busy; /* inside the allocator, the loader or the profiler */
	struct user_regs_struct regs;
} thr_t;

typedef struct {
	pid_t pid;
	thr_t *t;
	size_t n;
	range_t busy[64];
	int nbusy;
	uintptr_t fn[3]; /* dlopen, dlsym, dlerror */
	uintptr_t code;  /* where the trampoline goes */
	uint8_t code_old[sizeof(tramp)];
	int mem;    /* /proc/PID/mem */
	Dwfl *dwfl; /* while the threads are stopped */
	uintptr_t main_stack_lo, main_stack_hi;
} tgt_t;

static const char *stage_pause;
static uint64_t t_call;
static int nstops;

/* The test hook: HEAPPROF_ATTACH_PAUSE=STAGE waits here to be killed. */
static void stage(const char *name)
{
	if (stage_pause && !strcmp(stage_pause, name)) {
		fprintf(stderr, "heapprof: paused at %s\n", name);
		for (;;)
			pause();
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- ELF files on disk -------------------------------------------------- */

typedef struct {
	uint8_t *map;
	size_t len;
	const Elf64_Ehdr *eh;
} elf_t;

static bool elf_open(pid_t pid, const char *path, elf_t *e)
{
	char full[PATH_MAX + 64];
	snprintf(full, sizeof(full), "/proc/%d/root%s", (int)pid, path);
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	struct stat st;
	e->map = MAP_FAILED;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(Elf64_Ehdr))
		e->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (e->map == MAP_FAILED)
		return false;
	e->len = (size_t)st.st_size;
	e->eh = (const Elf64_Ehdr *)e->map;
	if (memcmp(e->eh->e_ident, ELFMAG, SELFMAG) ||
	    e->eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    e->eh->e_phoff + (size_t)e->eh->e_phnum * sizeof(Elf64_Phdr) > e->len ||
	    e->eh->e_shoff + (size_t)e->eh->e_shnum * sizeof(Elf64_Shdr) > e->len) {
		munmap(e->map, e->len);
		return false;
	}
	return true;
}

static void elf_close(elf_t *e)
{
	munmap(e->map, e->len);
}

static const Elf64_Phdr *elf_phdr(const elf_t *e, int i)
{
	return (const Elf64_Phdr *)(e->map + e->eh->e_phoff) + i;
}

/* Calls fn for each defined symbol of .dynsym: name, value, size. */
static void elf_symbols(const elf_t *e,
                        void (*fn)(const char *, uint64_t, uint64_t, void *), void *arg)
{
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(e->map + e->eh->e_shoff);
	for (int i = 0; i < e->eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= e->eh->e_shnum)
			continue;
		const Elf64_Shdr *str = &sh[sh[i].sh_link];
		if (sh[i].sh_offset + sh[i].sh_size > e->len ||
		    str->sh_offset + str->sh_size > e->len)
			return;
		const Elf64_Sym *s = (const Elf64_Sym *)(e->map + sh[i].sh_offset);
		for (size_t k = 0; k < sh[i].sh_size / sizeof(*s); k++)
			if (s[k].st_shndx != SHN_UNDEF && s[k].st_name < str->sh_size)
				fn((const char *)e->map + str->sh_offset + s[k].st_name,
				   s[k].st_value, s[k].st_size, arg);
	}
}

/* The in-memory address of file offset 0's page, from a mapping of it. */
static uintptr_t elf_bias(const elf_t *e, uintptr_t start, uint64_t offset)
{
	for (int i = 0; i < e->eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(e, i);
		if (ph->p_type == PT_LOAD && (ph->p_offset & ~4095ull) == offset)
			return start - (ph->p_vaddr & ~4095ull);
	}
	return 0;
}

/* ---- the target's mappings ---------------------------------------------- */

typedef struct {
	uintptr_t start, end;
	uint64_t offset;
	char perms[8];
	char path[PATH_MAX];
} mapping_t;

/* Calls fn for each mapping of pid until it returns true. */
static bool each_mapping(pid_t pid, bool (*fn)(const mapping_t *, void *), void *arg)
{
	char name[64], line[PATH_MAX + 256];
	snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(name, "re");
	if (!f)
		return false;
	bool done = false;
	mapping_t m;
	while (!done && fgets(line, sizeof(line), f)) {
		m.path[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095[^\n]", &m.start, &m.end,
		           m.perms, &m.offset, m.path) >= 4)
			done = fn(&m, arg);
	}
	fclose(f);
	return done;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

bool inject_is_loader(const char *path)
{
	return !strncmp(base_name(path), "ld-linux", 8) ||
	       !strncmp(base_name(path), "ld-", 3);
}

bool inject_is_libc(const char *path)
{
	return !strncmp(base_name(path), "libc.so", 7) ||
	       !strncmp(base_name(path), "libc-", 5);
}

bool inject_is_profiler(const char *path)
{
	return !strncmp(base_name(path), "libheapprof", 11);
}

/* ---- what a thread must not be inside ----------------------------------- */

static const char *const alloc_names[] = {"malloc",         "free",
                                          "calloc",         "realloc",
                                          "memalign",       "valloc",
                                          "pvalloc",        "posix_memalign",
                                          "aligned_alloc",  "malloc_usable_size",
                                          "malloc_trim",    "mallopt",
                                          "mallinfo",       "mallinfo2",
                                          "malloc_stats",   "malloc_info",
                                          "reallocarray",   "__libc_malloc",
                                          "__libc_free",    "__libc_calloc",
                                          "__libc_realloc", "__libc_memalign"};

/*
 * A module's allocation functions: from the first to the last of them, and
 * out to the neighbouring exported functions, since the static functions
 * of the same unit (glibc's _int_malloc, ...) lie between. Collected in two
 * passes over the symbols: the span, then its neighbours.
 */
struct span {
	range_t r;              /* the allocation functions */
	uintptr_t below, above; /* the nearest other functions' end and start */
	range_t iterate;        /* dl_iterate_phdr: holds the loader's lock */
	bool defines_malloc;
	uintptr_t want[3]; /* dlopen, dlsym, dlerror: their values */
};

static bool is_alloc_name(const char *name)
{
	for (size_t i = 0; i < sizeof(alloc_names) / sizeof(*alloc_names); i++)
		if (!strcmp(name, alloc_names[i]))
			return true;
	return false;
}

static void span_of(const char *name, uint64_t value, uint64_t size, void *arg)
{
	struct span *s = arg;
	static const char *const dl[] = {"dlopen", "dlsym", "dlerror"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, dl[i]))
			s->want[i] = value;
	if (!strcmp(name, "dl_iterate_phdr"))
		s->iterate = (range_t){value, value + size};
	if (!is_alloc_name(name))
		return;
	s->defines_malloc |= !strcmp(name, "malloc");
	if (!s->r.hi || value < s->r.lo)
		s->r.lo = value;
	if (value + size > s->r.hi)
		s->r.hi = value + size;
}

static void neighbours(const char *name, uint64_t value, uint64_t size, void *arg)
{
	struct span *s = arg;
	if (!size || is_alloc_name(name))
		return;
	if (value + size <= s->r.lo && value + size > s->below)
		s->below = value + size;
	if (value >= s->r.hi && value < s->above)
		s->above = value;
}

static void add_busy(tgt_t *g, uintptr_t lo, uintptr_t hi, int kind)
{
	if (g->nbusy < (int)(sizeof(g->busy) / sizeof(*g->busy)))
		g->busy[g->nbusy++] = (range_t){lo, hi, kind};
}

/*
 * One executable mapping: the loader's and the profiler's are busy whole;
 * libc's and another allocator's from the first to the last of their
 * allocation functions (glibc's malloc.c is one unit, its static functions
 * between them), or whole for a shared library that defines malloc.
 */
static bool note_code(const mapping_t *m, void *arg)
{
	tgt_t *g = arg;
	if (!strchr(m->perms, 'x') || m->path[0] != '/')
		return false;
	if (inject_is_loader(m->path) || inject_is_profiler(m->path)) {
		add_busy(g, m->start, m->end,
		         inject_is_loader(m->path) ? BUSY_ALWAYS : BUSY_WAITING_OK);
		return false;
	}
	elf_t e;
	if (!elf_open(g->pid, m->path, &e))
		return false;
	struct span s;
	memset(&s, 0, sizeof(s));
	elf_symbols(&e, span_of, &s);
	if (s.r.hi) {
		s.below = 0;
		s.above = UINTPTR_MAX;
		elf_symbols(&e, neighbours, &s);
		s.r = (range_t){s.below ? s.below : s.r.lo,
		                s.above != UINTPTR_MAX ? s.above : s.r.hi};
	}
	uintptr_t bias = elf_bias(&e, m->start, m->offset);
	bool shared = e.eh->e_type == ET_DYN && !elf_phdr(&e, 0)->p_vaddr;
	elf_close(&e);
	if (inject_is_libc(m->path)) {
		for (int i = 0; i < 3; i++)
			g->fn[i] = s.want[i] ? bias + s.want[i] : 0;
		add_busy(g, bias + s.r.lo, bias + s.r.hi, BUSY_WAITING_OK);
		add_busy(g, bias + s.iterate.lo, bias + s.iterate.hi, BUSY_ALWAYS);
	} else if (s.defines_malloc && shared && strstr(m->path, ".so"))
		add_busy(g, m->start, m->end, BUSY_WAITING_OK);
	else if (s.r.hi)
		add_busy(g, bias + s.r.lo, bias + s.r.hi, BUSY_WAITING_OK);
	return false;
}

static int in_busy(const tgt_t *g, uintptr_t a)
{
	int kind = BUSY_NO;
	for (int i = 0; i < g->nbusy; i++)
		if (a - g->busy[i].lo < g->busy[i].hi - g->busy[i].lo &&
		    g->busy[i].kind > kind)
			kind = g->busy[i].kind;
	return kind;
}

static ssize_t read_mem(tgt_t *g, uintptr_t addr, void *buf, size_t len)
{
	return pread(g->mem, buf, len, (off_t)addr);
}

/* Writes through /proc/PID/mem, else word by word with PTRACE_POKEDATA. */
static bool write_mem(tgt_t *g, pid_t tid, uintptr_t addr, const void *buf, size_t len)
{
	if (pwrite(g->mem, buf, len, (off_t)addr) == (ssize_t)len)
		return true;
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i += 8) {
		long w = 0;
		if (len - i < 8) {
			errno = 0;
			w = ptrace(PTRACE_PEEKDATA, tid, (void *)(addr + i), NULL);
			if (errno)
				return false;
		}
		memcpy(&w, b + i, len - i < 8 ? len - i : 8);
		if (ptrace(PTRACE_POKEDATA, tid, (void *)(addr + i), (void *)w) < 0)
			return false;
	}
	return true;
}

/*
 * Is the thread inside code it must not be in: its pc or a return address
 * of its stack, unwound by libdw with the modules' CFI (eu-stack's way)?
 */
struct walk {
	const tgt_t *g;
	int frames;
	int busy; /* the most of BUSY_* over the frames */
};

static int frame_busy(Dwfl_Frame *state, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	bool activation;
	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	int kind = in_busy(w->g, activation ? pc : pc - 1);
	if (kind > w->busy)
		w->busy = kind;
	return w->busy == BUSY_ALWAYS || ++w->frames >= 256 ? DWARF_CB_ABORT
	                                                    : DWARF_CB_OK;
}

static int thread_busy(tgt_t *g, const thr_t *t)
{
	struct walk w = {g, 0, in_busy(g, t->regs.rip)};
	if (g->dwfl)
		dwfl_getthread_frames(g->dwfl, t->tid, frame_busy, &w);
	if (w.busy && getenv("HEAPPROF_ATTACH_DEBUG"))
		fprintf(stderr, "thread %d: busy at frame %d, in system call %lld\n",
		        (int)t->tid, w.frames, (long long)t->regs.orig_rax);
	return w.busy;
}

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
};

/* libdw's view of the stopped process, for thread_busy; NULL if none. */
static Dwfl *unwinder(pid_t pid)
{
	Dwfl *d = dwfl_begin(&dwfl_callbacks);
	if (d && (dwfl_linux_proc_report(d, pid) || dwfl_report_end(d, NULL, NULL) ||
	          dwfl_linux_proc_attach(d, pid, true))) {
		dwfl_end(d);
		d = NULL;
	}
	return d;
}

/* An executable mapping's bytes past its segment's end: never executed. */
static bool find_slack(const mapping_t *m, void *arg)
{
	tgt_t *g = arg;
	if (!strchr(m->perms, 'x') || m->path[0] != '/' || g->code)
		return g->code != 0;
	elf_t e;
	if (!elf_open(g->pid, m->path, &e))
		return false;
	uintptr_t bias = elf_bias(&e, m->start, m->offset);
	for (int i = 0; i < e.eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(&e, i);
		uintptr_t end = (bias + ph->p_vaddr + ph->p_memsz + 15) & ~(uintptr_t)15;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && end > m->start &&
		    end <= m->end && m->end - end >= sizeof(tramp))
			g->code = end;
	}
	elf_close(&e);
	return g->code != 0;
}

static bool note_stack(const mapping_t *m, void *arg)
{
	tgt_t *g = arg;
	if (strcmp(m->path, "[stack]"))
		return false;
	g->main_stack_lo = m->start;
	g->main_stack_hi = m->end;
	return true;
}

/* Has the thread STACK_ROOM below rsp within its stack's mapping? */
struct room {
	uintptr_t sp;
	bool ok;
};

static bool has_room(const mapping_t *m, void *arg)
{
	struct room *r = arg;
	if (r->sp - 1 - m->start >= m->end - m->start)
		return false;
	r->ok = r->sp - m->start >= STACK_ROOM && strchr(m->perms, 'w');
	return true;
}

/* ---- stopping and letting go ------------------------------------------ */

static void add_thread(tgt_t *g, pid_t tid)
{
	g->t = realloc(g->t, (g->n + 1) * sizeof(*g->t));
	if (!g->t)
		die("out of memory");
	memset(&g->t[g->n], 0, sizeof(*g->t));
	g->t[g->n++].tid = tid;
}

static bool known(const tgt_t *g, pid_t tid)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->t[i].tid == tid)
			return true;
	return false;
}

/*
 * Waits for tid's stop after PTRACE_INTERRUPT; a signal it was about to
 * take is kept in t->sig and given back when it is let go.
 */
static int wait_stop(thr_t *t)
{
	int st;
	for (;;) {
		if (waitpid(t->tid, &st, __WALL) < 0)
			return -errno;
		if (!WIFSTOPPED(st))
			return -ESRCH; /* gone */
		if ((st >> 16) == PTRACE_EVENT_STOP)
			return 0;
		if ((st >> 16) == 0 && WSTOPSIG(st) != (SIGTRAP | 0x80)) {
			t->sig = WSTOPSIG(st); /* signal-delivery-stop: stopped too */
			t->in_signal_stop = true;
			return 0;
		}
		ptrace(PTRACE_CONT, t->tid, NULL, NULL);
	}
}

/* Seizes every thread (those started meanwhile too). 0 or -errno. */
static int seize_all(tgt_t *g)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)g->pid);
	for (bool added = true; added;) {
		added = false;
		DIR *d = opendir(dir);
		if (!d)
			return -errno;
		struct dirent *e;
		while ((e = readdir(d))) {
			pid_t tid = (pid_t)atoi(e->d_name);
			if (tid <= 0 || known(g, tid))
				continue;
			if (ptrace(PTRACE_SEIZE, tid, NULL,
			           (void *)PTRACE_O_TRACESYSGOOD) < 0) {
				int err = errno;
				if (err == ESRCH)
					continue; /* it ended */
				closedir(d);
				return -err;
			}
			add_thread(g, tid);
			ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
			added = true;
		}
		closedir(d);
	}
	return 0;
}

/* Waits for every seized thread to stop and reads its registers. */
static int stop_all(tgt_t *g, bool interrupt)
{
	size_t keep = 0;
	for (size_t i = 0; i < g->n; i++) {
		thr_t *t = &g->t[i];
		if (interrupt)
			ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL);
		t->in_signal_stop = false;
		if (wait_stop(t) < 0 ||
		    ptrace(PTRACE_GETREGS, t->tid, NULL, &t->regs) < 0)
			continue; /* a thread that ended meanwhile */
		g->t[keep++] = *t;
	}
	g->n = keep;
	return keep ? 0 : -ESRCH;
}

static void resume_all(tgt_t *g, pid_t except)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->t[i].tid != except) {
			ptrace(PTRACE_CONT, g->t[i].tid, NULL, (void *)(long)g->t[i].sig);
			g->t[i].sig = 0;
		}
}

static void detach_all(tgt_t *g)
{
	for (size_t i = 0; i < g->n; i++)
		ptrace(PTRACE_DETACH, g->t[i].tid, NULL, (void *)(long)g->t[i].sig);
	g->n = 0;
}

/* ---- the call ------------------------------------------------------------ */

/*
 * The registers to go back to: a system call the stop interrupted is
 * restarted as the kernel would have (rip back over the syscall
 * instruction, rax its number), so that orig_rax can be -1 from here on.
 */
static struct user_regs_struct resume_regs(const struct user_regs_struct *r)
{
	struct user_regs_struct o = *r;
	long ret = (long)r->rax;
	if ((long)r->orig_rax >= 0 &&
	    (ret == -512 || ret == -513 || ret == -514 ||
	     ret == -516)) { /* -ERESTARTSYS ... RESTART_RESTARTBLOCK */
		o.rax = ret == -516 ? SYS_restart_syscall : r->orig_rax;
		o.rip -= 2;
	}
	o.orig_rax = (unsigned long long)-1;
	return o;
}

/* The thread to run the call in: not busy, not taking a signal, with room. */
static thr_t *pick_thread(tgt_t *g)
{
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < g->n; i++) {
			thr_t *t = &g->t[i];
			if ((pass == 0) != (t->tid == g->pid) || t->in_signal_stop ||
			    t->busy)
				continue;
			struct room r = {t->regs.rsp, false};
			bool main_stack = t->regs.rsp > g->main_stack_lo &&
			                  t->regs.rsp <= g->main_stack_hi;
			if (main_stack || (each_mapping(g->pid, has_room, &r) && r.ok))
				return t;
		}
	return NULL;
}

/*
 * A system call in which a thread waits for something to happen: blocked
 * there inside the allocator or the profiler (a condition variable, a lock,
 * jemalloc's background thread, the profiler's own threads), it is not in
 * the middle of changing anything. Not mmap, munmap, brk, madvise: the work
 * of an allocator, its locks held. The call is never made in such a thread.
 */
static bool idle_wait(long nr)
{
	static const long idle[] = {
	    SYS_futex,           SYS_nanosleep,      SYS_clock_nanosleep,
	    SYS_epoll_wait,      SYS_epoll_pwait,    SYS_poll,
	    SYS_ppoll,           SYS_select,         SYS_pselect6,
	    SYS_rt_sigtimedwait, SYS_rt_sigsuspend,  SYS_pause,
	    SYS_wait4,           SYS_waitid,         SYS_read,
	    SYS_accept,          SYS_accept4,        SYS_recvfrom,
	    SYS_recvmsg,         SYS_restart_syscall};
	for (size_t i = 0; i < sizeof(idle) / sizeof(*idle); i++)
		if (nr == idle[i])
			return true;
	return false;
}

/* Stops every thread at a safe point; the one to call in, or NULL. */
static thr_t *stop_safely(tgt_t *g, int *attempts, int *err, uint64_t *stopped_at)
{
	for (*attempts = 1; *attempts <= 100; ++*attempts) {
		*stopped_at = now_ns(); /* from the first PTRACE_INTERRUPT */
		if ((*err = *attempts == 1 ? seize_all(g) : 0) < 0 ||
		    (*err = stop_all(g, *attempts > 1)) < 0)
			return NULL;
		g->dwfl = unwinder(g->pid);
		bool busy = false;
		for (size_t i = 0; i < g->n && !busy; i++) {
			thr_t *t = &g->t[i];
			int kind = thread_busy(g, t);
			t->busy = kind != BUSY_NO;
			busy =
			    kind == BUSY_ALWAYS || (kind == BUSY_WAITING_OK &&
			                            !idle_wait((long)t->regs.orig_rax));
		}
		if (g->dwfl)
			dwfl_end(g->dwfl);
		thr_t *t = busy ? NULL : pick_thread(g);
		if (t)
			return t;
		resume_all(g, 0); /* briefly, and again */
		struct timespec ts = {0, 2000000L * (*attempts < 10 ? *attempts : 10)};
		nanosleep(&ts, NULL);
	}
	*err = -EBUSY;
	return NULL;
}

/* The data block: addresses, strings, the registers to go back to. */
static void fill_block(tgt_t *g, uint8_t *d, const inject_req_t *req,
                       const struct user_regs_struct *o)
{
	memset(d, 0, D_SIZE);
	memcpy(d + D_DLOPEN, g->fn, sizeof(g->fn));
	*(uint64_t *)(d + D_FLAGS) = (uint64_t)req->dlflags;
	snprintf((char *)d + D_PATH, D_NAME - D_PATH, "%s", req->lib);
	snprintf((char *)d + D_NAME, D_OPTIONS - D_NAME, "%s", req->fn);
	snprintf((char *)d + D_OPTIONS, D_XSAVE - D_OPTIONS, "%s", req->options);
	const unsigned long long regs[] = {
	    o->r15, o->r14, o->r13, o->r12, o->rbp, o->r11,    o->r10, o->r9, o->r8,
	    o->rax, o->rcx, o->rdx, o->rsi, o->rdi, o->eflags, o->rbx, o->rsp};
	memcpy(d + D_REGS, regs, sizeof(regs));
}

/*
 * Runs the trampoline in t, the others stopped (let go after a while, in
 * case one holds a lock the call needs), until its marker system call.
 */
static int run_call(tgt_t *g, thr_t *t, const char **why)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	uint64_t start = now_ns();
	bool others_go = false;
	int sig = 0, st;
	if (ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL) < 0)
		return *why = "cannot resume the thread", -errno;
	for (;;) {
		pid_t w = waitpid(t->tid, &st, __WALL | WNOHANG);
		if (w == 0) {
			uint64_t waited = now_ns() - start;
			if (!others_go && waited > 2000000000u) {
				resume_all(g, t->tid);
				others_go = true;
			}
			if (waited > 30000000000u)
				return *why = "the call did not return within 30 s",
				       -ETIMEDOUT;
			struct timespec ts = {0, 5000000};
			sigtimedwait(&chld, NULL, &ts);
			continue;
		}
		if (w < 0 || !WIFSTOPPED(st))
			return *why = "the process ended during the call", -ESRCH;
		struct user_regs_struct r;
		nstops++;
		sig = WSTOPSIG(st);
		if (sig == (SIGTRAP | 0x80)) {
			if (ptrace(PTRACE_GETREGS, t->tid, NULL, &r) == 0 &&
			    r.rip == g->code + T_MARKER_END && r.orig_rax == SYS_getpid)
				return 0;
			sig = 0;
		} else if ((st >> 16) != 0)
			sig = 0; /* an event stop */
		if (sig == SIGSEGV || sig == SIGILL || sig == SIGBUS) {
			if (ptrace(PTRACE_GETREGS, t->tid, NULL, &r) == 0 &&
			    r.rip - g->code < sizeof(tramp))
				return *why = "the trampoline faulted", -EFAULT;
		}
		ptrace(PTRACE_SYSCALL, t->tid, NULL, (void *)(long)sig);
	}
}

/* Reads what the call left in the block into res. */
static void read_results(tgt_t *g, uintptr_t d, inject_res_t *res)
{
	uint64_t v[5] = {0}; /* handle, fn, ret, error */
	read_mem(g, d + D_HANDLE, v, 4 * sizeof(uint64_t));
	res->loaded = v[0] != 0;
	res->found = v[1] != 0;
	res->ret = (int)v[2];
	res->dlerror[0] = '\0';
	if (v[3] && read_mem(g, v[3], res->dlerror, sizeof(res->dlerror) - 1) > 0)
		res->dlerror[sizeof(res->dlerror) - 1] = '\0';
}

/* Points t at the trampoline, its data block written below its stack. */
static int hijack(tgt_t *g, thr_t *t, const inject_req_t *req,
                  const struct user_regs_struct *o, uintptr_t *d)
{
	static uint8_t block[D_SIZE];
	uint8_t code[sizeof(tramp)];
	memcpy(code, tramp, sizeof(code));
	memcpy(code + T_ORIG_RIP, &o->rip, sizeof(o->rip));
	*d = (t->regs.rsp - 128 - 1024 - D_SIZE) & ~(uintptr_t)63;
	fill_block(g, block, req, o);
	if (read_mem(g, g->code, g->code_old, sizeof(code)) != (ssize_t)sizeof(code) ||
	    !write_mem(g, t->tid, *d, block, D_SIZE))
		return -errno;
	if (!write_mem(g, t->tid, g->code, code, sizeof(code)))
		return -errno;
	stage("written");
	struct user_regs_struct call = t->regs;
	call.rip = g->code;
	call.rsp = call.rbx = *d;
	call.orig_rax = (unsigned long long)-1;
	call.eflags &= ~0x400ull; /* the ABI's direction flag, clear at a call */
	if (ptrace(PTRACE_SETREGS, t->tid, NULL, &call) < 0)
		return -errno;
	stage("hijacked");
	return 0;
}

static bool cpu_has_xsave(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27)); /* OSXSAVE */
}

static int prepare(tgt_t *g, char *why, size_t len)
{
	char name[64];
	snprintf(name, sizeof(name), "/proc/%d/mem", (int)g->pid);
	if (!cpu_has_xsave())
		return snprintf(why, len, "this CPU has no XSAVE"), -ENOTSUP;
	each_mapping(g->pid, note_code, g);
	if (!g->fn[0] || !g->fn[1] || !g->fn[2])
		return snprintf(
		           why, len,
		           "its C library exports no dlopen (glibc 2.34 or later does)"),
		       -ENOTSUP;
	if (getenv("HEAPPROF_ATTACH_DEBUG"))
		for (int i = 0; i < g->nbusy; i++)
			fprintf(stderr, "busy %lx-%lx\n", g->busy[i].lo, g->busy[i].hi);
	each_mapping(g->pid, find_slack, g);
	if (!g->code)
		return snprintf(why, len,
		                "no executable mapping has room for the trampoline"),
		       -ENOSPC;
	each_mapping(g->pid, note_stack, g);
	g->mem = open(name, O_RDWR | O_CLOEXEC);
	return g->mem < 0 ? -errno : 0;
}

/* Leaves the process as it was but for what the call did. */
static void let_go(tgt_t *g, thr_t *t, const struct user_regs_struct *o)
{
	if (t) {
		ptrace(PTRACE_SETREGS, t->tid, NULL, o);
		t->sig = 0;
		stage("restored");
		write_mem(g, t->tid, g->code, g->code_old, sizeof(g->code_old));
	}
	detach_all(g);
}

int inject_call(pid_t pid, const inject_req_t *req, inject_res_t *res, char *why,
                size_t len)
{
	stage_pause = getenv("HEAPPROF_ATTACH_PAUSE");
	memset(res, 0, sizeof(*res));
	tgt_t g = {.pid = pid, .mem = -1};
	int err = prepare(&g, why, len);
	if (err < 0)
		return err;
	uint64_t t0 = now_ns();
	thr_t *t = stop_safely(&g, &res->attempts, &err, &t0);
	if (!t) {
		detach_all(&g);
		close(g.mem);
		if (err == -EBUSY)
			snprintf(why, len,
			         "every one of %d attempts found a thread inside the "
			         "allocator, "
			         "the dynamic loader or the profiler; nothing was "
			         "changed, try again",
			         res->attempts - 1);
		return err;
	}
	stage("stopped");
	struct user_regs_struct o = resume_regs(&t->regs);
	uintptr_t d;
	const char *what = NULL;
	t_call = now_ns();
	if ((err = hijack(&g, t, req, &o, &d)) < 0)
		snprintf(why, len, "cannot write into the process (%s)", strerror(-err));
	else if ((err = run_call(&g, t, &what)) < 0)
		snprintf(why, len, "%s", what);
	else {
		if (getenv("HEAPPROF_ATTACH_DEBUG"))
			fprintf(stderr, "stopped after %.3f ms, call %.3f ms, %d stops\n",
			        (t_call - t0) / 1e6, (now_ns() - t_call) / 1e6, nstops);
		stage("called");
		read_results(&g, d, res);
	}
	if (err == -ETIMEDOUT || err == -ESRCH)
		detach_all(&g); /* the call finishes, or the process is gone */
	else
		let_go(&g, t, &o);
	res->stopped_ns = now_ns() - t0;
	close(g.mem);
	free(g.t);
	return err;
}
