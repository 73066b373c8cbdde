#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_onecopy_tcp.py with vm2's "offloads" false: vm1 negotiates
checksum and TSO, vm2 none, so every TCP segment vm1 sends whole (up to
64 KiB) is segmented and checksummed by the gateway on its way into vm2
(lib/net/net_oc.c, move_tso). Each guest downloads the other's 16 MiB three
times: every md5 as served, no virtio error in either kernel, vm1's
gso_segmented and segments counters moved, vm2 asked for nothing. A
segment with a wrong sequence number, length or checksum would stall or
corrupt vm2's downloads: Linux drops a segment whose checksum fails."""

import vgw_e2e as e2e
import test_onecopy_tcp as oc


def scenario(run):
    oc.scenario(run, vm2_offloads=False)


if __name__ == '__main__':
    e2e.main('onecopy_tcpsw', scenario)
