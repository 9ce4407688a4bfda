// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl wait DEV: until DEV exists, is bound to a VFIO driver and
 * has its /dev node.  Subscribe to uevents first, then look, then wait:
 * a device that appears between the look and the wait is not missed.
 */
#include <errno.h>
#include <limits.h>
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
	{ "timeout", OPT_TIMEOUT, "SECONDS", 0, "Give up after SECONDS (default 30)", 0 }, { 0 }
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
	.options = wait_options,
	.parser = parse_wait,
	.args_doc = "DEV",
	.doc = "Wait until DEV exists, is bound to a VFIO driver and its /dev node is "
	       "there.  Exits 0 when it is, 3 on timeout (saying what is missing).  A name "
	       "that can never become ready is refused at once: malformed or a shared "
	       "group (2), bound to another driver (3).  Opens nothing.",
	.children = cli_global_children,
};

/*
 * Look at DEV once.  Settled: ready (resolvable, bound to VFIO, node
 * present; *@status 0) or a name that can never become ready (malformed,
 * a shared group, bound to another driver; *@status the exit status, after
 * its one line).  Not settled: not yet, with the reason in @why.
 */
static bool look(const char *arg, struct migctl_device_desc *desc, char *why, size_t size,
		 int *status)
{
	int r = migctl_resolve(&cli.root, arg, cli.via, desc);

	*status = 0;
	switch (r) {
	case 0:
		if (migctl_desc_ready(desc))
			return true;
		snprintf(why, size, "its node %s is not there", desc->node);
		return false;
	case -ENOENT:
		snprintf(why, size, "no such device");
		return false;
	case -ENODEV:
		/* Bound to another driver, it stays there: nothing to wait for */
		if (desc->driver[0])
			break;
		snprintf(why, size, "not bound to a VFIO driver (no driver)");
		return false;
	case -ENXIO:
		snprintf(why, size, "it has no %s node yet",
			 cli.via == MIGCTL_VIA_CDEV ? "cdev" : "group");
		return false;
	}
	*status = cli_fail_resolve(r, desc);
	return true;
}

static int run_wait(int argc, char **argv)
{
	struct wait_args a = { .timeout = 30 };
	struct migctl_uevent_monitor *mon;
	struct migctl_device_desc desc;
	struct migctl_uevent ev;
	double deadline, left;
	char why[PATH_MAX + 64];
	int r, status;

	cli_parse(&wait_argp, 0, argc, argv, &a);
	cli.device = a.pos[0];
	r = migctl_uevent_open(&mon);
	if (r)
		return cli_fail(STAGE_EVENTS, r, "cannot listen to kernel uevents");
	cli_catch_signals();

	deadline = monotonic_seconds() + a.timeout;
	while (!look(a.pos[0], &desc, why, sizeof(why), &status)) {
		left = deadline - monotonic_seconds();
		if (left <= 0) {
			migctl_uevent_close(mon);
			return cli_refuse(STAGE_OPEN, -ETIMEDOUT, "not ready after %g s: %s",
					  a.timeout, why);
		}
		/* Any VFIO event may be the one: look again after each */
		do
			r = migctl_uevent_next(mon, (int)(left * 1000) + 1, &ev);
		while (r == 0 && !migctl_uevent_is_vfio(&ev));
		if (cli_cancel)
			r = -EINTR;
		/* After lost events (-ENOBUFS) sysfs is looked at again, as after any */
		if (r && r != -ETIMEDOUT && r != -EAGAIN && r != -ENOBUFS) {
			migctl_uevent_close(mon);
			return r == -EINTR ? cli_refuse(STAGE_EVENTS, r,
							"interrupted; not ready: %s", why) :
					     cli_fail(STAGE_EVENTS, r, "reading kernel uevents");
		}
	}
	migctl_uevent_close(mon);
	if (status)
		return status;

	out_init(cli.json, stdout);
	if (!cli.quiet || cli.json) {
		out_open_object(NULL);
		out_string("device", "%s", desc.name);
		out_string("node", " ready at %s\n", desc.node);
		out_close_object();
	}
	return cli_finish(0);
}

const struct cli_command cmd_wait = {
	.name = "wait",
	.run = run_wait,
	.summary = "wait until a device is there and bound to VFIO",
	.no_from_pid = true,
};
