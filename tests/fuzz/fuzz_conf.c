/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the configuration parser (lib/conf), whose input is a
 * file an operator wrote or a tool generated. The input bytes are the
 * JSON text. Either a configuration comes back, consistent (names and
 * sockets NUL-terminated and unique, queues in range, every link's ports
 * inside the device table and each device in at most one link), or NULL
 * with at least one error line, every line a single NUL-terminated line
 * that starts with the origin. Any inconsistency aborts. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vgw_common.h"
#include "vgw_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ORIGIN "fuzz.json"

static void
fz_check_str(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

static void
fz_check_conf(const struct vgw_conf *c)
{
	int in_link[VGW_MAX_DEVICES] = { 0 };

	if (c->n_devs == 0 || c->n_devs > VGW_MAX_DEVICES || c->n_links > VGW_MAX_DEVICES)
		abort();
	fz_check_str(c->runtime_dir, sizeof(c->runtime_dir));
	for (uint16_t i = 0; i < c->n_devs; i++) {
		const struct vgw_conf_dev *d = &c->devs[i];

		fz_check_str(d->name, sizeof(d->name));
		fz_check_str(d->socket, sizeof(d->socket));
		if (d->name[0] == '\0' || d->queues == 0 || d->queues > VGW_MAX_QUEUES)
			abort();
		for (uint16_t j = 0; j < i; j++)
			if (strcmp(c->devs[j].name, d->name) == 0 ||
			    (d->type != VGW_DEV_ETHDEV && c->devs[j].type != VGW_DEV_ETHDEV &&
			     strcmp(c->devs[j].socket, d->socket) == 0))
				abort();
	}
	for (uint16_t l = 0; l < c->n_links; l++) {
		const struct vgw_conf_link *k = &c->links[l];

		if (k->n_ports < 2 || k->n_ports > VGW_BRIDGE_MAX_PORTS ||
		    (k->type == VGW_LINK_XCONNECT && k->n_ports != 2))
			abort();
		for (uint16_t p = 0; p < k->n_ports; p++) {
			if (k->ports[p] >= c->n_devs || in_link[k->ports[p]]++ != 0)
				abort();
			if (c->devs[k->ports[p]].type == VGW_DEV_FS)
				abort(); /* fs devices are in no link */
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vgw_errlist errs;
	struct vgw_conf *c;
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	vgw_errlist_init(&errs);
	c = vgw_conf_parse_string(text, FZ_ORIGIN, &errs);
	if (c != NULL) {
		if (errs.n != 0)
			abort();
		fz_check_conf(c);
		vgw_conf_free(c);
	} else {
		if (errs.n == 0)
			abort();
		for (unsigned int i = 0; i < errs.n; i++)
			if (strncmp(errs.lines[i], FZ_ORIGIN, strlen(FZ_ORIGIN)) != 0 ||
			    strchr(errs.lines[i], '\n') != NULL)
				abort();
	}
	vgw_errlist_free(&errs);
	free(text);
	return 0;
}
