// SPDX-License-Identifier: GPL-2.0-or-later
/* What save and resume share: signals, the progress bar, the report. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"

volatile sig_atomic_t cli_cancel;

static void on_signal(int sig)
{
	(void)sig;
	cli_cancel = 1;
}

void cli_catch_signals(void)
{
	/* No SA_RESTART: a blocked read or write must return EINTR */
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A reader that goes away is EPIPE on write, handled like any error */
	signal(SIGPIPE, SIG_IGN);
}

/* ---- options */

error_t cli_parse_transfer(int key, char *arg, struct argp_state *state)
{
	struct transfer_args *a = state->input;

	switch (key) {
	case 'o':
	case 'i':
		a->file = arg;
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
	case OPT_THEN:
		if (cli_parse_state(arg, &a->opts.then) || migctl_state_is_data(a->opts.then) ||
		    a->opts.then == MIGCTL_STATE_ERROR)
			cli_usage(state, "--then takes stop, running or running_p2p, not '%s'",
				   arg);
		return 0;
	case OPT_ON_ERROR:
		if (cli_parse_on_error(arg, &a->opts.on_error))
			cli_usage(state, "--on-error takes restore, reset or leave, not '%s'",
				   arg);
		return 0;
	case OPT_BUFFER_SIZE:
		if (cli_parse_size(arg, &a->opts.buffer_size))
			cli_usage(state, "--buffer-size takes 1 to 256M (suffixes K, M, G), "
					  "not '%s'", arg);
		return 0;
	}
	return cli_positionals(state, key, arg, a->pos, 1, 1);
}

/* ---- progress */

static struct {
	bool shown;
	double last;
	double start;
} bar;

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress(void *arg, const struct migctl_progress *p)
{
	static const char *const phases[] = {
		[MIGCTL_PHASE_PRE_COPY] = "pre-copy",
		[MIGCTL_PHASE_STOP_COPY] = "stop-copy",
		[MIGCTL_PHASE_RESUMING] = "resuming",
	};
	char done[32], total[32], rate[32];
	double t = cli_now(), elapsed;

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
	format_bytes(elapsed > 0 ? (uint64_t)((double)p->bytes / elapsed) : 0, rate,
		     sizeof(rate));
	if (p->estimate && p->bytes <= p->estimate) {
		unsigned int pct = (unsigned int)(p->bytes * 100 / p->estimate);
		char fill[21];

		format_bytes(p->estimate, total, sizeof(total));
		memset(fill, '#', pct / 5);
		memset(fill + pct / 5, '.', 20 - pct / 5);
		fill[20] = '\0';
		fprintf(stderr, "\r%-9s [%s] %3u%% %s / %s  %s/s ", phases[p->phase], fill,
			pct, done, total, rate);
	} else {
		fprintf(stderr, "\r%-9s %s  %s/s ", phases[p->phase], done, rate);
	}
	fprintf(stderr, "\033[K");
	bar.shown = true;
}

void cli_progress_done(void)
{
	if (bar.shown)
		fprintf(stderr, "\r\033[K");
	bar.shown = false;
}

/* ---- the report */

static const char *const recovery_names[] = {
	[MIGCTL_RECOVERY_NONE] = "none",
	[MIGCTL_RECOVERY_RESTORED] = "restored",
	[MIGCTL_RECOVERY_RESET] = "reset",
	[MIGCTL_RECOVERY_LEFT] = "left",
	[MIGCTL_RECOVERY_FAILED] = "failed",
};

/* The exit status for a failed transfer, and the stage for its message */
static int classify(const struct migctl_xfer_result *res, int err, bool resuming,
		    enum cli_stage *stage)
{
	*stage = STAGE_STREAM;
	switch (res->fail_at) {
	case MIGCTL_FAIL_CHECK:
		*stage = STAGE_QUERY;
		break;
	case MIGCTL_FAIL_TRANSITION:
		*stage = STAGE_TRANSITION;
		if (res->final_state == MIGCTL_STATE_ERROR)
			return EXIT_DEVICE_ERROR;
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

static void describe_step(const struct migctl_xfer_result *res, bool resuming,
			  char *buf, size_t size)
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
		snprintf(buf, size, resuming ? "the device refused the data"
					     : "reading the device's data");
		break;
	case MIGCTL_FAIL_SINK:
		snprintf(buf, size, "writing the stream");
		break;
	case MIGCTL_FAIL_SOURCE:
		snprintf(buf, size, "reading the stream");
		break;
	case MIGCTL_FAIL_NONE:
	case MIGCTL_FAIL_CANCEL:
		break;
	}
}

/* "; device restored to RUNNING" */
static void describe_recovery(const struct migctl_xfer_result *res, char *buf,
			      size_t size)
{
	const char *state = migctl_state_name(res->final_state);

	switch (res->recovery) {
	case MIGCTL_RECOVERY_NONE:
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
		snprintf(buf, size, "; recovery failed (%s), device in %s",
			 strerror(-res->recovery_err), state);
		break;
	}
}

int cli_report_transfer(const char *verb, int err,
			const struct migctl_xfer_result *res, bool to_stderr,
			const char *detail)
{
	bool resuming = strcmp(verb, "resume") == 0;
	char step[128] = "", recovery[160], message[512], rate[32];
	uint64_t bytes = res->precopy_bytes + res->stopcopy_bytes;
	enum cli_stage stage;
	int status = EXIT_OK;

	cli_progress_done();
	if (err) {
		status = classify(res, err, resuming, &stage);
		describe_step(res, resuming, step, sizeof(step));
		describe_recovery(res, recovery, sizeof(recovery));
		snprintf(message, sizeof(message), "%s%s%s%s%s", step, step[0] ? ": " : "",
			 detail ? detail : cli_cause(stage, err), recovery,
			 res->final_state == MIGCTL_STATE_ERROR ? cli_remedy() : "");
		cli_error("%s", message);
	}

	out_init(cli.json, to_stderr ? stderr : stdout);
	/* Text: a summary of a success, unless -q.  JSON: always. */
	if (!cli.json && (err || cli.quiet))
		return cli_finish(status);

	format_bytes(res->seconds > 0 ? (uint64_t)((double)bytes / res->seconds) : 0,
		     rate, sizeof(rate));
	out_open_object(NULL);
	out_string("command", NULL, verb);
	out_string("device", NULL, cli.device);
	out_bool("ok", NULL, !err);
	out_uint("bytes", resuming ? "resumed %" PRIu64 " bytes" : "saved %" PRIu64 " bytes",
		 bytes);
	out_uint("precopy_bytes", res->precopy_bytes ? " (precopy %" PRIu64 ")" : NULL,
		 res->precopy_bytes);
	out_uint("stopcopy_bytes", NULL, res->stopcopy_bytes);
	out_uint("estimate", NULL, res->estimate);
	out_double("seconds", " in %.3f s", res->seconds);
	out_text(", %s/s", rate);
	out_double("stopped_seconds", resuming ? NULL : "; device stopped %.3f s",
		   res->stopped_seconds);
	out_string("initial_state", NULL, migctl_state_name(res->initial_state));
	out_string("final_state", "; now %s\n", migctl_state_name(res->final_state));
	out_string("recovery", NULL, recovery_names[res->recovery]);
	if (err)
		out_string("error", NULL, message);
	out_close_object();
	return cli_finish(status);
}
