// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mtty-reg: poke the UART of an mtty mdev through its VFIO device fd, so the
 * VM tests can put known values into a device's migrated state and read
 * them back on another device after save | resume.
 *
 *   mtty-reg [--via=cdev|group] [--port=N] DEV get REG     prints 0xNN
 *   mtty-reg [...] DEV set REG VALUE
 *   mtty-reg [...] DEV send STRING     bytes into TX (mtty loops them to RX)
 *   mtty-reg [...] DEV recv N          N bytes from RX, printed plus '\n'
 *   mtty-reg [...] DEV dump            every register that reads harmlessly
 *   mtty-reg [...] DEV CMD... CMD...   several of the above, in order
 *
 * Under `vfio-migctl hold DEV -- ...` it uses the held device file, like
 * vfio-migctl does (the hold protocol), instead of opening its own.
 *
 * REG: rx tx ier iir fcr lcr mcr lsr msr scr, or 0..7.  Port N is BAR N
 * (mtty-2 has two ports).  What mtty migrates (samples/vfio-mdev/mtty.c,
 * struct serial_port): uart_reg[8] (IER LCR MCR SCR ...), the 16-byte
 * loopback FIFO with its indexes, DLAB, divisor, FCR and trigger level.
 * TX writes go to the FIFO whenever DLAB is clear and it has room; RX
 * reads take from it.  mtty's FIFO looks empty again when all 16 slots
 * are used (head == tail), so `send` refuses more than 15 bytes.
 *
 * Exit: 0 ok, 1 failure, 2 usage, 3 cannot open the device.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "migctl.h"
#include "vfio-uapi.h"

#define UART_RX 0
#define UART_LSR 5
#define UART_LSR_DR 0x01
#define FIFO_USABLE 15

static const char *const reg_names[8][2] = {
	{ "rx", "tx" }, { "ier", NULL }, { "iir", "fcr" }, { "lcr", NULL },
	{ "mcr", NULL }, { "lsr", NULL }, { "msr", NULL }, { "scr", NULL },
};

static const char *prog = "mtty-reg";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s [--via=cdev|group] [--port=N] DEV get REG\n"
		"       %s [...] DEV set REG VALUE\n"
		"       %s [...] DEV send STRING\n"
		"       %s [...] DEV recv N\n"
		"       %s [...] DEV dump\n"
		"       %s [...] DEV CMD [ARGS] CMD [ARGS]...  (in order)\n"
		"REG: rx tx ier iir fcr lcr mcr lsr msr scr or 0..7\n",
		prog, prog, prog, prog, prog, prog);
	exit(2);
}

static int parse_reg(const char *s)
{
	char *end;
	long n;

	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 2; j++)
			if (reg_names[i][j] && !strcasecmp(s, reg_names[i][j]))
				return i;
	errno = 0;
	n = strtol(s, &end, 0);
	if (errno || *end || end == s || n < 0 || n > 7)
		return -1;
	return (int)n;
}

static int parse_num(const char *s, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 0);
	if (errno || *end || end == s || n < 0 || n > max)
		return -1;
	return (int)n;
}

struct uart {
	int fd;
	off_t base; /* the BAR's offset in the device fd */
	const char *dev;
};

static int reg_read(const struct uart *u, int reg, unsigned char *val)
{
	ssize_t n = pread(u->fd, val, 1, u->base + reg);

	if (n != 1) {
		fprintf(stderr, "%s: %s: read register %d: %s\n", prog, u->dev,
			reg, n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	return 0;
}

static int reg_write(const struct uart *u, int reg, unsigned char val)
{
	ssize_t n = pwrite(u->fd, &val, 1, u->base + reg);

	if (n != 1) {
		fprintf(stderr, "%s: %s: write register %d: %s\n", prog, u->dev,
			reg, n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

static int do_recv(const struct uart *u, int count)
{
	char buf[FIFO_USABLE + 2];
	unsigned char lsr, c;

	for (int i = 0; i < count; i++) {
		/* Without DR an RX read returns garbage, not an error. */
		if (reg_read(u, UART_LSR, &lsr))
			return 1;
		if (!(lsr & UART_LSR_DR)) {
			fprintf(stderr, "%s: %s: RX FIFO empty after %d of %d bytes\n",
				prog, u->dev, i, count);
			return 1;
		}
		if (reg_read(u, UART_RX, &c))
			return 1;
		buf[i] = (char)c;
	}
	buf[count] = '\n';
	if (fwrite(buf, 1, (size_t)count + 1, stdout) != (size_t)count + 1)
		return 1;
	return 0;
}

static int do_dump(const struct uart *u)
{
	unsigned char v;

	/* RX is skipped: reading it consumes a FIFO byte. */
	for (int reg = 1; reg < 8; reg++) {
		if (reg_read(u, reg, &v))
			return 1;
		printf("%s%s=0x%02x", reg > 1 ? " " : "", reg_names[reg][0], v);
	}
	printf("\n");
	return 0;
}

/* Number of arguments CMD takes, -1 if it is no command. */
static int arity(const char *cmd)
{
	if (!strcmp(cmd, "get") || !strcmp(cmd, "send") || !strcmp(cmd, "recv"))
		return 1;
	if (!strcmp(cmd, "set"))
		return 2;
	if (!strcmp(cmd, "dump"))
		return 0;
	return -1;
}

/* Syntax of one command and its arguments, before anything touches the device. */
static bool valid(char **a)
{
	if (!strcmp(a[0], "get"))
		return parse_reg(a[1]) >= 0;
	if (!strcmp(a[0], "set"))
		return parse_reg(a[1]) >= 0 && parse_num(a[2], 0xff) >= 0;
	if (!strcmp(a[0], "send"))
		return strlen(a[1]) <= FIFO_USABLE;
	if (!strcmp(a[0], "recv"))
		return parse_num(a[1], FIFO_USABLE) >= 0;
	return true;
}

static int run_one(const struct uart *u, char **a)
{
	unsigned char v;

	if (!strcmp(a[0], "get")) {
		if (reg_read(u, parse_reg(a[1]), &v))
			return 1;
		printf("0x%02x\n", v);
		return 0;
	}
	if (!strcmp(a[0], "set"))
		return reg_write(u, parse_reg(a[1]), (unsigned char)parse_num(a[2], 0xff));
	if (!strcmp(a[0], "send")) {
		for (size_t i = 0; a[1][i]; i++)
			if (reg_write(u, UART_RX, (unsigned char)a[1][i]))
				return 1;
		return 0;
	}
	if (!strcmp(a[0], "recv"))
		return do_recv(u, parse_num(a[1], FIFO_USABLE));
	return do_dump(u);
}

/*
 * Several commands may follow one another (`set scr 0x5a send hi get lsr`):
 * one process instead of one per register, which matters in an emulated VM.
 */
static int run(const struct uart *u, char **args, int nargs)
{
	int i, n;

	for (i = 0; i < nargs; i += n + 1) {
		n = arity(args[i]);
		if (n < 0 || i + n >= nargs || !valid(&args[i]))
			usage();
	}
	for (i = 0; i < nargs; i += arity(args[i]) + 1)
		if (run_one(u, &args[i]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "via", required_argument, NULL, 'V' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum migctl_via via = MIGCTL_VIA_AUTO;
	struct vfio_region_info region = { .argsz = sizeof(region) };
	struct migctl_device_desc target;
	struct migctl_root root;
	struct migctl_dev *dev;
	struct uart u;
	const char *held;
	int port = 0, opt, err, rc;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'V':
			if (!strcmp(optarg, "cdev"))
				via = MIGCTL_VIA_CDEV;
			else if (!strcmp(optarg, "group"))
				via = MIGCTL_VIA_GROUP;
			else if (!strcmp(optarg, "auto"))
				via = MIGCTL_VIA_AUTO;
			else
				usage();
			break;
		case 'p':
			if ((port = parse_num(optarg, 5)) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	u.dev = argv[optind];

	err = migctl_root_init(&root, getenv("VFIO_MIGCTL_SYSROOT"));
	if (!err)
		err = migctl_resolve(&root, u.dev, via, &target);
	held = getenv("VFIO_MIGCTL_HOLD_DEVICE");
	if (!err && held && getenv("VFIO_MIGCTL_HOLD_FD") && !strcmp(held, target.name))
		err = migctl_dev_adopt(&root, &target, atoi(getenv("VFIO_MIGCTL_HOLD_FD")), &dev);
	else if (!err)
		err = migctl_dev_open(&root, &target, &dev);
	if (err) {
		fprintf(stderr, "%s: %s: cannot open: %s\n", prog, u.dev,
			strerror(-err));
		return 3;
	}
	u.fd = migctl_dev_fd(dev);

	/* The library has no BAR access (the CLI never needs it): ask here. */
	region.index = VFIO_PCI_BAR0_REGION_INDEX + (unsigned int)port;
	if (ioctl(u.fd, VFIO_DEVICE_GET_REGION_INFO, &region) < 0) {
		fprintf(stderr, "%s: %s: region info of BAR%d: %s\n", prog,
			u.dev, port, strerror(errno));
		migctl_dev_close(dev);
		return 1;
	}
	if (region.size < 8) {
		fprintf(stderr, "%s: %s: BAR%d is %llu bytes, not a UART\n", prog,
			u.dev, port, (unsigned long long)region.size);
		migctl_dev_close(dev);
		return 1;
	}
	u.base = (off_t)region.offset;

	rc = run(&u, &argv[optind + 1], argc - optind - 1);
	if (fflush(stdout) || ferror(stdout))
		rc = 1;
	migctl_dev_close(dev);
	return rc;
}
