/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-fs FUSE engine (lib/fs): OPENDIR, READDIR,
 * READDIRPLUS, RELEASEDIR, FSYNCDIR, on a small directory and on one of
 * 10,000 entries. Helpers: test_fs_common.h. */

#include <dirent.h>

#include "test_fs_common.h"

/* ---- OPENDIR READDIR READDIRPLUS RELEASEDIR FSYNCDIR ---- */

/* List a directory with READDIR or READDIRPLUS; return the names sorted
 * (without . and ..). For READDIRPLUS, check each entry's attributes and
 * forget the lookup it took. */
static char **
t_list(uint64_t dir, bool plus, unsigned int *count, uint32_t bufsz)
{
	uint64_t fh, off = 0;
	unsigned int n = 0, cap = 256, dots = 0;
	char **names = malloc(cap * sizeof(char *));
	bool eof = false;

	assert_int_equal(t_open(FUSE_OPENDIR, dir, O_RDONLY, &fh), 0);
	while (!eof) {
		struct t_req *t =
			t_read_req(plus ? FUSE_READDIRPLUS : FUSE_READDIR, fh, off, bufsz);
		uint32_t p = 0;

		assert_int_equal(t_run(t), 0);
		if (t->body_len == 0)
			eof = true;
		while (p < t->body_len) {
			struct fuse_dirent *d;
			char *nm;

			if (plus) {
				struct fuse_direntplus *dp = (void *)(t->body + p);

				d = &dp->dirent;
				p += FUSE_DIRENTPLUS_SIZE(dp);
				nm = strndup(d->name, d->namelen);
				if (strcmp(nm, ".") && strcmp(nm, "..")) {
					assert_true(dp->entry_out.nodeid > 1);
					assert_int_equal(dp->entry_out.attr.ino, d->ino);
					t_forget(dp->entry_out.nodeid, 1);
				} else {
					assert_int_equal(dp->entry_out.nodeid, 0);
				}
			} else {
				d = (void *)(t->body + p);
				p += FUSE_DIRENT_SIZE(d);
				nm = strndup(d->name, d->namelen);
			}
			assert_true(p <= t->body_len);
			off = d->off;
			if (!strcmp(nm, ".") || !strcmp(nm, "..")) {
				dots++;
				free(nm);
				continue;
			}
			if (n == cap) {
				cap *= 2;
				names = realloc(names, cap * sizeof(char *));
			}
			names[n++] = nm;
		}
		t_free(t);
	}
	assert_int_equal(dots, 2);
	assert_int_equal(t_simple(FUSE_FSYNCDIR, dir, &(struct fuse_fsync_in){ .fh = fh },
				  sizeof(struct fuse_fsync_in), NULL, NULL),
			 0);
	assert_int_equal(t_release(FUSE_RELEASEDIR, fh), 0);
	qsort(names, n, sizeof(char *), t_cmp_str);
	*count = n;
	return names;
}

static void
t_free_names(char **names, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
test_readdir_small(void **state)
{
	const char *want[] = { "a", "bb", "dir", "link", "zzzzzzzzzzzzzzzzzzzzzzzzzz" };
	struct fuse_entry_out e;
	unsigned int n, i;
	char **names;
	char p[PATH_MAX];

	(void)state;
	t_do_init();
	t_write_host("a", "");
	t_write_host("bb", "");
	t_write_host("zzzzzzzzzzzzzzzzzzzzzzzzzz", "");
	t_path(p, "dir");
	mkdir(p, 0755);
	t_path(p, "link");
	assert_int_equal(symlink("/etc/passwd", p), 0);
	for (int plus = 0; plus < 2; plus++) {
		names = t_list(1, plus, &n, 4096);
		assert_int_equal(n, 5);
		for (i = 0; i < n; i++)
			assert_string_equal(names[i], want[i]);
		t_free_names(names, n);
	}
	/* READDIRPLUS's lookups were all forgotten */
	assert_int_equal(vgw_fs_inode_count(E->fs), 1);
	/* an empty directory */
	assert_int_equal(t_lookup(1, "dir", &e), 0);
	names = t_list(e.nodeid, true, &n, 4096);
	assert_int_equal(n, 0);
	t_free_names(names, n);
	/* a READDIR on a file handle, an OPENDIR on a file */
	{
		uint64_t fh;
		struct fuse_entry_out fe;

		assert_int_equal(t_lookup(1, "a", &fe), 0);
		assert_int_equal(t_open(FUSE_OPENDIR, fe.nodeid, O_RDONLY, &fh), -ENOTDIR);
		assert_int_equal(t_open(FUSE_OPEN, fe.nodeid, O_RDONLY, &fh), 0);
		struct t_req *t = t_read_req(FUSE_READDIR, fh, 0, 4096);

		assert_int_equal(t_run(t), -EBADF);
		t_free(t);
		assert_int_equal(t_release(FUSE_RELEASEDIR, fh), -EBADF);
		assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	}
}

static void
test_readdir_10000(void **state)
{
	char p[PATH_MAX], nm[32];
	unsigned int n, i;
	char **names, **want;
	int fd;

	(void)state;
	t_do_init();
	t_path(p, "big");
	assert_int_equal(mkdir(p, 0755), 0);
	want = malloc(10000 * sizeof(char *));
	for (i = 0; i < 10000; i++) {
		snprintf(nm, sizeof(nm), "entry-%05u-%s", i, i % 3 ? "x" : "longer-name-part");
		snprintf(p, sizeof(p), "%s/big/%s", E->shared, nm);
		fd = open(p, O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		close(fd);
		want[i] = strdup(nm);
	}
	qsort(want, 10000, sizeof(char *), t_cmp_str);
	{
		struct fuse_entry_out e;

		assert_int_equal(t_lookup(1, "big", &e), 0);
		for (int plus = 0; plus < 2; plus++) {
			names = t_list(e.nodeid, plus, &n, plus ? 16384 : 8192);
			assert_int_equal(n, 10000);
			for (i = 0; i < n; i++)
				assert_string_equal(names[i], want[i]);
			t_free_names(names, n);
		}
		/* only root and big remain */
		assert_int_equal(vgw_fs_inode_count(E->fs), 2);
	}
	t_free_names(want, 10000);
}

/* ---- names longer than NAME_MAX ---- */

/* Append a getdents64 entry to buf at n; the new length. */
static long
t_dirent_add(uint8_t *buf, long n, const char *name, int64_t off)
{
	struct fs_dirent64 *d = (struct fs_dirent64 *)(buf + n);
	size_t nl = strlen(name);
	size_t rl = (offsetof(struct fs_dirent64, d_name) + nl + 1 + 7) & ~(size_t)7;

	memset(d, 0, rl);
	d->d_ino = 1000 + (uint64_t)off;
	d->d_off = off;
	d->d_reclen = (unsigned short)rl;
	d->d_type = DT_REG;
	memcpy(d->d_name, name, nl + 1);
	return n + (long)rl;
}

/* A host file system may list names longer than NAME_MAX (exFAT, CIFS and
 * ntfs3: up to 765 bytes of UTF-8); the engine's READDIRPLUS record buffer
 * holds NAME_MAX. Such an entry is left out of READDIR and READDIRPLUS and
 * counted. Neither tmpfs nor ext4 holds such a name: a getdents64 buffer
 * is built here with one of 401 bytes between "a" and "b". For
 * READDIRPLUS it is a path of 100 directories to a file, which the host
 * opens as an exFAT one would open its long name: only the length check
 * keeps it out of the records. */
static void
test_readdir_long_name(void **state)
{
	char deep[512] = "", name[NAME_MAX + 1];
	uint8_t *dbuf = calloc(1, 8192), *obuf = calloc(1, 8192);
	struct fs_ctx *c = calloc(1, sizeof(*c));
	struct fs_dfill f = { .want = 8192 };
	const char *want[] = { ".", "a", "b" };
	uint32_t p = 0;
	long n = 0;
	int i;

	(void)state;
	assert_non_null(dbuf);
	assert_non_null(obuf);
	assert_non_null(c);
	t_write_host("a", "a");
	t_write_host("b", "b");
	for (i = 0; i < 100; i++) {
		strcat(deep, "dd");
		t_mkdir_host(deep);
		strcat(deep, "/");
	}
	strcat(deep, "f");
	t_write_host(deep, "deep");
	assert_true(strlen(deep) > NAME_MAX);
	n = t_dirent_add(dbuf, n, ".", 1);
	n = t_dirent_add(dbuf, n, "a", 2);
	n = t_dirent_add(dbuf, n, deep, 3);
	n = t_dirent_add(dbuf, n, "b", 4);

	fs_readdir_fill(&f, dbuf, n, obuf);
	assert_false(f.full);
	assert_int_equal(f.skipped, 1);
	assert_int_equal(f.nrec, 3);
	for (i = 0; i < 3; i++) {
		struct fuse_dirent *d = (struct fuse_dirent *)(obuf + p);

		assert_true(p + FUSE_NAME_OFFSET <= f.olen);
		assert_int_equal(d->namelen, strlen(want[i]));
		memcpy(name, d->name, d->namelen);
		name[d->namelen] = '\0';
		assert_string_equal(name, want[i]);
		p += FUSE_DIRENT_SIZE(d);
	}
	assert_int_equal(p, f.olen);

	memset(&f, 0, sizeof(f));
	f.want = 8192;
	c->jfd = open(E->shared, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(c->jfd >= 0);
	fs_readdirplus_fill(E->fs, c, &f, dbuf, n);
	assert_false(f.full);
	assert_int_equal(f.skipped, 1);
	assert_int_equal(f.nrec, 3);
	p = 0;
	for (i = 0; i < 3; i++) {
		struct fs_dplus_rec *r = (struct fs_dplus_rec *)(c->scratch + p);

		assert_true(r->namelen <= NAME_MAX);
		assert_string_equal(r->name, want[i]);
		assert_true(i == 0 ? r->fd == -1 : r->fd >= 0);
		if (r->fd >= 0)
			close(r->fd);
		p += fs_rec_size(r->namelen);
	}
	assert_int_equal(p, f.slen);
	close(c->jfd);
	free(c);
	free(obuf);
	free(dbuf);
}

static const struct t_case t_cases[] = {
	T_CASE(test_readdir_small),
	T_CASE(test_readdir_10000),
	T_CASE(test_readdir_long_name),
};

int
main(void)
{
	return t_run_both("fs_readdir", t_cases, FS_ARRAY_LEN(t_cases));
}
