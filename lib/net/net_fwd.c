/* SPDX-License-Identifier: BSD-3-Clause */
/* The fast path: bursts between vhost queues and ethdev queues, xconnect and
 * learning bridge. No locks, no syscalls, no logs, no allocation beyond
 * mbufs. */
#include <string.h>

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
vhost_send(struct vgw_net_port *out, uint16_t q, struct rte_mbuf **pkts, uint16_t n, uint64_t bytes,
	   struct vgw_dp_lcore *lc)
{
	int vid = atomic_load_explicit(&out->dev.vid, memory_order_relaxed);
	uint16_t nq = atomic_load_explicit(&out->tx_queues, memory_order_relaxed);
	uint16_t txq = nq != 0 ? q % nq : 0, sent = 0;

	if (vid >= 0 && nq != 0)
		sent = vgw_vhost_net_enqueue(vid, 2 * txq, pkts, n);
	count_tx(lc, out, txq, pkts, sent, n, bytes);
}

/* Send n packets out of an ethdev port, which takes them; free the rest. */
static inline void
eth_send(struct vgw_net_port *out, struct rte_mbuf **pkts, uint16_t n, uint64_t bytes,
	 struct vgw_dp_lcore *lc)
{
	uint16_t sent = rte_eth_tx_burst(out->eth_port, lc->idx, pkts, n);

	count_tx(lc, out, 0, pkts, sent, n, bytes);
	if (sent < n)
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
}

/* Send n packets out of `out`; the caller keeps its references. */
static inline void
send_shared(struct vgw_net_port *out, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	    struct vgw_dp_lcore *lc)
{
	uint64_t bytes = burst_bytes(pkts, n);

	if (out->dev.type == VGW_DEV_NET) {
		vhost_send(out, q, pkts, n, bytes, lc);
		return;
	}
	for (uint16_t i = 0; i < n; i++)
		rte_mbuf_refcnt_update(pkts[i], 1);
	eth_send(out, pkts, n, bytes, lc);
}

/* One pass over the burst sorts it by output port (a frame to flood goes
 * to every port but its own), in order; then one send per port. */
static void
bridge_forward(struct vgw_net_port *in, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	       struct vgw_dp_lcore *lc)
{
	struct vgw_net_bridge *br = in->bridge;
	struct rte_mbuf *out[VGW_BRIDGE_MAX_PORTS][VGW_DP_BURST];
	uint16_t cnt[VGW_BRIDGE_MAX_PORTS];
	uint16_t np = br->n_ports, self = br->slot_of[in->dev.index];
	uint64_t now = rte_rdtsc();
	uint16_t dropped = 0;

	memset(cnt, 0, np * sizeof(cnt[0]));
	for (uint16_t i = 0; i < n; i++) {
		const struct rte_ether_hdr *eh;
		int port;
		uint16_t s;

		if (unlikely(rte_pktmbuf_data_len(pkts[i]) < RTE_ETHER_HDR_LEN)) {
			dropped++;
			continue;
		}
		eh = rte_pktmbuf_mtod(pkts[i], const struct rte_ether_hdr *);
		vgw_mac_table_learn(br->macs, eh->src_addr.addr_bytes, in->dev.index, now);
		port = rte_is_multicast_ether_addr(&eh->dst_addr) ?
			       -1 :
			       vgw_mac_table_lookup(br->macs, eh->dst_addr.addr_bytes);
		if (port < 0) {
			for (s = 0; s < np; s++)
				if (s != self)
					out[s][cnt[s]++] = pkts[i];
			continue;
		}
		s = port < VGW_MAX_DEVICES ? br->slot_of[port] : UINT8_MAX;
		if (s == self || s >= np) {
			dropped++; /* stays on its own segment */
			continue;
		}
		out[s][cnt[s]++] = pkts[i];
	}
	lc->stats[vgw_net_slot(in, q)].drops += dropped;
	for (uint16_t s = 0; s < np; s++)
		if (cnt[s] != 0)
			send_shared(br->ports[s], q, out[s], cnt[s], lc);
	rte_pktmbuf_free_bulk(pkts, n);
}

static inline void
count_rx(struct vgw_net_port *in, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	 struct vgw_dp_lcore *lc)
{
	struct vgw_dp_qstats *s = &lc->stats[vgw_net_slot(in, q)];

	s->rx_pkts += n;
	s->rx_bytes += burst_bytes(pkts, n);
}

/* Bridge or drop: a port without a peer. */
static inline void
forward(struct vgw_net_port *in, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	struct vgw_dp_lcore *lc)
{
	count_rx(in, q, pkts, n, lc);
	if (in->bridge != NULL) {
		bridge_forward(in, q, pkts, n, lc);
	} else {
		lc->stats[vgw_net_slot(in, q)].drops += n;
		rte_pktmbuf_free_bulk(pkts, n);
	}
}

/* --- xconnect: lossless while both ends are up -------------------------- */

/* Offer n frames to the peer; return how many it took (and counted). The
 * rest stay with the caller. */
static inline uint16_t
xc_offer(struct vgw_net_port *out, uint16_t q, struct rte_mbuf **pkts, uint16_t n,
	 struct vgw_dp_lcore *lc)
{
	struct vgw_dp_qstats *s;
	uint16_t sent, txq = 0;
	uint64_t bytes = 0;

	if (out->dev.type == VGW_DEV_NET) {
		int vid = atomic_load_explicit(&out->dev.vid, memory_order_relaxed);
		uint16_t nq = atomic_load_explicit(&out->tx_queues, memory_order_relaxed);

		if (vid < 0 || nq == 0)
			return 0;
		txq = q % nq;
		sent = vgw_vhost_net_enqueue(vid, 2 * txq, pkts, n);
		bytes = burst_bytes(pkts, sent);
		rte_pktmbuf_free_bulk(pkts, sent); /* rte_vhost copied them */
	} else {
		bytes = burst_bytes(pkts, n);
		sent = rte_eth_tx_burst(out->eth_port, lc->idx, pkts, n);
		if (sent != n)
			bytes = burst_bytes(pkts, sent);
	}
	s = &lc->stats[vgw_net_slot(out, txq)];
	s->tx_pkts += sent;
	s->tx_bytes += bytes;
	return sent;
}

/* Drop n frames meant for a peer that is down, counted on the peer. */
static inline void
xc_drop(struct vgw_net_port *out, struct rte_mbuf **pkts, uint16_t n, struct vgw_dp_lcore *lc)
{
	lc->stats[vgw_net_slot(out, 0)].drops += n;
	rte_pktmbuf_free_bulk(pkts, n);
}

/* Offer the held frames again; return how many went. */
static inline uint16_t
xc_retry(struct vgw_net_port *in, struct vgw_net_held *h, uint16_t q, struct vgw_dp_lcore *lc)
{
	struct vgw_net_port *out = in->peer;
	uint16_t sent;

	if (!atomic_load_explicit(&out->up, memory_order_relaxed)) {
		xc_drop(out, h->pkts + h->off, h->n, lc);
		sent = h->n;
	} else {
		sent = xc_offer(out, q, h->pkts + h->off, h->n, lc);
	}
	h->off += sent;
	h->n -= sent;
	if (h->n == 0)
		h->off = 0;
	return sent;
}

/* Send a fresh burst; hold what the peer could not take yet. */
static inline void
xc_send(struct vgw_net_port *in, struct vgw_net_held *h, uint16_t q, struct rte_mbuf **pkts,
	uint16_t n, struct vgw_dp_lcore *lc)
{
	struct vgw_net_port *out = in->peer;
	uint16_t sent;

	count_rx(in, q, pkts, n, lc);
	if (!atomic_load_explicit(&out->up, memory_order_relaxed)) {
		xc_drop(out, pkts, n, lc);
		return;
	}
	sent = xc_offer(out, q, pkts, n, lc);
	if (sent == n)
		return;
	h->off = 0;
	h->n = n - sent;
	memcpy(h->pkts, pkts + sent, h->n * sizeof(pkts[0]));
}

/* rte_vhost injects the RARP a front-end asked for (SEND_RARP) first in
 * a burst from the port's transmit queue: counted when it shows. The
 * request was set before rte_vhost raised its own flag, which its dequeue
 * reads with acquire: a burst that has the frame sees the request.
 * rte_vhost 22.11 (make_rarp_packet) writes the 42 bytes of the Ethernet
 * and RARP headers and leaves the rest of its 64 as the mbuf held them:
 * bytes of earlier frames, of any port, which would go to every port of
 * the link. They are zeroed here, before the frame goes anywhere. */
#define RARP_HDRS_LEN 42

static void
rarp_seen(struct vgw_net_port *in, struct rte_mbuf *m)
{
	uint64_t req = atomic_load_explicit(&in->rarp_req, memory_order_relaxed);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint8_t mac[6];

	if (rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN ||
	    eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_RARP))
		return;
	vgw_net_rarp_mac(req, mac);
	if (memcmp(eh->src_addr.addr_bytes, mac, sizeof(mac)) != 0)
		return;
	if (rte_pktmbuf_is_contiguous(m) && rte_pktmbuf_data_len(m) > RARP_HDRS_LEN)
		memset((char *)eh + RARP_HDRS_LEN, 0, rte_pktmbuf_data_len(m) - RARP_HDRS_LEN);
	if (atomic_compare_exchange_strong_explicit(&in->rarp_req, &req, 0, memory_order_relaxed,
						    memory_order_relaxed))
		atomic_fetch_add_explicit(&in->rarp_sent, 1, memory_order_relaxed);
}

static inline uint16_t
vhost_rx(struct vgw_net_port *in, uint16_t q, struct rte_mbuf **pkts)
{
	int vid = atomic_load_explicit(&in->dev.vid, memory_order_relaxed);
	uint16_t n;

	if (unlikely(vid < 0))
		return 0;
	n = vgw_vhost_net_dequeue(vid, 2 * q + 1, vgw_net_pool, pkts, VGW_DP_BURST);
	if (unlikely(n != 0 && atomic_load_explicit(&in->rarp_req, memory_order_relaxed) != 0))
		rarp_seen(in, pkts[0]);
	return n;
}

static inline uint16_t
eth_rx(struct vgw_net_port *in, uint16_t q, struct rte_mbuf **pkts)
{
	return rte_eth_rx_burst(in->eth_port, q, pkts, VGW_DP_BURST);
}

/* One pass over queue q of a port: an xconnect first offers what it held
 * and takes nothing new while any frame is still held. */
static inline uint16_t
poll_port(struct vgw_net_port *in, uint16_t q, struct vgw_dp_lcore *lc, bool is_vhost)
{
	struct rte_mbuf *pkts[VGW_DP_BURST];
	struct vgw_net_held *h = &in->held[q];
	uint16_t done = 0, n;

	if (in->peer != NULL && h->n != 0) {
		done = xc_retry(in, h, q, lc);
		if (h->n != 0)
			return done;
	}
	n = is_vhost ? vhost_rx(in, q, pkts) : eth_rx(in, q, pkts);
	if (n == 0)
		return done;
	if (in->peer != NULL)
		xc_send(in, h, q, pkts, n, lc);
	else
		forward(in, q, pkts, n, lc);
	return done + n;
}

uint16_t
vgw_net_poll_vhost(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	return poll_port(t->arg, t->queue, lc, true);
}

uint16_t
vgw_net_poll_eth(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	return poll_port(t->arg, t->queue, lc, false);
}
