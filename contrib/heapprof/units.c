/* SPDX-License-Identifier: MIT */
/*
 * units: values and percentages as pprof prints them (45.51MB, 1.20kB,
 * " 100%"), and --unit's spellings. Which value to print is the caller's;
 * sample units other than bytes are printed as they are.
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

bool valid_unit(const char *to)
{
	return !strcmp(to, "auto") || !strcmp(to, "minimum") || unit_index(to) >= 0;
}

void fmt_unit(char *buf, size_t len, double v, const char *unit, const char *to)
{
	int i = strcmp(to, "auto") ? unit_index(to) : auto_unit(v);
	if (strcmp(unit, "bytes") || i < 0) {
		/* pprof's Scale: another unit is not converted, but named as asked. */
		bool named = strcmp(to, "auto") && strcmp(to, "minimum") && v != 0;
		snprintf(buf, len, "%.0f%s", v, named ? to : "");
		return;
	}
	/* pprof's ScaledLabel: two decimals, ".00" dropped, no "-0". */
	char num[64];
	snprintf(num, sizeof(num), "%.2f", v / (double)(1ull << (10 * i)));
	size_t n = strlen(num);
	if (n > 3 && !strcmp(num + n - 3, ".00"))
		num[n - 3] = '\0';
	if (!strcmp(num, "0") || !strcmp(num, "-0")) {
		snprintf(buf, len, "0");
		return;
	}
	snprintf(buf, len, "%s%s", num, mem_units[i]);
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
