/* SPDX-License-Identifier: BSD-3-Clause */
/* The one table of vhost-user messages: id, name, the fds each carries,
 * the phase machine input it makes, who answers it besides rte_vhost, and
 * whether rte_vhost unmaps guest memory while handling it. The message
 * hooks, the device base and every module read it; nothing else defines
 * message ids. And what the message hooks check of a region a message
 * brings, without DPDK. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "vgw_common.h"
#include "vgw_vhost.h"

#define M(id_, fds_, in_, h_, fl_) \
	[VGW_VHOST_MSG_##id_] = { .id = VGW_VHOST_MSG_##id_, \
				  .name = #id_, \
				  .fds = VGW_VHOST_FDS_##fds_, \
				  .input = VGW_VHOST_IN_##in_, \
				  .handler = VGW_VHOST_H_##h_, \
				  .flags = (fl_) }
#define REMAP VGW_VHOST_MSG_F_REMAP

static const struct vgw_vhost_msg_desc msgs[VGW_VHOST_MSG_COUNT] = {
	M(GET_FEATURES, NONE, NONE, NONE, 0),
	M(SET_FEATURES, NONE, FEATURES, NONE, 0),
	M(SET_OWNER, NONE, NONE, NONE, 0),
	M(RESET_OWNER, NONE, NONE, NONE, 0),
	M(SET_MEM_TABLE, REGIONS, NONE, NONE, REMAP),
	M(SET_LOG_BASE, ONE, LOG_BASE, NONE, REMAP),
	M(SET_LOG_FD, ONE, NONE, NONE, 0),
	M(SET_VRING_NUM, NONE, NONE, NONE, 0),
	M(SET_VRING_ADDR, NONE, NONE, NONE, 0),
	M(SET_VRING_BASE, NONE, NONE, NONE, 0),
	M(GET_VRING_BASE, NONE, RING_STOP, NONE, 0),
	M(SET_VRING_KICK, RING, RING_START, NONE, 0),
	M(SET_VRING_CALL, RING, NONE, NONE, 0),
	M(SET_VRING_ERR, RING, NONE, NONE, 0),
	M(GET_PROTOCOL_FEATURES, NONE, NONE, NONE, 0),
	M(SET_PROTOCOL_FEATURES, NONE, NONE, NONE, 0),
	M(GET_QUEUE_NUM, NONE, NONE, NONE, 0),
	M(SET_VRING_ENABLE, NONE, NONE, NONE, 0),
	M(SEND_RARP, NONE, RARP, NONE, 0),
	M(NET_SET_MTU, NONE, NONE, NONE, 0),
	M(SET_BACKEND_REQ_FD, ONE, NONE, NONE, 0),
	M(IOTLB_MSG, NONE, NONE, NONE, 0),
	M(SET_VRING_ENDIAN, NONE, NONE, NONE, 0),
	M(GET_CONFIG, NONE, NONE, NONE, 0),
	M(SET_CONFIG, NONE, NONE, NONE, 0),
	M(CREATE_CRYPTO_SESSION, NONE, NONE, NONE, 0),
	M(CLOSE_CRYPTO_SESSION, NONE, NONE, NONE, 0),
	M(POSTCOPY_ADVISE, NONE, NONE, NONE, 0),
	M(POSTCOPY_LISTEN, NONE, NONE, NONE, 0),
	M(POSTCOPY_END, NONE, NONE, NONE, 0),
	M(GET_INFLIGHT_FD, NONE, NONE, INFLIGHT, 0),
	M(SET_INFLIGHT_FD, ONE, NONE, INFLIGHT, REMAP),
	M(GPU_SET_SOCKET, ONE, NONE, NONE, 0),
	M(RESET_DEVICE, NONE, NONE, NONE, 0),
	M(VRING_KICK, NONE, NONE, NONE, 0),
	M(GET_MAX_MEM_SLOTS, NONE, NONE, NONE, 0),
	M(ADD_MEM_REG, ONE, NONE, NONE, 0),
	M(REM_MEM_REG, NONE, NONE, NONE, 0),
	M(SET_STATUS, NONE, STATUS, NONE, 0),
	M(GET_STATUS, NONE, NONE, NONE, 0),
	M(GET_SHARED_OBJECT, NONE, NONE, NONE, 0),
	M(SET_DEVICE_STATE_FD, ONE, NONE, STATE_FD, 0),
	M(CHECK_DEVICE_STATE, NONE, NONE, STATE_CHECK, 0),
};

const struct vgw_vhost_msg_desc *
vgw_vhost_msg_desc(uint32_t request)
{
	if (request < VGW_ARRAY_SIZE(msgs) && msgs[request].name != NULL)
		return &msgs[request];
	return NULL;
}

const char *
vgw_vhost_msg_name(uint32_t request)
{
	const struct vgw_vhost_msg_desc *d = vgw_vhost_msg_desc(request);

	return d != NULL ? d->name : "UNKNOWN";
}

uint64_t
vgw_vhost_inflight_queue_bytes(uint16_t queue_size, bool packed)
{
	uint64_t b = 16 + (uint64_t)queue_size * (packed ? 32 : 16);

	return (b + 63) & ~(uint64_t)63;
}

void *
vgw_vhost_region_map(int fd, uint64_t size, uint64_t offset)
{
	void *p;

	if (size == 0 || size > SIZE_MAX || offset > (uint64_t)INT64_MAX) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	return p == MAP_FAILED ? NULL : p;
}
