/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_VHOST_H
#define VGW_VHOST_H

/* The only user of rte_vhost.h. Socket registration (server or client),
 * device callbacks dispatched to the device base (vgw_device.h), the one
 * table of vhost-user messages and its hooks, and the burst calls of the
 * built-in net path. */

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct vgw_device;

/* A vhost-user message as the hooks see it (front-end to back-end). */
struct vgw_vhost_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes */
	const uint8_t *payload;
	int fd_num;
};

/* The vhost-user messages (front-end IDs of the merged specification). */
enum vgw_vhost_msg_id {
	VGW_VHOST_MSG_GET_FEATURES = 1,
	VGW_VHOST_MSG_SET_FEATURES = 2,
	VGW_VHOST_MSG_SET_OWNER = 3,
	VGW_VHOST_MSG_RESET_OWNER = 4,
	VGW_VHOST_MSG_SET_MEM_TABLE = 5,
	VGW_VHOST_MSG_SET_LOG_BASE = 6,
	VGW_VHOST_MSG_SET_LOG_FD = 7,
	VGW_VHOST_MSG_SET_VRING_NUM = 8,
	VGW_VHOST_MSG_SET_VRING_ADDR = 9,
	VGW_VHOST_MSG_SET_VRING_BASE = 10,
	VGW_VHOST_MSG_GET_VRING_BASE = 11,
	VGW_VHOST_MSG_SET_VRING_KICK = 12,
	VGW_VHOST_MSG_SET_VRING_CALL = 13,
	VGW_VHOST_MSG_SET_VRING_ERR = 14,
	VGW_VHOST_MSG_GET_PROTOCOL_FEATURES = 15,
	VGW_VHOST_MSG_SET_PROTOCOL_FEATURES = 16,
	VGW_VHOST_MSG_GET_QUEUE_NUM = 17,
	VGW_VHOST_MSG_SET_VRING_ENABLE = 18,
	VGW_VHOST_MSG_SEND_RARP = 19,
	VGW_VHOST_MSG_NET_SET_MTU = 20,
	VGW_VHOST_MSG_SET_BACKEND_REQ_FD = 21,
	VGW_VHOST_MSG_IOTLB_MSG = 22,
	VGW_VHOST_MSG_SET_VRING_ENDIAN = 23,
	VGW_VHOST_MSG_GET_CONFIG = 24,
	VGW_VHOST_MSG_SET_CONFIG = 25,
	VGW_VHOST_MSG_CREATE_CRYPTO_SESSION = 26,
	VGW_VHOST_MSG_CLOSE_CRYPTO_SESSION = 27,
	VGW_VHOST_MSG_POSTCOPY_ADVISE = 28,
	VGW_VHOST_MSG_POSTCOPY_LISTEN = 29,
	VGW_VHOST_MSG_POSTCOPY_END = 30,
	VGW_VHOST_MSG_GET_INFLIGHT_FD = 31,
	VGW_VHOST_MSG_SET_INFLIGHT_FD = 32,
	VGW_VHOST_MSG_GPU_SET_SOCKET = 33,
	VGW_VHOST_MSG_RESET_DEVICE = 34,
	VGW_VHOST_MSG_VRING_KICK = 35,
	VGW_VHOST_MSG_GET_MAX_MEM_SLOTS = 36,
	VGW_VHOST_MSG_ADD_MEM_REG = 37,
	VGW_VHOST_MSG_REM_MEM_REG = 38,
	VGW_VHOST_MSG_SET_STATUS = 39,
	VGW_VHOST_MSG_GET_STATUS = 40,
	VGW_VHOST_MSG_GET_SHARED_OBJECT = 41,
	VGW_VHOST_MSG_SET_DEVICE_STATE_FD = 42,
	VGW_VHOST_MSG_CHECK_DEVICE_STATE = 43,
	VGW_VHOST_MSG_COUNT
};

/* The keeper's own messages, on its connection to a gateway started with
 * --keeper only (ids far above the protocol's). BEGIN comes before a
 * replayed session, with the dead gateway's keep_fds for the device to
 * adopt; END after it; both carry struct vgw_keeper_replay. */
#define VGW_VHOST_MSG_KEEPER_BEGIN 0x4b500001u
#define VGW_VHOST_MSG_KEEPER_END 0x4b500002u

struct vgw_keeper_replay {
	uint64_t died_ns;    /* CLOCK_REALTIME when the last gateway died */
	uint32_t generation; /* the gateway's, 1 for the first */
	uint32_t restarts;   /* gateways restarted so far */
};

/* Accept the keeper's messages (main.c, with --keeper). */
void vgw_vhost_set_keeper_mode(bool on);
bool vgw_vhost_keeper_mode(void);
/* KEEPER_TABLES (keeper to gateway, no payload): the reply carries the
 * device's keep_fds (vgw_device.h) and their number as a u64. */
#define VGW_VHOST_MSG_KEEPER_TABLES 0x4b500003u
#define VGW_VHOST_KEEP_FDS_MAX 4

/* The fds a message carries (front-end to back-end). */
enum vgw_vhost_fd_policy {
	VGW_VHOST_FDS_NONE,
	VGW_VHOST_FDS_ONE,     /* exactly one */
	VGW_VHOST_FDS_RING,    /* one, unless the ring index has NOFD set */
	VGW_VHOST_FDS_REGIONS, /* one per memory region, up to 8 */
};

/* The phase machine input a message makes (see enum vgw_vhost_event),
 * and when: before rte_vhost handles it for stops and resets, after it for
 * what it may refuse. */
enum vgw_vhost_msg_input {
	VGW_VHOST_IN_NONE,
	VGW_VHOST_IN_FEATURES,	 /* post: LOG_START or LOG_STOP by LOG_ALL */
	VGW_VHOST_IN_LOG_BASE,	 /* post: LOG_START */
	VGW_VHOST_IN_RING_START, /* post: a ring started (for RINGS_STOPPED) */
	VGW_VHOST_IN_RING_STOP,	 /* pre: RING_STOP, RINGS_STOPPED */
	VGW_VHOST_IN_STATUS,	 /* pre: STATUS_RESET when the status is 0 */
	VGW_VHOST_IN_RARP,	 /* pre: RARP */
};

/* Who answers a message besides rte_vhost (pre-handle). */
enum vgw_vhost_msg_handler {
	VGW_VHOST_H_NONE,	 /* rte_vhost alone */
	VGW_VHOST_H_INFLIGHT,	 /* checked first: region sizes */
	VGW_VHOST_H_STATE_FD,	 /* ours: rte_vhost 22.11 does not know it */
	VGW_VHOST_H_STATE_CHECK, /* ours, likewise */
};

/* rte_vhost unmaps guest memory the device may use (memory table, dirty
 * log, inflight region): a device walking its own rings is taken away
 * around it. */
#define VGW_VHOST_MSG_F_REMAP (1u << 0)

struct vgw_vhost_msg_desc {
	uint32_t id;
	const char *name;
	uint8_t fds;	 /* enum vgw_vhost_fd_policy */
	uint8_t input;	 /* enum vgw_vhost_msg_input */
	uint8_t handler; /* enum vgw_vhost_msg_handler */
	uint8_t flags;	 /* VGW_VHOST_MSG_F_* */
};

/* The bytes of one queue's inflight area (GET/SET_INFLIGHT_FD) as
 * rte_vhost 22.11 lays it out and indexes it: a 16-byte header, then the
 * queue's descriptors, 16 bytes each on split rings and 32 on packed ones
 * (VIRTIO_F_RING_PACKED negotiated), 64-byte aligned. */
uint64_t vgw_vhost_inflight_queue_bytes(uint16_t queue_size, bool packed);
/* Map size bytes of fd at offset shared, read and write, as an inflight
 * region (SET_INFLIGHT_FD) is mapped: NULL with errno set when it cannot
 * be (an offset off a page boundary, an fd opened read-only, a file that
 * cannot be mapped). */
void *vgw_vhost_region_map(int fd, uint64_t size, uint64_t offset);
/* The area of ring idx in the inflight region the front-end of vid's
 * device handed over (SET_INFLIGHT_FD, INFLIGHT_SHMFD negotiated), and in
 * *entries the descriptors it holds (the message's queue_size: never its
 * header, which the front-end writes); NULL without one. The region stays
 * mapped until the next SET_INFLIGHT_FD (the device is taken from the
 * workers around it) or the connection's end. rte_vhost's message thread,
 * or under the device's lock. */
struct rte_vhost_inflight_info_split;
struct rte_vhost_inflight_info_split *vgw_vhost_ring_inflight(int vid, uint16_t idx,
							      uint16_t *entries);

/* The one table of messages; NULL for an unknown id. */
const struct vgw_vhost_msg_desc *vgw_vhost_msg_desc(uint32_t request);
/* "SET_MEM_TABLE", or "UNKNOWN". */
const char *vgw_vhost_msg_name(uint32_t request);

/* What happened to a device, as seen from the vhost-user connection: the
 * inputs of the migration phase machine. Reported to the observer on
 * rte_vhost's event thread, in order, for every registered socket. */
enum vgw_vhost_event {
	VGW_VHOST_EV_CONNECTED,	     /* a front-end connected */
	VGW_VHOST_EV_DISCONNECTED,   /* it went away */
	VGW_VHOST_EV_READY,	     /* rings set up: processing may start */
	VGW_VHOST_EV_STOPPED,	     /* processing stopped (destroy_device) */
	VGW_VHOST_EV_LOG_START,	     /* dirty logging on (LOG_ALL, SET_LOG_BASE) */
	VGW_VHOST_EV_LOG_STOP,	     /* SET_FEATURES without LOG_ALL */
	VGW_VHOST_EV_RING_STOP,	     /* GET_VRING_BASE; arg: ring index */
	VGW_VHOST_EV_RINGS_STOPPED,  /* every started ring stopped */
	VGW_VHOST_EV_STATUS_RESET,   /* SET_STATUS(0) */
	VGW_VHOST_EV_RARP,	     /* SEND_RARP */
	VGW_VHOST_EV_STATE_FD,	     /* SET_DEVICE_STATE_FD; arg: direction */
	VGW_VHOST_EV_STATE_CHECK,    /* CHECK_DEVICE_STATE; arg: 0 passed, 1 failed */
	VGW_VHOST_EV_STATE_DONE,     /* the device type's transfer ended well; arg: direction */
	VGW_VHOST_EV_STATE_REFUSED,  /* the device type refused SET_DEVICE_STATE_FD */
	VGW_VHOST_EV_RECOVERY_BEGIN, /* the keeper replays a session; arg: gateway generation */
	VGW_VHOST_EV_RECOVERY_END,   /* it finished; arg: ms since the last gateway died */
	VGW_VHOST_EV_MEM_FAULT,	     /* guest memory shrunk under the mapping; arg: address */
	VGW_VHOST_EV_COUNT,
};

/* One observer for all sockets (the control thread's input queue). It runs
 * on rte_vhost's event thread, often with virtqueue locks held: it must not
 * block. name is the device name given at registration. */
typedef void (*vgw_vhost_observer_fn)(const char *name, enum vgw_vhost_event ev, uint64_t arg);
void vgw_vhost_set_observer(vgw_vhost_observer_fn fn);
/* Report an event of a device type's own (VGW_VHOST_EV_STATE_DONE) to the
 * observer, from any thread. */
void vgw_vhost_report(const char *name, enum vgw_vhost_event ev, uint64_t arg);

/* Register dev's socket (dev->conf: socket, mode, pf_off; net devices use
 * rte_vhost's built-in virtio-net path, the others only its protocol).
 * Its callbacks go to the device base (vgw_device.h). */
int vgw_vhost_register(struct vgw_device *dev);
/* Start listening or connecting; call after vgw_vhost_register(). */
int vgw_vhost_start(const char *path);
int vgw_vhost_unregister(const char *path);
/* Once every socket is started: rte_vhost 22.11 adds a listening socket to
 * its event thread's poll set without waking the thread, so one started
 * after the thread entered poll() is first watched when that poll times
 * out, up to 1 s later, and a front-end connecting meanwhile waits (a
 * restarted gateway under the keeper, a reconnecting QEMU). A connection
 * rte_vhost adds wakes it: connect once, as a throwaway client, to a socket
 * of ours in dir, and hang up. 0 or -errno. */
int vgw_vhost_wake_events(const char *dir);

/* Negotiated virtio and protocol features of a connected device. */
int vgw_vhost_features(int vid, uint64_t *features, uint64_t *protocol);
/* Number of vrings the front-end set up. */
uint16_t vgw_vhost_nr_vrings(int vid);

/* Built-in net path. vring 2q is the guest's RX ring of queue pair q (we
 * enqueue), 2q+1 its TX ring (we dequeue). */
uint16_t vgw_vhost_net_dequeue(int vid, uint16_t vring, struct rte_mempool *mp,
			       struct rte_mbuf **pkts, uint16_t n);
uint16_t vgw_vhost_net_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n);

/* We poll: ask the front-end not to kick this ring (VRING_USED_F_NO_NOTIFY),
 * which spares it an eventfd write per burst. rte_vhost keeps the setting
 * across ring re-enables. Takes the ring's lock: never call it from a
 * callback that holds rte_vhost's virtqueue locks. */
int vgw_vhost_no_kicks(int vid, uint16_t vring);

const char *vgw_vhost_msg_name(uint32_t request);

#endif /* VGW_VHOST_H */
