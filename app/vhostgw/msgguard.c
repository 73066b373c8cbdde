/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The message guard: every vhost-user message a front-end sends is checked
 * before rte_vhost reads it, as vhostgw-keeper's relay checks it
 * (vk_msg_guard, doc/keeper.rst). rte_vhost 22.11 closes nothing of what
 * arrives with a message it rejects before its handler runs (a payload
 * size over its limit, a ring index of 256 or more, a payload that never
 * comes): a hostile or broken front-end could exhaust the process's fds
 * and take every device down. A refused message has its fds closed here,
 * one line logged and the device's msgs_refused counted; then, as the
 * keeper does, a message that asks for a reply (NEED_REPLY) goes on to
 * rte_vhost without its fds, which answers it (a failure where it needed
 * them), and any other makes rte_vhost's read fail: it closes that
 * connection, the other devices go on.
 *
 * rte_vhost reads a message as a 12-byte header with its fds (one
 * recvmsg), then the payload (read). This file defines recvmsg for the
 * process: a call that reads 12 bytes from a connection of a device's
 * socket (our end named by the device's path in server mode, the peer in
 * client mode) is checked, with the payload peeked; any other call goes
 * straight to the C library's. Control path only: the data path makes no
 * system calls. Not under vhostgw-keeper: there the keeper checks every
 * message and is the only peer of the gateway's sockets (their keeper-only
 * messages carry fds no front-end message has).
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vgw_device.h"
#include "vgw_keeper.h"
#include "vgw_log.h"
#include "vgw_vhost.h"

#include "msgguard.h"

/* How long the payload may take to follow its header. */
#define GUARD_PAYLOAD_MS 1000

typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);

static _Atomic(recvmsg_fn) libc_recvmsg;
static atomic_bool guard_on;

static recvmsg_fn
real_recvmsg(void)
{
	recvmsg_fn f = atomic_load_explicit(&libc_recvmsg, memory_order_acquire);

	if (f == NULL) {
		f = (recvmsg_fn)dlsym(RTLD_NEXT, "recvmsg");
		atomic_store_explicit(&libc_recvmsg, f, memory_order_release);
	}
	return f;
}

void
vgw_msgguard_enable(void)
{
	(void)real_recvmsg();
	atomic_store(&guard_on, true);
}

/* The vhost-user device whose socket fd is a connection of, or NULL. */
static struct vgw_device *
guard_device(int fd)
{
	struct sockaddr_un sa;
	socklen_t len;
	unsigned int n = vgw_device_count();

	for (int peer = 0; peer < 2; peer++) {
		memset(&sa, 0, sizeof(sa));
		len = sizeof(sa);
		if ((peer ? getpeername(fd, (struct sockaddr *)&sa, &len) :
			    getsockname(fd, (struct sockaddr *)&sa, &len)) < 0 ||
		    sa.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path) ||
		    sa.sun_path[0] == '\0')
			continue;
		sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
		for (unsigned int i = 0; i < n; i++) {
			struct vgw_device *dev = vgw_device_at(i);

			if (dev->vhost && (dev->conf->mode == VGW_MODE_CLIENT) == (peer == 1) &&
			    strcmp(dev->conf->socket, sa.sun_path) == 0)
				return dev;
		}
	}
	return NULL;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Peek the payload that follows a header: 0 once all of it is there, < 0
 * if the connection ends or it does not come within GUARD_PAYLOAD_MS. */
static int
peek_payload(int fd, void *buf, size_t size)
{
	uint64_t end = now_ms() + GUARD_PAYLOAD_MS;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, size, MSG_PEEK | MSG_DONTWAIT);
		if (n == (ssize_t)size)
			return 0;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -EPIPE;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		if (n > 0)
			usleep(1000); /* part of it: poll would not wait */
		else
			(void)poll(&p, 1, 10);
	}
}

static unsigned int
device_rings(const struct vgw_device *dev)
{
	return dev->type == VGW_DEV_FS ? dev->queues + 1u : 2u * dev->queues;
}

/* Check the message whose header and fds mh holds: 0 if it may pass as
 * it is, 1 if it may pass without its fds (closed, taken out of mh), < 0 if
 * refused (its fds closed). */
static int
guard_check(int fd, struct vgw_device *dev, struct msghdr *mh)
{
	static _Thread_local struct vk_msg m;
	struct cmsghdr *c;
	char err[160] = "";
	uint32_t h[3];
	size_t nfd;
	int ret;

	bool whole = false; /* the header and payload as they were sent */

	memcpy(h, mh->msg_iov[0].iov_base, sizeof(h));
	m.request = h[0];
	m.flags = h[1];
	m.size = h[2];
	m.n_fds = 0;
	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd && m.n_fds < VK_MAX_FDS; i++)
			memcpy(&m.fds[m.n_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (mh->msg_flags & MSG_CTRUNC) {
		snprintf(err, sizeof(err), "%s: more fds than a message carries",
			 vgw_vhost_msg_name(m.request));
		ret = -EINVAL;
	} else if (m.size > VK_MAX_PAYLOAD) {
		snprintf(err, sizeof(err), "%s: payload of %u bytes", vgw_vhost_msg_name(m.request),
			 m.size);
		ret = -EINVAL;
	} else if (m.size > 0 && peek_payload(fd, m.payload, m.size) < 0) {
		snprintf(err, sizeof(err), "%s: its %u payload bytes did not follow",
			 vgw_vhost_msg_name(m.request), m.size);
		ret = -EINVAL;
	} else {
		whole = true;
		ret = vk_msg_guard(&m, device_rings(dev), err, sizeof(err));
	}
	if (ret == 0)
		return 0;
	vk_msg_close_fds(&m);
	atomic_fetch_add_explicit(&dev->msgs_refused, 1, memory_order_relaxed);
	if (whole && (m.flags & VK_FLAG_NEED_REPLY)) {
		mh->msg_controllen = 0;
		VGW_LOG(app, ERR,
			"%s: front-end message refused: %s; passed on without fds "
			"for rte_vhost to answer",
			dev->name, err);
		return 1;
	}
	VGW_LOG(app, ERR, "%s: front-end message refused: %s; connection closed", dev->name, err);
	return ret;
}

ssize_t
recvmsg(int fd, struct msghdr *mh, int flags)
{
	recvmsg_fn f = real_recvmsg();
	struct vgw_device *dev;
	ssize_t n;

	if (f == NULL) {
		errno = ENOSYS;
		return -1;
	}
	n = f(fd, mh, flags);
	if (n != VK_HDR_SIZE || !atomic_load_explicit(&guard_on, memory_order_relaxed) ||
	    mh->msg_iovlen != 1 || mh->msg_iov[0].iov_len != VK_HDR_SIZE || (flags & MSG_PEEK))
		return n;
	dev = guard_device(fd);
	if (dev == NULL || guard_check(fd, dev, mh) >= 0)
		return n;
	errno = EPROTO;
	return -1;
}
