/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared inside libmigctl; not part of its API. */
#ifndef MIGCTL_INTERNAL_H
#define MIGCTL_INTERNAL_H

#include <stddef.h>

#include "fdio.h"
#include "migctl.h"
#include "util.h"

/* "0x15b3\n" -> 0x15b3 */
int sysfs_read_hex(const char *dir, const char *attr, unsigned long *val);
/* Last component of the target of the link @dir/@link ("vfio-pci") */
int sysfs_link_name(const char *dir, const char *link, char *buf, size_t size);

#endif
