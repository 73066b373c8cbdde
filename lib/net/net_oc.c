/* SPDX-License-Identifier: BSD-3-Clause */
/* One copy between two guests: an xconnect of two vhost-user net devices
 * moves each frame from the sender's transmit descriptors straight into
 * the receiver's receive buffers, with our own split-ring walker
 * (vgw_vring.h) on both rings of both devices, and no mbuf. rte_vhost
 * keeps the protocol (memory table, ring addresses, call fds, dirty log);
 * the rings' indices are given back to it when the device stops.
 *
 * Ownership: the task of port A (one queue pair) reads A's transmit ring
 * and writes the peer B's receive ring, and is the only one to touch
 * either. It touches B's ring only while B is published to the workers
 * (B's vid >= 0): B's stop, suspend and remap unpublish it and wait for a
 * grace period of every worker before they detach or remap its rings.
 *
 * When B has no room, A's descriptors stay in A's ring (back-pressure, no
 * loss); while B is down, A's frames are dropped and counted on B, as on
 * the mbuf path. The fast path takes no lock, makes no syscall but the
 * guest's interrupt (eventfd), logs nothing and allocates nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <rte_malloc.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>
#include <rte_vhost.h>

#include "vgw_log.h"
#include "vgw_vring.h"
#include "net_priv.h"

/* receive buffers one frame may take (mergeable buffers of 2 KiB hold
 * 64 KiB and a header) */
#define OC_MAX_RX_CHAINS 34
#define OC_MIN_FRAME 14	    /* an Ethernet header */
#define OC_MAX_FRAME 65550u /* 64 KiB and an Ethernet header */

struct vgw_net_oc {
	struct vgw_vring tx; /* this device's transmit ring (vring 1) */
	struct vgw_vring rx; /* its receive ring (vring 0): the peer's task writes it */
	struct rte_vhost_memory *mem;
	uint16_t hdr_len; /* 12 with VERSION_1 or MRG_RXBUF, else 10 */
	bool mrg;	  /* VIRTIO_NET_F_MRG_RXBUF */
	/* owned by this port's task: frames taken from the transmit ring and
	 * not moved yet (the peer had no room), txc[tx_off..tx_n), moved
	 * first on the next pass; the guest gets them back once moved, or
	 * dropped when the device stops */
	bool call_tx;	   /* an interrupt for tx still due */
	bool call_peer_rx; /* for the peer's rx */
	uint16_t tx_n, tx_off;
	struct vgw_vring_chain txc[VGW_DP_BURST];
	struct vgw_vring_chain rxc[OC_MAX_RX_CHAINS];
};

/* --- control plane (the port's dev->lock held) --------------------------- */

int
vgw_net_oc_start(struct vgw_net_port *p, int vid)
{
	struct vgw_net_oc *oc = p->oc;
	uint64_t f = 0;
	int ret;

	if (rte_vhost_get_negotiated_features(vid, &f) < 0)
		return -ENODEV;
	if (f & (1ULL << VIRTIO_F_RING_PACKED))
		return -ENOTSUP; /* not offered on a one-copy port */
	oc->mem = vgw_vring_mem_get(vid);
	if (oc->mem == NULL)
		return -ENOMEM;
	ret = vgw_vring_attach(&oc->tx, vid, 1, NULL);
	if (ret == 0)
		ret = vgw_vring_attach(&oc->rx, vid, 0, NULL);
	if (ret < 0) {
		vgw_vring_mem_free(oc->mem);
		oc->mem = NULL;
		return ret;
	}
	/* net keeps no inflight record: frames in flight at a crash are
	 * lost, as on a reconnect */
	oc->tx.inflight = NULL;
	oc->rx.inflight = NULL;
	oc->tx.indirect_ok = oc->rx.indirect_ok = (f >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
	oc->tx.event_idx = oc->rx.event_idx = (f >> VIRTIO_RING_F_EVENT_IDX) & 1;
	oc->mrg = (f >> VIRTIO_NET_F_MRG_RXBUF) & 1;
	oc->hdr_len = oc->mrg || ((f >> VIRTIO_F_VERSION_1) & 1) ?
			      sizeof(struct virtio_net_hdr_mrg_rxbuf) :
			      sizeof(struct virtio_net_hdr);
	oc->call_tx = oc->call_peer_rx = false;
	return 0;
}

void
vgw_net_oc_stop(struct vgw_net_port *p)
{
	struct vgw_net_oc *oc = p->oc;

	if (oc->mem == NULL)
		return;
	/* frames taken and never moved: back to the guest, dropped */
	if (oc->tx_off < oc->tx_n) {
		for (uint16_t i = oc->tx_off; i < oc->tx_n; i++)
			vgw_vring_put(&oc->tx, &oc->txc[i], 0);
		vgw_vring_publish(&oc->tx);
		atomic_fetch_add(&p->held_drops[0], oc->tx_n - oc->tx_off);
	}
	oc->tx_n = oc->tx_off = 0;
	vgw_vring_detach(&oc->tx);
	vgw_vring_detach(&oc->rx);
	vgw_vring_mem_free(oc->mem);
	oc->mem = NULL;
}

int
vgw_net_oc_remap(struct vgw_net_port *p, int vid)
{
	struct vgw_net_oc *oc = p->oc;
	struct rte_vhost_memory *mem;

	if (oc->mem == NULL)
		return 0;
	mem = vgw_vring_mem_get(vid);
	if (mem == NULL)
		return -ENOMEM;
	vgw_vring_mem_free(oc->mem);
	oc->mem = mem;
	if (vgw_vring_refresh(&oc->tx) < 0 || vgw_vring_refresh(&oc->rx) < 0)
		return -ENODEV;
	oc->tx.inflight = NULL;
	oc->rx.inflight = NULL;
	/* frames taken before: their buffers through the new table */
	for (uint16_t i = oc->tx_off; i < oc->tx_n; i++)
		if (vgw_vring_rewalk(&oc->tx, oc->mem, &oc->txc[i]) < 0) {
			oc->txc[i].in_cnt = 0; /* moved as malformed: returned */
			oc->txc[i].in_len = 0;
		}
	return 0;
}

uint64_t
vgw_net_oc_malformed(const struct vgw_net_port *p)
{
	return p->oc != NULL ? p->oc->tx.malformed + p->oc->rx.malformed : 0;
}

int
vgw_net_oc_init(struct vgw_net_port *p)
{
	/* hugepage memory: the task's chains span hundreds of KiB, and in 4 KiB
	 * pages each frame would cost TLB misses (page walks, expensive in a
	 * VM) */
	p->oc = rte_zmalloc("vgw_net_oc", sizeof(*p->oc), RTE_CACHE_LINE_SIZE);
	return p->oc == NULL ? -ENOMEM : 0;
}

/* --- the fast path ----------------------------------------------------- */

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
		if (ret > 0 && c->in_cnt == 0) {
			room += c->out_len;
			n++;
			continue;
		}
		/* malformed (already returned and counted), or a receive
		 * buffer the device may only read: the chains taken before
		 * it cannot go back to the ring */
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

/* Move the frame in tc into to's receive ring. */
static inline int
move_frame(struct vgw_net_oc *from, struct vgw_vring_chain *tc, struct vgw_net_oc *to,
	   uint32_t *bytes)
{
	struct cursor src, dst;
	uint32_t len, left;
	int n;

	if (tc->out_cnt != 0 || tc->in_len < (uint32_t)from->hdr_len + OC_MIN_FRAME ||
	    tc->in_len - from->hdr_len > OC_MAX_FRAME)
		return OC_BAD;
	/* The sender's header is not read: no offload was offered to it, so
	 * it can ask for nothing (and its cache line, which the sender's core
	 * just wrote, stays there). The receiver gets a plain one. */
	cursor_init(&src, tc->iov, tc->in_cnt);
	cursor_skip(&src, from->hdr_len);
	len = tc->in_len - from->hdr_len;
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
		vgw_vring_put(&to->rx, c, put + k);
	}
	*bytes = len;
	return OC_MOVED;
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
	while (n < VGW_DP_BURST) {
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

uint16_t
vgw_net_poll_oc(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	struct vgw_net_port *in = t->arg, *out = in->peer;
	struct vgw_net_oc *from = in->oc, *to = out->oc;
	struct vgw_dp_qstats *rs = &lc->stats[vgw_net_slot(in, 0)];
	struct vgw_dp_qstats *ts = &lc->stats[vgw_net_slot(out, 0)];
	int out_vid = atomic_load_explicit(&out->dev.vid, memory_order_acquire);
	bool down = !atomic_load_explicit(&out->up, memory_order_relaxed);
	bool open = out_vid >= 0 &&
		    (atomic_load_explicit(&out->ready_rings, memory_order_relaxed) & 1) != 0;
	uint16_t moved = 0, done = 0;

	if (from->call_tx)
		from->call_tx = ring_call(&from->tx);
	if (from->call_peer_rx && out_vid >= 0)
		from->call_peer_rx = ring_call(&to->rx);
	if (!(atomic_load_explicit(&in->ready_rings, memory_order_relaxed) & 2))
		return 0; /* the guest disabled its transmit ring */
	if (!down && !open)
		return 0; /* the peer comes back: the frames wait */
	/* dirty logging: asked once per pass */
	vgw_vring_log_check(&from->tx);
	if (!down)
		vgw_vring_log_check(&to->rx);
	if (from->tx_off == from->tx_n)
		tx_take(from, rs);
	if (!down && from->tx_off < from->tx_n)
		vgw_vring_prefetch(&to->rx, from->tx_n - from->tx_off);
	while (from->tx_off < from->tx_n) {
		struct vgw_vring_chain *tc = &from->txc[from->tx_off];
		uint32_t bytes = 0;
		int ret = down ? OC_DROP : move_frame(from, tc, to, &bytes);

		if (ret == OC_NO_ROOM)
			break;
		from->tx_off++;
		done++;
		vgw_vring_put(&from->tx, tc, 0);
		if (ret == OC_MOVED) {
			rs->rx_pkts++;
			rs->rx_bytes += bytes;
			ts->tx_pkts++;
			ts->tx_bytes += bytes;
			moved++;
		} else if (ret == OC_BAD) {
			from->tx.malformed++;
			rs->drops++;
		} else {
			ts->drops++;
		}
	}
	if (done == 0)
		return 0;
	vgw_vring_publish(&from->tx);
	from->call_tx = ring_call(&from->tx);
	if (!down) {
		/* chains returned unused count as well as frames */
		vgw_vring_publish(&to->rx);
		if (moved != 0)
			from->call_peer_rx = ring_call(&to->rx);
	}
	return done;
}
