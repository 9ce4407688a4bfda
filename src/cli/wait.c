// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl wait DEV: until DEV exists, is bound to a VFIO driver and
 * has its /dev node.  Subscribe to uevents first, then look, then wait:
 * a device that appears between the look and the wait is not missed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "output.h"
#include "util.h"

struct wait_args {
	const char *pos[1];
	double timeout;
};

static const struct argp_option wait_options[] = {
	{ "timeout", OPT_TIMEOUT, "SECONDS", 0, "Give up after SECONDS (default 30)", 0 },
	{ 0 }
};

static error_t parse_wait(int key, char *arg, struct argp_state *state)
{
	struct wait_args *a = state->input;

	if (key == OPT_TIMEOUT) {
		cli_parse_timeout(arg, &a->timeout);
		return 0;
	}
	return cli_positionals(state, key, arg, a->pos, 1, 1);
}

static const struct argp wait_argp = {
	wait_options, parse_wait, "DEV",
	"Wait until DEV exists, is bound to a VFIO driver and its /dev node is "
	"there.  Exits 0 when it is, 3 on timeout.  Opens nothing.",
	cli_global_children, NULL, NULL
};

/* Ready means resolvable (bound to VFIO) with its node present */
static bool ready(const char *arg, struct migctl_device_desc *t)
{
	return migctl_resolve(&cli.root, arg, cli.via, t) == 0 && migctl_desc_ready(t);
}

static int run_wait(int argc, char **argv)
{
	struct wait_args a = { .timeout = 30 };
	struct migctl_uevent_monitor *mon;
	struct migctl_device_desc t;
	struct migctl_uevent ev;
	double deadline, left;
	int r;

	cli_parse(&wait_argp, 0, argc, argv, &a);
	cli.device = a.pos[0];
	r = migctl_uevent_open(&mon);
	if (r)
		return cli_fail(STAGE_EVENTS, r, "cannot listen to kernel uevents");

	deadline = monotonic_seconds() + a.timeout;
	while (!ready(a.pos[0], &t)) {
		left = deadline - monotonic_seconds();
		if (left <= 0) {
			migctl_uevent_close(mon);
			return cli_refuse(STAGE_OPEN, -ETIMEDOUT, "not ready after %g s",
					  a.timeout);
		}
		/* Any VFIO event may be the one: look again after each */
		do
			r = migctl_uevent_next(mon, (int)(left * 1000) + 1, &ev);
		while (r == 0 && !migctl_uevent_is_vfio(&ev));
		/* After lost events (-ENOBUFS) sysfs is looked at again, as after any */
		if (r && r != -ETIMEDOUT && r != -EAGAIN && r != -ENOBUFS) {
			migctl_uevent_close(mon);
			return cli_fail(STAGE_EVENTS, r, "reading kernel uevents");
		}
	}
	migctl_uevent_close(mon);

	out_init(cli.json, stdout);
	if (!cli.quiet || cli.json) {
		out_open_object(NULL);
		out_string("device", "%s", t.name);
		out_string("node", " ready at %s\n", t.node);
		out_close_object();
	}
	return cli_finish(0);
}

const struct cli_command cmd_wait = {
	"wait", run_wait,
	"wait until a device is there and bound to VFIO"
};
