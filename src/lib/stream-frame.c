// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The framing of vfio-migctl-stream(5): preamble, checksummed and numbered
 * records, and the END record, written and read.  A reader never hands out
 * a byte of a record before that whole record's checksum has been
 * verified, and never allocates more than the bound for the record type it
 * was told, after checking it.
 *
 * Each side is two halves that the transfer engine runs on two threads:
 * the writer's frame() (checksums, record header) and emit() (the I/O),
 * the reader's fetch() (the I/O, a record's bytes) and verify() (checksums
 * and meaning).  Their sequential forms, write() and read(), are the two
 * halves in turn.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
/*
 * The library's own runtime dispatch to AVX2/AVX-512 where the CPU has
 * them: twice the SSE2 baseline, which is what keeps checksums cheap.
 */
#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif
#endif

#include "fdio.h"
#include "stream-wire.h"

_Static_assert(sizeof(MIGCTL_STREAM_MAGIC) == MIGCTL_STREAM_MAGIC_SIZE + 1, "the magic is 8 bytes");

/* Preamble: magic, version, low 32 bits of XXH3-64 of the 12 bytes before */
#define PRE_VERSION 8
#define PRE_CHECK 12

/* Record header; the checksum covers bytes 0..15 and then the payload */
#define REC_TYPE 0
#define REC_FLAGS 2
#define REC_LENGTH 4
#define REC_SEQ 8
#define REC_CHECKSUM 16
#define REC_CHECKED 16

/* END payload, version 1 */
#define END_DATA_BYTES 0
#define END_RECORDS 8
#define END_DIGEST_LOW 16
#define END_DIGEST_HIGH 24
#define END_SIZE 32

/*
 * Hash in blocks that stay in cache, so the second hash of a data block
 * (the stream digest) reads it from L2 rather than from memory.
 */
#define HASH_BLOCK (128u << 10)
/* The reader's own chunk starts this big (skipped records pass through it) */
#define SKIP_PIECE (64u << 10)

static bool is_data(uint16_t type)
{
	return type == MIGCTL_REC_PRECOPY || type == MIGCTL_REC_STOPCOPY;
}

static bool is_known(uint16_t type)
{
	return type >= MIGCTL_REC_HEADER && type <= MIGCTL_REC_END;
}

static uint32_t length_limit(uint16_t type)
{
	switch (type) {
	case MIGCTL_REC_HEADER:
		return MIGCTL_STREAM_HEADER_MAX;
	case MIGCTL_REC_END:
		return MIGCTL_STREAM_END_MAX;
	case MIGCTL_REC_PRECOPY:
	case MIGCTL_REC_STOPCOPY:
		return MIGCTL_STREAM_DATA_MAX;
	default:
		return MIGCTL_STREAM_OPTIONAL_MAX;
	}
}

static const char *type_name(uint16_t type)
{
	switch (type) {
	case MIGCTL_REC_HEADER:
		return "header";
	case MIGCTL_REC_END:
		return "end";
	case MIGCTL_REC_PRECOPY:
		return "pre-copy data";
	case MIGCTL_REC_STOPCOPY:
		return "stop-copy data";
	default:
		return "unknown";
	}
}

/* Feed @buf to the record checksum and, for data, to the stream digest */
void stream_hash_payload(XXH3_state_t *rec, XXH3_state_t *digest, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		size_t n = len < HASH_BLOCK ? len : HASH_BLOCK;

		XXH3_64bits_update(rec, p, n);
		if (digest)
			XXH3_128bits_update(digest, p, n);
		p += n;
		len -= n;
	}
}

/* ---- writer */

void stream_preamble(uint8_t pre[MIGCTL_STREAM_PREAMBLE_SIZE], uint16_t minor)
{
	memcpy(pre, MIGCTL_STREAM_MAGIC, MIGCTL_STREAM_MAGIC_SIZE);
	put16(pre + PRE_VERSION, MIGCTL_STREAM_VERSION);
	put16(pre + PRE_VERSION + 2, minor);
	put32(pre + PRE_CHECK, (uint32_t)XXH3_64bits(pre, PRE_CHECK));
}

/*
 * A record's header for @payload, checksummed; the stream's digest and
 * numbering move on.  Called in order (the framing stage).
 */
static void seal(struct migctl_stream_writer *w, uint16_t type, const void *payload, uint32_t len,
		 uint8_t head[MIGCTL_STREAM_RECORD_HEADER_SIZE])
{
	put16(head + REC_TYPE, type);
	put16(head + REC_FLAGS, 0);
	put32(head + REC_LENGTH, len);
	put64(head + REC_SEQ, w->seq);
	XXH3_64bits_reset(w->rec);
	XXH3_64bits_update(w->rec, head, REC_CHECKED);
	stream_hash_payload(w->rec, is_data(type) ? w->digest : NULL, payload, len);
	put64(head + REC_CHECKSUM, XXH3_64bits_digest(w->rec));
	w->seq++;
}

/* A sealed record out: its header, then its payload (the I/O stage) */
static int put(struct migctl_stream_writer *w, const uint8_t *head, const void *payload, size_t len,
	       volatile sig_atomic_t *stop)
{
	int ret = write_all(w->fd, head, MIGCTL_STREAM_RECORD_HEADER_SIZE, stop);

	return ret ? ret : write_all(w->fd, payload, len, stop);
}

/* HEADER and END, written in the caller's thread */
static int emit_record(struct migctl_stream_writer *w, uint16_t type, const void *payload,
		       uint32_t len)
{
	uint8_t head[MIGCTL_STREAM_RECORD_HEADER_SIZE];
	int ret;

	seal(w, type, payload, len, head);
	ret = put(w, head, payload, len, w->cancel);
	return ret ? (w->err = ret) : 0;
}

int migctl_stream_writer_init(struct migctl_stream_writer *w, int fd,
			      const struct migctl_stream_header *h, volatile sig_atomic_t *cancel)
{
	uint8_t hdr[STREAM_HEADER_ENCODED_MAX];
	size_t len;
	int ret;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->cancel = cancel;
	w->header = *h;
	/* A name that cannot be encoded is refused now, before any device work */
	ret = stream_header_encode(h, hdr, &len);
	if (ret)
		return ret;
	w->rec = XXH3_createState();
	w->digest = XXH3_createState();
	if (!w->rec || !w->digest) {
		migctl_stream_writer_close(w);
		return -ENOMEM;
	}
	XXH3_128bits_reset(w->digest);
	return 0;
}

/* The sink's begin(): the header records what the engine learnt */
static int writer_begin(void *ctx, uint64_t mig_flags, uint64_t estimate)
{
	struct migctl_stream_writer *w = ctx;
	uint8_t pre[MIGCTL_STREAM_PREAMBLE_SIZE], hdr[STREAM_HEADER_ENCODED_MAX];
	size_t len;
	int ret;

	if (w->begun)
		return -EINVAL;
	w->begun = true;
	w->header.mig_flags = mig_flags;
	w->header.estimate = estimate;
	ret = stream_header_encode(&w->header, hdr, &len);
	if (ret)
		return w->err = ret;
	stream_preamble(pre, 0);
	ret = write_all(w->fd, pre, sizeof(pre), w->cancel);
	if (ret)
		return w->err = ret;
	return emit_record(w, MIGCTL_REC_HEADER, hdr, (uint32_t)len);
}

/* The sink's frame(): one data record for @c, at most MIGCTL_STREAM_DATA_MAX */
static int writer_frame(void *ctx, struct migctl_chunk *c)
{
	struct migctl_stream_writer *w = ctx;
	uint16_t type;

	if (w->err)
		return w->err;
	if (!w->begun || w->finished || c->len > MIGCTL_STREAM_DATA_MAX)
		return -EINVAL;
	switch (c->phase) {
	case MIGCTL_PHASE_PRE_COPY:
		/* The kernel has no STOP_COPY -> PRE_COPY arc: a caller bug */
		if (w->stopcopy)
			return -EINVAL;
		type = MIGCTL_REC_PRECOPY;
		break;
	case MIGCTL_PHASE_STOP_COPY:
		w->stopcopy = true;
		type = MIGCTL_REC_STOPCOPY;
		break;
	default:
		return -EINVAL;
	}
	seal(w, type, c->buf, (uint32_t)c->len, c->head);
	w->data_bytes += c->len;
	return 0;
}

/* The sink's emit(): on the engine's stream thread, the only one writing */
static int writer_emit(void *ctx, const struct migctl_chunk *c, volatile sig_atomic_t *stop)
{
	struct migctl_stream_writer *w = ctx;
	int ret = put(w, c->head, c->buf, c->len, stop);

	if (ret)
		w->io_err = ret;
	return ret;
}

static int writer_write(void *ctx, enum migctl_phase phase, const void *buf, size_t len)
{
	struct migctl_stream_writer *w = ctx;
	struct migctl_chunk c = { .phase = phase };
	int ret;

	if (w->err)
		return w->err;
	while (len) {
		c.buf = (uint8_t *)buf;
		c.len = len < MIGCTL_STREAM_DATA_MAX ? len : MIGCTL_STREAM_DATA_MAX;
		/* A refused record (EINVAL) leaves the stream as it was */
		ret = writer_frame(w, &c);
		if (ret)
			return ret;
		/* After a failed write the stream is broken: sticky */
		ret = writer_emit(w, &c, w->cancel);
		if (ret)
			return w->err = ret;
		buf = (const uint8_t *)buf + c.len;
		len -= c.len;
	}
	return 0;
}

static int writer_finish(void *ctx)
{
	struct migctl_stream_writer *w = ctx;
	uint8_t end[END_SIZE];
	XXH128_hash_t d;

	if (w->err || w->io_err)
		return w->err ? w->err : w->io_err;
	if (!w->begun || w->finished)
		return -EINVAL;
	w->finished = true;
	d = XXH3_128bits_digest(w->digest);
	put64(end + END_DATA_BYTES, w->data_bytes);
	put64(end + END_RECORDS, w->seq);
	put64(end + END_DIGEST_LOW, d.low64);
	put64(end + END_DIGEST_HIGH, d.high64);
	return emit_record(w, MIGCTL_REC_END, end, sizeof(end));
}

void migctl_stream_writer_sink(struct migctl_stream_writer *w, struct migctl_sink *sink)
{
	*sink = (struct migctl_sink){
		.begin = writer_begin,
		.write = writer_write,
		.frame = writer_frame,
		.emit = writer_emit,
		.max_chunk = MIGCTL_STREAM_DATA_MAX,
		.finish = writer_finish,
		.ctx = w,
	};
}

void migctl_stream_writer_close(struct migctl_stream_writer *w)
{
	XXH3_freeState(w->rec);
	XXH3_freeState(w->digest);
	w->rec = w->digest = NULL;
}

/* ---- reader */

struct record {
	uint64_t index; /* position in the stream: the number it must carry */
	uint64_t start; /* offset of its header */
	uint16_t type, flags;
	uint32_t len;
};

static int reader_fail(struct migctl_stream_reader *r, int err)
{
	if (!r->err)
		r->err = err;
	return r->err;
}

/* "record 3 at byte 1048620: <what>", or <what> alone for @rec NULL */
static void __attribute__((format(printf, 4, 0)))
vsay(char *msg, size_t size, const struct record *rec, const char *fmt, va_list ap)
{
	int n = 0;

	if (rec)
		n = snprintf(msg, size, "record %" PRIu64 " at byte %" PRIu64 ": ", rec->index,
			     rec->start);
	if (n >= 0 && (size_t)n < size)
		vsnprintf(msg + n, size - (size_t)n, fmt, ap);
}

/* A format problem found while checking: sticky, the first one wins */
static int __attribute__((format(printf, 3, 4)))
bad(struct migctl_stream_reader *r, const struct record *rec, const char *fmt, ...)
{
	va_list ap;

	if (r->err)
		return r->err;
	va_start(ap, fmt);
	vsay(r->error.msg, sizeof(r->error.msg), rec, fmt, ap);
	va_end(ap);
	return reader_fail(r, -EBADMSG);
}

/* What fetch() found out about a record for verify(), in the chunk's cb */
struct fetch_note {
	uint64_t start; /* the record's first byte in the stream */
	uint64_t sum;	/* hashed: the checksum, computed as it passed */
	bool hashed;	/* a record not kept (of a type no one reads) */
	bool trailing;	/* bytes follow END */
	char why[256];	/* the words of a fetch error */
};

static_assert(sizeof(struct fetch_note) <= MIGCTL_CHUNK_CB_SIZE, "fetch_note fits a chunk's cb");

static struct fetch_note *note_of(struct migctl_chunk *c)
{
	return (struct fetch_note *)c->cb;
}

/* A format problem found while fetching: travels with the chunk, in order */
static int __attribute__((format(printf, 3, 4)))
bad_fetch(struct migctl_chunk *c, const struct record *rec, const char *fmt, ...)
{
	struct fetch_note *note = note_of(c);
	va_list ap;

	va_start(ap, fmt);
	vsay(note->why, sizeof(note->why), rec, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

int stream_get(struct migctl_stream_reader *r, void *buf, size_t len, size_t *got,
	       volatile sig_atomic_t *stop)
{
	int ret = read_full(r->fd, buf, len, got, stop);

	r->offset += *got;
	return ret;
}

static void record_of(struct migctl_chunk *c, uint64_t index, struct record *rec)
{
	rec->index = index;
	rec->start = note_of(c)->start;
	rec->type = get16(c->head + REC_TYPE);
	rec->flags = get16(c->head + REC_FLAGS);
	rec->len = get32(c->head + REC_LENGTH);
}

/* A payload into @c's buffer, grown to its (already bounded) length */
static int keep(struct migctl_stream_reader *r, struct migctl_chunk *c, uint32_t len,
		volatile sig_atomic_t *stop)
{
	if (len > c->cap) {
		uint8_t *buf = realloc(c->buf, len);

		if (!buf)
			return -ENOMEM;
		c->buf = buf;
		c->cap = len;
	}
	return stream_get(r, c->buf, len, &c->len, stop);
}

/*
 * A payload read through @c's buffer, a piece at a time, and checksummed
 * as it passes (fetch's own hash state): the note's sum is its checksum.
 */
static int discard(struct migctl_stream_reader *r, struct migctl_chunk *c, uint32_t len,
		   volatile sig_atomic_t *stop)
{
	size_t got;
	int ret = 0;

	XXH3_64bits_reset(r->skip);
	XXH3_64bits_update(r->skip, c->head, REC_CHECKED);
	c->len = 0;
	while (!ret && c->len < len) {
		size_t n = len - c->len < c->cap ? len - c->len : c->cap;

		ret = stream_get(r, c->buf, n, &got, stop);
		XXH3_64bits_update(r->skip, c->buf, got);
		c->len += got;
		if (got < n)
			break;
	}
	note_of(c)->sum = XXH3_64bits_digest(r->skip);
	return ret;
}

/*
 * The reader's fetch(): the next record's header and payload into @c, the
 * length bounded before anything is allocated for it; after END, one
 * byte more to see whether the file has anything after it.  Only I/O and
 * the bound: whether the bytes mean anything is verify()'s to say.
 */
static int reader_fetch(void *ctx, struct migctl_chunk *c, volatile sig_atomic_t *stop)
{
	struct migctl_stream_reader *r = ctx;
	struct record rec = { .index = r->fetched, .start = r->offset };
	struct fetch_note *note = note_of(c);
	uint32_t limit;
	uint8_t extra;
	size_t got;
	int ret;

	*note = (struct fetch_note){ .start = r->offset };
	ret = stream_get(r, c->head, MIGCTL_STREAM_RECORD_HEADER_SIZE, &got, stop);
	if (ret)
		return ret;
	if (!got)
		return bad_fetch(c, NULL, "truncated at byte %" PRIu64 ": %s record missing",
				 r->offset, rec.index ? "end" : "header");
	if (got < MIGCTL_STREAM_RECORD_HEADER_SIZE)
		return bad_fetch(c, &rec, "truncated at byte %" PRIu64, r->offset);
	record_of(c, rec.index, &rec);
	/* Before anything is read or allocated for it */
	limit = length_limit(rec.type);
	if (rec.len > limit)
		return bad_fetch(c, &rec,
				 "length %" PRIu32 " exceeds the limit of %" PRIu32
				 " bytes for %s records",
				 rec.len, limit, type_name(rec.type));
	/* A record no one will read is hashed as it passes, never held whole */
	note->hashed = !is_known(rec.type);
	ret = note->hashed ? discard(r, c, rec.len, stop) : keep(r, c, rec.len, stop);
	if (ret)
		return ret;
	if (c->len < rec.len)
		return bad_fetch(c, &rec, "truncated at byte %" PRIu64, r->offset);
	r->fetched++;
	if (rec.type == MIGCTL_REC_END) {
		/* One stream per file: whatever follows END is verify()'s to refuse */
		ret = stream_get(r, &extra, 1, &got, stop);
		note->trailing = got == 1;
		c->last = true;
	}
	return ret;
}

static int end_record(struct migctl_stream_reader *r, struct migctl_chunk *c,
		      const struct record *rec)
{
	uint64_t carried = r->stats.precopy_bytes + r->stats.stopcopy_bytes;
	const uint8_t *p = c->buf;
	XXH128_hash_t d;

	if (rec->len < END_SIZE)
		return bad(r, rec, "end record too short (%" PRIu32 " bytes)", rec->len);
	if (get64(p + END_DATA_BYTES) != carried)
		return bad(r, rec,
			   "end record counts %" PRIu64 " data bytes, the stream carried %" PRIu64,
			   get64(p + END_DATA_BYTES), carried);
	if (get64(p + END_RECORDS) != rec->index)
		return bad(r, rec,
			   "end record counts %" PRIu64
			   " records before it, the stream had %" PRIu64,
			   get64(p + END_RECORDS), rec->index);
	d = XXH3_128bits_digest(r->digest);
	if (get64(p + END_DIGEST_LOW) != d.low64 || get64(p + END_DIGEST_HIGH) != d.high64)
		return bad(r, rec, "digest of the data does not match");
	/* One stream per file: bytes after END are not ours to ignore */
	if (note_of(c)->trailing)
		return bad(r, NULL, "trailing data at byte %" PRIu64 " after the end record",
			   rec->start + MIGCTL_STREAM_RECORD_HEADER_SIZE + rec->len);
	r->ended = true;
	r->stats.intact = true;
	return 0;
}

/*
 * The reader's verify(): the checksum, the numbering and what the record
 * says, in order.  A data record's payload is the device's part of @c;
 * END makes @c the verified end.  Every error is sticky.
 */
static int reader_verify(void *ctx, struct migctl_chunk *c)
{
	struct migctl_stream_reader *r = ctx;
	struct fetch_note *note = note_of(c);
	struct record rec;

	c->data_len = 0;
	if (r->err)
		return r->err;
	/* An error met while fetching, now in its place in the stream */
	if (c->err) {
		if (note->why[0])
			memcpy(r->error.msg, note->why, sizeof(r->error.msg));
		return reader_fail(r, c->err);
	}
	c->last = false;
	record_of(c, r->seq, &rec);
	if (!note->hashed) {
		XXH3_64bits_reset(r->rec);
		XXH3_64bits_update(r->rec, c->head, REC_CHECKED);
		stream_hash_payload(r->rec, is_data(rec.type) ? r->digest : NULL, c->buf, rec.len);
		note->sum = XXH3_64bits_digest(r->rec);
	}
	if (note->sum != get64(c->head + REC_CHECKSUM))
		return bad(r, &rec, "checksum mismatch");

	/* Verified: what it says is what the writer said */
	if (get64(c->head + REC_SEQ) != rec.index)
		return bad(r, &rec, "numbered %" PRIu64 " (records lost, repeated or reordered)",
			   get64(c->head + REC_SEQ));
	if (is_known(rec.type) && (rec.flags & ~MIGCTL_REC_OPTIONAL))
		return bad(r, &rec, "reserved flags 0x%04x set", rec.flags & ~MIGCTL_REC_OPTIONAL);
	r->seq++;
	r->stats.records++;

	switch (rec.type) {
	case MIGCTL_REC_HEADER:
		/* The first record is the header, which open() asks for */
		if (rec.index != 0)
			return bad(r, &rec, "a second header record");
		return 0;
	case MIGCTL_REC_PRECOPY:
		if (r->stopcopy)
			return bad(r, &rec, "pre-copy data after stop-copy data");
		r->stats.precopy_records++;
		r->stats.precopy_bytes += rec.len;
		break;
	case MIGCTL_REC_STOPCOPY:
		r->stopcopy = true;
		r->stats.stopcopy_records++;
		r->stats.stopcopy_bytes += rec.len;
		break;
	case MIGCTL_REC_END:
		c->last = true;
		return end_record(r, c, &rec);
	default:
		if (!(rec.flags & MIGCTL_REC_OPTIONAL))
			return bad(
				r, &rec,
				"unknown record type 0x%04x, not optional (from a newer vfio-migctl?)",
				rec.type);
		r->stats.skipped_records++;
		r->stats.skipped_bytes += rec.len;
		return 0;
	}
	/* (A data record first is refused by open(), which asks for the header) */
	c->data_len = rec.len;
	return 0;
}

/* The two halves in turn, on the reader's own chunk */
static int next_record(struct migctl_stream_reader *r)
{
	r->chunk.err = reader_fetch(r, &r->chunk, r->cancel);
	return reader_verify(r, &r->chunk);
}

static void release(struct migctl_stream_reader *r)
{
	XXH3_freeState(r->rec);
	XXH3_freeState(r->skip);
	XXH3_freeState(r->digest);
	free(r->chunk.buf);
	r->rec = r->skip = r->digest = NULL;
	r->chunk.buf = NULL;
	r->chunk.cap = 0;
	r->avail = r->pos = 0;
}

int stream_reader_start(struct migctl_stream_reader *r, int fd, volatile sig_atomic_t *cancel,
			uint16_t *minor)
{
	uint8_t pre[MIGCTL_STREAM_PREAMBLE_SIZE];
	char why[sizeof(r->error.msg)];
	struct record rec;
	uint16_t major;
	size_t got;
	int ret;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->cancel = cancel;
	r->rec = XXH3_createState();
	r->skip = XXH3_createState();
	r->digest = XXH3_createState();
	/* Room for a piece of a skipped record before the first kept one */
	r->chunk.buf = malloc(SKIP_PIECE);
	r->chunk.cap = SKIP_PIECE;
	if (!r->rec || !r->skip || !r->digest || !r->chunk.buf) {
		ret = reader_fail(r, -ENOMEM);
		goto out;
	}
	XXH3_128bits_reset(r->digest);

	ret = stream_get(r, pre, sizeof(pre), &got, cancel);
	if (ret) {
		ret = reader_fail(r, ret);
		goto out;
	}
	if (!got) {
		ret = bad(r, NULL, "empty stream: not a vfio-migctl stream");
		goto out;
	}
	if (memcmp(pre, MIGCTL_STREAM_MAGIC,
		   got < MIGCTL_STREAM_MAGIC_SIZE ? got : MIGCTL_STREAM_MAGIC_SIZE)) {
		ret = bad(r, NULL, "not a vfio-migctl stream (no magic)");
		r->error.fault = MIGCTL_STREAM_NOT_FRAMED;
		goto out;
	}
	if (got < sizeof(pre)) {
		ret = bad(r, NULL, "truncated at byte %zu: in the preamble", got);
		goto out;
	}
	if ((uint32_t)XXH3_64bits(pre, PRE_CHECK) != get32(pre + PRE_CHECK)) {
		ret = bad(r, NULL, "preamble checksum mismatch");
		goto out;
	}
	/* Version 1.0 is the u32 1 that readers before 1.1 compare with */
	major = get16(pre + PRE_VERSION);
	*minor = get16(pre + PRE_VERSION + 2);
	if (major != MIGCTL_STREAM_VERSION && *minor == 0) {
		ret = bad(r, NULL,
			  "format version %u is not supported (this vfio-migctl reads version %d)",
			  major, MIGCTL_STREAM_VERSION);
		goto out;
	}
	if (major != MIGCTL_STREAM_VERSION || *minor > MIGCTL_STREAM_MINOR_SET) {
		ret = bad(
			r, NULL,
			"format version %u.%u is not supported (this vfio-migctl reads version %d.0 and %d.%d)",
			major, *minor, MIGCTL_STREAM_VERSION, MIGCTL_STREAM_VERSION,
			MIGCTL_STREAM_MINOR_SET);
		goto out;
	}
	/* A set stream's records are the set reader's (stream-set.c) */
	if (*minor == MIGCTL_STREAM_MINOR_SET)
		return 0;

	ret = next_record(r);
	if (ret)
		goto out;
	record_of(&r->chunk, 0, &rec);
	if (rec.type != MIGCTL_REC_HEADER) {
		ret = bad(r, &rec, "expected the header record, found type 0x%04x", rec.type);
		goto out;
	}
	ret = stream_header_decode(r->chunk.buf, rec.len, &r->header, why, sizeof(why));
	if (ret)
		ret = bad(r, &rec, "%s", why);
out:
	if (ret)
		release(r);
	return ret;
}

int migctl_stream_reader_open(struct migctl_stream_reader *r, int fd, volatile sig_atomic_t *cancel)
{
	uint16_t minor;
	int ret = stream_reader_start(r, fd, cancel, &minor);

	if (!ret && minor == MIGCTL_STREAM_MINOR_SET) {
		ret = bad(
			r, NULL,
			"format version 1.1 holds a set of devices; this reader reads one device's "
			"stream (1.0)");
		release(r);
	}
	return ret;
}

void stream_reader_release(struct migctl_stream_reader *r)
{
	release(r);
}

const struct migctl_stream_header *migctl_stream_reader_header(const struct migctl_stream_reader *r)
{
	return &r->header;
}

static int reader_read(void *ctx, void *buf, size_t len, size_t *got)
{
	struct migctl_stream_reader *r = ctx;
	size_t n;
	int ret;

	*got = 0;
	if (r->err)
		return r->err;
	/* *got = 0 means a verified end; never say it for an empty request */
	if (!len)
		return -EINVAL;
	while (r->pos == r->avail) {
		if (r->ended)
			return 0;
		ret = next_record(r);
		if (ret)
			return ret;
		r->pos = 0;
		r->avail = r->chunk.data_len;
	}
	n = r->avail - r->pos;
	if (n > len)
		n = len;
	memcpy(buf, r->chunk.buf + r->pos, n);
	r->pos += n;
	*got = n;
	return 0;
}

void migctl_stream_reader_source(struct migctl_stream_reader *r, struct migctl_source *src)
{
	*src = (struct migctl_source){
		.read = reader_read,
		.fetch = reader_fetch,
		.verify = reader_verify,
		.ctx = r,
	};
}

int migctl_stream_scan(struct migctl_stream_reader *r, struct migctl_stream_stats *st)
{
	/* Whatever is still buffered was verified and counted already */
	r->pos = r->avail = 0;
	while (!r->err && !r->ended) {
		/* A whole file can take a while: a signal is heeded at each record */
		if (r->cancel && *r->cancel) {
			reader_fail(r, -EINTR);
			break;
		}
		next_record(r);
	}
	*st = r->stats;
	st->stream_bytes = r->offset;
	st->intact = r->ended && !r->err;
	return r->err;
}

const char *migctl_stream_reader_error(const struct migctl_stream_reader *r)
{
	return r->error.msg;
}

bool migctl_stream_is_framed(const void *buf, size_t len)
{
	return len >= MIGCTL_STREAM_MAGIC_SIZE &&
	       memcmp(buf, MIGCTL_STREAM_MAGIC, MIGCTL_STREAM_MAGIC_SIZE) == 0;
}

void migctl_stream_reader_close(struct migctl_stream_reader *r)
{
	release(r);
}
