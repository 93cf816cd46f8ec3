/* SPDX-License-Identifier: MIT */
/*
 * libhplocked: a plugin whose constructor, run by dlopen with the loader's
 * lock held, waits for a mutex of the program's (prog_loader_lock.c).
 */
#include <pthread.h>
#include <semaphore.h>

extern pthread_mutex_t app_mutex;
extern sem_t ctor_entered;

__attribute__((constructor)) static void ctor_wait(void)
{
	sem_post(&ctor_entered);
	pthread_mutex_lock(&app_mutex);
	pthread_mutex_unlock(&app_mutex);
}
