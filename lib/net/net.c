/* SPDX-License-Identifier: BSD-3-Clause */
/* Control plane of the net devices: ports, bridges, vhost callbacks, poll
 * lists. Runs on the control thread and on rte_vhost's event thread. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

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
/* Serializes port state changes (control thread, rte_vhost's thread). */
static pthread_mutex_t net_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_age_tsc;

/* --- poll lists ------------------------------------------------------ */

static uint16_t
port_active_queues(const struct vgw_net_port *p)
{
	int vid = atomic_load(&p->vid);
	uint16_t nq;

	if (p->type == VGW_DEV_ETHDEV)
		return p->eth_started ? p->queues : 0;
	if (vid < 0)
		return 0;
	nq = vgw_vhost_nr_vrings(vid) / 2;
	return RTE_MIN(nq, p->queues);
}

/* The poll tasks of the net ports: one per active queue. Called by dp with
 * its rebuild lock held, never with rte_vhost's virtqueue locks held. */
static unsigned int
net_tasks(struct vgw_dp_task *tasks, unsigned int max)
{
	unsigned int n = 0;

	for (uint16_t i = 0; i < n_ports; i++) {
		struct vgw_net_port *p = &ports[i];
		uint16_t nq = port_active_queues(p);
		int vid = atomic_load(&p->vid);

		atomic_store(&p->active_queues, nq);
		for (uint16_t q = 0; q < nq && n < max; q++) {
			struct vgw_dp_task *t = &tasks[n++];

			if (p->type == VGW_DEV_NET && vid >= 0) {
				/* we poll: the front-end need not kick */
				vgw_vhost_no_kicks(vid, 2 * q);
				vgw_vhost_no_kicks(vid, 2 * q + 1);
			}

			t->poll = p->type == VGW_DEV_NET ? vgw_net_poll_vhost :
							   vgw_net_poll_eth;
			t->arg = p;
			t->queue = q;
			t->slot = vgw_net_slot(p, q);
		}
	}
	return n;
}

/* --- vhost callbacks (rte_vhost's event thread) ------------------------ */

static int
on_new_connection(void *ctx, int vid)
{
	struct vgw_net_port *p = ctx;

	if (p->conn_vid >= 0) {
		p->refused++;
		VGW_LOG(net, ERR, "%s: refused a second front-end on %s (vid %d); one is connected (vid %d)",
			p->name, p->conf->socket, vid, p->conn_vid);
		return -1;
	}
	p->conn_vid = vid;
	atomic_store(&p->ready_rings, 0);
	atomic_store(&p->tx_queues, 0);
	p->connects++;
	VGW_LOG(net, INFO, "%s: front-end connected (vid %d)", p->name, vid);
	return 0;
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

static int
on_destroy_connection(void *ctx, int vid)
{
	struct vgw_net_port *p = ctx;

	if (p->conn_vid != vid)
		return -ENOENT;
	/* destroy_device, if the device was ever ready, came first and took
	 * p off the poll lists */
	pthread_mutex_lock(&net_lock);
	held_release(p);
	pthread_mutex_unlock(&net_lock);
	p->conn_vid = -1;
	p->disconnects++;
	VGW_LOG(net, INFO, "%s: front-end disconnected (vid %d)", p->name, vid);
	return 0;
}

/* Publish what the workers may use of port p: its vid unless the device is
 * down or suspended. Returns after a grace period: from then on no worker
 * touches a device that this call took away. */
static void
port_publish(struct vgw_net_port *p)
{
	pthread_mutex_lock(&net_lock);
	atomic_store(&p->vid, p->suspended ? -1 : p->ready_vid);
	vgw_dp_rebuild();
	pthread_mutex_unlock(&net_lock);
}

static int
on_new_device(void *ctx, int vid)
{
	struct vgw_net_port *p = ctx;

	if (p->conn_vid != vid)
		return -1;
	p->ready_vid = vid;
	/* up before published: peers hold their frames for it meanwhile */
	atomic_store(&p->up, true);
	port_publish(p);
	VGW_LOG(net, INFO, "%s: device ready, %u queue pair(s)", p->name,
		atomic_load(&p->active_queues));
	return 0;
}

static void
on_destroy_device(void *ctx, int vid)
{
	struct vgw_net_port *p = ctx;

	if (p->ready_vid != vid)
		return;
	/* After the grace period in port_publish() no worker polls this
	 * device and none sends to it: rte_vhost may free it once we return.
	 * Its MAC entries stay, as on a switch port whose link went down:
	 * frames for it are dropped until it returns or the entries age. */
	p->ready_vid = -1;
	atomic_store(&p->up, false);
	port_publish(p);
	VGW_LOG(net, INFO, "%s: device stopped (vid %d)", p->name, vid);
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

static int
on_vring_state_changed(void *ctx, int vid, uint16_t vring, int enable)
{
	struct vgw_net_port *p = ctx;
	uint32_t rings;

	if (p->conn_vid != vid || vring >= 2 * VGW_MAX_QUEUES)
		return 0;
	if (enable)
		rings = atomic_fetch_or(&p->ready_rings, 1u << vring) | (1u << vring);
	else
		rings = atomic_fetch_and(&p->ready_rings, ~(1u << vring)) & ~(1u << vring);
	atomic_store(&p->tx_queues, leading_rx_pairs(rings, p->queues));

	/* rte_vhost holds every virtqueue lock of this device here: waiting
	 * for a grace period could deadlock with a worker spinning on one of
	 * them inside rte_vhost_enqueue_burst(). The disabled ring is already
	 * safe (rte_vhost checks vq->enabled under that lock); the new queue
	 * set is published by the control thread. */
	VGW_LOG(net, DEBUG, "%s: vring %u %s", p->name, vring,
		enable ? "enabled" : "disabled");
	if (p->ready_vid == vid)
		vgw_dp_rebuild_later();
	return 0;
}

static const struct vgw_vhost_ops net_vhost_ops = {
	.new_connection = on_new_connection,
	.destroy_connection = on_destroy_connection,
	.new_device = on_new_device,
	.destroy_device = on_destroy_device,
	.vring_state_changed = on_vring_state_changed,
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
	return RTE_ALIGN_CEIL(n, 1024) - 1;	/* 2^k - 1 is optimal for rings */
}

static int
eth_setup(struct vgw_net_port *p)
{
	const struct vgw_conf_dev *d = p->conf;
	struct rte_eth_conf econf = {0};
	char name[VGW_DEVARGS_MAX];
	unsigned int nw = vgw_dp_n_workers();
	int ret, socket;

	snprintf(name, sizeof(name), "%s", d->devargs);
	name[strcspn(name, ",")] = '\0';
	if (rte_eth_dev_get_port_by_name(name, &p->eth_port) != 0) {
		ret = rte_dev_probe(d->devargs);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: cannot probe \"%s\": %s", p->name,
				d->devargs, strerror(-ret));
			return ret;
		}
		if (rte_eth_dev_get_port_by_name(name, &p->eth_port) != 0) {
			VGW_LOG(net, ERR, "%s: no ethdev port named \"%s\" after probing \"%s\"",
				p->name, name, d->devargs);
			return -ENODEV;
		}
	}
	ret = rte_eth_dev_configure(p->eth_port, d->queues, nw, &econf);
	if (ret < 0) {
		VGW_LOG(net, ERR, "%s: cannot configure port %u with %u rx and %u tx queues: %s",
			p->name, p->eth_port, d->queues, nw, strerror(-ret));
		return ret;
	}
	socket = rte_eth_dev_socket_id(p->eth_port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (uint16_t q = 0; q < d->queues; q++) {
		ret = rte_eth_rx_queue_setup(p->eth_port, q, d->rx_desc, socket,
					     NULL, vgw_net_pool);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: rx queue %u setup: %s", p->name, q,
				strerror(-ret));
			return ret;
		}
	}
	for (uint16_t q = 0; q < nw; q++) {
		ret = rte_eth_tx_queue_setup(p->eth_port, q, d->tx_desc, socket, NULL);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: tx queue %u setup: %s", p->name, q,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void
link_ports(const struct vgw_conf *conf)
{
	bridges = rte_zmalloc("vgw_bridges", (conf->n_links + 1) * sizeof(*bridges), 0);
	for (uint16_t l = 0; l < conf->n_links; l++) {
		const struct vgw_conf_link *cl = &conf->links[l];

		if (cl->type == VGW_LINK_XCONNECT) {
			struct vgw_net_port *a = &ports[port_of_dev[cl->ports[0]]];
			struct vgw_net_port *b = &ports[port_of_dev[cl->ports[1]]];

			a->peer = b;
			b->peer = a;
			continue;
		}
		struct vgw_net_bridge *br = &bridges[n_bridges++];

		snprintf(br->name, sizeof(br->name), "%s", cl->name);
		br->aging_tsc = (uint64_t)cl->aging_sec * rte_get_tsc_hz();
		br->macs = vgw_mac_table_create(cl->mac_table_size,
				rte_get_tsc_hz() / 1000 * MAC_REFRESH_MS);
		br->n_ports = cl->n_ports;
		for (uint16_t i = 0; i < cl->n_ports; i++) {
			br->ports[i] = &ports[port_of_dev[cl->ports[i]]];
			br->ports[i]->bridge = br;
		}
	}
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
	vgw_net_pool = rte_pktmbuf_pool_create("vgw_mbufs", pool_size, MBUF_CACHE,
					       0, RTE_MBUF_DEFAULT_BUF_SIZE,
					       rte_socket_id());
	if (vgw_net_pool == NULL) {
		VGW_LOG(net, ERR, "cannot create a pool of %u mbufs (%u MiB): %s",
			pool_size, (unsigned int)((uint64_t)pool_size *
			RTE_MBUF_DEFAULT_BUF_SIZE >> 20), rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		const struct vgw_conf_dev *d = &conf->devs[i];
		struct vgw_net_port *p = &ports[n_ports];

		port_of_dev[i] = -1;
		if (d->type != VGW_DEV_NET && d->type != VGW_DEV_ETHDEV)
			continue;
		port_of_dev[i] = n_ports;
		snprintf(p->name, sizeof(p->name), "%s", d->name);
		p->index = i;
		p->type = d->type;
		p->queues = d->queues;
		p->conf = d;
		p->conn_vid = -1;
		p->ready_vid = -1;
		atomic_init(&p->vid, -1);
		n_ports++;
	}
	/* links name devices by config index: map them to ports */
	link_ports(conf);
	vgw_dp_add_provider(net_tasks);
	for (uint16_t i = 0; i < n_ports; i++) {
		struct vgw_net_port *p = &ports[i];

		if (p->type == VGW_DEV_ETHDEV) {
			ret = eth_setup(p);
			if (ret < 0)
				return ret;
			continue;
		}
		ret = vgw_vhost_register(p->conf->socket, p->name,
			VGW_VHOST_F_NET | (p->conf->mode == VGW_MODE_CLIENT ?
					   VGW_VHOST_F_CLIENT : 0),
			p->conf->pf_off, &net_vhost_ops, p);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: cannot register vhost-user socket %s: %s",
				p->name, p->conf->socket, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int
vgw_net_start(void)
{
	int ret;

	for (uint16_t i = 0; i < n_ports; i++) {
		struct vgw_net_port *p = &ports[i];

		if (p->type == VGW_DEV_ETHDEV) {
			ret = rte_eth_dev_start(p->eth_port);
			if (ret < 0) {
				VGW_LOG(net, ERR, "%s: cannot start port %u: %s",
					p->name, p->eth_port, strerror(-ret));
				return ret;
			}
			rte_eth_promiscuous_enable(p->eth_port);
			p->eth_started = true;
			atomic_store(&p->up, true);
			continue;
		}
		ret = vgw_vhost_start(p->conf->socket);
		if (ret < 0) {
			VGW_LOG(net, ERR, "%s: cannot %s vhost-user socket %s",
				p->name, p->conf->mode == VGW_MODE_CLIENT ?
				"connect" : "listen on", p->conf->socket);
			return ret;
		}
	}
	vgw_dp_rebuild();
	return 0;
}

void
vgw_net_stop(void)
{
	for (uint16_t i = 0; i < n_ports; i++) {
		struct vgw_net_port *p = &ports[i];

		if (p->type == VGW_DEV_NET && p->conf != NULL)
			vgw_vhost_unregister(p->conf->socket);
	}
	for (uint16_t i = 0; i < n_ports; i++) {
		struct vgw_net_port *p = &ports[i];

		if (p->type == VGW_DEV_ETHDEV && p->eth_started) {
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
		if (ports[i].type == VGW_DEV_ETHDEV)
			rte_eth_dev_close(ports[i].eth_port);
	for (uint16_t b = 0; b < n_bridges; b++)
		vgw_mac_table_destroy(bridges[b].macs);
}

void
vgw_net_tick(void)
{
	uint64_t now = rte_rdtsc();

	vgw_dp_tick();
	if (now - last_age_tsc < rte_get_tsc_hz())
		return;
	last_age_tsc = now;
	for (uint16_t b = 0; b < n_bridges; b++)
		vgw_mac_table_age(bridges[b].macs, now, bridges[b].aging_tsc);
}

/* --- introspection ------------------------------------------------------ */

unsigned int
vgw_net_n_ports(void)
{
	return n_ports;
}

int
vgw_net_port_find(const char *name)
{
	for (uint16_t i = 0; i < n_ports; i++)
		if (strcmp(ports[i].name, name) == 0)
			return i;
	return -ENOENT;
}

int
vgw_net_port_info(unsigned int idx, struct vgw_net_port_info *info)
{
	const struct vgw_net_port *p;
	int vid;

	if (idx >= n_ports)
		return -ENOENT;
	p = &ports[idx];
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", p->name);
	info->type = p->type;
	info->queues = p->queues;
	info->active_queues = atomic_load(&p->active_queues);
	info->connects = p->connects;
	info->disconnects = p->disconnects;
	info->refused = p->refused;
	info->link = p->peer != NULL ? "xconnect" : p->bridge != NULL ? "bridge" : "";
	if (p->peer != NULL)
		snprintf(info->peer, sizeof(info->peer), "%s", p->peer->name);
	if (p->bridge != NULL)
		snprintf(info->link_name, sizeof(info->link_name), "%s", p->bridge->name);
	if (p->type == VGW_DEV_ETHDEV) {
		snprintf(info->socket, sizeof(info->socket), "%s", p->conf->devargs);
		info->mode = "";
		info->connected = p->eth_started;
		info->ready = p->eth_started;
		info->vid = -1;
		return 0;
	}
	snprintf(info->socket, sizeof(info->socket), "%s", p->conf->socket);
	info->mode = p->conf->mode == VGW_MODE_CLIENT ? "client" : "server";
	info->connected = p->conn_vid >= 0;
	vid = p->ready_vid;
	info->vid = vid;
	info->ready = vid >= 0;
	info->suspended = p->suspended;
	if (vid >= 0)
		vgw_vhost_features(vid, &info->features, &info->protocol_features);
	return 0;
}

int
vgw_net_queue_stats(unsigned int idx, uint16_t q, struct vgw_dp_qstats *st)
{
	if (idx >= n_ports || q >= VGW_MAX_QUEUES)
		return -ENOENT;
	vgw_dp_stats_sum(vgw_net_slot(&ports[idx], q), st);
	st->drops += atomic_load(&ports[idx].held_drops[q]);
	return 0;
}

void
vgw_net_mem_info(struct vgw_net_mem *m)
{
	m->mbufs = pool_size;
	m->mbuf_size = vgw_net_pool != NULL ? vgw_net_pool->elt_size : 0;
	m->in_use = vgw_net_pool != NULL ? rte_mempool_in_use_count(vgw_net_pool) : 0;
	m->bytes = (uint64_t)pool_size * m->mbuf_size;
}

int
vgw_net_suspend(unsigned int idx, bool suspend)
{
	struct vgw_net_port *p;

	if (idx >= n_ports)
		return -ENOENT;
	p = &ports[idx];
	if (p->type != VGW_DEV_NET)
		return -ENOTSUP;
	if (p->suspended == suspend)
		return 0;
	p->suspended = suspend;
	port_publish(p);
	VGW_LOG(net, INFO, "%s: %s by the operator", p->name,
		suspend ? "suspended" : "resumed");
	return 1;
}

int
vgw_net_bridge_macs(unsigned int idx)
{
	if (idx >= n_ports || ports[idx].bridge == NULL)
		return -1;
	return (int)vgw_mac_table_count(ports[idx].bridge->macs);
}
