// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The smallest pipeline that does what the stream format asks of every
 * byte (two checksums, on a core other than the one that read it), with
 * nothing else: no framing, no verification, no cancel, no progress.
 * What the engine's framed cases reach is measured against it, and the
 * machine's costs that bound both are measured here too.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "fdio.h"
#include "pipeline-bound.h"
#include "stream-wire.h"
#include "util.h"

#define CHUNK (1u << 20)
#define BUFFERS 4

static void fail(const char *what, int err)
{
	fprintf(stderr, "bench-native: %s: %s\n", what, strerror(err));
	exit(1);
}

/*
 * Counts of chunks handed over, one writer each: the reader's filled,
 * the writer's emptied.  Sleeping hand-overs wait on the condition under
 * the lock; spinning ones watch the count.
 */
struct pipeline {
	pthread_mutex_t lock;
	pthread_cond_t moved;
	atomic_ulong filled, emptied;
	enum handover how;
	uint8_t *buf;
	size_t len[BUFFERS];
	int in;
};

static void wait_until(struct pipeline *p, atomic_ulong *count, unsigned long at_least)
{
	if (atomic_load(count) >= at_least)
		return;
	if (p->how == HANDOVER_SPIN) {
		while (atomic_load(count) < at_least)
			cpu_relax();
		return;
	}
	pthread_mutex_lock(&p->lock);
	while (atomic_load(count) < at_least)
		pthread_cond_wait(&p->moved, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

static void hand_over(struct pipeline *p, atomic_ulong *count)
{
	if (p->how == HANDOVER_SPIN) {
		atomic_fetch_add(count, 1);
		return;
	}
	pthread_mutex_lock(&p->lock);
	atomic_fetch_add(count, 1);
	pthread_mutex_unlock(&p->lock);
	/* One waiter at most: the other stage */
	pthread_cond_signal(&p->moved);
}

static void *reader(void *arg)
{
	struct pipeline *p = arg;
	size_t got;

	for (unsigned long i = 0;; i++) {
		/* Buffer i is free once the writer has emptied i - BUFFERS */
		wait_until(p, &p->emptied, i < BUFFERS ? 0 : i - BUFFERS + 1);
		if (read_full(p->in, p->buf + (i % BUFFERS) * CHUNK, CHUNK, &got, NULL))
			fail("read", errno);
		p->len[i % BUFFERS] = got;
		hand_over(p, &p->filled);
		if (!got)
			return NULL;
	}
}

uint64_t bound_copy(int in, int out, enum handover how)
{
	struct pipeline p = { .how = how, .in = in };
	XXH3_state_t *rec = XXH3_createState(), *digest = XXH3_createState();
	uint64_t total = 0;
	pthread_t thread;

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.moved, NULL);
	p.buf = mmap(NULL, BUFFERS * CHUNK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p.buf == MAP_FAILED || !rec || !digest)
		fail("pipeline", ENOMEM);
	XXH3_64bits_reset(rec);
	XXH3_128bits_reset(digest);
	if (pthread_create(&thread, NULL, reader, &p))
		fail("pthread_create", EAGAIN);
	for (unsigned long i = 0;; i++) {
		uint8_t *chunk = p.buf + (i % BUFFERS) * CHUNK;
		size_t len;

		wait_until(&p, &p.filled, i + 1);
		len = p.len[i % BUFFERS];
		if (!len)
			break;
		stream_hash_payload(rec, digest, chunk, len);
		if (write_all(out, chunk, len, NULL))
			fail("write", errno);
		total += len;
		hand_over(&p, &p.emptied);
	}
	pthread_join(thread, NULL);
	/* The checksums used, so that nothing is left out */
	if (XXH3_64bits_digest(rec) == 1 && XXH3_128bits_digest(digest).low64 == 1)
		fprintf(stderr, "bench-native: an unlikely checksum\n");
	XXH3_freeState(rec);
	XXH3_freeState(digest);
	munmap(p.buf, BUFFERS * CHUNK);
	pthread_cond_destroy(&p.moved);
	pthread_mutex_destroy(&p.lock);
	return total;
}

/* ---- the machine's costs */

/*
 * Each measurement below is of two CPUs: the calling thread on one, the
 * thread it starts on the other (left to the scheduler, the two may share
 * one, and a wake or a hand-over within a CPU costs far less).  The
 * caller's affinity is put back afterwards.
 */
static cpu_set_t pin(int cpu)
{
	cpu_set_t was, one;

	pthread_getaffinity_np(pthread_self(), sizeof(was), &was);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	return was;
}

static void unpin(cpu_set_t was)
{
	pthread_setaffinity_np(pthread_self(), sizeof(was), &was);
}

static struct {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	double signalled; /* when the last signal was sent; < 0: the end */
	double woke;	  /* when the sleeper saw it; 0 until then */
} wake = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static void *sleeper(void *arg)
{
	(void)arg;
	pin(1);
	pthread_mutex_lock(&wake.lock);
	for (;;) {
		while (wake.signalled == 0)
			pthread_cond_wait(&wake.ready, &wake.lock);
		if (wake.signalled < 0)
			break;
		wake.woke = monotonic_seconds();
		wake.signalled = 0;
	}
	pthread_mutex_unlock(&wake.lock);
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double wake_latency_us(void)
{
	/* The sleeper asleep again, as a stage is between chunks */
	const struct timespec idle = { .tv_nsec = 50000 };
	enum { TIMES = 1001 };
	static double took[TIMES];
	cpu_set_t was = pin(0);
	pthread_t thread;

	if (pthread_create(&thread, NULL, sleeper, NULL))
		fail("pthread_create", EAGAIN);
	for (int i = 0; i < TIMES; i++) {
		double sent;

		nanosleep(&idle, NULL);
		pthread_mutex_lock(&wake.lock);
		wake.woke = 0;
		wake.signalled = sent = monotonic_seconds();
		pthread_mutex_unlock(&wake.lock);
		pthread_cond_signal(&wake.ready);
		for (;;) {
			pthread_mutex_lock(&wake.lock);
			took[i] = wake.woke ? wake.woke - sent : -1;
			pthread_mutex_unlock(&wake.lock);
			if (took[i] >= 0)
				break;
			cpu_relax();
		}
	}
	pthread_mutex_lock(&wake.lock);
	wake.signalled = -1;
	pthread_mutex_unlock(&wake.lock);
	pthread_cond_signal(&wake.ready);
	pthread_join(thread, NULL);
	unpin(was);
	qsort(took, TIMES, sizeof(took[0]), by_value);
	return took[TIMES / 2] * 1e6;
}

/* The other core fills a chunk, then hands it over; the checksums' time alone counts */
static struct {
	uint8_t *buf;
	atomic_ulong filled, hashed;
	unsigned long chunks;
} relay;

static void *filler(void *arg)
{
	(void)arg;
	pin(1);
	for (unsigned long i = 0; i < relay.chunks; i++) {
		while (atomic_load(&relay.hashed) < i)
			cpu_relax();
		memset(relay.buf, (int)i, CHUNK);
		atomic_fetch_add(&relay.filled, 1);
	}
	return NULL;
}

double checksum_seconds_per_gib(bool other_core)
{
	XXH3_state_t *rec = XXH3_createState(), *digest = XXH3_createState();
	double spent = 0, t;
	cpu_set_t was = pin(0);
	pthread_t thread;

	relay.chunks = 512;
	relay.buf = malloc(CHUNK);
	if (!relay.buf || !rec || !digest)
		fail("checksums", ENOMEM);
	memset(relay.buf, 0x5a, CHUNK);
	atomic_store(&relay.filled, 0);
	atomic_store(&relay.hashed, 0);
	XXH3_64bits_reset(rec);
	XXH3_128bits_reset(digest);
	if (other_core && pthread_create(&thread, NULL, filler, NULL))
		fail("pthread_create", EAGAIN);
	for (unsigned long i = 0; i < relay.chunks; i++) {
		if (other_core)
			while (atomic_load(&relay.filled) <= i)
				cpu_relax();
		t = monotonic_seconds();
		stream_hash_payload(rec, digest, relay.buf, CHUNK);
		spent += monotonic_seconds() - t;
		atomic_fetch_add(&relay.hashed, 1);
	}
	if (other_core)
		pthread_join(thread, NULL);
	unpin(was);
	if (XXH3_64bits_digest(rec) == 1)
		fprintf(stderr, "bench-native: an unlikely checksum\n");
	XXH3_freeState(rec);
	XXH3_freeState(digest);
	free(relay.buf);
	return spent / ((double)relay.chunks * CHUNK / (1u << 30));
}
