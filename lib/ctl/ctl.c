/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "vgw_common.h"
#include "vgw_log.h"
#include "vgw_ctl.h"
#include "ctl_priv.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_ctl, ctl, INFO);

#define CTL_MAX_CLIENTS 16
#define CTL_LINE_MAX 65536

struct ctl_client {
	int fd;
	bool subscribed;
	size_t len;
	char buf[CTL_LINE_MAX];
};

static int listen_fd = -1;
static char sock_path[VGW_SOCKET_MAX];
static struct ctl_client *clients[CTL_MAX_CLIENTS];
static struct ctl_client *current;	/* the client being served */

int
vgw_ctl_init(const char *path, const struct vgw_conf *conf)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int ret;

	if (vgw_strlcpy_checked(sa.sun_path, path, sizeof(sa.sun_path)) < 0)
		return -ENAMETOOLONG;
	ret = vgw_ctl_events_init(conf);
	if (ret < 0)
		return ret;
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	unlink(path);
	old = umask(0177);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 16) < 0) {
		int err = -errno;

		umask(old);
		close(listen_fd);
		listen_fd = -1;
		return err;
	}
	umask(old);
	strcpy(sock_path, path);
	VGW_LOG(ctl, INFO, "control socket %s", path);
	return 0;
}

static void
client_close(unsigned int i)
{
	close(clients[i]->fd);
	free(clients[i]);
	clients[i] = NULL;
}

static void
client_accept(void)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (unsigned int i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (clients[i] == NULL) {
			clients[i] = calloc(1, sizeof(*clients[i]));
			if (clients[i] == NULL)
				break;
			clients[i]->fd = fd;
			return;
		}
	}
	VGW_LOG(ctl, WARNING, "control socket: too many clients, connection refused");
	close(fd);
}

/* Write the whole reply; a client that does not read is dropped. */
static int
client_send(struct ctl_client *c, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT);
	size_t len, off = 0;
	int ret = 0;

	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	s[len++] = '\n';	/* json_dumps leaves room: replace the NUL */
	while (off < len) {
		ssize_t w = send(c->fd, s + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

			if (poll(&pfd, 1, 1000) <= 0) {
				ret = -ETIMEDOUT;
				break;
			}
			continue;
		}
		if (w <= 0) {
			ret = -EPIPE;
			break;
		}
		off += w;
	}
	free(s);
	return ret;
}

static json_t *
handle_line(const char *line)
{
	json_error_t jerr;
	json_t *req, *reply;

	req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
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
client_read(unsigned int i)
{
	struct ctl_client *c = clients[i];
	ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	char *start, *nl;

	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(i);
		return;
	}
	if (r < 0)
		return;
	c->len += r;
	c->buf[c->len] = '\0';
	start = c->buf;
	while ((nl = memchr(start, '\n', c->len - (start - c->buf))) != NULL) {
		json_t *reply;

		*nl = '\0';
		if (nl != start) {
			current = c;
			reply = handle_line(start);
			current = NULL;
			if (client_send(c, reply) < 0) {
				json_decref(reply);
				client_close(i);
				return;
			}
			json_decref(reply);
		}
		start = nl + 1;
	}
	c->len -= start - c->buf;
	memmove(c->buf, start, c->len);
	if (c->len == sizeof(c->buf) - 1) {
		json_t *reply = vgw_ctl_error("request longer than %d bytes", CTL_LINE_MAX - 1);

		client_send(c, reply);
		json_decref(reply);
		client_close(i);
	}
}

void
vgw_ctl_subscribe_current(void)
{
	if (current != NULL)
		current->subscribed = true;
}

/* A subscriber that cannot take a whole event line now is dropped: events
 * are never half-written and the control thread never waits for a reader. */
void
vgw_ctl_broadcast(json_t *event)
{
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
	for (unsigned int i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (clients[i] == NULL || !clients[i]->subscribed)
			continue;
		if (send(clients[i]->fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len) {
			VGW_LOG(ctl, WARNING, "control socket: dropped a subscriber that does not read");
			client_close(i);
		}
	}
	free(s);
}

void
vgw_ctl_poll(int timeout_ms)
{
	struct pollfd pfd[CTL_MAX_CLIENTS + 1];
	unsigned int map[CTL_MAX_CLIENTS + 1];
	unsigned int n = 0;

	vgw_ctl_events_poll();
	if (listen_fd < 0) {
		poll(NULL, 0, timeout_ms);
		return;
	}
	pfd[n].fd = listen_fd;
	pfd[n++].events = POLLIN;
	for (unsigned int i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (clients[i] == NULL)
			continue;
		map[n] = i;
		pfd[n].fd = clients[i]->fd;
		pfd[n++].events = POLLIN;
	}
	if (poll(pfd, n, timeout_ms) <= 0)
		return;
	for (unsigned int k = 1; k < n; k++)
		if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
			client_read(map[k]);
	if (pfd[0].revents & POLLIN)
		client_accept();
}

void
vgw_ctl_fini(void)
{
	for (unsigned int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i] != NULL)
			client_close(i);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(sock_path);
		listen_fd = -1;
	}
	vgw_ctl_events_fini();
}
