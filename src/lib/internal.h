/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared inside libmigctl; not part of its API. */
#ifndef MIGCTL_INTERNAL_H
#define MIGCTL_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "fdio.h"
#include "migctl.h"
#include "util.h"

/* @names[@i], or @none for a value out of the table (the names of an enum) */
static inline const char *name_in(const char *const *names, size_t n, unsigned int i,
				  const char *none)
{
	return i < n && names[i] ? names[i] : none;
}

/* "0x15b3\n" -> 0x15b3 */
int sysfs_read_hex(const char *dir, const char *attr, unsigned long *val);
/* Last component of the target of the link @dir/@link ("vfio-pci") */
int sysfs_link_name(const char *dir, const char *link, char *buf, size_t size);

/* The state GET gives, or MIGCTL_NR_STATES if it fails */
enum migctl_state migctl_read_state(struct migctl_dev *dev);

/* May a SET be asked of a device GET found in @now?  Not in ERROR: reset only */
bool migctl_set_allowed_from(enum migctl_state now);

/*
 * From @now (as GET gave it), out of a data state without losing what the
 * device has (migctl_leave_data_state), then SET @state if not there yet;
 * -EBADFD from ERROR, where nothing is asked
 */
int migctl_return_to(struct migctl_dev *dev, enum migctl_state now, enum migctl_state state);

/*
 * After a failed transfer, bring the device to a known state as @policy
 * says (recovery.c); fills res->recovery, recovery_err and final_state.
 */
void recover_device(struct migctl_dev *dev, enum migctl_on_error policy, bool resuming,
		    struct migctl_xfer_result *res);
/*
 * A set's first step back, before recover_device() of any member: one
 * that the policy returns to RUNNING goes to RUNNING_P2P first (a failure
 * is the recovery's to meet), so no member runs before every member has
 * stopped starting DMA.  Nothing in any other case.
 */
void recover_quiesced(struct migctl_dev *dev, enum migctl_on_error policy, bool resuming,
		      const struct migctl_xfer_result *res);

/* One of a device's nodes, as an open file of some process (holders.c) */
struct held_node {
	int fd;		     /* its number in that process */
	enum migctl_via via; /* CDEV or GROUP */
	bool device_file;    /* fd is a device file opened through the group node */
	dev_t rdev;
	char path[PATH_MAX]; /* the node under the root's /dev */
};

/*
 * Which of @pid's open files is provably @target's: its cdev (by st_rdev),
 * else a device file the kernel names as @target's (fdinfo's
 * vfio-device-syspath, Linux 6.18), from its group (only the kind @via
 * names, unless AUTO); and the process's name.  -ENODEV if none is;
 * -EOPNOTSUPP if it has the group open with device files whose owner the
 * kernel does not say; -ESRCH if there is no such process; -EACCES if its
 * files are not ours to list.
 */
int holder_node(const struct migctl_root *root, const struct migctl_device_desc *target, int pid,
		enum migctl_via via, struct held_node *found, char comm[MIGCTL_COMM_MAX]);

/*
 * Our @fd is an anonymous VFIO device file (opened through a group) and
 * the kernel names @t as its device: 1; another device, or no device
 * file: 0; -ENOENT if the kernel does not say whose it is (before 6.18).
 */
int fd_names_target(const struct migctl_root *root, const struct migctl_device_desc *t, int fd);

#endif
