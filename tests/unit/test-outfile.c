// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Output files (src/shared/outfile.c): a regular file appears only at
 * commit and is replaced only when asked; FIFOs and character devices are
 * written in place and never replaced; directories and sockets are
 * refused; symlinks are followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdio.h"
#include "outfile.h"
#include "unit.h"

static char dir[PATH_MAX - 64];

static const char *at(const char *name)
{
	static char path[4][PATH_MAX + 64];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	return p;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static char *get(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Open, write @text, commit; the status of the first failing step */
static int save(const char *path, bool replace, const char *text)
{
	struct outfile of;
	int r = outfile_open(&of, path, replace);

	if (r)
		return r;
	r = write_all(of.fd, text, strlen(text), NULL);
	if (r) {
		outfile_abort(&of);
		return r;
	}
	return outfile_commit(&of);
}

static void test_regular(void)
{
	struct outfile of;
	struct stat st;
	int r;

	r = outfile_open(&of, at("new"), false);
	CHECK(r == 0 && !get(at("new")), "a new file does not exist before commit");
	write_all(of.fd, "data", 4, NULL);
	r = outfile_commit(&of);
	CHECK(r == 0 && get(at("new")) && !strcmp(get(at("new")), "data"),
	      "it appears, whole, at commit");
	stat(at("new"), &st);
	CHECK_EQ_INT(st.st_mode & 0777, 0600, "created mode 0600 (device state may hold guest data)");

	r = outfile_open(&of, at("aborted"), false);
	write_all(of.fd, "half", 4, NULL);
	outfile_abort(&of);
	CHECK(r == 0 && !get(at("aborted")), "an aborted file never appears");

	put(at("old"), "precious");
	CHECK_EQ_INT(save(at("old"), false, "x"), -EEXIST, "an existing file: EEXIST without replace");
	CHECK_EQ_STR(get(at("old")), "precious", "and it is untouched");
	CHECK_EQ_INT(save(at("old"), true, "new"), 0, "replaced when asked");
	CHECK_EQ_STR(get(at("old")), "new", "with the new content");
}

static void test_streams(void)
{
	struct stat st;
	char buf[16] = "";
	int fifo, r;

	CHECK_EQ_INT(save("/dev/null", false, "x"), 0, "/dev/null is written in place, no replace needed");
	CHECK_EQ_INT(save("/dev/null", true, "x"), 0, "and with replace");
	CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode),
	      "/dev/null is still a character device");

	mkfifo(at("fifo"), 0600);
	fifo = open(at("fifo"), O_RDONLY | O_NONBLOCK);
	r = save(at("fifo"), true, "piped");
	read(fifo, buf, sizeof(buf) - 1);
	close(fifo);
	CHECK(r == 0 && !strcmp(buf, "piped"), "a FIFO with a reader gets the bytes: '%s'", buf);
	CHECK(stat(at("fifo"), &st) == 0 && S_ISFIFO(st.st_mode), "and stays a FIFO");

	/* /dev/stdout is a link to /proc/self/fd/1, whose target is no path */
	{
		int fds[2];
		char target[64];

		memset(buf, 0, sizeof(buf));
		if (pipe(fds) == 0) {
			snprintf(target, sizeof(target), "/proc/self/fd/%d", fds[1]);
			symlink(target, at("stdout"));
			r = save(at("stdout"), true, "fd");
			close(fds[1]);
			read(fds[0], buf, sizeof(buf) - 1);
			close(fds[0]);
		}
		CHECK(r == 0 && !strcmp(buf, "fd"), "a link to /proc/self/fd/N of a pipe: '%s'", buf);
	}
}

static void test_refused(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int sock;

	mkdir(at("dir"), 0700);
	CHECK_EQ_INT(save(at("dir"), true, "x"), -EISDIR, "a directory: EISDIR, even with replace");
	CHECK(stat(at("dir"), &st) == 0 && S_ISDIR(st.st_mode), "and it is still a directory");

	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", at("sock"));
	bind(sock, (struct sockaddr *)&sa, sizeof(sa));
	CHECK_EQ_INT(save(at("sock"), true, "x"), -EINVAL, "a socket: EINVAL, even with replace");
	CHECK(stat(at("sock"), &st) == 0 && S_ISSOCK(st.st_mode), "and it is still a socket");
	close(sock);
}

static void test_symlinks(void)
{
	struct stat st;
	char target[PATH_MAX];
	ssize_t n;

	put(at("target"), "old");
	symlink("target", at("link"));
	CHECK_EQ_INT(save(at("link"), false, "x"), -EEXIST, "a link to a file: that file exists");
	CHECK_EQ_INT(save(at("link"), true, "via link"), 0, "replaced through the link");
	CHECK_EQ_STR(get(at("target")), "via link", "the target got the data");
	n = readlink(at("link"), target, sizeof(target) - 1);
	CHECK(lstat(at("link"), &st) == 0 && S_ISLNK(st.st_mode) && n == 6,
	      "the link is still a link to it");

	symlink("nowhere", at("dangling"));
	CHECK_EQ_INT(save(at("dangling"), false, "made"), 0, "a dangling link: its target is created");
	CHECK_EQ_STR(get(at("nowhere")), "made", "with the data");

	symlink("loop", at("loop"));
	CHECK_EQ_INT(save(at("loop"), true, "x"), -ELOOP, "a symlink loop: ELOOP");
	symlink("/dev/null", at("null"));
	CHECK_EQ_INT(save(at("null"), true, "x"), 0, "a link to /dev/null is a stream");
	CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null survived");
}

int main(void)
{
	char cmd[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/test-outfile.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 2;
	test_regular();
	test_streams();
	test_refused();
	test_symlinks();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "# could not remove %s\n", dir);
	return unit_done();
}
