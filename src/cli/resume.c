// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl resume DEV: RESUMING, the whole stream into the device, STOP
 * (where the driver checks it), then the --then state.
 *
 * A framed stream is checked as far as it can be before the device is
 * touched: its header and identity always; a regular file whole (one
 * extra read), so that a bad file costs the device nothing; a pipe record
 * by record, each before its bytes are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fdio.h"
#include "stream.h"

static const struct argp_option resume_options[] = {
	{ "input", 'i', "FILE", 0, "Read from FILE instead of stdin (- is stdin)", 0 },
	{ "then", OPT_THEN, "STATE", 0, "State to leave the device in (default: running)", 0 },
	{ "no-barrier", OPT_NO_BARRIER, NULL, 0, CLI_NO_BARRIER_DOC, 0 },
	{ "on-error", OPT_ON_ERROR, "reset|restore|leave", 0,
	  "On failure: reset (default), reset and return to the state found, or leave it", 0 },
	{ "end-session", OPT_END_SESSION, NULL, 0,
	  "First end a migration session left open on the device", 0 },
	{ "single-pass", OPT_SINGLE_PASS, NULL, 0,
	  "Do not verify a regular file whole before the device is touched; check "
	  "record by record as it is loaded (as for a pipe)",
	  0 },
	{ "buffer-size", OPT_BUFFER_SIZE, "SIZE", 0, "Bytes per write (default 1M)", 0 },
	{ "raw", OPT_RAW, NULL, 0,
	  "Read a bare kernel stream, not the framed format of vfio-migctl-stream(5)", 0 },
	{ "force", OPT_FORCE, NULL, 0, "Accept a stream saved from a different kind of device", 0 },
	{ 0 }
};

static const struct argp resume_argp = {
	.options = resume_options,
	.parser = cli_parse_transfer,
	.args_doc = "DEV [DEV...]",
	.doc = "Load a saved migration state into the device from stdin or FILE.\v"
	       "A regular file is verified whole before the device is touched "
	       "(--single-pass skips that read).  Any failure before the driver accepts "
	       "the data (a write the device refuses, a stream that does not verify, an "
	       "interrupt) aborts RESUMING with a reset; the final state is reported.",
	.children = cli_global_children,
};

static int open_framed(struct migctl_stream_reader *reader, int fd)
{
	int r = migctl_stream_reader_open(reader, fd, &cli_cancel);

	if (!r)
		return 0;
	return cli_fail_stream(r, migctl_stream_reader_error(reader),
			       reader->error.fault == MIGCTL_STREAM_NOT_FRAMED, true);
}

/* With --force a mismatch is accepted, and said in the report (@note) */
static int check_identity(const struct migctl_stream_reader *reader,
			  const struct migctl_device_desc *desc, bool force, char *note,
			  size_t size)
{
	char why[512];

	if (!migctl_stream_identity_check(migctl_stream_reader_header(reader), desc, why,
					  sizeof(why)))
		return 0;
	if (force) {
		snprintf(note, size, "accepted with --force: %s", why);
		return 0;
	}
	return cli_refuse(STAGE_STREAM, -EBADMSG,
			  "incompatible stream: %s (--force to try anyway); device unchanged", why);
}

/*
 * --raw, but the stream starts with the framed format's magic: say so
 * before the device sees a byte of it (the engine reads the first chunk
 * before it enters RESUMING).
 */
struct raw_source {
	struct migctl_source fd;
	bool first_read, framed;
};

static int raw_fetch(void *ctx, struct migctl_chunk *c, volatile sig_atomic_t *stop)
{
	struct raw_source *raw = ctx;
	int r = raw->fd.fetch(raw->fd.ctx, c, stop);

	if (!r && !raw->first_read && migctl_stream_is_framed(c->buf, c->len)) {
		raw->framed = true;
		r = -EBADMSG;
	}
	raw->first_read = true;
	return r;
}

/*
 * Walk a regular file to its END, verifying every record and the digest,
 * then start again where it started: the device sees nothing until the
 * whole file is known good.
 */
static int verify_whole(struct migctl_stream_reader *reader, int fd)
{
	struct migctl_stream_stats st;
	off_t start;
	int r;

	start = lseek(fd, 0, SEEK_CUR);
	if (start < 0)
		return cli_fail(STAGE_INPUT, -errno, "reading the stream");
	/* The reader has consumed the preamble and header: rewind to them */
	start -= (off_t)reader->offset;
	r = migctl_stream_scan(reader, &st);
	if (r)
		return cli_fail_stream(r, migctl_stream_reader_error(reader), false, true);
	migctl_stream_reader_close(reader);
	if (lseek(fd, start, SEEK_SET) < 0)
		return cli_fail(STAGE_INPUT, -errno, "reading the stream");
	return open_framed(reader, fd);
}

static bool regular_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static int run_resume(int argc, char **argv)
{
	struct transfer_args a = {
		.opts = { .then = MIGCTL_STATE_RUNNING,
			  .buffer_size = MIGCTL_DEFAULT_BUFFER,
			  .cancel = &cli_cancel,
			  .progress = cli_progress,
			  .wake_signal = CLI_WAKE_SIGNAL },
	};
	struct migctl_fd_endpoint ep = { .fd = STDIN_FILENO, .cancel = &cli_cancel };
	struct migctl_stream_reader reader = { .fd = -1 };
	struct migctl_device_desc desc;
	struct migctl_xfer_result res;
	struct migctl_source source;
	struct migctl_dev *dev = NULL;
	struct raw_source raw = { 0 };
	char note[640] = "";
	const char *detail = NULL;
	uint64_t precopy = 0;
	int status, r;

	cli_parse(&resume_argp, 0, argc, argv, &a);
	/*
	 * A mistyped name is reported before the stream is read.  A device
	 * that cannot be had ends the resume without reading the stream, while
	 * its writer may well succeed (save A | resume A): say so.
	 */
	cli_error_context("the stream was not loaded");
	status = cli_resolve_device(a.pos[0], &desc);
	cli_error_context(NULL);
	if (status)
		return status;
	if (!a.file && isatty(STDIN_FILENO))
		return cli_refuse(STAGE_USAGE, -ENOTTY,
				  "refusing to read device state from a terminal; "
				  "redirect stdin or use -i FILE");
	if (a.file) {
		ep.fd = open(a.file, O_RDONLY | O_CLOEXEC);
		if (ep.fd < 0)
			return cli_fail(STAGE_INPUT, -errno, "%s", a.file);
	}
	cli_catch_signals();
	pipe_grow(ep.fd, a.opts.buffer_size);
	if (a.pos[1]) {
		status = cli_resume_set(&a, ep.fd);
		goto out;
	}

	if (!a.raw) {
		status = open_framed(&reader, ep.fd);
		if (!status)
			status = check_identity(&reader, &desc, a.force, note, sizeof(note));
		if (!status && !a.single_pass && regular_file(ep.fd))
			status = verify_whole(&reader, ep.fd);
		if (status)
			goto out;
	}
	cli_error_context("the stream was not loaded");
	status = cli_open_desc(&desc, &dev);
	if (!status)
		status = cli_may_change(dev, a.force, "a resume (it replaces the device's state)");
	cli_error_context(NULL);
	if (status)
		goto out;

	if (a.raw) {
		/* The engine's fetch(): its stop flag interrupts a blocked read */
		migctl_fd_source(&ep, &raw.fd);
		source = (struct migctl_source){ .fetch = raw_fetch, .ctx = &raw };
	} else {
		migctl_stream_reader_source(&reader, &source);
	}
	r = migctl_resume(dev, &a.opts, &source, &res);
	/* The framed stream says which of the bytes were PRE_COPY data */
	if (!a.raw)
		precopy = reader.stats.precopy_bytes < res.bytes ? reader.stats.precopy_bytes :
								   res.bytes;
	if (r == -EBADMSG && raw.framed)
		detail = "this is a framed vfio-migctl stream; drop --raw";
	else if (r == -EBADMSG && !a.raw)
		detail = migctl_stream_reader_error(&reader);
	status = cli_report_transfer(&(struct transfer_report){ .resuming = true,
								.err = r,
								.desc = &desc,
								.detail = detail,
								.note = note[0] ? note : NULL,
								.precopy_bytes = precopy },
				     &res);
out:
	status = cli_close_device(dev, status);
	if (!a.raw)
		migctl_stream_reader_close(&reader);
	if (a.file)
		close(ep.fd);
	return status;
}

const struct cli_command cmd_resume = {
	.name = "resume",
	.run = run_resume,
	.summary = "load a saved state into a device",
	.no_from_pid = false,
};
