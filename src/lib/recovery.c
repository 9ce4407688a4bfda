// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Migration-state policy, once: how a data state is left without losing
 * anything, and how a device is recovered after a failed transfer.  Every
 * command that has to get a device out of a data state comes here.
 */
#include <errno.h>
#include <unistd.h>

#include "internal.h"

/*
 * Nothing but a reset is asked of a device in ERROR: the uAPI allows no
 * other way out, and the kernel warns about a SET from ERROR
 * (vfio_mig_get_next_state()).  The one test of that rule, for recovery
 * here and for check's moves.
 */
bool migctl_set_allowed_from(enum migctl_state now)
{
	return now != MIGCTL_STATE_ERROR;
}

int migctl_request_state(struct migctl_dev *dev, enum migctl_state state)
{
	int fd, r;

	r = migctl_set_state(dev, state, &fd);
	if (fd >= 0)
		close(fd);
	return r;
}

int migctl_leave_data_state(struct migctl_dev *dev, enum migctl_state *state)
{
	/* The nearest state that keeps what the device has */
	static const enum migctl_state way_out[MIGCTL_NR_STATES] = {
		[MIGCTL_STATE_STOP_COPY] = MIGCTL_STATE_STOP,
		[MIGCTL_STATE_PRE_COPY] = MIGCTL_STATE_RUNNING,
		[MIGCTL_STATE_PRE_COPY_P2P] = MIGCTL_STATE_RUNNING_P2P,
	};
	int r;

	if (!migctl_state_is_data(*state))
		return 0;
	/* RESUMING has no exit but reset: STOP would load half a stream */
	if (*state == MIGCTL_STATE_RESUMING)
		r = migctl_dev_reset(dev);
	else
		r = migctl_request_state(dev, way_out[*state]);
	if (r)
		return r;
	return migctl_get_state(dev, state);
}

int migctl_return_to(struct migctl_dev *dev, enum migctl_state now, enum migctl_state state)
{
	int r;

	if (!migctl_set_allowed_from(now))
		return -EBADFD;
	r = migctl_leave_data_state(dev, &now);
	if (!r && now != state)
		r = migctl_request_state(dev, state);
	return r;
}

enum migctl_state migctl_read_state(struct migctl_dev *dev)
{
	enum migctl_state state;

	return migctl_get_state(dev, &state) ? MIGCTL_NR_STATES : state;
}

/*
 * The failure policy.  Save's RESTORE goes back to the state found (QEMU's
 * recovery state), and resets if that fails.  RESUMING has no clean exit
 * but reset, so resume's RESTORE is reset, then the state found; but once
 * the driver accepted the stream (res->loaded) the new state is kept.
 * Nothing but a reset is ever asked of a device in ERROR: the uAPI allows
 * no other way out, and the kernel warns about a SET from ERROR.
 */
static enum migctl_on_error effective(enum migctl_on_error policy, bool resuming)
{
	if (policy != MIGCTL_ON_ERROR_DEFAULT)
		return policy;
	return resuming ? MIGCTL_ON_ERROR_RESET : MIGCTL_ON_ERROR_RESTORE;
}

void recover_quiesced(struct migctl_dev *dev, enum migctl_on_error policy, bool resuming,
		      const struct migctl_xfer_result *res)
{
	enum migctl_state now;

	if (effective(policy, resuming) != MIGCTL_ON_ERROR_RESTORE || resuming ||
	    res->initial_state != MIGCTL_STATE_RUNNING)
		return;
	now = migctl_read_state(dev);
	/* From ERROR migctl_return_to() asks nothing: recover_device() resets it */
	if (now != MIGCTL_NR_STATES)
		migctl_return_to(dev, now, MIGCTL_STATE_RUNNING_P2P);
}

void recover_device(struct migctl_dev *dev, enum migctl_on_error policy, bool resuming,
		    struct migctl_xfer_result *res)
{
	enum migctl_state now;
	int r;

	policy = effective(policy, resuming);
	now = migctl_read_state(dev);
	if (policy == MIGCTL_ON_ERROR_LEAVE) {
		res->recovery = MIGCTL_RECOVERY_LEFT;
		goto out;
	}
	if (migctl_set_allowed_from(now) && resuming && res->loaded) {
		res->recovery = MIGCTL_RECOVERY_KEPT;
		goto out;
	}
	if (migctl_set_allowed_from(now) && policy == MIGCTL_ON_ERROR_RESTORE && !resuming) {
		r = migctl_return_to(dev, now, res->initial_state);
		if (r == 0) {
			res->recovery = MIGCTL_RECOVERY_RESTORED;
			goto out;
		}
		res->recovery_err = r;
	}
	/* The abort is tried even where VFIO_DEVICE_FLAGS_RESET is not set (mtty) */
	r = migctl_dev_reset(dev);
	if (r) {
		res->recovery = MIGCTL_RECOVERY_FAILED;
		res->recovery_err = r;
		goto out;
	}
	res->recovery = MIGCTL_RECOVERY_RESET;
	if (policy == MIGCTL_ON_ERROR_RESTORE && resuming &&
	    res->initial_state != MIGCTL_STATE_RUNNING &&
	    migctl_request_state(dev, res->initial_state) == 0)
		res->recovery = MIGCTL_RECOVERY_RESTORED;
out:
	res->final_state = migctl_read_state(dev);
}
