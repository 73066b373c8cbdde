/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_NET_H
#define VGW_NET_H

/* virtio-net devices and DPDK uplink ports, switched by xconnects and
 * learning bridges. The fast path lives in net_fwd.c; everything here runs
 * on the control thread. */

#include <stdint.h>

#include "vgw_conf.h"

/* Mempool figures, for start-up and the control socket. */
struct vgw_net_mem {
	unsigned int mbufs;
	unsigned int mbuf_size;
	unsigned int in_use;
	uint64_t bytes;
};

/* Create the ports and bridges and add them to the device registry
 * (vgw_device.h): the control socket and telemetry reach them there. */
int vgw_net_init(const struct vgw_conf *conf);
int vgw_net_start(void);
void vgw_net_stop(void);
/* Control thread, a few times a second or more: ages the bridges' MAC
 * tables (once a second). */
void vgw_net_age(void);
void vgw_net_mem_info(struct vgw_net_mem *m);

#endif /* VGW_NET_H */
