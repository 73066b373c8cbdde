/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_CTL_PRIV_H
#define VGW_CTL_PRIV_H

#include <stdint.h>

#include <jansson.h>

#include "vgw_common.h"
#include "vgw_conf.h"
#include "phase.h"

/* The control thread's record of a device: its phase machine, and the
 * keeper's replays of it into this gateway (recovery-end). */
struct vgw_ctl_dev {
	char name[VGW_NAME_MAX];
	enum vgw_dev_type type;
	struct vgw_phase_machine pm;
	double phase_ts;
	uint64_t recoveries;	   /* replays finished in this gateway */
	uint64_t last_recovery_ms; /* the last one: ms from the crash to its end */
	double last_recovery_ts;   /* ... and when it ended */
};

/* ctl.c */
/* Send an event (consumed) to every subscriber. */
void vgw_ctl_broadcast(json_t *event);
/* The client whose request is being served subscribes to events. */
void vgw_ctl_subscribe_current(void);

/* ctl_cmds.c */
/* Run one request; return the reply object (with "ok"). */
json_t *vgw_ctl_dispatch(json_t *req);
json_t *vgw_ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct vgw_device;
/* What the control socket's device and stats commands show of a device;
 * rte_telemetry shows the same. */
json_t *vgw_ctl_device_json(struct vgw_device *dev);
json_t *vgw_ctl_device_stats(struct vgw_device *dev);

/* ctl_events.c */
int vgw_ctl_events_init(const struct vgw_conf *conf);
void vgw_ctl_events_fini(void);
void vgw_ctl_events_poll(void);
struct vgw_ctl_dev *vgw_ctl_dev_find(const char *name);
void vgw_ctl_feed(struct vgw_ctl_dev *d, enum vgw_phase_input in, const char *detail, double ts);
double vgw_ctl_now(void);
uint64_t vgw_ctl_inputs_lost(void);
/* The phase machine input of a vhost event, or -1 if it has none. */
int vgw_ctl_phase_input(unsigned int vhost_event, uint64_t arg, char *detail, size_t len);

#endif /* VGW_CTL_PRIV_H */
