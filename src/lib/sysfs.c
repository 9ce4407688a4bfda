// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading sysfs under a root prefix. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int migctl_root_init(struct migctl_root *root, const char *prefix)
{
	struct stat st;
	int r;

	if (!prefix)
		prefix = "";
	/* "/" and "" both mean the real system; avoid "//sys" in messages */
	if (strcmp(prefix, "/") == 0)
		prefix = "";
	r = path_fmt(root->sys, sizeof(root->sys), "%s/sys", prefix);
	if (!r)
		r = path_fmt(root->dev, sizeof(root->dev), "%s/dev", prefix);
	if (r)
		return r;
	/* A root without sysfs would list nothing, and look like a quiet machine */
	if (!prefix[0])
		return 0;
	if (stat(root->sys, &st) < 0)
		return -ENOENT;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int sysfs_read_hex(const char *dir, const char *attr, unsigned long *val)
{
	char buf[32], *end;
	int r;

	r = read_first_line(dir, attr, buf, sizeof(buf));
	if (r)
		return r;
	errno = 0;
	*val = strtoul(buf, &end, 16);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

int sysfs_link_name(const char *dir, const char *link, char *buf, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;
	int r;

	r = path_fmt(path, sizeof(path), "%s/%s", dir, link);
	if (r)
		return r;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = path_base(target);
	return str_copy(buf, size, base);
}
