/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the control socket's request handling (lib/ctl/ctl.c,
 * ctl_cmds.c, ctl_events.c, ctl's core), compiled into this program with DPDK's
 * headers only; the device registry, the operations the commands call,
 * rte_ring and rte_log are stubbed (three fake devices: a vhost-user net
 * device, an fs device with device state, an ethdev uplink), no EAL.
 *
 * ctl.c is included here rather than linked: its clients are driven
 * through its own static functions (client_read, serve_backlog,
 * client_flush, and handle_event on what its epoll set reports). The
 * server listens on a unix socket in a temporary directory, as the gateway
 * does (server_open), and every client connects to it and is accepted by
 * server_accept: refused over the client limit or out of file descriptors
 * (the spare fd given up), or closed before it was accepted. Everything a
 * client's bytes reach runs as in the gateway: the input buffer and line
 * framing (partial lines across reads, pipelined lines served
 * CTL_LINES_PER_PASS at a time, over-long lines), JSON parsing, dispatch
 * and every command's argument checks, the replies and events queued and
 * flushed. The limits are smaller than the gateway's (CTL_MAX_CLIENTS,
 * CTL_LINE_MAX, CTL_OUTQ_MAX, CTL_OUTQ_KEEP below), so that reaching them
 * costs little.
 *
 * The input is what clients write, as text (the seeds are request lines);
 * 0xff starts a harness command:
 *   0xff 0xff     a literal 0xff byte
 *   0xff 'F'      write what is buffered now (one read of the server)
 *   0xff 'C' n    flush, then switch to client n % 2
 *   0xff 'H'      flush, hang up the current client, connect it again
 *   0xff 'S'      flush, then stop (or start again) reading the client's replies
 *   0xff 'R' h l c  append (h * 256 + l) * 4 copies of c (over-long lines)
 *   0xff 'D' h l  append h * 256 + l copies of what is buffered (its last
 *                 4 KiB; many lines, up to 16 KiB)
 *   0xff 'E' e d  flush, then the vhost event e of device d (phase inputs)
 *   0xff 'A' n    flush, then n % 8 + 1 more connections that stay open and
 *                 say nothing (up to and over the client limit: refused)
 *   0xff 'Q' n    flush, then n % 8 + 1 connections closed before the
 *                 server accepts them
 *   0xff 'M' n    flush, then n % 4 + 1 connections the server accepts with
 *                 no file descriptor left (RLIMIT_NOFILE lowered meanwhile)
 * A connection refused must read one line, {"ok":false,"error":
 * "connection refused: ..."} with the reason, then the end; the listening
 * socket has nothing pending after an accept pass.
 * A client dropped for want of memory (a reply jansson could not make)
 * aborts, and every line a client reads back must be a JSON object with
 * "ok" (a reply; "error" when false) or "event" (a subscriber's event);
 * anything else aborts (past the first 256 lines of an input, the line
 * must only look like an object). FUZZ_CTL_PRINT set in the environment prints
 * them. */

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_log.h>
#include <rte_ring.h>

#include "vgw_device.h"
#include "vgw_dp.h"
#include "vgw_net.h"
#include "vgw_vhost.h"
#include "fuzz_stubs.h"

/* The server, its statics within reach, with smaller limits. */
#define CTL_MAX_CLIENTS 6
#define CTL_LINE_MAX 8192
#define CTL_OUTQ_MAX (64u << 10)
#define CTL_OUTQ_KEEP (16u << 10)
#include "ctl.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CLIENTS 2
#define FZ_WRITE_MAX (256u * 1024)
#define FZ_EXTRA_MAX 8 /* connections kept open by 'A' */

/* --- the log, rte_ring, rte_cycles -------------------------------------- */

static bool fz_verbose; /* FUZZ_CTL_PRINT set: print the lines read and logged */

/* The server logs why it drops a client: never for want of memory here
 * (a reply jansson would not make shows up that way too). */
static void
fz_log(const char *line)
{
	if (fz_verbose)
		fprintf(stderr, "log: %s", line);
	if (strstr(line, "out of memory") != NULL)
		abort();
}

uint64_t
rte_get_tsc_hz(void)
{
	return 2000000000ull;
}

/* One ring, made once: ctl_events makes it at every input (its 4096
 * elements, cleared and mapped each time, would cost more than the rest). */
static struct rte_ring *fz_ring;
static bool fz_ring_used;

struct rte_ring *
rte_ring_create_elem(const char *name, unsigned int esize, unsigned int count, int socket_id,
		     unsigned int flags)
{
	static unsigned int made_esize, made_count;
	struct rte_ring *r;

	(void)name;
	(void)socket_id;
	if (fz_ring_used)
		abort();
	if (fz_ring == NULL) {
		fz_ring = aligned_alloc(
			RTE_CACHE_LINE_SIZE,
			RTE_ALIGN_CEIL(sizeof(struct rte_ring) + (size_t)esize * count,
				       RTE_CACHE_LINE_SIZE));
		made_esize = esize;
		made_count = count;
	}
	if (fz_ring == NULL || esize != made_esize || count != made_count)
		abort();
	r = fz_ring;
	memset(r, 0, sizeof(*r));
	r->flags = flags;
	r->size = count;
	r->mask = count - 1;
	r->capacity = count - 1;
	r->prod.sync_type = RTE_RING_SYNC_MT;
	r->cons.sync_type = flags & RING_F_SC_DEQ ? RTE_RING_SYNC_ST : RTE_RING_SYNC_MT;
	fz_ring_used = true;
	return r;
}

void
rte_ring_free(struct rte_ring *r)
{
	if (r != fz_ring || !fz_ring_used)
		abort();
	fz_ring_used = false;
}

/* --- the observer: the vhost events the harness injects ------------------ */

static vgw_vhost_observer_fn fz_observer;

void
vgw_vhost_set_observer(vgw_vhost_observer_fn fn)
{
	fz_observer = fn;
}

/* --- dp, net ------------------------------------------------------------ */

unsigned int
vgw_dp_n_workers(void)
{
	return 2;
}

unsigned int
vgw_dp_worker_lcore(unsigned int idx)
{
	return idx + 1;
}

void
vgw_dp_worker_load(unsigned int idx, uint64_t *loops, uint64_t *busy)
{
	*loops = 1000 + idx;
	*busy = idx;
}

void
vgw_net_mem_info(struct vgw_net_mem *m)
{
	m->mbufs = 8192;
	m->mbuf_size = 2176;
	m->in_use = 17;
	m->bytes = 8192ull * 2176;
}

/* --- the device registry: three fake devices ----------------------------- */

static struct vgw_conf fz_conf;
static struct vgw_device fz_devs[3];
static bool fz_connected[3], fz_ready[3];

static void
fz_stats(struct vgw_device *dev, json_t *out)
{
	json_object_set_new(out, "rx_packets", json_integer(dev->index * 10));
	json_object_set_new(out, "queues", json_array());
}

static void
fz_info(struct vgw_device *dev, struct vgw_device_info *in, json_t *extra)
{
	(void)in;
	if (extra != NULL)
		json_object_set_new(extra, "link", json_string(dev->name));
}

static int
fz_state_save(struct vgw_device *dev, size_t max, void **buf, size_t *len, char *why,
	      size_t why_len)
{
	(void)dev;
	(void)max;
	(void)buf;
	(void)len;
	(void)why;
	(void)why_len;
	abort(); /* only through vgw_device_state_save, stubbed */
}

static int
fz_state_load(struct vgw_device *dev, const void *buf, size_t len, char *why, size_t why_len)
{
	(void)dev;
	(void)buf;
	(void)len;
	(void)why;
	(void)why_len;
	abort();
}

static int fz_logtype;

static const struct vgw_device_ops fz_net_ops = {
	.logtype = &fz_logtype,
	.info = fz_info,
	.stats = fz_stats,
};

static const struct vgw_device_ops fz_fs_ops = {
	.logtype = &fz_logtype,
	.info = fz_info,
	.stats = fz_stats,
	.state_save = fz_state_save,
	.state_load = fz_state_load,
};

static void
fz_devices_init(void)
{
	static const char *const names[3] = { "net0", "fs0", "up0" };
	static const enum vgw_dev_type types[3] = { VGW_DEV_NET, VGW_DEV_FS, VGW_DEV_ETHDEV };

	fz_conf.n_devs = 3;
	for (unsigned int i = 0; i < 3; i++) {
		struct vgw_conf_dev *cd = &fz_conf.devs[i];
		struct vgw_device *d = &fz_devs[i];

		snprintf(cd->name, sizeof(cd->name), "%s", names[i]);
		cd->type = types[i];
		snprintf(cd->socket, sizeof(cd->socket), "/run/vhostgw/%s.sock", names[i]);
		cd->queues = 1;
		snprintf(d->name, sizeof(d->name), "%s", names[i]);
		d->type = types[i];
		d->vhost = types[i] != VGW_DEV_ETHDEV;
		d->index = i;
		d->queues = 1;
		d->conf = cd;
		d->ops = types[i] == VGW_DEV_FS ? &fz_fs_ops : &fz_net_ops;
	}
}

unsigned int
vgw_device_count(void)
{
	return 3;
}

struct vgw_device *
vgw_device_at(unsigned int i)
{
	return i < 3 ? &fz_devs[i] : NULL;
}

struct vgw_device *
vgw_device_find(const char *name)
{
	for (unsigned int i = 0; i < 3; i++)
		if (strcmp(fz_devs[i].name, name) == 0)
			return &fz_devs[i];
	return NULL;
}

void
vgw_device_info(struct vgw_device *dev, struct vgw_device_info *in, struct json_t *extra)
{
	memset(in, 0, sizeof(*in));
	in->connected = fz_connected[dev->index];
	in->ready = fz_ready[dev->index];
	in->vid = in->ready ? dev->index : -1;
	in->suspended = dev->suspended;
	in->queues = dev->queues;
	if (dev->ops->info != NULL)
		dev->ops->info(dev, in, extra);
}

int
vgw_device_suspend(struct vgw_device *dev, bool suspend)
{
	if (!dev->vhost)
		return -ENOTSUP;
	if (dev->suspended == suspend)
		return 0;
	dev->suspended = suspend;
	return 1;
}

/* The operator's state-save and state-load: the path is the client's, so
 * nothing is written or read here; a path with "fail" in it fails. */
static int
fz_state_file(struct vgw_device *dev, const char *path, struct json_t *reply, size_t *bytes,
	      char *why, size_t why_len)
{
	if (dev->ops->state_save == NULL)
		return -ENOTSUP;
	if (path[0] != '/')
		abort(); /* do_state checks it */
	if (!fz_connected[dev->index]) {
		snprintf(why, why_len, "no front-end is connected");
		return -ENOTCONN;
	}
	if (strstr(path, "fail") != NULL) {
		snprintf(why, why_len, "%s: %s", path, strerror(EIO));
		return -EIO;
	}
	if (strstr(path, "quiet") != NULL)
		return -EPERM; /* no reason given */
	json_object_set_new(reply, "inodes", json_integer(3));
	*bytes = strlen(path);
	return 0;
}

int
vgw_device_state_save(struct vgw_device *dev, const char *path, struct json_t *reply, size_t *bytes,
		      char *why, size_t why_len)
{
	return fz_state_file(dev, path, reply, bytes, why, why_len);
}

int
vgw_device_state_load(struct vgw_device *dev, const char *path, struct json_t *reply, size_t *bytes,
		      char *why, size_t why_len)
{
	return fz_state_file(dev, path, reply, bytes, why, why_len);
}

/* --- the clients --------------------------------------------------------- */

struct fz_client {
	struct ctl_client *c; /* the server's side */
	int peer;	      /* ours */
	bool stalled;	      /* not reading its replies */
	char *rx;	      /* a reply line read in part */
	size_t rx_len;
	uint8_t *tx; /* bytes not written yet */
	size_t tx_len;
};

static struct fz_client fz_cl[FZ_CLIENTS];
static uint8_t fz_tx_buf[FZ_CLIENTS][FZ_WRITE_MAX];
static char fz_rx_buf[FZ_CLIENTS][CTL_OUTQ_MAX + 1];

/* One complete line the server sent: a JSON object, a reply or an event. */

static unsigned int fz_parsed; /* lines parsed in this input */

static void
fz_check_line(const char *line, size_t len)
{
	json_error_t jerr;
	json_t *o;

	/* past the first lines of an input, only their shape: parsing
	 * megabytes of replies would cost more than making them */
	if (++fz_parsed > 256 && !fz_verbose) {
		if (len < 2 || line[0] != '{' || line[len - 1] != '}' ||
		    memchr(line, '\0', len) != NULL)
			abort();
		return;
	}
	o = json_loadb(line, len, 0, &jerr);

	if (fz_verbose)
		fprintf(stderr, "%.*s\n", (int)RTE_MIN(len, (size_t)300), line);
	if (o == NULL || !json_is_object(o))
		abort();
	if (!json_is_boolean(json_object_get(o, "ok")) &&
	    !json_is_string(json_object_get(o, "event")))
		abort();
	if (json_is_false(json_object_get(o, "ok")) && !json_is_string(json_object_get(o, "error")))
		abort();
	json_decref(o);
}

static void
fz_drain(struct fz_client *f)
{
	char *buf = fz_rx_buf[f - fz_cl];

	if (f->peer < 0 || f->stalled)
		return;
	for (;;) {
		ssize_t n = recv(f->peer, buf + f->rx_len, CTL_OUTQ_MAX - f->rx_len, MSG_DONTWAIT);
		char *p = buf, *nl;

		if (n <= 0)
			return;
		f->rx_len += n;
		while ((nl = memchr(p, '\n', buf + f->rx_len - p)) != NULL) {
			fz_check_line(p, nl - p);
			p = nl + 1;
		}
		f->rx_len -= p - buf;
		memmove(buf, p, f->rx_len);
		if (f->rx_len == CTL_OUTQ_MAX)
			abort(); /* a line longer than any reply */
	}
}

static bool
fz_alive(const struct fz_client *f)
{
	return f->c != NULL && !f->c->dead;
}

/* --- the listening socket ------------------------------------------------ */

static char fz_dir[80] = "/tmp/fuzz-ctl-XXXXXX"; /* or under $TMPDIR */
static char fz_path[96];
static int fz_extra[FZ_EXTRA_MAX];
static unsigned int fz_n_extra;

static void
fz_server_close(void)
{
	server_close();
	rmdir(fz_dir);
}

static void
fz_server_open(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp != NULL && strlen(tmp) < 60) /* the socket's path fits sun_path */
		snprintf(fz_dir, sizeof(fz_dir), "%s/fuzz-ctl-XXXXXX", tmp);
	if (mkdtemp(fz_dir) == NULL)
		abort();
	snprintf(fz_path, sizeof(fz_path), "%s/ctl.sock", fz_dir);
	if (server_open(fz_path) < 0 || srv.spare_fd < 0)
		abort();
	atexit(fz_server_close);
}

/* A client's end of a new connection, not accepted yet. */
static int
fz_dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fz_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	return fd;
}

/* Connections waiting in the listening socket's backlog? */
static bool
fz_pending(void)
{
	struct pollfd p = { .fd = srv.listen_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* One pass of vgw_ctl_poll(), as the gateway's loop does it, then the
 * harness's: what its epoll set reports (the listening socket, every
 * client), handled by the server. */
static void fz_pass(void);

static void
fz_poll(void)
{
	struct epoll_event ev[CTL_EVENTS_PER_WAIT];
	int n = epoll_wait(srv.epoll_fd, ev, VGW_ARRAY_SIZE(ev), 0);

	serve_backlog();
	for (int i = 0; i < n; i++)
		handle_event(&ev[i]);
	fz_pass();
}

/* A connection the server refused: one line that says why, then the end. */
static void
fz_refused(int fd, const char *why)
{
	char buf[256], want[128];
	size_t len = 0;
	ssize_t r;

	while ((r = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT)) > 0)
		len += r;
	if (r != 0 || len == 0 || buf[len - 1] != '\n')
		abort(); /* not closed, or no whole line */
	buf[len] = '\0';
	snprintf(want, sizeof(want), "{\"ok\":false,\"error\":\"connection refused: %s", why);
	if (strncmp(buf, want, strlen(want)) != 0 || memchr(buf, '\n', len - 1) != NULL)
		abort();
	fz_check_line(buf, len - 1);
	close(fd);
}

/* The listening socket's event, and the end of the pass. */
static void
fz_listen_pass(void)
{
	handle_event(&(struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL });
	fz_pass();
}

/* Accept what was dialled: true if the server took it as a client (the
 * last on its list), else it was refused for the reason expected. */
static bool
fz_accept(int fd)
{
	unsigned int before = srv.n_clients;
	bool full = before >= CTL_MAX_CLIENTS;

	fz_listen_pass();
	if (fz_pending())
		abort(); /* the listening socket left readable */
	if (srv.n_clients == before + 1 && !full)
		return true;
	if (srv.n_clients != before)
		abort();
	fz_refused(fd, full ? "too many clients" : "out of memory");
	return false;
}

static void
fz_connect(struct fz_client *f)
{
	int fd = fz_dial();

	f->c = NULL;
	f->peer = -1;
	f->stalled = false;
	f->rx_len = 0;
	if (!fz_accept(fd))
		return;
	f->c = TAILQ_LAST(&srv.clients, ctl_client_list);
	f->peer = fd;
	/* a small send buffer: partial sends, and a client that does not
	 * read is dropped after its queue, not a socket's worth more */
	(void)setsockopt(f->c->fd, SOL_SOCKET, SO_SNDBUF, &(int){ 16384 }, sizeof(int));
}

/* 'A': connections that stay open, idle, up to and over the limit. */
static void
fz_extra_connect(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		int fd = fz_dial();

		if (!fz_accept(fd))
			continue;
		if (fz_n_extra == FZ_EXTRA_MAX)
			close(fd); /* hung up at once: the next pass sees it */
		else
			fz_extra[fz_n_extra++] = fd;
	}
}

/* 'Q': connections gone before the server accepts them. */
static void
fz_quick_close(unsigned int n)
{
	uint64_t before = srv.next_id;
	struct ctl_client *c;

	for (unsigned int k = 0; k < n; k++)
		close(fz_dial());
	/* accepted (or refused) in one pass, their end read in the next */
	fz_listen_pass();
	if (fz_pending())
		abort();
	fz_poll();
	TAILQ_FOREACH(c, &srv.clients, next)
	if (c->id > before)
		abort(); /* a client the server holds on to */
}

/* 'M': connections the server accepts with no fd left for them: the
 * spare one is given up to accept and refuse each, one per pass. */
static void
fz_no_fds(unsigned int n)
{
	int fds[4], probe;
	struct rlimit saved, low;

	for (unsigned int k = 0; k < n; k++)
		fds[k] = fz_dial();
	probe = dup(0); /* the lowest free fd: from it on, none */
	if (probe < 0 || getrlimit(RLIMIT_NOFILE, &saved) < 0)
		abort();
	close(probe);
	low = saved;
	low.rlim_cur = (rlim_t)probe;
	if (setrlimit(RLIMIT_NOFILE, &low) < 0)
		abort();
	for (unsigned int k = 0; k < n; k++)
		fz_listen_pass();
	if (setrlimit(RLIMIT_NOFILE, &saved) < 0)
		abort();
	if (fz_pending() || srv.spare_fd < 0)
		abort();
	for (unsigned int k = 0; k < n; k++)
		fz_refused(fds[k], "out of file descriptors");
}

/* 'A', 'Q', 'M' n: connections of that kind. */
static void
fz_connections(uint8_t how, uint8_t n)
{
	if (how == 'A')
		fz_extra_connect(n % 8 + 1);
	else if (how == 'Q')
		fz_quick_close(n % 8 + 1);
	else
		fz_no_fds(n % 4 + 1);
}

/* The end of an input: the idle connections hang up, the server sees it. */
static void
fz_extra_close(void)
{
	for (unsigned int k = 0; k < fz_n_extra; k++)
		close(fz_extra[k]);
	fz_n_extra = 0;
	fz_poll();
}

/* One pass of vgw_ctl_poll() for what the harness did. */
static void
fz_pass(void)
{
	serve_backlog();
	for (unsigned int i = 0; i < FZ_CLIENTS; i++) {
		struct fz_client *f = &fz_cl[i];

		fz_drain(f); /* also what a client closed after got */
		if (!fz_alive(f))
			continue;
		if (f->c->out_start < f->c->out_len)
			client_flush(f->c);
	}
	for (unsigned int i = 0; i < FZ_CLIENTS; i++)
		if (fz_cl[i].c != NULL && fz_cl[i].c->dead)
			fz_cl[i].c = NULL;
	graveyard_free();
}

/* Bytes waiting in the server's end of the connection. */
static int
fz_unread(const struct fz_client *f)
{
	int n = 0;

	if (ioctl(f->c->fd, FIONREAD, &n) < 0)
		return 0;
	return n;
}

/* One epoll event of the client's connection, and the end of the pass. */
static void
fz_step(struct fz_client *f)
{
	struct ctl_client *c = f->c;

	if (c->closing)
		client_flush(c);
	else if (!c->backlog)
		client_read(c);
	fz_pass();
}

/* Write what is buffered and let the server read and answer it, as
 * epoll would, until it has read everything (or stops: a client it is
 * closing, or one that does not read its replies). */
static void
fz_flush(struct fz_client *f)
{
	size_t off = 0;
	unsigned int idle = 0;

	while (fz_alive(f) && idle < 4) {
		ssize_t w = 0;
		size_t before = off;
		int unread = fz_unread(f);
		size_t in_start = f->c->in_start, in_len = f->c->in_len;
		size_t queued = f->c->out_len - f->c->out_start;

		if (off < f->tx_len)
			w = send(f->peer, f->tx + off, f->tx_len - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			off += w;
		fz_step(f);
		if (!fz_alive(f))
			break;
		if (off == f->tx_len && fz_unread(f) == 0 && !f->c->backlog)
			break;
		/* no byte written, read, served or queued */
		if (off == before && fz_unread(f) == unread && f->c->in_start == in_start &&
		    f->c->in_len == in_len && f->c->out_len - f->c->out_start == queued)
			idle++;
		else
			idle = 0;
	}
	f->tx_len = 0;
}

static void
fz_hangup(struct fz_client *f)
{
	fz_drain(f);
	if (f->peer >= 0)
		close(f->peer);
	f->peer = -1;
	/* EPOLLHUP: served like input, until the read sees the end */
	for (unsigned int rounds = 0; rounds < 256 && fz_alive(f); rounds++)
		fz_step(f);
	if (fz_alive(f))
		client_kill(f->c);
	fz_pass();
	f->c = NULL;
}

static void
fz_event(uint8_t e, uint8_t d)
{
	static const char *const names[4] = { "net0", "fs0", "up0", "nope" };

	if (fz_observer == NULL)
		abort();
	fz_observer(names[d & 3], (enum vgw_vhost_event)(e % (VGW_VHOST_EV_COUNT + 1)), d >> 2);
	if ((d & 3) < 3 && e % VGW_VHOST_EV_COUNT == VGW_VHOST_EV_CONNECTED)
		fz_connected[d & 3] = true;
	if ((d & 3) < 3 && e % VGW_VHOST_EV_COUNT == VGW_VHOST_EV_DISCONNECTED)
		fz_connected[d & 3] = false;
	if ((d & 3) < 3 && e % VGW_VHOST_EV_COUNT == VGW_VHOST_EV_READY)
		fz_ready[d & 3] = true;
	vgw_ctl_events_poll();
}

static void
fz_put(struct fz_client *f, uint8_t b)
{
	if (f->tx_len == FZ_WRITE_MAX)
		fz_flush(f);
	f->tx[f->tx_len++] = b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	struct fz_client *f;
	size_t i = 0;

	if (!once) {
		once = true;
		fz_verbose = getenv("FUZZ_CTL_PRINT") != NULL;
		fz_log_hook = fz_log;
		fz_devices_init();
		fz_server_open();
		for (unsigned int k = 0; k < FZ_CLIENTS; k++)
			fz_cl[k].tx = fz_tx_buf[k];
	}
	for (unsigned int k = 0; k < 3; k++) {
		fz_connected[k] = k == 1;
		fz_ready[k] = false;
		fz_devs[k].suspended = false;
	}
	fz_parsed = 0;
	if (vgw_ctl_events_init(&fz_conf) < 0)
		abort();
	for (unsigned int k = 0; k < FZ_CLIENTS; k++) {
		fz_cl[k].tx_len = 0;
		fz_connect(&fz_cl[k]);
	}
	f = &fz_cl[0];
	while (i < size) {
		uint8_t b = data[i++];

		if (b != 0xff) {
			if (f->c != NULL)
				fz_put(f, b);
			continue;
		}
		if (i >= size)
			break;
		switch (data[i++]) {
		case 0xff:
			if (f->c != NULL)
				fz_put(f, 0xff);
			break;
		case 'F':
			fz_flush(f);
			break;
		case 'C':
			if (i < size) {
				fz_flush(f);
				f = &fz_cl[data[i++] % FZ_CLIENTS];
			}
			break;
		case 'H':
			fz_flush(f);
			fz_hangup(f);
			fz_connect(f);
			break;
		case 'S':
			fz_flush(f);
			f->stalled = !f->stalled;
			fz_drain(f);
			break;
		case 'R':
			if (i + 3 <= size && f->c != NULL) {
				unsigned int n = (data[i] * 256u + data[i + 1]) * 4;

				for (unsigned int k = 0; k < n; k++)
					fz_put(f, data[i + 2]);
			}
			i += 3;
			break;
		case 'D':
			if (i + 2 <= size && f->c != NULL) {
				static uint8_t pat[4096];
				unsigned int n = data[i] * 256u + data[i + 1];
				size_t len = RTE_MIN(f->tx_len, sizeof(pat));

				memcpy(pat, f->tx + f->tx_len - len, len);
				/* at most 16 KiB (a few hundred lines, past the output limit):
				 * the server's work is the cost */
				for (size_t k = 0; k < n && (k + 1) * len <= (16u << 10); k++)
					for (size_t j = 0; j < len; j++)
						fz_put(f, pat[j]);
			}
			i += 2;
			break;
		case 'E':
			fz_flush(f);
			if (i + 2 <= size)
				fz_event(data[i], data[i + 1]);
			i += 2;
			break;
		case 'A':
		case 'Q':
		case 'M':
			fz_flush(f);
			if (i < size) {
				fz_connections(data[i - 1], data[i]);
				i++;
			}
			break;
		default:
			break;
		}
	}
	for (unsigned int k = 0; k < FZ_CLIENTS; k++) {
		fz_flush(&fz_cl[k]);
		fz_cl[k].stalled = false;
		fz_pass();
	}
	for (unsigned int k = 0; k < FZ_CLIENTS; k++)
		fz_hangup(&fz_cl[k]);
	fz_extra_close();
	if (srv.n_clients != 0 || srv.n_backlog != 0 || fz_pending())
		abort();
	vgw_ctl_events_fini();
	return 0;
}
