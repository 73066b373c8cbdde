/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-fs FUSE engine (lib/fs) against a temporary
 * directory, without vrings: each test builds fuse_in_header + args in a
 * buffer, submits it, polls until it completes and decodes the reply.
 * Every test runs twice: with io_uring, and with helper threads only.
 *
 * Layout of a test's temporary tree:
 *   base/            mkdtemp
 *   base/canary      a file outside the share that must never change
 *   base/outside/    a directory outside the share
 *   base/shared/     the shared directory (nodeid 1)
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs_priv.h"
#include "vgw_state.h"

#define T_IN_MAX (1u << 21)
#define T_OUT_MAX (1u << 21)

struct t_env {
	bool no_uring;
	char base[128];
	char shared[256];
	char canary[256];
	struct stat canary_st;
	struct vgw_fs *fs;
	uint64_t unique;
	uint32_t uid;		/* of the guest process in new requests */
	uint32_t gid;
};

struct t_req {
	uint8_t *in;
	uint32_t in_len;
	uint8_t *out;
	uint32_t out_size;
	struct iovec iv_in[4];
	struct iovec iv_out[4];
	struct vgw_fs_req req;
	/* decoded */
	struct fuse_out_header oh;
	uint8_t *body;
	uint32_t body_len;
};

static struct t_env *E;

/* ---- helpers ---- */

static void
t_path(char *dst, const char *rel)
{
	snprintf(dst, PATH_MAX, "%s/%s", E->shared, rel);
}

static void
t_write_host(const char *rel, const char *data)
{
	char p[PATH_MAX];
	FILE *f;

	t_path(p, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static struct t_req *
t_new(uint32_t opcode, uint64_t nodeid)
{
	struct t_req *t = calloc(1, sizeof(*t));
	struct fuse_in_header *ih;

	assert_non_null(t);
	t->in = calloc(1, T_IN_MAX);
	t->out = calloc(1, T_OUT_MAX);
	assert_non_null(t->in);
	assert_non_null(t->out);
	t->out_size = 4096 + 1024;
	ih = (struct fuse_in_header *)t->in;
	ih->opcode = opcode;
	ih->nodeid = nodeid;
	ih->unique = ++E->unique;
	ih->uid = E->uid;
	ih->gid = E->gid;
	ih->pid = 1;
	t->in_len = sizeof(*ih);
	return t;
}

static void
t_add(struct t_req *t, const void *p, size_t n)
{
	assert_true(t->in_len + n <= T_IN_MAX);
	memcpy(t->in + t->in_len, p, n);
	t->in_len += (uint32_t)n;
}

static void
t_add_str(struct t_req *t, const char *s)
{
	t_add(t, s, strlen(s) + 1);
}

static void
t_free(struct t_req *t)
{
	free(t->in);
	free(t->out);
	free(t);
}

/* Submit without waiting: the IN is split into 3 iovecs (header, 7 bytes,
 * rest) and the OUT into 2 to exercise the gather/scatter code. */
static void
t_submit_raw(struct t_req *t, uint32_t hdr_len)
{
	uint32_t a = t->in_len < 40 ? t->in_len : 40;
	uint32_t b = t->in_len - a < 7 ? t->in_len - a : 7;
	uint32_t o1 = t->out_size < 24 ? t->out_size : 24;

	((struct fuse_in_header *)t->in)->len = hdr_len;
	t->iv_in[0] = (struct iovec){ t->in, a };
	t->iv_in[1] = (struct iovec){ t->in + a, b };
	t->iv_in[2] = (struct iovec){ t->in + a + b, t->in_len - a - b };
	t->iv_out[0] = (struct iovec){ t->out, o1 };
	t->iv_out[1] = (struct iovec){ t->out + o1, t->out_size - o1 };
	memset(&t->req, 0, sizeof(t->req));
	t->req.in = t->iv_in;
	t->req.in_cnt = 3;
	t->req.out = t->iv_out;
	t->req.out_cnt = 2;
	t->req.user = t;
	assert_int_equal(vgw_fs_submit(E->fs, &t->req), 0);
}

static void
t_decode(struct t_req *t)
{
	if (t->req.out_len >= sizeof(t->oh)) {
		memcpy(&t->oh, t->out, sizeof(t->oh));
		assert_int_equal(t->oh.len, t->req.out_len);
		t->body = t->out + sizeof(t->oh);
		t->body_len = t->oh.len - sizeof(t->oh);
		assert_int_equal(t->oh.error, t->req.error);
	} else {
		memset(&t->oh, 0, sizeof(t->oh));
		t->body = NULL;
		t->body_len = 0;
	}
}

/* Poll until the given request completes; others completing meanwhile
 * are decoded too. */
static void
t_wait(struct t_req *t)
{
	struct vgw_fs_req *done[16];
	struct timespec t0, now;
	bool got = false;
	unsigned int n, i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!got) {
		n = vgw_fs_poll(E->fs, done, 16);
		for (i = 0; i < n; i++) {
			t_decode(done[i]->user);
			if (done[i] == &t->req)
				got = true;
		}
		if (n == 0)
			usleep(50);
		clock_gettime(CLOCK_MONOTONIC, &now);
		assert_true(now.tv_sec - t0.tv_sec < 60);
	}
}

/* Run a request; return its error (0 or -errno). */
static int
t_run(struct t_req *t)
{
	t_submit_raw(t, t->in_len);
	t_wait(t);
	if (t->req.out_len >= sizeof(struct fuse_out_header))
		assert_int_equal(t->oh.unique, ((struct fuse_in_header *)t->in)->unique);
	return t->oh.error;
}

static int
t_simple(uint32_t op, uint64_t nodeid, const void *arg, size_t n, const char *s1,
	 const char *s2)
{
	struct t_req *t = t_new(op, nodeid);
	int rc;

	if (arg)
		t_add(t, arg, n);
	if (s1)
		t_add_str(t, s1);
	if (s2)
		t_add_str(t, s2);
	rc = t_run(t);
	t_free(t);
	return rc;
}

static int
t_entry_op(uint32_t op, uint64_t parent, const void *arg, size_t n, const char *s1,
	   const char *s2, struct fuse_entry_out *e)
{
	struct t_req *t = t_new(op, parent);
	int rc;

	if (arg)
		t_add(t, arg, n);
	if (s1)
		t_add_str(t, s1);
	if (s2)
		t_add_str(t, s2);
	rc = t_run(t);
	if (rc == 0) {
		assert_int_equal(t->body_len, sizeof(*e));
		memcpy(e, t->body, sizeof(*e));
	}
	t_free(t);
	return rc;
}

static int
t_lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	return t_entry_op(FUSE_LOOKUP, parent, NULL, 0, name, NULL, e);
}

static int
t_mkdir(uint64_t parent, const char *name, uint32_t mode, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = 0 };

	return t_entry_op(FUSE_MKDIR, parent, &in, sizeof(in), name, NULL, e);
}

static int
t_getattr(uint64_t nodeid, struct fuse_attr *a)
{
	struct fuse_getattr_in in = { 0 };
	struct t_req *t = t_new(FUSE_GETATTR, nodeid);
	int rc;

	t_add(t, &in, sizeof(in));
	rc = t_run(t);
	if (rc == 0) {
		assert_int_equal(t->body_len, sizeof(struct fuse_attr_out));
		memcpy(a, &((struct fuse_attr_out *)t->body)->attr, sizeof(*a));
	}
	t_free(t);
	return rc;
}

static int
t_create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
	 struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in = { .flags = flags, .mode = mode };
	struct t_req *t = t_new(FUSE_CREATE, parent);
	int rc;

	t_add(t, &in, sizeof(in));
	t_add_str(t, name);
	rc = t_run(t);
	if (rc == 0) {
		assert_int_equal(t->body_len, sizeof(*e) + sizeof(struct fuse_open_out));
		memcpy(e, t->body, sizeof(*e));
		*fh = ((struct fuse_open_out *)(t->body + sizeof(*e)))->fh;
	}
	t_free(t);
	return rc;
}

static int
t_open(uint32_t op, uint64_t nodeid, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags };
	struct t_req *t = t_new(op, nodeid);
	int rc;

	t_add(t, &in, sizeof(in));
	rc = t_run(t);
	if (rc == 0) {
		assert_int_equal(t->body_len, sizeof(struct fuse_open_out));
		*fh = ((struct fuse_open_out *)t->body)->fh;
	}
	t_free(t);
	return rc;
}

static int
t_release(uint32_t op, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };

	return t_simple(op, 1, &in, sizeof(in), NULL, NULL);
}

static struct t_req *
t_read_req(uint32_t op, uint64_t fh, uint64_t off, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	struct t_req *t = t_new(op, 1);

	t_add(t, &in, sizeof(in));
	t->out_size = sizeof(struct fuse_out_header) + size;
	assert_true(t->out_size <= T_OUT_MAX);
	return t;
}

static int
t_read(uint64_t fh, uint64_t off, void *buf, uint32_t size)
{
	struct t_req *t = t_read_req(FUSE_READ, fh, off, size);
	int rc = t_run(t);

	if (rc == 0) {
		memcpy(buf, t->body, t->body_len);
		rc = (int)t->body_len;
	}
	t_free(t);
	return rc;
}

static int
t_write(uint64_t fh, uint64_t off, const void *buf, uint32_t size)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = size };
	struct t_req *t = t_new(FUSE_WRITE, 1);
	int rc;

	t_add(t, &in, sizeof(in));
	t_add(t, buf, size);
	rc = t_run(t);
	if (rc == 0) {
		assert_int_equal(t->body_len, sizeof(struct fuse_write_out));
		rc = (int)((struct fuse_write_out *)t->body)->size;
	}
	t_free(t);
	return rc;
}

static int
t_forget(uint64_t nodeid, uint64_t n)
{
	struct fuse_forget_in in = { .nlookup = n };
	struct t_req *t = t_new(FUSE_FORGET, nodeid);

	t_add(t, &in, sizeof(in));
	t_run(t);
	assert_int_equal(t->req.out_len, 0);
	t_free(t);
	return 0;
}

static void
t_assert_attr_matches(const struct fuse_attr *a, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	t_path(p, rel);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(a->ino, st.st_ino);
	assert_int_equal(a->mode, st.st_mode);
	assert_int_equal(a->size, (uint64_t)st.st_size);
	assert_int_equal(a->nlink, st.st_nlink);
	assert_int_equal(a->uid, st.st_uid);
	assert_int_equal(a->gid, st.st_gid);
	assert_int_equal(a->blocks, (uint64_t)st.st_blocks);
	assert_int_equal(a->mtime, (uint64_t)st.st_mtim.tv_sec);
	assert_int_equal(a->mtimensec, (uint32_t)st.st_mtim.tv_nsec);
	assert_int_equal(a->ctime, (uint64_t)st.st_ctim.tv_sec);
}

static bool
t_host_exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	t_path(p, rel);
	return lstat(p, &st) == 0;
}

/* ---- setup ---- */

static int
t_rm_rf(const char *p)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	return system(cmd);
}

/* An engine on E->shared in E's I/O mode, as every test uses (tests of
 * the session state make a second one). */
static struct vgw_fs *
t_engine(void)
{
	struct vgw_fs_conf c;

	vgw_fs_conf_init(&c);
	c.shared_dir = E->shared;
	c.tag = "test";
	c.posix_locks = true;
	c.queue_size = 128;
	c.max_inodes = 32768;
	c.max_handles = 1024;
	c.max_inflight = 64;
	c.no_uring = E->no_uring;
	return vgw_fs_create(&c);
}

static int
t_setup(void **state)
{
	bool no_uring = *state != NULL && **(bool **)state;
	char p[PATH_MAX];
	int fd;

	E = calloc(1, sizeof(*E));
	if (E == NULL)
		return -1;
	E->no_uring = no_uring;
	strcpy(E->base, "/tmp/vgw-fs-test-XXXXXX");
	if (mkdtemp(E->base) == NULL)
		return -1;
	snprintf(E->shared, sizeof(E->shared), "%s/shared", E->base);
	snprintf(E->canary, sizeof(E->canary), "%s/canary", E->base);
	snprintf(p, sizeof(p), "%s/outside", E->base);
	if (mkdir(E->shared, 0755) || mkdir(p, 0755))
		return -1;
	fd = open(E->canary, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "canary\n", 7) != 7)
		return -1;
	close(fd);
	stat(E->canary, &E->canary_st);

	E->fs = t_engine();
	if (E->fs == NULL)
		return -1;
	*state = E;
	return 0;
}

/* the canary and the outside directory are untouched */
static void
t_check_outside(void)
{
	char p[PATH_MAX], buf[16] = { 0 };
	struct stat st;
	DIR *d;
	struct dirent *de;
	int fd, n = 0;

	assert_int_equal(stat(E->canary, &st), 0);
	assert_int_equal(st.st_size, E->canary_st.st_size);
	assert_int_equal(st.st_mtim.tv_sec, E->canary_st.st_mtim.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, E->canary_st.st_mtim.tv_nsec);
	assert_int_equal(st.st_mode, E->canary_st.st_mode);
	assert_int_equal(st.st_nlink, 1);
	fd = open(E->canary, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 7);
	close(fd);
	assert_string_equal(buf, "canary\n");
	d = opendir(E->base);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
		assert_true(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			    !strcmp(de->d_name, "canary") || !strcmp(de->d_name, "outside") ||
			    !strcmp(de->d_name, "shared"));
	}
	closedir(d);
	assert_int_equal(n, 3);
	snprintf(p, sizeof(p), "%s/outside", E->base);
	d = opendir(p);
	assert_non_null(d);
	n = 0;
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	assert_int_equal(n, 2);
}

static int
t_teardown(void **state)
{
	(void)state;
	t_check_outside();
	vgw_fs_destroy(E->fs);
	t_rm_rf(E->base);
	free(E);
	E = NULL;
	return 0;
}

static void
t_do_init(void)
{
	struct fuse_init_in in = {
		.major = 7, .minor = 38, .max_readahead = 65536,
		.flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_BIG_WRITES |
			 FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS |
			 FUSE_MAX_PAGES | FUSE_EXPORT_SUPPORT | FUSE_INIT_EXT,
	};

	assert_int_equal(t_simple(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL), 0);
}

/* ---- tests: INIT, DESTROY, dispatch ---- */

static void
test_init(void **state)
{
	struct fuse_init_in in = { .major = 7, .minor = 31, .max_readahead = 131072,
				   .flags = 0xffffffff };
	struct fuse_init_out *o;
	struct t_req *t;

	(void)state;
	/* before INIT: EIO */
	assert_int_equal(t_simple(FUSE_GETATTR, 1, &(struct fuse_getattr_in){ 0 },
				  sizeof(struct fuse_getattr_in), NULL, NULL), -EIO);
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
	assert_true(o->flags & FUSE_POSIX_LOCKS);	/* configured on */
	assert_false(o->flags & FUSE_WRITEBACK_CACHE);	/* off by default */
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
	uint64_t fh, fh2;
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

	/* FLUSH FSYNC FALLOCATE LSEEK */
	assert_int_equal(t_simple(FUSE_FLUSH, e.nodeid, &(struct fuse_flush_in){ .fh = fh },
				  sizeof(struct fuse_flush_in), NULL, NULL), 0);
	assert_int_equal(t_simple(FUSE_FSYNC, e.nodeid, &(struct fuse_fsync_in){ .fh = fh },
				  sizeof(struct fuse_fsync_in), NULL, NULL), 0);
	assert_int_equal(t_simple(FUSE_FSYNC, e.nodeid,
				  &(struct fuse_fsync_in){ .fh = fh,
							   .fsync_flags = FUSE_FSYNC_FDATASYNC },
				  sizeof(struct fuse_fsync_in), NULL, NULL), 0);
	assert_int_equal(t_simple(FUSE_FALLOCATE, e.nodeid,
				  &(struct fuse_fallocate_in){ .fh = fh, .offset = 0,
							       .length = 8 << 20 },
				  sizeof(struct fuse_fallocate_in), NULL, NULL), 0);
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
	rn2.flags = RENAME_EXCHANGE;
	assert_int_equal(t_simple(FUSE_RENAME2, 1, &rn2, sizeof(rn2), "g", "h"), 0);
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

/* ---- OPENDIR READDIR READDIRPLUS RELEASEDIR FSYNCDIR ---- */

static int
t_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

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
		struct t_req *t = t_read_req(plus ? FUSE_READDIRPLUS : FUSE_READDIR, fh, off,
					     bufsz);
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
				  sizeof(struct fuse_fsync_in), NULL, NULL), 0);
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
				  sizeof(struct fuse_access_in), NULL, NULL), 0);
	assert_int_equal(t_simple(FUSE_ACCESS, e.nodeid,
				  &(struct fuse_access_in){ .mask = 0x100 },
				  sizeof(struct fuse_access_in), NULL, NULL), -EINVAL);
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
	assert_int_equal(t_simple(FUSE_RENAME, 1, &rn, sizeof(rn), "../canary", "stolen"),
			 -EINVAL);
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
	const uint64_t bad[] = { 0, 2, 3, 0xffffffffULL, 0xffffffffffffffffULL,
				 (7ULL << 32) | 1, 1ULL << 32 };

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

/* ---- session state: save on one engine, load into a fresh one ---- */

static const uint16_t t_state_known[] = { VGW_FS_SEC_SESSION, VGW_FS_SEC_INODES,
					  VGW_FS_SEC_HANDLES, VGW_FS_SEC_SLOTS };

static void
t_state_save(void **buf, size_t *len)
{
	struct vgw_state_writer w;

	assert_int_equal(vgw_state_writer_init(&w, VGW_FS_STATE_DEV_TYPE, 0), 0);
	assert_int_equal(vgw_fs_state_save(E->fs, &w), 0);
	assert_int_equal(vgw_state_finish(&w, buf, len), 0);
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

/* One READDIR of size bytes from off: the names (dots left out) appended
 * to names[*n], the offset of the last entry into *next. Returns the
 * number of entries, dots included (0 at the end). */
static unsigned int
t_readdir_chunk(uint64_t fh, uint64_t off, uint32_t size, char **names, unsigned int *n,
		uint64_t *next)
{
	struct t_req *t = t_read_req(FUSE_READDIR, fh, off, size);
	unsigned int cnt = 0;
	uint32_t p = 0;

	assert_int_equal(t_run(t), 0);
	while (p < t->body_len) {
		struct fuse_dirent *d = (void *)(t->body + p);
		char *nm = strndup(d->name, d->namelen);

		p += FUSE_DIRENT_SIZE(d);
		*next = d->off;
		cnt++;
		if (!strcmp(nm, ".") || !strcmp(nm, "..")) {
			free(nm);
			continue;
		}
		assert_true(*n < 64);
		names[(*n)++] = nm;
	}
	t_free(t);
	return cnt;
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
	char p[PATH_MAX], nm[32], buf[64], why[VGW_STATE_REASON_MAX];
	unsigned int n = 0, ni, nh, i;
	char *names[64];
	struct fuse_attr a;
	size_t len;
	void *st;

	(void)state;
	t_do_init();
	t_path(p, "d1");
	assert_int_equal(mkdir(p, 0755), 0);
	t_path(p, "d1/d2");
	assert_int_equal(mkdir(p, 0755), 0);
	t_write_host("d1/d2/f", "nested file");
	t_write_host("r.txt", "read me");
	t_write_host("tmp", "");
	t_write_host("tmp2", "");
	t_path(p, "ls");
	assert_int_equal(mkdir(p, 0755), 0);
	for (i = 0; i < 40; i++) {
		snprintf(nm, sizeof(nm), "ls/entry-%02u", i);
		t_write_host(nm, "");
	}

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
	assert_int_equal(t_create(d1.nodeid, "created", O_CREAT | O_EXCL | O_RDWR, 0644, &cr,
				  &fh_c), 0);
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
	assert_int_equal(ni, 7);	/* root d1 d2 f created r.txt ls */
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
	assert_int_equal(t_read(fh_f, 0, buf, sizeof(buf)), -EBADF);	/* O_WRONLY */
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
	t_path(p, "d");
	assert_int_equal(mkdir(p, 0755), 0);
	t_path(p, "d/sub");
	assert_int_equal(mkdir(p, 0755), 0);
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
	t_path(p, "od");
	assert_int_equal(mkdir(p, 0755), 0);
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
t_state_craft(const struct t_sino *in, unsigned int ni, const struct t_sfh *fh,
	      unsigned int nh, void **buf, size_t *len)
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
		{ 2, 1, 1, T_DIR, "d1" }, { 3, 1, 2, T_REG, "f" },
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
	char p[PATH_MAX], why[VGW_STATE_REASON_MAX];
	struct fuse_entry_out e, f;
	unsigned int i, ni, nh;
	uint8_t *b;
	size_t len;
	void *st;

	(void)state;
	t_path(p, "d1");
	assert_int_equal(mkdir(p, 0755), 0);
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

/* LOOKUP on one request used again and again: 20,000 of t_lookup()'s
 * 4 MiB buffers cost seconds under MALLOC_PERTURB_. */
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
	print_message("%u inodes: save %.1f ms (%zu bytes), load %.1f ms (%s)\n", total,
		      ms_save, len, ms_load, E->no_uring ? "helpers" : "io_uring");
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

int
main(void)
{
	static bool modes[2] = { false, true };
	struct CMUnitTest tests[2][21];
	int rc = 0;

	for (int m = 0; m < 2; m++) {
		struct CMUnitTest t[] = {
			cmocka_unit_test_prestate_setup_teardown(test_init, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_enosys, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_lookup_getattr, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_forget, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_create_write_read, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_namespace, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_readdir_small, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_readdir_10000, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_statfs, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_setattr, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_xattr, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_locks, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_out_of_order, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_escape_names, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_escape_symlinks, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_bogus_ids, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_malformed, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_state_roundtrip, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_state_stale, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_state_moved, t_setup, t_teardown, &modes[m]),
			cmocka_unit_test_prestate_setup_teardown(test_state_reject, t_setup, t_teardown, &modes[m]),
		};

		memcpy(tests[m], t, sizeof(t));
	}
	rc |= _cmocka_run_group_tests("fs_io_uring", tests[0], 21, NULL, NULL);
	rc |= _cmocka_run_group_tests("fs_helpers_only", tests[1], 21, NULL, NULL);
	{
		const struct CMUnitTest extra[] = {
			cmocka_unit_test_prestate_setup_teardown(test_busy, t_setup, t_teardown, &modes[0]),
			cmocka_unit_test_prestate_setup_teardown(test_tables, t_setup, t_teardown, &modes[0]),
			cmocka_unit_test_prestate_setup_teardown(test_owner, t_setup, t_teardown, &modes[0]),
			cmocka_unit_test_prestate_setup_teardown(test_owner, t_setup, t_teardown, &modes[1]),
			cmocka_unit_test_prestate_setup_teardown(test_state_busy, t_setup, t_teardown, &modes[0]),
			cmocka_unit_test_prestate_setup_teardown(test_state_many, t_setup, t_teardown, &modes[0]),
		};

		rc |= cmocka_run_group_tests_name("fs_misc", extra, NULL, NULL);
	}
	return rc;
}
