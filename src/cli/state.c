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
	enum mig_state target;
};

enum { OPT_DRY_RUN = 0x200 };

static const struct argp_option state_options[] = {
	{ "dry-run", OPT_DRY_RUN, NULL, 0,
	  "Print the arcs the kernel would take, change nothing", 0 },
	{ 0 }
};

static error_t parse_state(int key, char *arg, struct argp_state *state)
{
	struct state_args *a = state->input;

	switch (key) {
	case OPT_DRY_RUN:
		a->dry_run = true;
		return 0;
	case ARGP_KEY_END:
		if (a->pos[1] && cli_parse_state(a->pos[1], &a->target))
			argp_error(state, "unknown state '%s'", a->pos[1]);
		if (a->pos[1] && a->target == MIG_ERROR)
			argp_error(state, "ERROR cannot be requested; use 'reset'");
		if (a->dry_run && !a->pos[1])
			argp_error(state, "--dry-run needs the NEW state");
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

static void print_path(enum mig_state from, const enum mig_state *path, size_t len)
{
	out_string("from", "%s", mig_state_name(from));
	out_string("to", NULL, mig_state_name(len ? path[len - 1] : from));
	out_open_array("path");
	for (size_t i = 0; i < len; i++)
		out_string(NULL, " -> %s", mig_state_name(path[i]));
	out_close_array();
	out_text("\n");
}

static int set_state(struct migctl_dev *dev, const struct state_args *a,
		     uint64_t flags, enum mig_state cur)
{
	enum mig_state path[MIG_PATH_MAX], now;
	size_t len;
	int fd, r;

	if (!mig_state_supported(flags, a->target))
		return cli_fail(STAGE_TRANSITION, -EOPNOTSUPP, "%s",
				mig_state_name(a->target));
	if (cur == MIG_ERROR)
		return cli_fail(STAGE_TRANSITION, -EBADFD, "%s", "");
	if (mig_state_path(flags, cur, a->target, path, &len)) {
		cli_error("the kernel has no path from %s to %s; device left in %s",
			  mig_state_name(cur), mig_state_name(a->target), mig_state_name(cur));
		return EXIT_TRANSITION;
	}

	if (a->dry_run) {
		out_open_object(NULL);
		out_string("device", NULL, migctl_dev_target(dev)->name);
		print_path(cur, path, len);
		out_close_object();
		return EXIT_OK;
	}

	r = migctl_set_state(dev, a->target, &fd);
	/* A data session nobody will read: closing it leaves the state as is */
	if (fd >= 0)
		close(fd);
	if (r) {
		if (migctl_get_state(dev, &now))
			now = MIG_NR_STATES;
		cli_error("%s -> %s failed: %s; device is now %s", mig_state_name(cur),
			  mig_state_name(a->target), cli_cause(STAGE_TRANSITION, r),
			  mig_state_name(now));
		return now == MIG_ERROR ? EXIT_DEVICE_ERROR : EXIT_TRANSITION;
	}
	out_open_object(NULL);
	out_string("device", NULL, migctl_dev_target(dev)->name);
	out_string("from", "%s -> ", mig_state_name(cur));
	out_string("to", NULL, mig_state_name(a->target));
	out_string("state", "%s\n", mig_state_name(a->target));
	out_close_object();
	return EXIT_OK;
}

int cmd_state(int argc, char **argv)
{
	struct state_args a = { .pos = { NULL, NULL } };
	struct migctl_dev *dev;
	enum mig_state cur;
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
		out_string("device", NULL, migctl_dev_target(dev)->name);
		out_string("state", "%s\n", mig_state_name(cur));
		out_close_object();
	}
	migctl_dev_close(dev);
	return cli_finish(status);
}
