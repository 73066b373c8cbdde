/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs scenario remap: SET_MEM_TABLE while the device runs with
 * requests in flight (a second region added, then removed; 3 rounds), then
 * dirty logging: SET_LOG_BASE, LOG_ALL and the rings' log flag, a second
 * log under requests in flight, LOG_ALL off.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vufront_fs.h"

/* Wait for the n READs in s[], the i-th of bytes [off[i], off[i] + len[i])
 * of the read file: one check named name (and one for each bad reply). */
static bool
fs_reads_verify(struct fs_front *f, struct fs_slot **s, unsigned int n, const uint64_t *off,
		const uint32_t *len, const char *name)
{
	bool ok = true;
	char why[160];

	for (unsigned int i = 0; i < n; i++) {
		fs_wait(f, s[i], f->o->timeout_ms);
		if (!fs_reply_ok(f, name, s[i], 0, 0))
			ok = false;
		else if (!fs_read_matches(f, s[i], off[i], len[i], why, sizeof(why)))
			ok = fs_check(f, false, name, "%s", why);
		if (s[i]->done)
			fs_slot_put(s[i]);
	}
	if (ok)
		fs_check(f, true, name, NULL);
	return ok;
}

static int
fs_set_mem_table2(struct fs_front *f)
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, VUFRONT_SET_MEM_TABLE,
			 offsetof(struct vufront_mem_table, regions) +
				 2 * sizeof(struct vufront_mem_region));
	msg.payload.mem.nregions = 2;
	msg.payload.mem.regions[0].guest_phys_addr = 0;
	msg.payload.mem.regions[0].memory_size = vufront_mem_size(f->vu);
	msg.payload.mem.regions[0].userspace_addr = (uint64_t)(uintptr_t)vufront_mem_base(f->vu);
	msg.payload.mem.regions[0].mmap_offset = 0;
	msg.payload.mem.regions[1].guest_phys_addr = f->extra_gpa;
	msg.payload.mem.regions[1].memory_size = FS_EXTRA_REGION;
	msg.payload.mem.regions[1].userspace_addr = (uint64_t)(uintptr_t)f->extra;
	msg.payload.mem.regions[1].mmap_offset = 0;
	msg.fds[0] = vufront_mem_fd(f->vu);
	msg.fds[1] = f->extra_fd;
	msg.nfds = 2;
	if (vufront_protocol_features(f->vu) & VUFRONT_BIT(VUFRONT_PF_REPLY_ACK))
		msg.flags |= VUFRONT_FLAG_NEED_REPLY;
	return vufront_call(f->vu, &msg, NULL);
}

/* ---- dirty logging (in the remap scenario) ---- */

#define FS_REMAP_READS 80u /* 3 descriptors each, a ring of 256 */

#define FS_LOG_SIZE 8192u /* one bit per 4 KiB page: 256 MiB of guest memory */

/* READs whose pages must show up in log l; fh is open on nodeid. */
static void
fs_log_reads(struct fs_front *f, const struct vufront_dirty_log *l, uint64_t nodeid, uint64_t fh,
	     const char *name)
{
	struct fs_slot *s[8];
	struct vufront_vq_info info;
	unsigned int n;
	bool ok = true;
	char why[160];

	vufront_vq_info(f->vu, FS_REQQ, &info);
	for (n = 0; n < 8; n++) {
		s[n] = fs_post_read(f, nodeid, fh, n * 5000, 20000);
		if (s[n] == NULL)
			break;
	}
	for (unsigned int i = 0; i < n; i++) {
		fs_wait(f, s[i], f->o->timeout_ms);
		if (!fs_reply_ok(f, name, s[i], 0, 0)) {
			ok = false;
		} else if (!fs_read_matches(f, s[i], i * 5000, 20000, why, sizeof(why))) {
			ok = fs_check(f, false, name, "read %u: %s", i, why);
		} else if (!vufront_log_dirty(l, s[i]->out_gpa, FS_OUT_HDR + 20000)) {
			ok = fs_check(f, false, name,
				      "the reply buffer of read %u (gpa 0x%" PRIx64
				      ") is not logged dirty",
				      i, s[i]->out_gpa);
		}
		if (s[i]->done)
			fs_slot_put(s[i]);
	}
	if (ok && !vufront_log_dirty(l, info.used_gpa, 4 + 8 * FS_RING))
		ok = fs_check(f, false, name, "the used ring is not logged dirty");
	if (ok && vufront_log_dirty(l, f->data_gpa, 4096))
		ok = fs_check(f, false, name, "a page the device never wrote is logged dirty");
	if (ok)
		fs_check(f, true, name, NULL);
}

/* QEMU's order: the log, LOG_ALL, then the rings' log flag. */
static bool
fs_log_start(struct fs_front *f, const struct vufront_dirty_log *l)
{
	int ret = vufront_log_start(f->vu, l, FS_NVQ);

	return fs_check(f, ret == 0, "dirty log: SET_LOG_BASE, LOG_ALL, ring log flag", "%s",
			ret ? vufront_errmsg(f->vu) : "");
}

/* A new log while requests are in flight (QEMU resizes the log so). */
static void
fs_log_switch(struct fs_front *f, const struct vufront_dirty_log *l, uint64_t nodeid, uint64_t fh)
{
	struct fs_slot *busy[FS_REMAP_READS];
	uint64_t off[FS_REMAP_READS];
	uint32_t len[FS_REMAP_READS];
	unsigned int nb;
	int ret;

	for (nb = 0; nb < FS_REMAP_READS; nb++) {
		off[nb] = nb * 2000;
		len[nb] = 4000;
		busy[nb] = fs_post_read(f, nodeid, fh, off[nb], len[nb]);
		if (busy[nb] == NULL)
			break;
	}
	ret = vufront_set_log_base(f->vu, l);
	fs_check(f, ret == 0, "dirty log: second SET_LOG_BASE while running", "%s",
		 ret ? vufront_errmsg(f->vu) : "");
	fs_reads_verify(f, busy, nb, off, len, "dirty log: reads in flight across SET_LOG_BASE");
}

/* Logging off: nothing logged afterwards. */
static void
fs_log_stop(struct fs_front *f, const struct vufront_dirty_log *l)
{
	int ret = vufront_log_stop(f->vu, FS_NVQ);

	fs_check(f, ret == 0, "dirty log: LOG_ALL off", "%s", ret ? vufront_errmsg(f->vu) : "");
	memset(l->map, 0, FS_LOG_SIZE);
	if (fs_root_alive(f, "dirty log off"))
		fs_check(f, vufront_log_count(l) == 0, "dirty log: nothing logged once off",
			 "%u bits set", vufront_log_count(l));
}

static void
fs_dirty_log(struct fs_front *f, uint64_t nodeid, uint64_t fh)
{
	struct vufront_dirty_log l1 = { .fd = -1 }, l2 = { .fd = -1 };

	if (!(vufront_offered_features(f->vu) & VUFRONT_BIT(VUFRONT_F_LOG_ALL))) {
		fs_check(f, false, "dirty log: LOG_ALL offered", NULL);
		return;
	}
	if (vufront_log_create(&l1, FS_LOG_SIZE) < 0 || vufront_log_create(&l2, FS_LOG_SIZE) < 0) {
		fs_check(f, false, "dirty log: memfds", "%s", strerror(errno));
		goto out;
	}
	if (!fs_log_start(f, &l1))
		goto out;
	memset(l1.map, 0, FS_LOG_SIZE);
	fs_log_reads(f, &l1, nodeid, fh, "dirty log: replies and used ring logged");
	/* the caller checks the device's phase */
	fs_sync("logging");
	fs_log_switch(f, &l2, nodeid, fh);
	memset(l1.map, 0, FS_LOG_SIZE);
	memset(l2.map, 0, FS_LOG_SIZE);
	fs_log_reads(f, &l2, nodeid, fh, "dirty log: the new log is used");
	fs_check(f, vufront_log_count(&l1) == 0, "dirty log: the old log is no longer written",
		 "%u bits set", vufront_log_count(&l1));
	fs_log_stop(f, &l2);
out:
	vufront_log_destroy(&l1);
	vufront_log_destroy(&l2);
}

/* ---- scenario remap ---- */

/* A second region of guest memory, above the first. */
static bool
fs_remap_region(struct fs_front *f)
{
	f->extra_fd = memfd_create("vufront-fs-extra", MFD_CLOEXEC);
	if (f->extra_fd < 0 || ftruncate(f->extra_fd, FS_EXTRA_REGION) < 0)
		return fs_check(f, false, "second memory region", "%s", strerror(errno));
	f->extra = mmap(NULL, FS_EXTRA_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, f->extra_fd, 0);
	if (f->extra == MAP_FAILED)
		return fs_check(f, false, "second memory region", "%s", strerror(errno));
	f->extra_gpa = (vufront_mem_size(f->vu) + (1u << 21) - 1) & ~(uint64_t)((1u << 21) - 1);
	return true;
}

/* SET_MEM_TABLE with the second region, under requests in flight: 64 KiB
 * reads, many. */
static void
fs_remap_add(struct fs_front *f, unsigned int round, uint64_t nodeid, uint64_t fh)
{
	struct fs_slot *busy[FS_REMAP_READS];
	uint64_t off[FS_REMAP_READS];
	uint32_t len[FS_REMAP_READS];
	uint16_t used0 = fs_used_idx(f, FS_REQQ);
	unsigned int nb;
	int ret;

	for (nb = 0; nb < FS_REMAP_READS; nb++) {
		uint64_t left;

		off[nb] = ((uint64_t)nb * 1237 + round * 111) % (f->o->read_size - 4096);
		left = f->o->read_size - off[nb];
		len[nb] = (uint32_t)(left < 65536 ? left : 65536);
		busy[nb] = fs_post_read(f, nodeid, fh, off[nb], 65536);
		if (busy[nb] == NULL)
			break;
	}
	printf("info round %u: %u of %u reads not yet used when SET_MEM_TABLE is sent\n", round,
	       nb - (uint16_t)(fs_used_idx(f, FS_REQQ) - used0), nb);
	ret = fs_set_mem_table2(f);
	fs_check(f, ret == 0, "SET_MEM_TABLE while running (2 regions)", "%s",
		 ret ? vufront_errmsg(f->vu) : "");
	fs_reads_verify(f, busy, nb, off, len, "reads in flight across SET_MEM_TABLE");
}

/* A READ whose data buffer is in the new region. */
static bool
fs_remap_read_new(struct fs_front *f, unsigned int round, uint64_t nodeid, uint64_t fh)
{
	struct fuse_read_in in = { .fh = fh, .offset = 4096, .size = 8192 };
	struct vufront_buf bufs[3];
	struct fs_slot *s = fs_slot_get(f);
	const uint8_t *b = f->extra + 4096 * round;
	struct fuse_in_header *ih;
	uint32_t bad = 0;
	uint16_t head;

	ih = fs_slot_header(f, s, FUSE_READ, nodeid, FS_IN_HDR + sizeof(in));
	memcpy(s->in + FS_IN_HDR, &in, sizeof(in));
	memset(f->extra, 0, 8192);
	bufs[0] = (struct vufront_buf){ .addr = s->in_gpa, .len = ih->len };
	bufs[1] = (struct vufront_buf){ .addr = s->out_gpa,
					.len = FS_OUT_HDR,
					.flags = VUFRONT_DESC_F_WRITE };
	bufs[2] = (struct vufront_buf){ .addr = f->extra_gpa + 4096 * round,
					.len = 8192,
					.flags = VUFRONT_DESC_F_WRITE };
	if (vufront_vq_add_chain(f->vu, FS_REQQ, bufs, 3, &head) < 0)
		return fs_check(f, false, "read into the new region", "%s", vufront_errmsg(f->vu));
	fs_map_head(f, s, FS_REQQ, head);
	vufront_vq_notify(f->vu, FS_REQQ);
	fs_wait(f, s, f->o->timeout_ms);
	if (fs_reply_ok(f, "read into the new region", s, 0, 8192)) {
		for (uint32_t i = 0; i < 8192; i++)
			bad += b[i] != fs_pattern(f->o->read_seed, 4096 + i);
		fs_check(f, bad == 0, "read into the new region", "%u bad bytes", bad);
	}
	if (s->done)
		fs_slot_put(s);
	return true;
}

/* And back to one region (the old table): the new one goes away. */
static void
fs_remap_remove(struct fs_front *f, uint64_t nodeid, uint64_t fh)
{
	struct fs_slot *busy2[8];
	unsigned int nb2;
	bool ok = true;
	char why[160];
	int ret;

	for (nb2 = 0; nb2 < 8; nb2++) {
		busy2[nb2] = fs_post_read(f, nodeid, fh, nb2 * 333, 2000);
		if (busy2[nb2] == NULL)
			break;
	}
	ret = vufront_set_mem_table(f->vu);
	fs_check(f, ret == 0, "SET_MEM_TABLE back to one region", "%s",
		 ret ? vufront_errmsg(f->vu) : "");
	for (unsigned int i = 0; i < nb2; i++) {
		fs_wait(f, busy2[i], f->o->timeout_ms);
		ok &= fs_reply_ok(f, "reads across the second SET_MEM_TABLE", busy2[i], 0, 0) &&
		      fs_read_matches(f, busy2[i], i * 333, 2000, why, sizeof(why));
		if (busy2[i]->done)
			fs_slot_put(busy2[i]);
	}
	if (ok)
		fs_check(f, true, "reads across the second SET_MEM_TABLE", NULL);
}

void
scenario_remap(struct fs_front *f)
{
	struct fuse_entry_out e;
	uint64_t fh;

	if (!fs_init(f) || !fs_open_read_file(f, &e, &fh))
		return;
	if (!fs_remap_region(f))
		return;
	for (unsigned int round = 0; round < 3 && !f->gone; round++) {
		fs_remap_add(f, round, e.nodeid, fh);
		if (!fs_root_alive(f, "SET_MEM_TABLE"))
			return;
		if (!fs_remap_read_new(f, round, e.nodeid, fh))
			return;
		fs_remap_remove(f, e.nodeid, fh);
		if (!fs_root_alive(f, "SET_MEM_TABLE back"))
			return;
	}
	if (!f->gone)
		fs_dirty_log(f, e.nodeid, fh);
	fs_release(f, FUSE_RELEASE, e.nodeid, fh, "release read file");
}
