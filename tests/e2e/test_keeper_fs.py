#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs under vhostgw-keeper: the gateway is killed with SIGKILL 5 times
while the guest appends numbered lines through one descriptor held open,
reads the whole file back through another and checks its checksum, and
iterates a directory through two more (guest-init.sh's scenario fsmig).
QEMU never reconnects a vhost-user-fs back-end: without the keeper the
mount would hang for good. Passes when no guest step fails, no step waits
more than 2 s across a kill, the directory passes go on, the host file holds
every line once and in order, the device is resumed in every new gateway
(it took the dead one's session over: node ids, file handles, requests in
flight), and the guest was not reset. Then the gateway is upgraded to a
copy of its binary (vhostgw-ctl upgrade) mid-workload, with no error."""

import os
import shutil
import subprocess
import sys
import time

import vgw_e2e as e2e
import fsmig

KILLS = int(os.environ.get('VGW_KEEPER_KILLS', '5'))  # usertools/vhostgw-keeper-soak: 100
MAX_STALL_S = 2.0


def kill_once(gw, g, i):
    n = len(gw.replays('fs1'))
    gw.kill_gateway()
    t_kill = time.monotonic()
    end = t_kill + 20
    while len(gw.replays('fs1')) <= n:
        gw.proc.check_alive()
        e2e.expect(time.monotonic() < end, 'kill %d: no replay within 20 s; keeper log:\n%s'
                   % (i, gw.proc.tail()))
        time.sleep(0.02)
    fsmig.wait_steps(g, 10, time.monotonic(), 30, 'after kill %d' % i)
    ph = gw.ctl('device', device='fs1')['device']['phase']
    e2e.expect(ph == 'resumed', 'kill %d: fs1 is %s in the new gateway' % (i, ph))
    return t_kill


def upgrade(run, gw, g):
    """vhostgw-ctl upgrade to a copy of the binary mid-workload."""
    copy = os.path.join(run.workdir, 'vhostgw-new')
    shutil.copy(run.args.vhostgw, copy)
    n = len(gw.replays('fs1'))
    ctl = os.path.join(fsmig.HERE, '..', '..', 'usertools', 'vhostgw-ctl')
    r = subprocess.run([sys.executable, ctl, '-s', gw.control_socket, 'upgrade', '--binary',
                        copy], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    e2e.expect(r.returncode == 0, 'vhostgw-ctl upgrade: %s' % r.stdout.decode(errors='replace'))
    t0 = time.monotonic()
    while len(gw.replays('fs1')) <= n:
        e2e.expect(time.monotonic() < t0 + 60, 'the upgraded gateway was not replayed')
        time.sleep(0.05)
    fsmig.wait_steps(g, 10, time.monotonic(), 30, 'after the upgrade')
    k = gw.ctl('keeper')['keeper']
    e2e.expect(k['last_exit'] == 'upgraded', 'after the upgrade: %s' % k)
    e2e.log('upgrade to %s: replayed %.1f s after the request' % (copy, time.monotonic() - t0))


def scenario(run):
    run.add_guest_program('vgw-fsmig', os.path.join(fsmig.HERE, 'vgw-fsmig.c'))
    shared = os.path.join(run.workdir, 'shared')
    os.makedirs(shared)
    ns = run.netns('kf')
    gw = run.gateway('gw', ns, [e2e.fs('fs1', shared, fsmig.TAG)], [],
                     keeper=['--stable-ms', '500'])
    g = run.guest('g1', [], fs=[{'socket': gw.socket('fs1'), 'tag': fsmig.TAG}],
                  scenario='fsmig', mount=fsmig.TAG, entries=fsmig.ENTRIES,
                  interval_ms=fsmig.INTERVAL_MS)
    fsmig.wait_steps(g, 20, 0.0, 120, 'before the first kill')
    kills = []
    for i in range(KILLS):
        kills.append(kill_once(gw, g, i))
        time.sleep(1.0)
    upgrade(run, gw, g)
    end = time.monotonic() + 30
    while len(fsmig.passes(g, 'a')) < 2 or len(fsmig.passes(g, 'b')) < 2:
        e2e.expect(time.monotonic() < end, 'directory passes stopped')
        time.sleep(0.2)
    bad_passes = [p for p in fsmig.passes(g) if not p.ok]
    e2e.expect(not bad_passes, 'directory passes failed: %r' % bad_passes[:3])
    steps = fsmig.steps(g)
    bad = [s for s in steps if not s.ok]
    e2e.expect(not bad, 'guest steps failed: %r' % bad[:5])
    gaps = [(b.t - a.t, a, b) for a, b in zip(steps, steps[1:])]
    worst = max(gaps, key=lambda x: x[0])
    e2e.log('longest wait between two steps: %.2f s (%r -> %r)' % worst)
    e2e.expect(worst[0] <= MAX_STALL_S, 'a step waited %.2f s (%r -> %r)' % worst)
    # the host file, with the guest stopped (its last write answered)
    g.qmp.cmd('stop')
    time.sleep(0.3)
    steps = fsmig.steps(g)
    n = fsmig.check_host_log(shared, steps[-1].seq, extra_ok=1)
    g.qmp.cmd('cont')
    e2e.expect(g.init_count() == 1, 'the guest was reset')
    out = gw.keeper_log()
    e2e.expect(out.count('device fs1: front-end connected (') == 1 and
               'front-end connection closed' not in out, 'the front-end connection was not kept')
    rec = gw.replays('fs1')
    run.result(kills=KILLS, steps=len(steps), host_lines=n, worst_step_gap_s=worst[0],
               recovery_ms_median=sorted(rec)[len(rec) // 2], recovery_ms_max=max(rec))


if __name__ == '__main__':
    e2e.main('keeper_fs', scenario)
