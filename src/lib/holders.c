// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Who holds a device open: the processes with the device's group or cdev
 * node among their open files.  /proc is the real one even under a
 * sysroot: the processes are this machine's.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The device numbers of the nodes a holder may have open */
static size_t node_devs(const struct migctl_root *root, const struct migctl_device_desc *t,
			dev_t devs[2])
{
	char path[PATH_MAX];
	struct stat st;
	size_t n = 0;

	if (t->cdev[0] &&
	    !path_fmt(path, sizeof(path), "%s/vfio/devices/%s", root->dev, t->cdev) &&
	    stat(path, &st) == 0 && S_ISCHR(st.st_mode))
		devs[n++] = st.st_rdev;
	if (t->group >= 0 &&
	    !path_fmt(path, sizeof(path), "%s/vfio/%d", root->dev, t->group) &&
	    stat(path, &st) == 0 && S_ISCHR(st.st_mode))
		devs[n++] = st.st_rdev;
	return n;
}

static bool holds(const char *pid, const dev_t *devs, size_t n_devs)
{
	char dir[64], path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;

	if (path_fmt(dir, sizeof(dir), "/proc/%s/fd", pid))
		return false;
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) ||
		    stat(path, &st) || !S_ISCHR(st.st_mode))
			continue;
		for (size_t i = 0; i < n_devs; i++)
			found |= st.st_rdev == devs[i];
	}
	closedir(d);
	return found;
}

int migctl_find_holders(const struct migctl_root *root,
			const struct migctl_device_desc *target,
			struct migctl_holder *holders, size_t max, size_t *count)
{
	char comm[sizeof(holders->comm) + 1], dir[64];
	struct dirent *de;
	size_t n_devs;
	dev_t devs[2];
	DIR *d;

	*count = 0;
	n_devs = node_devs(root, target, devs);
	if (n_devs == 0)
		return -ENODEV;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]) || atoi(de->d_name) == getpid() ||
		    !holds(de->d_name, devs, n_devs))
			continue;
		if (*count < max) {
			struct migctl_holder *h = &holders[*count];

			h->pid = atoi(de->d_name);
			if (path_fmt(dir, sizeof(dir), "/proc/%s", de->d_name) ||
			    read_first_line(dir, "comm", comm, sizeof(comm)))
				comm[0] = '\0';
			str_copy(h->comm, sizeof(h->comm), comm);
		}
		(*count)++;
	}
	closedir(d);
	return 0;
}
