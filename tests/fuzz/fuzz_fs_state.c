/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: loading a FUSE session (vgw_fs_state_load_buf()) into
 * a fresh engine. The stream comes from the front-end's pipe, so every
 * byte is untrusted. The engine serves a temporary shared directory with
 * a few directories, files, a FIFO and symlinks pointing outside.
 *
 * The first input byte picks a mode, the second holds options:
 *   0  the rest, as is, to the loader;
 *   1  the rest as records (u8 type, u8 flags, u16 length, payload),
 *      written with the codec's own writer, so that magic, lengths and
 *      CRCs are right and the fs section parsing is reached;
 *   2  the rest drives a generator of SESSION, INODES, HANDLES and SLOTS
 *      sections with mostly valid values (small indices, parents first,
 *      names of the shared tree or from a small hostile alphabet), so that
 *      the deep checks and the reopen paths run.
 *
 * A rejection must come with a one-line reason and leave the engine
 * exactly fresh (tables, fds, hash chains). A load that succeeds must
 * leave every reopened fd inside the shared directory; the engine then
 * serves GETATTR for every loaded node, a LOOKUP under every loaded
 * directory and a READ/READDIR on every loaded handle; its session, saved
 * again, must load into another fresh engine with the same counts. Any
 * inconsistency aborts.
 *
 * Seeds: FZ_FS_STATE_SEEDS=<dir> makes the initialization write a few
 * inputs there (streams saved after real requests, in modes 0 and 1, and
 * generator inputs). */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_priv.h"
#include "vgw_state.h"

#include "fuzz_fs_run.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small tables: one fd per inode, and cheap to check after each load. */
#define FZ_MAX_INODES 64u
#define FZ_MAX_HANDLES 32u

static char fz_base[64];
static size_t fz_base_len;
static struct vgw_fs *fz_fs[2]; /* [1]: no locks, no xattrs */
static uint8_t fz_out[1 << 16];
static uint64_t fz_unique = 1;

static void fz_check_fresh(const struct vgw_fs *fs);

/* ---- the shared tree ---- */

struct fz_node {
	const char *path; /* relative to fz_base */
	int parent;	  /* index in fz_tree, -1: the root */
	const char *name;
	uint32_t mode; /* filled at setup */
	uint64_t dev, ino;
};

static struct fz_node fz_tree[] = {
	{ "d1", -1, "d1", 0, 0, 0 },
	{ "d1/d2", 0, "d2", 0, 0, 0 },
	{ "f", -1, "f", 0, 0, 0 },
	{ "d1/g", 0, "g", 0, 0, 0 },
	{ "d1/d2/h", 1, "h", 0, 0, 0 },
	{ "fifo", -1, "fifo", 0, 0, 0 },
	{ "out", -1, "out", 0, 0, 0 },	       /* -> /etc */
	{ "up", -1, "up", 0, 0, 0 },	       /* -> .. */
	{ "d1/passwd", 0, "passwd", 0, 0, 0 }, /* -> /etc/passwd */
	{ "e", -1, "e", 0, 0, 0 },	       /* an empty directory */
};
#define FZ_NODES (sizeof(fz_tree) / sizeof(fz_tree[0]))

static void
fz_file(const char *rel, const char *content)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", fz_base, rel);
	f = fopen(p, "w");
	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static void
fz_tree_setup(void)
{
	char p[256];
	struct stat st;

	strcpy(fz_base, "/tmp/vgw-fs-state-fuzz-XXXXXX");
	if (mkdtemp(fz_base) == NULL)
		abort();
	fz_base_len = strlen(fz_base);
	snprintf(p, sizeof(p), "%s/d1", fz_base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/d1/d2", fz_base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/e", fz_base);
	mkdir(p, 0755);
	fz_file("f", "0123456789");
	fz_file("d1/g", "g content");
	fz_file("d1/d2/h", "");
	snprintf(p, sizeof(p), "%s/fifo", fz_base);
	mkfifo(p, 0644);
	snprintf(p, sizeof(p), "%s/out", fz_base);
	symlink("/etc", p);
	snprintf(p, sizeof(p), "%s/up", fz_base);
	symlink("..", p);
	snprintf(p, sizeof(p), "%s/d1/passwd", fz_base);
	symlink("/etc/passwd", p);
	for (size_t i = 0; i < FZ_NODES; i++) {
		snprintf(p, sizeof(p), "%s/%s", fz_base, fz_tree[i].path);
		if (lstat(p, &st) != 0)
			abort();
		fz_tree[i].mode = st.st_mode;
		fz_tree[i].dev = st.st_dev;
		fz_tree[i].ino = st.st_ino;
	}
}

static struct vgw_fs *
fz_create(int which)
{
	struct vgw_fs_conf c;
	struct vgw_fs *fs;

	vgw_fs_conf_init(&c);
	c.shared_dir = fz_base;
	c.no_uring = true;
	c.helpers = 1;
	c.max_inodes = FZ_MAX_INODES;
	c.max_handles = FZ_MAX_HANDLES;
	c.max_inflight = 4;
	c.posix_locks = which == 0;
	c.xattr = which == 0;
	if (which == 1)
		c.queue_size = 36; /* max_pages 32 */
	fs = vgw_fs_create(&c);
	if (fs == NULL)
		abort();
	fz_check_fresh(fs);
	return fs;
}

/* ---- requests ---- */

static int32_t
fz_run(struct vgw_fs *fs, const void *in, size_t len)
{
	return fz_fs_run(fs, in, len, fz_out, sizeof(fz_out));
}

static void
fz_hdr(struct fuse_in_header *h, uint32_t len, uint32_t op, uint64_t nodeid)
{
	memset(h, 0, sizeof(*h));
	h->len = len;
	h->opcode = op;
	h->unique = fz_unique++;
	h->nodeid = nodeid;
}

static void
fz_init(struct vgw_fs *fs)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} r;

	memset(&r, 0, sizeof(r));
	fz_hdr(&r.h, sizeof(r), FUSE_INIT, 0);
	r.i.major = 7;
	r.i.minor = 38;
	r.i.flags = 0xffffffff;
	if (fz_run(fs, &r, sizeof(r)) != 0)
		abort();
}

static int32_t
fz_lookup(struct vgw_fs *fs, uint64_t parent, const char *name, uint64_t *nodeid)
{
	struct {
		struct fuse_in_header h;
		char name[NAME_MAX + 1];
	} r;
	size_t n = strlen(name) + 1;
	int32_t err;

	fz_hdr(&r.h, sizeof(r.h) + n, FUSE_LOOKUP, parent);
	memcpy(r.name, name, n);
	err = fz_run(fs, &r, sizeof(r.h) + n);
	if (err == 0 && nodeid)
		*nodeid = ((struct fuse_entry_out *)(fz_out + 16))->nodeid;
	return err;
}

static uint64_t
fz_open(struct vgw_fs *fs, uint64_t nodeid, bool dir, uint32_t flags)
{
	struct {
		struct fuse_in_header h;
		struct fuse_open_in o;
	} r;

	memset(&r, 0, sizeof(r));
	fz_hdr(&r.h, sizeof(r), dir ? FUSE_OPENDIR : FUSE_OPEN, nodeid);
	r.o.flags = flags;
	if (fz_run(fs, &r, sizeof(r)) != 0)
		abort();
	return ((struct fuse_open_out *)(fz_out + 16))->fh;
}

static void
fz_forget(struct vgw_fs *fs, uint64_t nodeid, uint64_t n)
{
	struct {
		struct fuse_in_header h;
		struct fuse_forget_in f;
	} r;

	memset(&r, 0, sizeof(r));
	fz_hdr(&r.h, sizeof(r), FUSE_FORGET, nodeid);
	r.f.nlookup = n;
	fz_run(fs, &r, sizeof(r));
}

static void
fz_release(struct vgw_fs *fs, uint64_t nodeid, uint64_t fh, bool dir)
{
	struct {
		struct fuse_in_header h;
		struct fuse_release_in rl;
	} r;

	memset(&r, 0, sizeof(r));
	fz_hdr(&r.h, sizeof(r), dir ? FUSE_RELEASEDIR : FUSE_RELEASE, nodeid);
	r.rl.fh = fh;
	fz_run(fs, &r, sizeof(r));
}

static void
fz_getattr(struct vgw_fs *fs, uint64_t nodeid)
{
	struct {
		struct fuse_in_header h;
		struct fuse_getattr_in g;
	} r;

	memset(&r, 0, sizeof(r));
	fz_hdr(&r.h, sizeof(r), FUSE_GETATTR, nodeid);
	fz_run(fs, &r, sizeof(r));
}

static void
fz_read(struct vgw_fs *fs, uint64_t nodeid, uint64_t fh, bool dir)
{
	struct {
		struct fuse_in_header h;
		struct fuse_read_in rd;
	} r;

	memset(&r, 0, sizeof(r));
	fz_hdr(&r.h, sizeof(r), dir ? FUSE_READDIRPLUS : FUSE_READ, nodeid);
	r.rd.fh = fh;
	r.rd.size = 4096;
	fz_run(fs, &r, sizeof(r));
}

/* ---- oracles ---- */

static void
fz_check_why(const char *why, size_t why_len)
{
	if (why[0] == '\0' || memchr(why, '\0', why_len) == NULL || strchr(why, '\n') != NULL)
		abort();
}

/* Exactly what vgw_fs_create() left: the root alone, no fds, no chains
 * but the root's, no generations. */
static void
fz_check_fresh(const struct vgw_fs *fs)
{
	const struct fs_region_hdr *h = fs->hdr;
	static const struct fs_inode zi;
	static const struct fs_handle zh;
	uint32_t i, roots = 0;

	if (h->n_inodes != 1 || h->n_handles != 0 || h->inode_bump != FS_ROOT_IDX + 1 ||
	    h->handle_bump != 1 || h->inode_free != 0 || h->handle_free != 0 || h->init_done != 0 ||
	    h->proto_minor != 0 || h->init_flags != 0 || h->max_write != 0 || h->max_pages != 0 ||
	    fs->inflight != 0)
		abort();
	if (fs->inodes[FS_ROOT_IDX].state != FS_ENT_USED || fs->inodes[FS_ROOT_IDX].hnext != 0 ||
	    fs->ino_fd[FS_ROOT_IDX] < 0)
		abort();
	for (i = FS_ROOT_IDX + 1; i < h->max_inodes; i++)
		if (fs->ino_fd[i] != -1 || memcmp(&fs->inodes[i], &zi, sizeof(zi)) != 0)
			abort();
	for (i = 1; i < h->max_handles; i++)
		if (fs->fh_fd[i] != -1 || fs->fh_dead[i] != 0 ||
		    memcmp(&fs->handles[i], &zh, sizeof(zh)) != 0)
			abort();
	for (i = 0; i < h->hash_size; i++) {
		if (fs->hash[i] == 0)
			continue;
		if (fs->hash[i] != FS_ROOT_IDX)
			abort();
		roots++;
	}
	if (roots != 1)
		abort();
}

/* An fd the engine holds must lead inside the shared directory. */
static void
fz_check_fd(int fd)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		abort();
	target[n] = '\0';
	if ((size_t)n < fz_base_len || memcmp(target, fz_base, fz_base_len) != 0 ||
	    (target[fz_base_len] != '\0' && target[fz_base_len] != '/'))
		abort();
}

/* After a successful load: the tables agree with themselves, every fd is
 * inside the share; then a few requests on every node and handle. */
static void
fz_exercise(struct vgw_fs *fs)
{
	const struct fs_region_hdr *h = fs->hdr;
	uint32_t i, n_in = 0, n_hd = 0, walked;
	uint64_t nodeid;

	if (h->inode_bump > h->max_inodes || h->handle_bump > h->max_handles)
		abort();
	for (i = FS_ROOT_IDX; i < h->max_inodes; i++) {
		if (fs->inodes[i].state != FS_ENT_USED)
			continue;
		if (i >= h->inode_bump)
			abort();
		n_in++;
		if (i != FS_ROOT_IDX && (fs->inodes[i].gen == 0 || fs->inodes[i].nlookup == 0))
			abort();
		if (fs->ino_fd[i] >= 0)
			fz_check_fd(fs->ino_fd[i]);
	}
	for (i = 1; i < h->max_handles; i++) {
		if (fs->handles[i].state != FS_ENT_USED)
			continue;
		if (i >= h->handle_bump)
			abort();
		n_hd++;
		if (fs->fh_fd[i] >= 0)
			fz_check_fd(fs->fh_fd[i]);
	}
	if (n_in != h->n_inodes || n_hd != h->n_handles)
		abort();
	/* the free lists hold exactly the unused slots below the bumps */
	for (i = h->inode_free, walked = 0; i != 0; i = fs->inodes[i].hnext, walked++)
		if (walked > h->max_inodes || i >= h->inode_bump ||
		    fs->inodes[i].state != FS_ENT_FREE)
			abort();
	if (walked != h->inode_bump - 1 - n_in)
		abort();
	for (i = h->handle_free, walked = 0; i != 0; i = fs->handles[i].next, walked++)
		if (walked > h->max_handles || i >= h->handle_bump ||
		    fs->handles[i].state != FS_ENT_FREE)
			abort();
	if (walked != h->handle_bump - 1 - n_hd)
		abort();

	if (!h->init_done)
		fz_init(fs);
	for (i = FS_ROOT_IDX + 1; i < h->inode_bump; i++) {
		const struct fs_inode *in = &fs->inodes[i];

		if (in->state != FS_ENT_USED)
			continue;
		nodeid = (uint64_t)in->gen << 32 | i;
		fz_getattr(fs, nodeid);
		if (S_ISDIR(in->mode) &&
		    fz_lookup(fs, nodeid, fz_tree[i % FZ_NODES].name, NULL) == 0)
			fz_forget(fs, ((struct fuse_entry_out *)(fz_out + 16))->nodeid, 1);
	}
	for (i = 1; i < h->handle_bump; i++) {
		const struct fs_handle *hd = &fs->handles[i];

		if (hd->state != FS_ENT_USED)
			continue;
		nodeid = hd->inode ? (uint64_t)hd->inode_gen << 32 | hd->inode : 0;
		fz_read(fs, nodeid, (uint64_t)hd->gen << 32 | i, hd->is_dir);
	}
	if (fs->inflight != 0)
		abort();
}

/* Load one stream into engine `which`; on success check, exercise, save
 * again and reload that into a new engine, then leave a fresh one. */
static void
fz_load(int which, const void *buf, size_t len, bool roundtrip)
{
	struct vgw_fs *fs = fz_fs[which];
	char why[256];
	unsigned int ni, nh;
	void *st;
	size_t st_len;
	int rc;

	memset(why, 'x', sizeof(why));
	rc = vgw_fs_state_load_buf(fs, buf, len, why, sizeof(why));
	if (rc != 0) {
		if (rc > 0)
			abort();
		fz_check_why(why, sizeof(why));
		fz_check_fresh(fs);
		return;
	}
	if (why[0] != '\0')
		abort();
	/* a second load: refused by an engine that is no longer fresh,
	 * nothing changed (a session without INIT, inodes or used slots
	 * leaves it fresh, and loads again) */
	ni = vgw_fs_inode_count(fs);
	nh = vgw_fs_handle_count(fs);
	rc = vgw_fs_state_load_buf(fs, buf, len, why, sizeof(why));
	if (fs->hdr->init_done || fs->hdr->inode_bump != FS_ROOT_IDX + 1 ||
			    fs->hdr->handle_bump != 1 ?
		    rc != -EBUSY :
		    rc != 0)
		abort();
	if (vgw_fs_inode_count(fs) != ni || vgw_fs_handle_count(fs) != nh)
		abort();
	fz_exercise(fs);
	if (roundtrip) {
		ni = vgw_fs_inode_count(fs);
		nh = vgw_fs_handle_count(fs);
		rc = vgw_fs_state_save_buf(fs, 0, &st, &st_len, why, sizeof(why));
		if (rc != 0)
			abort();
		vgw_fs_destroy(fs);
		fs = fz_create(which);
		rc = vgw_fs_state_load_buf(fs, st, st_len, why, sizeof(why));
		if (rc != 0) {
			fprintf(stderr, "fuzz_fs_state: own save not loadable: %s\n", why);
			abort();
		}
		if (vgw_fs_inode_count(fs) != ni || vgw_fs_handle_count(fs) != nh)
			abort();
		free(st);
	}
	vgw_fs_destroy(fs);
	fz_fs[which] = fz_create(which);
}

/* ---- mode 1: records through the writer ---- */

static uint16_t
fz_type(uint8_t t)
{
	if (t < 0xf0)
		return VGW_FS_SEC_FIRST + t % 6; /* 0x0100..0x0105 */
	switch (t & 3) {
	case 0:
		return VGW_FS_SEC_LAST;
	case 1:
		return 0x0001; /* another owner's */
	case 2:
		return 0x0200;
	default:
		return 0x00ff;
	}
}

static void
fz_sealed(int which, const uint8_t *in, size_t n, uint8_t opts)
{
	static const uint16_t versions[4] = { 1, 1, 2, 0 };
	struct vgw_state_writer w;
	size_t at = 0, plen, len;
	void *buf;

	vgw_state_writer_init(&w, (opts & 2) ? "net" : VGW_FS_STATE_DEV_TYPE, 0);
	while (at + 4 <= n) {
		uint8_t t = in[at], fl = in[at + 1];

		plen = in[at + 2] | (size_t)in[at + 3] << 8;
		at += 4;
		if (plen > n - at)
			plen = n - at;
		vgw_state_section_begin(&w, fz_type(t), versions[(fl >> 1) & 3],
					fl & VGW_STATE_F_CRITICAL);
		vgw_state_put_bytes(&w, in + at, plen);
		vgw_state_section_end(&w);
		at += plen;
	}
	if (vgw_state_finish(&w, &buf, &len) != 0)
		return;
	fz_load(which, buf, len, (opts & 4) != 0);
	free(buf);
}

/* ---- mode 2: the generator ---- */

struct fz_src {
	const uint8_t *p;
	size_t n, at;
};

static uint8_t
fz_u8(struct fz_src *s)
{
	return s->at < s->n ? s->p[s->at++] : 0;
}

static uint32_t
fz_u32(struct fz_src *s)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)fz_u8(s) << (8 * i);
	return v;
}

/* Mostly 0: a byte below `rare` says "misbehave here". */
static bool
fz_odd(struct fz_src *s, uint8_t rare)
{
	return s->at < s->n && fz_u8(s) < rare;
}

struct fz_gen_inode {
	uint32_t idx, gen, mode;
	int node; /* in fz_tree, -1: none */
};

static const char *const fz_names[] = {
	"..", ".", "/", "", "a/b", "missing", "d1", "f", "fifo", "out", "up",
};

static void
fz_gen_name(struct fz_src *s, char *name, size_t size)
{
	uint8_t k = fz_u8(s);

	if (k < 0xe0) {
		snprintf(name, size, "%s", fz_names[k % (sizeof(fz_names) / sizeof(fz_names[0]))]);
		return;
	}
	/* long names: 255 bytes is the limit, 256 is over; a byte that is
	 * not ASCII, or a '/' inside */
	if (size < NAME_MAX + 2)
		abort();
	memset(name, 'n', NAME_MAX + 1);
	name[(k & 1) ? NAME_MAX : NAME_MAX + 1] = '\0';
	if (k & 2)
		name[k % 64] = (k & 4) ? '/' : '\xff';
}

static void
fz_generate(int which, const uint8_t *in, size_t n, uint8_t opts)
{
	struct fz_src s = { in, n, 0 };
	struct fz_gen_inode gi[FZ_MAX_INODES];
	struct vgw_state_writer w;
	uint32_t n_in, n_hd, i, k, per, used_in[FZ_MAX_INODES] = { 0 };
	uint32_t used_hd[FZ_MAX_HANDLES] = { 0 };
	char name[NAME_MAX + 8];
	struct vgw_fs *fs = fz_fs[which];
	uint32_t max_write = fs->max_write, max_pages = fs->max_pages;
	uint64_t flags;
	size_t len;
	void *buf;

	n_in = fz_u8(&s) % (FZ_MAX_INODES - 1);
	n_hd = fz_u8(&s) % FZ_MAX_HANDLES;
	vgw_state_writer_init(&w, VGW_FS_STATE_DEV_TYPE, 0);

	/* an unrelated section first, sometimes */
	if (opts & 8) {
		vgw_state_section_begin(&w, fz_odd(&s, 0x40) ? 0x0104 : 0x0001, 1,
					fz_odd(&s, 0x40) ? VGW_STATE_F_CRITICAL : 0);
		vgw_state_put_u32(&w, fz_u32(&s));
		vgw_state_section_end(&w);
	}

	/* SESSION */
	vgw_state_section_begin(&w, VGW_FS_SEC_SESSION, fz_odd(&s, 8) ? 2 : 1,
				VGW_STATE_F_CRITICAL);
	vgw_state_put_u32(&w, fz_odd(&s, 8) ? fz_u8(&s) % 3 : 1);
	k = fz_u8(&s);
	vgw_state_put_u32(&w, k < 0xf0 ? 12 + k % (FUSE_KERNEL_MINOR_VERSION - 11) : k);
	flags = (uint64_t)fz_u32(&s) | (uint64_t)fz_u32(&s) << 32;
	vgw_state_put_u64(&w, flags);
	k = fz_u8(&s);
	vgw_state_put_u32(&w, k < 0xf0 ?
				      (k % (max_write / FS_PAGE) + 1) * FS_PAGE :
				      max_write + (k & 1 ? FS_PAGE : 0) - (k & 2 ? max_write : 0));
	k = fz_u8(&s);
	vgw_state_put_u32(&w, k < 0xf0 ? k % (max_pages + 1) : max_pages + 1);
	vgw_state_put_u32(&w, fz_u8(&s) % 4);
	vgw_state_put_u32(&w, fz_u8(&s) % 4);
	vgw_state_put_u32(&w, fz_odd(&s, 8) ? n_in + fz_u8(&s) % 3 - 1 : n_in);
	vgw_state_put_u32(&w, fz_odd(&s, 8) ? n_hd + fz_u8(&s) % 3 - 1 : n_hd);
	if (opts & 16)
		vgw_state_put_u32(&w, 0); /* a later version's field */
	vgw_state_section_end(&w);

	/* INODES, in one to three sections */
	per = n_in / (1 + fz_u8(&s) % 3) + 1;
	for (i = 0; i < n_in; i++) {
		struct fz_gen_inode *g = &gi[i];
		uint32_t parent = FS_ROOT_IDX;
		uint64_t nlookup, dev, ino;

		if (i % per == 0) {
			if (i)
				vgw_state_section_end(&w);
			vgw_state_section_begin(&w, VGW_FS_SEC_INODES, 1, VGW_STATE_F_CRITICAL);
			vgw_state_put_u32(&w, fz_odd(&s, 6) ? fz_u8(&s) % 8 :
							      (n_in - i < per ? n_in - i : per));
		}
		/* a slot not used yet, or a misbehaving one */
		k = fz_u8(&s);
		g->idx = 2 + k % (FZ_MAX_INODES - 2);
		for (uint32_t t = 0; t < FZ_MAX_INODES && used_in[g->idx] && !(k & 0x80); t++)
			g->idx = g->idx + 1 < FZ_MAX_INODES ? g->idx + 1 : 2;
		if (fz_odd(&s, 4))
			g->idx = (uint32_t[]){ 0, 1, FZ_MAX_INODES, UINT32_MAX }[fz_u8(&s) % 4];
		if (g->idx < FZ_MAX_INODES)
			used_in[g->idx] = 1;
		g->gen = fz_odd(&s, 4) ? 0 : 1 + fz_u8(&s) % 4;
		/* a node of the tree, under its parent if that was emitted */
		k = fz_u8(&s);
		g->node = k < 0xf0 ? (int)(k % FZ_NODES) : -1;
		g->mode = g->node >= 0 ? fz_tree[g->node].mode : S_IFDIR | 0755;
		if (g->node >= 0 && fz_tree[g->node].parent >= 0) {
			uint32_t j;

			parent = 0;
			for (j = 0; j < i; j++)
				if (gi[j].node == fz_tree[g->node].parent)
					parent = gi[j].idx;
		}
		k = fz_u8(&s);
		if (k >= 0xe0 && i > 0)
			parent = gi[k % i].idx; /* any earlier one */
		else if (k >= 0xd8)
			parent = (uint32_t[]){ 0,	   g->idx, g->idx + 1, FZ_MAX_INODES,
					       UINT32_MAX, 1,	   2,	       3 }[k & 7];
		if (g->node >= 0 && !fz_odd(&s, 8))
			snprintf(name, sizeof(name), "%s", fz_tree[g->node].name);
		else
			fz_gen_name(&s, name, sizeof(name));
		if (fz_odd(&s, 6))
			g->mode = (uint32_t[]){ 0,
						S_IFREG | 0644,
						S_IFDIR | 0755,
						S_IFLNK | 0777,
						S_IFIFO | 0644,
						S_IFSOCK,
						S_IFCHR,
						0170000,
						S_IFREG | 010000 }[fz_u8(&s) % 9];
		nlookup = fz_odd(&s, 4) ? 0 : 1 + fz_u8(&s);
		dev = g->node >= 0 ? fz_tree[g->node].dev : 0;
		ino = g->node >= 0 ? fz_tree[g->node].ino : 0;
		if (fz_odd(&s, 16))
			ino ^= 1; /* replaced behind the guest's back */
		vgw_state_put_u32(&w, g->idx);
		vgw_state_put_u32(&w, g->gen);
		vgw_state_put_u32(&w, parent);
		vgw_state_put_u32(&w, g->mode);
		vgw_state_put_u64(&w, nlookup);
		vgw_state_put_u64(&w, dev);
		vgw_state_put_u64(&w, ino);
		vgw_state_put_str(&w, name);
	}
	if (n_in)
		vgw_state_section_end(&w);

	/* HANDLES, in one or two sections */
	per = n_hd / (1 + fz_u8(&s) % 2) + 1;
	for (i = 0; i < n_hd; i++) {
		uint32_t idx, ino = 0, ino_gen = 0, fl, is_dir = 0;

		if (i % per == 0) {
			if (i)
				vgw_state_section_end(&w);
			vgw_state_section_begin(&w, VGW_FS_SEC_HANDLES, 1, VGW_STATE_F_CRITICAL);
			vgw_state_put_u32(&w, fz_odd(&s, 6) ? fz_u8(&s) % 8 :
							      (n_hd - i < per ? n_hd - i : per));
		}
		k = fz_u8(&s);
		idx = 1 + k % (FZ_MAX_HANDLES - 1);
		for (uint32_t t = 0; t < FZ_MAX_HANDLES && used_hd[idx] && !(k & 0x80); t++)
			idx = idx + 1 < FZ_MAX_HANDLES ? idx + 1 : 1;
		if (fz_odd(&s, 4))
			idx = (uint32_t[]){ 0, FZ_MAX_HANDLES, UINT32_MAX, 1 }[fz_u8(&s) % 4];
		if (idx < FZ_MAX_HANDLES)
			used_hd[idx] = 1;
		k = fz_u8(&s);
		if (n_in && k < 0xe0) {
			const struct fz_gen_inode *g = &gi[k % n_in];

			ino = g->idx;
			ino_gen = g->gen;
			is_dir = S_ISDIR(g->mode);
		} else if (k < 0xf0) {
			ino = FS_ROOT_IDX;
			is_dir = 1;
		} else if (k & 1) {
			ino = k % 8;
			ino_gen = k % 3;
		}
		k = fz_u8(&s);
		fl = is_dir ? O_RDONLY | O_DIRECTORY :
			      (uint32_t[]){ O_RDONLY,
					    O_RDWR,
					    O_WRONLY | O_APPEND,
					    O_RDONLY | O_NOATIME,
					    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW,
					    O_WRONLY | O_TRUNC,
					    O_RDONLY | O_DIRECT,
					    O_RDWR | O_SYNC }[k % 8];
		if (k >= 0xf8)
			fl = fz_u32(&s);
		if (fz_odd(&s, 6))
			is_dir = fz_u8(&s) % 3;
		vgw_state_put_u32(&w, idx);
		vgw_state_put_u32(&w, fz_odd(&s, 4) ? 0 : 1 + fz_u8(&s) % 4);
		vgw_state_put_u32(&w, ino);
		vgw_state_put_u32(&w, ino_gen);
		vgw_state_put_u32(&w, fl);
		vgw_state_put_u32(&w, is_dir);
	}
	if (n_hd)
		vgw_state_section_end(&w);

	/* SLOTS: generations of unused slots, sometimes of used ones */
	if (opts & 32) {
		vgw_state_section_begin(&w, VGW_FS_SEC_SLOTS, 1, 0);
		for (int t = 0; t < 2; t++) {
			uint32_t cnt = fz_u8(&s) % 6, lim = t ? FZ_MAX_HANDLES : FZ_MAX_INODES;
			uint32_t *used = t ? used_hd : used_in;

			vgw_state_put_u32(&w, cnt);
			for (i = 0; i < cnt; i++) {
				k = fz_u8(&s);
				uint32_t idx = (t ? 1 : 2) + k % (lim - (t ? 1 : 2));

				for (uint32_t u = 0; u < lim && used[idx] && !(k & 0x80); u++)
					idx = idx + 1 < lim ? idx + 1 : (t ? 1 : 2);
				if (fz_odd(&s, 4))
					idx = (uint32_t[]){ 0, 1, lim, UINT32_MAX }[fz_u8(&s) % 4];
				if (idx < lim)
					used[idx] = 1;
				vgw_state_put_u32(&w, idx);
				vgw_state_put_u32(&w, fz_odd(&s, 4) ? 0 : 1 + fz_u8(&s));
			}
		}
		vgw_state_section_end(&w);
	}
	/* trailing sections: a second session, an unknown critical one,
	 * inodes after handles */
	if (opts & 64) {
		k = fz_u8(&s);
		vgw_state_section_begin(&w, VGW_FS_SEC_FIRST + k % 6, 1,
					(k & 0x80) ? VGW_STATE_F_CRITICAL : 0);
		vgw_state_put_u32(&w, 0);
		vgw_state_section_end(&w);
	}
	if (vgw_state_finish(&w, &buf, &len) != 0)
		abort(); /* the generator only makes valid calls */
	fz_load(which, buf, len, (opts & 4) != 0);
	free(buf);
}

/* ---- seeds ---- */

static void
fz_seed_write(const char *dir, const char *name, uint8_t mode, uint8_t opts, const void *p,
	      size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fputc(mode, f);
	fputc(opts, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

/* The same stream as mode 1 records. */
static void
fz_seed_records(const char *dir, const char *name, uint8_t opts, const void *st, size_t len)
{
	struct vgw_state_reader r;
	struct vgw_state_section sec;
	uint8_t *out = malloc(len * 2 + 64);
	size_t n = 0;

	if (out == NULL || vgw_state_reader_init(&r, st, len, NULL) != 0) {
		free(out);
		return;
	}
	while (vgw_state_next_section(&r, &sec) == 1) {
		out[n++] = (uint8_t)(sec.type - VGW_FS_SEC_FIRST);
		out[n++] = (uint8_t)(sec.flags & 1) | (sec.version == 2 ? 4 : 0);
		out[n++] = (uint8_t)sec.len;
		out[n++] = (uint8_t)(sec.len >> 8);
		memcpy(out + n, sec.data, sec.len);
		n += sec.len;
	}
	fz_seed_write(dir, name, 1, opts, out, n);
	free(out);
}

static void
fz_seeds(const char *dir)
{
	struct vgw_fs *fs = fz_create(0);
	uint64_t d1, d2, f, g, h, fifo, out, e, fh_f, fh_g, fh_d;
	char why[256], name[32];
	void *st;
	size_t len;
	int rc;

	mkdir(dir, 0755);
	/* a fresh engine's session: INIT never served */
	rc = vgw_fs_state_save_buf(fs, 0, &st, &len, why, sizeof(why));
	if (rc == 0) {
		fz_seed_write(dir, "seed-fresh-raw", 0, 0, st, len);
		free(st);
	}
	fz_init(fs);
	if (fz_lookup(fs, FUSE_ROOT_ID, "d1", &d1) || fz_lookup(fs, d1, "d2", &d2) ||
	    fz_lookup(fs, FUSE_ROOT_ID, "f", &f) || fz_lookup(fs, d1, "g", &g) ||
	    fz_lookup(fs, d2, "h", &h) || fz_lookup(fs, FUSE_ROOT_ID, "fifo", &fifo) ||
	    fz_lookup(fs, FUSE_ROOT_ID, "out", &out) || fz_lookup(fs, FUSE_ROOT_ID, "e", &e))
		abort();
	fz_lookup(fs, FUSE_ROOT_ID, "f", NULL); /* nlookup 2 */
	fh_f = fz_open(fs, f, false, O_RDWR);
	fh_g = fz_open(fs, g, false, O_RDONLY);
	fh_d = fz_open(fs, d1, true, O_RDONLY);
	rc = vgw_fs_state_save_buf(fs, 0, &st, &len, why, sizeof(why));
	if (rc != 0)
		abort();
	fz_seed_write(dir, "seed-tree-raw", 0, 4, st, len);
	fz_seed_records(dir, "seed-tree-rec", 4, st, len);
	free(st);
	/* free slots with generations, a handle left on a forgotten inode */
	fz_release(fs, d1, fh_d, true);
	fz_release(fs, f, fh_f, false);
	fz_forget(fs, h, 1);
	fz_forget(fs, fifo, 1);
	fz_forget(fs, g, 1);
	(void)fh_g;
	(void)out;
	(void)e;
	rc = vgw_fs_state_save_buf(fs, 0, &st, &len, why, sizeof(why));
	if (rc != 0)
		abort();
	fz_seed_write(dir, "seed-slots-raw", 0, 4, st, len);
	fz_seed_records(dir, "seed-slots-rec", 4, st, len);
	free(st);
	vgw_fs_destroy(fs);

	/* generator inputs: counts, then bytes that mostly say "valid" */
	for (int i = 0; i < 8; i++) {
		uint8_t b[256];

		for (size_t j = 0; j < sizeof(b); j++)
			b[j] = (uint8_t)(0x40 + (j * 37 + i * 11) % 0x90);
		b[0] = (uint8_t)(3 + i * 5);
		b[1] = (uint8_t)(i * 3);
		snprintf(name, sizeof(name), "seed-gen-%d", i);
		fz_seed_write(dir, name, 2, (uint8_t)(i * 0x1c), b, sizeof(b));
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("FZ_FS_STATE_SEEDS");

	(void)argc;
	(void)argv;
	fz_tree_setup();
	if (seeds != NULL && seeds[0] != '\0')
		fz_seeds(seeds);
	fz_fs[0] = fz_create(0);
	fz_fs[1] = fz_create(1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode, opts;
	int which;

	if (size < 2)
		return 0;
	mode = data[0] % 3;
	opts = data[1];
	which = (opts & 1) ? 1 : 0;
	if (mode == 0) {
		/* an exact-size copy, so that any overread is caught */
		uint8_t *b = malloc(size - 2 ? size - 2 : 1);

		if (b == NULL)
			return 0;
		memcpy(b, data + 2, size - 2);
		fz_load(which, b, size - 2, (opts & 4) != 0);
		free(b);
	} else if (mode == 1) {
		fz_sealed(which, data + 2, size - 2, opts);
	} else {
		fz_generate(which, data + 2, size - 2, opts);
	}
	return 0;
}
