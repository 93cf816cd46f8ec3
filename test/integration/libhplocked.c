/* SPDX-License-Identifier: MIT */
/*
 * libhplocked: a plugin whose constructor, run by dlopen with the loader's
 * lock held, waits for the program's other thread (prog_loader_lock.c),
 * by semaphores: no lock function of the profiler's is called here.
 */
#include <semaphore.h>

extern sem_t ctor_entered, ctor_go;

__attribute__((constructor)) static void ctor_wait(void)
{
	sem_post(&ctor_entered);
	while (sem_wait(&ctor_go))
		;
}
