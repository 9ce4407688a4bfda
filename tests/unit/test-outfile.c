// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Output files (src/shared/outfile.c): a regular file appears only at
 * commit and is replaced only when asked, and only if it is still the file
 * checked at open; nothing that appears meanwhile is clobbered; FIFOs and
 * character devices are written in place and never replaced; directories,
 * sockets and dangling links are refused; symlinks are followed by the
 * kernel (fs.protected_symlinks refuses what it refuses to a shell's '>').
 * Every case runs twice: with O_TMPFILE and RENAME_EXCHANGE, and with the
 * paths of filesystems that have neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "outfile.h"
#include "unit.h"
#include "util.h"

static char dir[PATH_MAX - 64];
/* OUTFILE_FALLBACKS or 0: the pass that runs */
static unsigned int mode;
static const char *mode_name;

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

static void skip(const char *why)
{
	printf("ok %d # SKIP %s\n", ++unit_count, why);
}

/* Entries ".NAME.*" in @sub: temporaries, ours or leftovers */
static int hidden_count(const char *sub, const char *name)
{
	char prefix[NAME_MAX + 2];
	struct dirent *d;
	int n = 0;
	DIR *dp = opendir(at(sub));

	snprintf(prefix, sizeof(prefix), ".%s.", name);
	while (dp && (d = readdir(dp)))
		n += !strncmp(d->d_name, prefix, strlen(prefix));
	if (dp)
		closedir(dp);
	return n;
}

/* Open, write @text, commit; the status of the first failing step */
static int save(const char *path, bool replace, const char *text)
{
	struct outfile of;
	int r = outfile_open(&of, path, (replace ? OUTFILE_REPLACE : 0) | mode);

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

	unlink(at("new"));
	r = outfile_open(&of, at("new"), mode);
	CHECK(r == 0 && !get(at("new")), "a new file does not exist before commit");
	write_all(of.fd, "data", 4, NULL);
	r = outfile_commit(&of);
	CHECK(r == 0 && get(at("new")) && !strcmp(get(at("new")), "data"),
	      "it appears, whole, at commit");
	stat(at("new"), &st);
	CHECK_EQ_INT(st.st_mode & 0777, 0600, "created mode 0600 (device state may hold guest data)");

	r = outfile_open(&of, at("aborted"), mode);
	write_all(of.fd, "half", 4, NULL);
	outfile_abort(&of);
	CHECK(r == 0 && !get(at("aborted")), "an aborted file never appears");
	CHECK_EQ_INT(hidden_count(".", "aborted"), 0, "nor its temporary");

	put(at("old"), "precious");
	chmod(at("old"), 0644);
	CHECK_EQ_INT(save(at("old"), false, "x"), -EEXIST, "an existing file: EEXIST without replace");
	CHECK_EQ_STR(get(at("old")), "precious", "and it is untouched");
	CHECK_EQ_INT(save(at("old"), true, "new"), 0, "replaced when asked");
	CHECK_EQ_STR(get(at("old")), "new", "with the new content");
	stat(at("old"), &st);
	CHECK_EQ_INT(st.st_mode & 0777, 0600, "a new file in its place, mode 0600");
	CHECK_EQ_INT(hidden_count(".", "old"), 0, "no temporary is left behind");
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

	mkdir(at("sub"), 0700);
	put(at("sub/file"), "theirs");
	symlink("sub/file", at("into-sub"));
	CHECK_EQ_INT(save(at("into-sub"), true, "mine"), 0, "a link into another directory: replaced");
	CHECK_EQ_STR(get(at("sub/file")), "mine", "there, in the target's own directory");
	CHECK(lstat(at("into-sub"), &st) == 0 && S_ISLNK(st.st_mode), "and the link stays");
	CHECK_EQ_INT(hidden_count("sub", "file"), 0, "no temporary left there");

	/* '>' would create the target, by resolving the link: refused instead */
	symlink("nowhere", at("dangling"));
	CHECK_EQ_INT(save(at("dangling"), false, "made"), -ENOLINK, "a dangling link: ENOLINK");
	CHECK_EQ_INT(save(at("dangling"), true, "made"), -ENOLINK, "even with replace");
	CHECK(!get(at("nowhere")), "and nothing is created at its target");
	CHECK(lstat(at("dangling"), &st) == 0 && S_ISLNK(st.st_mode), "the link is left as it is");

	symlink("loop", at("loop"));
	CHECK_EQ_INT(save(at("loop"), true, "x"), -ELOOP, "a symlink loop: ELOOP");
	symlink("/dev/null", at("null"));
	CHECK_EQ_INT(save(at("null"), true, "x"), 0, "a link to /dev/null is a stream");
	CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null survived");
}

/* What changes between open and commit (while the device is saved) wins */
static void test_windows(void)
{
	struct outfile of;
	struct stat st;
	int r;

	for (int replace = 0; replace < 2; replace++) {
		unlink(at("late"));
		r = outfile_open(&of, at("late"), (replace ? OUTFILE_REPLACE : 0) | mode);
		put(at("late"), "theirs");
		write_all(of.fd, "mine", 4, NULL);
		CHECK(r == 0 && outfile_commit(&of) == -EEXIST,
		      "a file that appears at a new file's name: EEXIST (%s)",
		      replace ? "with replace" : "without replace");
		CHECK_EQ_STR(get(at("late")), "theirs", "and it is not clobbered");
		CHECK_EQ_INT(hidden_count(".", "late"), 0, "no temporary left");
	}

	put(at("swapped"), "old");
	r = outfile_open(&of, at("swapped"), OUTFILE_REPLACE | mode);
	mkfifo(at("fifo-in"), 0600);
	rename(at("fifo-in"), at("swapped"));
	write_all(of.fd, "mine", 4, NULL);
	CHECK(r == 0 && outfile_commit(&of) == -ESTALE,
	      "the file to replace became a FIFO: ESTALE");
	CHECK(lstat(at("swapped"), &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is not replaced");
	CHECK_EQ_INT(hidden_count(".", "swapped"), 0, "no temporary left");

	if (mknod(at("cdev-in"), S_IFCHR | 0600, makedev(1, 3)) == 0) {
		put(at("swapped-c"), "old");
		r = outfile_open(&of, at("swapped-c"), OUTFILE_REPLACE | mode);
		rename(at("cdev-in"), at("swapped-c"));
		CHECK(r == 0 && outfile_commit(&of) == -ESTALE,
		      "the file to replace became a character device: ESTALE");
		CHECK(lstat(at("swapped-c"), &st) == 0 && S_ISCHR(st.st_mode),
		      "the device node is not replaced");
	} else {
		skip("mknod needs root");
		skip("mknod needs root");
	}

	put(at("other"), "old");
	r = outfile_open(&of, at("other"), OUTFILE_REPLACE | mode);
	put(at("other-in"), "another");
	rename(at("other-in"), at("other"));
	CHECK(r == 0 && outfile_commit(&of) == -ESTALE,
	      "the file to replace is another file now: ESTALE");
	CHECK_EQ_STR(get(at("other")), "another", "which is not replaced");

	put(at("gone"), "old");
	r = outfile_open(&of, at("gone"), OUTFILE_REPLACE | mode);
	unlink(at("gone"));
	write_all(of.fd, "new", 3, NULL);
	CHECK(r == 0 && outfile_commit(&of) == 0, "the file to replace was removed: created");
	CHECK_EQ_STR(get(at("gone")), "new", "with the data");
}

/* A temporary left by a killed run (its old name was ".NAME.PID") */
static void test_leftovers(void)
{
	char stale[64];

	snprintf(stale, sizeof(stale), ".kept.%d", (int)getpid());
	put(at(stale), "stale");
	put(at("kept"), "old");
	CHECK_EQ_INT(save(at("kept"), true, "new"), 0, "a leftover .NAME.PID is no obstacle");
	CHECK_EQ_STR(get(at("kept")), "new", "the file is replaced");
	CHECK_EQ_STR(get(at(stale)), "stale", "the leftover is not ours to touch");
	CHECK_EQ_INT(hidden_count(".", "kept"), 1, "and no new temporary is left");
	CHECK_EQ_INT(save(at("kept"), true, "again"), 0, "nor on the next save");
}

/* Run @fn in a child as nobody; its status */
static int as_nobody(int (*fn)(void))
{
	struct passwd *pw = getpwnam("nobody");
	int status;
	pid_t pid;

	if (!pw)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid))
			_exit(255);
		_exit(-fn() & 0xff);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return -WEXITSTATUS(status);
}

static int save_locked(void)
{
	return save(at("locked/x"), true, "x");
}

/* Only ENOENT means "new": any other error of the lookup is the answer */
static void test_lookup_errors(void)
{
	put(at("plain"), "x");
	CHECK_EQ_INT(save(at("plain/x"), true, "x"), -ENOTDIR, "a file as a directory: ENOTDIR");
	CHECK_EQ_INT(save(at("newdir/"), false, "x"), -EISDIR, "NAME/ for a new file: EISDIR");
	mkdir(at("locked"), 0700);
	if (geteuid() == 0)
		CHECK_EQ_INT(as_nobody(save_locked), -EACCES,
			     "a directory nobody may search: EACCES, not a new file");
	else
		skip("needs root, to act as nobody");
}

static bool protected_symlinks(void)
{
	char *v = get("/proc/sys/fs/protected_symlinks");

	return v && v[0] == '1';
}

/* A link planted by nobody in a sticky world-writable directory */
static void plant(const char *target, const char *link)
{
	symlink(target, at(link));
	lchown(at(link), 65534, 65534);
}

/*
 * The kernel refuses root to follow another user's link in a sticky
 * world-writable directory (EACCES): refused, never taken for a new file.
 */
static void test_protected(void)
{
	struct stat st;
	int r;

	if (geteuid() != 0 || !protected_symlinks()) {
		for (int i = 0; i < 9; i++)
			skip("needs root and fs.protected_symlinks=1 (tests/vm/45-files.bats has it)");
		return;
	}
	mkdir(at("sticky"), 01777);
	chmod(at("sticky"), 01777);
	mkdir(at("theirs"), 0755);
	put(at("theirs/file"), "precious");
	chmod(at("theirs/file"), 0644);
	mkfifo(at("theirs/fifo"), 0644);
	mknod(at("theirs/null"), S_IFCHR | 0666, makedev(1, 3));

	plant(at("theirs/file"), "sticky/file");
	r = save(at("sticky/file"), true, "mine");
	CHECK_EQ_INT(r, -EACCES, "a planted link to another directory's file: EACCES");
	stat(at("theirs/file"), &st);
	CHECK(!strcmp(get(at("theirs/file")), "precious") && (st.st_mode & 0777) == 0644,
	      "that file is untouched, its mode too");

	plant(at("theirs/nothing"), "sticky/dangling");
	CHECK_EQ_INT(save(at("sticky/dangling"), false, "mine"), -EACCES,
		     "a planted dangling link: EACCES");
	CHECK_EQ_INT(save(at("sticky/dangling"), true, "mine"), -EACCES, "even with replace");
	CHECK(!get(at("theirs/nothing")), "nothing is created at its target");

	plant(at("theirs/fifo"), "sticky/fifo");
	CHECK_EQ_INT(save(at("sticky/fifo"), true, "mine"), -EACCES, "a planted link to a FIFO: EACCES");
	CHECK(lstat(at("theirs/fifo"), &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is still one");

	plant(at("theirs/null"), "sticky/null");
	CHECK_EQ_INT(save(at("sticky/null"), true, "mine"), -EACCES,
		     "a planted link to a device node: EACCES");
	CHECK(lstat(at("theirs/null"), &st) == 0 && S_ISCHR(st.st_mode), "the node is still one");
}

int main(void)
{
	static const struct {
		const char *name;
		unsigned int mode;
	} passes[] = {
		{ "tmpfile", 0 },
		{ "fallbacks", OUTFILE_FALLBACKS },
	};
	char base[PATH_MAX - 128], cmd[PATH_MAX];

	snprintf(base, sizeof(base), "%s/test-outfile.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(base))
		return 2;
	/* nobody must reach the test directories */
	chmod(base, 0755);
	for (size_t i = 0; i < ARRAY_SIZE(passes); i++) {
		mode = passes[i].mode;
		mode_name = passes[i].name;
		printf("# %s\n", mode_name);
		snprintf(dir, sizeof(dir), "%s/%s", base, mode_name);
		mkdir(dir, 0755);
		test_regular();
		test_streams();
		test_refused();
		test_symlinks();
		test_windows();
		test_leftovers();
		test_lookup_errors();
		test_protected();
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd))
		fprintf(stderr, "# could not remove %s\n", base);
	return unit_done();
}
