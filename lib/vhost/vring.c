/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>
#include <rte_atomic.h>
#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_prefetch.h>
#include <rte_vhost.h>

#include "vgw_vhost.h"
#include "vgw_vring.h"

bool vgw_prefetchw_ok;

/* PREFETCHW: CPUID 0x80000001, ECX bit 8 (3DNowPrefetch / PRFCHW) */
RTE_INIT(vgw_prefetchw_probe)
{
#if defined(__x86_64__)
	unsigned int a, b, c, d;

	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		vgw_prefetchw_ok = (c >> 8) & 1;
#endif
}

/* The ring's 16-bit words in guest memory, shared with the guest's driver:
 * C11 atomics on them (same size and alignment as uint16_t). */
static inline _Atomic uint16_t *
ring_word(uint16_t *w)
{
	return (_Atomic uint16_t *)w;
}

/* The region's heads still in flight, oldest first: what an earlier
 * back-end took and never returned. The SET_VRING_KICK hook (or, for the
 * device's own region, own_inflight_take_up) has already settled a
 * completion the earlier back-end published but did not clear (region
 * used_idx != used->idx) and moved last_avail past these heads. The
 * front-end may write its region between the two passes: the second takes
 * no more heads than the first counted. */
static int
inflight_scan(struct vgw_vring *vr)
{
	struct rte_vhost_inflight_info_split *inf = vr->inflight;
	uint64_t *key;
	uint16_t n = 0, cap;

	for (uint16_t i = 0; i < vr->size; i++)
		n += inf->desc[i].inflight == 1;
	vr->inflight_counter = 1;
	if (n == 0)
		return 0;
	vr->resubmit = malloc(n * sizeof(*vr->resubmit));
	key = malloc(n * sizeof(*key));
	if (vr->resubmit == NULL || key == NULL) {
		free(vr->resubmit);
		free(key);
		vr->resubmit = NULL;
		return -ENOMEM;
	}
	cap = n;
	n = 0;
	for (uint16_t i = 0; i < vr->size && n < cap; i++) {
		uint64_t c = inf->desc[i].counter;
		uint16_t j;

		if (inf->desc[i].inflight != 1)
			continue;
		if (c >= vr->inflight_counter)
			vr->inflight_counter = c + 1;
		/* insertion by counter: n is at most the ring size, and this
		 * runs once, when a replaced back-end's rings start */
		for (j = n; j > 0 && key[j - 1] > c; j--) {
			key[j] = key[j - 1];
			vr->resubmit[j] = vr->resubmit[j - 1];
		}
		key[j] = c;
		vr->resubmit[j] = i;
		n++;
	}
	free(key);
	vr->n_resubmit = n;
	return 0;
}

/* The front-end's region (INFLIGHT_SHMFD), else the device's own. The
 * area's size is the one SET_INFLIGHT_FD gave (vgw_vhost_ring_inflight),
 * never its desc_num, which the front-end writes. */
static int
inflight_get(struct vgw_vring *vr)
{
	struct rte_vhost_inflight_info_split *inf;
	uint16_t entries = 0;

	vr->inflight = NULL;
	inf = vgw_vhost_ring_inflight(vr->vid, vr->vring_idx, &entries);
	if (inf == NULL) {
		vr->inflight = vr->own_inflight;
		return 0;
	}
	if (entries < vr->size)
		return -EINVAL;
	vr->inflight = inf;
	return 0;
}

uint16_t
vgw_vring_inflight_take_up(struct rte_vhost_inflight_info_split *inf, uint16_t entries,
			   uint16_t ring_size, uint16_t used)
{
	uint16_t n = 0, last;

	if (inf->version != 1 || inf->desc_num != entries) {
		memset(inf, 0, sizeof(*inf) + entries * sizeof(inf->desc[0]));
		inf->version = 1;
		inf->desc_num = entries;
		inf->used_idx = used;
		return 0;
	}
	if (inf->used_idx != used) {
		last = inf->last_inflight_io; /* read once: the front-end may write it */
		if (last < ring_size)
			inf->desc[last].inflight = 0;
		rte_smp_wmb();
		inf->used_idx = used;
	}
	for (uint16_t i = 0; i < ring_size; i++)
		n += inf->desc[i].inflight == 1;
	return n;
}

/* A region of the device's own: rte_vhost knows nothing of it, so its
 * slot is taken up here, when the ring starts (a front-end's area is, at
 * SET_VRING_KICK: lib/vhost/vhost.c). */
static void
own_inflight_take_up(struct vgw_vring *vr)
{
	uint16_t used = atomic_load_explicit(ring_word(&vr->used->idx), memory_order_acquire);

	vr->last_avail += vgw_vring_inflight_take_up(vr->own_inflight, vr->size, vr->size, used);
}

int
vgw_vring_attach(struct vgw_vring *vr, int vid, uint16_t idx,
		 struct rte_vhost_inflight_info_split *own)
{
	struct rte_vhost_vring r;
	uint16_t last_avail, last_used;
	int ret;

	if (rte_vhost_get_vhost_vring(vid, idx, &r) < 0 || r.desc == NULL || r.avail == NULL ||
	    r.used == NULL || r.size == 0)
		return -ENODEV;
	/* a split ring's size is a power of 2 (virtio 1.2, 2.7; rte_vhost
	 * refuses others at SET_VRING_NUM): indices wrap with a mask */
	if ((r.size & (r.size - 1)) != 0)
		return -EINVAL;
	if (rte_vhost_get_vring_base(vid, idx, &last_avail, &last_used) < 0)
		return -ENODEV;
	free(vr->resubmit);
	memset(vr, 0, sizeof(*vr));
	vr->desc = r.desc;
	vr->avail = r.avail;
	vr->used = r.used;
	vr->log_guest_addr = r.log_guest_addr;
	vr->size = r.size;
	vr->mask = (uint16_t)(r.size - 1);
	vr->last_avail = last_avail;
	vr->avail_seen = last_avail;
	vr->used_idx = last_used;
	vr->vring_idx = idx;
	vr->vid = vid;
	vr->own_inflight = own;
	ret = inflight_get(vr);
	if (ret == 0 && vr->inflight != NULL && vr->inflight == own)
		own_inflight_take_up(vr);
	if (ret == 0 && vr->inflight != NULL)
		ret = inflight_scan(vr);
	if (ret < 0) {
		vr->inflight = NULL;
		return ret;
	}
	vgw_vring_set_no_kicks(vr);
	return 0;
}

int
vgw_vring_refresh(struct vgw_vring *vr)
{
	struct rte_vhost_vring r;

	if (rte_vhost_get_vhost_vring(vr->vid, vr->vring_idx, &r) < 0 || r.desc == NULL ||
	    r.avail == NULL || r.used == NULL || r.size != vr->size)
		return -ENODEV;
	vr->desc = r.desc;
	vr->avail = r.avail;
	vr->used = r.used;
	vr->log_guest_addr = r.log_guest_addr;
	/* a region handed over while running is new: nothing of ours is in
	 * flight (the device was drained), nothing to take again */
	if (inflight_get(vr) < 0)
		return -EINVAL;
	vgw_vring_set_no_kicks(vr);
	return 0;
}

void
vgw_vring_set_no_kicks(struct vgw_vring *vr)
{
	/* the rings are polled: a kick would only cost the guest an exit */
	atomic_store_explicit(ring_word(&vr->used->flags), VRING_USED_F_NO_NOTIFY,
			      memory_order_release);
	rte_vhost_log_used_vring(vr->vid, vr->vring_idx, offsetof(struct vring_used, flags),
				 sizeof(vr->used->flags));
}

void
vgw_vring_detach(struct vgw_vring *vr)
{
	if (vr->batch_pending) /* an in-order batch put and not published */
		vgw_vring_publish(vr);
	rte_vhost_set_vring_base(vr->vid, vr->vring_idx, vr->last_avail, vr->used_idx);
	free(vr->resubmit);
	vr->resubmit = NULL;
	vr->n_resubmit = 0;
	vr->resubmit_pos = 0;
	vr->inflight = NULL;
}

struct rte_vhost_memory *
vgw_vring_mem_get(int vid)
{
	struct rte_vhost_memory *mem = NULL;

	if (rte_vhost_get_mem_table(vid, &mem) < 0)
		return NULL;
	return mem;
}

void
vgw_vring_mem_free(struct rte_vhost_memory *mem)
{
	free(mem);
}

bool
vgw_vring_mem_same(const struct rte_vhost_memory *mem, const void *payload, uint32_t size)
{
	const uint8_t *p = payload;
	uint32_t n;

	if (mem == NULL || size < 8)
		return false;
	memcpy(&n, p, sizeof(n));
	if (n != mem->nregions || size < 8 + (uint64_t)n * 32)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		/* guest_phys_addr, memory_size, userspace_addr, mmap_offset */
		uint64_t r[4];

		memcpy(r, p + 8 + i * 32, sizeof(r));
		if (r[0] != mem->regions[i].guest_phys_addr || r[1] != mem->regions[i].size ||
		    r[2] != mem->regions[i].guest_user_addr)
			return false;
	}
	return true;
}

/* Guest physical to our virtual address, as rte_vhost_va_from_guest_pa()
 * does it (*len cut to what the region holds; 0 if none holds gpa), inline:
 * the walker translates every descriptor. */
static inline uint64_t
gpa_to_va(const struct rte_vhost_memory *mem, uint64_t gpa, uint64_t *len)
{
	for (uint32_t i = 0; i < mem->nregions; i++) {
		const struct rte_vhost_mem_region *r = &mem->regions[i];
		uint64_t off = gpa - r->guest_phys_addr;

		if (gpa >= r->guest_phys_addr && off < r->size) {
			if (*len > r->size - off)
				*len = r->size - off;
			return r->host_user_addr + off;
		}
	}
	*len = 0;
	return 0;
}

/* Map [gpa, gpa + len) into iovecs (a buffer may span memory regions). */
static int
map_buf(const struct rte_vhost_memory *mem, uint64_t gpa, uint32_t len, struct vgw_vring_chain *c,
	unsigned int *n, bool out)
{
	while (len != 0) {
		uint64_t chunk = len;
		uint64_t va = gpa_to_va(mem, gpa, &chunk);

		if (va == 0 || chunk == 0 || *n >= VGW_VRING_MAX_IOV)
			return -EINVAL;
		c->iov[*n].iov_base = (void *)(uintptr_t)va;
		c->iov[*n].iov_len = chunk;
		if (out)
			c->out_gpa[*n] = gpa;
		(*n)++;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/* A chain's descriptors: the ring's table, or an indirect one. */
struct desc_table {
	const struct vring_desc *d;
	uint32_t n;
};

/* The indirect table desc points to, whole in one mapping and of whole
 * entries; NULL if not. */
static const struct vring_desc *
indirect_table(const struct rte_vhost_memory *mem, uint64_t addr, uint32_t len, uint32_t *n)
{
	uint64_t chunk = len;
	uint64_t va;

	if (len == 0 || len % sizeof(struct vring_desc) != 0 ||
	    len / sizeof(struct vring_desc) > VGW_VRING_MAX_INDIRECT)
		return NULL;
	va = gpa_to_va(mem, addr, &chunk);
	if (va == 0 || chunk != len || (va & (_Alignof(struct vring_desc) - 1)) != 0)
		return NULL;
	*n = len / sizeof(struct vring_desc);
	return (const struct vring_desc *)(uintptr_t)va;
}

static int
walk(struct vgw_vring *vr, const struct rte_vhost_memory *mem, uint16_t head,
     struct vgw_vring_chain *c)
{
	struct desc_table t = { .d = vr->desc, .n = vr->size };
	uint32_t id = head, hops = 0;
	unsigned int n = 0;
	uint64_t in_len = 0, out_len = 0;
	bool indirect = false;

	c->head = head;
	c->in_cnt = 0;
	c->out_cnt = 0;
	for (;;) {
		const struct vring_desc *d;
		uint16_t flags;
		uint32_t len;
		uint64_t addr;

		if (id >= t.n || ++hops > t.n)
			return -EINVAL; /* out of the table, or a loop */
		d = &t.d[id];
		/* each field read once (the guest may change it meanwhile):
		 * the checks and the mapping use the same values */
		addr = __atomic_load_n(&d->addr, __ATOMIC_RELAXED);
		len = __atomic_load_n(&d->len, __ATOMIC_RELAXED);
		flags = __atomic_load_n(&d->flags, __ATOMIC_RELAXED);
		if (flags & VRING_DESC_F_INDIRECT) {
			/* not offered (fs), inside an indirect table, or with
			 * NEXT: the specification forbids the last two */
			if (!vr->indirect_ok || indirect || (flags & VRING_DESC_F_NEXT))
				return -EINVAL;
			t.d = indirect_table(mem, addr, len, &t.n);
			if (t.d == NULL)
				return -EINVAL;
			indirect = true;
			id = 0;
			hops = 0;
			continue;
		}
		if (flags & VRING_DESC_F_WRITE) {
			if (map_buf(mem, addr, len, c, &n, true) < 0)
				return -EINVAL;
			out_len += len;
		} else {
			if (n != c->in_cnt)
				return -EINVAL; /* readable after writable */
			if (map_buf(mem, addr, len, c, &n, false) < 0)
				return -EINVAL;
			c->in_cnt = n;
			in_len += len;
		}
		if (in_len + out_len > VGW_VRING_MAX_CHAIN_BYTES)
			return -EINVAL;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		id = __atomic_load_n(&d->next, __ATOMIC_RELAXED);
	}
	c->out_cnt = n - c->in_cnt;
	c->in_len = in_len;
	c->out_len = out_len;
	return 0;
}

/* Log the guest memory a chain's first `written` device-writable bytes
 * are in. */
static void
log_written(struct vgw_vring *vr, const struct vgw_vring_chain *c, uint32_t written)
{
	uint32_t left = written;

	for (unsigned int i = c->in_cnt; left != 0 && i < c->in_cnt + c->out_cnt; i++) {
		uint32_t n = RTE_MIN(left, (uint32_t)c->iov[i].iov_len);

		rte_vhost_log_write(vr->vid, c->out_gpa[i], n);
		left -= n;
	}
}

/* Write the used element of an in-order batch (used_batch): the last
 * chain put, in the slot before used_idx. */
static inline void
batch_flush(struct vgw_vring *vr)
{
	uint16_t slot = (uint16_t)(vr->used_idx - 1) & vr->mask;
	struct vring_used_elem *e = &vr->used->ring[slot];

	vr->batch_pending = false;
	e->id = vr->batch_head;
	e->len = vr->batch_len;
	if (!vr->log_gated || vr->log_on)
		rte_vhost_log_used_vring(vr->vid, vr->vring_idx,
					 offsetof(struct vring_used, ring[slot]), sizeof(*e));
}

/* Publish a used element. With an inflight region, in the order the
 * vhost-user specification gives, so that a back-end replacing us after a
 * crash at any point knows what was returned: the head as the last one
 * being returned, the element and used->idx, then the head cleared and the
 * region's used_idx caught up. */
static void
used_write(struct vgw_vring *vr, uint16_t head, uint32_t len)
{
	struct rte_vhost_inflight_info_split *inf = vr->inflight;
	uint16_t slot = vr->used_idx & vr->mask;
	struct vring_used_elem *e = &vr->used->ring[slot];

	if (vr->batch_pending)
		batch_flush(vr);
	if (inf != NULL) {
		inf->last_inflight_io = head;
		rte_smp_wmb();
	}
	e->id = head;
	e->len = len;
	vr->used_idx++;
	/* the element before the index that publishes it */
	atomic_store_explicit(ring_word(&vr->used->idx), vr->used_idx, memory_order_release);
	if (!vr->log_gated || vr->log_on) {
		rte_vhost_log_used_vring(vr->vid, vr->vring_idx,
					 offsetof(struct vring_used, ring[slot]), sizeof(*e));
		rte_vhost_log_used_vring(vr->vid, vr->vring_idx, offsetof(struct vring_used, idx),
					 sizeof(vr->used->idx));
	}
	if (inf != NULL) {
		rte_smp_wmb();
		inf->desc[head].inflight = 0;
		rte_smp_wmb();
		inf->used_idx = vr->used_idx;
	}
}

int
vgw_vring_pop(struct vgw_vring *vr, const struct rte_vhost_memory *mem, struct vgw_vring_chain *c)
{
	uint16_t avail_idx, head;

	c->resubmitted = vr->resubmit_pos < vr->n_resubmit;
	if (unlikely(c->resubmitted)) {
		head = vr->resubmit[vr->resubmit_pos++];
		vr->resubmitted++;
	} else {
		/* the guest's index, read again only once we caught up with
		 * what we saw of it: its cache line is the guest's */
		uint16_t have = vr->avail_seen - vr->last_avail;

		if (have == 0 || have > vr->size) {
			avail_idx = atomic_load_explicit(ring_word(&vr->avail->idx),
							 memory_order_acquire);
			if (avail_idx == vr->last_avail)
				return 0;
			if ((uint16_t)(avail_idx - vr->last_avail) > vr->size) {
				/* the guest claims more entries than the ring has */
				vr->malformed++;
				vr->last_avail = avail_idx;
				vr->avail_seen = avail_idx;
				return -EINVAL;
			}
			vr->avail_seen = avail_idx;
		}
		head = vr->avail->ring[vr->last_avail & vr->mask];
		vr->last_avail++;
	}
	if (walk(vr, mem, head, c) < 0) {
		vr->malformed++;
		if (head < vr->size)
			used_write(vr, head, 0);
		return -EINVAL;
	}
	if (vr->inflight != NULL) {
		vr->inflight->desc[head].counter = vr->inflight_counter++;
		rte_smp_wmb();
		vr->inflight->desc[head].inflight = 1;
	}
	return 1;
}

void
vgw_vring_put_logged(struct vgw_vring *vr, const struct vgw_vring_chain *c, uint32_t written)
{
	uint16_t slot = vr->used_idx & vr->mask;
	struct vring_used_elem *e = &vr->used->ring[slot];

	if (vr->used_batch) {
		vr->batch_head = c->head;
		vr->batch_len = written;
		vr->batch_pending = true;
		vr->used_idx++;
		log_written(vr, c, written);
		return;
	}
	e->id = c->head;
	e->len = written;
	vr->used_idx++;
	log_written(vr, c, written);
	rte_vhost_log_used_vring(vr->vid, vr->vring_idx, offsetof(struct vring_used, ring[slot]),
				 sizeof(*e));
}

void
vgw_vring_publish(struct vgw_vring *vr)
{
	if (vr->batch_pending)
		batch_flush(vr);
	if (atomic_load_explicit(ring_word(&vr->used->idx), memory_order_relaxed) == vr->used_idx)
		return;
	/* the elements before the index that publishes them */
	atomic_store_explicit(ring_word(&vr->used->idx), vr->used_idx, memory_order_release);
	if (!vr->log_gated || vr->log_on)
		rte_vhost_log_used_vring(vr->vid, vr->vring_idx, offsetof(struct vring_used, idx),
					 sizeof(vr->used->idx));
}

void
vgw_vring_log_check(struct vgw_vring *vr)
{
	uint64_t f = 0;

	vr->log_gated = true;
	vr->log_on = rte_vhost_get_negotiated_features(vr->vid, &f) < 0 ||
		     (f & (1ULL << VHOST_F_LOG_ALL)) != 0;
}

uint16_t
vgw_vring_prefetch(struct vgw_vring *vr, uint16_t n)
{
	uint16_t have = vr->avail_seen - vr->last_avail;

	if (have == 0 || have > vr->size) {
		uint16_t idx =
			atomic_load_explicit(ring_word(&vr->avail->idx), memory_order_acquire);

		/* a jump past the ring is seen too: the next pop reads the
		 * index again and refuses it */
		vr->avail_seen = idx;
		have = idx - vr->last_avail;
		if (have > vr->size)
			return 0;
	}
	n = RTE_MIN(RTE_MIN(n, have), (uint16_t)64);
	for (uint16_t i = 0; i < n; i++) {
		uint16_t head = vr->avail->ring[(uint16_t)(vr->last_avail + i) & vr->mask];

		if (head < vr->size)
			rte_prefetch0(&vr->desc[head]);
	}
	return n;
}

int
vgw_vring_rewalk(struct vgw_vring *vr, const struct rte_vhost_memory *mem,
		 struct vgw_vring_chain *c)
{
	return walk(vr, mem, c->head, c) < 0 ? -EINVAL : 0;
}

void
vgw_vring_unpop(struct vgw_vring *vr, uint16_t n)
{
	vr->last_avail -= n;
}

void
vgw_vring_push(struct vgw_vring *vr, const struct vgw_vring_chain *c, uint32_t written)
{
	if (!vr->log_gated || vr->log_on)
		log_written(vr, c, written);
	used_write(vr, c->head, written);
}

int
vgw_vring_notify(struct vgw_vring *vr)
{
	rte_smp_mb();
	if (vr->event_idx) {
		/* rte_vhost compares the used event with the used index it
		 * knows, and remembers what it signalled */
		rte_vhost_set_vring_base(vr->vid, vr->vring_idx, vr->last_avail, vr->used_idx);
	} else if (atomic_load_explicit(ring_word(&vr->avail->flags), memory_order_acquire) &
		   VRING_AVAIL_F_NO_INTERRUPT) {
		return 0;
	}
	if (rte_vhost_vring_call_nonblock(vr->vid, vr->vring_idx) == -EAGAIN)
		return -EAGAIN;
	return 0;
}
