/* SPDX-License-Identifier: BSD-3-Clause */
/* Locks: GETLK SETLK SETLKW, answered only when posix_locks is configured
 * (then FUSE_POSIX_LOCKS is negotiated; else ENOSYS and the guest kernel
 * keeps its locks local, which is right for a directory only one guest
 * uses).
 *
 * Host locks are open file description (OFD) locks on the handle's fd:
 * each guest open() is its own FUSE handle, so two guest processes
 * conflict as they should; threads or forked children sharing one guest
 * file share its locks (POSIX would key them by process; documented
 * difference). FUSE_LK_FLOCK requests use flock(2) on the handle's fd.
 *
 * SETLKW must never block a poller or pin a helper thread for an unbounded
 * time: it is answered with one non-blocking attempt, so a conflicting
 * lock gives EAGAIN to the guest's F_SETLKW (where a local fcntl would
 * wait). Callers that must wait retry; this is the documented limitation. */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>

#include "fs_priv.h"

#define FS_OFFSET_MAX INT64_MAX

static int
fs_lk_to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
		return -EINVAL;
	if ((int64_t)lk->start < 0 || (lk->end != (uint64_t)FS_OFFSET_MAX && lk->end < lk->start))
		return -EINVAL;
	fl->l_type = (short)lk->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)lk->start;
	if (lk->end >= (uint64_t)FS_OFFSET_MAX)
		fl->l_len = 0;
	else
		fl->l_len = (off_t)(lk->end - lk->start + 1);
	return 0;
}

static int
fs_getlk_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	const struct fuse_lk_in *in = (const void *)c->arg;
	struct fuse_lk_out o;
	struct flock fl;
	int rc;

	(void)fs;
	(void)buf;
	rc = fs_lk_to_flock(&in->lk, &fl);
	if (rc < 0)
		return rc;
	if (fcntl(c->jfd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	memset(&o, 0, sizeof(o));
	o.lk.type = (uint32_t)fl.l_type;
	if (fl.l_type != F_UNLCK) {
		o.lk.start = (uint64_t)fl.l_start;
		o.lk.end = fl.l_len == 0 ? (uint64_t)FS_OFFSET_MAX :
					   (uint64_t)(fl.l_start + fl.l_len - 1);
		o.lk.pid = 0; /* OFD locks have no owner pid */
	}
	c->body_len = (uint32_t)fs_out_write(c, FS_OUT_HDR, &o, sizeof(o));
	return 0;
}

static int
fs_setlk_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	const struct fuse_lk_in *in = (const void *)c->arg;
	struct flock fl;
	int rc, op;

	(void)fs;
	(void)buf;
	if (in->lk_flags & FUSE_LK_FLOCK) {
		switch (in->lk.type) {
		case F_RDLCK:
			op = LOCK_SH;
			break;
		case F_WRLCK:
			op = LOCK_EX;
			break;
		case F_UNLCK:
			op = LOCK_UN;
			break;
		default:
			return -EINVAL;
		}
		return flock(c->jfd, op | LOCK_NB) < 0 ? -errno : 0;
	}
	rc = fs_lk_to_flock(&in->lk, &fl);
	if (rc < 0)
		return rc;
	if (fcntl(c->jfd, F_OFD_SETLK, &fl) < 0)
		return errno == EACCES ? -EAGAIN : -errno;
	return 0;
}

static bool
fs_lock_start(struct vgw_fs *fs, struct fs_ctx *c, uint32_t out)
{
	const struct fuse_lk_in *in;
	uint32_t h;

	if (!fs->posix_locks) {
		fs->stats.enosys++;
		fs_reply_err(fs, c, -ENOSYS);
		return false;
	}
	if (!fs_out_room(fs, c, out) || (in = fs_args(fs, c, sizeof(*in))) == NULL)
		return false;
	h = fs_handle_get(fs, in->fh, false);
	if (h == 0) {
		fs_reply_err(fs, c, -EBADF);
		return false;
	}
	fs_handle_pin(fs, c, h);
	c->jfd = fs->fh_fd[h];
	return true;
}

void
fs_op_getlk(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (fs_lock_start(fs, c, sizeof(struct fuse_lk_out)))
		fs_issue_job(fs, c, fs_getlk_job, fs_reply_body);
}

/* SETLK and SETLKW (see above: SETLKW does not wait) */
void
fs_op_setlk(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (fs_lock_start(fs, c, 0))
		fs_issue_job(fs, c, fs_setlk_job, fs_reply_body);
}
