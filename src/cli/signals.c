// SPDX-License-Identifier: GPL-2.0-or-later
/* Interrupts: a flag the core polls, so that it can put the device back. */
#include <signal.h>

#include "cli.h"

volatile sig_atomic_t cli_cancel;

static void on_signal(int sig)
{
	(void)sig;
	cli_cancel = 1;
}

/* Nothing to do: arriving is the point (a blocked call returns EINTR) */
static void on_wake(int sig)
{
	(void)sig;
}

void cli_catch_signals(void)
{
	/* No SA_RESTART: a blocked read or write must return EINTR */
	struct sigaction sa = { .sa_handler = on_signal }, wake = { .sa_handler = on_wake };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&wake.sa_mask);
	sigaction(CLI_WAKE_SIGNAL, &wake, NULL);
	/* A reader that goes away is EPIPE on write, handled like any error */
	signal(SIGPIPE, SIG_IGN);
}
