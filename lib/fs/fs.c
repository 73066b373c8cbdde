/* SPDX-License-Identifier: BSD-3-Clause */
/* Device create/destroy, request lifecycle, dispatch, INIT and DESTROY,
 * reply helpers and argument checks shared by the operation families. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "fs_priv.h"

#define FS_PROTO_MINOR 38 /* of <linux/fuse.h> on Debian 12 */
#define FS_MIN_MINOR 12	  /* the arg layouts we parse */

typedef void (*fs_op_fn)(struct vgw_fs *fs, struct fs_ctx *c);

static void fs_op_init(struct vgw_fs *fs, struct fs_ctx *c);
static void fs_op_destroy(struct vgw_fs *fs, struct fs_ctx *c);

static const fs_op_fn fs_ops[] = {
	[FUSE_LOOKUP] = fs_op_lookup,
	[FUSE_FORGET] = fs_op_forget,
	[FUSE_GETATTR] = fs_op_getattr,
	[FUSE_SETATTR] = fs_op_setattr,
	[FUSE_READLINK] = fs_op_readlink,
	[FUSE_SYMLINK] = fs_op_symlink,
	[FUSE_MKNOD] = fs_op_mknod,
	[FUSE_MKDIR] = fs_op_mkdir,
	[FUSE_UNLINK] = fs_op_unlink,
	[FUSE_RMDIR] = fs_op_rmdir,
	[FUSE_RENAME] = fs_op_rename,
	[FUSE_LINK] = fs_op_link,
	[FUSE_OPEN] = fs_op_open,
	[FUSE_READ] = fs_op_read,
	[FUSE_WRITE] = fs_op_write,
	[FUSE_STATFS] = fs_op_statfs,
	[FUSE_RELEASE] = fs_op_release,
	[FUSE_FSYNC] = fs_op_fsync,
	[FUSE_SETXATTR] = fs_op_setxattr,
	[FUSE_GETXATTR] = fs_op_getxattr,
	[FUSE_LISTXATTR] = fs_op_listxattr,
	[FUSE_REMOVEXATTR] = fs_op_removexattr,
	[FUSE_FLUSH] = fs_op_flush,
	[FUSE_INIT] = fs_op_init,
	[FUSE_OPENDIR] = fs_op_opendir,
	[FUSE_READDIR] = fs_op_readdir,
	[FUSE_RELEASEDIR] = fs_op_releasedir,
	[FUSE_FSYNCDIR] = fs_op_fsyncdir,
	[FUSE_GETLK] = fs_op_getlk,
	[FUSE_SETLK] = fs_op_setlk,
	[FUSE_SETLKW] = fs_op_setlk,
	[FUSE_ACCESS] = fs_op_access,
	[FUSE_CREATE] = fs_op_create,
	[FUSE_DESTROY] = fs_op_destroy,
	[FUSE_BATCH_FORGET] = fs_op_batch_forget,
	[FUSE_FALLOCATE] = fs_op_fallocate,
	[FUSE_READDIRPLUS] = fs_op_readdirplus,
	[FUSE_RENAME2] = fs_op_rename2,
	[FUSE_LSEEK] = fs_op_lseek,
};

/* Names of the FUSE opcodes as <linux/fuse.h> spells them (without FUSE_),
 * by opcode: the stats' per-opcode counters are reported under these. */
static const char *const fs_op_names[VGW_FS_OP_MAX] = {
	[1] = "LOOKUP",	       [2] = "FORGET",	       [3] = "GETATTR",
	[4] = "SETATTR",       [5] = "READLINK",       [6] = "SYMLINK",
	[8] = "MKNOD",	       [9] = "MKDIR",	       [10] = "UNLINK",
	[11] = "RMDIR",	       [12] = "RENAME",	       [13] = "LINK",
	[14] = "OPEN",	       [15] = "READ",	       [16] = "WRITE",
	[17] = "STATFS",       [18] = "RELEASE",       [20] = "FSYNC",
	[21] = "SETXATTR",     [22] = "GETXATTR",      [23] = "LISTXATTR",
	[24] = "REMOVEXATTR",  [25] = "FLUSH",	       [26] = "INIT",
	[27] = "OPENDIR",      [28] = "READDIR",       [29] = "RELEASEDIR",
	[30] = "FSYNCDIR",     [31] = "GETLK",	       [32] = "SETLK",
	[33] = "SETLKW",       [34] = "ACCESS",	       [35] = "CREATE",
	[36] = "INTERRUPT",    [37] = "BMAP",	       [38] = "DESTROY",
	[39] = "IOCTL",	       [40] = "POLL",	       [41] = "NOTIFY_REPLY",
	[42] = "BATCH_FORGET", [43] = "FALLOCATE",     [44] = "READDIRPLUS",
	[45] = "RENAME2",      [46] = "LSEEK",	       [47] = "COPY_FILE_RANGE",
	[48] = "SETUPMAPPING", [49] = "REMOVEMAPPING", [50] = "SYNCFS",
	[51] = "TMPFILE",
};

const char *
vgw_fs_opname(uint32_t opcode)
{
	return opcode < VGW_FS_OP_MAX ? fs_op_names[opcode] : NULL;
}

void
vgw_fs_conf_init(struct vgw_fs_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->cache = VGW_FS_CACHE_AUTO;
	c->entry_timeout = -1;
	c->attr_timeout = -1;
	c->xattr = true;
}

void
vgw_fs_fd_split(uint32_t max_fds, uint32_t max_inodes, uint32_t max_handles, uint32_t *inodes,
		uint32_t *handles)
{
	uint64_t mi = max_inodes ? max_inodes : VGW_FS_DEFAULT_MAX_INODES;
	uint64_t mh = max_handles ? max_handles : VGW_FS_DEFAULT_MAX_HANDLES;
	uint64_t i;

	if (max_fds == 0 || max_fds >= mi + mh) {
		*inodes = (uint32_t)mi;
		*handles = (uint32_t)mh;
		return;
	}
	i = (uint64_t)max_fds * mi / (mi + mh);
	if (i < 2)
		i = 2;
	if (i > mi)
		i = mi;
	*inodes = (uint32_t)i;
	*handles = max_fds > i ? max_fds - (uint32_t)i : 1;
	if (*handles > mh)
		*handles = (uint32_t)mh;
}

static void
fs_split_time(double t, uint64_t *sec, uint32_t *nsec)
{
	if (t <= 0) {
		*sec = 0;
		*nsec = 0;
		return;
	}
	if (t > 1e9)
		t = 1e9;
	*sec = (uint64_t)t;
	*nsec = (uint32_t)((t - (double)*sec) * 1e9);
}

struct vgw_fs *
vgw_fs_create(const struct vgw_fs_conf *conf)
{
	struct vgw_fs_conf c;
	struct vgw_fs *fs;
	struct statx st;
	uint32_t i, qs;
	int rc, fd;
	double et, at;

	if (conf == NULL || conf->shared_dir == NULL || conf->shared_dir[0] == '\0' ||
	    (conf->tag && strlen(conf->tag) >= VGW_FS_TAG_MAX) ||
	    conf->cache > VGW_FS_CACHE_ALWAYS) {
		errno = EINVAL;
		return NULL;
	}
	c = *conf;
	if (c.max_inodes == 0)
		c.max_inodes = VGW_FS_DEFAULT_MAX_INODES;
	if (c.max_handles == 0)
		c.max_handles = VGW_FS_DEFAULT_MAX_HANDLES;
	if (c.max_inflight == 0)
		c.max_inflight = VGW_FS_DEFAULT_MAX_INFLIGHT;
	if (c.helpers == 0)
		c.helpers = VGW_FS_DEFAULT_HELPERS;
	qs = c.queue_size ? c.queue_size : VGW_FS_DEFAULT_QUEUE_SIZE;
	if (qs < 8 || c.max_inflight > 65536 || c.helpers > 64) {
		errno = EINVAL;
		return NULL;
	}

	fs = calloc(1, sizeof(*fs));
	if (fs == NULL)
		return NULL;
	fs->memfd = -1;
	fs->proc_fd = -1;
	fs->vault[0] = -1;
	fs->vault[1] = -1;
	fs->shared_dir = strdup(c.shared_dir);
	if (c.tag)
		strcpy(fs->tag, c.tag);
	fs->cache = c.cache;
	et = c.entry_timeout >= 0 ? c.entry_timeout : 1.0;
	at = c.attr_timeout >= 0 ? c.attr_timeout : 1.0;
	if (c.cache == VGW_FS_CACHE_NONE) {
		et = c.entry_timeout > 0 ? c.entry_timeout : 0;
		at = c.attr_timeout > 0 ? c.attr_timeout : 0;
	} else if (c.cache == VGW_FS_CACHE_ALWAYS) {
		et = c.entry_timeout >= 0 ? c.entry_timeout : 86400;
		at = c.attr_timeout >= 0 ? c.attr_timeout : 86400;
	}
	fs_split_time(et, &fs->entry_sec, &fs->entry_nsec);
	fs_split_time(at, &fs->attr_sec, &fs->attr_nsec);
	fs->writeback = c.writeback;
	fs->xattr = c.xattr;
	fs->posix_locks = c.posix_locks;
	fs->max_pages = c.max_pages ? c.max_pages : VGW_FS_MAX_PAGES;
	if (fs->max_pages > VGW_FS_MAX_PAGES)
		fs->max_pages = VGW_FS_MAX_PAGES;
	if (fs->max_pages > qs - 4)
		fs->max_pages = qs - 4;
	fs->max_write = fs->max_pages * FS_PAGE;
	fs->max_inflight = c.max_inflight;
	fs->warn = c.warn;
	fs->warn_arg = c.warn_arg;
	if (fs->shared_dir == NULL)
		goto fail;

	rc = fs_tables_init(fs, c.max_inodes, c.max_handles);
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	vgw_fs_fd_split(c.max_fds, c.max_inodes, c.max_handles, &fs->ino_cap, &fs->fh_cap);
	fs->ctxs = calloc(fs->max_inflight, sizeof(*fs->ctxs));
	fs->done = calloc(fs->max_inflight + 1, sizeof(*fs->done));
	if (fs->ctxs == NULL || fs->done == NULL)
		goto fail;
	for (i = 0; i < fs->max_inflight; i++) {
		fs->ctxs[i].next = fs->ctx_free;
		fs->ctx_free = &fs->ctxs[i];
	}

	fs->own_new = geteuid() == 0;
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_fd < 0)
		goto fail;
	fd = open(fs->shared_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID,
		  &st) < 0) {
		close(fd);
		goto fail;
	}
	/* root: index 1, generation 0, nodeid 1 */
	fs->hdr->inode_bump = FS_ROOT_IDX;
	i = fs_inode_insert(fs, &st, fd, 0, "");
	fs->inodes[i].gen = 0;
	fs->inodes[i].nlookup = 1;

	if (c.iowq_cpus != NULL) {
		memcpy(&fs->iowq_cpus, c.iowq_cpus, sizeof(fs->iowq_cpus));
		fs->iowq_aff_pending = CPU_COUNT(&fs->iowq_cpus) != 0;
	}
	fs->fstat_limit_ns = c.fstat_inline_ns != 0 ? c.fstat_inline_ns : FS_FSTAT_INLINE_NS;
	rc = fs_io_init(fs, c.no_uring, c.helpers, fd, &st);
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	return fs;
fail:
	rc = errno ? errno : ENOMEM;
	vgw_fs_destroy(fs);
	errno = rc;
	return NULL;
}

void
vgw_fs_destroy(struct vgw_fs *fs)
{
	struct vgw_fs_req *done[32];

	if (fs == NULL)
		return;
	/* let the requests in flight finish: their fds must not be reused */
	while (fs->helpers && fs->inflight > 0) {
		if (vgw_fs_poll(fs, done, 32) == 0)
			usleep(100);
	}
	fs_io_fini(fs);
	fs_tables_fini(fs);
	fs_vault_close(fs);
	if (fs->proc_fd >= 0)
		close(fs->proc_fd);
	free(fs->ctxs);
	free(fs->done);
	free(fs->shared_dir);
	free(fs);
}

void
fs_warn(struct vgw_fs *fs, enum fs_warn_kind kind, const char *fmt, ...)
{
	struct timespec ts;
	uint64_t now;
	char line[256];
	va_list ap;
	int n;

	if (fs->warn == NULL)
		return;
	/* CLOCK_MONOTONIC_COARSE: the vDSO's, no system call */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec + FS_WARN_NS;
	if (fs->warn_ns[kind] != 0 && now - fs->warn_ns[kind] < FS_WARN_NS) {
		fs->warn_missed[kind]++;
		return;
	}
	fs->warn_ns[kind] = now;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(line) && fs->warn_missed[kind] != 0)
		snprintf(line + n, sizeof(line) - (size_t)n, " (and %llu more like it)",
			 (unsigned long long)fs->warn_missed[kind]);
	fs->warn_missed[kind] = 0;
	fs->warn(fs->warn_arg, line);
}

/* ---- buffers ---- */

static uint64_t
fs_iov_total(const struct iovec *iov, unsigned int cnt)
{
	uint64_t t = 0;
	unsigned int i;

	for (i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

static size_t
fs_iov_xfer(const struct iovec *iov, unsigned int cnt, uint64_t off, void *buf, size_t len,
	    bool to_iov)
{
	size_t done = 0, n;
	unsigned int i;

	for (i = 0; i < cnt && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > len - done)
			n = len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, (uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t
fs_out_write(const struct fs_ctx *c, uint64_t off, const void *src, size_t len)
{
	return fs_iov_xfer(c->req->out, c->req->out_cnt, off, (void *)(uintptr_t)src, len, true);
}

size_t
fs_in_read(const struct fs_ctx *c, uint64_t off, void *dst, size_t len)
{
	if (off >= c->in_len)
		return 0;
	if (len > c->in_len - off)
		len = c->in_len - off;
	return fs_iov_xfer(c->req->in, c->req->in_cnt, off, dst, len, false);
}

uint64_t
fs_iov_range(struct fs_ctx *c, bool is_out, uint64_t off, uint64_t len)
{
	const struct iovec *iov = is_out ? c->req->out : c->req->in;
	unsigned int cnt = is_out ? c->req->out_cnt : c->req->in_cnt;
	uint64_t done = 0, n;
	unsigned int i;

	c->iovcnt = 0;
	for (i = 0; i < cnt && done < len && c->iovcnt < FS_MAX_IOV; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > len - done)
			n = len - done;
		c->iov[c->iovcnt].iov_base = (uint8_t *)iov[i].iov_base + off;
		c->iov[c->iovcnt].iov_len = n;
		c->iovcnt++;
		done += n;
		off = 0;
	}
	return done;
}

/* ---- replies ---- */

void
fs_complete(struct vgw_fs *fs, struct fs_ctx *c, int err, uint32_t out_len)
{
	struct vgw_fs_req *req = c->req;

	if (c->fd >= 0)
		fs_close_async(fs, c->fd);
	if (c->fd2 >= 0)
		fs_close_async(fs, c->fd2);
	fs_unpin_all(fs, c);
	req->out_len = out_len;
	req->error = err;
	if (err != 0)
		fs->stats.errors++;
	req->priv = NULL;
	c->req = NULL;
	c->next = fs->ctx_free;
	fs->ctx_free = c;
	/* at most max_inflight requests are unreaped: the ring never
	 * overflows, head == tail means empty since one slot of the
	 * max_inflight + 1 stays free */
	fs->done[fs->done_tail] = req;
	if (++fs->done_tail == fs->max_inflight + 1)
		fs->done_tail = 0;
}

void
fs_reply_hdr(struct vgw_fs *fs, struct fs_ctx *c, int err, uint32_t body)
{
	struct fuse_out_header oh;

	if (c->out_cap < FS_OUT_HDR) {
		fs_complete(fs, c, err, 0);
		return;
	}
	oh.len = FS_OUT_HDR + body;
	oh.error = err;
	oh.unique = c->unique;
	fs_out_write(c, 0, &oh, sizeof(oh));
	fs_complete(fs, c, err, oh.len);
}

void
fs_reply_err(struct vgw_fs *fs, struct fs_ctx *c, int err)
{
	if (err > 0)
		err = -err;
	fs_reply_hdr(fs, c, err, 0);
}

void
fs_reply2(struct vgw_fs *fs, struct fs_ctx *c, const void *b1, uint32_t l1, const void *b2,
	  uint32_t l2)
{
	if (c->out_cap < (uint64_t)FS_OUT_HDR + l1 + l2) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	fs_out_write(c, FS_OUT_HDR, b1, l1);
	if (l2)
		fs_out_write(c, FS_OUT_HDR + l1, b2, l2);
	fs_reply_hdr(fs, c, 0, l1 + l2);
}

void
fs_reply(struct vgw_fs *fs, struct fs_ctx *c, const void *body, uint32_t len)
{
	fs_reply2(fs, c, body, len, NULL, 0);
}

void
fs_reply_body(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res < 0)
		fs_reply_err(fs, c, res);
	else
		fs_reply_hdr(fs, c, 0, c->body_len);
}

bool
fs_out_room(struct vgw_fs *fs, struct fs_ctx *c, uint32_t body)
{
	if (c->out_cap >= (uint64_t)FS_OUT_HDR + body)
		return true;
	fs_reply_err(fs, c, -EINVAL);
	return false;
}

void
fs_pname(char *dst, int fd)
{
	char tmp[16];
	int n = 0;
	unsigned int v = (unsigned int)fd;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*dst++ = tmp[--n];
	*dst = '\0';
}

/* ---- argument checks ---- */

const void *
fs_args(struct vgw_fs *fs, struct fs_ctx *c, uint32_t sz)
{
	if (c->arg_len < sz) {
		fs_reply_err(fs, c, -EINVAL);
		return NULL;
	}
	return c->arg;
}

bool
fs_need_inode(struct vgw_fs *fs, struct fs_ctx *c)
{
	uint32_t idx = fs_inode_get(fs, c->nodeid);

	if (idx == 0) {
		fs_reply_err(fs, c, -ENOENT);
		return false;
	}
	/* only a loaded session (fs_state.c) has inodes without an fd: ones
	 * this host could not find again */
	if (fs->ino_fd[idx] < 0) {
		fs_reply_err(fs, c, -ESTALE);
		return false;
	}
	c->ino = idx;
	fs_inode_pin(fs, c, idx);
	return true;
}

int
fs_check_name(const char *name, size_t len, bool allow_dots)
{
	if (len == 0 || memchr(name, '/', len) != NULL)
		return -EINVAL;
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (!allow_dots && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		return -EINVAL;
	return 0;
}

/* The name must be NUL terminated inside the request's arguments. */
int
fs_arg_name(struct fs_ctx *c, uint32_t *off, const char **name, bool allow_dots)
{
	const char *s = (const char *)c->arg + *off;
	const char *nul;
	size_t len;

	if (*off >= c->arg_len)
		return -EINVAL;
	nul = memchr(s, '\0', c->arg_len - *off);
	if (nul == NULL)
		return c->arg_len - *off > NAME_MAX ? -ENAMETOOLONG : -EINVAL;
	len = (size_t)(nul - s);
	*off += (uint32_t)len + 1;
	*name = s;
	return fs_check_name(s, len, allow_dots);
}

/* Nothing may follow the last name of a request: "a\0junk" is no name
 * "a" (virtiofsd refuses it too), and a kernel never sends one. */
int
fs_arg_end(const struct fs_ctx *c, uint32_t off)
{
	return (uint64_t)FS_IN_HDR + off == c->in_len ? 0 : -EINVAL;
}

void
fs_fill_attr(const struct vgw_fs *fs, struct fuse_attr *a, const struct statx *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->stx_ino;
	a->size = st->stx_size;
	a->blocks = st->stx_blocks;
	a->atime = (uint64_t)st->stx_atime.tv_sec;
	a->mtime = (uint64_t)st->stx_mtime.tv_sec;
	a->ctime = (uint64_t)st->stx_ctime.tv_sec;
	a->atimensec = st->stx_atime.tv_nsec;
	a->mtimensec = st->stx_mtime.tv_nsec;
	a->ctimensec = st->stx_ctime.tv_nsec;
	a->mode = st->stx_mode;
	a->nlink = st->stx_nlink;
	a->uid = st->stx_uid;
	a->gid = st->stx_gid;
	a->rdev = (uint32_t)makedev(st->stx_rdev_major, st->stx_rdev_minor);
	a->blksize = st->stx_blksize;
	(void)fs;
}

void
fs_fill_entry(const struct vgw_fs *fs, struct fuse_entry_out *e, uint64_t nodeid,
	      const struct statx *st)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	e->generation = nodeid >> 32;
	e->entry_valid = fs->entry_sec;
	e->entry_valid_nsec = fs->entry_nsec;
	e->attr_valid = fs->attr_sec;
	e->attr_valid_nsec = fs->attr_nsec;
	fs_fill_attr(fs, &e->attr, st);
}

/* ---- INIT, DESTROY ---- */

static void
fs_op_init(struct vgw_fs *fs, struct fs_ctx *c)
{
	struct fuse_init_in in;
	struct fuse_init_out out;
	uint64_t want, flags;

	/* before 7.36 the kernel sends the 16 byte fuse_init_in */
	memset(&in, 0, sizeof(in));
	if (c->arg_len < 16) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	memcpy(&in, c->arg, c->arg_len < sizeof(in) ? c->arg_len : sizeof(in));
	if (in.major != FUSE_KERNEL_VERSION || in.minor < FS_MIN_MINOR) {
		/* a newer major: answer with ours, the kernel then retries
		 * or gives up; older ones are refused */
		if (in.major > FUSE_KERNEL_VERSION && fs_out_room(fs, c, 8)) {
			memset(&out, 0, sizeof(out));
			out.major = FUSE_KERNEL_VERSION;
			out.minor = FS_PROTO_MINOR;
			fs_reply(fs, c, &out, 8);
			return;
		}
		fs_reply_err(fs, c, -EPROTO);
		return;
	}
	flags = in.flags;
	if (flags & FUSE_INIT_EXT)
		flags |= (uint64_t)in.flags2 << 32;
	want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS |
	       FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_ASYNC_DIO |
	       FUSE_INIT_EXT;
	if (fs->posix_locks)
		want |= FUSE_POSIX_LOCKS;
	if (fs->writeback)
		want |= FUSE_WRITEBACK_CACHE;
	if (fs->cache == VGW_FS_CACHE_AUTO)
		want |= FUSE_AUTO_INVAL_DATA;
	flags &= want;

	memset(&out, 0, sizeof(out));
	out.major = FUSE_KERNEL_VERSION;
	out.minor = in.minor < FS_PROTO_MINOR ? in.minor : FS_PROTO_MINOR;
	out.max_readahead = in.max_readahead;
	out.flags = (uint32_t)flags;
	out.flags2 = (uint32_t)(flags >> 32);
	out.max_background = 64;
	out.congestion_threshold = 48;
	out.max_write = fs->max_write;
	out.time_gran = 1;
	out.max_pages = (uint16_t)fs->max_pages;
	if (!fs_out_room(fs, c, sizeof(out)))
		return;
	fs->hdr->init_done = 1;
	fs->hdr->proto_minor = out.minor;
	fs->hdr->init_flags = flags;
	fs->hdr->max_write = out.max_write;
	fs->hdr->max_pages = out.max_pages;
	fs_reply(fs, c, &out, sizeof(out));
}

static void
fs_op_destroy(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_tables_reset(fs);
	fs->hdr->init_done = 0;
	fs_reply_err(fs, c, 0);
}

/* ---- submit / poll ---- */

int
vgw_fs_submit(struct vgw_fs *fs, struct vgw_fs_req *req)
{
	struct fuse_in_header ih;
	struct fs_ctx *c;
	uint64_t in_total;
	fs_op_fn fn = NULL;

	if (fs == NULL || req == NULL || (req->in == NULL && req->in_cnt) ||
	    (req->out == NULL && req->out_cnt))
		return -EINVAL;
	c = fs->ctx_free;
	if (c == NULL) {
		fs->stats.busy++;
		return -EBUSY;
	}
	fs->ctx_free = c->next;
	fs->inflight++;
	fs->stats.requests++;

	memset(c, 0, offsetof(struct fs_ctx, stx));
	c->req = req;
	c->fd = -1;
	c->fd2 = -1;
	c->redo_ns = req->redo_since_ns;
	c->note = req->redo_note;
	req->priv = c;
	req->out_len = 0;
	req->error = 0;
	req->opcode = 0;
	req->bytes_read = 0;
	req->bytes_written = 0;
	c->out_cap = fs_iov_total(req->out, req->out_cnt);
	in_total = fs_iov_total(req->in, req->in_cnt);

	if (in_total < FS_IN_HDR) {
		fs->stats.malformed++;
		fs->stats.ops[0]++;
		fs_reply_err(fs, c, -EINVAL);
		return 0;
	}
	fs_iov_xfer(req->in, req->in_cnt, 0, &ih, sizeof(ih), false);
	c->opcode = ih.opcode;
	c->unique = ih.unique;
	c->nodeid = ih.nodeid;
	c->uid = ih.uid;
	c->gid = ih.gid;
	req->opcode = ih.opcode;
	fs->stats.ops[ih.opcode < VGW_FS_OP_MAX ? ih.opcode : 0]++;
	if (ih.len < FS_IN_HDR || ih.len > in_total) {
		fs->stats.malformed++;
		fs_reply_err(fs, c, -EINVAL);
		return 0;
	}
	c->in_len = ih.len;
	c->head_len = ih.len < FS_INBUF ? ih.len : FS_INBUF;
	fs_iov_xfer(req->in, req->in_cnt, 0, c->inbuf, c->head_len, false);
	c->arg = c->inbuf + FS_IN_HDR;
	c->arg_len = c->head_len - FS_IN_HDR;

	if (ih.opcode < FS_ARRAY_LEN(fs_ops))
		fn = fs_ops[ih.opcode];
	if (fn == NULL) {
		fs->stats.enosys++;
		fs_reply_err(fs, c, -ENOSYS);
		return 0;
	}
	if (!fs->hdr->init_done && ih.opcode != FUSE_INIT) {
		fs_reply_err(fs, c, -EIO);
		return 0;
	}
	fn(fs, c);
	return 0;
}

unsigned int
vgw_fs_poll(struct vgw_fs *fs, struct vgw_fs_req **done, unsigned int max)
{
	unsigned int n = 0;

	if (fs_io_progress(fs) == 0 && fs->done_head == fs->done_tail) {
		fs_tables_grow(fs); /* an idle pass */
		fs_vault_sweep(fs, FS_SWEEP_IDLE);
	} else if (__builtin_expect(fs->vault_left != 0 || fs->vault_dead >= FS_SWEEP_BUSY_AT, 0)) {
		/* a guest that keeps the poller busy does not keep parked
		 * files from being let go */
		fs_vault_sweep(fs, FS_SWEEP_BUSY);
	}
	while (n < max && fs->done_head != fs->done_tail) {
		done[n++] = fs->done[fs->done_head];
		if (++fs->done_head == fs->max_inflight + 1)
			fs->done_head = 0;
		fs->inflight--;
	}
	return n;
}

unsigned int
vgw_fs_inflight(const struct vgw_fs *fs)
{
	return fs->inflight;
}

const struct vgw_fs_stats *
vgw_fs_stats(const struct vgw_fs *fs)
{
	return &fs->stats;
}

int
vgw_fs_table_fd(const struct vgw_fs *fs, uint64_t *size)
{
	if (size)
		*size = fs->region_size;
	return fs->memfd;
}

unsigned int
vgw_fs_inode_count(const struct vgw_fs *fs)
{
	return fs->hdr->n_inodes;
}

unsigned int
vgw_fs_handle_count(const struct vgw_fs *fs)
{
	return fs->hdr->n_handles;
}
