/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_FSDEV_H
#define VGW_FSDEV_H

/* virtio-fs devices on vhost-user: the rings (our own split-ring walker),
 * the FUSE engine (vgw_fs.h) and the glue between them, polled by a worker
 * lcore. Control plane here, fast path in fs_vhost.c's poll function. */

#include <sched.h>

#include "vgw_conf.h"

/* Create the fs devices and add them to the device registry
 * (vgw_device.h): the control socket and telemetry reach them there, and
 * their device state (state-save, state-load) through its operations. */
int vgw_fsdev_init(const struct vgw_conf *conf);
/* The CPUs the process may run on as it was started, before EAL pinned its
 * threads (sched_getaffinity() before rte_eal_init()): io_uring's workers
 * stay within them. Without it, every online CPU. */
void vgw_fsdev_set_cpus(const cpu_set_t *cpus);
int vgw_fsdev_start(void);
void vgw_fsdev_stop(void);

#endif /* VGW_FSDEV_H */
