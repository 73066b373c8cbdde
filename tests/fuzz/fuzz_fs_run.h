/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the fs fuzz targets: one request through an engine, run to
 * completion on the calling thread. */
#ifndef FUZZ_FS_RUN_H
#define FUZZ_FS_RUN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vgw_fs.h"

/* The request's len bytes at in; the reply into out (the 16-byte header,
 * then the body), out_len >= 16 bytes. Returns the FUSE error; aborts
 * when the engine refuses the request or overruns out. */
static inline int32_t
fz_fs_run(struct vgw_fs *fs, const void *in, size_t len, uint8_t *out, size_t out_len)
{
	struct iovec iv, ov[2];
	struct vgw_fs_req req, *done[4];

	iv = (struct iovec){ (void *)(uintptr_t)in, len };
	ov[0] = (struct iovec){ out, 16 };
	ov[1] = (struct iovec){ out + 16, out_len - 16 };
	memset(&req, 0, sizeof(req));
	req.in = &iv;
	req.in_cnt = 1;
	req.out = ov;
	req.out_cnt = 2;
	if (vgw_fs_submit(fs, &req) != 0)
		abort();
	while (vgw_fs_inflight(fs) > 0)
		if (vgw_fs_poll(fs, done, 4) == 0)
			usleep(10);
	if (req.out_len > out_len)
		abort();
	return req.error;
}

#endif
