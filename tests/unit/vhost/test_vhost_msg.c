/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user message table: one row per ID of the merged specification,
 * and the columns the hooks and the device base dispatch on. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vgw_vhost.h"

static void
every_id_has_its_row(void **state)
{
	for (uint32_t id = 1; id < VGW_VHOST_MSG_COUNT; id++) {
		const struct vgw_vhost_msg_desc *d = vgw_vhost_msg_desc(id);

		assert_non_null(d);
		assert_int_equal(d->id, id);
		assert_non_null(d->name);
		assert_string_equal(vgw_vhost_msg_name(id), d->name);
		for (uint32_t other = 1; other < id; other++)
			assert_string_not_equal(vgw_vhost_msg_name(other), d->name);
	}
}

static void
unknown_ids(void **state)
{
	assert_null(vgw_vhost_msg_desc(0));
	assert_null(vgw_vhost_msg_desc(VGW_VHOST_MSG_COUNT));
	assert_null(vgw_vhost_msg_desc(UINT32_MAX));
	assert_string_equal(vgw_vhost_msg_name(0), "UNKNOWN");
	assert_string_equal(vgw_vhost_msg_name(1000), "UNKNOWN");
}

static void
names_of_the_specification(void **state)
{
	assert_string_equal(vgw_vhost_msg_name(5), "SET_MEM_TABLE");
	assert_string_equal(vgw_vhost_msg_name(11), "GET_VRING_BASE");
	assert_string_equal(vgw_vhost_msg_name(31), "GET_INFLIGHT_FD");
	assert_string_equal(vgw_vhost_msg_name(39), "SET_STATUS");
	assert_string_equal(vgw_vhost_msg_name(42), "SET_DEVICE_STATE_FD");
	assert_string_equal(vgw_vhost_msg_name(43), "CHECK_DEVICE_STATE");
}

/* The messages rte_vhost unmaps guest memory for, and no others. */
static void
remap_rows(void **state)
{
	for (uint32_t id = 1; id < VGW_VHOST_MSG_COUNT; id++) {
		bool remap = vgw_vhost_msg_desc(id)->flags & VGW_VHOST_MSG_F_REMAP;

		assert_int_equal(remap, id == VGW_VHOST_MSG_SET_MEM_TABLE ||
						id == VGW_VHOST_MSG_SET_LOG_BASE ||
						id == VGW_VHOST_MSG_SET_INFLIGHT_FD);
	}
}

static void
handlers_and_inputs(void **state)
{
	static const struct {
		uint32_t id;
		uint8_t handler, input, fds;
	} rows[] = {
		{ VGW_VHOST_MSG_SET_FEATURES, VGW_VHOST_H_NONE, VGW_VHOST_IN_FEATURES,
		  VGW_VHOST_FDS_NONE },
		{ VGW_VHOST_MSG_SET_LOG_BASE, VGW_VHOST_H_NONE, VGW_VHOST_IN_LOG_BASE,
		  VGW_VHOST_FDS_ONE },
		{ VGW_VHOST_MSG_GET_VRING_BASE, VGW_VHOST_H_NONE, VGW_VHOST_IN_RING_STOP,
		  VGW_VHOST_FDS_NONE },
		{ VGW_VHOST_MSG_SET_VRING_KICK, VGW_VHOST_H_NONE, VGW_VHOST_IN_RING_START,
		  VGW_VHOST_FDS_RING },
		{ VGW_VHOST_MSG_SEND_RARP, VGW_VHOST_H_NONE, VGW_VHOST_IN_RARP,
		  VGW_VHOST_FDS_NONE },
		{ VGW_VHOST_MSG_SET_STATUS, VGW_VHOST_H_NONE, VGW_VHOST_IN_STATUS,
		  VGW_VHOST_FDS_NONE },
		{ VGW_VHOST_MSG_GET_INFLIGHT_FD, VGW_VHOST_H_INFLIGHT, VGW_VHOST_IN_NONE,
		  VGW_VHOST_FDS_NONE },
		{ VGW_VHOST_MSG_SET_INFLIGHT_FD, VGW_VHOST_H_INFLIGHT, VGW_VHOST_IN_NONE,
		  VGW_VHOST_FDS_ONE },
		{ VGW_VHOST_MSG_SET_DEVICE_STATE_FD, VGW_VHOST_H_STATE_FD, VGW_VHOST_IN_NONE,
		  VGW_VHOST_FDS_ONE },
		{ VGW_VHOST_MSG_CHECK_DEVICE_STATE, VGW_VHOST_H_STATE_CHECK, VGW_VHOST_IN_NONE,
		  VGW_VHOST_FDS_NONE },
		{ VGW_VHOST_MSG_SET_MEM_TABLE, VGW_VHOST_H_NONE, VGW_VHOST_IN_NONE,
		  VGW_VHOST_FDS_REGIONS },
	};
	unsigned int handled = 0, inputs = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct vgw_vhost_msg_desc *d = vgw_vhost_msg_desc(rows[i].id);

		assert_int_equal(d->handler, rows[i].handler);
		assert_int_equal(d->input, rows[i].input);
		assert_int_equal(d->fds, rows[i].fds);
	}
	/* and no other row has a handler or makes an input */
	for (uint32_t id = 1; id < VGW_VHOST_MSG_COUNT; id++) {
		handled += vgw_vhost_msg_desc(id)->handler != VGW_VHOST_H_NONE;
		inputs += vgw_vhost_msg_desc(id)->input != VGW_VHOST_IN_NONE;
	}
	assert_int_equal(handled, 4);
	assert_int_equal(inputs, 6);
}

/* The inflight area of a queue as rte_vhost 22.11 indexes it: the layout
 * negotiated decides, a packed ring's descriptors are twice a split one's.
 * A SET_INFLIGHT_FD region sized for split rings while packed ones were
 * negotiated used to pass the check (fuzz_vhost_msg's
 * set-inflight-packed-short). */
static void
inflight_queue_bytes(void **state)
{
	(void)state;
	/* 16-byte header, 16 or 32 bytes per descriptor, 64-byte aligned */
	assert_int_equal(vgw_vhost_inflight_queue_bytes(1, false), 64);
	assert_int_equal(vgw_vhost_inflight_queue_bytes(1, true), 64);
	assert_int_equal(vgw_vhost_inflight_queue_bytes(2, true), 128);
	assert_int_equal(vgw_vhost_inflight_queue_bytes(256, false), 4160);
	assert_int_equal(vgw_vhost_inflight_queue_bytes(256, true), 8256);
	assert_int_equal(vgw_vhost_inflight_queue_bytes(32768, false), 524352);
	assert_int_equal(vgw_vhost_inflight_queue_bytes(32768, true), 1048640);
	assert_int_equal(vgw_vhost_inflight_queue_bytes(65535, true), 2097152);
	for (uint32_t qs = 1; qs <= 32768; qs *= 2) {
		uint64_t split = vgw_vhost_inflight_queue_bytes(qs, false);
		uint64_t packed = vgw_vhost_inflight_queue_bytes(qs, true);

		assert_int_equal(split % 64, 0);
		assert_int_equal(packed % 64, 0);
		assert_true(split >= 16 + 16 * qs);
		assert_true(packed >= 16 + 32 * qs);
		if (qs > 1)
			assert_true(packed > split);
	}
}

/* Mapped (and unmapped again) as an inflight region? */
static bool
mappable(int fd, uint64_t size, uint64_t offset)
{
	void *p = vgw_vhost_region_map(fd, size, offset);

	if (p != NULL)
		munmap(p, (size_t)size);
	return p != NULL;
}

/* An inflight region that cannot be mapped is refused before the one the
 * device has is unmapped (the reproducer is fuzz_vhost_msg's
 * set-inflight-unaligned seed): an offset off a page boundary, an fd
 * opened read-only, a file that cannot be mapped. */
static void
region_mappable(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = memfd_create("inflight", MFD_CLOEXEC), ro;
	char path[64];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * page), 0);
	assert_true(mappable(fd, 4160, 0));
	assert_true(mappable(fd, 2 * page, page));
	assert_false(mappable(fd, 4160, 100));
	assert_false(mappable(fd, 64, page + 64));
	assert_false(mappable(fd, 0, 0));
	assert_false(mappable(fd, UINT64_MAX, 0));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	assert_false(mappable(ro, 4160, 0));
	close(ro);
	close(fd);
	/* a regular file with a size that mmap refuses */
	ro = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDWR | O_CLOEXEC);
	if (ro >= 0) {
		assert_false(mappable(ro, 64, 0));
		close(ro);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_id_has_its_row),
		cmocka_unit_test(unknown_ids),
		cmocka_unit_test(names_of_the_specification),
		cmocka_unit_test(remap_rows),
		cmocka_unit_test(handlers_and_inputs),
		cmocka_unit_test(inflight_queue_bytes),
		cmocka_unit_test(region_mappable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
