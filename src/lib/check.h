/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What check's engine (check.c), its moves on the device (check-device.c)
 * and its rules (check-<family>.c) share: the devices under check, a
 * rule's findings, and the moves every rule makes.  Internal to libmigctl.
 */
#ifndef MIGCTL_CHECK_H
#define MIGCTL_CHECK_H

#include <stdarg.h>
#include <stdbool.h>

#include "internal.h"
#include "stream.h"

/* Bytes per read() of a data_fd */
#define CHUNK (64u << 10)

struct membuf {
	uint8_t *data;
	size_t len, cap, max;
};

struct check_dev {
	struct migctl_dev *dev;
	struct migctl_putback pb;
	bool used;	     /* saved (or refused) and to be put back */
	struct membuf saved; /* its STOP_COPY stream as found */
	bool lost;	     /* could not be brought back to pb.found */
	char lost_why[160];
	/*
	 * Went into ERROR during a rule: no more moves (check_go() and
	 * check_set_state() refuse, -EBADFD) and no more findings; the rule
	 * FAILs with broke_why, and settle() resets the device
	 */
	bool broke;
	char broke_why[160];
};

struct migctl_check {
	struct check_dev d[2]; /* DEV, and DEV2 if d[1].dev */
	char dev2_unlike[256]; /* why DEV2 cannot take DEV's stream ("" if it can) */
	struct migctl_check_opts opts;
	size_t max;
	uint8_t *buf; /* CHUNK bytes for reads */
};

struct rule_run {
	struct migctl_check *c;
	struct check_dev *d; /* DEV */
	struct migctl_rule_result *r;
	unsigned int more; /* findings of the same weight beyond the one told */
};

/* What a rule needs of the device, else it is skipped */
enum {
	NEED_STOP_COPY = 1 << 0,
	NEED_PRE_COPY = 1 << 1,
	NEED_SAVED = 1 << 2, /* a stream the device accepts: its saved state */
};

/*
 * A rule, defined beside its body: what it checks, where the uAPI says so,
 * what it needs of the device.  check.c's table puts the rules in order.
 */
struct check_rule {
	struct migctl_rule rule;
	unsigned int needs;
	void (*run)(struct rule_run *x);
};

/* The file most rules quote */
#define VFIO_H "include/uapi/linux/vfio.h"

/* check.c: a finding, the heaviest told, the first of its weight; the rest counted */
void check_finding(struct rule_run *x, enum migctl_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* What a rule that found nothing says */
void check_passed(struct rule_run *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void check_skipped(struct rule_run *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "EINVAL": a driver author wants the errno's name, as the uAPI spells it */
const char *check_eno(int err);

/* check-device.c: a stream in memory, and the moves on the device */
int check_membuf_add(struct membuf *b, const void *p, size_t n);
void check_membuf_free(struct membuf *b);
void check_close_fd(int *fd);
enum migctl_state check_get_state(struct check_dev *d);
bool check_offers(struct check_dev *d, enum migctl_state s);
/*
 * SET @s; a data_fd it returns replaces *fd (closed at once when fd is
 * NULL).  Never from ERROR: -EBADFD, nothing asked (check_dev.broke)
 */
int check_set_state(struct check_dev *d, enum migctl_state s, int *fd);
/* Write the device's saved stream into the RESUMING session @fd */
int check_write_saved(struct check_dev *d, int fd);
/* Move to @s from wherever the device is, keeping a data session in *fd */
int check_go(struct check_dev *d, enum migctl_state s, int *fd);
/* Back to the state found, after a rule: out of ERROR by reset, then check_go() */
int check_go_found(struct check_dev *d);
/* Was a signal's cancel asked for (opts->cancel)? */
bool check_cancelled(const struct migctl_check *c);
/* Read @fd to its end into @out (NULL: count only); -EFBIG past the bound, -EINTR on a cancel */
int check_read_to_end(struct migctl_check *c, int fd, struct membuf *out, size_t *total);
/* The states a device offers, in the order the rules visit them */
size_t check_tour(struct check_dev *d, enum migctl_state states[MIGCTL_NR_STATES]);
/* @from, then @to with the data_fd it returns in *fd: false if none was opened */
bool check_open_session(struct check_dev *d, enum migctl_state from, enum migctl_state to, int *fd);
/* check_open_session(), a FAIL if it does not open */
bool check_enter_session(struct rule_run *x, enum migctl_state from, enum migctl_state to, int *fd);
/* The FAIL of a session's arc that gave no data_fd */
void check_no_data_fd(struct rule_run *x, enum migctl_state from, enum migctl_state to);
/*
 * A STOP_COPY stream of @d into @out, ending in @then; and @in back into
 * @d.  Both stop when *@cancel is set (NULL: never, as the put back)
 */
int check_save_into(struct check_dev *d, enum migctl_state then, struct membuf *out,
		    volatile sig_atomic_t *cancel);
int check_resume_from(struct check_dev *d, enum migctl_state then, const struct membuf *in,
		      struct migctl_xfer_result *res, volatile sig_atomic_t *cancel);

#endif
