/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs scenario basic: INIT, LOOKUP, OPEN, READ (compared), 64
 * requests in flight at once, CREATE + WRITE + RELEASE of a new file,
 * GETATTR, READDIR, FORGET on hiprio.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vufront_fs.h"

/* The names of one READDIR reply of len bytes: those the caller expects
 * are marked in seen[]; *off is the last d_off. False: a malformed record. */
static bool
fs_readdir_records(struct fs_front *f, const struct fs_slot *s, uint32_t len, bool *seen,
		   uint64_t *off, unsigned int *entries)
{
	uint32_t p = 0;

	while (p + FUSE_NAME_OFFSET <= len) {
		const struct fuse_dirent *d = (const void *)((const uint8_t *)fs_body(s) + p);
		char nm[256];

		if (d->namelen == 0 || d->namelen > 255 || p + FUSE_DIRENT_SIZE(d) > len)
			return fs_check(f, false, "readdir records well formed",
					"record at %u: namelen %u", p, d->namelen);
		memcpy(nm, d->name, d->namelen);
		nm[d->namelen] = '\0';
		for (unsigned int i = 0; i < f->o->n_expect; i++)
			if (strcmp(nm, f->o->expect[i]) == 0)
				seen[i] = true;
		(*entries)++;
		*off = d->off;
		p += FUSE_DIRENT_SIZE(d);
	}
	return true;
}

static bool
fs_readdir_names(struct fs_front *f, bool *seen)
{
	uint64_t fh, off = 0;
	bool ok = true, more = true;
	unsigned int rounds = 0, entries = 0;

	if (!fs_open(f, FUSE_OPENDIR, FUSE_ROOT_ID, O_RDONLY | O_DIRECTORY, "opendir root", &fh))
		return false;
	fs_check(f, true, "opendir root", NULL);
	while (more && rounds++ < 64) {
		/* a small buffer: several rounds, continuing from the last d_off */
		struct fuse_read_in in = { .fh = fh, .offset = off, .size = 256 };
		struct fs_req r = { .opcode = FUSE_READDIR,
				    .nodeid = FUSE_ROOT_ID,
				    .arg = &in,
				    .arg_len = sizeof(in),
				    .out_body = 256 };
		struct fs_slot *s = fs_call(f, FS_REQQ, &r, "readdir root", 0, 0);
		uint32_t len;

		if (s == NULL)
			return false;
		len = fs_oh(s)->len - FS_OUT_HDR;
		more = len != 0;
		if (!fs_readdir_records(f, s, len, seen, &off, &entries)) {
			ok = false;
			more = false;
		}
		fs_slot_put(s);
	}
	printf("info readdir: %u entries in %u rounds\n", entries, rounds);
	ok &= fs_release(f, FUSE_RELEASEDIR, FUSE_ROOT_ID, fh, "releasedir root");
	return ok;
}

/* LOOKUP of the file the caller created, and of one that is not there. */
static bool
fs_basic_lookup(struct fs_front *f, struct fuse_entry_out *e)
{
	if (!fs_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup read file", e, 0))
		return false;
	fs_check(f, true, "lookup read file", NULL);
	fs_check(f,
		 e->nodeid != 0 && e->nodeid != FUSE_ROOT_ID && S_ISREG(e->attr.mode) &&
			 e->attr.size == f->o->read_size,
		 "lookup read file attributes", "nodeid %" PRIu64 " mode 0%o size %" PRIu64,
		 e->nodeid, e->attr.mode, (uint64_t)e->attr.size);
	if (fs_lookup(f, FUSE_ROOT_ID, "no-such-file", "lookup missing file -> ENOENT", NULL,
		      -ENOENT))
		fs_check(f, true, "lookup missing file -> ENOENT", NULL);
	return true;
}

/* READ in 64 KiB pieces (header and data in separate buffers), then a READ
 * past the end: an empty reply. */
static void
fs_basic_read(struct fs_front *f, uint64_t nodeid, uint64_t fh)
{
	uint64_t size = f->o->read_size;
	struct fs_slot *s;
	char why[160];
	bool ok = true;

	for (uint64_t off = 0; off < size && ok; off += 65536) {
		uint32_t len = (uint32_t)(size - off < 65536 ? size - off : 65536);

		s = fs_post_read(f, nodeid, fh, off, 65536);
		if (s == NULL) {
			ok = false;
			break;
		}
		fs_wait(f, s, f->o->timeout_ms);
		ok = fs_reply_ok(f, "read file", s, 0, 0);
		if (ok && !fs_read_matches(f, s, off, len, why, sizeof(why)))
			ok = fs_check(f, false, "read file bytes", "offset %" PRIu64 ": %s", off,
				      why);
		if (s->done)
			fs_slot_put(s);
	}
	if (ok)
		fs_check(f, true, "read file bytes", NULL);
	s = fs_post_read(f, nodeid, fh, size + 100, 4096);
	if (s == NULL)
		return;
	fs_wait(f, s, f->o->timeout_ms);
	if (fs_reply_ok(f, "read past end -> 0 bytes", s, 0, 0))
		fs_check(f, fs_oh(s)->len == FS_OUT_HDR, "read past end -> 0 bytes", "%u bytes",
			 fs_oh(s)->len - FS_OUT_HDR);
	if (s->done)
		fs_slot_put(s);
}

/* One of the 64: a well-formed reply, a sane STATFS or the right bytes. */
static bool
fs_basic_many_reply_ok(struct fs_front *f, const struct fs_slot *s, uint64_t off, unsigned int i)
{
	const struct fuse_statfs_out *st = fs_body(s);
	char why[160];

	if (!fs_reply_ok(f, "64 requests in flight replies", s, 0, 0))
		return false;
	if (s->opcode == FUSE_STATFS) {
		if (fs_oh(s)->len != FS_OUT_HDR + sizeof(*st) || st->st.bsize == 0 ||
		    st->st.blocks == 0)
			return fs_check(f, false, "64 requests in flight: statfs",
					"len %u bsize %u blocks %" PRIu64, fs_oh(s)->len,
					st->st.bsize, (uint64_t)st->st.blocks);
		return true;
	}
	if (!fs_read_matches(f, s, off, FS_INFLIGHT_LEN, why, sizeof(why)))
		return fs_check(f, false, "64 requests in flight: read bytes", "request %u: %s", i,
				why);
	return true;
}

static void
fs_basic_reap_many(struct fs_front *f, struct fs_slot **rs, const uint64_t *roff)
{
	bool ok = true;
	unsigned int done = 0, order_changes = 0;
	double deadline = fs_now() + f->o->timeout_ms / 1000.0;

	while (fs_now() < deadline) {
		done = 0;
		for (unsigned int i = 0; i < FS_INFLIGHT; i++)
			done += rs[i]->done;
		if (done == FS_INFLIGHT)
			break;
		fs_reap(f, FS_REQQ, 100);
	}
	fs_check(f, done == FS_INFLIGHT, "64 requests in flight all completed", "%u of %u", done,
		 FS_INFLIGHT);
	for (unsigned int i = 0; i < FS_INFLIGHT; i++) {
		if (!rs[i]->done)
			continue;
		ok &= fs_basic_many_reply_ok(f, rs[i], roff[i], i);
		if (i > 0 && rs[i - 1]->done && rs[i]->seq < rs[i - 1]->seq)
			order_changes++;
	}
	if (ok && done == FS_INFLIGHT)
		fs_check(f, true, "64 requests in flight matched by unique, replies correct", NULL);
	printf("info 64 requests in flight: %u completed before the one posted before "
	       "them\n",
	       order_changes);
	for (unsigned int i = 0; i < FS_INFLIGHT; i++)
		if (rs[i]->done)
			fs_slot_put(rs[i]);
}

/* CREATE of the new file; *we its entry, *wfh its handle. */
static bool
fs_basic_create(struct fs_front *f, struct fuse_entry_out *we, uint64_t *wfh)
{
	struct fuse_create_in ci = { .flags = O_WRONLY | O_CREAT | O_TRUNC,
				     .mode = 0100644,
				     .umask = 022 };
	struct fs_req r = { .opcode = FUSE_CREATE,
			    .nodeid = FUSE_ROOT_ID,
			    .arg = &ci,
			    .arg_len = sizeof(ci),
			    .arg2 = f->o->write_file,
			    .arg2_len = (uint32_t)strlen(f->o->write_file) + 1,
			    .out_body =
				    sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out) };
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, "create new file", 0, r.out_body);

	if (s == NULL)
		return false;
	*we = *(const struct fuse_entry_out *)fs_body(s);
	*wfh = ((const struct fuse_open_out *)((const uint8_t *)fs_body(s) + sizeof(*we)))->fh;
	fs_slot_put(s);
	fs_check(f, we->nodeid != 0 && S_ISREG(we->attr.mode) && we->attr.size == 0,
		 "create new file", "nodeid %" PRIu64 " mode 0%o size %" PRIu64, we->nodeid,
		 we->attr.mode, (uint64_t)we->attr.size);
	return true;
}

/* One WRITE of chunk bytes at off, the data in up to 3 descriptors of
 * uneven sizes. */
static bool
fs_basic_write_chunk(struct fs_front *f, uint64_t nodeid, uint64_t wfh, uint64_t off,
		     uint32_t chunk)
{
	struct fuse_write_in wi;
	struct vufront_buf data[3];
	unsigned int nd = 0;
	uint32_t left = chunk, piece = chunk / 3 + 1;
	struct fs_req w = { .opcode = FUSE_WRITE,
			    .nodeid = nodeid,
			    .arg = &wi,
			    .arg_len = sizeof(wi),
			    .data = data,
			    .out_body = sizeof(struct fuse_write_out) };
	struct fs_slot *s;
	bool ok;

	memset(&wi, 0, sizeof(wi));
	wi.fh = wfh;
	wi.offset = off;
	wi.size = chunk;
	while (left != 0) {
		uint32_t n = left < piece || nd == 2 ? left : piece;

		data[nd++] = (struct vufront_buf){ .addr = f->data_gpa + off + (chunk - left),
						   .len = n };
		left -= n;
	}
	w.n_data = nd;
	s = fs_call(f, FS_REQQ, &w, "write new file", 0, sizeof(struct fuse_write_out));
	if (s == NULL)
		return false;
	ok = fs_check(f, ((const struct fuse_write_out *)fs_body(s))->size == chunk,
		      "write new file size", "wrote %u of %u",
		      ((const struct fuse_write_out *)fs_body(s))->size, chunk);
	fs_slot_put(s);
	return ok;
}

/* CREATE + WRITE (data in separate, split buffers) + RELEASE */
static bool
fs_basic_write(struct fs_front *f, struct fuse_entry_out *we)
{
	uint64_t wsize = f->o->write_size, off = 0, wfh;
	bool ok = true;

	if (!fs_basic_create(f, we, &wfh))
		return false;
	for (uint64_t i = 0; i < wsize && i < FS_DATA; i++)
		f->data[i] = fs_pattern(f->o->write_seed, i);
	while (off < wsize && ok) {
		uint32_t chunk = (uint32_t)(wsize - off);

		if (chunk > f->max_write)
			chunk = f->max_write;
		if (chunk > 200000)
			chunk = 200000;
		if (off + chunk > FS_DATA) {
			ok = fs_check(f, false, "write new file", "file too large for us");
			break;
		}
		ok = fs_basic_write_chunk(f, we->nodeid, wfh, off, chunk);
		off += chunk;
	}
	if (ok)
		fs_check(f, true, "write new file", NULL);
	if (fs_release(f, FUSE_RELEASE, we->nodeid, wfh, "release new file"))
		fs_check(f, true, "release new file", NULL);
	return true;
}

/* GETATTR of the root, of both files and of a node id never handed out. */
static void
fs_basic_getattrs(struct fs_front *f, uint64_t read_node, uint64_t new_node)
{
	struct fuse_attr a;

	if (fs_getattr(f, FUSE_ROOT_ID, "getattr root", &a))
		fs_check(f, S_ISDIR(a.mode) && a.ino != 0, "getattr root", "mode 0%o", a.mode);
	if (fs_getattr(f, read_node, "getattr read file", &a))
		fs_check(f, S_ISREG(a.mode) && a.size == f->o->read_size, "getattr read file",
			 "mode 0%o size %" PRIu64, a.mode, (uint64_t)a.size);
	if (fs_getattr(f, new_node, "getattr new file", &a))
		fs_check(f, S_ISREG(a.mode) && a.size == f->o->write_size, "getattr new file",
			 "mode 0%o size %" PRIu64, a.mode, (uint64_t)a.size);
	fs_getattr_error(f, 0x7777000000001234ULL, sizeof(struct fuse_attr_out),
			 "getattr bogus nodeid -> ENOENT", -ENOENT);
}

/* READDIR of the root lists the expected names */
static void
fs_basic_readdir(struct fs_front *f)
{
	bool seen[16] = { false };
	bool all = true;

	if (!fs_readdir_names(f, seen))
		return;
	for (unsigned int i = 0; i < f->o->n_expect; i++) {
		if (!seen[i]) {
			fs_check(f, false, "readdir root lists the expected names", "%s missing",
				 f->o->expect[i]);
			all = false;
		}
	}
	if (all)
		fs_check(f, true, "readdir root lists the expected names", NULL);
}

void
scenario_basic(struct fs_front *f)
{
	struct fuse_entry_out e, we;
	struct fs_slot *rs[FS_INFLIGHT];
	uint64_t roff[FS_INFLIGHT];
	uint64_t fh;

	if (!fs_init(f) || !fs_basic_lookup(f, &e))
		return;
	if (!fs_open(f, FUSE_OPEN, e.nodeid, O_RDONLY, "open read file", &fh))
		return;
	fs_check(f, true, "open read file", NULL);
	fs_basic_read(f, e.nodeid, fh);
	/* many requests in flight, matched by head id and unique */
	if (!fs_post_many(f, e.nodeid, fh, 0, rs, roff, "64 requests in flight"))
		return;
	fs_basic_reap_many(f, rs, roff);
	if (fs_release(f, FUSE_RELEASE, e.nodeid, fh, "release read file"))
		fs_check(f, true, "release read file", NULL);
	if (!fs_basic_write(f, &we))
		return;
	fs_basic_getattrs(f, e.nodeid, we.nodeid);
	fs_basic_readdir(f);
	/* FORGET on the hiprio queue: no reply, the used entry has length 0 */
	fs_forget_hiprio(f, we.nodeid);
	/* the node was looked up once (by CREATE): it is gone now */
	fs_getattr_error(f, we.nodeid, sizeof(struct fuse_attr_out),
			 "getattr of forgotten node -> ENOENT", -ENOENT);
	fs_root_alive(f, "basic");
}
