/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs scenarios migrate and migrate-ctl: a FUSE session moves from
 * the gateway on --socket to the one on --socket2, its device state carried
 * by SET_DEVICE_STATE_FD (migrate) or by the caller through the control
 * sockets (migrate-ctl).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vufront_fs.h"

/* Read a pipe to EOF (the back-end's saved state). */
static int
fs_read_all(int fd, uint8_t **buf, size_t *len, int timeout_ms)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap);
	double deadline = fs_now() + timeout_ms / 1000.0;

	if (b == NULL)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (fs_now() > deadline) {
			free(b);
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (n == cap) {
			uint8_t *nb = realloc(b, cap * 2);

			if (nb == NULL) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* The destination's prepare hook: after negotiation and the memory table,
 * before the rings: SET_DEVICE_STATE_FD(LOAD), the saved bytes into the
 * pipe, our end closed, CHECK_DEVICE_STATE. */
static int
fs_load_state(struct vufront *vu, void *arg)
{
	struct fs_front *f = arg;
	uint64_t res = 0;
	int p[2], bfd = -1, ret;
	size_t off = 0;

	if (f->state_via_ctl) {
		/* the caller loads the saved file (state-load) now */
		fs_sync("connected");
		f->state_loaded = true;
		return 0;
	}

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	ret = vufront_set_device_state_fd(vu, 1, 0, p[0], &bfd, &res);
	close(p[0]);
	fs_check(f, ret == 0 && bfd < 0, "SET_DEVICE_STATE_FD load accepted",
		 "%d, reply 0x%" PRIx64 ": %s", ret, res, vufront_errmsg(vu));
	if (ret < 0) {
		close(p[1]);
		return ret;
	}
	while (off < f->state_len) {
		ssize_t w = write(p[1], f->state + off, f->state_len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = -errno;
			break;
		}
		off += (size_t)w;
	}
	close(p[1]);
	fs_check(f, off == f->state_len, "state written to the destination", "%zu of %zu bytes",
		 off, f->state_len);
	ret = vufront_check_device_state(vu, &res);
	f->state_loaded = fs_check(f, ret == 0 && res == 0, "CHECK_DEVICE_STATE after load",
				   "%d, result 0x%" PRIx64, ret, res);
	return f->state_loaded ? 0 : -EIO;
}

/* READ [from, to) of the read file through fh in 64 KiB pieces, one at a
 * time, each compared with the file's pattern; one check named what. */
static bool
fs_read_range(struct fs_front *f, uint64_t nodeid, uint64_t fh, uint64_t from, uint64_t to,
	      const char *what)
{
	char why[160];

	for (uint64_t off = from; off < to; off += 65536) {
		uint32_t len = (uint32_t)(to - off < 65536 ? to - off : 65536);
		struct fs_slot *s = fs_post_read(f, nodeid, fh, off, len);
		bool ok;

		if (s == NULL)
			return false;
		fs_wait(f, s, f->o->timeout_ms);
		ok = fs_reply_ok(f, what, s, 0, 0) &&
		     (fs_read_matches(f, s, off, len, why, sizeof(why)) ||
		      fs_check(f, false, what, "offset %" PRIu64 ": %s", off, why));
		if (s->done)
			fs_slot_put(s);
		if (!ok)
			return false;
	}
	return fs_check(f, true, what, NULL);
}

/* The source's side: SET_DEVICE_STATE_FD(SAVE), the pipe read to EOF,
 * CHECK_DEVICE_STATE. */
static bool
fs_save_state(struct fs_front *f)
{
	uint64_t res = 0;
	int p[2], bfd = -1, ret;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	ret = vufront_set_device_state_fd(f->vu, 0, 0, p[1], &bfd, &res);
	close(p[1]);
	if (!fs_check(f, ret == 0 && bfd < 0, "SET_DEVICE_STATE_FD save accepted",
		      "%d, reply 0x%" PRIx64 ": %s", ret, res, vufront_errmsg(f->vu))) {
		close(p[0]);
		return false;
	}
	ret = fs_read_all(p[0], &f->state, &f->state_len, f->o->timeout_ms);
	close(p[0]);
	if (!fs_check(f, ret == 0 && f->state_len > 0, "state read to EOF", "%d, %zu bytes", ret,
		      f->state_len))
		return false;
	printf("info state %zu bytes\n", f->state_len);
	ret = vufront_check_device_state(f->vu, &res);
	return fs_check(f, ret == 0 && res == 0, "CHECK_DEVICE_STATE after save",
			"%d, result 0x%" PRIx64, ret, res);
}

/* The source stops (rings stopped: nothing in flight) and saves. */
static bool
fs_migrate_save(struct fs_front *f)
{
	int ret = vufront_dev_stop(f->vu);

	if (!fs_check(f, ret == 0, "source rings stopped", "%s", vufront_errmsg(f->vu)))
		return false;
	if (f->state_via_ctl)
		fs_sync("stopped"); /* the caller saves it (state-save) */
	else if (!fs_save_state(f))
		return false;
	fs_sync("saved");
	return true;
}

/* The destination: same guest memory and rings, a new back-end, the state
 * loaded before the rings start. */
static bool
fs_migrate_load(struct fs_front *f)
{
	uint64_t pf = VUFRONT_BIT(VUFRONT_PF_MQ) | VUFRONT_BIT(VUFRONT_PF_LOG_SHMFD) |
		      VUFRONT_BIT(VUFRONT_PF_REPLY_ACK);
	struct vufront_dev_conf dc;
	int ret;

	vufront_disconnect(f->vu);
	ret = vufront_connect(f->vu, f->o->socket2, f->o->timeout_ms, VUFRONT_CONNECT_PROBE);
	if (!fs_check(f, ret == 0, "connect to the destination", "%s", vufront_errmsg(f->vu)))
		return false;
	f->connections++;
	if (!f->state_via_ctl)
		pf |= VUFRONT_BIT(VUFRONT_PF_DEVICE_STATE);
	fs_dev_conf(f, &dc, pf);
	dc.prepare = fs_load_state;
	ret = vufront_dev_start(f->vu, &dc);
	if (!fs_check(f, ret == 0 && f->state_loaded, "destination started on the loaded state",
		      "%d: %s", ret, vufront_errmsg(f->vu)))
		return false;
	fs_sync("loaded");
	return true;
}

/* A FUSE session moves between two gateways: on the source INIT, LOOKUP,
 * OPEN and reads of the first half; the rings stop; SET_DEVICE_STATE_FD
 * (SAVE) and the state read to EOF; CHECK. Then the same guest memory is
 * brought up on the destination with the state loaded before the rings
 * start, and the session goes on there without INIT: reads of the second
 * half through the source's file handle, GETATTR of the source's node id,
 * a new LOOKUP, RELEASE of the source's handle. */
void
scenario_migrate(struct fs_front *f)
{
	struct fuse_entry_out e, e2;
	struct fuse_attr a;
	uint64_t fh, size = f->o->read_size;
	uint32_t half = (uint32_t)(size / 2) & ~4095u;

	if (!fs_init(f) || !fs_open_read_file(f, &e, &fh))
		return;
	if (!fs_read_range(f, e.nodeid, fh, 0, half, "read first half on the source"))
		return;
	if (!fs_migrate_save(f) || !fs_migrate_load(f))
		return;
	/* no INIT: the session goes on */
	fs_read_range(f, e.nodeid, fh, half, size,
		      "read second half on the destination (source's fh)");
	if (fs_getattr(f, e.nodeid, "getattr of the source's node id", &a))
		fs_check(f, a.size == size && a.ino == e.attr.ino,
			 "getattr of the source's node id", "size %" PRIu64 " ino %" PRIu64,
			 (uint64_t)a.size, (uint64_t)a.ino);
	if (fs_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup again on the destination", &e2, 0))
		fs_check(f, e2.nodeid == e.nodeid, "lookup again gives the same node id",
			 "%" PRIu64 " vs %" PRIu64, e2.nodeid, e.nodeid);
	if (fs_release(f, FUSE_RELEASE, e.nodeid, fh, "release the source's fh"))
		fs_check(f, true, "release the source's fh", NULL);
	fs_root_alive(f, "migration");
}
