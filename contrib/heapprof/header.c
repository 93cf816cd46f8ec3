/* SPDX-License-Identifier: MIT */
/*
 * header: what pprof prints above a report's rows (top, peek): the sample
 * type, the active filters, what the rows shown account for, and the smallest
 * value shown, from which the unit "minimum" is chosen. The rows are the
 * command's.
 */
#include "heapprof.h"

#include <math.h>
#include <string.h>

double least_value(const table_t *rows, size_t shown, double total, double fraction)
{
	const row_t *rv = rows->items;
	double least = 0;
	for (size_t i = 0, k = 0; i < rows->n && k < shown; i++) {
		double v = fabs(rv[i].flat != 0 ? rv[i].flat : rv[i].cum);
		if (rv[i].flat == 0 && rv[i].cum == 0)
			continue;
		k++;
		if (v > 0 && fabs(rv[i].cum) > fraction * total &&
		    (least == 0 || v < least))
			least = v;
	}
	return least;
}

void report_labels(const input_t *in, double shown_flat, const char *to)
{
	const pp_profile_t *p = in->profile;
	const char *unit = pp_str(p, p->sample_type[in->vi]->unit);
	char t[32], s[32], pc[32];
	fmt_unit(t, sizeof(t), in->total, unit, to);
	fmt_unit(s, sizeof(s), shown_flat, unit, to);
	fmt_pct(pc, sizeof(pc), shown_flat, in->total);
	printf("Type: %s\n", pp_str(p, p->sample_type[in->vi]->type));
	filter_print(&in->filter);
	printf("Showing nodes accounting for %s, %s of %s total\n", s,
	       pc + strspn(pc, " "), t);
}
