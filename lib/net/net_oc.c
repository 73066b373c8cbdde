/* SPDX-License-Identifier: BSD-3-Clause */
/* One copy between two guests: an xconnect of two vhost-user net devices
 * moves each frame from the sender's transmit descriptors straight into
 * the receiver's receive buffers, with our own split-ring walker
 * (vgw_vring.h) on both rings of both devices, and no mbuf. rte_vhost
 * keeps the protocol (memory table, ring addresses, call fds, dirty log);
 * the rings' indices are given back to it when the device stops.
 *
 * Ownership: the task of queue pair q of port A reads A's transmit ring q
 * and writes the peer B's receive ring q, and is the only one to touch
 * either; the pairs of a port are independent (each its own struct
 * vgw_net_oc, its own task, on any worker). It touches B's ring only
 * while B is published to the workers (B's vid >= 0) and B's front-end has
 * the ring enabled: B's stop, suspend and remap unpublish it and wait for
 * a grace period of every worker before they detach or remap its rings,
 * and a ring is taken (attached) before its enabled bit is set, once per
 * start of the device, on rte_vhost's thread.
 *
 * When B has no room, A's descriptors stay in A's ring (back-pressure, no
 * loss); while B is down, A's frames are dropped and counted on B, as on
 * the mbuf path. The fast path takes no lock, makes no syscall but the
 * guest's interrupt (eventfd), logs nothing and allocates nothing. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_memcpy.h>
#include <rte_tcp.h>
#include <rte_prefetch.h>
#include <rte_spinlock.h>
#include <rte_vhost.h>

#include "vgw_log.h"
#include "vgw_vring.h"
#include "net_priv.h"

/* receive buffers one frame may take: a whole 64 KiB TSO frame and its
 * header in Linux's smallest mergeable buffers (1,518 bytes and the
 * header, cache-line aligned: 1,536) take 43; 64 covers buffers down to
 * 1,025 bytes */
#define OC_MAX_RX_CHAINS 64
#define OC_MIN_FRAME 14	    /* an Ethernet header */
#define OC_MAX_FRAME 65550u /* 64 KiB and an Ethernet header */
/* frames staged for an ethdev port of a one-copy bridge before a send
 * (a pass sends what it staged at its end, or earlier when this fills) */
#define OC_ETH_STAGE (2 * VGW_DP_BURST)
/* the RARP frame of a SEND_RARP: rte_net_make_rarp_packet()'s size */
#define OC_RARP_LEN 64u
#define OC_HDR_MAX 12u /* the longest virtio-net header */

/* One queue pair of a one-copy port (a port has one per configured pair,
 * an array at p->oc; a bridge's ports and uplinks have one). What the
 * device negotiated is copied into each, so the fast path reads one
 * structure per side. */
struct vgw_net_oc {
	struct vgw_vring tx; /* this pair's transmit ring (vring 2q + 1) */
	struct vgw_vring rx; /* its receive ring (vring 2q): the peer's task writes it */
	/* The receive side (rx, call_rx, an ethdev's staged mbufs):
	 * the tasks that write it (of a bridge's ports, or of an xconnect's
	 * peer when the guests enable different numbers of pairs) each hold
	 * this for one pass or burst (a bridge's taken in slot order: no
	 * deadlock; an xconnect's task holds one). */
	rte_spinlock_t rx_lock;
	/* the rings taken in this start of the device (rte_vhost's thread):
	 * a ring is attached once, when it is first enabled, and keeps its
	 * indices while the front-end disables and enables it */
	bool tx_on, rx_on;
	struct rte_vhost_memory *mem; /* the device's, shared by its pairs */
	uint16_t hdr_len;	      /* 12 with VERSION_1 or MRG_RXBUF, else 10 */
	bool mrg;		      /* VIRTIO_NET_F_MRG_RXBUF */
	uint64_t feat;		      /* negotiated */
	/* offloads of the frames the guest sent on this pair (its task
	 * writes them, the control thread sums the pairs): a segmentation passed
	 * whole to the peer, done here (segments made), a checksum done
	 * here */
	uint64_t gso_whole, gso_sw, gso_segments, csum_sw;
	/* owned by this pair's task: payload bytes of txc[tx_off] already
	 * moved as segments (the peer ran out of room part-way) */
	uint32_t tx_seg_off;
	/* owned by this pair's task: frames taken from the transmit ring and
	 * not moved yet (the peer had no room), txc[tx_off..tx_n), moved
	 * first on the next pass; the guest gets them back once moved, or
	 * dropped when the device stops */
	bool call_tx; /* an interrupt for tx still due */
	bool call_rx; /* for rx (set by a sender, under rx_lock) */
	uint16_t tx_n, tx_off;
	struct vgw_vring_chain txc[VGW_DP_BURST];
	struct vgw_vring_chain rxc[OC_MAX_RX_CHAINS];
	/* the peer's receive chains of a batch (move_batch), one per frame */
	struct vgw_vring_chain rxb[VGW_DP_BURST];
	/* An ethdev port on a one-copy bridge: no rings. A frame to it is
	 * copied into mbufs (rx_take takes mbufs, a header of 0 bytes, no
	 * offload: a checksum or segmentation is done here), staged, and
	 * sent once per pass; a frame from it is read from its mbuf as a
	 * chain (own_src) and copied into the receivers' buffers. */
	bool eth;
	uint16_t eth_port;
	uint16_t eth_slot;	     /* its stats slot */
	uint16_t eth_n;		     /* staged */
	uint32_t eth_room;	     /* an mbuf's data room past its headroom */
	struct vgw_dp_lcore *eth_lc; /* the pass's worker (its tx queue, stats) */
	struct rte_mbuf *eth_tx[OC_ETH_STAGE];
	/* A frame of ours, read as a chain the port's guest or uplink could
	 * have sent: an ethdev's mbuf, or (a vhost-user port, pair 0) the
	 * RARP of a SEND_RARP, built in rarp behind a zeroed virtio-net
	 * header. */
	struct vgw_vring_chain own_src;
	uint8_t rarp[OC_HDR_MAX + OC_RARP_LEN];
} __rte_cache_aligned; /* pairs of a port run on different workers */

/* --- control plane (rte_vhost's thread, or the control thread once the
 * sockets are gone; the port's dev->lock held but in vgw_net_oc_ring) --- */

/* Take vring of the device's front-end for our walker, unless taken
 * already in this start: the indices rte_vhost holds are ours until the
 * device stops. */
static int
oc_ring_take(struct vgw_net_port *p, int vid, uint16_t vring)
{
	struct vgw_net_oc *oc = &p->oc[vring / 2];
	bool tx = (vring & 1) != 0;
	struct vgw_vring *vr = tx ? &oc->tx : &oc->rx;
	bool *on = tx ? &oc->tx_on : &oc->rx_on;
	uint64_t f = oc->feat;
	int ret;

	if (*on)
		return 0;
	ret = vgw_vring_attach(vr, vid, vring, NULL);
	if (ret < 0)
		return ret;
	/* net keeps no inflight record: frames in flight at a crash are
	 * lost, as on a reconnect */
	vr->inflight = NULL;
	vr->indirect_ok = (f >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
	vr->event_idx = (f >> VIRTIO_RING_F_EVENT_IDX) & 1;
	/* in order: one used element per burst of transmitted frames (their
	 * lengths mean nothing to the driver); received frames need theirs */
	vr->used_batch = tx && ((f >> VIRTIO_F_IN_ORDER) & 1);
	*on = true;
	return 0;
}

int
vgw_net_oc_start(struct vgw_net_port *p, int vid)
{
	struct rte_vhost_memory *mem;
	uint32_t rings = atomic_load(&p->ready_rings);
	uint64_t f = 0;
	int ret = 0;

	if (rte_vhost_get_negotiated_features(vid, &f) < 0)
		return -ENODEV;
	if (f & (1ULL << VIRTIO_F_RING_PACKED))
		return -ENOTSUP; /* not offered on a one-copy port */
	mem = vgw_vring_mem_get(vid);
	if (mem == NULL)
		return -ENOMEM;
	for (uint16_t q = 0; q < p->n_oc; q++) {
		struct vgw_net_oc *oc = &p->oc[q];

		oc->mem = mem;
		oc->mrg = (f >> VIRTIO_NET_F_MRG_RXBUF) & 1;
		oc->feat = f;
		oc->hdr_len = oc->mrg || ((f >> VIRTIO_F_VERSION_1) & 1) ?
				      sizeof(struct virtio_net_hdr_mrg_rxbuf) :
				      sizeof(struct virtio_net_hdr);
		oc->call_tx = oc->call_rx = false;
		oc->tx_on = oc->rx_on = false;
	}
	/* pair 0 is there (new_device comes once it is ready); the rings of
	 * the other pairs are taken now if the front-end enabled them, else
	 * once it does (vgw_net_oc_ring) */
	for (uint16_t r = 0; r < 2 * p->n_oc && ret == 0; r++)
		if (r < 2 || (rings & (1u << r)) != 0)
			ret = oc_ring_take(p, vid, r);
	if (ret < 0) {
		vgw_net_oc_stop(p);
		return ret;
	}
	return 0;
}

int
vgw_net_oc_ring(struct vgw_net_port *p, int vid, uint16_t vring)
{
	if (vring / 2 >= p->n_oc || p->oc[0].mem == NULL)
		return 0; /* not a pair of ours, or not started: taken at start */
	return oc_ring_take(p, vid, vring);
}

void
vgw_net_oc_stop(struct vgw_net_port *p)
{
	struct rte_vhost_memory *mem = p->oc[0].mem;
	/* a remap that did not complete (rte_vhost failed the message, or a
	 * ring could not be found in the new table): the rings' addresses
	 * may point into memory unmapped since, so nothing is written there */
	bool stale = p->dev.remap;

	if (mem == NULL)
		return;
	for (uint16_t q = 0; q < p->n_oc; q++) {
		struct vgw_net_oc *oc = &p->oc[q];

		/* frames taken and never moved: back to the guest, dropped */
		if (oc->tx_off < oc->tx_n) {
			for (uint16_t i = oc->tx_off; i < oc->tx_n && !stale; i++)
				vgw_vring_put(&oc->tx, &oc->txc[i], 0);
			if (!stale)
				vgw_vring_publish(&oc->tx);
			atomic_fetch_add(&p->held_drops[q], oc->tx_n - oc->tx_off);
		}
		if (stale)
			oc->tx.batch_pending = oc->rx.batch_pending = false;
		oc->tx_n = oc->tx_off = 0;
		oc->tx_seg_off = 0;
		if (oc->tx_on)
			vgw_vring_detach(&oc->tx);
		if (oc->rx_on)
			vgw_vring_detach(&oc->rx);
		oc->tx_on = oc->rx_on = false;
		oc->mem = NULL;
	}
	vgw_vring_mem_free(mem);
}

int
vgw_net_oc_remap(struct vgw_net_port *p, int vid)
{
	struct rte_vhost_memory *mem;

	if (p->oc[0].mem == NULL)
		return 0;
	mem = vgw_vring_mem_get(vid);
	if (mem == NULL)
		return -ENOMEM;
	vgw_vring_mem_free(p->oc[0].mem);
	for (uint16_t q = 0; q < p->n_oc; q++)
		p->oc[q].mem = mem;
	for (uint16_t q = 0; q < p->n_oc; q++) {
		struct vgw_net_oc *oc = &p->oc[q];

		if ((oc->tx_on && vgw_vring_refresh(&oc->tx) < 0) ||
		    (oc->rx_on && vgw_vring_refresh(&oc->rx) < 0))
			return -ENODEV;
		oc->tx.inflight = NULL;
		oc->rx.inflight = NULL;
		/* frames taken before: their buffers through the new table */
		for (uint16_t i = oc->tx_off; i < oc->tx_n; i++)
			if (vgw_vring_rewalk(&oc->tx, oc->mem, &oc->txc[i]) < 0) {
				oc->txc[i].in_cnt = 0; /* moved as malformed: returned */
				oc->txc[i].in_len = 0;
			}
	}
	return 0;
}

uint64_t
vgw_net_oc_malformed(const struct vgw_net_port *p)
{
	uint64_t n = 0;

	for (uint16_t q = 0; p->oc != NULL && q < p->n_oc; q++)
		n += p->oc[q].tx.malformed + p->oc[q].rx.malformed;
	return n;
}

void
vgw_net_oc_offload_stats(const struct vgw_net_port *p, uint64_t out[4])
{
	memset(out, 0, 4 * sizeof(out[0]));
	for (uint16_t q = 0; q < p->n_oc; q++) {
		const struct vgw_net_oc *oc = &p->oc[q];

		out[0] += oc->gso_whole;
		out[1] += oc->gso_sw;
		out[2] += oc->gso_segments;
		out[3] += oc->csum_sw;
	}
}

void
vgw_net_oc_eth(struct vgw_net_port *p)
{
	struct vgw_net_oc *oc = p->oc;

	oc->eth = true;
	oc->eth_port = p->eth_port;
	oc->eth_slot = vgw_net_slot(p, 0);
	oc->eth_room = rte_pktmbuf_data_room_size(vgw_net_pool) - RTE_PKTMBUF_HEADROOM;
	oc->hdr_len = 0;
	oc->mrg = true; /* a frame in several mbufs */
	oc->feat = 0;
}

int
vgw_net_oc_init(struct vgw_net_port *p, uint16_t pairs)
{
	/* hugepage memory: the task's chains span hundreds of KiB, and in 4 KiB
	 * pages each frame would cost TLB misses (page walks, expensive in a
	 * VM) */
	p->oc = rte_zmalloc("vgw_net_oc", pairs * sizeof(*p->oc), RTE_CACHE_LINE_SIZE);
	if (p->oc == NULL)
		return -ENOMEM;
	p->n_oc = pairs;
	for (uint16_t q = 0; q < pairs; q++)
		rte_spinlock_init(&p->oc[q].rx_lock);
	return 0;
}

/* --- the fast path ----------------------------------------------------- */

/* Is the transmit chain tc a frame that can go: device-readable buffers
 * only, holding the sender's header and an Ethernet header, and at most
 * 64 KiB after it? */
static inline bool
frame_ok(const struct vgw_net_oc *from, const struct vgw_vring_chain *tc)
{
	return tc->out_cnt == 0 && tc->in_len >= (uint32_t)from->hdr_len + OC_MIN_FRAME &&
	       tc->in_len - from->hdr_len <= OC_MAX_FRAME;
}

/* A position in a chain's buffers. */
struct cursor {
	const struct iovec *iov;
	unsigned int n, i;
	size_t off;
};

static inline void
cursor_init(struct cursor *c, const struct iovec *iov, unsigned int n)
{
	c->iov = iov;
	c->n = n;
	c->i = 0;
	c->off = 0;
}

/* Copy len bytes from src to dst (both long enough: checked before). */
static inline void
cursor_copy(struct cursor *dst, struct cursor *src, size_t len)
{
	while (len != 0) {
		size_t d = dst->iov[dst->i].iov_len - dst->off;
		size_t s = src->iov[src->i].iov_len - src->off;
		size_t k = RTE_MIN(len, RTE_MIN(d, s));
		char *to = (char *)dst->iov[dst->i].iov_base + dst->off;
		const char *from = (const char *)src->iov[src->i].iov_base + src->off;

		rte_memcpy(to, from, k);
		dst->off += k;
		src->off += k;
		len -= k;
		if (dst->off == dst->iov[dst->i].iov_len) {
			dst->i++;
			dst->off = 0;
		}
		if (src->off == src->iov[src->i].iov_len) {
			src->i++;
			src->off = 0;
		}
	}
}

/* Move src len bytes on (it holds them). */
static inline void
cursor_skip(struct cursor *c, size_t len)
{
	while (len != 0) {
		size_t k = RTE_MIN(len, c->iov[c->i].iov_len - c->off);

		c->off += k;
		len -= k;
		if (c->off == c->iov[c->i].iov_len) {
			c->i++;
			c->off = 0;
		}
	}
}

/* Copy len bytes of a flat buffer into dst. */
static inline void
cursor_put(struct cursor *dst, const void *buf, size_t len)
{
	struct iovec one = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct cursor src;

	cursor_init(&src, &one, 1);
	cursor_copy(dst, &src, len);
}

/* Send what is staged for an ethdev port; what it does not take is
 * dropped, counted on it. */
static void
eth_flush(struct vgw_net_oc *to)
{
	struct vgw_dp_qstats *ts = &to->eth_lc->stats[to->eth_slot];
	uint16_t n = to->eth_n, sent;

	to->eth_n = 0;
	sent = rte_eth_tx_burst(to->eth_port, to->eth_lc->idx, to->eth_tx, n);
	for (uint16_t i = sent; i < n; i++) {
		ts->tx_pkts--;
		ts->tx_bytes -= rte_pktmbuf_pkt_len(to->eth_tx[i]);
		ts->drops++;
	}
	if (sent < n)
		rte_pktmbuf_free_bulk(to->eth_tx + sent, n - sent);
}

/* rx_take for an ethdev port: mbufs chained into one packet, staged, as
 * chains of one buffer each (the mbufs in out_gpa[0], the packet's first
 * in out_gpa[1]); -1 without mbufs. */
static int
eth_take(struct vgw_net_oc *to, struct vgw_net_oc *scratch, uint32_t need)
{
	struct rte_mbuf *m[OC_MAX_RX_CHAINS];
	uint32_t room = to->eth_room;
	int n = (int)((need + room - 1) / room);

	if (n == 0 || n > OC_MAX_RX_CHAINS)
		return -1;
	if (to->eth_n == OC_ETH_STAGE)
		eth_flush(to);
	if (rte_pktmbuf_alloc_bulk(vgw_net_pool, m, (unsigned int)n) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		struct vgw_vring_chain *c = &scratch->rxc[i];

		c->in_cnt = 0;
		c->out_cnt = 1;
		c->iov[0].iov_base = rte_pktmbuf_mtod(m[i], void *);
		c->iov[0].iov_len = room;
		c->out_len = room;
		c->out_gpa[0] = (uintptr_t)m[i];
		c->out_gpa[1] = (uintptr_t)m[0];
		if (i != 0)
			m[i - 1]->next = m[i];
	}
	m[0]->nb_segs = (uint16_t)n;
	m[0]->pkt_len = 0;
	to->eth_tx[to->eth_n++] = m[0];
	return n;
}

/* A receive chain filled with len bytes: returned to the receiver's ring
 * (not published), or an mbuf of a packet for an ethdev. */
static inline void
rx_put(struct vgw_net_oc *to, const struct vgw_vring_chain *c, uint32_t len)
{
	if (unlikely(to->eth)) {
		struct rte_mbuf *m = (struct rte_mbuf *)(uintptr_t)c->out_gpa[0];
		struct rte_mbuf *m0 = (struct rte_mbuf *)(uintptr_t)c->out_gpa[1];

		m->data_len = (uint16_t)len;
		m0->pkt_len += len;
		return;
	}
	vgw_vring_put(&to->rx, c, len);
}

/* Take receive chains of the peer until they hold need bytes (one, that
 * must hold them all, without mergeable buffers): how many, 0 if there is
 * no room yet (nothing taken: the descriptors stay in the ring), -1 if the
 * frame cannot go (it can never fit, or the guest gave a broken buffer
 * among them: what was taken is returned unused). */
static inline int
rx_take(struct vgw_net_oc *to, struct vgw_net_oc *scratch, uint32_t need)
{
	uint32_t room = 0;
	int n = 0;

	if (unlikely(to->eth))
		return eth_take(to, scratch, need);
	while (room < need) {
		struct vgw_vring_chain *c;
		int ret;

		if (n == OC_MAX_RX_CHAINS || (n == 1 && !to->mrg))
			break;
		c = &scratch->rxc[n];
		ret = vgw_vring_pop(&to->rx, to->mem, c);
		if (ret == 0) {
			vgw_vring_unpop(&to->rx, (uint16_t)n);
			return 0;
		}
		/* each buffer holds at least the header (virtio 1.2, 5.1.6.3.1):
		 * a smaller one is refused, not written past */
		if (ret > 0 && c->in_cnt == 0 && c->out_len >= to->hdr_len) {
			room += c->out_len;
			n++;
			continue;
		}
		/* malformed (already returned and counted), or a receive
		 * buffer the device may only read or too small for the
		 * header: the chains taken before it cannot go back to the
		 * ring */
		if (ret > 0) {
			to->rx.malformed++;
			vgw_vring_put(&to->rx, c, 0);
		}
		for (int i = 0; i < n; i++)
			vgw_vring_put(&to->rx, &scratch->rxc[i], 0);
		return -1;
	}
	if (room >= need)
		return n;
	for (int i = 0; i < n; i++)
		vgw_vring_put(&to->rx, &scratch->rxc[i], 0);
	return -1;
}

enum { OC_MOVED, OC_NO_ROOM, OC_BAD, OC_DROP };

/* The receiver's header: all zero but num_buffers. Written from values,
 * not copied from the stack: a load from the header just built would wait
 * for every store before it (the previous frames' receive buffers, whose
 * lines the receiver's core holds) to reach the cache. */
static inline void
hdr_put(struct cursor *dst, uint16_t num_buffers, uint16_t hdr_len)
{
	char *p = dst->iov[0].iov_base;
	uint64_t lo = 0;
	uint32_t hi = (uint32_t)num_buffers << 16;

	if (unlikely(hdr_len == 0))
		return; /* an ethdev's mbuf */
	if (likely(dst->iov[0].iov_len >= hdr_len)) {
		memcpy(p, &lo, sizeof(lo));
		if (hdr_len == sizeof(struct virtio_net_hdr_mrg_rxbuf))
			memcpy(p + 8, &hi, sizeof(hi));
		else
			memcpy(p + 8, &lo, 2);
		dst->off = hdr_len;
		if (dst->off == dst->iov[0].iov_len) {
			dst->i++;
			dst->off = 0;
		}
		return;
	}
	/* a header across buffers: built whole, then copied */
	{
		struct virtio_net_hdr_mrg_rxbuf h = { .num_buffers = num_buffers };

		cursor_put(dst, &h, hdr_len);
	}
}

/* --- offloads (doc/one-copy.rst): the sender's virtio-net header ------ */

#define F(bit) (1ULL << (bit))
#define OC_NO_PATCH UINT32_MAX
#define OC_MAX_HDRS 192u /* Ethernet, VLAN, IPv4 with options or IPv6, TCP */

/* What goes into the receiver's buffers besides the sender's bytes: its
 * header, bytes before the sender's (a segment's headers) and two bytes
 * of the sender's replaced (a checksum done here), at a frame offset. */
struct oc_out {
	struct virtio_net_hdr vh;
	const uint8_t *pre;
	uint32_t pre_len;
	uint32_t patch_pos;
	uint8_t patch[2];
};

/* The ones-complement sum of len bytes at c (not moved), as
 * __rte_raw_cksum adds them: 16-bit words in host order, aligned on the
 * first byte. */
static uint32_t
cursor_sum(const struct cursor *c0, uint32_t len)
{
	struct cursor c = *c0;
	uint32_t sum = 0;
	bool odd = false;

	while (len != 0) {
		size_t k = RTE_MIN((size_t)len, c.iov[c.i].iov_len - c.off);
		uint16_t part = __rte_raw_cksum_reduce(
			__rte_raw_cksum((const char *)c.iov[c.i].iov_base + c.off, k, 0));

		/* a piece that starts at an odd offset adds its words swapped */
		sum += odd ? (uint16_t)((part << 8) | (part >> 8)) : part;
		odd ^= k & 1;
		len -= (uint32_t)k;
		c.off += k;
		if (c.off == c.iov[c.i].iov_len) {
			c.i++;
			c.off = 0;
		}
	}
	return sum;
}

/* The checksum field's value from a sum: complemented, never 0 (0 says
 * "none" in UDP; TCP takes 0xffff as well). */
static inline uint16_t
csum_final(uint32_t sum)
{
	uint16_t v = (uint16_t)~__rte_raw_cksum_reduce(sum);

	return v == 0 ? 0xffff : v;
}

/* Copy len bytes from src into dst, *off the frame offset of the first,
 * with o's two patched bytes in place of the sender's. */
static void
copy_patched(struct cursor *dst, struct cursor *src, uint32_t len, uint32_t *off,
	     const struct oc_out *o)
{
	while (len != 0) {
		uint32_t k = len;

		if (*off >= o->patch_pos && *off < o->patch_pos + 2) {
			cursor_put(dst, &o->patch[*off - o->patch_pos], 1);
			cursor_skip(src, 1);
			k = 1;
		} else {
			if (*off < o->patch_pos)
				k = RTE_MIN(k, o->patch_pos - *off);
			cursor_copy(dst, src, k);
		}
		*off += k;
		len -= k;
	}
}

/* Write one frame into the n receive chains taken (from->rxc): o's
 * header and bytes, then len bytes of src; the chains returned to the
 * receiver's ring (not published). */
static void
rx_fill(struct vgw_net_oc *from, struct vgw_net_oc *to, int n, struct oc_out *o, struct cursor *src,
	uint32_t len)
{
	struct virtio_net_hdr_mrg_rxbuf h = { .hdr = o->vh, .num_buffers = (uint16_t)n };
	struct iovec pre_iov = { .iov_base = (void *)(uintptr_t)o->pre, .iov_len = o->pre_len };
	struct cursor pre;
	uint32_t pre_left = o->pre_len, left = len, off = 0;

	cursor_init(&pre, &pre_iov, 1);
	for (int i = 0; i < n; i++) {
		struct vgw_vring_chain *c = &from->rxc[i];
		uint32_t room = c->out_len, put = 0, k;
		struct cursor dst;

		cursor_init(&dst, c->iov + c->in_cnt, c->out_cnt);
		if (i == 0) {
			cursor_put(&dst, &h, to->hdr_len);
			room -= to->hdr_len;
			put = to->hdr_len;
		}
		k = RTE_MIN(room, pre_left);
		if (k != 0) {
			cursor_copy(&dst, &pre, k);
			pre_left -= k;
			room -= k;
			put += k;
		}
		k = RTE_MIN(room, left);
		copy_patched(&dst, src, k, &off, o);
		left -= k;
		rx_put(to, c, put + k);
	}
}

/* The sender's header, checked against what it negotiated: 0, or
 * OC_BAD. */
static int
tx_hdr(const struct vgw_net_oc *from, const struct vgw_vring_chain *tc, uint32_t len,
       struct virtio_net_hdr *vh)
{
	uint8_t gso;

	if (likely(tc->iov[0].iov_len >= sizeof(*vh))) {
		memcpy(vh, tc->iov[0].iov_base, sizeof(*vh));
	} else {
		struct cursor c;
		struct iovec one = { .iov_base = vh, .iov_len = sizeof(*vh) };
		struct cursor d;

		cursor_init(&c, tc->iov, tc->in_cnt);
		cursor_init(&d, &one, 1);
		cursor_copy(&d, &c, sizeof(*vh));
	}
	if (vh->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return OC_BAD;
	if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (!(from->feat & F(VIRTIO_NET_F_CSUM)) ||
	     (uint32_t)vh->csum_start + vh->csum_offset + 2 > len))
		return OC_BAD;
	gso = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return vh->gso_type == gso ? 0 : OC_BAD;
	/* a segmentation asks for the checksum as well (virtio 1.2, 5.1.6.2) */
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || vh->gso_size == 0)
		return OC_BAD;
	if ((vh->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(from->feat & F(VIRTIO_NET_F_HOST_ECN)))
		return OC_BAD;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4)
		return from->feat & F(VIRTIO_NET_F_HOST_TSO4) ? 0 : OC_BAD;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV6)
		return from->feat & F(VIRTIO_NET_F_HOST_TSO6) ? 0 : OC_BAD;
	return OC_BAD; /* UDP fragmentation is not offered */
}

/* Can the receiver take the sender's header as it is? */
static inline bool
rx_takes_hdr(const struct vgw_net_oc *to, const struct virtio_net_hdr *vh)
{
	uint8_t gso = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (!(to->feat & F(VIRTIO_NET_F_GUEST_CSUM)))
		return false;
	if ((vh->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(to->feat & F(VIRTIO_NET_F_GUEST_ECN)))
		return false;
	return gso == VIRTIO_NET_HDR_GSO_NONE ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV4 && (to->feat & F(VIRTIO_NET_F_GUEST_TSO4))) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (to->feat & F(VIRTIO_NET_F_GUEST_TSO6)));
}

/* A frame whose checksum the receiver cannot take: done here, the
 * receiver's header plain. */
static int
move_csum(struct vgw_net_oc *from, struct cursor *src, uint32_t len,
	  const struct virtio_net_hdr *vh, struct vgw_net_oc *to, uint32_t *bytes, uint32_t *segs)
{
	struct oc_out o = { .patch_pos = (uint32_t)vh->csum_start + vh->csum_offset };
	struct cursor at = *src;
	uint16_t v;
	int n;

	n = rx_take(to, from, to->hdr_len + len);
	if (n <= 0)
		return n == 0 ? OC_NO_ROOM : OC_DROP;
	/* the field holds the pseudo-header's sum: summed with the rest */
	cursor_skip(&at, vh->csum_start);
	v = csum_final(cursor_sum(&at, len - vh->csum_start));
	memcpy(o.patch, &v, 2);
	rx_fill(from, to, n, &o, src, len);
	from->csum_sw++;
	*bytes = len;
	*segs = 1;
	return OC_MOVED;
}

/* The headers of a TCP segmentation, parsed. */
struct oc_tcp {
	uint8_t h[OC_MAX_HDRS];
	uint32_t l3, l4, hlen; /* offsets of IP and TCP, and the headers' length */
	bool v6;
};

static bool
tcp_parse(struct oc_tcp *t, const struct cursor *src, uint32_t len, uint8_t gso)
{
	struct iovec one = { .iov_base = t->h, .iov_len = sizeof(t->h) };
	struct cursor c = *src, d;
	uint16_t type;

	cursor_init(&d, &one, 1);
	cursor_copy(&d, &c, RTE_MIN(len, (uint32_t)sizeof(t->h)));
	t->l3 = 14;
	type = (uint16_t)(t->h[12] << 8 | t->h[13]);
	if (type == RTE_ETHER_TYPE_VLAN) {
		t->l3 = 18;
		type = (uint16_t)(t->h[16] << 8 | t->h[17]);
	}
	t->v6 = gso == VIRTIO_NET_HDR_GSO_TCPV6;
	if (!t->v6) {
		if (type != RTE_ETHER_TYPE_IPV4 || t->l3 + 20 > len || (t->h[t->l3] >> 4) != 4 ||
		    (t->h[t->l3] & 15) < 5 || t->h[t->l3 + 9] != IPPROTO_TCP)
			return false;
		t->l4 = t->l3 + (t->h[t->l3] & 15) * 4u;
	} else {
		if (type != RTE_ETHER_TYPE_IPV6 || t->l3 + 40 > len || (t->h[t->l3] >> 4) != 6 ||
		    t->h[t->l3 + 6] != IPPROTO_TCP)
			return false; /* extension headers: not taken */
		t->l4 = t->l3 + 40;
	}
	if (t->l4 + 20 > RTE_MIN(len, (uint32_t)sizeof(t->h)))
		return false;
	t->hlen = t->l4 + (t->h[t->l4 + 12] >> 4) * 4u;
	return (t->h[t->l4 + 12] >> 4) >= 5 && t->hlen <= RTE_MIN(len, (uint32_t)sizeof(t->h));
}

static inline void
put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A TCP segmentation the receiver cannot take: done here, segment by
 * segment of gso_size payload bytes, each with its own headers (IP
 * length, IPv4 identification and checksum, TCP sequence and flags) and
 * its TCP checksum (left to the receiver if it takes checksums). The
 * segments moved are remembered in from->tx_seg_off: when the receiver
 * runs out of room part-way, the next pass goes on from there. */
static int
move_tso(struct vgw_net_oc *from, struct cursor *src, uint32_t len, const struct virtio_net_hdr *vh,
	 struct vgw_net_oc *to, uint32_t *bytes, uint32_t *segs)
{
	struct oc_tcp t;
	uint8_t seg_h[OC_MAX_HDRS];
	uint32_t payload, mss = vh->gso_size;
	bool rx_csum = (to->feat & F(VIRTIO_NET_F_GUEST_CSUM)) != 0;

	/* a segment of less than 64 bytes is no real stack's (Linux's least
	 * is 88): each would take a receive buffer of the peer */
	if (mss < 64 || !tcp_parse(&t, src, len, vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN))
		return OC_BAD;
	payload = len - t.hlen;
	/* a frame resumed (its first segments moved in an earlier pass) is
	 * read again from the guest's memory: headers the guest made longer
	 * meanwhile must not take the offset past the frame */
	if (from->tx_seg_off > payload)
		return OC_BAD;
	cursor_skip(src, t.hlen + from->tx_seg_off);
	while (from->tx_seg_off < payload || (payload == 0 && *segs == 0)) {
		uint32_t off = from->tx_seg_off, seg = RTE_MIN(mss, payload - off);
		uint32_t tcp_len = t.hlen - t.l4 + seg, sum;
		uint8_t *ip = seg_h + t.l3, *th = seg_h + t.l4;
		struct oc_out o = { .pre = seg_h, .pre_len = t.hlen, .patch_pos = OC_NO_PATCH };
		uint8_t ph[40];
		int n;

		n = rx_take(to, from, to->hdr_len + t.hlen + seg);
		if (n == 0)
			return OC_NO_ROOM;
		if (n < 0)
			return OC_DROP; /* the rest of the frame with it */
		memcpy(seg_h, t.h, t.hlen);
		if (!t.v6) {
			uint16_t id = (uint16_t)(t.h[t.l3 + 4] << 8 | t.h[t.l3 + 5]);

			put_be16(ip + 2, t.hlen - t.l3 + seg);
			put_be16(ip + 4, (uint16_t)(id + off / mss));
			ip[10] = ip[11] = 0;
			{
				uint16_t c = (uint16_t)~rte_raw_cksum(ip, t.l4 - t.l3);

				memcpy(ip + 10, &c, 2);
			}
			memcpy(ph, ip + 12, 8);
			ph[8] = 0;
			ph[9] = IPPROTO_TCP;
			put_be16(ph + 10, tcp_len);
			sum = __rte_raw_cksum(ph, 12, 0);
		} else {
			put_be16(ip + 4, tcp_len);
			memcpy(ph, ip + 8, 32);
			ph[32] = ph[33] = 0;
			put_be16(ph + 34, tcp_len);
			ph[36] = ph[37] = ph[38] = 0;
			ph[39] = IPPROTO_TCP;
			sum = __rte_raw_cksum(ph, 40, 0);
		}
		{
			uint32_t seq = get_be32(t.h + t.l4 + 4) + off;

			th[4] = (uint8_t)(seq >> 24);
			th[5] = (uint8_t)(seq >> 16);
			th[6] = (uint8_t)(seq >> 8);
			th[7] = (uint8_t)seq;
		}
		if (off + seg < payload)
			th[13] &= (uint8_t) ~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG);
		if (off != 0)
			th[13] &= (uint8_t)~RTE_TCP_CWR_FLAG;
		if (rx_csum) {
			/* the pseudo header's sum, the rest to the receiver */
			uint16_t c = __rte_raw_cksum_reduce(sum);

			memcpy(th + 16, &c, 2);
			o.vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			o.vh.csum_start = (uint16_t)t.l4;
			o.vh.csum_offset = 16;
		} else {
			uint16_t c;

			th[16] = th[17] = 0;
			sum += __rte_raw_cksum(th, t.hlen - t.l4, 0);
			/* the payload starts at an even offset of the segment
			 * (TCP's header is 4-byte words) */
			sum += cursor_sum(src, seg);
			c = csum_final(sum);
			memcpy(th + 16, &c, 2);
		}
		rx_fill(from, to, n, &o, src, seg);
		from->tx_seg_off = off + seg;
		from->gso_segments++;
		*bytes += t.hlen + seg;
		(*segs)++;
		if (payload == 0)
			break;
	}
	from->gso_sw++;
	return OC_MOVED;
}

/* A frame whose header asks for something: passed to the receiver if it
 * takes it, else done here. */
static int
move_offload(struct vgw_net_oc *from, struct cursor *src, uint32_t len,
	     const struct virtio_net_hdr *vh, struct vgw_net_oc *to, uint32_t *bytes,
	     uint32_t *segs)
{
	struct oc_out o = { .vh = *vh, .patch_pos = OC_NO_PATCH };
	int n;

	if (!rx_takes_hdr(to, vh)) {
		if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
			return move_tso(from, src, len, vh, to, bytes, segs);
		return move_csum(from, src, len, vh, to, bytes, segs);
	}
	n = rx_take(to, from, to->hdr_len + len);
	if (n <= 0)
		return n == 0 ? OC_NO_ROOM : OC_DROP;
	rx_fill(from, to, n, &o, src, len);
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		from->gso_whole++;
	*bytes = len;
	*segs = 1;
	return OC_MOVED;
}

/* Move the frame in tc into to's receive ring: *bytes and *segs, the
 * frames the receiver got (more than one when a segmentation was done
 * here). */
static inline int
move_frame(struct vgw_net_oc *from, struct vgw_vring_chain *tc, struct vgw_net_oc *to,
	   uint32_t *bytes, uint32_t *segs)
{
	struct cursor src, dst;
	uint32_t len, left;
	int n;

	if (!frame_ok(from, tc))
		return OC_BAD;
	cursor_init(&src, tc->iov, tc->in_cnt);
	len = tc->in_len - from->hdr_len;
	/* The sender's header is read only if it was offered offloads:
	 * without, it can ask for nothing (and its cache line, which the
	 * sender's core just wrote, stays there). */
	if (from->feat & F(VIRTIO_NET_F_CSUM)) {
		struct virtio_net_hdr vh;

		if (tx_hdr(from, tc, len, &vh) != 0)
			return OC_BAD;
		if (vh.flags != 0) {
			cursor_skip(&src, from->hdr_len);
			return move_offload(from, &src, len, &vh, to, bytes, segs);
		}
	}
	/* The receiver gets a plain header. */
	cursor_skip(&src, from->hdr_len);
	n = rx_take(to, from, to->hdr_len + len);
	if (n == 0)
		return OC_NO_ROOM;
	if (n < 0)
		return OC_DROP;
	left = len;
	for (int i = 0; i < n; i++) {
		struct vgw_vring_chain *c = &from->rxc[i];
		uint32_t room = c->out_len, put = 0, k;

		cursor_init(&dst, c->iov + c->in_cnt, c->out_cnt);
		if (i == 0) {
			hdr_put(&dst, (uint16_t)n, to->hdr_len);
			room -= to->hdr_len;
			put = to->hdr_len;
		}
		k = RTE_MIN(room, left);
		cursor_copy(&dst, &src, k);
		left -= k;
		rx_put(to, c, put + k);
	}
	*bytes = len;
	*segs = 1;
	return OC_MOVED;
}

/* The RARP frame of a SEND_RARP (req: the guest's MAC), as rte_vhost
 * injects it on the mbuf path (rte_net_make_rarp_packet()): broadcast,
 * from the guest's MAC, ethertype RARP, a reverse request (RFC 903) with
 * the MAC as sender and target hardware address and no protocol
 * addresses; 64 bytes, the rest zero. Built in oc->rarp behind a zeroed
 * header of the port's size: a chain as if the port's guest had sent it
 * (a sender's zero header asks for nothing). */
static struct vgw_vring_chain *
rarp_chain(struct vgw_net_oc *oc, uint64_t req)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)(oc->rarp + OC_HDR_MAX);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	struct vgw_vring_chain *c = &oc->own_src;
	struct rte_ether_addr mac;

	RTE_BUILD_BUG_ON(sizeof(*eh) + sizeof(*ah) > OC_RARP_LEN);
	vgw_net_rarp_mac(req, mac.addr_bytes);
	memset(oc->rarp, 0, sizeof(oc->rarp));
	memset(eh->dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(&mac, &eh->src_addr);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_RARP);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REVREQUEST);
	rte_ether_addr_copy(&mac, &ah->arp_data.arp_sha);
	rte_ether_addr_copy(&mac, &ah->arp_data.arp_tha);
	c->in_cnt = 1;
	c->out_cnt = 0;
	c->iov[0].iov_base = oc->rarp + OC_HDR_MAX - oc->hdr_len;
	c->iov[0].iov_len = oc->hdr_len + OC_RARP_LEN;
	c->in_len = (uint32_t)c->iov[0].iov_len;
	c->out_len = 0;
	return c;
}

/* An xconnect's RARP (SEND_RARP on port in), on queue pair 0 (from, to):
 * into the peer's receive ring ahead of the guest's next frames, counted as a frame the guest
 * sent. OC_NO_ROOM: the request stays for the next pass, and nothing is
 * taken from the guest's ring behind it meanwhile. */
static int
xc_rarp(struct vgw_net_port *in, struct vgw_net_oc *from, struct vgw_net_oc *to, bool down,
	struct vgw_dp_qstats *rs, struct vgw_dp_qstats *ts)
{
	uint64_t req = atomic_load_explicit(&in->rarp_req, memory_order_relaxed);
	uint32_t bytes = 0, segs = 0;
	int ret;

	from->tx_seg_off = 0;
	ret = down ? OC_DROP : move_frame(from, rarp_chain(from, req), to, &bytes, &segs);
	if (ret == OC_NO_ROOM)
		return ret;
	/* (a request for another MAC that came meanwhile goes next pass) */
	atomic_compare_exchange_strong_explicit(&in->rarp_req, &req, 0, memory_order_relaxed,
						memory_order_relaxed);
	atomic_fetch_add_explicit(&in->rarp_sent, 1, memory_order_relaxed);
	rs->rx_pkts++;
	rs->rx_bytes += OC_RARP_LEN;
	if (ret == OC_MOVED) {
		ts->tx_pkts += segs;
		ts->tx_bytes += bytes;
	} else {
		ts->drops++;
	}
	return ret;
}

/* The common case of an xconnect, batched: frames of a sender offered no
 * offload (its header asks for nothing), each into one receive chain that
 * holds it. Every receive chain is taken first and its first line fetched
 * for writing, then the frames are copied: the stores into the receiver's
 * buffers (lines the receiver's core last held) find them here instead of
 * each waiting for its line in turn. Moves frames from txc[tx_off] up to
 * txc[end], returns how many; stops at the first that needs move_frame()
 * (several chains, a chain of another shape, a malformed one) or finds no
 * room. */
static uint16_t
move_batch(struct vgw_net_oc *from, struct vgw_net_oc *to, uint16_t end, struct vgw_dp_qstats *rs,
	   struct vgw_dp_qstats *ts)
{
	uint16_t n = end - from->tx_off, k;
	uint64_t bytes = 0;

	if (from->feat & F(VIRTIO_NET_F_CSUM))
		return 0;
	for (k = 0; k < n; k++) {
		const struct vgw_vring_chain *tc = &from->txc[from->tx_off + k];
		struct vgw_vring_chain *c = &from->rxb[k];
		uint32_t len;

		if (!frame_ok(from, tc))
			break;
		len = tc->in_len - from->hdr_len;
		if (vgw_vring_pop(&to->rx, to->mem, c) <= 0)
			break;
		if (c->in_cnt != 0 || c->out_len < to->hdr_len + len ||
		    c->iov[0].iov_len < to->hdr_len) {
			vgw_vring_unpop(&to->rx, 1);
			break;
		}
		/* the header's line and the next (a 64-byte frame's end) */
		vgw_prefetch_w(c->iov[0].iov_base);
		vgw_prefetch_w((char *)c->iov[0].iov_base + RTE_CACHE_LINE_SIZE);
	}
	for (uint16_t i = 0; i < k; i++) {
		struct vgw_vring_chain *tc = &from->txc[from->tx_off + i];
		struct vgw_vring_chain *c = &from->rxb[i];
		uint32_t len = tc->in_len - from->hdr_len;
		struct cursor src, dst;

		cursor_init(&src, tc->iov, tc->in_cnt);
		cursor_skip(&src, from->hdr_len);
		cursor_init(&dst, c->iov, c->out_cnt);
		hdr_put(&dst, 1, to->hdr_len);
		cursor_copy(&dst, &src, len);
		vgw_vring_put(&to->rx, c, to->hdr_len + len);
		vgw_vring_put(&from->tx, tc, 0);
		bytes += len;
	}
	/* counted once: a counter in memory read back after each frame's
	 * stores into guest memory waits for them when the store is not
	 * forwarded to the load (measured: 70% of the pass on Zen) */
	rs->rx_pkts += k;
	rs->rx_bytes += bytes;
	ts->tx_pkts += k;
	ts->tx_bytes += bytes;
	from->tx_off += k;
	return k;
}

/* Interrupt the guest for a ring we returned chains to: rte_vhost decides
 * (VRING_AVAIL_F_NO_INTERRUPT, or the used event with EVENT_IDX) from
 * the indices we give it. Never waits for its ring lock: retried on the
 * next pass. */
static inline bool
ring_call(struct vgw_vring *vr)
{
	return vgw_vring_notify(vr) == -EAGAIN;
}

/* Take a burst of frames from the transmit ring, their first bytes
 * fetched meanwhile (the guest's core wrote them). */
static inline void
tx_take(struct vgw_net_oc *from, struct vgw_dp_qstats *rs)
{
	uint16_t n = 0;

	/* nothing there (one read of the guest's index on an idle pass);
	 * an index that claims more than the ring holds prefetches nothing
	 * either, and only pop refuses (and counts) it */
	if (vgw_vring_prefetch(&from->tx, VGW_DP_BURST) == 0 &&
	    from->tx.avail_seen == from->tx.last_avail)
		return;
	/* malformed chains use up the burst too: a guest that keeps making
	 * bad ones available must not keep the task (and the receive side
	 * it may hold) for good */
	for (unsigned int tries = 0; n < VGW_DP_BURST && tries < VGW_DP_BURST; tries++) {
		struct vgw_vring_chain *c = &from->txc[n];
		int ret = vgw_vring_pop(&from->tx, from->mem, c);

		if (ret == 0)
			break;
		if (ret < 0) {
			rs->drops++; /* malformed: returned and counted */
			continue;
		}
		/* the frame after the header (the header itself is not read) */
		if (c->in_cnt != 0 && c->iov[0].iov_len > from->hdr_len)
			rte_prefetch0((char *)c->iov[0].iov_base + from->hdr_len);
		n++;
	}
	from->tx_n = n;
	from->tx_off = 0;
}

/* Has the front-end of p enabled vring? An enabled ring is a ring taken
 * (vgw_net_oc_ring): acquire, for the walker's state. */
static inline bool
ring_enabled(const struct vgw_net_port *p, uint16_t vring)
{
	return ((atomic_load_explicit(&p->ready_rings, memory_order_acquire) >> vring) & 1) != 0;
}

/* The RARP step of a pass that holds nothing: a SEND_RARP on port in
 * sends its frame first, ahead of what the guest sends next, on queue
 * pair 0 (the one every front-end has); *rarp and *moved say what became
 * of it. false: the peer has no room, the request stays for the next pass
 * and the pass takes nothing from the guest's ring behind it. */
static inline bool
rarp_step(struct vgw_net_port *in, uint16_t q, struct vgw_net_oc *from, struct vgw_net_oc *to,
	  bool down, struct vgw_dp_qstats *rs, struct vgw_dp_qstats *ts, bool *rarp,
	  uint16_t *moved)
{
	int ret;

	if (likely(q != 0 || atomic_load_explicit(&in->rarp_req, memory_order_relaxed) == 0))
		return true;
	ret = xc_rarp(in, from, to, down, rs, ts);
	if (ret == OC_NO_ROOM)
		return false;
	*rarp = true;
	*moved += ret == OC_MOVED;
	return true;
}

/* The held-frames step: move the frames taken and not moved yet,
 * txc[tx_off..tx_n), in order into the peer's receive ring (dropped,
 * counted on the peer, while it is down): those a previous pass held
 * because the peer had no room (a pass takes nothing new while any is
 * held), else the burst this pass took. The first frame the peer has no
 * room for stays held, with those behind it, for the next pass. Returns
 * the frames done with (their descriptors returned to the guest, to
 * publish); adds to *moved those that went into the peer's ring, and one
 * whose segments went in part. */
static inline uint16_t
move_held(struct vgw_net_oc *from, struct vgw_net_oc *to, bool down, struct vgw_dp_qstats *rs,
	  struct vgw_dp_qstats *ts, uint16_t *moved)
{
	uint16_t done = 0;

	if (!down && from->tx_off < from->tx_n) {
		vgw_vring_prefetch(&to->rx, from->tx_n - from->tx_off);
		done = move_batch(from, to, from->tx_n, rs, ts);
		*moved += done;
	}
	while (from->tx_off < from->tx_n) {
		struct vgw_vring_chain *tc = &from->txc[from->tx_off];
		uint32_t bytes = 0, segs = 0;
		int ret = down ? OC_DROP : move_frame(from, tc, to, &bytes, &segs);

		if (ret == OC_NO_ROOM) {
			if (segs != 0) /* segments moved before the room ran out */
				(*moved)++;
			ts->tx_pkts += segs;
			ts->tx_bytes += bytes;
			break;
		}
		from->tx_off++;
		from->tx_seg_off = 0;
		done++;
		vgw_vring_put(&from->tx, tc, 0);
		if (ret == OC_BAD) {
			from->tx.malformed++;
			rs->drops++;
			continue;
		}
		/* taken from the guest, as the mbuf path counts it, whether
		 * the peer got it or not (down, or the frame cannot go into
		 * its ring) */
		rs->rx_pkts++;
		rs->rx_bytes += tc->in_len - from->hdr_len;
		if (ret == OC_MOVED) {
			ts->tx_pkts += segs;
			ts->tx_bytes += bytes;
			(*moved)++;
		} else {
			ts->drops++;
		}
	}
	return done;
}

/* The pending interrupt of the receive ring of oc (a sender could not
 * give it: rte_vhost held the ring's lock), given by oc's own task. */
static inline void
rx_call_retry(struct vgw_net_oc *oc)
{
	if (likely(!__atomic_load_n(&oc->call_rx, __ATOMIC_RELAXED)))
		return;
	rte_spinlock_lock(&oc->rx_lock);
	oc->call_rx = ring_call(&oc->rx);
	rte_spinlock_unlock(&oc->rx_lock);
}

uint16_t
vgw_net_poll_oc(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	struct vgw_net_port *in = t->arg, *out = in->peer;
	uint16_t q = t->queue;
	/* queue pair q of in goes to pair q % n of out (n: the leading pairs
	 * whose receive ring out's front-end enabled; q itself when out
	 * enabled as many as in), as on the mbuf path: when the guests
	 * enable different numbers of pairs, a receive ring has several
	 * writers, each holding it for its pass (rx_lock) */
	uint16_t nq = atomic_load_explicit(&out->tx_queues, memory_order_relaxed);
	uint16_t r = nq > 1 ? q % RTE_MIN(nq, out->n_oc) : 0;
	struct vgw_net_oc *from = &in->oc[q], *to = &out->oc[r];
	struct vgw_dp_qstats *rs = &lc->stats[vgw_net_slot(in, q)];
	struct vgw_dp_qstats *ts = &lc->stats[vgw_net_slot(out, r)];
	int out_vid = atomic_load_explicit(&out->dev.vid, memory_order_acquire);
	bool down = !atomic_load_explicit(&out->up, memory_order_relaxed);
	bool open = out_vid >= 0 && nq != 0 && ring_enabled(out, 2 * r);
	uint16_t moved = 0, done = 0, work, rx_used = 0;
	bool rarp = false;

	if (from->call_tx)
		from->call_tx = ring_call(&from->tx);
	rx_call_retry(from);
	if (!ring_enabled(in, 2 * q + 1))
		return 0; /* the guest disabled its transmit ring */
	if (!down && !open)
		return 0; /* the peer comes back: the frames wait */
	/* dirty logging: asked once per pass */
	vgw_vring_log_check(&from->tx);
	if (!down) {
		rte_spinlock_lock(&to->rx_lock);
		vgw_vring_log_check(&to->rx);
		rx_used = to->rx.used_idx;
	}
	/* nothing held: a SEND_RARP's frame first (no room for it: it
	 * waits, so do the frames), then a burst */
	if (from->tx_off < from->tx_n || rarp_step(in, q, from, to, down, rs, ts, &rarp, &moved)) {
		if (from->tx_off == from->tx_n)
			tx_take(from, rs);
		done = move_held(from, to, down, rs, ts, &moved);
	}
	if (done != 0) {
		vgw_vring_publish(&from->tx);
		from->call_tx = ring_call(&from->tx);
	}
	if (!down) {
		/* chains returned unused count as well as frames: a guest
		 * that waits for an interrupt must learn of them, or it may
		 * never refill its ring (and the sender's frames wait) */
		vgw_vring_publish(&to->rx);
		if (moved != 0 || to->rx.used_idx != rx_used)
			to->call_rx = ring_call(&to->rx);
		rte_spinlock_unlock(&to->rx_lock);
	}
	work = done != 0 ? done : moved;
	return work != 0 || rarp ? RTE_MAX(work, (uint16_t)1) : 0;
}

/* --- one-copy bridge ----------------------------------------------------
 *
 * Every port of the bridge is a one-copy vhost-user net device or an
 * ethdev, and each port has a task of its own (vgw_net_poll_oc_bport),
 * so the bridge's ports spread over the workers as on the mbuf path. A
 * frame goes into the receive buffers of its destination (learned from
 * its source address), or of every other port when the destination is
 * unknown or a multicast: one copy per receiver. A burst's frames are
 * routed first; the task then holds the receive side of every port they
 * go to (its rx_lock, taken in slot order, so two tasks never wait for
 * each other in a circle), moves each run of frames to one receiver in
 * one batch (move_batch, as on an xconnect), publishes what it wrote and
 * lets go. A receiver with no room, or not published to the workers,
 * drops the frame (counted on it), as a switch port does; the sender's
 * buffers go back to it at once. */

/* The frame's Ethernet destination and source (the first 12 bytes after
 * the sender's header: checked to be there). */
static inline void
frame_macs(const struct vgw_net_oc *from, const struct vgw_vring_chain *tc, uint8_t macs[12])
{
	const struct iovec *v = &tc->iov[0];

	if (likely(v->iov_len >= (size_t)from->hdr_len + 12)) {
		memcpy(macs, (const char *)v->iov_base + from->hdr_len, 12);
	} else {
		struct iovec one = { .iov_base = macs, .iov_len = 12 };
		struct cursor src, dst;

		cursor_init(&src, tc->iov, tc->in_cnt);
		cursor_skip(&src, from->hdr_len);
		cursor_init(&dst, &one, 1);
		cursor_copy(&dst, &src, 12);
	}
}

struct obr_pass {
	struct vgw_dp_lcore *lc;
	uint64_t now;
	uint16_t q;	  /* the sender's queue pair (of an ethdev: its rx queue) */
	uint64_t held;	  /* slots whose receive side the task holds */
	uint64_t open;	  /* of those, the ones whose receive ring may be written */
	uint64_t touched; /* of those, the ones written */
	/* of each slot held, the queue pair whose receive side it is */
	uint8_t rxq[VGW_BRIDGE_MAX_PORTS];
};

#define OBR_BIT(s) (1ULL << (s))

/* The receive side of the port in slot s that the pass holds. */
static inline struct vgw_net_oc *
obr_to(const struct vgw_net_bridge *br, const struct obr_pass *ps, uint16_t s)
{
	return &br->ports[s]->oc[ps->rxq[s]];
}

static inline struct vgw_dp_qstats *
obr_ts(const struct vgw_net_bridge *br, const struct obr_pass *ps, uint16_t s)
{
	return &ps->lc->stats[vgw_net_slot(br->ports[s], ps->rxq[s])];
}

/* Give the frame in tc to the port in slot s (held): 0, or OC_BAD (the
 * frame itself is broken, whoever receives it). */
static inline int
obr_deliver(struct vgw_net_bridge *br, struct vgw_net_oc *from, struct vgw_vring_chain *tc,
	    uint16_t s, struct obr_pass *ps)
{
	struct vgw_dp_qstats *ts = obr_ts(br, ps, s);
	uint32_t bytes = 0, segs = 0;
	int ret;

	if (!(ps->open & OBR_BIT(s))) {
		ts->drops++;
		return 0;
	}
	from->tx_seg_off = 0;
	ret = move_frame(from, tc, obr_to(br, ps, s), &bytes, &segs);
	if (ret == OC_BAD)
		return OC_BAD;
	/* chains returned unused are published as well */
	ps->touched |= OBR_BIT(s);
	ts->tx_pkts += segs;
	ts->tx_bytes += bytes;
	if (ret != OC_MOVED)
		ts->drops++; /* no room (or none left part-way), or cannot fit */
	return 0;
}

/* Where the frame goes (its source learned on port self): the slot of
 * its one receiver, OBR_FLOOD (every other port, when that is more than
 * one), OBR_LOCAL (its destination is on its own segment) or OBR_BAD (the
 * frame is broken, whoever receives it). */
enum { OBR_FLOOD = -1, OBR_LOCAL = -2, OBR_BAD = -3 };

static inline int
obr_dest_macs(struct vgw_net_bridge *br, uint16_t self, const uint8_t macs[12], uint64_t now)
{
	uint16_t np = br->n_ports;
	int port;

	vgw_mac_table_learn(br->macs, macs + 6, br->ports[self]->dev.index, now);
	port = (macs[0] & 1) != 0 ? -1 : vgw_mac_table_lookup(br->macs, macs);
	if (port < 0)
		return np == 2 ? 1 - self : OBR_FLOOD;
	port = port < VGW_MAX_DEVICES ? br->slot_of[port] : UINT8_MAX;
	return port == self || port >= np ? OBR_LOCAL : port;
}

/* The receive sides a frame routed to dest needs. */
static inline uint64_t
obr_needs(const struct vgw_net_bridge *br, uint16_t self, int dest)
{
	uint16_t np = br->n_ports;

	if (dest >= 0)
		return OBR_BIT(dest);
	if (dest != OBR_FLOOD)
		return 0;
	return (np == 64 ? ~0ULL : OBR_BIT(np) - 1) & ~OBR_BIT(self);
}

static inline int
obr_dest(struct vgw_net_bridge *br, uint16_t self, const struct vgw_net_oc *from,
	 const struct vgw_vring_chain *tc, uint64_t now)
{
	uint8_t macs[12];

	if (!frame_ok(from, tc))
		return OBR_BAD;
	frame_macs(from, tc, macs);
	return obr_dest_macs(br, self, macs, now);
}

/* A burst's routes: a frame of the same two addresses as the one before
 * goes where it went (the same learning, same source, port and time, left
 * the table as it was, so the lookup would give the same answer): no
 * lookup, and no store into the shared table, per frame of a stream. */
struct obr_routes {
	int last;
	uint8_t prev[12];
	uint64_t want; /* the receive sides the burst needs */
};

static inline int
obr_route(struct vgw_net_bridge *br, uint16_t self, const struct vgw_net_oc *from,
	  const struct vgw_vring_chain *tc, uint64_t now, struct obr_routes *rt)
{
	uint8_t macs[12];

	if (!frame_ok(from, tc))
		return OBR_BAD;
	frame_macs(from, tc, macs);
	if (rt->last == OBR_BAD || memcmp(macs, rt->prev, sizeof(macs)) != 0) {
		rt->last = obr_dest_macs(br, self, macs, now);
		memcpy(rt->prev, macs, sizeof(macs));
		rt->want |= obr_needs(br, self, rt->last);
	}
	return rt->last;
}

/* Hold the receive sides in want, in slot order (the task holds none
 * yet: a task waits only for a port after every port it holds, so no two
 * wait for each other), and find which may be written: a port's rings
 * are touched only while it is published (its stop, suspend and remap
 * wait for a grace period of every worker after unpublishing it). A
 * guest's receive side is its queue pair q % n (q the sender's pair, n
 * the leading pairs whose receive ring its front-end enabled), as on the
 * mbuf path: a sender's pair keeps to one pair of each receiver. */
static void
obr_hold(struct vgw_net_bridge *br, uint64_t want, struct obr_pass *ps)
{
	ps->held = want;
	ps->open = ps->touched = 0;
	while (want != 0) {
		uint16_t s = (uint16_t)__builtin_ctzll(want), nq, r;
		struct vgw_net_port *p = br->ports[s];
		struct vgw_net_oc *oc;

		want &= want - 1;
		if (p->oc->eth) {
			ps->rxq[s] = 0;
			oc = p->oc;
			rte_spinlock_lock(&oc->rx_lock);
			oc->eth_lc = ps->lc; /* its tx queue: this worker's */
			if (atomic_load_explicit(&p->up, memory_order_relaxed))
				ps->open |= OBR_BIT(s);
			continue;
		}
		nq = atomic_load_explicit(&p->tx_queues, memory_order_relaxed);
		r = nq > 1 ? ps->q % RTE_MIN(nq, p->n_oc) : 0;
		ps->rxq[s] = (uint8_t)r;
		oc = &p->oc[r];
		rte_spinlock_lock(&oc->rx_lock);
		if (nq == 0 || atomic_load_explicit(&p->dev.vid, memory_order_acquire) < 0 ||
		    !ring_enabled(p, 2 * r))
			continue;
		ps->open |= OBR_BIT(s);
		vgw_vring_log_check(&oc->rx);
	}
}

/* Publish what the task wrote into the receive sides it holds (an
 * ethdev's staged frames sent), interrupt their guests, let them go. */
static void
obr_release(struct vgw_net_bridge *br, struct obr_pass *ps)
{
	uint64_t held = ps->held;

	while (held != 0) {
		uint16_t s = (uint16_t)__builtin_ctzll(held);
		struct vgw_net_oc *oc = obr_to(br, ps, s);

		held &= held - 1;
		if (oc->eth) {
			if (oc->eth_n != 0)
				eth_flush(oc);
		} else if (ps->touched & OBR_BIT(s)) {
			vgw_vring_publish(&oc->rx);
			oc->call_rx = ring_call(&oc->rx);
		}
		rte_spinlock_unlock(&oc->rx_lock);
	}
	ps->held = ps->open = ps->touched = 0;
}

/* Give the frame to the receivers dest names (obr_dest; held): 0, or
 * OC_BAD (the frame is the sender's own malformed one for some receiver:
 * a flood goes on to the others, each of which gets what it would get
 * alone; a TSO frame whose headers do not parse, say, passes whole to a
 * receiver that takes TSO and is refused by one that does not). */
static inline int
obr_send(struct vgw_net_bridge *br, uint16_t self, struct vgw_net_oc *from,
	 struct vgw_vring_chain *tc, int dest, struct obr_pass *ps, struct vgw_dp_qstats *rs)
{
	int bad = 0;

	if (dest == OBR_BAD)
		return OC_BAD;
	rs->rx_pkts++;
	rs->rx_bytes += tc->in_len - from->hdr_len;
	if (dest >= 0)
		return obr_deliver(br, from, tc, (uint16_t)dest, ps);
	if (dest == OBR_LOCAL) {
		rs->drops++; /* stays on its own segment */
		return 0;
	}
	for (uint16_t s = 0; s < br->n_ports; s++)
		if (s != self && obr_deliver(br, from, tc, s, ps) == OC_BAD)
			bad = OC_BAD;
	return bad;
}

/* The frames from->txc[from->tx_off, end) all go to the port in slot s
 * (held): as many as its receive ring has room for moved in one batch
 * (as on an xconnect), their chains returned; the others are left to the
 * caller. */
static inline void
obr_batch(struct vgw_net_bridge *br, struct vgw_net_oc *from, uint16_t end, uint16_t s,
	  struct obr_pass *ps, struct vgw_dp_qstats *rs)
{
	struct vgw_net_oc *to = obr_to(br, ps, s);

	if (!(ps->open & OBR_BIT(s)) || to->eth)
		return;
	vgw_vring_prefetch(&to->rx, end - from->tx_off);
	if (move_batch(from, to, end, rs, obr_ts(br, ps, s)) != 0)
		ps->touched |= OBR_BIT(s);
}

/* One burst from transmit ring ps->q of the port in slot self: each
 * frame's receivers found first (sources learned), their receive sides
 * held, then each run of frames to one receiver moved in one batch, what
 * the batch left frame by frame. */
static inline uint16_t
obr_port(struct vgw_net_bridge *br, uint16_t self, struct obr_pass *ps)
{
	struct vgw_net_port *in = br->ports[self];
	struct vgw_net_oc *from = &in->oc[ps->q];
	struct vgw_dp_qstats *rs = &ps->lc->stats[vgw_net_slot(in, ps->q)];
	struct obr_routes rt = { .last = OBR_BAD };
	int dest[VGW_DP_BURST];
	uint16_t i = 0;

	vgw_vring_log_check(&from->tx);
	from->tx_n = from->tx_off = 0; /* (nothing is held across passes) */
	tx_take(from, rs);
	if (from->tx_n == 0)
		return 0;
	for (uint16_t k = 0; k < from->tx_n; k++)
		dest[k] = obr_route(br, self, from, &from->txc[k], ps->now, &rt);
	obr_hold(br, rt.want, ps);
	while (i < from->tx_n) {
		uint16_t end = i + 1;

		while (end < from->tx_n && dest[end] == dest[i])
			end++;
		if (dest[i] >= 0 && end - i > 1) {
			from->tx_off = i;
			obr_batch(br, from, end, (uint16_t)dest[i], ps, rs);
			i = from->tx_off;
		}
		for (; i < end; i++) {
			struct vgw_vring_chain *tc = &from->txc[i];

			if (obr_send(br, self, from, tc, dest[i], ps, rs) != 0) {
				from->tx.malformed++;
				rs->drops++;
			}
			vgw_vring_put(&from->tx, tc, 0);
		}
	}
	obr_release(br, ps);
	from->tx_off = from->tx_n;
	vgw_vring_publish(&from->tx);
	from->call_tx = ring_call(&from->tx);
	return from->tx_n;
}

/* SEND_RARP on the port in slot self (its pair 0's task): its RARP
 * learned and flooded as a frame its guest sent on pair 0, ahead of the
 * guest's next frames. */
static inline uint16_t
obr_rarp(struct vgw_net_bridge *br, uint16_t self, struct obr_pass *ps)
{
	struct vgw_net_port *in = br->ports[self];
	struct vgw_dp_qstats *rs = &ps->lc->stats[vgw_net_slot(in, 0)];
	uint64_t req = atomic_exchange_explicit(&in->rarp_req, 0, memory_order_relaxed);
	struct vgw_vring_chain *tc;
	int dest;

	if (req == 0)
		return 0;
	/* (the frame is well formed: never OC_BAD) */
	tc = rarp_chain(in->oc, req);
	dest = obr_dest(br, self, in->oc, tc, ps->now);
	obr_hold(br, obr_needs(br, self, dest), ps);
	obr_send(br, self, in->oc, tc, dest, ps, rs);
	obr_release(br, ps);
	atomic_fetch_add_explicit(&in->rarp_sent, 1, memory_order_relaxed);
	return 1;
}

/* The frame in mbuf m as a chain of its segments in tc: false if it has
 * more than a chain holds. */
static inline bool
obr_mbuf_chain(const struct rte_mbuf *m, struct vgw_vring_chain *tc)
{
	uint16_t k = 0;

	tc->in_len = rte_pktmbuf_pkt_len(m);
	for (; m != NULL && k < OC_MAX_RX_CHAINS; m = m->next, k++) {
		tc->iov[k].iov_base = rte_pktmbuf_mtod(m, void *);
		tc->iov[k].iov_len = m->data_len;
	}
	tc->in_cnt = k;
	tc->out_cnt = 0;
	return m == NULL;
}

/* A burst from each receive queue of the ethdev port in slot self: each
 * frame read from its mbuf and copied into its receivers' buffers. */
static inline uint16_t
obr_eth_port(struct vgw_net_bridge *br, uint16_t self, struct obr_pass *ps)
{
	struct vgw_net_port *in = br->ports[self];
	struct vgw_net_oc *from = in->oc;
	struct vgw_vring_chain *tc = &from->own_src;
	uint16_t work = 0;

	for (uint16_t q = 0; q < in->dev.queues; q++) {
		struct vgw_dp_qstats *rs = &ps->lc->stats[vgw_net_slot(in, q)];
		struct rte_mbuf *pkts[VGW_DP_BURST];
		uint16_t n = rte_eth_rx_burst(from->eth_port, q, pkts, VGW_DP_BURST);
		struct obr_routes rt = { .last = OBR_BAD };
		int dest[VGW_DP_BURST];

		if (n == 0)
			continue;
		ps->q = q;
		for (uint16_t i = 0; i < n; i++)
			dest[i] = obr_mbuf_chain(pkts[i], tc) ?
					  obr_route(br, self, from, tc, ps->now, &rt) :
					  OBR_BAD; /* too many segments */
		obr_hold(br, rt.want, ps);
		for (uint16_t i = 0; i < n; i++) {
			obr_mbuf_chain(pkts[i], tc);
			if (obr_send(br, self, from, tc, dest[i], ps, rs) != 0)
				rs->drops++; /* too many segments, or too short or long */
		}
		obr_release(br, ps);
		rte_pktmbuf_free_bulk(pkts, n);
		work += n;
	}
	return work;
}

uint16_t
vgw_net_poll_oc_bport(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	struct vgw_net_port *p = t->arg;
	struct vgw_net_bridge *br = p->bridge;
	uint16_t q = t->queue;
	struct vgw_net_oc *oc = &p->oc[q];
	uint16_t self = br->slot_of[p->dev.index], work = 0;
	struct obr_pass ps = { .lc = lc, .now = rte_rdtsc(), .q = q };

	if (oc->eth)
		return atomic_load_explicit(&p->up, memory_order_relaxed) ?
			       obr_eth_port(br, self, &ps) :
			       0;
	/* published: its rings are there (see obr_hold) */
	if (atomic_load_explicit(&p->dev.vid, memory_order_acquire) < 0)
		return 0;
	if (oc->call_tx)
		oc->call_tx = ring_call(&oc->tx);
	rx_call_retry(oc);
	if (!ring_enabled(p, 2 * q + 1))
		return 0; /* its transmit ring q is not enabled */
	if (q == 0 && unlikely(atomic_load_explicit(&p->rarp_req, memory_order_relaxed) != 0))
		work += obr_rarp(br, self, &ps);
	return work + obr_port(br, self, &ps);
}
