/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_BRIDGE_TABLE_H
#define VGW_BRIDGE_TABLE_H

/* The MAC learning table of one bridge. Lock-free: any worker lcore learns
 * and looks up concurrently; the control thread ages and flushes. No DPDK
 * here, so it is unit-tested without EAL. Time is in the caller's units
 * (workers pass the TSC read once per burst). */

#include <stdbool.h>
#include <stdint.h>

struct vgw_mac_table;

struct vgw_mac_entry {
	uint8_t mac[6];
	uint16_t port;
	uint64_t last_seen;
};

/* size: number of entries, rounded up to a power of two (>= 16).
 * refresh: minimum time between two refreshes of an entry's timestamp, so
 * that a flow seen on every packet does not write the entry every packet.
 * Returns NULL on allocation failure. */
struct vgw_mac_table *vgw_mac_table_create(uint32_t size, uint64_t refresh);
void vgw_mac_table_destroy(struct vgw_mac_table *t);

/* As vgw_mac_table_create(), with the hash seed given instead of random
 * (create() seeds from getrandom() so that a guest cannot precompute MACs
 * that collide with another's). For tests and reproducible benchmarks.
 * Both return NULL if size is above 2^31 too. */
struct vgw_mac_table *vgw_mac_table_create_seeded(uint32_t size, uint64_t refresh, uint64_t seed);

/* Count the entries learned on each port below n_ports (the ports'
 * numbers are the caller's) and cap them at cap (0: no cap): a port at its
 * cap learns no new MAC, and no MAC moves to it, until some of its entries
 * age out or are flushed (its frames are still forwarded: replies to the
 * sources it did not learn are flooded). Without it a source spraying MACs
 * replaces the other ports' entries. Call before the table is shared.
 * Returns -1 on allocation failure. */
int vgw_mac_table_limit_ports(struct vgw_mac_table *t, uint32_t n_ports, uint32_t cap);

/* Entries learned on port now, and sources on it not learned because it
 * was at its cap (frames, since the table was made); 0 and 0 for a port
 * not counted. */
void vgw_mac_table_port_stats(const struct vgw_mac_table *t, uint16_t port, uint32_t *learned,
			      uint64_t *refused);

/* Number of slots: size as rounded by create(). */
uint32_t vgw_mac_table_capacity(const struct vgw_mac_table *t);

/* Learn (or move) mac on port at time now. Multicast/broadcast sources are
 * ignored. Never blocks, never allocates. (The all-zero MAC, not a valid
 * source address, is ignored too.) When both candidate buckets are full,
 * the least recently seen of their entries is replaced. */
void vgw_mac_table_learn(struct vgw_mac_table *t, const uint8_t mac[6], uint16_t port,
			 uint64_t now);

/* The port mac was learned on, or -1 if unknown. */
int vgw_mac_table_lookup(const struct vgw_mac_table *t, const uint8_t mac[6]);

/* Remove the entries not seen for more than max_age; return how many. */
unsigned int vgw_mac_table_age(struct vgw_mac_table *t, uint64_t now, uint64_t max_age);

/* Remove every entry learned on port; return how many. */
unsigned int vgw_mac_table_flush_port(struct vgw_mac_table *t, uint16_t port);

/* Number of valid entries (a snapshot). */
unsigned int vgw_mac_table_count(const struct vgw_mac_table *t);

/* Copy up to max entries into out; return how many were copied. */
unsigned int vgw_mac_table_dump(const struct vgw_mac_table *t, struct vgw_mac_entry *out,
				unsigned int max);

#ifdef VGW_MAC_TABLE_TEST_HOOKS
/* Unit tests only: when set, it is called with the table by learn()
 * between choosing a slot for a new MAC and claiming it, and by age() and
 * flush_port() between reading an entry and removing it, so that a test
 * can play another thread's moves at that point, deterministically. */
extern void (*vgw_mac_table_test_hook)(struct vgw_mac_table *t);
#endif

#endif /* VGW_BRIDGE_TABLE_H */
