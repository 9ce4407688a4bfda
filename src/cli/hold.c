// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl hold DEV -- CMD [ARGS...]: keep one open file on the device
 * while CMD runs.  Many drivers reset the migration state when the device
 * file is closed, so a sequence of commands only works on one open file;
 * every vfio-migctl inside CMD naming the same device uses this one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "util.h"

struct hold_args {
	const char *pos[1];
	char **cmd;
};

static error_t parse_hold(int key, char *arg, struct argp_state *state)
{
	struct hold_args *a = state->input;

	switch (key) {
	case ARGP_KEY_ARG:
		if (!a->pos[0]) {
			a->pos[0] = arg;
			return 0;
		}
		/* Everything from here on is the command and its own options */
		a->cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		return 0;
	case ARGP_KEY_END:
		if (!a->pos[0])
			cli_usage("missing DEV");
		if (!a->cmd)
			cli_usage("missing the command to run");
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp hold_argp = {
	.parser = parse_hold,
	.args_doc = "DEV -- CMD [ARGS...]",
	.doc = "Open DEV once and run CMD with it held open.  Every vfio-migctl run "
	       "inside CMD that names the same device uses the held one, so state set "
	       "by one command is found by the next.  Exits with CMD's status.\v"
	       "The device is passed down as VFIO_MIGCTL_HOLD_FD, VFIO_MIGCTL_HOLD_DEVICE "
	       "and VFIO_MIGCTL_HOLD_VIA; a command checks that the descriptor is the device's file "
	       "before it uses it.  When CMD ends, a device left mid-migration is brought "
	       "out of its data state (RESUMING by reset) and the final state is reported.",
	.children = cli_global_children,
};

static pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/*
 * Run CMD and wait for it: its status, or -errno when it could not be
 * started (*exec_err: why exec failed in the child, told over a pipe that
 * a successful exec closes, so that the one line about it is ours).
 */
static int run(char **cmd, int *exec_err)
{
	struct sigaction fwd = { .sa_handler = forward }, ign = { .sa_handler = SIG_IGN };
	struct sigaction old_int, old_quit;
	int status, report[2], err = 0;
	ssize_t n;

	*exec_err = 0;
	if (pipe2(report, O_CLOEXEC) < 0)
		return -errno;
	/* Like system(): the terminal's ^C goes to CMD; we wait for it */
	sigemptyset(&fwd.sa_mask);
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigaction(SIGTERM, &fwd, NULL);
	sigaction(SIGHUP, &fwd, NULL);

	child = fork();
	if (child < 0) {
		err = -errno;
		close(report[0]);
		close(report[1]);
		return err;
	}
	if (child == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		close(report[0]);
		execvp(cmd[0], cmd);
		err = errno;
		/* The parent says what failed: this status is never seen */
		while (write(report[1], &err, sizeof(err)) < 0 && errno == EINTR)
			;
		_exit(EXIT_CMD_NOT_FOUND);
	}
	close(report[1]);
	do
		n = read(report[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == sizeof(err))
		*exec_err = -err;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* CMD could not be run (then: what became of the device); a shell's status */
static int fail_exec(const char *cmd, int err, const char *then)
{
	cli_error("cannot run %s: %s; %s", cmd, strerror(-err), then);
	return err == -ENOENT ? EXIT_CMD_NOT_FOUND : EXIT_CMD_NOT_RUNNABLE;
}

static int run_hold(int argc, char **argv)
{
	struct hold_args a = { .pos = { NULL } };
	struct migctl_holder holders[4];
	struct migctl_device_desc desc;
	struct migctl_origin origin;
	struct migctl_dev *dev;
	enum migctl_state state;
	char held[256] = "", who[240], released[64];
	int status, cmd_status, exec_err, closed, r;
	size_t n_held, n;
	bool theirs;

	/* In order: the first word after DEV starts CMD, its options are its own */
	cli_parse(&hold_argp, ARGP_IN_ORDER, argc, argv, &a);
	status = cli_open_device(a.pos[0], &dev);
	if (status)
		return status;
	desc = *migctl_dev_desc(dev);

	cli_hold_export(dev);
	cmd_status = run(a.cmd, &exec_err);
	if (cmd_status < 0) {
		migctl_dev_close(dev);
		return cli_fail(STAGE_RUN, cmd_status, "cannot run %s", a.cmd[0]);
	}

	out_init(cli.json, stderr);
	theirs = migctl_dev_origin(dev, &origin);
	r = migctl_get_state(dev, &state);
	/* A running process's device is left as found: a data state may be its migration */
	if (!r && !theirs)
		r = migctl_leave_data_state(dev, &state);
	if (r && r != -ENOTTY) {
		status = cli_close_device(dev,
					  cli_fail(STAGE_TRANSITION, r, "releasing the device"));
		return cmd_status ? cmd_status : status;
	}
	closed = cli_close_device(dev, 0);
	/* Who else still has the device open after CMD: a background process */
	n_held = cli_find_holders(&desc, holders, ARRAY_SIZE(holders), &n);
	if (n_held) {
		cli_holders_words(holders, n_held, who, sizeof(who));
		snprintf(held, sizeof(held), "; still held by %s", who);
	}
	snprintf(released, sizeof(released), "released%s%s", r ? "" : " in ",
		 r ? "" : migctl_state_name(state));

	if (exec_err) {
		cmd_status = fail_exec(a.cmd[0], exec_err, released);
	} else if (cli.json) {
		out_open_object(NULL);
		out_string("device", NULL, desc.name);
		out_int("status", NULL, cmd_status);
		out_string_or_null("state", NULL, r ? NULL : migctl_state_name(state), NULL);
		out_open_array("held_by");
		for (size_t i = 0; i < n_held; i++) {
			out_open_object(NULL);
			out_int("pid", NULL, holders[i].pid);
			out_string("comm", NULL, holders[i].comm);
			out_close_object();
		}
		out_close_array();
		out_close_object();
	} else if (!cli.quiet || n_held) {
		cli_note("%s%s", released, held);
	}
	status = cli_finish(closed);
	return cmd_status ? cmd_status : status;
}

const struct cli_command cmd_hold = {
	.name = "hold",
	.run = run_hold,
	.summary = "keep the device open while a command runs",
	.no_from_pid = false,
};
