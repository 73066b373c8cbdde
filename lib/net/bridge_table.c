/* SPDX-License-Identifier: BSD-3-Clause */

/*
 * Lock-free MAC learning table.
 *
 * Layout
 * ------
 * An array of 64-byte buckets, each holding 4 slots of two 64-bit words:
 *
 *	key       = MAC (48 bits, byte 0 in the low byte) | port << 48
 *	last_seen = the caller's time of the last refresh
 *
 * key == 0 means "empty". The all-zero MAC is not a valid station address
 * and is never learned, so no valid bit is needed and the whole 16-bit port
 * range fits. A key is written only with compare-and-swap, so the MAC and
 * its port always change together: a reader sees an old or a new entry,
 * never a torn one.
 *
 * A MAC has two candidate buckets chosen by a seeded hash (two-choice
 * hashing). A new MAC goes to an empty slot of the less loaded of the two
 * (bucket 0 on a tie); if all 8 slots are taken, the entry with the oldest
 * last_seen is replaced. Lookups scan bucket 0 then bucket 1. Measured with
 * sequential MACs and 50 seeds: the first eviction happens at 52% load on
 * average with 64K slots (66% with 1K), against 24% (42%) when filling
 * bucket 0 first and 9% (25%) with a single bucket. At 10-50% load, 85-72%
 * of the entries sit in bucket 0, so a hit usually reads one cache line; a
 * miss reads two. Size the table at twice the expected number of MACs.
 *
 * Fast path
 * ---------
 * learn() reads first and writes only when the MAC is new, has moved to
 * another port, or its last_seen is at least `refresh` old; a flow seen on
 * every packet leaves the line shared between the cores that read it.
 * learn() and lookup() take no lock, do not allocate, make no system call
 * and have bounded loops (at most LEARN_ATTEMPTS passes over 8 slots).
 *
 * Ordering
 * --------
 * A writer stores last_seen (relaxed) before the CAS that publishes the
 * key; readers load the key with acquire, then last_seen. A reader that
 * sees a new key therefore sees a last_seen at least as new as the one its
 * writer stored. age() and flush_port() remove an entry with a CAS that
 * expects the exact key they read, so they never erase an entry that was
 * re-learned (moved, or its slot reused) in the meantime.
 *
 * Tolerated races (all benign: the worst outcome is that a packet is
 * flooded, and the next packet from that host learns it again)
 *  1. Two lcores learn the same new MAC at once and both insert it, in two
 *     different slots. After a successful insert the learner rescans the
 *     candidate slots (seq_cst, after its seq_cst CAS), and whichever of
 *     the two sees the other removes the later copy in scan order: at least
 *     one of them sees the other, so at most one copy survives. A duplicate
 *     can still remain if its owner's removal CAS loses to a concurrent move
 *     of that copy; lookups and learns all find the first copy in scan
 *     order, and the stale one ages out.
 *  2. Two lcores see the same MAC on two ports at once (a loop, or a
 *     spoofer): the last CAS wins. The next packet moves it again.
 *  3. A refresh of last_seen is a plain store, not a CAS: two lcores
 *     refreshing at once may leave the slightly older of their two times.
 *  4. age() reads last_seen, then removes the key with a CAS. A refresh
 *     that lands between the two (the host was idle for max_age and sent a
 *     packet in that window of nanoseconds) is lost, and the entry removed.
 *     Likewise if, in that window, the entry was replaced and then learned
 *     again into the same slot with the same port (ABA on the key).
 *  5. A learner replacing the oldest entry of two full buckets may replace
 *     one that another lcore refreshed after it was chosen as the victim.
 *     A learner whose CAS fails rescans (at most LEARN_ATTEMPTS times) and
 *     otherwise gives up: the MAC is learned from its next packet. The
 *     last_seen it stored before its failed CAS stays in that slot: the
 *     entry there looks just seen, and ages max_age later than it should.
 *  6. count() and dump() are snapshots taken slot by slot, not atomic
 *     across the table.
 */

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <sys/random.h>

#include "bridge_table.h"

#define CACHE_LINE 64
#define SLOTS_PER_BUCKET 4
#define NB_CANDIDATES 2
#define NB_SLOTS (NB_CANDIDATES * SLOTS_PER_BUCKET)
#define MAC_BITS 48
#define MAC_MASK ((UINT64_C(1) << MAC_BITS) - 1)
#define MIN_ENTRIES 16u
#define MAX_ENTRIES (UINT32_C(1) << 31)
#define LEARN_ATTEMPTS 3

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "the MAC table needs lock-free 64-bit atomics"
#endif

struct mac_slot {
	_Atomic uint64_t key;
	_Atomic uint64_t last_seen;
};

struct mac_bucket {
	alignas(CACHE_LINE) struct mac_slot slot[SLOTS_PER_BUCKET];
};

static_assert(sizeof(struct mac_bucket) == CACHE_LINE, "a bucket is one cache line");

#ifdef VGW_MAC_TABLE_TEST_HOOKS
void (*vgw_mac_table_test_hook)(struct vgw_mac_table *t);
#define TEST_HOOK(t) \
	do { \
		if (vgw_mac_table_test_hook != NULL) \
			vgw_mac_table_test_hook(t); \
	} while (0)
#else
#define TEST_HOOK(t) \
	do { \
	} while (0)
#endif

/* Entries learned on one port, and its sources not learned at its cap. */
struct port_macs {
	alignas(CACHE_LINE) _Atomic uint32_t learned;
	_Atomic uint64_t refused;
};

/* Written once by create() and limit_ports(), then only read: shared by
 * all lcores (the counters excepted). */
struct vgw_mac_table {
	struct mac_bucket *buckets;
	uint32_t bucket_mask;
	uint32_t nb_entries;
	uint64_t seed;
	uint64_t refresh;
	struct port_macs *ports; /* NULL: not counted, no cap */
	uint32_t n_ports;
	uint32_t port_cap;
};

static inline uint64_t
mac_to_u64(const uint8_t mac[6])
{
	return (uint64_t)mac[0] | (uint64_t)mac[1] << 8 | (uint64_t)mac[2] << 16 |
	       (uint64_t)mac[3] << 24 | (uint64_t)mac[4] << 32 | (uint64_t)mac[5] << 40;
}

/* Not multicast/broadcast (bit 0 of byte 0) and not all zeroes. */
static inline bool
mac_is_learnable(uint64_t m)
{
	return (m & 1) == 0 && m != 0;
}

static inline uint64_t
key_mac(uint64_t key)
{
	return key & MAC_MASK;
}

static inline uint16_t
key_port(uint64_t key)
{
	return (uint16_t)(key >> MAC_BITS);
}

/* The seed keeps a guest from precomputing MACs that collide with a
 * victim's buckets to evict it; this is a fast mixer, not a keyed PRF. */
static inline uint64_t
mac_hash(uint64_t m, uint64_t seed)
{
	uint64_t h = m ^ seed;

	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static inline void
mac_candidates(const struct vgw_mac_table *t, uint64_t m, struct mac_bucket *b[NB_CANDIDATES])
{
	uint64_t h = mac_hash(m, t->seed);
	uint32_t b0 = (uint32_t)h & t->bucket_mask;
	uint32_t b1 = (uint32_t)(h >> 32) & t->bucket_mask;

	if (b1 == b0)
		b1 = b0 ^ 1; /* there are at least 4 buckets */
	b[0] = &t->buckets[b0];
	b[1] = &t->buckets[b1];
}

/* Every change of a key goes through here: the ports' counts follow the
 * table exactly (the entry a CAS removes is its old key's port's, the
 * one it writes its new key's). */
static inline bool
slot_cas(struct vgw_mac_table *t, struct mac_slot *s, uint64_t *expected, uint64_t desired)
{
	uint64_t old = *expected;

	if (!atomic_compare_exchange_strong(&s->key, expected, desired))
		return false;
	if (t->ports != NULL) {
		if (old != 0 && key_port(old) < t->n_ports)
			atomic_fetch_sub_explicit(&t->ports[key_port(old)].learned, 1,
						  memory_order_relaxed);
		if (desired != 0 && key_port(desired) < t->n_ports)
			atomic_fetch_add_explicit(&t->ports[key_port(desired)].learned, 1,
						  memory_order_relaxed);
	}
	return true;
}

/* A port at its cap learns nothing new (nor a MAC moving to it): counted
 * in its refused, the frame is forwarded all the same. Two lcores may
 * both pass the check at once: a port can hold a few entries above its
 * cap, one per worker at most. */
static inline bool
port_full(struct vgw_mac_table *t, uint16_t port)
{
	if (t->ports == NULL || port >= t->n_ports ||
	    atomic_load_explicit(&t->ports[port].learned, memory_order_relaxed) < t->port_cap)
		return false;
	atomic_fetch_add_explicit(&t->ports[port].refused, 1, memory_order_relaxed);
	return true;
}

/* Slot i of the scan order: the 4 slots of bucket 0, then of bucket 1. */
static inline struct mac_slot *
slot_at(struct mac_bucket *const b[NB_CANDIDATES], unsigned int i)
{
	return &b[i / SLOTS_PER_BUCKET]->slot[i % SLOTS_PER_BUCKET];
}

/* The slot to replace when there is no empty one: the oldest. Returns its
 * index and sets *expected to the key it holds (0 if a slot was freed since
 * the first scan). */
static unsigned int
mac_victim(struct mac_bucket *const b[NB_CANDIDATES], uint64_t *expected)
{
	unsigned int victim = 0;
	uint64_t oldest = UINT64_MAX;
	unsigned int i;

	*expected = 0;
	for (i = 0; i < NB_SLOTS; i++) {
		struct mac_slot *s = slot_at(b, i);
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		uint64_t ts;

		if (k == 0) {
			*expected = 0;
			return i;
		}
		ts = atomic_load_explicit(&s->last_seen, memory_order_relaxed);
		if (ts <= oldest) {
			oldest = ts;
			victim = i;
			*expected = k;
		}
	}
	return victim;
}

/* We have just inserted key at index mine. If another lcore inserted the
 * same MAC concurrently, keep the copy that comes first in scan order. The
 * seq_cst loads after our seq_cst CAS guarantee that of two concurrent
 * inserters, at least one sees the other's copy (race 1 above). */
static void
mac_drop_duplicates(struct vgw_mac_table *t, struct mac_bucket *const b[NB_CANDIDATES],
		    unsigned int mine, uint64_t key)
{
	uint64_t m = key_mac(key);
	unsigned int i;

	for (i = 0; i < NB_SLOTS; i++) {
		struct mac_slot *s = slot_at(b, i);
		uint64_t k;

		if (i == mine)
			continue;
		k = atomic_load(&s->key);
		if (k == 0 || key_mac(k) != m)
			continue;
		if (i < mine) {
			uint64_t expected = key;

			slot_cas(t, slot_at(b, mine), &expected, 0);
			return;
		}
		slot_cas(t, s, &k, 0);
	}
}

struct vgw_mac_table *
vgw_mac_table_create_seeded(uint32_t size, uint64_t refresh, uint64_t seed)
{
	struct vgw_mac_table *t;
	uint32_t nb_entries = MIN_ENTRIES;
	uint32_t nb_buckets;
	size_t bytes;
	uint32_t i, j;

	if (size > MAX_ENTRIES)
		return NULL;
	while (nb_entries < size)
		nb_entries <<= 1;
	nb_buckets = nb_entries / SLOTS_PER_BUCKET;
#if SIZE_MAX < UINT64_MAX
	if (nb_buckets > SIZE_MAX / sizeof(struct mac_bucket))
		return NULL;
#endif
	bytes = (size_t)nb_buckets * sizeof(struct mac_bucket);

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->buckets = aligned_alloc(alignof(struct mac_bucket), bytes);
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	for (i = 0; i < nb_buckets; i++) {
		for (j = 0; j < SLOTS_PER_BUCKET; j++) {
			atomic_init(&t->buckets[i].slot[j].key, 0);
			atomic_init(&t->buckets[i].slot[j].last_seen, 0);
		}
	}
	t->bucket_mask = nb_buckets - 1;
	t->nb_entries = nb_entries;
	t->seed = seed;
	t->refresh = refresh;
	/* The caller publishes t to the lcores (release store, ring, thread
	 * creation), which orders these plain stores before their loads. */
	return t;
}

struct vgw_mac_table *
vgw_mac_table_create(uint32_t size, uint64_t refresh)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = mac_hash((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec,
				(uint64_t)(uintptr_t)&seed);
	}
	return vgw_mac_table_create_seeded(size, refresh, seed);
}

int
vgw_mac_table_limit_ports(struct vgw_mac_table *t, uint32_t n_ports, uint32_t cap)
{
	struct port_macs *p;

	if (n_ports == 0)
		return 0;
	p = aligned_alloc(alignof(struct port_macs), (size_t)n_ports * sizeof(*p));
	if (p == NULL)
		return -1;
	for (uint32_t i = 0; i < n_ports; i++) {
		atomic_init(&p[i].learned, 0);
		atomic_init(&p[i].refused, 0);
	}
	/* (before the table is published, as create()'s stores) */
	t->ports = p;
	t->n_ports = n_ports;
	t->port_cap = cap != 0 ? cap : UINT32_MAX; /* 0: counted, no cap */
	return 0;
}

void
vgw_mac_table_port_stats(const struct vgw_mac_table *t, uint16_t port, uint32_t *learned,
			 uint64_t *refused)
{
	*learned = 0;
	*refused = 0;
	if (t->ports == NULL || port >= t->n_ports)
		return;
	*learned = atomic_load_explicit(&t->ports[port].learned, memory_order_relaxed);
	*refused = atomic_load_explicit(&t->ports[port].refused, memory_order_relaxed);
}

void
vgw_mac_table_destroy(struct vgw_mac_table *t)
{
	if (t == NULL)
		return;
	free(t->ports);
	free(t->buckets);
	free(t);
}

uint32_t
vgw_mac_table_capacity(const struct vgw_mac_table *t)
{
	return t->nb_entries;
}

/* The MAC is in slot s, holding k. */
static inline void
mac_update(struct vgw_mac_table *t, struct mac_slot *s, uint64_t k, uint64_t key, uint64_t now)
{
	uint64_t ts;

	if (k != key) {
		/* Moved to another port. If the CAS fails, the slot was
		 * re-learned or removed meanwhile (race 2). */
		if (port_full(t, key_port(key)))
			return;
		atomic_store_explicit(&s->last_seen, now, memory_order_relaxed);
		slot_cas(t, s, &k, key);
		return;
	}
	ts = atomic_load_explicit(&s->last_seen, memory_order_relaxed);
	/* now < ts: another lcore refreshed with a later time (race 3). */
	if (now > ts && now - ts >= t->refresh)
		atomic_store_explicit(&s->last_seen, now, memory_order_relaxed);
}

void
vgw_mac_table_learn(struct vgw_mac_table *t, const uint8_t mac[6], uint16_t port, uint64_t now)
{
	uint64_t m = mac_to_u64(mac);
	struct mac_bucket *b[NB_CANDIDATES];
	uint64_t key;
	unsigned int attempt;

	if (!mac_is_learnable(m))
		return;
	key = m | (uint64_t)port << MAC_BITS;
	mac_candidates(t, m, b);

	for (attempt = 0; attempt < LEARN_ATTEMPTS; attempt++) {
		/* First empty slot and number of entries, per bucket. */
		unsigned int empty[NB_CANDIDATES] = { NB_SLOTS, NB_SLOTS };
		unsigned int used[NB_CANDIDATES] = { 0, 0 };
		uint64_t expected = 0;
		struct mac_slot *s;
		unsigned int i;

		for (i = 0; i < NB_SLOTS; i++) {
			unsigned int bi = i / SLOTS_PER_BUCKET;
			uint64_t k;

			s = slot_at(b, i);
			k = atomic_load_explicit(&s->key, memory_order_acquire);
			if (k == 0) {
				if (empty[bi] == NB_SLOTS)
					empty[bi] = i;
				continue;
			}
			if (key_mac(k) == m) {
				mac_update(t, s, k, key, now);
				return;
			}
			used[bi]++;
		}

		/* A new MAC: an empty slot of the less loaded bucket (bucket
		 * 0 on a tie, so that lookups mostly read one line), else the
		 * oldest entry of the two; none if its port is at its cap (a
		 * guest spraying source MACs would evict the others'). */
		if (port_full(t, port))
			return;
		if (empty[0] != NB_SLOTS && (empty[1] == NB_SLOTS || used[0] <= used[1]))
			i = empty[0];
		else if (empty[1] != NB_SLOTS)
			i = empty[1];
		else
			i = mac_victim(b, &expected);
		s = slot_at(b, i);
		TEST_HOOK(t);
		atomic_store_explicit(&s->last_seen, now, memory_order_relaxed);
		if (slot_cas(t, s, &expected, key)) {
			mac_drop_duplicates(t, b, i, key);
			return;
		}
		/* Another lcore took the slot, or aged/moved it: rescan, it
		 * may even have learned this MAC (race 5). */
	}
}

int
vgw_mac_table_lookup(const struct vgw_mac_table *t, const uint8_t mac[6])
{
	uint64_t m = mac_to_u64(mac);
	struct mac_bucket *b[NB_CANDIDATES];
	unsigned int i;

	if (!mac_is_learnable(m))
		return -1;
	mac_candidates(t, m, b);
	for (i = 0; i < NB_CANDIDATES; i++) {
		unsigned int j;

		for (j = 0; j < SLOTS_PER_BUCKET; j++) {
			uint64_t k = atomic_load_explicit(&b[i]->slot[j].key, memory_order_acquire);

			/* m != 0, so an empty slot never matches. */
			if (key_mac(k) == m)
				return key_port(k);
		}
	}
	return -1;
}

unsigned int
vgw_mac_table_age(struct vgw_mac_table *t, uint64_t now, uint64_t max_age)
{
	unsigned int removed = 0;
	uint32_t i, j;

	for (i = 0; i <= t->bucket_mask; i++) {
		for (j = 0; j < SLOTS_PER_BUCKET; j++) {
			struct mac_slot *s = &t->buckets[i].slot[j];
			uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
			uint64_t ts;

			if (k == 0)
				continue;
			ts = atomic_load_explicit(&s->last_seen, memory_order_relaxed);
			if (now <= ts || now - ts <= max_age)
				continue;
			TEST_HOOK(t);
			/* Fails if the slot was re-learned since we read it. */
			if (slot_cas(t, s, &k, 0))
				removed++;
		}
	}
	return removed;
}

unsigned int
vgw_mac_table_flush_port(struct vgw_mac_table *t, uint16_t port)
{
	unsigned int removed = 0;
	uint32_t i, j;

	for (i = 0; i <= t->bucket_mask; i++) {
		for (j = 0; j < SLOTS_PER_BUCKET; j++) {
			struct mac_slot *s = &t->buckets[i].slot[j];
			uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);

			if (k == 0 || key_port(k) != port)
				continue;
			TEST_HOOK(t);
			if (slot_cas(t, s, &k, 0))
				removed++;
		}
	}
	return removed;
}

unsigned int
vgw_mac_table_count(const struct vgw_mac_table *t)
{
	unsigned int n = 0;
	uint32_t i, j;

	for (i = 0; i <= t->bucket_mask; i++) {
		for (j = 0; j < SLOTS_PER_BUCKET; j++) {
			if (atomic_load_explicit(&t->buckets[i].slot[j].key,
						 memory_order_relaxed) != 0)
				n++;
		}
	}
	return n;
}

unsigned int
vgw_mac_table_dump(const struct vgw_mac_table *t, struct vgw_mac_entry *out, unsigned int max)
{
	unsigned int n = 0;
	uint32_t i, j;

	for (i = 0; i <= t->bucket_mask && n < max; i++) {
		for (j = 0; j < SLOTS_PER_BUCKET && n < max; j++) {
			const struct mac_slot *s = &t->buckets[i].slot[j];
			uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
			unsigned int b;

			if (k == 0)
				continue;
			for (b = 0; b < 6; b++)
				out[n].mac[b] = (uint8_t)(k >> (8 * b));
			out[n].port = key_port(k);
			out[n].last_seen =
				atomic_load_explicit(&s->last_seen, memory_order_relaxed);
			n++;
		}
	}
	return n;
}
