/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_DEVICE_H
#define VGW_DEVICE_H

/* The device model: one base for every device (vhost-user net and fs,
 * ethdev uplinks), extended by each type through an operations table, and
 * one registry (net and ethdev devices in configuration order, then fs
 * devices: the order the control socket has always listed them). The
 * control socket, rte_telemetry, the exporter and vhostgw-top see the
 * registry and never branch on a device's type.
 *
 * The base owns what every vhost-user device has: the front-end's
 * connection, readiness, the operator's suspend, the remap of guest memory
 * (SET_MEM_TABLE and friends), counters of connections, the per-queue
 * stats slots and the phase inputs of the message hooks. It drives the
 * life cycle from rte_vhost's callbacks and calls the type's operations at
 * each step.
 *
 * Lock rules (one discipline for every device):
 * - dev->lock guards the control-plane fields below (conn_vid, ready_vid,
 *   suspended, remap, connects, disconnects, refused) and the type's own
 *   control-plane state. The base takes it around every life-cycle step
 *   and calls the type's operations with it held, except tasks (called by
 *   dp with its rebuild lock held: read atomics, take no lock) and
 *   vring_state (see below).
 * - Lock order: dev->lock, then dp's rebuild lock. No code path holds two
 *   device locks. The workers never take either.
 * - conn_vid and ready_vid are atomics written under dev->lock, so that
 *   vring_state_changed, which rte_vhost 22.11 calls with every virtqueue
 *   lock of the device held, can read them without dev->lock: a thread
 *   holding dev->lock may be waiting for a grace period that a worker
 *   spinning on one of those virtqueue locks never reports.
 * - vid is what the workers use: published with a release store under
 *   dev->lock, followed by a grace period before the publisher returns.
 * - rings_started and rings_stopped belong to rte_vhost's event thread.
 * - Readers (control thread, telemetry thread) take dev->lock briefly to
 *   copy a consistent snapshot (vgw_device_info()); counters that workers
 *   write are per-lcore slots, summed without any lock.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgw_common.h"
#include "vgw_conf.h"
#include "vgw_dp.h"
#include "vgw_state.h"

struct json_t; /* jansson's json_t, built by the types */
struct vgw_vhost_msg;

/* Stats slots: one per queue, VGW_DEV_SLOTS per device, laid out by
 * configuration index. An fs device uses VGW_MAX_QUEUES request queues and
 * its hiprio queue (VGW_DEV_SLOT_HIPRIO). */
#define VGW_DEV_SLOTS (VGW_MAX_QUEUES + 1)
#define VGW_DEV_SLOT_HIPRIO VGW_MAX_QUEUES
_Static_assert(VGW_MAX_DEVICES *VGW_DEV_SLOTS <= VGW_DP_MAX_SLOTS,
	       "VGW_DP_MAX_SLOTS holds every device's stats slots");
_Static_assert(VGW_DP_MAX_SLOTS <= UINT16_MAX + 1, "slots fit a task's uint16_t");

struct vgw_device;

/* What the control socket and telemetry show of any device. */
struct vgw_device_info {
	bool connected; /* a front-end is connected (ethdev: started) */
	bool ready;	/* its rings are set up (new_device) */
	bool suspended; /* by the operator */
	bool mem_fault; /* stopped: its front-end shrank guest memory under us */
	int vid;
	uint16_t queues;	/* configured queues */
	uint16_t active_queues; /* queues in the poll lists */
	uint64_t features;
	uint64_t protocol_features;
	uint64_t connects;
	uint64_t disconnects;
	uint64_t refused;      /* second front-ends refused */
	uint64_t msgs_refused; /* front-end messages refused (app/vhostgw/msgguard.c) */
	uint64_t mem_faults;   /* guest memory shrunk under the mapping (memguard.c) */
};

/* A type's operations. Unless noted, called with dev->lock held on the
 * thread that drives the step (rte_vhost's event thread for the front-end's
 * steps, the control thread for the operator's). Optional ones may be NULL. */
struct vgw_device_ops {
	int *logtype; /* the type's log type (vgw.net, vgw.fs) */
	/* Poll tasks of the device; dp's rebuild lock held, dev->lock not:
	 * read the published vid and atomics only. */
	unsigned int (*tasks)(struct vgw_device *dev, struct vgw_dp_task *tasks, unsigned int max);
	/* A front-end connected (< 0: refuse it) or left. */
	int (*connect)(struct vgw_device *dev, int vid);
	void (*disconnect)(struct vgw_device *dev, int vid);
	/* The rings are ready: take them (< 0: refuse). Called before the
	 * device is published to the workers. */
	int (*start)(struct vgw_device *dev, int vid);
	/* The device was taken from the workers for good (destroy_device):
	 * give the rings back. */
	void (*stop)(struct vgw_device *dev, int vid);
	/* The device was taken from the workers (stop, suspend, remap) and a
	 * grace period passed: finish what is in flight. */
	void (*quiesce)(struct vgw_device *dev);
	/* rte_vhost's vring_state_changed, WITHOUT dev->lock (see above). */
	int (*vring_state)(struct vgw_device *dev, int vid, uint16_t vring, int enable);
	/* SEND_RARP of the front-end of vid (after a live migration, for a
	 * guest without VIRTIO_NET_F_GUEST_ANNOUNCE): announce the guest's
	 * MAC, mac, as if the guest had sent a RARP. Before rte_vhost
	 * handles the message, WITHOUT dev->lock (it only sets an atomic). */
	void (*rarp)(struct vgw_device *dev, int vid, const uint8_t mac[6]);
	/* Guest memory change on a ready device (a message flagged
	 * VGW_VHOST_MSG_F_REMAP). remap_needed, before rte_vhost handles it:
	 * true if the device must be taken away meanwhile; NULL: rte_vhost
	 * handles its own rings (net), nothing to do. remap_done, after:
	 * refetch addresses; < 0 keeps the device taken away. */
	bool (*remap_needed)(struct vgw_device *dev, const struct vgw_vhost_msg *m);
	int (*remap_done)(struct vgw_device *dev, int vid);
	/* One line for the "device ready" log: "2 queue pair(s)". */
	void (*describe)(struct vgw_device *dev, char *buf, size_t len);
	/* Introspection, on the control or telemetry thread. info: adjust the
	 * base's snapshot, and (extra != NULL) add the type's own keys to the
	 * device object. stats, WITHOUT dev->lock (it takes it if it needs
	 * it): the device's counters (totals, "queues" with one object per
	 * queue, type-specific keys). */
	void (*info)(struct vgw_device *dev, struct vgw_device_info *in, struct json_t *extra);
	void (*stats)(struct vgw_device *dev, struct json_t *out);
	/* Device state (vgw_device_state_*() and DEVICE_STATE, which is
	 * offered when both are set). state_save: the device's state into a
	 * malloc'd buffer of at most max bytes, the device connected and not
	 * running. state_load: apply one to a session that served nothing
	 * yet; called with dev->lock held, or (DEVICE_STATE) on the base's
	 * transfer thread, which the base joins before the rings start or the
	 * front-end's connection goes. < 0 with one line in why.
	 * state_figures: what the operator's reply shows of the state just
	 * moved (dev->lock held). NULL: the type has no state of its own. */
	int (*state_save)(struct vgw_device *dev, size_t max, void **buf, size_t *len, char *why,
			  size_t why_len);
	int (*state_load)(struct vgw_device *dev, const void *buf, size_t len, char *why,
			  size_t why_len);
	void (*state_figures)(struct vgw_device *dev, struct json_t *reply, bool load);
	/* Under vhostgw-keeper (doc/keeper.rst). keep_fds: what must outlive
	 * this process, as up to max fds the keeper holds a dup of (the device
	 * keeps owning them); the number. adopt: take that over from a dead
	 * gateway's fds, on a fresh session before its rings start; < 0 with
	 * one line in why. NULL: nothing to keep (net: rings are taken up at
	 * their used index, packets in flight are lost). */
	int (*keep_fds)(struct vgw_device *dev, int *fds, unsigned int max);
	int (*adopt)(struct vgw_device *dev, const int *fds, unsigned int n, char *why,
		     size_t why_len);
};

/* A DEVICE_STATE transfer: one at a time, on a thread of its own (the
 * front-end reads or writes the pipe only after our reply). Under dev->lock
 * but for the thread, which never takes it: whoever joins it holds it. */
struct vgw_device_xfer {
	pthread_t thread;
	bool started;
	uint32_t dir; /* 0 save, 1 load */
	int fd;
	int cut_fd; /* eventfd: written by the join, the transfer stops waiting */
	void *buf;
	size_t len;
	int result; /* 0, or -errno; read after the join */
	char why[VGW_STATE_REASON_MAX];
};

/* The inflight region the front-end handed over (SET_INFLIGHT_FD): mapped
 * by us, never by rte_vhost (lib/vhost/vhost.c says why). The layout is
 * the message's, kept here: the region's own header is the front-end's
 * to write and is never trusted. */
struct vgw_device_inflight {
	uint8_t *map; /* NULL: none */
	size_t len;
	int vid; /* the connection that handed it over */
	uint16_t num_queues;
	uint16_t queue_size;
	uint64_t queue_bytes; /* one queue's area */
	int get_fd;	      /* a GET_INFLIGHT_FD region until its reply is sent */
};

struct vgw_device {
	char name[VGW_NAME_MAX];
	enum vgw_dev_type type;
	bool vhost;			 /* a vhost-user device (socket, mode) */
	uint16_t index;			 /* configuration index: stats slots */
	uint16_t queues;		 /* configured queues */
	const struct vgw_conf_dev *conf; /* socket, mode, pf_off, ... */
	const struct vgw_device_ops *ops;
	uint64_t features_off; /* virtio features not offered (set before add) */
	bool offloads;	       /* net: checksum and TSO offered (set before add) */
	pthread_mutex_t lock;
	/* under lock */
	_Atomic int conn_vid;  /* connected front-end, -1 if none */
	_Atomic int ready_vid; /* its device, once ready (new_device) */
	bool suspended;	       /* by the operator */
	bool remap;	       /* taken away while rte_vhost remaps */
	bool mem_fault;	       /* taken away: guest memory shrunk under us */
	uint64_t mem_faults;
	uint64_t connects;
	uint64_t disconnects;
	uint64_t refused;
	/* messages the guard refused (its own atomic: no lock there) */
	_Atomic uint64_t msgs_refused;
	/* the workers' view: -1 while not published */
	_Atomic int vid;
	/* rte_vhost's event thread: rings started (SET_VRING_KICK) and
	 * stopped since (GET_VRING_BASE), the phase input "rings-stop" */
	uint64_t rings_started;
	uint64_t rings_stopped;
	struct vgw_device_xfer xfer;
	/* rte_vhost's message thread; changed under lock */
	struct vgw_device_inflight inflight;
};

/* Set up the base (name, type, index, queues from conf), add it to the
 * registry and, for a vhost-user device, register its socket with
 * rte_vhost (not started yet). Control thread, at start-up. */
int vgw_device_add(struct vgw_device *dev, const struct vgw_conf_dev *conf, uint16_t index,
		   const struct vgw_device_ops *ops);
/* Listen or connect (vhost-user devices). */
int vgw_device_start(struct vgw_device *dev);
/* Unregister the device's socket: no callback and no state transfer runs
 * for it afterwards. It stays in the registry (devices live as long as the
 * process). */
void vgw_device_unregister(struct vgw_device *dev);

/* Guest memory the front-end shrank under the mapping (memguard.c): log it,
 * count it and take the device from the workers until the front-end maps
 * its memory again (vgw_device_mem_restored) or reconnects. Control
 * thread. */
void vgw_device_mem_fault(struct vgw_device *dev, uintptr_t addr);
/* SET_MEM_TABLE done: a device stopped by a fault is given back. */
void vgw_device_mem_restored(struct vgw_device *dev);

/* SIGBUS from guest memory or a dirty log a front-end shrank under the
 * mapping (lib/vhost/memguard.c): the handler, installed once at start-up;
 * the ranges of a device's mappings, set after SET_MEM_TABLE and
 * SET_LOG_BASE and cleared before SET_MEM_TABLE and at the connection's
 * end (rte_vhost's message thread); poll: the control thread hands the
 * devices that faulted to vgw_device_mem_fault. */
int vgw_memguard_install(void);
void vgw_memguard_set(const struct vgw_device *dev, int vid);
void vgw_memguard_clear(const struct vgw_device *dev);
void vgw_memguard_poll(void);

unsigned int vgw_device_count(void);
struct vgw_device *vgw_device_at(unsigned int i);
struct vgw_device *vgw_device_find(const char *name);

/* A consistent snapshot of dev (takes dev->lock; the type's info op adds
 * its keys to extra when not NULL). */
void vgw_device_info(struct vgw_device *dev, struct vgw_device_info *in, struct json_t *extra);
/* Stop (suspend=true) or restart processing dev. Once it returns no worker
 * reads or writes the device's rings or guest memory, and none notifies the
 * guest, until it is resumed. 1 if the state changed, 0 if it already was
 * so, -ENOTSUP (not a vhost-user device). Control thread only. */
int vgw_device_suspend(struct vgw_device *dev, bool suspend);

/* The operator's device state to or from a file (control thread; may
 * block on the file): the device connected and not running (suspended, or
 * its rings stopped); load only into a session that served nothing yet.
 * The file is written whole or not at all (mode 0600). bytes: its size;
 * reply gets the type's figures. -ENOTSUP without state of its own; < 0
 * with one line in why. */
int vgw_device_state_save(struct vgw_device *dev, const char *path, struct json_t *reply,
			  size_t *bytes, char *why, size_t why_len);
int vgw_device_state_load(struct vgw_device *dev, const char *path, struct json_t *reply,
			  size_t *bytes, char *why, size_t why_len);

/* Publish what the workers may use of dev (its ready vid, unless
 * suspended or remapping); when that takes the device away, wait for a
 * grace period and quiesce it. Called with dev->lock held. */
void vgw_device_publish(struct vgw_device *dev);

static inline uint16_t
vgw_device_slot(const struct vgw_device *dev, uint16_t q)
{
	return (uint16_t)(dev->index * VGW_DEV_SLOTS + q);
}

#define VGW_DEVICE_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif /* VGW_DEVICE_H */
