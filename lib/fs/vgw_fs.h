/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_FS_H
#define VGW_FS_H

/* The FUSE request engine of a virtio-fs device: a host directory shared
 * with a guest. No DPDK here: the ring code translates guest descriptors
 * into iovecs and hands each request over; this module parses it, runs it
 * against the shared directory without ever blocking the calling thread
 * (io_uring, plus a few helper threads for what io_uring cannot do) and
 * writes the reply.
 *
 * Threading: one thread (the poller that owns the device) calls
 * vgw_fs_submit() and vgw_fs_poll(); neither blocks. Requests complete out
 * of order. The helper threads are internal.
 *
 * Sandbox: nothing a guest sends reaches outside shared_dir. Guest names are
 * single path components, checked, and resolved relative to an O_PATH fd of
 * their parent with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) or with
 * the *at() calls that do not follow a trailing symlink. Node ids and file
 * handles are validated (index + generation) before use.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VGW_FS_TAG_MAX 37 /* 36 bytes + NUL, virtio-fs config */
#define VGW_FS_DEFAULT_MAX_INODES 65536
#define VGW_FS_DEFAULT_MAX_HANDLES 16384
#define VGW_FS_DEFAULT_MAX_INFLIGHT 256
#define VGW_FS_DEFAULT_QUEUE_SIZE 1024
#define VGW_FS_DEFAULT_HELPERS 2
#define VGW_FS_MAX_PAGES 256 /* FUSE's own limit for max_pages */

enum vgw_fs_cache {
	VGW_FS_CACHE_AUTO = 0, /* timeouts as configured, page cache kept
				 * while the file is unchanged (virtiofsd's auto) */
	VGW_FS_CACHE_NONE,     /* timeouts 0, FOPEN_DIRECT_IO on every open */
	VGW_FS_CACHE_ALWAYS,   /* FOPEN_KEEP_CACHE on every open */
};

struct vgw_fs_conf {
	const char *shared_dir; /* must exist, a directory */
	const char *tag;	/* informative here (the config space is
					 * built by the front-end / vhost layer) */
	enum vgw_fs_cache cache;
	double entry_timeout;	  /* seconds; < 0: default (1.0, 0 for none) */
	double attr_timeout;	  /* seconds; < 0: default (1.0, 0 for none) */
	bool writeback;		  /* FUSE_WRITEBACK_CACHE, off by default */
	bool xattr;		  /* serve *XATTR (else ENOSYS, like
					 * virtiofsd's -o no_xattr) */
	bool posix_locks;	  /* negotiate FUSE_POSIX_LOCKS (see
					 * fs_lock.c for the SETLKW semantics) */
	uint32_t queue_size;	  /* of the request virtqueue: max_pages is
					 * capped at queue_size - 4 like Linux
					 * does; 0: VGW_FS_DEFAULT_QUEUE_SIZE */
	uint32_t max_pages;	  /* 0: min(256, queue_size - 4) */
	uint32_t max_inodes;	  /* table sizes, fixed at create time; */
	uint32_t max_handles;	  /* 0: defaults above */
	uint32_t max_fds;	  /* the host fds the tables may hold, an
					 * inode's and an open handle's: the
					 * device's share of the process's
					 * RLIMIT_NOFILE, split between the two
					 * tables (vgw_fs_fd_split()); beyond
					 * it a lookup or open answers ENFILE.
					 * 0: the table sizes alone */
	uint32_t max_inflight;	  /* requests submitted and not yet
					 * reaped; 0: default */
	uint32_t helpers;	  /* helper threads; 0: default */
	const void *iowq_cpus;	  /* a cpu_set_t: where io_uring's own
					 * worker threads (blocking I/O it
					 * punts) may run, set from the thread
					 * that polls the engine; NULL: the
					 * kernel's choice (that thread's CPUs,
					 * which a poller keeps busy) */
	uint32_t fstat_inline_ns; /* a statx of an fd runs on the poller
				   * while such calls take no longer than
				   * this on average; 0: 1,000 (tests set
				   * 1 to see the back-off) */
	bool no_uring;		  /* run every I/O on the helper threads
					 * (for tests, or where io_uring is
					 * disabled); also used automatically
					 * when io_uring cannot be set up */
	/* A line for the operator (no newline) on what the guest made the
	 * engine refuse or leave out, called from the polling thread on an
	 * error path, a few times a minute at most; NULL: none. */
	void (*warn)(void *arg, const char *line);
	void *warn_arg;
};

/* Fill c with the defaults (shared_dir and tag NULL). */
void vgw_fs_conf_init(struct vgw_fs_conf *c);

/* How max_fds host fds are split between tables of max_inodes and
 * max_handles entries (0: the defaults): in their proportion, at least 2
 * inodes (the root and one) and 1 handle, never beyond the tables. */
void vgw_fs_fd_split(uint32_t max_fds, uint32_t max_inodes, uint32_t max_handles, uint32_t *inodes,
		     uint32_t *handles);

/* One request. Caller-owned (preallocated per ring slot); the caller sets
 * the first block, vgw_fs fills the second; the rest is private while the
 * request is in flight. in: device-readable buffers (fuse_in_header + args,
 * WRITE data); out: device-writable buffers (fuse_out_header + body). The
 * iovec arrays and the buffers must stay valid until the request is reaped.
 */
struct vgw_fs_req {
	const struct iovec *in;
	unsigned int in_cnt;
	const struct iovec *out;
	unsigned int out_cnt;
	void *user; /* the caller's cookie */
	/* Set by the caller: 0, or the request was taken again after a crash
	 * of the back-end that had started it (CLOCK_REALTIME_COARSE, ns, when
	 * it was first started) and may have been done on the host already.
	 * An operation that then finds its own work done answers as the first
	 * try would have: an UNLINK finding no name, a MKDIR finding the
	 * directory made since (birth time, else change time, not before
	 * this) succeed (doc/keeper.rst). */
	uint64_t redo_since_ns;
	/* Set by the caller: 8 bytes that outlive a crash of the back-end
	 * (NULL: none), the same for the request's first try and its redo.
	 * The engine notes there, before the host operation, what a redo must
	 * know to tell whether the first try was done: for a WRITE through an
	 * O_APPEND handle, the file's size before it (+ 1; 0: nothing). */
	uint64_t *redo_note;

	/* filled on completion */
	uint32_t out_len;	/* bytes written into out (0: no reply,
					 * FORGET and BATCH_FORGET) */
	int32_t error;		/* the reply's error (0 or -errno), for
					 * the caller's statistics */
	uint32_t opcode;	/* the request's opcode (0 if unreadable) */
	uint32_t bytes_read;	/* READ payload returned */
	uint32_t bytes_written; /* WRITE payload accepted */

	/* private */
	void *priv;
};

/* Per-device counters; plain fields written by the poller thread only. */
#define VGW_FS_OP_MAX 64
struct vgw_fs_stats {
	uint64_t requests;
	uint64_t ops[VGW_FS_OP_MAX]; /* by FUSE opcode; others in ops[0] */
	uint64_t errors;	     /* replies with error != 0 */
	uint64_t enosys;	     /* unimplemented opcodes */
	uint64_t malformed;	     /* requests refused before dispatch */
	uint64_t bytes_read;	     /* READ payload returned */
	uint64_t bytes_written;	     /* WRITE payload accepted */
	uint64_t busy;		     /* vgw_fs_submit() returned -EBUSY */
	uint64_t uring_ops;	     /* operations run by io_uring */
	uint64_t helper_ops;	     /* operations run by helper threads */
	/* set by vgw_fs_state_load() (on its control thread, before the
	 * engine serves requests) */
	uint64_t state_stale_inodes;   /* could not be reopened: ESTALE */
	uint64_t state_stale_handles;  /* could not be reopened: ESTALE */
	uint64_t state_changed_inodes; /* reopened, another dev/ino */
	uint64_t vault_kept;	       /* fds of unlinked files parked */
	uint64_t vault_full;	       /* could not be parked: ESTALE after a crash */
	uint64_t vault_taken;	       /* given back to a taken-over inode */
	uint64_t vault_released;       /* closed by a sweep: no inode held
					* them parked any more */
	uint64_t inline_ops;	       /* statx of an fd run on the poller */
	uint64_t inline_backoffs;      /* times those were found too slow
					* and given to io_uring for a while */
	uint64_t vault_parked;	       /* fds in the vault now */
	uint64_t long_names;	       /* directory entries left out of READDIR
					* and READDIRPLUS: names longer than
					* NAME_MAX (exFAT, CIFS, ntfs3 have
					* names of up to 765 bytes) */
};

struct vgw_fs;

/* Create a device serving c->shared_dir. Returns NULL with errno set
 * (EINVAL for a bad conf, ENOTDIR, ENOENT, ENOMEM, ...). */
struct vgw_fs *vgw_fs_create(const struct vgw_fs_conf *c);

/* Waits for the requests still in flight (the caller has stopped
 * submitting), stops the helpers, closes every fd, unmaps the tables. */
void vgw_fs_destroy(struct vgw_fs *fs);

/* Start a request. 0: accepted, it will be returned by vgw_fs_poll()
 * (possibly already at the next call). -EBUSY: max_inflight requests are
 * in flight, retry after polling. -EINVAL: req is NULL or has no buffers.
 * A malformed request is accepted and completes with an error reply when
 * out has room for a fuse_out_header (else with out_len 0). */
int vgw_fs_submit(struct vgw_fs *fs, struct vgw_fs_req *req);

/* Advance the I/O and reap up to max completed requests into done[];
 * returns how many. Never blocks. */
unsigned int vgw_fs_poll(struct vgw_fs *fs, struct vgw_fs_req **done, unsigned int max);
/* Requests submitted and not yet reaped: the ones the kernel (io_uring,
 * the helper threads) still works on, and those done and not polled yet.
 * Closes the engine fires and forgets are not counted: nothing waits for
 * them. */
unsigned int vgw_fs_inflight(const struct vgw_fs *fs);

const struct vgw_fs_stats *vgw_fs_stats(const struct vgw_fs *fs);

/* The name of a FUSE opcode ("LOOKUP", "CREATE", ...: <linux/fuse.h>'s
 * without FUSE_), NULL when it has none below VGW_FS_OP_MAX. */
const char *vgw_fs_opname(uint32_t opcode);

/* The memfd that holds the inode and handle tables (position independent:
 * indices and generations, no pointers) and its size, for a later adopter
 * (restart, migration). The fd stays owned by fs. */
int vgw_fs_table_fd(const struct vgw_fs *fs, uint64_t *size);

/* Number of inodes (root included) and open handles in the tables. */
unsigned int vgw_fs_inode_count(const struct vgw_fs *fs);
unsigned int vgw_fs_handle_count(const struct vgw_fs *fs);

/* ---- session state (live migration) ----
 *
 * The guest keeps its FUSE node ids and file handles across a migration:
 * the destination engine must answer them as the source did. The state is
 * written and read with the device-state codec (lib/state, vgw_state.h) in
 * sections of types VGW_FS_SEC_FIRST..VGW_FS_SEC_LAST, described in
 * fs_state.c. Both calls run on a control thread, never concurrently with
 * vgw_fs_submit()/vgw_fs_poll() on the same engine, and may block (they
 * open and stat files).
 *
 * What is carried: the negotiated INIT session, every inode the guest
 * holds (index, generation, lookup count, parent and name to find it
 * again, mode, dev/ino) and every open handle (index, generation, inode,
 * open flags). Not carried, because the engine keeps none of it:
 * directory stream positions (each READDIR carries its offset, the
 * destination seeks its own fd there) and file offsets (READ/WRITE carry
 * theirs). Not carried, because it cannot be: host locks (OFD locks and
 * flock()s on the source's fds; the guest loses them, as on a server
 * restart). */

#define VGW_FS_STATE_DEV_TYPE "virtio-fs"
#define VGW_FS_SEC_FIRST 0x0100 /* the range fs owns */
#define VGW_FS_SEC_SESSION 0x0100
#define VGW_FS_SEC_INODES 0x0101
#define VGW_FS_SEC_HANDLES 0x0102
#define VGW_FS_SEC_SLOTS 0x0103 /* optional */
#define VGW_FS_SEC_LAST 0x01ff

struct vgw_state_writer;
struct vgw_state_reader;

/* Append the session's sections to w (whose device type and framing are
 * the caller's). Each inode's name is checked to still lead to it (else
 * it is saved without a path, and is stale on the destination rather
 * than another file there). -EBUSY when a request is in flight (nothing
 * written); -ENOMEM, -EMFILE; or the writer's error (-EFBIG over its cap,
 * ...). */
int vgw_fs_state_save(struct vgw_fs *fs, struct vgw_state_writer *w);

/* Load a session into a fresh engine: created, no INIT served, only the
 * root in its tables, nothing in flight (else -EBUSY). Takes every section
 * from r's position on: fs sections are applied, sections of other owners
 * skipped, unknown fs sections skipped unless CRITICAL (then rejected).
 *
 * Inodes and handles come back at the same indices and generations, so the
 * guest's node ids and fhs stay valid. Each inode is reopened by its
 * parent's O_PATH fd and its name, with the same openat2() sandbox as a
 * LOOKUP. An inode that cannot be reopened (gone on this host, or now of
 * another file type), and everything below it, stays in the tables but
 * answers ESTALE (its handles too) until the guest forgets it; one that is
 * found with another dev/ino is accepted. Both are counted in
 * vgw_fs_stats() (state_*).
 *
 * Every field of the stream is checked (indices in range and not the root,
 * no duplicates, generations, parents defined before their children and
 * being directories, names that a LOOKUP would accept, handles on inodes of
 * the stream, open flags, the session against this engine's
 * configuration). An inconsistent stream is rejected as a whole: -EBADMSG
 * (or -EOPNOTSUPP, -ENOMEM, -EMFILE, ...) with one line in why, and the
 * engine is put back exactly as fresh as it was (same object, nothing
 * recreated), ready for INIT or another load. */
int vgw_fs_state_load(struct vgw_fs *fs, struct vgw_state_reader *r, char *why, size_t why_len);

/* The same over a whole stream of device type VGW_FS_STATE_DEV_TYPE, for a
 * transfer of the engine's state alone. save: *buf is the caller's to
 * free(); max_bytes caps the stream (0: the codec's limit). */
int vgw_fs_state_save_buf(struct vgw_fs *fs, size_t max_bytes, void **buf, size_t *len, char *why,
			  size_t why_len);
int vgw_fs_state_load_buf(struct vgw_fs *fs, const void *buf, size_t len, char *why,
			  size_t why_len);

/* ---- adoption (crash recovery) ---- */

/* Take over the session of a dead engine from its table memfd
 * (vgw_fs_table_fd of that engine): fs must be fresh (no INIT served,
 * nothing in flight). The region is untrusted: its header is checked
 * against its size and our limits, and its tables go through the same
 * checks as a loaded device state. 0, or < 0 with one line in why and fs
 * left fresh.
 *
 * The memfd is mapped privately and only read: it stays the caller's, as
 * it was (no other holder may shrink it meanwhile). Header: magic,
 * version and header size, the size it claims within the memfd's, entry
 * sizes, both tables inside the region, slots used within the tables,
 * counts within the slots used, the root a directory in use. Entries: a
 * live inode's name NUL-terminated, an open handle on an inode in use,
 * parent hints within the slots used and without a cycle (all -EBADMSG).
 * What a dead engine can legitimately leave behind is taken as a live
 * engine's save takes it: an entry it was filling (no lookup reference
 * yet) is left out, an inode whose parent was forgotten is loaded stale.
 * The entries then go, as a session stream, through vgw_fs_state_load():
 * every inode reopened by its parent and its name (nothing to verify
 * against: ESTALE when gone or of another type), indices checked against
 * this engine's tables (which may differ in size from the region's), the
 * INIT session against this engine's configuration. Counted as a load in
 * vgw_fs_stats() (state_*). Runs on a control thread, may block. */
int vgw_fs_adopt(struct vgw_fs *fs, int memfd, char *why, size_t why_len);
/* As vgw_fs_adopt(), with the dead session's vault (both ends of its
 * socket pair; -1: none): its parked fds go back to the inodes that are
 * gone from their names, and the vault becomes ours. */
int vgw_fs_adopt_vault(struct vgw_fs *fs, int memfd, int vault_rx, int vault_tx, char *why,
		       size_t why_len);
/* Under a keeper: a vault for the fds of files unlinked while held
 * (fs_vault.c). 0 or -errno. */
int vgw_fs_vault_open(struct vgw_fs *fs);
/* Its two ends into fds[0..1], the session keeps owning them; 0 without. */
unsigned int vgw_fs_vault_fds(const struct vgw_fs *fs, int *fds);

#endif /* VGW_FS_H */
