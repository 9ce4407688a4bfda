// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The one map from an error to words and an exit status: the printer, the
 * status of a stage and an error, the causes and the remedies.  The stage
 * says what was being attempted: EINVAL from a device name and EINVAL from
 * a state change are different failures.  Every line starts "vfio-migctl:
 * COMMAND: DEV: ", and every status is one of the map's (the contract is
 * the man page's EXIT STATUS).  A message only one command says is worded
 * in that command's file, from these pieces.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "outfile.h"
#include "output.h"
#include "util.h"

static const char *error_context;

void cli_error_context(const char *context)
{
	error_context = context;
}

static void __attribute__((format(printf, 3, 0)))
vline(bool with_device, const char *context, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "vfio-migctl: ");
	if (cli.command)
		fprintf(stderr, "%s: ", cli.command);
	if (with_device && cli.device)
		fprintf(stderr, "%s: ", cli.device);
	vfprintf(stderr, fmt, ap);
	if (context)
		fprintf(stderr, "; %s", context);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(true, error_context, fmt, ap);
	va_end(ap);
}

void cli_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(true, NULL, fmt, ap);
	va_end(ap);
}

void cli_usage(const char *fmt, ...)
{
	va_list ap;

	/* NULL: getopt has already printed the line */
	if (fmt) {
		va_start(ap, fmt);
		vline(false, NULL, fmt, ap);
		va_end(ap);
	}
	exit(EXIT_USAGE);
}

int cli_exit_status(enum cli_stage stage, int err)
{
	/* Errors that mean the same thing wherever they come from */
	switch (err) {
	case 0:
		return EXIT_OK;
	case -EBADFD:
		return EXIT_DEVICE_ERROR;
	case -EBADMSG:
	case -ENODATA:
		return EXIT_STREAM;
	case -EINTR:
		return EXIT_INTERRUPTED;
	}

	switch (stage) {
	case STAGE_USAGE:
		return EXIT_USAGE;
	case STAGE_RESOLVE:
		return (err == -EINVAL || err == -ENOTUNIQ) ? EXIT_USAGE : EXIT_OPEN;
	case STAGE_OPEN:
		return EXIT_OPEN;
	case STAGE_QUERY:
	case STAGE_TRANSITION:
		if (err == -ENOTTY || err == -EOPNOTSUPP)
			return EXIT_UNSUPPORTED;
		/* A migration session someone else opened (or left) makes it busy */
		if (err == -EBUSY && stage == STAGE_QUERY)
			return EXIT_OPEN;
		return stage == STAGE_QUERY ? EXIT_FAIL : EXIT_TRANSITION;
	case STAGE_STREAM:
	case STAGE_INPUT:
	case STAGE_OUTPUT:
	case STAGE_EVENTS:
	case STAGE_RUN:
		break;
	}
	return EXIT_FAIL;
}

/* Where a device ended up can override the status: ERROR is its own (6) */
int cli_status_for_state(int status, enum migctl_state now)
{
	return now == MIGCTL_STATE_ERROR ? EXIT_DEVICE_ERROR : status;
}

const char *cli_device_arg(void)
{
	return cli.device ? cli.device : "DEV";
}

/* The one spelling of the way out of ERROR */
const char *cli_error_remedy(void)
{
	static char remedy[PATH_MAX + 64];

	snprintf(remedy, sizeof(remedy), "recover it with 'vfio-migctl reset %s'",
		 cli_device_arg());
	return remedy;
}

const char *cli_cause(enum cli_stage stage, int err)
{
	static char buf[PATH_MAX + 96];

	switch (err) {
	case -EBADFD:
		snprintf(buf, sizeof(buf), "device is in ERROR; %s", cli_error_remedy());
		return buf;
	case -EINTR:
		return "interrupted";
	case -ENODATA:
		return "stream is empty";
	}

	switch (stage) {
	case STAGE_RESOLVE:
		switch (err) {
		case -ENOENT:
			return "no such device";
		case -EINVAL:
			return "not a device name (want /dev/vfio/devices/vfioN, "
			       "/dev/vfio/N, a PCI address, an mdev UUID or a sysfs path)";
		}
		break;
	case STAGE_OPEN:
		switch (err) {
		case -EBUSY:
			return "device is in use (already open elsewhere)";
		case -EACCES:
		case -EPERM:
			return "permission denied";
		case -ENOENT:
			return "device node does not exist";
		case -ENODEV:
			return "not a VFIO device, or its group is not viable";
		}
		break;
	case STAGE_QUERY:
	case STAGE_TRANSITION:
		switch (err) {
		case -ENOTTY:
			return "device has no migration support";
		case -EOPNOTSUPP:
			return "not supported by this device";
		case -EBUSY:
			return "device is in a data state (a migration session is open)";
		}
		break;
	case STAGE_OUTPUT:
		switch (err) {
		case -EPIPE:
			return "the reader went away (broken pipe)";
		case -ENOSPC:
			return "no space left on device";
		case -EEXIST:
			return "exists; use --force to replace it";
		case -EINVAL:
			return "not a regular file, FIFO or character device: refused";
		case -ENOLINK:
			return "a symlink to nothing: refused, with or without --force "
			       "(name the file itself)";
		case -ESTALE:
			return "no longer the file that was checked (it was replaced "
			       "meanwhile): not replaced";
		}
		break;
	case STAGE_USAGE:
	case STAGE_STREAM:
	case STAGE_INPUT:
	case STAGE_EVENTS:
	case STAGE_RUN:
		break;
	}
	return strerror(-err);
}

const char *cli_output_cause(int err, const struct outfile *of)
{
	switch (err) {
	case -EEXIST:
		/* --force replaces only what it checked, never what appears later */
		if (of->flags & OUTFILE_REPLACE)
			return "appeared during the save: not replaced";
		break;
	case -EACCES:
		if (of->symlink)
			return "permission denied following the symlink (fs.protected_symlinks: "
			       "in a sticky world-writable directory, only the link's owner or "
			       "the directory's may follow it)";
		break;
	}
	return cli_cause(STAGE_OUTPUT, err);
}

int cli_fail(enum cli_stage stage, int err, const char *what, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, what);
	vsnprintf(buf, sizeof(buf), what, ap);
	va_end(ap);
	if (buf[0])
		cli_error("%s: %s", buf, cli_cause(stage, err));
	else
		cli_error("%s", cli_cause(stage, err));
	return cli_exit_status(stage, err);
}

int cli_refuse(enum cli_stage stage, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(true, error_context, fmt, ap);
	va_end(ap);
	return cli_exit_status(stage, err);
}

int cli_fail_resolve(int err, const struct migctl_device_desc *desc)
{
	char list[MIGCTL_CANDIDATES_MAX * (MIGCTL_NAME_MAX + 2)] = "";
	size_t used = 0;

	switch (err) {
	case -ENODEV:
		return cli_refuse(STAGE_OPEN, err, "not bound to a VFIO driver (%s%s)",
				  desc->driver[0] ? "bound to " : "no driver", desc->driver);
	case -ENOTUNIQ:
		for (size_t i = 0; i < desc->n_candidates && i < MIGCTL_CANDIDATES_MAX; i++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 i ? ", " : "", desc->candidates[i]);
		return cli_refuse(STAGE_RESOLVE, err,
				  "the group holds %zu devices (%s%s); name one of them",
				  desc->n_candidates, list,
				  desc->n_candidates > MIGCTL_CANDIDATES_MAX ? ", ..." : "");
	case -ENXIO:
		if (desc->via == MIGCTL_VIA_CDEV)
			return cli_refuse(STAGE_OPEN, err,
					  "no iommufd cdev (the kernel has none for this "
					  "device); name it by its group, address or UUID");
		return cli_refuse(STAGE_OPEN, err, "no VFIO group node for this device");
	}
	return cli_fail(STAGE_RESOLVE, err, "%s", "");
}

int cli_fail_stream(int err, const char *reason, bool not_framed, bool resuming)
{
	const char *device = resuming ? "; device unchanged" : "";

	if (err != -EBADMSG)
		return cli_fail(STAGE_INPUT, err, "reading the stream");
	return cli_refuse(STAGE_STREAM, err, "%s%s%s", reason,
			  not_framed && resuming ? "; for a bare kernel stream use --raw" : "",
			  device);
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
