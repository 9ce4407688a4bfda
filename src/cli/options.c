// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Options: the global ones every command accepts, the save/resume table's
 * parser, and the parsing of option values.
 *
 * argp runs without its own help and without its own error reports (its
 * err_stream is unset): getopt still words a bad option ("option '--v' is
 * ambiguous; possibilities: ..."), on one line prefixed like every error
 * because argv[0] is "vfio-migctl: <command>", and argp's two-line "Try
 * ... --help" and its --help that ignores a failed write are replaced.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

struct cli_globals cli = { .via = MIGCTL_VIA_AUTO };

enum { OPT_SYSROOT = 0x100, OPT_VIA, OPT_FROM_PID, OPT_USAGE };

static const struct argp_option global_options[] = {
	{ "json", 'j', NULL, 0, "JSON output", 0 },
	{ "quiet", 'q', NULL, 0, "No progress bar or summary", 0 },
	{ "verbose", 'v', NULL, 0, "Say what is opened and which arcs are taken", 0 },
	{ "sysroot", OPT_SYSROOT, "DIR", 0,
	  "Read sysfs and /dev under DIR (env VFIO_MIGCTL_SYSROOT)", 0 },
	{ "via", OPT_VIA, "cdev|group|auto", 0,
	  "Open the device through its cdev or its group (default: auto)", 0 },
	{ "from-pid", OPT_FROM_PID, "PID", 0,
	  "Do not open the device: act through the file process PID has open for it; "
	  "a change to the device also needs its command's force option (--force)",
	  0 },
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ NULL, '?', NULL, OPTION_ALIAS, NULL, -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 },
	{ "version", 'V', NULL, 0, "Print program version", -1 },
	{ 0 }
};

/* "vfio-migctl save" in help, whatever argv[0] says */
static const char *help_name(void)
{
	static char name[64];

	snprintf(name, sizeof(name), "vfio-migctl%s%s", cli.command ? " " : "",
		 cli.command ? cli.command : "");
	return name;
}

/* After --help or --version: exit, failing if stdout could not be written */
static void __attribute__((noreturn)) exit_after_output(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error("cannot write output: %s", strerror(errno));
		exit(EXIT_FAIL);
	}
	exit(EXIT_OK);
}

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		/* getopt reports bad options itself; argp adds nothing */
		state->err_stream = NULL;
		return 0;
	case ARGP_KEY_ERROR:
		/* getopt has said what was wrong, in one line */
		cli_usage(NULL);
	case 'h':
	case '?':
		argp_help(state->root_argp, stdout, ARGP_HELP_STD_HELP, (char *)help_name());
		exit_after_output();
	case OPT_USAGE:
		argp_help(state->root_argp, stdout, ARGP_HELP_USAGE, (char *)help_name());
		exit_after_output();
	case 'V':
		printf("%s\n", argp_program_version);
		exit_after_output();
	case 'j':
		cli.json = true;
		return 0;
	case 'q':
		cli.quiet = true;
		return 0;
	case 'v':
		cli.verbose = true;
		return 0;
	case OPT_SYSROOT:
		cli.sysroot = arg;
		return 0;
	case OPT_VIA:
		if (migctl_via_parse(arg, &cli.via))
			cli_usage("--via takes cdev, group or auto, not '%s'", arg);
		return 0;
	case OPT_FROM_PID:
		if (cli_parse_pid(arg, &cli.from_pid))
			cli_usage("--from-pid takes a process id, not '%s'", arg);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp global_argp = { .options = global_options, .parser = parse_global };

const struct argp_child cli_global_children[] = { { &global_argp, 0, "Global options:", 1 },
						  { 0 } };

void cli_parse(const struct argp *argp, unsigned int flags, int argc, char **argv, void *input)
{
	char name[64];
	int r;

	/* getopt names argv[0] in its messages: make them look like ours */
	snprintf(name, sizeof(name), "vfio-migctl%s%s", cli.command ? ": " : "",
		 cli.command ? cli.command : "");
	argv[0] = name;
	argp_parse(argp, argc, argv, flags | ARGP_NO_HELP, NULL, input);
	if (cli.from_pid && cli.no_from_pid)
		cli_usage("--from-pid is for the commands that act on one device");
	if (!cli.sysroot)
		cli.sysroot = getenv("VFIO_MIGCTL_SYSROOT");
	r = migctl_root_init(&cli.root, cli.sysroot);
	if (r == -ENOENT || r == -ENOTDIR)
		cli_usage("--sysroot %s: no sys directory there (want a root with sys/ and dev/)",
			  cli.sysroot);
	if (r)
		cli_usage("--sysroot: %s", strerror(-r));
}

error_t cli_positionals(struct argp_state *state, int key, char *arg, const char **slots, int min,
			int max)
{
	int n = 0;

	while (n < max && slots[n])
		n++;
	switch (key) {
	case ARGP_KEY_ARG:
		if (n == max)
			cli_usage("unexpected argument '%s'", arg);
		slots[n] = arg;
		return 0;
	case ARGP_KEY_END:
		if (n < min)
			cli_usage("missing DEV");
		return 0;
	default:
		(void)state;
		return ARGP_ERR_UNKNOWN;
	}
}

error_t cli_parse_dev(int key, char *arg, struct argp_state *state)
{
	return cli_positionals(state, key, arg, state->input, 1, 1);
}

void cli_parse_timeout(const char *arg, double *seconds)
{
	if (parse_duration(arg, seconds) || *seconds > 86400)
		cli_usage("--timeout takes seconds (0 to 86400; or with ms or s), not '%s'", arg);
}

int cli_parse_pid(const char *arg, int *pid)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] < '1' || arg[0] > '9' || n > INT_MAX)
		return -EINVAL;
	*pid = (int)n;
	return 0;
}
