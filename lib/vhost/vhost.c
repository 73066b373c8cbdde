/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Devices we process ourselves (virtio-fs): split rings, no indirect
 * descriptors, no event index; dirty logging for live migration. No
 * STATUS: QEMU 7.2's vhost-user-fs never sends DRIVER_OK, and rte_vhost
 * would wait for it before calling the device ready. */
#define VGW_VHOST_DEVICE_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VHOST_USER_F_PROTOCOL_FEATURES) | (1ULL << VHOST_F_LOG_ALL))
#define VGW_VHOST_DEVICE_PROTOCOL_FEATURES ((1ULL << VHOST_USER_PROTOCOL_F_MQ) | \
	(1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD) | \
	(1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	(1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
#define VGW_VHOST_PF_DEVICE_STATE 19	/* not in rte_vhost 22.11's headers */

/* Inflight regions (GET/SET_INFLIGHT_FD): rte_vhost 22.11 takes the sizes
 * as the front-end gives them, so it would make a region of any size, or
 * index past the end of a mapping shorter than the queues it describes. */
#define VGW_INFLIGHT_MAX_QUEUES 128
#define VGW_INFLIGHT_MAX_QUEUE_SIZE 32768
#define VGW_INFLIGHT_ALIGN 64

struct vgw_vhost_sock {
	bool used;
	unsigned int flags;
	char path[VGW_SOCKET_MAX];
	char name[VGW_NAME_MAX];
	const struct vgw_vhost_ops *ops;
	void *ctx;
	/* rings the front-end started (SET_VRING_KICK) and stopped since
	 * (GET_VRING_BASE): every started ring stopped = all rings stopped.
	 * Event thread only. */
	uint64_t rings_started;
	uint64_t rings_stopped;
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

static _Atomic(vgw_vhost_observer_fn) observer;

#define VHOST_F_LOG_ALL_BIT 26
#define VHOST_USER_SET_FEATURES_ID 2
#define VHOST_USER_SET_LOG_BASE_ID 6
#define VHOST_USER_GET_VRING_BASE_ID 11
#define VHOST_USER_SET_VRING_KICK_ID 12
#define VHOST_USER_SEND_RARP_ID 19
#define VHOST_USER_SET_STATUS_ID 39
#define VHOST_USER_GET_INFLIGHT_FD_ID 31
#define VHOST_USER_SET_INFLIGHT_FD_ID 32
#define VHOST_USER_SET_DEVICE_STATE_FD_ID 42
#define VHOST_USER_CHECK_DEVICE_STATE_ID 43

void
vgw_vhost_set_observer(vgw_vhost_observer_fn fn)
{
	atomic_store(&observer, fn);
}

static void
notify(const char *name, enum vgw_vhost_event ev, uint64_t arg)
{
	vgw_vhost_observer_fn fn = atomic_load(&observer);

	if (fn != NULL)
		fn(name, ev, arg);
}

/* The owner of vid, copied out so the callback runs without reg_lock. */
static int
sock_lookup_name(int vid, const struct vgw_vhost_ops **ops, void **ctx, char *name)
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
		if (name != NULL)
			memcpy(name, s->name, VGW_NAME_MAX);
		ret = 0;
	}
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

static struct vgw_vhost_sock *
sock_of_ctx(void *ctx)
{
	for (unsigned int i = 0; i < VGW_ARRAY_SIZE(socks); i++)
		if (socks[i].used && socks[i].ctx == ctx)
			return &socks[i];
	return &socks[0];
}

void
vgw_vhost_report(const char *name, enum vgw_vhost_event ev, uint64_t arg)
{
	notify(name, ev, arg);
}

static int
sock_lookup(int vid, const struct vgw_vhost_ops **ops, void **ctx)
{
	return sock_lookup_name(vid, ops, ctx, NULL);
}

static uint64_t
payload_u64(const struct vgw_vhu_msg_context *c)
{
	uint64_t v = 0;

	if (c->msg.size >= sizeof(v))
		memcpy(&v, c->msg.payload, sizeof(v));
	return v;
}

static uint32_t
payload_u32(const struct vgw_vhu_msg_context *c)
{
	uint32_t v = 0;

	if (c->msg.size >= sizeof(v))
		memcpy(&v, c->msg.payload, sizeof(v));
	return v;
}

/* Turn the messages that matter to the phase machine into events: before
 * rte_vhost handles them for stops and resets, after it for what it may
 * refuse (features, log base). */
static void
classify(struct vgw_vhost_sock *s, const char *name,
	 const struct vgw_vhu_msg_context *c, bool post)
{
	uint64_t ring = 1ULL << (payload_u64(c) & 63);

	switch (c->msg.request) {
	case VHOST_USER_SET_VRING_KICK_ID:
		if (post) {
			s->rings_started |= ring;
			s->rings_stopped &= ~ring;
		}
		break;
	case VHOST_USER_SET_FEATURES_ID:
		if (post)
			notify(name, (payload_u64(c) >> VHOST_F_LOG_ALL_BIT) & 1 ?
			       VGW_VHOST_EV_LOG_START : VGW_VHOST_EV_LOG_STOP, 0);
		break;
	case VHOST_USER_SET_LOG_BASE_ID:
		if (post)
			notify(name, VGW_VHOST_EV_LOG_START, 1);
		break;
	case VHOST_USER_GET_VRING_BASE_ID:
		if (post)
			break;
		notify(name, VGW_VHOST_EV_RING_STOP, payload_u32(c));
		if (s->rings_started & ring) {
			s->rings_stopped |= ring;
			if (s->rings_stopped == s->rings_started) {
				s->rings_started = 0;
				s->rings_stopped = 0;
				notify(name, VGW_VHOST_EV_RINGS_STOPPED, 0);
			}
		}
		break;
	case VHOST_USER_SET_STATUS_ID:
		if (!post && payload_u64(c) == 0)
			notify(name, VGW_VHOST_EV_STATUS_RESET, 0);
		break;
	case VHOST_USER_SEND_RARP_ID:
		if (!post)
			notify(name, VGW_VHOST_EV_RARP, 0);
		break;
	default:
		break;
	}
}

struct vgw_vhu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

/* Bytes of one queue's split inflight area (the vhost-user layout: a
 * 16-byte header, 16 bytes per descriptor, 64-byte aligned). */
static uint64_t
inflight_queue_bytes(uint16_t queue_size)
{
	uint64_t b = sizeof(struct rte_vhost_inflight_info_split) +
		     (uint64_t)queue_size * sizeof(struct rte_vhost_inflight_desc_split);

	return RTE_ALIGN_CEIL(b, VGW_INFLIGHT_ALIGN);
}

/* NULL when the GET/SET_INFLIGHT_FD request is acceptable, else why not. */
static const char *
inflight_check(const struct vgw_vhu_msg_context *c, char *why, size_t len)
{
	struct vgw_vhu_inflight in;
	struct stat st;
	uint64_t need;

	if (c->msg.size < offsetof(struct vgw_vhu_inflight, queue_size) + sizeof(in.queue_size))
		return "payload too short";
	memcpy(&in, c->msg.payload, sizeof(in));
	if (in.num_queues == 0 || in.num_queues > VGW_INFLIGHT_MAX_QUEUES) {
		snprintf(why, len, "num_queues %u not in 1..%u", in.num_queues,
			 VGW_INFLIGHT_MAX_QUEUES);
		return why;
	}
	if (in.queue_size == 0 || in.queue_size > VGW_INFLIGHT_MAX_QUEUE_SIZE ||
	    (in.queue_size & (in.queue_size - 1)) != 0) {
		snprintf(why, len, "queue_size %u is not a power of two up to %u",
			 in.queue_size, VGW_INFLIGHT_MAX_QUEUE_SIZE);
		return why;
	}
	if (c->msg.request == VHOST_USER_GET_INFLIGHT_FD_ID)
		return NULL;
	need = in.num_queues * inflight_queue_bytes(in.queue_size);
	if (c->fd_num != 1 || c->fds[0] < 0)
		return "no region fd";
	if (in.mmap_size < need) {
		snprintf(why, len, "mmap_size %" PRIu64 " < %" PRIu64 " for %u queues of %u",
			 in.mmap_size, need, in.num_queues, in.queue_size);
		return why;
	}
	if (fstat(c->fds[0], &st) < 0 || !S_ISREG(st.st_mode) ||
	    in.mmap_offset > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size - in.mmap_offset < in.mmap_size) {
		snprintf(why, len, "region fd holds no %" PRIu64 " bytes at offset %" PRIu64,
			 in.mmap_size, in.mmap_offset);
		return why;
	}
	return NULL;
}

/* Answer a message ourselves with a u64 (rte_vhost 22.11 does not know the
 * DEVICE_STATE messages: unanswered, it would fail them). */
static enum rte_vhost_msg_result
reply_u64(struct vgw_vhu_msg_context *c, uint64_t v)
{
	memcpy(c->msg.payload, &v, sizeof(v));
	c->msg.size = sizeof(v);
	c->fd_num = 0;
	return RTE_VHOST_MSG_RESULT_REPLY;
}

static void
close_msg_fds(struct vgw_vhu_msg_context *c)
{
	for (int i = 0; i < c->fd_num && i < VGW_VHU_MAX_FDS; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->fd_num = 0;
}

/* SET_DEVICE_STATE_FD: {u32 direction; u32 phase} and a pipe end. Reply:
 * bits 0-7 zero on success, bit 8: we give no fd of our own (never). */
static enum rte_vhost_msg_result
device_state_fd(int vid, struct vgw_vhu_msg_context *c, const char *name,
		const struct vgw_vhost_ops *ops, void *ctx)
{
	uint32_t dir = 0, phase = 0;
	int ret = -EINVAL;

	if (c->msg.size >= 2 * sizeof(uint32_t)) {
		memcpy(&dir, c->msg.payload, sizeof(dir));
		memcpy(&phase, (const uint8_t *)c->msg.payload + sizeof(dir), sizeof(phase));
	}
	if (c->msg.size < 2 * sizeof(uint32_t) || dir > 1 || phase != 0 || c->fd_num != 1 ||
	    c->fds[0] < 0) {
		VGW_LOG(vhost, ERR, "%s: vid %d: SET_DEVICE_STATE_FD refused: direction %u, phase %u, %d fd(s)",
			name, vid, dir, phase, c->fd_num);
	} else {
		/* before the owner's thread can report the end of it */
		notify(name, VGW_VHOST_EV_STATE_FD, dir);
		ret = ops->state_fd != NULL ? ops->state_fd(ctx, vid, dir, c->fds[0]) : -ENOTSUP;
		if (ret == 0)
			c->fd_num = 0;	/* the owner's now */
		else
			notify(name, VGW_VHOST_EV_STATE_REFUSED, dir);
	}
	close_msg_fds(c);
	return reply_u64(c, (1u << 8) | (ret == 0 ? 0 : 1));
}

static enum rte_vhost_msg_result
device_state_check(int vid, struct vgw_vhu_msg_context *c, const char *name,
		   const struct vgw_vhost_ops *ops, void *ctx)
{
	int ret = ops->state_check != NULL ? ops->state_check(ctx, vid) : -ENOTSUP;

	close_msg_fds(c);
	notify(name, VGW_VHOST_EV_STATE_CHECK, ret == 0 ? 0 : 1);
	return reply_u64(c, ret == 0 ? 0 : 1);
}

static enum rte_vhost_msg_result
hook_common(int vid, void *msg, bool post)
{
	const struct vgw_vhu_msg_context *c = msg;
	struct vgw_vhost_msg m = {
		.request = c->msg.request,
		.flags = c->msg.flags,
		.size = RTE_MIN(c->msg.size, (uint32_t)VGW_VHU_PAYLOAD),
		.payload = c->msg.payload,
		.fd_num = c->fd_num,
	};
	const struct vgw_vhost_ops *ops;
	char name[VGW_NAME_MAX];
	void *ctx;

	if (sock_lookup_name(vid, &ops, &ctx, name) < 0)
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
	if (!post && (c->msg.request == VHOST_USER_GET_INFLIGHT_FD_ID ||
		      c->msg.request == VHOST_USER_SET_INFLIGHT_FD_ID)) {
		char why[128];
		const char *bad = inflight_check(c, why, sizeof(why));

		if (bad != NULL) {
			VGW_LOG(vhost, ERR, "%s: vid %d: %s refused: %s", name, vid,
				vgw_vhost_msg_name(c->msg.request), bad);
			/* a refused message's fds are ours to close */
			close_msg_fds(msg);
			return RTE_VHOST_MSG_RESULT_ERR;
		}
	}
	if (!post && c->msg.request == VHOST_USER_SET_DEVICE_STATE_FD_ID)
		return device_state_fd(vid, msg, name, ops, ctx);
	if (!post && c->msg.request == VHOST_USER_CHECK_DEVICE_STATE_ID)
		return device_state_check(vid, msg, name, ops, ctx);
	/* the slot of a registered socket stays while its connections live */
	classify(sock_of_ctx(ctx), name, c, post);
	if (ops->message != NULL)
		ops->message(ctx, vid, &m, post);
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
	char name[VGW_NAME_MAX];
	void *ctx;
	int ret;

	if (sock_lookup_name(vid, &ops, &ctx, name) < 0)
		return -1;
	ret = rte_vhost_extern_callback_register(vid, &extern_ops, NULL);
	if (ret < 0) {
		VGW_LOG(vhost, ERR, "%s: vid %d: cannot register message hooks", name, vid);
		return -1;
	}
	if (ops->new_connection != NULL && ops->new_connection(ctx, vid) < 0)
		return -1;
	sock_of_ctx(ctx)->rings_started = 0;
	sock_of_ctx(ctx)->rings_stopped = 0;
	notify(name, VGW_VHOST_EV_CONNECTED, vid);
	return 0;
}

static void
cb_destroy_connection(int vid)
{
	const struct vgw_vhost_ops *ops;
	char name[VGW_NAME_MAX];
	void *ctx;

	if (sock_lookup_name(vid, &ops, &ctx, name) < 0)
		return;
	if (ops->destroy_connection != NULL && ops->destroy_connection(ctx, vid) < 0)
		return;	/* not the device's front-end (a refused one) */
	notify(name, VGW_VHOST_EV_DISCONNECTED, vid);
}

static int
cb_new_device(int vid)
{
	const struct vgw_vhost_ops *ops;
	char name[VGW_NAME_MAX];
	void *ctx;
	int ret;

	if (sock_lookup_name(vid, &ops, &ctx, name) < 0)
		return -1;
	ret = ops->new_device != NULL ? ops->new_device(ctx, vid) : 0;
	if (ret == 0)
		notify(name, VGW_VHOST_EV_READY, vid);
	return ret;
}

static void
cb_destroy_device(int vid)
{
	const struct vgw_vhost_ops *ops;
	char name[VGW_NAME_MAX];
	void *ctx;

	if (sock_lookup_name(vid, &ops, &ctx, name) < 0)
		return;
	if (ops->destroy_device != NULL)
		ops->destroy_device(ctx, vid);
	notify(name, VGW_VHOST_EV_STOPPED, vid);
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

/* Offer the protocol features rte_vhost would, less pf_off. */
static int
protocol_features_off(const char *path, const char *name, uint64_t pf_off)
{
	uint64_t pf;

	if (pf_off == 0)
		return 0;
	if (rte_vhost_driver_get_protocol_features(path, &pf) < 0)
		return -EINVAL;
	VGW_LOG(vhost, INFO, "%s: protocol features 0x%" PRIx64 " not offered",
		name, pf & pf_off);
	return rte_vhost_driver_set_protocol_features(path, pf & ~pf_off) < 0 ?
	       -EINVAL : 0;
}

int
vgw_vhost_register(const char *path, const char *name, unsigned int flags,
		   uint64_t pf_off, const struct vgw_vhost_ops *ops, void *ctx)
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
	snprintf(s->name, sizeof(s->name), "%s", name);
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
	if (flags & VGW_VHOST_F_NET) {
		ret = rte_vhost_driver_disable_features(path, VGW_VHOST_OFFLOADS);
	} else {
		/* a device of our own: rte_vhost only handles the protocol */
		ret = rte_vhost_driver_set_features(path, VGW_VHOST_DEVICE_FEATURES);
		if (ret == 0)
			ret = rte_vhost_driver_set_protocol_features(path,
					VGW_VHOST_DEVICE_PROTOCOL_FEATURES |
					(ops->state_fd != NULL && ops->state_check != NULL ?
					 1ULL << VGW_VHOST_PF_DEVICE_STATE : 0));
	}
	if (ret == 0)
		ret = protocol_features_off(path, name, pf_off);
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

int
vgw_vhost_no_kicks(int vid, uint16_t vring)
{
	return rte_vhost_enable_guest_notification(vid, vring, 0) < 0 ? -EINVAL : 0;
}

static const char *const event_names[VGW_VHOST_EV_COUNT] = {
	[VGW_VHOST_EV_CONNECTED] = "connected",
	[VGW_VHOST_EV_DISCONNECTED] = "disconnected",
	[VGW_VHOST_EV_READY] = "ready",
	[VGW_VHOST_EV_STOPPED] = "stopped",
	[VGW_VHOST_EV_LOG_START] = "log-start",
	[VGW_VHOST_EV_LOG_STOP] = "log-stop",
	[VGW_VHOST_EV_RING_STOP] = "ring-stop",
	[VGW_VHOST_EV_RINGS_STOPPED] = "rings-stopped",
	[VGW_VHOST_EV_STATUS_RESET] = "status-reset",
	[VGW_VHOST_EV_RARP] = "rarp",
	[VGW_VHOST_EV_STATE_FD] = "state-fd",
	[VGW_VHOST_EV_STATE_CHECK] = "state-check",
	[VGW_VHOST_EV_STATE_DONE] = "state-done",
	[VGW_VHOST_EV_STATE_REFUSED] = "state-refused",
};

const char *
vgw_vhost_event_name(enum vgw_vhost_event ev)
{
	return (unsigned int)ev < VGW_VHOST_EV_COUNT ? event_names[ev] : "unknown";
}

const char *
vgw_vhost_msg_name(uint32_t request)
{
	if (request < VGW_ARRAY_SIZE(msg_names) && msg_names[request] != NULL)
		return msg_names[request];
	return "UNKNOWN";
}
