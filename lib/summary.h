/* SPDX-License-Identifier: MIT */
/*
 * summary: what the library does at normal exit: the byte-interval profiles
 * still asked for, the final profile (HEAPPROF_AT_EXIT) and the few lines
 * on stderr of HEAPPROF_SUMMARY. It asks dump.c to write; it does not write
 * files itself nor decide when other profiles are written (trigger.c).
 */
#ifndef HP_SUMMARY_H
#define HP_SUMMARY_H

/*
 * From the library destructor: any "bytes" profiles asked for and not yet
 * written, then the "exit" profile (or, with HEAPPROF_AT_EXIT=0, no profile
 * after one in progress), then the summary.
 */
void hp_summary_at_exit(void);

#endif
