// SPDX-License-Identifier: GPL-2.0-or-later
/* vfio-migctl state DEV [NEW]: print, plan or set the migration state */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"

struct state_args {
	const char *pos[2]; /* DEV, NEW */
	bool dry_run;
	bool step;
	enum migctl_state target;
};

enum { OPT_DRY_RUN = 0x200, OPT_STEP };

static const struct argp_option state_options[] = {
	{ "dry-run", OPT_DRY_RUN, NULL, 0,
	  "Print the arcs the kernel would take, change nothing", 0 },
	{ "step", OPT_STEP, NULL, 0,
	  "Take the arcs one at a time, timing each and naming the one that fails", 0 },
	{ 0 }
};

static error_t parse_state(int key, char *arg, struct argp_state *state)
{
	struct state_args *a = state->input;

	switch (key) {
	case OPT_DRY_RUN:
		a->dry_run = true;
		return 0;
	case OPT_STEP:
		a->step = true;
		return 0;
	case ARGP_KEY_END:
		if (a->pos[1] && cli_parse_state(a->pos[1], &a->target))
			cli_usage(state, "unknown state '%s'", a->pos[1]);
		if (a->pos[1] && a->target == MIGCTL_STATE_ERROR)
			cli_usage(state, "ERROR cannot be requested; use 'reset'");
		if ((a->dry_run || a->step) && !a->pos[1])
			cli_usage(state, "--%s needs the NEW state",
				   a->dry_run ? "dry-run" : "step");
		if (a->dry_run && a->step)
			cli_usage(state, "--dry-run and --step exclude each other");
		break;
	}
	return cli_positionals(state, key, arg, a->pos, 1, 2);
}

static const struct argp state_argp = {
	state_options, parse_state, "DEV [NEW]",
	"Print the device's migration state, or move it to NEW.\v"
	"States: stop running stop_copy resuming running_p2p pre_copy pre_copy_p2p "
	"(any case; '-' and '_' alike).  The kernel takes the shortest path of "
	"single arcs; --dry-run shows it for this device's flags.",
	cli_global_children, NULL, NULL
};

static void print_path(enum migctl_state from, const enum migctl_state *path, size_t len)
{
	out_string("from", "%s", migctl_state_name(from));
	out_string("to", NULL, migctl_state_name(len ? path[len - 1] : from));
	out_open_array("path");
	for (size_t i = 0; i < len; i++)
		out_string(NULL, " -> %s", migctl_state_name(path[i]));
	out_close_array();
	out_text("\n");
}

/* Report a failed SET: where the device ended up decides the status */
static int transition_failed(struct migctl_dev *dev, const char *arc, int err)
{
	enum migctl_state now;

	if (migctl_get_state(dev, &now))
		now = MIGCTL_NR_STATES;
	cli_error("%s failed: %s; device is now %s%s", arc, cli_cause(STAGE_TRANSITION, err),
		  migctl_state_name(now), now == MIGCTL_STATE_ERROR ? cli_remedy() : "");
	return now == MIGCTL_STATE_ERROR ? EXIT_DEVICE_ERROR : EXIT_TRANSITION;
}

/* Ask for one state; a data session nobody will read is closed at once */
static int request(struct migctl_dev *dev, enum migctl_state state)
{
	int fd, r;

	r = migctl_set_state(dev, state, &fd);
	if (fd >= 0)
		close(fd);
	return r;
}

/* One SET per arc, so a failure names its arc and each arc is timed */
static int step_path(struct migctl_dev *dev, enum migctl_state cur,
		     const enum migctl_state *path, size_t len)
{
	char arc[64];
	double t0, ms;
	int r;

	out_open_array("arcs");
	for (size_t i = 0; i < len; i++) {
		snprintf(arc, sizeof(arc), "%s -> %s", migctl_state_name(cur),
			 migctl_state_name(path[i]));
		t0 = cli_now();
		r = request(dev, path[i]);
		ms = (cli_now() - t0) * 1e3;
		if (r) {
			out_close_array();
			return transition_failed(dev, arc, r);
		}
		out_open_object(NULL);
		out_string("from", "%s", migctl_state_name(cur));
		out_string("to", " -> %s", migctl_state_name(path[i]));
		out_double("ms", "  %.3f ms\n", ms);
		out_close_object();
		cur = path[i];
	}
	out_close_array();
	return EXIT_OK;
}

static int set_state(struct migctl_dev *dev, const struct state_args *a,
		     uint64_t flags, enum migctl_state cur)
{
	enum migctl_state path[MIGCTL_ARCS_MAX];
	char arc[64];
	size_t len;
	int status, r;

	if (!migctl_state_supported(flags, a->target))
		return cli_fail(STAGE_TRANSITION, -EOPNOTSUPP, "%s",
				migctl_state_name(a->target));
	if (cur == MIGCTL_STATE_ERROR)
		return cli_fail(STAGE_TRANSITION, -EBADFD, "%s", "");
	/*
	 * RESUMING -> STOP makes the driver load whatever was written, and a
	 * session opened by another process is gone (mtty oopses on it):
	 * the uAPI's abort for RESUMING is reset.
	 */
	if (cur == MIGCTL_STATE_RESUMING && a->target != MIGCTL_STATE_RESUMING && !a->dry_run) {
		cli_error("device is RESUMING; leaving it by STOP would load a partial "
			  "stream: abort with 'vfio-migctl reset %s'", cli.device);
		return EXIT_TRANSITION;
	}
	if (migctl_state_path(flags, cur, a->target, path, &len)) {
		cli_error("the kernel has no path from %s to %s; device left in %s",
			  migctl_state_name(cur), migctl_state_name(a->target), migctl_state_name(cur));
		return EXIT_TRANSITION;
	}

	if (a->dry_run) {
		out_open_object(NULL);
		out_string("device", NULL, migctl_dev_desc(dev)->name);
		print_path(cur, path, len);
		out_close_object();
		return EXIT_OK;
	}

	if (a->step) {
		out_open_object(NULL);
		out_string("device", NULL, migctl_dev_desc(dev)->name);
		status = step_path(dev, cur, path, len);
		if (!status)
			out_string("state", NULL, migctl_state_name(a->target));
		out_close_object();
		return status;
	}

	if (cli.verbose) {
		fprintf(stderr, "vfio-migctl: state: %s: %s", cli.device, migctl_state_name(cur));
		for (size_t i = 0; i < len; i++)
			fprintf(stderr, " -> %s", migctl_state_name(path[i]));
		fprintf(stderr, " (the kernel's arcs)\n");
	}
	r = request(dev, a->target);
	if (r) {
		snprintf(arc, sizeof(arc), "%s -> %s", migctl_state_name(cur),
			 migctl_state_name(a->target));
		return transition_failed(dev, arc, r);
	}
	out_open_object(NULL);
	out_string("device", NULL, migctl_dev_desc(dev)->name);
	out_string("from", "%s -> ", migctl_state_name(cur));
	out_string("to", NULL, migctl_state_name(a->target));
	out_string("state", "%s\n", migctl_state_name(a->target));
	out_close_object();
	return EXIT_OK;
}

int cmd_state(int argc, char **argv)
{
	struct state_args a = { .pos = { NULL, NULL } };
	struct migctl_dev *dev;
	enum migctl_state cur;
	uint64_t flags;
	int status, r;

	cli_parse(&state_argp, argc, argv, &a);
	status = cli_open_device(a.pos[0], &dev);
	if (status)
		return status;
	out_init(cli.json, stdout);

	r = migctl_mig_flags(dev, &flags);
	if (!r)
		r = migctl_get_state(dev, &cur);
	if (r) {
		status = cli_fail(STAGE_QUERY, r, "%s", "");
	} else if (a.pos[1]) {
		status = set_state(dev, &a, flags, cur);
	} else {
		out_open_object(NULL);
		out_string("device", NULL, migctl_dev_desc(dev)->name);
		out_string("state", "%s\n", migctl_state_name(cur));
		out_close_object();
	}
	migctl_dev_close(dev);
	return cli_finish(status);
}
