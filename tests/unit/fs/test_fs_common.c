/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers of the lib/fs unit tests (test_fs_common.h). */

#include <dirent.h>
#include <sched.h>

#include "test_fs_common.h"

struct t_env *E;
bool t_modes[2] = { false, true };

void
t_path(char *dst, const char *rel)
{
	snprintf(dst, PATH_MAX, "%s/%s", E->shared, rel);
}

void
t_mkdir_host(const char *rel)
{
	char p[PATH_MAX];

	t_path(p, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

void
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

/* Request buffers are sized for what a request holds: a test makes tens of
 * thousands of requests, and 2 MiB each way (T_IN_MAX, T_OUT_MAX) costs
 * seconds of page faults and memsets under MALLOC_PERTURB_ (which meson
 * test sets). They grow, zero-filled like the first bytes, up to those
 * limits. */
#define T_IN_FIRST 4096u
#define T_OUT_FIRST (4096u + 1024u)

static uint8_t *
t_grow(uint8_t *p, uint32_t *cap, uint32_t want)
{
	p = realloc(p, want);
	assert_non_null(p);
	memset(p + *cap, 0, want - *cap);
	*cap = want;
	return p;
}

struct t_req *
t_new(uint32_t opcode, uint64_t nodeid)
{
	struct t_req *t = calloc(1, sizeof(*t));
	struct fuse_in_header *ih;

	assert_non_null(t);
	t->in = calloc(1, T_IN_FIRST);
	t->out = calloc(1, T_OUT_FIRST);
	assert_non_null(t->in);
	assert_non_null(t->out);
	t->in_cap = T_IN_FIRST;
	t->out_cap = T_OUT_FIRST;
	t->out_size = T_OUT_FIRST;
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

void
t_add(struct t_req *t, const void *p, size_t n)
{
	uint32_t cap = t->in_cap;

	assert_true(t->in_len + n <= T_IN_MAX);
	while (t->in_len + n > cap)
		cap = cap * 2 < T_IN_MAX ? cap * 2 : T_IN_MAX;
	if (cap > t->in_cap)
		t->in = t_grow(t->in, &t->in_cap, cap);
	memcpy(t->in + t->in_len, p, n);
	t->in_len += (uint32_t)n;
}

/* Offer size bytes of OUT space to the engine. */
void
t_out(struct t_req *t, uint32_t size)
{
	assert_true(size <= T_OUT_MAX);
	if (size > t->out_cap)
		t->out = t_grow(t->out, &t->out_cap, size);
	t->out_size = size;
}

void
t_add_str(struct t_req *t, const char *s)
{
	t_add(t, s, strlen(s) + 1);
}

void
t_free(struct t_req *t)
{
	free(t->in);
	free(t->out);
	free(t);
}

/* Submit without waiting: the IN is split into 3 iovecs (header, 7 bytes,
 * rest) and the OUT into 2 to exercise the gather/scatter code. */
void
t_submit_raw(struct t_req *t, uint32_t hdr_len)
{
	uint32_t a = t->in_len < 40 ? t->in_len : 40;
	uint32_t b = t->in_len - a < 7 ? t->in_len - a : 7;
	uint32_t o1 = t->out_size < 24 ? t->out_size : 24;

	assert_true(t->in_len <= t->in_cap && t->out_size <= t->out_cap);
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

void
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
 * are decoded too. Most complete within tens of microseconds, on a helper
 * thread or an io_uring worker: for the first 2 ms the poller only yields
 * the CPU between polls, then it sleeps 50 us between them (a sleep for
 * each of the tens of thousands of requests of a test costs seconds). */
void
t_wait(struct t_req *t)
{
	struct vgw_fs_req *done[16];
	struct timespec t0, now;
	bool got = false;
	unsigned int n, i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	now = t0;
	while (!got) {
		n = vgw_fs_poll(E->fs, done, 16);
		for (i = 0; i < n; i++) {
			t_decode(done[i]->user);
			if (done[i] == &t->req)
				got = true;
		}
		if (n == 0) {
			if ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) <
			    2000000L)
				sched_yield();
			else
				usleep(50);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		assert_true(now.tv_sec - t0.tv_sec < 60);
	}
}

/* Run a request; return its error (0 or -errno). */
int
t_run(struct t_req *t)
{
	t_submit_raw(t, t->in_len);
	t_wait(t);
	if (t->req.out_len >= sizeof(struct fuse_out_header))
		assert_int_equal(t->oh.unique, ((struct fuse_in_header *)t->in)->unique);
	return t->oh.error;
}

/* A request with an optional fixed-size argument and up to two strings. */
static struct t_req *
t_new_args(uint32_t op, uint64_t nodeid, const void *arg, size_t n, const char *s1, const char *s2)
{
	struct t_req *t = t_new(op, nodeid);

	if (arg)
		t_add(t, arg, n);
	if (s1)
		t_add_str(t, s1);
	if (s2)
		t_add_str(t, s2);
	return t;
}

int
t_simple(uint32_t op, uint64_t nodeid, const void *arg, size_t n, const char *s1, const char *s2)
{
	struct t_req *t = t_new_args(op, nodeid, arg, n, s1, s2);
	int rc;

	rc = t_run(t);
	t_free(t);
	return rc;
}

int
t_entry_op(uint32_t op, uint64_t parent, const void *arg, size_t n, const char *s1, const char *s2,
	   struct fuse_entry_out *e)
{
	struct t_req *t = t_new_args(op, parent, arg, n, s1, s2);
	int rc;

	rc = t_run(t);
	if (rc == 0) {
		assert_int_equal(t->body_len, sizeof(*e));
		memcpy(e, t->body, sizeof(*e));
	}
	t_free(t);
	return rc;
}

int
t_lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	return t_entry_op(FUSE_LOOKUP, parent, NULL, 0, name, NULL, e);
}

int
t_mkdir(uint64_t parent, const char *name, uint32_t mode, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = 0 };

	return t_entry_op(FUSE_MKDIR, parent, &in, sizeof(in), name, NULL, e);
}

int
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

int
t_create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode, struct fuse_entry_out *e,
	 uint64_t *fh)
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

int
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

int
t_release(uint32_t op, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };

	return t_simple(op, 1, &in, sizeof(in), NULL, NULL);
}

struct t_req *
t_read_req(uint32_t op, uint64_t fh, uint64_t off, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	struct t_req *t = t_new(op, 1);

	t_add(t, &in, sizeof(in));
	t_out(t, sizeof(struct fuse_out_header) + size);
	return t;
}

int
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

int
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

int
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

void
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

bool
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
struct vgw_fs *
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

int
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

int
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

void
t_do_init(void)
{
	struct fuse_init_in in = {
		.major = 7,
		.minor = 38,
		.max_readahead = 65536,
		.flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_BIG_WRITES |
			 FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS |
			 FUSE_MAX_PAGES | FUSE_EXPORT_SUPPORT | FUSE_INIT_EXT,
	};

	assert_int_equal(t_simple(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL), 0);
}

int
t_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
t_run_both(const char *name, const struct t_case *c, size_t n)
{
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	char group[64];
	int rc = 0;

	assert_non_null(tests);
	for (int m = 0; m < 2; m++) {
		for (size_t i = 0; i < n; i++)
			tests[i] = (struct CMUnitTest){
				.name = c[i].name,
				.test_func = c[i].fn,
				.setup_func = t_setup,
				.teardown_func = t_teardown,
				.initial_state = &t_modes[m],
			};
		snprintf(group, sizeof(group), "%s_%s", name, m ? "helpers_only" : "io_uring");
		rc |= _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	}
	free(tests);
	return rc;
}

/* One READDIR of size bytes from off: the names (dots left out) appended
 * to names[*n], the offset of the last entry into *next. Returns the
 * number of entries, dots included (0 at the end). */
unsigned int
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
