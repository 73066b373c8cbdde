/* SPDX-License-Identifier: BSD-3-Clause */
/* Session state of the FUSE engine: save on the source, load into a fresh
 * engine on the destination (vgw_fs.h explains what is carried and why).
 *
 * Sections (device-state codec, vgw_state.h; fs owns types 0x0100..0x01ff,
 * all version 1, all CRITICAL: a reader that cannot apply them would serve
 * the guest's node ids and fhs wrong). Integers little-endian, in order:
 *
 *   0x0100 SESSION, exactly one, first:
 *     u32 init_done          0 or 1
 *     u32 proto_minor        negotiated FUSE minor
 *     u64 init_flags         negotiated flags | flags2 << 32
 *     u32 max_write          as answered to INIT
 *     u32 max_pages          as answered to INIT
 *     u32 features           bit 0 xattrs served, bit 1 POSIX locks served
 *     u32 cache              enum vgw_fs_cache (informative)
 *     u32 n_inodes           inode records that follow (root excluded)
 *     u32 n_handles          handle records that follow
 *   0x0101 INODES, zero or more, after SESSION, before any HANDLES:
 *     u32 count, then count records:
 *     u32 index              2..max_inodes-1 (1 is the root, never saved)
 *     u32 gen                != 0; node id = gen << 32 | index
 *     u32 parent             index of a directory in an earlier record or
 *                            the root (1); 0: the source had no path to it
 *                            (its parent was forgotten), loaded stale
 *     u32 mode               st_mode
 *     u64 nlookup            != 0
 *     u64 dev                makedev() of the source's st_dev
 *     u64 ino                the source's st_ino
 *     str name               u32 length and bytes: one path component
 *   0x0102 HANDLES, zero or more, after the INODES:
 *     u32 count, then count records:
 *     u32 index              1..max_handles-1
 *     u32 gen                != 0; fh = gen << 32 | index
 *     u32 inode, inode_gen   an inode of the stream, or the root (1, 0);
 *                            0, 0: the source's inode was forgotten while
 *                            the handle stayed open, loaded stale
 *     u32 flags              open(2) flags of the source's open
 *     u32 is_dir             0 or 1
 *   0x0103 SLOTS, at most one, last; not CRITICAL: the generations of
 *     the free slots, so that no (index, generation) the guest was ever
 *     given comes back for another file (without it, a reused slot starts
 *     again at generation 1):
 *     u32 count, then count (u32 index, u32 gen) of free inode slots
 *     u32 count, then count (u32 index, u32 gen) of free handle slots
 *
 * Sections 0x0104..0x01ff are for later additions.
 *
 * Parents come before their children, so a loader opens each inode by an
 * fd it already has and a cycle cannot be expressed (it shows as a parent
 * defined later). Records are chunked, FS_STATE_CHUNK per section, to stay
 * far below the codec's section limit.
 *
 * Loading writes the tables directly, through the engine's own insertion
 * (fs_inode_insert, fs_handle_alloc) with a free list of one entry
 * prepared so that the entry lands at the saved index with the saved
 * generation; the real free lists are rebuilt at the end. An inode that
 * cannot be reopened keeps ino_fd -1 (fs_need_inode answers ESTALE) and
 * mnt_id FS_STATE_NO_MNT, which no statx() returns, so that no LOOKUP ever
 * finds it by (dev, ino, mnt_id). The io_uring ring belongs to the poller:
 * nothing here goes through it, fds are opened and closed directly. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_priv.h"
#include "vgw_state.h"

#define FS_STATE_VERSION 1
#define FS_STATE_CHUNK 16384u	    /* records per INODES/HANDLES section */
#define FS_STATE_ORPHAN 0x80000000u /* in the save order: no path */
#define FS_STATE_NO_MNT UINT64_MAX  /* mnt_id of an inode without fd */
#define FS_STATE_MIN_MINOR 12	    /* as fs.c's FS_MIN_MINOR */

#define FS_FEAT_XATTR 0x1u
#define FS_FEAT_LOCKS 0x2u

/* open(2) flags the engine keeps in a handle (fs_open_flags(), CREATE's
 * O_CREAT | O_NOFOLLOW, OPENDIR's O_DIRECTORY); anything else in a stream
 * did not come from an engine. */
#define FS_FLAGS_KNOWN \
	(O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_DIRECT | O_NOATIME | O_LARGEFILE | \
	 O_EXCL | O_CREAT | O_NOFOLLOW | O_DIRECTORY)
/* not repeated on the reopen: the file exists and must not be emptied
 * again; O_NOFOLLOW would refuse our /proc/self/fd link itself */
#define FS_FLAGS_ONCE (O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW)

/* A local shortage (fds, memory) fails a save or a load; anything else
 * about one name (gone, not a directory any more, now a symlink on the
 * way, outside the share, not permitted) makes that inode stale. */
static bool
fs_state_resource_err(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOMEM;
}

/* ---- save ---- */

/* The save walks a view of the tables: a live engine's (vgw_fs_state_save)
 * or a dead one's region (vgw_fs_adopt, fs_adopt.c). */
void
fs_state_view_of(struct fs_view *v, const struct vgw_fs *fs)
{
	memset(v, 0, sizeof(*v));
	v->hdr = fs->hdr;
	v->inodes = fs->inodes;
	v->handles = fs->handles;
	v->ino_fd = fs->ino_fd;
	v->fh_dead = fs->fh_dead;
	v->features = (fs->xattr ? FS_FEAT_XATTR : 0) | (fs->posix_locks ? FS_FEAT_LOCKS : 0);
	v->cache = (uint32_t)fs->cache;
	v->slot_inodes = fs->hdr->max_inodes;
	v->slot_handles = fs->hdr->max_handles;
}

static int
fs_view_ino_fd(const struct fs_view *v, uint32_t idx)
{
	return v->ino_fd != NULL ? v->ino_fd[idx] : -1;
}

static bool
fs_state_live(const struct fs_view *v, uint32_t i)
{
	return v->inodes[i].state == FS_ENT_USED && v->inodes[i].nlookup != 0;
}

/* Whether the inode at idx is what its parent's fd and its name lead to
 * now: 1, 0 (gone, or another file: renamed or replaced behind the
 * guest's back), or a resource error. A destination opening that name
 * would otherwise serve the guest another file under this node id. */
static int
fs_state_verify(const struct fs_view *v, uint32_t idx)
{
	struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = FS_RESOLVE };
	const struct fs_inode *in = &v->inodes[idx];
	struct statx st;
	long fd;
	int rc;

	fd = syscall(SYS_openat2, v->ino_fd[in->parent], in->name, &how, sizeof(how));
	if (fd < 0)
		return fs_state_resource_err(-errno) ? -errno : 0;
	rc = statx((int)fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		   STATX_BASIC_STATS | STATX_MNT_ID, &st);
	rc = rc < 0 ? (fs_state_resource_err(-errno) ? -errno : 0) :
		      makedev(st.stx_dev_major, st.stx_dev_minor) == in->dev &&
			      st.stx_ino == in->ino && st.stx_mnt_id == in->mnt_id;
	close((int)fd);
	return rc;
}

/* A parent hint a live engine's save would make an orphan of, but that
 * no engine leaves behind, even killed mid-update: in a strict view, the
 * save stops there with the reason in v->why. */
static int
fs_state_order_strict(struct fs_view *v, uint32_t idx, uint32_t p, const uint8_t *mark)
{
	if (!v->strict)
		return 0;
	if (p != 0 && p >= v->hdr->inode_bump) {
		snprintf(v->why, sizeof(v->why),
			 "inode %u: parent %u beyond the %u slots "
			 "ever used",
			 idx, p, v->hdr->inode_bump);
		return -EBADMSG;
	}
	if (p != 0 && mark[p] == 1) {
		snprintf(v->why, sizeof(v->why),
			 "inode %u: parent chain through %u is a "
			 "cycle",
			 idx, p);
		return -EBADMSG;
	}
	return 0;
}

/* Whether the hint of the inode at idx can still lead to it: a name of
 * one component (an engine killed while renaming leaves it empty or
 * half-written) under the directory it was set in (a parent forgotten
 * since, its slot taken by another inode, is another directory). */
static bool
fs_state_hint_ok(const struct fs_view *v, uint32_t idx, uint32_t p)
{
	const struct fs_inode *in = &v->inodes[idx];

	if (fs_check_name(in->name, strnlen(in->name, NAME_MAX), false) < 0)
		return false;
	return p == 0 || p >= v->hdr->inode_bump || in->parent_gen == 0 ||
	       v->inodes[p].gen == in->parent_gen;
}

/* Every live inode but the root, parents first: from each inode not placed
 * yet, climb to the root or to a placed ancestor, then place the path top
 * down. A parent hint that does not lead there (its inode forgotten, or
 * its slot reused by an unrelated inode, possibly below this one), or a
 * name that no longer leads to the inode, makes it an orphan: saved
 * without a parent, stale on the destination. O(inodes), two system calls
 * each (none without ino_fd). Returns the count, or a resource error. */
static int
fs_state_order(struct fs_view *v, uint8_t *mark, uint32_t *stack, uint32_t *order, uint32_t *count)
{
	const struct fs_region_hdr *h = v->hdr;
	uint32_t i, cur, p, sp, n = 0;
	bool orphan;
	int rc;

	for (i = FS_ROOT_IDX + 1; i < h->inode_bump; i++) {
		if (mark[i] || !fs_state_live(v, i))
			continue;
		sp = 0;
		cur = i;
		orphan = false;
		for (;;) {
			mark[cur] = 1; /* on the path */
			stack[sp++] = cur;
			p = v->inodes[cur].parent;
			if (!fs_state_hint_ok(v, cur, p)) {
				orphan = true;
				break;
			}
			if (p == FS_ROOT_IDX)
				break;
			rc = fs_state_order_strict(v, cur, p, mark);
			if (rc < 0)
				return rc;
			if (p == 0 || p >= h->inode_bump || mark[p] == 1 || !fs_state_live(v, p) ||
			    !S_ISDIR(v->inodes[p].mode)) {
				orphan = true;
				break;
			}
			if (mark[p] == 2)
				break;
			cur = p;
		}
		while (sp > 0) {
			cur = stack[--sp];
			mark[cur] = 2; /* placed */
			/* a stale inode (of a loaded session) or one below
			 * it keeps its hint: the next host may find it */
			if (!orphan && fs_view_ino_fd(v, cur) >= 0 &&
			    fs_view_ino_fd(v, v->inodes[cur].parent) >= 0) {
				rc = fs_state_verify(v, cur);
				if (rc < 0)
					return rc;
				orphan = rc == 0;
			}
			order[n++] = cur | (orphan ? FS_STATE_ORPHAN : 0);
			orphan = false;
		}
	}
	*count = n;
	return 0;
}

static bool
fs_state_handle_live(const struct fs_view *v, uint32_t i)
{
	return v->handles[i].state == FS_ENT_USED && (v->fh_dead == NULL || !v->fh_dead[i]);
}

static int
fs_state_put_inode(struct vgw_state_writer *w, const struct fs_view *v, uint32_t o)
{
	uint32_t idx = o & ~FS_STATE_ORPHAN;
	const struct fs_inode *in = &v->inodes[idx];

	vgw_state_put_u32(w, idx);
	vgw_state_put_u32(w, in->gen);
	vgw_state_put_u32(w, (o & FS_STATE_ORPHAN) ? 0 : in->parent);
	vgw_state_put_u32(w, in->mode);
	vgw_state_put_u64(w, in->nlookup);
	vgw_state_put_u64(w, in->dev);
	vgw_state_put_u64(w, in->ino);
	/* an orphan is loaded stale: its name is kept only when it is one */
	if (fs_check_name(in->name, strnlen(in->name, NAME_MAX), false) < 0)
		return vgw_state_put_str(w, "?");
	return vgw_state_put_str(w, in->name);
}

static int
fs_state_put_handle(struct vgw_state_writer *w, const struct fs_view *v, uint32_t idx)
{
	const struct fs_handle *hd = &v->handles[idx];
	uint32_t ino = hd->inode, gen = hd->inode_gen;

	/* the inode the handle was opened on must still be the one in the
	 * slot (the kernel does not forget an inode with open files, so
	 * this is for a misbehaving guest) */
	if (ino >= v->hdr->inode_bump || !fs_state_live(v, ino) || v->inodes[ino].gen != gen) {
		ino = 0;
		gen = 0;
	}
	vgw_state_put_u32(w, idx);
	vgw_state_put_u32(w, hd->gen);
	vgw_state_put_u32(w, ino);
	vgw_state_put_u32(w, gen);
	vgw_state_put_u32(w, (uint32_t)hd->flags);
	return vgw_state_put_u32(w, hd->is_dir ? 1 : 0);
}

/* Free slots that were used (generation != 0), below the view's slot
 * limits: two passes each, one to count. */
static int
fs_state_put_slots(struct vgw_state_writer *w, const struct fs_view *v)
{
	const struct fs_region_hdr *h = v->hdr;
	uint32_t i, n, top;

	vgw_state_section_begin(w, VGW_FS_SEC_SLOTS, FS_STATE_VERSION, 0);
	top = h->inode_bump < v->slot_inodes ? h->inode_bump : v->slot_inodes;
	for (i = FS_ROOT_IDX + 1, n = 0; i < top; i++)
		n += v->inodes[i].state == FS_ENT_FREE && v->inodes[i].gen != 0;
	vgw_state_put_u32(w, n);
	for (i = FS_ROOT_IDX + 1; i < top; i++) {
		if (v->inodes[i].state != FS_ENT_FREE || v->inodes[i].gen == 0)
			continue;
		vgw_state_put_u32(w, i);
		vgw_state_put_u32(w, v->inodes[i].gen);
	}
	top = h->handle_bump < v->slot_handles ? h->handle_bump : v->slot_handles;
	for (i = 1, n = 0; i < top; i++)
		n += v->handles[i].state == FS_ENT_FREE && v->handles[i].gen != 0;
	vgw_state_put_u32(w, n);
	for (i = 1; i < top; i++) {
		if (v->handles[i].state != FS_ENT_FREE || v->handles[i].gen == 0)
			continue;
		vgw_state_put_u32(w, i);
		vgw_state_put_u32(w, v->handles[i].gen);
	}
	return vgw_state_section_end(w);
}

static int
fs_state_save_view(struct fs_view *v, struct vgw_state_writer *w)
{
	const struct fs_region_hdr *h = v->hdr;
	uint32_t *order = NULL, *stack = NULL;
	uint32_t n, nh = 0, i, k;
	uint8_t *mark = NULL;
	int rc = 0;

	/* sized by the slots ever used, not by n_inodes: a view of a dead
	 * engine's region cannot trust its count */
	mark = calloc(h->inode_bump, 1);
	order = malloc(sizeof(*order) * h->inode_bump);
	stack = malloc(sizeof(*stack) * h->inode_bump);
	if (mark == NULL || order == NULL || stack == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = fs_state_order(v, mark, stack, order, &n);
	if (rc < 0)
		goto out;
	for (i = 1; i < h->handle_bump; i++)
		nh += fs_state_handle_live(v, i);

	vgw_state_section_begin(w, VGW_FS_SEC_SESSION, FS_STATE_VERSION, VGW_STATE_F_CRITICAL);
	vgw_state_put_u32(w, h->init_done ? 1 : 0);
	vgw_state_put_u32(w, h->proto_minor);
	vgw_state_put_u64(w, h->init_flags);
	vgw_state_put_u32(w, h->max_write);
	vgw_state_put_u32(w, h->max_pages);
	vgw_state_put_u32(w, v->features);
	vgw_state_put_u32(w, v->cache);
	vgw_state_put_u32(w, n);
	vgw_state_put_u32(w, nh);
	rc = vgw_state_section_end(w);

	for (k = 0; rc == 0 && k < n; k++) {
		if (k % FS_STATE_CHUNK == 0) {
			vgw_state_section_begin(w, VGW_FS_SEC_INODES, FS_STATE_VERSION,
						VGW_STATE_F_CRITICAL);
			vgw_state_put_u32(w, n - k < FS_STATE_CHUNK ? n - k : FS_STATE_CHUNK);
		}
		rc = fs_state_put_inode(w, v, order[k]);
		if (rc == 0 && (k + 1 == n || (k + 1) % FS_STATE_CHUNK == 0))
			rc = vgw_state_section_end(w);
	}
	for (i = 1, k = 0; rc == 0 && i < h->handle_bump; i++) {
		if (!fs_state_handle_live(v, i))
			continue;
		if (k % FS_STATE_CHUNK == 0) {
			vgw_state_section_begin(w, VGW_FS_SEC_HANDLES, FS_STATE_VERSION,
						VGW_STATE_F_CRITICAL);
			vgw_state_put_u32(w, nh - k < FS_STATE_CHUNK ? nh - k : FS_STATE_CHUNK);
		}
		rc = fs_state_put_handle(w, v, i);
		k++;
		if (rc == 0 && (k == nh || k % FS_STATE_CHUNK == 0))
			rc = vgw_state_section_end(w);
	}
	if (rc == 0)
		rc = fs_state_put_slots(w, v);
out:
	free(mark);
	free(order);
	free(stack);
	return rc;
}

int
vgw_fs_state_save(struct vgw_fs *fs, struct vgw_state_writer *w)
{
	struct fs_view v;

	if (fs == NULL || w == NULL)
		return -EINVAL;
	if (fs->inflight != 0)
		return -EBUSY;
	fs_state_view_of(&v, fs);
	return fs_state_save_view(&v, w);
}

int
fs_state_save_view_buf(struct fs_view *v, void **buf, size_t *len, char *why, size_t why_len)
{
	struct vgw_state_writer w;
	int rc;

	*buf = NULL;
	*len = 0;
	rc = vgw_state_writer_init(&w, VGW_FS_STATE_DEV_TYPE, v->max_bytes);
	if (rc == 0)
		rc = fs_state_save_view(v, &w);
	if (rc < 0 && w.err == 0) {
		/* ours, not the writer's */
		if (why && why_len)
			snprintf(why, why_len, "%s", v->why[0] ? v->why : strerror(-rc));
		vgw_state_writer_free(&w);
		return rc;
	}
	rc = vgw_state_finish(&w, buf, len);
	if (rc < 0 && why && why_len)
		snprintf(why, why_len, "%s", vgw_state_writer_reason(&w));
	return rc;
}

int
vgw_fs_state_save_buf(struct vgw_fs *fs, size_t max_bytes, void **buf, size_t *len, char *why,
		      size_t why_len)
{
	struct fs_view v;

	if (why && why_len)
		why[0] = '\0';
	if (fs == NULL || buf == NULL || len == NULL)
		return -EINVAL;
	*buf = NULL;
	*len = 0;
	if (fs->inflight != 0) {
		if (why && why_len)
			snprintf(why, why_len, "requests are in flight");
		return -EBUSY;
	}
	fs_state_view_of(&v, fs);
	v.max_bytes = max_bytes;
	return fs_state_save_view_buf(&v, buf, len, why, why_len);
}

/* ---- load ---- */

struct fs_load {
	struct vgw_fs *fs;
	struct vgw_state_reader start; /* a copy at the first section */
	bool session;
	bool handles; /* a HANDLES section was seen */
	bool slots;   /* the SLOTS section was seen */
	uint32_t init_done;
	uint32_t proto_minor;
	uint64_t init_flags;
	uint32_t max_write;
	uint32_t max_pages;
	uint32_t want_inodes; /* announced by SESSION */
	uint32_t want_handles;
	uint32_t n_inodes; /* records applied */
	uint32_t n_handles;
	uint32_t top_inode; /* highest index applied */
	uint32_t top_handle;
	uint64_t stale;
	uint64_t stale_handles;
	uint64_t changed;
	char stale_first[112];	    /* the first stale inode and why */
	bool same_host;		    /* a take-over: a name must lead to the same file */
	struct fs_vault_ent *vault; /* parked fds of unlinked files */
	uint32_t n_vault;
	uint64_t vaulted; /* inodes given a parked fd */
};

bool
fs_state_fresh(const struct vgw_fs *fs)
{
	const struct fs_region_hdr *h = fs->hdr;

	return fs->inflight == 0 && !h->init_done && h->n_inodes == 1 && h->n_handles == 0 &&
	       h->inode_bump == FS_ROOT_IDX + 1 && h->handle_bump == 1 && h->inode_free == 0 &&
	       h->handle_free == 0;
}

/* Back to what vgw_fs_create() left: every entry past the root cleared
 * (generations too: the slots were never used), every hash chain
 * reduced to the root. */
static void
fs_state_reset(struct vgw_fs *fs, uint32_t top_inode, uint32_t top_handle)
{
	struct fs_region_hdr *h = fs->hdr;
	uint32_t i, *p;

	/* the chains first: they run through the entries cleared below */
	for (i = 0; i < h->hash_size; i++) {
		p = &fs->hash[i];
		while (*p != 0) {
			if (*p != FS_ROOT_IDX)
				*p = fs->inodes[*p].hnext;
			else
				p = &fs->inodes[*p].hnext;
		}
	}
	for (i = FS_ROOT_IDX + 1; i <= top_inode; i++) {
		if (fs->ino_fd[i] >= 0)
			close(fs->ino_fd[i]);
		fs->ino_fd[i] = -1;
		fs->ino_vaulted[i] = 0;
		memset(&fs->inodes[i], 0, sizeof(fs->inodes[i]));
	}
	for (i = 1; i <= top_handle; i++) {
		if (fs->fh_fd[i] >= 0)
			close(fs->fh_fd[i]);
		fs->fh_fd[i] = -1;
		fs->fh_dead[i] = 0;
		fs->fh_warned[i] = 0;
		memset(&fs->handles[i], 0, sizeof(fs->handles[i]));
	}
	h->inode_bump = FS_ROOT_IDX + 1;
	h->inode_free = 0;
	h->n_inodes = 1;
	h->handle_bump = 1;
	h->handle_free = 0;
	h->n_handles = 0;
	h->init_done = 0;
	h->proto_minor = 0;
	h->init_flags = 0;
	h->max_write = 0;
	h->max_pages = 0;
}

/* Free lists over the slots below the bump indices that the stream did
 * not use, lowest index first out (as a fresh table would hand them). */
static void
fs_state_free_lists(struct vgw_fs *fs, const struct fs_load *L)
{
	struct fs_region_hdr *h = fs->hdr;
	uint32_t i;

	h->inode_bump = L->top_inode + 1;
	if (h->inode_bump < FS_ROOT_IDX + 1)
		h->inode_bump = FS_ROOT_IDX + 1;
	h->inode_free = 0;
	for (i = h->inode_bump - 1; i > FS_ROOT_IDX; i--) {
		if (fs->inodes[i].state == FS_ENT_USED)
			continue;
		fs->inodes[i].hnext = h->inode_free;
		h->inode_free = i;
	}
	h->handle_bump = L->top_handle + 1;
	h->handle_free = 0;
	for (i = h->handle_bump - 1; i >= 1; i--) {
		if (fs->handles[i].state == FS_ENT_USED)
			continue;
		fs->handles[i].next = h->handle_free;
		h->handle_free = i;
	}
}

static bool
fs_state_type_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		return (mode & ~(uint32_t)(S_IFMT | 07777)) == 0;
	default:
		return false;
	}
}

/* Why parent p of the inode at index idx is not there yet: not in the
 * stream, in it later (misordered), or above idx itself (a cycle). Runs
 * only on the way to a rejection; O(records) with one index map. */
static void
fs_state_explain(struct fs_load *L, struct vgw_state_section *s, uint32_t rec, uint32_t idx,
		 uint32_t p)
{
	uint32_t max = L->fs->hdr->max_inodes, i, n, cnt, steps, total = 0;
	struct vgw_state_reader r = L->start;
	struct vgw_state_section t;
	uint32_t *par = malloc(sizeof(*par) * max);
	uint32_t v[4];
	uint64_t skip64;
	char nm[NAME_MAX + 1];

	if (par == NULL) {
		vgw_state_section_fail(s, -EBADMSG,
				       "inode record %u (index %u): parent %u "
				       "not defined before it",
				       rec, idx, p);
		return;
	}
	memset(par, 0xff, sizeof(*par) * max);
	/* a private copy of the reader: its failures stay there */
	while (vgw_state_next_section(&r, &t) == 1) {
		if (t.type != VGW_FS_SEC_INODES || vgw_state_get_u32(&t, &cnt) != 0)
			continue;
		for (n = 0; n < cnt; n++) {
			for (i = 0; i < 4; i++)
				vgw_state_get_u32(&t, &v[i]);
			for (i = 0; i < 3; i++)
				vgw_state_get_u64(&t, &skip64);
			if (vgw_state_get_str(&t, nm, sizeof(nm)) != 0)
				break;
			if (v[0] < max && par[v[0]] == UINT32_MAX) {
				par[v[0]] = v[2];
				total++;
			}
		}
	}
	if (par[p] == UINT32_MAX) {
		vgw_state_section_fail(s, -EBADMSG,
				       "inode record %u (index %u): parent %u "
				       "is not in the stream",
				       rec, idx, p);
		free(par);
		return;
	}
	/* climb from p: a chain longer than the records loops */
	for (i = p, steps = 0; steps <= total && i < max && i != idx && par[i] != UINT32_MAX;
	     steps++)
		i = par[i];
	if (i == idx)
		vgw_state_section_fail(s, -EBADMSG,
				       "inode record %u (index %u): parent chain "
				       "through %u is a cycle",
				       rec, idx, p);
	else if (steps > total)
		vgw_state_section_fail(s, -EBADMSG,
				       "inode record %u (index %u): parent chain "
				       "above %u is a cycle",
				       rec, idx, p);
	else
		vgw_state_section_fail(s, -EBADMSG,
				       "inode record %u (index %u): parent %u "
				       "comes after it (parents must come first)",
				       rec, idx, p);
	free(par);
}

static int
fs_state_session(struct fs_load *L, struct vgw_state_section *s)
{
	struct vgw_fs *fs = L->fs;
	uint32_t feat, cache;

	if (L->session)
		return vgw_state_section_fail(s, -EBADMSG, "a second session section");
	if (s->version < 1)
		return vgw_state_section_fail(s, -EBADMSG, "version %u", s->version);
	/* a newer version appends fields: the ones read here keep their
	 * meaning */
	if (vgw_state_get_u32(s, &L->init_done) || vgw_state_get_u32(s, &L->proto_minor) ||
	    vgw_state_get_u64(s, &L->init_flags) || vgw_state_get_u32(s, &L->max_write) ||
	    vgw_state_get_u32(s, &L->max_pages) || vgw_state_get_u32(s, &feat) ||
	    vgw_state_get_u32(s, &cache) || vgw_state_get_u32(s, &L->want_inodes) ||
	    vgw_state_get_u32(s, &L->want_handles))
		return s->err;
	if (L->init_done > 1)
		return vgw_state_section_fail(s, -EBADMSG, "init_done %u", L->init_done);
	if (!L->init_done) {
		/* no session (never initialized, or unmounted): nothing the
		 * guest holds */
		if (L->want_inodes || L->want_handles)
			return vgw_state_section_fail(s, -EBADMSG,
						      "%u inodes and %u handles "
						      "without an INIT session",
						      L->want_inodes, L->want_handles);
		L->session = true;
		return 0;
	}
	if (L->proto_minor < FS_STATE_MIN_MINOR || L->proto_minor > FUSE_KERNEL_MINOR_VERSION)
		return vgw_state_section_fail(s, -EBADMSG, "protocol minor %u not served",
					      L->proto_minor);
	if (L->max_write == 0 || L->max_write > fs->max_write || L->max_pages > fs->max_pages)
		return vgw_state_section_fail(s, -EBADMSG,
					      "negotiated max_write %u, "
					      "max_pages %u above this engine's %u, %u",
					      L->max_write, L->max_pages, fs->max_write,
					      fs->max_pages);
	/* the guest would get ENOSYS for what it was promised */
	if ((L->init_flags & FUSE_POSIX_LOCKS) && !fs->posix_locks)
		return vgw_state_section_fail(s, -EBADMSG,
					      "POSIX locks negotiated, "
					      "not configured here");
	if ((feat & FS_FEAT_XATTR) && !fs->xattr)
		return vgw_state_section_fail(s, -EBADMSG,
					      "xattrs served by the source, "
					      "not configured here");
	if (L->want_inodes > fs->hdr->max_inodes - 2 || L->want_handles > fs->hdr->max_handles - 1)
		return vgw_state_section_fail(s, -EBADMSG,
					      "%u inodes, %u handles: more than "
					      "the tables hold (%u, %u)",
					      L->want_inodes, L->want_handles,
					      fs->hdr->max_inodes - 2, fs->hdr->max_handles - 1);
	(void)cache;
	L->session = true;
	return 0;
}

/* Open the inode at idx by its parent's fd and its name, as LOOKUP does;
 * 0 and *fd, *st (fd -1: stale), or a resource error. */
static int
fs_state_reopen(struct fs_load *L, uint32_t parent, const char *name, uint32_t mode, int *fd,
		struct statx *st, const char **why)
{
	struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = FS_RESOLVE };
	struct vgw_fs *fs = L->fs;
	long r;
	int err;

	*fd = -1;
	if (parent == 0) {
		*why = "no path to it was kept";
		return 0;
	}
	if (fs->ino_fd[parent] < 0) {
		*why = "its parent is stale";
		return 0;
	}
	r = syscall(SYS_openat2, fs->ino_fd[parent], name, &how, sizeof(how));
	if (r < 0) {
		err = -errno;
		*why = strerror(-err);
		return fs_state_resource_err(err) ? err : 0;
	}
	if (statx((int)r, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID,
		  st) < 0) {
		err = -errno;
		close((int)r);
		*why = strerror(-err);
		return fs_state_resource_err(err) ? err : 0;
	}
	/* the guest knows this node as a file of its type: another type
	 * under the same name is another file */
	if ((st->stx_mode & S_IFMT) != (mode & S_IFMT)) {
		close((int)r);
		*why = "the name leads to a file of another type";
		return 0;
	}
	*fd = (int)r;
	return 0;
}

/* A file unlinked while held has no name to be found by: its fd parked
 * in the vault (fs_vault.c), or -1. */
static int
fs_state_from_vault(struct fs_load *L, uint64_t dev, uint64_t ino, uint32_t mode, struct statx *st)
{
	int fd = fs_vault_find(L->vault, L->n_vault, dev, ino);

	if (fd < 0)
		return -1;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID,
		  st) < 0 ||
	    (st->stx_mode & S_IFMT) != (mode & S_IFMT)) {
		/* not ours after all: back to the vault's list, unused */
		for (uint32_t i = 0; i < L->n_vault; i++)
			if (L->vault[i].fd == fd)
				L->vault[i].used = false;
		return -1;
	}
	L->vaulted++;
	return fd;
}

/* A name from the tables (the guest chose it: any byte but '/' and NUL)
 * for a log line: at most len - 1 bytes, control characters as '?', so
 * that the line stays one line. */
static void
fs_state_printable(char *out, size_t len, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < len && name[i] != '\0'; i++)
		out[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	out[i] = '\0';
}
static int
fs_state_inode(struct fs_load *L, struct vgw_state_section *s, uint32_t rec)
{
	struct vgw_fs *fs = L->fs;
	uint32_t max = fs->hdr->max_inodes;
	uint32_t idx, gen, parent, mode, got;
	uint64_t nlookup, dev, ino;
	char name[NAME_MAX + 1];
	const char *why = "";
	struct statx st;
	struct fs_inode *in;
	bool vaulted = false;
	int fd, rc;

	if (vgw_state_get_u32(s, &idx) || vgw_state_get_u32(s, &gen) ||
	    vgw_state_get_u32(s, &parent) || vgw_state_get_u32(s, &mode) ||
	    vgw_state_get_u64(s, &nlookup) || vgw_state_get_u64(s, &dev) ||
	    vgw_state_get_u64(s, &ino))
		return s->err;
	rc = vgw_state_get_str(s, name, sizeof(name));
	if (rc < 0)
		return rc;
	if (idx == FS_ROOT_IDX)
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u: index 1 is the "
					      "root",
					      rec);
	if (idx == 0 || idx >= max)
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u: index %u out of "
					      "range 2..%u",
					      rec, idx, max - 1);
	if (fs->inodes[idx].state == FS_ENT_USED)
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u: index %u "
					      "defined twice",
					      rec, idx);
	if (gen == 0 || nlookup == 0 || !fs_state_type_ok(mode))
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u (index %u): "
					      "generation %u, nlookup %llu, mode 0%o",
					      rec, idx, gen, (unsigned long long)nlookup, mode);
	rc = fs_check_name(name, strlen(name), false);
	if (rc < 0)
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u (index %u): name "
					      "is not one path component (empty, '/', '.' or "
					      "'..')",
					      rec, idx);
	if (parent == idx)
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u (index %u): its "
					      "own parent",
					      rec, idx);
	if (parent >= max)
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u (index %u): parent "
					      "%u out of range",
					      rec, idx, parent);
	if (parent != 0 && fs->inodes[parent].state != FS_ENT_USED) {
		fs_state_explain(L, s, rec, idx, parent);
		return s->err;
	}
	if (parent != 0 && !S_ISDIR(fs->inodes[parent].mode))
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u (index %u): parent "
					      "%u is not a directory",
					      rec, idx, parent);

	rc = fs_state_reopen(L, parent, name, mode, &fd, &st, &why);
	if (rc < 0)
		return vgw_state_section_fail(s, rc, "inode record %u (index %u): reopen: %s", rec,
					      idx, strerror(-rc));
	/* on the host that made the record, another (dev, ino) under the
	 * name is another file: a hint left half-updated by a killed engine */
	if (fd >= 0 && L->same_host &&
	    (makedev(st.stx_dev_major, st.stx_dev_minor) != dev || st.stx_ino != ino)) {
		close(fd);
		fd = -1;
		why = "the name leads to another file";
	}
	if (fd < 0) {
		fd = fs_state_from_vault(L, dev, ino, mode, &st);
		vaulted = fd >= 0;
	}
	if (fd < 0) {
		memset(&st, 0, sizeof(st));
		st.stx_dev_major = major(dev);
		st.stx_dev_minor = minor(dev);
		st.stx_ino = ino;
		st.stx_mnt_id = FS_STATE_NO_MNT;
		st.stx_mode = (uint16_t)mode;
		if (L->stale++ == 0) {
			char shown[41];

			fs_state_printable(shown, sizeof(shown), name);
			snprintf(L->stale_first, sizeof(L->stale_first),
				 "inode %u ('%s' in %u): %s", idx, shown, parent, why);
		}
	} else if (makedev(st.stx_dev_major, st.stx_dev_minor) != dev || st.stx_ino != ino) {
		L->changed++;
	}
	/* a free list of one: fs_inode_insert() takes idx and bumps gen */
	if (idx > L->top_inode)
		L->top_inode = idx; /* from here on, reset clears it */
	in = &fs->inodes[idx];
	in->gen = gen - 1;
	in->hnext = 0;
	fs->hdr->inode_free = idx;
	got = fs_inode_insert(fs, &st, fd, parent, name);
	if (got != idx) { /* cannot happen: the list held idx */
		if (fd >= 0)
			close(fd);
		return vgw_state_section_fail(s, -EBADMSG,
					      "inode record %u (index %u): "
					      "not inserted",
					      rec, idx);
	}
	in->nlookup = nlookup;
	/* parked again when the load is done (fs_vault_settle) */
	fs->ino_vaulted[idx] = vaulted;
	L->n_inodes++;
	return 0;
}

/* A directory handle reopened here is a fresh open file on the host, and
 * the guest goes on reading it where the source stopped, possibly at the
 * end cookie. ext4 (seen on Linux 6.18) sets up its per-file readdir state
 * at the first getdents64; when that first call is at the end cookie, the
 * state keeps the end's hash under a last position of 0, so a later seek
 * back to 0 is not seen as a seek and reads as the end again: the guest's
 * next rewinddir() would list an empty directory. One getdents64 at 0
 * first, then back to 0, sets the state up from the start. */
static void
fs_state_dir_prime(int fd)
{
	char buf[512];

	if (syscall(SYS_getdents64, fd, buf, sizeof(buf)) >= 0)
		(void)lseek(fd, 0, SEEK_SET);
}

static int
fs_state_handle(struct fs_load *L, struct vgw_state_section *s, uint32_t rec)
{
	struct vgw_fs *fs = L->fs;
	uint32_t max = fs->hdr->max_handles;
	uint32_t idx, gen, ino, ino_gen, flags, is_dir, mode, got;
	struct open_how how = { 0 };
	struct fs_handle *hd;
	char pname[16];
	long fd = -1;
	int err;

	if (vgw_state_get_u32(s, &idx) || vgw_state_get_u32(s, &gen) ||
	    vgw_state_get_u32(s, &ino) || vgw_state_get_u32(s, &ino_gen) ||
	    vgw_state_get_u32(s, &flags) || vgw_state_get_u32(s, &is_dir))
		return s->err;
	if (idx == 0 || idx >= max)
		return vgw_state_section_fail(s, -EBADMSG,
					      "handle record %u: index %u out of "
					      "range 1..%u",
					      rec, idx, max - 1);
	if (fs->handles[idx].state == FS_ENT_USED)
		return vgw_state_section_fail(s, -EBADMSG,
					      "handle record %u: index %u "
					      "defined twice",
					      rec, idx);
	if (gen == 0 || is_dir > 1)
		return vgw_state_section_fail(s, -EBADMSG,
					      "handle record %u (index %u): "
					      "generation %u, is_dir %u",
					      rec, idx, gen, is_dir);
	if (ino != 0 || ino_gen != 0) {
		if (ino >= fs->hdr->max_inodes || fs->inodes[ino].state != FS_ENT_USED ||
		    fs->inodes[ino].gen != ino_gen)
			return vgw_state_section_fail(s, -EBADMSG,
						      "handle record %u (index "
						      "%u): inode %u generation %u is not in "
						      "the stream",
						      rec, idx, ino, ino_gen);
		mode = fs->inodes[ino].mode;
		if (is_dir ? !S_ISDIR(mode) : !S_ISREG(mode))
			return vgw_state_section_fail(s, -EBADMSG,
						      "handle record %u (index "
						      "%u): a %s handle on inode %u of mode 0%o",
						      rec, idx, is_dir ? "directory" : "file", ino,
						      mode);
	}
	if ((flags & ~(uint32_t)FS_FLAGS_KNOWN) || (flags & O_ACCMODE) == O_ACCMODE ||
	    (is_dir ? flags != (O_RDONLY | O_DIRECTORY) : (flags & O_DIRECTORY) != 0))
		return vgw_state_section_fail(s, -EBADMSG,
					      "handle record %u (index %u): open "
					      "flags 0%o",
					      rec, idx, flags);

	if (ino != 0 && fs->ino_fd[ino] >= 0) {
		/* through our own O_PATH fd, as OPEN does */
		fs_pname(pname, fs->ino_fd[ino]);
		how.flags = (uint64_t)((flags & ~(uint32_t)FS_FLAGS_ONCE) | O_CLOEXEC);
		fd = syscall(SYS_openat2, fs->proc_fd, pname, &how, sizeof(how));
		err = fd < 0 ? -errno : 0;
		if (fd >= 0 && is_dir)
			fs_state_dir_prime((int)fd);
		if (fs_state_resource_err(err))
			return vgw_state_section_fail(s, err,
						      "handle record %u (index %u): "
						      "reopen: %s",
						      rec, idx, strerror(-err));
	}
	if (fd < 0)
		L->stale_handles++;
	if (idx > L->top_handle)
		L->top_handle = idx;
	hd = &fs->handles[idx];
	hd->gen = gen - 1;
	hd->next = 0;
	fs->hdr->handle_free = idx;
	got = fs_handle_alloc(fs, ino, (int)fd, (int)flags, is_dir);
	if (got != idx) {
		if (fd >= 0)
			close((int)fd);
		return vgw_state_section_fail(s, -EBADMSG,
					      "handle record %u (index %u): not "
					      "inserted",
					      rec, idx);
	}
	hd->inode_gen = ino_gen;
	L->n_handles++;
	return 0;
}

/* INODES or HANDLES: a count, then the records. */
static int
fs_state_records(struct fs_load *L, struct vgw_state_section *s, bool handles)
{
	uint32_t cnt, i;
	int rc;

	if (s->version < 1)
		return vgw_state_section_fail(s, -EBADMSG, "version %u", s->version);
	if (!L->session)
		return vgw_state_section_fail(s, -EBADMSG, "before the session section");
	if (!handles && L->handles)
		return vgw_state_section_fail(s, -EBADMSG, "inodes after handles");
	if (L->slots)
		return vgw_state_section_fail(s, -EBADMSG, "after the slots section");
	if (vgw_state_get_u32(s, &cnt))
		return s->err;
	for (i = 0; i < cnt; i++) {
		if (handles && L->n_handles >= L->want_handles)
			return vgw_state_section_fail(s, -EBADMSG,
						      "more than the %u handles "
						      "announced",
						      L->want_handles);
		if (!handles && L->n_inodes >= L->want_inodes)
			return vgw_state_section_fail(s, -EBADMSG,
						      "more than the %u inodes "
						      "announced",
						      L->want_inodes);
		rc = handles ? fs_state_handle(L, s, L->n_handles) :
			       fs_state_inode(L, s, L->n_inodes);
		if (rc < 0)
			return rc;
	}
	/* version 1 records have no room for more: trailing bytes are a
	 * count that lies */
	if (s->version == FS_STATE_VERSION && vgw_state_section_remaining(s) != 0)
		return vgw_state_section_fail(s, -EBADMSG, "%zu bytes after %u records",
					      vgw_state_section_remaining(s), cnt);
	if (handles)
		L->handles = true;
	return 0;
}

/* Generations of slots the stream does not use: the next entry there
 * gets the one after. */
static int
fs_state_slots(struct fs_load *L, struct vgw_state_section *s)
{
	struct vgw_fs *fs = L->fs;
	uint32_t cnt, i, idx, gen;
	int k;

	if (s->version < 1)
		return vgw_state_section_fail(s, -EBADMSG, "version %u", s->version);
	if (!L->session || L->slots)
		return vgw_state_section_fail(s, -EBADMSG, "%s",
					      L->slots ? "a second slots "
							 "section" :
							 "before the session section");
	L->slots = true;
	for (k = 0; k < 2; k++) {
		uint32_t lo = k ? 1 : FS_ROOT_IDX + 1;
		uint32_t max = k ? fs->hdr->max_handles : fs->hdr->max_inodes;

		if (vgw_state_get_u32(s, &cnt))
			return s->err;
		for (i = 0; i < cnt; i++) {
			if (vgw_state_get_u32(s, &idx) || vgw_state_get_u32(s, &gen))
				return s->err;
			if (idx < lo || idx >= max || gen == 0 ||
			    (k ? fs->handles[idx].state : fs->inodes[idx].state) != FS_ENT_FREE)
				return vgw_state_section_fail(s, -EBADMSG,
							      "free %s slot %u "
							      "(generation %u) out of range, "
							      "in use or never used",
							      k ? "handle" : "inode", idx, gen);
			if (k) {
				fs->handles[idx].gen = gen;
				if (idx > L->top_handle)
					L->top_handle = idx;
			} else {
				fs->inodes[idx].gen = gen;
				if (idx > L->top_inode)
					L->top_inode = idx;
			}
		}
	}
	return 0;
}

static void fs_state_why(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(__printf__, 3, 4)));

static void
fs_state_why(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

static int fs_state_load(struct vgw_fs *fs, struct vgw_state_reader *r, char *why, size_t why_len,
			 const struct fs_load_opts *opts);

int
vgw_fs_state_load(struct vgw_fs *fs, struct vgw_state_reader *r, char *why, size_t why_len)
{
	return fs_state_load(fs, r, why, why_len, NULL);
}

static int
fs_state_load(struct vgw_fs *fs, struct vgw_state_reader *r, char *why, size_t why_len,
	      const struct fs_load_opts *opts)
{
	struct vgw_state_section s;
	struct fs_load L;
	int rc;

	fs_state_why(why, why_len, "%s", "");
	if (fs == NULL || r == NULL) {
		fs_state_why(why, why_len, "no engine or no reader");
		return -EINVAL;
	}
	if (!fs_state_fresh(fs)) {
		fs_state_why(why, why_len,
			     "the engine is not fresh (initialized, or inodes, "
			     "handles or requests already there)");
		return -EBUSY;
	}
	memset(&L, 0, sizeof(L));
	L.fs = fs;
	L.start = *r;
	if (opts != NULL) {
		L.same_host = opts->same_host;
		L.vault = opts->vault;
		L.n_vault = opts->n_vault;
	}
	while ((rc = vgw_state_next_section(r, &s)) == 1) {
		switch (s.type) {
		case VGW_FS_SEC_SESSION:
			rc = fs_state_session(&L, &s);
			break;
		case VGW_FS_SEC_INODES:
			rc = fs_state_records(&L, &s, false);
			break;
		case VGW_FS_SEC_HANDLES:
			rc = fs_state_records(&L, &s, true);
			break;
		case VGW_FS_SEC_SLOTS:
			rc = fs_state_slots(&L, &s);
			break;
		default:
			/* another owner's, or a later version's optional one */
			rc = 0;
			if (s.type >= VGW_FS_SEC_FIRST && s.type <= VGW_FS_SEC_LAST &&
			    (s.flags & VGW_STATE_F_CRITICAL))
				rc = vgw_state_section_fail(&s, -EOPNOTSUPP,
							    "critical fs "
							    "section not understood");
			break;
		}
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		fs_state_why(why, why_len, "%s", vgw_state_reader_reason(r));
	} else if (!L.session) {
		rc = -EBADMSG;
		fs_state_why(why, why_len, "no fs session section");
	} else if (L.n_inodes != L.want_inodes || L.n_handles != L.want_handles) {
		rc = -EBADMSG;
		fs_state_why(why, why_len,
			     "%u inodes and %u handles announced, %u and %u "
			     "found",
			     L.want_inodes, L.want_handles, L.n_inodes, L.n_handles);
	}
	if (rc < 0) {
		fs_state_reset(fs, L.top_inode, L.top_handle);
		return rc;
	}
	fs_state_free_lists(fs, &L);
	if (L.init_done) {
		fs->hdr->init_done = 1;
		fs->hdr->proto_minor = L.proto_minor;
		fs->hdr->init_flags = L.init_flags;
		fs->hdr->max_write = L.max_write;
		fs->hdr->max_pages = L.max_pages;
	}
	fs->stats.state_stale_inodes = L.stale;
	fs->stats.state_stale_handles = L.stale_handles;
	fs->stats.state_changed_inodes = L.changed;
	memcpy(fs->stale_first, L.stale_first, sizeof(fs->stale_first));
	fs->stats.vault_taken = L.vaulted;
	return 0;
}

int
vgw_fs_state_load_buf(struct vgw_fs *fs, const void *buf, size_t len, char *why, size_t why_len)
{
	return fs_state_load_buf(fs, buf, len, why, why_len, NULL);
}

int
fs_state_load_buf(struct vgw_fs *fs, const void *buf, size_t len, char *why, size_t why_len,
		  const struct fs_load_opts *opts)
{
	static const uint16_t known[] = { VGW_FS_SEC_SESSION, VGW_FS_SEC_INODES, VGW_FS_SEC_HANDLES,
					  VGW_FS_SEC_SLOTS };
	const struct vgw_state_expect exp = {
		.dev_type = VGW_FS_STATE_DEV_TYPE,
		.known = known,
		.n_known = FS_ARRAY_LEN(known),
	};
	struct vgw_state_reader r;
	int rc;

	fs_state_why(why, why_len, "%s", "");
	if (fs == NULL) {
		fs_state_why(why, why_len, "no engine");
		return -EINVAL;
	}
	/* refuse a busy engine before looking at the bytes */
	if (!fs_state_fresh(fs)) {
		fs_state_why(why, why_len,
			     "the engine is not fresh (initialized, or inodes, "
			     "handles or requests already there)");
		return -EBUSY;
	}
	rc = vgw_state_reader_init(&r, buf, len, &exp);
	if (rc < 0) {
		fs_state_why(why, why_len, "%s", vgw_state_reader_reason(&r));
		return rc;
	}
	return fs_state_load(fs, &r, why, why_len, opts);
}
