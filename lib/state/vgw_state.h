/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_STATE_H
#define VGW_STATE_H

/* Device-state codec: the bytes a device saves on the source and loads on
 * the destination (vhost-user DEVICE_STATE, carried over a pipe). Generic:
 * each device type writes and reads its own sections through it, and this
 * module knows none of them. No DPDK, no allocation beyond the writer's
 * buffer and read_fd's result, usable from unit tests directly.
 *
 * Wire format, version 1. Every integer is little-endian and encoded byte
 * by byte; nothing is a struct dump. Offsets are in bytes.
 *
 *   header (40)   0 magic "VGWS"
 *                 4 u16 format version (1)
 *                 6 u16 flags (none defined: a reader rejects any set bit)
 *                 8 char device type[16] (1..15 printable ASCII, NUL, zeros)
 *                24 u64 total length of the stream, trailer included
 *                32 u32 section count
 *                36 u32 CRC32C of header bytes 0..35
 *   sections      one after the other, each starting 8-byte aligned:
 *                 0 u16 type (owner-defined)
 *                 2 u16 section version (owner-defined)
 *                 4 u16 flags (bit 0 CRITICAL; other bits rejected)
 *                 6 u16 reserved, 0
 *                 8 u32 payload length (without padding)
 *                12 u32 CRC32C of section bytes 0..11 and of the padded
 *                       payload
 *                16 payload, then zeros up to a multiple of 8
 *   trailer (8)   0 magic "VGWE"
 *                 4 u32 CRC32C of every byte before it
 *
 * Forward compatibility: a reader hands out only the section types it was
 * told it knows; it skips (and counts) unknown sections unless they are
 * CRITICAL, which reject the whole stream. Inside a section, an owner adds
 * fields at the end and bumps the section version; older readers ignore
 * what they do not read (vgw_state_section_remaining()). A change that old
 * readers cannot ignore is a new critical section or a new format version.
 *
 * Nothing is handed out before the whole stream has been validated: header,
 * every length, every section CRC, the trailer. Every rejection leaves one
 * precise line in the reader (vgw_state_reader_reason()), sections being
 * numbered from 0 in stream order, e.g.
 *   "section 3 (type 0x0102): crc mismatch"
 *   "header: total length 4096 but 4000 bytes given"
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VGW_STATE_FORMAT_VERSION 1
#define VGW_STATE_DEV_TYPE_MAX 16 /* 15 bytes + NUL */
#define VGW_STATE_HDR_SIZE 40
#define VGW_STATE_SEC_HDR_SIZE 16
#define VGW_STATE_TRAILER_SIZE 8
#define VGW_STATE_ALIGN 8

/* Hard limits; a reader or writer may be configured lower, never higher. */
#define VGW_STATE_MAX_SECTIONS 4096
#define VGW_STATE_MAX_SECTION (64u << 20) /* payload bytes */
#define VGW_STATE_MAX_STREAM (256u << 20) /* whole stream */

/* Section flags. */
#define VGW_STATE_F_CRITICAL 0x0001

#define VGW_STATE_REASON_MAX 160

/* CRC32C (Castagnoli), chainable: crc32c(crc32c(0, a), b) == crc32c(0, ab). */
uint32_t vgw_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- writer ---- */

struct vgw_state_writer {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t max;	  /* stream cap, trailer included */
	size_t sec_start; /* offset of the open section, SIZE_MAX if none */
	uint16_t sec_type;
	uint32_t n_sections;
	int err; /* first error, sticky */
	char dev_type[VGW_STATE_DEV_TYPE_MAX];
	char reason[VGW_STATE_REASON_MAX];
};

/* max_bytes: cap on the finished stream (0: VGW_STATE_MAX_STREAM). Returns
 * 0 or the (sticky) error: -EINVAL for an invalid device type. */
int vgw_state_writer_init(struct vgw_state_writer *w, const char *dev_type, size_t max_bytes);
int vgw_state_section_begin(struct vgw_state_writer *w, uint16_t type, uint16_t version,
			    uint16_t flags);
int vgw_state_put_u8(struct vgw_state_writer *w, uint8_t v);
int vgw_state_put_u16(struct vgw_state_writer *w, uint16_t v);
int vgw_state_put_u32(struct vgw_state_writer *w, uint32_t v);
int vgw_state_put_u64(struct vgw_state_writer *w, uint64_t v);
int vgw_state_put_bytes(struct vgw_state_writer *w, const void *p, size_t n);
/* A u32 length, then the bytes, without NUL. */
int vgw_state_put_str(struct vgw_state_writer *w, const char *s);
int vgw_state_section_end(struct vgw_state_writer *w);
/* On success hands the stream over (*buf is the caller's to free()) and
 * returns 0. Otherwise returns the first error of the writer's life:
 * -EFBIG (a cap or limit exceeded), -E2BIG (too many sections), -EINVAL
 * (misuse: nesting, put outside a section, section left open, bad flags),
 * -ENOMEM. Either way the writer is released. */
int vgw_state_finish(struct vgw_state_writer *w, void **buf, size_t *len);
/* Abandon a writer without finishing it. */
void vgw_state_writer_free(struct vgw_state_writer *w);
/* The first error as one line, "" if none. */
const char *vgw_state_writer_reason(const struct vgw_state_writer *w);

/* ---- reader ---- */

struct vgw_state_expect {
	const char *dev_type; /* NULL: any device type */
	/* The section types this reader understands. NULL: every type (for
	 * tools that dump a stream); otherwise unknown sections are skipped,
	 * or reject the stream if CRITICAL. */
	const uint16_t *known;
	unsigned int n_known;
	uint32_t max_sections; /* 0: VGW_STATE_MAX_SECTIONS */
	uint32_t max_section;  /* 0: VGW_STATE_MAX_SECTION */
	size_t max_bytes;      /* 0: VGW_STATE_MAX_STREAM */
};

struct vgw_state_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos; /* next section to look at */
	size_t end; /* offset of the trailer */
	const uint16_t *known;
	unsigned int n_known;
	uint32_t n_sections; /* in the stream */
	uint32_t n_skipped;  /* unknown, not critical */
	uint32_t next_index;
	uint16_t flags;
	int err;
	char dev_type[VGW_STATE_DEV_TYPE_MAX];
	char reason[VGW_STATE_REASON_MAX];
};

struct vgw_state_section {
	struct vgw_state_reader *r; /* where get failures leave a reason */
	const uint8_t *data;
	uint32_t len;
	uint32_t pos;
	uint32_t index;
	uint16_t type;
	uint16_t version;
	uint16_t flags;
	int err; /* first get failure, sticky */
};

/* Validates all of buf (which must stay valid and unchanged while sections
 * are read). Returns 0, or -EBADMSG (malformed or corrupt), -EFBIG (over a
 * limit), -EPROTONOSUPPORT (newer format version), -ENODEV (other device
 * type), -EOPNOTSUPP (unknown critical section), -EINVAL (bad arguments),
 * each with its reason. exp may be NULL: defaults, any device type. */
int vgw_state_reader_init(struct vgw_state_reader *r, const void *buf, size_t len,
			  const struct vgw_state_expect *exp);
const char *vgw_state_reader_reason(const struct vgw_state_reader *r);
/* The next known section: 1 and *sec filled, 0 at the end, or the init
 * error. Unknown sections were counted by init (r->n_skipped). */
int vgw_state_next_section(struct vgw_state_reader *r, struct vgw_state_section *sec);

/* Getters: 0, or -EBADMSG when the value runs past the end of the section
 * (the first failure sticks to the section and leaves a reason in the
 * reader). Nothing is consumed by a failing get. */
int vgw_state_get_u8(struct vgw_state_section *s, uint8_t *v);
int vgw_state_get_u16(struct vgw_state_section *s, uint16_t *v);
int vgw_state_get_u32(struct vgw_state_section *s, uint32_t *v);
int vgw_state_get_u64(struct vgw_state_section *s, uint64_t *v);
int vgw_state_get_bytes(struct vgw_state_section *s, void *p, size_t n);
/* Zero-copy: *p points into the stream. */
int vgw_state_get_ref(struct vgw_state_section *s, const void **p, size_t n);
/* A string written by put_str, into dst with its NUL; -ENAMETOOLONG if it
 * does not fit, -EBADMSG if it holds a NUL or runs past the end. */
int vgw_state_get_str(struct vgw_state_section *s, char *dst, size_t size);
size_t vgw_state_section_remaining(const struct vgw_state_section *s);
/* For owners that find a section they cannot accept (say, a version they
 * do not know): records "section N (type 0xTTTT): <fmt>" as the reader's
 * reason, makes the error sticky and returns err. */
int vgw_state_section_fail(struct vgw_state_section *s, int err, const char *fmt, ...)
	__attribute__((format(__printf__, 3, 4)));

/* ---- pipe transfer ---- */

/* Both take a deadline, timeout_ms after the call (< 0: none), past which
 * they no longer wait for the peer: a transfer that needs no waiting
 * completes even with timeout_ms 0. Blocking and non-blocking fds work
 * alike: EINTR and partial transfers are retried, waits are poll()s, so a
 * blocking fd never blocks past the deadline. They return 0 or -errno:
 * -ETIMEDOUT, -EPIPE (the peer closed; SIGPIPE is not raised), -EFBIG,
 * -ENOMEM, -EBADF, or what the I/O said. */
int vgw_state_write_fd(int fd, const void *buf, size_t len, int timeout_ms);
/* Reads to EOF; more than max_bytes (0: VGW_STATE_MAX_STREAM) is -EFBIG.
 * On success *buf (NULL when *len is 0) is the caller's to free(). */
int vgw_state_read_fd(int fd, size_t max_bytes, int timeout_ms, void **buf, size_t *len);
/* The same, cut short by cut_fd (< 0: none): once it is readable (an
 * eventfd written, say) the transfer goes on only as far as it can without
 * waiting, and a wait it would need after that is -ECANCELED: for a peer
 * that has moved on without finishing (a front-end's CHECK_DEVICE_STATE
 * while its end of the pipe is still open), so whoever waits for the
 * transfer does not wait out its deadline. What was already there when the
 * cut came (a whole stream and EOF) still completes. */
int vgw_state_write_fd_cut(int fd, const void *buf, size_t len, int timeout_ms, int cut_fd);
int vgw_state_read_fd_cut(int fd, size_t max_bytes, int timeout_ms, int cut_fd, void **buf,
			  size_t *len);
/* Is fd open for the transfer's direction (write: to write the state to
 * it, else to read it)? 0, -EBADF (not open) or -EINVAL (open the other
 * way only: a pipe's wrong end would be polled for the deadline's whole
 * time, until the front-end closed the other one). */
int vgw_state_fd_usable(int fd, bool write);

#endif /* VGW_STATE_H */
