// SPDX-License-Identifier: GPL-2.0-or-later
/* vfio-migctl info DEV: identity, migration flags, state, estimates */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "output.h"

static const struct argp info_argp = {
	.parser = cli_parse_dev,
	.args_doc = "DEV",
	.doc = "Show a device's identity, migration flags, state and estimates.",
	.children = cli_global_children,
};

static void print_identity(const struct migctl_device_desc *t)
{
	char id[16];

	out_string("device", "device:      %s\n", t->name);
	out_string("bus", "bus:         %s\n", migctl_bus_name(t->bus));
	out_string("driver", "driver:      %s\n", t->driver);
	if (t->bus == MIGCTL_BUS_MDEV) {
		out_string("mdev_type", "mdev type:   %s\n", t->mdev_type);
		out_string("parent", "parent:      %s\n", t->parent);
	} else {
		out_null("mdev_type", NULL);
	}
	if (t->bus == MIGCTL_BUS_PCI) {
		snprintf(id, sizeof(id), "%04x:%04x", t->vendor, t->device);
		out_string("id", "id:          %s", id);
		snprintf(id, sizeof(id), "%04x:%04x", t->subsystem_vendor, t->subsystem_device);
		out_string("subsystem_id", " (subsystem %s)\n", id);
	}
	if (t->group >= 0)
		out_int("group", "group:       %" PRId64 "\n", t->group);
	else
		out_null("group", "group:       none\n");
	if (t->cdev[0])
		out_string("cdev", "cdev:        %s\n", t->cdev);
	else
		out_null("cdev", "cdev:        none\n");
	out_string("via", "opened via:  %s\n", t->via == MIGCTL_VIA_CDEV ? "cdev" : "group");
	out_string("node", "node:        %s\n", t->node);
}

/* --from-pid: whose file, and how it was used */
static void print_origin(const struct migctl_dev *dev)
{
	struct migctl_origin o;

	if (!migctl_dev_origin(dev, &o)) {
		out_null("from_pid", NULL);
		return;
	}
	out_open_object("from_pid");
	out_int("pid", "from pid:    %" PRId64, o.holder.pid);
	out_string("comm", " (%s)", o.holder.comm);
	out_int("fd", ", its fd %" PRId64, o.fd);
	out_close_object();
	out_text(": %s\n", cli_origin_words(migctl_dev_desc(dev)->via));
}

static void print_states(uint64_t flags)
{
	out_open_array("states");
	out_text("states:     ");
	for (int s = MIGCTL_STATE_STOP; s < MIGCTL_NR_STATES; s++)
		if (migctl_state_supported(flags, s))
			out_string(NULL, " %s", migctl_state_name(s));
	out_text("\n");
	out_close_array();
}

static int print_migration(struct migctl_dev *dev)
{
	char names[64];
	uint64_t flags, size;
	enum migctl_state state;
	bool dma, reinit;
	int r;

	r = migctl_mig_flags(dev, &flags);
	if (r == -ENOTTY || r == -EOPNOTSUPP) {
		/* Every key is there, null, as the man page promises */
		out_null("migration", "migration:   not supported\n");
		out_null("state", NULL);
		out_null("pre_copy", NULL);
		out_null("data_size", NULL);
		out_null("dma_logging", NULL);
		out_null("precopy_reinit", NULL);
		return 0;
	}
	if (r)
		return cli_fail(STAGE_QUERY, r, "reading migration flags");

	migctl_flags_format(flags, names, sizeof(names));
	out_open_object("migration");
	out_uint("flags", NULL, flags);
	out_text("migration:   %s (0x%llx)\n", names, (unsigned long long)flags);
	out_open_array("flag_names");
	for (unsigned int bit = 0; bit < 64; bit++)
		if (flags & (1ull << bit)) {
			char one[32];

			migctl_flags_format(1ull << bit, one, sizeof(one));
			out_string(NULL, NULL, one);
		}
	out_close_array();
	print_states(flags);
	out_close_object();

	r = migctl_get_state(dev, &state);
	if (r)
		return cli_fail(STAGE_QUERY, r, "reading the migration state");
	out_string("state", "state:       %s\n", migctl_state_name(state));

	/* Features a driver or kernel does not offer are a fact, not an error */
	out_bool("pre_copy", NULL, flags & MIGCTL_FLAG_PRE_COPY);
	out_text("pre-copy:    %s\n", flags & MIGCTL_FLAG_PRE_COPY ? "offered" : "not offered");
	r = migctl_data_size(dev, &size);
	if (r == 0)
		out_uint("data_size", "data size:   %" PRIu64 " bytes (estimate)\n", size);
	else if (r == -ENOTTY || r == -EOPNOTSUPP || r == -EINVAL)
		out_null("data_size", "data size:   not offered (no MIG_DATA_SIZE)\n");
	else
		out_null("data_size", "data size:   unknown\n");

	r = migctl_dma_logging_supported(dev, &dma);
	if (r)
		return cli_fail(STAGE_QUERY, r, "probing DMA logging");
	out_bool("dma_logging", "dma logging: %s\n", dma);

	/* Re-initialization is a PRE_COPY feature: nothing to say without it */
	if (!(flags & MIGCTL_FLAG_PRE_COPY)) {
		out_null("precopy_reinit", NULL);
	} else {
		r = migctl_precopy_reinit_supported(dev, &reinit);
		if (r)
			return cli_fail(STAGE_QUERY, r, "probing PRE_COPY re-initialization");
		out_bool("precopy_reinit", NULL, reinit);
		out_text("reinit:      %s\n",
			 reinit ? "offered (PRE_COPY initial data may be re-sent, Linux 7.1)" :
				  "not offered");
	}

	if (state == MIGCTL_STATE_ERROR)
		out_text("note:        device is in ERROR; %s\n", cli_error_remedy());
	return 0;
}

static int run_info(int argc, char **argv)
{
	const char *args[1] = { NULL };
	struct migctl_dev_info info;
	struct migctl_dev *dev;
	int status, r;

	cli_parse(&info_argp, 0, argc, argv, args);
	status = cli_open_device(args[0], &dev);
	if (status)
		return status;

	out_init(cli.json, stdout);
	r = migctl_dev_info(dev, &info);
	if (r) {
		status = cli_fail(STAGE_QUERY, r, "reading device info");
		goto out;
	}
	out_open_object(NULL);
	print_identity(migctl_dev_desc(dev));
	print_origin(dev);
	out_string("kind", "kind:        %s\n", migctl_dev_kind(info.flags));
	out_bool("reset", "reset:       %s\n", info.flags & MIGCTL_DEV_RESET);
	status = print_migration(dev);
	out_close_object();
out:
	return cli_finish(cli_close_device(dev, status));
}

const struct cli_command cmd_info = {
	.name = "info",
	.run = run_info,
	.summary = "show a device's identity, migration flags and state",
	.no_from_pid = false,
};
