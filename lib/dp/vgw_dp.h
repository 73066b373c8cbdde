/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_DP_H
#define VGW_DP_H

/* Worker lcores and their poll lists.
 *
 * Each worker polls the tasks of its own poll list, an immutable snapshot
 * that the control plane publishes with a release store; the worker loads
 * it with an acquire load once per loop pass and reports an RCU quiescent
 * state after each pass. A publisher frees the old list only after a grace
 * period, so once vgw_dp_publish() returns no worker runs an old task.
 * Counters are per lcore and per stats slot, written only by their lcore. */

#include <stdatomic.h>
#include <stdint.h>

#include <rte_common.h>

#define VGW_DP_BURST 32
/* Stats slots per lcore: VGW_DEV_SLOTS for each of VGW_MAX_DEVICES
 * devices (vgw_device.h asserts that they fit). */
#define VGW_DP_MAX_SLOTS 1088

struct vgw_dp_lcore;
struct vgw_dp_task;

/* Poll once; return the number of packets or requests handled. */
typedef uint16_t (*vgw_dp_poll_fn)(struct vgw_dp_task *t, struct vgw_dp_lcore *lc);

struct vgw_dp_task {
	vgw_dp_poll_fn poll;
	void *arg;
	uint16_t queue;
	uint16_t slot; /* stats slot */
};

struct vgw_dp_list {
	uint16_t n;
	struct vgw_dp_task tasks[];
};

/* Counters of one slot (a device queue) on one lcore. rx: what the
 * front-end gave (net: packets; fs: requests taken from the ring and their
 * bytes), tx: what went to it (net: packets; fs: replies and the bytes
 * written into the guest's buffers). busy_cycles: TSC cycles spent in
 * polls that handled at least one packet, the definition of dpdk-testpmd's
 * --record-core-cycles. errors, bytes_read, bytes_written: fs only
 * (replies with an error, READ and WRITE payload). */
struct vgw_dp_qstats {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t drops;
	uint64_t busy_cycles;
	uint64_t errors;
	uint64_t bytes_read;
	uint64_t bytes_written;
};

struct vgw_dp_lcore {
	unsigned int lcore_id;
	unsigned int idx; /* worker index, 0..n-1 */
	_Atomic(struct vgw_dp_list *) list;
	struct vgw_dp_qstats *stats; /* [VGW_DP_MAX_SLOTS], this lcore's */
	uint64_t loops;
	uint64_t busy_loops;
	/* set by a task in a pass: it waits on threads that may share this
	 * worker's CPU (vgw_dp_idle_yield) */
	bool idle_yield;
} __rte_cache_aligned;

/* Take every worker lcore of EAL (all but the main one). idle_sleep_us > 0
 * lets a worker sleep that long after a pass that found no work. */
int vgw_dp_init(uint32_t idle_sleep_us);
/* Threads that do the workers' work elsewhere share the workers' CPUs
 * (io_uring's workers when the pollers take every CPU the gateway may
 * use): a pass that found nothing while a task waits on them
 * (lc->idle_yield) yields the CPU (sched_yield(), when --idle-sleep-us
 * does not already sleep) instead of spinning through their time slice. */
void vgw_dp_idle_yield(bool on);
void vgw_dp_fini(void);
int vgw_dp_start(void);
void vgw_dp_stop(void);

unsigned int vgw_dp_n_workers(void);
unsigned int vgw_dp_worker_lcore(unsigned int idx);

/* A device module's tasks: fill up to max tasks, return how many. Called
 * with the rebuild lock held: read state, take no lock of the module's. */
typedef unsigned int (*vgw_dp_provider_fn)(struct vgw_dp_task *tasks, unsigned int max);
int vgw_dp_add_provider(vgw_dp_provider_fn fn);

/* Collect every provider's tasks, place them on the workers by the busy
 * cycles each took since the last rebuild (heaviest first, each to the
 * least-loaded worker; tasks without history round-robin over the
 * least-loaded ones) and publish the new poll lists; returns after a grace period, when no
 * worker runs an old task any more. Never call it from a callback that
 * holds rte_vhost's virtqueue locks: use vgw_dp_rebuild_later() there. */
void vgw_dp_rebuild(void);
/* Ask the control thread to rebuild on its next vgw_dp_tick(). */
void vgw_dp_rebuild_later(void);
void vgw_dp_tick(void);
/* Wait until every worker has finished the pass it was in. */
void vgw_dp_sync(void);

/* Sum a slot's counters over all workers. */
void vgw_dp_stats_sum(uint16_t slot, struct vgw_dp_qstats *out);
/* Per-worker totals: loops and busy loops. */
void vgw_dp_worker_load(unsigned int idx, uint64_t *loops, uint64_t *busy);

#endif /* VGW_DP_H */
