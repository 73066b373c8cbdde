/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_VHOST_PRIV_H
#define VGW_VHOST_PRIV_H

/* Between rte_vhost's callbacks (vhost.c) and the device base (device.c). */

#include <stdbool.h>
#include <stdint.h>

#include "vgw_device.h"
#include "vgw_vhost.h"

/* The registered device whose socket is path, or NULL. */
struct vgw_device *vgw_device_by_path(const char *path);

/* The life cycle, driven by rte_vhost's event thread. */
int vgw_device_on_connect(struct vgw_device *dev, int vid);
/* < 0 when vid was not the device's front-end (one it refused). */
int vgw_device_on_disconnect(struct vgw_device *dev, int vid);
int vgw_device_on_ready(struct vgw_device *dev, int vid);
void vgw_device_on_stop(struct vgw_device *dev, int vid);
/* A message flagged VGW_VHOST_MSG_F_REMAP, before and after rte_vhost. */
void vgw_device_on_remap(struct vgw_device *dev, int vid, const struct vgw_vhost_msg *m, bool post);

/* DEVICE_STATE (device_state.c), on the event thread. */
int vgw_device_state_fd(struct vgw_device *dev, int vid, uint32_t dir, int fd);
int vgw_device_state_check(struct vgw_device *dev, int vid);
/* Wait for the transfer thread, if any; its result. dev->lock held. */
int vgw_device_xfer_join(struct vgw_device *dev);
/* A load is under way: the rings must wait for it. */
bool vgw_device_xfer_loading(const struct vgw_device *dev);

#endif /* VGW_VHOST_PRIV_H */
