/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The parts of the VFIO uAPI that vfio-migctl speaks.
 *
 * Debian 12 ships 6.1 headers, which lack PRE_COPY, MIG_DATA_SIZE and the
 * cdev/iommufd ioctls, so every name is defined here from the documented
 * numbers and layouts (see uapi-notes in the project history), guarded so a
 * newer <linux/vfio.h> wins where it has them.  Only names this project
 * uses are defined.
 */
#ifndef MIGCTL_VFIO_UAPI_H
#define MIGCTL_VFIO_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#ifndef VFIO_TYPE
#define VFIO_TYPE ';'
#define VFIO_BASE 100
#endif

#define MIGCTL_VFIO_IO(n) _IO(VFIO_TYPE, VFIO_BASE + (n))

/* container and group */
#ifndef VFIO_TYPE1v2_IOMMU
#define VFIO_TYPE1v2_IOMMU 3
#endif
#ifndef VFIO_GROUP_FLAGS_VIABLE
#define VFIO_GROUP_FLAGS_VIABLE (1 << 0)
#endif

/* device info flags */
#ifndef VFIO_DEVICE_FLAGS_CDX
#define VFIO_DEVICE_FLAGS_CDX (1 << 8)
#endif

/* iommufd cdev: bind a device to an iommufd (argsz covers up to out_devid) */
#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};
#define VFIO_DEVICE_BIND_IOMMUFD MIGCTL_VFIO_IO(18)
#endif

/* VFIO_DEVICE_FEATURE (6.1 has the struct and the migration basics) */
#ifndef VFIO_DEVICE_FEATURE
struct vfio_device_feature {
	__u32 argsz;
	__u32 flags;
	__u8 data[];
};
#define VFIO_DEVICE_FEATURE MIGCTL_VFIO_IO(17)
#endif
#ifndef VFIO_DEVICE_FEATURE_MASK
#define VFIO_DEVICE_FEATURE_MASK 0xffff
#define VFIO_DEVICE_FEATURE_GET (1 << 16)
#define VFIO_DEVICE_FEATURE_SET (1 << 17)
#define VFIO_DEVICE_FEATURE_PROBE (1 << 18)
#endif

#ifndef VFIO_DEVICE_FEATURE_MIGRATION
#define VFIO_DEVICE_FEATURE_MIGRATION 1
struct vfio_device_feature_migration {
	__aligned_u64 flags;
};
#endif
#ifndef VFIO_MIGRATION_STOP_COPY
#define VFIO_MIGRATION_STOP_COPY (1 << 0)
#define VFIO_MIGRATION_P2P (1 << 1)
#endif
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#endif

#ifndef VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE
#define VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE 2
struct vfio_device_feature_mig_state {
	__u32 device_state;
	__s32 data_fd;
};
#endif

#ifndef VFIO_DEVICE_FEATURE_DMA_LOGGING_START
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_START 6
#endif
#ifndef VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT
struct vfio_device_feature_dma_logging_control {
	__aligned_u64 page_size;
	__u32 num_ranges;
	__u32 __reserved;
	__aligned_u64 ranges;
};
struct vfio_device_feature_dma_logging_range {
	__aligned_u64 iova;
	__aligned_u64 length;
};
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP 7
struct vfio_device_feature_dma_logging_report {
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 page_size;
	__aligned_u64 bitmap;
};
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT 8
#endif

#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
struct vfio_device_feature_mig_data_size {
	__aligned_u64 stop_copy_length;
};
#endif

/* Precopy info is asked on the data_fd, not the device */
#ifndef VFIO_MIG_GET_PRECOPY_INFO
struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};
#define VFIO_MIG_GET_PRECOPY_INFO MIGCTL_VFIO_IO(21)
#endif

/*
 * Linux 7.1: a client opts in (SET, no payload) to PRE_COPY
 * re-initialization; PRECOPY_INFO's flags then say REINIT when new initial
 * data is present.  Without the opt-in flags are the caller's, echoed.
 */
#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12
#endif
#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT (1 << 0)
#endif

#endif /* MIGCTL_VFIO_UAPI_H */
