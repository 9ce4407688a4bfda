// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl: the dispatcher.  The first positional argument names the
 * command; the rest of the command line goes to that command's own parser.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util.h"

const char *argp_program_version = "vfio-migctl " MIGCTL_VERSION;

static const struct cli_command *const commands[] = {
	&cmd_list,    &cmd_info, &cmd_state, &cmd_save,	   &cmd_resume, &cmd_reset,
	&cmd_inspect, &cmd_hold, &cmd_wait,  &cmd_monitor, &cmd_check,
};

static const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static error_t parse_root(int key, char *arg, struct argp_state *state)
{
	int *cmd_index = state->input;

	switch (key) {
	case ARGP_KEY_ARG:
		if (!find_command(arg))
			cli_usage("unknown command '%s'", arg);
		*cmd_index = state->next - 1;
		/* Everything after the command is the command's to parse */
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		cli_usage("no command given");
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* The command list in --help comes from the table */
static char *root_help_filter(int key, const char *text, void *input)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)input;
	if (key != ARGP_KEY_HELP_POST_DOC || !(f = open_memstream(&buf, &len)))
		return (char *)text;
	fprintf(f, "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\n%s", text);
	fclose(f);
	return buf;
}

static const struct argp root_argp = {
	.parser = parse_root,
	.args_doc = "COMMAND [ARGS...]",
	.doc = "Drive VFIO device migration (protocol v2) for one device.\v"
	       "DEV is /dev/vfio/devices/vfioN, /dev/vfio/N, a PCI address, an mdev UUID "
	       "or a sysfs path.  'vfio-migctl COMMAND --help' describes a command; "
	       "man vfio-migctl has the exit statuses.",
	.children = cli_global_children,
	.help_filter = root_help_filter,
};

int main(int argc, char **argv)
{
	const struct cli_command *cmd;
	int cmd_index = -1;

	cli_parse(&root_argp, ARGP_IN_ORDER, argc, argv, &cmd_index);
	cmd = find_command(argv[cmd_index]);
	cli.command = cmd->name;
	cli.no_from_pid = cmd->no_from_pid;
	return cmd->run(argc - cmd_index, argv + cmd_index);
}
