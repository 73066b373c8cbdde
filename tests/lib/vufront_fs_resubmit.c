/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * resubmit: the rings and the region as a back-end that crashed left them.
 * Three requests were taken and not returned: INIT, LOOKUP of the read file,
 * GETATTR of the root, submitted (and taken: counters) in that order but
 * placed so that their head ids run the other way. The guest resumes the
 * ring at used->idx (SET_VRING_BASE), where its avail ring holds them. The
 * new back-end must finish them in counter order without a kick: only INIT
 * first lets the other two succeed on its fresh FUSE session.
 *
 * resubmit-used: before those, a GETATTR the crashed back-end had returned
 * (used element and used->idx published) but not cleared in the region:
 * used_idx one behind used->idx, last_inflight_io its head, inflight still
 * 1, and the lowest counter. It must not be taken again.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vufront_fs.h"

#define FS_RESUBMIT_BASE 1000u /* where the crashed back-end stood in the ring */

/* resubmit-used: a GETATTR the crashed back-end returned at used base - 1
 * (its reply written, used element and used->idx published). */
static int
fs_rs_returned(struct fs_front *f, const struct fs_req *getattr, uint16_t base)
{
	struct fs_slot *x = fs_stage(f, FS_REQQ, getattr);
	struct vufront_vq_info info;
	struct fuse_out_header *oh;
	struct fuse_attr_out *ao;

	if (x == NULL)
		return -ENOMEM;
	vufront_vq_info(f->vu, FS_REQQ, &info);
	vufront_vq_publish(f->vu, FS_REQQ, x->head);
	/* its reply, as the crashed back-end wrote it */
	oh = (struct fuse_out_header *)x->out;
	ao = (struct fuse_attr_out *)(x->out + FS_OUT_HDR);
	memset(ao, 0, sizeof(*ao));
	ao->attr.mode = S_IFDIR | 0755;
	oh->len = FS_OUT_HDR + sizeof(*ao);
	oh->error = 0;
	oh->unique = x->unique;
	info.used->ring[(uint16_t)(base - 1) % FS_RING].id = x->head;
	info.used->ring[(uint16_t)(base - 1) % FS_RING].len = oh->len;
	atomic_store_explicit(VU_ATOMIC(&info.used->idx), base, memory_order_release);
	f->rs_returned = x;
	return 0;
}

/* INIT, LOOKUP and GETATTR staged against the order the guest submitted
 * them in: GETATTR first, as the free descriptors go out in ascending order. */
static int
fs_rs_stage(struct fs_front *f, const struct fs_req *getattr)
{
	struct fuse_init_in ii;
	struct fs_req init = { .opcode = FUSE_INIT,
			       .arg = &ii,
			       .arg_len = sizeof(ii),
			       .out_body = sizeof(struct fuse_init_out) };
	struct fs_req lookup = { .opcode = FUSE_LOOKUP,
				 .nodeid = FUSE_ROOT_ID,
				 .arg = f->o->read_file,
				 .arg_len = (uint32_t)strlen(f->o->read_file) + 1,
				 .out_body = sizeof(struct fuse_entry_out) };

	fs_init_in(&ii);
	f->rs_getattr = fs_stage(f, FS_REQQ, getattr);
	f->rs_lookup = fs_stage(f, FS_REQQ, &lookup);
	f->rs_init = fs_stage(f, FS_REQQ, &init);
	if (f->rs_getattr == NULL || f->rs_lookup == NULL || f->rs_init == NULL)
		return -ENOMEM;
	/* the guest submitted them INIT, LOOKUP, GETATTR: avail [base, base + 3) */
	vufront_vq_publish(f->vu, FS_REQQ, f->rs_init->head);
	vufront_vq_publish(f->vu, FS_REQQ, f->rs_lookup->head);
	vufront_vq_publish(f->vu, FS_REQQ, f->rs_getattr->head);
	return 0;
}

/* The region: hiprio idle; the request queue with the three in flight (and
 * the returned one not cleared). */
static void
fs_rs_region(struct fs_front *f, struct vufront_inflight_queue *q0,
	     struct vufront_inflight_queue *q1, uint16_t base)
{
	memset(q0, 0, vufront_inflight_queue_bytes(FS_RING));
	q0->version = 1;
	q0->desc_num = FS_RING;
	memset(q1, 0, vufront_inflight_queue_bytes(FS_RING));
	q1->version = 1;
	q1->desc_num = FS_RING;
	q1->used_idx = base;
	q1->last_inflight_io = FS_RING - 1; /* returned long ago */
	q1->desc[f->rs_init->head].inflight = 1;
	q1->desc[f->rs_init->head].counter = 7;
	q1->desc[f->rs_lookup->head].inflight = 1;
	q1->desc[f->rs_lookup->head].counter = 19;
	q1->desc[f->rs_getattr->head].inflight = 1;
	q1->desc[f->rs_getattr->head].counter = 23;
	if (f->resubmit_used) {
		q1->used_idx = base - 1;
		q1->last_inflight_io = f->rs_returned->head;
		q1->desc[f->rs_returned->head].inflight = 1;
		q1->desc[f->rs_returned->head].counter = 5;
	}
}

/* The prepare hook of the resubmit scenarios: lays out the rings and the
 * region before the rings start. */
int
fs_resubmit_prepare(struct vufront *vu, void *arg)
{
	struct fs_front *f = arg;
	struct vufront_inflight_queue *q0 = vufront_inflight_vq(vu, FS_HIPRIO);
	struct vufront_inflight_queue *q1 = vufront_inflight_vq(vu, FS_REQQ);
	uint16_t base = FS_RESUBMIT_BASE;
	struct fuse_getattr_in gi;
	struct fs_req getattr = { .opcode = FUSE_GETATTR,
				  .nodeid = FUSE_ROOT_ID,
				  .arg = &gi,
				  .arg_len = sizeof(gi),
				  .out_body = sizeof(struct fuse_attr_out) };
	int ret;

	if (q0 == NULL || q1 == NULL)
		return -ENOENT;
	memset(&gi, 0, sizeof(gi));
	vufront_vq_reset(vu, FS_REQQ, f->resubmit_used ? base - 1 : base);
	if (f->resubmit_used) {
		ret = fs_rs_returned(f, &getattr, base);
		if (ret < 0)
			return ret;
	}
	ret = fs_rs_stage(f, &getattr);
	if (ret < 0)
		return ret;
	fs_rs_region(f, q0, q1, base);
	printf("info left in flight: INIT head %u counter 7, LOOKUP head %u counter 19, "
	       "GETATTR head %u counter 23; used->idx %u\n",
	       f->rs_init->head, f->rs_lookup->head, f->rs_getattr->head, base);
	if (f->resubmit_used)
		printf("info returned but not cleared: GETATTR head %u counter 5 at used %u, "
		       "region used_idx %u\n",
		       f->rs_returned->head, base - 1, base - 1);
	atomic_thread_fence(memory_order_seq_cst);
	return 0;
}

static const char *
fs_rs_name(struct fs_front *f, uint32_t id)
{
	if (f->rs_init != NULL && id == f->rs_init->head)
		return "INIT";
	if (f->rs_lookup != NULL && id == f->rs_lookup->head)
		return "LOOKUP";
	if (f->rs_getattr != NULL && id == f->rs_getattr->head)
		return "GETATTR";
	if (f->rs_returned != NULL && id == f->rs_returned->head)
		return "the GETATTR returned before the crash";
	return "no request of ours";
}

/* No kick: the back-end finishes them on its own; wait for three used
 * elements, then a while longer for any it should not have written. Each
 * of the three must be used once, and nothing else. */
static bool
fs_rs_used_once(struct fs_front *f)
{
	const uint16_t base = FS_RESUBMIT_BASE;
	double deadline = fs_now() + f->o->timeout_ms / 1000.0;
	unsigned int seen_init = 0, seen_lookup = 0, seen_getattr = 0;
	struct vufront_vq_info info;
	char order[256];
	size_t ol = 0;
	uint16_t u;

	while ((uint16_t)(fs_used_idx(f, FS_REQQ) - base) < 3 && fs_now() < deadline &&
	       !fs_backend_gone(f))
		usleep(1000);
	usleep(300 * 1000);
	u = fs_used_idx(f, FS_REQQ);
	vufront_vq_info(f->vu, FS_REQQ, &info);
	for (uint16_t i = base; i != u && (uint16_t)(i - base) < 8; i++) {
		uint32_t id = info.used->ring[i % FS_RING].id;

		ol += (size_t)snprintf(order + ol, sizeof(order) - ol, "%s%s (head %u)",
				       i == base ? "" : ", ", fs_rs_name(f, id), id);
		if (ol >= sizeof(order))
			ol = sizeof(order) - 1;
		seen_init += f->rs_init->head == id;
		seen_lookup += f->rs_lookup->head == id;
		seen_getattr += f->rs_getattr->head == id;
	}
	printf("info used after the resubmission: %s\n", u == base ? "nothing" : order);
	return fs_check(f,
			(uint16_t)(u - base) == 3 && seen_init == 1 && seen_lookup == 1 &&
				seen_getattr == 1,
			"the three requests left in flight returned once each, nothing else",
			"%u used elements after used->idx %u: %s", (uint16_t)(u - base), base,
			u == base ? "none" : order);
}

/* The replies: INIT first made the other two possible. *e: what LOOKUP
 * found (node id 0 if it failed). */
static void
fs_rs_replies(struct fs_front *f, struct fuse_entry_out *e)
{
	struct fuse_attr a;

	if (fs_reply_ok(f, "resubmitted INIT", f->rs_init, 0, sizeof(struct fuse_init_out)))
		fs_init_done(f, f->rs_init);
	if (fs_reply_ok(f, "resubmitted LOOKUP finds the read file", f->rs_lookup, 0,
			sizeof(struct fuse_entry_out))) {
		*e = *(const struct fuse_entry_out *)fs_body(f->rs_lookup);
		fs_check(f,
			 e->nodeid != 0 && e->nodeid != FUSE_ROOT_ID && S_ISREG(e->attr.mode) &&
				 e->attr.size == f->o->read_size,
			 "resubmitted LOOKUP finds the read file",
			 "nodeid %" PRIu64 " mode 0%o size %" PRIu64, e->nodeid, e->attr.mode,
			 (uint64_t)e->attr.size);
	} else {
		e->nodeid = 0;
	}
	if (fs_reply_ok(f, "resubmitted GETATTR of the root (after INIT: counter order)",
			f->rs_getattr, 0, sizeof(struct fuse_attr_out))) {
		a = ((const struct fuse_attr_out *)fs_body(f->rs_getattr))->attr;
		fs_check(f, S_ISDIR(a.mode),
			 "resubmitted GETATTR of the root (after INIT: counter order)", "mode 0%o",
			 a.mode);
	}
	fs_slot_put(f->rs_lookup);
	fs_slot_put(f->rs_getattr);
}

/* The queue goes on from there: a new request (a GETATTR of the node the
 * resubmitted LOOKUP made), with a counter above the region's. */
static void
fs_rs_after(struct fs_front *f, uint64_t nodeid)
{
	struct vufront_inflight_queue *iq = vufront_inflight_vq(f->vu, FS_REQQ);
	struct fuse_getattr_in gi;
	struct fs_req r = { .opcode = FUSE_GETATTR,
			    .nodeid = nodeid,
			    .arg = &gi,
			    .arg_len = sizeof(gi),
			    .out_body = sizeof(struct fuse_attr_out) };
	struct fuse_attr a;
	struct fs_slot *s;

	memset(&gi, 0, sizeof(gi));
	s = fs_call(f, FS_REQQ, &r, "a new request after the resubmission", 0,
		    sizeof(struct fuse_attr_out));
	if (s == NULL)
		return;
	a = ((const struct fuse_attr_out *)fs_body(s))->attr;
	fs_check(f, S_ISREG(a.mode) && a.size == f->o->read_size,
		 "a new request after the resubmission", "mode 0%o size %" PRIu64, a.mode,
		 (uint64_t)a.size);
	fs_check(f, iq->desc[s->head].counter > 23, "its counter continues above the region's",
		 "head %u counter %" PRIu64, s->head, iq->desc[s->head].counter);
	fs_slot_put(s);
}

void
scenario_resubmit(struct fs_front *f)
{
	struct fuse_entry_out e;
	char why[200];
	bool ok;

	if (vufront_inflight_vq(f->vu, FS_REQQ) == NULL) {
		fs_check(f, false, "inflight region", "none after the bring-up");
		return;
	}
	fs_check(f,
		 f->rs_init->head > f->rs_lookup->head && f->rs_lookup->head > f->rs_getattr->head,
		 "the head ids run against the counters", "INIT %u LOOKUP %u GETATTR %u",
		 f->rs_init->head, f->rs_lookup->head, f->rs_getattr->head);
	ok = fs_rs_used_once(f);
	/* reap: the replies land in the slots (and the returned one's too) */
	while (vufront_vq_pending(f->vu, FS_REQQ) > 0)
		if (fs_reap(f, FS_REQQ, 100) < 0)
			break;
	if (f->rs_returned != NULL) {
		fs_check(f, f->rs_returned->done,
			 "the request returned before the crash is "
			 "seen once",
			 "not reaped");
		if (f->rs_returned->done)
			fs_slot_put(f->rs_returned);
	}
	if (!ok && !f->rs_init->done)
		return;
	fs_rs_replies(f, &e);
	if (!fs_inflight_settled(f, FS_REQQ, why, sizeof(why)))
		fs_check(f, false, "inflight area settled after the resubmission", "%s", why);
	else
		fs_check(f, true, "inflight area settled after the resubmission", NULL);
	if (e.nodeid != 0)
		fs_rs_after(f, e.nodeid);
	fs_root_alive(f, "resubmission");
	fs_inflight_all_settled(f, "all queues settled at the end");
}
