// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check: the migration protocol v2 as rules run against a device.
 *
 * Each rule is written from the uAPI's own words (include/uapi/linux/vfio.h,
 * and vfio_mig_get_next_state() in drivers/vfio/vfio_main.c), and keeps
 * their weight: a "must" broken is a FAIL, a "should" departed from a WARN.
 *
 * The device is handled with care.  Before any rule its state is saved
 * into memory (a STOP_COPY stream, bounded), and afterwards resumed and
 * the state found restored.  Every rule starts in the state found and is
 * brought back to it, so one rule's failure does not become the next
 * rule's.  RESUMING is left by loading the saved stream where there is
 * one, so that most rules do not depend on reset working.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "stream.h"

/* Bytes per read() of a data_fd */
#define CHUNK (64u << 10)

/* ---- a stream in memory, with a bound */

struct membuf {
	uint8_t *data;
	size_t len, cap, max;
};

static int membuf_add(struct membuf *b, const void *p, size_t n)
{
	size_t cap;
	void *data;

	if (n > b->max - b->len)
		return -EFBIG;
	if (b->len + n > b->cap) {
		for (cap = b->cap ? b->cap : CHUNK; cap < b->len + n; cap *= 2)
			;
		data = realloc(b->data, cap < b->max ? cap : b->max);
		if (!data)
			return -ENOMEM;
		b->data = data;
		b->cap = cap < b->max ? cap : b->max;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static void membuf_free(struct membuf *b)
{
	free(b->data);
	*b = (struct membuf){ .max = b->max };
}

/* The transfer engine's sink and source, on memory */
static int membuf_sink_write(void *ctx, enum migctl_phase phase, const void *buf, size_t len)
{
	(void)phase;
	return membuf_add(ctx, buf, len);
}

struct membuf_reader {
	const struct membuf *b;
	size_t pos;
};

static int membuf_source_read(void *ctx, void *buf, size_t len, size_t *got)
{
	struct membuf_reader *rd = ctx;
	size_t n = rd->b->len - rd->pos;

	if (n > len)
		n = len;
	memcpy(buf, rd->b->data + rd->pos, n);
	rd->pos += n;
	*got = n;
	return 0;
}

/* ---- the devices under check */

struct check_dev {
	struct migctl_dev *dev;
	struct migctl_putback pb;
	bool used;             /* saved (or refused) and to be put back */
	struct membuf saved;   /* its STOP_COPY stream as found */
	bool lost;             /* could not be brought back to pb.found */
	char lost_why[160];
};

struct migctl_check {
	struct check_dev d[2];
	bool has_dev2;
	char dev2_unlike[256]; /* why DEV2 cannot take DEV's stream ("" if it can) */
	struct migctl_check_opts opts;
	size_t max;
	uint8_t *buf;          /* CHUNK bytes for reads */
};

/* ---- rules' findings */

struct rule_run {
	struct migctl_check *c;
	struct check_dev *d;   /* DEV */
	struct migctl_rule_result *r;
	unsigned int more;     /* findings of the same weight beyond the one told */
};

/* FAIL outweighs WARN outweighs PASS */
static int weight(enum migctl_verdict v)
{
	return v == MIGCTL_FAIL ? 2 : v == MIGCTL_WARN ? 1 : 0;
}

static void say(struct rule_run *x, enum migctl_verdict v, const char *fmt, va_list ap)
{
	x->r->verdict = v;
	vsnprintf(x->r->detail, sizeof(x->r->detail), fmt, ap);
}

/* A finding: the heaviest is told, the first of its weight; the rest counted */
__attribute__((format(printf, 3, 4)))
static void finding(struct rule_run *x, enum migctl_verdict v, const char *fmt, ...)
{
	va_list ap;

	if (weight(v) < weight(x->r->verdict))
		return;
	if (weight(v) == weight(x->r->verdict) && x->r->verdict != MIGCTL_PASS) {
		x->more++;
		return;
	}
	x->more = 0;
	va_start(ap, fmt);
	say(x, v, fmt, ap);
	va_end(ap);
}

/* What a rule that found nothing says */
__attribute__((format(printf, 2, 3)))
static void passed(struct rule_run *x, const char *fmt, ...)
{
	va_list ap;

	if (x->r->verdict != MIGCTL_PASS)
		return;
	va_start(ap, fmt);
	say(x, MIGCTL_PASS, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void skipped(struct rule_run *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(x, MIGCTL_SKIP, fmt, ap);
	va_end(ap);
}

/* "EINVAL": a driver author wants the errno's name, as the uAPI spells it */
static const char *eno(int err)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);

	return name ? name : "an unknown errno";
}

static const char *sn(enum migctl_state s)
{
	return migctl_state_name(s);
}

/* ---- moving the device */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static enum migctl_state get_state(struct check_dev *d)
{
	enum migctl_state s;

	return migctl_get_state(d->dev, &s) ? MIGCTL_NR_STATES : s;
}

static bool offers(struct check_dev *d, enum migctl_state s)
{
	return migctl_state_supported(d->pb.mig_flags, s);
}

/* SET @s; a data_fd it returns replaces *fd (closed at once when fd is NULL) */
static int set_state(struct check_dev *d, enum migctl_state s, int *fd)
{
	int new_fd, r = migctl_set_state(d->dev, s, &new_fd);

	if (new_fd >= 0) {
		if (fd) {
			close_fd(fd);
			*fd = new_fd;
		} else {
			close(new_fd);
		}
	}
	return r;
}

/* Write the device's saved stream into the RESUMING session *fd */
static int write_saved(struct check_dev *d, int fd)
{
	if (!d->saved.len || fd < 0)
		return -ENODATA;
	return write_all(fd, d->saved.data, d->saved.len, NULL);
}

/*
 * Move to @s from wherever the device is, keeping a data state's session
 * in *fd (NULL: none is kept).  RESUMING is left by loading the saved
 * stream through *fd where that works, else by reset, the uAPI's abort;
 * ERROR and a state GET cannot tell are left by reset too.
 */
static int go(struct check_dev *d, enum migctl_state s, int *fd)
{
	enum migctl_state cur = get_state(d), path[MIGCTL_ARCS_MAX];
	size_t len;
	int none = -1, r;

	if (!fd)
		fd = &none;
	if (cur == MIGCTL_STATE_RESUMING && s != MIGCTL_STATE_RESUMING &&
	    write_saved(d, *fd) == 0 && set_state(d, MIGCTL_STATE_STOP, NULL) == 0)
		cur = MIGCTL_STATE_STOP;
	if (cur == MIGCTL_STATE_ERROR || cur == MIGCTL_NR_STATES ||
	    (cur == MIGCTL_STATE_RESUMING && s != MIGCTL_STATE_RESUMING)) {
		close_fd(fd);
		r = migctl_dev_reset(d->dev);
		if (r)
			return r;
		cur = get_state(d);
	}
	/* the kernel has no path from STOP_COPY to PRE_COPY*: go round by STOP */
	if (cur != s && migctl_state_path(d->pb.mig_flags, cur, s, path, &len) &&
	    set_state(d, MIGCTL_STATE_STOP, fd) == 0) {
		close_fd(fd);
		cur = MIGCTL_STATE_STOP;
	}
	r = cur == s ? 0 : set_state(d, s, fd);
	if (!r && !migctl_state_is_data(s))
		close_fd(fd);
	close_fd(&none);
	return r;
}

/* Read @fd to its end into @out (NULL: count only); -EFBIG past the bound */
static int read_to_end(struct migctl_check *c, int fd, struct membuf *out, size_t *total)
{
	size_t got;
	int r;

	*total = 0;
	for (;;) {
		r = migctl_data_read(fd, c->buf, CHUNK, &got);
		if (r || got == 0)
			return r;
		if (got > c->max - *total)
			return -EFBIG;
		if (out && (r = membuf_add(out, c->buf, got)))
			return r;
		*total += got;
	}
}

/* The states a device offers, in the order the rules visit them */
static size_t tour(struct check_dev *d, enum migctl_state states[MIGCTL_NR_STATES])
{
	static const enum migctl_state order[] = {
		MIGCTL_STATE_RUNNING,  MIGCTL_STATE_RUNNING_P2P,  MIGCTL_STATE_STOP,
		MIGCTL_STATE_STOP_COPY, MIGCTL_STATE_PRE_COPY, MIGCTL_STATE_PRE_COPY_P2P,
		MIGCTL_STATE_RESUMING,
	};
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (offers(d, order[i]))
			states[n++] = order[i];
	return n;
}

/* The arcs that open a data session, each from the state it is taken in */
static const struct {
	enum migctl_state from, to;
} session_arcs[] = {
	{ MIGCTL_STATE_STOP, MIGCTL_STATE_STOP_COPY },
	{ MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY },
	{ MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_PRE_COPY_P2P },
	{ MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING },
};

/* ---- the rules: migration flags and GET */

static void rule_flags(struct rule_run *x)
{
	uint64_t f = x->d->pb.mig_flags;
	uint64_t undefined = f & ~(uint64_t)(MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_P2P |
					     MIGCTL_FLAG_PRE_COPY);
	char names[64];

	migctl_flags_format(f, names, sizeof(names));
	if (!(f & MIGCTL_FLAG_STOP_COPY))
		finding(x, MIGCTL_FAIL, "flags %s (0x%llx): no STOP_COPY", f ? names : "none",
			(unsigned long long)f);
	if (undefined)
		finding(x, MIGCTL_WARN, "flags 0x%llx are not defined by the uAPI",
			(unsigned long long)undefined);
	passed(x, "%s (0x%llx)", names, (unsigned long long)f);
}

static void rule_state_get(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got;
	size_t n = tour(x->d, states), seen = 0;
	char unreached[128] = "";
	int fd = -1, r;

	for (size_t i = 0; i <= n; i++) {
		/* the state found first, then every offered one (not reached: fsm.arcs') */
		if (i > 0 && go(x->d, states[i - 1], &fd)) {
			str_list_add(unreached, sizeof(unreached), sn(states[i - 1]));
			continue;
		}
		r = migctl_get_state(x->d->dev, &got);
		if (r == -EPROTO)
			finding(x, MIGCTL_FAIL, "%s%s: GET gave a value outside enum vfio_device_mig_state",
				i ? "after SET " : "as found", i ? sn(states[i - 1]) : "");
		else if (r)
			finding(x, MIGCTL_FAIL, "GET fails with %s", eno(r));
		else if (!offers(x->d, got) && !(got == MIGCTL_STATE_RUNNING && !n))
			finding(x, MIGCTL_FAIL, "GET gave %s, which the flags do not offer", sn(got));
		else
			seen++;
	}
	close_fd(&fd);
	passed(x, "GET gave an offered state in each of the %zu states visited%s%s", seen,
	       unreached[0] ? "; not reached: " : "", unreached);
}

/* ---- the state machine */

static void rule_arcs(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got;
	size_t n = tour(x->d, states), arcs = 0;
	bool no_resuming = false;
	int fd = -1, r;

	for (size_t i = 0; i < n; i++) {
		enum migctl_state a = states[i];

		for (size_t j = 0; j < n; j++) {
			enum migctl_state b = states[j];

			/* refused by the uAPI: fsm.blocked-arcs */
			if (a == b || (a == MIGCTL_STATE_STOP_COPY &&
				       (b == MIGCTL_STATE_PRE_COPY || b == MIGCTL_STATE_PRE_COPY_P2P)))
				continue;
			/* RESUMING is left through STOP, which needs a stream to load */
			if (a == MIGCTL_STATE_RESUMING && !x->d->saved.len) {
				no_resuming = true;
				continue;
			}
			r = go(x->d, a, &fd);
			got = get_state(x->d);
			if (r || got != a) {
				finding(x, MIGCTL_FAIL, "%s not reached to try %s -> %s: %s%s; GET says %s",
					sn(a), sn(a), sn(b), r ? "SET fails with " : "SET succeeded",
					r ? eno(r) : "", sn(got));
				continue;
			}
			if (a == MIGCTL_STATE_RESUMING && (r = write_saved(x->d, fd))) {
				finding(x, MIGCTL_FAIL, "writing the saved stream in RESUMING fails with %s",
					eno(r));
				continue;
			}
			r = set_state(x->d, b, &fd);
			got = get_state(x->d);
			if (r)
				finding(x, MIGCTL_FAIL, "%s -> %s fails with %s; GET says %s", sn(a), sn(b),
					eno(r), sn(got));
			else if (got != b)
				finding(x, MIGCTL_FAIL, "%s -> %s succeeded, but GET says %s", sn(a), sn(b),
					sn(got));
			else
				arcs++;
			if (!migctl_state_is_data(got))
				close_fd(&fd);
		}
	}
	close_fd(&fd);
	passed(x, "%zu arcs between %zu states%s", arcs, n,
	       no_resuming ? "; none from RESUMING (no saved stream to load)" : "");
}

static void rule_unsupported(struct rule_run *x)
{
	enum migctl_state found = x->d->pb.found, got;
	char names[128] = "";
	int r;

	/* every state not offered, and the first value past the enum */
	for (unsigned int s = MIGCTL_STATE_STOP; s <= MIGCTL_NR_STATES; s++) {
		enum migctl_state t = (enum migctl_state)s;
		const char *name = s == MIGCTL_NR_STATES ? "8 (past the enum)" : sn(t);

		if (s < MIGCTL_NR_STATES && offers(x->d, t))
			continue;
		r = set_state(x->d, t, NULL);
		got = get_state(x->d);
		if (r == 0)
			finding(x, MIGCTL_FAIL, "SET %s succeeded; GET says %s", name, sn(got));
		else if (r != -EINVAL)
			finding(x, MIGCTL_WARN, "SET %s fails with %s, not EINVAL", name, eno(r));
		if (got != found) {
			finding(x, MIGCTL_FAIL, "after SET %s the device is in %s, not %s", name,
				sn(got), sn(found));
			go(x->d, found, NULL);
		}
		str_list_add(names, sizeof(names), name);
	}
	passed(x, "refused with EINVAL in %s, which stayed: %s", sn(found), names);
}

static void rule_error_refused(struct rule_run *x)
{
	enum migctl_state found = x->d->pb.found, got;
	int r = set_state(x->d, MIGCTL_STATE_ERROR, NULL);

	got = get_state(x->d);
	if (r == 0)
		finding(x, MIGCTL_FAIL, "SET ERROR succeeded; GET says %s", sn(got));
	else if (r != -EINVAL)
		finding(x, MIGCTL_WARN, "SET ERROR fails with %s, not EINVAL", eno(r));
	if (got != found)
		finding(x, MIGCTL_FAIL, "after SET ERROR the device is in %s, not %s", sn(got),
			sn(found));
	passed(x, "refused with EINVAL in %s, which stayed", sn(found));
}

static void rule_blocked_arcs(struct rule_run *x)
{
	static const enum migctl_state targets[] = { MIGCTL_STATE_PRE_COPY,
						     MIGCTL_STATE_PRE_COPY_P2P };
	enum migctl_state got;
	int fd = -1, r, err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		if (!offers(x->d, targets[i]))
			continue;
		r = go(x->d, MIGCTL_STATE_STOP_COPY, &fd);
		if (r || get_state(x->d) != MIGCTL_STATE_STOP_COPY) {
			finding(x, MIGCTL_FAIL, "STOP_COPY not reached (%s)", r ? eno(r) : "GET disagrees");
			break;
		}
		r = set_state(x->d, targets[i], &fd);
		got = get_state(x->d);
		if (r == 0)
			finding(x, MIGCTL_FAIL, "STOP_COPY -> %s succeeded; GET says %s", sn(targets[i]),
				sn(got));
		else if (got != MIGCTL_STATE_STOP_COPY)
			finding(x, MIGCTL_FAIL, "after the refused STOP_COPY -> %s the device is in %s",
				sn(targets[i]), sn(got));
		err = r;
	}
	close_fd(&fd);
	passed(x, "refused with %s; the device stayed in STOP_COPY", eno(err));
}

/* ---- data sessions */

/* Leave a session's state by its own arc, loading the saved stream from RESUMING */
static int leave_session(struct check_dev *d, enum migctl_state from, enum migctl_state to,
			 int *fd, int *leave_fd)
{
	int r;

	if (to == MIGCTL_STATE_RESUMING && (r = write_saved(d, *fd)))
		return r;
	return migctl_set_state(d->dev, from, leave_fd);
}

static void rule_new_fd(struct rule_run *x)
{
	size_t arcs = 0;
	int fd, leave_fd, r;

	for (size_t i = 0; i < ARRAY_SIZE(session_arcs); i++) {
		enum migctl_state from = session_arcs[i].from, to = session_arcs[i].to;

		if (!offers(x->d, from) || !offers(x->d, to))
			continue;
		fd = -1;
		r = go(x->d, from, NULL);
		if (!r)
			r = set_state(x->d, to, &fd);
		if (r) {
			finding(x, MIGCTL_FAIL, "%s -> %s fails with %s", sn(from), sn(to), eno(r));
			continue;
		}
		if (fd < 0)
			finding(x, MIGCTL_FAIL, "%s -> %s returned no data_fd", sn(from), sn(to));
		else
			arcs++;
		/* and the arc back opens nothing (RESUMING: after loading the saved stream) */
		if (to != MIGCTL_STATE_RESUMING || x->d->saved.len) {
			r = leave_session(x->d, from, to, &fd, &leave_fd);
			if (!r && leave_fd >= 0) {
				finding(x, MIGCTL_FAIL, "%s -> %s returned a data_fd, opening no session",
					sn(to), sn(from));
				close(leave_fd);
			}
		}
		close_fd(&fd);
	}
	passed(x, "%zu arcs opened a session with a new data_fd; the arcs back returned none",
	       arcs);
}

static void rule_precopy_keeps_fd(struct rule_run *x)
{
	struct membuf stream = { .max = x->c->max };
	size_t pre, rest;
	int fd = -1, new_fd, r;

	if (go(x->d, MIGCTL_STATE_RUNNING, NULL) || set_state(x->d, MIGCTL_STATE_PRE_COPY, &fd) ||
	    fd < 0) {
		finding(x, MIGCTL_FAIL, "RUNNING -> PRE_COPY gave no data_fd");
		goto out;
	}
	/* PRE_COPY's data up to its temporary end (ENOMSG, or 0 from some drivers) */
	r = read_to_end(x->c, fd, &stream, &pre);
	if (r && r != -ENOMSG) {
		finding(x, MIGCTL_FAIL, "read() in PRE_COPY fails with %s", eno(r));
		goto out;
	}
	r = migctl_set_state(x->d->dev, MIGCTL_STATE_STOP_COPY, &new_fd);
	if (r) {
		finding(x, MIGCTL_FAIL, "PRE_COPY -> STOP_COPY fails with %s", eno(r));
		goto out;
	}
	if (new_fd >= 0) {
		finding(x, MIGCTL_FAIL, "PRE_COPY -> STOP_COPY returned a new data_fd");
		close(new_fd);
	}
	r = read_to_end(x->c, fd, &stream, &rest);
	if (r) {
		finding(x, MIGCTL_FAIL, "read() of the PRE_COPY data_fd in STOP_COPY fails with %s",
			eno(r));
		goto out;
	}
	/* the one stream, whole: the device takes it back */
	if (go(x->d, MIGCTL_STATE_STOP, &fd) || set_state(x->d, MIGCTL_STATE_RESUMING, &fd) ||
	    fd < 0)
		r = -EPROTO;
	else if (!(r = write_all(fd, stream.data, stream.len, NULL)))
		r = set_state(x->d, MIGCTL_STATE_STOP, NULL);
	if (r)
		finding(x, MIGCTL_FAIL, "the %zu bytes read through the PRE_COPY data_fd were refused "
			"by RESUMING -> STOP (%s)", stream.len, eno(r));
	passed(x, "one data_fd carried %zu bytes in PRE_COPY and %zu in STOP_COPY; the device "
	       "took them back", pre, rest);
out:
	close_fd(&fd);
	membuf_free(&stream);
}

static void rule_old_fd_dead(struct rule_run *x)
{
	size_t tried = 0, got;
	int fd, leave_fd, r, answer = 0;

	for (size_t i = 0; i < ARRAY_SIZE(session_arcs); i++) {
		enum migctl_state from = session_arcs[i].from, to = session_arcs[i].to;
		bool resuming = to == MIGCTL_STATE_RESUMING;

		if (!offers(x->d, from) || !offers(x->d, to) || (resuming && !x->d->saved.len))
			continue;
		fd = -1;
		/* a session without an fd is data.new-fd's finding */
		if (go(x->d, from, NULL) || set_state(x->d, to, &fd) || fd < 0 ||
		    leave_session(x->d, from, to, &fd, &leave_fd)) {
			close_fd(&fd);
			continue;
		}
		if (leave_fd >= 0)
			close(leave_fd);
		if (resuming)
			r = migctl_data_write(fd, x->d->saved.data, 1, &got);
		else
			r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (!r && got)
			finding(x, MIGCTL_FAIL, "%s() on the %s data_fd still %s data after %s -> %s",
				resuming ? "write" : "read", sn(to), resuming ? "takes" : "gives",
				sn(to), sn(from));
		answer = r;
		tried++;
		close_fd(&fd);
	}
	passed(x, "%zu data_fds stopped working when their state was left (%s)", tried,
	       answer ? eno(answer) : "0 bytes");
}

static void rule_eof_sticks(struct rule_run *x)
{
	size_t total, got;
	int fd = -1, r;

	if (go(x->d, MIGCTL_STATE_STOP, NULL) || set_state(x->d, MIGCTL_STATE_STOP_COPY, &fd) ||
	    fd < 0) {
		finding(x, MIGCTL_FAIL, "STOP -> STOP_COPY gave no data_fd");
		goto out;
	}
	r = read_to_end(x->c, fd, NULL, &total);
	if (r == -EFBIG)
		finding(x, MIGCTL_FAIL, "no end of stream within %zu bytes", x->c->max);
	else if (r)
		finding(x, MIGCTL_FAIL, "read() in STOP_COPY fails with %s after %zu bytes", eno(r),
			total);
	if (r)
		goto out;
	for (int i = 0; i < 3; i++) {
		r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (r)
			finding(x, MIGCTL_FAIL, "read() after the end fails with %s (must stay 0)", eno(r));
		else if (got)
			finding(x, MIGCTL_FAIL, "read() after the end gave %zu more bytes", got);
	}
	passed(x, "end of stream after %zu bytes; read() gave 0 three more times", total);
out:
	close_fd(&fd);
}

static void rule_no_seek(struct rule_run *x)
{
	static const enum migctl_state states[] = { MIGCTL_STATE_STOP_COPY, MIGCTL_STATE_RESUMING };
	size_t n;
	int fd, r, answer = 0;

	for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
		bool resuming = states[i] == MIGCTL_STATE_RESUMING;

		fd = -1;
		if (go(x->d, MIGCTL_STATE_STOP, NULL) || set_state(x->d, states[i], &fd) || fd < 0) {
			close_fd(&fd);
			continue;
		}
		if (!(r = migctl_data_seek(fd)))
			finding(x, MIGCTL_WARN, "lseek() works on the %s data_fd", sn(states[i]));
		if (resuming)
			r = migctl_data_pwrite(fd, "", 1, &n);
		else
			r = migctl_data_pread(fd, x->c->buf, 1, &n);
		if (!r)
			finding(x, MIGCTL_WARN, "%s() works on the %s data_fd",
				resuming ? "pwrite" : "pread", sn(states[i]));
		answer = r;
		/* RESUMING with a stray byte in it: abort, the uAPI's way; else load and leave */
		if (resuming && !r)
			migctl_dev_reset(x->d->dev);
		else
			go(x->d, x->d->pb.found, &fd);
		close_fd(&fd);
	}
	passed(x, "lseek(), pread() and pwrite() refused (%s)", eno(answer));
}

/* ---- PRE_COPY */

/* RUNNING -> PRE_COPY with its data_fd in *fd */
static bool enter_precopy(struct rule_run *x, int *fd)
{
	if (!go(x->d, MIGCTL_STATE_RUNNING, NULL) &&
	    !set_state(x->d, MIGCTL_STATE_PRE_COPY, fd) && *fd >= 0)
		return true;
	finding(x, MIGCTL_FAIL, "RUNNING -> PRE_COPY gave no data_fd");
	return false;
}

static void rule_precopy_info(struct rule_run *x)
{
	uint64_t initial, dirty;
	int fd = -1, r;

	if (!enter_precopy(x, &fd))
		goto out;
	if ((r = migctl_precopy_info(fd, &initial, &dirty)))
		finding(x, MIGCTL_FAIL, "fails in PRE_COPY with %s (mandatory with PRE_COPY)", eno(r));
	if (offers(x->d, MIGCTL_STATE_PRE_COPY_P2P) &&
	    !set_state(x->d, MIGCTL_STATE_PRE_COPY_P2P, &fd) &&
	    (r = migctl_precopy_info(fd, &initial, &dirty)))
		finding(x, MIGCTL_FAIL, "fails in PRE_COPY_P2P with %s (mandatory with PRE_COPY)",
			eno(r));
	if ((r = set_state(x->d, MIGCTL_STATE_STOP_COPY, &fd))) {
		finding(x, MIGCTL_FAIL, "PRE_COPY -> STOP_COPY fails with %s", eno(r));
		goto out;
	}
	r = migctl_precopy_info(fd, &initial, &dirty);
	if (r == 0)
		finding(x, MIGCTL_WARN, "works in STOP_COPY (initial %llu, dirty %llu): should be "
			"EINVAL", (unsigned long long)initial, (unsigned long long)dirty);
	else if (r != -EINVAL)
		finding(x, MIGCTL_WARN, "fails in STOP_COPY with %s, not EINVAL", eno(r));
	passed(x, "works in PRE_COPY%s; EINVAL in STOP_COPY",
	       offers(x->d, MIGCTL_STATE_PRE_COPY_P2P) ? " and PRE_COPY_P2P" : "");
out:
	close_fd(&fd);
}

static void rule_initial_decreases(struct rule_run *x)
{
	uint64_t first, prev, now, dirty;
	size_t got, want, total = 0;
	unsigned int reads = 0;
	int fd = -1, r;

	if (!enter_precopy(x, &fd))
		goto out;
	if ((r = migctl_precopy_info(fd, &first, &dirty))) {
		finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s", eno(r));
		goto out;
	}
	if (first == 0)
		finding(x, MIGCTL_WARN, "initial_bytes starts at 0");
	/* quarter reads, so that a decrease has a few chances to show */
	for (prev = first; prev && reads < 64 && total < x->c->max; prev = now, reads++) {
		want = prev / 4 ? prev / 4 : 1;
		r = migctl_data_read(fd, x->c->buf, want < CHUNK ? want : CHUNK, &got);
		if (r || !got) {
			finding(x, MIGCTL_WARN, "the temporary end came with initial_bytes at %llu",
				(unsigned long long)prev);
			break;
		}
		total += got;
		if ((r = migctl_precopy_info(fd, &now, &dirty))) {
			finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s", eno(r));
			break;
		}
		if (now > prev)
			finding(x, MIGCTL_WARN, "initial_bytes rose from %llu to %llu after a read of %zu bytes",
				(unsigned long long)prev, (unsigned long long)now, got);
		else if (now == prev)
			finding(x, MIGCTL_WARN, "initial_bytes stayed at %llu after a read of %zu bytes",
				(unsigned long long)now, got);
	}
	passed(x, "initial_bytes went from %llu to 0 over %u reads (%zu bytes)",
	       (unsigned long long)first, reads, total);
out:
	close_fd(&fd);
}

static void rule_enomsg(struct rule_run *x)
{
	uint64_t initial, dirty;
	size_t got, total = 0;
	int fd = -1, r;

	if (!enter_precopy(x, &fd))
		goto out;
	/* read until the answer that is not data: that is the temporary end */
	for (unsigned int reads = 0;; reads++) {
		if ((r = migctl_precopy_info(fd, &initial, &dirty))) {
			finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s", eno(r));
			goto out;
		}
		if (reads == 1024 || total >= x->c->max) {
			skipped(x, "no temporary end within %u reads (%zu bytes): the device keeps "
				"dirtying", reads, total);
			goto out;
		}
		r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (r || !got)
			break;
		if (!initial && !dirty) {
			finding(x, MIGCTL_WARN, "read() gave %zu bytes though initial_bytes and "
				"dirty_bytes were 0", got);
			goto out;
		}
		total += got;
	}
	if (r == -ENOMSG)
		passed(x, "ENOMSG after %zu bytes of PRE_COPY data", total);
	else if (r)
		finding(x, MIGCTL_WARN, "read() fails with %s at the temporary end, not ENOMSG", eno(r));
	else
		finding(x, MIGCTL_WARN, "read() returns 0 at the temporary end (after %zu bytes), not "
			"ENOMSG: a reader cannot tell it from the end of the stream", total);
out:
	close_fd(&fd);
}

static void rule_data_size(struct rule_run *x)
{
	uint64_t estimate;
	size_t total;
	double ratio;
	int fd = -1, r;

	go(x->d, MIGCTL_STATE_STOP, NULL);
	r = migctl_data_size(x->d->dev, &estimate);
	if (r == -ENOTTY || r == -EOPNOTSUPP) {
		skipped(x, "MIG_DATA_SIZE is not offered (%s)", eno(r));
		return;
	}
	if (r) {
		finding(x, MIGCTL_FAIL, "MIG_DATA_SIZE fails in STOP with %s", eno(r));
		return;
	}
	if (set_state(x->d, MIGCTL_STATE_STOP_COPY, &fd) || fd < 0 ||
	    (r = read_to_end(x->c, fd, NULL, &total))) {
		finding(x, MIGCTL_FAIL, "the STOP_COPY stream could not be read to its end");
		goto out;
	}
	ratio = total ? (double)estimate / (double)total : estimate ? 1e9 : 1;
	if (ratio < 0.5 || ratio > 2)
		finding(x, MIGCTL_WARN, "estimate %llu bytes, STOP_COPY gave %zu: ratio %.2f",
			(unsigned long long)estimate, total, ratio);
	passed(x, "estimate %llu bytes, STOP_COPY gave %zu: ratio %.2f",
	       (unsigned long long)estimate, total, ratio);
out:
	close_fd(&fd);
}

/* ---- RESUMING */

/*
 * STOP -> RESUMING, the first @len bytes of the saved stream, RESUMING ->
 * STOP: the last SET's result (-EPROTO: RESUMING gave no data_fd).  A
 * session left in RESUMING is aborted by reset.
 */
static int resume_prefix(struct rule_run *x, size_t len, int *write_err)
{
	int fd = -1, r;

	*write_err = 0;
	if (go(x->d, MIGCTL_STATE_STOP, NULL) || set_state(x->d, MIGCTL_STATE_RESUMING, &fd) ||
	    fd < 0) {
		close_fd(&fd);
		return -EPROTO;
	}
	if (len)
		*write_err = write_all(fd, x->d->saved.data, len, NULL);
	r = set_state(x->d, MIGCTL_STATE_STOP, NULL);
	close_fd(&fd);
	if (get_state(x->d) == MIGCTL_STATE_RESUMING)
		migctl_dev_reset(x->d->dev);
	return r;
}

static void rule_empty_refused(struct rule_run *x)
{
	int write_err, r = resume_prefix(x, 0, &write_err);

	if (r == -EPROTO)
		finding(x, MIGCTL_FAIL, "STOP -> RESUMING gave no data_fd");
	else if (r == 0)
		finding(x, MIGCTL_FAIL, "RESUMING -> STOP accepted an empty stream");
	passed(x, "RESUMING -> STOP refused it with %s", eno(r));
}

static void rule_truncated_refused(struct rule_run *x)
{
	size_t len = x->d->saved.len, cuts[] = { len - 1, len / 2 };
	int write_err, r = 0;

	if (len < 2) {
		skipped(x, "the saved stream has %zu bytes: nothing to cut", len);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
		r = resume_prefix(x, cuts[i], &write_err);
		if (r == -EPROTO)
			finding(x, MIGCTL_FAIL, "STOP -> RESUMING gave no data_fd");
		else if (r == 0)
			finding(x, MIGCTL_FAIL, "RESUMING -> STOP accepted the first %zu of %zu bytes%s%s",
				cuts[i], len, write_err ? "; write() had failed with " : "",
				write_err ? eno(write_err) : "");
	}
	passed(x, "RESUMING -> STOP refused the first %zu and the first %zu of %zu bytes (%s)",
	       cuts[0], cuts[1], len, eno(r));
}

static void rule_own_accepted(struct rule_run *x)
{
	/* small pieces first, across the stream's first records, then bigger ones */
	static const size_t pieces[] = { 1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 4093 };
	const struct membuf *s = &x->d->saved;
	size_t off = 0, n, i = 0;
	int fd = -1, r;

	if (go(x->d, MIGCTL_STATE_STOP, NULL) || set_state(x->d, MIGCTL_STATE_RESUMING, &fd) ||
	    fd < 0) {
		finding(x, MIGCTL_FAIL, "STOP -> RESUMING gave no data_fd");
		goto out;
	}
	for (; off < s->len; off += n) {
		n = pieces[i < ARRAY_SIZE(pieces) - 1 ? i++ : i];
		if (n > s->len - off)
			n = s->len - off;
		if ((r = write_all(fd, s->data + off, n, NULL))) {
			finding(x, MIGCTL_FAIL, "write() refused the device's own stream at byte %zu "
				"with %s", off, eno(r));
			goto out;
		}
	}
	r = set_state(x->d, MIGCTL_STATE_STOP, NULL);
	if (r)
		finding(x, MIGCTL_FAIL, "RESUMING -> STOP refused the device's own %zu-byte stream, "
			"written in pieces of 1 to 4093 bytes, with %s", s->len, eno(r));
	passed(x, "its own %zu-byte stream, written in pieces of 1 to 4093 bytes, was accepted",
	       s->len);
out:
	close_fd(&fd);
}

/* ---- reset */

static void rule_reset_states(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got;
	char unreached[128] = "";
	size_t n = tour(x->d, states), tried = 0;
	int fd, r;

	for (size_t i = 0; i < n; i++) {
		fd = -1;
		/* a state not reached is fsm.arcs' finding: named, not reset from */
		if (go(x->d, states[i], &fd) || get_state(x->d) != states[i]) {
			str_list_add(unreached, sizeof(unreached), sn(states[i]));
			close_fd(&fd);
			continue;
		}
		r = migctl_dev_reset(x->d->dev);
		got = get_state(x->d);
		if (r)
			finding(x, MIGCTL_FAIL, "VFIO_DEVICE_RESET in %s fails with %s", sn(states[i]),
				eno(r));
		else if (got != MIGCTL_STATE_RUNNING)
			finding(x, MIGCTL_FAIL, "VFIO_DEVICE_RESET in %s left the device in %s",
				sn(states[i]), sn(got));
		if (r || got != MIGCTL_STATE_RUNNING)
			go(x->d, x->d->pb.found, &fd);
		close_fd(&fd);
		tried++;
	}
	passed(x, "from each of the %zu states the reset left RUNNING%s%s", tried,
	       unreached[0] ? "; not reached: " : "", unreached);
}

static void rule_reset_flag(struct rule_run *x)
{
	struct migctl_dev_info info;
	int r = migctl_dev_info(x->d->dev, &info);
	bool says;

	if (r) {
		finding(x, MIGCTL_FAIL, "VFIO_DEVICE_GET_INFO fails with %s", eno(r));
		return;
	}
	says = info.flags & MIGCTL_DEV_RESET;
	r = migctl_dev_reset(x->d->dev);
	if (!r && !says)
		finding(x, MIGCTL_WARN, "VFIO_DEVICE_RESET works, but VFIO_DEVICE_GET_INFO flags "
			"0x%x lack VFIO_DEVICE_FLAGS_RESET", info.flags);
	else if (r && says)
		finding(x, MIGCTL_FAIL, "VFIO_DEVICE_FLAGS_RESET is set, but VFIO_DEVICE_RESET fails "
			"with %s", eno(r));
	passed(x, says ? "VFIO_DEVICE_FLAGS_RESET set, and VFIO_DEVICE_RESET works"
		       : "neither VFIO_DEVICE_FLAGS_RESET nor a working VFIO_DEVICE_RESET");
}

/* ---- DMA logging */

#define DMA_PAGE 4096u
#define DMA_SPAN (1u << 20)

static bool dma_offered(struct rule_run *x)
{
	bool offered;
	int r = migctl_dma_logging_supported(x->d->dev, &offered);

	if (r)
		finding(x, MIGCTL_FAIL, "the DMA_LOGGING_START probe fails with %s", eno(r));
	else if (!offered)
		skipped(x, "DMA logging is not offered");
	return !r && offered;
}

static void rule_dma_cycle(struct rule_run *x)
{
	const struct migctl_dma_range range = { 0, DMA_SPAN };
	uint64_t page = DMA_PAGE, bitmap[DMA_SPAN / DMA_PAGE / 64] = { 0 };
	unsigned int dirty = 0;
	int r;

	if (!dma_offered(x))
		return;
	if ((r = migctl_dma_logging_start(x->d->dev, &range, 1, &page))) {
		finding(x, MIGCTL_FAIL, "START on [0, 1 MiB) in 4 KiB pages fails with %s", eno(r));
		return;
	}
	if (!page || (page & (page - 1)))
		finding(x, MIGCTL_FAIL, "START chose a page size of %llu: not a power of two",
			(unsigned long long)page);
	if ((r = migctl_dma_logging_report(x->d->dev, &range, DMA_PAGE, bitmap)))
		finding(x, MIGCTL_FAIL, "REPORT on [0, 1 MiB) fails with %s", eno(r));
	if ((r = migctl_dma_logging_stop(x->d->dev)))
		finding(x, MIGCTL_FAIL, "STOP fails with %s", eno(r));
	for (size_t i = 0; i < ARRAY_SIZE(bitmap); i++)
		dirty += (unsigned int)__builtin_popcountll(bitmap[i]);
	passed(x, "START, REPORT and STOP on [0, 1 MiB) worked (page size %llu; %u pages dirty)",
	       (unsigned long long)page, dirty);
}

/* A request that must be refused: @what (and the errno that refused it) onto its list */
static void dma_refused(const char *what, int r, char *refused, char *taken, size_t size)
{
	char item[96];

	snprintf(item, sizeof(item), "%s (%s)", what, r ? eno(r) : "");
	str_list_add(r ? refused : taken, size, r ? item : what);
}

static void rule_dma_refused(struct rule_run *x)
{
	const struct migctl_dma_range good = { 0, DMA_SPAN }, unaligned = { 1, DMA_PAGE },
				      overlapping[] = { { 0, 2 * DMA_PAGE }, { DMA_PAGE, 2 * DMA_PAGE } };
	const struct {
		const char *what;
		const struct migctl_dma_range *ranges;
		uint32_t count;
	} starts[] = {
		{ "START without ranges", &good, 0 },
		{ "START on an unaligned range", &unaligned, 1 },
		{ "START on overlapping ranges", overlapping, 2 },
	};
	uint64_t page, bitmap[DMA_SPAN / DMA_PAGE / 64];
	char refused[256] = "", taken[256] = "";
	int r;

	if (!dma_offered(x))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(starts); i++) {
		page = DMA_PAGE;
		r = migctl_dma_logging_start(x->d->dev, starts[i].ranges, starts[i].count, &page);
		if (!r)
			migctl_dma_logging_stop(x->d->dev);
		dma_refused(starts[i].what, r, refused, taken, sizeof(refused));
	}
	r = migctl_dma_logging_report(x->d->dev, &good, DMA_PAGE, bitmap);
	dma_refused("REPORT with logging off", r, refused, taken, sizeof(refused));
	page = DMA_PAGE;
	if ((r = migctl_dma_logging_start(x->d->dev, &good, 1, &page))) {
		finding(x, MIGCTL_FAIL, "START on [0, 1 MiB) fails with %s", eno(r));
	} else {
		page = DMA_PAGE;
		r = migctl_dma_logging_start(x->d->dev, &good, 1, &page);
		dma_refused("a second START", r, refused, taken, sizeof(refused));
		migctl_dma_logging_stop(x->d->dev);
	}
	if (taken[0])
		finding(x, MIGCTL_FAIL, "succeeded: %s", taken);
	passed(x, "refused: %s", refused);
}

/* ---- the round trip */

static int save_into(struct check_dev *d, enum migctl_state then, struct membuf *out)
{
	struct migctl_sink sink = { .write = membuf_sink_write, .ctx = out };
	struct migctl_xfer_opts opts = { .then = then };
	struct migctl_xfer_result res;

	return migctl_save(d->dev, &opts, &sink, &res);
}

static int resume_from(struct check_dev *d, enum migctl_state then, const struct membuf *in,
		       struct migctl_xfer_result *res)
{
	struct membuf_reader rd = { .b = in };
	struct migctl_source source = { .read = membuf_source_read, .ctx = &rd };
	struct migctl_xfer_opts opts = { .then = then, .end_session = true };

	return migctl_resume(d->dev, &opts, &source, res);
}

static void rule_roundtrip(struct rule_run *x)
{
	struct check_dev *d2 = &x->c->d[1];
	const struct membuf *s1 = &x->d->saved;
	struct membuf s2 = { .max = x->c->max };
	struct migctl_xfer_result res;
	size_t at = 0;
	int r;

	if (!x->c->has_dev2) {
		skipped(x, "no DEV2 given");
		return;
	}
	if (x->c->dev2_unlike[0]) {
		skipped(x, "DEV2 cannot take DEV's stream: %s", x->c->dev2_unlike);
		return;
	}
	if (d2->lost) {
		skipped(x, "DEV2 %s", d2->lost_why);
		return;
	}
	if ((r = resume_from(d2, MIGCTL_STATE_STOP, s1, &res))) {
		finding(x, MIGCTL_FAIL, "DEV2 refused DEV's %zu-byte stream with %s%s", s1->len,
			eno(r), res.fail_at == MIGCTL_FAIL_LOAD ? " at RESUMING -> STOP" : "");
		goto out;
	}
	if ((r = save_into(d2, MIGCTL_STATE_STOP, &s2))) {
		finding(x, MIGCTL_FAIL, "saving DEV2 after the resume fails with %s", eno(r));
		goto out;
	}
	while (at < s1->len && at < s2.len && s1->data[at] == s2.data[at])
		at++;
	if (at < s1->len || at < s2.len)
		finding(x, MIGCTL_WARN, "DEV2 saved %zu bytes, DEV's stream has %zu: they differ from "
			"byte %zu on", s2.len, s1->len, at);
	passed(x, "DEV's %zu-byte stream resumed into DEV2, which saved the same bytes", s1->len);
out:
	membuf_free(&s2);
	if (go(d2, d2->pb.found, NULL) || get_state(d2) != d2->pb.found) {
		d2->lost = true;
		snprintf(d2->lost_why, sizeof(d2->lost_why), "did not return to %s",
			 sn(d2->pb.found));
	}
}

/* ---- the table */

enum {
	NEED_STOP_COPY = 1 << 0,
	NEED_PRE_COPY = 1 << 1,
	NEED_SAVED = 1 << 2,  /* a stream the device accepts: its saved state */
};

struct rule_def {
	struct migctl_rule rule;
	unsigned int needs;
	void (*run)(struct rule_run *x);
};

#define VFIO_H "include/uapi/linux/vfio.h"
#define STOP_INVALID VFIO_H ", RESUMING -> STOP: \"If the user provided data is found to be " \
	"incomplete, inconsistent, or otherwise invalid, the migration driver must fail the " \
	"SET_STATE ioctl\""

static const struct rule_def rules[] = {
	{ { "flags.stop-copy",
	    "VFIO_DEVICE_FEATURE_MIGRATION sets VFIO_MIGRATION_STOP_COPY, and no flag the uAPI "
	    "does not define",
	    VFIO_H ", VFIO_DEVICE_FEATURE_MIGRATION: \"at least VFIO_MIGRATION_STOP_COPY must be "
	    "set\"; \"Other combinations of flags have behavior to be defined in the future\"" },
	  0, rule_flags },
	{ { "state.get",
	    "MIG_DEVICE_STATE GET gives a state the migration flags offer, in every state the "
	    "device is moved to",
	    VFIO_H ", VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: \"Upon VFIO_DEVICE_FEATURE_GET, get the "
	    "current migration state\"; enum vfio_device_mig_state" },
	  0, rule_state_get },
	{ { "fsm.arcs",
	    "From every offered state, a SET to every other offered state succeeds and GET then "
	    "gives that state",
	    VFIO_H ": \"The kernel migration driver must fully transition the device to the new "
	    "state value before the operation returns to the user\"; drivers/vfio/vfio_main.c, "
	    "vfio_mig_get_next_state()" },
	  NEED_STOP_COPY, rule_arcs },
	{ { "fsm.unsupported-einval",
	    "A SET to a state the flags do not offer, or past the enum, fails with EINVAL and "
	    "leaves the state as it was",
	    VFIO_H ": \"The optional states cannot be used with SET_STATE if the device does not "
	    "support them\"; drivers/vfio/vfio_main.c, vfio_mig_get_next_state() returns -EINVAL" },
	  NEED_STOP_COPY, rule_unsupported },
	{ { "fsm.error-refused",
	    "A SET to ERROR fails with EINVAL and leaves the state as it was",
	    VFIO_H ", any -> ERROR: \"ERROR cannot be specified as a device state\"" },
	  NEED_STOP_COPY, rule_error_refused },
	{ { "fsm.blocked-arcs",
	    "STOP_COPY -> PRE_COPY and STOP_COPY -> PRE_COPY_P2P fail, and the device stays in "
	    "STOP_COPY",
	    VFIO_H ", STOP_COPY -> PRE_COPY: \"These arcs are not permitted and return error if "
	    "requested\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, rule_blocked_arcs },
	{ { "data.new-fd",
	    "Entering STOP_COPY, PRE_COPY, PRE_COPY_P2P and RESUMING returns a new data_fd; the "
	    "arcs back out return none",
	    VFIO_H ": RUNNING -> PRE_COPY, RUNNING_P2P -> PRE_COPY_P2P, STOP -> STOP_COPY \"will "
	    "return a new data_fd\"; STOP -> RESUMING \"will return a new data_fd\"; \"If the "
	    "new_state starts a new data transfer session then the FD ... is returned\"" },
	  NEED_STOP_COPY, rule_new_fd },
	{ { "data.precopy-keeps-fd",
	    "PRE_COPY -> STOP_COPY returns no new data_fd: the PRE_COPY data_fd carries the rest "
	    "of the stream, which the device takes back",
	    VFIO_H ": PRE_COPY, PRE_COPY_P2P and STOP_COPY \"share a data transfer session. Moving "
	    "between these states ... does not terminate or otherwise affect the associated fd\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, rule_precopy_keeps_fd },
	{ { "data.old-fd-dead",
	    "Once the state that owns a data session is left, its data_fd gives and takes no more "
	    "data",
	    VFIO_H ": \"The STOP_COPY arc will terminate a data transfer session\"; \"Leaving "
	    "RESUMING terminates a data transfer session\"; \"The PRE_COPY arc will terminate a "
	    "data transfer session\"" },
	  NEED_STOP_COPY, rule_old_fd_dead },
	{ { "data.eof-sticks",
	    "In STOP_COPY, read() reaches the end of the stream (0) and keeps returning 0",
	    VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"Once in STOP_COPY the migration data FD has a "
	    "permanent end of stream signaled in the usual way by read() always returning 0\"; "
	    "\"ENOMSG may not be returned in STOP_COPY\"" },
	  NEED_STOP_COPY, rule_eof_sticks },
	{ { "data.no-seek",
	    "A data_fd is a stream: lseek(), pread() and pwrite() are refused",
	    "commit 115dcec65f61 (vfio: Define device migration protocol v2): \"read() and write() "
	    "transfer the data with normal Linux stream FD semantics\"" },
	  NEED_STOP_COPY, rule_no_seek },
	{ { "precopy.info-states",
	    "VFIO_MIG_GET_PRECOPY_INFO works in PRE_COPY and PRE_COPY_P2P, and fails with EINVAL "
	    "in STOP_COPY",
	    VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"valid only in PRE_COPY states and kernel driver "
	    "should return -EINVAL from any other migration state\"; \"Support for this ioctl is "
	    "mandatory if a driver claims to support VFIO_MIGRATION_PRE_COPY\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, rule_precopy_info },
	{ { "precopy.initial-decreases",
	    "initial_bytes starts above 0 and decreases as PRE_COPY data is read, never rising",
	    VFIO_H ", struct vfio_precopy_info: initial_bytes \"should have a non-zero initial "
	    "value and decrease as migration data is read from the device\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, rule_initial_decreases },
	{ { "precopy.enomsg",
	    "At PRE_COPY's temporary end of stream (initial_bytes and dirty_bytes 0) read() fails "
	    "with ENOMSG",
	    VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"When read() is done on this temporary end of "
	    "stream the kernel driver should return ENOMSG from read()\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, rule_enomsg },
	{ { "data-size.estimate",
	    "MIG_DATA_SIZE, where offered, estimates the STOP_COPY length within a factor of 2 "
	    "(the ratio is reported)",
	    VFIO_H ", VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: \"read back the estimated data length "
	    "that will be required to complete stop copy\"; \"Can be called on each device "
	    "state\"" },
	  NEED_STOP_COPY, rule_data_size },
	{ { "resume.empty-refused",
	    "RESUMING -> STOP with nothing written fails",
	    STOP_INVALID },
	  NEED_STOP_COPY, rule_empty_refused },
	{ { "resume.truncated-refused",
	    "RESUMING -> STOP fails after all but the last byte of the device's stream, and after "
	    "half of it",
	    STOP_INVALID },
	  NEED_STOP_COPY | NEED_SAVED, rule_truncated_refused },
	{ { "resume.own-accepted",
	    "The device's own stream, written in pieces of any size, is accepted at RESUMING -> "
	    "STOP",
	    VFIO_H ", STOP -> RESUMING: the stream \"should be taken from the data transfer output "
	    "of a single FD during saving from a compatible device\"; \"The user is not required "
	    "to preserve buffer segmentation when writing the data stream\"" },
	  NEED_STOP_COPY | NEED_SAVED, rule_own_accepted },
	{ { "reset.every-state",
	    "VFIO_DEVICE_RESET succeeds in every offered state, RESUMING included, and leaves "
	    "the device in RUNNING",
	    VFIO_H ": \"To abort a RESUMING session the device must be reset\"; \"To recover from "
	    "ERROR VFIO_DEVICE_RESET must be used to return the device_state back to RUNNING\"" },
	  NEED_STOP_COPY, rule_reset_states },
	{ { "reset.flag",
	    "A device whose VFIO_DEVICE_RESET works says so with VFIO_DEVICE_FLAGS_RESET",
	    VFIO_H ", struct vfio_device_info: \"VFIO_DEVICE_FLAGS_RESET ... Device supports "
	    "reset\"" },
	  0, rule_reset_flag },
	{ { "dma.start-report-stop",
	    "Where DMA logging is offered, START on a valid range, REPORT on it and STOP succeed",
	    VFIO_H ", VFIO_DEVICE_FEATURE_DMA_LOGGING_START: \"A single call to start device DMA "
	    "logging can be issued and a matching stop should follow\"; DMA_LOGGING_REPORT" },
	  0, rule_dma_cycle },
	{ { "dma.refused",
	    "DMA logging START without ranges, on an unaligned or overlapping range, or while "
	    "logging is on, and REPORT while it is off, fail",
	    VFIO_H ": \"Another start is not allowed in the meantime\"; \"If DMA logging is not "
	    "enabled, an error will be returned\"; drivers/vfio/vfio_main.c, "
	    "vfio_ioctl_device_feature_logging_start(); include/linux/vfio.h, struct "
	    "vfio_log_ops: \"rejecting subsequent calls to log_start without an intervening "
	    "log_stop\"" },
	  0, rule_dma_refused },
	{ { "roundtrip.equal",
	    "DEV's stream resumed into DEV2 is accepted, and DEV2 then saves the same bytes (a "
	    "difference is reported)",
	    VFIO_H ", STOP -> RESUMING: the stream \"should be taken from the data transfer output "
	    "of a single FD during saving from a compatible device\"" },
	  NEED_STOP_COPY | NEED_SAVED, rule_roundtrip },
};

size_t migctl_rule_count(void)
{
	return ARRAY_SIZE(rules);
}

const struct migctl_rule *migctl_rule(size_t index)
{
	return index < ARRAY_SIZE(rules) ? &rules[index].rule : NULL;
}

int migctl_rule_find(const char *id, size_t *index)
{
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		if (strcmp(rules[i].rule.id, id) == 0) {
			*index = i;
			return 0;
		}
	}
	return -ENOENT;
}

const char *migctl_verdict_name(enum migctl_verdict verdict)
{
	static const char *const names[] = {
		[MIGCTL_PASS] = "pass",
		[MIGCTL_WARN] = "warn",
		[MIGCTL_FAIL] = "fail",
		[MIGCTL_SKIP] = "skip",
	};

	return (unsigned int)verdict < ARRAY_SIZE(names) ? names[verdict] : "unknown";
}

/* ---- the check: save, run, put back */

int migctl_check_new(struct migctl_dev *dev, struct migctl_dev *dev2,
		     const struct migctl_check_opts *opts, struct migctl_check **out)
{
	struct migctl_check *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->buf = malloc(CHUNK);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
	c->opts = *opts;
	c->max = opts->state_max ? opts->state_max : MIGCTL_CHECK_STATE_MAX;
	c->d[0].dev = dev;
	c->d[1].dev = dev2;
	c->has_dev2 = dev2;
	for (int i = 0; i < 2; i++) {
		c->d[i].saved.max = c->max;
		c->d[i].pb.found = c->d[i].pb.final = MIGCTL_NR_STATES;
	}
	*out = c;
	return 0;
}

void migctl_check_free(struct migctl_check *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++)
		membuf_free(&c->d[i].saved);
	free(c->buf);
	free(c);
}

/* DEV2 must be able to take DEV's stream: the identity a resume checks */
static void compare_devices(struct migctl_check *c)
{
	struct migctl_stream_header h;
	int r = migctl_stream_header_from_desc(&h, migctl_dev_desc(c->d[0].dev), 0, 0);

	if (r)
		snprintf(c->dev2_unlike, sizeof(c->dev2_unlike), "DEV's identity does not fit "
			 "a stream header (%s)", eno(r));
	else
		migctl_stream_identity_check(&h, migctl_dev_desc(c->d[1].dev), c->dev2_unlike,
					     sizeof(c->dev2_unlike));
}

static int save_device(struct migctl_check *c, struct check_dev *d)
{
	struct migctl_putback *pb = &d->pb;
	enum migctl_state state;
	int r;

	d->used = true;
	r = migctl_get_state(d->dev, &state);
	if (r)
		return r;
	pb->found = pb->final = state;
	if (state == MIGCTL_STATE_ERROR)
		return -EBADFD;
	if (migctl_state_is_data(state))
		return -EBUSY;
	r = migctl_mig_flags(d->dev, &pb->mig_flags);
	if (r)
		return r;
	if (migctl_data_size(d->dev, &pb->estimate))
		pb->estimate = 0;

	if (!(pb->mig_flags & MIGCTL_FLAG_STOP_COPY))
		pb->save_err = -EOPNOTSUPP;
	else if (pb->estimate > c->max)
		pb->save_err = -EFBIG;
	else if ((pb->save_err = save_into(d, state, &d->saved)))
		membuf_free(&d->saved);
	pb->saved_bytes = d->saved.len;
	return c->opts.force ? 0 : pb->save_err;
}

int migctl_check_save(struct migctl_check *c, int *which)
{
	int r;

	*which = 0;
	r = save_device(c, &c->d[0]);
	if (r || !c->has_dev2)
		return r;
	compare_devices(c);
	if (c->dev2_unlike[0])
		return 0;
	*which = 1;
	return save_device(c, &c->d[1]);
}

/* Back to the state found, between rules; a device that cannot be is left alone */
static void settle(struct check_dev *d)
{
	int r = go(d, d->pb.found, NULL);
	enum migctl_state now = get_state(d);

	if (r || now != d->pb.found) {
		d->lost = true;
		snprintf(d->lost_why, sizeof(d->lost_why), "could not be brought back to %s (%s; "
			 "GET says %s)", sn(d->pb.found), r ? eno(r) : "no error", sn(now));
	}
}

int migctl_check_run(struct migctl_check *c, size_t index, struct migctl_rule_result *result)
{
	const struct rule_def *def;
	struct rule_run x = { .c = c, .d = &c->d[0], .r = result };
	uint64_t flags = x.d->pb.mig_flags;
	size_t used;

	if (index >= ARRAY_SIZE(rules))
		return -EINVAL;
	def = &rules[index];
	*result = (struct migctl_rule_result){ .verdict = MIGCTL_PASS };
	if (x.d->lost)
		skipped(&x, "the device %s after an earlier rule", x.d->lost_why);
	else if ((def->needs & NEED_STOP_COPY) && !(flags & MIGCTL_FLAG_STOP_COPY))
		skipped(&x, "the device does not offer STOP_COPY");
	else if ((def->needs & NEED_PRE_COPY) && !(flags & MIGCTL_FLAG_PRE_COPY))
		skipped(&x, "the device does not offer PRE_COPY");
	else if ((def->needs & NEED_SAVED) && !x.d->saved.len)
		skipped(&x, "no saved stream of the device (%s)",
			x.d->pb.save_err ? eno(x.d->pb.save_err) : "it was empty");
	if (result->verdict == MIGCTL_SKIP)
		return 0;

	def->run(&x);
	used = strlen(result->detail);
	if (x.more)
		snprintf(result->detail + used, sizeof(result->detail) - used, " (and %u more)",
			 x.more);
	settle(x.d);
	return 0;
}

static int restore_device(struct check_dev *d)
{
	struct migctl_putback *pb = &d->pb;
	struct migctl_xfer_result res;
	enum migctl_state now = get_state(d);
	int r = 0;

	pb->attempted = true;
	/* Nothing but a reset is asked of a device in ERROR (or that GET cannot tell) */
	if (now == MIGCTL_STATE_ERROR || now == MIGCTL_NR_STATES) {
		pb->reset = true;
		r = migctl_dev_reset(d->dev);
	}
	if (!r && d->saved.len) {
		r = resume_from(d, pb->found, &d->saved, &res);
		pb->fail_at = res.fail_at;
		if (res.recovery == MIGCTL_RECOVERY_RESET ||
		    res.ended_session == MIGCTL_STATE_RESUMING)
			pb->reset = true;
	} else if (!r) {
		now = get_state(d);
		if (now == MIGCTL_STATE_RESUMING)
			pb->reset = true;
		r = migctl_leave_data_state(d->dev, &now);
		if (!r && now != pb->found)
			r = migctl_request_state(d->dev, pb->found);
	}
	pb->final = get_state(d);
	if (!r && pb->final != pb->found)
		r = -EPROTO;
	pb->restore_err = r;
	return r;
}

int migctl_check_restore(struct migctl_check *c)
{
	int first = 0, r;

	for (int i = 0; i < 2; i++) {
		if (!c->d[i].used || c->d[i].pb.found == MIGCTL_NR_STATES)
			continue;
		r = restore_device(&c->d[i]);
		if (r && !first)
			first = r;
	}
	return first;
}

const struct migctl_putback *migctl_check_putback(const struct migctl_check *c, int which)
{
	if (which < 0 || which > 1 || !c->d[which].used)
		return NULL;
	return &c->d[which].pb;
}
