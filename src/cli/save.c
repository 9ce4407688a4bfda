// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl save DEV: PRE_COPY (optional) and STOP_COPY to stdout or a
 * file.  A file is part of the transaction: it is committed (fsync, link)
 * only once the device is in the --then state, so a file appears only when
 * the save succeeded whole, and a failed commit puts the device back like
 * any other failure.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fdio.h"
#include "outfile.h"
#include "stream.h"

static const struct argp_option save_options[] = {
	{ "output", 'o', "FILE", 0,
	  "Write to FILE (mode 0600, atomically; a FIFO or device as it is; - is stdout)", 0 },
	{ "force", OPT_FORCE, NULL, 0, "Replace an existing regular FILE", 0 },
	{ "precopy", OPT_PRECOPY, NULL, 0,
	  "PRE_COPY first, if the device runs: read its data while it does, until the rest "
	  "fits --downtime",
	  0 },
	{ "downtime", OPT_DOWNTIME, "DURATION", 0,
	  "With --precopy: switch over once what is left would move within DURATION "
	  "(default 300ms)",
	  0 },
	{ "precopy-timeout", OPT_PRECOPY_TIMEOUT, "DURATION", 0,
	  "With --precopy: switch over after DURATION of PRE_COPY whatever is left "
	  "(default 60s)",
	  0 },
	{ "then", OPT_THEN, "STATE", 0, "State to leave the device in (default: stop)", 0 },
	{ "no-barrier", OPT_NO_BARRIER, NULL, 0, CLI_NO_BARRIER_DOC, 0 },
	{ "on-error", OPT_ON_ERROR, "restore|reset|leave", 0,
	  "On failure: back to the state found (default), reset, or leave it", 0 },
	{ "end-session", OPT_END_SESSION, NULL, 0,
	  "First end a migration session left open on the device", 0 },
	{ "buffer-size", OPT_BUFFER_SIZE, "SIZE", 0, "Bytes per read (default 1M)", 0 },
	{ "raw", OPT_RAW, NULL, 0,
	  "Write the bare kernel stream, not the framed format of vfio-migctl-stream(5)", 0 },
	{ 0 }
};

static const struct argp save_argp = {
	.options = save_options,
	.parser = cli_parse_transfer,
	.args_doc = "DEV [DEV...]",
	.doc = "Save the device's migration state to stdout or FILE.\v"
	       "The device goes to STOP_COPY (after PRE_COPY with --precopy, which a "
	       "stopped device skips, until what is left fits --downtime or "
	       "--precopy-timeout runs out), its data is streamed out, the device is put in the "
	       "--then state, and only then is the stream ended and FILE committed.  On "
	       "any failure, or SIGINT, SIGTERM or SIGHUP, it is put back as --on-error "
	       "says and the final state is reported.",
	.children = cli_global_children,
};

/* The output file's commit (fsync, link), once the stream is whole */
static int commit_output(void *arg)
{
	struct output_commit *c = arg;

	c->err = outfile_commit(c->file);
	return c->err;
}

/* "FILE: <cause>" for an output file that cannot be opened; the status */
static int fail_output(int err, const char *file, const struct outfile *of)
{
	cli_error("%s: %s", file, cli_output_cause(err, of));
	return cli_exit_status(STAGE_OUTPUT, err);
}

static int run_save(int argc, char **argv)
{
	struct transfer_args a = {
		.opts = { .then = MIGCTL_STATE_STOP,
			  .buffer_size = MIGCTL_DEFAULT_BUFFER,
			  .cancel = &cli_cancel,
			  .progress = cli_progress,
			  .wake_signal = CLI_WAKE_SIGNAL,
			  .downtime = MIGCTL_DEFAULT_DOWNTIME,
			  .precopy_timeout = MIGCTL_DEFAULT_PRECOPY_TIMEOUT },
	};
	struct migctl_fd_endpoint ep = { .fd = STDOUT_FILENO, .cancel = &cli_cancel };
	struct migctl_stream_writer writer = { 0 };
	struct output_commit commit = { 0 };
	struct migctl_stream_header header;
	struct migctl_xfer_result res;
	struct outfile of;
	struct migctl_sink sink;
	struct migctl_dev *dev;
	char detail[PATH_MAX + 128];
	int status, r;

	cli_parse(&save_argp, 0, argc, argv, &a);
	cli.device = a.pos[1] ? NULL : a.pos[0];
	if (a.precopy_timing && !a.opts.precopy)
		cli_usage("--downtime and --precopy-timeout need --precopy");
	if (!a.file && isatty(STDOUT_FILENO))
		return cli_refuse(STAGE_USAGE, -ENOTTY,
				  "refusing to write device state to a terminal; "
				  "redirect stdout or use -o FILE");
	/* Before the device is touched: a bad FILE must cost it nothing */
	if (a.file) {
		r = outfile_open(&of, a.file, a.force ? OUTFILE_REPLACE : 0);
		if (r)
			return fail_output(r, a.file, &of);
		ep.fd = of.fd;
	}

	if (a.file) {
		commit.file = &of;
		a.opts.commit = commit_output;
		a.opts.commit_arg = &commit;
	}

	if (a.pos[1]) {
		cli_catch_signals();
		pipe_grow(ep.fd, a.opts.buffer_size);
		status = cli_save_set(&a, ep.fd, a.file ? &commit : NULL);
		if (a.file && status)
			outfile_abort(&of);
		return status;
	}

	status = cli_open_device(a.pos[0], &dev);
	if (!status) {
		status = cli_may_change(dev, a.force, "a save (it stops the device)");
		if (status)
			migctl_dev_close(dev);
	}
	if (status) {
		if (a.file)
			outfile_abort(&of);
		return status;
	}

	cli_catch_signals();
	pipe_grow(ep.fd, a.opts.buffer_size);
	if (a.raw) {
		migctl_fd_sink(&ep, &sink);
	} else {
		r = migctl_stream_header_from_desc(&header, migctl_dev_desc(dev), 0, 0);
		if (!r)
			r = migctl_stream_writer_init(&writer, ep.fd, &header, &cli_cancel);
		if (r) {
			migctl_dev_close(dev);
			if (a.file)
				outfile_abort(&of);
			return cli_fail(STAGE_QUERY, r, "describing the device");
		}
		migctl_stream_writer_sink(&writer, &sink);
	}
	r = migctl_save(dev, &a.opts, &sink, &res);
	if (!a.raw)
		migctl_stream_writer_close(&writer);
	if (a.file && r)
		outfile_abort(&of);

	if (commit.err)
		snprintf(detail, sizeof(detail), "committing %s: %s", a.file,
			 cli_output_cause(commit.err, &of));
	status =
		cli_report_transfer(&(struct transfer_report){ .err = r,
							       .desc = migctl_dev_desc(dev),
							       .to_stderr = !a.file,
							       .detail = commit.err ? detail : NULL,
							       .precopy_bytes = res.precopy_bytes },
				    &res);
	return cli_close_device(dev, status);
}

const struct cli_command cmd_save = {
	.name = "save",
	.run = run_save,
	.summary = "save the device's migration state to stdout or a file",
	.no_from_pid = false,
};
