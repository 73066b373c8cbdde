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
 * SET_LOG_BASE on a ready device do the same around rte_vhost's remapping
 * (see on_message()). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "vgw_common.h"
#include "vgw_log.h"
#include "vgw_dp.h"
#include "vgw_vhost.h"
#include "vgw_vring.h"
#include "vgw_fs.h"
#include "vgw_fsdev.h"
#include "vgw_state.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_fs, fs, INFO);

#define FS_SLOTS 128		/* requests in flight per device */
#define FS_REAP_BURST 32
#define FS_DRAIN_TIMEOUT_MS 10000
#define FS_MAX_VRINGS (1 + VGW_MAX_QUEUES)
#define FS_MSG_SET_MEM_TABLE 5	/* VHOST_USER_SET_MEM_TABLE */
#define FS_MSG_SET_LOG_BASE 6	/* VHOST_USER_SET_LOG_BASE */
#define FS_MSG_SET_INFLIGHT_FD 32	/* VHOST_USER_SET_INFLIGHT_FD */
#define FS_STATE_TIMEOUT_MS 60000	/* for the front-end's end of the pipe */
#define FS_STATE_MAX (256u << 20)

struct fs_slot {
	struct vgw_fs_req req;
	struct vgw_vring_chain chain;
	uint16_t vq;
	uint16_t next_free;
};

struct fs_dev {
	char name[VGW_NAME_MAX];
	const struct vgw_conf_dev *conf;
	uint16_t index;			/* config index: stats slot */
	/* control plane (event thread, control thread; under fs_lock) */
	int conn_vid;
	int ready_vid;
	bool suspended;
	bool remap;			/* taken away while rte_vhost remaps */
	uint64_t connects;
	uint64_t disconnects;
	uint64_t resubmitted;		/* of rings since detached */
	/* device state transfer: one at a time, on its own thread (the
	 * front-end touches the pipe only after our reply) */
	pthread_t xfer;
	bool xfer_started;
	uint32_t xfer_dir;		/* 0 save, 1 load */
	int xfer_fd;
	void *xfer_buf;
	size_t xfer_len;
	int xfer_result;		/* 0, or -errno; read after the join */
	char xfer_why[VGW_STATE_REASON_MAX];
	uint64_t states_saved;
	uint64_t states_loaded;
	/* what the workers may use: set before the device is published,
	 * not changed while it is */
	_Atomic int vid;
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
};

static struct fs_dev *devs;
/* every CPU no worker lcore polls on: io_uring's workers run there */
static cpu_set_t iowq_cpus;
static unsigned int n_devs;
static pthread_mutex_t fs_lock = PTHREAD_MUTEX_INITIALIZER;

/* Test-only fault injection into device-state loads (tests/e2e fs_migrate_*
 * scenarios; doc/e2e.rst), from the environment variable VHOSTGW_TEST_FAULT,
 * read once at start-up and logged as a warning. Never set in production:
 *   state-corrupt       flip one byte in the middle of each incoming state
 *                       stream, after it is read and before it is parsed
 *   state-truncate      drop the last 16 bytes of each incoming stream
 *   load-delay-ms=N     wait N ms (at most 60000) before reading each
 *                       incoming stream, so that a test can kill the
 *                       process while a load is under way */
enum fs_fault { FS_FAULT_NONE, FS_FAULT_CORRUPT, FS_FAULT_TRUNCATE };
static enum fs_fault test_fault;
static unsigned int test_load_delay_ms;

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

static unsigned int
reap(struct fs_dev *d, uint32_t *notify)
{
	struct vgw_fs_req *done[FS_REAP_BURST];
	unsigned int n = vgw_fs_poll(d->fs, done, FS_REAP_BURST);

	for (unsigned int i = 0; i < n; i++) {
		struct fs_slot *s = done[i]->user;

		vgw_vring_push(&d->vq[s->vq], &s->chain, done[i]->out_len);
		*notify |= 1u << s->vq;
		slot_put(d, s);
	}
	return n;
}

static uint16_t
fs_poll(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	struct fs_dev *d = t->arg;
	struct vgw_dp_qstats *st = &lc->stats[t->slot];
	uint32_t notify = 0;
	unsigned int taken = 0, done;

	for (uint16_t q = 0; q < d->nvq; q++) {
		while (d->n_free != 0 && taken < FS_SLOTS) {
			struct fs_slot *s = &d->slots[d->free_head];
			int r = vgw_vring_pop(&d->vq[q], d->mem, &s->chain);

			if (r == 0)
				break;
			taken++;
			if (r < 0) {	/* returned unused, counted */
				st->drops++;
				notify |= 1u << q;
				continue;
			}
			slot_get(d);
			s->vq = q;
			s->req.in = s->chain.iov;
			s->req.in_cnt = s->chain.in_cnt;
			s->req.out = s->chain.iov + s->chain.in_cnt;
			s->req.out_cnt = s->chain.out_cnt;
			s->req.user = s;
			st->rx_pkts++;
			st->rx_bytes += s->chain.in_len;
			if (vgw_fs_submit(d->fs, &s->req) < 0) {
				vgw_vring_push(&d->vq[q], &s->chain, 0);
				notify |= 1u << q;
				slot_put(d, s);
				st->drops++;
			}
		}
	}
	done = reap(d, &notify);
	st->tx_pkts += done;
	if ((notify | d->call_pending) != 0)
		notify_rings(d, notify);
	return taken + done;
}

/* --- control plane --------------------------------------------------- */

static int xfer_join(struct fs_dev *d);

static unsigned int
fs_tasks(struct vgw_dp_task *tasks, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < n_devs && n < max; i++) {
		struct fs_dev *d = &devs[i];

		if (atomic_load(&d->vid) < 0)
			continue;
		tasks[n].poll = fs_poll;
		tasks[n].arg = d;
		tasks[n].queue = 0;
		tasks[n].slot = d->index * VGW_MAX_QUEUES;
		n++;
	}
	return n;
}

/* The workers no longer touch d: finish its requests on this thread. */
static void
drain(struct fs_dev *d)
{
	uint64_t deadline = rte_get_tsc_hz() / 1000 * FS_DRAIN_TIMEOUT_MS + rte_rdtsc();
	uint32_t notify = 0;

	while (d->fs != NULL && vgw_fs_inflight(d->fs) != 0) {
		if (reap(d, &notify) == 0) {
			if (rte_rdtsc() > deadline) {
				VGW_LOG(fs, ERR, "%s: %u request(s) still in flight after %d ms",
					d->name, vgw_fs_inflight(d->fs), FS_DRAIN_TIMEOUT_MS);
				break;
			}
			usleep(100);
		}
	}
	notify_rings(d, notify);
}

/* Publish d's state to the workers (or take it away) and, when taken away,
 * finish what is in flight. Called with fs_lock held. */
static void
publish(struct fs_dev *d)
{
	int vid = d->suspended || d->remap ? -1 : d->ready_vid;

	if (atomic_load(&d->vid) == vid)
		return;
	atomic_store(&d->vid, vid);
	vgw_dp_rebuild();
	if (vid < 0)
		drain(d);
}

static int
engine_create(struct fs_dev *d)
{
	struct vgw_fs_conf c;

	vgw_fs_conf_init(&c);
	c.shared_dir = d->conf->shared_dir;
	c.tag = d->conf->tag;
	c.max_inflight = FS_SLOTS;
	c.cache = d->conf->fs_cache == VGW_FS_CACHE_MODE_NONE ? VGW_FS_CACHE_NONE :
		  d->conf->fs_cache == VGW_FS_CACHE_MODE_ALWAYS ? VGW_FS_CACHE_ALWAYS :
		  VGW_FS_CACHE_AUTO;
	if (d->conf->fs_timeout >= 0) {
		c.entry_timeout = d->conf->fs_timeout;
		c.attr_timeout = d->conf->fs_timeout;
	}
	c.xattr = d->conf->fs_xattr;
	c.writeback = d->conf->fs_writeback;
	c.iowq_cpus = &iowq_cpus;
	d->fs = vgw_fs_create(&c);
	if (d->fs == NULL) {
		VGW_LOG(fs, ERR, "%s: cannot serve %s: %s", d->name, d->conf->shared_dir,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static int
on_new_connection(void *ctx, int vid)
{
	struct fs_dev *d = ctx;
	int ret = 0;

	pthread_mutex_lock(&fs_lock);
	if (d->conn_vid >= 0) {
		VGW_LOG(fs, ERR, "%s: refused a second front-end on %s (vid %d)",
			d->name, d->conf->socket, vid);
		ret = -1;
	} else if (d->fs == NULL && engine_create(d) < 0) {
		ret = -1;
	} else {
		d->conn_vid = vid;
		d->connects++;
		VGW_LOG(fs, INFO, "%s: front-end connected (vid %d)", d->name, vid);
	}
	pthread_mutex_unlock(&fs_lock);
	return ret;
}

static int
on_destroy_connection(void *ctx, int vid)
{
	struct fs_dev *d = ctx;

	pthread_mutex_lock(&fs_lock);
	if (d->conn_vid != vid) {
		pthread_mutex_unlock(&fs_lock);
		return -ENOENT;
	}
	d->conn_vid = -1;
	d->disconnects++;
	xfer_join(d);	/* its engine goes now */
	d->xfer_result = -EIO;
	/* a new front-end is a new FUSE session: start from a fresh engine */
	vgw_fs_destroy(d->fs);
	d->fs = NULL;
	pthread_mutex_unlock(&fs_lock);
	VGW_LOG(fs, INFO, "%s: front-end disconnected (vid %d)", d->name, vid);
	return 0;
}

static int
on_new_device(void *ctx, int vid)
{
	struct fs_dev *d = ctx;
	uint16_t nvq = vgw_vhost_nr_vrings(vid);

	pthread_mutex_lock(&fs_lock);
	if (d->conn_vid != vid || d->fs == NULL)
		goto fail;
	if (d->xfer_started && d->xfer_dir == 1)
		xfer_join(d);	/* the rings start on the loaded session */
	nvq = RTE_MIN(nvq, (uint16_t)(1 + d->conf->queues));
	vgw_vring_mem_free(d->mem);
	d->mem = vgw_vring_mem_get(vid);
	if (d->mem == NULL)
		goto fail;
	for (uint16_t q = 0; q < nvq; q++) {
		int ret = vgw_vring_attach(&d->vq[q], vid, q);

		if (ret == -EINVAL) {
			VGW_LOG(fs, ERR, "%s: ring %u: the inflight region holds fewer entries than the ring's %u",
				d->name, q, d->vq[q].size);
			goto fail;
		}
		if (ret < 0) {
			VGW_LOG(fs, ERR, "%s: ring %u is not set up", d->name, q);
			goto fail;
		}
		if (d->vq[q].n_resubmit != 0)
			VGW_LOG(fs, NOTICE, "%s: ring %u: %u request(s) left in flight by the previous back-end, taken again",
				d->name, q, d->vq[q].n_resubmit);
	}
	d->nvq = nvq;
	d->remap = false;
	d->call_pending = 0;
	d->free_head = 0;
	d->n_free = FS_SLOTS;
	for (uint16_t i = 0; i < FS_SLOTS; i++)
		d->slots[i].next_free = i + 1;
	d->ready_vid = vid;
	publish(d);
	pthread_mutex_unlock(&fs_lock);
	VGW_LOG(fs, INFO, "%s: device ready, %u ring(s)", d->name, nvq);
	return 0;
fail:
	pthread_mutex_unlock(&fs_lock);
	return -1;
}

static void
on_destroy_device(void *ctx, int vid)
{
	struct fs_dev *d = ctx;

	pthread_mutex_lock(&fs_lock);
	if (d->ready_vid != vid) {
		pthread_mutex_unlock(&fs_lock);
		return;
	}
	d->ready_vid = -1;
	publish(d);
	drain(d);	/* also when it was suspended: nothing is left behind */
	for (uint16_t q = 0; q < d->nvq; q++) {
		d->resubmitted += d->vq[q].resubmitted;
		vgw_vring_detach(&d->vq[q]);
	}
	d->nvq = 0;
	d->remap = false;
	pthread_mutex_unlock(&fs_lock);
	VGW_LOG(fs, INFO, "%s: device stopped (vid %d)", d->name, vid);
}

/* SET_MEM_TABLE on a ready device: rte_vhost 22.11 unmaps the guest memory
 * and maps the new table without telling us; our rings and memory table
 * would point into unmapped memory. SET_LOG_BASE likewise unmaps the dirty
 * log that rte_vhost_log_write() writes into (rte_vhost's own data path
 * holds the ring locks while logging; we do not), and SET_INFLIGHT_FD the
 * inflight region the rings write into. Before (pre), take the
 * device away from the workers and finish what is in flight (its buffers
 * are in that memory); after (post), take the memory table and the ring
 * addresses again and give the device back. rte_vhost holds the device's
 * ring locks meanwhile: waiting for the workers' grace period is safe
 * because they never wait for those locks (notifications are non-blocking;
 * the ones that could not be sent are sent by the next poll). A memory
 * table that does not change is left alone, as rte_vhost does. If rte_vhost
 * fails the message, no post call comes: the device stays taken away until
 * it is stopped, or a later SET_MEM_TABLE succeeds. */
static void
on_message(void *ctx, int vid, const struct vgw_vhost_msg *m, bool post)
{
	struct fs_dev *d = ctx;
	struct rte_vhost_memory *mem;
	uint16_t q;

	if (m->request != FS_MSG_SET_MEM_TABLE && m->request != FS_MSG_SET_LOG_BASE &&
	    m->request != FS_MSG_SET_INFLIGHT_FD)
		return;
	pthread_mutex_lock(&fs_lock);
	if (d->ready_vid != vid || (post && !d->remap) || (!post && (d->remap ||
	    (m->request == FS_MSG_SET_MEM_TABLE &&
	     vgw_vring_mem_same(d->mem, m->payload, m->size))))) {
		pthread_mutex_unlock(&fs_lock);
		return;
	}
	if (!post) {
		d->remap = true;
		publish(d);	/* when it was published: grace period, drain */
		pthread_mutex_unlock(&fs_lock);
		VGW_LOG(fs, INFO, "%s: %s: device paused", d->name, vgw_vhost_msg_name(m->request));
		return;
	}
	mem = vgw_vring_mem_get(vid);
	for (q = 0; mem != NULL && q < d->nvq; q++)
		if (vgw_vring_refresh(&d->vq[q]) < 0)
			break;
	if (mem == NULL || q < d->nvq) {
		vgw_vring_mem_free(mem);
		pthread_mutex_unlock(&fs_lock);
		VGW_LOG(fs, ERR, "%s: after %s: ring %u is not mapped; device stays paused",
			d->name, vgw_vhost_msg_name(m->request), q);
		return;
	}
	vgw_vring_mem_free(d->mem);
	d->mem = mem;
	d->remap = false;
	publish(d);
	pthread_mutex_unlock(&fs_lock);
	VGW_LOG(fs, INFO, "%s: %s done: device resumed", d->name,
		vgw_vhost_msg_name(m->request));
}

/* --- device state (DEVICE_STATE) -------------------------------------- */

static void
test_fault_init(void)
{
	const char *v = getenv("VHOSTGW_TEST_FAULT");
	char *end;

	if (v == NULL || *v == '\0')
		return;
	if (strcmp(v, "state-corrupt") == 0) {
		test_fault = FS_FAULT_CORRUPT;
	} else if (strcmp(v, "state-truncate") == 0) {
		test_fault = FS_FAULT_TRUNCATE;
	} else if (strncmp(v, "load-delay-ms=", 14) == 0) {
		unsigned long ms = strtoul(v + 14, &end, 10);

		if (*end == '\0' && ms <= 60000)
			test_load_delay_ms = (unsigned int)ms;
	}
	if (test_fault == FS_FAULT_NONE && test_load_delay_ms == 0)
		VGW_LOG(fs, WARNING, "VHOSTGW_TEST_FAULT=%s not understood: ignored", v);
	else
		VGW_LOG(fs, WARNING, "VHOSTGW_TEST_FAULT=%s: device state loads are damaged "
			"or delayed on purpose (for tests only)", v);
}

/* An incoming stream, read whole, damaged as VHOSTGW_TEST_FAULT asks. */
static void
test_fault_apply(struct fs_dev *d)
{
	if (test_fault == FS_FAULT_CORRUPT && d->xfer_len != 0) {
		((uint8_t *)d->xfer_buf)[d->xfer_len / 2] ^= 0x5a;
		VGW_LOG(fs, WARNING, "%s: test fault: byte %zu of %zu of the incoming state "
			"flipped", d->name, d->xfer_len / 2, d->xfer_len);
	} else if (test_fault == FS_FAULT_TRUNCATE) {
		size_t cut = RTE_MIN(d->xfer_len, (size_t)16);

		d->xfer_len -= cut;
		VGW_LOG(fs, WARNING, "%s: test fault: the incoming state cut by %zu byte(s) "
			"to %zu", d->name, cut, d->xfer_len);
	}
}

static void *
xfer_main(void *arg)
{
	struct fs_dev *d = arg;
	int ret;

	if (d->xfer_dir == 0) {
		ret = vgw_state_write_fd(d->xfer_fd, d->xfer_buf, d->xfer_len,
					 FS_STATE_TIMEOUT_MS);
		if (ret < 0)
			snprintf(d->xfer_why, sizeof(d->xfer_why), "writing the state: %s",
				 strerror(-ret));
	} else {
		if (test_load_delay_ms != 0)
			usleep(test_load_delay_ms * 1000u);
		ret = vgw_state_read_fd(d->xfer_fd, FS_STATE_MAX, FS_STATE_TIMEOUT_MS,
					&d->xfer_buf, &d->xfer_len);
		if (ret < 0)
			snprintf(d->xfer_why, sizeof(d->xfer_why), "reading the state: %s",
				 strerror(-ret));
		else
			test_fault_apply(d);
		if (ret == 0)
			ret = vgw_fs_state_load_buf(d->fs, d->xfer_buf, d->xfer_len,
						    d->xfer_why, sizeof(d->xfer_why));
	}
	d->xfer_result = ret;
	/* before the front-end sees EOF (and sends CHECK_DEVICE_STATE) */
	if (ret == 0)
		vgw_vhost_report(d->name, VGW_VHOST_EV_STATE_DONE, d->xfer_dir);
	close(d->xfer_fd);
	d->xfer_fd = -1;
	free(d->xfer_buf);
	d->xfer_buf = NULL;
	return NULL;
}

/* Wait for the transfer thread, if any; its result. Called with fs_lock
 * held: the thread never takes it. */
static int
xfer_join(struct fs_dev *d)
{
	if (!d->xfer_started)
		return d->xfer_result;
	pthread_join(d->xfer, NULL);
	d->xfer_started = false;
	if (d->xfer_result < 0)
		VGW_LOG(fs, ERR, "%s: device state %s failed: %s", d->name,
			d->xfer_dir == 0 ? "save" : "load", d->xfer_why);
	else if (d->xfer_dir == 0)
		d->states_saved++;
	else
		d->states_loaded++;
	return d->xfer_result;
}

/* SET_DEVICE_STATE_FD. Save: the FUSE session is serialized here, while
 * the device is stopped (nothing in flight: its rings are taken from the
 * workers and drained when they stop), and written by the transfer thread.
 * Load: read and applied by the transfer thread into the connection's
 * fresh engine, before the rings start (new_device waits for it). */
static int
on_state_fd(void *ctx, int vid, uint32_t dir, int fd)
{
	struct fs_dev *d = ctx;
	int ret = 0;

	pthread_mutex_lock(&fs_lock);
	xfer_join(d);
	d->xfer_result = -EIO;
	d->xfer_why[0] = '\0';
	if (d->conn_vid != vid || d->fs == NULL) {
		ret = -ENODEV;
	} else if (d->ready_vid >= 0) {
		VGW_LOG(fs, ERR, "%s: device state %s refused: the device is running",
			d->name, dir == 0 ? "save" : "load");
		ret = -EBUSY;
	} else if (dir == 0) {
		ret = vgw_fs_state_save_buf(d->fs, FS_STATE_MAX, &d->xfer_buf, &d->xfer_len,
					    d->xfer_why, sizeof(d->xfer_why));
		if (ret < 0)
			VGW_LOG(fs, ERR, "%s: device state save refused: %s", d->name, d->xfer_why);
	}
	if (ret == 0) {
		d->xfer_dir = dir;
		d->xfer_fd = fd;
		ret = -pthread_create(&d->xfer, NULL, xfer_main, d);
		d->xfer_started = ret == 0;
		if (ret < 0) {
			free(d->xfer_buf);
			d->xfer_buf = NULL;
			d->xfer_fd = -1;
		}
	}
	if (ret < 0)
		d->xfer_result = ret;
	pthread_mutex_unlock(&fs_lock);
	if (ret == 0)
		VGW_LOG(fs, INFO, "%s: device state %s started", d->name,
			dir == 0 ? "save" : "load");
	return ret;
}

static int
on_state_check(void *ctx, int vid)
{
	struct fs_dev *d = ctx;
	int ret;

	pthread_mutex_lock(&fs_lock);
	ret = d->conn_vid == vid ? xfer_join(d) : -ENODEV;
	pthread_mutex_unlock(&fs_lock);
	VGW_LOG(fs, INFO, "%s: device state check: %s", d->name, ret == 0 ? "ok" : strerror(-ret));
	return ret;
}

static const struct vgw_vhost_ops fs_vhost_ops = {
	.new_connection = on_new_connection,
	.destroy_connection = on_destroy_connection,
	.new_device = on_new_device,
	.destroy_device = on_destroy_device,
	.message = on_message,
	.state_fd = on_state_fd,
	.state_check = on_state_check,
};

int
vgw_fsdev_init(const struct vgw_conf *conf)
{
	unsigned int n = 0, l;

	for (uint16_t i = 0; i < conf->n_devs; i++)
		n += conf->devs[i].type == VGW_DEV_FS;
	if (n == 0)
		return 0;
	test_fault_init();
	CPU_ZERO(&iowq_cpus);
	for (long cpu = 0; cpu < CPU_SETSIZE && cpu < sysconf(_SC_NPROCESSORS_ONLN); cpu++)
		CPU_SET(cpu, &iowq_cpus);
	RTE_LCORE_FOREACH_WORKER(l) {
		rte_cpuset_t ws = rte_lcore_cpuset(l);

		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &ws))
				CPU_CLR(cpu, &iowq_cpus);
	}
	devs = calloc(n, sizeof(*devs));
	if (devs == NULL)
		return -ENOMEM;
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		const struct vgw_conf_dev *c = &conf->devs[i];
		struct fs_dev *d;
		int ret;

		if (c->type != VGW_DEV_FS)
			continue;
		d = &devs[n_devs++];
		snprintf(d->name, sizeof(d->name), "%s", c->name);
		d->conf = c;
		d->index = i;
		d->conn_vid = -1;
		d->ready_vid = -1;
		d->xfer_fd = -1;
		d->xfer_result = -EIO;
		atomic_init(&d->vid, -1);
		d->slots = calloc(FS_SLOTS, sizeof(*d->slots));
		if (d->slots == NULL)
			return -ENOMEM;
		if (access(c->shared_dir, R_OK | X_OK) < 0) {
			VGW_LOG(fs, ERR, "%s: shared_dir %s: %s", d->name, c->shared_dir,
				strerror(errno));
			return -errno;
		}
		ret = vgw_vhost_register(c->socket, d->name, c->mode == VGW_MODE_CLIENT ?
					 VGW_VHOST_F_CLIENT : 0, c->pf_off, &fs_vhost_ops, d);
		if (ret < 0) {
			VGW_LOG(fs, ERR, "%s: cannot register vhost-user socket %s: %s",
				d->name, c->socket, strerror(-ret));
			return ret;
		}
	}
	return vgw_dp_add_provider(fs_tasks);
}

int
vgw_fsdev_start(void)
{
	for (unsigned int i = 0; i < n_devs; i++) {
		if (vgw_vhost_start(devs[i].conf->socket) < 0) {
			VGW_LOG(fs, ERR, "%s: cannot start vhost-user socket %s",
				devs[i].name, devs[i].conf->socket);
			return -EIO;
		}
	}
	return 0;
}

void
vgw_fsdev_stop(void)
{
	for (unsigned int i = 0; i < n_devs; i++)
		vgw_vhost_unregister(devs[i].conf->socket);
	for (unsigned int i = 0; i < n_devs; i++) {
		xfer_join(&devs[i]);
		vgw_fs_destroy(devs[i].fs);
		vgw_vring_mem_free(devs[i].mem);
		free(devs[i].slots);
	}
	free(devs);
	devs = NULL;
	n_devs = 0;
}

unsigned int
vgw_fsdev_count(void)
{
	return n_devs;
}

int
vgw_fsdev_find(const char *name)
{
	for (unsigned int i = 0; i < n_devs; i++)
		if (strcmp(devs[i].name, name) == 0)
			return i;
	return -ENOENT;
}

int
vgw_fsdev_info(unsigned int idx, struct vgw_fsdev_info *in)
{
	struct fs_dev *d;

	if (idx >= n_devs)
		return -ENOENT;
	d = &devs[idx];
	memset(in, 0, sizeof(*in));
	pthread_mutex_lock(&fs_lock);
	snprintf(in->name, sizeof(in->name), "%s", d->name);
	in->stats_slot = d->index * VGW_MAX_QUEUES;
	snprintf(in->socket, sizeof(in->socket), "%s", d->conf->socket);
	snprintf(in->shared_dir, sizeof(in->shared_dir), "%s", d->conf->shared_dir);
	snprintf(in->tag, sizeof(in->tag), "%s", d->conf->tag);
	in->mode = d->conf->mode == VGW_MODE_CLIENT ? "client" : "server";
	in->connected = d->conn_vid >= 0;
	in->ready = d->ready_vid >= 0;
	in->suspended = d->suspended;
	in->vid = d->ready_vid;
	in->queues = d->conf->queues;
	in->active_vrings = d->nvq;
	in->connects = d->connects;
	in->disconnects = d->disconnects;
	if (d->ready_vid >= 0)
		vgw_vhost_features(d->ready_vid, &in->features, &in->protocol_features);
	if (d->fs != NULL) {
		/* the poller's plain counters: a racy but harmless read */
		const struct vgw_fs_stats *st = vgw_fs_stats(d->fs);

		in->requests = st->requests;
		in->errors = st->errors;
		in->malformed = st->malformed;
		in->bytes_read = st->bytes_read;
		in->bytes_written = st->bytes_written;
		in->inodes = vgw_fs_inode_count(d->fs);
		in->handles = vgw_fs_handle_count(d->fs);
	}
	for (uint16_t q = 0; q < d->nvq; q++) {
		in->malformed += d->vq[q].malformed;
		in->inflight_resubmitted += d->vq[q].resubmitted;
		in->inflight |= d->vq[q].inflight != NULL;
	}
	in->inflight_resubmitted += d->resubmitted;
	pthread_mutex_unlock(&fs_lock);
	return 0;
}

/* --- the operator's device state (state-save, state-load) ---------------- */

/* A device whose session may be taken or given: connected, its engine
 * there, nothing running (no worker touches the engine), no transfer. */
static int
state_ready(struct fs_dev *d, char *why, size_t why_len)
{
	if (d->conn_vid < 0 || d->fs == NULL) {
		snprintf(why, why_len, "no front-end is connected");
		return -ENOTCONN;
	}
	if (atomic_load(&d->vid) >= 0) {
		snprintf(why, why_len, "the device is running: suspend it first");
		return -EBUSY;
	}
	if (d->xfer_started) {
		snprintf(why, why_len, "a device state transfer is under way");
		return -EBUSY;
	}
	return 0;
}

int
vgw_fsdev_state_save(unsigned int idx, const char *path, struct vgw_fsdev_state_info *in,
		     char *why, size_t why_len)
{
	struct fs_dev *d;
	void *buf = NULL;
	size_t len = 0;
	char tmp[4096];
	int ret, fd;

	if (idx >= n_devs)
		return -ENOENT;
	d = &devs[idx];
	memset(in, 0, sizeof(*in));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(why, why_len, "path too long");
		return -ENAMETOOLONG;
	}
	pthread_mutex_lock(&fs_lock);
	ret = state_ready(d, why, why_len);
	if (ret == 0)
		ret = vgw_fs_state_save_buf(d->fs, FS_STATE_MAX, &buf, &len, why, why_len);
	if (ret == 0) {
		in->inodes = vgw_fs_inode_count(d->fs);
		in->handles = vgw_fs_handle_count(d->fs);
	}
	pthread_mutex_unlock(&fs_lock);
	if (ret < 0)
		return ret;
	/* whole or not at all: a temporary file, then renamed over path */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "%s: %s", tmp, strerror(errno));
	} else {
		ret = vgw_state_write_fd(fd, buf, len, FS_STATE_TIMEOUT_MS);
		if (ret == 0 && fsync(fd) < 0)
			ret = -errno;
		if (close(fd) < 0 && ret == 0)
			ret = -errno;
		if (ret == 0 && rename(tmp, path) < 0)
			ret = -errno;
		if (ret < 0) {
			snprintf(why, why_len, "%s: %s", path, strerror(-ret));
			unlink(tmp);
		}
	}
	free(buf);
	if (ret == 0) {
		in->bytes = len;
		VGW_LOG(fs, INFO, "%s: device state saved to %s (%zu bytes)", d->name, path, len);
	}
	return ret;
}

int
vgw_fsdev_state_load(unsigned int idx, const char *path, struct vgw_fsdev_state_info *in,
		     char *why, size_t why_len)
{
	const struct vgw_fs_stats *st;
	struct fs_dev *d;
	void *buf = NULL;
	size_t len = 0;
	int ret, fd;

	if (idx >= n_devs)
		return -ENOENT;
	d = &devs[idx];
	memset(in, 0, sizeof(*in));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	ret = vgw_state_read_fd(fd, FS_STATE_MAX, FS_STATE_TIMEOUT_MS, &buf, &len);
	close(fd);
	if (ret < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&fs_lock);
	ret = state_ready(d, why, why_len);
	if (ret == 0)
		ret = vgw_fs_state_load_buf(d->fs, buf, len, why, why_len);
	if (ret == 0) {
		st = vgw_fs_stats(d->fs);
		in->bytes = len;
		in->inodes = vgw_fs_inode_count(d->fs);
		in->handles = vgw_fs_handle_count(d->fs);
		in->stale = st->state_stale_inodes + st->state_stale_handles;
	}
	pthread_mutex_unlock(&fs_lock);
	free(buf);
	if (ret == 0)
		VGW_LOG(fs, INFO, "%s: device state loaded from %s (%zu bytes)", d->name, path, len);
	return ret;
}

int
vgw_fsdev_suspend(unsigned int idx, bool suspend)
{
	struct fs_dev *d;

	if (idx >= n_devs)
		return -ENOENT;
	d = &devs[idx];
	pthread_mutex_lock(&fs_lock);
	if (d->suspended == suspend) {
		pthread_mutex_unlock(&fs_lock);
		return 0;
	}
	d->suspended = suspend;
	publish(d);
	pthread_mutex_unlock(&fs_lock);
	VGW_LOG(fs, INFO, "%s: %s by the operator", d->name, suspend ? "suspended" : "resumed");
	return 1;
}
