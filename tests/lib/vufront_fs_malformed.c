/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs scenario malformed: after INIT, one malformed chain at a time,
 * each built by hand in the descriptor table; each must come back used with
 * length 0 or as an error reply, and the device go on serving.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vufront_fs.h"

/* Publish a hand-built chain of n descriptors on ring vq: fill(desc, ids)
 * writes them. Wait for its used entry. */
typedef void (*fs_fill_fn)(struct fs_front *f, struct vufront_desc *desc, const uint16_t *ids,
			   unsigned int n, struct fs_slot *s);

#define FS_M_LEN0 0    /* used with length 0 */
#define FS_M_ERR 1     /* an error reply carrying our unique */
#define FS_M_ERR_ANY 2 /* an error reply (the header was unreadable) */

static void
fs_malformed(struct fs_front *f, const char *name, unsigned int n, fs_fill_fn fill, int mode)
{
	struct vufront_vq_info info;
	uint16_t ids[FS_RING];
	struct fs_slot *s = fs_slot_get(f);
	char what[160];

	snprintf(what, sizeof(what), "malformed %s: %s", name,
		 mode == FS_M_LEN0 ? "returned with length 0" : "error reply");
	if (s == NULL || vufront_vq_info(f->vu, FS_REQQ, &info) < 0 ||
	    vufront_vq_take_descs(f->vu, FS_REQQ, n, ids) < 0) {
		fs_check(f, false, what, "cannot build: %s", vufront_errmsg(f->vu));
		return;
	}
	/* a plausible request in the slot, so that only the chain is wrong */
	fs_slot_header(f, s, FUSE_GETATTR, FUSE_ROOT_ID,
		       FS_IN_HDR + sizeof(struct fuse_getattr_in));
	memset(s->in + FS_IN_HDR, 0, sizeof(struct fuse_getattr_in));
	fill(f, info.desc, ids, n, s);
	fs_map_head(f, s, FS_REQQ, ids[0]);
	vufront_vq_publish(f->vu, FS_REQQ, ids[0]);
	vufront_vq_notify(f->vu, FS_REQQ);
	fs_wait(f, s, f->o->timeout_ms);
	if (!s->done) {
		fs_check(f, false, what,
			 f->gone ? "not returned, the back-end is gone" : "not returned in time");
		return; /* the slot stays busy: its chain is still out */
	}
	if (mode != FS_M_LEN0)
		fs_check(f,
			 s->used_len >= FS_OUT_HDR && fs_oh(s)->len == s->used_len &&
				 fs_oh(s)->error == -EINVAL &&
				 (mode == FS_M_ERR_ANY || fs_oh(s)->unique == s->unique),
			 what, "used length %u error %d unique %" PRIu64 " (ours %" PRIu64 ")",
			 s->used_len, fs_oh(s)->error, fs_oh(s)->unique, s->unique);
	else
		fs_check(f, s->used_len == 0, what, "used length %u", s->used_len);
	fs_slot_put(s);
	fs_root_alive(f, name);
}

static void
fs_desc(struct vufront_desc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* in: header + getattr_in; out: header + attr_out; linked ids[0] -> ids[1] */
static void
fill_valid2(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, struct fs_slot *s,
	    uint64_t in_addr, uint32_t in_len)
{
	(void)f;
	fs_desc(&d[ids[0]], in_addr, in_len, VUFRONT_DESC_F_NEXT, ids[1]);
	fs_desc(&d[ids[1]], s->out_gpa, FS_OUT_HDR + sizeof(struct fuse_attr_out),
		VUFRONT_DESC_F_WRITE, 0);
}

static void
fill_addr_outside(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
		  struct fs_slot *s)
{
	(void)n;
	fill_valid2(f, d, ids, s, vufront_mem_size(f->vu) + 0x100000, 56);
}

static void
fill_len_past_end(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
		  struct fs_slot *s)
{
	(void)n;
	fill_valid2(f, d, ids, s, vufront_mem_size(f->vu) - 100, 4096);
}

static void
fill_huge_len(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
	      struct fs_slot *s)
{
	(void)n;
	fill_valid2(f, d, ids, s, s->in_gpa, 0xffffffffu);
}

static void
fill_huge_len_out(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
		  struct fs_slot *s)
{
	(void)f;
	(void)n;
	fs_desc(&d[ids[0]], s->in_gpa, FS_IN_HDR + sizeof(struct fuse_getattr_in),
		VUFRONT_DESC_F_NEXT, ids[1]);
	fs_desc(&d[ids[1]], s->out_gpa, 0xffffffffu, VUFRONT_DESC_F_WRITE, 0);
}

static void
fill_loop(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
	  struct fs_slot *s)
{
	(void)f;
	(void)n;
	fs_desc(&d[ids[0]], s->in_gpa, FS_IN_HDR, VUFRONT_DESC_F_NEXT, ids[1]);
	fs_desc(&d[ids[1]], s->in_gpa + FS_IN_HDR, sizeof(struct fuse_getattr_in),
		VUFRONT_DESC_F_NEXT, ids[0]);
}

static void
fill_self_loop(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
	       struct fs_slot *s)
{
	(void)f;
	(void)n;
	fs_desc(&d[ids[0]], s->in_gpa, 0, VUFRONT_DESC_F_NEXT, ids[0]);
}

static void
fill_next_beyond(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
		 struct fs_slot *s)
{
	(void)f;
	(void)n;
	fs_desc(&d[ids[0]], s->in_gpa, FS_IN_HDR + sizeof(struct fuse_getattr_in),
		VUFRONT_DESC_F_NEXT, FS_RING + 7);
}

static void
fill_indirect(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
	      struct fs_slot *s)
{
	/* a well-formed indirect table: only the feature is missing */
	struct vufront_desc *t = (struct vufront_desc *)f->aux;

	(void)n;
	fs_desc(&t[0], s->in_gpa, FS_IN_HDR + sizeof(struct fuse_getattr_in), VUFRONT_DESC_F_NEXT,
		1);
	fs_desc(&t[1], s->out_gpa, FS_OUT_HDR + sizeof(struct fuse_attr_out), VUFRONT_DESC_F_WRITE,
		0);
	fs_desc(&d[ids[0]], f->aux_gpa, 2 * sizeof(*t), VUFRONT_DESC_F_INDIRECT, 0);
}

static void
fill_write_then_read(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
		     unsigned int n, struct fs_slot *s)
{
	(void)f;
	(void)n;
	fs_desc(&d[ids[0]], s->in_gpa, FS_IN_HDR + sizeof(struct fuse_getattr_in),
		VUFRONT_DESC_F_NEXT, ids[1]);
	fs_desc(&d[ids[1]], s->out_gpa, FS_OUT_HDR, VUFRONT_DESC_F_WRITE | VUFRONT_DESC_F_NEXT,
		ids[2]);
	fs_desc(&d[ids[2]], s->in_gpa + 4096, 64, 0, 0);
}

/* every descriptor of the ring in one chain, the last pointing back to the
 * first: more descriptors than the ring has */
static void
fill_longer_than_ring(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
		      unsigned int n, struct fs_slot *s)
{
	(void)f;
	for (unsigned int i = 0; i < n; i++)
		fs_desc(&d[ids[i]], s->in_gpa + (i % 64) * 16, 16, VUFRONT_DESC_F_NEXT,
			ids[(i + 1) % n]);
}

static void
fill_hdr_len_lies(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
		  struct fs_slot *s)
{
	(void)n;
	((struct fuse_in_header *)s->in)->len = 1u << 20;
	fill_valid2(f, d, ids, s, s->in_gpa, FS_IN_HDR + sizeof(struct fuse_getattr_in));
}

static void
fill_short_header(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
		  struct fs_slot *s)
{
	(void)n;
	fill_valid2(f, d, ids, s, s->in_gpa, FS_IN_HDR - 8);
}

static void
fill_no_out(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids, unsigned int n,
	    struct fs_slot *s)
{
	(void)f;
	(void)n;
	fs_desc(&d[ids[0]], s->in_gpa, FS_IN_HDR + sizeof(struct fuse_getattr_in), 0, 0);
}

/* An avail entry naming a head beyond the ring: nothing to give back (no
 * used entry), counted; the queue goes on. */
static void
fs_malformed_head_beyond(struct fs_front *f)
{
	struct vufront_vq_info before, after;

	vufront_vq_info(f->vu, FS_REQQ, &before);
	vufront_vq_publish(f->vu, FS_REQQ, FS_RING + 44);
	vufront_vq_notify(f->vu, FS_REQQ);
	if (!fs_root_alive(f, "avail head beyond the ring"))
		return;
	vufront_vq_info(f->vu, FS_REQQ, &after);
	fs_check(f,
		 (uint16_t)(after.last_used - before.last_used) == 1 &&
			 vufront_vq_pending(f->vu, FS_REQQ) == 0,
		 "malformed avail head beyond the ring: dropped, not used",
		 "%u used entries for one request", (uint16_t)(after.last_used - before.last_used));
}

struct fs_malformed_case {
	const char *name;
	unsigned int n; /* descriptors in the chain */
	fs_fill_fn fill;
	int mode;
};

/* What the gateway must count as malformed, with the avail head beyond the
 * ring: the chains refused by the ring walker (used length 0) and the
 * requests refused by the FUSE engine (an error reply, EINVAL). */
static const struct fs_malformed_case fs_malformed_cases[] = {
	{ "address outside guest memory", 2, fill_addr_outside, FS_M_LEN0 },
	{ "length past the end of memory", 2, fill_len_past_end, FS_M_LEN0 },
	{ "loop a->b->a", 2, fill_loop, FS_M_LEN0 },
	{ "loop a->a", 1, fill_self_loop, FS_M_LEN0 },
	{ "next beyond the ring", 1, fill_next_beyond, FS_M_LEN0 },
	{ "indirect descriptor (not negotiated)", 1, fill_indirect, FS_M_LEN0 },
	{ "writable then readable", 3, fill_write_then_read, FS_M_LEN0 },
	{ "chain longer than the ring", FS_RING, fill_longer_than_ring, FS_M_LEN0 },
	{ "readable length 4 GiB-1", 2, fill_huge_len, FS_M_LEN0 },
	{ "writable length 4 GiB-1", 2, fill_huge_len_out, FS_M_LEN0 },
	{ "fuse_in_header len beyond the buffer", 2, fill_hdr_len_lies, FS_M_ERR },
	{ "buffer shorter than fuse_in_header", 2, fill_short_header, FS_M_ERR_ANY },
};

/* An unknown opcode: ENOSYS, and the device goes on. */
static void
fs_malformed_opcode(struct fs_front *f)
{
	uint8_t junk[40];
	struct fs_req r = { .opcode = 4242,
			    .nodeid = FUSE_ROOT_ID,
			    .arg = junk,
			    .arg_len = sizeof(junk),
			    .out_body = 64 };
	struct fs_slot *s;

	memset(junk, 0x5a, sizeof(junk));
	s = fs_call(f, FS_REQQ, &r, "unknown opcode -> ENOSYS", -ENOSYS, 0);
	if (s != NULL) {
		fs_check(f, true, "unknown opcode -> ENOSYS", NULL);
		fs_slot_put(s);
	}
	fs_root_alive(f, "unknown opcode");
}

void
scenario_malformed(struct fs_front *f)
{
	const unsigned int ncases = sizeof(fs_malformed_cases) / sizeof(fs_malformed_cases[0]);

	/* before INIT: EIO */
	fs_getattr_error(f, FUSE_ROOT_ID, sizeof(struct fuse_attr_out),
			 "getattr before init -> EIO", -EIO);
	if (!fs_init(f))
		return;
	fs_root_alive(f, "init");
	fs_malformed_head_beyond(f);
	for (unsigned int i = 0; i < ncases; i++) {
		const struct fs_malformed_case *c = &fs_malformed_cases[i];

		fs_malformed(f, c->name, c->n, c->fill, c->mode);
	}
	/* 11 chains refused by the ring walker, 2 requests by the FUSE engine */
	printf("info malformed-expected %u\n", ncases + 1);
	/* no writable buffer at all: nowhere to reply, length 0 (a valid chain:
	 * not counted) */
	fs_malformed(f, "getattr without reply buffers", 1, fill_no_out, FS_M_LEN0);
	fs_malformed_opcode(f);
	/* a reply buffer too small for the reply: EINVAL in the header */
	fs_getattr_error(f, FUSE_ROOT_ID, 8, "reply buffer too small -> EINVAL", -EINVAL);
	/* a burst of valid requests after all that */
	fs_getattr_burst(f, 32, "32 getattrs after the malformed chains");
}
