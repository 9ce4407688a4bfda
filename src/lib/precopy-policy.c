// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The switchover decision of an iterative PRE_COPY, QEMU's in substance:
 * stop the device only once its initial data is all out (the uAPI: the
 * initial bytes are what a destination needs early, to prepare) and what
 * is still to move fits the downtime budget at the rate this save has
 * measured; but never later than the precopy timeout, so that a device
 * that dirties faster than the stream drains does not keep a save going.
 */
#include "precopy-policy.h"

/*
 * What STOP_COPY will still move: MIG_DATA_SIZE is that length by its
 * definition ("required to complete stop copy", pending PRE_COPY data
 * included); the pending PRE_COPY bytes bound it from below, for a device
 * whose estimate forgets them or that has none.
 */
static uint64_t bytes_left(const struct precopy_now *now)
{
	uint64_t pending = now->info.initial_bytes + now->info.dirty_bytes;

	return now->data_size > pending ? now->data_size : pending;
}

struct precopy_outcome precopy_decide(const struct precopy_policy *policy,
				      const struct precopy_track *before,
				      const struct precopy_now *now)
{
	struct precopy_outcome out = { .decision = PRECOPY_CONTINUE, .track = *before };

	/*
	 * Without the opt-in flags are whatever the caller passed, echoed
	 * (bug-compatibility): they say nothing.  With it, REINIT means new
	 * initial data, which must go out before the switchover again,
	 * whatever initial_bytes said before.
	 */
	if (policy->opted_in && (now->info.flags & MIGCTL_PRECOPY_REINIT)) {
		out.reinit = true;
		out.track.reinits++;
		out.track.initial_done = false;
	}
	/*
	 * Once out, the initial data stays out: a driver that raises
	 * initial_bytes again without REINIT (none should) is not waited for,
	 * its bytes only count in what is left.
	 */
	if (now->info.initial_bytes == 0)
		out.track.initial_done = true;

	out.left = bytes_left(now);
	/* Nothing left moves in no time, whatever the rate */
	if (out.left == 0)
		out.estimate = 0;
	else
		out.estimate = now->rate > 0 ? (double)out.left / now->rate : -1;

	if (out.track.initial_done && out.estimate >= 0 && out.estimate <= policy->downtime)
		out.decision = PRECOPY_SWITCH_CONVERGED;
	/*
	 * Nothing pending and nothing moved yet: waiting measures no rate,
	 * since nothing flows while the device has nothing for PRE_COPY.
	 * What is left is all STOP_COPY's, as a one-pass save would have it.
	 */
	else if (out.track.initial_done && now->rate <= 0 &&
		 now->info.initial_bytes + now->info.dirty_bytes == 0)
		out.decision = PRECOPY_SWITCH_CONVERGED;
	else if (now->elapsed >= policy->timeout)
		out.decision = PRECOPY_SWITCH_TIMEOUT;
	return out;
}
