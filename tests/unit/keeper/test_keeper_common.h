/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared helpers of the keeper unit tests: messages built from a few
 * words, real fds for them, and fd accounting through /proc/self/fd. */
#ifndef TEST_KEEPER_COMMON_H
#define TEST_KEEPER_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vgw_keeper.h"

/* A message as a test table row: payload words at offsets 0 and 4 (ring
 * index word, region count, config size), size and fd count. */
struct tk_row {
	uint32_t request, flags, size, w0, w1;
	unsigned int n_fds;
};

#define TK_V VK_FLAG_VERSION

/* Fill m from row; its fds are fresh opens of /dev/null. */
void tk_msg(struct vk_msg *m, const struct tk_row *row);
/* A message of size bytes copied from payload, without fds. */
void tk_msg_raw(struct vk_msg *m, uint32_t request, const void *payload, uint32_t size);
/* Entries of /proc/self/fd. */
int tk_fd_count(void);
/* Whether two fds refer to the same open file (device and inode). */
bool tk_same_file(int a, int b);
/* An eventfd; tk_event_works(a, b): a value written to a reads from b. */
int tk_eventfd(void);
bool tk_event_works(int a, int b);

int tk_msg_tests(void);
int tk_rx_tests(void);
int tk_journal_tests(void);

#endif /* TEST_KEEPER_COMMON_H */
