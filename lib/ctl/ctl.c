/* SPDX-License-Identifier: BSD-3-Clause */
/* The control socket server.
 *
 * One epoll set holds the listening socket and every client. The control
 * thread also feeds the phase machines and the data-path rebuilds, so it
 * never waits for a client: each connection has an input buffer that grows
 * up to the line limit and an output queue of reply and event bytes,
 * flushed without blocking (EPOLLOUT armed while bytes remain). A client
 * whose unread bytes would pass CTL_OUTQ_MAX is dropped. A client that
 * pipelines requests gets CTL_LINES_PER_PASS of them served per pass and
 * the rest on the next passes, in order; meanwhile its input is not read.
 *
 * A client is closed at once but freed at the end of the pass: events
 * already fetched from epoll may still point at it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>

#include <jansson.h>

#include "vgw_common.h"
#include "vgw_log.h"
#include "vgw_ctl.h"
#include "ctl_priv.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_ctl, ctl, INFO);

/* The limits a client can reach: tests/fuzz/fuzz_ctl.c, which includes
 * this file, sets smaller ones, so that reaching them is cheap. */
#ifndef CTL_MAX_CLIENTS
#define CTL_MAX_CLIENTS 4096 /* concurrent connections */
#endif
#ifndef CTL_LINE_MAX
#define CTL_LINE_MAX 65536 /* a request line with its '\n' */
#endif
#ifndef CTL_OUTQ_MAX
#define CTL_OUTQ_MAX (1u << 20) /* unread reply and event bytes */
#endif
#ifndef CTL_OUTQ_KEEP
#define CTL_OUTQ_KEEP 65536 /* a drained queue above this is freed */
#endif
#define CTL_BUF_MIN 4096      /* first size of a buffer or queue */
#define CTL_LINES_PER_PASS 32 /* requests served per client per pass */
#define CTL_ACCEPTS_PER_PASS 64
#define CTL_EVENTS_PER_WAIT 64
#define CTL_REFUSE_LOG_S 10.0 /* at most one refusal warning per 10 s */

_Static_assert(CTL_LINE_MAX >= CTL_BUF_MIN, "the input buffer only grows");

struct ctl_client {
	TAILQ_ENTRY(ctl_client) next; /* on clients, or graveyard once dead */
	TAILQ_ENTRY(ctl_client) next_backlog;
	int fd;
	pid_t pid; /* the peer's, for the logs */
	uint64_t id;
	uint32_t armed; /* epoll events asked for */
	bool subscribed;
	bool backlog; /* on the backlog list: lines left */
	bool closing; /* close once the output is flushed */
	bool dead;    /* closed, freed at the end of the pass */
	char *in;     /* [in_start, in_len) not served yet */
	size_t in_start, in_len, in_cap;
	char *out; /* [out_start, out_len) not sent yet */
	size_t out_start, out_len, out_cap;
};

TAILQ_HEAD(ctl_client_list, ctl_client);

static struct ctl_server {
	int listen_fd;
	int epoll_fd;
	int spare_fd; /* given up to refuse when out of fds */
	char path[VGW_SOCKET_MAX];
	struct ctl_client_list clients;
	struct ctl_client_list backlog;
	struct ctl_client_list graveyard;
	unsigned int n_clients;
	unsigned int n_backlog;
	uint64_t next_id;
	uint64_t refused;
	double refuse_logged;
	struct ctl_client *current; /* the client being served */
} srv = {
	.listen_fd = -1,
	.epoll_fd = -1,
	.spare_fd = -1,
	.clients = TAILQ_HEAD_INITIALIZER(srv.clients),
	.backlog = TAILQ_HEAD_INITIALIZER(srv.backlog),
	.graveyard = TAILQ_HEAD_INITIALIZER(srv.graveyard),
};

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
listen_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, err = 0;

	if (vgw_strlcpy_checked(sa.sun_path, path, sizeof(sa.sun_path)) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0)
		err = -errno;
	umask(old);
	if (err < 0) {
		close(fd);
		return err;
	}
	return fd;
}

static void
server_close(void)
{
	if (srv.epoll_fd >= 0)
		close(srv.epoll_fd);
	if (srv.spare_fd >= 0)
		close(srv.spare_fd);
	if (srv.listen_fd >= 0) {
		close(srv.listen_fd);
		unlink(srv.path);
	}
	srv.epoll_fd = srv.spare_fd = srv.listen_fd = -1;
}

static int
server_open(const char *path)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	srv.listen_fd = listen_socket(path);
	if (srv.listen_fd < 0)
		return srv.listen_fd;
	strcpy(srv.path, path);
	srv.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (srv.epoll_fd < 0 || epoll_ctl(srv.epoll_fd, EPOLL_CTL_ADD, srv.listen_fd, &ev) < 0)
		return -errno;
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

int
vgw_ctl_init(const char *path, const struct vgw_conf *conf)
{
	int ret;

	if (strlen(path) >= sizeof(srv.path))
		return -ENAMETOOLONG;
	ret = vgw_ctl_events_init(conf);
	if (ret < 0)
		return ret;
	ret = server_open(path);
	if (ret < 0) {
		server_close();
		vgw_ctl_events_fini();
		return ret;
	}
	VGW_LOG(ctl, INFO, "control socket %s", path);
	return 0;
}

/* Close a client now; free it at the end of the pass. */
static void
client_kill(struct ctl_client *c)
{
	if (c->dead)
		return;
	if (c->backlog) {
		TAILQ_REMOVE(&srv.backlog, c, next_backlog);
		srv.n_backlog--;
	}
	close(c->fd);
	c->dead = true;
	TAILQ_REMOVE(&srv.clients, c, next);
	TAILQ_INSERT_TAIL(&srv.graveyard, c, next);
	srv.n_clients--;
}

static void
client_drop(struct ctl_client *c, const char *why)
{
	VGW_LOG(ctl, WARNING, "control socket: dropped %s %" PRIu64 " (pid %d): %s",
		c->subscribed ? "subscriber" : "client", c->id, (int)c->pid, why);
	client_kill(c);
}

static void
graveyard_free(void)
{
	struct ctl_client *c;

	while ((c = TAILQ_FIRST(&srv.graveyard)) != NULL) {
		TAILQ_REMOVE(&srv.graveyard, c, next);
		free(c->in);
		free(c->out);
		free(c);
	}
}

static void
backlog_set(struct ctl_client *c, bool on)
{
	if (c->backlog == on)
		return;
	if (on)
		TAILQ_INSERT_TAIL(&srv.backlog, c, next_backlog);
	else
		TAILQ_REMOVE(&srv.backlog, c, next_backlog);
	srv.n_backlog += on ? 1 : -1;
	c->backlog = on;
}

/* Ask epoll for input unless lines are waiting or the client is closing,
 * and for writability while output is queued. */
static void
client_rearm(struct ctl_client *c)
{
	uint32_t want = 0;
	struct epoll_event ev;

	if (!c->closing && !c->backlog)
		want |= EPOLLIN;
	if (c->out_start < c->out_len)
		want |= EPOLLOUT;
	if (want == c->armed)
		return;
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(srv.epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		client_drop(c, "epoll_ctl failed");
		return;
	}
	c->armed = want;
}

static void
outq_drained(struct ctl_client *c)
{
	c->out_start = c->out_len = 0;
	if (c->out_cap > CTL_OUTQ_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
}

/* Send what is queued without waiting; EPOLLOUT brings the rest. */
static void
client_flush(struct ctl_client *c)
{
	while (!c->dead && c->out_start < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_start, c->out_len - c->out_start,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			client_kill(c); /* the peer is gone */
		else
			c->out_start += w;
	}
	if (c->dead)
		return;
	if (c->out_start == c->out_len) {
		outq_drained(c);
		if (c->closing) {
			client_kill(c);
			return;
		}
	}
	client_rearm(c);
}

static int
outq_reserve(struct ctl_client *c, size_t len)
{
	size_t queued = c->out_len - c->out_start;
	size_t cap = c->out_cap != 0 ? c->out_cap : CTL_BUF_MIN;
	char *p;

	if (c->out_start > 0) {
		memmove(c->out, c->out + c->out_start, queued);
		c->out_start = 0;
		c->out_len = queued;
	}
	if (queued + len <= c->out_cap)
		return 0;
	while (cap < queued + len)
		cap *= 2;
	p = realloc(c->out, cap);
	if (p == NULL)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/* Queue bytes for a client; a client that would have more than
 * CTL_OUTQ_MAX unread is dropped, never waited for. */
static int
client_queue(struct ctl_client *c, const char *s, size_t len)
{
	char why[96];

	if (c->dead)
		return -EPIPE;
	if (c->out_len - c->out_start + len > CTL_OUTQ_MAX) {
		snprintf(why, sizeof(why), "it does not read (%zu bytes unread, limit %u)",
			 c->out_len - c->out_start, CTL_OUTQ_MAX);
		client_drop(c, why);
		return -ENOBUFS;
	}
	if (c->out_len + len > c->out_cap && outq_reserve(c, len) < 0) {
		client_drop(c, "out of memory for its output");
		return -ENOMEM;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out_len += len;
	return 0;
}

/* Queue a reply (consumed) as one line. */
static void
client_reply(struct ctl_client *c, json_t *reply)
{
	char *s = reply != NULL ? json_dumps(reply, JSON_COMPACT) : NULL;
	size_t len;

	json_decref(reply);
	if (s == NULL) {
		client_drop(c, "out of memory for a reply");
		return;
	}
	len = strlen(s);
	s[len++] = '\n'; /* json_dumps leaves room: replace the NUL */
	client_queue(c, s, len);
	free(s);
}

static json_t *
handle_line(const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *reply;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL)
		return vgw_ctl_error("invalid JSON at column %d: %s", jerr.column, jerr.text);
	if (!json_is_object(req)) {
		json_decref(req);
		return vgw_ctl_error("a request is a JSON object");
	}
	reply = vgw_ctl_dispatch(req);
	json_decref(req);
	return reply;
}

static void
serve_line(struct ctl_client *c, const char *line, size_t len)
{
	json_t *reply;

	srv.current = c;
	reply = handle_line(line, len);
	srv.current = NULL;
	client_reply(c, reply);
}

/* Answer a line over the limit with an error and close after it. */
static void
client_refuse_line(struct ctl_client *c)
{
	client_reply(c, vgw_ctl_error("request longer than %d bytes", CTL_LINE_MAX - 1));
	c->closing = true;
	c->in_start = c->in_len = 0;
}

/* Serve up to CTL_LINES_PER_PASS complete lines, in order; the backlog
 * list brings the client back for the rest. */
static void
client_serve(struct ctl_client *c)
{
	unsigned int n = 0;
	char *line, *nl = NULL;

	while (!c->dead) {
		line = c->in + c->in_start;
		nl = memchr(line, '\n', c->in_len - c->in_start);
		if (nl == NULL || n++ == CTL_LINES_PER_PASS)
			break;
		c->in_start += nl - line + 1;
		if (nl != line)
			serve_line(c, line, nl - line);
	}
	if (c->dead)
		return;
	backlog_set(c, nl != NULL);
	if (nl == NULL && c->in_len - c->in_start >= CTL_LINE_MAX)
		client_refuse_line(c);
	client_flush(c);
}

/* Room for the next read: move the unserved bytes to the front and grow
 * the buffer, up to the line limit, when it is full. */
static int
inbuf_reserve(struct ctl_client *c)
{
	size_t left = c->in_len - c->in_start, cap;
	char *p;

	if (c->in_start > 0) {
		memmove(c->in, c->in + c->in_start, left);
		c->in_start = 0;
		c->in_len = left;
	}
	if (c->in_len < c->in_cap)
		return 0;
	cap = RTE_MIN(c->in_cap * 2, (size_t)CTL_LINE_MAX);
	p = realloc(c->in, cap);
	if (p == NULL)
		return -ENOMEM;
	c->in = p;
	c->in_cap = cap;
	return 0;
}

static void
client_read(struct ctl_client *c)
{
	ssize_t r;

	if (inbuf_reserve(c) < 0) {
		client_drop(c, "out of memory for its input");
		return;
	}
	r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_kill(c);
		return;
	}
	c->in_len += r;
	client_serve(c);
}

/* One warning now and then, with the count so far, not one per connection. */
static void
refuse(int fd, const char *why)
{
	char msg[128];
	double now = mono_now();
	int len;

	if (fd >= 0) {
		len = snprintf(msg, sizeof(msg),
			       "{\"ok\":false,\"error\":\"connection refused: %s\"}\n", why);
		send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
	}
	srv.refused++;
	if (srv.refuse_logged != 0 && now - srv.refuse_logged < CTL_REFUSE_LOG_S)
		return;
	srv.refuse_logged = now;
	VGW_LOG(ctl, WARNING,
		"control socket: connection refused: %s (%" PRIu64
		" refused since start; next warning in %.0f s at the earliest)",
		why, srv.refused, CTL_REFUSE_LOG_S);
}

/* Out of fds: free the spare one to accept and close the connection, or
 * epoll would report the listening socket readable forever. */
static void
refuse_without_fd(void)
{
	int fd = -1;

	if (srv.spare_fd >= 0) {
		close(srv.spare_fd);
		fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	}
	refuse(fd, "out of file descriptors");
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int
client_create(int fd)
{
	struct ctl_client *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	if (c == NULL)
		return -ENOMEM;
	c->in = malloc(CTL_BUF_MIN);
	ev.data.ptr = c;
	if (c->in == NULL || epoll_ctl(srv.epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c->in);
		free(c);
		return -ENOMEM;
	}
	c->in_cap = CTL_BUF_MIN;
	c->fd = fd;
	c->armed = EPOLLIN;
	c->id = ++srv.next_id;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		c->pid = cred.pid;
	TAILQ_INSERT_TAIL(&srv.clients, c, next);
	srv.n_clients++;
	return 0;
}

static void
server_accept(void)
{
	for (unsigned int i = 0; i < CTL_ACCEPTS_PER_PASS; i++) {
		int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == ECONNABORTED || errno == EINTR))
			continue;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			refuse_without_fd();
		if (fd < 0)
			return;
		if (srv.n_clients >= CTL_MAX_CLIENTS)
			refuse(fd, "too many clients (limit " RTE_STR(CTL_MAX_CLIENTS) ")");
		else if (client_create(fd) < 0)
			refuse(fd, "out of memory");
	}
}

void
vgw_ctl_subscribe_current(void)
{
	if (srv.current != NULL)
		srv.current->subscribed = true;
}

/* Queue an event (consumed) for every subscriber: whole lines, in order,
 * and a subscriber that does not keep up is dropped at CTL_OUTQ_MAX. */
void
vgw_ctl_broadcast(json_t *event)
{
	struct ctl_client *c, *tmp;
	char *s;
	size_t len;

	if (event == NULL)
		return;
	s = json_dumps(event, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(event);
	if (s == NULL)
		return;
	len = strlen(s);
	s[len++] = '\n';
	for (c = TAILQ_FIRST(&srv.clients); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, next);
		if (c->subscribed && !c->closing && client_queue(c, s, len) == 0)
			client_flush(c);
	}
	free(s);
}

/* Clients with lines left from earlier passes, each once. */
static void
serve_backlog(void)
{
	unsigned int n = srv.n_backlog;
	struct ctl_client *c;

	while (n-- > 0 && (c = TAILQ_FIRST(&srv.backlog)) != NULL) {
		backlog_set(c, false);
		client_serve(c);
	}
}

static void
handle_event(const struct epoll_event *ev)
{
	struct ctl_client *c = ev->data.ptr;

	if (c == NULL) {
		server_accept();
		return;
	}
	if (!c->dead && (ev->events & EPOLLOUT))
		client_flush(c);
	if (c->dead || !(ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->closing)
		client_flush(c); /* fails and closes if the peer is gone */
	else if (!c->backlog)
		client_read(c);
}

void
vgw_ctl_poll(int timeout_ms)
{
	struct epoll_event ev[CTL_EVENTS_PER_WAIT];
	int n;

	vgw_ctl_events_poll();
	if (srv.epoll_fd < 0) {
		poll(NULL, 0, timeout_ms);
		return;
	}
	n = epoll_wait(srv.epoll_fd, ev, VGW_ARRAY_SIZE(ev), srv.n_backlog != 0 ? 0 : timeout_ms);
	serve_backlog();
	for (int i = 0; i < n; i++)
		handle_event(&ev[i]);
	graveyard_free();
}

void
vgw_ctl_fini(void)
{
	struct ctl_client *c;

	while ((c = TAILQ_FIRST(&srv.clients)) != NULL)
		client_kill(c);
	graveyard_free();
	server_close();
	vgw_ctl_events_fini();
}
