/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_COMMON_H
#define VGW_COMMON_H

/* Small utilities shared by every module. Nothing here needs DPDK, so the
 * DPDK-free modules (conf) and their unit tests can use it. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define VGW_NAME_MAX 32	   /* device and bridge names, NUL included */
#define VGW_SOCKET_MAX 108 /* sizeof(sun_path) */
#define VGW_DEVARGS_MAX 256
#define VGW_TAG_MAX 37 /* virtio-fs tag: 36 bytes + NUL */
#define VGW_MAX_DEVICES 64
#define VGW_MAX_QUEUES 16 /* queue pairs (net) or request queues (fs) */
#define VGW_BRIDGE_MAX_PORTS VGW_MAX_DEVICES

#define VGW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define VGW_UNUSED __attribute__((unused))

/* A growable list of one-line error messages. */
struct vgw_errlist {
	char **lines;
	unsigned int n;
	unsigned int cap;
};

void vgw_errlist_init(struct vgw_errlist *e);
void vgw_errlist_add(struct vgw_errlist *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vgw_errlist_vadd(struct vgw_errlist *e, const char *fmt, va_list ap);
void vgw_errlist_free(struct vgw_errlist *e);

/* Copy src into dst of size n; return -ENAMETOOLONG if it does not fit. */
int vgw_strlcpy_checked(char *dst, const char *src, size_t n);

/* Give the unix socket file at path an owner, a group (UINT32_MAX: left
 * as they are) and permission bits (mode < 0: left): chown, then chmod.
 * 0, or -errno with *step naming what failed ("stat", "chown", "chmod";
 * -ENOTSOCK: path is not a socket). */
int vgw_socket_set_perm(const char *path, uint32_t uid, uint32_t gid, int mode, const char **step);
/* "owner 65534, group 107, mode 0660" ("-" for what is left), in buf. */
const char *vgw_socket_perm_str(char *buf, size_t len, uint32_t uid, uint32_t gid, int mode);

#endif /* VGW_COMMON_H */
