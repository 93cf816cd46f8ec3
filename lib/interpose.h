/* SPDX-License-Identifier: MIT */
/*
 * interpose: the malloc family and the C++ operators (interpose.c). What
 * start-up sets before sampling begins.
 */
#ifndef HP_INTERPOSE_H
#define HP_INTERPOSE_H

#include "common.h"

#include <stdint.h>

#define HP_PAGE           4096
#define HP_PAGE_MODE_RATE 65536 /* a page per sample costs at most 6% there */

/* Nonzero: every sampled block is at a page boundary (interpose.c). */
extern HP_HIDDEN uint8_t hp_page_mode;

/* Chooses how free recognises sampled blocks; before sampling starts. */
void hp_interpose_init(uint64_t rate);

#endif
