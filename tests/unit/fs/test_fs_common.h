/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the unit tests of the virtio-fs FUSE engine (lib/fs), one
 * executable per area (meson.build): each test runs an engine against a
 * temporary directory, without vrings: it builds fuse_in_header + args in a
 * buffer, submits it, polls until it completes and decodes the reply.
 * Most tests run twice: with io_uring, and with helper threads only.
 *
 * Layout of a test's temporary tree:
 *   base/            mkdtemp
 *   base/canary      a file outside the share that must never change
 *   base/outside/    a directory outside the share
 *   base/shared/     the shared directory (nodeid 1)
 */
#ifndef TEST_FS_COMMON_H
#define TEST_FS_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs_priv.h"

/* The largest request and reply buffers a test may build; they start
 * small and grow on demand (t_add(), t_out()). */
#define T_IN_MAX (1u << 21)
#define T_OUT_MAX (1u << 21)

struct t_env {
	bool no_uring;
	char base[128];
	char shared[256];
	char canary[256];
	struct stat canary_st;
	struct vgw_fs *fs;
	uint64_t unique;
	uint32_t uid; /* of the guest process in new requests */
	uint32_t gid;
};

struct t_req {
	uint8_t *in;
	uint32_t in_len;
	uint32_t in_cap; /* allocated at in */
	uint8_t *out;
	uint32_t out_size; /* offered to the engine, <= out_cap */
	uint32_t out_cap;  /* allocated at out */
	struct iovec iv_in[4];
	struct iovec iv_out[4];
	struct vgw_fs_req req;
	/* decoded */
	struct fuse_out_header oh;
	uint8_t *body;
	uint32_t body_len;
};

/* the running test's environment (t_setup() .. t_teardown()) */
extern struct t_env *E;

/* ---- host side ---- */
void t_path(char *dst, const char *rel);
void t_write_host(const char *rel, const char *data);
/* mkdir of a path under the share, mode 0755, asserted */
void t_mkdir_host(const char *rel);
bool t_host_exists(const char *rel);
void t_assert_attr_matches(const struct fuse_attr *a, const char *rel);
int t_cmp_str(const void *a, const void *b);

/* ---- requests ---- */
struct t_req *t_new(uint32_t opcode, uint64_t nodeid);
void t_add(struct t_req *t, const void *p, size_t n);
void t_add_str(struct t_req *t, const char *s);
void t_out(struct t_req *t, uint32_t size);
void t_free(struct t_req *t);
void t_submit_raw(struct t_req *t, uint32_t hdr_len);
void t_decode(struct t_req *t);
void t_wait(struct t_req *t);
int t_run(struct t_req *t);
int t_simple(uint32_t op, uint64_t nodeid, const void *arg, size_t n, const char *s1,
	     const char *s2);
int t_entry_op(uint32_t op, uint64_t parent, const void *arg, size_t n, const char *s1,
	       const char *s2, struct fuse_entry_out *e);
int t_lookup(uint64_t parent, const char *name, struct fuse_entry_out *e);
int t_mkdir(uint64_t parent, const char *name, uint32_t mode, struct fuse_entry_out *e);
int t_getattr(uint64_t nodeid, struct fuse_attr *a);
int t_create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
	     struct fuse_entry_out *e, uint64_t *fh);
int t_open(uint32_t op, uint64_t nodeid, uint32_t flags, uint64_t *fh);
int t_release(uint32_t op, uint64_t fh);
struct t_req *t_read_req(uint32_t op, uint64_t fh, uint64_t off, uint32_t size);
int t_read(uint64_t fh, uint64_t off, void *buf, uint32_t size);
int t_write(uint64_t fh, uint64_t off, const void *buf, uint32_t size);
int t_forget(uint64_t nodeid, uint64_t n);
/* One READDIR of size bytes from off: the names (dots left out, strdup'd)
 * appended to names[*n] (64 at most), the offset of the last entry into
 * *next. Returns the number of entries, dots included (0 at the end). */
unsigned int t_readdir_chunk(uint64_t fh, uint64_t off, uint32_t size, char **names,
			     unsigned int *n, uint64_t *next);
void t_do_init(void);

/* ---- setup ---- */
struct vgw_fs *t_engine(void);
int t_setup(void **state);
int t_teardown(void **state);

/* A test in one I/O mode (its initial state), with t_setup/t_teardown. */
extern bool t_modes[2]; /* { io_uring, helper threads only } */
#define T_URING(f) cmocka_unit_test_prestate_setup_teardown(f, t_setup, t_teardown, &t_modes[0])
#define T_HELPERS(f) cmocka_unit_test_prestate_setup_teardown(f, t_setup, t_teardown, &t_modes[1])

/* Run the tests in both modes: every one with io_uring (group
 * "<name>_io_uring"), then every one with helper threads only
 * ("<name>_helpers_only"). Returns cmocka's result, 0 when all passed. */
struct t_case {
	const char *name;
	CMUnitTestFunction fn;
};
/* clang-format off */
#define T_CASE(f) { #f, f }
/* clang-format on */
int t_run_both(const char *name, const struct t_case *c, size_t n);

#endif
