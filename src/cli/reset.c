// SPDX-License-Identifier: GPL-2.0-or-later
/* vfio-migctl reset DEV: VFIO_DEVICE_RESET, the way out of ERROR */
#include <stdio.h>

#include "cli.h"
#include "output.h"

static const struct argp reset_argp = {
	NULL, cli_parse_dev, "DEV",
	"Reset the device.  Its migration state becomes RUNNING; this is the "
	"only way out of ERROR and the uAPI's abort for RESUMING.",
	cli_global_children, NULL, NULL
};

/* Devices without migration support have no state: NULL */
static const char *state_name(struct migctl_dev *dev)
{
	enum migctl_state state;

	return migctl_get_state(dev, &state) ? NULL : migctl_state_name(state);
}

static void print_state(const char *key, const char *fmt, const char *name)
{
	if (name)
		out_string(key, fmt, name);
	else
		out_null(key, "-");
}

static int run_reset(int argc, char **argv)
{
	const char *args[1] = { NULL };
	struct migctl_dev *dev;
	const char *before;
	int status, r;

	cli_parse(&reset_argp, 0, argc, argv, args);
	status = cli_open_device(args[0], &dev);
	if (status)
		return status;
	out_init(cli.json, stdout);

	before = state_name(dev);
	r = migctl_dev_reset(dev);
	if (r) {
		status = cli_fail(STAGE_TRANSITION, r, "reset failed");
	} else {
		out_open_object(NULL);
		out_string("device", NULL, migctl_dev_desc(dev)->name);
		print_state("before", "%s", before);
		out_text(" -> ");
		print_state("after", "%s", state_name(dev));
		out_text("\n");
		out_close_object();
	}
	migctl_dev_close(dev);
	return cli_finish(status);
}

const struct cli_command cmd_reset = {
	"reset", run_reset,
	"reset the device (the way out of ERROR)"
};
