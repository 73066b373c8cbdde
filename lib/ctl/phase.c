/* SPDX-License-Identifier: BSD-3-Clause */
/* The per-device migration phase machine (doc/phases.rst).
 *
 * Two layers. First every input updates the machine's flags (what the
 * front-end and the operator have done), whatever the phase. Then one cell
 * of a [phase][input] table says what happens to the phase: impossible (go
 * to failed), no change, a fixed next phase, or one of five guarded rules
 * that look at the flags. The table below is the one in doc/phases.rst. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "phase.h"

static const char *const phase_names[VGW_PHASE_COUNT] = {
	[VGW_PHASE_IDLE] = "idle",
	[VGW_PHASE_CONNECTED] = "connected",
	[VGW_PHASE_RUNNING] = "running",
	[VGW_PHASE_LOGGING] = "logging",
	[VGW_PHASE_SUSPENDED] = "suspended",
	[VGW_PHASE_SAVING] = "saving",
	[VGW_PHASE_SAVED] = "saved",
	[VGW_PHASE_LOADING] = "loading",
	[VGW_PHASE_LOADED] = "loaded",
	[VGW_PHASE_RESUMED] = "resumed",
	[VGW_PHASE_COMPLETED] = "completed",
	[VGW_PHASE_FAILED] = "failed",
	[VGW_PHASE_RECOVERING] = "recovering",
};

static const char *const input_names[VGW_PHASE_IN_COUNT] = {
	[VGW_PHASE_IN_FE_CONNECT] = "fe-connect",
	[VGW_PHASE_IN_FE_DISCONNECT] = "fe-disconnect",
	[VGW_PHASE_IN_DEV_READY] = "dev-ready",
	[VGW_PHASE_IN_DEV_STOP] = "dev-stop",
	[VGW_PHASE_IN_RINGS_STOP] = "rings-stop",
	[VGW_PHASE_IN_LOG_START] = "log-start",
	[VGW_PHASE_IN_LOG_STOP] = "log-stop",
	[VGW_PHASE_IN_STATUS_ZERO] = "status-zero",
	[VGW_PHASE_IN_RARP] = "rarp",
	[VGW_PHASE_IN_SAVE_BEGIN] = "save-begin",
	[VGW_PHASE_IN_SAVE_END] = "save-end",
	[VGW_PHASE_IN_LOAD_BEGIN] = "load-begin",
	[VGW_PHASE_IN_LOAD_END] = "load-end",
	[VGW_PHASE_IN_CHECK_OK] = "check-ok",
	[VGW_PHASE_IN_CHECK_FAIL] = "check-fail",
	[VGW_PHASE_IN_OP_SUSPEND] = "op-suspend",
	[VGW_PHASE_IN_OP_RESUME] = "op-resume",
	[VGW_PHASE_IN_RECOVERY_BEGIN] = "recovery-begin",
	[VGW_PHASE_IN_RECOVERY_END] = "recovery-end",
	[VGW_PHASE_IN_ERROR] = "error",
};

/* The reason of a change when no rule gives a more precise one. */
static const char *const input_reasons[VGW_PHASE_IN_COUNT] = {
	[VGW_PHASE_IN_FE_CONNECT] = "front-end connected",
	[VGW_PHASE_IN_FE_DISCONNECT] = "front-end disconnected",
	[VGW_PHASE_IN_DEV_READY] = "front-end started the rings",
	[VGW_PHASE_IN_DEV_STOP] = "front-end stopped the device",
	[VGW_PHASE_IN_RINGS_STOP] = "front-end stopped every ring",
	[VGW_PHASE_IN_LOG_START] = "dirty logging started",
	[VGW_PHASE_IN_LOG_STOP] = "dirty logging stopped",
	[VGW_PHASE_IN_STATUS_ZERO] = "front-end reset the device status",
	[VGW_PHASE_IN_RARP] = "front-end asked for a RARP",
	[VGW_PHASE_IN_SAVE_BEGIN] = "device state save begun",
	[VGW_PHASE_IN_SAVE_END] = "device state saved",
	[VGW_PHASE_IN_LOAD_BEGIN] = "device state load begun",
	[VGW_PHASE_IN_LOAD_END] = "device state loaded",
	[VGW_PHASE_IN_CHECK_OK] = "device state check passed",
	[VGW_PHASE_IN_CHECK_FAIL] = "device state check failed",
	[VGW_PHASE_IN_OP_SUSPEND] = "operator suspend",
	[VGW_PHASE_IN_OP_RESUME] = "operator resume",
	[VGW_PHASE_IN_RECOVERY_BEGIN] = "crash recovery begun",
	[VGW_PHASE_IN_RECOVERY_END] = "crash recovery finished",
	[VGW_PHASE_IN_ERROR] = "internal error",
};

#define WHY_HELD "front-end started the rings, held by an operator suspend"
#define WHY_SWITCHBACK \
	"front-end restarted the rings it stopped with dirty logging on: " \
	"migration failed or cancelled"
#define WHY_SAVE_ABORT \
	"front-end restarted the rings after a device state save: " \
	"migration failed or cancelled"
#define WHY_LOADED "front-end started the rings on the loaded device state"
#define WHY_DONE_LOG \
	"front-end disconnected after stopping every ring with dirty " \
	"logging on: migration completed"
#define WHY_DONE_SAVED \
	"front-end disconnected after the device state was saved: " \
	"migration completed"
#define WHY_XFER_LOST "front-end disconnected during the device state transfer"
#define WHY_LOG_CANCEL \
	"dirty logging stopped with the rings running: " \
	"migration cancelled or failed before the switchover"

/* Cells of the transition table. Zero is "impossible", so a cell left out
 * fails safe. */
enum {
	X = 0, /* impossible: failed */
	N,     /* no change */
	R,     /* dev-ready: ready_target() */
	D,     /* fe-disconnect from suspended: completed or idle */
	L,     /* log-start while running: logging on an off-to-on edge */
	U,     /* op-resume while suspended: running/logging if the rings run */
	V,     /* recovery-end: steady phase, resumed for running */
	P0,    /* P0 + phase: go to that phase */
};
#define P(ph) (P0 + VGW_PHASE_##ph)

/* Columns, in enum vgw_phase_input order:
 * fe-connect fe-disconnect dev-ready dev-stop rings-stop log-start log-stop
 * status-zero rarp save-begin save-end load-begin load-end check-ok
 * check-fail op-suspend op-resume recovery-begin recovery-end error */
/* clang-format off */
#define ROW_NO_FRONT_END \
	{ P(CONNECTED), X, X, X, X, X, X, \
	  X, X, X, X, X, X, X, \
	  X, N, N, P(RECOVERING), X, P(FAILED) }
#define ROW_RUNNING \
	{ X, P(IDLE), X, P(SUSPENDED), P(SUSPENDED), L, N, \
	  N, N, X, X, X, X, X, \
	  X, P(SUSPENDED), N, X, X, P(FAILED) }

static const unsigned char table[VGW_PHASE_COUNT][VGW_PHASE_IN_COUNT] = {
	[VGW_PHASE_IDLE] = ROW_NO_FRONT_END,
	[VGW_PHASE_CONNECTED] =
	{ X, P(IDLE), R, N, N, N, N,
	  N, N, P(SAVING), X, P(LOADING), X, X,
	  P(FAILED), N, N, P(RECOVERING), X, P(FAILED) },
	[VGW_PHASE_RUNNING] = ROW_RUNNING,
	[VGW_PHASE_LOGGING] =
	{ X, P(IDLE), X, P(SUSPENDED), P(SUSPENDED), N, P(RUNNING),
	  N, N, X, X, X, X, X,
	  X, P(SUSPENDED), N, X, X, P(FAILED) },
	[VGW_PHASE_SUSPENDED] =
	{ X, D, R, N, N, N, N,
	  N, N, P(SAVING), X, P(LOADING), X, X,
	  P(FAILED), N, U, X, X, P(FAILED) },
	[VGW_PHASE_SAVING] =
	{ X, P(IDLE), R, N, N, N, N,
	  N, N, X, P(SAVED), X, X, X,
	  P(FAILED), N, N, X, X, P(FAILED) },
	[VGW_PHASE_SAVED] =
	{ X, P(COMPLETED), R, N, N, N, N,
	  N, N, P(SAVING), X, X, X, N,
	  P(FAILED), N, N, X, X, P(FAILED) },
	[VGW_PHASE_LOADING] =
	{ X, P(IDLE), X, N, N, N, N,
	  N, N, X, X, X, P(LOADED), X,
	  P(FAILED), N, N, X, X, P(FAILED) },
	[VGW_PHASE_LOADED] =
	{ X, P(IDLE), R, N, N, N, N,
	  N, N, P(SAVING), X, X, X, N,
	  P(FAILED), N, N, X, X, P(FAILED) },
	[VGW_PHASE_RESUMED] = ROW_RUNNING,
	[VGW_PHASE_COMPLETED] = ROW_NO_FRONT_END,
	[VGW_PHASE_FAILED] =
	{ P(CONNECTED), P(IDLE), R, N, N, N, N,
	  N, N, N, N, N, N, N,
	  N, N, N, N, N, N },
	[VGW_PHASE_RECOVERING] =
	{ N, P(IDLE), N, N, N, N, N,
	  N, N, X, X, X, X, X,
	  X, N, N, X, V, P(FAILED) },
};
/* clang-format on */

_Static_assert(VGW_PHASE_COUNT < 256 - P0, "phase does not fit a table cell");

void
vgw_phase_init(struct vgw_phase_machine *m)
{
	memset(m, 0, sizeof(*m));
	m->phase = VGW_PHASE_IDLE;
}

const char *
vgw_phase_name(enum vgw_phase p)
{
	if ((unsigned int)p >= VGW_PHASE_COUNT)
		return "?";
	return phase_names[p];
}

const char *
vgw_phase_input_name(enum vgw_phase_input in)
{
	if ((unsigned int)in >= VGW_PHASE_IN_COUNT)
		return "?";
	return input_names[in];
}

static int
name_lookup(const char *const *names, int n, const char *name)
{
	if (name == NULL)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -EINVAL;
}

int
vgw_phase_from_name(const char *name)
{
	return name_lookup(phase_names, VGW_PHASE_COUNT, name);
}

int
vgw_phase_input_from_name(const char *name)
{
	return name_lookup(input_names, VGW_PHASE_IN_COUNT, name);
}

/* A new front-end session (connect or disconnect): nothing carries over
 * but the operator's hold. */
static void
session_reset(struct vgw_phase_machine *m, bool connected)
{
	m->fe_connected = connected;
	m->fe_started = false;
	m->fe_stopped = false;
	m->rings_stopped = false;
	m->log_on = false;
	m->stopped_logging = false;
}

static void
fe_stop(struct vgw_phase_machine *m)
{
	if (!m->fe_started)
		return;
	m->fe_started = false;
	m->fe_stopped = true;
	m->stopped_logging = m->log_on;
}

/* First layer: the flags, whatever the phase. What a front-end does to its
 * rings means nothing without a front-end (those inputs are impossible in
 * idle and completed, and absorbed by failed and recovering). */
static void
update_flags(struct vgw_phase_machine *m, enum vgw_phase_input in)
{
	switch (in) {
	case VGW_PHASE_IN_DEV_READY:
	case VGW_PHASE_IN_DEV_STOP:
	case VGW_PHASE_IN_RINGS_STOP:
	case VGW_PHASE_IN_LOG_START:
	case VGW_PHASE_IN_LOG_STOP:
		if (!m->fe_connected)
			return;
		break;
	default:
		break;
	}
	switch (in) {
	case VGW_PHASE_IN_FE_CONNECT:
		session_reset(m, true);
		break;
	case VGW_PHASE_IN_FE_DISCONNECT:
		session_reset(m, false);
		break;
	case VGW_PHASE_IN_DEV_READY:
		m->fe_started = true;
		m->fe_stopped = false;
		m->rings_stopped = false;
		m->stopped_logging = false;
		break;
	case VGW_PHASE_IN_DEV_STOP:
		fe_stop(m);
		break;
	case VGW_PHASE_IN_RINGS_STOP:
		fe_stop(m);
		if (m->fe_stopped)
			m->rings_stopped = true;
		break;
	case VGW_PHASE_IN_LOG_START:
		m->log_on = true;
		break;
	case VGW_PHASE_IN_LOG_STOP:
		m->log_on = false;
		break;
	case VGW_PHASE_IN_OP_SUSPEND:
		m->op_suspended = true;
		break;
	case VGW_PHASE_IN_OP_RESUME:
		m->op_suspended = false;
		break;
	default:
		break;
	}
}

/* The phase the flags describe when no transfer, failure or recovery is
 * under way; run is the name of "rings running, no log". */
static enum vgw_phase
steady(const struct vgw_phase_machine *m, enum vgw_phase run)
{
	if (!m->fe_connected)
		return VGW_PHASE_IDLE;
	if (!m->fe_started && !m->fe_stopped)
		return VGW_PHASE_CONNECTED;
	if (!m->fe_started || m->op_suspended)
		return VGW_PHASE_SUSPENDED;
	return m->log_on ? VGW_PHASE_LOGGING : run;
}

/* dev-ready from a phase where the rings were not running. old is the
 * machine before the input, m after. */
static enum vgw_phase
ready_target(const struct vgw_phase_machine *old, const struct vgw_phase_machine *m,
	     const char **why)
{
	enum vgw_phase from = old->phase;

	if (!m->fe_connected)
		return from;
	if (m->op_suspended) {
		*why = WHY_HELD;
		return VGW_PHASE_SUSPENDED;
	}
	if (from == VGW_PHASE_SAVING || from == VGW_PHASE_SAVED) {
		*why = WHY_SAVE_ABORT;
		return VGW_PHASE_RUNNING;
	}
	if (from == VGW_PHASE_SUSPENDED && old->stopped_logging) {
		*why = WHY_SWITCHBACK;
		return VGW_PHASE_RUNNING;
	}
	if (m->log_on)
		return VGW_PHASE_LOGGING;
	if (from == VGW_PHASE_LOADED) {
		*why = WHY_LOADED;
		return VGW_PHASE_RESUMED;
	}
	return VGW_PHASE_RUNNING;
}

/* Second layer: the next phase from the table cell. */
static enum vgw_phase
next_phase(unsigned int cell, const struct vgw_phase_machine *old,
	   const struct vgw_phase_machine *m, const char **why)
{
	enum vgw_phase from = old->phase;

	switch (cell) {
	case N:
		return from;
	case R:
		return ready_target(old, m, why);
	case D:
		if (old->log_on && old->rings_stopped) {
			*why = WHY_DONE_LOG;
			return VGW_PHASE_COMPLETED;
		}
		return VGW_PHASE_IDLE;
	case L:
		return old->log_on ? from : VGW_PHASE_LOGGING;
	case U:
		return steady(m, VGW_PHASE_RUNNING);
	case V:
		return steady(m, VGW_PHASE_RESUMED);
	default:
		/* P0 + phase; X is handled by the caller */
		return (enum vgw_phase)(cell - P0);
	}
}

/* The reason of a fixed-cell change. */
static const char *
fixed_why(enum vgw_phase from, enum vgw_phase to, enum vgw_phase_input in)
{
	if (to == VGW_PHASE_COMPLETED)
		return WHY_DONE_SAVED;
	if (to == VGW_PHASE_IDLE && (from == VGW_PHASE_SAVING || from == VGW_PHASE_LOADING))
		return WHY_XFER_LOST;
	if (from == VGW_PHASE_LOGGING && in == VGW_PHASE_IN_LOG_STOP)
		return WHY_LOG_CANCEL;
	return input_reasons[in];
}

static void
set_reason(char *dst, const char *why, const char *detail)
{
	if (detail != NULL && detail[0] != '\0')
		snprintf(dst, VGW_PHASE_REASON_MAX, "%s: %s", why, detail);
	else
		snprintf(dst, VGW_PHASE_REASON_MAX, "%s", why);
}

static int
emit(struct vgw_phase_machine *m, enum vgw_phase from, enum vgw_phase_input in,
     struct vgw_phase_event *ev)
{
	if (ev != NULL) {
		ev->from = from;
		ev->to = m->phase;
		ev->input = in;
		memcpy(ev->reason, m->reason, sizeof(ev->reason));
	}
	return 1;
}

int
vgw_phase_feed(struct vgw_phase_machine *m, enum vgw_phase_input in, const char *detail,
	       struct vgw_phase_event *ev)
{
	struct vgw_phase_machine old = *m;
	enum vgw_phase from = m->phase, to;
	const char *why = NULL;
	unsigned int cell;

	if ((unsigned int)in >= VGW_PHASE_IN_COUNT) {
		if (from == VGW_PHASE_FAILED)
			return 0;
		m->phase = VGW_PHASE_FAILED;
		snprintf(m->reason, sizeof(m->reason), "unknown input %d in phase '%s'", (int)in,
			 vgw_phase_name(from));
		return emit(m, from, in, ev);
	}
	update_flags(m, in);
	cell = (unsigned int)from < VGW_PHASE_COUNT ? table[from][in] : X;
	if (cell == X) {
		m->phase = VGW_PHASE_FAILED;
		if (detail != NULL && detail[0] != '\0')
			snprintf(m->reason, sizeof(m->reason),
				 "impossible input '%s' in phase '%s': %s", input_names[in],
				 vgw_phase_name(from), detail);
		else
			snprintf(m->reason, sizeof(m->reason),
				 "impossible input '%s' in phase '%s'", input_names[in],
				 vgw_phase_name(from));
		return emit(m, from, in, ev);
	}
	to = next_phase(cell, &old, m, &why);
	if (to == from)
		return 0;
	if (why == NULL)
		why = fixed_why(from, to, in);
	m->phase = to;
	set_reason(m->reason, why, detail);
	return emit(m, from, in, ev);
}
