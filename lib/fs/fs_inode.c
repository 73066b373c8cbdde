/* SPDX-License-Identifier: BSD-3-Clause */
/* Inode and handle tables. They live in a memfd (region header, inode
 * array, handle array, hash buckets), hold indices and generations only,
 * and are written by the poller thread only. The host fds are process
 * local and kept beside the region. Entries are taken from a free list,
 * else from a bump index, so the pages of a large region are touched only
 * as the tables grow: a chunk at a time ahead of the bump index
 * (fs_tables_grow, on an idle pass), so that a new entry is not a page
 * fault on the poller. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_priv.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

static uint32_t
fs_hash_key(const struct vgw_fs *fs, uint64_t dev, uint64_t ino, uint64_t mnt)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL;

	h ^= (dev + 0x632be59bd9b4e019ULL) * 0xc2b2ae3d27d4eb4fULL;
	h ^= mnt * 0x165667b19e3779f9ULL;
	h ^= h >> 29;
	return (uint32_t)h & (fs->hdr->hash_size - 1);
}

static uint64_t
fs_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Fault in the region's pages over [off, off + len) (rounded out to
 * pages, clipped to the region) in one call, instead of one fault per
 * page on first touch. The pages hold zeros as before: nothing is
 * written. Without MADV_POPULATE_WRITE (before Linux 5.14) the pages
 * stay to be faulted in on first touch, as they were. */
static void
fs_region_populate(struct vgw_fs *fs, uint64_t off, uint64_t len)
{
	uint64_t start = off & ~(uint64_t)(FS_PAGE - 1);
	uint64_t end = fs_align(off + len, FS_PAGE);

	if (!fs->populate || len == 0)
		return;
	if (end > fs->region_size)
		end = fs->region_size;
	if (start >= end)
		return;
	if (madvise((uint8_t *)fs->region + start, end - start, MADV_POPULATE_WRITE) < 0 &&
	    (errno == EINVAL || errno == ENOSYS))
		fs->populate = false;
}

/* Populate n entries of a table from its first entry not known to be
 * populated (ready, or the bump index where lazy faults got ahead of
 * it), up to max; the new mark. */
static uint32_t
fs_table_populate(struct vgw_fs *fs, uint64_t off_table, uint32_t ent_size, uint32_t ready,
		  uint32_t bump, uint32_t n, uint32_t max)
{
	uint32_t from = bump > ready ? bump : ready;
	uint32_t to = max - from > n ? from + n : max;

	fs_region_populate(fs, off_table + (uint64_t)from * ent_size,
			   (uint64_t)(to - from) * ent_size);
	return to;
}

void
fs_tables_grow(struct vgw_fs *fs)
{
	const struct fs_region_hdr *h = fs->hdr;
	const uint32_t ni = FS_GROW_BYTES / sizeof(struct fs_inode);
	const uint32_t nh = FS_GROW_BYTES / sizeof(struct fs_handle);

	if (!fs->populate)
		return;
	if (fs->ino_ready < h->max_inodes && h->inode_bump + ni / 2 >= fs->ino_ready)
		fs->ino_ready = fs_table_populate(fs, h->off_inodes, sizeof(struct fs_inode),
						  fs->ino_ready, h->inode_bump, ni, h->max_inodes);
	if (fs->fh_ready < h->max_handles && h->handle_bump + nh / 2 >= fs->fh_ready)
		fs->fh_ready = fs_table_populate(fs, h->off_handles, sizeof(struct fs_handle),
						 fs->fh_ready, h->handle_bump, nh, h->max_handles);
}

int
fs_tables_init(struct vgw_fs *fs, uint32_t max_inodes, uint32_t max_handles)
{
	struct fs_region_hdr *h;
	uint64_t off_i, off_h, off_b, size;
	uint32_t hs = 16;
	uint32_t i;

	if (max_inodes < 2 || max_inodes > (1u << 30) || max_handles < 2 ||
	    max_handles > (1u << 30))
		return -EINVAL;
	while (hs < max_inodes)
		hs <<= 1;
	off_i = fs_align(sizeof(*h), 64);
	off_h = fs_align(off_i + (uint64_t)max_inodes * sizeof(struct fs_inode), 64);
	off_b = fs_align(off_h + (uint64_t)max_handles * sizeof(struct fs_handle), 64);
	size = fs_align(off_b + (uint64_t)hs * sizeof(uint32_t), 4096);

	fs->memfd = memfd_create("vgw-fs-tables", MFD_CLOEXEC);
	if (fs->memfd < 0)
		return -errno;
	if (ftruncate(fs->memfd, (off_t)size) < 0)
		return -errno;
	fs->region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fs->memfd, 0);
	if (fs->region == MAP_FAILED) {
		fs->region = NULL;
		return -errno;
	}
	fs->region_size = size;
	h = fs->region;
	h->magic = FS_REGION_MAGIC;
	h->version = FS_REGION_VERSION;
	h->hdr_size = sizeof(*h);
	h->size = size;
	h->max_inodes = max_inodes;
	h->max_handles = max_handles;
	h->hash_size = hs;
	h->inode_ent_size = sizeof(struct fs_inode);
	h->handle_ent_size = sizeof(struct fs_handle);
	h->off_inodes = off_i;
	h->off_handles = off_h;
	h->off_hash = off_b;
	h->inode_bump = FS_ROOT_IDX + 1; /* 0 invalid, 1 root */
	h->handle_bump = 1;
	fs->hdr = h;
	fs->inodes = (struct fs_inode *)((uint8_t *)fs->region + off_i);
	fs->handles = (struct fs_handle *)((uint8_t *)fs->region + off_h);
	fs->hash = (uint32_t *)((uint8_t *)fs->region + off_b);
	/* the buckets are hit at random: all of them now, up to a bound;
	 * the entries a chunk ahead of their bump index (fs_tables_grow) */
	fs->populate = true;
	if ((uint64_t)hs * sizeof(uint32_t) <= FS_HASH_POPULATE_MAX)
		fs_region_populate(fs, off_b, (uint64_t)hs * sizeof(uint32_t));
	fs->ino_ready = 0;
	fs->fh_ready = 0;
	fs_tables_grow(fs);

	fs->ino_fd = malloc(sizeof(int) * max_inodes);
	fs->ino_pin = calloc(max_inodes, sizeof(uint32_t));
	fs->fh_fd = malloc(sizeof(int) * max_handles);
	fs->fh_pin = calloc(max_handles, sizeof(uint32_t));
	fs->ino_vaulted = calloc(max_inodes, 1);
	fs->fh_dead = calloc(max_handles, 1);
	fs->fh_warned = calloc(max_handles, 1);
	if (!fs->ino_fd || !fs->ino_pin || !fs->ino_vaulted || !fs->fh_fd || !fs->fh_pin ||
	    !fs->fh_dead || !fs->fh_warned)
		return -ENOMEM;
	for (i = 0; i < max_inodes; i++)
		fs->ino_fd[i] = -1;
	for (i = 0; i < max_handles; i++)
		fs->fh_fd[i] = -1;
	return 0;
}

void
fs_tables_fini(struct vgw_fs *fs)
{
	uint32_t i;

	if (fs->hdr) {
		if (fs->ino_fd)
			for (i = 0; i < fs->hdr->max_inodes; i++)
				if (fs->ino_fd[i] >= 0)
					close(fs->ino_fd[i]);
		if (fs->fh_fd)
			for (i = 0; i < fs->hdr->max_handles; i++)
				if (fs->fh_fd[i] >= 0)
					close(fs->fh_fd[i]);
	}
	if (fs->region)
		munmap(fs->region, fs->region_size);
	if (fs->memfd >= 0)
		close(fs->memfd);
	free(fs->ino_fd);
	free(fs->ino_pin);
	free(fs->ino_vaulted);
	free(fs->fh_fd);
	free(fs->fh_pin);
	free(fs->fh_dead);
	free(fs->fh_warned);
}

uint64_t
fs_nodeid(const struct vgw_fs *fs, uint32_t idx)
{
	if (idx == FS_ROOT_IDX)
		return FUSE_ROOT_ID;
	return (uint64_t)fs->inodes[idx].gen << 32 | idx;
}

uint32_t
fs_inode_get(const struct vgw_fs *fs, uint64_t nodeid)
{
	uint32_t idx = (uint32_t)nodeid;
	uint32_t gen = (uint32_t)(nodeid >> 32);
	const struct fs_inode *in;

	if (nodeid == FUSE_ROOT_ID)
		return FS_ROOT_IDX;
	if (idx <= FS_ROOT_IDX || idx >= fs->hdr->inode_bump)
		return 0;
	in = &fs->inodes[idx];
	if (in->state != FS_ENT_USED || in->gen != gen || in->nlookup == 0)
		return 0;
	return idx;
}

uint32_t
fs_inode_find(const struct vgw_fs *fs, uint64_t dev, uint64_t ino, uint64_t mnt)
{
	uint32_t i = fs->hash[fs_hash_key(fs, dev, ino, mnt)];
	uint32_t guard = 0;

	while (i != 0 && guard++ < fs->hdr->max_inodes) {
		const struct fs_inode *in = &fs->inodes[i];

		if (in->ino == ino && in->dev == dev && in->mnt_id == mnt)
			return i;
		i = in->hnext;
	}
	return 0;
}

static void
fs_hash_del(struct vgw_fs *fs, uint32_t idx)
{
	struct fs_inode *in = &fs->inodes[idx];
	uint32_t *p = &fs->hash[fs_hash_key(fs, in->dev, in->ino, in->mnt_id)];

	while (*p != 0) {
		if (*p == idx) {
			*p = in->hnext;
			return;
		}
		p = &fs->inodes[*p].hnext;
	}
}

/* The name hint of an entry: the name (at most NAME_MAX bytes) and zeros
 * after it to the end, as a memset and a strncpy left it, writing each
 * byte once: an entry's bytes after its name are zeros already (a fresh
 * region, and every name written here), so only those of a longer old
 * name are cleared. name[NAME_MAX] is never anything but NUL. */
static void
fs_name_set(char *dst, const char *name)
{
	size_t len = name != NULL ? strnlen(name, NAME_MAX) : 0;
	size_t old = strnlen(dst, NAME_MAX);

	if (len != 0)
		memcpy(dst, name, len);
	if (old > len)
		memset(dst + len, 0, old - len);
	else
		dst[len] = '\0';
}

uint32_t
fs_inode_insert(struct vgw_fs *fs, const struct statx *st, int fd, uint32_t parent,
		const char *name)
{
	struct fs_region_hdr *h = fs->hdr;
	struct fs_inode *in;
	uint32_t idx, b;

	if (h->inode_free != 0) {
		idx = h->inode_free;
		h->inode_free = fs->inodes[idx].hnext;
	} else if (h->inode_bump < h->max_inodes) {
		idx = h->inode_bump++;
		fs->inodes[idx].gen = 0;
	} else {
		return 0;
	}
	in = &fs->inodes[idx];
	in->gen++;
	if (in->gen == 0)
		in->gen = 1;
	in->state = FS_ENT_USED;
	in->nlookup = 0;
	in->dev = makedev(st->stx_dev_major, st->stx_dev_minor);
	in->ino = st->stx_ino;
	in->mnt_id = st->stx_mnt_id;
	in->mode = st->stx_mode;
	in->parent = parent;
	in->parent_gen = parent != 0 ? fs->inodes[parent].gen : 0;
	fs_name_set(in->name, name);
	b = fs_hash_key(fs, in->dev, in->ino, in->mnt_id);
	in->hnext = fs->hash[b];
	fs->hash[b] = idx;
	fs->ino_fd[idx] = fd;
	fs->ino_vaulted[idx] = 0;
	h->n_inodes++;
	return idx;
}

static void
fs_inode_free(struct vgw_fs *fs, uint32_t idx)
{
	struct fs_inode *in = &fs->inodes[idx];

	fs_hash_del(fs, idx);
	if (fs->ino_fd[idx] >= 0)
		fs_close_async(fs, fs->ino_fd[idx]);
	fs->ino_fd[idx] = -1;
	if (fs->ino_vaulted[idx] != 0)
		fs->vault_dead++; /* its parked fd: for the next sweep */
	fs->ino_vaulted[idx] = 0;
	in->state = FS_ENT_FREE;
	in->nlookup = 0;
	in->hnext = fs->hdr->inode_free;
	fs->hdr->inode_free = idx;
	fs->hdr->n_inodes--;
}

void
fs_inode_forget(struct vgw_fs *fs, uint32_t idx, uint64_t n)
{
	struct fs_inode *in = &fs->inodes[idx];

	if (idx == FS_ROOT_IDX)
		return;
	in->nlookup = n >= in->nlookup ? 0 : in->nlookup - n;
	if (in->nlookup == 0 && fs->ino_pin[idx] == 0)
		fs_inode_free(fs, idx);
}

void
fs_inode_pin(struct vgw_fs *fs, struct fs_ctx *c, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < FS_NPIN; i++) {
		if (c->pin_ino[i] == 0) {
			c->pin_ino[i] = idx;
			fs->ino_pin[idx]++;
			return;
		}
	}
}

void
fs_handle_pin(struct vgw_fs *fs, struct fs_ctx *c, uint32_t idx)
{
	c->pin_fh = idx;
	fs->fh_pin[idx]++;
}

static void
fs_handle_free(struct vgw_fs *fs, uint32_t idx)
{
	struct fs_handle *hd = &fs->handles[idx];

	if (fs->fh_fd[idx] >= 0)
		fs_close_async(fs, fs->fh_fd[idx]);
	fs->fh_fd[idx] = -1;
	fs->fh_dead[idx] = 0;
	hd->state = FS_ENT_FREE;
	hd->next = fs->hdr->handle_free;
	fs->hdr->handle_free = idx;
	fs->hdr->n_handles--;
}

void
fs_unpin_all(struct vgw_fs *fs, struct fs_ctx *c)
{
	unsigned int i;
	uint32_t idx;

	for (i = 0; i < FS_NPIN; i++) {
		idx = c->pin_ino[i];
		if (idx == 0)
			continue;
		c->pin_ino[i] = 0;
		if (--fs->ino_pin[idx] == 0 && idx != FS_ROOT_IDX &&
		    fs->inodes[idx].state == FS_ENT_USED && fs->inodes[idx].nlookup == 0)
			fs_inode_free(fs, idx);
	}
	idx = c->pin_fh;
	if (idx != 0) {
		c->pin_fh = 0;
		if (--fs->fh_pin[idx] == 0 && fs->fh_dead[idx])
			fs_handle_free(fs, idx);
	}
}

void
fs_inode_rename(struct vgw_fs *fs, uint32_t idx, uint32_t parent, const char *name)
{
	struct fs_inode *in = &fs->inodes[idx];

	/* killed half-way, the hint is a mix of old and new: the save finds
	 * an empty or wrong name, a take-over checks what the name leads to */
	in->parent = parent;
	in->parent_gen = fs->inodes[parent].gen;
	fs_name_set(in->name, name);
}

bool
fs_inode_hint_is(const struct vgw_fs *fs, uint32_t idx, uint32_t parent, const char *name)
{
	const struct fs_inode *in = &fs->inodes[idx];

	return in->parent == parent && strncmp(in->name, name, NAME_MAX) == 0;
}

uint64_t
fs_fh(const struct vgw_fs *fs, uint32_t idx)
{
	return (uint64_t)fs->handles[idx].gen << 32 | idx;
}

uint32_t
fs_handle_get(const struct vgw_fs *fs, uint64_t fh, bool is_dir)
{
	uint32_t idx = (uint32_t)fh;
	const struct fs_handle *hd;

	if (idx == 0 || idx >= fs->hdr->handle_bump)
		return 0;
	hd = &fs->handles[idx];
	if (hd->state != FS_ENT_USED || hd->gen != (uint32_t)(fh >> 32) || fs->fh_dead[idx] ||
	    (bool)hd->is_dir != is_dir)
		return 0;
	return idx;
}

uint32_t
fs_handle_alloc(struct vgw_fs *fs, uint32_t inode, int fd, int flags, bool is_dir)
{
	struct fs_region_hdr *h = fs->hdr;
	struct fs_handle *hd;
	uint32_t idx;

	if (h->handle_free != 0) {
		idx = h->handle_free;
		h->handle_free = fs->handles[idx].next;
	} else if (h->handle_bump < h->max_handles) {
		idx = h->handle_bump++;
		fs->handles[idx].gen = 0;
	} else {
		return 0;
	}
	hd = &fs->handles[idx];
	hd->gen++;
	if (hd->gen == 0)
		hd->gen = 1;
	hd->state = FS_ENT_USED;
	hd->inode = inode;
	hd->inode_gen = fs->inodes[inode].gen;
	hd->flags = flags;
	hd->is_dir = is_dir;
	fs->fh_fd[idx] = fd;
	fs->fh_dead[idx] = 0;
	fs->fh_warned[idx] = 0;
	h->n_handles++;
	return idx;
}

void
fs_handle_release(struct vgw_fs *fs, uint32_t idx)
{
	if (fs->fh_pin[idx] != 0)
		fs->fh_dead[idx] = 1;
	else
		fs_handle_free(fs, idx);
}

/* DESTROY (unmount): drop every lookup reference and handle; root stays. */
void
fs_tables_reset(struct vgw_fs *fs)
{
	uint32_t i;

	for (i = 1; i < fs->hdr->handle_bump; i++)
		if (fs->handles[i].state == FS_ENT_USED && !fs->fh_dead[i])
			fs_handle_release(fs, i);
	for (i = FS_ROOT_IDX + 1; i < fs->hdr->inode_bump; i++)
		if (fs->inodes[i].state == FS_ENT_USED && fs->inodes[i].nlookup != 0)
			fs_inode_forget(fs, i, UINT64_MAX);
}

bool
fs_handle_available(struct vgw_fs *fs)
{
	if (fs->hdr->n_handles >= fs->fh_cap) {
		fs_warn(fs, FS_WARN_FD_BUDGET,
			"%u open files, its share of the process's fds (RLIMIT_NOFILE): "
			"an open answered ENFILE",
			fs->fh_cap);
		return false;
	}
	return fs->hdr->handle_free != 0 || fs->hdr->handle_bump < fs->hdr->max_handles;
}

/* The lookup count goes up once per request: with counted (a request's
 * redo note, kept across a crash), a request taken again whose first try
 * counted this node already (the note holds its node id) does not count
 * it twice. The note is written after the count: killed between the two,
 * the node keeps one lookup too many (a table entry the guest never
 * forgets), never one too few (a node id gone while the guest uses it). */
void
fs_lookup_count(struct vgw_fs *fs, uint32_t idx, uint64_t *counted)
{
	uint64_t node = fs_nodeid(fs, idx);

	if (idx == FS_ROOT_IDX || (counted != NULL && *counted == node))
		return;
	fs->inodes[idx].nlookup++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* counted, then noted */
	if (counted != NULL)
		*counted = node;
}

uint32_t
fs_redo_handle(const struct vgw_fs *fs, const struct fs_ctx *c, bool is_dir)
{
	uint32_t h;

	if (c->note == NULL || c->redo_ns == 0)
		return 0;
	h = fs_handle_get(fs, *c->note, is_dir);
	if (h == 0 || fs->fh_fd[h] < 0 ||
	    fs->handles[h].inode_gen != fs->inodes[fs->handles[h].inode].gen)
		return 0;
	return h;
}

int
fs_entry_take_attr(struct vgw_fs *fs, int fd, uint64_t dev, uint64_t mnt, const struct fuse_attr *a,
		   uint32_t parent, const char *name, struct fuse_entry_out *e, uint64_t *counted)
{
	uint32_t idx = fs_inode_find(fs, dev, a->ino, mnt);
	struct statx st;

	if (idx != 0) {
		fs_close_async(fs, fd);
		fs->inodes[idx].mode = a->mode;
	} else if (fs->hdr->n_inodes >= fs->ino_cap) {
		fs_close_async(fs, fd);
		fs_warn(fs, FS_WARN_FD_BUDGET,
			"%u inodes, its share of the process's fds (RLIMIT_NOFILE): "
			"a lookup answered ENFILE",
			fs->ino_cap);
		return -ENFILE;
	} else {
		memset(&st, 0, sizeof(st));
		st.stx_dev_major = major(dev);
		st.stx_dev_minor = minor(dev);
		st.stx_ino = a->ino;
		st.stx_mnt_id = mnt;
		st.stx_mode = (uint16_t)a->mode;
		idx = fs_inode_insert(fs, &st, fd, parent, name);
		if (idx == 0) {
			fs_close_async(fs, fd);
			return -ENFILE;
		}
	}
	fs_lookup_count(fs, idx, counted);
	memset(e, 0, sizeof(*e));
	e->nodeid = fs_nodeid(fs, idx);
	e->generation = e->nodeid >> 32;
	e->entry_valid = fs->entry_sec;
	e->entry_valid_nsec = fs->entry_nsec;
	e->attr_valid = fs->attr_sec;
	e->attr_valid_nsec = fs->attr_nsec;
	e->attr = *a;
	return 0;
}

int
fs_entry_take(struct vgw_fs *fs, int fd, const struct statx *st, uint32_t parent, const char *name,
	      struct fuse_entry_out *e, uint64_t *counted)
{
	struct fuse_attr a;

	fs_fill_attr(fs, &a, st);
	return fs_entry_take_attr(fs, fd, makedev(st->stx_dev_major, st->stx_dev_minor),
				  st->stx_mnt_id, &a, parent, name, e, counted);
}
