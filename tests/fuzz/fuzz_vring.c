/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the split-ring walker (lib/vhost/vring.c), compiled
 * into this program with rte_vhost's functions stubbed, against a fake
 * memory table and rings in this process's memory, no EAL. The input is
 * the guest, every byte untrusted: its first bytes pick the ring size (a
 * power of two up to 256), the features and log state, the indices, the
 * descriptor table, the avail ring and indirect tables in guest memory;
 * the rest is a sequence of operations, of the device (pop, push, put,
 * publish, unpop, prefetch, rewalk, a remap of guest memory) and of the
 * guest (offer a head, move its avail index anywhere, rewrite a
 * descriptor or guest memory). Each pop is checked against a model of the
 * ring and a walk of the chain written here independently: the iovecs
 * taken, each inside one region, or the chain refused, returned unused and
 * counted. The used ring must match the model after every operation, and
 * the guest's side of the ring is never written. Any inconsistency
 * aborts. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/virtio_ring.h>
#include <rte_vhost.h>

#include "vgw_vhost.h"
#include "vgw_vring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_VID 7
#define FZ_VRING_IDX 1
#define FZ_MAX_RING 256
#define FZ_MAX_HELD 256
#define FZ_MAX_OPS 4096

/* Guest memory: regions 0 and 1 adjacent (a buffer may span them), 2 far
 * away and large enough for the chain byte limit (read-only zeroes). */
#define FZ_GPA0 0x10000ull
#define FZ_GPA1 0x14000ull
#define FZ_SMALL 0x4000ull
#define FZ_GPA2 0x40000000ull
#define FZ_BIG (128ull << 20)
#define FZ_SLOT 0x800u /* indirect tables at region 0 + slot * FZ_SLOT */

enum {
	FZ_POP,
	FZ_PUSH,
	FZ_PUT,
	FZ_PUBLISH,
	FZ_UNPOP,
	FZ_PREFETCH,
	FZ_REWALK,
	FZ_AVAIL_MOVE,
	FZ_OFFER,
	FZ_DESC_WRITE,
	FZ_MEM_WRITE,
	FZ_REMAP,
	FZ_LOG_CHECK,
	FZ_NOTIFY,
	FZ_N_OPS
};

struct fz_in {
	const uint8_t *p;
	size_t n;
};

/* A chain the device holds: popped, not returned nor given back. */
struct fz_held {
	struct vgw_vring_chain c;
	uint16_t pos; /* the avail entry it was taken from */
	uint64_t seq; /* which pop took it */
	bool broken;  /* a rewalk refused it: it can only go back unused */
};

/* The rings as the guest lays them out, with their event words. */
struct fz_used_ring {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

struct fz_avail_ring {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

static uint8_t *fz_g0, *fz_g1, *fz_g1b, *fz_big;
static struct rte_vhost_memory *fz_mems[3];
static const struct rte_vhost_memory *fz_mem;

static struct vgw_vring vr;
static uint16_t fz_size;
static struct vring_desc *fz_desc, *fz_desc_shadow;
static struct fz_avail_ring *fz_avail, *fz_avail_shadow;
static struct fz_used_ring *fz_used;
static size_t fz_avail_bytes, fz_used_bytes;

/* the model of the device's side */
static struct vring_used_elem fz_model_ring[FZ_MAX_RING];
static uint16_t fz_model_used_idx, fz_model_pub;
static uint16_t fz_model_used_flags;
static uint64_t fz_model_malformed;

static struct fz_held fz_pool[FZ_MAX_HELD];
static uint16_t fz_free[FZ_MAX_HELD], fz_n_free;
static uint16_t fz_held[FZ_MAX_HELD], fz_n_held; /* pool slots, pop order */
static uint64_t fz_seq;				 /* pops that moved last_avail: taken, refused */

static struct vgw_vring_chain fz_ref;

/* what the stubs saw */
static uint64_t fz_logged;
static uint64_t fz_features;
static bool fz_features_fail, fz_call_busy;

/* --- rte_vhost, as far as vring.c calls it ------------------------------ */

static bool
fz_gpa_mapped(uint64_t gpa, uint64_t len)
{
	const struct rte_vhost_memory *m = fz_mems[0];

	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct rte_vhost_mem_region *r = &m->regions[i];

		if (gpa >= r->guest_phys_addr && gpa - r->guest_phys_addr <= r->size &&
		    len <= r->size - (gpa - r->guest_phys_addr))
			return true;
	}
	return false;
}

void
rte_vhost_log_write(int vid, uint64_t addr, uint64_t len)
{
	if (vid != FZ_VID || len == 0 || !fz_gpa_mapped(addr, len))
		abort();
	fz_logged += len;
}

void
rte_vhost_log_used_vring(int vid, uint16_t vring_idx, uint64_t offset, uint64_t len)
{
	if (vid != FZ_VID || vring_idx != FZ_VRING_IDX || len == 0 || offset > fz_used_bytes ||
	    len > fz_used_bytes - offset)
		abort();
}

int
rte_vhost_get_negotiated_features(int vid, uint64_t *features)
{
	if (vid != FZ_VID)
		abort();
	if (fz_features_fail)
		return -1;
	*features = fz_features;
	return 0;
}

int
rte_vhost_vring_call_nonblock(int vid, uint16_t vring_idx)
{
	if (vid != FZ_VID || vring_idx != FZ_VRING_IDX)
		abort();
	return fz_call_busy ? -EAGAIN : 0;
}

int
rte_vhost_set_vring_base(int vid, uint16_t queue_id, uint16_t last_avail_idx,
			 uint16_t last_used_idx)
{
	if (vid != FZ_VID || queue_id != FZ_VRING_IDX || last_avail_idx != vr.last_avail ||
	    last_used_idx != vr.used_idx)
		abort();
	return 0;
}

/* attach, refresh and mem_get are not driven here: no ring to give */
int
rte_vhost_get_vhost_vring(int vid, uint16_t vring_idx, struct rte_vhost_vring *vring)
{
	return -1;
}

int
rte_vhost_get_vring_base(int vid, uint16_t queue_id, uint16_t *last_avail_idx,
			 uint16_t *last_used_idx)
{
	return -1;
}

struct rte_vhost_inflight_info_split *
vgw_vhost_ring_inflight(int vid, uint16_t idx, uint16_t *entries)
{
	return NULL;
}

int
rte_vhost_get_mem_table(int vid, struct rte_vhost_memory **mem)
{
	return -1;
}

/* --- the input ----------------------------------------------------------- */

static uint8_t
fz_u8(struct fz_in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t
fz_u16(struct fz_in *in)
{
	uint16_t lo = fz_u8(in);

	return (uint16_t)(lo | fz_u8(in) << 8);
}

static uint32_t
fz_u32(struct fz_in *in)
{
	uint32_t lo = fz_u16(in);

	return lo | (uint32_t)fz_u16(in) << 16;
}

/* A descriptor in 8 bytes: an address mode (where in guest memory, or
 * nowhere), an offset, a length (in 4 KiB units with bit 3 of the mode),
 * the flags and next as the guest writes them. */
static struct vring_desc
fz_desc_in(struct fz_in *in)
{
	uint8_t mode = fz_u8(in);
	uint16_t off = fz_u16(in);
	uint32_t len = fz_u16(in);
	uint8_t flags = fz_u8(in);
	uint16_t next = fz_u16(in);
	uint64_t gpa;

	switch (mode & 7) {
	case 0:
		gpa = FZ_GPA0 + off % FZ_SMALL;
		break;
	case 1:
		gpa = FZ_GPA1 + off % FZ_SMALL;
		break;
	case 2: /* an indirect table's slot */
		gpa = FZ_GPA0 + (off & 7) * FZ_SLOT;
		break;
	case 3: /* just below the boundary of regions 0 and 1 */
		gpa = FZ_GPA1 - (off & 0xff);
		break;
	case 4:
		gpa = FZ_GPA2 + (uint64_t)off * 0x1000;
		break;
	case 5: /* just below the end of region 1 */
		gpa = FZ_GPA1 + FZ_SMALL - (off & 0xfff);
		break;
	case 6:
		gpa = 0x100000000ull + off;
		break;
	default:
		gpa = (uint64_t)off << 48 | off;
		break;
	}
	if (mode & 8)
		len <<= 12;
	return (struct vring_desc){ .addr = gpa, .len = len, .flags = flags, .next = next };
}

/* Guest memory is written through both mappings of region 1. */
static void
fz_guest_write(uint16_t where, const void *p, size_t n)
{
	size_t off = (where & 0x3fff) % (FZ_SMALL - n + 1);

	if (where & 0x8000) {
		memcpy(fz_g1 + off, p, n);
		memcpy(fz_g1b + off, p, n);
	} else {
		memcpy(fz_g0 + off, p, n);
	}
}

/* --- set up -------------------------------------------------------------- */

static struct rte_vhost_memory *
fz_mem_new(uint32_t n)
{
	struct rte_vhost_memory *m = calloc(1, sizeof(*m) + n * sizeof(m->regions[0]));

	if (m == NULL)
		abort();
	m->nregions = n;
	return m;
}

static void
fz_region(struct rte_vhost_mem_region *r, uint64_t gpa, uint64_t size, void *host)
{
	*r = (struct rte_vhost_mem_region){ .guest_phys_addr = gpa,
					    .size = size,
					    .host_user_addr = (uintptr_t)host };
}

/* Three tables of the same guest memory: as given, after a remap (other
 * order, region 1 elsewhere in our memory), and with region 1 gone. */
static void
fz_init(void)
{
	struct rte_vhost_memory *m;

	if (fz_g0 != NULL)
		return;
	fz_g0 = malloc(FZ_SMALL);
	fz_g1 = malloc(FZ_SMALL);
	fz_g1b = malloc(FZ_SMALL);
	fz_big = mmap(NULL, FZ_BIG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fz_g0 == NULL || fz_g1 == NULL || fz_g1b == NULL || fz_big == MAP_FAILED)
		abort();
	m = fz_mems[0] = fz_mem_new(3);
	fz_region(&m->regions[0], FZ_GPA0, FZ_SMALL, fz_g0);
	fz_region(&m->regions[1], FZ_GPA1, FZ_SMALL, fz_g1);
	fz_region(&m->regions[2], FZ_GPA2, FZ_BIG, fz_big);
	m = fz_mems[1] = fz_mem_new(3);
	fz_region(&m->regions[0], FZ_GPA2, FZ_BIG, fz_big);
	fz_region(&m->regions[1], FZ_GPA1, FZ_SMALL, fz_g1b);
	fz_region(&m->regions[2], FZ_GPA0, FZ_SMALL, fz_g0);
	m = fz_mems[2] = fz_mem_new(2);
	fz_region(&m->regions[0], FZ_GPA0, FZ_SMALL, fz_g0);
	fz_region(&m->regions[1], FZ_GPA2, FZ_BIG, fz_big);
}

/* The ring, each part allocated to its exact size (the avail ring and the
 * used ring with their event words), so that a read past one is caught. */
static void
fz_setup(struct fz_in *in)
{
	uint8_t feat;
	uint16_t avail0, used0, n;

	fz_size = (uint16_t)(1u << (fz_u8(in) % 9));
	feat = fz_u8(in);
	avail0 = fz_u16(in);
	used0 = fz_u16(in);

	fz_avail_bytes = sizeof(*fz_avail) + (fz_size + 1u) * sizeof(uint16_t);
	fz_used_bytes =
		sizeof(*fz_used) + fz_size * sizeof(struct vring_used_elem) + sizeof(uint16_t);
	fz_desc = calloc(fz_size, sizeof(*fz_desc));
	fz_desc_shadow = calloc(fz_size, sizeof(*fz_desc));
	fz_avail = calloc(1, fz_avail_bytes);
	fz_avail_shadow = calloc(1, fz_avail_bytes);
	fz_used = calloc(1, fz_used_bytes);
	if (fz_desc == NULL || fz_desc_shadow == NULL || fz_avail == NULL ||
	    fz_avail_shadow == NULL || fz_used == NULL)
		abort();
	memset(fz_g0, 0, FZ_SMALL);
	memset(fz_g1, 0, FZ_SMALL);
	memset(fz_g1b, 0, FZ_SMALL);
	fz_mem = fz_mems[0];

	n = fz_u8(in);
	for (uint16_t i = 0; i < n && i < fz_size; i++)
		fz_desc[i] = fz_desc_in(in);
	n = fz_u8(in);
	for (uint16_t i = 0; i < n && i < fz_size; i++)
		fz_avail->ring[(uint16_t)(avail0 + i) % fz_size] = fz_u16(in);
	fz_avail->idx = (uint16_t)(avail0 + (n < fz_size ? n : fz_size));
	/* indirect tables, in their slots of region 0 */
	n = fz_u8(in) & 3;
	for (uint16_t t = 0; t < n; t++) {
		uint8_t slot = fz_u8(in) & 7;
		uint8_t cnt = fz_u8(in) % (FZ_SLOT / sizeof(struct vring_desc) + 1);

		for (uint8_t i = 0; i < cnt; i++) {
			struct vring_desc d = fz_desc_in(in);

			memcpy(fz_g0 + slot * FZ_SLOT + i * sizeof(d), &d, sizeof(d));
		}
	}
	memcpy(fz_g1b, fz_g1, FZ_SMALL);
	memcpy(fz_desc_shadow, fz_desc, fz_size * sizeof(*fz_desc));
	memcpy(fz_avail_shadow, fz_avail, fz_avail_bytes);

	memset(&vr, 0, sizeof(vr));
	vr.desc = fz_desc;
	vr.avail = (struct vring_avail *)fz_avail;
	vr.used = (struct vring_used *)fz_used;
	vr.size = fz_size;
	vr.mask = (uint16_t)(fz_size - 1);
	vr.last_avail = avail0;
	vr.avail_seen = avail0;
	vr.used_idx = used0;
	vr.vring_idx = FZ_VRING_IDX;
	vr.vid = FZ_VID;
	vr.indirect_ok = feat & 1;
	vr.event_idx = feat & 2;
	vr.log_gated = feat & 4;
	vr.log_on = feat & 8;
	vr.inflight = NULL;
	fz_used->idx = used0;
	fz_features = (feat & 0x10) ? 1ull << VHOST_F_LOG_ALL : 0;
	fz_features_fail = feat & 0x20;
	fz_call_busy = feat & 0x40;

	memset(fz_model_ring, 0, sizeof(fz_model_ring));
	fz_model_used_idx = used0;
	fz_model_pub = used0;
	fz_model_used_flags = 0;
	fz_model_malformed = 0;
	fz_n_held = 0;
	fz_n_free = FZ_MAX_HELD;
	for (uint16_t i = 0; i < FZ_MAX_HELD; i++)
		fz_free[i] = (uint16_t)(FZ_MAX_HELD - 1 - i);
	fz_seq = 0;
}

static void
fz_teardown(void)
{
	free(fz_desc);
	free(fz_desc_shadow);
	free(fz_avail);
	free(fz_avail_shadow);
	free(fz_used);
}

/* --- the oracle ---------------------------------------------------------- */

/* The region of mem holding gpa, NULL if none. */
static const struct rte_vhost_mem_region *
fz_region_of(const struct rte_vhost_memory *m, uint64_t gpa)
{
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct rte_vhost_mem_region *r = &m->regions[i];

		if (gpa >= r->guest_phys_addr && gpa - r->guest_phys_addr < r->size)
			return r;
	}
	return NULL;
}

/* The chain at head as the virtio specification and vgw_vring.h describe
 * it, walked another way (a visited set, not a hop count): into fz_ref,
 * false if it must be refused. */
static bool
fz_ref_walk(uint16_t head)
{
	static uint8_t seen[VGW_VRING_MAX_INDIRECT];
	const struct vring_desc *t = fz_desc;
	uint32_t n = fz_size, id = head, iovs = 0;
	uint64_t in_len = 0, out_len = 0;
	bool indirect = false;

	memset(seen, 0, sizeof(seen));
	fz_ref.head = head;
	fz_ref.in_cnt = 0;
	for (;;) {
		struct vring_desc d;
		uint64_t gpa, left;

		if (id >= n || seen[id])
			return false;
		seen[id] = 1;
		d = t[id];
		if (d.flags & VRING_DESC_F_INDIRECT) {
			const struct rte_vhost_mem_region *r = fz_region_of(fz_mem, d.addr);
			uintptr_t host;

			if (!vr.indirect_ok || indirect || (d.flags & VRING_DESC_F_NEXT) ||
			    d.len == 0 || d.len % sizeof(d) != 0 ||
			    d.len / sizeof(d) > VGW_VRING_MAX_INDIRECT || r == NULL ||
			    d.len > r->size - (d.addr - r->guest_phys_addr))
				return false;
			host = r->host_user_addr + (d.addr - r->guest_phys_addr);
			if (host % _Alignof(struct vring_desc) != 0)
				return false;
			t = (const struct vring_desc *)host;
			n = d.len / sizeof(d);
			id = 0;
			indirect = true;
			memset(seen, 0, sizeof(seen));
			continue;
		}
		/* a readable descriptor after writable bytes */
		if (!(d.flags & VRING_DESC_F_WRITE) && iovs != fz_ref.in_cnt)
			return false;
		for (gpa = d.addr, left = d.len; left != 0;) {
			const struct rte_vhost_mem_region *r = fz_region_of(fz_mem, gpa);
			uint64_t k;

			if (r == NULL || iovs == VGW_VRING_MAX_IOV)
				return false;
			k = r->size - (gpa - r->guest_phys_addr);
			if (k > left)
				k = left;
			fz_ref.iov[iovs].iov_base =
				(void *)(uintptr_t)(r->host_user_addr + (gpa - r->guest_phys_addr));
			fz_ref.iov[iovs].iov_len = k;
			fz_ref.out_gpa[iovs] = gpa;
			iovs++;
			gpa += k;
			left -= k;
		}
		if (d.flags & VRING_DESC_F_WRITE) {
			out_len += d.len;
		} else {
			in_len += d.len;
			fz_ref.in_cnt = (uint16_t)iovs;
		}
		if (in_len + out_len > VGW_VRING_MAX_CHAIN_BYTES)
			return false;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		id = d.next;
	}
	fz_ref.out_cnt = (uint16_t)(iovs - fz_ref.in_cnt);
	fz_ref.in_len = (uint32_t)in_len;
	fz_ref.out_len = (uint32_t)out_len;
	return true;
}

/* A chain taken: each iovec inside one region of the table it was taken
 * through, the lengths the sums of its parts, and what the other walk
 * found. */
static void
fz_check_chain(const struct vgw_vring_chain *c)
{
	uint64_t in = 0, out = 0;

	if (c->head >= fz_size || c->in_cnt + c->out_cnt > VGW_VRING_MAX_IOV)
		abort();
	for (unsigned int i = 0; i < (unsigned int)c->in_cnt + c->out_cnt; i++) {
		uintptr_t b = (uintptr_t)c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;
		bool inside = false;

		for (uint32_t j = 0; j < fz_mem->nregions; j++) {
			const struct rte_vhost_mem_region *r = &fz_mem->regions[j];

			if (b >= r->host_user_addr && b - r->host_user_addr < r->size &&
			    len <= r->size - (b - r->host_user_addr))
				inside = true;
		}
		if (!inside || len == 0)
			abort();
		if (i < c->in_cnt) {
			in += len;
		} else {
			uint64_t l = len;

			out += len;
			if (rte_vhost_va_from_guest_pa((struct rte_vhost_memory *)fz_mem,
						       c->out_gpa[i], &l) != b)
				abort();
		}
	}
	if (in != c->in_len || out != c->out_len)
		abort();
	if (c->in_cnt != fz_ref.in_cnt || c->out_cnt != fz_ref.out_cnt ||
	    c->in_len != fz_ref.in_len || c->out_len != fz_ref.out_len ||
	    memcmp(c->iov, fz_ref.iov, (c->in_cnt + c->out_cnt) * sizeof(c->iov[0])) != 0 ||
	    memcmp(c->out_gpa + c->in_cnt, fz_ref.out_gpa + c->in_cnt,
		   c->out_cnt * sizeof(c->out_gpa[0])) != 0)
		abort();
}

/* After every operation: the guest's side as the guest wrote it, the used
 * ring as the model says. */
static void
fz_check_ring(void)
{
	if (memcmp(fz_desc, fz_desc_shadow, fz_size * sizeof(*fz_desc)) != 0 ||
	    memcmp(fz_avail, fz_avail_shadow, fz_avail_bytes) != 0)
		abort();
	if (vr.used_idx != fz_model_used_idx || fz_used->idx != fz_model_pub ||
	    fz_used->flags != fz_model_used_flags || vr.malformed != fz_model_malformed ||
	    memcmp(fz_used->ring, fz_model_ring, fz_size * sizeof(fz_model_ring[0])) != 0)
		abort();
	for (uint16_t i = 0; i < fz_size; i++)
		if (fz_used->ring[i].id >= fz_size)
			abort();
	if (vr.desc != fz_desc || vr.size != fz_size || vr.inflight != NULL)
		abort();
}

static void
fz_model_return(uint16_t head, uint32_t len, bool publish)
{
	if (head >= fz_size)
		abort();
	fz_model_ring[fz_model_used_idx % fz_size] =
		(struct vring_used_elem){ .id = head, .len = len };
	fz_model_used_idx++;
	if (publish)
		fz_model_pub = fz_model_used_idx;
}

/* --- the device's operations --------------------------------------------- */

static void
fz_pop(void)
{
	struct fz_held *h;
	uint16_t have = vr.avail_seen - vr.last_avail;
	uint16_t last = vr.last_avail, seen = vr.avail_seen, head;
	bool ok;
	int ret;

	if (fz_n_free == 0)
		return; /* the device has no room for more */
	h = &fz_pool[fz_free[fz_n_free - 1]];
	if (have == 0 || have > fz_size) {
		seen = fz_avail->idx;
		if (seen == last) {
			if (vgw_vring_pop(&vr, fz_mem, &h->c) != 0 || vr.last_avail != last)
				abort();
			return;
		}
		if ((uint16_t)(seen - last) > fz_size) {
			/* more entries than the ring has: refused, nothing
			 * returned, the walker goes on from the guest's index */
			if (vgw_vring_pop(&vr, fz_mem, &h->c) != -EINVAL || vr.last_avail != seen ||
			    vr.avail_seen != seen)
				abort();
			fz_model_malformed++;
			fz_seq++;
			return;
		}
	}
	head = fz_avail->ring[last % fz_size];
	ok = fz_ref_walk(head);
	ret = vgw_vring_pop(&vr, fz_mem, &h->c);
	if (vr.last_avail != (uint16_t)(last + 1) || vr.avail_seen != seen)
		abort();
	fz_seq++;
	if (!ok) {
		/* refused: returned unused when the head is in the table */
		if (ret != -EINVAL)
			abort();
		fz_model_malformed++;
		if (head < fz_size)
			fz_model_return(head, 0, true);
		return;
	}
	if (ret != 1 || h->c.head != head || h->c.resubmitted)
		abort();
	fz_check_chain(&h->c);
	h->pos = last;
	h->seq = fz_seq;
	h->broken = false;
	fz_held[fz_n_held++] = fz_free[--fz_n_free];
}

/* The held chain sel picks, taken out of the held set. */
static struct fz_held *
fz_take(uint8_t sel)
{
	uint16_t k, slot;

	if (fz_n_held == 0)
		return NULL;
	k = sel % fz_n_held;
	slot = fz_held[k];
	memmove(&fz_held[k], &fz_held[k + 1], (fz_n_held - k - 1) * sizeof(fz_held[0]));
	fz_n_held--;
	fz_free[fz_n_free++] = slot;
	return &fz_pool[slot];
}

static void
fz_return(struct fz_in *in, bool push)
{
	struct fz_held *h = fz_take(fz_u8(in));
	uint32_t written = fz_u32(in);
	bool logs = !vr.log_gated || vr.log_on; /* push and put alike */

	if (h == NULL)
		return;
	written = h->broken ? 0 : written % (h->c.out_len + 1u);
	fz_logged = 0;
	if (push)
		vgw_vring_push(&vr, &h->c, written);
	else
		vgw_vring_put(&vr, &h->c, written);
	if (fz_logged != (logs ? written : 0))
		abort();
	fz_model_return(h->c.head, written, push);
}

/* Give back the last n chains popped, as the real callers do: only chains
 * still held, taken from the last avail entries, by the last pops (no
 * refused chain, no avail jump and no chain returned since). */
static void
fz_unpop(uint8_t want)
{
	uint16_t tail = 0, n;

	while (tail < fz_n_held) {
		const struct fz_held *h = &fz_pool[fz_held[fz_n_held - 1 - tail]];

		if (h->pos != (uint16_t)(vr.last_avail - 1 - tail) || h->seq != fz_seq - tail)
			break;
		tail++;
	}
	n = want % (tail + 1u);
	vgw_vring_unpop(&vr, n);
	for (uint16_t i = 0; i < n; i++)
		fz_free[fz_n_free++] = fz_held[--fz_n_held];
	fz_seq -= n;
}

static void
fz_prefetch(uint8_t arg)
{
	uint16_t n = arg & 0x7f, have = vr.avail_seen - vr.last_avail, seen = vr.avail_seen;
	uint16_t want, got;

	if (have == 0 || have > fz_size) {
		/* a jump past the ring is recorded too (pop then refuses it) */
		seen = fz_avail->idx;
		have = fz_avail->idx - vr.last_avail;
		if (have > fz_size)
			have = 0;
	}
	want = n < have ? n : have;
	if (want > 64)
		want = 64;
	got = vgw_vring_prefetch(&vr, n);
	if (got != want || vr.avail_seen != seen)
		abort();
}

/* Translate a held chain again (through the current table); if it no
 * longer maps, it can only be returned unused, as net_oc does. */
static void
fz_rewalk(uint8_t sel)
{
	struct fz_held *h;
	bool ok;
	int ret;

	if (fz_n_held == 0)
		return;
	h = &fz_pool[fz_held[sel % fz_n_held]];
	ok = fz_ref_walk(h->c.head);
	ret = vgw_vring_rewalk(&vr, fz_mem, &h->c);
	if (ret != (ok ? 0 : -EINVAL) || h->c.head != fz_ref.head)
		abort();
	if (ok) {
		fz_check_chain(&h->c);
		h->broken = false;
	} else {
		h->broken = true;
		h->c.in_cnt = 0;
		h->c.in_len = 0;
	}
}

/* --- the guest's ----------------------------------------------------------- */

static void
fz_avail_set(uint16_t idx)
{
	fz_avail->idx = idx;
	fz_avail_shadow->idx = idx;
}

static void
fz_offer(uint16_t head)
{
	uint16_t slot = fz_avail->idx % fz_size;

	fz_avail->ring[slot] = head;
	fz_avail_shadow->ring[slot] = head;
	fz_avail_set(fz_avail->idx + 1);
}

static void
fz_op(struct fz_in *in)
{
	uint8_t op = fz_u8(in) % FZ_N_OPS;

	switch (op) {
	case FZ_POP:
		fz_pop();
		break;
	case FZ_PUSH:
	case FZ_PUT:
		fz_return(in, op == FZ_PUSH);
		break;
	case FZ_PUBLISH:
		vgw_vring_publish(&vr);
		fz_model_pub = fz_model_used_idx;
		break;
	case FZ_UNPOP:
		fz_unpop(fz_u8(in));
		break;
	case FZ_PREFETCH:
		fz_prefetch(fz_u8(in));
		break;
	case FZ_REWALK:
		fz_rewalk(fz_u8(in));
		break;
	case FZ_AVAIL_MOVE:
		fz_avail_set(fz_avail->idx + fz_u16(in));
		break;
	case FZ_OFFER:
		fz_offer(fz_u16(in));
		break;
	case FZ_DESC_WRITE: {
		uint16_t i = fz_u8(in) % fz_size;

		fz_desc[i] = fz_desc_in(in);
		fz_desc_shadow[i] = fz_desc[i];
		break;
	}
	case FZ_MEM_WRITE: {
		uint16_t where = fz_u16(in);
		struct vring_desc d = fz_desc_in(in);

		fz_guest_write(where, &d, sizeof(d));
		break;
	}
	case FZ_REMAP:
		fz_mem = fz_mems[fz_u8(in) % 3];
		break;
	case FZ_LOG_CHECK: {
		uint8_t f = fz_u8(in);

		fz_features = (f & 1) ? 1ull << VHOST_F_LOG_ALL : 0;
		fz_features_fail = f & 2;
		vgw_vring_log_check(&vr);
		if (!vr.log_gated || vr.log_on != (fz_features_fail || (f & 1)))
			abort();
		break;
	}
	default: {
		uint8_t f = fz_u8(in);

		fz_call_busy = f & 1;
		/* the guest asks for no interrupts, or again for them */
		fz_avail->flags = (f & 4) ? VRING_AVAIL_F_NO_INTERRUPT : 0;
		fz_avail_shadow->flags = fz_avail->flags;
		if (f & 2) {
			vgw_vring_set_no_kicks(&vr);
			fz_model_used_flags = VRING_USED_F_NO_NOTIFY;
		} else {
			int ret = vgw_vring_notify(&vr);

			if (ret != 0 && ret != -EAGAIN)
				abort();
		}
		break;
	}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { .p = data, .n = size };

	if (size < 1 || size > 65536)
		return 0;
	fz_init();
	fz_setup(&in);
	fz_check_ring();
	for (unsigned int ops = 0; in.n > 0 && ops < FZ_MAX_OPS; ops++) {
		fz_op(&in);
		fz_check_ring();
	}
	fz_teardown();
	return 0;
}
