/* SPDX-License-Identifier: BSD-3-Clause */
/* Control socket commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "vgw_common.h"
#include "vgw_dp.h"
#include "vgw_net.h"
#include "vgw_fsdev.h"
#include "ctl_priv.h"

json_t *
vgw_ctl_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *
ok_reply(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static const char *
phase_of(const char *name)
{
	const struct vgw_ctl_dev *d = vgw_ctl_dev_find(name);

	return d != NULL ? vgw_phase_name(d->pm.phase) : "idle";
}

static json_t *
port_summary(unsigned int idx)
{
	struct vgw_net_port_info in;

	if (vgw_net_port_info(idx, &in) < 0)
		return NULL;
	return json_pack("{s:s, s:s, s:b, s:b, s:b, s:s}",
			 "name", in.name, "type", vgw_conf_dev_type_str(in.type),
			 "connected", in.connected, "ready", in.ready,
			 "suspended", in.suspended, "phase", phase_of(in.name));
}

static json_t *
queue_stats(unsigned int idx, uint16_t q)
{
	struct vgw_dp_qstats st;

	vgw_net_queue_stats(idx, q, &st);
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
		"queue", q,
		"rx_packets", (json_int_t)st.rx_pkts, "rx_bytes", (json_int_t)st.rx_bytes,
		"tx_packets", (json_int_t)st.tx_pkts, "tx_bytes", (json_int_t)st.tx_bytes,
		"drops", (json_int_t)st.drops, "busy_cycles", (json_int_t)st.busy_cycles,
		"cycles_per_packet", st.rx_pkts ? (double)st.busy_cycles / st.rx_pkts : 0.0);
}

static json_t *
port_stats(unsigned int idx)
{
	struct vgw_net_port_info in;
	json_t *qs = json_array(), *o;
	uint64_t tot[5] = {0};

	vgw_net_port_info(idx, &in);
	for (uint16_t q = 0; q < in.queues; q++) {
		struct vgw_dp_qstats st;

		vgw_net_queue_stats(idx, q, &st);
		tot[0] += st.rx_pkts;
		tot[1] += st.rx_bytes;
		tot[2] += st.tx_pkts;
		tot[3] += st.tx_bytes;
		tot[4] += st.drops;
		json_array_append_new(qs, queue_stats(idx, q));
	}
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "name", in.name,
		"rx_packets", (json_int_t)tot[0], "rx_bytes", (json_int_t)tot[1],
		"tx_packets", (json_int_t)tot[2], "tx_bytes", (json_int_t)tot[3],
		"drops", (json_int_t)tot[4], "queues", qs);
	if (vgw_net_bridge_macs(idx) >= 0)
		json_object_set_new(o, "bridge_macs", json_integer(vgw_net_bridge_macs(idx)));
	return o;
}

/* fs devices are numbered after the net ports in device_arg()'s space */
#define FS_IDX(i) ((int)(i) + VGW_MAX_DEVICES)
#define IS_FS(idx) ((idx) >= VGW_MAX_DEVICES)

static json_t *
fs_summary(unsigned int i)
{
	struct vgw_fsdev_info in;

	vgw_fsdev_info(i, &in);
	return json_pack("{s:s, s:s, s:b, s:b, s:b, s:s}", "name", in.name, "type", "fs",
			 "connected", in.connected, "ready", in.ready,
			 "suspended", in.suspended, "phase", phase_of(in.name));
}

static json_t *
fs_stats(unsigned int i)
{
	struct vgw_fsdev_info in;
	struct vgw_dp_qstats st;

	vgw_fsdev_info(i, &in);
	vgw_dp_stats_sum(in.stats_slot, &st);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:[{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:f}],"
			 " s:I, s:I, s:I, s:I, s:I, s:i, s:i}",
		"name", in.name, "rx_packets", (json_int_t)st.rx_pkts,
		"rx_bytes", (json_int_t)st.rx_bytes, "tx_packets", (json_int_t)st.tx_pkts,
		"tx_bytes", (json_int_t)in.bytes_read, "drops", (json_int_t)st.drops,
		"queues", "queue", 0, "rx_packets", (json_int_t)st.rx_pkts,
		"rx_bytes", (json_int_t)st.rx_bytes, "tx_packets", (json_int_t)st.tx_pkts,
		"tx_bytes", (json_int_t)in.bytes_read, "drops", (json_int_t)st.drops,
		"busy_cycles", (json_int_t)st.busy_cycles,
		"cycles_per_packet", st.rx_pkts ? (double)st.busy_cycles / st.rx_pkts : 0.0,
		"requests", (json_int_t)in.requests, "errors", (json_int_t)in.errors,
		"malformed", (json_int_t)in.malformed, "bytes_read", (json_int_t)in.bytes_read,
		"bytes_written", (json_int_t)in.bytes_written, "inodes", in.inodes,
		"handles", in.handles);
}

static json_t *
fs_device(unsigned int i)
{
	struct vgw_fsdev_info in;
	const struct vgw_ctl_dev *cd;
	json_t *d;

	vgw_fsdev_info(i, &in);
	cd = vgw_ctl_dev_find(in.name);
	d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:i, s:i, s:i, s:I, s:I,"
		      " s:I, s:I, s:s}",
		"name", in.name, "type", "fs", "socket", in.socket, "mode", in.mode,
		"shared_dir", in.shared_dir, "tag", in.tag, "connected", in.connected,
		"ready", in.ready, "suspended", in.suspended, "vid", in.vid,
		"queues", in.queues, "active_queues", in.active_vrings,
		"features", (json_int_t)in.features,
		"protocol_features", (json_int_t)in.protocol_features,
		"connects", (json_int_t)in.connects, "disconnects", (json_int_t)in.disconnects,
		"phase", phase_of(in.name));
	json_object_set_new(d, "inflight", json_boolean(in.inflight));
	json_object_set_new(d, "inflight_resubmitted", json_integer(in.inflight_resubmitted));
	if (cd != NULL && cd->pm.phase == VGW_PHASE_FAILED)
		json_object_set_new(d, "failed_reason", json_string(cd->pm.reason));
	return d;
}

static json_t *
cmd_devices(json_t *req)
{
	json_t *arr = json_array(), *r;

	for (unsigned int i = 0; i < vgw_net_n_ports(); i++)
		json_array_append_new(arr, port_summary(i));
	for (unsigned int i = 0; i < vgw_fsdev_count(); i++)
		json_array_append_new(arr, fs_summary(i));
	r = ok_reply();
	json_object_set_new(r, "devices", arr);
	return r;
}

static int
device_arg(json_t *req, json_t **err)
{
	const char *name = json_string_value(json_object_get(req, "device"));
	int idx;

	if (name == NULL) {
		*err = vgw_ctl_error("\"device\": a device name (string) is required");
		return -1;
	}
	idx = vgw_net_port_find(name);
	if (idx < 0 && vgw_fsdev_find(name) >= 0)
		idx = FS_IDX(vgw_fsdev_find(name));
	if (idx < 0)
		*err = vgw_ctl_error("unknown device \"%s\"", name);
	return idx;
}

static json_t *
cmd_device(json_t *req)
{
	struct vgw_net_port_info in;
	json_t *err, *r, *d;
	int idx = device_arg(req, &err);

	if (idx < 0)
		return err;
	if (IS_FS(idx)) {
		r = ok_reply();
		json_object_set_new(r, "device", fs_device(idx - VGW_MAX_DEVICES));
		return r;
	}
	vgw_net_port_info(idx, &in);
	d = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I}",
		"name", in.name, "type", vgw_conf_dev_type_str(in.type),
		in.type == VGW_DEV_ETHDEV ? "devargs" : "socket", in.socket,
		"mode", in.mode, "connected", in.connected, "ready", in.ready,
		"vid", in.vid, "queues", in.queues, "active_queues", in.active_queues,
		"features", (json_int_t)in.features,
		"protocol_features", (json_int_t)in.protocol_features,
		"connects", (json_int_t)in.connects,
		"disconnects", (json_int_t)in.disconnects,
		"refused", (json_int_t)in.refused);
	json_object_set_new(d, "suspended", json_boolean(in.suspended));
	json_object_set_new(d, "phase", json_string(phase_of(in.name)));
	{
		const struct vgw_ctl_dev *cd = vgw_ctl_dev_find(in.name);

		if (cd != NULL && cd->pm.phase == VGW_PHASE_FAILED)
			json_object_set_new(d, "failed_reason", json_string(cd->pm.reason));
	}
	if (in.link[0] != '\0')
		json_object_set_new(d, "link", json_string(in.link));
	if (in.peer[0] != '\0')
		json_object_set_new(d, "peer", json_string(in.peer));
	if (in.link_name[0] != '\0')
		json_object_set_new(d, "bridge", json_string(in.link_name));
	r = ok_reply();
	json_object_set_new(r, "device", d);
	return r;
}

static json_t *
cmd_stats(json_t *req)
{
	struct vgw_net_mem m;
	json_t *arr = json_array(), *lc = json_array(), *r, *err;

	if (json_object_get(req, "device") != NULL) {
		int idx = device_arg(req, &err);

		if (idx < 0) {
			json_decref(arr);
			json_decref(lc);
			return err;
		}
		json_array_append_new(arr, IS_FS(idx) ? fs_stats(idx - VGW_MAX_DEVICES) :
					   port_stats(idx));
	} else {
		for (unsigned int i = 0; i < vgw_net_n_ports(); i++)
			json_array_append_new(arr, port_stats(i));
		for (unsigned int i = 0; i < vgw_fsdev_count(); i++)
			json_array_append_new(arr, fs_stats(i));
	}
	for (unsigned int w = 0; w < vgw_dp_n_workers(); w++) {
		uint64_t loops, busy;

		vgw_dp_worker_load(w, &loops, &busy);
		json_array_append_new(lc, json_pack("{s:i, s:I, s:I}",
			"lcore", vgw_dp_worker_lcore(w), "loops", (json_int_t)loops,
			"busy_loops", (json_int_t)busy));
	}
	vgw_net_mem_info(&m);
	r = ok_reply();
	json_object_set_new(r, "devices", arr);
	json_object_set_new(r, "workers", lc);
	json_object_set_new(r, "mbufs", json_pack("{s:i, s:i, s:i}", "total", m.mbufs,
		"in_use", m.in_use, "size", m.mbuf_size));
	json_object_set_new(r, "tsc_hz", json_integer((json_int_t)rte_get_tsc_hz()));
	return r;
}

static json_t *
do_suspend(json_t *req, bool suspend)
{
	json_t *err, *r;
	int idx = device_arg(req, &err), ret;

	if (idx < 0)
		return err;
	ret = IS_FS(idx) ? vgw_fsdev_suspend(idx - VGW_MAX_DEVICES, suspend) :
			   vgw_net_suspend(idx, suspend);
	if (ret == -ENOTSUP)
		return vgw_ctl_error("device \"%s\" is not a vhost-user device",
				     json_string_value(json_object_get(req, "device")));
	if (ret < 0)
		return vgw_ctl_error("%s failed: %s", suspend ? "suspend" : "resume",
				     strerror(-ret));
	{
		struct vgw_ctl_dev *d = vgw_ctl_dev_find(
			json_string_value(json_object_get(req, "device")));

		if (d != NULL && ret == 1)
			vgw_ctl_feed(d, suspend ? VGW_PHASE_IN_OP_SUSPEND :
				     VGW_PHASE_IN_OP_RESUME, NULL, vgw_ctl_now());
	}
	r = ok_reply();
	json_object_set_new(r, "changed", json_boolean(ret == 1));
	return r;
}

static json_t *
cmd_suspend(json_t *req)
{
	return do_suspend(req, true);
}

static json_t *
cmd_resume(json_t *req)
{
	return do_suspend(req, false);
}

static json_t *
do_state(json_t *req, bool save)
{
	const char *path = json_string_value(json_object_get(req, "path"));
	const char *name = json_string_value(json_object_get(req, "device"));
	struct vgw_fsdev_state_info in;
	char why[256] = "";
	json_t *err, *r;
	int idx = device_arg(req, &err), ret;

	if (idx < 0)
		return err;
	if (!IS_FS(idx))
		return vgw_ctl_error("device \"%s\" has no device state of its own (net: "
				     "the front-end's rings are all there is)", name);
	if (path == NULL || path[0] != '/')
		return vgw_ctl_error("\"path\": an absolute file path (string) is required");
	ret = save ? vgw_fsdev_state_save(idx - VGW_MAX_DEVICES, path, &in, why, sizeof(why)) :
		     vgw_fsdev_state_load(idx - VGW_MAX_DEVICES, path, &in, why, sizeof(why));
	if (ret < 0)
		return vgw_ctl_error("%s of \"%s\" failed: %s", save ? "state-save" : "state-load",
				     name, why[0] ? why : strerror(-ret));
	r = ok_reply();
	json_object_set_new(r, "bytes", json_integer((json_int_t)in.bytes));
	json_object_set_new(r, "inodes", json_integer(in.inodes));
	json_object_set_new(r, "handles", json_integer(in.handles));
	if (!save)
		json_object_set_new(r, "stale", json_integer((json_int_t)in.stale));
	vgw_ctl_broadcast(json_pack("{s:s, s:s, s:s, s:s, s:I, s:f}", "event", "state",
		"device", name, "op", save ? "save" : "load", "path", path,
		"bytes", (json_int_t)in.bytes, "ts", vgw_ctl_now()));
	return r;
}

static json_t *
cmd_state_save(json_t *req)
{
	return do_state(req, true);
}

static json_t *
cmd_state_load(json_t *req)
{
	return do_state(req, false);
}

static json_t *
cmd_subscribe(json_t *req)
{
	vgw_ctl_subscribe_current();
	return ok_reply();
}

static const char *const level_names[] = {
	[RTE_LOG_EMERG] = "emerg", [RTE_LOG_ALERT] = "alert", [RTE_LOG_CRIT] = "crit",
	[RTE_LOG_ERR] = "err", [RTE_LOG_WARNING] = "warning",
	[RTE_LOG_NOTICE] = "notice", [RTE_LOG_INFO] = "info",
	[RTE_LOG_DEBUG] = "debug",
};

static json_t *
cmd_log_level(json_t *req)
{
	const char *type = json_string_value(json_object_get(req, "type"));
	const char *level = json_string_value(json_object_get(req, "level"));
	json_t *r;

	if (type == NULL)
		type = "vgw.*";
	if (level == NULL)
		return vgw_ctl_error("\"level\": one of emerg, alert, crit, err, warning, "
				     "notice, info, debug is required");
	for (unsigned int l = RTE_LOG_EMERG; l <= RTE_LOG_DEBUG; l++) {
		if (strcmp(level_names[l], level) != 0)
			continue;
		if (rte_log_set_level_pattern(type, l) < 0)
			return vgw_ctl_error("cannot set log level of \"%s\"", type);
		r = ok_reply();
		json_object_set_new(r, "type", json_string(type));
		json_object_set_new(r, "level", json_string(level));
		return r;
	}
	return vgw_ctl_error("\"level\": expected one of emerg, alert, crit, err, warning, "
			     "notice, info, debug, got \"%s\"", level);
}

struct ctl_cmd {
	const char *name;
	json_t *(*fn)(json_t *req);
	const char *help;
};

static json_t *cmd_help(json_t *req);

static const struct ctl_cmd cmds[] = {
	{ "devices", cmd_devices, "list the devices" },
	{ "device", cmd_device, "one device: features, queues, link {device}" },
	{ "stats", cmd_stats, "counters per device and queue, workers, mbufs [{device}]" },
	{ "suspend", cmd_suspend, "stop processing a device's rings {device}" },
	{ "resume", cmd_resume, "restart a suspended device {device}" },
	{ "state-save", cmd_state_save, "an fs device's session to a file, the device "
	  "suspended or stopped {device, path}" },
	{ "state-load", cmd_state_load, "a saved session into an fs device whose front-end "
	  "connected and has not started it {device, path}" },
	{ "subscribe", cmd_subscribe, "stream events on this connection" },
	{ "log-level", cmd_log_level, "set a log level {level, type (default vgw.*)}" },
	{ "help", cmd_help, "this list" },
};

static json_t *
cmd_help(json_t *req)
{
	json_t *o = json_object(), *r;

	for (unsigned int i = 0; i < VGW_ARRAY_SIZE(cmds); i++)
		json_object_set_new(o, cmds[i].name, json_string(cmds[i].help));
	r = ok_reply();
	json_object_set_new(r, "commands", o);
	return r;
}

json_t *
vgw_ctl_dispatch(json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "cmd"));

	if (name == NULL)
		return vgw_ctl_error("\"cmd\": a command name (string) is required");
	for (unsigned int i = 0; i < VGW_ARRAY_SIZE(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return cmds[i].fn(req);
	return vgw_ctl_error("unknown command \"%s\" (try \"help\")", name);
}
