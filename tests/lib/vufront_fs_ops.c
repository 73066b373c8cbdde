/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs: FUSE operations on the request queue (and FORGET on hiprio),
 * each a request, its wait and the checks of its reply.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vufront_fs.h"

void
fs_init_in(struct fuse_init_in *in)
{
	memset(in, 0, sizeof(*in));
	in->major = FUSE_KERNEL_VERSION;
	in->minor = FUSE_KERNEL_MINOR_VERSION;
	in->max_readahead = 128 * 1024;
	in->flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS |
		    FUSE_INIT_EXT;
}

/* Check an INIT reply (well formed, checked by the caller); puts s. */
bool
fs_init_done(struct fs_front *f, struct fs_slot *s)
{
	const struct fuse_init_out *out = fs_body(s);
	struct fuse_init_in in;
	bool ok;

	fs_init_in(&in);
	fs_check(f, true, "init reply", NULL);
	ok = fs_check(f, out->major == FUSE_KERNEL_VERSION && out->minor >= 12, "init version",
		      "%u.%u", out->major, out->minor);
	ok &= fs_check(f,
		       out->max_write >= 4096 && out->max_write <= (16u << 20) &&
			       out->max_write % 4096 == 0,
		       "init max_write sane", "max_write %u", out->max_write);
	ok &= fs_check(f, (out->flags & ~in.flags) == 0, "init flags subset of ours", "0x%x",
		       out->flags);
	f->max_write = out->max_write;
	f->max_pages = (out->flags & FUSE_MAX_PAGES) ? out->max_pages : 0;
	printf("info init: %u.%u max_write=%u max_pages=%u flags=0x%x\n", out->major, out->minor,
	       out->max_write, out->max_pages, out->flags);
	fs_slot_put(s);
	return ok;
}

bool
fs_init(struct fs_front *f)
{
	struct fuse_init_in in;
	struct fs_req r = { .opcode = FUSE_INIT,
			    .nodeid = 0,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .out_body = sizeof(struct fuse_init_out) };
	struct fs_slot *s;

	fs_init_in(&in);
	/* the device may become ready a moment after our last message */
	s = fs_call(f, FS_REQQ, &r, "init reply", 0, sizeof(struct fuse_init_out));
	if (s == NULL)
		return false;
	return fs_init_done(f, s);
}

bool
fs_getattr(struct fs_front *f, uint64_t nodeid, const char *name, struct fuse_attr *attr)
{
	struct fuse_getattr_in in;
	struct fs_req r = { .opcode = FUSE_GETATTR,
			    .nodeid = nodeid,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .out_body = sizeof(struct fuse_attr_out) };
	struct fs_slot *s;

	memset(&in, 0, sizeof(in));
	s = fs_call(f, FS_REQQ, &r, name, 0, sizeof(struct fuse_attr_out));
	if (s == NULL)
		return false;
	if (attr != NULL)
		*attr = ((const struct fuse_attr_out *)fs_body(s))->attr;
	fs_slot_put(s);
	return true;
}

/* GETATTR of the root: a directory. Silent unless it fails. */
bool
fs_root_alive(struct fs_front *f, const char *after)
{
	char name[128];
	struct fuse_attr a;

	snprintf(name, sizeof(name), "getattr root after %s", after);
	if (!fs_getattr(f, FUSE_ROOT_ID, name, &a))
		return false;
	return fs_check(f, S_ISDIR(a.mode), name, "mode 0%o", a.mode);
}

bool
fs_lookup(struct fs_front *f, uint64_t parent, const char *fname, const char *name,
	  struct fuse_entry_out *e, int want_err)
{
	struct fs_req r = { .opcode = FUSE_LOOKUP,
			    .nodeid = parent,
			    .arg = fname,
			    .arg_len = (uint32_t)strlen(fname) + 1,
			    .out_body = sizeof(struct fuse_entry_out) };
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, name, want_err,
				    want_err ? 0 : sizeof(struct fuse_entry_out));

	if (s == NULL)
		return false;
	if (e != NULL && want_err == 0)
		*e = *(const struct fuse_entry_out *)fs_body(s);
	fs_slot_put(s);
	return true;
}

bool
fs_open(struct fs_front *f, uint32_t opcode, uint64_t nodeid, uint32_t flags, const char *name,
	uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags };
	struct fs_req r = { .opcode = opcode,
			    .nodeid = nodeid,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .out_body = sizeof(struct fuse_open_out) };
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, name, 0, sizeof(struct fuse_open_out));

	if (s == NULL)
		return false;
	*fh = ((const struct fuse_open_out *)fs_body(s))->fh;
	fs_slot_put(s);
	return true;
}

bool
fs_release(struct fs_front *f, uint32_t opcode, uint64_t nodeid, uint64_t fh, const char *name)
{
	struct fuse_release_in in = { .fh = fh };
	struct fs_req r = {
		.opcode = opcode, .nodeid = nodeid, .arg = &in, .arg_len = sizeof(in), .out_body = 0
	};
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, name, 0, 0);

	if (s == NULL)
		return false;
	fs_slot_put(s);
	return true;
}

struct fs_slot *
fs_post_read(struct fs_front *f, uint64_t nodeid, uint64_t fh, uint64_t off, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	struct fs_req r = { .opcode = FUSE_READ,
			    .nodeid = nodeid,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .out_body = size };

	return fs_post(f, FS_REQQ, &r);
}

/* Post a GETATTR of nodeid on the request queue (NULL: no slot). */
struct fs_slot *
fs_post_getattr(struct fs_front *f, uint64_t nodeid)
{
	struct fuse_getattr_in gi;
	struct fs_req r = { .opcode = FUSE_GETATTR,
			    .nodeid = nodeid,
			    .arg = &gi,
			    .arg_len = sizeof(gi),
			    .out_body = sizeof(struct fuse_attr_out) };

	memset(&gi, 0, sizeof(gi));
	return fs_post(f, FS_REQQ, &r);
}

/* The body of a READ reply is bytes [off, off + len) of the read file. */
bool
fs_read_matches(struct fs_front *f, const struct fs_slot *s, uint64_t off, uint32_t len, char *why,
		size_t whylen)
{
	const uint8_t *b = fs_body(s);
	uint32_t got = fs_oh(s)->len - FS_OUT_HDR;

	if (got != len) {
		snprintf(why, whylen, "%u bytes, expected %u", got, len);
		return false;
	}
	for (uint32_t i = 0; i < len; i++) {
		if (b[i] != fs_pattern(f->o->read_seed, off + i)) {
			snprintf(why, whylen, "byte %" PRIu64 " is 0x%02x, expected 0x%02x",
				 off + i, b[i], fs_pattern(f->o->read_seed, off + i));
			return false;
		}
	}
	return true;
}

/* Post a STATFS on the request queue (NULL: no slot): a helper thread
 * serves it, slower than a READ. */
struct fs_slot *
fs_post_statfs(struct fs_front *f)
{
	struct fs_req r = { .opcode = FUSE_STATFS,
			    .nodeid = FUSE_ROOT_ID,
			    .out_body = sizeof(struct fuse_statfs_out) };

	return fs_post(f, FS_REQQ, &r);
}

/* FS_INFLIGHT requests posted before any is reaped: READs of
 * FS_INFLIGHT_LEN bytes at roff[i] (spread over the read file by salt), and
 * every 16th a STATFS, so that replies come back out of order. A request
 * that cannot be posted is one failed check named name. */
bool
fs_post_many(struct fs_front *f, uint64_t nodeid, uint64_t fh, uint64_t salt, struct fs_slot **rs,
	     uint64_t *roff, const char *name)
{
	for (unsigned int i = 0; i < FS_INFLIGHT; i++) {
		roff[i] = ((uint64_t)i * 7919 * 13 + salt) % (f->o->read_size - FS_INFLIGHT_LEN);
		if (i % 16 == 0)
			rs[i] = fs_post_statfs(f);
		else
			rs[i] = fs_post_read(f, nodeid, fh, roff[i], FS_INFLIGHT_LEN);
		if (rs[i] == NULL) {
			fs_check(f, false, name, "could not post %u", i);
			return false;
		}
	}
	return true;
}

/* A GETATTR of nodeid offering out_body bytes for the reply must fail with
 * want_err: one check named name. */
void
fs_getattr_error(struct fs_front *f, uint64_t nodeid, uint32_t out_body, const char *name,
		 int want_err)
{
	struct fuse_getattr_in gi;
	struct fs_req r = { .opcode = FUSE_GETATTR,
			    .nodeid = nodeid,
			    .arg = &gi,
			    .arg_len = sizeof(gi),
			    .out_body = out_body };
	struct fs_slot *s;

	memset(&gi, 0, sizeof(gi));
	s = fs_call(f, FS_REQQ, &r, name, want_err, 0);
	if (s != NULL) {
		fs_check(f, true, name, NULL);
		fs_slot_put(s);
	}
}

/* LOOKUP and OPEN (read-only) of the read file: silent unless they fail. */
bool
fs_open_read_file(struct fs_front *f, struct fuse_entry_out *e, uint64_t *fh)
{
	return fs_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup read file", e, 0) &&
	       fs_open(f, FUSE_OPEN, e->nodeid, O_RDONLY, "open read file", fh);
}

/* Post a FORGET (nlookup 1) of nodeid on the hiprio queue (NULL: no
 * slot): no reply, the used entry comes back with length 0. */
struct fs_slot *
fs_post_forget(struct fs_front *f, uint64_t nodeid)
{
	struct fuse_forget_in fi = { .nlookup = 1 };
	struct fs_req r = { .opcode = FUSE_FORGET,
			    .nodeid = nodeid,
			    .arg = &fi,
			    .arg_len = sizeof(fi),
			    .out_body = FS_NO_REPLY };

	return fs_post(f, FS_HIPRIO, &r);
}

/* FORGET of nodeid on the hiprio queue, waited for: its used entry of
 * length 0. */
void
fs_forget_hiprio(struct fs_front *f, uint64_t nodeid)
{
	struct fs_slot *s = fs_post_forget(f, nodeid);

	if (s == NULL)
		return;
	fs_wait(f, s, f->o->timeout_ms);
	fs_check(f, s->done && s->used_len == 0, "forget on hiprio: used, length 0",
		 "done %d used length %u", s->done, s->used_len);
	if (s->done)
		fs_slot_put(s);
}

/* Wait for the n GETATTRs in s[] (a NULL one could not be posted): each
 * reply well formed, then one check named what if all were. */
void
fs_getattrs_done(struct fs_front *f, struct fs_slot **s, unsigned int n, const char *what)
{
	bool ok = true;

	for (unsigned int i = 0; i < n; i++) {
		if (s[i] == NULL) {
			ok = false;
			continue;
		}
		fs_wait(f, s[i], f->o->timeout_ms);
		ok &= fs_reply_ok(f, what, s[i], 0, sizeof(struct fuse_attr_out));
		if (s[i]->done)
			fs_slot_put(s[i]);
	}
	if (ok)
		fs_check(f, true, what, NULL);
}

/* n GETATTRs of the root in flight at once, each checked. */
void
fs_getattr_burst(struct fs_front *f, unsigned int n, const char *what)
{
	struct fs_slot *s[64];

	n = n > 64 ? 64 : n;
	for (unsigned int i = 0; i < n; i++)
		s[i] = fs_post_getattr(f, FUSE_ROOT_ID);
	fs_getattrs_done(f, s, n, what);
}
