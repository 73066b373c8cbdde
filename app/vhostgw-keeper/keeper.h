/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VHOSTGW_KEEPER_APP_H
#define VHOSTGW_KEEPER_APP_H

/* vhostgw-keeper: the process that must not die. It owns every device's
 * front-end-facing socket, relays each vhost-user message and its fds to
 * the gateway it runs as a child, journals the state-defining ones, and
 * when the gateway dies starts it again and replays the journal: the
 * front-ends see no disconnect. doc/keeper.rst. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vgw_conf.h"
#include "vgw_keeper.h"

/* A front-end message on its way to the gateway, or one waiting for the
 * gateway's reply (kept with its fds until then: sent again if the
 * gateway dies first). */
struct kp_msg {
	struct kp_msg *next;
	bool nack;     /* refused by the keeper: answer 1 in its turn */
	bool internal; /* the keeper's own request: the reply is its */
	struct vk_msg m;
};

struct kp_queue {
	struct kp_msg *head, **tail;
	unsigned int len;
};

struct kp_dev {
	const struct vgw_conf_dev *conf;
	char gw_path[VGW_SOCKET_MAX]; /* the gateway's socket for this device */
	int listen_fd;		      /* server mode: the front-end socket */
	int fe_fd;		      /* the front-end connection, -1 without one */
	int gw_fd;		      /* the connection to the gateway, -1 without one */
	struct vk_rx fe_rx, gw_rx;
	struct vk_journal *j;
	struct kp_queue pending; /* to send to the gateway */
	struct kp_queue waiting; /* sent, reply due */
	unsigned int swallow;	 /* replies to a replay still due */
	bool reply_ack;		 /* REPLY_ACK negotiated */
	int gw_gen;		 /* gateway generation gw_fd belongs to */
	uint64_t gw_eof_ns;	 /* the gateway closed gw_fd at (0: not) */
	uint64_t next_try_ns;	 /* client mode: next connect to the front-end */
	uint64_t fe_connects, refused, replays;
	uint64_t last_recovery_ns; /* crash to replay sent, last time */
	/* what must outlive the gateway (fs: session tables, inflight
	 * region), dups of the gateway's keep_fds; handed to the next one */
	int keep[VK_MAX_FDS];
	unsigned int n_keep;
};

struct kp_gw {
	char **argv; /* the gateway's command line, --keeper added */
	/* with a standby, two command lines that differ in --file-prefix
	 * (two DPDK primaries cannot share one): the running gateway's and
	 * the standby's alternate */
	char **argv_slot[2];
	int slot;      /* of the running gateway */
	bool standby;  /* keep one (--no-standby: not) */
	pid_t sb_pid;  /* the standby, 0: none */
	int sb_fd;     /* its socket: "ready" from it, "go ..." to it */
	bool sb_ready; /* its EAL is up */
	/* hitless upgrade: a standby of the new binary, then the running
	 * gateway stopped cleanly, then the standby takes over */
	bool upgrade_pending; /* waiting for a ready standby of the new binary */
	bool upgrading;	      /* the running gateway was told to stop */
	unsigned int upgrades;
	uint64_t sb_next_ns;   /* start the next standby after */
	pid_t pid;	       /* 0: not running */
	int gen;	       /* 1 for the first start, +1 per start */
	uint64_t died_ns;      /* when the running one's predecessor died */
	uint64_t died_real_ns; /* the same on CLOCK_REALTIME (for the gateway) */
	uint64_t start_ns;
	unsigned int restarts;
	char last_exit[96];
	/* crash loop: gateways that died within stable_ns of their start */
	unsigned int loop_count, loop_max;
	uint64_t loop_start_ns, window_ns, stable_ns, next_start_ns, backoff_ns;
	bool failed; /* gave up: front-ends kept, nothing relayed */
};

struct keeper {
	struct vgw_conf *conf;
	char dir[VGW_SOCKET_MAX];
	char ctl_path[VGW_SOCKET_MAX]; /* the keeper's control socket */
	int ctl_fd;
	unsigned int n_devs;
	struct kp_dev devs[VGW_MAX_DEVICES];
	struct kp_gw gw;
	int sig_fd;
	bool stopping;
};

uint64_t kp_now_ns(void);
uint64_t kp_real_ns(void);
void kp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ctl.c: the keeper's control socket, <dir>/keeper.sock, one JSON
 * request per connection: {"cmd": "status"} and {"cmd": "upgrade",
 * "binary": PATH}. */
int kp_ctl_open(struct keeper *k);
void kp_ctl_accept(struct keeper *k);
void kp_ctl_close(struct keeper *k);
/* main.c */
int kp_upgrade(struct keeper *k, const char *binary, char *why, size_t len);

/* relay.c */
void kp_dev_init(struct keeper *k, struct kp_dev *d, const struct vgw_conf_dev *c);
int kp_dev_listen(struct kp_dev *d);
/* The listening socket's configured owner, group and mode ("socket_owner",
 * ...), before a front-end may connect; on failure a message, the socket
 * closed and removed, -errno. */
int kp_dev_sockperm(struct kp_dev *d);
void kp_fe_accept(struct keeper *k, struct kp_dev *d);
void kp_fe_connect(struct keeper *k, struct kp_dev *d);
void kp_fe_readable(struct keeper *k, struct kp_dev *d);
void kp_gw_readable(struct keeper *k, struct kp_dev *d);
void kp_gw_drain(struct keeper *k, struct kp_dev *d);
void kp_gw_connect(struct keeper *k, struct kp_dev *d);
void kp_gw_lost(struct keeper *k, struct kp_dev *d);
void kp_fe_close(struct keeper *k, struct kp_dev *d, const char *why);
void kp_dev_fini(struct kp_dev *d);

#endif /* VHOSTGW_KEEPER_APP_H */
