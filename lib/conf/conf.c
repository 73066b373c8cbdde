/* SPDX-License-Identifier: BSD-3-Clause */

/* The JSON configuration parser. The whole document is validated and every
 * problem is collected, one line each, as "<origin>: <json path>: <message>"
 * (the path is left out for the top-level object itself). The file is read
 * whole, parsed with jansson, then walked: top level, devices, links. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vgw_conf.h"

#define CONF_PATH_MAX 128	  /* built from known keys and indices only */
#define CONF_QUOTE_MAX 160	  /* a user string quoted in a message */
#define CONF_FILE_MAX (16u << 20) /* larger files are refused */
#define CONF_AGING_MIN 1
#define CONF_AGING_MAX 86400
#define CONF_MAC_TABLE_MIN 16
#define CONF_MAC_TABLE_MAX (1u << 20)
#define CONF_DESC_MIN 64
#define CONF_DESC_MAX 4096
#define CONF_DESC_DEFAULT 1024
#define CONF_NAME_CHARS "A-Z a-z 0-9 _ . -"

/* Parser state: where problems go and the JSON path being walked. */
struct conf_ctx {
	const char *origin;
	struct vgw_errlist *errs; /* may be NULL: problems are only counted */
	unsigned int n_err;
	struct vgw_conf *conf;
	char path[CONF_PATH_MAX];
	size_t path_len;
};

static const char *const dev_type_names[] = {
	[VGW_DEV_NET] = "net",
	[VGW_DEV_FS] = "fs",
	[VGW_DEV_ETHDEV] = "ethdev",
};

static const char *const dev_mode_names[] = {
	[VGW_MODE_SERVER] = "server",
	[VGW_MODE_CLIENT] = "client",
};

/* Allowed keys, NULL-terminated. */
/* clang-format off */
static const char *const root_keys[] = {
	"runtime_dir", "mbufs", "socket_owner", "socket_group", "socket_mode",
	"devices", "links", NULL
};
static const char *const dev_keys_net[] = {
	"name", "type", "socket", "mode", "queues", "disable_protocol_features",
	"offloads", "socket_owner", "socket_group", "socket_mode", NULL
};
static const char *const dev_keys_fs[] = {
	"name", "type", "socket", "mode", "queues", "disable_protocol_features",
	"shared_dir", "tag", "cache", "timeout", "xattr", "writeback",
	"socket_owner", "socket_group", "socket_mode", NULL
};
/* vhost-user protocol features by bit, as the specification names them */
static const char *const protocol_feature_names[] = {
	"mq", "log_shmfd", "rarp", "reply_ack", "mtu", "backend_req",
	"cross_endian", "crypto_session", "pagefault", "config",
	"backend_send_fd", "host_notifier", "inflight_shmfd", "reset_device",
	"inband_notifications", "configure_mem_slots", "status", "xen_mmap",
	"shared_object", "device_state",
};
static const char *const fs_cache_names[] = {
	[VGW_FS_CACHE_MODE_AUTO] = "auto",
	[VGW_FS_CACHE_MODE_NONE] = "none",
	[VGW_FS_CACHE_MODE_ALWAYS] = "always",
};
static const char *const dev_keys_ethdev[] = {
	"name", "type", "devargs", "queues", "rx_desc", "tx_desc", NULL
};
static const char *const dev_keys_all[] = {
	"name", "type", "socket", "mode", "queues", "disable_protocol_features",
	"shared_dir", "tag", "cache", "timeout", "xattr", "writeback",
	"devargs", "rx_desc", "tx_desc", "offloads", "socket_owner",
	"socket_group", "socket_mode", NULL
};
/* clang-format on */
static const char *const *const dev_type_keys[] = {
	[VGW_DEV_NET] = dev_keys_net,
	[VGW_DEV_FS] = dev_keys_fs,
	[VGW_DEV_ETHDEV] = dev_keys_ethdev,
};
static const char *const link_keys_xconnect[] = { "xconnect", "one_copy", NULL };
static const char *const link_keys_bridge[] = {
	"bridge", "ports", "aging_time", "mac_table_size", "max_macs_per_port", "one_copy", NULL
};
static const char *const link_keys_all[] = { "xconnect",       "bridge",
					     "ports",	       "aging_time",
					     "mac_table_size", "max_macs_per_port",
					     "one_copy",       NULL };

static const char default_json[] =
	"{\n"
	"\t\"devices\": [\n"
	"\t\t{\"name\": \"net0\", \"type\": \"net\", \"socket\": \"net0.sock\",\n"
	"\t\t \"mode\": \"server\", \"queues\": 1},\n"
	"\t\t{\"name\": \"net1\", \"type\": \"net\", \"socket\": \"net1.sock\",\n"
	"\t\t \"mode\": \"server\", \"queues\": 1},\n"
	"\t\t{\"name\": \"fs0\", \"type\": \"fs\", \"socket\": \"fs0.sock\",\n"
	"\t\t \"mode\": \"server\", \"queues\": 1,\n"
	"\t\t \"shared_dir\": \"" VGW_CONF_DEFAULT_SHARED_DIR "\", \"tag\": \"vhostgw\"}\n"
	"\t],\n"
	"\t\"links\": [\n"
	"\t\t{\"xconnect\": [\"net0\", \"net1\"]}\n"
	"\t]\n"
	"}\n";

/* ---- helpers: JSON path, messages, typed getters ---- */

/* Append ".key" (or "key" at the top) to the path; return the mark to
 * restore with path_pop(). */
static size_t
path_push_key(struct conf_ctx *c, const char *key)
{
	size_t mark = c->path_len;
	int n;

	n = snprintf(c->path + mark, sizeof(c->path) - mark, "%s%s", mark ? "." : "", key);
	if (n > 0)
		c->path_len = strnlen(c->path, sizeof(c->path) - 1);
	return mark;
}

static size_t
path_push_index(struct conf_ctx *c, size_t i)
{
	size_t mark = c->path_len;
	int n;

	n = snprintf(c->path + mark, sizeof(c->path) - mark, "[%zu]", i);
	if (n > 0)
		c->path_len = strnlen(c->path, sizeof(c->path) - 1);
	return mark;
}

static void
path_pop(struct conf_ctx *c, size_t mark)
{
	c->path_len = mark;
	c->path[mark] = '\0';
}

/* Report a problem at the current path, or at path.key when key is set. */
static void
conf_verr(struct conf_ctx *c, const char *key, const char *fmt, va_list ap)
{
	size_t mark = c->path_len;
	char *msg;

	c->n_err++;
	if (c->errs == NULL || vasprintf(&msg, fmt, ap) < 0)
		return;
	if (key != NULL)
		mark = path_push_key(c, key);
	if (c->path_len > 0)
		vgw_errlist_add(c->errs, "%s: %s: %s", c->origin, c->path, msg);
	else
		vgw_errlist_add(c->errs, "%s: %s", c->origin, msg);
	path_pop(c, mark);
	free(msg);
}

static void __attribute__((format(__printf__, 2, 3)))
conf_err(struct conf_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verr(c, NULL, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(__printf__, 3, 4)))
conf_err_key(struct conf_ctx *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verr(c, key, fmt, ap);
	va_end(ap);
}

/* Escape one byte for a message: \n, \t, \r, \xNN for other control
 * bytes (and bytes above 0x7f when ascii_only), quotes and backslashes
 * escaped. Returns the length written to out. */
static size_t
conf_escape_byte(unsigned char ch, bool ascii_only, char out[8])
{
	switch (ch) {
	case '\n':
		return (size_t)snprintf(out, 8, "\\n");
	case '\t':
		return (size_t)snprintf(out, 8, "\\t");
	case '\r':
		return (size_t)snprintf(out, 8, "\\r");
	case '"':
	case '\\':
		return (size_t)snprintf(out, 8, "\\%c", ch);
	default:
		break;
	}
	if (ch < 0x20 || ch == 0x7f || (ascii_only && ch > 0x7f))
		return (size_t)snprintf(out, 8, "\\x%02x", ch);
	out[0] = (char)ch;
	out[1] = '\0';
	return 1;
}

/* Quote a user string for a message: escape it so the message stays on one
 * line, truncate it with "..." when long. Returns buf. */
static const char *
conf_quote(char buf[CONF_QUOTE_MAX], const char *s)
{
	size_t o = 0;

	buf[o++] = '"';
	for (; *s != '\0'; s++) {
		char esc[8];
		size_t l = conf_escape_byte((unsigned char)*s, false, esc);

		/* keep room for '"...' and the NUL */
		if (o + l + 5 > CONF_QUOTE_MAX) {
			/* cutting inside a UTF-8 sequence (jansson only
			 * gives valid UTF-8): drop its first bytes too */
			if (((unsigned char)*s & 0xc0) == 0x80) {
				while (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
					o--;
				if (o > 1 && (unsigned char)buf[o - 1] >= 0xc0)
					o--;
			}
			memcpy(buf + o, "\"...", 5);
			return buf;
		}
		memcpy(buf + o, esc, l);
		o += l;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static const char *
json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* "an object", "a string", ... for "expected ..." messages. */
static const char *
json_type_expected(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Check the current value has type t; report it otherwise. */
static bool
conf_expect(struct conf_ctx *c, const json_t *v, json_type t)
{
	if (json_typeof(v) == t)
		return true;
	conf_err(c, "expected %s, got %s", json_type_expected(t), json_type_name(v));
	return false;
}

/* obj[key] if present and of type t; NULL if absent (a problem when
 * required) or of another type (always a problem). */
static json_t *
conf_get(struct conf_ctx *c, json_t *obj, const char *key, json_type t, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (required)
			conf_err(c, "missing required key \"%s\"", key);
		return NULL;
	}
	if (json_typeof(v) != t) {
		conf_err_key(c, key, "expected %s, got %s", json_type_expected(t),
			     json_type_name(v));
		return NULL;
	}
	return v;
}

static const char *
conf_get_str(struct conf_ctx *c, json_t *obj, const char *key, bool required)
{
	json_t *v = conf_get(c, obj, key, JSON_STRING, required);

	return v != NULL ? json_string_value(v) : NULL;
}

/* Read an integer in min..max into *out; false (and *out untouched) when
 * absent or invalid. */
static bool
conf_get_int(struct conf_ctx *c, json_t *obj, const char *key, bool required, long long min,
	     long long max, long long *out)
{
	json_t *v = conf_get(c, obj, key, JSON_INTEGER, required);
	long long x;

	if (v == NULL)
		return false;
	x = json_integer_value(v);
	if (x < min || x > max) {
		conf_err_key(c, key, "expected %lld..%lld, got %lld", min, max, x);
		return false;
	}
	*out = x;
	return true;
}

/* Index of s in names[0..n), or -1. */
static int
str_index(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Read one of names[] into *out; false when absent or invalid. */
static bool
conf_get_enum(struct conf_ctx *c, json_t *obj, const char *key, bool required,
	      const char *const *names, size_t n, int *out)
{
	const char *s = conf_get_str(c, obj, key, required);
	char list[128] = "";
	char q[CONF_QUOTE_MAX];
	int i;

	if (s == NULL)
		return false;
	i = str_index(s, names, n);
	if (i >= 0) {
		*out = i;
		return true;
	}
	for (size_t j = 0; j < n; j++) {
		size_t l = strlen(list);

		snprintf(list + l, sizeof(list) - l, "%s%s", j ? ", " : "", names[j]);
	}
	conf_err_key(c, key, "expected one of %s, got %s", list, conf_quote(q, s));
	return false;
}

static bool
str_in(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Report keys of obj not in allowed. A key that is valid elsewhere (in
 * known) but not here is reported with "for <what>". */
static void
conf_check_keys(struct conf_ctx *c, json_t *obj, const char *const *allowed,
		const char *const *known, const char *what)
{
	char q[CONF_QUOTE_MAX];

	for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);

		if (str_in(key, allowed))
			continue;
		if (what != NULL && str_in(key, known))
			conf_err(c, "unknown key %s for %s", conf_quote(q, key), what);
		else
			conf_err(c, "unknown key %s", conf_quote(q, key));
	}
}

static bool
name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

/* Device and bridge names: 1..VGW_NAME_MAX-1 of [A-Za-z0-9_.-]. */
static bool
conf_check_name(struct conf_ctx *c, const char *key, const char *s)
{
	size_t len = strlen(s);
	char q[CONF_QUOTE_MAX];
	char esc[8], ch[16];

	if (len == 0 || len >= VGW_NAME_MAX) {
		conf_err_key(c, key, "expected 1..%d characters, got %zu", VGW_NAME_MAX - 1, len);
		return false;
	}
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char u = (unsigned char)*p;

		if (name_char_ok(*p))
			continue;
		conf_escape_byte(u, true, esc);
		snprintf(ch, sizeof(ch), "'%s'", esc);
		conf_err_key(c, key, "invalid character %s in %s (allowed: " CONF_NAME_CHARS ")",
			     ch, conf_quote(q, s));
		return false;
	}
	return true;
}

/* An absolute path of at most size-1 bytes, copied into dst. */
static bool
conf_check_abs_path(struct conf_ctx *c, const char *key, const char *s, char *dst, size_t size)
{
	char q[CONF_QUOTE_MAX];
	size_t len = strlen(s);

	if (s[0] != '/') {
		conf_err_key(c, key, "expected an absolute path, got %s", conf_quote(q, s));
		return false;
	}
	if (len >= size) {
		conf_err_key(c, key, "path %s is too long: %zu bytes, at most %zu",
			     conf_quote(q, s), len, size - 1);
		return false;
	}
	memcpy(dst, s, len + 1);
	return true;
}

/* A string of 1..size-1 bytes, copied into dst. */
static bool
conf_get_bounded_str(struct conf_ctx *c, json_t *obj, const char *key, char *dst, size_t size)
{
	const char *s = conf_get_str(c, obj, key, true);
	size_t len;

	if (s == NULL)
		return false;
	len = strlen(s);
	if (len == 0 || len >= size) {
		conf_err_key(c, key, "expected 1..%zu bytes, got %zu", size - 1, len);
		return false;
	}
	memcpy(dst, s, len + 1);
	return true;
}

static uint32_t
round_up_pow2(uint32_t x)
{
	uint32_t p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

/* ---- top level ---- */

static void
conf_parse_runtime_dir(struct conf_ctx *c, json_t *root)
{
	struct vgw_conf *conf = c->conf;
	const char *s = conf_get_str(c, root, "runtime_dir", false);
	size_t len;

	if (s == NULL ||
	    !conf_check_abs_path(c, "runtime_dir", s, conf->runtime_dir, sizeof(conf->runtime_dir)))
		return;
	/* "/run/vhostgw/" and "/run/vhostgw" are the same directory */
	len = strlen(conf->runtime_dir);
	while (len > 1 && conf->runtime_dir[len - 1] == '/')
		conf->runtime_dir[--len] = '\0';
}

static void
conf_parse_mbufs(struct conf_ctx *c, json_t *root)
{
	long long v;

	if (conf_get_int(c, root, "mbufs", false, 0, UINT32_MAX, &v))
		c->conf->mbufs = (uint32_t)v;
}

/* ---- socket ownership: top level (defaults) and devices ---- */

static const char *const sockperm_keys[] = { "socket_owner", "socket_group", "socket_mode" };

/* A user (group when group is set) name, looked up, into *id; false when
 * there is none, or the lookup failed (*err set to why). */
static bool
conf_lookup_id(const char *name, bool group, uint32_t *id, int *err)
{
	size_t size = 1024;
	char *buf = NULL;
	bool found = false;
	int rc;

	for (;;) {
		char *nb = realloc(buf, size);
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;

		if (nb == NULL) {
			rc = ENOMEM;
			break;
		}
		buf = nb;
		if (group) {
			rc = getgrnam_r(name, &gr, buf, size, &grp);
			found = grp != NULL;
			if (found)
				*id = gr.gr_gid;
		} else {
			rc = getpwnam_r(name, &pw, buf, size, &pwp);
			found = pwp != NULL;
			if (found)
				*id = pw.pw_uid;
		}
		if (rc != ERANGE || size >= (1u << 20))
			break;
		size *= 2;
	}
	free(buf);
	/* getpwnam_r(3): these say "not found" on some systems */
	if (rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
		rc = 0;
	*err = found ? 0 : rc;
	return found;
}

/* "socket_owner" or "socket_group": a name, or a numeric id (which need
 * not exist, as with chown(1)), into *out. */
static void
conf_get_sock_id(struct conf_ctx *c, json_t *obj, const char *key, bool group, uint32_t *out)
{
	const char *what = group ? "group" : "user";
	const char *s = conf_get_str(c, obj, key, false);
	char q[CONF_QUOTE_MAX], eb[128];
	unsigned long long v;
	uint32_t id;
	int err;

	if (s == NULL)
		return;
	if (s[0] == '\0') {
		conf_err_key(c, key, "expected a %s name or a numeric %s, got \"\"", what,
			     group ? "gid" : "uid");
		return;
	}
	if (strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		v = strtoull(s, NULL, 10);
		if (errno != 0 || v >= VGW_CONF_ID_KEEP) {
			conf_err_key(c, key, "numeric %s %s out of range (at most %u)",
				     group ? "gid" : "uid", conf_quote(q, s), VGW_CONF_ID_KEEP - 1);
			return;
		}
		*out = (uint32_t)v;
		return;
	}
	if (conf_lookup_id(s, group, &id, &err)) {
		*out = id;
		return;
	}
	if (err == 0)
		conf_err_key(c, key, "no such %s %s", what, conf_quote(q, s));
	else
		conf_err_key(c, key, "cannot look up %s %s: %s", what, conf_quote(q, s),
			     strerror_r(err, eb, sizeof(eb)));
}

/* "socket_mode": a string of octal digits, at most 0777, into *out. */
static void
conf_get_sock_mode(struct conf_ctx *c, json_t *obj, int *out)
{
	const char *key = "socket_mode";
	json_t *v = json_object_get(obj, key);
	char q[CONF_QUOTE_MAX];
	const char *s;
	long mode = 0;

	if (v == NULL)
		return;
	if (!json_is_string(v)) {
		/* 660 as a JSON number would be decimal: a string says octal */
		conf_err_key(c, key, "expected a string of octal digits such as \"0660\", got %s",
			     json_type_name(v));
		return;
	}
	s = json_string_value(v);
	if (s[0] == '\0' || strspn(s, "01234567") != strlen(s)) {
		conf_err_key(c, key, "expected octal digits such as \"0660\", got %s",
			     conf_quote(q, s));
		return;
	}
	for (const char *p = s; *p != '\0' && mode <= 0777; p++)
		mode = mode * 8 + (*p - '0');
	if (mode > 0777) {
		conf_err_key(c, key,
			     "%s has bits above 0777 (setuid, setgid and sticky do not apply "
			     "to a socket)",
			     conf_quote(q, s));
		return;
	}
	*out = (int)mode;
}

/* The three keys of obj into *sp (keys absent leave it). */
static void
conf_get_sockperm(struct conf_ctx *c, json_t *obj, struct vgw_conf_sockperm *sp)
{
	conf_get_sock_id(c, obj, "socket_owner", false, &sp->uid);
	conf_get_sock_id(c, obj, "socket_group", true, &sp->gid);
	conf_get_sock_mode(c, obj, &sp->mode);
}

static const struct vgw_conf_sockperm sockperm_keep = {
	.uid = VGW_CONF_ID_KEEP,
	.gid = VGW_CONF_ID_KEEP,
	.mode = VGW_CONF_MODE_KEEP,
};

static void
conf_parse_sockperm(struct conf_ctx *c, json_t *root)
{
	c->conf->sockperm = sockperm_keep;
	conf_get_sockperm(c, root, &c->conf->sockperm);
}

/* A server-mode device: the top level's, overridden by its own keys. A
 * client-mode device's socket is the front-end's: its keys are refused
 * and the top level's do not apply. */
static void
conf_dev_sockperm(struct conf_ctx *c, json_t *obj, struct vgw_conf_dev *d)
{
	if (d->mode == VGW_MODE_SERVER) {
		d->sockperm = c->conf->sockperm;
		conf_get_sockperm(c, obj, &d->sockperm);
		return;
	}
	for (size_t k = 0; k < VGW_ARRAY_SIZE(sockperm_keys); k++) {
		if (json_object_get(obj, sockperm_keys[k]) == NULL)
			continue;
		conf_err_key(c, sockperm_keys[k],
			     "not for a client-mode device (its socket is the front-end's)");
	}
}

bool
vgw_conf_sockperm_set(const struct vgw_conf_sockperm *sp)
{
	return sp->uid != VGW_CONF_ID_KEEP || sp->gid != VGW_CONF_ID_KEEP ||
	       sp->mode != VGW_CONF_MODE_KEEP;
}

/* ---- devices ---- */

/* The device's type if "type" names a valid one, else -1 (reported later). */
static int
conf_peek_dev_type(json_t *obj)
{
	json_t *v = json_object_get(obj, "type");

	if (!json_is_string(v))
		return -1;
	return str_index(json_string_value(v), dev_type_names, VGW_ARRAY_SIZE(dev_type_names));
}

static void
conf_dev_keys(struct conf_ctx *c, json_t *obj)
{
	int type = conf_peek_dev_type(obj);
	char what[32];

	if (type < 0) {
		conf_check_keys(c, obj, dev_keys_all, dev_keys_all, NULL);
		return;
	}
	snprintf(what, sizeof(what), "type %s", dev_type_names[type]);
	conf_check_keys(c, obj, dev_type_keys[type], dev_keys_all, what);
}

static void
conf_dev_name(struct conf_ctx *c, json_t *obj, unsigned int i)
{
	struct vgw_conf *conf = c->conf;
	const char *name = conf_get_str(c, obj, "name", true);
	char q[CONF_QUOTE_MAX];

	if (name == NULL)
		return;
	if (!conf_check_name(c, "name", name)) {
		/* keep it anyway when it fits, so links naming it do not
		 * report a second, misleading problem */
		vgw_strlcpy_checked(conf->devs[i].name, name, VGW_NAME_MAX);
		return;
	}
	for (unsigned int j = 0; j < i; j++) {
		if (strcmp(conf->devs[j].name, name) != 0)
			continue;
		conf_err_key(c, "name", "duplicate device name %s (first at devices[%u])",
			     conf_quote(q, name), j);
		return;
	}
	memcpy(conf->devs[i].name, name, strlen(name) + 1);
}

/* Resolve a relative socket against runtime_dir; check it fits and is not
 * used by an earlier device. */
static void
conf_dev_socket(struct conf_ctx *c, json_t *obj, unsigned int i)
{
	struct vgw_conf *conf = c->conf;
	const char *dir = conf->runtime_dir;
	const char *s = conf_get_str(c, obj, "socket", true);
	char q[CONF_QUOTE_MAX];
	char *path;
	size_t len;
	int rc;

	if (s == NULL)
		return;
	if (s[0] == '\0') {
		conf_err_key(c, "socket", "expected a non-empty path");
		return;
	}
	if (s[0] == '/')
		rc = asprintf(&path, "%s", s);
	else
		rc = asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", s);
	if (rc < 0) {
		conf_err_key(c, "socket", "out of memory");
		return;
	}
	len = strlen(path);
	if (len >= VGW_SOCKET_MAX) {
		conf_err_key(c, "socket", "path %s is too long: %zu bytes, at most %d",
			     conf_quote(q, path), len, VGW_SOCKET_MAX - 1);
		goto out;
	}
	for (unsigned int j = 0; j < i; j++) {
		if (strcmp(conf->devs[j].socket, path) != 0)
			continue;
		conf_err_key(c, "socket", "socket %s already used by devices[%u]",
			     conf_quote(q, path), j);
		goto out;
	}
	memcpy(conf->devs[i].socket, path, len + 1);
out:
	free(path);
}

static void
conf_dev_queues(struct conf_ctx *c, json_t *obj, struct vgw_conf_dev *d)
{
	long long v;

	if (conf_get_int(c, obj, "queues", false, 1, VGW_MAX_QUEUES, &v))
		d->queues = (uint16_t)v;
}

const char *
vgw_conf_protocol_feature_name(unsigned int bit)
{
	return bit < VGW_ARRAY_SIZE(protocol_feature_names) ? protocol_feature_names[bit] : NULL;
}

/* arr[j], at the current path: a protocol feature name into *mask. */
static void
conf_pf_name(struct conf_ctx *c, json_t *arr, size_t j, uint64_t *mask)
{
	json_t *v = json_array_get(arr, j);
	char q[CONF_QUOTE_MAX];

	if (!conf_expect(c, v, JSON_STRING))
		return;
	for (unsigned int b = 0; b < VGW_ARRAY_SIZE(protocol_feature_names); b++) {
		if (strcmp(json_string_value(v), protocol_feature_names[b]) == 0) {
			*mask |= 1ULL << b;
			return;
		}
	}
	conf_err(c,
		 "unknown protocol feature %s (known: mq, log_shmfd, rarp, "
		 "reply_ack, ..., status, device_state: see README)",
		 conf_quote(q, json_string_value(v)));
}

static void
conf_dev_pf_off(struct conf_ctx *c, json_t *obj, struct vgw_conf_dev *d)
{
	const char *key = "disable_protocol_features";
	json_t *arr = conf_get(c, obj, key, JSON_ARRAY, false);
	size_t mark;

	if (arr == NULL)
		return;
	mark = path_push_key(c, key);
	for (size_t j = 0; j < json_array_size(arr); j++) {
		size_t m = path_push_index(c, j);

		conf_pf_name(c, arr, j, &d->pf_off);
		path_pop(c, m);
	}
	path_pop(c, mark);
}

/* net and fs: the vhost-user side */
static void
conf_dev_vhost(struct conf_ctx *c, json_t *obj, unsigned int i)
{
	struct vgw_conf_dev *d = &c->conf->devs[i];
	int mode;

	conf_dev_socket(c, obj, i);
	if (conf_get_enum(c, obj, "mode", false, dev_mode_names, VGW_ARRAY_SIZE(dev_mode_names),
			  &mode))
		d->mode = (enum vgw_dev_mode)mode;
	conf_dev_sockperm(c, obj, d);
	conf_dev_queues(c, obj, d);
	conf_dev_pf_off(c, obj, d);
}

/* A boolean obj[key] into *out; absent leaves *out. */
static void
conf_get_bool(struct conf_ctx *c, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return;
	if (!json_is_boolean(v)) {
		conf_err_key(c, key, "expected a boolean, got %s", json_type_name(v));
		return;
	}
	*out = json_is_true(v);
}

/* The cache options users know from virtiofsd. */
static void
conf_dev_fs_options(struct conf_ctx *c, json_t *obj, struct vgw_conf_dev *d)
{
	long long v;
	int mode;

	d->fs_cache = VGW_FS_CACHE_MODE_AUTO;
	d->fs_timeout = -1;
	d->fs_xattr = false; /* as virtiofsd: see README */
	d->fs_writeback = false;
	if (conf_get_enum(c, obj, "cache", false, fs_cache_names, VGW_ARRAY_SIZE(fs_cache_names),
			  &mode))
		d->fs_cache = mode;
	if (conf_get_int(c, obj, "timeout", false, 0, 86400, &v))
		d->fs_timeout = (int)v;
	conf_get_bool(c, obj, "xattr", &d->fs_xattr);
	conf_get_bool(c, obj, "writeback", &d->fs_writeback);
}

static void
conf_dev_fs(struct conf_ctx *c, json_t *obj, struct vgw_conf_dev *d)
{
	const char *dir = conf_get_str(c, obj, "shared_dir", true);

	if (dir != NULL)
		conf_check_abs_path(c, "shared_dir", dir, d->shared_dir, sizeof(d->shared_dir));
	conf_get_bounded_str(c, obj, "tag", d->tag, sizeof(d->tag));
	conf_dev_fs_options(c, obj, d);
}

/* rx_desc, tx_desc: a power of two in CONF_DESC_MIN..CONF_DESC_MAX */
static void
conf_dev_desc(struct conf_ctx *c, json_t *obj, const char *key, uint16_t *out)
{
	json_t *v = conf_get(c, obj, key, JSON_INTEGER, false);
	long long x;

	if (v == NULL)
		return;
	x = json_integer_value(v);
	if (x < CONF_DESC_MIN || x > CONF_DESC_MAX || (x & (x - 1)) != 0) {
		conf_err_key(c, key, "expected a power of two in %d..%d, got %lld", CONF_DESC_MIN,
			     CONF_DESC_MAX, x);
		return;
	}
	*out = (uint16_t)x;
}

static void
conf_dev_ethdev(struct conf_ctx *c, json_t *obj, struct vgw_conf_dev *d)
{
	conf_get_bounded_str(c, obj, "devargs", d->devargs, sizeof(d->devargs));
	conf_dev_queues(c, obj, d);
	d->rx_desc = CONF_DESC_DEFAULT;
	d->tx_desc = CONF_DESC_DEFAULT;
	conf_dev_desc(c, obj, "rx_desc", &d->rx_desc);
	conf_dev_desc(c, obj, "tx_desc", &d->tx_desc);
}

/* devices[i], at the current path */
static void
conf_parse_dev(struct conf_ctx *c, json_t *obj, unsigned int i)
{
	struct vgw_conf_dev *d = &c->conf->devs[i];
	int type;

	d->link = -1;
	d->mode = VGW_MODE_SERVER;
	d->sockperm = sockperm_keep;
	d->queues = VGW_CONF_DEFAULT_QUEUES;
	if (!conf_expect(c, obj, JSON_OBJECT))
		return;
	conf_dev_keys(c, obj);
	conf_dev_name(c, obj, i);
	if (!conf_get_enum(c, obj, "type", true, dev_type_names, VGW_ARRAY_SIZE(dev_type_names),
			   &type))
		return;
	d->type = (enum vgw_dev_type)type;
	switch (d->type) {
	case VGW_DEV_NET:
		conf_dev_vhost(c, obj, i);
		d->offloads = true;
		conf_get_bool(c, obj, "offloads", &d->offloads);
		break;
	case VGW_DEV_FS:
		conf_dev_vhost(c, obj, i);
		conf_dev_fs(c, obj, d);
		break;
	case VGW_DEV_ETHDEV:
		conf_dev_ethdev(c, obj, d);
		break;
	}
}

static void
conf_parse_devices(struct conf_ctx *c, json_t *root)
{
	json_t *arr = conf_get(c, root, "devices", JSON_ARRAY, true);
	size_t n, mark;

	if (arr == NULL)
		return;
	n = json_array_size(arr);
	if (n == 0 || n > VGW_MAX_DEVICES) {
		conf_err_key(c, "devices", "expected 1..%d devices, got %zu", VGW_MAX_DEVICES, n);
		if (n > VGW_MAX_DEVICES)
			n = VGW_MAX_DEVICES;
	}
	c->conf->n_devs = (uint16_t)n;
	mark = path_push_key(c, "devices");
	for (size_t i = 0; i < n; i++) {
		size_t m = path_push_index(c, i);

		conf_parse_dev(c, json_array_get(arr, i), (unsigned int)i);
		path_pop(c, m);
	}
	path_pop(c, mark);
}

/* ---- links ---- */

/* Position of the first string equal to name in arr[0..end), or -1. */
static long
json_array_find_str(json_t *arr, size_t end, const char *name)
{
	for (size_t k = 0; k < end; k++) {
		const char *s = json_string_value(json_array_get(arr, k));

		if (s != NULL && strcmp(s, name) == 0)
			return (long)k;
	}
	return -1;
}

/* arr[j], at the current path: a device name to add to links[idx]. */
static void
conf_link_port(struct conf_ctx *c, json_t *arr, size_t j, const char *key, unsigned int idx)
{
	struct vgw_conf *conf = c->conf;
	struct vgw_conf_link *link = &conf->links[idx];
	json_t *v = json_array_get(arr, j);
	char q[CONF_QUOTE_MAX];
	const char *name;
	long first;
	int d;

	if (!conf_expect(c, v, JSON_STRING))
		return;
	name = json_string_value(v);
	d = vgw_conf_find_dev(conf, name);
	if (d < 0) {
		conf_err(c, "no device named %s", conf_quote(q, name));
		return;
	}
	if (conf->devs[d].type == VGW_DEV_FS) {
		conf_err(c,
			 "device %s has type fs, only net and ethdev "
			 "devices can be linked",
			 conf_quote(q, name));
		return;
	}
	if (conf->devs[d].link == (int)idx) {
		first = json_array_find_str(arr, j, name);
		conf_err(c, "device %s is listed twice (first at links[%u].%s[%ld])",
			 conf_quote(q, name), idx, key, first);
		return;
	}
	if (conf->devs[d].link >= 0) {
		conf_err(c, "device %s is already in links[%d]", conf_quote(q, name),
			 conf->devs[d].link);
		return;
	}
	conf->devs[d].link = (int)idx;
	if (link->n_ports < VGW_BRIDGE_MAX_PORTS)
		link->ports[link->n_ports++] = (uint16_t)d;
}

/* The device names in obj[key]: min..max of them. */
static void
conf_link_ports(struct conf_ctx *c, json_t *obj, const char *key, size_t min, size_t max,
		unsigned int idx)
{
	json_t *arr = conf_get(c, obj, key, JSON_ARRAY, true);
	size_t n, mark;

	if (arr == NULL)
		return;
	n = json_array_size(arr);
	if (n < min || n > max) {
		if (min == max)
			conf_err_key(c, key, "expected %zu device names, got %zu", min, n);
		else
			conf_err_key(c, key, "expected %zu..%zu device names, got %zu", min, max,
				     n);
	}
	mark = path_push_key(c, key);
	for (size_t j = 0; j < n; j++) {
		size_t m = path_push_index(c, j);

		conf_link_port(c, arr, j, key, idx);
		path_pop(c, m);
	}
	path_pop(c, mark);
}

static void
conf_link_xconnect(struct conf_ctx *c, json_t *obj, unsigned int idx)
{
	struct vgw_conf_link *link = &c->conf->links[idx];

	conf_check_keys(c, obj, link_keys_xconnect, link_keys_all, "an xconnect");
	link->type = VGW_LINK_XCONNECT;
	snprintf(link->name, sizeof(link->name), "xconnect%u", idx);
	conf_link_ports(c, obj, "xconnect", 2, 2, idx);
	link->one_copy = true;
	link->one_copy_set = json_object_get(obj, "one_copy") != NULL;
	conf_get_bool(c, obj, "one_copy", &link->one_copy);
}

static void
conf_bridge_name(struct conf_ctx *c, json_t *obj, unsigned int idx)
{
	struct vgw_conf *conf = c->conf;
	const char *name = conf_get_str(c, obj, "bridge", true);
	char q[CONF_QUOTE_MAX];

	if (name == NULL || !conf_check_name(c, "bridge", name))
		return;
	for (unsigned int j = 0; j < idx; j++) {
		if (conf->links[j].type != VGW_LINK_BRIDGE ||
		    strcmp(conf->links[j].name, name) != 0)
			continue;
		conf_err_key(c, "bridge", "duplicate bridge name %s (first at links[%u])",
			     conf_quote(q, name), j);
		return;
	}
	memcpy(conf->links[idx].name, name, strlen(name) + 1);
}

static void
conf_link_bridge(struct conf_ctx *c, json_t *obj, unsigned int idx)
{
	struct vgw_conf_link *link = &c->conf->links[idx];
	long long v;

	conf_check_keys(c, obj, link_keys_bridge, link_keys_all, "a bridge");
	link->type = VGW_LINK_BRIDGE;
	link->aging_sec = VGW_CONF_DEFAULT_AGING_SEC;
	link->mac_table_size = VGW_CONF_DEFAULT_MAC_TABLE;
	conf_bridge_name(c, obj, idx);
	conf_link_ports(c, obj, "ports", 2, VGW_BRIDGE_MAX_PORTS, idx);
	if (conf_get_int(c, obj, "aging_time", false, CONF_AGING_MIN, CONF_AGING_MAX, &v))
		link->aging_sec = (uint32_t)v;
	if (conf_get_int(c, obj, "mac_table_size", false, CONF_MAC_TABLE_MIN, CONF_MAC_TABLE_MAX,
			 &v))
		link->mac_table_size = round_up_pow2((uint32_t)v);
	/* a guest spraying source MACs takes an eighth of the table at
	 * most; 0: no cap */
	link->max_macs_per_port = link->mac_table_size / 8;
	if (link->max_macs_per_port < 16)
		link->max_macs_per_port = 16;
	if (conf_get_int(c, obj, "max_macs_per_port", false, 0, CONF_MAC_TABLE_MAX, &v))
		link->max_macs_per_port = (uint32_t)v;
	link->one_copy = true;
	link->one_copy_set = json_object_get(obj, "one_copy") != NULL;
	conf_get_bool(c, obj, "one_copy", &link->one_copy);
}

/* links[idx], at the current path */
static void
conf_parse_link(struct conf_ctx *c, json_t *obj, unsigned int idx)
{
	bool xc, br;

	if (!conf_expect(c, obj, JSON_OBJECT))
		return;
	xc = json_object_get(obj, "xconnect") != NULL;
	br = json_object_get(obj, "bridge") != NULL;
	if (xc == br) {
		conf_check_keys(c, obj, link_keys_all, link_keys_all, NULL);
		conf_err(c, "expected exactly one of \"xconnect\" or \"bridge\", got %s",
			 xc ? "both" : "neither");
		return;
	}
	if (xc)
		conf_link_xconnect(c, obj, idx);
	else
		conf_link_bridge(c, obj, idx);
}

static void
conf_parse_links(struct conf_ctx *c, json_t *root)
{
	json_t *arr = conf_get(c, root, "links", JSON_ARRAY, false);
	size_t n, mark;

	if (arr == NULL)
		return;
	n = json_array_size(arr);
	if (n > VGW_MAX_DEVICES) {
		conf_err_key(c, "links", "expected at most %d links, got %zu", VGW_MAX_DEVICES, n);
		n = VGW_MAX_DEVICES;
	}
	c->conf->n_links = (uint16_t)n;
	mark = path_push_key(c, "links");
	for (size_t i = 0; i < n; i++) {
		size_t m = path_push_index(c, i);

		conf_parse_link(c, json_array_get(arr, i), (unsigned int)i);
		path_pop(c, m);
	}
	path_pop(c, mark);
}

/* ---- entry points ---- */

static void
conf_parse_root(struct conf_ctx *c, json_t *root)
{
	memcpy(c->conf->runtime_dir, VGW_CONF_DEFAULT_RUNTIME_DIR,
	       sizeof(VGW_CONF_DEFAULT_RUNTIME_DIR));
	conf_check_keys(c, root, root_keys, root_keys, NULL);
	conf_parse_runtime_dir(c, root);
	conf_parse_mbufs(c, root);
	conf_parse_sockperm(c, root);
	conf_parse_devices(c, root);
	conf_parse_links(c, root);
}

static void __attribute__((format(__printf__, 2, 3)))
conf_add(struct vgw_errlist *errs, const char *fmt, ...)
{
	va_list ap;

	if (errs == NULL)
		return;
	va_start(ap, fmt);
	vgw_errlist_vadd(errs, fmt, ap);
	va_end(ap);
}

static struct vgw_conf *
conf_parse_buf(const char *buf, size_t len, const char *origin, struct vgw_errlist *errs)
{
	struct conf_ctx c = {
		.origin = origin != NULL ? origin : "<string>",
		.errs = errs,
	};
	json_error_t jerr;
	json_t *root;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		/* jansson quotes the source near the error: its control
		 * characters escaped, so that the message stays one line */
		char text[4 * sizeof(jerr.text)];
		size_t o = 0;

		for (const char *p = jerr.text; *p != '\0' && o + 8 < sizeof(text); p++) {
			unsigned char ch = (unsigned char)*p;

			if (ch < 0x20 || ch == 0x7f)
				o += conf_escape_byte(ch, false, text + o);
			else
				text[o++] = (char)ch;
		}
		text[o] = '\0';
		conf_add(errs, "%s:%d:%d: invalid JSON: %s", c.origin, jerr.line, jerr.column,
			 text);
		errno = EINVAL;
		return NULL;
	}
	if (!json_is_object(root)) {
		conf_add(errs, "%s: expected a JSON object at the top level", c.origin);
		json_decref(root);
		errno = EINVAL;
		return NULL;
	}
	c.conf = calloc(1, sizeof(*c.conf));
	if (c.conf == NULL) {
		conf_add(errs, "%s: out of memory", c.origin);
		json_decref(root);
		errno = ENOMEM;
		return NULL;
	}
	conf_parse_root(&c, root);
	json_decref(root);
	if (c.n_err > 0) {
		free(c.conf);
		errno = EINVAL;
		return NULL;
	}
	return c.conf;
}

struct vgw_conf *
vgw_conf_parse_string(const char *json, const char *origin, struct vgw_errlist *errs)
{
	if (json == NULL) {
		conf_add(errs, "%s: no configuration text", origin != NULL ? origin : "<string>");
		errno = EINVAL;
		return NULL;
	}
	return conf_parse_buf(json, strlen(json), origin, errs);
}

/* Read the whole file into a malloc'ed buffer; 0 or -errno. */
static int
conf_read_file(const char *path, char **bufp, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = NULL, *nb;
	int fd, rc = 0;
	ssize_t r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (buf == NULL || len == cap) {
			if (buf != NULL)
				cap *= 2;
			if (cap > CONF_FILE_MAX) {
				rc = -EFBIG;
				break;
			}
			nb = realloc(buf, cap);
			if (nb == NULL) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

struct vgw_conf *
vgw_conf_parse_file(const char *path, struct vgw_errlist *errs)
{
	struct vgw_conf *conf;
	char eb[128];
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = conf_read_file(path, &buf, &len);
	if (rc < 0) {
		conf_add(errs, "%s: cannot read: %s", path, strerror_r(-rc, eb, sizeof(eb)));
		errno = -rc;
		return NULL;
	}
	conf = conf_parse_buf(buf, len, path, errs);
	free(buf);
	return conf;
}

void
vgw_conf_free(struct vgw_conf *conf)
{
	free(conf);
}

const char *
vgw_conf_default_json(void)
{
	return default_json;
}

int
vgw_conf_find_dev(const struct vgw_conf *conf, const char *name)
{
	if (conf == NULL || name == NULL || name[0] == '\0')
		return -1;
	for (unsigned int i = 0; i < conf->n_devs; i++)
		if (strcmp(conf->devs[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
vgw_conf_dev_type_str(enum vgw_dev_type t)
{
	if ((size_t)t >= VGW_ARRAY_SIZE(dev_type_names))
		return "unknown";
	return dev_type_names[t];
}

const char *
vgw_conf_dev_mode_str(enum vgw_dev_mode m)
{
	if ((size_t)m >= VGW_ARRAY_SIZE(dev_mode_names))
		return "unknown";
	return dev_mode_names[m];
}

const char *
vgw_conf_link_type_str(enum vgw_link_type t)
{
	switch (t) {
	case VGW_LINK_XCONNECT:
		return "xconnect";
	case VGW_LINK_BRIDGE:
		return "bridge";
	}
	return "unknown";
}
