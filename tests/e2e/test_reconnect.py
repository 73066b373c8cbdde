#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""(d) vhostgw is killed with SIGKILL and restarted while the guest pings;
QEMU (chardev reconnect=1) reconnects to the gateway's server socket: pings
resume and the guest is not reset (its uptime keeps counting)."""

import signal
import time

import vgw_e2e as e2e

RESUME_TIMEOUT_S = 30.0
DOWN_S = 1.0                    # between the kill and the restart


def scenario(run):
    ns = run.netns('d')
    gw = run.gateway('gw', ns, [e2e.net('vm1'), e2e.tap('up0', 'vgwtap0')],
                     [e2e.xconnect('vm1', 'up0')])
    ns.link_addr('vgwtap0', '10.77.3.1/24', mac=e2e.PEER_MAC)
    g = run.guest('g1', [gw.nic('vm1', e2e.mac(0x30), reconnect=True)],
                  scenario='pingloop', ip='10.77.3.2/24', peer='10.77.3.1')
    g.wait_ready()
    g.wait_pings(10, 60, what='before the kill')

    t_kill = time.monotonic()
    gw.kill(signal.SIGKILL)
    time.sleep(DOWN_S)
    gw.start()
    # the tap is a new interface: give it its address (and fixed MAC) again
    ns.link_addr('vgwtap0', '10.77.3.1/24', mac=e2e.PEER_MAC)
    t_restart = time.monotonic()

    g.wait_pings(10, RESUME_TIMEOUT_S + 10, after=t_restart, what='after the restart')
    pings = g.pings()
    gap, a, b = e2e.largest_gap(pings)
    ups = [p.up for p in pings]
    span_host = pings[-1].t - pings[0].t
    span_guest = ups[-1] - ups[0]
    run.result(restart=t_restart - t_kill, gap=gap,
               resumed_after_restart=b.t - t_restart if b else -1.0,
               lost=sum(1 for p in pings if not p.ok),
               guest_uptime=ups[-1], uptime_span=span_guest, host_span=span_host)
    e2e.log('largest gap between answered pings: %r -> %r' % (a, b))
    e2e.expect(a is not None and a.t <= t_kill + 0.5 and b.t >= t_restart,
               'the largest gap %.2f s is not the restart window' % gap)
    e2e.expect(b.t - t_restart <= RESUME_TIMEOUT_S,
               'pings resumed only %.1f s after the restart' % (b.t - t_restart))
    e2e.expect(g.init_count() == 1, 'the guest was reset (VGW-INIT seen %d times)'
               % g.init_count())
    e2e.expect(all(x < y for x, y in zip(ups, ups[1:])), 'guest uptime went backwards')
    e2e.expect(span_guest > 0.5 * span_host,
               'guest uptime advanced %.1f s over %.1f s of host time' % (span_guest, span_host))
    g.proc.check_alive()


if __name__ == '__main__':
    e2e.main('reconnect', scenario)
