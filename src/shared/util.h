/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers that know nothing of VFIO, shared by the core (src/lib)
 * and the front end (src/cli), in the way of kmod's shared/.
 */
#ifndef MIGCTL_SHARED_UTIL_H
#define MIGCTL_SHARED_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* snprintf that reports truncation as -ENAMETOOLONG */
int path_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copy @src whole or not at all: -ENAMETOOLONG if it does not fit */
int str_copy(char *dst, size_t size, const char *src);
/* Add @item to the ", "-separated list in @buf (NUL-terminated; cut at @size) */
void str_list_add(char *buf, size_t size, const char *item);
bool path_exists(const char *path);
/* The last component of @path (no copy, no change) */
const char *path_base(const char *path);
/* First line of the file @dir/@name, newline stripped */
int read_first_line(const char *dir, const char *name, char *buf, size_t size);

double monotonic_seconds(void);
/* One step of a busy wait: tells the CPU so (and a sibling thread may run) */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}
/* CLOCK_MONOTONIC in @timeout_ms, for pthread_cond_timedwait() on a monotonic_cond_init() cond */
void monotonic_deadline(struct timespec *ts, int timeout_ms);
void monotonic_cond_init(pthread_cond_t *cond);
/*
 * A DURATION: a number of seconds, or a number with "s" or "ms" ("1.5",
 * "2s", "300ms"); -EINVAL for anything else (a sign, a space, "inf")
 */
int parse_duration(const char *arg, double *seconds);

#endif
