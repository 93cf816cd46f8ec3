/* SPDX-License-Identifier: MIT */
/*
 * config: parses HEAPPROF_* once, in the constructor, through secure_getenv so
 * that setuid programs ignore them. A bad value gets one warning naming the
 * variable and the value, and the default stays in force.
 */
#include "config.h"
#include "common.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

hp_config_t hp_config = {
    .rate = HP_DEFAULT_RATE,
    .output = "heapprof",
    .signal = SIGUSR2,
    .at_exit = true,
    .max_frames = HP_DEFAULT_MAX_FRAMES,
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

const char *hp_config_signal_name(int sig)
{
	for (size_t i = 0; i < HP_ARRAY_SIZE(signals); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return sig >= SIGRTMIN && sig <= SIGRTMAX ? "RT" : "?";
}

int hp_config_parse_signal(const char *s, int *out)
{
	if (!strcasecmp(s, "none") || !strcasecmp(s, "off") || !strcmp(s, "0"))
		return *out = 0, 0;
	if (*s >= '0' && *s <= '9') {
		uint64_t v;
		if (hp_config_parse_size(s, &v) || v == 0 || v > (uint64_t)SIGRTMAX)
			return -EINVAL;
		/* These cannot be caught, or crash-report signals a program relies on. */
		if (v == SIGKILL || v == SIGSTOP || v == SIGSEGV || v == SIGBUS ||
		    v == SIGFPE || v == SIGILL || v == SIGABRT || v == SIGTRAP)
			return -EINVAL;
		return *out = (int)v, 0;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < HP_ARRAY_SIZE(signals); i++)
		if (!strcasecmp(s, signals[i].name))
			return *out = signals[i].sig, 0;
	return -EINVAL;
}

static void bad(const char *var, const char *val, const char *why)
{
	hp_log("ignoring %s=\"%s\": %s", var, val, why);
}

/*
 * A relative prefix is taken from the directory the program starts in, so a
 * daemon that changes directory still writes where it was asked to.
 */
static void make_absolute(char *path)
{
	char cwd[HP_OUTPUT_MAX];
	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return;
	size_t c = strlen(cwd), p = strlen(path);
	if (c + 1 + p + 64 >= HP_OUTPUT_MAX)
		return;
	memmove(path + c + 1, path, p + 1);
	memcpy(path, cwd, c);
	path[c] = '/';
}

void hp_config_init(void)
{
	const char *v;
	uint64_t n;
	bool b;

	if ((v = secure_getenv("HEAPPROF_RATE"))) {
		if (hp_config_parse_size(v, &n) || n > RATE_MAX)
			bad("HEAPPROF_RATE", v,
			    "expected bytes between samples (0 = off, 1 = every "
			    "allocation, "
			    "K/M/G suffixes, at most 1T); using 524288");
		else
			hp_config.rate = n;
	}
	if ((v = secure_getenv("HEAPPROF_OUTPUT"))) {
		size_t len = strlen(v);
		if (!len || len >= HP_OUTPUT_MAX - 64)
			bad("HEAPPROF_OUTPUT", v,
			    "expected a non-empty path prefix; using \"heapprof\"");
		else
			memcpy(hp_config.output, v, len + 1);
	}
	make_absolute(hp_config.output);
	if ((v = secure_getenv("HEAPPROF_SIGNAL"))) {
		int sig;
		if (hp_config_parse_signal(v, &sig))
			bad("HEAPPROF_SIGNAL", v,
			    "expected a catchable signal name or number (USR2, SIGUSR1, "
			    "12) or "
			    "\"none\"; using USR2");
		else
			hp_config.signal = sig;
	}
	if ((v = secure_getenv("HEAPPROF_AT_EXIT"))) {
		if (hp_config_parse_bool(v, &b))
			bad("HEAPPROF_AT_EXIT", v,
			    "expected 1/0, true/false, yes/no; using 1");
		else
			hp_config.at_exit = b;
	}
	if ((v = secure_getenv("HEAPPROF_MAX_FRAMES"))) {
		if (hp_config_parse_size(v, &n) || n < 1 || n > HP_MAX_FRAMES_LIMIT)
			bad("HEAPPROF_MAX_FRAMES", v,
			    "expected a depth from 1 to 512; using 128");
		else
			hp_config.max_frames = (unsigned)n;
	}
	if ((v = secure_getenv("HEAPPROF_VERBOSE"))) {
		if (hp_config_parse_bool(v, &b))
			bad("HEAPPROF_VERBOSE", v,
			    "expected 1/0, true/false, yes/no; using 0");
		else
			hp_config.verbose = b;
	}
	if ((v = secure_getenv("HEAPPROF_SEED"))) {
		if (hp_config_parse_size(v, &n))
			bad("HEAPPROF_SEED", v,
			    "expected a non-negative integer; using a random seed");
		else
			hp_config.seed = n;
	}
}

void hp_config_print(void)
{
	hp_log("config: HEAPPROF_RATE=%llu HEAPPROF_OUTPUT=%s HEAPPROF_SIGNAL=%s%s "
	       "HEAPPROF_AT_EXIT=%d HEAPPROF_MAX_FRAMES=%u HEAPPROF_SEED=%llu",
	       (unsigned long long)hp_config.rate, hp_config.output,
	       hp_config.signal ? "SIG" : "none",
	       hp_config.signal ? hp_config_signal_name(hp_config.signal) : "",
	       hp_config.at_exit, hp_config.max_frames,
	       (unsigned long long)hp_config.seed);
}
