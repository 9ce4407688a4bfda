// SPDX-License-Identifier: GPL-2.0-or-later
/* parse_duration(): --downtime, --precopy-timeout and --timeout's one parser */
#include <errno.h>

#include "unit.h"
#include "util.h"

static void good(const char *arg, double want)
{
	double got = -1;
	int r = parse_duration(arg, &got);

	CHECK(r == 0 && got > want - 1e-9 && got < want + 1e-9, "'%s' is %g s (got %d, %g)", arg,
	      want, r, got);
}

static void bad(const char *arg)
{
	double got = -1;

	CHECK_EQ_INT(parse_duration(arg, &got), -EINVAL, "'%s' is refused", arg);
}

int main(void)
{
	good("300ms", 0.3);
	good("2s", 2);
	good("1.5", 1.5);
	good("0", 0);
	good(".25s", 0.25);
	good("100ms", 0.1);
	bad("");
	bad("ms");
	bad("-1");
	bad("+1");
	bad(" 1");
	bad("1 s");
	bad("1m");
	bad("1sec");
	bad("0x10");
	bad("inf");
	bad("nan");
	bad("1e3");
	return unit_done();
}
