// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Device sets in the stream codec (version 1.1): round trips of 1, 2 and 3
 * members interleaved in a seeded random order, a set of one byte for byte
 * today's stream, corruption in one member named, truncation anywhere,
 * versions and counts refused, and members produced and consumed on
 * threads at different speeds (bounded queues, no deadlock, detach, stop).
 * The seed is printed; UNIT_SEED=N replays a run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "engine.h"
#include "fdio.h"
#include "stream.h"
#include "mem.h"
#include "unit.h"

#define MiB (1u << 20)
#define MAXM 4

static unsigned seed;

/* ---- a set of members with data */

struct member_data {
	uint8_t *data;
	size_t len, pre; /* bytes in all; of them PRE_COPY */
	size_t chunk;	 /* bytes per record */
};

static void headers(struct migctl_stream_header *h, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		struct migctl_device_desc d = {
			.bus = MIGCTL_BUS_PCI,
			.driver = "mlx5_vfio_pci",
			.vendor = 0x15b3,
			.device = 0x101e,
			.subsystem_vendor = 0x15b3,
			.subsystem_device = 0x0047,
			.revision = 2,
		};

		snprintf(d.name, sizeof(d.name), "0000:3b:00.%u", k);
		if (migctl_stream_header_from_desc(&h[k], &d, MIGCTL_FLAG_STOP_COPY, 1000 + k))
			abort();
		h[k].created = 1700000000;
	}
}

static void make_members(struct member_data *md, unsigned n, size_t base, size_t chunk)
{
	for (unsigned k = 0; k < n; k++) {
		md[k].len = base + k * 7777;
		md[k].pre = k == 1 ? md[k].len / 3 : 0;
		md[k].chunk = chunk + k * 13;
		md[k].data = malloc(md[k].len + 1);
		pattern(md[k].data, md[k].len, 100 + k);
	}
}

static void free_members(struct member_data *md, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		free(md[k].data);
}

/*
 * Write the set through one sink per member on this thread, the members'
 * records in a random order (the seed's), half by frame()+emit(), half
 * by write(); begin()s and finish()es in random orders too.
 */
static int write_set(const struct member_data *md, unsigned n, unsigned *rs, struct mem *out,
		     bool *ended_early)
{
	struct migctl_stream_header h[MAXM];
	struct migctl_stream_set_writer *w;
	struct migctl_sink sink[MAXM];
	size_t off[MAXM] = { 0 };
	unsigned order[MAXM], left = n;
	int fd = memfd_create("w", MFD_CLOEXEC), ret;

	headers(h, n);
	ret = migctl_stream_set_writer_new(fd, n, h, NULL, &w);
	if (ret)
		return ret;
	for (unsigned k = 0; k < n; k++) {
		migctl_stream_set_writer_sink(w, k, &sink[k]);
		order[k] = k;
	}
	for (unsigned k = n; k > 1; k--) {
		unsigned j = (unsigned)rand_r(rs) % k, t = order[k - 1];

		order[k - 1] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < n && !ret; i++)
		ret = sink[order[i]].begin(sink[order[i]].ctx, h[order[i]].mig_flags,
					   h[order[i]].estimate);
	while (!ret && left) {
		unsigned k = (unsigned)rand_r(rs) % n;
		struct migctl_chunk c = { 0 };
		size_t len;

		if (off[k] == md[k].len)
			continue;
		c.phase = off[k] < md[k].pre ? MIGCTL_PHASE_PRE_COPY : MIGCTL_PHASE_STOP_COPY;
		len = (c.phase == MIGCTL_PHASE_PRE_COPY ? md[k].pre : md[k].len) - off[k];
		if (len > md[k].chunk)
			len = md[k].chunk;
		c.buf = md[k].data + off[k];
		c.len = len;
		if (rand_r(rs) & 1) {
			ret = sink[k].frame(sink[k].ctx, &c);
			if (!ret)
				ret = sink[k].emit(sink[k].ctx, &c, NULL);
		} else {
			ret = sink[k].write(sink[k].ctx, c.phase, c.buf, c.len);
		}
		off[k] += len;
		if (off[k] == md[k].len)
			left--;
	}
	*ended_early = false;
	for (unsigned i = 0; i < n && !ret; i++) {
		if (migctl_stream_set_writer_ended(w))
			*ended_early = true;
		ret = sink[order[n - 1 - i]].finish(sink[order[n - 1 - i]].ctx);
	}
	if (!ret && !migctl_stream_set_writer_ended(w))
		ret = -EPROTO;
	migctl_stream_set_writer_free(w);
	fd_to_mem(fd, out);
	close(fd);
	return ret;
}

/* ---- consumers: one thread per member, as the engine pulls */

struct consumer {
	struct migctl_stream_set_reader *r;
	unsigned member;
	struct mem out;
	unsigned delay_us; /* per record: a slow device */
	int quit_after;	   /* > 0: stop pulling after this many records, and detach */
	volatile sig_atomic_t stop;
	int ret;
	bool last;
	uint64_t records;
};

static void *consume(void *arg)
{
	struct consumer *cs = arg;
	struct migctl_source src;
	struct migctl_chunk c = { .cap = 4096 };

	c.buf = malloc(c.cap);
	migctl_stream_set_reader_source(cs->r, cs->member, &src);
	for (;;) {
		int ret;

		c.err = src.fetch(src.ctx, &c, &cs->stop);
		ret = src.verify(src.ctx, &c);
		if (ret) {
			cs->ret = ret;
			break;
		}
		mem_add(&cs->out, c.buf, c.data_len);
		cs->records++;
		if (c.last) {
			cs->last = true;
			break;
		}
		if (cs->delay_us)
			usleep(cs->delay_us);
		if (cs->quit_after && cs->records == (uint64_t)cs->quit_after) {
			migctl_stream_set_reader_detach(cs->r, cs->member);
			break;
		}
	}
	free(c.buf);
	return NULL;
}

/* Open @fd as a set and pull every member on its own thread */
static int read_set(int fd, struct consumer *cs, unsigned n_expect,
		    struct migctl_stream_set_reader **rp)
{
	struct migctl_stream_set_reader *r = migctl_stream_set_reader_new(fd, NULL);
	pthread_t t[MAXM];
	int ret;

	*rp = r;
	ret = migctl_stream_set_reader_open(r);
	if (ret)
		return ret;
	if (migctl_stream_set_reader_members(r) != n_expect)
		return -ERANGE;
	for (unsigned k = 0; k < n_expect; k++) {
		cs[k].r = r;
		cs[k].member = k;
		pthread_create(&t[k], NULL, consume, &cs[k]);
	}
	for (unsigned k = 0; k < n_expect; k++)
		pthread_join(t[k], NULL);
	return 0;
}

static void free_consumers(struct consumer *cs, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		mem_free(&cs[k].out);
}

/* ---- the records of a set stream, as the man page lays them out */

struct rec {
	size_t off;
	uint16_t type;
	uint32_t len, member;
	uint64_t seq;
};

static bool is_data_type(uint16_t type)
{
	return type == MIGCTL_REC_PRECOPY || type == MIGCTL_REC_STOPCOPY;
}

static size_t walk(const struct mem *s, struct rec *recs, size_t max)
{
	size_t n = 0, off = 16;

	while (off + 32 <= s->len && n < max) {
		recs[n] = (struct rec){ .off = off,
					.type = (uint16_t)le_get(s->p + off, 2),
					.len = (uint32_t)le_get(s->p + off + 4, 4),
					.seq = le_get(s->p + off + 8, 8),
					.member = (uint32_t)le_get(s->p + off + 16, 4) };
		off += 32 + recs[n].len;
		n++;
	}
	return n;
}

/* Checksum the record at @off again, after a test changed it */
static void reseal(struct mem *s, size_t off)
{
	XXH3_state_t *st = XXH3_createState();
	uint32_t len = (uint32_t)le_get(s->p + off + 4, 4);

	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, s->p + off, 24);
	XXH3_64bits_update(st, s->p + off + 32, len);
	le_put(s->p + off + 24, XXH3_64bits_digest(st), 8);
	XXH3_freeState(st);
}

static int scan_set(const struct mem *s, struct migctl_stream_stats *whole,
		    struct migctl_stream_stats *members, char *err, size_t errlen, char merr[][256])
{
	int fd = mem_fd(s->p, s->len);
	struct migctl_stream_set_reader *r = migctl_stream_set_reader_new(fd, NULL);
	int ret = migctl_stream_set_reader_open(r);

	memset(whole, 0, sizeof(*whole));
	memset(members, 0, MAXM * sizeof(*members));
	if (!ret)
		ret = migctl_stream_set_scan(r, whole, members);
	snprintf(err, errlen, "%s", migctl_stream_set_reader_error(r, MIGCTL_STREAM_SET_WHOLE));
	for (unsigned k = 0; merr && k < migctl_stream_set_reader_members(r) && k < MAXM; k++)
		snprintf(merr[k], 256, "%s", migctl_stream_set_reader_error(r, k));
	migctl_stream_set_reader_free(r);
	close(fd);
	return ret;
}

/* ---- tests */

static void test_round_trips(void)
{
	for (unsigned n = 1; n <= 3; n++) {
		for (unsigned round = 0; round < 4; round++) {
			unsigned rs = seed + n * 100 + round;
			struct member_data md[MAXM];
			struct consumer cs[MAXM] = { 0 };
			struct migctl_stream_stats whole, st[MAXM];
			struct migctl_stream_set_reader *r;
			struct mem s = { 0 };
			char err[256];
			bool early, same = true, intact = true;
			int fd, ret;

			make_members(md, n, round == 3 ? 3 * MiB : 1000 * round + 5, 4096 << round);
			ret = write_set(md, n, &rs, &s, &early);
			CHECK(ret == 0 && !early,
			      "set of %u, order %u: written, END only at the last finish", n,
			      round);

			fd = mem_fd(s.p, s.len);
			ret = read_set(fd, cs, n, &r);
			for (unsigned k = 0; k < n; k++) {
				char name[32];

				snprintf(name, sizeof(name), "0000:3b:00.%u", k);
				same &= cs[k].ret == 0 && cs[k].last &&
					cs[k].out.len == md[k].len &&
					!memcmp(cs[k].out.p, md[k].data, md[k].len) &&
					!strcmp(migctl_stream_set_reader_header(r, k)->name, name);
			}
			CHECK(ret == 0 && same && migctl_stream_set_reader_is_set(r) == (n > 1),
			      "set of %u, order %u: each member's bytes and header back, pulled on "
			      "%u threads",
			      n, round, n);
			migctl_stream_set_reader_free(r);
			close(fd);
			free_consumers(cs, n);

			ret = scan_set(&s, &whole, st, err, sizeof(err), NULL);
			for (unsigned k = 0; k < n; k++)
				intact &= st[k].intact && st[k].precopy_bytes == md[k].pre &&
					  st[k].stopcopy_bytes == md[k].len - md[k].pre;
			CHECK(ret == 0 && whole.intact && intact && whole.stream_bytes == s.len,
			      "set of %u, order %u: scan says every member intact with its bytes "
			      "(%s)",
			      n, round, err);
			mem_free(&s);
			free_members(md, n);
		}
	}
}

/* A set of one is today's stream: the one-device writer's bytes exactly */
static void test_set_of_one(void)
{
	struct migctl_stream_header h;
	struct migctl_stream_writer w;
	struct migctl_sink sink;
	struct member_data md;
	struct mem one = { 0 }, set = { 0 };
	unsigned rs = seed;
	bool early;
	int fd = memfd_create("one", MFD_CLOEXEC), ret;

	make_members(&md, 1, 100000, 4096);
	headers(&h, 1);
	migctl_stream_writer_init(&w, fd, &h, NULL);
	migctl_stream_writer_sink(&w, &sink);
	ret = sink.begin(sink.ctx, h.mig_flags, h.estimate);
	for (size_t off = 0; !ret && off < md.len; off += md.chunk)
		ret = sink.write(sink.ctx, MIGCTL_PHASE_STOP_COPY, md.data + off,
				 md.len - off < md.chunk ? md.len - off : md.chunk);
	if (!ret)
		ret = sink.finish(sink.ctx);
	migctl_stream_writer_close(&w);
	fd_to_mem(fd, &one);
	close(fd);
	ret |= write_set(&md, 1, &rs, &set, &early);
	CHECK(ret == 0 && one.len == set.len && !memcmp(one.p, set.p, one.len) &&
		      le_get(set.p + 8, 4) == 1,
	      "a set of one is written as a version 1.0 stream, byte for byte");
	mem_free(&one);
	mem_free(&set);
	free_members(&md, 1);
}

static void test_corruption(void)
{
	struct member_data md[3];
	struct consumer cs[3] = { 0 };
	struct migctl_stream_stats whole, st[MAXM];
	struct migctl_stream_set_reader *r;
	struct rec recs[256];
	struct mem s = { 0 };
	char err[256], merr[MAXM][256], want[256];
	unsigned rs = seed;
	size_t n, victim = 0;
	bool early;
	int fd, ret;

	make_members(md, 3, 40000, 4096);
	write_set(md, 3, &rs, &s, &early);
	n = walk(&s, recs, 256);
	/* member 1's third data record */
	for (size_t i = 0, seen = 0; i < n; i++)
		if (recs[i].member == 1 && recs[i].type == MIGCTL_REC_STOPCOPY && ++seen == 3)
			victim = i;
	s.p[recs[victim].off + 32 + 100] ^= 0x10;
	snprintf(want, sizeof(want), "member 1 record %" PRIu64 " at byte %zu: checksum mismatch",
		 recs[victim].seq, recs[victim].off);

	fd = mem_fd(s.p, s.len);
	ret = read_set(fd, cs, 3, &r);
	CHECK(ret == 0 && cs[1].ret == -EBADMSG && !cs[1].last,
	      "a flipped bit in member 1's record fails member 1's source");
	CHECK_EQ_STR(migctl_stream_set_reader_error(r, 1), want, "and names member, record, byte");
	CHECK_EQ_STR(migctl_stream_set_reader_error(r, MIGCTL_STREAM_SET_WHOLE), want,
		     "the whole's error is member 1's");
	CHECK(cs[0].ret == 0 && cs[2].ret == 0 && cs[0].last && cs[2].last,
	      "the other members still read to END and verify (no deadlock)");
	migctl_stream_set_reader_free(r);
	close(fd);
	free_consumers(cs, 3);

	ret = scan_set(&s, &whole, st, err, sizeof(err), merr);
	CHECK(ret == -EBADMSG && !whole.intact && !st[1].intact && st[0].intact && st[2].intact,
	      "scan: member 1 not intact, members 0 and 2 intact, the whole not");
	CHECK_EQ_STR(merr[1], want, "scan names member 1's record");
	CHECK_EQ_STR(err, want, "scan's whole error is member 1's");

	/* The checksum made good again: member 1's digest in END still catches it */
	reseal(&s, recs[victim].off);
	ret = scan_set(&s, &whole, st, err, sizeof(err), merr);
	CHECK(ret == -EBADMSG && strstr(merr[1], "digest of this member's data does not match") &&
		      st[0].intact && !st[1].intact,
	      "a changed record with a good checksum: member 1's END digest fails (%s)", merr[1]);

	/* Two records of one member swapped: numbering */
	s.p[recs[victim].off + 32 + 100] ^= 0x10;
	reseal(&s, recs[victim].off);
	{
		size_t a = 0, b = 0;
		struct mem t = { 0 };

		for (size_t i = 0; i < n; i++)
			if (recs[i].member == 2 && recs[i].type == MIGCTL_REC_STOPCOPY) {
				if (!a)
					a = i;
				else if (!b && recs[i].len == recs[a].len)
					b = i;
			}
		mem_add(&t, s.p, s.len);
		memcpy(t.p + recs[a].off, s.p + recs[b].off, 32 + recs[b].len);
		memcpy(t.p + recs[b].off, s.p + recs[a].off, 32 + recs[a].len);
		ret = scan_set(&t, &whole, st, err, sizeof(err), merr);
		CHECK(ret == -EBADMSG && strstr(merr[2], "(records lost, repeated or reordered)"),
		      "two records of member 2 swapped: caught (%s)", merr[2]);
		mem_free(&t);

		/*
		 * Records of two different members swapped: the interleaving is
		 * free.  Any two adjacent data records of two members will do (the
		 * writers' threads interleave them differently from run to run).
		 */
		bool found = false;

		for (size_t i = 0; !found && i + 1 < n; i++)
			if (recs[i].member != recs[i + 1].member && is_data_type(recs[i].type) &&
			    is_data_type(recs[i + 1].type)) {
				a = i;
				found = true;
			}
		CHECK(found, "two adjacent data records of two members to swap");
		mem_add(&t, s.p, recs[a].off);
		mem_add(&t, s.p + recs[a + 1].off, 32 + recs[a + 1].len);
		mem_add(&t, s.p + recs[a].off, 32 + recs[a].len);
		mem_add(&t, s.p + recs[a + 1].off + 32 + recs[a + 1].len,
			s.len - (recs[a + 1].off + 32 + recs[a + 1].len));
		ret = scan_set(&t, &whole, st, err, sizeof(err), NULL);
		CHECK(ret == 0 && whole.intact && t.len == s.len,
		      "records of members %u and %u swapped: still intact (%s)", recs[a].member,
		      recs[a + 1].member, err);
		mem_free(&t);
	}
	mem_free(&s);
	free_members(md, 3);
}

static void test_truncation(void)
{
	struct member_data md[2];
	struct mem s = { 0 };
	unsigned rs = seed, fails = 0, tried = 0, ended = 0;
	char where[320] = "";
	bool early;

	make_members(md, 2, 3000, 700);
	write_set(md, 2, &rs, &s, &early);
	/* Every cut point: open or scan refuses it, and no member's source ends */
	for (size_t cut = 0; cut < s.len; cut += cut < 400 ? 1 : 37) {
		struct consumer cs[2] = { 0 };
		struct migctl_stream_set_reader *r;
		struct migctl_stream_stats whole, st[MAXM];
		struct mem t = { .p = s.p, .len = cut };
		char err[256];
		int fd = mem_fd(s.p, cut), ret;

		tried++;
		ret = read_set(fd, cs, 2, &r);
		if (!ret && (cs[0].last || cs[1].last)) {
			ended++;
			snprintf(where, sizeof(where), "cut at %zu", cut);
		}
		migctl_stream_set_reader_free(r);
		close(fd);
		free_consumers(cs, 2);
		ret = scan_set(&t, &whole, st, err, sizeof(err), NULL);
		if (ret != -EBADMSG || whole.intact || st[0].intact || st[1].intact) {
			fails++;
			snprintf(where, sizeof(where), "cut at %zu: %s", cut, err);
		}
	}
	CHECK(!fails && !ended,
	      "%u cuts of a 2-member stream: every one refused, no member's source ends (%s)",
	      tried, where);
	{
		struct migctl_stream_stats whole, st[MAXM];
		struct mem t = { .p = s.p, .len = s.len - 1 };
		char err[256];

		scan_set(&t, &whole, st, err, sizeof(err), NULL);
		CHECK(strstr(err, "truncated") != NULL, "a cut inside END says truncated: %s", err);
	}
	mem_free(&s);
	free_members(md, 2);
}

static void test_versions_and_counts(void)
{
	struct member_data md[3];
	struct migctl_stream_stats whole, st[MAXM];
	struct migctl_stream_reader one;
	struct rec recs[256];
	struct mem s = { 0 }, t = { 0 };
	unsigned rs = seed;
	char err[256];
	bool early;
	int fd, ret;

	make_members(md, 3, 500, 200);
	write_set(md, 3, &rs, &s, &early);
	CHECK(le_get(s.p + 8, 2) == 1 && le_get(s.p + 10, 2) == 1, "a set of 3 is format version 1.1");

	/* minor 2: refused by name */
	mem_add(&t, s.p, s.len);
	le_put(t.p + 10, 2, 2);
	le_put(t.p + 12, (uint32_t)XXH3_64bits(t.p, 12), 4);
	ret = scan_set(&t, &whole, st, err, sizeof(err), NULL);
	CHECK(ret == -EBADMSG, "an unknown minor version is refused");
	CHECK_EQ_STR(err,
		     "format version 1.2 is not supported (this vfio-migctl reads version 1.0 "
		     "and 1.1)",
		     "with words that name both");
	mem_free(&t);

	/* the one-device reader refuses a set, saying what it is */
	fd = mem_fd(s.p, s.len);
	ret = migctl_stream_reader_open(&one, fd, NULL);
	CHECK(ret == -EBADMSG && strstr(migctl_stream_reader_error(&one), "set of devices"),
	      "the one-device reader refuses a 1.1 stream: %s", migctl_stream_reader_error(&one));
	migctl_stream_reader_close(&one);
	close(fd);

	/* the SET record's count: a member too many or too few is caught */
	walk(&s, recs, 256);
	for (uint32_t count = 0; count <= 65; count++) {
		if (count == 3 || (count > 4 && count < 64))
			continue;
		mem_add(&t, s.p, s.len);
		le_put(t.p + recs[0].off + 32, count, 4);
		reseal(&t, recs[0].off);
		ret = scan_set(&t, &whole, st, err, sizeof(err), NULL);
		CHECK(ret == -EBADMSG, "SET says %u members of 3: refused (%s)", count, err);
		mem_free(&t);
	}
	/* END's member count */
	{
		size_t e = recs[walk(&s, recs, 256) - 1].off;

		mem_add(&t, s.p, s.len);
		le_put(t.p + e + 32 + 16, 2, 4);
		reseal(&t, e);
		ret = scan_set(&t, &whole, st, err, sizeof(err), NULL);
		CHECK(ret == -EBADMSG && strstr(err, "it is for 2 members, the set has 3"),
		      "END for 2 members in a set of 3: %s", err);
		mem_free(&t);
		/* END's counts of the whole: records before it, data bytes */
		for (int field = 0; field < 2; field++) {
			mem_add(&t, s.p, s.len);
			le_put(t.p + e + 32 + 8 * (field ? 0 : 1),
			   le_get(t.p + e + 32 + 8 * (field ? 0 : 1), 8) + 1, 8);
			reseal(&t, e);
			ret = scan_set(&t, &whole, st, err, sizeof(err), NULL);
			CHECK(ret == -EBADMSG &&
				      strstr(err, field ? "data bytes, the stream carried" :
							  "records before it, the stream had"),
			      "END counting one %s too many: %s", field ? "data byte" : "record",
			      err);
			mem_free(&t);
		}
	}
	/* a set whose reader is asked for a number of members it does not have */
	fd = mem_fd(s.p, s.len);
	{
		struct migctl_stream_set_reader *r = migctl_stream_set_reader_new(fd, NULL);

		ret = migctl_stream_set_reader_open(r);
		CHECK(ret == 0 && migctl_stream_set_reader_members(r) == 3 &&
			      !strcmp(migctl_stream_set_reader_header(r, 2)->name,
				      "0000:3b:00.2") &&
			      migctl_stream_set_reader_header(r, 3) == NULL,
		      "open says 3 members and each one's header, before any data");
		migctl_stream_set_reader_free(r);
	}
	close(fd);
	{
		struct migctl_stream_header h[MAXM];
		struct migctl_stream_set_writer *w;

		headers(h, 2);
		CHECK(migctl_stream_set_writer_new(1, 0, h, NULL, &w) == -EINVAL && !w &&
			      migctl_stream_set_writer_new(1, MIGCTL_STREAM_SET_MAX + 1, h, NULL,
							   &w) == -EINVAL,
		      "a writer for 0 or more than %d members is EINVAL", MIGCTL_STREAM_SET_MAX);
	}
	mem_free(&s);
	free_members(md, 3);
}

static void test_writer_rules(void)
{
	struct migctl_stream_header h[2];
	struct migctl_stream_set_writer *w;
	struct migctl_sink s0, s1;
	int fds[2], fd = memfd_create("w", MFD_CLOEXEC), r1, r2, r3;

	headers(h, 2);
	migctl_stream_set_writer_new(fd, 2, h, NULL, &w);
	migctl_stream_set_writer_sink(w, 0, &s0);
	migctl_stream_set_writer_sink(w, 1, &s1);
	s0.begin(s0.ctx, 1, 0);
	r1 = s0.write(s0.ctx, MIGCTL_PHASE_STOP_COPY, "abc", 3);
	s1.begin(s1.ctx, 1, 0);
	r2 = s0.write(s0.ctx, MIGCTL_PHASE_STOP_COPY, "abc", 3);
	r3 = s0.write(s0.ctx, MIGCTL_PHASE_PRE_COPY, "abc", 3);
	CHECK(r1 == -EINVAL && r2 == 0 && r3 == -EINVAL,
	      "data before every member began is EINVAL; pre-copy after stop-copy too");
	r1 = s1.finish(s1.ctx);
	CHECK(r1 == 0 && !migctl_stream_set_writer_ended(w), "one member finished: no END yet");
	r2 = s0.finish(s0.ctx);
	CHECK(r2 == 0 && migctl_stream_set_writer_ended(w), "the last one finished: END");
	migctl_stream_set_writer_free(w);
	close(fd);

	/* A failed write breaks the stream for every member */
	if (pipe(fds))
		abort();
	signal(SIGPIPE, SIG_IGN);
	migctl_stream_set_writer_new(fds[1], 2, h, NULL, &w);
	migctl_stream_set_writer_sink(w, 0, &s0);
	migctl_stream_set_writer_sink(w, 1, &s1);
	s0.begin(s0.ctx, 1, 0);
	close(fds[0]);
	r1 = s1.begin(s1.ctx, 1, 0);
	r2 = s0.write(s0.ctx, MIGCTL_PHASE_STOP_COPY, "abc", 3);
	r3 = s1.finish(s1.ctx);
	CHECK(r1 == -EPIPE && r2 == -EPIPE && r3 == -EPIPE,
	      "a write error is every member's, sticky (%d %d %d)", r1, r2, r3);
	migctl_stream_set_writer_free(w);
	close(fds[1]);
}

/* ---- threads: producers into a pipe, consumers out of it */

struct producer {
	struct migctl_sink sink;
	const struct member_data *md;
	unsigned delay_us;
	int ret;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	volatile sig_atomic_t stop = 0;
	int ret = 0;

	for (size_t off = 0; !ret && off < p->md->len; off += p->md->chunk) {
		struct migctl_chunk c = { .buf = p->md->data + off,
					  .phase = MIGCTL_PHASE_STOP_COPY };

		c.len = p->md->len - off < p->md->chunk ? p->md->len - off : p->md->chunk;
		ret = p->sink.frame(p->sink.ctx, &c);
		if (!ret)
			ret = p->sink.emit(p->sink.ctx, &c, &stop);
		if (p->delay_us)
			usleep(p->delay_us);
	}
	if (!ret)
		ret = p->sink.finish(p->sink.ctx);
	p->ret = ret;
	return NULL;
}

struct pipe_reader {
	int fd;
	struct consumer cs[MAXM];
	unsigned n;
	int ret;
};

static void *read_pipe(void *arg)
{
	struct pipe_reader *pr = arg;
	struct migctl_stream_set_reader *r;

	pr->ret = read_set(pr->fd, pr->cs, pr->n, &r);
	migctl_stream_set_reader_free(r);
	return NULL;
}

static volatile int watchdog_armed;

static void *watchdog(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1200 && watchdog_armed; i++)
		usleep(100000);
	if (watchdog_armed) {
		printf("not ok - the threads did not finish in 120 s: a deadlock\n1..0\n");
		fflush(stdout);
		_exit(1);
	}
	return NULL;
}

/*
 * Member 0 is big and written first, its consumer slow: the others' records
 * come after it, so their consumers must read member 0's off the pipe into
 * its bounded queue and wait for it.  Then member 2 stops pulling early
 * (detached) and the others still finish.
 */
static void test_threads(void)
{
	for (int variant = 0; variant < 3; variant++) {
		struct migctl_stream_header h[3];
		struct migctl_stream_set_writer *w;
		struct member_data md[3];
		struct producer p[3] = { 0 };
		struct pipe_reader pr = { .n = 3 };
		pthread_t tp[3], tr, tw;
		int fds[2];
		bool same = true;

		/* big enough to fill a queue (MIGCTL_STREAM_SET_QUEUE) but in variant 1 */
		make_members(md, 3, variant == 1 ? 2 * MiB : 24 * MiB, 256 << 10);
		headers(h, 3);
		if (pipe(fds))
			abort();
		migctl_stream_set_writer_new(fds[1], 3, h, NULL, &w);
		for (unsigned k = 0; k < 3; k++) {
			migctl_stream_set_writer_sink(w, k, &p[k].sink);
			p[k].md = &md[k];
			p[k].sink.begin(p[k].sink.ctx, 1, 0);
		}
		pr.fd = fds[0];
		pr.cs[0].delay_us = variant == 1 ? 0 : 3000;
		pr.cs[1].delay_us = variant == 1 ? 2000 : 0;
		if (variant == 2)
			pr.cs[2].quit_after = 2;
		watchdog_armed = 1;
		pthread_create(&tw, NULL, watchdog, NULL);
		pthread_create(&tr, NULL, read_pipe, &pr);
		/* variant 0: member 0's data all out before the others begin */
		if (variant == 0) {
			produce(&p[0]);
			tp[0] = pthread_self();
		} else {
			pthread_create(&tp[0], NULL, produce, &p[0]);
		}
		for (unsigned k = 1; k < 3; k++) {
			p[k].delay_us = variant == 1 ? 500 : 0;
			pthread_create(&tp[k], NULL, produce, &p[k]);
		}
		for (unsigned k = variant == 0 ? 1 : 0; k < 3; k++)
			pthread_join(tp[k], NULL);
		close(fds[1]);
		pthread_join(tr, NULL);
		watchdog_armed = 0;
		pthread_join(tw, NULL);
		migctl_stream_set_writer_free(w);
		close(fds[0]);
		for (unsigned k = 0; k < 3; k++) {
			bool want_all = !(variant == 2 && k == 2);

			same &= p[k].ret == 0;
			if (want_all)
				same &= pr.cs[k].ret == 0 && pr.cs[k].last &&
					pr.cs[k].out.len == md[k].len &&
					!memcmp(pr.cs[k].out.p, md[k].data, md[k].len);
		}
		CHECK(pr.ret == 0 && same,
		      "threads, %s: 3 producers and 3 consumers through a pipe, every byte in "
		      "place",
		      variant == 0 ? "member 0 all first, its consumer slow" :
		      variant == 1 ? "all at once, member 1 slow" :
				     "member 2 stops pulling and is detached");
		free_consumers(pr.cs, 3);
		free_members(md, 3);
	}
}

/* A consumer blocked on another member's full queue gives up when told to stop */
static void test_stop(void)
{
	struct member_data md[2];
	struct migctl_stream_set_reader *r;
	struct consumer cs = { 0 };
	struct mem s = { 0 };
	unsigned rs = seed;
	pthread_t t, tw;
	bool early;
	int fd;

	/* member 1's 20 MiB (beyond its queue) all before member 0's */
	make_members(md, 2, 20 * MiB, MiB);
	md[0].len = 10;
	md[0].chunk = 10;
	{
		struct migctl_stream_header h[2];
		struct migctl_stream_set_writer *w;
		struct migctl_sink sk[2];
		int wfd = memfd_create("w", MFD_CLOEXEC);

		(void)rs;
		(void)early;
		headers(h, 2);
		migctl_stream_set_writer_new(wfd, 2, h, NULL, &w);
		migctl_stream_set_writer_sink(w, 0, &sk[0]);
		migctl_stream_set_writer_sink(w, 1, &sk[1]);
		sk[0].begin(sk[0].ctx, 1, 0);
		sk[1].begin(sk[1].ctx, 1, 0);
		for (size_t off = 0; off < md[1].len; off += MiB)
			sk[1].write(sk[1].ctx, MIGCTL_PHASE_STOP_COPY, md[1].data + off,
				    md[1].len - off < MiB ? md[1].len - off : MiB);
		sk[0].write(sk[0].ctx, MIGCTL_PHASE_STOP_COPY, md[0].data, md[0].len);
		sk[0].finish(sk[0].ctx);
		sk[1].finish(sk[1].ctx);
		migctl_stream_set_writer_free(w);
		fd_to_mem(wfd, &s);
		close(wfd);
	}
	fd = mem_fd(s.p, s.len);
	r = migctl_stream_set_reader_new(fd, NULL);
	migctl_stream_set_reader_open(r);
	cs.r = r;
	cs.member = 0;
	watchdog_armed = 1;
	pthread_create(&tw, NULL, watchdog, NULL);
	pthread_create(&t, NULL, consume, &cs);
	usleep(300000);
	CHECK(!cs.ret && !cs.last && cs.records == 0,
	      "member 0 waits while member 1, never pulled, holds its queue's worth");
	cs.stop = 1;
	pthread_join(t, NULL);
	watchdog_armed = 0;
	pthread_join(tw, NULL);
	CHECK(cs.ret == -EINTR, "once its stop flag is set it gives up with EINTR (%d)", cs.ret);
	migctl_stream_set_reader_free(r);
	close(fd);
	mem_free(&s);
	free_members(md, 2);
}

/* ---- the transfer engine's data path, one per member, on the set's sinks and sources */

struct engine_member {
	const struct member_data *md;
	struct migctl_sink sink;
	struct migctl_source source;
	int data_fd;
	struct migctl_xfer_opts opts;
	struct migctl_xfer_result res;
	int ret;
};

static void *engine_save(void *arg)
{
	struct engine_member *e = arg;

	e->ret = xfer_save_fd(e->data_fd, &e->opts, &e->sink, &e->res);
	return NULL;
}

static void *engine_resume(void *arg)
{
	struct engine_member *e = arg;

	e->ret = xfer_resume_fd(e->data_fd, &e->opts, &e->source, &e->res);
	return NULL;
}

/*
 * Three engines save into one set stream (each begins and runs at once:
 * emit() waits for the others' HEADERs), through a pipe into three engines
 * resuming from the set reader's sources; then a byte flipped in the file
 * fails exactly the member it belongs to.
 */
static void test_engines(void)
{
	struct migctl_stream_header h[3];
	struct migctl_stream_set_writer *w;
	struct migctl_stream_set_reader *r;
	struct member_data md[3];
	struct engine_member sv[3], rs[3];
	pthread_t ts[3], tr[3], tw;
	struct mem file = { 0 };
	int fds[2], tee = memfd_create("tee", MFD_CLOEXEC);
	bool same = true, saved = true;

	make_members(md, 3, 3 * MiB, 0);
	headers(h, 3);
	if (pipe(fds))
		abort();
	watchdog_armed = 1;
	pthread_create(&tw, NULL, watchdog, NULL);
	migctl_stream_set_writer_new(fds[1], 3, h, NULL, &w);
	r = migctl_stream_set_reader_new(fds[0], NULL);
	for (unsigned k = 0; k < 3; k++) {
		sv[k] = (struct engine_member){ .md = &md[k], .opts.buffer_size = 64u << 10 };
		sv[k].data_fd = mem_fd(md[k].data, md[k].len);
		migctl_stream_set_writer_sink(w, k, &sv[k].sink);
		pthread_create(&ts[k], NULL, engine_save, &sv[k]);
	}
	/* The reader's open needs every HEADER: after the last begin() */
	if (migctl_stream_set_reader_open(r))
		abort();
	for (unsigned k = 0; k < 3; k++) {
		rs[k] = (struct engine_member){ .md = &md[k], .opts.buffer_size = 64u << 10 };
		rs[k].data_fd = memfd_create("dst", MFD_CLOEXEC);
		migctl_stream_set_reader_source(r, k, &rs[k].source);
		pthread_create(&tr[k], NULL, engine_resume, &rs[k]);
	}
	for (unsigned k = 0; k < 3; k++) {
		pthread_join(ts[k], NULL);
		saved &= sv[k].ret == 0;
	}
	close(fds[1]);
	for (unsigned k = 0; k < 3; k++) {
		struct mem got = { 0 };

		pthread_join(tr[k], NULL);
		fd_to_mem(rs[k].data_fd, &got);
		same &= rs[k].ret == 0 && got.len == md[k].len &&
			!memcmp(got.p, md[k].data, got.len);
		mem_free(&got);
	}
	watchdog_armed = 0;
	pthread_join(tw, NULL);
	CHECK(saved && migctl_stream_set_writer_ended(w),
	      "3 engines save into one set stream at once, END after the last");
	CHECK(same, "3 engines resume from it through a pipe, every member's bytes in place");
	migctl_stream_set_reader_free(r);
	migctl_stream_set_writer_free(w);
	close(fds[0]);

	/* Again into a file, then member 2's record damaged */
	migctl_stream_set_writer_new(tee, 3, h, NULL, &w);
	for (unsigned k = 0; k < 3; k++) {
		lseek(sv[k].data_fd, 0, SEEK_SET);
		migctl_stream_set_writer_sink(w, k, &sv[k].sink);
		pthread_create(&ts[k], NULL, engine_save, &sv[k]);
	}
	for (unsigned k = 0; k < 3; k++)
		pthread_join(ts[k], NULL);
	migctl_stream_set_writer_free(w);
	fd_to_mem(tee, &file);
	{
		struct rec recs[512];
		size_t n = walk(&file, recs, 512), victim = 0;
		int fd;

		for (size_t i = 0; i < n; i++)
			if (recs[i].member == 2 && recs[i].type == MIGCTL_REC_STOPCOPY)
				victim = i;
		file.p[recs[victim].off + 40] ^= 1;
		fd = mem_fd(file.p, file.len);
		r = migctl_stream_set_reader_new(fd, NULL);
		migctl_stream_set_reader_open(r);
		for (unsigned k = 0; k < 3; k++) {
			if (ftruncate(rs[k].data_fd, 0))
				abort();
			lseek(rs[k].data_fd, 0, SEEK_SET);
			migctl_stream_set_reader_source(r, k, &rs[k].source);
			pthread_create(&tr[k], NULL, engine_resume, &rs[k]);
		}
		for (unsigned k = 0; k < 3; k++)
			pthread_join(tr[k], NULL);
		CHECK(rs[2].ret == -EBADMSG && rs[2].res.fail_at == MIGCTL_FAIL_SOURCE &&
			      rs[0].ret == 0 && rs[1].ret == 0 &&
			      strstr(migctl_stream_set_reader_error(r, 2), "member 2 record"),
		      "a damaged record of member 2 fails member 2's engine at the source: %s",
		      migctl_stream_set_reader_error(r, 2));
		migctl_stream_set_reader_free(r);
		close(fd);
	}
	for (unsigned k = 0; k < 3; k++) {
		close(sv[k].data_fd);
		close(rs[k].data_fd);
	}
	close(tee);
	mem_free(&file);
	free_members(md, 3);
}

int main(void)
{
	const char *env = getenv("UNIT_SEED");

	seed = env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL);
	printf("# seed %u (UNIT_SEED=%u replays it)\n", seed, seed);
	test_round_trips();
	test_set_of_one();
	test_corruption();
	test_truncation();
	test_versions_and_counts();
	test_writer_rules();
	test_threads();
	test_stop();
	test_engines();
	return unit_done();
}
