/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_VRING_H
#define VGW_VRING_H

/* Our own split-ring walker, for devices whose rings rte_vhost does not
 * process (virtio-fs, and net devices on a one-copy xconnect). Every
 * descriptor is bounds-checked and translated
 * through the device's memory table; chains are validated (length, loops,
 * direction: device-readable buffers first, then device-writable ones).
 * Guest writes are logged for live migration. One lcore owns a ring. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#define VGW_VRING_MAX_IOV 260 /* FUSE max_pages 256 + headers */
#define VGW_VRING_MAX_CHAIN_BYTES (64u << 20)
#define VGW_VRING_MAX_INDIRECT 1024 /* entries of an indirect table */

/* Does the CPU fetch a line for writing (PREFETCHW)? Set at start-up. */
extern bool vgw_prefetchw_ok;

/* Fetch the cache line at p for writing: a line the guest's core holds
 * is taken over exclusive at once, not first shared (what
 * rte_prefetch0_write() gives without -mprfchw) and then taken again by
 * the store. */
static inline void
vgw_prefetch_w(const volatile void *p)
{
#if defined(__x86_64__)
	if (__builtin_expect(vgw_prefetchw_ok, 1)) {
		__asm__ volatile("prefetchw %0" : : "m"(*(const volatile char *)p));
		return;
	}
#endif
	__builtin_prefetch((const void *)p, 1, 3);
}

struct rte_vhost_memory;
struct rte_vhost_inflight_info_split;

struct vgw_vring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t log_guest_addr;
	uint16_t size;
	uint16_t mask;	     /* size - 1: the size is a power of 2 */
	uint16_t last_avail; /* next avail entry to take */
	uint16_t avail_seen; /* the guest's avail index when last read */
	uint16_t used_idx;   /* our shadow of used->idx */
	uint16_t vring_idx;
	int vid;
	bool indirect_ok; /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool event_idx;	  /* VIRTIO_RING_F_EVENT_IDX negotiated */
	/* put and publish log only while log_on, once vgw_vring_log_check()
	 * gated them (else every write goes to rte_vhost, which checks) */
	bool log_gated, log_on;
	/* VIRTIO_F_IN_ORDER batching, for a ring whose used lengths the
	 * driver does not need (a transmit ring): put writes no used element,
	 * publish writes one for the whole batch, the last chain's (virtio
	 * 1.2, 2.7.10.1). The owner sets it after attach. */
	bool used_batch;
	bool batch_pending; /* chains put since the last element written */
	uint16_t batch_head;
	uint32_t batch_len;
	uint64_t malformed; /* chains refused */
	/* inflight I/O tracking (INFLIGHT_SHMFD), when the front-end gave a
	 * region: which heads the device has taken and not returned, so that
	 * a back-end that replaces a crashed one can finish them */
	struct rte_vhost_inflight_info_split *inflight;
	/* the device's own region for this ring (under the keeper, used when
	 * the front-end gives none), NULL without one */
	struct rte_vhost_inflight_info_split *own_inflight;
	uint64_t inflight_counter; /* next counter: taking order */
	uint16_t *resubmit;	   /* heads left in flight, counter order */
	uint16_t n_resubmit;
	uint16_t resubmit_pos;
	uint64_t resubmitted; /* heads taken again from the region */
};

/* One request: iov[0..in_cnt) device-readable, then out_cnt device-writable
 * buffers; out_gpa[] their guest addresses, for dirty logging. */
struct vgw_vring_chain {
	uint16_t head;
	bool resubmitted; /* taken again from the inflight region */
	uint16_t in_cnt;
	uint16_t out_cnt;
	uint32_t in_len;
	uint32_t out_len;
	struct iovec iov[VGW_VRING_MAX_IOV];
	uint64_t out_gpa[VGW_VRING_MAX_IOV];
};

/* Take ring idx of device vid as rte_vhost set it up (addresses, size, and
 * the base index the front-end gave), with its inflight region if the
 * front-end gave one, else own (a slot of VGW_VRING_INFLIGHT_SLOT bytes the
 * device keeps across a crash under the keeper, or NULL): heads the region
 * shows in flight (left by an earlier back-end) are taken again first, in
 * the order they were first taken. -ENODEV: the ring is not set up;
 * -EINVAL: the inflight region is smaller than the ring; -ENOMEM. */
int vgw_vring_attach(struct vgw_vring *vr, int vid, uint16_t idx,
		     struct rte_vhost_inflight_info_split *own);
/* What a back-end does with a ring's inflight area when the ring starts
 * (rte_vhost 22.11 does it at SET_VRING_KICK): an area that is not set up
 * for entries descriptors (version, desc_num) is cleared and set up;
 * otherwise a completion published and not cleared (used_idx != used, the
 * ring's used index) is settled, if its last_inflight_io is a head of the
 * ring. Returns the heads still in flight (among the ring's ring_size):
 * the ring's last_avail moves past them. Nothing the front-end wrote is
 * used as an index beyond the area's entries. */
uint16_t vgw_vring_inflight_take_up(struct rte_vhost_inflight_info_split *inf, uint16_t entries,
				    uint16_t ring_size, uint16_t used);
/* One ring's slot in a device's own inflight region: header and one
 * 16-byte entry per head of the largest split ring, 64-byte aligned. */
#define VGW_VRING_INFLIGHT_SLOT ((16u + 16u * 32768u + 63u) & ~63u)
/* Take the ring's addresses again (after rte_vhost remapped the guest
 * memory or the inflight region: SET_MEM_TABLE, SET_INFLIGHT_FD), keeping
 * our indices and counters. */
int vgw_vring_refresh(struct vgw_vring *vr);
/* Give the indices back to rte_vhost (GET_VRING_BASE answers with them). */
void vgw_vring_detach(struct vgw_vring *vr);
/* Ask the guest not to kick (VRING_USED_F_NO_NOTIFY): the ring is polled.
 * attach and refresh do it. */
void vgw_vring_set_no_kicks(struct vgw_vring *vr);

/* The device's current memory table (free with vgw_vring_mem_free()). */
struct rte_vhost_memory *vgw_vring_mem_get(int vid);
void vgw_vring_mem_free(struct rte_vhost_memory *mem);
/* Would a SET_MEM_TABLE payload leave mem as it is (rte_vhost's own test:
 * same regions, same guest addresses and sizes)? */
bool vgw_vring_mem_same(const struct rte_vhost_memory *mem, const void *payload, uint32_t size);

/* Take the next chain: 1 taken, 0 ring empty, -EINVAL the chain was
 * malformed: it was returned to the guest unused (length 0) and counted. */
int vgw_vring_pop(struct vgw_vring *vr, const struct rte_vhost_memory *mem,
		  struct vgw_vring_chain *c);
/* Without an inflight region: write a chain's used element (and log what
 * was written) without making it visible; vgw_vring_publish() makes every
 * element written so far visible at once (a frame in several mergeable
 * buffers, a burst). */
void vgw_vring_put_logged(struct vgw_vring *vr, const struct vgw_vring_chain *c, uint32_t written);
static inline void
vgw_vring_put(struct vgw_vring *vr, const struct vgw_vring_chain *c, uint32_t written)
{
	struct vring_used_elem *e;

	if (__builtin_expect(!vr->log_gated || vr->log_on, 0)) {
		vgw_vring_put_logged(vr, c, written);
		return;
	}
	if (vr->used_batch) {
		vr->batch_head = c->head;
		vr->batch_len = written;
		vr->batch_pending = true;
		vr->used_idx++;
		return;
	}
	e = &vr->used->ring[vr->used_idx & vr->mask];
	e->id = c->head;
	e->len = written;
	vr->used_idx++;
}
void vgw_vring_publish(struct vgw_vring *vr);
/* Fetch into the cache the descriptors of the next n chains (at most 64)
 * the guest made available. Takes nothing; returns how many there are (up
 * to n), 0 also for an index that claims more than the ring holds (the
 * next pop refuses it). */
uint16_t vgw_vring_prefetch(struct vgw_vring *vr, uint16_t n);
/* Translate a chain taken and not returned again, through a new memory
 * table (after a remap); -EINVAL if it no longer maps. */
int vgw_vring_rewalk(struct vgw_vring *vr, const struct rte_vhost_memory *mem,
		     struct vgw_vring_chain *c);
/* Is dirty logging on (VHOST_F_LOG_ALL)? Read once per burst; put and
 * publish log only then. */
void vgw_vring_log_check(struct vgw_vring *vr);
/* Give back the last n chains popped and not pushed (a device without an
 * inflight region that found no room for them elsewhere): the guest's
 * descriptors stay in its ring, taken again by the next pop. */
void vgw_vring_unpop(struct vgw_vring *vr, uint16_t n);
/* Return a chain with `written` bytes in its device-writable buffers; the
 * written guest memory and the used entry are logged (once
 * vgw_vring_log_check() gated it: only while logging is on). */
void vgw_vring_push(struct vgw_vring *vr, const struct vgw_vring_chain *c, uint32_t written);
/* Notify the guest unless it asked not to be. Never waits for rte_vhost's
 * virtqueue lock (its message handler holds it, and may be waiting for us):
 * -EAGAIN then, call again later. */
int vgw_vring_notify(struct vgw_vring *vr);

#endif /* VGW_VRING_H */
