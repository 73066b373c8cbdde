#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""(a) A guest pings, through vhostgw and a net_tap uplink, the host kernel
answering in a network namespace the test creates."""

import vgw_e2e as e2e

COUNT = 20


def scenario(run):
    ns = run.netns('a')
    gw = run.gateway('gw', ns, [e2e.net('vm1'), e2e.tap('up0', 'vgwtap0')],
                     [e2e.xconnect('vm1', 'up0')])
    ns.link_addr('vgwtap0', '10.77.0.1/24', mac=e2e.PEER_MAC)
    g = run.guest('g1', [gw.nic('vm1', e2e.mac(2))], scenario='ping',
                  ip='10.77.0.2/24', peer='10.77.0.1', count=COUNT)
    t_ready = g.wait_ready()
    _, t_peer, _ = g.wait_line(r'VGW-PEER-UP', 90, what='first answer from the peer')
    m = g.wait(r'VGW-PING sent=(\d+) recv=(\d+)', 90, what='ping summary')
    sent, recv = int(m.group(1)), int(m.group(2))
    run.result(boot=t_ready - g.t_start, first_answer=t_peer - t_ready,
               sent=sent, recv=recv)
    e2e.expect(sent == COUNT and recv == COUNT,
               'guest sent %d pings, %d answered (want %d/%d)' % (sent, recv, COUNT, COUNT))
    if gw.backend == 'vhostgw':
        # the gateway's counters saw the pings go out and come back
        st = {d['name']: d for d in gw.ctl('stats')['devices']}
        gw.save('stats.json', st)
        run.result(vm1_rx=st['vm1']['rx_packets'], vm1_tx=st['vm1']['tx_packets'])
        e2e.expect(min(st['vm1']['rx_packets'], st['up0']['tx_packets'],
                       st['up0']['rx_packets'], st['vm1']['tx_packets']) >= COUNT,
                   'gateway counters below %d pings: %s' % (COUNT, st))


if __name__ == '__main__':
    e2e.main('ping', scenario)
