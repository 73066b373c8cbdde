/* SPDX-License-Identifier: BSD-3-Clause */
/* Moving a device-state stream through the pipe of SET_DEVICE_STATE_FD.
 *
 * The fd comes from the front-end, so nothing is assumed about it: it may
 * be blocking or not, and the peer may stall or go away. Every wait is a
 * poll() bounded by the caller's deadline; the fd's flags are never changed
 * (its open file description may be shared with the front-end). */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vgw_state.h"

#define READ_MIN_CAP (64u << 10)

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for ev (or in error or hung up: the next read or
 * write tells which), or the deadline (-1: none) passes. A passed deadline
 * still polls once, so a zero timeout means "only what needs no wait".
 * Once *cut_fd (< 0: none) is readable the deadline becomes now and it is
 * no longer polled: the transfer ends with what needs no more waiting, and
 * a wait after that is -ECANCELED. */
static int
wait_fd(int fd, short ev, int64_t *deadline, int *cut_fd, bool *cut)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = ev },
				       { .fd = *cut_fd, .events = POLLIN } };
		int timeout = -1;
		int n;

		if (*deadline >= 0) {
			int64_t left = *deadline - now_ms();

			timeout = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
		}
		n = poll(p, 2, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents & POLLNVAL)
			return -EBADF;
		if (p[0].revents)
			return 0;
		if (p[1].revents) {
			*deadline = now_ms();
			*cut_fd = -1;
			*cut = true;
			continue;
		}
		if (timeout == 0)
			return *cut ? -ECANCELED : -ETIMEDOUT;
	}
}

int
vgw_state_write_fd(int fd, const void *buf, size_t len, int timeout_ms)
{
	return vgw_state_write_fd_cut(fd, buf, len, timeout_ms, -1);
}

int
vgw_state_write_fd_cut(int fd, const void *buf, size_t len, int timeout_ms, int cut_fd)
{
	const uint8_t *p = buf;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	sigset_t pipe_set, old_set, pending;
	bool pipe_pending, cut = false;
	size_t off = 0, chunk;
	int fl, rc = 0;

	/* poll() ignores negative fds: it would wait out the deadline. */
	if (fd < 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	/* A blocking write larger than the free room of a pipe blocks until
	 * the peer has read it all, past any deadline. POLLOUT on a pipe
	 * promises room for PIPE_BUF bytes, so a blocking fd is fed that
	 * much at a time. */
	chunk = (fl & O_NONBLOCK) ? SIZE_MAX : PIPE_BUF;

	/* A peer that closed its end must come back as -EPIPE, not as a
	 * SIGPIPE that kills a process which did not ignore it: block the
	 * signal in this thread and drop the one the failed write raised. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	sigpending(&pending);
	pipe_pending = sigismember(&pending, SIGPIPE);

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		ssize_t w;

		rc = wait_fd(fd, POLLOUT, &deadline, &cut_fd, &cut);
		if (rc != 0)
			break;
		w = write(fd, p + off, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}

	if (rc == -EPIPE && !pipe_pending) {
		const struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return rc;
}

int
vgw_state_read_fd(int fd, size_t max_bytes, int timeout_ms, void **bufp, size_t *lenp)
{
	return vgw_state_read_fd_cut(fd, max_bytes, timeout_ms, -1, bufp, lenp);
}

int
vgw_state_read_fd_cut(int fd, size_t max_bytes, int timeout_ms, int cut_fd, void **bufp,
		      size_t *lenp)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	bool cut = false;
	int rc;

	*bufp = NULL;
	*lenp = 0;
	if (fd < 0)
		return -EBADF;
	if (max_bytes == 0 || max_bytes > VGW_STATE_MAX_STREAM)
		max_bytes = VGW_STATE_MAX_STREAM;
	for (;;) {
		ssize_t n;

		/* Room for one byte more than allowed: reading it is how a
		 * stream that is too long is told from one that fits. */
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : READ_MIN_CAP;
			uint8_t *b;

			if (ncap > max_bytes + 1)
				ncap = max_bytes + 1;
			b = realloc(buf, ncap);
			if (b == NULL) {
				rc = -ENOMEM;
				goto fail;
			}
			buf = b;
			cap = ncap;
		}
		rc = wait_fd(fd, POLLIN, &deadline, &cut_fd, &cut);
		if (rc != 0)
			goto fail;
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max_bytes) {
			rc = -EFBIG;
			goto fail;
		}
	}
	if (len == 0) {
		free(buf);
		buf = NULL;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	free(buf);
	return rc;
}

int
vgw_state_fd_usable(int fd, bool write)
{
	int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);

	if (fl < 0)
		return -EBADF;
	if (fl & O_PATH)
		return -EINVAL; /* no I/O at all */
	switch (fl & O_ACCMODE) {
	case O_RDWR:
		return 0;
	case O_WRONLY:
		return write ? 0 : -EINVAL;
	case O_RDONLY:
		return write ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}
