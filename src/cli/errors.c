// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The one place where a core error (-errno) becomes words and an exit
 * status.  The stage says what was being attempted: EINVAL from a device
 * name and EINVAL from a state change are different failures.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "vfio-migctl: ");
	if (cli.command)
		fprintf(stderr, "%s: ", cli.command);
	if (cli.device)
		fprintf(stderr, "%s: ", cli.device);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *cli_remedy(void)
{
	static char remedy[PATH_MAX + 64];

	snprintf(remedy, sizeof(remedy), "; recover it with 'vfio-migctl reset %s'",
		 cli.device ? cli.device : "DEV");
	return remedy;
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
	case STAGE_RESOLVE:
		return (err == -EINVAL || err == -ENOTUNIQ) ? EXIT_USAGE : EXIT_OPEN;
	case STAGE_OPEN:
		return EXIT_OPEN;
	case STAGE_QUERY:
		return (err == -ENOTTY || err == -EOPNOTSUPP) ? EXIT_UNSUPPORTED : EXIT_FAIL;
	case STAGE_TRANSITION:
		return (err == -ENOTTY || err == -EOPNOTSUPP) ? EXIT_UNSUPPORTED
							      : EXIT_TRANSITION;
	case STAGE_STREAM:
	case STAGE_OUTPUT:
		return EXIT_FAIL;
	}
	return EXIT_FAIL;
}

const char *cli_cause(enum cli_stage stage, int err)
{
	switch (err) {
	case -EBADFD:
		return "device is in ERROR state (recover it with 'vfio-migctl reset')";
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
		case -ENODEV:
			return "not bound to a VFIO driver";
		case -ENXIO:
			return "the device has no such VFIO interface";
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
	case STAGE_STREAM:
		switch (err) {
		case -EPIPE:
			return "the reader went away (broken pipe)";
		case -ENOSPC:
			return "no space left on device";
		}
		break;
	case STAGE_OUTPUT:
		break;
	}
	return strerror(-err);
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
