/* SPDX-License-Identifier: BSD-3-Clause */
/* Taking over a dead engine's session from its table memfd (vgw_fs.h).
 *
 * The region was written by another process that may have died in the
 * middle of an update, and it comes back through a supervisor: it is
 * untrusted. It is mapped privately and read only; its header is checked
 * against the memfd's size and our limits before any entry is read; the
 * entries are then saved as a live engine's would be (fs_state.c, through
 * a strict view) and the stream goes through the same loader, with every
 * check a migrated session gets. Nothing of the region is written, and
 * the free lists and hash chains in it are never followed: the loader
 * rebuilds its own. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fs_priv.h"

#define FS_ADOPT_MAX_ENTRIES (1u << 30) /* as fs_tables_init() */

static int fs_adopt_fail(char *why, size_t why_len, int err, const char *fmt, ...)
	__attribute__((format(__printf__, 4, 5)));

static int
fs_adopt_fail(char *why, size_t why_len, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (why == NULL || why_len == 0)
		return err;
	n = snprintf(why, why_len, "table region: ");
	if (n >= 0 && (size_t)n < why_len) {
		va_start(ap, fmt);
		vsnprintf(why + n, why_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* A table of count entries of ent bytes at off, inside size bytes after
 * the header, aligned for its 64-bit fields. */
static bool
fs_adopt_table_ok(uint64_t off, uint32_t count, uint32_t ent, uint64_t size, uint32_t hdr)
{
	return off >= hdr && off % 8 == 0 && off <= size && (uint64_t)count * ent <= size - off;
}

/* The header, against the memfd's size and what this engine reads. */
static int
fs_adopt_check_hdr(const struct fs_region_hdr *h, uint64_t fsize, char *why, size_t why_len)
{
	if (h->magic != FS_REGION_MAGIC)
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "magic 0x%016llx, not an fs "
				     "table region",
				     (unsigned long long)h->magic);
	if (h->version != FS_REGION_VERSION || h->hdr_size != sizeof(*h))
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "version %u with a header of %u "
				     "bytes, this engine reads version %u (%zu bytes)",
				     h->version, h->hdr_size, FS_REGION_VERSION, sizeof(*h));
	if (h->size > fsize)
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "the header says %llu bytes, the "
				     "memfd holds %llu",
				     (unsigned long long)h->size, (unsigned long long)fsize);
	if (h->inode_ent_size != sizeof(struct fs_inode) ||
	    h->handle_ent_size != sizeof(struct fs_handle))
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "entries of %u and %u bytes, this "
				     "engine's are %zu and %zu",
				     h->inode_ent_size, h->handle_ent_size, sizeof(struct fs_inode),
				     sizeof(struct fs_handle));
	if (h->max_inodes < FS_ROOT_IDX + 1 || h->max_inodes > FS_ADOPT_MAX_ENTRIES ||
	    h->max_handles < 2 || h->max_handles > FS_ADOPT_MAX_ENTRIES)
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "tables of %u inodes and %u "
				     "handles, out of range 2..%u",
				     h->max_inodes, h->max_handles, FS_ADOPT_MAX_ENTRIES);
	if (!fs_adopt_table_ok(h->off_inodes, h->max_inodes, h->inode_ent_size, h->size,
			       h->hdr_size) ||
	    !fs_adopt_table_ok(h->off_handles, h->max_handles, h->handle_ent_size, h->size,
			       h->hdr_size))
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "inode table at %llu, handle "
				     "table at %llu: not inside the region's %llu bytes",
				     (unsigned long long)h->off_inodes,
				     (unsigned long long)h->off_handles,
				     (unsigned long long)h->size);
	if (h->inode_bump < FS_ROOT_IDX + 1 || h->inode_bump > h->max_inodes ||
	    h->handle_bump < 1 || h->handle_bump > h->max_handles)
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "slots used: %u of %u inodes, %u "
				     "of %u handles",
				     h->inode_bump, h->max_inodes, h->handle_bump, h->max_handles);
	if (h->n_inodes > h->inode_bump || h->n_handles > h->handle_bump)
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "%u inodes and %u handles in use, "
				     "more than the %u and %u slots used",
				     h->n_inodes, h->n_handles, h->inode_bump, h->handle_bump);
	return 0;
}

/* The entries the save reads as they are: the root, the names of the
 * live inodes (an engine always leaves a NUL at name[NAME_MAX]), the
 * inodes the open handles point at (an engine frees an inode, never an
 * index out of the table). A handle on an inode no longer in use is kept,
 * stale, as a live save keeps it: a guest may FORGET before it RELEASEs,
 * and an OPEN redone after a crash leaves the first try's handle behind. */
static int
fs_adopt_check_entries(const struct fs_region_hdr *h, const struct fs_inode *in,
		       const struct fs_handle *hd, char *why, size_t why_len)
{
	uint32_t i;

	if (in[FS_ROOT_IDX].state != FS_ENT_USED || !S_ISDIR(in[FS_ROOT_IDX].mode))
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "the root (inode 1) is not a "
				     "directory in use");
	for (i = FS_ROOT_IDX + 1; i < h->inode_bump; i++)
		if (in[i].state == FS_ENT_USED && in[i].nlookup != 0 &&
		    memchr(in[i].name, '\0', sizeof(in[i].name)) == NULL)
			return fs_adopt_fail(why, why_len, -EBADMSG,
					     "inode %u: name without "
					     "a terminating NUL",
					     i);
	for (i = 1; i < h->handle_bump; i++)
		if (hd[i].state == FS_ENT_USED && hd[i].inode >= h->inode_bump)
			return fs_adopt_fail(why, why_len, -EBADMSG,
					     "handle %u: on inode %u, "
					     "beyond the table",
					     i, hd[i].inode);
	return 0;
}

/* Save the mapped region as a session stream and load that into fs. */
static int
fs_adopt_load(struct vgw_fs *fs, const void *region, struct fs_load_opts *o, char *why,
	      size_t why_len)
{
	const struct fs_region_hdr *h = region;
	const struct fs_region_hdr *mine = fs->hdr;
	char line[256] = "", note[96] = "";
	struct fs_view v;
	size_t len = 0;
	void *buf = NULL;
	int rc;

	fs_state_view_of(&v, fs);
	v.hdr = h;
	v.inodes = (const struct fs_inode *)((const uint8_t *)region + h->off_inodes);
	v.handles = (const struct fs_handle *)((const uint8_t *)region + h->off_handles);
	v.ino_fd = NULL;
	v.fh_dead = NULL;
	v.strict = true;
	rc = fs_adopt_check_entries(h, v.inodes, v.handles, why, why_len);
	if (rc < 0)
		return rc;
	rc = fs_state_save_view_buf(&v, &buf, &len, line, sizeof(line));
	if (rc < 0)
		return fs_adopt_fail(why, why_len, rc, "%s", line);
	rc = fs_state_load_buf(fs, buf, len, line, sizeof(line), o);
	free(buf);
	if (rc == 0) {
		if (why != NULL && why_len != 0)
			snprintf(why, why_len,
				 "%u inode(s), %u handle(s); %" PRIu64 " inode(s) and %" PRIu64
				 " handle(s) stale%s%s%s",
				 vgw_fs_inode_count(fs), vgw_fs_handle_count(fs),
				 fs->stats.state_stale_inodes, fs->stats.state_stale_handles,
				 fs->stale_first[0] ? " (first: " : "", fs->stale_first,
				 fs->stale_first[0] ? ")" : "");
		if (o->n_vault != 0 && why != NULL && why_len != 0) {
			size_t l = strlen(why);

			snprintf(why + l, why_len - l,
				 "; %" PRIu64 " unlinked file(s) of %u parked given back",
				 fs->stats.vault_taken, o->n_vault);
		}
		return 0;
	}
	/* the loader checks indices against this engine's tables */
	if (h->max_inodes != mine->max_inodes || h->max_handles != mine->max_handles)
		snprintf(note, sizeof(note),
			 " (tables of %u inodes and %u handles there, %u "
			 "and %u here)",
			 h->max_inodes, h->max_handles, mine->max_inodes, mine->max_handles);
	return fs_adopt_fail(why, why_len, rc, "%s%s", line, note);
}

int
vgw_fs_adopt(struct vgw_fs *fs, int memfd, char *why, size_t why_len)
{
	return vgw_fs_adopt_vault(fs, memfd, -1, -1, why, why_len);
}

int
vgw_fs_adopt_vault(struct vgw_fs *fs, int memfd, int vault_rx, int vault_tx, char *why,
		   size_t why_len)
{
	struct fs_load_opts o = { .same_host = true };
	struct stat st;
	void *region;
	size_t size;
	int rc;

	if (why != NULL && why_len != 0)
		why[0] = '\0';
	if (fs == NULL) {
		if (why != NULL && why_len != 0)
			snprintf(why, why_len, "no engine");
		return -EINVAL;
	}
	if (!fs_state_fresh(fs)) {
		if (why != NULL && why_len != 0)
			snprintf(why, why_len,
				 "the engine is not fresh (initialized, or "
				 "inodes, handles or requests already there)");
		return -EBUSY;
	}
	if (fstat(memfd, &st) < 0)
		return fs_adopt_fail(why, why_len, -errno, "fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(struct fs_region_hdr))
		return fs_adopt_fail(why, why_len, -EBADMSG,
				     "%lld bytes, smaller than its "
				     "header (%zu)",
				     (long long)st.st_size, sizeof(struct fs_region_hdr));
	size = (size_t)st.st_size;
	/* a private mapping: what the memfd's other holders do later is not
	 * seen here, and nothing here reaches them */
	region = mmap(NULL, size, PROT_READ, MAP_PRIVATE, memfd, 0);
	if (region == MAP_FAILED)
		return fs_adopt_fail(why, why_len, -errno, "mmap of %zu bytes: %s", size,
				     strerror(errno));
	rc = fs_adopt_check_hdr(region, size, why, why_len);
	if (rc == 0) {
		rc = fs_vault_take(fs, vault_rx, vault_tx, &o.vault, &o.n_vault);
		if (rc < 0)
			fs_adopt_fail(why, why_len, rc, "vault: %s", strerror(-rc));
	}
	if (rc == 0) {
		rc = fs_adopt_load(fs, region, &o, why, why_len);
		fs_vault_settle(fs, o.vault, o.n_vault, rc == 0);
	}
	munmap(region, size);
	return rc;
}
