/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vfio-migctl stream format: a self-describing, checksummed framing of
 * a device's migration data.  The wire layout and its stability promise are
 * in man/vfio-migctl-stream.5; this is the codec.
 *
 * Writing: migctl_stream_writer_init() prepares, the sink from
 * migctl_stream_writer_sink() emits the preamble and HEADER at begin(), one
 * data record per write (split at 16 MiB), and END at finish().
 *
 * Reading: migctl_stream_reader_open() checks the preamble and HEADER; the
 * source from migctl_stream_reader_source() hands out only bytes of records
 * whose checksum has already been verified, and reports the end (*got = 0)
 * only after a valid END.  Every format problem is -EBADMSG, with a
 * one-line reason naming the byte offset in reader->error.
 */
#ifndef MIGCTL_STREAM_H
#define MIGCTL_STREAM_H

#include "migctl.h"

/* ---- wire constants (see vfio-migctl-stream(5)) */

#define MIGCTL_STREAM_MAGIC "\x89VFMIG\r\n" /* 8 bytes, no NUL on the wire */
#define MIGCTL_STREAM_MAGIC_SIZE 8
#define MIGCTL_STREAM_VERSION 1
#define MIGCTL_STREAM_PREAMBLE_SIZE 16
#define MIGCTL_STREAM_RECORD_HEADER_SIZE 24

/* Record types */
#define MIGCTL_REC_HEADER 0x0001
#define MIGCTL_REC_PRECOPY 0x0002
#define MIGCTL_REC_STOPCOPY 0x0003
#define MIGCTL_REC_END 0x0004
#define MIGCTL_REC_SET 0x0005 /* version 1.1: the set's first record */

/*
 * Version 1.1, a set of devices: the preamble says 1.1 (1.0 stays the
 * one-device stream, byte for byte), record headers are 32 bytes and name
 * the member a record belongs to, or the set itself.
 */
#define MIGCTL_STREAM_MINOR_SET 1
#define MIGCTL_STREAM_SET_RECORD_HEADER_SIZE 32
#define MIGCTL_STREAM_SET_SELF 0xffffffffu /* a record of the set, not of a member */
#define MIGCTL_STREAM_SET_MAX 64	   /* members; END carries 32 bytes of each */

/* Record flags */
#define MIGCTL_REC_OPTIONAL 0x0001 /* a reader that does not know the type skips it */

/* Hard bounds on payload lengths */
#define MIGCTL_STREAM_HEADER_MAX (64u << 10)
#define MIGCTL_STREAM_DATA_MAX (16u << 20)
#define MIGCTL_STREAM_END_MAX 4096u
#define MIGCTL_STREAM_OPTIONAL_MAX (16u << 20)

/* ---- the HEADER record, decoded */

struct migctl_stream_header {
	char tool_version[MIGCTL_NAME_MAX]; /* vfio-migctl that wrote it */
	uint64_t created;		    /* seconds since the epoch, UTC */
	/* source device identity */
	enum migctl_bus bus;
	char name[MIGCTL_NAME_MAX]; /* PCI address or mdev UUID */
	char driver[MIGCTL_NAME_MAX];
	char mdev_type[MIGCTL_NAME_MAX]; /* "" unless an mdev */
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint8_t revision;
	uint64_t mig_flags; /* MIGCTL_FLAG_* of the source */
	uint64_t estimate;  /* MIG_DATA_SIZE at save, 0 = unknown */
};

/*
 * Fill @h from a resolved target: identity, tool version (MIGCTL_VERSION),
 * creation time now.  -ENAMETOOLONG if a name does not fit.
 */
int migctl_stream_header_from_desc(struct migctl_stream_header *h,
				   const struct migctl_device_desc *d, uint64_t mig_flags,
				   uint64_t estimate);

/*
 * Can a stream with header @h be resumed into @dst?  Compares bus, driver,
 * and the mdev type or the PCI vendor:device and subsystem IDs; never the
 * device's name (save from one device, resume into another) nor the PCI
 * revision.  0 if compatible; -EBADMSG if not, with @why naming both sides.
 */
int migctl_stream_identity_check(const struct migctl_stream_header *h,
				 const struct migctl_device_desc *dst, char *why, size_t len);

/* ---- writer */

struct XXH3_state_s;

struct migctl_stream_writer {
	int fd;
	volatile sig_atomic_t *cancel;
	struct migctl_stream_header header;
	struct XXH3_state_s *rec;    /* checksum of the record being written */
	struct XXH3_state_s *digest; /* XXH3-128 of all data bytes */
	uint64_t seq;		     /* number of the next record */
	uint64_t data_bytes;
	bool begun;    /* preamble and HEADER written */
	int io_err;    /* emit()'s, on the engine's stream thread */
	bool stopcopy; /* STOP_COPY data written: no PRE_COPY after */
	bool finished;
	int err; /* sticky: after a failed write the stream is broken */
};

/*
 * Prepare to write a stream with header @h (copied) to @fd.  Nothing is
 * written yet: the sink's begin() does that.  -EINVAL if @h holds a name
 * that cannot be encoded; -ENOMEM.  On failure closing is still allowed.
 */
int migctl_stream_writer_init(struct migctl_stream_writer *w, int fd,
			      const struct migctl_stream_header *h, volatile sig_atomic_t *cancel);
/*
 * A sink for migctl_save().  begin() writes the preamble and the HEADER,
 * with the migration flags and estimate the engine read from the device;
 * each write() emits PRE_COPY or STOP_COPY data records at once (nothing
 * is held back); finish() emits END.  PRE_COPY data after STOP_COPY data,
 * RESUMING, a write before begin() or after finish() is -EINVAL.  A write
 * error is sticky.
 */
void migctl_stream_writer_sink(struct migctl_stream_writer *w, struct migctl_sink *sink);
/* Free what init allocated; safe after a failed init and more than once. */
void migctl_stream_writer_close(struct migctl_stream_writer *w);

/* ---- reader */

/* What kind of problem -EBADMSG was: callers may add a hint for some */
enum migctl_stream_fault {
	MIGCTL_STREAM_INVALID,	  /* a framed stream that does not verify */
	MIGCTL_STREAM_NOT_FRAMED, /* no magic: not this format at all (a bare kernel stream?) */
};

struct migctl_stream_error {
	enum migctl_stream_fault fault;
	char msg[256]; /* "record 3 at byte 1048620: checksum mismatch" */
};

struct migctl_stream_stats {
	uint64_t records; /* verified records, HEADER and END included */
	uint64_t precopy_records, precopy_bytes;
	uint64_t stopcopy_records, stopcopy_bytes;
	uint64_t skipped_records, skipped_bytes; /* unknown optional records */
	uint64_t stream_bytes;			 /* bytes consumed from the stream */
	bool intact;				 /* a valid END, nothing wrong before or after */
};

struct migctl_stream_reader {
	int fd;
	volatile sig_atomic_t *cancel;
	struct migctl_stream_header header;
	/* fetch()'s side: the bytes */
	uint64_t offset;	   /* bytes consumed so far */
	uint64_t fetched;	   /* records fetched */
	struct XXH3_state_s *skip; /* checksum of a record fetch() does not keep */
	/* check()'s side: their meaning */
	struct XXH3_state_s *rec;
	struct XXH3_state_s *digest;
	uint64_t seq; /* number the next record must carry */
	struct migctl_stream_stats stats;
	bool stopcopy;
	bool ended;			  /* valid END seen and nothing after it */
	int err;			  /* sticky: the first error */
	struct migctl_stream_error error; /* filled for -EBADMSG */
	/* read() and scan(): the two halves in turn, on this chunk */
	struct migctl_chunk chunk;
	size_t avail, pos; /* chunk.buf[pos..avail) not yet handed out */
};

/*
 * Read and verify the preamble and HEADER from @fd.  -EBADMSG for anything
 * that is not a valid stream (no magic, unknown format version, bad or
 * missing header), with reader->error saying what and where; I/O errors
 * as -errno; -EINTR when *@cancel interrupted a read.  On failure all
 * memory is released but reader->error stays readable; closing is allowed.
 */
int migctl_stream_reader_open(struct migctl_stream_reader *r, int fd,
			      volatile sig_atomic_t *cancel);
const struct migctl_stream_header *
migctl_stream_reader_header(const struct migctl_stream_reader *r);
/*
 * A source for migctl_resume(): read() fills from verified records only;
 * *got = 0 only after a valid END (totals and digest match) followed by
 * end of file.  Truncation, corruption, and trailing bytes are -EBADMSG;
 * every error is sticky.  A read of 0 bytes is -EINVAL.  fetch() and
 * check() are read()'s two halves for the engine: one record per chunk,
 * its payload the device's part when it is data.
 */
void migctl_stream_reader_source(struct migctl_stream_reader *r, struct migctl_source *src);
/*
 * Walk the remaining records to the end without buffering them, for
 * `inspect` and resume's verify pass.  @st gets the counts of everything
 * verified (also on failure).  0 if the stream is intact, else the first
 * error (-EBADMSG: see error; -EINTR once the open's *@cancel is set,
 * looked at before each record).
 */
int migctl_stream_scan(struct migctl_stream_reader *r, struct migctl_stream_stats *st);
/* The reason for the last -EBADMSG, "" if none */
const char *migctl_stream_reader_error(const struct migctl_stream_reader *r);
/* True if @buf (the first @len bytes of a stream) starts with the magic */
bool migctl_stream_is_framed(const void *buf, size_t len);
void migctl_stream_reader_close(struct migctl_stream_reader *r);

/* ---- device sets: one stream for several devices (stream-set.c) */

/*
 * Writing: one writer for @members devices over one fd, and a sink per
 * member for that member's engine.  With one member it writes today's
 * version 1.0 stream, byte for byte (migctl_stream_writer's).  With more:
 *   begin()   per member, in any order and from any thread; the last one
 *             writes the preamble, SET and every member's HEADER
 *   frame()   on the member's checksum stage: its record numbers, its digest
 *   emit()    whole records, one member at a time on the fd, once every
 *             member has begun (it waits for them: a timed wait that
 *             gives up with -EINTR once *@stop is set)
 *   write()   frame() and emit() in turn; -EINVAL before every member began
 *   finish()  marks the member done; the last member's writes END (the
 *             set's commit point, so after every member reached its final
 *             state) and returns its result; earlier ones return 0
 * All of them are safe to call concurrently for different members.  A
 * member's data before its own begin() is -EINVAL; a failed write is
 * every member's error from then on (sticky: the stream is broken).
 */
struct migctl_stream_set_writer;

/*
 * @headers: one per member, copied (the sink's begin() adds the flags and
 * estimate).  -EINVAL for 0 or more than MIGCTL_STREAM_SET_MAX members or
 * a name that cannot be encoded; -ENOMEM.
 */
int migctl_stream_set_writer_new(int fd, unsigned members,
				 const struct migctl_stream_header *headers,
				 volatile sig_atomic_t *cancel,
				 struct migctl_stream_set_writer **w);
void migctl_stream_set_writer_sink(struct migctl_stream_set_writer *w, unsigned member,
				   struct migctl_sink *sink);
/* END is out: the stream is whole */
bool migctl_stream_set_writer_ended(struct migctl_stream_set_writer *w);
void migctl_stream_set_writer_free(struct migctl_stream_set_writer *w);

/*
 * Reading: a set stream, or a one-device stream as a set of one.  open()
 * reads everything before the first data record (preamble, SET, each
 * member's HEADER), so the members' identities can be checked before any
 * device is touched.  Then a source per member, each pulled by its own
 * engine concurrently: whichever member's fetch() finds its own queue
 * empty reads the next record off the fd; a record of another member is
 * queued for it, at most MIGCTL_STREAM_SET_QUEUE bytes per member, or one
 * record if it is bigger (so memory grows with the number of members, not
 * their sizes: at most 16 MiB queued per member, and a spare buffer per
 * member; the engine's records are its chunks, 1 MiB by default); a reader that finds that member's queue full waits until it
 * takes some (a timed wait, giving up with -EINTR once *@stop or the
 * open's *@cancel is set).  Every member must therefore be pulled until
 * its end or detached: a member whose engine stopped is detached (its
 * verify() failing does that itself), and the records still coming for it
 * are read and dropped.  A member's verify() checks its records' checksums,
 * numbering and order, on the member's thread; its last chunk is END,
 * verified for the whole (counts, every member's totals) and for that
 * member (its bytes, records and digest), so a member's source ends
 * (c->last) only once the whole stream has been read and is intact up to
 * its end.  Errors name the member: "member 1 record 3 at byte 1048620:
 * checksum mismatch" (a one-device stream's words are unchanged).
 */
#define MIGCTL_STREAM_SET_QUEUE (8u << 20)
#define MIGCTL_STREAM_SET_WHOLE (~0u) /* migctl_stream_set_reader_error(): the first error */

struct migctl_stream_set_reader;

/* NULL without memory; nothing is read yet */
struct migctl_stream_set_reader *migctl_stream_set_reader_new(int fd,
							      volatile sig_atomic_t *cancel);
/*
 * Read and verify everything before the data.  -EBADMSG as for
 * migctl_stream_reader_open() (and a set of 0 or too many members, a
 * missing or misplaced HEADER), with the reason in
 * migctl_stream_set_reader_error(r, MIGCTL_STREAM_SET_WHOLE).
 */
int migctl_stream_set_reader_open(struct migctl_stream_set_reader *r);
/* A version 1.1 stream (else a one-device stream, read as a set of one) */
bool migctl_stream_set_reader_is_set(const struct migctl_stream_set_reader *r);
unsigned migctl_stream_set_reader_members(const struct migctl_stream_set_reader *r);
const struct migctl_stream_header *
migctl_stream_set_reader_header(const struct migctl_stream_set_reader *r, unsigned member);
/* Member @member's source (fetch() and verify(), and read() for one device) */
void migctl_stream_set_reader_source(struct migctl_stream_set_reader *r, unsigned member,
				     struct migctl_source *src);
/* Member @member is no longer pulled: drop what is queued and what comes for it */
void migctl_stream_set_reader_detach(struct migctl_stream_set_reader *r, unsigned member);
/*
 * Walk the rest of the stream on this thread (not with sources), for
 * `inspect` and the verify pass: @whole gets the counts of everything
 * verified, @members (an array of migctl_stream_set_reader_members()) each
 * member's, and its .intact says whether that member's records and its
 * part of END verified and the whole stream is intact.  A member whose
 * record failed is reported as such and the walk goes on with the others
 * as long as the framing holds.  0 if the stream is intact, else the first
 * error (-EBADMSG: see the errors; -EINTR once the *@cancel is set).
 */
int migctl_stream_set_scan(struct migctl_stream_set_reader *r, struct migctl_stream_stats *whole,
			   struct migctl_stream_stats *members);
/*
 * The reason a member failed ("" if it did not), or with
 * MIGCTL_STREAM_SET_WHOLE the first error of the stream.
 */
const char *migctl_stream_set_reader_error(struct migctl_stream_set_reader *r, unsigned member);
enum migctl_stream_fault migctl_stream_set_reader_fault(const struct migctl_stream_set_reader *r);
void migctl_stream_set_reader_free(struct migctl_stream_set_reader *r);

#endif /* MIGCTL_STREAM_H */
