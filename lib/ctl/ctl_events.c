/* SPDX-License-Identifier: BSD-3-Clause */
/* The control thread's inputs and events.
 *
 * rte_vhost's event thread reports what happens to each device (vhost
 * observer); it must not block, so it only enqueues into a lock-free
 * multi-producer ring. The control thread drains the ring, runs each
 * device's phase machine (the one owner of phases) and streams every
 * change to the subscribers of the control socket. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "vgw_common.h"
#include "vgw_log.h"
#include "vgw_vhost.h"
#include "ctl_priv.h"

#define INPUT_RING_SIZE 4096

struct ctl_input {
	char device[VGW_NAME_MAX];
	uint32_t ev;
	uint32_t pad;
	uint64_t arg;
	double ts;
};

static struct rte_ring *inputs;
static _Atomic uint64_t inputs_lost;
static struct vgw_ctl_dev devs[VGW_MAX_DEVICES];
static unsigned int n_devs;

double
vgw_ctl_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static void
vhost_observer(const char *name, enum vgw_vhost_event ev, uint64_t arg)
{
	struct ctl_input in = { .ev = ev, .arg = arg, .ts = vgw_ctl_now() };

	snprintf(in.device, sizeof(in.device), "%s", name);
	if (rte_ring_mp_enqueue_elem(inputs, &in, sizeof(in)) != 0)
		atomic_fetch_add_explicit(&inputs_lost, 1, memory_order_relaxed);
}

int
vgw_ctl_events_init(const struct vgw_conf *conf)
{
	inputs = rte_ring_create_elem("vgw_ctl_inputs", sizeof(struct ctl_input), INPUT_RING_SIZE,
				      SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (inputs == NULL)
		return -ENOMEM;
	n_devs = 0;
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		struct vgw_ctl_dev *d = &devs[n_devs++];

		snprintf(d->name, sizeof(d->name), "%s", conf->devs[i].name);
		d->type = conf->devs[i].type;
		vgw_phase_init(&d->pm);
	}
	vgw_vhost_set_observer(vhost_observer);
	return 0;
}

void
vgw_ctl_events_fini(void)
{
	vgw_vhost_set_observer(NULL);
	rte_ring_free(inputs);
	inputs = NULL;
}

struct vgw_ctl_dev *
vgw_ctl_dev_find(const char *name)
{
	for (unsigned int i = 0; i < n_devs; i++)
		if (strcmp(devs[i].name, name) == 0)
			return &devs[i];
	return NULL;
}

/* Feed one input to a device's phase machine; stream the change. */
void
vgw_ctl_feed(struct vgw_ctl_dev *d, enum vgw_phase_input in, const char *detail, double ts)
{
	struct vgw_phase_event ev;

	if (vgw_phase_feed(&d->pm, in, detail, &ev) != 1)
		return;
	d->phase_ts = ts;
	VGW_LOG(ctl, INFO, "%s: phase %s -> %s (%s)", d->name, vgw_phase_name(ev.from),
		vgw_phase_name(ev.to), ev.reason);
	vgw_ctl_broadcast(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "event", "phase",
				    "device", d->name, "from", vgw_phase_name(ev.from), "phase",
				    vgw_phase_name(ev.to), "input", vgw_phase_input_name(ev.input),
				    "reason", ev.reason, "ts", ts));
}

int
vgw_ctl_phase_input(unsigned int vhost_event, uint64_t arg, char *detail, size_t len)
{
	detail[0] = '\0';
	switch (vhost_event) {
	case VGW_VHOST_EV_CONNECTED:
		snprintf(detail, len, "vid %" PRIu64, arg);
		return VGW_PHASE_IN_FE_CONNECT;
	case VGW_VHOST_EV_DISCONNECTED:
		snprintf(detail, len, "vid %" PRIu64, arg);
		return VGW_PHASE_IN_FE_DISCONNECT;
	case VGW_VHOST_EV_READY:
		return VGW_PHASE_IN_DEV_READY;
	case VGW_VHOST_EV_STOPPED:
		return VGW_PHASE_IN_DEV_STOP;
	case VGW_VHOST_EV_RINGS_STOPPED:
		return VGW_PHASE_IN_RINGS_STOP;
	case VGW_VHOST_EV_LOG_START:
		snprintf(detail, len, "%s", arg ? "SET_LOG_BASE" : "SET_FEATURES +LOG_ALL");
		return VGW_PHASE_IN_LOG_START;
	case VGW_VHOST_EV_LOG_STOP:
		return VGW_PHASE_IN_LOG_STOP;
	case VGW_VHOST_EV_STATUS_RESET:
		return VGW_PHASE_IN_STATUS_ZERO;
	case VGW_VHOST_EV_RARP:
		return VGW_PHASE_IN_RARP;
	case VGW_VHOST_EV_STATE_FD:
		return arg == 0 ? VGW_PHASE_IN_SAVE_BEGIN : VGW_PHASE_IN_LOAD_BEGIN;
	case VGW_VHOST_EV_STATE_DONE:
		return arg == 0 ? VGW_PHASE_IN_SAVE_END : VGW_PHASE_IN_LOAD_END;
	case VGW_VHOST_EV_STATE_CHECK:
		return arg == 0 ? VGW_PHASE_IN_CHECK_OK : VGW_PHASE_IN_CHECK_FAIL;
	case VGW_VHOST_EV_STATE_REFUSED:
		snprintf(detail, len, "device state %s refused", arg == 0 ? "save" : "load");
		return VGW_PHASE_IN_ERROR;
	case VGW_VHOST_EV_MEM_FAULT:
		/* the device is stopped until its memory is mapped again; the
		 * phase says so until the front-end starts its rings again or
		 * goes (doc/phases.rst) */
		snprintf(detail, len,
			 "the front-end shrank guest memory under the mapping (0x%" PRIx64 ")",
			 arg);
		return VGW_PHASE_IN_ERROR;
	case VGW_VHOST_EV_RECOVERY_BEGIN:
		snprintf(detail, len, "gateway %" PRIu64, arg);
		return VGW_PHASE_IN_RECOVERY_BEGIN;
	case VGW_VHOST_EV_RECOVERY_END:
		snprintf(detail, len, "%" PRIu64 " ms after the crash", arg);
		return VGW_PHASE_IN_RECOVERY_END;
	default:
		/* per-ring stops are summed up by RINGS_STOPPED */
		return -1;
	}
}

static void
handle_input(const struct ctl_input *in)
{
	struct vgw_ctl_dev *d = vgw_ctl_dev_find(in->device);
	char detail[96];
	int pin;

	if (d == NULL)
		return;
	if (in->ev == VGW_VHOST_EV_RECOVERY_END) {
		d->recoveries++;
		d->last_recovery_ms = in->arg;
		d->last_recovery_ts = in->ts;
	}
	pin = vgw_ctl_phase_input(in->ev, in->arg, detail, sizeof(detail));
	if (pin >= 0)
		vgw_ctl_feed(d, pin, detail, in->ts);
}

void
vgw_ctl_events_poll(void)
{
	struct ctl_input batch[32];
	unsigned int n;

	do {
		n = rte_ring_sc_dequeue_burst_elem(inputs, batch, sizeof(batch[0]),
						   VGW_ARRAY_SIZE(batch), NULL);
		for (unsigned int i = 0; i < n; i++)
			handle_input(&batch[i]);
	} while (n != 0);
}

uint64_t
vgw_ctl_inputs_lost(void)
{
	return atomic_load_explicit(&inputs_lost, memory_order_relaxed);
}
