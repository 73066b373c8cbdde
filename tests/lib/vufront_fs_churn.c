/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs, scenario churn: rounds of operations that change the host,
 * each checked, for as long as the caller lets it run (a line "stop" on
 * stdin, or --rounds). Round r (dir "c<r>", file seed 1000 + r):
 *
 *   MKDIR c<r>; CREATE c<r>/f (O_EXCL); WRITE its pattern in two pieces;
 *   SETATTR mode 0600; LINK f -> g; SYMLINK s -> "f"; RENAME g -> h;
 *   UNLINK h; one WRITE of "round=NNNNNN\n" through the O_APPEND handle of
 *   churn.log (created with O_EXCL before round 0); RELEASE f; OPEN f
 *   read-only, READ it whole and compare, RELEASE; odd rounds then UNLINK f
 *   and s and RMDIR c<r>; FORGET of the node ids the round was handed.
 *
 * Every one of them must succeed with the reply a single execution gives:
 * a MKDIR done twice would be EEXIST, a CREATE O_EXCL EEXIST, an UNLINK
 * ENOENT, an append twice a line twice in the log. "info churn round=R
 * done" follows each round, so the caller can check the host tree of the
 * rounds done while the back-end is killed under us; it ends with
 * "info churn rounds=N failed=F".
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vufront_fs.h"

#define CHURN_LOG "churn.log"
#define CHURN_LINE 14 /* "round=NNNNNN\n" + NUL */

static uint32_t
churn_len(unsigned int r)
{
	return 1024 + (r * 131u) % 3072;
}

/* A request that creates a node: its entry (lookup counted), or false. */
static bool
churn_entry(struct fs_front *f, const struct fs_req *r, const char *name, struct fuse_entry_out *e,
	    uint64_t *fh)
{
	struct fs_slot *s = fs_call(f, FS_REQQ, r, name, 0, r->out_body);

	if (s == NULL)
		return false;
	*e = *(const struct fuse_entry_out *)fs_body(s);
	if (fh != NULL)
		*fh = ((const struct fuse_open_out *)((const uint8_t *)fs_body(s) + sizeof(*e)))
			      ->fh;
	fs_slot_put(s);
	return e->nodeid != 0 || fs_check(f, false, name, "node id 0");
}

/* A request answered by a bare header (RENAME, UNLINK, RMDIR, RELEASE). */
static bool
churn_plain(struct fs_front *f, const struct fs_req *r, const char *name)
{
	struct fs_slot *s = fs_call(f, FS_REQQ, r, name, 0, 0);

	if (s == NULL)
		return false;
	fs_slot_put(s);
	return true;
}

static bool
churn_mkdir(struct fs_front *f, const char *dname, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = 0755, .umask = 022 };
	struct fs_req r = { .opcode = FUSE_MKDIR,
			    .nodeid = FUSE_ROOT_ID,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .arg2 = dname,
			    .arg2_len = (uint32_t)strlen(dname) + 1,
			    .out_body = sizeof(struct fuse_entry_out) };

	return churn_entry(f, &r, "churn mkdir", e, NULL) &&
	       (S_ISDIR(e->attr.mode) ||
		fs_check(f, false, "churn mkdir", "mode 0%o", e->attr.mode));
}

static bool
churn_create(struct fs_front *f, uint64_t parent, const char *fname, uint32_t flags,
	     struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in = { .flags = flags, .mode = 0100644, .umask = 022 };
	struct fs_req r = { .opcode = FUSE_CREATE,
			    .nodeid = parent,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .arg2 = fname,
			    .arg2_len = (uint32_t)strlen(fname) + 1,
			    .out_body =
				    sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out) };

	return churn_entry(f, &r, "churn create", e, fh) &&
	       (e->attr.size == 0 ||
		fs_check(f, false, "churn create", "size %" PRIu64, (uint64_t)e->attr.size));
}

/* One WRITE of len bytes of the data area at doff, to off. */
static bool
churn_write(struct fs_front *f, uint64_t nodeid, uint64_t fh, uint64_t off, uint64_t doff,
	    uint32_t len, const char *name)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = len };
	struct vufront_buf data = { .addr = f->data_gpa + doff, .len = len };
	struct fs_req r = { .opcode = FUSE_WRITE,
			    .nodeid = nodeid,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .data = &data,
			    .n_data = 1,
			    .out_body = sizeof(struct fuse_write_out) };
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, name, 0, sizeof(struct fuse_write_out));
	uint32_t got;

	if (s == NULL)
		return false;
	got = ((const struct fuse_write_out *)fs_body(s))->size;
	fs_slot_put(s);
	return got == len || fs_check(f, false, name, "wrote %u of %u", got, len);
}

static bool
churn_chmod(struct fs_front *f, uint64_t nodeid, uint32_t mode)
{
	struct fuse_setattr_in in = { .valid = FATTR_MODE, .mode = mode };
	struct fs_req r = { .opcode = FUSE_SETATTR,
			    .nodeid = nodeid,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .out_body = sizeof(struct fuse_attr_out) };
	struct fs_slot *s = fs_call(f, FS_REQQ, &r, "churn setattr", 0, r.out_body);
	uint32_t got;

	if (s == NULL)
		return false;
	got = ((const struct fuse_attr_out *)fs_body(s))->attr.mode;
	fs_slot_put(s);
	return (got & 07777) == mode || fs_check(f, false, "churn setattr", "mode 0%o", got);
}

static bool
churn_link(struct fs_front *f, uint64_t dir, uint64_t node, const char *newname)
{
	struct fuse_link_in in = { .oldnodeid = node };
	struct fs_req r = { .opcode = FUSE_LINK,
			    .nodeid = dir,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .arg2 = newname,
			    .arg2_len = (uint32_t)strlen(newname) + 1,
			    .out_body = sizeof(struct fuse_entry_out) };
	struct fuse_entry_out e;

	return churn_entry(f, &r, "churn link", &e, NULL) &&
	       ((e.nodeid == node && e.attr.nlink == 2) ||
		fs_check(f, false, "churn link", "node %" PRIu64 " (want %" PRIu64 "), %u links",
			 e.nodeid, node, e.attr.nlink));
}

static bool
churn_symlink(struct fs_front *f, uint64_t dir, const char *lname, const char *target,
	      struct fuse_entry_out *e)
{
	char names[64];
	size_t a = strlen(lname) + 1, b = strlen(target) + 1;
	struct fs_req r = { .opcode = FUSE_SYMLINK,
			    .nodeid = dir,
			    .arg = names,
			    .arg_len = (uint32_t)(a + b),
			    .out_body = sizeof(struct fuse_entry_out) };

	memcpy(names, lname, a);
	memcpy(names + a, target, b);
	return churn_entry(f, &r, "churn symlink", e, NULL) &&
	       (S_ISLNK(e->attr.mode) ||
		fs_check(f, false, "churn symlink", "mode 0%o", e->attr.mode));
}

static bool
churn_rename(struct fs_front *f, uint64_t dir, const char *from, const char *to)
{
	char names[64];
	size_t a = strlen(from) + 1, b = strlen(to) + 1;
	struct fuse_rename_in in = { .newdir = dir };
	struct fs_req r = { .opcode = FUSE_RENAME,
			    .nodeid = dir,
			    .arg = &in,
			    .arg_len = sizeof(in),
			    .arg2 = names,
			    .arg2_len = (uint32_t)(a + b) };

	memcpy(names, from, a);
	memcpy(names + a, to, b);
	return churn_plain(f, &r, "churn rename");
}

static bool
churn_remove(struct fs_front *f, uint32_t opcode, uint64_t dir, const char *name, const char *what)
{
	struct fs_req r = {
		.opcode = opcode, .nodeid = dir, .arg = name, .arg_len = (uint32_t)strlen(name) + 1
	};

	return churn_plain(f, &r, what);
}

/* RELEASE: the kernel ignores its answer, and one redone after a crash of
 * the back-end finds the handle released already (EBADF): both are fine. */
static bool
churn_release(struct fs_front *f, uint64_t nodeid, uint64_t fh, const char *name)
{
	struct fuse_release_in in = { .fh = fh };
	struct fs_req r = {
		.opcode = FUSE_RELEASE, .nodeid = nodeid, .arg = &in, .arg_len = sizeof(in)
	};
	struct fs_slot *s = fs_post(f, FS_REQQ, &r);
	bool ok;

	if (s == NULL)
		return fs_check(f, false, name, "could not post");
	fs_wait(f, s, f->o->timeout_ms);
	if (s->done && s->used_len >= FS_OUT_HDR && fs_oh(s)->error == -EBADF) {
		printf("info %s: EBADF (redone after a crash)\n", name);
		fs_slot_put(s);
		return true;
	}
	ok = fs_reply_ok(f, name, s, 0, 0);
	if (s->done)
		fs_slot_put(s);
	return ok;
}

/* OPEN read-only, READ whole, compare with seed's pattern, RELEASE. */
static bool
churn_verify(struct fs_front *f, uint64_t nodeid, unsigned int seed, uint32_t len)
{
	struct fs_slot *s;
	uint64_t fh;
	bool ok = true;

	if (!fs_open(f, FUSE_OPEN, nodeid, O_RDONLY, "churn open", &fh))
		return false;
	s = fs_post_read(f, nodeid, fh, 0, len + 100);
	if (s == NULL)
		return fs_check(f, false, "churn read", "could not post");
	fs_wait(f, s, f->o->timeout_ms);
	if (!fs_reply_ok(f, "churn read", s, 0, len)) {
		ok = false;
	} else if (fs_oh(s)->len - FS_OUT_HDR != len) {
		ok = fs_check(f, false, "churn read", "%u bytes, want %u",
			      fs_oh(s)->len - FS_OUT_HDR, len);
	} else {
		const uint8_t *b = fs_body(s);

		for (uint32_t i = 0; i < len && ok; i++)
			if (b[i] != fs_pattern(seed, i))
				ok = fs_check(f, false, "churn read", "byte %u differs", i);
	}
	if (s->done)
		fs_slot_put(s);
	return churn_release(f, nodeid, fh, "churn release read") && ok;
}

/* The log line of round r, appended through the O_APPEND handle. */
static bool
churn_log(struct fs_front *f, uint64_t node, uint64_t fh, unsigned int r)
{
	uint64_t doff = FS_DATA - 64;

	snprintf((char *)f->data + doff, CHURN_LINE, "round=%06u\n", r % 1000000);
	/* the offset is ignored on an O_APPEND file */
	return churn_write(f, node, fh, 0, doff, CHURN_LINE - 1, "churn append");
}

static bool
churn_round(struct fs_front *f, unsigned int r, uint64_t log_node, uint64_t log_fh)
{
	struct fuse_entry_out d, e, sl;
	uint32_t len = churn_len(r);
	char dname[32];
	uint64_t fh;
	bool ok;

	snprintf(dname, sizeof(dname), "c%u", r);
	for (uint32_t i = 0; i < len; i++)
		f->data[i] = fs_pattern(1000 + r, i);
	if (!churn_mkdir(f, dname, &d))
		return false;
	ok = churn_create(f, d.nodeid, "f", O_WRONLY | O_CREAT | O_EXCL, &e, &fh) &&
	     churn_write(f, e.nodeid, fh, 0, 0, len / 2, "churn write") &&
	     churn_write(f, e.nodeid, fh, len / 2, len / 2, len - len / 2, "churn write") &&
	     churn_chmod(f, e.nodeid, 0600) && churn_link(f, d.nodeid, e.nodeid, "g") &&
	     churn_symlink(f, d.nodeid, "s", "f", &sl) && churn_rename(f, d.nodeid, "g", "h") &&
	     churn_remove(f, FUSE_UNLINK, d.nodeid, "h", "churn unlink") &&
	     churn_log(f, log_node, log_fh, r) && churn_release(f, e.nodeid, fh, "churn release") &&
	     churn_verify(f, e.nodeid, 1000 + r, len);
	if (ok && r % 2 == 1)
		ok = churn_remove(f, FUSE_UNLINK, d.nodeid, "f", "churn unlink f") &&
		     churn_remove(f, FUSE_UNLINK, d.nodeid, "s", "churn unlink s") &&
		     churn_remove(f, FUSE_RMDIR, FUSE_ROOT_ID, dname, "churn rmdir");
	if (!ok)
		return false;
	/* CREATE and LINK each counted a lookup of f */
	fs_forget_hiprio(f, e.nodeid);
	fs_forget_hiprio(f, e.nodeid);
	fs_forget_hiprio(f, sl.nodeid);
	fs_forget_hiprio(f, d.nodeid);
	return true;
}

/* A line "stop" waiting on stdin. */
static bool
churn_stop_asked(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char line[64];

	if (poll(&p, 1, 0) <= 0)
		return false;
	if (fgets(line, sizeof(line), stdin) == NULL)
		return true;
	return strncmp(line, "stop", 4) == 0;
}

void
scenario_churn(struct fs_front *f)
{
	struct fuse_entry_out le;
	unsigned int r = 0;
	uint64_t lfh;
	bool ok;

	if (!fs_init(f))
		return;
	if (!churn_create(f, FUSE_ROOT_ID, CHURN_LOG, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, &le,
			  &lfh))
		return;
	printf("info churn started\n");
	for (ok = true; ok && r < f->o->rounds && !churn_stop_asked(); r++) {
		ok = churn_round(f, r, le.nodeid, lfh);
		if (ok)
			printf("info churn round=%u done\n", r);
		if (f->o->pace_ms > 0)
			usleep((useconds_t)f->o->pace_ms * 1000);
	}
	fs_check(f, ok, "churn rounds", "round %u failed", r - 1);
	if (fs_release(f, FUSE_RELEASE, le.nodeid, lfh, "churn release log"))
		fs_check(f, true, "churn release log", NULL);
	printf("info churn rounds=%u failed=%u\n", ok ? r : r - 1, f->failed);
}

/* READ len bytes at 0 through fh and compare with seed's pattern. */
static bool
orphan_read(struct fs_front *f, uint64_t nodeid, uint64_t fh, unsigned int seed, uint32_t len,
	    const char *name)
{
	struct fs_slot *s = fs_post_read(f, nodeid, fh, 0, len + 100);
	bool ok = true;

	if (s == NULL)
		return fs_check(f, false, name, "could not post");
	fs_wait(f, s, f->o->timeout_ms);
	if (!fs_reply_ok(f, name, s, 0, len)) {
		ok = false;
	} else if (fs_oh(s)->len - FS_OUT_HDR != len) {
		ok = fs_check(f, false, name, "%u bytes, want %u", fs_oh(s)->len - FS_OUT_HDR, len);
	} else {
		const uint8_t *b = fs_body(s);

		for (uint32_t i = 0; i < len && ok; i++)
			if (b[i] != fs_pattern(seed, i))
				ok = fs_check(f, false, name, "byte %u differs", i);
	}
	if (s->done)
		fs_slot_put(s);
	return ok && fs_check(f, true, name, NULL);
}

/* The attributes of an unlinked file: no link, len bytes. */
static bool
orphan_attr(struct fs_front *f, uint64_t nodeid, uint32_t len, const char *name)
{
	struct fuse_attr a;

	if (!fs_getattr(f, nodeid, name, &a))
		return false;
	return fs_check(f, a.nlink == 0 && a.size == len, name, "nlink %u, size %" PRIu64, a.nlink,
			(uint64_t)a.size);
}

/* A second held file, "victim" (4 KiB of seed 77's pattern too), loses
 * its name to a RENAME of another file over it. */
static bool
orphan_replaced(struct fs_front *f, struct fuse_entry_out *v, uint64_t *vfh)
{
	struct fuse_entry_out n;
	uint64_t nfh;

	return churn_create(f, FUSE_ROOT_ID, "victim", O_RDWR | O_CREAT | O_EXCL, v, vfh) &&
	       churn_write(f, v->nodeid, *vfh, 0, 0, 4096, "victim write") &&
	       churn_create(f, FUSE_ROOT_ID, "newer", O_WRONLY | O_CREAT | O_EXCL, &n, &nfh) &&
	       churn_release(f, n.nodeid, nfh, "newer release") &&
	       churn_rename(f, FUSE_ROOT_ID, "newer", "victim") &&
	       orphan_attr(f, v->nodeid, 4096, "victim getattr before");
}

/*
 * Scenario orphan: a file unlinked while open lives on across back-end
 * crashes (the caller kills the gateway at each SYNC). CREATE "orphan"
 * read-write, WRITE 8 KiB of seed 77's pattern, UNLINK it; CREATE
 * "victim" the same way with 4 KiB and RENAME another file over it; SYNC
 * orphan1; GETATTR (nlink 0, 8 KiB), READ back through the handle, WRITE
 * 4 KiB more, READ victim through its handle; SYNC orphan2; GETATTR and
 * READ all 12 KiB again, OPEN it anew by node id and READ through that,
 * RELEASE them, FORGET.
 */
void
scenario_orphan(struct fs_front *f)
{
	const unsigned int seed = 77;
	const uint32_t a = 8192, b = 4096;
	struct fuse_entry_out e, v;
	uint64_t fh, fh2, vfh;

	for (uint32_t i = 0; i < a + b; i++)
		f->data[i] = fs_pattern(seed, i);
	if (!fs_init(f) ||
	    !churn_create(f, FUSE_ROOT_ID, "orphan", O_RDWR | O_CREAT | O_EXCL, &e, &fh) ||
	    !churn_write(f, e.nodeid, fh, 0, 0, a, "orphan write") ||
	    !churn_remove(f, FUSE_UNLINK, FUSE_ROOT_ID, "orphan", "orphan unlink") ||
	    !orphan_attr(f, e.nodeid, a, "orphan getattr before") || !orphan_replaced(f, &v, &vfh))
		return;
	fs_sync("orphan1");
	if (!orphan_attr(f, e.nodeid, a, "orphan getattr after crash 1") ||
	    !orphan_read(f, e.nodeid, fh, seed, a, "orphan read after crash 1") ||
	    !churn_write(f, e.nodeid, fh, a, a, b, "orphan write after crash 1") ||
	    !orphan_read(f, v.nodeid, vfh, seed, 4096, "victim read after crash 1") ||
	    !churn_release(f, v.nodeid, vfh, "victim release"))
		return;
	fs_forget_hiprio(f, v.nodeid);
	fs_sync("orphan2");
	if (!orphan_attr(f, e.nodeid, a + b, "orphan getattr after crash 2") ||
	    !orphan_read(f, e.nodeid, fh, seed, a + b, "orphan read after crash 2") ||
	    !fs_open(f, FUSE_OPEN, e.nodeid, O_RDONLY, "orphan open after crash 2", &fh2) ||
	    !orphan_read(f, e.nodeid, fh2, seed, a + b, "orphan read through a new open"))
		return;
	if (churn_release(f, e.nodeid, fh2, "orphan release new") &&
	    churn_release(f, e.nodeid, fh, "orphan release"))
		fs_check(f, true, "orphan release", NULL);
	fs_forget_hiprio(f, e.nodeid);
}

/* The READ of the last 4 KiB of a file of size bytes written in WRITEs
 * of chunk bytes of the data area: the byte at x is data[x % chunk]. */
static bool
unlinked_tail_ok(struct fs_front *f, const struct fs_slot *s, uint64_t size, uint32_t chunk,
		 char *why, size_t whylen)
{
	const uint8_t *b = fs_body(s);

	if (s->used_len < FS_OUT_HDR || fs_oh(s)->error != 0 ||
	    fs_oh(s)->len != FS_OUT_HDR + 4096) {
		snprintf(why, whylen, "error %d, %u bytes",
			 s->used_len < FS_OUT_HDR ? 0 : fs_oh(s)->error, s->used_len);
		return false;
	}
	for (uint32_t i = 0; i < 4096; i++) {
		uint64_t x = size - 4096 + i;

		if (b[i] != f->data[x % chunk]) {
			snprintf(why, whylen, "byte %" PRIu64 " differs", x);
			return false;
		}
	}
	return true;
}

/*
 * Scenario unlinked: files unlinked while open give their space back once
 * the guest lets them go (under a keeper: the vault lets their parked fds
 * go). --rounds N of: CREATE "u<r>" read-write, WRITE --file-size bytes
 * of seed r's pattern, UNLINK it, READ its last 4 KiB back through the
 * handle, RELEASE, FORGET; "info unlinked round=R done" after each, then
 * SYNC unlinked (the caller reads the gateway's counters). On a share
 * smaller than a few rounds' files, a WRITE fails with ENOSPC where the
 * back-end holds what the guest let go.
 */
void
scenario_unlinked(struct fs_front *f)
{
	uint64_t size = f->o->file_size;
	uint32_t chunk = FS_DATA;
	unsigned int r;

	if (!fs_check(f, size >= 4096, "unlinked: --file-size", "%" PRIu64 " bytes, 4096 at least",
		      size) ||
	    !fs_init(f))
		return;
	if (f->max_write >= 4096 && f->max_write < chunk)
		chunk = f->max_write & ~4095u;
	for (r = 0; r < f->o->rounds; r++) {
		struct fuse_entry_out e;
		char name[32], why[160] = "";
		struct fs_slot *s;
		uint64_t fh, off;
		bool ok = true;

		snprintf(name, sizeof(name), "u%u", r);
		for (uint32_t i = 0; i < chunk; i++)
			f->data[i] = fs_pattern(r, i);
		if (!churn_create(f, FUSE_ROOT_ID, name, O_RDWR | O_CREAT | O_EXCL, &e, &fh))
			break;
		for (off = 0; ok && off < size; off += chunk)
			ok = churn_write(f, e.nodeid, fh, off, 0,
					 (uint32_t)(size - off < chunk ? size - off : chunk),
					 "unlinked write");
		if (!ok || !churn_remove(f, FUSE_UNLINK, FUSE_ROOT_ID, name, "unlinked unlink"))
			break;
		/* the last 4 KiB, through the handle of the file with no name */
		s = fs_post_read(f, e.nodeid, fh, size - 4096, 4096);
		if (s == NULL || (fs_wait(f, s, f->o->timeout_ms), !s->done))
			break;
		ok = unlinked_tail_ok(f, s, size, chunk, why, sizeof(why));
		fs_slot_put(s);
		if (!fs_check(f, ok, "unlinked read after the unlink", "%s", why) ||
		    !churn_release(f, e.nodeid, fh, "unlinked release"))
			break;
		fs_forget_hiprio(f, e.nodeid);
		printf("info unlinked round=%u done\n", r);
		fflush(stdout);
	}
	fs_check(f, r == f->o->rounds, "unlinked: every round", "%u of %u", r, f->o->rounds);
	fs_sync("unlinked");
}
