/* SPDX-License-Identifier: BSD-3-Clause */
/* The fast path: bursts between vhost queues and ethdev queues, xconnect and
 * learning bridge. No locks, no syscalls, no logs, no allocation beyond
 * mbufs. */
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "vgw_vhost.h"
#include "net_priv.h"

struct rte_mempool *vgw_net_pool;

static inline uint64_t
burst_bytes(struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t b = 0;

	for (uint16_t i = 0; i < n; i++)
		b += rte_pktmbuf_pkt_len(pkts[i]);
	return b;
}

static inline void
count_tx(struct vgw_dp_lcore *lc, const struct vgw_net_port *out, uint16_t txq,
	 struct rte_mbuf **pkts, uint16_t sent, uint16_t n, uint64_t bytes_all)
{
	struct vgw_dp_qstats *s = &lc->stats[vgw_net_slot(out, txq)];

	s->tx_pkts += sent;
	s->tx_bytes += sent == n ? bytes_all : burst_bytes(pkts, sent);
	s->drops += n - sent;
}

/* Copy n packets into a vhost port's guest (rte_vhost copies; the caller
 * keeps the mbufs) and count them. */
static inline void
vhost_send(struct vgw_net_port *out, uint16_t q, struct rte_mbuf **pkts,
	   uint16_t n, uint64_t bytes, struct vgw_dp_lcore *lc)
{
	int vid = atomic_load_explicit(&out->vid, memory_order_relaxed);
	uint16_t nq = atomic_load_explicit(&out->active_queues, memory_order_relaxed);
	uint16_t txq = nq != 0 ? q % nq : 0, sent = 0;

	if (vid >= 0 && nq != 0)
		sent = vgw_vhost_net_enqueue(vid, 2 * txq, pkts, n);
	count_tx(lc, out, txq, pkts, sent, n, bytes);
}

/* Send n packets out of an ethdev port, which takes them; free the rest. */
static inline void
eth_send(struct vgw_net_port *out, struct rte_mbuf **pkts, uint16_t n,
	 uint64_t bytes, struct vgw_dp_lcore *lc)
{
	uint16_t sent = rte_eth_tx_burst(out->eth_port, lc->idx, pkts, n);

	count_tx(lc, out, 0, pkts, sent, n, bytes);
	if (sent < n)
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
}

/* Send n packets out of port `out`, taking ownership of all of them. */
static inline void
send_owned(struct vgw_net_port *out, uint16_t q, struct rte_mbuf **pkts,
	   uint16_t n, uint64_t bytes, struct vgw_dp_lcore *lc)
{
	if (out->type == VGW_DEV_NET) {
		vhost_send(out, q, pkts, n, bytes, lc);
		rte_pktmbuf_free_bulk(pkts, n);
	} else {
		eth_send(out, pkts, n, bytes, lc);
	}
}

/* Send n packets out of `out`; the caller keeps its references. */
static inline void
send_shared(struct vgw_net_port *out, uint16_t q, struct rte_mbuf **pkts,
	    uint16_t n, struct vgw_dp_lcore *lc)
{
	uint64_t bytes = burst_bytes(pkts, n);

	if (out->type == VGW_DEV_NET) {
		vhost_send(out, q, pkts, n, bytes, lc);
		return;
	}
	for (uint16_t i = 0; i < n; i++)
		rte_mbuf_refcnt_update(pkts[i], 1);
	eth_send(out, pkts, n, bytes, lc);
}

#define DST_FLOOD UINT16_MAX
#define DST_DROP (UINT16_MAX - 1)

static void
bridge_forward(struct vgw_net_port *in, uint16_t q, struct rte_mbuf **pkts,
	       uint16_t n, struct vgw_dp_lcore *lc)
{
	struct vgw_net_bridge *br = in->bridge;
	struct rte_mbuf *batch[VGW_DP_BURST];
	uint16_t dst[VGW_DP_BURST];
	uint64_t now = rte_rdtsc();
	uint16_t dropped = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct rte_ether_hdr *eh;
		int port;

		if (unlikely(rte_pktmbuf_data_len(pkts[i]) < RTE_ETHER_HDR_LEN)) {
			dst[i] = DST_DROP;
			dropped++;
			continue;
		}
		eh = rte_pktmbuf_mtod(pkts[i], const struct rte_ether_hdr *);
		vgw_mac_table_learn(br->macs, eh->src_addr.addr_bytes, in->index, now);
		if (rte_is_multicast_ether_addr(&eh->dst_addr)) {
			dst[i] = DST_FLOOD;
			continue;
		}
		port = vgw_mac_table_lookup(br->macs, eh->dst_addr.addr_bytes);
		if (port < 0) {
			dst[i] = DST_FLOOD;
		} else if (port == in->index) {
			dst[i] = DST_DROP;	/* stays on its own segment */
			dropped++;
		} else {
			dst[i] = port;
		}
	}
	lc->stats[vgw_net_slot(in, q)].drops += dropped;

	for (uint16_t p = 0; p < br->n_ports; p++) {
		struct vgw_net_port *out = br->ports[p];
		uint16_t m = 0;

		if (out == in)
			continue;
		for (uint16_t i = 0; i < n; i++)
			if (dst[i] == out->index || dst[i] == DST_FLOOD)
				batch[m++] = pkts[i];
		if (m != 0)
			send_shared(out, q, batch, m, lc);
	}
	rte_pktmbuf_free_bulk(pkts, n);
}

static inline void
forward(struct vgw_net_port *in, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	struct vgw_dp_lcore *lc)
{
	struct vgw_dp_qstats *s = &lc->stats[vgw_net_slot(in, q)];
	uint64_t bytes = burst_bytes(pkts, n);

	s->rx_pkts += n;
	s->rx_bytes += bytes;
	if (in->peer != NULL) {
		send_owned(in->peer, q, pkts, n, bytes, lc);
	} else if (in->bridge != NULL) {
		bridge_forward(in, q, pkts, n, lc);
	} else {
		s->drops += n;
		rte_pktmbuf_free_bulk(pkts, n);
	}
}

uint16_t
vgw_net_poll_vhost(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	struct vgw_net_port *in = t->arg;
	struct rte_mbuf *pkts[VGW_DP_BURST];
	int vid = atomic_load_explicit(&in->vid, memory_order_relaxed);
	uint16_t n;

	if (unlikely(vid < 0))
		return 0;
	n = vgw_vhost_net_dequeue(vid, 2 * t->queue + 1, vgw_net_pool, pkts,
				  VGW_DP_BURST);
	if (n != 0)
		forward(in, t->queue, pkts, n, lc);
	return n;
}

uint16_t
vgw_net_poll_eth(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	struct vgw_net_port *in = t->arg;
	struct rte_mbuf *pkts[VGW_DP_BURST];
	uint16_t n;

	n = rte_eth_rx_burst(in->eth_port, t->queue, pkts, VGW_DP_BURST);
	if (n != 0)
		forward(in, t->queue, pkts, n, lc);
	return n;
}
