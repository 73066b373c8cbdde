/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-fs FUSE engine (lib/fs): adoption of a dead
 * engine's session from its table memfd (vgw_fs_adopt). Engine A serves a
 * guest, a fresh engine B on the same directory takes its region over and
 * answers A's node ids and fhs; corrupted regions are refused with their
 * reason and leave B fresh. Helpers: test_fs_common.h. */

#include <dirent.h>
#include <sys/mman.h>

#include "test_fs_common.h"

/* What engine A handed out. */
struct t_sess {
	struct fuse_entry_out f, d1, d2, g, gone;
	uint64_t fh_f, fh_d;
};

static unsigned int
t_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* On E->fs: INIT, lookups of a file, a tree d1/d2/g and a file that goes
 * away later, the file open, d1 open as a directory. */
static void
t_adopt_session(struct t_sess *s)
{
	t_mkdir_host("d1");
	t_mkdir_host("d1/d2");
	t_write_host("f.txt", "the file's bytes");
	t_write_host("d1/d2/g", "g");
	t_write_host("d1/e1", "");
	t_write_host("gone", "");
	t_do_init();
	assert_int_equal(t_lookup(1, "f.txt", &s->f), 0);
	assert_int_equal(t_lookup(1, "d1", &s->d1), 0);
	assert_int_equal(t_lookup(s->d1.nodeid, "d2", &s->d2), 0);
	assert_int_equal(t_lookup(s->d2.nodeid, "g", &s->g), 0);
	assert_int_equal(t_lookup(1, "gone", &s->gone), 0);
	assert_int_equal(t_open(FUSE_OPEN, s->f.nodeid, O_RDONLY, &s->fh_f), 0);
	assert_int_equal(t_open(FUSE_OPENDIR, s->d1.nodeid, O_RDONLY, &s->fh_d), 0);
}

static void
test_adopt_takeover(void **state)
{
	unsigned int fds = t_fd_count(), n = 0, i;
	struct fuse_entry_out e;
	struct vgw_fs *a = E->fs, *b;
	struct t_sess s;
	struct fuse_attr at;
	char why[256], buf[64] = { 0 }, p[PATH_MAX], *names[64];
	uint64_t off = 0;
	int memfd;

	(void)state;
	t_adopt_session(&s);
	/* the supervisor's own fd: A's goes with A */
	memfd = dup(vgw_fs_table_fd(a, NULL));
	assert_true(memfd >= 0);
	t_path(p, "gone");
	assert_int_equal(unlink(p), 0);

	b = t_engine();
	assert_non_null(b);
	assert_int_equal(vgw_fs_adopt(b, memfd, why, sizeof(why)), 0);
	assert_string_equal(why, "6 inode(s), 2 handle(s); 1 inode(s) and 0 handle(s) stale "
				 "(first: inode 6 ('gone' in 1): No such file or directory)");
	vgw_fs_destroy(a);
	E->fs = b;
	assert_int_equal(vgw_fs_stats(b)->state_stale_inodes, 1);

	/* no INIT: the session is A's */
	assert_int_equal(t_getattr(s.f.nodeid, &at), 0);
	t_assert_attr_matches(&at, "f.txt");
	assert_int_equal(t_getattr(s.g.nodeid, &at), 0);
	t_assert_attr_matches(&at, "d1/d2/g");
	assert_int_equal(t_getattr(s.d2.nodeid, &at), 0);
	t_assert_attr_matches(&at, "d1/d2");
	assert_int_equal(t_read(s.fh_f, 0, buf, sizeof(buf) - 1), 16);
	assert_string_equal(buf, "the file's bytes");
	while (t_readdir_chunk(s.fh_d, off, 4096, names, &n, &off) > 0)
		;
	qsort(names, n, sizeof(names[0]), t_cmp_str);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "d2");
	assert_string_equal(names[1], "e1");
	for (i = 0; i < n; i++)
		free(names[i]);
	assert_int_equal(t_lookup(s.d1.nodeid, "d2", &e), 0);
	assert_int_equal(e.nodeid, s.d2.nodeid);
	assert_int_equal(t_lookup(1, "f.txt", &e), 0);
	assert_int_equal(e.nodeid, s.f.nodeid);
	assert_int_equal(t_getattr(s.gone.nodeid, &at), -ESTALE);

	assert_int_equal(t_release(FUSE_RELEASE, s.fh_f), 0);
	assert_int_equal(t_release(FUSE_RELEASEDIR, s.fh_d), 0);
	close(memfd);
	vgw_fs_destroy(b);
	E->fs = t_engine();
	assert_non_null(E->fs);
	assert_int_equal(t_fd_count(), fds);
}

/* A memfd holding a copy of E->fs's region, mapped at *map for changes. */
static int
t_region_copy(void **map, size_t *size)
{
	uint64_t sz;
	int src = vgw_fs_table_fd(E->fs, &sz);
	void *from;
	int fd;

	fd = memfd_create("t-adopt", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)sz), 0);
	*map = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	from = mmap(NULL, sz, PROT_READ, MAP_SHARED, src, 0);
	assert_true(*map != MAP_FAILED && from != MAP_FAILED);
	memcpy(*map, from, sz);
	munmap(from, sz);
	*size = sz;
	return fd;
}

enum t_bad {
	T_BAD_MAGIC,
	T_BAD_VERSION,
	T_BAD_SIZE,
	T_BAD_ENT_SIZE,
	T_BAD_BUMP,
	T_BAD_NAME,
	T_BAD_CYCLE,
	T_BAD_HANDLE,
	T_BAD_TRUNCATED,
	T_BAD_GEN,
	T_BAD_COUNT
};

/* Damage the copy; the reason vgw_fs_adopt must give into want. */
static void
t_damage(enum t_bad k, int fd, void *map, size_t size, const struct t_sess *s, char *want,
	 size_t want_len)
{
	struct fs_region_hdr *h = map;
	struct fs_inode *in = (void *)((uint8_t *)map + h->off_inodes);
	uint32_t f = (uint32_t)s->f.nodeid, d1 = (uint32_t)s->d1.nodeid;
	uint32_t d2 = (uint32_t)s->d2.nodeid;

	switch (k) {
	case T_BAD_MAGIC:
		h->magic ^= 1;
		snprintf(want, want_len,
			 "table region: magic 0x%016llx, not an fs table "
			 "region",
			 (unsigned long long)h->magic);
		break;
	case T_BAD_VERSION:
		h->version = 2;
		snprintf(want, want_len,
			 "table region: version 2 with a header of %zu bytes, "
			 "this engine reads version 1 (%zu bytes)",
			 sizeof(*h), sizeof(*h));
		break;
	case T_BAD_SIZE:
		h->size = size + 4096;
		snprintf(want, want_len,
			 "table region: the header says %zu bytes, the memfd "
			 "holds %zu",
			 size + 4096, size);
		break;
	case T_BAD_ENT_SIZE:
		h->inode_ent_size += 8;
		snprintf(want, want_len,
			 "table region: entries of %zu and %zu bytes, this "
			 "engine's are %zu and %zu",
			 sizeof(*in) + 8, sizeof(struct fs_handle), sizeof(*in),
			 sizeof(struct fs_handle));
		break;
	case T_BAD_BUMP:
		h->inode_bump = h->max_inodes + 1;
		snprintf(want, want_len,
			 "table region: slots used: %u of %u inodes, %u of %u "
			 "handles",
			 h->inode_bump, h->max_inodes, h->handle_bump, h->max_handles);
		break;
	case T_BAD_NAME:
		memset(in[f].name, 'n', sizeof(in[f].name));
		snprintf(want, want_len,
			 "table region: inode %u: name without a terminating "
			 "NUL",
			 f);
		break;
	case T_BAD_CYCLE:
		/* d1 below d2 below d1: the walk climbs from d1 */
		in[d1].parent = d2;
		snprintf(want, want_len,
			 "table region: inode %u: parent chain through %u is "
			 "a cycle",
			 d2, d1);
		break;
	case T_BAD_HANDLE:
		/* (a handle on a freed inode is kept, stale) */
		((struct fs_handle *)(void *)((uint8_t *)map + h->off_handles))[(uint32_t)s->fh_f]
			.inode = h->inode_bump + 5;
		snprintf(want, want_len, "table region: handle %u: on inode %u, beyond the table",
			 (uint32_t)s->fh_f, h->inode_bump + 5);
		break;
	case T_BAD_TRUNCATED:
		assert_int_equal(ftruncate(fd, (off_t)(size / 2)), 0);
		snprintf(want, want_len,
			 "table region: the header says %zu bytes, the memfd "
			 "holds %zu",
			 size, size / 2);
		break;
	case T_BAD_GEN:
		/* past the region checks: the loader's */
		in[d2].gen = 0;
		snprintf(want, want_len,
			 "table region: section 1 (type 0x0101): inode record "
			 "2 (index %u): generation 0, nlookup 1, mode 0%o",
			 d2, in[d2].mode);
		break;
	case T_BAD_COUNT:
		break;
	}
}

static void
test_adopt_reject(void **state)
{
	static const char *const what[] = { "magic",	  "version",   "size",	"entry size",
					    "inode_bump", "name",      "cycle", "handle",
					    "truncated",  "generation" };
	unsigned int fds, k;
	struct vgw_fs *a = E->fs, *b;
	char why[256], want[256];
	struct t_sess s;
	size_t size;
	void *map;
	int fd;

	(void)state;
	t_adopt_session(&s);
	fds = t_fd_count(); /* A's own fds included */
	for (k = 0; k < T_BAD_COUNT; k++) {
		E->fs = a;
		fd = t_region_copy(&map, &size);
		t_damage(k, fd, map, size, &s, want, sizeof(want));
		munmap(map, size);
		b = t_engine();
		assert_non_null(b);
		memset(why, 'x', sizeof(why));
		if (vgw_fs_adopt(b, fd, why, sizeof(why)) != -EBADMSG || strcmp(why, want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", what[k], why, want);
		close(fd);
		/* still fresh: a guest may mount it */
		E->fs = b;
		assert_int_equal(vgw_fs_inode_count(b), 1);
		assert_int_equal(vgw_fs_handle_count(b), 0);
		t_do_init();
		vgw_fs_destroy(b);
	}
	E->fs = a;
	assert_int_equal(t_fd_count(), fds);
}

/* B initialized: -EBUSY before the memfd is looked at. B with smaller
 * tables than A's: the indices that do not fit are named, and so are
 * both sizes. */
static void
test_adopt_busy_small(void **state)
{
	unsigned int fds;
	struct vgw_fs *a = E->fs, *b;
	struct vgw_fs_conf c;
	struct t_sess s;
	char why[256], want[256];
	int memfd = vgw_fs_table_fd(a, NULL);

	(void)state;
	t_adopt_session(&s);
	fds = t_fd_count();
	b = t_engine();
	assert_non_null(b);
	E->fs = b;
	t_do_init();
	assert_int_equal(vgw_fs_adopt(b, memfd, why, sizeof(why)), -EBUSY);
	assert_string_equal(why, "the engine is not fresh (initialized, or inodes, handles "
				 "or requests already there)");
	vgw_fs_destroy(b);
	E->fs = a;

	vgw_fs_conf_init(&c);
	c.shared_dir = E->shared;
	c.posix_locks = true;
	c.queue_size = 128;
	c.max_inodes = 4;
	c.max_handles = 1024;
	c.no_uring = E->no_uring;
	b = vgw_fs_create(&c);
	assert_non_null(b);
	assert_int_equal(vgw_fs_adopt(b, memfd, why, sizeof(why)), -EBADMSG);
	snprintf(want, sizeof(want),
		 "table region: section 0 (type 0x0100): 5 inodes, "
		 "2 handles: more than the tables hold (2, 1023) (tables of %u "
		 "inodes and %u handles there, 4 and 1024 here)",
		 a->hdr->max_inodes, a->hdr->max_handles);
	assert_string_equal(why, want);
	E->fs = b;
	t_do_init();
	vgw_fs_destroy(b);
	E->fs = a;
	assert_int_equal(t_fd_count(), fds);
}

/* A new engine takes a's table over (adopted whole, no vault), a goes:
 * the new engine, now the one the tests use. */
static struct vgw_fs *
t_take_over(struct vgw_fs *a)
{
	struct vgw_fs *b;
	char why[256];
	int memfd = dup(vgw_fs_table_fd(a, NULL));

	assert_true(memfd >= 0);
	b = t_engine();
	assert_non_null(b);
	assert_int_equal(vgw_fs_adopt(b, memfd, why, sizeof(why)), 0);
	close(memfd);
	vgw_fs_destroy(a);
	E->fs = b;
	return b;
}

/* Hints a take-over must not follow to another file: x's parent d1 was
 * forgotten while x kept a lookup (a count a guest never forgets, as a
 * request taken twice could leave) and d1's slot went to d3, which holds
 * an x of its own; h was renamed on the host and another h made. The
 * adopted x and h are stale; d3/x and the new h get node ids of their
 * own, as they did in the dead engine. */
static void
test_adopt_hints(void **state)
{
	struct fuse_entry_out d1, x, d3, x3, h, e;
	struct vgw_fs *a = E->fs, *b;
	struct fuse_attr at;
	char p[PATH_MAX], q[PATH_MAX];

	(void)state;
	t_mkdir_host("d1");
	t_mkdir_host("d3");
	t_write_host("d1/x", "one");
	t_write_host("d3/x", "three");
	t_write_host("h", "old");
	t_do_init();
	assert_int_equal(t_lookup(1, "d1", &d1), 0);
	assert_int_equal(t_lookup(d1.nodeid, "x", &x), 0);
	assert_int_equal(t_forget(d1.nodeid, 1), 0);
	assert_int_equal(t_lookup(1, "d3", &d3), 0);
	assert_int_equal((uint32_t)d3.nodeid, (uint32_t)d1.nodeid); /* the slot, reused */
	assert_int_equal(t_lookup(d3.nodeid, "x", &x3), 0);
	assert_int_not_equal(x3.nodeid, x.nodeid);
	assert_int_equal(t_lookup(1, "h", &h), 0);
	t_path(p, "h");
	t_path(q, "h2");
	assert_int_equal(rename(p, q), 0);
	t_write_host("h", "new");

	b = t_take_over(a);
	assert_int_equal(vgw_fs_stats(b)->state_stale_inodes, 2);
	assert_int_equal(t_getattr(x.nodeid, &at), -ESTALE);
	assert_int_equal(t_getattr(h.nodeid, &at), -ESTALE);
	assert_int_equal(t_lookup(d3.nodeid, "x", &e), 0);
	assert_int_equal(e.nodeid, x3.nodeid);
	t_assert_attr_matches(&e.attr, "d3/x");
	assert_int_equal(t_lookup(1, "h", &e), 0);
	assert_int_not_equal(e.nodeid, h.nodeid);
	t_assert_attr_matches(&e.attr, "h");
	vgw_fs_destroy(b);
	E->fs = t_engine();
	assert_non_null(E->fs);
}

/* A name hint written over a longer one (a freed slot taken by a shorter
 * name; a RENAME to a shorter name) holds the new name alone: the
 * take-over finds both inodes by their hints, none stale. */
static void
test_adopt_short_over_long(void **state)
{
	struct fuse_entry_out l, s, r, e;
	struct fuse_rename_in rn = { .newdir = 1 };
	struct vgw_fs *a = E->fs, *b;
	struct fuse_attr at;

	(void)state;
	t_write_host("a-rather-long-name-for-a-slot", "long");
	t_write_host("s", "short");
	t_write_host("another-long-name-renamed", "renamed");
	t_do_init();
	assert_int_equal(t_lookup(1, "a-rather-long-name-for-a-slot", &l), 0);
	assert_int_equal(t_forget(l.nodeid, 1), 0);
	assert_int_equal(t_lookup(1, "s", &s), 0);
	assert_int_equal((uint32_t)s.nodeid, (uint32_t)l.nodeid); /* the slot, reused */
	assert_int_equal(t_lookup(1, "another-long-name-renamed", &r), 0);
	assert_int_equal(
		t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "another-long-name-renamed", "rn"), 0);

	b = t_take_over(a);
	assert_int_equal(vgw_fs_stats(b)->state_stale_inodes, 0);
	assert_int_equal(t_getattr(s.nodeid, &at), 0);
	t_assert_attr_matches(&at, "s");
	assert_int_equal(t_getattr(r.nodeid, &at), 0);
	t_assert_attr_matches(&at, "rn");
	assert_int_equal(t_lookup(1, "rn", &e), 0);
	assert_int_equal(e.nodeid, r.nodeid);
	vgw_fs_destroy(b);
	E->fs = t_engine();
	assert_non_null(E->fs);
}

/* A vault for engine a (its two ends in v), then the session's INIT. */
static void
t_vault_open(struct vgw_fs *a, int v[2])
{
	assert_int_equal(vgw_fs_vault_open(a), 0);
	assert_int_equal(vgw_fs_vault_fds(a, v), 2);
	t_do_init();
}

/* Close what t_take_over_vault() left the test. */
static void
t_vault_close(int memfd, const int v[2])
{
	close(memfd);
	close(v[0]);
	close(v[1]);
}

/* The keeper's take-over with a vault: dups of a's table and vault fds
 * (in *memfd and v, the caller's to close), a destroyed (the dups keep
 * the queue), a new engine adopting them; why says what it gave back. */
static struct vgw_fs *
t_take_over_vault(struct vgw_fs *a, int v[2], int *memfd, char *why, size_t why_len)
{
	struct vgw_fs *b;

	*memfd = dup(vgw_fs_table_fd(a, NULL));
	v[0] = dup(v[0]);
	v[1] = dup(v[1]);
	assert_true(*memfd >= 0 && v[0] >= 0 && v[1] >= 0);
	vgw_fs_destroy(a);
	b = t_engine();
	assert_non_null(b);
	assert_int_equal(vgw_fs_adopt_vault(b, *memfd, v[0], v[1], why, why_len), 0);
	return b;
}

/* A file unlinked while open: its fd parked in the session's vault at the
 * UNLINK comes back to the adopted inode, the handle reads it, and the
 * vault (the same socket pair) holds it again for the next take-over.
 * Without the vault the same take-over leaves it stale. */
static void
test_adopt_vault(void **state)
{
	unsigned int fds = t_fd_count();
	struct fuse_entry_out e;
	struct vgw_fs *a = E->fs, *b;
	char why[256], buf[32] = { 0 };
	int memfd, v[2];
	uint64_t fh;

	(void)state;
	t_vault_open(a, v);
	assert_int_equal(t_create(1, "held", O_RDWR, 0600, &e, &fh), 0);
	assert_int_equal(t_write(fh, 0, "still here", 10), 10);
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "held", NULL), 0);
	assert_int_equal(vgw_fs_stats(a)->vault_kept, 1);
	assert_false(t_host_exists("held"));

	b = t_take_over_vault(a, v, &memfd, why, sizeof(why));
	assert_non_null(strstr(why, "1 unlinked file(s) of 1 parked given back"));
	E->fs = b;
	assert_int_equal(t_read(fh, 0, buf, sizeof(buf) - 1), 10);
	assert_string_equal(buf, "still here");
	assert_int_equal(vgw_fs_stats(b)->vault_taken, 1);

	/* parked again: a second take-over, from b, finds it too */
	memfd = (close(memfd), dup(vgw_fs_table_fd(b, NULL)));
	a = t_engine();
	assert_non_null(a);
	assert_int_equal(vgw_fs_adopt_vault(a, memfd, v[0], v[1], why, sizeof(why)), 0);
	assert_non_null(strstr(why, "1 unlinked file(s) of 1 parked given back"));
	vgw_fs_destroy(b);
	E->fs = a;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(t_read(fh, 0, buf, sizeof(buf) - 1), 10);
	assert_string_equal(buf, "still here");
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);

	/* without the vault: stale */
	b = t_engine();
	assert_non_null(b);
	close(memfd);
	memfd = dup(vgw_fs_table_fd(a, NULL));
	assert_int_equal(vgw_fs_adopt(b, memfd, why, sizeof(why)), 0);
	assert_int_equal(vgw_fs_stats(b)->state_stale_inodes, 1);
	vgw_fs_destroy(a);
	vgw_fs_destroy(b);
	t_vault_close(memfd, v);
	E->fs = t_engine();
	assert_non_null(E->fs);
	assert_int_equal(t_fd_count(), fds);
}

/* A file's fd is parked before the UNLINK or RENAME that takes its last
 * name, which may fail: a guest repeating a RENAME of a directory onto a
 * file it looked up (ENOTDIR) must not park the file each time, filling
 * the vault's queue so that real unlinks are no longer parked. Parked once
 * per inode: the failing RENAMEs, then the UNLINK that takes the name,
 * leave one fd in the queue, which a take-over gives back. */
static void
test_vault_once(void **state)
{
	struct fuse_rename_in rn = { .newdir = 1 };
	struct fuse_entry_out e, de, g;
	struct vgw_fs *a = E->fs, *b;
	char why[256], buf[32] = { 0 };
	int memfd, v[2], i;
	uint64_t fh, gfh;

	(void)state;
	t_vault_open(a, v);
	assert_int_equal(t_create(1, "f", O_RDWR, 0600, &e, &fh), 0);
	assert_int_equal(t_write(fh, 0, "kept once", 9), 9);
	assert_int_equal(t_mkdir(1, "d", 0755, &de), 0);
	for (i = 0; i < 200; i++)
		assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "d", "f"), -ENOTDIR);
	assert_true(t_host_exists("f"));
	assert_int_equal(vgw_fs_stats(a)->vault_kept, 1);
	assert_int_equal(vgw_fs_stats(a)->vault_full, 0);
	/* the name goes now: parked already */
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "f", NULL), 0);
	assert_false(t_host_exists("f"));
	assert_int_equal(vgw_fs_stats(a)->vault_kept, 1);
	/* another inode is parked on its own */
	assert_int_equal(t_create(1, "g", O_RDWR, 0600, &g, &gfh), 0);
	assert_int_equal(t_release(FUSE_RELEASE, gfh), 0);
	assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "d", "g"), -ENOTDIR);
	assert_int_equal(vgw_fs_stats(a)->vault_kept, 2);
	assert_int_equal(t_forget(g.nodeid, 1), 0);

	/* the queue holds what was counted: f's fd, and g's, which no
	 * inode takes */
	b = t_take_over_vault(a, v, &memfd, why, sizeof(why));
	assert_non_null(strstr(why, "1 unlinked file(s) of 2 parked given back"));
	E->fs = b;
	assert_int_equal(t_read(fh, 0, buf, sizeof(buf) - 1), 9);
	assert_string_equal(buf, "kept once");
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	t_vault_close(memfd, v);
}

/* Idle passes of the poller: vault sweeps run there. */
static void
t_idle(unsigned int passes)
{
	struct vgw_fs_req *done[4];

	for (unsigned int i = 0; i < passes; i++)
		assert_int_equal(vgw_fs_poll(E->fs, done, 4), 0);
}

/* A parked fd is let go once no inode holds it parked: a file unlinked
 * while held gives its space back when the guest forgets it (not at the
 * next take-over), a guest looping LOOKUP, a failing RENAME and FORGET
 * does not fill the vault, two inodes of one file in a row leave one fd,
 * and what is still held stays parked for the take-over. */
static void
test_vault_sweep(void **state)
{
	struct fuse_rename_in rn = { .newdir = 1 };
	struct fuse_entry_out e, de, g, h;
	const struct vgw_fs_stats *st;
	struct vgw_fs *a = E->fs, *b;
	char why[256], buf[32] = { 0 };
	int memfd, v[2], i;
	uint64_t fh, gfh;

	(void)state;
	t_vault_open(a, v);
	st = vgw_fs_stats(a);
	/* f: open and unlinked, held to the end */
	assert_int_equal(t_create(1, "f", O_RDWR, 0600, &e, &fh), 0);
	assert_int_equal(t_write(fh, 0, "held on", 7), 7);
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "f", NULL), 0);
	/* g: written, closed, unlinked while looked up, then forgotten */
	assert_int_equal(t_create(1, "g", O_RDWR, 0600, &g, &gfh), 0);
	assert_int_equal(t_write(gfh, 0, "let go", 6), 6);
	assert_int_equal(t_release(FUSE_RELEASE, gfh), 0);
	assert_int_equal(t_simple(FUSE_UNLINK, 1, NULL, 0, "g", NULL), 0);
	assert_int_equal(st->vault_kept, 2);
	assert_int_equal(st->vault_parked, 2);
	t_idle(8);
	assert_int_equal(st->vault_released, 0); /* nothing let go yet */
	assert_int_equal(st->vault_parked, 2);
	assert_int_equal(t_forget(g.nodeid, 1), 0);
	t_idle(8);
	assert_int_equal(st->vault_released, 1);
	assert_int_equal(st->vault_parked, 1);

	/* a name that stays: each loop a new inode, parked by the failing
	 * RENAME, forgotten */
	assert_int_equal(t_mkdir(1, "d", 0755, &de), 0);
	t_write_host("h", "stays");
	for (i = 0; i < 300; i++) {
		assert_int_equal(t_lookup(1, "h", &h), 0);
		assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "d", "h"), -ENOTDIR);
		assert_int_equal(t_forget(h.nodeid, 1), 0);
	}
	t_idle(64);
	assert_int_equal(st->vault_kept, 302);
	assert_int_equal(st->vault_released, 301);
	assert_int_equal(st->vault_parked, 1);
	assert_int_equal(st->vault_full, 0);

	/* two inodes of h in a row, no sweep between: one fd stays */
	assert_int_equal(t_lookup(1, "h", &h), 0);
	assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "d", "h"), -ENOTDIR);
	assert_int_equal(t_forget(h.nodeid, 1), 0);
	assert_int_equal(t_lookup(1, "h", &h), 0);
	assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "d", "h"), -ENOTDIR);
	t_idle(64);
	assert_int_equal(st->vault_parked, 2); /* f's and h's */
	assert_int_equal(st->vault_released, 302);

	/* the take-over finds exactly those two; f's is given back and parked
	 * again, h's closed (h is found by its name) */
	b = t_take_over_vault(a, v, &memfd, why, sizeof(why));
	assert_non_null(strstr(why, "1 unlinked file(s) of 2 parked given back"));
	E->fs = b;
	assert_int_equal(vgw_fs_stats(b)->vault_parked, 1);
	assert_int_equal(t_read(fh, 0, buf, sizeof(buf) - 1), 7);
	assert_string_equal(buf, "held on");
	assert_int_equal(t_release(FUSE_RELEASE, fh), 0);
	t_vault_close(memfd, v);
}

static const struct t_case t_cases[] = {
	T_CASE(test_adopt_takeover),   T_CASE(test_adopt_hints),
	T_CASE(test_adopt_vault),      T_CASE(test_vault_once),
	T_CASE(test_vault_sweep),      T_CASE(test_adopt_reject),
	T_CASE(test_adopt_busy_small), T_CASE(test_adopt_short_over_long),
};

int
main(void)
{
	return t_run_both("fs_adopt", t_cases, FS_ARRAY_LEN(t_cases));
}
