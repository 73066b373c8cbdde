/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_LOG_H
#define VGW_LOG_H

#include <rte_log.h>

/* One DPDK log type per module, named vgw.<module>, so that
 * --log-level=vgw.net:debug works. Each module's .c registers its own with
 * RTE_LOG_REGISTER_SUFFIX(vgw_logtype_<module>, <module>, INFO); the
 * application registers vgw.app. It lives in lib/dp, the first module that
 * needs DPDK, which every module that logs depends on. */
extern int vgw_logtype_vhost;
extern int vgw_logtype_dp;
extern int vgw_logtype_net;
extern int vgw_logtype_ctl;
extern int vgw_logtype_fs;
extern int vgw_logtype_app;

#define VGW_LOG(mod, level, fmt, ...) \
	rte_log(RTE_LOG_##level, vgw_logtype_##mod, "vhostgw: " fmt "\n", ##__VA_ARGS__)

#endif /* VGW_LOG_H */
