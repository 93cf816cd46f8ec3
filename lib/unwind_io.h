/* SPDX-License-Identifier: MIT */
/*
 * unwind_io: the pipe2, read, write and syscall wrappers that give libunwind
 * its memory checks without a descriptor (see unwind_io.c). It does not
 * unwind (stack.c).
 */
#ifndef HP_UNWIND_IO_H
#define HP_UNWIND_IO_H

/* Resolves the C library's functions; call from start-up, before libunwind's. */
void hp_unwind_io_init(void);

#endif
