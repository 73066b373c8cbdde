#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Live migration of a guest receiving a TCP stream over a one-copy bridge.

test_migrate_load.py on one gateway: guests A and B on a bridge [vmA, vmB,
vmB2] with one_copy on, each serving 32 MiB over HTTP and downloading the
other's in a loop. B migrates mid-download from a QEMU on vmB to a QEMU on
vmB2 of the same gateway. Every frame between them is moved guest to guest
by the gateway's own ring walker (lib/net/net_oc.c), so what B receives
during the precopy is written into its memory behind QEMU's back and is
migrated only if the dirty log has it: every transfer, across the
switch-over too, must hash to what was served. Also: vmB's phases on the
gateway as in test_migrate.py, vmB2's idle -> connected -> running, both
ports carried B's traffic, no chain refused."""

import vgw_e2e as e2e
import test_migrate_load as ml


def scenario(run):
    ml.scenario(run, topology='onecopy')


if __name__ == '__main__':
    e2e.main('onecopy_migrate', scenario)
