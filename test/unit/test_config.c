/* SPDX-License-Identifier: MIT */
/* config: parsing of sizes, booleans and signals, and bad values falling back. */
#include "config.h"
#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	ok(hp_config.rate == 524288 && hp_config.signal == SIGUSR2 && hp_config.at_exit &&
	       hp_config.max_frames == 128 && !hp_config.verbose &&
	       hp_config.follow_exec && hp_config.metadata_max == 0 &&
	       hp_config.seed == 0,
	   "defaults: rate 512 KiB, SIGUSR2, exit profile, 128 frames, follow exec, no "
	   "limit");
	uint64_t v = 0;
	ok(hp_config_parse_size("524288", &v) == 0 && v == 524288, "plain number");
	ok(hp_config_parse_size("512K", &v) == 0 && v == 524288, "K suffix");
	ok(hp_config_parse_size("4k", &v) == 0 && v == 4096, "k suffix");
	ok(hp_config_parse_size("1MiB", &v) == 0 && v == 1048576, "MiB suffix");
	ok(hp_config_parse_size("2G", &v) == 0 && v == 2147483648ULL, "G suffix");
	ok(hp_config_parse_size("0", &v) == 0 && v == 0, "zero");
	ok(hp_config_parse_size("abc", &v) < 0, "letters rejected");
	ok(hp_config_parse_size("", &v) < 0, "empty rejected");
	ok(hp_config_parse_size("-5", &v) < 0, "negative rejected");
	ok(hp_config_parse_size("12Q", &v) < 0, "unknown suffix rejected");
	ok(hp_config_parse_size("99999999999999999999", &v) < 0, "overflow rejected");
	ok(hp_config_parse_size("17179869184G", &v) < 0, "suffix overflow rejected");

	bool b = false;
	ok(hp_config_parse_bool("yes", &b) == 0 && b, "yes");
	ok(hp_config_parse_bool("OFF", &b) == 0 && !b, "OFF");
	ok(hp_config_parse_bool("maybe", &b) < 0, "maybe rejected");

	int s = 0;
	ok(hp_config_parse_signal("USR2", &s) == 0 && s == SIGUSR2, "USR2");
	ok(hp_config_parse_signal("SIGUSR1", &s) == 0 && s == SIGUSR1, "SIGUSR1");
	ok(hp_config_parse_signal("sigprof", &s) == 0 && s == SIGPROF,
	   "case-insensitive");
	ok(hp_config_parse_signal("12", &s) == 0 && s == 12, "number");
	ok(hp_config_parse_signal("none", &s) == 0 && s == 0, "none");
	ok(hp_config_parse_signal("bogus", &s) < 0, "bogus rejected");
	ok(hp_config_parse_signal("9", &s) < 0, "SIGKILL rejected");
	ok(hp_config_parse_signal("11", &s) < 0, "SIGSEGV rejected");
	ok(hp_config_parse_signal("99", &s) < 0, "out of range rejected");
	ok(hp_config_parse_signal("32", &s) < 0, "32 (glibc's) rejected");
	ok(hp_config_parse_signal("33", &s) < 0, "33 (glibc's) rejected");
	ok(hp_config_parse_signal("RTMIN+3", &s) == 0 && s == SIGRTMIN + 3, "RTMIN+3");
	ok(hp_config_parse_signal("SIGRTMIN+3", &s) == 0 && s == SIGRTMIN + 3,
	   "SIGRTMIN+3");
	ok(hp_config_parse_signal("sigrtmin", &s) == 0 && s == SIGRTMIN, "sigrtmin");
	ok(hp_config_parse_signal("RTMAX-2", &s) == 0 && s == SIGRTMAX - 2, "RTMAX-2");
	ok(hp_config_parse_signal("RTMAX", &s) == 0 && s == SIGRTMAX, "RTMAX");
	ok(hp_config_parse_signal("RTMIN-1", &s) < 0, "RTMIN-1 rejected");
	ok(hp_config_parse_signal("RTMAX+1", &s) < 0, "RTMAX+1 rejected");
	ok(hp_config_parse_signal("RTMIN+99", &s) < 0, "RTMIN+99 rejected");
	ok(hp_config_parse_signal("RTMIN+", &s) < 0, "RTMIN+ rejected");

	/* Names as kill -l prints them. */
	char buf[16];
	const struct {
		int sig;
		const char *name;
	} names[] = {{SIGUSR2, "USR2"},           {SIGPROF, "PROF"},
	             {SIGRTMIN, "RTMIN"},         {SIGRTMIN + 3, "RTMIN+3"},
	             {SIGRTMIN + 15, "RTMIN+15"}, {SIGRTMAX - 14, "RTMAX-14"},
	             {SIGRTMAX - 2, "RTMAX-2"},   {SIGRTMAX, "RTMAX"}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *got = hp_config_signal_name(names[i].sig, buf, sizeof(buf));
		ok(!strcmp(got, names[i].name), "signal %d is named %s (got %s)",
		   names[i].sig, names[i].name, got);
	}

	setenv("HEAPPROF_METADATA_MAX", "512K", 1);
	setenv("HEAPPROF_FOLLOW_EXEC", "no", 1);
	setenv("HEAPPROF_RATE", "abc", 1);
	setenv("HEAPPROF_MAX_FRAMES", "1000", 1);
	setenv("HEAPPROF_SIGNAL", "USR1", 1);
	setenv("HEAPPROF_OUTPUT", "/tmp/prefix", 1);
	hp_config_init();
	ok(hp_config.rate == HP_DEFAULT_RATE, "bad rate keeps the default");
	ok(hp_config.max_frames == HP_DEFAULT_MAX_FRAMES, "bad depth keeps the default");
	ok(hp_config.signal == SIGUSR1, "good signal taken");
	ok(hp_config.metadata_max == 0, "a metadata limit under 1M is refused");
	ok(!hp_config.follow_exec, "HEAPPROF_FOLLOW_EXEC=no taken");
	ok(!strcmp(hp_config.output, "/tmp/prefix"), "output prefix taken");
	ok(hp_config.unwind_fast, "the rule walker by default");
	setenv("HEAPPROF_UNWIND", "libunwind", 1);
	hp_config_init();
	ok(!hp_config.unwind_fast, "HEAPPROF_UNWIND=libunwind taken");
	setenv("HEAPPROF_UNWIND", "frame-pointers", 1);
	hp_config_init();
	ok(!hp_config.unwind_fast,
	   "HEAPPROF_UNWIND=frame-pointers refused, the last value kept");
	setenv("HEAPPROF_UNWIND", "fast", 1);
	hp_config_init();
	ok(hp_config.unwind_fast, "HEAPPROF_UNWIND=fast taken");
	setenv("HEAPPROF_OUTPUT", "rel/prof", 1);
	char cwd[1024], want[1100];
	snprintf(want, sizeof(want), "%s/rel/prof", getcwd(cwd, sizeof(cwd)));
	hp_config_init();
	ok(!strcmp(hp_config.output, want), "relative prefix made absolute: %s",
	   hp_config.output);

	/* The environment as execve may pass it, read as getenv would: the
	 * first of two entries wins, an entry without '=' is no variable, a
	 * name that begins another's is not that one, and case counts. */
	char *env[] = {"HEAPPROF_MAX_FRAMES",
	               "HEAPPROF_MAX_FRAMES_X=7",
	               "HEAPPROF_MAX_FRAMES=40",
	               "HEAPPROF_MAX_FRAMES=50",
	               "HEAPPROF_HTTP_TOKEN=secret",
	               "heapprof_keep=3",
	               NULL};
	char **saved = environ;
	environ = env;
	hp_config_init();
	ok(hp_config.max_frames == 40, "the first of two entries taken (got %u)",
	   hp_config.max_frames);
	ok(!hp_config.http[0] && !strcmp(hp_config.http_token, "secret"),
	   "HEAPPROF_HTTP_TOKEN read as itself, not as HEAPPROF_HTTP");
	ok(hp_config.keep == 0, "a name in lower case is not an option");
	environ = NULL;
	hp_config_init();
	ok(hp_config.max_frames == 40, "no environment at all: nothing changes");
	environ = saved;
	return tap_done();
}
