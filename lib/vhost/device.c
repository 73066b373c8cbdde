/* SPDX-License-Identifier: BSD-3-Clause */
/* The device base: the registry, the front-end's life cycle (connection,
 * readiness, stop), the operator's suspend, the remap of guest memory, and
 * the publication of each device to the workers. The lock rules are in
 * vgw_device.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_log.h>

#include "vgw_log.h"
#include "vgw_dp.h"
#include "vgw_vhost.h"
#include "vgw_device.h"
#include "vhost_priv.h"

#define DEV_LOG(dev, level, fmt, ...) \
	rte_log(RTE_LOG_##level, *(dev)->ops->logtype, "vhostgw: %s: " fmt "\n", (dev)->name, \
		##__VA_ARGS__)

/* Filled at start-up by the control thread (an entry is written before the
 * count that shows it, with a release store); read by rte_vhost's event
 * thread, the control thread and the telemetry thread. */
static struct vgw_device *registry[VGW_MAX_DEVICES];
static _Atomic unsigned int n_registered;
static bool provider_added;

/* --- registry ---------------------------------------------------------- */

unsigned int
vgw_device_count(void)
{
	return atomic_load_explicit(&n_registered, memory_order_acquire);
}

struct vgw_device *
vgw_device_at(unsigned int i)
{
	return i < vgw_device_count() ? registry[i] : NULL;
}

struct vgw_device *
vgw_device_find(const char *name)
{
	unsigned int n = vgw_device_count();

	for (unsigned int i = 0; i < n; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

struct vgw_device *
vgw_device_by_path(const char *path)
{
	unsigned int n = vgw_device_count();

	for (unsigned int i = 0; i < n; i++)
		if (registry[i]->vhost && strcmp(registry[i]->conf->socket, path) == 0)
			return registry[i];
	return NULL;
}

/* Every device's poll tasks, in registry order. dp's rebuild lock held. */
static unsigned int
all_tasks(struct vgw_dp_task *tasks, unsigned int max)
{
	unsigned int n = 0, nd = vgw_device_count();

	for (unsigned int i = 0; i < nd && n < max; i++)
		if (registry[i]->ops->tasks != NULL)
			n += registry[i]->ops->tasks(registry[i], tasks + n, max - n);
	return n;
}

int
vgw_device_add(struct vgw_device *dev, const struct vgw_conf_dev *conf, uint16_t index,
	       const struct vgw_device_ops *ops)
{
	unsigned int n = vgw_device_count();
	int ret;

	if (n == VGW_MAX_DEVICES)
		return -ENOSPC;
	snprintf(dev->name, sizeof(dev->name), "%s", conf->name);
	dev->type = conf->type;
	dev->vhost = conf->type != VGW_DEV_ETHDEV;
	dev->index = index;
	dev->queues = conf->queues;
	dev->conf = conf;
	dev->ops = ops;
	pthread_mutex_init(&dev->lock, NULL);
	atomic_init(&dev->conn_vid, -1);
	atomic_init(&dev->ready_vid, -1);
	atomic_init(&dev->vid, -1);
	dev->xfer.fd = -1;
	dev->xfer.cut_fd = -1;
	dev->inflight.vid = -1;
	dev->inflight.get_fd = -1;
	dev->xfer.result = -EIO;
	snprintf(dev->xfer.why, sizeof(dev->xfer.why),
		 "no device state transfer on this connection");
	if (dev->vhost && vgw_device_by_path(conf->socket) != NULL)
		return -EEXIST;
	if (!provider_added) {
		ret = vgw_dp_add_provider(all_tasks);
		if (ret < 0)
			return ret;
		provider_added = true;
	}
	registry[n] = dev;
	atomic_store_explicit(&n_registered, n + 1, memory_order_release);
	if (!dev->vhost)
		return 0;
	ret = vgw_vhost_register(dev);
	if (ret < 0)
		DEV_LOG(dev, ERR, "cannot register vhost-user socket %s: %s", conf->socket,
			strerror(-ret));
	return ret;
}

/* A server socket, listening: its configured owner, group and mode, before
 * a front-end that is not root may connect (connect() needs write
 * permission on the socket, which the umask leaves to its owner). When
 * they cannot be applied the socket is removed at once, so that nobody
 * connects to it with the wrong permissions, and start-up fails. */
static int
device_socket_perm(struct vgw_device *dev)
{
	const struct vgw_conf_sockperm *sp = &dev->conf->sockperm;
	const char *path = dev->conf->socket;
	const char *step;
	char perm[64];
	int ret;

	if (dev->conf->mode != VGW_MODE_SERVER || !vgw_conf_sockperm_set(sp))
		return 0;
	vgw_socket_perm_str(perm, sizeof(perm), sp->uid, sp->gid, sp->mode);
	ret = vgw_socket_set_perm(path, sp->uid, sp->gid, sp->mode, &step);
	if (ret < 0) {
		unlink(path);
		DEV_LOG(dev, ERR, "cannot %s socket %s (%s): %s; not served", step, path, perm,
			strerror(-ret));
		return ret;
	}
	DEV_LOG(dev, INFO, "socket %s: %s", path, perm);
	return 0;
}

int
vgw_device_start(struct vgw_device *dev)
{
	if (!dev->vhost)
		return 0;
	if (vgw_vhost_start(dev->conf->socket) < 0) {
		DEV_LOG(dev, ERR, "cannot %s vhost-user socket %s",
			dev->conf->mode == VGW_MODE_CLIENT ? "connect" : "listen on",
			dev->conf->socket);
		return -EIO;
	}
	return device_socket_perm(dev) < 0 ? -EIO : 0;
}

void
vgw_device_unregister(struct vgw_device *dev)
{
	if (!dev->vhost)
		return;
	vgw_vhost_unregister(dev->conf->socket);
	pthread_mutex_lock(&dev->lock);
	vgw_device_xfer_join(dev);
	pthread_mutex_unlock(&dev->lock);
}

/* --- publication ------------------------------------------------------- */

void
vgw_device_publish(struct vgw_device *dev)
{
	int vid =
		dev->suspended || dev->remap || dev->mem_fault ? -1 : atomic_load(&dev->ready_vid);

	if (atomic_load(&dev->vid) == vid)
		return;
	atomic_store_explicit(&dev->vid, vid, memory_order_release);
	vgw_dp_rebuild(); /* returns after a grace period */
	if (vid < 0 && dev->ops->quiesce != NULL)
		dev->ops->quiesce(dev);
}

/* --- the front-end's life cycle (rte_vhost's event thread) -------------- */

int
vgw_device_on_connect(struct vgw_device *dev, int vid)
{
	int ret = 0, cur;

	pthread_mutex_lock(&dev->lock);
	cur = atomic_load(&dev->conn_vid);
	if (cur >= 0) {
		dev->refused++;
		DEV_LOG(dev, ERR,
			"refused a second front-end on %s (vid %d); one is connected (vid %d)",
			dev->conf->socket, vid, cur);
		ret = -1;
	} else if (dev->ops->connect != NULL && dev->ops->connect(dev, vid) < 0) {
		ret = -1;
	} else {
		atomic_store(&dev->conn_vid, vid);
		dev->connects++;
		dev->mem_fault = false; /* a new front-end, new memory */
	}
	pthread_mutex_unlock(&dev->lock);
	if (ret == 0)
		DEV_LOG(dev, INFO, "front-end connected (vid %d)", vid);
	return ret;
}

int
vgw_device_on_disconnect(struct vgw_device *dev, int vid)
{
	pthread_mutex_lock(&dev->lock);
	if (atomic_load(&dev->conn_vid) != vid) {
		pthread_mutex_unlock(&dev->lock);
		return -ENOENT;
	}
	/* destroy_device, if the device was ever ready, came first and took
	 * it from the workers; a transfer into its session ends first */
	vgw_device_xfer_join(dev);
	dev->xfer.result = -EIO;
	snprintf(dev->xfer.why, sizeof(dev->xfer.why),
		 "no device state transfer on this connection");
	if (dev->ops->disconnect != NULL)
		dev->ops->disconnect(dev, vid);
	atomic_store(&dev->conn_vid, -1);
	dev->disconnects++;
	pthread_mutex_unlock(&dev->lock);
	DEV_LOG(dev, INFO, "front-end disconnected (vid %d)", vid);
	return 0;
}

int
vgw_device_on_ready(struct vgw_device *dev, int vid)
{
	char what[64] = "";

	pthread_mutex_lock(&dev->lock);
	if (atomic_load(&dev->conn_vid) == vid && vgw_device_xfer_loading(dev))
		vgw_device_xfer_join(dev); /* the rings start on the loaded state */
	if (atomic_load(&dev->conn_vid) != vid ||
	    (dev->ops->start != NULL && dev->ops->start(dev, vid) < 0)) {
		pthread_mutex_unlock(&dev->lock);
		return -1;
	}
	dev->remap = false;
	atomic_store(&dev->ready_vid, vid);
	vgw_device_publish(dev);
	if (dev->ops->describe != NULL)
		dev->ops->describe(dev, what, sizeof(what));
	pthread_mutex_unlock(&dev->lock);
	DEV_LOG(dev, INFO, "device ready, %s", what);
	return 0;
}

void
vgw_device_on_stop(struct vgw_device *dev, int vid)
{
	pthread_mutex_lock(&dev->lock);
	if (atomic_load(&dev->ready_vid) != vid) {
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	/* After the grace period in vgw_device_publish() no worker touches
	 * the device: rte_vhost may free it once we return. */
	atomic_store(&dev->ready_vid, -1);
	vgw_device_publish(dev);
	if (dev->ops->stop != NULL)
		dev->ops->stop(dev, vid);
	dev->remap = false;
	pthread_mutex_unlock(&dev->lock);
	DEV_LOG(dev, INFO, "device stopped (vid %d)", vid);
}

/* SET_MEM_TABLE on a ready device: rte_vhost 22.11 unmaps the guest memory
 * and maps the new table without telling us; SET_LOG_BASE likewise the
 * dirty log, SET_INFLIGHT_FD the inflight region. A device that walks its
 * own rings (its type has remap_needed) is taken from the workers before
 * (pre) and, after (post), refetches its addresses and is given back.
 * rte_vhost holds the device's ring locks meanwhile: waiting for the
 * workers' grace period is safe only because such a device's workers never
 * wait for those locks. If rte_vhost fails the message, no post call
 * comes: the device stays taken away until it is stopped, or a later
 * remapping message succeeds. */
void
vgw_device_on_remap(struct vgw_device *dev, int vid, const struct vgw_vhost_msg *m, bool post)
{
	const char *name = vgw_vhost_msg_name(m->request);

	if (dev->ops->remap_needed == NULL)
		return;
	pthread_mutex_lock(&dev->lock);
	if (atomic_load(&dev->ready_vid) != vid || post != dev->remap ||
	    (!post && !dev->ops->remap_needed(dev, m))) {
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	if (!post) {
		dev->remap = true;
		vgw_device_publish(dev); /* when it was published: grace period, quiesce */
		pthread_mutex_unlock(&dev->lock);
		DEV_LOG(dev, INFO, "%s: device paused", name);
		return;
	}
	if (dev->ops->remap_done(dev, vid) < 0) {
		pthread_mutex_unlock(&dev->lock);
		DEV_LOG(dev, ERR, "after %s: the rings are not mapped; device stays paused", name);
		return;
	}
	dev->remap = false;
	vgw_device_publish(dev);
	pthread_mutex_unlock(&dev->lock);
	DEV_LOG(dev, INFO, "%s done: device resumed", name);
}

void
vgw_device_mem_fault(struct vgw_device *dev, uintptr_t addr)
{
	pthread_mutex_lock(&dev->lock);
	dev->mem_faults++;
	dev->mem_fault = true;
	vgw_device_publish(dev);
	pthread_mutex_unlock(&dev->lock);
	vgw_vhost_report(dev->name, VGW_VHOST_EV_MEM_FAULT, addr);
	DEV_LOG(dev, ERR,
		"the front-end shrank the file of its guest memory or dirty log under our "
		"mapping (access at 0x%" PRIxPTR "): that mapping now reads zeros; the "
		"device is stopped until the front-end maps its memory again or reconnects",
		addr);
}

void
vgw_device_mem_restored(struct vgw_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	if (dev->mem_fault) {
		dev->mem_fault = false;
		vgw_device_publish(dev);
		DEV_LOG(dev, NOTICE, "guest memory mapped again after a fault: device given back");
	}
	pthread_mutex_unlock(&dev->lock);
}

/* --- the operator and the readers -------------------------------------- */

int
vgw_device_suspend(struct vgw_device *dev, bool suspend)
{
	if (!dev->vhost)
		return -ENOTSUP;
	pthread_mutex_lock(&dev->lock);
	if (dev->suspended == suspend) {
		pthread_mutex_unlock(&dev->lock);
		return 0;
	}
	dev->suspended = suspend;
	vgw_device_publish(dev);
	pthread_mutex_unlock(&dev->lock);
	DEV_LOG(dev, INFO, "%s by the operator", suspend ? "suspended" : "resumed");
	return 1;
}

void
vgw_device_info(struct vgw_device *dev, struct vgw_device_info *in, struct json_t *extra)
{
	memset(in, 0, sizeof(*in));
	pthread_mutex_lock(&dev->lock);
	in->connected = atomic_load(&dev->conn_vid) >= 0;
	in->vid = atomic_load(&dev->ready_vid);
	in->ready = in->vid >= 0;
	in->suspended = dev->suspended;
	in->mem_fault = dev->mem_fault;
	in->mem_faults = dev->mem_faults;
	in->queues = dev->queues;
	in->connects = dev->connects;
	in->disconnects = dev->disconnects;
	in->refused = dev->refused;
	in->msgs_refused = atomic_load_explicit(&dev->msgs_refused, memory_order_relaxed);
	if (in->vid >= 0)
		vgw_vhost_features(in->vid, &in->features, &in->protocol_features);
	if (dev->ops->info != NULL)
		dev->ops->info(dev, in, extra);
	pthread_mutex_unlock(&dev->lock);
}
