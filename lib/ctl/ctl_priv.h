/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_CTL_PRIV_H
#define VGW_CTL_PRIV_H

#include <jansson.h>

/* Run one request; return the reply object (with "ok"). */
json_t *vgw_ctl_dispatch(json_t *req);
json_t *vgw_ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* VGW_CTL_PRIV_H */
