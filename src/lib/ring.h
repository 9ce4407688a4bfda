/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transfer engine's ring: a few chunks handed, in order, from the
 * stage that produces them to the stage that verifies them to the stage
 * that consumes them, each stage on a thread of its own.  Internal to
 * libmigctl.
 */
#ifndef MIGCTL_RING_H
#define MIGCTL_RING_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "migctl.h"

/* Enough for three stages to each hold one chunk and one to spare */
#define RING_CHUNKS 4

enum ring_stage { RING_PRODUCE, RING_VERIFY, RING_CONSUME, RING_STAGES };

struct ring {
	pthread_mutex_t lock;
	/*
	 * One wait queue per stage, signalled by the stage it waits on: a
	 * chunk passed on wakes its one next stage, never all of them (under
	 * an emulator every needless wake-up is a costly cross-CPU interrupt).
	 */
	pthread_cond_t ready[RING_STAGES];
	struct migctl_chunk chunk[RING_CHUNKS];
	void *mem; /* the chunks' one mapping, unless growable */
	size_t mem_size;
	/* Chunks each stage has passed on: written under the lock, watched without */
	uint64_t done[RING_STAGES];
	double waited[RING_STAGES]; /* seconds each stage was blocked for a chunk */
	bool watching;		    /* the verify stage's waits are short: it watches */
	volatile sig_atomic_t stop; /* set once: every stage gives up */
};

void ring_init(struct ring *r);
/*
 * Buffers of @size bytes for every chunk; -ENOMEM.  @growable: each one
 * malloc()ed, for a stage that may realloc() it (a record bigger than the
 * chunk); otherwise all in one mapping, never to be resized.
 */
int ring_alloc(struct ring *r, size_t size, bool growable);
/*
 * Fault in the mapping's pages that @bytes of data will fill (all of them
 * if 0), in ring order.  Safe while a stage already uses a chunk (nothing
 * is written): a producer that gets ahead faults in the rest itself.
 */
void ring_prefault(struct ring *r, uint64_t bytes);
void ring_free(struct ring *r);
/*
 * The next chunk for @stage (the same one until ring_give()), waiting up
 * to @timeout_ms (-1: no limit), the wait counted in waited[@stage].
 * -ETIMEDOUT; -ECANCELED once stopped.
 */
int ring_take(struct ring *r, enum ring_stage stage, int timeout_ms, struct migctl_chunk **c);
/* @stage is done with its chunk: on to the next stage */
void ring_give(struct ring *r, enum ring_stage stage);
/* Every stage gives up: its waits return -ECANCELED */
void ring_stop(struct ring *r);
bool ring_stopped(struct ring *r);

#endif
