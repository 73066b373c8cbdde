/* SPDX-License-Identifier: BSD-3-Clause */

/* Owner, group and mode of a listening unix socket, by path: the gateway
 * (lib/vhost) and vhostgw-keeper, whichever creates the socket a front-end
 * connects to, apply a device's "socket_owner", "socket_group" and
 * "socket_mode" with this. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vgw_common.h"

int
vgw_socket_set_perm(const char *path, uint32_t uid, uint32_t gid, int mode, const char **step)
{
	struct stat st;

	*step = "stat";
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	/* chown first: it may clear bits a chmod before it had set */
	*step = "chown";
	if ((uid != UINT32_MAX || gid != UINT32_MAX) && lchown(path, (uid_t)uid, (gid_t)gid) < 0)
		return -errno;
	*step = "chmod";
	if (mode >= 0 && chmod(path, (mode_t)mode) < 0)
		return -errno;
	return 0;
}

const char *
vgw_socket_perm_str(char *buf, size_t len, uint32_t uid, uint32_t gid, int mode)
{
	char u[16] = "-", g[16] = "-", m[16] = "-";

	if (uid != UINT32_MAX)
		snprintf(u, sizeof(u), "%u", uid);
	if (gid != UINT32_MAX)
		snprintf(g, sizeof(g), "%u", gid);
	if (mode >= 0)
		snprintf(m, sizeof(m), "%04o", (unsigned int)mode);
	snprintf(buf, len, "owner %s, group %s, mode %s", u, g, m);
	return buf;
}
