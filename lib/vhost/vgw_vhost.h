/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_VHOST_H
#define VGW_VHOST_H

/* The only user of rte_vhost.h. Socket registration (server or client),
 * device callbacks dispatched to the owner of each socket, message hooks,
 * and the burst calls of the built-in net path. */

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

/* A vhost-user message as the hooks see it (front-end to back-end). */
struct vgw_vhost_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;			/* payload bytes */
	const uint8_t *payload;
	int fd_num;
};

/* Callbacks of one socket's owner. They run on rte_vhost's event thread,
 * which serves every socket: they must never block on anything but a short
 * RCU grace period. ctx is the pointer given at registration. */
struct vgw_vhost_ops {
	/* A front-end connected; return < 0 to refuse the connection. */
	int (*new_connection)(void *ctx, int vid);
	/* Return < 0 when vid was not the device's front-end (one it refused). */
	int (*destroy_connection)(void *ctx, int vid);
	/* Every ring is ready: the device may be processed. */
	int (*new_device)(void *ctx, int vid);
	/* Must not return while any lcore can still touch the device. */
	void (*destroy_device)(void *ctx, int vid);
	int (*vring_state_changed)(void *ctx, int vid, uint16_t vring, int enable);
	int (*features_changed)(void *ctx, int vid, uint64_t features);
	/* Observer of every vhost-user message, before (post=false) and after
	 * (post=true) rte_vhost handled it. Runs with the device's virtqueue
	 * locks held for most requests: a device whose workers call rte_vhost
	 * functions that take those locks (net: enqueue) must never wait for a
	 * grace period here; fs, whose workers take none of them, does. */
	void (*message)(void *ctx, int vid, const struct vgw_vhost_msg *msg, bool post);
	/* Device state transfer (DEVICE_STATE, offered when both are set).
	 * state_fd: SET_DEVICE_STATE_FD, direction 0 save (we write fd), 1
	 * load (we read it). 0: accepted, the owner now owns fd and transfers
	 * on a thread of its own (the front-end reads or writes the pipe only
	 * after our reply); < 0: refused, fd is closed for it. state_check:
	 * CHECK_DEVICE_STATE, after the front-end saw EOF (save) or closed its
	 * end (load): 0 if the last transfer succeeded, waiting for it to end.
	 * Both run on rte_vhost's event thread. */
	int (*state_fd)(void *ctx, int vid, uint32_t direction, int fd);
	int (*state_check)(void *ctx, int vid);
};

/* What happened to a device, as seen from the vhost-user connection: the
 * inputs of the migration phase machine. Reported to the observer on
 * rte_vhost's event thread, in order, for every registered socket. */
enum vgw_vhost_event {
	VGW_VHOST_EV_CONNECTED,		/* a front-end connected */
	VGW_VHOST_EV_DISCONNECTED,	/* it went away */
	VGW_VHOST_EV_READY,		/* rings set up: processing may start */
	VGW_VHOST_EV_STOPPED,		/* processing stopped (destroy_device) */
	VGW_VHOST_EV_LOG_START,		/* dirty logging on (LOG_ALL, SET_LOG_BASE) */
	VGW_VHOST_EV_LOG_STOP,		/* SET_FEATURES without LOG_ALL */
	VGW_VHOST_EV_RING_STOP,		/* GET_VRING_BASE; arg: ring index */
	VGW_VHOST_EV_RINGS_STOPPED,	/* every started ring stopped */
	VGW_VHOST_EV_STATUS_RESET,	/* SET_STATUS(0) */
	VGW_VHOST_EV_RARP,		/* SEND_RARP */
	VGW_VHOST_EV_STATE_FD,		/* SET_DEVICE_STATE_FD; arg: direction */
	VGW_VHOST_EV_STATE_CHECK,	/* CHECK_DEVICE_STATE; arg: 0 passed, 1 failed */
	VGW_VHOST_EV_STATE_DONE,	/* the owner's transfer ended well; arg: direction */
	VGW_VHOST_EV_STATE_REFUSED,	/* the owner refused SET_DEVICE_STATE_FD */
	VGW_VHOST_EV_COUNT,
};

const char *vgw_vhost_event_name(enum vgw_vhost_event ev);

/* One observer for all sockets (the control thread's input queue). It runs
 * on rte_vhost's event thread, often with virtqueue locks held: it must not
 * block. name is the device name given at registration. */
typedef void (*vgw_vhost_observer_fn)(const char *name, enum vgw_vhost_event ev,
				      uint64_t arg);
void vgw_vhost_set_observer(vgw_vhost_observer_fn fn);
/* Report an event of the owner's own (VGW_VHOST_EV_STATE_DONE) to the
 * observer, from any thread. */
void vgw_vhost_report(const char *name, enum vgw_vhost_event ev, uint64_t arg);

#define VGW_VHOST_F_CLIENT (1u << 0)	/* we connect; rte_vhost reconnects */
#define VGW_VHOST_F_NET (1u << 1)	/* rte_vhost's built-in virtio-net path */

int vgw_vhost_register(const char *path, const char *name, unsigned int flags,
		       uint64_t pf_off, const struct vgw_vhost_ops *ops, void *ctx);
/* Start listening or connecting; call after vgw_vhost_register(). */
int vgw_vhost_start(const char *path);
int vgw_vhost_unregister(const char *path);

/* Negotiated virtio and protocol features of a connected device. */
int vgw_vhost_features(int vid, uint64_t *features, uint64_t *protocol);
/* Number of vrings the front-end set up. */
uint16_t vgw_vhost_nr_vrings(int vid);

/* Built-in net path. vring 2q is the guest's RX ring of queue pair q (we
 * enqueue), 2q+1 its TX ring (we dequeue). */
uint16_t vgw_vhost_net_dequeue(int vid, uint16_t vring, struct rte_mempool *mp,
			       struct rte_mbuf **pkts, uint16_t n);
uint16_t vgw_vhost_net_enqueue(int vid, uint16_t vring,
			       struct rte_mbuf **pkts, uint16_t n);

/* We poll: ask the front-end not to kick this ring (VRING_USED_F_NO_NOTIFY),
 * which spares it an eventfd write per burst. rte_vhost keeps the setting
 * across ring re-enables. Takes the ring's lock: never call it from a
 * callback that holds rte_vhost's virtqueue locks. */
int vgw_vhost_no_kicks(int vid, uint16_t vring);

const char *vgw_vhost_msg_name(uint32_t request);

#endif /* VGW_VHOST_H */
