// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The HEADER record's payload (vfio-migctl-stream(5), "The header"): how a
 * device description becomes one, and its encoding and decoding side by
 * side.  Unknown bytes after the last known field are a newer writer's
 * additions and are ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stream-wire.h"

#ifndef MIGCTL_VERSION
#error "MIGCTL_VERSION must come from the build"
#endif
_Static_assert(sizeof(MIGCTL_VERSION) <= MIGCTL_NAME_MAX,
	       "MIGCTL_VERSION does not fit the header's tool version");

/* HEADER payload, version 1: fixed fields, then four strings (u16 length + bytes) */
#define HDR_CREATED 0
#define HDR_MIG_FLAGS 8
#define HDR_ESTIMATE 16
#define HDR_BUS 24
#define HDR_VENDOR 26
#define HDR_DEVICE 28
#define HDR_SUBVENDOR 30
#define HDR_SUBDEVICE 32
#define HDR_REVISION 34
#define HDR_STRINGS 36
_Static_assert(STREAM_HEADER_ENCODED_MAX == HDR_STRINGS + 4 * (2 + MIGCTL_NAME_MAX - 1),
	       "the bound in stream-wire.h follows the layout");

#define WIRE_BUS_OTHER 0
#define WIRE_BUS_PCI 1
#define WIRE_BUS_MDEV 2

/* Only printable ASCII: inspect prints these names to a terminal */
static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static int copy_name(char *dst, const char *src)
{
	size_t n = strnlen(src, MIGCTL_NAME_MAX);

	if (n == MIGCTL_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int migctl_stream_header_from_desc(struct migctl_stream_header *h,
				   const struct migctl_device_desc *d, uint64_t mig_flags,
				   uint64_t estimate)
{
	int ret;

	memset(h, 0, sizeof(*h));
	memcpy(h->tool_version, MIGCTL_VERSION, sizeof(MIGCTL_VERSION));
	h->created = (uint64_t)time(NULL);
	h->bus = d->bus;
	ret = copy_name(h->name, d->name);
	if (!ret)
		ret = copy_name(h->driver, d->driver);
	if (!ret)
		ret = copy_name(h->mdev_type, d->mdev_type);
	if (ret)
		return ret;
	h->vendor = d->vendor;
	h->device = d->device;
	h->subsystem_vendor = d->subsystem_vendor;
	h->subsystem_device = d->subsystem_device;
	h->revision = d->revision;
	h->mig_flags = mig_flags;
	h->estimate = estimate;
	return 0;
}

static int put_string(uint8_t *p, size_t *off, const char *s)
{
	size_t n = strnlen(s, MIGCTL_NAME_MAX);

	if (n == MIGCTL_NAME_MAX || !printable(s, n))
		return -EINVAL;
	put16(p + *off, (uint16_t)n);
	memcpy(p + *off + 2, s, n);
	*off += 2 + n;
	return 0;
}

int stream_header_encode(const struct migctl_stream_header *h, uint8_t p[STREAM_HEADER_ENCODED_MAX],
			 size_t *len)
{
	uint16_t bus = WIRE_BUS_OTHER;
	size_t off = HDR_STRINGS;
	int ret;

	if (h->bus == MIGCTL_BUS_PCI)
		bus = WIRE_BUS_PCI;
	else if (h->bus == MIGCTL_BUS_MDEV)
		bus = WIRE_BUS_MDEV;

	put64(p + HDR_CREATED, h->created);
	put64(p + HDR_MIG_FLAGS, h->mig_flags);
	put64(p + HDR_ESTIMATE, h->estimate);
	put16(p + HDR_BUS, bus);
	put16(p + HDR_VENDOR, h->vendor);
	put16(p + HDR_DEVICE, h->device);
	put16(p + HDR_SUBVENDOR, h->subsystem_vendor);
	put16(p + HDR_SUBDEVICE, h->subsystem_device);
	p[HDR_REVISION] = h->revision;
	p[HDR_REVISION + 1] = 0;

	ret = put_string(p, &off, h->tool_version);
	if (!ret)
		ret = put_string(p, &off, h->name);
	if (!ret)
		ret = put_string(p, &off, h->driver);
	if (!ret)
		ret = put_string(p, &off, h->mdev_type);
	*len = off;
	return ret;
}

struct decoder {
	const uint8_t *p;
	size_t len, off;
	char *why;
	size_t why_size;
};

static int __attribute__((format(printf, 2, 3))) invalid(struct decoder *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, d->why_size, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int get_string(struct decoder *d, char *dst, const char *what)
{
	size_t n;

	if (d->off + 2 > d->len)
		return invalid(d, "header ends before the %s", what);
	n = get16(d->p + d->off);
	d->off += 2;
	if (n >= MIGCTL_NAME_MAX)
		return invalid(d, "header: %s is %zu bytes long, the limit is %d", what, n,
			       MIGCTL_NAME_MAX - 1);
	if (d->off + n > d->len)
		return invalid(d, "header ends inside the %s", what);
	if (!printable((const char *)d->p + d->off, n))
		return invalid(d, "header: %s is not printable ASCII", what);
	memcpy(dst, d->p + d->off, n);
	dst[n] = '\0';
	d->off += n;
	return 0;
}

int stream_header_decode(const uint8_t *p, size_t len, struct migctl_stream_header *h, char *why,
			 size_t why_size)
{
	struct decoder d = {
		.p = p, .len = len, .off = HDR_STRINGS, .why = why, .why_size = why_size
	};
	int ret;

	memset(h, 0, sizeof(*h));
	if (len < HDR_STRINGS)
		return invalid(&d, "header too short (%zu bytes)", len);
	h->created = get64(p + HDR_CREATED);
	h->mig_flags = get64(p + HDR_MIG_FLAGS);
	h->estimate = get64(p + HDR_ESTIMATE);
	switch (get16(p + HDR_BUS)) {
	case WIRE_BUS_PCI:
		h->bus = MIGCTL_BUS_PCI;
		break;
	case WIRE_BUS_MDEV:
		h->bus = MIGCTL_BUS_MDEV;
		break;
	default:
		h->bus = MIGCTL_BUS_OTHER;
		break;
	}
	h->vendor = get16(p + HDR_VENDOR);
	h->device = get16(p + HDR_DEVICE);
	h->subsystem_vendor = get16(p + HDR_SUBVENDOR);
	h->subsystem_device = get16(p + HDR_SUBDEVICE);
	h->revision = p[HDR_REVISION];

	ret = get_string(&d, h->tool_version, "tool version");
	if (!ret)
		ret = get_string(&d, h->name, "device name");
	if (!ret)
		ret = get_string(&d, h->driver, "driver name");
	if (!ret)
		ret = get_string(&d, h->mdev_type, "mdev type");
	return ret;
}
