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
			cli_usage(state, "missing DEV");
		if (!a->cmd)
			cli_usage(state, "missing the command to run");
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp hold_argp = {
	NULL, parse_hold, "DEV -- CMD [ARGS...]",
	"Open DEV once and run CMD with it held open.  Every vfio-migctl run "
	"inside CMD that names the same device uses the held one, so state set "
	"by one command is found by the next.  Exits with CMD's status.\v"
	"The device is passed down as " HOLD_ENV_FD ", " HOLD_ENV_DEVICE " and "
	HOLD_ENV_VIA ".  When CMD ends, a device left mid-migration is brought "
	"out of its data state (RESUMING by reset) and the final state is reported.",
	cli_global_children, NULL, NULL
};

static pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static int run(char **cmd)
{
	struct sigaction fwd = { .sa_handler = forward }, ign = { .sa_handler = SIG_IGN };
	struct sigaction old_int, old_quit;
	int status;

	/* Like system(): the terminal's ^C goes to CMD; we wait for it */
	sigemptyset(&fwd.sa_mask);
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigaction(SIGTERM, &fwd, NULL);
	sigaction(SIGHUP, &fwd, NULL);

	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		execvp(cmd[0], cmd);
		cli_error("cannot run %s: %s", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* The state to leave a data state by, without losing anything */
static int leave_data_state(struct migctl_dev *dev, enum migctl_state *state)
{
	static const enum migctl_state way_out[MIGCTL_NR_STATES] = {
		[MIGCTL_STATE_STOP_COPY] = MIGCTL_STATE_STOP,
		[MIGCTL_STATE_PRE_COPY] = MIGCTL_STATE_RUNNING,
		[MIGCTL_STATE_PRE_COPY_P2P] = MIGCTL_STATE_RUNNING_P2P,
	};
	int fd, r;

	if (!migctl_state_is_data(*state))
		return 0;
	/* RESUMING has no exit but reset: STOP would load half a stream */
	if (*state == MIGCTL_STATE_RESUMING)
		r = migctl_dev_reset(dev);
	else if ((r = migctl_set_state(dev, way_out[*state], &fd)) == 0 && fd >= 0)
		close(fd);
	if (r)
		return r;
	return migctl_get_state(dev, state);
}

int cmd_hold(int argc, char **argv)
{
	struct hold_args a = { .pos = { NULL } };
	const struct migctl_device_desc *t;
	struct migctl_dev *dev;
	enum migctl_state state;
	char fd[16];
	int status, cmd_status, r;

	cli_parse(&hold_argp, argc, argv, &a);
	status = cli_open_device(a.pos[0], &dev);
	if (status)
		return status;
	t = migctl_dev_desc(dev);

	/* The one descriptor CMD inherits; the rest stay close-on-exec */
	snprintf(fd, sizeof(fd), "%d", migctl_dev_fd(dev));
	fcntl(migctl_dev_fd(dev), F_SETFD, 0);
	setenv(HOLD_ENV_FD, fd, 1);
	setenv(HOLD_ENV_DEVICE, t->name, 1);
	setenv(HOLD_ENV_VIA, t->via == MIGCTL_VIA_GROUP ? "group" : "cdev", 1);

	cmd_status = run(a.cmd);
	if (cmd_status < 0) {
		migctl_dev_close(dev);
		return cli_fail(STAGE_OPEN, cmd_status, "cannot run %s", a.cmd[0]);
	}

	out_init(cli.json, stderr);
	r = migctl_get_state(dev, &state);
	if (!r)
		r = leave_data_state(dev, &state);
	if (r && r != -ENOTTY) {
		cli_fail(STAGE_TRANSITION, r, "releasing the device");
		migctl_dev_close(dev);
		return cmd_status ? cmd_status : EXIT_TRANSITION;
	}
	if (!cli.quiet || cli.json) {
		out_open_object(NULL);
		out_string("device", "vfio-migctl: hold: %s: released", t->name);
		out_int("status", NULL, cmd_status);
		if (r)
			out_null("state", "\n");
		else
			out_string("state", " in %s\n", migctl_state_name(state));
		out_close_object();
	}
	migctl_dev_close(dev);
	status = cli_finish(EXIT_OK);
	return cmd_status ? cmd_status : status;
}
