/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_KEEPER_H
#define VGW_KEEPER_H

/* The keeper's core, without DPDK: vhost-user messages as they cross the
 * keeper (framing, fds, validation), and the journal of one device's
 * state-defining messages that a restarted gateway is replayed. The
 * process around it is app/vhostgw-keeper; doc/keeper.rst describes both. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VK_HDR_SIZE 12
#define VK_MAX_PAYLOAD 4096 /* far above the largest message (GET_CONFIG, 268) */
#define VK_MAX_FDS 8	    /* VHOST_MEMORY_MAX_NREGIONS */
#define VK_MAX_RINGS 256

#define VK_FLAG_VERSION 0x1u
#define VK_FLAG_VERSION_MASK 0x3u
#define VK_FLAG_REPLY 0x4u
#define VK_FLAG_NEED_REPLY 0x8u

/* ring index word of SET_VRING_KICK/CALL/ERR */
#define VK_RING_INDEX_MASK 0xffu
#define VK_RING_NOFD 0x100u

/* virtio and vhost-user feature bits the journal knows about */
#define VK_F_LOG_ALL 26
#define VK_F_PROTOCOL_FEATURES 30
#define VK_F_IOMMU_PLATFORM 33
#define VK_F_RING_PACKED 34
#define VK_PF_REPLY_ACK 3
#define VK_PF_LOG_SHMFD 1

/* Protocol features the keeper lets a front-end negotiate: those whose
 * state the journal keeps or that carry none. Left out: in-band kicks and
 * host notifiers (data would pass the keeper), memory slots (ADD/REM_MEM_REG
 * instead of a table), postcopy, crypto, Xen, shared objects. */
#define VK_PF_ALLOWED \
	((1ull << 0) | (1ull << 1) | (1ull << 2) | (1ull << 3) | (1ull << 4) | (1ull << 5) | \
	 (1ull << 6) | (1ull << 9) | (1ull << 10) | (1ull << 12) | (1ull << 13) | (1ull << 16) | \
	 (1ull << 19))
/* Device features the keeper takes away: ring positions of a packed ring
 * and IOVA ring addresses cannot be read back from guest memory. */
#define VK_F_HIDDEN ((1ull << VK_F_IOMMU_PLATFORM) | (1ull << VK_F_RING_PACKED))

struct vk_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	uint8_t payload[VK_MAX_PAYLOAD];
	int fds[VK_MAX_FDS];
	unsigned int n_fds;
};

/* Close a message's fds and forget them. */
void vk_msg_close_fds(struct vk_msg *m);

/* Payload accessors (the caller checked the size with vk_msg_check). */
uint64_t vk_msg_u64(const struct vk_msg *m);
void vk_msg_set_u64(struct vk_msg *m, uint64_t v);
uint32_t vk_msg_ring(const struct vk_msg *m); /* ring index of a ring message */

/* Whether the back-end answers this front-end message: GET_* messages,
 * SET_LOG_BASE, the DEVICE_STATE pair, and any message with NEED_REPLY
 * once REPLY_ACK is negotiated. */
bool vk_msg_wants_reply(const struct vk_msg *m, bool reply_ack);

/* Check a front-end message before it is relayed: known id, version 1,
 * no reply flag, payload size for its id, ring index below max_rings, the
 * fds its id carries. 0 if it may pass; otherwise -EINVAL with one line
 * in err saying what is wrong. */
int vk_msg_check(const struct vk_msg *m, uint32_t max_rings, char *err, size_t errlen);

/* The gateway's own guard (without the keeper, app/vhostgw/msgguard.c):
 * vk_msg_check for the messages the keeper relays; any other id (one
 * rte_vhost may still serve, or refuse) may pass only without fds. */
int vk_msg_guard(const struct vk_msg *m, uint32_t max_rings, char *err, size_t errlen);

/* Check a back-end reply to req: a reply to that id, a payload size it
 * may have, the fds it may carry (GET_INFLIGHT_FD: one). */
int vk_msg_check_reply(const struct vk_msg *req, const struct vk_msg *reply, char *err,
		       size_t errlen);

/* Incremental receive of one message from a non-blocking stream socket.
 * State lives in the caller's struct; call vk_rx_read() when the socket is
 * readable until it returns 1 (a whole message in rx->msg; vk_rx_reset()
 * before the next), 0 (more to come), or < 0: -EPIPE at end of stream,
 * -EPROTO for a size or fd count above the limits (the message's fds
 * closed), -errno otherwise. */
struct vk_rx {
	struct vk_msg msg;
	size_t have; /* bytes of header + payload read */
};
void vk_rx_reset(struct vk_rx *rx);
int vk_rx_read(int sock, struct vk_rx *rx);

/* Send one message and its fds on a blocking socket. 0 or -errno. */
int vk_msg_send(int sock, const struct vk_msg *m);

/* One ring as the front-end set it up. fds are the keeper's own dups. */
struct vk_ring {
	bool num_set, addr_set, base_set, enable_set;
	bool kick_set, call_set, err_set;
	bool started; /* kick given and no GET_VRING_BASE since */
	uint32_t num, base, enable;
	uint8_t addr[40];	      /* struct vhost_vring_addr as sent */
	int kick_fd, call_fd, err_fd; /* -1: none or NOFD */
};

/* The state a front-end has set up on one device, from the messages the
 * keeper relayed (and the back-end's replies that define state). */
struct vk_journal {
	uint32_t max_rings;
	bool owner;
	bool features_set, pf_set, mtu_set, status_set, mem_set, log_set, inflight_set;
	uint64_t features, pf, mtu, status;
	uint32_t mem_size;
	uint8_t mem[8 + VK_MAX_FDS * 32]; /* VhostUserMemory as sent */
	int mem_fds[VK_MAX_FDS];
	unsigned int n_mem_fds;
	uint8_t log[16]; /* VhostUserLog */
	int log_fd;
	uint8_t inflight[24]; /* VhostUserInflight */
	int inflight_fd;
	int backend_fd; /* SET_BACKEND_REQ_FD */
	struct vk_ring rings[VK_MAX_RINGS];
};

void vk_journal_init(struct vk_journal *j, uint32_t max_rings);
/* Close every fd and forget everything (front-end gone, RESET_OWNER). */
void vk_journal_reset(struct vk_journal *j);
/* Record a checked front-end message the keeper relays. The journal keeps
 * dups of the fds it needs; the message keeps its own. 0 or -errno (out
 * of fds: the message still goes on, the journal says it is incomplete). */
int vk_journal_apply(struct vk_journal *j, const struct vk_msg *m);
/* Record what a back-end reply defines (GET_VRING_BASE stops a ring at
 * the base it answers; GET_INFLIGHT_FD gives the inflight region). */
int vk_journal_apply_reply(struct vk_journal *j, const struct vk_msg *req,
			   const struct vk_msg *reply);

/* The used index of a started split ring, read from guest memory through
 * the memory table's fds: where a replacement back-end takes the ring up
 * (packets taken but not returned are lost, as on a reconnect). 0 or
 * -errno (-ENOENT: ring address outside the table; -EFAULT: inside it,
 * but past the end of the region's file). */
int vk_journal_used_idx(const struct vk_journal *j, uint32_t ring, uint16_t *idx);

/* Emit the messages that bring a fresh back-end to the journal's state,
 * in a front-end's order: owner, features, protocol features, back-end
 * channel, MTU, inflight region, memory table, dirty log, every ring
 * (num, base, addr, call, err, kick, enable), status. Messages carry dups
 * of the journal's fds (emit must close them: vk_msg_send does not).
 * With REPLY_ACK negotiated every message asks for an ack. *n_replies is
 * how many replies the back-end will send. Returns the number of messages
 * emitted or the first error of emit or of reading a ring's used index. */
typedef int (*vk_emit_fn)(void *arg, struct vk_msg *m);
int vk_journal_replay(const struct vk_journal *j, vk_emit_fn emit, void *arg,
		      unsigned int *n_replies);

#endif /* VGW_KEEPER_H */
