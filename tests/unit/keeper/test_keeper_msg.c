/* SPDX-License-Identifier: BSD-3-Clause */
/* vk_msg_check and vk_msg_wants_reply: every message the keeper relays,
 * and what it refuses, with the one line it says about it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test_keeper_common.h"
#include "vgw_vhost.h"

#define MR 2 /* rings of the device the tables are checked against */
#define NOFD VK_RING_NOFD
#define X(id) VGW_VHOST_MSG_##id

static const struct tk_row good[] = {
	{ X(GET_FEATURES), TK_V, 0, 0, 0, 0 },
	{ X(GET_FEATURES), TK_V, 8, 0, 0, 0 },
	{ X(SET_FEATURES), TK_V, 8, 0, 0, 0 },
	{ X(SET_OWNER), TK_V, 0, 0, 0, 0 },
	{ X(RESET_OWNER), TK_V, 0, 0, 0, 0 },
	{ X(SET_MEM_TABLE), TK_V, 8 + 32, 1, 0, 1 },
	{ X(SET_MEM_TABLE), TK_V, 8 + 8 * 32, 8, 0, 8 },
	{ X(SET_LOG_BASE), TK_V, 16, 0, 0, 1 },
	{ X(SET_LOG_FD), TK_V, 0, 0, 0, 1 },
	{ X(SET_VRING_NUM), TK_V, 8, 1, 256, 0 },
	{ X(SET_VRING_ADDR), TK_V, 40, 1, 0, 0 },
	{ X(SET_VRING_BASE), TK_V, 8, 1, 0, 0 },
	{ X(GET_VRING_BASE), TK_V, 8, 1, 0, 0 },
	{ X(SET_VRING_KICK), TK_V, 8, 1, 0, 1 },
	{ X(SET_VRING_KICK), TK_V, 8, 1 | NOFD, 0, 0 },
	{ X(SET_VRING_CALL), TK_V, 8, 0, 0, 1 },
	{ X(SET_VRING_CALL), TK_V, 8, NOFD, 0, 0 },
	{ X(SET_VRING_ERR), TK_V, 8, 1, 0, 1 },
	{ X(GET_PROTOCOL_FEATURES), TK_V, 0, 0, 0, 0 },
	{ X(SET_PROTOCOL_FEATURES), TK_V, 8, 0, 0, 0 },
	{ X(GET_QUEUE_NUM), TK_V, 0, 0, 0, 0 },
	{ X(SET_VRING_ENABLE), TK_V, 8, 1, 1, 0 },
	{ X(SEND_RARP), TK_V, 8, 0, 0, 0 },
	{ X(NET_SET_MTU), TK_V, 8, 1500, 0, 0 },
	{ X(SET_BACKEND_REQ_FD), TK_V, 0, 0, 0, 1 },
	{ X(SET_VRING_ENDIAN), TK_V, 8, 0, 0, 0 },
	{ X(GET_CONFIG), TK_V, 12 + 40, 0, 40, 0 },
	{ X(GET_CONFIG), TK_V, 12, 0, 0, 0 },
	{ X(SET_CONFIG), TK_V, 12 + 256, 0, 256, 0 },
	{ X(GET_INFLIGHT_FD), TK_V, 24, 0, 0, 0 },
	{ X(SET_INFLIGHT_FD), TK_V, 24, 0, 0, 1 },
	{ X(RESET_DEVICE), TK_V, 0, 0, 0, 0 },
	{ X(SET_STATUS), TK_V, 8, 0xf, 0, 0 },
	{ X(GET_STATUS), TK_V, 0, 0, 0, 0 },
	{ X(SET_DEVICE_STATE_FD), TK_V, 8, 0, 0, 1 },
	{ X(CHECK_DEVICE_STATE), TK_V, 0, 0, 0, 0 },
	/* flag bits other than version, reply and need-reply pass */
	{ X(SET_FEATURES), TK_V | VK_FLAG_NEED_REPLY, 8, 0, 0, 0 },
};

struct bad_row {
	struct tk_row m;
	const char *err;
};

static const struct bad_row bad[] = {
	{ { 0, TK_V, 0, 0, 0, 0 }, "unknown message id 0" },
	{ { 44, TK_V, 0, 0, 0, 0 }, "unknown message id 44" },
	{ { 1000, TK_V, 0, 0, 0, 0 }, "unknown message id 1000" },
	{ { X(IOTLB_MSG), TK_V, 0, 0, 0, 0 },
	  "IOTLB_MSG (22) is not relayed: its feature is not offered" },
	{ { X(CREATE_CRYPTO_SESSION), TK_V, 0, 0, 0, 0 },
	  "CREATE_CRYPTO_SESSION (26) is not relayed: its feature is not offered" },
	{ { X(POSTCOPY_ADVISE), TK_V, 0, 0, 0, 0 },
	  "POSTCOPY_ADVISE (28) is not relayed: its feature is not offered" },
	{ { X(POSTCOPY_LISTEN), TK_V, 0, 0, 0, 0 },
	  "POSTCOPY_LISTEN (29) is not relayed: its feature is not offered" },
	{ { X(POSTCOPY_END), TK_V, 0, 0, 0, 0 },
	  "POSTCOPY_END (30) is not relayed: its feature is not offered" },
	{ { X(GPU_SET_SOCKET), TK_V, 0, 0, 0, 1 },
	  "GPU_SET_SOCKET (33) is not relayed: its feature is not offered" },
	{ { X(VRING_KICK), TK_V, 8, 0, 0, 0 },
	  "VRING_KICK (35) is not relayed: its feature is not offered" },
	{ { X(GET_MAX_MEM_SLOTS), TK_V, 0, 0, 0, 0 },
	  "GET_MAX_MEM_SLOTS (36) is not relayed: its feature is not offered" },
	{ { X(ADD_MEM_REG), TK_V, 40, 0, 0, 1 },
	  "ADD_MEM_REG (37) is not relayed: its feature is not offered" },
	{ { X(REM_MEM_REG), TK_V, 40, 0, 0, 0 },
	  "REM_MEM_REG (38) is not relayed: its feature is not offered" },
	{ { X(GET_SHARED_OBJECT), TK_V, 16, 0, 0, 0 },
	  "GET_SHARED_OBJECT (41) is not relayed: its feature is not offered" },
	{ { X(SET_FEATURES), 0, 8, 0, 0, 0 },
	  "SET_FEATURES: flags 0x0 (version 1 and no reply flag expected)" },
	{ { X(SET_FEATURES), 2, 8, 0, 0, 0 },
	  "SET_FEATURES: flags 0x2 (version 1 and no reply flag expected)" },
	{ { X(GET_FEATURES), 3, 0, 0, 0, 0 },
	  "GET_FEATURES: flags 0x3 (version 1 and no reply flag expected)" },
	{ { X(GET_FEATURES), TK_V | VK_FLAG_REPLY, 8, 0, 0, 0 },
	  "GET_FEATURES: flags 0x5 (version 1 and no reply flag expected)" },
	{ { X(SET_FEATURES), TK_V, 4, 0, 0, 0 },
	  "SET_FEATURES: payload of 4 bytes is wrong for it" },
	{ { X(SET_OWNER), TK_V, 16, 0, 0, 0 }, "SET_OWNER: payload of 16 bytes is wrong for it" },
	{ { X(SET_VRING_NUM), TK_V, 4, 0, 0, 0 },
	  "SET_VRING_NUM: payload of 4 bytes is wrong for it" },
	{ { X(SET_VRING_ADDR), TK_V, 32, 0, 0, 0 },
	  "SET_VRING_ADDR: payload of 32 bytes is wrong for it" },
	{ { X(SET_VRING_KICK), TK_V, 0, 0, 0, 1 },
	  "SET_VRING_KICK: payload of 0 bytes is wrong for it" },
	{ { X(SET_LOG_BASE), TK_V, 8, 0, 0, 1 },
	  "SET_LOG_BASE: payload of 8 bytes is wrong for it" },
	{ { X(SET_INFLIGHT_FD), TK_V, 16, 0, 0, 1 },
	  "SET_INFLIGHT_FD: payload of 16 bytes is wrong for it" },
	{ { X(SET_MEM_TABLE), TK_V, 8, 0, 0, 0 },
	  "SET_MEM_TABLE: payload of 8 bytes is wrong for it" },
	{ { X(SET_MEM_TABLE), TK_V, 4, 1, 0, 0 },
	  "SET_MEM_TABLE: payload of 4 bytes is wrong for it" },
	{ { X(SET_MEM_TABLE), TK_V, 8 + 9 * 32, 9, 0, 8 },
	  "SET_MEM_TABLE: payload of 296 bytes is wrong for it" },
	{ { X(SET_MEM_TABLE), TK_V, 8 + 32, 2, 0, 2 },
	  "SET_MEM_TABLE: payload of 40 bytes is wrong for it" },
	{ { X(GET_CONFIG), TK_V, 11, 0, 0, 0 }, "GET_CONFIG: payload of 11 bytes is wrong for it" },
	{ { X(GET_CONFIG), TK_V, 12 + 257, 0, 257, 0 },
	  "GET_CONFIG: payload of 269 bytes is wrong for it" },
	{ { X(SET_CONFIG), TK_V, 12 + 4, 0, 8, 0 },
	  "SET_CONFIG: payload of 16 bytes is wrong for it" },
	{ { X(SET_VRING_NUM), TK_V, 8, MR, 256, 0 },
	  "SET_VRING_NUM: ring 2 out of range (the device has 2)" },
	{ { X(SET_VRING_ADDR), TK_V, 40, 7, 0, 0 },
	  "SET_VRING_ADDR: ring 7 out of range (the device has 2)" },
	{ { X(GET_VRING_BASE), TK_V, 8, UINT32_MAX, 0, 0 },
	  "GET_VRING_BASE: ring 4294967295 out of range (the device has 2)" },
	{ { X(SET_VRING_ENABLE), TK_V, 8, 2, 1, 0 },
	  "SET_VRING_ENABLE: ring 2 out of range (the device has 2)" },
	{ { X(SET_VRING_KICK), TK_V, 8, 5 | NOFD, 0, 0 },
	  "SET_VRING_KICK: ring 5 out of range (the device has 2)" },
	{ { X(SET_VRING_CALL), TK_V, 8, 0x201, 0, 1 }, "SET_VRING_CALL: unknown bits in 0x201" },
	{ { X(SET_VRING_ERR), TK_V, 8, 1, 1, 1 }, "SET_VRING_ERR: unknown bits in 0x100000001" },
	{ { X(SET_MEM_TABLE), TK_V, 8 + 64, 2, 0, 1 },
	  "SET_MEM_TABLE: 1 fd(s) where it carries 2" },
	{ { X(SET_MEM_TABLE), TK_V, 8 + 32, 1, 0, 0 },
	  "SET_MEM_TABLE: 0 fd(s) where it carries 1" },
	{ { X(SET_VRING_KICK), TK_V, 8, 1, 0, 0 }, "SET_VRING_KICK: 0 fd(s) where it carries 1" },
	{ { X(SET_VRING_KICK), TK_V, 8, 1 | NOFD, 0, 1 },
	  "SET_VRING_KICK: 1 fd(s) where it carries 0" },
	{ { X(SET_FEATURES), TK_V, 8, 0, 0, 1 }, "SET_FEATURES: 1 fd(s) where it carries 0" },
	{ { X(SET_LOG_BASE), TK_V, 16, 0, 0, 0 }, "SET_LOG_BASE: 0 fd(s) where it carries 1" },
	{ { X(SET_INFLIGHT_FD), TK_V, 24, 0, 0, 2 },
	  "SET_INFLIGHT_FD: 2 fd(s) where it carries 1" },
	{ { X(SET_DEVICE_STATE_FD), TK_V, 8, 0, 0, 0 },
	  "SET_DEVICE_STATE_FD: 0 fd(s) where it carries 1" },
	{ { X(SET_BACKEND_REQ_FD), TK_V, 0, 0, 0, 0 },
	  "SET_BACKEND_REQ_FD: 0 fd(s) where it carries 1" },
};

static void
good_messages_pass(void **state)
{
	int before = tk_fd_count();

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct vk_msg m;
		char err[160] = "";
		int ret;

		tk_msg(&m, &good[i]);
		ret = vk_msg_check(&m, MR, err, sizeof(err));
		if (ret != 0)
			print_error("row %zu (%u): %s\n", i, good[i].request, err);
		assert_int_equal(ret, 0);
		vk_msg_close_fds(&m);
	}
	assert_int_equal(tk_fd_count(), before);
}

static void
bad_messages_refused(void **state)
{
	int before = tk_fd_count();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vk_msg m;
		char err[160] = "";

		tk_msg(&m, &bad[i].m);
		assert_int_equal(vk_msg_check(&m, MR, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
		assert_int_equal(m.n_fds, bad[i].m.n_fds); /* the caller's to close */
		vk_msg_close_fds(&m);
		assert_int_equal(m.n_fds, 0);
	}
	assert_int_equal(tk_fd_count(), before);
}

static const struct tk_row *
good_row(uint32_t id)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (good[i].request == id)
			return &good[i];
	return NULL;
}

/* The relayed ids are exactly those of the good table: every other id,
 * from 0 to past the end of the message table, is refused by id. */
static void
relayed_ids_are_the_table(void **state)
{
	for (uint32_t id = 0; id <= VGW_VHOST_MSG_COUNT; id++) {
		struct tk_row row = { id, TK_V, 8, 0, 0, 0 };
		struct vk_msg m;
		char err[160] = "";

		tk_msg(&m, good_row(id) != NULL ? good_row(id) : &row);
		if (good_row(id) != NULL)
			assert_int_equal(vk_msg_check(&m, MR, err, sizeof(err)), 0);
		else {
			assert_int_equal(vk_msg_check(&m, MR, err, sizeof(err)), -EINVAL);
			assert_true(strstr(err, "is not relayed") != NULL ||
				    strstr(err, "unknown message id") != NULL);
		}
		vk_msg_close_fds(&m);
	}
}

/* vk_msg_guard, the gateway's check without the keeper: what the keeper
 * relays as vk_msg_check has it; any other id passes only without fds. */
static void
guard_checks(void **state)
{
	static const struct {
		struct tk_row m;
		const char *err; /* NULL: passes */
	} rows[] = {
		{ { X(SET_MEM_TABLE), TK_V, 8 + 32, 1, 0, 1 }, NULL },
		{ { X(SET_VRING_NUM), TK_V, 8, 300, 256, 0 },
		  "SET_VRING_NUM: ring 300 out of range (the device has 2)" },
		{ { X(GET_FEATURES), TK_V, 0, 0, 0, 2 },
		  "GET_FEATURES: 2 fd(s) where it carries 0" },
		{ { X(POSTCOPY_ADVISE), TK_V, 0, 0, 0, 0 }, NULL },
		{ { X(POSTCOPY_ADVISE), TK_V, 0, 0, 0, 1 },
		  "POSTCOPY_ADVISE (28) with 1 fd(s), which it does not carry" },
		{ { 99, TK_V, 8, 0, 0, 0 }, NULL },
		{ { 99, TK_V, 8, 0, 0, 2 }, NULL /* prefix checked below */ },
	};
	int before = tk_fd_count();

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct vk_msg m;
		char err[160] = "";
		int ret;

		tk_msg(&m, &rows[i].m);
		ret = vk_msg_guard(&m, MR, err, sizeof(err));
		if (rows[i].m.request == 99 && rows[i].m.n_fds > 0) {
			assert_int_equal(ret, -EINVAL);
			assert_true(strstr(err, "(99) with 2 fd(s), which it does not carry") !=
				    NULL);
		} else if (rows[i].err == NULL) {
			if (ret != 0)
				print_error("row %zu: %s\n", i, err);
			assert_int_equal(ret, 0);
		} else {
			assert_int_equal(ret, -EINVAL);
			assert_string_equal(err, rows[i].err);
		}
		vk_msg_close_fds(&m);
	}
	assert_int_equal(tk_fd_count(), before);
}

struct check_reply_row {
	uint32_t req, request, flags, size;
	unsigned int n_fds;
	const char *err; /* NULL: accepted */
};

static const struct check_reply_row reply_checks[] = {
	{ X(GET_VRING_BASE), X(GET_VRING_BASE), TK_V | VK_FLAG_REPLY, 8, 0, NULL },
	{ X(GET_INFLIGHT_FD), X(GET_INFLIGHT_FD), TK_V | VK_FLAG_REPLY, 24, 1, NULL },
	/* a refusal: rte_vhost acks with a u64 where it would have answered */
	{ X(GET_INFLIGHT_FD), X(GET_INFLIGHT_FD), TK_V | VK_FLAG_REPLY, 8, 0, NULL },
	{ X(GET_FEATURES), X(GET_FEATURES), TK_V | VK_FLAG_REPLY, 8, 0, NULL },
	{ X(GET_FEATURES), X(GET_FEATURES), TK_V, 8, 0,
	  "GET_FEATURES (flags 0x1) where a reply to GET_FEATURES was due" },
	{ X(GET_FEATURES), X(GET_STATUS), TK_V | VK_FLAG_REPLY, 8, 0,
	  "GET_STATUS (flags 0x5) where a reply to GET_FEATURES was due" },
	{ X(GET_FEATURES), X(GET_FEATURES), TK_V | VK_FLAG_REPLY, 8, 1,
	  "reply to GET_FEATURES carries 1 fd(s)" },
	{ X(GET_VRING_BASE), X(GET_VRING_BASE), TK_V | VK_FLAG_REPLY, 4, 0,
	  "reply to GET_VRING_BASE: 4 bytes, 0 fd(s)" },
	{ X(GET_INFLIGHT_FD), X(GET_INFLIGHT_FD), TK_V | VK_FLAG_REPLY, 24, 0,
	  "reply to GET_INFLIGHT_FD: 24 bytes, 0 fd(s)" },
	{ X(GET_INFLIGHT_FD), X(GET_INFLIGHT_FD), TK_V | VK_FLAG_REPLY, 24, 2,
	  "reply to GET_INFLIGHT_FD carries 2 fd(s)" },
};

static void
replies_checked(void **state)
{
	int before = tk_fd_count();

	for (size_t i = 0; i < sizeof(reply_checks) / sizeof(reply_checks[0]); i++) {
		const struct check_reply_row *c = &reply_checks[i];
		struct tk_row rq = { c->req, TK_V, 8, 0, 0, 0 };
		struct tk_row rp = { c->request, c->flags, c->size, 0, 0, c->n_fds };
		struct vk_msg req, reply;
		char err[160] = "";

		tk_msg(&req, &rq);
		tk_msg(&reply, &rp);
		assert_int_equal(vk_msg_check_reply(&req, &reply, err, sizeof(err)),
				 c->err == NULL ? 0 : -EINVAL);
		assert_string_equal(err, c->err == NULL ? "" : c->err);
		vk_msg_close_fds(&reply);
	}
	assert_int_equal(tk_fd_count(), before);
}

struct reply_row {
	uint32_t request, flags;
	bool reply_ack, wants;
};

static const struct reply_row replies[] = {
	{ X(GET_FEATURES), TK_V, false, true },
	{ X(GET_PROTOCOL_FEATURES), TK_V, false, true },
	{ X(GET_QUEUE_NUM), TK_V, false, true },
	{ X(GET_VRING_BASE), TK_V, false, true },
	{ X(GET_CONFIG), TK_V, false, true },
	{ X(GET_INFLIGHT_FD), TK_V, false, true },
	{ X(GET_STATUS), TK_V, false, true },
	{ X(SET_LOG_BASE), TK_V, false, true },
	{ X(SET_DEVICE_STATE_FD), TK_V, false, true },
	{ X(CHECK_DEVICE_STATE), TK_V, false, true },
	{ X(GET_FEATURES), TK_V | VK_FLAG_NEED_REPLY, true, true },
	{ X(SET_FEATURES), TK_V, false, false },
	{ X(SET_FEATURES), TK_V, true, false },
	{ X(SET_FEATURES), TK_V | VK_FLAG_NEED_REPLY, false, false },
	{ X(SET_FEATURES), TK_V | VK_FLAG_NEED_REPLY, true, true },
	{ X(SET_MEM_TABLE), TK_V | VK_FLAG_NEED_REPLY, true, true },
	{ X(SET_MEM_TABLE), TK_V | VK_FLAG_NEED_REPLY, false, false },
	{ X(SET_VRING_KICK), TK_V, true, false },
	{ X(SET_VRING_ENABLE), TK_V | VK_FLAG_NEED_REPLY, true, true },
	{ X(SET_STATUS), TK_V, true, false },
	{ X(SET_CONFIG), TK_V, false, false },
	{ X(SET_INFLIGHT_FD), TK_V, false, false },
};

static void
wants_reply(void **state)
{
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		struct vk_msg m = { .request = replies[i].request, .flags = replies[i].flags };

		if (vk_msg_wants_reply(&m, replies[i].reply_ack) != replies[i].wants)
			print_error("row %zu: %s\n", i, vgw_vhost_msg_name(m.request));
		assert_int_equal(vk_msg_wants_reply(&m, replies[i].reply_ack), replies[i].wants);
	}
}

int
tk_msg_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_messages_pass),	     cmocka_unit_test(bad_messages_refused),
		cmocka_unit_test(relayed_ids_are_the_table), cmocka_unit_test(guard_checks),
		cmocka_unit_test(replies_checked),	     cmocka_unit_test(wants_reply),
	};

	return cmocka_run_group_tests_name("keeper_msg", tests, NULL, NULL);
}
