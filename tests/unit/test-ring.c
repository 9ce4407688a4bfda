// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The transfer engine's ring (src/lib/ring.c): three stages on three
 * threads see every chunk in order, each woken by the stage before it
 * alone; a stop wakes every stage; a timed wait ends and is counted; a
 * prefault makes resident the chunks the data will fill; the verify stage
 * watches for chunks that come quickly instead of sleeping, and sleeps
 * again when they do not; stages of random pace, fast and slow in turn,
 * still see every chunk in order.  A lost wake-up hangs a stage: the
 * alarm turns that into a failure.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "unit.h"
#include "util.h"

#define CHUNKS 20000

struct stage {
	struct ring *ring;
	enum ring_stage which;
	int timeout_ms;
	size_t seen;	   /* chunks taken and passed on */
	bool in_order;	   /* each chunk carried the number expected */
	int ret;	   /* ring_take()'s last status */
	unsigned int seed; /* != 0: work for a random while on each chunk */
};

/* Busy for @us microseconds, as a stage's work is */
static void work_for(double us)
{
	double until = monotonic_seconds() + us / 1e6;

	while (monotonic_seconds() < until)
		;
}

/*
 * A random pace: mostly 0 to 40 us a chunk (memory speed, where the
 * verify stage watches), one chunk in 64 a pause of 0.2 to 1.2 ms (where
 * it sleeps again)
 */
static void random_work(unsigned int *seed)
{
	if (rand_r(seed) % 64 == 0)
		work_for(200 + rand_r(seed) % 1000);
	else
		work_for(rand_r(seed) % 40);
}

/*
 * Produce numbers the chunks, check adds one, consume checks both; each
 * takes and gives until CHUNKS (or the ring stops)
 */
static void *run_stage(void *arg)
{
	struct stage *s = arg;
	struct migctl_chunk *c;

	s->in_order = true;
	while (s->seen < CHUNKS) {
		s->ret = ring_take(s->ring, s->which, s->timeout_ms, &c);
		if (s->ret == -ETIMEDOUT)
			continue;
		if (s->ret)
			break;
		switch (s->which) {
		case RING_PRODUCE:
			c->len = s->seen;
			c->data_len = 0;
			break;
		case RING_VERIFY:
			s->in_order &= c->len == s->seen;
			c->data_len = c->len + 1;
			break;
		default:
			s->in_order &= c->len == s->seen && c->data_len == s->seen + 1;
			break;
		}
		if (s->seed)
			random_work(&s->seed);
		s->seen++;
		ring_give(s->ring, s->which);
	}
	return NULL;
}

static void run_stages(struct ring *r, struct stage st[RING_STAGES])
{
	pthread_t t[RING_STAGES];

	for (int i = 0; i < RING_STAGES; i++) {
		st[i].ring = r;
		st[i].which = (enum ring_stage)i;
		pthread_create(&t[i], NULL, run_stage, &st[i]);
	}
	for (int i = 0; i < RING_STAGES; i++)
		pthread_join(t[i], NULL);
}

static void test_in_order(void)
{
	struct stage st[RING_STAGES] = { { .timeout_ms = -1 },
					 { .timeout_ms = 100 },
					 { .timeout_ms = -1 } };
	struct ring r;

	ring_init(&r);
	CHECK_EQ_INT(ring_alloc(&r, 64, false), 0, "a ring of 64-byte chunks");
	run_stages(&r, st);
	for (int i = 0; i < RING_STAGES; i++) {
		CHECK_EQ_INT(st[i].seen, CHUNKS, "stage %d passed on every chunk", i);
		CHECK(st[i].in_order, "stage %d saw them in order, after the stage before", i);
	}
	CHECK_EQ_INT(r.done[RING_CONSUME], CHUNKS, "the ring counted them all out");
	ring_free(&r);
}

/*
 * Seeded: three stages each at a random pace, so that the verify stage
 * watches and sleeps in turn and each stage waits for the others at
 * every point; every chunk is still seen, in order, by each.
 */
static void test_random_pace(unsigned int seed)
{
	struct stage st[RING_STAGES] = { { .timeout_ms = -1, .seed = seed },
					 { .timeout_ms = 100, .seed = seed * 3 + 1 },
					 { .timeout_ms = -1, .seed = seed * 7 + 2 } };
	struct ring r;

	ring_init(&r);
	CHECK_EQ_INT(ring_alloc(&r, 64, false), 0, "seed %u: a ring", seed);
	run_stages(&r, st);
	for (int i = 0; i < RING_STAGES; i++) {
		CHECK_EQ_INT(st[i].seen, CHUNKS, "seed %u: stage %d passed on every chunk", seed,
			     i);
		CHECK(st[i].in_order, "seed %u: stage %d saw them in order", seed, i);
	}
	ring_free(&r);
}

/*
 * The verify stage's watch, seen from outside: a take that waits sleeps
 * in the kernel (a voluntary context switch) unless the stage watches.
 * A producer gives each chunk @delay_us after the verify stage starts to
 * wait for it; the verify stage's sleeps are counted over @chunks.
 */
static struct {
	struct ring *ring;
	atomic_int asked; /* chunks the verify stage has started to wait for */
	int chunks;
	double delay_us;
} paced;

/* Each of the two on a CPU of its own: on one, a watch would wait for nothing */
static void pin_to(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
}

static void *paced_producer(void *arg)
{
	struct migctl_chunk *c;

	(void)arg;
	pin_to(1);
	for (int i = 0; i < paced.chunks; i++) {
		while (atomic_load(&paced.asked) <= i)
			;
		work_for(paced.delay_us);
		if (ring_take(paced.ring, RING_PRODUCE, -1, &c))
			break;
		ring_give(paced.ring, RING_PRODUCE);
	}
	return NULL;
}

static long voluntary_switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

/* Chunks @delay_us apart: how many of @chunks takes slept */
static int paced_sleeps(struct ring *r, int chunks, double delay_us)
{
	struct migctl_chunk *c;
	int sleeps = 0;
	cpu_set_t was;
	pthread_t t;

	pthread_getaffinity_np(pthread_self(), sizeof(was), &was);
	pin_to(0);
	paced.ring = r;
	paced.chunks = chunks;
	paced.delay_us = delay_us;
	atomic_store(&paced.asked, 0);
	pthread_create(&t, NULL, paced_producer, NULL);
	for (int i = 0; i < chunks; i++) {
		long before = voluntary_switches();

		atomic_fetch_add(&paced.asked, 1);
		if (ring_take(r, RING_VERIFY, -1, &c))
			break;
		sleeps += voluntary_switches() != before;
		ring_give(r, RING_VERIFY);
		/* The consumer's part, at once: the ring never fills */
		ring_take(r, RING_CONSUME, -1, &c);
		ring_give(r, RING_CONSUME);
	}
	pthread_join(t, NULL);
	pthread_setaffinity_np(pthread_self(), sizeof(was), &was);
	return sleeps;
}

static void test_watch(void)
{
	struct ring r;
	int sleeps;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		CHECK(1, "# SKIP the watch needs a second CPU for the producer");
		return;
	}
	ring_init(&r);
	ring_alloc(&r, 64, false);
	CHECK(!r.watching, "a new ring's verify stage sleeps");
	/* Chunks 30 us apart, as at memory speed: after the first wait, no sleep */
	sleeps = paced_sleeps(&r, 200, 30);
	CHECK(sleeps < 50, "chunks 30 us apart: %d of 200 takes slept (watched, not woken)",
	      sleeps);
	CHECK(r.watching, "and it watches for the next");
	/* Chunks 3 ms apart: a watch would only burn the CPU */
	sleeps = paced_sleeps(&r, 5, 3000);
	CHECK_EQ_INT(sleeps, 5, "chunks 3 ms apart: every take slept");
	CHECK(!r.watching, "and it no longer watches");
	ring_free(&r);
}

/*
 * Two stages blocked in ring_take() on a ring whose counts are @done (the
 * third could go on: the ring never blocks all three); a stop wakes both
 */
static void test_stop_wakes(const char *what, const uint64_t done[RING_STAGES], enum ring_stage a,
			    enum ring_stage b)
{
	struct stage st[2] = { { .which = a, .timeout_ms = -1 }, { .which = b, .timeout_ms = -1 } };
	pthread_t t[2];
	struct ring r;

	ring_init(&r);
	ring_alloc(&r, 64, false);
	memcpy(r.done, done, sizeof(r.done));
	for (int i = 0; i < 2; i++) {
		st[i].ring = &r;
		st[i].seen = CHUNKS - 1; /* one take each */
		pthread_create(&t[i], NULL, run_stage, &st[i]);
	}
	usleep(50000);
	ring_stop(&r);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(st[i].ret, -ECANCELED, "%s: stage %d woke with -ECANCELED", what,
			     st[i].which);
	}
	ring_free(&r);
}

static void test_timeout(void)
{
	struct migctl_chunk *c;
	struct ring r;

	ring_init(&r);
	ring_alloc(&r, 64, false);
	CHECK_EQ_INT(ring_take(&r, RING_VERIFY, 30, &c), -ETIMEDOUT,
		     "a timed take with nothing produced: -ETIMEDOUT");
	CHECK(r.waited[RING_VERIFY] >= 0.025, "its wait is counted (%.3f s)",
	      r.waited[RING_VERIFY]);
	CHECK_EQ_INT(ring_take(&r, RING_PRODUCE, 30, &c), 0, "the producer has room at once");
	CHECK(r.waited[RING_PRODUCE] == 0, "and did not wait");
	ring_free(&r);
}

/* Save's ring is one mapping; resume's chunks can grow */
static void test_memory(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct ring r;
	uint8_t *grown;

	ring_init(&r);
	CHECK_EQ_INT(ring_alloc(&r, 100000, false), 0, "a fixed ring of 100000-byte chunks");
	CHECK(r.mem != NULL, "in one mapping");
	for (int i = 0; i < RING_CHUNKS; i++) {
		CHECK((uintptr_t)r.chunk[i].buf % page == 0 && r.chunk[i].cap == 100000,
		      "chunk %d page-aligned, of the size asked", i);
		memset(r.chunk[i].buf, i, r.chunk[i].cap);
	}
	CHECK(r.chunk[0].buf[99999] == 0 && r.chunk[1].buf[0] == 1 && r.chunk[3].buf[99999] == 3,
	      "chunks do not overlap");
	ring_free(&r);

	ring_init(&r);
	CHECK_EQ_INT(ring_alloc(&r, 64, true), 0, "a growable ring");
	CHECK(r.mem == NULL, "malloc()ed chunks");
	grown = realloc(r.chunk[2].buf, 1 << 20);
	CHECK(grown != NULL, "a chunk grows with realloc()");
	r.chunk[2].buf = grown;
	r.chunk[2].cap = 1 << 20;
	ring_free(&r); /* and is freed: valgrind or ASan would say otherwise */
}

/* Resident pages of chunk @i, by mincore() */
static size_t resident(const struct ring *r, int i)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), stride = r->mem_size / RING_CHUNKS;
	unsigned char vec[64];
	size_t n = 0;

	if (stride / page > sizeof(vec) || mincore(r->chunk[i].buf, stride, vec))
		return SIZE_MAX;
	for (size_t p = 0; p < stride / page; p++)
		n += vec[p] & 1;
	return n;
}

/* Prefault: the pages the data will fill, no more; all of them for 0 */
static void test_prefault(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (100000 + page - 1) / page, rest = (50000 + page - 1) / page;
	struct ring r;

	ring_init(&r);
	CHECK_EQ_INT(ring_alloc(&r, 100000, false), 0, "a fixed ring of 100000-byte chunks");
	CHECK(resident(&r, 0) == 0, "no page of it resident yet");
	ring_prefault(&r, 150000);
	CHECK(resident(&r, 0) == pages, "150000 bytes: the first chunk, full, is resident");
	CHECK(resident(&r, 1) == rest, "and the 50000 bytes of the second");
	CHECK(resident(&r, 2) == 0 && resident(&r, 3) == 0, "the others are not");
	ring_prefault(&r, 0);
	CHECK(resident(&r, 3) == pages, "size unknown (0): every chunk is resident");
	ring_free(&r);

	ring_init(&r);
	CHECK_EQ_INT(ring_alloc(&r, 100000, false), 0, "a fixed ring again");
	ring_prefault(&r, 100ull << 30);
	CHECK(resident(&r, 0) == pages && resident(&r, 3) == pages, "100 GiB: every chunk");
	ring_free(&r);

	ring_init(&r);
	CHECK_EQ_INT(ring_alloc(&r, 64, true), 0, "a growable ring");
	ring_prefault(&r, 0); /* malloc()ed chunks: nothing to do, nothing done */
	ring_free(&r);
}

int main(void)
{
	/* A lost wake-up leaves a stage blocked for ever: fail, do not hang */
	alarm(20);
	test_in_order();
	test_stop_wakes("empty ring", (uint64_t[]){ 0, 0, 0 }, RING_VERIFY, RING_CONSUME);
	test_stop_wakes("full ring, all checked", (uint64_t[]){ RING_CHUNKS, RING_CHUNKS, 0 },
			RING_PRODUCE, RING_VERIFY);
	test_timeout();
	test_memory();
	test_prefault();
	test_watch();
	for (unsigned int seed = 1; seed <= 3; seed++)
		test_random_pace(seed);
	return unit_done();
}
