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
#include "util.h"

struct monitor_args {
	double timeout; /* 0: until interrupted */
};

static const struct argp_option monitor_options[] = {
	{ "timeout", OPT_TIMEOUT, "SECONDS", 0, "Stop after SECONDS", 0 }, { 0 }
};

static error_t parse_monitor(int key, char *arg, struct argp_state *state)
{
	struct monitor_args *a = state->input;

	switch (key) {
	case OPT_TIMEOUT:
		cli_parse_timeout(arg, &a->timeout);
		return 0;
	case ARGP_KEY_ARG:
		cli_usage("unexpected argument '%s'", arg);
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp monitor_argp = {
	.options = monitor_options,
	.parser = parse_monitor,
	.doc = "Print VFIO-related kernel uevents (devices, groups, cdevs, mdevs, "
	       "binds to VFIO drivers) until interrupted.  With --json, one JSON "
	       "object per line.",
	.children = cli_global_children,
};

static void print_event(const struct migctl_uevent *ev)
{
	out_open_object(NULL);
	out_uint("seqnum", NULL, ev->seqnum);
	out_string("action", "%-7s", ev->action);
	out_string("subsystem", " %-9s", ev->subsystem);
	out_string("devpath", " %s", ev->devpath);
	out_string_or_null("devname", " /dev/%s", ev->devname[0] ? ev->devname : NULL, NULL);
	out_string_or_null("driver", " driver=%s", ev->driver[0] ? ev->driver : NULL, NULL);
	out_string_or_null("mdev_type", " type=%s", ev->mdev_type[0] ? ev->mdev_type : NULL, NULL);
	out_text("\n");
	out_close_object();
}

/*
 * The kernel sent more than the socket could hold: say so in the stream,
 * in the shape of an event, so that a reader knows its picture has a hole.
 */
static void print_overrun(void)
{
	out_open_object(NULL);
	out_null("seqnum", NULL);
	out_string("action", "%-7s", "overrun");
	out_null("subsystem", NULL);
	out_null("devpath", NULL);
	out_null("devname", NULL);
	out_null("driver", NULL);
	out_null("mdev_type", NULL);
	out_text(
		" events were lost (receive buffer overrun); 'vfio-migctl list' shows what is there now\n");
	out_close_object();
}

static int run_monitor(int argc, char **argv)
{
	struct monitor_args a = { 0 };
	struct migctl_uevent_monitor *mon;
	struct migctl_uevent ev;
	double deadline;
	int r, status = 0;

	cli_parse(&monitor_argp, 0, argc, argv, &a);
	r = migctl_uevent_open(&mon);
	if (r)
		return cli_fail(STAGE_EVENTS, r, "cannot listen to kernel uevents");
	cli_catch_signals();
	out_init(cli.json, stdout);
	out_set_compact(true);

	deadline = a.timeout > 0 ? monotonic_seconds() + a.timeout : 0;
	while (!cli_cancel) {
		int wait_ms = -1;

		if (deadline) {
			double left = deadline - monotonic_seconds();

			if (left <= 0)
				break;
			wait_ms = (int)(left * 1000) + 1;
		}
		r = migctl_uevent_next(mon, wait_ms, &ev);
		if (r == -ETIMEDOUT || r == -EAGAIN || (r == -EINTR && cli_cancel))
			continue;
		if (r && r != -ENOBUFS) {
			status = cli_fail(STAGE_EVENTS, r, "reading kernel uevents");
			break;
		}
		if (r == -ENOBUFS)
			print_overrun();
		else if (migctl_uevent_is_vfio(&ev))
			print_event(&ev);
		else
			continue;
		/* Each event is its own line: a reader sees it now, not at exit */
		status = cli_finish(0);
		if (status)
			break;
	}
	migctl_uevent_close(mon);
	/* Interrupted is 130, as for every command; --timeout's end is 0 */
	if (!status && cli_cancel)
		status = cli_refuse(STAGE_EVENTS, -EINTR, "interrupted");
	return status;
}

const struct cli_command cmd_monitor = {
	.name = "monitor",
	.run = run_monitor,
	.summary = "print VFIO-related kernel uevents",
	.no_from_pid = true,
};
