/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-fs FUSE engine (lib/fs): INIT and dispatch,
 * LOOKUP/FORGET, file data, the namespace operations, attributes and
 * xattrs, locks, out-of-order completion, the inflight limit, the tables.
 * Helpers and the layout of a test's tree: test_fs_common.h. */

#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "test_fs_common.h"

/* ---- tests: INIT, DESTROY, dispatch ---- */

static void
test_init(void **state)
{
	struct fuse_init_in in = {
		.major = 7, .minor = 31, .max_readahead = 131072, .flags = 0xffffffff
	};
	struct fuse_init_out *o;
	struct t_req *t;

	(void)state;
	/* before INIT: EIO */
	assert_int_equal(t_simple(FUSE_GETATTR, 1, &(struct fuse_getattr_in){ 0 },
				  sizeof(struct fuse_getattr_in), NULL, NULL),
			 -EIO);
	/* a 7.31 kernel sends the 16-byte init_in */
	t = t_new(FUSE_INIT, 0);
	t_add(t, &in, 16);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->body_len, sizeof(*o));
	o = (struct fuse_init_out *)t->body;
	assert_int_equal(o->major, 7);
	assert_int_equal(o->minor, 31);
	assert_int_equal(o->max_readahead, 131072);
	assert_true(o->flags & FUSE_ASYNC_READ);
	assert_true(o->flags & FUSE_BIG_WRITES);
	assert_true(o->flags & FUSE_DO_READDIRPLUS);
	assert_true(o->flags & FUSE_READDIRPLUS_AUTO);
	assert_true(o->flags & FUSE_PARALLEL_DIROPS);
	assert_true(o->flags & FUSE_MAX_PAGES);
	assert_true(o->flags & FUSE_POSIX_LOCKS);      /* configured on */
	assert_false(o->flags & FUSE_WRITEBACK_CACHE); /* off by default */
	assert_false(o->flags & FUSE_EXPORT_SUPPORT);
	assert_false(o->flags & FUSE_SPLICE_READ);
	/* queue_size 128: max_pages capped at 124 */
	assert_int_equal(o->max_pages, 124);
	assert_int_equal(o->max_write, 124 * 4096);
	t_free(t);
	/* wrong major */
	in.major = 6;
	assert_int_equal(t_simple(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL), -EPROTO);
	/* DESTROY, then requests are refused until INIT */
	assert_int_equal(t_simple(FUSE_DESTROY, 1, NULL, 0, NULL, NULL), 0);
	assert_int_equal(t_simple(FUSE_STATFS, 1, NULL, 0, NULL, NULL), -EIO);
	t_do_init();
	assert_int_equal(t_simple(FUSE_STATFS, 1, NULL, 0, NULL, NULL), 0);
	assert_true(vgw_fs_stats(E->fs)->ops[FUSE_INIT] >= 3);
}

static void
test_enosys(void **state)
{
	(void)state;
	t_do_init();
	assert_int_equal(t_simple(FUSE_IOCTL, 1, NULL, 0, NULL, NULL), -ENOSYS);
	assert_int_equal(t_simple(FUSE_SETUPMAPPING, 1, NULL, 0, NULL, NULL), -ENOSYS);
	assert_int_equal(t_simple(4000, 1, NULL, 0, NULL, NULL), -ENOSYS);
	assert_int_equal(t_simple(0, 1, NULL, 0, NULL, NULL), -ENOSYS);
	assert_int_equal(vgw_fs_stats(E->fs)->enosys, 4);
}

/* ---- LOOKUP GETATTR FORGET BATCH_FORGET ---- */

static void
test_lookup_getattr(void **state)
{
	struct fuse_entry_out e, e2;
	struct fuse_attr a;

	(void)state;
	t_do_init();
	t_write_host("f", "hello");
	assert_int_equal(t_lookup(1, "f", &e), 0);
	assert_true(e.nodeid != 1 && e.nodeid != 0);
	t_assert_attr_matches(&e.attr, "f");
	assert_int_equal(e.entry_valid, 1);
	assert_int_equal(t_getattr(e.nodeid, &a), 0);
	t_assert_attr_matches(&a, "f");
	/* same inode, same nodeid; a second reference */
	assert_int_equal(t_lookup(1, "f", &e2), 0);
	assert_int_equal(e2.nodeid, e.nodeid);
	assert_int_equal(t_lookup(1, "nope", &e2), -ENOENT);
	/* root */
	assert_int_equal(t_getattr(1, &a), 0);
	t_assert_attr_matches(&a, ".");
	assert_int_equal(t_lookup(1, ".", &e2), 0);
	assert_int_equal(e2.nodeid, 1);
	/* lookup under a file */
	assert_int_equal(t_lookup(e.nodeid, "x", &e2), -ENOTDIR);
	assert_int_equal(vgw_fs_inode_count(E->fs), 2);
	assert_true(vgw_fs_stats(E->fs)->ops[FUSE_LOOKUP] >= 5);
}

static void
test_forget(void **state)
{
	struct fuse_entry_out e1, e2;
	struct fuse_attr a;
	struct fuse_batch_forget_in bin;
	struct fuse_forget_one one[2];
	struct t_req *t;

	(void)state;
	t_do_init();
	t_write_host("a", "1");
	t_write_host("b", "2");
	assert_int_equal(t_lookup(1, "a", &e1), 0);
	assert_int_equal(t_lookup(1, "a", &e1), 0);
	assert_int_equal(t_lookup(1, "b", &e2), 0);
	assert_int_equal(vgw_fs_inode_count(E->fs), 3);
	t_forget(e1.nodeid, 1);
	assert_int_equal(t_getattr(e1.nodeid, &a), 0);
	t_forget(e1.nodeid, 1);
	assert_int_equal(t_getattr(e1.nodeid, &a), -ENOENT);
	assert_int_equal(vgw_fs_inode_count(E->fs), 2);
	/* a forgotten nodeid stays invalid after its slot is reused */
	assert_int_equal(t_lookup(1, "a", &e1), 0);
	/* BATCH_FORGET, with a bogus nodeid among them */
	bin.count = 2;
	bin.dummy = 0;
	one[0] = (struct fuse_forget_one){ .nodeid = e2.nodeid, .nlookup = 1 };
	one[1] = (struct fuse_forget_one){ .nodeid = 0x7777000000000005ULL, .nlookup = 9 };
	t = t_new(FUSE_BATCH_FORGET, 0);
	t_add(t, &bin, sizeof(bin));
	t_add(t, one, sizeof(one));
	t_run(t);
	assert_int_equal(t->req.out_len, 0);
	t_free(t);
	assert_int_equal(t_getattr(e2.nodeid, &a), -ENOENT);
	assert_int_equal(t_getattr(e1.nodeid, &a), 0);
	/* forgetting root is ignored */
	t_forget(1, 100);
	assert_int_equal(t_getattr(1, &a), 0);
	assert_int_equal(vgw_fs_inode_count(E->fs), 2);
}

/* ---- CREATE OPEN READ WRITE RELEASE FLUSH FSYNC FALLOCATE LSEEK ---- */

static void
test_create_write_read(void **state)
{
	struct fuse_entry_out e;
	struct fuse_attr a;
	uint64_t fh, fh2, enosys;
	unsigned int handles;
	uint8_t *big, *back;
	char p[PATH_MAX];
	struct stat st;
	FILE *f;
	int i;

	(void)state;
	t_do_init();
	assert_int_equal(t_create(1, "new", O_RDWR | O_CREAT, 0640, &e, &fh), 0);
	assert_true(t_host_exists("new"));
	t_assert_attr_matches(&e.attr, "new");
	assert_int_equal(e.attr.mode & 0777, 0640);
	assert_int_equal(t_write(fh, 0, "abcdef", 6), 6);
	big = malloc(1 << 20);
	back = malloc(1 << 20);
	for (i = 0; i < (1 << 20); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(t_write(fh, 6, big, 1 << 20), 1 << 20);
	assert_int_equal(t_read(fh, 0, back, 6), 6);
	assert_memory_equal(back, "abcdef", 6);
	assert_int_equal(t_read(fh, 6, back, 1 << 20), 1 << 20);
	assert_memory_equal(back, big, 1 << 20);
	/* short read at EOF, empty read past it */
	assert_int_equal(t_read(fh, (1 << 20) + 2, back, 100), 4);
	assert_int_equal(t_read(fh, 10 << 20, back, 100), 0);
	/* the host sees it */
	t_path(p, "new");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 6 + (1 << 20));
	f = fopen(p, "r");
	assert_non_null(f);
	assert_int_equal(fread(back, 1, 6, f), 6);
	fclose(f);
	assert_memory_equal(back, "abcdef", 6);
	assert_int_equal(t_getattr(e.nodeid, &a), 0);
	assert_int_equal(a.size, 6 + (1 << 20));
	assert_true(vgw_fs_stats(E->fs)->bytes_written >= 6 + (1 << 20));
	assert_true(vgw_fs_stats(E->fs)->bytes_read >= 6 + (1 << 20) + 4);

	/* FLUSH FSYNC FALLOCATE LSEEK. FLUSH has nothing to do: ENOSYS,
	 * whatever the handle, so that the guest kernel stops sending it
	 * (one round trip fewer per close()); the handle stays usable. */
	enosys = vgw_fs_stats(E->fs)->enosys;
	handles = vgw_fs_handle_count(E->fs);
	assert_int_equal(t_simple(FUSE_FLUSH, e.nodeid, &(struct fuse_flush_in){ .fh = fh },
				  sizeof(struct fuse_flush_in), NULL, NULL),
			 -ENOSYS);
	assert_int_equal(t_simple(FUSE_FLUSH, e.nodeid, &(struct fuse_flush_in){ .fh = fh + 12345 },
				  sizeof(struct fuse_flush_in), NULL, NULL),
			 -ENOSYS);
	assert_int_equal(vgw_fs_stats(E->fs)->enosys, enosys + 2);
	assert_int_equal(vgw_fs_handle_count(E->fs), handles);
	assert_int_equal(t_simple(FUSE_FSYNC, e.nodeid, &(struct fuse_fsync_in){ .fh = fh },
				  sizeof(struct fuse_fsync_in), NULL, NULL),
			 0);
	assert_int_equal(
		t_simple(FUSE_FSYNC, e.nodeid,
			 &(struct fuse_fsync_in){ .fh = fh, .fsync_flags = FUSE_FSYNC_FDATASYNC },
			 sizeof(struct fuse_fsync_in), NULL, NULL),
		0);
	assert_int_equal(
		t_simple(FUSE_FALLOCATE, e.nodeid,
			 &(struct fuse_fallocate_in){ .fh = fh, .offset = 0, .length = 8 << 20 },
			 sizeof(struct fuse_fallocate_in), NULL, NULL),
		0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 8 << 20);
	{
		struct t_req *t = t_new(FUSE_LSEEK, e.nodeid);
		struct fuse_lseek_in li = { .fh = fh, .offset = 0, .whence = SEEK_END };

		t_add(t, &li, sizeof(li));
		assert_int_equal(t_run(t), 0);
		assert_int_equal(((struct fuse_lseek_out *)t->body)->offset, 8 << 20);
		t_free(t);
	}
	/* OPEN an existing file read-only: writes fail with EBADF from the host */
	assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDONLY, &fh2), 0);
	assert_int_equal(t_read(fh2, 0, back, 3), 3);
	assert_memory_equal(back, "abc", 3);
	assert_int_equal(t_write(fh2, 0, "zz", 2), -EBADF);
	assert_int_equal(vgw_fs_handle_count(E->fs), 2);
	assert_int_equal(t_release(FUSE_RELEASE, fh2), 0);
	assert_int_equal(t_release(FUSE_RELEASE, fh2), -EBADF);
	assert_int_equal(t_read(fh2, 0, back, 3), -EBADF);
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	assert_int_equal(vgw_fs_handle_count(E->fs), 0);
	/* CREATE of an existing name with O_EXCL */
	assert_int_equal(t_create(1, "new", O_RDWR | O_CREAT | O_EXCL, 0600, &e, &fh), -EEXIST);
	/* O_TRUNC on OPEN */
	assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDWR | O_TRUNC, &fh), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	/* OPEN of a directory */
	assert_int_equal(t_open(FUSE_OPEN, 1, O_RDONLY, &fh), -EISDIR);
	free(big);
	free(back);
}

/* ---- MKDIR RMDIR UNLINK RENAME RENAME2 LINK SYMLINK READLINK MKNOD ---- */

static void
test_namespace(void **state)
{
	struct fuse_entry_out d, e, l, s;
	struct fuse_rename_in rn;
	struct fuse_rename2_in rn2;
	struct fuse_link_in li;
	struct fuse_mknod_in mk = { .mode = S_IFIFO | 0600 };
	char p[PATH_MAX], buf[64];
	struct stat st;
	struct t_req *t;

	(void)state;
	t_do_init();
	assert_int_equal(t_mkdir(1, "d", 0750, &d), 0);
	t_path(p, "d");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0750);
	t_assert_attr_matches(&d.attr, "d");
	assert_int_equal(t_mkdir(1, "d", 0750, &e), -EEXIST);
	t_write_host("d/f", "data");
	assert_int_equal(t_lookup(d.nodeid, "f", &e), 0);

	/* RENAME d/f -> g */
	rn.newdir = 1;
	assert_int_equal(t_simple(FUSE_RENAME, d.nodeid, &rn, sizeof(rn), "f", "g"), 0);
	assert_false(t_host_exists("d/f"));
	assert_true(t_host_exists("g"));
	assert_int_equal(fs_ino(E->fs, (uint32_t)e.nodeid)->parent, FS_ROOT_IDX);
	assert_string_equal(fs_ino(E->fs, (uint32_t)e.nodeid)->name, "g");
	/* RENAME2 NOREPLACE onto an existing name */
	t_write_host("h", "x");
	rn2 = (struct fuse_rename2_in){ .newdir = 1, .flags = RENAME_NOREPLACE };
	assert_int_equal(t_simple(FUSE_RENAME2, 1, &rn2, sizeof(rn2), "g", "h"), -EEXIST);
	/* EXCHANGE: each inode's name hint follows its file */
	assert_int_equal(t_lookup(1, "h", &l), 0);
	rn2.flags = RENAME_EXCHANGE;
	assert_int_equal(t_simple(FUSE_RENAME2, 1, &rn2, sizeof(rn2), "g", "h"), 0);
	assert_string_equal(fs_ino(E->fs, (uint32_t)e.nodeid)->name, "h");
	assert_string_equal(fs_ino(E->fs, (uint32_t)l.nodeid)->name, "g");
	assert_int_equal(fs_ino(E->fs, (uint32_t)l.nodeid)->parent, FS_ROOT_IDX);
	/* and back */
	assert_int_equal(t_simple(FUSE_RENAME2, 1, &rn2, sizeof(rn2), "g", "h"), 0);
	assert_string_equal(fs_ino(E->fs, (uint32_t)e.nodeid)->name, "g");
	assert_string_equal(fs_ino(E->fs, (uint32_t)l.nodeid)->name, "h");
	rn2.flags = 1u << 20;
	assert_int_equal(t_simple(FUSE_RENAME2, 1, &rn2, sizeof(rn2), "g", "h"), -EINVAL);

	/* LINK g -> d/hard */
	li.oldnodeid = e.nodeid;
	assert_int_equal(t_entry_op(FUSE_LINK, d.nodeid, &li, sizeof(li), "hard", NULL, &l), 0);
	assert_int_equal(l.nodeid, e.nodeid);
	assert_int_equal(l.attr.nlink, 2);
	t_path(p, "d/hard");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_ino, e.attr.ino);
	/* LINK of a directory */
	li.oldnodeid = d.nodeid;
	assert_int_equal(t_entry_op(FUSE_LINK, 1, &li, sizeof(li), "dl", NULL, &l), -EPERM);

	/* SYMLINK + READLINK; the target is stored as given */
	assert_int_equal(t_entry_op(FUSE_SYMLINK, 1, NULL, 0, "sl", "d/hard", &s), 0);
	assert_true(S_ISLNK(s.attr.mode));
	t_path(p, "sl");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(readlink(p, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "d/hard");
	t = t_new(FUSE_READLINK, s.nodeid);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->body_len, 6);
	assert_memory_equal(t->body, "d/hard", 6);
	t_free(t);
	t = t_new(FUSE_READLINK, e.nodeid);
	assert_int_equal(t_run(t), -EINVAL);
	t_free(t);

	/* MKNOD: a FIFO yes, a device node no */
	assert_int_equal(t_entry_op(FUSE_MKNOD, 1, &mk, sizeof(mk), "fifo", NULL, &l), 0);
	t_path(p, "fifo");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	/* CREATE of that name (a guest does LOOKUP first and opens a FIFO
	 * itself; a hostile one may not): refused at once, no handle. Before
	 * the open was O_NONBLOCK it hung until a writer came, the request
	 * and a helper with it (found by fuzz_fs_request). */
	{
		uint32_t handles = vgw_fs_handle_count(E->fs);
		uint64_t fh = 0;
		int rc;

		assert_int_equal(t_create(1, "fifo", O_RDONLY, 0600, &l, &fh), -EPERM);
		rc = t_create(1, "fifo", O_WRONLY, 0600, &l, &fh);
		assert_true(rc == -ENXIO || rc == -EPERM);
		assert_int_equal(vgw_fs_handle_count(E->fs), handles);
	}
	mk.mode = S_IFBLK | 0600;
	mk.rdev = makedev(8, 0);
	assert_int_equal(t_entry_op(FUSE_MKNOD, 1, &mk, sizeof(mk), "blk", NULL, &l), -EPERM);
	assert_false(t_host_exists("blk"));
	mk.mode = S_IFREG | 0600;
	assert_int_equal(t_entry_op(FUSE_MKNOD, 1, &mk, sizeof(mk), "reg", NULL, &l), 0);
	assert_true(t_host_exists("reg"));

	/* UNLINK RMDIR */
	assert_int_equal(t_simple(FUSE_RMDIR, 1, NULL, 0, "d", NULL), -ENOTEMPTY);
	assert_int_equal(t_simple(FUSE_UNLINK, d.nodeid, NULL, 0, "hard", NULL), 0);
	assert_false(t_host_exists("d/hard"));
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "d", NULL), -EISDIR);
	assert_int_equal(t_simple(FUSE_RMDIR, 1, NULL, 0, "d", NULL), 0);
	assert_false(t_host_exists("d"));
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "sl", NULL), 0);
	assert_false(t_host_exists("sl"));
	assert_true(t_host_exists("g"));
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "nope", NULL), -ENOENT);
	/* the unlinked directory's nodeid still answers GETATTR (it is open
	 * in the guest's dcache until FORGET): the inode is kept */
	{
		struct fuse_attr a;

		assert_int_equal(t_getattr(d.nodeid, &a), 0);
	}
}

/* ---- STATFS SETATTR ACCESS xattrs ---- */

static void
test_statfs(void **state)
{
	struct t_req *t;
	struct fuse_statfs_out *o;
	struct statvfs sv;

	(void)state;
	t_do_init();
	t = t_new(FUSE_STATFS, 1);
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->body_len, sizeof(*o));
	o = (struct fuse_statfs_out *)t->body;
	assert_int_equal(statvfs(E->shared, &sv), 0);
	assert_int_equal(o->st.bsize, sv.f_bsize);
	assert_int_equal(o->st.blocks, sv.f_blocks);
	assert_int_equal(o->st.namelen, sv.f_namemax);
	assert_int_equal(o->st.files, sv.f_files);
	t_free(t);
}

static void
test_setattr(void **state)
{
	struct fuse_entry_out e;
	struct fuse_setattr_in in;
	struct t_req *t;
	struct fuse_attr_out *ao;
	char p[PATH_MAX];
	struct stat st;
	uint64_t fh;

	(void)state;
	t_do_init();
	t_write_host("f", "0123456789");
	assert_int_equal(t_lookup(1, "f", &e), 0);
	t_path(p, "f");

	memset(&in, 0, sizeof(in));
	in.valid = FATTR_MODE | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME;
	in.mode = S_IFREG | 0604;
	in.size = 4;
	in.atime = 1000000000;
	in.atimensec = 5;
	in.mtime = 1100000000;
	in.mtimensec = 7;
	t = t_new(FUSE_SETATTR, e.nodeid);
	t_add(t, &in, sizeof(in));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->body_len, sizeof(*ao));
	ao = (struct fuse_attr_out *)t->body;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(st.st_atim.tv_sec, 1000000000);
	assert_int_equal(st.st_atim.tv_nsec, 5);
	assert_int_equal(st.st_mtim.tv_sec, 1100000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	t_assert_attr_matches(&ao->attr, "f");
	t_free(t);

	/* truncate through a handle; chown to the same ids */
	assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDWR, &fh), 0);
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE | FATTR_FH | FATTR_UID | FATTR_GID;
	in.fh = fh;
	in.size = 100;
	in.uid = getuid();
	in.gid = getgid();
	assert_int_equal(t_simple(FUSE_SETATTR, e.nodeid, &in, sizeof(in), NULL, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 100);
	in.fh = fh + 1;
	assert_int_equal(t_simple(FUSE_SETATTR, e.nodeid, &in, sizeof(in), NULL, NULL), -EBADF);
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	/* size on a directory */
	in.valid = FATTR_SIZE;
	assert_int_equal(t_simple(FUSE_SETATTR, 1, &in, sizeof(in), NULL, NULL), -EISDIR);

	/* ACCESS */
	assert_int_equal(t_simple(FUSE_ACCESS, e.nodeid,
				  &(struct fuse_access_in){ .mask = R_OK | W_OK },
				  sizeof(struct fuse_access_in), NULL, NULL),
			 0);
	assert_int_equal(t_simple(FUSE_ACCESS, e.nodeid, &(struct fuse_access_in){ .mask = 0x100 },
				  sizeof(struct fuse_access_in), NULL, NULL),
			 -EINVAL);
}

static void
test_xattr(void **state)
{
	struct fuse_entry_out e;
	struct fuse_setxattr_in si = { .size = 5, .flags = 0 };
	struct fuse_getxattr_in gi;
	struct t_req *t;
	char p[PATH_MAX], buf[64];
	int rc;

	(void)state;
	t_do_init();
	t_write_host("f", "x");
	t_path(p, "f");
	if (setxattr(p, "user.probe", "1", 1, 0) < 0 && errno == ENOTSUP)
		fail_msg("the test directory's filesystem has no user xattrs (ENOTSUP): "
			 "run the unit tests on ext4, xfs or btrfs");
	removexattr(p, "user.probe");
	assert_int_equal(t_lookup(1, "f", &e), 0);
	t = t_new(FUSE_SETXATTR, e.nodeid);
	t_add(t, &si, 8);
	t_add_str(t, "user.k");
	t_add(t, "value", 5);
	assert_int_equal(t_run(t), 0);
	t_free(t);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(getxattr(p, "user.k", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "value");
	/* size query, then the value */
	gi = (struct fuse_getxattr_in){ .size = 0 };
	t = t_new(FUSE_GETXATTR, e.nodeid);
	t_add(t, &gi, sizeof(gi));
	t_add_str(t, "user.k");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(((struct fuse_getxattr_out *)t->body)->size, 5);
	t_free(t);
	gi.size = 64;
	t = t_new(FUSE_GETXATTR, e.nodeid);
	t_add(t, &gi, sizeof(gi));
	t_add_str(t, "user.k");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->body_len, 5);
	assert_memory_equal(t->body, "value", 5);
	t_free(t);
	/* too small */
	gi.size = 2;
	t = t_new(FUSE_GETXATTR, e.nodeid);
	t_add(t, &gi, sizeof(gi));
	t_add_str(t, "user.k");
	assert_int_equal(t_run(t), -ERANGE);
	t_free(t);
	/* LISTXATTR */
	gi.size = 64;
	t = t_new(FUSE_LISTXATTR, e.nodeid);
	t_add(t, &gi, sizeof(gi));
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->body_len, 7);
	assert_memory_equal(t->body, "user.k", 7);
	t_free(t);
	/* security.* and trusted.* cannot be set */
	t = t_new(FUSE_SETXATTR, e.nodeid);
	t_add(t, &si, 8);
	t_add_str(t, "security.capability");
	t_add(t, "value", 5);
	assert_int_equal(t_run(t), -EPERM);
	t_free(t);
	/* value longer than the request */
	si.size = 1000;
	t = t_new(FUSE_SETXATTR, e.nodeid);
	t_add(t, &si, 8);
	t_add_str(t, "user.z");
	t_add(t, "value", 5);
	assert_int_equal(t_run(t), -EINVAL);
	t_free(t);
	/* REMOVEXATTR */
	assert_int_equal(t_simple(FUSE_REMOVEXATTR, e.nodeid, NULL, 0, "user.k", NULL), 0);
	assert_int_equal(getxattr(p, "user.k", buf, sizeof(buf)), -1);
	rc = t_simple(FUSE_REMOVEXATTR, e.nodeid, NULL, 0, "user.k", NULL);
	assert_int_equal(rc, -ENODATA);
}

/* ---- GETLK SETLK SETLKW ---- */

static int
t_lk(uint32_t op, uint64_t fh, uint32_t type, uint64_t start, uint64_t end,
     struct fuse_file_lock *out)
{
	struct fuse_lk_in in = { .fh = fh, .owner = fh, .lk = { start, end, type, 1 } };
	struct t_req *t = t_new(op, 2);
	int rc;

	t_add(t, &in, sizeof(in));
	rc = t_run(t);
	if (rc == 0 && out)
		memcpy(out, t->body, sizeof(*out));
	t_free(t);
	return rc;
}

static void
test_locks(void **state)
{
	struct fuse_entry_out e;
	struct fuse_file_lock lk;
	uint64_t fh1, fh2;

	(void)state;
	t_do_init();
	t_write_host("l", "0123456789");
	assert_int_equal(t_lookup(1, "l", &e), 0);
	assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDWR, &fh1), 0);
	assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDWR, &fh2), 0);
	assert_int_equal(t_lk(FUSE_SETLK, fh1, F_WRLCK, 0, 4, NULL), 0);
	assert_int_equal(t_lk(FUSE_SETLK, fh2, F_WRLCK, 2, 8, NULL), -EAGAIN);
	/* SETLKW does not wait: EAGAIN as documented */
	assert_int_equal(t_lk(FUSE_SETLKW, fh2, F_RDLCK, 0, INT64_MAX, NULL), -EAGAIN);
	assert_int_equal(t_lk(FUSE_SETLK, fh2, F_WRLCK, 5, 8, NULL), 0);
	assert_int_equal(t_lk(FUSE_GETLK, fh2, F_WRLCK, 0, INT64_MAX, &lk), 0);
	assert_int_equal(lk.type, F_WRLCK);
	assert_int_equal(lk.start, 0);
	assert_int_equal(lk.end, 4);
	assert_int_equal(t_lk(FUSE_SETLK, fh1, F_UNLCK, 0, INT64_MAX, NULL), 0);
	assert_int_equal(t_lk(FUSE_GETLK, fh2, F_WRLCK, 0, 4, &lk), 0);
	assert_int_equal(lk.type, F_UNLCK);
	assert_int_equal(t_lk(FUSE_SETLKW, fh2, F_WRLCK, 0, INT64_MAX, NULL), 0);
	assert_int_equal(t_lk(FUSE_SETLK, 0xdead, F_WRLCK, 0, 1, NULL), -EBADF);
	assert_int_equal(t_lk(FUSE_SETLK, fh1, 77, 0, 1, NULL), -EINVAL);
	assert_int_equal(t_release(FUSE_RELEASE, fh1), 0);
	assert_int_equal(t_release(FUSE_RELEASE, fh2), 0);
}

/* ---- out of order: a slow READ (a pipe behind the handle) and a fast
 * GETATTR submitted after it ---- */

static void
t_poll_for(struct t_req *g, struct t_req *r, bool *g_done, bool *r_done)
{
	struct vgw_fs_req *done[4];
	unsigned int n;

	for (int i = 0; i < 2000 && !*g_done; i++) {
		n = vgw_fs_poll(E->fs, done, 4);
		for (unsigned int k = 0; k < n; k++) {
			t_decode(done[k]->user);
			if (done[k] == &g->req)
				*g_done = true;
			if (done[k] == &r->req)
				*r_done = true;
		}
		usleep(1000);
	}
}

static void
test_out_of_order(void **state)
{
	struct fuse_entry_out e;
	struct fuse_getattr_in gi = { 0 };
	struct t_req *r, *g;
	uint64_t fh;
	int pfd[2], ffd, wfd;
	bool read_done = false, getattr_done = false;
	char p[PATH_MAX];

	(void)state;
	t_do_init();
	t_write_host("f", "x");
	assert_int_equal(t_lookup(1, "f", &e), 0);
	if (!E->no_uring) {
		/* a slow READ: a pipe behind the handle's fd number (io_uring
		 * ignores the offset of stream files and waits for data) */
		assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDONLY, &fh), 0);
		assert_int_equal(pipe(pfd), 0);
		assert_true(dup2(pfd[0], E->fs->fh_fd[(uint32_t)fh]) >= 0);
		r = t_read_req(FUSE_READ, fh, 0, 4);
	} else {
		/* preadv2 refuses pipes at once: a slow OPEN instead, a FIFO
		 * behind the inode's O_PATH fd (open blocks for a writer) */
		t_path(p, "fifo");
		assert_int_equal(mkfifo(p, 0600), 0);
		ffd = open(p, O_PATH | O_CLOEXEC);
		assert_true(ffd >= 0);
		assert_true(dup2(ffd, E->fs->ino_fd[(uint32_t)e.nodeid]) >= 0);
		close(ffd);
		r = t_new(FUSE_OPEN, e.nodeid);
		t_add(r, &(struct fuse_open_in){ .flags = O_RDONLY }, sizeof(struct fuse_open_in));
	}
	t_submit_raw(r, r->in_len);
	g = t_new(FUSE_GETATTR, e.nodeid);
	t_add(g, &gi, sizeof(gi));
	t_submit_raw(g, g->in_len);
	/* the GETATTR, submitted second, completes while the first waits */
	t_poll_for(g, r, &getattr_done, &read_done);
	assert_true(getattr_done);
	assert_int_equal(g->oh.error, 0);
	assert_false(read_done);
	assert_int_equal(vgw_fs_inflight(E->fs), 1);
	if (!E->no_uring) {
		assert_int_equal(write(pfd[1], "slow", 4), 4);
		t_wait(r);
		assert_int_equal(r->oh.error, 0);
		assert_int_equal(r->body_len, 4);
		assert_memory_equal(r->body, "slow", 4);
		close(pfd[0]);
		close(pfd[1]);
	} else {
		wfd = open(p, O_WRONLY | O_CLOEXEC);
		assert_true(wfd >= 0);
		t_wait(r);
		assert_int_equal(r->oh.error, 0);
		fh = ((struct fuse_open_out *)r->body)->fh;
		close(wfd);
	}
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	t_free(r);
	t_free(g);
}

/* EBUSY when max_inflight requests are unreaped */
static void
test_busy(void **state)
{
	struct t_req *t[65];
	struct vgw_fs_req *done[64];
	unsigned int n = 0, i;

	(void)state;
	t_do_init();
	for (i = 0; i < 64; i++) {
		t[i] = t_new(FUSE_STATFS, 1);
		t_submit_raw(t[i], t[i]->in_len);
	}
	t[64] = t_new(FUSE_STATFS, 1);
	((struct fuse_in_header *)t[64]->in)->len = t[64]->in_len;
	t[64]->iv_in[0] = (struct iovec){ t[64]->in, t[64]->in_len };
	t[64]->req.in = t[64]->iv_in;
	t[64]->req.in_cnt = 1;
	assert_int_equal(vgw_fs_submit(E->fs, &t[64]->req), -EBUSY);
	while (n < 64) {
		unsigned int k = vgw_fs_poll(E->fs, done, 64);

		for (i = 0; i < k; i++) {
			t_decode(done[i]->user);
			assert_int_equal(((struct t_req *)done[i]->user)->oh.error, 0);
		}
		n += k;
	}
	assert_int_equal(vgw_fs_inflight(E->fs), 0);
	for (i = 0; i < 65; i++)
		t_free(t[i]);
}

/* tables: memfd region header, sizes */
static void
test_tables(void **state)
{
	const struct fs_region_hdr *h;
	uint64_t size;
	int fd;

	(void)state;
	t_do_init();
	fd = vgw_fs_table_fd(E->fs, &size);
	assert_true(fd >= 0);
	h = E->fs->hdr;
	assert_int_equal(h->magic, FS_REGION_MAGIC);
	assert_int_equal(h->max_inodes, 32768);
	assert_int_equal(h->max_handles, 1024);
	assert_true(h->init_done);
	assert_int_equal(size, h->size);
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)size);
	assert_int_equal(vgw_fs_inode_count(E->fs), 1);
}

/* ---- the device's share of the process's fds ---- */

static unsigned int t_warned;

static void
t_warn(void *arg, const char *line)
{
	(void)arg;
	assert_non_null(strstr(line, "RLIMIT_NOFILE"));
	t_warned++;
}

/* An engine given max_fds (its share of RLIMIT_NOFILE) holds no more
 * inodes and handles than that, split in the tables' proportion: a lookup
 * or open beyond answers ENFILE and one warning line (rate limited) says
 * why; a FORGET makes room again. */
static void
test_fd_budget(void **state)
{
	struct vgw_fs *full = E->fs;
	struct fuse_entry_out e[64];
	struct vgw_fs_conf c;
	uint32_t ni, nh;
	unsigned int ok = 0, enfile = 0, opened = 0;
	uint64_t fh[16];
	char name[32];
	int i, rc;

	(void)state;
	vgw_fs_fd_split(40, 32768, 1024, &ni, &nh);
	assert_int_equal(ni, 38);
	assert_int_equal(nh, 2);
	vgw_fs_fd_split(0, 32768, 1024, &ni, &nh);
	assert_int_equal(ni, 32768);
	assert_int_equal(nh, 1024);
	vgw_fs_fd_split(320, 0, 0, &ni, &nh); /* the defaults: 4 to 1 */
	assert_int_equal(ni, 256);
	assert_int_equal(nh, 64);

	vgw_fs_conf_init(&c);
	c.shared_dir = E->shared;
	c.max_inodes = 32768;
	c.max_handles = 1024;
	c.max_inflight = 64;
	c.no_uring = E->no_uring;
	c.max_fds = 40;
	c.warn = t_warn;
	t_warned = 0;
	E->fs = vgw_fs_create(&c);
	assert_non_null(E->fs);
	t_do_init();
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		t_write_host(name, "x");
	}
	/* the root is one of the 38 inodes */
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		rc = t_lookup(1, name, &e[ok < 64 ? ok : 63]);
		if (rc == 0)
			ok++;
		else if (rc == -ENFILE)
			enfile++;
	}
	assert_int_equal(ok, 37);
	assert_int_equal(enfile, 13);
	assert_int_equal(vgw_fs_inode_count(E->fs), 38);
	for (i = 0; i < 4; i++) {
		rc = t_open(FUSE_OPEN, e[i].nodeid, O_RDONLY, &fh[opened]);
		if (rc == 0)
			opened++;
		else
			assert_int_equal(rc, -ENFILE);
	}
	assert_int_equal(opened, 2);
	assert_int_equal(t_create(1, "new", O_RDWR, 0600, &e[63], &fh[15]), -ENFILE);
	assert_false(t_host_exists("new"));
	assert_int_equal(t_warned, 1);
	/* a FORGET makes room for another lookup */
	assert_int_equal(t_forget(e[36].nodeid, 1), 0);
	assert_int_equal(t_lookup(1, "n49", &e[36]), 0);
	assert_int_equal(t_lookup(1, "n48", &e[63]), -ENFILE);
	for (i = 0; i < 2; i++)
		assert_int_equal(t_release(FUSE_RELEASE, fh[i]), 0);
	vgw_fs_destroy(E->fs);
	E->fs = full;
}

/* An engine on dir (E's engine set aside; limit_ns: its conf's
 * fstat_inline_ns): n times LOOKUP of name and GETATTR of it; how many
 * statx ran on the poller and operations on io_uring meanwhile, and the
 * back-offs. */
static uint64_t
t_fstat_where(const char *dir, const char *name, uint32_t limit_ns, unsigned int n, uint64_t *inl,
	      uint64_t *uring)
{
	struct vgw_fs *keep = E->fs;
	struct fuse_entry_out e;
	struct fuse_attr a;
	struct vgw_fs_conf c;
	uint64_t i0, u0, b;

	vgw_fs_conf_init(&c);
	c.shared_dir = dir;
	c.max_inflight = 64;
	c.fstat_inline_ns = limit_ns;
	E->fs = vgw_fs_create(&c);
	assert_non_null(E->fs);
	t_do_init();
	i0 = vgw_fs_stats(E->fs)->inline_ops;
	u0 = vgw_fs_stats(E->fs)->uring_ops;
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(t_lookup(1, name, &e), 0);
		assert_int_equal(t_getattr(e.nodeid, &a), 0);
		/* the same answer wherever it was read */
		assert_int_equal(a.ino, e.attr.ino);
		assert_int_equal(a.mode, e.attr.mode);
		assert_int_equal(a.nlink, e.attr.nlink);
	}
	*inl = vgw_fs_stats(E->fs)->inline_ops - i0;
	*uring = vgw_fs_stats(E->fs)->uring_ops - u0;
	b = vgw_fs_stats(E->fs)->inline_backoffs;
	vgw_fs_destroy(E->fs);
	E->fs = keep;
	return b;
}

/* The attributes of an inode held open are read on the poller where its
 * file system answers from memory (a disk's, a tmpfs share), through
 * io_uring elsewhere (here procfs: no disk, not a known local one); and
 * through io_uring for a while once the poller's calls take too long (a
 * limit of 10 ns: the mean is over it at the third timed call, the
 * 17th). */
static void
test_fstat_inline(void **state)
{
	char shm[] = "/dev/shm/vgw-fstat-XXXXXX", f[64];
	uint64_t inl, uring;
	struct stat st;
	int fd;

	(void)state;
	/* E's share, under /tmp: on a disk here */
	assert_int_equal(stat(E->shared, &st), 0);
	t_write_host("f", "x");
	assert_int_equal(t_fstat_where(E->shared, "f", 0, 1, &inl, &uring), 0);
	if (major(st.st_dev) != 0)
		assert_int_equal(inl, 2); /* LOOKUP's and GETATTR's */
	else
		print_message("test_fstat_inline: /tmp is on no disk: its part not checked\n");
	/* tmpfs */
	assert_non_null(mkdtemp(shm));
	snprintf(f, sizeof(f), "%s/f", shm);
	fd = open(f, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(t_fstat_where(shm, "f", 0, 1, &inl, &uring), 0);
	assert_int_equal(inl, 2);
	assert_int_equal(uring, 1); /* LOOKUP's open */
	/* too slow: 40 LOOKUP and GETATTR, 17 statx inline (the last found
	 * the mean over), one back-off, the other 63 through io_uring with
	 * the 40 opens */
	assert_int_equal(t_fstat_where(shm, "f", 10, 40, &inl, &uring), 1);
	assert_int_equal(inl, 17);
	assert_int_equal(uring, 40 + 63);
	unlink(f);
	rmdir(shm);
	/* procfs: every statx on io_uring */
	assert_int_equal(t_fstat_where("/proc/sys", "kernel", 0, 1, &inl, &uring), 0);
	assert_int_equal(inl, 0);
	assert_int_equal(uring, 3);
}

static const struct t_case t_cases[] = {
	T_CASE(test_init),
	T_CASE(test_enosys),
	T_CASE(test_lookup_getattr),
	T_CASE(test_forget),
	T_CASE(test_create_write_read),
	T_CASE(test_namespace),
	T_CASE(test_statfs),
	T_CASE(test_setattr),
	T_CASE(test_xattr),
	T_CASE(test_locks),
	T_CASE(test_out_of_order),
	T_CASE(test_fd_budget),
};

int
main(void)
{
	const struct CMUnitTest misc[] = {
		T_URING(test_busy),
		T_URING(test_tables),
		T_URING(test_fstat_inline),
	};
	int rc = t_run_both("fs", t_cases, FS_ARRAY_LEN(t_cases));

	rc |= cmocka_run_group_tests_name("fs_misc", misc, NULL, NULL);
	return rc;
}
