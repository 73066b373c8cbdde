#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The gateway runs under vhostgw-keeper; two guests ping each other through
it (a one-copy xconnect: the gateway's own ring walker on all four rings)
while the gateway is killed with SIGKILL 5 times. QEMU never
sees its back-end go (no reconnect option on the NICs: a disconnect would
leave the NIC dead): after every kill pings go on, at most one ping per guest
is lost, both devices are resumed in the new gateway, the guests are not
reset and log no virtio error."""

import re
import time

import vgw_e2e as e2e

KILLS = 5
IPS = ['10.77.8.2', '10.77.8.3']
KLOG_BAD = r'virtio.*(error|not a head|id \d+ is not)|watchdog: BUG|Oops|Kernel panic'


def kill_once(gw, guests, i):
    n = [len(gw.replays(d)) for d in ('vm1', 'vm2')]
    gw.kill_gateway()
    t_kill = time.monotonic()
    end = t_kill + 20
    while not all(len(gw.replays(d)) > n[k] for k, d in enumerate(('vm1', 'vm2'))):
        gw.proc.check_alive()
        if time.monotonic() > end:
            raise e2e.E2EError('kill %d: no replay within 20 s; keeper log:\n%s'
                               % (i, gw.proc.tail()))
        time.sleep(0.02)
    t_replay = time.monotonic()
    for g in guests:
        g.wait_pings(5, 30, after=t_replay, what='after kill %d' % i)
    for d in ('vm1', 'vm2'):
        ph = gw.ctl('device', device=d)['device']['phase']
        e2e.expect(ph == 'resumed', 'kill %d: %s is %s in the new gateway' % (i, d, ph))
    return t_kill, t_replay


def scenario(run):
    ns = run.netns('k')
    gw = run.gateway('gw', ns, [e2e.net('vm1'), e2e.net('vm2')],
                     [e2e.xconnect('vm1', 'vm2', one_copy=True)],
                     keeper=['--stable-ms', '500'])
    guests = [run.guest('g%d' % (i + 1), [gw.nic('vm%d' % (i + 1), e2e.mac(0x50 + i))],
                        scenario='pingloop', ip=IPS[i] + '/24', peer=IPS[1 - i])
              for i in range(2)]
    for g in guests:
        g.wait_ready(150)
    for g in guests:
        g.wait_pings(10, 90, what='before the first kill')

    windows = []
    for i in range(KILLS):
        t_kill, t_replay = kill_once(gw, guests, i)
        windows.append((t_kill, t_replay))
        time.sleep(1.0)
    rec = gw.replays('vm1') + gw.replays('vm2')
    worst_gap, worst_lost = 0.0, 0
    for g in guests:
        pings = g.pings()
        for i, (t_kill, t_replay) in enumerate(windows):
            around = [p for p in pings if t_kill - 1.5 <= p.t <= t_replay + 3.0]
            lost = sum(1 for p in around if not p.ok)
            gap, a, b = e2e.largest_gap(around)
            worst_gap, worst_lost = max(worst_gap, gap), max(worst_lost, lost)
            e2e.log('%s kill %d: %d ping(s) lost, largest gap %.2f s (%r -> %r)'
                    % (g.name, i, lost, gap, a, b))
            e2e.expect(lost <= 1, '%s: %d pings lost around kill %d' % (g.name, lost, i))
        e2e.expect(g.init_count() == 1, '%s was reset' % g.name)
        bad = g.console.find(KLOG_BAD)
        e2e.expect(not bad, '%s console: %s' % (g.name, bad[0][2].group(0) if bad else ''))
        g.proc.check_alive()
    out = gw.keeper_log()
    conns = re.findall(r'device (vm\d): front-end connected \(', out)
    e2e.expect(sorted(conns) == ['vm1', 'vm2'] and 'front-end connection closed' not in out,
               'a front-end connection was not kept: connected %s' % conns)
    run.result(kills=KILLS, recovery_ms_median=sorted(rec)[len(rec) // 2],
               recovery_ms_max=max(rec), worst_gap_s=worst_gap, worst_lost=worst_lost)


if __name__ == '__main__':
    e2e.main('keeper_net', scenario)
