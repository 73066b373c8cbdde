/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs: checks and SYNC points, FUSE requests in the slots and their
 * chains on the rings, and the bring-up.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vufront_fs.h"

uint8_t
fs_pattern(unsigned int seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL + (uint64_t)seed * 0xbf58476d1ce4e5b9ULL;

	x ^= x >> 29;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 32;
	return (uint8_t)x;
}

double
fs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool
fs_check(struct fs_front *f, bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	f->checks++;
	if (ok) {
		printf("check %s: ok\n", name);
		return true;
	}
	f->failed++;
	printf("check %s: FAIL", name);
	if (fmt != NULL) {
		printf(" (");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(")");
	}
	printf("\n");
	return false;
}

void
fs_sync(const char *tag)
{
	char line[256];

	printf("SYNC %s\n", tag);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "vufront-fs: stdin closed while waiting at %s\n", tag);
		exit(2);
	}
}

/* ---- requests ---- */

struct fs_slot *
fs_slot_get(struct fs_front *f)
{
	for (unsigned int i = 0; i < FS_SLOTS; i++) {
		if (!f->slots[i].busy) {
			struct fs_slot *s = &f->slots[i];

			s->busy = true;
			s->done = false;
			s->used_len = 0;
			s->opcode = 0;
			s->unique = 0;
			memset(s->out, 0xa5, FS_OUT_HDR);
			return s;
		}
	}
	return NULL;
}

void
fs_slot_put(struct fs_slot *s)
{
	s->busy = false;
}

void
fs_map_head(struct fs_front *f, struct fs_slot *s, unsigned int vq, uint16_t head)
{
	s->vq = vq;
	s->head = head;
	f->head_slot[vq][head] = (uint16_t)(s - f->slots) + 1;
}

/* A fuse_in_header for a new request at the start of s->in (no uid, gid
 * or pid); s takes its opcode and unique. */
struct fuse_in_header *
fs_slot_header(struct fs_front *f, struct fs_slot *s, uint32_t opcode, uint64_t nodeid,
	       uint32_t len)
{
	struct fuse_in_header *ih = (struct fuse_in_header *)s->in;

	memset(ih, 0, sizeof(*ih));
	ih->len = len;
	ih->opcode = opcode;
	ih->unique = ++f->next_unique;
	ih->nodeid = nodeid;
	s->unique = ih->unique;
	s->opcode = opcode;
	return ih;
}

/* Build the request in a free slot; bufs[] gets its chain (*n buffers). */
static struct fs_slot *
fs_fill(struct fs_front *f, const struct fs_req *r, struct vufront_buf *bufs, unsigned int *nbufs)
{
	struct fuse_in_header *ih;
	struct fs_slot *s = fs_slot_get(f);
	uint32_t len = FS_IN_HDR + r->arg_len + r->arg2_len;
	unsigned int n = 0;
	uint64_t total = len;

	if (s == NULL || len > FS_SLOT_IN || r->n_data > 24 ||
	    (r->out_body != FS_NO_REPLY && r->out_body > FS_SLOT_OUT - FS_OUT_HDR)) {
		fprintf(stderr, "vufront-fs: bad request or no free slot\n");
		if (s != NULL)
			fs_slot_put(s);
		return NULL;
	}
	for (unsigned int i = 0; i < r->n_data; i++)
		total += r->data[i].len;
	ih = fs_slot_header(f, s, r->opcode, r->nodeid, r->hdr_len ? r->hdr_len : (uint32_t)total);
	ih->uid = f->uid;
	ih->gid = f->gid;
	ih->pid = f->pid;
	if (r->arg_len)
		memcpy(s->in + FS_IN_HDR, r->arg, r->arg_len);
	if (r->arg2_len)
		memcpy(s->in + FS_IN_HDR + r->arg_len, r->arg2, r->arg2_len);
	bufs[n++] = (struct vufront_buf){ .addr = s->in_gpa, .len = len };
	for (unsigned int i = 0; i < r->n_data; i++)
		bufs[n++] = r->data[i];
	s->out_body = 0;
	if (r->out_body != FS_NO_REPLY) {
		/* as Linux does: the out header in a buffer of its own */
		bufs[n++] = (struct vufront_buf){ .addr = s->out_gpa,
						  .len = FS_OUT_HDR,
						  .flags = VUFRONT_DESC_F_WRITE };
		if (r->out_body > 0)
			bufs[n++] = (struct vufront_buf){ .addr = s->out_gpa + FS_OUT_HDR,
							  .len = r->out_body,
							  .flags = VUFRONT_DESC_F_WRITE };
		s->out_body = r->out_body;
	}
	*nbufs = n;
	return s;
}

/* Build the request in a free slot, publish its chain on ring vq, notify. */
struct fs_slot *
fs_post(struct fs_front *f, unsigned int vq, const struct fs_req *r)
{
	struct vufront_buf bufs[32];
	struct fs_slot *s;
	unsigned int n;
	uint16_t head;
	int ret;

	s = fs_fill(f, r, bufs, &n);
	if (s == NULL)
		return NULL;
	ret = vufront_vq_add_chain(f->vu, vq, bufs, n, &head);
	if (ret < 0) {
		fprintf(stderr, "vufront-fs: add chain: %s\n", vufront_errmsg(f->vu));
		fs_slot_put(s);
		return NULL;
	}
	fs_map_head(f, s, vq, head);
	vufront_vq_notify(f->vu, vq);
	return s;
}

/* Build the request and its chain on ring vq without publishing it: for
 * ring states laid out by hand (what a crashed back-end left behind). */
struct fs_slot *
fs_stage(struct fs_front *f, unsigned int vq, const struct fs_req *r)
{
	struct vufront_buf bufs[32];
	struct vufront_vq_info info;
	uint16_t ids[32];
	struct fs_slot *s;
	unsigned int n;

	s = fs_fill(f, r, bufs, &n);
	if (s == NULL)
		return NULL;
	if (vufront_vq_info(f->vu, vq, &info) < 0 || vufront_vq_take_descs(f->vu, vq, n, ids) < 0) {
		fprintf(stderr, "vufront-fs: stage a chain: %s\n", vufront_errmsg(f->vu));
		fs_slot_put(s);
		return NULL;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct vufront_desc *d = &info.desc[ids[i]];

		d->addr = bufs[i].addr;
		d->len = bufs[i].len;
		d->flags = bufs[i].flags;
		d->next = 0;
		if (i + 1 < n) {
			d->flags |= VUFRONT_DESC_F_NEXT;
			d->next = ids[i + 1];
		}
	}
	fs_map_head(f, s, vq, ids[0]);
	return s;
}

/* Reap what ring vq has used, waiting up to timeout_ms for the first. */
int
fs_reap(struct fs_front *f, unsigned int vq, int timeout_ms)
{
	struct vufront_used_elem e[FS_RING];
	int n, ret;

	ret = vufront_vq_wait(f->vu, vq, timeout_ms);
	if (ret < 0)
		return ret;
	n = vufront_vq_reap(f->vu, vq, e, FS_RING);
	if (n < 0) {
		fprintf(stderr, "vufront-fs: reap ring %u: %s\n", vq, vufront_errmsg(f->vu));
		return n;
	}
	for (int i = 0; i < n; i++) {
		uint16_t si = e[i].id < FS_RING ? f->head_slot[vq][e[i].id] : 0;
		struct fs_slot *s;

		if (si == 0) {
			fprintf(stderr, "vufront-fs: ring %u: used id %u is no request of ours\n",
				vq, e[i].id);
			return -EPROTO;
		}
		s = &f->slots[si - 1];
		f->head_slot[vq][e[i].id] = 0;
		s->done = true;
		s->used_len = e[i].len;
		s->seq = ++f->done_seq;
		if (f->o->verbose)
			fprintf(stderr,
				"used ring %u id %u len %u (opcode %u unique %" PRIu64 ")\n", vq,
				e[i].id, e[i].len, s->opcode, s->unique);
	}
	return n;
}

/* Has the back-end closed the connection (crashed, say)? */
bool
fs_backend_gone(struct fs_front *f)
{
	struct pollfd p = { .fd = vufront_sockfd(f->vu), .events = POLLRDHUP };

	if (!f->gone &&
	    (p.fd < 0 || (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))))) {
		f->gone = true;
		printf("info the back-end closed the connection\n");
	}
	return f->gone;
}

/* Wait for s to be used. Fails fast once the back-end is gone, and waits
 * at most 1 s per request once one has timed out. */
int
fs_wait(struct fs_front *f, struct fs_slot *s, int timeout_ms)
{
	double deadline = fs_now() + (f->stalled && timeout_ms > 1000 ? 1000 : timeout_ms) / 1000.0;

	while (!s->done) {
		int left = (int)((deadline - fs_now()) * 1000);
		int ret;

		if (fs_backend_gone(f) && vufront_vq_pending(f->vu, s->vq) == 0)
			return -ECONNRESET;
		if (left <= 0) {
			f->stalled = true;
			return -ETIMEDOUT;
		}
		ret = fs_reap(f, s->vq, left < 200 ? left : 200);
		if (ret < 0 && ret != -ETIMEDOUT)
			return ret;
	}
	return 0;
}

const struct fuse_out_header *
fs_oh(const struct fs_slot *s)
{
	return (const struct fuse_out_header *)s->out;
}

const void *
fs_body(const struct fs_slot *s)
{
	return s->out + FS_OUT_HDR;
}

/* A reply that is well formed: used length == header len, unique matches. */
bool
fs_reply_ok(struct fs_front *f, const char *name, const struct fs_slot *s, int want_err,
	    uint32_t min_body)
{
	const struct fuse_out_header *oh = fs_oh(s);

	if (!s->done)
		return fs_check(f, false, name,
				f->gone ? "no reply, the back-end is gone" : "no reply in time");
	if (s->used_len < FS_OUT_HDR || oh->len != s->used_len)
		return fs_check(f, false, name, "used length %u, out header len %u", s->used_len,
				oh->len);
	if (oh->unique != s->unique)
		return fs_check(f, false, name, "unique %" PRIu64 ", expected %" PRIu64, oh->unique,
				s->unique);
	if (oh->error != want_err)
		return fs_check(f, false, name, "error %d (%s), expected %d", oh->error,
				strerror(-oh->error), want_err);
	if (oh->len - FS_OUT_HDR < min_body)
		return fs_check(f, false, name, "body of %u bytes, expected >= %u",
				oh->len - FS_OUT_HDR, min_body);
	return true;
}

/* Post, wait, check the reply; returns the slot (caller puts it) or NULL. */
struct fs_slot *
fs_call(struct fs_front *f, unsigned int vq, const struct fs_req *r, const char *name, int want_err,
	uint32_t min_body)
{
	struct fs_slot *s = fs_post(f, vq, r);

	if (s == NULL) {
		fs_check(f, false, name, "could not post the request");
		return NULL;
	}
	fs_wait(f, s, f->o->timeout_ms);
	if (!fs_reply_ok(f, name, s, want_err, min_body)) {
		if (s->done)
			fs_slot_put(s);
		return NULL;
	}
	return s;
}

/* The ring's used->idx as the back-end last published it. */
uint16_t
fs_used_idx(struct fs_front *f, unsigned int vq)
{
	struct vufront_vq_info info;

	vufront_vq_info(f->vu, vq, &info);
	return atomic_load_explicit(VU_ATOMIC(&info.used->idx), memory_order_acquire);
}

/* ---- bring-up ---- */

/* Guest memory, the rings and the request buffers before the bring-up: a
 * prepare hook builds requests in them before the rings start (the layout
 * is the one the bring-up would make). */
static int
fs_connect_mem(struct fs_front *f)
{
	if (vufront_mem_create(f->vu, FS_MEM) < 0 ||
	    vufront_vq_setup(f->vu, FS_HIPRIO, FS_RING) < 0 ||
	    vufront_vq_setup(f->vu, FS_REQQ, FS_RING) < 0)
		return -ENOMEM;
	for (unsigned int i = 0; i < FS_SLOTS; i++) {
		struct fs_slot *s = &f->slots[i];

		if (vufront_mem_alloc(f->vu, FS_SLOT_IN, 64, &s->in_gpa) < 0 ||
		    vufront_mem_alloc(f->vu, FS_SLOT_OUT, 64, &s->out_gpa) < 0)
			return -ENOMEM;
		s->in = vufront_gpa_ptr(f->vu, s->in_gpa, FS_SLOT_IN);
		s->out = vufront_gpa_ptr(f->vu, s->out_gpa, FS_SLOT_OUT);
	}
	if (vufront_mem_alloc(f->vu, FS_DATA, 4096, &f->data_gpa) < 0 ||
	    vufront_mem_alloc(f->vu, 65536, 4096, &f->aux_gpa) < 0)
		return -ENOMEM;
	f->data = vufront_gpa_ptr(f->vu, f->data_gpa, FS_DATA);
	f->aux = vufront_gpa_ptr(f->vu, f->aux_gpa, 65536);
	return 0;
}

/* The bring-up of an fs device: VERSION_1, PROTOCOL_FEATURES and the
 * protocol features pf required, two rings; a prepare hook gets f. */
void
fs_dev_conf(struct fs_front *f, struct vufront_dev_conf *dc, uint64_t pf)
{
	vufront_dev_conf_init(dc);
	dc->neg.features_required =
		VUFRONT_BIT(VUFRONT_F_VERSION_1) | VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES);
	dc->neg.protocol_required = pf;
	dc->num_rings = FS_NVQ;
	dc->ring_size = FS_RING;
	dc->mem_size = FS_MEM;
	dc->enable = true;
	dc->prepare_arg = f;
}

/* What the bring-up negotiated: one check each, and an info line. */
static void
fs_connect_checks(struct fs_front *f, const struct vufront_dev_conf *dc, uint64_t want_pf)
{
	fs_check(f, vufront_features(f->vu) == dc->neg.features_required, "features negotiated",
		 "0x%" PRIx64 " (offered 0x%" PRIx64 ")", vufront_features(f->vu),
		 vufront_offered_features(f->vu));
	fs_check(f,
		 vufront_protocol_features(f->vu) == want_pf &&
			 !(vufront_offered_protocol_features(f->vu) &
			   VUFRONT_BIT(VUFRONT_PF_STATUS)),
		 "protocol features negotiated (no STATUS offered)",
		 "acked 0x%" PRIx64 " offered 0x%" PRIx64, vufront_protocol_features(f->vu),
		 vufront_offered_protocol_features(f->vu));
	fs_check(f, vufront_queue_num(f->vu) >= 1, "queue number", "GET_QUEUE_NUM %" PRIu64,
		 vufront_queue_num(f->vu));
	printf("info features 0x%" PRIx64 " protocol 0x%" PRIx64 " queue_num %" PRIu64 "\n",
	       vufront_features(f->vu), vufront_protocol_features(f->vu), vufront_queue_num(f->vu));
}

int
fs_connect(struct fs_front *f)
{
	struct vufront_dev_conf dc;
	uint64_t want_pf = VUFRONT_BIT(VUFRONT_PF_MQ) | VUFRONT_BIT(VUFRONT_PF_LOG_SHMFD) |
			   VUFRONT_BIT(VUFRONT_PF_REPLY_ACK);
	int ret;

	if (f->inflight)
		want_pf |= VUFRONT_BIT(VUFRONT_PF_INFLIGHT_SHMFD);
	if (f->device_state)
		want_pf |= VUFRONT_BIT(VUFRONT_PF_DEVICE_STATE);
	f->vu = vufront_create();
	if (f->vu == NULL)
		return -ENOMEM;
	vufront_set_timeout(f->vu, f->o->timeout_ms);
	ret = vufront_connect(f->vu, f->o->socket, f->o->timeout_ms, VUFRONT_CONNECT_PROBE);
	if (ret < 0) {
		fprintf(stderr, "vufront-fs: connect %s: %s\n", f->o->socket,
			vufront_errmsg(f->vu));
		return ret;
	}
	f->connections++;
	if (fs_connect_mem(f) < 0) {
		fprintf(stderr, "vufront-fs: %s\n", vufront_errmsg(f->vu));
		return -ENOMEM;
	}
	fs_dev_conf(f, &dc, want_pf);
	dc.neg.features = 0;
	dc.neg.protocol_features = 0;
	if (f->any_backend) {
		dc.neg.protocol_required = 0;
		dc.neg.protocol_features = want_pf;
	}
	dc.inflight = f->inflight;
	dc.inflight_late = f->inflight_late;
	dc.prepare = f->prepare;
	dc.inflight_sent = f->inflight_sent;
	ret = vufront_dev_start(f->vu, &dc);
	if (ret < 0) {
		if (f->inflight)
			fs_check(f,
				 vufront_offered_protocol_features(f->vu) &
					 VUFRONT_BIT(VUFRONT_PF_INFLIGHT_SHMFD),
				 "INFLIGHT_SHMFD offered", "protocol features 0x%" PRIx64,
				 vufront_offered_protocol_features(f->vu));
		fs_check(f, false, "bring-up", "%s", vufront_errmsg(f->vu));
		return ret;
	}
	if (f->any_backend)
		printf("info features 0x%" PRIx64 " (offered 0x%" PRIx64 ") protocol 0x%" PRIx64
		       " (offered 0x%" PRIx64 ")\n",
		       vufront_features(f->vu), vufront_offered_features(f->vu),
		       vufront_protocol_features(f->vu), vufront_offered_protocol_features(f->vu));
	else
		fs_connect_checks(f, &dc, want_pf);
	return 0;
}
