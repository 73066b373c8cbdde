/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user messages as they cross the keeper: framing with fds,
 * checks of what a front-end sends, what expects a reply. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vgw_common.h"
#include "vgw_keeper.h"
#include "vgw_vhost.h"

/* Payload sizes: exact, up to 8 for messages without one, or by shape. */
enum vk_size {
	VK_SZ_REFUSED,	/* not relayed: a feature the keeper hides */
	VK_SZ_NONE,	/* 0 (8 tolerated) */
	VK_SZ_U64,	/* 8 */
	VK_SZ_STATE,	/* 8: ring index, number */
	VK_SZ_RING_FD,	/* 8: ring index word, fd unless NOFD */
	VK_SZ_ADDR,	/* 40: struct vhost_vring_addr */
	VK_SZ_MEM,	/* 8 + 32 per region */
	VK_SZ_LOG,	/* 16 */
	VK_SZ_INFLIGHT, /* 24 */
	VK_SZ_CONFIG,	/* 12 + its size, at most 256 */
};

static const uint8_t sizes[VGW_VHOST_MSG_COUNT] = {
	[VGW_VHOST_MSG_GET_FEATURES] = VK_SZ_NONE,
	[VGW_VHOST_MSG_SET_FEATURES] = VK_SZ_U64,
	[VGW_VHOST_MSG_SET_OWNER] = VK_SZ_NONE,
	[VGW_VHOST_MSG_RESET_OWNER] = VK_SZ_NONE,
	[VGW_VHOST_MSG_SET_MEM_TABLE] = VK_SZ_MEM,
	[VGW_VHOST_MSG_SET_LOG_BASE] = VK_SZ_LOG,
	[VGW_VHOST_MSG_SET_LOG_FD] = VK_SZ_NONE,
	[VGW_VHOST_MSG_SET_VRING_NUM] = VK_SZ_STATE,
	[VGW_VHOST_MSG_SET_VRING_ADDR] = VK_SZ_ADDR,
	[VGW_VHOST_MSG_SET_VRING_BASE] = VK_SZ_STATE,
	[VGW_VHOST_MSG_GET_VRING_BASE] = VK_SZ_STATE,
	[VGW_VHOST_MSG_SET_VRING_KICK] = VK_SZ_RING_FD,
	[VGW_VHOST_MSG_SET_VRING_CALL] = VK_SZ_RING_FD,
	[VGW_VHOST_MSG_SET_VRING_ERR] = VK_SZ_RING_FD,
	[VGW_VHOST_MSG_GET_PROTOCOL_FEATURES] = VK_SZ_NONE,
	[VGW_VHOST_MSG_SET_PROTOCOL_FEATURES] = VK_SZ_U64,
	[VGW_VHOST_MSG_GET_QUEUE_NUM] = VK_SZ_NONE,
	[VGW_VHOST_MSG_SET_VRING_ENABLE] = VK_SZ_STATE,
	[VGW_VHOST_MSG_SEND_RARP] = VK_SZ_U64,
	[VGW_VHOST_MSG_NET_SET_MTU] = VK_SZ_U64,
	[VGW_VHOST_MSG_SET_BACKEND_REQ_FD] = VK_SZ_NONE,
	[VGW_VHOST_MSG_SET_VRING_ENDIAN] = VK_SZ_STATE,
	[VGW_VHOST_MSG_GET_CONFIG] = VK_SZ_CONFIG,
	[VGW_VHOST_MSG_SET_CONFIG] = VK_SZ_CONFIG,
	[VGW_VHOST_MSG_GET_INFLIGHT_FD] = VK_SZ_INFLIGHT,
	[VGW_VHOST_MSG_SET_INFLIGHT_FD] = VK_SZ_INFLIGHT,
	[VGW_VHOST_MSG_RESET_DEVICE] = VK_SZ_NONE,
	[VGW_VHOST_MSG_SET_STATUS] = VK_SZ_U64,
	[VGW_VHOST_MSG_GET_STATUS] = VK_SZ_NONE,
	[VGW_VHOST_MSG_SET_DEVICE_STATE_FD] = VK_SZ_U64,
	[VGW_VHOST_MSG_CHECK_DEVICE_STATE] = VK_SZ_NONE,
};

void
vk_msg_close_fds(struct vk_msg *m)
{
	for (unsigned int i = 0; i < m->n_fds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->n_fds = 0;
}

uint64_t
vk_msg_u64(const struct vk_msg *m)
{
	uint64_t v;

	memcpy(&v, m->payload, sizeof(v));
	return v;
}

void
vk_msg_set_u64(struct vk_msg *m, uint64_t v)
{
	memcpy(m->payload, &v, sizeof(v));
	m->size = sizeof(v);
}

uint32_t
vk_msg_ring(const struct vk_msg *m)
{
	uint32_t v;

	memcpy(&v, m->payload, sizeof(v));
	if (m->request == VGW_VHOST_MSG_SET_VRING_KICK ||
	    m->request == VGW_VHOST_MSG_SET_VRING_CALL || m->request == VGW_VHOST_MSG_SET_VRING_ERR)
		return v & VK_RING_INDEX_MASK;
	return v;
}

bool
vk_msg_wants_reply(const struct vk_msg *m, bool reply_ack)
{
	switch (m->request) {
	case VGW_VHOST_MSG_GET_FEATURES:
	case VGW_VHOST_MSG_GET_PROTOCOL_FEATURES:
	case VGW_VHOST_MSG_GET_QUEUE_NUM:
	case VGW_VHOST_MSG_GET_VRING_BASE:
	case VGW_VHOST_MSG_GET_CONFIG:
	case VGW_VHOST_MSG_GET_INFLIGHT_FD:
	case VGW_VHOST_MSG_GET_STATUS:
	case VGW_VHOST_MSG_SET_LOG_BASE:
	case VGW_VHOST_MSG_SET_DEVICE_STATE_FD:
	case VGW_VHOST_MSG_CHECK_DEVICE_STATE:
		return true;
	default:
		return reply_ack && (m->flags & VK_FLAG_NEED_REPLY) != 0;
	}
}

static bool
has_ring_index(enum vk_size s)
{
	return s == VK_SZ_STATE || s == VK_SZ_RING_FD || s == VK_SZ_ADDR;
}

/* The payload size the message must have, or -1 if it is wrong. */
static int
size_ok(const struct vk_msg *m, enum vk_size s)
{
	uint32_t n;

	switch (s) {
	case VK_SZ_NONE:
		return m->size == 0 || m->size == 8;
	case VK_SZ_U64:
	case VK_SZ_STATE:
	case VK_SZ_RING_FD:
		return m->size == 8;
	case VK_SZ_ADDR:
		return m->size == 40;
	case VK_SZ_LOG:
		return m->size == 16;
	case VK_SZ_INFLIGHT:
		return m->size == 24;
	case VK_SZ_MEM:
		if (m->size < 8)
			return false;
		memcpy(&n, m->payload, sizeof(n));
		return n >= 1 && n <= VK_MAX_FDS && m->size == 8 + 32 * n;
	case VK_SZ_CONFIG:
		if (m->size < 12)
			return false;
		memcpy(&n, m->payload + 4, sizeof(n));
		return n <= 256 && m->size == 12 + n;
	default:
		return false;
	}
}

/* The fds the message must carry. */
static unsigned int
fds_expected(const struct vk_msg *m, enum vk_size s)
{
	const struct vgw_vhost_msg_desc *d = vgw_vhost_msg_desc(m->request);
	uint32_t n;

	switch (d->fds) {
	case VGW_VHOST_FDS_ONE:
		return 1;
	case VGW_VHOST_FDS_RING:
		memcpy(&n, m->payload, sizeof(n));
		return (n & VK_RING_NOFD) ? 0 : 1;
	case VGW_VHOST_FDS_REGIONS:
		(void)s;
		memcpy(&n, m->payload, sizeof(n));
		return n;
	default:
		return 0;
	}
}

int
vk_msg_check(const struct vk_msg *m, uint32_t max_rings, char *err, size_t errlen)
{
	const char *name = vgw_vhost_msg_name(m->request);
	enum vk_size s = m->request < VGW_VHOST_MSG_COUNT ? sizes[m->request] : VK_SZ_REFUSED;
	unsigned int want;

	if (vgw_vhost_msg_desc(m->request) == NULL) {
		snprintf(err, errlen, "unknown message id %u", m->request);
		return -EINVAL;
	}
	if (s == VK_SZ_REFUSED) {
		snprintf(err, errlen, "%s (%u) is not relayed: its feature is not offered", name,
			 m->request);
		return -EINVAL;
	}
	if ((m->flags & VK_FLAG_VERSION_MASK) != VK_FLAG_VERSION || (m->flags & VK_FLAG_REPLY)) {
		snprintf(err, errlen, "%s: flags 0x%x (version 1 and no reply flag expected)", name,
			 m->flags);
		return -EINVAL;
	}
	if (!size_ok(m, s)) {
		snprintf(err, errlen, "%s: payload of %u bytes is wrong for it", name, m->size);
		return -EINVAL;
	}
	if (has_ring_index(s) && vk_msg_ring(m) >= max_rings) {
		snprintf(err, errlen, "%s: ring %u out of range (the device has %u)", name,
			 vk_msg_ring(m), max_rings);
		return -EINVAL;
	}
	if (s == VK_SZ_RING_FD &&
	    (vk_msg_u64(m) & ~(uint64_t)(VK_RING_INDEX_MASK | VK_RING_NOFD))) {
		snprintf(err, errlen, "%s: unknown bits in 0x%llx", name,
			 (unsigned long long)vk_msg_u64(m));
		return -EINVAL;
	}
	want = fds_expected(m, s);
	if (m->n_fds != want) {
		snprintf(err, errlen, "%s: %u fd(s) where it carries %u", name, m->n_fds, want);
		return -EINVAL;
	}
	return 0;
}

int
vk_msg_guard(const struct vk_msg *m, uint32_t max_rings, char *err, size_t errlen)
{
	if (m->request < VGW_VHOST_MSG_COUNT && sizes[m->request] != VK_SZ_REFUSED)
		return vk_msg_check(m, max_rings, err, errlen);
	/* not relayed: rte_vhost answers or refuses it; only fds could stay */
	if (m->n_fds != 0) {
		snprintf(err, errlen, "%s (%u) with %u fd(s), which it does not carry",
			 vgw_vhost_msg_name(m->request), m->request, m->n_fds);
		return -EINVAL;
	}
	return 0;
}

int
vk_msg_check_reply(const struct vk_msg *req, const struct vk_msg *reply, char *err, size_t errlen)
{
	unsigned int want = req->request == VGW_VHOST_MSG_GET_INFLIGHT_FD ? 1 : 0;

	if (!(reply->flags & VK_FLAG_REPLY) || reply->request != req->request) {
		snprintf(err, errlen, "%s (flags 0x%x) where a reply to %s was due",
			 vgw_vhost_msg_name(reply->request), reply->flags,
			 vgw_vhost_msg_name(req->request));
		return -EINVAL;
	}
	/* a refusal: rte_vhost acks with 1 where it would have answered */
	if (reply->size == 8 && reply->n_fds == 0 && req->request == VGW_VHOST_MSG_GET_INFLIGHT_FD)
		return 0;
	if (reply->n_fds > want) {
		snprintf(err, errlen, "reply to %s carries %u fd(s)",
			 vgw_vhost_msg_name(req->request), reply->n_fds);
		return -EINVAL;
	}
	if ((req->request == VGW_VHOST_MSG_GET_VRING_BASE && reply->size != 8) ||
	    (req->request == VGW_VHOST_MSG_GET_INFLIGHT_FD &&
	     (reply->size != 24 || reply->n_fds != 1))) {
		snprintf(err, errlen, "reply to %s: %u bytes, %u fd(s)",
			 vgw_vhost_msg_name(req->request), reply->size, reply->n_fds);
		return -EINVAL;
	}
	return 0;
}

void
vk_rx_reset(struct vk_rx *rx)
{
	rx->have = 0;
	rx->msg.n_fds = 0;
}

/* Take the fds of a control message; -EPROTO if there are too many
 * (those over the limit closed, the caller closes the others). */
static int
take_fds(struct msghdr *mh, struct vk_msg *m)
{
	int ret = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int *fds;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			if (m->n_fds < VK_MAX_FDS)
				m->fds[m->n_fds++] = fds[i];
			else {
				close(fds[i]);
				ret = -EPROTO;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		ret = -EPROTO;
	return ret;
}

int
vk_rx_read(int sock, struct vk_rx *rx)
{
	union {
		char buf[CMSG_SPACE(VK_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	uint8_t *base = rx->have < VK_HDR_SIZE ? (uint8_t *)&rx->msg.request + rx->have :
						 rx->msg.payload + (rx->have - VK_HDR_SIZE);
	size_t want = rx->have < VK_HDR_SIZE ? VK_HDR_SIZE - rx->have :
					       VK_HDR_SIZE + rx->msg.size - rx->have;
	struct iovec iov = { .iov_base = base, .iov_len = want };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n;
	int ret;

	_Static_assert(offsetof(struct vk_msg, payload) == VK_HDR_SIZE, "header layout");
	if (want == 0)
		return 1;
	n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	ret = take_fds(&mh, &rx->msg);
	rx->have += n;
	if (ret == 0 && rx->have == VK_HDR_SIZE && rx->msg.size > VK_MAX_PAYLOAD)
		ret = -EPROTO;
	if (ret < 0) {
		vk_msg_close_fds(&rx->msg); /* a refused message keeps none */
		return ret;
	}
	if (rx->have >= VK_HDR_SIZE && rx->have == VK_HDR_SIZE + rx->msg.size)
		return 1;
	return 0;
}

int
vk_msg_send(int sock, const struct vk_msg *m)
{
	union {
		char buf[CMSG_SPACE(VK_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)&m->request, .iov_len = VK_HDR_SIZE + m->size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (m->n_fds > 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(m->n_fds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(m->n_fds * sizeof(int));
		memcpy(CMSG_DATA(c), m->fds, m->n_fds * sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((size_t)n == iov.iov_len)
			break;
		/* the rest without the fds, which went with the first byte */
		iov.iov_base = (uint8_t *)iov.iov_base + n;
		iov.iov_len -= n;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return 0;
}
