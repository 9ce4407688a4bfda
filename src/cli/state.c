// SPDX-License-Identifier: GPL-2.0-or-later
/* vfio-migctl state DEV [NEW]: print, plan or set the migration state */
#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "output.h"
#include "util.h"

struct state_args {
	const char *pos[2]; /* DEV, NEW */
	bool dry_run;
	bool step;
	bool force;
	enum migctl_state target;
};

enum { OPT_DRY_RUN = 0x200, OPT_STEP };

static const struct argp_option state_options[] = {
	{ "dry-run", OPT_DRY_RUN, NULL, 0, "Print the arcs the kernel would take, change nothing",
	  0 },
	{ "step", OPT_STEP, NULL, 0,
	  "Take the arcs one at a time, timing each and naming the one that fails", 0 },
	{ "force", OPT_FORCE, NULL, 0,
	  "Change the state of a device reached through --from-pid (a running "
	  "process's)",
	  0 },
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
	case OPT_FORCE:
		a->force = true;
		return 0;
	case ARGP_KEY_END:
		if (a->pos[1] && migctl_state_parse(a->pos[1], &a->target))
			cli_usage("unknown state '%s' (states: stop, running, stop_copy, "
				  "resuming, running_p2p, pre_copy, pre_copy_p2p)",
				  a->pos[1]);
		if (a->pos[1] && a->target == MIGCTL_STATE_ERROR)
			cli_usage("ERROR cannot be requested; use 'reset'");
		if ((a->dry_run || a->step) && !a->pos[1])
			cli_usage("--%s needs the NEW state", a->dry_run ? "dry-run" : "step");
		if (a->dry_run && a->step)
			cli_usage("--dry-run and --step exclude each other");
		break;
	}
	return cli_positionals(state, key, arg, a->pos, 1, 2);
}

static const struct argp state_argp = {
	.options = state_options,
	.parser = parse_state,
	.args_doc = "DEV [NEW]",
	.doc = "Print the device's migration state, or move it to NEW.\v"
	       "States: stop running stop_copy resuming running_p2p pre_copy pre_copy_p2p "
	       "(any case; '-' and '_' alike).  The kernel takes the shortest path of "
	       "single arcs; --dry-run shows it for this device's flags.",
	.children = cli_global_children,
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
static int transition_failed(struct migctl_dev *dev, enum migctl_state from, enum migctl_state to,
			     int err)
{
	enum migctl_state now;
	int status;

	if (migctl_get_state(dev, &now))
		now = MIGCTL_NR_STATES;
	status = cli_refuse(STAGE_TRANSITION, err, "%s -> %s failed: %s; device is now %s%s%s",
			    migctl_state_name(from), migctl_state_name(to),
			    cli_cause(STAGE_TRANSITION, err), migctl_state_name(now),
			    now == MIGCTL_STATE_ERROR ? "; " : "",
			    now == MIGCTL_STATE_ERROR ? cli_error_remedy() : "");
	return cli_status_for_state(status, now);
}

/* One SET per arc, so a failure names its arc and each arc is timed */
static int step_path(struct migctl_dev *dev, enum migctl_state cur, const enum migctl_state *path,
		     size_t len)
{
	double t0, ms;
	int r;

	out_open_array("arcs");
	for (size_t i = 0; i < len; i++) {
		t0 = monotonic_seconds();
		r = migctl_request_state(dev, path[i]);
		ms = (monotonic_seconds() - t0) * 1e3;
		if (r) {
			out_close_array();
			return transition_failed(dev, cur, path[i], r);
		}
		out_open_object(NULL);
		out_string("from", "%s", migctl_state_name(cur));
		out_string("to", " -> %s", migctl_state_name(path[i]));
		out_double("ms", "  %.3f ms\n", ms);
		out_close_object();
		cur = path[i];
	}
	out_close_array();
	return 0;
}

static int set_state(struct migctl_dev *dev, const struct state_args *a, uint64_t flags,
		     enum migctl_state cur)
{
	enum migctl_state path[MIGCTL_ARCS_MAX];
	size_t len;
	int status, r;

	if (!migctl_state_supported(flags, a->target))
		return cli_fail(STAGE_TRANSITION, -EOPNOTSUPP, "%s", migctl_state_name(a->target));
	if (cur == MIGCTL_STATE_ERROR)
		return cli_fail(STAGE_TRANSITION, -EBADFD, "%s", "");
	/*
	 * RESUMING -> STOP makes the driver load whatever was written, and a
	 * session opened by another process is gone (mtty oopses on it):
	 * the uAPI's abort for RESUMING is reset.
	 */
	if (cur == MIGCTL_STATE_RESUMING && a->target != MIGCTL_STATE_RESUMING && !a->dry_run)
		return cli_refuse(STAGE_TRANSITION, -EBUSY,
				  "device is RESUMING; leaving it by STOP would load a partial "
				  "stream: abort with 'vfio-migctl reset %s'",
				  cli.device);
	if (migctl_state_path(flags, cur, a->target, path, &len))
		return cli_refuse(STAGE_TRANSITION, -EINVAL,
				  "the kernel has no path from %s to %s; device left in %s",
				  migctl_state_name(cur), migctl_state_name(a->target),
				  migctl_state_name(cur));

	if (a->dry_run) {
		out_open_object(NULL);
		out_string("device", NULL, migctl_dev_desc(dev)->name);
		print_path(cur, path, len);
		out_close_object();
		return 0;
	}
	status = cli_may_change(dev, a->force, "changing its state");
	if (status)
		return status;

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
		char arcs[MIGCTL_ARCS_MAX * 16] = "";
		size_t used = 0;

		for (size_t i = 0; i < len; i++)
			used += (size_t)snprintf(arcs + used, sizeof(arcs) - used, " -> %s",
						 migctl_state_name(path[i]));
		cli_note("%s%s (the kernel's arcs)", migctl_state_name(cur), arcs);
	}
	r = migctl_request_state(dev, a->target);
	if (r)
		return transition_failed(dev, cur, a->target, r);
	out_open_object(NULL);
	out_string("device", NULL, migctl_dev_desc(dev)->name);
	out_string("from", "%s -> ", migctl_state_name(cur));
	out_string("to", NULL, migctl_state_name(a->target));
	out_string("state", "%s\n", migctl_state_name(a->target));
	out_close_object();
	return 0;
}

static int run_state(int argc, char **argv)
{
	struct state_args a = { .pos = { NULL, NULL } };
	struct migctl_dev *dev;
	enum migctl_state cur;
	uint64_t flags;
	int status, r;

	cli_parse(&state_argp, 0, argc, argv, &a);
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
		/* The state is printed; ERROR is also a status, with its remedy */
		if (cur == MIGCTL_STATE_ERROR)
			status = cli_fail(STAGE_QUERY, -EBADFD, "%s", "");
	}
	return cli_finish(cli_close_device(dev, status));
}

const struct cli_command cmd_state = {
	.name = "state",
	.run = run_state,
	.summary = "print or set the migration state",
	.no_from_pid = false,
};
