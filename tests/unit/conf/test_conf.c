/* SPDX-License-Identifier: BSD-3-Clause */

/* Unit tests for the JSON config parser (lib/conf). No EAL.
 *
 * JSON in this file is written with single quotes, which parse() turns
 * into double quotes before parsing (no test needs a literal '). Expected
 * messages are written as they are printed. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vgw_conf.h"

#define ORIGIN "cfg.json"
#define MAX_LINES 12

/* ---- helpers ---- */

static char *
dq(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static struct vgw_conf *
parse(const char *json, struct vgw_errlist *e)
{
	char *s = dq(json);
	struct vgw_conf *conf = vgw_conf_parse_string(s, ORIGIN, e);

	free(s);
	return conf;
}

static void
dump_lines(const struct vgw_errlist *e, const char *const *want)
{
	for (unsigned int i = 0; i < e->n; i++)
		print_error("got:  %s\n", e->lines[i]);
	for (unsigned int i = 0; want != NULL && want[i] != NULL; i++)
		print_error("want: %s\n", want[i]);
}

static struct vgw_conf *
parse_ok(const char *json)
{
	struct vgw_errlist e;
	struct vgw_conf *conf;

	vgw_errlist_init(&e);
	conf = parse(json, &e);
	if (conf == NULL || e.n != 0)
		dump_lines(&e, NULL);
	assert_non_null(conf);
	assert_int_equal(e.n, 0);
	vgw_errlist_free(&e);
	return conf;
}

/* e holds exactly want[] (NULL-terminated), in order. */
static void
assert_lines(const struct vgw_errlist *e, const char *const *want)
{
	unsigned int n = 0;

	while (want[n] != NULL)
		n++;
	if (e->n != n)
		dump_lines(e, want);
	assert_int_equal(e->n, n);
	for (unsigned int i = 0; i < n; i++)
		assert_string_equal(e->lines[i], want[i]);
}

static void
expect_fail(const char *json, const char *const *want)
{
	struct vgw_errlist e;
	struct vgw_conf *conf;

	vgw_errlist_init(&e);
	conf = parse(json, &e);
	assert_lines(&e, want);
	assert_null(conf);
	vgw_errlist_free(&e);
}

/* Parse text that is already real JSON (no quote swapping). */
static void
expect_fail_raw(const char *json, const char *const *want)
{
	struct vgw_errlist e;
	struct vgw_conf *conf;

	vgw_errlist_init(&e);
	conf = vgw_conf_parse_string(json, ORIGIN, &e);
	assert_lines(&e, want);
	assert_null(conf);
	vgw_errlist_free(&e);
}

#define NET_A "{'name': 'a', 'type': 'net', 'socket': 'a.sock'}"
#define NET_B "{'name': 'b', 'type': 'net', 'socket': 'b.sock'}"
#define NET_C "{'name': 'c', 'type': 'net', 'socket': 'c.sock'}"
#define FS_F \
	"{'name': 'f', 'type': 'fs', 'socket': 'f.sock', " \
	"'shared_dir': '/srv', 'tag': 't'}"
#define ETH_E "{'name': 'e', 'type': 'ethdev', 'devargs': 'net_null0'}"
#define DEVS(d) "{'devices': [" d "]}"
#define LINKS(d, l) "{'devices': [" d "], 'links': [" l "]}"
#define ABC NET_A ", " NET_B ", " NET_C

/* ---- the table of bad configs ---- */

struct bad_case {
	const char *name;
	const char *json;
	const char *lines[MAX_LINES]; /* NULL-terminated */
};

static struct bad_case bad_cases[] = {
	/* top level */
	{ "top level array", "[]", { "cfg.json: expected a JSON object at the top level" } },
	{ "top level string", "'x'", { "cfg.json: expected a JSON object at the top level" } },
	{ "empty object", "{}", { "cfg.json: missing required key \"devices\"" } },
	{ "unknown top-level key",
	  "{'devices': [" NET_A "], 'device': 1}",
	  { "cfg.json: unknown key \"device\"" } },
	{ "duplicate top-level key",
	  "{'devices': [], 'devices': []}",
	  { "cfg.json:1:25: invalid JSON: duplicate object key near "
	    "'\"devices\"'" } },
	{ "devices not an array",
	  "{'devices': {}}",
	  { "cfg.json: devices: expected an array, got object" } },
	{ "devices null",
	  "{'devices': null}",
	  { "cfg.json: devices: expected an array, got null" } },
	{ "devices empty",
	  "{'devices': []}",
	  { "cfg.json: devices: expected 1..64 devices, got 0" } },
	{ "device not an object",
	  "{'devices': [42]}",
	  { "cfg.json: devices[0]: expected an object, got integer" } },
	{ "runtime_dir relative",
	  "{'runtime_dir': 'run', 'devices': [" NET_A "]}",
	  { "cfg.json: runtime_dir: expected an absolute path, got \"run\"" } },
	{ "runtime_dir boolean",
	  "{'runtime_dir': true, 'devices': [" NET_A "]}",
	  { "cfg.json: runtime_dir: expected a string, got boolean" } },
	{ "offloads not a boolean",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', 'offloads': 1}"),
	  { "cfg.json: devices[0].offloads: expected a boolean, got integer" } },
	{ "offloads on fs",
	  DEVS("{'name': 'f', 'type': 'fs', 'socket': 'f.sock', 'shared_dir': '/srv', "
	       "'tag': 't', 'offloads': true}"),
	  { "cfg.json: devices[0]: unknown key \"offloads\" for type fs" } },
	{ "mbufs negative",
	  "{'mbufs': -1, 'devices': [" NET_A "]}",
	  { "cfg.json: mbufs: expected 0..4294967295, got -1" } },
	{ "mbufs too large",
	  "{'mbufs': 4294967296, 'devices': [" NET_A "]}",
	  { "cfg.json: mbufs: expected 0..4294967295, got 4294967296" } },
	{ "mbufs real",
	  "{'mbufs': 1.5, 'devices': [" NET_A "]}",
	  { "cfg.json: mbufs: expected an integer, got real" } },

	/* protocol features a device does not offer */
	{ "disable_protocol_features not an array",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', "
	       "'disable_protocol_features': 'status'}"),
	  { "cfg.json: devices[0].disable_protocol_features: expected an array, got string" } },
	{ "disable_protocol_features unknown and not a string",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', "
	       "'disable_protocol_features': ['status', 'suspend', 16]}"),
	  { "cfg.json: devices[0].disable_protocol_features[1]: unknown protocol feature "
	    "\"suspend\" (known: mq, log_shmfd, rarp, reply_ack, ..., status, "
	    "device_state: see README)",
	    "cfg.json: devices[0].disable_protocol_features[2]: expected a string, got integer" } },
	{ "disable_protocol_features on an ethdev",
	  DEVS("{'name': 'e', 'type': 'ethdev', 'devargs': 'net_null0', "
	       "'disable_protocol_features': []}"),
	  { "cfg.json: devices[0]: unknown key \"disable_protocol_features\" for type "
	    "ethdev" } },

	/* device names and types */
	{ "name missing",
	  DEVS("{'type': 'net', 'socket': 'a.sock'}"),
	  { "cfg.json: devices[0]: missing required key \"name\"" } },
	{ "name empty",
	  DEVS("{'name': '', 'type': 'net', 'socket': 'a.sock'}"),
	  { "cfg.json: devices[0].name: expected 1..31 characters, got 0" } },
	{ "name too long",
	  DEVS("{'name': 'abcdefghijklmnopqrstuvwxyz012345', 'type': 'net', "
	       "'socket': 'a.sock'}"),
	  { "cfg.json: devices[0].name: expected 1..31 characters, got 32" } },
	{ "name with a slash",
	  DEVS("{'name': 'vm/1', 'type': 'net', 'socket': 's'}"),
	  { "cfg.json: devices[0].name: invalid character '/' in \"vm/1\" "
	    "(allowed: A-Z a-z 0-9 _ . -)" } },
	{ "name with a newline",
	  DEVS("{'name': 'a\\nb', 'type': 'net', 'socket': 's'}"),
	  { "cfg.json: devices[0].name: invalid character '\\n' in \"a\\nb\" "
	    "(allowed: A-Z a-z 0-9 _ . -)" } },
	{ "name not a string",
	  DEVS("{'name': 7, 'type': 'net', 'socket': 's'}"),
	  { "cfg.json: devices[0].name: expected a string, got integer" } },
	{ "duplicate name",
	  DEVS(NET_A ", " NET_B ", {'name': 'a', 'type': 'net', 'socket': 'x.sock'}"),
	  { "cfg.json: devices[2].name: duplicate device name \"a\" "
	    "(first at devices[0])" } },
	{ "type missing",
	  DEVS("{'name': 'a', 'socket': 'a.sock'}"),
	  { "cfg.json: devices[0]: missing required key \"type\"" } },
	{ "type misspelled",
	  DEVS("{'name': 'a', 'type': 'nett', 'socket': 'a.sock'}"),
	  { "cfg.json: devices[0].type: expected one of net, fs, ethdev, "
	    "got \"nett\"" } },
	{ "type not a string",
	  DEVS("{'name': 'a', 'type': ['net'], 'socket': 'a.sock'}"),
	  { "cfg.json: devices[0].type: expected a string, got array" } },
	{ "unknown device key",
	  DEVS("{'name': 'a', 'type': 'net', 'sokcet': 'a.sock'}"),
	  { "cfg.json: devices[0]: unknown key \"sokcet\"",
	    "cfg.json: devices[0]: missing required key \"socket\"" } },
	{ "unknown key with a bad type",
	  DEVS("{'name': 'a', 'type': 'x', 'socket': 'a.sock', 'color': 'red'}"),
	  { "cfg.json: devices[0]: unknown key \"color\"",
	    "cfg.json: devices[0].type: expected one of net, fs, ethdev, got \"x\"" } },

	/* net and fs */
	{ "socket missing",
	  DEVS("{'name': 'a', 'type': 'net'}"),
	  { "cfg.json: devices[0]: missing required key \"socket\"" } },
	{ "socket empty",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': ''}"),
	  { "cfg.json: devices[0].socket: expected a non-empty path" } },
	{ "socket not a string",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': {}}"),
	  { "cfg.json: devices[0].socket: expected a string, got object" } },
	{ "duplicate socket after resolution",
	  DEVS(NET_A ", {'name': 'b', 'type': 'net', 'socket': '/run/vhostgw/a.sock'}"),
	  { "cfg.json: devices[1].socket: socket \"/run/vhostgw/a.sock\" "
	    "already used by devices[0]" } },
	{ "duplicate relative socket, net and fs",
	  DEVS(NET_A ", {'name': 'f', 'type': 'fs', 'socket': 'a.sock', "
		     "'shared_dir': '/srv', 'tag': 't'}"),
	  { "cfg.json: devices[1].socket: socket \"/run/vhostgw/a.sock\" "
	    "already used by devices[0]" } },
	{ "mode invalid",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 's', "
	       "'mode': 'listen'}"),
	  { "cfg.json: devices[0].mode: expected one of server, client, "
	    "got \"listen\"" } },
	{ "queues a string",
	  DEVS(NET_A ", {'name': 'b', 'type': 'net', 'socket': 'b', 'queues': '2'}"),
	  { "cfg.json: devices[1].queues: expected an integer, got string" } },
	{ "queues zero",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 's', 'queues': 0}"),
	  { "cfg.json: devices[0].queues: expected 1..16, got 0" } },
	{ "queues 17",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 's', 'queues': 17}"),
	  { "cfg.json: devices[0].queues: expected 1..16, got 17" } },
	{ "queues real",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 's', 'queues': 1.0}"),
	  { "cfg.json: devices[0].queues: expected an integer, got real" } },
	{ "net with devargs",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 's', 'devargs': 'x'}"),
	  { "cfg.json: devices[0]: unknown key \"devargs\" for type net" } },
	{ "fs without shared_dir and tag",
	  DEVS("{'name': 'f', 'type': 'fs', 'socket': 'f'}"),
	  { "cfg.json: devices[0]: missing required key \"shared_dir\"",
	    "cfg.json: devices[0]: missing required key \"tag\"" } },
	{ "fs shared_dir relative",
	  DEVS("{'name': 'f', 'type': 'fs', 'socket': 'f', 'shared_dir': 'srv', "
	       "'tag': 't'}"),
	  { "cfg.json: devices[0].shared_dir: expected an absolute path, "
	    "got \"srv\"" } },
	{ "fs tag too long",
	  DEVS("{'name': 'f', 'type': 'fs', 'socket': 'f', 'shared_dir': '/srv', "
	       "'tag': '0123456789012345678901234567890123456'}"),
	  { "cfg.json: devices[0].tag: expected 1..36 bytes, got 37" } },
	{ "fs tag empty",
	  DEVS("{'name': 'f', 'type': 'fs', 'socket': 'f', 'shared_dir': '/srv', "
	       "'tag': ''}"),
	  { "cfg.json: devices[0].tag: expected 1..36 bytes, got 0" } },

	/* ethdev */
	{ "ethdev with socket and mode",
	  DEVS("{'name': 'e', 'type': 'ethdev', 'devargs': 'net_null0', "
	       "'socket': 'e.sock', 'mode': 'server'}"),
	  { "cfg.json: devices[0]: unknown key \"socket\" for type ethdev",
	    "cfg.json: devices[0]: unknown key \"mode\" for type ethdev" } },
	{ "ethdev without devargs",
	  DEVS("{'name': 'e', 'type': 'ethdev'}"),
	  { "cfg.json: devices[0]: missing required key \"devargs\"" } },
	{ "ethdev devargs empty",
	  DEVS("{'name': 'e', 'type': 'ethdev', 'devargs': ''}"),
	  { "cfg.json: devices[0].devargs: expected 1..255 bytes, got 0" } },
	{ "ethdev descriptors",
	  DEVS("{'name': 'e', 'type': 'ethdev', 'devargs': 'x', 'rx_desc': 100, "
	       "'tx_desc': 8192}, {'name': 'g', 'type': 'ethdev', 'devargs': 'y', "
	       "'rx_desc': 32, 'tx_desc': '1024', 'queues': 0}"),
	  { "cfg.json: devices[0].rx_desc: expected a power of two in 64..4096, "
	    "got 100",
	    "cfg.json: devices[0].tx_desc: expected a power of two in 64..4096, "
	    "got 8192",
	    "cfg.json: devices[1].queues: expected 1..16, got 0",
	    "cfg.json: devices[1].rx_desc: expected a power of two in 64..4096, "
	    "got 32",
	    "cfg.json: devices[1].tx_desc: expected an integer, got string" } },

	/* links */
	{ "links not an array",
	  "{'devices': [" NET_A "], 'links': {}}",
	  { "cfg.json: links: expected an array, got object" } },
	{ "link not an object",
	  LINKS(ABC, "'a'"),
	  { "cfg.json: links[0]: expected an object, got string" } },
	{ "link with neither kind",
	  LINKS(ABC, "{'ports': ['a', 'b']}"),
	  { "cfg.json: links[0]: expected exactly one of \"xconnect\" or "
	    "\"bridge\", got neither" } },
	{ "link with both kinds",
	  LINKS(ABC, "{'xconnect': ['a', 'b'], 'bridge': 'x'}"),
	  { "cfg.json: links[0]: expected exactly one of \"xconnect\" or "
	    "\"bridge\", got both" } },
	{ "xconnect with one name",
	  LINKS(ABC, "{'xconnect': ['a']}"),
	  { "cfg.json: links[0].xconnect: expected 2 device names, got 1" } },
	{ "xconnect with three names",
	  LINKS(ABC, "{'xconnect': ['a', 'b', 'c']}"),
	  { "cfg.json: links[0].xconnect: expected 2 device names, got 3" } },
	{ "xconnect not an array",
	  LINKS(ABC, "{'xconnect': 'a'}"),
	  { "cfg.json: links[0].xconnect: expected an array, got string" } },
	{ "xconnect to itself",
	  LINKS(ABC, "{'xconnect': ['a', 'a']}"),
	  { "cfg.json: links[0].xconnect[1]: device \"a\" is listed twice "
	    "(first at links[0].xconnect[0])" } },
	{ "xconnect to an unknown device",
	  LINKS(NET_A ", {'name': 'vm1', 'type': 'net', 'socket': 'vm1.sock'}",
		"{'xconnect': ['vm1', 'nope']}"),
	  { "cfg.json: links[0].xconnect[1]: no device named \"nope\"" } },
	{ "xconnect name not a string",
	  LINKS(ABC, "{'xconnect': ['a', 1]}"),
	  { "cfg.json: links[0].xconnect[1]: expected a string, got integer" } },
	{ "xconnect to an fs device",
	  LINKS(NET_A ", " FS_F, "{'xconnect': ['a', 'f']}"),
	  { "cfg.json: links[0].xconnect[1]: device \"f\" has type fs, only net "
	    "and ethdev devices can be linked" } },
	{ "xconnect with a bridge key",
	  LINKS(ABC, "{'xconnect': ['a', 'b'], 'ports': []}"),
	  { "cfg.json: links[0]: unknown key \"ports\" for an xconnect" } },
	{ "device in two links",
	  LINKS("{'name': 'vm1', 'type': 'net', 'socket': 'vm1.sock'}, " ABC,
		"{'xconnect': ['vm1', 'a']}, {'bridge': 'br0', 'ports': ['vm1', 'b']}"),
	  { "cfg.json: links[1].ports[0]: device \"vm1\" is already in links[0]" } },
	{ "bridge without ports",
	  LINKS(ABC, "{'bridge': 'br0'}"),
	  { "cfg.json: links[0]: missing required key \"ports\"" } },
	{ "bridge with one port",
	  LINKS(ABC, "{'bridge': 'br0', 'ports': ['a']}"),
	  { "cfg.json: links[0].ports: expected 2..64 device names, got 1" } },
	{ "bridge with a repeated port",
	  LINKS(ABC, "{'bridge': 'br0', 'ports': ['a', 'b', 'c', 'b']}"),
	  { "cfg.json: links[0].ports[3]: device \"b\" is listed twice "
	    "(first at links[0].ports[1])" } },
	{ "bridge name invalid",
	  LINKS(ABC, "{'bridge': 'br 0', 'ports': ['a', 'b']}"),
	  { "cfg.json: links[0].bridge: invalid character ' ' in \"br 0\" "
	    "(allowed: A-Z a-z 0-9 _ . -)" } },
	{ "bridge name not a string",
	  LINKS(ABC, "{'bridge': null, 'ports': ['a', 'b']}"),
	  { "cfg.json: links[0].bridge: expected a string, got null" } },
	{ "duplicate bridge name",
	  LINKS(ABC ", " ETH_E, "{'bridge': 'br0', 'ports': ['a', 'b']}, "
				"{'xconnect': ['c', 'e']}, {'bridge': 'br0', 'ports': []}"),
	  { "cfg.json: links[2].bridge: duplicate bridge name \"br0\" "
	    "(first at links[0])",
	    "cfg.json: links[2].ports: expected 2..64 device names, got 0" } },
	{ "bridge aging_time out of range",
	  LINKS(ABC, "{'bridge': 'x', 'ports': ['a', 'b'], 'aging_time': 0}, "
		     "{'bridge': 'y', 'ports': ['c'], 'aging_time': 86401}"),
	  { "cfg.json: links[0].aging_time: expected 1..86400, got 0",
	    "cfg.json: links[1].ports: expected 2..64 device names, got 1",
	    "cfg.json: links[1].aging_time: expected 1..86400, got 86401" } },
	{ "bridge one_copy not a boolean",
	  LINKS(ABC ", " ETH_E, "{'bridge': 'x', 'ports': ['a', 'b'], 'one_copy': 'yes'}, "
				"{'xconnect': ['c', 'e'], 'one_copy': 0}"),
	  { "cfg.json: links[0].one_copy: expected a boolean, got string",
	    "cfg.json: links[1].one_copy: expected a boolean, got integer" } },
	{ "bridge mac_table_size out of range",
	  LINKS(ABC ", " ETH_E, "{'bridge': 'x', 'ports': ['a', 'b'], "
				"'mac_table_size': 15}, {'bridge': 'y', 'ports': ['c', 'e'], "
				"'mac_table_size': 2097152}"),
	  { "cfg.json: links[0].mac_table_size: expected 16..1048576, got 15",
	    "cfg.json: links[1].mac_table_size: expected 16..1048576, "
	    "got 2097152" } },
	{ "bridge max_macs_per_port out of range",
	  LINKS(ABC ", " ETH_E, "{'bridge': 'x', 'ports': ['a', 'b'], "
				"'max_macs_per_port': -1}, {'bridge': 'y', 'ports': ['c', 'e'], "
				"'max_macs_per_port': 1048577}"),
	  { "cfg.json: links[0].max_macs_per_port: expected 0..1048576, got -1",
	    "cfg.json: links[1].max_macs_per_port: expected 0..1048576, got 1048577" } },
	{ "bridge unknown key",
	  LINKS(ABC, "{'bridge': 'x', 'ports': ['a', 'b'], 'aging': 10}"),
	  { "cfg.json: links[0]: unknown key \"aging\"" } },
	/* socket ownership */
	{ "socket_owner no such user",
	  DEVS(NET_A ", {'name': 'b', 'type': 'net', 'socket': 'b.sock', "
		     "'socket_owner': 'nosuchuser'}"),
	  { "cfg.json: devices[1].socket_owner: no such user \"nosuchuser\"" } },
	{ "socket_group no such group",
	  DEVS("{'name': 'f', 'type': 'fs', 'socket': 'f.sock', 'shared_dir': '/srv', "
	       "'tag': 't', 'socket_group': 'nosuchgroup'}"),
	  { "cfg.json: devices[0].socket_group: no such group \"nosuchgroup\"" } },
	{ "socket_owner and socket_group empty, not strings, out of range",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', 'socket_owner': '', "
	       "'socket_group': 65534}, "
	       "{'name': 'b', 'type': 'net', 'socket': 'b.sock', "
	       "'socket_owner': '4294967295', 'socket_group': ''}"),
	  { "cfg.json: devices[0].socket_owner: expected a user name or a numeric uid, got \"\"",
	    "cfg.json: devices[0].socket_group: expected a string, got integer",
	    "cfg.json: devices[1].socket_owner: numeric uid \"4294967295\" out of range "
	    "(at most 4294967294)",
	    "cfg.json: devices[1].socket_group: expected a group name or a numeric gid, "
	    "got \"\"" } },
	{ "socket_mode not a string",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', 'socket_mode': 660}, "
	       "{'name': 'b', 'type': 'net', 'socket': 'b.sock', 'socket_mode': null}"),
	  { "cfg.json: devices[0].socket_mode: expected a string of octal digits such as "
	    "\"0660\", got integer",
	    "cfg.json: devices[1].socket_mode: expected a string of octal digits such as "
	    "\"0660\", got null" } },
	{ "socket_mode not octal",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', 'socket_mode': '0668'}, "
	       "{'name': 'b', 'type': 'net', 'socket': 'b.sock', 'socket_mode': 'rw-rw----'}, "
	       "{'name': 'c', 'type': 'net', 'socket': 'c.sock', 'socket_mode': ''}, "
	       "{'name': 'd', 'type': 'net', 'socket': 'd.sock', 'socket_mode': ' 660'}"),
	  { "cfg.json: devices[0].socket_mode: expected octal digits such as \"0660\", "
	    "got \"0668\"",
	    "cfg.json: devices[1].socket_mode: expected octal digits such as \"0660\", "
	    "got \"rw-rw----\"",
	    "cfg.json: devices[2].socket_mode: expected octal digits such as \"0660\", "
	    "got \"\"",
	    "cfg.json: devices[3].socket_mode: expected octal digits such as \"0660\", "
	    "got \" 660\"" } },
	{ "socket_mode above 0777",
	  DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', 'socket_mode': '1777'}, "
	       "{'name': 'b', 'type': 'net', 'socket': 'b.sock', 'socket_mode': '4755'}, "
	       "{'name': 'c', 'type': 'net', 'socket': 'c.sock', "
	       "'socket_mode': '7777777777777777777777777'}"),
	  { "cfg.json: devices[0].socket_mode: \"1777\" has bits above 0777 (setuid, "
	    "setgid and sticky do not apply to a socket)",
	    "cfg.json: devices[1].socket_mode: \"4755\" has bits above 0777 (setuid, "
	    "setgid and sticky do not apply to a socket)",
	    "cfg.json: devices[2].socket_mode: \"7777777777777777777777777\" has bits "
	    "above 0777 (setuid, setgid and sticky do not apply to a socket)" } },
	{ "socket keys on a client-mode device",
	  DEVS(NET_A ", {'name': 'b', 'type': 'net', 'socket': 'b.sock', 'mode': 'client', "
		     "'socket_owner': 'nobody', 'socket_group': '0', 'socket_mode': '0660'}, "
		     "{'name': 'f', 'type': 'fs', 'socket': 'f.sock', 'shared_dir': '/srv', "
		     "'tag': 't', 'mode': 'client', 'socket_mode': '0600'}"),
	  { "cfg.json: devices[1].socket_owner: not for a client-mode device (its socket "
	    "is the front-end's)",
	    "cfg.json: devices[1].socket_group: not for a client-mode device (its socket "
	    "is the front-end's)",
	    "cfg.json: devices[1].socket_mode: not for a client-mode device (its socket "
	    "is the front-end's)",
	    "cfg.json: devices[2].socket_mode: not for a client-mode device (its socket "
	    "is the front-end's)" } },
	{ "socket keys on an ethdev",
	  DEVS("{'name': 'e', 'type': 'ethdev', 'devargs': 'net_null0', "
	       "'socket_owner': 'nobody'}"),
	  { "cfg.json: devices[0]: unknown key \"socket_owner\" for type ethdev" } },
	{ "top-level socket defaults bad",
	  "{'socket_owner': 'nosuchuser', 'socket_group': 'nosuchgroup', "
	  "'socket_mode': '0800', 'devices': [" NET_A "]}",
	  { "cfg.json: socket_owner: no such user \"nosuchuser\"",
	    "cfg.json: socket_group: no such group \"nosuchgroup\"",
	    "cfg.json: socket_mode: expected octal digits such as \"0660\", got \"0800\"" } },
};

static void
test_bad_case(void **state)
{
	const struct bad_case *bc = *state;

	expect_fail(bc->json, bc->lines);
}

/* ---- good configs ---- */

static void
test_default(void **state)
{
	struct vgw_conf *conf;
	struct vgw_errlist e;

	vgw_errlist_init(&e);
	conf = vgw_conf_parse_string(vgw_conf_default_json(), "<default>", &e);
	assert_non_null(conf);
	assert_int_equal(e.n, 0);
	assert_string_equal(conf->runtime_dir, "/run/vhostgw");
	assert_int_equal(conf->mbufs, 0);
	assert_int_equal(conf->n_devs, 3);
	assert_int_equal(conf->devs[2].type, VGW_DEV_FS);
	assert_string_equal(conf->devs[2].name, "fs0");
	assert_string_equal(conf->devs[2].socket, "/run/vhostgw/fs0.sock");
	assert_string_equal(conf->devs[2].shared_dir, "/run/vhostgw/share");
	assert_string_equal(conf->devs[2].tag, "vhostgw");
	assert_int_equal(conf->devs[2].link, -1);
	for (unsigned int i = 0; i < 2; i++) {
		const struct vgw_conf_dev *d = &conf->devs[i];

		assert_int_equal(d->type, VGW_DEV_NET);
		assert_int_equal(d->mode, VGW_MODE_SERVER);
		assert_int_equal(d->queues, 1);
		assert_int_equal(d->link, 0);
	}
	for (unsigned int i = 0; i < 3; i++)
		assert_false(vgw_conf_sockperm_set(&conf->devs[i].sockperm));
	assert_string_equal(conf->devs[0].name, "net0");
	assert_string_equal(conf->devs[1].name, "net1");
	assert_string_equal(conf->devs[0].socket, "/run/vhostgw/net0.sock");
	assert_string_equal(conf->devs[1].socket, "/run/vhostgw/net1.sock");
	assert_int_equal(conf->n_links, 1);
	assert_int_equal(conf->links[0].type, VGW_LINK_XCONNECT);
	assert_string_equal(conf->links[0].name, "xconnect0");
	assert_int_equal(conf->links[0].n_ports, 2);
	assert_int_equal(conf->links[0].ports[0], 0);
	assert_int_equal(conf->links[0].ports[1], 1);
	vgw_conf_free(conf);
	vgw_errlist_free(&e);
}

static const char full_json[] =
	"{'runtime_dir': '/var/run/vgw', 'mbufs': 65536, 'devices': ["
	"{'name': 'vm1', 'type': 'net', 'socket': '/tmp/vm1.sock', "
	" 'mode': 'client', 'queues': 4},"
	"{'name': 'fs.1', 'type': 'fs', 'socket': 'fs1.sock', 'mode': 'server', "
	" 'queues': 2, 'shared_dir': '/srv/share', "
	" 'tag': '012345678901234567890123456789012345'},"
	"{'name': 'up_0', 'type': 'ethdev', 'devargs': 'net_tap0,iface=vgw0', "
	" 'queues': 16, 'rx_desc': 4096, 'tx_desc': 64},"
	"{'name': 'a', 'type': 'net', 'socket': 'a.sock'},"
	"{'name': 'b', 'type': 'net', 'socket': 'b.sock'},"
	"{'name': 'c-2', 'type': 'ethdev', 'devargs': 'net_null0'},"
	"{'name': 'lonely', 'type': 'net', 'socket': 'lonely.sock'}"
	"], 'links': ["
	"{'bridge': 'br0', 'ports': ['a', 'b', 'c-2'], 'aging_time': 60, "
	" 'mac_table_size': 1000},"
	"{'xconnect': ['vm1', 'up_0']}"
	"]}";

static void
test_full(void **state)
{
	struct vgw_conf *conf = parse_ok(full_json);
	const struct vgw_conf_dev *d = conf->devs;
	const struct vgw_conf_link *l = conf->links;

	assert_string_equal(conf->runtime_dir, "/var/run/vgw");
	assert_int_equal(conf->mbufs, 65536);
	assert_int_equal(conf->n_devs, 7);

	assert_string_equal(d[0].name, "vm1");
	assert_int_equal(d[0].type, VGW_DEV_NET);
	assert_string_equal(d[0].socket, "/tmp/vm1.sock");
	assert_int_equal(d[0].mode, VGW_MODE_CLIENT);
	assert_int_equal(d[0].queues, 4);
	assert_int_equal(d[0].link, 1);

	assert_string_equal(d[1].name, "fs.1");
	assert_int_equal(d[1].type, VGW_DEV_FS);
	assert_string_equal(d[1].socket, "/var/run/vgw/fs1.sock");
	assert_int_equal(d[1].mode, VGW_MODE_SERVER);
	assert_int_equal(d[1].queues, 2);
	assert_string_equal(d[1].shared_dir, "/srv/share");
	assert_string_equal(d[1].tag, "012345678901234567890123456789012345");
	assert_int_equal(d[1].link, -1);

	assert_string_equal(d[2].name, "up_0");
	assert_int_equal(d[2].type, VGW_DEV_ETHDEV);
	assert_string_equal(d[2].devargs, "net_tap0,iface=vgw0");
	assert_string_equal(d[2].socket, "");
	assert_int_equal(d[2].queues, 16);
	assert_int_equal(d[2].rx_desc, 4096);
	assert_int_equal(d[2].tx_desc, 64);
	assert_int_equal(d[2].link, 1);

	/* defaults */
	assert_string_equal(d[3].socket, "/var/run/vgw/a.sock");
	assert_int_equal(d[3].mode, VGW_MODE_SERVER);
	assert_int_equal(d[3].queues, 1);
	assert_int_equal(d[3].link, 0);
	assert_int_equal(d[4].link, 0);
	assert_string_equal(d[5].name, "c-2");
	assert_int_equal(d[5].queues, 1);
	assert_int_equal(d[5].rx_desc, 1024);
	assert_int_equal(d[5].tx_desc, 1024);
	assert_int_equal(d[5].link, 0);
	assert_int_equal(d[6].link, -1);

	assert_int_equal(conf->n_links, 2);
	assert_int_equal(l[0].type, VGW_LINK_BRIDGE);
	assert_string_equal(l[0].name, "br0");
	assert_int_equal(l[0].n_ports, 3);
	assert_int_equal(l[0].ports[0], 3);
	assert_int_equal(l[0].ports[1], 4);
	assert_int_equal(l[0].ports[2], 5);
	assert_int_equal(l[0].aging_sec, 60);
	assert_int_equal(l[0].mac_table_size, 1024);
	assert_true(l[0].one_copy); /* default of a bridge */
	assert_false(l[0].one_copy_set);
	assert_int_equal(l[1].type, VGW_LINK_XCONNECT);
	assert_true(l[1].one_copy); /* default of an xconnect */
	assert_false(l[1].one_copy_set);
	assert_string_equal(l[1].name, "xconnect1");
	assert_int_equal(l[1].n_ports, 2);
	assert_int_equal(l[1].ports[0], 0);
	assert_int_equal(l[1].ports[1], 2);

	assert_int_equal(vgw_conf_find_dev(conf, "vm1"), 0);
	assert_int_equal(vgw_conf_find_dev(conf, "lonely"), 6);
	assert_int_equal(vgw_conf_find_dev(conf, "vm"), -1);
	assert_int_equal(vgw_conf_find_dev(conf, ""), -1);
	vgw_conf_free(conf);
}

/* No links at all is valid: every device is unlinked. */
static void
test_no_links(void **state)
{
	struct vgw_conf *conf = parse_ok(DEVS(NET_A ", " ETH_E));

	assert_int_equal(conf->n_devs, 2);
	assert_int_equal(conf->n_links, 0);
	assert_int_equal(conf->devs[0].link, -1);
	assert_int_equal(conf->devs[1].link, -1);
	vgw_conf_free(conf);
}

/* one_copy given: kept as given and marked as given (the gateway warns
 * when a link it was asked of cannot take it; the default only notes it). */
static void
test_one_copy_given(void **state)
{
	struct vgw_conf *conf = parse_ok(
		LINKS(ABC ", " ETH_E, "{'xconnect': ['a', 'b'], 'one_copy': false}, "
				      "{'bridge': 'x', 'ports': ['c', 'e'], 'one_copy': false}"));

	assert_int_equal(conf->n_links, 2);
	assert_false(conf->links[0].one_copy);
	assert_true(conf->links[0].one_copy_set);
	assert_false(conf->links[1].one_copy);
	assert_true(conf->links[1].one_copy_set);
	vgw_conf_free(conf);
}

/* ---- several problems at once ---- */

static void
test_many_problems(void **state)
{
	static const char *const want[] = {
		"cfg.json: unknown key \"extra\"",
		"cfg.json: mbufs: expected an integer, got string",
		"cfg.json: devices[0].queues: expected 1..16, got 99",
		"cfg.json: devices[1]: unknown key \"sokcet\"",
		"cfg.json: devices[1].name: duplicate device name \"a\" "
		"(first at devices[0])",
		"cfg.json: devices[1]: missing required key \"socket\"",
		"cfg.json: devices[2].type: expected one of net, fs, ethdev, "
		"got \"nett\"",
		"cfg.json: devices[3].tag: expected a string, got integer",
		"cfg.json: devices[4].socket: socket \"/run/vhostgw/a.sock\" "
		"already used by devices[0]",
		"cfg.json: links[0].xconnect[1]: no device named \"nope\"",
		"cfg.json: links[1].ports[0]: device \"a\" is already in links[0]",
		"cfg.json: links[1].ports[1]: device \"f\" has type fs, only net "
		"and ethdev devices can be linked",
		NULL,
	};

	expect_fail("{'extra': 1, 'mbufs': '10', 'devices': ["
		    "{'name': 'a', 'type': 'net', 'socket': 'a.sock', 'queues': 99},"
		    "{'name': 'a', 'type': 'net', 'sokcet': 'x'},"
		    "{'name': 'n', 'type': 'nett'},"
		    "{'name': 'f', 'type': 'fs', 'socket': 'f', 'shared_dir': '/s', "
		    " 'tag': 5},"
		    "{'name': 'g', 'type': 'net', 'socket': '/run/vhostgw/a.sock'}"
		    "], 'links': ["
		    "{'xconnect': ['a', 'nope']},"
		    "{'bridge': 'br', 'ports': ['a', 'f', 'g']}"
		    "]}",
		    want);
}

/* ---- invalid JSON ---- */

static void
test_invalid_json(void **state)
{
	static const char *const trailing_comma[] = {
		"cfg.json:3:18: invalid JSON: string or '}' expected near '}'",
		NULL,
	};
	static const char *const missing_comma[] = {
		"cfg.json:3:38: invalid JSON: '}' expected near '\"socket\"'",
		NULL,
	};
	static const char *const truncated[] = {
		"cfg.json:1:13: invalid JSON: ']' expected near end of file",
		NULL,
	};
	static const char *const garbage[] = {
		"cfg.json:1:4: invalid JSON: end of file expected near 'x'",
		NULL,
	};
	static const char *const empty[] = {
		"cfg.json:1:0: invalid JSON: unexpected token near end of file",
		NULL,
	};
	static const char *const dup_key[] = {
		"cfg.json:3:7: invalid JSON: duplicate object key near '\"name\"'",
		NULL,
	};

	expect_fail_raw("{\n  \"devices\": [\n    {\"name\": \"a\",}\n  ]\n}", trailing_comma);
	expect_fail_raw("{\n\t\"devices\": [\n"
			"\t\t{\"name\": \"a\", \"type\": \"net\" \"socket\": \"a\"}\n"
			"\t]\n}",
			missing_comma);
	expect_fail_raw("{\"devices\": [", truncated);
	expect_fail_raw("{} x", garbage);
	expect_fail_raw("", empty);
	/* jansson quotes the source near the error, a newline in it too:
	 * escaped, the message one line (found by fuzz_conf) */
	static const char *const bad_escape_newline[] = {
		"cfg.json:2:0: invalid JSON: invalid escape near '\"a\\\\n'",
		NULL,
	};
	expect_fail_raw("{\"devices\": [\n{\"name\": \"a\",\n \"name\": \"b\"}]}", dup_key);
	expect_fail_raw("{\"a\\\n\": 1}", bad_escape_newline);
}

/* ---- files ---- */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A scratch directory with good.json and bad.json; removed in teardown
 * even when an assertion fails. */
struct files_fixture {
	char dir[32];
	char good[64];
	char bad[64];
	char missing[64];
};

static int
files_setup(void **state)
{
	struct files_fixture *f = calloc(1, sizeof(*f));
	char *json;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_conf.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->good, sizeof(f->good), "%s/good.json", f->dir);
	snprintf(f->bad, sizeof(f->bad), "%s/bad.json", f->dir);
	snprintf(f->missing, sizeof(f->missing), "%s/missing.json", f->dir);
	*state = f;
	json = dq(full_json);
	write_file(f->good, json);
	free(json);
	json = dq(DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', 'queues': 0}"));
	write_file(f->bad, json);
	free(json);
	return 0;
}

static int
files_teardown(void **state)
{
	struct files_fixture *f = *state;

	unlink(f->good);
	unlink(f->bad);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
test_files(void **state)
{
	const struct files_fixture *f = *state;
	char want1[256], want2[256], want3[256];
	const char *w1[] = { want1, NULL };
	const char *w2[] = { want2, NULL };
	const char *w3[] = { want3, NULL };
	struct vgw_conf *conf;
	struct vgw_errlist e;

	vgw_errlist_init(&e);
	conf = vgw_conf_parse_file(f->good, &e);
	assert_non_null(conf);
	assert_int_equal(e.n, 0);
	assert_int_equal(conf->n_devs, 7);
	assert_int_equal(conf->n_links, 2);
	assert_string_equal(conf->devs[1].socket, "/var/run/vgw/fs1.sock");
	vgw_conf_free(conf);

	/* messages name the file */
	snprintf(want1, sizeof(want1), "%s: devices[0].queues: expected 1..16, got 0", f->bad);
	assert_null(vgw_conf_parse_file(f->bad, &e));
	assert_lines(&e, w1);
	vgw_errlist_free(&e);

	snprintf(want2, sizeof(want2), "%s: cannot read: No such file or directory", f->missing);
	errno = 0;
	assert_null(vgw_conf_parse_file(f->missing, &e));
	assert_int_equal(errno, ENOENT);
	assert_lines(&e, w2);
	vgw_errlist_free(&e);

	snprintf(want3, sizeof(want3), "%s: cannot read: Is a directory", f->dir);
	errno = 0;
	assert_null(vgw_conf_parse_file(f->dir, &e));
	assert_int_equal(errno, EISDIR);
	assert_lines(&e, w3);
	vgw_errlist_free(&e);
}

/* ---- socket resolution ---- */

static void
check_socket(const char *runtime_dir, const char *socket, const char *want)
{
	char *json;
	struct vgw_conf *conf;

	assert_int_equal(asprintf(&json,
				  "{'runtime_dir': '%s', 'devices': "
				  "[{'name': 'a', 'type': 'net', 'socket': '%s'}]}",
				  runtime_dir, socket) > 0,
			 1);
	conf = parse_ok(json);
	free(json);
	assert_string_equal(conf->devs[0].socket, want);
	vgw_conf_free(conf);
}

static void
test_socket_resolution(void **state)
{
	struct vgw_conf *conf;
	char dir[64], sock[64], path[128], want[256];
	const char *w[] = { want, NULL };
	struct vgw_errlist e;
	char *json;

	check_socket("/var/lib/vgw", "a.sock", "/var/lib/vgw/a.sock");
	check_socket("/var/lib/vgw", "sub/b.sock", "/var/lib/vgw/sub/b.sock");
	check_socket("/var/lib/vgw", "/abs/c.sock", "/abs/c.sock");
	check_socket("/var/lib/vgw//", "a.sock", "/var/lib/vgw/a.sock");
	check_socket("/", "a.sock", "/a.sock");
	check_socket("///", "a.sock", "/a.sock");

	conf = parse_ok(DEVS(NET_A));
	assert_string_equal(conf->runtime_dir, VGW_CONF_DEFAULT_RUNTIME_DIR);
	assert_string_equal(conf->devs[0].socket, "/run/vhostgw/a.sock");
	vgw_conf_free(conf);

	conf = parse_ok("{'runtime_dir': '/x/', 'devices': [" NET_A "]}");
	assert_string_equal(conf->runtime_dir, "/x");
	vgw_conf_free(conf);

	/* "/" + 50 'd' + "/" + 55 's' = 107 bytes: the longest that fits */
	dir[0] = '/';
	memset(dir + 1, 'd', 50);
	dir[51] = '\0';
	memset(sock, 's', 55);
	sock[55] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, sock);
	assert_int_equal(strlen(path), VGW_SOCKET_MAX - 1);
	check_socket(dir, sock, path);

	/* one more byte does not */
	sock[55] = 's';
	sock[56] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, sock);
	snprintf(want, sizeof(want),
		 "cfg.json: devices[0].socket: path \"%s\" is "
		 "too long: 108 bytes, at most 107",
		 path);
	assert_int_equal(asprintf(&json,
				  "{'runtime_dir': '%s', 'devices': "
				  "[{'name': 'a', 'type': 'net', 'socket': '%s'}]}",
				  dir, sock) > 0,
			 1);
	vgw_errlist_init(&e);
	assert_null(parse(json, &e));
	assert_lines(&e, w);
	vgw_errlist_free(&e);
	free(json);
}

/* Long user strings are cut in messages so a line stays readable. */
static void
test_long_string_quoted(void **state)
{
	char val[301], want[256];
	const char *w[] = { want, NULL };
	struct vgw_errlist e;
	char *json;

	memset(val, 'x', 300);
	val[300] = '\0';
	/* the opening quote and 154 characters fill 155 of the 160 bytes,
	 * then "... and the NUL */
	snprintf(want, sizeof(want),
		 "cfg.json: runtime_dir: expected an absolute "
		 "path, got \"%.154s\"...",
		 val);
	assert_int_equal(asprintf(&json, "{'runtime_dir': '%s', 'devices': [" NET_A "]}", val) > 0,
			 1);
	vgw_errlist_init(&e);
	assert_null(parse(json, &e));
	assert_lines(&e, w);
	vgw_errlist_free(&e);
	free(json);
}

/* The cut never splits a UTF-8 character, whatever the alignment. */
static void
check_utf8_cut(const char *prefix, unsigned int n_kept)
{
	char val[512], kept[512], want[768];
	const char *w[] = { want, NULL };
	struct vgw_errlist e;
	char *json;

	snprintf(val, sizeof(val), "%s", prefix);
	snprintf(kept, sizeof(kept), "%s", prefix);
	for (unsigned int i = 0; i < 100; i++)
		strcat(val, "\u00e9"); /* U+00E9, 2 bytes in UTF-8 */
	for (unsigned int i = 0; i < n_kept; i++)
		strcat(kept, "\xc3\xa9");
	snprintf(want, sizeof(want),
		 "cfg.json: runtime_dir: expected an absolute "
		 "path, got \"%s\"...",
		 kept);
	assert_int_equal(asprintf(&json, "{'runtime_dir': '%s', 'devices': [" NET_A "]}", val) > 0,
			 1);
	vgw_errlist_init(&e);
	assert_null(parse(json, &e));
	assert_lines(&e, w);
	vgw_errlist_free(&e);
	free(json);
}

static void
test_utf8_quoted(void **state)
{
	/* 154 bytes fit after the quote: "x" + 76 characters + half of one */
	check_utf8_cut("x", 76);
	/* "xx" + 76 characters fill them exactly */
	check_utf8_cut("xx", 76);
}

/* ---- bridges ---- */

static void
test_mac_table_rounding(void **state)
{
	static const struct {
		long long in; /* -1: not given */
		uint32_t want;
	} cases[] = {
		{ -1, 4096 },	{ 16, 16 },	{ 17, 32 },	      { 1000, 1024 },
		{ 4096, 4096 }, { 4097, 8192 }, { 1048575, 1048576 }, { 1048576, 1048576 },
	};
	const size_t n = VGW_ARRAY_SIZE(cases);
	char json[8192];
	struct vgw_conf *conf;
	size_t o = 0;

	o += snprintf(json + o, sizeof(json) - o, "{'devices': [");
	for (size_t i = 0; i < 2 * n; i++)
		o += snprintf(json + o, sizeof(json) - o,
			      "%s{'name': 'd%zu', 'type': 'net', 'socket': 'd%zu'}", i ? ", " : "",
			      i, i);
	o += snprintf(json + o, sizeof(json) - o, "], 'links': [");
	for (size_t i = 0; i < n; i++) {
		o += snprintf(json + o, sizeof(json) - o,
			      "%s{'bridge': 'br%zu', 'ports': ['d%zu', 'd%zu']", i ? ", " : "", i,
			      2 * i, 2 * i + 1);
		if (cases[i].in >= 0)
			o += snprintf(json + o, sizeof(json) - o, ", 'mac_table_size': %lld",
				      cases[i].in);
		o += snprintf(json + o, sizeof(json) - o, "}");
	}
	o += snprintf(json + o, sizeof(json) - o, "]}");
	assert_true(o < sizeof(json));

	conf = parse_ok(json);
	assert_int_equal(conf->n_links, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(conf->links[i].mac_table_size, cases[i].want);
		assert_int_equal(conf->links[i].aging_sec, VGW_CONF_DEFAULT_AGING_SEC);
	}
	vgw_conf_free(conf);
}

static void
test_aging_bounds(void **state)
{
	struct vgw_conf *conf = parse_ok(
		LINKS(ABC ", " ETH_E, "{'bridge': 'x', 'ports': ['a', 'b'], 'aging_time': 1}, "
				      "{'bridge': 'y', 'ports': ['c', 'e'], 'aging_time': 86400}"));

	assert_int_equal(conf->links[0].aging_sec, 1);
	assert_int_equal(conf->links[1].aging_sec, 86400);
	assert_int_equal(conf->links[0].mac_table_size, VGW_CONF_DEFAULT_MAC_TABLE);
	assert_int_equal(conf->links[0].max_macs_per_port, VGW_CONF_DEFAULT_MAC_TABLE / 8);
	vgw_conf_free(conf);
}

/* max_macs_per_port: an eighth of the table by default, at least 16; 0
 * (no cap) and values up to the largest table taken. */
static void
test_max_macs_per_port(void **state)
{
	struct vgw_conf *conf = parse_ok(
		LINKS(ABC ", " ETH_E, "{'bridge': 'x', 'ports': ['a', 'b'], 'mac_table_size': 64}, "
				      "{'bridge': 'y', 'ports': ['c', 'e'], 'mac_table_size': 1024,"
				      " 'max_macs_per_port': 0}"));

	(void)state;
	assert_int_equal(conf->links[0].max_macs_per_port, 16);
	assert_int_equal(conf->links[1].max_macs_per_port, 0);
	vgw_conf_free(conf);
	conf = parse_ok(LINKS(ABC, "{'bridge': 'x', 'ports': ['a', 'b'], 'mac_table_size': 1024,"
				   " 'max_macs_per_port': 1048576}"));
	assert_int_equal(conf->links[0].max_macs_per_port, 1048576);
	assert_int_equal(conf->links[0].mac_table_size, 1024);
	vgw_conf_free(conf);
}

/* ---- limits ---- */

static char *
many_devices(unsigned int n)
{
	size_t cap = 64 + (size_t)n * 64, o = 0;
	char *json = malloc(cap);

	assert_non_null(json);
	o += snprintf(json + o, cap - o, "{'devices': [");
	for (unsigned int i = 0; i < n; i++)
		o += snprintf(json + o, cap - o,
			      "%s{'name': 'd%u', 'type': 'net', 'socket': 'd%u'}", i ? ", " : "", i,
			      i);
	o += snprintf(json + o, cap - o, "]}");
	assert_true(o < cap);
	return json;
}

static void
test_device_count(void **state)
{
	static const char *const want[] = {
		"cfg.json: devices: expected 1..64 devices, got 65",
		NULL,
	};
	struct vgw_conf *conf;
	char *json;

	json = many_devices(VGW_MAX_DEVICES);
	conf = parse_ok(json);
	assert_int_equal(conf->n_devs, VGW_MAX_DEVICES);
	assert_string_equal(conf->devs[63].name, "d63");
	assert_string_equal(conf->devs[63].socket, "/run/vhostgw/d63");
	vgw_conf_free(conf);
	free(json);

	json = many_devices(VGW_MAX_DEVICES + 1);
	expect_fail(json, want);
	free(json);
}

/* ---- small API pieces ---- */

static void
test_strings(void **state)
{
	assert_string_equal(vgw_conf_dev_type_str(VGW_DEV_NET), "net");
	assert_string_equal(vgw_conf_dev_type_str(VGW_DEV_FS), "fs");
	assert_string_equal(vgw_conf_dev_type_str(VGW_DEV_ETHDEV), "ethdev");
	assert_string_equal(vgw_conf_dev_type_str((enum vgw_dev_type)42), "unknown");
	assert_string_equal(vgw_conf_dev_mode_str(VGW_MODE_SERVER), "server");
	assert_string_equal(vgw_conf_dev_mode_str(VGW_MODE_CLIENT), "client");
	assert_string_equal(vgw_conf_link_type_str(VGW_LINK_XCONNECT), "xconnect");
	assert_string_equal(vgw_conf_link_type_str(VGW_LINK_BRIDGE), "bridge");
	assert_int_equal(vgw_conf_find_dev(NULL, "a"), -1);
}

/* Without an error list the result is still NULL on a bad config. */
static void
test_null_errlist(void **state)
{
	struct vgw_conf *conf;

	assert_null(vgw_conf_parse_string("{\"devices\": []}", ORIGIN, NULL));
	assert_null(vgw_conf_parse_string("{", ORIGIN, NULL));
	conf = vgw_conf_parse_string(vgw_conf_default_json(), ORIGIN, NULL);
	assert_non_null(conf);
	assert_int_equal(conf->n_devs, 3);
	vgw_conf_free(conf);
}

static void
test_protocol_features_off(void **state)
{
	struct vgw_conf *conf;

	(void)state;
	conf = parse_ok(DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', "
			     "'disable_protocol_features': ['status', 'mq', 'status']}, "
			     "{'name': 'f', 'type': 'fs', 'socket': 'f.sock', "
			     "'shared_dir': '/srv', 'tag': 't', "
			     "'disable_protocol_features': ['device_state']}, " NET_B));
	assert_int_equal(conf->devs[0].pf_off, (1ULL << 16) | (1ULL << 0));
	assert_int_equal(conf->devs[1].pf_off, 1ULL << 19);
	assert_int_equal(conf->devs[2].pf_off, 0);
	/* offloads: default true on net devices */
	assert_true(conf->devs[0].offloads);
	assert_true(conf->devs[2].offloads);
	assert_string_equal(vgw_conf_protocol_feature_name(16), "status");
	assert_string_equal(vgw_conf_protocol_feature_name(12), "inflight_shmfd");
	assert_null(vgw_conf_protocol_feature_name(20));
	vgw_conf_free(conf);
}

/* ---- socket ownership ---- */

static uint32_t
uid_of(const char *name)
{
	struct passwd *pw = getpwnam(name);

	if (pw == NULL)
		print_error("no user %s on this system\n", name);
	assert_non_null(pw);
	return pw->pw_uid;
}

static uint32_t
gid_of(const char *name)
{
	struct group *gr = getgrnam(name);

	if (gr == NULL)
		print_error("no group %s on this system\n", name);
	assert_non_null(gr);
	return gr->gr_gid;
}

static void
assert_sockperm(const struct vgw_conf_sockperm *sp, uint32_t uid, uint32_t gid, int mode)
{
	assert_int_equal(sp->uid, uid);
	assert_int_equal(sp->gid, gid);
	assert_int_equal(sp->mode, mode);
}

/* Each key alone, by name and by number; none: left as created. */
static void
test_socket_keys(void **state)
{
	const uint32_t keep = VGW_CONF_ID_KEEP;
	struct vgw_conf *conf = parse_ok(
		DEVS("{'name': 'a', 'type': 'net', 'socket': 'a.sock', 'socket_owner': 'nobody'}, "
		     "{'name': 'b', 'type': 'net', 'socket': 'b.sock', 'socket_group': 'nogroup'}, "
		     "{'name': 'c', 'type': 'net', 'socket': 'c.sock', 'socket_mode': '0660'}, "
		     "{'name': 'd', 'type': 'net', 'socket': 'd.sock', 'socket_owner': '4321', "
		     "'socket_group': '1234', 'socket_mode': '660'}, "
		     "{'name': 'f', 'type': 'fs', 'socket': 'f.sock', 'shared_dir': '/srv', "
		     "'tag': 't', 'socket_owner': 'root', 'socket_group': 'root', "
		     "'socket_mode': '0'}, "
		     "{'name': 'g', 'type': 'net', 'socket': 'g.sock', 'socket_mode': '777'}, "
		     "{'name': 'h', 'type': 'net', 'socket': 'h.sock', 'mode': 'client'}, "
		     "{'name': 'i', 'type': 'net', 'socket': 'i.sock'}"));

	assert_int_equal(conf->n_devs, 8);
	assert_sockperm(&conf->devs[0].sockperm, uid_of("nobody"), keep, VGW_CONF_MODE_KEEP);
	assert_sockperm(&conf->devs[1].sockperm, keep, gid_of("nogroup"), VGW_CONF_MODE_KEEP);
	assert_sockperm(&conf->devs[2].sockperm, keep, keep, 0660);
	assert_sockperm(&conf->devs[3].sockperm, 4321, 1234, 0660);
	assert_sockperm(&conf->devs[4].sockperm, 0, 0, 0);
	assert_sockperm(&conf->devs[5].sockperm, keep, keep, 0777);
	assert_sockperm(&conf->devs[6].sockperm, keep, keep, VGW_CONF_MODE_KEEP);
	assert_sockperm(&conf->devs[7].sockperm, keep, keep, VGW_CONF_MODE_KEEP);
	assert_sockperm(&conf->sockperm, keep, keep, VGW_CONF_MODE_KEEP);
	for (unsigned int i = 0; i < 6; i++)
		assert_true(vgw_conf_sockperm_set(&conf->devs[i].sockperm));
	assert_false(vgw_conf_sockperm_set(&conf->devs[6].sockperm));
	assert_false(vgw_conf_sockperm_set(&conf->devs[7].sockperm));
	vgw_conf_free(conf);
}

/* The top level's keys are every server device's default, a device's own
 * key wins, key by key; client-mode devices and ethdevs take none. */
static void
test_socket_defaults(void **state)
{
	const uint32_t keep = VGW_CONF_ID_KEEP;
	struct vgw_conf *conf = parse_ok(
		"{'socket_owner': 'nobody', 'socket_group': 'nogroup', 'socket_mode': '0660', "
		"'devices': [" NET_A ", "
		"{'name': 'b', 'type': 'net', 'socket': 'b.sock', 'socket_mode': '0600'}, "
		"{'name': 'c', 'type': 'net', 'socket': 'c.sock', 'socket_owner': '0', "
		"'socket_group': '107'}, "
		"{'name': 'h', 'type': 'net', 'socket': 'h.sock', 'mode': 'client'}, " FS_F
		", " ETH_E "]}");
	uint32_t nobody = uid_of("nobody"), nogroup = gid_of("nogroup");

	assert_int_equal(conf->n_devs, 6);
	assert_sockperm(&conf->sockperm, nobody, nogroup, 0660);
	assert_sockperm(&conf->devs[0].sockperm, nobody, nogroup, 0660);
	assert_sockperm(&conf->devs[1].sockperm, nobody, nogroup, 0600);
	assert_sockperm(&conf->devs[2].sockperm, 0, 107, 0660);
	assert_sockperm(&conf->devs[3].sockperm, keep, keep, VGW_CONF_MODE_KEEP);
	assert_sockperm(&conf->devs[4].sockperm, nobody, nogroup, 0660);
	assert_sockperm(&conf->devs[5].sockperm, keep, keep, VGW_CONF_MODE_KEEP);
	vgw_conf_free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_no_links),
		cmocka_unit_test(test_one_copy_given),
		cmocka_unit_test(test_many_problems),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test_setup_teardown(test_files, files_setup, files_teardown),
		cmocka_unit_test(test_socket_resolution),
		cmocka_unit_test(test_long_string_quoted),
		cmocka_unit_test(test_utf8_quoted),
		cmocka_unit_test(test_mac_table_rounding),
		cmocka_unit_test(test_max_macs_per_port),
		cmocka_unit_test(test_protocol_features_off),
		cmocka_unit_test(test_aging_bounds),
		cmocka_unit_test(test_device_count),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_null_errlist),
		cmocka_unit_test(test_socket_keys),
		cmocka_unit_test(test_socket_defaults),
	};
	struct CMUnitTest bad[VGW_ARRAY_SIZE(bad_cases)];
	int failed;

	for (size_t i = 0; i < VGW_ARRAY_SIZE(bad_cases); i++)
		bad[i] = (struct CMUnitTest){
			.name = bad_cases[i].name,
			.test_func = test_bad_case,
			.initial_state = &bad_cases[i],
		};
	failed = cmocka_run_group_tests_name("conf", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("conf_bad_configs", bad, NULL, NULL);
	return failed;
}
