/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: adopting a dead engine's table region (vgw_fs_adopt())
 * into a fresh engine. The region comes from a process that may have died
 * mid-update, through a supervisor: every byte is untrusted.
 *
 * At start a real engine serves a small tree (INIT, lookups, an open file
 * and directory, a forgotten inode) and its region is kept as a template.
 * The first input byte picks a mode:
 *   0  the rest is the whole memfd;
 *   1  the template, with the rest applied as (u16 offset, u8 value)
 *      triples over its first 64 KiB, so that the header checks pass and
 *      the entries are reached;
 *   2  as 1, then the memfd cut to a length from the first two bytes.
 *
 * A refusal must come with one line and leave the engine fresh (INIT then
 * works); a success must leave an engine that answers GETATTR. Any
 * inconsistency aborts. */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_priv.h"

#include "fuzz_fs_run.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fz_base[64];
static struct vgw_fs *fz_fs;
static uint8_t *fz_tpl;
static size_t fz_tpl_len;
static uint8_t fz_out[1 << 16];
static uint64_t fz_unique = 1;

static struct vgw_fs *
fz_create(void)
{
	struct vgw_fs_conf c;
	struct vgw_fs *fs;

	vgw_fs_conf_init(&c);
	c.shared_dir = fz_base;
	c.no_uring = true;
	c.helpers = 1;
	c.max_inodes = 64;
	c.max_handles = 32;
	c.max_inflight = 4;
	c.posix_locks = true;
	c.xattr = true;
	fs = vgw_fs_create(&c);
	if (fs == NULL)
		abort();
	return fs;
}

static int32_t
fz_run(struct vgw_fs *fs, uint32_t op, uint64_t nodeid, const void *arg, size_t n)
{
	struct {
		struct fuse_in_header h;
		uint8_t a[512];
	} r;

	memset(&r, 0, sizeof(r));
	r.h.len = (uint32_t)(sizeof(r.h) + n);
	r.h.opcode = op;
	r.h.unique = fz_unique++;
	r.h.nodeid = nodeid;
	memcpy(r.a, arg, n);
	return fz_fs_run(fs, &r, r.h.len, fz_out, sizeof(fz_out));
}

static void
fz_init(struct vgw_fs *fs)
{
	struct fuse_init_in in = { .major = 7, .minor = 38, .flags = 0xffffffff };

	if (fz_run(fs, FUSE_INIT, 0, &in, sizeof(in)) != 0)
		abort();
}

static uint64_t
fz_lookup(struct vgw_fs *fs, uint64_t parent, const char *name)
{
	if (fz_run(fs, FUSE_LOOKUP, parent, name, strlen(name) + 1) != 0)
		abort();
	return ((struct fuse_entry_out *)(fz_out + 16))->nodeid;
}

static void
fz_open(struct vgw_fs *fs, uint64_t nodeid, bool dir)
{
	struct fuse_open_in in = { .flags = dir ? O_RDONLY : O_RDWR };

	if (fz_run(fs, dir ? FUSE_OPENDIR : FUSE_OPEN, nodeid, &in, sizeof(in)) != 0)
		abort();
}

static void
fz_setup(void)
{
	struct fuse_forget_in fg = { .nlookup = 1 };
	char p[128];
	uint64_t d1, d2, f, g;
	struct vgw_fs *fs;
	const void *m;
	uint64_t sz;
	int fd;

	strcpy(fz_base, "/tmp/vgw-fs-adopt-fuzz-XXXXXX");
	if (mkdtemp(fz_base) == NULL)
		abort();
	snprintf(p, sizeof(p), "%s/d1", fz_base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/d1/d2", fz_base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/f", fz_base);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/d1/g", fz_base);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/up", fz_base);
	symlink("..", p);

	fs = fz_create();
	fz_init(fs);
	d1 = fz_lookup(fs, FUSE_ROOT_ID, "d1");
	g = fz_lookup(fs, d1, "g");
	d2 = fz_lookup(fs, d1, "d2");
	f = fz_lookup(fs, FUSE_ROOT_ID, "f");
	fz_lookup(fs, FUSE_ROOT_ID, "up");
	fz_open(fs, f, false);
	fz_open(fs, d2, true);
	fz_open(fs, g, false);
	fz_run(fs, FUSE_FORGET, g, &fg, sizeof(fg)); /* a handle left on it */
	fd = vgw_fs_table_fd(fs, &sz);
	m = mmap(NULL, sz, PROT_READ, MAP_SHARED, fd, 0);
	fz_tpl = malloc(sz);
	if (m == MAP_FAILED || fz_tpl == NULL)
		abort();
	memcpy(fz_tpl, m, sz);
	fz_tpl_len = sz;
	munmap((void *)(uintptr_t)m, sz);
	vgw_fs_destroy(fs);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_setup();
	fz_fs = fz_create();
	return 0;
}

/* The memfd for one input, or -1. */
static int
fz_memfd(const uint8_t *data, size_t size)
{
	uint8_t mode = data[0] % 3;
	size_t i, len = mode == 0 ? size - 1 : fz_tpl_len;
	uint8_t *m;
	int fd;

	fd = memfd_create("fz-adopt", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (len != 0 && ftruncate(fd, (off_t)len) != 0)
		abort();
	if (len == 0)
		return fd;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		abort();
	if (mode == 0) {
		memcpy(m, data + 1, len);
	} else {
		memcpy(m, fz_tpl, len);
		for (i = 1; i + 3 <= size; i += 3) {
			size_t off = (size_t)(data[i] | data[i + 1] << 8);

			if (off < len)
				m[off] = data[i + 2];
		}
	}
	munmap(m, len);
	if (mode == 2 && size >= 3 &&
	    ftruncate(fd, (off_t)((size_t)(data[1] | data[2] << 8) * 8 % len)) != 0)
		abort();
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuse_getattr_in ga = { 0 };
	char why[256];
	uint32_t i;
	int fd, rc;

	if (size < 1)
		return 0;
	fd = fz_memfd(data, size);
	memset(why, 'x', sizeof(why));
	rc = vgw_fs_adopt(fz_fs, fd, why, sizeof(why));
	close(fd);
	if (memchr(why, '\0', sizeof(why)) == NULL || strchr(why, '\n') != NULL)
		abort();
	if (rc < 0) {
		if (why[0] == '\0' || vgw_fs_inode_count(fz_fs) != 1 ||
		    vgw_fs_handle_count(fz_fs) != 0 || fz_fs->hdr->inode_bump != 2 ||
		    fz_fs->hdr->handle_bump != 1 || fz_fs->hdr->init_done)
			abort();
		return 0;
	}
	{
		/* taken over: why says what ("N inode(s), M handle(s); ...") */
		char want[64];

		snprintf(want, sizeof(want), "%u inode(s), %u handle(s);",
			 vgw_fs_inode_count(fz_fs), vgw_fs_handle_count(fz_fs));
		if (strncmp(why, want, strlen(want)) != 0)
			abort();
	}
	for (i = FS_ROOT_IDX; i < fz_fs->hdr->inode_bump; i++)
		if (fz_fs->inodes[i].state == FS_ENT_USED)
			fz_run(fz_fs, FUSE_GETATTR, fs_nodeid(fz_fs, i), &ga, sizeof(ga));
	vgw_fs_destroy(fz_fs);
	fz_fs = fz_create();
	return 0;
}
