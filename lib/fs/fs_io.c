/* SPDX-License-Identifier: BSD-3-Clause */
/* Asynchronous operations: io_uring for what the 6.1 kernel has, helper
 * threads for the rest (and for everything when io_uring is unavailable).
 * Each helper has two lock-free SPSC rings: submissions from the poller and
 * completions back to it; vgw_fs_poll() reaps both the CQ and those rings.
 * A helper sleeps on its semaphore when idle; sem_post() never blocks. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "fs_priv.h"

#define FS_UD_BG 1ULL /* user_data of fire-and-forget closes */

static int
fs_spsc_init(struct fs_spsc *r, uint32_t n)
{
	uint32_t sz = 8;

	while (sz < n)
		sz <<= 1;
	r->slot = calloc(sz, sizeof(*r->slot));
	if (!r->slot)
		return -ENOMEM;
	r->mask = sz - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	return 0;
}

static bool
fs_spsc_push(struct fs_spsc *r, struct fs_ctx *c)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);

	if (t - h > r->mask)
		return false;
	r->slot[t & r->mask] = c;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}

static struct fs_ctx *
fs_spsc_pop(struct fs_spsc *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	struct fs_ctx *c;

	if (h == t)
		return NULL;
	c = r->slot[h & r->mask];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return c;
}

/* Jobs given to a helper and not finished yet (queued or running). */
static uint32_t
fs_helper_load(struct fs_helper *h)
{
	return atomic_load_explicit(&h->sub.tail, memory_order_relaxed) -
	       atomic_load_explicit(&h->comp.tail, memory_order_acquire);
}

void
fs_aop_openat2(struct fs_aop *a, int dirfd, const char *path, int flags, uint32_t mode,
	       uint64_t resolve)
{
	memset(a, 0, sizeof(*a));
	a->kind = FS_AOP_OPENAT2;
	a->fd = dirfd;
	a->path = path;
	a->how.flags = (uint64_t)(unsigned int)(flags | O_CLOEXEC);
	a->how.mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode & 07777 : 0;
	a->how.resolve = resolve;
}

void
fs_aop_statx(struct fs_aop *a, int dirfd, const char *path, int flags, struct statx *stx)
{
	memset(a, 0, sizeof(*a));
	a->kind = FS_AOP_STATX;
	a->fd = dirfd;
	a->path = path;
	a->flags = flags;
	a->mode = STATX_BASIC_STATS | STATX_MNT_ID | STATX_BTIME;
	a->stx = stx;
}

/* Run an operation synchronously (on a helper thread). */
int
fs_aop_exec(struct fs_aop *a)
{
	long r;

	switch (a->kind) {
	case FS_AOP_OPENAT2:
		r = syscall(SYS_openat2, a->fd, a->path, &a->how, sizeof(a->how));
		break;
	case FS_AOP_STATX:
		r = statx(a->fd, a->path, a->flags, a->mode, a->stx);
		break;
	case FS_AOP_READV:
		r = preadv2(a->fd, a->iov, (int)a->iovcnt, (off_t)a->off, 0);
		break;
	case FS_AOP_WRITEV:
		r = pwritev2(a->fd, a->iov, (int)a->iovcnt, (off_t)a->off, 0);
		break;
	case FS_AOP_FSYNC:
		r = a->flags ? fdatasync(a->fd) : fsync(a->fd);
		break;
	case FS_AOP_FALLOCATE:
		r = fallocate(a->fd, (int)a->mode, (off_t)a->off, (off_t)a->len);
		break;
	case FS_AOP_UNLINKAT:
		r = unlinkat(a->fd, a->path, a->flags);
		break;
	case FS_AOP_RENAMEAT:
		r = renameat2(a->fd, a->path, a->fd2, a->path2, (unsigned int)a->flags);
		break;
	case FS_AOP_MKDIRAT:
		r = mkdirat(a->fd, a->path, a->mode);
		break;
	case FS_AOP_SYMLINKAT:
		r = symlinkat(a->path, a->fd, a->path2);
		break;
	case FS_AOP_LINKAT:
		r = linkat(a->fd, a->path, a->fd2, a->path2, a->flags);
		break;
	case FS_AOP_CLOSE:
		r = close(a->fd);
		break;
	default:
		return -EINVAL;
	}
	return r < 0 ? -errno : (int)(r > INT32_MAX ? INT32_MAX : r);
}

static struct io_uring_sqe *
fs_get_sqe(struct vgw_fs *fs)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&fs->ring);

	if (sqe == NULL) {
		/* SQ sized for max_inflight + closes: only a burst of closes
		 * gets here; submitting frees the SQ. */
		io_uring_submit(&fs->ring);
		fs->sq_pending = 0;
		sqe = io_uring_get_sqe(&fs->ring);
	}
	return sqe;
}

static bool
fs_prep_sqe(struct io_uring_sqe *sqe, struct fs_aop *a)
{
	switch (a->kind) {
	case FS_AOP_OPENAT2:
		io_uring_prep_openat2(sqe, a->fd, a->path, &a->how);
		break;
	case FS_AOP_STATX:
		io_uring_prep_statx(sqe, a->fd, a->path, a->flags, a->mode, a->stx);
		break;
	case FS_AOP_READV:
		io_uring_prep_readv(sqe, a->fd, a->iov, a->iovcnt, a->off);
		break;
	case FS_AOP_WRITEV:
		io_uring_prep_writev(sqe, a->fd, a->iov, a->iovcnt, a->off);
		break;
	case FS_AOP_FSYNC:
		io_uring_prep_fsync(sqe, a->fd, a->flags ? IORING_FSYNC_DATASYNC : 0);
		break;
	case FS_AOP_FALLOCATE:
		io_uring_prep_fallocate(sqe, a->fd, (int)a->mode, a->off, a->len);
		break;
	case FS_AOP_UNLINKAT:
		io_uring_prep_unlinkat(sqe, a->fd, a->path, a->flags);
		break;
	case FS_AOP_RENAMEAT:
		io_uring_prep_renameat(sqe, a->fd, a->path, a->fd2, a->path2,
				       (unsigned int)a->flags);
		break;
	case FS_AOP_MKDIRAT:
		io_uring_prep_mkdirat(sqe, a->fd, a->path, a->mode);
		break;
	case FS_AOP_SYMLINKAT:
		io_uring_prep_symlinkat(sqe, a->path, a->fd, a->path2);
		break;
	case FS_AOP_LINKAT:
		io_uring_prep_linkat(sqe, a->fd, a->path, a->fd2, a->path2, a->flags);
		break;
	case FS_AOP_CLOSE:
		io_uring_prep_close(sqe, a->fd);
		break;
	default:
		return false;
	}
	return true;
}

static void
fs_to_helper(struct vgw_fs *fs, struct fs_ctx *c)
{
	struct fs_helper *best = &fs->helpers[0];
	uint32_t n, bn = fs_helper_load(best);
	unsigned int i;

	for (i = 1; i < fs->n_helpers && bn != 0; i++) {
		n = fs_helper_load(&fs->helpers[i]);
		if (n < bn) {
			bn = n;
			best = &fs->helpers[i];
		}
	}
	/* rings hold max_inflight entries: never full */
	fs_spsc_push(&best->sub, c);
	sem_post(&best->sem);
	fs->stats.helper_ops++;
}

static uint64_t
fs_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The attributes of an inode the engine holds an fd of (LOOKUP after its
 * open, GETATTR, SETATTR, CREATE), read on the poller where that is the
 * cheaper way. io_uring gives every STATX to its workers: a wake-up and
 * context switches, paid back only where the system call itself is
 * dear. On a VM whose kernel took 1.8 us for this statx a LOOKUP took
 * twice the CPU made inline (usertools/BENCH.md, "Metadata at the
 * ring"); on one whose kernel takes 0.5 us, 1.8x the lookups per second
 * made inline ("Attributes on the poller"). So the poller times 1 in 8
 * of its calls and keeps making them while they take FS_FSTAT_INLINE_NS
 * or less on average (a call longer than 4 times that counts as 4
 * times: one preemption does not decide); above it, the next
 * FS_FSTAT_BACKOFF go through io_uring and it tries again.
 * Only where the inode's file system answers from memory: a disk's (its
 * device has a major number; getattr of an inode held open does no I/O)
 * or the share's own if that is tmpfs and the like. AT_STATX_DONT_SYNC
 * makes sure a network file system (a mount inside the share) answers
 * from its cache too, without a round trip; its answer is not used, the
 * statx goes to io_uring as before. */
static bool
fs_fstat_inline(struct vgw_fs *fs, struct fs_ctx *c)
{
	struct fs_aop *a = &c->aop;
	bool timed = (fs->fstat_calls++ & 7) == 0;
	uint64_t t0 = 0, d;

	if (fs->fstat_skip != 0) {
		fs->fstat_skip--;
		return false;
	}
	if (a->path[0] != '\0')
		return false; /* by name: a lookup the dentry cache may miss */
	if (timed)
		t0 = fs_now_ns();
	if (statx(a->fd, "", a->flags | AT_STATX_DONT_SYNC, a->mode, a->stx) != 0)
		return false; /* (io_uring's answer says what failed) */
	if (timed) {
		d = fs_now_ns() - t0;
		if (d > 4 * (uint64_t)fs->fstat_limit_ns)
			d = 4 * (uint64_t)fs->fstat_limit_ns;
		fs->fstat_mean_ns =
			(uint32_t)(fs->fstat_mean_ns + ((int64_t)d - fs->fstat_mean_ns) / 8);
		if (fs->fstat_mean_ns > fs->fstat_limit_ns) {
			fs->fstat_skip = FS_FSTAT_BACKOFF;
			fs->fstat_mean_ns = 0;
			fs->stats.inline_backoffs++;
		}
	}
	if (a->stx->stx_dev_major == 0 &&
	    (fs->fstat_dev == 0 ||
	     makedev(a->stx->stx_dev_major, a->stx->stx_dev_minor) != fs->fstat_dev))
		return false;
	c->res = 0;
	return true;
}

void
fs_issue(struct vgw_fs *fs, struct fs_ctx *c, fs_step_fn step)
{
	struct io_uring_sqe *sqe;

	c->step = step;
	if (c->aop.kind == FS_AOP_STATX && fs->fstat_inline && fs_fstat_inline(fs, c)) {
		/* at most max_inflight contexts: never full */
		fs->inl[fs->n_inl++] = c;
		fs->stats.inline_ops++;
		return;
	}
	if (fs->use_uring && c->aop.kind != FS_AOP_JOB &&
	    (fs->test_slow_read_ms == 0 || c->aop.kind != FS_AOP_READV)) {
		sqe = fs_get_sqe(fs);
		if (sqe != NULL && fs_prep_sqe(sqe, &c->aop)) {
			io_uring_sqe_set_data(sqe, c);
			fs->sq_pending++;
			fs->stats.uring_ops++;
			return;
		}
	}
	fs_to_helper(fs, c);
}

void
fs_issue_job(struct vgw_fs *fs, struct fs_ctx *c, fs_job_fn job, fs_step_fn step)
{
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_JOB;
	c->aop.job = job;
	fs_issue(fs, c, step);
}

/* Close an fd without waiting: io_uring, else close(2) directly (closing
 * an O_PATH fd or a local file never sleeps on I/O). */
void
fs_close_async(struct vgw_fs *fs, int fd)
{
	struct io_uring_sqe *sqe;

	if (fd < 0)
		return;
	if (fs->use_uring) {
		sqe = fs_get_sqe(fs);
		if (sqe != NULL) {
			io_uring_prep_close(sqe, fd);
			io_uring_sqe_set_data64(sqe, FS_UD_BG);
			fs->sq_pending++;
			fs->bg_ops++;
			return;
		}
	}
	close(fd);
}

/* Give the kernel what is queued now rather than at the next pass. */
void
fs_io_flush(struct vgw_fs *fs)
{
	if (fs->use_uring && fs->sq_pending) {
		io_uring_submit(&fs->ring);
		fs->sq_pending = 0;
	}
}

static void *
fs_helper_main(void *arg)
{
	struct fs_helper *h = arg;
	struct fs_ctx *c;

	for (;;) {
		while (sem_wait(&h->sem) != 0)
			;
		c = fs_spsc_pop(&h->sub);
		if (c == NULL) {
			if (atomic_load(&h->fs->stop))
				break;
			continue;
		}
		if (h->fs->test_slow_read_ms != 0 && c->aop.kind == FS_AOP_READV)
			usleep(h->fs->test_slow_read_ms * 1000);
		if (c->aop.kind == FS_AOP_JOB)
			c->res = c->aop.job(h->fs, c, h->buf);
		else
			c->res = fs_aop_exec(&c->aop);
		fs_spsc_push(&h->comp, c);
	}
	return NULL;
}

/* VHOSTGW_TEST_FAULT=fs-slow-read-ms=N, 1 <= N <= 60000 (tests only: a
 * READ that stays in flight while the front-end stops the device; the
 * device logs it); 0 without it. */
static uint32_t
fs_test_slow_read_ms(void)
{
	const char *v = getenv("VHOSTGW_TEST_FAULT");
	unsigned long n;
	char *end;

	if (v == NULL || strncmp(v, "fs-slow-read-ms=", 16) != 0)
		return 0;
	n = strtoul(v + 16, &end, 10);
	return *end == '\0' && n >= 1 && n <= 60000 ? (uint32_t)n : 0;
}

/* Which inodes' attributes the poller reads itself: those on a disk's
 * file system, and those on the share's if it is a local one without a
 * disk (tmpfs, ramfs, btrfs); none if the share is a network file system.
 * Not an overlay's: it passes AT_STATX_DONT_SYNC to the file system
 * under it, which may be a network one, and its cached answer would be
 * taken. */
static void
fs_fstat_policy(struct vgw_fs *fs, int root_fd, const struct statx *root)
{
	struct statfs sf;

	fs->fstat_inline = fs->use_uring && fstatfs(root_fd, &sf) == 0;
	if (!fs->fstat_inline)
		return;
	switch ((unsigned long)sf.f_type) {
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
	case BTRFS_SUPER_MAGIC: /* subvolumes have devices of their own */
		fs->fstat_dev = makedev(root->stx_dev_major, root->stx_dev_minor);
		break;
	default:
		/* a disk's (major number) or none */
		fs->fstat_inline = root->stx_dev_major != 0;
		fs->fstat_dev = 0;
	}
}

int
fs_io_init(struct vgw_fs *fs, bool no_uring, unsigned int helpers, int root_fd,
	   const struct statx *root)
{
	struct io_uring_params p;
	unsigned int i;
	int rc;

	if (!no_uring) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 4 * (fs->max_inflight + 64);
		rc = io_uring_queue_init_params(2 * fs->max_inflight + 64, &fs->ring, &p);
		fs->use_uring = rc == 0;
	}
	fs->test_slow_read_ms = fs_test_slow_read_ms();
	fs->inl = calloc(fs->max_inflight, sizeof(*fs->inl));
	if (fs->inl == NULL)
		return -ENOMEM;
	fs_fstat_policy(fs, root_fd, root);
	fs->n_helpers = helpers;
	fs->helpers = calloc(helpers, sizeof(*fs->helpers));
	if (!fs->helpers)
		return -ENOMEM;
	for (i = 0; i < helpers; i++) {
		struct fs_helper *h = &fs->helpers[i];

		h->fs = fs;
		h->buf = malloc(FS_HELPER_BUF);
		if (!h->buf || fs_spsc_init(&h->sub, fs->max_inflight) ||
		    fs_spsc_init(&h->comp, fs->max_inflight))
			return -ENOMEM;
		if (sem_init(&h->sem, 0, 0) != 0)
			return -errno;
		rc = pthread_create(&h->th, NULL, fs_helper_main, h);
		if (rc != 0)
			return -rc;
		h->started = true;
	}
	return 0;
}

void
fs_io_fini(struct vgw_fs *fs)
{
	struct io_uring_cqe *cqe;
	unsigned int i;

	atomic_store(&fs->stop, true);
	for (i = 0; fs->helpers && i < fs->n_helpers; i++) {
		struct fs_helper *h = &fs->helpers[i];

		if (h->started) {
			sem_post(&h->sem);
			pthread_join(h->th, NULL);
			sem_destroy(&h->sem);
		}
		free(h->sub.slot);
		free(h->comp.slot);
		free(h->buf);
	}
	free(fs->helpers);
	free(fs->inl);
	fs->inl = NULL;
	fs->helpers = NULL;
	if (fs->use_uring) {
		io_uring_submit(&fs->ring);
		while (fs->bg_ops > 0 && io_uring_wait_cqe(&fs->ring, &cqe) == 0) {
			if (io_uring_cqe_get_data64(cqe) == FS_UD_BG)
				fs->bg_ops--;
			io_uring_cqe_seen(&fs->ring, cqe);
		}
		io_uring_queue_exit(&fs->ring);
		fs->use_uring = false;
	}
}

/* Reap io_uring and helper completions, run their steps; returns how many
 * operations completed. */
unsigned int
fs_io_progress(struct vgw_fs *fs)
{
	unsigned int n = 0, i;
	struct fs_ctx *c;

	if (fs->use_uring) {
		if (fs->sq_pending) {
			io_uring_submit(&fs->ring);
			fs->sq_pending = 0;
			if (__builtin_expect(fs->iowq_aff_pending, 0)) {
				/* once: the polling thread has io_uring
				 * workers only after its first submit */
				fs->iowq_aff_pending = false;
				io_uring_register_iowq_aff(&fs->ring, sizeof(fs->iowq_cpus),
							   &fs->iowq_cpus);
			}
		}
		for (;;) {
			struct io_uring_cqe *cqes[64];
			uint64_t ud[64];
			int res[64];
			unsigned int k, j;

			k = io_uring_peek_batch_cqe(&fs->ring, cqes, 64);
			if (k == 0)
				break;
			for (j = 0; j < k; j++) {
				ud[j] = io_uring_cqe_get_data64(cqes[j]);
				res[j] = cqes[j]->res;
			}
			io_uring_cq_advance(&fs->ring, k);
			for (j = 0; j < k; j++) {
				if (ud[j] == FS_UD_BG) {
					fs->bg_ops--;
					continue;
				}
				c = (struct fs_ctx *)(uintptr_t)ud[j];
				c->res = res[j];
				n++;
				c->step(fs, c, c->res);
			}
		}
	}
	while (fs->n_inl != 0) {
		/* a step may issue the request's next operation: inline too */
		c = fs->inl[--fs->n_inl];
		n++;
		c->step(fs, c, c->res);
	}
	for (i = 0; i < fs->n_helpers; i++) {
		while ((c = fs_spsc_pop(&fs->helpers[i].comp)) != NULL) {
			n++;
			c->step(fs, c, c->res);
		}
	}
	fs_io_flush(fs);
	return n;
}
