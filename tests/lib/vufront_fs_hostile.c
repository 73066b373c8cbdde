/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vhostgw authors
 */

/*
 * vufront-fs scenario hostile: a guest that lies in FUSE requests, after
 * INIT. The caller's share holds read.bin, other.txt, subdir/ and three
 * symlinks it planted that point outside the share (escape ->
 * ../secret.txt, escape_abs -> the absolute path of secret.txt, escape_dir
 * -> ..); secret.txt beside the share holds HX_SECRET. No reply may carry
 * it.
 *
 *   names     bad names ('/', "..", ".", empty, 256, 4,100 and 7,000
 *             bytes, no NUL at the end of the request, bytes after the
 *             NUL) in every name of LOOKUP, CREATE, MKDIR, MKNOD, UNLINK,
 *             RMDIR, RENAME and RENAME2 (both names), SYMLINK (name and
 *             target), LINK, and the xattr names of GETXATTR, SETXATTR and
 *             REMOVEXATTR: each an error reply with the errno of
 *             doc/architecture.rst; the caller checks that nothing
 *             appeared, changed or went away inside or outside the share.
 *             GETXATTR and LISTXATTR of a value with no room for it:
 *             ERANGE.
 *   symlinks  the planted ones and one the guest makes (SYMLINK gesc ->
 *             ../secret.txt): LOOKUP gives a symlink, READLINK its target,
 *             OPEN is refused (EPERM), OPENDIR ENOTDIR, truncation EINVAL,
 *             CREATE over it ELOOP, a LOOKUP through it ENOTDIR; SETATTR of
 *             its mode EOPNOTSUPP (or the link's own, as the kernel says)
 *             and of its times the link's own; READDIRPLUS gives them as
 *             symlinks with their own attributes.
 *   nodes     node ids never given (random, 0, 2, 1 with a generation) and
 *             one FORGOTten, in every opcode that takes one: ENOENT.
 *   handles   handles never given (random, 0) and one released, in every
 *             opcode that takes one (a file's as a directory's, too):
 *             EBADF (the lock opcodes: ENOSYS, no locks offered).
 *   forgets   FORGET and BATCH_FORGET of unknown ids, of the root, with
 *             nlookup beyond what is held, a BATCH_FORGET whose count
 *             lies, one shorter than its header: used with length 0, the
 *             root and the device still there.
 *   flood     the request ring filled, again and again, with requests that
 *             have no room for their reply (no writable buffer, 8 bytes:
 *             used with length 0; the header alone: EINVAL); then valid
 *             requests.
 *
 * A GETATTR of the root after every case. Every lookup is forgotten and
 * every handle released at the end: the caller compares the gateway's
 * inode and handle counts (SYNC counts, at the start, and SYNC done) and
 * its fds. "info hostile-errors N": the error replies this run asked for.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include "vufront_fs.h"

#define HX_SECRET "vufront-fs: outside the share, never to be read"
#define HX_BUF 8192u
#define HX_FLOOD_ROUNDS 12u

static uint8_t hx_buf[HX_BUF];
static unsigned int hx_errors; /* error replies asked for */

/* No reply of ours may carry the secret. */
static bool
hx_clean(struct fs_front *f, const struct fs_slot *s, const char *name)
{
	uint32_t n = s->used_len < FS_SLOT_OUT ? s->used_len : FS_SLOT_OUT;

	if (memmem(s->out, n, HX_SECRET, sizeof(HX_SECRET) - 1) == NULL)
		return true;
	return fs_check(f, false, name, "the reply carries the outside file's content");
}

/* A request of arg (len bytes) on node, with out_body bytes for the reply:
 * the reply must be want_err (0: success with at least min_body). The slot
 * when it succeeded (the caller puts it), else NULL. */
static struct fs_slot *
hx_req(struct fs_front *f, uint32_t opcode, uint64_t node, const void *arg, uint32_t len,
       uint32_t out_body, int want_err, const char *name)
{
	struct fs_req r = {
		.opcode = opcode, .nodeid = node, .arg = arg, .arg_len = len, .out_body = out_body
	};
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, name, want_err, 0);

	if (s == NULL)
		return NULL;
	if (want_err != 0)
		hx_errors++;
	if (!hx_clean(f, s, name)) {
		fs_slot_put(s);
		return NULL;
	}
	if (want_err != 0) {
		fs_check(f, true, name, NULL);
		fs_slot_put(s);
		return NULL;
	}
	return s;
}

/* The reply want_err (an error, or 0: success), then a GETATTR of the
 * root. */
static void
hx_err(struct fs_front *f, uint32_t opcode, uint64_t node, const void *arg, uint32_t len,
       uint32_t out_body, int want_err, const char *name)
{
	struct fs_slot *s = hx_req(f, opcode, node, arg, len, out_body, want_err, name);

	if (s != NULL) {
		fs_check(f, true, name, NULL);
		fs_slot_put(s);
	}
	fs_root_alive(f, name);
}

/* A request without a reply (FORGET, BATCH_FORGET) on ring vq: used with
 * length 0, then a GETATTR of the root. */
static void
hx_noreply(struct fs_front *f, unsigned int vq, uint32_t opcode, uint64_t node, const void *arg,
	   uint32_t len, const char *name)
{
	struct fs_req r = { .opcode = opcode,
			    .nodeid = node,
			    .arg = arg,
			    .arg_len = len,
			    .out_body = FS_NO_REPLY };
	struct fs_slot *s = fs_post(f, vq, &r);

	if (s == NULL) {
		fs_check(f, false, name, "could not post");
		return;
	}
	fs_wait(f, s, f->o->timeout_ms);
	fs_check(f, s->done && s->used_len == 0, name, "done %d used length %u", s->done,
		 s->used_len);
	if (s->done)
		fs_slot_put(s);
	fs_root_alive(f, name);
}

static void
hx_forget(struct fs_front *f, uint64_t node, uint64_t nlookup, const char *name)
{
	struct fuse_forget_in in = { .nlookup = nlookup };

	hx_noreply(f, FS_HIPRIO, FUSE_FORGET, node, &in, sizeof(in), name);
}

/* LOOKUP name in parent: its entry (node id 0 on failure). */
static struct fuse_entry_out
hx_lookup(struct fs_front *f, uint64_t parent, const char *fname, const char *name)
{
	struct fuse_entry_out e;

	memset(&e, 0, sizeof(e));
	if (!fs_lookup(f, parent, fname, name, &e, 0))
		e.nodeid = 0;
	return e;
}

static void
hx_batch(struct fs_front *f, uint32_t count, const struct fuse_forget_one *one, unsigned int n,
	 unsigned int vq, const char *name)
{
	struct fuse_batch_forget_in in = { .count = count };

	memcpy(hx_buf, &in, sizeof(in));
	memcpy(hx_buf + sizeof(in), one, n * sizeof(*one));
	hx_noreply(f, vq, FUSE_BATCH_FORGET, 0, hx_buf, (uint32_t)(sizeof(in) + n * sizeof(*one)),
		   name);
}

/* ---- names ---- */

enum hx_kind {
	HX_SLASH,
	HX_DOTDOT_PATH,
	HX_DOT,
	HX_DOTDOT,
	HX_EMPTY,
	HX_256,
	HX_4100,
	HX_7000,
	HX_NO_NUL,   /* only as the last thing in the request */
	HX_AFTER_NUL /* only as the last name in the request */
};

static const char *const hx_kind_name[] = {
	"'a/b'",
	"'../secret.txt'",
	"'.'",
	"'..'",
	"empty",
	"256 bytes",
	"4,100 bytes",
	"7,000 bytes",
	"no NUL at the end",
	"bytes after the NUL",
};

#define HX_NKIND (HX_AFTER_NUL + 1)

/* The bytes of a bad name of kind k at p; their count. */
static uint32_t
hx_name(enum hx_kind k, uint8_t *p)
{
	static const char *const fixed[] = { "a/b", "../secret.txt", ".", "..", "" };
	uint32_t n;

	switch (k) {
	case HX_256:
	case HX_4100:
	case HX_7000:
		n = k == HX_256 ? 256 : k == HX_4100 ? 4100 : 7000;
		memset(p, 'n', n);
		p[n] = '\0';
		return n + 1;
	case HX_NO_NUL:
		memcpy(p, "other.txt", 9);
		return 9;
	case HX_AFTER_NUL:
		/* a name the share has, then more bytes up to the end */
		memcpy(p, "other.txt\0../secret.txt", 24);
		p[24] = '\0';
		return 25;
	default:
		n = (uint32_t)strlen(fixed[k]);
		memcpy(p, fixed[k], n + 1);
		return n + 1;
	}
}

/* What the gateway answers a bad name of kind k with (doc/architecture.rst). */
static int
hx_name_err(enum hx_kind k)
{
	return k == HX_256 || k == HX_4100 || k == HX_7000 ? -ENAMETOOLONG : -EINVAL;
}

struct hx_nameop {
	const char *what;
	uint32_t opcode;
	uint32_t fixed; /* bytes of fixed arguments before the names */
	int pos;	/* 0: the only/last name; 1: the first of two */
	uint32_t out;	/* reply body offered */
};

static void
hx_nameop_fixed(const struct hx_nameop *op, uint8_t *p, uint64_t link_node)
{
	memset(p, 0, op->fixed);
	switch (op->opcode) {
	case FUSE_CREATE:
		((struct fuse_create_in *)p)->flags = O_WRONLY | O_CREAT | O_TRUNC;
		((struct fuse_create_in *)p)->mode = S_IFREG | 0644;
		break;
	case FUSE_MKDIR:
		((struct fuse_mkdir_in *)p)->mode = 0755;
		break;
	case FUSE_MKNOD:
		((struct fuse_mknod_in *)p)->mode = S_IFREG | 0644;
		break;
	case FUSE_RENAME:
		((struct fuse_rename_in *)p)->newdir = FUSE_ROOT_ID;
		break;
	case FUSE_RENAME2:
		((struct fuse_rename2_in *)p)->newdir = FUSE_ROOT_ID;
		break;
	case FUSE_LINK:
		((struct fuse_link_in *)p)->oldnodeid = link_node;
		break;
	default:
		break;
	}
}

/* The request: fixed args; for a second-name op either the bad name then
 * a good one (pos 1) or a good one then the bad one (pos 0); the length. */
static uint32_t
hx_name_request(const struct hx_nameop *op, enum hx_kind k, uint64_t link_node)
{
	uint32_t len = op->fixed;
	const char *good = op->opcode == FUSE_SYMLINK ? "gx" : "other.txt";
	const char *second = op->opcode == FUSE_SYMLINK ? "other.txt" : "moved";

	hx_nameop_fixed(op, hx_buf, link_node);
	if (op->pos == 1) {
		len += hx_name(k, hx_buf + len);
		memcpy(hx_buf + len, second, strlen(second) + 1);
		return len + (uint32_t)strlen(second) + 1;
	}
	if (op->opcode == FUSE_RENAME || op->opcode == FUSE_RENAME2 || op->opcode == FUSE_SYMLINK) {
		memcpy(hx_buf + len, good, strlen(good) + 1);
		len += (uint32_t)strlen(good) + 1;
	}
	return len + hx_name(k, hx_buf + len);
}

static const struct hx_nameop hx_nameops[] = {
	{ "lookup", FUSE_LOOKUP, 0, 0, sizeof(struct fuse_entry_out) },
	{ "create", FUSE_CREATE, sizeof(struct fuse_create_in), 0,
	  sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out) },
	{ "mkdir", FUSE_MKDIR, sizeof(struct fuse_mkdir_in), 0, sizeof(struct fuse_entry_out) },
	{ "mknod", FUSE_MKNOD, sizeof(struct fuse_mknod_in), 0, sizeof(struct fuse_entry_out) },
	{ "unlink", FUSE_UNLINK, 0, 0, 0 },
	{ "rmdir", FUSE_RMDIR, 0, 0, 0 },
	{ "rename (new name)", FUSE_RENAME, sizeof(struct fuse_rename_in), 0, 0 },
	{ "rename (old name)", FUSE_RENAME, sizeof(struct fuse_rename_in), 1, 0 },
	{ "rename2 (new name)", FUSE_RENAME2, sizeof(struct fuse_rename2_in), 0, 0 },
	{ "rename2 (old name)", FUSE_RENAME2, sizeof(struct fuse_rename2_in), 1, 0 },
	{ "link", FUSE_LINK, sizeof(struct fuse_link_in), 0, sizeof(struct fuse_entry_out) },
	{ "symlink (name)", FUSE_SYMLINK, 0, 1, sizeof(struct fuse_entry_out) },
};

/* The bad target kinds of a SYMLINK: where a name's rules are not a
 * target's ('/', "." and ".." are fine in a target), skip. */
static bool
hx_target_kind(enum hx_kind k, int *err)
{
	switch (k) {
	case HX_EMPTY:
	case HX_NO_NUL:
	case HX_AFTER_NUL:
		*err = -EINVAL;
		return true;
	case HX_4100:
	case HX_7000:
		*err = -ENAMETOOLONG;
		return true;
	default:
		return false;
	}
}

static void
hx_names(struct fs_front *f, uint64_t read_node)
{
	const unsigned int nops = sizeof(hx_nameops) / sizeof(hx_nameops[0]);
	char what[160];
	struct fs_slot *s;
	uint32_t len;
	int err;

	for (unsigned int i = 0; i < nops; i++) {
		const struct hx_nameop *op = &hx_nameops[i];

		for (int k = 0; k < HX_NKIND; k++) {
			/* the end of the request is the end of the first name
			 * only when it is the last */
			if (op->pos == 1 && (k == HX_NO_NUL || k == HX_AFTER_NUL))
				continue;
			len = hx_name_request(op, (enum hx_kind)k, read_node);
			snprintf(what, sizeof(what), "%s %s", op->what, hx_kind_name[k]);
			if (op->opcode == FUSE_LOOKUP && (k == HX_DOT || k == HX_DOTDOT)) {
				/* "." is the directory, ".." of the root the root */
				s = hx_req(f, op->opcode, FUSE_ROOT_ID, hx_buf, len, op->out, 0,
					   what);
				if (s != NULL) {
					const struct fuse_entry_out *e = fs_body(s);

					fs_check(f, e->nodeid == FUSE_ROOT_ID, what,
						 "node %" PRIu64, e->nodeid);
					fs_slot_put(s);
				}
				continue;
			}
			hx_err(f, op->opcode, FUSE_ROOT_ID, hx_buf, len, op->out,
			       hx_name_err((enum hx_kind)k), what);
		}
	}
	/* SYMLINK targets (the name a good one) */
	for (int k = 0; k < HX_NKIND; k++) {
		const struct hx_nameop op = { "symlink (target)", FUSE_SYMLINK, 0, 0, 0 };

		if (!hx_target_kind((enum hx_kind)k, &err))
			continue;
		len = hx_name_request(&op, (enum hx_kind)k, 0);
		snprintf(what, sizeof(what), "symlink target %s", hx_kind_name[k]);
		hx_err(f, FUSE_SYMLINK, FUSE_ROOT_ID, hx_buf, len, sizeof(struct fuse_entry_out),
		       err, what);
	}
	/* 255 bytes is a name: not there */
	len = hx_name(HX_256, hx_buf);
	hx_buf[255] = '\0';
	hx_err(f, FUSE_LOOKUP, FUSE_ROOT_ID, hx_buf, 256, sizeof(struct fuse_entry_out), -ENOENT,
	       "lookup 255 bytes -> ENOENT");
	hx_err(f, FUSE_UNLINK, FUSE_ROOT_ID, hx_buf, 256, 0, -ENOENT, "unlink 255 bytes -> ENOENT");
}

/* ".." below the root: refused, not the parent (no FUSE_EXPORT_SUPPORT) */
static void
hx_dotdot_below(struct fs_front *f)
{
	struct fuse_entry_out sub = hx_lookup(f, FUSE_ROOT_ID, "subdir", "lookup subdir");

	if (sub.nodeid == 0)
		return;
	hx_err(f, FUSE_LOOKUP, sub.nodeid, "..", 3, sizeof(struct fuse_entry_out), -EINVAL,
	       "lookup '..' in subdir -> EINVAL");
	hx_err(f, FUSE_LOOKUP, sub.nodeid, "../secret.txt", 14, sizeof(struct fuse_entry_out),
	       -EINVAL, "lookup '../secret.txt' in subdir -> EINVAL");
	hx_forget(f, sub.nodeid, 1, "forget subdir");
}

/* ---- xattr names ---- */

static void
hx_xattr_names(struct fs_front *f)
{
	struct fuse_getxattr_in gi = { .size = 64 };
	struct fuse_setxattr_in si = { .size = 4 };
	uint32_t len;

	/* GETXATTR, REMOVEXATTR: empty EINVAL, over XATTR_NAME_MAX or no NUL
	 * ERANGE (as getxattr(2)), bytes after the NUL EINVAL */
	static const struct {
		enum hx_kind k;
		int err;
	} xk[] = { { HX_EMPTY, -EINVAL }, { HX_256, -ERANGE },	  { HX_4100, -ERANGE },
		   { HX_7000, -ERANGE },  { HX_NO_NUL, -ERANGE }, { HX_AFTER_NUL, -EINVAL } };
	char what[128];

	for (unsigned int i = 0; i < sizeof(xk) / sizeof(xk[0]); i++) {
		memcpy(hx_buf, &gi, sizeof(gi));
		len = sizeof(gi) + hx_name(xk[i].k, hx_buf + sizeof(gi));
		snprintf(what, sizeof(what), "getxattr %s", hx_kind_name[xk[i].k]);
		hx_err(f, FUSE_GETXATTR, FUSE_ROOT_ID, hx_buf, len, 64, xk[i].err, what);
		len = hx_name(xk[i].k, hx_buf);
		snprintf(what, sizeof(what), "removexattr %s", hx_kind_name[xk[i].k]);
		hx_err(f, FUSE_REMOVEXATTR, FUSE_ROOT_ID, hx_buf, len, 0, xk[i].err, what);
	}
	/* SETXATTR: the compat fuse_setxattr_in (8 bytes), name, value */
	memcpy(hx_buf, &si, 8);
	memcpy(hx_buf + 8, "\0abcd", 5);
	hx_err(f, FUSE_SETXATTR, FUSE_ROOT_ID, hx_buf, 13, 0, -EINVAL, "setxattr empty name");
	memcpy(hx_buf, &si, 8);
	len = 8 + hx_name(HX_256, hx_buf + 8);
	memcpy(hx_buf + len, "abcd", 4);
	hx_err(f, FUSE_SETXATTR, FUSE_ROOT_ID, hx_buf, len + 4, 0, -ERANGE,
	       "setxattr 256 byte name");
	/* a value shorter than its size */
	si.size = 100;
	memcpy(hx_buf, &si, 8);
	memcpy(hx_buf + 8, "user.hx\0abcd", 12);
	hx_err(f, FUSE_SETXATTR, FUSE_ROOT_ID, hx_buf, 20, 0, -EINVAL,
	       "setxattr value shorter than its size");
	/* bytes after the value */
	si.size = 4;
	memcpy(hx_buf, &si, 8);
	memcpy(hx_buf + 8, "user.hx\0abcdjunk", 16);
	hx_err(f, FUSE_SETXATTR, FUSE_ROOT_ID, hx_buf, 24, 0, -EINVAL,
	       "setxattr bytes after the value");
	/* only user. may be set */
	memcpy(hx_buf, &si, 8);
	memcpy(hx_buf + 8, "trusted.hx\0abcd", 15);
	hx_err(f, FUSE_SETXATTR, FUSE_ROOT_ID, hx_buf, 23, 0, -EPERM, "setxattr trusted.hx");
}

/* GETXATTR and LISTXATTR asking for the value (size > 0) with room for the
 * reply header alone: ERANGE, as getxattr(2) with a buffer too small, not
 * an empty value; with room, the value. On a file of our own, removed. */
static void
hx_xattr_room(struct fs_front *f)
{
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0644 };
	struct fuse_setxattr_in si = { .size = 4 };
	struct fuse_getxattr_in gi = { .size = 64 };
	uint64_t node, fh;
	struct fs_slot *s;

	memcpy(hx_buf, &ci, sizeof(ci));
	memcpy(hx_buf + sizeof(ci), "hx.tmp", 7);
	s = hx_req(f, FUSE_CREATE, FUSE_ROOT_ID, hx_buf, sizeof(ci) + 7,
		   sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), 0,
		   "create hx.tmp");
	if (s == NULL)
		return;
	node = ((const struct fuse_entry_out *)fs_body(s))->nodeid;
	fh = ((const struct fuse_open_out *)((const uint8_t *)fs_body(s) +
					     sizeof(struct fuse_entry_out)))
		     ->fh;
	fs_slot_put(s);
	memcpy(hx_buf, &si, 8);
	memcpy(hx_buf + 8, "user.hx\0abcd", 12);
	hx_err(f, FUSE_SETXATTR, node, hx_buf, 20, 0, 0, "setxattr user.hx of hx.tmp");
	memcpy(hx_buf, &gi, sizeof(gi));
	memcpy(hx_buf + sizeof(gi), "user.hx", 8);
	hx_err(f, FUSE_GETXATTR, node, hx_buf, sizeof(gi) + 8, 0, -ERANGE,
	       "getxattr size 64 with room for the header alone -> ERANGE");
	hx_err(f, FUSE_LISTXATTR, node, &gi, sizeof(gi), 0, -ERANGE,
	       "listxattr size 64 with room for the header alone -> ERANGE");
	s = hx_req(f, FUSE_GETXATTR, node, hx_buf, sizeof(gi) + 8, 64, 0, "getxattr user.hx");
	if (s != NULL) {
		fs_check(f, fs_oh(s)->len == FS_OUT_HDR + 4 && memcmp(fs_body(s), "abcd", 4) == 0,
			 "getxattr user.hx: its value", "reply of %u bytes", fs_oh(s)->len);
		fs_slot_put(s);
	}
	fs_release(f, FUSE_RELEASE, node, fh, "release hx.tmp");
	hx_forget(f, node, 1, "forget hx.tmp");
	hx_err(f, FUSE_UNLINK, FUSE_ROOT_ID, "hx.tmp", 7, 0, 0, "unlink hx.tmp");
}

/* ---- symlinks that lead outside ---- */

static void
hx_readlink(struct fs_front *f, uint64_t node, const char *want, const char *name)
{
	struct fs_slot *s = hx_req(f, FUSE_READLINK, node, NULL, 0, 4096, 0, name);

	if (s == NULL)
		return;
	fs_check(f,
		 fs_oh(s)->len - FS_OUT_HDR == strlen(want) &&
			 memcmp(fs_body(s), want, strlen(want)) == 0,
		 name, "target of %u bytes, expected '%s'", fs_oh(s)->len - FS_OUT_HDR, want);
	fs_slot_put(s);
}

/* SETATTR of a symlink's mode (the kernel refuses it, or changes the
 * link's own) and times (the link's own): the caller checks that the file
 * it leads to kept its mode and times. */
static void
hx_symlink_setattr(struct fs_front *f, uint64_t node, const char *fname)
{
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0600 };
	struct fs_req r = { .opcode = FUSE_SETATTR,
			    .nodeid = node,
			    .arg = &sa,
			    .arg_len = sizeof(sa),
			    .out_body = sizeof(struct fuse_attr_out) };
	struct fs_slot *s = fs_post(f, FS_REQQ, &r);
	char what[160];

	snprintf(what, sizeof(what), "chmod symlink %s: EOPNOTSUPP or its own mode", fname);
	if (s == NULL) {
		fs_check(f, false, what, "could not post");
		return;
	}
	fs_wait(f, s, f->o->timeout_ms);
	if (fs_reply_ok(f, what, s, s->done ? fs_oh(s)->error : 0, 0))
		fs_check(f,
			 fs_oh(s)->error == -EOPNOTSUPP ||
				 (fs_oh(s)->error == 0 &&
				  S_ISLNK(((const struct fuse_attr_out *)fs_body(s))->attr.mode)),
			 what, "error %d", fs_oh(s)->error);
	if (s->done)
		fs_slot_put(s);
	sa.valid = FATTR_ATIME | FATTR_MTIME;
	sa.atime = 1;
	sa.mtime = 1;
	snprintf(what, sizeof(what), "utimes symlink %s: its own", fname);
	s = hx_req(f, FUSE_SETATTR, node, &sa, sizeof(sa), sizeof(struct fuse_attr_out), 0, what);
	if (s != NULL) {
		const struct fuse_attr *a = &((const struct fuse_attr_out *)fs_body(s))->attr;

		fs_check(f, S_ISLNK(a->mode) && a->mtime == 1, what, "mode 0%o mtime %" PRIu64,
			 a->mode, a->mtime);
		fs_slot_put(s);
	}
	fs_root_alive(f, what);
}

/* LOOKUP fname: a symlink; READLINK; OPEN and CREATE over it refused. */
static void
hx_symlink_node(struct fs_front *f, const char *fname, const char *target)
{
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT | O_TRUNC, .mode = S_IFREG | 0644 };
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE };
	struct fuse_entry_out e;
	char what[160];
	uint32_t len;

	snprintf(what, sizeof(what), "lookup symlink %s", fname);
	e = hx_lookup(f, FUSE_ROOT_ID, fname, what);
	if (e.nodeid == 0)
		return;
	fs_check(f, S_ISLNK(e.attr.mode), what, "mode 0%o", e.attr.mode);
	if (target != NULL) {
		snprintf(what, sizeof(what), "readlink %s", fname);
		hx_readlink(f, e.nodeid, target, what);
	}
	snprintf(what, sizeof(what), "open symlink %s -> EPERM", fname);
	hx_err(f, FUSE_OPEN, e.nodeid, &oi, sizeof(oi), sizeof(struct fuse_open_out), -EPERM, what);
	oi.flags = O_RDONLY | O_DIRECTORY;
	snprintf(what, sizeof(what), "opendir symlink %s -> ENOTDIR", fname);
	hx_err(f, FUSE_OPENDIR, e.nodeid, &oi, sizeof(oi), sizeof(struct fuse_open_out), -ENOTDIR,
	       what);
	snprintf(what, sizeof(what), "truncate symlink %s -> EINVAL", fname);
	hx_err(f, FUSE_SETATTR, e.nodeid, &sa, sizeof(sa), sizeof(struct fuse_attr_out), -EINVAL,
	       what);
	snprintf(what, sizeof(what), "lookup secret.txt under symlink %s -> ENOTDIR", fname);
	hx_err(f, FUSE_LOOKUP, e.nodeid, "secret.txt", 11, sizeof(struct fuse_entry_out), -ENOTDIR,
	       what);
	memcpy(hx_buf, &ci, sizeof(ci));
	len = sizeof(ci) + (uint32_t)strlen(fname) + 1;
	memcpy(hx_buf + sizeof(ci), fname, strlen(fname) + 1);
	snprintf(what, sizeof(what), "create over symlink %s -> ELOOP", fname);
	hx_err(f, FUSE_CREATE, FUSE_ROOT_ID, hx_buf, len,
	       sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), -ELOOP, what);
	hx_symlink_setattr(f, e.nodeid, fname);
	snprintf(what, sizeof(what), "forget symlink %s", fname);
	hx_forget(f, e.nodeid, 1, what);
}

/* READDIRPLUS of the root: the planted symlinks come as symlinks, with
 * their own attributes; every entry's lookup is forgotten again. */
static void
hx_readdirplus(struct fs_front *f)
{
	struct fuse_forget_one one[32];
	struct fuse_read_in in = { .size = 16384 };
	unsigned int n = 0, links = 0;
	struct fs_slot *s;
	uint32_t off, len;
	uint64_t fh;

	if (!fs_open(f, FUSE_OPENDIR, FUSE_ROOT_ID, 0, "opendir root (readdirplus)", &fh))
		return;
	in.fh = fh;
	s = hx_req(f, FUSE_READDIRPLUS, FUSE_ROOT_ID, &in, sizeof(in), 16384, 0,
		   "readdirplus root");
	if (s != NULL) {
		const uint8_t *b = fs_body(s);

		len = fs_oh(s)->len - FS_OUT_HDR;
		for (off = 0; off + FUSE_NAME_OFFSET_DIRENTPLUS <= len;) {
			const struct fuse_direntplus *dp = (const void *)(b + off);
			const char *name = dp->dirent.name;
			uint32_t nl = dp->dirent.namelen;

			if (nl > NAME_MAX || off + FUSE_DIRENTPLUS_SIZE(dp) > len)
				break;
			if (nl >= 6 && memcmp(name, "escape", 6) == 0) {
				links++;
				fs_check(f,
					 dp->dirent.type == DT_LNK &&
						 S_ISLNK(dp->entry_out.attr.mode) &&
						 dp->entry_out.nodeid != 0,
					 "readdirplus: a planted symlink is a symlink",
					 "%.*s: type %u mode 0%o", (int)nl, name, dp->dirent.type,
					 dp->entry_out.attr.mode);
			}
			if (dp->entry_out.nodeid != 0 && n < 32)
				one[n++] = (struct fuse_forget_one){ .nodeid = dp->entry_out.nodeid,
								     .nlookup = 1 };
			off += FUSE_DIRENTPLUS_SIZE(dp);
		}
		fs_check(f, links == 3, "readdirplus: the three planted symlinks", "%u", links);
		fs_slot_put(s);
	}
	fs_release(f, FUSE_RELEASEDIR, FUSE_ROOT_ID, fh, "releasedir root (readdirplus)");
	hx_batch(f, n, one, n, FS_HIPRIO, "batch_forget the readdirplus entries");
}

static void
hx_symlinks(struct fs_front *f)
{
	static const char target[] = "../secret.txt";
	struct fs_slot *s;
	uint64_t node;
	uint32_t len;

	hx_symlink_node(f, "escape", target);
	hx_symlink_node(f, "escape_abs", NULL);
	hx_symlink_node(f, "escape_dir", "..");
	hx_readdirplus(f);
	/* the guest's own: made, then the same checks, then removed */
	memcpy(hx_buf, "gesc", 5);
	memcpy(hx_buf + 5, target, sizeof(target));
	len = 5 + sizeof(target);
	s = hx_req(f, FUSE_SYMLINK, FUSE_ROOT_ID, hx_buf, len, sizeof(struct fuse_entry_out), 0,
		   "symlink gesc -> ../secret.txt");
	if (s == NULL)
		return;
	node = ((const struct fuse_entry_out *)fs_body(s))->nodeid;
	fs_slot_put(s);
	hx_symlink_node(f, "gesc", target);
	hx_forget(f, node, 1, "forget gesc (its SYMLINK)");
	hx_err(f, FUSE_UNLINK, FUSE_ROOT_ID, "gesc", 5, 0, 0, "unlink gesc");
}

/* ---- node ids and handles never given ---- */

static uint64_t hx_rng = 0x243f6a8885a308d3ull;

static uint64_t
hx_rand(void)
{
	hx_rng ^= hx_rng << 13;
	hx_rng ^= hx_rng >> 7;
	hx_rng ^= hx_rng << 17;
	return hx_rng;
}

/* Every opcode that takes a node id, on node: ENOENT. */
static void
hx_bad_node(struct fs_front *f, uint64_t node, const char *label)
{
	struct fuse_getattr_in ga = { 0 };
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0600 };
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_getxattr_in gx = { .size = 64 };
	struct fuse_access_in ac = { .mask = R_OK };
	struct fuse_link_in li = { .oldnodeid = node };
	struct fuse_rename_in rn = { .newdir = node };
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_mknod_in mn = { .mode = S_IFREG | 0644 };
	struct fuse_create_in cr = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644 };
	const uint32_t entry = sizeof(struct fuse_entry_out);
	char what[160];

#define HX_NODE(op, arg, len, out, err) \
	do { \
		snprintf(what, sizeof(what), "%s node %s -> %s", #op, label, #err); \
		hx_err(f, FUSE_##op, node, arg, len, out, -err, what); \
	} while (0)
#define HX_NAMED(op, fixed, name, out) \
	do { \
		memcpy(hx_buf, fixed, sizeof(*(fixed))); \
		memcpy(hx_buf + sizeof(*(fixed)), name, sizeof(name)); \
		HX_NODE(op, hx_buf, sizeof(*(fixed)) + sizeof(name), out, ENOENT); \
	} while (0)

	HX_NODE(GETATTR, &ga, sizeof(ga), sizeof(struct fuse_attr_out), ENOENT);
	HX_NODE(SETATTR, &sa, sizeof(sa), sizeof(struct fuse_attr_out), ENOENT);
	HX_NODE(LOOKUP, "other.txt", 10, entry, ENOENT);
	HX_NODE(READLINK, NULL, 0, 4096, ENOENT);
	HX_NODE(OPEN, &oi, sizeof(oi), sizeof(struct fuse_open_out), ENOENT);
	HX_NODE(OPENDIR, &oi, sizeof(oi), sizeof(struct fuse_open_out), ENOENT);
	HX_NODE(STATFS, NULL, 0, sizeof(struct fuse_statfs_out), ENOENT);
	HX_NODE(ACCESS, &ac, sizeof(ac), 0, ENOENT);
	HX_NODE(UNLINK, "other.txt", 10, 0, ENOENT);
	HX_NODE(RMDIR, "subdir", 7, 0, ENOENT);
	HX_NODE(SYMLINK, "hxl\0other.txt", 14, entry, ENOENT);
	HX_NODE(LISTXATTR, &gx, sizeof(gx), 64, ENOENT);
	HX_NAMED(GETXATTR, &gx, "user.hx", 64);
	HX_NAMED(REMOVEXATTR, &gx, "user.hx", 0);
	HX_NAMED(MKDIR, &mk, "hxd", entry);
	HX_NAMED(MKNOD, &mn, "hxn", entry);
	HX_NAMED(CREATE, &cr, "hxc", entry + sizeof(struct fuse_open_out));
	HX_NAMED(LINK, &li, "hxl", entry);
	HX_NAMED(RENAME, &rn, "other.txt\0hxr", 0);
	/* the node as the source of a LINK, the new directory of a RENAME */
	li.oldnodeid = node;
	memcpy(hx_buf, &li, sizeof(li));
	memcpy(hx_buf + sizeof(li), "hxl", 4);
	snprintf(what, sizeof(what), "LINK from node %s -> ENOENT", label);
	hx_err(f, FUSE_LINK, FUSE_ROOT_ID, hx_buf, sizeof(li) + 4, entry, -ENOENT, what);
	memcpy(hx_buf, &rn, sizeof(rn));
	memcpy(hx_buf + sizeof(rn), "other.txt\0hxr", 14);
	snprintf(what, sizeof(what), "RENAME into node %s -> ENOENT", label);
	hx_err(f, FUSE_RENAME, FUSE_ROOT_ID, hx_buf, sizeof(rn) + 14, 0, -ENOENT, what);
#undef HX_NAMED
#undef HX_NODE
}

/* Every opcode that takes a file handle, with fh on node: EBADF. */
static void
hx_bad_fh(struct fs_front *f, uint64_t node, uint64_t fh, const char *label)
{
	struct fuse_read_in rd = { .fh = fh, .size = 4096 };
	struct fuse_write_in wr = { .fh = fh, .size = 4 };
	struct fuse_release_in rl = { .fh = fh };
	struct fuse_fsync_in fy = { .fh = fh };
	struct fuse_flush_in fl = { .fh = fh };
	struct fuse_lseek_in ls = { .fh = fh, .whence = SEEK_SET };
	struct fuse_fallocate_in fa = { .fh = fh, .length = 4096 };
	struct fuse_setattr_in sa = { .valid = FATTR_FH | FATTR_SIZE, .fh = fh };
	char what[160];

#define HX_FH(op, n, arg, len, out) \
	do { \
		snprintf(what, sizeof(what), "%s fh %s -> EBADF", #op, label); \
		hx_err(f, FUSE_##op, n, arg, len, out, -EBADF, what); \
	} while (0)

	HX_FH(READ, node, &rd, sizeof(rd), 4096);
	memcpy(hx_buf, &wr, sizeof(wr));
	memcpy(hx_buf + sizeof(wr), "evil", 4);
	HX_FH(WRITE, node, hx_buf, sizeof(wr) + 4, sizeof(struct fuse_write_out));
	HX_FH(FSYNC, node, &fy, sizeof(fy), 0);
	HX_FH(LSEEK, node, &ls, sizeof(ls), sizeof(struct fuse_lseek_out));
	HX_FH(FALLOCATE, node, &fa, sizeof(fa), 0);
	HX_FH(SETATTR, node, &sa, sizeof(sa), sizeof(struct fuse_attr_out));
	HX_FH(RELEASE, node, &rl, sizeof(rl), 0);
	HX_FH(READDIR, FUSE_ROOT_ID, &rd, sizeof(rd), 4096);
	HX_FH(READDIRPLUS, FUSE_ROOT_ID, &rd, sizeof(rd), 4096);
	HX_FH(FSYNCDIR, FUSE_ROOT_ID, &fy, sizeof(fy), 0);
	HX_FH(RELEASEDIR, FUSE_ROOT_ID, &rl, sizeof(rl), 0);
#undef HX_FH
	/* FLUSH has nothing to do: ENOSYS whatever the handle */
	snprintf(what, sizeof(what), "FLUSH fh %s -> ENOSYS", label);
	hx_err(f, FUSE_FLUSH, node, &fl, sizeof(fl), 0, -ENOSYS, what);
	/* no POSIX locks offered: ENOSYS whatever the handle */
	for (uint32_t op = FUSE_GETLK; op <= FUSE_SETLKW; op++) {
		struct fuse_lk_in lk = { .fh = fh, .lk.type = F_WRLCK, .lk.end = 100 };

		snprintf(what, sizeof(what), "lock opcode %u fh %s -> ENOSYS", op, label);
		hx_err(f, op, node, &lk, sizeof(lk), sizeof(struct fuse_lk_out), -ENOSYS, what);
	}
}

static void
hx_nodes_handles(struct fs_front *f)
{
	struct fuse_entry_out rd, other;
	uint64_t fh, dfh;
	char label[64];

	rd = hx_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup read file");
	if (rd.nodeid == 0)
		return;
	hx_bad_node(f, 0, "0");
	hx_bad_node(f, 2, "2");
	hx_bad_node(f, (uint64_t)7 << 32 | FUSE_ROOT_ID, "1 of generation 7");
	hx_bad_node(f, rd.nodeid + ((uint64_t)1 << 32), "read.bin's, next generation");
	for (int i = 0; i < 3; i++) {
		uint64_t n = hx_rand();

		snprintf(label, sizeof(label), "0x%" PRIx64, n);
		hx_bad_node(f, n, label);
	}
	/* a node fully forgotten */
	other = hx_lookup(f, FUSE_ROOT_ID, "other.txt", "lookup other.txt");
	if (other.nodeid != 0) {
		hx_forget(f, other.nodeid, 1, "forget other.txt");
		hx_bad_node(f, other.nodeid, "forgotten");
	}

	hx_bad_fh(f, rd.nodeid, 0, "0");
	for (int i = 0; i < 3; i++) {
		uint64_t h = hx_rand();

		snprintf(label, sizeof(label), "0x%" PRIx64, h);
		hx_bad_fh(f, rd.nodeid, h, label);
	}
	if (fs_open(f, FUSE_OPEN, rd.nodeid, O_RDONLY, "open read file", &fh)) {
		struct fuse_read_in in = { .fh = fh, .size = 64 };

		/* a file's handle is no directory's, nor the next one's */
		hx_err(f, FUSE_READDIR, FUSE_ROOT_ID, &in, sizeof(in), 4096, -EBADF,
		       "READDIR with a file's fh -> EBADF");
		hx_bad_fh(f, rd.nodeid, fh + 1, "open + 1");
		hx_bad_fh(f, rd.nodeid, fh + ((uint64_t)1 << 32), "open, next generation");
		fs_release(f, FUSE_RELEASE, rd.nodeid, fh, "release read file");
		hx_bad_fh(f, rd.nodeid, fh, "released");
	}
	if (fs_open(f, FUSE_OPENDIR, FUSE_ROOT_ID, 0, "opendir root", &dfh)) {
		struct fuse_read_in in = { .fh = dfh, .size = 64 };

		hx_err(f, FUSE_READ, rd.nodeid, &in, sizeof(in), 64, -EBADF,
		       "READ with a directory's fh -> EBADF");
		fs_release(f, FUSE_RELEASEDIR, FUSE_ROOT_ID, dfh, "releasedir root");
		hx_bad_fh(f, rd.nodeid, dfh, "released dir");
	}
	hx_forget(f, rd.nodeid, 1, "forget read file");
}

/* ---- FORGET, BATCH_FORGET ---- */

static void
hx_forgets(struct fs_front *f)
{
	struct fuse_forget_one one[4];
	struct fuse_entry_out a, b;

	hx_forget(f, 0, 1, "forget node 0");
	hx_forget(f, 2, 1, "forget node 2");
	hx_forget(f, hx_rand(), 1, "forget a random node");
	hx_forget(f, FUSE_ROOT_ID, UINT64_MAX, "forget the root, nlookup 2^64-1");
	hx_noreply(f, FS_REQQ, FUSE_FORGET, FUSE_ROOT_ID, "\xff\xff\xff\xff\xff\xff\xff\xff", 8,
		   "forget the root on the request queue");
	hx_noreply(f, FS_HIPRIO, FUSE_FORGET, hx_rand(), "\x01", 1, "forget with a short argument");
	/* looked up three times, forgotten with nlookup 1000 */
	a = hx_lookup(f, FUSE_ROOT_ID, "other.txt", "lookup other.txt (1)");
	hx_lookup(f, FUSE_ROOT_ID, "other.txt", "lookup other.txt (2)");
	hx_lookup(f, FUSE_ROOT_ID, "other.txt", "lookup other.txt (3)");
	if (a.nodeid != 0) {
		hx_forget(f, a.nodeid, 1000, "forget other.txt nlookup 1000 of 3");
		fs_getattr_error(f, a.nodeid, sizeof(struct fuse_attr_out),
				 "getattr other.txt after it was forgotten -> ENOENT", -ENOENT);
		hx_forget(f, a.nodeid, 1, "forget other.txt once more");
	}
	/* BATCH_FORGET: a count of 1,000 with two entries; UINT32_MAX with
	 * one; an entry per kind of bad id and the root */
	a = hx_lookup(f, FUSE_ROOT_ID, "other.txt", "lookup other.txt (4)");
	b = hx_lookup(f, FUSE_ROOT_ID, "subdir", "lookup subdir (batch)");
	one[0] = (struct fuse_forget_one){ .nodeid = a.nodeid, .nlookup = 5 };
	one[1] = (struct fuse_forget_one){ .nodeid = hx_rand(), .nlookup = 1 };
	hx_batch(f, 1000, one, 2, FS_HIPRIO, "batch_forget count 1000 of 2");
	fs_getattr_error(f, a.nodeid, sizeof(struct fuse_attr_out),
			 "getattr other.txt after the batch -> ENOENT", -ENOENT);
	one[0] = (struct fuse_forget_one){ .nodeid = FUSE_ROOT_ID, .nlookup = UINT64_MAX };
	one[1] = (struct fuse_forget_one){ .nodeid = 0, .nlookup = 1 };
	one[2] = (struct fuse_forget_one){ .nodeid = 2, .nlookup = 1 };
	one[3] = (struct fuse_forget_one){ .nodeid = b.nodeid, .nlookup = 1 };
	hx_batch(f, UINT32_MAX, one, 4, FS_REQQ, "batch_forget count 2^32-1 of 4");
	fs_getattr_error(f, b.nodeid, sizeof(struct fuse_attr_out),
			 "getattr subdir after the batch -> ENOENT", -ENOENT);
	hx_batch(f, 0, one, 4, FS_HIPRIO, "batch_forget count 0 of 4");
	hx_noreply(f, FS_HIPRIO, FUSE_BATCH_FORGET, 0, "\x05\0\0", 3,
		   "batch_forget shorter than its header");
	/* half an entry after the header */
	one[0] = (struct fuse_forget_one){ .nodeid = hx_rand(), .nlookup = 1 };
	memcpy(hx_buf, &(struct fuse_batch_forget_in){ .count = 1 }, 8);
	memcpy(hx_buf + 8, one, 8);
	hx_noreply(f, FS_HIPRIO, FUSE_BATCH_FORGET, 0, hx_buf, 16,
		   "batch_forget with half an entry");
}

/* ---- a flood without room for the replies ---- */

/* Fill ring FS_REQQ with n chains of GETATTR of the root whose reply room
 * is out bytes (0: no writable buffer); wait for all of them; each used
 * entry's length must be want_len (and with a header, EINVAL). */
static bool
hx_flood_round(struct fs_front *f, unsigned int n, uint32_t out, uint32_t want_len)
{
	struct vufront_used_elem e[FS_RING];
	struct fuse_in_header *ih = (struct fuse_in_header *)f->aux;
	uint64_t out_gpa = f->aux_gpa + 4096;
	struct vufront_buf b[2];
	unsigned int got = 0;
	double deadline;

	memset(ih, 0, FS_IN_HDR + sizeof(struct fuse_getattr_in));
	ih->len = FS_IN_HDR + sizeof(struct fuse_getattr_in);
	ih->opcode = FUSE_GETATTR;
	ih->unique = 0x0f100d;
	ih->nodeid = FUSE_ROOT_ID;
	b[0] = (struct vufront_buf){ .addr = f->aux_gpa, .len = ih->len };
	for (unsigned int i = 0; i < n; i++) {
		uint16_t head;

		b[1] = (struct vufront_buf){ .addr = out_gpa + (uint64_t)(i % 2048) * 16,
					     .len = out,
					     .flags = VUFRONT_DESC_F_WRITE };
		if (vufront_vq_add_chain(f->vu, FS_REQQ, b, out ? 2 : 1, &head) < 0) {
			fs_check(f, false, "flood", "post %u: %s", i, vufront_errmsg(f->vu));
			return false;
		}
	}
	vufront_vq_notify(f->vu, FS_REQQ);
	deadline = fs_now() + f->o->timeout_ms / 1000.0;
	while (got < n && fs_now() < deadline) {
		int r;

		if (vufront_vq_wait(f->vu, FS_REQQ, 200) < 0)
			continue;
		r = vufront_vq_reap(f->vu, FS_REQQ, e, FS_RING);
		if (r < 0) {
			fs_check(f, false, "flood", "reap: %s", vufront_errmsg(f->vu));
			return false;
		}
		for (int i = 0; i < r; i++) {
			if (e[i].len != want_len)
				return fs_check(f, false, "flood", "used length %u, expected %u",
						e[i].len, want_len);
		}
		got += (unsigned int)r;
	}
	if (got < n)
		return fs_check(f, false, "flood", "%u of %u used in time", got, n);
	if (want_len == FS_OUT_HDR) {
		const struct fuse_out_header *oh = (const void *)(f->aux + 4096);

		if (oh->error != -EINVAL || oh->unique != 0x0f100d || oh->len != FS_OUT_HDR)
			return fs_check(f, false, "flood", "reply error %d unique %" PRIx64,
					oh->error, oh->unique);
	}
	return true;
}

/* FS_INFLIGHT READs (and STATFSs) in flight at once, each compared with
 * the read file; the handle released and the lookup forgotten. */
static void
hx_reads(struct fs_front *f)
{
	struct fs_slot *rs[FS_INFLIGHT];
	uint64_t roff[FS_INFLIGHT], fh;
	struct fuse_entry_out e;
	unsigned int bad = 0;
	char why[160] = "";

	if (!fs_open_read_file(f, &e, &fh))
		return;
	if (fs_post_many(f, e.nodeid, fh, 77, rs, roff, "reads after the flood")) {
		for (unsigned int i = 0; i < FS_INFLIGHT; i++) {
			uint32_t want = i % 16 == 0 ? 0 : FS_INFLIGHT_LEN;

			fs_wait(f, rs[i], f->o->timeout_ms);
			if (!fs_reply_ok(f, "reads after the flood", rs[i], 0, want))
				bad++;
			else if (want != 0 &&
				 !fs_read_matches(f, rs[i], roff[i], want, why, sizeof(why)))
				bad++;
			if (rs[i]->done)
				fs_slot_put(rs[i]);
		}
		fs_check(f, bad == 0, "64 reads and statfs in flight after the flood, compared",
			 "%u wrong: %s", bad, why);
	}
	fs_release(f, FUSE_RELEASE, e.nodeid, fh, "release read file (after the flood)");
	hx_forget(f, e.nodeid, 1, "forget read file (after the flood)");
}

static void
hx_flood(struct fs_front *f)
{
	unsigned int total = 0, errors = 0;
	bool ok = true;

	for (unsigned int r = 0; r < HX_FLOOD_ROUNDS && ok; r++) {
		/* the whole ring of one-descriptor chains, then of two */
		ok = hx_flood_round(f, FS_RING, 0, 0) && hx_flood_round(f, FS_RING / 2, 8, 0) &&
		     hx_flood_round(f, FS_RING / 2, FS_OUT_HDR, FS_OUT_HDR);
		total += FS_RING * 2;
		errors += FS_RING * 2;
	}
	if (ok)
		fs_check(f, true, "flood: requests without room for their reply", NULL);
	printf("info hostile-flood %u\n", total);
	hx_errors += errors;
	fs_root_alive(f, "the flood");
	fs_getattr_burst(f, 64, "64 getattrs after the flood");
	hx_reads(f);
}

void
scenario_hostile(struct fs_front *f)
{
	struct fuse_entry_out rd;

	if (!fs_init(f))
		return;
	fs_sync("counts");
	rd = hx_lookup(f, FUSE_ROOT_ID, f->o->read_file, "lookup read file (links)");
	hx_names(f, rd.nodeid);
	if (rd.nodeid != 0)
		hx_forget(f, rd.nodeid, 1, "forget read file (links)");
	hx_dotdot_below(f);
	hx_xattr_names(f);
	hx_xattr_room(f);
	hx_symlinks(f);
	hx_nodes_handles(f);
	hx_forgets(f);
	hx_flood(f);
	printf("info hostile-errors %u\n", hx_errors);
}
