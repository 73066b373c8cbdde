/* SPDX-License-Identifier: BSD-3-Clause */
/* rte_telemetry commands, readable with dpdk-telemetry.py. They run on
 * DPDK's telemetry thread and only read. Every device of the registry is
 * shown the way the control socket shows it (device and stats), flattened
 * to what rte_telemetry 22.11 carries: scalars, one level of nesting. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include <jansson.h>

#include "vgw_device.h"
#include "vgw_ctl.h"
#include "ctl_priv.h"

/* The scalar members of o into the dict d: strings, integers (booleans as
 * 0 or 1). Nested objects and arrays are left out; so are the keys in
 * skip (NULL-terminated). */
static void
add_scalars(struct rte_tel_data *d, json_t *o, const char *const *skip)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		bool skipped = false;

		for (unsigned int i = 0; skip != NULL && skip[i] != NULL; i++)
			skipped |= strcmp(skip[i], key) == 0;
		if (skipped)
			continue;
		if (json_is_string(v))
			rte_tel_data_add_dict_string(d, key, json_string_value(v));
		else if (json_is_boolean(v))
			rte_tel_data_add_dict_int(d, key, json_is_true(v));
		else if (json_is_integer(v) && json_integer_value(v) < 0)
			rte_tel_data_add_dict_int(d, key, (int)json_integer_value(v));
		else if (json_is_integer(v))
			rte_tel_data_add_dict_u64(d, key, (uint64_t)json_integer_value(v));
	}
}

/* Queue i's counters as the container "q<i>" of d. */
static void
add_queue(struct rte_tel_data *d, size_t i, json_t *q)
{
	static const char *const skip[] = { "queue", NULL };
	struct rte_tel_data *c = rte_tel_data_alloc();
	char name[24]; /* "q" and any size_t */

	if (c == NULL)
		return;
	rte_tel_data_start_dict(c);
	add_scalars(c, q, skip);
	snprintf(name, sizeof(name), "q%zu", i);
	if (rte_tel_data_add_dict_container(d, name, c, 0) < 0)
		rte_tel_data_free(c);
}

/* A device's counters: the scalars of its stats, busy_cycles summed over
 * its queues, and (per_queue) each queue's counters. */
static void
add_counters(struct rte_tel_data *d, struct vgw_device *dev, bool per_queue)
{
	static const char *const skip[] = { "name", NULL };
	json_t *st = vgw_ctl_device_stats(dev), *q;
	uint64_t busy = 0;
	size_t i;

	json_array_foreach(json_object_get(st, "queues"), i, q)
	{
		busy += (uint64_t)json_integer_value(json_object_get(q, "busy_cycles"));
		if (per_queue)
			add_queue(d, i, q);
	}
	add_scalars(d, st, skip);
	rte_tel_data_add_dict_u64(d, "busy_cycles", busy);
	json_decref(st);
}

static int
tel_devices(const char *cmd, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	for (unsigned int i = 0; i < vgw_device_count(); i++)
		rte_tel_data_add_array_string(d, vgw_device_at(i)->name);
	return 0;
}

static int
tel_device(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct vgw_device *dev;
	json_t *o;

	if (params == NULL || (dev = vgw_device_find(params)) == NULL)
		return -EINVAL;
	o = vgw_ctl_device_json(dev);
	rte_tel_data_start_dict(d);
	add_scalars(d, o, NULL);
	/* "socket" of an ethdev has always been its devargs here */
	if (json_object_get(o, "socket") == NULL && json_object_get(o, "devargs") != NULL)
		rte_tel_data_add_dict_string(d, "socket",
					     json_string_value(json_object_get(o, "devargs")));
	json_decref(o);
	add_counters(d, dev, true);
	return 0;
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < vgw_device_count(); i++) {
		struct vgw_device *dev = vgw_device_at(i);
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL)
			continue;
		rte_tel_data_start_dict(c);
		add_counters(c, dev, false);
		rte_tel_data_add_dict_container(d, dev->name, c, 0);
	}
	return 0;
}

int
vgw_ctl_telemetry_init(void)
{
	if (rte_telemetry_register_cmd("/vhostgw/devices", tel_devices,
				       "Returns the device names. Takes no parameters") < 0 ||
	    rte_telemetry_register_cmd(
		    "/vhostgw/device", tel_device,
		    "Returns a device's state, phase and counters. Parameters: device name") < 0 ||
	    rte_telemetry_register_cmd("/vhostgw/stats", tel_stats,
				       "Returns every device's counters. Takes no parameters") < 0)
		return -EINVAL;
	return 0;
}
