/* SPDX-License-Identifier: BSD-3-Clause */
/* Control plane of the net devices: ports, bridges, the device operations
 * of net and ethdev devices (vgw_device.h), poll lists. Runs on the control
 * thread and on rte_vhost's event thread. */
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_vhost.h>

#include <jansson.h>

#include "vgw_log.h"
#include "vgw_vhost.h"
#include "vgw_net.h"
#include "net_priv.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_net, net, INFO);

#define MBUF_CACHE 256
#define MAC_REFRESH_MS 100

static struct vgw_net_port *ports;
static uint16_t n_ports;
/* config device index -> ports[] index, -1 for devices that are not net */
static int port_of_dev[VGW_MAX_DEVICES];
static struct vgw_net_bridge *bridges;
static uint16_t n_bridges;
static unsigned int pool_size;
static uint64_t last_age_tsc;

/* --- poll lists ------------------------------------------------------ */

static struct vgw_net_port *
port_of(struct vgw_device *dev)
{
	return VGW_DEVICE_OF(dev, struct vgw_net_port, dev);
}

static uint16_t
port_active_queues(const struct vgw_net_port *p)
{
	int vid = atomic_load(&p->dev.vid);
	uint16_t nq;

	if (p->dev.type == VGW_DEV_ETHDEV)
		return atomic_load(&p->up) ? p->dev.queues : 0;
	if (vid < 0)
		return 0;
	nq = vgw_vhost_nr_vrings(vid) / 2;
	return RTE_MIN(nq, p->dev.queues);
}

/* The poll tasks of a port: one per active queue. Called by dp with its
 * rebuild lock held, never with rte_vhost's virtqueue locks held. */
static unsigned int
net_tasks(struct vgw_device *dev, struct vgw_dp_task *tasks, unsigned int max)
{
	struct vgw_net_port *p = port_of(dev);
	uint16_t nq = port_active_queues(p);
	int vid = atomic_load(&dev->vid);
	unsigned int n = 0;

	atomic_store(&p->active_queues, nq);
	/* a one-copy bridge: a task per queue pair of a guest, one for all
	 * the queues of an ethdev; each holds the receive sides of the ports
	 * it sends to for a burst */
	if (p->oc != NULL && p->bridge != NULL) {
		if (dev->type == VGW_DEV_ETHDEV)
			nq = RTE_MIN(nq, 1);
		for (uint16_t q = 0; q < nq && n < max; q++) {
			tasks[n].poll = vgw_net_poll_oc_bport;
			tasks[n].arg = p;
			tasks[n].queue = q;
			tasks[n].slot = vgw_net_slot(p, q);
			n++;
		}
		return n;
	}
	for (uint16_t q = 0; q < nq && n < max; q++) {
		struct vgw_dp_task *t = &tasks[n++];

		/* (one-copy rings: the walker asks that itself, and this may
		 * run inside a message rte_vhost handles with the ring locks
		 * held, which rte_vhost_enable_guest_notification takes) */
		if (dev->type == VGW_DEV_NET && vid >= 0 && p->oc == NULL) {
			/* we poll: the front-end need not kick */
			vgw_vhost_no_kicks(vid, 2 * q);
			vgw_vhost_no_kicks(vid, 2 * q + 1);
		}
		t->poll = p->oc != NULL		   ? vgw_net_poll_oc :
			  dev->type == VGW_DEV_NET ? vgw_net_poll_vhost :
						     vgw_net_poll_eth;
		t->arg = p;
		t->queue = q;
		t->slot = vgw_net_slot(p, q);
	}
	return n;
}

/* --- device operations (dev->lock held, see vgw_device.h) -------------- */

static int
net_connect(struct vgw_device *dev, int vid)
{
	struct vgw_net_port *p = port_of(dev);

	atomic_store(&p->ready_rings, 0);
	atomic_store(&p->tx_queues, 0);
	/* a RARP asked for on an earlier connection is not sent (as
	 * rte_vhost's flag, which lives as long as the connection) */
	atomic_store(&p->rarp_req, 0);
	return 0;
}

/* SEND_RARP: the worker that polls the port sends the frame. No lock
 * (rte_vhost's thread, before its own handler). */
static void
net_rarp(struct vgw_device *dev, int vid, const uint8_t mac[6])
{
	struct vgw_net_port *p = port_of(dev);
	uint64_t req = VGW_NET_RARP_REQ;

	if (atomic_load(&dev->conn_vid) != vid)
		return;
	for (unsigned int i = 0; i < 6; i++)
		req |= (uint64_t)mac[i] << (8 * i);
	atomic_store_explicit(&p->rarp_req, req, memory_order_release);
	VGW_LOG(net, INFO,
		"%s: vid %d: SEND_RARP for %02x:%02x:%02x:%02x:%02x:%02x: a RARP goes "
		"out from this port%s",
		dev->name, vid, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
		atomic_load(&dev->vid) == vid ? "" : " once it runs");
}

/* Free the frames an xconnect held for port p's queues (they came from
 * p's front-end; a new front-end starts afresh), counted as drops. Only
 * when no worker polls p: its device stopped, or the workers are gone. */
static void
held_release(struct vgw_net_port *p)
{
	for (uint16_t q = 0; q < VGW_MAX_QUEUES; q++) {
		struct vgw_net_held *h = &p->held[q];

		if (h->n == 0)
			continue;
		rte_pktmbuf_free_bulk(h->pkts + h->off, h->n);
		atomic_fetch_add(&p->held_drops[q], h->n);
		h->n = 0;
		h->off = 0;
	}
}

static void
net_disconnect(struct vgw_device *dev, int vid)
{
	held_release(port_of(dev));
}

static int
net_start(struct vgw_device *dev, int vid)
{
	struct vgw_net_port *p = port_of(dev);
	int ret;

	if (p->oc != NULL) {
		ret = vgw_net_oc_start(p, vid);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: vid %d: the rings cannot be taken for one copy: %s",
				dev->name, vid, strerror(-ret));
			return ret;
		}
	}
	/* up before published: peers hold their frames for it meanwhile */
	atomic_store(&p->up, true);
	return 0;
}

static void
net_stop(struct vgw_device *dev, int vid)
{
	struct vgw_net_port *p = port_of(dev);

	/* Its MAC entries stay, as on a switch port whose link went down:
	 * frames for it are dropped until it returns or the entries age. */
	atomic_store(&p->up, false);
	/* no worker touches its rings since the grace period: their indices
	 * go back to rte_vhost (GET_VRING_BASE answers with them) */
	if (p->oc != NULL)
		vgw_net_oc_stop(p);
}

/* One-copy ports walk their own rings: taken from the workers (and the
 * peer's task) while rte_vhost remaps guest memory, then given back. */
static bool
net_remap_needed(struct vgw_device *dev, const struct vgw_vhost_msg *m)
{
	(void)m;
	return port_of(dev)->oc != NULL;
}

static int
net_remap_done(struct vgw_device *dev, int vid)
{
	return vgw_net_oc_remap(port_of(dev), vid);
}

/* Count the leading queue pairs whose receive ring (even vring) is ready. */
static uint16_t
leading_rx_pairs(uint32_t rings, uint16_t max)
{
	uint16_t n = 0;

	while (n < max && (rings & (1u << (2 * n))) != 0)
		n++;
	return n;
}

/* WITHOUT dev->lock: rte_vhost holds every virtqueue lock of this device
 * here, and waiting for a grace period could deadlock with a worker
 * spinning on one of them inside rte_vhost_enqueue_burst(). The disabled
 * ring is already safe (rte_vhost checks vq->enabled under that lock); the
 * new queue set is published by the control thread. */
static int
net_vring_state(struct vgw_device *dev, int vid, uint16_t vring, int enable)
{
	struct vgw_net_port *p = port_of(dev);
	uint32_t rings;

	if (atomic_load(&dev->conn_vid) != vid || vring >= 2 * VGW_MAX_QUEUES)
		return 0;
	/* A one-copy ring is taken for our walker before the workers see it
	 * enabled (the rings' other life-cycle steps run on this thread
	 * too); taking it asks rte_vhost for none of the locks it holds. */
	if (enable && p->oc != NULL) {
		int ret = vgw_net_oc_ring(p, vid, vring);

		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: vid %d: vring %u cannot be taken for one copy: %s",
				dev->name, vid, vring, strerror(-ret));
			return 0; /* stays disabled: nothing moves on its pair */
		}
	}
	if (enable)
		rings = atomic_fetch_or(&p->ready_rings, 1u << vring) | (1u << vring);
	else
		rings = atomic_fetch_and(&p->ready_rings, ~(1u << vring)) & ~(1u << vring);
	atomic_store(&p->tx_queues, leading_rx_pairs(rings, dev->queues));
	VGW_LOG(net, DEBUG, "%s: vring %u %s", dev->name, vring, enable ? "enabled" : "disabled");
	if (atomic_load(&dev->ready_vid) == vid)
		vgw_dp_rebuild_later();
	return 0;
}

static void
net_describe(struct vgw_device *dev, char *buf, size_t len)
{
	snprintf(buf, len, "%u queue pair(s)", atomic_load(&port_of(dev)->active_queues));
}

static void
net_info(struct vgw_device *dev, struct vgw_device_info *in, json_t *o)
{
	struct vgw_net_port *p = port_of(dev);
	bool eth = dev->type == VGW_DEV_ETHDEV;

	in->active_queues = atomic_load(&p->active_queues);
	if (eth) {
		in->connected = atomic_load(&p->up);
		in->ready = in->connected;
	}
	if (o == NULL)
		return;
	if (eth) {
		json_object_set_new(o, "devargs", json_string(dev->conf->devargs));
		json_object_set_new(o, "mode", json_string(""));
	}
	json_object_set_new(o, "refused", json_integer((json_int_t)in->refused));
	if (p->peer != NULL || p->bridge != NULL)
		json_object_set_new(o, "link",
				    json_string(p->peer != NULL ? "xconnect" : "bridge"));
	if (p->peer != NULL)
		json_object_set_new(o, "peer", json_string(p->peer->dev.name));
	if (p->peer != NULL || p->bridge != NULL) {
		json_object_set_new(o, "copy", json_string(p->oc != NULL ? "one" : "mbuf"));
		json_object_set_new(o, "offloads", json_boolean(dev->offloads));
	}
	if (p->bridge != NULL)
		json_object_set_new(o, "bridge", json_string(p->bridge->name));
}

/* Counters of queue q, summed over the workers. */
static void
queue_stats(struct vgw_net_port *p, uint16_t q, struct vgw_dp_qstats *st)
{
	vgw_dp_stats_sum(vgw_net_slot(p, q), st);
	st->drops += atomic_load(&p->held_drops[q]);
}

static void
net_stats(struct vgw_device *dev, json_t *o)
{
	struct vgw_net_port *p = port_of(dev);
	struct vgw_dp_qstats tot = { 0 };
	json_t *qs = json_array();

	for (uint16_t q = 0; q < dev->queues; q++) {
		struct vgw_dp_qstats st;

		queue_stats(p, q, &st);
		tot.rx_pkts += st.rx_pkts;
		tot.rx_bytes += st.rx_bytes;
		tot.tx_pkts += st.tx_pkts;
		tot.tx_bytes += st.tx_bytes;
		tot.drops += st.drops;
		json_array_append_new(
			qs, json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "queue", q,
				      "rx_packets", (json_int_t)st.rx_pkts, "rx_bytes",
				      (json_int_t)st.rx_bytes, "tx_packets", (json_int_t)st.tx_pkts,
				      "tx_bytes", (json_int_t)st.tx_bytes, "drops",
				      (json_int_t)st.drops, "busy_cycles",
				      (json_int_t)st.busy_cycles, "cycles_per_packet",
				      st.rx_pkts ? (double)st.busy_cycles / st.rx_pkts : 0.0));
	}
	json_object_set_new(o, "rx_packets", json_integer((json_int_t)tot.rx_pkts));
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)tot.rx_bytes));
	json_object_set_new(o, "tx_packets", json_integer((json_int_t)tot.tx_pkts));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)tot.tx_bytes));
	json_object_set_new(o, "drops", json_integer((json_int_t)tot.drops));
	if (dev->type == VGW_DEV_NET)
		json_object_set_new(o, "rarp_sent",
				    json_integer((json_int_t)atomic_load(&p->rarp_sent)));
	if (p->oc != NULL) {
		uint64_t ol[4];

		json_object_set_new(o, "malformed",
				    json_integer((json_int_t)vgw_net_oc_malformed(p)));
		vgw_net_oc_offload_stats(p, ol);
		json_object_set_new(o, "offload",
				    json_pack("{s:I, s:I, s:I, s:I}", "gso_passed",
					      (json_int_t)ol[0], "gso_segmented", (json_int_t)ol[1],
					      "segments", (json_int_t)ol[2], "csum_done",
					      (json_int_t)ol[3]));
	}
	json_object_set_new(o, "queues", qs);
	if (p->bridge != NULL) {
		uint32_t learned;
		uint64_t refused;

		vgw_mac_table_port_stats(p->bridge->macs, dev->index, &learned, &refused);
		json_object_set_new(o, "bridge_macs",
				    json_integer(vgw_mac_table_count(p->bridge->macs)));
		/* this port's entries, and its sources not learned at its cap */
		json_object_set_new(o, "bridge_macs_port", json_integer(learned));
		json_object_set_new(o, "bridge_macs_refused", json_integer((json_int_t)refused));
	}
}

static const struct vgw_device_ops net_ops = {
	.logtype = &vgw_logtype_net,
	.tasks = net_tasks,
	.connect = net_connect,
	.disconnect = net_disconnect,
	.start = net_start,
	.stop = net_stop,
	.vring_state = net_vring_state,
	.rarp = net_rarp,
	.remap_needed = net_remap_needed,
	.remap_done = net_remap_done,
	.describe = net_describe,
	.info = net_info,
	.stats = net_stats,
};

/* --- set-up --------------------------------------------------------- */

static unsigned int
mbufs_needed(const struct vgw_conf *conf)
{
	unsigned int n = 0, nw = vgw_dp_n_workers();

	for (uint16_t i = 0; i < conf->n_devs; i++) {
		const struct vgw_conf_dev *d = &conf->devs[i];

		if (d->type == VGW_DEV_ETHDEV)
			n += d->queues * d->rx_desc + nw * d->tx_desc;
		else if (d->type == VGW_DEV_NET)
			n += d->queues * 2 * VGW_DP_BURST;
	}
	/* per-lcore caches, a burst in flight per worker, headroom */
	n += (nw + 1) * (MBUF_CACHE * 3 / 2) + nw * VGW_DP_BURST + 1024;
	return RTE_ALIGN_CEIL(n, 1024) - 1; /* 2^k - 1 is optimal for rings */
}

static int
eth_setup(struct vgw_net_port *p)
{
	const struct vgw_conf_dev *d = p->dev.conf;
	struct rte_eth_conf econf = { 0 };
	char name[VGW_DEVARGS_MAX];
	unsigned int nw = vgw_dp_n_workers();
	int ret, socket;

	snprintf(name, sizeof(name), "%s", d->devargs);
	name[strcspn(name, ",")] = '\0';
	if (rte_eth_dev_get_port_by_name(name, &p->eth_port) != 0) {
		ret = rte_dev_probe(d->devargs);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: cannot probe \"%s\": %s", p->dev.name, d->devargs,
				strerror(-ret));
			return ret;
		}
		if (rte_eth_dev_get_port_by_name(name, &p->eth_port) != 0) {
			VGW_LOG(net, ERR, "%s: no ethdev port named \"%s\" after probing \"%s\"",
				p->dev.name, name, d->devargs);
			return -ENODEV;
		}
	}
	ret = rte_eth_dev_configure(p->eth_port, d->queues, nw, &econf);
	if (ret < 0) {
		VGW_LOG(net, ERR, "%s: cannot configure port %u with %u rx and %u tx queues: %s",
			p->dev.name, p->eth_port, d->queues, nw, strerror(-ret));
		return ret;
	}
	socket = rte_eth_dev_socket_id(p->eth_port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (uint16_t q = 0; q < d->queues; q++) {
		ret = rte_eth_rx_queue_setup(p->eth_port, q, d->rx_desc, socket, NULL,
					     vgw_net_pool);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: rx queue %u setup: %s", p->dev.name, q,
				strerror(-ret));
			return ret;
		}
	}
	for (uint16_t q = 0; q < nw; q++) {
		ret = rte_eth_tx_queue_setup(p->eth_port, q, d->tx_desc, socket, NULL);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: tx queue %u setup: %s", p->dev.name, q,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* A link whose frames go guest to guest in one copy: one_copy on (the
 * default), and either an xconnect of two vhost-user net devices (pair q
 * of one to pair q % n of the other, n the pairs it enabled), or a bridge
 * whose ports are vhost-user net devices or ethdevs (its frames copied
 * between its mbufs and the guests' buffers). A link that cannot take it
 * copies through mbufs: a warning when the configuration asked for one
 * copy, a notice when it was only the default. */
static bool
one_copy_link(const struct vgw_conf *conf, const struct vgw_conf_link *cl)
{
	uint32_t level = cl->one_copy_set ? RTE_LOG_WARNING : RTE_LOG_NOTICE;
	const struct vgw_conf_dev *a = &conf->devs[cl->ports[0]];
	const struct vgw_conf_dev *b = &conf->devs[cl->ports[1]];
	const struct vgw_conf_dev *bad = NULL;

	if (!cl->one_copy)
		return false;
	if (cl->type == VGW_LINK_XCONNECT) {
		if (a->type != VGW_DEV_NET || b->type != VGW_DEV_NET) {
			rte_log(level, vgw_logtype_net,
				"vhostgw: %s: one_copy needs vhost-user net devices; %s is not: the "
				"link copies through mbufs\n",
				cl->name, a->type != VGW_DEV_NET ? a->name : b->name);
			return false;
		}
		if (a->queues == b->queues)
			VGW_LOG(net, INFO, "%s: %s <-> %s in one copy, %u queue pair(s)", cl->name,
				a->name, b->name, a->queues);
		else
			VGW_LOG(net, INFO,
				"%s: %s <-> %s in one copy, %u and %u queue pairs (pair q to pair "
				"q %% the pairs the receiver enabled)",
				cl->name, a->name, b->name, a->queues, b->queues);
		return true;
	}
	for (uint16_t i = 0; i < cl->n_ports && bad == NULL; i++) {
		const struct vgw_conf_dev *d = &conf->devs[cl->ports[i]];

		if (d->type != VGW_DEV_ETHDEV && d->type != VGW_DEV_NET)
			bad = d;
	}
	if (bad != NULL) {
		rte_log(level, vgw_logtype_net,
			"vhostgw: %s: one_copy on a bridge needs vhost-user net devices or "
			"ethdevs; %s is not: the link copies through mbufs\n",
			cl->name, bad->name);
		return false;
	}
	VGW_LOG(net, INFO, "%s: bridge in one copy", cl->name);
	return true;
}

static int
link_ports(const struct vgw_conf *conf)
{
	bridges = rte_zmalloc("vgw_bridges", (conf->n_links + 1) * sizeof(*bridges), 0);
	if (bridges == NULL)
		return -ENOMEM;
	for (uint16_t l = 0; l < conf->n_links; l++) {
		const struct vgw_conf_link *cl = &conf->links[l];

		if (cl->type == VGW_LINK_XCONNECT) {
			struct vgw_net_port *a = &ports[port_of_dev[cl->ports[0]]];
			struct vgw_net_port *b = &ports[port_of_dev[cl->ports[1]]];

			a->peer = b;
			b->peer = a;
			a->one_copy = b->one_copy = one_copy_link(conf, cl);
			continue;
		}
		bool oc = one_copy_link(conf, cl);

		struct vgw_net_bridge *br = &bridges[n_bridges++];

		snprintf(br->name, sizeof(br->name), "%s", cl->name);
		br->aging_tsc = (uint64_t)cl->aging_sec * rte_get_tsc_hz();
		br->macs = vgw_mac_table_create(cl->mac_table_size,
						rte_get_tsc_hz() / 1000 * MAC_REFRESH_MS);
		if (br->macs == NULL || vgw_mac_table_limit_ports(br->macs, VGW_MAX_DEVICES,
								  cl->max_macs_per_port) < 0) {
			VGW_LOG(net, ERR, "bridge %s: no memory for a MAC table of %u entries",
				cl->name, cl->mac_table_size);
			return -ENOMEM;
		}
		br->n_ports = cl->n_ports;
		memset(br->slot_of, UINT8_MAX, sizeof(br->slot_of));
		for (uint16_t i = 0; i < cl->n_ports; i++) {
			br->ports[i] = &ports[port_of_dev[cl->ports[i]]];
			br->ports[i]->bridge = br;
			br->ports[i]->one_copy = oc;
			br->slot_of[cl->ports[i]] = (uint8_t)i;
		}
	}
	return 0;
}

int
vgw_net_init(const struct vgw_conf *conf)
{
	int ret;

	ports = rte_zmalloc("vgw_net_ports", (conf->n_devs + 1) * sizeof(*ports),
			    RTE_CACHE_LINE_SIZE);
	if (ports == NULL)
		return -ENOMEM;
	pool_size = conf->mbufs != 0 ? conf->mbufs : mbufs_needed(conf);
	vgw_net_pool = rte_pktmbuf_pool_create("vgw_mbufs", pool_size, MBUF_CACHE, 0,
					       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (vgw_net_pool == NULL) {
		VGW_LOG(net, ERR, "cannot create a pool of %u mbufs (%u MiB): %s", pool_size,
			(unsigned int)((uint64_t)pool_size * RTE_MBUF_DEFAULT_BUF_SIZE >> 20),
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		port_of_dev[i] = -1;
		if (conf->devs[i].type == VGW_DEV_NET || conf->devs[i].type == VGW_DEV_ETHDEV)
			port_of_dev[i] = n_ports++;
	}
	/* links name devices by config index: map them to ports */
	ret = link_ports(conf);
	if (ret < 0)
		return ret;
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		struct vgw_net_port *p;

		if (port_of_dev[i] < 0)
			continue;
		p = &ports[port_of_dev[i]];
		ret = 0;
		if (p->one_copy && p->dev.type == VGW_DEV_ETHDEV) {
			ret = vgw_net_oc_init(p, 1);
		} else if (p->one_copy) {
			/* our walker: split rings, guest addresses */
			p->dev.features_off =
				(1ULL << VIRTIO_F_RING_PACKED) | (1ULL << VIRTIO_F_IOMMU_PLATFORM);
			/* checksum and TCP segmentation, passed guest to guest
			 * (or done in software for a peer without them); not
			 * UDP fragmentation, nor the legacy "any GSO" bit */
			p->dev.offloads = conf->devs[i].offloads;
			p->dev.features_off |= (1ULL << VIRTIO_NET_F_HOST_UFO) |
					       (1ULL << VIRTIO_NET_F_GUEST_UFO) |
					       (1ULL << VIRTIO_NET_F_GSO);
			if (!p->dev.offloads)
				p->dev.features_off |= 1ULL << VIRTIO_NET_F_GUEST_CSUM;
			ret = vgw_net_oc_init(p, conf->devs[i].queues);
			if (ret < 0)
				return ret;
		}
		if (ret == 0)
			ret = vgw_device_add(&p->dev, &conf->devs[i], i, &net_ops);
		if (ret == 0 && p->dev.type == VGW_DEV_ETHDEV)
			ret = eth_setup(p);
		if (ret == 0 && p->dev.type == VGW_DEV_ETHDEV && p->one_copy)
			vgw_net_oc_eth(p);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int
vgw_net_start(void)
{
	int ret;

	for (uint16_t i = 0; i < n_ports; i++) {
		struct vgw_net_port *p = &ports[i];

		if (p->dev.type == VGW_DEV_NET) {
			ret = vgw_device_start(&p->dev);
			if (ret < 0)
				return ret;
			continue;
		}
		ret = rte_eth_dev_start(p->eth_port);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: cannot start port %u: %s", p->dev.name, p->eth_port,
				strerror(-ret));
			return ret;
		}
		rte_eth_promiscuous_enable(p->eth_port);
		p->eth_started = true;
		atomic_store(&p->up, true);
	}
	vgw_dp_rebuild();
	return 0;
}

void
vgw_net_stop(void)
{
	for (uint16_t i = 0; i < n_ports; i++)
		vgw_device_unregister(&ports[i].dev);
	for (uint16_t i = 0; i < n_ports; i++) {
		struct vgw_net_port *p = &ports[i];

		if (p->dev.type == VGW_DEV_ETHDEV && p->eth_started) {
			atomic_store(&p->up, false);
			p->eth_started = false;
			vgw_dp_rebuild();
			rte_eth_dev_stop(p->eth_port);
		}
	}
	/* no port has a task left: every device stopped, every uplink too */
	for (uint16_t i = 0; i < n_ports; i++)
		held_release(&ports[i]);
	for (uint16_t i = 0; i < n_ports; i++)
		if (ports[i].dev.type == VGW_DEV_ETHDEV)
			rte_eth_dev_close(ports[i].eth_port);
	for (uint16_t b = 0; b < n_bridges; b++)
		vgw_mac_table_destroy(bridges[b].macs);
}

/* A port whose sources were not learned (at its cap of learned MACs): a
 * warning when it starts, then at most one a minute while it goes on,
 * with how many since the last. */
static void
cap_report(struct vgw_net_bridge *br, uint64_t now)
{
	for (uint16_t i = 0; i < br->n_ports; i++) {
		struct vgw_net_port *p = br->ports[i];
		uint32_t learned;
		uint64_t refused;

		vgw_mac_table_port_stats(br->macs, p->dev.index, &learned, &refused);
		if (refused == br->refused_seen[i] ||
		    (br->refused_seen[i] != 0 &&
		     now - br->refused_said_tsc[i] < 60 * rte_get_tsc_hz()))
			continue;
		VGW_LOG(net, WARNING,
			"bridge %s: port %s is at its cap of learned MACs (%u now): %" PRIu64
			" frame(s) from sources not learned since the last report (their "
			"replies are flooded; max_macs_per_port)",
			br->name, p->dev.name, learned, refused - br->refused_seen[i]);
		br->refused_seen[i] = refused;
		br->refused_said_tsc[i] = now;
	}
}

void
vgw_net_age(void)
{
	uint64_t now = rte_rdtsc();

	if (now - last_age_tsc < rte_get_tsc_hz())
		return;
	last_age_tsc = now;
	for (uint16_t b = 0; b < n_bridges; b++) {
		vgw_mac_table_age(bridges[b].macs, now, bridges[b].aging_tsc);
		cap_report(&bridges[b], now);
	}
}

void
vgw_net_mem_info(struct vgw_net_mem *m)
{
	m->mbufs = pool_size;
	m->mbuf_size = vgw_net_pool != NULL ? vgw_net_pool->elt_size : 0;
	m->in_use = vgw_net_pool != NULL ? rte_mempool_in_use_count(vgw_net_pool) : 0;
	m->bytes = (uint64_t)pool_size * m->mbuf_size;
}
