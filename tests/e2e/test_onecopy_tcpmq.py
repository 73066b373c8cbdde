#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_onecopy_tcp's downloads over a one-copy xconnect of devices of two
queue pairs, each guest's NIC of two pairs too (QEMU's virtio-net mq=on):
a Linux guest of one vCPU enables one of them, so the rings of pair 1 are
set up by QEMU and never enabled (the gateway never takes them). Every md5
as served, no transfer failed, no chain refused, and the bytes went on
pair 0 alone, both ways."""

import vgw_e2e as e2e
import test_onecopy_tcp as oc


def scenario(run):
    oc.scenario(run, queues=2)


if __name__ == '__main__':
    e2e.main('onecopy_tcpmq', scenario)
