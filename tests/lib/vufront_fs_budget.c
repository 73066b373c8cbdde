/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vhostgw authors
 */

/*
 * vufront-fs scenario budget: a guest that looks up more files than its
 * device's share of the gateway's fds (lib/fs/fs_vhost.c, fd_share_init).
 * INIT; a LOOKUP of each of --lookup-files names lk-00000, lk-00001, ...
 * (the caller made them), one at a time, keeping every node it gets; then
 * an OPEN of each node it got. Each reply is a success or ENFILE (none
 * other: not EMFILE, not a timeout), and the root still answers. Prints
 * "info budget-ok N", "info budget-enfile N", "info budget-opened N" and
 * "info budget-open-enfile N"; SYNC held: the caller checks other devices
 * while all that is held. Then everything is released and forgotten, and
 * a lookup that was refused succeeds.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vufront_fs.h"

/* One request's error (0 or -errno), or 1 when it got no well-formed
 * reply; the reply body copied to body (len bytes) on success. */
static int
budget_call(struct fs_front *f, const struct fs_req *r, void *body, uint32_t len)
{
	struct fs_slot *s = fs_post(f, FS_REQQ, r);
	int err;

	if (s == NULL)
		return 1;
	fs_wait(f, s, f->o->timeout_ms);
	if (!s->done)
		return 1;
	err = fs_oh(s)->error;
	if (err == 0 && (s->used_len < FS_OUT_HDR + len || fs_oh(s)->len != s->used_len))
		err = 1;
	if (err == 0 && len != 0)
		memcpy(body, fs_body(s), len);
	fs_slot_put(s);
	return err;
}

void
scenario_budget(struct fs_front *f)
{
	unsigned int n = f->o->lookup_files, ok = 0, enfile = 0, other = 0, opened = 0;
	unsigned int open_enfile = 0, open_other = 0, forgot = 0, first_refused = n;
	uint64_t *node = calloc(n ? n : 1, sizeof(*node));
	uint64_t *fh = calloc(n ? n : 1, sizeof(*fh));
	char name[32];
	int first_other = 0;

	if (!fs_check(f, node != NULL && fh != NULL, "budget: memory", NULL) || !fs_init(f))
		goto out;
	for (unsigned int i = 0; i < n; i++) {
		struct fuse_entry_out e;
		struct fs_req r = { .opcode = FUSE_LOOKUP,
				    .nodeid = FUSE_ROOT_ID,
				    .arg = name,
				    .out_body = sizeof(e) };
		int err;

		snprintf(name, sizeof(name), "lk-%05u", i);
		r.arg_len = (uint32_t)strlen(name) + 1;
		err = budget_call(f, &r, &e, sizeof(e));
		if (err == 0) {
			node[ok++] = e.nodeid;
		} else if (err == -ENFILE) {
			if (enfile++ == 0)
				first_refused = i;
		} else {
			if (other++ == 0)
				first_other = err;
			if (err == 1 && fs_backend_gone(f))
				break;
		}
	}
	printf("info budget-ok %u\n", ok);
	printf("info budget-enfile %u\n", enfile);
	fs_check(f, other == 0, "budget: every lookup succeeded or got ENFILE",
		 "%u other replies, the first %d", other, first_other);
	for (unsigned int i = 0; i < ok; i++) {
		struct fuse_open_out o;
		struct fuse_open_in in = { .flags = 0 /* O_RDONLY */ };
		struct fs_req r = { .opcode = FUSE_OPEN,
				    .nodeid = node[i],
				    .arg = &in,
				    .arg_len = sizeof(in),
				    .out_body = sizeof(o) };
		int err = budget_call(f, &r, &o, sizeof(o));

		if (err == 0)
			fh[opened++] = o.fh;
		else if (err == -ENFILE)
			open_enfile++;
		else
			open_other++;
	}
	printf("info budget-opened %u\n", opened);
	printf("info budget-open-enfile %u\n", open_enfile);
	fs_check(f, open_other == 0, "budget: every open succeeded or got ENFILE", "%u other",
		 open_other);
	fs_root_alive(f, "lookups and opens beyond the budget");
	fs_sync("held");

	for (unsigned int i = 0; i < opened; i++) {
		struct fuse_release_in in = { .fh = fh[i] };
		struct fs_req r = {
			.opcode = FUSE_RELEASE, .nodeid = node[i], .arg = &in, .arg_len = sizeof(in)
		};

		if (budget_call(f, &r, NULL, 0) != 0)
			open_other++;
	}
	for (unsigned int i = 0; i < ok; i++) {
		struct fs_slot *s = fs_post_forget(f, node[i]);

		if (s == NULL)
			continue;
		fs_wait(f, s, f->o->timeout_ms);
		if (s->done) {
			forgot += s->used_len == 0;
			fs_slot_put(s);
		}
	}
	fs_check(f, open_other == 0 && forgot == ok, "budget: released and forgotten",
		 "%u releases failed, %u of %u forgotten", open_other, forgot, ok);
	if (first_refused < n) {
		snprintf(name, sizeof(name), "lk-%05u", first_refused);
		fs_lookup(f, FUSE_ROOT_ID, name, "budget: a refused lookup, once all is forgotten",
			  NULL, 0);
	}
out:
	free(node);
	free(fh);
}
