/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio-fs devices on vhost-user: the rings, walked by our own split-ring
 * code, feed the FUSE engine; a worker lcore polls both. One task per
 * device, so that one lcore owns the device's engine.
 *
 * Life cycle. The engine lives as long as the front-end's connection, so a
 * VM stopped and continued keeps its inodes and open files. new_device
 * attaches the rings and publishes the device to the workers;
 * destroy_device and an operator suspend take it away, wait for a grace
 * period, then complete every request still in flight (the workers no
 * longer touch the engine, so the caller may) and give the ring indices back
 * to rte_vhost: after that, no guest memory is written. SET_MEM_TABLE and
 * SET_LOG_BASE on a ready device do the same around rte_vhost's remapping.
 * The device base (vgw_device.h) drives these steps and holds dev->lock
 * while it calls the operations below. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include <jansson.h>
#include <linux/virtio_ring.h>

#include "vgw_common.h"
#include "vgw_log.h"
#include "vgw_dp.h"
#include "vgw_vhost.h"
#include "vgw_device.h"
#include "vgw_vring.h"
#include "vgw_fs.h"
#include "vgw_fsdev.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_fs, fs, INFO);

#define FS_SLOTS 128 /* requests in flight per device */
#define FS_REAP_BURST 32
#define FS_DRAIN_WARN_MS 10000 /* a drain that waits says so this often */
#define FS_MAX_VRINGS (1 + VGW_MAX_QUEUES)

struct fs_slot {
	struct vgw_fs_req req;
	struct vgw_vring_chain chain;
	uint16_t vq;
	uint16_t next_free;
};

struct fs_dev {
	struct vgw_device dev; /* name, index (stats slots), conf, vid */
	/* control plane (under dev.lock) */
	uint64_t resubmitted; /* of rings since detached */
	/* what the workers may use: set before the device is published,
	 * not changed while it is */
	struct vgw_fs *fs;
	struct rte_vhost_memory *mem;
	uint16_t nvq;
	struct vgw_vring vq[FS_MAX_VRINGS];
	struct fs_slot *slots;
	uint16_t free_head;
	uint16_t n_free;
	uint64_t malformed;
	/* rings whose notification must be retried (rte_vhost held the
	 * ring's lock): whoever owns the rings, the worker or, while the
	 * device is not published, the control plane */
	uint32_t call_pending;
	/* under the keeper: an inflight region of our own (QEMU's
	 * vhost-user-fs never gives one), a slot per ring, kept by the keeper
	 * across a crash; -1/NULL without one */
	int infl_fd;
	uint8_t *infl;
	size_t infl_size;
	size_t outcomes_off; /* struct fs_outcome per ring and head */
	uint64_t replayed;   /* requests answered from their outcome */
	uint64_t redone;     /* taken again when only started: maybe done */
	/* VHOSTGW_TEST_FAULT=fs-crash-every=N (tests only): die after every
	 * Nth outcome recorded, before its used entry; fault_unrecorded: before
	 * the record (fs-crash-unrecorded-every=N) */
	uint32_t fault_every, fault_count;
	bool fault_unrecorded;
};

static struct fs_dev *devs;
/* every CPU no worker lcore polls on: io_uring's workers run there */
static cpu_set_t iowq_cpus;
static cpu_set_t process_cpus; /* the affinity the process was started with */
static bool have_process_cpus;
static unsigned int n_devs;
/* the host fds each fs device's tables may hold (vgw_fs_conf.max_fds),
 * its share of the process's RLIMIT_NOFILE (fd_share_init); 0: no limit */
static uint32_t fd_share;

/* --- outcomes ---------------------------------------------------------
 * Under the keeper, the reply to a request that must not be done twice is
 * recorded in the region the keeper holds before its used entry is
 * pushed. A request the next gateway takes again from the inflight region
 * whose record matches (same FUSE unique and opcode) gets the recorded
 * reply instead of being done again: a MKDIR done before the crash is not
 * answered EEXIST, an append not written twice. Before such a request goes
 * to the engine its record says "started" (unique, opcode, the time): one
 * taken again in that state may have been done between the host operation
 * and the record, and the engine is told so (vgw_fs_req.redo_since_ns),
 * which answers as the first try would have (doc/keeper.rst). */

#define FS_OUTCOME_REPLY 224
#define FS_OUTCOME_STARTED 0xffffffffu /* len: started, no reply recorded */
#define FS_OUTCOMES_PER_RING 32768u    /* one per head of the largest ring */

struct fs_outcome {
	uint64_t unique;
	uint32_t opcode;
	uint32_t len;	     /* of the reply; 0: none recorded;
			      * FS_OUTCOME_STARTED: started, not recorded */
	uint64_t started_ns; /* CLOCK_REALTIME_COARSE at the first start */
	uint64_t note;	     /* the engine's redo note */
	uint8_t reply[FS_OUTCOME_REPLY];
};

/* LOOKUP, FORGET, SETATTR, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME,
 * LINK, OPEN, WRITE, SETXATTR, REMOVEXATTR, OPENDIR, CREATE, BATCH_FORGET,
 * FALLOCATE, RENAME2: what changes the host or the session's tables when
 * done again. FORGET and BATCH_FORGET have no reply: their record stays
 * "started" and the engine's redo note says whether they were done. */
#define FS_OUTCOME_OPS \
	((1ull << 1) | (1ull << 2) | (1ull << 4) | (1ull << 6) | (1ull << 8) | (1ull << 9) | \
	 (1ull << 10) | (1ull << 11) | (1ull << 12) | (1ull << 13) | (1ull << 14) | (1ull << 16) | \
	 (1ull << 21) | (1ull << 24) | (1ull << 27) | (1ull << 35) | (1ull << 42) | (1ull << 43) | \
	 (1ull << 45))

/* Copy len bytes at off of a chain's buffers into buf, or buf into them
 * (to_iov); false if they do not hold that many. */
static bool
iov_copy(const struct iovec *iov, unsigned int cnt, size_t off, void *buf, size_t len, bool to_iov)
{
	uint8_t *b = buf;

	for (unsigned int i = 0; i < cnt && len > 0; i++) {
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = RTE_MIN(len, iov[i].iov_len - off);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, b, n);
		else
			memcpy(b, (const uint8_t *)iov[i].iov_base + off, n);
		b += n;
		len -= n;
		off = 0;
	}
	return len == 0;
}

/* fuse_in_header: len, opcode, unique */
static bool
req_id(const struct fs_slot *s, uint32_t *opcode, uint64_t *unique)
{
	uint8_t h[16];

	if (!iov_copy(s->chain.iov, s->chain.in_cnt, 0, h, sizeof(h), false))
		return false;
	memcpy(opcode, h + 4, sizeof(*opcode));
	memcpy(unique, h + 8, sizeof(*unique));
	return true;
}

static struct fs_outcome *
outcome_of(struct fs_dev *d, uint16_t q, uint16_t head)
{
	return (struct fs_outcome *)(d->infl + d->outcomes_off) + (size_t)q * FS_OUTCOMES_PER_RING +
	       head;
}

static bool
outcome_op(uint32_t opcode)
{
	return opcode < 64 && ((FS_OUTCOME_OPS >> opcode) & 1);
}

static uint64_t
coarse_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts); /* vDSO: no system call */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Before the engine gets a request whose outcome is recorded: "started". */
static void
outcome_start(struct fs_dev *d, struct fs_slot *s)
{
	struct fs_outcome *o;
	uint64_t unique, now;
	uint32_t op;

	if (!req_id(s, &op, &unique) || !outcome_op(op))
		return;
	o = outcome_of(d, s->vq, s->chain.head);
	o->len = 0;
	rte_smp_wmb();
	o->unique = unique;
	o->opcode = op;
	now = coarse_now_ns();
	o->started_ns = now;
	o->note = 0;
	rte_smp_wmb();
	o->len = FS_OUTCOME_STARTED;
	rte_smp_wmb();
	s->req.redo_note = &o->note;
}

static void
outcome_record(struct fs_dev *d, const struct fs_slot *s, const struct vgw_fs_req *r)
{
	struct fs_outcome *o;
	uint64_t unique;
	uint32_t op;

	if (!outcome_op(r->opcode) || r->out_len > FS_OUTCOME_REPLY || !req_id(s, &op, &unique))
		return;
	if (unlikely(d->fault_unrecorded) && ++d->fault_count % d->fault_every == 0)
		kill(getpid(), SIGKILL); /* VHOSTGW_TEST_FAULT: done, not recorded */
	if (r->out_len == 0)
		goto pushed; /* no reply: "started", the note says done */
	o = outcome_of(d, s->vq, s->chain.head);
	/* started (outcome_start) with this unique: it stays so until the one
	 * store of len below, whatever happens to the reply's bytes before */
	if (o->len != FS_OUTCOME_STARTED || o->unique != unique || o->opcode != op) {
		o->len = 0;
		rte_smp_wmb();
		o->unique = unique;
		o->opcode = op;
	}
	if (!iov_copy(s->chain.iov + s->chain.in_cnt, s->chain.out_cnt, 0, o->reply, r->out_len,
		      false))
		return;
	rte_smp_wmb();
	o->len = r->out_len;
	rte_smp_wmb();
pushed:
	if (unlikely(d->fault_every != 0) && !d->fault_unrecorded &&
	    ++d->fault_count % d->fault_every == 0)
		kill(getpid(), SIGKILL); /* VHOSTGW_TEST_FAULT: between record and used */
}

/* A request taken again after a crash whose reply was recorded: answer it
 * with that. true if it was. One that was only started goes to the engine
 * marked as possibly done. */
static bool
outcome_replay(struct fs_dev *d, struct fs_slot *s)
{
	struct fs_outcome *o = outcome_of(d, s->vq, s->chain.head);
	uint64_t unique;
	uint32_t op;

	if (o->len == 0 || !req_id(s, &op, &unique) || o->unique != unique || o->opcode != op)
		return false;
	if (o->len == FS_OUTCOME_STARTED) {
		s->req.redo_since_ns = o->started_ns;
		s->req.redo_note = &o->note;
		s->req.redo_since_ns += s->req.redo_since_ns == 0; /* 0: a first try */
		d->redone++;
		VGW_LOG(fs, INFO,
			"%s: ring %u: request %" PRIu64 " (opcode %u) taken again, started "
			"and not recorded: redone as possibly done",
			d->dev.name, s->vq, unique, op);
		return false;
	}
	if (o->len > FS_OUTCOME_REPLY || !iov_copy(s->chain.iov + s->chain.in_cnt, s->chain.out_cnt,
						   0, (void *)o->reply, o->len, true))
		return false;
	vgw_vring_push(&d->vq[s->vq], &s->chain, o->len);
	d->replayed++;
	return true;
}

/* VHOSTGW_TEST_FAULT=fs-crash-every=N: tests only (doc/e2e.rst). */
static void
test_fault_init(struct fs_dev *d)
{
	const char *v = getenv("VHOSTGW_TEST_FAULT"), *num;
	bool unrecorded = false;
	unsigned long n;
	char *end;

	if (v == NULL)
		return;
	if (strncmp(v, "fs-slow-read-ms=", 16) == 0) { /* the engine's (fs_io.c) */
		VGW_LOG(fs, WARNING,
			"VHOSTGW_TEST_FAULT=%s: the fs devices' READs run late on a helper "
			"(for tests only)",
			v);
		return;
	}
	if (strncmp(v, "fs-crash-every=", 15) == 0) {
		num = v + 15;
	} else if (strncmp(v, "fs-crash-unrecorded-every=", 26) == 0) {
		num = v + 26;
		unrecorded = true;
	} else {
		return;
	}
	n = strtoul(num, &end, 10);
	if (*end != '\0' || n == 0 || n > 1000000) {
		VGW_LOG(fs, WARNING, "VHOSTGW_TEST_FAULT=%s not understood: ignored", v);
		return;
	}
	d->fault_every = (uint32_t)n;
	d->fault_unrecorded = unrecorded;
	VGW_LOG(fs, WARNING,
		"VHOSTGW_TEST_FAULT=%s: the gateway kills itself %s every "
		"%lu-th recorded outcome (for tests only)",
		v, d->fault_unrecorded ? "before" : "after", n);
}

/* --- fast path ------------------------------------------------------- */

static inline struct fs_slot *
slot_get(struct fs_dev *d)
{
	struct fs_slot *s = &d->slots[d->free_head];

	d->free_head = s->next_free;
	d->n_free--;
	return s;
}

static inline void
slot_put(struct fs_dev *d, struct fs_slot *s)
{
	s->next_free = d->free_head;
	d->free_head = s - d->slots;
	d->n_free++;
}

/* Notify the rings in mask and those still pending; a notification that
 * would have waited for rte_vhost's ring lock is retried later. */
static void
notify_rings(struct fs_dev *d, uint32_t mask)
{
	mask |= d->call_pending;
	d->call_pending = 0;
	for (uint16_t q = 0; mask != 0 && q < d->nvq; q++, mask >>= 1)
		if ((mask & 1) && vgw_vring_notify(&d->vq[q]) < 0)
			d->call_pending |= 1u << q;
}

/* The stats slot of vring vq: request queue vq - 1, or the hiprio queue. */
static inline struct vgw_dp_qstats *
vq_stats(struct fs_dev *d, struct vgw_dp_lcore *lc, uint16_t vq)
{
	return &lc->stats[vgw_device_slot(&d->dev, vq == 0 ? VGW_DEV_SLOT_HIPRIO : vq - 1)];
}

/* Dirty logging: asked once per pass that has work, before its first
 * write into the guest's memory or rings (a reply, a chain returned
 * unused); a pass with nothing to take or return asks nothing. */
static inline void
log_check(struct fs_dev *d, bool *checked)
{
	if (*checked)
		return;
	*checked = true;
	for (uint16_t q = 0; q < d->nvq; q++)
		vgw_vring_log_check(&d->vq[q]);
}

/* Would a pop of ring q find something: a chain taken again, one the
 * guest made available, or an index it refuses (one read of the guest's
 * index on an idle pass, as pop's own; an index that claims more than the
 * ring holds prefetches nothing, and only pop refuses and counts it)? */
static inline bool
ring_offers(struct fs_dev *d, uint16_t q)
{
	struct vgw_vring *vr = &d->vq[q];

	return vr->resubmit_pos < vr->n_resubmit || vgw_vring_prefetch(vr, 1) != 0 ||
	       vr->avail_seen != vr->last_avail;
}

/* Return the completed requests to their rings; counted on lc's slots when
 * a worker reaps (lc NULL: the control plane drains a device no worker
 * polls, and lcore counters are their worker's alone). */
static unsigned int
reap(struct fs_dev *d, struct vgw_dp_lcore *lc, uint32_t *notify, bool *log_checked)
{
	struct vgw_fs_req *done[FS_REAP_BURST];
	unsigned int n = vgw_fs_poll(d->fs, done, FS_REAP_BURST);

	if (n != 0)
		log_check(d, log_checked);
	for (unsigned int i = 0; i < n; i++) {
		struct vgw_fs_req *r = done[i];
		struct fs_slot *s = r->user;

		if (d->infl != NULL)
			outcome_record(d, s, r);
		vgw_vring_push(&d->vq[s->vq], &s->chain, r->out_len);
		*notify |= 1u << s->vq;
		slot_put(d, s);
		if (lc != NULL) {
			struct vgw_dp_qstats *st = vq_stats(d, lc, s->vq);

			st->tx_pkts += r->out_len != 0;
			st->tx_bytes += r->out_len;
			st->errors += r->error != 0;
			st->bytes_read += r->bytes_read;
			st->bytes_written += r->bytes_written;
		}
	}
	return n;
}

/* Take what ring q offers, up to *taken < FS_SLOTS in all. */
static void
take(struct fs_dev *d, uint16_t q, struct vgw_dp_lcore *lc, unsigned int *taken, uint32_t *notify)
{
	struct vgw_dp_qstats *st = vq_stats(d, lc, q);

	while (d->n_free != 0 && *taken < FS_SLOTS) {
		struct fs_slot *s = &d->slots[d->free_head];
		int r = vgw_vring_pop(&d->vq[q], d->mem, &s->chain);

		if (r == 0)
			break;
		(*taken)++;
		if (r < 0) { /* returned unused, counted */
			st->drops++;
			*notify |= 1u << q;
			continue;
		}
		slot_get(d);
		s->vq = q;
		s->req.in = s->chain.iov;
		s->req.in_cnt = s->chain.in_cnt;
		s->req.out = s->chain.iov + s->chain.in_cnt;
		s->req.out_cnt = s->chain.out_cnt;
		s->req.user = s;
		s->req.redo_since_ns = 0;
		s->req.redo_note = NULL;
		st->rx_pkts++;
		st->rx_bytes += s->chain.in_len;
		if (unlikely(s->chain.resubmitted) && d->infl != NULL && outcome_replay(d, s)) {
			*notify |= 1u << q;
			slot_put(d, s);
			continue;
		}
		if (d->infl != NULL && s->req.redo_since_ns == 0)
			outcome_start(d, s); /* a redo keeps its first start */
		if (vgw_fs_submit(d->fs, &s->req) < 0) {
			vgw_vring_push(&d->vq[q], &s->chain, 0);
			*notify |= 1u << q;
			slot_put(d, s);
			st->drops++;
		}
	}
}

static uint16_t
fs_poll(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	struct fs_dev *d = t->arg;
	uint32_t notify = 0;
	unsigned int taken = 0, done;
	bool log_checked = false;

	for (uint16_t q = 0; q < d->nvq; q++) {
		if (d->n_free == 0 || taken == FS_SLOTS || !ring_offers(d, q))
			continue;
		log_check(d, &log_checked);
		take(d, q, lc, &taken, &notify);
	}
	done = reap(d, lc, &notify, &log_checked);
	if ((notify | d->call_pending) != 0)
		notify_rings(d, notify);
	if (taken + done == 0 && vgw_fs_inflight(d->fs) != 0)
		lc->idle_yield = true; /* the kernel's workers have our requests */
	return taken + done;
}

/* --- control plane --------------------------------------------------- */

static struct fs_dev *
fs_of(struct vgw_device *dev)
{
	return VGW_DEVICE_OF(dev, struct fs_dev, dev);
}

/* One task per published device, so that one lcore owns its engine; its
 * busy cycles are counted on its first request queue. */
static unsigned int
fs_tasks(struct vgw_device *dev, struct vgw_dp_task *tasks, unsigned int max)
{
	if (max == 0 || atomic_load(&dev->vid) < 0)
		return 0;
	tasks[0].poll = fs_poll;
	tasks[0].arg = fs_of(dev);
	tasks[0].queue = 0;
	tasks[0].slot = vgw_device_slot(dev, 0);
	return 1;
}

/* The workers no longer touch d: finish its requests on this thread.
 * However long the host file system takes: a request in flight holds
 * addresses of guest memory (the kernel or a helper writes its reply
 * there) and a slot, and the caller is about to let rte_vhost unmap that
 * memory, or to give the slots out again. Giving up would let a late
 * READ write into whatever is mapped there next, and complete a slot
 * twice. Meanwhile rte_vhost's message thread waits with us (one for
 * all the gateway's vhost-user sockets in 22.11: every device's control
 * messages wait); the workers, and so every device's data path, run on. */
static void
drain(struct fs_dev *d)
{
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc();
	uint64_t warn = t0 + hz / 1000 * FS_DRAIN_WARN_MS;
	uint32_t notify = 0;
	bool log_checked = false, warned = false;

	log_check(d, &log_checked);
	while (d->fs != NULL && vgw_fs_inflight(d->fs) != 0) {
		if (reap(d, NULL, &notify, &log_checked) != 0)
			continue;
		if (rte_rdtsc() > warn) {
			VGW_LOG(fs, WARNING,
				"%s: %u request(s) still in flight after %" PRIu64
				" s: waiting for the host file system (their replies go "
				"into guest memory)",
				d->dev.name, vgw_fs_inflight(d->fs), (rte_rdtsc() - t0) / hz);
			warn = rte_rdtsc() + hz / 1000 * FS_DRAIN_WARN_MS;
			warned = true;
		}
		usleep(100);
	}
	if (warned)
		VGW_LOG(fs, NOTICE, "%s: the requests in flight completed after %.1f s",
			d->dev.name, (double)(rte_rdtsc() - t0) / (double)hz);
	notify_rings(d, notify);
}

static void
fs_quiesce(struct vgw_device *dev)
{
	drain(fs_of(dev));
}

/* The engine's lines on what a guest made it refuse or leave out (rate
 * limited by the engine), under the device's name. */
static void
engine_warn(void *arg, const char *line)
{
	struct fs_dev *d = arg;

	VGW_LOG(fs, WARNING, "%s: %s", d->dev.name, line);
}

static int
engine_create(struct fs_dev *d)
{
	const struct vgw_conf_dev *conf = d->dev.conf;
	struct vgw_fs_conf c;

	vgw_fs_conf_init(&c);
	c.shared_dir = conf->shared_dir;
	c.tag = conf->tag;
	c.max_inflight = FS_SLOTS;
	c.cache = conf->fs_cache == VGW_FS_CACHE_MODE_NONE   ? VGW_FS_CACHE_NONE :
		  conf->fs_cache == VGW_FS_CACHE_MODE_ALWAYS ? VGW_FS_CACHE_ALWAYS :
							       VGW_FS_CACHE_AUTO;
	if (conf->fs_timeout >= 0) {
		c.entry_timeout = conf->fs_timeout;
		c.attr_timeout = conf->fs_timeout;
	}
	c.xattr = conf->fs_xattr;
	c.writeback = conf->fs_writeback;
	c.iowq_cpus = &iowq_cpus;
	c.max_fds = fd_share;
	c.warn = engine_warn;
	c.warn_arg = d;
	d->fs = vgw_fs_create(&c);
	if (d->fs == NULL) {
		VGW_LOG(fs, ERR, "%s: cannot serve %s: %s", d->dev.name, conf->shared_dir,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static void
own_inflight_unmap(struct fs_dev *d)
{
	if (d->infl != NULL)
		munmap(d->infl, d->infl_size);
	if (d->infl_fd >= 0)
		close(d->infl_fd);
	d->infl = NULL;
	d->infl_fd = -1;
}

/* Map fd as the device's own inflight region: a slot per ring the device
 * can have. A new one (fd < 0) is made zeroed. */
static int
own_inflight_map(struct fs_dev *d, int fd, char *why, size_t why_len)
{
	size_t rings = (size_t)d->dev.conf->queues + 1;
	size_t size = rings * VGW_VRING_INFLIGHT_SLOT +
		      rings * FS_OUTCOMES_PER_RING * sizeof(struct fs_outcome);
	struct stat st;
	void *p;

	int err;

	if (fd < 0) {
		fd = memfd_create("vhostgw-fs-inflight", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, size) < 0)
			goto fail;
	} else if (fstat(fd, &st) < 0 || (size_t)st.st_size != size) {
		snprintf(why, why_len, "inflight region of %lld bytes where %zu are due",
			 fstat(fd, &st) < 0 ? -1LL : (long long)st.st_size, size);
		return -EINVAL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	own_inflight_unmap(d);
	d->infl_fd = fd;
	d->infl = p;
	d->infl_size = size;
	d->outcomes_off = rings * VGW_VRING_INFLIGHT_SLOT;
	return 0;
fail:
	err = errno;
	snprintf(why, why_len, "inflight region: %s", strerror(err));
	if (fd >= 0)
		close(fd);
	return -err;
}

static struct rte_vhost_inflight_info_split *
own_inflight_slot(struct fs_dev *d, uint16_t q)
{
	if (d->infl == NULL)
		return NULL;
	return (struct rte_vhost_inflight_info_split *)(d->infl +
							(size_t)q * VGW_VRING_INFLIGHT_SLOT);
}

static int
fs_connect(struct vgw_device *dev, int vid)
{
	struct fs_dev *d = fs_of(dev);
	char why[128];
	int ret = d->fs == NULL ? engine_create(d) : 0;

	if (ret == 0 && vgw_vhost_keeper_mode() && own_inflight_map(d, -1, why, sizeof(why)) < 0)
		VGW_LOG(fs, ERR, "%s: %s: requests in flight at a crash will be lost", d->dev.name,
			why);
	if (ret == 0 && vgw_vhost_keeper_mode() && vgw_fs_vault_open(d->fs) < 0)
		VGW_LOG(fs, ERR, "%s: no vault (%s): files unlinked while open are lost at a crash",
			d->dev.name, strerror(errno));
	return ret;
}

static void
fs_disconnect(struct vgw_device *dev, int vid)
{
	struct fs_dev *d = fs_of(dev);

	/* a new front-end is a new FUSE session: start from a fresh engine */
	vgw_fs_destroy(d->fs);
	d->fs = NULL;
	own_inflight_unmap(d);
}

/* Under the keeper: the FUSE session's tables and our inflight region
 * (doc/keeper.rst). The device keeps owning the fds. */
static int
fs_keep_fds(struct vgw_device *dev, int *fds, unsigned int max)
{
	struct fs_dev *d = fs_of(dev);
	unsigned int n = 0;

	if (d->fs != NULL && n < max)
		fds[n++] = vgw_fs_table_fd(d->fs, NULL);
	if (d->infl_fd >= 0 && n < max)
		fds[n++] = d->infl_fd;
	/* the vault's two ends, last (fs_vault.c) */
	if (d->fs != NULL && n + 2 <= max)
		n += vgw_fs_vault_fds(d->fs, fds + n);
	return (int)n;
}

/* A dead gateway's session, on a fresh one: its tables into our engine,
 * its inflight region as ours (the rings take the requests it left). */
static int
fs_adopt(struct vgw_device *dev, const int *fds, unsigned int n, char *why, size_t why_len)
{
	struct fs_dev *d = fs_of(dev);
	int ret, fd;

	if (d->fs == NULL) {
		snprintf(why, why_len, "no session");
		return -ENOTCONN;
	}
	ret = n > 0 ? vgw_fs_adopt_vault(d->fs, fds[0], n >= 4 ? fds[2] : -1, n >= 4 ? fds[3] : -1,
					 why, why_len) :
		      0;
	if (ret < 0 || n < 2)
		return ret;
	fd = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		snprintf(why, why_len, "inflight region: %s", strerror(errno));
		return -errno;
	}
	ret = own_inflight_map(d, fd, why, why_len);
	if (ret < 0)
		close(fd);
	return ret;
}

/* Take the rings of vid, nvq of them. */
static int
rings_attach(struct fs_dev *d, int vid, uint16_t nvq)
{
	uint64_t f = 0, pf = 0;

	if (vgw_vhost_features(vid, &f, &pf) < 0)
		return -ENODEV;
	for (uint16_t q = 0; q < nvq; q++) {
		int ret = vgw_vring_attach(&d->vq[q], vid, q, own_inflight_slot(d, q));

		/* the guest says when it wants an interrupt (used_event): one
		 * per burst it has not yet taken, not one per completion */
		d->vq[q].event_idx = (f >> VIRTIO_RING_F_EVENT_IDX) & 1;

		if (ret == -EINVAL) {
			VGW_LOG(fs, ERR,
				"%s: ring %u: the inflight region holds fewer entries than the ring's %u",
				d->dev.name, q, d->vq[q].size);
			return ret;
		}
		if (ret < 0) {
			VGW_LOG(fs, ERR, "%s: ring %u is not set up", d->dev.name, q);
			return ret;
		}
		if (d->vq[q].n_resubmit != 0)
			VGW_LOG(fs, NOTICE,
				"%s: ring %u: %u request(s) left in flight by the previous back-end, taken again",
				d->dev.name, q, d->vq[q].n_resubmit);
	}
	return 0;
}

static int
fs_start(struct vgw_device *dev, int vid)
{
	struct fs_dev *d = fs_of(dev);
	uint16_t nvq = vgw_vhost_nr_vrings(vid);

	if (d->fs == NULL)
		return -ENODEV;
	if (vgw_fs_inflight(d->fs) != 0) { /* drain() waits for them: never */
		VGW_LOG(fs, ERR,
			"%s: %u request(s) of the rings before still in flight: not started",
			dev->name, vgw_fs_inflight(d->fs));
		return -EBUSY;
	}
	nvq = RTE_MIN(nvq, (uint16_t)(1 + dev->queues));
	vgw_vring_mem_free(d->mem);
	d->mem = vgw_vring_mem_get(vid);
	if (d->mem == NULL || rings_attach(d, vid, nvq) < 0)
		return -EINVAL;
	d->nvq = nvq;
	d->call_pending = 0;
	d->free_head = 0;
	d->n_free = FS_SLOTS;
	for (uint16_t i = 0; i < FS_SLOTS; i++)
		d->slots[i].next_free = i + 1;
	return 0;
}

static void
fs_stop(struct vgw_device *dev, int vid)
{
	struct fs_dev *d = fs_of(dev);

	drain(d); /* also when it was suspended: nothing is left behind */
	for (uint16_t q = 0; q < d->nvq; q++) {
		d->resubmitted += d->vq[q].resubmitted;
		vgw_vring_detach(&d->vq[q]);
	}
	d->nvq = 0;
}

static void
fs_describe(struct vgw_device *dev, char *buf, size_t len)
{
	snprintf(buf, len, "%u ring(s)", fs_of(dev)->nvq);
}

/* Our rings and memory table point into what rte_vhost is about to unmap
 * (rte_vhost's own data path holds the ring locks while logging; we do
 * not). A memory table that does not change is left alone, as rte_vhost
 * does. */
static bool
fs_remap_needed(struct vgw_device *dev, const struct vgw_vhost_msg *m)
{
	return m->request != VGW_VHOST_MSG_SET_MEM_TABLE ||
	       !vgw_vring_mem_same(fs_of(dev)->mem, m->payload, m->size);
}

static int
fs_remap_done(struct vgw_device *dev, int vid)
{
	struct fs_dev *d = fs_of(dev);
	struct rte_vhost_memory *mem = vgw_vring_mem_get(vid);
	uint16_t q;

	for (q = 0; mem != NULL && q < d->nvq; q++)
		if (vgw_vring_refresh(&d->vq[q]) < 0)
			break;
	if (mem == NULL || q < d->nvq) {
		vgw_vring_mem_free(mem);
		return -EFAULT;
	}
	vgw_vring_mem_free(d->mem);
	d->mem = mem;
	return 0;
}

/* --- device state (the FUSE session) --------------------------------- */

static int
fs_state_save(struct vgw_device *dev, size_t max, void **buf, size_t *len, char *why,
	      size_t why_len)
{
	struct fs_dev *d = fs_of(dev);

	if (d->fs == NULL) {
		snprintf(why, why_len, "no front-end is connected");
		return -ENOTCONN;
	}
	return vgw_fs_state_save_buf(d->fs, max, buf, len, why, why_len);
}

static int
fs_state_load(struct vgw_device *dev, const void *buf, size_t len, char *why, size_t why_len)
{
	struct fs_dev *d = fs_of(dev);

	if (d->fs == NULL) {
		snprintf(why, why_len, "no front-end is connected");
		return -ENOTCONN;
	}
	return vgw_fs_state_load_buf(d->fs, buf, len, why, why_len);
}

static void
fs_state_figures(struct vgw_device *dev, json_t *reply, bool load)
{
	const struct vgw_fs *fs = fs_of(dev)->fs;
	const struct vgw_fs_stats *st = vgw_fs_stats(fs);

	json_object_set_new(reply, "inodes", json_integer(vgw_fs_inode_count(fs)));
	json_object_set_new(reply, "handles", json_integer(vgw_fs_handle_count(fs)));
	if (load)
		json_object_set_new(reply, "stale",
				    json_integer((json_int_t)(st->state_stale_inodes +
							      st->state_stale_handles)));
}

/* --- introspection ---------------------------------------------------- */

static void
fs_info(struct vgw_device *dev, struct vgw_device_info *in, json_t *o)
{
	struct fs_dev *d = fs_of(dev);
	uint64_t resubmitted = d->resubmitted;
	bool inflight = false;

	in->active_queues = d->nvq; /* hiprio + request rings polled */
	if (o == NULL)
		return;
	for (uint16_t q = 0; q < d->nvq; q++) {
		resubmitted += d->vq[q].resubmitted;
		inflight |= d->vq[q].inflight != NULL && d->vq[q].inflight != d->vq[q].own_inflight;
	}
	json_object_set_new(o, "shared_dir", json_string(dev->conf->shared_dir));
	json_object_set_new(o, "tag", json_string(dev->conf->tag));
	/* the front-end's region (INFLIGHT_SHMFD); own_inflight: ours, kept
	 * by the keeper */
	json_object_set_new(o, "inflight", json_boolean(inflight));
	json_object_set_new(o, "own_inflight", json_boolean(d->infl != NULL));
	json_object_set_new(o, "outcomes_replayed", json_integer((json_int_t)d->replayed));
	json_object_set_new(o, "outcomes_redone", json_integer((json_int_t)d->redone));
	json_object_set_new(o, "inflight_resubmitted", json_integer((json_int_t)resubmitted));
}

/* One queue's counters: the generic ones (rx: requests taken and their
 * bytes, tx: replies and the bytes written into the guest, drops: chains
 * returned unused) and the fs ones. */
static json_t *
queue_json(json_int_t q, const struct vgw_dp_qstats *st)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I}",
			 "queue", q, "rx_packets", (json_int_t)st->rx_pkts, "rx_bytes",
			 (json_int_t)st->rx_bytes, "tx_packets", (json_int_t)st->tx_pkts,
			 "tx_bytes", (json_int_t)st->tx_bytes, "drops", (json_int_t)st->drops,
			 "busy_cycles", (json_int_t)st->busy_cycles, "cycles_per_packet",
			 st->rx_pkts ? (double)st->busy_cycles / st->rx_pkts : 0.0, "requests",
			 (json_int_t)st->rx_pkts, "replies", (json_int_t)st->tx_pkts, "bytes_read",
			 (json_int_t)st->bytes_read, "bytes_written", (json_int_t)st->bytes_written,
			 "errors", (json_int_t)st->errors);
}

static void
qstats_add(struct vgw_dp_qstats *tot, const struct vgw_dp_qstats *st)
{
	tot->rx_pkts += st->rx_pkts;
	tot->rx_bytes += st->rx_bytes;
	tot->tx_pkts += st->tx_pkts;
	tot->tx_bytes += st->tx_bytes;
	tot->drops += st->drops;
	tot->busy_cycles += st->busy_cycles;
}

/* The device's counters: totals of the queues (hiprio included), one
 * object per request queue, the hiprio queue's requests, and the session's
 * figures from the engine (since the front-end connected). */
static void
fs_stats(struct vgw_device *dev, json_t *o)
{
	struct fs_dev *d = fs_of(dev);
	struct vgw_dp_qstats tot = { 0 }, st;
	struct vgw_fs_stats es = { 0 };
	unsigned int inodes = 0, handles = 0;
	uint64_t malformed = 0;
	json_t *qs = json_array(), *ops;

	for (uint16_t q = 0; q < dev->queues; q++) {
		vgw_dp_stats_sum(vgw_device_slot(dev, q), &st);
		qstats_add(&tot, &st);
		json_array_append_new(qs, queue_json(q, &st));
	}
	vgw_dp_stats_sum(vgw_device_slot(dev, VGW_DEV_SLOT_HIPRIO), &st);
	qstats_add(&tot, &st);
	pthread_mutex_lock(&dev->lock);
	if (d->fs != NULL) {
		/* the poller's plain counters: a racy but harmless read */
		es = *vgw_fs_stats(d->fs);
		inodes = vgw_fs_inode_count(d->fs);
		handles = vgw_fs_handle_count(d->fs);
	}
	malformed = es.malformed;
	for (uint16_t q = 0; q < d->nvq; q++)
		malformed += d->vq[q].malformed;
	pthread_mutex_unlock(&dev->lock);
	json_object_set_new(o, "rx_packets", json_integer((json_int_t)tot.rx_pkts));
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)tot.rx_bytes));
	json_object_set_new(o, "tx_packets", json_integer((json_int_t)tot.tx_pkts));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)tot.tx_bytes));
	json_object_set_new(o, "drops", json_integer((json_int_t)tot.drops));
	json_object_set_new(o, "queues", qs);
	json_object_set_new(o, "hiprio_requests", json_integer((json_int_t)st.rx_pkts));
	json_object_set_new(o, "requests", json_integer((json_int_t)es.requests));
	json_object_set_new(o, "errors", json_integer((json_int_t)es.errors));
	json_object_set_new(o, "malformed", json_integer((json_int_t)malformed));
	json_object_set_new(o, "bytes_read", json_integer((json_int_t)es.bytes_read));
	json_object_set_new(o, "bytes_written", json_integer((json_int_t)es.bytes_written));
	json_object_set_new(o, "inodes", json_integer(inodes));
	json_object_set_new(o, "handles", json_integer(handles));
	json_object_set_new(o, "long_names", json_integer((json_int_t)es.long_names));
	/* under a keeper: the fds of files unlinked while held (parked now,
	 * parked in all, let go by a sweep, not parked: ESTALE after a crash) */
	json_object_set_new(o, "vault",
			    json_pack("{s:I,s:I,s:I,s:I}", "parked", (json_int_t)es.vault_parked,
				      "kept", (json_int_t)es.vault_kept, "released",
				      (json_int_t)es.vault_released, "full",
				      (json_int_t)es.vault_full));
	/* requests by opcode since the front-end connected (those without a
	 * name, and unreadable ones, under "other"); where io_uring and the
	 * helper threads ran the operations */
	ops = json_object();
	for (uint32_t op = 0; op < VGW_FS_OP_MAX; op++) {
		const char *name = op ? vgw_fs_opname(op) : NULL;

		if (es.ops[op] == 0)
			continue;
		if (name == NULL) {
			json_t *n = json_object_get(ops, "other");

			json_object_set_new(
				ops, "other",
				json_integer(json_integer_value(n) + (json_int_t)es.ops[op]));
		} else {
			json_object_set_new(ops, name, json_integer((json_int_t)es.ops[op]));
		}
	}
	json_object_set_new(o, "ops", ops);
	json_object_set_new(o, "uring_ops", json_integer((json_int_t)es.uring_ops));
	json_object_set_new(o, "helper_ops", json_integer((json_int_t)es.helper_ops));
	json_object_set_new(o, "inline_ops", json_integer((json_int_t)es.inline_ops));
	json_object_set_new(o, "inline_backoffs", json_integer((json_int_t)es.inline_backoffs));
}

static const struct vgw_device_ops fs_ops = {
	.logtype = &vgw_logtype_fs,
	.tasks = fs_tasks,
	.connect = fs_connect,
	.disconnect = fs_disconnect,
	.start = fs_start,
	.stop = fs_stop,
	.quiesce = fs_quiesce,
	.remap_needed = fs_remap_needed,
	.remap_done = fs_remap_done,
	.describe = fs_describe,
	.info = fs_info,
	.stats = fs_stats,
	.state_save = fs_state_save,
	.state_load = fs_state_load,
	.state_figures = fs_state_figures,
	.keep_fds = fs_keep_fds,
	.adopt = fs_adopt,
};

/* --- set-up ------------------------------------------------------------- */

void
vgw_fsdev_set_cpus(const cpu_set_t *cpus)
{
	process_cpus = *cpus;
	have_process_cpus = CPU_COUNT(cpus) != 0;
}

/* Every CPU of the process's affinity (all online CPUs when the app did not
 * say) that no worker lcore polls on: io_uring's workers run there. When the
 * workers poll on all of them (taskset -c 1 with --lcores 0@1,1@1, say), the
 * process's CPUs: io_uring's workers then share them with the pollers rather
 * than run outside the CPUs the operator gave the gateway. */
static void
iowq_cpus_init(void)
{
	unsigned int l;

	CPU_ZERO(&iowq_cpus);
	if (have_process_cpus)
		iowq_cpus = process_cpus;
	else
		for (long cpu = 0; cpu < CPU_SETSIZE && cpu < sysconf(_SC_NPROCESSORS_ONLN); cpu++)
			CPU_SET(cpu, &iowq_cpus);
	RTE_LCORE_FOREACH_WORKER(l) {
		rte_cpuset_t ws = rte_lcore_cpuset(l);

		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &ws))
				CPU_CLR(cpu, &iowq_cpus);
	}
	if (CPU_COUNT(&iowq_cpus) == 0 && have_process_cpus) {
		iowq_cpus = process_cpus;
		vgw_dp_idle_yield(true);
		VGW_LOG(fs, NOTICE,
			"worker lcores poll on every CPU the process may use: "
			"io_uring's workers share them, an idle pass yields to them");
	}
}

/* --- the process's fds ------------------------------------------------
 * An fs device holds an fd per inode the guest looked up and per file it
 * opened: 65,536 + 16,384 with the default tables, per device, whatever
 * the process may open. A guest that looked up that much would leave the
 * process without fds (EMFILE), and rte_vhost could then no longer take
 * the fds of any device's messages (kick and call eventfds, memory
 * tables): every other device would break. So the fs devices share what
 * RLIMIT_NOFILE leaves after a reserve for everything else, and each one's
 * tables hold no more than its share: beyond it a lookup or open is
 * answered ENFILE (and a warning says so, rate limited).
 *
 * The reserve, counted at start-up (after raise_nofile() in main.c and
 * EAL's initialisation, whose fds are counted as they are open then):
 *  - FD_RESERVE for the process: control socket and telemetry clients
 *    (a client beyond the fds left is refused, the server goes on), the
 *    keeper's channel, log files, libraries;
 *  - FD_PER_DEV per configured device, and FD_PER_QUEUE per queue: its
 *    socket and connection, a kick and a call eventfd per ring, up to 8
 *    memory-table fds (rte_vhost's VHOST_MEMORY_MAX_NREGIONS), inflight,
 *    log and back-end channel fds, an fs engine's own (tables, io_uring,
 *    /proc/self/fd, the vault's two ends, the inflight region);
 *  - FD_PER_FS_SLOT per request an fs device may have in flight: a request
 *    holds up to two fds before the tables take them (a READDIRPLUS on a
 *    helper thread holds one per entry, up to about a hundred, but two
 *    helpers run them). */
#define FD_RESERVE 1024u
#define FD_PER_DEV 64u
#define FD_PER_QUEUE 4u
#define FD_PER_FS_SLOT 2u
#define FD_SHARE_MIN 64u /* whatever is left: a device can still list a directory */

static unsigned int
fd_count_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	if (d == NULL)
		return 0;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n > 3 ? n - 3 : 0; /* ., .. and the DIR's own */
}

static void
fd_share_init(const struct vgw_conf *conf, unsigned int n_fs)
{
	uint64_t reserve = FD_RESERVE, open_now = fd_count_open(), share;
	struct rlimit r;

	fd_share = 0;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur == RLIM_INFINITY)
		return;
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		reserve += FD_PER_DEV + FD_PER_QUEUE * (uint64_t)conf->devs[i].queues;
		if (conf->devs[i].type == VGW_DEV_FS)
			reserve += FD_PER_FS_SLOT * FS_SLOTS;
	}
	share = r.rlim_cur > reserve + open_now ? (r.rlim_cur - reserve - open_now) / n_fs : 0;
	if (share < FD_SHARE_MIN) {
		VGW_LOG(fs, WARNING,
			"open files: a limit of %llu leaves the fs devices %llu fd(s) each "
			"after %llu open and %llu kept for the rest; giving each %u: raise "
			"RLIMIT_NOFILE",
			(unsigned long long)r.rlim_cur, (unsigned long long)share,
			(unsigned long long)open_now, (unsigned long long)reserve, FD_SHARE_MIN);
		share = FD_SHARE_MIN;
	}
	fd_share = share > UINT32_MAX ? UINT32_MAX : (uint32_t)share;
	VGW_LOG(fs, INFO,
		"open files: %llu, %llu open and %llu kept for the rest; %u for each of "
		"%u fs device(s)",
		(unsigned long long)r.rlim_cur, (unsigned long long)open_now,
		(unsigned long long)reserve, fd_share, n_fs);
}

/* At start-up, a device whose share is below its tables' sizes says so. */
static void
fd_share_report(const char *name)
{
	uint32_t mi = VGW_FS_DEFAULT_MAX_INODES, mh = VGW_FS_DEFAULT_MAX_HANDLES, i, h;

	vgw_fs_fd_split(fd_share, mi, mh, &i, &h);
	if (i < mi || h < mh)
		VGW_LOG(fs, WARNING,
			"%s: its share of the process's open files is %u fds: up to %u "
			"inodes and %u open files (tables of %u and %u); beyond, ENFILE",
			name, fd_share, i, h, mi, mh);
}

int
vgw_fsdev_init(const struct vgw_conf *conf)
{
	unsigned int n = 0;

	for (uint16_t i = 0; i < conf->n_devs; i++)
		n += conf->devs[i].type == VGW_DEV_FS;
	if (n == 0)
		return 0;
	iowq_cpus_init();
	fd_share_init(conf, n);
	devs = calloc(n, sizeof(*devs));
	if (devs == NULL)
		return -ENOMEM;
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		const struct vgw_conf_dev *c = &conf->devs[i];
		struct fs_dev *d;

		if (c->type != VGW_DEV_FS)
			continue;
		d = &devs[n_devs++];
		d->infl_fd = -1;
		test_fault_init(d);
		d->slots = calloc(FS_SLOTS, sizeof(*d->slots));
		if (d->slots == NULL)
			return -ENOMEM;
		if (access(c->shared_dir, R_OK | X_OK) < 0) {
			VGW_LOG(fs, ERR, "%s: shared_dir %s: %s", c->name, c->shared_dir,
				strerror(errno));
			return -errno;
		}
		if (vgw_device_add(&d->dev, c, i, &fs_ops) < 0)
			return -EINVAL;
		fd_share_report(c->name);
	}
	return 0;
}

int
vgw_fsdev_start(void)
{
	for (unsigned int i = 0; i < n_devs; i++)
		if (vgw_device_start(&devs[i].dev) < 0)
			return -EIO;
	return 0;
}

void
vgw_fsdev_stop(void)
{
	for (unsigned int i = 0; i < n_devs; i++)
		vgw_device_unregister(&devs[i].dev);
	/* No callback runs any more; the devices stay in the registry (the
	 * telemetry thread may still read them), without their engines. */
	for (unsigned int i = 0; i < n_devs; i++) {
		struct fs_dev *d = &devs[i];

		pthread_mutex_lock(&d->dev.lock);
		vgw_fs_destroy(d->fs);
		d->fs = NULL;
		vgw_vring_mem_free(d->mem);
		d->mem = NULL;
		d->nvq = 0;
		free(d->slots);
		d->slots = NULL;
		pthread_mutex_unlock(&d->dev.lock);
	}
}
