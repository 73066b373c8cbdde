/* SPDX-License-Identifier: BSD-3-Clause */

/* Unit tests of the migration phase machine (lib/ctl/phase.c), built
 * without DPDK. Three layers: every (phase, input) cell against a table
 * written from doc/phases.rst, the guarded cells in their other flag
 * states, and whole front-end sequences (QEMU 7.2 stop/cont, live
 * migration, DEVICE_STATE, crash and reconnect, operator) as exact event
 * lists. A random walk checks the invariants on top. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "phase.h"

#define IN(x) VGW_PHASE_IN_##x
#define PH(x) VGW_PHASE_##x
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DETAIL "unit-detail"

/* ------------------------------------------------------------------ */
/* Names */

/* clang-format off */
static const char *const contract_phases[] = {
	"idle", "connected", "running", "logging", "suspended", "saving", "saved",
	"loading", "loaded", "resumed", "completed", "failed", "recovering",
};
/* clang-format on */

static void
test_phase_names(void **state)
{
	(void)state;
	assert_int_equal(ARRAY_SIZE(contract_phases), VGW_PHASE_COUNT);
	for (int p = 0; p < VGW_PHASE_COUNT; p++) {
		assert_string_equal(vgw_phase_name(p), contract_phases[p]);
		assert_int_equal(vgw_phase_from_name(contract_phases[p]), p);
	}
	assert_string_equal(vgw_phase_name(VGW_PHASE_COUNT), "?");
	assert_string_equal(vgw_phase_name((enum vgw_phase)(-1)), "?");
	assert_int_equal(vgw_phase_from_name("Running"), -EINVAL);
	assert_int_equal(vgw_phase_from_name(""), -EINVAL);
	assert_int_equal(vgw_phase_from_name("?"), -EINVAL);
	assert_int_equal(vgw_phase_from_name(NULL), -EINVAL);
}

static void
test_input_names(void **state)
{
	(void)state;
	for (int i = 0; i < VGW_PHASE_IN_COUNT; i++) {
		const char *n = vgw_phase_input_name(i);

		assert_non_null(n);
		assert_string_not_equal(n, "?");
		assert_int_equal(vgw_phase_input_from_name(n), i);
		/* an input never reads as a phase in a reason */
		assert_int_equal(vgw_phase_from_name(n), -EINVAL);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, vgw_phase_input_name(j));
	}
	assert_string_equal(vgw_phase_input_name(IN(FE_CONNECT)), "fe-connect");
	assert_string_equal(vgw_phase_input_name(IN(RINGS_STOP)), "rings-stop");
	assert_string_equal(vgw_phase_input_name(IN(ERROR)), "error");
	assert_string_equal(vgw_phase_input_name(VGW_PHASE_IN_COUNT), "?");
	assert_int_equal(vgw_phase_input_from_name("idle"), -EINVAL);
	assert_int_equal(vgw_phase_input_from_name(NULL), -EINVAL);
}

static void
test_init(void **state)
{
	struct vgw_phase_machine m;

	(void)state;
	memset(&m, 0xff, sizeof(m));
	vgw_phase_init(&m);
	assert_int_equal(m.phase, PH(IDLE));
	assert_false(m.fe_connected);
	assert_false(m.fe_started);
	assert_false(m.fe_stopped);
	assert_false(m.rings_stopped);
	assert_false(m.log_on);
	assert_false(m.stopped_logging);
	assert_false(m.op_suspended);
	assert_string_equal(m.reason, "");
}

/* ------------------------------------------------------------------ */
/* Helpers */

/* Feed a sequence; return the number of events. */
static int
feed_all(struct vgw_phase_machine *m, const enum vgw_phase_input *seq, size_t n)
{
	struct vgw_phase_event ev;
	int events = 0;

	for (size_t i = 0; i < n; i++) {
		int r = vgw_phase_feed(m, seq[i], NULL, &ev);

		assert_true(r == 0 || r == 1);
		events += r;
	}
	return events;
}

/* ------------------------------------------------------------------ */
/* Layer 1: every (phase, input) cell. */

enum kind { K_UNSET = 0, K_NC, K_GO, K_IMP };

struct cell {
	enum kind kind;
	enum vgw_phase to;
};

/* clang-format off */
#define NC { .kind = K_NC }
#define GO(p) { .kind = K_GO, .to = VGW_PHASE_##p }
#define IMP { .kind = K_IMP, .to = VGW_PHASE_FAILED }

/* doc/phases.rst, "Transition table", in the canonical flag state of each
 * phase (setup[] below). Every cell must be given: K_UNSET fails. */
#define ROW_NO_FRONT_END { \
	[IN(FE_CONNECT)] = GO(CONNECTED), [IN(FE_DISCONNECT)] = IMP, \
	[IN(DEV_READY)] = IMP, [IN(DEV_STOP)] = IMP, [IN(RINGS_STOP)] = IMP, \
	[IN(LOG_START)] = IMP, [IN(LOG_STOP)] = IMP, [IN(STATUS_ZERO)] = IMP, \
	[IN(RARP)] = IMP, [IN(SAVE_BEGIN)] = IMP, [IN(SAVE_END)] = IMP, \
	[IN(LOAD_BEGIN)] = IMP, [IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = IMP, \
	[IN(CHECK_FAIL)] = IMP, [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC, \
	[IN(RECOVERY_BEGIN)] = GO(RECOVERING), [IN(RECOVERY_END)] = IMP, \
	[IN(ERROR)] = GO(FAILED) }

#define ROW_RINGS_RUNNING { \
	[IN(FE_CONNECT)] = IMP, [IN(FE_DISCONNECT)] = GO(IDLE), \
	[IN(DEV_READY)] = IMP, [IN(DEV_STOP)] = GO(SUSPENDED), \
	[IN(RINGS_STOP)] = GO(SUSPENDED), [IN(LOG_START)] = GO(LOGGING), \
	[IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC, [IN(RARP)] = NC, \
	[IN(SAVE_BEGIN)] = IMP, [IN(SAVE_END)] = IMP, [IN(LOAD_BEGIN)] = IMP, \
	[IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = IMP, [IN(CHECK_FAIL)] = IMP, \
	[IN(OP_SUSPEND)] = GO(SUSPENDED), [IN(OP_RESUME)] = NC, \
	[IN(RECOVERY_BEGIN)] = IMP, [IN(RECOVERY_END)] = IMP, [IN(ERROR)] = GO(FAILED) }

static const struct cell expected[VGW_PHASE_COUNT][VGW_PHASE_IN_COUNT] = {
	[PH(IDLE)] = ROW_NO_FRONT_END,
	[PH(CONNECTED)] = {
		[IN(FE_CONNECT)] = IMP, [IN(FE_DISCONNECT)] = GO(IDLE),
		[IN(DEV_READY)] = GO(RUNNING), [IN(DEV_STOP)] = NC, [IN(RINGS_STOP)] = NC,
		[IN(LOG_START)] = NC, [IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC,
		[IN(RARP)] = NC, [IN(SAVE_BEGIN)] = GO(SAVING), [IN(SAVE_END)] = IMP,
		[IN(LOAD_BEGIN)] = GO(LOADING), [IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = IMP,
		[IN(CHECK_FAIL)] = GO(FAILED), [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = GO(RECOVERING), [IN(RECOVERY_END)] = IMP,
		[IN(ERROR)] = GO(FAILED),
	},
	[PH(RUNNING)] = ROW_RINGS_RUNNING,
	[PH(LOGGING)] = {
		[IN(FE_CONNECT)] = IMP, [IN(FE_DISCONNECT)] = GO(IDLE),
		[IN(DEV_READY)] = IMP, [IN(DEV_STOP)] = GO(SUSPENDED),
		[IN(RINGS_STOP)] = GO(SUSPENDED), [IN(LOG_START)] = NC,
		[IN(LOG_STOP)] = GO(RUNNING), [IN(STATUS_ZERO)] = NC, [IN(RARP)] = NC,
		[IN(SAVE_BEGIN)] = IMP, [IN(SAVE_END)] = IMP, [IN(LOAD_BEGIN)] = IMP,
		[IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = IMP, [IN(CHECK_FAIL)] = IMP,
		[IN(OP_SUSPEND)] = GO(SUSPENDED), [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = IMP, [IN(RECOVERY_END)] = IMP,
		[IN(ERROR)] = GO(FAILED),
	},
	[PH(SUSPENDED)] = {
		[IN(FE_CONNECT)] = IMP, [IN(FE_DISCONNECT)] = GO(IDLE),
		[IN(DEV_READY)] = GO(RUNNING), [IN(DEV_STOP)] = NC, [IN(RINGS_STOP)] = NC,
		[IN(LOG_START)] = NC, [IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC,
		[IN(RARP)] = NC, [IN(SAVE_BEGIN)] = GO(SAVING), [IN(SAVE_END)] = IMP,
		[IN(LOAD_BEGIN)] = GO(LOADING), [IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = IMP,
		[IN(CHECK_FAIL)] = GO(FAILED), [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = IMP, [IN(RECOVERY_END)] = IMP,
		[IN(ERROR)] = GO(FAILED),
	},
	[PH(SAVING)] = {
		[IN(FE_CONNECT)] = IMP, [IN(FE_DISCONNECT)] = GO(IDLE),
		[IN(DEV_READY)] = GO(RUNNING), [IN(DEV_STOP)] = NC, [IN(RINGS_STOP)] = NC,
		[IN(LOG_START)] = NC, [IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC,
		[IN(RARP)] = NC, [IN(SAVE_BEGIN)] = IMP, [IN(SAVE_END)] = GO(SAVED),
		[IN(LOAD_BEGIN)] = IMP, [IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = IMP,
		[IN(CHECK_FAIL)] = GO(FAILED), [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = IMP, [IN(RECOVERY_END)] = IMP,
		[IN(ERROR)] = GO(FAILED),
	},
	[PH(SAVED)] = {
		[IN(FE_CONNECT)] = IMP, [IN(FE_DISCONNECT)] = GO(COMPLETED),
		[IN(DEV_READY)] = GO(RUNNING), [IN(DEV_STOP)] = NC, [IN(RINGS_STOP)] = NC,
		[IN(LOG_START)] = NC, [IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC,
		[IN(RARP)] = NC, [IN(SAVE_BEGIN)] = GO(SAVING), [IN(SAVE_END)] = IMP,
		[IN(LOAD_BEGIN)] = IMP, [IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = NC,
		[IN(CHECK_FAIL)] = GO(FAILED), [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = IMP, [IN(RECOVERY_END)] = IMP,
		[IN(ERROR)] = GO(FAILED),
	},
	[PH(LOADING)] = {
		[IN(FE_CONNECT)] = IMP, [IN(FE_DISCONNECT)] = GO(IDLE),
		[IN(DEV_READY)] = IMP, [IN(DEV_STOP)] = NC, [IN(RINGS_STOP)] = NC,
		[IN(LOG_START)] = NC, [IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC,
		[IN(RARP)] = NC, [IN(SAVE_BEGIN)] = IMP, [IN(SAVE_END)] = IMP,
		[IN(LOAD_BEGIN)] = IMP, [IN(LOAD_END)] = GO(LOADED), [IN(CHECK_OK)] = IMP,
		[IN(CHECK_FAIL)] = GO(FAILED), [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = IMP, [IN(RECOVERY_END)] = IMP,
		[IN(ERROR)] = GO(FAILED),
	},
	[PH(LOADED)] = {
		[IN(FE_CONNECT)] = IMP, [IN(FE_DISCONNECT)] = GO(IDLE),
		[IN(DEV_READY)] = GO(RESUMED), [IN(DEV_STOP)] = NC, [IN(RINGS_STOP)] = NC,
		[IN(LOG_START)] = NC, [IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC,
		[IN(RARP)] = NC, [IN(SAVE_BEGIN)] = GO(SAVING), [IN(SAVE_END)] = IMP,
		[IN(LOAD_BEGIN)] = IMP, [IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = NC,
		[IN(CHECK_FAIL)] = GO(FAILED), [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = IMP, [IN(RECOVERY_END)] = IMP,
		[IN(ERROR)] = GO(FAILED),
	},
	[PH(RESUMED)] = ROW_RINGS_RUNNING,
	[PH(COMPLETED)] = ROW_NO_FRONT_END,
	[PH(FAILED)] = {
		[IN(FE_CONNECT)] = GO(CONNECTED), [IN(FE_DISCONNECT)] = GO(IDLE),
		[IN(DEV_READY)] = GO(RUNNING), [IN(DEV_STOP)] = NC, [IN(RINGS_STOP)] = NC,
		[IN(LOG_START)] = NC, [IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC,
		[IN(RARP)] = NC, [IN(SAVE_BEGIN)] = NC, [IN(SAVE_END)] = NC,
		[IN(LOAD_BEGIN)] = NC, [IN(LOAD_END)] = NC, [IN(CHECK_OK)] = NC,
		[IN(CHECK_FAIL)] = NC, [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = NC, [IN(RECOVERY_END)] = NC, [IN(ERROR)] = NC,
	},
	[PH(RECOVERING)] = {
		[IN(FE_CONNECT)] = NC, [IN(FE_DISCONNECT)] = GO(IDLE),
		[IN(DEV_READY)] = NC, [IN(DEV_STOP)] = NC, [IN(RINGS_STOP)] = NC,
		[IN(LOG_START)] = NC, [IN(LOG_STOP)] = NC, [IN(STATUS_ZERO)] = NC,
		[IN(RARP)] = NC, [IN(SAVE_BEGIN)] = IMP, [IN(SAVE_END)] = IMP,
		[IN(LOAD_BEGIN)] = IMP, [IN(LOAD_END)] = IMP, [IN(CHECK_OK)] = IMP,
		[IN(CHECK_FAIL)] = IMP, [IN(OP_SUSPEND)] = NC, [IN(OP_RESUME)] = NC,
		[IN(RECOVERY_BEGIN)] = IMP, [IN(RECOVERY_END)] = GO(IDLE),
		[IN(ERROR)] = GO(FAILED),
	},
};

/* How each phase is reached in the table: its canonical flag state. */
struct setup {
	enum vgw_phase_input seq[8];
	size_t n;
};

#define SEQ(...) { .seq = { __VA_ARGS__ }, \
	.n = sizeof((enum vgw_phase_input[]){ __VA_ARGS__ }) / sizeof(enum vgw_phase_input) }

static const struct setup setup[VGW_PHASE_COUNT] = {
	[PH(IDLE)] = { .n = 0 },
	[PH(CONNECTED)] = SEQ(IN(FE_CONNECT)),
	[PH(RUNNING)] = SEQ(IN(FE_CONNECT), IN(DEV_READY)),
	[PH(LOGGING)] = SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START)),
	[PH(SUSPENDED)] = SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(DEV_STOP), IN(RINGS_STOP)),
	[PH(SAVING)] = SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(DEV_STOP), IN(RINGS_STOP),
			   IN(SAVE_BEGIN)),
	[PH(SAVED)] = SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(DEV_STOP), IN(RINGS_STOP),
			  IN(SAVE_BEGIN), IN(SAVE_END)),
	[PH(LOADING)] = SEQ(IN(FE_CONNECT), IN(LOAD_BEGIN)),
	[PH(LOADED)] = SEQ(IN(FE_CONNECT), IN(LOAD_BEGIN), IN(LOAD_END)),
	[PH(RESUMED)] = SEQ(IN(FE_CONNECT), IN(LOAD_BEGIN), IN(LOAD_END), IN(DEV_READY)),
	[PH(COMPLETED)] = SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(DEV_STOP),
			      IN(RINGS_STOP), IN(FE_DISCONNECT)),
	[PH(FAILED)] = SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(ERROR)),
	[PH(RECOVERING)] = SEQ(IN(RECOVERY_BEGIN)),
};
/* clang-format on */

static bool
has(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

/* Check one cell; print and count what is wrong rather than stop, so one
 * run shows every wrong cell. */
static int
check_cell(enum vgw_phase p, enum vgw_phase_input in, const char *detail)
{
	const struct cell *c = &expected[p][in];
	struct vgw_phase_machine m, before;
	struct vgw_phase_event ev, pristine;
	const char *pn = vgw_phase_name(p), *inn = vgw_phase_input_name(in);
	char quoted_in[40], quoted_p[40];
	int r, bad = 0;

#define BAD(...) \
	do { \
		fprintf(stderr, "cell (%s, %s%s): ", pn, inn, detail ? ", detail" : ""); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		bad++; \
	} while (0)

	if (c->kind == K_UNSET) {
		BAD("no expectation in the test table");
		return bad;
	}
	vgw_phase_init(&m);
	feed_all(&m, setup[p].seq, setup[p].n);
	if (m.phase != p) {
		BAD("setup reached %s", vgw_phase_name(m.phase));
		return bad;
	}
	before = m;
	memset(&ev, 0xa5, sizeof(ev));
	pristine = ev;
	r = vgw_phase_feed(&m, in, detail, &ev);
	switch (c->kind) {
	case K_NC:
		if (r != 0)
			BAD("returned %d, expected 0 (no change), went to %s", r,
			    vgw_phase_name(m.phase));
		if (m.phase != p)
			BAD("phase became %s", vgw_phase_name(m.phase));
		if (memcmp(&ev, &pristine, sizeof(ev)) != 0)
			BAD("event written without a change");
		if (strcmp(m.reason, before.reason) != 0)
			BAD("reason changed without a change: \"%s\"", m.reason);
		break;
	case K_GO:
	case K_IMP:
		if (r != 1) {
			BAD("returned %d, expected 1 (to %s)", r, vgw_phase_name(c->to));
			break;
		}
		if (m.phase != c->to || ev.to != c->to)
			BAD("went to %s (event to %s), expected %s", vgw_phase_name(m.phase),
			    vgw_phase_name(ev.to), vgw_phase_name(c->to));
		if (ev.from != p)
			BAD("event from %s", vgw_phase_name(ev.from));
		if (ev.input != in)
			BAD("event input %s", vgw_phase_input_name(ev.input));
		if (memchr(ev.reason, '\0', sizeof(ev.reason)) == NULL || ev.reason[0] == '\0')
			BAD("empty or unterminated reason");
		else if (strcmp(ev.reason, m.reason) != 0)
			BAD("event reason \"%s\" != machine reason \"%s\"", ev.reason, m.reason);
		if (detail != NULL && !has(ev.reason, detail))
			BAD("reason \"%s\" lacks the detail", ev.reason);
		if (detail == NULL && has(ev.reason, DETAIL))
			BAD("reason \"%s\" has a detail", ev.reason);
		if (c->kind == K_IMP) {
			snprintf(quoted_in, sizeof(quoted_in), "'%s'", inn);
			snprintf(quoted_p, sizeof(quoted_p), "'%s'", pn);
			if (!has(ev.reason, "impossible") || !has(ev.reason, quoted_in) ||
			    !has(ev.reason, quoted_p))
				BAD("reason \"%s\" does not name input and phase", ev.reason);
		} else if (has(ev.reason, "impossible")) {
			BAD("legal change with reason \"%s\"", ev.reason);
		}
		break;
	default:
		BAD("bad kind");
	}
	/* the machine keeps working after any cell */
	r = vgw_phase_feed(&m, IN(FE_DISCONNECT), NULL, &ev);
	if (r < 0 || r > 1 ||
	    (m.phase != PH(IDLE) && m.phase != PH(COMPLETED) && m.phase != PH(FAILED)))
		BAD("fe-disconnect afterwards left %s", vgw_phase_name(m.phase));
#undef BAD
	return bad;
}

static void
test_table_every_cell(void **state)
{
	int bad = 0, cells = 0;

	(void)state;
	for (int p = 0; p < VGW_PHASE_COUNT; p++) {
		for (int in = 0; in < VGW_PHASE_IN_COUNT; in++) {
			bad += check_cell(p, in, NULL);
			bad += check_cell(p, in, DETAIL);
			cells++;
		}
	}
	assert_int_equal(cells, 13 * 20);
	assert_int_equal(bad, 0);
}

/* The canonical setups must themselves be distinct flag states for the
 * rows to mean anything: check the flags they leave. */
static void
test_table_setups(void **state)
{
	struct vgw_phase_machine m;

	(void)state;
	vgw_phase_init(&m);
	feed_all(&m, setup[PH(SUSPENDED)].seq, setup[PH(SUSPENDED)].n);
	assert_true(m.fe_connected && m.fe_stopped && m.rings_stopped);
	assert_false(m.fe_started || m.log_on || m.op_suspended || m.stopped_logging);
	vgw_phase_init(&m);
	feed_all(&m, setup[PH(COMPLETED)].seq, setup[PH(COMPLETED)].n);
	assert_int_equal(m.phase, PH(COMPLETED));
	assert_false(m.fe_connected || m.log_on || m.fe_stopped);
	vgw_phase_init(&m);
	feed_all(&m, setup[PH(FAILED)].seq, setup[PH(FAILED)].n);
	assert_true(m.fe_connected && m.fe_started);
	vgw_phase_init(&m);
	feed_all(&m, setup[PH(RECOVERING)].seq, setup[PH(RECOVERING)].n);
	assert_false(m.fe_connected);
}

/* Out-of-range inputs and a NULL event pointer. */
static void
test_bad_input_and_null_event(void **state)
{
	struct vgw_phase_machine m;
	struct vgw_phase_event ev;

	(void)state;
	vgw_phase_init(&m);
	assert_int_equal(vgw_phase_feed(&m, IN(FE_CONNECT), NULL, NULL), 1);
	assert_int_equal(m.phase, PH(CONNECTED));
	assert_int_equal(vgw_phase_feed(&m, VGW_PHASE_IN_COUNT, NULL, &ev), 1);
	assert_int_equal(ev.from, PH(CONNECTED));
	assert_int_equal(ev.to, PH(FAILED));
	assert_true(has(ev.reason, "unknown input 20"));
	assert_true(has(ev.reason, "'connected'"));
	assert_int_equal(vgw_phase_feed(&m, (enum vgw_phase_input)(-3), NULL, &ev), 0);
	assert_int_equal(m.phase, PH(FAILED));
	assert_int_equal(vgw_phase_feed(&m, IN(FE_DISCONNECT), NULL, NULL), 1);
	assert_int_equal(m.phase, PH(IDLE));
	assert_int_equal(vgw_phase_feed(&m, (enum vgw_phase_input)(-3), NULL, &ev), 1);
	assert_true(has(ev.reason, "unknown input -3 in phase 'idle'"));
}

/* A detail longer than the reason is cut, never overflows; the input and
 * phase names come first and always survive. */
static void
test_long_detail(void **state)
{
	struct vgw_phase_machine m;
	struct vgw_phase_event ev;
	char big[600];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vgw_phase_init(&m);
	assert_int_equal(vgw_phase_feed(&m, IN(SAVE_END), big, &ev), 1);
	assert_int_equal(strlen(ev.reason), VGW_PHASE_REASON_MAX - 1);
	assert_int_equal(strlen(m.reason), VGW_PHASE_REASON_MAX - 1);
	assert_true(has(ev.reason, "'save-end'"));
	assert_true(has(ev.reason, "'idle'"));
	vgw_phase_init(&m);
	assert_int_equal(vgw_phase_feed(&m, IN(FE_CONNECT), big, &ev), 1);
	assert_int_equal(strlen(ev.reason), VGW_PHASE_REASON_MAX - 1);
	assert_true(has(ev.reason, "front-end connected: xxx"));
}

/* ------------------------------------------------------------------ */
/* Layer 2: the guarded cells in their other flag states. */

struct variant {
	const char *name;
	struct setup pre;
	enum vgw_phase at; /* phase after pre */
	enum vgw_phase_input in;
	enum vgw_phase to;	/* == at: no change */
	const char *reason_has; /* when it changes */
};

/* clang-format off */
static const struct variant variants[] = {
	{ "switchover then disconnect: completed",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(DEV_STOP), IN(RINGS_STOP)),
	  PH(SUSPENDED), IN(FE_DISCONNECT), PH(COMPLETED),
	  "stopping every ring with dirty logging on: migration completed" },
	{ "log on but not every ring stopped: idle",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(DEV_STOP)),
	  PH(SUSPENDED), IN(FE_DISCONNECT), PH(IDLE), "front-end disconnected" },
	{ "every ring stopped, log stopped after: idle",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(DEV_STOP), IN(RINGS_STOP),
	      IN(LOG_STOP)),
	  PH(SUSPENDED), IN(FE_DISCONNECT), PH(IDLE), "front-end disconnected" },
	{ "operator hold while logging, no ring stopped: idle",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(OP_SUSPEND)),
	  PH(SUSPENDED), IN(FE_DISCONNECT), PH(IDLE), "front-end disconnected" },
	{ "rings stopped, then log started (paused VM): completed",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(RINGS_STOP), IN(LOG_START)),
	  PH(SUSPENDED), IN(FE_DISCONNECT), PH(COMPLETED), "migration completed" },
	{ "dev-ready while held by the operator: no change",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(DEV_STOP), IN(OP_SUSPEND)),
	  PH(SUSPENDED), IN(DEV_READY), PH(SUSPENDED), NULL },
	{ "dev-ready after a stop while logging: running, migration failed",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(DEV_STOP), IN(RINGS_STOP)),
	  PH(SUSPENDED), IN(DEV_READY), PH(RUNNING), "migration failed" },
	{ "dev-ready after a stop while logging, log already off: same",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(DEV_STOP), IN(LOG_STOP)),
	  PH(SUSPENDED), IN(DEV_READY), PH(RUNNING), "migration failed" },
	{ "dev-ready, log started while stopped (cont in precopy): logging",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(DEV_STOP), IN(LOG_START)),
	  PH(SUSPENDED), IN(DEV_READY), PH(LOGGING), "started the rings" },
	{ "log-start with the log already on: no change",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(DEV_STOP), IN(DEV_READY)),
	  PH(RUNNING), IN(LOG_START), PH(RUNNING), NULL },
	{ "log-start while resumed: logging",
	  SEQ(IN(FE_CONNECT), IN(LOAD_BEGIN), IN(LOAD_END), IN(DEV_READY)),
	  PH(RESUMED), IN(LOG_START), PH(LOGGING), "dirty logging started" },
	{ "op-resume, rings running: running",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(OP_SUSPEND)),
	  PH(SUSPENDED), IN(OP_RESUME), PH(RUNNING), "operator resume" },
	{ "op-resume, rings running, log on: logging",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(OP_SUSPEND)),
	  PH(SUSPENDED), IN(OP_RESUME), PH(LOGGING), "operator resume" },
	{ "op-resume, front-end stopped too: no change",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(OP_SUSPEND), IN(DEV_STOP)),
	  PH(SUSPENDED), IN(OP_RESUME), PH(SUSPENDED), NULL },
	{ "op-suspend before the front-end starts the rings: suspended",
	  SEQ(IN(OP_SUSPEND), IN(FE_CONNECT)),
	  PH(CONNECTED), IN(DEV_READY), PH(SUSPENDED), "held by an operator suspend" },
	{ "connected, log started at setup: logging",
	  SEQ(IN(FE_CONNECT), IN(LOG_START)),
	  PH(CONNECTED), IN(DEV_READY), PH(LOGGING), "started the rings" },
	{ "saving, rings restarted: running, save aborted",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(DEV_STOP), IN(SAVE_BEGIN)),
	  PH(SAVING), IN(DEV_READY), PH(RUNNING), "device state save" },
	{ "saved, rings restarted while held: suspended",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(DEV_STOP), IN(SAVE_BEGIN), IN(SAVE_END),
	      IN(OP_SUSPEND)),
	  PH(SAVED), IN(DEV_READY), PH(SUSPENDED), "held by an operator suspend" },
	{ "saved, disconnect without a log: completed",
	  SEQ(IN(FE_CONNECT), IN(SAVE_BEGIN), IN(SAVE_END)),
	  PH(SAVED), IN(FE_DISCONNECT), PH(COMPLETED), "device state was saved" },
	{ "saving, disconnect: idle, transfer lost",
	  SEQ(IN(FE_CONNECT), IN(SAVE_BEGIN)),
	  PH(SAVING), IN(FE_DISCONNECT), PH(IDLE), "during the device state transfer" },
	{ "loaded, rings started with a log: logging",
	  SEQ(IN(FE_CONNECT), IN(LOAD_BEGIN), IN(LOAD_END), IN(LOG_START)),
	  PH(LOADED), IN(DEV_READY), PH(LOGGING), "started the rings" },
	{ "loaded, rings started: resumed",
	  SEQ(IN(FE_CONNECT), IN(LOAD_BEGIN), IN(LOAD_END)),
	  PH(LOADED), IN(DEV_READY), PH(RESUMED), "loaded device state" },
	{ "logging, log stopped: running, cancelled",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START)),
	  PH(LOGGING), IN(LOG_STOP), PH(RUNNING), "before the switchover" },
	{ "failed without a front-end, dev-ready: no change",
	  SEQ(IN(ERROR)),
	  PH(FAILED), IN(DEV_READY), PH(FAILED), NULL },
	{ "failed, dev-ready while held: suspended",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(ERROR), IN(OP_SUSPEND)),
	  PH(FAILED), IN(DEV_READY), PH(SUSPENDED), "held by an operator suspend" },
	{ "failed, dev-ready with the log on: logging",
	  SEQ(IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START), IN(ERROR)),
	  PH(FAILED), IN(DEV_READY), PH(LOGGING), "started the rings" },
	{ "failed, error again: no change",
	  SEQ(IN(FE_CONNECT), IN(ERROR)),
	  PH(FAILED), IN(ERROR), PH(FAILED), NULL },
	{ "recovery ends, connected only",
	  SEQ(IN(RECOVERY_BEGIN), IN(FE_CONNECT)),
	  PH(RECOVERING), IN(RECOVERY_END), PH(CONNECTED), "crash recovery finished" },
	{ "recovery ends, rings running: resumed",
	  SEQ(IN(RECOVERY_BEGIN), IN(FE_CONNECT), IN(DEV_READY)),
	  PH(RECOVERING), IN(RECOVERY_END), PH(RESUMED), "crash recovery finished" },
	{ "recovery begun after the connection: resumed",
	  SEQ(IN(FE_CONNECT), IN(RECOVERY_BEGIN), IN(DEV_READY)),
	  PH(RECOVERING), IN(RECOVERY_END), PH(RESUMED), "crash recovery finished" },
	{ "recovery ends, rings running, log on: logging",
	  SEQ(IN(RECOVERY_BEGIN), IN(FE_CONNECT), IN(DEV_READY), IN(LOG_START)),
	  PH(RECOVERING), IN(RECOVERY_END), PH(LOGGING), "crash recovery finished" },
	{ "recovery ends, rings stopped (VM paused): suspended",
	  SEQ(IN(RECOVERY_BEGIN), IN(FE_CONNECT), IN(DEV_READY), IN(DEV_STOP),
	      IN(RINGS_STOP)),
	  PH(RECOVERING), IN(RECOVERY_END), PH(SUSPENDED), "crash recovery finished" },
	{ "recovery ends, operator hold: suspended",
	  SEQ(IN(OP_SUSPEND), IN(RECOVERY_BEGIN), IN(FE_CONNECT), IN(DEV_READY)),
	  PH(RECOVERING), IN(RECOVERY_END), PH(SUSPENDED), "crash recovery finished" },
	{ "recovering with a front-end, connected again: no change",
	  SEQ(IN(FE_CONNECT), IN(RECOVERY_BEGIN)),
	  PH(RECOVERING), IN(FE_CONNECT), PH(RECOVERING), NULL },
	{ "completed, reconnect: connected",
	  SEQ(IN(FE_CONNECT), IN(SAVE_BEGIN), IN(SAVE_END), IN(FE_DISCONNECT)),
	  PH(COMPLETED), IN(FE_CONNECT), PH(CONNECTED), "front-end connected" },
};
/* clang-format on */

static void
test_guarded_variants(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
		const struct variant *v = &variants[i];
		struct vgw_phase_machine m;
		struct vgw_phase_event ev;
		int r;

		vgw_phase_init(&m);
		feed_all(&m, v->pre.seq, v->pre.n);
		if (m.phase != v->at) {
			fprintf(stderr, "variant \"%s\": setup reached %s, expected %s\n", v->name,
				vgw_phase_name(m.phase), vgw_phase_name(v->at));
			bad++;
			continue;
		}
		r = vgw_phase_feed(&m, v->in, NULL, &ev);
		if (m.phase != v->to || r != (v->to != v->at)) {
			fprintf(stderr, "variant \"%s\": %s -> %s (returned %d), expected %s\n",
				v->name, vgw_phase_name(v->at), vgw_phase_name(m.phase), r,
				vgw_phase_name(v->to));
			bad++;
			continue;
		}
		if (r == 1 && (ev.from != v->at || ev.to != v->to || ev.input != v->in ||
			       v->reason_has == NULL || !has(ev.reason, v->reason_has))) {
			fprintf(stderr,
				"variant \"%s\": event %s -> %s (%s) \"%s\", expected "
				"reason with \"%s\"\n",
				v->name, vgw_phase_name(ev.from), vgw_phase_name(ev.to),
				vgw_phase_input_name(ev.input), ev.reason,
				v->reason_has ? v->reason_has : "(none)");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ */
/* Layer 3: whole sequences, as exact event lists, one table. */

struct step {
	enum vgw_phase_input in;
	const char *detail;
};

struct trans {
	enum vgw_phase from;
	enum vgw_phase to;
	enum vgw_phase_input in;
	const char *reason_has;
};

/* Where a scenario starts: after the boot below, from a fresh machine, or
 * where the row above left the machine. */
enum start { FROM_BOOT, FROM_IDLE, CONTINUE };

/* A machine flag checked at the end of a scenario. */
enum flag { ANY = 0, OFF, ON };

struct scenario {
	const char *name;
	enum start start;
	const struct step *steps;
	size_t n_steps;
	const struct trans *exp; /* every event, in order */
	size_t n_exp;
	enum flag log_on;
	enum flag op_suspended;
	const char *reason; /* the machine's reason at the end */
};

/* clang-format off */
#define S(x) { IN(x), NULL }
#define SD(x, d) { IN(x), d }
#define T(a, b, x) { PH(a), PH(b), IN(x), NULL }
#define TR(a, b, x, r) { PH(a), PH(b), IN(x), r }
#define STEPS(...) .steps = (const struct step[]){ __VA_ARGS__ }, \
	.n_steps = sizeof((const struct step[]){ __VA_ARGS__ }) / sizeof(struct step)
#define EXP(...) .exp = (const struct trans[]){ __VA_ARGS__ }, \
	.n_exp = sizeof((const struct trans[]){ __VA_ARGS__ }) / sizeof(struct trans)
/* clang-format on */

/* Feed a scenario's steps; print what is wrong and return false rather
 * than stop, so one run shows every wrong scenario. */
static bool
run_scenario(const char *name, struct vgw_phase_machine *m, const struct step *steps, size_t n,
	     const struct trans *exp, size_t n_exp)
{
	struct vgw_phase_event got[64];
	size_t n_got = 0;
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		enum vgw_phase before = m->phase;
		struct vgw_phase_event ev = { .from = before, .to = before };
		int r = vgw_phase_feed(m, steps[i].in, steps[i].detail, &ev);

		if (r == 0 && m->phase == before)
			continue;
		if (r != 1 || ev.from != before || ev.to != m->phase || n_got == ARRAY_SIZE(got)) {
			fprintf(stderr,
				"scenario \"%s\", step %zu (%s): returned %d, %s -> %s, "
				"event %s -> %s\n",
				name, i, vgw_phase_input_name(steps[i].in), r,
				vgw_phase_name(before), vgw_phase_name(m->phase),
				vgw_phase_name(ev.from), vgw_phase_name(ev.to));
			return false;
		}
		got[n_got++] = ev;
	}
	ok = n_got == n_exp;
	for (size_t i = 0; ok && i < n_exp; i++)
		ok = got[i].from == exp[i].from && got[i].to == exp[i].to &&
		     got[i].input == exp[i].in &&
		     (exp[i].reason_has == NULL || has(got[i].reason, exp[i].reason_has));
	if (!ok) {
		fprintf(stderr, "scenario \"%s\": got %zu events:\n", name, n_got);
		for (size_t i = 0; i < n_got; i++)
			fprintf(stderr, "  %s -> %s (%s) \"%s\"\n", vgw_phase_name(got[i].from),
				vgw_phase_name(got[i].to), vgw_phase_input_name(got[i].input),
				got[i].reason);
		fprintf(stderr, "expected %zu:\n", n_exp);
		for (size_t i = 0; i < n_exp; i++)
			fprintf(stderr, "  %s -> %s (%s) with \"%s\"\n",
				vgw_phase_name(exp[i].from), vgw_phase_name(exp[i].to),
				vgw_phase_input_name(exp[i].in),
				exp[i].reason_has ? exp[i].reason_has : "");
	}
	return ok;
}

/* A QEMU 7.2 guest boots: SET_FEATURES (no LOG_ALL), rings, new_device. */
/* clang-format off */
static const struct step boot[] = {
	S(FE_CONNECT), S(LOG_STOP), S(DEV_READY),
};

static const struct trans boot_exp[] = {
	T(IDLE, CONNECTED, FE_CONNECT), T(CONNECTED, RUNNING, DEV_READY),
};

static const struct scenario scenarios[] = {
	/* QMP stop, cont, as the gateway's glue reports them: GET_VRING_BASE
	 * of ring 0 (destroy_device inside it), of ring 1 (the last:
	 * rings-stop), SET_STATUS(0) after the rings (Debian's QEMU 7.2); cont
	 * replays the setup (SET_FEATURES without LOG_ALL) and new_device
	 * comes. Three times. */
	{ "stop_cont", FROM_BOOT,
	  STEPS(S(DEV_STOP), S(RINGS_STOP), S(STATUS_ZERO), S(LOG_STOP), S(DEV_READY),
		S(DEV_STOP), S(RINGS_STOP), S(STATUS_ZERO), S(LOG_STOP), S(DEV_READY),
		S(DEV_STOP), S(RINGS_STOP), S(STATUS_ZERO), S(LOG_STOP), S(DEV_READY)),
	  EXP(T(RUNNING, SUSPENDED, DEV_STOP), T(SUSPENDED, RUNNING, DEV_READY),
	      T(RUNNING, SUSPENDED, DEV_STOP), T(SUSPENDED, RUNNING, DEV_READY),
	      T(RUNNING, SUSPENDED, DEV_STOP), T(SUSPENDED, RUNNING, DEV_READY)) },
	/* Same with SET_STATUS(0) first (upstream 7.2.0 order),
	 * SET_VRING_ENABLE 0 (no input), and a glue that reports only
	 * rings-stop. */
	{ "stop_cont_status_first", FROM_BOOT,
	  STEPS(S(STATUS_ZERO), S(RINGS_STOP), S(DEV_READY)),
	  EXP(T(RUNNING, SUSPENDED, RINGS_STOP), T(SUSPENDED, RUNNING, DEV_READY)) },
	/* Live migration, source, success: SET_LOG_BASE and SET_FEATURES
	 * +LOG_ALL at setup, precopy, switchover (rings stopped, SET_STATUS 0),
	 * then the VM stays paused (postmigrate) and is killed. */
	{ "migrate_source", FROM_BOOT,
	  STEPS(SD(LOG_START, "SET_LOG_BASE"), SD(LOG_START, "SET_FEATURES"), S(RARP),
		S(DEV_STOP), S(RINGS_STOP), S(STATUS_ZERO), S(FE_DISCONNECT)),
	  EXP(TR(RUNNING, LOGGING, LOG_START, "SET_LOG_BASE"),
	      T(LOGGING, SUSPENDED, DEV_STOP),
	      TR(SUSPENDED, COMPLETED, FE_DISCONNECT,
		 "stopping every ring with dirty logging on: migration completed")) },
	/* ... and the device can serve a new guest. */
	{ "migrate_source, a new guest", CONTINUE,
	  STEPS(S(FE_CONNECT), S(DEV_READY)),
	  EXP(T(COMPLETED, CONNECTED, FE_CONNECT), T(CONNECTED, RUNNING, DEV_READY)),
	  .log_on = OFF },
	/* Live migration, source, fails after the switchover (QEMU 7.2:
	 * vm_start replays the setup with LOG_ALL still on, new_device, then
	 * the cleanup turns the log off). A retry then logs again. */
	{ "migrate_source_fails", FROM_BOOT,
	  STEPS(S(LOG_START), S(LOG_START), S(DEV_STOP), S(RINGS_STOP), S(STATUS_ZERO),
		/* vm_start */
		SD(LOG_START, "SET_FEATURES"), SD(LOG_START, "SET_LOG_BASE"), S(DEV_READY),
		/* migrate_fd_cleanup */
		S(LOG_STOP),
		/* retry */
		S(LOG_START), S(LOG_START)),
	  EXP(T(RUNNING, LOGGING, LOG_START), T(LOGGING, SUSPENDED, DEV_STOP),
	      TR(SUSPENDED, RUNNING, DEV_READY, "migration failed or cancelled"),
	      T(RUNNING, LOGGING, LOG_START)),
	  .log_on = ON },
	/* The same failure with the log turned off before the rings restart. */
	{ "migrate_source_fails_log_first", FROM_BOOT,
	  STEPS(S(LOG_START), S(DEV_STOP), S(RINGS_STOP), S(LOG_STOP), S(LOG_STOP),
		S(DEV_READY)),
	  EXP(T(RUNNING, LOGGING, LOG_START), T(LOGGING, SUSPENDED, DEV_STOP),
	      TR(SUSPENDED, RUNNING, DEV_READY, "migration failed or cancelled")),
	  .log_on = OFF },
	/* Cancelled (or failed) during precopy: the rings never stopped. */
	{ "migrate_source_cancel_precopy", FROM_BOOT,
	  STEPS(S(LOG_START), S(LOG_STOP), S(FE_DISCONNECT)),
	  EXP(T(RUNNING, LOGGING, LOG_START),
	      TR(LOGGING, RUNNING, LOG_STOP, "before the switchover"),
	      T(RUNNING, IDLE, FE_DISCONNECT)) },
	/* Live migration, destination (QEMU 7.2 -incoming): connects at
	 * start, no rings until the incoming VM starts; a RARP may come
	 * before. */
	{ "migrate_destination", FROM_IDLE,
	  STEPS(S(FE_CONNECT), S(LOG_STOP), S(RARP), S(DEV_READY), S(RARP)),
	  EXP(T(IDLE, CONNECTED, FE_CONNECT), T(CONNECTED, RUNNING, DEV_READY)) },
	/* DEVICE_STATE source (QEMU >= 8.2): after the switchover the state
	 * is written to the pipe, CHECK_DEVICE_STATE, then the source is
	 * killed. */
	{ "devstate_source", FROM_BOOT,
	  STEPS(S(LOG_START), S(DEV_STOP), S(RINGS_STOP), S(STATUS_ZERO),
		S(SAVE_BEGIN), S(SAVE_END), S(CHECK_OK), S(FE_DISCONNECT)),
	  EXP(T(RUNNING, LOGGING, LOG_START), T(LOGGING, SUSPENDED, DEV_STOP),
	      T(SUSPENDED, SAVING, SAVE_BEGIN), T(SAVING, SAVED, SAVE_END),
	      TR(SAVED, COMPLETED, FE_DISCONNECT, "device state was saved")) },
	/* DEVICE_STATE source, the migration fails after the save. */
	{ "devstate_source_fails", FROM_BOOT,
	  STEPS(S(LOG_START), S(DEV_STOP), S(RINGS_STOP), S(SAVE_BEGIN), S(SAVE_END),
		S(CHECK_OK), S(LOG_START), S(DEV_READY), S(LOG_STOP)),
	  EXP(T(RUNNING, LOGGING, LOG_START), T(LOGGING, SUSPENDED, DEV_STOP),
	      T(SUSPENDED, SAVING, SAVE_BEGIN), T(SAVING, SAVED, SAVE_END),
	      TR(SAVED, RUNNING, DEV_READY, "after a device state save")) },
	/* DEVICE_STATE source, our save failed: CHECK answers an error, QEMU
	 * aborts and restarts the rings, which leaves failed. */
	{ "devstate_source_check_fails", FROM_BOOT,
	  STEPS(S(DEV_STOP), S(RINGS_STOP), S(SAVE_BEGIN), SD(ERROR, "EPIPE writing state"),
		SD(CHECK_FAIL, "save failed"), S(DEV_READY)),
	  EXP(T(RUNNING, SUSPENDED, DEV_STOP), T(SUSPENDED, SAVING, SAVE_BEGIN),
	      TR(SAVING, FAILED, ERROR, "internal error: EPIPE writing state"),
	      TR(FAILED, RUNNING, DEV_READY, "front-end started the rings")),
	  .reason = "front-end started the rings" },
	/* DEVICE_STATE destination, then a stop/cont of the migrated guest. */
	{ "devstate_destination", FROM_IDLE,
	  STEPS(S(FE_CONNECT), S(LOAD_BEGIN), S(LOAD_END), S(CHECK_OK), S(LOG_STOP),
		S(DEV_READY), S(RARP), S(DEV_STOP), S(RINGS_STOP), S(DEV_READY)),
	  EXP(T(IDLE, CONNECTED, FE_CONNECT), T(CONNECTED, LOADING, LOAD_BEGIN),
	      T(LOADING, LOADED, LOAD_END), T(LOADED, RESUMED, DEV_READY),
	      T(RESUMED, SUSPENDED, DEV_STOP), T(SUSPENDED, RUNNING, DEV_READY)) },
	/* DEVICE_STATE destination, the state does not parse: QEMU exits. */
	{ "devstate_destination_fails", FROM_IDLE,
	  STEPS(S(FE_CONNECT), S(LOAD_BEGIN), SD(CHECK_FAIL, "bad checksum"),
		S(FE_DISCONNECT), S(FE_CONNECT)),
	  EXP(T(IDLE, CONNECTED, FE_CONNECT), T(CONNECTED, LOADING, LOAD_BEGIN),
	      TR(LOADING, FAILED, CHECK_FAIL, "device state check failed: bad checksum"),
	      T(FAILED, IDLE, FE_DISCONNECT), T(IDLE, CONNECTED, FE_CONNECT)) },
	/* The front-end dies: rte_vhost calls destroy_device before
	 * destroy_connection, so a running device passes through suspended;
	 * never completed, even while logging, since not every ring was
	 * stopped. */
	{ "frontend_killed", FROM_BOOT,
	  STEPS(S(DEV_STOP), S(FE_DISCONNECT),
		S(FE_CONNECT), S(DEV_READY), S(LOG_START), S(DEV_STOP), S(FE_DISCONNECT),
		S(FE_CONNECT), S(DEV_READY), S(FE_DISCONNECT)),
	  EXP(T(RUNNING, SUSPENDED, DEV_STOP), T(SUSPENDED, IDLE, FE_DISCONNECT),
	      T(IDLE, CONNECTED, FE_CONNECT), T(CONNECTED, RUNNING, DEV_READY),
	      T(RUNNING, LOGGING, LOG_START), T(LOGGING, SUSPENDED, DEV_STOP),
	      T(SUSPENDED, IDLE, FE_DISCONNECT),
	      T(IDLE, CONNECTED, FE_CONNECT), T(CONNECTED, RUNNING, DEV_READY),
	      T(RUNNING, IDLE, FE_DISCONNECT)) },
	/* The back-end crashes without a keeper: the new process starts idle
	 * and QEMU (reconnect=1) or rte_vhost's client mode reconnects and
	 * replays the whole setup. */
	{ "backend_restart", FROM_IDLE,
	  STEPS(S(FE_CONNECT), S(LOG_STOP), S(DEV_READY)),
	  EXP(T(IDLE, CONNECTED, FE_CONNECT), T(CONNECTED, RUNNING, DEV_READY)) },
	/* With the keeper: the replay is silent, the end of it one event. */
	{ "keeper_recovery", FROM_IDLE,
	  STEPS(S(RECOVERY_BEGIN), S(FE_CONNECT), S(LOG_STOP), S(DEV_READY),
		S(RECOVERY_END)),
	  EXP(T(IDLE, RECOVERING, RECOVERY_BEGIN), T(RECOVERING, RESUMED, RECOVERY_END)) },
	/* A crash while the VM was paused, and its cont. */
	{ "keeper_recovery_paused", FROM_IDLE,
	  STEPS(S(RECOVERY_BEGIN), S(FE_CONNECT), S(DEV_READY), S(DEV_STOP), S(RINGS_STOP),
		S(STATUS_ZERO), S(RECOVERY_END), S(DEV_READY)),
	  EXP(T(IDLE, RECOVERING, RECOVERY_BEGIN), T(RECOVERING, SUSPENDED, RECOVERY_END),
	      T(SUSPENDED, RUNNING, DEV_READY)) },
	/* The front-end refuses the replay. */
	{ "keeper_recovery_lost", FROM_IDLE,
	  STEPS(S(RECOVERY_BEGIN), S(FE_CONNECT), SD(FE_DISCONNECT, "replay refused")),
	  EXP(T(IDLE, RECOVERING, RECOVERY_BEGIN),
	      TR(RECOVERING, IDLE, FE_DISCONNECT, "front-end disconnected: replay refused")) },
	/* Operator suspend and resume, both idempotent. */
	{ "operator", FROM_BOOT,
	  STEPS(SD(OP_SUSPEND, "operator"), S(OP_SUSPEND), SD(OP_RESUME, "operator"),
		S(OP_RESUME)),
	  EXP(TR(RUNNING, SUSPENDED, OP_SUSPEND, "operator suspend: operator"),
	      TR(SUSPENDED, RUNNING, OP_RESUME, "operator resume: operator")),
	  .op_suspended = OFF },
	/* ... explicitly: the second suspend is "no change" ... */
	{ "operator, suspend twice", CONTINUE,
	  STEPS(S(OP_SUSPEND), S(OP_SUSPEND)),
	  EXP(T(RUNNING, SUSPENDED, OP_SUSPEND)),
	  .op_suspended = ON },
	/* ... and so is the second resume. */
	{ "operator, resume twice", CONTINUE,
	  STEPS(S(OP_RESUME), S(OP_RESUME)),
	  EXP(T(SUSPENDED, RUNNING, OP_RESUME)),
	  .op_suspended = OFF },
	/* Two reasons to be suspended: the operator's resume never restarts
	 * rings the front-end stopped, and the front-end's restart never
	 * overrides the operator's hold. */
	{ "operator_and_frontend", FROM_BOOT,
	  STEPS(/* front-end stops, operator resume does nothing */
		S(DEV_STOP), S(RINGS_STOP), S(STATUS_ZERO), S(OP_RESUME),
		/* operator holds, front-end restarts: still suspended */
		S(OP_SUSPEND), S(DEV_READY),
		/* operator resumes: running */
		S(OP_RESUME),
		/* operator holds, front-end stops, operator resumes: still stopped */
		S(OP_SUSPEND), S(DEV_STOP), S(RINGS_STOP), S(OP_RESUME),
		/* front-end restarts: running */
		S(DEV_READY)),
	  EXP(T(RUNNING, SUSPENDED, DEV_STOP),
	      T(SUSPENDED, RUNNING, OP_RESUME),
	      T(RUNNING, SUSPENDED, OP_SUSPEND),
	      T(SUSPENDED, RUNNING, DEV_READY)) },
	/* The operator's hold outlives the front-end session. */
	{ "operator_hold_across_reconnect", FROM_BOOT,
	  STEPS(S(OP_SUSPEND), S(FE_DISCONNECT), S(FE_CONNECT), S(DEV_READY), S(OP_RESUME)),
	  EXP(T(RUNNING, SUSPENDED, OP_SUSPEND), T(SUSPENDED, IDLE, FE_DISCONNECT),
	      T(IDLE, CONNECTED, FE_CONNECT),
	      TR(CONNECTED, SUSPENDED, DEV_READY, "held by an operator suspend"),
	      T(SUSPENDED, RUNNING, OP_RESUME)) },
	/* Impossible inputs fail with a reason, absorb the rest, and a
	 * disconnect or a new connection recovers. */
	{ "impossible_and_recovery", FROM_IDLE,
	  STEPS(S(SAVE_END), S(DEV_READY), S(ERROR), S(SAVE_BEGIN), S(FE_DISCONNECT),
		S(FE_CONNECT), S(DEV_READY), S(FE_CONNECT), S(RARP), S(FE_CONNECT),
		S(DEV_READY)),
	  EXP(TR(IDLE, FAILED, SAVE_END, "impossible input 'save-end' in phase 'idle'"),
	      T(FAILED, IDLE, FE_DISCONNECT),
	      T(IDLE, CONNECTED, FE_CONNECT), T(CONNECTED, RUNNING, DEV_READY),
	      TR(RUNNING, FAILED, FE_CONNECT,
		 "impossible input 'fe-connect' in phase 'running'"),
	      T(FAILED, CONNECTED, FE_CONNECT), T(CONNECTED, RUNNING, DEV_READY)) },
};
/* clang-format on */

static bool
flag_ok(enum flag want, bool got)
{
	return want == ANY || (want == ON) == got;
}

static void
test_scenarios(void **state)
{
	struct vgw_phase_machine m;
	int bad = 0;

	(void)state;
	vgw_phase_init(&m);
	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
		const struct scenario *s = &scenarios[i];

		if (s->start != CONTINUE)
			vgw_phase_init(&m);
		if (s->start == FROM_BOOT && !run_scenario("boot", &m, boot, ARRAY_SIZE(boot),
							   boot_exp, ARRAY_SIZE(boot_exp))) {
			bad++;
			continue;
		}
		if (!run_scenario(s->name, &m, s->steps, s->n_steps, s->exp, s->n_exp)) {
			bad++;
			continue;
		}
		if (!flag_ok(s->log_on, m.log_on) || !flag_ok(s->op_suspended, m.op_suspended) ||
		    (s->reason != NULL && strcmp(m.reason, s->reason) != 0)) {
			fprintf(stderr,
				"scenario \"%s\": ends with log_on %d, op_suspended %d, "
				"reason \"%s\"\n",
				s->name, m.log_on, m.op_suspended, m.reason);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ */
/* Random walk: the invariants of doc/phases.rst hold after every input. */

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char *
invariant_broken(const struct vgw_phase_machine *m)
{
	if (m->rings_stopped && !m->fe_stopped)
		return "rings_stopped without fe_stopped";
	if (m->stopped_logging && !m->fe_stopped)
		return "stopped_logging without fe_stopped";
	if (m->fe_started && m->fe_stopped)
		return "started and stopped";
	if (!m->fe_connected && (m->fe_started || m->fe_stopped || m->log_on))
		return "session flags without a front-end";
	switch (m->phase) {
	case VGW_PHASE_IDLE:
	case VGW_PHASE_COMPLETED:
		return m->fe_connected ? "front-end in a no-front-end phase" : NULL;
	case VGW_PHASE_CONNECTED:
		return !m->fe_connected || m->fe_started || m->fe_stopped ?
			       "connected with rings started" :
			       NULL;
	case VGW_PHASE_RUNNING:
	case VGW_PHASE_RESUMED:
		return !m->fe_connected || !m->fe_started || m->op_suspended ?
			       "running without running rings" :
			       NULL;
	case VGW_PHASE_LOGGING:
		return !m->fe_started || m->op_suspended || !m->log_on ?
			       "logging without rings and log" :
			       NULL;
	case VGW_PHASE_SUSPENDED:
		return !m->fe_connected || (m->fe_started && !m->op_suspended) ||
				       (!m->fe_started && !m->fe_stopped) ?
			       "suspended without a reason to be" :
			       NULL;
	case VGW_PHASE_SAVING:
	case VGW_PHASE_SAVED:
	case VGW_PHASE_LOADING:
	case VGW_PHASE_LOADED:
		return !m->fe_connected ? "transfer without a front-end" : NULL;
	case VGW_PHASE_FAILED:
	case VGW_PHASE_RECOVERING:
		return NULL;
	default:
		return "phase out of range";
	}
}

static void
test_random_walk(void **state)
{
	static const char *const details[] = { NULL, "", "d", DETAIL };
	char long_detail[300];
	uint64_t s = UINT64_C(0x9e3779b97f4a7c15);
	unsigned int seen[VGW_PHASE_COUNT] = { 0 };
	struct vgw_phase_machine m;

	(void)state;
	memset(long_detail, 'y', sizeof(long_detail) - 1);
	long_detail[sizeof(long_detail) - 1] = '\0';
	vgw_phase_init(&m);
	for (int i = 0; i < 200000; i++) {
		uint64_t r = xorshift(&s);
		/* mostly legal-looking traffic: weight the front-end inputs */
		int in = (int)(r % (VGW_PHASE_IN_COUNT + 2)) - 1; /* -1 .. COUNT */
		const char *detail =
			(r >> 20) % 50 == 0 ? long_detail : details[(r >> 8) % ARRAY_SIZE(details)];
		enum vgw_phase before = m.phase;
		struct vgw_phase_event ev;
		const char *broken;
		int ret;

		if ((r >> 32) % 4 == 0 && m.phase == VGW_PHASE_FAILED)
			in = IN(FE_DISCONNECT); /* do not sit in failed */
		ret = vgw_phase_feed(&m, (enum vgw_phase_input)in, detail, &ev);
		assert_true(ret == 0 || ret == 1);
		if (ret == 0) {
			assert_int_equal(m.phase, before);
		} else {
			assert_int_equal(ev.from, before);
			assert_int_equal(ev.to, m.phase);
			assert_int_not_equal(ev.from, ev.to);
			assert_non_null(memchr(ev.reason, '\0', sizeof(ev.reason)));
			assert_true(ev.reason[0] != '\0');
			assert_string_equal(ev.reason, m.reason);
		}
		broken = invariant_broken(&m);
		if (broken != NULL)
			fail_msg("step %d: %s -> %s on %s: %s", i, vgw_phase_name(before),
				 vgw_phase_name(m.phase), vgw_phase_input_name(in), broken);
		seen[m.phase]++;
	}
	/* every phase but the rare ones was visited */
	for (int p = 0; p < VGW_PHASE_COUNT; p++)
		if (seen[p] == 0)
			fail_msg("random walk never reached %s", vgw_phase_name(p));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phase_names),
		cmocka_unit_test(test_input_names),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_table_every_cell),
		cmocka_unit_test(test_table_setups),
		cmocka_unit_test(test_bad_input_and_null_event),
		cmocka_unit_test(test_long_detail),
		cmocka_unit_test(test_guarded_variants),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_random_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
