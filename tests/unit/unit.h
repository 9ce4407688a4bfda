/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tiny TAP producer for the unit tests: each test binary prints
 * "ok N - what" / "not ok N - what" and exits 1 if anything failed.
 */
#ifndef MIGCTL_UNIT_H
#define MIGCTL_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_count, unit_failed;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		unit_count++;                                              \
		if (cond) {                                                \
			printf("ok %d - ", unit_count);                    \
		} else {                                                   \
			unit_failed++;                                     \
			printf("not ok %d - %s:%d: ", unit_count, __FILE__, \
			       __LINE__);                                  \
		}                                                          \
		printf(__VA_ARGS__);                                       \
		putchar('\n');                                             \
	} while (0)

#define CHECK_EQ_INT(got, want, ...)                                       \
	do {                                                               \
		long long g_ = (got), w_ = (want);                         \
		CHECK(g_ == w_, __VA_ARGS__);                              \
		if (g_ != w_)                                              \
			printf("#   got %lld, want %lld\n", g_, w_);       \
	} while (0)

#define CHECK_EQ_STR(got, want, ...)                                       \
	do {                                                               \
		const char *g_ = (got), *w_ = (want);                      \
		int same_ = g_ && w_ && strcmp(g_, w_) == 0;               \
		CHECK(same_, __VA_ARGS__);                                 \
		if (!same_)                                                \
			printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", \
			       w_ ? w_ : "(null)");                        \
	} while (0)

static inline int unit_done(void)
{
	printf("1..%d\n", unit_count);
	return unit_failed ? 1 : 0;
}

#endif
