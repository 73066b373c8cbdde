/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_NET_PRIV_H
#define VGW_NET_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "vgw_common.h"
#include "vgw_conf.h"
#include "vgw_dp.h"
#include "vgw_device.h"
#include "bridge_table.h"

struct vgw_net_bridge;

/* Frames an xconnect took from one queue of a port that the peer could not
 * take yet (not published, ring disabled or full). Owned by the worker that
 * polls the queue; while any are held, nothing more is taken from that
 * queue, so the rest waits in the sender's ring: back-pressure. */
struct vgw_net_held {
	uint16_t n;
	uint16_t off;
	struct rte_mbuf *pkts[VGW_DP_BURST];
};

/* A net device (vhost-user) or an ethdev uplink: the device base and what
 * the switch needs. */
struct vgw_net_port {
	struct vgw_device dev; /* name, index (stats slots, bridge
					 * port id), type, queues, vid */
	_Atomic uint16_t active_queues;
	/* Queue pairs frames are sent into: the leading pairs whose receive
	 * ring the front-end enabled (a guest may use fewer than it has). */
	_Atomic uint16_t tx_queues;
	_Atomic uint32_t ready_rings; /* bit per vring, rte_vhost's thread */
	/* A RARP the front-end asked for (SEND_RARP) and not sent yet: the
	 * guest's MAC (byte i in bits 8i..8i+7) with VGW_NET_RARP_REQ, or 0.
	 * Set by rte_vhost's thread, taken by the worker that polls the
	 * port (one-copy: it injects the frame at the start of a pass; mbuf
	 * path: rte_vhost injects it, the worker counts it when it shows). */
	_Atomic uint64_t rarp_req;
	_Atomic uint64_t rarp_sent; /* RARP frames injected for the front-end */
	/* Up by the gateway's account: a device is ready, from before it is
	 * published to the workers until it stops. A peer that is up but not
	 * (yet) published gets back-pressure, one that is down gets drops. */
	atomic_bool up;
	uint16_t eth_port;	   /* ethdev */
	struct vgw_net_port *peer; /* xconnect */
	bool one_copy;		   /* on a one-copy link (xconnect or bridge) */
	/* rings of our own (a one-copy link): one per queue pair */
	struct vgw_net_oc *oc;
	uint16_t n_oc;
	struct vgw_net_bridge *bridge;
	bool eth_started; /* control thread */
	/* held frames freed by the control plane when the front-end left */
	_Atomic uint64_t held_drops[VGW_MAX_QUEUES];
	struct vgw_net_held held[VGW_MAX_QUEUES]; /* xconnect, per queue */
};

#define VGW_NET_RARP_REQ (1ULL << 48)

/* The guest MAC of a RARP request. */
static inline void
vgw_net_rarp_mac(uint64_t req, uint8_t mac[6])
{
	for (unsigned int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(req >> (8 * i));
}

struct vgw_net_bridge {
	char name[VGW_NAME_MAX];
	struct vgw_mac_table *macs;
	uint64_t aging_tsc;
	uint16_t n_ports;
	struct vgw_net_port *ports[VGW_BRIDGE_MAX_PORTS];
	/* a device index's position in ports[] (UINT8_MAX: not a port) */
	uint8_t slot_of[VGW_MAX_DEVICES];
	/* control thread: each port's refused sources at its last report */
	uint64_t refused_seen[VGW_BRIDGE_MAX_PORTS];
	uint64_t refused_said_tsc[VGW_BRIDGE_MAX_PORTS];
};

/* net_oc.c: one copy between the guests of a vhost-to-vhost xconnect */
struct vgw_net_oc;
int vgw_net_oc_init(struct vgw_net_port *p, uint16_t pairs);
/* an ethdev port of a one-copy bridge (after its set-up): no rings */
void vgw_net_oc_eth(struct vgw_net_port *p);
int vgw_net_oc_start(struct vgw_net_port *p, int vid);
/* A ring the front-end enabled (rte_vhost's thread, before the workers
 * may see it enabled): taken for our walker if the device runs and it was
 * not yet in this start. */
int vgw_net_oc_ring(struct vgw_net_port *p, int vid, uint16_t vring);
void vgw_net_oc_stop(struct vgw_net_port *p);
int vgw_net_oc_remap(struct vgw_net_port *p, int vid);
uint64_t vgw_net_oc_malformed(const struct vgw_net_port *p);
/* frames sent with a segmentation passed whole, segmented here, segments
 * made, checksums done here */
void vgw_net_oc_offload_stats(const struct vgw_net_port *p, uint64_t out[4]);
uint16_t vgw_net_poll_oc(struct vgw_dp_task *t, struct vgw_dp_lcore *lc);
/* a port of a one-copy bridge: its task (t->arg: the port) */
uint16_t vgw_net_poll_oc_bport(struct vgw_dp_task *t, struct vgw_dp_lcore *lc);

/* net_fwd.c: the poll functions of the workers */
uint16_t vgw_net_poll_vhost(struct vgw_dp_task *t, struct vgw_dp_lcore *lc);
uint16_t vgw_net_poll_eth(struct vgw_dp_task *t, struct vgw_dp_lcore *lc);

extern struct rte_mempool *vgw_net_pool;

static inline uint16_t
vgw_net_slot(const struct vgw_net_port *p, uint16_t q)
{
	return vgw_device_slot(&p->dev, q);
}

#endif /* VGW_NET_PRIV_H */
