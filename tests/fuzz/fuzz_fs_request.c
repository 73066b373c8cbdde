/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the input bytes are one virtio-fs request (IN: a
 * fuse_in_header + args, split into two iovecs at an input-chosen point)
 * run against a temporary shared directory with a few files, a directory
 * and symlinks pointing outside. The engine must answer (or stay silent
 * for FORGET) without crashing, leaking, or touching the canary outside. */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vgw_fs *fz_fs;
static char fz_base[64];
static uint8_t fz_out[1 << 17];

static void
fz_file(const char *rel, const char *content)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", fz_base, rel);
	f = fopen(p, "w");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static void
fz_run(const uint8_t *in, size_t len, size_t split)
{
	struct iovec iv[2], ov[2];
	struct vgw_fs_req req, *done[4];

	if (split > len)
		split = len;
	iv[0] = (struct iovec){ (void *)(uintptr_t)in, split };
	iv[1] = (struct iovec){ (void *)(uintptr_t)(in + split), len - split };
	ov[0] = (struct iovec){ fz_out, 24 };
	ov[1] = (struct iovec){ fz_out + 24, sizeof(fz_out) - 24 };
	memset(&req, 0, sizeof(req));
	req.in = iv;
	req.in_cnt = 2;
	req.out = ov;
	req.out_cnt = 2;
	if (vgw_fs_submit(fz_fs, &req) != 0)
		abort();
	while (vgw_fs_inflight(fz_fs) > 0)
		if (vgw_fs_poll(fz_fs, done, 4) == 0)
			usleep(10);
	if (req.out_len > sizeof(fz_out))
		abort();
}

static void
fz_init(void)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} r;

	memset(&r, 0, sizeof(r));
	r.h.len = sizeof(r);
	r.h.opcode = FUSE_INIT;
	r.h.unique = 1;
	r.i.major = 7;
	r.i.minor = 38;
	r.i.flags = 0xffffffff;
	fz_run((const uint8_t *)&r, sizeof(r), sizeof(r));
}

static void
fz_setup(void)
{
	struct vgw_fs_conf c;
	char p[256];

	strcpy(fz_base, "/tmp/vgw-fs-fuzz-XXXXXX");
	if (mkdtemp(fz_base) == NULL)
		abort();
	fz_file("file", "0123456789");
	snprintf(p, sizeof(p), "%s/dir", fz_base);
	mkdir(p, 0755);
	fz_file("dir/inner", "inner");
	snprintf(p, sizeof(p), "%s/up", fz_base);
	symlink("..", p);
	snprintf(p, sizeof(p), "%s/passwd", fz_base);
	symlink("/etc/passwd", p);
	vgw_fs_conf_init(&c);
	c.shared_dir = fz_base;
	c.posix_locks = true;
	c.max_inodes = 4096;
	c.max_handles = 256;
	c.max_inflight = 4;
	fz_fs = vgw_fs_create(&c);
	/* as under the keeper: files unlinked while held are parked in the
	 * vault, and its sweeps let them go once forgotten */
	if (fz_fs == NULL || vgw_fs_vault_open(fz_fs) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fz_fs == NULL)
		fz_setup();
	if (!fz_fs->hdr->init_done)
		fz_init();
	fz_run(data, size, size ? data[size - 1] % (size + 1) : 0);
	return 0;
}
