// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device resolver on a fixture tree shaped like Linux 6.12's sysfs
 * (tests/cli/fixtures/mksysroot.sh): every way of naming a device, and
 * every way of getting it wrong.  Then on one shaped like Linux 6.1, whose
 * vfio-dev/vfioN class devices have no cdev behind them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migctl.h"
#include "unit.h"

#define MDEV "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"

static struct migctl_root root;
static char prefix[256];

static void check_name(const char *arg, enum migctl_via via, int want_err,
		       const char *want_name, enum migctl_via want_via,
		       const char *want_node_suffix)
{
	struct migctl_device_desc t;
	char node[512];
	int r = migctl_resolve(&root, arg, via, &t);

	if (want_err) {
		CHECK_EQ_INT(r, want_err, "%s is refused", arg);
		return;
	}
	snprintf(node, sizeof(node), "%s%s", prefix, want_node_suffix);
	CHECK(r == 0 && strcmp(t.name, want_name) == 0 && t.via == want_via &&
		      strcmp(t.node, node) == 0,
	      "%s -> %s via %s", arg, want_name, want_node_suffix);
	if (r == 0 && strcmp(t.node, node) != 0)
		printf("#   node %s\n", t.node);
}

static void check_forms(void)
{
	char arg[512];

	/* cdev node, group node, addresses, UUID */
	snprintf(arg, sizeof(arg), "%s/dev/vfio/devices/vfio3", prefix);
	check_name(arg, MIGCTL_VIA_AUTO, 0, "0000:3b:00.1", MIGCTL_VIA_CDEV,
		   "/dev/vfio/devices/vfio3");
	check_name("/dev/vfio/devices/vfio3", MIGCTL_VIA_AUTO, 0, "0000:3b:00.1",
		   MIGCTL_VIA_CDEV, "/dev/vfio/devices/vfio3");
	check_name("/dev/vfio/12", MIGCTL_VIA_AUTO, 0, "0000:3b:00.1", MIGCTL_VIA_GROUP,
		   "/dev/vfio/12");
	check_name("0000:3b:00.1", MIGCTL_VIA_AUTO, 0, "0000:3b:00.1", MIGCTL_VIA_CDEV,
		   "/dev/vfio/devices/vfio3");
	check_name("3b:00.1", MIGCTL_VIA_AUTO, 0, "0000:3b:00.1", MIGCTL_VIA_CDEV,
		   "/dev/vfio/devices/vfio3");
	check_name("0000:3B:00.1", MIGCTL_VIA_AUTO, 0, "0000:3b:00.1", MIGCTL_VIA_CDEV,
		   "/dev/vfio/devices/vfio3");
	check_name("3b:00.1", MIGCTL_VIA_GROUP, 0, "0000:3b:00.1", MIGCTL_VIA_GROUP,
		   "/dev/vfio/12");
	check_name(MDEV, MIGCTL_VIA_AUTO, 0, MDEV, MIGCTL_VIA_CDEV,
		   "/dev/vfio/devices/vfio0");
	check_name("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001", MIGCTL_VIA_GROUP, 0, MDEV,
		   MIGCTL_VIA_GROUP, "/dev/vfio/0");
	check_name("/dev/vfio/12", MIGCTL_VIA_CDEV, 0, "0000:3b:00.1", MIGCTL_VIA_CDEV,
		   "/dev/vfio/devices/vfio3");

	/* sysfs paths: device dir, bus link, class link, vfio-dev dir, group */
	check_name("/sys/bus/mdev/devices/" MDEV, MIGCTL_VIA_AUTO, 0, MDEV,
		   MIGCTL_VIA_CDEV, "/dev/vfio/devices/vfio0");
	check_name("/sys/class/vfio-dev/vfio0", MIGCTL_VIA_AUTO, 0, MDEV,
		   MIGCTL_VIA_CDEV, "/dev/vfio/devices/vfio0");
	check_name("/sys/bus/pci/devices/0000:3b:00.1/vfio-dev/vfio3", MIGCTL_VIA_AUTO, 0,
		   "0000:3b:00.1", MIGCTL_VIA_CDEV, "/dev/vfio/devices/vfio3");
	check_name("/sys/kernel/iommu_groups/12", MIGCTL_VIA_AUTO, 0, "0000:3b:00.1",
		   MIGCTL_VIA_GROUP, "/dev/vfio/12");

	/* a group-only device (no cdev in this kernel) */
	check_name("af:00.0", MIGCTL_VIA_AUTO, 0, "0000:af:00.0", MIGCTL_VIA_GROUP,
		   "/dev/vfio/20");
	check_name("af:00.0", MIGCTL_VIA_CDEV, -ENXIO, NULL, 0, NULL);
}

static void check_errors(void)
{
	struct migctl_device_desc t;
	int r;

	check_name("/dev/vfio/vfio", MIGCTL_VIA_AUTO, -EINVAL, NULL, 0, NULL);
	check_name("/dev/null", MIGCTL_VIA_AUTO, -EINVAL, NULL, 0, NULL);
	check_name("eth0", MIGCTL_VIA_AUTO, -EINVAL, NULL, 0, NULL);
	check_name("3b:00", MIGCTL_VIA_AUTO, -EINVAL, NULL, 0, NULL);
	check_name("0000:3b:00.8", MIGCTL_VIA_AUTO, -EINVAL, NULL, 0, NULL);
	check_name("83b8f4f2-509f-382f-3c1e-e6bfe0fa100", MIGCTL_VIA_AUTO, -EINVAL,
		   NULL, 0, NULL);
	check_name("0000:99:00.0", MIGCTL_VIA_AUTO, -ENOENT, NULL, 0, NULL);
	check_name("/dev/vfio/99", MIGCTL_VIA_AUTO, -ENOENT, NULL, 0, NULL);
	check_name("/dev/vfio/devices/vfio99", MIGCTL_VIA_AUTO, -ENOENT, NULL, 0, NULL);
	check_name("3c:00.0", MIGCTL_VIA_AUTO, -ENODEV, NULL, 0, NULL);

	r = migctl_resolve(&root, "00:1f.6", MIGCTL_VIA_AUTO, &t);
	CHECK(r == -ENODEV && strcmp(t.driver, "e1000e") == 0,
	      "a device bound to e1000e is refused, naming its driver");

	r = migctl_resolve(&root, "/dev/vfio/14", MIGCTL_VIA_AUTO, &t);
	CHECK(r == -ENOTUNIQ && t.n_candidates == 2 &&
		      ((strcmp(t.candidates[0], "0000:5e:00.0") == 0 &&
			strcmp(t.candidates[1], "0000:5e:00.1") == 0) ||
		       (strcmp(t.candidates[1], "0000:5e:00.0") == 0 &&
			strcmp(t.candidates[0], "0000:5e:00.1") == 0)),
	      "a two-device group names both candidates");
	check_name("5e:00.1", MIGCTL_VIA_GROUP, 0, "0000:5e:00.1", MIGCTL_VIA_GROUP,
		   "/dev/vfio/14");
}

static void check_identity(void)
{
	struct migctl_device_desc t;

	CHECK(migctl_resolve(&root, "3b:00.1", MIGCTL_VIA_AUTO, &t) == 0 &&
		      t.bus == MIGCTL_BUS_PCI && t.vendor == 0x15b3 &&
		      t.device == 0x101e && t.group == 12 &&
		      strcmp(t.driver, "vfio-pci") == 0 && strcmp(t.cdev, "vfio3") == 0,
	      "PCI identity, driver, group and cdev from sysfs");
	CHECK(migctl_resolve(&root, MDEV, MIGCTL_VIA_AUTO, &t) == 0 &&
		      t.bus == MIGCTL_BUS_MDEV && strcmp(t.mdev_type, "mtty-2") == 0 &&
		      strcmp(t.driver, "mtty") == 0 && strcmp(t.parent, "mtty") == 0 &&
		      t.group == 0,
	      "mdev type, parent and driver from sysfs");
}

static void check_list(void)
{
	struct migctl_device_desc *list = NULL;
	size_t n = 0;
	int r = migctl_list(&root, &list, &n);

	/* vfio-pci x4 and the mdev; e1000e and the driverless one left out */
	CHECK(r == 0 && n == 5, "list finds the five VFIO-bound devices");
	CHECK(r == 0 && n == 5 && strcmp(list[0].name, "0000:3b:00.1") == 0 &&
		      strcmp(list[4].name, MDEV) == 0,
	      "list is sorted by name");
	free(list);
}

/*
 * Linux 6.1: vfio-dev/vfioN without a `dev` attribute or a node is not a
 * cdev; every device is reached through its group.
 */
static void check_linux_61(void)
{
	struct migctl_root root61;
	struct migctl_device_desc t, *list = NULL;
	char prefix61[300], cmd[512], node[512];
	size_t n = 0;
	int r;

	snprintf(prefix61, sizeof(prefix61), "%s-6.1", prefix);
	snprintf(cmd, sizeof(cmd), "tests/cli/fixtures/mksysroot.sh --linux-6.1 %s",
		 prefix61);
	if (system(cmd) != 0) {
		CHECK(0, "cannot build the Linux 6.1 fixture tree");
		return;
	}
	migctl_root_init(&root61, prefix61);

	r = migctl_resolve(&root61, MDEV, MIGCTL_VIA_AUTO, &t);
	snprintf(node, sizeof(node), "%s/dev/vfio/0", prefix61);
	CHECK(r == 0 && t.cdev[0] == '\0' && t.via == MIGCTL_VIA_GROUP &&
		      strcmp(t.node, node) == 0 && t.group == 0,
	      "6.1: an mdev with a node-less vfio-dev/vfio0 opens through its group");
	if (r == 0 && (t.cdev[0] || strcmp(t.node, node) != 0))
		printf("#   cdev '%s', node %s\n", t.cdev, t.node);
	r = migctl_resolve(&root61, "3b:00.1", MIGCTL_VIA_AUTO, &t);
	snprintf(node, sizeof(node), "%s/dev/vfio/12", prefix61);
	CHECK(r == 0 && t.cdev[0] == '\0' && t.via == MIGCTL_VIA_GROUP &&
		      strcmp(t.node, node) == 0,
	      "6.1: a vfio-pci device with a node-less vfio-dev/vfio1 opens through its group");
	CHECK_EQ_INT(migctl_resolve(&root61, MDEV, MIGCTL_VIA_CDEV, &t), -ENXIO,
		     "6.1: --via cdev is refused: the device has no cdev");

	r = migctl_list(&root61, &list, &n);
	CHECK(r == 0 && n == 2 && !list[0].cdev[0] && !list[1].cdev[0] &&
		      list[0].via == MIGCTL_VIA_GROUP && list[1].via == MIGCTL_VIA_GROUP,
	      "6.1: list shows both devices, by group, without a cdev");
	free(list);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", prefix61);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", prefix61);
}

/* A cdev whose node is not (or not yet) in /dev is no way in either */
static void check_cdev_without_node(void)
{
	struct migctl_device_desc t;
	char path[512];
	int r;

	snprintf(path, sizeof(path), "%s/dev/vfio/devices/vfio3", prefix);
	if (unlink(path) != 0) {
		CHECK(0, "cannot remove %s", path);
		return;
	}
	r = migctl_resolve(&root, "3b:00.1", MIGCTL_VIA_AUTO, &t);
	CHECK(r == 0 && t.cdev[0] == '\0' && t.via == MIGCTL_VIA_GROUP,
	      "a vfio-dev/vfio3 with a dev attribute but no node: the group is used");
}

int main(void)
{
	char cmd[512];

	snprintf(prefix, sizeof(prefix), "/tmp/migctl-unit-resolve.%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "tests/cli/fixtures/mksysroot.sh %s", prefix);
	if (system(cmd) != 0) {
		printf("Bail out! cannot build the fixture tree\n");
		return 1;
	}
	migctl_root_init(&root, prefix);
	check_forms();
	check_errors();
	check_identity();
	check_list();
	check_cdev_without_node();
	check_linux_61();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", prefix);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", prefix);
	return unit_done();
}
