// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl: the argp root.  The first positional argument names the
 * command; the rest of the command line goes to that command's own parser.
 */
#include <argp.h>
#include <stdarg.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "output.h"

const char *argp_program_version = "vfio-migctl " MIGCTL_VERSION;

struct cli_globals cli = { .via = MIGCTL_VIA_AUTO };

static const struct cli_command commands[] = {
	{ "list", cmd_list, "list VFIO-bound devices (opens nothing)" },
	{ "info", cmd_info, "show a device's identity, migration flags and state" },
	{ "state", cmd_state, "print or set the migration state" },
	{ "save", cmd_save, "save the device's migration state to stdout or a file" },
	{ "resume", cmd_resume, "load a saved state into a device" },
	{ "reset", cmd_reset, "reset the device (the way out of ERROR)" },
	{ "inspect", cmd_inspect, "show what a saved stream holds, and verify it" },
	{ "hold", cmd_hold, "keep the device open while a command runs" },
	{ "wait", cmd_wait, "wait until a device is there and bound to VFIO" },
	{ "monitor", cmd_monitor, "print VFIO-related kernel uevents" },
};

enum { OPT_SYSROOT = 0x100, OPT_VIA, OPT_USAGE };

static const struct argp_option global_options[] = {
	{ "json", 'j', NULL, 0, "JSON output", 0 },
	{ "quiet", 'q', NULL, 0, "No progress bar or summary", 0 },
	{ "verbose", 'v', NULL, 0, "Say what is opened and which arcs are taken", 0 },
	{ "sysroot", OPT_SYSROOT, "DIR", 0,
	  "Read sysfs and /dev under DIR (env VFIO_MIGCTL_SYSROOT)", 0 },
	{ "via", OPT_VIA, "cdev|group|auto", 0,
	  "Open the device through its cdev or its group (default: auto)", 0 },
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 },
	{ "version", 'V', NULL, 0, "Print program version", -1 },
	{ 0 }
};

/*
 * argp runs with ARGP_NO_ERRS | ARGP_NO_HELP: its own messages end in a
 * "Try ... --help" line wrapped over two, where a script wants one line,
 * and its --help ignores a failed write.  These are the replacements.
 */
void cli_usage(const struct argp_state *state, const char *fmt, ...)
{
	va_list ap;

	(void)state;
	fflush(stdout);
	fprintf(stderr, "vfio-migctl: ");
	if (cli.command)
		fprintf(stderr, "%s: ", cli.command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see --help)\n");
	exit(EXIT_USAGE);
}

/* Help and version go to stdout; a failed write is a failure (> /dev/full) */
static void __attribute__((noreturn)) exit_after_output(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "vfio-migctl: cannot write output: %s\n", strerror(errno));
		exit(EXIT_FAIL);
	}
	exit(EXIT_OK);
}

static const struct argp_option *find_option(const struct argp *argp, const char *name,
					     int key)
{
	const struct argp_option *opt;

	for (opt = argp->options; opt && (opt->name || opt->key || opt->doc); opt++)
		if ((name && opt->name && strcmp(opt->name, name) == 0) ||
		    (!name && key && opt->key == key))
			return opt;
	for (const struct argp_child *c = argp->children; c && c->argp; c++)
		if ((opt = find_option(c->argp, name, key)))
			return opt;
	return NULL;
}

/* getopt refused argv[next - 1]: an unknown option, or one missing its value */
static void __attribute__((noreturn)) bad_option(const struct argp_state *state)
{
	const char *arg = state->argv[state->next - 1];
	char name[64];

	if (strncmp(arg, "--", 2) == 0) {
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
		if (find_option(state->root_argp, name, 0))
			cli_usage(state, "option '--%s' needs a value", name);
		cli_usage(state, "unknown option '--%s'", name);
	}
	/* A cluster like -qz: name the first letter that is not ours */
	for (const char *c = arg + 1; *c; c++) {
		const struct argp_option *opt = find_option(state->root_argp, NULL, *c);

		if (!opt)
			cli_usage(state, "unknown option '-%c'", *c);
		if (opt->arg)
			cli_usage(state, "option '-%c' needs a value", *c);
	}
	cli_usage(state, "bad option '%s'", arg);
}

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'h':
		argp_help(state->root_argp, stdout, ARGP_HELP_STD_HELP, state->name);
		exit_after_output();
	case OPT_USAGE:
		argp_help(state->root_argp, stdout, ARGP_HELP_USAGE, state->name);
		exit_after_output();
	case 'V':
		printf("%s\n", argp_program_version);
		exit_after_output();
	case ARGP_KEY_ERROR:
		bad_option(state);
	case 'j':
		cli.json = true;
		break;
	case 'q':
		cli.quiet = true;
		break;
	case 'v':
		cli.verbose = true;
		break;
	case OPT_SYSROOT:
		cli.sysroot = arg;
		break;
	case OPT_VIA:
		if (strcmp(arg, "cdev") == 0)
			cli.via = MIGCTL_VIA_CDEV;
		else if (strcmp(arg, "group") == 0)
			cli.via = MIGCTL_VIA_GROUP;
		else if (strcmp(arg, "auto") == 0)
			cli.via = MIGCTL_VIA_AUTO;
		else
			cli_usage(state, "--via takes cdev, group or auto, not '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cli_global_argp = { global_options, parse_global, NULL, NULL,
				      NULL, NULL, NULL };

const struct argp_child cli_global_children[] = {
	{ &cli_global_argp, 0, "Global options:", 1 },
	{ 0 }
};

static const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

struct root_args {
	int cmd_index;
};

static error_t parse_root(int key, char *arg, struct argp_state *state)
{
	struct root_args *args = state->input;

	switch (key) {
	case ARGP_KEY_ARG:
		if (!find_command(arg))
			cli_usage(state, "unknown command '%s'", arg);
		args->cmd_index = state->next - 1;
		/* Everything after the command is the command's to parse */
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		cli_usage(state, "no command given");
		return 0;
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
	if (key != ARGP_KEY_HELP_POST_DOC)
		return (char *)text;
	f = open_memstream(&buf, &len);
	if (!f)
		return (char *)text;
	fprintf(f, "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n%s", text);
	fclose(f);
	return buf;
}

static const struct argp root_argp = {
	NULL, parse_root, "COMMAND [ARGS...]",
	"Drive VFIO device migration (protocol v2) for one device.\v"
	"DEV is /dev/vfio/devices/vfioN, /dev/vfio/N, a PCI address, an mdev UUID "
	"or a sysfs path.  'vfio-migctl COMMAND --help' describes a command; "
	"man vfio-migctl has the exit statuses.",
	cli_global_children, root_help_filter, NULL
};

void cli_parse(const struct argp *argp, int argc, char **argv, void *input)
{
	int r;

	argp_parse(argp, argc, argv, ARGP_NO_ERRS | ARGP_NO_HELP, NULL, input);
	if (!cli.sysroot)
		cli.sysroot = getenv("VFIO_MIGCTL_SYSROOT");
	r = migctl_root_init(&cli.root, cli.sysroot);
	if (r) {
		cli_error("--sysroot: %s", strerror(-r));
		exit(EXIT_USAGE);
	}
}

error_t cli_positionals(struct argp_state *state, int key, char *arg,
			const char **slots, int min, int max)
{
	int n = 0;

	while (n < max && slots[n])
		n++;
	switch (key) {
	case ARGP_KEY_ARG:
		if (n == max)
			cli_usage(state, "unexpected argument '%s'", arg);
		slots[n] = arg;
		return 0;
	case ARGP_KEY_END:
		if (n < min)
			cli_usage(state, "missing DEV");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

int cli_finish(int status)
{
	int r = out_finish();

	if (r) {
		cli_error("cannot write output: %s", strerror(-r));
		return status ? status : EXIT_FAIL;
	}
	return status;
}

/* "in use by qemu-system-x86 (pid 1234)", when /proc tells who */
static int report_busy(const struct migctl_device_desc *t)
{
	struct migctl_holder holders[4];
	char who[256] = "";
	size_t n, used = 0;

	if (migctl_find_holders(&cli.root, t, holders, 4, &n) || n == 0)
		return cli_fail(STAGE_OPEN, -EBUSY, "cannot open %s", t->node);
	for (size_t i = 0; i < n && i < 4; i++)
		used += (size_t)snprintf(who + used, sizeof(who) - used, "%s%s (pid %d)",
					 i ? ", " : "", holders[i].comm, holders[i].pid);
	cli_error("cannot open %s: device is in use by %s%s", t->node, who,
		  n > 4 ? ", ..." : "");
	return EXIT_OPEN;
}

/*
 * A device held open by 'vfio-migctl hold' above us: use its fd, so that
 * the state it was left in is the state we find.
 */
static int adopt_held(struct migctl_device_desc *t, struct migctl_dev **dev, bool *held)
{
	const char *name = getenv(HOLD_ENV_DEVICE), *fd = getenv(HOLD_ENV_FD);
	const char *via = getenv(HOLD_ENV_VIA);
	char *end;
	long n;
	int r;

	*held = false;
	if (!name || !fd || strcmp(name, t->name) != 0)
		return EXIT_OK;
	n = strtol(fd, &end, 10);
	if (*end || n < 0 || n > INT_MAX) {
		cli_error("%s=%s is not a file descriptor", HOLD_ENV_FD, fd);
		return EXIT_OPEN;
	}
	if (via)
		t->via = strcmp(via, "group") == 0 ? MIGCTL_VIA_GROUP : MIGCTL_VIA_CDEV;
	r = migctl_dev_adopt(t, (int)n, dev);
	if (r)
		return cli_fail(STAGE_OPEN, r, "the held device (fd %ld)", n);
	if (cli.verbose)
		fprintf(stderr, "vfio-migctl: %s: using the held device (fd %ld)\n",
			t->name, n);
	*held = true;
	return EXIT_OK;
}

int cli_resolve_device(const char *arg, struct migctl_device_desc *t)
{
	int r;

	cli.device = arg;
	r = migctl_resolve(&cli.root, arg, cli.via, t);
	switch (r) {
	case 0:
		return EXIT_OK;
	case -ENODEV:
		if (t->driver[0])
			cli_error("not bound to a VFIO driver (bound to %s)", t->driver);
		else
			cli_error("not bound to a VFIO driver (no driver)");
		return EXIT_OPEN;
	case -ENOTUNIQ: {
		char list[MIGCTL_CANDIDATES_MAX * (MIGCTL_NAME_MAX + 2)] = "";

		for (size_t i = 0; i < t->n_candidates && i < MIGCTL_CANDIDATES_MAX; i++) {
			strcat(list, i ? ", " : "");
			strcat(list, t->candidates[i]);
		}
		cli_error("the group holds %zu devices (%s%s); name one of them",
			  t->n_candidates, list,
			  t->n_candidates > MIGCTL_CANDIDATES_MAX ? ", ..." : "");
		return EXIT_USAGE;
	}
	case -ENXIO:
		cli_error("%s has no %s interface", t->name,
			  cli.via == MIGCTL_VIA_CDEV ? "iommufd cdev" : "VFIO group");
		return EXIT_OPEN;
	default:
		return cli_fail(STAGE_RESOLVE, r, "%s", "");
	}
}

int cli_open_target(struct migctl_device_desc *t, struct migctl_dev **dev)
{
	static const char *const via_names[] = {
		[MIGCTL_VIA_AUTO] = "auto",
		[MIGCTL_VIA_CDEV] = "cdev",
		[MIGCTL_VIA_GROUP] = "group",
	};
	bool held;
	int r;

	r = adopt_held(t, dev, &held);
	if (r || held)
		return r;
	if (cli.verbose)
		fprintf(stderr, "vfio-migctl: %s: opening %s via %s\n", t->name, t->node,
			via_names[t->via]);
	r = migctl_dev_open(&cli.root, t, dev);
	if (r == -EBUSY)
		return report_busy(t);
	if (r)
		return cli_fail(STAGE_OPEN, r, "cannot open %s", t->node);
	return EXIT_OK;
}

int cli_open_device(const char *arg, struct migctl_dev **dev)
{
	struct migctl_device_desc t;
	int status = cli_resolve_device(arg, &t);

	return status ? status : cli_open_target(&t, dev);
}

int cli_parse_state(const char *arg, enum migctl_state *state)
{
	return migctl_state_parse(arg, state);
}

int cli_parse_size(const char *arg, size_t *size)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || arg[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 'G': case 'g':
		v <<= 10;
		/* fallthrough */
	case 'M': case 'm':
		v <<= 10;
		/* fallthrough */
	case 'K': case 'k':
		v <<= 10;
		end++;
		break;
	}
	if (*end || v == 0 || v > MIGCTL_MAX_BUFFER)
		return -EINVAL;
	*size = (size_t)v;
	return 0;
}

int cli_parse_on_error(const char *arg, enum migctl_on_error *policy)
{
	if (strcmp(arg, "restore") == 0)
		*policy = MIGCTL_ON_ERROR_RESTORE;
	else if (strcmp(arg, "reset") == 0)
		*policy = MIGCTL_ON_ERROR_RESET;
	else if (strcmp(arg, "leave") == 0)
		*policy = MIGCTL_ON_ERROR_LEAVE;
	else
		return -EINVAL;
	return 0;
}

void format_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

int main(int argc, char **argv)
{
	struct root_args args = { .cmd_index = -1 };
	const struct cli_command *cmd;
	char name[64];

	/* Errors and help name "vfio-migctl", however it was called */
	argv[0] = (char *)"vfio-migctl";
	argp_parse(&root_argp, argc, argv, ARGP_IN_ORDER | ARGP_NO_ERRS | ARGP_NO_HELP,
		   NULL, &args);

	cmd = find_command(argv[args.cmd_index]);
	cli.command = cmd->name;

	/* "vfio-migctl save" names the command in its --help and errors */
	snprintf(name, sizeof(name), "vfio-migctl %s", cmd->name);
	argv[args.cmd_index] = name;
	return cmd->run(argc - args.cmd_index, argv + args.cmd_index);
}
