/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/* vufront: a vhost-user front-end for tests; see vufront.h. */

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "vufront.h"

/* C11 atomics on plain fields shared with the back-end (guest memory). */
#define VU_ATOMIC(p) ((_Atomic __typeof__(*(p)) *)(p))

#define VUFRONT_DEFAULT_TIMEOUT_MS 5000
#define VUFRONT_PAGE_SIZE 4096u
#define VUFRONT_MAX_RING 32768u
#define VUFRONT_NO_DEADLINE UINT64_MAX
#define VUFRONT_REAP_BATCH 64u
#define VUFRONT_MAX_CHAIN 1024u

_Static_assert(sizeof(struct vufront_vring_state) == 8, "vring state layout");
_Static_assert(sizeof(struct vufront_vring_addr) == 40, "vring addr layout");
_Static_assert(sizeof(struct vufront_mem_region) == 32, "memory region layout");
_Static_assert(sizeof(struct vufront_mem_table) == 8 + 8 * 32, "memory table layout");
_Static_assert(sizeof(struct vufront_device_state) == 8, "device state layout");
_Static_assert(sizeof(struct vufront_desc) == 16, "descriptor layout");
_Static_assert(sizeof(struct vufront_used_elem) == 8, "used element layout");
_Static_assert(sizeof(struct vufront_net_hdr) == 12, "virtio-net header layout");
_Static_assert(sizeof(struct vufront_inflight) == 24, "inflight payload layout");
_Static_assert(sizeof(struct vufront_inflight_desc) == 16, "inflight entry layout");
_Static_assert(offsetof(struct vufront_inflight_queue, desc) == 16, "inflight header layout");

struct vufront_vq {
	unsigned int num;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	struct vufront_desc *desc;
	struct vufront_avail *avail;
	struct vufront_used *used;
	int kickfd;
	int callfd;
	uint16_t avail_idx;  /* shadow of avail->idx */
	uint16_t last_used;  /* next used entry to reap */
	uint16_t kicked_idx; /* avail_idx at the last notification */
	bool started;
	bool enabled;
	uint32_t base;
	/* free descriptors (a stack) and the chains handed to the device */
	uint16_t *free_ids;
	unsigned int nfree;
	uint16_t *chain_next; /* next id in a chain, as we built it */
	uint16_t *chain_len;  /* per head: descriptors, 0 = not in flight */
	/* virtio-net: descriptor d owns buffer buf_gpa + d * buf_size */
	uint64_t buf_gpa;
	uint32_t buf_size;
	/* told of every used element vufront_vq_reap() takes */
	vufront_reap_fn reap_fn;
	void *reap_arg;
};

struct vufront {
	int sock;
	int listen_fd;
	char listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int timeout_ms;
	bool auto_ack;
	uint64_t offered_features;
	uint64_t features;
	uint64_t offered_pf;
	uint64_t protocol_features;
	uint64_t queue_num;
	/* guest memory */
	int mem_fd;
	uint8_t *mem;
	size_t mem_size;
	size_t mem_brk;
	struct vufront_vq *vqs[VUFRONT_MAX_VQS];
	/* inflight region: fd, our mapping of [0, offset + size) of it */
	int inflight_fd;
	uint8_t *inflight_map;
	size_t inflight_map_len;
	uint64_t inflight_size;
	uint64_t inflight_offset;
	unsigned int inflight_nq;
	unsigned int inflight_qsize;
	/* virtio-net */
	unsigned int net_qp;
	unsigned int net_hdr_len;
	bool net_mrg;
	vufront_rx_trace_fn rx_trace;
	void *rx_trace_arg;
	char err[256];
};

/* ---- small helpers ---- */

static int __attribute__((format(printf, 3, 4)))
vufront_fail(struct vufront *vu, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vu->err, sizeof(vu->err), fmt, ap);
	va_end(ap);
	return err;
}

static uint64_t
vufront_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
vufront_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return VUFRONT_NO_DEADLINE;
	return vufront_now_ms() + (uint64_t)timeout_ms;
}

/* Milliseconds left before @deadline: -1 = forever, 0 = expired. */
static int
vufront_ms_left(uint64_t deadline)
{
	uint64_t now;

	if (deadline == VUFRONT_NO_DEADLINE)
		return -1;
	now = vufront_now_ms();
	if (now >= deadline)
		return 0;
	if (deadline - now > INT32_MAX)
		return INT32_MAX;
	return (int)(deadline - now);
}

static void
vufront_close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void
vufront_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Wait until @fd has @events (or an error/hangup to report). */
static int
vufront_wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret;

	for (;;) {
		ret = poll(&pfd, 1, vufront_ms_left(deadline));
		if (ret > 0)
			return 0;
		if (ret == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static struct vufront_vq *
vufront_vq_get(const struct vufront *vu, unsigned int idx)
{
	if (idx >= VUFRONT_MAX_VQS)
		return NULL;
	return vu->vqs[idx];
}

static int
vufront_vq_lookup(struct vufront *vu, unsigned int idx, struct vufront_vq **vqp)
{
	*vqp = vufront_vq_get(vu, idx);
	if (*vqp == NULL)
		return vufront_fail(vu, -ENOENT, "ring %u is not set up", idx);
	return 0;
}

/* The ring fields the device reads or writes concurrently. */
static inline uint16_t
vufront_load16(const uint16_t *p)
{
	return *(const volatile uint16_t *)p;
}

static inline void
vufront_store16(uint16_t *p, uint16_t v)
{
	*(volatile uint16_t *)p = v;
}

static inline uint16_t *
vufront_used_event(struct vufront_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static inline uint16_t *
vufront_avail_event(struct vufront_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

/* ---- handle ---- */

struct vufront *
vufront_create(void)
{
	struct vufront *vu = calloc(1, sizeof(*vu));

	if (vu == NULL)
		return NULL;
	vu->sock = -1;
	vu->listen_fd = -1;
	vu->mem_fd = -1;
	vu->inflight_fd = -1;
	vu->timeout_ms = VUFRONT_DEFAULT_TIMEOUT_MS;
	vu->auto_ack = true;
	return vu;
}

void
vufront_destroy(struct vufront *vu)
{
	if (vu == NULL)
		return;
	vufront_close(vu);
	if (vu->listen_fd >= 0) {
		vufront_close_fd(&vu->listen_fd);
		unlink(vu->listen_path);
	}
	free(vu);
}

const char *
vufront_errmsg(const struct vufront *vu)
{
	return vu->err[0] != '\0' ? vu->err : "no error";
}

void
vufront_set_timeout(struct vufront *vu, int timeout_ms)
{
	vu->timeout_ms = timeout_ms;
}

void
vufront_set_auto_ack(struct vufront *vu, bool on)
{
	vu->auto_ack = on;
}

bool
vufront_connected(const struct vufront *vu)
{
	return vu->sock >= 0;
}

int
vufront_sockfd(const struct vufront *vu)
{
	return vu->sock;
}

uint64_t
vufront_features(const struct vufront *vu)
{
	return vu->features;
}

uint64_t
vufront_offered_features(const struct vufront *vu)
{
	return vu->offered_features;
}

uint64_t
vufront_protocol_features(const struct vufront *vu)
{
	return vu->protocol_features;
}

uint64_t
vufront_offered_protocol_features(const struct vufront *vu)
{
	return vu->offered_pf;
}

uint64_t
vufront_queue_num(const struct vufront *vu)
{
	return vu->queue_num;
}

/* ---- connection ---- */

static int
vufront_sun(struct vufront *vu, const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return vufront_fail(vu, -ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sun->sun_path, path);
	return 0;
}

static bool
vufront_connect_retryable(int err)
{
	return err == ENOENT || err == ECONNREFUSED || err == EAGAIN || err == EINTR;
}

int
vufront_connect(struct vufront *vu, const char *path, int timeout_ms, unsigned int flags)
{
	uint64_t deadline = vufront_deadline(timeout_ms);
	struct sockaddr_un sun;
	unsigned int backoff = 1;
	uint64_t features;
	int err, fd, ret;

	if (vu->sock >= 0)
		return vufront_fail(vu, -EISCONN, "already connected");
	ret = vufront_sun(vu, path, &sun);
	if (ret < 0)
		return ret;

	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return vufront_fail(vu, -errno, "socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			vu->sock = fd;
			if (!(flags & VUFRONT_CONNECT_PROBE))
				return 0;
			ret = vufront_get_features(vu, &features);
			if (ret == 0)
				return 0;
			vufront_disconnect(vu);
			if (ret != -ECONNRESET && ret != -EPIPE)
				return ret;
			err = -ret;
		} else {
			err = errno;
			close(fd);
			if (!vufront_connect_retryable(err))
				return vufront_fail(vu, -err, "connect %s: %s", path,
						    strerror(err));
		}
		if (vufront_ms_left(deadline) == 0)
			return vufront_fail(vu, -err, "connect %s: %s (gave up after %d ms)", path,
					    strerror(err), timeout_ms);
		vufront_sleep_ms(backoff);
		if (backoff < 16)
			backoff *= 2;
	}
}

int
vufront_listen(struct vufront *vu, const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, ret;

	if (vu->listen_fd >= 0)
		return vufront_fail(vu, -EBUSY, "already listening on %s", vu->listen_path);
	ret = vufront_sun(vu, path, &sun);
	if (ret < 0)
		return ret;
	/* A stale socket from an earlier run; never remove anything else. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vufront_fail(vu, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(fd, 4) != 0) {
		ret = -errno;
		close(fd);
		return vufront_fail(vu, ret, "listen on %s: %s", path, strerror(-ret));
	}
	vu->listen_fd = fd;
	strcpy(vu->listen_path, path);
	return 0;
}

int
vufront_accept(struct vufront *vu, int timeout_ms)
{
	uint64_t deadline = vufront_deadline(timeout_ms);
	int fd, ret;

	if (vu->listen_fd < 0)
		return vufront_fail(vu, -EINVAL, "not listening");
	if (vu->sock >= 0)
		return vufront_fail(vu, -EISCONN, "already connected");
	for (;;) {
		ret = vufront_wait_fd(vu->listen_fd, POLLIN, deadline);
		if (ret < 0)
			return vufront_fail(vu, ret, "no back-end connected to %s within %d ms",
					    vu->listen_path, timeout_ms);
		fd = accept4(vu->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			vu->sock = fd;
			return 0;
		}
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			return vufront_fail(vu, -errno, "accept: %s", strerror(errno));
	}
}

void
vufront_disconnect(struct vufront *vu)
{
	vufront_close_fd(&vu->sock);
}

static void
vufront_vq_free(struct vufront_vq *vq)
{
	vufront_close_fd(&vq->kickfd);
	vufront_close_fd(&vq->callfd);
	free(vq->free_ids);
	free(vq->chain_next);
	free(vq->chain_len);
	free(vq);
}

void
vufront_close(struct vufront *vu)
{
	unsigned int i;

	vufront_disconnect(vu);
	for (i = 0; i < VUFRONT_MAX_VQS; i++) {
		if (vu->vqs[i] != NULL) {
			vufront_vq_free(vu->vqs[i]);
			vu->vqs[i] = NULL;
		}
	}
	vufront_mem_destroy(vu);
	vufront_inflight_destroy(vu);
	vu->offered_features = 0;
	vu->features = 0;
	vu->offered_pf = 0;
	vu->protocol_features = 0;
	vu->queue_num = 0;
	vu->net_qp = 0;
	vu->net_hdr_len = 0;
	vu->net_mrg = false;
}

/* ---- messages ---- */

static const char *const vufront_req_names[] = {
	[VUFRONT_GET_FEATURES] = "GET_FEATURES",
	[VUFRONT_SET_FEATURES] = "SET_FEATURES",
	[VUFRONT_SET_OWNER] = "SET_OWNER",
	[VUFRONT_RESET_OWNER] = "RESET_OWNER",
	[VUFRONT_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VUFRONT_SET_LOG_BASE] = "SET_LOG_BASE",
	[VUFRONT_SET_LOG_FD] = "SET_LOG_FD",
	[VUFRONT_SET_VRING_NUM] = "SET_VRING_NUM",
	[VUFRONT_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VUFRONT_SET_VRING_BASE] = "SET_VRING_BASE",
	[VUFRONT_GET_VRING_BASE] = "GET_VRING_BASE",
	[VUFRONT_SET_VRING_KICK] = "SET_VRING_KICK",
	[VUFRONT_SET_VRING_CALL] = "SET_VRING_CALL",
	[VUFRONT_SET_VRING_ERR] = "SET_VRING_ERR",
	[VUFRONT_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VUFRONT_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VUFRONT_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VUFRONT_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VUFRONT_SEND_RARP] = "SEND_RARP",
	[VUFRONT_NET_SET_MTU] = "NET_SET_MTU",
	[VUFRONT_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VUFRONT_IOTLB_MSG] = "IOTLB_MSG",
	[VUFRONT_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[VUFRONT_GET_CONFIG] = "GET_CONFIG",
	[VUFRONT_SET_CONFIG] = "SET_CONFIG",
	[VUFRONT_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
	[VUFRONT_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
	[VUFRONT_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
	[VUFRONT_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
	[VUFRONT_POSTCOPY_END] = "POSTCOPY_END",
	[VUFRONT_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VUFRONT_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VUFRONT_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
	[VUFRONT_RESET_DEVICE] = "RESET_DEVICE",
	[VUFRONT_VRING_KICK] = "VRING_KICK",
	[VUFRONT_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VUFRONT_ADD_MEM_REG] = "ADD_MEM_REG",
	[VUFRONT_REM_MEM_REG] = "REM_MEM_REG",
	[VUFRONT_SET_STATUS] = "SET_STATUS",
	[VUFRONT_GET_STATUS] = "GET_STATUS",
	[VUFRONT_GET_SHARED_OBJECT] = "GET_SHARED_OBJECT",
	[VUFRONT_SET_DEVICE_STATE_FD] = "SET_DEVICE_STATE_FD",
	[VUFRONT_CHECK_DEVICE_STATE] = "CHECK_DEVICE_STATE",
};

const char *
vufront_req_name(uint32_t request)
{
	if (request < sizeof(vufront_req_names) / sizeof(vufront_req_names[0]) &&
	    vufront_req_names[request] != NULL)
		return vufront_req_names[request];
	return "UNKNOWN";
}

bool
vufront_req_has_reply(uint32_t request)
{
	switch (request) {
	case VUFRONT_GET_FEATURES:
	case VUFRONT_GET_PROTOCOL_FEATURES:
	case VUFRONT_GET_VRING_BASE:
	case VUFRONT_GET_QUEUE_NUM:
	case VUFRONT_SET_LOG_BASE:
	case VUFRONT_GET_CONFIG:
	case VUFRONT_CREATE_CRYPTO_SESSION:
	case VUFRONT_POSTCOPY_ADVISE:
	case VUFRONT_POSTCOPY_END:
	case VUFRONT_GET_INFLIGHT_FD:
	case VUFRONT_GET_MAX_MEM_SLOTS:
	case VUFRONT_GET_STATUS:
	case VUFRONT_GET_SHARED_OBJECT:
	case VUFRONT_SET_DEVICE_STATE_FD:
	case VUFRONT_CHECK_DEVICE_STATE:
		return true;
	default:
		return false;
	}
}

void
vufront_msg_init(struct vufront_msg *msg, uint32_t request, uint32_t size)
{
	msg->request = request;
	msg->flags = VUFRONT_FLAG_VERSION;
	msg->size = size;
	memset(&msg->payload, 0, size <= sizeof(msg->payload) ? size : sizeof(msg->payload));
	msg->nfds = 0;
}

void
vufront_msg_close_fds(struct vufront_msg *msg)
{
	unsigned int i;

	for (i = 0; i < msg->nfds && i < VUFRONT_MAX_FDS; i++)
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	msg->nfds = 0;
}

/* sendmsg() everything in @iov; the fds go with the first byte. */
static int
vufront_sendmsg(int sock, struct iovec *iov, unsigned int iovcnt, const int *fds, unsigned int nfds,
		uint64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VUFRONT_MAX_FDS)];
		struct cmsghdr align;
	} ctrl;
	struct msghdr mh;
	struct cmsghdr *cmsg;
	ssize_t n;
	int ret;

	if (nfds > VUFRONT_MAX_FDS)
		return -EINVAL;
	while (iovcnt > 0 && iov->iov_len == 0) {
		iov++;
		iovcnt--;
	}
	while (iovcnt > 0) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = iovcnt;
		if (nfds > 0) {
			memset(&ctrl, 0, sizeof(ctrl));
			mh.msg_control = ctrl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cmsg = CMSG_FIRSTHDR(&mh);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
		}
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return errno == ECONNRESET ? -EPIPE : -errno;
			ret = vufront_wait_fd(sock, POLLOUT, deadline);
			if (ret < 0)
				return ret;
			continue;
		}
		nfds = 0;
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int
vufront_read_full(int sock, void *buf, size_t len, uint64_t deadline)
{
	size_t done = 0;
	ssize_t n;
	int ret;

	while (done < len) {
		ret = vufront_wait_fd(sock, POLLIN, deadline);
		if (ret < 0)
			return ret;
		n = read(sock, (char *)buf + done, len - done);
		if (n > 0)
			done += (size_t)n;
		else if (n == 0)
			return -ECONNRESET;
		else if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int
vufront_sock_send(int sock, const struct vufront_msg *msg)
{
	uint32_t hdr[3] = { msg->request, msg->flags, msg->size };
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = VUFRONT_HDR_SIZE },
		{ .iov_base = (void *)(uintptr_t)&msg->payload, .iov_len = msg->size },
	};

	if (msg->size > sizeof(msg->payload) || msg->nfds > VUFRONT_MAX_FDS)
		return -EINVAL;
	return vufront_sendmsg(sock, iov, 2, msg->fds, msg->nfds,
			       vufront_deadline(VUFRONT_DEFAULT_TIMEOUT_MS));
}

int
vufront_sock_recv(int sock, struct vufront_msg *msg, int timeout_ms)
{
	uint64_t deadline = vufront_deadline(timeout_ms);
	union {
		char buf[CMSG_SPACE(sizeof(int) * VUFRONT_MAX_FDS)];
		struct cmsghdr align;
	} ctrl;
	uint32_t hdr[3];
	struct iovec iov = { .iov_base = hdr, .iov_len = sizeof(hdr) };
	struct msghdr mh;
	struct cmsghdr *cmsg;
	unsigned int i, cnt;
	int *cfds;
	ssize_t n;
	int ret;

	msg->nfds = 0;
	ret = vufront_wait_fd(sock, POLLIN, deadline);
	if (ret < 0)
		return ret;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctrl.buf;
	mh.msg_controllen = sizeof(ctrl.buf);
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;

	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg != NULL; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (unsigned int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		cfds = (int *)(void *)CMSG_DATA(cmsg);
		for (i = 0; i < cnt; i++) {
			if (msg->nfds < VUFRONT_MAX_FDS)
				msg->fds[msg->nfds++] = cfds[i];
			else
				close(cfds[i]);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		ret = -EPROTO;
		goto err;
	}
	if ((size_t)n < sizeof(hdr)) {
		ret = vufront_read_full(sock, (char *)hdr + n, sizeof(hdr) - (size_t)n, deadline);
		if (ret < 0)
			goto err;
	}
	msg->request = hdr[0];
	msg->flags = hdr[1];
	msg->size = hdr[2];
	if (msg->size > sizeof(msg->payload)) {
		ret = -EMSGSIZE;
		goto err;
	}
	ret = vufront_read_full(sock, &msg->payload, msg->size, deadline);
	if (ret < 0)
		goto err;
	return 0;
err:
	vufront_msg_close_fds(msg);
	return ret;
}

static int
vufront_need_sock(struct vufront *vu)
{
	if (vu->sock < 0)
		return vufront_fail(vu, -ENOTCONN, "not connected");
	return 0;
}

int
vufront_send(struct vufront *vu, const struct vufront_msg *msg)
{
	int ret = vufront_need_sock(vu);

	if (ret < 0)
		return ret;
	ret = vufront_sock_send(vu->sock, msg);
	if (ret < 0)
		return vufront_fail(vu, ret, "send %s: %s", vufront_req_name(msg->request),
				    ret == -EPIPE ? "back-end closed the connection" :
						    strerror(-ret));
	return 0;
}

int
vufront_send_raw(struct vufront *vu, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	int ret = vufront_need_sock(vu);

	if (ret < 0)
		return ret;
	ret = vufront_sendmsg(vu->sock, &iov, 1, fds, nfds, vufront_deadline(vu->timeout_ms));
	if (ret < 0)
		return vufront_fail(vu, ret, "send %zu raw bytes: %s", len, strerror(-ret));
	return 0;
}

int
vufront_recv(struct vufront *vu, struct vufront_msg *msg, int timeout_ms)
{
	int ret = vufront_need_sock(vu);

	if (ret < 0)
		return ret;
	ret = vufront_sock_recv(vu->sock, msg, timeout_ms);
	switch (ret) {
	case 0:
		return 0;
	case -ECONNRESET:
		return vufront_fail(vu, ret, "back-end closed the connection");
	case -ETIMEDOUT:
		return vufront_fail(vu, ret, "no message within %d ms", timeout_ms);
	case -EMSGSIZE:
		return vufront_fail(vu, ret, "message %s with payload size %u (max %u)",
				    vufront_req_name(msg->request), msg->size, VUFRONT_PAYLOAD_MAX);
	case -EPROTO:
		return vufront_fail(vu, ret, "message with more than %u fds", VUFRONT_MAX_FDS);
	default:
		return vufront_fail(vu, ret, "receive: %s", strerror(-ret));
	}
}

static int
vufront_recv_reply(struct vufront *vu, uint32_t request, struct vufront_msg *reply)
{
	const char *name = vufront_req_name(request);
	int ret;

	ret = vufront_recv(vu, reply, vu->timeout_ms);
	if (ret < 0)
		return vufront_fail(vu, ret, "reply to %s: %s", name,
				    ret == -ECONNRESET ? "back-end closed the connection" :
				    ret == -ETIMEDOUT  ? "timed out" :
							 strerror(-ret));
	if (reply->request != request) {
		vufront_msg_close_fds(reply);
		return vufront_fail(vu, -EPROTO, "reply to %s carries request %u (%s)", name,
				    reply->request, vufront_req_name(reply->request));
	}
	if (!(reply->flags & VUFRONT_FLAG_REPLY) ||
	    (reply->flags & VUFRONT_FLAG_VERSION_MASK) != VUFRONT_FLAG_VERSION) {
		vufront_msg_close_fds(reply);
		return vufront_fail(vu, -EPROTO, "reply to %s has flags 0x%x", name, reply->flags);
	}
	return 0;
}

int
vufront_call(struct vufront *vu, const struct vufront_msg *msg, struct vufront_msg *reply)
{
	struct vufront_msg ack;
	int ret;

	ret = vufront_send(vu, msg);
	if (ret < 0)
		return ret;
	if (reply != NULL)
		return vufront_recv_reply(vu, msg->request, reply);
	if (!(msg->flags & VUFRONT_FLAG_NEED_REPLY))
		return 0;
	ret = vufront_recv_reply(vu, msg->request, &ack);
	if (ret < 0)
		return ret;
	if (ack.nfds > 0 || ack.size != sizeof(uint64_t)) {
		vufront_msg_close_fds(&ack);
		return vufront_fail(vu, -EPROTO, "ack to %s: size %u, %u fds",
				    vufront_req_name(msg->request), ack.size, ack.nfds);
	}
	if (ack.payload.u64 != 0)
		return vufront_fail(vu, -EIO, "back-end failed %s (ack 0x%llx)",
				    vufront_req_name(msg->request),
				    (unsigned long long)ack.payload.u64);
	return 0;
}

/* ---- typed requests ---- */

/* A request without a reply of its own: ack it if REPLY_ACK allows. */
static int
vufront_req_noreply(struct vufront *vu, struct vufront_msg *msg)
{
	if (vu->auto_ack && (vu->protocol_features & VUFRONT_BIT(VUFRONT_PF_REPLY_ACK)))
		msg->flags |= VUFRONT_FLAG_NEED_REPLY;
	return vufront_call(vu, msg, NULL);
}

static int
vufront_req_u64(struct vufront *vu, uint32_t request, uint64_t val, int fd)
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, request, sizeof(uint64_t));
	msg.payload.u64 = val;
	if (fd >= 0) {
		msg.fds[0] = fd;
		msg.nfds = 1;
	}
	return vufront_req_noreply(vu, &msg);
}

static int
vufront_req_get_u64(struct vufront *vu, uint32_t request, uint64_t *val)
{
	struct vufront_msg msg, reply;
	int ret;

	vufront_msg_init(&msg, request, 0);
	ret = vufront_call(vu, &msg, &reply);
	if (ret < 0)
		return ret;
	if (reply.nfds > 0 || reply.size != sizeof(uint64_t)) {
		vufront_msg_close_fds(&reply);
		return vufront_fail(vu, -EPROTO, "reply to %s: size %u, %u fds",
				    vufront_req_name(request), reply.size, reply.nfds);
	}
	*val = reply.payload.u64;
	return 0;
}

static int
vufront_req_state(struct vufront *vu, uint32_t request, unsigned int idx, unsigned int num)
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, request, sizeof(struct vufront_vring_state));
	msg.payload.state.index = idx;
	msg.payload.state.num = num;
	return vufront_req_noreply(vu, &msg);
}

int
vufront_get_features(struct vufront *vu, uint64_t *features)
{
	int ret = vufront_req_get_u64(vu, VUFRONT_GET_FEATURES, features);

	if (ret == 0)
		vu->offered_features = *features;
	return ret;
}

int
vufront_set_features(struct vufront *vu, uint64_t features)
{
	int ret = vufront_req_u64(vu, VUFRONT_SET_FEATURES, features, -1);

	if (ret == 0)
		vu->features = features;
	return ret;
}

int
vufront_get_protocol_features(struct vufront *vu, uint64_t *features)
{
	int ret = vufront_req_get_u64(vu, VUFRONT_GET_PROTOCOL_FEATURES, features);

	if (ret == 0)
		vu->offered_pf = *features;
	return ret;
}

int
vufront_set_protocol_features(struct vufront *vu, uint64_t features)
{
	int ret = vufront_req_u64(vu, VUFRONT_SET_PROTOCOL_FEATURES, features, -1);

	if (ret == 0)
		vu->protocol_features = features;
	return ret;
}

int
vufront_set_owner(struct vufront *vu)
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, VUFRONT_SET_OWNER, 0);
	return vufront_req_noreply(vu, &msg);
}

int
vufront_reset_owner(struct vufront *vu)
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, VUFRONT_RESET_OWNER, 0);
	return vufront_req_noreply(vu, &msg);
}

int
vufront_get_queue_num(struct vufront *vu, uint64_t *num)
{
	int ret = vufront_req_get_u64(vu, VUFRONT_GET_QUEUE_NUM, num);

	if (ret == 0)
		vu->queue_num = *num;
	return ret;
}

int
vufront_set_status(struct vufront *vu, uint8_t status)
{
	return vufront_req_u64(vu, VUFRONT_SET_STATUS, status, -1);
}

int
vufront_send_rarp(struct vufront *vu, const uint8_t mac[6])
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, VUFRONT_SEND_RARP, sizeof(uint64_t));
	memcpy(msg.payload.raw, mac, 6);
	return vufront_req_noreply(vu, &msg);
}

int
vufront_get_status(struct vufront *vu, uint64_t *status)
{
	return vufront_req_get_u64(vu, VUFRONT_GET_STATUS, status);
}

int
vufront_set_vring_num(struct vufront *vu, unsigned int idx, unsigned int num)
{
	return vufront_req_state(vu, VUFRONT_SET_VRING_NUM, idx, num);
}

int
vufront_set_vring_base(struct vufront *vu, unsigned int idx, unsigned int base)
{
	return vufront_req_state(vu, VUFRONT_SET_VRING_BASE, idx, base);
}

int
vufront_get_vring_base(struct vufront *vu, unsigned int idx, uint32_t *base)
{
	struct vufront_msg msg, reply;
	int ret;

	vufront_msg_init(&msg, VUFRONT_GET_VRING_BASE, sizeof(struct vufront_vring_state));
	msg.payload.state.index = idx;
	ret = vufront_call(vu, &msg, &reply);
	if (ret < 0)
		return ret;
	if (reply.nfds > 0 || reply.size != sizeof(struct vufront_vring_state)) {
		vufront_msg_close_fds(&reply);
		return vufront_fail(vu, -EPROTO, "reply to GET_VRING_BASE: size %u, %u fds",
				    reply.size, reply.nfds);
	}
	if (reply.payload.state.index != idx)
		return vufront_fail(vu, -EPROTO, "GET_VRING_BASE %u answered for ring %u", idx,
				    reply.payload.state.index);
	*base = reply.payload.state.num;
	return 0;
}

int
vufront_set_vring_addr(struct vufront *vu, const struct vufront_vring_addr *addr)
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, VUFRONT_SET_VRING_ADDR, sizeof(*addr));
	msg.payload.addr = *addr;
	return vufront_req_noreply(vu, &msg);
}

static int
vufront_req_vring_fd(struct vufront *vu, uint32_t request, unsigned int idx, int fd)
{
	uint64_t val = idx & VUFRONT_VRING_IDX_MASK;

	if (fd < 0)
		val |= VUFRONT_VRING_NOFD;
	return vufront_req_u64(vu, request, val, fd);
}

int
vufront_set_vring_kick(struct vufront *vu, unsigned int idx, int fd)
{
	return vufront_req_vring_fd(vu, VUFRONT_SET_VRING_KICK, idx, fd);
}

int
vufront_set_vring_call(struct vufront *vu, unsigned int idx, int fd)
{
	return vufront_req_vring_fd(vu, VUFRONT_SET_VRING_CALL, idx, fd);
}

int
vufront_set_vring_err(struct vufront *vu, unsigned int idx, int fd)
{
	return vufront_req_vring_fd(vu, VUFRONT_SET_VRING_ERR, idx, fd);
}

int
vufront_set_vring_enable(struct vufront *vu, unsigned int idx, bool enable)
{
	return vufront_req_state(vu, VUFRONT_SET_VRING_ENABLE, idx, enable ? 1 : 0);
}

int
vufront_sync(struct vufront *vu)
{
	uint64_t features;

	return vufront_get_features(vu, &features);
}

int
vufront_set_device_state_fd(struct vufront *vu, uint32_t direction, uint32_t phase, int fd,
			    int *backend_fd, uint64_t *result)
{
	struct vufront_msg msg, reply;
	uint64_t val;
	int ret;

	*backend_fd = -1;
	vufront_msg_init(&msg, VUFRONT_SET_DEVICE_STATE_FD, sizeof(struct vufront_device_state));
	msg.payload.device_state.transfer_direction = direction;
	msg.payload.device_state.migration_phase = phase;
	msg.fds[0] = fd;
	msg.nfds = 1;
	ret = vufront_call(vu, &msg, &reply);
	if (ret < 0)
		return ret;
	if (reply.size != sizeof(uint64_t) || reply.nfds > 1) {
		vufront_msg_close_fds(&reply);
		return vufront_fail(vu, -EPROTO, "reply to SET_DEVICE_STATE_FD: size %u, %u fds",
				    reply.size, reply.nfds);
	}
	val = reply.payload.u64;
	*result = val;
	if ((val & VUFRONT_STATE_REPLY_NOFD) && reply.nfds != 0) {
		vufront_msg_close_fds(&reply);
		return vufront_fail(vu, -EPROTO,
				    "SET_DEVICE_STATE_FD reply 0x%llx says no fd but carries one",
				    (unsigned long long)val);
	}
	if (val & 0xff) {
		vufront_msg_close_fds(&reply);
		return vufront_fail(vu, -EIO, "back-end failed SET_DEVICE_STATE_FD (0x%llx)",
				    (unsigned long long)val);
	}
	if (!(val & VUFRONT_STATE_REPLY_NOFD) && reply.nfds != 1)
		return vufront_fail(vu, -EPROTO,
				    "SET_DEVICE_STATE_FD reply 0x%llx promises an fd but has none",
				    (unsigned long long)val);
	if (reply.nfds == 1)
		*backend_fd = reply.fds[0];
	return 0;
}

int
vufront_check_device_state(struct vufront *vu, uint64_t *result)
{
	int ret = vufront_req_get_u64(vu, VUFRONT_CHECK_DEVICE_STATE, result);

	if (ret < 0)
		return ret;
	if (*result != 0)
		return vufront_fail(vu, -EIO, "CHECK_DEVICE_STATE answered 0x%llx",
				    (unsigned long long)*result);
	return 0;
}

int
vufront_get_inflight_fd(struct vufront *vu, uint16_t num_queues, uint16_t queue_size, int *fd,
			uint64_t *mmap_size, uint64_t *mmap_offset)
{
	struct vufront_msg msg, reply;
	int ret;

	*fd = -1;
	vufront_msg_init(&msg, VUFRONT_GET_INFLIGHT_FD, sizeof(struct vufront_inflight));
	msg.payload.inflight.num_queues = num_queues;
	msg.payload.inflight.queue_size = queue_size;
	/* a reply of its own replaces the ack when the request succeeds */
	if (vu->auto_ack && (vu->protocol_features & VUFRONT_BIT(VUFRONT_PF_REPLY_ACK)))
		msg.flags |= VUFRONT_FLAG_NEED_REPLY;
	ret = vufront_call(vu, &msg, &reply);
	if (ret < 0)
		return ret;
	if ((msg.flags & VUFRONT_FLAG_NEED_REPLY) && reply.size == sizeof(uint64_t) &&
	    reply.nfds == 0) {
		if (reply.payload.u64 != 0)
			return vufront_fail(vu, -EIO,
					    "back-end failed GET_INFLIGHT_FD "
					    "%u queues of %u (ack 0x%llx)",
					    num_queues, queue_size,
					    (unsigned long long)reply.payload.u64);
		return vufront_fail(vu, -EPROTO,
				    "GET_INFLIGHT_FD answered with a zero ack and no region");
	}
	if (reply.size != sizeof(struct vufront_inflight) || reply.nfds != 1) {
		vufront_msg_close_fds(&reply);
		return vufront_fail(vu, -EPROTO, "reply to GET_INFLIGHT_FD: size %u, %u fds",
				    reply.size, reply.nfds);
	}
	*fd = reply.fds[0];
	*mmap_size = reply.payload.inflight.mmap_size;
	*mmap_offset = reply.payload.inflight.mmap_offset;
	return 0;
}

int
vufront_set_inflight_fd(struct vufront *vu, const struct vufront_inflight *inf, int fd)
{
	struct vufront_msg msg;

	vufront_msg_init(&msg, VUFRONT_SET_INFLIGHT_FD, sizeof(*inf));
	msg.payload.inflight = *inf;
	if (fd >= 0) {
		msg.fds[0] = fd;
		msg.nfds = 1;
	}
	return vufront_req_noreply(vu, &msg);
}

/* ---- negotiation ---- */

int
vufront_negotiate(struct vufront *vu, const struct vufront_negotiation *neg)
{
	uint64_t offered, acked, opf, pf, missing;
	int ret;

	ret = vufront_get_features(vu, &offered);
	if (ret < 0)
		return ret;
	missing = neg->features_required & ~offered;
	if (missing != 0)
		return vufront_fail(vu, -ENOTSUP, "back-end lacks features 0x%llx (offers 0x%llx)",
				    (unsigned long long)missing, (unsigned long long)offered);
	acked = offered & (neg->features | neg->features_required);

	if (acked & VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES)) {
		ret = vufront_get_protocol_features(vu, &opf);
		if (ret < 0)
			return ret;
		missing = neg->protocol_required & ~opf;
		if (missing != 0)
			return vufront_fail(
				vu, -ENOTSUP,
				"back-end lacks protocol features 0x%llx (offers 0x%llx)",
				(unsigned long long)missing, (unsigned long long)opf);
		pf = opf & (neg->protocol_features | neg->protocol_required);
		ret = vufront_set_protocol_features(vu, pf);
		if (ret < 0)
			return ret;
		if (pf & VUFRONT_BIT(VUFRONT_PF_MQ)) {
			ret = vufront_get_queue_num(vu, &vu->queue_num);
			if (ret < 0)
				return ret;
		}
	} else if (neg->protocol_required != 0) {
		return vufront_fail(vu, -ENOTSUP,
				    "protocol features required but "
				    "VHOST_USER_F_PROTOCOL_FEATURES not acked");
	}

	ret = vufront_set_owner(vu);
	if (ret < 0)
		return ret;
	return vufront_set_features(vu, acked);
}

/* ---- guest memory ---- */

int
vufront_mem_create(struct vufront *vu, size_t size)
{
	void *mem;
	int fd;

	if (vu->mem != NULL)
		return vufront_fail(vu, -EBUSY, "guest memory already exists");
	if (size < 2 * VUFRONT_PAGE_SIZE)
		return vufront_fail(vu, -EINVAL, "guest memory of %zu bytes is too small", size);
	size = (size + VUFRONT_PAGE_SIZE - 1) & ~(size_t)(VUFRONT_PAGE_SIZE - 1);
	fd = memfd_create("vufront-guest", MFD_CLOEXEC);
	if (fd < 0)
		return vufront_fail(vu, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) != 0) {
		int err = errno;

		close(fd);
		return vufront_fail(vu, -err, "ftruncate guest memory to %zu: %s", size,
				    strerror(err));
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int err = errno;

		close(fd);
		return vufront_fail(vu, -err, "mmap guest memory: %s", strerror(err));
	}
	vu->mem_fd = fd;
	vu->mem = mem;
	vu->mem_size = size;
	vu->mem_brk = VUFRONT_PAGE_SIZE;
	return 0;
}

void
vufront_mem_destroy(struct vufront *vu)
{
	if (vu->mem != NULL)
		munmap(vu->mem, vu->mem_size);
	vu->mem = NULL;
	vu->mem_size = 0;
	vu->mem_brk = 0;
	vufront_close_fd(&vu->mem_fd);
}

int
vufront_set_mem_table(struct vufront *vu)
{
	struct vufront_msg msg;

	if (vu->mem == NULL)
		return vufront_fail(vu, -ENOMEM, "no guest memory");
	vufront_msg_init(&msg, VUFRONT_SET_MEM_TABLE,
			 offsetof(struct vufront_mem_table, regions) +
				 sizeof(struct vufront_mem_region));
	msg.payload.mem.nregions = 1;
	msg.payload.mem.regions[0].guest_phys_addr = 0;
	msg.payload.mem.regions[0].memory_size = vu->mem_size;
	msg.payload.mem.regions[0].userspace_addr = (uint64_t)(uintptr_t)vu->mem;
	msg.payload.mem.regions[0].mmap_offset = 0;
	msg.fds[0] = vu->mem_fd;
	msg.nfds = 1;
	return vufront_req_noreply(vu, &msg);
}

int
vufront_mem_alloc(struct vufront *vu, size_t len, size_t align, uint64_t *gpa)
{
	size_t off;

	if (vu->mem == NULL)
		return vufront_fail(vu, -ENOMEM, "no guest memory");
	if (align == 0)
		align = 8;
	if (align & (align - 1))
		return vufront_fail(vu, -EINVAL, "alignment %zu is not a power of 2", align);
	off = (vu->mem_brk + align - 1) & ~(align - 1);
	if (off > vu->mem_size || len > vu->mem_size - off)
		return vufront_fail(vu, -ENOMEM,
				    "guest memory exhausted (%zu of %zu used, %zu asked)",
				    vu->mem_brk, vu->mem_size, len);
	vu->mem_brk = off + len;
	*gpa = off;
	return 0;
}

void *
vufront_gpa_ptr(const struct vufront *vu, uint64_t gpa, size_t len)
{
	if (vu->mem == NULL || gpa > vu->mem_size || len > vu->mem_size - gpa)
		return NULL;
	return vu->mem + gpa;
}

void *
vufront_mem_base(const struct vufront *vu)
{
	return vu->mem;
}

size_t
vufront_mem_size(const struct vufront *vu)
{
	return vu->mem_size;
}

int
vufront_mem_fd(const struct vufront *vu)
{
	return vu->mem_fd;
}

/* ---- inflight region ---- */

size_t
vufront_inflight_queue_bytes(unsigned int queue_size)
{
	size_t b = sizeof(struct vufront_inflight_queue) +
		   sizeof(struct vufront_inflight_desc) * (size_t)queue_size;

	return (b + VUFRONT_INFLIGHT_ALIGN - 1) & ~(size_t)(VUFRONT_INFLIGHT_ALIGN - 1);
}

static int
vufront_inflight_check_args(struct vufront *vu, unsigned int num_queues, unsigned int queue_size)
{
	if (vu->inflight_map != NULL)
		return vufront_fail(vu, -EBUSY, "an inflight region exists already");
	if (num_queues == 0 || num_queues > VUFRONT_MAX_VQS || queue_size == 0 ||
	    queue_size > VUFRONT_MAX_RING || (queue_size & (queue_size - 1)))
		return vufront_fail(vu, -EINVAL, "inflight region of %u queues of %u", num_queues,
				    queue_size);
	return 0;
}

/* Map [0, offset + size) of @fd; the handle owns @fd from here on. */
static int
vufront_inflight_adopt(struct vufront *vu, int fd, uint64_t size, uint64_t offset,
		       unsigned int num_queues, unsigned int queue_size)
{
	uint64_t need = (uint64_t)num_queues * vufront_inflight_queue_bytes(queue_size);
	struct stat st;
	void *map;
	int err;

	if (size < need || offset > SIZE_MAX - size) {
		close(fd);
		return vufront_fail(vu, -EPROTO,
				    "inflight region of %llu bytes at %llu, "
				    "%llu needed for %u queues of %u",
				    (unsigned long long)size, (unsigned long long)offset,
				    (unsigned long long)need, num_queues, queue_size);
	}
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return vufront_fail(vu, -err, "fstat inflight fd: %s", strerror(err));
	}
	/* mapping past the end of the file would fault on first access */
	if ((uint64_t)st.st_size < offset + size) {
		close(fd);
		return vufront_fail(vu, -EPROTO, "inflight fd holds %lld bytes, %llu needed",
				    (long long)st.st_size, (unsigned long long)(offset + size));
	}
	map = mmap(NULL, offset + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = errno;
		close(fd);
		return vufront_fail(vu, -err, "mmap inflight region: %s", strerror(err));
	}
	vu->inflight_fd = fd;
	vu->inflight_map = map;
	vu->inflight_map_len = offset + size;
	vu->inflight_size = size;
	vu->inflight_offset = offset;
	vu->inflight_nq = num_queues;
	vu->inflight_qsize = queue_size;
	return 0;
}

int
vufront_inflight_get(struct vufront *vu, unsigned int num_queues, unsigned int queue_size)
{
	uint64_t size, offset;
	int fd, ret;

	ret = vufront_inflight_check_args(vu, num_queues, queue_size);
	if (ret < 0)
		return ret;
	ret = vufront_get_inflight_fd(vu, (uint16_t)num_queues, (uint16_t)queue_size, &fd, &size,
				      &offset);
	if (ret < 0)
		return ret;
	return vufront_inflight_adopt(vu, fd, size, offset, num_queues, queue_size);
}

int
vufront_inflight_create(struct vufront *vu, unsigned int num_queues, unsigned int queue_size)
{
	size_t size;
	int fd, ret;

	ret = vufront_inflight_check_args(vu, num_queues, queue_size);
	if (ret < 0)
		return ret;
	size = num_queues * vufront_inflight_queue_bytes(queue_size);
	fd = memfd_create("vufront-inflight", MFD_CLOEXEC);
	if (fd < 0)
		return vufront_fail(vu, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) != 0) {
		ret = -errno;
		close(fd);
		return vufront_fail(vu, ret, "ftruncate inflight region: %s", strerror(-ret));
	}
	return vufront_inflight_adopt(vu, fd, size, 0, num_queues, queue_size);
}

int
vufront_inflight_send(struct vufront *vu)
{
	struct vufront_inflight inf;

	if (vu->inflight_map == NULL)
		return vufront_fail(vu, -ENOENT, "no inflight region");
	memset(&inf, 0, sizeof(inf));
	inf.mmap_size = vu->inflight_size;
	inf.mmap_offset = vu->inflight_offset;
	inf.num_queues = (uint16_t)vu->inflight_nq;
	inf.queue_size = (uint16_t)vu->inflight_qsize;
	return vufront_set_inflight_fd(vu, &inf, vu->inflight_fd);
}

void
vufront_inflight_destroy(struct vufront *vu)
{
	if (vu->inflight_map != NULL)
		munmap(vu->inflight_map, vu->inflight_map_len);
	vu->inflight_map = NULL;
	vu->inflight_map_len = 0;
	vu->inflight_size = 0;
	vu->inflight_offset = 0;
	vu->inflight_nq = 0;
	vu->inflight_qsize = 0;
	vufront_close_fd(&vu->inflight_fd);
}

struct vufront_inflight_queue *
vufront_inflight_vq(const struct vufront *vu, unsigned int idx)
{
	if (vu->inflight_map == NULL || idx >= vu->inflight_nq)
		return NULL;
	return (struct vufront_inflight_queue *)(vu->inflight_map + vu->inflight_offset +
						 idx * vufront_inflight_queue_bytes(
							       vu->inflight_qsize));
}

unsigned int
vufront_inflight_num_queues(const struct vufront *vu)
{
	return vu->inflight_nq;
}

unsigned int
vufront_inflight_queue_size(const struct vufront *vu)
{
	return vu->inflight_qsize;
}

uint64_t
vufront_inflight_mmap_size(const struct vufront *vu)
{
	return vu->inflight_size;
}

uint64_t
vufront_inflight_mmap_offset(const struct vufront *vu)
{
	return vu->inflight_offset;
}

int
vufront_inflight_fd(const struct vufront *vu)
{
	return vu->inflight_fd;
}

unsigned int
vufront_inflight_count(const struct vufront *vu, unsigned int idx)
{
	const struct vufront_inflight_queue *q = vufront_inflight_vq(vu, idx);
	unsigned int i, n = 0;

	if (q == NULL)
		return 0;
	/* the back-end writes these while we look: one byte each, no tearing */
	for (i = 0; i < vu->inflight_qsize; i++)
		n += atomic_load_explicit(VU_ATOMIC(&q->desc[i].inflight), memory_order_relaxed) ==
		     1;
	return n;
}

/* ---- split virtqueues ---- */

static size_t
vufront_avail_size(unsigned int num)
{
	return sizeof(struct vufront_avail) + sizeof(uint16_t) * (num + 1);
}

static size_t
vufront_used_size(unsigned int num)
{
	return sizeof(struct vufront_used) + sizeof(struct vufront_used_elem) * num +
	       sizeof(uint16_t);
}

int
vufront_vq_setup(struct vufront *vu, unsigned int idx, unsigned int num)
{
	struct vufront_vq *vq;
	int ret;

	if (idx >= VUFRONT_MAX_VQS)
		return vufront_fail(vu, -EINVAL, "ring index %u out of range", idx);
	if (vu->vqs[idx] != NULL)
		return vufront_fail(vu, -EBUSY, "ring %u is already set up", idx);
	if (num == 0 || num > VUFRONT_MAX_RING || (num & (num - 1)))
		return vufront_fail(vu, -EINVAL, "ring size %u is not a power of 2 <= %u", num,
				    VUFRONT_MAX_RING);
	vq = calloc(1, sizeof(*vq));
	if (vq == NULL)
		return vufront_fail(vu, -ENOMEM, "out of memory");
	vq->num = num;
	vq->kickfd = -1;
	vq->callfd = -1;
	vq->free_ids = calloc(num, sizeof(uint16_t));
	vq->chain_next = calloc(num, sizeof(uint16_t));
	vq->chain_len = calloc(num, sizeof(uint16_t));
	if (vq->free_ids == NULL || vq->chain_next == NULL || vq->chain_len == NULL) {
		ret = vufront_fail(vu, -ENOMEM, "out of memory");
		goto err;
	}
	ret = vufront_mem_alloc(vu, sizeof(struct vufront_desc) * num, VUFRONT_PAGE_SIZE,
				&vq->desc_gpa);
	if (ret == 0)
		ret = vufront_mem_alloc(vu, vufront_avail_size(num), 64, &vq->avail_gpa);
	if (ret == 0)
		ret = vufront_mem_alloc(vu, vufront_used_size(num), VUFRONT_PAGE_SIZE,
					&vq->used_gpa);
	if (ret < 0)
		goto err;
	vq->desc = vufront_gpa_ptr(vu, vq->desc_gpa, sizeof(struct vufront_desc) * num);
	vq->avail = vufront_gpa_ptr(vu, vq->avail_gpa, vufront_avail_size(num));
	vq->used = vufront_gpa_ptr(vu, vq->used_gpa, vufront_used_size(num));
	vq->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->kickfd < 0 || vq->callfd < 0) {
		ret = vufront_fail(vu, -errno, "eventfd: %s", strerror(errno));
		goto err;
	}
	vu->vqs[idx] = vq;
	return vufront_vq_reset(vu, idx, 0);
err:
	vufront_vq_free(vq);
	return ret;
}

int
vufront_vq_reset(struct vufront *vu, unsigned int idx, uint16_t base)
{
	struct vufront_vq *vq;
	unsigned int i;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	memset(vq->desc, 0, sizeof(struct vufront_desc) * vq->num);
	memset(vq->avail, 0, vufront_avail_size(vq->num));
	memset(vq->used, 0, vufront_used_size(vq->num));
	vq->avail->idx = base;
	vq->used->idx = base;
	vq->avail_idx = base;
	vq->last_used = base;
	vq->kicked_idx = base;
	/* pop order 0, 1, 2... */
	for (i = 0; i < vq->num; i++)
		vq->free_ids[i] = (uint16_t)(vq->num - 1 - i);
	vq->nfree = vq->num;
	memset(vq->chain_len, 0, sizeof(uint16_t) * vq->num);
	atomic_thread_fence(memory_order_seq_cst);
	return 0;
}

/* SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR */
static int
vufront_vq_start_addr(struct vufront *vu, unsigned int idx, struct vufront_vq *vq, uint16_t base)
{
	struct vufront_vring_addr addr;
	int ret;

	ret = vufront_set_vring_num(vu, idx, vq->num);
	if (ret < 0)
		return ret;
	ret = vufront_set_vring_base(vu, idx, base);
	if (ret < 0)
		return ret;
	memset(&addr, 0, sizeof(addr));
	addr.index = idx;
	addr.desc_user_addr = (uint64_t)(uintptr_t)vq->desc;
	addr.used_user_addr = (uint64_t)(uintptr_t)vq->used;
	addr.avail_user_addr = (uint64_t)(uintptr_t)vq->avail;
	addr.log_guest_addr = vq->used_gpa;
	return vufront_set_vring_addr(vu, &addr);
}

/* SET_VRING_KICK, SET_VRING_CALL: the ring starts */
static int
vufront_vq_start_fds(struct vufront *vu, unsigned int idx, struct vufront_vq *vq)
{
	int ret;

	ret = vufront_set_vring_kick(vu, idx, vq->kickfd);
	if (ret < 0)
		return ret;
	ret = vufront_set_vring_call(vu, idx, vq->callfd);
	if (ret < 0)
		return ret;
	vq->started = true;
	/* Without VHOST_USER_F_PROTOCOL_FEATURES a ring starts enabled. */
	if (!(vu->features & VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES)))
		vq->enabled = true;
	return 0;
}

int
vufront_vq_start(struct vufront *vu, unsigned int idx, uint16_t base)
{
	struct vufront_vq *vq;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	ret = vufront_vq_start_addr(vu, idx, vq, base);
	if (ret < 0)
		return ret;
	return vufront_vq_start_fds(vu, idx, vq);
}

int
vufront_vq_enable(struct vufront *vu, unsigned int idx, bool enable)
{
	struct vufront_vq *vq;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	ret = vufront_set_vring_enable(vu, idx, enable);
	if (ret == 0)
		vq->enabled = enable;
	return ret;
}

int
vufront_vq_stop(struct vufront *vu, unsigned int idx, uint32_t *base)
{
	struct vufront_vq *vq;
	uint32_t val;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	ret = vufront_get_vring_base(vu, idx, &val);
	if (ret < 0)
		return ret;
	vq->base = val;
	vq->started = false;
	if (base != NULL)
		*base = val;
	return 0;
}

int
vufront_vq_info(const struct vufront *vu, unsigned int idx, struct vufront_vq_info *info)
{
	const struct vufront_vq *vq = vufront_vq_get(vu, idx);

	if (vq == NULL)
		return -ENOENT;
	info->num = vq->num;
	info->desc = vq->desc;
	info->avail = vq->avail;
	info->used = vq->used;
	info->desc_gpa = vq->desc_gpa;
	info->avail_gpa = vq->avail_gpa;
	info->used_gpa = vq->used_gpa;
	info->kickfd = vq->kickfd;
	info->callfd = vq->callfd;
	info->avail_idx = vq->avail_idx;
	info->last_used = vq->last_used;
	info->nfree = vq->nfree;
	info->started = vq->started;
	info->enabled = vq->enabled;
	info->base = vq->base;
	return 0;
}

/* Take @n free descriptors, remembered as one chain headed by ids[0]. */
static int
vufront_vq_take(struct vufront *vu, struct vufront_vq *vq, unsigned int idx, unsigned int n,
		uint16_t *ids)
{
	unsigned int i;

	if (n == 0 || n > vq->num)
		return vufront_fail(vu, -EINVAL, "ring %u: chain of %u descriptors", idx, n);
	if (n > vq->nfree)
		return vufront_fail(vu, -ENOSPC, "ring %u: %u descriptors free, %u needed", idx,
				    vq->nfree, n);
	for (i = 0; i < n; i++)
		ids[i] = vq->free_ids[--vq->nfree];
	for (i = 0; i + 1 < n; i++)
		vq->chain_next[ids[i]] = ids[i + 1];
	vq->chain_len[ids[0]] = (uint16_t)n;
	return 0;
}

/* Give back the chain headed by @head; false if it was not in flight. */
static bool
vufront_vq_put(struct vufront_vq *vq, uint32_t head)
{
	unsigned int i, n;
	uint16_t id;

	if (head >= vq->num || vq->chain_len[head] == 0)
		return false;
	n = vq->chain_len[head];
	vq->chain_len[head] = 0;
	id = (uint16_t)head;
	for (i = 0; i < n; i++) {
		vq->free_ids[vq->nfree++] = id;
		id = vq->chain_next[id];
	}
	return true;
}

static inline void
vufront_vq_push(struct vufront_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = head;
	vq->avail_idx++;
}

static inline void
vufront_vq_flush(struct vufront_vq *vq)
{
	atomic_thread_fence(memory_order_release);
	vufront_store16(&vq->avail->idx, vq->avail_idx);
}

int
vufront_vq_take_descs(struct vufront *vu, unsigned int idx, unsigned int n, uint16_t *ids)
{
	struct vufront_vq *vq;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	return vufront_vq_take(vu, vq, idx, n, ids);
}

int
vufront_vq_add_chain(struct vufront *vu, unsigned int idx, const struct vufront_buf *bufs,
		     unsigned int n, uint16_t *head)
{
	uint16_t ids[VUFRONT_MAX_CHAIN];
	struct vufront_desc *d;
	struct vufront_vq *vq;
	unsigned int i;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	if (n > VUFRONT_MAX_CHAIN)
		return vufront_fail(vu, -EINVAL, "chain of %u descriptors is too long", n);
	ret = vufront_vq_take(vu, vq, idx, n, ids);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++) {
		d = &vq->desc[ids[i]];
		d->addr = bufs[i].addr;
		d->len = bufs[i].len;
		d->flags = bufs[i].flags & (uint16_t)~VUFRONT_DESC_F_NEXT;
		d->next = 0;
		if (i + 1 < n) {
			d->flags |= VUFRONT_DESC_F_NEXT;
			d->next = ids[i + 1];
		}
	}
	vufront_vq_push(vq, ids[0]);
	vufront_vq_flush(vq);
	if (head != NULL)
		*head = ids[0];
	return 0;
}

int
vufront_vq_set_reap_fn(struct vufront *vu, unsigned int idx, vufront_reap_fn fn, void *arg)
{
	struct vufront_vq *vq;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	vq->reap_fn = fn;
	vq->reap_arg = arg;
	return 0;
}

int
vufront_vq_skip_avail(struct vufront *vu, unsigned int idx, uint16_t n)
{
	struct vufront_vq *vq;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	vq->avail_idx = (uint16_t)(vq->avail_idx + n);
	vufront_vq_flush(vq);
	return 0;
}

int
vufront_vq_publish(struct vufront *vu, unsigned int idx, uint16_t head)
{
	struct vufront_vq *vq;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	vufront_vq_push(vq, head);
	vufront_vq_flush(vq);
	return 0;
}

static int
vufront_vq_do_kick(struct vufront *vu, unsigned int idx, struct vufront_vq *vq)
{
	uint64_t one = 1;

	vq->kicked_idx = vq->avail_idx;
	if (write(vq->kickfd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		return vufront_fail(vu, -errno, "ring %u: kick: %s", idx, strerror(errno));
	return 0;
}

int
vufront_vq_kick(struct vufront *vu, unsigned int idx)
{
	struct vufront_vq *vq;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	return vufront_vq_do_kick(vu, idx, vq);
}

static int
vufront_vq_do_notify(struct vufront *vu, unsigned int idx, struct vufront_vq *vq)
{
	uint16_t event, new_idx, old_idx;
	bool kick;
	int ret;

	/* Our avail->idx store must be visible before we read the device's flags. */
	atomic_thread_fence(memory_order_seq_cst);
	if (vu->features & VUFRONT_BIT(VUFRONT_F_EVENT_IDX)) {
		event = vufront_load16(vufront_avail_event(vq));
		new_idx = vq->avail_idx;
		old_idx = vq->kicked_idx;
		kick = (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
	} else {
		kick = !(vufront_load16(&vq->used->flags) & VUFRONT_USED_F_NO_NOTIFY);
	}
	if (!kick) {
		vq->kicked_idx = vq->avail_idx;
		return 0;
	}
	ret = vufront_vq_do_kick(vu, idx, vq);
	return ret < 0 ? ret : 1;
}

int
vufront_vq_notify(struct vufront *vu, unsigned int idx)
{
	struct vufront_vq *vq;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	return vufront_vq_do_notify(vu, idx, vq);
}

/* Tell the device which used entry we want an interrupt for next. */
static void
vufront_vq_update_used_event(struct vufront *vu, struct vufront_vq *vq)
{
	if (vu->features & VUFRONT_BIT(VUFRONT_F_EVENT_IDX))
		vufront_store16(vufront_used_event(vq), vq->last_used);
}

static uint16_t
vufront_vq_used_idx(const struct vufront_vq *vq)
{
	uint16_t idx = vufront_load16(&vq->used->idx);

	atomic_thread_fence(memory_order_acquire);
	return idx;
}

int
vufront_vq_reap(struct vufront *vu, unsigned int idx, struct vufront_used_elem *out,
		unsigned int max)
{
	struct vufront_used_elem e;
	struct vufront_vq *vq;
	unsigned int n = 0;
	uint16_t used_idx;
	int ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	used_idx = vufront_vq_used_idx(vq);
	if ((uint16_t)(used_idx - vq->last_used) > vq->num)
		return vufront_fail(vu, -EPROTO, "ring %u: used idx %u is %u ahead of %u", idx,
				    used_idx, (uint16_t)(used_idx - vq->last_used), vq->last_used);
	while (vq->last_used != used_idx && n < max) {
		e = vq->used->ring[vq->last_used & (vq->num - 1)];
		if (!vufront_vq_put(vq, e.id)) {
			ret = vufront_fail(vu, -EPROTO,
					   "ring %u: used id %u is not an in-flight head", idx,
					   e.id);
			break;
		}
		if (out != NULL)
			out[n] = e;
		if (vq->reap_fn != NULL)
			vq->reap_fn(vq->reap_arg, idx, &e);
		n++;
		vq->last_used++;
	}
	vufront_vq_update_used_event(vu, vq);
	return ret < 0 ? ret : (int)n;
}

unsigned int
vufront_vq_pending(const struct vufront *vu, unsigned int idx)
{
	const struct vufront_vq *vq = vufront_vq_get(vu, idx);

	if (vq == NULL)
		return 0;
	return (uint16_t)(vufront_vq_used_idx(vq) - vq->last_used);
}

static void
vufront_drain_eventfd(int fd)
{
	uint64_t val;

	while (read(fd, &val, sizeof(val)) == sizeof(val))
		;
}

int
vufront_vq_wait(struct vufront *vu, unsigned int idx, int timeout_ms)
{
	uint64_t deadline = vufront_deadline(timeout_ms);
	struct pollfd pfd;
	struct vufront_vq *vq;
	int left, ret;

	ret = vufront_vq_lookup(vu, idx, &vq);
	if (ret < 0)
		return ret;
	pfd.fd = vq->callfd;
	pfd.events = POLLIN;
	for (;;) {
		if (vufront_vq_pending(vu, idx) > 0)
			return 0;
		left = vufront_ms_left(deadline);
		if (left == 0)
			return vufront_fail(vu, -ETIMEDOUT, "ring %u: nothing used within %d ms",
					    idx, timeout_ms);
		/* Poll used->idx too: the device may suppress the call. */
		if (left < 0 || left > 10)
			left = 10;
		if (poll(&pfd, 1, left) > 0)
			vufront_drain_eventfd(vq->callfd);
	}
}

/* ---- dirty log ---- */

int
vufront_log_create(struct vufront_dirty_log *l, size_t size)
{
	int err;

	l->map = NULL;
	l->size = size;
	l->fd = memfd_create("vufront-log", MFD_CLOEXEC);
	if (l->fd < 0 || ftruncate(l->fd, (off_t)size) < 0)
		goto fail;
	l->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, l->fd, 0);
	if (l->map != MAP_FAILED)
		return 0;
	l->map = NULL;
fail:
	err = errno;
	vufront_log_destroy(l);
	return -err;
}

void
vufront_log_destroy(struct vufront_dirty_log *l)
{
	if (l->map != NULL)
		munmap(l->map, l->size);
	if (l->fd >= 0)
		close(l->fd);
	l->map = NULL;
	l->fd = -1;
}

int
vufront_set_log_base(struct vufront *vu, const struct vufront_dirty_log *l)
{
	struct vufront_msg msg, reply;
	int ret;

	vufront_msg_init(&msg, VUFRONT_SET_LOG_BASE, sizeof(struct vufront_log));
	msg.payload.log.mmap_size = l->size;
	msg.payload.log.mmap_offset = 0;
	msg.fds[0] = l->fd;
	msg.nfds = 1;
	ret = vufront_call(vu, &msg, &reply);
	if (ret == 0)
		vufront_msg_close_fds(&reply);
	return ret;
}

int
vufront_vq_log(struct vufront *vu, unsigned int idx, bool on)
{
	const struct vufront_vq *vq = vufront_vq_get(vu, idx);
	struct vufront_vring_addr a;

	if (vq == NULL)
		return vufront_fail(vu, -ENOENT, "ring %u is not set up", idx);
	memset(&a, 0, sizeof(a));
	a.index = idx;
	a.flags = on ? VUFRONT_VRING_F_LOG : 0;
	a.desc_user_addr = (uint64_t)(uintptr_t)vq->desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)vq->avail;
	a.used_user_addr = (uint64_t)(uintptr_t)vq->used;
	a.log_guest_addr = vq->used_gpa;
	return vufront_set_vring_addr(vu, &a);
}

int
vufront_log_start(struct vufront *vu, const struct vufront_dirty_log *l, unsigned int nrings)
{
	int ret = vufront_set_log_base(vu, l);

	if (ret == 0)
		ret = vufront_set_features(vu, vu->features | VUFRONT_BIT(VUFRONT_F_LOG_ALL));
	for (unsigned int q = 0; ret == 0 && q < nrings; q++)
		ret = vufront_vq_log(vu, q, true);
	return ret;
}

int
vufront_log_stop(struct vufront *vu, unsigned int nrings)
{
	int ret = 0;

	for (unsigned int q = 0; ret == 0 && q < nrings; q++)
		ret = vufront_vq_log(vu, q, false);
	if (ret == 0)
		ret = vufront_set_features(vu, vu->features & ~VUFRONT_BIT(VUFRONT_F_LOG_ALL));
	return ret;
}

bool
vufront_log_dirty(const struct vufront_dirty_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t pg;

	if (len == 0)
		return true;
	for (pg = gpa / VUFRONT_LOG_PAGE; pg <= (gpa + len - 1) / VUFRONT_LOG_PAGE; pg++)
		if (pg / 8 >= l->size || !(atomic_load_explicit((_Atomic uint8_t *)&l->map[pg / 8],
								memory_order_acquire) &
					   (1u << (pg % 8))))
			return false;
	return true;
}

unsigned int
vufront_log_count(const struct vufront_dirty_log *l)
{
	unsigned int n = 0;

	for (size_t i = 0; i < l->size; i++)
		n += (unsigned int)__builtin_popcount(
			atomic_load_explicit((_Atomic uint8_t *)&l->map[i], memory_order_relaxed));
	return n;
}

/* ---- generic device bring-up ---- */

void
vufront_dev_conf_init(struct vufront_dev_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->neg.features =
		VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES) | VUFRONT_BIT(VUFRONT_F_VERSION_1);
	conf->neg.protocol_features = VUFRONT_BIT(VUFRONT_PF_MQ) |
				      VUFRONT_BIT(VUFRONT_PF_REPLY_ACK) |
				      VUFRONT_BIT(VUFRONT_PF_STATUS);
	conf->num_rings = 2;
	conf->ring_size = 256;
	conf->mem_size = 64u << 20;
	conf->enable = true;
}

static int
vufront_dev_bringup(struct vufront *vu, const struct vufront_dev_conf *conf,
		    unsigned int queue_pairs)
{
	const uint8_t st = VUFRONT_STATUS_ACK | VUFRONT_STATUS_DRIVER | VUFRONT_STATUS_FEATURES_OK;
	bool status;
	unsigned int i;
	int ret;

	if (conf->num_rings == 0 || conf->num_rings > VUFRONT_MAX_VQS)
		return vufront_fail(vu, -EINVAL, "%u rings", conf->num_rings);
	ret = vufront_negotiate(vu, &conf->neg);
	if (ret < 0)
		return ret;
	if (queue_pairs > 1 && vu->queue_num < queue_pairs)
		return vufront_fail(vu, -ENOTSUP, "back-end has %llu queue pairs, %u wanted",
				    (unsigned long long)vu->queue_num, queue_pairs);
	status = vu->protocol_features & VUFRONT_BIT(VUFRONT_PF_STATUS);
	if (status) {
		ret = vufront_set_status(vu, st);
		if (ret < 0)
			return ret;
	}
	if (vu->mem == NULL) {
		ret = vufront_mem_create(vu, conf->mem_size);
		if (ret < 0)
			return ret;
	}
	ret = vufront_set_mem_table(vu);
	if (ret < 0)
		return ret;
	for (i = 0; i < conf->num_rings; i++) {
		if (vu->vqs[i] == NULL) {
			ret = vufront_vq_setup(vu, i, conf->ring_size);
			if (ret < 0)
				return ret;
		}
	}
	if (conf->inflight) {
		if (!(vu->protocol_features & VUFRONT_BIT(VUFRONT_PF_INFLIGHT_SHMFD)))
			return vufront_fail(vu, -ENOTSUP,
					    "an inflight region without INFLIGHT_SHMFD negotiated");
		if (vu->inflight_map == NULL) {
			ret = vufront_inflight_get(vu, conf->num_rings, conf->ring_size);
			if (ret < 0)
				return ret;
		}
	}
	if (conf->prepare != NULL) {
		ret = conf->prepare(vu, conf->prepare_arg);
		if (ret != 0)
			return ret;
	}
	/* The back-end looks at the region when a ring's kick fd arrives:
	 * it must have it by then. */
	if (conf->inflight && !conf->inflight_late) {
		ret = vufront_inflight_send(vu);
		if (ret == 0 && conf->inflight_sent != NULL)
			ret = conf->inflight_sent(vu, conf->prepare_arg);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < conf->num_rings; i++) {
		/* After a reconnect, resume where the device stopped using the ring. */
		ret = vufront_vq_start_addr(vu, i, vu->vqs[i], vufront_vq_used_idx(vu->vqs[i]));
		if (ret < 0)
			return ret;
		if (conf->inflight && conf->inflight_late)
			continue;
		ret = vufront_vq_start_fds(vu, i, vu->vqs[i]);
		if (ret < 0)
			return ret;
	}
	if (conf->inflight && conf->inflight_late) {
		ret = vufront_inflight_send(vu);
		if (ret == 0 && conf->inflight_sent != NULL)
			ret = conf->inflight_sent(vu, conf->prepare_arg);
		for (i = 0; ret == 0 && i < conf->num_rings; i++)
			ret = vufront_vq_start_fds(vu, i, vu->vqs[i]);
		if (ret < 0)
			return ret;
	}
	if (conf->enable && (vu->features & VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES))) {
		for (i = 0; i < conf->num_rings; i++) {
			ret = vufront_vq_enable(vu, i, true);
			if (ret < 0)
				return ret;
		}
	}
	if (status)
		return vufront_set_status(vu, st | VUFRONT_STATUS_DRIVER_OK);
	return 0;
}

int
vufront_dev_start(struct vufront *vu, const struct vufront_dev_conf *conf)
{
	return vufront_dev_bringup(vu, conf, 0);
}

int
vufront_dev_stop(struct vufront *vu)
{
	unsigned int i;
	int ret, first = 0;

	for (i = 0; i < VUFRONT_MAX_VQS; i++) {
		if (vu->vqs[i] == NULL || !vu->vqs[i]->started)
			continue;
		ret = vufront_vq_stop(vu, i, NULL);
		if (ret < 0 && first == 0)
			first = ret;
		if (ret == -ECONNRESET || ret == -EPIPE || ret == -ENOTCONN)
			break;
	}
	return first;
}

/* ---- virtio-net ---- */

void
vufront_net_conf_init(struct vufront_net_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	vufront_dev_conf_init(&conf->dev);
	conf->dev.neg.features_required = VUFRONT_BIT(VUFRONT_F_VERSION_1);
	conf->queue_pairs = 1;
	conf->buf_size = 2048;
}

int
vufront_net_start(struct vufront *vu, const struct vufront_net_conf *conf)
{
	struct vufront_dev_conf dev = conf->dev;
	struct vufront_vq *vq;
	unsigned int i, hl;
	int ret;

	if (conf->queue_pairs == 0 || conf->queue_pairs > VUFRONT_MAX_VQS / 2)
		return vufront_fail(vu, -EINVAL, "%u queue pairs", conf->queue_pairs);
	dev.num_rings = 2 * conf->queue_pairs;
	/* split rings only */
	dev.neg.features &= ~VUFRONT_BIT(VUFRONT_F_RING_PACKED);
	if (conf->queue_pairs > 1) {
		dev.neg.features_required |=
			VUFRONT_BIT(VUFRONT_F_NET_MQ) | VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES);
		dev.neg.protocol_required |= VUFRONT_BIT(VUFRONT_PF_MQ);
	}
	if (conf->mrg_rxbuf)
		dev.neg.features |= VUFRONT_BIT(VUFRONT_F_NET_MRG_RXBUF);
	ret = vufront_dev_bringup(vu, &dev, conf->queue_pairs);
	if (ret < 0)
		return ret;

	vu->net_mrg = vu->features & VUFRONT_BIT(VUFRONT_F_NET_MRG_RXBUF);
	hl = (vu->features &
	      (VUFRONT_BIT(VUFRONT_F_VERSION_1) | VUFRONT_BIT(VUFRONT_F_NET_MRG_RXBUF))) ?
		     12 :
		     10;
	if (conf->buf_size == 0 || (conf->buf_size <= hl && !conf->tiny_bufs_ok))
		return vufront_fail(vu, -EINVAL, "buffer size %u", conf->buf_size);
	vu->net_hdr_len = hl;
	vu->net_qp = conf->queue_pairs;
	for (i = 0; i < dev.num_rings; i++) {
		vq = vu->vqs[i];
		if (vq->buf_size != 0)
			continue;
		ret = vufront_mem_alloc(vu, (size_t)vq->num * conf->buf_size, 64, &vq->buf_gpa);
		if (ret < 0)
			return ret;
		vq->buf_size = conf->buf_size;
	}
	return 0;
}

size_t
vufront_net_mem_size(unsigned int queue_pairs, unsigned int ring_size, uint32_t buf_size)
{
	size_t ring = VUFRONT_PAGE_SIZE * 3 + sizeof(struct vufront_desc) * ring_size +
		      vufront_avail_size(ring_size) + vufront_used_size(ring_size) +
		      (size_t)ring_size * buf_size + 64;
	size_t size = (1u << 20) + 2 * (size_t)queue_pairs * ring;

	return (size + (1u << 20) - 1) & ~(size_t)((1u << 20) - 1);
}

unsigned int
vufront_net_queue_pairs(const struct vufront *vu)
{
	return vu->net_qp;
}

unsigned int
vufront_net_hdr_len(const struct vufront *vu)
{
	return vu->net_hdr_len;
}

static int
vufront_net_ring(struct vufront *vu, unsigned int q, bool tx, struct vufront_vq **vqp)
{
	if (q >= vu->net_qp)
		return vufront_fail(vu, -EINVAL, "queue pair %u of %u", q, vu->net_qp);
	*vqp = vu->vqs[2 * q + (tx ? 1 : 0)];
	return 0;
}

static inline uint8_t *
vufront_net_buf(struct vufront *vu, struct vufront_vq *vq, uint16_t id)
{
	return vu->mem + vq->buf_gpa + (size_t)id * vq->buf_size;
}

int
vufront_net_tx_reap(struct vufront *vu, unsigned int q)
{
	struct vufront_vq *vq = NULL;
	int ret, total = 0;

	ret = vufront_net_ring(vu, q, true, &vq);
	if (ret < 0)
		return ret;
	do {
		ret = vufront_vq_reap(vu, 2 * q + 1, NULL, VUFRONT_REAP_BATCH);
		if (ret < 0)
			return ret;
		total += ret;
	} while (ret == VUFRONT_REAP_BATCH);
	return total;
}

unsigned int
vufront_net_tx_inflight(const struct vufront *vu, unsigned int q)
{
	const struct vufront_vq *vq;

	if (q >= vu->net_qp)
		return 0;
	vq = vu->vqs[2 * q + 1];
	return vq->num - vq->nfree;
}

int
vufront_net_send(struct vufront *vu, unsigned int q, const struct vufront_frame *frames,
		 unsigned int n)
{
	unsigned int hl = vu->net_hdr_len;
	struct vufront_desc *d;
	struct vufront_vq *vq = NULL;
	unsigned int i;
	uint16_t id = 0;
	uint8_t *buf;
	int ret;

	ret = vufront_net_ring(vu, q, true, &vq);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++)
		if (frames[i].len > vq->buf_size - hl)
			return vufront_fail(vu, -EMSGSIZE, "frame of %u bytes, buffers hold %u",
					    frames[i].len, vq->buf_size - hl);
	ret = vufront_net_tx_reap(vu, q);
	if (ret < 0)
		return ret;
	for (i = 0; i < n && vq->nfree > 0; i++) {
		vufront_vq_take(vu, vq, 2 * q + 1, 1, &id);
		buf = vufront_net_buf(vu, vq, id);
		memset(buf, 0, hl);
		memcpy(buf + hl, frames[i].data, frames[i].len);
		d = &vq->desc[id];
		d->addr = vq->buf_gpa + (uint64_t)id * vq->buf_size;
		d->len = hl + frames[i].len;
		d->flags = 0;
		d->next = 0;
		vufront_vq_push(vq, id);
	}
	if (i > 0) {
		vufront_vq_flush(vq);
		ret = vufront_vq_do_notify(vu, 2 * q + 1, vq);
		if (ret < 0)
			return ret;
	}
	return (int)i;
}

int
vufront_net_post_rx(struct vufront *vu, unsigned int q, unsigned int n)
{
	struct vufront_desc *d;
	struct vufront_vq *vq = NULL;
	unsigned int i;
	uint16_t id = 0;
	int ret;

	ret = vufront_net_ring(vu, q, false, &vq);
	if (ret < 0)
		return ret;
	for (i = 0; i < n && vq->nfree > 0; i++) {
		vufront_vq_take(vu, vq, 2 * q, 1, &id);
		d = &vq->desc[id];
		d->addr = vq->buf_gpa + (uint64_t)id * vq->buf_size;
		d->len = vq->buf_size;
		d->flags = VUFRONT_DESC_F_WRITE;
		d->next = 0;
		vufront_vq_push(vq, id);
	}
	if (i > 0) {
		vufront_vq_flush(vq);
		ret = vufront_vq_do_notify(vu, 2 * q, vq);
		if (ret < 0)
			return ret;
	}
	return (int)i;
}

/* Check a used RX entry before trusting it. */
static int
vufront_net_check_rx(struct vufront *vu, struct vufront_vq *vq, unsigned int ring,
		     const struct vufront_used_elem *e, uint32_t min_len)
{
	if (e->id >= vq->num || vq->chain_len[e->id] == 0)
		return vufront_fail(vu, -EPROTO, "ring %u: used id %u is not an in-flight head",
				    ring, e->id);
	if (e->len > vq->buf_size || e->len < min_len)
		return vufront_fail(vu, -EPROTO, "ring %u: used len %u (buffer %u, minimum %u)",
				    ring, e->len, vq->buf_size, min_len);
	return 0;
}

void
vufront_net_set_rx_trace(struct vufront *vu, vufront_rx_trace_fn fn, void *arg)
{
	vu->rx_trace = fn;
	vu->rx_trace_arg = arg;
}

int
vufront_net_recv(struct vufront *vu, unsigned int q, struct vufront_pkt *pkts, unsigned int max)
{
	unsigned int hl = vu->net_hdr_len;
	unsigned int got = 0, ring = 2 * q;
	struct vufront_used_elem e;
	struct vufront_net_hdr hdr;
	struct vufront_pkt *pkt;
	struct vufront_vq *vq = NULL;
	uint16_t used_idx, ready, nb, k;
	uint32_t off, len, total, copy;
	uint8_t *buf;
	int ret;

	ret = vufront_net_ring(vu, q, false, &vq);
	if (ret < 0)
		return ret;
	while (got < max) {
		used_idx = vufront_vq_used_idx(vq);
		ready = (uint16_t)(used_idx - vq->last_used);
		if (ready == 0)
			break;
		if (ready > vq->num)
			return vufront_fail(vu, -EPROTO, "ring %u: used idx %u is %u ahead of %u",
					    ring, used_idx, ready, vq->last_used);
		e = vq->used->ring[vq->last_used & (vq->num - 1)];
		ret = vufront_net_check_rx(vu, vq, ring, &e, hl);
		if (ret < 0)
			return ret;
		memset(&hdr, 0, sizeof(hdr));
		memcpy(&hdr, vufront_net_buf(vu, vq, (uint16_t)e.id), hl);
		nb = vu->net_mrg ? hdr.num_buffers : 1;
		if (nb == 0 || nb > vq->num)
			return vufront_fail(vu, -EPROTO, "ring %u: num_buffers %u", ring, nb);
		if (nb > ready)
			break; /* the rest of this frame is not there yet */
		for (k = 1; k < nb; k++) {
			e = vq->used->ring[(uint16_t)(vq->last_used + k) & (vq->num - 1)];
			ret = vufront_net_check_rx(vu, vq, ring, &e, 0);
			if (ret < 0)
				return ret;
		}
		pkt = &pkts[got];
		total = 0;
		for (k = 0; k < nb; k++) {
			e = vq->used->ring[vq->last_used & (vq->num - 1)];
			off = k == 0 ? hl : 0;
			len = e.len - off;
			buf = vufront_net_buf(vu, vq, (uint16_t)e.id) + off;
			if (vu->rx_trace != NULL)
				vu->rx_trace(vu->rx_trace_arg,
					     vq->buf_gpa + (uint64_t)e.id * vq->buf_size, e.len);
			if (total < pkt->size) {
				copy = pkt->size - total < len ? pkt->size - total : len;
				memcpy((uint8_t *)pkt->buf + total, buf, copy);
			}
			total += len;
			vufront_vq_put(vq, e.id);
			vq->last_used++;
		}
		pkt->len = total;
		pkt->hdr = hdr;
		got++;
	}
	vufront_vq_update_used_event(vu, vq);
	return (int)got;
}
