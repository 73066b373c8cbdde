#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""(b) Two guests on one vhostgw bridge (one copy: a bridge's default) ping
each other, both ways."""

import vgw_e2e as e2e

COUNT = 20


def scenario(run):
    ns = run.netns('b')
    gw = run.gateway('gw', ns, [e2e.net('vm1'), e2e.net('vm2')],
                     [e2e.bridge('br0', ['vm1', 'vm2'])])
    for d in ('vm1', 'vm2'):
        c = gw.ctl('device', device=d)['device'].get('copy')
        e2e.expect(c == 'one', 'gw %s: copy %r, expected one' % (d, c))
    ips = ['10.77.1.2', '10.77.1.3']
    guests = [run.guest('g%d' % (i + 1), [gw.nic('vm%d' % (i + 1), e2e.mac(0x10 + i))],
                        scenario='ping', ip=ips[i] + '/24', peer=ips[1 - i], count=COUNT)
              for i in range(2)]
    for g in guests:
        g.wait_ready(150)
    for g in guests:
        m = g.wait(r'VGW-PING sent=(\d+) recv=(\d+)', 120, what='ping summary')
        sent, recv = int(m.group(1)), int(m.group(2))
        run.result(**{g.name + '_sent': sent, g.name + '_recv': recv})
        e2e.expect(sent == COUNT and recv == COUNT,
                   '%s: %d pings sent, %d answered (want %d/%d)'
                   % (g.name, sent, recv, COUNT, COUNT))


if __name__ == '__main__':
    e2e.main('bridge', scenario)
