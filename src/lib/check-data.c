// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check's rules on data sessions: the data_fd each one opens, carries and
 * ends (data.*), and MIG_DATA_SIZE's estimate of the STOP_COPY stream
 * (data-size.*).
 *
 * Each rule is a struct check_rule beside its body, written from the uAPI's
 * own words; check.c runs them in the order of its table.
 */
#include <errno.h>
#include <unistd.h>

#include "check.h"

/* The arcs that open a data session, each from the state it is taken in */
static const struct {
	enum migctl_state from, to;
} session_arcs[] = {
	{ MIGCTL_STATE_STOP, MIGCTL_STATE_STOP_COPY },
	{ MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY },
	{ MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_PRE_COPY_P2P },
	{ MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING },
};

/* Leave a session's state by its own arc, loading the saved stream from RESUMING */
static int leave_session(struct check_dev *d, enum migctl_state from, enum migctl_state to, int *fd,
			 int *leave_fd)
{
	int r;

	*leave_fd = -1;
	if (to == MIGCTL_STATE_RESUMING && (r = check_write_saved(d, *fd)))
		return r;
	return check_set_state(d, from, leave_fd);
}

static void check_data_new_fd(struct rule_run *x)
{
	size_t arcs = 0;
	int fd, leave_fd, r;

	for (size_t i = 0; i < ARRAY_SIZE(session_arcs); i++) {
		enum migctl_state from = session_arcs[i].from, to = session_arcs[i].to;

		if (!check_offers(x->d, from) || !check_offers(x->d, to))
			continue;
		fd = -1;
		r = check_go(x->d, from, NULL);
		if (!r)
			r = check_set_state(x->d, to, &fd);
		if (r) {
			check_finding(x, MIGCTL_FAIL, "%s -> %s fails with %s",
				      migctl_state_name(from), migctl_state_name(to), check_eno(r));
			continue;
		}
		if (fd < 0)
			check_finding(x, MIGCTL_FAIL, "%s -> %s returned no data_fd",
				      migctl_state_name(from), migctl_state_name(to));
		else
			arcs++;
		/* and the arc back opens nothing (RESUMING: after loading the saved stream) */
		if (to != MIGCTL_STATE_RESUMING || x->d->saved.len) {
			r = leave_session(x->d, from, to, &fd, &leave_fd);
			if (!r && leave_fd >= 0) {
				check_finding(x, MIGCTL_FAIL,
					      "%s -> %s returned a data_fd, opening no session",
					      migctl_state_name(to), migctl_state_name(from));
				close(leave_fd);
			}
		}
		check_close_fd(&fd);
	}
	check_passed(x, "%zu arcs opened a session with a new data_fd; the arcs back returned none",
		     arcs);
}

const struct check_rule rule_data_new_fd = {
	.rule = {
		.id = "data.new-fd",
		.statement = "Entering STOP_COPY, PRE_COPY, PRE_COPY_P2P and RESUMING returns a "
			     "new data_fd; the arcs back out return none",
		.source = VFIO_H ": RUNNING -> PRE_COPY, RUNNING_P2P -> PRE_COPY_P2P, STOP -> "
			  "STOP_COPY \"will return a new data_fd\"; STOP -> RESUMING \"will return "
			  "a new data_fd\"; \"If the new_state starts a new data transfer session "
			  "then the FD ... is returned\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_data_new_fd,
};

static void check_data_precopy_keeps_fd(struct rule_run *x)
{
	struct membuf stream = { .max = x->c->max };
	size_t pre, rest;
	int fd = -1, new_fd, r;

	if (!check_enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	/* PRE_COPY's data up to its temporary end (ENOMSG, or 0 from some drivers) */
	r = check_read_to_end(x->c, fd, &stream, &pre);
	if (r && r != -ENOMSG) {
		check_finding(x, MIGCTL_FAIL, "read() in PRE_COPY fails with %s", check_eno(r));
		goto out;
	}
	new_fd = -1;
	r = check_set_state(x->d, MIGCTL_STATE_STOP_COPY, &new_fd);
	if (r) {
		check_finding(x, MIGCTL_FAIL, "PRE_COPY -> STOP_COPY fails with %s", check_eno(r));
		goto out;
	}
	if (new_fd >= 0) {
		check_finding(x, MIGCTL_FAIL, "PRE_COPY -> STOP_COPY returned a new data_fd");
		close(new_fd);
	}
	r = check_read_to_end(x->c, fd, &stream, &rest);
	if (r) {
		check_finding(x, MIGCTL_FAIL,
			      "read() of the PRE_COPY data_fd in STOP_COPY fails with %s",
			      check_eno(r));
		goto out;
	}
	/* the one stream, whole: the device takes it back */
	if (!check_open_session(x->d, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING, &fd))
		r = -EPROTO;
	else if (!(r = write_all(fd, stream.data, stream.len, NULL)))
		r = check_set_state(x->d, MIGCTL_STATE_STOP, NULL);
	if (r)
		check_finding(x, MIGCTL_FAIL,
			      "the %zu bytes read through the PRE_COPY data_fd were refused by "
			      "RESUMING -> STOP (%s)",
			      stream.len, check_eno(r));
	check_passed(x,
		     "one data_fd carried %zu bytes in PRE_COPY and %zu in STOP_COPY; the device "
		     "took them back",
		     pre, rest);
out:
	check_close_fd(&fd);
	check_membuf_free(&stream);
}

const struct check_rule rule_data_precopy_keeps_fd = {
	.rule = {
		.id = "data.precopy-keeps-fd",
		.statement = "PRE_COPY -> STOP_COPY returns no new data_fd: the PRE_COPY data_fd "
			     "carries the rest of the stream, which the device takes back",
		.source = VFIO_H ": PRE_COPY, PRE_COPY_P2P and STOP_COPY \"share a data transfer "
			  "session. Moving between these states ... does not terminate or "
			  "otherwise affect the associated fd\"",
	},
	.needs = NEED_STOP_COPY | NEED_PRE_COPY,
	.run = check_data_precopy_keeps_fd,
};

static void check_data_old_fd_dead(struct rule_run *x)
{
	size_t tried = 0, got;
	int fd, leave_fd, r, answer = 0;

	for (size_t i = 0; i < ARRAY_SIZE(session_arcs); i++) {
		enum migctl_state from = session_arcs[i].from, to = session_arcs[i].to;
		bool resuming = to == MIGCTL_STATE_RESUMING;

		if (!check_offers(x->d, from) || !check_offers(x->d, to) ||
		    (resuming && !x->d->saved.len))
			continue;
		fd = -1;
		/* a session without an fd is data.new-fd's finding */
		if (!check_open_session(x->d, from, to, &fd) ||
		    leave_session(x->d, from, to, &fd, &leave_fd)) {
			check_close_fd(&fd);
			continue;
		}
		if (leave_fd >= 0)
			close(leave_fd);
		if (resuming)
			r = migctl_data_write(fd, x->d->saved.data, 1, &got);
		else
			r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (!r && got)
			check_finding(x, MIGCTL_FAIL,
				      "%s() on the %s data_fd still %s data after %s -> %s",
				      resuming ? "write" : "read", migctl_state_name(to),
				      resuming ? "takes" : "gives", migctl_state_name(to),
				      migctl_state_name(from));
		answer = r;
		tried++;
		check_close_fd(&fd);
	}
	check_passed(x, "%zu data_fds stopped working when their state was left (%s)", tried,
		     answer ? check_eno(answer) : "0 bytes");
}

const struct check_rule rule_data_old_fd_dead = {
	.rule = {
		.id = "data.old-fd-dead",
		.statement = "Once the state that owns a data session is left, its data_fd gives "
			     "and takes no more data",
		.source = VFIO_H ": \"The STOP_COPY arc will terminate a data transfer session\"; "
			  "\"Leaving RESUMING terminates a data transfer session\"; \"The PRE_COPY "
			  "arc will terminate a data transfer session\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_data_old_fd_dead,
};

static void check_data_eof_sticks(struct rule_run *x)
{
	size_t total, got;
	int fd = -1, r;

	if (!check_enter_session(x, MIGCTL_STATE_STOP, MIGCTL_STATE_STOP_COPY, &fd))
		goto out;
	r = check_read_to_end(x->c, fd, NULL, &total);
	if (r == -EFBIG)
		check_finding(x, MIGCTL_FAIL, "no end of stream within %zu bytes", x->c->max);
	else if (r)
		check_finding(x, MIGCTL_FAIL, "read() in STOP_COPY fails with %s after %zu bytes",
			      check_eno(r), total);
	if (r)
		goto out;
	for (int i = 0; i < 3; i++) {
		r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (r)
			check_finding(x, MIGCTL_FAIL,
				      "read() after the end fails with %s (must stay 0)",
				      check_eno(r));
		else if (got)
			check_finding(x, MIGCTL_FAIL, "read() after the end gave %zu more bytes",
				      got);
	}
	check_passed(x, "end of stream after %zu bytes; read() gave 0 three more times", total);
out:
	check_close_fd(&fd);
}

const struct check_rule rule_data_eof_sticks = {
	.rule = {
		.id = "data.eof-sticks",
		.statement = "In STOP_COPY, read() reaches the end of the stream (0) and keeps "
			     "returning 0",
		.source = VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"Once in STOP_COPY the migration "
			  "data FD has a permanent end of stream signaled in the usual way by "
			  "read() always returning 0\"; \"ENOMSG may not be returned in "
			  "STOP_COPY\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_data_eof_sticks,
};

static void check_data_no_seek(struct rule_run *x)
{
	static const enum migctl_state states[] = { MIGCTL_STATE_STOP_COPY, MIGCTL_STATE_RESUMING };
	size_t n;
	int fd, r, answer = 0;

	for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
		bool resuming = states[i] == MIGCTL_STATE_RESUMING;

		fd = -1;
		if (!check_open_session(x->d, MIGCTL_STATE_STOP, states[i], &fd)) {
			check_close_fd(&fd);
			continue;
		}
		if (!(r = migctl_data_seek(fd)))
			check_finding(x, MIGCTL_WARN, "lseek() works on the %s data_fd",
				      migctl_state_name(states[i]));
		if (resuming)
			r = migctl_data_pwrite(fd, "", 1, &n);
		else
			r = migctl_data_pread(fd, x->c->buf, 1, &n);
		if (!r)
			check_finding(x, MIGCTL_WARN, "%s() works on the %s data_fd",
				      resuming ? "pwrite" : "pread", migctl_state_name(states[i]));
		answer = r;
		/* RESUMING with a stray byte in it: abort, the uAPI's way; else load and leave */
		if (resuming && !r)
			migctl_dev_reset(x->d->dev);
		else
			check_go(x->d, x->d->pb.found, &fd);
		check_close_fd(&fd);
	}
	check_passed(x, "lseek(), pread() and pwrite() refused (%s)", check_eno(answer));
}

const struct check_rule rule_data_no_seek = {
	.rule = {
		.id = "data.no-seek",
		.statement = "A data_fd is a stream: lseek(), pread() and pwrite() are refused",
		.source = "commit 115dcec65f61 (vfio: Define device migration protocol v2): "
			  "\"read() and write() transfer the data with normal Linux stream FD "
			  "semantics\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_data_no_seek,
};

/* ---- MIG_DATA_SIZE */

static void check_data_size_estimate(struct rule_run *x)
{
	uint64_t estimate;
	size_t total;
	double ratio;
	int fd = -1, r;

	check_go(x->d, MIGCTL_STATE_STOP, NULL);
	r = migctl_data_size(x->d->dev, &estimate);
	if (r == -ENOTTY || r == -EOPNOTSUPP) {
		check_skipped(x, "MIG_DATA_SIZE is not offered (%s)", check_eno(r));
		return;
	}
	if (r) {
		check_finding(x, MIGCTL_FAIL, "MIG_DATA_SIZE fails in STOP with %s", check_eno(r));
		return;
	}
	if (check_set_state(x->d, MIGCTL_STATE_STOP_COPY, &fd) || fd < 0 ||
	    (r = check_read_to_end(x->c, fd, NULL, &total))) {
		check_finding(x, MIGCTL_FAIL, "the STOP_COPY stream could not be read to its end");
		goto out;
	}
	ratio = total ? (double)estimate / (double)total : estimate ? 1e9 : 1;
	if (ratio < 0.5 || ratio > 2)
		check_finding(x, MIGCTL_WARN, "estimate %llu bytes, STOP_COPY gave %zu: ratio %.2f",
			      (unsigned long long)estimate, total, ratio);
	check_passed(x, "estimate %llu bytes, STOP_COPY gave %zu: ratio %.2f",
		     (unsigned long long)estimate, total, ratio);
out:
	check_close_fd(&fd);
}

const struct check_rule rule_data_size_estimate = {
	.rule = {
		.id = "data-size.estimate",
		.statement = "MIG_DATA_SIZE, where offered, estimates the STOP_COPY length within "
			     "a factor of 2 (the ratio is reported)",
		.source = VFIO_H ", VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: \"read back the estimated "
			  "data length that will be required to complete stop copy\"; \"Can be "
			  "called on each device state\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_data_size_estimate,
};
