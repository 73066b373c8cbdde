#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs across QMP stop / cont: the guest appends numbered lines to a
file through one descriptor held open the whole time and reads the count
back through the mount. The VM is stopped for 3 s and continued: the
appends go on through the same descriptor (the FUSE session, its node ids
and handles survive: same front-end connection, no new INIT), no line is
lost or doubled on the host, the gateway's fs1 goes running -> suspended ->
running, and no request fails across it."""

import os
import re
import time

import vgw_e2e as e2e

STOP_S = 3.0


def steps(g):
    """(seq, ok, lines, host time) of every VGW-FSLOOP line so far."""
    return [(int(m.group(1)), m.group(2) == '1', int(m.group(3)), t)
            for _, t, m in g.console.find(r'VGW-FSLOOP seq=(\d+) ok=([01]) lines=(\d+)')]


def wait_steps(g, n, after, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        good = [s for s in steps(g) if s[1] and s[3] > after]
        if len(good) >= n:
            return good
        time.sleep(0.2)
    raise e2e.E2EError('%s: fewer than %d good steps in %.0f s: %r'
                       % (what, n, timeout, steps(g)[-5:]))


def scenario(run):
    shared = os.path.join(run.workdir, 'shared')
    os.makedirs(shared)
    ns = run.netns('fsc')
    gw = run.gateway('gw', ns, [e2e.fs('fs1', shared, 'myfs')], [])
    w = e2e.Watch(gw)           # before the guest connects: fs1's whole history
    g = run.guest('g1', [], fs=[{'socket': gw.socket('fs1'), 'tag': 'myfs'}],
                  scenario='fsloop', mount='myfs')
    wait_steps(g, 10, 0.0, 120, 'before stop')
    before = gw.ctl('device', device='fs1')['device']
    # (the guest's first LOOKUP of log, say, answers ENOENT: errors before
    # the stop are the guest's business; across it, none may be added)
    st0 = {d['name']: d for d in gw.ctl('stats')['devices']}['fs1']

    t_stop = time.monotonic()
    g.qmp.cmd('stop')
    e2e.expect(g.qmp.cmd('query-status')['status'] == 'paused', 'guest not paused')
    time.sleep(STOP_S)
    t_cont = time.monotonic()
    g.qmp.cmd('cont')
    wait_steps(g, 10, t_cont, 60, 'after cont')

    after = gw.ctl('device', device='fs1')['device']
    st = {d['name']: d for d in gw.ctl('stats')['devices']}['fs1']
    got = steps(g)
    bad = [s for s in got if not s[1]]
    e2e.expect(not bad, 'steps that failed (append or read back): %r' % bad[:5])
    with open(os.path.join(shared, 'log')) as f:
        lines = f.read().splitlines()
    want = ['seq=%d' % i for i in range(1, len(lines) + 1)]
    e2e.expect(lines == want and len(lines) >= got[-1][0],
               'the host file: %d lines, not seq=1..%d in order (first difference: %r)'
               % (len(lines), got[-1][0],
                  next(((a, b) for a, b in zip(lines, want) if a != b), None)))
    e2e.expect(after['connects'] == before['connects'] == 1 and after['disconnects'] == 0,
               'the front-end reconnected: %s -> %s' % (before, after))
    e2e.expect(st['errors'] == st0['errors'] and st['malformed'] == 0,
               'fs1 counters: %s, before the stop %s' % (st, st0))
    e2e.expect(g.init_count() == 1, 'the guest rebooted')
    evs = w.expect_sequence('fs1', ['running->suspended', 'suspended->running'],
                            since=t_stop, timeout=10, what='QMP stop, cont')
    gap = max((b[3] - a[3] for a, b in zip(got, got[1:])), default=0.0)
    run.result(steps=len(got), host_lines=len(lines), stop_window=t_cont - t_stop,
               gap=gap, requests=st['requests'])
    e2e.log('fs1 phases: %s' % w.fmt(evs, t_stop))
    w.stop()


if __name__ == '__main__':
    e2e.main('fs_stopcont', scenario)
