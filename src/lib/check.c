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

#include "check.h"

/* ---- rules' findings */

/* FAIL outweighs WARN outweighs PASS */
static int weight(enum migctl_verdict v)
{
	return v == MIGCTL_FAIL ? 2 : v == MIGCTL_WARN ? 1 : 0;
}

static void __attribute__((format(printf, 3, 0)))
say(struct rule_run *x, enum migctl_verdict v, const char *fmt, va_list ap)
{
	x->r->verdict = v;
	vsnprintf(x->r->detail, sizeof(x->r->detail), fmt, ap);
}

/* A finding: the heaviest is told, the first of its weight; the rest counted */
void check_finding(struct rule_run *x, enum migctl_verdict v, const char *fmt, ...)
{
	va_list ap;

	/* Past ERROR a rule's moves were refused: what it says of them is no finding */
	if (x->d->broke || weight(v) < weight(x->r->verdict))
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
void check_passed(struct rule_run *x, const char *fmt, ...)
{
	va_list ap;

	if (x->d->broke || x->r->verdict != MIGCTL_PASS)
		return;
	va_start(ap, fmt);
	say(x, MIGCTL_PASS, fmt, ap);
	va_end(ap);
}

void check_skipped(struct rule_run *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(x, MIGCTL_SKIP, fmt, ap);
	va_end(ap);
}

/* "EINVAL": a driver author wants the errno's name, as the uAPI spells it */
const char *check_eno(int err)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);

	return name ? name : "an unknown errno";
}

/* ---- the table */

/*
 * The rules in the order they run.  Each rule's struct is defined beside
 * its body, in check-<family>.c; this one list both declares it and puts
 * it in the table, so a rule is one line here.
 */
/* clang-format off: one rule a line */
#define CHECK_RULES(rule)                                                                             \
	rule(rule_flags_stop_copy) rule(rule_state_get) rule(rule_fsm_arcs) rule(                     \
		rule_fsm_unsupported_einval) rule(rule_fsm_error_refused) rule(rule_fsm_blocked_arcs) \
		rule(rule_data_new_fd) rule(rule_data_precopy_keeps_fd) rule(                         \
			rule_data_old_fd_dead) rule(rule_data_eof_sticks) rule(rule_data_no_seek)     \
			rule(rule_precopy_info_states) rule(rule_precopy_initial_decreases) rule(     \
				rule_precopy_enomsg) rule(rule_precopy_reinit_flags)                  \
				rule(rule_precopy_reinit_dirty) rule(rule_precopy_v2_einval) rule(    \
					rule_data_size_estimate) rule(rule_resume_empty_refused)      \
					rule(rule_resume_truncated_refused) rule(                     \
						rule_resume_own_accepted)                             \
						rule(rule_reset_every_state) rule(rule_reset_flag)    \
							rule(rule_dma_start_report_stop) rule(        \
								rule_dma_refused)                     \
								rule(rule_roundtrip_equal) /* the end of the list */
/* clang-format on */

#define DECLARE_RULE(name) extern const struct check_rule name;
CHECK_RULES(DECLARE_RULE)

#define POINT_TO_RULE(name) &name,
static const struct check_rule *const rules[] = { CHECK_RULES(POINT_TO_RULE) };

size_t migctl_rule_count(void)
{
	return ARRAY_SIZE(rules);
}

const struct migctl_rule *migctl_rule(size_t index)
{
	return index < ARRAY_SIZE(rules) ? &rules[index]->rule : NULL;
}

const char *migctl_verdict_name(enum migctl_verdict verdict)
{
	static const char *const names[] = {
		[MIGCTL_PASS] = "pass",
		[MIGCTL_WARN] = "warn",
		[MIGCTL_FAIL] = "fail",
		[MIGCTL_SKIP] = "skip",
	};

	return name_in(names, ARRAY_SIZE(names), verdict, "unknown");
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
		check_membuf_free(&c->d[i].saved);
	free(c->buf);
	free(c);
}

/* DEV2 must be able to take DEV's stream: the identity a resume checks */
static void compare_devices(struct migctl_check *c)
{
	struct migctl_stream_header h;
	int r = migctl_stream_header_from_desc(&h, migctl_dev_desc(c->d[0].dev), 0, 0);

	if (r)
		snprintf(c->dev2_unlike, sizeof(c->dev2_unlike),
			 "DEV's identity does not fit "
			 "a stream header (%s)",
			 check_eno(r));
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
	/* a signal stops the save too: the engine puts the device back */
	else if ((pb->save_err = check_save_into(d, state, &d->saved, c->opts.cancel)))
		check_membuf_free(&d->saved);
	pb->saved_bytes = d->saved.len;
	return c->opts.force ? 0 : pb->save_err;
}

int migctl_check_save(struct migctl_check *c, int *which)
{
	int r;

	*which = 0;
	r = save_device(c, &c->d[0]);
	if (r || !c->d[1].dev)
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
	int r = check_go_found(d);
	enum migctl_state now = check_get_state(d);

	if (r || now != d->pb.found) {
		d->lost = true;
		snprintf(d->lost_why, sizeof(d->lost_why),
			 "could not be brought back to %s (%s; GET says %s)",
			 migctl_state_name(d->pb.found), r ? check_eno(r) : "no error",
			 migctl_state_name(now));
	}
}

int migctl_check_run(struct migctl_check *c, size_t index, struct migctl_rule_result *result)
{
	const struct check_rule *def;
	struct rule_run x = { .c = c, .d = &c->d[0], .r = result };
	uint64_t flags = x.d->pb.mig_flags;
	size_t used;

	if (index >= ARRAY_SIZE(rules))
		return -EINVAL;
	def = rules[index];
	*result = (struct migctl_rule_result){ .verdict = MIGCTL_PASS };
	if (x.d->lost)
		check_skipped(&x, "the device %s after an earlier rule", x.d->lost_why);
	else if ((def->needs & NEED_STOP_COPY) && !(flags & MIGCTL_FLAG_STOP_COPY))
		check_skipped(&x, "the device does not offer STOP_COPY");
	else if ((def->needs & NEED_PRE_COPY) && !(flags & MIGCTL_FLAG_PRE_COPY))
		check_skipped(&x, "the device does not offer PRE_COPY");
	else if ((def->needs & NEED_SAVED) && !x.d->saved.len)
		check_skipped(&x, "no saved stream of the device (%s)",
			      x.d->pb.save_err ? check_eno(x.d->pb.save_err) : "it was empty");
	if (result->verdict == MIGCTL_SKIP)
		return 0;

	def->run(&x);
	if (x.d->broke) {
		x.d->broke = false;
		check_finding(&x, MIGCTL_FAIL, "%s; the rule stopped there", x.d->broke_why);
	}
	/* Cut short by a signal: what it found so far is no verdict */
	if (check_cancelled(c)) {
		settle(x.d);
		return -EINTR;
	}
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
	enum migctl_state now = check_get_state(d);
	int r = 0;

	pb->attempted = true;
	/* Nothing but a reset is asked of a device in ERROR (or that GET cannot tell) */
	if (!migctl_set_allowed_from(now) || now == MIGCTL_NR_STATES) {
		pb->reset = true;
		r = migctl_dev_reset(d->dev);
	}
	if (!r && d->saved.len) {
		/* the put back is recovery: no signal stops it */
		r = check_resume_from(d, pb->found, &d->saved, &res, NULL);
		pb->fail_at = res.fail_at;
		if (res.recovery == MIGCTL_RECOVERY_RESET ||
		    res.ended_session == MIGCTL_STATE_RESUMING)
			pb->reset = true;
	} else if (!r) {
		now = check_get_state(d);
		if (now == MIGCTL_STATE_RESUMING)
			pb->reset = true;
		r = migctl_return_to(d->dev, now, pb->found);
	}
	pb->final = check_get_state(d);
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
