// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * From a DEV argument to an open device: the resolver, the open, both
 * halves of the hold protocol (a device 'hold' keeps open is passed down
 * to the commands it runs, which use it instead of opening their own),
 * and --from-pid (the file a running process has open, taken from it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

/* How 'hold' passes its open device down to the commands it runs */
#define HOLD_ENV_FD "VFIO_MIGCTL_HOLD_FD"
#define HOLD_ENV_DEVICE "VFIO_MIGCTL_HOLD_DEVICE"
#define HOLD_ENV_VIA "VFIO_MIGCTL_HOLD_VIA"
/* 'hold --from-pid': the commands go through that process's file too */
#define HOLD_ENV_FROM_PID "VFIO_MIGCTL_HOLD_FROM_PID"

void cli_hold_export(struct migctl_dev *dev)
{
	const struct migctl_device_desc *desc = migctl_dev_desc(dev);
	struct migctl_origin origin;
	char fd[16], pid[16];

	/* The one descriptor the command inherits; the rest stay close-on-exec */
	snprintf(fd, sizeof(fd), "%d", migctl_dev_fd(dev));
	fcntl(migctl_dev_fd(dev), F_SETFD, 0);
	setenv(HOLD_ENV_FD, fd, 1);
	setenv(HOLD_ENV_DEVICE, desc->name, 1);
	setenv(HOLD_ENV_VIA, migctl_via_name(desc->via), 1);
	if (migctl_dev_origin(dev, &origin)) {
		snprintf(pid, sizeof(pid), "%d", origin.holder.pid);
		setenv(HOLD_ENV_FROM_PID, pid, 1);
	} else {
		unsetenv(HOLD_ENV_FROM_PID);
	}
}

/* A descriptor 'hold' passed down (in @env) that cannot be used */
static int fail_held(int err, const char *env, long fd)
{
	switch (err) {
	case -ESTALE:
		return cli_refuse(STAGE_OPEN, err,
				  "%s=%ld is not this device's file (another "
				  "device's, or no VFIO device's): refused",
				  env, fd);
	case -EBADF:
		return cli_refuse(STAGE_OPEN, err, "%s=%ld is not an open file", env, fd);
	}
	return cli_fail(STAGE_OPEN, err, "the held device (fd %ld)", fd);
}

/*
 * A device held open by 'vfio-migctl hold' above us: use its fd, so that
 * the state it was left in is the state we find.  A hold that took its
 * file from another process (--from-pid) makes us take ours from there
 * too, with the same care (changes need --force).
 */
static int adopt_held(struct migctl_device_desc *desc, struct migctl_dev **dev, bool *held)
{
	const char *name = getenv(HOLD_ENV_DEVICE), *fd = getenv(HOLD_ENV_FD);
	const char *via = getenv(HOLD_ENV_VIA), *from = getenv(HOLD_ENV_FROM_PID);
	char *end;
	long n;
	int r;

	*held = false;
	if (!name || !fd || strcmp(name, desc->name) != 0 || cli.from_pid)
		return 0;
	if (from) {
		if (cli_parse_pid(from, &cli.from_pid))
			return cli_refuse(STAGE_OPEN, -EINVAL, "%s=%s is not a process id",
					  HOLD_ENV_FROM_PID, from);
		return 0;
	}
	n = strtol(fd, &end, 10);
	if (*end || end == fd || n < 0 || n > INT_MAX)
		return cli_refuse(STAGE_OPEN, -EBADF, "%s=%s is not a file descriptor", HOLD_ENV_FD,
				  fd);
	if (via && migctl_via_parse(via, &desc->via))
		desc->via = MIGCTL_VIA_CDEV;
	r = migctl_dev_adopt(&cli.root, desc, (int)n, dev);
	if (r)
		return fail_held(r, HOLD_ENV_FD, n);
	if (cli.verbose)
		cli_note("using the held device (fd %ld)", n);
	*held = true;
	return 0;
}

int cli_resolve_device(const char *arg, struct migctl_device_desc *desc)
{
	int r;

	cli.device = arg;
	r = migctl_resolve(&cli.root, arg, cli.via, desc);
	return r ? cli_fail_resolve(r, desc) : 0;
}

size_t cli_find_holders(const struct migctl_device_desc *desc, struct migctl_holder *holders,
			size_t max, size_t *count)
{
	if (migctl_find_holders(&cli.root, desc, holders, max, count))
		*count = 0;
	return *count < max ? *count : max;
}

void cli_holders_words(const struct migctl_holder *holders, size_t shown, char *buf, size_t size)
{
	char one[sizeof(holders->comm) + 32];

	buf[0] = '\0';
	for (size_t i = 0; i < shown; i++) {
		snprintf(one, sizeof(one), "%s (pid %d)", holders[i].comm, holders[i].pid);
		str_list_add(buf, size, one);
	}
}

/* "in use by qemu-system-x86 (pid 1234)", when /proc tells who */
static int report_busy(const struct migctl_device_desc *desc)
{
	struct migctl_holder holders[4];
	size_t n, shown = cli_find_holders(desc, holders, ARRAY_SIZE(holders), &n);
	char who[256];

	if (n == 0)
		return cli_fail(STAGE_OPEN, -EBUSY, "cannot open %s", desc->node);
	cli_holders_words(holders, shown, who, sizeof(who));
	return cli_refuse(STAGE_OPEN, -EBUSY,
			  "cannot open %s: device is in use by %s%s; --from-pid %d acts through "
			  "its open file",
			  desc->node, who, n > shown ? ", ..." : "", holders[0].pid);
}

/* --from-pid @pid failed with @err: no such process, no file of the device, permission */
static int fail_from_pid(int err, int pid)
{
	switch (err) {
	case -ESRCH:
		return cli_refuse(STAGE_OPEN, err,
				  "--from-pid %d: no such process (or it has "
				  "exited)",
				  pid);
	case -ENODEV:
		return cli_refuse(STAGE_OPEN, err,
				  "--from-pid %d: that process has not opened "
				  "this device (by its cdev, or through its group)",
				  pid);
	case -EACCES:
	case -EPERM:
		return cli_refuse(STAGE_OPEN, err,
				  "--from-pid %d: permission denied; taking "
				  "its files needs ptrace access (its user, or CAP_SYS_PTRACE)",
				  pid);
	case -ENOSYS:
		return cli_refuse(STAGE_OPEN, err,
				  "--from-pid %d: this kernel cannot take "
				  "another process's file (pidfd_getfd needs Linux 5.6)",
				  pid);
	case -EOPNOTSUPP:
		return cli_refuse(
			STAGE_OPEN, err,
			"--from-pid %d: it holds the device's group, "
			"but this kernel does not say which device its device files are "
			"(fdinfo's vfio-device-syspath, Linux 6.18), and a new one from the "
			"group could be the device's first open (a reset): refused",
			pid);
	case -ESTALE:
		return cli_refuse(STAGE_OPEN, err,
				  "--from-pid %d: its file for the device was "
				  "closed or replaced while being taken: nothing was done",
				  pid);
	}
	return cli_fail(STAGE_OPEN, err, "--from-pid %d", pid);
}

static int take_from_pid(const struct migctl_device_desc *desc, struct migctl_dev **dev)
{
	const struct migctl_device_desc *used;
	struct migctl_origin origin;
	int r;

	/* --via, if given, says which of the holder's files may be used */
	r = migctl_dev_from_pid(&cli.root, desc, cli.from_pid, cli.via, dev);
	if (r)
		return fail_from_pid(r, cli.from_pid);
	used = migctl_dev_desc(*dev);
	if (cli.verbose && migctl_dev_origin(*dev, &origin))
		cli_note("using fd %d of %s (pid %d), %s: %s", origin.fd, origin.holder.comm,
			 origin.holder.pid, used->node, cli_origin_words(used->via));
	return 0;
}

int cli_open_desc(struct migctl_device_desc *desc, struct migctl_dev **dev)
{
	bool held;
	int r;

	r = adopt_held(desc, dev, &held);
	if (r || held)
		return r;
	if (cli.from_pid)
		return take_from_pid(desc, dev);
	if (cli.verbose)
		cli_note("opening %s via %s", desc->node, migctl_via_name(desc->via));
	r = migctl_dev_open(&cli.root, desc, dev);
	if (r == -EBUSY)
		return report_busy(desc);
	if (r)
		return cli_fail(STAGE_OPEN, r, "cannot open %s", desc->node);
	return 0;
}

int cli_resolve_devices(const char *const *args, size_t n, struct migctl_device_desc *desc)
{
	int status;

	for (size_t i = 0; i < n; i++) {
		status = cli_resolve_device(args[i], &desc[i]);
		if (status)
			return status;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(desc[i].name, desc[j].name))
				return cli_refuse(STAGE_USAGE, -EINVAL, "named twice (also as %s)",
						  args[j]);
	}
	cli.device = NULL;
	return 0;
}

int cli_open_descs(const char *const *args, size_t n, struct migctl_device_desc *desc, bool force,
		   const char *change, struct migctl_dev **dev)
{
	int status = 0;

	for (size_t i = 0; !status && i < n; i++) {
		cli.device = args[i];
		status = cli_open_desc(&desc[i], &dev[i]);
		if (!status)
			status = cli_may_change(dev[i], force, change);
	}
	if (!status)
		cli.device = NULL;
	return status;
}

int cli_open_device(const char *arg, struct migctl_dev **dev)
{
	struct migctl_device_desc desc;
	int status = cli_resolve_device(arg, &desc);

	return status ? status : cli_open_desc(&desc, dev);
}

const char *cli_origin_words(enum migctl_via used)
{
	return used == MIGCTL_VIA_CDEV ? "its cdev file, as it is" :
					 "its device file (opened through its group), as it is";
}

int cli_may_change(const struct migctl_dev *dev, bool force, const char *change)
{
	struct migctl_origin origin;

	if (force || !migctl_dev_origin(dev, &origin))
		return 0;
	return cli_refuse(STAGE_OPEN, -EBUSY,
			  "the device is in use by %s (pid %d): %s through its file needs --force",
			  origin.holder.comm, origin.holder.pid, change);
}

int cli_close_device(struct migctl_dev *dev, int status)
{
	struct migctl_origin origin;
	bool gone = dev && migctl_dev_origin(dev, &origin) && !origin.alive;

	migctl_dev_close(dev);
	if (!gone || status)
		return status;
	return cli_refuse(STAGE_OPEN, -ESRCH,
			  "%s (pid %d) exited during the command: the device was closed with "
			  "its files (and may have been reset) unless another process holds it",
			  origin.holder.comm, origin.holder.pid);
}
