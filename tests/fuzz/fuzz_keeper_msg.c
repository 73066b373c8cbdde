/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the keeper's core (lib/keeper). The input is what a
 * front-end writes on its socket, every byte untrusted. Its first byte
 * picks the device's ring count; the rest is a stream read through a
 * socketpair with vk_rx_read. Each message gets the fds its id carries
 * (dups of a small memfd standing in for guest memory; one too many when
 * flag bit 0x80 is set), is checked against several ring counts, and if
 * the keeper would relay it, journaled; GET_VRING_BASE and
 * GET_INFLIGHT_FD get a reply made from their own payload. The journal
 * is replayed after every message: each replayed message must itself
 * pass vk_msg_check. At the end the journal is reset and every fd the
 * run opened must be closed. Any inconsistency aborts. */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vgw_keeper.h"
#include "vgw_vhost.h"
#include "fuzz_stubs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MEM_SIZE 0x3000u /* the memfd: three pages, the middle one zeroed */
#define FZ_FLAG_EXTRA_FD 0x80u

static const uint32_t fz_rings[] = { 1, 2, 3, 17, VK_MAX_RINGS };

static struct vk_journal fz_j;
static int fz_mem = -1;

static int
fz_memfd(void)
{
	uint16_t v[FZ_MEM_SIZE / 2];

	if (fz_mem >= 0)
		return fz_mem;
	fz_mem = memfd_create("fz-guest", MFD_CLOEXEC);
	for (unsigned int i = 0; i < FZ_MEM_SIZE / 2; i++)
		v[i] = (uint16_t)(i * 2 < 0x1000 || i * 2 >= 0x2000 ? i : 0);
	if (fz_mem < 0 || pwrite(fz_mem, v, sizeof(v), 0) != (ssize_t)sizeof(v))
		abort();
	return fz_mem;
}

/* The fds the message's id carries, as the message table says. */
static unsigned int
fz_fds_for(const struct vk_msg *m)
{
	const struct vgw_vhost_msg_desc *d = vgw_vhost_msg_desc(m->request);
	uint32_t w = 0;

	memcpy(&w, m->payload, sizeof(w));
	if (d == NULL || (d->fds != VGW_VHOST_FDS_ONE && m->size < 4))
		return 0;
	switch (d->fds) {
	case VGW_VHOST_FDS_ONE:
		return 1;
	case VGW_VHOST_FDS_RING:
		return (w & VK_RING_NOFD) ? 0 : 1;
	case VGW_VHOST_FDS_REGIONS:
		return w < VK_MAX_FDS ? w : VK_MAX_FDS;
	default:
		return 0;
	}
}

static void
fz_give_fds(struct vk_msg *m)
{
	unsigned int n = fz_fds_for(m) + ((m->flags & FZ_FLAG_EXTRA_FD) ? 1 : 0);

	for (m->n_fds = 0; m->n_fds < n && m->n_fds < VK_MAX_FDS; m->n_fds++) {
		m->fds[m->n_fds] = fcntl(fz_memfd(), F_DUPFD_CLOEXEC, 3);
		if (m->fds[m->n_fds] < 0)
			abort();
	}
}

/* A message the keeper accepts for fewer rings it accepts for more;
 * a refusal says why in one line. */
static int
fz_check(const struct vk_msg *m)
{
	int own = -1, prev = -EINVAL;

	for (size_t i = 0; i < sizeof(fz_rings) / sizeof(fz_rings[0]); i++) {
		char err[160] = "";
		int ret = vk_msg_check(m, fz_rings[i], err, sizeof(err));

		if ((ret != 0 && (ret != -EINVAL || err[0] == '\0' || strchr(err, '\n'))) ||
		    (ret != 0 && prev == 0))
			abort();
		if (fz_rings[i] == fz_j.max_rings)
			own = ret;
		prev = ret;
	}
	return own;
}

static int
fz_emit(void *arg, struct vk_msg *m)
{
	char err[160];
	int bad = vk_msg_check(m, fz_j.max_rings, err, sizeof(err));

	vk_msg_close_fds(m);
	if (bad)
		abort();
	(*(unsigned int *)arg)++;
	return 0;
}

static void
fz_replay(void)
{
	unsigned int n = 0, replies = UINT32_MAX;
	int ret = vk_journal_replay(&fz_j, fz_emit, &n, &replies);

	if (ret < 0 || (unsigned int)ret != n || replies > n)
		abort();
}

/* The gateway's answer to a request whose answer defines state, made of
 * the request's own payload. */
static void
fz_reply(const struct vk_msg *req)
{
	struct vk_msg r;
	char err[160];

	if (req->request != VGW_VHOST_MSG_GET_VRING_BASE &&
	    req->request != VGW_VHOST_MSG_GET_INFLIGHT_FD)
		return;
	memcpy(&r, req, sizeof(r));
	r.flags = VK_FLAG_VERSION | VK_FLAG_REPLY;
	r.n_fds = 0;
	if (req->request == VGW_VHOST_MSG_GET_INFLIGHT_FD)
		r.fds[r.n_fds++] = fcntl(fz_memfd(), F_DUPFD_CLOEXEC, 3);
	if (vk_msg_check_reply(req, &r, err, sizeof(err)) == 0)
		vk_journal_apply_reply(&fz_j, req, &r);
	vk_msg_close_fds(&r);
}

static void
fz_message(struct vk_msg *m)
{
	fz_give_fds(m);
	if (fz_check(m) == 0) {
		vk_journal_apply(&fz_j, m);
		if (vk_msg_wants_reply(m, false))
			fz_reply(m);
		fz_replay();
	}
	vk_msg_close_fds(m);
}

static void
fz_stream(int sock)
{
	static struct vk_rx rx;
	int ret;

	vk_rx_reset(&rx);
	while ((ret = vk_rx_read(sock, &rx)) >= 0) {
		if (ret == 1) {
			fz_message(&rx.msg);
			vk_rx_reset(&rx);
		}
	}
	if (ret != -EPIPE && ret != -EPROTO)
		abort();
	if (rx.msg.n_fds != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int before;
	int sv[2];

	if (size < 1 || size > 65536)
		return 0;
	fz_memfd();
	before = fz_open_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (size > 1 && write(sv[0], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	close(sv[0]);
	vk_journal_init(&fz_j, fz_rings[data[0] % (sizeof(fz_rings) / sizeof(fz_rings[0]))]);
	fz_stream(sv[1]);
	close(sv[1]);
	vk_journal_reset(&fz_j);
	if (!fz_open_fds_are(before))
		abort();
	return 0;
}
