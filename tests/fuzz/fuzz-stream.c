// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the stream reader: arbitrary bytes through
 * reader_open + the source's read() (the resume path) and through
 * reader_open + scan (the inspect path), from a memfd; and through the
 * set reader (format 1.1, and 1.0 as a set of one): its scan, and its
 * sources pulled on a thread per member, which must agree.
 *
 * The first input byte picks a mode.  Odd: the rest goes in as is, which
 * mostly exercises the checksum checks.  Even: the harness first rewrites
 * the preamble check and every record checksum that fits, so mutations
 * reach the code behind the checksums (header parsing, ordering, END).
 *
 * Besides the sanitizers, it aborts when the two paths disagree, when an
 * error is anything but -EBADMSG, or when a reader hands out more than it
 * should.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "fdio.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static uint8_t *copy;
static size_t copy_size;

static uint64_t le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Make every checksum right, per vfio-migctl-stream(5); a set's (1.1) headers are 32 bytes */
static void repair(uint8_t *p, size_t len)
{
	size_t off = MIGCTL_STREAM_PREAMBLE_SIZE, hsize = MIGCTL_STREAM_RECORD_HEADER_SIZE;
	XXH3_state_t *st;

	if (len < off)
		return;
	if (le(p + 10, 2) == MIGCTL_STREAM_MINOR_SET)
		hsize = MIGCTL_STREAM_SET_RECORD_HEADER_SIZE;
	put_le(p + 12, (uint32_t)XXH3_64bits(p, 12), 4);
	st = XXH3_createState();
	if (!st)
		abort();
	while (off + hsize <= len) {
		uint64_t plen = le(p + off + 4, 4);

		if (plen > len - off - hsize)
			break;
		XXH3_64bits_reset(st);
		XXH3_64bits_update(st, p + off, hsize - 8);
		XXH3_64bits_update(st, p + off + hsize, (size_t)plen);
		put_le(p + off + hsize - 8, XXH3_64bits_digest(st), 8);
		off += hsize + (size_t)plen;
	}
	XXH3_freeState(st);
}

static void load(const uint8_t *p, size_t len)
{
	if (fd < 0)
		fd = memfd_create("fuzz-stream", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) ||
	    write_all(fd, p, len, NULL) || lseek(fd, 0, SEEK_SET))
		abort();
}

static void rewind_fd(void)
{
	if (lseek(fd, 0, SEEK_SET))
		abort();
}

static void check_header(const struct migctl_stream_header *h)
{
	const char *s[] = { h->tool_version, h->name, h->driver, h->mdev_type };
	struct migctl_device_desc t = { .bus = MIGCTL_BUS_MDEV, .driver = "mtty",
				   .mdev_type = "mtty-2" };
	char why[256];

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		size_t n = strnlen(s[i], MIGCTL_NAME_MAX);

		if (n == MIGCTL_NAME_MAX)
			abort();
		for (size_t j = 0; j < n; j++)
			if (s[i][j] < 0x20 || s[i][j] > 0x7e)
				abort();
	}
	migctl_stream_identity_check(h, &t, why, sizeof(why));
}

struct puller {
	struct migctl_stream_set_reader *r;
	unsigned member;
	uint64_t bytes;
	int ret;
	bool last;
};

/* A member's engine, as far as its source goes */
static void *pull(void *arg)
{
	struct puller *p = arg;
	struct migctl_chunk c = { .cap = 1024 };
	struct migctl_source src;
	volatile sig_atomic_t stop = 0;

	c.buf = malloc(c.cap);
	if (!c.buf)
		abort();
	migctl_stream_set_reader_source(p->r, p->member, &src);
	while (!p->ret && !p->last) {
		c.err = src.fetch(src.ctx, &c, &stop);
		p->ret = src.verify(src.ctx, &c);
		if (c.data_len > c.len)
			abort();
		p->bytes += c.data_len;
		p->last = c.last;
	}
	free(c.buf);
	return NULL;
}

/*
 * The set reader: a 1.0 stream is a set of one with the one-device
 * reader's verdict (@ret1, @err1); for any stream, its scan and its
 * sources agree, member by member.
 */
static void set_paths(size_t len, int ret1, const char *err1)
{
	struct migctl_stream_stats whole, st[MIGCTL_STREAM_SET_MAX];
	struct puller p[MIGCTL_STREAM_SET_MAX];
	pthread_t t[MIGCTL_STREAM_SET_MAX];
	struct migctl_stream_set_reader *r;
	unsigned n = 0;
	bool is_set;
	int ret;

	rewind_fd();
	r = migctl_stream_set_reader_new(fd, NULL);
	if (!r)
		abort();
	ret = migctl_stream_set_reader_open(r);
	is_set = !ret && migctl_stream_set_reader_is_set(r);
	if (!ret) {
		n = migctl_stream_set_reader_members(r);
		if (!n || n > MIGCTL_STREAM_SET_MAX)
			abort();
		for (unsigned k = 0; k < n; k++)
			check_header(migctl_stream_set_reader_header(r, k));
		ret = migctl_stream_set_scan(r, &whole, st);
	}
	if (ret && (ret != -EBADMSG ||
		    !migctl_stream_set_reader_error(r, MIGCTL_STREAM_SET_WHOLE)[0]))
		abort();
	if (!ret && (!whole.intact || whole.stream_bytes != len))
		abort();
	/* Not a set: the one-device reader's verdict, word for word */
	if (!strstr(err1, "holds a set of devices") &&
	    (is_set || ret != ret1 ||
	     strcmp(err1, migctl_stream_set_reader_error(r, MIGCTL_STREAM_SET_WHOLE))))
		abort();
	for (unsigned k = 0; k < n; k++)
		if (!ret && !st[k].intact)
			abort();
	migctl_stream_set_reader_free(r);
	if (!is_set)
		return;

	/* The sources, a thread per member: intact exactly when the scan said so */
	rewind_fd();
	r = migctl_stream_set_reader_new(fd, NULL);
	if (!r || migctl_stream_set_reader_open(r))
		abort();
	for (unsigned k = 0; k < n; k++) {
		p[k] = (struct puller){ .r = r, .member = k };
		if (pthread_create(&t[k], NULL, pull, &p[k]))
			abort();
	}
	for (unsigned k = 0; k < n; k++)
		pthread_join(t[k], NULL);
	for (unsigned k = 0; k < n; k++) {
		if (p[k].ret && p[k].ret != -EBADMSG)
			abort();
		if (!p[k].ret != st[k].intact)
			abort();
		if (!p[k].ret && p[k].bytes != st[k].precopy_bytes + st[k].stopcopy_bytes)
			abort();
	}
	migctl_stream_set_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migctl_stream_reader r;
	struct migctl_stream_stats st;
	struct migctl_source src;
	char err1[sizeof(r.error.msg)];
	uint8_t buf[4096];
	size_t len, chunk, got, total = 0;
	int ret1, ret2;

	if (!size)
		return 0;
	len = size - 1;
	if (len > copy_size) {
		free(copy);
		copy = malloc(len);
		if (!copy)
			abort();
		copy_size = len;
	}
	if (len)
		memcpy(copy, data + 1, len);
	if (!(data[0] & 1))
		repair(copy, len);
	/* Read sizes from 1 byte to a whole buffer */
	chunk = 1 + (size_t)(data[0] >> 1) * 33;
	if (chunk > sizeof(buf))
		chunk = sizeof(buf);
	load(copy, len);

	/* The resume path */
	ret1 = migctl_stream_reader_open(&r, fd, NULL);
	if (!ret1) {
		check_header(migctl_stream_reader_header(&r));
		migctl_stream_reader_source(&r, &src);
		do {
			ret1 = src.read(src.ctx, buf, chunk, &got);
			if (got > chunk || (ret1 && got))
				abort();
			total += got;
		} while (!ret1 && got);
	}
	if (ret1 && (ret1 != -EBADMSG || !r.error.msg[0]))
		abort();
	if (total > len)
		abort();
	memcpy(err1, r.error.msg, sizeof(err1));
	migctl_stream_reader_close(&r);

	/* The inspect path must come to the same verdict, for the same reason */
	rewind_fd();
	ret2 = migctl_stream_reader_open(&r, fd, NULL);
	memset(&st, 0, sizeof(st));
	if (!ret2)
		ret2 = migctl_stream_scan(&r, &st);
	if (ret2 != ret1 || strcmp(err1, r.error.msg))
		abort();
	if (!ret2 && (!st.intact || st.stream_bytes != len ||
		      st.precopy_bytes + st.stopcopy_bytes != total))
		abort();
	migctl_stream_reader_close(&r);

	set_paths(len, ret1, err1);
	return 0;
}
