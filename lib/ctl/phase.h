/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_PHASE_H
#define VGW_PHASE_H

/* The per-device migration phase machine: one source of truth for what a
 * device's front-end and its operator have done to it, as a phase with a
 * user-visible name. Pure C, no DPDK, no allocation, never blocks: it runs
 * on whichever thread the caller serializes a device's inputs on. The
 * phases, inputs and every transition are specified in doc/phases.rst. */

#include <errno.h> /* -EINVAL of the name lookups */
#include <stdbool.h>

/* The names (vgw_phase_name) are a user-visible contract. */
enum vgw_phase {
	VGW_PHASE_IDLE,	      /* "idle": no front-end */
	VGW_PHASE_CONNECTED,  /* "connected": front-end, rings never started */
	VGW_PHASE_RUNNING,    /* "running": rings running */
	VGW_PHASE_LOGGING,    /* "logging": rings running, dirty log on (precopy) */
	VGW_PHASE_SUSPENDED,  /* "suspended": rings stopped or held by the operator */
	VGW_PHASE_SAVING,     /* "saving": device state being written (DEVICE_STATE) */
	VGW_PHASE_SAVED,      /* "saved": device state written */
	VGW_PHASE_LOADING,    /* "loading": device state being read */
	VGW_PHASE_LOADED,     /* "loaded": device state read and applied */
	VGW_PHASE_RESUMED,    /* "resumed": running on loaded or recovered state */
	VGW_PHASE_COMPLETED,  /* "completed": migrated away, front-end gone */
	VGW_PHASE_FAILED,     /* "failed": see reason */
	VGW_PHASE_RECOVERING, /* "recovering": replay after a back-end crash */
	VGW_PHASE_COUNT
};

/* What happens to a device. The names (vgw_phase_input_name) appear in
 * events and reasons. */
enum vgw_phase_input {
	VGW_PHASE_IN_FE_CONNECT,     /* "fe-connect": new_connection */
	VGW_PHASE_IN_FE_DISCONNECT,  /* "fe-disconnect": destroy_connection */
	VGW_PHASE_IN_DEV_READY,	     /* "dev-ready": new_device */
	VGW_PHASE_IN_DEV_STOP,	     /* "dev-stop": destroy_device (first GET_VRING_BASE) */
	VGW_PHASE_IN_RINGS_STOP,     /* "rings-stop": GET_VRING_BASE on every ring */
	VGW_PHASE_IN_LOG_START,	     /* "log-start": SET_FEATURES +LOG_ALL, SET_LOG_BASE */
	VGW_PHASE_IN_LOG_STOP,	     /* "log-stop": SET_FEATURES without LOG_ALL */
	VGW_PHASE_IN_STATUS_ZERO,    /* "status-zero": SET_STATUS(0) */
	VGW_PHASE_IN_RARP,	     /* "rarp": SEND_RARP */
	VGW_PHASE_IN_SAVE_BEGIN,     /* "save-begin": SET_DEVICE_STATE_FD, SAVE */
	VGW_PHASE_IN_SAVE_END,	     /* "save-end": state written (before EOF) */
	VGW_PHASE_IN_LOAD_BEGIN,     /* "load-begin": SET_DEVICE_STATE_FD, LOAD */
	VGW_PHASE_IN_LOAD_END,	     /* "load-end": EOF read, state applied */
	VGW_PHASE_IN_CHECK_OK,	     /* "check-ok": CHECK_DEVICE_STATE answered 0 */
	VGW_PHASE_IN_CHECK_FAIL,     /* "check-fail": CHECK_DEVICE_STATE answered error */
	VGW_PHASE_IN_OP_SUSPEND,     /* "op-suspend": operator suspend */
	VGW_PHASE_IN_OP_RESUME,	     /* "op-resume": operator resume */
	VGW_PHASE_IN_RECOVERY_BEGIN, /* "recovery-begin": keeper starts a replay */
	VGW_PHASE_IN_RECOVERY_END,   /* "recovery-end": keeper finished the replay */
	VGW_PHASE_IN_ERROR,	     /* "error": internal error; detail is the reason */
	VGW_PHASE_IN_COUNT
};

#define VGW_PHASE_REASON_MAX 128

/* One device's machine. Callers read the fields; only vgw_phase_init()
 * and vgw_phase_feed() write them. The flags record what happened whatever
 * the phase (they are tracked in failed and recovering too). */
struct vgw_phase_machine {
	enum vgw_phase phase;
	bool fe_connected;    /* a front-end is connected */
	bool fe_started;      /* its rings run: dev-ready, no stop since */
	bool fe_stopped;      /* it stopped them (dev-stop or rings-stop) since dev-ready */
	bool rings_stopped;   /* ... and stopped every ring (rings-stop) */
	bool log_on;	      /* dirty logging on */
	bool stopped_logging; /* it stopped the rings while logging (a switchover) */
	bool op_suspended;    /* the operator's hold; survives disconnects */
	char reason[VGW_PHASE_REASON_MAX]; /* of the last phase change */
};

/* One phase change. from != to always. reason is never empty. */
struct vgw_phase_event {
	enum vgw_phase from;
	enum vgw_phase to;
	enum vgw_phase_input input;
	char reason[VGW_PHASE_REASON_MAX];
};

/* idle, no front-end, no operator hold. */
void vgw_phase_init(struct vgw_phase_machine *m);

/* Feed one input; detail (may be NULL) is appended to the reason of the
 * resulting change. Returns 1 and fills ev (if not NULL) when the phase
 * changed, 0 when it did not (ev untouched). Never fails: an input that is
 * impossible in the current phase, and an input value out of range, move
 * the machine to failed with a reason naming the input and the phase. */
int vgw_phase_feed(struct vgw_phase_machine *m, enum vgw_phase_input in, const char *detail,
		   struct vgw_phase_event *ev);

/* Names; "?" for a value out of range. */
const char *vgw_phase_name(enum vgw_phase p);
const char *vgw_phase_input_name(enum vgw_phase_input in);
/* The enum value of a name, or -EINVAL if unknown. */
int vgw_phase_from_name(const char *name);
int vgw_phase_input_from_name(const char *name);

#endif /* VGW_PHASE_H */
