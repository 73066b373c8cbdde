/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_NET_H
#define VGW_NET_H

/* virtio-net devices and DPDK uplink ports, switched by xconnects and
 * learning bridges. The fast path lives in net_fwd.c; everything here runs
 * on the control thread or on rte_vhost's event thread. */

#include <stdbool.h>
#include <stdint.h>

#include "vgw_conf.h"
#include "vgw_dp.h"

struct vgw_net_port_info {
	char name[VGW_NAME_MAX];
	enum vgw_dev_type type;
	const char *mode;		/* "server", "client" or "" */
	char socket[VGW_DEVARGS_MAX];	/* vhost socket, or ethdev devargs */
	const char *link;		/* "xconnect", "bridge" or "" */
	char link_name[VGW_NAME_MAX];
	char peer[VGW_NAME_MAX];	/* xconnect peer */
	bool connected;			/* a front-end is connected */
	bool ready;			/* its rings are set up (new_device) */
	bool suspended;			/* by the operator */
	int vid;
	uint16_t queues;		/* configured queue pairs */
	uint16_t active_queues;		/* queue pairs in the poll lists */
	uint64_t features;
	uint64_t protocol_features;
	uint64_t connects;
	uint64_t disconnects;
	uint64_t refused;		/* second front-ends refused */
};

/* Mempool figures, for start-up and the control socket. */
struct vgw_net_mem {
	unsigned int mbufs;
	unsigned int mbuf_size;
	unsigned int in_use;
	uint64_t bytes;
};

int vgw_net_init(const struct vgw_conf *conf);
int vgw_net_start(void);
void vgw_net_stop(void);
/* Control thread, a few times a second or more: applies deferred poll list
 * rebuilds and ages the bridges' MAC tables. */
void vgw_net_tick(void);

unsigned int vgw_net_n_ports(void);
int vgw_net_port_info(unsigned int idx, struct vgw_net_port_info *info);
int vgw_net_port_find(const char *name);
/* Counters of queue q of port idx, summed over the workers. */
int vgw_net_queue_stats(unsigned int idx, uint16_t q, struct vgw_dp_qstats *st);
void vgw_net_mem_info(struct vgw_net_mem *m);
/* Stop (suspend=true) or restart processing port idx. Once it returns no
 * worker reads or writes the device's rings or guest memory, and none
 * notifies the guest, until it is resumed; what the front-end queued in
 * between is served then. Returns 1 if the state changed, 0 if it already
 * was so, -ENOENT, -ENOTSUP (not a vhost device). Control thread only. */
int vgw_net_suspend(unsigned int idx, bool suspend);
/* Bridge name of port idx's MAC table size, or -1 if it is not bridged. */
int vgw_net_bridge_macs(unsigned int idx);

#endif /* VGW_NET_H */
