/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_CTL_H
#define VGW_CTL_H

/* The control socket: a unix stream socket (mode 0600) speaking one JSON
 * object per line each way. Requests {"cmd": ..., ...}; replies carry
 * "ok": true|false and, on error, an "error" string. Runs on the control
 * thread (the main lcore), which polls it. */

#include "vgw_conf.h"

/* Create the socket and the devices' phase machines; observe rte_vhost. */
int vgw_ctl_init(const char *path, const struct vgw_conf *conf);
/* Register the rte_telemetry commands /vhostgw/devices, /vhostgw/device and
 * /vhostgw/stats (request/response; events stream on the control socket). */
int vgw_ctl_telemetry_init(void);
/* Apply the queued device inputs and serve the socket for up to
 * timeout_ms. */
void vgw_ctl_poll(int timeout_ms);
void vgw_ctl_fini(void);

#endif /* VGW_CTL_H */
