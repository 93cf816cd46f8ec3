/* SPDX-License-Identifier: MIT */
/*
 * config: parses HEAPPROF_* once, in the constructor, ignored by setuid
 * programs (as secure_getenv would). A bad value gets one warning naming the
 * variable and the value, and the default stays in force.
 */
#include "config.h"
#include "common.h"
#include "sys.h"
#include "http_parse.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

hp_config_t hp_config = {
    .rate = HP_DEFAULT_RATE,
    .output = "heapprof",
    .signal = SIGUSR2,
    .at_exit = true,
    .max_frames = HP_DEFAULT_MAX_FRAMES,
    .unwind_fast = true,
    .follow_exec = true,
    .peak_step = 10,
};

/* 2^40 bytes: beyond this the fixed-point weights could overflow (sampler.h). */
#define RATE_MAX (1ULL << 40)

int hp_config_parse_size(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	uint64_t v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	unsigned shift = 0;
	switch (*p) {
	case 'k':
	case 'K':
		shift = 10;
		p++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		p++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		p++;
		break;
	default:
		break;
	}
	if (shift && (*p == 'i' || *p == 'I'))
		p++;
	if (shift && (*p == 'b' || *p == 'B'))
		p++;
	if (*p)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

int hp_config_parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"1", "true", "yes", "on"};
	static const char *no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < HP_ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	}
	return -EINVAL;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
    {"CONT", SIGCONT}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

/* Real-time signals, named as kill -l names them: RTMIN+n in the lower half. */
static bool rt_lower_half(int sig)
{
	return sig - SIGRTMIN <= (SIGRTMAX - SIGRTMIN) / 2;
}

const char *hp_config_signal_name(int sig, char *buf, size_t len)
{
	for (size_t i = 0; i < HP_ARRAY_SIZE(signals); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	if (sig < SIGRTMIN || sig > SIGRTMAX)
		hp_fmt(buf, len, "%d", sig);
	else if (rt_lower_half(sig))
		hp_fmt(buf, len, sig == SIGRTMIN ? "RTMIN" : "RTMIN+%d", sig - SIGRTMIN);
	else
		hp_fmt(buf, len, sig == SIGRTMAX ? "RTMAX" : "RTMAX-%d", SIGRTMAX - sig);
	return buf;
}

/* RTMIN, RTMIN+n, RTMAX, RTMAX-n (after any SIG prefix), or 0. */
static int parse_rt(const char *s)
{
	int base, dir;
	if (!strncasecmp(s, "RTMIN", 5))
		base = SIGRTMIN, dir = 1;
	else if (!strncasecmp(s, "RTMAX", 5))
		base = SIGRTMAX, dir = -1;
	else
		return 0;
	s += 5;
	if (!*s)
		return base;
	uint64_t n;
	if (*s != (dir > 0 ? '+' : '-') || s[1] < '0' || s[1] > '9' ||
	    hp_config_parse_size(s + 1, &n) || n > (uint64_t)(SIGRTMAX - SIGRTMIN))
		return 0;
	return base + dir * (int)n;
}

/* Signals that cannot be caught, crash signals programs rely on, and 32 and
 * 33, which glibc keeps for itself (thread cancellation, setxid). */
static bool forbidden_signal(uint64_t v)
{
	return v == 0 || v > (uint64_t)SIGRTMAX || v == SIGKILL || v == SIGSTOP ||
	       v == SIGSEGV || v == SIGBUS || v == SIGFPE || v == SIGILL ||
	       v == SIGABRT || v == SIGTRAP || (v > 31 && v < (uint64_t)SIGRTMIN);
}

int hp_config_parse_signal(const char *s, int *out)
{
	if (!strcasecmp(s, "none") || !strcasecmp(s, "off") || !strcmp(s, "0"))
		return *out = 0, 0;
	if (*s >= '0' && *s <= '9') {
		uint64_t v;
		if (hp_config_parse_size(s, &v) || forbidden_signal(v))
			return -EINVAL;
		return *out = (int)v, 0;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	int rt = parse_rt(s);
	if (rt)
		return *out = rt, 0;
	for (size_t i = 0; i < HP_ARRAY_SIZE(signals); i++)
		if (!strcasecmp(s, signals[i].name))
			return *out = signals[i].sig, 0;
	return -EINVAL;
}

/*
 * A relative prefix is taken from the directory the program starts in, so a
 * daemon that changes directory still writes where it was asked to.
 */
static void make_absolute(char *path)
{
	char cwd[HP_OUTPUT_MAX];
	if (path[0] == '/' || !hp_sys_getcwd(cwd, sizeof(cwd)))
		return;
	size_t c = strlen(cwd), p = strlen(path);
	if (c + 1 + p + 64 >= HP_OUTPUT_MAX)
		return;
	memmove(path + c + 1, path, p + 1);
	memcpy(path, cwd, c);
	path[c] = '/';
}

/* Each parser stores into its option and returns 0, or -EINVAL on a bad value. */
static int set_rate(const char *v)
{
	uint64_t n;
	if (hp_config_parse_size(v, &n) || n > RATE_MAX)
		return -EINVAL;
	hp_config.rate = n;
	return 0;
}

static int set_output(const char *v)
{
	size_t len = strlen(v);
	if (!len || len >= HP_OUTPUT_MAX - 64)
		return -EINVAL;
	memcpy(hp_config.output, v, len + 1);
	return 0;
}

static int set_signal(const char *v)
{
	return hp_config_parse_signal(v, &hp_config.signal);
}

static int set_at_exit(const char *v)
{
	return hp_config_parse_bool(v, &hp_config.at_exit);
}

static int set_max_frames(const char *v)
{
	uint64_t n;
	if (hp_config_parse_size(v, &n) || n < 1 || n > HP_MAX_FRAMES_LIMIT)
		return -EINVAL;
	hp_config.max_frames = (unsigned)n;
	return 0;
}

static int set_unwind(const char *v)
{
	if (!strcmp(v, "fast") || !strcmp(v, "libunwind")) {
		hp_config.unwind_fast = !strcmp(v, "fast");
		return 0;
	}
	return -EINVAL;
}

static int set_verbose(const char *v)
{
	return hp_config_parse_bool(v, &hp_config.verbose);
}

static int set_seed(const char *v)
{
	return hp_config_parse_size(v, &hp_config.seed);
}

static int set_follow_exec(const char *v)
{
	return hp_config_parse_bool(v, &hp_config.follow_exec);
}

static int set_metadata_max(const char *v)
{
	uint64_t n;
	if (hp_config_parse_size(v, &n) || (n && n < (1u << 20)))
		return -EINVAL;
	hp_config.metadata_max = n;
	return 0;
}

static int set_http(const char *v)
{
	hp_http_addr_t a;
	if (strlen(v) >= HP_HTTP_MAX || hp_http_parse_addr(v, &a))
		return -EINVAL;
	memcpy(hp_config.http, v, strlen(v) + 1);
	return 0;
}

/* Visible ASCII, as a bearer token is (RFC 6750 allows fewer characters). */
static int set_http_token(const char *v)
{
	size_t n = strlen(v);
	if (!n || n >= HP_HTTP_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] >= 0x7f)
			return -EINVAL;
	memcpy(hp_config.http_token, v, n + 1);
	return 0;
}

static int set_dump_bytes(const char *v)
{
	return hp_config_parse_size(v, &hp_config.dump_bytes);
}

/* A whole number from lo to hi, into *out. */
static int set_uint(const char *v, unsigned *out, uint64_t lo, uint64_t hi)
{
	uint64_t n;
	if (*v < '0' || *v > '9' || hp_config_parse_size(v, &n) || n < lo || n > hi)
		return -EINVAL;
	for (const char *p = v; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL; /* no K/M/G suffix on a count */
	*out = (unsigned)n;
	return 0;
}

static int set_dump_seconds(const char *v)
{
	return set_uint(v, &hp_config.dump_seconds, 0, 86400 * 365);
}

static int set_keep(const char *v)
{
	return set_uint(v, &hp_config.keep, 0, HP_KEEP_MAX);
}

static int set_dump_peak(const char *v)
{
	return hp_config_parse_bool(v, &hp_config.dump_peak);
}

static int set_lifetimes(const char *v)
{
	return hp_config_parse_bool(v, &hp_config.lifetimes);
}

static int set_peak_step(const char *v)
{
	return set_uint(v, &hp_config.peak_step, 1, 1000);
}

static int set_dump_limit(const char *v)
{
	return set_uint(v, &hp_config.dump_limit, 0, 100);
}

static int set_summary(const char *v)
{
	return hp_config_parse_bool(v, &hp_config.summary);
}

static int set_block_rate(const char *v)
{
	return set_uint(v, &hp_config.block_rate, 0, UINT32_MAX);
}

static int set_mutex_fraction(const char *v)
{
	return set_uint(v, &hp_config.mutex_fraction, 0, UINT32_MAX);
}

/* The option table: variable, parser, what a good value looks like, default. */
static const struct {
	const char *name;
	int (*set)(const char *value);
	const char *expected;
	const char *fallback;
} options[] = {
    {"HEAPPROF_RATE", set_rate,
     "bytes between samples (0 = off, 1 = every allocation, K/M/G suffixes, at most "
     "1024G)",
     "524288"},
    {"HEAPPROF_OUTPUT", set_output, "a non-empty path prefix", "\"heapprof\""},
    {"HEAPPROF_SIGNAL", set_signal,
     "a catchable signal: a name (USR2, SIGPROF, RTMIN+3, RTMAX-2), a number "
     "(not 32 or 33, which the C library keeps), or \"none\"",
     "USR2"},
    {"HEAPPROF_AT_EXIT", set_at_exit, "1/0, true/false, yes/no, on/off", "1"},
    {"HEAPPROF_MAX_FRAMES", set_max_frames, "a depth from 1 to 512", "128"},
    {"HEAPPROF_UNWIND", set_unwind, "fast or libunwind", "fast"},
    {"HEAPPROF_VERBOSE", set_verbose, "1/0, true/false, yes/no, on/off", "0"},
    {"HEAPPROF_SEED", set_seed, "a non-negative integer", "a random seed"},
    {"HEAPPROF_FOLLOW_EXEC", set_follow_exec, "1/0, true/false, yes/no, on/off", "1"},
    {"HEAPPROF_METADATA_MAX", set_metadata_max, "0 (no limit) or bytes, at least 1M",
     "0"},
    {"HEAPPROF_HTTP", set_http,
     "127.0.0.1:PORT, [::1]:PORT, localhost:PORT, another address with a port, or "
     "unix:/absolute/path (%p: the pid)",
     "no endpoint"},
    {"HEAPPROF_HTTP_TOKEN", set_http_token,
     "a token of 1 to 255 visible ASCII characters", "no token"},
    {"HEAPPROF_DUMP_BYTES", set_dump_bytes,
     "bytes allocated between profiles (0 = off, K/M/G suffixes)", "0 (off)"},
    {"HEAPPROF_DUMP_SECONDS", set_dump_seconds,
     "seconds between profiles, 0 (off) to 31536000", "0 (off)"},
    {"HEAPPROF_KEEP", set_keep, "a count of profiles, 0 (all) to 4096", "0 (all)"},
    {"HEAPPROF_DUMP_PEAK", set_dump_peak, "1/0, true/false, yes/no, on/off", "0"},
    {"HEAPPROF_PEAK_STEP", set_peak_step, "a percentage from 1 to 1000", "10"},
    {"HEAPPROF_SUMMARY", set_summary, "1/0, true/false, yes/no, on/off", "0"},
    {"HEAPPROF_LIFETIMES", set_lifetimes, "1/0, true/false, yes/no, on/off", "0"},
    {"HEAPPROF_BLOCK_RATE", set_block_rate,
     "nanoseconds, 0 (off) to 4294967295: waits this long are always kept, shorter "
     "ones with probability wait/N",
     "0 (off)"},
    {"HEAPPROF_MUTEX_FRACTION", set_mutex_fraction,
     "0 (off) to 4294967295: one contention event in N is kept", "0 (off)"},
    {"HEAPPROF_DUMP_LIMIT", set_dump_limit,
     "a percentage of the memory limit from 1 to 100, or 0 (off)", "0 (off)"},
};

/*
 * One warning per process tree. A process that warns about a bad value marks
 * the environment its children inherit: HEAPPROF_WARNED lists a hash of each
 * bad NAME=value it (or an ancestor) warned about, and a process stays quiet
 * about a bad value already in the list. A different bad value set by a child
 * is warned about again. A bad token is hashed by its name only: a hash of a
 * secret stays out of the environment.
 *
 * The mark never allocates (setenv would, in the constructor of the program's
 * allocator): an existing HEAPPROF_WARNED entry is pointed at this library's
 * own string; otherwise environ is replaced by a copy one entry longer, in a
 * mapping of its own that is never unmapped (glibc's setenv and putenv copy
 * an environ they did not allocate; unsetenv edits it in place). No other
 * thread runs yet. A program that builds its children's environment itself
 * (env -i, sudo, systemd) drops the mark with the rest; its children warn
 * again if it passes the bad value on.
 */
#define WARNED_VAR "HEAPPROF_WARNED"
#define WARNED_HEX 16

static char
    warned_entry[sizeof(WARNED_VAR "=") + HP_ARRAY_SIZE(options) * (WARNED_HEX + 1)];

static uint64_t setting_hash(size_t i, const char *v)
{
	bool secret = options[i].set == set_http_token;
	return hp_mix64(hp_hash_str(options[i].name) ^ (secret ? 0 : hp_hash_str(v)));
}

/* Whether the list (comma-separated hex) has the hash. */
static bool warned_has(const char *list, uint64_t h)
{
	char hex[WARNED_HEX + 1];
	hp_fmt(hex, sizeof(hex), "%016llx", (unsigned long long)h);
	for (const char *p = list; p && *p;
	     p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, hex, WARNED_HEX) &&
		    (p[WARNED_HEX] == ',' || !p[WARNED_HEX]))
			return true;
	return false;
}

/* Points HEAPPROF_WARNED at warned_entry, in place or in a longer copy of environ. */
static void mark_environment(void)
{
	size_t n = 0, name = sizeof(WARNED_VAR "=") - 1;
	for (; environ && environ[n]; n++)
		if (!strncmp(environ[n], WARNED_VAR "=", name)) {
			environ[n] = warned_entry;
			return;
		}
	char **copy = hp_sys_mmap(NULL, (n + 2) * sizeof(char *), PROT_READ | PROT_WRITE,
	                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy == MAP_FAILED)
		return; /* children warn again */
	if (n)
		memcpy(copy, environ, n * sizeof(char *));
	copy[n] = warned_entry;
	copy[n + 1] = NULL;
	environ = copy;
}

/* Warns about option i's bad value v unless an ancestor did, and lists it. */
static void warn_bad(size_t i, const char *v, size_t *len)
{
	uint64_t h = setting_hash(i, v);
	if (warned_has(warned_entry + sizeof(WARNED_VAR), h))
		return;
	/* A token, even a bad one, is a secret: never in a log. */
	bool secret = options[i].set == set_http_token;
	hp_log("ignoring %s=%s%s%s: expected %s; using %s (processes it starts inherit "
	       "the setting and are not warned again)",
	       options[i].name, secret ? "" : "\"", secret ? "(not shown)" : v,
	       secret ? "" : "\"", options[i].expected, options[i].fallback);
	*len += hp_fmt(warned_entry + *len, sizeof(warned_entry) - *len, "%s%016llx",
	               warned_entry[*len - 1] == '=' ? "" : ",", (unsigned long long)h);
}

/* Applies one option, name=value, given by heapprof attach: warns plainly
 * (the process's environment is not ours to mark). */
static void apply(size_t i, const char *v)
{
	/* A token, even a bad one, is a secret: never in a log. */
	bool secret = options[i].set == set_http_token;
	if (v && options[i].set(v))
		hp_log("ignoring %s=%s%s%s: expected %s; using %s", options[i].name,
		       secret ? "" : "\"", secret ? "(not shown)" : v, secret ? "" : "\"",
		       options[i].expected, options[i].fallback);
}

int hp_config_set(const char *name, size_t len, const char *value)
{
	for (size_t i = 0; i < HP_ARRAY_SIZE(options); i++)
		if (strlen(options[i].name) == len &&
		    !strncmp(options[i].name, name, len)) {
			apply(i, value);
			return 0;
		}
	return -ENOENT;
}

/*
 * The first value of each option's variable in environ, and of the warned
 * list (getenv's answer), in one pass over it: a getenv for each of the
 * options walked the whole environment each time, a tenth of the library's
 * start-up. None at all in a setuid program, as secure_getenv.
 */
static void read_environment(const char *vals[], const char **warned)
{
	if (getauxval(AT_SECURE))
		return;
	for (char **e = environ; e && *e; e++) {
		const char *s = *e, *eq;
		if (strncmp(s, "HEAPPROF_", 9) || !(eq = strchr(s, '=')))
			continue;
		size_t n = (size_t)(eq - s);
		if (n == sizeof(WARNED_VAR) - 1 && !memcmp(s, WARNED_VAR, n)) {
			if (!*warned)
				*warned = eq + 1;
			continue;
		}
		for (size_t i = 0; i < HP_ARRAY_SIZE(options); i++)
			if (!strncmp(options[i].name, s, n) && !options[i].name[n]) {
				if (!vals[i])
					vals[i] = eq + 1;
				break;
			}
	}
}

void hp_config_init(void)
{
	const char *vals[HP_ARRAY_SIZE(options)] = {0}, *inherited = NULL;
	read_environment(vals, &inherited);
	size_t len = hp_fmt(warned_entry, sizeof(warned_entry), "%s=", WARNED_VAR);
	/* The inherited list carries on: a grandchild knows what its ancestors said. */
	if (inherited && strlen(inherited) < sizeof(warned_entry) - len)
		len += hp_fmt(warned_entry + len, sizeof(warned_entry) - len, "%s",
		              inherited);
	size_t start = len;
	for (size_t i = 0; i < HP_ARRAY_SIZE(options); i++) {
		const char *v = vals[i];
		if (v && options[i].set(v))
			warn_bad(i, v, &len);
	}
	if (len != start)
		mark_environment();
	make_absolute(hp_config.output);
}

void hp_config_print(void)
{
	char name[16];
	hp_log(
	    "config: HEAPPROF_RATE=%llu HEAPPROF_OUTPUT=%s HEAPPROF_SIGNAL=%s%s "
	    "HEAPPROF_AT_EXIT=%d HEAPPROF_MAX_FRAMES=%u HEAPPROF_SEED=%llu "
	    "HEAPPROF_FOLLOW_EXEC=%d HEAPPROF_METADATA_MAX=%llu HEAPPROF_HTTP=%s "
	    "HEAPPROF_HTTP_TOKEN=%s HEAPPROF_DUMP_BYTES=%llu HEAPPROF_DUMP_SECONDS=%u "
	    "HEAPPROF_KEEP=%u HEAPPROF_DUMP_PEAK=%d HEAPPROF_PEAK_STEP=%u "
	    "HEAPPROF_SUMMARY=%d HEAPPROF_UNWIND=%s HEAPPROF_BLOCK_RATE=%u "
	    "HEAPPROF_MUTEX_FRACTION=%u HEAPPROF_DUMP_LIMIT=%u",
	    (unsigned long long)hp_config.rate, hp_config.output,
	    hp_config.signal ? "SIG" : "none",
	    hp_config.signal ? hp_config_signal_name(hp_config.signal, name, sizeof(name))
	                     : "",
	    hp_config.at_exit, hp_config.max_frames, (unsigned long long)hp_config.seed,
	    hp_config.follow_exec, (unsigned long long)hp_config.metadata_max,
	    hp_config.http[0] ? hp_config.http : "(off)",
	    hp_config.http_token[0] ? "(set)" : "(none)",
	    (unsigned long long)hp_config.dump_bytes, hp_config.dump_seconds,
	    hp_config.keep, hp_config.dump_peak, hp_config.peak_step, hp_config.summary,
	    hp_config.unwind_fast ? "fast" : "libunwind", hp_config.block_rate,
	    hp_config.mutex_fraction, hp_config.dump_limit);
}
