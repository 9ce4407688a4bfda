// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading sysfs under a root prefix. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int migctl_root_init(struct migctl_root *root, const char *prefix)
{
	int r;

	if (!prefix)
		prefix = "";
	/* "/" and "" both mean the real system; avoid "//sys" in messages */
	if (strcmp(prefix, "/") == 0)
		prefix = "";
	r = path_fmt(root->sys, sizeof(root->sys), "%s/sys", prefix);
	if (r)
		return r;
	return path_fmt(root->dev, sizeof(root->dev), "%s/dev", prefix);
}

int sysfs_read_line(const char *dir, const char *attr, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *f;
	int r;

	r = path_fmt(path, sizeof(path), "%s/%s", dir, attr);
	if (r)
		return r;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f)) {
		r = ferror(f) ? -EIO : -ENODATA;
		fclose(f);
		return r;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int sysfs_read_hex(const char *dir, const char *attr, unsigned long *val)
{
	char buf[32], *end;
	int r;

	r = sysfs_read_line(dir, attr, buf, sizeof(buf));
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

bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

const char *path_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

double monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
