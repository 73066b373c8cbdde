/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the vhost-user message hooks (lib/vhost/vhost.c) and
 * what they call of the device base (device.c, device_state.c: the
 * DEVICE_STATE transfer thread included, vring.c's memory table check),
 * compiled into this program with DPDK's headers only; the rte_vhost
 * functions they call are stubbed, no EAL. The devices are registered as
 * the gateway does (vgw_device_add); the stubs keep the callbacks and the
 * message hooks vhost.c gives rte_vhost, and the harness calls them as
 * rte_vhost 22.11's event thread would, with messages laid out as its
 * struct vhu_msg_context (header, 632-byte payload, up to 8 fds).
 *
 * Devices: fs0, a device of its own rings (remap_needed checks the memory
 * table as fs does; device state, keeper fds), and net0, one without
 * (rte_vhost's rings, no device state). vid 0 and 2 are front-ends of fs0
 * (2 is refused while 0 is connected), 1 of net0, 3 of no device.
 *
 * The input: a configuration byte (keeper mode; which of the types'
 * operations fail; the size of the state saved), the negotiated features
 * (LOG_ALL, RING_PACKED, and the protocol feature INFLIGHT_SHMFD), then
 * operations:
 * connect, ready, stop, disconnect, vring state, and messages (request,
 * flags, size, payload, and fds: memfds of a chosen size, pipe ends with
 * bytes to read, /dev/null). After the pre hook the harness does what
 * rte_vhost would: a message left to it (NOT_HANDLED) may succeed (the
 * memory table taken, the post hook called) and its fds are closed.
 * Checked: a refused or answered message's fds are closed (or, for
 * SET_DEVICE_STATE_FD, the transfer's), never one of anyone else; inflight
 * regions never reach rte_vhost: GET_INFLIGHT_FD's reply is a sealed
 * region of the size asked whose fd is closed once sent, a SET_INFLIGHT_FD
 * taken is mapped as its message laid it out, and at a SET_VRING_KICK
 * whatever the front-end wrote into the ring's area (header, entries; from
 * the input) the hook indexes only the area and moves the ring's base by
 * no more than its entries; other replies are 8-byte u64s; no fd is left
 * open after the connections end. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_log.h>
#include <rte_vhost.h>

#include "vgw_device.h"
#include "vgw_dp.h"
#include "vgw_vhost.h"
#include "vgw_vring.h"
#include "fuzz_stubs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_VIDS 4
#define FZ_MAX_FDS 8
#define FZ_PAYLOAD 632
#define FZ_STATE_MAX 2048 /* under a pipe's capacity: the save never waits */

/* rte_vhost 22.11's struct vhu_msg_context, as vhost.c reads it. */
struct fz_msg_ctx {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	uint8_t payload[FZ_PAYLOAD];
	int fds[FZ_MAX_FDS];
	int fd_num;
} __attribute__((packed));

/* --- dp ------------------------------------------------------------------ */

int
vgw_dp_add_provider(vgw_dp_provider_fn fn)
{
	(void)fn;
	return 0;
}

void
vgw_dp_rebuild(void)
{
}

void
vgw_dp_rebuild_later(void)
{
}

/* --- rte_vhost ------------------------------------------------------------ */

static const struct rte_vhost_device_ops *fz_dev_ops[2];
static const struct rte_vhost_user_extern_ops *fz_ext_ops[FZ_VIDS];
static struct vgw_conf_dev fz_cdev[2];
static struct rte_vhost_memory *fz_table; /* rte_vhost's memory table */
static uint64_t fz_features;		  /* negotiated: LOG_ALL, RING_PACKED */
static uint64_t fz_protocol_features;	  /* negotiated: INFLIGHT_SHMFD */
/* the ring a SET_VRING_KICK's hook looks at (its used index, its base) */
static struct {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[256];
} fz_used;
static uint16_t fz_ring_size, fz_last_avail, fz_last_used;

int
rte_vhost_get_ifname(int vid, char *buf, size_t len)
{
	static const int dev_of_vid[FZ_VIDS] = { 0, 1, 0, -1 };

	if (vid < 0 || vid >= FZ_VIDS)
		abort();
	snprintf(buf, len, "%s",
		 dev_of_vid[vid] < 0 ? "/run/vhostgw/none.sock" : fz_cdev[dev_of_vid[vid]].socket);
	return 0;
}

int
rte_vhost_extern_callback_register(int vid, struct rte_vhost_user_extern_ops const *const ops,
				   void *ctx)
{
	(void)ctx;
	if (vid < 0 || vid >= FZ_VIDS)
		abort();
	fz_ext_ops[vid] = ops;
	return 0;
}

int
rte_vhost_driver_register(const char *path, uint64_t flags)
{
	(void)path;
	(void)flags;
	return 0;
}

int
rte_vhost_driver_unregister(const char *path)
{
	(void)path;
	return 0;
}

int
rte_vhost_driver_start(const char *path)
{
	(void)path;
	return 0;
}

int
rte_vhost_driver_callback_register(const char *path, struct rte_vhost_device_ops const *const ops)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(path, fz_cdev[i].socket) == 0)
			fz_dev_ops[i] = ops;
	return 0;
}

int
rte_vhost_driver_disable_features(const char *path, uint64_t features)
{
	(void)path;
	(void)features;
	return 0;
}

int
rte_vhost_driver_set_features(const char *path, uint64_t features)
{
	(void)path;
	(void)features;
	return 0;
}

int
rte_vhost_driver_get_protocol_features(const char *path, uint64_t *protocol_features)
{
	(void)path;
	*protocol_features = 0;
	return 0;
}

int
rte_vhost_driver_set_protocol_features(const char *path, uint64_t protocol_features)
{
	(void)path;
	(void)protocol_features;
	return 0;
}

int
rte_vhost_get_negotiated_features(int vid, uint64_t *features)
{
	(void)vid;
	*features = fz_features;
	return 0;
}

int
rte_vhost_get_negotiated_protocol_features(int vid, uint64_t *protocol_features)
{
	(void)vid;
	*protocol_features = fz_protocol_features;
	return 0;
}

int
rte_vhost_get_mem_table(int vid, struct rte_vhost_memory **mem)
{
	size_t bytes;

	(void)vid;
	if (fz_table == NULL)
		return -1;
	bytes = sizeof(*fz_table) + fz_table->nregions * sizeof(fz_table->regions[0]);
	*mem = malloc(bytes);
	if (*mem == NULL)
		return -1;
	memcpy(*mem, fz_table, bytes);
	return 0;
}

/* no dirty log mapped here */
int
rte_vhost_get_log_base(int vid, uint64_t *log_base, uint64_t *log_size)
{
	(void)vid;
	*log_base = 0;
	*log_size = 0;
	return -1;
}

void
rte_vhost_log_write(int vid, uint64_t addr, uint64_t len)
{
	(void)vid;
	(void)addr;
	(void)len;
}

/* Not reached from the hooks: the data path's. */
uint16_t
rte_vhost_get_vring_num(int vid)
{
	(void)vid;
	abort();
}

uint16_t
rte_vhost_dequeue_burst(int vid, uint16_t queue_id, struct rte_mempool *mbuf_pool,
			struct rte_mbuf **pkts, uint16_t count)
{
	(void)vid;
	(void)queue_id;
	(void)mbuf_pool;
	(void)pkts;
	(void)count;
	abort();
}

uint16_t
rte_vhost_enqueue_burst(int vid, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t count)
{
	(void)vid;
	(void)queue_id;
	(void)pkts;
	(void)count;
	abort();
}

int
rte_vhost_enable_guest_notification(int vid, uint16_t queue_id, int enable)
{
	(void)vid;
	(void)queue_id;
	(void)enable;
	abort();
}

int
rte_vhost_get_vhost_ring_inflight(int vid, uint16_t vring_idx,
				  struct rte_vhost_ring_inflight *vring)
{
	(void)vid;
	(void)vring_idx;
	(void)vring;
	abort(); /* the inflight regions are ours: rte_vhost never has one */
}

/* Only the SET_VRING_KICK hook asks (the devices here walk no rings). */
int
rte_vhost_get_vhost_vring(int vid, uint16_t vring_idx, struct rte_vhost_vring *vring)
{
	(void)vid;
	(void)vring_idx;
	memset(vring, 0, sizeof(*vring));
	vring->used = (struct vring_used *)&fz_used;
	vring->size = fz_ring_size;
	return 0;
}

int
rte_vhost_get_vring_base(int vid, uint16_t queue_id, uint16_t *last_avail_idx,
			 uint16_t *last_used_idx)
{
	(void)vid;
	(void)queue_id;
	*last_avail_idx = fz_last_avail;
	*last_used_idx = fz_last_used;
	return 0;
}

int
rte_vhost_set_vring_base(int vid, uint16_t queue_id, uint16_t last_avail_idx,
			 uint16_t last_used_idx)
{
	(void)vid;
	(void)queue_id;
	fz_last_avail = last_avail_idx;
	fz_last_used = last_used_idx;
	return 0;
}

void
rte_vhost_log_used_vring(int vid, uint16_t vring_idx, uint64_t offset, uint64_t len)
{
	(void)vid;
	(void)vring_idx;
	(void)offset;
	(void)len;
	abort();
}

int
rte_vhost_vring_call_nonblock(int vid, uint16_t vring_idx)
{
	(void)vid;
	(void)vring_idx;
	abort();
}

/* --- the device types ------------------------------------------------------ */

static struct vgw_device fz_devs[2];
static int fz_logtype;
static uint8_t fz_cfg;
static struct rte_vhost_memory *fz_dev_mem; /* fs0's copy, as fs keeps one */
static int fz_keep[2] = { -1, -1 };	    /* what fs0 keeps under the keeper */

enum {
	FZ_CFG_KEEPER = 1 << 0,
	FZ_CFG_START_FAILS = 1 << 1,
	FZ_CFG_REMAP_FAILS = 1 << 2,
	FZ_CFG_SAVE_FAILS = 1 << 3,
	FZ_CFG_ADOPT_FAILS = 1 << 4,
};

static int
fz_start(struct vgw_device *dev, int vid)
{
	(void)dev;
	(void)vid;
	if (fz_cfg & FZ_CFG_START_FAILS)
		return -EINVAL;
	free(fz_dev_mem);
	fz_dev_mem = NULL;
	return rte_vhost_get_mem_table(vid, &fz_dev_mem) < 0 ? 0 : 0;
}

static void
fz_stop(struct vgw_device *dev, int vid)
{
	(void)dev;
	(void)vid;
	free(fz_dev_mem);
	fz_dev_mem = NULL;
}

static bool
fz_remap_needed(struct vgw_device *dev, const struct vgw_vhost_msg *m)
{
	(void)dev;
	if (m->size > FZ_PAYLOAD)
		abort();
	return m->request != VGW_VHOST_MSG_SET_MEM_TABLE ||
	       !vgw_vring_mem_same(fz_dev_mem, m->payload, m->size);
}

static int
fz_remap_done(struct vgw_device *dev, int vid)
{
	struct rte_vhost_memory *mem = NULL;

	(void)dev;
	if ((fz_cfg & FZ_CFG_REMAP_FAILS) || rte_vhost_get_mem_table(vid, &mem) < 0)
		return -EFAULT;
	free(fz_dev_mem);
	fz_dev_mem = mem;
	return 0;
}

static int
fz_state_save(struct vgw_device *dev, size_t max, void **buf, size_t *len, char *why,
	      size_t why_len)
{
	size_t n = (fz_cfg >> 5) * (FZ_STATE_MAX / 7);

	(void)dev;
	if (max < FZ_STATE_MAX)
		abort();
	if (fz_cfg & FZ_CFG_SAVE_FAILS) {
		snprintf(why, why_len, "nothing to save");
		return -EINVAL;
	}
	*buf = malloc(n + 1);
	if (*buf == NULL)
		return -ENOMEM;
	memset(*buf, 0x5a, n + 1);
	*len = n;
	return 0;
}

static int
fz_state_load(struct vgw_device *dev, const void *buf, size_t len, char *why, size_t why_len)
{
	(void)dev;
	if (len > 0 && ((const uint8_t *)buf)[0] & 1) {
		snprintf(why, why_len, "a bad state");
		return -EINVAL;
	}
	return 0;
}

static int
fz_keep_fds(struct vgw_device *dev, int *fds, unsigned int max)
{
	(void)dev;
	if (max < 2)
		abort();
	fds[0] = fz_keep[0];
	fds[1] = fz_keep[1];
	return 2;
}

static int
fz_adopt(struct vgw_device *dev, const int *fds, unsigned int n, char *why, size_t why_len)
{
	(void)dev;
	if (n == 0 || n > FZ_MAX_FDS)
		abort();
	for (unsigned int i = 0; i < n; i++)
		if (fcntl(fds[i], F_GETFD) < 0)
			abort(); /* the message's fds are open while we look */
	if (fz_cfg & FZ_CFG_ADOPT_FAILS) {
		snprintf(why, why_len, "not a session");
		return -EINVAL;
	}
	return 0;
}

static int
fz_vring_state(struct vgw_device *dev, int vid, uint16_t vring, int enable)
{
	(void)dev;
	(void)vid;
	(void)vring;
	(void)enable;
	return 0;
}

static const struct vgw_device_ops fz_fs_ops = {
	.logtype = &fz_logtype,
	.start = fz_start,
	.stop = fz_stop,
	.remap_needed = fz_remap_needed,
	.remap_done = fz_remap_done,
	.vring_state = fz_vring_state,
	.state_save = fz_state_save,
	.state_load = fz_state_load,
	.keep_fds = fz_keep_fds,
	.adopt = fz_adopt,
};

static const struct vgw_device_ops fz_net_ops = {
	.logtype = &fz_logtype,
};

static void
fz_observer(const char *name, enum vgw_vhost_event ev, uint64_t arg)
{
	(void)arg;
	if (ev >= VGW_VHOST_EV_COUNT || (strcmp(name, "fs0") != 0 && strcmp(name, "net0") != 0))
		abort();
}

/* --- the harness --------------------------------------------------------- */

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static uint8_t
fz_u8(struct fz_in *in)
{
	uint8_t v = 0;

	if (in->n > 0) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static uint16_t
fz_u16(struct fz_in *in)
{
	uint16_t lo = fz_u8(in);

	return lo | (uint16_t)fz_u8(in) << 8;
}

/* The read ends of pipes whose write end a message carried: drained and
 * closed once the transfers ended. */
static int fz_readers[64];
static unsigned int fz_n_readers;

static void
fz_close(int fd)
{
	if (close(fd) < 0)
		abort(); /* someone closed one of ours */
}

/* An fd of a message, of the kind the input says. */
static int
fz_make_fd(struct fz_in *in)
{
	uint8_t raw = fz_u8(in), kind = raw % 4;
	int fd = -1, p[2];

	switch (kind) {
	case 0: { /* a region: a memfd of a chosen size (kind byte 4: one that
		   * cannot be sealed) */
		uint64_t sz = (uint64_t)fz_u16(in) * 64;

		fd = memfd_create("fz", MFD_CLOEXEC | (raw == 0 ? MFD_ALLOW_SEALING : 0));
		if (fd < 0 || ftruncate(fd, (off_t)sz) < 0)
			abort();
		break;
	}
	case 1: { /* a state stream to load: bytes, then EOF */
		size_t n = RTE_MIN((size_t)fz_u8(in) * 8, in->n);

		if (pipe2(p, O_CLOEXEC) < 0)
			abort();
		if (n > 0 && write(p[1], in->p, n) != (ssize_t)n)
			abort();
		in->p += n;
		in->n -= n;
		fz_close(p[1]);
		fd = p[0];
		break;
	}
	case 2: /* where a saved state goes */
		if (pipe2(p, O_CLOEXEC) < 0)
			abort();
		if (fz_n_readers == RTE_DIM(fz_readers)) {
			fz_close(p[0]);
			fz_close(p[1]);
			return open("/dev/null", O_RDONLY | O_CLOEXEC);
		}
		fz_readers[fz_n_readers++] = p[0];
		fd = p[1];
		break;
	default:
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		break;
	}
	if (fd < 0)
		abort();
	return fd;
}

static uint32_t
fz_request(struct fz_in *in)
{
	uint8_t r = fz_u8(in);

	if (r <= VGW_VHOST_MSG_COUNT)
		return r;
	switch (r % 4) {
	case 0:
		return VGW_VHOST_MSG_KEEPER_BEGIN;
	case 1:
		return VGW_VHOST_MSG_KEEPER_END;
	case 2:
		return VGW_VHOST_MSG_KEEPER_TABLES;
	default:
		return (uint32_t)fz_u16(in) << 16 | fz_u16(in);
	}
}

/* SET_MEM_TABLE, as rte_vhost takes it when it succeeds: its table. */
static void
fz_take_table(const struct fz_msg_ctx *c)
{
	uint32_t n;
	struct rte_vhost_memory *m;

	if (c->size < 8)
		return;
	memcpy(&n, c->payload, sizeof(n));
	if (n == 0 || n > 8 || c->size < 8 + n * 32u || c->fd_num != (int)n)
		return;
	m = calloc(1, sizeof(*m) + n * sizeof(m->regions[0]));
	if (m == NULL)
		abort();
	m->nregions = n;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r[4];

		memcpy(r, c->payload + 8 + i * 32, sizeof(r));
		m->regions[i].guest_phys_addr = r[0];
		m->regions[i].size = r[1];
		m->regions[i].guest_user_addr = r[2];
	}
	free(fz_table);
	fz_table = m;
}

struct fz_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

#define FZ_INFLIGHT_SHMFD (1ULL << 12)

/* A queue's inflight area: split rings only (our devices offer no packed
 * ones with INFLIGHT_SHMFD). */
static uint64_t
fz_inflight_queue_bytes(uint16_t queue_size)
{
	return RTE_ALIGN_MUL_CEIL(sizeof(struct rte_vhost_inflight_desc_split) * queue_size +
					  sizeof(uint64_t) + sizeof(uint16_t) * 4,
				  64);
}

/* GET_INFLIGHT_FD answered: one fd, a region for the queues asked, sized
 * as it will be indexed and sealed against shrinking. */
static void
fz_check_get_reply(const struct fz_msg_ctx *c, const struct fz_inflight *asked)
{
	struct fz_inflight out;
	struct stat st;
	int seals;

	if (c->size != sizeof(out) || c->fd_num != 1 || !(fz_protocol_features & FZ_INFLIGHT_SHMFD))
		abort();
	memcpy(&out, c->payload, sizeof(out));
	if (out.num_queues != asked->num_queues || out.queue_size != asked->queue_size ||
	    out.mmap_offset != 0 ||
	    out.mmap_size < out.num_queues * fz_inflight_queue_bytes(out.queue_size))
		abort();
	seals = fcntl(c->fds[0], F_GET_SEALS);
	if (fstat(c->fds[0], &st) < 0 || (uint64_t)st.st_size != out.mmap_size || seals < 0 ||
	    !(seals & F_SEAL_SHRINK))
		abort();
}

/* SET_INFLIGHT_FD taken: the device maps the region as the message laid
 * it out, each area's desc_num written. */
static void
fz_check_set(const struct vgw_device *dev, const struct fz_inflight *in)
{
	const struct vgw_device_inflight *r = &dev->inflight;

	if (!(fz_protocol_features & FZ_INFLIGHT_SHMFD) || r->map == NULL ||
	    r->len != in->mmap_size || r->num_queues != in->num_queues ||
	    r->queue_size != in->queue_size ||
	    r->queue_bytes != fz_inflight_queue_bytes(in->queue_size) ||
	    (uint64_t)r->num_queues * r->queue_bytes > r->len)
		abort();
	for (uint16_t q = 0; q < r->num_queues; q++)
		if (((const struct rte_vhost_inflight_info_split *)(r->map + q * r->queue_bytes))
			    ->desc_num != r->queue_size)
			abort();
}

/* Before a SET_VRING_KICK's post hook, with a region: the ring (size, used
 * index, base) and what the front-end wrote into the ring's area (its
 * header, an entry in flight), all from the input. */
static struct rte_vhost_inflight_info_split *
fz_kick_setup(struct fz_in *in, const struct vgw_device *dev, int vid, uint16_t ring)
{
	const struct vgw_device_inflight *r = &dev->inflight;
	struct rte_vhost_inflight_info_split *a;
	uint8_t hdr[16];

	if (r->map == NULL || r->vid != vid || ring >= r->num_queues ||
	    !(fz_protocol_features & FZ_INFLIGHT_SHMFD))
		return NULL;
	a = (struct rte_vhost_inflight_info_split *)(r->map + ring * r->queue_bytes);
	fz_ring_size = (uint16_t)(1u << (fz_u8(in) % 16));
	fz_used.idx = fz_u16(in);
	fz_last_avail = fz_u16(in);
	fz_last_used = fz_used.idx;
	for (unsigned int i = 0; i < sizeof(hdr); i++)
		hdr[i] = fz_u8(in);
	memcpy(a, hdr, sizeof(hdr));
	a->desc[fz_u16(in) % r->queue_size].inflight = fz_u8(in);
	return a;
}

/* After it: the area is the device's layout again, and the ring's base
 * moved by no more than the ring's entries. */
static void
fz_kick_check(const struct vgw_device *dev, const struct rte_vhost_inflight_info_split *a,
	      uint16_t avail0)
{
	if (a == NULL || fz_ring_size > dev->inflight.queue_size)
		return; /* a ring the area cannot hold: left alone */
	if (a->desc_num != dev->inflight.queue_size || a->version != 1 ||
	    (uint16_t)(fz_last_avail - avail0) > fz_ring_size)
		abort();
}

static void
fz_message(struct fz_in *in, int vid, bool vhost_ok)
{
	const struct vgw_device *dev = &fz_devs[vid == 1];
	struct rte_vhost_inflight_info_split *area = NULL;
	struct fz_inflight asked;
	struct fz_msg_ctx c;
	int orig[FZ_MAX_FDS], n_orig, reply_fd;
	enum rte_vhost_msg_result r;
	uint16_t avail0;
	size_t len;

	memset(&c, 0, sizeof(c));
	c.request = fz_request(in);
	c.flags = fz_u8(in);
	c.size = fz_u16(in) % (FZ_PAYLOAD + 1);
	len = RTE_MIN((size_t)c.size, in->n);
	memcpy(c.payload, in->p, len);
	in->p += len;
	in->n -= len;
	n_orig = fz_u8(in) % (FZ_MAX_FDS + 1);
	for (int i = 0; i < n_orig; i++)
		c.fds[i] = orig[i] = fz_make_fd(in);
	c.fd_num = n_orig;
	memcpy(&asked, c.payload, sizeof(asked));

	if (fz_ext_ops[vid] == NULL) {
		/* no hooks: rte_vhost alone */
		for (int i = 0; i < n_orig; i++)
			fz_close(orig[i]);
		return;
	}
	r = fz_ext_ops[vid]->pre_msg_handle(vid, &c);
	switch (r) {
	case RTE_VHOST_MSG_RESULT_NOT_HANDLED:
		if (c.fd_num != n_orig || memcmp(c.fds, orig, sizeof(int) * n_orig) != 0)
			abort(); /* left to rte_vhost as it came */
		/* inflight regions are never left to rte_vhost */
		if (vid != 3 && (c.request == VGW_VHOST_MSG_GET_INFLIGHT_FD ||
				 c.request == VGW_VHOST_MSG_SET_INFLIGHT_FD))
			abort();
		if (vhost_ok) {
			if (c.request == VGW_VHOST_MSG_SET_MEM_TABLE)
				fz_take_table(&c);
			if (c.request == VGW_VHOST_MSG_SET_VRING_KICK && c.size >= 8)
				area = fz_kick_setup(in, dev, vid, c.payload[0]);
			avail0 = fz_last_avail;
			if (fz_ext_ops[vid]->post_msg_handle(vid, &c) !=
			    RTE_VHOST_MSG_RESULT_NOT_HANDLED)
				abort();
			fz_kick_check(dev, area, avail0);
		}
		for (int i = 0; i < n_orig; i++)
			fz_close(orig[i]);
		return;
	case RTE_VHOST_MSG_RESULT_REPLY:
		if (c.request == VGW_VHOST_MSG_GET_INFLIGHT_FD) {
			/* our region's fd goes with the reply; rte_vhost then
			 * calls the post hook, which closes our copy */
			fz_check_get_reply(&c, &asked);
			reply_fd = c.fds[0];
			fz_ext_ops[vid]->post_msg_handle(vid, &c);
			if (fcntl(reply_fd, F_GETFD) >= 0)
				abort();
		} else {
			if (c.size != 8 || c.fd_num < 0 || c.fd_num > FZ_MAX_FDS)
				abort();
			for (int i = 0; i < c.fd_num; i++)
				if (c.fds[i] != fz_keep[0] && c.fds[i] != fz_keep[1])
					abort(); /* only what the device keeps goes back */
		}
		/* fall through */
	case RTE_VHOST_MSG_RESULT_OK:
		if (r == RTE_VHOST_MSG_RESULT_OK && c.request == VGW_VHOST_MSG_SET_INFLIGHT_FD) {
			fz_check_set(dev, &asked);
			fz_ext_ops[vid]->post_msg_handle(vid, &c);
		}
		/* fall through */
	case RTE_VHOST_MSG_RESULT_ERR:
		/* the message's fds closed, or the transfer's: its thread
		 * closes it, then sets xfer.fd to -1, so read that first */
		for (int i = 0; i < n_orig; i++) {
			int xfd = __atomic_load_n(&fz_devs[0].xfer.fd, __ATOMIC_ACQUIRE);

			if (orig[i] != xfd && orig[i] != fz_keep[0] && orig[i] != fz_keep[1] &&
			    fcntl(orig[i], F_GETFD) >= 0)
				abort();
		}
		return;
	default:
		abort();
	}
}

static void
fz_init(void)
{
	static const char *const names[2] = { "fs0", "net0" };
	static const enum vgw_dev_type types[2] = { VGW_DEV_FS, VGW_DEV_NET };

	for (int i = 0; i < 2; i++) {
		struct vgw_conf_dev *cd = &fz_cdev[i];

		snprintf(cd->name, sizeof(cd->name), "%s", names[i]);
		cd->type = types[i];
		snprintf(cd->socket, sizeof(cd->socket), "/run/vhostgw/%s.sock", names[i]);
		cd->mode = VGW_MODE_CLIENT;
		cd->queues = 1;
		cd->sockperm.uid = VGW_CONF_ID_KEEP;
		cd->sockperm.gid = VGW_CONF_ID_KEEP;
		cd->sockperm.mode = VGW_CONF_MODE_KEEP;
		if (vgw_device_add(&fz_devs[i], cd, i, i == 0 ? &fz_fs_ops : &fz_net_ops) < 0)
			abort();
	}
	if (fz_dev_ops[0] == NULL || fz_dev_ops[1] == NULL)
		abort();
	fz_keep[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fz_keep[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	vgw_vhost_set_observer(fz_observer);
}

static const struct rte_vhost_device_ops *
fz_ops_of(int vid)
{
	return vid == 3 ? NULL : fz_dev_ops[vid == 1];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	struct fz_in in = { data, size };
	bool connected[FZ_VIDS] = { false };
	unsigned int ops = 0, base_fds;

	if (!inited) {
		fz_init();
		inited = true;
	}
	/* counted per input: between inputs libFuzzer may open fds of its
	 * own (the pipes to llvm-symbolizer, once it prints a new function) */
	base_fds = fz_open_fds();
	fz_cfg = fz_u8(&in);
	vgw_vhost_set_keeper_mode(fz_cfg & FZ_CFG_KEEPER);
	fz_features = fz_u8(&in);
	fz_protocol_features = fz_features & 4 ? FZ_INFLIGHT_SHMFD : 0;
	fz_features = (fz_features & 1 ? 1ULL << 26 : 0) | (fz_features & 2 ? 1ULL << 34 : 0);
	while (in.n > 0 && ops++ < 64) {
		uint8_t op = fz_u8(&in);
		int vid = (op >> 3) & 3;
		const struct rte_vhost_device_ops *o = fz_ops_of(vid);

		switch (op & 7) {
		case 0:
			if (o != NULL && !connected[vid] && o->new_connection(vid) == 0)
				connected[vid] = true;
			break;
		case 1:
			if (o != NULL && connected[vid])
				o->new_device(vid);
			break;
		case 2:
			if (o != NULL && connected[vid])
				o->destroy_device(vid);
			break;
		case 3:
			if (o != NULL && connected[vid]) {
				o->destroy_device(vid);
				o->destroy_connection(vid);
				connected[vid] = false;
				fz_ext_ops[vid] = NULL;
			}
			break;
		case 4:
			if (o != NULL && connected[vid])
				o->vring_state_changed(vid, op >> 5, op & 0x80);
			break;
		default:
			if (connected[vid] || vid == 3)
				fz_message(&in, vid, !(op & 0x80));
			break;
		}
	}
	/* the front-ends go: rte_vhost stops the devices, then the connections */
	for (int vid = 0; vid < FZ_VIDS; vid++) {
		const struct rte_vhost_device_ops *o = fz_ops_of(vid);

		if (o != NULL && connected[vid]) {
			o->destroy_device(vid);
			o->destroy_connection(vid);
		}
		fz_ext_ops[vid] = NULL;
	}
	for (unsigned int i = 0; i < fz_n_readers; i++)
		fz_close(fz_readers[i]);
	fz_n_readers = 0;
	if (fz_devs[0].xfer.started || atomic_load(&fz_devs[0].conn_vid) >= 0 ||
	    atomic_load(&fz_devs[1].conn_vid) >= 0)
		abort();
	free(fz_table);
	fz_table = NULL;
	free(fz_dev_mem);
	fz_dev_mem = NULL;
	if (!fz_open_fds_are(base_fds))
		abort(); /* an fd left open */
	return 0;
}
