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

/*
 * vufront-fs scenario slowstop (the gateway with VHOSTGW_TEST_FAULT=
 * fs-slow-read-ms=N, N longer than the gateway's 10 s warning): a READ in
 * flight when the front-end stops the device (GET_VRING_BASE, as QEMU does
 * at a reset). The stop must wait for it: its reply and used entry are
 * there when GET_VRING_BASE answers, the data right; the rings then start
 * again and serve. (A stop that gave up on it would let the late READ
 * write into guest memory after the stop and complete a slot given out
 * again.)
 */
void
scenario_slowstop(struct fs_front *f)
{
	struct fuse_entry_out e;
	struct fs_slot *s;
	uint32_t base[FS_NVQ];
	uint64_t fh;
	uint16_t u1;
	double t0;
	char why[160];
	bool ok = true;

	if (!fs_init(f) || !fs_open_read_file(f, &e, &fh))
		return;
	u1 = fs_used_idx(f, FS_REQQ);
	s = fs_post_read(f, e.nodeid, fh, 4096, 8192);
	if (!fs_check(f, s != NULL, "slow stop: READ posted", NULL))
		return;
	usleep(500 * 1000); /* the gateway takes it; a helper holds it late */
	fs_check(f, fs_used_idx(f, FS_REQQ) == u1, "slow stop: the READ is in flight at the stop",
		 "used idx %u->%u", u1, fs_used_idx(f, FS_REQQ));
	vufront_set_timeout(f->vu, 120000);
	t0 = fs_now();
	for (unsigned int q = 0; q < FS_NVQ && ok; q++)
		ok = fs_check(f, vufront_vq_stop(f->vu, q, &base[q]) == 0,
			      "slow stop: GET_VRING_BASE answered", "ring %u: %s", q,
			      vufront_errmsg(f->vu));
	printf("info stop-ms %.0f\n", (fs_now() - t0) * 1000);
	if (!ok)
		return;
	fs_check(f, fs_used_idx(f, FS_REQQ) == (uint16_t)(u1 + 1),
		 "slow stop: the READ was answered before the stop returned", "used idx %u->%u", u1,
		 fs_used_idx(f, FS_REQQ));
	fs_check(f, base[FS_REQQ] == (uint16_t)(u1 + 1),
		 "slow stop: the request ring's base counts the READ", "base %u, used idx %u",
		 base[FS_REQQ], fs_used_idx(f, FS_REQQ));
	for (unsigned int q = 0; q < FS_NVQ && ok; q++)
		ok = fs_check(f,
			      vufront_vq_start(f->vu, q, (uint16_t)base[q]) == 0 &&
				      vufront_vq_enable(f->vu, q, true) == 0,
			      "slow stop: the rings start again", "ring %u: %s", q,
			      vufront_errmsg(f->vu));
	if (!ok)
		return;
	fs_wait(f, s, f->o->timeout_ms);
	if (fs_reply_ok(f, "slow stop: the READ's reply", s, 0, 0) &&
	    !fs_read_matches(f, s, 4096, 8192, why, sizeof(why)))
		fs_check(f, false, "slow stop: the READ's data", "%s", why);
	if (s->done)
		fs_slot_put(s);
	fs_getattr_burst(f, 32, "slow stop: GETATTRs after the restart");
	fs_root_alive(f, "slow stop");
}
