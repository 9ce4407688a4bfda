// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The stream codec: round trips, the wire layout as vfio-migctl-stream(5)
 * documents it (built here by an independent encoder), every corruption
 * and truncation of a small stream, length bounds, unknown records, the
 * identity check, and writer errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "fdio.h"
#include "stream.h"
#include "mem.h"
#include "unit.h"

#define MiB (1u << 20)


/* ---- an independent encoder, straight from vfio-migctl-stream(5) */

struct builder {
	struct mem m;
	uint64_t seq, data_bytes;
	XXH3_state_t *digest;
};

static void b_init(struct builder *b, uint32_t version)
{
	uint8_t pre[16];

	memset(b, 0, sizeof(*b));
	b->digest = XXH3_createState();
	XXH3_128bits_reset(b->digest);
	memcpy(pre, "\x89VFMIG\r\n", 8);
	le_put(pre + 8, version, 4);
	le_put(pre + 12, (uint32_t)XXH3_64bits(pre, 12), 4);
	mem_add(&b->m, pre, 16);
}

static void b_free(struct builder *b)
{
	XXH3_freeState(b->digest);
	mem_free(&b->m);
}

/* A record with an explicit number; checksum = XXH3-64(header[0..15] || payload) */
static void b_record_seq(struct builder *b, uint16_t type, uint16_t flags,
			 uint64_t seq, const void *payload, uint32_t len)
{
	uint8_t *tmp = malloc(16 + (size_t)len);

	le_put(tmp, type, 2);
	le_put(tmp + 2, flags, 2);
	le_put(tmp + 4, len, 4);
	le_put(tmp + 8, seq, 8);
	if (len)
		memcpy(tmp + 16, payload, len);
	mem_add(&b->m, tmp, 16);
	le_put(tmp, XXH3_64bits(tmp, 16 + (size_t)len), 8);
	mem_add(&b->m, tmp, 8);
	mem_add(&b->m, payload, len);
	free(tmp);
}

static void b_record(struct builder *b, uint16_t type, uint16_t flags,
		     const void *payload, uint32_t len)
{
	b_record_seq(b, type, flags, b->seq++, payload, len);
	if (type == MIGCTL_REC_PRECOPY || type == MIGCTL_REC_STOPCOPY) {
		XXH3_128bits_update(b->digest, payload, len);
		b->data_bytes += len;
	}
}

struct hdr_fields {
	uint64_t created, flags, estimate;
	uint16_t bus, vendor, device, subvendor, subdevice;
	uint8_t revision;
	const char *strings[4]; /* tool version, name, driver, mdev type */
	size_t extra;           /* bytes a newer writer appended */
};

static void b_header(struct builder *b, const struct hdr_fields *f)
{
	struct mem p = { 0 };
	uint8_t fixed[36] = { 0 };

	le_put(fixed + 0, f->created, 8);
	le_put(fixed + 8, f->flags, 8);
	le_put(fixed + 16, f->estimate, 8);
	le_put(fixed + 24, f->bus, 2);
	le_put(fixed + 26, f->vendor, 2);
	le_put(fixed + 28, f->device, 2);
	le_put(fixed + 30, f->subvendor, 2);
	le_put(fixed + 32, f->subdevice, 2);
	fixed[34] = f->revision;
	mem_add(&p, fixed, sizeof(fixed));
	for (int i = 0; i < 4; i++) {
		uint8_t n[2];

		le_put(n, strlen(f->strings[i]), 2);
		mem_add(&p, n, 2);
		mem_add(&p, f->strings[i], strlen(f->strings[i]));
	}
	for (size_t i = 0; i < f->extra; i++)
		mem_add(&p, "\xa5", 1);
	b_record(b, MIGCTL_REC_HEADER, 0, p.p, (uint32_t)p.len);
	mem_free(&p);
}

static const struct hdr_fields mdev_fields = {
	.created = 1700000000, .flags = MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_PRE_COPY,
	.estimate = 4096, .bus = 2,
	.strings = { "9.9.9", "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "mtty",
		     "mtty-2" },
};

static void b_end_custom(struct builder *b, uint64_t data_bytes,
			 uint64_t records, uint32_t len)
{
	uint8_t end[64] = { 0 };
	XXH128_hash_t d = XXH3_128bits_digest(b->digest);

	le_put(end, data_bytes, 8);
	le_put(end + 8, records, 8);
	le_put(end + 16, d.low64, 8);
	le_put(end + 24, d.high64, 8);
	b_record(b, MIGCTL_REC_END, 0, end, len);
}

static void b_end(struct builder *b)
{
	b_end_custom(b, b->data_bytes, b->seq, 32);
}

/* ---- an independent walker: record boundaries, verified per the man page */

struct span {
	size_t start, end;   /* bytes of the record in the stream */
	uint16_t type;
	uint32_t len;
	size_t data_before;  /* data bytes in the records before this one */
};

static size_t walk(const struct mem *m, struct span *s, size_t max, int *bad)
{
	size_t off = 16, n = 0, data = 0;

	*bad = 0;
	while (off + 24 <= m->len && n < max) {
		const uint8_t *h = m->p + off;
		uint32_t len = (uint32_t)le_get(h + 4, 4);
		uint8_t *tmp;

		if (off + 24 + len > m->len)
			break;
		tmp = malloc(16 + (size_t)len);
		memcpy(tmp, h, 16);
		memcpy(tmp + 16, h + 24, len);
		if (XXH3_64bits(tmp, 16 + (size_t)len) != le_get(h + 16, 8) ||
		    le_get(h + 8, 8) != n)
			(*bad)++;
		free(tmp);
		s[n] = (struct span){ off, off + 24 + len, (uint16_t)le_get(h, 2),
				      len, data };
		if (s[n].type == MIGCTL_REC_PRECOPY || s[n].type == MIGCTL_REC_STOPCOPY)
			data += len;
		off += 24 + len;
		n++;
	}
	if (off != m->len)
		(*bad)++;
	return n;
}

/* ---- writing and reading through the API */

struct piece {
	enum migctl_phase phase;
	size_t len;
};

static void test_header(struct migctl_stream_header *h)
{
	struct migctl_device_desc t = {
		.name = "0000:3b:00.1", .bus = MIGCTL_BUS_PCI,
		.driver = "mlx5_vfio_pci", .vendor = 0x15b3, .device = 0x101e,
		.subsystem_vendor = 0x15b3, .subsystem_device = 0x0047,
		.revision = 0x02,
	};

	if (migctl_stream_header_from_desc(h, &t, MIGCTL_FLAG_STOP_COPY, 123456))
		abort();
}

/* Write @data cut into @pieces through the writer's sink; the stream into @out */
static int write_stream(const struct piece *pieces, size_t n,
			const uint8_t *data, struct mem *out)
{
	struct migctl_stream_header h;
	struct migctl_stream_writer w;
	struct migctl_sink sink;
	int fd = memfd_create("w", MFD_CLOEXEC), ret;
	size_t off = 0;

	test_header(&h);
	ret = migctl_stream_writer_init(&w, fd, &h, NULL);
	if (ret)
		return ret;
	migctl_stream_writer_sink(&w, &sink);
	ret = sink.begin(sink.ctx, h.mig_flags, h.estimate);
	for (size_t i = 0; i < n && !ret; i++) {
		ret = sink.write(sink.ctx, pieces[i].phase, data + off, pieces[i].len);
		off += pieces[i].len;
	}
	if (!ret)
		ret = sink.finish(sink.ctx);
	migctl_stream_writer_close(&w);
	fd_to_mem(fd, out);
	close(fd);
	return ret;
}

/* Read all of @fd through the source, @chunk bytes per read(); data into @out */
static int read_stream(int fd, size_t chunk, struct mem *out,
		       struct migctl_stream_reader *r)
{
	struct migctl_source src;
	uint8_t *buf = malloc(chunk);
	size_t got;
	int ret;

	ret = migctl_stream_reader_open(r, fd, NULL);
	if (ret)
		goto out;
	migctl_stream_reader_source(r, &src);
	do {
		ret = src.read(src.ctx, buf, chunk, &got);
		if (got > chunk)
			abort();
		mem_add(out, buf, got);
	} while (!ret && got);
out:
	free(buf);
	return ret;
}

/* @out may be NULL: the data is dropped */
static int read_mem(const struct mem *stream, size_t chunk, struct mem *out,
		    char *err, size_t errlen)
{
	struct migctl_stream_reader r;
	struct mem drop = { 0 };
	int fd = mem_fd(stream->p, stream->len);
	int ret = read_stream(fd, chunk, out ? out : &drop, &r);

	if (err)
		snprintf(err, errlen, "%s", migctl_stream_reader_error(&r));
	migctl_stream_reader_close(&r);
	close(fd);
	mem_free(&drop);
	return ret;
}

static int scan_mem(const struct mem *stream, struct migctl_stream_stats *st,
		    char *err, size_t errlen)
{
	struct migctl_stream_reader r;
	int fd = mem_fd(stream->p, stream->len);
	int ret = migctl_stream_reader_open(&r, fd, NULL);

	memset(st, 0, sizeof(*st));
	if (!ret)
		ret = migctl_stream_scan(&r, st);
	if (err)
		snprintf(err, errlen, "%s", migctl_stream_reader_error(&r));
	migctl_stream_reader_close(&r);
	close(fd);
	return ret;
}

/* ---- tests */

static void test_round_trip(void)
{
	static const struct {
		const char *what;
		struct piece p[4];
		size_t n;
	} cases[] = {
		{ "no data at all", { { 0 } }, 0 },
		{ "an empty write", { { MIGCTL_PHASE_STOP_COPY, 0 } }, 1 },
		{ "1 byte", { { MIGCTL_PHASE_STOP_COPY, 1 } }, 1 },
		{ "4 KiB", { { MIGCTL_PHASE_STOP_COPY, 4096 } }, 1 },
		{ "pre-copy then stop-copy",
		  { { MIGCTL_PHASE_PRE_COPY, 1 }, { MIGCTL_PHASE_PRE_COPY, 100 },
		    { MIGCTL_PHASE_STOP_COPY, 5000 }, { MIGCTL_PHASE_STOP_COPY, 7 } },
		  4 },
		{ "3 MiB in 1 MiB writes",
		  { { MIGCTL_PHASE_STOP_COPY, MiB }, { MIGCTL_PHASE_STOP_COPY, MiB },
		    { MIGCTL_PHASE_STOP_COPY, MiB } },
		  3 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct migctl_stream_stats st;
		struct mem s = { 0 }, out = { 0 }, out1 = { 0 };
		size_t total = 0, pre = 0, pre_n = 0, stop_n = 0;
		uint8_t *data;
		int ret;

		for (size_t i = 0; i < cases[c].n; i++) {
			total += cases[c].p[i].len;
			if (!cases[c].p[i].len)
				continue;
			if (cases[c].p[i].phase == MIGCTL_PHASE_PRE_COPY) {
				pre += cases[c].p[i].len;
				pre_n++;
			} else {
				stop_n++;
			}
		}
		data = malloc(total + 1);
		pattern(data, total, (uint32_t)c);
		ret = write_stream(cases[c].p, cases[c].n, data, &s);
		CHECK_EQ_INT(ret, 0, "round trip, %s: written", cases[c].what);

		ret = read_mem(&s, MiB, &out, NULL, 0);
		CHECK(ret == 0 && out.len == total &&
		      (!total || !memcmp(out.p, data, total)),
		      "round trip, %s: same %zu bytes back, in order", cases[c].what,
		      total);
		if (total < 10000) {
			ret = read_mem(&s, 1, &out1, NULL, 0);
			CHECK(ret == 0 && out1.len == total &&
			      (!total || !memcmp(out1.p, data, total)),
			      "round trip, %s: read 1 byte at a time", cases[c].what);
		}
		ret = scan_mem(&s, &st, NULL, 0);
		CHECK(ret == 0 && st.intact && st.precopy_bytes == pre &&
		      st.stopcopy_bytes == total - pre && st.precopy_records == pre_n &&
		      st.stopcopy_records == stop_n && st.records == pre_n + stop_n + 2 &&
		      st.skipped_records == 0 && st.stream_bytes == s.len,
		      "round trip, %s: scan counts %zu+%zu records, %zu+%zu bytes",
		      cases[c].what, pre_n, stop_n, pre, total - pre);
		free(data);
		mem_free(&s);
		mem_free(&out);
		mem_free(&out1);
	}
}

static void test_split(void)
{
	size_t total = 40 * (size_t)MiB + 1;
	struct piece p[] = { { MIGCTL_PHASE_PRE_COPY, 3 },
			     { MIGCTL_PHASE_STOP_COPY, total - 3 } };
	struct span spans[16];
	struct mem s = { 0 }, out = { 0 };
	uint8_t *data = malloc(total);
	int bad, ret;
	size_t n;

	pattern(data, total, 99);
	ret = write_stream(p, 2, data, &s);
	CHECK_EQ_INT(ret, 0, "40 MiB + 1 in one write: written");
	n = walk(&s, spans, 16, &bad);
	CHECK(n == 6 && !bad && spans[0].type == MIGCTL_REC_HEADER &&
	      spans[1].type == MIGCTL_REC_PRECOPY && spans[1].len == 3 &&
	      spans[2].len == 16 * MiB && spans[3].len == 16 * MiB &&
	      spans[4].len == 8 * MiB - 2 && spans[4].type == MIGCTL_REC_STOPCOPY &&
	      spans[5].type == MIGCTL_REC_END,
	      "40 MiB + 1 is split into records of at most 16 MiB (%zu records)", n);
	ret = read_mem(&s, MiB, &out, NULL, 0);
	CHECK(ret == 0 && out.len == total && !memcmp(out.p, data, total),
	      "40 MiB + 1: read back whole and in order");
	free(data);
	mem_free(&s);
	mem_free(&out);
}

/* The writer's bytes are exactly what the man page says they are */
static void test_wire_layout(void)
{
	struct migctl_stream_header h = {
		.tool_version = "9.9.9", .created = 1700000000,
		.bus = MIGCTL_BUS_MDEV,
		.name = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
		.driver = "mtty", .mdev_type = "mtty-2",
		.mig_flags = MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_PRE_COPY,
		.estimate = 4096,
	};
	const struct migctl_stream_header *got;
	struct migctl_stream_reader r;
	struct migctl_stream_writer w;
	struct migctl_sink sink;
	struct builder b;
	struct mem s = { 0 };
	uint8_t data[300];
	int fd = memfd_create("w", MFD_CLOEXEC), ret;

	pattern(data, sizeof(data), 7);
	ret = migctl_stream_writer_init(&w, fd, &h, NULL);
	migctl_stream_writer_sink(&w, &sink);
	if (!ret)
		ret = sink.begin(sink.ctx, h.mig_flags, h.estimate);
	if (!ret)
		ret = sink.write(sink.ctx, MIGCTL_PHASE_PRE_COPY, data, 100);
	if (!ret)
		ret = sink.write(sink.ctx, MIGCTL_PHASE_STOP_COPY, data + 100, 200);
	if (!ret)
		ret = sink.finish(sink.ctx);
	migctl_stream_writer_close(&w);
	fd_to_mem(fd, &s);
	close(fd);

	b_init(&b, 1);
	b_header(&b, &mdev_fields);
	b_record(&b, MIGCTL_REC_PRECOPY, 0, data, 100);
	b_record(&b, MIGCTL_REC_STOPCOPY, 0, data + 100, 200);
	b_end(&b);
	CHECK(ret == 0 && s.len == b.m.len && !memcmp(s.p, b.m.p, s.len),
	      "writer output is byte for byte the documented layout (%zu bytes)",
	      s.len);
	CHECK(s.len >= 16 && !memcmp(s.p, "\x89VFMIG\r\n\x01\0\0\0", 12),
	      "stream starts with the magic and version 1, little-endian");

	fd = mem_fd(b.m.p, b.m.len);
	ret = migctl_stream_reader_open(&r, fd, NULL);
	got = migctl_stream_reader_header(&r);
	CHECK(ret == 0 && !strcmp(got->tool_version, "9.9.9") &&
	      got->created == 1700000000 && got->bus == MIGCTL_BUS_MDEV &&
	      !strcmp(got->name, h.name) && !strcmp(got->driver, "mtty") &&
	      !strcmp(got->mdev_type, "mtty-2") && got->mig_flags == h.mig_flags &&
	      got->estimate == 4096 && got->vendor == 0 && got->revision == 0,
	      "a documented-layout header decodes field for field");
	migctl_stream_reader_close(&r);
	close(fd);
	b_free(&b);
	mem_free(&s);
}

static void test_header_fields(void)
{
	struct migctl_stream_header h;
	const struct migctl_stream_header *got;
	struct migctl_stream_reader r;
	struct mem s = { 0 };
	time_t now = time(NULL);
	int fd, ret;

	ret = write_stream(NULL, 0, NULL, &s);
	test_header(&h);
	CHECK(!ret && !strcmp(h.tool_version, MIGCTL_VERSION) &&
	      (uint64_t)now - h.created <= 5,
	      "header_from_target: tool version %s, creation time now",
	      h.tool_version);
	fd = mem_fd(s.p, s.len);
	ret = migctl_stream_reader_open(&r, fd, NULL);
	got = migctl_stream_reader_header(&r);
	CHECK(ret == 0 && got->bus == MIGCTL_BUS_PCI &&
	      !strcmp(got->name, "0000:3b:00.1") &&
	      !strcmp(got->driver, "mlx5_vfio_pci") && got->mdev_type[0] == 0 &&
	      got->vendor == 0x15b3 && got->device == 0x101e &&
	      got->subsystem_vendor == 0x15b3 && got->subsystem_device == 0x0047 &&
	      got->revision == 2 && got->mig_flags == MIGCTL_FLAG_STOP_COPY &&
	      got->estimate == 123456 && got->created == h.created &&
	      !strcmp(got->tool_version, MIGCTL_VERSION),
	      "PCI header round trip: every field");
	migctl_stream_reader_close(&r);
	close(fd);
	mem_free(&s);
}

/* A small stream with every record kind, and its record boundaries */
static void small_stream(struct mem *s, uint8_t *data, struct span *spans,
			 size_t *nspans)
{
	struct piece p[] = { { MIGCTL_PHASE_PRE_COPY, 5 },
			     { MIGCTL_PHASE_STOP_COPY, 10 },
			     { MIGCTL_PHASE_STOP_COPY, 3 } };
	int bad;

	pattern(data, 18, 5);
	if (write_stream(p, 3, data, s))
		abort();
	*nspans = walk(s, spans, 8, &bad);
	if (*nspans != 5 || bad)
		abort();
}

/* Data bytes a reader may hand out when byte @off is damaged */
static size_t allowed_before(const struct span *spans, size_t n, size_t off)
{
	for (size_t i = 0; i < n; i++)
		if (off < spans[i].end)
			return spans[i].data_before;
	return spans[n - 1].data_before;
}

static void test_bit_flips(void)
{
	struct span spans[8];
	uint8_t data[18];
	struct mem s = { 0 };
	size_t n, cases = 0, wrong = 0, leaked = 0, scan_wrong = 0;
	char err[256], first[512] = "";

	small_stream(&s, data, spans, &n);
	for (size_t off = 0; off < s.len; off++) {
		for (int bit = 0; bit < 8; bit++) {
			struct migctl_stream_stats st;
			struct mem out = { 0 };
			int ret;

			s.p[off] ^= (uint8_t)(1u << bit);
			ret = read_mem(&s, 4, &out, err, sizeof(err));
			cases++;
			if (ret != -EBADMSG) {
				wrong++;
				if (!first[0])
					snprintf(first, sizeof(first),
						 "byte %zu bit %d: ret %d", off, bit, ret);
			}
			if (out.len > allowed_before(spans, n, off) ||
			    (out.len && memcmp(out.p, data, out.len))) {
				leaked++;
				if (!first[0])
					snprintf(first, sizeof(first),
						 "byte %zu bit %d: %zu bytes out", off,
						 bit, out.len);
			}
			if (scan_mem(&s, &st, NULL, 0) != -EBADMSG || st.intact)
				scan_wrong++;
			s.p[off] ^= (uint8_t)(1u << bit);
			mem_free(&out);
		}
	}
	CHECK(cases == s.len * 8 && !wrong,
	      "every one of %zu single-bit flips is refused with EBADMSG %s", cases,
	      first);
	CHECK(!leaked,
	      "no flip lets a byte of the damaged record (or after it) out %s", first);
	CHECK(!scan_wrong, "scan reports every flip as not intact");
	mem_free(&s);
}

/* Each corruption class names its record and offset */
static void test_flip_messages(void)
{
	static const struct {
		const char *what;
		int rec;     /* -1: preamble */
		size_t at;   /* byte within it */
	} cases[] = {
		{ "magic", -1, 3 },
		{ "format version", -1, 8 },
		{ "header record's payload", 0, 30 },
		{ "data record's length", 2, 4 },
		{ "data record's type", 2, 1 },
		{ "data record's number", 2, 8 },
		{ "data record's checksum", 2, 20 },
		{ "data record's payload", 2, 24 + 9 },
		{ "end record's payload", 4, 24 + 17 },
	};
	struct span spans[8];
	uint8_t data[18];
	struct mem s = { 0 };
	char err[256], want[256];
	size_t n;

	small_stream(&s, data, spans, &n);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct mem out = { 0 };
		size_t off;
		int ret;

		if (cases[c].rec < 0) {
			off = cases[c].at;
			snprintf(want, sizeof(want), "%s",
				 cases[c].at < 8 ? "not a vfio-migctl stream (no magic)"
						 : "preamble checksum mismatch");
		} else {
			off = spans[cases[c].rec].start + cases[c].at;
			snprintf(want, sizeof(want), "record %d at byte %zu: checksum mismatch",
				 cases[c].rec, spans[cases[c].rec].start);
		}
		s.p[off] ^= 0x10;
		ret = read_mem(&s, 4, &out, err, sizeof(err));
		/* A longer length runs into the next record or past the end */
		if (!strcmp(cases[c].what, "data record's length") &&
		    strstr(err, "truncated"))
			snprintf(want, sizeof(want), "%s", err);
		CHECK(ret == -EBADMSG && !strcmp(err, want),
		      "flipped bit in the %s: \"%s\"", cases[c].what, err);
		s.p[off] ^= 0x10;
		mem_free(&out);
	}
	mem_free(&s);
}

static void test_truncation(void)
{
	struct span spans[8];
	uint8_t data[18];
	struct mem s = { 0 };
	size_t n, wrong = 0, leaked = 0, scan_wrong = 0;
	char err[256], first[512] = "", want[256];
	size_t full;

	small_stream(&s, data, spans, &n);
	full = s.len;
	for (size_t len = 0; len < full; len++) {
		struct migctl_stream_stats st;
		struct mem out = { 0 };
		size_t allowed = 0;
		int ret;

		s.len = len;
		ret = read_mem(&s, 3, &out, err, sizeof(err));
		/* Only records that are wholly inside the cut may come out */
		for (size_t i = 0; i < n; i++)
			if (spans[i].end <= len)
				allowed = spans[i].data_before +
					  (spans[i].type == MIGCTL_REC_PRECOPY ||
					   spans[i].type == MIGCTL_REC_STOPCOPY ?
						   spans[i].len : 0);
		if (ret != -EBADMSG) {
			wrong++;
			if (!first[0])
				snprintf(first, sizeof(first), "at %zu: ret %d", len, ret);
		}
		if (out.len > allowed || (out.len && memcmp(out.p, data, out.len))) {
			leaked++;
			if (!first[0])
				snprintf(first, sizeof(first), "at %zu: %zu bytes out",
					 len, out.len);
		}
		if (scan_mem(&s, &st, NULL, 0) != -EBADMSG || st.intact)
			scan_wrong++;
		mem_free(&out);
	}
	CHECK(!wrong, "truncated at each of %zu lengths: EBADMSG every time %s",
	      full, first);
	CHECK(!leaked, "truncated: only records wholly present come out %s", first);
	CHECK(!scan_wrong, "truncated: scan never says intact");

	s.len = spans[4].start;
	read_mem(&s, 3, NULL, err, sizeof(err));
	snprintf(want, sizeof(want), "truncated at byte %zu: end record missing",
		 spans[4].start);
	CHECK_EQ_STR(err, want, "cut before END: names the missing end record");
	s.len = spans[2].start + 30;
	read_mem(&s, 3, NULL, err, sizeof(err));
	snprintf(want, sizeof(want), "record 2 at byte %zu: truncated at byte %zu",
		 spans[2].start, spans[2].start + 30);
	CHECK_EQ_STR(err, want, "cut mid-record: names the record and the cut");
	s.len = 16;
	read_mem(&s, 3, NULL, err, sizeof(err));
	CHECK_EQ_STR(err, "truncated at byte 16: header record missing",
		     "cut after the preamble: header missing");
	s.len = 0;
	read_mem(&s, 3, NULL, err, sizeof(err));
	CHECK_EQ_STR(err, "empty stream: not a vfio-migctl stream", "empty input");
	s.len = full;
	mem_free(&s);
}

/* A stream over a pipe, written by another process in odd-sized pieces */
static void test_pipe(void)
{
	size_t total = 20 * (size_t)MiB + 12345;
	uint8_t *data = malloc(total);
	struct migctl_stream_reader r;
	struct mem out = { 0 };
	int fds[2], status;
	pid_t pid;
	int ret;

	pattern(data, total, 3);
	if (pipe(fds))
		abort();
	pid = fork();
	if (pid == 0) {
		struct migctl_stream_header h;
		struct migctl_stream_writer w;
		struct migctl_sink sink;
		size_t off = 0, step = 1;

		close(fds[0]);
		test_header(&h);
		ret = migctl_stream_writer_init(&w, fds[1], &h, NULL);
		migctl_stream_writer_sink(&w, &sink);
		if (!ret)
			ret = sink.begin(sink.ctx, h.mig_flags, h.estimate);
		while (!ret && off < total) {
			size_t len = step < total - off ? step : total - off;

			ret = sink.write(sink.ctx, off < MiB ? MIGCTL_PHASE_PRE_COPY :
							     MIGCTL_PHASE_STOP_COPY,
					 data + off, len);
			off += len;
			step = step * 3 + 1;
		}
		if (!ret)
			ret = sink.finish(sink.ctx);
		_exit(ret ? 1 : 0);
	}
	close(fds[1]);
	ret = read_stream(fds[0], 65536 + 7, &out, &r);
	migctl_stream_reader_close(&r);
	close(fds[0]);
	waitpid(pid, &status, 0);
	CHECK(ret == 0 && WIFEXITED(status) && !WEXITSTATUS(status) &&
	      out.len == total && !memcmp(out.p, data, total),
	      "20 MiB through a pipe from another process: intact");

	/* The same small stream, fed 3 bytes per write() */
	{
		struct span spans[8];
		uint8_t small[18];
		struct mem s = { 0 }, o = { 0 };
		size_t n;

		small_stream(&s, small, spans, &n);
		if (pipe(fds))
			abort();
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			for (size_t off = 0; off < s.len; off += 3) {
				if (write_all(fds[1], s.p + off,
						     s.len - off < 3 ? s.len - off : 3, NULL))
					_exit(1);
				usleep(100);
			}
			_exit(0);
		}
		close(fds[1]);
		ret = read_stream(fds[0], 4, &o, &r);
		migctl_stream_reader_close(&r);
		close(fds[0]);
		waitpid(pid, &status, 0);
		CHECK(ret == 0 && o.len == 18 && !memcmp(o.p, small, 18),
		      "a stream dribbled 3 bytes per write(): short reads survive");
		mem_free(&s);
		mem_free(&o);
	}
	free(data);
	mem_free(&out);
}

static void record_header_only(struct mem *m, uint16_t type, uint16_t flags,
			       uint64_t seq, uint32_t len)
{
	uint8_t h[24] = { 0 };

	le_put(h, type, 2);
	le_put(h + 2, flags, 2);
	le_put(h + 4, len, 4);
	le_put(h + 8, seq, 8);
	mem_add(m, h, 24);
}

/*
 * Oversized lengths, in a child whose address space has only 8 MiB to
 * spare: reading them must fail with EBADMSG, not ENOMEM, and a 12 MiB
 * optional record must be skipped without being held in memory.  main()
 * fixes malloc's mmap threshold, so no big free chunk sits in the heap
 * where a large malloc could be served without new address space.
 */
static void test_oversized(void)
{
	enum { HDR_BIG, DATA_BIG, DATA_HUGE, END_BIG, OPT_BIG, OPT_SKIP, PROBE, N };
	static const char *what[N] = {
		"header of 64 KiB + 1", "data record of 16 MiB + 1",
		"data record of 4 GiB - 1", "end record of 4 KiB + 1",
		"optional record of 16 MiB + 1", "optional record of 12 MiB",
		"(control) malloc(12 MiB)",
	};
	struct res {
		int ret;
		char err[256];
	} *res;
	struct builder b[N];
	struct mem out = { 0 };
	uint8_t *big = calloc(1, 12 * MiB);
	uint8_t abc[3] = "abc";
	int status;
	pid_t pid;

	res = mmap(NULL, sizeof(*res) * N, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < N; i++) {
		b_init(&b[i], 1);
		if (i != HDR_BIG)
			b_header(&b[i], &mdev_fields);
	}
	record_header_only(&b[HDR_BIG].m, MIGCTL_REC_HEADER, 0, 0,
			   MIGCTL_STREAM_HEADER_MAX + 1);
	record_header_only(&b[DATA_BIG].m, MIGCTL_REC_STOPCOPY, 0, 1,
			   MIGCTL_STREAM_DATA_MAX + 1);
	record_header_only(&b[DATA_HUGE].m, MIGCTL_REC_PRECOPY, 0, 1, UINT32_MAX);
	record_header_only(&b[END_BIG].m, MIGCTL_REC_END, 0, 1,
			   MIGCTL_STREAM_END_MAX + 1);
	record_header_only(&b[OPT_BIG].m, 0x7000, MIGCTL_REC_OPTIONAL, 1,
			   MIGCTL_STREAM_OPTIONAL_MAX + 1);
	b_record(&b[OPT_SKIP], MIGCTL_REC_STOPCOPY, 0, abc, 3);
	b_record(&b[OPT_SKIP], 0x7000, MIGCTL_REC_OPTIONAL, big, 12 * MiB);
	b_end(&b[OPT_SKIP]);
	free(big);

	pid = fork();
	if (pid == 0) {
		struct rlimit rl;
		unsigned long pages;
		FILE *f = fopen("/proc/self/statm", "r");

		if (!f || fscanf(f, "%lu", &pages) != 1)
			_exit(2);
		fclose(f);
		if (mallinfo2().fordblks >= 8 * MiB)
			_exit(3);
		rl.rlim_cur = rl.rlim_max = pages * (rlim_t)sysconf(_SC_PAGESIZE) + 8 * MiB;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(2);
		for (int i = 0; i < PROBE; i++) {
			struct mem o = { 0 };

			res[i].ret = read_mem(&b[i].m, 65536, &o, res[i].err,
					      sizeof(res[i].err));
			if (i == OPT_SKIP && !res[i].ret && (o.len != 3 || memcmp(o.p, "abc", 3)))
				res[i].ret = 1;
			mem_free(&o);
		}
		{
			/* volatile: a compiler may drop a malloc only tested for NULL */
			void *volatile probe = malloc(12 * MiB);

			res[PROBE].ret = probe ? 0 : -ENOMEM;
			free(probe);
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "oversized: child ran");
	for (int i = 0; i < OPT_SKIP; i++)
		CHECK(res[i].ret == -EBADMSG && strstr(res[i].err, "exceeds the limit"),
		      "%s: refused before allocating: \"%s\"", what[i], res[i].err);
	CHECK_EQ_INT(res[OPT_SKIP].ret, 0, "%s: skipped without holding it in memory",
		     what[OPT_SKIP]);
	CHECK_EQ_INT(res[PROBE].ret, -ENOMEM,
		     "%s fails in that child, so the checks above mean something",
		     what[PROBE]);
	munmap(res, sizeof(*res) * N);
	for (int i = 0; i < N; i++)
		b_free(&b[i]);
	mem_free(&out);
}

static void test_unknown_records(void)
{
	uint8_t opt[100];
	struct migctl_stream_stats st;
	struct builder b;
	struct mem out = { 0 };
	char err[256], want[256];
	size_t at;
	int ret;

	pattern(opt, sizeof(opt), 11);
	b_init(&b, 1);
	b_header(&b, &mdev_fields);
	b_record(&b, MIGCTL_REC_PRECOPY, 0, "abc", 3);
	b_record(&b, 0x7001, MIGCTL_REC_OPTIONAL, opt, sizeof(opt));
	b_record(&b, MIGCTL_REC_STOPCOPY, 0, "defg", 4);
	b_record(&b, 0x4000, MIGCTL_REC_OPTIONAL | 0x8000, opt, 0);
	b_end(&b);
	ret = read_mem(&b.m, 2, &out, err, sizeof(err));
	CHECK(ret == 0 && out.len == 7 && !memcmp(out.p, "abcdefg", 7),
	      "unknown optional records are skipped: \"%s\"", err);
	ret = scan_mem(&b.m, &st, NULL, 0);
	CHECK(ret == 0 && st.intact && st.skipped_records == 2 &&
	      st.skipped_bytes == sizeof(opt) && st.records == 6,
	      "scan counts the skipped records");
	b_free(&b);
	mem_free(&out);

	b_init(&b, 1);
	b_header(&b, &mdev_fields);
	b_record(&b, MIGCTL_REC_PRECOPY, 0, "abc", 3);
	at = b.m.len;
	b_record(&b, 0x7001, MIGCTL_REC_OPTIONAL, opt, sizeof(opt));
	b_record(&b, MIGCTL_REC_STOPCOPY, 0, "defg", 4);
	b_end(&b);
	b.m.p[at + 24 + 50] ^= 1;
	ret = read_mem(&b.m, 2, &out, err, sizeof(err));
	snprintf(want, sizeof(want), "record 2 at byte %zu: checksum mismatch", at);
	CHECK(ret == -EBADMSG && !strcmp(err, want) && out.len <= 3,
	      "a skipped record is verified too: \"%s\"", err);
	b_free(&b);
	mem_free(&out);

	b_init(&b, 1);
	b_header(&b, &mdev_fields);
	b_record(&b, MIGCTL_REC_PRECOPY, 0, "abc", 3);
	at = b.m.len;
	b_record(&b, 0x7001, 0, opt, sizeof(opt));
	b_record(&b, MIGCTL_REC_STOPCOPY, 0, "defg", 4);
	b_end(&b);
	ret = read_mem(&b.m, 2, &out, err, sizeof(err));
	snprintf(want, sizeof(want),
		 "record 2 at byte %zu: unknown record type 0x7001, not optional (from a newer vfio-migctl?)",
		 at);
	CHECK(ret == -EBADMSG && !strcmp(err, want) && out.len <= 3,
	      "an unknown mandatory record is refused: \"%s\"", err);
	b_free(&b);
	mem_free(&out);
}

typedef void (*mutate_fn)(struct builder *b);

static void m_swap(struct builder *b)
{
	/* Each record checksummed with its own number, then moved */
	b_record_seq(b, MIGCTL_REC_STOPCOPY, 0, 2, "def", 3);
	b_record_seq(b, MIGCTL_REC_STOPCOPY, 0, 1, "abc", 3);
	b->seq = 3;
	b->data_bytes = 6;
	XXH3_128bits_update(b->digest, "abcdef", 6);
	b_end(b);
}

static void m_repeat(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_record_seq(b, MIGCTL_REC_STOPCOPY, 0, 1, "abc", 3);
	b_end(b);
}

static void m_end_bytes(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_end_custom(b, 4, b->seq, 32);
}

static void m_end_records(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_end_custom(b, 3, 1, 32);
}

static void m_end_digest(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	XXH3_128bits_update(b->digest, "x", 1);
	b_end(b);
}

static void m_end_short(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_end_custom(b, 3, b->seq, 31);
}

static void m_end_longer(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_end_custom(b, 3, b->seq, 64);
}

static void m_trailing(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_end(b);
	mem_add(&b->m, "\0", 1);
}

static void m_second_header(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_header(b, &mdev_fields);
	b_end(b);
}

static void m_pre_after_stop(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_record(b, MIGCTL_REC_PRECOPY, 0, "def", 3);
	b_end(b);
}

static void m_reserved_flag(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0x0002, "abc", 3);
	b_end(b);
}

static void m_zero_length(struct builder *b)
{
	b_record(b, MIGCTL_REC_STOPCOPY, 0, "", 0);
	b_record(b, MIGCTL_REC_STOPCOPY, MIGCTL_REC_OPTIONAL, "abc", 3);
	b_end(b);
}

static void test_structure(void)
{
	static const struct {
		const char *what;
		mutate_fn fn;
		int ret;
		size_t max_out;
		const char *msg; /* what is said about record 1 */
	} cases[] = {
		{ "records swapped", m_swap, -EBADMSG, 0,
		  "numbered 2 (records lost, repeated or reordered)" },
		{ "a record repeated", m_repeat, -EBADMSG, 3, NULL },
		{ "END counts other data bytes", m_end_bytes, -EBADMSG, 3, NULL },
		{ "END counts other records", m_end_records, -EBADMSG, 3, NULL },
		{ "END digest differs", m_end_digest, -EBADMSG, 3, NULL },
		{ "END shorter than 32 bytes", m_end_short, -EBADMSG, 3, NULL },
		{ "END longer than 32 bytes (newer writer)", m_end_longer, 0, 3, NULL },
		{ "a byte after END", m_trailing, -EBADMSG, 3, NULL },
		{ "a second HEADER", m_second_header, -EBADMSG, 3, NULL },
		{ "pre-copy data after stop-copy data", m_pre_after_stop, -EBADMSG, 3,
		  NULL },
		{ "a reserved flag on a data record", m_reserved_flag, -EBADMSG, 0,
		  "reserved flags 0x0002 set" },
		{ "a zero-length data record, OPTIONAL on a known type", m_zero_length,
		  0, 3, NULL },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct builder b;
		struct mem out = { 0 };
		char err[256], want[256];
		size_t rec1;
		int ret;

		b_init(&b, 1);
		b_header(&b, &mdev_fields);
		rec1 = b.m.len;
		cases[c].fn(&b);
		ret = read_mem(&b.m, 2, &out, err, sizeof(err));
		CHECK(ret == cases[c].ret && out.len <= cases[c].max_out &&
		      (ret || out.len == cases[c].max_out) &&
		      (!ret) == !err[0] && (!out.len || !memcmp(out.p, "abc", out.len)),
		      "%s: %s \"%s\"", cases[c].what, ret ? "refused" : "accepted", err);
		if (cases[c].msg) {
			snprintf(want, sizeof(want), "record 1 at byte %zu: %s", rec1,
				 cases[c].msg);
			CHECK_EQ_STR(err, want, "%s: the message", cases[c].what);
		}
		b_free(&b);
		mem_free(&out);
	}
}

static void test_preamble_and_header(void)
{
	struct hdr_fields f = mdev_fields;
	struct builder b;
	struct mem out = { 0 };
	char err[256];
	int ret;

	b_init(&b, 2);
	b_header(&b, &mdev_fields);
	b_end(&b);
	ret = read_mem(&b.m, 2, &out, err, sizeof(err));
	CHECK(ret == -EBADMSG && !strcmp(err, "format version 2 is not supported (this vfio-migctl reads version 1)"),
	      "a newer format version is refused: \"%s\"", err);
	b_free(&b);

	mem_add(&out, "\x89VFMIG\r\n", 8);
	for (int i = 0; i < 1000; i++)
		mem_add(&out, "junk", 4);
	out.p[1] = 'X';
	{
		struct migctl_stream_reader r;
		int fd = mem_fd(out.p, out.len);

		ret = migctl_stream_reader_open(&r, fd, NULL);
		CHECK(ret == -EBADMSG && r.error.fault == MIGCTL_STREAM_NOT_FRAMED &&
		      !strstr(migctl_stream_reader_error(&r), "--"),
		      "a bare kernel stream: NOT_FRAMED, no CLI option named: \"%s\"",
		      migctl_stream_reader_error(&r));
		migctl_stream_reader_close(&r);
		close(fd);
	}
	CHECK(!migctl_stream_is_framed(out.p, out.len) &&
	      migctl_stream_is_framed(MIGCTL_STREAM_MAGIC, MIGCTL_STREAM_MAGIC_SIZE) &&
	      !migctl_stream_is_framed(MIGCTL_STREAM_MAGIC, MIGCTL_STREAM_MAGIC_SIZE - 1),
	      "migctl_stream_is_framed() looks at the whole magic");
	mem_free(&out);

	b_init(&b, 1);
	b_record(&b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	ret = read_mem(&b.m, 2, &out, err, sizeof(err));
	CHECK(ret == -EBADMSG && !strcmp(err, "record 0 at byte 16: expected the header record, found type 0x0003") &&
	      !out.len, "data before the header: \"%s\"", err);
	b_free(&b);

	f.extra = 1000;
	f.bus = 7;
	b_init(&b, 1);
	b_header(&b, &f);
	b_record(&b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b_end(&b);
	{
		struct migctl_stream_reader r;
		int fd = mem_fd(b.m.p, b.m.len);

		ret = migctl_stream_reader_open(&r, fd, NULL);
		CHECK(ret == 0 && !strcmp(r.header.mdev_type, "mtty-2") &&
		      r.header.bus == MIGCTL_BUS_OTHER,
		      "a longer header (fields appended) is read; an unknown bus is other");
		migctl_stream_reader_close(&r);
		close(fd);
	}
	b_free(&b);

	static const struct {
		const char *what, *strings[4];
		const char *msg;
	} bad[] = {
		{ "a 64-byte device name",
		  { "1", "0123456789012345678901234567890123456789012345678901234567890123",
		    "mtty", "" },
		  "record 0 at byte 16: header: device name is 64 bytes long, the limit is 63" },
		{ "an escape in the driver name", { "1", "x", "mt\033[2Jty", "" },
		  "record 0 at byte 16: header: driver name is not printable ASCII" },
	};
	for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
		f = mdev_fields;
		memcpy(f.strings, bad[c].strings, sizeof(f.strings));
		b_init(&b, 1);
		b_header(&b, &f);
		b_end(&b);
		ret = read_mem(&b.m, 2, &out, err, sizeof(err));
		CHECK(ret == -EBADMSG && !strcmp(err, bad[c].msg), "%s: \"%s\"",
		      bad[c].what, err);
		b_free(&b);
	}

	/* A header cut short inside its strings, checksum intact */
	b_init(&b, 1);
	{
		uint8_t p[37] = { 0 };

		b_record(&b, MIGCTL_REC_HEADER, 0, p, sizeof(p));
	}
	b_end(&b);
	ret = read_mem(&b.m, 2, &out, err, sizeof(err));
	CHECK(ret == -EBADMSG && !strcmp(err, "record 0 at byte 16: header ends before the tool version"),
	      "a header without its strings: \"%s\"", err);
	b_free(&b);
	mem_free(&out);
}

static void test_sticky(void)
{
	struct migctl_stream_reader r;
	struct migctl_source src;
	struct builder b;
	uint8_t buf[16];
	size_t got = 99;
	int fd, r1, r2 = 0;

	b_init(&b, 1);
	b_header(&b, &mdev_fields);
	b_record(&b, MIGCTL_REC_STOPCOPY, 0, "abc", 3);
	b.m.p[b.m.len - 1] ^= 1;
	b_record(&b, MIGCTL_REC_STOPCOPY, 0, "def", 3);
	b_end(&b);
	fd = mem_fd(b.m.p, b.m.len);
	migctl_stream_reader_open(&r, fd, NULL);
	migctl_stream_reader_source(&r, &src);
	CHECK(src.read(src.ctx, buf, 0, &got) == -EINVAL && got == 0,
	      "a read of 0 bytes is EINVAL, never a 0 that looks like the end");
	r1 = src.read(src.ctx, buf, sizeof(buf), &got);
	if (r1 == -EBADMSG)
		r2 = src.read(src.ctx, buf, sizeof(buf), &got);
	CHECK(r1 == -EBADMSG && r2 == -EBADMSG && got == 0,
	      "after a bad record every read fails; the next good record never comes out");
	migctl_stream_reader_close(&r);
	migctl_stream_reader_close(&r);
	close(fd);
	b_free(&b);
}

static void test_scan_partial(void)
{
	struct migctl_stream_stats st;
	struct span spans[8];
	uint8_t data[18];
	struct mem s = { 0 };
	char err[256], want[256];
	size_t n;
	int ret;

	small_stream(&s, data, spans, &n);
	s.p[spans[3].start + 25] ^= 4;
	ret = scan_mem(&s, &st, err, sizeof(err));
	snprintf(want, sizeof(want), "record 3 at byte %zu: checksum mismatch",
		 spans[3].start);
	CHECK(ret == -EBADMSG && !st.intact && st.precopy_records == 1 &&
	      st.precopy_bytes == 5 && st.stopcopy_records == 1 &&
	      st.stopcopy_bytes == 10 && !strcmp(err, want),
	      "scan of a damaged stream: counts up to the damage, then \"%s\"", err);
	mem_free(&s);
}

/*
 * Resume's verify pass is a scan: a signal stops it at the next record,
 * even though every read that came before it was whole.
 */
static void test_scan_cancel(void)
{
	struct migctl_stream_reader r;
	struct migctl_stream_stats st;
	volatile sig_atomic_t cancel = 0;
	struct span spans[8];
	uint8_t data[18];
	struct mem s = { 0 };
	size_t n;
	int fd, ret;

	small_stream(&s, data, spans, &n);
	fd = mem_fd(s.p, s.len);
	ret = migctl_stream_reader_open(&r, fd, &cancel);
	cancel = 1;
	if (!ret)
		ret = migctl_stream_scan(&r, &st);
	CHECK(ret == -EINTR && !st.intact && st.records == 1,
	      "scan with the cancel flag set: -EINTR before the next record (%d, %" PRIu64
	      " records)", ret, st.records);
	migctl_stream_reader_close(&r);
	close(fd);
	mem_free(&s);
}

static void test_identity(void)
{
	struct migctl_stream_header h = { .bus = MIGCTL_BUS_MDEV, .driver = "mtty",
					  .mdev_type = "mtty-1",
					  .name = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" };
	struct migctl_device_desc t = { .bus = MIGCTL_BUS_MDEV, .driver = "mtty",
				   .mdev_type = "mtty-1",
				   .name = "c0ffee00-509f-382f-3c1e-e6bfe0fa1002" };
	struct migctl_stream_header p;
	struct migctl_device_desc pt = {
		.name = "0000:af:00.1", .bus = MIGCTL_BUS_PCI,
		.driver = "mlx5_vfio_pci", .vendor = 0x15b3, .device = 0x101e,
		.subsystem_vendor = 0x15b3, .subsystem_device = 0x0047,
		.revision = 0x03,
	};
	char why[256] = "x";

	CHECK(migctl_stream_identity_check(&h, &t, why, sizeof(why)) == 0 && !why[0],
	      "identity: same mdev type, another device: compatible");
	strcpy(t.mdev_type, "mtty-2");
	CHECK(migctl_stream_identity_check(&h, &t, why, sizeof(why)) == -EBADMSG,
	      "identity: another mdev type: refused");
	CHECK_EQ_STR(why, "stream is from mdev type mtty-1 (driver mtty), device is mdev type mtty-2 (driver mtty)",
		     "identity: the message names both sides");
	strcpy(t.mdev_type, "mtty-1");
	strcpy(t.driver, "mdpy");
	CHECK(migctl_stream_identity_check(&h, &t, why, sizeof(why)) == -EBADMSG,
	      "identity: another driver: refused (%s)", why);

	test_header(&p);
	CHECK(migctl_stream_identity_check(&p, &pt, why, sizeof(why)) == 0,
	      "identity: same PCI IDs, other address and revision: compatible");
	pt.subsystem_device = 0x0048;
	CHECK(migctl_stream_identity_check(&p, &pt, why, sizeof(why)) == -EBADMSG,
	      "identity: another subsystem: refused");
	CHECK_EQ_STR(why, "stream is from PCI 15b3:101e subsystem 15b3:0047 (driver mlx5_vfio_pci), device is PCI 15b3:101e subsystem 15b3:0048 (driver mlx5_vfio_pci)",
		     "identity: PCI message");
	pt.subsystem_device = 0x0047;
	pt.device = 0x101f;
	CHECK(migctl_stream_identity_check(&p, &pt, why, sizeof(why)) == -EBADMSG,
	      "identity: another device ID: refused");
	pt.device = 0x101e;
	pt.vendor = 0x8086;
	CHECK(migctl_stream_identity_check(&p, &pt, why, sizeof(why)) == -EBADMSG,
	      "identity: another vendor: refused");
	CHECK(migctl_stream_identity_check(&p, &t, why, sizeof(why)) == -EBADMSG &&
	      !strcmp(why, "stream is from PCI 15b3:101e subsystem 15b3:0047 (driver mlx5_vfio_pci), device is mdev type mtty-1 (driver mdpy)"),
	      "identity: PCI stream into an mdev: refused (%s)", why);
}

static void test_writer_errors(void)
{
	struct migctl_stream_header h;
	struct migctl_stream_writer w;
	struct migctl_sink sink;
	struct mem s = { 0 }, out = { 0 };
	int fds[2], fd, ret, r1, r2, r3;
	struct stat stb;

	signal(SIGPIPE, SIG_IGN);
	test_header(&h);
	if (pipe(fds))
		abort();
	ret = migctl_stream_writer_init(&w, fds[1], &h, NULL);
	close(fds[0]);
	migctl_stream_writer_sink(&w, &sink);
	r1 = sink.begin(sink.ctx, h.mig_flags, h.estimate);
	r2 = sink.write(sink.ctx, MIGCTL_PHASE_STOP_COPY, "abc", 3);
	r3 = sink.finish(sink.ctx);
	CHECK(ret == 0 && r1 == -EPIPE && r2 == -EPIPE && r3 == -EPIPE,
	      "reader gone: begin, write and finish return EPIPE");
	migctl_stream_writer_close(&w);
	migctl_stream_writer_close(&w);
	close(fds[1]);

	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	ret = migctl_stream_writer_init(&w, fd, &h, NULL);
	migctl_stream_writer_sink(&w, &sink);
	CHECK_EQ_INT(sink.write(sink.ctx, MIGCTL_PHASE_STOP_COPY, "x", 1), -EINVAL,
		     "data before begin(): EINVAL");
	if (!ret)
		ret = sink.begin(sink.ctx, h.mig_flags, h.estimate);
	CHECK_EQ_INT(ret, -ENOSPC, "/dev/full: begin returns ENOSPC");
	migctl_stream_writer_close(&w);
	close(fd);

	fd = memfd_create("w", MFD_CLOEXEC);
	strcpy(h.driver, "bad\nname");
	ret = migctl_stream_writer_init(&w, fd, &h, NULL);
	fstat(fd, &stb);
	CHECK(ret == -EINVAL && stb.st_size == 0,
	      "a name that cannot be encoded: EINVAL, nothing written");
	test_header(&h);

	ret = migctl_stream_writer_init(&w, fd, &h, NULL);
	migctl_stream_writer_sink(&w, &sink);
	if (!ret)
		ret = sink.begin(sink.ctx, h.mig_flags, h.estimate);
	if (!ret)
		ret = sink.write(sink.ctx, MIGCTL_PHASE_PRE_COPY, "ab", 2);
	if (!ret)
		ret = sink.write(sink.ctx, MIGCTL_PHASE_STOP_COPY, "cd", 2);
	CHECK_EQ_INT(sink.write(sink.ctx, MIGCTL_PHASE_PRE_COPY, "x", 1), -EINVAL,
		     "pre-copy data after stop-copy data: EINVAL");
	CHECK_EQ_INT(sink.write(sink.ctx, MIGCTL_PHASE_RESUMING, "x", 1), -EINVAL,
		     "RESUMING is not a phase a sink writes: EINVAL");
	if (!ret)
		ret = sink.finish(sink.ctx);
	CHECK_EQ_INT(sink.finish(sink.ctx), -EINVAL, "a second finish: EINVAL");
	CHECK_EQ_INT(sink.write(sink.ctx, MIGCTL_PHASE_STOP_COPY, "x", 1), -EINVAL,
		     "a write after finish: EINVAL");
	migctl_stream_writer_close(&w);
	fd_to_mem(fd, &s);
	close(fd);
	if (!ret)
		ret = read_mem(&s, 100, &out, NULL, 0);
	CHECK(ret == 0 && out.len == 4 && !memcmp(out.p, "abcd", 4),
	      "refused writes leave the stream valid");
	mem_free(&s);
	mem_free(&out);
}

int main(void)
{
	/* Large blocks always from mmap, never recycled: see test_oversized() */
	mallopt(M_MMAP_THRESHOLD, 64 << 10);
	test_round_trip();
	test_split();
	test_wire_layout();
	test_header_fields();
	test_bit_flips();
	test_flip_messages();
	test_truncation();
	test_pipe();
	test_oversized();
	test_unknown_records();
	test_structure();
	test_preamble_and_header();
	test_sticky();
	test_scan_partial();
	test_scan_cancel();
	test_identity();
	test_writer_errors();
	return unit_done();
}
