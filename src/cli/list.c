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
	{ "probe", OPT_PROBE, NULL, 0,
	  "Open each device to add its migration flags and state", 0 },
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
		cli_usage(state, "unexpected argument '%s'", arg);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp list_argp = {
	list_options, parse_list, NULL,
	"List devices bound to a VFIO driver.  Nothing is opened unless --probe.",
	cli_global_children, NULL, NULL
};

static void print_probe(const struct migctl_device_desc *t)
{
	struct migctl_dev *dev;
	enum migctl_state state;
	char flags[64];
	uint64_t mig;
	int r;

	r = migctl_dev_open(&cli.root, t, &dev);
	if (r) {
		out_string("probe_error", " %s\n", cli_cause(STAGE_OPEN, r));
		return;
	}
	if (migctl_mig_flags(dev, &mig) == 0) {
		migctl_flags_format(mig, flags, sizeof(flags));
		out_uint("migration_flags", NULL, mig);
		out_text(" %-24s", flags);
		if (migctl_get_state(dev, &state) == 0)
			out_string("state", " %s\n", migctl_state_name(state));
		else
			out_null("state", " -\n");
	} else {
		out_null("migration_flags", " -");
		out_null("state", " -\n");
	}
	migctl_dev_close(dev);
}

static void print_device(const struct migctl_device_desc *t, bool probe)
{
	char vendor[8], device[8], id[16];

	out_open_object(NULL);
	out_string("name", "%-36s", t->name);
	out_string("bus", NULL, migctl_bus_name(t->bus));
	out_string("driver", " %-12s", t->driver[0] ? t->driver : "-");
	if (t->group >= 0)
		out_int("group", " %-5" PRId64, t->group);
	else
		out_null("group", " -    ");
	if (t->cdev[0])
		out_string("cdev", " %-8s", t->cdev);
	else
		out_null("cdev", " -       ");
	if (t->bus == MIGCTL_BUS_PCI) {
		snprintf(vendor, sizeof(vendor), "0x%04x", t->vendor);
		snprintf(device, sizeof(device), "0x%04x", t->device);
		snprintf(id, sizeof(id), "%04x:%04x", t->vendor, t->device);
		out_string("vendor", NULL, vendor);
		out_string("device", NULL, device);
	} else {
		out_null("vendor", NULL);
		out_null("device", NULL);
		snprintf(id, sizeof(id), "-");
	}
	out_text(" %-9s", id);
	/* The last column is not padded unless --probe adds more */
	if (t->mdev_type[0])
		out_string("mdev_type", probe ? " %-10s" : " %s", t->mdev_type);
	else
		out_null("mdev_type", probe ? " -         " : " -");
	if (probe)
		print_probe(t);
	else
		out_text("\n");
	out_close_object();
}

int cmd_list(int argc, char **argv)
{
	struct list_args a = { 0 };
	struct migctl_device_desc *targets;
	size_t count;
	int r;

	cli_parse(&list_argp, argc, argv, &a);
	r = migctl_list(&cli.root, &targets, &count);
	if (r)
		return cli_fail(STAGE_RESOLVE, r, "reading %s", cli.root.sys);

	out_init(cli.json && !a.names, stdout);
	if (a.names) {
		for (size_t i = 0; i < count; i++)
			out_text("%s\n", targets[i].name);
	} else {
		out_open_object(NULL);
		out_open_array("devices");
		out_text("%-36s %-12s %-5s %-8s %-9s %s\n", "DEVICE", "DRIVER", "GROUP",
			 "CDEV", "ID",
			 a.probe ? "TYPE       MIGRATION                STATE" : "TYPE");
		for (size_t i = 0; i < count; i++)
			print_device(&targets[i], a.probe);
		out_close_array();
		out_close_object();
	}
	free(targets);
	return cli_finish(EXIT_OK);
}
