/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-fs FUSE engine (lib/fs): the session state.
 * Saved on one engine and loaded into a fresh one on the same directory,
 * with names gone or moved meanwhile, handcrafted streams that must be
 * rejected, a busy engine, 20,000 inodes. Helpers: test_fs_common.h. */

#include <sys/resource.h>

#include "test_fs_common.h"
#include "vgw_state.h"

/* ---- session state: save on one engine, load into a fresh one ---- */

static const uint16_t t_state_known[] = { VGW_FS_SEC_SESSION, VGW_FS_SEC_INODES, VGW_FS_SEC_HANDLES,
					  VGW_FS_SEC_SLOTS };

static void
t_state_save(void **buf, size_t *len)
{
	struct vgw_state_writer w;

	assert_int_equal(vgw_state_writer_init(&w, VGW_FS_STATE_DEV_TYPE, 0), 0);
	assert_int_equal(vgw_fs_state_save(E->fs, &w), 0);
	assert_int_equal(vgw_state_finish(&w, buf, len), 0);
}

/* The host directory "ls" with 40 empty files, entry-00 .. entry-39. */
static void
t_make_ls(void)
{
	char nm[32];

	t_mkdir_host("ls");
	for (unsigned int i = 0; i < 40; i++) {
		snprintf(nm, sizeof(nm), "ls/entry-%02u", i);
		t_write_host(nm, "");
	}
}

/* Load into E->fs through a reader of the caller's, as a device with
 * sections of its own would. */
static int
t_state_load(const void *buf, size_t len, char *why, size_t why_len)
{
	const struct vgw_state_expect exp = {
		.dev_type = VGW_FS_STATE_DEV_TYPE,
		.known = t_state_known,
		.n_known = FS_ARRAY_LEN(t_state_known),
	};
	struct vgw_state_reader r;
	int rc;

	rc = vgw_state_reader_init(&r, buf, len, &exp);
	if (rc < 0) {
		snprintf(why, why_len, "%s", vgw_state_reader_reason(&r));
		return rc;
	}
	return vgw_fs_state_load(E->fs, &r, why, why_len);
}

/* E->fs becomes a new engine on the same directory; the old one goes. */
static void
t_state_switch(void)
{
	vgw_fs_destroy(E->fs);
	E->fs = t_engine();
	assert_non_null(E->fs);
}

static void
t_assert_host(const char *rel, const char *want)
{
	char p[PATH_MAX], buf[256] = { 0 };
	ssize_t n;
	int fd;

	t_path(p, rel);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	assert_string_equal(buf, want);
}

/* The tables agree with themselves: every used inode in a hash chain
 * (stale ones too, under a mount id no lookup has) and the root findable,
 * every other slot below the bump on the free list, the counts right;
 * likewise for handles. */
static void
t_tables_check(void)
{
	const struct vgw_fs *fs = E->fs;
	const struct fs_region_hdr *h = fs->hdr;
	const struct fs_inode *root = &fs->inodes[FS_ROOT_IDX];
	uint32_t i, n, used = 0, hashed = 0;

	for (i = 0; i < h->hash_size; i++)
		for (n = fs->hash[i]; n != 0; n = fs->inodes[n].hnext) {
			assert_true(n < h->inode_bump);
			assert_int_equal(fs->inodes[n].state, FS_ENT_USED);
			hashed++;
		}
	for (i = FS_ROOT_IDX; i < h->inode_bump; i++) {
		used += fs->inodes[i].state == FS_ENT_USED;
		if (fs->inodes[i].state == FS_ENT_USED && fs->ino_fd[i] < 0)
			assert_int_equal(fs->inodes[i].mnt_id, UINT64_MAX);
	}
	assert_int_equal(used, h->n_inodes);
	assert_int_equal(hashed, used);
	assert_int_equal(fs_inode_find(fs, root->dev, root->ino, root->mnt_id), FS_ROOT_IDX);
	for (i = h->inode_free, n = 0; i != 0; i = fs->inodes[i].hnext, n++) {
		assert_true(i > FS_ROOT_IDX && i < h->inode_bump);
		assert_int_equal(fs->inodes[i].state, FS_ENT_FREE);
	}
	assert_int_equal(n, h->inode_bump - FS_ROOT_IDX - h->n_inodes);
	for (i = h->handle_free, n = 0; i != 0; i = fs->handles[i].next, n++) {
		assert_true(i >= 1 && i < h->handle_bump);
		assert_int_equal(fs->handles[i].state, FS_ENT_FREE);
	}
	assert_int_equal(n, h->handle_bump - 1 - h->n_handles);
}

static void
test_state_roundtrip(void **state)
{
	struct fuse_entry_out d1, d1b, d2, f, r, ls, cr, nw, again, tmp, tmp2;
	uint64_t fh_r, fh_f, fh_d, fh_c, fh_new, off = 0;
	char nm[32], buf[64], why[VGW_STATE_REASON_MAX];
	unsigned int n = 0, ni, nh, i;
	char *names[64];
	struct fuse_attr a;
	size_t len;
	void *st;

	(void)state;
	t_do_init();
	t_mkdir_host("d1");
	t_mkdir_host("d1/d2");
	t_write_host("d1/d2/f", "nested file");
	t_write_host("r.txt", "read me");
	t_write_host("tmp", "");
	t_write_host("tmp2", "");
	t_make_ls();

	/* engine A: a nested lookup whose file sits at a lower index than
	 * its parents (a slot freed by a FORGET), d1 looked up twice, a
	 * created and written file, files open for reading and for writing,
	 * a directory read partway, a freed slot left behind */
	assert_int_equal(t_lookup(1, "tmp", &tmp), 0);
	assert_int_equal(t_lookup(1, "d1", &d1), 0);
	assert_int_equal(t_lookup(d1.nodeid, "d2", &d2), 0);
	t_forget(tmp.nodeid, 1);
	assert_int_equal(t_lookup(d2.nodeid, "f", &f), 0);
	assert_true((uint32_t)f.nodeid < (uint32_t)d2.nodeid);
	assert_int_equal(t_lookup(1, "d1", &d1b), 0);
	assert_int_equal(d1b.nodeid, d1.nodeid);
	assert_int_equal(
		t_create(d1.nodeid, "created", O_CREAT | O_EXCL | O_RDWR, 0644, &cr, &fh_c), 0);
	assert_int_equal(t_write(fh_c, 0, "created data", 12), 12);
	assert_int_equal(t_lookup(1, "r.txt", &r), 0);
	assert_int_equal(t_open(FUSE_OPEN, r.nodeid, O_RDONLY, &fh_r), 0);
	assert_int_equal(t_open(FUSE_OPEN, f.nodeid, O_WRONLY, &fh_f), 0);
	assert_int_equal(t_lookup(1, "ls", &ls), 0);
	assert_int_equal(t_open(FUSE_OPENDIR, ls.nodeid, O_RDONLY, &fh_d), 0);
	assert_true(t_readdir_chunk(fh_d, 0, 256, names, &n, &off) > 0);
	assert_true(n > 0 && n < 40);
	assert_int_equal(t_lookup(1, "tmp2", &tmp2), 0);
	t_forget(tmp2.nodeid, 1);
	ni = vgw_fs_inode_count(E->fs);
	nh = vgw_fs_handle_count(E->fs);
	assert_int_equal(ni, 7); /* root d1 d2 f created r.txt ls */
	assert_int_equal(nh, 4);
	t_state_save(&st, &len);

	/* engine B on the same directory; A goes */
	t_state_switch();
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	free(st);
	assert_int_equal(vgw_fs_inode_count(E->fs), ni);
	assert_int_equal(vgw_fs_handle_count(E->fs), nh);
	assert_int_equal(vgw_fs_stats(E->fs)->state_stale_inodes, 0);
	assert_int_equal(vgw_fs_stats(E->fs)->state_stale_handles, 0);
	assert_int_equal(vgw_fs_stats(E->fs)->state_changed_inodes, 0);
	t_tables_check();

	/* A's node ids and fhs, and no INIT on B */
	assert_int_equal(t_getattr(f.nodeid, &a), 0);
	t_assert_attr_matches(&a, "d1/d2/f");
	assert_int_equal(t_getattr(d1.nodeid, &a), 0);
	t_assert_attr_matches(&a, "d1");
	assert_int_equal(t_read(fh_r, 0, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "read me", 7);
	assert_int_equal(t_read(fh_c, 0, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "created data", 12);
	assert_int_equal(t_write(fh_f, 0, "NESTED", 6), 6);
	t_assert_host("d1/d2/f", "NESTED file");
	assert_int_equal(t_write(fh_c, 12, "+more", 5), 5);
	t_assert_host("d1/created", "created data+more");
	assert_int_equal(t_read(fh_f, 0, buf, sizeof(buf)), -EBADF); /* O_WRONLY */
	/* the directory continues where A stopped: every entry once */
	while (t_readdir_chunk(fh_d, off, 256, names, &n, &off) > 0)
		;
	assert_int_equal(n, 40);
	qsort(names, n, sizeof(char *), t_cmp_str);
	for (i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "entry-%02u", i);
		assert_string_equal(names[i], nm);
		free(names[i]);
	}
	/* the hash finds loaded inodes: the same node id again */
	assert_int_equal(t_lookup(1, "d1", &again), 0);
	assert_int_equal(again.nodeid, d1.nodeid);
	/* a new name takes the free slot tmp2 had, a generation later */
	t_write_host("d1/new", "");
	assert_int_equal(t_lookup(d1.nodeid, "new", &nw), 0);
	assert_int_equal((uint32_t)nw.nodeid, (uint32_t)tmp2.nodeid);
	assert_true(nw.nodeid != tmp2.nodeid);
	assert_int_equal(vgw_fs_inode_count(E->fs), ni + 1);
	/* FORGET of a loaded node; its handle stays usable */
	t_forget(f.nodeid, 1);
	assert_int_equal(t_getattr(f.nodeid, &a), -ENOENT);
	assert_int_equal(vgw_fs_inode_count(E->fs), ni);
	assert_int_equal(t_write(fh_f, 6, "!", 1), 1);
	t_assert_host("d1/d2/f", "NESTED!file");
	t_forget(d1.nodeid, 3);
	assert_int_equal(t_getattr(d1.nodeid, &a), -ENOENT);
	assert_int_equal(t_getattr(d2.nodeid, &a), 0);
	/* RELEASE of loaded fhs; new opens take free slots */
	assert_int_equal(t_release(FUSE_RELEASE, fh_r), 0);
	assert_int_equal(t_read(fh_r, 0, buf, sizeof(buf)), -EBADF);
	assert_int_equal(t_release(FUSE_RELEASEDIR, fh_d), 0);
	assert_int_equal(t_open(FUSE_OPEN, r.nodeid, O_RDONLY, &fh_new), 0);
	assert_true(fh_new != fh_r && fh_new != fh_c && fh_new != fh_f && fh_new != fh_d);
	assert_int_equal(t_read(fh_new, 0, buf, sizeof(buf)), 7);
	assert_int_equal(t_release(FUSE_RELEASE, fh_new), 0);
	assert_int_equal(t_release(FUSE_RELEASE, fh_c), 0);
	assert_int_equal(t_release(FUSE_RELEASE, fh_f), 0);
	assert_int_equal(vgw_fs_handle_count(E->fs), 0);
	t_tables_check();
	/* B is not fresh any more */
	t_state_save(&st, &len);
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), -EBUSY);
	free(st);
}

/* A directory read to its end on the source, then rewound on the
 * destination: the guest's next pass lists every entry again. The loaded
 * handle is a fresh open file on the host whose first READDIR is at the
 * end cookie; ext4 (Linux 6.18 seen) then kept its readdir position at the
 * end through the seek back to 0 and answered the rewound READDIR with
 * nothing (found by the e2e fs_migrate scenario). */
static void
test_state_dir_rewind(void **state)
{
	struct fuse_entry_out ls;
	char why[VGW_STATE_REASON_MAX];
	uint64_t fh_d, off = 0, end;
	unsigned int n = 0, i;
	char *names[64];
	size_t len;
	void *st;

	(void)state;
	t_do_init();
	t_make_ls();
	assert_int_equal(t_lookup(1, "ls", &ls), 0);
	assert_int_equal(t_open(FUSE_OPENDIR, ls.nodeid, O_RDONLY, &fh_d), 0);
	while (t_readdir_chunk(fh_d, off, 256, names, &n, &off) > 0)
		;
	assert_int_equal(n, 40);
	for (i = 0; i < n; i++)
		free(names[i]);
	end = off;
	t_state_save(&st, &len);
	t_state_switch();
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), 0);
	free(st);
	/* the end, as on the source; then a rewind */
	n = 0;
	assert_int_equal(t_readdir_chunk(fh_d, end, 256, names, &n, &off), 0);
	off = 0;
	while (t_readdir_chunk(fh_d, off, 256, names, &n, &off) > 0)
		;
	assert_int_equal(n, 40);
	for (i = 0; i < n; i++)
		free(names[i]);
	/* and again */
	n = 0;
	assert_int_equal(t_readdir_chunk(fh_d, end, 256, names, &n, &off), 0);
	off = 0;
	while (t_readdir_chunk(fh_d, off, 256, names, &n, &off) > 0)
		;
	assert_int_equal(n, 40);
	for (i = 0; i < n; i++)
		free(names[i]);
	assert_int_equal(t_release(FUSE_RELEASEDIR, fh_d), 0);
}

/* Names gone on the destination: those inodes (and what is below them)
 * answer ESTALE, the rest works. */
static void
test_state_stale(void **state)
{
	struct fuse_entry_out d, g, k, sub, s, e;
	char p[PATH_MAX], q[PATH_MAX], buf[16], why[VGW_STATE_REASON_MAX];
	const struct vgw_fs_stats *stats;
	uint64_t fh_g, fh_k;
	struct fuse_attr a;
	unsigned int ni;
	size_t len;
	void *st;

	(void)state;
	t_do_init();
	t_mkdir_host("d");
	t_mkdir_host("d/sub");
	t_write_host("d/gone", "gone");
	t_write_host("d/keep", "keep");
	t_write_host("d/sub/s", "s");
	assert_int_equal(t_lookup(1, "d", &d), 0);
	assert_int_equal(t_lookup(d.nodeid, "gone", &g), 0);
	assert_int_equal(t_lookup(d.nodeid, "keep", &k), 0);
	assert_int_equal(t_lookup(d.nodeid, "sub", &sub), 0);
	assert_int_equal(t_lookup(sub.nodeid, "s", &s), 0);
	assert_int_equal(t_open(FUSE_OPEN, g.nodeid, O_RDONLY, &fh_g), 0);
	assert_int_equal(t_open(FUSE_OPEN, k.nodeid, O_RDONLY, &fh_k), 0);
	ni = vgw_fs_inode_count(E->fs);
	t_state_save(&st, &len);
	t_state_switch();
	t_path(p, "d/gone");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(vgw_fs_state_load_buf(E->fs, st, len, why, sizeof(why)), 0);
	free(st);
	stats = vgw_fs_stats(E->fs);
	assert_int_equal(stats->state_stale_inodes, 1);
	assert_int_equal(stats->state_stale_handles, 1);
	assert_int_equal(stats->state_changed_inodes, 0);
	assert_int_equal(vgw_fs_inode_count(E->fs), ni);
	assert_int_equal(vgw_fs_handle_count(E->fs), 2);
	t_tables_check();
	/* the gone one */
	assert_int_equal(t_getattr(g.nodeid, &a), -ESTALE);
	assert_int_equal(t_read(fh_g, 0, buf, sizeof(buf)), -ESTALE);
	assert_int_equal(t_open(FUSE_OPEN, g.nodeid, O_RDONLY, &fh_g), -ESTALE);
	/* the rest */
	assert_int_equal(t_getattr(k.nodeid, &a), 0);
	t_assert_attr_matches(&a, "d/keep");
	assert_int_equal(t_read(fh_k, 0, buf, sizeof(buf)), 4);
	assert_int_equal(t_lookup(sub.nodeid, "s", &e), 0);
	assert_int_equal(e.nodeid, s.nodeid);
	/* released and forgotten like any other */
	assert_int_equal(t_release(FUSE_RELEASE, fh_g), 0);
	t_forget(g.nodeid, 1);
	assert_int_equal(t_getattr(g.nodeid, &a), -ENOENT);
	assert_int_equal(vgw_fs_inode_count(E->fs), ni - 1);
	/* a file by that name again: a node id of its own */
	t_write_host("d/gone", "back");
	assert_int_equal(t_lookup(d.nodeid, "gone", &e), 0);
	assert_true(e.nodeid != g.nodeid);
	t_forget(e.nodeid, 1);

	/* again from B to C, a directory moved away meanwhile: it and its
	 * child are stale, the lookup under it too */
	t_state_save(&st, &len);
	t_state_switch();
	t_path(p, "d/sub");
	t_path(q, "d/moved");
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), 0);
	free(st);
	stats = vgw_fs_stats(E->fs);
	assert_int_equal(stats->state_stale_inodes, 2);
	assert_int_equal(stats->state_stale_handles, 0);
	assert_int_equal(t_getattr(sub.nodeid, &a), -ESTALE);
	assert_int_equal(t_getattr(s.nodeid, &a), -ESTALE);
	assert_int_equal(t_lookup(sub.nodeid, "s", &e), -ESTALE);
	assert_int_equal(t_read(fh_k, 0, buf, sizeof(buf)), 4);
	assert_int_equal(t_lookup(d.nodeid, "moved", &e), 0);
	assert_int_equal(t_lookup(e.nodeid, "s", &e), 0);
	assert_true(e.nodeid != s.nodeid);
}

/* A name that leads elsewhere by the time of the save (replaced behind
 * the guest's back), or an inode whose parent was forgotten: saved
 * without a path, stale on the destination, never another file. */
static void
test_state_moved(void **state)
{
	struct fuse_entry_out a, od, x, k, e;
	char p[PATH_MAX], q[PATH_MAX], why[VGW_STATE_REASON_MAX];
	struct fuse_attr at;
	uint64_t fh;
	size_t len;
	void *st;

	(void)state;
	t_do_init();
	t_write_host("a", "old");
	t_write_host("keep", "keep");
	t_mkdir_host("od");
	t_write_host("od/x", "x");
	assert_int_equal(t_lookup(1, "a", &a), 0);
	assert_int_equal(t_open(FUSE_OPEN, a.nodeid, O_RDWR, &fh), 0);
	assert_int_equal(t_lookup(1, "keep", &k), 0);
	assert_int_equal(t_lookup(1, "od", &od), 0);
	assert_int_equal(t_lookup(od.nodeid, "x", &x), 0);
	t_forget(od.nodeid, 1);
	t_path(p, "a");
	t_path(q, "b");
	assert_int_equal(rename(p, q), 0);
	t_write_host("a", "new");
	t_state_save(&st, &len);
	t_state_switch();
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), 0);
	free(st);
	assert_int_equal(vgw_fs_stats(E->fs)->state_stale_inodes, 2);
	assert_int_equal(vgw_fs_stats(E->fs)->state_stale_handles, 1);
	t_tables_check();
	assert_int_equal(t_getattr(a.nodeid, &at), -ESTALE);
	assert_int_equal(t_write(fh, 0, "XXX", 3), -ESTALE);
	t_assert_host("a", "new");
	t_assert_host("b", "old");
	assert_int_equal(t_getattr(x.nodeid, &at), -ESTALE);
	assert_int_equal(t_getattr(k.nodeid, &at), 0);
	assert_int_equal(t_lookup(1, "a", &e), 0);
	assert_true(e.nodeid != a.nodeid);
}

/* Handcrafted streams */
struct t_sino {
	uint32_t idx, gen, parent, mode;
	const char *name;
};

struct t_sfh {
	uint32_t idx, gen, ino, ino_gen, flags, is_dir;
};

/* A SESSION section as a source engine writes it (protocol 7.38, max_write
 * 64 KiB, 16 pages) announcing ni inodes and nh handles. */
static void
t_state_session(struct vgw_state_writer *w, uint64_t flags, uint32_t ni, uint32_t nh)
{
	vgw_state_section_begin(w, VGW_FS_SEC_SESSION, 1, VGW_STATE_F_CRITICAL);
	vgw_state_put_u32(w, 1);
	vgw_state_put_u32(w, 38);
	vgw_state_put_u64(w, flags);
	vgw_state_put_u32(w, 65536);
	vgw_state_put_u32(w, 16);
	vgw_state_put_u32(w, 0);
	vgw_state_put_u32(w, 0);
	vgw_state_put_u32(w, ni);
	vgw_state_put_u32(w, nh);
	vgw_state_section_end(w);
}

static void
t_state_craft(const struct t_sino *in, unsigned int ni, const struct t_sfh *fh, unsigned int nh,
	      void **buf, size_t *len)
{
	struct vgw_state_writer w;
	unsigned int i;

	assert_int_equal(vgw_state_writer_init(&w, VGW_FS_STATE_DEV_TYPE, 0), 0);
	t_state_session(&w, FUSE_ASYNC_READ | FUSE_POSIX_LOCKS, ni, nh);
	vgw_state_section_begin(&w, VGW_FS_SEC_INODES, 1, VGW_STATE_F_CRITICAL);
	vgw_state_put_u32(&w, ni);
	for (i = 0; i < ni; i++) {
		vgw_state_put_u32(&w, in[i].idx);
		vgw_state_put_u32(&w, in[i].gen);
		vgw_state_put_u32(&w, in[i].parent);
		vgw_state_put_u32(&w, in[i].mode);
		vgw_state_put_u64(&w, 1);
		vgw_state_put_u64(&w, 0);
		vgw_state_put_u64(&w, 0);
		vgw_state_put_str(&w, in[i].name);
	}
	vgw_state_section_end(&w);
	vgw_state_section_begin(&w, VGW_FS_SEC_HANDLES, 1, VGW_STATE_F_CRITICAL);
	vgw_state_put_u32(&w, nh);
	for (i = 0; i < nh; i++) {
		vgw_state_put_u32(&w, fh[i].idx);
		vgw_state_put_u32(&w, fh[i].gen);
		vgw_state_put_u32(&w, fh[i].ino);
		vgw_state_put_u32(&w, fh[i].ino_gen);
		vgw_state_put_u32(&w, fh[i].flags);
		vgw_state_put_u32(&w, fh[i].is_dir);
	}
	vgw_state_section_end(&w);
	assert_int_equal(vgw_state_finish(&w, buf, len), 0);
}

static void
test_state_reject(void **state)
{
#define T_DIR (S_IFDIR | 0755)
#define T_REG (S_IFREG | 0644)
	/* a valid start (d1, d1/f, a handle on f), then the bad record */
	static const struct t_sino ok[] = {
		{ 2, 1, 1, T_DIR, "d1" },
		{ 3, 1, 2, T_REG, "f" },
	};
	static const struct t_sfh ok_fh = { 1, 1, 3, 1, O_RDONLY, 0 };
	static const struct {
		struct t_sino in[2];
		unsigned int ni;
		struct t_sfh fh;
		const char *why;
	} bad[] = {
		{ { { 32768, 1, 1, T_DIR, "x" } }, 1, { 0 }, "out of range" },
		{ { { 1, 1, 1, T_DIR, "x" } }, 1, { 0 }, "is the root" },
		{ { { 4, 1, 9, T_REG, "x" } }, 1, { 0 }, "parent 9 is not in the stream" },
		{ { { 4, 1, 3, T_REG, "x" } }, 1, { 0 }, "parent 3 is not a directory" },
		{ { { 4, 1, 2, T_REG, "a/b" } }, 1, { 0 }, "not one path component" },
		{ { { 4, 1, 2, T_DIR, ".." } }, 1, { 0 }, "not one path component" },
		{ { { 4, 1, 2, T_DIR, "" } }, 1, { 0 }, "not one path component" },
		{ { { 4, 1, 5, T_DIR, "x" }, { 5, 1, 4, T_DIR, "y" } }, 2, { 0 }, "is a cycle" },
		{ { { 4, 1, 5, T_REG, "x" }, { 5, 1, 2, T_DIR, "y" } }, 2, { 0 }, "comes after" },
		{ { { 4, 1, 4, T_DIR, "x" } }, 1, { 0 }, "its own parent" },
		{ { { 2, 1, 1, T_DIR, "d1" } }, 1, { 0 }, "index 2 defined twice" },
		{ { { 4, 0, 2, T_REG, "x" } }, 1, { 0 }, "generation 0" },
		{ { { 4, 1, 2, 0170000, "x" } }, 1, { 0 }, "mode" },
		{ { { 0 } }, 0, { 2, 1, 7, 1, O_RDONLY, 0 }, "inode 7 generation 1 is not in" },
		{ { { 0 } }, 0, { 2, 1, 3, 2, O_RDONLY, 0 }, "inode 3 generation 2 is not in" },
		{ { { 0 } }, 0, { 1, 1, 3, 1, O_RDONLY, 0 }, "index 1 defined twice" },
		{ { { 0 } }, 0, { 2, 1, 3, 1, O_RDONLY, 1 }, "directory handle" },
		{ { { 0 } }, 0, { 2, 1, 2, 1, O_RDONLY, 0 }, "file handle" },
		{ { { 0 } }, 0, { 2, 1, 3, 1, O_PATH, 0 }, "open flags" },
		{ { { 0 } }, 0, { 1024, 1, 3, 1, O_RDONLY, 0 }, "out of range" },
	};
	struct t_sino in[4];
	struct t_sfh fh[2];
	char why[VGW_STATE_REASON_MAX];
	struct fuse_entry_out e, f;
	unsigned int i, ni, nh;
	uint8_t *b;
	size_t len;
	void *st;

	(void)state;
	t_mkdir_host("d1");
	t_write_host("d1/f", "f");
	for (i = 0; i < FS_ARRAY_LEN(bad); i++) {
		memcpy(in, ok, sizeof(ok));
		memcpy(&in[2], bad[i].in, sizeof(bad[i].in));
		ni = 2 + bad[i].ni;
		fh[0] = ok_fh;
		fh[1] = bad[i].fh;
		nh = bad[i].fh.idx ? 2 : 1;
		t_state_craft(in, ni, fh, nh, &st, &len);
		assert_int_equal(t_state_load(st, len, why, sizeof(why)), -EBADMSG);
		free(st);
		if (strstr(why, bad[i].why) == NULL || strchr(why, '\n') != NULL)
			fail_msg("case %u: reason '%s', expected '%s'", i, why, bad[i].why);
		print_message("rejected: %s\n", why);
		/* as fresh as before */
		assert_int_equal(vgw_fs_inode_count(E->fs), 1);
		assert_int_equal(vgw_fs_handle_count(E->fs), 0);
		assert_int_equal(E->fs->hdr->inode_bump, FS_ROOT_IDX + 1);
		assert_int_equal(E->fs->hdr->handle_bump, 1);
		t_tables_check();
	}
	/* counts that lie, a critical section of ours nobody knows, a bit
	 * flip, a truncation, another device's stream */
	t_state_craft(ok, 2, &ok_fh, 1, &st, &len);
	b = st;
	{
		struct vgw_state_writer w;
		void *st2;
		size_t len2;

		/* a session announcing 3 inodes, then 2 */
		assert_int_equal(vgw_state_writer_init(&w, VGW_FS_STATE_DEV_TYPE, 0), 0);
		t_state_session(&w, 0, 3, 0);
		vgw_state_section_begin(&w, 0x01f0, 1, VGW_STATE_F_CRITICAL);
		vgw_state_put_u32(&w, 0);
		vgw_state_section_end(&w);
		assert_int_equal(vgw_state_finish(&w, &st2, &len2), 0);
		/* the fs reader knows nothing of 0x01f0: refused by the codec */
		assert_int_equal(vgw_fs_state_load_buf(E->fs, st2, len2, why, sizeof(why)),
				 -EOPNOTSUPP);
		print_message("rejected: %s\n", why);
		/* a reader told it knows every type: refused by fs */
		{
			struct vgw_state_reader r;

			assert_int_equal(vgw_state_reader_init(&r, st2, len2, NULL), 0);
			assert_int_equal(vgw_fs_state_load(E->fs, &r, why, sizeof(why)),
					 -EOPNOTSUPP);
			assert_non_null(strstr(why, "not understood"));
			print_message("rejected: %s\n", why);
		}
		free(st2);
		assert_int_equal(vgw_state_writer_init(&w, VGW_FS_STATE_DEV_TYPE, 0), 0);
		t_state_session(&w, 0, 3, 0);
		vgw_state_section_begin(&w, VGW_FS_SEC_INODES, 1, VGW_STATE_F_CRITICAL);
		vgw_state_put_u32(&w, 2);
		for (i = 0; i < 2; i++) {
			vgw_state_put_u32(&w, ok[i].idx);
			vgw_state_put_u32(&w, ok[i].gen);
			vgw_state_put_u32(&w, ok[i].parent);
			vgw_state_put_u32(&w, ok[i].mode);
			vgw_state_put_u64(&w, 1);
			vgw_state_put_u64(&w, 0);
			vgw_state_put_u64(&w, 0);
			vgw_state_put_str(&w, ok[i].name);
		}
		vgw_state_section_end(&w);
		assert_int_equal(vgw_state_finish(&w, &st2, &len2), 0);
		assert_int_equal(t_state_load(st2, len2, why, sizeof(why)), -EBADMSG);
		assert_non_null(strstr(why, "3 inodes and 0 handles announced, 2 and 0 found"));
		print_message("rejected: %s\n", why);
		free(st2);
		assert_int_equal(vgw_fs_inode_count(E->fs), 1);
	}
	b[len / 2] ^= 0x20;
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), -EBADMSG);
	print_message("rejected: %s\n", why);
	b[len / 2] ^= 0x20;
	assert_int_equal(t_state_load(st, len - 8, why, sizeof(why)), -EBADMSG);
	print_message("rejected: %s\n", why);
	memcpy(b + 8, "virtio-net", 11);
	assert_true(t_state_load(st, len, why, sizeof(why)) < 0);
	free(st);

	/* after all that, a normal session: node ids start as on any fresh
	 * engine */
	assert_int_equal(vgw_fs_inode_count(E->fs), 1);
	t_do_init();
	assert_int_equal(t_lookup(1, "d1", &e), 0);
	assert_int_equal(e.nodeid, (1ull << 32) | 2);
	assert_int_equal(t_lookup(e.nodeid, "f", &f), 0);
	assert_int_equal(f.nodeid, (1ull << 32) | 3);
	assert_int_equal(vgw_fs_inode_count(E->fs), 3);
	/* the valid start alone loads into a fresh engine */
	t_state_switch();
	t_state_craft(ok, 2, &ok_fh, 1, &st, &len);
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), 0);
	free(st);
	{
		uint8_t buf[4];

		assert_int_equal(t_read(((uint64_t)1 << 32) | 1, 0, buf, sizeof(buf)), 1);
	}
#undef T_DIR
#undef T_REG
}

/* Save refuses while a request is in flight, load anything but a fresh
 * engine. */
static void
test_state_busy(void **state)
{
	char why[VGW_STATE_REASON_MAX];
	struct vgw_state_writer w;
	struct t_req *t;
	size_t len;
	void *st;

	(void)state;
	t_do_init();
	t = t_new(FUSE_STATFS, 1);
	t_submit_raw(t, t->in_len);
	assert_int_equal(vgw_state_writer_init(&w, VGW_FS_STATE_DEV_TYPE, 0), 0);
	assert_int_equal(vgw_fs_state_save(E->fs, &w), -EBUSY);
	vgw_state_writer_free(&w);
	assert_int_equal(vgw_fs_state_save_buf(E->fs, 0, &st, &len, why, sizeof(why)), -EBUSY);
	assert_null(st);
	print_message("save refused: %s\n", why);
	t_wait(t);
	t_free(t);
	assert_int_equal(vgw_fs_state_save_buf(E->fs, 0, &st, &len, why, sizeof(why)), 0);
	/* E->fs served INIT: not fresh */
	assert_int_equal(vgw_fs_state_load_buf(E->fs, st, len, why, sizeof(why)), -EBUSY);
	print_message("load refused: %s\n", why);
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), -EBUSY);
	/* a fresh one takes it, then is not fresh */
	t_state_switch();
	assert_int_equal(vgw_fs_state_load_buf(E->fs, st, len, why, sizeof(why)), 0);
	assert_int_equal(vgw_fs_state_load_buf(E->fs, st, len, why, sizeof(why)), -EBUSY);
	assert_int_equal(t_simple(FUSE_STATFS, 1, NULL, 0, NULL, NULL), 0);
	free(st);
	/* a cap the stream does not fit in */
	assert_int_equal(vgw_fs_state_save_buf(E->fs, 64, &st, &len, why, sizeof(why)), -EFBIG);
	print_message("save refused: %s\n", why);
}

static double
t_ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

/* LOOKUP on one request used again and again, for the 20,000 of
 * test_state_many (one allocation, not 20,000). */
static int
t_lookup_again(struct t_req *t, uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	struct fuse_in_header *ih = (struct fuse_in_header *)t->in;
	int rc;

	ih->opcode = FUSE_LOOKUP;
	ih->nodeid = parent;
	ih->unique = ++E->unique;
	t->in_len = sizeof(*ih);
	t_add_str(t, name);
	rc = t_run(t);
	if (rc == 0) {
		assert_int_equal(t->body_len, sizeof(*e));
		memcpy(e, t->body, sizeof(*e));
	}
	return rc;
}

/* 20,000 inodes through save and load (the time is printed, not judged;
 * fewer when the fd limit cannot be raised that far). */
static void
test_state_many(void **state)
{
	const unsigned int ndir = 100;
	unsigned int per = 199, total, i, j, k = 0;
	char p[PATH_MAX], why[VGW_STATE_REASON_MAX];
	struct fuse_entry_out e, dir;
	struct timespec t0;
	double ms_save, ms_load;
	struct rlimit rl;
	struct t_req *t;
	uint64_t *ids;
	struct fuse_attr a;
	size_t len;
	void *st;
	int fd;

	(void)state;
	/* one O_PATH fd per inode, in the engine that holds them */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 20000 + 1024) {
		rl.rlim_cur = 20000 + 1024;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			/* no CAP_SYS_RESOURCE: as many as the hard limit lets
			 * one engine hold, with a margin for the process */
			assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
			rl.rlim_cur = rl.rlim_max;
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
			if (rl.rlim_cur < 20000 + 64)
				per = (unsigned int)((rl.rlim_cur - 64) / ndir) - 1;
			print_message("RLIMIT_NOFILE %llu: %u inodes\n",
				      (unsigned long long)rl.rlim_cur, ndir * (per + 1));
		}
	}
	total = ndir * (per + 1);
	ids = calloc(total, sizeof(*ids));
	assert_non_null(ids);
	t_do_init();
	for (i = 0; i < ndir; i++) {
		snprintf(p, sizeof(p), "%s/d%03u", E->shared, i);
		assert_int_equal(mkdir(p, 0755), 0);
		for (j = 0; j < per; j++) {
			snprintf(p, sizeof(p), "%s/d%03u/f%03u", E->shared, i, j);
			fd = open(p, O_CREAT | O_WRONLY, 0644);
			assert_true(fd >= 0);
			close(fd);
		}
	}
	t = t_new(FUSE_LOOKUP, 1);
	for (i = 0; i < ndir; i++) {
		snprintf(p, sizeof(p), "d%03u", i);
		assert_int_equal(t_lookup_again(t, 1, p, &dir), 0);
		ids[k++] = dir.nodeid;
		for (j = 0; j < per; j++) {
			snprintf(p, sizeof(p), "f%03u", j);
			assert_int_equal(t_lookup_again(t, dir.nodeid, p, &e), 0);
			ids[k++] = e.nodeid;
		}
	}
	t_free(t);
	assert_int_equal(vgw_fs_inode_count(E->fs), total + 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_state_save(&st, &len);
	ms_save = t_ms_since(&t0);
	t_state_switch();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(t_state_load(st, len, why, sizeof(why)), 0);
	ms_load = t_ms_since(&t0);
	free(st);
	print_message("%u inodes: save %.1f ms (%zu bytes), load %.1f ms (%s)\n", total, ms_save,
		      len, ms_load, E->no_uring ? "helpers" : "io_uring");
	assert_int_equal(vgw_fs_inode_count(E->fs), total + 1);
	assert_int_equal(vgw_fs_stats(E->fs)->state_stale_inodes, 0);
	assert_int_equal(vgw_fs_stats(E->fs)->state_changed_inodes, 0);
	t_tables_check();
	for (k = 0; k < total; k += 97) {
		i = k / (per + 1);
		j = k % (per + 1);
		assert_int_equal(t_getattr(ids[k], &a), 0);
		if (j == 0)
			snprintf(p, sizeof(p), "d%03u", i);
		else
			snprintf(p, sizeof(p), "d%03u/f%03u", i, j - 1);
		t_assert_attr_matches(&a, p);
	}
	/* the hash holds them all: a lookup finds the loaded node */
	assert_int_equal(t_lookup(ids[per + 1], "f000", &e), 0);
	assert_int_equal(e.nodeid, ids[per + 2]);
	free(ids);
}

static const struct t_case t_cases[] = {
	T_CASE(test_state_roundtrip), T_CASE(test_state_dir_rewind), T_CASE(test_state_stale),
	T_CASE(test_state_moved),     T_CASE(test_state_reject),
};

int
main(void)
{
	const struct CMUnitTest misc[] = {
		T_URING(test_state_busy),
		T_URING(test_state_many),
	};
	int rc = t_run_both("fs_state", t_cases, FS_ARRAY_LEN(t_cases));

	rc |= cmocka_run_group_tests_name("fs_state_misc", misc, NULL, NULL);
	return rc;
}
