/* SPDX-License-Identifier: BSD-3-Clause */
/* rte_telemetry commands, readable with dpdk-telemetry.py. They run on
 * DPDK's telemetry thread and only read. */
#include <errno.h>
#include <string.h>

#include <rte_telemetry.h>

#include "vgw_net.h"
#include "vgw_ctl.h"
#include "ctl_priv.h"

static int
tel_devices(const char *cmd, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	for (unsigned int i = 0; i < vgw_net_n_ports(); i++) {
		struct vgw_net_port_info in;

		if (vgw_net_port_info(i, &in) == 0)
			rte_tel_data_add_array_string(d, in.name);
	}
	return 0;
}

static void
add_counters(struct rte_tel_data *d, unsigned int idx, uint16_t queues)
{
	uint64_t rx = 0, rxb = 0, tx = 0, txb = 0, drops = 0, busy = 0;

	for (uint16_t q = 0; q < queues; q++) {
		struct vgw_dp_qstats st;

		vgw_net_queue_stats(idx, q, &st);
		rx += st.rx_pkts;
		rxb += st.rx_bytes;
		tx += st.tx_pkts;
		txb += st.tx_bytes;
		drops += st.drops;
		busy += st.busy_cycles;
	}
	rte_tel_data_add_dict_u64(d, "rx_packets", rx);
	rte_tel_data_add_dict_u64(d, "rx_bytes", rxb);
	rte_tel_data_add_dict_u64(d, "tx_packets", tx);
	rte_tel_data_add_dict_u64(d, "tx_bytes", txb);
	rte_tel_data_add_dict_u64(d, "drops", drops);
	rte_tel_data_add_dict_u64(d, "busy_cycles", busy);
}

static int
tel_device(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct vgw_net_port_info in;
	const struct vgw_ctl_dev *cd;
	int idx;

	if (params == NULL || (idx = vgw_net_port_find(params)) < 0)
		return -EINVAL;
	vgw_net_port_info(idx, &in);
	cd = vgw_ctl_dev_find(in.name);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", in.name);
	rte_tel_data_add_dict_string(d, "type", vgw_conf_dev_type_str(in.type));
	rte_tel_data_add_dict_string(d, "socket", in.socket);
	rte_tel_data_add_dict_string(d, "phase", cd != NULL ? vgw_phase_name(cd->pm.phase) : "idle");
	rte_tel_data_add_dict_int(d, "connected", in.connected);
	rte_tel_data_add_dict_int(d, "ready", in.ready);
	rte_tel_data_add_dict_int(d, "suspended", in.suspended);
	rte_tel_data_add_dict_int(d, "queues", in.queues);
	rte_tel_data_add_dict_int(d, "active_queues", in.active_queues);
	rte_tel_data_add_dict_u64(d, "features", in.features);
	rte_tel_data_add_dict_u64(d, "protocol_features", in.protocol_features);
	rte_tel_data_add_dict_u64(d, "connects", in.connects);
	add_counters(d, idx, in.queues);
	return 0;
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < vgw_net_n_ports(); i++) {
		struct vgw_net_port_info in;
		struct rte_tel_data *c;

		if (vgw_net_port_info(i, &in) < 0 || (c = rte_tel_data_alloc()) == NULL)
			continue;
		rte_tel_data_start_dict(c);
		add_counters(c, i, in.queues);
		rte_tel_data_add_dict_container(d, in.name, c, 0);
	}
	return 0;
}

int
vgw_ctl_telemetry_init(void)
{
	if (rte_telemetry_register_cmd("/vhostgw/devices", tel_devices,
			"Returns the device names. Takes no parameters") < 0 ||
	    rte_telemetry_register_cmd("/vhostgw/device", tel_device,
			"Returns a device's state, phase and counters. Parameters: device name") < 0 ||
	    rte_telemetry_register_cmd("/vhostgw/stats", tel_stats,
			"Returns every device's counters. Takes no parameters") < 0)
		return -EINVAL;
	return 0;
}
