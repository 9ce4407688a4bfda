// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Device sets in the stream format (vfio-migctl-stream(5), "Sets"): one
 * stream for several devices, version 1.1.  The set's SET record and each
 * member's HEADER come first; then the members' records, interleaved as
 * their engines produce them, each numbered in its own member's sequence;
 * then END with the totals of the whole and of each member.
 *
 * The writer's members frame on their own threads (their numbers and
 * digests are theirs alone) and take turns on the fd, a whole record at a
 * time.  The reader's members pull concurrently: whoever finds its queue
 * empty reads the next record off the fd and queues it for its member if
 * it is another's; each member verifies its own records on its own thread.
 * A set of one is today's version 1.0 stream, written and read by the
 * one-device codec (stream-frame.c).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "fdio.h"
#include "stream-wire.h"

/* Version 1.1 record header: the checksum covers bytes 0..23, then the payload */
#define SREC_TYPE 0
#define SREC_FLAGS 2
#define SREC_LENGTH 4
#define SREC_SEQ 8
#define SREC_MEMBER 16
#define SREC_RESERVED 20
#define SREC_CHECKSUM 24
#define SREC_CHECKED 24
#define SREC_SIZE MIGCTL_STREAM_SET_RECORD_HEADER_SIZE
_Static_assert(SREC_SIZE <= MIGCTL_CHUNK_HEAD_MAX, "a set record header fits a chunk's head");

/* SET payload */
#define SET_MEMBERS 0
#define SET_SIZE 8

/* END payload, version 1.1: the whole, then 32 bytes per member */
#define SEND_DATA_BYTES 0
#define SEND_RECORDS 8
#define SEND_MEMBERS 16
#define SEND_MEMBER0 24
#define SEND_M_DATA_BYTES 0
#define SEND_M_RECORDS 8
#define SEND_M_DIGEST_LOW 16
#define SEND_M_DIGEST_HIGH 24
#define SEND_M_SIZE 32
#define SEND_SIZE(n) (SEND_MEMBER0 + SEND_M_SIZE * (size_t)(n))
_Static_assert(SEND_SIZE(MIGCTL_STREAM_SET_MAX) <= MIGCTL_STREAM_END_MAX,
	       "END holds every member of the largest set");

/* What a member's fetch() found out about a record for its verify(), in the chunk's cb */
struct fetch_note {
	uint64_t start; /* the record's first byte in the stream */
	uint64_t sum;	/* hashed: the checksum, computed as it passed */
	bool hashed;	/* a record not kept (of a type no one reads) */
	char why[256];	/* the words of a fetch error */
};

static_assert(sizeof(struct fetch_note) <= MIGCTL_CHUNK_CB_SIZE, "fetch_note fits a chunk's cb");

static struct fetch_note *note_of(struct migctl_chunk *c)
{
	return (struct fetch_note *)c->cb;
}

/* How often a waiting thread looks at its stop flag */
#define WAIT_MS 20

static bool is_data(uint16_t type)
{
	return type == MIGCTL_REC_PRECOPY || type == MIGCTL_REC_STOPCOPY;
}

static bool flagged(volatile sig_atomic_t *flag)
{
	return flag && *flag;
}

static int cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int ret;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	ret = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return -ret;
}

/* A wait that comes back within WAIT_MS, to look at the stop flags again */
static void timed_wait(pthread_cond_t *cond, pthread_mutex_t *lock)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += WAIT_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cond, lock, &ts);
}

/* A version 1.1 record header for @payload, checksummed with @rec (and @digest for data) */
static void seal(uint8_t head[SREC_SIZE], XXH3_state_t *rec, XXH3_state_t *digest, uint16_t type,
		 uint32_t member, uint64_t seq, const void *payload, uint32_t len)
{
	put16(head + SREC_TYPE, type);
	put16(head + SREC_FLAGS, 0);
	put32(head + SREC_LENGTH, len);
	put64(head + SREC_SEQ, seq);
	put32(head + SREC_MEMBER, member);
	put32(head + SREC_RESERVED, 0);
	XXH3_64bits_reset(rec);
	XXH3_64bits_update(rec, head, SREC_CHECKED);
	stream_hash_payload(rec, digest, payload, len);
	put64(head + SREC_CHECKSUM, XXH3_64bits_digest(rec));
}

/* ---- writer */

struct wmember {
	struct migctl_stream_set_writer *set;
	uint32_t index;
	struct migctl_stream_header header;
	/* frame()'s, on the member's checksum stage */
	XXH3_state_t *rec, *digest;
	uint64_t seq; /* the number of its next record (its HEADER is 0) */
	uint64_t framed_bytes;
	bool stopcopy;
	/* under the set's lock */
	bool begun, finished;
	uint64_t emitted; /* data records out */
};

struct migctl_stream_set_writer {
	unsigned n;
	struct migctl_stream_writer single; /* n == 1: version 1.0 */
	int fd;
	volatile sig_atomic_t *cancel;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wmember *m;
	/* under the lock */
	XXH3_state_t *rec; /* the set's own records */
	bool writing;	   /* a record is going out, the lock released */
	unsigned begun, finished;
	bool headers_out, ended;
	uint64_t records; /* written so far */
	uint64_t data_bytes;
	int err; /* sticky: a failed write broke the stream for every member */
};

int migctl_stream_set_writer_new(int fd, unsigned members,
				 const struct migctl_stream_header *headers,
				 volatile sig_atomic_t *cancel,
				 struct migctl_stream_set_writer **wp)
{
	uint8_t hdr[STREAM_HEADER_ENCODED_MAX];
	struct migctl_stream_set_writer *w;
	size_t len;
	int ret;

	*wp = NULL;
	if (!members || members > MIGCTL_STREAM_SET_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->n = members;
	w->fd = fd;
	w->cancel = cancel;
	if (members == 1) {
		ret = migctl_stream_writer_init(&w->single, fd, headers, cancel);
		if (ret) {
			migctl_stream_writer_close(&w->single);
			free(w);
			return ret;
		}
		*wp = w;
		return 0;
	}
	pthread_mutex_init(&w->lock, NULL);
	ret = cond_init(&w->cond);
	w->m = calloc(members, sizeof(*w->m));
	w->rec = XXH3_createState();
	if (!ret && (!w->m || !w->rec))
		ret = -ENOMEM;
	for (unsigned k = 0; !ret && k < members; k++) {
		struct wmember *m = &w->m[k];

		m->set = w;
		m->index = k;
		m->header = headers[k];
		m->seq = 1;
		/* A name that cannot be encoded is refused now, before any device work */
		ret = stream_header_encode(&headers[k], hdr, &len);
		if (ret)
			break;
		m->rec = XXH3_createState();
		m->digest = XXH3_createState();
		if (!m->rec || !m->digest)
			ret = -ENOMEM;
		else
			XXH3_128bits_reset(m->digest);
	}
	if (ret) {
		migctl_stream_set_writer_free(w);
		return ret;
	}
	*wp = w;
	return 0;
}

/* Under the lock, with nobody else writing: a whole record of the set's own */
static int put_own(struct migctl_stream_set_writer *w, uint16_t type, uint32_t member, uint64_t seq,
		   const void *payload, uint32_t len)
{
	uint8_t head[SREC_SIZE];
	int ret;

	seal(head, w->rec, NULL, type, member, seq, payload, len);
	ret = write_all(w->fd, head, sizeof(head), w->cancel);
	if (!ret)
		ret = write_all(w->fd, payload, len, w->cancel);
	if (ret)
		return w->err = ret;
	w->records++;
	return 0;
}

/* Every member has begun: preamble, SET, and the HEADERs in member order */
static int put_headers(struct migctl_stream_set_writer *w)
{
	uint8_t pre[MIGCTL_STREAM_PREAMBLE_SIZE], set[SET_SIZE], hdr[STREAM_HEADER_ENCODED_MAX];
	size_t len;
	int ret;

	stream_preamble(pre, MIGCTL_STREAM_MINOR_SET);
	ret = write_all(w->fd, pre, sizeof(pre), w->cancel);
	if (ret)
		return w->err = ret;
	put32(set + SET_MEMBERS, w->n);
	put32(set + SET_MEMBERS + 4, 0);
	ret = put_own(w, MIGCTL_REC_SET, MIGCTL_STREAM_SET_SELF, 0, set, sizeof(set));
	for (unsigned k = 0; !ret && k < w->n; k++) {
		ret = stream_header_encode(&w->m[k].header, hdr, &len);
		if (ret)
			return w->err = ret;
		ret = put_own(w, MIGCTL_REC_HEADER, k, 0, hdr, (uint32_t)len);
	}
	if (!ret)
		w->headers_out = true;
	return ret;
}

static int member_begin(void *ctx, uint64_t mig_flags, uint64_t estimate)
{
	struct wmember *m = ctx;
	struct migctl_stream_set_writer *w = m->set;
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	if (w->err) {
		ret = w->err;
	} else if (m->begun) {
		ret = -EINVAL;
	} else {
		m->begun = true;
		m->header.mig_flags = mig_flags;
		m->header.estimate = estimate;
		if (++w->begun == w->n)
			ret = put_headers(w);
	}
	/* Members already running wait in emit() for the HEADERs */
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return ret;
}

static int member_frame(void *ctx, struct migctl_chunk *c)
{
	struct wmember *m = ctx;
	struct migctl_stream_set_writer *w = m->set;
	bool usable;
	uint16_t type;
	int err;

	pthread_mutex_lock(&w->lock);
	err = w->err;
	/* Its own begin() first; emit() waits for the others' */
	usable = m->begun && !m->finished;
	pthread_mutex_unlock(&w->lock);
	if (err)
		return err;
	if (!usable || c->len > MIGCTL_STREAM_DATA_MAX)
		return -EINVAL;
	switch (c->phase) {
	case MIGCTL_PHASE_PRE_COPY:
		if (m->stopcopy)
			return -EINVAL;
		type = MIGCTL_REC_PRECOPY;
		break;
	case MIGCTL_PHASE_STOP_COPY:
		m->stopcopy = true;
		type = MIGCTL_REC_STOPCOPY;
		break;
	default:
		return -EINVAL;
	}
	seal(c->head, m->rec, m->digest, type, m->index, m->seq, c->buf, (uint32_t)c->len);
	m->seq++;
	m->framed_bytes += c->len;
	return 0;
}

/* A member's whole record on the fd, one member at a time */
static int member_emit(void *ctx, const struct migctl_chunk *c, volatile sig_atomic_t *stop)
{
	struct wmember *m = ctx;
	struct migctl_stream_set_writer *w = m->set;
	int ret;

	/*
	 * Every HEADER goes out before any data: a member that runs before the
	 * others have begun waits for them (their coordinator stops it if one
	 * never does)
	 */
	pthread_mutex_lock(&w->lock);
	while ((w->writing || !w->headers_out) && !w->err && !flagged(stop))
		timed_wait(&w->cond, &w->lock);
	if (w->err)
		ret = w->err;
	else if (w->writing || !w->headers_out)
		ret = -EINTR;
	else
		ret = 0;
	if (ret) {
		pthread_mutex_unlock(&w->lock);
		return ret;
	}
	w->writing = true;
	pthread_mutex_unlock(&w->lock);

	ret = write_all(w->fd, c->head, SREC_SIZE, stop);
	if (!ret)
		ret = write_all(w->fd, c->buf, c->len, stop);

	pthread_mutex_lock(&w->lock);
	w->writing = false;
	if (ret) {
		/* Part of a record may be out: nothing after it would read */
		if (!w->err)
			w->err = ret;
	} else {
		w->records++;
		w->data_bytes += c->len;
		m->emitted++;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return ret;
}

static int member_write(void *ctx, enum migctl_phase phase, const void *buf, size_t len)
{
	struct wmember *m = ctx;
	struct migctl_stream_set_writer *w = m->set;
	struct migctl_chunk c = { .phase = phase };
	bool headers_out;
	int ret;

	/* The sequential form cannot wait for the others' begin(): refused */
	pthread_mutex_lock(&w->lock);
	headers_out = w->headers_out;
	ret = w->err;
	pthread_mutex_unlock(&w->lock);
	if (ret)
		return ret;
	if (!headers_out)
		return -EINVAL;

	while (len) {
		c.buf = (uint8_t *)buf;
		c.len = len < MIGCTL_STREAM_DATA_MAX ? len : MIGCTL_STREAM_DATA_MAX;
		ret = member_frame(m, &c);
		if (!ret)
			ret = member_emit(m, &c, m->set->cancel);
		if (ret)
			return ret;
		buf = (const uint8_t *)buf + c.len;
		len -= c.len;
	}
	return 0;
}

/* Under the lock, every member finished: END, the set's commit point */
static int put_end(struct migctl_stream_set_writer *w)
{
	uint8_t end[SEND_SIZE(MIGCTL_STREAM_SET_MAX)];
	size_t len = SEND_SIZE(w->n);

	put64(end + SEND_DATA_BYTES, w->data_bytes);
	put64(end + SEND_RECORDS, w->records);
	put32(end + SEND_MEMBERS, w->n);
	put32(end + SEND_MEMBERS + 4, 0);
	for (unsigned k = 0; k < w->n; k++) {
		struct wmember *m = &w->m[k];
		uint8_t *e = end + SEND_MEMBER0 + SEND_M_SIZE * k;
		XXH128_hash_t d = XXH3_128bits_digest(m->digest);

		/* A record framed and never emitted: the engine's bug, not a stream */
		if (m->emitted + 1 != m->seq)
			return -EINVAL;
		put64(e + SEND_M_DATA_BYTES, m->framed_bytes);
		put64(e + SEND_M_RECORDS, m->seq);
		put64(e + SEND_M_DIGEST_LOW, d.low64);
		put64(e + SEND_M_DIGEST_HIGH, d.high64);
	}
	/* The set's records: SET is 0, END 1 */
	return put_own(w, MIGCTL_REC_END, MIGCTL_STREAM_SET_SELF, 1, end, (uint32_t)len);
}

static int member_finish(void *ctx)
{
	struct wmember *m = ctx;
	struct migctl_stream_set_writer *w = m->set;
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	if (w->err) {
		ret = w->err;
	} else if (!m->begun || m->finished || !w->headers_out) {
		ret = -EINVAL;
	} else {
		m->finished = true;
		if (++w->finished == w->n) {
			ret = put_end(w);
			w->ended = !ret;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return ret;
}

void migctl_stream_set_writer_sink(struct migctl_stream_set_writer *w, unsigned member,
				   struct migctl_sink *sink)
{
	if (w->n == 1) {
		migctl_stream_writer_sink(&w->single, sink);
		return;
	}
	*sink = (struct migctl_sink){
		.begin = member_begin,
		.write = member_write,
		.frame = member_frame,
		.emit = member_emit,
		.max_chunk = MIGCTL_STREAM_DATA_MAX,
		.finish = member_finish,
		.ctx = &w->m[member],
	};
}

bool migctl_stream_set_writer_ended(struct migctl_stream_set_writer *w)
{
	bool ended;

	if (w->n == 1)
		return w->single.finished && !w->single.err;
	pthread_mutex_lock(&w->lock);
	ended = w->ended;
	pthread_mutex_unlock(&w->lock);
	return ended;
}

void migctl_stream_set_writer_free(struct migctl_stream_set_writer *w)
{
	if (!w)
		return;
	if (w->n == 1) {
		migctl_stream_writer_close(&w->single);
		free(w);
		return;
	}
	for (unsigned k = 0; w->m && k < w->n; k++) {
		XXH3_freeState(w->m[k].rec);
		XXH3_freeState(w->m[k].digest);
	}
	free(w->m);
	XXH3_freeState(w->rec);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* ---- reader */

/* A record read for a member that is not the one reading: its queue */
struct entry {
	struct entry *next;
	uint8_t head[SREC_SIZE];
	uint8_t *buf;
	size_t cap, len;
	uint64_t start;
	bool hashed; /* an unknown type, checksummed as it passed (sum) */
	uint64_t sum;
};

struct rmember {
	struct migctl_stream_set_reader *set;
	uint32_t index;
	struct migctl_stream_header header;
	/* verify()'s, on the member's checksum stage */
	XXH3_state_t *rec, *digest;
	uint64_t seq; /* the number its next record must carry */
	bool stopcopy;
	struct migctl_stream_stats stats;
	int err; /* sticky */
	char msg[sizeof(((struct migctl_stream_error *)0)->msg)];
	/* under the set's lock */
	struct entry *head, *tail;
	size_t queued; /* payload bytes */
	bool detached;
};

struct migctl_stream_set_reader {
	/* fd, cancel, offset, the skip hash, and the first error of all */
	struct migctl_stream_reader single;
	bool is_set;
	unsigned n;
	struct rmember *m;
	struct migctl_stream_header one; /* a set of one: single's header */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool sync_ready;
	/* under the lock: the fd side */
	bool reading; /* a thread reads the fd, the lock released */
	bool pending; /* pend_head read, its payload not yet */
	uint8_t pend_head[SREC_SIZE];
	uint64_t pend_start;
	uint64_t fetched;    /* records read, in stream order */
	uint64_t data_bytes; /* in the data records read */
	uint64_t set_seq;    /* the number the set's next record must carry */
	int fetch_err;	     /* the stream broke here: met after what was queued */
	char fetch_msg[sizeof(((struct migctl_stream_error *)0)->msg)];
	bool end_fetched; /* END read, verified for the whole */
	uint8_t end_head[SREC_SIZE];
	uint8_t end_buf[MIGCTL_STREAM_END_MAX];
	uint32_t end_len;
	uint64_t end_start;
	struct entry *spare; /* emptied entries, their buffers kept for the next */
	unsigned n_spare;
};

struct migctl_stream_set_reader *migctl_stream_set_reader_new(int fd, volatile sig_atomic_t *cancel)
{
	struct migctl_stream_set_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->single.fd = fd;
	r->single.cancel = cancel;
	return r;
}

/* "record 3 at byte 1048620: " for a member's record, "set record 1 at ..." for the set's */
static void __attribute__((format(printf, 5, 0)))
vsay(char *msg, size_t size, uint32_t member, uint64_t seq, const char *fmt, va_list ap,
     uint64_t at)
{
	int n;

	if (member == MIGCTL_STREAM_SET_SELF)
		n = snprintf(msg, size, "set record %" PRIu64 " at byte %" PRIu64 ": ", seq, at);
	else
		n = snprintf(msg, size,
			     "member %" PRIu32 " record %" PRIu64 " at byte %" PRIu64 ": ", member,
			     seq, at);
	if (n >= 0 && (size_t)n < size)
		vsnprintf(msg + n, size - (size_t)n, fmt, ap);
}

/* Under the lock: the first error of all, as the whole's */
static void note_whole(struct migctl_stream_set_reader *r, int err, const char *msg)
{
	if (r->single.err)
		return;
	r->single.err = err;
	snprintf(r->single.error.msg, sizeof(r->single.error.msg), "%s", msg);
}

/* Under the lock: the stream is broken at this point, for every member */
static int __attribute__((format(printf, 3, 4)))
broken(struct migctl_stream_set_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->fetch_err)
		return r->fetch_err;
	va_start(ap, fmt);
	vsnprintf(r->fetch_msg, sizeof(r->fetch_msg), fmt, ap);
	va_end(ap);
	r->fetch_err = err;
	note_whole(r, err, r->fetch_msg);
	pthread_cond_broadcast(&r->cond);
	return err;
}

static void free_entry(struct entry *e)
{
	free(e->buf);
	free(e);
}

/* Under the lock: an emptied entry back to the spares (bounded), or freed */
static void recycle(struct migctl_stream_set_reader *r, struct entry *e)
{
	if (r->n_spare > r->n) {
		free_entry(e);
		return;
	}
	e->next = r->spare;
	r->spare = e;
	r->n_spare++;
}

/* Under the lock: member @m no longer takes records */
static void detach(struct rmember *m)
{
	struct migctl_stream_set_reader *r = m->set;

	m->detached = true;
	while (m->head) {
		struct entry *e = m->head;

		m->head = e->next;
		recycle(r, e);
	}
	m->tail = NULL;
	m->queued = 0;
	pthread_cond_broadcast(&r->cond);
}

void migctl_stream_set_reader_detach(struct migctl_stream_set_reader *r, unsigned member)
{
	if (!r->is_set || member >= r->n)
		return;
	pthread_mutex_lock(&r->lock);
	detach(&r->m[member]);
	pthread_mutex_unlock(&r->lock);
}

/* A member's record that does not verify: its error, the whole's if first */
static int __attribute__((format(printf, 4, 5)))
member_bad(struct rmember *m, uint64_t seq, uint64_t at, const char *fmt, ...)
{
	struct migctl_stream_set_reader *r = m->set;
	va_list ap;

	if (m->err)
		return m->err;
	va_start(ap, fmt);
	vsay(m->msg, sizeof(m->msg), m->index, seq, fmt, ap, at);
	va_end(ap);
	m->err = -EBADMSG;
	pthread_mutex_lock(&r->lock);
	note_whole(r, m->err, m->msg);
	detach(m);
	pthread_mutex_unlock(&r->lock);
	return m->err;
}

/*
 * The fd side, under the lock with nobody else reading: the next record's
 * header into pend_head.  The lock is released for the I/O.  0 or the
 * stream's error.
 */
static int read_head(struct migctl_stream_set_reader *r, volatile sig_atomic_t *stop)
{
	struct migctl_stream_reader *s = &r->single;
	uint64_t start = s->offset;
	uint16_t type;
	uint32_t len, limit, member;
	size_t got;
	int ret;

	r->reading = true;
	pthread_mutex_unlock(&r->lock);
	ret = stream_get(s, r->pend_head, SREC_SIZE, &got, stop);
	pthread_mutex_lock(&r->lock);
	r->reading = false;
	pthread_cond_broadcast(&r->cond);
	if (ret)
		return broken(r, ret, "reading the stream at byte %" PRIu64, s->offset);
	if (!got)
		return broken(r, -EBADMSG, "truncated at byte %" PRIu64 ": end record missing",
			      s->offset);
	if (got < SREC_SIZE)
		return broken(r, -EBADMSG, "record at byte %" PRIu64 ": truncated at byte %" PRIu64,
			      start, s->offset);
	type = get16(r->pend_head + SREC_TYPE);
	len = get32(r->pend_head + SREC_LENGTH);
	member = get32(r->pend_head + SREC_MEMBER);
	/* Before anything is read or allocated for it */
	limit = type == MIGCTL_REC_HEADER || type == MIGCTL_REC_END || type == MIGCTL_REC_SET ?
			(type == MIGCTL_REC_HEADER ? MIGCTL_STREAM_HEADER_MAX :
						     MIGCTL_STREAM_END_MAX) :
		is_data(type) ? MIGCTL_STREAM_DATA_MAX :
				MIGCTL_STREAM_OPTIONAL_MAX;
	if (len > limit)
		return broken(r, -EBADMSG,
			      "record at byte %" PRIu64 ": length %" PRIu32
			      " exceeds the limit of %" PRIu32 " bytes for its type 0x%04x",
			      start, len, limit, type);
	if (member != MIGCTL_STREAM_SET_SELF && member >= r->n)
		return broken(r, -EBADMSG,
			      "record at byte %" PRIu64 ": member %" PRIu32 " (the set has %u)",
			      start, member, r->n);
	r->pending = true;
	r->pend_start = start;
	return 0;
}

static bool known(uint16_t type)
{
	return type >= MIGCTL_REC_HEADER && type <= MIGCTL_REC_SET;
}

/*
 * The pending record's payload, lock released for the I/O: kept in *@buf
 * (grown to fit), or for an unknown type checksummed as it passes through
 * it (*@hashed, *@sum).  Under the lock again on return; 0 or the stream's
 * error (the record is no longer pending either way).
 */
static int read_payload(struct migctl_stream_set_reader *r, uint8_t **buf, size_t *cap, size_t *len,
			bool *hashed, uint64_t *sum, volatile sig_atomic_t *stop)
{
	struct migctl_stream_reader *s = &r->single;
	uint8_t head[SREC_SIZE];
	uint32_t want = get32(r->pend_head + SREC_LENGTH);
	uint16_t type = get16(r->pend_head + SREC_TYPE);
	uint64_t start = r->pend_start;
	size_t got = 0;
	int ret = 0;

	memcpy(head, r->pend_head, sizeof(head));
	r->pending = false;
	r->reading = true;
	pthread_mutex_unlock(&r->lock);
	*hashed = !known(type);
	*len = 0;
	if (!*hashed) {
		if (want > *cap) {
			uint8_t *b = realloc(*buf, want);

			if (b) {
				*buf = b;
				*cap = want;
			} else {
				ret = -ENOMEM;
			}
		}
		if (!ret)
			ret = stream_get(s, *buf, want, len, stop);
	} else {
		/* Never held whole: through the buffer a piece at a time */
		if (!*cap) {
			*buf = malloc(64u << 10);
			*cap = *buf ? 64u << 10 : 0;
			if (!*buf)
				ret = -ENOMEM;
		}
		XXH3_64bits_reset(s->skip);
		XXH3_64bits_update(s->skip, head, SREC_CHECKED);
		while (!ret && *len < want) {
			size_t n = want - *len < *cap ? want - *len : *cap;

			ret = stream_get(s, *buf, n, &got, stop);
			XXH3_64bits_update(s->skip, *buf, got);
			*len += got;
			if (got < n)
				break;
		}
		*sum = XXH3_64bits_digest(s->skip);
	}
	pthread_mutex_lock(&r->lock);
	r->reading = false;
	pthread_cond_broadcast(&r->cond);
	if (ret)
		return broken(r, ret, "reading the stream at byte %" PRIu64, s->offset);
	if (*len < want)
		return broken(r, -EBADMSG, "record at byte %" PRIu64 ": truncated at byte %" PRIu64,
			      start, s->offset);
	r->fetched++;
	if (is_data(type))
		r->data_bytes += want;
	return 0;
}

/*
 * Under the lock: a record of the set itself, whose payload is in @buf:
 * the set verifies it here, once, for every member.  END ends the stream.
 */
static int own_record(struct migctl_stream_set_reader *r, const uint8_t *head, const uint8_t *buf,
		      size_t len, bool hashed, uint64_t sum, uint64_t start,
		      volatile sig_atomic_t *stop)
{
	struct migctl_stream_reader *s = &r->single;
	uint16_t type = get16(head + SREC_TYPE), flags = get16(head + SREC_FLAGS);
	uint64_t seq = get64(head + SREC_SEQ);
	const char *where = "set record";
	uint8_t extra;
	size_t got;
	int ret;

	if (!hashed) {
		XXH3_64bits_reset(s->rec);
		XXH3_64bits_update(s->rec, head, SREC_CHECKED);
		stream_hash_payload(s->rec, NULL, buf, len);
		sum = XXH3_64bits_digest(s->rec);
	}
	if (sum != get64(head + SREC_CHECKSUM))
		return broken(r, -EBADMSG, "%s %" PRIu64 " at byte %" PRIu64 ": checksum mismatch",
			      where, r->set_seq, start);
	if (seq != r->set_seq)
		return broken(r, -EBADMSG,
			      "%s %" PRIu64 " at byte %" PRIu64 ": numbered %" PRIu64
			      " (records lost, repeated or reordered)",
			      where, r->set_seq, start, seq);
	if (known(type) && (flags & ~MIGCTL_REC_OPTIONAL))
		return broken(r, -EBADMSG,
			      "%s %" PRIu64 " at byte %" PRIu64 ": reserved flags 0x%04x set",
			      where, r->set_seq, start, flags & ~MIGCTL_REC_OPTIONAL);
	r->set_seq++;
	/* SET is the first record, which open() asks for */
	if (type == MIGCTL_REC_SET && seq == 0)
		return 0;
	if (type != MIGCTL_REC_END) {
		if (known(type))
			return broken(r, -EBADMSG,
				      "%s %" PRIu64 " at byte %" PRIu64
				      ": a record of type 0x%04x where only END may be",
				      where, seq, start, type);
		if (!(flags & MIGCTL_REC_OPTIONAL))
			return broken(r, -EBADMSG,
				      "%s %" PRIu64 " at byte %" PRIu64
				      ": unknown record type 0x%04x, not optional (from a newer "
				      "vfio-migctl?)",
				      where, seq, start, type);
		return 0;
	}
	/* END: the whole's counts here, each member's own in its verify() */
	if (len < SEND_SIZE(r->n) || get32(buf + SEND_MEMBERS) != r->n)
		return broken(r, -EBADMSG,
			      "end record at byte %" PRIu64 ": it is for %" PRIu32
			      " members, the set has %u",
			      start, len < SEND_MEMBER0 ? 0 : get32(buf + SEND_MEMBERS), r->n);
	if (get64(buf + SEND_DATA_BYTES) != r->data_bytes)
		return broken(r, -EBADMSG,
			      "end record at byte %" PRIu64 ": it counts %" PRIu64
			      " data bytes, the stream carried %" PRIu64,
			      start, get64(buf + SEND_DATA_BYTES), r->data_bytes);
	if (get64(buf + SEND_RECORDS) != r->fetched - 1)
		return broken(r, -EBADMSG,
			      "end record at byte %" PRIu64 ": it counts %" PRIu64
			      " records before it, the stream had %" PRIu64,
			      start, get64(buf + SEND_RECORDS), r->fetched - 1);
	/* One stream per file: bytes after END are not ours to ignore */
	r->reading = true;
	pthread_mutex_unlock(&r->lock);
	ret = stream_get(s, &extra, 1, &got, stop);
	pthread_mutex_lock(&r->lock);
	r->reading = false;
	if (ret)
		return broken(r, ret, "reading the stream at byte %" PRIu64, s->offset);
	if (got)
		return broken(r, -EBADMSG, "trailing data at byte %" PRIu64 " after the end record",
			      start + SREC_SIZE + len);
	memcpy(r->end_head, head, SREC_SIZE);
	memcpy(r->end_buf, buf, len);
	r->end_len = (uint32_t)len;
	r->end_start = start;
	r->end_fetched = true;
	pthread_cond_broadcast(&r->cond);
	return 0;
}

/* Chunk @c is member @m's END, to verify its part of it */
static int end_chunk(struct migctl_stream_set_reader *r, struct migctl_chunk *c)
{
	if (c->cap < r->end_len) {
		uint8_t *b = realloc(c->buf, r->end_len);

		if (!b)
			return -ENOMEM;
		c->buf = b;
		c->cap = r->end_len;
	}
	memcpy(c->head, r->end_head, SREC_SIZE);
	memcpy(c->buf, r->end_buf, r->end_len);
	c->len = r->end_len;
	note_of(c)->start = r->end_start;
	note_of(c)->hashed = false;
	c->last = true;
	return 0;
}

/* A queued record into @c: the buffers change hands, nothing is copied */
static void take_entry(struct migctl_stream_set_reader *r, struct rmember *m,
		       struct migctl_chunk *c)
{
	struct entry *e = m->head;
	uint8_t *buf = c->buf;
	size_t cap = c->cap;

	m->head = e->next;
	if (!m->head)
		m->tail = NULL;
	m->queued -= e->len;
	memcpy(c->head, e->head, SREC_SIZE);
	/* A skipped record's bytes were not kept: only its checksum counts */
	if (!e->hashed && e->len) {
		c->buf = e->buf;
		c->cap = e->cap;
		e->buf = buf;
		e->cap = cap;
	}
	c->len = e->len;
	note_of(c)->start = e->start;
	note_of(c)->hashed = e->hashed;
	note_of(c)->sum = e->sum;
	recycle(r, e);
	pthread_cond_broadcast(&r->cond);
}

/* Under the lock: may another member's record join @t's queue now? */
static bool room_for(const struct rmember *t, uint32_t len)
{
	return t->detached || !t->queued || t->queued + len <= MIGCTL_STREAM_SET_QUEUE;
}

/*
 * Under the lock, nobody reading: move the stream on by one record.  1 if
 * it was @m's own (into @c), 0 if it went elsewhere (or the stream broke:
 * fetch_err), -EAGAIN if it is for a member whose queue is full (wait).
 */
static int step(struct migctl_stream_set_reader *r, struct rmember *m, struct migctl_chunk *c,
		volatile sig_atomic_t *stop)
{
	uint8_t head[SREC_SIZE];
	uint64_t start;
	struct rmember *t;
	struct entry *e;
	uint32_t member, len;
	bool hashed = false;
	uint64_t sum = 0;
	int ret;

	if (!r->pending) {
		ret = read_head(r, stop);
		if (ret)
			return 0;
	}
	memcpy(head, r->pend_head, SREC_SIZE);
	start = r->pend_start;
	member = get32(head + SREC_MEMBER);
	len = get32(head + SREC_LENGTH);
	if (member == MIGCTL_STREAM_SET_SELF) {
		uint8_t *buf = NULL;
		size_t cap = 0, got;

		ret = read_payload(r, &buf, &cap, &got, &hashed, &sum, stop);
		if (!ret)
			own_record(r, head, buf, got, hashed, sum, start, stop);
		free(buf);
		return 0;
	}
	t = &r->m[member];
	if (t == m && c) {
		struct fetch_note *note = note_of(c);

		ret = read_payload(r, &c->buf, &c->cap, &c->len, &note->hashed, &note->sum, stop);
		if (ret)
			return 0;
		memcpy(c->head, head, SREC_SIZE);
		note->start = start;
		c->last = false;
		return 1;
	}
	if (!room_for(t, len))
		return -EAGAIN;
	e = r->spare;
	if (e) {
		r->spare = e->next;
		r->n_spare--;
	} else {
		e = calloc(1, sizeof(*e));
		if (!e) {
			broken(r, -ENOMEM, "out of memory for a record of member %" PRIu32, member);
			return 0;
		}
	}
	ret = read_payload(r, &e->buf, &e->cap, &e->len, &e->hashed, &e->sum, stop);
	/* Detached meanwhile (or before): read all the same, and dropped */
	if (ret || t->detached) {
		recycle(r, e);
		return 0;
	}
	memcpy(e->head, head, SREC_SIZE);
	e->start = start;
	e->next = NULL;
	if (t->tail)
		t->tail->next = e;
	else
		t->head = e;
	t->tail = e;
	t->queued += e->len;
	pthread_cond_broadcast(&r->cond);
	return 0;
}

/* A member's fetch(): its next record, from its queue or off the fd */
static int member_fetch(void *ctx, struct migctl_chunk *c, volatile sig_atomic_t *stop)
{
	struct rmember *m = ctx;
	struct migctl_stream_set_reader *r = m->set;
	int ret;

	note_of(c)->why[0] = '\0';
	c->last = false;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		if (m->head) {
			take_entry(r, m, c);
			ret = 0;
			break;
		}
		/* The stream's own error, in its place: after what came before it */
		if (r->fetch_err) {
			snprintf(note_of(c)->why, sizeof(note_of(c)->why), "%s", r->fetch_msg);
			ret = r->fetch_err;
			break;
		}
		if (r->end_fetched) {
			ret = end_chunk(r, c);
			break;
		}
		if (m->detached) {
			ret = -ECANCELED;
			break;
		}
		if (flagged(stop) || flagged(r->single.cancel)) {
			ret = -EINTR;
			break;
		}
		if (!r->reading) {
			ret = step(r, m, c, stop);
			if (ret == 1) {
				ret = 0;
				break;
			}
			if (ret == 0)
				continue;
		}
		timed_wait(&r->cond, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* Member @m's part of END: its bytes, records and digest */
static int member_end(struct rmember *m, struct migctl_chunk *c)
{
	const uint8_t *e = c->buf + SEND_MEMBER0 + SEND_M_SIZE * (size_t)m->index;
	uint64_t carried = m->stats.precopy_bytes + m->stats.stopcopy_bytes;
	XXH128_hash_t d = XXH3_128bits_digest(m->digest);
	uint64_t at = note_of(c)->start;

	if (get64(e + SEND_M_DATA_BYTES) != carried)
		return member_bad(m, m->seq, at,
				  "end record counts %" PRIu64
				  " data bytes of this member, it carried %" PRIu64,
				  get64(e + SEND_M_DATA_BYTES), carried);
	if (get64(e + SEND_M_RECORDS) != m->seq)
		return member_bad(m, m->seq, at,
				  "end record counts %" PRIu64
				  " records of this member, it had %" PRIu64,
				  get64(e + SEND_M_RECORDS), m->seq);
	if (get64(e + SEND_M_DIGEST_LOW) != d.low64 || get64(e + SEND_M_DIGEST_HIGH) != d.high64)
		return member_bad(m, m->seq, at, "digest of this member's data does not match");
	m->stats.intact = true;
	return 0;
}

/*
 * A member's verify(): checksum, its numbering, its phases, in its order.
 * END (verified for the whole by the fd side) is its last chunk.
 */
static int member_verify(void *ctx, struct migctl_chunk *c)
{
	struct rmember *m = ctx;
	struct migctl_stream_set_reader *r = m->set;
	struct fetch_note *note = note_of(c);
	uint16_t type, flags;
	uint32_t len;
	uint64_t seq = m->seq;

	c->data_len = 0;
	if (m->err)
		return m->err;
	if (c->err) {
		const char *why = note->why[0] ? note->why : strerror(-c->err);

		snprintf(m->msg, sizeof(m->msg), "%s", why);
		m->err = c->err;
		pthread_mutex_lock(&r->lock);
		note_whole(r, m->err, m->msg);
		detach(m);
		pthread_mutex_unlock(&r->lock);
		return m->err;
	}
	type = get16(c->head + SREC_TYPE);
	flags = get16(c->head + SREC_FLAGS);
	len = get32(c->head + SREC_LENGTH);
	if (get32(c->head + SREC_MEMBER) == MIGCTL_STREAM_SET_SELF) {
		c->last = true;
		return member_end(m, c);
	}
	c->last = false;
	if (!note->hashed) {
		XXH3_64bits_reset(m->rec);
		XXH3_64bits_update(m->rec, c->head, SREC_CHECKED);
		stream_hash_payload(m->rec, is_data(type) ? m->digest : NULL, c->buf, len);
		note->sum = XXH3_64bits_digest(m->rec);
	}
	if (note->sum != get64(c->head + SREC_CHECKSUM))
		return member_bad(m, seq, note->start, "checksum mismatch");
	if (get64(c->head + SREC_SEQ) != seq)
		return member_bad(m, seq, note->start,
				  "numbered %" PRIu64 " (records lost, repeated or reordered)",
				  get64(c->head + SREC_SEQ));
	if (known(type) && (flags & ~MIGCTL_REC_OPTIONAL))
		return member_bad(m, seq, note->start, "reserved flags 0x%04x set",
				  flags & ~MIGCTL_REC_OPTIONAL);
	if (get32(c->head + SREC_RESERVED))
		return member_bad(m, seq, note->start, "reserved field set");
	m->seq++;
	m->stats.records++;
	switch (type) {
	case MIGCTL_REC_PRECOPY:
		if (m->stopcopy)
			return member_bad(m, seq, note->start,
					  "pre-copy data after stop-copy data");
		m->stats.precopy_records++;
		m->stats.precopy_bytes += len;
		break;
	case MIGCTL_REC_STOPCOPY:
		m->stopcopy = true;
		m->stats.stopcopy_records++;
		m->stats.stopcopy_bytes += len;
		break;
	case MIGCTL_REC_HEADER:
		return member_bad(m, seq, note->start, "a second header record");
	case MIGCTL_REC_SET:
	case MIGCTL_REC_END:
		return member_bad(m, seq, note->start,
				  "a record of the set's (type 0x%04x) in a member", type);
	default:
		if (!(flags & MIGCTL_REC_OPTIONAL))
			return member_bad(m, seq, note->start,
					  "unknown record type 0x%04x, not optional (from a newer "
					  "vfio-migctl?)",
					  type);
		m->stats.skipped_records++;
		m->stats.skipped_bytes += len;
		return 0;
	}
	c->data_len = len;
	return 0;
}

/* ---- open */

static int open_fail(struct migctl_stream_set_reader *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int open_fail(struct migctl_stream_set_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->single.err)
		return r->single.err;
	va_start(ap, fmt);
	vsnprintf(r->single.error.msg, sizeof(r->single.error.msg), fmt, ap);
	va_end(ap);
	r->single.err = err;
	return err;
}

/* One whole record during open, on this thread: the set's own or a HEADER */
static int open_record(struct migctl_stream_set_reader *r, uint8_t **buf, size_t *cap, size_t *len,
		       uint8_t head[SREC_SIZE], uint64_t *start)
{
	bool hashed;
	uint64_t sum;
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = read_head(r, r->single.cancel);
	if (!ret) {
		memcpy(head, r->pend_head, SREC_SIZE);
		*start = r->pend_start;
		ret = read_payload(r, buf, cap, len, &hashed, &sum, r->single.cancel);
	}
	if (!ret && hashed)
		ret = broken(r, -EBADMSG,
			     "record at byte %" PRIu64 ": type 0x%04x where a header was expected",
			     *start, get16(head + SREC_TYPE));
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static int open_set(struct migctl_stream_set_reader *r)
{
	struct migctl_stream_reader *s = &r->single;
	uint8_t head[SREC_SIZE], *buf = NULL;
	char why[sizeof(s->error.msg)];
	size_t cap = 0, len;
	uint64_t start;
	int ret;

	pthread_mutex_init(&r->lock, NULL);
	ret = cond_init(&r->cond);
	if (ret)
		return open_fail(r, ret, "%s", strerror(-ret));
	r->sync_ready = true;
	r->is_set = true;
	/* Until SET says how many: a first record of a member is "not SET" */
	r->n = MIGCTL_STREAM_SET_MAX;

	ret = open_record(r, &buf, &cap, &len, head, &start);
	if (ret)
		goto out;
	if (get16(head + SREC_TYPE) != MIGCTL_REC_SET ||
	    get32(head + SREC_MEMBER) != MIGCTL_STREAM_SET_SELF) {
		ret = open_fail(r, -EBADMSG, "record at byte %" PRIu64 ": expected the set record",
				start);
		goto out;
	}
	pthread_mutex_lock(&r->lock);
	ret = own_record(r, head, buf, len, false, 0, start, NULL);
	pthread_mutex_unlock(&r->lock);
	if (ret)
		goto out;
	if (len < SET_SIZE || !get32(buf + SET_MEMBERS) ||
	    get32(buf + SET_MEMBERS) > MIGCTL_STREAM_SET_MAX) {
		ret = open_fail(r, -EBADMSG,
				"set record at byte %" PRIu64 ": %" PRIu32
				" members (this vfio-migctl reads sets of 1 to %d)",
				start, len < SET_SIZE ? 0 : get32(buf + SET_MEMBERS),
				MIGCTL_STREAM_SET_MAX);
		goto out;
	}
	r->n = get32(buf + SET_MEMBERS);
	r->m = calloc(r->n, sizeof(*r->m));
	if (!r->m) {
		ret = open_fail(r, -ENOMEM, "%s", strerror(ENOMEM));
		goto out;
	}
	for (unsigned k = 0; k < r->n; k++) {
		struct rmember *m = &r->m[k];

		m->set = r;
		m->index = k;
		m->seq = 1;
		m->rec = XXH3_createState();
		m->digest = XXH3_createState();
		if (!m->rec || !m->digest) {
			ret = open_fail(r, -ENOMEM, "%s", strerror(ENOMEM));
			goto out;
		}
		XXH3_128bits_reset(m->digest);
	}
	/* Every member's HEADER, in member order, before any data */
	for (unsigned k = 0; k < r->n; k++) {
		struct rmember *m = &r->m[k];

		ret = open_record(r, &buf, &cap, &len, head, &start);
		if (ret)
			goto out;
		if (get16(head + SREC_TYPE) != MIGCTL_REC_HEADER ||
		    get32(head + SREC_MEMBER) != k) {
			ret = open_fail(r, -EBADMSG,
					"record at byte %" PRIu64
					": expected the header record of member %u",
					start, k);
			goto out;
		}
		XXH3_64bits_reset(m->rec);
		XXH3_64bits_update(m->rec, head, SREC_CHECKED);
		stream_hash_payload(m->rec, NULL, buf, len);
		if (XXH3_64bits_digest(m->rec) != get64(head + SREC_CHECKSUM)) {
			ret = open_fail(r, -EBADMSG,
					"member %u record 0 at byte %" PRIu64 ": checksum mismatch",
					k, start);
			goto out;
		}
		if (get64(head + SREC_SEQ) != 0 || get16(head + SREC_FLAGS) ||
		    get32(head + SREC_RESERVED)) {
			ret = open_fail(r, -EBADMSG,
					"member %u record 0 at byte %" PRIu64 ": numbered %" PRIu64
					" or flags set",
					k, start, get64(head + SREC_SEQ));
			goto out;
		}
		ret = stream_header_decode(buf, len, &m->header, why, sizeof(why));
		if (ret) {
			ret = open_fail(r, ret, "member %u record 0 at byte %" PRIu64 ": %s", k,
					start, why);
			goto out;
		}
		m->stats.records = 1;
	}
out:
	if (ret && !r->m)
		r->n = 0;
	free(buf);
	return ret;
}

int migctl_stream_set_reader_open(struct migctl_stream_set_reader *r)
{
	uint16_t minor;
	int ret = stream_reader_start(&r->single, r->single.fd, r->single.cancel, &minor);

	if (ret)
		return ret;
	if (minor != MIGCTL_STREAM_MINOR_SET) {
		r->n = 1;
		r->one = r->single.header;
		return 0;
	}
	return open_set(r);
}

bool migctl_stream_set_reader_is_set(const struct migctl_stream_set_reader *r)
{
	return r->is_set;
}

unsigned migctl_stream_set_reader_members(const struct migctl_stream_set_reader *r)
{
	return r->n;
}

const struct migctl_stream_header *
migctl_stream_set_reader_header(const struct migctl_stream_set_reader *r, unsigned member)
{
	if (!r->is_set)
		return member == 0 ? &r->one : NULL;
	return member < r->n ? &r->m[member].header : NULL;
}

void migctl_stream_set_reader_source(struct migctl_stream_set_reader *r, unsigned member,
				     struct migctl_source *src)
{
	if (!r->is_set) {
		migctl_stream_reader_source(&r->single, src);
		return;
	}
	*src = (struct migctl_source){
		.fetch = member_fetch,
		.verify = member_verify,
		.ctx = &r->m[member],
	};
}

/* ---- scan */

static void add_stats(struct migctl_stream_stats *to, const struct migctl_stream_stats *st)
{
	to->records += st->records;
	to->precopy_records += st->precopy_records;
	to->precopy_bytes += st->precopy_bytes;
	to->stopcopy_records += st->stopcopy_records;
	to->stopcopy_bytes += st->stopcopy_bytes;
	to->skipped_records += st->skipped_records;
	to->skipped_bytes += st->skipped_bytes;
}

int migctl_stream_set_scan(struct migctl_stream_set_reader *r, struct migctl_stream_stats *whole,
			   struct migctl_stream_stats *members)
{
	struct migctl_chunk c = { 0 };
	int ret;

	if (!r->is_set) {
		ret = migctl_stream_scan(&r->single, whole);
		members[0] = *whole;
		return ret;
	}
	pthread_mutex_lock(&r->lock);
	while (!r->fetch_err && !r->end_fetched) {
		struct rmember *m;

		/* A whole file can take a while: a signal is heeded at each record */
		if (flagged(r->single.cancel)) {
			broken(r, -EINTR, "interrupted at byte %" PRIu64, r->single.offset);
			break;
		}
		if (!r->pending && read_head(r, r->single.cancel))
			break;
		if (get32(r->pend_head + SREC_MEMBER) == MIGCTL_STREAM_SET_SELF) {
			step(r, NULL, NULL, r->single.cancel);
			continue;
		}
		m = &r->m[get32(r->pend_head + SREC_MEMBER)];
		if (step(r, m, &c, r->single.cancel) != 1)
			continue;
		pthread_mutex_unlock(&r->lock);
		c.err = 0;
		member_verify(m, &c);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);

	memset(whole, 0, sizeof(*whole));
	for (unsigned k = 0; k < r->n; k++) {
		struct rmember *m = &r->m[k];

		/* Each member that got this far meets END, or the stream's error */
		if (!m->err) {
			c.err = r->fetch_err;
			snprintf(note_of(&c)->why, sizeof(note_of(&c)->why), "%s", r->fetch_msg);
			if (!c.err)
				c.err = end_chunk(r, &c);
			member_verify(m, &c);
		}
		members[k] = m->stats;
		add_stats(whole, &m->stats);
	}
	free(c.buf);
	/* The set's own records: SET, END and optional ones */
	whole->records += r->set_seq;
	whole->stream_bytes = r->single.offset;
	for (unsigned k = 0; k < r->n; k++)
		members[k].stream_bytes = 0;
	whole->intact = !r->single.err;
	return r->single.err;
}

const char *migctl_stream_set_reader_error(struct migctl_stream_set_reader *r, unsigned member)
{
	if (member == MIGCTL_STREAM_SET_WHOLE || !r->is_set)
		return r->single.error.msg;
	return member < r->n ? r->m[member].msg : "";
}

enum migctl_stream_fault migctl_stream_set_reader_fault(const struct migctl_stream_set_reader *r)
{
	return r->single.error.fault;
}

void migctl_stream_set_reader_free(struct migctl_stream_set_reader *r)
{
	if (!r)
		return;
	for (unsigned k = 0; r->m && k < r->n; k++) {
		struct rmember *m = &r->m[k];

		while (m->head) {
			struct entry *e = m->head;

			m->head = e->next;
			free_entry(e);
		}
		XXH3_freeState(m->rec);
		XXH3_freeState(m->digest);
	}
	free(r->m);
	while (r->spare) {
		struct entry *e = r->spare;

		r->spare = e->next;
		free_entry(e);
	}
	if (r->sync_ready) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
	}
	stream_reader_release(&r->single);
	free(r);
}
