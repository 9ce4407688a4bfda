// SPDX-License-Identifier: GPL-2.0-or-later
/* vfio-migctl reset DEV: VFIO_DEVICE_RESET, the way out of ERROR */
#include <stdio.h>

#include "cli.h"
#include "output.h"

struct reset_args {
	const char *pos[1]; /* DEV */
	bool force;
};

static const struct argp_option reset_options[] = {
	{ "force", OPT_FORCE, NULL, 0,
	  "Reset a device reached through --from-pid (a running process's) that is "
	  "not in ERROR",
	  0 },
	{ 0 }
};

static error_t parse_reset(int key, char *arg, struct argp_state *state)
{
	struct reset_args *a = state->input;

	if (key == OPT_FORCE) {
		a->force = true;
		return 0;
	}
	return cli_positionals(state, key, arg, a->pos, 1, 1);
}

static const struct argp reset_argp = {
	.options = reset_options,
	.parser = parse_reset,
	.args_doc = "DEV",
	.doc = "Reset the device.  Its migration state becomes RUNNING; this is the "
	       "only way out of ERROR and the uAPI's abort for RESUMING.",
	.children = cli_global_children,
};

/* Devices without migration support have no state: NULL.  @in_error is optional. */
static const char *state_name(struct migctl_dev *dev, bool *in_error)
{
	enum migctl_state state;

	if (migctl_get_state(dev, &state))
		return NULL;
	if (in_error)
		*in_error = state == MIGCTL_STATE_ERROR;
	return migctl_state_name(state);
}

static int run_reset(int argc, char **argv)
{
	struct reset_args a = { .pos = { NULL } };
	struct migctl_dev *dev;
	const char *before;
	bool in_error = false;
	int status, r;

	cli_parse(&reset_argp, 0, argc, argv, &a);
	status = cli_open_device(a.pos[0], &dev);
	if (status)
		return status;
	out_init(cli.json, stdout);

	before = state_name(dev, &in_error);
	/* Out of ERROR is the operator's case: the reset is the only way */
	if (!in_error)
		status = cli_may_change(dev, a.force, "a reset of a device not in ERROR");
	if (status)
		goto out;
	r = migctl_dev_reset(dev);
	if (r) {
		status = cli_fail(STAGE_TRANSITION, r, "reset failed");
	} else {
		out_open_object(NULL);
		out_string("device", NULL, migctl_dev_desc(dev)->name);
		out_string_or_null("before", "%s", before, "-");
		out_text(" -> ");
		out_string_or_null("after", "%s", state_name(dev, NULL), "-");
		out_text("\n");
		out_close_object();
	}
out:
	return cli_finish(cli_close_device(dev, status));
}

const struct cli_command cmd_reset = {
	.name = "reset",
	.run = run_reset,
	.summary = "reset the device (the way out of ERROR)",
	.no_from_pid = false,
};
