// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One resolver for every way a user names a device: a cdev or group node,
 * a PCI address, an mdev UUID, or a sysfs path all end up as the device's
 * sysfs directory, from which everything else is read.  Nothing is opened
 * here: opening a VFIO device may reset it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum named_as { NAMED_DEVICE, NAMED_CDEV, NAMED_GROUP };

const char *migctl_bus_name(enum migctl_bus bus)
{
	switch (bus) {
	case MIGCTL_BUS_PCI:
		return "pci";
	case MIGCTL_BUS_MDEV:
		return "mdev";
	default:
		return "other";
	}
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool is_hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* 8-4-4-4-12 hex digits */
static bool is_uuid(const char *s)
{
	static const size_t runs[] = { 8, 4, 4, 4, 12 };

	for (size_t i = 0; i < ARRAY_SIZE(runs); i++) {
		if (!is_hex_run(s, runs[i]))
			return false;
		s += runs[i];
		if (*s != (i + 1 < ARRAY_SIZE(runs) ? '-' : '\0'))
			return false;
		if (*s)
			s++;
	}
	return true;
}

/* "0000:3b:00.1" or "3b:00.1" -> "0000:3b:00.1", lower case */
static bool parse_pci_address(const char *s, char out[MIGCTL_NAME_MAX])
{
	unsigned int domain = 0, bus, slot, func;
	int n = 0;

	if (sscanf(s, "%x:%x:%x.%x%n", &domain, &bus, &slot, &func, &n) == 4 && s[n] == '\0' &&
	    is_hex_run(s, 4) && s[4] == ':')
		goto ok;
	domain = 0;
	n = 0;
	if (sscanf(s, "%x:%x.%x%n", &bus, &slot, &func, &n) == 3 && s[n] == '\0' &&
	    is_hex_run(s, 2) && s[2] == ':')
		goto ok;
	return false;
ok:
	if (domain > 0xffff || bus > 0xff || slot > 0x1f || func > 7)
		return false;
	snprintf(out, MIGCTL_NAME_MAX, "%04x:%02x:%02x.%x", domain, bus, slot, func);
	return true;
}

/* @arg relative to @prefix_dir ("/dev" on the real system), or NULL */
static const char *under(const char *arg, const char *real, const char *rooted)
{
	size_t n = strlen(rooted);

	if (strncmp(arg, rooted, n) == 0 && (arg[n] == '/' || arg[n] == '\0'))
		return arg + n;
	n = strlen(real);
	if (strncmp(arg, real, n) == 0 && (arg[n] == '/' || arg[n] == '\0'))
		return arg + n;
	return NULL;
}

static void note_candidate(struct migctl_device_desc *t, const char *name)
{
	if (t->n_candidates < MIGCTL_CANDIDATES_MAX)
		str_copy(t->candidates[t->n_candidates], MIGCTL_NAME_MAX, name);
	t->n_candidates++;
}

/* The one device of IOMMU group @group, into @devdir */
static int group_device(const struct migctl_root *root, const char *group,
			struct migctl_device_desc *t, char *devdir, size_t size)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r;

	r = path_fmt(dir, sizeof(dir), "%s/kernel/iommu_groups/%s/devices", root->sys, group);
	if (r)
		return r;
	d = opendir(dir);
	if (!d)
		return errno == ENOTDIR ? -ENOENT : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		note_candidate(t, de->d_name);
	}
	closedir(d);
	if (t->n_candidates == 0)
		return -ENOENT;
	if (t->n_candidates > 1)
		return -ENOTUNIQ;
	t->n_candidates = 0;
	return path_fmt(devdir, size, "%s/%s", dir, t->candidates[0]);
}

/*
 * The device's iommufd cdev, only where the kernel really has one: a
 * vfio-dev/vfioN with a device number (its `dev` attribute) and a node.
 * Linux 6.1 registers vfio-dev/vfioN without either; such a device, or one
 * whose node is missing, is reached through its group.
 */
static void find_cdev(const struct migctl_root *root, const char *devdir, char *cdev, size_t size)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	cdev[0] = '\0';
	if (path_fmt(dir, sizeof(dir), "%s/vfio-dev", devdir))
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4) != 0 || !all_digits(de->d_name + 4))
			continue;
		if (path_fmt(path, sizeof(path), "%s/%s/dev", dir, de->d_name) ||
		    !path_exists(path))
			continue;
		if (path_fmt(path, sizeof(path), "%s/vfio/devices/%s", root->dev, de->d_name) ||
		    !path_exists(path))
			continue;
		str_copy(cdev, size, de->d_name);
		break;
	}
	closedir(d);
}

static void read_pci_identity(struct migctl_device_desc *t)
{
	unsigned long v;

	if (!sysfs_read_hex(t->sysfs_path, "vendor", &v))
		t->vendor = (uint16_t)v;
	if (!sysfs_read_hex(t->sysfs_path, "device", &v))
		t->device = (uint16_t)v;
	if (!sysfs_read_hex(t->sysfs_path, "subsystem_vendor", &v))
		t->subsystem_vendor = (uint16_t)v;
	if (!sysfs_read_hex(t->sysfs_path, "subsystem_device", &v))
		t->subsystem_device = (uint16_t)v;
	if (!sysfs_read_hex(t->sysfs_path, "revision", &v))
		t->revision = (uint8_t)v;
}

/* Fill @t from the sysfs directory @devdir */
static int describe(const struct migctl_root *root, const char *devdir,
		    struct migctl_device_desc *t)
{
	char bus[MIGCTL_NAME_MAX] = "", group[MIGCTL_NAME_MAX], node[PATH_MAX];
	char parent[PATH_MAX];

	if (!realpath(devdir, t->sysfs_path))
		return errno == ENOTDIR ? -ENOENT : -errno;
	str_copy(t->name, sizeof(t->name), path_base(t->sysfs_path));

	sysfs_link_name(t->sysfs_path, "subsystem", bus, sizeof(bus));
	if (strcmp(bus, "pci") == 0)
		t->bus = MIGCTL_BUS_PCI;
	else if (strcmp(bus, "mdev") == 0)
		t->bus = MIGCTL_BUS_MDEV;
	else
		t->bus = MIGCTL_BUS_OTHER;

	if (sysfs_link_name(t->sysfs_path, "driver", t->driver, sizeof(t->driver)))
		t->driver[0] = '\0';
	t->group = -1;
	if (!sysfs_link_name(t->sysfs_path, "iommu_group", group, sizeof(group)) &&
	    all_digits(group))
		t->group = atoi(group);
	find_cdev(root, t->sysfs_path, t->cdev, sizeof(t->cdev));

	if (t->bus == MIGCTL_BUS_PCI)
		read_pci_identity(t);
	if (t->bus == MIGCTL_BUS_MDEV) {
		sysfs_link_name(t->sysfs_path, "mdev_type", t->mdev_type, sizeof(t->mdev_type));
		str_copy(parent, sizeof(parent), t->sysfs_path);
		str_copy(t->parent, sizeof(t->parent), path_base(dirname(parent)));
	}

	/*
	 * A cdev exists only while a VFIO driver is bound.  Without one (a
	 * kernel without VFIO_DEVICE_CDEV) trust the group node, but only for
	 * a VFIO driver: a group node also exists when a sibling is bound.
	 */
	if (t->cdev[0]) {
		t->vfio_bound = true;
	} else if (t->driver[0] && t->group >= 0 &&
		   (t->bus == MIGCTL_BUS_MDEV || strstr(t->driver, "vfio"))) {
		path_fmt(node, sizeof(node), "%s/vfio/%d", root->dev, t->group);
		t->vfio_bound = path_exists(node);
	}
	return 0;
}

static int choose_node(const struct migctl_root *root, enum migctl_via via, enum named_as named,
		       struct migctl_device_desc *t)
{
	char node[PATH_MAX];

	/* A node named is the one asked for: a cdev the kernel lacks is no group */
	if (via == MIGCTL_VIA_AUTO && named == NAMED_CDEV)
		via = MIGCTL_VIA_CDEV;
	else if (via == MIGCTL_VIA_AUTO)
		via = (named == NAMED_GROUP || !t->cdev[0]) ? MIGCTL_VIA_GROUP : MIGCTL_VIA_CDEV;
	t->via = via;
	if (via == MIGCTL_VIA_CDEV) {
		if (!t->cdev[0])
			return -ENXIO;
		return path_fmt(t->node, sizeof(t->node), "%s/vfio/devices/%s", root->dev, t->cdev);
	}
	if (t->group < 0)
		return -ENXIO;
	if (path_fmt(node, sizeof(node), "%s/vfio/%d", root->dev, t->group))
		return -ENAMETOOLONG;
	if (!path_exists(node))
		return -ENXIO;
	str_copy(t->node, sizeof(t->node), node);
	return 0;
}

/* A /sys path: a device directory, its vfio-dev/vfioN, or an IOMMU group */
static int sysfs_arg(const struct migctl_root *root, const char *rel, struct migctl_device_desc *t,
		     char *devdir, size_t size, enum named_as *named)
{
	char path[PATH_MAX], real[PATH_MAX], parent[PATH_MAX];
	const char *base;
	int r;

	r = path_fmt(path, sizeof(path), "%s%s", root->sys, rel);
	if (r)
		return r;
	if (!realpath(path, real))
		return -ENOENT;
	str_copy(parent, sizeof(parent), real);
	dirname(parent);
	base = path_base(real);

	if (strcmp(path_base(parent), "iommu_groups") == 0 && all_digits(base)) {
		*named = NAMED_GROUP;
		return group_device(root, base, t, devdir, size);
	}
	if (strcmp(path_base(parent), "vfio-dev") == 0) {
		/* <device>/vfio-dev/vfioN: the device is two levels up */
		*named = NAMED_CDEV;
		return path_fmt(devdir, size, "%s", dirname(parent));
	}
	return path_fmt(devdir, size, "%s", real);
}

int migctl_resolve(const struct migctl_root *root, const char *arg, enum migctl_via via,
		   struct migctl_device_desc *t)
{
	enum named_as named = NAMED_DEVICE;
	char devdir[PATH_MAX], name[MIGCTL_NAME_MAX];
	const char *rel;
	int r;

	memset(t, 0, sizeof(*t));
	t->group = -1;

	if ((rel = under(arg, "/dev", root->dev))) {
		if (strncmp(rel, "/vfio/devices/", 14) == 0 && strncmp(rel + 14, "vfio", 4) == 0 &&
		    all_digits(rel + 18)) {
			named = NAMED_CDEV;
			r = path_fmt(devdir, sizeof(devdir), "%s/class/vfio-dev/%s/device",
				     root->sys, rel + 14);
		} else if (strncmp(rel, "/vfio/", 6) == 0 && all_digits(rel + 6)) {
			named = NAMED_GROUP;
			r = group_device(root, rel + 6, t, devdir, sizeof(devdir));
		} else {
			return -EINVAL;
		}
	} else if ((rel = under(arg, "/sys", root->sys))) {
		r = sysfs_arg(root, rel, t, devdir, sizeof(devdir), &named);
	} else if (is_uuid(arg)) {
		str_copy(name, sizeof(name), arg);
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		r = path_fmt(devdir, sizeof(devdir), "%s/bus/mdev/devices/%s", root->sys, name);
	} else if (parse_pci_address(arg, name)) {
		r = path_fmt(devdir, sizeof(devdir), "%s/bus/pci/devices/%s", root->sys, name);
	} else {
		return -EINVAL;
	}
	if (r)
		return r;

	r = describe(root, devdir, t);
	if (r)
		return r;
	if (!t->vfio_bound)
		return -ENODEV;
	return choose_node(root, via, named, t);
}

bool migctl_desc_ready(const struct migctl_device_desc *target)
{
	return target->node[0] && path_exists(target->node);
}

static int add_listed(const struct migctl_root *root, const char *devdir,
		      struct migctl_device_desc **list, size_t *count, size_t *cap)
{
	struct migctl_device_desc t = { 0 };

	if (describe(root, devdir, &t) || !t.vfio_bound)
		return 0;
	for (size_t i = 0; i < *count; i++)
		if (strcmp((*list)[i].sysfs_path, t.sysfs_path) == 0)
			return 0;
	if (choose_node(root, MIGCTL_VIA_AUTO, NAMED_DEVICE, &t))
		return 0;
	if (*count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct migctl_device_desc *n = realloc(*list, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		*list = n;
		*cap = ncap;
	}
	(*list)[(*count)++] = t;
	return 0;
}

/* Call add_listed() for every @dir/<entry>/@suffix */
static int scan(const struct migctl_root *root, const char *dir, const char *suffix,
		struct migctl_device_desc **list, size_t *count, size_t *cap)
{
	char devdir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!r && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (path_fmt(devdir, sizeof(devdir), "%s/%s%s", dir, de->d_name, suffix))
			continue;
		r = add_listed(root, devdir, list, count, cap);
	}
	closedir(d);
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct migctl_device_desc *)a)->name,
		      ((const struct migctl_device_desc *)b)->name);
}

int migctl_list(const struct migctl_root *root, struct migctl_device_desc **targets, size_t *count)
{
	char dir[PATH_MAX], gdir[PATH_MAX];
	struct migctl_device_desc *list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int r;

	r = path_fmt(dir, sizeof(dir), "%s/class/vfio-dev", root->sys);
	if (!r)
		r = scan(root, dir, "/device", &list, &n, &cap);

	/* Kernels without cdevs: every device of every group */
	if (!r && !path_fmt(dir, sizeof(dir), "%s/kernel/iommu_groups", root->sys) &&
	    (d = opendir(dir))) {
		while (!r && (de = readdir(d))) {
			if (de->d_name[0] == '.' ||
			    path_fmt(gdir, sizeof(gdir), "%s/%s/devices", dir, de->d_name))
				continue;
			r = scan(root, gdir, "", &list, &n, &cap);
		}
		closedir(d);
	}
	if (r) {
		free(list);
		return r;
	}
	if (n)
		qsort(list, n, sizeof(*list), by_name);
	*targets = list;
	*count = n;
	return 0;
}
