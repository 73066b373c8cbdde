/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_MSGGUARD_H
#define VGW_MSGGUARD_H

/* Check every vhost-user message front-ends send before rte_vhost reads
 * it (msgguard.c). Call once, before the devices' sockets start; not under
 * the keeper. */
void vgw_msgguard_enable(void);

#endif /* VGW_MSGGUARD_H */
