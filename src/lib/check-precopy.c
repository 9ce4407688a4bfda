// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check's rules on PRE_COPY: VFIO_MIG_GET_PRECOPY_INFO, and the temporary
 * end of the stream (precopy.*).
 *
 * Each rule is a struct check_rule beside its body, written from the uAPI's
 * own words; check.c runs them in the order of its table.
 */
#include <errno.h>

#include "check.h"

static void check_precopy_info_states(struct rule_run *x)
{
	uint64_t initial, dirty;
	int fd = -1, r;

	if (!check_enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	if ((r = migctl_precopy_info(fd, &initial, &dirty)))
		check_finding(x, MIGCTL_FAIL, "fails in PRE_COPY with %s (mandatory with PRE_COPY)",
			      check_eno(r));
	if (check_offers(x->d, MIGCTL_STATE_PRE_COPY_P2P) &&
	    !check_set_state(x->d, MIGCTL_STATE_PRE_COPY_P2P, &fd) &&
	    (r = migctl_precopy_info(fd, &initial, &dirty)))
		check_finding(x, MIGCTL_FAIL,
			      "fails in PRE_COPY_P2P with %s (mandatory with PRE_COPY)",
			      check_eno(r));
	if ((r = check_set_state(x->d, MIGCTL_STATE_STOP_COPY, &fd))) {
		check_finding(x, MIGCTL_FAIL, "PRE_COPY -> STOP_COPY fails with %s", check_eno(r));
		goto out;
	}
	r = migctl_precopy_info(fd, &initial, &dirty);
	if (r == 0)
		check_finding(x, MIGCTL_WARN,
			      "works in STOP_COPY (initial %llu, dirty %llu): should be EINVAL",
			      (unsigned long long)initial, (unsigned long long)dirty);
	else if (r != -EINVAL)
		check_finding(x, MIGCTL_WARN, "fails in STOP_COPY with %s, not EINVAL",
			      check_eno(r));
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

	if (!check_enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	if ((r = migctl_precopy_info(fd, &first, &dirty))) {
		check_finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s",
			      check_eno(r));
		goto out;
	}
	if (first == 0)
		check_finding(x, MIGCTL_WARN, "initial_bytes starts at 0");
	/* quarter reads, so that a decrease has a few chances to show */
	for (prev = first; prev && reads < 64 && total < x->c->max; prev = now, reads++) {
		want = prev / 4 ? prev / 4 : 1;
		r = migctl_data_read(fd, x->c->buf, want < CHUNK ? want : CHUNK, &got);
		if (r || !got) {
			check_finding(x, MIGCTL_WARN,
				      "the temporary end came with initial_bytes at %llu",
				      (unsigned long long)prev);
			break;
		}
		total += got;
		if ((r = migctl_precopy_info(fd, &now, &dirty))) {
			check_finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s",
				      check_eno(r));
			break;
		}
		if (now > prev)
			check_finding(x, MIGCTL_WARN,
				      "initial_bytes rose from %llu to %llu "
				      "after a read of %zu bytes",
				      (unsigned long long)prev, (unsigned long long)now, got);
		else if (now == prev)
			check_finding(x, MIGCTL_WARN,
				      "initial_bytes stayed at %llu after a read of %zu bytes",
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

	if (!check_enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	/* read until the answer that is not data: that is the temporary end */
	for (unsigned int reads = 0;; reads++) {
		if ((r = migctl_precopy_info(fd, &initial, &dirty))) {
			check_finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s",
				      check_eno(r));
			goto out;
		}
		if (reads == 1024 || total >= x->c->max) {
			check_skipped(x,
				      "no temporary end within %u reads (%zu bytes): the device "
				      "keeps dirtying",
				      reads, total);
			goto out;
		}
		r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (r || !got)
			break;
		if (!initial && !dirty) {
			check_finding(x, MIGCTL_WARN,
				      "read() gave %zu bytes though initial_bytes and dirty_bytes "
				      "were 0",
				      got);
			goto out;
		}
		total += got;
	}
	if (r == -ENOMSG)
		check_passed(x, "ENOMSG after %zu bytes of PRE_COPY data", total);
	else if (r)
		check_finding(x, MIGCTL_WARN,
			      "read() fails with %s at the temporary end, not ENOMSG",
			      check_eno(r));
	else
		check_finding(x, MIGCTL_WARN,
			      "read() returns 0 at the temporary end (after %zu bytes), not "
			      "ENOMSG: a reader cannot tell it from the end of the stream",
			      total);
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

/*
 * Feature 12, MIG_PRECOPY_INFOv2 (Linux 7.1): opt in, for the device until
 * its last close (check's own open; nothing a rule changes reads flags).
 * False, and the rule skipped or failed, where it cannot be.
 */
static bool check_opt_in(struct rule_run *x)
{
	int r = migctl_precopy_reinit_enable(x->d->dev);

	/* ENOTTY from a driver, EINVAL from a core without the feature (before 7.1) */
	if (r == -ENOTTY || r == -EOPNOTSUPP || r == -EINVAL) {
		check_skipped(x, "MIG_PRECOPY_INFOv2 is not offered (%s): a kernel before 7.1",
			      check_eno(r));
		return false;
	}
	if (r)
		check_finding(x, MIGCTL_FAIL,
			      "the opt-in (a SET of MIG_PRECOPY_INFOv2) fails with %s",
			      check_eno(r));
	return r == 0;
}

static void check_precopy_reinit_flags(struct rule_run *x)
{
	/* Every bit the core must clear: a driver that echoes keeps them */
	const uint32_t passed = ~(uint32_t)MIGCTL_PRECOPY_REINIT;
	struct migctl_precopy_info info;
	size_t got, total = 0;
	unsigned int looks = 0;
	int fd = -1, r;

	if (!check_opt_in(x) ||
	    !check_enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	/* a few looks, between reads: flags are output on every one */
	for (;;) {
		if ((r = migctl_precopy_info_get(fd, passed, &info))) {
			check_finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s",
				      check_eno(r));
			goto out;
		}
		looks++;
		if (info.flags & ~MIGCTL_PRECOPY_REINIT) {
			check_finding(
				x, MIGCTL_FAIL,
				"flags 0x%x after the opt-in (0x%x passed in): bits other than "
				"REINIT",
				info.flags, passed);
			goto out;
		}
		if (looks == 16 || total >= x->c->max)
			break;
		r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (r || !got)
			break;
		total += got;
	}
	check_passed(x, "flags carried nothing but REINIT over %u looks (0x%x passed in)", looks,
		     passed);
out:
	check_close_fd(&fd);
}

const struct check_rule rule_precopy_reinit_flags = {
	.rule = {
		.id = "precopy.reinit-flags",
		.statement = "After the MIG_PRECOPY_INFOv2 opt-in, VFIO_MIG_GET_PRECOPY_INFO's "
			     "flags carry no bit but REINIT, whatever the caller passed",
		.source = VFIO_H " (Linux 7.1), VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2: once "
			  "opted in, flags are output, zeroed by the core "
			  "(vfio_check_precopy_ioctl()) before the driver sets "
			  "VFIO_PRECOPY_INFO_REINIT, its only flag",
	},
	.needs = NEED_STOP_COPY | NEED_PRE_COPY,
	.run = check_precopy_reinit_flags,
};

static void check_precopy_reinit_dirty(struct rule_run *x)
{
	struct migctl_precopy_info info;
	size_t got, total = 0;
	int fd = -1, r;

	if (!check_opt_in(x) ||
	    !check_enter_session(x, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, &fd))
		goto out;
	/* A REINIT is the device's to raise: look after every read until one comes */
	for (unsigned int reads = 0;; reads++) {
		if ((r = migctl_precopy_info_get(fd, 0, &info))) {
			check_finding(x, MIGCTL_FAIL, "VFIO_MIG_GET_PRECOPY_INFO fails with %s",
				      check_eno(r));
			goto out;
		}
		if (info.flags & MIGCTL_PRECOPY_REINIT)
			break;
		if (reads == 1024 || total >= x->c->max) {
			check_skipped(x, "no REINIT within %u reads (%zu bytes)", reads, total);
			goto out;
		}
		r = migctl_data_read(fd, x->c->buf, CHUNK, &got);
		if (r || !got) {
			check_skipped(x, "no REINIT before the temporary end (%zu bytes)", total);
			goto out;
		}
		total += got;
	}
	if (info.dirty_bytes)
		check_finding(x, MIGCTL_FAIL,
			      "REINIT after %zu bytes came with dirty_bytes %llu (initial_bytes "
			      "%llu): the dirty count must restart from 0",
			      total, (unsigned long long)info.dirty_bytes,
			      (unsigned long long)info.initial_bytes);
	check_passed(x, "REINIT after %zu bytes: dirty_bytes 0, initial_bytes %llu", total,
		     (unsigned long long)info.initial_bytes);
out:
	check_close_fd(&fd);
}

const struct check_rule rule_precopy_reinit_dirty = {
	.rule = {
		.id = "precopy.reinit-dirty",
		.statement = "A PRECOPY_INFO that reports REINIT reports dirty_bytes 0",
		.source = VFIO_H " (Linux 7.1), VFIO_PRECOPY_INFO_REINIT: new initial data is "
			  "present, initial_bytes may be non-zero again, and dirty_bytes restarts "
			  "from 0",
	},
	.needs = NEED_STOP_COPY | NEED_PRE_COPY,
	.run = check_precopy_reinit_dirty,
};

static void check_precopy_v2_einval(struct rule_run *x)
{
	bool precopy = check_offers(x->d, MIGCTL_STATE_PRE_COPY);
	/* A probe: nothing is opted in */
	int r = migctl_precopy_reinit_probe(x->d->dev);

	if (precopy && r == 0)
		check_passed(x, "offered with PRE_COPY (PROBE succeeds)");
	else if (precopy)
		check_passed(x, "not offered (%s): a kernel before 7.1", check_eno(r));
	else if (r == 0)
		check_finding(x, MIGCTL_FAIL,
			      "PROBE succeeds on a device without PRE_COPY: must be EINVAL");
	else if (r == -EINVAL)
		check_passed(x, "EINVAL without PRE_COPY");
	else if (r == -ENOTTY)
		check_passed(x, "not offered (ENOTTY): a kernel before 7.1");
	else
		check_finding(x, MIGCTL_FAIL, "fails with %s without PRE_COPY, not EINVAL",
			      check_eno(r));
}

const struct check_rule rule_precopy_v2_einval = {
	.rule = {
		.id = "precopy.reinit-einval",
		.statement = "MIG_PRECOPY_INFOv2 (feature 12) is refused with EINVAL on a device "
			     "without PRE_COPY",
		.source = VFIO_H " (Linux 7.1), VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2: the core "
			  "returns -EINVAL when the device does not support PRE_COPY",
	},
	.needs = NEED_STOP_COPY,
	.run = check_precopy_v2_einval,
};
