// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * migsim-ref: the reference the migsim suites and the benchmark measure
 * vfio-migctl against, and two small tools they need.
 *
 *   migsim-ref [-b SIZE] [--via=cdev|group] save DEV     STOP_COPY stream to stdout
 *   migsim-ref [-b SIZE] [--via=cdev|group] resume DEV   stdin into RESUMING
 *   migsim-ref [-b SIZE] [--via=cdev|group] precopy DEV  PRE_COPY probe
 *   migsim-ref [-b SIZE] [--via=cdev|group] steps DEV STEP...  (below)
 *   migsim-ref throttle RATE        copy stdin to stdout at RATE bytes/s
 *   migsim-ref rusage FILE CMD...   run CMD, write its peak RSS (KiB), user
 *                                   and system CPU seconds to FILE, a line each
 *
 * save and resume are the plainest possible clients: one read()/write()
 * loop with one buffer (-b, default 1M like vfio-migctl), no framing, no
 * checks beyond the return codes, no recovery.  precopy enters PRE_COPY
 * and, until a read says ENOMSG, prints what VFIO_MIG_GET_PRECOPY_INFO
 * and each read() return, one line each on stderr ("info INITIAL DIRTY",
 * "read N", "enomsg"), then STOP_COPY to the end ("stopcopy N"); the
 * bytes go to stdout.  Sizes take K, M, G suffixes.
 *
 * steps does what it is told, in order, with raw ioctls where the library
 * has no call (feature 12, PRECOPY_INFO's flags), one line each on stderr;
 * the data read goes to stdout:
 *   probe12 | optin | get12   VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 with
 *                     PROBE|SET, SET, GET: "probe12 0" or "... EINVAL"
 *   state:NAME        go to a state (a data_fd given is kept)
 *   info[:FLAGS]      PRECOPY_INFO passing FLAGS (default 0):
 *                     "info INITIAL DIRTY FLAGS BEFORE AFTER", the ms
 *                     from the last state change to the call and to its
 *                     return
 *   read[:N]          N reads (default 1): "read BYTES" or "enomsg"
 *   sleep:MS          sleep
 *   datasize          MIG_DATA_SIZE: "datasize BYTES"
 *   stopcopy          STOP_COPY, read to the end, STOP: "stopcopy BYTES"
 *
 * Exit: 0 ok, 1 failure, 2 usage, 3 cannot open the device; rusage exits
 * with CMD's status.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migctl.h"
#include "vfio-uapi.h"

#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12
#endif

static const char *prog = "migsim-ref";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s [-b SIZE] [--via=cdev|group] save|resume|precopy DEV\n"
		"       %s [-b SIZE] [--via=cdev|group] steps DEV STEP...\n"
		"       %s throttle RATE\n"
		"       %s rusage FILE CMD...\n",
		prog, prog, prog, prog);
	exit(2);
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
	return 1;
}

static int parse_size(const char *s, size_t *v)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'G': n <<= 10; /* fall through */
	case 'M': n <<= 10; /* fall through */
	case 'K': n <<= 10; end++; break;
	}
	if (*end || n == 0)
		return -1;
	*v = (size_t)n;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The reference loop: read() into one buffer, write() it all, again */
static int pump(int in, int out, char *buf, size_t size, unsigned long long *total)
{
	for (;;) {
		ssize_t n = read(in, buf, size);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		r = write_all(out, buf, (size_t)n);
		if (r)
			return r;
		*total += (unsigned long long)n;
	}
}

static int precopy(int fd, char *buf, size_t size, unsigned long long *total)
{
	uint64_t initial, dirty;
	ssize_t n;
	int r;

	for (;;) {
		r = migctl_precopy_info(fd, &initial, &dirty);
		if (r)
			return r;
		fprintf(stderr, "info %llu %llu\n", (unsigned long long)initial,
			(unsigned long long)dirty);
		n = read(fd, buf, size);
		if (n < 0 && errno == ENOMSG) {
			fprintf(stderr, "enomsg\n");
			return 0;
		}
		if (n < 0)
			return -errno;
		fprintf(stderr, "read %zd\n", n);
		if (n == 0)
			return 0;
		r = write_all(STDOUT_FILENO, buf, (size_t)n);
		if (r)
			return r;
		*total += (unsigned long long)n;
	}
}

/* feature 12 with FLAGS and no payload: "NAME 0" or "NAME ERRNAME" */
static void feature12(struct migctl_dev *dev, const char *name, uint32_t flags)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = flags | VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
	};
	int r = ioctl(migctl_dev_fd(dev), VFIO_DEVICE_FEATURE, &f) ? errno : 0;

	fprintf(stderr, "%s %s\n", name, r ? strerrorname_np(r) : "0");
}

static int steps(struct migctl_dev *dev, char **argv, char *buf, size_t size)
{
	unsigned long long total = 0;
	double t_state = now();
	int fd = -1, r = 0;

	for (; *argv && !r; argv++) {
		const char *step = *argv, *arg = strchr(step, ':');
		size_t len = arg ? (size_t)(arg++ - step) : strlen(step);
		unsigned long n = arg ? strtoul(arg, NULL, 0) : 1;
		enum migctl_state state;

#define IS(name) (len == strlen(name) && !strncmp(step, name, len))
		if (IS("probe12")) {
			feature12(dev, step, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET);
		} else if (IS("optin")) {
			feature12(dev, step, VFIO_DEVICE_FEATURE_SET);
		} else if (IS("get12")) {
			feature12(dev, step, VFIO_DEVICE_FEATURE_GET);
		} else if (IS("state") && arg && !migctl_state_parse(arg, &state)) {
			int nfd = -1;

			r = migctl_set_state(dev, state, &nfd);
			if (nfd >= 0) {
				if (fd >= 0)
					close(fd);
				fd = nfd;
			}
			t_state = now();
		} else if (IS("info")) {
			struct vfio_precopy_info info = {
				.argsz = sizeof(info),
				.flags = (uint32_t)strtoul(arg ? arg : "0", NULL, 0),
			};
			double before = now();

			if (ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info))
				r = -errno;
			else
				fprintf(stderr, "info %llu %llu %u %.3f %.3f\n",
					(unsigned long long)info.initial_bytes,
					(unsigned long long)info.dirty_bytes, info.flags,
					(before - t_state) * 1e3, (now() - t_state) * 1e3);
		} else if (IS("read")) {
			for (; n && !r; n--) {
				ssize_t got = read(fd, buf, size);

				if (got < 0 && errno == ENOMSG) {
					fprintf(stderr, "enomsg\n");
				} else if (got < 0) {
					r = -errno;
				} else {
					fprintf(stderr, "read %zd\n", got);
					r = write_all(STDOUT_FILENO, buf, (size_t)got);
				}
			}
		} else if (IS("sleep") && arg) {
			nanosleep(&(struct timespec){ (time_t)(n / 1000), (long)(n % 1000) * 1000000 },
				  NULL);
		} else if (IS("datasize")) {
			uint64_t bytes;

			r = migctl_data_size(dev, &bytes);
			if (!r)
				fprintf(stderr, "datasize %llu\n", (unsigned long long)bytes);
		} else if (IS("stopcopy")) {
			int nfd = -1;

			total = 0;
			r = migctl_set_state(dev, MIGCTL_STATE_STOP_COPY, &nfd);
			if (nfd >= 0) {
				if (fd >= 0)
					close(fd);
				fd = nfd;
			}
			if (!r)
				r = pump(fd, STDOUT_FILENO, buf, size, &total);
			if (!r)
				fprintf(stderr, "stopcopy %llu\n", total);
			if (!r)
				r = migctl_set_state(dev, MIGCTL_STATE_STOP, &nfd);
		} else {
			fprintf(stderr, "%s: bad step '%s'\n", prog, step);
			r = -EINVAL;
		}
#undef IS
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static int device_cmd(const char *cmd, const char *arg, char **rest, enum migctl_via via,
		      size_t size)
{
	unsigned long long total = 0, pre = 0;
	struct migctl_device_desc target;
	struct migctl_root root;
	struct migctl_dev *dev;
	int fd = -1, r;
	double t0 = now();
	char *buf;

	if (strcmp(cmd, "save") && strcmp(cmd, "resume") && strcmp(cmd, "precopy") &&
	    strcmp(cmd, "steps"))
		usage();

	buf = malloc(size);
	if (!buf)
		return fail("buffer", ENOMEM);
	r = migctl_root_init(&root, NULL);
	if (!r)
		r = migctl_resolve(&root, arg, via, &target);
	if (!r)
		r = migctl_dev_open(&root, &target, &dev);
	if (r) {
		fail(arg, -r);
		free(buf);
		return 3;
	}

	if (!strcmp(cmd, "steps")) {
		r = steps(dev, rest, buf, size);
	} else if (!strcmp(cmd, "resume")) {
		r = migctl_set_state(dev, MIGCTL_STATE_RESUMING, &fd);
		if (!r)
			r = pump(STDIN_FILENO, fd, buf, size, &total);
		if (fd >= 0)
			close(fd);
		if (!r)
			r = migctl_set_state(dev, MIGCTL_STATE_STOP, &fd);
		if (!r)
			r = migctl_set_state(dev, MIGCTL_STATE_RUNNING, &fd);
	} else {
		if (!strcmp(cmd, "precopy")) {
			r = migctl_set_state(dev, MIGCTL_STATE_PRE_COPY, &fd);
			if (!r)
				r = precopy(fd, buf, size, &pre);
			if (!r)
				r = migctl_set_state(dev, MIGCTL_STATE_STOP_COPY, &(int){ -1 });
		} else {
			r = migctl_set_state(dev, MIGCTL_STATE_STOP_COPY, &fd);
		}
		if (!r)
			r = pump(fd, STDOUT_FILENO, buf, size, &total);
		if (fd >= 0)
			close(fd);
		if (!r && !strcmp(cmd, "precopy"))
			fprintf(stderr, "stopcopy %llu\n", total);
		if (!r)
			r = migctl_set_state(dev, MIGCTL_STATE_STOP, &fd);
	}
	migctl_dev_close(dev);
	free(buf);
	if (r)
		return fail(cmd, -r);
	fprintf(stderr, "%s: %s %llu bytes in %.3f s\n", prog, cmd, pre + total,
		now() - t0);
	return 0;
}

static int throttle(const char *arg)
{
	size_t rate, chunk;
	double t0 = now(), ahead;
	unsigned long long total = 0;
	char buf[65536];
	ssize_t n;

	if (parse_size(arg, &rate))
		usage();
	/* ten writes a second at least, so the rate is smooth */
	chunk = rate / 10 < sizeof(buf) ? rate / 10 + 1 : sizeof(buf);
	while ((n = read(STDIN_FILENO, buf, chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("read", errno);
		if (write_all(STDOUT_FILENO, buf, (size_t)n))
			return fail("write", errno);
		total += (unsigned long long)n;
		ahead = (double)total / (double)rate - (now() - t0);
		if (ahead > 0)
			nanosleep(&(struct timespec){ (time_t)ahead,
						      (long)((ahead - (double)(time_t)ahead) * 1e9) },
				  NULL);
	}
	return 0;
}

static int run_rusage(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 2)
		usage();
	pid = fork();
	if (pid < 0)
		return fail("fork", errno);
	if (pid == 0) {
		execvp(argv[1], &argv[1]);
		fprintf(stderr, "%s: %s: %s\n", prog, argv[1], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return fail("wait", errno);
	f = fopen(argv[0], "w");
	if (!f || fprintf(f, "%ld\n%ld.%06ld\n%ld.%06ld\n", ru.ru_maxrss,
			  (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
			  (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec) < 0 ||
	    fclose(f))
		return fail(argv[0], errno);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "buffer-size", required_argument, NULL, 'b' },
		{ "via", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	enum migctl_via via = MIGCTL_VIA_AUTO;
	size_t size = MIGCTL_DEFAULT_BUFFER;
	int c;

	while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_size(optarg, &size))
				usage();
			break;
		case 'v':
			if (!strcmp(optarg, "cdev"))
				via = MIGCTL_VIA_CDEV;
			else if (!strcmp(optarg, "group"))
				via = MIGCTL_VIA_GROUP;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc >= 2 && !strcmp(argv[0], "rusage"))
		return run_rusage(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[0], "steps"))
		return device_cmd(argv[0], argv[1], argv + 2, via, size);
	if (argc != 2)
		usage();
	if (!strcmp(argv[0], "throttle"))
		return throttle(argv[1]);
	return device_cmd(argv[0], argv[1], NULL, via, size);
}
