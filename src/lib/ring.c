// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ring of chunks between the transfer engine's three stages.  Chunk i
 * goes to stage k once stage k-1 has passed on i (and, for the first
 * stage, once the last stage has passed on i - RING_CHUNKS): so each
 * stage sees every chunk, in order, and never one another stage holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "util.h"

void ring_init(struct ring *r)
{
	*r = (struct ring){ 0 };
	pthread_mutex_init(&r->lock, NULL);
	/* Timed waits on the monotonic clock: a clock change cannot stall them */
	for (size_t i = 0; i < RING_STAGES; i++)
		monotonic_cond_init(&r->ready[i]);
}

int ring_alloc(struct ring *r, size_t size, bool growable)
{
	size_t page, stride;
	uint8_t *mem;

	if (growable) {
		for (size_t i = 0; i < RING_CHUNKS; i++) {
			r->chunk[i].buf = malloc(size);
			if (!r->chunk[i].buf)
				return -ENOMEM;
			r->chunk[i].cap = size;
		}
		return 0;
	}
	/* One mapping, page-aligned, that ring_prefault() faults in */
	page = (size_t)sysconf(_SC_PAGESIZE);
	stride = (size + page - 1) / page * page;
	mem = mmap(NULL, stride * RING_CHUNKS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	r->mem = mem;
	r->mem_size = stride * RING_CHUNKS;
	for (size_t i = 0; i < RING_CHUNKS; i++) {
		r->chunk[i].buf = mem + i * stride;
		r->chunk[i].cap = size;
	}
	return 0;
}

void ring_prefault(struct ring *r, uint64_t bytes)
{
	size_t stride = r->mem_size / RING_CHUNKS;
	uint64_t left = bytes ? bytes : UINT64_MAX; /* 0: size unknown, all of it */

	if (!r->mem)
		return; /* malloc()ed chunks */
	/*
	 * What full reads put in each chunk, in ring order: a short read's
	 * rest, or a low estimate, is faulted in by the read that fills it.
	 * Best effort: before Linux 5.14 the first touch faults them in.
	 */
	for (size_t i = 0; i < RING_CHUNKS && left; i++) {
		size_t fill = left < r->chunk[i].cap ? (size_t)left : r->chunk[i].cap;

		/* The kernel rounds the length up to whole pages */
		(void)madvise(r->mem + i * stride, fill, MADV_POPULATE_WRITE);
		left -= fill;
	}
}

void ring_free(struct ring *r)
{
	if (r->mem)
		munmap(r->mem, r->mem_size);
	else
		for (size_t i = 0; i < RING_CHUNKS; i++)
			free(r->chunk[i].buf);
	for (size_t i = 0; i < RING_CHUNKS; i++)
		r->chunk[i].buf = NULL;
	r->mem = NULL;
	for (size_t i = 0; i < RING_STAGES; i++)
		pthread_cond_destroy(&r->ready[i]);
	pthread_mutex_destroy(&r->lock);
}

/*
 * The verify stage watches for its next chunk a while before it sleeps.
 * At memory speed a 1 MiB chunk takes 40 to 70 us to read and its
 * checksums half that, so the verify stage waits for nearly every chunk;
 * if it sleeps, its producer pays 5 us to wake it and it runs 22 us later
 * (WAKE_US, WAKE_LATENCY_US in BENCHMARKS.md).  Watching, it takes the
 * chunk as it comes and nobody pays.  It watches only while its waits
 * are shorter than WATCH_MAX: a device or a pipe slower than memory, or
 * an emulator, sleeps at once as before.  The I/O stages always sleep:
 * three stages on two CPUs cannot all spin, and a spinning I/O stage
 * would take the CPU of the one doing the work (measured: save | resume
 * loses what save > /dev/null gains).
 */
#define WATCH_MAX 100e-6

static uint64_t done_count(const struct ring *r, enum ring_stage stage)
{
	return __atomic_load_n(&r->done[stage], __ATOMIC_ACQUIRE);
}

static bool ready(const struct ring *r, enum ring_stage stage)
{
	if (stage == RING_PRODUCE)
		return done_count(r, RING_PRODUCE) - done_count(r, RING_CONSUME) < RING_CHUNKS;
	return done_count(r, stage) < done_count(r, stage - 1);
}

/* Until the verify stage's chunk comes or WATCH_MAX is over, without the lock */
static void watch(struct ring *r)
{
	double start = monotonic_seconds();

	while (!r->stop && !ready(r, RING_VERIFY) && monotonic_seconds() - start < WATCH_MAX)
		cpu_relax();
}

int ring_take(struct ring *r, enum ring_stage stage, int timeout_ms, struct migctl_chunk **c)
{
	struct timespec until;
	double since = 0;
	int ret = 0;

	if (timeout_ms >= 0)
		monotonic_deadline(&until, timeout_ms);
	/* Only a stage that waits reads the clock: the ring's hot path stays cheap */
	if (!r->stop && !ready(r, stage)) {
		since = monotonic_seconds();
		if (stage == RING_VERIFY && r->watching)
			watch(r);
	}
	pthread_mutex_lock(&r->lock);
	while (!r->stop && !ready(r, stage) && ret != ETIMEDOUT)
		ret = timeout_ms < 0 ? pthread_cond_wait(&r->ready[stage], &r->lock) :
				       pthread_cond_timedwait(&r->ready[stage], &r->lock, &until);
	if (since) {
		double waited = monotonic_seconds() - since;

		r->waited[stage] += waited;
		/* A watch would have caught this chunk: watch for the next */
		if (stage == RING_VERIFY)
			r->watching = waited < WATCH_MAX;
	}
	if (r->stop)
		ret = -ECANCELED;
	else if (!ready(r, stage))
		ret = -ETIMEDOUT;
	else
		ret = 0;
	*c = &r->chunk[r->done[stage] % RING_CHUNKS];
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void ring_give(struct ring *r, enum ring_stage stage)
{
	pthread_mutex_lock(&r->lock);
	/* After the chunk's contents: a stage watching the count sees both */
	__atomic_store_n(&r->done[stage], r->done[stage] + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&r->lock);
	/*
	 * Only the next stage can be waiting on this one (the last stage frees
	 * a slot for the first); it takes the lock and sees the count itself.
	 */
	pthread_cond_signal(&r->ready[(stage + 1) % RING_STAGES]);
}

void ring_stop(struct ring *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	for (size_t i = 0; i < RING_STAGES; i++)
		pthread_cond_broadcast(&r->ready[i]);
	pthread_mutex_unlock(&r->lock);
}

bool ring_stopped(struct ring *r)
{
	return r->stop;
}
