/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-fs FUSE engine (lib/fs): the sandbox. Names and
 * symlinks that lead out of the shared directory, bogus node ids and file
 * handles, malformed requests. Helpers: test_fs_common.h. */

#include "test_fs_common.h"

/* ---- escape attempts and malformed requests ---- */

static void
test_escape_names(void **state)
{
	struct fuse_entry_out e;
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct fuse_rename_in rn = { .newdir = 1 };
	struct fuse_link_in li;
	char longname[300];
	uint64_t fh;

	(void)state;
	t_do_init();
	/* ".." from the root stays at the root */
	assert_int_equal(t_lookup(1, "..", &e), 0);
	assert_int_equal(e.nodeid, 1);
	assert_int_equal(e.attr.ino, e.attr.ino);
	{
		struct stat st;

		stat(E->shared, &st);
		assert_int_equal(e.attr.ino, st.st_ino);
	}
	/* names with '/', absolute-looking names, empty names */
	assert_int_equal(t_lookup(1, "../canary", &e), -EINVAL);
	assert_int_equal(t_lookup(1, "/etc/passwd", &e), -EINVAL);
	assert_int_equal(t_lookup(1, "a/b", &e), -EINVAL);
	assert_int_equal(t_lookup(1, "", &e), -EINVAL);
	assert_int_equal(t_mkdir(1, "../outside/x", 0755, &e), -EINVAL);
	assert_int_equal(t_mkdir(1, "..", 0755, &e), -EINVAL);
	assert_int_equal(t_mkdir(1, ".", 0755, &e), -EINVAL);
	assert_int_equal(t_create(1, "../canary", O_RDWR | O_TRUNC, 0644, &e, &fh), -EINVAL);
	assert_int_equal(t_create(1, "/tmp/evil", O_RDWR, 0644, &e, &fh), -EINVAL);
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "../canary", NULL), -EINVAL);
	assert_int_equal(t_simple(FUSE_RMDIR, 1, NULL, 0, "..", NULL), -EINVAL);
	assert_int_equal(t_simple(FUSE_RMDIR, 1, NULL, 0, "../outside", NULL), -EINVAL);
	assert_int_equal(t_entry_op(FUSE_SYMLINK, 1, NULL, 0, "../s", "x", &e), -EINVAL);
	/* oversized names */
	memset(longname, 'n', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(t_lookup(1, longname, &e), -ENAMETOOLONG);
	assert_int_equal(t_mkdir(1, longname, 0755, &e), -ENAMETOOLONG);
	/* a name without its NUL */
	{
		struct t_req *t = t_new(FUSE_MKDIR, 1);

		t_add(t, &mi, sizeof(mi));
		t_add(t, "abc", 3);
		assert_int_equal(t_run(t), -EINVAL);
		t_free(t);
		assert_false(t_host_exists("abc"));
	}
	/* rename into and out of the root's parent */
	t_write_host("in", "x");
	assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "in", "../escaped"), -EINVAL);
	assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "../canary", "stolen"), -EINVAL);
	assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "..", "stolen"), -EINVAL);
	rn.newdir = 0x123456789ULL;
	assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "in", "x"), -ENOENT);
	assert_true(t_host_exists("in"));
	/* hard link attempts: bogus source, names with '/' */
	li.oldnodeid = 0xfeed;
	assert_int_equal(t_entry_op(FUSE_LINK, 1, &li, sizeof(li), "l", NULL, &e), -ENOENT);
	assert_int_equal(t_lookup(1, "in", &e), 0);
	li.oldnodeid = e.nodeid;
	assert_int_equal(t_entry_op(FUSE_LINK, 1, &li, sizeof(li), "../outside/l", NULL, &e),
			 -EINVAL);
	assert_int_equal(t_entry_op(FUSE_LINK, 1, &li, sizeof(li), "/tmp/l", NULL, &e), -EINVAL);
}

static void
test_escape_symlinks(void **state)
{
	struct fuse_entry_out e, d, x;
	struct fuse_setattr_in sa;
	struct fuse_mkdir_in mi = { .mode = 0755 };
	char p[PATH_MAX], q[PATH_MAX];
	struct stat pw0, pw1;
	uint64_t fh;

	(void)state;
	t_do_init();
	assert_int_equal(stat("/etc/passwd", &pw0), 0);
	/* host-made symlinks out of the share */
	t_path(p, "to_canary");
	assert_int_equal(symlink(E->canary, p), 0);
	t_path(p, "to_canary_rel");
	assert_int_equal(symlink("../canary", p), 0);
	t_path(p, "to_passwd");
	assert_int_equal(symlink("/etc/passwd", p), 0);
	t_path(p, "to_outside");
	snprintf(q, sizeof(q), "%s/outside", E->base);
	assert_int_equal(symlink(q, p), 0);
	/* a guest-made one: stored as given */
	assert_int_equal(t_entry_op(FUSE_SYMLINK, 1, NULL, 0, "g_up", "../../../../etc", &x), 0);

	const char *links[] = { "to_canary", "to_canary_rel", "to_passwd", "to_outside", "g_up" };

	for (unsigned int i = 0; i < 5; i++) {
		struct fuse_create_in ci = { .flags = O_RDWR | O_TRUNC, .mode = 0644 };
		struct t_req *t;

		/* LOOKUP gives the link itself */
		assert_int_equal(t_lookup(1, links[i], &e), 0);
		assert_true(S_ISLNK(e.attr.mode));
		/* OPEN through it is refused */
		assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDWR | O_TRUNC, &fh), -EPERM);
		assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDONLY, &fh), -EPERM);
		assert_int_equal(t_open(FUSE_OPENDIR, e.nodeid, O_RDONLY, &fh), -ENOTDIR);
		/* as a parent */
		assert_int_equal(t_lookup(e.nodeid, "passwd", &d), -ENOTDIR);
		assert_int_equal(t_mkdir(e.nodeid, "x", 0755, &d), -ENOTDIR);
		/* CREATE over it does not follow it */
		t = t_new(FUSE_CREATE, 1);
		t_add(t, &ci, sizeof(ci));
		t_add_str(t, links[i]);
		assert_int_equal(t_run(t), -ELOOP);
		t_free(t);
		/* SETATTR size / mode / times on the link */
		memset(&sa, 0, sizeof(sa));
		sa.valid = FATTR_SIZE;
		assert_int_equal(t_simple(FUSE_SETATTR, e.nodeid, &sa, sizeof(sa), NULL, NULL),
				 -EINVAL);
		sa.valid = FATTR_MODE;
		sa.mode = 0777;
		assert_true(t_simple(FUSE_SETATTR, e.nodeid, &sa, sizeof(sa), NULL, NULL) != 0);
		sa.valid = FATTR_MTIME;
		sa.mtime = 1;
		t_simple(FUSE_SETATTR, e.nodeid, &sa, sizeof(sa), NULL, NULL);
		/* a hard link to the link links the link, not its target */
		{
			struct fuse_link_in li = { .oldnodeid = e.nodeid };
			char nm[32];

			snprintf(nm, sizeof(nm), "hl%u", i);
			assert_int_equal(t_entry_op(FUSE_LINK, 1, &li, sizeof(li), nm, NULL, &d),
					 0);
			assert_true(S_ISLNK(d.attr.mode));
		}
		/* READLINK returns it, never resolved */
		t = t_new(FUSE_READLINK, e.nodeid);
		assert_int_equal(t_run(t), 0);
		t_free(t);
	}
	/* a directory symlink as the parent of mkdir via its name */
	{
		struct t_req *t = t_new(FUSE_MKDIR, 1);

		t_add(t, &mi, sizeof(mi));
		t_add_str(t, "to_outside");
		assert_int_equal(t_run(t), -EEXIST);
		t_free(t);
	}
	/* RENAME/UNLINK of a link act on the link */
	{
		struct fuse_rename_in rn = { .newdir = 1 };

		assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "to_canary", "moved"),
				 0);
		assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "moved", NULL), 0);
	}
	assert_int_equal(stat("/etc/passwd", &pw1), 0);
	assert_int_equal(pw0.st_mtim.tv_sec, pw1.st_mtim.tv_sec);
	assert_int_equal(pw0.st_mtim.tv_nsec, pw1.st_mtim.tv_nsec);
	assert_int_equal(pw0.st_size, pw1.st_size);
	assert_int_equal(pw0.st_mode, pw1.st_mode);
	assert_int_equal(pw0.st_nlink, pw1.st_nlink);
	/* a directory swapped for a symlink after LOOKUP: the O_PATH fd keeps
	 * the old directory; a new LOOKUP sees the link */
	t_path(p, "dir");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(t_lookup(1, "dir", &d), 0);
	assert_int_equal(rmdir(p), 0);
	snprintf(q, sizeof(q), "%s/outside", E->base);
	assert_int_equal(symlink(q, p), 0);
	assert_int_equal(t_mkdir(d.nodeid, "x", 0755, &x), -ENOENT);
	assert_int_equal(t_lookup(1, "dir", &e), 0);
	assert_true(S_ISLNK(e.attr.mode));
}

static void
test_bogus_ids(void **state)
{
	struct fuse_entry_out e;
	struct fuse_attr a;
	uint64_t fh, dfh;
	uint8_t buf[16];
	const uint64_t bad[] = {
		0, 2, 3, 0xffffffffULL, 0xffffffffffffffffULL, (7ULL << 32) | 1, 1ULL << 32
	};

	(void)state;
	t_do_init();
	t_write_host("f", "x");
	assert_int_equal(t_lookup(1, "f", &e), 0);
	for (unsigned int i = 0; i < FS_ARRAY_LEN(bad); i++) {
		if (bad[i] == e.nodeid)
			continue;
		assert_int_equal(t_getattr(bad[i], &a), -ENOENT);
		assert_int_equal(t_lookup(bad[i], "f", &e), -ENOENT);
		assert_int_equal(t_open(FUSE_OPEN, bad[i], O_RDONLY, &fh), -ENOENT);
		assert_int_equal(t_read(bad[i], 0, buf, 1), -EBADF);
		assert_int_equal(t_write(bad[i], 0, "x", 1), -EBADF);
		assert_int_equal(t_release(FUSE_RELEASE, bad[i]), -EBADF);
		assert_int_equal(t_release(FUSE_RELEASEDIR, bad[i]), -EBADF);
	}
	/* stale generation of a real index */
	assert_int_equal(t_getattr(e.nodeid + (1ULL << 32), &a), -ENOENT);
	/* a file handle used as a dir handle and the reverse */
	assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDONLY, &fh), 0);
	assert_int_equal(t_open(FUSE_OPENDIR, 1, O_RDONLY, &dfh), 0);
	assert_int_equal(t_read(dfh, 0, buf, 1), -EBADF);
	{
		struct t_req *t = t_read_req(FUSE_READDIR, fh, 0, 4096);

		assert_int_equal(t_run(t), -EBADF);
		t_free(t);
	}
	assert_int_equal(t_read(fh + (1ULL << 32), 0, buf, 1), -EBADF);
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	assert_int_equal(t_release(FUSE_RELEASEDIR, dfh), 0);
}

static void
test_malformed(void **state)
{
	struct fuse_entry_out e;
	struct fuse_write_in wi;
	struct fuse_batch_forget_in bi = { .count = 0xffffffff };
	struct t_req *t;
	uint64_t fh;

	(void)state;
	t_do_init();
	/* hdr.len larger than the buffer */
	t = t_new(FUSE_LOOKUP, 1);
	t_add_str(t, "x");
	t_submit_raw(t, t->in_len + 100);
	t_wait(t);
	assert_int_equal(t->oh.error, -EINVAL);
	t_free(t);
	/* hdr.len smaller than the header */
	t = t_new(FUSE_GETATTR, 1);
	t_submit_raw(t, 10);
	t_wait(t);
	assert_int_equal(t->oh.error, -EINVAL);
	t_free(t);
	/* fewer IN bytes than a header: unique unknown, still an answer */
	t = t_new(FUSE_GETATTR, 1);
	t->in_len = 20;
	t_submit_raw(t, 20);
	t_wait(t);
	assert_int_equal(t->oh.error, -EINVAL);
	assert_int_equal(t->oh.unique, 0);
	t_free(t);
	/* no IN at all */
	{
		struct vgw_fs_req r = { 0 };
		struct vgw_fs_req *done[1];
		uint8_t out[16];
		struct iovec ov = { out, sizeof(out) };

		r.out = &ov;
		r.out_cnt = 1;
		assert_int_equal(vgw_fs_submit(E->fs, &r), 0);
		while (vgw_fs_poll(E->fs, done, 1) == 0)
			;
		assert_ptr_equal(done[0], &r);
		assert_int_equal(r.error, -EINVAL);
		assert_int_equal(r.out_len, 16);
		assert_int_equal(vgw_fs_submit(E->fs, NULL), -EINVAL);
	}
	/* args shorter than the fixed struct */
	assert_int_equal(t_simple(FUSE_MKDIR, 1, "ab", 2, NULL, NULL), -EINVAL);
	assert_int_equal(t_simple(FUSE_READ, 1, "ab", 2, NULL, NULL), -EINVAL);
	assert_int_equal(t_simple(FUSE_RENAME2, 1, "ab", 2, NULL, NULL), -EINVAL);
	assert_int_equal(t_simple(FUSE_SETATTR, 1, "ab", 2, NULL, NULL), -EINVAL);
	assert_int_equal(t_simple(FUSE_INIT, 1, "ab", 2, NULL, NULL), -EINVAL);
	assert_int_equal(t_simple(FUSE_LOOKUP, 1, NULL, 0, NULL, NULL), -EINVAL);
	/* WRITE whose size is larger than its data */
	assert_int_equal(t_create(1, "w", O_RDWR, 0644, &e, &fh), 0);
	wi = (struct fuse_write_in){ .fh = fh, .offset = 0, .size = 1000 };
	t = t_new(FUSE_WRITE, e.nodeid);
	t_add(t, &wi, sizeof(wi));
	t_add(t, "abc", 3);
	assert_int_equal(t_run(t), -EINVAL);
	t_free(t);
	wi.size = 0xffffffff;
	t = t_new(FUSE_WRITE, e.nodeid);
	t_add(t, &wi, sizeof(wi));
	assert_int_equal(t_run(t), -EINVAL);
	t_free(t);
	/* negative offsets */
	wi = (struct fuse_write_in){ .fh = fh, .offset = (uint64_t)-5, .size = 1 };
	t = t_new(FUSE_WRITE, e.nodeid);
	t_add(t, &wi, sizeof(wi));
	t_add(t, "a", 1);
	assert_int_equal(t_run(t), -EINVAL);
	t_free(t);
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	/* BATCH_FORGET with a huge count: forgets what is there, no reply */
	t = t_new(FUSE_BATCH_FORGET, 0);
	t_add(t, &bi, sizeof(bi));
	t_run(t);
	assert_int_equal(t->req.out_len, 0);
	t_free(t);
	/* OUT too small: for a header -> nothing written; for the body ->
	 * an error reply */
	t = t_new(FUSE_GETATTR, 1);
	t_add(t, &(struct fuse_getattr_in){ 0 }, sizeof(struct fuse_getattr_in));
	t->out_size = 8;
	t_submit_raw(t, t->in_len);
	t_wait(t);
	assert_int_equal(t->req.out_len, 0);
	t_free(t);
	t = t_new(FUSE_GETATTR, 1);
	t_add(t, &(struct fuse_getattr_in){ 0 }, sizeof(struct fuse_getattr_in));
	t->out_size = 40;
	t_submit_raw(t, t->in_len);
	t_wait(t);
	assert_int_equal(t->req.out_len, 16);
	assert_int_equal(t->oh.error, -EINVAL);
	t_free(t);
	/* a READ asking more than the OUT space is short, not an overflow */
	t_write_host("r", "0123456789");
	assert_int_equal(t_lookup(1, "r", &e), 0);
	assert_int_equal(t_open(FUSE_OPEN, e.nodeid, O_RDONLY, &fh), 0);
	t = t_read_req(FUSE_READ, fh, 0, 4);
	((struct fuse_read_in *)(t->in + sizeof(struct fuse_in_header)))->size = 1 << 30;
	t->out[16 + 4] = 0xaa;
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->body_len, 4);
	assert_int_equal(t->out[16 + 4], 0xaa);
	t_free(t);
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	assert_true(vgw_fs_stats(E->fs)->malformed >= 3);
}

/* Nothing may follow a request's last name: "in\0junk" is not "in". */
static void
test_escape_after_nul(void **state)
{
	struct fuse_create_in ci = { .flags = O_RDWR | O_TRUNC, .mode = 0644 };
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct fuse_rename_in rn = { .newdir = 1 };
	struct fuse_getxattr_in gi = { .size = 64 };
	struct fuse_setxattr_in si = { .size = 1 };
	struct fuse_link_in li;
	struct fuse_entry_out e;
	char p[PATH_MAX], buf[16];
	struct t_req *t;
	FILE *fp;

	(void)state;
	t_do_init();
	t_write_host("in", "data");
	assert_int_equal(t_simple(FUSE_LOOKUP, 1, NULL, 0, "in", "junk"), -EINVAL);
	assert_int_equal(t_simple(FUSE_CREATE, 1, &ci, sizeof(ci), "in", "junk"), -EINVAL);
	assert_int_equal(t_simple(FUSE_MKDIR, 1, &mi, sizeof(mi), "d", "junk"), -EINVAL);
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "in", "junk"), -EINVAL);
	assert_int_equal(t_simple(FUSE_RMDIR, 1, NULL, 0, "in", "junk"), -EINVAL);
	assert_int_equal(t_simple(FUSE_GETXATTR, 1, &gi, sizeof(gi), "user.x", "junk"), -EINVAL);
	assert_int_equal(t_simple(FUSE_REMOVEXATTR, 1, NULL, 0, "user.x", "junk"), -EINVAL);
	/* RENAME and SYMLINK: a third string; SETXATTR: bytes after the value */
	t = t_new(FUSE_RENAME, 1);
	t_add(t, &rn, sizeof(rn));
	t_add_str(t, "in");
	t_add_str(t, "out");
	t_add_str(t, "junk");
	assert_int_equal(t_run(t), -EINVAL);
	t_free(t);
	t = t_new(FUSE_SYMLINK, 1);
	t_add_str(t, "s");
	t_add_str(t, "in");
	t_add_str(t, "junk");
	assert_int_equal(t_run(t), -EINVAL);
	t_free(t);
	t = t_new(FUSE_SETXATTR, 1);
	t_add(t, &si, FUSE_COMPAT_SETXATTR_IN_SIZE);
	t_add_str(t, "user.x");
	t_add(t, "vjunk", 5);
	assert_int_equal(t_run(t), -EINVAL);
	t_free(t);
	assert_int_equal(t_lookup(1, "in", &e), 0);
	li.oldnodeid = e.nodeid;
	assert_int_equal(t_simple(FUSE_LINK, 1, &li, sizeof(li), "l", "junk"), -EINVAL);
	assert_int_equal(t_forget(e.nodeid, 1), 0);
	/* nothing made, moved, removed or truncated */
	assert_false(t_host_exists("d"));
	assert_false(t_host_exists("out"));
	assert_false(t_host_exists("s"));
	assert_false(t_host_exists("l"));
	t_path(p, "in");
	fp = fopen(p, "r");
	assert_non_null(fp);
	assert_int_equal(fread(buf, 1, sizeof(buf), fp), 4);
	fclose(fp);
	assert_memory_equal(buf, "data", 4);
	/* without the junk they do what they say */
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "in", NULL), 0);
	assert_false(t_host_exists("in"));
}

/* GETXATTR and LISTXATTR asking for a value with room for the reply
 * header alone: ERANGE, not an empty value. */
static void
test_xattr_no_room(void **state)
{
	struct fuse_setxattr_in si = { .size = 4 };
	struct fuse_getxattr_in gi = { .size = 64 };
	struct fuse_entry_out e;
	struct t_req *t;
	int rc;

	(void)state;
	t_do_init();
	t_write_host("x", "data");
	assert_int_equal(t_lookup(1, "x", &e), 0);
	t = t_new(FUSE_SETXATTR, e.nodeid);
	t_add(t, &si, FUSE_COMPAT_SETXATTR_IN_SIZE);
	t_add_str(t, "user.v");
	t_add(t, "abcd", 4);
	rc = t_run(t);
	t_free(t);
	if (rc == -EOPNOTSUPP)
		return; /* no user xattrs where the test runs */
	assert_int_equal(rc, 0);
	for (uint32_t op = FUSE_GETXATTR; op <= FUSE_LISTXATTR; op++) {
		t = t_new(op, e.nodeid);
		t_add(t, &gi, sizeof(gi));
		if (op == FUSE_GETXATTR)
			t_add_str(t, "user.v");
		t_out(t, sizeof(struct fuse_out_header));
		assert_int_equal(t_run(t), -ERANGE);
		t_free(t);
	}
	t = t_new(FUSE_GETXATTR, e.nodeid);
	t_add(t, &gi, sizeof(gi));
	t_add_str(t, "user.v");
	assert_int_equal(t_run(t), 0);
	assert_int_equal(t->body_len, 4);
	assert_memory_equal(t->body, "abcd", 4);
	t_free(t);
	assert_int_equal(t_forget(e.nodeid, 1), 0);
}

static const struct t_case t_cases[] = {
	T_CASE(test_escape_names),    T_CASE(test_escape_after_nul), T_CASE(test_xattr_no_room),
	T_CASE(test_escape_symlinks), T_CASE(test_bogus_ids),	     T_CASE(test_malformed),
};

int
main(void)
{
	return t_run_both("fs_escape", t_cases, FS_ARRAY_LEN(t_cases));
}
