/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vfio-migctl front end.  Commands return an exit status (never
 * -errno); errors.c is the one place that turns a core error into a
 * message and a status.
 */
#ifndef MIGCTL_CLI_H
#define MIGCTL_CLI_H

#include <argp.h>
#include <signal.h>
#include <stdbool.h>

#include "migctl.h"

/* The exit status contract (man page, EXIT STATUS) */
enum exit_status {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_OPEN = 3,
	EXIT_UNSUPPORTED = 4,
	EXIT_TRANSITION = 5,
	EXIT_DEVICE_ERROR = 6,
	EXIT_STREAM = 7,
	EXIT_INTERRUPTED = 130,
};

/* Options every command accepts */
struct cli_globals {
	bool json;
	bool quiet;
	bool verbose;
	const char *sysroot;
	enum migctl_via via;
	struct migctl_root root;
	const char *command; /* "save", for messages */
	const char *device;  /* the DEV argument as given, for messages */
};

extern struct cli_globals cli;
extern const struct argp cli_global_argp;
/* Every command's argp includes these: global options work after the command */
extern const struct argp_child cli_global_children[];
extern volatile sig_atomic_t cli_cancel;

/* One entry per command: the table drives dispatch and the help listing */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_monitor(int argc, char **argv);

/* How 'hold' passes its open device down to the commands it runs */
#define HOLD_ENV_FD "VFIO_MIGCTL_HOLD_FD"
#define HOLD_ENV_DEVICE "VFIO_MIGCTL_HOLD_DEVICE"
#define HOLD_ENV_VIA "VFIO_MIGCTL_HOLD_VIA"

/*
 * Parse a command's arguments with its own argp (global options included
 * as a child), naming it "vfio-migctl <command>" in help and errors.
 */
void cli_parse(const struct argp *argp, int argc, char **argv, void *input);
/* A usage error: one line naming the problem, exit status 2 */
void cli_usage(const struct argp_state *state, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* Collect positionals into @slots (NULL-initialised); "missing DEV" below @min */
error_t cli_positionals(struct argp_state *state, int key, char *arg,
			const char **slots, int min, int max);
/* Flush the report; a failed write (> /dev/full) is an error */
int cli_finish(int status);
/*
 * Resolve DEV (opens nothing), open a resolved device (or adopt the one
 * 'hold' passed down), or both.  On failure they print why and return the
 * exit status.
 */
int cli_resolve_device(const char *arg, struct migctl_device_desc *t);
int cli_open_target(struct migctl_device_desc *t, struct migctl_dev **dev);
int cli_open_device(const char *arg, struct migctl_dev **dev);

/* ---- errors.c */

/* What was being done when an error came back: the same errno means
 * different things when opening a device and when changing its state. */
enum cli_stage {
	STAGE_RESOLVE,
	STAGE_OPEN,
	STAGE_QUERY,
	STAGE_TRANSITION,
	STAGE_STREAM,
	STAGE_OUTPUT,
};

/* "vfio-migctl: save: 0000:3b:00.1: <message>" on stderr */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "<what>: <cause of err>" and return the exit status for it */
int cli_fail(enum cli_stage stage, int err, const char *what, ...)
	__attribute__((format(printf, 3, 4)));
int cli_exit_status(enum cli_stage stage, int err);
/* "; recover it with 'vfio-migctl reset DEV'", for a device left in ERROR */
const char *cli_remedy(void);
const char *cli_cause(enum cli_stage stage, int err);

/* ---- parsing helpers shared by commands */

int cli_parse_state(const char *arg, enum migctl_state *state);
int cli_parse_size(const char *arg, size_t *size);
int cli_parse_on_error(const char *arg, enum migctl_on_error *policy);
/* --timeout SECONDS; a bad value is a usage error */
error_t cli_parse_timeout(const char *arg, double *seconds, struct argp_state *state);

/* ---- transfers (save.c/resume.c share these) */

/* Options of save and resume; one parser serves both tables */
struct transfer_args {
	const char *pos[1]; /* DEV */
	const char *file;   /* -o FILE / -i FILE */
	bool force;
	bool raw;
	struct migctl_xfer_opts opts;
};

enum {
	OPT_THEN = 0x300,
	OPT_ON_ERROR,
	OPT_BUFFER_SIZE,
	OPT_RAW,
	OPT_FORCE,
	OPT_PRECOPY,
};

error_t cli_parse_transfer(int key, char *arg, struct argp_state *state);

void cli_catch_signals(void);
/* Progress bar on stderr when it is a terminal and not -q */
void cli_progress(void *arg, const struct migctl_progress *p);
void cli_progress_done(void);
/*
 * Report a save/resume: the error line if any (with @detail, when given,
 * in place of the errno's words), then the summary as text or JSON.
 */
int cli_report_transfer(const char *verb, int err,
			const struct migctl_xfer_result *res, bool to_stderr,
			const char *detail);

double cli_now(void);

/* "1.5 MiB" */
void format_bytes(uint64_t bytes, char *buf, size_t size);

#endif
