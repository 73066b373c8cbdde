/* SPDX-License-Identifier: BSD-3-Clause */
/* Data operations: OPEN READ WRITE FLUSH RELEASE FSYNC FALLOCATE LSEEK
 * OPENDIR READDIR READDIRPLUS RELEASEDIR FSYNCDIR.
 *
 * OPEN and OPENDIR reopen the inode's O_PATH fd through /proc/self/fd (a
 * name we build from our own fd, never from the guest). READ and WRITE go
 * straight between the file and the request's iovecs with io_uring
 * readv/writev. READDIR(PLUS) run getdents64 on a helper thread. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs_priv.h"

int
fs_open_flags(const struct vgw_fs *fs, uint32_t flags)
{
	int f = (int)flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_DIRECT |
			      O_NOATIME | O_LARGEFILE | O_EXCL);

	if ((f & O_ACCMODE) == O_ACCMODE)
		f &= ~O_ACCMODE;
	if (fs->hdr->init_flags & FUSE_WRITEBACK_CACHE) {
		/* the kernel reads pages of write-only files and sends
		 * appends as plain writes at the right offset */
		if ((f & O_ACCMODE) == O_WRONLY)
			f = (f & ~O_ACCMODE) | O_RDWR;
		f &= ~O_APPEND;
	}
	return f;
}

static uint32_t
fs_fopen_flags(const struct vgw_fs *fs)
{
	if (fs->cache == VGW_FS_CACHE_NONE)
		return FOPEN_DIRECT_IO;
	if (fs->cache == VGW_FS_CACHE_ALWAYS)
		return FOPEN_KEEP_CACHE;
	return 0;
}

/* Validate the handle fh of the request; pin it into c->fh. */
static bool
fs_need_handle(struct vgw_fs *fs, struct fs_ctx *c, uint64_t fh, bool is_dir)
{
	uint32_t idx = fs_handle_get(fs, fh, is_dir);

	if (idx == 0) {
		fs_reply_err(fs, c, -EBADF);
		return false;
	}
	/* a handle of a loaded session that could not be reopened */
	if (fs->fh_fd[idx] < 0) {
		fs_reply_err(fs, c, -ESTALE);
		return false;
	}
	c->fh = idx;
	fs_handle_pin(fs, c, idx);
	return true;
}

/* ---- OPEN OPENDIR ---- */

static void
fs_open_reply(struct vgw_fs *fs, struct fs_ctx *c, uint32_t h)
{
	struct fuse_open_out o;

	memset(&o, 0, sizeof(o));
	o.fh = fs_fh(fs, h);
	if (c->opcode == FUSE_OPEN)
		o.open_flags = fs_fopen_flags(fs);
	else if (fs->cache == VGW_FS_CACHE_ALWAYS)
		o.open_flags = FOPEN_CACHE_DIR;
	fs_reply(fs, c, &o, sizeof(o));
}

static void
fs_opened(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	uint32_t h;

	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	h = fs_handle_available(fs) ?
		    fs_handle_alloc(fs, c->ino, res, (int)c->flags, c->opcode == FUSE_OPENDIR) :
		    0;
	if (h == 0) {
		fs_close_async(fs, res);
		fs_reply_err(fs, c, -ENFILE);
		return;
	}
	if (c->note != NULL)
		*c->note = fs_fh(fs, h);
	fs_open_reply(fs, c, h);
}

static void
fs_open_common(struct vgw_fs *fs, struct fs_ctx *c, bool dir)
{
	const struct fuse_open_in *in;
	uint32_t mode, h;
	int flags;

	if (!fs_out_room(fs, c, sizeof(struct fuse_open_out)) ||
	    (in = fs_args(fs, c, sizeof(*in))) == NULL || !fs_need_inode(fs, c))
		return;
	mode = fs_ino(fs, c->ino)->mode;
	if (dir && !S_ISDIR(mode)) {
		fs_reply_err(fs, c, -ENOTDIR);
		return;
	}
	if (!dir && !S_ISREG(mode)) {
		/* devices, FIFOs and sockets are handled by the guest
		 * kernel; symlinks are never opened */
		fs_reply_err(fs, c, S_ISDIR(mode) ? -EISDIR : -EPERM);
		return;
	}
	/* taken again after a crash: the first try's handle is the answer
	 * (its open, O_TRUNC included, is not done a second time) */
	h = fs_redo_handle(fs, c, dir);
	if (h != 0 && fs->handles[h].inode == c->ino) {
		fs_open_reply(fs, c, h);
		return;
	}
	if (!fs_handle_available(fs)) {
		fs_reply_err(fs, c, -ENFILE);
		return;
	}
	if (dir)
		flags = O_RDONLY | O_DIRECTORY;
	else
		flags = fs_open_flags(fs, in->flags) & ~O_EXCL;
	c->flags = (uint32_t)flags;
	fs_pname(c->pname, fs->ino_fd[c->ino]);
	fs_aop_openat2(&c->aop, fs->proc_fd, c->pname, flags, 0, 0);
	fs_issue(fs, c, fs_opened);
}

void
fs_op_open(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_open_common(fs, c, false);
}

void
fs_op_opendir(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_open_common(fs, c, true);
}

/* ---- READ WRITE ---- */

static void
fs_read_done(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res >= 0) {
		fs->stats.bytes_read += (uint64_t)res;
		c->req->bytes_read = (uint32_t)res;
		c->body_len = (uint32_t)res;
	}
	fs_reply_body(fs, c, res);
}

void
fs_op_read(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_read_in *in;
	uint64_t len;

	if (!fs_out_room(fs, c, 0) || (in = fs_args(fs, c, sizeof(*in))) == NULL ||
	    !fs_need_handle(fs, c, in->fh, false))
		return;
	if ((int64_t)in->offset < 0) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	len = in->size;
	if (len > c->out_cap - FS_OUT_HDR)
		len = c->out_cap - FS_OUT_HDR; /* a short read */
	fs_iov_range(c, true, FS_OUT_HDR, len);
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_READV;
	c->aop.fd = fs->fh_fd[c->fh];
	c->aop.iov = c->iov;
	c->aop.iovcnt = c->iovcnt;
	c->aop.off = in->offset;
	fs_issue(fs, c, fs_read_done);
}

static void
fs_write_done(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	struct fuse_write_out o;

	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	fs->stats.bytes_written += (uint64_t)res;
	c->req->bytes_written = (uint32_t)res;
	memset(&o, 0, sizeof(o));
	o.size = (uint32_t)res;
	fs_reply(fs, c, &o, sizeof(o));
}

static void
fs_write_issue(struct vgw_fs *fs, struct fs_ctx *c)
{
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_WRITEV;
	c->aop.fd = fs->fh_fd[c->fh];
	c->aop.iov = c->iov;
	c->aop.iovcnt = c->iovcnt;
	c->aop.off = c->u64;
	fs_issue(fs, c, fs_write_done);
}

/* ---- an append that may be redone: a write through an O_APPEND handle
 * does not say where it went, so with a redo note (the keeper's region)
 * the file's size is noted before it. Taken again after a crash, it was
 * done when the file holds its data at the noted size: answered without
 * writing it twice. ---- */

/* 1: the file holds the request's data at c->before; 0: it does not. The
 * handle may be write-only: read through a read-only reopen of it. */
static int
fs_append_done_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	uint64_t off = c->before;
	char pname[16];
	int rfd, same = 1;

	fs_pname(pname, c->jfd);
	rfd = openat(fs->proc_fd, pname, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return 0;
	for (unsigned int i = 0; i < c->iovcnt && same; i++) {
		const uint8_t *p = c->iov[i].iov_base;
		size_t left = c->iov[i].iov_len;

		while (left != 0 && same) {
			size_t n = left < FS_HELPER_BUF ? left : FS_HELPER_BUF;
			ssize_t got = pread(rfd, buf, n, (off_t)off);

			same = got == (ssize_t)n && memcmp(buf, p, n) == 0;
			p += n;
			left -= n;
			off += n;
		}
	}
	close(rfd);
	return same;
}

static void
fs_append_checked(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res == 1) {
		fs_write_done(fs, c, (int)c->count);
		return;
	}
	*c->note = c->stx.stx_size + 1;
	fs_write_issue(fs, c);
}

static void
fs_append_statted(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	if (c->redo_ns != 0 && c->before != 0 &&
	    c->stx.stx_size >= c->before - 1 + (uint64_t)c->count) {
		c->before--;
		c->jfd = fs->fh_fd[c->fh];
		fs_issue_job(fs, c, fs_append_done_job, fs_append_checked);
		return;
	}
	fs_append_checked(fs, c, 0);
}

void
fs_op_write(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_write_in *in;
	uint64_t data_off = FS_IN_HDR + sizeof(*in);

	if (!fs_out_room(fs, c, sizeof(struct fuse_write_out)) ||
	    (in = fs_args(fs, c, sizeof(*in))) == NULL || !fs_need_handle(fs, c, in->fh, false))
		return;
	/* the data must be in the request */
	if ((uint64_t)in->size > c->in_len - data_off || (int64_t)in->offset < 0) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	fs_iov_range(c, false, data_off, in->size);
	c->u64 = in->offset;
	c->count = in->size;
	if (c->note != NULL && (fs->handles[c->fh].flags & O_APPEND) && in->size != 0) {
		c->before = *c->note; /* the first try's, on a redo */
		fs_aop_statx(&c->aop, fs->fh_fd[c->fh], "", AT_EMPTY_PATH, &c->stx);
		fs_issue(fs, c, fs_append_statted);
		return;
	}
	fs_write_issue(fs, c);
}

/* ---- FLUSH RELEASE RELEASEDIR ---- */

/* FLUSH (sent at every close() of a guest fd) has nothing to do here: a
 * WRITE has reached the host file when it is answered, and locks are OFD
 * locks on the handle's fd, dropped at RELEASE. ENOSYS says so to the
 * guest kernel, which then stops sending FLUSH for the session (its
 * close() still writes back the guest's own dirty pages and reports their
 * errors): one round trip fewer per close(), whatever the handle. */
void
fs_op_flush(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs->stats.enosys++;
	fs_reply_err(fs, c, -ENOSYS);
}

static void
fs_release_common(struct vgw_fs *fs, struct fs_ctx *c, bool dir)
{
	const struct fuse_release_in *in = fs_args(fs, c, sizeof(*in));
	uint32_t idx;

	if (in == NULL)
		return;
	idx = fs_handle_get(fs, in->fh, dir);
	if (idx == 0) {
		fs_reply_err(fs, c, -EBADF);
		return;
	}
	fs_handle_release(fs, idx);
	fs_reply_err(fs, c, 0);
}

void
fs_op_release(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_release_common(fs, c, false);
}

void
fs_op_releasedir(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_release_common(fs, c, true);
}

/* ---- FSYNC FSYNCDIR FALLOCATE LSEEK ---- */

static void
fs_done_empty(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	fs_reply_err(fs, c, res < 0 ? res : 0);
}

static void
fs_fsync_common(struct vgw_fs *fs, struct fs_ctx *c, bool dir)
{
	const struct fuse_fsync_in *in = fs_args(fs, c, sizeof(*in));

	if (in == NULL || !fs_need_handle(fs, c, in->fh, dir))
		return;
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_FSYNC;
	c->aop.fd = fs->fh_fd[c->fh];
	c->aop.flags = (in->fsync_flags & FUSE_FSYNC_FDATASYNC) ? 1 : 0;
	fs_issue(fs, c, fs_done_empty);
}

void
fs_op_fsync(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_fsync_common(fs, c, false);
}

void
fs_op_fsyncdir(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_fsync_common(fs, c, true);
}

void
fs_op_fallocate(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_fallocate_in *in = fs_args(fs, c, sizeof(*in));

	if (in == NULL || !fs_need_handle(fs, c, in->fh, false))
		return;
	if ((int64_t)in->offset < 0 || (int64_t)in->length <= 0) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_FALLOCATE;
	c->aop.fd = fs->fh_fd[c->fh];
	c->aop.mode = in->mode;
	c->aop.off = in->offset;
	c->aop.len = in->length;
	fs_issue(fs, c, fs_done_empty);
}

static int
fs_lseek_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	struct fuse_lseek_out o;
	off_t r = lseek(c->jfd, (off_t)c->u64, (int)c->flags);

	(void)fs;
	(void)buf;
	if (r < 0)
		return -errno;
	memset(&o, 0, sizeof(o));
	o.offset = (uint64_t)r;
	c->body_len = (uint32_t)fs_out_write(c, FS_OUT_HDR, &o, sizeof(o));
	return 0;
}

void
fs_op_lseek(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_lseek_in *in;

	if (!fs_out_room(fs, c, sizeof(struct fuse_lseek_out)) ||
	    (in = fs_args(fs, c, sizeof(*in))) == NULL || !fs_need_handle(fs, c, in->fh, false))
		return;
	if (in->whence != SEEK_SET && in->whence != SEEK_CUR && in->whence != SEEK_END &&
	    in->whence != SEEK_DATA && in->whence != SEEK_HOLE) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	c->jfd = fs->fh_fd[c->fh];
	c->u64 = in->offset;
	c->flags = in->whence;
	fs_issue_job(fs, c, fs_lseek_job, fs_reply_body);
}

/* ---- READDIR READDIRPLUS ---- */

#define FS_DBUF (FS_HELPER_BUF / 2)

/* The length of an entry's name, or 0 when it is longer than NAME_MAX:
 * never in a reply (the guest's kernel could not look it up) nor in a
 * record (READDIRPLUS builds each entry in a buffer of NAME_MAX). */
static size_t
fs_dirent_namelen(const struct fs_dirent64 *d, const uint8_t *end)
{
	size_t room = (size_t)(end - (const uint8_t *)d->d_name);
	size_t nl = strnlen(d->d_name, room < NAME_MAX + 1 ? room : NAME_MAX + 1);

	return nl > NAME_MAX ? 0 : nl;
}

void
fs_readdir_fill(struct fs_dfill *f, const uint8_t *dbuf, long n, uint8_t *obuf)
{
	for (long p = 0; p < n;) {
		const struct fs_dirent64 *d = (const struct fs_dirent64 *)(dbuf + p);
		size_t nl = fs_dirent_namelen(d, dbuf + p + d->d_reclen);
		struct fuse_dirent *fd = (struct fuse_dirent *)(obuf + f->olen);
		size_t rl = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nl);

		if (nl == 0) {
			f->skipped++;
			p += d->d_reclen;
			continue;
		}
		if (f->olen + rl > f->want) {
			f->full = true;
			return;
		}
		fd->ino = d->d_ino;
		fd->off = (uint64_t)d->d_off;
		fd->namelen = (uint32_t)nl;
		fd->type = d->d_type;
		memcpy(fd->name, d->d_name, nl);
		memset(fd->name + nl, 0, rl - FUSE_NAME_OFFSET - nl);
		f->olen += rl;
		f->nrec++;
		p += d->d_reclen;
	}
}

static int
fs_readdir_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	uint8_t *dbuf = buf, *obuf = buf + FS_DBUF;
	struct fs_dfill f = { .want = c->count };
	long n;

	(void)fs;
	if (f.want > c->out_cap - FS_OUT_HDR)
		f.want = c->out_cap - FS_OUT_HDR;
	if (f.want > FS_DBUF)
		f.want = FS_DBUF;
	if (lseek(c->jfd, (off_t)c->u64, SEEK_SET) < 0)
		return -errno;
	while (!f.full) {
		n = syscall(SYS_getdents64, c->jfd, dbuf, f.want < 512 ? 512 : f.want);
		if (n < 0) {
			if (f.olen)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		fs_readdir_fill(&f, dbuf, n, obuf);
	}
	c->skipped = f.skipped;
	c->body_len = (uint32_t)fs_out_write(c, FS_OUT_HDR, obuf, f.olen);
	return 0;
}

void
fs_readdirplus_fill(const struct vgw_fs *fs, struct fs_ctx *c, struct fs_dfill *f,
		    const uint8_t *dbuf, long n)
{
	struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = FS_RESOLVE };
	struct statx st;

	for (long p = 0; p < n;) {
		const struct fs_dirent64 *d = (const struct fs_dirent64 *)(dbuf + p);
		size_t nl = fs_dirent_namelen(d, dbuf + p + d->d_reclen);
		size_t ol = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + nl);
		uint32_t rl = fs_rec_size((uint32_t)nl);
		struct fs_dplus_rec *r = (struct fs_dplus_rec *)(c->scratch + f->slen);
		bool dots = strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0;
		long fd = -1;

		if (nl == 0) {
			f->skipped++;
			p += d->d_reclen;
			continue;
		}
		if (f->olen + ol > f->want || f->slen + rl > FS_SCRATCH) {
			f->full = true;
			return;
		}
		p += d->d_reclen;
		memset(r, 0, sizeof(*r));
		if (!dots) {
			fd = syscall(SYS_openat2, c->jfd, d->d_name, &how, sizeof(how));
			if (fd < 0)
				continue; /* gone meanwhile */
			if (statx((int)fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
				  STATX_BASIC_STATS | STATX_MNT_ID, &st) < 0) {
				close((int)fd);
				continue;
			}
			fs_fill_attr(fs, &r->attr, &st);
			r->dev = makedev(st.stx_dev_major, st.stx_dev_minor);
			r->mnt = st.stx_mnt_id;
		} else {
			r->attr.ino = d->d_ino;
			r->attr.mode = (uint32_t)DTTOIF(d->d_type);
		}
		r->fd = (int32_t)fd;
		r->namelen = (uint16_t)nl;
		r->type = d->d_type;
		r->off = (uint64_t)d->d_off;
		memcpy(r->name, d->d_name, nl);
		r->name[nl] = '\0';
		f->slen += rl;
		f->olen += ol;
		f->nrec++;
	}
}

static int
fs_readdirplus_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	struct fs_dfill f = { .want = c->count };
	long n;

	if (f.want > c->out_cap - FS_OUT_HDR)
		f.want = c->out_cap - FS_OUT_HDR;
	if (lseek(c->jfd, (off_t)c->u64, SEEK_SET) < 0)
		return -errno;
	while (!f.full) {
		n = syscall(SYS_getdents64, c->jfd, buf, FS_DBUF);
		if (n < 0) {
			if (f.nrec)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		fs_readdirplus_fill(fs, c, &f, buf, n);
	}
	c->count = f.nrec;
	c->skipped = f.skipped;
	return 0;
}

/* Entries left out of a READDIR(PLUS): counted, and told once per open of
 * the directory (and FS_WARN_NS apart at most). */
static void
fs_readdir_skipped(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (c->skipped == 0)
		return;
	fs->stats.long_names += c->skipped;
	if (fs->fh_warned[c->fh])
		return;
	fs->fh_warned[c->fh] = 1;
	fs_warn(fs, FS_WARN_LONG_NAME,
		"a directory holds %u name(s) longer than %d bytes: left out of its listing",
		c->skipped, NAME_MAX);
}

static void
fs_readdir_done(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res >= 0)
		fs_readdir_skipped(fs, c);
	fs_reply_body(fs, c, res);
}

static void
fs_readdirplus_done(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	uint8_t ent[FUSE_DIRENT_ALIGN(sizeof(struct fuse_direntplus) + NAME_MAX + 1)];
	struct fuse_direntplus *dp = (struct fuse_direntplus *)ent;
	uint64_t slen = 0, olen = 0;
	uint32_t i;

	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	fs_readdir_skipped(fs, c);
	for (i = 0; i < c->count; i++) {
		struct fs_dplus_rec *r = (struct fs_dplus_rec *)(c->scratch + slen);
		size_t ol = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + r->namelen);

		memset(ent, 0, ol);
		if (r->fd >= 0) {
			/* on a full table the entry goes out without attributes
			 * (nodeid 0: the kernel then looks it up itself) */
			if (fs_entry_take_attr(fs, r->fd, r->dev, r->mnt, &r->attr, c->ino, r->name,
					       &dp->entry_out, NULL) < 0)
				memset(&dp->entry_out, 0, sizeof(dp->entry_out));
		}
		dp->dirent.ino = r->attr.ino;
		dp->dirent.off = r->off;
		dp->dirent.namelen = r->namelen;
		dp->dirent.type = r->type;
		memcpy(dp->dirent.name, r->name, r->namelen);
		fs_out_write(c, FS_OUT_HDR + olen, ent, ol);
		olen += ol;
		slen += fs_rec_size(r->namelen);
	}
	c->body_len = (uint32_t)olen;
	fs_reply_body(fs, c, 0);
}

static void
fs_readdir_common(struct vgw_fs *fs, struct fs_ctx *c, bool plus)
{
	const struct fuse_read_in *in;
	uint32_t ino;

	if (!fs_out_room(fs, c, 0) || (in = fs_args(fs, c, sizeof(*in))) == NULL ||
	    !fs_need_handle(fs, c, in->fh, true))
		return;
	c->jfd = fs->fh_fd[c->fh];
	c->u64 = in->offset;
	c->count = in->size;
	if (!plus) {
		fs_issue_job(fs, c, fs_readdir_job, fs_readdir_done);
		return;
	}
	/* the entries' parent, for the table's reopen hint; pinned */
	ino = fs->handles[c->fh].inode;
	if (fs->inodes[ino].state != FS_ENT_USED ||
	    fs->inodes[ino].gen != fs->handles[c->fh].inode_gen)
		ino = 0;
	c->ino = ino;
	if (ino)
		fs_inode_pin(fs, c, ino);
	fs_issue_job(fs, c, fs_readdirplus_job, fs_readdirplus_done);
}

void
fs_op_readdir(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_readdir_common(fs, c, false);
}

void
fs_op_readdirplus(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_readdir_common(fs, c, true);
}
