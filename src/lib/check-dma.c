// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check's rules on DMA logging: START, REPORT and STOP, and the requests
 * they must refuse (dma.*).
 *
 * Each rule is a struct check_rule beside its body, written from the uAPI's
 * own words; check.c runs them in the order of its table.
 */
#include <stdio.h>

#include "check.h"

#define DMA_PAGE 4096u
#define DMA_SPAN (1u << 20)

static bool dma_offered(struct rule_run *x)
{
	bool offered;
	int r = migctl_dma_logging_supported(x->d->dev, &offered);

	if (r)
		check_finding(x, MIGCTL_FAIL, "the DMA_LOGGING_START probe fails with %s",
			      check_eno(r));
	else if (!offered)
		check_skipped(x, "DMA logging is not offered");
	return !r && offered;
}

static void check_dma_start_report_stop(struct rule_run *x)
{
	const struct migctl_dma_range range = { 0, DMA_SPAN };
	uint64_t page = DMA_PAGE, bitmap[DMA_SPAN / DMA_PAGE / 64] = { 0 };
	unsigned int dirty = 0;
	int r;

	if (!dma_offered(x))
		return;
	if ((r = migctl_dma_logging_start(x->d->dev, &range, 1, &page))) {
		check_finding(x, MIGCTL_FAIL, "START on [0, 1 MiB) in 4 KiB pages fails with %s",
			      check_eno(r));
		return;
	}
	if (!page || (page & (page - 1)))
		check_finding(x, MIGCTL_FAIL, "START chose a page size of %llu: not a power of two",
			      (unsigned long long)page);
	if ((r = migctl_dma_logging_report(x->d->dev, &range, DMA_PAGE, bitmap)))
		check_finding(x, MIGCTL_FAIL, "REPORT on [0, 1 MiB) fails with %s", check_eno(r));
	if ((r = migctl_dma_logging_stop(x->d->dev)))
		check_finding(x, MIGCTL_FAIL, "STOP fails with %s", check_eno(r));
	for (size_t i = 0; i < ARRAY_SIZE(bitmap); i++)
		dirty += (unsigned int)__builtin_popcountll(bitmap[i]);
	check_passed(x,
		     "START, REPORT and STOP on [0, 1 MiB) worked (page size %llu; %u pages dirty)",
		     (unsigned long long)page, dirty);
}

const struct check_rule rule_dma_start_report_stop = {
	.rule = {
		.id = "dma.start-report-stop",
		.statement = "Where DMA logging is offered, START on a valid range, REPORT on it "
			     "and STOP succeed",
		.source = VFIO_H ", VFIO_DEVICE_FEATURE_DMA_LOGGING_START: \"A single call to "
			  "start device DMA logging can be issued and a matching stop should "
			  "follow\"; DMA_LOGGING_REPORT",
	},
	.run = check_dma_start_report_stop,
};

/* A request that must be refused: @what (and the errno that refused it) onto its list */
static void dma_refused(const char *what, int r, char *refused, char *taken, size_t size)
{
	char item[96];

	snprintf(item, sizeof(item), "%s (%s)", what, r ? check_eno(r) : "");
	str_list_add(r ? refused : taken, size, r ? item : what);
}

static void check_dma_refused(struct rule_run *x)
{
	const struct migctl_dma_range good = { 0, DMA_SPAN }, unaligned = { 1, DMA_PAGE },
				      overlapping[] = { { 0, 2 * DMA_PAGE },
							{ DMA_PAGE, 2 * DMA_PAGE } };
	const struct {
		const char *what;
		const struct migctl_dma_range *ranges;
		uint32_t count;
	} starts[] = {
		{ "START without ranges", &good, 0 },
		{ "START on an unaligned range", &unaligned, 1 },
		{ "START on overlapping ranges", overlapping, 2 },
	};
	uint64_t page, bitmap[DMA_SPAN / DMA_PAGE / 64];
	char refused[256] = "", taken[256] = "";
	int r;

	if (!dma_offered(x))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(starts); i++) {
		page = DMA_PAGE;
		r = migctl_dma_logging_start(x->d->dev, starts[i].ranges, starts[i].count, &page);
		if (!r)
			migctl_dma_logging_stop(x->d->dev);
		dma_refused(starts[i].what, r, refused, taken, sizeof(refused));
	}
	r = migctl_dma_logging_report(x->d->dev, &good, DMA_PAGE, bitmap);
	dma_refused("REPORT with logging off", r, refused, taken, sizeof(refused));
	page = DMA_PAGE;
	if ((r = migctl_dma_logging_start(x->d->dev, &good, 1, &page))) {
		check_finding(x, MIGCTL_FAIL, "START on [0, 1 MiB) fails with %s", check_eno(r));
	} else {
		page = DMA_PAGE;
		r = migctl_dma_logging_start(x->d->dev, &good, 1, &page);
		dma_refused("a second START", r, refused, taken, sizeof(refused));
		migctl_dma_logging_stop(x->d->dev);
	}
	if (taken[0])
		check_finding(x, MIGCTL_FAIL, "succeeded: %s", taken);
	check_passed(x, "refused: %s", refused);
}

const struct check_rule rule_dma_refused = {
	.rule = {
		.id = "dma.refused",
		.statement = "DMA logging START without ranges, on an unaligned or overlapping "
			     "range, or while logging is on, and REPORT while it is off, fail",
		.source = VFIO_H ": \"Another start is not allowed in the meantime\"; \"If DMA "
			  "logging is not enabled, an error will be returned\"; "
			  "drivers/vfio/vfio_main.c, vfio_ioctl_device_feature_logging_start(); "
			  "include/linux/vfio.h, struct vfio_log_ops: \"rejecting subsequent calls "
			  "to log_start without an intervening log_stop\"",
	},
	.run = check_dma_refused,
};
