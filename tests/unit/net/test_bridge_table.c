/* SPDX-License-Identifier: BSD-3-Clause */

/* Unit tests of the lock-free MAC learning table (lib/net/bridge_table.c),
 * built without DPDK. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sched.h>

#include <cmocka.h>

#include "bridge_table.h"

#define SEED UINT64_C(0x5eed5eed12345678)

/* A locally administered unicast MAC numbered id: 02:00:id (big endian). */
static void
mac_of(uint32_t id, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x00;
	mac[2] = (uint8_t)(id >> 24);
	mac[3] = (uint8_t)(id >> 16);
	mac[4] = (uint8_t)(id >> 8);
	mac[5] = (uint8_t)id;
}

static uint32_t
id_of(const uint8_t mac[6])
{
	return (uint32_t)mac[2] << 24 | (uint32_t)mac[3] << 16 | (uint32_t)mac[4] << 8 | mac[5];
}

static void
learn_id(struct vgw_mac_table *t, uint32_t id, uint16_t port, uint64_t now)
{
	uint8_t mac[6];

	mac_of(id, mac);
	vgw_mac_table_learn(t, mac, port, now);
}

static int
lookup_id(const struct vgw_mac_table *t, uint32_t id)
{
	uint8_t mac[6];

	mac_of(id, mac);
	return vgw_mac_table_lookup(t, mac);
}

/* last_seen of one MAC, through dump(); UINT64_MAX if absent. */
static uint64_t
last_seen_of(const struct vgw_mac_table *t, uint32_t id)
{
	struct vgw_mac_entry e[64];
	uint8_t mac[6];
	unsigned int n, i;

	mac_of(id, mac);
	n = vgw_mac_table_dump(t, e, 64);
	for (i = 0; i < n; i++) {
		if (memcmp(e[i].mac, mac, 6) == 0)
			return e[i].last_seen;
	}
	return UINT64_MAX;
}

static void
test_create_sizes(void **state)
{
	static const uint32_t in[] = { 0, 1, 16, 17, 1000, 4096 };
	static const uint32_t out[] = { 16, 16, 16, 32, 1024, 4096 };
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct vgw_mac_table *t = vgw_mac_table_create(in[i], 10);

		assert_non_null(t);
		assert_int_equal(vgw_mac_table_capacity(t), out[i]);
		assert_int_equal(vgw_mac_table_count(t), 0);
		assert_int_equal(lookup_id(t, 1), -1);
		vgw_mac_table_destroy(t);
	}
	assert_null(vgw_mac_table_create(UINT32_MAX, 10));
	assert_null(vgw_mac_table_create_seeded((UINT32_C(1) << 31) + 1, 10, SEED));
	vgw_mac_table_destroy(NULL);
}

static void
test_learn_lookup(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create(256, 10);
	uint32_t id;

	(void)state;
	assert_non_null(t);
	for (id = 1; id <= 50; id++)
		learn_id(t, id, (uint16_t)(id % 7), 100);
	for (id = 1; id <= 50; id++)
		assert_int_equal(lookup_id(t, id), id % 7);
	assert_int_equal(vgw_mac_table_count(t), 50);
	/* Learning again on the same port adds nothing. */
	for (id = 1; id <= 50; id++)
		learn_id(t, id, (uint16_t)(id % 7), 200);
	assert_int_equal(vgw_mac_table_count(t), 50);
	vgw_mac_table_destroy(t);
}

static void
test_unknown(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create_seeded(64, 10, SEED);
	static const uint8_t zero[6] = { 0 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	(void)state;
	assert_non_null(t);
	assert_int_equal(lookup_id(t, 1), -1);
	learn_id(t, 1, 3, 100);
	assert_int_equal(lookup_id(t, 2), -1);
	/* Neither the zero MAC nor a group address matches an empty slot. */
	assert_int_equal(vgw_mac_table_lookup(t, zero), -1);
	assert_int_equal(vgw_mac_table_lookup(t, bcast), -1);
	vgw_mac_table_destroy(t);
}

/* Every bit of the MAC and of the 16-bit port is kept. */
static void
test_key_packing(void **state)
{
	static const uint8_t macs[][6] = {
		{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 }, { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 },
		{ 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 }, { 0x12, 0x00, 0x00, 0x00, 0x00, 0x01 },
		{ 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff }, { 0x00, 0x00, 0x00, 0x00, 0x00, 0x80 },
		{ 0x80, 0x00, 0x00, 0x00, 0x00, 0x00 }, { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
	};
	static const uint16_t ports[] = { 0, 65535, 32767, 32768, 1, 256, 4242, 65534 };
	struct vgw_mac_table *t = vgw_mac_table_create(64, 10);
	struct vgw_mac_entry e[16];
	unsigned int n, i, j;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < 8; i++)
		vgw_mac_table_learn(t, macs[i], ports[i], 1000 + i);
	for (i = 0; i < 8; i++)
		assert_int_equal(vgw_mac_table_lookup(t, macs[i]), ports[i]);
	n = vgw_mac_table_dump(t, e, 16);
	assert_int_equal(n, 8);
	for (i = 0; i < 8; i++) {
		for (j = 0; j < n; j++) {
			if (memcmp(e[j].mac, macs[i], 6) == 0)
				break;
		}
		assert_true(j < n);
		assert_int_equal(e[j].port, ports[i]);
		assert_int_equal(e[j].last_seen, 1000 + i);
	}
	vgw_mac_table_destroy(t);
}

static void
test_move(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create(64, 1000);

	(void)state;
	assert_non_null(t);
	learn_id(t, 7, 1, 100);
	assert_int_equal(lookup_id(t, 7), 1);
	/* A move is written at once, even within the refresh interval. */
	learn_id(t, 7, 2, 101);
	assert_int_equal(lookup_id(t, 7), 2);
	assert_int_equal(last_seen_of(t, 7), 101);
	learn_id(t, 7, 1, 102);
	assert_int_equal(lookup_id(t, 7), 1);
	assert_int_equal(vgw_mac_table_count(t), 1);
	vgw_mac_table_destroy(t);
}

static void
test_group_sources_ignored(void **state)
{
	static const uint8_t srcs[][6] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, /* broadcast */
		{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, /* IPv4 multicast */
		{ 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 }, /* IPv6 multicast */
		{ 0x01, 0x80, 0xc2, 0x00, 0x00, 0x00 }, /* STP */
		{ 0x03, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* any group bit */
		{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* zero: invalid */
	};
	struct vgw_mac_table *t = vgw_mac_table_create(64, 10);
	unsigned int i;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		vgw_mac_table_learn(t, srcs[i], 1, 100);
		assert_int_equal(vgw_mac_table_lookup(t, srcs[i]), -1);
	}
	assert_int_equal(vgw_mac_table_count(t), 0);
	vgw_mac_table_destroy(t);
}

static void
test_refresh_threshold(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create(64, 100);

	(void)state;
	assert_non_null(t);
	learn_id(t, 1, 4, 1000);
	assert_int_equal(last_seen_of(t, 1), 1000);
	learn_id(t, 1, 4, 1050);
	assert_int_equal(last_seen_of(t, 1), 1000);
	learn_id(t, 1, 4, 1099);
	assert_int_equal(last_seen_of(t, 1), 1000);
	learn_id(t, 1, 4, 1100);
	assert_int_equal(last_seen_of(t, 1), 1100);
	/* An earlier time (another lcore's older TSC read) never goes back. */
	learn_id(t, 1, 4, 500);
	assert_int_equal(last_seen_of(t, 1), 1100);
	learn_id(t, 1, 4, 1199);
	assert_int_equal(last_seen_of(t, 1), 1100);
	learn_id(t, 1, 4, 5000);
	assert_int_equal(last_seen_of(t, 1), 5000);
	assert_int_equal(lookup_id(t, 1), 4);
	vgw_mac_table_destroy(t);

	/* refresh 0: every newer time is written. */
	t = vgw_mac_table_create(64, 0);
	assert_non_null(t);
	learn_id(t, 1, 4, 10);
	learn_id(t, 1, 4, 11);
	assert_int_equal(last_seen_of(t, 1), 11);
	vgw_mac_table_destroy(t);
}

static void
test_age(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create(64, 10);

	(void)state;
	assert_non_null(t);
	assert_int_equal(vgw_mac_table_age(t, 1000, 100), 0);
	learn_id(t, 1, 1, 100);
	learn_id(t, 2, 2, 200);
	learn_id(t, 3, 3, 300);
	learn_id(t, 4, 4, 400); /* later than the ager's now */

	/* Removed when strictly older than max_age. */
	assert_int_equal(vgw_mac_table_age(t, 300, 100), 1);
	assert_int_equal(lookup_id(t, 1), -1);
	assert_int_equal(lookup_id(t, 2), 2);
	assert_int_equal(lookup_id(t, 3), 3);
	assert_int_equal(lookup_id(t, 4), 4);
	assert_int_equal(vgw_mac_table_count(t), 3);

	assert_int_equal(vgw_mac_table_age(t, 301, 100), 1);
	assert_int_equal(lookup_id(t, 2), -1);
	assert_int_equal(vgw_mac_table_age(t, 301, 100), 0);

	/* A refresh keeps an entry alive. */
	learn_id(t, 3, 3, 450);
	assert_int_equal(vgw_mac_table_age(t, 500, 100), 0);
	assert_int_equal(vgw_mac_table_age(t, 505, 100), 1);
	assert_int_equal(lookup_id(t, 3), 3);
	assert_int_equal(lookup_id(t, 4), -1);
	assert_int_equal(vgw_mac_table_age(t, 10000, 0), 1);
	assert_int_equal(vgw_mac_table_count(t), 0);

	/* An aged MAC is learned again. */
	learn_id(t, 1, 9, 20000);
	assert_int_equal(lookup_id(t, 1), 9);
	vgw_mac_table_destroy(t);
}

static void
test_flush_port(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create(256, 10);
	uint32_t id;

	(void)state;
	assert_non_null(t);
	for (id = 1; id <= 40; id++)
		learn_id(t, id, (uint16_t)(id % 4 == 0 ? 65535 : id % 4), 100);
	assert_int_equal(vgw_mac_table_flush_port(t, 1), 10);
	assert_int_equal(vgw_mac_table_flush_port(t, 1), 0);
	assert_int_equal(vgw_mac_table_flush_port(t, 5), 0);
	assert_int_equal(vgw_mac_table_count(t), 30);
	for (id = 1; id <= 40; id++) {
		if (id % 4 == 1)
			assert_int_equal(lookup_id(t, id), -1);
		else
			assert_int_equal(lookup_id(t, id), id % 4 == 0 ? 65535 : id % 4);
	}
	assert_int_equal(vgw_mac_table_flush_port(t, 65535), 10);
	assert_int_equal(vgw_mac_table_count(t), 20);
	/* A MAC moved away is not flushed with its old port. */
	learn_id(t, 2, 3, 200);
	assert_int_equal(vgw_mac_table_flush_port(t, 2), 9);
	assert_int_equal(lookup_id(t, 2), 3);
	vgw_mac_table_destroy(t);
}

/* Every port's count against the entries dump() finds on it. */
static void
assert_port_counts(const struct vgw_mac_table *t, unsigned int n_ports)
{
	unsigned int cap = vgw_mac_table_capacity(t), n, i, p;
	struct vgw_mac_entry *e = calloc(cap, sizeof(*e));
	unsigned int *seen = calloc(n_ports, sizeof(*seen));

	assert_non_null(e);
	assert_non_null(seen);
	n = vgw_mac_table_dump(t, e, cap);
	for (i = 0; i < n; i++)
		if (e[i].port < n_ports)
			seen[e[i].port]++;
	for (p = 0; p < n_ports; p++) {
		uint32_t learned;
		uint64_t refused;

		vgw_mac_table_port_stats(t, (uint16_t)p, &learned, &refused);
		assert_int_equal(learned, seen[p]);
	}
	free(seen);
	free(e);
}

/* A port at its cap learns no new MAC and takes no MAC moving to it: a
 * source spraying MACs cannot evict the other ports' entries; the counts
 * follow moves, flushes, ageing and evictions by uncounted ports. */
static void
test_port_cap(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create_seeded(16, 1, SEED);
	uint32_t learned, id;
	uint64_t refused;

	(void)state;
	assert_non_null(t);
	assert_int_equal(vgw_mac_table_limit_ports(t, 8, 4), 0);
	learn_id(t, 1, 1, 10);
	learn_id(t, 2, 1, 10);
	/* port 2 sprays 100 sources into a table of 16: 4 learned */
	for (id = 100; id < 200; id++)
		learn_id(t, id, 2, 20 + id);
	vgw_mac_table_port_stats(t, 2, &learned, &refused);
	assert_int_equal(learned, 4);
	assert_int_equal(refused, 96);
	assert_int_equal(lookup_id(t, 1), 1); /* not evicted */
	assert_int_equal(lookup_id(t, 2), 1);
	assert_int_equal(lookup_id(t, 199), -1);
	assert_int_equal(vgw_mac_table_count(t), 6);
	/* a known source of port 2 is refreshed, not refused */
	learn_id(t, 100, 2, 500);
	vgw_mac_table_port_stats(t, 2, &learned, &refused);
	assert_int_equal(refused, 96);
	assert_int_equal(last_seen_of(t, 100), 500);
	/* MAC 1 moving to port 2, at its cap: refused, stays on port 1 */
	learn_id(t, 1, 2, 600);
	assert_int_equal(lookup_id(t, 1), 1);
	vgw_mac_table_port_stats(t, 2, &learned, &refused);
	assert_int_equal(refused, 97);
	/* room again after a flush: the move goes through, both counts follow */
	assert_int_equal(vgw_mac_table_flush_port(t, 2), 4);
	learn_id(t, 1, 2, 700);
	assert_int_equal(lookup_id(t, 1), 2);
	vgw_mac_table_port_stats(t, 1, &learned, &refused);
	assert_int_equal(learned, 1);
	assert_int_equal(refused, 0);
	assert_port_counts(t, 8);
	/* a port beyond the counted ones (uncapped) evicts ports 1 and 2's
	 * entries: their counts go down with them */
	for (id = 1000; id < 1100; id++)
		learn_id(t, id, 9, 1000 + id);
	assert_int_equal(lookup_id(t, 1), -1);
	assert_port_counts(t, 8);
	/* ageing */
	learn_id(t, 3, 3, 5000);
	learn_id(t, 4, 3, 9000);
	vgw_mac_table_age(t, 9000, 100);
	vgw_mac_table_port_stats(t, 3, &learned, &refused);
	assert_int_equal(learned, 1);
	assert_port_counts(t, 8);
	/* no cap: counted, nothing refused, the table fills */
	vgw_mac_table_destroy(t);
	t = vgw_mac_table_create_seeded(16, 1, SEED);
	assert_non_null(t);
	assert_int_equal(vgw_mac_table_limit_ports(t, 8, 0), 0);
	for (id = 100; id < 200; id++)
		learn_id(t, id, 2, id);
	vgw_mac_table_port_stats(t, 2, &learned, &refused);
	assert_int_equal(learned, 16);
	assert_int_equal(refused, 0);
	assert_int_equal(vgw_mac_table_count(t), 16);
	vgw_mac_table_destroy(t);
}

static void
test_count_dump(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create(128, 10);
	struct vgw_mac_entry e[128];
	bool seen[21] = { false };
	unsigned int n, i;
	uint32_t id;

	(void)state;
	assert_non_null(t);
	assert_int_equal(vgw_mac_table_dump(t, e, 128), 0);
	for (id = 1; id <= 20; id++)
		learn_id(t, id, (uint16_t)(100 + id), 1000 + id);
	assert_int_equal(vgw_mac_table_count(t), 20);
	n = vgw_mac_table_dump(t, e, 128);
	assert_int_equal(n, 20);
	for (i = 0; i < n; i++) {
		id = id_of(e[i].mac);
		assert_true(id >= 1 && id <= 20);
		assert_false(seen[id]);
		seen[id] = true;
		assert_int_equal(e[i].mac[0], 0x02);
		assert_int_equal(e[i].port, 100 + id);
		assert_int_equal(e[i].last_seen, 1000 + id);
	}
	/* max is honoured. */
	memset(e, 0xa5, sizeof(e));
	assert_int_equal(vgw_mac_table_dump(t, e, 7), 7);
	assert_int_equal(e[7].port, 0xa5a5);
	assert_int_equal(vgw_mac_table_dump(t, NULL, 0), 0);
	vgw_mac_table_destroy(t);
}

/* Learn 100 times the capacity of a small table, with increasing times.
 * The table stays full, never grows past its capacity, keeps what it
 * dumps consistent, and replaces old entries rather than new ones: the
 * last 8 MACs are always there (a new MAC replaces the oldest of 8 slots,
 * which cannot all hold one of the 7 MACs learned just before it), and
 * nearly all of the last capacity/2. Run with several hash seeds. */
static void
test_overfill(void **state)
{
	enum { CAP = 64, N = CAP * 100 };
	unsigned int s;

	(void)state;
	for (s = 0; s < 8; s++) {
		struct vgw_mac_table *t = vgw_mac_table_create_seeded(CAP, 0, SEED * (s + 1));
		struct vgw_mac_entry e[CAP + 1];
		unsigned int n, i, found;
		uint32_t id, back;

		assert_non_null(t);
		for (id = 1; id <= N; id++) {
			learn_id(t, id, (uint16_t)(id & 0xffff), id);
			assert_true(vgw_mac_table_count(t) <= CAP);
			for (back = 0; back < 8 && back < id; back++)
				assert_int_equal(lookup_id(t, id - back), (id - back) & 0xffff);
		}
		assert_int_equal(vgw_mac_table_count(t), CAP);

		n = vgw_mac_table_dump(t, e, CAP + 1);
		assert_int_equal(n, CAP);
		for (i = 0; i < n; i++) {
			id = id_of(e[i].mac);
			assert_int_equal(e[i].last_seen, id);
			assert_int_equal(e[i].port, id & 0xffff);
			assert_int_equal(vgw_mac_table_lookup(t, e[i].mac), e[i].port);
			/* Nothing old survives (measured: < 2 * CAP). */
			assert_true(id > N - 4 * CAP);
		}
		found = 0;
		for (id = N - CAP / 2 + 1; id <= N; id++)
			found += lookup_id(t, id) >= 0;
		assert_true(found >= CAP / 2 * 9 / 10);

		/* Refreshing a known MAC in a full table evicts nothing. */
		learn_id(t, N, N & 0xffff, N + 1000);
		assert_int_equal(vgw_mac_table_count(t), CAP);
		assert_int_equal(lookup_id(t, N - 1), (N - 1) & 0xffff);

		/* And it still works once emptied. */
		assert_int_equal(vgw_mac_table_age(t, N + 2000, 0), CAP);
		learn_id(t, 1, 1, N + 3000);
		assert_int_equal(lookup_id(t, 1), 1);
		vgw_mac_table_destroy(t);
	}
}

/*
 * Interleavings played deterministically: learn() calls the test hook after
 * it has chosen a slot for a new MAC and before it claims it, and the hook
 * acts as another lcore at that instant. Each case runs for many MACs and
 * filler levels; gcov shows both branches of the duplicate removal taken.
 */
enum {
	IL_FILLER_BASE = 0x100000,
	IL_FILLER_PORT = 77,
	IL_PORT = 5,
	IL_OTHER_PORT = 6,
};

enum il_case {
	IL_FREE_THEN_SAME,  /* free slots, then another lcore learns it */
	IL_FILL_SAME_FREE,  /* fill slots, another learns it, free them */
	IL_OTHER_PORT_SAME, /* another lcore learns it on another port */
	IL_VICTIM_GONE,	    /* the victim chosen in a full table is aged */
};

static enum il_case il_case;
static uint32_t il_mac;
static unsigned int il_calls;

static void
il_fill(struct vgw_mac_table *t, unsigned int n, uint64_t now)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		learn_id(t, IL_FILLER_BASE + i, IL_FILLER_PORT, now);
}

static void
il_hook(struct vgw_mac_table *t)
{
	/* Once, and not from the learns played here. */
	vgw_mac_table_test_hook = NULL;
	il_calls++;
	switch (il_case) {
	case IL_FREE_THEN_SAME:
		vgw_mac_table_flush_port(t, IL_FILLER_PORT);
		learn_id(t, il_mac, IL_PORT, 100);
		break;
	case IL_FILL_SAME_FREE:
		il_fill(t, 16, 50);
		learn_id(t, il_mac, IL_PORT, 100);
		vgw_mac_table_flush_port(t, IL_FILLER_PORT);
		break;
	case IL_OTHER_PORT_SAME:
		learn_id(t, il_mac, IL_OTHER_PORT, 100);
		break;
	case IL_VICTIM_GONE:
		vgw_mac_table_age(t, 100, 10);
		break;
	}
}

static unsigned int
il_copies(const struct vgw_mac_table *t, uint32_t id, uint16_t *port)
{
	struct vgw_mac_entry e[16];
	unsigned int n, i, copies = 0;

	n = vgw_mac_table_dump(t, e, 16);
	for (i = 0; i < n; i++) {
		if (id_of(e[i].mac) == id) {
			copies++;
			*port = e[i].port;
		}
	}
	return copies;
}

static void
test_interleavings(void **state)
{
	enum il_case c;
	unsigned int fill;
	uint32_t id;

	(void)state;
	for (c = IL_FREE_THEN_SAME; c <= IL_VICTIM_GONE; c++) {
		for (fill = 2; fill <= 16; fill += 2) {
			if (c == IL_VICTIM_GONE && fill != 16)
				continue;
			for (id = 1; id <= 64; id++) {
				struct vgw_mac_table *t =
					vgw_mac_table_create_seeded(16, 0, SEED + fill);
				uint16_t port = 0;

				assert_non_null(t);
				il_fill(t, fill, c == IL_VICTIM_GONE ? 1 : 50);
				il_case = c;
				il_mac = id;
				il_calls = 0;
				vgw_mac_table_test_hook = il_hook;
				learn_id(t, id, IL_PORT, 100);
				vgw_mac_table_test_hook = NULL;
				assert_int_equal(il_calls, 1);

				assert_int_equal(il_copies(t, id, &port), 1);
				assert_int_equal(lookup_id(t, id), port);
				if (c == IL_OTHER_PORT_SAME)
					assert_true(port == IL_PORT || port == IL_OTHER_PORT);
				else
					assert_int_equal(port, IL_PORT);
				vgw_mac_table_destroy(t);
			}
		}
	}
}

/* age() and flush_port() read an entry, then remove it with a CAS: an
 * entry moved to another port in between (by an lcore) stays. */
static void
relearn_hook(struct vgw_mac_table *t)
{
	vgw_mac_table_test_hook = NULL;
	il_calls++;
	learn_id(t, il_mac, IL_OTHER_PORT, 1000);
}

static void
test_remove_vs_relearn(void **state)
{
	struct vgw_mac_table *t = vgw_mac_table_create_seeded(64, 10, SEED);

	(void)state;
	assert_non_null(t);
	il_mac = 3;

	learn_id(t, 3, IL_PORT, 10);
	il_calls = 0;
	vgw_mac_table_test_hook = relearn_hook;
	assert_int_equal(vgw_mac_table_age(t, 1000, 100), 0);
	assert_int_equal(il_calls, 1);
	assert_int_equal(lookup_id(t, 3), IL_OTHER_PORT);
	assert_int_equal(last_seen_of(t, 3), 1000);

	assert_int_equal(vgw_mac_table_flush_port(t, IL_OTHER_PORT), 1);
	learn_id(t, 3, IL_PORT, 10);
	il_calls = 0;
	vgw_mac_table_test_hook = relearn_hook;
	assert_int_equal(vgw_mac_table_flush_port(t, IL_PORT), 0);
	assert_int_equal(il_calls, 1);
	assert_int_equal(lookup_id(t, 3), IL_OTHER_PORT);
	assert_int_equal(vgw_mac_table_count(t), 1);
	vgw_mac_table_test_hook = NULL;
	vgw_mac_table_destroy(t);
}

/* Two threads learn the same new MACs at the same moment, round after
 * round; each MAC must end up in the table exactly once. The learners step
 * through each round in lockstep (a spinning rendezvous per MAC), so that
 * they often both find a MAC absent and race to claim the same slot. */
enum {
	DUP_ROUNDS = 300,
	DUP_BATCH = 32,
	DUP_PORT = 9,
	DUP_SIZE = 256,
};

struct dup_ctx {
	struct vgw_mac_table *t;
	atomic_uint step[2];
	atomic_uint errors;
};

struct dup_arg {
	struct dup_ctx *c;
	unsigned int id;
};

static void
dup_rendezvous(struct dup_ctx *c, unsigned int me, unsigned int step)
{
	unsigned int spins = 0;

	atomic_store(&c->step[me], step);
	while (atomic_load(&c->step[!me]) < step) {
		if (++spins % 64 == 0)
			sched_yield();
	}
}

/* Learner 0 checks the round while learner 1 waits. */
static void
dup_check_round(struct dup_ctx *c, uint32_t first)
{
	struct vgw_mac_entry e[DUP_SIZE];
	unsigned int seen[DUP_BATCH] = { 0 };
	unsigned int n, i;

	n = vgw_mac_table_dump(c->t, e, DUP_SIZE);
	if (n != DUP_BATCH)
		atomic_fetch_add(&c->errors, 1);
	for (i = 0; i < n; i++) {
		uint32_t id = id_of(e[i].mac) - first;

		if (e[i].port != DUP_PORT || id >= DUP_BATCH)
			atomic_fetch_add(&c->errors, 1);
		else
			seen[id]++;
	}
	for (i = 0; i < DUP_BATCH; i++) {
		if (seen[i] != 1 || lookup_id(c->t, first + i) != DUP_PORT)
			atomic_fetch_add(&c->errors, 1);
	}
	if (vgw_mac_table_flush_port(c->t, DUP_PORT) != DUP_BATCH)
		atomic_fetch_add(&c->errors, 1);
}

static void *
dup_learner(void *arg)
{
	const struct dup_arg *a = arg;
	struct dup_ctx *c = a->c;
	unsigned int step = 0;
	uint32_t r, i;

	for (r = 0; r < DUP_ROUNDS; r++) {
		uint32_t first = 1 + r * DUP_BATCH;

		for (i = 0; i < DUP_BATCH; i++) {
			dup_rendezvous(c, a->id, ++step);
			learn_id(c->t, first + i, DUP_PORT, r + 1);
		}
		dup_rendezvous(c, a->id, ++step);
		if (a->id == 0)
			dup_check_round(c, first);
		dup_rendezvous(c, a->id, ++step);
	}
	return NULL;
}

static void
test_concurrent_same_mac(void **state)
{
	struct dup_ctx c;
	struct dup_arg da[2];
	pthread_t th[2];
	unsigned int i;

	(void)state;
	c.t = vgw_mac_table_create_seeded(DUP_SIZE, 0, SEED);
	assert_non_null(c.t);
	atomic_init(&c.step[0], 0);
	atomic_init(&c.step[1], 0);
	atomic_init(&c.errors, 0);
	for (i = 0; i < 2; i++) {
		da[i].c = &c;
		da[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, dup_learner, &da[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&c.errors), 0);
	vgw_mac_table_destroy(c.t);
}

/*
 * Stress: 2 learners and 1 control thread (age, flush_port, count, dump,
 * lookup) for about 0.5 s. Time is logical, so the outcome does not depend
 * on scheduling:
 *  - "shared" MACs are learned by both learners on a fixed port, with
 *    times far in the future, so the ager never finds them stale;
 *  - "own" MACs are learned by one learner each, moving across ports on
 *    every pass, then learned on a final port;
 *  - "churn" MACs are learned by both, moving between two ports, with a
 *    time the ager always finds stale; the ager also flushes one of their
 *    ports. They keep being removed and re-inserted concurrently.
 * The table is 16K slots for at most 2K entries, so nothing is evicted for
 * room. Afterwards every shared and own MAC (learned and never aged) must
 * be found, exactly once, on its correct port.
 */
enum {
	ST_SIZE = 16384,
	ST_SHARED = 512,
	ST_OWN = 256,
	ST_CHURN = 1024,
	ST_SHARED_BASE = 0x010000,
	ST_OWN_BASE = 0x020000, /* + learner * 0x1000 */
	ST_CHURN_BASE = 0x030000,
	ST_CHURN_PORT = 100, /* and 101, flushed by the ager */
	ST_AGER_NOW = 1000000,
	ST_MAX_AGE = 10,
	ST_MAX_ENTRIES = ST_SHARED + 2 * ST_OWN + ST_CHURN,
	ST_MIN_PASSES = 20,
};

#define ST_FUTURE (UINT64_C(1) << 62)

struct stress_ctx {
	struct vgw_mac_table *t;
	pthread_barrier_t start;
	/* both learners have inserted their shared and own MACs before either
	 * inserts a churn MAC: a churn insert that loses a slot to a shared
	 * insert leaves its own (stale) time there (tolerated race 5), which
	 * with these logical times would age the shared MAC out */
	pthread_barrier_t first_pass;
	atomic_bool stop;
	atomic_uint ready;	/* learners done with their first pass */
	atomic_uint errors;	/* wrong results seen by the control thread */
	atomic_ulong passes[3]; /* learner 0, learner 1, control */
	atomic_ulong aged;
};

struct stress_learner_arg {
	struct stress_ctx *c;
	unsigned int id;
};

static uint16_t
shared_port(uint32_t i)
{
	return (uint16_t)(1 + i % 8);
}

static uint16_t
own_port(unsigned int learner, uint32_t i)
{
	return (uint16_t)(40 + learner * 4 + i % 4);
}

static void *
stress_learner(void *arg)
{
	const struct stress_learner_arg *a = arg;
	struct stress_ctx *c = a->c;
	unsigned int me = a->id;
	uint64_t pass = 0;
	uint32_t i;

	pthread_barrier_wait(&c->start);
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		uint64_t now = ST_FUTURE + pass;

		for (i = 0; i < ST_SHARED; i++)
			learn_id(c->t, ST_SHARED_BASE + i, shared_port(i), now);
		for (i = 0; i < ST_OWN; i++)
			learn_id(c->t, ST_OWN_BASE + me * 0x1000 + i,
				 (uint16_t)(20 + (i + pass) % 8), now);
		if (pass == 0)
			pthread_barrier_wait(&c->first_pass);
		for (i = 0; i < ST_CHURN; i++)
			learn_id(c->t, ST_CHURN_BASE + i,
				 (uint16_t)(ST_CHURN_PORT + ((i + pass + me) & 1)), 1);
		if (pass == 0)
			atomic_fetch_add(&c->ready, 1);
		pass++;
		atomic_store_explicit(&c->passes[me], pass, memory_order_relaxed);
	}
	for (i = 0; i < ST_OWN; i++)
		learn_id(c->t, ST_OWN_BASE + me * 0x1000 + i, own_port(me, i), ST_FUTURE + pass);
	return NULL;
}

/* Is e a MAC of the test, on a port it may have? */
static bool
stress_entry_ok(const struct vgw_mac_entry *e)
{
	uint32_t id = id_of(e->mac);

	if (e->mac[0] != 0x02 || e->mac[1] != 0)
		return false;
	if (id >= ST_SHARED_BASE && id < ST_SHARED_BASE + ST_SHARED)
		return e->port == shared_port(id - ST_SHARED_BASE) && e->last_seen >= ST_FUTURE;
	if (id >= ST_OWN_BASE && id < ST_OWN_BASE + 0x1000 + ST_OWN && (id & 0xfff) < ST_OWN)
		return ((e->port >= 20 && e->port < 28) || (e->port >= 40 && e->port < 48)) &&
		       e->last_seen >= ST_FUTURE;
	if (id >= ST_CHURN_BASE && id < ST_CHURN_BASE + ST_CHURN)
		return e->port == ST_CHURN_PORT || e->port == ST_CHURN_PORT + 1;
	return false;
}

static void *
stress_control(void *arg)
{
	struct stress_ctx *c = arg;
	struct vgw_mac_entry *e = calloc(ST_SIZE, sizeof(*e));
	uint32_t i;

	if (e == NULL) {
		atomic_fetch_add(&c->errors, 1);
		return NULL;
	}
	pthread_barrier_wait(&c->start);
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		unsigned int n;

		atomic_fetch_add(&c->aged, vgw_mac_table_age(c->t, ST_AGER_NOW, ST_MAX_AGE));
		atomic_fetch_add(&c->aged, vgw_mac_table_flush_port(c->t, ST_CHURN_PORT + 1));
		if (vgw_mac_table_count(c->t) > ST_MAX_ENTRIES)
			atomic_fetch_add(&c->errors, 1);
		n = vgw_mac_table_dump(c->t, e, ST_SIZE);
		for (i = 0; i < n; i++) {
			if (!stress_entry_ok(&e[i]))
				atomic_fetch_add(&c->errors, 1);
		}
		if (atomic_load(&c->ready) < 2)
			continue;
		/* Once learned, a shared or own MAC is never missing, not even
		 * while it moves. */
		for (i = 0; i < ST_SHARED; i++) {
			if (lookup_id(c->t, ST_SHARED_BASE + i) != shared_port(i))
				atomic_fetch_add(&c->errors, 1);
		}
		for (i = 0; i < 2 * ST_OWN; i++) {
			if (lookup_id(c->t, ST_OWN_BASE + (i / ST_OWN) * 0x1000 + i % ST_OWN) < 0)
				atomic_fetch_add(&c->errors, 1);
		}
		atomic_fetch_add(&c->passes[2], 1);
	}
	free(e);
	return NULL;
}

static bool
stress_enough(struct stress_ctx *c)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (atomic_load(&c->passes[i]) < ST_MIN_PASSES)
			return false;
	}
	return true;
}

static void
test_stress(void **state)
{
	struct stress_ctx *c = calloc(1, sizeof(*c));
	struct timespec tick = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
	unsigned int ticks;
	struct vgw_mac_entry *e = calloc(ST_SIZE, sizeof(*e));
	unsigned int *copies = calloc(0x40000, sizeof(*copies));
	struct stress_learner_arg la[2];
	pthread_t th[3];
	unsigned int n, i, stable;

	(void)state;
	assert_non_null(c);
	assert_non_null(e);
	assert_non_null(copies);
	c->t = vgw_mac_table_create_seeded(ST_SIZE, 1, SEED);
	assert_non_null(c->t);
	/* counted (the cap above what any port learns): the counts stay
	 * exact under the concurrent learns, moves, ageing and flushes */
	assert_int_equal(vgw_mac_table_limit_ports(c->t, 256, ST_SIZE), 0);
	atomic_init(&c->stop, false);
	atomic_init(&c->ready, 0);
	atomic_init(&c->errors, 0);
	for (i = 0; i < 3; i++)
		atomic_init(&c->passes[i], 0);
	atomic_init(&c->aged, 0);
	assert_int_equal(pthread_barrier_init(&c->start, NULL, 3), 0);
	assert_int_equal(pthread_barrier_init(&c->first_pass, NULL, 2), 0);
	for (i = 0; i < 2; i++) {
		la[i].c = c;
		la[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, stress_learner, &la[i]), 0);
	}
	assert_int_equal(pthread_create(&th[2], NULL, stress_control, c), 0);
	/* 0.5 s, and at least ST_MIN_PASSES passes of every thread, however
	 * loaded the machine is. */
	for (ticks = 0; ticks < 50 || !stress_enough(c); ticks++)
		nanosleep(&tick, NULL);
	atomic_store(&c->stop, true);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);

	assert_int_equal(atomic_load(&c->errors), 0);
	assert_true(atomic_load(&c->aged) > 0);

	for (i = 0; i < ST_SHARED; i++)
		assert_int_equal(lookup_id(c->t, ST_SHARED_BASE + i), shared_port(i));
	for (i = 0; i < 2 * ST_OWN; i++)
		assert_int_equal(lookup_id(c->t, ST_OWN_BASE + (i / ST_OWN) * 0x1000 + i % ST_OWN),
				 own_port(i / ST_OWN, i % ST_OWN));

	/* Exactly once each, and nothing foreign or torn. */
	n = vgw_mac_table_dump(c->t, e, ST_SIZE);
	stable = 0;
	for (i = 0; i < n; i++) {
		uint32_t id = id_of(e[i].mac);

		assert_true(stress_entry_ok(&e[i]));
		assert_true(id < 0x40000);
		copies[id]++;
		if (id < ST_CHURN_BASE)
			stable++;
	}
	/* (A churn MAC may rarely keep a duplicate: race 1 of bridge_table.c.) */
	for (i = 0; i < ST_CHURN_BASE; i++)
		assert_true(copies[i] <= 1);
	assert_int_equal(stable, ST_SHARED + 2 * ST_OWN);

	assert_port_counts(c->t, 256);
	/* Only the churn MACs are stale. */
	vgw_mac_table_age(c->t, ST_AGER_NOW, ST_MAX_AGE);
	assert_int_equal(vgw_mac_table_count(c->t), ST_SHARED + 2 * ST_OWN);
	assert_port_counts(c->t, 256);

	pthread_barrier_destroy(&c->start);
	pthread_barrier_destroy(&c->first_pass);
	vgw_mac_table_destroy(c->t);
	free(copies);
	free(e);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_sizes),
		cmocka_unit_test(test_learn_lookup),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_key_packing),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_group_sources_ignored),
		cmocka_unit_test(test_refresh_threshold),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_flush_port),
		cmocka_unit_test(test_port_cap),
		cmocka_unit_test(test_count_dump),
		cmocka_unit_test(test_overfill),
		cmocka_unit_test(test_interleavings),
		cmocka_unit_test(test_remove_vs_relearn),
		cmocka_unit_test(test_concurrent_same_mac),
		cmocka_unit_test(test_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
