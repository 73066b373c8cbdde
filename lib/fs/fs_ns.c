/* SPDX-License-Identifier: BSD-3-Clause */
/* Namespace operations: LOOKUP FORGET BATCH_FORGET MKDIR MKNOD SYMLINK LINK
 * UNLINK RMDIR RENAME RENAME2 READLINK CREATE.
 *
 * Every guest name is one checked path component, used relative to the
 * O_PATH fd of its parent: openat2() with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS (a trailing symlink is opened as itself with
 * O_PATH | O_NOFOLLOW), or an *at() call that does not follow a trailing
 * symlink (mkdirat, mknodat, symlinkat, unlinkat, renameat2). LINK names
 * its source through our own O_PATH fd under /proc/self/fd, never through
 * a guest path. "." and ".." are refused (EINVAL) everywhere except LOOKUP,
 * where "." is the directory itself and ".." of the root is the root;
 * ".." elsewhere is refused too (we do not negotiate FUSE_EXPORT_SUPPORT,
 * the only reason a kernel sends it). Nothing may follow a request's last
 * name (fs_arg_end): EINVAL. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_priv.h"

#define FS_ENTRY_SZ ((uint32_t)sizeof(struct fuse_entry_out))

/* ---- a request taken again after a crash ----
 * It may have been done already, between the host operation and the record
 * of its reply (doc/keeper.rst). An entry it finds in its way (EEXIST) is
 * its own when it was born (or, where the file system keeps no birth time,
 * last changed) since the request was first started; a hard link's when it
 * is the source's inode, changed (linked) since then. */
static bool
fs_redo_own(const struct fs_ctx *c)
{
	const struct statx_timestamp *t =
		(c->stx.stx_mask & STATX_BTIME) ? &c->stx.stx_btime : &c->stx.stx_ctime;

	if (c->opcode == FUSE_LINK) {
		if (c->stx.stx_ino != c->u64)
			return false;
		t = &c->stx.stx_ctime;
	}
	return (uint64_t)t->tv_sec * 1000000000u + t->tv_nsec >= c->redo_ns;
}

/* ---- the lookup chain: openat2(O_PATH) -> statx -> table ---- */

static void
fs_lookup_statted(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	struct fuse_entry_out e;
	int fd = c->fd;
	int rc;

	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	if (c->redo_check &&
	    (!fs_redo_own(c) || (c->flags & S_IFMT) != (c->stx.stx_mode & S_IFMT))) {
		fs_reply_err(fs, c, -EEXIST); /* not ours: the first try's answer */
		return;
	}
	c->fd = -1;
	rc = fs_entry_take(fs, fd, &c->stx, c->ino2, c->name, &e, c->note);
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	fs_reply(fs, c, &e, FS_ENTRY_SZ);
}

/* An O_PATH open finished: keep the fd in c->fd and statx it, then next. */
static void
fs_statx_opened(struct vgw_fs *fs, struct fs_ctx *c, int res, fs_step_fn next)
{
	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	c->fd = res;
	fs_aop_statx(&c->aop, c->fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, &c->stx);
	fs_issue(fs, c, next);
}

static void
fs_lookup_opened(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	fs_statx_opened(fs, c, res, fs_lookup_statted);
}

void
fs_lookup_start(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_aop_openat2(&c->aop, fs->ino_fd[c->ino2], c->name, O_PATH | O_NOFOLLOW, 0, FS_RESOLVE);
	fs_issue(fs, c, fs_lookup_opened);
}

/* New entries belong to the guest process that made them, as on a local
 * file system: when we run as root, a file made as root for a guest user
 * would be one that user cannot change. Only when the owner differs from
 * ours: the common case (guest root, or an unprivileged gateway) costs
 * nothing. */
static bool
fs_owner_differs(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (!fs->own_new || (c->uid == 0 && c->gid == 0))
		return false;
	/* a set-group-ID directory gives its group, as it did already */
	if (fs_ino(fs, c->ino2)->mode & S_ISGID)
		c->gid = (uint32_t)-1;
	return true;
}

/* c->flags: the new entry's S_IFMT (and O_EXCL for CREATE). If it cannot
 * be given away, it is removed again, rather than left behind as ours
 * (CREATE without O_EXCL may have opened an existing file: left alone). */
static int
fs_chown_new_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	int rc;

	(void)fs;
	(void)buf;
	if (c->jfd2 >= 0)
		rc = fchown(c->jfd2, c->uid, c->gid);
	else
		rc = fchownat(c->jfd, c->name, c->uid, c->gid, AT_SYMLINK_NOFOLLOW);
	if (rc == 0)
		return 0;
	rc = -errno;
	if (c->jfd2 < 0)
		unlinkat(c->jfd, c->name, (c->flags & S_IFMT) == S_IFDIR ? AT_REMOVEDIR : 0);
	else if (c->flags & O_EXCL)
		unlinkat(c->jfd, c->name, 0);
	return rc;
}

/* a step that continues with the lookup chain once an op created c->name */
static void
fs_created(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res == -EEXIST && c->redo_ns != 0) {
		c->redo_check = true; /* made by the try that crashed? */
		fs_lookup_start(fs, c);
		return;
	}
	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	fs_lookup_start(fs, c);
}

/* As fs_created(), for an entry that is new (not a hard link): first give
 * it to the guest process that made it, when needed. */
static void
fs_created_new(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res >= 0 && fs_owner_differs(fs, c)) {
		c->jfd = fs->ino_fd[c->ino2];
		c->jfd2 = -1;
		fs_issue_job(fs, c, fs_chown_new_job, fs_created);
		return;
	}
	fs_created(fs, c, res);
}

static void
fs_self_statted(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	struct fuse_entry_out e;

	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	fs_lookup_count(fs, c->ino, c->note);
	fs_fill_entry(fs, &e, fs_nodeid(fs, c->ino), &c->stx);
	fs_reply(fs, c, &e, FS_ENTRY_SZ);
}

/* Parent directory from the nodeid, pinned into c->ino and c->ino2. */
static bool
fs_need_dir(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (!fs_need_inode(fs, c))
		return false;
	if (!S_ISDIR(fs_ino(fs, c->ino)->mode)) {
		fs_reply_err(fs, c, -ENOTDIR);
		return false;
	}
	c->ino2 = c->ino;
	return true;
}

void
fs_op_lookup(struct vgw_fs *fs, struct fs_ctx *c)
{
	uint32_t off = 0;
	int rc;

	if (!fs_out_room(fs, c, FS_ENTRY_SZ) || !fs_need_dir(fs, c))
		return;
	rc = fs_arg_name(c, &off, &c->name, true);
	if (rc == 0)
		rc = fs_arg_end(c, off);
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	if (strcmp(c->name, ".") == 0 || (strcmp(c->name, "..") == 0 && c->ino == FS_ROOT_IDX)) {
		fs_aop_statx(&c->aop, fs->ino_fd[c->ino], "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
			     &c->stx);
		fs_issue(fs, c, fs_self_statted);
		return;
	}
	if (strcmp(c->name, "..") == 0) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	fs_lookup_start(fs, c);
}

/* ---- FORGET, BATCH_FORGET: no reply ---- */

/* A FORGET is done once: its redo note says "done" before it is applied,
 * so one taken again after a crash is not applied twice (killed between
 * the two, the lookups stay: a table entry the guest has forgotten, never
 * a node id gone while it still uses it). */
static bool
fs_forget_once(struct fs_ctx *c)
{
	if (c->note == NULL)
		return true;
	if (c->redo_ns != 0 && *c->note == 1)
		return false;
	*c->note = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* stored before the tables change */
	return true;
}

void
fs_op_forget(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_forget_in *in;
	uint32_t idx;

	if (fs_forget_once(c) && c->arg_len >= sizeof(*in)) {
		in = (const void *)c->arg;
		idx = fs_inode_get(fs, c->nodeid);
		if (idx != 0)
			fs_inode_forget(fs, idx, in->nlookup);
	}
	fs_complete(fs, c, 0, 0);
}

void
fs_op_batch_forget(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_batch_forget_in *in;
	struct fuse_forget_one one[32];
	uint64_t off, end;
	uint32_t i, n, k, idx;

	if (!fs_forget_once(c) || c->arg_len < sizeof(*in)) {
		fs_complete(fs, c, 0, 0);
		return;
	}
	in = (const void *)c->arg;
	off = FS_IN_HDR + sizeof(*in);
	end = off + (uint64_t)in->count * sizeof(one[0]);
	/* a count larger than the request: forget only what is there */
	if (end > c->in_len)
		end = c->in_len;
	n = (uint32_t)((end - off) / sizeof(one[0]));
	for (i = 0; i < n; i += k) {
		k = n - i < 32 ? n - i : 32;
		fs_in_read(c, off + (uint64_t)i * sizeof(one[0]), one, k * sizeof(one[0]));
		for (uint32_t j = 0; j < k; j++) {
			idx = fs_inode_get(fs, one[j].nodeid);
			if (idx != 0)
				fs_inode_forget(fs, idx, one[j].nlookup);
		}
	}
	fs_complete(fs, c, 0, 0);
}

/* ---- MKDIR MKNOD SYMLINK LINK ---- */

/* The common start of an operation that makes an entry in directory
 * c->nodeid: room for the entry reply, fixed arguments of sz bytes, a
 * directory, and a valid name after the arguments (into c->name). Returns
 * the arguments, or NULL after replying an error. */
static const void *
fs_new_entry_args(struct vgw_fs *fs, struct fs_ctx *c, uint32_t sz)
{
	const void *in;
	uint32_t off = sz;
	int rc;

	if (!fs_out_room(fs, c, FS_ENTRY_SZ) || (in = fs_args(fs, c, sz)) == NULL ||
	    !fs_need_dir(fs, c))
		return NULL;
	rc = fs_arg_name(c, &off, &c->name, false);
	if (rc == 0)
		rc = fs_arg_end(c, off);
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return NULL;
	}
	return in;
}

void
fs_op_mkdir(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_mkdir_in *in;

	in = fs_new_entry_args(fs, c, sizeof(*in));
	if (in == NULL)
		return;
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_MKDIRAT;
	c->aop.fd = fs->ino_fd[c->ino];
	c->aop.path = c->name;
	c->aop.mode = in->mode & 07777;
	c->flags = S_IFDIR;
	fs_issue(fs, c, fs_created_new);
}

static int
fs_mknod_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	(void)fs;
	(void)buf;
	if (mknodat(c->jfd, c->name, c->flags, (dev_t)c->u64) < 0)
		return -errno;
	return 0;
}

void
fs_op_mknod(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_mknod_in *in;

	in = fs_new_entry_args(fs, c, sizeof(*in));
	if (in == NULL)
		return;
	/* regular files, FIFOs and sockets; no device nodes: a guest must not
	 * plant a host device node in a shared directory */
	switch (in->mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case 0:
		break;
	default:
		fs_reply_err(fs, c, -EPERM);
		return;
	}
	c->flags = in->mode & (S_IFMT | 07777);
	if ((c->flags & S_IFMT) == 0)
		c->flags |= S_IFREG;
	c->u64 = 0;
	c->jfd = fs->ino_fd[c->ino];
	fs_issue_job(fs, c, fs_mknod_job, fs_created_new);
}

void
fs_op_symlink(struct vgw_fs *fs, struct fs_ctx *c)
{
	uint32_t off = 0;
	const char *target, *nul;
	int rc;

	if (!fs_out_room(fs, c, FS_ENTRY_SZ) || !fs_need_dir(fs, c))
		return;
	rc = fs_arg_name(c, &off, &c->name, false);
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	/* the target is stored as given and never followed by us */
	target = (const char *)c->arg + off;
	nul = off < c->arg_len ? memchr(target, '\0', c->arg_len - off) : NULL;
	if (nul == NULL || nul == target) {
		fs_reply_err(fs, c, c->arg_len - off >= PATH_MAX ? -ENAMETOOLONG : -EINVAL);
		return;
	}
	if (nul - target >= PATH_MAX) {
		fs_reply_err(fs, c, -ENAMETOOLONG);
		return;
	}
	if (fs_arg_end(c, off + (uint32_t)(nul - target) + 1) < 0) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_SYMLINKAT;
	c->aop.path = target;
	c->aop.fd = fs->ino_fd[c->ino];
	c->aop.path2 = c->name;
	c->flags = S_IFLNK;
	fs_issue(fs, c, fs_created_new);
}

void
fs_op_link(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_link_in *in;
	uint32_t old;

	in = fs_new_entry_args(fs, c, sizeof(*in));
	if (in == NULL)
		return;
	old = fs_inode_get(fs, in->oldnodeid);
	if (old == 0) {
		fs_reply_err(fs, c, -ENOENT);
		return;
	}
	if (S_ISDIR(fs_ino(fs, old)->mode)) {
		fs_reply_err(fs, c, -EPERM);
		return;
	}
	fs_inode_pin(fs, c, old);
	fs_pname(c->pname, fs->ino_fd[old]);
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_LINKAT;
	c->aop.fd = fs->proc_fd;
	c->aop.path = c->pname;
	c->aop.fd2 = fs->ino_fd[c->ino];
	c->aop.path2 = c->name;
	c->aop.flags = AT_SYMLINK_FOLLOW; /* follows our /proc/self/fd link only */
	c->flags = fs_ino(fs, old)->mode & S_IFMT;
	c->u64 = fs_ino(fs, old)->ino;
	fs_issue(fs, c, fs_created);
}

/* ---- UNLINK RMDIR ---- */

/* A name that is gone when the request is taken again after a crash was
 * removed by the try that crashed. */
static void
fs_unlinked(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res == -ENOENT && c->redo_ns != 0)
		res = 0;
	fs_reply_err(fs, c, res < 0 ? res : 0);
}

static void
fs_unlink_issue(struct vgw_fs *fs, struct fs_ctx *c)
{
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_UNLINKAT;
	c->aop.fd = fs->ino_fd[c->ino];
	c->aop.path = c->name;
	c->aop.flags = (int)c->flags;
	fs_issue(fs, c, fs_unlinked);
}

/* With a vault: a file about to lose its last name (c->stx, statted by an
 * UNLINK or a RENAME that replaces it) that the session holds (a regular
 * file of one link, in the table) lives on in the vault. It is parked
 * before the name goes: a crash between the two leaves it parked (an fd
 * more, closed at the take-over), never gone without its fd. The
 * operation may fail after it (an ENOTDIR RENAME, say); asked again, it
 * finds the inode parked already (fs_vault_keep: once per inode). */
static void
fs_vault_if_last(struct vgw_fs *fs, const struct fs_ctx *c, int res)
{
	uint32_t idx;

	if (res != 0 || !S_ISREG(c->stx.stx_mode) || c->stx.stx_nlink != 1)
		return;
	idx = fs_inode_find(fs, makedev(c->stx.stx_dev_major, c->stx.stx_dev_minor), c->stx.stx_ino,
			    c->stx.stx_mnt_id);
	if (idx != 0 && fs->inodes[idx].nlookup != 0)
		fs_vault_keep(fs, idx);
}

static void
fs_unlink_statted(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	fs_vault_if_last(fs, c, res);
	fs_unlink_issue(fs, c);
}

static void
fs_unlink_common(struct vgw_fs *fs, struct fs_ctx *c, int flags)
{
	uint32_t off = 0;
	int rc;

	if (!fs_need_dir(fs, c))
		return;
	rc = fs_arg_name(c, &off, &c->name, false);
	if (rc == 0)
		rc = fs_arg_end(c, off);
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	c->flags = (uint32_t)flags;
	if (fs->vault[1] >= 0 && flags == 0) {
		fs_aop_statx(&c->aop, fs->ino_fd[c->ino], c->name, AT_SYMLINK_NOFOLLOW, &c->stx);
		fs_issue(fs, c, fs_unlink_statted);
		return;
	}
	fs_unlink_issue(fs, c);
}

void
fs_op_unlink(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_unlink_common(fs, c, 0);
}

void
fs_op_rmdir(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_unlink_common(fs, c, AT_REMOVEDIR);
}

/* ---- RENAME RENAME2: statx the source (to keep the table's reopen hint
 * current), then renameat2 ---- */

/* An exchange's second inode, now under the old name (statx of it in
 * c->stx, res < 0 if it is gone already): its hint, if it recorded the new
 * name, moves to the old one. */
static void
fs_exchanged(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	uint32_t other;

	if (res >= 0) {
		other = fs_inode_find(fs, makedev(c->stx.stx_dev_major, c->stx.stx_dev_minor),
				      c->stx.stx_ino, c->stx.stx_mnt_id);
		if (other != 0 && other != FS_ROOT_IDX && other != c->count &&
		    fs_inode_hint_is(fs, other, c->ino2, c->name2))
			fs_inode_rename(fs, other, c->ino, c->name);
	}
	fs_reply_err(fs, c, 0); /* the exchange itself was done */
}

static void
fs_renamed(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	uint32_t idx;

	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	idx = fs_inode_find(fs, makedev(c->stx.stx_dev_major, c->stx.stx_dev_minor), c->stx.stx_ino,
			    c->stx.stx_mnt_id);
	/* The hint moves only with the name it records: renaming another
	 * hard link of the inode leaves it where it is. */
	if (idx != 0 && idx != FS_ROOT_IDX && fs_inode_hint_is(fs, idx, c->ino, c->name))
		fs_inode_rename(fs, idx, c->ino2, c->name2);
	/* An exchange also moved the new name's inode to the old name: found
	 * by a statx of the old name (a scan of the table for the hint cost
	 * up to its whole size on the poller, per request) */
	if (c->flags & RENAME_EXCHANGE) {
		c->count = idx; /* the first inode, moved already */
		fs_aop_statx(&c->aop, fs->ino_fd[c->ino], c->name, AT_SYMLINK_NOFOLLOW, &c->stx);
		fs_issue(fs, c, fs_exchanged);
		return;
	}
	fs_reply_err(fs, c, 0);
}

static void
fs_rename_statted(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	/* the source gone when taken again after a crash: moved by the try
	 * that crashed (an exchange cannot tell) */
	if (res == -ENOENT && c->redo_ns != 0 && !(c->flags & RENAME_EXCHANGE)) {
		fs_reply_err(fs, c, 0);
		return;
	}
	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	memset(&c->aop, 0, sizeof(c->aop));
	c->aop.kind = FS_AOP_RENAMEAT;
	c->aop.fd = fs->ino_fd[c->ino];
	c->aop.path = c->name;
	c->aop.fd2 = fs->ino_fd[c->ino2];
	c->aop.path2 = c->name2;
	c->aop.flags = (int)c->flags;
	fs_issue(fs, c, fs_renamed);
}

static void
fs_rename_source_stat(struct vgw_fs *fs, struct fs_ctx *c)
{
	fs_aop_statx(&c->aop, fs->ino_fd[c->ino], c->name, AT_SYMLINK_NOFOLLOW, &c->stx);
	fs_issue(fs, c, fs_rename_statted);
}

static void
fs_rename_target_statted(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	fs_vault_if_last(fs, c, res);
	fs_rename_source_stat(fs, c);
}

static void
fs_rename_common(struct vgw_fs *fs, struct fs_ctx *c, uint64_t newdir, uint32_t flags, uint32_t off)
{
	uint32_t nd;
	int rc;

	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	if (!fs_need_dir(fs, c))
		return;
	rc = fs_arg_name(c, &off, &c->name, false);
	if (rc == 0)
		rc = fs_arg_name(c, &off, &c->name2, false);
	if (rc == 0)
		rc = fs_arg_end(c, off);
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	nd = fs_inode_get(fs, newdir);
	if (nd == 0) {
		fs_reply_err(fs, c, -ENOENT);
		return;
	}
	if (!S_ISDIR(fs_ino(fs, nd)->mode)) {
		fs_reply_err(fs, c, -ENOTDIR);
		return;
	}
	fs_inode_pin(fs, c, nd);
	c->ino2 = nd;
	c->flags = flags;
	/* with a vault, first the file the new name may replace */
	if (fs->vault[1] >= 0 && !(flags & (RENAME_EXCHANGE | RENAME_NOREPLACE))) {
		fs_aop_statx(&c->aop, fs->ino_fd[c->ino2], c->name2, AT_SYMLINK_NOFOLLOW, &c->stx);
		fs_issue(fs, c, fs_rename_target_statted);
		return;
	}
	fs_rename_source_stat(fs, c);
}

void
fs_op_rename(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_rename_in *in = fs_args(fs, c, sizeof(*in));

	if (in != NULL)
		fs_rename_common(fs, c, in->newdir, 0, sizeof(*in));
}

void
fs_op_rename2(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_rename2_in *in = fs_args(fs, c, sizeof(*in));

	if (in != NULL)
		fs_rename_common(fs, c, in->newdir, in->flags, sizeof(*in));
}

/* ---- READLINK ---- */

static int
fs_readlink_job(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf)
{
	ssize_t n = readlinkat(c->jfd, "", (char *)buf, PATH_MAX);
	uint64_t room = c->out_cap - FS_OUT_HDR;

	(void)fs;
	if (n < 0)
		return -errno;
	if ((uint64_t)n > room)
		n = (ssize_t)room; /* truncated, like readlink(2) */
	c->body_len = (uint32_t)fs_out_write(c, FS_OUT_HDR, buf, (size_t)n);
	return 0;
}

void
fs_op_readlink(struct vgw_fs *fs, struct fs_ctx *c)
{
	if (!fs_out_room(fs, c, 0) || !fs_need_inode(fs, c))
		return;
	if (!S_ISLNK(fs_ino(fs, c->ino)->mode)) {
		fs_reply_err(fs, c, -EINVAL);
		return;
	}
	c->jfd = fs->ino_fd[c->ino];
	fs_issue_job(fs, c, fs_readlink_job, fs_reply_body);
}

/* ---- CREATE: open(O_CREAT) beneath the parent, O_PATH reopen of that
 * fd, statx, then an inode and a handle ---- */

static void
fs_create_statted(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;
	uint64_t first, counted;
	uint32_t h;
	int rc, fd = c->fd;

	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	if (!fs_handle_available(fs)) {
		fs_reply_err(fs, c, -ENFILE);
		return;
	}
	if (c->redo_check && (!fs_redo_own(c) || !S_ISREG(c->stx.stx_mode))) {
		fs_reply_err(fs, c, -EEXIST); /* not ours: the first try's answer */
		return;
	}
	if (!S_ISREG(c->stx.stx_mode)) {
		/* an existing FIFO or socket of that name (the guest kernel
		 * handles those itself): never a handle. The open was
		 * O_NONBLOCK, so a FIFO with no writer did not hang it. */
		fs_reply_err(fs, c, -EPERM);
		return;
	}
	c->fd = -1;
	/* the note of a CREATE holds the handle its first try made (on
	 * that handle's inode the lookup was counted): taken again, the
	 * same handle and lookup, not a second of each */
	h = fs_redo_handle(fs, c, false);
	first = h != 0 ? fs_nodeid(fs, fs->handles[h].inode) : 0;
	counted = first;
	rc = fs_entry_take(fs, fd, &c->stx, c->ino2, c->name, &e, &counted);
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	if (first == 0 || first != e.nodeid) {
		h = fs_handle_alloc(fs, fs_inode_get(fs, e.nodeid), c->fd2, (int)c->flags, false);
		if (c->note != NULL)
			*c->note = fs_fh(fs, h);
	} else {
		fs_close_async(fs, c->fd2);
	}
	c->fd2 = -1;
	memset(&o, 0, sizeof(o));
	o.fh = fs_fh(fs, h);
	if (fs->cache == VGW_FS_CACHE_NONE)
		o.open_flags |= FOPEN_DIRECT_IO;
	else if (fs->cache == VGW_FS_CACHE_ALWAYS)
		o.open_flags |= FOPEN_KEEP_CACHE;
	fs_reply2(fs, c, &e, FS_ENTRY_SZ, &o, sizeof(o));
}

static void
fs_create_reopened(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	fs_statx_opened(fs, c, res, fs_create_statted);
}

static void
fs_create_owned(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	fs_pname(c->pname, c->fd2);
	fs_aop_openat2(&c->aop, fs->proc_fd, c->pname, O_PATH, 0, 0);
	fs_issue(fs, c, fs_create_reopened);
}

/* c->u64 != 0: we added O_EXCL to learn whether the file is new (only a
 * new file is given to the guest process); on EEXIST, open it as it is. */
static void
fs_create_opened(struct vgw_fs *fs, struct fs_ctx *c, int res)
{
	/* the guest's O_EXCL, taken again after a crash: the file may be the
	 * one the try that crashed made; open it and look (without O_TRUNC:
	 * a file that is not ours is left as it is) */
	if (res == -EEXIST && c->u64 == 0 && c->redo_ns != 0 && !c->redo_check) {
		c->redo_check = true;
		c->flags &= ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC);
		fs_aop_openat2(&c->aop, fs->ino_fd[c->ino], c->name, (int)c->flags | O_NONBLOCK, 0,
			       FS_RESOLVE);
		fs_issue(fs, c, fs_create_opened);
		return;
	}
	if (res == -EEXIST && c->u64 != 0) {
		c->u64 = 0;
		c->flags &= ~(uint32_t)(O_CREAT | O_EXCL);
		fs_aop_openat2(&c->aop, fs->ino_fd[c->ino], c->name, (int)c->flags | O_NONBLOCK, 0,
			       FS_RESOLVE);
		fs_issue(fs, c, fs_create_opened);
		return;
	}
	if (res < 0) {
		fs_reply_err(fs, c, res);
		return;
	}
	c->fd2 = res;
	if ((c->flags & O_CREAT) && fs_owner_differs(fs, c)) {
		c->jfd = fs->ino_fd[c->ino2];
		c->jfd2 = c->fd2;
		fs_issue_job(fs, c, fs_chown_new_job, fs_create_owned);
		return;
	}
	fs_create_owned(fs, c, 0);
}

void
fs_op_create(struct vgw_fs *fs, struct fs_ctx *c)
{
	const struct fuse_create_in *in;
	uint32_t off = sizeof(*in);
	int rc, flags;

	if (!fs_out_room(fs, c, FS_ENTRY_SZ + sizeof(struct fuse_open_out)) ||
	    (in = fs_args(fs, c, sizeof(*in))) == NULL || !fs_need_dir(fs, c))
		return;
	rc = fs_arg_name(c, &off, &c->name, false);
	if (rc == 0)
		rc = fs_arg_end(c, off);
	if (rc < 0) {
		fs_reply_err(fs, c, rc);
		return;
	}
	if (!fs_handle_available(fs)) {
		fs_reply_err(fs, c, -ENFILE);
		return;
	}
	flags = fs_open_flags(fs, in->flags) | O_CREAT | O_NOFOLLOW;
	c->u64 = 0;
	if (!(flags & O_EXCL) && fs->own_new && (c->uid != 0 || c->gid != 0)) {
		flags |= O_EXCL;
		c->u64 = 1;
	}
	c->flags = (uint32_t)flags;
	/* O_NONBLOCK for the open only (not kept in the handle): a name that
	 * is a FIFO must not hang the open until a writer comes; it is
	 * refused once statted. On a regular file it changes nothing. */
	fs_aop_openat2(&c->aop, fs->ino_fd[c->ino], c->name, flags | O_NONBLOCK, in->mode & 07777,
		       FS_RESOLVE);
	fs_issue(fs, c, fs_create_opened);
}
