// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl list: VFIO-bound devices as sysfs shows them.  Opening a
 * device may reset it, so only --probe opens anything.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "output.h"

struct list_args {
	bool probe;
	bool names;
};

enum { OPT_PROBE = 0x200, OPT_NAMES };

static const struct argp_option list_options[] = {
	{ "probe", OPT_PROBE, NULL, 0, "Open each device to add its migration flags and state", 0 },
	{ "names", OPT_NAMES, NULL, 0, "Print only device names, one per line", 0 },
	{ 0 }
};

static error_t parse_list(int key, char *arg, struct argp_state *state)
{
	struct list_args *a = state->input;

	switch (key) {
	case OPT_PROBE:
		a->probe = true;
		return 0;
	case OPT_NAMES:
		a->names = true;
		return 0;
	case ARGP_KEY_ARG:
		cli_usage("unexpected argument '%s'", arg);
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp list_argp = {
	.options = list_options,
	.parser = parse_list,
	.doc = "List devices bound to a VFIO driver.  Nothing is opened unless --probe.",
	.children = cli_global_children,
};

/* The MIGRATION and STATE columns: what opening the device tells */
static void print_probe(const struct migctl_device_desc *desc)
{
	struct migctl_dev *dev;
	enum migctl_state state;
	char flags[64];
	uint64_t mig;
	int r;

	r = migctl_dev_open(&cli.root, desc, &dev);
	if (r) {
		out_cell_null("migration_flags", "-");
		out_cell_null("state", "-");
		out_string("probe_error", NULL, cli_cause(STAGE_OPEN, r));
		/* After STATE, the last column: a long reason shifts nothing */
		out_cell_text(cli_cause(STAGE_OPEN, r));
		return;
	}
	if (migctl_mig_flags(dev, &mig) == 0) {
		migctl_flags_format(mig, flags, sizeof(flags));
		out_uint("migration_flags", NULL, mig);
		out_cell_text(flags);
		if (migctl_get_state(dev, &state) == 0)
			out_cell("state", migctl_state_name(state));
		else
			out_cell_null("state", "-");
	} else {
		out_cell_null("migration_flags", "-");
		out_cell_null("state", "-");
	}
	migctl_dev_close(dev);
}

static void print_device(const struct migctl_device_desc *desc, bool probe)
{
	char hex[8], id[16] = "-";

	out_row_open();
	out_cell("name", desc->name);
	out_string("bus", NULL, migctl_bus_name(desc->bus));
	if (desc->driver[0])
		out_cell("driver", desc->driver);
	else
		out_cell_null("driver", "-");
	if (desc->group >= 0)
		out_cell_int("group", desc->group);
	else
		out_cell_null("group", "-");
	if (desc->cdev[0])
		out_cell("cdev", desc->cdev);
	else
		out_cell_null("cdev", "-");
	if (desc->bus == MIGCTL_BUS_PCI) {
		snprintf(hex, sizeof(hex), "0x%04x", desc->vendor);
		out_string("vendor", NULL, hex);
		snprintf(hex, sizeof(hex), "0x%04x", desc->device);
		out_string("device", NULL, hex);
		snprintf(id, sizeof(id), "%04x:%04x", desc->vendor, desc->device);
	} else {
		out_null("vendor", NULL);
		out_null("device", NULL);
	}
	out_cell_text(id);
	if (desc->mdev_type[0])
		out_cell("mdev_type", desc->mdev_type);
	else
		out_cell_null("mdev_type", "-");
	if (probe)
		print_probe(desc);
	out_row_close();
}

static int run_list(int argc, char **argv)
{
	static const char *const headers[] = {
		"DEVICE", "DRIVER", "GROUP", "CDEV", "ID", "TYPE", "MIGRATION", "STATE", "PROBE",
	};
	struct list_args a = { 0 };
	struct migctl_device_desc *descs;
	size_t count;
	int r;

	cli_parse(&list_argp, 0, argc, argv, &a);
	r = migctl_list(&cli.root, &descs, &count);
	if (r)
		return cli_fail(STAGE_RESOLVE, r, "reading %s", cli.root.sys);

	out_init(cli.json && !a.names, stdout);
	if (a.names) {
		for (size_t i = 0; i < count; i++)
			out_text("%s\n", descs[i].name);
	} else {
		out_open_object(NULL);
		/* --probe adds MIGRATION, STATE and, when a device could not be opened, PROBE */
		out_table_open("devices", headers, a.probe ? 9 : 6);
		for (size_t i = 0; i < count; i++)
			print_device(&descs[i], a.probe);
		out_table_close();
		out_close_object();
	}
	free(descs);
	return cli_finish(0);
}

const struct cli_command cmd_list = {
	.name = "list",
	.run = run_list,
	.summary = "list VFIO-bound devices (opens nothing)",
	.no_from_pid = true,
};
