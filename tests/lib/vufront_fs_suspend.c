/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs scenario suspend: the caller suspends the device at "SYNC
 * running"; requests posted then must not complete (used->idx watched)
 * until it resumes the device at "SYNC posted". Twice, the second time with
 * requests in flight.
 */

#include <stdio.h>
#include <unistd.h>

#include "vufront_fs.h"

/* 40 GETATTRs and a FORGET of nothing on hiprio; returns how many posted. */
static unsigned int
fs_suspend_post(struct fs_front *f, struct fs_slot **s)
{
	struct fuse_forget_in fi = { .nlookup = 1 };
	struct fs_req r = { .opcode = FUSE_FORGET,
			    .nodeid = 0x12345678,
			    .arg = &fi,
			    .arg_len = sizeof(fi),
			    .out_body = FS_NO_REPLY };
	unsigned int n;

	for (n = 0; n < 40; n++) {
		s[n] = fs_post_getattr(f, FUSE_ROOT_ID);
		if (s[n] == NULL)
			break;
	}
	s[n] = fs_post(f, FS_HIPRIO, &r);
	if (s[n] != NULL)
		n++;
	return n;
}

/* Nothing may be used while suspended: watch used->idx for 1.2 s. */
static bool
fs_suspend_still(struct fs_front *f, uint16_t u1, uint16_t u0)
{
	double t0 = fs_now();

	while (fs_now() - t0 < 1.2) {
		if (fs_used_idx(f, FS_REQQ) != u1 || fs_used_idx(f, FS_HIPRIO) != u0)
			return false;
		usleep(1000);
	}
	return true;
}

/* After the resume: the n requests complete (the FORGET with length 0). */
static void
fs_suspend_complete(struct fs_front *f, struct fs_slot **s, unsigned int n)
{
	bool ok = true;

	for (unsigned int i = 0; i < n; i++) {
		fs_wait(f, s[i], f->o->timeout_ms);
		if (s[i]->vq == FS_HIPRIO)
			ok &= fs_check(f, s[i]->done && s[i]->used_len == 0,
				       "forget posted while suspended used after resume",
				       "done %d length %u", s[i]->done, s[i]->used_len);
		else
			ok &= fs_reply_ok(f,
					  "requests posted while suspended complete after resume",
					  s[i], 0, sizeof(struct fuse_attr_out));
		if (s[i]->done)
			fs_slot_put(s[i]);
	}
	if (ok)
		fs_check(f, true, "requests posted while suspended complete after resume", NULL);
}

/* Suspend with requests in flight: what was taken completes, the rest
 * waits. */
static void
fs_suspend_again(struct fs_front *f)
{
	struct fs_slot *s[8];
	unsigned int n;
	uint16_t u1;

	fs_sync("suspend-again");
	u1 = fs_used_idx(f, FS_REQQ);
	for (n = 0; n < 8; n++) {
		s[n] = fs_post_getattr(f, FUSE_ROOT_ID);
		if (s[n] == NULL)
			break;
	}
	usleep(500 * 1000);
	fs_check(f, fs_used_idx(f, FS_REQQ) == u1, "suspended twice: still nothing used",
		 "used idx %u->%u", u1, fs_used_idx(f, FS_REQQ));
	fs_sync("posted-again");
	fs_getattrs_done(f, s, n, "second resume: requests complete");
}

void
scenario_suspend(struct fs_front *f)
{
	struct fs_slot *s[48];
	unsigned int n;
	uint16_t u1, u0;
	double t0;
	bool still;

	if (!fs_init(f))
		return;
	fs_root_alive(f, "init");
	/* the caller suspends the device now */
	fs_sync("running");
	u1 = fs_used_idx(f, FS_REQQ);
	u0 = fs_used_idx(f, FS_HIPRIO);
	n = fs_suspend_post(f, s);
	t0 = fs_now();
	still = fs_suspend_still(f, u1, u0);
	fs_check(f, n == 41 && still, "no used entry while suspended",
		 "posted %u, used idx moved %u->%u / %u->%u", n, u1, fs_used_idx(f, FS_REQQ), u0,
		 fs_used_idx(f, FS_HIPRIO));
	/* the caller resumes the device now */
	fs_sync("posted");
	fs_suspend_complete(f, s, n);
	printf("info resumed: %.0f ms after posting\n", (fs_now() - t0) * 1000);
	fs_suspend_again(f);
	fs_root_alive(f, "resume");
}
