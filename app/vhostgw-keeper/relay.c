/* SPDX-License-Identifier: BSD-3-Clause */
/* One device's relay: front-end connection on one side, the gateway's
 * socket on the other. Messages go through in order with their fds; the
 * front-end's are checked first and journaled as they reach the gateway;
 * the gateway's replies are matched to the requests that wait for them.
 * When the gateway goes, the front-end's messages wait; when the next one
 * is up, the journal is replayed to it and they go on. */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "keeper.h"
#include "vgw_vhost.h"

/* front-end messages held while no gateway is up; a front-end that sends
 * more without waiting for a reply is dropped */
#define KP_PENDING_MAX 4096
#define KP_SEND_TIMEOUT_S 2

static void
q_init(struct kp_queue *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->len = 0;
}

static void
q_push(struct kp_queue *q, struct kp_msg *e)
{
	e->next = NULL;
	*q->tail = e;
	q->tail = &e->next;
	q->len++;
}

static struct kp_msg *
q_pop(struct kp_queue *q)
{
	struct kp_msg *e = q->head;

	if (e == NULL)
		return NULL;
	q->head = e->next;
	if (q->head == NULL)
		q->tail = &q->head;
	q->len--;
	return e;
}

/* Put all of src in front of dst. */
static void
q_prepend(struct kp_queue *dst, struct kp_queue *src)
{
	if (src->head == NULL)
		return;
	*src->tail = dst->head;
	if (dst->head == NULL)
		dst->tail = src->tail;
	dst->head = src->head;
	dst->len += src->len;
	q_init(src);
}

static void
q_clear(struct kp_queue *q)
{
	struct kp_msg *e;

	while ((e = q_pop(q)) != NULL) {
		vk_msg_close_fds(&e->m);
		free(e);
	}
}

static void
set_send_timeout(int fd)
{
	struct timeval tv = { .tv_sec = KP_SEND_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void
kp_dev_init(struct keeper *k, struct kp_dev *d, const struct vgw_conf_dev *c)
{
	memset(d, 0, sizeof(*d));
	d->conf = c;
	/* fits: setup() left room for a name in dir */
	if (snprintf(d->gw_path, sizeof(d->gw_path), "%s/%s.sock", k->dir, c->name) >=
	    (int)sizeof(d->gw_path))
		d->gw_path[0] = '\0';
	d->listen_fd = d->fe_fd = d->gw_fd = -1;
	q_init(&d->pending);
	q_init(&d->waiting);
	d->j = malloc(sizeof(*d->j));
	if (d->j == NULL) {
		kp_log("out of memory");
		exit(1);
	}
	/* net: a receive and a transmit ring per pair; fs: hiprio + requests */
	vk_journal_init(d->j, c->type == VGW_DEV_FS ? c->queues + 1u : 2u * c->queues);
}

static void
keep_close(struct kp_dev *d)
{
	for (unsigned int i = 0; i < d->n_keep; i++)
		close(d->keep[i]);
	d->n_keep = 0;
}

void
kp_dev_fini(struct kp_dev *d)
{
	keep_close(d);
	q_clear(&d->pending);
	q_clear(&d->waiting);
	vk_journal_reset(d->j);
	free(d->j);
	if (d->fe_fd >= 0)
		close(d->fe_fd);
	if (d->gw_fd >= 0)
		close(d->gw_fd);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->conf->socket);
	}
	vk_msg_close_fds(&d->fe_rx.msg);
	vk_msg_close_fds(&d->gw_rx.msg);
}

static int
unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int
kp_dev_listen(struct kp_dev *d)
{
	struct sockaddr_un sa;
	int fd, ret;

	ret = unix_addr(&sa, d->conf->socket);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a socket left by a keeper that died; one somebody listens on stays */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(d->conf->socket);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	d->listen_fd = fd;
	return 0;
}

int
kp_dev_sockperm(struct kp_dev *d)
{
	const struct vgw_conf_sockperm *sp = &d->conf->sockperm;
	const char *step;
	char perm[64];
	int ret;

	if (d->listen_fd < 0 || !vgw_conf_sockperm_set(sp))
		return 0;
	vgw_socket_perm_str(perm, sizeof(perm), sp->uid, sp->gid, sp->mode);
	ret = vgw_socket_set_perm(d->conf->socket, sp->uid, sp->gid, sp->mode, &step);
	if (ret < 0) {
		/* nobody may connect to it with the wrong permissions */
		close(d->listen_fd);
		d->listen_fd = -1;
		unlink(d->conf->socket);
		fprintf(stderr, "vhostgw-keeper: device %s: cannot %s socket %s (%s): %s\n",
			d->conf->name, step, d->conf->socket, perm, strerror(-ret));
		return ret;
	}
	kp_log("device %s: socket %s: %s", d->conf->name, d->conf->socket, perm);
	return 0;
}

static void
fe_up(struct keeper *k, struct kp_dev *d, int fd)
{
	(void)k;
	d->fe_fd = fd;
	d->fe_connects++;
	d->reply_ack = false;
	vk_rx_reset(&d->fe_rx);
	set_send_timeout(fd);
	kp_log("device %s: front-end connected (%s mode)", d->conf->name,
	       vgw_conf_dev_mode_str(d->conf->mode));
}

void
kp_fe_accept(struct keeper *k, struct kp_dev *d)
{
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (d->fe_fd >= 0) {
		/* one front-end per device, as rte_vhost's server sockets */
		kp_log("device %s: a second front-end refused", d->conf->name);
		close(fd);
		return;
	}
	fe_up(k, d, fd);
}

/* A connected stream socket to path, or -1. */
static int
unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (unix_addr(&sa, path) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

void
kp_fe_connect(struct keeper *k, struct kp_dev *d)
{
	int fd;

	d->next_try_ns = kp_now_ns() + 1000000000ull;
	fd = unix_connect(d->conf->socket);
	if (fd >= 0)
		fe_up(k, d, fd);
}

static void
gw_close(struct kp_dev *d)
{
	if (d->gw_fd >= 0)
		close(d->gw_fd);
	d->gw_fd = -1;
	d->swallow = 0;
	d->gw_eof_ns = 0;
	vk_msg_close_fds(&d->gw_rx.msg);
	vk_rx_reset(&d->gw_rx);
}

void
kp_fe_close(struct keeper *k, struct kp_dev *d, const char *why)
{
	(void)k;
	kp_log("device %s: front-end connection closed: %s", d->conf->name, why);
	close(d->fe_fd);
	d->fe_fd = -1;
	vk_msg_close_fds(&d->fe_rx.msg);
	vk_rx_reset(&d->fe_rx);
	q_clear(&d->pending);
	q_clear(&d->waiting);
	vk_journal_reset(d->j);
	keep_close(d);
	/* the gateway sees the front-end go */
	gw_close(d);
	d->next_try_ns = kp_now_ns() + 1000000000ull;
}

/* Answer a refused message with 1, as rte_vhost acks a message it fails. */
static void
send_nack(struct keeper *k, struct kp_dev *d, const struct kp_msg *e)
{
	struct vk_msg r = { .request = e->m.request, .flags = VK_FLAG_VERSION | VK_FLAG_REPLY };

	/* SET_DEVICE_STATE_FD: a failure status and the invalid-fd flag (no
	 * pipe of ours comes with the reply) */
	vk_msg_set_u64(&r, e->m.request == VGW_VHOST_MSG_SET_DEVICE_STATE_FD ? 0x101 : 1);
	if (d->fe_fd >= 0 && vk_msg_send(d->fe_fd, &r) < 0)
		kp_fe_close(k, d, "front-end does not take replies");
}

/* Refusals whose turn came: every reply due before them was sent. */
static void
flush_nacks(struct keeper *k, struct kp_dev *d)
{
	while (d->waiting.head != NULL && d->waiting.head->nack && d->fe_fd >= 0) {
		struct kp_msg *e = q_pop(&d->waiting);

		send_nack(k, d, e);
		free(e);
	}
}

/* Send one front-end message to the gateway and journal it. On a send
 * error the gateway is taken as lost (the message waits for the next). */
static int
gw_send(struct keeper *k, struct kp_dev *d, struct kp_msg *e)
{
	int ret;

	if (e->nack) {
		q_push(&d->waiting, e);
		flush_nacks(k, d);
		return 0;
	}
	ret = vk_msg_send(d->gw_fd, &e->m);
	if (ret < 0) {
		q_push(&d->pending, e);
		kp_gw_lost(k, d);
		return ret;
	}
	if (vk_journal_apply(d->j, &e->m) < 0)
		kp_log("device %s: journal: out of fds for %s", d->conf->name,
		       vgw_vhost_msg_name(e->m.request));
	if (e->m.request == VGW_VHOST_MSG_SET_PROTOCOL_FEATURES)
		d->reply_ack = (vk_msg_u64(&e->m) >> VK_PF_REPLY_ACK) & 1;
	if (e->internal || vk_msg_wants_reply(&e->m, d->reply_ack)) {
		q_push(&d->waiting, e);
	} else {
		vk_msg_close_fds(&e->m);
		free(e);
	}
	return 0;
}

static bool
gw_up(const struct kp_dev *d)
{
	return d->gw_fd >= 0 && d->gw_eof_ns == 0;
}

static void
flush_pending(struct keeper *k, struct kp_dev *d)
{
	struct kp_msg *e;

	while (gw_up(d) && (e = q_pop(&d->pending)) != NULL)
		if (gw_send(k, d, e) < 0)
			return;
}

void
kp_fe_readable(struct keeper *k, struct kp_dev *d)
{
	char err[160];
	struct kp_msg *e;
	bool nack;
	int ret;

	ret = vk_rx_read(d->fe_fd, &d->fe_rx);
	if (ret == 0)
		return;
	if (ret < 0) {
		kp_fe_close(k, d,
			    ret == -EPIPE  ? "front-end went away" :
			    ret == -EPROTO ? "message over the size or fd limits" :
					     strerror(-ret));
		return;
	}
	nack = vk_msg_check(&d->fe_rx.msg, d->j->max_rings, err, sizeof(err)) < 0;
	if (nack) {
		d->refused++;
		vk_msg_close_fds(&d->fe_rx.msg);
		/* as rte_vhost: a failure ack if one was asked for, else hang up */
		kp_log("device %s: front-end message refused: %s%s", d->conf->name, err,
		       d->fe_rx.msg.flags & VK_FLAG_NEED_REPLY ? " (answered 1)" : "");
		if (!(d->fe_rx.msg.flags & VK_FLAG_NEED_REPLY)) {
			kp_fe_close(k, d, "refused message");
			return;
		}
	}
	if (d->pending.len >= KP_PENDING_MAX) {
		kp_fe_close(k, d, "too many messages while the gateway is down");
		return;
	}
	e = malloc(sizeof(*e));
	if (e == NULL) {
		kp_fe_close(k, d, "out of memory");
		return;
	}
	e->m = d->fe_rx.msg;
	e->nack = nack;
	e->internal = false;
	d->fe_rx.msg.n_fds = 0;
	vk_rx_reset(&d->fe_rx);
	q_push(&d->pending, e);
	flush_pending(k, d);
}

/* What the keeper hides of the gateway's offer (vgw_keeper.h). */
static void
mask_reply(struct vk_msg *r)
{
	if (r->size != 8)
		return;
	if (r->request == VGW_VHOST_MSG_GET_FEATURES)
		vk_msg_set_u64(r, vk_msg_u64(r) & ~VK_F_HIDDEN);
	else if (r->request == VGW_VHOST_MSG_GET_PROTOCOL_FEATURES)
		vk_msg_set_u64(r, vk_msg_u64(r) & VK_PF_ALLOWED);
}

static bool keep_take(struct kp_dev *d, struct vk_msg *r, uint32_t request);

static void
replay_reply(struct kp_dev *d, struct vk_msg *r)
{
	d->swallow--;
	if (r->request == VGW_VHOST_MSG_KEEPER_TABLES) {
		keep_take(d, r, VGW_VHOST_MSG_KEEPER_TABLES);
		return;
	}
	if (!(r->flags & VK_FLAG_REPLY) ||
	    (r->size == 8 && vk_msg_u64(r) != 0 && r->request != VGW_VHOST_MSG_SET_LOG_BASE))
		kp_log("device %s: replay: the gateway refused %s", d->conf->name,
		       vgw_vhost_msg_name(r->request));
}

/* The reply to KEEPER_TABLES: the gateway's keep_fds replace ours. */
static bool
keep_take(struct kp_dev *d, struct vk_msg *r, uint32_t request)
{
	if (!(r->flags & VK_FLAG_REPLY) || r->request != request || r->size != 8 ||
	    vk_msg_u64(r) != r->n_fds) {
		kp_log("device %s: bad reply to the keeper's request", d->conf->name);
		vk_msg_close_fds(r);
		return false;
	}
	keep_close(d);
	memcpy(d->keep, r->fds, r->n_fds * sizeof(int));
	d->n_keep = r->n_fds;
	r->n_fds = 0;
	return true;
}

static void
keep_reply(struct kp_dev *d, struct kp_msg *e, struct vk_msg *r)
{
	keep_take(d, r, e->m.request);
	vk_rx_reset(&d->gw_rx);
	free(e);
}

/* KEEPER_TABLES inside a replay, right after BEGIN: the gateway hands
 * over the session it took over before the journal starts its rings, so
 * a gateway that dies serving them leaves what it did, not the session
 * before it (its reply is read as the replay's). */
static int
send_tables(struct kp_dev *d)
{
	struct vk_msg m = { .request = VGW_VHOST_MSG_KEEPER_TABLES, .flags = VK_FLAG_VERSION };

	return vk_msg_send(d->gw_fd, &m);
}

/* Ask the gateway for what must outlive it (fs devices). */
static void
ask_keep(struct keeper *k, struct kp_dev *d)
{
	struct kp_msg *e;

	if (d->conf->type != VGW_DEV_FS)
		return;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	e->internal = true;
	e->m.request = VGW_VHOST_MSG_KEEPER_TABLES;
	e->m.flags = VK_FLAG_VERSION;
	gw_send(k, d, e);
}

void
kp_gw_readable(struct keeper *k, struct kp_dev *d)
{
	struct vk_msg *r = &d->gw_rx.msg;
	struct kp_msg *e;
	char err[160];
	int ret;

	ret = vk_rx_read(d->gw_fd, &d->gw_rx);
	if (ret == 0)
		return;
	if (ret < 0) {
		/* a crash, or the gateway dropped the connection: told apart
		 * by whether the process goes (main.c) */
		d->gw_eof_ns = kp_now_ns();
		return;
	}
	if (d->swallow > 0) {
		replay_reply(d, r);
		vk_msg_close_fds(r);
		vk_rx_reset(&d->gw_rx);
		return;
	}
	e = q_pop(&d->waiting);
	if (e != NULL && e->internal) {
		keep_reply(d, e, r);
		return;
	}
	if (e == NULL || vk_msg_check_reply(&e->m, r, err, sizeof(err)) < 0) {
		kp_log("device %s: gateway message dropped: %s", d->conf->name,
		       e == NULL ? "no request waits for a reply" : err);
		vk_msg_close_fds(r);
		vk_rx_reset(&d->gw_rx);
		if (e != NULL)
			q_push(&d->waiting, e);
		return;
	}
	vk_journal_apply_reply(d->j, &e->m, r);
	mask_reply(r);
	ret = d->fe_fd >= 0 ? vk_msg_send(d->fe_fd, r) : -ENOTCONN;
	vk_msg_close_fds(r);
	vk_rx_reset(&d->gw_rx);
	vk_msg_close_fds(&e->m);
	free(e);
	if (ret < 0 && d->fe_fd >= 0)
		kp_fe_close(k, d, "front-end does not take replies");
	else
		flush_nacks(k, d);
}

struct replay_ctx {
	struct kp_dev *d;
	int err;
};

static int
replay_emit(void *arg, struct vk_msg *m)
{
	struct replay_ctx *c = arg;
	int ret = vk_msg_send(c->d->gw_fd, m);

	vk_msg_close_fds(m);
	return ret;
}

/* BEGIN or END of a replay (vgw_vhost.h): the gateway's phase machine
 * shows the device recovering meanwhile. */
static int
send_keeper_msg(struct keeper *k, struct kp_dev *d, uint32_t id)
{
	struct vgw_keeper_replay r = {
		.died_ns = k->gw.died_real_ns,
		.generation = k->gw.gen,
		.restarts = k->gw.restarts,
	};
	struct vk_msg m = { .request = id, .flags = VK_FLAG_VERSION, .size = sizeof(r) };

	memcpy(m.payload, &r, sizeof(r));
	/* BEGIN hands over what the dead gateway kept */
	if (id == VGW_VHOST_MSG_KEEPER_BEGIN) {
		memcpy(m.fds, d->keep, d->n_keep * sizeof(int));
		m.n_fds = d->n_keep;
	}
	return vk_msg_send(d->gw_fd, &m);
}

static bool
journal_used(const struct vk_journal *j)
{
	return j->owner || j->features_set || j->mem_set;
}

/* The gateway is up (again): bring it to the journal's state, then the
 * messages that waited. */
void
kp_gw_connect(struct keeper *k, struct kp_dev *d)
{
	struct replay_ctx c = { .d = d };
	unsigned int n_replies = 0;
	bool tables = false;
	int fd = unix_connect(d->gw_path), n;

	if (fd < 0)
		return;
	set_send_timeout(fd);
	d->gw_fd = fd;
	d->gw_gen = k->gw.gen;
	d->gw_eof_ns = 0;
	vk_rx_reset(&d->gw_rx);
	n = journal_used(d->j) ? send_keeper_msg(k, d, VGW_VHOST_MSG_KEEPER_BEGIN) : 0;
	if (n == 0 && journal_used(d->j) && d->conf->type == VGW_DEV_FS) {
		n = send_tables(d) < 0 ? -EIO : 0;
		tables = true;
	}
	if (n == 0)
		n = vk_journal_replay(d->j, replay_emit, &c, &n_replies);
	if (n > 0)
		n = send_keeper_msg(k, d, VGW_VHOST_MSG_KEEPER_END) < 0 ? -EIO : n;
	if (n < 0) {
		kp_log("device %s: replay to gateway %d failed: %s", d->conf->name, k->gw.gen,
		       strerror(-n));
		kp_gw_lost(k, d);
		return;
	}
	d->swallow = n_replies + (tables ? 1 : 0);
	if (n > 0) {
		d->replays++;
		d->last_recovery_ns = kp_now_ns() - k->gw.died_ns;
		kp_log("device %s: %d message(s) replayed to gateway %d, %.1f ms after the "
		       "last one died; %u front-end message(s) waited",
		       d->conf->name, n, k->gw.gen, d->last_recovery_ns / 1e6,
		       d->pending.len + d->waiting.len);
	}
	/* the (new) session's tables and regions, then the requests the dead
	 * gateway never answered, first */
	q_prepend(&d->pending, &d->waiting);
	if (!tables)
		ask_keep(k, d);
	flush_pending(k, d);
}

/* The gateway died: what it wrote before is still in the socket, its
 * last KEEPER_TABLES reply among it (the session it served until then);
 * read it all before the connection goes. */
void
kp_gw_drain(struct keeper *k, struct kp_dev *d)
{
	for (unsigned int i = 0; i < 4096 && d->gw_fd >= 0 && d->gw_eof_ns == 0; i++) {
		struct pollfd p = { .fd = d->gw_fd, .events = POLLIN };

		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
			break;
		kp_gw_readable(k, d);
	}
}

/* The gateway connection is gone with the gateway: the front-end stays,
 * its messages wait for the next gateway. */
void
kp_gw_lost(struct keeper *k, struct kp_dev *d)
{
	(void)k;
	gw_close(d);
	/* A device state transfer the dead gateway had begun may have put part
	 * of a stream into the pipe (or taken part of one out): another
	 * gateway going on with the same pipe would make a cut stream look
	 * whole. The front-end gets a failure and the migration fails; the
	 * guest goes on where it is. */
	for (struct kp_msg *e = d->waiting.head; e != NULL; e = e->next) {
		if (e->internal || e->nack || e->m.request != VGW_VHOST_MSG_SET_DEVICE_STATE_FD)
			continue;
		kp_log("device %s: SET_DEVICE_STATE_FD was unanswered when gateway %d died: "
		       "answered as failed, not sent again (the transfer may have begun)",
		       d->conf->name, d->gw_gen);
		vk_msg_close_fds(&e->m);
		e->nack = true;
	}
	q_prepend(&d->pending, &d->waiting);
}
