// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl state DEV [NEW]: print, plan or set the migration state;
 * state DEV DEV... NEW: move a set as one unit, through the P2P barrier
 */
#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "output.h"
#include "util.h"

struct state_args {
	const char *pos[CLI_SET_MAX + 1]; /* DEV..., NEW */
	size_t devices;			  /* how many of them are DEVs */
	const char *new_state;		  /* NULL: print the state */
	bool dry_run;
	bool step;
	bool force;
	bool no_barrier;
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
	{ "no-barrier", OPT_NO_BARRIER, NULL, 0, CLI_NO_BARRIER_DOC, 0 },
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
	case OPT_NO_BARRIER:
		a->no_barrier = true;
		return 0;
	case ARGP_KEY_END:
		while (a->devices < ARRAY_SIZE(a->pos) && a->pos[a->devices])
			a->devices++;
		/* The last word is the state when there are two or more */
		if (a->devices > 1)
			a->new_state = a->pos[--a->devices];
		if (a->new_state && migctl_state_parse(a->new_state, &a->target))
			cli_usage("unknown state '%s' (states: stop, running, stop_copy, "
				  "resuming, running_p2p, pre_copy, pre_copy_p2p)",
				  a->new_state);
		if (a->new_state && a->target == MIGCTL_STATE_ERROR)
			cli_usage("ERROR cannot be requested; use 'reset'");
		if ((a->dry_run || a->step) && !a->new_state)
			cli_usage("--%s needs the NEW state", a->dry_run ? "dry-run" : "step");
		if (a->dry_run && a->step)
			cli_usage("--dry-run and --step exclude each other");
		if (a->devices > 1 && (a->dry_run || a->step))
			cli_usage("--%s takes one device", a->dry_run ? "dry-run" : "step");
		if (a->devices > 1 && migctl_state_is_data(a->target))
			cli_usage("a set moves to stop, running or running_p2p, not %s",
				  migctl_state_name(a->target));
		break;
	}
	return cli_positionals(state, key, arg, a->pos, 1, CLI_SET_MAX + 1);
}

static const struct argp state_argp = {
	.options = state_options,
	.parser = parse_state,
	.args_doc = "DEV [NEW]\nDEV DEV... NEW",
	.doc = "Print the device's migration state, or move it (or a set of devices, as one "
	       "unit) to NEW.\v"
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

static int run_state_set(struct state_args *a)
{
	struct migctl_device_desc desc[CLI_SET_MAX];
	struct migctl_dev *dev[CLI_SET_MAX] = { 0 };
	struct migctl_set_move m[CLI_SET_MAX];
	enum migctl_state now;
	char where[CLI_SET_MAX * 64] = "";
	size_t which;
	int status, r;

	status = cli_resolve_devices(a->pos, a->devices, desc);
	if (!status)
		status = cli_open_descs(a->pos, a->devices, desc, a->force, "changing its state",
					dev);
	if (status)
		goto out;
	for (size_t i = 0; i < a->devices; i++)
		m[i] = (struct migctl_set_move){ .dev = dev[i] };
	r = migctl_set_move(m, a->devices, a->target, a->no_barrier, &which);
	out_init(cli.json, stdout);
	if (r) {
		/* Where every member ended: the unit is put back as a whole */
		for (size_t i = 0; i < a->devices; i++) {
			char one[64 + PATH_MAX];

			now = migctl_get_state(m[i].dev, &now) ? MIGCTL_NR_STATES : now;
			snprintf(one, sizeof(one), "%s %s%s", a->pos[i], migctl_state_name(now),
				 m[i].put_back_err ? " (not put back)" : "");
			str_list_add(where, sizeof(where), one);
		}
		cli.device = a->pos[which];
		status = cli_refuse(STAGE_TRANSITION, r, "%s -> %s failed: %s; the set is now: %s",
				    migctl_state_name(m[which].found), migctl_state_name(a->target),
				    cli_cause(STAGE_TRANSITION, r), where);
		status = cli_status_for_state(
			status, migctl_get_state(m[which].dev, &now) ? MIGCTL_NR_STATES : now);
		goto out;
	}
	out_open_object(NULL);
	out_open_array("devices");
	for (size_t i = 0; i < a->devices; i++) {
		out_open_object(NULL);
		out_string("device", "%s: ", a->pos[i]);
		out_string("from", "%s -> ", migctl_state_name(m[i].found));
		out_string("to", NULL, migctl_state_name(a->target));
		out_string("state", "%s\n", migctl_state_name(a->target));
		out_close_object();
	}
	out_close_array();
	out_close_object();
out:
	for (size_t i = 0; i < a->devices; i++)
		if (dev[i])
			status = cli_close_device(dev[i], status);
	return cli_finish(status);
}

static int run_state(int argc, char **argv)
{
	struct state_args a = { 0 };
	struct migctl_dev *dev;
	enum migctl_state cur;
	uint64_t flags;
	int status, r;

	cli_parse(&state_argp, 0, argc, argv, &a);
	if (a.devices > 1)
		return run_state_set(&a);
	status = cli_open_device(a.pos[0], &dev);
	if (status)
		return status;
	out_init(cli.json, stdout);

	r = migctl_mig_flags(dev, &flags);
	if (!r)
		r = migctl_get_state(dev, &cur);
	if (r) {
		status = cli_fail(STAGE_QUERY, r, "%s", "");
	} else if (a.new_state) {
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
