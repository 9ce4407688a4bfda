// SPDX-License-Identifier: GPL-2.0-only
/*
 * migsim: a simulated VFIO migration device, for testing vfio-migctl.
 *
 * An mdev driver (parent /sys/class/mdev_bus/migsim) whose devices have no
 * hardware behind them, only a migration state that can be made big, and
 * that can be told to misbehave.  They are emulated-IOMMU vfio devices like
 * the kernel's mtty sample, so each gets /dev/vfio/N and
 * /dev/vfio/devices/vfioN.  VFIO_DEVICE_GET_INFO says "platform" with
 * VFIO_DEVICE_FLAGS_RESET, no regions and no interrupts.
 *
 * Types (the migration flags are fixed when the device is created):
 *   migsim-full     STOP_COPY | P2P | PRE_COPY   (not on 6.1)
 *   migsim-p2p      STOP_COPY | P2P
 *   migsim-precopy  STOP_COPY | PRE_COPY         (not on 6.1)
 *   migsim-basic    STOP_COPY
 *   migsim-none     no migration support at all
 *
 * It builds against the rig's two kernels, 6.12 and Debian 12's 6.1, and
 * offers what the kernel it is built for can carry.  Linux 6.1 predates
 * PRE_COPY, MIG_DATA_SIZE and iommufd: built for it, migsim has no PRE_COPY
 * types, none of the PRE_COPY attributes below, no precopy-info ioctl, no
 * feature 12, no data-size estimate, and only /dev/vfio/N (the kernel's
 * vfio-dev/vfioN class device there has no node).
 *
 * The device state S is SIZE bytes whose content is a function of
 * (SEED, offset): nothing is held in memory, so SIZE may be many GiB.  Its
 * digest is a 64-bit hash of S in order.  A destination keeps only what a
 * stream proves: the stream carries SEED and SIZE, every byte of S, and the
 * digests the source computed while sending; RESUMING -> STOP accepts the
 * stream only if the digests computed over the bytes written agree, and
 * only then does the device take the new SEED, SIZE and digest.  Comparing
 * the digest files of source and destination thus compares the states.
 *
 * Per-device attributes, in /sys/bus/mdev/devices/UUID/migsim/:
 *   size             bytes of state (K, M, G suffixes; default 1M)
 *   seed             content seed (default random)
 *   digest     (ro)  hash of the current state, 16 hex digits
 *   state      (ro)  migration state, without opening the device
 *   precopy_initial  bytes of S sent as PRE_COPY initial data (default 0)
 *   dirty_bytes      PRE_COPY: bytes the device dirties per round ...
 *   dirty_rounds     ... for this many rounds; then reads fail ENOMSG
 *   dirty_rate       bytes a second the device dirties while it runs, in
 *                    PRE_COPY or PRE_COPY_P2P (0: off, the default; when
 *                    set, dirty_bytes and dirty_rounds are not used): the
 *                    rate model, below
 *   reinit_after     once this many bytes were read in a PRE_COPY session,
 *                    the next VFIO_MIG_GET_PRECOPY_INFO re-initialises the
 *                    device, once: S[0, reinit_bytes) is initial data
 *                    again (with any initial data not yet sent), the dirt
 *                    pending is initial data too, dirty_bytes restarts
 *                    from 0, and that call reports VFIO_PRECOPY_INFO_REINIT
 *                    if the device was opted in (-1: never; the default)
 *   reinit_bytes     see reinit_after (default 4K; at most SIZE)
 *   no_v2            1: feature 12 is not offered (ENOTTY, as from a
 *                    driver on a kernel before 7.1, which cannot opt in:
 *                    PRECOPY_INFO's flags stay the caller's, and a
 *                    re-initialisation goes unreported); 0 (default)
 *   drop_dirty       1: once stopped, the device declares the dirt still
 *                    pending but does not re-send it (a driver that loses
 *                    its dirty tracking): its destination refuses the
 *                    stream (default 0)
 *   dirtied    (ro)  the bytes the device dirtied in its last save session
 *                    (rate model), or that the last stream it accepted
 *                    declared dirty and proved re-sent: after a migration
 *                    the destination's equals the source's, like the digest
 *                    (these nine only where the kernel has PRE_COPY)
 *   fail_arc         "FROM TO ERRNO [error]": the arc FROM -> TO fails
 *                    with -ERRNO, leaving the device in FROM, or with
 *                    "error" in ERROR; "none" disarms (state names as in
 *                    the uAPI, case-insensitive)
 *   fail_read_after  data_fd read() fails EIO once this many bytes have
 *                    been read in the session (-1: never; the default)
 *   fail_write_after the same for write() while RESUMING
 *   short_io         at most this many bytes per read()/write() (0: no cap)
 *   delay_us         each read()/write() sleeps this long first
 *   reset_on_close   1: closing the device returns it to RUNNING (like
 *                    pds, xe, mlx5); 0: it keeps its state (like mtty)
 *   fail_reset       ERRNO: VFIO_DEVICE_RESET fails with -ERRNO and
 *                    changes nothing (0: it works; the default)
 *   stall_write_after  write() returns 0 (no progress, no error) once
 *                    this many bytes have been written in a RESUMING
 *                    session (-1: never; the default)
 *   arcs             the state changes since it was last written (any
 *                    write clears it): "FROM>TO" per arc the device took,
 *                    "reset" per VFIO_DEVICE_RESET, oldest first, the last
 *                    64 at most
 *   arcs_seq         the same arcs, on a log of its own (any write clears
 *                    it, not arcs), one per line as "SEQ FROM>TO" or "SEQ
 *                    reset": SEQ counts the arcs of every migsim device
 *                    (module-wide, from 1 at load, never reused), so the
 *                    logs of several devices merge into the order the arcs
 *                    were taken in (a device set's barrier: every member in
 *                    RUNNING_P2P before any leaves it for STOP_COPY)
 *   error_sets (ro)  SETs of the migration state received while in ERROR,
 *                    which the uAPI leaves only by VFIO_DEVICE_RESET: a
 *                    witness that does not depend on the core's WARN
 *   reset_count, load_count, load_errors (ro)  VFIO_DEVICE_RESETs,
 *                    streams accepted and refused at RESUMING -> STOP
 *   break            a rule of `vfio-migctl check` (its id) that the
 *                    device breaks on purpose, so that a test can show the
 *                    rule fail; "none" (the default) mends it:
 *     flags.stop-copy           MIGRATION flags without STOP_COPY (the
 *                               core then refuses every state change)
 *     state.get                 GET gives 8, past the enum, in RUNNING_P2P
 *     fsm.arcs                  RUNNING -> RUNNING_P2P lands in STOP
 *     fsm.unsupported-einval    a SET to a state not offered, or past the
 *                               enum, succeeds and changes nothing
 *     fsm.error-refused         a SET to ERROR succeeds: the device is in ERROR
 *     fsm.blocked-arcs          STOP_COPY -> PRE_COPY(_P2P) are taken
 *     data.new-fd               RUNNING_P2P -> PRE_COPY_P2P returns no data_fd
 *     data.precopy-keeps-fd     PRE_COPY* -> STOP_COPY opens a new session
 *     data.old-fd-dead          leaving a saving state leaves its data_fd
 *                               working
 *     data.eof-sticks           after the first 0, read() gives END again
 *     data.no-seek              data_fds take lseek(), pread(), pwrite()
 *     precopy.info-states       PRECOPY_INFO works in STOP_COPY
 *     precopy.initial-decreases initial_bytes stays at its first value until
 *                               the initial data is all read
 *     precopy.enomsg            read() returns 0 at PRE_COPY's temporary end
 *     precopy.reinit-flags      after the opt-in, PRECOPY_INFO's flags keep
 *                               the caller's bits and gain bit 1 (undefined)
 *     precopy.reinit-dirty      the REINIT report claims 4K more dirty_bytes
 *                               than there are (the count not restarted)
 *     precopy.reinit-einval     feature 12 is accepted (PROBE and SET) on a
 *                               device without PRE_COPY
 *     data-size.estimate        MIG_DATA_SIZE says an eighth of the length
 *     resume.empty-refused      RESUMING -> STOP accepts an empty stream
 *     resume.truncated-refused  RESUMING -> STOP accepts a stream cut after
 *                               its header, and loads garbage from it
 *     resume.own-accepted       a stream whose record header was split
 *                               across write()s is refused
 *     reset.every-state         VFIO_DEVICE_RESET in STOP_COPY changes nothing
 *     reset.flag                GET_INFO without VFIO_DEVICE_FLAGS_RESET
 *     dma.start-report-stop     DMA_LOGGING_REPORT fails with EIO
 *     dma.refused               a second DMA_LOGGING_START, and a REPORT with
 *                               logging off, succeed
 *     roundtrip.equal           saving sends S as two DATA records (a valid
 *                               stream, other bytes)
 *                    (the PRE_COPY and data-size ones only where the kernel
 *                    has those).  Data sessions take it when they start.
 * Feature 12, VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 (Linux 7.1, where the
 * core answers it; here migsim's device_feature op does the same): PROBE
 * and SET (no payload) succeed on a device with PRE_COPY, GET fails
 * EINVAL, and every use fails EINVAL on a device without PRE_COPY.  A SET
 * opts the device in until its last close (as vfio-pci's core clears it
 * in close_device; VFIO_DEVICE_RESET keeps it): from then on PRECOPY_INFO
 * zeroes flags and sets VFIO_PRECOPY_INFO_REINIT in the one call that
 * reports a re-initialisation.  Before the opt-in, flags come back as the
 * caller passed them, as from every driver before 7.1.
 *
 * The I/O faults and the PRE_COPY model are read when a data session
 * starts.  size and seed cannot change while a session is open (EBUSY).
 * VFIO_DEVICE_RESET (and reset_on_close) aborts any session and returns to
 * RUNNING; the state content is configuration and survives it.  Devices
 * with migration offer DMA logging; they do no DMA, so nothing is ever
 * logged, but START, REPORT and STOP keep the uAPI's order.
 *
 * The stream (the bytes of the data_fd) is a sequence of 32-byte records,
 * little-endian, each maybe followed by payload:
 *   HDR   a = SIZE, b = SEED, c = version
 *   DATA  a = offset, b = length; followed by S[offset, offset + length)
 *   DIRTY a = offset, b = length: the device dirtied S[offset, offset +
 *         length), going round S past its end (the rate model only)
 *   END   a = digest of S, b = digest of everything else before END
 * Saving sends HDR, then in PRE_COPY the initial bytes S[0, initial) and
 * one DATA record of S[0, dirty_bytes) per dirty round (the device
 * rewrites those bytes while it runs), then in STOP_COPY the rest of S and
 * END.  A DATA record may only resend bytes already sent or extend them.
 * In PRE_COPY a read() returns at most what is left of one record: the
 * next dirty round appears once a read has finished the previous one, and
 * when the rounds are spent read() fails ENOMSG.  The round pending when
 * the device stops goes first in STOP_COPY.  A data_fd whose session
 * ended (a state change, reset, close of the device) fails ENODEV.
 *
 * The rate model (dirty_rate > 0).  The device writes S in order, round
 * and round from offset 0, dirty_rate bytes a second from the moment the
 * session enters PRE_COPY until the device stops; the dirt pending is the
 * stretch it wrote since the last re-send, never more than all of S (the
 * cursor then runs over bytes already dirty).  Since content is a function
 * of (SEED, offset), dirt changes no byte: it is an obligation.  After the
 * initial data, each read() in PRE_COPY takes what is dirty when it
 * starts: a DIRTY record that declares it, then DATA records that re-send
 * it (one per stretch between the ends of S), the first from offset 0 and
 * each from where the last ended, so each resends or extends what was
 * sent.  dirty_bytes counts those records' bytes; with nothing pending a
 * read fails ENOMSG.  STOP_COPY declares and re-sends the dirt still
 * pending, then sends the rest of S and END.  A destination follows the
 * declarations: a DIRTY record must go on from where the last ended and
 * may not make more than SIZE pending; a DATA record that covers the
 * oldest pending byte cleans as far as it covers, in order; RESUMING ->
 * STOP refuses the stream while anything it declared is still dirty.
 * Every byte dirtied is thus proven re-sent after it was dirtied, and the
 * digests prove which bytes those were.
 */
#include <linux/anon_inodes.h>
#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/vfio.h>

/*
 * What differs between the kernels migsim builds for, each switched on
 * what the headers define where they can tell, else on the version:
 * - PRE_COPY and MIG_DATA_SIZE (uAPI flags, the precopy-info ioctl and the
 *   driver's data-size callback) arrived together in 6.2; their uAPI
 *   #defines say whether this kernel has them.
 * - The iommufd callbacks of an emulated device exist from 6.2 on (6.1 has
 *   no iommufd); only 6.1 and 6.12 are built and tried here.
 * - class_create() lost its owner argument in 6.4.
 * - The unaligned accessors moved to <linux/unaligned.h> in 6.12.
 */
#ifdef VFIO_MIGRATION_PRE_COPY
#define MSIM_HAVE_PRECOPY 1
#else
#define MSIM_HAVE_PRECOPY 0
#endif
#ifdef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define MSIM_HAVE_DATA_SIZE 1
#else
#define MSIM_HAVE_DATA_SIZE 0
#endif
#define MSIM_HAVE_IOMMUFD (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0))
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define msim_class_create(name) class_create(name)
#else
#define msim_class_create(name) class_create(THIS_MODULE, name)
#endif
#if __has_include(<linux/unaligned.h>)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/*
 * Linux 7.1's opt-in to a PRECOPY_INFO whose flags are output, and its one
 * flag.  There the core answers feature 12 itself; on the kernels migsim
 * builds for, its device_feature op does, as the core would.
 */
#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12
#endif
#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT (1 << 0)
#endif

#define MSIM_MAGIC 0x4d49534d /* "MSIM" */
#define MSIM_VERSION 1
#define MSIM_MAX_SIZE BIT_ULL(40)
#define MSIM_BUF_SIZE (64 * 1024)

enum { REC_HDR = 1, REC_DATA, REC_END, REC_DIRTY };

struct msim_rec {
	__le32 magic;
	__le32 type;
	__le64 a, b, c;
};

#define REC_SIZE sizeof(struct msim_rec)

/* What a saving session is sending; for PRECOPY_INFO and the estimate */
enum msim_kind { K_NONE, K_HDR, K_INITIAL, K_DIRTY, K_REST, K_END, K_EOF };

/* A byte-stream hash over little-endian 64-bit words (xxh64's primes) */
#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL

struct msim_hash {
	u64 h, len, tail;
	unsigned int ntail;
};

static const struct msim_hash msim_hash_init = { .h = P3 };

static inline u64 msim_round(u64 h, u64 w)
{
	return rol64(h ^ (w * P2), 31) * P1;
}

static void msim_hash_update(struct msim_hash *hs, const u8 *p, size_t n)
{
	u64 h = hs->h;

	hs->len += n;
	for (; hs->ntail && n; n--) {
		hs->tail |= (u64)*p++ << (8 * hs->ntail);
		if (++hs->ntail == 8) {
			h = msim_round(h, hs->tail);
			hs->tail = 0;
			hs->ntail = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8)
		h = msim_round(h, get_unaligned_le64(p));
	for (; n; n--)
		hs->tail |= (u64)*p++ << (8 * hs->ntail++);
	hs->h = h;
}

static u64 msim_hash_final(const struct msim_hash *hs)
{
	u64 h = hs->h;

	if (hs->ntail)
		h = msim_round(h, hs->tail);
	h ^= hs->len;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	return h ^ (h >> 32);
}

/* Word i of the content of S (splitmix64) */
static inline u64 msim_word(u64 seed, u64 i)
{
	u64 z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* S[off, off + n) into @p */
static void msim_gen(u64 seed, u64 off, u8 *p, size_t n)
{
	while (n && (off & 7)) {
		*p++ = msim_word(seed, off >> 3) >> (8 * (off & 7));
		off++;
		n--;
	}
	for (; n >= 8; p += 8, off += 8, n -= 8)
		put_unaligned_le64(msim_word(seed, off >> 3), p);
	for (; n; n--, off++)
		*p++ = msim_word(seed, off >> 3) >> (8 * (off & 7));
}

/* The digest of S without materialising it */
static u64 msim_digest(u64 seed, u64 size)
{
	struct msim_hash hs = msim_hash_init;
	u64 i, words = size >> 3;

	for (i = 0; i < words; i++) {
		hs.h = msim_round(hs.h, msim_word(seed, i));
		if (!(i & 0xfffff))
			cond_resched();
	}
	hs.len = size;
	hs.ntail = size & 7;
	if (hs.ntail)
		hs.tail = msim_word(seed, words) & GENMASK_ULL(8 * hs.ntail - 1, 0);
	return msim_hash_final(&hs);
}

struct msim_type {
	struct mdev_type type;
	u32 mig_flags;
};

struct msim_arc_fault {
	bool armed;
	bool to_error;
	enum vfio_device_mig_state from, to;
	int err;
};

/* The rule of vfio-migctl check a device breaks (break attribute) */
enum msim_break {
	B_NONE,
	B_FLAGS,
	B_STATE_GET,
	B_ARCS,
	B_UNSUPPORTED,
	B_ERROR,
	B_BLOCKED,
	B_NEW_FD,
	B_KEEPS_FD,
	B_OLD_FD,
	B_EOF,
	B_SEEK,
	B_INFO_STATES,
	B_INITIAL,
	B_ENOMSG,
	B_REINIT_FLAGS,
	B_REINIT_DIRTY,
	B_V2_EINVAL,
	B_DATA_SIZE,
	B_EMPTY,
	B_TRUNCATED,
	B_SEGMENTS,
	B_RESET,
	B_RESET_FLAG,
	B_DMA_CYCLE,
	B_DMA_REFUSED,
	B_ROUNDTRIP,
	B_NR
};

static const char *const msim_break_names[B_NR] = {
	[B_NONE] = "none",
	[B_FLAGS] = "flags.stop-copy",
	[B_STATE_GET] = "state.get",
	[B_ARCS] = "fsm.arcs",
	[B_UNSUPPORTED] = "fsm.unsupported-einval",
	[B_ERROR] = "fsm.error-refused",
	[B_BLOCKED] = "fsm.blocked-arcs",
	[B_NEW_FD] = "data.new-fd",
	[B_KEEPS_FD] = "data.precopy-keeps-fd",
	[B_OLD_FD] = "data.old-fd-dead",
	[B_EOF] = "data.eof-sticks",
	[B_SEEK] = "data.no-seek",
	[B_INFO_STATES] = "precopy.info-states",
	[B_INITIAL] = "precopy.initial-decreases",
	[B_ENOMSG] = "precopy.enomsg",
	[B_REINIT_FLAGS] = "precopy.reinit-flags",
	[B_REINIT_DIRTY] = "precopy.reinit-dirty",
	[B_V2_EINVAL] = "precopy.reinit-einval",
	[B_DATA_SIZE] = "data-size.estimate",
	[B_EMPTY] = "resume.empty-refused",
	[B_TRUNCATED] = "resume.truncated-refused",
	[B_SEGMENTS] = "resume.own-accepted",
	[B_RESET] = "reset.every-state",
	[B_RESET_FLAG] = "reset.flag",
	[B_DMA_CYCLE] = "dma.start-report-stop",
	[B_DMA_REFUSED] = "dma.refused",
	[B_ROUNDTRIP] = "roundtrip.equal",
};

/* What a kernel without PRE_COPY or MIG_DATA_SIZE cannot carry */
static bool msim_break_available(enum msim_break b)
{
	switch (b) {
	case B_BLOCKED:
	case B_KEEPS_FD:
	case B_INFO_STATES:
	case B_INITIAL:
	case B_ENOMSG:
	case B_REINIT_FLAGS:
	case B_REINIT_DIRTY:
	case B_V2_EINVAL:
		return MSIM_HAVE_PRECOPY;
	case B_DATA_SIZE:
		return MSIM_HAVE_DATA_SIZE;
	default:
		return true;
	}
}

struct msim_file;

struct msim_dev {
	struct vfio_device vdev;
	struct mutex lock; /* everything below; taken before msim_file.lock */
	enum vfio_device_mig_state state;
	struct msim_file *migf; /* the open data session, if any */
	u64 size, seed, digest;
	bool digest_valid;
	/* PRE_COPY model and faults: copied into each session */
	u64 precopy_initial, dirty_bytes;
	u32 dirty_rounds;
	u64 dirty_rate, reinit_bytes;
	s64 reinit_after;
	bool drop_dirty;
	bool no_v2;	 /* feature 12 not offered */
	bool precopy_v2; /* feature 12 SET: until the device's last close */
	u64 dirtied; /* the rate model's dirt of the last save, or load */
	s64 fail_read_after, fail_write_after;
	u32 short_io, delay_us;
	struct msim_arc_fault fail_arc;
	bool reset_on_close;
	u32 fail_reset;
	s64 stall_write_after;
	u64 error_sets, reset_count, load_count, load_errors;
	enum msim_break brk;
	u32 type_flags; /* the type's migration flags (break may hide one) */
	bool logging;   /* DMA logging started */
	/* the arc log: MSIM_ARCS_MAX entries, from/to pairs; a reset is ERROR>ERROR */
	u8 arcs[64][2];
	u32 n_arcs;
	/* arcs_seq's log: the same arcs with their module-wide number */
	struct msim_seq_arc {
		u64 seq;
		u8 from, to;
	} seq_arcs[64];
	u32 n_seq_arcs;
};

#define MSIM_ARCS_MAX 64

/* Numbers every arc of every device: one order across devices */
static atomic64_t msim_arc_seq = ATOMIC64_INIT(0);

/* Called under md->lock, at the moment the arc is taken */
static void msim_log_arc(struct msim_dev *md, u8 from, u8 to)
{
	if (md->n_arcs == MSIM_ARCS_MAX) {
		memmove(md->arcs, md->arcs + 1, sizeof(md->arcs) - sizeof(md->arcs[0]));
		md->n_arcs--;
	}
	md->arcs[md->n_arcs][0] = from;
	md->arcs[md->n_arcs][1] = to;
	md->n_arcs++;

	if (md->n_seq_arcs == MSIM_ARCS_MAX) {
		memmove(md->seq_arcs, md->seq_arcs + 1,
			sizeof(md->seq_arcs) - sizeof(md->seq_arcs[0]));
		md->n_seq_arcs--;
	}
	md->seq_arcs[md->n_seq_arcs] = (struct msim_seq_arc){
		.seq = atomic64_inc_return(&msim_arc_seq), .from = from, .to = to
	};
	md->n_seq_arcs++;
}

/* A data session: the file behind a data_fd */
struct msim_file {
	struct file *filp;
	struct mutex lock; /* everything below but the constants */
	bool saving; /* constant: a save session, else a resume session */
	bool disabled;
	bool precopy; /* the device is in PRE_COPY*: ENOMSG when idle */
	/* constants of the session */
	u64 size, seed, initial, dirty;
	s64 fail_after, stall_after;
	u32 short_io, delay_us;
	/* the stream so far */
	u64 pos;
	enum msim_kind kind;
	struct msim_rec rec; /* current record header ... */
	unsigned int rec_pos; /* ... and how much of it is done */
	u64 data_off, data_left; /* current DATA payload */
	u64 mark; /* S[0, mark) has been sent or received */
	u32 rounds_left;
	u64 init_off, init_end; /* PRE_COPY initial data still to send */
	/*
	 * The rate model's dirt, as counts of a virtual write cursor that
	 * goes round S (offset = count mod SIZE): the device has dirtied
	 * [0, w), the stream has declared [0, decl) in DIRTY records and
	 * re-sent [0, d) since; init_end: dirt before it is initial data
	 * (a REINIT folded it in).  A destination keeps w and d alone.
	 */
	struct {
		u64 rate, t0, accrued; /* bytes/s, ns at PRE_COPY, bytes so far */
		u64 w, decl, d, init_end;
	} dirt;
	s64 reinit_after;
	u64 reinit_bytes;
	bool reinit_done, drop_dirty;
	bool v2; /* the device's feature 12 opt-in */
	bool hdr_done, end_done, broken;
	enum msim_break brk; /* the device's, when the session started */
	bool eof_told;       /* read() has returned 0 once */
	struct msim_hash state_hash; /* S, each byte once, in order */
	struct msim_hash aux_hash; /* every other byte before END */
	u64 end_state, end_aux; /* what the END record claimed */
	u8 *buf;
};

static atomic_t msim_sessions = ATOMIC_INIT(0);

static const char *const msim_state_names[] = {
	[VFIO_DEVICE_STATE_ERROR] = "ERROR",
	[VFIO_DEVICE_STATE_STOP] = "STOP",
	[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
	[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
	[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
	[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
#if MSIM_HAVE_PRECOPY
	[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
#endif
};

static int msim_parse_state(const char *s)
{
	int i, j;

	for (i = 0; i < ARRAY_SIZE(msim_state_names); i++) {
		const char *name = msim_state_names[i];

		for (j = 0; name[j] && s[j]; j++)
			if (toupper(s[j]) != name[j] &&
			    !(s[j] == '-' && name[j] == '_'))
				break;
		if (!name[j] && !s[j])
			return i;
	}
	return -EINVAL;
}

static bool msim_is_precopy(enum vfio_device_mig_state s)
{
#if MSIM_HAVE_PRECOPY
	return s == VFIO_DEVICE_STATE_PRE_COPY ||
	       s == VFIO_DEVICE_STATE_PRE_COPY_P2P;
#else
	return false;
#endif
}

/* ---- the data session's stream */

static void msim_set_rec(struct msim_file *mf, enum msim_kind kind, u32 type,
			 u64 a, u64 b, u64 c)
{
	mf->kind = kind;
	mf->rec = (struct msim_rec){
		.magic = cpu_to_le32(MSIM_MAGIC), .type = cpu_to_le32(type),
		.a = cpu_to_le64(a), .b = cpu_to_le64(b), .c = cpu_to_le64(c),
	};
	mf->rec_pos = 0;
	mf->data_left = 0;
}

static void msim_set_data(struct msim_file *mf, enum msim_kind kind, u64 off,
			  u64 len)
{
	msim_set_rec(mf, kind, REC_DATA, off, len, 0);
	mf->data_off = off;
	mf->data_left = len;
}

static bool msim_rec_done(const struct msim_file *mf)
{
	return mf->rec_pos == REC_SIZE && !mf->data_left;
}

static u64 msim_mod(u64 v, u64 size)
{
	u64 rem;

	div64_u64_rem(v, size, &rem);
	return rem;
}

/*
 * The rate model: while the device runs, it dirties dirt.rate bytes a
 * second, never more than all of S pending at once.
 */
static void msim_accrue(struct msim_file *mf)
{
	u64 total, inc, room;

	if (!mf->dirt.rate || !mf->precopy)
		return;
	total = mul_u64_u64_div_u64(mf->dirt.rate, ktime_get_ns() - mf->dirt.t0,
				    NSEC_PER_SEC);
	inc = total - mf->dirt.accrued;
	mf->dirt.accrued = total;
	room = mf->size - (mf->dirt.w - mf->dirt.d);
	mf->dirt.w += min(inc, room);
}

/*
 * Accrue, and let a DIRTY record nothing of which was read yet declare
 * all the dirt up to now: a read takes what is dirty when it starts.
 */
static void msim_accrue_now(struct msim_file *mf)
{
	msim_accrue(mf);
	if (mf->dirt.rate && !mf->rec_pos && le32_to_cpu(mf->rec.type) == REC_DIRTY &&
	    mf->dirt.w > mf->dirt.decl) {
		mf->rec.b = cpu_to_le64(le64_to_cpu(mf->rec.b) + mf->dirt.w - mf->dirt.decl);
		mf->dirt.decl = mf->dirt.w;
	}
}

/*
 * The rate model's next record, if any: re-send declared dirt in order,
 * a DATA record per stretch of the cursor (split where it wraps and where
 * folded dirt ends), else declare what was dirtied since.  The first
 * dirty stretch starts at 0 and each one where the last ended, so each
 * resends bytes already sent or extends them.
 */
static bool msim_next_dirt(struct msim_file *mf)
{
	u64 at, len;

	/* fault drop_dirty: once stopped, the dirt is declared, not re-sent */
	if (mf->drop_dirty && !mf->precopy)
		mf->dirt.d = mf->dirt.decl;
	if (mf->dirt.d == mf->dirt.decl) {
		msim_accrue(mf);
		if (mf->dirt.w == mf->dirt.decl)
			return false;
		msim_set_rec(mf, mf->dirt.decl < mf->dirt.init_end ? K_INITIAL : K_DIRTY,
			     REC_DIRTY, msim_mod(mf->dirt.decl, mf->size),
			     mf->dirt.w - mf->dirt.decl, 0);
		mf->dirt.decl = mf->dirt.w;
		return true;
	}
	at = msim_mod(mf->dirt.d, mf->size);
	len = min(mf->dirt.decl - mf->dirt.d, mf->size - at);
	if (mf->dirt.d < mf->dirt.init_end)
		len = min(len, mf->dirt.init_end - mf->dirt.d);
	msim_set_data(mf, mf->dirt.d < mf->dirt.init_end ? K_INITIAL : K_DIRTY, at, len);
	mf->dirt.d += len;
	return true;
}

/* The current record is done: choose the next one (saving) */
static void msim_next(struct msim_file *mf)
{
	if (!mf->hdr_done) {
		mf->hdr_done = true;
		msim_set_rec(mf, K_HDR, REC_HDR, mf->size, mf->seed,
			     MSIM_VERSION);
	} else if (mf->precopy) {
		if (mf->init_off < mf->init_end) {
			msim_set_data(mf, K_INITIAL, mf->init_off,
				      mf->init_end - mf->init_off);
			mf->init_off = mf->init_end;
		} else if (mf->dirt.rate) {
			if (!msim_next_dirt(mf))
				mf->kind = K_NONE;
		} else if (mf->rounds_left) {
			mf->rounds_left--;
			msim_set_data(mf, K_DIRTY, 0, min(mf->dirty, mf->size));
		} else {
			mf->kind = K_NONE;
		}
	} else if (mf->dirt.rate && msim_next_dirt(mf)) {
		/* stopped: the dirt still pending goes first */
	} else if (mf->mark < mf->size) {
		u64 len = mf->size - mf->mark;

		/* break roundtrip.equal: the same bytes of S in two records */
		if (mf->brk == B_ROUNDTRIP && mf->mark < mf->size / 2)
			len = mf->size / 2 - mf->mark;
		msim_set_data(mf, K_REST, mf->mark, len);
	} else if (!mf->end_done) {
		mf->end_done = true;
		msim_set_rec(mf, K_END, REC_END,
			     msim_hash_final(&mf->state_hash),
			     msim_hash_final(&mf->aux_hash), mf->size);
	} else {
		mf->kind = K_EOF;
	}
	if (mf->kind == K_NONE || mf->kind == K_EOF)
		mf->rec_pos = REC_SIZE;
}

/*
 * Payload bytes at data_off: the first time a byte of S goes by it counts
 * toward the state's digest, a resent byte toward the other one.
 */
static void msim_account(struct msim_file *mf, const u8 *p, size_t n)
{
	if (mf->data_off < mf->mark) {
		size_t k = min_t(u64, n, mf->mark - mf->data_off);

		msim_hash_update(&mf->aux_hash, p, k);
		p += k;
		n -= k;
		mf->data_off += k;
		mf->data_left -= k;
	}
	if (n) {
		msim_hash_update(&mf->state_hash, p, n);
		mf->data_off += n;
		mf->data_left -= n;
		mf->mark = mf->data_off;
	}
}

#if MSIM_HAVE_PRECOPY || MSIM_HAVE_DATA_SIZE
/* Bytes left in the current record */
static u64 msim_rec_left(const struct msim_file *mf)
{
	return REC_SIZE - mf->rec_pos + mf->data_left;
}
#endif

#if MSIM_HAVE_PRECOPY || MSIM_HAVE_DATA_SIZE
/* The DATA records that re-send the dirt of [lo, hi), as msim_next_dirt() cuts them */
static void msim_dirt_records(const struct msim_file *mf, u64 lo, u64 hi,
			      u64 *initial, u64 *dirty)
{
	while (lo < hi) {
		u64 end = min(hi, lo + mf->size - msim_mod(lo, mf->size));

		if (lo < mf->dirt.init_end)
			end = min(end, mf->dirt.init_end);
		*(lo < mf->dirt.init_end ? initial : dirty) += REC_SIZE + end - lo;
		lo = end;
	}
}

/* The stream bytes the rate model's pending dirt takes, as initial or dirty data */
static void msim_dirt_len(const struct msim_file *mf, u64 *initial, u64 *dirty)
{
	if (!mf->dirt.rate)
		return;
	if (mf->dirt.w > mf->dirt.decl) /* a DIRTY record to come */
		*(mf->dirt.decl < mf->dirt.init_end ? initial : dirty) += REC_SIZE;
	msim_dirt_records(mf, mf->dirt.d, mf->dirt.decl, initial, dirty);
	msim_dirt_records(mf, mf->dirt.decl, mf->dirt.w, initial, dirty);
}
#endif

#if MSIM_HAVE_DATA_SIZE
/* MIG_DATA_SIZE: what STOP_COPY would send from here */
static u64 msim_stopcopy_len(const struct msim_file *mf)
{
	u64 mark = mf->mark, len;

	if (mf->kind == K_EOF)
		return 0;
	if (mf->kind == K_END)
		return msim_rec_left(mf);
	len = msim_rec_left(mf) + REC_SIZE; /* the current record, END */
	if (mf->data_left)
		mark = max(mark, mf->data_off + mf->data_left);
	/* the dirt pending goes first, and may extend what was sent */
	if (mf->dirt.d < mf->dirt.w) {
		u64 at = msim_mod(mf->dirt.d, mf->size), dirt = 0;

		msim_dirt_len(mf, &dirt, &dirt);
		len += dirt;
		mark = max(mark, min(mf->size, at + mf->dirt.w - mf->dirt.d));
	}
	if (mark < mf->size)
		len += REC_SIZE + mf->size - mark;
	return len;
}
#endif

/* A slow device: sleep (outside the lock) before each read or write */
static int msim_delay(const struct msim_file *mf)
{
	ktime_t t = ns_to_ktime((u64)mf->delay_us * NSEC_PER_USEC);

	if (!mf->delay_us)
		return 0;
	set_current_state(TASK_INTERRUPTIBLE);
	schedule_hrtimeout(&t, HRTIMER_MODE_REL);
	return signal_pending(current) ? -ERESTARTSYS : 0;
}

/* Cap the count, fail after N bytes: the session's other I/O faults */
static ssize_t msim_io_start(struct msim_file *mf, size_t len)
{
	if (mf->short_io)
		len = min_t(size_t, len, mf->short_io);
	if (mf->fail_after >= 0) {
		if (mf->pos >= mf->fail_after)
			return -EIO;
		len = min_t(u64, len, mf->fail_after - mf->pos);
	}
	/* A driver that makes no progress: 0, neither data nor error */
	if (mf->stall_after >= 0) {
		if (mf->pos >= mf->stall_after)
			return 0;
		len = min_t(u64, len, mf->stall_after - mf->pos);
	}
	return len;
}

static ssize_t msim_save_read(struct file *filp, char __user *ubuf,
			      size_t len, loff_t *ppos)
{
	struct msim_file *mf = filp->private_data;
	size_t done = 0, n;
	ssize_t ret;

	if (ppos && mf->brk != B_SEEK)
		return -ESPIPE;
	ret = msim_delay(mf);
	if (ret)
		return ret;
	mutex_lock(&mf->lock);
	ret = -ENODEV;
	if (mf->disabled)
		goto out;
	ret = msim_io_start(mf, len);
	if (ret < 0)
		goto out;
	len = ret;
	msim_accrue_now(mf);
	/* break data.eof-sticks: the end is not permanent, END comes again */
	if (mf->brk == B_EOF && mf->eof_told && mf->kind == K_EOF)
		mf->end_done = false;
	while (done < len) {
		if (msim_rec_done(mf)) {
			/*
			 * While running, a read ends with its record: the
			 * device dirties more before the next one.  A DIRTY
			 * record goes with the data it announces.
			 */
			if (done && mf->precopy && le32_to_cpu(mf->rec.type) != REC_DIRTY)
				break;
			msim_next(mf);
			if (mf->kind == K_NONE || mf->kind == K_EOF)
				break;
		}
		if (mf->rec_pos < REC_SIZE) {
			n = min_t(size_t, len - done, REC_SIZE - mf->rec_pos);
			memcpy(mf->buf, (u8 *)&mf->rec + mf->rec_pos, n);
		} else {
			n = min3(len - done, (size_t)MSIM_BUF_SIZE,
				 (size_t)min_t(u64, mf->data_left, SIZE_MAX));
			msim_gen(mf->seed, mf->data_off, mf->buf, n);
		}
		if (copy_to_user(ubuf + done, mf->buf, n)) {
			ret = -EFAULT;
			goto out;
		}
		if (mf->rec_pos < REC_SIZE) {
			if (mf->kind != K_END)
				msim_hash_update(&mf->aux_hash, mf->buf, n);
			mf->rec_pos += n;
		} else {
			msim_account(mf, mf->buf, n);
		}
		done += n;
		mf->pos += n;
		cond_resched();
	}
	ret = done;
	if (!done && len && mf->kind == K_NONE && mf->brk != B_ENOMSG)
		ret = -ENOMSG;
	if (!done && len && mf->kind == K_EOF)
		mf->eof_told = true;
out:
	mutex_unlock(&mf->lock);
	/* bytes copied out are consumed: report them before any fault */
	return done ? done : ret;
}

/*
 * A DATA record written: the dirt declared so far that it re-sends, from
 * the oldest on, is clean again.
 */
static void msim_clear_dirt(struct msim_file *mf, u64 off, u64 len)
{
	while (mf->dirt.d < mf->dirt.w) {
		u64 at = msim_mod(mf->dirt.d, mf->size);

		if (at < off || at - off >= len)
			break;
		mf->dirt.d += min3(off + len - at, mf->dirt.w - mf->dirt.d, mf->size - at);
	}
}

/* A record header has been written in full: check it, and take it */
static int msim_parse_rec(struct msim_file *mf)
{
	const struct msim_rec *r = &mf->rec;
	u64 a = le64_to_cpu(r->a), b = le64_to_cpu(r->b), c = le64_to_cpu(r->c);
	u32 type = le32_to_cpu(r->type);

	if (le32_to_cpu(r->magic) != MSIM_MAGIC || mf->end_done)
		return -EINVAL;
	if (type != REC_HDR && !mf->hdr_done)
		return -EINVAL;
	switch (type) {
	case REC_HDR:
		if (mf->hdr_done || c != MSIM_VERSION || a > MSIM_MAX_SIZE)
			return -EINVAL;
		mf->hdr_done = true;
		mf->size = a;
		mf->seed = b;
		break;
	case REC_DATA:
		/* resend or extend what is there, never leave a hole */
		if (a > mf->mark || b > mf->size || a > mf->size - b)
			return -EINVAL;
		mf->data_off = a;
		mf->data_left = b;
		msim_clear_dirt(mf, a, b);
		break;
	case REC_DIRTY:
		/* the next stretch of the cursor, never more than all of S pending */
		if (!mf->size || !b || b > mf->size - (mf->dirt.w - mf->dirt.d) ||
		    a != msim_mod(mf->dirt.w, mf->size))
			return -EINVAL;
		mf->dirt.w += b;
		break;
	case REC_END:
		if (c != mf->size)
			return -EINVAL;
		mf->end_done = true;
		mf->end_state = a;
		mf->end_aux = b;
		return 0; /* neither hashed nor followed by anything */
	default:
		return -EINVAL;
	}
	msim_hash_update(&mf->aux_hash, (const u8 *)r, REC_SIZE);
	if (!mf->data_left)
		mf->rec_pos = 0;
	return 0;
}

static ssize_t msim_resume_write(struct file *filp, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	struct msim_file *mf = filp->private_data;
	size_t done = 0, n;
	ssize_t ret;

	if (ppos && mf->brk != B_SEEK)
		return -ESPIPE;
	ret = msim_delay(mf);
	if (ret)
		return ret;
	mutex_lock(&mf->lock);
	ret = -ENODEV;
	if (mf->disabled)
		goto out;
	ret = -EINVAL;
	if (mf->broken)
		goto out;
	ret = msim_io_start(mf, len);
	if (ret < 0)
		goto out;
	len = ret;
	while (done < len) {
		if (mf->end_done) {
			ret = -EINVAL; /* nothing may follow END */
			mf->broken = true;
			goto out;
		}
		if (mf->rec_pos < REC_SIZE) {
			n = min_t(size_t, len - done, REC_SIZE - mf->rec_pos);
			if (copy_from_user((u8 *)&mf->rec + mf->rec_pos,
					   ubuf + done, n)) {
				ret = -EFAULT;
				goto out;
			}
			mf->rec_pos += n;
			if (mf->rec_pos == REC_SIZE) {
				ret = msim_parse_rec(mf);
				if (ret) {
					mf->broken = true;
					goto out;
				}
			}
		} else {
			n = min3(len - done, (size_t)MSIM_BUF_SIZE,
				 (size_t)min_t(u64, mf->data_left, SIZE_MAX));
			if (copy_from_user(mf->buf, ubuf + done, n)) {
				ret = -EFAULT;
				goto out;
			}
			msim_account(mf, mf->buf, n);
			if (!mf->data_left)
				mf->rec_pos = 0;
		}
		done += n;
		mf->pos += n;
		cond_resched();
	}
	ret = done;
	/* break resume.own-accepted: a driver that wants its own segmentation */
	if (mf->brk == B_SEGMENTS && mf->rec_pos && mf->rec_pos < REC_SIZE)
		mf->broken = true;
out:
	/* bytes taken are consumed, unless the stream was refused */
	if (ret < 0 && done && !mf->broken)
		ret = done;
	mutex_unlock(&mf->lock);
	return ret;
}

#if MSIM_HAVE_PRECOPY
/*
 * reinit_after: once that many bytes were read in PRE_COPY, the device
 * re-initialises: S[0, reinit_bytes) is initial data again.  Once per
 * session; true when it happens now.  msim_fold() makes the dirt initial.
 */
static bool msim_reinit(struct msim_file *mf)
{
	if (!mf->precopy || mf->reinit_done || mf->reinit_after < 0 ||
	    mf->pos < mf->reinit_after)
		return false;
	mf->reinit_done = true;
	/* initial data not yet sent stays initial */
	mf->init_end = max(mf->init_off < mf->init_end ? mf->init_end : 0, mf->reinit_bytes);
	mf->init_off = 0;
	return true;
}

/* The dirt pending, the rest of the current record included, is initial data now */
static void msim_fold(struct msim_file *mf)
{
	mf->dirt.init_end = mf->dirt.w;
	if (mf->kind == K_DIRTY)
		mf->kind = K_INITIAL;
}

static long msim_precopy_ioctl(struct file *filp, unsigned int cmd,
			       unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct msim_file *mf = filp->private_data;
	struct vfio_precopy_info info;
	bool reinit;
	int ret = 0;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	mutex_lock(&mf->lock);
	if (mf->disabled)
		ret = -ENODEV;
	else if (!mf->precopy && mf->brk != B_INFO_STATES)
		ret = -EINVAL;
	if (ret)
		goto out;
	reinit = msim_reinit(mf);
	if (msim_rec_done(mf))
		msim_next(mf);
	msim_accrue_now(mf);
	if (reinit)
		msim_fold(mf);
	info.initial_bytes = 0;
	info.dirty_bytes = 0;
	switch (mf->kind) {
	case K_HDR:
	case K_INITIAL:
		info.initial_bytes = msim_rec_left(mf);
		break;
	case K_DIRTY:
		info.dirty_bytes = msim_rec_left(mf);
		break;
	default:
		break;
	}
	if (mf->init_off < mf->init_end)
		info.initial_bytes += REC_SIZE + mf->init_end - mf->init_off;
	msim_dirt_len(mf, &info.initial_bytes, &info.dirty_bytes);
	/* break precopy.initial-decreases: the first figure until all is read */
	if (mf->brk == B_INITIAL && (mf->kind == K_HDR || mf->kind == K_INITIAL))
		info.initial_bytes = REC_SIZE + (mf->initial ? REC_SIZE + mf->initial : 0);
	/*
	 * flags: output after the opt-in (7.1's vfio_check_precopy_ioctl()
	 * zeroes them); before it, what the caller passed, as every driver
	 * did before 7.1
	 */
	if (mf->v2) {
		/* break precopy.reinit-flags: the caller's bits, and one undefined */
		if (mf->brk == B_REINIT_FLAGS)
			info.flags |= 1 << 1;
		else
			info.flags = 0;
		if (reinit)
			info.flags |= VFIO_PRECOPY_INFO_REINIT;
	}
	/* break precopy.reinit-dirty: the dirty count not restarted */
	if (reinit && mf->brk == B_REINIT_DIRTY)
		info.dirty_bytes += SZ_4K;
out:
	mutex_unlock(&mf->lock);
	if (!ret && copy_to_user((void __user *)arg, &info, minsz))
		ret = -EFAULT;
	return ret;
}
#endif

static int msim_release_file(struct inode *inode, struct file *filp)
{
	struct msim_file *mf = filp->private_data;

	mutex_destroy(&mf->lock);
	kvfree(mf->buf);
	kfree(mf);
	atomic_dec(&msim_sessions);
	return 0;
}

static const struct file_operations msim_save_fops = {
	.owner = THIS_MODULE,
	.read = msim_save_read,
	.llseek = noop_llseek, /* stream_open() makes it unreachable */
#if MSIM_HAVE_PRECOPY
	.unlocked_ioctl = msim_precopy_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
#endif
	.release = msim_release_file,
};

static const struct file_operations msim_resume_fops = {
	.owner = THIS_MODULE,
	.write = msim_resume_write,
	.llseek = noop_llseek,
	.release = msim_release_file,
};

/* ---- sessions and the state machine (under msim_dev.lock) */

static struct msim_file *msim_open_session(struct msim_dev *md, bool saving,
					   bool precopy)
{
	struct msim_file *mf;
	int ret = -ENOMEM;

	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return ERR_PTR(-ENOMEM);
	mf->buf = kvmalloc(MSIM_BUF_SIZE, GFP_KERNEL_ACCOUNT);
	if (!mf->buf)
		goto err_free;
	mf->filp = anon_inode_getfile("migsim_mig",
				      saving ? &msim_save_fops : &msim_resume_fops,
				      mf, saving ? O_RDONLY : O_WRONLY);
	if (IS_ERR(mf->filp)) {
		ret = PTR_ERR(mf->filp);
		goto err_free;
	}
	atomic_inc(&msim_sessions);
	/* break data.no-seek: a file with positions, as a stream must not have */
	if (md->brk == B_SEEK)
		mf->filp->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	else
		stream_open(mf->filp->f_inode, mf->filp);
	mutex_init(&mf->lock);
	mf->brk = md->brk;
	mf->saving = saving;
	mf->state_hash = msim_hash_init;
	mf->aux_hash = msim_hash_init;
	mf->short_io = md->short_io;
	mf->delay_us = md->delay_us;
	if (saving) {
		mf->precopy = precopy;
		mf->size = md->size;
		mf->seed = md->seed;
		mf->initial = min(md->precopy_initial, md->size);
		mf->dirty = md->dirty_bytes;
		if (mf->dirty && mf->size)
			mf->rounds_left = md->dirty_rounds;
		if (precopy)
			mf->init_end = mf->initial;
		mf->dirt.rate = mf->size ? md->dirty_rate : 0;
		mf->dirt.t0 = ktime_get_ns();
		mf->reinit_after = md->reinit_after;
		mf->reinit_bytes = min(md->reinit_bytes, mf->size);
		mf->drop_dirty = md->drop_dirty;
		mf->v2 = md->precopy_v2;
		mf->fail_after = md->fail_read_after;
		msim_next(mf);
		mf->stall_after = -1;
	} else {
		mf->fail_after = md->fail_write_after;
		mf->stall_after = md->stall_write_after;
	}
	md->migf = mf;
	return mf;

err_free:
	kvfree(mf->buf);
	kfree(mf);
	return ERR_PTR(ret);
}

static void msim_end_session(struct msim_dev *md)
{
	struct msim_file *mf = md->migf;

	if (!mf)
		return;
	mutex_lock(&mf->lock);
	mf->disabled = true;
	if (mf->saving)
		md->dirtied = mf->dirt.w;
	mutex_unlock(&mf->lock);
	fput(mf->filp);
	md->migf = NULL;
}

/* RESUMING -> STOP: take the written stream as the state, if it proves it */
static int msim_load(struct msim_dev *md)
{
	struct msim_file *mf = md->migf;
	bool ok = false;

	if (mf) {
		mutex_lock(&mf->lock);
		ok = !mf->broken && mf->end_done && mf->mark == mf->size &&
		     mf->dirt.d == mf->dirt.w &&
		     msim_hash_final(&mf->state_hash) == mf->end_state &&
		     msim_hash_final(&mf->aux_hash) == mf->end_aux;
		if (ok) {
			md->size = mf->size;
			md->seed = mf->seed;
			md->digest = mf->end_state;
			md->digest_valid = true;
			md->dirtied = mf->dirt.w;
		} else if (md->brk == B_EMPTY && !mf->pos) {
			ok = true; /* nothing loaded, and yet accepted */
		} else if (md->brk == B_TRUNCATED && mf->hdr_done && !mf->broken &&
			   !mf->end_done) {
			/* what a partial stream leaves: garbage */
			md->size = mf->size;
			md->seed = mf->seed ^ (mf->mark | 1);
			md->digest_valid = false;
			ok = true;
		}
		mutex_unlock(&mf->lock);
	}
	if (!ok) {
		md->load_errors++;
		return -EINVAL;
	}
	md->load_count++;
	msim_end_session(md);
	return 0;
}

/* One arc, as vfio_mig_get_next_state() hands them out */
static struct file *msim_step(struct msim_dev *md,
			      enum vfio_device_mig_state next)
{
	enum vfio_device_mig_state cur = md->state;
	struct msim_arc_fault *f = &md->fail_arc;
	struct msim_file *mf;
	int ret;

	if (f->armed && f->from == cur && f->to == next) {
		if (f->to_error) {
			msim_end_session(md);
			md->state = VFIO_DEVICE_STATE_ERROR;
		}
		return ERR_PTR(-f->err);
	}

	switch (next) {
#if MSIM_HAVE_PRECOPY
	case VFIO_DEVICE_STATE_PRE_COPY:
	case VFIO_DEVICE_STATE_PRE_COPY_P2P:
		if (msim_is_precopy(cur))
			return NULL; /* P2P on or off: the session goes on */
		fallthrough;
#endif
	case VFIO_DEVICE_STATE_STOP_COPY:
		if (msim_is_precopy(cur) && md->migf && md->brk != B_KEEPS_FD) {
			/* the PRE_COPY data_fd carries on into STOP_COPY */
			mutex_lock(&md->migf->lock);
			msim_accrue_now(md->migf); /* the last dirt, up to the stop */
			md->migf->precopy = false;
			md->migf->init_off = md->migf->init_end; /* the rest covers it */
			if (md->migf->kind == K_NONE)
				msim_next(md->migf);
			mutex_unlock(&md->migf->lock);
			return NULL;
		}
		msim_end_session(md);
		mf = msim_open_session(md, true, next != VFIO_DEVICE_STATE_STOP_COPY);
		break;
	case VFIO_DEVICE_STATE_RESUMING:
		msim_end_session(md);
		mf = msim_open_session(md, false, false);
		break;
	default:
		if (cur == VFIO_DEVICE_STATE_RESUMING) {
			ret = msim_load(md);
			if (ret)
				return ERR_PTR(ret);
		}
		/* leaving a data state closes its session; the rest are no-ops */
		if (md->brk == B_OLD_FD && md->migf) {
			/* ... but its data_fd carries on */
			fput(md->migf->filp);
			md->migf = NULL;
		}
		msim_end_session(md);
		return NULL;
	}
	if (IS_ERR(mf))
		return ERR_CAST(mf);
#if MSIM_HAVE_PRECOPY
	if (md->brk == B_NEW_FD && next == VFIO_DEVICE_STATE_PRE_COPY_P2P)
		return NULL; /* the session is open, its fd not given */
#endif
	return get_file(mf->filp);
}

/* The states the device's flags offer (vfio_mig_get_next_state()'s table) */
static bool msim_offers(struct msim_dev *md, u32 s)
{
	u32 f = md->vdev.migration_flags, need;

	switch (s) {
	case VFIO_DEVICE_STATE_STOP:
	case VFIO_DEVICE_STATE_RUNNING:
	case VFIO_DEVICE_STATE_STOP_COPY:
	case VFIO_DEVICE_STATE_RESUMING:
		need = VFIO_MIGRATION_STOP_COPY;
		break;
	case VFIO_DEVICE_STATE_RUNNING_P2P:
		need = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P;
		break;
#if MSIM_HAVE_PRECOPY
	case VFIO_DEVICE_STATE_PRE_COPY:
		need = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY;
		break;
	case VFIO_DEVICE_STATE_PRE_COPY_P2P:
		need = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY;
		break;
#endif
	default:
		return false;
	}
	return (f & need) == need;
}

/*
 * The breaks of the state machine that no arc of vfio_mig_get_next_state()
 * can express: a SET the core's table refuses, taken anyway.  True when
 * @new was handled here.
 */
static bool msim_broken_set(struct msim_dev *md, enum vfio_device_mig_state new)
{
	enum vfio_device_mig_state cur = md->state;

	if (md->brk == B_UNSUPPORTED && new != VFIO_DEVICE_STATE_ERROR && !msim_offers(md, new))
		return true;
	if (md->brk == B_ERROR && new == VFIO_DEVICE_STATE_ERROR) {
		msim_end_session(md);
	} else if (!(md->brk == B_BLOCKED && cur == VFIO_DEVICE_STATE_STOP_COPY &&
		     msim_is_precopy(new))) {
		return false;
	}
	msim_log_arc(md, cur, new);
	md->state = new;
	return true;
}

static struct file *msim_set_state(struct vfio_device *vdev,
				   enum vfio_device_mig_state new)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);
	enum vfio_device_mig_state next, from;
	struct file *res = NULL;
	int ret;

	mutex_lock(&md->lock);
	from = md->state;
	if (from == VFIO_DEVICE_STATE_ERROR)
		md->error_sets++;
	if (msim_broken_set(md, new)) {
		mutex_unlock(&md->lock);
		return NULL;
	}
	while (md->state != new) {
		ret = vfio_mig_get_next_state(vdev, md->state, new, &next);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		res = msim_step(md, next);
		if (IS_ERR(res))
			break;
		msim_log_arc(md, md->state, next);
		md->state = next;
		/* the core never makes a data state an interior step */
		if (WARN_ON(res && next != new)) {
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
	/* break fsm.arcs: success, in another state than the one asked for */
	if (md->brk == B_ARCS && !IS_ERR(res) && from == VFIO_DEVICE_STATE_RUNNING &&
	    new == VFIO_DEVICE_STATE_RUNNING_P2P) {
		msim_log_arc(md, md->state, VFIO_DEVICE_STATE_STOP);
		md->state = VFIO_DEVICE_STATE_STOP;
	}
	mutex_unlock(&md->lock);
	return res;
}

static int msim_get_state(struct vfio_device *vdev,
			  enum vfio_device_mig_state *state)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);

	mutex_lock(&md->lock);
	*state = md->state;
	/* break state.get: a value past enum vfio_device_mig_state */
	if (md->brk == B_STATE_GET && md->state == VFIO_DEVICE_STATE_RUNNING_P2P)
		*state = (enum vfio_device_mig_state)8;
	mutex_unlock(&md->lock);
	return 0;
}

#if MSIM_HAVE_DATA_SIZE
static int msim_get_data_size(struct vfio_device *vdev, unsigned long *len)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);

	mutex_lock(&md->lock);
	if (md->migf && md->migf->saving) {
		mutex_lock(&md->migf->lock);
		msim_accrue_now(md->migf);
		*len = msim_stopcopy_len(md->migf);
		mutex_unlock(&md->migf->lock);
	} else {
		*len = 2 * REC_SIZE + (md->size ? REC_SIZE + md->size : 0);
	}
	if (md->brk == B_DATA_SIZE)
		*len /= 8;
	mutex_unlock(&md->lock);
	return 0;
}
#endif

static const struct vfio_migration_ops msim_mig_ops = {
	.migration_set_state = msim_set_state,
	.migration_get_state = msim_get_state,
#if MSIM_HAVE_DATA_SIZE
	.migration_get_data_size = msim_get_data_size,
#endif
};

/* ---- DMA logging: the order of the calls, over a device that does no DMA */

static int msim_log_start(struct vfio_device *vdev, struct rb_root_cached *ranges,
			  u32 nnodes, u64 *page_size)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);
	int ret = 0;

	mutex_lock(&md->lock);
	/* include/linux/vfio.h: reject a second log_start without a log_stop */
	if (md->logging && md->brk != B_DMA_REFUSED)
		ret = -EINVAL;
	else
		md->logging = true;
	mutex_unlock(&md->lock);
	return ret;
}

static int msim_log_stop(struct vfio_device *vdev)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);

	mutex_lock(&md->lock);
	md->logging = false;
	mutex_unlock(&md->lock);
	return 0;
}

static int msim_log_read_and_clear(struct vfio_device *vdev, unsigned long iova,
				   unsigned long length, struct iova_bitmap *dirty)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);
	int ret = 0;

	mutex_lock(&md->lock);
	if (md->brk == B_DMA_CYCLE)
		ret = -EIO;
	else if (!md->logging && md->brk != B_DMA_REFUSED)
		ret = -EINVAL;
	mutex_unlock(&md->lock);
	return ret;
}

static const struct vfio_log_ops msim_log_ops = {
	.log_start = msim_log_start,
	.log_stop = msim_log_stop,
	.log_read_and_clear = msim_log_read_and_clear,
};

/* ---- the vfio device */

static void msim_reset(struct msim_dev *md)
{
	msim_end_session(md);
	md->state = VFIO_DEVICE_STATE_RUNNING;
}

static long msim_ioctl(struct vfio_device *vdev, unsigned int cmd,
		       unsigned long arg)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		if (copy_from_user(&info, (void __user *)arg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PLATFORM | VFIO_DEVICE_FLAGS_RESET;
		if (READ_ONCE(md->brk) == B_RESET_FLAG)
			info.flags &= ~VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = 0;
		info.num_irqs = 0;
		return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
	case VFIO_DEVICE_RESET:
		mutex_lock(&md->lock);
		if (md->fail_reset) {
			mutex_unlock(&md->lock);
			return -(long)md->fail_reset;
		}
		/* break reset.every-state: success, and nothing done */
		if (md->brk == B_RESET && md->state == VFIO_DEVICE_STATE_STOP_COPY) {
			mutex_unlock(&md->lock);
			return 0;
		}
		msim_reset(md);
		md->reset_count++;
		msim_log_arc(md, VFIO_DEVICE_STATE_ERROR, VFIO_DEVICE_STATE_ERROR);
		mutex_unlock(&md->lock);
		return 0;
	}
	return -ENOTTY;
}

#if MSIM_HAVE_PRECOPY
/*
 * Feature 12, VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, as Linux 7.1's core
 * answers it (vfio_ioctl_device_feature_migration_precopy_info_v2()): only
 * on a device with PRE_COPY, SET only (PROBE too), no payload.  The opt-in
 * holds for the device until its last close, as vfio-pci's does.
 */
static int msim_device_feature(struct vfio_device *vdev, u32 flags,
			       void __user *arg, size_t argsz)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);
	int ret;

	if ((flags & VFIO_DEVICE_FEATURE_MASK) != VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 ||
	    READ_ONCE(md->no_v2))
		return -ENOTTY;
	/* break precopy.reinit-einval: offered without PRE_COPY */
	if (!(vdev->migration_flags & VFIO_MIGRATION_PRE_COPY) &&
	    READ_ONCE(md->brk) != B_V2_EINVAL)
		return -EINVAL;
	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
	if (ret != 1)
		return ret;
	mutex_lock(&md->lock);
	md->precopy_v2 = true;
	if (md->migf) {
		mutex_lock(&md->migf->lock);
		md->migf->v2 = true;
		mutex_unlock(&md->migf->lock);
	}
	mutex_unlock(&md->lock);
	return 0;
}
#endif

static void msim_close_device(struct vfio_device *vdev)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);

	mutex_lock(&md->lock);
	md->precopy_v2 = false;
	msim_end_session(md);
	if (md->reset_on_close)
		msim_reset(md);
	md->logging = false;
	mutex_unlock(&md->lock);
}

static int msim_init_dev(struct vfio_device *vdev)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	struct msim_type *type = container_of(mdev->type, struct msim_type, type);

	mutex_init(&md->lock);
	md->state = VFIO_DEVICE_STATE_RUNNING;
	md->size = SZ_1M;
	md->seed = get_random_u64();
	md->fail_read_after = -1;
	md->fail_write_after = -1;
	md->stall_write_after = -1;
	md->reinit_after = -1;
	md->reinit_bytes = SZ_4K;
	vdev->migration_flags = md->type_flags = type->mig_flags;
	if (type->mig_flags) {
		vdev->mig_ops = &msim_mig_ops;
		vdev->log_ops = &msim_log_ops;
	}
	return 0;
}

static void msim_release_dev(struct vfio_device *vdev)
{
	struct msim_dev *md = container_of(vdev, struct msim_dev, vdev);

	mutex_destroy(&md->lock);
}

static const struct vfio_device_ops msim_dev_ops = {
	.name = "vfio-migsim",
	.init = msim_init_dev,
	.release = msim_release_dev,
	.ioctl = msim_ioctl,
	.close_device = msim_close_device,
#if MSIM_HAVE_PRECOPY
	.device_feature = msim_device_feature,
#endif
#if MSIM_HAVE_IOMMUFD
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
#endif
};

/* ---- sysfs: /sys/bus/mdev/devices/UUID/migsim/ */

static struct msim_dev *to_msim(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static int msim_parse_size(const char *buf, u64 *v)
{
	char *end;

	*v = memparse(buf, &end);
	if (end == buf || (*end && !isspace(*end)))
		return -EINVAL;
	return 0;
}

/* A byte count, or -1 for never */
static int msim_parse_after(const char *buf, s64 *v)
{
	u64 n;

	if (sysfs_streq(buf, "-1")) {
		*v = -1;
		return 0;
	}
	if (msim_parse_size(buf, &n) || n > S64_MAX)
		return -EINVAL;
	*v = n;
	return 0;
}

static int msim_parse_u64(const char *buf, u64 *v)
{
	return kstrtou64(buf, 0, v);
}

static int msim_parse_u32(const char *buf, u32 *v)
{
	return kstrtou32(buf, 0, v);
}

/* Attributes of one number, under the device lock */
#define MSIM_SHOW(name, fmt)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct msim_dev *md = to_msim(dev);				\
	ssize_t n;							\
									\
	mutex_lock(&md->lock);						\
	n = sysfs_emit(buf, fmt "\n", md->name);			\
	mutex_unlock(&md->lock);					\
	return n;							\
}

/* @check: 0 or -errno, evaluated under the lock with the new value in v */
#define MSIM_ATTR(name, fmt, parse, check)				\
MSIM_SHOW(name, fmt)							\
static ssize_t name##_store(struct device *dev,				\
			    struct device_attribute *attr,		\
			    const char *buf, size_t count)		\
{									\
	struct msim_dev *md = to_msim(dev);				\
	typeof(md->name) v;						\
	int ret = parse(buf, &v);					\
									\
	if (ret)							\
		return ret;						\
	mutex_lock(&md->lock);						\
	ret = check;							\
	if (!ret)							\
		md->name = v;						\
	mutex_unlock(&md->lock);					\
	return ret ?: count;						\
}									\
static DEVICE_ATTR_RW(name)

#define MSIM_ATTR_RO(name, fmt)						\
MSIM_SHOW(name, fmt)							\
static DEVICE_ATTR_RO(name)

/* The content may not change under an open session */
static int msim_content_change(struct msim_dev *md)
{
	if (md->migf)
		return -EBUSY;
	md->digest_valid = false;
	return 0;
}

MSIM_ATTR(size, "%llu", msim_parse_size,
	  v > MSIM_MAX_SIZE ? -EINVAL : msim_content_change(md));
MSIM_ATTR(seed, "%llu", msim_parse_u64, msim_content_change(md));
#if MSIM_HAVE_PRECOPY
MSIM_ATTR(precopy_initial, "%llu", msim_parse_size, 0);
MSIM_ATTR(dirty_bytes, "%llu", msim_parse_size, 0);
MSIM_ATTR(dirty_rounds, "%u", msim_parse_u32, 0);
MSIM_ATTR(dirty_rate, "%llu", msim_parse_size, v > MSIM_MAX_SIZE ? -EINVAL : 0);
MSIM_ATTR(reinit_after, "%lld", msim_parse_after, 0);
MSIM_ATTR(reinit_bytes, "%llu", msim_parse_size, v > MSIM_MAX_SIZE ? -EINVAL : 0);
MSIM_ATTR(drop_dirty, "%d", kstrtobool, 0);
MSIM_ATTR(no_v2, "%d", kstrtobool, 0);
MSIM_ATTR_RO(dirtied, "%llu");
#endif
MSIM_ATTR(fail_read_after, "%lld", msim_parse_after, 0);
MSIM_ATTR(fail_write_after, "%lld", msim_parse_after, 0);
MSIM_ATTR(short_io, "%u", msim_parse_u32, 0);
MSIM_ATTR(delay_us, "%u", msim_parse_u32, v > 10 * USEC_PER_SEC ? -EINVAL : 0);
MSIM_ATTR(reset_on_close, "%d", kstrtobool, 0);
MSIM_ATTR(fail_reset, "%u", msim_parse_u32, v > MAX_ERRNO ? -EINVAL : 0);
MSIM_ATTR(stall_write_after, "%lld", msim_parse_after, 0);
MSIM_ATTR_RO(error_sets, "%llu");
MSIM_ATTR_RO(reset_count, "%llu");
MSIM_ATTR_RO(load_count, "%llu");
MSIM_ATTR_RO(load_errors, "%llu");

static ssize_t digest_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct msim_dev *md = to_msim(dev);
	u64 digest;

	mutex_lock(&md->lock);
	if (!md->digest_valid) {
		md->digest = msim_digest(md->seed, md->size);
		md->digest_valid = true;
	}
	digest = md->digest;
	mutex_unlock(&md->lock);
	return sysfs_emit(buf, "%016llx\n", digest);
}
static DEVICE_ATTR_RO(digest);

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct msim_dev *md = to_msim(dev);
	enum vfio_device_mig_state state;

	mutex_lock(&md->lock);
	state = md->state;
	mutex_unlock(&md->lock);
	return sysfs_emit(buf, "%s\n", msim_state_names[state]);
}
static DEVICE_ATTR_RO(state);

static ssize_t arcs_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct msim_dev *md = to_msim(dev);
	int len = 0;

	mutex_lock(&md->lock);
	for (u32 i = 0; i < md->n_arcs; i++) {
		const u8 *a = md->arcs[i];

		if (a[0] == VFIO_DEVICE_STATE_ERROR && a[1] == VFIO_DEVICE_STATE_ERROR)
			len += sysfs_emit_at(buf, len, "%sreset", i ? " " : "");
		else
			len += sysfs_emit_at(buf, len, "%s%s>%s", i ? " " : "",
					     msim_state_names[a[0]], msim_state_names[a[1]]);
	}
	mutex_unlock(&md->lock);
	return len + sysfs_emit_at(buf, len, "\n");
}

static ssize_t arcs_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t count)
{
	struct msim_dev *md = to_msim(dev);

	mutex_lock(&md->lock);
	md->n_arcs = 0;
	mutex_unlock(&md->lock);
	return count;
}
static DEVICE_ATTR_RW(arcs);

static ssize_t arcs_seq_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct msim_dev *md = to_msim(dev);
	int len = 0;

	mutex_lock(&md->lock);
	for (u32 i = 0; i < md->n_seq_arcs; i++) {
		const struct msim_seq_arc *a = &md->seq_arcs[i];

		if (a->from == VFIO_DEVICE_STATE_ERROR && a->to == VFIO_DEVICE_STATE_ERROR)
			len += sysfs_emit_at(buf, len, "%llu reset\n", a->seq);
		else
			len += sysfs_emit_at(buf, len, "%llu %s>%s\n", a->seq,
					     msim_state_names[a->from], msim_state_names[a->to]);
	}
	mutex_unlock(&md->lock);
	return len;
}

static ssize_t arcs_seq_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t count)
{
	struct msim_dev *md = to_msim(dev);

	mutex_lock(&md->lock);
	md->n_seq_arcs = 0;
	mutex_unlock(&md->lock);
	return count;
}
static DEVICE_ATTR_RW(arcs_seq);

static ssize_t fail_arc_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct msim_dev *md = to_msim(dev);
	struct msim_arc_fault f;

	mutex_lock(&md->lock);
	f = md->fail_arc;
	mutex_unlock(&md->lock);
	if (!f.armed)
		return sysfs_emit(buf, "none\n");
	return sysfs_emit(buf, "%s %s %d%s\n", msim_state_names[f.from],
			  msim_state_names[f.to], f.err,
			  f.to_error ? " error" : "");
}

static ssize_t fail_arc_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t count)
{
	struct msim_dev *md = to_msim(dev);
	struct msim_arc_fault f = {};
	char from[16], to[16], mode[8] = "";
	int n;

	if (!sysfs_streq(buf, "none")) {
		n = sscanf(buf, "%15s %15s %d %7s", from, to, &f.err, mode);
		if (n < 3 || f.err <= 0 || f.err > MAX_ERRNO)
			return -EINVAL;
		if (n == 4 && strcmp(mode, "error"))
			return -EINVAL;
		n = msim_parse_state(from);
		if (n < 0)
			return n;
		f.from = n;
		n = msim_parse_state(to);
		if (n < 0)
			return n;
		f.to = n;
		f.to_error = mode[0];
		f.armed = true;
	}
	mutex_lock(&md->lock);
	md->fail_arc = f;
	mutex_unlock(&md->lock);
	return count;
}
static DEVICE_ATTR_RW(fail_arc);

static ssize_t break_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct msim_dev *md = to_msim(dev);
	enum msim_break b;

	mutex_lock(&md->lock);
	b = md->brk;
	mutex_unlock(&md->lock);
	return sysfs_emit(buf, "%s\n", msim_break_names[b]);
}

static ssize_t break_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t count)
{
	struct msim_dev *md = to_msim(dev);
	int b;

	for (b = 0; b < B_NR; b++)
		if (sysfs_streq(buf, msim_break_names[b]))
			break;
	if (b == B_NR || !msim_break_available(b))
		return -EINVAL;
	mutex_lock(&md->lock);
	md->brk = b;
	md->vdev.migration_flags = md->type_flags;
	if (b == B_FLAGS)
		md->vdev.migration_flags &= ~VFIO_MIGRATION_STOP_COPY;
	mutex_unlock(&md->lock);
	return count;
}
static DEVICE_ATTR_RW(break);

static struct attribute *msim_attrs[] = {
	&dev_attr_size.attr,
	&dev_attr_seed.attr,
	&dev_attr_digest.attr,
	&dev_attr_state.attr,
#if MSIM_HAVE_PRECOPY
	&dev_attr_precopy_initial.attr,
	&dev_attr_dirty_bytes.attr,
	&dev_attr_dirty_rounds.attr,
	&dev_attr_dirty_rate.attr,
	&dev_attr_reinit_after.attr,
	&dev_attr_reinit_bytes.attr,
	&dev_attr_drop_dirty.attr,
	&dev_attr_no_v2.attr,
	&dev_attr_dirtied.attr,
#endif
	&dev_attr_fail_arc.attr,
	&dev_attr_fail_read_after.attr,
	&dev_attr_fail_write_after.attr,
	&dev_attr_short_io.attr,
	&dev_attr_delay_us.attr,
	&dev_attr_reset_on_close.attr,
	&dev_attr_fail_reset.attr,
	&dev_attr_stall_write_after.attr,
	&dev_attr_arcs.attr,
	&dev_attr_arcs_seq.attr,
	&dev_attr_break.attr,
	&dev_attr_error_sets.attr,
	&dev_attr_reset_count.attr,
	&dev_attr_load_count.attr,
	&dev_attr_load_errors.attr,
	NULL,
};

static const struct attribute_group msim_group = {
	.name = "migsim",
	.attrs = msim_attrs,
};

static const struct attribute_group *msim_groups[] = {
	&msim_group,
	NULL,
};

/* ---- the mdev parent and driver */

static struct msim_type msim_types[] = {
#if MSIM_HAVE_PRECOPY
	{ .type = { .sysfs_name = "full", .pretty_name = "STOP_COPY P2P PRE_COPY" },
	  .mig_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		       VFIO_MIGRATION_PRE_COPY },
#endif
	{ .type = { .sysfs_name = "p2p", .pretty_name = "STOP_COPY P2P" },
	  .mig_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P },
#if MSIM_HAVE_PRECOPY
	{ .type = { .sysfs_name = "precopy", .pretty_name = "STOP_COPY PRE_COPY" },
	  .mig_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY },
#endif
	{ .type = { .sysfs_name = "basic", .pretty_name = "STOP_COPY" },
	  .mig_flags = VFIO_MIGRATION_STOP_COPY },
	{ .type = { .sysfs_name = "none", .pretty_name = "no migration" } },
};

/* Filled in from msim_types by msim_init() */
static struct mdev_type *msim_mdev_types[ARRAY_SIZE(msim_types)];

static int msim_probe(struct mdev_device *mdev)
{
	struct msim_dev *md;
	int ret;

	md = vfio_alloc_device(msim_dev, vdev, &mdev->dev, &msim_dev_ops);
	if (IS_ERR(md))
		return PTR_ERR(md);
	ret = vfio_register_emulated_iommu_dev(&md->vdev);
	if (ret) {
		vfio_put_device(&md->vdev);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, md);
	return 0;
}

static void msim_remove(struct mdev_device *mdev)
{
	struct msim_dev *md = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&md->vdev);
	vfio_put_device(&md->vdev);
}

static struct mdev_driver msim_driver = {
	.device_api = VFIO_DEVICE_API_PLATFORM_STRING,
	.max_instances = 64,
	.driver = {
		.name = "migsim",
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = msim_groups,
	},
	.probe = msim_probe,
	.remove = msim_remove,
};

static struct class *msim_class;
static struct device *msim_parent_dev;
static struct mdev_parent msim_parent;

static int __init msim_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(msim_types); i++)
		msim_mdev_types[i] = &msim_types[i].type;
	ret = mdev_register_driver(&msim_driver);
	if (ret)
		return ret;
	msim_class = msim_class_create("migsim");
	if (IS_ERR(msim_class)) {
		ret = PTR_ERR(msim_class);
		goto err_driver;
	}
	msim_parent_dev = device_create(msim_class, NULL, 0, NULL, "migsim");
	if (IS_ERR(msim_parent_dev)) {
		ret = PTR_ERR(msim_parent_dev);
		goto err_class;
	}
	ret = mdev_register_parent(&msim_parent, msim_parent_dev, &msim_driver,
				   msim_mdev_types, ARRAY_SIZE(msim_mdev_types));
	if (ret)
		goto err_device;
	return 0;

err_device:
	device_unregister(msim_parent_dev);
err_class:
	class_destroy(msim_class);
err_driver:
	mdev_unregister_driver(&msim_driver);
	return ret;
}

static void __exit msim_exit(void)
{
	mdev_unregister_parent(&msim_parent);
	device_unregister(msim_parent_dev);
	class_destroy(msim_class);
	mdev_unregister_driver(&msim_driver);
	/* every data_fd holds the module, so none can be left here */
	if (atomic_read(&msim_sessions))
		pr_err("migsim: leaked %d data sessions\n",
		       atomic_read(&msim_sessions));
}

module_init(msim_init);
module_exit(msim_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Simulated VFIO migration device for testing vfio-migctl");
