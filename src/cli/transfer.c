// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What save and resume share: their options, the progress bar, the report
 * and its error line.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "util.h"

/* "4096", "64K", "1M": 1 byte to MIGCTL_MAX_BUFFER */
static int parse_size(const char *arg, size_t *size)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || arg[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 'G':
	case 'g':
		v <<= 10;
		/* fallthrough */
	case 'M':
	case 'm':
		v <<= 10;
		/* fallthrough */
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	}
	if (*end || v == 0 || v > MIGCTL_MAX_BUFFER)
		return -EINVAL;
	*size = (size_t)v;
	return 0;
}

error_t cli_parse_transfer(int key, char *arg, struct argp_state *state)
{
	struct transfer_args *a = state->input;

	switch (key) {
	case 'o':
	case 'i':
		if (!arg[0])
			cli_usage("-%c needs a file name (- for std%s)", key,
				  key == 'o' ? "out" : "in");
		/* "-" is the standard stream, as no option at all */
		a->file = strcmp(arg, "-") ? arg : NULL;
		return 0;
	case OPT_END_SESSION:
		a->opts.end_session = true;
		return 0;
	case OPT_SINGLE_PASS:
		a->single_pass = true;
		return 0;
	case OPT_FORCE:
		a->force = true;
		return 0;
	case OPT_RAW:
		a->raw = true;
		return 0;
	case OPT_PRECOPY:
		a->opts.precopy = true;
		return 0;
	case OPT_NO_BARRIER:
		a->opts.no_barrier = true;
		return 0;
	case OPT_THEN:
		if (migctl_state_parse(arg, &a->opts.then) || migctl_state_is_data(a->opts.then) ||
		    a->opts.then == MIGCTL_STATE_ERROR)
			cli_usage("--then takes stop, running or running_p2p, not '%s'", arg);
		return 0;
	case OPT_ON_ERROR:
		if (migctl_on_error_parse(arg, &a->opts.on_error))
			cli_usage("--on-error takes restore, reset or leave, not '%s'", arg);
		return 0;
	case OPT_DOWNTIME:
	case OPT_PRECOPY_TIMEOUT: {
		double *seconds =
			key == OPT_DOWNTIME ? &a->opts.downtime : &a->opts.precopy_timeout;

		/* 0 would be "no budget": a save that cannot converge, or no precopy */
		if (parse_duration(arg, seconds) || !(*seconds > 0) || *seconds > 86400)
			cli_usage("--%s takes a DURATION above 0 (300ms, 2s; a plain number is "
				  "seconds), not '%s'",
				  key == OPT_DOWNTIME ? "downtime" : "precopy-timeout", arg);
		a->precopy_timing = true;
		return 0;
	}
	case OPT_BUFFER_SIZE:
		if (parse_size(arg, &a->opts.buffer_size))
			cli_usage("--buffer-size takes 1 to 256M (suffixes K, M, G), not '%s'",
				  arg);
		return 0;
	}
	return cli_positionals(state, key, arg, a->pos, 1, CLI_SET_MAX);
}

static struct {
	bool shown;
	double last;
	double start;
} bar;

void cli_progress(void *arg, const struct migctl_progress *p)
{
	char done[32], total[32], rate[32];
	double t = monotonic_seconds(), elapsed;

	(void)arg;
	if (cli.quiet || !isatty(STDERR_FILENO))
		return;
	if (!bar.start)
		bar.start = t;
	/* Ten redraws a second are plenty, and cheap next to 1 MiB reads */
	if (t - bar.last < 0.1)
		return;
	bar.last = t;
	elapsed = t - bar.start;
	format_bytes(p->bytes, done, sizeof(done));
	format_bytes(elapsed > 0 ? (uint64_t)((double)p->bytes / elapsed) : 0, rate, sizeof(rate));
	if (p->phase == MIGCTL_PHASE_PRE_COPY && p->precopy_rounds) {
		/* Rounds, what is left, and its time against the budget */
		char left[32], est[32] = "?";

		format_bytes(p->precopy_left, left, sizeof(left));
		if (p->downtime_estimate >= 0)
			snprintf(est, sizeof(est), "%.0f", p->downtime_estimate * 1000);
		fprintf(stderr, "\r%-9s round %u  %s  %s/s  left %s: %s/%.0f ms ",
			migctl_phase_name(p->phase), p->precopy_rounds, done, rate, left, est,
			p->downtime_target * 1000);
	} else if (p->estimate && p->bytes <= p->estimate) {
		unsigned int pct = (unsigned int)(p->bytes * 100 / p->estimate);
		char fill[21];

		format_bytes(p->estimate, total, sizeof(total));
		memset(fill, '#', pct / 5);
		memset(fill + pct / 5, '.', 20 - pct / 5);
		fill[20] = '\0';
		fprintf(stderr, "\r%-9s [%s] %3u%% %s / %s  %s/s ", migctl_phase_name(p->phase),
			fill, pct, done, total, rate);
	} else {
		fprintf(stderr, "\r%-9s %s  %s/s ", migctl_phase_name(p->phase), done, rate);
	}
	fprintf(stderr, "\033[K");
	bar.shown = true;
}

static void progress_done(void)
{
	if (bar.shown)
		fprintf(stderr, "\r\033[K");
	bar.shown = false;
}

/* The state's name, or NULL for none (MIGCTL_NR_STATES: not known) */
static const char *known_state(enum migctl_state state)
{
	return state != MIGCTL_NR_STATES ? migctl_state_name(state) : NULL;
}

/*
 * The words for a device found in the data state @state (a session open):
 * held by @holder, or left by a process that is gone (@holder NULL), and
 * the way out.
 */
static void open_session_words(enum migctl_state state, const struct migctl_holder *holder,
			       char *buf, size_t size)
{
	const char *dev = cli_device_arg();
	char way_out[PATH_MAX + 64];

	if (state == MIGCTL_STATE_RESUMING)
		snprintf(way_out, sizeof(way_out), "'vfio-migctl reset %s'", dev);
	else
		snprintf(way_out, sizeof(way_out), "'vfio-migctl state %s %s'", dev,
			 state == MIGCTL_STATE_STOP_COPY    ? "stop" :
			 state == MIGCTL_STATE_PRE_COPY_P2P ? "running_p2p" :
							      "running");
	if (holder)
		snprintf(buf, size, "device is in %s: a migration session open through %s (pid %d)",
			 migctl_state_name(state), holder->comm, holder->pid);
	else
		snprintf(buf, size,
			 "device is in %s: a migration session left open by a process "
			 "that is gone; end it with %s, or add --end-session",
			 migctl_state_name(state), way_out);
}

/* A device found in a data state: whose session it is, and the way out */
static const char *open_session(const struct migctl_device_desc *desc, enum migctl_state state,
				char *buf, size_t size)
{
	struct migctl_holder holder;
	size_t n;

	open_session_words(state, cli_find_holders(desc, &holder, 1, &n) ? &holder : NULL, buf,
			   size);
	return buf;
}

/* The words for where a transfer failed: "entering STOP_COPY failed" */
static void describe_step(const struct migctl_xfer_result *res, bool resuming, char *buf,
			  size_t size)
{
	const char *state = migctl_state_name(res->failed_state);

	switch (res->fail_at) {
	case MIGCTL_FAIL_CHECK:
		if (res->failed_state != MIGCTL_NR_STATES)
			snprintf(buf, size, "%s", state);
		break;
	case MIGCTL_FAIL_TRANSITION:
		snprintf(buf, size, "entering %s failed", state);
		break;
	case MIGCTL_FAIL_LOAD:
		snprintf(buf, size, "the device refused the stream (RESUMING -> STOP)");
		break;
	case MIGCTL_FAIL_DEVICE_IO:
		snprintf(buf, size,
			 resuming ? "the device refused the data" : "reading the device's data");
		break;
	case MIGCTL_FAIL_SINK:
		snprintf(buf, size, "writing the stream");
		break;
	case MIGCTL_FAIL_SOURCE:
		snprintf(buf, size, "reading the stream");
		break;
	case MIGCTL_FAIL_PEER:
		snprintf(buf, size, "stopped: another device of the set failed");
		break;
	case MIGCTL_FAIL_NONE:
	case MIGCTL_FAIL_CANCEL:
		break;
	}
}

/* "; device restored to RUNNING" */
static void describe_recovery(const struct migctl_xfer_result *res, char *buf, size_t size)
{
	const char *state = migctl_state_name(res->final_state);

	switch (res->recovery) {
	case MIGCTL_RECOVERY_NONE:
		if (res->final_state == MIGCTL_NR_STATES)
			snprintf(buf, size, "; device unchanged");
		else
			snprintf(buf, size, "; device unchanged (%s)", state);
		break;
	case MIGCTL_RECOVERY_RESTORED:
		snprintf(buf, size, "; device restored to %s", state);
		break;
	case MIGCTL_RECOVERY_RESET:
		snprintf(buf, size, "; device reset, now %s", state);
		break;
	case MIGCTL_RECOVERY_LEFT:
		snprintf(buf, size, "; device left in %s", state);
		break;
	case MIGCTL_RECOVERY_FAILED:
		/* The abort itself failed: say where the device is and what is left */
		snprintf(buf, size,
			 "; the reset failed (%s): device left in %s; retry "
			 "'vfio-migctl reset %s', or unbind and rebind its driver",
			 strerror(-res->recovery_err), state, cli_device_arg());
		break;
	case MIGCTL_RECOVERY_KEPT:
		snprintf(buf, size, "; the device accepted the stream and keeps it, in %s", state);
		break;
	}
}

/* The status of a failed transfer, and the stage its cause is worded for */
static int transfer_status(const struct migctl_xfer_result *res, int err, bool resuming,
			   enum cli_stage *stage)
{
	*stage = resuming ? STAGE_INPUT : STAGE_OUTPUT;
	switch (res->fail_at) {
	case MIGCTL_FAIL_CHECK:
		*stage = STAGE_QUERY;
		break;
	case MIGCTL_FAIL_TRANSITION:
		*stage = STAGE_TRANSITION;
		break;
	case MIGCTL_FAIL_LOAD:
		/* RESUMING -> STOP is where the driver checks what it was given */
		*stage = STAGE_TRANSITION;
		return err == -EINTR ? EXIT_INTERRUPTED : EXIT_STREAM;
	case MIGCTL_FAIL_DEVICE_IO:
		/* A device that refuses written bytes refuses the stream */
		if (resuming && err != -EINTR)
			return EXIT_STREAM;
		break;
	default:
		break;
	}
	return cli_exit_status(*stage, err);
}

/*
 * A failed save or resume: the one error line (@detail, when given, in
 * place of the errno's words) into @message; returns the status.
 */
static int fail_transfer(bool resuming, int err, const struct migctl_xfer_result *res,
			 const char *detail, char *message, size_t size)
{
	char step[128] = "", recovery[PATH_MAX + 256];
	bool in_error = res->final_state == MIGCTL_STATE_ERROR;
	enum cli_stage stage;
	int status = transfer_status(res, err, resuming, &stage);

	describe_step(res, resuming, step, sizeof(step));
	describe_recovery(res, recovery, sizeof(recovery));
	/* A device in ERROR names its remedy once, whatever the cause said */
	/* One remedy at most: the failed reset's, or ERROR's */
	bool remedy = in_error && err != -EBADFD && res->recovery != MIGCTL_RECOVERY_FAILED;

	/* Cut at @size, as it always was: only device paths near PATH_MAX reach it */
	if (snprintf(message, size, "%s%s%s%s%s%s", step, step[0] ? ": " : "",
		     detail ? detail : cli_cause(stage, err), recovery, remedy ? "; " : "",
		     remedy ? cli_error_remedy() : "") < 0)
		message[0] = '\0';
	/* A failed abort is a failed transition; ERROR is reported as ERROR */
	if (res->recovery == MIGCTL_RECOVERY_FAILED)
		return cli_status_for_state(EXIT_TRANSITION, res->final_state);
	/* A transition that left ERROR (RESUMING -> STOP too, under --on-error=leave) */
	if (res->fail_at == MIGCTL_FAIL_TRANSITION || res->fail_at == MIGCTL_FAIL_LOAD)
		return cli_status_for_state(status, res->final_state);
	return status;
}

/*
 * save --precopy: how PRE_COPY went.  Text: the rounds, whether it
 * converged, the estimate against the budget.  JSON: every round too.
 */
static void report_precopy(const struct migctl_xfer_result *res)
{
	bool ended = res->precopy_end != MIGCTL_PRECOPY_NONE;
	size_t kept = res->precopy_rounds < MIGCTL_PRECOPY_ROUNDS_MAX ? res->precopy_rounds :
									MIGCTL_PRECOPY_ROUNDS_MAX;
	char left[32];

	out_open_array("precopy_rounds");
	for (size_t i = 0; i < kept; i++) {
		out_open_object(NULL);
		out_uint("initial_bytes", NULL, res->round[i].initial_bytes);
		out_uint("dirty_bytes", NULL, res->round[i].dirty_bytes);
		out_uint("bytes", NULL, res->round[i].bytes);
		out_close_object();
	}
	out_close_array();
	/* The array keeps the first rounds: the count is all of them */
	out_uint("precopy_round_count", ended ? "; precopy rounds: %" PRIu64 : NULL,
		 res->precopy_rounds);
	if (ended)
		out_bool("precopy_converged",
			 res->precopy_end == MIGCTL_PRECOPY_CONVERGED ?
				 ", converged" :
				 ", not converged within the precopy timeout: switched over anyway",
			 res->precopy_end == MIGCTL_PRECOPY_CONVERGED);
	else
		out_null("precopy_converged", NULL);
	out_uint("precopy_reinits", res->precopy_reinits ? " (%" PRIu64 " REINIT)" : NULL,
		 res->precopy_reinits);
	if (res->downtime_target > 0)
		out_double("downtime_target_seconds", NULL, res->downtime_target);
	else
		out_null("downtime_target_seconds", NULL);
	format_bytes(res->precopy_left, left, sizeof(left));
	if (ended)
		out_text(" with %s left", left);
	if (ended && res->downtime_estimate >= 0)
		out_double("downtime_estimate_seconds", ", estimated %.3f s",
			   res->downtime_estimate);
	else
		out_null("downtime_estimate_seconds", ended ? ", estimate unknown" : NULL);
	if (ended)
		out_text(" of a %.3f s budget", res->downtime_target);
}

/*
 * The error line of a failed transfer of the current device (cli.device),
 * into @message, printed if @print; its status, 0 without @err.
 */
static int transfer_error(const struct transfer_report *t, const struct migctl_xfer_result *res,
			  char *message, size_t size, bool print)
{
	char session[PATH_MAX + 256];
	const char *detail = t->detail;
	int status;

	if (!t->err)
		return 0;
	if (t->err == -EBUSY && res->fail_at == MIGCTL_FAIL_CHECK && !detail)
		detail = open_session(t->desc, res->initial_state, session, sizeof(session));
	status = fail_transfer(t->resuming, t->err, res, detail, message, size);
	/* The note rides on the one line there is: the error, or the summary */
	cli_error_context(t->note);
	if (print)
		cli_error("%s", message);
	cli_error_context(NULL);
	return status;
}

/* One device's summary: the text line's words and the JSON object's keys */
static void transfer_fields(const struct transfer_report *t, const struct migctl_xfer_result *res,
			    const char *message)
{
	enum migctl_state found =
		res->ended_session != MIGCTL_NR_STATES ? res->ended_session : res->initial_state;
	char rate[32];

	format_bytes(res->seconds > 0 ? (uint64_t)((double)res->bytes / res->seconds) : 0, rate,
		     sizeof(rate));
	out_string("device", NULL, cli.device);
	out_bool("ok", NULL, !t->err);
	out_uint("bytes", t->resuming ? "resumed %" PRIu64 " bytes" : "saved %" PRIu64 " bytes",
		 res->bytes);
	out_uint("precopy_bytes", t->precopy_bytes ? " (precopy %" PRIu64 ")" : NULL,
		 t->precopy_bytes);
	out_uint("stopcopy_bytes", NULL, res->bytes - t->precopy_bytes);
	out_uint("estimate", NULL, res->estimate);
	out_double("seconds", " in %.3f s", res->seconds);
	out_text(", %s/s", rate);
	out_double("stopped_seconds", t->resuming ? NULL : "; device stopped %.3f s",
		   res->stopped_seconds);
	out_double("device_waited_seconds", NULL, res->device_waited_seconds);
	out_double("stream_waited_seconds", NULL, res->stream_waited_seconds);
	/* PRE_COPY never wakes a device: from STOP there was nothing to do */
	out_string_or_null(
		"precopy_skipped", "; precopy skipped (%s)",
		res->precopy_skipped ? "the device was stopped: nothing to pre-copy" : NULL, NULL);
	if (!t->resuming)
		report_precopy(res);
	out_string_or_null("ended_session", "; ended the %s session found open",
			   known_state(res->ended_session), NULL);
	out_string_or_null("initial_state", NULL, known_state(found), NULL);
	out_string_or_null("final_state", "; now %s", known_state(res->final_state), NULL);
	out_string_or_null("note", "; %s", t->note, NULL);
	out_text("\n");
	out_string("recovery", NULL, migctl_recovery_name(res->recovery));
	/* Where it failed: the device's data (device-io) or the file (sink/source) */
	out_string_or_null("failed_at", NULL, t->err ? migctl_fail_at_name(res->fail_at) : NULL,
			   NULL);
	if (t->err)
		out_string("error", NULL, message);
}

int cli_report_transfer(const struct transfer_report *t, const struct migctl_xfer_result *res)
{
	char message[PATH_MAX + 1024] = "";
	int status;

	progress_done();
	status = transfer_error(t, res, message, sizeof(message), true);
	out_init(cli.json, t->to_stderr ? stderr : stdout);
	/* Text: a summary of a success, unless -q.  JSON: always. */
	if (!cli.json && (t->err || cli.quiet))
		return cli_finish(status);
	out_open_object(NULL);
	out_string("command", NULL, t->resuming ? "resume" : "save");
	transfer_fields(t, res, message);
	out_close_object();
	return cli_finish(status);
}

/* "A now RUNNING, C now RUNNING": where the members but @failed ended */
static void others_words(const struct cli_member *m, size_t n, size_t failed, char *buf,
			 size_t size)
{
	char one[PATH_MAX + 64];

	snprintf(buf, size, "the set put back:");
	for (size_t i = 0; i < n; i++) {
		if (i == failed)
			continue;
		snprintf(one, sizeof(one), "%s%s %s", buf[strlen(buf) - 1] == ':' ? " " : ", ",
			 m[i].arg, known_state(m[i].res.final_state) ?: "in an unknown state");
		strncat(buf, one, size - strlen(buf) - 1);
	}
}

int cli_report_set(const struct transfer_report *t, struct cli_member *m, size_t n, size_t failed)
{
	char others[CLI_SET_MAX * (PATH_MAX + 64)];
	struct transfer_report member;
	double stopped = 0, seconds = 0;
	uint64_t bytes = 0;
	int status = 0;

	progress_done();
	/*
	 * Each member's words for the report; one line is printed, the member
	 * that failed first's (its status is the set's), with where the
	 * others ended.
	 */
	others_words(m, n, failed, others, sizeof(others));
	for (size_t i = 0; i < n; i++) {
		member = *t;
		member.desc = m[i].desc;
		member.err = m[i].res.fail_at != MIGCTL_FAIL_NONE || i == failed ? t->err : 0;
		member.note = i == failed && n > 1 ? others : NULL;
		cli.device = m[i].arg;
		if (i == failed)
			status = transfer_error(&member, &m[i].res, m[i].message,
						sizeof(m[i].message), true);
		else
			transfer_error(&member, &m[i].res, m[i].message, sizeof(m[i].message),
				       false);
	}
	cli.device = NULL;
	out_init(cli.json, t->to_stderr ? stderr : stdout);
	if (!cli.json && (t->err || cli.quiet))
		return cli_finish(status);
	out_open_object(NULL);
	out_string("command", NULL, t->resuming ? "resume" : "save");
	out_open_array("devices");
	for (size_t i = 0; i < n; i++) {
		member = *t;
		member.err = m[i].res.fail_at != MIGCTL_FAIL_NONE || (t->err && i == failed) ?
				     t->err :
				     0;
		member.precopy_bytes = m[i].precopy_bytes;
		member.note = NULL; /* the set's, said once below */
		cli.device = m[i].arg;
		out_open_object(NULL);
		out_text("%s: ", m[i].arg);
		transfer_fields(&member, &m[i].res, m[i].message);
		out_close_object();
		bytes += m[i].res.bytes;
		stopped = m[i].res.stopped_seconds > stopped ? m[i].res.stopped_seconds : stopped;
		seconds = m[i].res.seconds > seconds ? m[i].res.seconds : seconds;
	}
	out_close_array();
	cli.device = NULL;
	out_bool("ok", NULL, !t->err);
	out_uint("members", "set of %" PRIu64, n);
	out_uint("bytes", t->resuming ? ": resumed %" PRIu64 " bytes" : ": saved %" PRIu64 " bytes",
		 bytes);
	out_double("seconds", " in %.3f s", seconds);
	out_double("stopped_seconds", t->resuming ? NULL : "; devices stopped %.3f s at most",
		   stopped);
	/* resume --force: a member's identity accepted all the same */
	out_string_or_null("note", "; %s", t->err ? NULL : t->note, NULL);
	out_text("\n");
	out_close_object();
	return cli_finish(status);
}
