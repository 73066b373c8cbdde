/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs, scenario bench: a load generator for the back-end's request
 * path (usertools/vhostgw-bench fs-ring). After INIT it runs the operations
 * of --op in order, in one FUSE session, each for --seconds with --depth
 * requests in flight at all times: a new one is posted as each completes,
 * and the used ring is polled (busy) from this side. Each operation prints
 * one JSON line:
 *
 *   {"op": "randread", "depth": 16, "ops": N, "bytes": B, "seconds": S,
 *    "errors": E, "req_size": R, "max_write": W, "max_pages": P}
 *
 * --op is a comma-separated list of OP or OP:DEPTH (DEPTH: --depth):
 *
 *   lookup    LOOKUP of one of --lookup-files existing names, GETATTR of the
 *             node, FORGET of it on hiprio (keeps the back-end's inode count
 *             bounded); one op = LOOKUP + GETATTR
 *   create    CREATE (O_EXCL) of a new name, RELEASE; one op = CREATE +
 *             RELEASE; at most --max-files files (each new node stays
 *             looked up until its UNLINK, as the kernel keeps a new file's
 *             inode, and a back-end may hold an fd per node)
 *   unlink    UNLINK of the files the create before it made, FORGET of
 *             each (stops when they run out)
 *   randread  4 KiB READs at random 4 KiB-aligned offsets of the read file
 *   seqread   READs of R bytes, in order through the read file (wraps)
 *   seqwrite  WRITEs of R bytes, in order through a new file of the read
 *             file's size (wraps, so it never grows past it)
 *
 * R = min(1 MiB, max_pages * 4 KiB, and for WRITE max_write) from the INIT
 * reply. Big payloads travel in one descriptor (contiguous guest memory).
 * The read file (--read-file, --file-size bytes, --read-seed pattern) is
 * written through the back-end first when it is missing or has another
 * size, and the names lk-NNNNN for lookup are made the same way; that is
 * not timed. New names carry --name-prefix, so runs do not collide.
 *
 * Every reply is checked: used length == the out header's length, its
 * unique, error 0, the body length the request asks for (READ: all of it),
 * and for READs 8 bytes at three places compared with the pattern. A
 * failed reply counts in "errors" (the first few are printed) and ends
 * the operation; the run fails (RESULT fail) when any operation had errors.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vufront_fs.h"

#define BENCH_POOL (32u << 20)	 /* guest memory for READ/WRITE payloads */
#define BENCH_MAX_REQ (1u << 20) /* a READ or WRITE moves at most this */
#define BENCH_MAX_DEPTH 64u	 /* 4 descriptors each fill the ring */
#define BENCH_FORGETS 32u
#define BENCH_RAND_SIZE 4096u
#define BENCH_NAME 64u
#define BENCH_SHOW_ERRORS 5u
#define BENCH_WRITE_FILE "bench-write"

enum bench_op { OP_LOOKUP, OP_CREATE, OP_UNLINK, OP_RANDREAD, OP_SEQREAD, OP_SEQWRITE, OP_N };

static const char *const bench_op_names[OP_N] = { "lookup",   "create",	 "unlink",
						  "randread", "seqread", "seqwrite" };

/* What a request in flight is part of (indexed like f->slots). */
struct bench_req {
	uint8_t stage; /* lookup, create: 0 first request, 1 second */
	uint32_t buf;  /* payload buffer index in the pool */
	uint64_t off;
	uint64_t nodeid;
	uint64_t fh;
};

struct bench {
	struct fs_front *f;
	enum bench_op op;
	unsigned int depth;
	uint32_t req_size;
	uint64_t pool_gpa;
	uint8_t *pool;
	bool have_read; /* the read file is open: read_node, read_fh */
	uint64_t read_node, read_fh;
	uint64_t write_node, write_fh;
	uint64_t seq_off;
	uint64_t rng;
	unsigned int created; /* files of the last create */
	uint64_t *nodes;      /* their node ids, FORGOTTEN after their UNLINK */
	unsigned int nodes_max;
	unsigned int next_name;
	unsigned int inflight;
	unsigned int forgets; /* FORGETs on hiprio not yet used */
	bool stop;	      /* post nothing new */
	uint64_t ops, bytes, errors;
	uint16_t free_bufs[BENCH_MAX_DEPTH];
	unsigned int n_free_bufs;
	struct bench_req rq[FS_SLOTS];
};

static uint64_t
bench_rand(struct bench *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

static void
bench_name(const struct bench *b, unsigned int i, char *buf)
{
	snprintf(buf, BENCH_NAME, "%s-%u", b->f->o->name_prefix, i);
}

static void bench_error(struct bench *b, const struct fs_slot *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
bench_error(struct bench *b, const struct fs_slot *s, const char *fmt, ...)
{
	va_list ap;

	b->stop = true; /* an error ends the operation: what follows is noise */
	if (b->errors++ >= BENCH_SHOW_ERRORS)
		return;
	printf("info bench %s: opcode %u unique %" PRIu64 ": ", bench_op_names[b->op], s->opcode,
	       s->unique);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* The reply of s is well formed, error 0, with a body of exactly body
 * bytes (~0u: any). */
static bool
bench_reply_ok(struct bench *b, const struct fs_slot *s, uint32_t body)
{
	const struct fuse_out_header *oh = fs_oh(s);

	if (s->used_len < FS_OUT_HDR || oh->len != s->used_len) {
		bench_error(b, s, "used length %u, out header len %u", s->used_len, oh->len);
		return false;
	}
	if (oh->unique != s->unique) {
		bench_error(b, s, "unique %" PRIu64, oh->unique);
		return false;
	}
	if (oh->error != 0) {
		bench_error(b, s, "error %d (%s)", oh->error, strerror(-oh->error));
		return false;
	}
	if (body != ~0u && oh->len - FS_OUT_HDR != body) {
		bench_error(b, s, "body of %u bytes, expected %u", oh->len - FS_OUT_HDR, body);
		return false;
	}
	return true;
}

/* ---- posting ---- */

/* A request of ours: fs_post() with the error counted. */
static struct fs_slot *
bench_post(struct bench *b, unsigned int vq, const struct fs_req *r)
{
	struct fs_slot *s = fs_post(b->f, vq, r);

	if (s == NULL) {
		b->errors++;
		b->stop = true;
	}
	return s;
}

static int bench_reap(struct bench *b, unsigned int vq);

/* FORGET of nodeid on hiprio; no more than BENCH_FORGETS of them in flight
 * (the slots are shared with the request queue). */
static void
bench_forget(struct bench *b, uint64_t nodeid)
{
	double deadline = fs_now() + b->f->o->timeout_ms / 1000.0;

	while (b->forgets >= BENCH_FORGETS) {
		if (bench_reap(b, FS_HIPRIO) < 0 || fs_now() > deadline) {
			bench_error(b, &b->f->slots[0], "FORGETs do not come back");
			return;
		}
	}
	if (fs_post_forget(b->f, nodeid) == NULL) {
		b->errors++;
		b->stop = true;
		return;
	}
	b->forgets++;
}

static struct fs_slot *
bench_post_lookup(struct bench *b, const char *name)
{
	struct fs_req r = { .opcode = FUSE_LOOKUP,
			    .nodeid = FUSE_ROOT_ID,
			    .arg = name,
			    .arg_len = (uint32_t)strlen(name) + 1,
			    .out_body = sizeof(struct fuse_entry_out) };

	return bench_post(b, FS_REQQ, &r);
}

static struct fs_slot *
bench_post_create(struct bench *b, const char *name, uint32_t flags)
{
	struct fuse_create_in ci = { .flags = flags, .mode = S_IFREG | 0644, .umask = 022 };
	struct fs_req r = { .opcode = FUSE_CREATE,
			    .nodeid = FUSE_ROOT_ID,
			    .arg = &ci,
			    .arg_len = sizeof(ci),
			    .arg2 = name,
			    .arg2_len = (uint32_t)strlen(name) + 1,
			    .out_body =
				    sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out) };

	return bench_post(b, FS_REQQ, &r);
}

static struct fs_slot *
bench_post_release(struct bench *b, uint64_t nodeid, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };
	struct fs_req r = { .opcode = FUSE_RELEASE,
			    .nodeid = nodeid,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .out_body = 0 };

	return bench_post(b, FS_REQQ, &r);
}

/* A READ of size bytes at off into payload buffer buf (the out header in
 * the slot, the data in one descriptor of the pool). */
static struct fs_slot *
bench_post_read(struct bench *b, uint32_t buf, uint64_t off, uint32_t size)
{
	struct fs_front *f = b->f;
	struct fs_slot *s = fs_slot_get(f);
	struct fuse_read_in *in;
	struct vufront_buf bufs[3];
	uint16_t head;

	if (s == NULL) {
		b->errors++;
		b->stop = true;
		return NULL;
	}
	fs_slot_header(f, s, FUSE_READ, b->read_node, FS_IN_HDR + sizeof(*in));
	in = (struct fuse_read_in *)(s->in + FS_IN_HDR);
	memset(in, 0, sizeof(*in));
	in->fh = b->read_fh;
	in->offset = off;
	in->size = size;
	bufs[0] = (struct vufront_buf){ .addr = s->in_gpa, .len = FS_IN_HDR + sizeof(*in) };
	bufs[1] = (struct vufront_buf){ .addr = s->out_gpa,
					.len = FS_OUT_HDR,
					.flags = VUFRONT_DESC_F_WRITE };
	bufs[2] = (struct vufront_buf){ .addr = b->pool_gpa + (uint64_t)buf * b->req_size,
					.len = size,
					.flags = VUFRONT_DESC_F_WRITE };
	if (vufront_vq_add_chain(f->vu, FS_REQQ, bufs, 3, &head) < 0) {
		fs_slot_put(s);
		b->errors++;
		b->stop = true;
		return NULL;
	}
	fs_map_head(f, s, FS_REQQ, head);
	vufront_vq_notify(f->vu, FS_REQQ);
	return s;
}

static struct fs_slot *
bench_post_write(struct bench *b, uint32_t buf, uint64_t off, uint32_t size)
{
	struct fuse_write_in wi = { .fh = b->write_fh, .offset = off, .size = size };
	struct vufront_buf data = { .addr = b->pool_gpa + (uint64_t)buf * b->req_size,
				    .len = size };
	struct fs_req r = { .opcode = FUSE_WRITE,
			    .nodeid = b->write_node,
			    .arg = &wi,
			    .arg_len = sizeof(wi),
			    .data = &data,
			    .n_data = 1,
			    .out_body = sizeof(struct fuse_write_out) };

	return bench_post(b, FS_REQQ, &r);
}

/* ---- one request per operation: start, and what follows a reply ---- */

static struct bench_req *
bench_rq(struct bench *b, const struct fs_slot *s)
{
	return &b->rq[s - b->f->slots];
}

/* Start one more operation; false when there is nothing left to start. */
static bool
bench_start(struct bench *b)
{
	char name[BENCH_NAME];
	struct fs_slot *s = NULL;
	uint32_t buf;
	uint64_t off;

	switch (b->op) {
	case OP_LOOKUP:
		snprintf(name, sizeof(name), "lk-%05u", b->next_name++ % b->f->o->lookup_files);
		s = bench_post_lookup(b, name);
		break;
	case OP_CREATE:
		if (b->next_name >= b->f->o->max_files)
			return false;
		bench_name(b, b->next_name, name);
		s = bench_post_create(b, name, O_CREAT | O_EXCL | O_WRONLY);
		if (s != NULL)
			bench_rq(b, s)->off = b->next_name;
		b->next_name++;
		break;
	case OP_UNLINK:
		if (b->next_name >= b->created)
			return false;
		bench_name(b, b->next_name, name);
		s = bench_post(b, FS_REQQ,
			       &(struct fs_req){ .opcode = FUSE_UNLINK,
						 .nodeid = FUSE_ROOT_ID,
						 .arg = name,
						 .arg_len = (uint32_t)strlen(name) + 1,
						 .out_body = 0 });
		if (s != NULL)
			bench_rq(b, s)->off = b->next_name;
		b->next_name++;
		break;
	case OP_RANDREAD:
	case OP_SEQREAD:
	case OP_SEQWRITE:
		buf = b->free_bufs[--b->n_free_bufs];
		if (b->op == OP_RANDREAD) {
			off = (bench_rand(b) % (b->f->o->file_size / BENCH_RAND_SIZE)) *
			      BENCH_RAND_SIZE;
		} else {
			off = b->seq_off;
			b->seq_off += b->req_size;
			if (b->seq_off + b->req_size > b->f->o->file_size)
				b->seq_off = 0;
		}
		if (b->op == OP_SEQWRITE)
			s = bench_post_write(b, buf, off, b->req_size);
		else
			s = bench_post_read(b, buf, off, b->req_size);
		if (s == NULL) {
			b->free_bufs[b->n_free_bufs++] = (uint16_t)buf;
			return false;
		}
		bench_rq(b, s)->buf = buf;
		bench_rq(b, s)->off = off;
		break;
	default:
		return false;
	}
	if (s == NULL)
		return false;
	bench_rq(b, s)->stage = 0;
	b->inflight++;
	return true;
}

/* 8 bytes at off + at of a READ reply's data match the pattern. */
static bool
bench_data_at(struct bench *b, const uint8_t *data, uint64_t off, uint32_t at)
{
	for (uint32_t i = at; i < at + 8; i++)
		if (data[i] != fs_pattern(b->f->o->read_seed, off + i))
			return false;
	return true;
}

static void
bench_read_done(struct bench *b, const struct fs_slot *s, const struct bench_req *q)
{
	const uint8_t *data = b->pool + (uint64_t)q->buf * b->req_size;
	uint32_t mid = (uint32_t)((q->off / BENCH_RAND_SIZE) % (b->req_size / 8 - 2)) * 8 + 8;

	if (!bench_reply_ok(b, s, b->req_size))
		return;
	if (!bench_data_at(b, data, q->off, 0) || !bench_data_at(b, data, q->off, mid) ||
	    !bench_data_at(b, data, q->off, b->req_size - 8)) {
		bench_error(b, s, "data at offset %" PRIu64 " differs from the pattern", q->off);
		return;
	}
	b->ops++;
	b->bytes += b->req_size;
}

/* A file create made: its node id is forgotten after its UNLINK (as the
 * kernel keeps a new file's inode until it is unlinked). */
static void
bench_keep_node(struct bench *b, unsigned int i, uint64_t nodeid)
{
	if (i >= b->nodes_max) {
		unsigned int n = b->nodes_max ? 2 * b->nodes_max : 65536;
		uint64_t *p = realloc(b->nodes, n * sizeof(*p));

		if (p == NULL) {
			bench_forget(b, nodeid);
			return;
		}
		memset(p + b->nodes_max, 0, (n - b->nodes_max) * sizeof(*p));
		b->nodes = p;
		b->nodes_max = n;
	}
	if (i >= b->nodes_max)
		return;
	b->nodes[i] = nodeid;
}

/* The second step of lookup (GETATTR) and create (RELEASE) */
static void
bench_next(struct bench *b, struct bench_req *q)
{
	struct fuse_getattr_in gi;
	struct fs_slot *n;

	memset(&gi, 0, sizeof(gi));
	if (b->op == OP_LOOKUP)
		n = bench_post(b, FS_REQQ,
			       &(struct fs_req){ .opcode = FUSE_GETATTR,
						 .nodeid = q->nodeid,
						 .arg = &gi,
						 .arg_len = sizeof(gi),
						 .out_body = sizeof(struct fuse_attr_out) });
	else
		n = bench_post_release(b, q->nodeid, q->fh);
	if (n == NULL) {
		bench_forget(b, q->nodeid);
		b->inflight--;
		return;
	}
	*bench_rq(b, n) = *q;
	bench_rq(b, n)->stage = 1;
}

/* A reply on the request queue: the operation it belongs to goes on or is
 * done (then inflight drops). */
static void
bench_done(struct bench *b, struct fs_slot *s)
{
	struct bench_req q = *bench_rq(b, s);
	const struct fuse_entry_out *e = fs_body(s);

	switch (b->op) {
	case OP_LOOKUP:
	case OP_CREATE:
		if (q.stage == 0) {
			uint32_t want = sizeof(*e) +
					(b->op == OP_CREATE ? sizeof(struct fuse_open_out) : 0);

			if (!bench_reply_ok(b, s, want) || e->nodeid == 0) {
				b->inflight--;
				break;
			}
			q.nodeid = e->nodeid;
			if (b->op == OP_CREATE)
				q.fh = ((const struct fuse_open_out *)(e + 1))->fh;
			bench_next(b, &q);
			break;
		}
		if (bench_reply_ok(b, s, b->op == OP_LOOKUP ? sizeof(struct fuse_attr_out) : 0))
			b->ops++;
		if (b->op == OP_LOOKUP)
			bench_forget(b, q.nodeid);
		else
			bench_keep_node(b, (unsigned int)q.off, q.nodeid);
		b->inflight--;
		break;
	case OP_UNLINK:
		if (bench_reply_ok(b, s, 0))
			b->ops++;
		if (q.off < b->nodes_max && b->nodes[q.off] != 0) {
			bench_forget(b, b->nodes[q.off]);
			b->nodes[q.off] = 0;
		}
		b->inflight--;
		break;
	case OP_RANDREAD:
	case OP_SEQREAD:
		bench_read_done(b, s, &q);
		b->free_bufs[b->n_free_bufs++] = (uint16_t)q.buf;
		b->inflight--;
		break;
	case OP_SEQWRITE:
		if (bench_reply_ok(b, s, sizeof(struct fuse_write_out))) {
			if (((const struct fuse_write_out *)fs_body(s))->size != b->req_size) {
				bench_error(b, s, "wrote %u bytes",
					    ((const struct fuse_write_out *)fs_body(s))->size);
			} else {
				b->ops++;
				b->bytes += b->req_size;
			}
		}
		b->free_bufs[b->n_free_bufs++] = (uint16_t)q.buf;
		b->inflight--;
		break;
	default:
		break;
	}
	fs_slot_put(s);
}

/* Take what ring vq has used (no waiting); -1 on a protocol error. */
static int
bench_reap(struct bench *b, unsigned int vq)
{
	struct fs_front *f = b->f;
	struct vufront_used_elem e[FS_RING];
	int n = vufront_vq_reap(f->vu, vq, e, FS_RING);

	if (n < 0) {
		printf("info bench: reap ring %u: %s\n", vq, vufront_errmsg(f->vu));
		return -1;
	}
	struct fs_slot *done[FS_RING];

	/* map every entry to its slot before any new request can take one of
	 * the head ids the reap just freed */
	for (int i = 0; i < n; i++) {
		uint16_t si = e[i].id < FS_RING ? f->head_slot[vq][e[i].id] : 0;

		if (si == 0) {
			printf("info bench: ring %u: used id %u is no request of ours\n", vq,
			       e[i].id);
			return -1;
		}
		f->head_slot[vq][e[i].id] = 0;
		done[i] = &f->slots[si - 1];
		done[i]->done = true;
		done[i]->used_len = e[i].len;
	}
	for (int i = 0; i < n; i++) {
		if (vq != FS_HIPRIO) {
			bench_done(b, done[i]);
			continue;
		}
		if (e[i].len != 0)
			bench_error(b, done[i], "FORGET used with length %u", e[i].len);
		b->forgets--;
		fs_slot_put(done[i]);
	}
	return n;
}

/* Poll both rings until nothing of ours is in flight, or the timeout. */
static bool
bench_drain(struct bench *b)
{
	double deadline = fs_now() + b->f->o->timeout_ms / 1000.0;

	b->stop = true;
	while (b->inflight > 0 || b->forgets > 0) {
		if (bench_reap(b, FS_REQQ) < 0 || bench_reap(b, FS_HIPRIO) < 0)
			return false;
		if (fs_now() > deadline || fs_backend_gone(b->f)) {
			printf("info bench %s: %u requests and %u FORGETs never came back\n",
			       bench_op_names[b->op], b->inflight, b->forgets);
			b->errors += b->inflight + b->forgets;
			return false;
		}
	}
	return true;
}

/* ---- one operation ---- */

static void
bench_run(struct bench *b)
{
	const struct fs_opts *o = b->f->o;
	double t0, now, deadline, t_end;
	uint64_t last_ops = 0;
	double last_progress;

	b->ops = b->bytes = b->errors = 0;
	b->inflight = 0;
	b->stop = false;
	b->n_free_bufs = 0;
	for (unsigned int i = b->depth; i > 0; i--)
		b->free_bufs[b->n_free_bufs++] = (uint16_t)(i - 1);
	if (b->op == OP_UNLINK || b->op == OP_CREATE || b->op == OP_LOOKUP)
		b->next_name = 0;
	t0 = fs_now();
	deadline = t0 + o->seconds;
	last_progress = t0;
	t_end = t0;
	for (;;) {
		while (!b->stop && b->inflight < b->depth)
			if (!bench_start(b))
				break;
		if (b->inflight == 0)
			break;
		if (bench_reap(b, FS_REQQ) < 0 || bench_reap(b, FS_HIPRIO) < 0) {
			b->errors++;
			break;
		}
		now = fs_now();
		t_end = now;
		if (now >= deadline)
			break;
		if (b->ops != last_ops) {
			last_ops = b->ops;
			last_progress = now;
		} else if (now - last_progress > o->timeout_ms / 1000.0) {
			printf("info bench %s: nothing completed for %d ms\n",
			       bench_op_names[b->op], o->timeout_ms);
			b->errors++;
			break;
		}
	}
	if (b->inflight == 0)
		t_end = fs_now();
	/* what is still in flight completes but does not count */
	{
		uint64_t ops = b->ops, bytes = b->bytes;

		bench_drain(b);
		if (b->op == OP_CREATE)
			b->created = b->next_name;
		b->ops = ops;
		b->bytes = bytes;
	}
	printf("{\"op\": \"%s\", \"depth\": %u, \"ops\": %" PRIu64 ", \"bytes\": %" PRIu64
	       ", \"seconds\": %.6f, \"errors\": %" PRIu64 ", \"req_size\": %u, "
	       "\"max_write\": %u, \"max_pages\": %u}\n",
	       bench_op_names[b->op], b->depth, b->ops, b->bytes, t_end - t0, b->errors,
	       b->req_size, b->f->max_write, b->f->max_pages);
	fs_check(b->f, b->errors == 0 && b->ops > 0, bench_op_names[b->op],
		 "%" PRIu64 " errors, %" PRIu64 " ops", b->errors, b->ops);
}

/* ---- preparation (not timed) ---- */

/* The payload of one READ or WRITE of op. */
static uint32_t
bench_req_size(const struct fs_front *f, enum bench_op op)
{
	uint32_t r = BENCH_MAX_REQ;
	uint32_t pages = f->max_pages ? f->max_pages : 32; /* FUSE's default */

	if (op == OP_LOOKUP || op == OP_CREATE || op == OP_UNLINK)
		return 0;
	if (op == OP_RANDREAD)
		return BENCH_RAND_SIZE;
	if (pages * 4096u < r)
		r = pages * 4096u;
	if (op == OP_SEQWRITE && f->max_write < r)
		r = f->max_write;
	return r;
}

/* A file of the pattern, size bytes, through the back-end; its node id. */
static bool
bench_write_file(struct bench *b, const char *name, uint64_t size, uint64_t *nodeid)
{
	struct fs_front *f = b->f;
	struct fs_slot *s;
	uint64_t fh;
	uint32_t chunk = bench_req_size(f, OP_SEQWRITE);
	bool ok = true;

	s = bench_post_create(b, name, O_CREAT | O_TRUNC | O_WRONLY);
	if (s == NULL || fs_wait(f, s, f->o->timeout_ms) < 0 || !bench_reply_ok(b, s, ~0u)) {
		if (s != NULL && s->done)
			fs_slot_put(s);
		return fs_check(f, false, "bench: create the read file", NULL);
	}
	*nodeid = ((const struct fuse_entry_out *)fs_body(s))->nodeid;
	fh = ((const struct fuse_open_out *)((const struct fuse_entry_out *)fs_body(s) + 1))->fh;
	fs_slot_put(s);
	b->write_node = *nodeid;
	b->write_fh = fh;
	for (uint64_t off = 0; off < size && ok; off += chunk) {
		uint32_t len = size - off < chunk ? (uint32_t)(size - off) : chunk;

		for (uint32_t i = 0; i < len; i++)
			b->pool[i] = fs_pattern(f->o->read_seed, off + i);
		s = bench_post_write(b, 0, off, len);
		ok = s != NULL && fs_wait(f, s, f->o->timeout_ms) == 0 &&
		     bench_reply_ok(b, s, sizeof(struct fuse_write_out)) &&
		     ((const struct fuse_write_out *)fs_body(s))->size == len;
		if (s != NULL && s->done)
			fs_slot_put(s);
	}
	ok &= fs_release(f, FUSE_RELEASE, *nodeid, fh, "bench: release the read file");
	return fs_check(f, ok, "bench: write the read file", NULL);
}

/* LOOKUP of name in the root: 0 (node id and attributes in *e), -errno,
 * or 1 when no reply came. */
static int
bench_lookup_name(struct bench *b, const char *name, struct fuse_entry_out *e)
{
	struct fs_slot *s = bench_post_lookup(b, name);
	int err;

	if (s == NULL)
		return 1;
	if (fs_wait(b->f, s, b->f->o->timeout_ms) < 0)
		return 1;
	err = fs_oh(s)->error;
	if (err == 0 && bench_reply_ok(b, s, sizeof(*e)))
		*e = *(const struct fuse_entry_out *)fs_body(s);
	else if (err == 0)
		err = 1;
	fs_slot_put(s);
	return err;
}

/* The read file (made if it is missing or has another size), opened. */
static bool
bench_read_file(struct bench *b)
{
	struct fs_front *f = b->f;
	struct fuse_entry_out e;
	int err;
	bool have;

	if (b->have_read)
		return true;
	err = bench_lookup_name(b, f->o->read_file, &e);
	if (err > 0 || (err < 0 && err != -ENOENT))
		return fs_check(f, false, "bench: lookup the read file", "error %d", err);
	have = err == 0 && e.attr.size == f->o->file_size;
	if (err == 0 && !have)
		bench_forget(b, e.nodeid); /* CREATE (O_TRUNC) looks it up again */
	if (!have && !bench_write_file(b, f->o->read_file, f->o->file_size, &e.nodeid))
		return false;
	b->read_node = e.nodeid;
	if (!fs_open(f, FUSE_OPEN, e.nodeid, O_RDONLY, "bench: open the read file", &b->read_fh))
		return false;
	b->have_read = true;
	printf("info bench: read file %s, %" PRIu64 " bytes (%s)\n", f->o->read_file,
	       f->o->file_size, have ? "found" : "written");
	return true;
}

/* lk-00000 .. lk-NNNNN for lookup: made when missing. */
static bool
bench_lookup_files(struct bench *b)
{
	struct fs_front *f = b->f;
	char name[BENCH_NAME];
	struct fs_slot *s;
	unsigned int made = 0;
	bool ok = true;

	for (unsigned int i = 0; i < f->o->lookup_files && ok; i++) {
		struct fuse_entry_out le;
		int err;

		snprintf(name, sizeof(name), "lk-%05u", i);
		err = bench_lookup_name(b, name, &le);
		if (err == 0) {
			bench_forget(b, le.nodeid);
			continue;
		}
		if (err != -ENOENT)
			return fs_check(f, false, "bench: lookup files", "lookup %s: %d", name,
					err);
		s = bench_post_create(b, name, O_CREAT | O_WRONLY);
		ok = s != NULL && fs_wait(f, s, f->o->timeout_ms) == 0 && bench_reply_ok(b, s, ~0u);
		if (ok) {
			const struct fuse_entry_out *e = fs_body(s);

			ok = fs_release(f, FUSE_RELEASE, e->nodeid,
					((const struct fuse_open_out *)(e + 1))->fh,
					"bench: release a lookup file");
			bench_forget(b, e->nodeid);
			made++;
		}
		if (s != NULL && s->done)
			fs_slot_put(s);
	}
	ok &= bench_drain(b);
	printf("info bench: %u lookup files, %u made\n", f->o->lookup_files, made);
	return fs_check(f, ok, "bench: lookup files", NULL);
}

/* ---- the scenario ---- */

static int
bench_parse_op(const char *item, unsigned int def_depth, enum bench_op *op, unsigned int *depth)
{
	size_t len = strcspn(item, ":");

	for (int i = 0; i < OP_N; i++) {
		if (strlen(bench_op_names[i]) == len &&
		    strncmp(item, bench_op_names[i], len) == 0) {
			*op = (enum bench_op)i;
			*depth = item[len] == ':' ?
					 (unsigned int)strtoul(item + len + 1, NULL, 10) :
					 def_depth;
			return *depth >= 1 && *depth <= BENCH_MAX_DEPTH ? 0 : -EINVAL;
		}
	}
	return -EINVAL;
}

static bool
bench_pool(struct bench *b)
{
	if (vufront_mem_alloc(b->f->vu, BENCH_POOL, 4096, &b->pool_gpa) < 0)
		return fs_check(b->f, false, "bench: payload pool", "%s", vufront_errmsg(b->f->vu));
	b->pool = vufront_gpa_ptr(b->f->vu, b->pool_gpa, BENCH_POOL);
	return true;
}

/* seqwrite's file, new, open for writing; the payloads filled. */
static bool
bench_write_open(struct bench *b)
{
	struct fs_front *f = b->f;
	char name[BENCH_NAME + 16];
	const struct fuse_entry_out *e;
	struct fs_slot *s;

	snprintf(name, sizeof(name), "%s-" BENCH_WRITE_FILE, f->o->name_prefix);
	s = bench_post_create(b, name, O_CREAT | O_EXCL | O_WRONLY);
	if (s == NULL || fs_wait(f, s, f->o->timeout_ms) < 0 || !bench_reply_ok(b, s, ~0u)) {
		if (s != NULL && s->done)
			fs_slot_put(s);
		return fs_check(f, false, "bench: create the write file", NULL);
	}
	e = fs_body(s);
	b->write_node = e->nodeid;
	b->write_fh = ((const struct fuse_open_out *)(e + 1))->fh;
	fs_slot_put(s);
	for (uint32_t i = 0; i < b->req_size * b->depth; i++)
		b->pool[i] = fs_pattern(f->o->write_seed, i);
	return true;
}

/* seqwrite's file: released, forgotten and unlinked (the share keeps no
 * more than one run's worth). */
static void
bench_write_close(struct bench *b)
{
	struct fs_front *f = b->f;
	char name[BENCH_NAME + 16];
	struct fs_req r = { .opcode = FUSE_UNLINK, .nodeid = FUSE_ROOT_ID, .out_body = 0 };
	struct fs_slot *s;

	fs_release(f, FUSE_RELEASE, b->write_node, b->write_fh, "bench: release the write file");
	snprintf(name, sizeof(name), "%s-" BENCH_WRITE_FILE, f->o->name_prefix);
	r.arg = name;
	r.arg_len = (uint32_t)strlen(name) + 1;
	s = fs_call(f, FS_REQQ, &r, "bench: unlink the write file", 0, 0);
	if (s != NULL)
		fs_slot_put(s);
	bench_forget(b, b->write_node);
	bench_drain(b);
}

/* One item of --op: prepared, run, reported. */
static bool
bench_item(struct bench *b, const char *item)
{
	struct fs_front *f = b->f;

	if (bench_parse_op(item, f->o->depth, &b->op, &b->depth) < 0)
		return fs_check(f, false, "bench: --op", "unknown or bad item %s", item);
	b->req_size = bench_req_size(f, b->op);
	if ((uint64_t)b->depth * b->req_size > BENCH_POOL ||
	    f->o->file_size < 2 * (uint64_t)b->req_size)
		return fs_check(f, false, "bench: sizes", "%s: depth %u x %u bytes, file %" PRIu64,
				item, b->depth, b->req_size, f->o->file_size);
	if (b->op == OP_LOOKUP && !bench_lookup_files(b))
		return false;
	if ((b->op == OP_RANDREAD || b->op == OP_SEQREAD) && !bench_read_file(b))
		return false;
	if (b->op == OP_SEQWRITE && !bench_write_open(b))
		return false;
	bench_run(b);
	if (b->op == OP_SEQWRITE)
		bench_write_close(b);
	return true;
}

void
scenario_bench(struct fs_front *f)
{
	static struct bench b;
	char list[512], *save = NULL;

	b.f = f;
	b.rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	if (!fs_init(f) || !bench_pool(&b))
		return;
	snprintf(list, sizeof(list), "%s", f->o->ops);
	for (char *item = strtok_r(list, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save))
		if (!bench_item(&b, item))
			return;
	if (b.have_read) {
		fs_release(f, FUSE_RELEASE, b.read_node, b.read_fh, "bench: release the read file");
		bench_forget(&b, b.read_node);
		bench_drain(&b);
	}
}
