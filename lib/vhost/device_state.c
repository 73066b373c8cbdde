/* SPDX-License-Identifier: BSD-3-Clause */
/* Device state, for every type that has some (its operations state_save
 * and state_load): DEVICE_STATE's SET_DEVICE_STATE_FD and
 * CHECK_DEVICE_STATE, and the operator's state-save and state-load to a
 * file.
 *
 * DEVICE_STATE: one transfer at a time, on a thread of the device's own
 * (the front-end reads or writes the pipe only after our reply). Save: the
 * state is serialized on the event thread, while the device is stopped
 * (nothing in flight: its rings were taken from the workers and quiesced
 * when they stopped), and written by the thread. Load: read and applied by
 * the thread into the connection's fresh session, before the rings start
 * (new_device waits for it). The thread never takes dev->lock; whoever
 * joins it holds it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <rte_log.h>

#include "vgw_log.h"
#include "vgw_state.h"
#include "vgw_vhost.h"
#include "vgw_device.h"
#include "vhost_priv.h"

#define STATE_TIMEOUT_MS 60000 /* for the other end of the pipe or file */
#define STATE_MAX (256u << 20)

#define DEV_LOG(dev, level, fmt, ...) \
	rte_log(RTE_LOG_##level, *(dev)->ops->logtype, "vhostgw: %s: " fmt "\n", (dev)->name, \
		##__VA_ARGS__)

static const char *
dir_name(uint32_t dir)
{
	return dir == 0 ? "save" : "load";
}

/* Test-only fault injection into device-state loads (the e2e fs_migrate_*
 * scenarios; doc/e2e.rst), from the environment variable VHOSTGW_TEST_FAULT,
 * read once (at the first load) and logged as a warning. Never set in
 * production:
 *   state-corrupt       flip one byte in the middle of each incoming state
 *                       stream, after it is read and before it is parsed
 *   state-truncate      drop the last 16 bytes of each incoming stream
 *   load-delay-ms=N     wait N ms (at most 60000) before reading each
 *                       incoming stream, so that a test can kill the
 *                       process while a load is under way
 *   save-crash=DIR      the first save dies (SIGKILL) before its
 *                       SET_DEVICE_STATE_FD is answered, the second after
 *                       its reply and half its stream; later saves go
 *                       through. Once each though the keeper starts every
 *                       gateway with the same environment: the files
 *                       DIR/unanswered and DIR/cut, created O_EXCL, say
 *                       which happened */
enum test_fault {
	TEST_FAULT_NONE,
	TEST_FAULT_CORRUPT,
	TEST_FAULT_TRUNCATE,
	TEST_FAULT_SAVE_CRASH,
};
static enum test_fault test_fault;
static unsigned int test_load_delay_ms;
static const char *test_crash_dir;

/* save-crash: true the first time for this name (DIR/name created). */
static bool
test_crash_first(const char *name)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", test_crash_dir, name) >= (int)sizeof(path))
		return false;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}
static pthread_once_t test_fault_once = PTHREAD_ONCE_INIT;

static void
test_fault_init(void)
{
	const char *v = getenv("VHOSTGW_TEST_FAULT");
	char *end;

	/* fs-*: the fs device's own (fs_vhost.c) */
	if (v == NULL || *v == '\0' || strncmp(v, "fs-", 3) == 0)
		return;
	if (strcmp(v, "state-corrupt") == 0) {
		test_fault = TEST_FAULT_CORRUPT;
	} else if (strcmp(v, "state-truncate") == 0) {
		test_fault = TEST_FAULT_TRUNCATE;
	} else if (strncmp(v, "load-delay-ms=", 14) == 0) {
		unsigned long ms = strtoul(v + 14, &end, 10);

		if (*end == '\0' && ms <= 60000)
			test_load_delay_ms = (unsigned int)ms;
	} else if (strncmp(v, "save-crash=", 11) == 0 && v[11] != '\0') {
		test_fault = TEST_FAULT_SAVE_CRASH;
		test_crash_dir = v + 11;
	}
	if (test_fault == TEST_FAULT_NONE && test_load_delay_ms == 0)
		VGW_LOG(vhost, WARNING, "VHOSTGW_TEST_FAULT=%s not understood: ignored", v);
	else
		VGW_LOG(vhost, WARNING,
			"VHOSTGW_TEST_FAULT=%s: device state transfers are "
			"damaged, delayed or cut on purpose (for tests only)",
			v);
}

/* An incoming stream, read whole, damaged as VHOSTGW_TEST_FAULT asks. */
static void
test_fault_apply(struct vgw_device *dev, struct vgw_device_xfer *x)
{
	if (test_fault == TEST_FAULT_CORRUPT && x->len != 0) {
		((unsigned char *)x->buf)[x->len / 2] ^= 0x5a;
		DEV_LOG(dev, WARNING, "test fault: byte %zu of %zu of the incoming state flipped",
			x->len / 2, x->len);
	} else if (test_fault == TEST_FAULT_TRUNCATE) {
		size_t cut = x->len < 16 ? x->len : 16;

		x->len -= cut;
		DEV_LOG(dev, WARNING, "test fault: the incoming state cut by %zu byte(s) to %zu",
			cut, x->len);
	}
}

static void *
xfer_main(void *arg)
{
	struct vgw_device *dev = arg;
	struct vgw_device_xfer *x = &dev->xfer;
	int ret;

	if (x->dir == 0 && test_fault == TEST_FAULT_SAVE_CRASH && test_crash_first("cut")) {
		usleep(200 * 1000); /* the reply to SET_DEVICE_STATE_FD is out */
		vgw_state_write_fd(x->fd, x->buf, x->len / 2, STATE_TIMEOUT_MS);
		DEV_LOG(dev, WARNING,
			"test fault: dying after %zu of %zu byte(s) of the outgoing state",
			x->len / 2, x->len);
		kill(getpid(), SIGKILL);
	}
	if (x->dir == 0) {
		ret = vgw_state_write_fd_cut(x->fd, x->buf, x->len, STATE_TIMEOUT_MS, x->cut_fd);
		if (ret == -ECANCELED)
			snprintf(x->why, sizeof(x->why),
				 "the front-end moved on before it had read the whole state");
		else if (ret < 0)
			snprintf(x->why, sizeof(x->why), "writing the state: %s", strerror(-ret));
	} else {
		pthread_once(&test_fault_once, test_fault_init);
		if (test_load_delay_ms != 0)
			usleep(test_load_delay_ms * 1000u);
		ret = vgw_state_read_fd_cut(x->fd, STATE_MAX, STATE_TIMEOUT_MS, x->cut_fd, &x->buf,
					    &x->len);
		if (ret == -ECANCELED) {
			snprintf(x->why, sizeof(x->why),
				 "the front-end moved on before it had closed its end of the pipe");
		} else if (ret < 0) {
			snprintf(x->why, sizeof(x->why), "reading the state: %s", strerror(-ret));
		} else {
			test_fault_apply(dev, x);
			ret = dev->ops->state_load(dev, x->buf, x->len, x->why, sizeof(x->why));
		}
	}
	x->result = ret;
	/* before the front-end sees EOF (and sends CHECK_DEVICE_STATE) */
	if (ret == 0)
		vgw_vhost_report(dev->name, VGW_VHOST_EV_STATE_DONE, x->dir);
	close(x->fd);
	x->fd = -1;
	free(x->buf);
	x->buf = NULL;
	return NULL;
}

int
vgw_device_xfer_join(struct vgw_device *dev)
{
	struct vgw_device_xfer *x = &dev->xfer;

	if (!x->started)
		return x->result;
	/* whoever joins, the front-end has moved on (CHECK_DEVICE_STATE, the
	 * rings' start, another transfer, its disconnect): the transfer ends
	 * with what is there rather than wait for its deadline */
	if (eventfd_write(x->cut_fd, 1) < 0)
		DEV_LOG(dev, WARNING, "device state: cannot cut the transfer short: %s",
			strerror(errno));
	pthread_join(x->thread, NULL);
	close(x->cut_fd);
	x->cut_fd = -1;
	x->started = false;
	if (x->result < 0)
		DEV_LOG(dev, ERR, "device state %s failed: %s", dir_name(x->dir), x->why);
	return x->result;
}

bool
vgw_device_xfer_loading(const struct vgw_device *dev)
{
	return dev->xfer.started && dev->xfer.dir == 1;
}

/* SET_DEVICE_STATE_FD, on the event thread: 0 and fd is ours, or < 0. */
int
vgw_device_state_fd(struct vgw_device *dev, int vid, uint32_t dir, int fd)
{
	struct vgw_device_xfer *x = &dev->xfer;
	int ret = 0;

	pthread_mutex_lock(&dev->lock);
	vgw_device_xfer_join(dev);
	x->result = -EIO;
	x->why[0] = '\0';
	if (atomic_load(&dev->conn_vid) != vid) {
		ret = -ENODEV;
	} else if (atomic_load(&dev->ready_vid) >= 0) {
		DEV_LOG(dev, ERR, "device state %s refused: the device is running", dir_name(dir));
		ret = -EBUSY;
	} else if ((ret = vgw_state_fd_usable(fd, dir == 0)) < 0) {
		/* a pipe's wrong end: the transfer would wait for its
		 * deadline, and whoever joins it (the event thread) too */
		DEV_LOG(dev, ERR, "device state %s refused: its fd is not open for %s",
			dir_name(dir), dir == 0 ? "writing" : "reading");
	} else if (dir == 0) {
		pthread_once(&test_fault_once, test_fault_init);
		if (test_fault == TEST_FAULT_SAVE_CRASH && test_crash_first("unanswered")) {
			DEV_LOG(dev, WARNING,
				"test fault: dying before SET_DEVICE_STATE_FD "
				"is answered");
			kill(getpid(), SIGKILL);
		}
		ret = dev->ops->state_save(dev, STATE_MAX, &x->buf, &x->len, x->why,
					   sizeof(x->why));
		if (ret < 0)
			DEV_LOG(dev, ERR, "device state save refused: %s", x->why);
	}
	if (ret == 0) {
		x->cut_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (x->cut_fd < 0) {
			ret = -errno;
			free(x->buf);
			x->buf = NULL;
		}
	}
	if (ret == 0) {
		x->dir = dir;
		x->fd = fd;
		ret = -pthread_create(&x->thread, NULL, xfer_main, dev);
		x->started = ret == 0;
		if (ret < 0) {
			free(x->buf);
			x->buf = NULL;
			x->fd = -1;
			close(x->cut_fd);
			x->cut_fd = -1;
		}
	}
	if (ret < 0)
		x->result = ret;
	pthread_mutex_unlock(&dev->lock);
	if (ret == 0)
		DEV_LOG(dev, INFO, "device state %s started", dir_name(dir));
	return ret;
}

/* CHECK_DEVICE_STATE: the last transfer's result, once it ended. */
int
vgw_device_state_check(struct vgw_device *dev, int vid)
{
	int ret;

	pthread_mutex_lock(&dev->lock);
	ret = atomic_load(&dev->conn_vid) == vid ? vgw_device_xfer_join(dev) : -ENODEV;
	if (ret == 0)
		DEV_LOG(dev, INFO, "device state check: ok");
	else
		DEV_LOG(dev, ERR, "device state check: failed (%s): %s", strerror(-ret),
			ret == -ENODEV ? "not this device's front-end" : dev->xfer.why);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

/* --- the operator's device state (state-save, state-load) ---------------- */

/* A device whose state may be taken or given: connected, nothing running
 * (no worker touches it), no transfer. dev->lock held. */
static int
state_ready(struct vgw_device *dev, char *why, size_t why_len)
{
	if (atomic_load(&dev->conn_vid) < 0) {
		snprintf(why, why_len, "no front-end is connected");
		return -ENOTCONN;
	}
	if (atomic_load(&dev->vid) >= 0) {
		snprintf(why, why_len, "the device is running: suspend it first");
		return -EBUSY;
	}
	if (dev->xfer.started) {
		snprintf(why, why_len, "a device state transfer is under way");
		return -EBUSY;
	}
	return 0;
}

/* buf (len bytes) into path, whole or not at all: a temporary file, then
 * renamed over path. */
static int
file_write(const char *path, const char *tmp, const void *buf, size_t len, char *why,
	   size_t why_len)
{
	int ret, fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, why_len, "%s: %s", tmp, strerror(errno));
		return -errno;
	}
	ret = vgw_state_write_fd(fd, buf, len, STATE_TIMEOUT_MS);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(-ret));
		unlink(tmp);
	}
	return ret;
}

int
vgw_device_state_save(struct vgw_device *dev, const char *path, struct json_t *reply, size_t *bytes,
		      char *why, size_t why_len)
{
	char tmp[4096];
	void *buf = NULL;
	size_t len = 0;
	int ret;

	if (dev->ops->state_save == NULL)
		return -ENOTSUP;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(why, why_len, "path too long");
		return -ENAMETOOLONG;
	}
	pthread_mutex_lock(&dev->lock);
	ret = state_ready(dev, why, why_len);
	if (ret == 0)
		ret = dev->ops->state_save(dev, STATE_MAX, &buf, &len, why, why_len);
	if (ret == 0 && dev->ops->state_figures != NULL)
		dev->ops->state_figures(dev, reply, false);
	pthread_mutex_unlock(&dev->lock);
	if (ret == 0)
		ret = file_write(path, tmp, buf, len, why, why_len);
	free(buf);
	if (ret == 0) {
		*bytes = len;
		DEV_LOG(dev, INFO, "device state saved to %s (%zu bytes)", path, len);
	}
	return ret;
}

int
vgw_device_state_load(struct vgw_device *dev, const char *path, struct json_t *reply, size_t *bytes,
		      char *why, size_t why_len)
{
	void *buf = NULL;
	size_t len = 0;
	int ret, fd;

	if (dev->ops->state_load == NULL)
		return -ENOTSUP;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	ret = vgw_state_read_fd(fd, STATE_MAX, STATE_TIMEOUT_MS, &buf, &len);
	close(fd);
	if (ret < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&dev->lock);
	ret = state_ready(dev, why, why_len);
	if (ret == 0)
		ret = dev->ops->state_load(dev, buf, len, why, why_len);
	if (ret == 0 && dev->ops->state_figures != NULL)
		dev->ops->state_figures(dev, reply, true);
	pthread_mutex_unlock(&dev->lock);
	free(buf);
	if (ret == 0) {
		*bytes = len;
		DEV_LOG(dev, INFO, "device state loaded from %s (%zu bytes)", path, len);
	}
	return ret;
}
