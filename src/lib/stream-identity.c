// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Whether a saved stream fits a device: the identity its header records
 * against the device description the resolver found.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stream.h"

static void identity_text(char *buf, size_t len, enum migctl_bus bus, const char *driver,
			  const char *mdev_type, uint16_t vendor, uint16_t device,
			  uint16_t subvendor, uint16_t subdevice)
{
	const char *drv = driver[0] ? driver : "none";

	switch (bus) {
	case MIGCTL_BUS_PCI:
		snprintf(buf, len, "PCI %04x:%04x subsystem %04x:%04x (driver %s)", vendor, device,
			 subvendor, subdevice, drv);
		break;
	case MIGCTL_BUS_MDEV:
		snprintf(buf, len, "mdev type %s (driver %s)", mdev_type, drv);
		break;
	default:
		snprintf(buf, len, "other-bus device (driver %s)", drv);
		break;
	}
}

int migctl_stream_identity_check(const struct migctl_stream_header *h,
				 const struct migctl_device_desc *dst, char *why, size_t len)
{
	char from[160], to[160];
	bool same = h->bus == dst->bus && !strcmp(h->driver, dst->driver);

	if (same && h->bus == MIGCTL_BUS_PCI)
		same = h->vendor == dst->vendor && h->device == dst->device &&
		       h->subsystem_vendor == dst->subsystem_vendor &&
		       h->subsystem_device == dst->subsystem_device;
	if (same && h->bus == MIGCTL_BUS_MDEV)
		same = !strcmp(h->mdev_type, dst->mdev_type);
	if (same) {
		if (len)
			why[0] = '\0';
		return 0;
	}

	identity_text(from, sizeof(from), h->bus, h->driver, h->mdev_type, h->vendor, h->device,
		      h->subsystem_vendor, h->subsystem_device);
	identity_text(to, sizeof(to), dst->bus, dst->driver, dst->mdev_type, dst->vendor,
		      dst->device, dst->subsystem_vendor, dst->subsystem_device);
	if (len)
		snprintf(why, len, "stream is from %s, device is %s", from, to);
	return -EBADMSG;
}
