/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs inflight I/O tracking (INFLIGHT_SHMFD): scenario inflight (the
 * back-end's region sampled under bursts of requests) and inflight-bad
 * (refused GET/SET_INFLIGHT_FD payloads); the checks of a settled region
 * are shared with the resubmit scenarios.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vufront_fs.h"

#define FS_BURST FS_INFLIGHT
#define FS_SETTLE_MS 2000

static unsigned int
fs_region_bytes(void)
{
	return FS_NVQ * (unsigned int)vufront_inflight_queue_bytes(FS_RING);
}

/* Is queue q's area settled: no entry in flight, used_idx caught up with
 * used->idx? The device clears an entry and catches used_idx up just after
 * publishing the used element we may already have reaped: poll a while. */
bool
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
	snprintf(why, len,
		 "queue %u after %d ms: %u entries in flight (first: head %u), "
		 "region used_idx %u, used->idx %u",
		 q, FS_SETTLE_MS, n, first, ui, u);
	return false;
}

/* Every queue settled, and marked as used by a back-end (version). */
bool
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
int
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

	ok = fs_check(f,
		      vufront_inflight_num_queues(f->vu) == FS_NVQ &&
			      vufront_inflight_mmap_size(f->vu) >= fs_region_bytes(),
		      "GET_INFLIGHT_FD region size",
		      "%u queues, %" PRIu64 " bytes at %" PRIu64 " (%u needed)",
		      vufront_inflight_num_queues(f->vu), vufront_inflight_mmap_size(f->vu),
		      vufront_inflight_mmap_offset(f->vu), fs_region_bytes());
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

/* Wait for the burst rs[] to complete, sampling how many entries the
 * request queue's area marks in flight; returns how many completed. */
static unsigned int
fs_burst_wait(struct fs_front *f, unsigned int round, struct fs_slot **rs, unsigned int *max_seen)
{
	unsigned int done = 0, samples = 0, nonzero = 0;
	double deadline = fs_now() + f->o->timeout_ms / 1000.0;

	while (fs_now() < deadline) {
		unsigned int n = vufront_inflight_count(f->vu, FS_REQQ);

		samples++;
		nonzero += n != 0;
		if (n > *max_seen)
			*max_seen = n;
		done = 0;
		for (unsigned int i = 0; i < FS_BURST; i++)
			done += rs[i]->done;
		if (done == FS_BURST)
			break;
		if (fs_reap(f, FS_REQQ, 1) < 0 && fs_backend_gone(f))
			break;
	}
	printf("info burst %u: up to %u of %u requests marked in flight at once "
	       "(%u of %u samples saw some)\n",
	       round, *max_seen, FS_BURST, nonzero, samples);
	return done;
}

/* The replies of a completed burst (unless !ok: a check failed before),
 * then the request queue's area settled. */
static bool
fs_burst_replies(struct fs_front *f, unsigned int round, struct fs_slot **rs, const uint64_t *roff,
		 bool ok)
{
	char name[96], why[200];

	snprintf(name, sizeof(name), "burst %u: replies correct", round);
	for (unsigned int i = 0; i < FS_BURST && ok; i++) {
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
	return ok;
}

/* The counters of the heads of a burst: distinct (no chain was reaped while
 * posting, and FS_BURST chains of 3 fit the ring), increasing in submission
 * order and above *last, the previous burst's last. */
static bool
fs_burst_counters(struct fs_front *f, unsigned int round, struct fs_slot **rs, uint64_t *last)
{
	struct vufront_inflight_queue *iq = vufront_inflight_vq(f->vu, FS_REQQ);
	uint64_t counter[FS_BURST];
	bool ok = true;
	char name[96];
	unsigned int i;

	snprintf(name, sizeof(name), "burst %u: counters increase in submission order", round);
	for (i = 0; i < FS_BURST; i++)
		counter[i] = iq->desc[rs[i]->head].counter;
	for (i = 0; i < FS_BURST; i++) {
		if (i > 0 && counter[i] <= counter[i - 1]) {
			ok = fs_check(f, false, name,
				      "request %u (head %u) has counter %" PRIu64
				      ", request %u (head %u) %" PRIu64,
				      i, rs[i]->head, counter[i], i - 1, rs[i - 1]->head,
				      counter[i - 1]);
			break;
		}
	}
	if (i == FS_BURST && fs_check(f, true, name, NULL)) {
		snprintf(name, sizeof(name), "burst %u: counters above the earlier ones", round);
		ok &= fs_check(f, counter[0] > *last, name, "first %" PRIu64 ", earlier %" PRIu64,
			       counter[0], *last);
	}
	printf("info burst %u: counters %" PRIu64 "..%" PRIu64 "\n", round, counter[0],
	       counter[FS_BURST - 1]);
	*last = counter[FS_BURST - 1];
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
	struct fs_slot *rs[FS_BURST];
	uint64_t roff[FS_BURST];
	unsigned int done, max_seen = 0;
	char name[96];
	bool ok;

	snprintf(name, sizeof(name), "burst %u: %u requests posted", round, FS_BURST);
	if (!fs_post_many(f, nodeid, fh, round * 4099, rs, roff, name))
		return false;
	done = fs_burst_wait(f, round, rs, &max_seen);
	snprintf(name, sizeof(name), "burst %u: %u requests in flight completed", round, FS_BURST);
	if (!fs_check(f, done == FS_BURST, name, "%u of %u", done, FS_BURST))
		return false;
	snprintf(name, sizeof(name), "burst %u: never more entries in flight than requests", round);
	ok = fs_check(f, max_seen <= FS_BURST, name, "%u", max_seen);
	ok = fs_burst_replies(f, round, rs, roff, ok);
	if (!fs_burst_counters(f, round, rs, last))
		ok = false;
	for (unsigned int i = 0; i < FS_BURST; i++)
		if (rs[i]->done)
			fs_slot_put(rs[i]);
	return ok;
}

void
scenario_inflight(struct fs_front *f)
{
	struct fuse_entry_out e;
	uint64_t fh, last = 0;

	if (!fs_inflight_region_ok(f) || !fs_init(f) || !fs_open_read_file(f, &e, &fh))
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
	uint64_t fd_size; /* SET: bytes of the memfd sent, 0: no fd */
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
		neg.features_required =
			VUFRONT_BIT(VUFRONT_F_VERSION_1) | VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES);
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

/* A SET_INFLIGHT_FD of case c, with a memfd of c->fd_size bytes (none if
 * 0); false if the memfd could not be made (one failed check). */
static bool
fs_bad_set(struct fs_front *f, struct vufront *vu, const struct fs_bad_inflight *c,
	   const char *name, int *ret)
{
	struct vufront_inflight inf = { .mmap_size = c->mmap_size,
					.mmap_offset = c->mmap_offset,
					.num_queues = c->num_queues,
					.queue_size = c->queue_size };
	int fd = -1;

	if (c->fd_size != 0) {
		fd = memfd_create("vufront-fs-bad-inflight", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)c->fd_size) < 0) {
			fs_check(f, false, name, "memfd: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return false;
		}
	}
	*ret = vufront_set_inflight_fd(vu, &inf, fd);
	if (fd >= 0)
		close(fd);
	return true;
}

/* What the back-end answered case c (ret; a GET's region at off, size). */
static void
fs_bad_verdict(struct fs_front *f, struct vufront *vu, const struct fs_bad_inflight *c,
	       const char *name, int ret, uint64_t size, uint64_t off)
{
	if (ret == -EIO) {
		fs_check(f, true, name, NULL);
	} else if (ret == 0) {
		fs_check(f, false, name, "accepted%s",
			 c->request == VUFRONT_GET_INFLIGHT_FD ? "" : " (ack 0)");
		if (c->request == VUFRONT_GET_INFLIGHT_FD)
			printf("info %s answered a region of %" PRIu64 " bytes at %" PRIu64 "\n",
			       c->name, size, off);
	} else if ((ret == -ECONNRESET || ret == -EPIPE) && c->may_close) {
		/* rte_vhost's refusal, before any reply can be sent */
		printf("info %s: the connection was closed (rte_vhost refuses it "
		       "before the gateway sees it)\n",
		       c->name);
		fs_check(f, true, name, NULL);
		vufront_close(vu);
	} else {
		fs_check(f, false, name, "%s", vufront_errmsg(vu));
		vufront_close(vu);
	}
}

/* One refused payload, on the connection (made again if it was closed);
 * false if no connection could be made. */
static bool
fs_bad_case(struct fs_front *f, struct vufront *vu, const struct fs_bad_inflight *c)
{
	uint64_t size = 0, off = 0;
	char name[128];
	int fd = -1, ret;

	snprintf(name, sizeof(name), "inflight-bad: %s refused (%s)", c->name,
		 c->may_close ? "non-zero ack, or the connection closed" : "non-zero ack");
	if (!vufront_connected(vu) && fs_bad_connect(f, vu) < 0)
		return false;
	if (c->request == VUFRONT_GET_INFLIGHT_FD) {
		ret = vufront_get_inflight_fd(vu, c->num_queues, c->queue_size, &fd, &size, &off);
		if (ret == 0)
			close(fd);
	} else if (!fs_bad_set(f, vu, c, name, &ret)) {
		return true;
	}
	fs_bad_verdict(f, vu, c, name, ret, size, off);
	return true;
}

/* The connection still serves: a good GET, handed back by a good SET. */
static void
fs_bad_good(struct fs_front *f, struct vufront *vu)
{
	int fd = -1, ret;
	uint64_t size = 0, off = 0;
	struct vufront_inflight inf;

	ret = vufront_get_inflight_fd(vu, FS_NVQ, FS_RING, &fd, &size, &off);
	if (fs_check(f, ret == 0 && size >= FS_NVQ * vufront_inflight_queue_bytes(FS_RING),
		     "inflight-bad: a good GET_INFLIGHT_FD afterwards", "%s",
		     ret ? vufront_errmsg(vu) : "region too small")) {
		memset(&inf, 0, sizeof(inf));
		inf.mmap_size = size;
		inf.mmap_offset = off;
		inf.num_queues = FS_NVQ;
		inf.queue_size = FS_RING;
		ret = vufront_set_inflight_fd(vu, &inf, fd);
		fs_check(f, ret == 0, "inflight-bad: a good SET_INFLIGHT_FD afterwards", "%s",
			 ret ? vufront_errmsg(vu) : "");
	}
	if (fd >= 0)
		close(fd);
}

void
fs_inflight_bad(struct fs_front *f)
{
	const uint64_t q = vufront_inflight_queue_bytes(FS_RING);
	const struct fs_bad_inflight cases[] = {
		{ "GET num_queues 0", VUFRONT_GET_INFLIGHT_FD, 0, FS_RING, 0, 0, 0, false },
		{ "GET num_queues 129", VUFRONT_GET_INFLIGHT_FD, 129, FS_RING, 0, 0, 0, false },
		{ "GET queue_size 0", VUFRONT_GET_INFLIGHT_FD, 2, 0, 0, 0, 0, false },
		{ "GET queue_size 100", VUFRONT_GET_INFLIGHT_FD, 2, 100, 0, 0, 0, false },
		{ "GET queue_size 65535", VUFRONT_GET_INFLIGHT_FD, 2, 65535, 0, 0, 0, false },
		{ "SET num_queues 129", VUFRONT_SET_INFLIGHT_FD, 129, FS_RING, 129 * q, 0, 129 * q,
		  false },
		{ "SET queue_size 0", VUFRONT_SET_INFLIGHT_FD, 2, 0, 2 * q, 0, 2 * q, false },
		{ "SET queue_size 100", VUFRONT_SET_INFLIGHT_FD, 2, 100, 2 * q, 0, 2 * q, false },
		{ "SET queue_size 65535", VUFRONT_SET_INFLIGHT_FD, 2, 65535, 2 * q, 0, 2 * q,
		  false },
		{ "SET mmap_size one queue short", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING, q, 0, 2 * q,
		  false },
		{ "SET fd smaller than mmap_size", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING, 2 * q, 0, q,
		  false },
		{ "SET fd smaller than offset + mmap_size", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING,
		  2 * q, 4096, 2 * q, false },
		{ "SET without an fd", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING, 2 * q, 0, 0, false },
		/* a memfd that cannot be sealed against shrinking: the front-end
		 * could truncate it under the back-end's mapping */
		{ "SET a region that can shrink", VUFRONT_SET_INFLIGHT_FD, 2, FS_RING, 2 * q, 0,
		  2 * q, false },
		{ "SET num_queues 0", VUFRONT_SET_INFLIGHT_FD, 0, FS_RING, 2 * q, 0, 2 * q, true },
	};
	struct vufront *vu = vufront_create();

	if (vu == NULL)
		return;
	vufront_set_timeout(vu, f->o->timeout_ms);
	if (fs_bad_connect(f, vu) < 0)
		goto out;
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!fs_bad_case(f, vu, &cases[i]))
			break;
	if (!vufront_connected(vu) && fs_bad_connect(f, vu) < 0)
		goto out;
	fs_bad_good(f, vu);
out:
	vufront_destroy(vu);
}

/* After the refusals: a device with a region works on a new connection. */
void
scenario_inflight_bad(struct fs_front *f)
{
	if (!fs_inflight_region_ok(f) || !fs_init(f))
		return;
	fs_getattr_burst(f, 16, "16 getattrs after the refusals");
	fs_inflight_all_settled(f, "all queues settled");
}

/* inflight-lie: a header no back-end may trust, on every queue. */
static void
fs_inflight_lie(struct vufront *vu)
{
	for (unsigned int q = 0; q < FS_NVQ; q++) {
		struct vufront_inflight_queue *iq = vufront_inflight_vq(vu, q);

		iq->version = 1;
		iq->desc_num = 0xffff;
		iq->last_inflight_io = 0xffff;
		iq->used_idx = 0x5a5a;
	}
}

/* Before SET_INFLIGHT_FD: the lies, on the region GET_INFLIGHT_FD gave. */
int
fs_inflight_lie_prepare(struct vufront *vu, void *arg)
{
	(void)arg;
	fs_inflight_lie(vu);
	return 0;
}

/* After it: again (a back-end may have written desc_num at SET_INFLIGHT_FD),
 * before the kicks. */
int
fs_inflight_lie_sent(struct vufront *vu, void *arg)
{
	(void)arg;
	fs_inflight_lie(vu);
	return 0;
}

void
scenario_inflight_lie(struct fs_front *f)
{
	if (!fs_init(f))
		return;
	fs_getattr_burst(f, 16, "16 getattrs on a region whose header lied");
	fs_forget_hiprio(f, 0x12345678);
	if (!fs_inflight_all_settled(f, "all queues settled after the lies"))
		return;
	for (unsigned int q = 0; q < FS_NVQ; q++) {
		struct vufront_inflight_queue *iq = vufront_inflight_vq(f->vu, q);
		char name[80];

		snprintf(name, sizeof(name), "queue %u: area set up afresh (desc_num, version)", q);
		fs_check(f, iq->desc_num == FS_RING && iq->version == 1, name,
			 "desc_num %u version %u", iq->desc_num, iq->version);
	}
}
