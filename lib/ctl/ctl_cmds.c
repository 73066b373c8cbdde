/* SPDX-License-Identifier: BSD-3-Clause */
/* Control socket commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "vgw_common.h"
#include "vgw_dp.h"
#include "vgw_device.h"
#include "vgw_net.h"
#include "ctl_priv.h"
#include "ctl_text.h"

/* An error reply. The message quotes what the client sent, cut at
 * sizeof(msg) and maybe in a character: made valid UTF-8, or jansson would
 * make no reply and the client would be dropped. */
json_t *
vgw_ctl_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vgw_ctl_utf8_fix(msg);
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
device_summary(struct vgw_device *dev)
{
	struct vgw_device_info in;

	vgw_device_info(dev, &in, NULL);
	return json_pack("{s:s, s:s, s:b, s:b, s:b, s:s}", "name", dev->name, "type",
			 vgw_conf_dev_type_str(dev->type), "connected", in.connected, "ready",
			 in.ready, "suspended", in.suspended, "phase", phase_of(dev->name));
}

json_t *
vgw_ctl_device_json(struct vgw_device *dev)
{
	const struct vgw_ctl_dev *cd = vgw_ctl_dev_find(dev->name);
	struct vgw_device_info in;
	json_t *extra = json_object(), *d;

	vgw_device_info(dev, &in, extra);
	d = json_pack("{s:s, s:s}", "name", dev->name, "type", vgw_conf_dev_type_str(dev->type));
	if (dev->vhost) {
		json_object_set_new(d, "socket", json_string(dev->conf->socket));
		json_object_set_new(d, "mode", json_string(vgw_conf_dev_mode_str(dev->conf->mode)));
	}
	json_object_update(d, extra);
	json_decref(extra);
	json_object_update_new(
		d,
		json_pack("{s:b, s:b, s:b, s:i, s:i, s:i, s:I, s:I, s:I, s:I,"
			  " s:I, s:s}",
			  "connected", in.connected, "ready", in.ready, "suspended", in.suspended,
			  "vid", in.vid, "queues", in.queues, "active_queues", in.active_queues,
			  "features", (json_int_t)in.features, "protocol_features",
			  (json_int_t)in.protocol_features, "connects", (json_int_t)in.connects,
			  "disconnects", (json_int_t)in.disconnects, "msgs_refused",
			  (json_int_t)in.msgs_refused, "phase", phase_of(dev->name)));
	if (dev->vhost) {
		/* guest memory shrunk under the mapping (stopped until remapped) */
		json_object_set_new(d, "memory_faults", json_integer((json_int_t)in.mem_faults));
		json_object_set_new(d, "memory_fault", json_boolean(in.mem_fault));
	}
	if (cd != NULL && cd->pm.phase == VGW_PHASE_FAILED)
		json_object_set_new(d, "failed_reason", json_string(cd->pm.reason));
	return d;
}

/* A device's counters, and its recoveries under the keeper: replays
 * finished in this gateway and, after one, the last one's time from the
 * crash to its end and when it ended. */
json_t *
vgw_ctl_device_stats(struct vgw_device *dev)
{
	const struct vgw_ctl_dev *cd = vgw_ctl_dev_find(dev->name);
	json_t *o = json_pack("{s:s}", "name", dev->name);

	dev->ops->stats(dev, o);
	if (cd == NULL)
		return o;
	json_object_set_new(o, "recoveries", json_integer((json_int_t)cd->recoveries));
	if (cd->recoveries > 0) {
		json_object_set_new(o, "last_recovery_ms",
				    json_integer((json_int_t)cd->last_recovery_ms));
		json_object_set_new(o, "last_recovery_ts", json_real(cd->last_recovery_ts));
	}
	return o;
}

static json_t *
cmd_devices(json_t *req)
{
	json_t *arr = json_array(), *r;

	for (unsigned int i = 0; i < vgw_device_count(); i++)
		json_array_append_new(arr, device_summary(vgw_device_at(i)));
	r = ok_reply();
	json_object_set_new(r, "devices", arr);
	return r;
}

static struct vgw_device *
device_arg(json_t *req, json_t **err)
{
	const char *name = json_string_value(json_object_get(req, "device"));
	struct vgw_device *dev;

	if (name == NULL) {
		*err = vgw_ctl_error("\"device\": a device name (string) is required");
		return NULL;
	}
	dev = vgw_device_find(name);
	if (dev == NULL)
		*err = vgw_ctl_error("unknown device \"%s\"", name);
	return dev;
}

static json_t *
cmd_device(json_t *req)
{
	json_t *err, *r;
	struct vgw_device *dev = device_arg(req, &err);

	if (dev == NULL)
		return err;
	r = ok_reply();
	json_object_set_new(r, "device", vgw_ctl_device_json(dev));
	return r;
}

static json_t *
workers_json(void)
{
	json_t *lc = json_array();

	for (unsigned int w = 0; w < vgw_dp_n_workers(); w++) {
		uint64_t loops, busy;

		vgw_dp_worker_load(w, &loops, &busy);
		json_array_append_new(
			lc, json_pack("{s:i, s:I, s:I}", "lcore", vgw_dp_worker_lcore(w), "loops",
				      (json_int_t)loops, "busy_loops", (json_int_t)busy));
	}
	return lc;
}

static json_t *
cmd_stats(json_t *req)
{
	struct vgw_net_mem m;
	json_t *arr = json_array(), *r, *err;

	if (json_object_get(req, "device") != NULL) {
		struct vgw_device *dev = device_arg(req, &err);

		if (dev == NULL) {
			json_decref(arr);
			return err;
		}
		json_array_append_new(arr, vgw_ctl_device_stats(dev));
	} else {
		for (unsigned int i = 0; i < vgw_device_count(); i++)
			json_array_append_new(arr, vgw_ctl_device_stats(vgw_device_at(i)));
	}
	vgw_net_mem_info(&m);
	r = ok_reply();
	json_object_set_new(r, "devices", arr);
	json_object_set_new(r, "workers", workers_json());
	json_object_set_new(r, "mbufs",
			    json_pack("{s:i, s:i, s:i}", "total", m.mbufs, "in_use", m.in_use,
				      "size", m.mbuf_size));
	json_object_set_new(r, "tsc_hz", json_integer((json_int_t)rte_get_tsc_hz()));
	json_object_set_new(r, "inputs_lost", json_integer((json_int_t)vgw_ctl_inputs_lost()));
	json_object_set_new(
		r, "restarts",
		json_integer((json_int_t)strtoll(
			getenv("VHOSTGW_KEEPER_RESTARTS") ? getenv("VHOSTGW_KEEPER_RESTARTS") : "0",
			NULL, 10)));
	return r;
}

/* Run by vhostgw-keeper: it tells its pid, how many gateways it restarted
 * and why the last one ended in the environment. */
static json_t *
keeper_json(void)
{
	const char *pid = getenv("VHOSTGW_KEEPER_PID");
	const char *restarts = getenv("VHOSTGW_KEEPER_RESTARTS");
	const char *last = getenv("VHOSTGW_KEEPER_LAST_EXIT");
	const char *sock = getenv("VHOSTGW_KEEPER_SOCKET");

	if (pid == NULL)
		return json_null();
	return json_pack("{s:I, s:I, s:s, s:s}", "pid", (json_int_t)strtoll(pid, NULL, 10),
			 "restarts", (json_int_t)strtoll(restarts ? restarts : "0", NULL, 10),
			 "last_exit", last ? last : "", "socket", sock ? sock : "");
}

static json_t *
cmd_keeper(json_t *req)
{
	json_t *r = ok_reply();

	(void)req;
	json_object_set_new(r, "keeper", keeper_json());
	return r;
}

static json_t *
do_suspend(json_t *req, bool suspend)
{
	json_t *err, *r;
	struct vgw_device *dev = device_arg(req, &err);
	struct vgw_ctl_dev *cd;
	int ret;

	if (dev == NULL)
		return err;
	ret = vgw_device_suspend(dev, suspend);
	if (ret == -ENOTSUP)
		return vgw_ctl_error("device \"%s\" is not a vhost-user device", dev->name);
	if (ret < 0)
		return vgw_ctl_error("%s failed: %s", suspend ? "suspend" : "resume",
				     strerror(-ret));
	cd = vgw_ctl_dev_find(dev->name);
	if (cd != NULL && ret == 1)
		vgw_ctl_feed(cd, suspend ? VGW_PHASE_IN_OP_SUSPEND : VGW_PHASE_IN_OP_RESUME, NULL,
			     vgw_ctl_now());
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
	struct vgw_device *dev;
	char why[256] = "";
	size_t bytes = 0;
	json_t *err, *r;
	int ret;

	dev = device_arg(req, &err);
	if (dev == NULL)
		return err;
	if (dev->ops->state_save == NULL || dev->ops->state_load == NULL)
		return vgw_ctl_error("device \"%s\" has no device state of its own (net: "
				     "the front-end's rings are all there is)",
				     dev->name);
	if (path == NULL || path[0] != '/')
		return vgw_ctl_error("\"path\": an absolute file path (string) is required");
	r = ok_reply();
	ret = save ? vgw_device_state_save(dev, path, r, &bytes, why, sizeof(why)) :
		     vgw_device_state_load(dev, path, r, &bytes, why, sizeof(why));
	if (ret < 0) {
		json_decref(r);
		return vgw_ctl_error("%s of \"%s\" failed: %s", save ? "state-save" : "state-load",
				     dev->name, why[0] ? why : strerror(-ret));
	}
	json_object_set_new(r, "bytes", json_integer((json_int_t)bytes));
	vgw_ctl_broadcast(json_pack("{s:s, s:s, s:s, s:s, s:I, s:f}", "event", "state", "device",
				    dev->name, "op", save ? "save" : "load", "path", path, "bytes",
				    (json_int_t)bytes, "ts", vgw_ctl_now()));
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
	[RTE_LOG_EMERG] = "emerg", [RTE_LOG_ALERT] = "alert",	  [RTE_LOG_CRIT] = "crit",
	[RTE_LOG_ERR] = "err",	   [RTE_LOG_WARNING] = "warning", [RTE_LOG_NOTICE] = "notice",
	[RTE_LOG_INFO] = "info",   [RTE_LOG_DEBUG] = "debug",
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
			     "notice, info, debug, got \"%s\"",
			     level);
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
	{ "state-save", cmd_state_save,
	  "an fs device's session to a file, the device "
	  "suspended or stopped {device, path}" },
	{ "state-load", cmd_state_load,
	  "a saved session into an fs device whose front-end "
	  "connected and has not started it {device, path}" },
	{ "subscribe", cmd_subscribe, "stream events on this connection" },
	{ "log-level", cmd_log_level, "set a log level {level, type (default vgw.*)}" },
	{ "keeper", cmd_keeper,
	  "the keeper this gateway runs under: pid, restarts, "
	  "last exit (null without one)" },
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
