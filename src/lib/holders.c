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
static size_t device_nodes(const struct migctl_root *root, const struct migctl_device_desc *t,
			   enum migctl_via via, struct held_node nodes[2])
{
	struct stat st;
	size_t n = 0;

	if (t->cdev[0] && via != MIGCTL_VIA_GROUP &&
	    !path_fmt(nodes[n].path, sizeof(nodes[n].path), "%s/vfio/devices/%s", root->dev,
		      t->cdev) &&
	    stat(nodes[n].path, &st) == 0 && S_ISCHR(st.st_mode)) {
		nodes[n].rdev = st.st_rdev;
		nodes[n++].via = MIGCTL_VIA_CDEV;
	}
	if (t->group >= 0 && via != MIGCTL_VIA_CDEV &&
	    !path_fmt(nodes[n].path, sizeof(nodes[n].path), "%s/vfio/%d", root->dev, t->group) &&
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
 * Whose device file /proc/.../fdinfo/N (@fdinfo) is, by the kernel's own
 * word: its vfio-device-syspath line (Linux 6.18).  1 if @t's, 0 if another
 * device's, -ENOENT if the kernel does not say (an anonymous device file is
 * then anyone's), -errno if it cannot be read.
 */
static int fdinfo_names_target(const struct migctl_root *root, const struct migctl_device_desc *t,
			       const char *fdinfo)
{
	static const char key[] = "vfio-device-syspath: /sys/";
	size_t sys_len = strlen(root->sys);
	char line[PATH_MAX + sizeof(key)];
	int r = -ENOENT;
	FILE *f;

	f = fopen(fdinfo, "re");
	if (!f)
		return -errno;
	while (r == -ENOENT && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, sizeof(key) - 1))
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* The kernel's path is the real /sys's; ours is under the root */
		r = !strncmp(t->sysfs_path, root->sys, sys_len) &&
		    !strcmp(t->sysfs_path + sys_len, line + sizeof(key) - 2);
	}
	fclose(f);
	return r;
}

/*
 * The first of @pid's open files that is one of @nodes: its number in
 * *fd and which node in *which.  -ENODEV if none; -errno if the process's
 * files cannot be listed (-ENOENT: no such process).
 */
static int find_node_fd(const char *pid, const struct held_node *nodes, size_t n_nodes, int *fd,
			size_t *which)
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
	while (r && (de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) || stat(path, &st) ||
		    !S_ISCHR(st.st_mode))
			continue;
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
	    read_first_line(dir, "comm", buf, sizeof(buf)) || str_copy(comm, MIGCTL_COMM_MAX, buf))
		comm[0] = '\0';
}

int migctl_find_holders(const struct migctl_root *root, const struct migctl_device_desc *target,
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
		    find_node_fd(de->d_name, nodes, n_nodes, &fd, &which))
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

/* What a holder's open files say about @t */
struct holder_scan {
	int cdev_fd;	     /* its cdev file, or -1 */
	int device_fd;	     /* a device file the kernel says is @t's, or -1 */
	bool group;	     /* it has @t's group open */
	bool unnamed_device; /* a device file whose owner the kernel does not say */
};

static int scan_holder(const struct migctl_root *root, const struct migctl_device_desc *t,
		       const char *pid, const struct held_node *nodes, size_t n_nodes,
		       struct holder_scan *scan)
{
	char dir[64], path[PATH_MAX], info[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	*scan = (struct holder_scan){ .cdev_fd = -1, .device_fd = -1 };
	if (path_fmt(dir, sizeof(dir), "/proc/%s/fd", pid))
		return -EINVAL;
	d = opendir(dir);
	if (!d)
		return -errno;
	while (scan->cdev_fd < 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) || stat(path, &st))
			continue;
		for (size_t i = 0; S_ISCHR(st.st_mode) && i < n_nodes; i++) {
			if (st.st_rdev != nodes[i].rdev)
				continue;
			if (nodes[i].via == MIGCTL_VIA_CDEV)
				scan->cdev_fd = atoi(de->d_name);
			else
				scan->group = true;
		}
		if (S_ISCHR(st.st_mode) || scan->device_fd >= 0 || !is_vfio_device_file(path) ||
		    path_fmt(info, sizeof(info), "/proc/%s/fdinfo/%s", pid, de->d_name))
			continue;
		switch (fdinfo_names_target(root, t, info)) {
		case 1:
			scan->device_fd = atoi(de->d_name);
			break;
		case -ENOENT:
			scan->unnamed_device = true;
			break;
		}
	}
	closedir(d);
	return 0;
}

int holder_node(const struct migctl_root *root, const struct migctl_device_desc *target, int pid,
		enum migctl_via via, struct held_node *found, char comm[MIGCTL_COMM_MAX])
{
	struct held_node nodes[2];
	struct holder_scan scan;
	enum migctl_via want;
	size_t n_nodes, i;
	char name[16];
	int r;

	n_nodes = device_nodes(root, target, via, nodes);
	if (n_nodes == 0)
		return -ENODEV;
	snprintf(name, sizeof(name), "%d", pid);
	r = scan_holder(root, target, name, nodes, n_nodes, &scan);
	if (r == -ENOENT)
		return -ESRCH;
	if (r)
		return r;
	if (scan.cdev_fd >= 0) {
		found->fd = scan.cdev_fd;
		want = MIGCTL_VIA_CDEV;
	} else if (scan.device_fd >= 0) {
		found->fd = scan.device_fd;
		want = MIGCTL_VIA_GROUP;
	} else if (scan.group && scan.unnamed_device) {
		/*
		 * Its device files do not say whose they are, and a new one
		 * from its group would be the first open (a reset) of a device
		 * it has not opened: nothing here proves which device it holds.
		 */
		return -EOPNOTSUPP;
	} else {
		return -ENODEV;
	}
	/* The node it came through (a device file's: its group, if @via allows it) */
	for (i = 0; i < n_nodes && nodes[i].via != want; i++)
		;
	if (i == n_nodes)
		return -ENODEV;
	found->device_file = want == MIGCTL_VIA_GROUP;
	comm_of(name, comm);
	found->rdev = nodes[i].rdev;
	found->via = nodes[i].via;
	memcpy(found->path, nodes[i].path, sizeof(found->path));
	return 0;
}

int fd_names_target(const struct migctl_root *root, const struct migctl_device_desc *t, int fd)
{
	char path[64], info[64];

	if (path_fmt(path, sizeof(path), "/proc/self/fd/%d", fd) ||
	    path_fmt(info, sizeof(info), "/proc/self/fdinfo/%d", fd))
		return -EINVAL;
	if (!is_vfio_device_file(path))
		return 0;
	return fdinfo_names_target(root, t, info);
}
