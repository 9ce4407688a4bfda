// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The framing of vfio-migctl-stream(5): preamble, checksummed and numbered
 * records, and the END record, written and read.  A reader never hands out
 * a byte of a record before that whole record's checksum has been
 * verified, and never allocates more than the bound for the record type it
 * was told, after checking it.
 */
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

_Static_assert(sizeof(MIGCTL_STREAM_MAGIC) == MIGCTL_STREAM_MAGIC_SIZE + 1,
	       "the magic is 8 bytes");

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
/* Unbuffered reads (skipped records, scan) go through a stack chunk */
#define DISCARD_CHUNK (64u << 10)

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
static void hash_payload(XXH3_state_t *rec, XXH3_state_t *digest,
			 const void *buf, size_t len)
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

static int emit(struct migctl_stream_writer *w, uint16_t type,
		const void *payload, uint32_t len)
{
	uint8_t hdr[MIGCTL_STREAM_RECORD_HEADER_SIZE];
	int ret;

	put16(hdr + REC_TYPE, type);
	put16(hdr + REC_FLAGS, 0);
	put32(hdr + REC_LENGTH, len);
	put64(hdr + REC_SEQ, w->seq);
	XXH3_64bits_reset(w->rec);
	XXH3_64bits_update(w->rec, hdr, REC_CHECKED);
	hash_payload(w->rec, is_data(type) ? w->digest : NULL, payload, len);
	put64(hdr + REC_CHECKSUM, XXH3_64bits_digest(w->rec));

	ret = write_all(w->fd, hdr, sizeof(hdr), w->cancel);
	if (!ret)
		ret = write_all(w->fd, payload, len, w->cancel);
	if (ret)
		return w->err = ret;
	w->seq++;
	return 0;
}

int migctl_stream_writer_init(struct migctl_stream_writer *w, int fd,
			      const struct migctl_stream_header *h,
			      volatile sig_atomic_t *cancel)
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
	memcpy(pre, MIGCTL_STREAM_MAGIC, MIGCTL_STREAM_MAGIC_SIZE);
	put32(pre + PRE_VERSION, MIGCTL_STREAM_VERSION);
	put32(pre + PRE_CHECK, (uint32_t)XXH3_64bits(pre, PRE_CHECK));
	ret = write_all(w->fd, pre, sizeof(pre), w->cancel);
	if (ret)
		return w->err = ret;
	return emit(w, MIGCTL_REC_HEADER, hdr, (uint32_t)len);
}

static int writer_write(void *ctx, enum migctl_phase phase, const void *buf,
			size_t len)
{
	struct migctl_stream_writer *w = ctx;
	const uint8_t *p = buf;
	uint16_t type;

	if (w->err)
		return w->err;
	if (!w->begun || w->finished)
		return -EINVAL;
	switch (phase) {
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

	while (len) {
		size_t n = len < MIGCTL_STREAM_DATA_MAX ? len : MIGCTL_STREAM_DATA_MAX;
		int ret = emit(w, type, p, (uint32_t)n);

		if (ret)
			return ret;
		w->data_bytes += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int writer_finish(void *ctx)
{
	struct migctl_stream_writer *w = ctx;
	uint8_t end[END_SIZE];
	XXH128_hash_t d;

	if (w->err)
		return w->err;
	if (!w->begun || w->finished)
		return -EINVAL;
	w->finished = true;
	d = XXH3_128bits_digest(w->digest);
	put64(end + END_DATA_BYTES, w->data_bytes);
	put64(end + END_RECORDS, w->seq);
	put64(end + END_DIGEST_LOW, d.low64);
	put64(end + END_DIGEST_HIGH, d.high64);
	return emit(w, MIGCTL_REC_END, end, sizeof(end));
}

void migctl_stream_writer_sink(struct migctl_stream_writer *w,
			       struct migctl_sink *sink)
{
	*sink = (struct migctl_sink){
		.begin = writer_begin,
		.write = writer_write,
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

static int __attribute__((format(printf, 2, 3)))
bad(struct migctl_stream_reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err)
		return r->err;
	va_start(ap, fmt);
	vsnprintf(r->error.msg, sizeof(r->error.msg), fmt, ap);
	va_end(ap);
	return reader_fail(r, -EBADMSG);
}

static int __attribute__((format(printf, 3, 4)))
bad_record(struct migctl_stream_reader *r, const struct record *rec,
	   const char *fmt, ...)
{
	size_t size = sizeof(r->error.msg);
	va_list ap;
	int n;

	if (r->err)
		return r->err;
	n = snprintf(r->error.msg, size, "record %" PRIu64 " at byte %" PRIu64 ": ",
		     rec->index, rec->start);
	if (n > 0 && (size_t)n < size) {
		va_start(ap, fmt);
		vsnprintf(r->error.msg + n, size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return reader_fail(r, -EBADMSG);
}

static int get(struct migctl_stream_reader *r, void *buf, size_t len,
	       size_t *got)
{
	int ret = read_full(r->fd, buf, len, got, r->cancel);

	r->offset += *got;
	return ret ? reader_fail(r, ret) : 0;
}

static int truncated(struct migctl_stream_reader *r, const struct record *rec)
{
	return bad_record(r, rec, "truncated at byte %" PRIu64, r->offset);
}

/* Read a payload into r->buf, allocated to its (already bounded) length */
static int read_kept(struct migctl_stream_reader *r, const struct record *rec)
{
	size_t got;
	int ret;

	if (rec->len > r->buf_size) {
		free(r->buf);
		r->buf_size = 0;
		r->buf = malloc(rec->len);
		if (!r->buf)
			return reader_fail(r, -ENOMEM);
		r->buf_size = rec->len;
	}
	ret = get(r, r->buf, rec->len, &got);
	if (ret)
		return ret;
	if (got < rec->len)
		return truncated(r, rec);
	hash_payload(r->rec, is_data(rec->type) ? r->digest : NULL, r->buf,
		     rec->len);
	return 0;
}

/* Read a payload through a fixed chunk, hashing as it passes */
static int read_discarded(struct migctl_stream_reader *r,
			  const struct record *rec)
{
	uint8_t chunk[DISCARD_CHUNK];
	uint32_t left = rec->len;

	while (left) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk), got;
		int ret = get(r, chunk, n, &got);

		if (ret)
			return ret;
		if (got < n)
			return truncated(r, rec);
		hash_payload(r->rec, is_data(rec->type) ? r->digest : NULL,
			     chunk, n);
		left -= (uint32_t)n;
	}
	return 0;
}

/*
 * Read one record and verify its checksum and number.  HEADER and END
 * payloads always land in r->buf, data payloads only if @keep_data;
 * anything else is read and discarded.
 */
static int read_record(struct migctl_stream_reader *r, struct record *rec,
		       bool keep_data)
{
	uint8_t h[MIGCTL_STREAM_RECORD_HEADER_SIZE];
	uint64_t seq, sum;
	uint32_t limit;
	size_t got;
	bool keep;
	int ret;

	rec->index = r->seq;
	rec->start = r->offset;
	ret = get(r, h, sizeof(h), &got);
	if (ret)
		return ret;
	if (!got)
		return bad(r, "truncated at byte %" PRIu64 ": %s record missing",
			   r->offset, r->seq ? "end" : "header");
	if (got < sizeof(h))
		return truncated(r, rec);

	rec->type = get16(h + REC_TYPE);
	rec->flags = get16(h + REC_FLAGS);
	rec->len = get32(h + REC_LENGTH);
	seq = get64(h + REC_SEQ);
	sum = get64(h + REC_CHECKSUM);

	/* Before anything is read or allocated for it */
	limit = length_limit(rec->type);
	if (rec->len > limit)
		return bad_record(r, rec,
				  "length %" PRIu32 " exceeds the limit of %" PRIu32
				  " bytes for %s records",
				  rec->len, limit, type_name(rec->type));

	XXH3_64bits_reset(r->rec);
	XXH3_64bits_update(r->rec, h, REC_CHECKED);
	keep = rec->type == MIGCTL_REC_HEADER || rec->type == MIGCTL_REC_END ||
	       (keep_data && is_data(rec->type));
	ret = keep ? read_kept(r, rec) : read_discarded(r, rec);
	if (ret)
		return ret;
	if (XXH3_64bits_digest(r->rec) != sum)
		return bad_record(r, rec, "checksum mismatch");

	/* Verified: what it says is what the writer said */
	if (seq != rec->index)
		return bad_record(r, rec,
				  "numbered %" PRIu64 " (records lost, repeated or reordered)",
				  seq);
	if (is_known(rec->type) && (rec->flags & ~MIGCTL_REC_OPTIONAL))
		return bad_record(r, rec, "reserved flags 0x%04x set",
				  rec->flags & ~MIGCTL_REC_OPTIONAL);
	r->seq++;
	r->stats.records++;
	return 0;
}

static void release(struct migctl_stream_reader *r)
{
	XXH3_freeState(r->rec);
	XXH3_freeState(r->digest);
	free(r->buf);
	r->rec = r->digest = NULL;
	r->buf = NULL;
	r->buf_size = r->avail = r->pos = 0;
}

int migctl_stream_reader_open(struct migctl_stream_reader *r, int fd,
			      volatile sig_atomic_t *cancel)
{
	uint8_t pre[MIGCTL_STREAM_PREAMBLE_SIZE];
	char why[sizeof(r->error.msg)];
	struct record rec;
	uint32_t version;
	size_t got;
	int ret;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->cancel = cancel;
	r->rec = XXH3_createState();
	r->digest = XXH3_createState();
	if (!r->rec || !r->digest) {
		ret = reader_fail(r, -ENOMEM);
		goto out;
	}
	XXH3_128bits_reset(r->digest);

	ret = get(r, pre, sizeof(pre), &got);
	if (ret)
		goto out;
	if (!got) {
		ret = bad(r, "empty stream: not a vfio-migctl stream");
		goto out;
	}
	if (memcmp(pre, MIGCTL_STREAM_MAGIC,
		   got < MIGCTL_STREAM_MAGIC_SIZE ? got : MIGCTL_STREAM_MAGIC_SIZE)) {
		ret = bad(r, "not a vfio-migctl stream (no magic)");
		r->error.fault = MIGCTL_STREAM_NOT_FRAMED;
		goto out;
	}
	if (got < sizeof(pre)) {
		ret = bad(r, "truncated at byte %zu: in the preamble", got);
		goto out;
	}
	if ((uint32_t)XXH3_64bits(pre, PRE_CHECK) != get32(pre + PRE_CHECK)) {
		ret = bad(r, "preamble checksum mismatch");
		goto out;
	}
	version = get32(pre + PRE_VERSION);
	if (version != MIGCTL_STREAM_VERSION) {
		ret = bad(r, "format version %" PRIu32 " is not supported (this vfio-migctl reads version %d)",
			  version, MIGCTL_STREAM_VERSION);
		goto out;
	}

	ret = read_record(r, &rec, false);
	if (ret)
		goto out;
	if (rec.type != MIGCTL_REC_HEADER) {
		ret = bad_record(r, &rec, "expected the header record, found type 0x%04x",
				 rec.type);
		goto out;
	}
	ret = stream_header_decode(r->buf, rec.len, &r->header, why, sizeof(why));
	if (ret)
		ret = bad_record(r, &rec, "%s", why);
out:
	if (ret)
		release(r);
	return ret;
}

const struct migctl_stream_header *
migctl_stream_reader_header(const struct migctl_stream_reader *r)
{
	return &r->header;
}

static int end_record(struct migctl_stream_reader *r, const struct record *rec)
{
	uint64_t carried = r->stats.precopy_bytes + r->stats.stopcopy_bytes;
	const uint8_t *p = r->buf;
	XXH128_hash_t d;
	uint8_t extra;
	size_t got;
	int ret;

	if (rec->len < END_SIZE)
		return bad_record(r, rec, "end record too short (%" PRIu32 " bytes)",
				  rec->len);
	if (get64(p + END_DATA_BYTES) != carried)
		return bad_record(r, rec,
				  "end record counts %" PRIu64 " data bytes, the stream carried %" PRIu64,
				  get64(p + END_DATA_BYTES), carried);
	if (get64(p + END_RECORDS) != rec->index)
		return bad_record(r, rec,
				  "end record counts %" PRIu64 " records before it, the stream had %" PRIu64,
				  get64(p + END_RECORDS), rec->index);
	d = XXH3_128bits_digest(r->digest);
	if (get64(p + END_DIGEST_LOW) != d.low64 ||
	    get64(p + END_DIGEST_HIGH) != d.high64)
		return bad_record(r, rec, "digest of the data does not match");

	/* One stream per file: bytes after END are not ours to ignore */
	ret = get(r, &extra, 1, &got);
	if (ret)
		return ret;
	if (got)
		return bad(r, "trailing data at byte %" PRIu64 " after the end record",
			   r->offset - 1);
	r->ended = true;
	r->stats.intact = true;
	return 0;
}

static int next_record(struct migctl_stream_reader *r, bool keep_data)
{
	struct record rec;
	int ret;

	ret = read_record(r, &rec, keep_data);
	if (ret)
		return ret;
	switch (rec.type) {
	case MIGCTL_REC_HEADER:
		return bad_record(r, &rec, "a second header record");
	case MIGCTL_REC_PRECOPY:
		if (r->stopcopy)
			return bad_record(r, &rec, "pre-copy data after stop-copy data");
		r->stats.precopy_records++;
		r->stats.precopy_bytes += rec.len;
		break;
	case MIGCTL_REC_STOPCOPY:
		r->stopcopy = true;
		r->stats.stopcopy_records++;
		r->stats.stopcopy_bytes += rec.len;
		break;
	case MIGCTL_REC_END:
		return end_record(r, &rec);
	default:
		if (!(rec.flags & MIGCTL_REC_OPTIONAL))
			return bad_record(r, &rec,
					  "unknown record type 0x%04x, not optional (from a newer vfio-migctl?)",
					  rec.type);
		r->stats.skipped_records++;
		r->stats.skipped_bytes += rec.len;
		return 0;
	}
	if (keep_data) {
		r->pos = 0;
		r->avail = rec.len;
	}
	return 0;
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
		ret = next_record(r, true);
		if (ret)
			return ret;
	}
	n = r->avail - r->pos;
	if (n > len)
		n = len;
	memcpy(buf, r->buf + r->pos, n);
	r->pos += n;
	*got = n;
	return 0;
}

void migctl_stream_reader_source(struct migctl_stream_reader *r,
				 struct migctl_source *src)
{
	*src = (struct migctl_source){ .read = reader_read, .ctx = r };
}

int migctl_stream_scan(struct migctl_stream_reader *r,
		       struct migctl_stream_stats *st)
{
	/* Whatever is still buffered was verified and counted already */
	r->pos = r->avail = 0;
	while (!r->err && !r->ended)
		next_record(r, false);
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
