// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Kernel uevents through a NETLINK_KOBJECT_UEVENT socket managed by
 * libnl-3: what 'wait' and 'monitor' are built on.  Only messages from the
 * kernel itself count (sender port 0, credentials pid 0): anyone may send
 * to the group udev re-broadcasts on, and we listen on the kernel's.
 */
#include <errno.h>
#include <limits.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The kernel's multicast group; 2 is udev's re-broadcast */
#define UEVENT_GROUP_KERNEL 1
/* Room for a burst: creating an mdev alone sends half a dozen events */
#define UEVENT_RCVBUF (4 << 20)

struct migctl_uevent_monitor {
	struct nl_sock *sock;
};

static int nl_error(int nlerr)
{
	/* libnl's codes are its own; the failed syscall's errno says more */
	if (nlerr == -NLE_NOMEM)
		return -ENOMEM;
	if (nlerr == -NLE_PERM)
		return -EPERM;
	if (nlerr == -NLE_AGAIN)
		return -EAGAIN;
	return errno ? -errno : -EIO;
}

int migctl_uevent_open(struct migctl_uevent_monitor **out)
{
	struct migctl_uevent_monitor *mon;
	int r;

	mon = calloc(1, sizeof(*mon));
	if (!mon)
		return -ENOMEM;
	mon->sock = nl_socket_alloc();
	if (!mon->sock) {
		free(mon);
		return -ENOMEM;
	}
	/* uevents have no sequence numbers to check */
	nl_socket_disable_seq_check(mon->sock);
	r = nl_connect(mon->sock, NETLINK_KOBJECT_UEVENT);
	if (!r)
		r = nl_socket_add_membership(mon->sock, UEVENT_GROUP_KERNEL);
	if (!r)
		r = nl_socket_set_passcred(mon->sock, 1);
	if (!r)
		r = nl_socket_set_buffer_size(mon->sock, UEVENT_RCVBUF, 0);
	if (!r)
		r = nl_socket_set_nonblocking(mon->sock);
	if (r) {
		r = nl_error(r);
		migctl_uevent_close(mon);
		return r;
	}
	*out = mon;
	return 0;
}

void migctl_uevent_close(struct migctl_uevent_monitor *mon)
{
	if (!mon)
		return;
	nl_socket_free(mon->sock);
	free(mon);
}

static void set_field(char *dst, size_t size, const char *value)
{
	if (str_copy(dst, size, value))
		dst[0] = '\0';
}

/* "add@/devices/...\0ACTION=add\0DEVPATH=...\0SUBSYSTEM=...\0" */
static int parse(const char *buf, size_t len, struct migctl_uevent *ev)
{
	const char *p = buf, *end = buf + len;

	memset(ev, 0, sizeof(*ev));
	if (!memchr(buf, '@', strnlen(buf, len)))
		return -EBADMSG;
	for (p += strnlen(p, (size_t)(end - p)) + 1; p < end;
	     p += strnlen(p, (size_t)(end - p)) + 1) {
		const char *eq = memchr(p, '=', strnlen(p, (size_t)(end - p)));
		size_t klen;

		if (!eq)
			continue;
		klen = (size_t)(eq - p);
#define FIELD(key, dst)                                             \
	if (klen == sizeof(key) - 1 && memcmp(p, key, klen) == 0) { \
		set_field(ev->dst, sizeof(ev->dst), eq + 1);        \
		continue;                                           \
	}
		FIELD("ACTION", action)
		FIELD("DEVPATH", devpath)
		FIELD("SUBSYSTEM", subsystem)
		FIELD("DRIVER", driver)
		FIELD("DEVNAME", devname)
		FIELD("MDEV_TYPE", mdev_type)
#undef FIELD
		if (klen == 6 && memcmp(p, "SEQNUM", 6) == 0)
			ev->seqnum = strtoull(eq + 1, NULL, 10);
	}
	return ev->action[0] && ev->devpath[0] ? 0 : -EBADMSG;
}

/*
 * Kernels since 6.2 send no MDEV_TYPE with an mdev's events: read the type
 * from sysfs while the device is there (not after a remove).
 */
static void find_mdev_type(struct migctl_uevent *ev)
{
	char dir[PATH_MAX];

	if (ev->mdev_type[0] || strcmp(ev->subsystem, "mdev") != 0 ||
	    path_fmt(dir, sizeof(dir), "/sys%s", ev->devpath))
		return;
	/* Gone already (a remove): the type stays unknown */
	if (sysfs_link_name(dir, "mdev_type", ev->mdev_type, sizeof(ev->mdev_type)))
		ev->mdev_type[0] = '\0';
}

int migctl_uevent_next(struct migctl_uevent_monitor *mon, int timeout_ms, struct migctl_uevent *ev)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(mon->sock), .events = POLLIN };
	struct sockaddr_nl peer;
	struct ucred *creds = NULL;
	unsigned char *buf = NULL;
	int n, r;

	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;

	errno = 0;
	n = nl_recv(mon->sock, &peer, &buf, &creds);
	if (n < 0 && errno == ENOBUFS) {
		/* libnl says NLE_NOMEM: the socket overran and events were lost */
		r = -ENOBUFS;
		goto out;
	}
	if (n <= 0) {
		r = n == 0 ? -EAGAIN : nl_error(n);
		goto out;
	}
	/* Anything not from the kernel is noise, or an attempt to fool us */
	if (peer.nl_pid != 0 || !creds || creds->pid != 0 || creds->uid != 0) {
		r = -EAGAIN;
		goto out;
	}
	r = parse((const char *)buf, (size_t)n, ev);
	if (r)
		r = -EAGAIN;
	else
		find_mdev_type(ev);
out:
	free(buf);
	free(creds);
	return r;
}

bool migctl_uevent_is_vfio(const struct migctl_uevent *ev)
{
	return strcmp(ev->subsystem, "vfio") == 0 || strcmp(ev->subsystem, "vfio-dev") == 0 ||
	       strcmp(ev->subsystem, "mdev") == 0 || strstr(ev->driver, "vfio") != NULL ||
	       strncmp(ev->devname, "vfio/", 5) == 0;
}
