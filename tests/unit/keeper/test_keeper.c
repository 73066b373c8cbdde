/* SPDX-License-Identifier: BSD-3-Clause */
/* The keeper's core (lib/keeper), no EAL: message checks, framing with
 * fds over a socketpair, the journal and its replay. */
#include "test_keeper_common.h"

int
main(void)
{
	int rc = 0;

	rc |= tk_msg_tests();
	rc |= tk_rx_tests();
	rc |= tk_journal_tests();
	return rc;
}
