/* SPDX-License-Identifier: BSD-3-Clause */
/* vk_rx_read and vk_msg_send over a socketpair: messages and their fds
 * arrive whole, in pieces, or are refused at the limits. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_keeper_common.h"
#include "vgw_vhost.h"

struct pair {
	int tx, rx;
};

static int
pair_setup(void **state)
{
	static struct pair p;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	p.tx = sv[0];
	p.rx = sv[1];
	*state = &p;
	return 0;
}

static int
pair_teardown(void **state)
{
	struct pair *p = *state;

	if (p->tx >= 0)
		close(p->tx);
	close(p->rx);
	return 0;
}

/* Read until vk_rx_read says something other than "more to come" (the
 * bytes are already in the socket: a few calls are enough). */
static int
rx_until(int sock, struct vk_rx *rx)
{
	int ret = 0;

	for (int i = 0; i < 16 && ret == 0; i++)
		ret = vk_rx_read(sock, rx);
	return ret;
}

/* Send raw bytes with n fds in one sendmsg. */
static void
send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned int n)
{
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n > 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

static void
msg_with_events(struct vk_msg *m, uint32_t size, unsigned int n_fds)
{
	memset(m, 0, sizeof(*m));
	m->request = VGW_VHOST_MSG_SET_MEM_TABLE;
	m->flags = TK_V;
	m->size = size;
	for (uint32_t i = 0; i < size; i++)
		m->payload[i] = (uint8_t)(i * 7 + 1);
	for (m->n_fds = 0; m->n_fds < n_fds; m->n_fds++)
		m->fds[m->n_fds] = tk_eventfd();
}

/* A message with n fds arrives byte for byte, with fds of its own that
 * reach the same eventfds. */
static void
round_trip(struct pair *p, uint32_t size, unsigned int n_fds)
{
	int before = tk_fd_count();
	struct vk_msg m;
	struct vk_rx rx;

	msg_with_events(&m, size, n_fds);
	vk_rx_reset(&rx);
	assert_int_equal(vk_msg_send(p->tx, &m), 0);
	assert_int_equal(rx_until(p->rx, &rx), 1);
	assert_int_equal(rx.have, VK_HDR_SIZE + size);
	assert_memory_equal(&rx.msg.request, &m.request, VK_HDR_SIZE + size);
	assert_int_equal(rx.msg.n_fds, n_fds);
	for (unsigned int i = 0; i < n_fds; i++) {
		assert_int_not_equal(rx.msg.fds[i], m.fds[i]);
		assert_true(tk_same_file(rx.msg.fds[i], m.fds[i]));
		assert_true(tk_event_works(rx.msg.fds[i], m.fds[i]));
	}
	/* nothing more: the next read waits */
	vk_msg_close_fds(&rx.msg);
	vk_rx_reset(&rx);
	assert_int_equal(vk_rx_read(p->rx, &rx), 0);
	vk_msg_close_fds(&m);
	assert_int_equal(tk_fd_count(), before);
}

static void
round_trips(void **state)
{
	static const struct {
		uint32_t size;
		unsigned int n_fds;
	} rows[] = {
		{ 0, 0 },
		{ 8, 0 },
		{ 8 + 32, 1 },
		{ 8 + 8 * 32, 8 },
		{ VK_MAX_PAYLOAD, 0 },
		{ VK_MAX_PAYLOAD, 8 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		round_trip(*state, rows[i].size, rows[i].n_fds);
}

/* Header in two pieces (the fd with the first), payload in two later:
 * 0 until the last byte, then the whole message. */
static void
assembled_from_pieces(void **state)
{
	struct pair *p = *state;
	int before = tk_fd_count();
	uint8_t *raw;
	struct vk_msg m;
	struct vk_rx rx;

	msg_with_events(&m, 100, 1);
	raw = (uint8_t *)&m.request;
	vk_rx_reset(&rx);
	assert_int_equal(vk_rx_read(p->rx, &rx), 0);
	send_raw(p->tx, raw, 5, m.fds, 1);
	assert_int_equal(vk_rx_read(p->rx, &rx), 0);
	assert_int_equal(vk_rx_read(p->rx, &rx), 0);
	send_raw(p->tx, raw + 5, 7, NULL, 0);
	assert_int_equal(vk_rx_read(p->rx, &rx), 0);
	assert_int_equal(rx.have, VK_HDR_SIZE);
	send_raw(p->tx, raw + 12, 60, NULL, 0);
	assert_int_equal(vk_rx_read(p->rx, &rx), 0);
	assert_int_equal(vk_rx_read(p->rx, &rx), 0);
	send_raw(p->tx, raw + 72, 40, NULL, 0);
	assert_int_equal(vk_rx_read(p->rx, &rx), 1);
	assert_memory_equal(&rx.msg.request, raw, VK_HDR_SIZE + 100);
	assert_int_equal(rx.msg.n_fds, 1);
	assert_true(tk_event_works(rx.msg.fds[0], m.fds[0]));
	/* a whole message stays whole until reset */
	assert_int_equal(vk_rx_read(p->rx, &rx), 1);
	vk_msg_close_fds(&rx.msg);
	vk_msg_close_fds(&m);
	assert_int_equal(tk_fd_count(), before);
}

static void
size_over_the_limit(void **state)
{
	struct pair *p = *state;
	uint32_t hdr[3] = { VGW_VHOST_MSG_SET_CONFIG, TK_V, VK_MAX_PAYLOAD + 1 };
	struct vk_rx rx;

	vk_rx_reset(&rx);
	send_raw(p->tx, hdr, sizeof(hdr), NULL, 0);
	assert_int_equal(rx_until(p->rx, &rx), -EPROTO);
}

/* A message over a limit is refused with none of its fds left open:
 * nine fds (one more than a message may carry), or a size too large
 * with an fd on its header. */
static void
refused_with_its_fds_closed(struct pair *p, uint32_t size, unsigned int n_fds)
{
	uint32_t hdr[3] = { VGW_VHOST_MSG_SET_MEM_TABLE, TK_V, size };
	int fds[16], before = tk_fd_count();
	struct vk_rx rx;

	for (unsigned int i = 0; i < n_fds; i++)
		fds[i] = tk_eventfd();
	vk_rx_reset(&rx);
	send_raw(p->tx, hdr, sizeof(hdr), fds, n_fds);
	for (unsigned int i = 0; i < n_fds; i++)
		close(fds[i]);
	assert_int_equal(rx_until(p->rx, &rx), -EPROTO);
	assert_int_equal(rx.msg.n_fds, 0);
	assert_int_equal(tk_fd_count(), before);
}

static void
over_the_limits_closes_the_fds(void **state)
{
	refused_with_its_fds_closed(*state, 8 + 8 * 32, VK_MAX_FDS + 1);
	refused_with_its_fds_closed(*state, 8 + 8 * 32, 16);
	refused_with_its_fds_closed(*state, VK_MAX_PAYLOAD + 1, 1);
}

static void
end_of_stream(void **state)
{
	struct pair *p = *state;
	uint32_t hdr[3] = { VGW_VHOST_MSG_SET_FEATURES, TK_V, 8 };
	struct vk_rx rx;

	vk_rx_reset(&rx);
	send_raw(p->tx, hdr, sizeof(hdr), NULL, 0);
	assert_int_equal(vk_rx_read(p->rx, &rx), 0);
	close(p->tx);
	p->tx = -1;
	assert_int_equal(vk_rx_read(p->rx, &rx), -EPIPE);
	vk_rx_reset(&rx);
	assert_int_equal(vk_rx_read(p->rx, &rx), -EPIPE);
}

static void
send_to_a_closed_peer(void **state)
{
	struct pair *p = *state;
	struct vk_msg m;

	msg_with_events(&m, 8, 0);
	close(p->rx);
	assert_int_equal(vk_msg_send(p->tx, &m), -EPIPE);
	p->rx = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); /* for the teardown */
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int
tk_rx_tests(void)
{
	const struct CMUnitTest tests[] = {
		PAIR_TEST(round_trips),		PAIR_TEST(assembled_from_pieces),
		PAIR_TEST(size_over_the_limit), PAIR_TEST(over_the_limits_closes_the_fds),
		PAIR_TEST(end_of_stream),	PAIR_TEST(send_to_a_closed_peer),
	};

	return cmocka_run_group_tests_name("keeper_rx", tests, NULL, NULL);
}
