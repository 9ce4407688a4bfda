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

/* The nodes a holder may have open, of the kinds @via allows */
static size_t device_nodes(const struct migctl_root *root,
			   const struct migctl_device_desc *t, enum migctl_via via,
			   struct held_node nodes[2])
{
	struct stat st;
	size_t n = 0;

	if (t->cdev[0] && via != MIGCTL_VIA_GROUP &&
	    !path_fmt(nodes[n].path, sizeof(nodes[n].path), "%s/vfio/devices/%s",
		      root->dev, t->cdev) &&
	    stat(nodes[n].path, &st) == 0 && S_ISCHR(st.st_mode)) {
		nodes[n].rdev = st.st_rdev;
		nodes[n++].via = MIGCTL_VIA_CDEV;
	}
	if (t->group >= 0 && via != MIGCTL_VIA_CDEV &&
	    !path_fmt(nodes[n].path, sizeof(nodes[n].path), "%s/vfio/%d", root->dev,
		      t->group) &&
	    stat(nodes[n].path, &st) == 0 && S_ISCHR(st.st_mode)) {
		nodes[n].rdev = st.st_rdev;
		nodes[n++].via = MIGCTL_VIA_GROUP;
	}
	return n;
}

/* A device file opened through a group links to an anonymous inode */
static bool is_vfio_device_file(const char *fd_path)
{
	static const char anon[] = "anon_inode:[vfio-device]";
	char link[sizeof(anon)];
	ssize_t len = readlink(fd_path, link, sizeof(link));

	return len == (ssize_t)sizeof(anon) - 1 && !memcmp(link, anon, sizeof(anon) - 1);
}

/*
 * The first of @pid's open files that is one of @nodes: its number in
 * *fd and which node in *which.  -ENODEV if none; -errno if the process's
 * files cannot be listed (-ENOENT: no such process).  @device_file, if
 * given, says whether it has a VFIO device file open (an anonymous inode:
 * whose it is, /proc does not say); the walk stops once both are known.
 */
static int find_node_fd(const char *pid, const struct held_node *nodes, size_t n_nodes,
			int *fd, size_t *which, bool *device_file)
{
	char dir[64], path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int r = -ENODEV;
	DIR *d;

	if (path_fmt(dir, sizeof(dir), "/proc/%s/fd", pid))
		return -EINVAL;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((r || (device_file && !*device_file)) && (de = readdir(d))) {
		if (de->d_name[0] == '.' || path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) ||
		    stat(path, &st))
			continue;
		if (!S_ISCHR(st.st_mode)) {
			if (device_file && !*device_file && is_vfio_device_file(path))
				*device_file = true;
			continue;
		}
		for (size_t i = 0; i < n_nodes && r; i++)
			if (st.st_rdev == nodes[i].rdev) {
				*fd = atoi(de->d_name);
				*which = i;
				r = 0;
			}
	}
	closedir(d);
	return r;
}

static void comm_of(const char *pid, char comm[MIGCTL_COMM_MAX])
{
	char dir[64], buf[MIGCTL_COMM_MAX + 1];

	if (path_fmt(dir, sizeof(dir), "/proc/%s", pid) ||
	    read_first_line(dir, "comm", buf, sizeof(buf)) ||
	    str_copy(comm, MIGCTL_COMM_MAX, buf))
		comm[0] = '\0';
}

int migctl_find_holders(const struct migctl_root *root,
			const struct migctl_device_desc *target,
			struct migctl_holder *holders, size_t max, size_t *count)
{
	struct held_node nodes[2];
	struct dirent *de;
	size_t n_nodes, which;
	int fd;
	DIR *d;

	*count = 0;
	n_nodes = device_nodes(root, target, MIGCTL_VIA_AUTO, nodes);
	if (n_nodes == 0)
		return -ENODEV;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]) || atoi(de->d_name) == getpid() ||
		    find_node_fd(de->d_name, nodes, n_nodes, &fd, &which, NULL))
			continue;
		if (*count < max) {
			holders[*count].pid = atoi(de->d_name);
			comm_of(de->d_name, holders[*count].comm);
		}
		(*count)++;
	}
	closedir(d);
	return 0;
}

int holder_node(const struct migctl_root *root, const struct migctl_device_desc *target,
		int pid, enum migctl_via via, struct held_node *found,
		char comm[MIGCTL_COMM_MAX])
{
	struct held_node nodes[2];
	size_t n_nodes, which;
	bool device_file = false;
	char name[16];
	int r;

	n_nodes = device_nodes(root, target, via, nodes);
	if (n_nodes == 0)
		return -ENODEV;
	snprintf(name, sizeof(name), "%d", pid);
	r = find_node_fd(name, nodes, n_nodes, &found->fd, &which, &device_file);
	if (r == -ENOENT)
		return -ESRCH;
	if (r)
		return r;
	/*
	 * A group with no device open through it would make ours the first
	 * open, which resets the device: not the holder's device, not ours to take.
	 */
	if (nodes[which].via == MIGCTL_VIA_GROUP && !device_file)
		return -ENODEV;
	comm_of(name, comm);
	found->rdev = nodes[which].rdev;
	found->via = nodes[which].via;
	memcpy(found->path, nodes[which].path, sizeof(found->path));
	return 0;
}
