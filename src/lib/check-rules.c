// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check's rules, by family: each a function that takes the device through
 * what the uAPI says and tells a finding (check.h), written from the
 * uAPI's own words.  The engine that runs them, and puts the device back
 * between them, is check.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- the rules: migration flags and GET */

static void check_flags_stop_copy(struct rule_run *x)
{
	uint64_t f = x->d->pb.mig_flags;
	uint64_t undefined = f & ~(uint64_t)(MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_P2P |
					     MIGCTL_FLAG_PRE_COPY);
	char names[64];

	migctl_flags_format(f, names, sizeof(names));
	if (!(f & MIGCTL_FLAG_STOP_COPY))
		check_finding(x, MIGCTL_FAIL, "flags %s (0x%llx): no STOP_COPY", f ? names : "none",
			(unsigned long long)f);
	if (undefined)
		check_finding(x, MIGCTL_WARN, "flags 0x%llx are not defined by the uAPI",
			(unsigned long long)undefined);
	check_passed(x, "%s (0x%llx)", names, (unsigned long long)f);
}

const struct check_rule rule_flags_stop_copy = {
	.rule = {
		.id = "flags.stop-copy",
		.statement = "VFIO_DEVICE_FEATURE_MIGRATION sets VFIO_MIGRATION_STOP_COPY, and no "
			     "flag the uAPI does not define",
		.source = VFIO_H ", VFIO_DEVICE_FEATURE_MIGRATION: \"at least "
			  "VFIO_MIGRATION_STOP_COPY must be set\"; \"Other combinations of flags "
			  "have behavior to be defined in the future\"",
	},
	.run = check_flags_stop_copy,
};

static void check_state_get(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got;
	size_t n = check_tour(x->d, states), seen = 0;
	char unreached[128] = "";
	int fd = -1, r;

	for (size_t i = 0; i <= n; i++) {
		/* the state found first, then every offered one (not reached: fsm.arcs') */
		if (i > 0 && check_go(x->d, states[i - 1], &fd)) {
			str_list_add(unreached, sizeof(unreached), migctl_state_name(states[i - 1]));
			continue;
		}
		r = migctl_get_state(x->d->dev, &got);
		if (r == -EPROTO)
			check_finding(x, MIGCTL_FAIL, "%s%s: GET gave a value outside enum vfio_device_mig_state",
				i ? "after SET " : "as found", i ? migctl_state_name(states[i - 1]) : "");
		else if (r)
			check_finding(x, MIGCTL_FAIL, "GET fails with %s", check_eno(r));
		else if (!check_offers(x->d, got) && !(got == MIGCTL_STATE_RUNNING && !n))
			check_finding(x, MIGCTL_FAIL, "GET gave %s, which the flags do not offer", migctl_state_name(got));
		else
			seen++;
	}
	check_close_fd(&fd);
	check_passed(x, "GET gave an offered state in each of the %zu states visited%s%s", seen,
	       unreached[0] ? "; not reached: " : "", unreached);
}

const struct check_rule rule_state_get = {
	.rule = {
		.id = "state.get",
		.statement = "MIG_DEVICE_STATE GET gives a state the migration flags offer, in "
			     "every state the device is moved to",
		.source = VFIO_H ", VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: \"Upon "
			  "VFIO_DEVICE_FEATURE_GET, get the current migration state\"; enum "
			  "vfio_device_mig_state",
	},
	.run = check_state_get,
};

/* ---- the state machine */

static void check_fsm_arcs(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got, path[MIGCTL_ARCS_MAX];
	size_t n = check_tour(x->d, states), arcs = 0, len;
	bool no_resuming = false;
	int fd = -1, r;

	for (size_t i = 0; i < n; i++) {
		enum migctl_state a = states[i];

		for (size_t j = 0; j < n; j++) {
			enum migctl_state b = states[j];

			/*
			 * No path between offered states: STOP_COPY -> PRE_COPY*,
			 * refused by the uAPI (fsm.blocked-arcs)
			 */
			if (a == b || migctl_state_path(x->d->pb.mig_flags, a, b, path, &len))
				continue;
			/* RESUMING is left through STOP, which needs a stream to load */
			if (a == MIGCTL_STATE_RESUMING && !x->d->saved.len) {
				no_resuming = true;
				continue;
			}
			r = check_go(x->d, a, &fd);
			got = check_get_state(x->d);
			if (r || got != a) {
				check_finding(x, MIGCTL_FAIL, "%s not reached to try %s -> %s: %s%s; GET says %s",
					migctl_state_name(a), migctl_state_name(a), migctl_state_name(b), r ? "SET fails with " : "SET succeeded",
					r ? check_eno(r) : "", migctl_state_name(got));
				continue;
			}
			if (a == MIGCTL_STATE_RESUMING && (r = check_write_saved(x->d, fd))) {
				check_finding(x, MIGCTL_FAIL, "writing the saved stream in RESUMING fails with %s",
					check_eno(r));
				continue;
			}
			r = check_set_state(x->d, b, &fd);
			got = check_get_state(x->d);
			if (r)
				check_finding(x, MIGCTL_FAIL, "%s -> %s fails with %s; GET says %s", migctl_state_name(a), migctl_state_name(b),
					check_eno(r), migctl_state_name(got));
			else if (got != b)
				check_finding(x, MIGCTL_FAIL, "%s -> %s succeeded, but GET says %s", migctl_state_name(a), migctl_state_name(b),
					migctl_state_name(got));
			else
				arcs++;
			if (!migctl_state_is_data(got))
				check_close_fd(&fd);
		}
	}
	check_close_fd(&fd);
	check_passed(x, "%zu arcs between %zu states%s", arcs, n,
	       no_resuming ? "; none from RESUMING (no saved stream to load)" : "");
}

const struct check_rule rule_fsm_arcs = {
	.rule = {
		.id = "fsm.arcs",
		.statement = "From every offered state, a SET to every other offered state "
			     "succeeds and GET then gives that state",
		.source = VFIO_H ": \"The kernel migration driver must fully transition the device "
			  "to the new state value before the operation returns to the user\"; "
			  "drivers/vfio/vfio_main.c, vfio_mig_get_next_state()",
	},
	.needs = NEED_STOP_COPY,
	.run = check_fsm_arcs,
};

/*
 * SET @t (called @name), which must fail with EINVAL and leave the device
 * in the state found: false if it moved
 */
static bool set_refused(struct rule_run *x, enum migctl_state t, const char *name)
{
	enum migctl_state found = x->d->pb.found, got;
	int r = check_set_state(x->d, t, NULL);

	got = check_get_state(x->d);
	if (r == 0)
		check_finding(x, MIGCTL_FAIL, "SET %s succeeded; GET says %s", name, migctl_state_name(got));
	else if (r != -EINVAL)
		check_finding(x, MIGCTL_WARN, "SET %s fails with %s, not EINVAL", name, check_eno(r));
	if (got == found)
		return true;
	check_finding(x, MIGCTL_FAIL, "after SET %s the device is in %s, not %s", name,
		migctl_state_name(got), migctl_state_name(found));
	return false;
}

static void check_fsm_unsupported_einval(struct rule_run *x)
{
	enum migctl_state found = x->d->pb.found;
	char names[128] = "";

	/* every state not offered, and the first value past the enum */
	for (unsigned int s = MIGCTL_STATE_STOP; s <= MIGCTL_NR_STATES; s++) {
		enum migctl_state t = (enum migctl_state)s;
		const char *name = s == MIGCTL_NR_STATES ? "8 (past the enum)" : migctl_state_name(t);

		if (s < MIGCTL_NR_STATES && check_offers(x->d, t))
			continue;
		if (!set_refused(x, t, name))
			check_go(x->d, found, NULL);
		str_list_add(names, sizeof(names), name);
	}
	check_passed(x, "refused with EINVAL in %s, which stayed: %s", migctl_state_name(found), names);
}

const struct check_rule rule_fsm_unsupported_einval = {
	.rule = {
		.id = "fsm.unsupported-einval",
		.statement = "A SET to a state the flags do not offer, or past the enum, fails "
			     "with EINVAL and leaves the state as it was",
		.source = VFIO_H ": \"The optional states cannot be used with SET_STATE if the "
			  "device does not support them\"; drivers/vfio/vfio_main.c, "
			  "vfio_mig_get_next_state() returns -EINVAL",
	},
	.needs = NEED_STOP_COPY,
	.run = check_fsm_unsupported_einval,
};

/* a device the SET moved is brought back by the put back between rules (settle) */
static void check_fsm_error_refused(struct rule_run *x)
{
	set_refused(x, MIGCTL_STATE_ERROR, migctl_state_name(MIGCTL_STATE_ERROR));
	check_passed(x, "refused with EINVAL in %s, which stayed", migctl_state_name(x->d->pb.found));
}

const struct check_rule rule_fsm_error_refused = {
	.rule = {
		.id = "fsm.error-refused",
		.statement = "A SET to ERROR fails with EINVAL and leaves the state as it was",
		.source = VFIO_H ", any -> ERROR: \"ERROR cannot be specified as a device state\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_fsm_error_refused,
};

static void check_fsm_blocked_arcs(struct rule_run *x)
{
	static const enum migctl_state targets[] = { MIGCTL_STATE_PRE_COPY,
						     MIGCTL_STATE_PRE_COPY_P2P };
	enum migctl_state got;
	int fd = -1, r, err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		if (!check_offers(x->d, targets[i]))
			continue;
		r = check_go(x->d, MIGCTL_STATE_STOP_COPY, &fd);
		if (r || check_get_state(x->d) != MIGCTL_STATE_STOP_COPY) {
			check_finding(x, MIGCTL_FAIL, "STOP_COPY not reached (%s)", r ? check_eno(r) : "GET disagrees");
			break;
		}
		r = check_set_state(x->d, targets[i], &fd);
		got = check_get_state(x->d);
		if (r == 0)
			check_finding(x, MIGCTL_FAIL, "STOP_COPY -> %s succeeded; GET says %s", migctl_state_name(targets[i]),
				migctl_state_name(got));
		else if (got != MIGCTL_STATE_STOP_COPY)
			check_finding(x, MIGCTL_FAIL, "after the refused STOP_COPY -> %s the device is in %s",
				migctl_state_name(targets[i]), migctl_state_name(got));
		err = r;
	}
	check_close_fd(&fd);
	check_passed(x, "refused with %s; the device stayed in STOP_COPY", check_eno(err));
}

const struct check_rule rule_fsm_blocked_arcs = {
	.rule = {
		.id = "fsm.blocked-arcs",
		.statement = "STOP_COPY -> PRE_COPY and STOP_COPY -> PRE_COPY_P2P fail, and the "
			     "device stays in STOP_COPY",
		.source = VFIO_H ", STOP_COPY -> PRE_COPY: \"These arcs are not permitted and "
			  "return error if requested\"",
	},
	.needs = NEED_STOP_COPY | NEED_PRE_COPY,
	.run = check_fsm_blocked_arcs,
};

/* ---- data sessions */

/* Leave a session's state by its own arc, loading the saved stream from RESUMING */
static int leave_session(struct check_dev *d, enum migctl_state from, enum migctl_state to,
			 int *fd, int *leave_fd)
{
	int r;

	if (to == MIGCTL_STATE_RESUMING && (r = check_write_saved(d, *fd)))
		return r;
	return migctl_set_state(d->dev, from, leave_fd);
}

/*
 * @from, then @to with the data_fd it returns in *fd (-1, or a session
 * that @from ends): false if either SET fails or @to returns no data_fd
 */
static bool open_session(struct check_dev *d, enum migctl_state from, enum migctl_state to, int *fd)
{
	return !check_go(d, from, fd) && !check_set_state(d, to, fd) && *fd >= 0;
}

static void no_data_fd(struct rule_run *x, enum migctl_state from, enum migctl_state to)
{
	check_finding(x, MIGCTL_FAIL, "%s -> %s gave no data_fd", migctl_state_name(from),
		migctl_state_name(to));
}

/* open_session(), a FAIL if it does not open */
static bool enter_session(struct rule_run *x, enum migctl_state from, enum migctl_state to, int *fd)
{
	if (open_session(x->d, from, to, fd))
		return true;
	no_data_fd(x, from, to);
	return false;
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
			check_finding(x, MIGCTL_FAIL, "%s -> %s fails with %s", migctl_state_name(from), migctl_state_name(to), check_eno(r));
			continue;
		}
		if (fd < 0)
			check_finding(x, MIGCTL_FAIL, "%s -> %s returned no data_fd", migctl_state_name(from), migctl_state_name(to));
		else
			arcs++;
		/* and the arc back opens nothing (RESUMING: after loading the saved stream) */
		if (to != MIGCTL_STATE_RESUMING || x->d->saved.len) {
			r = leave_session(x->d, from, to, &fd, &leave_fd);
			if (!r && leave_fd >= 0) {
				check_finding(x, MIGCTL_FAIL, "%s -> %s returned a data_fd, opening no session",
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

	if (!enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	/* PRE_COPY's data up to its temporary end (ENOMSG, or 0 from some drivers) */
	r = check_read_to_end(x->c, fd, &stream, &pre);
	if (r && r != -ENOMSG) {
		check_finding(x, MIGCTL_FAIL, "read() in PRE_COPY fails with %s", check_eno(r));
		goto out;
	}
	r = migctl_set_state(x->d->dev, MIGCTL_STATE_STOP_COPY, &new_fd);
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
		check_finding(x, MIGCTL_FAIL, "read() of the PRE_COPY data_fd in STOP_COPY fails with %s",
			check_eno(r));
		goto out;
	}
	/* the one stream, whole: the device takes it back */
	if (!open_session(x->d, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING, &fd))
		r = -EPROTO;
	else if (!(r = write_all(fd, stream.data, stream.len, NULL)))
		r = check_set_state(x->d, MIGCTL_STATE_STOP, NULL);
	if (r)
		check_finding(x, MIGCTL_FAIL, "the %zu bytes read through the PRE_COPY data_fd were refused "
			"by RESUMING -> STOP (%s)", stream.len, check_eno(r));
	check_passed(x, "one data_fd carried %zu bytes in PRE_COPY and %zu in STOP_COPY; the device "
	       "took them back", pre, rest);
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

		if (!check_offers(x->d, from) || !check_offers(x->d, to) || (resuming && !x->d->saved.len))
			continue;
		fd = -1;
		/* a session without an fd is data.new-fd's finding */
		if (!open_session(x->d, from, to, &fd) || leave_session(x->d, from, to, &fd, &leave_fd)) {
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
			check_finding(x, MIGCTL_FAIL, "%s() on the %s data_fd still %s data after %s -> %s",
				resuming ? "write" : "read", migctl_state_name(to), resuming ? "takes" : "gives",
				migctl_state_name(to), migctl_state_name(from));
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

	if (!enter_session(x, MIGCTL_STATE_STOP, MIGCTL_STATE_STOP_COPY, &fd))
		goto out;
	r = check_read_to_end(x->c, fd, NULL, &total);
	if (r == -EFBIG)
		check_finding(x, MIGCTL_FAIL, "no end of stream within %zu bytes", x->c->max);
	else if (r)
		check_finding(x, MIGCTL_FAIL, "read() in STOP_COPY fails with %s after %zu bytes", check_eno(r),
			total);
	if (r)
		goto out;
	for (int i = 0; i < 3; i++) {
		r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (r)
			check_finding(x, MIGCTL_FAIL, "read() after the end fails with %s (must stay 0)", check_eno(r));
		else if (got)
			check_finding(x, MIGCTL_FAIL, "read() after the end gave %zu more bytes", got);
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
		if (!open_session(x->d, MIGCTL_STATE_STOP, states[i], &fd)) {
			check_close_fd(&fd);
			continue;
		}
		if (!(r = migctl_data_seek(fd)))
			check_finding(x, MIGCTL_WARN, "lseek() works on the %s data_fd", migctl_state_name(states[i]));
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

/* ---- PRE_COPY */

static void check_precopy_info_states(struct rule_run *x)
{
	uint64_t initial, dirty;
	int fd = -1, r;

	if (!enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	if ((r = migctl_precopy_info(fd, &initial, &dirty)))
		check_finding(x, MIGCTL_FAIL, "fails in PRE_COPY with %s (mandatory with PRE_COPY)", check_eno(r));
	if (check_offers(x->d, MIGCTL_STATE_PRE_COPY_P2P) &&
	    !check_set_state(x->d, MIGCTL_STATE_PRE_COPY_P2P, &fd) &&
	    (r = migctl_precopy_info(fd, &initial, &dirty)))
		check_finding(x, MIGCTL_FAIL, "fails in PRE_COPY_P2P with %s (mandatory with PRE_COPY)",
			check_eno(r));
	if ((r = check_set_state(x->d, MIGCTL_STATE_STOP_COPY, &fd))) {
		check_finding(x, MIGCTL_FAIL, "PRE_COPY -> STOP_COPY fails with %s", check_eno(r));
		goto out;
	}
	r = migctl_precopy_info(fd, &initial, &dirty);
	if (r == 0)
		check_finding(x, MIGCTL_WARN, "works in STOP_COPY (initial %llu, dirty %llu): should be "
			"EINVAL", (unsigned long long)initial, (unsigned long long)dirty);
	else if (r != -EINVAL)
		check_finding(x, MIGCTL_WARN, "fails in STOP_COPY with %s, not EINVAL", check_eno(r));
	check_passed(x, "works in PRE_COPY%s; EINVAL in STOP_COPY",
	       check_offers(x->d, MIGCTL_STATE_PRE_COPY_P2P) ? " and PRE_COPY_P2P" : "");
out:
	check_close_fd(&fd);
}

const struct check_rule rule_precopy_info_states = {
	.rule = {
		.id = "precopy.info-states",
		.statement = "VFIO_MIG_GET_PRECOPY_INFO works in PRE_COPY and PRE_COPY_P2P, and "
			     "fails with EINVAL in STOP_COPY",
		.source = VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"valid only in PRE_COPY states and "
			  "kernel driver should return -EINVAL from any other migration state\"; "
			  "\"Support for this ioctl is mandatory if a driver claims to support "
			  "VFIO_MIGRATION_PRE_COPY\"",
	},
	.needs = NEED_STOP_COPY | NEED_PRE_COPY,
	.run = check_precopy_info_states,
};

static void check_precopy_initial_decreases(struct rule_run *x)
{
	uint64_t first, prev, now, dirty;
	size_t got, want, total = 0;
	unsigned int reads = 0;
	int fd = -1, r;

	if (!enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	if ((r = migctl_precopy_info(fd, &first, &dirty))) {
		check_finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s", check_eno(r));
		goto out;
	}
	if (first == 0)
		check_finding(x, MIGCTL_WARN, "initial_bytes starts at 0");
	/* quarter reads, so that a decrease has a few chances to show */
	for (prev = first; prev && reads < 64 && total < x->c->max; prev = now, reads++) {
		want = prev / 4 ? prev / 4 : 1;
		r = migctl_data_read(fd, x->c->buf, want < CHUNK ? want : CHUNK, &got);
		if (r || !got) {
			check_finding(x, MIGCTL_WARN, "the temporary end came with initial_bytes at %llu",
				(unsigned long long)prev);
			break;
		}
		total += got;
		if ((r = migctl_precopy_info(fd, &now, &dirty))) {
			check_finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s", check_eno(r));
			break;
		}
		if (now > prev)
			check_finding(x, MIGCTL_WARN, "initial_bytes rose from %llu to %llu after a read of %zu bytes",
				(unsigned long long)prev, (unsigned long long)now, got);
		else if (now == prev)
			check_finding(x, MIGCTL_WARN, "initial_bytes stayed at %llu after a read of %zu bytes",
				(unsigned long long)now, got);
	}
	check_passed(x, "initial_bytes went from %llu to 0 over %u reads (%zu bytes)",
	       (unsigned long long)first, reads, total);
out:
	check_close_fd(&fd);
}

const struct check_rule rule_precopy_initial_decreases = {
	.rule = {
		.id = "precopy.initial-decreases",
		.statement = "initial_bytes starts above 0 and decreases as PRE_COPY data is read, "
			     "never rising",
		.source = VFIO_H ", struct vfio_precopy_info: initial_bytes \"should have a "
			  "non-zero initial value and decrease as migration data is read from the "
			  "device\"",
	},
	.needs = NEED_STOP_COPY | NEED_PRE_COPY,
	.run = check_precopy_initial_decreases,
};

static void check_precopy_enomsg(struct rule_run *x)
{
	uint64_t initial, dirty;
	size_t got, total = 0;
	int fd = -1, r;

	if (!enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	/* read until the answer that is not data: that is the temporary end */
	for (unsigned int reads = 0;; reads++) {
		if ((r = migctl_precopy_info(fd, &initial, &dirty))) {
			check_finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s", check_eno(r));
			goto out;
		}
		if (reads == 1024 || total >= x->c->max) {
			check_skipped(x, "no temporary end within %u reads (%zu bytes): the device keeps "
				"dirtying", reads, total);
			goto out;
		}
		r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (r || !got)
			break;
		if (!initial && !dirty) {
			check_finding(x, MIGCTL_WARN, "read() gave %zu bytes though initial_bytes and "
				"dirty_bytes were 0", got);
			goto out;
		}
		total += got;
	}
	if (r == -ENOMSG)
		check_passed(x, "ENOMSG after %zu bytes of PRE_COPY data", total);
	else if (r)
		check_finding(x, MIGCTL_WARN, "read() fails with %s at the temporary end, not ENOMSG", check_eno(r));
	else
		check_finding(x, MIGCTL_WARN, "read() returns 0 at the temporary end (after %zu bytes), not "
			"ENOMSG: a reader cannot tell it from the end of the stream", total);
out:
	check_close_fd(&fd);
}

const struct check_rule rule_precopy_enomsg = {
	.rule = {
		.id = "precopy.enomsg",
		.statement = "At PRE_COPY's temporary end of stream (initial_bytes and dirty_bytes "
			     "0) read() fails with ENOMSG",
		.source = VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"When read() is done on this "
			  "temporary end of stream the kernel driver should return ENOMSG from "
			  "read()\"",
	},
	.needs = NEED_STOP_COPY | NEED_PRE_COPY,
	.run = check_precopy_enomsg,
};

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

/* ---- RESUMING */

#define STOP_INVALID VFIO_H ", RESUMING -> STOP: \"If the user provided data is found to be " \
	"incomplete, inconsistent, or otherwise invalid, the migration driver must fail the " \
	"SET_STATE ioctl\""

/*
 * STOP -> RESUMING, the first @len bytes of the saved stream, RESUMING ->
 * STOP: the last SET's result (-EPROTO: RESUMING gave no data_fd).  A
 * session left in RESUMING is aborted by reset.
 */
static int resume_prefix(struct rule_run *x, size_t len, int *write_err)
{
	int fd = -1, r;

	*write_err = 0;
	if (!open_session(x->d, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING, &fd)) {
		check_close_fd(&fd);
		return -EPROTO;
	}
	if (len)
		*write_err = write_all(fd, x->d->saved.data, len, NULL);
	r = check_set_state(x->d, MIGCTL_STATE_STOP, NULL);
	check_close_fd(&fd);
	if (check_get_state(x->d) == MIGCTL_STATE_RESUMING)
		migctl_dev_reset(x->d->dev);
	return r;
}

static void check_resume_empty_refused(struct rule_run *x)
{
	int write_err, r = resume_prefix(x, 0, &write_err);

	if (r == -EPROTO)
		no_data_fd(x, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING);
	else if (r == 0)
		check_finding(x, MIGCTL_FAIL, "RESUMING -> STOP accepted an empty stream");
	check_passed(x, "RESUMING -> STOP refused it with %s", check_eno(r));
}

const struct check_rule rule_resume_empty_refused = {
	.rule = {
		.id = "resume.empty-refused",
		.statement = "RESUMING -> STOP with nothing written fails",
		.source = STOP_INVALID,
	},
	.needs = NEED_STOP_COPY,
	.run = check_resume_empty_refused,
};

static void check_resume_truncated_refused(struct rule_run *x)
{
	size_t len = x->d->saved.len, cuts[] = { len - 1, len / 2 };
	int write_err, r = 0;

	if (len < 2) {
		check_skipped(x, "the saved stream has %zu bytes: nothing to cut", len);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
		r = resume_prefix(x, cuts[i], &write_err);
		if (r == -EPROTO)
			no_data_fd(x, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING);
		else if (r == 0)
			check_finding(x, MIGCTL_FAIL, "RESUMING -> STOP accepted the first %zu of %zu bytes%s%s",
				cuts[i], len, write_err ? "; write() had failed with " : "",
				write_err ? check_eno(write_err) : "");
	}
	check_passed(x, "RESUMING -> STOP refused the first %zu and the first %zu of %zu bytes (%s)",
	       cuts[0], cuts[1], len, check_eno(r));
}

const struct check_rule rule_resume_truncated_refused = {
	.rule = {
		.id = "resume.truncated-refused",
		.statement = "RESUMING -> STOP fails after all but the last byte of the device's "
			     "stream, and after half of it",
		.source = STOP_INVALID,
	},
	.needs = NEED_STOP_COPY | NEED_SAVED,
	.run = check_resume_truncated_refused,
};

static void check_resume_own_accepted(struct rule_run *x)
{
	/* small pieces first, across the stream's first records, then bigger ones */
	static const size_t pieces[] = { 1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 4093 };
	const struct membuf *s = &x->d->saved;
	size_t off = 0, n, i = 0;
	int fd = -1, r;

	if (!enter_session(x, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING, &fd))
		goto out;
	for (; off < s->len; off += n) {
		n = pieces[i < ARRAY_SIZE(pieces) - 1 ? i++ : i];
		if (n > s->len - off)
			n = s->len - off;
		if ((r = write_all(fd, s->data + off, n, NULL))) {
			check_finding(x, MIGCTL_FAIL, "write() refused the device's own stream at byte %zu "
				"with %s", off, check_eno(r));
			goto out;
		}
	}
	r = check_set_state(x->d, MIGCTL_STATE_STOP, NULL);
	if (r)
		check_finding(x, MIGCTL_FAIL, "RESUMING -> STOP refused the device's own %zu-byte stream, "
			"written in pieces of 1 to 4093 bytes, with %s", s->len, check_eno(r));
	check_passed(x, "its own %zu-byte stream, written in pieces of 1 to 4093 bytes, was accepted",
	       s->len);
out:
	check_close_fd(&fd);
}

const struct check_rule rule_resume_own_accepted = {
	.rule = {
		.id = "resume.own-accepted",
		.statement = "The device's own stream, written in pieces of any size, is accepted "
			     "at RESUMING -> STOP",
		.source = VFIO_H ", STOP -> RESUMING: the stream \"should be taken from the data "
			  "transfer output of a single FD during saving from a compatible "
			  "device\"; \"The user is not required to preserve buffer segmentation "
			  "when writing the data stream\"",
	},
	.needs = NEED_STOP_COPY | NEED_SAVED,
	.run = check_resume_own_accepted,
};

/* ---- reset */

static void check_reset_every_state(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got;
	char unreached[128] = "";
	size_t n = check_tour(x->d, states), tried = 0;
	int fd, r;

	for (size_t i = 0; i < n; i++) {
		fd = -1;
		/* a state not reached is fsm.arcs' finding: named, not reset from */
		if (check_go(x->d, states[i], &fd) || check_get_state(x->d) != states[i]) {
			str_list_add(unreached, sizeof(unreached), migctl_state_name(states[i]));
			check_close_fd(&fd);
			continue;
		}
		r = migctl_dev_reset(x->d->dev);
		got = check_get_state(x->d);
		if (r)
			check_finding(x, MIGCTL_FAIL, "VFIO_DEVICE_RESET in %s fails with %s", migctl_state_name(states[i]),
				check_eno(r));
		else if (got != MIGCTL_STATE_RUNNING)
			check_finding(x, MIGCTL_FAIL, "VFIO_DEVICE_RESET in %s left the device in %s",
				migctl_state_name(states[i]), migctl_state_name(got));
		if (r || got != MIGCTL_STATE_RUNNING)
			check_go(x->d, x->d->pb.found, &fd);
		check_close_fd(&fd);
		tried++;
	}
	check_passed(x, "from each of the %zu states the reset left RUNNING%s%s", tried,
	       unreached[0] ? "; not reached: " : "", unreached);
}

const struct check_rule rule_reset_every_state = {
	.rule = {
		.id = "reset.every-state",
		.statement = "VFIO_DEVICE_RESET succeeds in every offered state, RESUMING "
			     "included, and leaves the device in RUNNING",
		.source = VFIO_H ": \"To abort a RESUMING session the device must be reset\"; \"To "
			  "recover from ERROR VFIO_DEVICE_RESET must be used to return the "
			  "device_state back to RUNNING\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_reset_every_state,
};

static void check_reset_flag(struct rule_run *x)
{
	struct migctl_dev_info info;
	int r = migctl_dev_info(x->d->dev, &info);
	bool says;

	if (r) {
		check_finding(x, MIGCTL_FAIL, "VFIO_DEVICE_GET_INFO fails with %s", check_eno(r));
		return;
	}
	says = info.flags & MIGCTL_DEV_RESET;
	r = migctl_dev_reset(x->d->dev);
	if (!r && !says)
		check_finding(x, MIGCTL_WARN, "VFIO_DEVICE_RESET works, but VFIO_DEVICE_GET_INFO flags "
			"0x%x lack VFIO_DEVICE_FLAGS_RESET", info.flags);
	else if (r && says)
		check_finding(x, MIGCTL_FAIL, "VFIO_DEVICE_FLAGS_RESET is set, but VFIO_DEVICE_RESET fails "
			"with %s", check_eno(r));
	check_passed(x, says ? "VFIO_DEVICE_FLAGS_RESET set, and VFIO_DEVICE_RESET works"
		       : "neither VFIO_DEVICE_FLAGS_RESET nor a working VFIO_DEVICE_RESET");
}

const struct check_rule rule_reset_flag = {
	.rule = {
		.id = "reset.flag",
		.statement = "A device whose VFIO_DEVICE_RESET works says so with "
			     "VFIO_DEVICE_FLAGS_RESET",
		.source = VFIO_H ", struct vfio_device_info: \"VFIO_DEVICE_FLAGS_RESET ... Device "
			  "supports reset\"",
	},
	.run = check_reset_flag,
};

/* ---- DMA logging */

#define DMA_PAGE 4096u
#define DMA_SPAN (1u << 20)

static bool dma_offered(struct rule_run *x)
{
	bool offered;
	int r = migctl_dma_logging_supported(x->d->dev, &offered);

	if (r)
		check_finding(x, MIGCTL_FAIL, "the DMA_LOGGING_START probe fails with %s", check_eno(r));
	else if (!offered)
		check_skipped(x, "DMA logging is not offered");
	return !r && offered;
}

static void check_dma_start_report_stop(struct rule_run *x)
{
	const struct migctl_dma_range range = { 0, DMA_SPAN };
	uint64_t page = DMA_PAGE, bitmap[DMA_SPAN / DMA_PAGE / 64] = { 0 };
	unsigned int dirty = 0;
	int r;

	if (!dma_offered(x))
		return;
	if ((r = migctl_dma_logging_start(x->d->dev, &range, 1, &page))) {
		check_finding(x, MIGCTL_FAIL, "START on [0, 1 MiB) in 4 KiB pages fails with %s", check_eno(r));
		return;
	}
	if (!page || (page & (page - 1)))
		check_finding(x, MIGCTL_FAIL, "START chose a page size of %llu: not a power of two",
			(unsigned long long)page);
	if ((r = migctl_dma_logging_report(x->d->dev, &range, DMA_PAGE, bitmap)))
		check_finding(x, MIGCTL_FAIL, "REPORT on [0, 1 MiB) fails with %s", check_eno(r));
	if ((r = migctl_dma_logging_stop(x->d->dev)))
		check_finding(x, MIGCTL_FAIL, "STOP fails with %s", check_eno(r));
	for (size_t i = 0; i < ARRAY_SIZE(bitmap); i++)
		dirty += (unsigned int)__builtin_popcountll(bitmap[i]);
	check_passed(x, "START, REPORT and STOP on [0, 1 MiB) worked (page size %llu; %u pages dirty)",
	       (unsigned long long)page, dirty);
}

const struct check_rule rule_dma_start_report_stop = {
	.rule = {
		.id = "dma.start-report-stop",
		.statement = "Where DMA logging is offered, START on a valid range, REPORT on it "
			     "and STOP succeed",
		.source = VFIO_H ", VFIO_DEVICE_FEATURE_DMA_LOGGING_START: \"A single call to "
			  "start device DMA logging can be issued and a matching stop should "
			  "follow\"; DMA_LOGGING_REPORT",
	},
	.run = check_dma_start_report_stop,
};

/* A request that must be refused: @what (and the errno that refused it) onto its list */
static void dma_refused(const char *what, int r, char *refused, char *taken, size_t size)
{
	char item[96];

	snprintf(item, sizeof(item), "%s (%s)", what, r ? check_eno(r) : "");
	str_list_add(r ? refused : taken, size, r ? item : what);
}

static void check_dma_refused(struct rule_run *x)
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
		check_finding(x, MIGCTL_FAIL, "START on [0, 1 MiB) fails with %s", check_eno(r));
	} else {
		page = DMA_PAGE;
		r = migctl_dma_logging_start(x->d->dev, &good, 1, &page);
		dma_refused("a second START", r, refused, taken, sizeof(refused));
		migctl_dma_logging_stop(x->d->dev);
	}
	if (taken[0])
		check_finding(x, MIGCTL_FAIL, "succeeded: %s", taken);
	check_passed(x, "refused: %s", refused);
}

const struct check_rule rule_dma_refused = {
	.rule = {
		.id = "dma.refused",
		.statement = "DMA logging START without ranges, on an unaligned or overlapping "
			     "range, or while logging is on, and REPORT while it is off, fail",
		.source = VFIO_H ": \"Another start is not allowed in the meantime\"; \"If DMA "
			  "logging is not enabled, an error will be returned\"; "
			  "drivers/vfio/vfio_main.c, vfio_ioctl_device_feature_logging_start(); "
			  "include/linux/vfio.h, struct vfio_log_ops: \"rejecting subsequent calls "
			  "to log_start without an intervening log_stop\"",
	},
	.run = check_dma_refused,
};

static void check_roundtrip_equal(struct rule_run *x)
{
	struct check_dev *d2 = &x->c->d[1];
	const struct membuf *s1 = &x->d->saved;
	struct membuf s2 = { .max = x->c->max };
	struct migctl_xfer_result res;
	size_t at = 0;
	int r;

	if (!d2->dev) {
		check_skipped(x, "no DEV2 given");
		return;
	}
	if (x->c->dev2_unlike[0]) {
		check_skipped(x, "DEV2 cannot take DEV's stream: %s", x->c->dev2_unlike);
		return;
	}
	if (d2->lost) {
		check_skipped(x, "DEV2 %s", d2->lost_why);
		return;
	}
	if ((r = check_resume_from(d2, MIGCTL_STATE_STOP, s1, &res))) {
		check_finding(x, MIGCTL_FAIL, "DEV2 refused DEV's %zu-byte stream with %s%s", s1->len,
			check_eno(r), res.fail_at == MIGCTL_FAIL_LOAD ? " at RESUMING -> STOP" : "");
		goto out;
	}
	if ((r = check_save_into(d2, MIGCTL_STATE_STOP, &s2))) {
		check_finding(x, MIGCTL_FAIL, "saving DEV2 after the resume fails with %s", check_eno(r));
		goto out;
	}
	while (at < s1->len && at < s2.len && s1->data[at] == s2.data[at])
		at++;
	if (at < s1->len || at < s2.len)
		check_finding(x, MIGCTL_WARN, "DEV2 saved %zu bytes, DEV's stream has %zu: they differ from "
			"byte %zu on", s2.len, s1->len, at);
	check_passed(x, "DEV's %zu-byte stream resumed into DEV2, which saved the same bytes", s1->len);
out:
	check_membuf_free(&s2);
	if (check_go(d2, d2->pb.found, NULL) || check_get_state(d2) != d2->pb.found) {
		d2->lost = true;
		snprintf(d2->lost_why, sizeof(d2->lost_why), "did not return to %s",
			 migctl_state_name(d2->pb.found));
	}
}

const struct check_rule rule_roundtrip_equal = {
	.rule = {
		.id = "roundtrip.equal",
		.statement = "DEV's stream resumed into DEV2 is accepted, and DEV2 then saves the "
			     "same bytes (a difference is reported)",
		.source = VFIO_H ", STOP -> RESUMING: the stream \"should be taken from the data "
			  "transfer output of a single FD during saving from a compatible device\"",
	},
	.needs = NEED_STOP_COPY | NEED_SAVED,
	.run = check_roundtrip_equal,
};
