// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check's rules on RESUMING: the streams RESUMING -> STOP must refuse and
 * the one it must take (resume.*), and DEV's stream resumed into DEV2
 * (roundtrip.*).
 *
 * Each rule is a struct check_rule beside its body, written from the uAPI's
 * own words; check.c runs them in the order of its table.
 */
#include <errno.h>
#include <stdio.h>

#include "check.h"

#define STOP_INVALID                                                                                 \
	VFIO_H ", RESUMING -> STOP: \"If the user provided data is found to be "                     \
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
	if (!check_open_session(x->d, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING, &fd)) {
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
		check_no_data_fd(x, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING);
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
			check_no_data_fd(x, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING);
		else if (r == 0)
			check_finding(x, MIGCTL_FAIL,
				      "RESUMING -> STOP accepted the first %zu of %zu bytes%s%s",
				      cuts[i], len, write_err ? "; write() had failed with " : "",
				      write_err ? check_eno(write_err) : "");
	}
	check_passed(x,
		     "RESUMING -> STOP refused the first %zu and the first %zu of %zu bytes (%s)",
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

	if (!check_enter_session(x, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING, &fd))
		goto out;
	for (; off < s->len; off += n) {
		n = pieces[i < ARRAY_SIZE(pieces) - 1 ? i++ : i];
		if (n > s->len - off)
			n = s->len - off;
		if ((r = write_all(fd, s->data + off, n, NULL))) {
			check_finding(x, MIGCTL_FAIL,
				      "write() refused the device's own stream at byte %zu with %s",
				      off, check_eno(r));
			goto out;
		}
	}
	r = check_set_state(x->d, MIGCTL_STATE_STOP, NULL);
	if (r)
		check_finding(x, MIGCTL_FAIL,
			      "RESUMING -> STOP refused the device's own %zu-byte stream, written "
			      "in pieces of 1 to 4093 bytes, with %s",
			      s->len, check_eno(r));
	check_passed(x,
		     "its own %zu-byte stream, written in pieces of 1 to 4093 bytes, was accepted",
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

/* ---- DEV's stream into DEV2 */

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
	if ((r = check_resume_from(d2, MIGCTL_STATE_STOP, s1, &res, x->c->opts.cancel))) {
		check_finding(x, MIGCTL_FAIL, "DEV2 refused DEV's %zu-byte stream with %s%s",
			      s1->len, check_eno(r),
			      res.fail_at == MIGCTL_FAIL_LOAD ? " at RESUMING -> STOP" : "");
		goto out;
	}
	if ((r = check_save_into(d2, MIGCTL_STATE_STOP, &s2, x->c->opts.cancel))) {
		check_finding(x, MIGCTL_FAIL, "saving DEV2 after the resume fails with %s",
			      check_eno(r));
		goto out;
	}
	while (at < s1->len && at < s2.len && s1->data[at] == s2.data[at])
		at++;
	if (at < s1->len || at < s2.len)
		check_finding(x, MIGCTL_WARN,
			      "DEV2 saved %zu bytes, DEV's stream has %zu: "
			      "they differ from byte %zu on",
			      s2.len, s1->len, at);
	check_passed(x, "DEV's %zu-byte stream resumed into DEV2, which saved the same bytes",
		     s1->len);
out:
	check_membuf_free(&s2);
	if (check_go_found(d2) || check_get_state(d2) != d2->pb.found) {
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
