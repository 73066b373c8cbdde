/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_CONF_H
#define VGW_CONF_H

/* The JSON configuration, parsed and validated into plain structs.
 * No DPDK here: the parser and its unit tests run without EAL. */

#include <stdbool.h>
#include <stdint.h>

#include "vgw_common.h"

#define VGW_CONF_DEFAULT_RUNTIME_DIR "/run/vhostgw"
/* the embedded default's fs0 shares this directory (created if missing) */
#define VGW_CONF_DEFAULT_SHARED_DIR "/run/vhostgw/share"
#define VGW_CONF_DEFAULT_QUEUES 1
#define VGW_CONF_DEFAULT_AGING_SEC 300
#define VGW_CONF_DEFAULT_MAC_TABLE 4096

enum vgw_dev_type {
	VGW_DEV_NET,
	VGW_DEV_FS,
	VGW_DEV_ETHDEV,
};

enum vgw_fs_cache_mode {
	VGW_FS_CACHE_MODE_AUTO,
	VGW_FS_CACHE_MODE_NONE,
	VGW_FS_CACHE_MODE_ALWAYS,
};

enum vgw_dev_mode {
	VGW_MODE_SERVER,
	VGW_MODE_CLIENT,
};

/* "socket_owner", "socket_group", "socket_mode": the owner, group and
 * permission bits a server socket gets once it listens, before a
 * front-end that is not root can connect. */
#define VGW_CONF_ID_KEEP UINT32_MAX /* owner or group: left as created */
#define VGW_CONF_MODE_KEEP (-1)	    /* mode: left as created (the umask) */

struct vgw_conf_sockperm {
	uint32_t uid; /* or VGW_CONF_ID_KEEP */
	uint32_t gid; /* or VGW_CONF_ID_KEEP */
	int mode;     /* 0..0777 or VGW_CONF_MODE_KEEP */
};

struct vgw_conf_dev {
	char name[VGW_NAME_MAX];
	enum vgw_dev_type type;
	/* net, fs: absolute socket path (a relative one in the file is
	 * resolved against runtime_dir) */
	char socket[VGW_SOCKET_MAX];
	enum vgw_dev_mode mode;
	/* net, fs in server mode: the device's own keys, else the top
	 * level's; all KEEP in client mode (the socket is the front-end's) */
	struct vgw_conf_sockperm sockperm;
	uint16_t queues; /* queue pairs (net, ethdev) or request queues (fs) */
	/* net, fs: "disable_protocol_features", vhost-user protocol feature
	 * bits never offered to the front-end (a workaround for front-ends
	 * that mishandle one) */
	uint64_t pf_off;
	/* net: "offloads", checksum and TCP segmentation offered to the guest
	 * (default true); only on a one-copy link (doc/one-copy.rst), where
	 * the peer is a guest too: elsewhere never offered */
	bool offloads;
	/* fs */
	char shared_dir[4096];
	char tag[VGW_TAG_MAX];
	enum vgw_fs_cache_mode fs_cache; /* "cache": auto (default), none, always */
	int fs_timeout;			 /* "timeout": entry and attr seconds, -1 default */
	bool fs_xattr;			 /* "xattr": serve extended attributes (true) */
	bool fs_writeback;		 /* "writeback": FUSE writeback cache (false) */
	/* ethdev */
	char devargs[VGW_DEVARGS_MAX];
	uint16_t rx_desc; /* ethdev ring sizes, default 1024 */
	uint16_t tx_desc;
	/* the link this device belongs to, index into conf->links, or -1 */
	int link;
};

enum vgw_link_type {
	VGW_LINK_XCONNECT,
	VGW_LINK_BRIDGE,
};

struct vgw_conf_link {
	enum vgw_link_type type;
	char name[VGW_NAME_MAX];	      /* bridge name; "xconnect<N>" for xconnects */
	uint16_t n_ports;		      /* 2 for xconnect */
	uint16_t ports[VGW_BRIDGE_MAX_PORTS]; /* indices into conf->devs */
	uint32_t aging_sec;		      /* bridge: MAC aging time */
	uint32_t mac_table_size;	      /* bridge: entries, power of two */
	uint32_t max_macs_per_port;	      /* bridge: learned per port, 0: no cap */
	/* xconnect of two vhost-user net devices of as many queue pairs (or a
	 * bridge of ones of one queue pair and ethdevs): each frame copied
	 * once, guest to guest (lib/net/net_oc.c). Default: on for an
	 * xconnect (where it was measured faster at 64 B and 1518 B), off
	 * for a bridge (doc/one-copy.rst). */
	bool one_copy;
	bool one_copy_set; /* given in the configuration, not the default */
};

/* The vhost-user protocol feature of bit `bit` by its name in lower case
 * ("status" for VHOST_USER_PROTOCOL_F_STATUS), NULL above the known ones. */
const char *vgw_conf_protocol_feature_name(unsigned int bit);

struct vgw_conf {
	char runtime_dir[VGW_SOCKET_MAX];
	uint32_t mbufs; /* 0: computed from the devices */
	/* top-level "socket_owner", "socket_group", "socket_mode": the
	 * default of every server-mode net and fs device */
	struct vgw_conf_sockperm sockperm;
	uint16_t n_devs;
	struct vgw_conf_dev devs[VGW_MAX_DEVICES];
	uint16_t n_links;
	struct vgw_conf_link links[VGW_MAX_DEVICES];
};

/* Parse and validate. `origin` names the source in messages (a file name,
 * or "<default>"). On success return a conf to free with vgw_conf_free();
 * on any problem return NULL with one line per problem appended to errs
 * (errs may be NULL) and errno set (EINVAL, ENOMEM, or why the file could
 * not be read). Lines read "<origin>: <json path>: <message>", the path
 * left out for the top-level object; invalid JSON gives one line
 * "<origin>:<line>:<column>: invalid JSON: <message>". */
struct vgw_conf *vgw_conf_parse_string(const char *json, const char *origin,
				       struct vgw_errlist *errs);
struct vgw_conf *vgw_conf_parse_file(const char *path, struct vgw_errlist *errs);
void vgw_conf_free(struct vgw_conf *conf);

/* The embedded default: two net devices, net0 and net1, in server mode,
 * sockets <runtime_dir>/net0.sock and net1.sock, cross-connected; and fs0,
 * socket fs0.sock, tag "vhostgw", sharing VGW_CONF_DEFAULT_SHARED_DIR. */
const char *vgw_conf_default_json(void);

/* Whether sp changes anything (a key was given). */
bool vgw_conf_sockperm_set(const struct vgw_conf_sockperm *sp);

/* Index of the device with that name, or -1. */
int vgw_conf_find_dev(const struct vgw_conf *conf, const char *name);

/* "net", "fs", "ethdev" / "server", "client" / "xconnect", "bridge", as in
 * the config; "unknown" for a value out of range. */
const char *vgw_conf_dev_type_str(enum vgw_dev_type t);
const char *vgw_conf_dev_mode_str(enum vgw_dev_mode m);
const char *vgw_conf_link_type_str(enum vgw_link_type t);

#endif /* VGW_CONF_H */
