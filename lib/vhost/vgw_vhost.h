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

/* Callbacks of one socket's owner. They run on rte_vhost's event thread,
 * which serves every socket: they must never block on anything but a short
 * RCU grace period. ctx is the pointer given at registration. */
struct vgw_vhost_ops {
	/* A front-end connected; return < 0 to refuse the connection. */
	int (*new_connection)(void *ctx, int vid);
	void (*destroy_connection)(void *ctx, int vid);
	/* Every ring is ready: the device may be processed. */
	int (*new_device)(void *ctx, int vid);
	/* Must not return while any lcore can still touch the device. */
	void (*destroy_device)(void *ctx, int vid);
	int (*vring_state_changed)(void *ctx, int vid, uint16_t vring, int enable);
	int (*features_changed)(void *ctx, int vid, uint64_t features);
	/* Observer of every vhost-user message, before (post=false) and after
	 * (post=true) rte_vhost handled it. */
	void (*message)(void *ctx, int vid, uint32_t request, bool post);
};

#define VGW_VHOST_F_CLIENT (1u << 0)	/* we connect; rte_vhost reconnects */
#define VGW_VHOST_F_NET (1u << 1)	/* rte_vhost's built-in virtio-net path */

int vgw_vhost_register(const char *path, unsigned int flags,
		       const struct vgw_vhost_ops *ops, void *ctx);
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

const char *vgw_vhost_msg_name(uint32_t request);

#endif /* VGW_VHOST_H */
