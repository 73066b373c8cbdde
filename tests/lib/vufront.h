/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront: a small vhost-user front-end for tests (plain libc, no DPDK).
 *
 * Written from QEMU's docs/interop/vhost-user.rst. It plays the part QEMU
 * plays for a guest: it owns the guest memory (one memfd region, guest
 * physical address 0 == offset 0, user address == our mmap address), lays
 * out split virtqueues in it, and drives the back-end over the unix socket.
 *
 * Layers, lowest first; each one is usable on its own, so tests can send
 * malformed or out-of-order messages and hand-built descriptor chains:
 *   1. messages: vufront_send / vufront_recv / vufront_call, any request id,
 *      any payload, SCM_RIGHTS fds both ways;
 *   2. typed requests: vufront_get_features, vufront_set_vring_addr, ...;
 *   3. guest memory and virtqueues: vufront_mem_*, vufront_vq_*, and the
 *      inflight region (INFLIGHT_SHMFD): vufront_inflight_*;
 *   4. bring-up helpers: vufront_negotiate, vufront_dev_start, vufront_net_*.
 *
 * Conventions: functions returning int return 0 (or a count) on success and
 * -errno on failure; the handle then keeps a one-line explanation, read it
 * with vufront_errmsg(). Connection-level errors: -ECONNRESET (the back-end
 * closed the connection), -ETIMEDOUT (no reply in time), -EPROTO (the reply
 * broke the protocol), -EIO (the back-end answered a REPLY_ACK with failure).
 * A handle is not thread-safe. Every resource is released by vufront_close()
 * (the handle stays reusable) or vufront_destroy().
 */

#ifndef VUFRONT_H
#define VUFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VUFRONT_BIT(n) (1ULL << (n))

/* Front-end requests (merged spec numbering). */
enum vufront_request {
	VUFRONT_GET_FEATURES = 1,
	VUFRONT_SET_FEATURES = 2,
	VUFRONT_SET_OWNER = 3,
	VUFRONT_RESET_OWNER = 4,
	VUFRONT_SET_MEM_TABLE = 5,
	VUFRONT_SET_LOG_BASE = 6,
	VUFRONT_SET_LOG_FD = 7,
	VUFRONT_SET_VRING_NUM = 8,
	VUFRONT_SET_VRING_ADDR = 9,
	VUFRONT_SET_VRING_BASE = 10,
	VUFRONT_GET_VRING_BASE = 11,
	VUFRONT_SET_VRING_KICK = 12,
	VUFRONT_SET_VRING_CALL = 13,
	VUFRONT_SET_VRING_ERR = 14,
	VUFRONT_GET_PROTOCOL_FEATURES = 15,
	VUFRONT_SET_PROTOCOL_FEATURES = 16,
	VUFRONT_GET_QUEUE_NUM = 17,
	VUFRONT_SET_VRING_ENABLE = 18,
	VUFRONT_SEND_RARP = 19,
	VUFRONT_NET_SET_MTU = 20,
	VUFRONT_SET_BACKEND_REQ_FD = 21,
	VUFRONT_IOTLB_MSG = 22,
	VUFRONT_SET_VRING_ENDIAN = 23,
	VUFRONT_GET_CONFIG = 24,
	VUFRONT_SET_CONFIG = 25,
	VUFRONT_CREATE_CRYPTO_SESSION = 26,
	VUFRONT_CLOSE_CRYPTO_SESSION = 27,
	VUFRONT_POSTCOPY_ADVISE = 28,
	VUFRONT_POSTCOPY_LISTEN = 29,
	VUFRONT_POSTCOPY_END = 30,
	VUFRONT_GET_INFLIGHT_FD = 31,
	VUFRONT_SET_INFLIGHT_FD = 32,
	VUFRONT_GPU_SET_SOCKET = 33,
	VUFRONT_RESET_DEVICE = 34,
	VUFRONT_VRING_KICK = 35,
	VUFRONT_GET_MAX_MEM_SLOTS = 36,
	VUFRONT_ADD_MEM_REG = 37,
	VUFRONT_REM_MEM_REG = 38,
	VUFRONT_SET_STATUS = 39,
	VUFRONT_GET_STATUS = 40,
	VUFRONT_GET_SHARED_OBJECT = 41,
	VUFRONT_SET_DEVICE_STATE_FD = 42,
	VUFRONT_CHECK_DEVICE_STATE = 43,
};

/* Header flags. */
#define VUFRONT_FLAG_VERSION_MASK 0x3u
#define VUFRONT_FLAG_VERSION 0x1u
#define VUFRONT_FLAG_REPLY 0x4u
#define VUFRONT_FLAG_NEED_REPLY 0x8u

/* Protocol feature bit numbers (GET/SET_PROTOCOL_FEATURES). */
#define VUFRONT_PF_MQ 0
#define VUFRONT_PF_LOG_SHMFD 1
#define VUFRONT_PF_RARP 2
#define VUFRONT_PF_REPLY_ACK 3
#define VUFRONT_PF_MTU 4
#define VUFRONT_PF_BACKEND_REQ 5
#define VUFRONT_PF_CROSS_ENDIAN 6
#define VUFRONT_PF_CRYPTO_SESSION 7
#define VUFRONT_PF_PAGEFAULT 8
#define VUFRONT_PF_CONFIG 9
#define VUFRONT_PF_BACKEND_SEND_FD 10
#define VUFRONT_PF_HOST_NOTIFIER 11
#define VUFRONT_PF_INFLIGHT_SHMFD 12
#define VUFRONT_PF_RESET_DEVICE 13
#define VUFRONT_PF_INBAND_NOTIFICATIONS 14
#define VUFRONT_PF_CONFIGURE_MEM_SLOTS 15
#define VUFRONT_PF_STATUS 16
#define VUFRONT_PF_XEN_MMAP 17
#define VUFRONT_PF_SHARED_OBJECT 18
#define VUFRONT_PF_DEVICE_STATE 19

/* Virtio / vhost feature bit numbers (GET/SET_FEATURES). */
#define VUFRONT_F_NET_CSUM 0
#define VUFRONT_F_NET_MAC 5
#define VUFRONT_F_NET_HOST_TSO4 11
#define VUFRONT_F_NET_HOST_TSO6 12
#define VUFRONT_F_NET_MRG_RXBUF 15
#define VUFRONT_F_NET_CTRL_VQ 17
#define VUFRONT_F_NET_MQ 22
#define VUFRONT_F_LOG_ALL 26 /* VHOST_F_LOG_ALL */
#define VUFRONT_F_INDIRECT_DESC 28
#define VUFRONT_F_EVENT_IDX 29
#define VUFRONT_F_PROTOCOL_FEATURES 30 /* VHOST_USER_F_PROTOCOL_FEATURES */
#define VUFRONT_F_VERSION_1 32
#define VUFRONT_F_IOMMU_PLATFORM 33
#define VUFRONT_F_RING_PACKED 34
#define VUFRONT_F_IN_ORDER 35

/* Virtio device status bits (SET_STATUS / GET_STATUS). */
#define VUFRONT_STATUS_ACK 0x01
#define VUFRONT_STATUS_DRIVER 0x02
#define VUFRONT_STATUS_DRIVER_OK 0x04
#define VUFRONT_STATUS_FEATURES_OK 0x08
#define VUFRONT_STATUS_NEEDS_RESET 0x40
#define VUFRONT_STATUS_FAILED 0x80

/* SET_VRING_KICK / CALL / ERR u64 payload. */
#define VUFRONT_VRING_IDX_MASK 0xffu
#define VUFRONT_VRING_NOFD 0x100u

/* SET_DEVICE_STATE_FD. */
#define VUFRONT_STATE_SAVE 0
#define VUFRONT_STATE_LOAD 1
#define VUFRONT_STATE_PHASE_STOPPED 0
#define VUFRONT_STATE_REPLY_NOFD 0x100u /* reply u64 bit 8: no back-end fd */

#define VUFRONT_MAX_FDS 8	 /* fds per message (both ways) */
#define VUFRONT_MAX_REGIONS 8	 /* SET_MEM_TABLE regions */
#define VUFRONT_PAYLOAD_MAX 4096 /* largest payload vufront_recv accepts */
#define VUFRONT_MAX_VQS 256	 /* ring index is 8 bits in kick/call */
#define VUFRONT_HDR_SIZE 12u	 /* request + flags + size */

/* ---- payloads (native byte order, natural alignment, as in the spec) ---- */

struct vufront_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vufront_vring_addr {
	uint32_t index;
	uint32_t flags; /* bit 0: VHOST_VRING_F_LOG */
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vufront_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vufront_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vufront_mem_region regions[VUFRONT_MAX_REGIONS];
};

/* ADD_MEM_REG / REM_MEM_REG */
struct vufront_mem_reg_single {
	uint64_t padding;
	struct vufront_mem_region region;
};

struct vufront_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

struct vufront_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

struct vufront_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[256];
};

struct vufront_device_state {
	uint32_t transfer_direction; /* VUFRONT_STATE_SAVE / _LOAD */
	uint32_t migration_phase;    /* VUFRONT_STATE_PHASE_STOPPED */
};

union vufront_payload {
	uint64_t u64;
	struct vufront_vring_state state;
	struct vufront_vring_addr addr;
	struct vufront_mem_table mem;
	struct vufront_mem_reg_single mem_reg;
	struct vufront_log log;
	struct vufront_inflight inflight;
	struct vufront_config config;
	struct vufront_device_state device_state;
	uint8_t raw[VUFRONT_PAYLOAD_MAX];
};

/*
 * One message. On the wire: request, flags, size (12 bytes), then size
 * bytes of payload; fds travel as SCM_RIGHTS with the first byte.
 * Received fds belong to the caller: vufront_msg_close_fds().
 */
struct vufront_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union vufront_payload payload;
	int fds[VUFRONT_MAX_FDS];
	unsigned int nfds;
};

/* ---- split virtqueue layout (virtio 1.x, little-endian host assumed) ---- */

#define VUFRONT_DESC_F_NEXT 1
#define VUFRONT_DESC_F_WRITE 2
#define VUFRONT_DESC_F_INDIRECT 4
#define VUFRONT_AVAIL_F_NO_INTERRUPT 1
#define VUFRONT_USED_F_NO_NOTIFY 1

struct vufront_desc {
	uint64_t addr; /* guest physical address */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vufront_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* num entries, then used_event */
};

struct vufront_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vufront_used {
	uint16_t flags;
	uint16_t idx;
	struct vufront_used_elem ring[]; /* num entries, then avail_event */
};

/* A buffer of a descriptor chain; VUFRONT_DESC_F_NEXT/next are set for you. */
struct vufront_buf {
	uint64_t addr; /* guest physical address */
	uint32_t len;
	uint16_t flags; /* VUFRONT_DESC_F_WRITE, _INDIRECT */
};

struct vufront_vq_info {
	unsigned int num;
	struct vufront_desc *desc; /* our mapping of the rings */
	struct vufront_avail *avail;
	struct vufront_used *used;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	int kickfd;
	int callfd;
	uint16_t avail_idx; /* next avail index we publish */
	uint16_t last_used; /* next used entry we reap */
	unsigned int nfree; /* free descriptors */
	bool started;	    /* addresses/kick/call sent */
	bool enabled;	    /* SET_VRING_ENABLE 1 sent */
	uint32_t base;	    /* last GET_VRING_BASE answer */
};

/*
 * Inflight I/O tracking (INFLIGHT_SHMFD), split rings: one area per queue,
 * queue i at offset i * vufront_inflight_queue_bytes(queue_size) of the
 * region. The back-end marks a head in flight (a fresh counter, then
 * inflight = 1) when it takes it from the avail ring and, when it returns it,
 * sets last_inflight_io, publishes the used element and used->idx, clears
 * inflight and catches used_idx up. rte_vhost's struct
 * rte_vhost_inflight_info_split / rte_vhost_inflight_desc_split.
 */
struct vufront_inflight_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

struct vufront_inflight_queue {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_inflight_io;
	uint16_t used_idx;
	struct vufront_inflight_desc desc[];
};

#define VUFRONT_INFLIGHT_ALIGN 64

/* ---- handle, connection, errors ---- */

struct vufront;

struct vufront *vufront_create(void);
void vufront_destroy(struct vufront *vu);

/* Connect flags. */
#define VUFRONT_CONNECT_PROBE 0x1 /* also round-trip GET_FEATURES; retry on EOF */

/*
 * Connect to a back-end listening on @path (back-end in server mode). Retries
 * while the socket is missing or refuses, for up to @timeout_ms. With
 * VUFRONT_CONNECT_PROBE a connection the back-end closes before answering
 * GET_FEATURES (it has not yet noticed our previous disconnect, say) is
 * retried too.
 */
int vufront_connect(struct vufront *vu, const char *path, int timeout_ms, unsigned int flags);
/* Listen on @path (back-end in client mode); the listener survives
 * vufront_close() so the back-end can reconnect; vufront_destroy() unlinks. */
int vufront_listen(struct vufront *vu, const char *path);
int vufront_accept(struct vufront *vu, int timeout_ms);
/* Close the connection only: memory, rings and eventfds are kept. */
void vufront_disconnect(struct vufront *vu);
/* Close the connection and free memory, rings, eventfds, negotiated state. */
void vufront_close(struct vufront *vu);
bool vufront_connected(const struct vufront *vu);
int vufront_sockfd(const struct vufront *vu);
const char *vufront_errmsg(const struct vufront *vu);
/* Reply timeout, default 5000 ms. */
void vufront_set_timeout(struct vufront *vu, int timeout_ms);
/* With REPLY_ACK negotiated, ask for an ack on every request that has no
 * reply of its own and fail on a negative ack (default: on). */
void vufront_set_auto_ack(struct vufront *vu, bool on);

/* ---- messages ---- */

const char *vufront_req_name(uint32_t request);
/* True for requests that always get a reply (GET_*, SET_LOG_BASE, 42, 43...). */
bool vufront_req_has_reply(uint32_t request);
/* Version 1 flags, @size, payload zeroed up to @size, no fds. */
void vufront_msg_init(struct vufront_msg *msg, uint32_t request, uint32_t size);
void vufront_msg_close_fds(struct vufront_msg *msg);

/* On any socket (the back-end request channel, say); no handle state. */
int vufront_sock_send(int sock, const struct vufront_msg *msg);
int vufront_sock_recv(int sock, struct vufront_msg *msg, int timeout_ms);

int vufront_send(struct vufront *vu, const struct vufront_msg *msg);
/* Arbitrary bytes (a bad header, a short payload...) with optional fds. */
int vufront_send_raw(struct vufront *vu, const void *buf, size_t len, const int *fds,
		     unsigned int nfds);
/* After -EMSGSIZE or -EPROTO the stream is out of step: disconnect. */
int vufront_recv(struct vufront *vu, struct vufront_msg *msg, int timeout_ms);
/*
 * Send @msg. With @reply, wait for the back-end's message answering it (same
 * request, REPLY flag) and store it; the return value does not look at its
 * payload. Without @reply but with VUFRONT_FLAG_NEED_REPLY in @msg->flags,
 * wait for the ack and return -EIO if it is not 0.
 */
int vufront_call(struct vufront *vu, const struct vufront_msg *msg, struct vufront_msg *reply);

/* ---- typed requests ---- */

int vufront_get_features(struct vufront *vu, uint64_t *features);
int vufront_set_features(struct vufront *vu, uint64_t features);
int vufront_get_protocol_features(struct vufront *vu, uint64_t *features);
int vufront_set_protocol_features(struct vufront *vu, uint64_t features);
int vufront_set_owner(struct vufront *vu);
int vufront_reset_owner(struct vufront *vu);
int vufront_get_queue_num(struct vufront *vu, uint64_t *num);
int vufront_set_status(struct vufront *vu, uint8_t status);
/* SEND_RARP: the guest's MAC in the first 6 bytes of the u64 payload (as
 * QEMU sends it after a migration, for a guest without GUEST_ANNOUNCE). */
int vufront_send_rarp(struct vufront *vu, const uint8_t mac[6]);
int vufront_get_status(struct vufront *vu, uint64_t *status);
int vufront_set_vring_num(struct vufront *vu, unsigned int idx, unsigned int num);
int vufront_set_vring_base(struct vufront *vu, unsigned int idx, unsigned int base);
int vufront_get_vring_base(struct vufront *vu, unsigned int idx, uint32_t *base);
int vufront_set_vring_addr(struct vufront *vu, const struct vufront_vring_addr *addr);
/* fd < 0 sends VUFRONT_VRING_NOFD (polling mode) */
int vufront_set_vring_kick(struct vufront *vu, unsigned int idx, int fd);
int vufront_set_vring_call(struct vufront *vu, unsigned int idx, int fd);
int vufront_set_vring_err(struct vufront *vu, unsigned int idx, int fd);
int vufront_set_vring_enable(struct vufront *vu, unsigned int idx, bool enable);
/* Round-trip GET_FEATURES: everything sent before has been processed. */
int vufront_sync(struct vufront *vu);
/*
 * SET_DEVICE_STATE_FD: @fd is our pipe end. On return *result holds the
 * reply u64 and *backend_fd the back-end's own fd or -1 (bit 8 set).
 * -EIO if bits 0-7 of the reply are not 0, -EPROTO if fd and bit 8 disagree.
 */
int vufront_set_device_state_fd(struct vufront *vu, uint32_t direction, uint32_t phase, int fd,
				int *backend_fd, uint64_t *result);
/* CHECK_DEVICE_STATE: -EIO if the reply is not 0 (*result has it). */
int vufront_check_device_state(struct vufront *vu, uint64_t *result);
/*
 * GET_INFLIGHT_FD for @num_queues queues of @queue_size entries (any values,
 * for tests of refusals too). With REPLY_ACK negotiated (and auto-ack on) it
 * carries NEED_REPLY, so that a refusal comes back as an ack (-EIO) rather
 * than as a closed connection. On success *fd is the back-end's region (the
 * caller's to close) and *mmap_size / *mmap_offset what the back-end answered.
 */
int vufront_get_inflight_fd(struct vufront *vu, uint16_t num_queues, uint16_t queue_size, int *fd,
			    uint64_t *mmap_size, uint64_t *mmap_offset);
/* SET_INFLIGHT_FD with any payload; @fd < 0 sends no fd. */
int vufront_set_inflight_fd(struct vufront *vu, const struct vufront_inflight *inf, int fd);

/* ---- negotiation ---- */

struct vufront_negotiation {
	uint64_t features;	    /* wanted; acked = offered & wanted */
	uint64_t features_required; /* -ENOTSUP unless all offered */
	uint64_t protocol_features; /* wanted (needs VUFRONT_F_PROTOCOL_FEATURES) */
	uint64_t protocol_required;
};

/*
 * QEMU's order: GET_FEATURES, [GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES,
 * GET_QUEUE_NUM if MQ], SET_OWNER, SET_FEATURES.
 */
int vufront_negotiate(struct vufront *vu, const struct vufront_negotiation *neg);
uint64_t vufront_features(const struct vufront *vu); /* acked */
uint64_t vufront_offered_features(const struct vufront *vu);
uint64_t vufront_protocol_features(const struct vufront *vu); /* acked */
uint64_t vufront_offered_protocol_features(const struct vufront *vu);
uint64_t vufront_queue_num(const struct vufront *vu); /* 0 unless MQ */

/* ---- guest memory ---- */

/* One memfd of @size bytes (rounded up to 4 KiB), mapped shared. */
int vufront_mem_create(struct vufront *vu, size_t size);
void vufront_mem_destroy(struct vufront *vu);
/* SET_MEM_TABLE with the one region: GPA 0, user address = our mapping. */
int vufront_set_mem_table(struct vufront *vu);
/* Bump allocator (GPA 0..4095 is never handed out); zeroed memory. */
int vufront_mem_alloc(struct vufront *vu, size_t len, size_t align, uint64_t *gpa);
/* Our pointer to [gpa, gpa + len), NULL if outside guest memory. */
void *vufront_gpa_ptr(const struct vufront *vu, uint64_t gpa, size_t len);
void *vufront_mem_base(const struct vufront *vu);
size_t vufront_mem_size(const struct vufront *vu);
int vufront_mem_fd(const struct vufront *vu);

/* ---- dirty log (SET_LOG_BASE, LOG_ALL, the rings' log flag) ---- */

/* A log: one bit per 4 KiB page of guest memory, in a memfd of @size
 * bytes mapped shared. */
struct vufront_dirty_log {
	int fd;
	uint8_t *map;
	size_t size;
};

#define VUFRONT_LOG_PAGE 4096u
#define VUFRONT_VRING_F_LOG 1u /* vufront_vring_addr.flags */

int vufront_log_create(struct vufront_dirty_log *l, size_t size);
void vufront_log_destroy(struct vufront_dirty_log *l);
/* SET_LOG_BASE with @l (needs VUFRONT_PF_LOG_SHMFD). */
int vufront_set_log_base(struct vufront *vu, const struct vufront_dirty_log *l);
/* Ring addresses again with the log flag on or off (QEMU's way of starting
 * and stopping the logging of a used ring). */
int vufront_vq_log(struct vufront *vu, unsigned int idx, bool on);
/* QEMU's order: SET_LOG_BASE, SET_FEATURES with LOG_ALL, then the log
 * flag on rings 0..nrings-1; and back: log flags off, LOG_ALL off. */
int vufront_log_start(struct vufront *vu, const struct vufront_dirty_log *l, unsigned int nrings);
int vufront_log_stop(struct vufront *vu, unsigned int nrings);
/* Are all pages of [gpa, gpa + len) dirty in @l? (len 0: true) */
bool vufront_log_dirty(const struct vufront_dirty_log *l, uint64_t gpa, uint64_t len);
/* Bits set in @l. */
unsigned int vufront_log_count(const struct vufront_dirty_log *l);

/* ---- inflight region (one per handle, mapped shared) ---- */

/* Bytes of one queue's area: a 16-byte header and 16 bytes per entry,
 * rounded up to VUFRONT_INFLIGHT_ALIGN. */
size_t vufront_inflight_queue_bytes(unsigned int queue_size);
/* GET_INFLIGHT_FD and map the back-end's region (zeroed by it). */
int vufront_inflight_get(struct vufront *vu, unsigned int num_queues, unsigned int queue_size);
/* A zeroed region of our own (a memfd), as after a back-end we never asked. */
int vufront_inflight_create(struct vufront *vu, unsigned int num_queues, unsigned int queue_size);
/* SET_INFLIGHT_FD with the region the handle holds. */
int vufront_inflight_send(struct vufront *vu);
/* Unmap and close the region (vufront_close() does it too; a disconnect
 * keeps it, as QEMU keeps it for the next back-end). */
void vufront_inflight_destroy(struct vufront *vu);
/* Queue @idx's area, NULL without a region or past its queues. */
struct vufront_inflight_queue *vufront_inflight_vq(const struct vufront *vu, unsigned int idx);
unsigned int vufront_inflight_num_queues(const struct vufront *vu);
unsigned int vufront_inflight_queue_size(const struct vufront *vu);
uint64_t vufront_inflight_mmap_size(const struct vufront *vu);
uint64_t vufront_inflight_mmap_offset(const struct vufront *vu);
int vufront_inflight_fd(const struct vufront *vu);
/* Entries of queue @idx marked in flight (0 without a region). */
unsigned int vufront_inflight_count(const struct vufront *vu, unsigned int idx);

/* ---- split virtqueues ---- */

/* Allocate rings of @num (power of 2) entries in guest memory, kick and call
 * eventfds; local only, sends nothing. */
int vufront_vq_setup(struct vufront *vu, unsigned int idx, unsigned int num);
/* Zero the rings, forget in-flight chains, set avail->idx = used->idx = @base. */
int vufront_vq_reset(struct vufront *vu, unsigned int idx, uint16_t base);
/* SET_VRING_NUM, SET_VRING_BASE(@base), SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_CALL. */
int vufront_vq_start(struct vufront *vu, unsigned int idx, uint16_t base);
int vufront_vq_enable(struct vufront *vu, unsigned int idx, bool enable);
/* GET_VRING_BASE: stops the ring; the answer is also kept in info.base. */
int vufront_vq_stop(struct vufront *vu, unsigned int idx, uint32_t *base);
int vufront_vq_info(const struct vufront *vu, unsigned int idx, struct vufront_vq_info *info);
/* Write a chain of @n descriptors and publish its head in avail (no kick). */
int vufront_vq_add_chain(struct vufront *vu, unsigned int idx, const struct vufront_buf *bufs,
			 unsigned int n, uint16_t *head);
/*
 * For hand-built (possibly malformed) chains: take @n free descriptors,
 * remembered as one chain headed by ids[0] and freed together when ids[0]
 * comes back used, whatever the descriptors say by then. Write them through
 * info.desc, then vufront_vq_publish().
 */
int vufront_vq_take_descs(struct vufront *vu, unsigned int idx, unsigned int n, uint16_t *ids);
/* Put any head id (even an invalid one) in the next avail slot and bump idx. */
int vufront_vq_publish(struct vufront *vu, unsigned int idx, uint16_t head);
/*
 * Move avail->idx @n entries on without writing them (a front-end that
 * claims more than it made available, more than the ring holds even). The
 * entries that follow go after the gap: the device must have caught up
 * with the gap (taken or refused it) before they are published, or it
 * sees them as part of it.
 */
int vufront_vq_skip_avail(struct vufront *vu, unsigned int idx, uint16_t n);
/* Write the kick eventfd. */
int vufront_vq_kick(struct vufront *vu, unsigned int idx);
/* Kick unless the device suppresses it (NO_NOTIFY / avail_event); 1 = kicked. */
int vufront_vq_notify(struct vufront *vu, unsigned int idx);
/* Called with each used element vufront_vq_reap() takes on ring @idx (its
 * chain already freed), whoever reaps: vufront_net_send(), say. */
typedef void (*vufront_reap_fn)(void *arg, unsigned int idx, const struct vufront_used_elem *e);
/* @fn NULL: none (the default). */
int vufront_vq_set_reap_fn(struct vufront *vu, unsigned int idx, vufront_reap_fn fn, void *arg);
/* Reap up to @max used entries (@out may be NULL), freeing their chains;
 * returns the count. -EPROTO if the device returns an id that is not an
 * in-flight head: the entries before it are reaped, the bad one stays at
 * info.last_used for the caller to inspect. */
int vufront_vq_reap(struct vufront *vu, unsigned int idx, struct vufront_used_elem *out,
		    unsigned int max);
/* Used entries not reaped yet (0 if none). */
unsigned int vufront_vq_pending(const struct vufront *vu, unsigned int idx);
/* Wait until a used entry is pending; 0, or -ETIMEDOUT. */
int vufront_vq_wait(struct vufront *vu, unsigned int idx, int timeout_ms);

/* ---- generic device bring-up ---- */

struct vufront_dev_conf {
	struct vufront_negotiation neg;
	unsigned int num_rings; /* rings 0..num_rings-1 */
	unsigned int ring_size;
	size_t mem_size; /* used when no memory exists yet */
	bool enable;	 /* SET_VRING_ENABLE 1 on every ring */
	/* INFLIGHT_SHMFD (must be negotiated): GET_INFLIGHT_FD for num_rings
	 * queues of ring_size unless the handle holds a region already (one
	 * kept across a reconnect, say), then SET_INFLIGHT_FD before the first
	 * ring message, as QEMU does */
	bool inflight;
	/* with inflight: SET_INFLIGHT_FD once every ring has its SET_VRING_NUM,
	 * _BASE and _ADDR, just before the first SET_VRING_KICK (the back-end
	 * looks at the region then), instead of before the first ring message */
	bool inflight_late;
	/* called once memory, the rings (set up locally, not started) and the
	 * inflight region exist, before SET_INFLIGHT_FD and the first ring
	 * message: hand-built ring and region contents (what a crashed
	 * back-end left, say); non-zero fails the bring-up with that value */
	int (*prepare)(struct vufront *vu, void *arg);
	void *prepare_arg;
	/* with inflight: called (with prepare_arg) right after SET_INFLIGHT_FD,
	 * before the first SET_VRING_KICK: what a front-end writes into the
	 * region the back-end holds already (a hostile one, say) */
	int (*inflight_sent)(struct vufront *vu, void *arg);
};

void vufront_dev_conf_init(struct vufront_dev_conf *conf);
/*
 * negotiate, [SET_STATUS ACK|DRIVER|FEATURES_OK], memory + SET_MEM_TABLE,
 * vq_setup of rings not set up yet, [inflight region], [prepare],
 * [SET_INFLIGHT_FD], per ring vq_start(used->idx) (with inflight_late:
 * every ring's NUM/BASE/ADDR, SET_INFLIGHT_FD, then every ring's KICK/CALL),
 * [enable all], [SET_STATUS +DRIVER_OK]. SET_STATUS only if VUFRONT_PF_STATUS was
 * negotiated.
 */
int vufront_dev_start(struct vufront *vu, const struct vufront_dev_conf *conf);
/* GET_VRING_BASE on every started ring. */
int vufront_dev_stop(struct vufront *vu);

/* ---- virtio-net: queue pair q = rings 2q (RX, device writes), 2q+1 (TX) ---- */

struct vufront_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers; /* only in the 12-byte (v1 / mrg) header */
};

struct vufront_net_conf {
	struct vufront_dev_conf dev; /* num_rings is set from queue_pairs */
	unsigned int queue_pairs;
	uint32_t buf_size; /* bytes per RX/TX buffer, header included */
	bool mrg_rxbuf;	   /* want VIRTIO_NET_F_MRG_RXBUF */
	/* a hostile guest's buffers: smaller than the net header (a test of
	 * the back-end; such a front-end can only post them, not send) */
	bool tiny_bufs_ok;
};

/* Defaults: 1 queue pair, 256 entries, 2048-byte buffers, 64 MiB memory,
 * VERSION_1 required, protocol features MQ | REPLY_ACK | STATUS wanted. */
void vufront_net_conf_init(struct vufront_net_conf *conf);
int vufront_net_start(struct vufront *vu, const struct vufront_net_conf *conf);
/* Guest memory that vufront_net_start() needs for these rings and buffers
 * (1 MiB spare). Keep memory small for back-ends that mlock everything
 * (testpmd): they fault in each MiB at SET_MEM_TABLE. */
size_t vufront_net_mem_size(unsigned int queue_pairs, unsigned int ring_size, uint32_t buf_size);
unsigned int vufront_net_queue_pairs(const struct vufront *vu);
/* 12 with VERSION_1 or MRG_RXBUF, else 10. */
unsigned int vufront_net_hdr_len(const struct vufront *vu);

struct vufront_frame {
	const void *data;
	uint32_t len;
};

/* Queue frames (zeroed net header + frame, one descriptor each) on TX of
 * queue pair @q and notify; returns how many fitted (the rest: ring full). */
int vufront_net_send(struct vufront *vu, unsigned int q, const struct vufront_frame *frames,
		     unsigned int n);
/* Reclaim TX buffers the device has used; returns how many. */
int vufront_net_tx_reap(struct vufront *vu, unsigned int q);
/* TX buffers still owned by the device. */
unsigned int vufront_net_tx_inflight(const struct vufront *vu, unsigned int q);
/* Post up to @n writable buffers on RX and notify; returns how many. */
int vufront_net_post_rx(struct vufront *vu, unsigned int q, unsigned int n);

struct vufront_pkt {
	void *buf;     /* caller's buffer */
	uint32_t size; /* its size */
	uint32_t len;  /* frame length (may exceed size: truncated) */
	struct vufront_net_hdr hdr;
};

/* Reap received frames (header stripped, MRG_RXBUF buffers merged) into
 * @pkts; returns how many. Buffers are not reposted: vufront_net_post_rx().
 * With a trace function set, it is called for every used buffer reaped:
 * its guest address and the length the device wrote into it. */
int vufront_net_recv(struct vufront *vu, unsigned int q, struct vufront_pkt *pkts,
		     unsigned int max);
typedef void (*vufront_rx_trace_fn)(void *arg, uint64_t gpa, uint32_t len);
void vufront_net_set_rx_trace(struct vufront *vu, vufront_rx_trace_fn fn, void *arg);

#endif /* VUFRONT_H */
