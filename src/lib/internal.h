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

/*
 * After a failed transfer, bring the device to a known state as @policy
 * says (policy.c); fills res->recovery, recovery_err and final_state.
 */
void recover_device(struct migctl_dev *dev, enum migctl_on_error policy,
		    bool resuming, struct migctl_xfer_result *res);

#endif
