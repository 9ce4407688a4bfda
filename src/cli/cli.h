/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vfio-migctl front end.  Each command is one file exporting its table
 * entry, with the messages only it says.  It returns 0 or an exit status,
 * never -errno: statuses are named constants from the map (enum
 * exit_status, and errors.c's status of a stage and an error), never
 * numbers of its own.
 */
#ifndef MIGCTL_CLI_H
#define MIGCTL_CLI_H

#include <argp.h>
#include <signal.h>
#include <stdbool.h>

#include "migctl.h"

/* One entry per command: the table in main.c drives dispatch and --help */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	bool no_from_pid; /* acts on no one device's file: --from-pid is refused */
};

extern const struct cli_command cmd_list, cmd_info, cmd_state, cmd_save, cmd_resume, cmd_reset,
	cmd_inspect, cmd_hold, cmd_wait, cmd_monitor, cmd_check;

/* ---- options.c: options every command accepts, and value parsing */

struct cli_globals {
	bool json;
	bool quiet;
	bool verbose;
	const char *sysroot;
	enum migctl_via via;
	int from_pid; /* act through this process's file of the device; 0: none */
	struct migctl_root root;
	const char *command; /* "save", for messages */
	bool no_from_pid;    /* the command's: --from-pid means nothing to it */
	const char *device;  /* the DEV argument as given, for messages */
};

extern struct cli_globals cli;
/* Every command's argp includes these: global options work after the command */
extern const struct argp_child cli_global_children[];

/* Option keys shared by several commands */
enum {
	OPT_THEN = 0x300,
	OPT_ON_ERROR,
	OPT_BUFFER_SIZE,
	OPT_RAW,
	OPT_FORCE,
	OPT_PRECOPY,
	OPT_TIMEOUT,
	OPT_END_SESSION,
	OPT_SINGLE_PASS,
	OPT_NO_BARRIER,
	OPT_DOWNTIME,
	OPT_PRECOPY_TIMEOUT,
};

/* --no-barrier, as save, resume and state word it */
#define CLI_NO_BARRIER_DOC                                                                  \
	"A set: no RUNNING_P2P barrier, and members without P2P accepted (unsafe: one may " \
	"stop while another still DMAs into it)"

/*
 * Parse a command's arguments with its own argp (global options included
 * as a child), naming it "vfio-migctl <command>" in help and errors.
 * @flags are extra argp flags (ARGP_IN_ORDER for a command line that ends
 * in another command's).
 */
void cli_parse(const struct argp *argp, unsigned int flags, int argc, char **argv, void *input);
/* Collect positionals into @slots (NULL-initialised); "missing DEV" below @min */
error_t cli_positionals(struct argp_state *state, int key, char *arg, const char **slots, int min,
			int max);
/* The parser of a command whose only argument is DEV (input: const char *[1]) */
error_t cli_parse_dev(int key, char *arg, struct argp_state *state);
/* --timeout SECONDS (0 to 86400) */
void cli_parse_timeout(const char *arg, double *seconds);
/* A process id: decimal, 1 to INT_MAX; -EINVAL for anything else */
int cli_parse_pid(const char *arg, int *pid);

/* ---- acquire.c: from a DEV argument to an open device */

/*
 * Resolve DEV (opens nothing), open a resolved device (or adopt the one
 * 'hold' passed down), or both.  On failure they print why and return the
 * exit status.
 */
int cli_resolve_device(const char *arg, struct migctl_device_desc *desc);
int cli_open_desc(struct migctl_device_desc *desc, struct migctl_dev **dev);
int cli_open_device(const char *arg, struct migctl_dev **dev);
/* A set's DEVs: each resolved, none named twice; nothing opened yet */
int cli_resolve_devices(const char *const *args, size_t n, struct migctl_device_desc *desc);
/*
 * Open each of a set's resolved devices, and see that it may be changed
 * (cli_may_change); the error line names the one that fails.  Devices
 * opened before a failure stay open, for the caller to close.
 */
int cli_open_descs(const char *const *args, size_t n, struct migctl_device_desc *desc, bool force,
		   const char *change, struct migctl_dev **dev);
/* The half of the hold protocol that passes @dev down to a child's commands */
void cli_hold_export(struct migctl_dev *dev);
/*
 * A device reached through --from-pid belongs to a running process:
 * @change ("changing its state") is refused without @force.  0 if allowed,
 * else the refusal's status.  Every command that changes a device asks.
 */
int cli_may_change(const struct migctl_dev *dev, bool force, const char *change);
/*
 * The processes that have the device open, from /proc: the first @max in
 * @holders; returns how many of them are there, *@count how many hold it
 * (0 and 0 when /proc cannot tell).
 */
size_t cli_find_holders(const struct migctl_device_desc *desc, struct migctl_holder *holders,
			size_t max, size_t *count);
/* "qemu (pid 4242), sh (pid 4250)": the first @shown of @holders */
void cli_holders_words(const struct migctl_holder *holders, size_t shown, char *buf, size_t size);
/* How a file taken with --from-pid was used: "its cdev file, as it is" */
const char *cli_origin_words(enum migctl_via used);
/*
 * Close @dev.  A --from-pid holder that exited meanwhile took the device
 * with it (unless another process holds it): said, and its status
 * returned if @status was 0; else @status.
 */
int cli_close_device(struct migctl_dev *dev, int status);

/* ---- signals.c */

extern volatile sig_atomic_t cli_cancel;
/* What the transfer engine sends its threads to stop a blocked read or write */
#define CLI_WAKE_SIGNAL SIGRTMIN
/*
 * SIGINT, SIGTERM, SIGHUP set cli_cancel (no SA_RESTART); CLI_WAKE_SIGNAL
 * only interrupts; SIGPIPE ignored.
 */
void cli_catch_signals(void);

/* ---- errors.c: the one place where an error becomes words and a status */

/* The exit statuses: the man page's EXIT STATUS, and nothing else */
enum exit_status {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_OPEN = 3,
	EXIT_UNSUPPORTED = 4,
	EXIT_TRANSITION = 5,
	EXIT_DEVICE_ERROR = 6,
	EXIT_STREAM = 7,
	EXIT_RULE_FAILED = 8, /* check: a rule failed */
	/* hold: CMD could not be run, as a shell says it */
	EXIT_CMD_NOT_RUNNABLE = 126,
	EXIT_CMD_NOT_FOUND = 127,
	EXIT_INTERRUPTED = 130,
};

/* What was being done when an error came back: the same errno means
 * different things when opening a device and when changing its state. */
enum cli_stage {
	STAGE_USAGE,	  /* the command line */
	STAGE_RESOLVE,	  /* naming the device */
	STAGE_OPEN,	  /* opening it */
	STAGE_QUERY,	  /* asking it something */
	STAGE_TRANSITION, /* changing its state */
	STAGE_STREAM,	  /* the stream's content */
	STAGE_INPUT,	  /* the file or pipe the stream comes from */
	STAGE_OUTPUT,	  /* the file or pipe a stream or report goes to */
	STAGE_EVENTS,	  /* kernel uevents */
	STAGE_RUN,	  /* hold's command */
};

/* "vfio-migctl: save: 0000:3b:00.1: <message>" on stderr */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same prefix for what is not an error: -v, warnings, hold's report */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Said at the end of every error line from now on ("the stream was not
 * loaded"), until cleared with NULL */
void cli_error_context(const char *context);
/* A usage error: one line naming the problem, then exit */
void cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Print "<what>: <cause of err>" and return the exit status for it */
int cli_fail(enum cli_stage stage, int err, const char *what, ...)
	__attribute__((format(printf, 3, 4)));
/* Print the message as given; the status is the one of (stage, err) */
int cli_refuse(enum cli_stage stage, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * The status map, for a message worded where it is said: the status of
 * @err met at @stage, and that status overridden by where the device
 * ended up (ERROR is its own).
 */
int cli_exit_status(enum cli_stage stage, int err);
int cli_status_for_state(int status, enum migctl_state now);
/* DEV as the user named it ("DEV" if none), for a command line to retry */
const char *cli_device_arg(void);
/* "recover it with 'vfio-migctl reset DEV'": the one way out of ERROR, spelled once */
const char *cli_error_remedy(void);
/* The words for an error, as cli_fail() would print them */
const char *cli_cause(enum cli_stage stage, int err);
struct outfile;
/* The words for a failure of the output file @of: its own, or cli_cause()'s */
const char *cli_output_cause(int err, const struct outfile *of);
/* Why DEV could not be resolved (candidates of a shared group, a driver) */
int cli_fail_resolve(int err, const struct migctl_device_desc *desc);
/*
 * The stream does not verify (-EBADMSG) or could not be read, before any
 * device was touched; for resume, with the --raw hint where it fits.
 */
int cli_fail_stream(int err, const char *reason, bool not_framed, bool resuming);
/* Flush the report; a failed write (> /dev/full) is an error */
int cli_finish(int status);

/* ---- transfer.c: what save and resume share */

/* Options of save and resume; one parser serves both tables */
/* The most devices a set may have */
#define CLI_SET_MAX 16

struct transfer_args {
	const char *pos[CLI_SET_MAX]; /* DEV... */
	const char *file;	      /* -o FILE / -i FILE; NULL: stdout / stdin (also "-") */
	bool force; /* save: replace FILE; resume: accept another device's stream */
	bool raw;
	bool single_pass;    /* resume: no verifying pass over a regular file first */
	bool precopy_timing; /* save: --downtime or --precopy-timeout given */
	struct migctl_xfer_opts opts;
};

error_t cli_parse_transfer(int key, char *arg, struct argp_state *state);

/* Progress bar on stderr when it is a terminal and not -q */
void cli_progress(void *arg, const struct migctl_progress *p);
/* What a save/resume report says besides the result */
struct transfer_report {
	bool resuming;
	int err;
	const struct migctl_device_desc *desc;
	bool to_stderr;		/* the summary (stdout carries the stream) */
	const char *detail;	/* in place of the error's words */
	const char *note;	/* said in the one line there is: the error or the summary */
	uint64_t precopy_bytes; /* of res->bytes, PRE_COPY's */
};

/* The error line if any, then the summary as text or JSON; the status */
int cli_report_transfer(const struct transfer_report *t, const struct migctl_xfer_result *res);

/* save -o FILE: the file committed as the stream's last step */
struct output_commit {
	struct outfile *file;
	int err; /* the commit, not the stream, failed */
};

/*
 * save and resume of a set (a->pos[1] given), into or from @fd (set.c);
 * @commit: the output file's, or NULL.  The status.
 */
int cli_save_set(struct transfer_args *a, int fd, struct output_commit *commit);
int cli_resume_set(struct transfer_args *a, int fd);

/* A device of a set */
struct cli_member {
	const char *arg;
	const struct migctl_device_desc *desc;
	struct migctl_xfer_result res;
	uint64_t precopy_bytes;
	char message[PATH_MAX + 1024]; /* its error line */
};

/*
 * A set's report: each member's error line (the one that failed first
 * first: its status is the set's), then one summary per member and one
 * for the set (JSON: "devices", an array of the one-device objects).
 */
int cli_report_set(const struct transfer_report *t, struct cli_member *m, size_t n, size_t failed);

#endif
