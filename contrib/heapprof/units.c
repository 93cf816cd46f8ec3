/* SPDX-License-Identifier: MIT */
/*
 * units: values and percentages as pprof prints them (45.51MB, 1.20kB,
 * " 100%"), and --unit's spellings. Which value to print is the caller's;
 * bytes and nanoseconds (the contention profiles' delay: 447.88ms) are
 * scaled as pprof scales them, other sample units printed as they are.
 */
#include "heapprof.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static const char *const mem_units[] = {"B", "kB", "MB", "GB", "TB", "PB"};

/* pprof's memory unit for |v| bytes when scaling automatically. */
static int auto_unit(double v)
{
	double a = v < 0 ? -v : v;
	int i = 0;
	while (a >= 1024 && i < 5) {
		a /= 1024;
		i++;
	}
	return i;
}

/* The index of a memory unit name (pprof's spellings, any case), or -1. */
static int unit_index(const char *to)
{
	static const char *const alias[] = {"b", "kb", "mb", "gb", "tb", "pb"};
	for (int i = 0; i < 6; i++)
		if (!strcasecmp(to, alias[i]) ||
		    (!strncasecmp(to, alias[i], 1) &&
		     !strcasecmp(to + 1, i ? "byte" : "yte")))
			return i;
	if (!strcasecmp(to, "bytes"))
		return 0;
	return -1;
}

/* pprof's time units, for a sample unit of nanoseconds. */
static const struct {
	const char *name, *alias;
	double ns;
} time_units[] = {
    {"ns", "nanoseconds", 1}, {"us", "microseconds", 1e3}, {"ms", "milliseconds", 1e6},
    {"s", "seconds", 1e9},    {"hrs", "hours", 3.6e12},
};

static bool is_time(const char *unit)
{
	return !strcmp(unit, "nanoseconds");
}

/* The time unit named to (its short or long name, any case), or -1. */
static int time_index(const char *to)
{
	for (int i = 0; i < (int)(sizeof(time_units) / sizeof(time_units[0])); i++)
		if (!strcasecmp(to, time_units[i].name) ||
		    !strcasecmp(to, time_units[i].alias))
			return i;
	return -1;
}

/* pprof's time unit for |v| ns when scaling automatically: the largest
 * that is at most |v|. */
static int auto_time(double v)
{
	double a = v < 0 ? -v : v;
	int i = 0;
	while (i < 4 && a >= time_units[i + 1].ns)
		i++;
	return i;
}

/* v as pprof's ScaledLabel prints it: two decimals, ".00" dropped, no "-0". */
static void scaled(char *buf, size_t len, double v, const char *name)
{
	char num[64];
	snprintf(num, sizeof(num), "%.2f", v);
	size_t n = strlen(num);
	if (n > 3 && !strcmp(num + n - 3, ".00"))
		num[n - 3] = '\0';
	if (!strcmp(num, "0") || !strcmp(num, "-0"))
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%s%s", num, name);
}

bool valid_unit(const char *to)
{
	return !strcmp(to, "auto") || !strcmp(to, "minimum") || unit_index(to) >= 0 ||
	       time_index(to) >= 0;
}

void fmt_unit(char *buf, size_t len, double v, const char *unit, const char *to)
{
	if (is_time(unit)) {
		int t = strcmp(to, "auto") ? time_index(to) : auto_time(v);
		if (t >= 0) {
			scaled(buf, len, v / time_units[t].ns, time_units[t].name);
			return;
		}
	}
	int i = strcmp(to, "auto") ? unit_index(to) : auto_unit(v);
	if (strcmp(unit, "bytes") || i < 0) {
		/* pprof's Scale: another unit is not converted, but named as asked. */
		bool named = strcmp(to, "auto") && strcmp(to, "minimum") && v != 0;
		snprintf(buf, len, "%.0f%s", v, named ? to : "");
		return;
	}
	scaled(buf, len, v / (double)(1ull << (10 * i)), mem_units[i]);
}

void fmt_pct(char *buf, size_t len, double v, double total)
{
	double r = total != 0 ? fabs(v / total) * 100 : 0;
	if (r >= 99.95 && r <= 100.05)
		snprintf(buf, len, "  100%%");
	else if (r >= 1)
		snprintf(buf, len, "%5.2f%%", r);
	else
		snprintf(buf, len, "%5.2g%%", r);
}

void fmt_value(char *buf, size_t len, double v, const char *unit)
{
	fmt_unit(buf, len, v, unit, "auto");
}

const char *min_unit(double least, double most, const char *unit)
{
	if (is_time(unit)) {
		if (least == 0)
			least = most;
		int lo = auto_time(least), hi = auto_time(most);
		if (lo != hi && least * 100 < most)
			lo = auto_time(100 * least);
		return time_units[lo].name;
	}
	if (strcmp(unit, "bytes"))
		return "auto";
	if (least == 0)
		least = most;
	int lo = auto_unit(least), hi = auto_unit(most);
	/* pprof's selectOutputUnit: let the smallest value show as 0.01. */
	if (lo != hi && least * 100 < most)
		lo = auto_unit(100 * least);
	return mem_units[lo];
}

bool parse_unit(const char *arg, void *dst)
{
	*(const char **)dst = arg;
	return valid_unit(arg);
}
