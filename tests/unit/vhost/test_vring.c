/* SPDX-License-Identifier: BSD-3-Clause */
/* The split-ring walker (lib/vhost/vring.c) against a fake memory table
 * and rings in this process's memory, no EAL: every chain the guest can
 * write is either taken whole or refused (returned with length 0 and
 * counted) while the ring keeps serving. rte_vhost's dirty-log calls are
 * wrapped (-Wl,--wrap) and counted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/virtio_ring.h>
#include <rte_vhost.h>

#include "vgw_vring.h"

#define RING 512
#define GPA0 0x10000ull	      /* region 0: 64 KiB at buf0 */
#define GPA1 0x20000ull	      /* region 1: 64 KiB at buf1, right after 0 */
#define GPA_BIG 0x10000000ull /* region 2: 1 GiB, never touched */
#define REGION 0x10000ull

static uint8_t buf0[REGION], buf1[REGION];
static struct vring_desc desc[RING];
static struct {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[RING];
} avail;
static struct {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[RING];
} used;
static struct rte_vhost_memory *mem;
static struct vgw_vring vr;
static struct vgw_vring_chain chain;
static unsigned int log_writes, log_used;
static uint64_t log_gpa, log_len;

void __wrap_rte_vhost_log_write(int vid, uint64_t addr, uint64_t len);
void __wrap_rte_vhost_log_used_vring(int vid, uint16_t vring_idx, uint64_t offset, uint64_t len);

void
__wrap_rte_vhost_log_write(int vid, uint64_t addr, uint64_t len)
{
	log_writes++;
	log_gpa = addr;
	log_len = len;
}

void
__wrap_rte_vhost_log_used_vring(int vid, uint16_t vring_idx, uint64_t offset, uint64_t len)
{
	log_used++;
}

/* attach's view of the ring (rte_vhost, wrapped) and of the front-end's
 * inflight region (vgw_vhost_ring_inflight, wrapped): the area and the
 * entries SET_INFLIGHT_FD gave for it. */
static uint16_t region_entries;
static struct rte_vhost_inflight_info_split *region;
/* a header and one entry; a header and RING entries */
static uint64_t small_buf[(16 + 16) / 8], ring_buf[(16 + 16 * RING) / 8];

int __wrap_rte_vhost_get_vhost_vring(int vid, uint16_t vring_idx, struct rte_vhost_vring *vring);
int __wrap_rte_vhost_get_vring_base(int vid, uint16_t queue_id, uint16_t *last_avail_idx,
				    uint16_t *last_used_idx);
struct rte_vhost_inflight_info_split *__wrap_vgw_vhost_ring_inflight(int vid, uint16_t idx,
								     uint16_t *entries);

int
__wrap_rte_vhost_get_vhost_vring(int vid, uint16_t vring_idx, struct rte_vhost_vring *vring)
{
	memset(vring, 0, sizeof(*vring));
	vring->desc = desc;
	vring->avail = (struct vring_avail *)&avail;
	vring->used = (struct vring_used *)&used;
	vring->size = RING;
	return 0;
}

int
__wrap_rte_vhost_get_vring_base(int vid, uint16_t queue_id, uint16_t *last_avail_idx,
				uint16_t *last_used_idx)
{
	*last_avail_idx = *last_used_idx = 0;
	return 0;
}

struct rte_vhost_inflight_info_split *
__wrap_vgw_vhost_ring_inflight(int vid, uint16_t idx, uint16_t *entries)
{
	*entries = region_entries;
	return region;
}

static int
setup(void **state)
{
	struct rte_vhost_mem_region *r;

	mem = calloc(1, sizeof(*mem) + 3 * sizeof(mem->regions[0]));
	assert_non_null(mem);
	mem->nregions = 3;
	r = mem->regions;
	r[0] = (struct rte_vhost_mem_region){ .guest_phys_addr = GPA0,
					      .size = REGION,
					      .host_user_addr = (uintptr_t)buf0 };
	r[1] = (struct rte_vhost_mem_region){ .guest_phys_addr = GPA1,
					      .size = REGION,
					      .host_user_addr = (uintptr_t)buf1 };
	r[2] = (struct rte_vhost_mem_region){ .guest_phys_addr = GPA_BIG,
					      .size = 1ull << 30,
					      .host_user_addr = 0x100000000000ull };
	memset(desc, 0, sizeof(desc));
	memset(&avail, 0, sizeof(avail));
	memset(&used, 0, sizeof(used));
	memset(&vr, 0, sizeof(vr));
	vr.desc = desc;
	vr.avail = (struct vring_avail *)&avail;
	vr.used = (struct vring_used *)&used;
	vr.size = RING;
	vr.mask = RING - 1;
	log_writes = log_used = 0;
	*state = NULL;
	return 0;
}

static int
teardown(void **state)
{
	free(mem);
	return 0;
}

static void
set_desc(uint16_t i, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	desc[i] = (struct vring_desc){ .addr = gpa, .len = len, .flags = flags, .next = next };
}

/* Offer head to the guest's side of the ring. */
static void
offer(uint16_t head)
{
	avail.ring[avail.idx % RING] = head;
	avail.idx++;
}

/* The next pop refuses the chain at head: -EINVAL, counted, returned with
 * length 0 when the head is in the table. */
static void
assert_refused(uint16_t head)
{
	uint64_t malformed = vr.malformed;
	uint16_t used_idx = used.idx;

	offer(head);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), -EINVAL);
	assert_int_equal(vr.malformed, malformed + 1);
	if (head < RING) {
		assert_int_equal(used.idx, (uint16_t)(used_idx + 1));
		assert_int_equal(used.ring[used_idx % RING].id, head);
		assert_int_equal(used.ring[used_idx % RING].len, 0);
	} else {
		assert_int_equal(used.idx, used_idx);
	}
}

/* After any refusal a good chain is still served. */
static void
assert_serves(void)
{
	set_desc(100, GPA0 + 0x800, 64, VRING_DESC_F_NEXT, 101);
	set_desc(101, GPA1 + 0x100, 128, VRING_DESC_F_WRITE, 0);
	offer(100);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	assert_int_equal(chain.head, 100);
	assert_int_equal(chain.in_cnt, 1);
	assert_int_equal(chain.out_cnt, 1);
	vgw_vring_push(&vr, &chain, 16);
	assert_int_equal(used.ring[(uint16_t)(used.idx - 1) % RING].id, 100);
}

static void
test_empty(void **state)
{
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 0);
	assert_int_equal(vr.malformed, 0);
}

/* Two readable buffers then two writable ones, one of them across the
 * boundary of regions 0 and 1: five iovecs, the right host addresses. */
static void
test_normal_chain(void **state)
{
	set_desc(3, GPA0 + 0x100, 40, VRING_DESC_F_NEXT, 7);
	set_desc(7, GPA1 + 0x200, 4096, VRING_DESC_F_NEXT, 1);
	set_desc(1, GPA1 - 0x10, 0x30, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(2, GPA0 + 0x1000, 100, VRING_DESC_F_WRITE, 0);
	offer(3);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	assert_int_equal(chain.head, 3);
	assert_int_equal(chain.in_cnt, 2);
	assert_int_equal(chain.out_cnt, 3);
	assert_int_equal(chain.in_len, 40 + 4096);
	assert_int_equal(chain.out_len, 0x30 + 100);
	assert_ptr_equal(chain.iov[0].iov_base, buf0 + 0x100);
	assert_int_equal(chain.iov[0].iov_len, 40);
	assert_ptr_equal(chain.iov[1].iov_base, buf1 + 0x200);
	assert_ptr_equal(chain.iov[2].iov_base, buf0 + REGION - 0x10);
	assert_int_equal(chain.iov[2].iov_len, 0x10);
	assert_ptr_equal(chain.iov[3].iov_base, buf1);
	assert_int_equal(chain.iov[3].iov_len, 0x20);
	assert_int_equal(chain.out_gpa[3], GPA1);
	assert_ptr_equal(chain.iov[4].iov_base, buf0 + 0x1000);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 0);

	/* 0x18 bytes written: the first writable iovec whole, 8 bytes of the
	 * second, each logged; then the used element and index */
	vgw_vring_push(&vr, &chain, 0x18);
	assert_int_equal(used.idx, 1);
	assert_int_equal(used.ring[0].id, 3);
	assert_int_equal(used.ring[0].len, 0x18);
	assert_int_equal(log_writes, 2);
	assert_int_equal(log_gpa, GPA1);
	assert_int_equal(log_len, 8);
	assert_int_equal(log_used, 2);
	assert_int_equal(vr.malformed, 0);
}

/* Indirect descriptors are not offered: refused, at the head or later. */
static void
test_indirect(void **state)
{
	set_desc(5, GPA0, 16 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	assert_refused(5);
	set_desc(6, GPA0, 16, VRING_DESC_F_NEXT, 5);
	assert_refused(6);
	assert_serves();
}

/* With INDIRECT_DESC negotiated (net): a table whole in one region, of
 * readable then writable entries, is taken; every way to break one is
 * refused and the ring goes on serving. */
static void
test_indirect_offered(void **state)
{
	struct vring_desc *t = (struct vring_desc *)(buf0 + 0x2000);

	vr.indirect_ok = true;
	t[0] = (struct vring_desc){
		.addr = GPA1, .len = 12, .flags = VRING_DESC_F_NEXT, .next = 2
	};
	t[2] = (struct vring_desc){
		.addr = GPA1 + 64, .len = 1500, .flags = VRING_DESC_F_NEXT, .next = 1
	};
	t[1] = (struct vring_desc){ .addr = GPA0 + 0x100, .len = 64, .flags = VRING_DESC_F_WRITE };
	set_desc(9, GPA0 + 0x2000, 3 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	offer(9);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	assert_int_equal(chain.head, 9);
	assert_int_equal(chain.in_cnt, 2);
	assert_int_equal(chain.out_cnt, 1);
	assert_int_equal(chain.in_len, 1512);
	assert_ptr_equal(chain.iov[1].iov_base, buf1 + 64);
	assert_ptr_equal(chain.iov[2].iov_base, buf0 + 0x100);
	vgw_vring_push(&vr, &chain, 0);
	/* after direct descriptors, as the last one */
	set_desc(10, GPA1 + 0x400, 12, VRING_DESC_F_NEXT, 9);
	offer(10);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	assert_int_equal(chain.in_cnt, 3);
	vgw_vring_push(&vr, &chain, 0);

	/* INDIRECT with NEXT */
	set_desc(11, GPA0 + 0x2000, 48, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 9);
	assert_refused(11);
	/* a table of no whole entries, empty, or too large */
	set_desc(12, GPA0 + 0x2000, 40, VRING_DESC_F_INDIRECT, 0);
	assert_refused(12);
	set_desc(12, GPA0 + 0x2000, 0, VRING_DESC_F_INDIRECT, 0);
	assert_refused(12);
	set_desc(12, GPA0, (VGW_VRING_MAX_INDIRECT + 1) * sizeof(struct vring_desc),
		 VRING_DESC_F_INDIRECT, 0);
	assert_refused(12);
	/* across two regions, or outside every one */
	set_desc(12, GPA1 - 16, 48, VRING_DESC_F_INDIRECT, 0);
	assert_refused(12);
	set_desc(12, 0x5000000ull, 48, VRING_DESC_F_INDIRECT, 0);
	assert_refused(12);
	/* an indirect entry inside the table */
	t[1] = (struct vring_desc){ .addr = GPA0 + 0x2000,
				    .len = 48,
				    .flags = VRING_DESC_F_INDIRECT };
	assert_refused(9);
	/* a loop inside the table, and a next out of it */
	t[1] = (struct vring_desc){ .addr = GPA0, .len = 8, .flags = VRING_DESC_F_NEXT, .next = 0 };
	assert_refused(9);
	t[1] = (struct vring_desc){ .addr = GPA0, .len = 8, .flags = VRING_DESC_F_NEXT, .next = 3 };
	assert_refused(9);
	assert_serves();
}

/* put writes used elements without publishing them; publish shows them
 * all at once; unpop gives back chains not pushed. */
static void
test_put_publish_unpop(void **state)
{
	set_desc(20, GPA0 + 0x100, 64, VRING_DESC_F_WRITE, 0);
	set_desc(21, GPA0 + 0x200, 64, VRING_DESC_F_WRITE, 0);
	set_desc(22, GPA0 + 0x300, 64, VRING_DESC_F_WRITE, 0);
	offer(20);
	offer(21);
	offer(22);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	vgw_vring_put(&vr, &chain, 10);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	vgw_vring_put(&vr, &chain, 20);
	assert_int_equal(used.idx, 0);
	assert_int_equal(log_writes, 2);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	assert_int_equal(chain.head, 22);
	vgw_vring_unpop(&vr, 1);
	vgw_vring_publish(&vr);
	assert_int_equal(used.idx, 2);
	assert_int_equal(used.ring[0].id, 20);
	assert_int_equal(used.ring[1].len, 20);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	assert_int_equal(chain.head, 22);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 0);
}

/* An in-order batch (used_batch, VIRTIO_F_IN_ORDER): put writes no
 * element; publish writes one, the last chain's, in the batch's last slot,
 * and moves the index by the whole batch; a refused chain in between
 * writes the batch's element first; logging logs what was written. */
static void
test_inorder_batch(void **state)
{
	vr.used_batch = true;
	for (uint16_t i = 0; i < 4; i++) {
		set_desc(30 + i, GPA0 + 0x100 * i, 64, 0, 0);
		offer(30 + i);
	}
	memset(used.ring, 0xff, sizeof(used.ring));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
		vgw_vring_put(&vr, &chain, 0);
	}
	assert_int_equal(used.idx, 0);
	assert_int_equal(used.ring[0].id, 0xffffffffu);
	vgw_vring_publish(&vr);
	assert_int_equal(used.idx, 3);
	assert_int_equal(used.ring[2].id, 32);
	assert_int_equal(used.ring[2].len, 0);
	assert_int_equal(used.ring[0].id, 0xffffffffu); /* never written */
	assert_int_equal(used.ring[1].id, 0xffffffffu);
	/* a batch of one, then a refused chain: the batch's element first */
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	vgw_vring_put(&vr, &chain, 0);
	set_desc(7, GPA0, 16, VRING_DESC_F_NEXT, 7); /* a loop */
	offer(7);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), -EINVAL);
	assert_int_equal(used.idx, 5);
	assert_int_equal(used.ring[3].id, 33);
	assert_int_equal(used.ring[4].id, 7);
	assert_int_equal(used.ring[4].len, 0);
	/* logging on: the one element written is logged, with its buffers */
	vr.log_gated = true;
	vr.log_on = true;
	log_used = 0;
	set_desc(40, GPA0 + 0x800, 64, VRING_DESC_F_WRITE, 0);
	set_desc(41, GPA0 + 0x900, 64, VRING_DESC_F_WRITE, 0);
	offer(40);
	offer(41);
	log_writes = 0;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
		vgw_vring_put(&vr, &chain, 8);
	}
	assert_int_equal(log_writes, 2);
	vgw_vring_publish(&vr);
	assert_int_equal(used.idx, 7);
	assert_int_equal(used.ring[6].id, 41);
	assert_int_equal(used.ring[6].len, 8);
	assert_int_equal(log_used, 2); /* the element and the index */
}

/* Loops, of one descriptor and of several, and next or head out of the
 * table. */
static void
test_loops_and_indices(void **state)
{
	set_desc(9, GPA0, 16, VRING_DESC_F_NEXT, 9);
	assert_refused(9);
	set_desc(10, GPA0, 16, VRING_DESC_F_NEXT, 11);
	set_desc(11, GPA0, 16, VRING_DESC_F_NEXT, 12);
	set_desc(12, GPA0, 16, VRING_DESC_F_NEXT, 10);
	assert_refused(10);
	set_desc(13, GPA0, 16, VRING_DESC_F_NEXT, RING);
	assert_refused(13);
	assert_refused(RING);
	assert_refused(0xffff);
	assert_serves();
}

/* Buffers outside guest memory, wholly or partly, and a readable buffer
 * after a writable one. */
static void
test_bad_addresses(void **state)
{
	set_desc(20, 0x0, 16, 0, 0);
	assert_refused(20);
	set_desc(21, GPA1 + REGION - 8, 16, VRING_DESC_F_WRITE, 0);
	assert_refused(21);
	set_desc(22, GPA0, 16, VRING_DESC_F_NEXT, 23);
	set_desc(23, 0xffffffffffff0000ull, 0x8000, 0, 0);
	assert_refused(22);
	set_desc(24, GPA0, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 25);
	set_desc(25, GPA0 + 16, 16, 0, 0);
	assert_refused(24);
	assert_serves();
}

/* Chains too long: more bytes than VGW_VRING_MAX_CHAIN_BYTES, more
 * buffers than VGW_VRING_MAX_IOV (each limit itself taken), and the avail
 * index ahead by more than the ring. */
static void
test_too_long(void **state)
{
	uint16_t used_idx;

	set_desc(30, GPA_BIG, VGW_VRING_MAX_CHAIN_BYTES / 2, VRING_DESC_F_NEXT, 31);
	set_desc(31, GPA_BIG, VGW_VRING_MAX_CHAIN_BYTES / 2, VRING_DESC_F_NEXT, 32);
	set_desc(32, GPA_BIG, 1, 0, 0);
	assert_refused(30);
	set_desc(32, GPA_BIG, 0, 0, 0);
	offer(30);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	assert_int_equal(chain.in_len, VGW_VRING_MAX_CHAIN_BYTES);
	vgw_vring_push(&vr, &chain, 0);

	for (uint16_t i = 0; i < VGW_VRING_MAX_IOV + 1; i++)
		set_desc(200 + i, GPA0 + i, 1,
			 VRING_DESC_F_WRITE | (i < VGW_VRING_MAX_IOV ? VRING_DESC_F_NEXT : 0),
			 201 + i);
	assert_refused(200);
	desc[200 + VGW_VRING_MAX_IOV - 1].flags = VRING_DESC_F_WRITE;
	offer(200);
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), 1);
	assert_int_equal(chain.out_cnt, VGW_VRING_MAX_IOV);
	vgw_vring_push(&vr, &chain, 0);

	/* the guest claims RING + 1 new entries: refused, nothing returned,
	 * and the walker goes on from the guest's index */
	used_idx = used.idx;
	avail.idx += RING + 1;
	assert_int_equal(vgw_vring_pop(&vr, mem, &chain), -EINVAL);
	assert_int_equal(used.idx, used_idx);
	assert_int_equal(vr.last_avail, avail.idx);
	assert_serves();
}

/* The front-end's area is as large as SET_INFLIGHT_FD said, whatever its
 * header (the front-end's to write) claims: an area of one entry is
 * refused for a ring of RING; one of RING whose desc_num claims 32768 is
 * taken and scanned over the ring's heads only, its head in flight taken
 * again. */
static void
test_attach_inflight_entries(void **state)
{
	struct rte_vhost_inflight_info_split *small = (void *)small_buf, *full = (void *)ring_buf;

	(void)state;
	memset(small_buf, 0, sizeof(small_buf));
	small->version = 1;
	small->desc_num = 32768;
	region = small;
	region_entries = 1;
	assert_int_equal(vgw_vring_attach(&vr, 0, 1, NULL), -EINVAL);
	assert_null(vr.inflight);

	memset(ring_buf, 0, sizeof(ring_buf));
	full->version = 1;
	full->desc_num = 32768;
	full->last_inflight_io = 0xffff;
	full->desc[7].inflight = 1;
	full->desc[7].counter = 1;
	region = full;
	region_entries = RING;
	assert_int_equal(vgw_vring_attach(&vr, 0, 1, NULL), 0);
	assert_ptr_equal(vr.inflight, full);
	assert_int_equal(vr.n_resubmit, 1);
	assert_int_equal(vr.resubmit[0], 7);
	vgw_vring_detach(&vr);
	region = NULL;
	region_entries = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_normal_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_offered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_publish_unpop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inorder_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops_and_indices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_inflight_entries, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
