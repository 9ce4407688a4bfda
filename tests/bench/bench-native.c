// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The transfer engine's own cost, natively: its threads, ring, framing,
 * verification, sink and source, driven through xfer_save_fd() and
 * xfer_resume_fd() over data_fds that are not a device's but run at
 * memory speed, beside a plain read()/write() loop with the same 1 MiB
 * buffer on the same fds.  The kernel's VFIO path is the VM benchmark's.
 *
 *   save_devnull    memfd (the device) -> framed stream -> /dev/null
 *   save_tmpfs      memfd -> framed stream -> a new file in tmpfs
 *   save_pipe_resume save | resume: memfd -> stream -> pipe -> a second
 *                   process -> /dev/null (the device it resumes)
 *   resume_single   a tmpfs file -> /dev/null, record by record
 *                   (resume --single-pass -i FILE)
 *   resume_verified the same file verified whole first, as resume -i FILE
 *                   does (src/cli/resume.c), then loaded
 *
 * The device's data is a memfd: filled with data up to 1 GiB, so that a
 * read() is a copy as a device's is; larger sizes are streamed from a
 * sparse memfd (read() fills with zeros, no memory held), since the
 * machine may not hold the state and its tmpfs file at once.  A size the
 * machine cannot hold now is scaled down, and the run says so.  The
 * resumed "device" is /dev/null: writing into it costs nothing, so the
 * figures are the engine's and the stream's, not a device's.
 *
 * save_devnull and resume_single are also run through the bound
 * (pipeline-bound.h): the least pipeline that checksums each byte on the
 * other core, read on one thread, checksummed and written on another,
 * sleeping between chunks as the engine's stages do, and spinning.  The
 * engine is measured against it: what it cannot reach, no pipeline that
 * checksums on a second core and sleeps can on this machine.  The
 * machine's own costs that bound it are measured first: memcpy on one
 * core, a wake's cost to its waker and its latency, and the checksums
 * over data in this core's cache and over data the other core just wrote.
 *
 * Every run is a process of its own (fork), so that its peak RSS is its
 * own; the variants of a case alternate, round after round, so that load
 * drifting during the run hits them alike.  The figures are the medians
 * of the rounds, the best beside them.
 *
 * Usage: bench-native [-d TMPDIR] [-k CASE,...] [GIB[:ROUNDS]...]
 *        (default: every case, 1 GiB 15 rounds and 8 GiB 3 rounds)
 * Prints figures only; nothing passes or fails on time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "fdio.h"
#include "pipeline-bound.h"
#include "stream.h"

#define CHUNK MIGCTL_DEFAULT_BUFFER
#define GIB (1ull << 30)
#define MIB (1ull << 20)
/* Above this the device's data is a sparse memfd (zero-filled reads) */
#define FILLED_MAX GIB
#define MAX_ROUNDS 31
#define MAX_THREADS 8
#define TMPFS_MAGIC 0x01021994

/* The lines for scripts, printed together at the end */
static char summary[64][96];
static int summaries;

static void __attribute__((format(printf, 1, 2))) summarize(const char *fmt, ...)
{
	va_list ap;

	if (summaries == (int)(sizeof(summary) / sizeof(summary[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(summary[summaries++], sizeof(summary[0]), fmt, ap);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench-native: %s: %s\n", what, strerror(err));
	exit(1);
}

static double tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

/*
 * ---- CPU time per thread.  The engine's threads are its own: every
 * pthread_create() of this program (the library's included) goes through
 * this wrapper (-Wl,--wrap=pthread_create), which adds what each thread
 * used, from RUSAGE_THREAD as it returns, to a slot of the shared page.
 * Slot 0 is the calling thread; the others are numbered in order of
 * creation.
 */
struct side {
	double cpu[MAX_THREADS]; /* user + system seconds */
	int threads;
	long rss_kib; /* ru_maxrss of the process */
	bool ok;
};

struct sample {
	double wall;
	double verify;	     /* resume_verified: the verify-first pass's share of wall */
	struct side side[2]; /* the measured process; the resuming one of a pipe */
};

static struct sample *shared; /* MAP_SHARED: the runs write, the parent reads */
static struct side *me;	      /* this process's side of it */

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

struct start {
	void *(*fn)(void *);
	void *arg;
	int slot;
};

static void *counted(void *p)
{
	struct start s = *(struct start *)p;
	struct rusage ru;
	void *ret;

	free(p);
	ret = s.fn(s.arg);
	getrusage(RUSAGE_THREAD, &ru);
	if (me && s.slot < MAX_THREADS)
		me->cpu[s.slot] += tv(ru.ru_utime) + tv(ru.ru_stime);
	return ret;
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	struct start *s = malloc(sizeof(*s));
	int r;

	if (!s)
		return ENOMEM;
	*s = (struct start){ .fn = fn, .arg = arg, .slot = me ? ++me->threads : MAX_THREADS };
	r = __real_pthread_create(t, attr, counted, s);
	if (r)
		free(s);
	return r;
}

/* The calling thread's own share, at the end of a run */
static void count_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	me->cpu[0] = tv(ru.ru_utime) + tv(ru.ru_stime);
}

/* ---- the endpoints */

static uint64_t size; /* bytes of device data per run */
static int device_fd; /* the saved device's data: a memfd */
static bool filled;   /* device_fd holds data (else sparse: zeros) */
static const char *tmpdir = "/dev/shm";
static char out_path[4096], in_path[4096]; /* save_tmpfs's, the resumes' */

static const struct migctl_xfer_opts opts = { .buffer_size = CHUNK };

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		die(path, errno);
	return fd;
}

/* The device's data from its start: a descriptor of its own per run */
static int device(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", device_fd);
	return open_or_die(path, O_RDONLY);
}

static void header(struct migctl_stream_header *h)
{
	const struct migctl_device_desc t = {
		.name = "0000:3b:00.1",
		.bus = MIGCTL_BUS_PCI,
		.driver = "vfio-pci",
		.vendor = 0x15b3,
		.device = 0x101e,
	};
	int r = migctl_stream_header_from_desc(h, &t, MIGCTL_FLAG_STOP_COPY, size);

	if (r)
		die("header", -r);
}

/* The plain loop: what the engine is measured against */
static uint64_t bare_copy(int in, int out)
{
	static uint8_t *buf;
	uint64_t total = 0;
	ssize_t n;

	if (!buf && !(buf = malloc(CHUNK)))
		die("malloc", ENOMEM);
	while ((n = read(in, buf, CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read", errno);
		if (write_all(out, buf, (size_t)n, NULL))
			die("write", errno);
		total += (uint64_t)n;
	}
	return total;
}

static bool framed_save(int out)
{
	struct migctl_stream_header h;
	struct migctl_stream_writer w;
	struct migctl_xfer_result res;
	struct migctl_sink sink;
	int in = device(), r;

	header(&h);
	r = migctl_stream_writer_init(&w, out, &h, NULL);
	if (r)
		die("writer", -r);
	migctl_stream_writer_sink(&w, &sink);
	r = xfer_save_fd(in, &opts, &sink, &res);
	migctl_stream_writer_close(&w);
	close(in);
	if (r)
		fprintf(stderr, "bench-native: save: %s\n", strerror(-r));
	return !r && res.bytes == size;
}

/*
 * resume -i FILE without --single-pass (src/cli/resume.c): the whole file
 * verified (migctl_stream_scan), then read again from its start
 */
static int verify_first(struct migctl_stream_reader *rd, int in)
{
	struct migctl_stream_stats st;
	int r = migctl_stream_scan(rd, &st);

	if (r)
		return r;
	migctl_stream_reader_close(rd);
	if (lseek(in, 0, SEEK_SET) < 0)
		return -errno;
	return migctl_stream_reader_open(rd, in, NULL);
}

static bool framed_resume(int in, bool whole_first)
{
	struct migctl_stream_reader rd;
	struct migctl_xfer_result res;
	struct migctl_source src;
	int out = open_or_die("/dev/null", O_WRONLY), r;

	pipe_grow(in, CHUNK); /* as the CLI does */
	r = migctl_stream_reader_open(&rd, in, NULL);
	if (!r && whole_first) {
		double t = now();

		r = verify_first(&rd, in);
		shared->verify = now() - t;
	}
	if (!r) {
		migctl_stream_reader_source(&rd, &src);
		r = xfer_resume_fd(out, &opts, &src, &res);
	}
	if (r)
		fprintf(stderr, "bench-native: resume: %s %s\n", strerror(-r),
			migctl_stream_reader_error(&rd));
	migctl_stream_reader_close(&rd);
	close(out);
	return !r && res.bytes == size;
}

/* ---- the cases: each run in a process of its own */

enum kind { SAVE_DEVNULL, SAVE_TMPFS, SAVE_PIPE, RESUME_SINGLE, RESUME_VERIFIED, NR_KINDS };

static const struct {
	const char *name, *label;
	bool resumes; /* measured in the resume phase, from the tmpfs file */
	bool bounded; /* measured through the two-thread bound too (pipeline-bound.h) */
} kinds[NR_KINDS] = {
	[SAVE_DEVNULL] = { "save_devnull", "save > /dev/null", false, true },
	[SAVE_TMPFS] = { "save_tmpfs", "save > tmpfs file", false, false },
	[SAVE_PIPE] = { "save_pipe_resume", "save | resume", false, false },
	[RESUME_SINGLE] = { "resume_single", "resume --single-pass", true, true },
	[RESUME_VERIFIED] = { "resume_verified", "resume, verified first", true, false },
};

/*
 * What copies the data: the plain loop, the engine, and the bound, the
 * least pipeline that checksums each byte on the other core (sleeping
 * between chunks as the engine's stages do, or spinning)
 */
enum variant { BARE, FRAMED, BOUND, BOUND_SPIN, NR_VARIANTS };

static const char *const variant_names[NR_VARIANTS] = { "bare", "framed", "bound", "bound_spin" };

/* @in to @out as @v does it, for the cases whose two ends are plain fds */
static uint64_t plain_copy(enum variant v, int in, int out)
{
	return v == BARE ? bare_copy(in, out) :
			   bound_copy(in, out, v == BOUND ? HANDOVER_SLEEP : HANDOVER_SPIN);
}

/* The resuming process of save | resume, on side 1 */
static void pipe_reader(int in, bool framed)
{
	int out;
	bool ok;

	me = &shared->side[1];
	if (framed) {
		ok = framed_resume(in, false);
	} else {
		out = open_or_die("/dev/null", O_WRONLY);
		ok = bare_copy(in, out) == size;
		close(out);
	}
	count_self();
	me->ok = ok;
	_exit(0);
}

static bool save_pipe(bool framed)
{
	struct rusage ru;
	int fds[2], in, status;
	bool ok;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		die("pipe", errno);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		close(fds[1]);
		pipe_reader(fds[0], framed);
	}
	close(fds[0]);
	pipe_grow(fds[1], CHUNK); /* as the CLI does */
	if (framed) {
		ok = framed_save(fds[1]);
	} else {
		in = device();
		ok = bare_copy(in, fds[1]) == size;
		close(in);
	}
	close(fds[1]);
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4", errno);
	shared->side[1].rss_kib = ru.ru_maxrss;
	return ok && WIFEXITED(status) && !WEXITSTATUS(status) && shared->side[1].ok;
}

static bool run_kind(enum kind k, enum variant v)
{
	bool framed = v == FRAMED;
	int in, out;
	bool ok;

	switch (k) {
	case SAVE_DEVNULL:
	case SAVE_TMPFS:
		out = k == SAVE_DEVNULL ? open_or_die("/dev/null", O_WRONLY) :
					  open_or_die(out_path, O_WRONLY | O_CREAT | O_TRUNC);
		if (framed) {
			ok = framed_save(out);
		} else {
			in = device();
			ok = plain_copy(v, in, out) == size;
			close(in);
		}
		close(out);
		return ok;
	case SAVE_PIPE:
		return save_pipe(framed);
	case RESUME_SINGLE:
	case RESUME_VERIFIED:
		in = open_or_die(in_path, O_RDONLY);
		if (framed) {
			ok = framed_resume(in, k == RESUME_VERIFIED);
		} else {
			/* The bare loop reads the same file, framing and all */
			out = open_or_die("/dev/null", O_WRONLY);
			ok = plain_copy(v, in, out) >= size;
			close(out);
		}
		close(in);
		return ok;
	default:
		return false;
	}
}

/* One run, in a child: its figures in *s */
static void measure(enum kind k, enum variant v, struct sample *s)
{
	struct rusage ru;
	int status;
	pid_t pid;

	memset(shared, 0, sizeof(*shared));
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		double t;
		bool ok;

		me = &shared->side[0];
		t = now();
		ok = run_kind(k, v);
		shared->wall = now() - t;
		count_self();
		me->ok = ok;
		_exit(0);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4", errno);
	shared->side[0].rss_kib = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) || !shared->side[0].ok) {
		fprintf(stderr, "bench-native: %s (%s) failed\n", kinds[k].name, variant_names[v]);
		exit(1);
	}
	*s = *shared;
	/* A new file each time: tmpfs allocates its pages as a save fills them */
	if (k == SAVE_TMPFS)
		unlink(out_path);
}

/* ---- figures */

static int by_wall(const void *a, const void *b)
{
	double x = ((const struct sample *)a)->wall, y = ((const struct sample *)b)->wall;

	return (x > y) - (x < y);
}

static double gibps(double seconds)
{
	return (double)size / (double)GIB / seconds;
}

/*
 * CPU s/GiB of each thread of @sd.  The engine starts its stream thread,
 * then its device thread (xfer_save_run, xfer_resume_run); the calling
 * thread runs the middle stage (checksums, verification).
 */
static void print_threads(const char *who, const struct side *sd)
{
	static const char *const roles[] = { "checks", "stream", "device" };
	double per_gib = (double)GIB / (double)size;

	printf("%s", who);
	if (sd->threads == 0) {
		printf(" %.3f", sd->cpu[0] * per_gib);
		return;
	}
	for (int i = 0; i <= sd->threads && i < MAX_THREADS; i++)
		printf(" %s %.3f", i < 3 ? roles[i] : "other", sd->cpu[i] * per_gib);
}

struct figures {
	struct sample run[NR_VARIANTS][MAX_ROUNDS];
};

/* The median run of @v, once report() has sorted them */
static double median_wall(const struct figures *f, enum variant v, int rounds)
{
	return f->run[v][rounds / 2].wall;
}

static void report(enum kind k, struct figures *f, int rounds, const char *tag)
{
	struct sample *bm, *fm;
	double ratio, best;

	for (enum variant v = 0; v < NR_VARIANTS; v++)
		qsort(f->run[v], (size_t)rounds, sizeof(f->run[v][0]), by_wall);
	bm = &f->run[BARE][rounds / 2];
	fm = &f->run[FRAMED][rounds / 2];
	ratio = bm->wall / fm->wall;
	best = f->run[BARE][0].wall / f->run[FRAMED][0].wall;
	printf("  %-24s %6.2f %6.2f  %5.3f (best %5.3f)   peak RSS KiB %ld, %ld", kinds[k].label,
	       gibps(bm->wall), gibps(fm->wall), ratio, best, bm->side[0].rss_kib,
	       fm->side[0].rss_kib);
	if (k == SAVE_PIPE)
		printf("; resume %ld, %ld", bm->side[1].rss_kib, fm->side[1].rss_kib);
	printf("\n    CPU s/GiB, median runs:");
	print_threads(" bare", &bm->side[0]);
	if (k == SAVE_PIPE)
		print_threads(" |", &bm->side[1]);
	print_threads("; framed", &fm->side[0]);
	if (k == SAVE_PIPE)
		print_threads(" |", &fm->side[1]);
	printf("\n");
	if (k == RESUME_VERIFIED)
		printf("    of which the verify-first pass %.3f s/GiB (%.2f GiB/s), the load %.3f "
		       "s/GiB\n",
		       fm->verify * (double)GIB / (double)size, gibps(fm->verify),
		       (fm->wall - fm->verify) * (double)GIB / (double)size);
	if (kinds[k].bounded) {
		double sleeping = median_wall(f, BOUND, rounds),
		       spinning = median_wall(f, BOUND_SPIN, rounds);

		printf("    bound (two threads, checksums on the other core): %.2f GiB/s, %.3f of bare, "
		       "spinning %.2f GiB/s, %.3f; framed/bound %.3f\n",
		       gibps(sleeping), bm->wall / sleeping, gibps(spinning), bm->wall / spinning,
		       sleeping / fm->wall);
		summarize("BOUND %s_%s %.3f %.3f", kinds[k].name, tag, bm->wall / sleeping,
			  bm->wall / spinning);
	}
	summarize("NATIVE %s_%s %.3f %.3f", kinds[k].name, tag, gibps(bm->wall), gibps(fm->wall));
	summarize("RATIO %s_%s %.3f", kinds[k].name, tag, ratio);
	summarize("RATIO_BEST %s_%s %.3f", kinds[k].name, tag, best);
	summarize("RSS_KIB %s_%s %ld %ld", kinds[k].name, tag, bm->side[0].rss_kib,
		  fm->side[0].rss_kib);
}

/*
 * ---- the physical limit: memcpy on one core, 1 MiB at a time from a
 * span no cache holds, alone and with the other core doing the same (the
 * two share the memory's bandwidth)
 */

static double memcpy_gibps(void)
{
	size_t span = 256 * MIB, done = 0;
	uint8_t *src = malloc(span), *dst = malloc(CHUNK);
	double t, best = 0;

	if (!src || !dst)
		die("malloc", ENOMEM);
	memset(src, 0x5a, span);
	memset(dst, 0, CHUNK);
	for (int r = 0; r < 3; r++) {
		t = now();
		for (done = 0; done < 4 * span; done += CHUNK)
			memcpy(dst, src + done % span, CHUNK);
		t = (double)done / (double)GIB / (now() - t);
		if (t > best)
			best = t;
	}
	/* Use the copy, so it is not optimised away */
	if (dst[CHUNK - 1] != 0x5a)
		die("memcpy", EIO);
	free(src);
	free(dst);
	return best;
}

/* Two copies at once, one per process: each one's GiB/s */
static double memcpy_pair_gibps(void)
{
	pid_t pid;
	double mine;
	int status;

	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		shared->wall = memcpy_gibps();
		_exit(0);
	}
	mine = memcpy_gibps();
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid", errno);
	return (mine + shared->wall) / 2;
}

/*
 * What handing a chunk to a stage that sleeps costs the stage handing it
 * over: a futex wake and, in a virtual machine, an interrupt to the other
 * CPU.  The engine pays it once per chunk on its slowest stage.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	long given, taken;
} handover = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static void *sleeper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&handover.lock);
	while (handover.given >= 0) {
		while (handover.taken == handover.given)
			pthread_cond_wait(&handover.ready, &handover.lock);
		handover.taken = handover.given;
	}
	pthread_mutex_unlock(&handover.lock);
	return NULL;
}

static double wake_us(void)
{
	const struct timespec pause = { .tv_nsec = 50000 }; /* the sleeper is asleep again */
	const int times = 1000;
	double spent = 0, t;
	pthread_t thread;

	if (pthread_create(&thread, NULL, sleeper, NULL))
		die("pthread_create", EAGAIN);
	for (int i = 0; i < times; i++) {
		nanosleep(&pause, NULL);
		t = now();
		pthread_mutex_lock(&handover.lock);
		handover.given++;
		pthread_mutex_unlock(&handover.lock);
		pthread_cond_signal(&handover.ready);
		spent += now() - t;
	}
	pthread_mutex_lock(&handover.lock);
	handover.given = -1; /* the end */
	pthread_mutex_unlock(&handover.lock);
	pthread_cond_signal(&handover.ready);
	pthread_join(thread, NULL);
	return spent / times * 1e6;
}

static long mem_available_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long kib = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void load(const char *when)
{
	double l[3];

	if (getloadavg(l, 3) == 3)
		printf("load average %.2f %.2f %.2f %s\n", l[0], l[1], l[2], when);
}

/* Bytes free in the tmpfs directory */
static uint64_t tmpdir_free(void)
{
	struct statvfs vfs;

	return statvfs(tmpdir, &vfs) == 0 ? (uint64_t)vfs.f_bavail * vfs.f_frsize : 0;
}

/*
 * What the machine can hold, in whole GiB, 0 if not even one: the tmpfs
 * file of a framed state (the resumes read it; save_tmpfs writes one more,
 * deleted before it) in the directory's space, and in memory with a
 * filled device's data beside it and 1 GiB to spare.
 */
static uint64_t fitting(uint64_t want)
{
	uint64_t mem = (uint64_t)mem_available_kib() * 1024, fs = tmpdir_free();
	uint64_t held = want <= FILLED_MAX ? 2 : 1, gib = want / GIB;

	while (gib && (gib * GIB + 64 * MIB > fs || held * gib * GIB + GIB > mem))
		gib--;
	return gib * GIB;
}

/* The saved device's data: @fill it, or leave it sparse */
static void prepare_device(bool fill)
{
	static uint8_t pattern[CHUNK];

	if (device_fd > 0)
		close(device_fd);
	device_fd = memfd_create("bench-native-device", MFD_CLOEXEC);
	if (device_fd < 0 || ftruncate(device_fd, (off_t)size))
		die("memfd", errno);
	filled = fill;
	if (!filled)
		return;
	/* Data that is not all alike, its pages in memory, as a device's state is */
	for (size_t i = 0; i < CHUNK; i++)
		pattern[i] = (uint8_t)(i * 2654435761u >> 13);
	for (uint64_t off = 0; off < size; off += CHUNK) {
		pattern[0] = (uint8_t)(off / CHUNK);
		if (write_all(device_fd, pattern, CHUNK, NULL))
			die("filling the memfd", errno);
	}
}

static bool wanted[NR_KINDS];
static double limit; /* memcpy GiB/s on one core */

/* Every case @rounds times, its variants in turn */
static void rounds_of(bool resumes, int rounds, struct figures *fig, const char *tag)
{
	for (int r = 0; r < rounds; r++)
		for (enum kind k = 0; k < NR_KINDS; k++)
			for (enum variant v = 0; v < NR_VARIANTS; v++)
				if (wanted[k] && kinds[k].resumes == resumes &&
				    (v <= FRAMED || kinds[k].bounded))
					measure(k, v, &fig[k].run[v][r]);
	for (enum kind k = 0; k < NR_KINDS; k++)
		if (wanted[k] && kinds[k].resumes == resumes)
			report(k, &fig[k], rounds, tag);
}

static void run_size(uint64_t want, int rounds)
{
	static struct figures fig[NR_KINDS];
	struct sample warm;
	double single, verified;
	char tag[32];
	int out;

	size = fitting(want);
	if (!size) {
		printf("\n%llu GiB: skipped, the machine cannot hold it now (MemAvailable %ld MiB, "
		       "%llu MiB free in %s)\n",
		       (unsigned long long)(want / GIB), mem_available_kib() / 1024,
		       (unsigned long long)(tmpdir_free() / MIB), tmpdir);
		return;
	}
	/* The lines for scripts name the size measured */
	snprintf(tag, sizeof(tag), "%llug", (unsigned long long)(size / GIB));
	/* A size scaled down keeps the source of the size asked for */
	prepare_device(want <= FILLED_MAX);
	printf("\n%llu GiB, %d rounds; the device's data %s; ", (unsigned long long)(size / GIB),
	       rounds,
	       filled ? "in a memfd (read() copies it)" :
			"a sparse memfd (read() fills with zeros, no memory held)");
	load("before");
	if (size != want)
		printf("  (scaled down from %llu GiB: the machine cannot hold a tmpfs file that big "
		       "now, MemAvailable %ld MiB, %llu MiB free in %s)\n",
		       (unsigned long long)(want / GIB), mem_available_kib() / 1024,
		       (unsigned long long)(tmpdir_free() / MIB), tmpdir);
	printf("  %-24s %6s %6s  %s\n", "GiB/s (medians)", "bare", "framed", "framed/bare");

	/* tmpfs's first pages of a run are faulted in by the host too: once, unmeasured */
	if (wanted[SAVE_TMPFS])
		measure(SAVE_TMPFS, BARE, &warm);
	rounds_of(false, rounds, fig, tag);

	if (wanted[RESUME_SINGLE] || wanted[RESUME_VERIFIED]) {
		/* The resumes' file: a framed save of the same data, made once */
		out = open_or_die(in_path, O_WRONLY | O_CREAT | O_TRUNC);
		if (!framed_save(out))
			die("making the stream file", EIO);
		close(out);
		rounds_of(true, rounds, fig, tag);
		unlink(in_path);
	}
	if (wanted[RESUME_SINGLE] && wanted[RESUME_VERIFIED]) {
		/* verified first against --single-pass, the medians of the same rounds */
		single = median_wall(&fig[RESUME_SINGLE], FRAMED, rounds);
		verified = median_wall(&fig[RESUME_VERIFIED], FRAMED, rounds);
		printf("  resume verified first / --single-pass: %.3f\n", single / verified);
		summarize("RATIO resume_verified_vs_single_%s %.3f", tag, single / verified);
	}
	if (wanted[SAVE_DEVNULL])
		printf("  memcpy on one core %.2f GiB/s: bare save > /dev/null at %.0f%% of it, "
		       "framed at %.0f%%\n",
		       limit, 100 * gibps(median_wall(&fig[SAVE_DEVNULL], BARE, rounds)) / limit,
		       100 * gibps(median_wall(&fig[SAVE_DEVNULL], FRAMED, rounds)) / limit);
	printf("  ");
	load("after");
}

/* -k save_devnull,resume_single: only these cases */
static int pick(char *list)
{
	for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
		enum kind k;

		for (k = 0; k < NR_KINDS && strcmp(name, kinds[k].name); k++)
			;
		if (k == NR_KINDS)
			return -EINVAL;
		wanted[k] = true;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char *defaults[] = { "1:15", "8:3" };
	char **sizes = defaults;
	int n_sizes = 2, opt;
	bool picked = false;
	struct statfs fs;
	double wake, latency, here, there;

	while ((opt = getopt(argc, argv, "d:k:")) != -1) {
		switch (opt) {
		case 'd':
			tmpdir = optarg;
			break;
		case 'k':
			if (pick(optarg))
				goto usage;
			picked = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind < argc) {
		sizes = argv + optind;
		n_sizes = argc - optind;
	}
	for (int i = 0; i < n_sizes; i++) {
		char *end;
		long gib = strtol(sizes[i], &end, 10), rounds = *end == ':' ? atol(end + 1) : 5;

		if (gib < 1 || (*end && *end != ':') || rounds < 1 || rounds > MAX_ROUNDS)
			goto usage;
	}
	for (enum kind k = 0; k < NR_KINDS && !picked; k++)
		wanted[k] = true;
	/* Each figure as it comes, through a pipe too (make tees it) */
	setvbuf(stdout, NULL, _IOLBF, 0);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		      0);
	if (shared == MAP_FAILED)
		die("mmap", errno);
	snprintf(out_path, sizeof(out_path), "%s/bench-native.%d.out", tmpdir, (int)getpid());
	snprintf(in_path, sizeof(in_path), "%s/bench-native.%d.in", tmpdir, (int)getpid());

	printf("bench-native: the engine natively, median of the rounds (best in brackets), "
	       "1 MiB chunks, %ld CPUs, files in %s%s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), tmpdir,
	       statfs(tmpdir, &fs) == 0 && fs.f_type == TMPFS_MAGIC ? " (tmpfs)" : " (NOT tmpfs)");
	limit = memcpy_gibps();
	printf("physical limit: memcpy on one core, 1 MiB at a time from 256 MiB: %.2f GiB/s; "
	       "with the other core copying too: %.2f GiB/s each\n",
	       limit, memcpy_pair_gibps());
	wake = wake_us();
	printf("waking a thread that sleeps costs the waker %.1f us: %.0f%% of a 1 MiB memcpy\n",
	       wake, wake * 1e-6 * limit * 1024 * 100);
	latency = wake_latency_us();
	printf("a thread that sleeps runs %.1f us after it is woken (median): %.0f%% of a 1 MiB "
	       "memcpy\n",
	       latency, latency * 1e-6 * limit * 1024 * 100);
	here = checksum_seconds_per_gib(false);
	there = checksum_seconds_per_gib(true);
	printf("the stream's checksums: %.3f s/GiB over data in this core's cache, %.3f over data "
	       "the other core just wrote\n",
	       here, there);
	for (int i = 0; i < n_sizes; i++) {
		char *end;
		long gib = strtol(sizes[i], &end, 10);

		run_size((uint64_t)gib * GIB, *end == ':' ? atoi(end + 1) : 5);
	}
	summarize("MEMCPY_GIBPS %.2f", limit);
	summarize("WAKE_US %.1f", wake);
	summarize("WAKE_LATENCY_US %.1f", latency);
	summarize("CHECKSUM_S_PER_GIB %.3f %.3f", here, there);
	printf("\n");
	for (int i = 0; i < summaries; i++)
		printf("%s\n", summary[i]);
	return 0;
usage:
	fprintf(stderr,
		"usage: bench-native [-d TMPDIR] [-k CASE,...] [GIB[:ROUNDS]...]\n"
		"  (default 1:15 8:3; ROUNDS 1 to %d, 5 if not given)\n"
		"cases: save_devnull save_tmpfs save_pipe_resume resume_single resume_verified\n",
		MAX_ROUNDS);
	return 2;
}
