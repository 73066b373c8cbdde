/* SPDX-License-Identifier: BSD-3-Clause */
/* The keeper's control socket: <dir>/keeper.sock (the directory is the
 * keeper's, mode 0700), one JSON request and one JSON reply per
 * connection. Requests are small and local; a client gets 1 s to send its
 * line. vhostgw-ctl finds the socket through the gateway's "keeper". */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "keeper.h"

int
kp_ctl_open(struct keeper *k)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (snprintf(k->ctl_path, sizeof(k->ctl_path), "%s/keeper.sock", k->dir) >=
	    (int)sizeof(k->ctl_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, k->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(k->ctl_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	k->ctl_fd = fd;
	return 0;
}

void
kp_ctl_close(struct keeper *k)
{
	if (k->ctl_fd >= 0) {
		close(k->ctl_fd);
		unlink(k->ctl_path);
	}
	k->ctl_fd = -1;
}

static json_t *
status(struct keeper *k)
{
	const struct kp_gw *g = &k->gw;

	return json_pack("{s:b, s:I, s:{s:I, s:i, s:s}, s:o, s:I, s:I, s:s, s:b}", "ok", 1, "pid",
			 (json_int_t)getpid(), "gateway", "pid", (json_int_t)g->pid, "generation",
			 g->gen, "binary", g->argv[0], "standby",
			 g->sb_pid > 0 ? json_integer(g->sb_pid) : json_null(), "restarts",
			 (json_int_t)g->restarts, "upgrades", (json_int_t)g->upgrades, "last_exit",
			 g->last_exit, "failed", g->failed);
}

static json_t *
handle(struct keeper *k, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *r;
	const char *cmd = NULL, *binary = NULL;
	char why[160];

	if (req == NULL || json_unpack(req, "{s:s, s?:s}", "cmd", &cmd, "binary", &binary) < 0) {
		json_decref(req);
		return json_pack("{s:b, s:s}", "ok", 0, "error",
				 "expected {\"cmd\": \"status\"|\"upgrade\", \"binary\": PATH}");
	}
	if (strcmp(cmd, "status") == 0)
		r = status(k);
	else if (strcmp(cmd, "upgrade") != 0)
		r = json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command");
	else if (kp_upgrade(k, binary, why, sizeof(why)) < 0)
		r = json_pack("{s:b, s:s}", "ok", 0, "error", why);
	else
		r = json_pack("{s:b, s:s}", "ok", 1, "binary", k->gw.argv[0]);
	json_decref(req);
	return r;
}

void
kp_ctl_accept(struct keeper *k)
{
	struct pollfd p = { .events = POLLIN };
	char line[4096];
	size_t n = 0;
	json_t *r;
	char *out;
	int fd = accept4(k->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	p.fd = fd;
	while (n < sizeof(line) - 1 && poll(&p, 1, 1000) == 1) {
		ssize_t m = read(fd, line + n, sizeof(line) - 1 - n);

		if (m <= 0)
			break;
		n += m;
		if (memchr(line, '\n', n) != NULL)
			break;
	}
	line[n] = '\0';
	r = handle(k, line);
	out = json_dumps(r, JSON_COMPACT);
	if (out != NULL) {
		dprintf(fd, "%s\n", out);
		free(out);
	}
	json_decref(r);
	close(fd);
}
