// SPDX-License-Identifier: GPL-2.0-or-later
/* What save and resume share: the progress bar and the report. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "util.h"

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
	format_bytes(elapsed > 0 ? (uint64_t)((double)p->bytes / elapsed) : 0, rate,
		     sizeof(rate));
	if (p->estimate && p->bytes <= p->estimate) {
		unsigned int pct = (unsigned int)(p->bytes * 100 / p->estimate);
		char fill[21];

		format_bytes(p->estimate, total, sizeof(total));
		memset(fill, '#', pct / 5);
		memset(fill + pct / 5, '.', 20 - pct / 5);
		fill[20] = '\0';
		fprintf(stderr, "\r%-9s [%s] %3u%% %s / %s  %s/s ",
			migctl_phase_name(p->phase), fill, pct, done, total, rate);
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

/* A device found in a data state: whose session it is, and the way out */
static const char *open_session(const struct migctl_device_desc *desc,
				enum migctl_state state, char *buf, size_t size)
{
	struct migctl_holder holder;
	size_t n;

	cli_open_session_words(state, cli_find_holders(desc, &holder, 1, &n) ? &holder : NULL,
			       buf, size);
	return buf;
}

int cli_report_transfer(bool resuming, int err, const struct migctl_xfer_result *res,
			const struct migctl_device_desc *desc, bool to_stderr,
			const char *detail, const char *note, uint64_t precopy_bytes,
			uint64_t stopcopy_bytes)
{
	char message[PATH_MAX + 1024] = "", session[PATH_MAX + 256], rate[32];
	enum migctl_state found = res->ended_session != MIGCTL_NR_STATES ? res->ended_session
									  : res->initial_state;
	int status = 0;

	progress_done();
	if (err == -EBUSY && res->fail_at == MIGCTL_FAIL_CHECK && !detail)
		detail = open_session(desc, res->initial_state, session, sizeof(session));
	/* The note rides on the one line there is: the error, or the summary */
	cli_error_context(err ? note : NULL);
	if (err)
		status = cli_fail_transfer(resuming, err, res, detail, message,
					   sizeof(message));
	cli_error_context(NULL);

	out_init(cli.json, to_stderr ? stderr : stdout);
	/* Text: a summary of a success, unless -q.  JSON: always. */
	if (!cli.json && (err || cli.quiet))
		return cli_finish(status);

	format_bytes(res->seconds > 0 ? (uint64_t)((double)res->bytes / res->seconds) : 0,
		     rate, sizeof(rate));
	out_open_object(NULL);
	out_string("command", NULL, resuming ? "resume" : "save");
	out_string("device", NULL, cli.device);
	out_bool("ok", NULL, !err);
	out_uint("bytes", resuming ? "resumed %" PRIu64 " bytes" : "saved %" PRIu64 " bytes",
		 res->bytes);
	out_uint("precopy_bytes", precopy_bytes ? " (precopy %" PRIu64 ")" : NULL,
		 precopy_bytes);
	out_uint("stopcopy_bytes", NULL, stopcopy_bytes);
	out_uint("estimate", NULL, res->estimate);
	out_double("seconds", " in %.3f s", res->seconds);
	out_text(", %s/s", rate);
	out_double("stopped_seconds", resuming ? NULL : "; device stopped %.3f s",
		   res->stopped_seconds);
	out_double("device_waited_seconds", NULL, res->device_waited_seconds);
	out_double("stream_waited_seconds", NULL, res->stream_waited_seconds);
	/* PRE_COPY never wakes a device: from STOP there was nothing to do */
	out_string_or_null("precopy_skipped", "; precopy skipped (%s)",
			   res->precopy_skipped ? "the device was stopped: nothing to pre-copy"
						: NULL, NULL);
	out_string_or_null("ended_session", "; ended the %s session found open",
			   known_state(res->ended_session), NULL);
	out_string_or_null("initial_state", NULL, known_state(found), NULL);
	out_string_or_null("final_state", "; now %s", known_state(res->final_state), NULL);
	out_string_or_null("note", "; %s", note, NULL);
	out_text("\n");
	out_string("recovery", NULL, migctl_recovery_name(res->recovery));
	/* Where it failed: the device's data (device-io) or the file (sink/source) */
	out_string_or_null("failed_at", NULL, err ? migctl_fail_at_name(res->fail_at) : NULL,
			   NULL);
	if (err)
		out_string("error", NULL, message);
	out_close_object();
	return cli_finish(status);
}
