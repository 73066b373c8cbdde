/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_FSDEV_H
#define VGW_FSDEV_H

/* virtio-fs devices on vhost-user: the rings (our own split-ring walker),
 * the FUSE engine (vgw_fs.h) and the glue between them, polled by a worker
 * lcore. Control plane here, fast path in fs_vhost.c's poll function. */

#include <stdbool.h>
#include <stdint.h>

#include "vgw_conf.h"

struct vgw_fsdev_info {
	char name[VGW_NAME_MAX];
	uint16_t stats_slot;		/* its counters in vgw_dp (requests as rx,
					 * replies as tx, refused as drops) */
	char socket[VGW_SOCKET_MAX];
	char shared_dir[4096];
	char tag[VGW_TAG_MAX];
	const char *mode;
	bool connected;
	bool ready;
	bool suspended;
	int vid;
	uint16_t queues;		/* request queues configured */
	uint16_t active_vrings;		/* hiprio + request rings polled */
	uint64_t features;
	uint64_t protocol_features;
	uint64_t connects;
	uint64_t disconnects;
	uint64_t requests;
	uint64_t errors;
	uint64_t malformed;
	uint64_t bytes_read;
	uint64_t bytes_written;
	unsigned int inodes;
	unsigned int handles;
	bool inflight;			/* the front-end gave an inflight region */
	uint64_t inflight_resubmitted;	/* requests taken again from one */
};

int vgw_fsdev_init(const struct vgw_conf *conf);
int vgw_fsdev_start(void);
void vgw_fsdev_stop(void);

unsigned int vgw_fsdev_count(void);
int vgw_fsdev_find(const char *name);
int vgw_fsdev_info(unsigned int idx, struct vgw_fsdev_info *info);
/* As vgw_net_suspend(): 1 changed, 0 already so, < 0 error. */
int vgw_fsdev_suspend(unsigned int idx, bool suspend);

/* The operator's device state (state-save, state-load): the FUSE session
 * of a connected device that does not run (suspended, or its rings
 * stopped), to or from a file. Load only into a session that has served
 * nothing yet. < 0 with one line in why. */
struct vgw_fsdev_state_info {
	uint64_t bytes;
	unsigned int inodes;		/* root included */
	unsigned int handles;
	uint64_t stale;			/* load: inodes and handles gone here */
};
int vgw_fsdev_state_save(unsigned int idx, const char *path, struct vgw_fsdev_state_info *in,
			 char *why, size_t why_len);
int vgw_fsdev_state_load(unsigned int idx, const char *path, struct vgw_fsdev_state_info *in,
			 char *why, size_t why_len);

#endif /* VGW_FSDEV_H */
