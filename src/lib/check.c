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
__attribute__((format(printf, 3, 4)))
void check_finding(struct rule_run *x, enum migctl_verdict v, const char *fmt, ...)
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
void check_passed(struct rule_run *x, const char *fmt, ...)
{
	va_list ap;

	if (x->r->verdict != MIGCTL_PASS)
		return;
	va_start(ap, fmt);
	say(x, MIGCTL_PASS, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
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
	  0, check_flags_stop_copy },
	{ { "state.get",
	    "MIG_DEVICE_STATE GET gives a state the migration flags offer, in every state the "
	    "device is moved to",
	    VFIO_H ", VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: \"Upon VFIO_DEVICE_FEATURE_GET, get the "
	    "current migration state\"; enum vfio_device_mig_state" },
	  0, check_state_get },
	{ { "fsm.arcs",
	    "From every offered state, a SET to every other offered state succeeds and GET then "
	    "gives that state",
	    VFIO_H ": \"The kernel migration driver must fully transition the device to the new "
	    "state value before the operation returns to the user\"; drivers/vfio/vfio_main.c, "
	    "vfio_mig_get_next_state()" },
	  NEED_STOP_COPY, check_fsm_arcs },
	{ { "fsm.unsupported-einval",
	    "A SET to a state the flags do not offer, or past the enum, fails with EINVAL and "
	    "leaves the state as it was",
	    VFIO_H ": \"The optional states cannot be used with SET_STATE if the device does not "
	    "support them\"; drivers/vfio/vfio_main.c, vfio_mig_get_next_state() returns -EINVAL" },
	  NEED_STOP_COPY, check_fsm_unsupported_einval },
	{ { "fsm.error-refused",
	    "A SET to ERROR fails with EINVAL and leaves the state as it was",
	    VFIO_H ", any -> ERROR: \"ERROR cannot be specified as a device state\"" },
	  NEED_STOP_COPY, check_fsm_error_refused },
	{ { "fsm.blocked-arcs",
	    "STOP_COPY -> PRE_COPY and STOP_COPY -> PRE_COPY_P2P fail, and the device stays in "
	    "STOP_COPY",
	    VFIO_H ", STOP_COPY -> PRE_COPY: \"These arcs are not permitted and return error if "
	    "requested\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, check_fsm_blocked_arcs },
	{ { "data.new-fd",
	    "Entering STOP_COPY, PRE_COPY, PRE_COPY_P2P and RESUMING returns a new data_fd; the "
	    "arcs back out return none",
	    VFIO_H ": RUNNING -> PRE_COPY, RUNNING_P2P -> PRE_COPY_P2P, STOP -> STOP_COPY \"will "
	    "return a new data_fd\"; STOP -> RESUMING \"will return a new data_fd\"; \"If the "
	    "new_state starts a new data transfer session then the FD ... is returned\"" },
	  NEED_STOP_COPY, check_data_new_fd },
	{ { "data.precopy-keeps-fd",
	    "PRE_COPY -> STOP_COPY returns no new data_fd: the PRE_COPY data_fd carries the rest "
	    "of the stream, which the device takes back",
	    VFIO_H ": PRE_COPY, PRE_COPY_P2P and STOP_COPY \"share a data transfer session. Moving "
	    "between these states ... does not terminate or otherwise affect the associated fd\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, check_data_precopy_keeps_fd },
	{ { "data.old-fd-dead",
	    "Once the state that owns a data session is left, its data_fd gives and takes no more "
	    "data",
	    VFIO_H ": \"The STOP_COPY arc will terminate a data transfer session\"; \"Leaving "
	    "RESUMING terminates a data transfer session\"; \"The PRE_COPY arc will terminate a "
	    "data transfer session\"" },
	  NEED_STOP_COPY, check_data_old_fd_dead },
	{ { "data.eof-sticks",
	    "In STOP_COPY, read() reaches the end of the stream (0) and keeps returning 0",
	    VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"Once in STOP_COPY the migration data FD has a "
	    "permanent end of stream signaled in the usual way by read() always returning 0\"; "
	    "\"ENOMSG may not be returned in STOP_COPY\"" },
	  NEED_STOP_COPY, check_data_eof_sticks },
	{ { "data.no-seek",
	    "A data_fd is a stream: lseek(), pread() and pwrite() are refused",
	    "commit 115dcec65f61 (vfio: Define device migration protocol v2): \"read() and write() "
	    "transfer the data with normal Linux stream FD semantics\"" },
	  NEED_STOP_COPY, check_data_no_seek },
	{ { "precopy.info-states",
	    "VFIO_MIG_GET_PRECOPY_INFO works in PRE_COPY and PRE_COPY_P2P, and fails with EINVAL "
	    "in STOP_COPY",
	    VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"valid only in PRE_COPY states and kernel driver "
	    "should return -EINVAL from any other migration state\"; \"Support for this ioctl is "
	    "mandatory if a driver claims to support VFIO_MIGRATION_PRE_COPY\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, check_precopy_info_states },
	{ { "precopy.initial-decreases",
	    "initial_bytes starts above 0 and decreases as PRE_COPY data is read, never rising",
	    VFIO_H ", struct vfio_precopy_info: initial_bytes \"should have a non-zero initial "
	    "value and decrease as migration data is read from the device\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, check_precopy_initial_decreases },
	{ { "precopy.enomsg",
	    "At PRE_COPY's temporary end of stream (initial_bytes and dirty_bytes 0) read() fails "
	    "with ENOMSG",
	    VFIO_H ", VFIO_MIG_GET_PRECOPY_INFO: \"When read() is done on this temporary end of "
	    "stream the kernel driver should return ENOMSG from read()\"" },
	  NEED_STOP_COPY | NEED_PRE_COPY, check_precopy_enomsg },
	{ { "data-size.estimate",
	    "MIG_DATA_SIZE, where offered, estimates the STOP_COPY length within a factor of 2 "
	    "(the ratio is reported)",
	    VFIO_H ", VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: \"read back the estimated data length "
	    "that will be required to complete stop copy\"; \"Can be called on each device "
	    "state\"" },
	  NEED_STOP_COPY, check_data_size_estimate },
	{ { "resume.empty-refused",
	    "RESUMING -> STOP with nothing written fails",
	    STOP_INVALID },
	  NEED_STOP_COPY, check_resume_empty_refused },
	{ { "resume.truncated-refused",
	    "RESUMING -> STOP fails after all but the last byte of the device's stream, and after "
	    "half of it",
	    STOP_INVALID },
	  NEED_STOP_COPY | NEED_SAVED, check_resume_truncated_refused },
	{ { "resume.own-accepted",
	    "The device's own stream, written in pieces of any size, is accepted at RESUMING -> "
	    "STOP",
	    VFIO_H ", STOP -> RESUMING: the stream \"should be taken from the data transfer output "
	    "of a single FD during saving from a compatible device\"; \"The user is not required "
	    "to preserve buffer segmentation when writing the data stream\"" },
	  NEED_STOP_COPY | NEED_SAVED, check_resume_own_accepted },
	{ { "reset.every-state",
	    "VFIO_DEVICE_RESET succeeds in every offered state, RESUMING included, and leaves "
	    "the device in RUNNING",
	    VFIO_H ": \"To abort a RESUMING session the device must be reset\"; \"To recover from "
	    "ERROR VFIO_DEVICE_RESET must be used to return the device_state back to RUNNING\"" },
	  NEED_STOP_COPY, check_reset_every_state },
	{ { "reset.flag",
	    "A device whose VFIO_DEVICE_RESET works says so with VFIO_DEVICE_FLAGS_RESET",
	    VFIO_H ", struct vfio_device_info: \"VFIO_DEVICE_FLAGS_RESET ... Device supports "
	    "reset\"" },
	  0, check_reset_flag },
	{ { "dma.start-report-stop",
	    "Where DMA logging is offered, START on a valid range, REPORT on it and STOP succeed",
	    VFIO_H ", VFIO_DEVICE_FEATURE_DMA_LOGGING_START: \"A single call to start device DMA "
	    "logging can be issued and a matching stop should follow\"; DMA_LOGGING_REPORT" },
	  0, check_dma_start_report_stop },
	{ { "dma.refused",
	    "DMA logging START without ranges, on an unaligned or overlapping range, or while "
	    "logging is on, and REPORT while it is off, fail",
	    VFIO_H ": \"Another start is not allowed in the meantime\"; \"If DMA logging is not "
	    "enabled, an error will be returned\"; drivers/vfio/vfio_main.c, "
	    "vfio_ioctl_device_feature_logging_start(); include/linux/vfio.h, struct "
	    "vfio_log_ops: \"rejecting subsequent calls to log_start without an intervening "
	    "log_stop\"" },
	  0, check_dma_refused },
	{ { "roundtrip.equal",
	    "DEV's stream resumed into DEV2 is accepted, and DEV2 then saves the same bytes (a "
	    "difference is reported)",
	    VFIO_H ", STOP -> RESUMING: the stream \"should be taken from the data transfer output "
	    "of a single FD during saving from a compatible device\"" },
	  NEED_STOP_COPY | NEED_SAVED, check_roundtrip_equal },
};

size_t migctl_rule_count(void)
{
	return ARRAY_SIZE(rules);
}

const struct migctl_rule *migctl_rule(size_t index)
{
	return index < ARRAY_SIZE(rules) ? &rules[index].rule : NULL;
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
		snprintf(c->dev2_unlike, sizeof(c->dev2_unlike), "DEV's identity does not fit "
			 "a stream header (%s)", check_eno(r));
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
	else if ((pb->save_err = check_save_into(d, state, &d->saved)))
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
	int r = check_go(d, d->pb.found, NULL);
	enum migctl_state now = check_get_state(d);

	if (r || now != d->pb.found) {
		d->lost = true;
		snprintf(d->lost_why, sizeof(d->lost_why), "could not be brought back to %s (%s; "
			 "GET says %s)", migctl_state_name(d->pb.found), r ? check_eno(r) : "no error", migctl_state_name(now));
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
	if (now == MIGCTL_STATE_ERROR || now == MIGCTL_NR_STATES) {
		pb->reset = true;
		r = migctl_dev_reset(d->dev);
	}
	if (!r && d->saved.len) {
		r = check_resume_from(d, pb->found, &d->saved, &res);
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
