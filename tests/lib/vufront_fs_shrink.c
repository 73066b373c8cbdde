/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vhostgw authors
 */

/*
 * vufront-fs scenario shrink: a front-end that truncates the file of its
 * guest memory under the back-end's mapping, with the rings running. INIT
 * and 8 GETATTRs; then the memory file is cut to 0 bytes and nothing of it
 * is touched again here (our own mapping would fault too): SYNC shrunk,
 * the caller checks that the gateway lives, logged it and stopped this
 * device alone; then SYNC done and the connection ends. A back-end that
 * polls the rings faults on its next read of them.
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vufront_fs.h"

void
scenario_shrink(struct fs_front *f)
{
	if (!fs_init(f))
		return;
	fs_getattr_burst(f, 8, "8 getattrs before the memory shrinks");
	if (!fs_check(f, ftruncate(vufront_mem_fd(f->vu), 0) == 0,
		      "guest memory file truncated to 0 bytes", "%s", strerror(errno)))
		return;
	fs_sync("shrunk");
}
