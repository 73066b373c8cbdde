/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_FS_PRIV_H
#define VGW_FS_PRIV_H

/* Internals of the virtio-fs request engine, shared by fs*.c only.
 *
 * A request runs as a chain of steps on the poller thread. Each step either
 * completes the request (fs_reply*) or starts exactly one asynchronous
 * operation (fs_issue) and names the step to run with its result. An
 * operation runs in io_uring when io_uring has it (kernel 6.1 set), else
 * on a helper thread (getdents64, xattrs, chmod/chown/utimes, readlink,
 * statfs, locks, ...). Helper jobs may touch only their context, the fds
 * pinned in it, the request's iovecs and read-only device fields: the
 * inode and handle tables belong to the poller.
 */

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <linux/fuse.h>
#include <linux/openat2.h>

#include <liburing.h>

#include "vgw_fs.h"

#define FS_IN_HDR ((uint32_t)sizeof(struct fuse_in_header))
#define FS_OUT_HDR ((uint32_t)sizeof(struct fuse_out_header))
#define FS_INBUF 6144	 /* head of IN copied (header, args, names) */
#define FS_SCRATCH 16384 /* per-request scratch (READDIRPLUS records) */
#define FS_MAX_IOV (VGW_FS_MAX_PAGES + 16)
#define FS_HELPER_BUF (128 * 1024) /* per helper thread */
#define FS_ROOT_IDX 1u
#define FS_NPIN 3
#define FS_PAGE 4096u
#define FS_GROW_BYTES (64u * 1024)	   /* table pages populated at a time */
#define FS_HASH_POPULATE_MAX (16ull << 20) /* buckets populated at start up */

#define FS_WARN_NS (10ull * 1000000000) /* one line per kind per 10 s */
/* vault sweeps (fs_vault_sweep): fds looked at per idle pass, per busy
 * pass once a sweep runs, and the parked inodes let go that begin one on
 * a busy pass */
#define FS_SWEEP_IDLE 16u
#define FS_SWEEP_BUSY 4u
#define FS_SWEEP_BUSY_AT 64u

enum fs_warn_kind {
	FS_WARN_LONG_NAME,
	FS_WARN_FD_BUDGET,
	FS_WARN_KINDS,
};

/* ---- memfd region: position independent, indices and generations ---- */

#define FS_REGION_MAGIC 0x312d73662d776776ULL /* "vgw-fs-1" */
#define FS_REGION_VERSION 1

enum fs_ent_state {
	FS_ENT_FREE = 0,
	FS_ENT_USED = 1,
};

struct fs_region_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t size; /* of the whole region */
	uint32_t max_inodes;
	uint32_t max_handles;
	uint32_t hash_size; /* buckets, power of two */
	uint32_t inode_ent_size;
	uint32_t handle_ent_size;
	uint32_t pad0;
	uint64_t off_inodes;
	uint64_t off_handles;
	uint64_t off_hash;
	uint32_t inode_free; /* free list heads (0: empty) */
	uint32_t handle_free;
	uint32_t inode_bump; /* first never used index */
	uint32_t handle_bump;
	uint32_t n_inodes;
	uint32_t n_handles;
	/* negotiated INIT options, for an adopter */
	uint32_t init_done;
	uint32_t proto_minor;
	uint64_t init_flags; /* flags | flags2 << 32 */
	uint32_t max_write;
	uint32_t max_pages;
};

/* How to find the inode again after a restart: its parent's index and its
 * name there when it was first looked up (kept current by our own
 * RENAME), and (dev, ino, mnt_id) to verify what was found. */
struct fs_inode {
	uint32_t gen; /* nodeid = gen << 32 | index */
	uint32_t state;
	uint32_t hnext; /* hash chain, or free list */
	uint32_t parent;
	uint64_t nlookup;
	uint64_t dev;
	uint64_t ino;
	uint64_t mnt_id;
	uint32_t mode;
	uint32_t parent_gen; /* the parent's generation when the hint was set;
			      * 0: not known (a region of an older engine) */
	char name[NAME_MAX + 1];
};

/* fh = gen << 32 | index */
struct fs_handle {
	uint32_t gen;
	uint32_t state;
	uint32_t next; /* free list */
	uint32_t inode;
	uint32_t inode_gen;
	int32_t flags; /* open(2) flags used */
	uint32_t is_dir;
	uint32_t pad;
};

/* ---- asynchronous operations ---- */

/* fs_fstat_inline: a statx of an fd on the poller while the timed ones
 * (1 in 8) take FS_FSTAT_INLINE_NS or less on average; else the next
 * FS_FSTAT_BACKOFF go through io_uring, then it tries again. */
#define FS_FSTAT_INLINE_NS 1000u
#define FS_FSTAT_BACKOFF 4096u

enum fs_aop_kind {
	FS_AOP_OPENAT2,
	FS_AOP_STATX,
	FS_AOP_READV,
	FS_AOP_WRITEV,
	FS_AOP_FSYNC,
	FS_AOP_FALLOCATE,
	FS_AOP_UNLINKAT,
	FS_AOP_RENAMEAT,
	FS_AOP_MKDIRAT,
	FS_AOP_SYMLINKAT,
	FS_AOP_LINKAT,
	FS_AOP_CLOSE,
	FS_AOP_JOB, /* helper threads only */
};

struct vgw_fs;
struct fs_ctx;

typedef void (*fs_step_fn)(struct vgw_fs *fs, struct fs_ctx *c, int res);
/* Runs on a helper thread; buf is the thread's FS_HELPER_BUF scratch.
 * Returns >= 0 or -errno. */
typedef int (*fs_job_fn)(struct vgw_fs *fs, struct fs_ctx *c, uint8_t *buf);

struct fs_aop {
	enum fs_aop_kind kind;
	int fd;
	int fd2;
	const char *path;
	const char *path2;
	int flags;
	uint32_t mode;
	struct open_how how;
	struct statx *stx;
	const struct iovec *iov;
	unsigned int iovcnt;
	uint64_t off;
	uint64_t len;
	fs_job_fn job;
};

/* Per in-flight request context, preallocated (max_inflight of them). */
struct fs_ctx {
	struct vgw_fs_req *req;
	struct fs_ctx *next; /* free list */
	uint32_t opcode;
	uint64_t unique;
	uint64_t nodeid;
	uint32_t uid; /* of the guest process asking */
	uint32_t gid;
	uint32_t in_len;    /* hdr.len, checked <= IN bytes */
	uint32_t head_len;  /* bytes of IN copied into inbuf */
	uint32_t arg_len;   /* argument bytes available in inbuf */
	uint64_t out_cap;   /* OUT bytes */
	const uint8_t *arg; /* inbuf + header */

	uint32_t pin_ino[FS_NPIN]; /* pinned inode indices (0: none) */
	uint32_t pin_fh;	   /* pinned handle index (0: none) */
	uint32_t ino;		   /* inode the request is about */
	uint32_t ino2;		   /* second inode (parent, new parent) */
	uint32_t fh;		   /* handle index */
	int fd;			   /* fds owned by the request until */
	int fd2;		   /* the step that consumes them */
	const char *name;	   /* into inbuf */
	const char *name2;
	uint32_t body_len; /* helper jobs: reply body written */
	uint32_t skipped;  /* READDIR(PLUS): entries left out (long names) */
	uint32_t count;	   /* op specific */
	uint64_t u64;	   /* op specific */
	uint32_t flags;	   /* op specific */
	int jfd;	   /* fds a helper job works on (pinned) */
	int jfd2;

	uint64_t redo_ns; /* vgw_fs_req.redo_since_ns */
	uint64_t *note;	  /* vgw_fs_req.redo_note */
	uint64_t before;  /* a redone append: the size its first try noted */
	bool redo_check;  /* the entry found must be new since redo_ns */

	fs_step_fn step;
	struct fs_aop aop;
	int res;
	char pname[16]; /* decimal fd names under /proc/self/fd */
	char pname2[16];
	struct statx stx;
	unsigned int iovcnt;
	struct iovec iov[FS_MAX_IOV];
	uint8_t inbuf[FS_INBUF] __attribute__((aligned(8)));
	uint8_t scratch[FS_SCRATCH] __attribute__((aligned(8)));
};

/* lock-free single-producer single-consumer ring of contexts */
struct fs_spsc {
	_Atomic uint32_t head;
	uint8_t pad0[60];
	_Atomic uint32_t tail;
	uint8_t pad1[60];
	uint32_t mask;
	struct fs_ctx **slot;
};

struct fs_helper {
	struct vgw_fs *fs;
	pthread_t th;
	bool started;
	sem_t sem;
	struct fs_spsc sub;  /* poller -> helper */
	struct fs_spsc comp; /* helper -> poller */
	uint8_t *buf;
};

struct vgw_fs {
	/* configuration */
	char *shared_dir;
	char tag[VGW_FS_TAG_MAX];
	enum vgw_fs_cache cache;
	uint64_t entry_sec;
	uint32_t entry_nsec;
	uint64_t attr_sec;
	uint32_t attr_nsec;
	bool writeback;
	bool xattr;
	bool posix_locks;
	uint32_t max_pages;
	uint32_t max_write;

	/* tables */
	int memfd;
	void *region;
	uint64_t region_size;
	struct fs_region_hdr *hdr;
	struct fs_inode *inodes;
	struct fs_handle *handles;
	uint32_t *hash;
	int *ino_fd;	      /* O_PATH fd per inode index (process local) */
	uint32_t *ino_pin;    /* in-flight requests using the inode */
	uint8_t *ino_vaulted; /* its fd is parked in the vault already: 1,
			       * or the mark of the sweep that saw it */
	int *fh_fd;	      /* open fd per handle index */
	uint32_t *fh_pin;
	uint8_t *fh_dead;   /* released while pinned: close on unpin */
	uint8_t *fh_warned; /* a long name of this open directory reported */
	uint32_t ino_cap;   /* inodes and handles the device's share of the */
	uint32_t fh_cap;    /* process's fds lets it hold (vgw_fs_fd_split) */
	int proc_fd;	    /* O_PATH /proc/self/fd */
	bool own_new;	    /* running as root: new entries get the
					 * asking guest process's uid and gid */

	/* table pages populated ahead of use (fs_tables_grow) */
	uint32_t ino_ready; /* entries below these have their pages */
	uint32_t fh_ready;
	bool populate; /* MADV_POPULATE_WRITE works here */

	/* requests */
	uint32_t max_inflight;
	uint32_t inflight;
	struct fs_ctx *ctxs;
	struct fs_ctx *ctx_free;
	struct vgw_fs_req **done; /* ring of completed requests */
	uint32_t done_head;
	uint32_t done_tail;

	/* I/O */
	bool use_uring;
	struct io_uring ring;
	uint32_t sq_pending; /* sqes prepared, not yet submitted */
	uint32_t bg_ops;     /* fire-and-forget closes in io_uring */
	cpu_set_t iowq_cpus;
	bool iowq_aff_pending; /* set it at the poller's first submit */
	unsigned int n_helpers;
	struct fs_helper *helpers;
	/* statx of an fd run on the poller itself (fs_fstat_inline): done,
	 * waiting for their step at the next progress */
	bool fstat_inline;	 /* the share is on a local file system */
	dev_t fstat_dev;	 /* ... and on this device if no disk's */
	uint32_t fstat_limit_ns; /* inline while the mean stays below */
	uint32_t fstat_mean_ns;	 /* of the timed inline calls (1 in 8) */
	uint32_t fstat_calls;
	uint32_t fstat_skip; /* through io_uring before trying again */
	struct fs_ctx **inl; /* max_inflight entries */
	uint32_t n_inl;
	atomic_bool stop;
	/* VHOSTGW_TEST_FAULT=fs-slow-read-ms=N (tests only): every READ on a
	 * helper, N ms late */
	uint32_t test_slow_read_ms;

	struct vgw_fs_stats stats;
	/* the last session load's first stale inode and why, for its log line */
	char stale_first[112];
	int vault[2];	     /* fs_vault.c: receive and send ends, or -1 */
	uint32_t vault_dead; /* parked inodes let go since a sweep last began */
	uint32_t vault_left; /* fds the running sweep has still to look at
			      * (stats.vault_parked: fds in its queue) */
	uint8_t vault_epoch; /* the running sweep's mark (ino_vaulted) */

	/* the operator's lines (vgw_fs_conf.warn), each kind at most one per
	 * FS_WARN_NS, with the count of those left out since */
	void (*warn)(void *arg, const char *line);
	void *warn_arg;
	uint64_t warn_ns[FS_WARN_KINDS];
	uint64_t warn_missed[FS_WARN_KINDS];
};

/* fs.c: a line for the operator, of one kind at most every FS_WARN_NS
 * (the others counted and told in the next one); error paths only. */
void fs_warn(struct vgw_fs *fs, enum fs_warn_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* fs.c: replies and completion */
void fs_complete(struct vgw_fs *fs, struct fs_ctx *c, int err, uint32_t out_len);
void fs_reply_err(struct vgw_fs *fs, struct fs_ctx *c, int err);
void fs_reply(struct vgw_fs *fs, struct fs_ctx *c, const void *body, uint32_t len);
void fs_reply2(struct vgw_fs *fs, struct fs_ctx *c, const void *b1, uint32_t l1, const void *b2,
	       uint32_t l2);
/* Reply with a header and the body_len bytes a helper wrote at offset 16. */
void fs_reply_body(struct vgw_fs *fs, struct fs_ctx *c, int res);
size_t fs_out_write(const struct fs_ctx *c, uint64_t off, const void *src, size_t len);
size_t fs_in_read(const struct fs_ctx *c, uint64_t off, void *dst, size_t len);
/* Build c->iov over `len` bytes of in (is_out false) or out at off. */
uint64_t fs_iov_range(struct fs_ctx *c, bool is_out, uint64_t off, uint64_t len);
/* Parse a NUL-terminated name at *off of the args; advance *off. */
int fs_arg_name(struct fs_ctx *c, uint32_t *off, const char **name, bool allow_dots);
int fs_check_name(const char *name, size_t len, bool allow_dots);
/* 0 when the arguments end at *off (after the last name), else -EINVAL. */
int fs_arg_end(const struct fs_ctx *c, uint32_t off);
void fs_fill_attr(const struct vgw_fs *fs, struct fuse_attr *a, const struct statx *st);
void fs_fill_entry(const struct vgw_fs *fs, struct fuse_entry_out *e, uint64_t nodeid,
		   const struct statx *st);
bool fs_out_room(struct vgw_fs *fs, struct fs_ctx *c, uint32_t body);
void fs_pname(char *dst, int fd);

/* fs_data.c: READDIR(PLUS) records from getdents64's entries, on a helper
 * thread. A name longer than NAME_MAX (exFAT, CIFS, ntfs3 hold UTF-8
 * names of up to 765 bytes) is left out and counted in skipped: the
 * guest could not look it up, nor the tables hold it. */
struct fs_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* One READDIRPLUS record in c->scratch, written by the helper, turned
 * into a fuse_direntplus by the poller (which owns the inode table). */
struct fs_dplus_rec {
	int32_t fd; /* O_PATH fd of the entry, or -1 */
	uint16_t namelen;
	uint8_t type;
	uint8_t pad;
	uint64_t off;
	uint64_t dev;
	uint64_t mnt;
	struct fuse_attr attr;
	char name[];
};

static inline uint32_t
fs_rec_size(uint32_t namelen)
{
	return (uint32_t)FUSE_DIRENT_ALIGN(sizeof(struct fs_dplus_rec) + namelen + 1);
}

struct fs_dfill {
	uint64_t want; /* reply bytes at most */
	uint64_t olen; /* reply bytes (fuse_dirent or fuse_direntplus) */
	uint64_t slen; /* READDIRPLUS: bytes of records in c->scratch */
	uint32_t nrec; /* entries */
	uint32_t skipped;
	bool full; /* stopped at an entry that did not fit */
};

/* The entries of dbuf[0, n) as fuse_dirents into obuf at f->olen. */
void fs_readdir_fill(struct fs_dfill *f, const uint8_t *dbuf, long n, uint8_t *obuf);
/* The entries of dbuf[0, n), found in the directory c->jfd, as records
 * into c->scratch at f->slen (fds opened, attributes read). */
void fs_readdirplus_fill(const struct vgw_fs *fs, struct fs_ctx *c, struct fs_dfill *f,
			 const uint8_t *dbuf, long n);

/* fs_io.c */
int fs_io_init(struct vgw_fs *fs, bool no_uring, unsigned int helpers, int root_fd,
	       const struct statx *root);
void fs_io_fini(struct vgw_fs *fs);
void fs_issue(struct vgw_fs *fs, struct fs_ctx *c, fs_step_fn step);
void fs_issue_job(struct vgw_fs *fs, struct fs_ctx *c, fs_job_fn job, fs_step_fn step);
void fs_close_async(struct vgw_fs *fs, int fd);
void fs_io_flush(struct vgw_fs *fs);
unsigned int fs_io_progress(struct vgw_fs *fs);
int fs_aop_exec(struct fs_aop *a);
void fs_aop_openat2(struct fs_aop *a, int dirfd, const char *path, int flags, uint32_t mode,
		    uint64_t resolve);
void fs_aop_statx(struct fs_aop *a, int dirfd, const char *path, int flags, struct statx *stx);

/* fs_inode.c */
int fs_tables_init(struct vgw_fs *fs, uint32_t max_inodes, uint32_t max_handles);
void fs_tables_fini(struct vgw_fs *fs);
/* Populate the next chunk of a table's pages when its bump index comes
 * near the populated ones (an idle pass: none of it on a request). */
void fs_tables_grow(struct vgw_fs *fs);
uint64_t fs_nodeid(const struct vgw_fs *fs, uint32_t idx);
uint32_t fs_inode_get(const struct vgw_fs *fs, uint64_t nodeid);
uint32_t fs_inode_find(const struct vgw_fs *fs, uint64_t dev, uint64_t ino, uint64_t mnt);
uint32_t fs_inode_insert(struct vgw_fs *fs, const struct statx *st, int fd, uint32_t parent,
			 const char *name);
void fs_inode_forget(struct vgw_fs *fs, uint32_t idx, uint64_t n);
void fs_inode_pin(struct vgw_fs *fs, struct fs_ctx *c, uint32_t idx);
void fs_unpin_all(struct vgw_fs *fs, struct fs_ctx *c);
void fs_inode_rename(struct vgw_fs *fs, uint32_t idx, uint32_t parent, const char *name);
/* Whether inode idx's reopen hint is (parent, name); the used inode whose
 * hint it is (a scan: for the rare RENAME_EXCHANGE), or 0. */
bool fs_inode_hint_is(const struct vgw_fs *fs, uint32_t idx, uint32_t parent, const char *name);
uint64_t fs_fh(const struct vgw_fs *fs, uint32_t idx);
uint32_t fs_handle_get(const struct vgw_fs *fs, uint64_t fh, bool is_dir);
uint32_t fs_handle_alloc(struct vgw_fs *fs, uint32_t inode, int fd, int flags, bool is_dir);
void fs_handle_pin(struct vgw_fs *fs, struct fs_ctx *c, uint32_t idx);
void fs_handle_release(struct vgw_fs *fs, uint32_t idx);
void fs_tables_reset(struct vgw_fs *fs);
/* Take a lookup reference on the inode at idx (not the root) once per
 * request: counted, when not NULL, is the request's redo note (the node
 * id its first try counted; fs_inode.c). */
void fs_lookup_count(struct vgw_fs *fs, uint32_t idx, uint64_t *counted);
/* The handle an OPEN, OPENDIR or CREATE made before a crash, from its
 * redo note, when the request is taken again and that handle is still
 * usable (open, on its inode as it was); else 0. */
uint32_t fs_redo_handle(const struct vgw_fs *fs, const struct fs_ctx *c, bool is_dir);
/* Register a looked-up (fd, statx) as an entry reply: find or insert, take
 * a lookup reference (fs_lookup_count), fill e. Consumes fd. 0 or -ENFILE. */
int fs_entry_take(struct vgw_fs *fs, int fd, const struct statx *st, uint32_t parent,
		  const char *name, struct fuse_entry_out *e, uint64_t *counted);
/* Same from an already converted attr (READDIRPLUS records). */
int fs_entry_take_attr(struct vgw_fs *fs, int fd, uint64_t dev, uint64_t mnt,
		       const struct fuse_attr *a, uint32_t parent, const char *name,
		       struct fuse_entry_out *e, uint64_t *counted);
/* Whether a handle can be made: a free entry, within the device's share
 * of fds (a warning when that is what is missing). */
bool fs_handle_available(struct vgw_fs *fs);
int fs_open_flags(const struct vgw_fs *fs, uint32_t flags);
void fs_reply_hdr(struct vgw_fs *fs, struct fs_ctx *c, int err, uint32_t body);
#define FS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FS_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

static inline struct fs_inode *
fs_ino(const struct vgw_fs *fs, uint32_t idx)
{
	return &fs->inodes[idx];
}

/* fs_state.c: what the session save walks. A live engine's tables, or
 * those of a dead engine's region (fs_adopt.c): no fds there (ino_fd NULL:
 * nothing to verify by name), no released-while-pinned marks (fh_dead
 * NULL), and strict: a parent hint beyond the used slots or in a cycle
 * stops the save with the reason in why, where a live engine's save makes
 * the inode an orphan. Free slots at or above slot_inodes/slot_handles
 * are not saved (the adopting engine's tables end there). */
struct fs_view {
	const struct fs_region_hdr *hdr;
	const struct fs_inode *inodes;
	const struct fs_handle *handles;
	const int *ino_fd;
	const uint8_t *fh_dead;
	uint32_t features; /* the SESSION section's */
	uint32_t cache;
	uint32_t slot_inodes;
	uint32_t slot_handles;
	size_t max_bytes; /* the stream's cap, 0: the codec's */
	bool strict;
	char why[160];
};

void fs_state_view_of(struct fs_view *v, const struct vgw_fs *fs);
/* The view's session as a whole stream of type VGW_FS_STATE_DEV_TYPE
 * (*buf the caller's to free()); or < 0 with one line in why. */
int fs_state_save_view_buf(struct fs_view *v, void **buf, size_t *len, char *why, size_t why_len);
/* A parked fd read back from a vault (fs_vault.c). */
struct fs_vault_ent {
	int fd;
	bool used; /* taken by an inode: its fd now */
	uint64_t dev;
	uint64_t ino;
};
void fs_vault_close(struct vgw_fs *fs);
/* Look at up to budget parked fds when a parked inode was let go (or a
 * sweep runs): those no inode holds parked any more are closed (an
 * unlinked file's space goes back to the host), the others queued again. */
void fs_vault_sweep(struct vgw_fs *fs, unsigned int budget);
/* Park the fd of the inode at idx (a file just unlinked, still held). */
void fs_vault_keep(struct vgw_fs *fs, uint32_t idx);
/* Take a dead session's vault ends (dups) as ours and read every parked fd
 * out into *ents (malloc'd, *n of them). 0 or -errno. */
int fs_vault_take(struct vgw_fs *fs, int rx, int tx, struct fs_vault_ent **ents, uint32_t *n);
/* An unused parked fd of (dev, ino), now marked used, or -1. */
int fs_vault_find(struct fs_vault_ent *e, uint32_t n, uint64_t dev, uint64_t ino);
void fs_vault_settle(struct vgw_fs *fs, struct fs_vault_ent *e, uint32_t n, bool loaded);

/* How a session stream is loaded: same_host, a take-over on the host that
 * wrote the stream, where a name leading to another (dev, ino) is another
 * file; vault, the parked fds of its unlinked files. */
struct fs_load_opts {
	bool same_host;
	struct fs_vault_ent *vault;
	uint32_t n_vault;
};
int fs_state_load_buf(struct vgw_fs *fs, const void *buf, size_t len, char *why, size_t why_len,
		      const struct fs_load_opts *opts);
/* Created, no INIT served, only the root, nothing in flight. */
bool fs_state_fresh(const struct vgw_fs *fs);

/* per-family dispatch: fs_ns.c, fs_data.c, fs_attr.c, fs_lock.c */
void fs_op_lookup(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_forget(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_batch_forget(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_mkdir(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_mknod(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_symlink(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_link(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_unlink(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_rmdir(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_rename(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_rename2(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_readlink(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_create(struct vgw_fs *fs, struct fs_ctx *c);

void fs_op_open(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_read(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_write(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_flush(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_release(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_fsync(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_fallocate(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_lseek(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_opendir(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_readdir(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_readdirplus(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_releasedir(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_fsyncdir(struct vgw_fs *fs, struct fs_ctx *c);

void fs_op_getattr(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_setattr(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_statfs(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_access(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_getxattr(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_setxattr(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_listxattr(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_removexattr(struct vgw_fs *fs, struct fs_ctx *c);

void fs_op_getlk(struct vgw_fs *fs, struct fs_ctx *c);
void fs_op_setlk(struct vgw_fs *fs, struct fs_ctx *c);

/* Shared by fs_ns.c and fs_data.c: resolve c->ino/name to an O_PATH fd,
 * statx it, and reply with an entry (LOOKUP, MKDIR, ...). */
void fs_lookup_start(struct vgw_fs *fs, struct fs_ctx *c);

/* The args of a request of fixed size sz, or NULL after replying EINVAL. */
const void *fs_args(struct vgw_fs *fs, struct fs_ctx *c, uint32_t sz);
/* Validate c->nodeid, pin it into c->ino; false after replying an error. */
bool fs_need_inode(struct vgw_fs *fs, struct fs_ctx *c);

#endif /* VGW_FS_PRIV_H */
