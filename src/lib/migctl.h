/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libmigctl: the core of vfio-migctl.
 *
 * Everything that touches the kernel (ioctl, /sys, /dev) lives behind this
 * header.  Functions return 0 or a negative errno; none prints or exits.
 */
#ifndef MIGCTL_H
#define MIGCTL_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- migration states (values are the uAPI's enum vfio_device_mig_state) */

enum migctl_state {
	MIGCTL_STATE_ERROR = 0,
	MIGCTL_STATE_STOP = 1,
	MIGCTL_STATE_RUNNING = 2,
	MIGCTL_STATE_STOP_COPY = 3,
	MIGCTL_STATE_RESUMING = 4,
	MIGCTL_STATE_RUNNING_P2P = 5,
	MIGCTL_STATE_PRE_COPY = 6,
	MIGCTL_STATE_PRE_COPY_P2P = 7,
	MIGCTL_NR_STATES
};

/* VFIO_DEVICE_FEATURE_MIGRATION flags */
#define MIGCTL_FLAG_STOP_COPY (1u << 0)
#define MIGCTL_FLAG_P2P (1u << 1)
#define MIGCTL_FLAG_PRE_COPY (1u << 2)

/* Longest arc path the kernel's FSM can take (e.g. RUNNING -> ... -> RESUMING) */
#define MIGCTL_ARCS_MAX 4

const char *migctl_state_name(enum migctl_state state);
/* Case-insensitive; '-' and '_' are alike.  -EINVAL for an unknown name. */
int migctl_state_parse(const char *name, enum migctl_state *state);
bool migctl_state_supported(uint64_t mig_flags, enum migctl_state state);
/* True for states that own a data_fd: PRE_COPY, PRE_COPY_P2P, STOP_COPY, RESUMING */
bool migctl_state_is_data(enum migctl_state state);
/*
 * The arcs the kernel takes from @from to @to for a device with @mig_flags,
 * as vfio_mig_get_next_state() computes them.  Fills path[0..*len-1] with
 * the states after each arc (the last is @to).  -EINVAL if @to or @from is
 * not supported, @to is ERROR, or the kernel has no path (from ERROR, or
 * STOP_COPY -> PRE_COPY*).  @from == @to gives *len = 0.
 */
int migctl_state_path(uint64_t mig_flags, enum migctl_state from, enum migctl_state to,
		      enum migctl_state path[MIGCTL_ARCS_MAX], size_t *len);
/* Names of the flags set in @mig_flags: "STOP_COPY|P2P|PRE_COPY" */
void migctl_flags_format(uint64_t mig_flags, char *buf, size_t size);

/* ---- where sysfs and /dev are (a prefix, so tests can use fixture trees) */

struct migctl_root {
	char sys[PATH_MAX]; /* "<root>/sys" */
	char dev[PATH_MAX]; /* "<root>/dev" */
};

/*
 * @prefix NULL or "" means the real system.  -ENAMETOOLONG if it cannot
 * fit; -ENOENT or -ENOTDIR if @prefix has no sys directory.
 */
int migctl_root_init(struct migctl_root *root, const char *prefix);

/* ---- finding devices: one resolver for every way a user names a device */

enum migctl_via {
	MIGCTL_VIA_AUTO,  /* cdev when the kernel has one, else the group */
	MIGCTL_VIA_CDEV,  /* /dev/vfio/devices/vfioN + /dev/iommu */
	MIGCTL_VIA_GROUP, /* /dev/vfio/N + /dev/vfio/vfio */
};

/* "auto", "cdev", "group" */
const char *migctl_via_name(enum migctl_via via);
/* -EINVAL for any other name */
int migctl_via_parse(const char *name, enum migctl_via *via);

enum migctl_bus {
	MIGCTL_BUS_OTHER,
	MIGCTL_BUS_PCI,
	MIGCTL_BUS_MDEV,
};

/* "pci", "mdev", "other" */
const char *migctl_bus_name(enum migctl_bus bus);

#define MIGCTL_NAME_MAX 64
#define MIGCTL_CANDIDATES_MAX 8

/* A device as sysfs describes it; nothing here is opened. */
struct migctl_device_desc {
	char name[MIGCTL_NAME_MAX]; /* PCI address or mdev UUID */
	char sysfs_path[PATH_MAX];  /* resolved path of its sysfs directory */
	enum migctl_bus bus;
	char driver[MIGCTL_NAME_MAX]; /* bound driver, "" if none */
	bool vfio_bound;	      /* bound to a VFIO driver (has a group node or cdev) */
	int group;		      /* IOMMU group number, -1 if none */
	char cdev[MIGCTL_NAME_MAX];   /* "vfio3", "" if the kernel has none */
	/* identity, for reports and stream headers */
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint8_t revision;
	char mdev_type[MIGCTL_NAME_MAX]; /* "mtty-2", "" unless an mdev */
	char parent[MIGCTL_NAME_MAX];	 /* mdev parent device name */
	/* how it will be opened */
	enum migctl_via via; /* CDEV or GROUP after resolve */
	char node[PATH_MAX]; /* /dev path that will be opened */
	/* set when resolve fails with -ENOTUNIQ: the devices of a shared group */
	size_t n_candidates;
	char candidates[MIGCTL_CANDIDATES_MAX][MIGCTL_NAME_MAX];
};

/*
 * Resolve @arg: /dev/vfio/devices/vfioN, /dev/vfio/N, a PCI address (full or
 * without domain), an mdev UUID, or a sysfs path.  Errors:
 *   -ENOENT    no such device
 *   -ENODEV    the device exists but is not bound to a VFIO driver
 *              (target->driver names the driver it has, if any)
 *   -ENOTUNIQ  a group with several devices; target->candidates lists them
 *   -ENXIO     @via, or a cdev named in @arg, asks for an interface this
 *              device or kernel lacks (desc->via says which)
 *   -EINVAL    @arg is none of the forms above
 */
int migctl_resolve(const struct migctl_root *root, const char *arg, enum migctl_via via,
		   struct migctl_device_desc *target);

/* Every VFIO-bound device, sorted by name.  Free with free(). */
int migctl_list(const struct migctl_root *root, struct migctl_device_desc **targets, size_t *count);

/* A process holding a device open */
#define MIGCTL_COMM_MAX 16 /* the kernel's TASK_COMM_LEN */

struct migctl_holder {
	int pid;
	char comm[MIGCTL_COMM_MAX];
};

/*
 * The processes that have @target's group or cdev node open (this one
 * excluded).  Fills up to @max; *count is how many there are.
 */
int migctl_find_holders(const struct migctl_root *root, const struct migctl_device_desc *target,
			struct migctl_holder *holders, size_t max, size_t *count);

/* Whether @target's /dev node is there to open (udev/devtmpfs may lag sysfs) */
bool migctl_desc_ready(const struct migctl_device_desc *target);

/* ---- kernel uevents (NETLINK_KOBJECT_UEVENT, through libnl-3) */

struct migctl_uevent {
	char action[16]; /* add, remove, bind, unbind, change, move */
	char devpath[PATH_MAX];
	char subsystem[32];
	char driver[MIGCTL_NAME_MAX];
	char devname[MIGCTL_NAME_MAX]; /* "vfio/devices/vfio0", "vfio/3" */
	char mdev_type[MIGCTL_NAME_MAX];
	uint64_t seqnum;
};

struct migctl_uevent_monitor;

/* Subscribe to the kernel's uevents (subscribe first, then look: no race) */
int migctl_uevent_open(struct migctl_uevent_monitor **mon);
void migctl_uevent_close(struct migctl_uevent_monitor *mon);
/*
 * The next kernel uevent within @timeout_ms (-1: no limit).  -ETIMEDOUT
 * when none came; -EAGAIN for a message that was not a kernel uevent
 * (call again); -ENOBUFS when a burst overran the socket and events were
 * lost (look at sysfs again, then call again).
 */
int migctl_uevent_next(struct migctl_uevent_monitor *mon, int timeout_ms, struct migctl_uevent *ev);
/* Devices, groups and cdevs of VFIO, mdevs, and bindings to VFIO drivers */
bool migctl_uevent_is_vfio(const struct migctl_uevent *ev);

/* ---- an open device */

struct migctl_dev;

/*
 * Open a resolved target through its cdev (bind to a fresh iommufd) or its
 * group (container + type1v2).  "In use" comes back as -EBUSY on both paths
 * (the kernel says EINVAL on a second cdev bind); -EACCES/-EPERM for
 * permissions.
 */
int migctl_dev_open(const struct migctl_root *root, const struct migctl_device_desc *target,
		    struct migctl_dev **dev);
/*
 * Use a device another process opened and passed down (vfio-migctl hold):
 * @fd is duplicated, never reopened, so state the holder set survives.
 * @fd must be @target's: a cdev by its st_rdev, a device file opened
 * through a group by fdinfo's vfio-device-syspath (Linux 6.18; taken on
 * trust on older kernels, which do not say whose it is).
 *   -ESTALE  @fd is another device's file, or no device file
 *   -EBADF   @fd is not open
 *   -ENODEV  @fd is not a VFIO device (VFIO_DEVICE_GET_INFO fails)
 */
int migctl_dev_adopt(const struct migctl_root *root, const struct migctl_device_desc *target,
		     int fd, struct migctl_dev **dev);
/*
 * Act through the file process @pid already has open for @target, taken
 * with pidfd_getfd(2) (which needs ptrace access to @pid), used as it is:
 * its cdev file (bound to its iommufd), or a device file it opened through
 * the group that fdinfo's vfio-device-syspath (Linux 6.18) names as
 * @target's.  No device file is ever opened here: ours could be a device's
 * first open, which may reset it.  The file taken is checked again after
 * pidfd_getfd(), since its number may have been reused meanwhile.  @via
 * other than AUTO takes only a file of that kind.  Nothing of @pid's is
 * changed, and closing @dev closes only our own references.  desc->via and
 * desc->node say which file was used.
 *   -ESRCH          no such process, or it has exited
 *   -ENODEV         @pid holds neither the device's cdev (bound) nor a
 *                   device file of it
 *   -EOPNOTSUPP     @pid has the device's group open, and device files the
 *                   kernel does not say the device of (before 6.18)
 *   -ESTALE         the file number was given to another file between the
 *                   look and the take
 *   -EACCES, -EPERM no ptrace access to @pid
 *   -ENOSYS         a kernel without pidfd_getfd (before Linux 5.6)
 */
int migctl_dev_from_pid(const struct migctl_root *root, const struct migctl_device_desc *target,
			int pid, enum migctl_via via, struct migctl_dev **dev);

/* Where a device taken with migctl_dev_from_pid() came from */
struct migctl_origin {
	struct migctl_holder holder;
	int fd;	    /* the file's number in the holder */
	bool alive; /* the holder still runs (asked when the origin is read) */
};

/* false for a device opened or adopted here */
bool migctl_dev_origin(const struct migctl_dev *dev, struct migctl_origin *origin);
void migctl_dev_close(struct migctl_dev *dev);
const struct migctl_device_desc *migctl_dev_desc(const struct migctl_dev *dev);
int migctl_dev_fd(const struct migctl_dev *dev);

/* VFIO_DEVICE_FLAGS_* */
#define MIGCTL_DEV_RESET (1u << 0)
#define MIGCTL_DEV_PCI (1u << 1)
#define MIGCTL_DEV_PLATFORM (1u << 2)
#define MIGCTL_DEV_AMBA (1u << 3)
#define MIGCTL_DEV_CCW (1u << 4)
#define MIGCTL_DEV_AP (1u << 5)
#define MIGCTL_DEV_FSL_MC (1u << 6)
#define MIGCTL_DEV_CDX (1u << 8)

struct migctl_dev_info {
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};

int migctl_dev_info(struct migctl_dev *dev, struct migctl_dev_info *info);
/* "pci", "platform", ... from the info flags; "unknown" if none */
const char *migctl_dev_kind(uint32_t dev_flags);
int migctl_dev_reset(struct migctl_dev *dev);

/* -ENOTTY: the device (driver) has no migration support */
int migctl_mig_flags(struct migctl_dev *dev, uint64_t *mig_flags);
int migctl_get_state(struct migctl_dev *dev, enum migctl_state *state);
/*
 * Ask the kernel for @state.  *data_fd gets the new data session's fd, or
 * -1 when the arc opens none.  On failure the device may be anywhere on
 * the path: GET the state again.
 */
int migctl_set_state(struct migctl_dev *dev, enum migctl_state state, int *data_fd);
/* MIG_DATA_SIZE: estimated STOP_COPY length.  -ENOTTY if not offered. */
int migctl_data_size(struct migctl_dev *dev, uint64_t *bytes);
/* Whether DMA_LOGGING_START is offered (probe only, nothing is started) */
int migctl_dma_logging_supported(struct migctl_dev *dev, bool *supported);
/*
 * Whether PRE_COPY re-initialization (MIG_PRECOPY_INFOv2, Linux 7.1) is
 * offered: a probe of the opt-in, which opts nothing in
 */
int migctl_precopy_reinit_supported(struct migctl_dev *dev, bool *supported);
/* The probe itself: 0, or the -errno it fails with (check tells them apart) */
int migctl_precopy_reinit_probe(struct migctl_dev *dev);
/* VFIO_MIG_GET_PRECOPY_INFO on a PRE_COPY data_fd */
int migctl_precopy_info(int data_fd, uint64_t *initial_bytes, uint64_t *dirty_bytes);
/*
 * Opt in to PRE_COPY re-initialization (SET of MIG_PRECOPY_INFOv2, no
 * payload), for the device until its last close.  -ENOTTY or -EOPNOTSUPP:
 * not offered; -EINVAL: a device without PRE_COPY (or a core before 7.1
 * that hands the feature to a driver without a device_feature op).
 */
int migctl_precopy_reinit_enable(struct migctl_dev *dev);

/* vfio_precopy_info.flags: new initial data is present (after the opt-in only) */
#define MIGCTL_PRECOPY_REINIT (1u << 0)

/* One VFIO_MIG_GET_PRECOPY_INFO answer */
struct migctl_precopy_info {
	uint64_t initial_bytes;
	uint64_t dirty_bytes;
	/*
	 * After the opt-in, what the device reports (MIGCTL_PRECOPY_REINIT);
	 * before it, what the caller passed, echoed by every driver
	 */
	uint32_t flags;
};

/* VFIO_MIG_GET_PRECOPY_INFO passing @flags_in in flags (0 but for check's probes) */
int migctl_precopy_info_get(int data_fd, uint32_t flags_in, struct migctl_precopy_info *info);

/* An IOVA range for DMA logging */
struct migctl_dma_range {
	uint64_t iova;
	uint64_t length;
};

/*
 * DMA_LOGGING_START on @count ranges.  *page_size is the granularity
 * asked for; the device answers with the one it chose.
 */
int migctl_dma_logging_start(struct migctl_dev *dev, const struct migctl_dma_range *ranges,
			     uint32_t count, uint64_t *page_size);
/* DMA_LOGGING_REPORT: one bit per @page_size of @range into @bitmap (u64s) */
int migctl_dma_logging_report(struct migctl_dev *dev, const struct migctl_dma_range *range,
			      uint64_t page_size, uint64_t *bitmap);
int migctl_dma_logging_stop(struct migctl_dev *dev);

/*
 * One read() or write() on a data_fd, EINTR retried: *got 0 is the end of
 * the stream; -ENOMSG is PRE_COPY's "nothing pending now".
 */
int migctl_data_read(int data_fd, void *buf, size_t len, size_t *got);
int migctl_data_write(int data_fd, const void *buf, size_t len, size_t *put);
/* Whether a data_fd takes positions, as a stream must not: 0 if lseek(SEEK_CUR) worked */
int migctl_data_seek(int data_fd);
/* pread()/pwrite() at offset 0: 0 if it worked, -ESPIPE from a stream */
int migctl_data_pread(int data_fd, void *buf, size_t len, size_t *got);
int migctl_data_pwrite(int data_fd, const void *buf, size_t len, size_t *put);

/* ---- migration-state policy (one place for each rule) */

/* Ask for @state; a data session it opens is closed at once: nobody reads it */
int migctl_request_state(struct migctl_dev *dev, enum migctl_state state);
/*
 * Leave a data state without losing what the device has: STOP_COPY ->
 * STOP, PRE_COPY -> RUNNING, PRE_COPY_P2P -> RUNNING_P2P, and RESUMING by
 * reset (STOP would make the driver load a partial stream).  Other states
 * are left alone.  *state is read back afterwards.
 */
int migctl_leave_data_state(struct migctl_dev *dev, enum migctl_state *state);

/* ---- moving state data: save and resume */

enum migctl_on_error {
	MIGCTL_ON_ERROR_DEFAULT, /* save: RESTORE; resume: RESET */
	MIGCTL_ON_ERROR_RESTORE, /* back to the state found (reset if that fails) */
	MIGCTL_ON_ERROR_RESET,	 /* VFIO_DEVICE_RESET */
	MIGCTL_ON_ERROR_LEAVE,	 /* touch nothing */
};

/* "restore", "reset", "leave" (-EINVAL for others; DEFAULT has no name) */
const char *migctl_on_error_name(enum migctl_on_error policy);
int migctl_on_error_parse(const char *name, enum migctl_on_error *policy);

/* What recovery was done after a failure */
enum migctl_recovery {
	MIGCTL_RECOVERY_NONE,
	MIGCTL_RECOVERY_RESTORED,
	MIGCTL_RECOVERY_RESET,
	MIGCTL_RECOVERY_LEFT,
	MIGCTL_RECOVERY_FAILED, /* restore and reset both failed */
	MIGCTL_RECOVERY_KEPT,	/* resume: the loaded state is kept (no reset) */
};

/* "none", "restored", "reset", "left", "failed", "kept" */
const char *migctl_recovery_name(enum migctl_recovery recovery);

enum migctl_phase {
	MIGCTL_PHASE_PRE_COPY,
	MIGCTL_PHASE_STOP_COPY,
	MIGCTL_PHASE_RESUMING,
};

/* "pre-copy", "stop-copy", "resuming" */
const char *migctl_phase_name(enum migctl_phase phase);

struct migctl_progress {
	enum migctl_phase phase;
	uint64_t bytes;	   /* moved so far, all phases */
	uint64_t estimate; /* MIG_DATA_SIZE (+ precopy), 0 if unknown */
	/* save --precopy, in PRE_COPY: the rounds so far, and the last look */
	unsigned int precopy_rounds;
	uint64_t precopy_left;	  /* bytes estimated to move once stopped */
	double downtime_estimate; /* seconds to move them; -1: not known yet */
	double downtime_target;	  /* opts->downtime */
};

typedef void (*migctl_progress_fn)(void *arg, const struct migctl_progress *p);

/*
 * A unit of data on its way through the transfer engine: a buffer from
 * the engine's ring (a few of them, whatever the state's size), handed
 * from stage to stage in order.
 */
#define MIGCTL_CHUNK_HEAD_MAX 32
#define MIGCTL_CHUNK_CB_SIZE 288

struct migctl_chunk {
	uint8_t *buf; /* malloc'd; a stage may grow it (realloc, update cap) */
	size_t cap;
	size_t len; /* bytes in buf */
	enum migctl_phase phase;
	/* a record header, before buf in the stream: sink->frame's or source->fetch's */
	uint8_t head[MIGCTL_CHUNK_HEAD_MAX];
	/* resume: how much of buf (from its start) the device gets, from source->verify */
	size_t data_len;
	bool last; /* nothing follows this chunk */
	/* resume: an input error met in order (source->fetch) */
	int err;
	/*
	 * Private to the sink or source whose halves handle the chunk, from
	 * one half to the other (frame to emit, fetch to verify), as the
	 * control buffer of a Linux sk_buff
	 */
	_Alignas(uint64_t) unsigned char cb[MIGCTL_CHUNK_CB_SIZE];
};

/*
 * Where saved bytes go, and where resumed bytes come from.  The raw kernel
 * stream and the framed file format are both spoken through these, so the
 * transfer engine never knows which it is writing.
 *
 * The engine runs three stages at once, so that framing costs nothing a
 * user can see: the device's I/O, the checksums (on the calling thread),
 * and the stream's I/O.  A sink or source that checksums splits its work
 * in two for that (frame/emit, fetch/verify); each half is called in
 * order, from one thread at a time.  Without the split, write() or read()
 * is called on the stream's I/O thread.
 */
struct migctl_sink {
	/*
	 * Optional: called once the device has passed its checks, before any
	 * state change, with what a stream header records.
	 */
	int (*begin)(void *ctx, uint64_t mig_flags, uint64_t estimate);
	/* Write all of @buf; -errno on failure (EPIPE when the reader left). */
	int (*write)(void *ctx, enum migctl_phase phase, const void *buf, size_t len);
	/*
	 * Optional.  frame(): what goes before @c's data (c->head), on the
	 * checksum stage; emit(): write them out (c->buf alone without
	 * frame()) on the stream's I/O thread, giving up with -EINTR when a
	 * signal interrupts it and *@stop is set.  The engine prefers emit()
	 * to write().
	 */
	int (*frame)(void *ctx, struct migctl_chunk *c);
	int (*emit)(void *ctx, const struct migctl_chunk *c, volatile sig_atomic_t *stop);
	/* The most bytes one chunk may carry (a record's bound); 0: any */
	size_t max_chunk;
	/*
	 * The data is all out and the device in its final state: end the
	 * stream (its commit point).  Optional.
	 */
	int (*finish)(void *ctx);
	void *ctx;
};

struct migctl_source {
	/*
	 * Fill up to @len bytes of verified device data; *got = 0 at the end
	 * of a complete stream.  -EBADMSG for a stream that does not verify.
	 * Optional when fetch() is given (the engine prefers fetch()).
	 */
	int (*read)(void *ctx, void *buf, size_t len, size_t *got);
	/*
	 * Optional.  fetch(): the next unit's bytes into @c, c->buf realloc()ed
	 * if it does not fit (an error is put in c->err, to be met in order),
	 * giving up with -EINTR when a signal interrupts it and *@stop is set;
	 * verify(): verify it, and say how much of it the device gets
	 * (c->data_len) and whether it is the verified end (c->last).
	 * Without verify(), all of a fetched unit goes to the device and an
	 * empty one is the end.
	 */
	int (*fetch)(void *ctx, struct migctl_chunk *c, volatile sig_atomic_t *stop);
	int (*verify)(void *ctx, struct migctl_chunk *c);
	void *ctx;
};

struct migctl_xfer_opts {
	size_t buffer_size;	/* bytes per read(); 0 = 1 MiB */
	bool precopy;		/* save: PRE_COPY before STOP_COPY */
	enum migctl_state then; /* state to end in */
	enum migctl_on_error on_error;
	/* set from a signal handler: stop, recover, return -EINTR */
	volatile sig_atomic_t *cancel;
	migctl_progress_fn progress;
	void *progress_arg;
	/*
	 * A device found in a data state (a session someone left open) is
	 * first brought out of it (migctl_leave_data_state) instead of
	 * refused with -EBUSY.
	 */
	bool end_session;
	/*
	 * save: called last, once the device is in @then and the stream is
	 * whole (the sink finished); a failure (-errno) is the sink's, and
	 * the device is put back like for any other.  Optional: an output
	 * file committed (fsync, link) as part of the transaction.
	 */
	int (*commit)(void *commit_arg);
	void *commit_arg;
	/*
	 * A signal with a handler installed without SA_RESTART, that the
	 * engine sends to its own threads to interrupt a blocking read or
	 * write when it stops them (0: none; a blocked thread then finishes
	 * its call first).  progress is always called from the caller's thread.
	 */
	int wake_signal;
	/*
	 * A set of devices: no RUNNING_P2P barrier, and members without
	 * VFIO_MIGRATION_P2P accepted.  Unsafe: a member may be stopped while
	 * another still DMAs into it.
	 */
	bool no_barrier;
	/*
	 * save with precopy: switch over once the initial data is out and
	 * what is left would move within @downtime seconds at the rate
	 * measured, or after @precopy_timeout seconds of PRE_COPY whatever is
	 * left (0: MIGCTL_DEFAULT_DOWNTIME, MIGCTL_DEFAULT_PRECOPY_TIMEOUT)
	 */
	double downtime;
	double precopy_timeout;
};

#define MIGCTL_DEFAULT_DOWNTIME 0.3
#define MIGCTL_DEFAULT_PRECOPY_TIMEOUT 60.0

/* Where a transfer failed, so the front end can name the cause */
enum migctl_fail_at {
	MIGCTL_FAIL_NONE,
	MIGCTL_FAIL_CHECK,	/* before anything was changed (state, flags) */
	MIGCTL_FAIL_TRANSITION, /* a state change; see failed_state */
	MIGCTL_FAIL_DEVICE_IO,	/* read() or write() on the data_fd */
	MIGCTL_FAIL_LOAD,	/* RESUMING -> STOP: the driver refused the data */
	MIGCTL_FAIL_SINK,	/* writing the saved stream out */
	MIGCTL_FAIL_SOURCE,	/* reading or verifying the stream in */
	MIGCTL_FAIL_CANCEL,	/* opts->cancel */
	MIGCTL_FAIL_PEER,	/* another member of the set failed: stopped, put back */
};

/* "check", "transition", "device-io", "load", "sink", "source", "cancel", "peer"; NULL for NONE */
const char *migctl_fail_at_name(enum migctl_fail_at at);

/* How PRE_COPY ended */
enum migctl_precopy_end {
	MIGCTL_PRECOPY_NONE,	  /* no PRE_COPY, or it did not reach a switchover */
	MIGCTL_PRECOPY_CONVERGED, /* what was left fit the downtime */
	MIGCTL_PRECOPY_TIMEOUT,	  /* the precopy timeout came first: switched over anyway */
};

/* One round of PRE_COPY: what the device reported at its start, and what was read */
struct migctl_precopy_round {
	uint64_t initial_bytes;
	uint64_t dirty_bytes;
	uint64_t bytes;
};

/* The rounds a result keeps (the first ones); precopy_rounds counts them all */
#define MIGCTL_PRECOPY_ROUNDS_MAX 256

struct migctl_xfer_result {
	enum migctl_state initial_state;
	enum migctl_state final_state; /* MIGCTL_NR_STATES if it could not be read */
	enum migctl_recovery recovery;
	int recovery_err;	/* why the last step of the recovery failed */
	uint64_t bytes;		/* through the data_fd, all phases */
	uint64_t precopy_bytes; /* save: how many of them in PRE_COPY */
	bool precopy_skipped;	/* save: precopy asked, device found stopped */
	bool loaded;		/* resume: the driver accepted the stream */
	/* opts->end_session: the data state that was left, else MIGCTL_NR_STATES */
	enum migctl_state ended_session;
	uint64_t estimate; /* MIG_DATA_SIZE at start, 0 if unknown */
	double seconds;	   /* whole transfer */
	/* save: from entering STOP_COPY to @then (failed: to the recovery's end) */
	double stopped_seconds;
	/*
	 * Where the time went: how long the device's I/O waited for the
	 * stream's side (its I/O or the checksums) and the stream's I/O for
	 * the device's.  The slower side is the one that hardly waited.
	 */
	double device_waited_seconds;
	double stream_waited_seconds;
	enum migctl_fail_at fail_at;
	enum migctl_state failed_state; /* the state being entered, for TRANSITION/LOAD */
	/* save with precopy */
	enum migctl_precopy_end precopy_end;
	unsigned int precopy_rounds; /* all of them; round[] keeps the first ones */
	struct migctl_precopy_round round[MIGCTL_PRECOPY_ROUNDS_MAX];
	bool precopy_reinit;	      /* opted in to re-initialization (feature 12) */
	unsigned int precopy_reinits; /* REINITs reported (opted in only) */
	double downtime_target;	      /* seconds (opts->downtime or its default) */
	/* at the switchover: bytes estimated left, and seconds (-1: not known) */
	uint64_t precopy_left;
	double downtime_estimate;
};

#define MIGCTL_DEFAULT_BUFFER (1u << 20)
#define MIGCTL_MAX_BUFFER (256u << 20)

/*
 * PRE_COPY (optional) and STOP_COPY into @sink, then opts->then.  PRE_COPY
 * never wakes the device: PRE_COPY from RUNNING, PRE_COPY_P2P from
 * RUNNING_P2P, and none from STOP (result->precopy_skipped).  The commit
 * point is the device's final state: the sink's finish() (END) and
 * opts->commit come only after opts->then was reached, so a failure to
 * reach it leaves no finished stream; a failure of either puts the device
 * back all the same.  opts->cancel is looked at by every stage after each
 * chunk.  On any failure the device is recovered per opts->on_error and
 * the first error is returned; result->final_state says where it ended.
 *   -EBADFD      the device is in ERROR (nothing was tried)
 *   -EBUSY       the device is already in a data state (a session is open)
 *   -EOPNOTSUPP  --precopy on a device without PRE_COPY; no STOP_COPY
 *   -EINTR       opts->cancel was set
 */
int migctl_save(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		const struct migctl_sink *sink, struct migctl_xfer_result *result);

/*
 * RESUMING, every byte of @source into the device, STOP (the driver checks
 * the data), then opts->then.  Any error before the driver accepted the
 * data at STOP — a failed write, a stream that does not verify, a cancel —
 * aborts RESUMING by reset; after it, a failure keeps the loaded state
 * (MIGCTL_RECOVERY_KEPT) unless the device is in ERROR.
 */
int migctl_resume(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		  const struct migctl_source *source, struct migctl_xfer_result *result);

/* ---- sets of devices moved as one unit (set.c) */

struct migctl_set_member {
	struct migctl_dev *dev;
	const struct migctl_sink *sink;	    /* save */
	const struct migctl_source *source; /* resume */
	void *progress_arg;		    /* opts->progress's for this member (NULL: opts') */
	struct migctl_xfer_result result;
};

/*
 * Save @n devices as one unit, each into its sink, their data moving at
 * once.  Unless opts->no_barrier: every member must offer P2P (else
 * -EOPNOTSUPP before anything changed, result.failed_state RUNNING_P2P),
 * and every member reaches RUNNING_P2P (PRE_COPY_P2P) before any enters
 * STOP_COPY; towards a RUNNING @then, every member reaches RUNNING_P2P
 * before any runs.  The sinks finish, then opts->commit, only once every
 * member is in @then.  On any failure every member is stopped and put back
 * per opts->on_error (a member that did not fail itself: fail_at PEER);
 * the first error is returned, *@which the member it came from (@n: the
 * commit).
 */
int migctl_set_save(struct migctl_set_member *members, size_t n,
		    const struct migctl_xfer_opts *opts, size_t *which);
/*
 * Resume @n devices as one unit, each from its source, their data moving
 * at once; every member is loaded (RESUMING -> STOP) before any goes on to
 * @then, and towards RUNNING every member reaches RUNNING_P2P before any
 * runs (the P2P rule as for save, when @then is RUNNING).
 */
int migctl_set_resume(struct migctl_set_member *members, size_t n,
		      const struct migctl_xfer_opts *opts, size_t *which);

/* One device of migctl_set_move() */
struct migctl_set_move {
	struct migctl_dev *dev;
	enum migctl_state found; /* its state before the move */
	bool moved;		 /* a SET was made */
	int put_back_err;	 /* after a failure: 0 if back in @found */
	bool reset;		 /* it had to be reset to get there (ERROR) */
};

/*
 * Move @n devices to @target (not a data state) as one unit.  Unless
 * @no_barrier (or n == 1): every member must offer P2P, and a member that
 * leaves RUNNING or goes to RUNNING passes RUNNING_P2P, every member
 * reaching it before any goes on.  Refused, nothing changed: -EBADFD a
 * member in ERROR, -EBUSY in a data state, -EOPNOTSUPP @target or P2P not
 * offered.  On a failed SET every member that moved goes back to where it
 * was found (through the barrier too); the first error, *@which its member.
 */
int migctl_set_move(struct migctl_set_move *members, size_t n, enum migctl_state target,
		    bool no_barrier, size_t *which);

/* ---- plain fd endpoints (the bare kernel stream) */

struct migctl_fd_endpoint {
	int fd;
	volatile sig_atomic_t *cancel;
};

void migctl_fd_sink(struct migctl_fd_endpoint *ep, struct migctl_sink *sink);
void migctl_fd_source(struct migctl_fd_endpoint *ep, struct migctl_source *source);

/* ---- check: the v2 contract as rules run against a device (check.c) */

enum migctl_verdict {
	MIGCTL_PASS,
	MIGCTL_WARN, /* departs from a "should" */
	MIGCTL_FAIL, /* breaks a "must" */
	MIGCTL_SKIP, /* not applicable here; the detail says why */
	MIGCTL_NR_VERDICTS
};

/* "pass", "warn", "fail", "skip" */
const char *migctl_verdict_name(enum migctl_verdict verdict);

struct migctl_rule {
	const char *id;	       /* stable: "fsm.arcs" */
	const char *statement; /* what the device must (or should) do, one line */
	const char *source;    /* where the uAPI says so */
};

/* The rules, in the order they run */
size_t migctl_rule_count(void);
const struct migctl_rule *migctl_rule(size_t index);

#define MIGCTL_DETAIL_MAX 512

struct migctl_rule_result {
	enum migctl_verdict verdict;
	char detail[MIGCTL_DETAIL_MAX];
};

/* What check saves of a device into memory, at most (its state, whole) */
#define MIGCTL_CHECK_STATE_MAX (64u << 20)

struct migctl_check_opts {
	/* run even where the device's state cannot be saved to be put back */
	bool force;
	size_t state_max; /* 0: MIGCTL_CHECK_STATE_MAX */
	/* check's saves and a rule's reads stop when it is set; the device is still put back */
	volatile sig_atomic_t *cancel;
};

/* What check found on a device, and how it left it */
struct migctl_putback {
	enum migctl_state found; /* MIGCTL_NR_STATES: not read */
	uint64_t mig_flags;
	int save_err; /* 0: the state was saved (saved_bytes) */
	uint64_t saved_bytes;
	uint64_t estimate;	     /* MIG_DATA_SIZE when found; 0 if not offered */
	bool attempted;		     /* the put back was tried */
	int restore_err;	     /* 0: put back as found */
	enum migctl_fail_at fail_at; /* where resuming the saved state failed, if it did */
	enum migctl_state final;     /* MIGCTL_NR_STATES: unknown */
	bool reset;		     /* a reset was needed to get it back */
};

struct migctl_check;

/*
 * A check of @dev, with @dev2 (NULL: none) for the round trip.  Nothing is
 * asked of a device yet.
 */
int migctl_check_new(struct migctl_dev *dev, struct migctl_dev *dev2,
		     const struct migctl_check_opts *opts, struct migctl_check **check);
void migctl_check_free(struct migctl_check *check);
/*
 * Note each device's state and save its data into memory, to put it back
 * afterwards.  Refused, nothing changed: -EBADFD in ERROR, -EBUSY in a data
 * state (a session is open), -ENOTTY no migration, -EPROTO GET gave no
 * state.  Without opts->force also refused when the state cannot be saved
 * (putback->save_err): -EOPNOTSUPP no STOP_COPY, -EFBIG above the bound,
 * or why the save failed (the device is put back as found).  -EINTR when
 * opts->cancel was set during a save (the device is put back as found).
 * @which (0 or 1) is the device that refused.
 */
int migctl_check_save(struct migctl_check *check, int *which);
/*
 * Run rule @index; every rule leaves the device as it found it.  -EINTR
 * when opts->cancel was set meanwhile: the rule did not finish, and
 * @result is not a verdict.
 */
int migctl_check_run(struct migctl_check *check, size_t index, struct migctl_rule_result *result);
/*
 * Resume each saved state and return the device to the state found;
 * an unsaved one only to the state.  The first failure's -errno.
 */
int migctl_check_restore(struct migctl_check *check);
/* Device 0 (DEV) or 1 (DEV2; NULL without one) */
const struct migctl_putback *migctl_check_putback(const struct migctl_check *check, int which);

#endif /* MIGCTL_H */
