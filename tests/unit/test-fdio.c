// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Whole reads and writes (src/shared/fdio.c) and the cancel flag: a
 * transfer a signal interrupts part-way gives up with -EINTR; one that
 * completed is a success, whatever the flag became meanwhile (an END
 * record fully written is not "interrupted").
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "fdio.h"
#include "unit.h"

static volatile sig_atomic_t cancel;

static void on_alarm(int sig)
{
	(void)sig;
	cancel = 1;
}

/* SIGALRM in @ms sets the flag, without SA_RESTART (as the CLI's handler) */
static void cancel_in(int ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval t = { .it_value = { .tv_usec = ms * 1000 } };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &t, NULL);
}

static void test_complete_despite_flag(void)
{
	char out[4096], in[4096];
	size_t got = 0;
	int p[2], r;

	memset(out, 'x', sizeof(out));
	if (pipe(p))
		abort();
	/* The flag is up before the transfer and it still goes through whole */
	cancel = 1;
	r = write_all(p[1], out, sizeof(out), &cancel);
	CHECK_EQ_INT(r, 0, "write_all that wrote everything is a success, flag or not");
	r = read_full(p[0], in, sizeof(in), &got, &cancel);
	CHECK(r == 0 && got == sizeof(in) && !memcmp(in, out, sizeof(in)),
	      "read_full that read everything is a success, flag or not (%d, %zu)", r, got);
	close(p[1]);
	r = read_full(p[0], in, sizeof(in), &got, &cancel);
	CHECK(r == 0 && got == 0, "read_full at end of file is a success, flag or not (%d)", r);
	close(p[0]);
	cancel = 0;
}

static void test_interrupted(void)
{
	char buf[65536] = { 0 };
	size_t got = 5;
	int p[2], r;

	if (pipe(p))
		abort();
	/* Fill the pipe: the next write blocks until the signal */
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) == 0)
		while (write(p[1], buf, sizeof(buf)) > 0)
			;
	fcntl(p[1], F_SETFL, 0);
	cancel_in(50);
	r = write_all(p[1], buf, sizeof(buf), &cancel);
	CHECK_EQ_INT(r, -EINTR, "a signal that sets the flag mid-write: -EINTR");
	cancel = 0;
	close(p[1]);
	close(p[0]);

	if (pipe(p))
		abort();
	cancel_in(50);
	r = read_full(p[0], buf, sizeof(buf), &got, &cancel);
	CHECK(r == -EINTR && got == 0, "a signal that sets the flag mid-read: -EINTR (%d)", r);
	cancel = 0;
	close(p[1]);
	close(p[0]);
}

int main(void)
{
	test_complete_despite_flag();
	test_interrupted();
	return unit_done();
}
