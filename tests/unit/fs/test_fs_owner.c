/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-fs FUSE engine (lib/fs): the owner of what the
 * guest creates. Helpers: test_fs_common.h. */

#include "test_fs_common.h"

/* New entries belong to the guest process that made them (we run as
 * root in CI; unprivileged, the engine cannot give files away, and says
 * so by keeping them its own). */
static void
t_assert_owner(const char *rel, uid_t uid, gid_t gid)
{
	char p[512];
	struct stat st;

	t_path(p, rel);
	assert_int_equal(lstat(p, &st), 0);
	if (geteuid() != 0) {
		uid = geteuid();
		gid = getegid();
	}
	if (st.st_uid != uid || st.st_gid != gid)
		fail_msg("%s: owner %u:%u, expected %u:%u", rel, (unsigned int)st.st_uid,
			 (unsigned int)st.st_gid, (unsigned int)uid, (unsigned int)gid);
}

static void
test_owner(void **state)
{
	struct fuse_mknod_in mk = { .mode = S_IFIFO | 0644 };
	struct fuse_link_in li;
	struct fuse_entry_out e, f, g;
	char p[512];
	uint64_t fh;

	(void)state;
	t_do_init();
	E->uid = 1234;
	E->gid = 2345;
	assert_int_equal(t_mkdir(1, "od", 0755, &e), 0);
	t_assert_owner("od", 1234, 2345);
	assert_int_equal(t_create(1, "of", O_CREAT | O_EXCL | O_RDWR, 0644, &f, &fh), 0);
	t_assert_owner("of", 1234, 2345);
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	assert_int_equal(t_entry_op(FUSE_SYMLINK, 1, NULL, 0, "ol", "of", &g), 0);
	t_assert_owner("ol", 1234, 2345);
	assert_int_equal(t_entry_op(FUSE_MKNOD, 1, &mk, sizeof(mk), "on", NULL, &g), 0);
	t_assert_owner("on", 1234, 2345);
	/* the entry reply tells the guest the owner it now has */
	if (geteuid() == 0) {
		assert_int_equal(e.attr.uid, 1234);
		assert_int_equal(f.attr.gid, 2345);
	}
	/* a hard link is the same file: its owner does not change */
	E->uid = 3456;
	E->gid = 4567;
	li.oldnodeid = f.nodeid;
	assert_int_equal(t_entry_op(FUSE_LINK, 1, &li, sizeof(li), "ohard", NULL, &g), 0);
	t_assert_owner("ohard", 1234, 2345);
	/* CREATE of an existing file (no O_EXCL) leaves it as it was */
	assert_int_equal(t_create(1, "of", O_CREAT | O_RDWR, 0644, &g, &fh), 0);
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	t_assert_owner("of", 1234, 2345);
	/* a set-group-ID directory gives new entries its group */
	t_path(p, "sg");
	assert_int_equal(mkdir(p, 0775), 0);
	assert_int_equal(chown(p, -1, 777) == 0 || geteuid() != 0, true);
	assert_int_equal(chmod(p, 02775), 0);
	assert_int_equal(t_lookup(1, "sg", &e), 0);
	assert_int_equal(t_mkdir(e.nodeid, "sub", 0755, &g), 0);
	t_assert_owner("sg/sub", 3456, 777);
	/* the guest's root: the gateway's own */
	E->uid = 0;
	E->gid = 0;
	assert_int_equal(t_mkdir(1, "rootdir", 0755, &g), 0);
	t_assert_owner("rootdir", 0, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T_URING(test_owner),
		T_HELPERS(test_owner),
	};

	return cmocka_run_group_tests_name("fs_owner", tests, NULL, NULL);
}
