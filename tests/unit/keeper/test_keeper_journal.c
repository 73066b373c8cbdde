/* SPDX-License-Identifier: BSD-3-Clause */
/* The journal: a front-end's set-up applied as the keeper relays it, then
 * replayed into a recorder standing in for a fresh gateway. Guest memory
 * is a memfd holding the rings' used indexes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_keeper_common.h"
#include "vgw_vhost.h"

#define X(id) VGW_VHOST_MSG_##id
#define RINGS 2
#define UADDR 0x7f0000000000ull /* the region's front-end address */
#define GPA 0x100000ull
#define REG_SIZE 0x10000ull
#define MOFF 0x1000ull /* mmap_offset: the region in the memfd */
#define USED_IDX 1000u /* ring i's used->idx: USED_IDX + i */
#define FEATURES ((1ull << 32) | (1ull << VK_F_PROTOCOL_FEATURES))
#define PF_ACK ((1ull << 0) | (1ull << VK_PF_REPLY_ACK))
#define PF_NOACK (1ull << 0)
#define STATUS 0xfu
#define NO_RING UINT32_MAX

/* struct vhost_memory_region */
struct region {
	uint64_t gpa, size, uaddr, offset;
};

/* struct vhost_vring_addr */
struct vring_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
};

struct fe {
	struct vk_journal j;
	int mem; /* memfd: guest memory */
	int call[RINGS], kick[RINGS];
	int own_fds;	       /* fd entries before the journal held any */
	struct vk_msg rec[64]; /* what replay emitted */
	unsigned int n_rec, n_replies;
};

static uint64_t
ring_desc(uint32_t i)
{
	return UADDR + i * 0x4000ull;
}

static uint64_t
ring_used(uint32_t i)
{
	return ring_desc(i) + 0x2000;
}

static int
memfd(size_t size)
{
	int fd = memfd_create("tk-guest", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	return fd;
}

/* The front-end's guest writes used->idx of ring i. */
static void
write_used_idx(struct fe *f, uint64_t used, uint16_t idx)
{
	off_t off = MOFF + (used - UADDR) + 2;

	assert_int_equal(pwrite(f->mem, &idx, sizeof(idx), off), sizeof(idx));
}

static int
fe_setup(void **state)
{
	struct fe *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->mem = memfd(MOFF + REG_SIZE);
	for (uint32_t i = 0; i < RINGS; i++) {
		f->call[i] = tk_eventfd();
		f->kick[i] = tk_eventfd();
	}
	vk_journal_init(&f->j, RINGS);
	f->own_fds = tk_fd_count();
	*state = f;
	return 0;
}

static void
rec_close(struct fe *f)
{
	for (unsigned int i = 0; i < f->n_rec; i++)
		vk_msg_close_fds(&f->rec[i]);
	f->n_rec = 0;
}

static int
fe_teardown(void **state)
{
	struct fe *f = *state;

	rec_close(f);
	vk_journal_reset(&f->j);
	assert_int_equal(tk_fd_count(), f->own_fds);
	close(f->mem);
	for (uint32_t i = 0; i < RINGS; i++) {
		close(f->call[i]);
		close(f->kick[i]);
	}
	free(f);
	return 0;
}

/* Relay one message: checked, journaled; the journal keeps dups, the
 * message's own fds are then closed as the gateway's would be. */
static void
put(struct fe *f, struct vk_msg *m)
{
	char err[160] = "";

	assert_int_equal(vk_msg_check(m, RINGS, err, sizeof(err)), 0);
	assert_int_equal(vk_journal_apply(&f->j, m), 0);
	vk_msg_close_fds(m);
}

static void
put_fds(struct fe *f, uint32_t req, const void *payload, uint32_t size, const int *fds,
	unsigned int n_fds)
{
	struct vk_msg m;

	tk_msg_raw(&m, req, payload, size);
	for (m.n_fds = 0; m.n_fds < n_fds; m.n_fds++)
		m.fds[m.n_fds] = fcntl(fds[m.n_fds], F_DUPFD_CLOEXEC, 3);
	put(f, &m);
}

static void
put_u64(struct fe *f, uint32_t req, uint64_t v)
{
	put_fds(f, req, &v, sizeof(v), NULL, 0);
}

static void
put_state(struct fe *f, uint32_t req, uint32_t ring, uint32_t num)
{
	uint32_t s[2] = { ring, num };

	put_fds(f, req, s, sizeof(s), NULL, 0);
}

static void
put_ring_fd(struct fe *f, uint32_t req, uint32_t ring, int fd)
{
	uint64_t v = ring | (fd < 0 ? VK_RING_NOFD : 0);

	put_fds(f, req, &v, sizeof(v), &fd, fd < 0 ? 0 : 1);
}

static void
put_addr(struct fe *f, uint32_t ring, uint64_t used)
{
	struct vring_addr a = {
		.index = ring,
		.desc = ring_desc(ring),
		.used = used,
		.avail = ring_desc(ring) + 0x1000,
	};

	put_fds(f, X(SET_VRING_ADDR), &a, sizeof(a), NULL, 0);
}

/* A memory table of n regions, one per fd, each REG_SIZE at MOFF. */
static void
put_mem(struct fe *f, const int *fds, uint32_t n)
{
	uint8_t p[8 + VK_MAX_FDS * 32] = { 0 };

	memcpy(p, &n, sizeof(n));
	for (uint32_t i = 0; i < n; i++) {
		struct region g = { GPA + i * REG_SIZE, REG_SIZE, UADDR + i * REG_SIZE, MOFF };

		memcpy(p + 8 + 32 * i, &g, sizeof(g));
	}
	put_fds(f, X(SET_MEM_TABLE), p, 8 + 32 * n, fds, n);
}

static void
put_ring(struct fe *f, uint32_t i)
{
	put_state(f, X(SET_VRING_NUM), i, 256);
	put_state(f, X(SET_VRING_BASE), i, 0);
	put_addr(f, i, ring_used(i));
	put_ring_fd(f, X(SET_VRING_CALL), i, f->call[i]);
	put_ring_fd(f, X(SET_VRING_KICK), i, f->kick[i]);
}

/* QEMU's order of a device start; the guest then moves the used rings. */
static void
fe_start(struct fe *f, uint64_t pf)
{
	put_fds(f, X(SET_OWNER), NULL, 0, NULL, 0);
	put_u64(f, X(SET_FEATURES), FEATURES);
	put_u64(f, X(SET_PROTOCOL_FEATURES), pf);
	put_mem(f, &f->mem, 1);
	for (uint32_t i = 0; i < RINGS; i++)
		put_ring(f, i);
	for (uint32_t i = 0; i < RINGS; i++)
		put_state(f, X(SET_VRING_ENABLE), i, 1);
	put_u64(f, X(SET_STATUS), STATUS);
	for (uint32_t i = 0; i < RINGS; i++)
		write_used_idx(f, ring_used(i), USED_IDX + i);
}

static int
record(void *arg, struct vk_msg *m)
{
	struct fe *f = arg;

	assert_true(f->n_rec < sizeof(f->rec) / sizeof(f->rec[0]));
	f->rec[f->n_rec++] = *m;
	return 0;
}

static void
replay(struct fe *f, int expected)
{
	rec_close(f);
	f->n_replies = UINT32_MAX;
	assert_int_equal(vk_journal_replay(&f->j, record, f, &f->n_replies), expected);
	assert_int_equal(f->n_rec, expected);
}

static uint32_t
num_of(const struct vk_msg *m)
{
	uint32_t v;

	memcpy(&v, m->payload + 4, sizeof(v));
	return v;
}

/* The replayed message of that id (and ring), or NULL. */
static const struct vk_msg *
find(const struct fe *f, uint32_t req, uint32_t ring)
{
	for (unsigned int i = 0; i < f->n_rec; i++)
		if (f->rec[i].request == req &&
		    (ring == NO_RING || vk_msg_ring(&f->rec[i]) == ring))
			return &f->rec[i];
	return NULL;
}

struct step {
	uint32_t req, ring;
};

static const struct step start_order[] = {
	{ X(SET_OWNER), NO_RING },
	{ X(SET_FEATURES), NO_RING },
	{ X(SET_PROTOCOL_FEATURES), NO_RING },
	{ X(SET_MEM_TABLE), NO_RING },
	{ X(SET_VRING_NUM), 0 },
	{ X(SET_VRING_BASE), 0 },
	{ X(SET_VRING_ADDR), 0 },
	{ X(SET_VRING_CALL), 0 },
	{ X(SET_VRING_KICK), 0 },
	{ X(SET_VRING_NUM), 1 },
	{ X(SET_VRING_BASE), 1 },
	{ X(SET_VRING_ADDR), 1 },
	{ X(SET_VRING_CALL), 1 },
	{ X(SET_VRING_KICK), 1 },
	{ X(SET_VRING_ENABLE), 0 },
	{ X(SET_VRING_ENABLE), 1 },
	{ X(SET_STATUS), NO_RING },
};
#define N_START (int)(sizeof(start_order) / sizeof(start_order[0]))

/* The recorded messages are steps[0..n), skipping the one at skip (-1:
 * none); each one a message a front-end could have sent. */
static void
expect_order(const struct fe *f, const struct step *steps, int n, int skip)
{
	unsigned int k = 0;

	for (int i = 0; i < n; i++) {
		char err[160] = "";

		if (i == skip)
			continue;
		assert_true(k < f->n_rec);
		assert_int_equal(f->rec[k].request, steps[i].req);
		if (steps[i].ring != NO_RING)
			assert_int_equal(vk_msg_ring(&f->rec[k]), steps[i].ring);
		assert_int_equal(vk_msg_check(&f->rec[k], RINGS, err, sizeof(err)), 0);
		k++;
	}
	assert_int_equal(k, f->n_rec);
}

/* Emitted fds are fds of their own on the journal's files. */
static void
expect_dup(const struct vk_msg *m, int orig, const struct vk_journal *j, int kept)
{
	assert_non_null(m);
	assert_int_equal(m->n_fds, 1);
	assert_int_not_equal(m->fds[0], orig);
	assert_int_not_equal(m->fds[0], kept);
	assert_true(tk_same_file(m->fds[0], orig));
}

static void
expect_flags(const struct fe *f, bool ack)
{
	for (unsigned int i = 0; i < f->n_rec; i++)
		assert_int_equal(f->rec[i].flags, VK_FLAG_VERSION | (ack ? VK_FLAG_NEED_REPLY : 0));
	assert_int_equal(f->n_replies, ack ? f->n_rec : 0);
}

static void
expect_payloads(const struct fe *f)
{
	struct vring_addr a;

	assert_int_equal(vk_msg_u64(find(f, X(SET_FEATURES), NO_RING)), FEATURES);
	assert_int_equal(vk_msg_u64(find(f, X(SET_STATUS), NO_RING)), STATUS);
	for (uint32_t i = 0; i < RINGS; i++) {
		assert_int_equal(num_of(find(f, X(SET_VRING_NUM), i)), 256);
		assert_int_equal(num_of(find(f, X(SET_VRING_ENABLE), i)), 1);
		memcpy(&a, find(f, X(SET_VRING_ADDR), i)->payload, sizeof(a));
		assert_int_equal(a.index, i);
		assert_int_equal(a.used, ring_used(i));
		assert_int_equal(a.desc, ring_desc(i));
	}
}

static void
replay_of_a_started_device(bool ack)
{
	struct fe *f;

	fe_setup((void **)&f);
	fe_start(f, ack ? PF_ACK : PF_NOACK);
	replay(f, N_START);
	expect_order(f, start_order, N_START, -1);
	expect_flags(f, ack);
	expect_payloads(f);
	assert_int_equal(vk_msg_u64(find(f, X(SET_PROTOCOL_FEATURES), NO_RING)),
			 ack ? PF_ACK : PF_NOACK);
	expect_dup(find(f, X(SET_MEM_TABLE), NO_RING), f->mem, &f->j, f->j.mem_fds[0]);
	for (uint32_t i = 0; i < RINGS; i++) {
		/* a started ring goes on where the guest's used index is */
		assert_int_equal(num_of(find(f, X(SET_VRING_BASE), i)), USED_IDX + i);
		expect_dup(find(f, X(SET_VRING_CALL), i), f->call[i], &f->j, f->j.rings[i].call_fd);
		expect_dup(find(f, X(SET_VRING_KICK), i), f->kick[i], &f->j, f->j.rings[i].kick_fd);
		assert_true(tk_event_works(find(f, X(SET_VRING_KICK), i)->fds[0], f->kick[i]));
	}
	fe_teardown((void **)&f);
}

static void
replay_with_reply_ack(void **state)
{
	replay_of_a_started_device(true);
}

static void
replay_without_reply_ack(void **state)
{
	replay_of_a_started_device(false);
}

static void
stopped_ring_replayed_at_its_answered_base(void **state)
{
	struct fe *f = *state;
	int held;
	struct vk_msg req, reply;
	uint32_t s[2] = { 0, 555 };

	fe_start(f, PF_ACK);
	held = tk_fd_count();
	tk_msg_raw(&req, X(GET_VRING_BASE), s, sizeof(s));
	tk_msg_raw(&reply, X(GET_VRING_BASE), s, sizeof(s));
	reply.flags |= VK_FLAG_REPLY;
	put(f, &req);
	assert_int_equal(vk_journal_apply_reply(&f->j, &req, &reply), 0);
	assert_int_equal(tk_fd_count(), held - 1); /* the kick fd let go */
	assert_false(f->j.rings[0].started);
	replay(f, N_START - 1);
	expect_order(f, start_order, N_START, 8); /* no kick for ring 0 */
	assert_int_equal(num_of(find(f, X(SET_VRING_BASE), 0)), 555);
	assert_int_equal(num_of(find(f, X(SET_VRING_BASE), 1)), USED_IDX + 1);
	assert_null(find(f, X(SET_VRING_KICK), 0));
	assert_non_null(find(f, X(SET_VRING_KICK), 1));
}

static void
inflight_reply_replayed_as_set(void **state)
{
	struct fe *f = *state;
	uint64_t q[3] = { 0, 0, (256ull << 16) | RINGS }, a[3] = { 8192, 0, q[2] };
	int region = memfd(8192);
	struct vk_msg req, reply;
	const struct vk_msg *m;

	fe_start(f, PF_ACK);
	tk_msg_raw(&req, X(GET_INFLIGHT_FD), q, sizeof(q));
	put(f, &req);
	tk_msg_raw(&reply, X(GET_INFLIGHT_FD), a, sizeof(a));
	reply.flags |= VK_FLAG_REPLY;
	reply.fds[reply.n_fds++] = region;
	assert_int_equal(vk_journal_apply_reply(&f->j, &req, &reply), 0);
	replay(f, N_START + 1);
	m = &f->rec[3]; /* after the protocol features, before the memory table */
	assert_int_equal(m->request, X(SET_INFLIGHT_FD));
	assert_int_equal(m->size, sizeof(a));
	assert_memory_equal(m->payload, a, sizeof(a));
	expect_dup(m, region, &f->j, f->j.inflight_fd);
	assert_int_equal(f->rec[4].request, X(SET_MEM_TABLE));
	close(region);
}

/* A refused GET_INFLIGHT_FD (an ack of 1, no fd) records no region. */
static void
inflight_refusal_records_nothing(void **state)
{
	struct fe *f = *state;
	uint64_t q[3] = { 0, 0, (256ull << 16) | RINGS };
	struct vk_msg req, reply;

	fe_start(f, PF_ACK);
	tk_msg_raw(&req, X(GET_INFLIGHT_FD), q, sizeof(q));
	put(f, &req);
	tk_msg_raw(&reply, X(GET_INFLIGHT_FD), NULL, 0);
	reply.flags |= VK_FLAG_REPLY;
	vk_msg_set_u64(&reply, 1);
	assert_int_equal(vk_journal_apply_reply(&f->j, &req, &reply), 0);
	assert_false(f->j.inflight_set);
	replay(f, N_START);
	assert_null(find(f, X(SET_INFLIGHT_FD), NO_RING));
}

static void
second_mem_table_replaces_the_first(void **state)
{
	struct fe *f = *state;
	int other[2] = { memfd(MOFF + REG_SIZE), memfd(MOFF + REG_SIZE) };
	int own = tk_fd_count();
	const struct vk_msg *m;

	put_mem(f, &f->mem, 1);
	assert_int_equal(tk_fd_count(), own + 1);
	put_mem(f, other, 2);
	assert_int_equal(tk_fd_count(), own + 2); /* the first one closed */
	replay(f, 1);
	m = &f->rec[0];
	assert_int_equal(m->request, X(SET_MEM_TABLE));
	assert_int_equal(m->size, 8 + 2 * 32);
	assert_int_equal(m->n_fds, 2);
	assert_true(tk_same_file(m->fds[0], other[0]));
	assert_true(tk_same_file(m->fds[1], other[1]));
	rec_close(f);
	close(other[0]);
	close(other[1]);
}

/* Everything the journal keeps an fd for, then RESET_OWNER or a reset. */
static void
fe_start_all(struct fe *f)
{
	uint64_t log[2] = { 4096, 0 }, inflight[3] = { 4096, 0, (256ull << 16) | RINGS };
	int extra = memfd(4096);

	fe_start(f, PF_ACK);
	put_u64(f, X(SET_FEATURES), FEATURES | (1ull << VK_F_LOG_ALL));
	put_fds(f, X(SET_BACKEND_REQ_FD), NULL, 0, &extra, 1);
	put_fds(f, X(SET_LOG_BASE), log, sizeof(log), &extra, 1);
	put_fds(f, X(SET_INFLIGHT_FD), inflight, sizeof(inflight), &extra, 1);
	put_u64(f, X(NET_SET_MTU), 9000);
	for (uint32_t i = 0; i < RINGS; i++)
		put_ring_fd(f, X(SET_VRING_ERR), i, extra);
	close(extra);
	/* mem, log, inflight, back-end, per ring call, kick, err */
	assert_int_equal(tk_fd_count(), f->own_fds + 4 + 3 * RINGS);
}

static void
reset_owner_empties_the_journal(void **state)
{
	struct fe *f = *state;

	fe_start_all(f);
	replay(f, N_START + 4 + RINGS);
	rec_close(f);
	put_fds(f, X(RESET_OWNER), NULL, 0, NULL, 0);
	assert_int_equal(tk_fd_count(), f->own_fds);
	replay(f, 0);
	assert_int_equal(f->n_replies, 0);
}

static void
reset_closes_every_fd(void **state)
{
	struct fe *f = *state;

	fe_start_all(f);
	vk_journal_reset(&f->j);
	assert_int_equal(tk_fd_count(), f->own_fds);
	assert_int_equal(f->j.max_rings, RINGS);
	replay(f, 0);
}

static void
used_idx_outside_every_region(void **state)
{
	struct fe *f = *state;
	static const uint64_t outside[] = {
		UADDR + REG_SIZE, UADDR + REG_SIZE - 2, UADDR - 8, 0, UINT64_MAX - 1,
	};
	uint16_t idx = 0;

	put_addr(f, 0, ring_used(0));
	assert_int_equal(vk_journal_used_idx(&f->j, 0, &idx), -ENOENT); /* no table */
	put_mem(f, &f->mem, 1);
	write_used_idx(f, ring_used(0), 321);
	assert_int_equal(vk_journal_used_idx(&f->j, 0, &idx), 0);
	assert_int_equal(idx, 321);
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		put_addr(f, 0, outside[i]);
		assert_int_equal(vk_journal_used_idx(&f->j, 0, &idx), -ENOENT);
	}
	assert_int_equal(vk_journal_used_idx(&f->j, 1, &idx), -ENOENT); /* no address */
}

/* A one-region table as the front-end describes it, on the fixture's
 * memfd (MOFF + REG_SIZE bytes long). */
static void
put_region(struct fe *f, uint64_t uaddr, uint64_t size, uint64_t offset)
{
	uint8_t p[8 + 32] = { 1 };
	struct region g = { GPA, size, uaddr, offset };

	memcpy(p + 8, &g, sizeof(g));
	put_fds(f, X(SET_MEM_TABLE), p, sizeof(p), &f->mem, 1);
}

/* A table may claim more than its fd holds, or place a ring where the
 * sums wrap: the used index is not read (reading past the end of a
 * file is SIGBUS), the ring goes on at its base. */
static void
used_idx_beyond_the_fd(void **state)
{
	static const struct {
		uint64_t uaddr, size, offset, used;
	} rows[] = {
		{ UADDR, 1ull << 30, MOFF, UADDR + 0x100000 },
		{ UADDR, REG_SIZE, 1ull << 30, UADDR },
		{ UADDR, REG_SIZE, UINT64_MAX - 1, UADDR },
		{ 0, UINT64_MAX, 0, UINT64_MAX - 8 },
	};
	struct fe *f = *state;
	uint16_t idx;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		put_region(f, rows[i].uaddr, rows[i].size, rows[i].offset);
		put_addr(f, 0, rows[i].used);
		assert_int_equal(vk_journal_used_idx(&f->j, 0, &idx), -EFAULT);
	}
	put_region(f, 0, REG_SIZE, 0);
	put_addr(f, 0, UINT64_MAX - 1); /* used - uaddr + 4 wraps to 2 */
	assert_int_equal(vk_journal_used_idx(&f->j, 0, &idx), -ENOENT);
}

/* used->idx across a page boundary (an odd ring address) reads both
 * bytes from the file. */
static void
used_idx_across_a_page(void **state)
{
	struct fe *f = *state;
	uint64_t used = UADDR + 0x1000 - 3; /* idx at file offset MOFF + 0xfff */
	uint16_t idx = 0;

	put_region(f, UADDR, REG_SIZE, MOFF);
	put_addr(f, 0, used);
	write_used_idx(f, used, 0xabcd);
	assert_int_equal(vk_journal_used_idx(&f->j, 0, &idx), 0);
	assert_int_equal(idx, 0xabcd);
}

/* A started ring whose used index cannot be read goes on at the base the
 * front-end gave. */
static void
unreadable_used_idx_falls_back_to_the_base(void **state)
{
	struct fe *f = *state;

	put_mem(f, &f->mem, 1);
	put_state(f, X(SET_VRING_BASE), 0, 7);
	put_addr(f, 0, UADDR + REG_SIZE);
	put_ring_fd(f, X(SET_VRING_KICK), 0, -1);
	replay(f, 4);
	assert_int_equal(num_of(find(f, X(SET_VRING_BASE), 0)), 7);
	assert_int_equal(find(f, X(SET_VRING_KICK), 0)->n_fds, 0);
	assert_int_equal(vk_msg_u64(find(f, X(SET_VRING_KICK), 0)), VK_RING_NOFD);
}

#define FE_TEST(f) cmocka_unit_test_setup_teardown(f, fe_setup, fe_teardown)

int
tk_journal_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replay_with_reply_ack),
		cmocka_unit_test(replay_without_reply_ack),
		FE_TEST(stopped_ring_replayed_at_its_answered_base),
		FE_TEST(inflight_reply_replayed_as_set),
		FE_TEST(inflight_refusal_records_nothing),
		FE_TEST(second_mem_table_replaces_the_first),
		FE_TEST(reset_owner_empties_the_journal),
		FE_TEST(reset_closes_every_fd),
		FE_TEST(used_idx_outside_every_region),
		FE_TEST(used_idx_beyond_the_fd),
		FE_TEST(used_idx_across_a_page),
		FE_TEST(unreadable_used_idx_falls_back_to_the_base),
	};

	return cmocka_run_group_tests_name("keeper_journal", tests, NULL, NULL);
}
