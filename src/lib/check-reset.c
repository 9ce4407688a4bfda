// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check's rules on VFIO_DEVICE_RESET, the uAPI's way out of RESUMING and
 * ERROR (reset.*).
 *
 * Each rule is a struct check_rule beside its body, written from the uAPI's
 * own words; check.c runs them in the order of its table.
 */
#include "check.h"

static void check_reset_every_state(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got;
	char unreached[128] = "";
	size_t n = check_tour(x->d, states), tried = 0;
	int fd, r;

	for (size_t i = 0; i < n; i++) {
		fd = -1;
		/* a state not reached is fsm.arcs' finding: named, not reset from */
		if (check_go(x->d, states[i], &fd) || check_get_state(x->d) != states[i]) {
			str_list_add(unreached, sizeof(unreached), migctl_state_name(states[i]));
			check_close_fd(&fd);
			continue;
		}
		r = migctl_dev_reset(x->d->dev);
		got = check_get_state(x->d);
		if (r)
			check_finding(x, MIGCTL_FAIL, "VFIO_DEVICE_RESET in %s fails with %s",
				      migctl_state_name(states[i]), check_eno(r));
		else if (got != MIGCTL_STATE_RUNNING)
			check_finding(x, MIGCTL_FAIL,
				      "VFIO_DEVICE_RESET in %s left the device in %s",
				      migctl_state_name(states[i]), migctl_state_name(got));
		if (r || got != MIGCTL_STATE_RUNNING)
			check_go(x->d, x->d->pb.found, &fd);
		check_close_fd(&fd);
		tried++;
	}
	check_passed(x, "from each of the %zu states the reset left RUNNING%s%s", tried,
		     unreached[0] ? "; not reached: " : "", unreached);
}

const struct check_rule rule_reset_every_state = {
	.rule = {
		.id = "reset.every-state",
		.statement = "VFIO_DEVICE_RESET succeeds in every offered state, RESUMING "
			     "included, and leaves the device in RUNNING",
		.source = VFIO_H ": \"To abort a RESUMING session the device must be reset\"; \"To "
			  "recover from ERROR VFIO_DEVICE_RESET must be used to return the "
			  "device_state back to RUNNING\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_reset_every_state,
};

static void check_reset_flag(struct rule_run *x)
{
	struct migctl_dev_info info;
	int r = migctl_dev_info(x->d->dev, &info);
	bool says;

	if (r) {
		check_finding(x, MIGCTL_FAIL, "VFIO_DEVICE_GET_INFO fails with %s", check_eno(r));
		return;
	}
	says = info.flags & MIGCTL_DEV_RESET;
	r = migctl_dev_reset(x->d->dev);
	if (!r && !says)
		check_finding(x, MIGCTL_WARN,
			      "VFIO_DEVICE_RESET works, but VFIO_DEVICE_GET_INFO flags 0x%x lack "
			      "VFIO_DEVICE_FLAGS_RESET",
			      info.flags);
	else if (r && says)
		check_finding(x, MIGCTL_FAIL,
			      "VFIO_DEVICE_FLAGS_RESET is set, but VFIO_DEVICE_RESET fails with %s",
			      check_eno(r));
	check_passed(x, says ? "VFIO_DEVICE_FLAGS_RESET set, and VFIO_DEVICE_RESET works" :
			       "neither VFIO_DEVICE_FLAGS_RESET nor a working VFIO_DEVICE_RESET");
}

const struct check_rule rule_reset_flag = {
	.rule = {
		.id = "reset.flag",
		.statement = "A device whose VFIO_DEVICE_RESET works says so with "
			     "VFIO_DEVICE_FLAGS_RESET",
		.source = VFIO_H ", struct vfio_device_info: \"VFIO_DEVICE_FLAGS_RESET ... Device "
			  "supports reset\"",
	},
	.run = check_reset_flag,
};
