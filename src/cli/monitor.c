// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl monitor: VFIO-related kernel uevents as they happen, one
 * line each, or JSON Lines with --json, until interrupted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "output.h"

struct monitor_args {
	double timeout; /* 0: until interrupted */
};

enum { OPT_TIMEOUT = 0x400 };

static const struct argp_option monitor_options[] = {
	{ "timeout", OPT_TIMEOUT, "SECONDS", 0, "Stop after SECONDS", 0 },
	{ 0 }
};

static error_t parse_monitor(int key, char *arg, struct argp_state *state)
{
	struct monitor_args *a = state->input;

	switch (key) {
	case OPT_TIMEOUT:
		return cli_parse_timeout(arg, &a->timeout, state);
	case ARGP_KEY_ARG:
		cli_usage(state, "unexpected argument '%s'", arg);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp monitor_argp = {
	monitor_options, parse_monitor, NULL,
	"Print VFIO-related kernel uevents (devices, groups, cdevs, mdevs, "
	"binds to VFIO drivers) until interrupted.  With --json, one JSON "
	"object per line.",
	cli_global_children, NULL, NULL
};

static int print_event(const struct migctl_uevent *ev)
{
	out_open_object(NULL);
	out_uint("seqnum", NULL, ev->seqnum);
	out_string("action", "%-7s", ev->action);
	out_string("subsystem", " %-9s", ev->subsystem);
	out_string("devpath", " %s", ev->devpath);
	if (ev->devname[0])
		out_string("devname", " /dev/%s", ev->devname);
	else
		out_null("devname", NULL);
	if (ev->driver[0])
		out_string("driver", " driver=%s", ev->driver);
	else
		out_null("driver", NULL);
	if (ev->mdev_type[0])
		out_string("mdev_type", " type=%s", ev->mdev_type);
	out_text("\n");
	out_close_object();
	/* Each event is its own line: a reader sees it now, not at exit */
	return out_finish();
}

int cmd_monitor(int argc, char **argv)
{
	struct monitor_args a = { 0 };
	struct migctl_uevent_monitor *mon;
	struct migctl_uevent ev;
	double deadline;
	int r, status = EXIT_OK;

	cli_parse(&monitor_argp, argc, argv, &a);
	r = migctl_uevent_open(&mon);
	if (r)
		return cli_fail(STAGE_OPEN, r, "cannot listen to kernel uevents");
	cli_catch_signals();
	out_init(cli.json, stdout);
	out_set_compact(true);

	deadline = a.timeout > 0 ? cli_now() + a.timeout : 0;
	while (!cli_cancel) {
		int wait_ms = -1;

		if (deadline) {
			double left = deadline - cli_now();

			if (left <= 0)
				break;
			wait_ms = (int)(left * 1000) + 1;
		}
		r = migctl_uevent_next(mon, wait_ms, &ev);
		if (r == -ETIMEDOUT || r == -EAGAIN || (r == -EINTR && cli_cancel))
			continue;
		if (r) {
			status = cli_fail(STAGE_STREAM, r, "reading kernel uevents");
			break;
		}
		if (!migctl_uevent_is_vfio(&ev))
			continue;
		if (print_event(&ev)) {
			status = cli_finish(EXIT_FAIL);
			break;
		}
	}
	migctl_uevent_close(mon);
	return status;
}
