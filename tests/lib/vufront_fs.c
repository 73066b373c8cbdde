/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs: the guest driver's side of a virtio-fs device, for tests of
 * the back-end's ring path. Built on vufront (memfd guest memory, split
 * rings); it speaks FUSE on the rings itself: no kernel, no mount.
 *
 * It connects to the back-end's socket, negotiates VERSION_1 |
 * PROTOCOL_FEATURES and the protocol features MQ | LOG_SHMFD | REPLY_ACK,
 * sets up the memory table and two rings (0: hiprio, 1: the request queue),
 * enables them, then runs one scenario:
 *
 *   basic      INIT, LOOKUP, OPEN, READ (compared), CREATE + WRITE +
 *              RELEASE of a new file (the caller checks it on the host),
 *              GETATTR, READDIR, FORGET on hiprio (used length 0), 64
 *              requests in flight at once (READs, and STATFSs that a helper
 *              thread serves, so replies come back out of order), matched
 *              by head id and unique.
 *   malformed  after INIT, one malformed chain at a time (bad addresses,
 *              loops, bad next, INDIRECT, writable before readable, a chain
 *              longer than the ring, huge lengths, a lying fuse_in_header,
 *              a short header, no reply buffer, an unknown opcode): each
 *              comes back used with length 0 or as an error reply, and a
 *              GETATTR of the root still works. Prints the number of
 *              chains/requests the gateway must count as malformed.
 *   suspend    requests complete; the caller suspends the device (SYNC
 *              running); new requests must not complete (used->idx polled
 *              for ~1 s); the caller resumes (SYNC posted); they complete.
 *              Twice.
 *   remap      SET_MEM_TABLE while the device runs and has requests in
 *              flight (a second region added, then removed; 3 rounds):
 *              replies stay correct, also into buffers in the new region.
 *              Then dirty logging: SET_LOG_BASE, LOG_ALL, the rings' log
 *              flag; the reply buffers and the used ring are logged dirty
 *              (SYNC logging: the caller checks the phase), a second
 *              SET_LOG_BASE under requests in flight switches logs, LOG_ALL
 *              off stops logging.
 *
 * The inflight scenarios also negotiate INFLIGHT_SHMFD (and fail if it is
 * not offered) and hand the back-end an inflight region before the rings
 * start:
 *   inflight   the back-end's region (GET_INFLIGHT_FD, then SET): two
 *              bursts of 64 requests, the region sampled while they are
 *              outstanding; afterwards nothing is in flight, used_idx ==
 *              used->idx, the counters of the heads increase in submission
 *              order; hiprio is tracked too.
 *   resubmit   the rings and region as a crashed back-end left them: INIT,
 *              LOOKUP, GETATTR taken and not returned, head order against
 *              counter order, the ring resumed at used->idx; no kick. They
 *              must complete (in counter order: INIT first) and the queue
 *              go on.
 *   resubmit-used  the same, and a request the crashed back-end returned
 *              but did not clear in the region: not taken again.
 *   resubmit-late  resubmit with SET_INFLIGHT_FD after the rings' addresses,
 *              just before their kicks (the other order the spec allows).
 *   inflight-bad  refused GET/SET_INFLIGHT_FD payloads (a non-zero ack) on
 *              a first connection, then a normal bring-up on a new one.
 *              Prints the number of connections made.
 *
 * Device state (negotiates DEVICE_STATE, fails if it is not offered):
 *   migrate    with --socket2: a FUSE session moves from the gateway on
 *              --socket to the one on --socket2: INIT, LOOKUP, OPEN and the
 *              first half of the read file on the source; rings stopped,
 *              SET_DEVICE_STATE_FD(SAVE), the pipe read to EOF, CHECK (SYNC
 *              saved); the same memory brought up on the destination with
 *              SET_DEVICE_STATE_FD(LOAD) and CHECK before the rings (SYNC
 *              loaded); then, without INIT, the second half through the
 *              source's handle, GETATTR and LOOKUP give the source's node id,
 *              RELEASE of its handle.
 *   migrate-ctl  the same without DEVICE_STATE: the caller moves the session
 *              with the control sockets' state-save (SYNC stopped) and
 *              state-load (SYNC connected, before the rings start).
 *
 * Coordination with the caller: "SYNC <tag>" on stdout, then wait for a
 * line on stdin (any text; "GO" by convention). Every scenario ends with
 * "SYNC done" (the caller reads the gateway's counters while we are still
 * connected). One line per check ("check NAME: ok" / "check NAME: FAIL
 * ..."), "info ..." lines; the last line is "RESULT ok" (exit 0) or
 * "RESULT fail N of M checks" (exit 1). Once the back-end has closed the
 * connection every wait fails at once.
 *
 * File contents are deterministic: byte i of a file with seed s is
 * fs_pattern(s, i) below (the Python side computes the same).
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/fuse.h>

#include "vufront.h"

/* C11 atomics on plain fields shared with the back-end (guest memory). */
#define VU_ATOMIC(p) ((_Atomic __typeof__(*(p)) *)(p))

#define FS_HIPRIO 0u
#define FS_REQQ 1u
#define FS_NVQ 2u
#define FS_RING 256u
#define FS_MEM (64u << 20)
#define FS_SLOTS 160u
#define FS_SLOT_IN 8192u
#define FS_SLOT_OUT (64u * 1024 + 64)
#define FS_DATA (1u << 20)
#define FS_TIMEOUT_MS 10000
#define FS_INFLIGHT 64u
#define FS_INFLIGHT_LEN 3000u
#define FS_OUT_HDR ((uint32_t)sizeof(struct fuse_out_header))
#define FS_IN_HDR ((uint32_t)sizeof(struct fuse_in_header))
#define FS_EXTRA_REGION (4u << 20)

struct fs_opts {
	const char *socket;
	const char *socket2;		/* migrate: the destination's socket */
	const char *scenario;
	const char *read_file;
	uint64_t read_size;
	unsigned int read_seed;
	const char *write_file;
	uint64_t write_size;
	unsigned int write_seed;
	const char *expect[16];
	unsigned int n_expect;
	int timeout_ms;
	bool verbose;
};

struct fs_slot {
	bool busy;
	bool done;
	unsigned int vq;
	uint16_t head;
	uint64_t unique;
	uint32_t opcode;
	uint64_t in_gpa;
	uint8_t *in;
	uint64_t out_gpa;
	uint8_t *out;
	uint32_t out_body;		/* body bytes offered after the header */
	uint32_t used_len;
	uint32_t seq;			/* completion order */
};

struct fs_front {
	struct fs_opts *o;
	struct vufront *vu;
	struct fs_slot slots[FS_SLOTS];
	/* head id -> slot index + 1, per ring */
	uint16_t head_slot[FS_NVQ][FS_RING];
	uint64_t next_unique;
	uint64_t data_gpa;
	uint8_t *data;
	uint64_t aux_gpa;		/* 64 KiB for indirect tables and such */
	uint8_t *aux;
	uint32_t max_write;
	uint32_t done_seq;
	unsigned int checks;
	unsigned int failed;
	bool gone;			/* the back-end closed the connection */
	bool stalled;			/* a request timed out: wait less */
	/* the extra region of the remap scenario */
	int extra_fd;
	uint8_t *extra;
	uint64_t extra_gpa;
	/* inflight scenarios: negotiate INFLIGHT_SHMFD and hand over a region
	 * at bring-up; prepare lays out the rings before they start */
	bool inflight;
	bool inflight_late;		/* SET_INFLIGHT_FD just before the kicks */
	int (*prepare)(struct vufront *vu, void *arg);
	/* resubmit: the requests a crashed back-end left in flight, and the
	 * one it had returned without clearing it in the region */
	bool resubmit_used;
	struct fs_slot *rs_init;
	struct fs_slot *rs_lookup;
	struct fs_slot *rs_getattr;
	struct fs_slot *rs_returned;
	unsigned int connections;	/* to the back-end, this one included */
	/* migrate: DEVICE_STATE negotiated; the saved state to load */
	bool device_state;
	bool state_via_ctl;		/* migrate-ctl: the caller moves it */
	uint8_t *state;
	size_t state_len;
	bool state_loaded;
};

static uint8_t
fs_pattern(unsigned int seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL + (uint64_t)seed * 0xbf58476d1ce4e5b9ULL;

	x ^= x >> 29;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 32;
	return (uint8_t)x;
}

static double
fs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
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

static void
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

static struct fs_slot *
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

static void
fs_slot_put(struct fs_slot *s)
{
	s->busy = false;
}

static void
fs_map_head(struct fs_front *f, struct fs_slot *s, unsigned int vq, uint16_t head)
{
	s->vq = vq;
	s->head = head;
	f->head_slot[vq][head] = (uint16_t)(s - f->slots) + 1;
}

struct fs_req {
	uint32_t opcode;
	uint64_t nodeid;
	const void *arg;
	uint32_t arg_len;
	const void *arg2;		/* a name, say (NUL included by the caller) */
	uint32_t arg2_len;
	const struct vufront_buf *data;	/* extra device-readable buffers */
	unsigned int n_data;
	uint32_t out_body;		/* 0: header only; ~0u: no reply buffers */
	uint32_t hdr_len;		/* 0: the true length */
};

#define FS_NO_REPLY 0xffffffffu

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
	ih = (struct fuse_in_header *)s->in;
	memset(ih, 0, sizeof(*ih));
	ih->len = r->hdr_len ? r->hdr_len : (uint32_t)total;
	ih->opcode = r->opcode;
	ih->unique = ++f->next_unique;
	ih->nodeid = r->nodeid;
	ih->uid = getuid();
	ih->gid = getgid();
	ih->pid = (uint32_t)getpid();
	if (r->arg_len)
		memcpy(s->in + FS_IN_HDR, r->arg, r->arg_len);
	if (r->arg2_len)
		memcpy(s->in + FS_IN_HDR + r->arg_len, r->arg2, r->arg2_len);
	s->unique = ih->unique;
	s->opcode = r->opcode;
	bufs[n++] = (struct vufront_buf){ .addr = s->in_gpa, .len = len };
	for (unsigned int i = 0; i < r->n_data; i++)
		bufs[n++] = r->data[i];
	s->out_body = 0;
	if (r->out_body != FS_NO_REPLY) {
		/* as Linux does: the out header in a buffer of its own */
		bufs[n++] = (struct vufront_buf){ .addr = s->out_gpa, .len = FS_OUT_HDR,
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
static struct fs_slot *
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
static struct fs_slot *
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
static int
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
			fprintf(stderr, "used ring %u id %u len %u (opcode %u unique %"
				PRIu64 ")\n",
				vq, e[i].id, e[i].len, s->opcode, s->unique);
	}
	return n;
}

/* Has the back-end closed the connection (crashed, say)? */
static bool
fs_backend_gone(struct fs_front *f)
{
	struct pollfd p = { .fd = vufront_sockfd(f->vu), .events = POLLRDHUP };

	if (!f->gone && (p.fd < 0 || (poll(&p, 1, 0) > 0 &&
				      (p.revents & (POLLRDHUP | POLLHUP | POLLERR))))) {
		f->gone = true;
		printf("info the back-end closed the connection\n");
	}
	return f->gone;
}

/* Wait for s to be used. Fails fast once the back-end is gone, and waits
 * at most 1 s per request once one has timed out. */
static int
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

static const struct fuse_out_header *
fs_oh(const struct fs_slot *s)
{
	return (const struct fuse_out_header *)s->out;
}

static const void *
fs_body(const struct fs_slot *s)
{
	return s->out + FS_OUT_HDR;
}

/* A reply that is well formed: used length == header len, unique matches. */
static bool
fs_reply_ok(struct fs_front *f, const char *name, const struct fs_slot *s, int want_err,
	    uint32_t min_body)
{
	const struct fuse_out_header *oh = fs_oh(s);

	if (!s->done)
		return fs_check(f, false, name, f->gone ? "no reply, the back-end is gone" :
				"no reply in time");
	if (s->used_len < FS_OUT_HDR || oh->len != s->used_len)
		return fs_check(f, false, name, "used length %u, out header len %u", s->used_len,
				oh->len);
	if (oh->unique != s->unique)
		return fs_check(f, false, name, "unique %" PRIu64 ", expected %" PRIu64,
				oh->unique, s->unique);
	if (oh->error != want_err)
		return fs_check(f, false, name, "error %d (%s), expected %d", oh->error,
				strerror(-oh->error), want_err);
	if (oh->len - FS_OUT_HDR < min_body)
		return fs_check(f, false, name, "body of %u bytes, expected >= %u",
				oh->len - FS_OUT_HDR, min_body);
	return true;
}

/* Post, wait, check the reply; returns the slot (caller puts it) or NULL. */
static struct fs_slot *
fs_call(struct fs_front *f, unsigned int vq, const struct fs_req *r, const char *name,
	int want_err, uint32_t min_body)
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

/* ---- FUSE operations ---- */

static void
fs_init_in(struct fuse_init_in *in)
{
	memset(in, 0, sizeof(*in));
	in->major = FUSE_KERNEL_VERSION;
	in->minor = FUSE_KERNEL_MINOR_VERSION;
	in->max_readahead = 128 * 1024;
	in->flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS |
		    FUSE_INIT_EXT;
}

/* Check an INIT reply (well formed, checked by the caller); puts s. */
static bool
fs_init_done(struct fs_front *f, struct fs_slot *s)
{
	const struct fuse_init_out *out = fs_body(s);
	struct fuse_init_in in;
	bool ok;

	fs_init_in(&in);
	fs_check(f, true, "init reply", NULL);
	ok = fs_check(f, out->major == FUSE_KERNEL_VERSION && out->minor >= 12, "init version",
		      "%u.%u", out->major, out->minor);
	ok &= fs_check(f, out->max_write >= 4096 && out->max_write <= (16u << 20) &&
		       out->max_write % 4096 == 0, "init max_write sane", "max_write %u",
		       out->max_write);
	ok &= fs_check(f, (out->flags & ~in.flags) == 0, "init flags subset of ours",
		       "0x%x", out->flags);
	f->max_write = out->max_write;
	printf("info init: %u.%u max_write=%u max_pages=%u flags=0x%x\n", out->major,
	       out->minor, out->max_write, out->max_pages, out->flags);
	fs_slot_put(s);
	return ok;
}

static bool
fs_init(struct fs_front *f)
{
	struct fuse_init_in in;
	struct fs_req r = { .opcode = FUSE_INIT, .nodeid = 0, .arg = &in, .arg_len = sizeof(in),
			    .out_body = sizeof(struct fuse_init_out) };
	struct fs_slot *s;

	fs_init_in(&in);
	/* the device may become ready a moment after our last message */
	s = fs_call(f, FS_REQQ, &r, "init reply", 0, sizeof(struct fuse_init_out));
	if (s == NULL)
		return false;
	return fs_init_done(f, s);
}

static bool
fs_getattr(struct fs_front *f, uint64_t nodeid, const char *name, struct fuse_attr *attr)
{
	struct fuse_getattr_in in;
	struct fs_req r = { .opcode = FUSE_GETATTR, .nodeid = nodeid, .arg = &in,
			    .arg_len = sizeof(in), .out_body = sizeof(struct fuse_attr_out) };
	struct fs_slot *s;

	memset(&in, 0, sizeof(in));
	s = fs_call(f, FS_REQQ, &r, name, 0, sizeof(struct fuse_attr_out));
	if (s == NULL)
		return false;
	if (attr != NULL)
		*attr = ((const struct fuse_attr_out *)fs_body(s))->attr;
	fs_slot_put(s);
	return true;
}

/* GETATTR of the root: a directory. Silent unless it fails. */
static bool
fs_root_alive(struct fs_front *f, const char *after)
{
	char name[128];
	struct fuse_attr a;

	snprintf(name, sizeof(name), "getattr root after %s", after);
	if (!fs_getattr(f, FUSE_ROOT_ID, name, &a))
		return false;
	return fs_check(f, S_ISDIR(a.mode), name, "mode 0%o", a.mode);
}

static bool
fs_lookup(struct fs_front *f, uint64_t parent, const char *fname, const char *name,
	  struct fuse_entry_out *e, int want_err)
{
	struct fs_req r = { .opcode = FUSE_LOOKUP, .nodeid = parent, .arg = fname,
			    .arg_len = (uint32_t)strlen(fname) + 1,
			    .out_body = sizeof(struct fuse_entry_out) };
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, name, want_err,
				    want_err ? 0 : sizeof(struct fuse_entry_out));

	if (s == NULL)
		return false;
	if (e != NULL && want_err == 0)
		*e = *(const struct fuse_entry_out *)fs_body(s);
	fs_slot_put(s);
	return true;
}

static bool
fs_open(struct fs_front *f, uint32_t opcode, uint64_t nodeid, uint32_t flags, const char *name,
	uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags };
	struct fs_req r = { .opcode = opcode, .nodeid = nodeid, .arg = &in, .arg_len = sizeof(in),
			    .out_body = sizeof(struct fuse_open_out) };
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, name, 0, sizeof(struct fuse_open_out));

	if (s == NULL)
		return false;
	*fh = ((const struct fuse_open_out *)fs_body(s))->fh;
	fs_slot_put(s);
	return true;
}

static bool
fs_release(struct fs_front *f, uint32_t opcode, uint64_t nodeid, uint64_t fh, const char *name)
{
	struct fuse_release_in in = { .fh = fh };
	struct fs_req r = { .opcode = opcode, .nodeid = nodeid, .arg = &in, .arg_len = sizeof(in),
			    .out_body = 0 };
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, name, 0, 0);

	if (s == NULL)
		return false;
	fs_slot_put(s);
	return true;
}

static struct fs_slot *
fs_post_read(struct fs_front *f, uint64_t nodeid, uint64_t fh, uint64_t off, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	struct fs_req r = { .opcode = FUSE_READ, .nodeid = nodeid, .arg = &in,
			    .arg_len = sizeof(in), .out_body = size };

	return fs_post(f, FS_REQQ, &r);
}

/* Post a GETATTR of nodeid on the request queue (NULL: no slot). */
static struct fs_slot *
fs_post_getattr(struct fs_front *f, uint64_t nodeid)
{
	struct fuse_getattr_in gi;
	struct fs_req r = { .opcode = FUSE_GETATTR, .nodeid = nodeid, .arg = &gi,
			    .arg_len = sizeof(gi), .out_body = sizeof(struct fuse_attr_out) };

	memset(&gi, 0, sizeof(gi));
	return fs_post(f, FS_REQQ, &r);
}

/* The body of a READ reply is bytes [off, off + len) of the read file. */
static bool
fs_read_matches(struct fs_front *f, const struct fs_slot *s, uint64_t off, uint32_t len,
		char *why, size_t whylen)
{
	const uint8_t *b = fs_body(s);
	uint32_t got = fs_oh(s)->len - FS_OUT_HDR;

	if (got != len) {
		snprintf(why, whylen, "%u bytes, expected %u", got, len);
		return false;
	}
	for (uint32_t i = 0; i < len; i++) {
		if (b[i] != fs_pattern(f->o->read_seed, off + i)) {
			snprintf(why, whylen, "byte %" PRIu64 " is 0x%02x, expected 0x%02x",
				 off + i, b[i], fs_pattern(f->o->read_seed, off + i));
			return false;
		}
	}
	return true;
}

/* ---- bring-up ---- */

static int
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
	/* guest memory, the rings and the request buffers before the bring-up:
	 * a prepare hook builds requests in them before the rings start (the
	 * layout is the one the bring-up would make) */
	if (vufront_mem_create(f->vu, FS_MEM) < 0 ||
	    vufront_vq_setup(f->vu, FS_HIPRIO, FS_RING) < 0 ||
	    vufront_vq_setup(f->vu, FS_REQQ, FS_RING) < 0)
		goto nomem;
	for (unsigned int i = 0; i < FS_SLOTS; i++) {
		struct fs_slot *s = &f->slots[i];

		if (vufront_mem_alloc(f->vu, FS_SLOT_IN, 64, &s->in_gpa) < 0 ||
		    vufront_mem_alloc(f->vu, FS_SLOT_OUT, 64, &s->out_gpa) < 0)
			goto nomem;
		s->in = vufront_gpa_ptr(f->vu, s->in_gpa, FS_SLOT_IN);
		s->out = vufront_gpa_ptr(f->vu, s->out_gpa, FS_SLOT_OUT);
	}
	if (vufront_mem_alloc(f->vu, FS_DATA, 4096, &f->data_gpa) < 0 ||
	    vufront_mem_alloc(f->vu, 65536, 4096, &f->aux_gpa) < 0)
		goto nomem;
	f->data = vufront_gpa_ptr(f->vu, f->data_gpa, FS_DATA);
	f->aux = vufront_gpa_ptr(f->vu, f->aux_gpa, 65536);

	vufront_dev_conf_init(&dc);
	dc.neg.features = 0;
	dc.neg.features_required = VUFRONT_BIT(VUFRONT_F_VERSION_1) |
				   VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES);
	dc.neg.protocol_features = 0;
	dc.neg.protocol_required = want_pf;
	dc.num_rings = FS_NVQ;
	dc.ring_size = FS_RING;
	dc.mem_size = FS_MEM;
	dc.enable = true;
	dc.inflight = f->inflight;
	dc.inflight_late = f->inflight_late;
	dc.prepare = f->prepare;
	dc.prepare_arg = f;
	ret = vufront_dev_start(f->vu, &dc);
	if (ret < 0) {
		if (f->inflight)
			fs_check(f, vufront_offered_protocol_features(f->vu) &
				 VUFRONT_BIT(VUFRONT_PF_INFLIGHT_SHMFD),
				 "INFLIGHT_SHMFD offered", "protocol features 0x%" PRIx64,
				 vufront_offered_protocol_features(f->vu));
		fs_check(f, false, "bring-up", "%s", vufront_errmsg(f->vu));
		return ret;
	}
	fs_check(f, vufront_features(f->vu) == dc.neg.features_required, "features negotiated",
		 "0x%" PRIx64 " (offered 0x%" PRIx64 ")", vufront_features(f->vu),
		 vufront_offered_features(f->vu));
	fs_check(f, vufront_protocol_features(f->vu) == want_pf &&
		 !(vufront_offered_protocol_features(f->vu) & VUFRONT_BIT(VUFRONT_PF_STATUS)),
		 "protocol features negotiated (no STATUS offered)",
		 "acked 0x%" PRIx64 " offered 0x%" PRIx64, vufront_protocol_features(f->vu),
		 vufront_offered_protocol_features(f->vu));
	fs_check(f, vufront_queue_num(f->vu) >= 1, "queue number", "GET_QUEUE_NUM %" PRIu64,
		 vufront_queue_num(f->vu));
	printf("info features 0x%" PRIx64 " protocol 0x%" PRIx64 " queue_num %" PRIu64 "\n",
	       vufront_features(f->vu), vufront_protocol_features(f->vu),
	       vufront_queue_num(f->vu));
	return 0;
nomem:
	fprintf(stderr, "vufront-fs: %s\n", vufront_errmsg(f->vu));
	return -ENOMEM;
}

/* FORGET (nlookup 1) of nodeid on the hiprio queue: no reply, the used
 * entry comes back with length 0. */
static void
fs_forget_hiprio(struct fs_front *f, uint64_t nodeid)
{
	struct fuse_forget_in fi = { .nlookup = 1 };
	struct fs_req r = { .opcode = FUSE_FORGET, .nodeid = nodeid, .arg = &fi,
			    .arg_len = sizeof(fi), .out_body = FS_NO_REPLY };
	struct fs_slot *s = fs_post(f, FS_HIPRIO, &r);

	if (s == NULL)
		return;
	fs_wait(f, s, f->o->timeout_ms);
	fs_check(f, s->done && s->used_len == 0, "forget on hiprio: used, length 0",
		 "done %d used length %u", s->done, s->used_len);
	if (s->done)
		fs_slot_put(s);
}

/* n GETATTRs of the root in flight at once, each checked. */
static void
fs_getattr_burst(struct fs_front *f, unsigned int n, const char *what)
{
	struct fs_slot *s[64];
	bool ok = true;

	n = n > 64 ? 64 : n;
	for (unsigned int i = 0; i < n; i++) {
		s[i] = fs_post_getattr(f, FUSE_ROOT_ID);
	}
	for (unsigned int i = 0; i < n; i++) {
		if (s[i] == NULL) {
			ok = false;
			continue;
		}
		fs_wait(f, s[i], f->o->timeout_ms);
		ok &= fs_reply_ok(f, what, s[i], 0, sizeof(struct fuse_attr_out));
		if (s[i]->done)
			fs_slot_put(s[i]);
	}
	if (ok)
		fs_check(f, true, what, NULL);
}

/* ---- scenario basic ---- */

static bool
fs_readdir_names(struct fs_front *f, bool *seen)
{
	uint64_t fh, off = 0;
	bool ok = true, more = true;
	unsigned int rounds = 0, entries = 0;

	if (!fs_open(f, FUSE_OPENDIR, FUSE_ROOT_ID, O_RDONLY | O_DIRECTORY, "opendir root", &fh))
		return false;
	fs_check(f, true, "opendir root", NULL);
	while (more && rounds++ < 64) {
		/* a small buffer: several rounds, continuing from the last d_off */
		struct fuse_read_in in = { .fh = fh, .offset = off, .size = 256 };
		struct fs_req r = { .opcode = FUSE_READDIR, .nodeid = FUSE_ROOT_ID, .arg = &in,
				    .arg_len = sizeof(in), .out_body = 256 };
		struct fs_slot *s = fs_call(f, FS_REQQ, &r, "readdir root", 0, 0);
		uint32_t len, p = 0;

		if (s == NULL)
			return false;
		len = fs_oh(s)->len - FS_OUT_HDR;
		more = len != 0;
		while (p + FUSE_NAME_OFFSET <= len) {
			const struct fuse_dirent *d =
				(const void *)((const uint8_t *)fs_body(s) + p);
			char nm[256];

			if (d->namelen == 0 || d->namelen > 255 ||
			    p + FUSE_DIRENT_SIZE(d) > len) {
				ok = fs_check(f, false, "readdir records well formed",
					      "record at %u: namelen %u", p, d->namelen);
				more = false;
				break;
			}
			memcpy(nm, d->name, d->namelen);
			nm[d->namelen] = '\0';
			for (unsigned int i = 0; i < f->o->n_expect; i++)
				if (strcmp(nm, f->o->expect[i]) == 0)
					seen[i] = true;
			entries++;
			off = d->off;
			p += FUSE_DIRENT_SIZE(d);
		}
		fs_slot_put(s);
	}
	printf("info readdir: %u entries in %u rounds\n", entries, rounds);
	ok &= fs_release(f, FUSE_RELEASEDIR, FUSE_ROOT_ID, fh, "releasedir root");
	return ok;
}

static void
scenario_basic(struct fs_front *f)
{
	struct fuse_entry_out e, we;
	struct fuse_attr a;
	uint64_t fh, wfh, size = f->o->read_size;
	struct fs_slot *rs[FS_INFLIGHT];
	uint64_t roff[FS_INFLIGHT];
	char why[160];
	bool seen[16] = { false };
	unsigned int order_changes = 0;

	if (!fs_init(f))
		return;

	/* LOOKUP of the file the caller created, and of one that is not there */
	if (fs_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup read file", &e, 0)) {
		fs_check(f, true, "lookup read file", NULL);
		fs_check(f, e.nodeid != 0 && e.nodeid != FUSE_ROOT_ID && S_ISREG(e.attr.mode) &&
			 e.attr.size == size, "lookup read file attributes",
			 "nodeid %" PRIu64 " mode 0%o size %" PRIu64, e.nodeid, e.attr.mode,
			 (uint64_t)e.attr.size);
	} else {
		return;
	}
	if (fs_lookup(f, FUSE_ROOT_ID, "no-such-file", "lookup missing file -> ENOENT", NULL,
		      -ENOENT))
		fs_check(f, true, "lookup missing file -> ENOENT", NULL);

	/* OPEN, READ in 64 KiB pieces (header and data in separate buffers) */
	if (!fs_open(f, FUSE_OPEN, e.nodeid, O_RDONLY, "open read file", &fh))
		return;
	fs_check(f, true, "open read file", NULL);
	{
		bool ok = true;

		for (uint64_t off = 0; off < size && ok; off += 65536) {
			uint32_t len = (uint32_t)(size - off < 65536 ? size - off : 65536);
			struct fs_slot *s = fs_post_read(f, e.nodeid, fh, off, 65536);

			if (s == NULL) {
				ok = false;
				break;
			}
			fs_wait(f, s, f->o->timeout_ms);
			ok = fs_reply_ok(f, "read file", s, 0, 0);
			if (ok && !fs_read_matches(f, s, off, len, why, sizeof(why)))
				ok = fs_check(f, false, "read file bytes", "offset %" PRIu64 ": %s",
					      off, why);
			if (s->done)
				fs_slot_put(s);
		}
		if (ok)
			fs_check(f, true, "read file bytes", NULL);
	}
	/* a READ past the end: an empty reply */
	{
		struct fs_slot *s = fs_post_read(f, e.nodeid, fh, size + 100, 4096);

		if (s != NULL) {
			fs_wait(f, s, f->o->timeout_ms);
			if (fs_reply_ok(f, "read past end -> 0 bytes", s, 0, 0))
				fs_check(f, fs_oh(s)->len == FS_OUT_HDR, "read past end -> 0 bytes",
					 "%u bytes", fs_oh(s)->len - FS_OUT_HDR);
			if (s->done)
				fs_slot_put(s);
		}
	}

	/* many requests in flight: 64 posted before reaping any, READs (io_uring)
	 * and every 16th a STATFS (a helper thread: slower), so that replies
	 * come back out of order; they are matched by head id and unique */
	for (unsigned int i = 0; i < FS_INFLIGHT; i++) {
		roff[i] = ((uint64_t)i * 7919 * 13) % (size - FS_INFLIGHT_LEN);
		if (i % 16 == 0) {
			struct fs_req r = { .opcode = FUSE_STATFS, .nodeid = FUSE_ROOT_ID,
					    .out_body = sizeof(struct fuse_statfs_out) };

			rs[i] = fs_post(f, FS_REQQ, &r);
		} else {
			rs[i] = fs_post_read(f, e.nodeid, fh, roff[i], FS_INFLIGHT_LEN);
		}
		if (rs[i] == NULL) {
			fs_check(f, false, "64 requests in flight", "could not post %u", i);
			return;
		}
	}
	{
		bool ok = true;
		unsigned int done = 0;
		double deadline = fs_now() + f->o->timeout_ms / 1000.0;

		while (fs_now() < deadline) {
			done = 0;
			for (unsigned int i = 0; i < FS_INFLIGHT; i++)
				done += rs[i]->done;
			if (done == FS_INFLIGHT)
				break;
			fs_reap(f, FS_REQQ, 100);
		}
		fs_check(f, done == FS_INFLIGHT, "64 requests in flight all completed",
			 "%u of %u", done, FS_INFLIGHT);
		for (unsigned int i = 0; i < FS_INFLIGHT; i++) {
			if (!rs[i]->done)
				continue;
			if (!fs_reply_ok(f, "64 requests in flight replies", rs[i], 0, 0)) {
				ok = false;
			} else if (rs[i]->opcode == FUSE_STATFS) {
				const struct fuse_statfs_out *st = fs_body(rs[i]);

				if (fs_oh(rs[i])->len != FS_OUT_HDR + sizeof(*st) ||
				    st->st.bsize == 0 || st->st.blocks == 0)
					ok = fs_check(f, false, "64 requests in flight: statfs",
						      "len %u bsize %u blocks %" PRIu64,
						      fs_oh(rs[i])->len, st->st.bsize,
						      (uint64_t)st->st.blocks);
			} else if (!fs_read_matches(f, rs[i], roff[i], FS_INFLIGHT_LEN, why,
						    sizeof(why))) {
				fs_check(f, false, "64 requests in flight: read bytes",
					 "request %u: %s", i, why);
				ok = false;
			}
			if (i > 0 && rs[i - 1]->done && rs[i]->seq < rs[i - 1]->seq)
				order_changes++;
		}
		if (ok && done == FS_INFLIGHT)
			fs_check(f, true,
				 "64 requests in flight matched by unique, replies correct", NULL);
		printf("info 64 requests in flight: %u completed before the one posted before "
		       "them\n", order_changes);
		for (unsigned int i = 0; i < FS_INFLIGHT; i++)
			if (rs[i]->done)
				fs_slot_put(rs[i]);
	}
	if (fs_release(f, FUSE_RELEASE, e.nodeid, fh, "release read file"))
		fs_check(f, true, "release read file", NULL);

	/* CREATE + WRITE (data in separate, split buffers) + RELEASE */
	{
		struct fuse_create_in ci = { .flags = O_WRONLY | O_CREAT | O_TRUNC, .mode = 0100644,
					     .umask = 022 };
		struct fs_req r = { .opcode = FUSE_CREATE, .nodeid = FUSE_ROOT_ID, .arg = &ci,
				    .arg_len = sizeof(ci), .arg2 = f->o->write_file,
				    .arg2_len = (uint32_t)strlen(f->o->write_file) + 1,
				    .out_body = sizeof(struct fuse_entry_out) +
						sizeof(struct fuse_open_out) };
		struct fs_slot *s = fs_call(f, FS_REQQ, &r, "create new file", 0, r.out_body);
		uint64_t wsize = f->o->write_size, off = 0;
		bool ok = true;

		if (s == NULL)
			return;
		we = *(const struct fuse_entry_out *)fs_body(s);
		wfh = ((const struct fuse_open_out *)((const uint8_t *)fs_body(s) +
						     sizeof(we)))->fh;
		fs_slot_put(s);
		fs_check(f, we.nodeid != 0 && S_ISREG(we.attr.mode) && we.attr.size == 0,
			 "create new file", "nodeid %" PRIu64 " mode 0%o size %" PRIu64,
			 we.nodeid, we.attr.mode, (uint64_t)we.attr.size);
		for (uint64_t i = 0; i < wsize && i < FS_DATA; i++)
			f->data[i] = fs_pattern(f->o->write_seed, i);
		while (off < wsize && ok) {
			uint32_t chunk = (uint32_t)(wsize - off);
			struct fuse_write_in wi;
			struct vufront_buf data[3];
			unsigned int nd = 0;
			uint32_t left, piece;

			if (chunk > f->max_write)
				chunk = f->max_write;
			if (chunk > 200000)
				chunk = 200000;
			if (off + chunk > FS_DATA) {
				ok = fs_check(f, false, "write new file", "file too large for us");
				break;
			}
			memset(&wi, 0, sizeof(wi));
			wi.fh = wfh;
			wi.offset = off;
			wi.size = chunk;
			/* the data in up to 3 descriptors of uneven sizes */
			left = chunk;
			piece = chunk / 3 + 1;
			while (left != 0) {
				uint32_t n = left < piece || nd == 2 ? left : piece;

				data[nd++] = (struct vufront_buf){ .addr = f->data_gpa + off +
									   (chunk - left),
								   .len = n };
				left -= n;
			}
			{
				struct fs_req w = { .opcode = FUSE_WRITE, .nodeid = we.nodeid,
						    .arg = &wi, .arg_len = sizeof(wi), .data = data,
						    .n_data = nd,
						    .out_body = sizeof(struct fuse_write_out) };

				s = fs_call(f, FS_REQQ, &w, "write new file", 0,
					    sizeof(struct fuse_write_out));
			}
			if (s == NULL) {
				ok = false;
				break;
			}
			ok = fs_check(f, ((const struct fuse_write_out *)fs_body(s))->size == chunk,
				      "write new file size", "wrote %u of %u",
				      ((const struct fuse_write_out *)fs_body(s))->size, chunk);
			fs_slot_put(s);
			off += chunk;
		}
		if (ok)
			fs_check(f, true, "write new file", NULL);
		if (fs_release(f, FUSE_RELEASE, we.nodeid, wfh, "release new file"))
			fs_check(f, true, "release new file", NULL);
	}

	/* GETATTR of the root and of both files */
	if (fs_getattr(f, FUSE_ROOT_ID, "getattr root", &a))
		fs_check(f, S_ISDIR(a.mode) && a.ino != 0, "getattr root", "mode 0%o", a.mode);
	if (fs_getattr(f, e.nodeid, "getattr read file", &a))
		fs_check(f, S_ISREG(a.mode) && a.size == size, "getattr read file",
			 "mode 0%o size %" PRIu64, a.mode, (uint64_t)a.size);
	if (fs_getattr(f, we.nodeid, "getattr new file", &a))
		fs_check(f, S_ISREG(a.mode) && a.size == f->o->write_size, "getattr new file",
			 "mode 0%o size %" PRIu64, a.mode, (uint64_t)a.size);
	/* a node id that was never handed out */
	{
		struct fuse_getattr_in gi;
		struct fs_req r = { .opcode = FUSE_GETATTR, .nodeid = 0x7777000000001234ULL,
				    .arg = &gi, .arg_len = sizeof(gi),
				    .out_body = sizeof(struct fuse_attr_out) };
		struct fs_slot *s;

		memset(&gi, 0, sizeof(gi));
		s = fs_call(f, FS_REQQ, &r, "getattr bogus nodeid -> ENOENT", -ENOENT, 0);
		if (s != NULL) {
			fs_check(f, true, "getattr bogus nodeid -> ENOENT", NULL);
			fs_slot_put(s);
		}
	}

	/* READDIR of the root lists the expected names */
	if (fs_readdir_names(f, seen)) {
		bool all = true;

		for (unsigned int i = 0; i < f->o->n_expect; i++) {
			if (!seen[i]) {
				fs_check(f, false, "readdir root lists the expected names",
					 "%s missing", f->o->expect[i]);
				all = false;
			}
		}
		if (all)
			fs_check(f, true, "readdir root lists the expected names", NULL);
	}

	/* FORGET on the hiprio queue: no reply, the used entry has length 0 */
	fs_forget_hiprio(f, we.nodeid);
	/* the node was looked up once (by CREATE): it is gone now */
	{
		struct fuse_getattr_in gi;
		struct fs_req g = { .opcode = FUSE_GETATTR, .nodeid = we.nodeid,
				    .arg = &gi, .arg_len = sizeof(gi),
				    .out_body = sizeof(struct fuse_attr_out) };
		struct fs_slot *s;

		memset(&gi, 0, sizeof(gi));
		s = fs_call(f, FS_REQQ, &g, "getattr of forgotten node -> ENOENT", -ENOENT, 0);
		if (s != NULL) {
			fs_check(f, true, "getattr of forgotten node -> ENOENT", NULL);
			fs_slot_put(s);
		}
	}
	fs_root_alive(f, "basic");
}

/* ---- scenario malformed ---- */

/* Publish a hand-built chain of n descriptors on ring vq: fill(desc, ids)
 * writes them. Wait for its used entry. */
typedef void (*fs_fill_fn)(struct fs_front *f, struct vufront_desc *desc, const uint16_t *ids,
			   unsigned int n, struct fs_slot *s);

#define FS_M_LEN0 0		/* used with length 0 */
#define FS_M_ERR 1		/* an error reply carrying our unique */
#define FS_M_ERR_ANY 2		/* an error reply (the header was unreadable) */

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
	{
		struct fuse_in_header *ih = (struct fuse_in_header *)s->in;
		struct fuse_getattr_in *gi = (struct fuse_getattr_in *)(s->in + FS_IN_HDR);

		memset(ih, 0, sizeof(*ih));
		memset(gi, 0, sizeof(*gi));
		ih->len = FS_IN_HDR + sizeof(*gi);
		ih->opcode = FUSE_GETATTR;
		ih->unique = ++f->next_unique;
		ih->nodeid = FUSE_ROOT_ID;
		s->unique = ih->unique;
		s->opcode = FUSE_GETATTR;
	}
	fill(f, info.desc, ids, n, s);
	fs_map_head(f, s, FS_REQQ, ids[0]);
	vufront_vq_publish(f->vu, FS_REQQ, ids[0]);
	vufront_vq_notify(f->vu, FS_REQQ);
	fs_wait(f, s, f->o->timeout_ms);
	if (!s->done) {
		fs_check(f, false, what, f->gone ? "not returned, the back-end is gone" :
			 "not returned in time");
		return;	/* the slot stays busy: its chain is still out */
	}
	if (mode != FS_M_LEN0)
		fs_check(f, s->used_len >= FS_OUT_HDR && fs_oh(s)->len == s->used_len &&
			 fs_oh(s)->error == -EINVAL &&
			 (mode == FS_M_ERR_ANY || fs_oh(s)->unique == s->unique), what,
			 "used length %u error %d unique %" PRIu64 " (ours %" PRIu64 ")",
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
fill_addr_outside(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
		  unsigned int n, struct fs_slot *s)
{
	(void)n;
	fill_valid2(f, d, ids, s, vufront_mem_size(f->vu) + 0x100000, 56);
}

static void
fill_len_past_end(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
		  unsigned int n, struct fs_slot *s)
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
fill_huge_len_out(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
		  unsigned int n, struct fs_slot *s)
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
fill_self_loop(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
	       unsigned int n, struct fs_slot *s)
{
	(void)f;
	(void)n;
	fs_desc(&d[ids[0]], s->in_gpa, 0, VUFRONT_DESC_F_NEXT, ids[0]);
}

static void
fill_next_beyond(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
		 unsigned int n, struct fs_slot *s)
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
	fs_desc(&t[0], s->in_gpa, FS_IN_HDR + sizeof(struct fuse_getattr_in),
		VUFRONT_DESC_F_NEXT, 1);
	fs_desc(&t[1], s->out_gpa, FS_OUT_HDR + sizeof(struct fuse_attr_out),
		VUFRONT_DESC_F_WRITE, 0);
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
fill_hdr_len_lies(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
		  unsigned int n, struct fs_slot *s)
{
	(void)n;
	((struct fuse_in_header *)s->in)->len = 1u << 20;
	fill_valid2(f, d, ids, s, s->in_gpa, FS_IN_HDR + sizeof(struct fuse_getattr_in));
}

static void
fill_short_header(struct fs_front *f, struct vufront_desc *d, const uint16_t *ids,
		  unsigned int n, struct fs_slot *s)
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

static void
scenario_malformed(struct fs_front *f)
{
	/* before INIT: EIO */
	{
		struct fuse_getattr_in gi;
		struct fs_req r = { .opcode = FUSE_GETATTR, .nodeid = FUSE_ROOT_ID, .arg = &gi,
				    .arg_len = sizeof(gi),
				    .out_body = sizeof(struct fuse_attr_out) };
		struct fs_slot *s;

		memset(&gi, 0, sizeof(gi));
		s = fs_call(f, FS_REQQ, &r, "getattr before init -> EIO", -EIO, 0);
		if (s != NULL) {
			fs_check(f, true, "getattr before init -> EIO", NULL);
			fs_slot_put(s);
		}
	}
	if (!fs_init(f))
		return;
	fs_root_alive(f, "init");
	/* an avail entry naming a head beyond the ring: nothing to give back
	 * (no used entry), counted; the queue goes on */
	{
		struct vufront_vq_info before, after;

		vufront_vq_info(f->vu, FS_REQQ, &before);
		vufront_vq_publish(f->vu, FS_REQQ, FS_RING + 44);
		vufront_vq_notify(f->vu, FS_REQQ);
		if (fs_root_alive(f, "avail head beyond the ring")) {
			vufront_vq_info(f->vu, FS_REQQ, &after);
			fs_check(f, (uint16_t)(after.last_used - before.last_used) == 1 &&
				 vufront_vq_pending(f->vu, FS_REQQ) == 0,
				 "malformed avail head beyond the ring: dropped, not used",
				 "%u used entries for one request",
				 (uint16_t)(after.last_used - before.last_used));
		}
	}
	/* refused by the ring walker: used length 0, counted as malformed */
	fs_malformed(f, "address outside guest memory", 2, fill_addr_outside, FS_M_LEN0);
	fs_malformed(f, "length past the end of memory", 2, fill_len_past_end, FS_M_LEN0);
	fs_malformed(f, "loop a->b->a", 2, fill_loop, FS_M_LEN0);
	fs_malformed(f, "loop a->a", 1, fill_self_loop, FS_M_LEN0);
	fs_malformed(f, "next beyond the ring", 1, fill_next_beyond, FS_M_LEN0);
	fs_malformed(f, "indirect descriptor (not negotiated)", 1, fill_indirect, FS_M_LEN0);
	fs_malformed(f, "writable then readable", 3, fill_write_then_read, FS_M_LEN0);
	fs_malformed(f, "chain longer than the ring", FS_RING, fill_longer_than_ring,
		     FS_M_LEN0);
	fs_malformed(f, "readable length 4 GiB-1", 2, fill_huge_len, FS_M_LEN0);
	fs_malformed(f, "writable length 4 GiB-1", 2, fill_huge_len_out, FS_M_LEN0);

	/* refused by the FUSE engine: an error reply (EINVAL), counted as malformed */
	{
		struct fs_slot *s;

		fs_malformed(f, "fuse_in_header len beyond the buffer", 2, fill_hdr_len_lies,
			     FS_M_ERR);
		fs_malformed(f, "buffer shorter than fuse_in_header", 2, fill_short_header,
			     FS_M_ERR_ANY);
		/* what the gateway must count: 11 chains refused by the ring walker,
		 * 2 requests refused by the FUSE engine */
		printf("info malformed-expected 13\n");
		/* no writable buffer at all: nowhere to reply, length 0 (a valid
		 * chain: not counted) */
		fs_malformed(f, "getattr without reply buffers", 1, fill_no_out, FS_M_LEN0);

		/* an unknown opcode: ENOSYS */
		{
			uint8_t junk[40];
			struct fs_req r = { .opcode = 4242, .nodeid = FUSE_ROOT_ID, .arg = junk,
					    .arg_len = sizeof(junk), .out_body = 64 };

			memset(junk, 0x5a, sizeof(junk));
			s = fs_call(f, FS_REQQ, &r, "unknown opcode -> ENOSYS", -ENOSYS, 0);
			if (s != NULL) {
				fs_check(f, true, "unknown opcode -> ENOSYS", NULL);
				fs_slot_put(s);
			}
			fs_root_alive(f, "unknown opcode");
		}
		/* a reply buffer too small for the reply: EINVAL in the header */
		{
			struct fuse_getattr_in gi;
			struct fs_req r = { .opcode = FUSE_GETATTR, .nodeid = FUSE_ROOT_ID,
					    .arg = &gi, .arg_len = sizeof(gi), .out_body = 8 };

			memset(&gi, 0, sizeof(gi));
			s = fs_call(f, FS_REQQ, &r, "reply buffer too small -> EINVAL", -EINVAL, 0);
			if (s != NULL) {
				fs_check(f, true, "reply buffer too small -> EINVAL", NULL);
				fs_slot_put(s);
			}
		}
	}

	/* a burst of valid requests after all that */
	fs_getattr_burst(f, 32, "32 getattrs after the malformed chains");
}

/* ---- scenario suspend ---- */

static uint16_t
fs_used_idx(struct fs_front *f, unsigned int vq)
{
	struct vufront_vq_info info;

	vufront_vq_info(f->vu, vq, &info);
	return atomic_load_explicit(VU_ATOMIC(&info.used->idx), memory_order_acquire);
}

static void
scenario_suspend(struct fs_front *f)
{
	struct fs_slot *s[48];
	unsigned int n = 0;
	uint16_t u1, u0;
	double t0;
	bool ok = true, moved = false;

	if (!fs_init(f))
		return;
	fs_root_alive(f, "init");
	/* the caller suspends the device now */
	fs_sync("running");
	u1 = fs_used_idx(f, FS_REQQ);
	u0 = fs_used_idx(f, FS_HIPRIO);
	for (n = 0; n < 40; n++) {
		s[n] = fs_post_getattr(f, FUSE_ROOT_ID);
		if (s[n] == NULL)
			break;
	}
	{
		/* and one on hiprio: a FORGET of nothing */
		struct fuse_forget_in fi = { .nlookup = 1 };
		struct fs_req r = { .opcode = FUSE_FORGET, .nodeid = 0x12345678, .arg = &fi,
				    .arg_len = sizeof(fi), .out_body = FS_NO_REPLY };

		s[n] = fs_post(f, FS_HIPRIO, &r);
		if (s[n] != NULL)
			n++;
	}
	/* nothing may be used while suspended: watch used->idx for 1.2 s */
	t0 = fs_now();
	while (fs_now() - t0 < 1.2) {
		if (fs_used_idx(f, FS_REQQ) != u1 || fs_used_idx(f, FS_HIPRIO) != u0) {
			moved = true;
			break;
		}
		usleep(1000);
	}
	fs_check(f, n == 41 && !moved, "no used entry while suspended",
		 "posted %u, used idx moved %u->%u / %u->%u", n, u1, fs_used_idx(f, FS_REQQ), u0,
		 fs_used_idx(f, FS_HIPRIO));
	/* the caller resumes the device now */
	fs_sync("posted");
	for (unsigned int i = 0; i < n; i++) {
		fs_wait(f, s[i], f->o->timeout_ms);
		if (s[i]->vq == FS_HIPRIO)
			ok &= fs_check(f, s[i]->done && s[i]->used_len == 0,
				       "forget posted while suspended used after resume",
				       "done %d length %u", s[i]->done, s[i]->used_len);
		else
			ok &= fs_reply_ok(f,
					  "requests posted while suspended complete after resume",
					  s[i], 0, sizeof(struct fuse_attr_out));
		if (s[i]->done)
			fs_slot_put(s[i]);
	}
	if (ok)
		fs_check(f, true, "requests posted while suspended complete after resume", NULL);
	printf("info resumed: %.0f ms after posting\n", (fs_now() - t0) * 1000);

	/* suspend with requests in flight: what was taken completes, the rest waits */
	fs_sync("suspend-again");
	u1 = fs_used_idx(f, FS_REQQ);
	for (n = 0; n < 8; n++) {
		s[n] = fs_post_getattr(f, FUSE_ROOT_ID);
		if (s[n] == NULL)
			break;
	}
	usleep(500 * 1000);
	fs_check(f, fs_used_idx(f, FS_REQQ) == u1, "suspended twice: still nothing used",
		 "used idx %u->%u", u1, fs_used_idx(f, FS_REQQ));
	fs_sync("posted-again");
	ok = true;
	for (unsigned int i = 0; i < n; i++) {
		fs_wait(f, s[i], f->o->timeout_ms);
		ok &= fs_reply_ok(f, "second resume: requests complete", s[i], 0,
				  sizeof(struct fuse_attr_out));
		if (s[i]->done)
			fs_slot_put(s[i]);
	}
	if (ok)
		fs_check(f, true, "second resume: requests complete", NULL);
	fs_root_alive(f, "resume");
}

/* ---- scenario remap ---- */

static int
fs_set_mem_table2(struct fs_front *f)
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, VUFRONT_SET_MEM_TABLE, offsetof(struct vufront_mem_table, regions) +
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

#define FS_REMAP_READS 80u	/* 3 descriptors each, a ring of 256 */

#define FS_LOG_SIZE 8192u	/* one bit per 4 KiB page: 256 MiB of guest memory */
#define FS_VRING_F_LOG 1u

struct fs_log {
	int fd;
	uint8_t *map;
};

static int
fs_log_create(struct fs_log *l)
{
	l->fd = memfd_create("vufront-fs-log", MFD_CLOEXEC);
	if (l->fd < 0 || ftruncate(l->fd, FS_LOG_SIZE) < 0)
		return -errno;
	l->map = mmap(NULL, FS_LOG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, l->fd, 0);
	if (l->map == MAP_FAILED) {
		l->map = NULL;
		return -errno;
	}
	return 0;
}

static void
fs_log_destroy(struct fs_log *l)
{
	if (l->map != NULL)
		munmap(l->map, FS_LOG_SIZE);
	if (l->fd >= 0)
		close(l->fd);
	l->map = NULL;
	l->fd = -1;
}

static int
fs_set_log_base(struct fs_front *f, const struct fs_log *l)
{
	struct vufront_msg msg, reply;
	int ret;

	vufront_msg_init(&msg, VUFRONT_SET_LOG_BASE, sizeof(struct vufront_log));
	msg.payload.log.mmap_size = FS_LOG_SIZE;
	msg.payload.log.mmap_offset = 0;
	msg.fds[0] = l->fd;
	msg.nfds = 1;
	ret = vufront_call(f->vu, &msg, &reply);
	if (ret == 0)
		vufront_msg_close_fds(&reply);
	return ret;
}

/* Are all pages of [gpa, gpa + len) dirty in the log? */
static bool
fs_log_dirty(const struct fs_log *l, uint64_t gpa, uint64_t len)
{
	for (uint64_t pg = gpa / 4096; pg <= (gpa + len - 1) / 4096; pg++)
		if (pg / 8 >= FS_LOG_SIZE ||
		    !(atomic_load_explicit(VU_ATOMIC(&l->map[pg / 8]), memory_order_acquire) &
		      (1u << (pg % 8))))
			return false;
	return true;
}

static unsigned int
fs_log_count(const struct fs_log *l)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FS_LOG_SIZE; i++)
		n += (unsigned int)__builtin_popcount(l->map[i]);
	return n;
}

/* Ring addresses again, with or without the log flag (QEMU's way of
 * starting and stopping the logging of the used rings). */
static int
fs_ring_log(struct fs_front *f, unsigned int vq, bool on)
{
	struct vufront_vring_addr a;
	struct vufront_vq_info info;

	vufront_vq_info(f->vu, vq, &info);
	memset(&a, 0, sizeof(a));
	a.index = vq;
	a.flags = on ? FS_VRING_F_LOG : 0;
	a.desc_user_addr = (uint64_t)(uintptr_t)info.desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)info.avail;
	a.used_user_addr = (uint64_t)(uintptr_t)info.used;
	a.log_guest_addr = info.used_gpa;
	return vufront_set_vring_addr(f->vu, &a);
}

/* READs whose pages must show up in log l; fh is open on nodeid. */
static void
fs_log_reads(struct fs_front *f, const struct fs_log *l, uint64_t nodeid, uint64_t fh,
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
		} else if (!fs_log_dirty(l, s[i]->out_gpa, FS_OUT_HDR + 20000)) {
			ok = fs_check(f, false, name, "the reply buffer of read %u (gpa 0x%" PRIx64
				      ") is not logged dirty", i, s[i]->out_gpa);
		}
		if (s[i]->done)
			fs_slot_put(s[i]);
	}
	if (ok && !fs_log_dirty(l, info.used_gpa, 4 + 8 * FS_RING))
		ok = fs_check(f, false, name, "the used ring is not logged dirty");
	if (ok && fs_log_dirty(l, f->data_gpa, 4096))
		ok = fs_check(f, false, name, "a page the device never wrote is logged dirty");
	if (ok)
		fs_check(f, true, name, NULL);
}

static void
fs_dirty_log(struct fs_front *f, uint64_t nodeid, uint64_t fh)
{
	struct fs_log l1 = { .fd = -1 }, l2 = { .fd = -1 };
	uint64_t feat = vufront_features(f->vu);
	struct fs_slot *busy[FS_REMAP_READS];
	unsigned int nb;
	bool ok = true;
	char why[160];
	int ret;

	if (!(vufront_offered_features(f->vu) & VUFRONT_BIT(VUFRONT_F_LOG_ALL))) {
		fs_check(f, false, "dirty log: LOG_ALL offered", NULL);
		return;
	}
	if (fs_log_create(&l1) < 0 || fs_log_create(&l2) < 0) {
		fs_check(f, false, "dirty log: memfds", "%s", strerror(errno));
		goto out;
	}
	/* QEMU's order: the log, LOG_ALL, then the rings' log flag */
	ret = fs_set_log_base(f, &l1);
	if (ret == 0)
		ret = vufront_set_features(f->vu, feat | VUFRONT_BIT(VUFRONT_F_LOG_ALL));
	for (unsigned int q = 0; ret == 0 && q < FS_NVQ; q++)
		ret = fs_ring_log(f, q, true);
	if (!fs_check(f, ret == 0, "dirty log: SET_LOG_BASE, LOG_ALL, ring log flag", "%s",
		      ret ? vufront_errmsg(f->vu) : ""))
		goto out;
	memset(l1.map, 0, FS_LOG_SIZE);
	fs_log_reads(f, &l1, nodeid, fh, "dirty log: replies and used ring logged");
	/* the caller checks the device's phase */
	fs_sync("logging");

	/* a new log while requests are in flight (QEMU resizes the log so) */
	for (nb = 0; nb < FS_REMAP_READS; nb++) {
		busy[nb] = fs_post_read(f, nodeid, fh, nb * 2000, 4000);
		if (busy[nb] == NULL)
			break;
	}
	ret = fs_set_log_base(f, &l2);
	fs_check(f, ret == 0, "dirty log: second SET_LOG_BASE while running", "%s",
		 ret ? vufront_errmsg(f->vu) : "");
	for (unsigned int i = 0; i < nb; i++) {
		fs_wait(f, busy[i], f->o->timeout_ms);
		if (!fs_reply_ok(f, "dirty log: reads in flight across SET_LOG_BASE", busy[i],
				 0, 0))
			ok = false;
		else if (!fs_read_matches(f, busy[i], i * 2000, 4000, why, sizeof(why)))
			ok = fs_check(f, false, "dirty log: reads in flight across SET_LOG_BASE",
				      "%s", why);
		if (busy[i]->done)
			fs_slot_put(busy[i]);
	}
	if (ok)
		fs_check(f, true, "dirty log: reads in flight across SET_LOG_BASE", NULL);
	memset(l1.map, 0, FS_LOG_SIZE);
	memset(l2.map, 0, FS_LOG_SIZE);
	fs_log_reads(f, &l2, nodeid, fh, "dirty log: the new log is used");
	fs_check(f, fs_log_count(&l1) == 0, "dirty log: the old log is no longer written",
		 "%u bits set", fs_log_count(&l1));

	/* logging off */
	ret = 0;
	for (unsigned int q = 0; ret == 0 && q < FS_NVQ; q++)
		ret = fs_ring_log(f, q, false);
	if (ret == 0)
		ret = vufront_set_features(f->vu, feat);
	fs_check(f, ret == 0, "dirty log: LOG_ALL off", "%s", ret ? vufront_errmsg(f->vu) : "");
	memset(l2.map, 0, FS_LOG_SIZE);
	if (fs_root_alive(f, "dirty log off"))
		fs_check(f, fs_log_count(&l2) == 0, "dirty log: nothing logged once off",
			 "%u bits set", fs_log_count(&l2));
out:
	fs_log_destroy(&l1);
	fs_log_destroy(&l2);
}

static void
scenario_remap(struct fs_front *f)
{
	struct fuse_entry_out e;
	uint64_t fh;
	char why[160];
	int ret;

	if (!fs_init(f))
		return;
	if (!fs_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup read file", &e, 0) ||
	    !fs_open(f, FUSE_OPEN, e.nodeid, O_RDONLY, "open read file", &fh))
		return;
	/* a second region of guest memory, above the first */
	f->extra_fd = memfd_create("vufront-fs-extra", MFD_CLOEXEC);
	if (f->extra_fd < 0 || ftruncate(f->extra_fd, FS_EXTRA_REGION) < 0) {
		fs_check(f, false, "second memory region", "%s", strerror(errno));
		return;
	}
	f->extra = mmap(NULL, FS_EXTRA_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, f->extra_fd, 0);
	if (f->extra == MAP_FAILED) {
		fs_check(f, false, "second memory region", "%s", strerror(errno));
		return;
	}
	f->extra_gpa = (vufront_mem_size(f->vu) + (1u << 21) - 1) & ~(uint64_t)((1u << 21) - 1);

	for (unsigned int round = 0; round < 3 && !f->gone; round++) {
		struct fs_slot *busy[FS_REMAP_READS];
		uint64_t off[FS_REMAP_READS];
		unsigned int nb = 0;
		uint16_t used0 = fs_used_idx(f, FS_REQQ);
		bool ok = true;

		/* requests in flight across the change: 64 KiB reads, many */
		for (nb = 0; nb < FS_REMAP_READS; nb++) {
			off[nb] = ((uint64_t)nb * 1237 + round * 111) % (f->o->read_size - 4096);
			busy[nb] = fs_post_read(f, e.nodeid, fh, off[nb], 65536);
			if (busy[nb] == NULL)
				break;
		}
		printf("info round %u: %u of %u reads not yet used when SET_MEM_TABLE is sent\n",
		       round, nb - (uint16_t)(fs_used_idx(f, FS_REQQ) - used0), nb);
		ret = fs_set_mem_table2(f);
		fs_check(f, ret == 0, "SET_MEM_TABLE while running (2 regions)", "%s",
			 ret ? vufront_errmsg(f->vu) : "");
		for (unsigned int i = 0; i < nb; i++) {
			uint64_t left = f->o->read_size - off[i];
			uint64_t want = left < 65536 ? left : 65536;

			fs_wait(f, busy[i], f->o->timeout_ms);
			if (!fs_reply_ok(f, "reads in flight across SET_MEM_TABLE", busy[i], 0, 0))
				ok = false;
			else if (!fs_read_matches(f, busy[i], off[i], (uint32_t)want, why,
						  sizeof(why)))
				ok = fs_check(f, false, "reads in flight across SET_MEM_TABLE",
					      "%s", why);
			if (busy[i]->done)
				fs_slot_put(busy[i]);
		}
		if (ok)
			fs_check(f, true, "reads in flight across SET_MEM_TABLE", NULL);
		if (!fs_root_alive(f, "SET_MEM_TABLE"))
			return;
		/* a READ whose data buffer is in the new region */
		{
			struct fuse_read_in in = { .fh = fh, .offset = 4096, .size = 8192 };
			struct vufront_buf bufs[3];
			struct fs_slot *s = fs_slot_get(f);
			struct fuse_in_header *ih = (struct fuse_in_header *)s->in;
			uint16_t head;

			memset(ih, 0, sizeof(*ih));
			ih->len = FS_IN_HDR + sizeof(in);
			ih->opcode = FUSE_READ;
			ih->unique = ++f->next_unique;
			ih->nodeid = e.nodeid;
			memcpy(s->in + FS_IN_HDR, &in, sizeof(in));
			s->unique = ih->unique;
			s->opcode = FUSE_READ;
			memset(f->extra, 0, 8192);
			bufs[0] = (struct vufront_buf){ .addr = s->in_gpa, .len = ih->len };
			bufs[1] = (struct vufront_buf){ .addr = s->out_gpa, .len = FS_OUT_HDR,
							.flags = VUFRONT_DESC_F_WRITE };
			bufs[2] = (struct vufront_buf){ .addr = f->extra_gpa + 4096 * round,
							.len = 8192,
							.flags = VUFRONT_DESC_F_WRITE };
			if (vufront_vq_add_chain(f->vu, FS_REQQ, bufs, 3, &head) < 0) {
				fs_check(f, false, "read into the new region", "%s",
					 vufront_errmsg(f->vu));
				return;
			}
			fs_map_head(f, s, FS_REQQ, head);
			vufront_vq_notify(f->vu, FS_REQQ);
			fs_wait(f, s, f->o->timeout_ms);
			if (fs_reply_ok(f, "read into the new region", s, 0, 8192)) {
				const uint8_t *b = f->extra + 4096 * round;
				uint32_t bad = 0;

				for (uint32_t i = 0; i < 8192; i++)
					bad += b[i] != fs_pattern(f->o->read_seed, 4096 + i);
				fs_check(f, bad == 0, "read into the new region", "%u bad bytes",
					 bad);
			}
			if (s->done)
				fs_slot_put(s);
		}
		/* and back to one region (the old table): the new one goes away */
		{
			struct fs_slot *busy2[8];
			unsigned int nb2;

			for (nb2 = 0; nb2 < 8; nb2++) {
				busy2[nb2] = fs_post_read(f, e.nodeid, fh, nb2 * 333, 2000);
				if (busy2[nb2] == NULL)
					break;
			}
			ret = vufront_set_mem_table(f->vu);
			fs_check(f, ret == 0, "SET_MEM_TABLE back to one region", "%s",
				 ret ? vufront_errmsg(f->vu) : "");
			ok = true;
			for (unsigned int i = 0; i < nb2; i++) {
				fs_wait(f, busy2[i], f->o->timeout_ms);
				ok &= fs_reply_ok(f, "reads across the second SET_MEM_TABLE",
						  busy2[i], 0, 0) &&
				      fs_read_matches(f, busy2[i], i * 333, 2000, why, sizeof(why));
				if (busy2[i]->done)
					fs_slot_put(busy2[i]);
			}
			if (ok)
				fs_check(f, true, "reads across the second SET_MEM_TABLE", NULL);
			if (!fs_root_alive(f, "SET_MEM_TABLE back"))
				return;
		}
	}
	if (!f->gone)
		fs_dirty_log(f, e.nodeid, fh);
	fs_release(f, FUSE_RELEASE, e.nodeid, fh, "release read file");
}

/* ---- inflight I/O tracking (INFLIGHT_SHMFD) ---- */

#define FS_BURST 64u
#define FS_SETTLE_MS 2000
#define FS_RESUBMIT_BASE 1000u	/* where the crashed back-end stood in the ring */

static unsigned int
fs_region_bytes(void)
{
	return FS_NVQ * (unsigned int)vufront_inflight_queue_bytes(FS_RING);
}

/* Is queue q's area settled: no entry in flight, used_idx caught up with
 * used->idx? The device clears an entry and catches used_idx up just after
 * publishing the used element we may already have reaped: poll a while. */
static bool
fs_inflight_settled(struct fs_front *f, unsigned int q, char *why, size_t len)
{
	struct vufront_inflight_queue *iq = vufront_inflight_vq(f->vu, q);
	double deadline = fs_now() + FS_SETTLE_MS / 1000.0;
	unsigned int n, first;
	uint16_t ui, u;

	if (iq == NULL) {
		snprintf(why, len, "queue %u has no inflight area", q);
		return false;
	}
	for (;;) {
		n = vufront_inflight_count(f->vu, q);
		ui = atomic_load_explicit(VU_ATOMIC(&iq->used_idx), memory_order_acquire);
		u = fs_used_idx(f, q);
		if (n == 0 && ui == u)
			return true;
		if (fs_now() > deadline)
			break;
		usleep(1000);
	}
	for (first = 0; first < FS_RING && iq->desc[first].inflight != 1; first++)
		;
	snprintf(why, len, "queue %u after %d ms: %u entries in flight (first: head %u), "
		 "region used_idx %u, used->idx %u", q, FS_SETTLE_MS, n, first, ui, u);
	return false;
}

/* Every queue settled, and marked as used by a back-end (version). */
static bool
fs_inflight_all_settled(struct fs_front *f, const char *name)
{
	char why[200];

	for (unsigned int q = 0; q < FS_NVQ; q++) {
		struct vufront_inflight_queue *iq = vufront_inflight_vq(f->vu, q);

		if (!fs_inflight_settled(f, q, why, sizeof(why)))
			return fs_check(f, false, name, "%s", why);
		if (iq->version == 0)
			return fs_check(f, false, name, "queue %u: version 0", q);
	}
	return fs_check(f, true, name, NULL);
}

/* Between GET_INFLIGHT_FD and SET_INFLIGHT_FD: the back-end's new region is
 * zeroed (no version: nothing to take again when the rings start). */
static int
fs_inflight_fresh(struct vufront *vu, void *arg)
{
	struct fs_front *f = arg;
	const uint8_t *p = (const uint8_t *)vufront_inflight_vq(vu, 0);
	uint64_t n = vufront_inflight_mmap_size(vu), i;

	for (i = 0; p != NULL && i < n && p[i] == 0; i++)
		;
	fs_check(f, p != NULL && i == n, "GET_INFLIGHT_FD region zeroed",
		 "byte %" PRIu64 " of %" PRIu64 " is 0x%02x", i, n, p != NULL && i < n ? p[i] : 0);
	return 0;
}

/* The region the bring-up got and handed back, as the back-end set it up. */
static bool
fs_inflight_region_ok(struct fs_front *f)
{
	bool ok;

	ok = fs_check(f, vufront_inflight_num_queues(f->vu) == FS_NVQ &&
		      vufront_inflight_mmap_size(f->vu) >= fs_region_bytes(),
		      "GET_INFLIGHT_FD region size", "%u queues, %" PRIu64 " bytes at %" PRIu64
		      " (%u needed)", vufront_inflight_num_queues(f->vu),
		      vufront_inflight_mmap_size(f->vu), vufront_inflight_mmap_offset(f->vu),
		      fs_region_bytes());
	for (unsigned int q = 0; ok && q < FS_NVQ; q++) {
		struct vufront_inflight_queue *iq = vufront_inflight_vq(f->vu, q);

		/* rte_vhost writes desc_num at SET_INFLIGHT_FD and marks a zeroed
		 * area version 1 at SET_VRING_KICK */
		ok = fs_check(f, iq->desc_num == FS_RING && iq->version != 0,
			      "inflight area set up at SET_INFLIGHT_FD / SET_VRING_KICK",
			      "queue %u: desc_num %u version %u", q, iq->desc_num, iq->version);
	}
	return ok;
}

/*
 * FS_BURST requests posted before any is reaped (READs, and every 16th a
 * STATFS that a helper thread serves: replies out of order); the request
 * queue's area is sampled while they are outstanding. Then the area must
 * settle, and the counters of the heads, all distinct within the burst, must
 * increase in submission order and stay above *last (the previous burst's).
 */
static bool
fs_inflight_burst(struct fs_front *f, unsigned int round, uint64_t nodeid, uint64_t fh,
		  uint64_t *last)
{
	struct vufront_inflight_queue *iq = vufront_inflight_vq(f->vu, FS_REQQ);
	struct fs_slot *rs[FS_BURST];
	uint64_t roff[FS_BURST], counter[FS_BURST];
	unsigned int done = 0, max_seen = 0, samples = 0, nonzero = 0, i;
	double deadline;
	char name[96], why[200];
	bool ok = true;

	for (i = 0; i < FS_BURST; i++) {
		roff[i] = ((uint64_t)i * 7919 * 13 + round * 4099) %
			  (f->o->read_size - FS_INFLIGHT_LEN);
		if (i % 16 == 0) {
			struct fs_req r = { .opcode = FUSE_STATFS, .nodeid = FUSE_ROOT_ID,
					    .out_body = sizeof(struct fuse_statfs_out) };

			rs[i] = fs_post(f, FS_REQQ, &r);
		} else {
			rs[i] = fs_post_read(f, nodeid, fh, roff[i], FS_INFLIGHT_LEN);
		}
		if (rs[i] == NULL) {
			snprintf(name, sizeof(name), "burst %u: %u requests posted", round,
				 FS_BURST);
			fs_check(f, false, name, "could not post %u", i);
			return false;
		}
	}
	deadline = fs_now() + f->o->timeout_ms / 1000.0;
	while (fs_now() < deadline) {
		unsigned int n = vufront_inflight_count(f->vu, FS_REQQ);

		samples++;
		nonzero += n != 0;
		if (n > max_seen)
			max_seen = n;
		done = 0;
		for (i = 0; i < FS_BURST; i++)
			done += rs[i]->done;
		if (done == FS_BURST)
			break;
		if (fs_reap(f, FS_REQQ, 1) < 0 && fs_backend_gone(f))
			break;
	}
	printf("info burst %u: up to %u of %u requests marked in flight at once "
	       "(%u of %u samples saw some)\n", round, max_seen, FS_BURST, nonzero, samples);
	snprintf(name, sizeof(name), "burst %u: %u requests in flight completed", round,
		 FS_BURST);
	if (!fs_check(f, done == FS_BURST, name, "%u of %u", done, FS_BURST))
		return false;
	snprintf(name, sizeof(name), "burst %u: never more entries in flight than requests",
		 round);
	ok &= fs_check(f, max_seen <= FS_BURST, name, "%u", max_seen);
	snprintf(name, sizeof(name), "burst %u: replies correct", round);
	for (i = 0; i < FS_BURST && ok; i++) {
		if (!fs_reply_ok(f, name, rs[i], 0, 0))
			ok = false;
		else if (rs[i]->opcode == FUSE_READ &&
			 !fs_read_matches(f, rs[i], roff[i], FS_INFLIGHT_LEN, why, sizeof(why)))
			ok = fs_check(f, false, name, "request %u: %s", i, why);
	}
	if (ok)
		fs_check(f, true, name, NULL);
	snprintf(name, sizeof(name), "burst %u: inflight area settled after the completions",
		 round);
	if (!fs_inflight_settled(f, FS_REQQ, why, sizeof(why)))
		ok = fs_check(f, false, name, "%s", why);
	else
		fs_check(f, true, name, NULL);
	/* the heads of one burst are distinct: no chain was reaped while
	 * posting, and FS_BURST chains of 3 fit the ring */
	snprintf(name, sizeof(name), "burst %u: counters increase in submission order", round);
	for (i = 0; i < FS_BURST; i++)
		counter[i] = iq->desc[rs[i]->head].counter;
	for (i = 0; i < FS_BURST; i++) {
		if (i > 0 && counter[i] <= counter[i - 1]) {
			ok = fs_check(f, false, name, "request %u (head %u) has counter %" PRIu64
				      ", request %u (head %u) %" PRIu64, i, rs[i]->head,
				      counter[i], i - 1, rs[i - 1]->head, counter[i - 1]);
			break;
		}
	}
	if (i == FS_BURST && fs_check(f, true, name, NULL)) {
		snprintf(name, sizeof(name), "burst %u: counters above the earlier ones",
			 round);
		ok &= fs_check(f, counter[0] > *last, name, "first %" PRIu64 ", earlier %"
			       PRIu64, counter[0], *last);
	}
	printf("info burst %u: counters %" PRIu64 "..%" PRIu64 "\n", round, counter[0],
	       counter[FS_BURST - 1]);
	*last = counter[FS_BURST - 1];
	for (i = 0; i < FS_BURST; i++)
		if (rs[i]->done)
			fs_slot_put(rs[i]);
	return ok;
}

static void
scenario_inflight(struct fs_front *f)
{
	struct fuse_entry_out e;
	uint64_t fh, last = 0;

	if (!fs_inflight_region_ok(f) || !fs_init(f))
		return;
	if (!fs_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup read file", &e, 0) ||
	    !fs_open(f, FUSE_OPEN, e.nodeid, O_RDONLY, "open read file", &fh))
		return;
	for (unsigned int round = 0; round < 2 && !f->gone; round++)
		if (!fs_inflight_burst(f, round, e.nodeid, fh, &last))
			break;
	/* hiprio is tracked too: a FORGET (of nothing) comes back with length 0 */
	fs_forget_hiprio(f, 0x12345678);
	fs_release(f, FUSE_RELEASE, e.nodeid, fh, "release read file");
	fs_inflight_all_settled(f, "all queues settled: nothing in flight, used_idx == used->idx, "
				"version set");
}

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
static int
fs_resubmit_prepare(struct vufront *vu, void *arg)
{
	struct fs_front *f = arg;
	struct vufront_inflight_queue *q0 = vufront_inflight_vq(vu, FS_HIPRIO);
	struct vufront_inflight_queue *q1 = vufront_inflight_vq(vu, FS_REQQ);
	uint16_t base = FS_RESUBMIT_BASE;
	struct vufront_vq_info info;
	struct fuse_init_in ii;
	struct fuse_getattr_in gi;
	struct fs_req init = { .opcode = FUSE_INIT, .arg = &ii, .arg_len = sizeof(ii),
			       .out_body = sizeof(struct fuse_init_out) };
	struct fs_req lookup = { .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
				 .arg = f->o->read_file,
				 .arg_len = (uint32_t)strlen(f->o->read_file) + 1,
				 .out_body = sizeof(struct fuse_entry_out) };
	struct fs_req getattr = { .opcode = FUSE_GETATTR, .nodeid = FUSE_ROOT_ID, .arg = &gi,
				  .arg_len = sizeof(gi),
				  .out_body = sizeof(struct fuse_attr_out) };

	if (q0 == NULL || q1 == NULL)
		return -ENOENT;
	fs_init_in(&ii);
	memset(&gi, 0, sizeof(gi));
	vufront_vq_reset(vu, FS_REQQ, f->resubmit_used ? base - 1 : base);
	vufront_vq_info(vu, FS_REQQ, &info);
	if (f->resubmit_used) {
		struct fs_slot *x = fs_stage(f, FS_REQQ, &getattr);
		struct fuse_out_header *oh;
		struct fuse_attr_out *ao;

		if (x == NULL)
			return -ENOMEM;
		vufront_vq_publish(vu, FS_REQQ, x->head);
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
	}
	/* staged GETATTR first: the free descriptors go out in ascending order */
	f->rs_getattr = fs_stage(f, FS_REQQ, &getattr);
	f->rs_lookup = fs_stage(f, FS_REQQ, &lookup);
	f->rs_init = fs_stage(f, FS_REQQ, &init);
	if (f->rs_getattr == NULL || f->rs_lookup == NULL || f->rs_init == NULL)
		return -ENOMEM;
	/* the guest submitted them INIT, LOOKUP, GETATTR: avail [base, base + 3) */
	vufront_vq_publish(vu, FS_REQQ, f->rs_init->head);
	vufront_vq_publish(vu, FS_REQQ, f->rs_lookup->head);
	vufront_vq_publish(vu, FS_REQQ, f->rs_getattr->head);

	/* the region: hiprio idle; the request queue with the three in flight */
	memset(q0, 0, vufront_inflight_queue_bytes(FS_RING));
	q0->version = 1;
	q0->desc_num = FS_RING;
	memset(q1, 0, vufront_inflight_queue_bytes(FS_RING));
	q1->version = 1;
	q1->desc_num = FS_RING;
	q1->used_idx = base;
	q1->last_inflight_io = FS_RING - 1;	/* returned long ago */
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
	printf("info left in flight: INIT head %u counter 7, LOOKUP head %u counter 19, "
	       "GETATTR head %u counter 23; used->idx %u\n", f->rs_init->head,
	       f->rs_lookup->head, f->rs_getattr->head, base);
	if (f->resubmit_used)
		printf("info returned but not cleared: GETATTR head %u counter 5 at used %u, "
		       "region used_idx %u\n", f->rs_returned->head, base - 1, base - 1);
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

static void
scenario_resubmit(struct fs_front *f)
{
	struct vufront_inflight_queue *iq = vufront_inflight_vq(f->vu, FS_REQQ);
	const uint16_t base = FS_RESUBMIT_BASE;
	struct vufront_vq_info info;
	struct fuse_entry_out e;
	struct fuse_attr a;
	double deadline;
	uint16_t u;
	char order[256], why[200];
	size_t ol = 0;
	bool ok = true;
	unsigned int seen_init = 0, seen_lookup = 0, seen_getattr = 0;

	if (iq == NULL) {
		fs_check(f, false, "inflight region", "none after the bring-up");
		return;
	}
	fs_check(f, f->rs_init->head > f->rs_lookup->head &&
		 f->rs_lookup->head > f->rs_getattr->head,
		 "the head ids run against the counters", "INIT %u LOOKUP %u GETATTR %u",
		 f->rs_init->head, f->rs_lookup->head, f->rs_getattr->head);
	/* no kick: the back-end finishes them on its own; wait for three used
	 * elements, then a while longer for any it should not have written */
	deadline = fs_now() + f->o->timeout_ms / 1000.0;
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
	if (!fs_check(f, (uint16_t)(u - base) == 3 && seen_init == 1 && seen_lookup == 1 &&
		      seen_getattr == 1,
		      "the three requests left in flight returned once each, nothing else",
		      "%u used elements after used->idx %u: %s", (uint16_t)(u - base), base,
		      u == base ? "none" : order))
		ok = false;
	/* reap: the replies land in the slots (and the returned one's too) */
	while (vufront_vq_pending(f->vu, FS_REQQ) > 0)
		if (fs_reap(f, FS_REQQ, 100) < 0)
			break;
	if (f->rs_returned != NULL) {
		fs_check(f, f->rs_returned->done, "the request returned before the crash is "
			 "seen once", "not reaped");
		if (f->rs_returned->done)
			fs_slot_put(f->rs_returned);
	}
	if (!ok && !f->rs_init->done)
		return;
	/* the replies: INIT first made the other two possible */
	if (fs_reply_ok(f, "resubmitted INIT", f->rs_init, 0, sizeof(struct fuse_init_out)))
		fs_init_done(f, f->rs_init);
	if (fs_reply_ok(f, "resubmitted LOOKUP finds the read file", f->rs_lookup, 0,
			sizeof(struct fuse_entry_out))) {
		e = *(const struct fuse_entry_out *)fs_body(f->rs_lookup);
		fs_check(f, e.nodeid != 0 && e.nodeid != FUSE_ROOT_ID && S_ISREG(e.attr.mode) &&
			 e.attr.size == f->o->read_size, "resubmitted LOOKUP finds the read file",
			 "nodeid %" PRIu64 " mode 0%o size %" PRIu64, e.nodeid, e.attr.mode,
			 (uint64_t)e.attr.size);
	} else {
		e.nodeid = 0;
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
	if (!fs_inflight_settled(f, FS_REQQ, why, sizeof(why)))
		fs_check(f, false, "inflight area settled after the resubmission", "%s", why);
	else
		fs_check(f, true, "inflight area settled after the resubmission", NULL);

	/* the queue goes on from there: a new request (a GETATTR of the node the
	 * resubmitted LOOKUP made), with a counter above the region's */
	if (e.nodeid != 0) {
		struct fuse_getattr_in gi;
		struct fs_req r = { .opcode = FUSE_GETATTR, .nodeid = e.nodeid, .arg = &gi,
				    .arg_len = sizeof(gi),
				    .out_body = sizeof(struct fuse_attr_out) };
		struct fs_slot *s;

		memset(&gi, 0, sizeof(gi));
		s = fs_call(f, FS_REQQ, &r, "a new request after the resubmission", 0,
			    sizeof(struct fuse_attr_out));
		if (s != NULL) {
			a = ((const struct fuse_attr_out *)fs_body(s))->attr;
			fs_check(f, S_ISREG(a.mode) && a.size == f->o->read_size,
				 "a new request after the resubmission", "mode 0%o size %" PRIu64,
				 a.mode, (uint64_t)a.size);
			fs_check(f, iq->desc[s->head].counter > 23,
				 "its counter continues above the region's", "head %u counter %"
				 PRIu64, s->head, iq->desc[s->head].counter);
			fs_slot_put(s);
		}
	}
	fs_root_alive(f, "resubmission");
	fs_inflight_all_settled(f, "all queues settled at the end");
}

/*
 * inflight-bad: GET/SET_INFLIGHT_FD payloads the back-end must refuse, with
 * NEED_REPLY: a non-zero ack, and the connection goes on. A SET with
 * num_queues 0 is refused by rte_vhost itself before the gateway sees it
 * (the ring index num_queues - 1 is out of range): it closes the
 * connection. Then a normal bring-up with a region, on a new connection
 * (a refused SET may have made rte_vhost allocate rings this front-end
 * never sets up: that connection's device could never start).
 */
struct fs_bad_inflight {
	const char *name;
	uint32_t request;
	uint16_t num_queues;
	uint16_t queue_size;
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint64_t fd_size;		/* SET: bytes of the memfd sent, 0: no fd */
	bool may_close;
};

static int
fs_bad_connect(struct fs_front *f, struct vufront *vu)
{
	struct vufront_negotiation neg;
	int ret;

	ret = vufront_connect(vu, f->o->socket, f->o->timeout_ms, VUFRONT_CONNECT_PROBE);
	if (ret == 0) {
		f->connections++;
		memset(&neg, 0, sizeof(neg));
		neg.features_required = VUFRONT_BIT(VUFRONT_F_VERSION_1) |
					VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES);
		neg.protocol_required = VUFRONT_BIT(VUFRONT_PF_MQ) |
					VUFRONT_BIT(VUFRONT_PF_REPLY_ACK) |
					VUFRONT_BIT(VUFRONT_PF_INFLIGHT_SHMFD);
		ret = vufront_negotiate(vu, &neg);
	}
	if (ret < 0)
		fs_check(f, false, "inflight-bad: connect and negotiate INFLIGHT_SHMFD", "%s",
			 vufront_errmsg(vu));
	return ret;
}

static void
fs_inflight_bad(struct fs_front *f)
{
	const uint64_t q = vufront_inflight_queue_bytes(FS_RING);
	const struct fs_bad_inflight cases[] = {
		{ "GET num_queues 0", VUFRONT_GET_INFLIGHT_FD, 0, FS_RING, 0, 0, 0, false },
		{ "GET num_queues 129", VUFRONT_GET_INFLIGHT_FD, 129, FS_RING, 0, 0, 0, false },
		{ "GET queue_size 0", VUFRONT_GET_INFLIGHT_FD, 2, 0, 0, 0, 0, false },
		{ "GET queue_size 100", VUFRONT_GET_INFLIGHT_FD, 2, 100, 0, 0, 0, false },
		{ "GET queue_size 65535", VUFRONT_GET_INFLIGHT_FD, 2, 65535, 0, 0, 0, false },
		{ "SET num_queues 129", VUFRONT_SET_INFLIGHT_FD, 129, FS_RING, 129 * q, 0,
		  129 * q, false },
		{ "SET queue_size 0", VUFRONT_SET_INFLIGHT_FD, 2, 0, 2 * q, 0, 2 * q, false },
		{ "SET queue_size 100", VUFRONT_SET_INFLIGHT_FD, 2, 100, 2 * q, 0, 2 * q, false },
		{ "SET queue_size 65535", VUFRONT_SET_INFLIGHT_FD, 2, 65535, 2 * q, 0, 2 * q,
		  false },
		{ "SET mmap_size one queue short", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING, q, 0,
		  2 * q, false },
		{ "SET fd smaller than mmap_size", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING, 2 * q, 0,
		  q, false },
		{ "SET fd smaller than offset + mmap_size", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING,
		  2 * q, 4096, 2 * q, false },
		{ "SET without an fd", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING, 2 * q, 0, 0, false },
		{ "SET num_queues 0", VUFRONT_SET_INFLIGHT_FD, 0, FS_RING, 2 * q, 0, 2 * q, true },
	};
	struct vufront *vu = vufront_create();
	char name[128];

	if (vu == NULL)
		return;
	vufront_set_timeout(vu, f->o->timeout_ms);
	if (fs_bad_connect(f, vu) < 0)
		goto out;
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fs_bad_inflight *c = &cases[i];
		uint64_t size = 0, off = 0;
		int fd = -1, ret;

		snprintf(name, sizeof(name), "inflight-bad: %s refused (%s)", c->name,
			 c->may_close ? "non-zero ack, or the connection closed" : "non-zero ack");
		if (!vufront_connected(vu) && fs_bad_connect(f, vu) < 0)
			break;
		if (c->request == VUFRONT_GET_INFLIGHT_FD) {
			ret = vufront_get_inflight_fd(vu, c->num_queues, c->queue_size, &fd, &size,
						      &off);
			if (ret == 0)
				close(fd);
		} else {
			struct vufront_inflight inf = { .mmap_size = c->mmap_size,
							.mmap_offset = c->mmap_offset,
							.num_queues = c->num_queues,
							.queue_size = c->queue_size };

			if (c->fd_size != 0) {
				fd = memfd_create("vufront-fs-bad-inflight", MFD_CLOEXEC);
				if (fd < 0 || ftruncate(fd, (off_t)c->fd_size) < 0) {
					fs_check(f, false, name, "memfd: %s", strerror(errno));
					if (fd >= 0)
						close(fd);
					continue;
				}
			}
			ret = vufront_set_inflight_fd(vu, &inf, fd);
			if (fd >= 0)
				close(fd);
		}
		if (ret == -EIO) {
			fs_check(f, true, name, NULL);
		} else if (ret == 0) {
			fs_check(f, false, name, "accepted%s",
				 c->request == VUFRONT_GET_INFLIGHT_FD ? "" : " (ack 0)");
			if (c->request == VUFRONT_GET_INFLIGHT_FD)
				printf("info %s answered a region of %" PRIu64 " bytes at %" PRIu64
				       "\n", c->name, size, off);
		} else if ((ret == -ECONNRESET || ret == -EPIPE) && c->may_close) {
			/* rte_vhost's refusal, before any reply can be sent */
			printf("info %s: the connection was closed (rte_vhost refuses it "
			       "before the gateway sees it)\n", c->name);
			fs_check(f, true, name, NULL);
			vufront_close(vu);
		} else {
			fs_check(f, false, name, "%s", vufront_errmsg(vu));
			vufront_close(vu);
		}
	}
	/* the connection still serves: a good GET, handed back by a good SET */
	if (!vufront_connected(vu) && fs_bad_connect(f, vu) < 0)
		goto out;
	{
		int fd = -1, ret;
		uint64_t size = 0, off = 0;
		struct vufront_inflight inf;

		ret = vufront_get_inflight_fd(vu, FS_NVQ, FS_RING, &fd, &size, &off);
		if (fs_check(f, ret == 0 && size >= FS_NVQ * q,
			     "inflight-bad: a good GET_INFLIGHT_FD afterwards", "%s",
			     ret ? vufront_errmsg(vu) : "region too small")) {
			memset(&inf, 0, sizeof(inf));
			inf.mmap_size = size;
			inf.mmap_offset = off;
			inf.num_queues = FS_NVQ;
			inf.queue_size = FS_RING;
			ret = vufront_set_inflight_fd(vu, &inf, fd);
			fs_check(f, ret == 0, "inflight-bad: a good SET_INFLIGHT_FD afterwards",
				 "%s", ret ? vufront_errmsg(vu) : "");
		}
		if (fd >= 0)
			close(fd);
	}
out:
	vufront_destroy(vu);
}

/* After the refusals: a device with a region works on a new connection. */
static void
scenario_inflight_bad(struct fs_front *f)
{
	if (!fs_inflight_region_ok(f) || !fs_init(f))
		return;
	fs_getattr_burst(f, 16, "16 getattrs after the refusals");
	fs_inflight_all_settled(f, "all queues settled");
}

/* ---- scenario migrate ---- */

/* Read a pipe to EOF (the back-end's saved state). */
static int
fs_read_all(int fd, uint8_t **buf, size_t *len, int timeout_ms)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap);
	double deadline = fs_now() + timeout_ms / 1000.0;

	if (b == NULL)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (fs_now() > deadline) {
			free(b);
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (n == cap) {
			uint8_t *nb = realloc(b, cap * 2);

			if (nb == NULL) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* The destination's prepare hook: after negotiation and the memory table,
 * before the rings: SET_DEVICE_STATE_FD(LOAD), the saved bytes into the
 * pipe, our end closed, CHECK_DEVICE_STATE. */
static int
fs_load_state(struct vufront *vu, void *arg)
{
	struct fs_front *f = arg;
	uint64_t res = 0;
	int p[2], bfd = -1, ret;
	size_t off = 0;

	if (f->state_via_ctl) {
		/* the caller loads the saved file (state-load) now */
		fs_sync("connected");
		f->state_loaded = true;
		return 0;
	}

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	ret = vufront_set_device_state_fd(vu, 1, 0, p[0], &bfd, &res);
	close(p[0]);
	fs_check(f, ret == 0 && bfd < 0, "SET_DEVICE_STATE_FD load accepted",
		 "%d, reply 0x%" PRIx64 ": %s", ret, res, vufront_errmsg(vu));
	if (ret < 0) {
		close(p[1]);
		return ret;
	}
	while (off < f->state_len) {
		ssize_t w = write(p[1], f->state + off, f->state_len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = -errno;
			break;
		}
		off += (size_t)w;
	}
	close(p[1]);
	fs_check(f, off == f->state_len, "state written to the destination",
		 "%zu of %zu bytes", off, f->state_len);
	ret = vufront_check_device_state(vu, &res);
	f->state_loaded = fs_check(f, ret == 0 && res == 0, "CHECK_DEVICE_STATE after load",
				   "%d, result 0x%" PRIx64, ret, res);
	return f->state_loaded ? 0 : -EIO;
}

/* READ [from, to) of the read file through fh in 64 KiB pieces, one at a
 * time, each compared with the file's pattern; one check named what. */
static bool
fs_read_range(struct fs_front *f, uint64_t nodeid, uint64_t fh, uint64_t from, uint64_t to,
	      const char *what)
{
	char why[160];

	for (uint64_t off = from; off < to; off += 65536) {
		uint32_t len = (uint32_t)(to - off < 65536 ? to - off : 65536);
		struct fs_slot *s = fs_post_read(f, nodeid, fh, off, len);
		bool ok;

		if (s == NULL)
			return false;
		fs_wait(f, s, f->o->timeout_ms);
		ok = fs_reply_ok(f, what, s, 0, 0) &&
		     (fs_read_matches(f, s, off, len, why, sizeof(why)) ||
		      fs_check(f, false, what, "offset %" PRIu64 ": %s", off, why));
		if (s->done)
			fs_slot_put(s);
		if (!ok)
			return false;
	}
	return fs_check(f, true, what, NULL);
}

/* The source's side: SET_DEVICE_STATE_FD(SAVE), the pipe read to EOF,
 * CHECK_DEVICE_STATE. */
static bool
fs_save_state(struct fs_front *f)
{
	uint64_t res = 0;
	int p[2], bfd = -1, ret;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	ret = vufront_set_device_state_fd(f->vu, 0, 0, p[1], &bfd, &res);
	close(p[1]);
	if (!fs_check(f, ret == 0 && bfd < 0, "SET_DEVICE_STATE_FD save accepted",
		      "%d, reply 0x%" PRIx64 ": %s", ret, res, vufront_errmsg(f->vu))) {
		close(p[0]);
		return false;
	}
	ret = fs_read_all(p[0], &f->state, &f->state_len, f->o->timeout_ms);
	close(p[0]);
	if (!fs_check(f, ret == 0 && f->state_len > 0, "state read to EOF", "%d, %zu bytes",
		      ret, f->state_len))
		return false;
	printf("info state %zu bytes\n", f->state_len);
	ret = vufront_check_device_state(f->vu, &res);
	return fs_check(f, ret == 0 && res == 0, "CHECK_DEVICE_STATE after save",
			"%d, result 0x%" PRIx64, ret, res);
}

/* A FUSE session moves between two gateways: on the source INIT, LOOKUP,
 * OPEN and reads of the first half; the rings stop; SET_DEVICE_STATE_FD
 * (SAVE) and the state read to EOF; CHECK. Then the same guest memory is
 * brought up on the destination with the state loaded before the rings
 * start, and the session goes on there without INIT: reads of the second
 * half through the source's file handle, GETATTR and FORGET of the
 * source's node id, RELEASE of its handle, a new LOOKUP. */
static void
scenario_migrate(struct fs_front *f)
{
	struct vufront_dev_conf dc;
	struct fuse_entry_out e, e2;
	struct fuse_attr a;
	uint64_t fh, size = f->o->read_size;
	uint32_t half = (uint32_t)(size / 2) & ~4095u;
	int ret;

	if (!fs_init(f))
		return;
	if (!fs_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup read file", &e, 0) ||
	    !fs_open(f, FUSE_OPEN, e.nodeid, O_RDONLY, "open read file", &fh))
		return;
	if (!fs_read_range(f, e.nodeid, fh, 0, half, "read first half on the source"))
		return;

	/* the source stops (rings stopped: nothing in flight) and saves */
	ret = vufront_dev_stop(f->vu);
	if (!fs_check(f, ret == 0, "source rings stopped", "%s", vufront_errmsg(f->vu)))
		return;
	if (f->state_via_ctl)
		fs_sync("stopped");	/* the caller saves it (state-save) */
	else if (!fs_save_state(f))
		return;
	fs_sync("saved");

	/* the destination: same guest memory and rings, a new back-end */
	vufront_disconnect(f->vu);
	ret = vufront_connect(f->vu, f->o->socket2, f->o->timeout_ms, VUFRONT_CONNECT_PROBE);
	if (!fs_check(f, ret == 0, "connect to the destination", "%s", vufront_errmsg(f->vu)))
		return;
	f->connections++;
	vufront_dev_conf_init(&dc);
	dc.neg.features_required = VUFRONT_BIT(VUFRONT_F_VERSION_1) |
				   VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES);
	dc.neg.protocol_required = VUFRONT_BIT(VUFRONT_PF_MQ) |
				   VUFRONT_BIT(VUFRONT_PF_LOG_SHMFD) |
				   VUFRONT_BIT(VUFRONT_PF_REPLY_ACK);
	if (!f->state_via_ctl)
		dc.neg.protocol_required |= VUFRONT_BIT(VUFRONT_PF_DEVICE_STATE);
	dc.num_rings = FS_NVQ;
	dc.ring_size = FS_RING;
	dc.mem_size = FS_MEM;
	dc.enable = true;
	dc.prepare = fs_load_state;
	dc.prepare_arg = f;
	ret = vufront_dev_start(f->vu, &dc);
	if (!fs_check(f, ret == 0 && f->state_loaded, "destination started on the loaded state",
		      "%d: %s", ret, vufront_errmsg(f->vu)))
		return;
	fs_sync("loaded");

	/* no INIT: the session goes on */
	fs_read_range(f, e.nodeid, fh, half, size, "read second half on the destination (source's fh)");
	if (fs_getattr(f, e.nodeid, "getattr of the source's node id", &a))
		fs_check(f, a.size == size && a.ino == e.attr.ino,
			 "getattr of the source's node id", "size %" PRIu64 " ino %" PRIu64,
			 (uint64_t)a.size, (uint64_t)a.ino);
	if (fs_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup again on the destination", &e2, 0))
		fs_check(f, e2.nodeid == e.nodeid, "lookup again gives the same node id",
			 "%" PRIu64 " vs %" PRIu64, e2.nodeid, e.nodeid);
	if (fs_release(f, FUSE_RELEASE, e.nodeid, fh, "release the source's fh"))
		fs_check(f, true, "release the source's fh", NULL);
	fs_root_alive(f, "migration");
}

/* ---- main ---- */

static void
fs_usage(FILE *out)
{
	fprintf(out,
		"usage: vufront-fs --socket PATH --scenario SCENARIO\n"
		"                  [--read-file NAME --read-size N --read-seed S]\n"
		"                  [--write-file NAME --write-size N --write-seed S]\n"
		"                  [--expect NAME]... [--timeout-ms T] [--verbose]\n"
		"SCENARIO: basic, malformed, suspend, remap, inflight, resubmit,\n"
		"resubmit-used, resubmit-late, inflight-bad, migrate, migrate-ctl (with\n"
		"--socket2 PATH: the destination gateway's socket) (see the source).\n"
		"Byte i of a file of seed S is the vufront-fs pattern (see the source).\n"
		"Prints one line per check, \"SYNC <tag>\" where it waits for a line on\n"
		"stdin, and \"RESULT ok\" (exit 0) or \"RESULT fail N\" (exit 1).\n");
}

static int
fs_parse(int argc, char **argv, struct fs_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "socket2", required_argument, NULL, '2' },
		{ "scenario", required_argument, NULL, 'S' },
		{ "read-file", required_argument, NULL, 'r' },
		{ "read-size", required_argument, NULL, 'R' },
		{ "read-seed", required_argument, NULL, 'x' },
		{ "write-file", required_argument, NULL, 'w' },
		{ "write-size", required_argument, NULL, 'W' },
		{ "write-seed", required_argument, NULL, 'y' },
		{ "expect", required_argument, NULL, 'e' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->read_file = "read.bin";
	o->read_size = 200000;
	o->read_seed = 1;
	o->write_file = "written.bin";
	o->write_size = 150000;
	o->write_seed = 2;
	o->timeout_ms = FS_TIMEOUT_MS;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case '2':
			o->socket2 = optarg;
			break;
		case 'S':
			o->scenario = optarg;
			break;
		case 'r':
			o->read_file = optarg;
			break;
		case 'R':
			o->read_size = strtoull(optarg, NULL, 0);
			break;
		case 'x':
			o->read_seed = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			o->write_file = optarg;
			break;
		case 'W':
			o->write_size = strtoull(optarg, NULL, 0);
			break;
		case 'y':
			o->write_seed = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'e':
			if (o->n_expect == 16)
				return -EINVAL;
			o->expect[o->n_expect++] = optarg;
			break;
		case 't':
			o->timeout_ms = atoi(optarg);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			fs_usage(stdout);
			exit(0);
		default:
			fs_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || o->socket == NULL || o->scenario == NULL ||
	    o->read_size < 2 * FS_INFLIGHT_LEN || o->write_size > FS_DATA ||
	    o->timeout_ms <= 0) {
		fs_usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct fs_front f;
	struct fs_opts o;

	static const char *const scenarios[] = {
		"basic", "malformed", "suspend", "remap", "inflight", "resubmit",
		"resubmit-used", "resubmit-late", "inflight-bad", "migrate", "migrate-ctl",
	};
	bool known = false;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fs_parse(argc, argv, &o) < 0)
		return 2;
	for (unsigned int i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		known |= strcmp(o.scenario, scenarios[i]) == 0;
	if (!known) {
		fprintf(stderr, "vufront-fs: unknown scenario %s\n", o.scenario);
		return 2;
	}
	f.o = &o;
	f.extra_fd = -1;
	if (strncmp(o.scenario, "inflight", 8) == 0 || strncmp(o.scenario, "resubmit", 8) == 0)
		f.inflight = true;
	if (strncmp(o.scenario, "resubmit", 8) == 0) {
		f.prepare = fs_resubmit_prepare;
		f.resubmit_used = strcmp(o.scenario, "resubmit-used") == 0;
		f.inflight_late = strcmp(o.scenario, "resubmit-late") == 0;
	}
	if (strcmp(o.scenario, "inflight") == 0 || strcmp(o.scenario, "inflight-bad") == 0)
		f.prepare = fs_inflight_fresh;
	if (strcmp(o.scenario, "inflight-bad") == 0)
		fs_inflight_bad(&f);
	if (strncmp(o.scenario, "migrate", 7) == 0) {
		if (o.socket2 == NULL) {
			fprintf(stderr, "vufront-fs: %s needs --socket2\n", o.scenario);
			return 2;
		}
		f.state_via_ctl = strcmp(o.scenario, "migrate-ctl") == 0;
		f.device_state = !f.state_via_ctl;
	}
	if (fs_connect(&f) < 0) {
		printf("RESULT fail bring-up\n");
		return 1;
	}
	if (strcmp(o.scenario, "basic") == 0) {
		scenario_basic(&f);
	} else if (strcmp(o.scenario, "malformed") == 0) {
		scenario_malformed(&f);
	} else if (strcmp(o.scenario, "suspend") == 0) {
		scenario_suspend(&f);
	} else if (strcmp(o.scenario, "remap") == 0) {
		scenario_remap(&f);
	} else if (strcmp(o.scenario, "inflight") == 0) {
		scenario_inflight(&f);
	} else if (strcmp(o.scenario, "inflight-bad") == 0) {
		scenario_inflight_bad(&f);
	} else if (strncmp(o.scenario, "migrate", 7) == 0) {
		scenario_migrate(&f);
	} else {
		scenario_resubmit(&f);
	}
	/* the caller reads the gateway's counters while we are connected */
	printf("info connections %u\n", f.connections);
	fs_sync("done");
	if (!vufront_connected(f.vu))
		fs_check(&f, false, "still connected at the end", "%s", vufront_errmsg(f.vu));
	vufront_destroy(f.vu);
	if (f.extra != NULL && f.extra != MAP_FAILED)
		munmap(f.extra, FS_EXTRA_REGION);
	if (f.extra_fd >= 0)
		close(f.extra_fd);
	if (f.failed == 0 && f.checks > 0) {
		printf("info %u checks passed\n", f.checks);
		printf("RESULT ok\n");
		return 0;
	}
	printf("RESULT fail %u of %u checks\n", f.failed, f.checks);
	return 1;
}
