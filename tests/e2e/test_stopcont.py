#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""(c) QMP stop for 5 s, then cont: the guest's pings resume, and pings are
lost only inside the stop window (plus one ping timeout after cont). The
operator's view (vhostgw-ctl watch --json): vm1 goes running -> suspended in
the stop window and suspended -> running at cont, and nothing else."""

import time

import vgw_e2e as e2e

STOP_S = 5.0
PING_TIMEOUT_S = 1.0            # guest-init.sh: ping -W 1
SLACK_S = 1.5


def scenario(run):
    ns = run.netns('c')
    gw = run.gateway('gw', ns, [e2e.net('vm1'), e2e.tap('up0', 'vgwtap0')],
                     [e2e.xconnect('vm1', 'up0')])
    ns.link_addr('vgwtap0', '10.77.2.1/24', mac=e2e.PEER_MAC)
    w = e2e.Watch(gw)           # before the guest connects: vm1's whole history
    g = run.guest('g1', [gw.nic('vm1', e2e.mac(0x20))], scenario='pingloop',
                  ip='10.77.2.2/24', peer='10.77.2.1')
    g.wait_ready()
    g.wait_pings(10, 60, what='before stop')

    t_stop = time.monotonic()
    g.qmp.cmd('stop')
    e2e.expect(g.qmp.cmd('query-status')['status'] == 'paused', 'guest not paused')
    time.sleep(STOP_S)
    t_cont_cmd = time.monotonic()
    g.qmp.cmd('cont')
    t_cont = time.monotonic()
    e2e.expect(g.qmp.cmd('query-status')['status'] == 'running', 'guest not running')
    log_stop = 'stop at %.2f, cont at %.2f' % (t_stop - e2e.T0, t_cont - e2e.T0)
    e2e.log(log_stop)

    g.wait_pings(10, 60, after=t_cont, what='after cont')
    pings = g.pings()
    gap, a, b = e2e.largest_gap(pings)
    lost = [p for p in pings if not p.ok]
    stray = [p for p in lost if not t_stop <= p.t <= t_cont + PING_TIMEOUT_S + SLACK_S]
    run.result(stop_window=t_cont - t_stop, gap=gap, lost=len(lost),
               resumed_after_cont=b.t - t_cont if b else -1.0,
               pings=len(pings))
    e2e.log('largest gap between answered pings: %r -> %r' % (a, b))
    e2e.expect(not stray, 'pings lost outside the stop window (%s): %r' % (log_stop, stray))
    e2e.expect(a is not None and a.t <= t_stop + SLACK_S and b.t >= t_cont,
               'the largest gap %.2f s is not the stop window (%s)' % (gap, log_stop))
    e2e.expect(g.init_count() == 1, 'the guest rebooted')

    # the 10 pings after cont took a few seconds: stray events had time to come
    evs = w.expect_sequence('vm1', ['running->suspended', 'suspended->running'],
                            since=t_stop, timeout=10, what='QMP stop, cont')
    e2e.log('vm1 phases: %s (cont at %+.2f s)' % (w.fmt(evs, t_stop), t_cont_cmd - t_stop))
    e2e.log('vm1 phase history (relative to stop):\n' + w.history('vm1', t_stop))
    if evs:                     # (not with the testpmd stand-in)
        susp, back = evs
        run.result(phase_suspended=susp['t'] - t_stop, phase_running=back['t'] - t_stop)
        e2e.expect(susp['t'] <= t_cont_cmd, 'running -> suspended %.2f s after stop, '
                   'after cont (%.2f s)' % (susp['t'] - t_stop, t_cont_cmd - t_stop))
        e2e.expect(back['t'] >= t_cont_cmd, 'suspended -> running %.2f s after stop, '
                   'before cont (%.2f s)' % (back['t'] - t_stop, t_cont_cmd - t_stop))
    w.stop()


if __name__ == '__main__':
    e2e.main('stopcont', scenario)
