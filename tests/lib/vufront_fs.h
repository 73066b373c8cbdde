/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs, shared by its files: the front-end's state, requests on the
 * rings (vufront_fs_ring.c), the FUSE operations built on them
 * (vufront_fs_ops.c) and one entry point per scenario family:
 *
 *   vufront_fs_basic.c      basic
 *   vufront_fs_malformed.c  malformed
 *   vufront_fs_suspend.c    suspend, slowstop
 *   vufront_fs_remap.c      remap (and dirty logging)
 *   vufront_fs_inflight.c   inflight, inflight-bad
 *   vufront_fs_resubmit.c   resubmit, resubmit-used, resubmit-late
 *   vufront_fs_migrate.c    migrate, migrate-ctl
 *   vufront_fs_churn.c      churn, orphan, unlinked
 *   vufront_fs_bench.c      bench (a load generator, not a test)
 *   vufront_fs_hostile.c    hostile
 *   vufront_fs_budget.c     budget
 *
 * vufront_fs.c has the options, the scenario table and main().
 */
#ifndef VUFRONT_FS_H
#define VUFRONT_FS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/fuse.h>

#include "vufront.h"

/* C11 atomics on plain fields shared with the back-end (guest memory). */
#define VU_ATOMIC(p) ((_Atomic __typeof__(*(p)) *)(p))

#define FS_HIPRIO 0u
#define FS_REQQ 1u
#define FS_NVQ 2u
#define FS_RING 256u
#define FS_MEM (64u << 20)
#define FS_SLOTS 160u
#define FS_SLOT_IN 8192u
#define FS_SLOT_OUT (64u * 1024 + 64)
#define FS_DATA (1u << 20)
#define FS_TIMEOUT_MS 10000
#define FS_INFLIGHT 64u
#define FS_INFLIGHT_LEN 3000u
#define FS_OUT_HDR ((uint32_t)sizeof(struct fuse_out_header))
#define FS_IN_HDR ((uint32_t)sizeof(struct fuse_in_header))
#define FS_EXTRA_REGION (4u << 20)

struct fs_opts {
	const char *socket;
	const char *socket2; /* migrate: the destination's socket */
	const char *scenario;
	const char *read_file;
	uint64_t read_size;
	unsigned int read_seed;
	const char *write_file;
	uint64_t write_size;
	unsigned int write_seed;
	const char *expect[16];
	unsigned int n_expect;
	int timeout_ms;
	unsigned int rounds;  /* churn: at most this many rounds */
	unsigned int pace_ms; /* churn: sleep between rounds */
	/* bench: operations, requests in flight, seconds each, the read
	 * file's size, the names lookup finds, the prefix of new names */
	const char *ops;
	unsigned int depth;
	double seconds;
	uint64_t file_size;
	unsigned int lookup_files;
	unsigned int max_files; /* create makes no more */
	const char *name_prefix;
	bool verbose;
};

struct fs_slot {
	bool busy;
	bool done;
	unsigned int vq;
	uint16_t head;
	uint64_t unique;
	uint32_t opcode;
	uint64_t in_gpa;
	uint8_t *in;
	uint64_t out_gpa;
	uint8_t *out;
	uint32_t out_body; /* body bytes offered after the header */
	uint32_t used_len;
	uint32_t seq; /* completion order */
};

struct fs_front {
	struct fs_opts *o;
	struct vufront *vu;
	struct fs_slot slots[FS_SLOTS];
	/* head id -> slot index + 1, per ring */
	uint16_t head_slot[FS_NVQ][FS_RING];
	uint64_t next_unique;
	/* every request's header: this process's, read once (three syscalls
	 * per request made the load generator the bottleneck of bench) */
	uint32_t uid;
	uint32_t gid;
	uint32_t pid;
	uint64_t data_gpa;
	uint8_t *data;
	uint64_t aux_gpa; /* 64 KiB for indirect tables and such */
	uint8_t *aux;
	uint32_t max_write;
	uint32_t max_pages; /* from INIT, 0 unless FUSE_MAX_PAGES */
	uint32_t done_seq;
	unsigned int checks;
	unsigned int failed;
	bool gone;    /* the back-end closed the connection */
	bool stalled; /* a request timed out: wait less */
	/* the extra region of the remap scenario */
	int extra_fd;
	uint8_t *extra;
	uint64_t extra_gpa;
	/* inflight scenarios: negotiate INFLIGHT_SHMFD and hand over a region
	 * at bring-up; prepare lays out the rings before they start */
	bool inflight;
	bool inflight_late; /* SET_INFLIGHT_FD just before the kicks */
	int (*prepare)(struct vufront *vu, void *arg);
	int (*inflight_sent)(struct vufront *vu, void *arg); /* after SET_INFLIGHT_FD */
	/* resubmit: the requests a crashed back-end left in flight, and the
	 * one it had returned without clearing it in the region */
	bool resubmit_used;
	struct fs_slot *rs_init;
	struct fs_slot *rs_lookup;
	struct fs_slot *rs_getattr;
	struct fs_slot *rs_returned;
	unsigned int connections; /* to the back-end, this one included */
	/* migrate: DEVICE_STATE negotiated; the saved state to load */
	bool device_state;
	bool state_via_ctl; /* migrate-ctl: the caller moves it */
	uint8_t *state;
	size_t state_len;
	bool state_loaded;
	/* bench: any back-end (the virtiofsds too): the protocol features
	 * are wanted, none is required */
	bool any_backend;
};

struct fs_req {
	uint32_t opcode;
	uint64_t nodeid;
	const void *arg;
	uint32_t arg_len;
	const void *arg2; /* a name, say (NUL included by the caller) */
	uint32_t arg2_len;
	const struct vufront_buf *data; /* extra device-readable buffers */
	unsigned int n_data;
	uint32_t out_body; /* 0: header only; ~0u: no reply buffers */
	uint32_t hdr_len;  /* 0: the true length */
};

#define FS_NO_REPLY 0xffffffffu

/* vufront_fs_ring.c: checks, SYNC points, requests on the rings, bring-up */
uint8_t fs_pattern(unsigned int seed, uint64_t i);
double fs_now(void);
bool fs_check(struct fs_front *f, bool ok, const char *name, const char *fmt, ...);
void fs_sync(const char *tag);
struct fs_slot *fs_slot_get(struct fs_front *f);
void fs_slot_put(struct fs_slot *s);
struct fuse_in_header *fs_slot_header(struct fs_front *f, struct fs_slot *s, uint32_t opcode,
				      uint64_t nodeid, uint32_t len);
void fs_map_head(struct fs_front *f, struct fs_slot *s, unsigned int vq, uint16_t head);
struct fs_slot *fs_post(struct fs_front *f, unsigned int vq, const struct fs_req *r);
struct fs_slot *fs_stage(struct fs_front *f, unsigned int vq, const struct fs_req *r);
int fs_reap(struct fs_front *f, unsigned int vq, int timeout_ms);
bool fs_backend_gone(struct fs_front *f);
int fs_wait(struct fs_front *f, struct fs_slot *s, int timeout_ms);
const struct fuse_out_header *fs_oh(const struct fs_slot *s);
const void *fs_body(const struct fs_slot *s);
bool fs_reply_ok(struct fs_front *f, const char *name, const struct fs_slot *s, int want_err,
		 uint32_t min_body);
struct fs_slot *fs_call(struct fs_front *f, unsigned int vq, const struct fs_req *r,
			const char *name, int want_err, uint32_t min_body);
uint16_t fs_used_idx(struct fs_front *f, unsigned int vq);
void fs_dev_conf(struct fs_front *f, struct vufront_dev_conf *dc, uint64_t pf);
int fs_connect(struct fs_front *f);

/* vufront_fs_ops.c: FUSE operations, each one check or silent on success */
void fs_init_in(struct fuse_init_in *in);
bool fs_init_done(struct fs_front *f, struct fs_slot *s);
bool fs_init(struct fs_front *f);
bool fs_getattr(struct fs_front *f, uint64_t nodeid, const char *name, struct fuse_attr *attr);
bool fs_root_alive(struct fs_front *f, const char *after);
bool fs_lookup(struct fs_front *f, uint64_t parent, const char *fname, const char *name,
	       struct fuse_entry_out *e, int want_err);
bool fs_open(struct fs_front *f, uint32_t opcode, uint64_t nodeid, uint32_t flags, const char *name,
	     uint64_t *fh);
bool fs_release(struct fs_front *f, uint32_t opcode, uint64_t nodeid, uint64_t fh,
		const char *name);
struct fs_slot *fs_post_read(struct fs_front *f, uint64_t nodeid, uint64_t fh, uint64_t off,
			     uint32_t size);
struct fs_slot *fs_post_getattr(struct fs_front *f, uint64_t nodeid);
struct fs_slot *fs_post_statfs(struct fs_front *f);
bool fs_post_many(struct fs_front *f, uint64_t nodeid, uint64_t fh, uint64_t salt,
		  struct fs_slot **rs, uint64_t *roff, const char *name);
bool fs_read_matches(struct fs_front *f, const struct fs_slot *s, uint64_t off, uint32_t len,
		     char *why, size_t whylen);
void fs_getattr_error(struct fs_front *f, uint64_t nodeid, uint32_t out_body, const char *name,
		      int want_err);
bool fs_open_read_file(struct fs_front *f, struct fuse_entry_out *e, uint64_t *fh);
struct fs_slot *fs_post_forget(struct fs_front *f, uint64_t nodeid);
void fs_forget_hiprio(struct fs_front *f, uint64_t nodeid);
void fs_getattrs_done(struct fs_front *f, struct fs_slot **s, unsigned int n, const char *what);
void fs_getattr_burst(struct fs_front *f, unsigned int n, const char *what);

/* vufront_fs_inflight.c, shared with vufront_fs_resubmit.c */
bool fs_inflight_settled(struct fs_front *f, unsigned int q, char *why, size_t len);
bool fs_inflight_all_settled(struct fs_front *f, const char *name);
int fs_inflight_fresh(struct vufront *vu, void *arg);
int fs_inflight_lie_prepare(struct vufront *vu, void *arg);
int fs_inflight_lie_sent(struct vufront *vu, void *arg);
void fs_inflight_bad(struct fs_front *f);

/* vufront_fs_resubmit.c */
int fs_resubmit_prepare(struct vufront *vu, void *arg);

/* one entry point per scenario (family) */
void scenario_basic(struct fs_front *f);
void scenario_malformed(struct fs_front *f);
void scenario_suspend(struct fs_front *f);
void scenario_slowstop(struct fs_front *f);
void scenario_remap(struct fs_front *f);
void scenario_inflight(struct fs_front *f);
void scenario_inflight_bad(struct fs_front *f);
void scenario_inflight_lie(struct fs_front *f);
void scenario_shrink(struct fs_front *f);
void scenario_resubmit(struct fs_front *f);
void scenario_migrate(struct fs_front *f);
void scenario_churn(struct fs_front *f);
void scenario_orphan(struct fs_front *f);
void scenario_unlinked(struct fs_front *f);
void scenario_bench(struct fs_front *f);
void scenario_hostile(struct fs_front *f);
void scenario_budget(struct fs_front *f);

#endif /* VUFRONT_FS_H */
