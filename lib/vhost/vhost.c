/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include <rte_vhost.h>
#include <rte_mbuf.h>

#include "vgw_common.h"
#include "vgw_log.h"
#include "vgw_vhost.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_vhost, vhost, INFO);

/*
 * rte_vhost 22.11 hands its message hooks a struct vhu_msg_context that it
 * does not install. Our private copy of its layout: the message (12-byte
 * header + 632-byte payload), then up to 8 fds and their count, packed.
 */
#define VGW_VHU_MAX_FDS 8
#define VGW_VHU_PAYLOAD 632

struct vgw_vhu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	uint8_t payload[VGW_VHU_PAYLOAD];
} __attribute__((packed));

struct vgw_vhu_msg_context {
	struct vgw_vhu_msg msg;
	int fds[VGW_VHU_MAX_FDS];
	int fd_num;
} __attribute__((packed));

_Static_assert(sizeof(struct vgw_vhu_msg) == 644, "vhu message layout");
_Static_assert(offsetof(struct vgw_vhu_msg_context, fds) == 644, "vhu fds offset");
_Static_assert(sizeof(struct vgw_vhu_msg_context) == 680, "vhu context size");

/* Offloads that only make sense between two virtio devices: a frame that
 * may leave through a DPDK port must be complete. */
#define VGW_VHOST_OFFLOADS ((1ULL << VIRTIO_NET_F_CSUM) | \
	(1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) | \
	(1ULL << VIRTIO_NET_F_HOST_UFO) | (1ULL << VIRTIO_NET_F_HOST_ECN) | \
	(1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) | \
	(1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_GUEST_ECN))

struct vgw_vhost_sock {
	bool used;
	unsigned int flags;
	char path[VGW_SOCKET_MAX];
	const struct vgw_vhost_ops *ops;
	void *ctx;
};

/* Written only under reg_lock by the control thread; read by callbacks on
 * rte_vhost's event thread, also under reg_lock (never on the fast path). */
static struct vgw_vhost_sock socks[VGW_MAX_DEVICES];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static struct vgw_vhost_sock *
sock_by_path(const char *path)
{
	for (unsigned int i = 0; i < VGW_ARRAY_SIZE(socks); i++)
		if (socks[i].used && strcmp(socks[i].path, path) == 0)
			return &socks[i];
	return NULL;
}

/* The owner of vid, copied out so the callback runs without reg_lock. */
static int
sock_lookup(int vid, const struct vgw_vhost_ops **ops, void **ctx)
{
	char path[VGW_SOCKET_MAX];
	struct vgw_vhost_sock *s;
	int ret = -ENOENT;

	if (rte_vhost_get_ifname(vid, path, sizeof(path)) < 0)
		return -ENODEV;
	pthread_mutex_lock(&reg_lock);
	s = sock_by_path(path);
	if (s != NULL) {
		*ops = s->ops;
		*ctx = s->ctx;
		ret = 0;
	}
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

static enum rte_vhost_msg_result
hook_common(int vid, void *msg, bool post)
{
	const struct vgw_vhu_msg_context *c = msg;
	const struct vgw_vhost_ops *ops;
	void *ctx;

	if (sock_lookup(vid, &ops, &ctx) == 0 && ops->message != NULL)
		ops->message(ctx, vid, c->msg.request, post);
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

static enum rte_vhost_msg_result
pre_msg_hook(int vid, void *msg)
{
	return hook_common(vid, msg, false);
}

static enum rte_vhost_msg_result
post_msg_hook(int vid, void *msg)
{
	return hook_common(vid, msg, true);
}

static const struct rte_vhost_user_extern_ops extern_ops = {
	.pre_msg_handle = pre_msg_hook,
	.post_msg_handle = post_msg_hook,
};

static int
cb_new_connection(int vid)
{
	const struct vgw_vhost_ops *ops;
	void *ctx;
	int ret;

	if (sock_lookup(vid, &ops, &ctx) < 0)
		return -1;
	ret = rte_vhost_extern_callback_register(vid, &extern_ops, NULL);
	if (ret < 0) {
		VGW_LOG(vhost, ERR, "vid %d: cannot register message hooks", vid);
		return -1;
	}
	if (ops->new_connection != NULL)
		return ops->new_connection(ctx, vid);
	return 0;
}

static void
cb_destroy_connection(int vid)
{
	const struct vgw_vhost_ops *ops;
	void *ctx;

	if (sock_lookup(vid, &ops, &ctx) == 0 && ops->destroy_connection != NULL)
		ops->destroy_connection(ctx, vid);
}

static int
cb_new_device(int vid)
{
	const struct vgw_vhost_ops *ops;
	void *ctx;

	if (sock_lookup(vid, &ops, &ctx) < 0)
		return -1;
	return ops->new_device != NULL ? ops->new_device(ctx, vid) : 0;
}

static void
cb_destroy_device(int vid)
{
	const struct vgw_vhost_ops *ops;
	void *ctx;

	if (sock_lookup(vid, &ops, &ctx) == 0 && ops->destroy_device != NULL)
		ops->destroy_device(ctx, vid);
}

static int
cb_vring_state_changed(int vid, uint16_t vring, int enable)
{
	const struct vgw_vhost_ops *ops;
	void *ctx;

	if (sock_lookup(vid, &ops, &ctx) < 0 || ops->vring_state_changed == NULL)
		return 0;
	return ops->vring_state_changed(ctx, vid, vring, enable);
}

static int
cb_features_changed(int vid, uint64_t features)
{
	const struct vgw_vhost_ops *ops;
	void *ctx;

	if (sock_lookup(vid, &ops, &ctx) < 0 || ops->features_changed == NULL)
		return 0;
	return ops->features_changed(ctx, vid, features);
}

static const struct rte_vhost_device_ops device_ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.vring_state_changed = cb_vring_state_changed,
	.features_changed = cb_features_changed,
	.new_connection = cb_new_connection,
	.destroy_connection = cb_destroy_connection,
};

int
vgw_vhost_register(const char *path, unsigned int flags,
		   const struct vgw_vhost_ops *ops, void *ctx)
{
	struct vgw_vhost_sock *s = NULL;
	uint64_t vflags = 0;
	int ret;

	if (strlen(path) >= VGW_SOCKET_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&reg_lock);
	if (sock_by_path(path) != NULL) {
		pthread_mutex_unlock(&reg_lock);
		return -EEXIST;
	}
	for (unsigned int i = 0; i < VGW_ARRAY_SIZE(socks); i++) {
		if (!socks[i].used) {
			s = &socks[i];
			break;
		}
	}
	if (s == NULL) {
		pthread_mutex_unlock(&reg_lock);
		return -ENOSPC;
	}
	strcpy(s->path, path);
	s->flags = flags;
	s->ops = ops;
	s->ctx = ctx;
	s->used = true;
	pthread_mutex_unlock(&reg_lock);

	if (flags & VGW_VHOST_F_CLIENT)
		vflags |= RTE_VHOST_USER_CLIENT;
	ret = rte_vhost_driver_register(path, vflags);
	if (ret < 0) {
		ret = -EINVAL;
		goto fail;
	}
	if (!(flags & VGW_VHOST_F_NET)) {
		ret = -ENOTSUP;	/* non-net devices declare their own features */
		goto fail_unreg;
	}
	ret = rte_vhost_driver_disable_features(path, VGW_VHOST_OFFLOADS);
	if (ret < 0)
		goto fail_unreg;
	ret = rte_vhost_driver_callback_register(path, &device_ops);
	if (ret < 0)
		goto fail_unreg;
	return 0;

fail_unreg:
	rte_vhost_driver_unregister(path);
fail:
	pthread_mutex_lock(&reg_lock);
	s->used = false;
	pthread_mutex_unlock(&reg_lock);
	return ret < 0 ? ret : -EINVAL;
}

int
vgw_vhost_start(const char *path)
{
	return rte_vhost_driver_start(path) < 0 ? -EIO : 0;
}

int
vgw_vhost_unregister(const char *path)
{
	struct vgw_vhost_sock *s;
	int ret;

	ret = rte_vhost_driver_unregister(path);
	pthread_mutex_lock(&reg_lock);
	s = sock_by_path(path);
	if (s != NULL)
		s->used = false;
	pthread_mutex_unlock(&reg_lock);
	return ret < 0 ? -EBUSY : 0;
}

int
vgw_vhost_features(int vid, uint64_t *features, uint64_t *protocol)
{
	if (rte_vhost_get_negotiated_features(vid, features) < 0)
		return -ENODEV;
	if (rte_vhost_get_negotiated_protocol_features(vid, protocol) < 0)
		*protocol = 0;
	return 0;
}

uint16_t
vgw_vhost_nr_vrings(int vid)
{
	return rte_vhost_get_vring_num(vid);
}

uint16_t
vgw_vhost_net_dequeue(int vid, uint16_t vring, struct rte_mempool *mp,
		      struct rte_mbuf **pkts, uint16_t n)
{
	return rte_vhost_dequeue_burst(vid, vring, mp, pkts, n);
}

uint16_t
vgw_vhost_net_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_vhost_enqueue_burst(vid, vring, pkts, n);
}

static const char *const msg_names[] = {
	[1] = "GET_FEATURES", [2] = "SET_FEATURES", [3] = "SET_OWNER",
	[4] = "RESET_OWNER", [5] = "SET_MEM_TABLE", [6] = "SET_LOG_BASE",
	[7] = "SET_LOG_FD", [8] = "SET_VRING_NUM", [9] = "SET_VRING_ADDR",
	[10] = "SET_VRING_BASE", [11] = "GET_VRING_BASE",
	[12] = "SET_VRING_KICK", [13] = "SET_VRING_CALL",
	[14] = "SET_VRING_ERR", [15] = "GET_PROTOCOL_FEATURES",
	[16] = "SET_PROTOCOL_FEATURES", [17] = "GET_QUEUE_NUM",
	[18] = "SET_VRING_ENABLE", [19] = "SEND_RARP", [20] = "NET_SET_MTU",
	[21] = "SET_BACKEND_REQ_FD", [22] = "IOTLB_MSG",
	[23] = "SET_VRING_ENDIAN", [24] = "GET_CONFIG", [25] = "SET_CONFIG",
	[26] = "CREATE_CRYPTO_SESSION", [27] = "CLOSE_CRYPTO_SESSION",
	[28] = "POSTCOPY_ADVISE", [29] = "POSTCOPY_LISTEN",
	[30] = "POSTCOPY_END", [31] = "GET_INFLIGHT_FD",
	[32] = "SET_INFLIGHT_FD", [33] = "GPU_SET_SOCKET",
	[34] = "RESET_DEVICE", [35] = "VRING_KICK", [36] = "GET_MAX_MEM_SLOTS",
	[37] = "ADD_MEM_REG", [38] = "REM_MEM_REG", [39] = "SET_STATUS",
	[40] = "GET_STATUS", [41] = "GET_SHARED_OBJECT",
	[42] = "SET_DEVICE_STATE_FD", [43] = "CHECK_DEVICE_STATE",
};

const char *
vgw_vhost_msg_name(uint32_t request)
{
	if (request < VGW_ARRAY_SIZE(msg_names) && msg_names[request] != NULL)
		return msg_names[request];
	return "UNKNOWN";
}
