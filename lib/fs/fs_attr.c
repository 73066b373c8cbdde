/* SPDX-License-Identifier: BSD-3-Clause */
/* Attribute operations: GETATTR SETATTR STATFS ACCESS GETXATTR SETXATTR
 * LISTXATTR REMOVEXATTR.
 *
 * GETATTR is a statx in io_uring on the inode's O_PATH fd. The others run
 * on a helper thread (no io_uring op in 6.1): chmod/utimes/access/xattrs
 * go through /proc/self/fd/<our fd> (the inode itself, never a guest
 * path), chown through the O_PATH fd with AT_EMPTY_PATH.
 *
 * xattr policy: every namespace can be read; only "user." can be set or
 * removed (EPERM otherwise), so a guest cannot plant security.capability,
 * trusted.* or ACLs that the host would honour. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <linux/limits.h>

#include "fs_priv.h"

static void
fs_attr_reply(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	struct fuse_attr_out o;

	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.attr_valid = fs->attr_sec;
	o.attr_valid_nsec = fs->attr_nsec;
	fs_fill_attr(fs, &o.attr, &c->stx);
	fs_reply(fs, c, &o, sizeof(o));
}

void
fs_op_getattr(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (!fs_out_room(fs, c, sizeof(struct fuse_attr_out)) || !fs_need_inode(fs, c))
		return;
	fs_aop_statx(&c->aop, fs->ino_fd[c->ino], "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, &c->stx);
	fs_issue(fs, c, fs_attr_reply);
}

/* ---- SETATTR ---- */

static int
fs_setattr_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	const struct fuse_setattr_in *in = (const void *)c->arg;
	uint32_t v = in->valid;
	struct timespec ts[2];
	int tfd;

	(void)buf;
	if ((v & FATTR_MODE) && fchmodat(fs->proc_fd, c->pname, in->mode & 07777, 0) < 0)
		return -errno;
	if ((v & (FATTR_UID | FATTR_GID)) &&
	    fchownat(c->jfd, "", (v & FATTR_UID) ? in->uid : (uid_t)-1,
		     (v & FATTR_GID) ? in->gid : (gid_t)-1,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (v & FATTR_SIZE) {
		if (c->jfd2 >= 0) {
			if (ftruncate(c->jfd2, (off_t)in->size) < 0)
				return -errno;
		} else {
			tfd = openat(fs->proc_fd, c->pname, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
			if (tfd < 0)
				return -errno;
			if (ftruncate(tfd, (off_t)in->size) < 0) {
				int e = errno;

				close(tfd);
				return -e;
			}
			close(tfd);
		}
	}
	if (v & (FATTR_ATIME | FATTR_MTIME)) {
		ts[0].tv_sec = (time_t)in->atime;
		ts[0].tv_nsec = in->atimensec;
		ts[1].tv_sec = (time_t)in->mtime;
		ts[1].tv_nsec = in->mtimensec;
		if (!(v & FATTR_ATIME))
			ts[0].tv_nsec = UTIME_OMIT;
		else if (v & FATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		if (!(v & FATTR_MTIME))
			ts[1].tv_nsec = UTIME_OMIT;
		else if (v & FATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		if (utimensat(fs->proc_fd, c->pname, ts, 0) < 0)
			return -errno;
	}
	if (statx(c->jfd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID,
		  &c->stx) < 0)
		return -errno;
	return 0;
}

void
fs_op_setattr(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_setattr_in *in;
	uint32_t h;

	if (!fs_out_room(fs, c, sizeof(struct fuse_attr_out)) ||
	    (in = fs_args(fs, c, sizeof(*in))) == NULL || !fs_need_inode(fs, c))
		return;
	if ((in->valid & FATTR_SIZE) && !S_ISREG(fs_ino(fs, c->ino)->mode)) {
		fs_reply_err(fs, c, S_ISDIR(fs_ino(fs, c->ino)->mode) ? -EISDIR : -EINVAL);
		return;
	}
	if ((in->valid & FATTR_SIZE) && (int64_t)in->size < 0) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	c->jfd = fs->ino_fd[c->ino];
	c->jfd2 = -1;
	if (in->valid & FATTR_FH) {
		h = fs_handle_get(fs, in->fh, false);
		if (h == 0) {
			fs_reply_err(fs, c, -EBADF);
			return;
		}
		fs_handle_pin(fs, c, h);
		c->jfd2 = fs->fh_fd[h];
	}
	fs_pname(c->pname, c->jfd);
	fs_issue_job(fs, c, fs_setattr_job, fs_attr_reply);
}

/* ---- STATFS ACCESS ---- */

static int
fs_statfs_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	struct fuse_statfs_out o;
	struct statfs s;

	(void)fs;
	(void)buf;
	if (fstatfs(c->jfd, &s) < 0)
		return -errno;
	memset(&o, 0, sizeof(o));
	o.st.blocks = s.f_blocks;
	o.st.bfree = s.f_bfree;
	o.st.bavail = s.f_bavail;
	o.st.files = s.f_files;
	o.st.ffree = s.f_ffree;
	o.st.bsize = (uint32_t)s.f_bsize;
	o.st.namelen = (uint32_t)s.f_namelen;
	o.st.frsize = (uint32_t)s.f_frsize;
	c->body_len = (uint32_t)fs_out_write(c, FS_OUT_HDR, &o, sizeof(o));
	return 0;
}

void
fs_op_statfs(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (!fs_out_room(fs, c, sizeof(struct fuse_statfs_out)) || !fs_need_inode(fs, c))
		return;
	c->jfd = fs->ino_fd[c->ino];
	fs_issue_job(fs, c, fs_statfs_job, fs_reply_body);
}

static int
fs_access_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	(void)buf;
	if (faccessat(fs->proc_fd, c->pname, (int)c->flags, 0) < 0)
		return -errno;
	return 0;
}

void
fs_op_access(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_access_in *in;

	if ((in = fs_args(fs, c, sizeof(*in))) == NULL || !fs_need_inode(fs, c))
		return;
	if (in->mask & ~(uint32_t)(R_OK | W_OK | X_OK)) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	c->flags = in->mask;
	fs_pname(c->pname, fs->ino_fd[c->ino]);
	fs_issue_job(fs, c, fs_access_job, fs_reply_body);
}

/* ---- xattrs ---- */

static void
fs_proc_path(char *dst, size_t n, const struct fs_ctx *c)
{
	snprintf(dst, n, "/proc/self/fd/%s", c->pname);
}

/* The length of the value (GETXATTR) or of the name list (LISTXATTR),
 * or -errno. */
static ssize_t
fs_xattr_len(const struct fs_ctx *c, const char *path)
{
	ssize_t n = c->opcode == FUSE_GETXATTR ? getxattr(path, c->name, NULL, 0) :
						 listxattr(path, NULL, 0);

	return n < 0 ? -errno : n;
}

/* GETXATTR and LISTXATTR: size 0 asks for the length. */
static int
fs_getxattr_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	char path[40];
	size_t room = c->out_cap - FS_OUT_HDR;
	size_t want = c->count;
	ssize_t n;

	(void)fs;
	fs_proc_path(path, sizeof(path), c);
	if (want > XATTR_SIZE_MAX)
		want = XATTR_SIZE_MAX;
	if (want > room)
		want = room;
	if (c->count == 0) {
		struct fuse_getxattr_out o;

		n = fs_xattr_len(c, path);
		if (n < 0)
			return (int)n;
		memset(&o, 0, sizeof(o));
		o.size = (uint32_t)n;
		c->body_len = (uint32_t)fs_out_write(c, FS_OUT_HDR, &o, sizeof(o));
		return 0;
	}
	/* the value asked for and no room for it: a buffer of 0 bytes would
	 * be a size query, answered as an empty value */
	if (want == 0) {
		n = fs_xattr_len(c, path);
		if (n < 0)
			return (int)n;
		return n > 0 ? -ERANGE : 0;
	}
	if (c->opcode == FUSE_GETXATTR)
		n = getxattr(path, c->name, buf, want);
	else
		n = listxattr(path, (char *)buf, want);
	if (n < 0)
		return -errno;
	c->body_len = (uint32_t)fs_out_write(c, FS_OUT_HDR, buf, (size_t)n);
	return 0;
}

static bool
fs_xattr_on(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (fs->xattr)
		return true;
	fs->stats.enosys++;
	fs_reply_err(fs, c, -ENOSYS);
	return false;
}

static int
fs_xattr_name(struct fs_ctx *c, uint32_t *off)
{
	const char *s = (const char *)c->arg + *off;
	const char *nul;

	if (*off >= c->arg_len)
		return -EINVAL;
	nul = memchr(s, '\0', c->arg_len - *off);
	if (nul == NULL)
		return -ERANGE;
	if (nul == s)
		return -EINVAL;
	if (nul - s > XATTR_NAME_MAX)
		return -ERANGE;
	c->name = s;
	*off += (uint32_t)(nul - s) + 1;
	return 0;
}

static void
fs_getxattr_common(struct vgw_fs *fs, struct fs_ctx *c, bool list)
{
	const struct fuse_getxattr_in *in;
	uint32_t off = sizeof(*in);
	int rc;

	if (!fs_xattr_on(fs, c) || (in = fs_args(fs, c, sizeof(*in))) == NULL ||
	    !fs_out_room(fs, c, in->size ? 0 : sizeof(struct fuse_getxattr_out)) ||
	    !fs_need_inode(fs, c))
		return;
	if (!list) {
		rc = fs_xattr_name(c, &off);
		if (rc == 0)
			rc = fs_arg_end(c, off);
		if (rc < 0) {
			fs_reply_err(fs, c, rc);
			return;
		}
	}
	c->count = in->size;
	fs_pname(c->pname, fs->ino_fd[c->ino]);
	fs_issue_job(fs, c, fs_getxattr_job, fs_reply_body);
}

void
fs_op_getxattr(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_getxattr_common(fs, c, false);
}

void
fs_op_listxattr(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_getxattr_common(fs, c, true);
}

static int
fs_setxattr_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	char path[40];

	(void)fs;
	fs_proc_path(path, sizeof(path), c);
	if (c->opcode == FUSE_REMOVEXATTR)
		return removexattr(path, c->name) < 0 ? -errno : 0;
	/* the value is read from the request here, once */
	if (fs_in_read(c, c->u64, buf, c->count) != c->count)
		return -EINVAL;
	return setxattr(path, c->name, buf, c->count, (int)c->flags) < 0 ? -errno : 0;
}

static bool
fs_xattr_settable(const char *name)
{
	return strncmp(name, "user.", 5) == 0 && name[5] != '\0';
}

void
fs_op_setxattr(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_setxattr_in *in;
	uint32_t off = FUSE_COMPAT_SETXATTR_IN_SIZE; /* no FUSE_SETXATTR_EXT */
	int rc;

	if (!fs_xattr_on(fs, c) || (in = fs_args(fs, c, FUSE_COMPAT_SETXATTR_IN_SIZE)) == NULL ||
	    !fs_need_inode(fs, c))
		return;
	rc = fs_xattr_name(c, &off);
	if (rc == 0 &&
	    (in->size > XATTR_SIZE_MAX || (uint64_t)FS_IN_HDR + off + in->size != c->in_len))
		rc = in->size > XATTR_SIZE_MAX ? -E2BIG : -EINVAL;
	if (rc == 0 && (in->flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE)))
		rc = -EINVAL;
	if (rc == 0 && !fs_xattr_settable(c->name))
		rc = -EPERM;
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	c->u64 = FS_IN_HDR + off;
	c->count = in->size;
	c->flags = in->flags;
	fs_pname(c->pname, fs->ino_fd[c->ino]);
	fs_issue_job(fs, c, fs_setxattr_job, fs_reply_body);
}

void
fs_op_removexattr(struct vgw_fs *fs, struct fs_ctx *c)
{
	uint32_t off = 0;
	int rc;

	if (!fs_xattr_on(fs, c) || !fs_need_inode(fs, c))
		return;
	rc = fs_xattr_name(c, &off);
	if (rc == 0)
		rc = fs_arg_end(c, off);
	if (rc == 0 && !fs_xattr_settable(c->name))
		rc = -EPERM;
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	fs_pname(c->pname, fs->ino_fd[c->ino]);
	fs_issue_job(fs, c, fs_setxattr_job, fs_reply_body);
}
