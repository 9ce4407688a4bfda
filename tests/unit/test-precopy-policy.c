// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * precopy_decide(), the switchover decision, over recorded sequences of
 * VFIO_MIG_GET_PRECOPY_INFO answers (with MIG_DATA_SIZE, the rate and the
 * time of each): the sample it switches at, why, and what it counted.
 */
#include "precopy-policy.h"
#include "unit.h"
#include "util.h"

#define K 1024ull
#define M (1024ull * 1024)
#define RATE (10.0 * M) /* bytes a second */

/* One recorded sample */
struct rec {
	uint64_t initial, dirty;
	uint32_t flags;
	uint64_t data_size;
	double rate, elapsed;
};

struct run {
	int at; /* the sample it switched at, -1: never */
	struct precopy_outcome last;
};

/* Feed @recs in order until the policy says switch, as the engine does */
static struct run replay(const struct precopy_policy *policy, const struct rec *recs, size_t n)
{
	struct precopy_track track = { 0 };
	struct run run = { .at = -1 };

	for (size_t i = 0; i < n; i++) {
		struct precopy_now now = {
			.info = { recs[i].initial, recs[i].dirty, recs[i].flags },
			.data_size = recs[i].data_size,
			.rate = recs[i].rate,
			.elapsed = recs[i].elapsed,
		};

		run.last = precopy_decide(policy, &track, &now);
		track = run.last.track;
		if (run.last.decision != PRECOPY_CONTINUE) {
			run.at = (int)i;
			break;
		}
	}
	return run;
}

static const struct precopy_policy budget = { .downtime = 0.3, .timeout = 5 };
static const struct precopy_policy budget_v2 = { .downtime = 0.3, .timeout = 5, .opted_in = true };

/* A device whose dirt shrinks round by round: switches once 3 MiB (0.3 s) is left */
static void test_converges(void)
{
	static const struct rec recs[] = {
		{ 8 * M, 0, 0, 9 * M, 0, 0.0 },	      /* nothing measured yet */
		{ 2 * M, 1 * M, 0, 3 * M, RATE, 0.6 }, /* fits, but initial data pending */
		{ 0, 5 * M, 0, 5 * M, RATE, 0.8 },     /* 0.5 s: too long */
		{ 0, 4 * M, 0, 3 * M, RATE, 1.3 },     /* the pending bytes count, not the estimate */
		{ 0, 2 * M, 0, 2 * M + 512 * K, RATE, 1.7 },
		{ 0, 1 * M, 0, 1 * M, RATE, 1.9 },
	};
	struct run run = replay(&budget, recs, ARRAY_SIZE(recs));

	CHECK_EQ_INT(run.at, 4, "converging: switches at the first sample that fits 0.3 s");
	CHECK_EQ_INT(run.last.decision, PRECOPY_SWITCH_CONVERGED, "converging: converged");
	CHECK_EQ_INT(run.last.left, 2 * M + 512 * K, "converging: MIG_DATA_SIZE is what is left");
	CHECK(run.last.estimate > 0.24 && run.last.estimate < 0.26,
	      "converging: estimate %.3f s is left over the rate", run.last.estimate);
	CHECK_EQ_INT(run.last.track.reinits, 0, "converging: no REINIT");
}

/* Dirt that never shrinks below 8 MiB: the timeout ends it, and says so */
static void test_never_converges(void)
{
	struct rec recs[12];
	struct run run;

	for (int i = 0; i < 12; i++)
		recs[i] = (struct rec){ i ? 0 : 4 * M, 8 * M, 0, 8 * M, RATE, i * 0.5 };
	run = replay(&budget, recs, ARRAY_SIZE(recs));
	CHECK_EQ_INT(run.at, 10, "never converging: switches at 5 s, the timeout");
	CHECK_EQ_INT(run.last.decision, PRECOPY_SWITCH_TIMEOUT, "never converging: timeout");
	CHECK(run.last.estimate > 0.79 && run.last.estimate < 0.81,
	      "never converging: the estimate at the switchover is told (%.3f s)",
	      run.last.estimate);
}

/* A REINIT after the initial data went out: its new initial bytes go first */
static const struct rec reinit_recs[] = {
	{ 1 * M, 0, 0, 1 * M, 0, 0.0 },
	{ 0, 64 * K, 0, 4 * M, RATE, 0.2 },		    /* out; 0.4 s */
	{ 512 * K, 0, MIGCTL_PRECOPY_REINIT, 512 * K, RATE, 0.3 }, /* 0.05 s, initial again */
	{ 128 * K, 0, 0, 128 * K, RATE, 0.35 },
	{ 0, 32 * K, 0, 32 * K, RATE, 0.4 },
};

static void test_reinit(void)
{
	struct run run = replay(&budget_v2, reinit_recs, ARRAY_SIZE(reinit_recs));

	CHECK_EQ_INT(run.at, 4, "REINIT: no switchover until its initial bytes are out");
	CHECK_EQ_INT(run.last.decision, PRECOPY_SWITCH_CONVERGED, "REINIT: then converged");
	CHECK_EQ_INT(run.last.track.reinits, 1, "REINIT: counted once");

	/* The REINIT sample alone says it */
	struct precopy_track done = { .initial_done = true };
	struct precopy_now now = { .rate = RATE, .elapsed = 1 };
	struct precopy_outcome o;

	now.info = (struct migctl_precopy_info){ 512 * K, 0, MIGCTL_PRECOPY_REINIT };
	o = precopy_decide(&budget_v2, &done, &now);
	CHECK(o.reinit && !o.track.initial_done && o.decision == PRECOPY_CONTINUE,
	      "REINIT: the initial-bytes rule starts again");
}

/* Without the opt-in flags are echoed garbage: never a REINIT */
static void test_flags_ignored(void)
{
	struct rec recs[ARRAY_SIZE(reinit_recs)];
	struct run run;

	run = replay(&budget, reinit_recs, ARRAY_SIZE(reinit_recs));
	CHECK_EQ_INT(run.at, 2, "no opt-in: REINIT's bit means nothing, 0.05 s left fits");
	CHECK_EQ_INT(run.last.track.reinits, 0, "no opt-in: no REINIT counted");

	/* every bit set, as a caller's garbage would come back */
	for (size_t i = 0; i < ARRAY_SIZE(recs); i++) {
		recs[i] = reinit_recs[i];
		recs[i].flags = 0xffffffff;
	}
	run = replay(&budget, recs, ARRAY_SIZE(recs));
	CHECK(run.at == 2 && run.last.track.reinits == 0 && !run.last.reinit,
	      "no opt-in: flags 0xffffffff are ignored too");
}

/* No rate measured: no estimate, so no convergence, but the timeout still ends it */
static void test_unknown_rate(void)
{
	struct rec recs[8];
	struct run run;

	for (int i = 0; i < 8; i++)
		recs[i] = (struct rec){ 0, 4 * K, 0, 0, 0, i * 1.0 };
	run = replay(&budget, recs, ARRAY_SIZE(recs));
	CHECK_EQ_INT(run.at, 5, "unknown rate: only the timeout switches");
	CHECK_EQ_INT(run.last.decision, PRECOPY_SWITCH_TIMEOUT, "unknown rate: timeout");
	CHECK(run.last.estimate < 0, "unknown rate: estimate unknown (%.3f)", run.last.estimate);

	/* nothing pending and no rate: waiting would measure none, so switch */
	recs[2] = (struct rec){ 0, 0, 0, 1 * M, 0, 2.0 };
	run = replay(&budget, recs, ARRAY_SIZE(recs));
	CHECK(run.at == 2 && run.last.decision == PRECOPY_SWITCH_CONVERGED &&
		      run.last.estimate < 0 && run.last.left == 1 * M,
	      "unknown rate: nothing pending switches, the estimate unknown");

	/* nothing left moves in no time: converged without a rate */
	recs[2] = (struct rec){ 0, 0, 0, 0, 0, 2.0 };
	run = replay(&budget, recs, ARRAY_SIZE(recs));
	CHECK(run.at == 2 && run.last.decision == PRECOPY_SWITCH_CONVERGED &&
		      run.last.estimate == 0,
	      "unknown rate: nothing left converges at once");
}

/* Initial data pending blocks the switchover however little is left */
static void test_initial_first(void)
{
	static const struct rec recs[] = {
		{ 4 * K, 0, 0, 4 * K, RATE, 0.1 },
		{ 1 * K, 0, 0, 1 * K, RATE, 0.2 },
		{ 0, 0, 0, 0, RATE, 0.3 },
	};
	struct run run = replay(&budget, recs, ARRAY_SIZE(recs));

	CHECK_EQ_INT(run.at, 2, "initial bytes first: no switchover while any are pending");
}

int main(void)
{
	test_converges();
	test_never_converges();
	test_reinit();
	test_flags_ignored();
	test_unknown_rate();
	test_initial_first();
	return unit_done();
}
