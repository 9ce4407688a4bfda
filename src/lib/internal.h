/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared inside libmigctl; not part of its API. */
#ifndef MIGCTL_INTERNAL_H
#define MIGCTL_INTERNAL_H

#include <stddef.h>

#include "migctl.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* snprintf that reports truncation as -ENAMETOOLONG */
int path_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Copy @src whole or not at all: -ENAMETOOLONG if it does not fit */
int str_copy(char *dst, size_t size, const char *src);
/* First line of a sysfs attribute, newline stripped */
int sysfs_read_line(const char *dir, const char *attr, char *buf, size_t size);
/* "0x15b3\n" -> 0x15b3 */
int sysfs_read_hex(const char *dir, const char *attr, unsigned long *val);
/* Last component of the target of the link @dir/@link ("vfio-pci") */
int sysfs_link_name(const char *dir, const char *link, char *buf, size_t size);
bool path_exists(const char *path);
/* The last component of @path (no copy, no change) */
const char *path_base(const char *path);

double monotonic_seconds(void);

#endif
