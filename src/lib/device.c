// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * An open VFIO device and the ioctls spoken to it.  Every ioctl of the
 * project goes through vfio_ioctl(), so errno handling lives in one place.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"
#include "vfio-uapi.h"

struct migctl_dev {
	struct migctl_device_desc target;
	int fd;
	int iommufd;  /* cdev path */
	int group_fd; /* group path */
	int container_fd;
	int pidfd; /* the holder of a device taken from it, else -1 */
	struct migctl_origin origin;
};

static struct migctl_dev *dev_new(const struct migctl_device_desc *target)
{
	struct migctl_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->target = *target;
	dev->fd = dev->iommufd = dev->group_fd = dev->container_fd = dev->pidfd = -1;
	return dev;
}

static int vfio_ioctl(int fd, unsigned long request, void *arg)
{
	int r;

	do
		r = ioctl(fd, request, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* Opening a node that is not a VFIO device (wrong file, fixture) */
static int not_vfio(int err)
{
	return err == -ENOTTY ? -ENODEV : err;
}

static int open_node(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int open_cdev(const struct migctl_root *root, struct migctl_dev *dev)
{
	struct vfio_device_bind_iommufd bind = {
		/* minsz: kernels before the token field reject a larger argsz */
		.argsz = sizeof(bind),
	};
	char path[PATH_MAX];
	int r;

	r = path_fmt(path, sizeof(path), "%s/iommu", root->dev);
	if (r)
		return r;
	dev->fd = open_node(dev->target.node);
	if (dev->fd < 0)
		return dev->fd;
	dev->iommufd = open_node(path);
	if (dev->iommufd < 0)
		return dev->iommufd;
	bind.iommufd = dev->iommufd;
	r = vfio_ioctl(dev->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	/* The kernel answers a second bind of an open cdev with EINVAL */
	if (r == -EINVAL)
		return -EBUSY;
	return not_vfio(r);
}

static int set_iommu(int container_fd)
{
	/* Emulated-IOMMU devices (mdev) accept type1 too; prefer v2 */
	static const unsigned long types[] = { VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU };
	int r = -ENOTSUP;

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		if (vfio_ioctl(container_fd, VFIO_CHECK_EXTENSION, (void *)types[i]) <= 0)
			continue;
		r = vfio_ioctl(container_fd, VFIO_SET_IOMMU, (void *)types[i]);
		if (r == 0)
			return 0;
	}
	return r;
}

static int open_group(const struct migctl_root *root, struct migctl_dev *dev)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX];
	int r;

	r = path_fmt(path, sizeof(path), "%s/vfio/vfio", root->dev);
	if (r)
		return r;
	/* The group first: EBUSY there is the clearest "in use" signal */
	dev->group_fd = open_node(dev->target.node);
	if (dev->group_fd < 0)
		return dev->group_fd;
	dev->container_fd = open_node(path);
	if (dev->container_fd < 0)
		return dev->container_fd;
	r = vfio_ioctl(dev->group_fd, VFIO_GROUP_GET_STATUS, &status);
	if (r)
		return not_vfio(r);
	/* Not viable: some device in the group is bound to a non-VFIO driver */
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -ENODEV;
	r = vfio_ioctl(dev->group_fd, VFIO_GROUP_SET_CONTAINER, &dev->container_fd);
	if (r)
		return r;
	r = set_iommu(dev->container_fd);
	if (r)
		return r;
	r = vfio_ioctl(dev->group_fd, VFIO_GROUP_GET_DEVICE_FD, dev->target.name);
	if (r < 0)
		return r;
	dev->fd = r;
	return 0;
}

int migctl_dev_open(const struct migctl_root *root, const struct migctl_device_desc *target,
		    struct migctl_dev **out)
{
	struct migctl_dev *dev;
	int r;

	dev = dev_new(target);
	if (!dev)
		return -ENOMEM;
	r = target->via == MIGCTL_VIA_CDEV ? open_cdev(root, dev) : open_group(root, dev);
	if (r) {
		migctl_dev_close(dev);
		return r;
	}
	*out = dev;
	return 0;
}

/*
 * Our @fd is @target's device file, as far as the uAPI can tell: a cdev by
 * its st_rdev; a device file opened through a group by the kernel's word
 * (fdinfo), and taken on trust where the kernel has none (before 6.18).
 * -ESTALE if it is another file; -EBADF if none is open.
 */
static int check_identity(const struct migctl_root *root, const struct migctl_device_desc *target,
			  int fd)
{
	char node[PATH_MAX];
	struct stat st, want;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return fd_names_target(root, target, fd) == 0 ? -ESTALE : 0;
	if (!target->cdev[0] ||
	    path_fmt(node, sizeof(node), "%s/vfio/devices/%s", root->dev, target->cdev) ||
	    stat(node, &want) || !S_ISCHR(want.st_mode) || st.st_rdev != want.st_rdev)
		return -ESTALE;
	return 0;
}

int migctl_dev_adopt(const struct migctl_root *root, const struct migctl_device_desc *target,
		     int fd, struct migctl_dev **out)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct migctl_dev *dev;
	int r;

	r = check_identity(root, target, fd);
	if (r)
		return r;
	r = vfio_ioctl(fd, VFIO_DEVICE_GET_INFO, &info);
	if (r)
		return r == -EBADF ? -EBADF : -ENODEV;
	dev = dev_new(target);
	if (!dev)
		return -ENOMEM;
	dev->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dev->fd < 0) {
		r = -errno;
		free(dev);
		return r;
	}
	*out = dev;
	return 0;
}

/* A pidfd polls readable once its process has exited */
static bool exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/*
 * The holder's file @node as one of ours, or -errno.  Its number may have
 * been given to another file since the scan: the file we got must prove
 * to be @target's again (-ESTALE if not), or we would act on another device.
 */
static int take_file(const struct migctl_root *root, const struct migctl_device_desc *target,
		     int pidfd, const struct held_node *node)
{
	struct stat st;
	int fd = pidfd_getfd(pidfd, node->fd, 0);
	bool same;

	/* EBADF: closed since we looked */
	if (fd < 0)
		return errno == EBADF ? -ENODEV : -errno;
	if (node->device_file)
		same = fd_names_target(root, target, fd) == 1;
	else
		same = !fstat(fd, &st) && S_ISCHR(st.st_mode) && st.st_rdev == node->rdev;
	if (!same) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

int migctl_dev_from_pid(const struct migctl_root *root, const struct migctl_device_desc *target,
			int pid, enum migctl_via via, struct migctl_dev **out)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct held_node node;
	struct migctl_dev *dev;
	int r;

	if (pid <= 0)
		return -ESRCH;
	dev = dev_new(target);
	if (!dev)
		return -ENOMEM;
	dev->pidfd = pidfd_open(pid, 0);
	if (dev->pidfd < 0) {
		/* EINVAL/ENOENT: a thread's id, not a process's */
		r = (errno == EINVAL || errno == ENOENT) ? -ESRCH : -errno;
		goto fail;
	}
	r = holder_node(root, target, pid, via, &node, dev->origin.holder.comm);
	if (r)
		goto fail;
	/*
	 * Its own file, never a new one: a device file opened here (from its
	 * group) would be the device's first open, a reset, were the holder
	 * not using that device after all.
	 */
	r = take_file(root, target, dev->pidfd, &node);
	if (r < 0)
		goto fail;
	dev->fd = r;
	/* Unbound, a cdev fails all but BIND with EINVAL; binding it is the holder's affair */
	r = vfio_ioctl(dev->fd, VFIO_DEVICE_GET_INFO, &info);
	if (r) {
		r = (r == -EINVAL || r == -ENOTTY) ? -ENODEV : r;
		goto fail;
	}
	dev->target.via = node.via;
	memcpy(dev->target.node, node.path, sizeof(dev->target.node));
	dev->origin.holder.pid = pid;
	dev->origin.fd = node.fd;
	*out = dev;
	return 0;
fail:
	/* Whatever failed, a holder that has exited (a zombie keeps its pid, not its files) is why */
	if (dev->pidfd >= 0 && exited(dev->pidfd))
		r = -ESRCH;
	migctl_dev_close(dev);
	return r;
}

bool migctl_dev_origin(const struct migctl_dev *dev, struct migctl_origin *origin)
{
	if (dev->pidfd < 0)
		return false;
	*origin = dev->origin;
	origin->alive = !exited(dev->pidfd);
	return true;
}

void migctl_dev_close(struct migctl_dev *dev)
{
	if (!dev)
		return;
	/*
	 * Device before group before container: the reverse of setup.  Taken
	 * from a holder, these are our own references: the holder's stay open.
	 */
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->iommufd >= 0)
		close(dev->iommufd);
	if (dev->group_fd >= 0)
		close(dev->group_fd);
	if (dev->container_fd >= 0)
		close(dev->container_fd);
	if (dev->pidfd >= 0)
		close(dev->pidfd);
	free(dev);
}

const struct migctl_device_desc *migctl_dev_desc(const struct migctl_dev *dev)
{
	return &dev->target;
}

int migctl_dev_fd(const struct migctl_dev *dev)
{
	return dev->fd;
}

int migctl_dev_info(struct migctl_dev *dev, struct migctl_dev_info *info)
{
	struct vfio_device_info vi = { .argsz = sizeof(vi) };
	int r;

	r = vfio_ioctl(dev->fd, VFIO_DEVICE_GET_INFO, &vi);
	if (r)
		return r;
	info->flags = vi.flags;
	info->num_regions = vi.num_regions;
	info->num_irqs = vi.num_irqs;
	return 0;
}

const char *migctl_dev_kind(uint32_t dev_flags)
{
	static const struct {
		uint32_t flag;
		const char *name;
	} kinds[] = {
		{ MIGCTL_DEV_PCI, "pci" },   { MIGCTL_DEV_PLATFORM, "platform" },
		{ MIGCTL_DEV_AMBA, "amba" }, { MIGCTL_DEV_CCW, "ccw" },
		{ MIGCTL_DEV_AP, "ap" },     { MIGCTL_DEV_FSL_MC, "fsl-mc" },
		{ MIGCTL_DEV_CDX, "cdx" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (dev_flags & kinds[i].flag)
			return kinds[i].name;
	return "unknown";
}

int migctl_dev_reset(struct migctl_dev *dev)
{
	return vfio_ioctl(dev->fd, VFIO_DEVICE_RESET, NULL);
}

/* VFIO_DEVICE_FEATURE with @size bytes of payload in and out of @data */
static int device_feature(struct migctl_dev *dev, uint32_t flags, void *data, size_t size)
{
	/* u64 storage: the payloads hold __aligned_u64 fields (32 bytes at most) */
	uint64_t buf[(sizeof(struct vfio_device_feature) + 32) / sizeof(uint64_t)];
	struct vfio_device_feature *feature = (struct vfio_device_feature *)buf;
	int r;

	if (size > sizeof(buf) - sizeof(*feature))
		return -EINVAL;
	memset(buf, 0, sizeof(buf));
	feature->argsz = (uint32_t)(sizeof(*feature) + size);
	feature->flags = flags;
	if (size)
		memcpy(feature->data, data, size);
	r = vfio_ioctl(dev->fd, VFIO_DEVICE_FEATURE, feature);
	if (r)
		return r;
	if (size)
		memcpy(data, feature->data, size);
	return 0;
}

int migctl_mig_flags(struct migctl_dev *dev, uint64_t *mig_flags)
{
	struct vfio_device_feature_migration mig = { 0 };
	int r;

	r = device_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig,
			   sizeof(mig));
	if (r)
		return r;
	*mig_flags = mig.flags;
	return 0;
}

int migctl_get_state(struct migctl_dev *dev, enum migctl_state *state)
{
	struct vfio_device_feature_mig_state ms = { .data_fd = -1 };
	int r;

	r = device_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms,
			   sizeof(ms));
	if (r)
		return r;
	if (ms.device_state >= MIGCTL_NR_STATES)
		return -EPROTO;
	*state = (enum migctl_state)ms.device_state;
	return 0;
}

int migctl_set_state(struct migctl_dev *dev, enum migctl_state state, int *data_fd)
{
	struct vfio_device_feature_mig_state ms = {
		.device_state = (uint32_t)state,
		.data_fd = -1,
	};
	int r;

	*data_fd = -1;
	r = device_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms,
			   sizeof(ms));
	if (r)
		return r;
	*data_fd = ms.data_fd;
	return 0;
}

int migctl_data_size(struct migctl_dev *dev, uint64_t *bytes)
{
	struct vfio_device_feature_mig_data_size ds = { 0 };
	int r;

	r = device_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds,
			   sizeof(ds));
	if (r)
		return r;
	*bytes = ds.stop_copy_length;
	return 0;
}

int migctl_dma_logging_supported(struct migctl_dev *dev, bool *supported)
{
	int r;

	r = device_feature(dev,
			   VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			   NULL, 0);
	*supported = r == 0;
	/* "not offered" is an answer, not an error */
	return (r == 0 || r == -ENOTTY || r == -EOPNOTSUPP) ? 0 : r;
}

int migctl_precopy_reinit_probe(struct migctl_dev *dev)
{
	return device_feature(dev,
			      VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
				      VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
			      NULL, 0);
}

int migctl_precopy_reinit_supported(struct migctl_dev *dev, bool *supported)
{
	int r = migctl_precopy_reinit_probe(dev);

	*supported = r == 0;
	/*
	 * EINVAL: a device without PRE_COPY (7.1), or a core that hands the
	 * unknown feature to a driver without a device_feature op (before)
	 */
	return (r == 0 || r == -ENOTTY || r == -EOPNOTSUPP || r == -EINVAL) ? 0 : r;
}

int migctl_precopy_reinit_enable(struct migctl_dev *dev)
{
	return device_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
			      NULL, 0);
}

int migctl_precopy_info_get(int data_fd, uint32_t flags_in, struct migctl_precopy_info *info)
{
	/* flags are input to a driver before 7.1, echoed; output after the opt-in */
	struct vfio_precopy_info pi = { .argsz = sizeof(pi), .flags = flags_in };
	int r;

	r = vfio_ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &pi);
	if (r)
		return r;
	*info = (struct migctl_precopy_info){
		.initial_bytes = pi.initial_bytes,
		.dirty_bytes = pi.dirty_bytes,
		.flags = pi.flags,
	};
	return 0;
}

int migctl_precopy_info(int data_fd, uint64_t *initial_bytes, uint64_t *dirty_bytes)
{
	struct migctl_precopy_info info;
	int r;

	/* flags stay 0: REINIT reporting is opt-in on newer kernels */
	r = migctl_precopy_info_get(data_fd, 0, &info);
	if (r)
		return r;
	*initial_bytes = info.initial_bytes;
	*dirty_bytes = info.dirty_bytes;
	return 0;
}

int migctl_dma_logging_start(struct migctl_dev *dev, const struct migctl_dma_range *ranges,
			     uint32_t count, uint64_t *page_size)
{
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = *page_size,
		.num_ranges = count,
		/* the two range layouts are the same: two u64, iova then length */
		.ranges = (uintptr_t)ranges,
	};
	int r;

	r = device_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			   &ctl, sizeof(ctl));
	if (r)
		return r;
	*page_size = ctl.page_size;
	return 0;
}

int migctl_dma_logging_report(struct migctl_dev *dev, const struct migctl_dma_range *range,
			      uint64_t page_size, uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = range->iova,
		.length = range->length,
		.page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return device_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			      &rep, sizeof(rep));
}

int migctl_dma_logging_stop(struct migctl_dev *dev)
{
	return device_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			      NULL, 0);
}

/* ---- a data session's fd, one call at a time (the transfer engine has its own loop) */

int migctl_data_read(int data_fd, void *buf, size_t len, size_t *got)
{
	ssize_t n;

	do
		n = read(data_fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*got = (size_t)n;
	return 0;
}

int migctl_data_write(int data_fd, const void *buf, size_t len, size_t *put)
{
	ssize_t n;

	do
		n = write(data_fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*put = (size_t)n;
	return 0;
}

int migctl_data_seek(int data_fd)
{
	return lseek(data_fd, 0, SEEK_CUR) < 0 ? -errno : 0;
}

int migctl_data_pread(int data_fd, void *buf, size_t len, size_t *got)
{
	ssize_t n = pread(data_fd, buf, len, 0);

	if (n < 0)
		return -errno;
	*got = (size_t)n;
	return 0;
}

int migctl_data_pwrite(int data_fd, const void *buf, size_t len, size_t *put)
{
	ssize_t n = pwrite(data_fd, buf, len, 0);

	if (n < 0)
		return -errno;
	*put = (size_t)n;
	return 0;
}
