/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_vhost.h>
#include <rte_mbuf.h>

#include "vgw_common.h"
#include "vgw_log.h"
#include "vgw_vhost.h"
#include "vgw_device.h"
#include "vgw_vring.h"
#include "vhost_priv.h"

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
#define VGW_VHOST_OFFLOADS \
	((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_HOST_TSO4) | \
	 (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_UFO) | \
	 (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
	 (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_UFO) | \
	 (1ULL << VIRTIO_NET_F_GUEST_ECN))

/* Devices we process ourselves (virtio-fs): split rings, no indirect
 * descriptors, no event index; dirty logging for live migration. No
 * STATUS: QEMU 7.2's vhost-user-fs never sends DRIVER_OK, and rte_vhost
 * would wait for it before calling the device ready. */
#define VGW_VHOST_DEVICE_FEATURES \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES) | \
	 (1ULL << VHOST_F_LOG_ALL) | (1ULL << VIRTIO_RING_F_EVENT_IDX))
#define VGW_VHOST_DEVICE_PROTOCOL_FEATURES \
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) | (1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
#define VGW_VHOST_PF_DEVICE_STATE 19 /* not in rte_vhost 22.11's headers */

/* Inflight regions (GET/SET_INFLIGHT_FD): rte_vhost 22.11 takes the sizes
 * as the front-end gives them, so it would make a region of any size, or
 * index past the end of a mapping shorter than the queues it describes. */
#define VGW_INFLIGHT_MAX_QUEUES 128
#define VGW_INFLIGHT_MAX_QUEUE_SIZE 32768
#define VGW_INFLIGHT_ALIGN 64

static _Atomic(vgw_vhost_observer_fn) observer;

#define VHOST_F_LOG_ALL_BIT 26
#define VHOST_NOFD_BIT 8 /* VHOST_USER_VRING_NOFD_MASK of a ring index */

void
vgw_vhost_set_observer(vgw_vhost_observer_fn fn)
{
	atomic_store(&observer, fn);
}

void
vgw_vhost_report(const char *name, enum vgw_vhost_event ev, uint64_t arg)
{
	vgw_vhost_observer_fn fn = atomic_load(&observer);

	if (fn != NULL)
		fn(name, ev, arg);
}

/* The device of vid's socket; it stays registered while its connections
 * live. */
static struct vgw_device *
device_of(int vid)
{
	char path[VGW_SOCKET_MAX];

	if (rte_vhost_get_ifname(vid, path, sizeof(path)) < 0)
		return NULL;
	return vgw_device_by_path(path);
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

/* GET_VRING_BASE of ring: every started ring stopped makes RINGS_STOPPED. */
static void
ring_stopped(struct vgw_device *dev, uint64_t ring)
{
	if (!(dev->rings_started & ring))
		return;
	dev->rings_stopped |= ring;
	if (dev->rings_stopped == dev->rings_started) {
		dev->rings_started = 0;
		dev->rings_stopped = 0;
		vgw_vhost_report(dev->name, VGW_VHOST_EV_RINGS_STOPPED, 0);
	}
}

/* The phase machine input of a message, from its row in the table. */
static void
classify(struct vgw_device *dev, int vid, const struct vgw_vhost_msg_desc *d,
	 const struct vgw_vhu_msg_context *c, bool post)
{
	uint64_t ring = 1ULL << (payload_u64(c) & 63);

	switch (d->input) {
	case VGW_VHOST_IN_RING_START:
		if (post) {
			dev->rings_started |= ring;
			dev->rings_stopped &= ~ring;
		}
		break;
	case VGW_VHOST_IN_FEATURES:
		if (post)
			vgw_vhost_report(dev->name,
					 (payload_u64(c) >> VHOST_F_LOG_ALL_BIT) & 1 ?
						 VGW_VHOST_EV_LOG_START :
						 VGW_VHOST_EV_LOG_STOP,
					 0);
		break;
	case VGW_VHOST_IN_LOG_BASE:
		if (post)
			vgw_vhost_report(dev->name, VGW_VHOST_EV_LOG_START, 1);
		break;
	case VGW_VHOST_IN_RING_STOP:
		if (!post) {
			vgw_vhost_report(dev->name, VGW_VHOST_EV_RING_STOP, payload_u32(c));
			ring_stopped(dev, ring);
		}
		break;
	case VGW_VHOST_IN_STATUS:
		if (!post && payload_u64(c) == 0)
			vgw_vhost_report(dev->name, VGW_VHOST_EV_STATUS_RESET, 0);
		break;
	case VGW_VHOST_IN_RARP:
		if (post)
			break;
		vgw_vhost_report(dev->name, VGW_VHOST_EV_RARP, 0);
		/* the guest's MAC: the first 6 bytes of the u64 payload.
		 * Before rte_vhost's handler raises its own flag (the mbuf
		 * path's dequeue injects the frame then): the device's
		 * request is visible to whoever sees that flag. */
		if (dev->ops->rarp != NULL && c->msg.size >= sizeof(uint64_t))
			dev->ops->rarp(dev, vid, c->msg.payload);
		break;
	default:
		break;
	}
}

/* Does the message carry the fds its row says? */
static bool
fds_ok(const struct vgw_vhost_msg_desc *d, const struct vgw_vhu_msg_context *c)
{
	switch (d->fds) {
	case VGW_VHOST_FDS_NONE:
		return c->fd_num == 0;
	case VGW_VHOST_FDS_ONE:
		return c->fd_num == 1 && c->fds[0] >= 0;
	case VGW_VHOST_FDS_RING:
		return c->fd_num == ((payload_u64(c) >> VHOST_NOFD_BIT) & 1 ? 0 : 1);
	default:
		return c->fd_num >= 0 && c->fd_num <= VGW_VHU_MAX_FDS;
	}
}

struct vgw_vhu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

_Static_assert(sizeof(struct rte_vhost_inflight_desc_split) == 16, "split inflight descriptor");
_Static_assert(sizeof(struct rte_vhost_inflight_desc_packed) == 32, "packed inflight descriptor");
_Static_assert(VGW_INFLIGHT_ALIGN == 64, "rte_vhost's INFLIGHT_ALIGNMENT");
_Static_assert(!(VGW_VHOST_DEVICE_FEATURES & (1ULL << VIRTIO_F_RING_PACKED)),
	       "an inflight region checked for split rings would be walked as packed ones");

/*
 * Inflight regions (INFLIGHT_SHMFD) are ours alone: GET_INFLIGHT_FD and
 * SET_INFLIGHT_FD never reach rte_vhost. rte_vhost 22.11 would map the
 * front-end's region and, at every SET_VRING_KICK, walk it by its header
 * (vhost_check_queue_inflights_split): desc_num and last_inflight_io, which
 * the front-end writes in shared memory whenever it likes, index up to
 * 65,535 descriptors of 16 bytes (a read of ~1 MiB past the mapping and a
 * zero byte written there), and a front-end that flips entries between its
 * two passes over them makes it write past the resubmit list it sized in
 * the first. No check of ours before the message can close that: the
 * front-end writes after it. With the region mapped here rte_vhost's rings
 * keep no inflight pointer, its walk returns at once, and what it did at
 * SET_VRING_KICK is done by inflight_kick from the layout the message gave,
 * kept in dev->inflight.
 *
 * A region must be sealed against shrinking (F_SEAL_SHRINK): a front-end
 * that truncates the file under a mapping makes the next access to it a
 * SIGBUS in the gateway, for every device. Regions GET_INFLIGHT_FD makes
 * are sealed; an unsealed memfd that allows sealing is sealed here; any
 * other fd is refused.
 *
 * Only split rings: our own devices offer INFLIGHT_SHMFD
 * (VGW_VHOST_DEVICE_PROTOCOL_FEATURES), with VGW_VHOST_DEVICE_FEATURES,
 * which have no RING_PACKED (rte_vhost refuses a SET_FEATURES with a bit
 * not offered), and a region is refused unless INFLIGHT_SHMFD was
 * negotiated (net devices keep rte_vhost's default protocol features,
 * without it).
 */
static bool
inflight_negotiated(int vid)
{
	uint64_t pf = 0;

	return rte_vhost_get_negotiated_protocol_features(vid, &pf) == 0 &&
	       (pf & (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) != 0;
}

/* Sealed against shrinking, by us if it was not and may be. */
static bool
inflight_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals >= 0 && !(seals & (F_SEAL_SHRINK | F_SEAL_SEAL)))
		(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_SHRINK) != 0;
}

/* NULL when the GET/SET_INFLIGHT_FD request is acceptable (in *in), else
 * why not. */
static const char *
inflight_check(int vid, const struct vgw_vhost_msg_desc *d, const struct vgw_vhu_msg_context *c,
	       struct vgw_vhu_inflight *in, char *why, size_t len)
{
	struct stat st;
	uint64_t need;

	if (c->msg.size < offsetof(struct vgw_vhu_inflight, queue_size) + sizeof(in->queue_size))
		return "payload too short";
	memcpy(in, c->msg.payload, sizeof(*in));
	if (!inflight_negotiated(vid))
		return "INFLIGHT_SHMFD not negotiated";
	if (in->num_queues == 0 || in->num_queues > VGW_INFLIGHT_MAX_QUEUES) {
		snprintf(why, len, "num_queues %u not in 1..%u", in->num_queues,
			 VGW_INFLIGHT_MAX_QUEUES);
		return why;
	}
	if (in->queue_size == 0 || in->queue_size > VGW_INFLIGHT_MAX_QUEUE_SIZE ||
	    (in->queue_size & (in->queue_size - 1)) != 0) {
		snprintf(why, len, "queue_size %u is not a power of two up to %u", in->queue_size,
			 VGW_INFLIGHT_MAX_QUEUE_SIZE);
		return why;
	}
	if (!fds_ok(d, c))
		return d->fds == VGW_VHOST_FDS_NONE ? "fds where none belong" : "no region fd";
	if (d->fds == VGW_VHOST_FDS_NONE)
		return NULL; /* GET: the region is ours to make */
	need = in->num_queues * vgw_vhost_inflight_queue_bytes(in->queue_size, false);
	if (in->mmap_size < need) {
		snprintf(why, len, "mmap_size %" PRIu64 " < %" PRIu64 " for %u queues of %u",
			 in->mmap_size, need, in->num_queues, in->queue_size);
		return why;
	}
	/* sealed first: the size checked below then stays */
	if (!inflight_sealed(c->fds[0]))
		return "the region fd can shrink under a mapping (no memfd sealed with "
		       "F_SEAL_SHRINK)";
	if (fstat(c->fds[0], &st) < 0 || !S_ISREG(st.st_mode) ||
	    in->mmap_offset > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size - in->mmap_offset < in->mmap_size) {
		snprintf(why, len, "region fd holds no %" PRIu64 " bytes at offset %" PRIu64,
			 in->mmap_size, in->mmap_offset);
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

static void
close_get_fd(struct vgw_device *dev)
{
	if (dev->inflight.get_fd >= 0)
		close(dev->inflight.get_fd);
	dev->inflight.get_fd = -1;
}

/* GET_INFLIGHT_FD: a zeroed region of num_queues areas, sealed against
 * resizing; our copy of its fd is closed once the reply is sent (the post
 * hook). */
static enum rte_vhost_msg_result
inflight_get(struct vgw_device *dev, const struct vgw_vhu_inflight *in,
	     struct vgw_vhu_msg_context *c, char *why, size_t len)
{
	uint64_t size = in->num_queues * vgw_vhost_inflight_queue_bytes(in->queue_size, false);
	struct vgw_vhu_inflight out = *in;
	int fd;

	close_get_fd(dev);
	fd = memfd_create("vhostgw-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		snprintf(why, len, "region of %" PRIu64 " bytes: %s", size, strerror(errno));
		if (fd >= 0)
			close(fd);
		return RTE_VHOST_MSG_RESULT_ERR;
	}
	dev->inflight.get_fd = fd;
	out.mmap_size = size;
	out.mmap_offset = 0;
	memcpy(c->msg.payload, &out, sizeof(out));
	c->msg.size = sizeof(out);
	c->fds[0] = fd;
	c->fd_num = 1;
	return RTE_VHOST_MSG_RESULT_REPLY;
}

static void
inflight_unmap(struct vgw_device_inflight *r)
{
	if (r->map != NULL)
		munmap(r->map, r->len);
	r->map = NULL;
	r->len = 0;
	r->vid = -1;
	r->num_queues = r->queue_size = 0;
	r->queue_bytes = 0;
}

/* SET_INFLIGHT_FD: map the region, write each area's desc_num (as
 * rte_vhost did), and swap it in with the device taken from the workers
 * (the post hook's remap gives the rings the new areas). */
static enum rte_vhost_msg_result
inflight_set(struct vgw_device *dev, int vid, const struct vgw_vhu_inflight *in,
	     const struct vgw_vhost_msg *m, struct vgw_vhu_msg_context *c, char *why, size_t len)
{
	struct vgw_device_inflight r = {
		.len = in->mmap_size,
		.vid = vid,
		.num_queues = in->num_queues,
		.queue_size = in->queue_size,
		.queue_bytes = vgw_vhost_inflight_queue_bytes(in->queue_size, false),
		.get_fd = dev->inflight.get_fd,
	};
	struct vgw_device_inflight old;

	r.map = vgw_vhost_region_map(c->fds[0], in->mmap_size, in->mmap_offset);
	if (r.map == NULL) {
		snprintf(why, len,
			 "region not mappable (%" PRIu64 " bytes at offset %" PRIu64 "): %s",
			 in->mmap_size, in->mmap_offset, strerror(errno));
		return RTE_VHOST_MSG_RESULT_ERR;
	}
	close_msg_fds(c); /* the mapping holds the file */
	for (uint16_t q = 0; q < r.num_queues; q++)
		((struct rte_vhost_inflight_info_split *)(r.map + q * r.queue_bytes))->desc_num =
			r.queue_size;
	vgw_device_on_remap(dev, vid, m, false);
	pthread_mutex_lock(&dev->lock);
	old = dev->inflight;
	dev->inflight = r;
	pthread_mutex_unlock(&dev->lock);
	inflight_unmap(&old);
	return RTE_VHOST_MSG_RESULT_OK;
}

struct rte_vhost_inflight_info_split *
vgw_vhost_ring_inflight(int vid, uint16_t idx, uint16_t *entries)
{
	struct vgw_device *dev = device_of(vid);
	const struct vgw_device_inflight *r = dev != NULL ? &dev->inflight : NULL;

	if (r == NULL || r->map == NULL || r->vid != vid || idx >= r->num_queues ||
	    !inflight_negotiated(vid))
		return NULL;
	*entries = r->queue_size;
	return (struct rte_vhost_inflight_info_split *)(r->map + idx * r->queue_bytes);
}

/* SET_VRING_KICK of a ring with an area in the front-end's region: what
 * rte_vhost would have done there (vgw_vring_inflight_take_up), by the
 * layout we keep; the ring's last_avail moves past the heads in flight
 * (the ring walker takes them again, vgw_vring_attach). */
static void
inflight_kick(int vid, uint16_t idx)
{
	struct rte_vhost_inflight_info_split *inf;
	struct rte_vhost_vring r;
	uint16_t entries = 0, last_avail, last_used, n;

	inf = vgw_vhost_ring_inflight(vid, idx, &entries);
	if (inf == NULL || rte_vhost_get_vhost_vring(vid, idx, &r) < 0 || r.used == NULL ||
	    r.size == 0 || r.size > entries)
		return;
	n = vgw_vring_inflight_take_up(inf, entries, r.size,
				       __atomic_load_n(&r.used->idx, __ATOMIC_ACQUIRE));
	if (n != 0 && rte_vhost_get_vring_base(vid, idx, &last_avail, &last_used) == 0)
		rte_vhost_set_vring_base(vid, idx, (uint16_t)(last_avail + n), last_used);
}

/* The connection's end: its region goes. */
static void
inflight_release(struct vgw_device *dev, int vid)
{
	struct vgw_device_inflight old = { .map = NULL };

	pthread_mutex_lock(&dev->lock);
	if (dev->inflight.vid == vid || dev->inflight.vid < 0) {
		old = dev->inflight;
		dev->inflight.map = NULL; /* unmapped below, once */
		inflight_unmap(&dev->inflight);
		close_get_fd(dev);
	}
	pthread_mutex_unlock(&dev->lock);
	inflight_unmap(&old);
}

static enum rte_vhost_msg_result
inflight_msg(struct vgw_device *dev, int vid, const struct vgw_vhost_msg_desc *d,
	     const struct vgw_vhost_msg *m, struct vgw_vhu_msg_context *c)
{
	struct vgw_vhu_inflight in;
	char why[160];
	const char *bad = inflight_check(vid, d, c, &in, why, sizeof(why));
	enum rte_vhost_msg_result r = RTE_VHOST_MSG_RESULT_ERR;

	if (bad == NULL && atomic_load(&dev->conn_vid) != vid)
		bad = "not the device's front-end";
	if (bad == NULL) {
		why[0] = '\0';
		r = d->fds == VGW_VHOST_FDS_NONE ?
			    inflight_get(dev, &in, c, why, sizeof(why)) :
			    inflight_set(dev, vid, &in, m, c, why, sizeof(why));
		bad = why;
	}
	if (r == RTE_VHOST_MSG_RESULT_ERR) {
		VGW_LOG(vhost, ERR, "%s: vid %d: %s refused: %s", dev->name, vid, d->name, bad);
		/* a refused message's fds are ours to close */
		close_msg_fds(c);
	}
	return r;
}

/* SET_DEVICE_STATE_FD: {u32 direction; u32 phase} and a pipe end. Reply:
 * bits 0-7 zero on success, bit 8: we give no fd of our own (never). */
static enum rte_vhost_msg_result
device_state_fd(struct vgw_device *dev, int vid, const struct vgw_vhost_msg_desc *d,
		struct vgw_vhu_msg_context *c)
{
	const struct vgw_device_ops *ops = dev->ops;
	uint32_t dir = 0, phase = 0;
	int ret = -EINVAL;

	if (c->msg.size >= 2 * sizeof(uint32_t)) {
		memcpy(&dir, c->msg.payload, sizeof(dir));
		memcpy(&phase, (const uint8_t *)c->msg.payload + sizeof(dir), sizeof(phase));
	}
	if (c->msg.size < 2 * sizeof(uint32_t) || dir > 1 || phase != 0 || !fds_ok(d, c)) {
		VGW_LOG(vhost, ERR,
			"%s: vid %d: SET_DEVICE_STATE_FD refused: direction %u, phase %u, %d fd(s)",
			dev->name, vid, dir, phase, c->fd_num);
	} else {
		/* before the transfer thread can report the end of it */
		vgw_vhost_report(dev->name, VGW_VHOST_EV_STATE_FD, dir);
		ret = ops->state_save != NULL && ops->state_load != NULL ?
			      vgw_device_state_fd(dev, vid, dir, c->fds[0]) :
			      -ENOTSUP;
		if (ret == 0)
			c->fd_num = 0; /* the device's now */
		else
			vgw_vhost_report(dev->name, VGW_VHOST_EV_STATE_REFUSED, dir);
	}
	close_msg_fds(c);
	return reply_u64(c, (1u << 8) | (ret == 0 ? 0 : 1));
}

static enum rte_vhost_msg_result
device_state_check(struct vgw_device *dev, int vid, struct vgw_vhu_msg_context *c)
{
	const struct vgw_device_ops *ops = dev->ops;
	int ret = ops->state_save != NULL && ops->state_load != NULL ?
			  vgw_device_state_check(dev, vid) :
			  -ENOTSUP;

	close_msg_fds(c);
	vgw_vhost_report(dev->name, VGW_VHOST_EV_STATE_CHECK, ret == 0 ? 0 : 1);
	return reply_u64(c, ret == 0 ? 0 : 1);
}

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#define MEM_REGION_LIMIT (1ULL << 48) /* no address space is larger */

/* Why rte_vhost could not map region i of a SET_MEM_TABLE (fd its file),
 * or NULL. */
static const char *
mem_region_unmappable(int fd, uint64_t size, uint64_t offset)
{
	struct stat st;
	int fl, seals;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return "its fd is not a file of memory";
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		return "its file is not open for reading and writing";
	seals = fcntl(fd, F_GET_SEALS);
	if (seals > 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0)
		return "its file is sealed against writes";
	if (size == 0 || size > MEM_REGION_LIMIT || offset > MEM_REGION_LIMIT)
		return "its size or offset is beyond any address space";
	return NULL;
}

/* SET_MEM_TABLE: rte_vhost 22.11 unmaps the memory it has before it maps
 * the new table; a region it then cannot map fails the message with the
 * old memory gone (the device's rings point into nothing) and the region's
 * fd never closed. A table whose files cannot be mapped shared and
 * writable is refused here instead, before anything is unmapped: the
 * front-end gets its error (or loses its connection, as for any failed
 * message), the memory mapped before stays. The rest of the message's
 * checks are rte_vhost's. */
static enum rte_vhost_msg_result
mem_table_check(struct vgw_device *dev, int vid, struct vgw_vhu_msg_context *c)
{
	uint32_t n;

	memcpy(&n, c->msg.payload, sizeof(n));
	if (n == 0 || n > VGW_VHU_MAX_FDS || (int)n != c->fd_num || c->msg.size < 8 + n * 32u)
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED; /* rte_vhost refuses it */
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r[4]; /* guest address, size, front-end address, offset */
		const char *why;

		memcpy(r, c->msg.payload + 8 + i * 32u, sizeof(r));
		why = mem_region_unmappable(c->fds[i], r[1], r[3]);
		if (why == NULL)
			continue;
		VGW_LOG(vhost, ERR,
			"%s: vid %d: SET_MEM_TABLE refused: region %u (guest 0x%" PRIx64
			", %" PRIu64 " bytes): %s; the memory mapped before stays",
			dev->name, vid, i, r[0], r[1], why);
		close_msg_fds(c);
		return RTE_VHOST_MSG_RESULT_ERR;
	}
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

/* Pre-handle: the message's own handler, if its row names one. */
static enum rte_vhost_msg_result
pre_handle(struct vgw_device *dev, int vid, const struct vgw_vhost_msg_desc *d,
	   const struct vgw_vhost_msg *m, struct vgw_vhu_msg_context *c)
{
	if (c->msg.request == VGW_VHOST_MSG_SET_MEM_TABLE)
		return mem_table_check(dev, vid, c);
	switch (d->handler) {
	case VGW_VHOST_H_INFLIGHT:
		return inflight_msg(dev, vid, d, m, c);
	case VGW_VHOST_H_STATE_FD:
		return device_state_fd(dev, vid, d, c);
	case VGW_VHOST_H_STATE_CHECK:
		return device_state_check(dev, vid, c);
	default:
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
	}
}

static bool keeper_mode;

void
vgw_vhost_set_keeper_mode(bool on)
{
	keeper_mode = on;
}

bool
vgw_vhost_keeper_mode(void)
{
	return keeper_mode;
}

/* KEEPER_TABLES: the fds that must outlive us, ours still. */
static enum rte_vhost_msg_result
keeper_tables(struct vgw_device *dev, struct vgw_vhu_msg_context *c)
{
	int fds[VGW_VHOST_KEEP_FDS_MAX];
	int n = dev->ops->keep_fds != NULL ? dev->ops->keep_fds(dev, fds, VGW_ARRAY_SIZE(fds)) : 0;

	RTE_BUILD_BUG_ON(VGW_VHOST_KEEP_FDS_MAX > VGW_VHU_MAX_FDS);
	close_msg_fds(c);
	reply_u64(c, n < 0 ? 0 : (uint64_t)n);
	for (int i = 0; i < n; i++)
		c->fds[i] = fds[i];
	c->fd_num = n < 0 ? 0 : n;
	return RTE_VHOST_MSG_RESULT_REPLY;
}

/* BEGIN's fds: the dead gateway's session, for the device to adopt. */
static void
keeper_adopt(struct vgw_device *dev, int vid, struct vgw_vhu_msg_context *c)
{
	int fds[VGW_VHU_MAX_FDS];
	char why[320];
	int ret;

	if (c->fd_num <= 0 || c->fd_num > VGW_VHU_MAX_FDS)
		return;
	memcpy(fds, c->fds, c->fd_num * sizeof(int));
	why[0] = '\0';
	ret = dev->ops->adopt != NULL ? dev->ops->adopt(dev, fds, c->fd_num, why, sizeof(why)) :
					-ENOTSUP;
	if (ret == -ENOTSUP)
		snprintf(why, sizeof(why), "the device keeps nothing");
	if (ret < 0)
		VGW_LOG(vhost, ERR,
			"%s: vid %d: the dead gateway's session not taken over: %s; "
			"the session starts afresh",
			dev->name, vid, why);
	else
		VGW_LOG(vhost, NOTICE, "%s: vid %d: the dead gateway's session taken over%s%s%s",
			dev->name, vid, why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" : "");
}

/* A session taken over while a migration logs dirty pages: the dead
 * gateway may have written guest memory (a used entry, data of a reply) and
 * died before it set the page's bit in the log. Every page of guest memory
 * is marked dirty, so the front-end sends all of it again in its next pass
 * (one extra pass over the guest's memory, against a destination with a
 * stale page). */
static void
keeper_log_all(struct vgw_device *dev, int vid)
{
	struct rte_vhost_memory *mem = NULL;
	uint64_t features = 0, bytes = 0;

	if (rte_vhost_get_negotiated_features(vid, &features) < 0 ||
	    !(features & (1ULL << VHOST_F_LOG_ALL_BIT)) || rte_vhost_get_mem_table(vid, &mem) < 0)
		return;
	for (uint32_t i = 0; i < mem->nregions; i++) {
		rte_vhost_log_write(vid, mem->regions[i].guest_phys_addr, mem->regions[i].size);
		bytes += mem->regions[i].size;
	}
	free(mem);
	VGW_LOG(vhost, NOTICE,
		"%s: vid %d: taken over with dirty logging on: all %" PRIu64 " MiB of guest "
		"memory marked dirty",
		dev->name, vid, bytes >> 20);
}

/* The keeper's BEGIN/END around a replayed session: phase inputs, with
 * the time since the last gateway died. From anyone else: refused. */
static enum rte_vhost_msg_result
keeper_msg(struct vgw_device *dev, int vid, struct vgw_vhu_msg_context *c)
{
	struct vgw_keeper_replay r;
	struct timespec now;
	uint64_t ms;

	if (keeper_mode && c->msg.request == VGW_VHOST_MSG_KEEPER_TABLES)
		return keeper_tables(dev, c);
	if (!keeper_mode || c->msg.size != sizeof(r) ||
	    (c->fd_num != 0 && c->msg.request != VGW_VHOST_MSG_KEEPER_BEGIN)) {
		VGW_LOG(vhost, ERR, "%s: vid %d: keeper message 0x%x refused: %s", dev->name, vid,
			c->msg.request, keeper_mode ? "bad size or fds" : "not run by a keeper");
		close_msg_fds(c);
		return RTE_VHOST_MSG_RESULT_ERR;
	}
	memcpy(&r, c->msg.payload, sizeof(r));
	if (c->msg.request == VGW_VHOST_MSG_KEEPER_BEGIN) {
		vgw_vhost_report(dev->name, VGW_VHOST_EV_RECOVERY_BEGIN, r.generation);
		keeper_adopt(dev, vid, c);
		close_msg_fds(c);
		return RTE_VHOST_MSG_RESULT_OK;
	}
	keeper_log_all(dev, vid);
	clock_gettime(CLOCK_REALTIME, &now);
	ms = ((uint64_t)now.tv_sec * 1000000000ull + now.tv_nsec - r.died_ns) / 1000000;
	vgw_vhost_report(dev->name, VGW_VHOST_EV_RECOVERY_END, ms);
	return RTE_VHOST_MSG_RESULT_OK;
}

static enum rte_vhost_msg_result
hook_common(int vid, void *msg, bool post)
{
	struct vgw_vhu_msg_context *c = msg;
	const struct vgw_vhost_msg_desc *d = vgw_vhost_msg_desc(c->msg.request);
	struct vgw_vhost_msg m = {
		.request = c->msg.request,
		.flags = c->msg.flags,
		.size = RTE_MIN(c->msg.size, (uint32_t)VGW_VHU_PAYLOAD),
		.payload = c->msg.payload,
		.fd_num = c->fd_num,
	};
	struct vgw_device *dev = device_of(vid);
	enum rte_vhost_msg_result r;

	if (dev != NULL && !post &&
	    (c->msg.request == VGW_VHOST_MSG_KEEPER_BEGIN ||
	     c->msg.request == VGW_VHOST_MSG_KEEPER_END ||
	     c->msg.request == VGW_VHOST_MSG_KEEPER_TABLES))
		return keeper_msg(dev, vid, c);
	if (dev == NULL || d == NULL)
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
	if (!post) {
		r = pre_handle(dev, vid, d, &m, c);
		if (r != RTE_VHOST_MSG_RESULT_NOT_HANDLED)
			return r;
	} else if (c->msg.request == VGW_VHOST_MSG_GET_INFLIGHT_FD) {
		close_get_fd(dev); /* the reply went with it */
	} else if (c->msg.request == VGW_VHOST_MSG_SET_VRING_KICK) {
		inflight_kick(vid, (uint16_t)(payload_u64(c) & 0xff));
	}
	/* the mappings a SIGBUS handler may replace: before rte_vhost
	 * unmaps them, after it mapped new ones */
	if (c->msg.request == VGW_VHOST_MSG_SET_MEM_TABLE && atomic_load(&dev->conn_vid) == vid) {
		if (!post)
			vgw_memguard_clear(dev);
		else
			vgw_memguard_set(dev, vid);
	} else if (post && c->msg.request == VGW_VHOST_MSG_SET_LOG_BASE &&
		   atomic_load(&dev->conn_vid) == vid) {
		vgw_memguard_set(dev, vid);
	}
	classify(dev, vid, d, c, post);
	if (d->flags & VGW_VHOST_MSG_F_REMAP)
		vgw_device_on_remap(dev, vid, &m, post);
	if (post && c->msg.request == VGW_VHOST_MSG_SET_MEM_TABLE &&
	    atomic_load(&dev->conn_vid) == vid)
		vgw_device_mem_restored(dev);
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
	struct vgw_device *dev = device_of(vid);

	if (dev == NULL)
		return -1;
	if (rte_vhost_extern_callback_register(vid, &extern_ops, NULL) < 0) {
		VGW_LOG(vhost, ERR, "%s: vid %d: cannot register message hooks", dev->name, vid);
		return -1;
	}
	if (vgw_device_on_connect(dev, vid) < 0)
		return -1;
	dev->rings_started = 0;
	dev->rings_stopped = 0;
	vgw_vhost_report(dev->name, VGW_VHOST_EV_CONNECTED, vid);
	return 0;
}

static void
cb_destroy_connection(int vid)
{
	struct vgw_device *dev = device_of(vid);

	/* < 0: not the device's front-end (a refused one) */
	if (dev != NULL && vgw_device_on_disconnect(dev, vid) == 0) {
		vgw_memguard_clear(dev); /* rte_vhost unmaps next */
		inflight_release(dev, vid);
		vgw_vhost_report(dev->name, VGW_VHOST_EV_DISCONNECTED, vid);
	}
}

static int
cb_new_device(int vid)
{
	struct vgw_device *dev = device_of(vid);

	if (dev == NULL || vgw_device_on_ready(dev, vid) < 0)
		return -1;
	vgw_vhost_report(dev->name, VGW_VHOST_EV_READY, vid);
	return 0;
}

static void
cb_destroy_device(int vid)
{
	struct vgw_device *dev = device_of(vid);

	if (dev == NULL)
		return;
	vgw_device_on_stop(dev, vid);
	vgw_vhost_report(dev->name, VGW_VHOST_EV_STOPPED, vid);
}

static int
cb_vring_state_changed(int vid, uint16_t vring, int enable)
{
	struct vgw_device *dev = device_of(vid);

	if (dev == NULL || dev->ops->vring_state == NULL)
		return 0;
	return dev->ops->vring_state(dev, vid, vring, enable);
}

static const struct rte_vhost_device_ops device_ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.vring_state_changed = cb_vring_state_changed,
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
	VGW_LOG(vhost, INFO, "%s: protocol features 0x%" PRIx64 " not offered", name, pf & pf_off);
	return rte_vhost_driver_set_protocol_features(path, pf & ~pf_off) < 0 ? -EINVAL : 0;
}

int
vgw_vhost_register(struct vgw_device *dev)
{
	const char *path = dev->conf->socket;
	bool net = dev->type == VGW_DEV_NET;
	uint64_t vflags = 0;
	int ret;

	if (dev->conf->mode == VGW_MODE_CLIENT)
		vflags |= RTE_VHOST_USER_CLIENT;
	if (rte_vhost_driver_register(path, vflags) < 0)
		return -EINVAL;
	if (net) {
		ret = rte_vhost_driver_disable_features(
			path, (dev->offloads ? 0 : VGW_VHOST_OFFLOADS) | dev->features_off);
	} else {
		/* a device of our own: rte_vhost only handles the protocol */
		ret = rte_vhost_driver_set_features(path, VGW_VHOST_DEVICE_FEATURES);
		if (ret == 0)
			ret = rte_vhost_driver_set_protocol_features(
				path, VGW_VHOST_DEVICE_PROTOCOL_FEATURES |
					      (dev->ops->state_save != NULL &&
							       dev->ops->state_load != NULL ?
						       1ULL << VGW_VHOST_PF_DEVICE_STATE :
						       0));
	}
	if (ret == 0)
		ret = protocol_features_off(path, dev->name, dev->conf->pf_off);
	if (ret == 0)
		ret = rte_vhost_driver_callback_register(path, &device_ops);
	if (ret < 0) {
		rte_vhost_driver_unregister(path);
		return -EINVAL;
	}
	return 0;
}

int
vgw_vhost_start(const char *path)
{
	return rte_vhost_driver_start(path) < 0 ? -EIO : 0;
}

int
vgw_vhost_wake_events(const char *dir)
{
	static const struct rte_vhost_device_ops no_ops;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l, c, ret = -EIO;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.wake-%d.sock", dir, (int)getpid()) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -errno;
	unlink(sa.sun_path);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
		ret = -errno;
		goto out;
	}
	if (rte_vhost_driver_register(sa.sun_path, RTE_VHOST_USER_CLIENT) < 0)
		goto out;
	if (rte_vhost_driver_callback_register(sa.sun_path, &no_ops) == 0 &&
	    rte_vhost_driver_start(sa.sun_path) == 0) {
		/* connected, the event thread woken: hang up */
		c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0) {
			close(c);
			ret = 0;
		}
	}
	rte_vhost_driver_unregister(sa.sun_path);
out:
	close(l);
	unlink(sa.sun_path);
	return ret;
}

int
vgw_vhost_unregister(const char *path)
{
	return rte_vhost_driver_unregister(path) < 0 ? -EBUSY : 0;
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
vgw_vhost_net_dequeue(int vid, uint16_t vring, struct rte_mempool *mp, struct rte_mbuf **pkts,
		      uint16_t n)
{
	return rte_vhost_dequeue_burst(vid, vring, mp, pkts, n);
}

uint16_t
vgw_vhost_net_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_vhost_enqueue_burst(vid, vring, pkts, n);
}

int
vgw_vhost_no_kicks(int vid, uint16_t vring)
{
	return rte_vhost_enable_guest_notification(vid, vring, 0) < 0 ? -EINVAL : 0;
}
