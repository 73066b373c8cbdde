/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_log.h>

#include "vgw_log.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_common, common, INFO);
RTE_LOG_REGISTER_SUFFIX(vgw_logtype_app, app, INFO);
