/* SPDX-License-Identifier: MIT */
/*
 * attach: the library loaded into a running process by `heapprof attach`
 * (contrib/heapprof/attach.c) rather than preloaded. Start-up then comes from
 * heapprof_attach_start, which points every loaded module's allocation calls
 * (their GOT slots) at this library; heapprof_attach_stop points them back.
 */
#ifndef HP_ATTACH_H
#define HP_ATTACH_H

#include <stdbool.h>

/* What heapprof_attach_start and heapprof_attach_stop return. */
enum {
	HP_ATTACH_OK = 0,
	HP_ATTACH_PRELOADED = 1, /* preloaded or linked in: already profiled */
	HP_ATTACH_ACTIVE = 2,    /* attached already */
	HP_ATTACH_RATE = 3,      /* a second attach asked for another rate */
	HP_ATTACH_NOT_ACTIVE = 4 /* a detach with nothing attached */
};

/*
 * Exported for the attacher, which calls them in the target. options: lines
 * NAME=VALUE of HEAPPROF_* options (the environment is not read).
 */
int heapprof_attach_start(const char *options);
int heapprof_attach_stop(void);

/* Is this library the program's malloc (LD_PRELOAD, or linked in)? */
bool hp_attach_is_preloaded(void);

/* Was the library attached and then detached (idle: no exit profile)? */
bool hp_attach_is_detached(void);

/* init.c: start-up once hp_config is set. */
void hp_init_start(void);

#endif
