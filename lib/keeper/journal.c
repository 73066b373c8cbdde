/* SPDX-License-Identifier: BSD-3-Clause */
/* The journal of one device: what its front-end set up, kept so that a
 * restarted gateway can be brought to the same state without the
 * front-end noticing. The keeper records every message it relays; a
 * message that replaces state replaces the entry (and its fds). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vgw_keeper.h"
#include "vgw_vhost.h"

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Replace *slot with a dup of fd (-1 for none). */
static int
keep_fd(int *slot, int fd)
{
	int d = -1;

	if (fd >= 0) {
		d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (d < 0)
			return -errno;
	}
	close_fd(slot);
	*slot = d;
	return 0;
}

static void
ring_init(struct vk_ring *r)
{
	memset(r, 0, sizeof(*r));
	r->kick_fd = r->call_fd = r->err_fd = -1;
}

void
vk_journal_init(struct vk_journal *j, uint32_t max_rings)
{
	memset(j, 0, sizeof(*j));
	j->max_rings = max_rings > VK_MAX_RINGS ? VK_MAX_RINGS : max_rings;
	j->log_fd = j->inflight_fd = j->backend_fd = -1;
	for (unsigned int i = 0; i < VK_MAX_FDS; i++)
		j->mem_fds[i] = -1;
	for (unsigned int i = 0; i < VK_MAX_RINGS; i++)
		ring_init(&j->rings[i]);
}

static void
close_mem(struct vk_journal *j)
{
	for (unsigned int i = 0; i < j->n_mem_fds; i++)
		close_fd(&j->mem_fds[i]);
	j->n_mem_fds = 0;
	j->mem_set = false;
}

void
vk_journal_reset(struct vk_journal *j)
{
	close_mem(j);
	close_fd(&j->log_fd);
	close_fd(&j->inflight_fd);
	close_fd(&j->backend_fd);
	for (unsigned int i = 0; i < VK_MAX_RINGS; i++) {
		close_fd(&j->rings[i].kick_fd);
		close_fd(&j->rings[i].call_fd);
		close_fd(&j->rings[i].err_fd);
	}
	vk_journal_init(j, j->max_rings);
}

static int
apply_mem(struct vk_journal *j, const struct vk_msg *m)
{
	int ret = 0;

	close_mem(j);
	memcpy(j->mem, m->payload, m->size);
	j->mem_size = m->size;
	for (unsigned int i = 0; i < m->n_fds; i++) {
		j->mem_fds[i] = -1;
		if (ret == 0)
			ret = keep_fd(&j->mem_fds[i], m->fds[i]);
	}
	j->n_mem_fds = m->n_fds;
	j->mem_set = ret == 0;
	return ret;
}

static int
apply_ring(struct vk_journal *j, const struct vk_msg *m)
{
	struct vk_ring *r = &j->rings[vk_msg_ring(m)];
	int fd = m->n_fds > 0 ? m->fds[0] : -1;
	uint32_t num;

	memcpy(&num, m->payload + 4, sizeof(num));
	switch (m->request) {
	case VGW_VHOST_MSG_SET_VRING_NUM:
		r->num = num;
		r->num_set = true;
		return 0;
	case VGW_VHOST_MSG_SET_VRING_BASE:
		r->base = num;
		r->base_set = true;
		return 0;
	case VGW_VHOST_MSG_SET_VRING_ENABLE:
		r->enable = num;
		r->enable_set = true;
		return 0;
	case VGW_VHOST_MSG_SET_VRING_ADDR:
		memcpy(r->addr, m->payload, sizeof(r->addr));
		r->addr_set = true;
		return 0;
	case VGW_VHOST_MSG_SET_VRING_KICK:
		r->kick_set = true;
		r->started = true;
		return keep_fd(&r->kick_fd, fd);
	case VGW_VHOST_MSG_SET_VRING_CALL:
		r->call_set = true;
		return keep_fd(&r->call_fd, fd);
	case VGW_VHOST_MSG_SET_VRING_ERR:
		r->err_set = true;
		return keep_fd(&r->err_fd, fd);
	default:
		return 0;
	}
}

int
vk_journal_apply(struct vk_journal *j, const struct vk_msg *m)
{
	switch (m->request) {
	case VGW_VHOST_MSG_SET_OWNER:
		j->owner = true;
		return 0;
	case VGW_VHOST_MSG_RESET_OWNER:
	case VGW_VHOST_MSG_RESET_DEVICE:
		vk_journal_reset(j);
		return 0;
	case VGW_VHOST_MSG_SET_FEATURES:
		j->features = vk_msg_u64(m);
		j->features_set = true;
		return 0;
	case VGW_VHOST_MSG_SET_PROTOCOL_FEATURES:
		j->pf = vk_msg_u64(m);
		j->pf_set = true;
		return 0;
	case VGW_VHOST_MSG_NET_SET_MTU:
		j->mtu = vk_msg_u64(m);
		j->mtu_set = true;
		return 0;
	case VGW_VHOST_MSG_SET_STATUS:
		j->status = vk_msg_u64(m);
		j->status_set = true;
		return 0;
	case VGW_VHOST_MSG_SET_MEM_TABLE:
		return apply_mem(j, m);
	case VGW_VHOST_MSG_SET_LOG_BASE:
		memcpy(j->log, m->payload, sizeof(j->log));
		j->log_set = true;
		return keep_fd(&j->log_fd, m->fds[0]);
	case VGW_VHOST_MSG_SET_INFLIGHT_FD:
		memcpy(j->inflight, m->payload, sizeof(j->inflight));
		j->inflight_set = true;
		return keep_fd(&j->inflight_fd, m->fds[0]);
	case VGW_VHOST_MSG_SET_BACKEND_REQ_FD:
		return keep_fd(&j->backend_fd, m->fds[0]);
	case VGW_VHOST_MSG_SET_VRING_NUM:
	case VGW_VHOST_MSG_SET_VRING_BASE:
	case VGW_VHOST_MSG_SET_VRING_ADDR:
	case VGW_VHOST_MSG_SET_VRING_KICK:
	case VGW_VHOST_MSG_SET_VRING_CALL:
	case VGW_VHOST_MSG_SET_VRING_ERR:
	case VGW_VHOST_MSG_SET_VRING_ENABLE:
		return apply_ring(j, m);
	default:
		return 0;
	}
}

int
vk_journal_apply_reply(struct vk_journal *j, const struct vk_msg *req, const struct vk_msg *reply)
{
	struct vk_ring *r;
	uint32_t num;

	switch (req->request) {
	case VGW_VHOST_MSG_GET_VRING_BASE:
		r = &j->rings[vk_msg_ring(req)];
		memcpy(&num, reply->payload + 4, sizeof(num));
		r->base = num;
		r->base_set = true;
		r->started = false;
		r->kick_set = false;
		close_fd(&r->kick_fd);
		return 0;
	case VGW_VHOST_MSG_GET_INFLIGHT_FD:
		if (reply->size != sizeof(j->inflight) || reply->n_fds != 1)
			return 0; /* refused */
		memcpy(j->inflight, reply->payload, sizeof(j->inflight));
		j->inflight_set = true;
		return keep_fd(&j->inflight_fd, reply->fds[0]);
	default:
		return 0;
	}
}

/* struct vhost_memory_region */
struct region {
	uint64_t gpa, size, uaddr, offset;
};

/* The u16 at off in fd, through a mapping of the page(s) that hold it.
 * -EFAULT past the end of a regular file: a table may claim more than
 * its fd holds, and touching a mapping there is SIGBUS. */
static int
read_u16(int fd, uint64_t off, uint16_t *v)
{
	uint64_t blk, in_blk, len;
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) &&
	    ((uint64_t)st.st_size < sizeof(*v) || off > (uint64_t)st.st_size - sizeof(*v)))
		return -EFAULT;
	blk = st.st_blksize > 0 ? (uint64_t)st.st_blksize : 4096;
	in_blk = off & (blk - 1);
	len = in_blk + sizeof(*v) > blk ? 2 * blk : blk;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off - in_blk);
	if (p == MAP_FAILED)
		return -errno;
	memcpy(v, (const uint8_t *)p + in_blk, sizeof(*v));
	munmap(p, len);
	return 0;
}

int
vk_journal_used_idx(const struct vk_journal *j, uint32_t ring, uint16_t *idx)
{
	const struct vk_ring *r = &j->rings[ring];
	uint64_t used, off;
	uint32_t n;

	if (!j->mem_set || !r->addr_set)
		return -ENOENT;
	memcpy(&used, r->addr + 16, sizeof(used));
	memcpy(&n, j->mem, sizeof(n));
	for (uint32_t i = 0; i < n && i < j->n_mem_fds; i++) {
		struct region g;

		memcpy(&g, j->mem + 8 + 32 * i, sizeof(g));
		/* used->flags and used->idx inside the region */
		if (used < g.uaddr || g.size < 4 || used - g.uaddr > g.size - 4)
			continue;
		if (__builtin_add_overflow(g.offset, used - g.uaddr + 2, &off))
			return -EFAULT;
		return read_u16(j->mem_fds[i], off, idx);
	}
	return -ENOENT;
}

struct replay {
	vk_emit_fn emit;
	void *arg;
	bool reply_ack;
	unsigned int n_replies;
	int n;
};

/* Emit one message with a copy of the payload and dups of the fds. */
static int
emit(struct replay *rp, uint32_t request, const void *payload, uint32_t size, const int *fds,
     unsigned int n_fds)
{
	struct vk_msg m;
	int ret;

	m.request = request;
	m.flags = VK_FLAG_VERSION | (rp->reply_ack ? VK_FLAG_NEED_REPLY : 0);
	m.size = size;
	if (size > 0) /* SET_OWNER has no payload: NULL */
		memcpy(m.payload, payload, size);
	m.n_fds = 0;
	for (unsigned int i = 0; i < n_fds; i++) {
		int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);

		if (d < 0) {
			ret = -errno;
			vk_msg_close_fds(&m);
			return ret;
		}
		m.fds[m.n_fds++] = d;
	}
	if (vk_msg_wants_reply(&m, rp->reply_ack))
		rp->n_replies++;
	ret = rp->emit(rp->arg, &m);
	if (ret < 0)
		return ret;
	rp->n++;
	return 0;
}

static int
emit_u64(struct replay *rp, uint32_t request, uint64_t v)
{
	return emit(rp, request, &v, sizeof(v), NULL, 0);
}

static int
emit_state(struct replay *rp, uint32_t request, uint32_t ring, uint32_t num)
{
	uint32_t s[2] = { ring, num };

	return emit(rp, request, s, sizeof(s), NULL, 0);
}

static int
emit_ring_fd(struct replay *rp, uint32_t request, uint32_t ring, int fd)
{
	uint64_t v = ring | (fd < 0 ? VK_RING_NOFD : 0);

	return emit(rp, request, &v, sizeof(v), &fd, fd < 0 ? 0 : 1);
}

/* Where the ring goes on: a started ring at its used index (what the
 * back-end had returned), a stopped one at the base it was given or
 * answered. */
static uint32_t
ring_base(const struct vk_journal *j, uint32_t i)
{
	const struct vk_ring *r = &j->rings[i];
	uint16_t used;

	if (r->started && vk_journal_used_idx(j, i, &used) == 0)
		return used;
	return r->base;
}

static int
replay_ring(struct replay *rp, const struct vk_journal *j, uint32_t i)
{
	const struct vk_ring *r = &j->rings[i];
	int ret = 0;

	if (r->num_set)
		ret = emit_state(rp, VGW_VHOST_MSG_SET_VRING_NUM, i, r->num);
	if (ret == 0 && (r->base_set || r->started))
		ret = emit_state(rp, VGW_VHOST_MSG_SET_VRING_BASE, i, ring_base(j, i));
	if (ret == 0 && r->addr_set)
		ret = emit(rp, VGW_VHOST_MSG_SET_VRING_ADDR, r->addr, sizeof(r->addr), NULL, 0);
	if (ret == 0 && r->call_set)
		ret = emit_ring_fd(rp, VGW_VHOST_MSG_SET_VRING_CALL, i, r->call_fd);
	if (ret == 0 && r->err_set)
		ret = emit_ring_fd(rp, VGW_VHOST_MSG_SET_VRING_ERR, i, r->err_fd);
	if (ret == 0 && r->kick_set && r->started)
		ret = emit_ring_fd(rp, VGW_VHOST_MSG_SET_VRING_KICK, i, r->kick_fd);
	return ret;
}

static int
replay_device(struct replay *rp, const struct vk_journal *j)
{
	int ret = 0;

	if (j->owner)
		ret = emit(rp, VGW_VHOST_MSG_SET_OWNER, NULL, 0, NULL, 0);
	if (ret == 0 && j->features_set)
		ret = emit_u64(rp, VGW_VHOST_MSG_SET_FEATURES, j->features);
	if (ret == 0 && j->pf_set)
		ret = emit_u64(rp, VGW_VHOST_MSG_SET_PROTOCOL_FEATURES, j->pf);
	if (ret == 0 && j->backend_fd >= 0)
		ret = emit(rp, VGW_VHOST_MSG_SET_BACKEND_REQ_FD, NULL, 0, &j->backend_fd, 1);
	if (ret == 0 && j->mtu_set)
		ret = emit_u64(rp, VGW_VHOST_MSG_NET_SET_MTU, j->mtu);
	if (ret == 0 && j->inflight_set)
		ret = emit(rp, VGW_VHOST_MSG_SET_INFLIGHT_FD, j->inflight, sizeof(j->inflight),
			   &j->inflight_fd, 1);
	if (ret == 0 && j->mem_set)
		ret = emit(rp, VGW_VHOST_MSG_SET_MEM_TABLE, j->mem, j->mem_size, j->mem_fds,
			   j->n_mem_fds);
	if (ret == 0 && j->log_set && (j->features & (1ull << VK_F_LOG_ALL)))
		ret = emit(rp, VGW_VHOST_MSG_SET_LOG_BASE, j->log, sizeof(j->log), &j->log_fd, 1);
	return ret;
}

int
vk_journal_replay(const struct vk_journal *j, vk_emit_fn fn, void *arg, unsigned int *n_replies)
{
	struct replay rp = {
		.emit = fn,
		.arg = arg,
		.reply_ack = j->pf_set && (j->pf & (1ull << VK_PF_REPLY_ACK)),
	};
	int ret = replay_device(&rp, j);

	for (uint32_t i = 0; ret == 0 && i < j->max_rings; i++)
		ret = replay_ring(&rp, j, i);
	for (uint32_t i = 0; ret == 0 && i < j->max_rings; i++)
		if (j->rings[i].enable_set)
			ret = emit_state(&rp, VGW_VHOST_MSG_SET_VRING_ENABLE, i,
					 j->rings[i].enable);
	if (ret == 0 && j->status_set)
		ret = emit_u64(&rp, VGW_VHOST_MSG_SET_STATUS, j->status);
	*n_replies = rp.n_replies;
	return ret < 0 ? ret : rp.n;
}
