#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs live migration whose source gateway is killed (SIGKILL) during
the precopy (QEMU 10.0: DEVICE_STATE). QEMU 10.0 cannot save the device
state of a back-end that is gone ("Save of field
vhost-user-fs-backend/back-end failed"), fails the migration and resumes the
VM on the source, whose back-end is gone: its mount hangs (QEMU never
reconnects a vhost-user-fs back-end; QEMU >= 10.1 fails such a migration
earlier, seed 000). What the gateways must get right, and this checks:
the migration fails and the source VM runs again (query-status running);
the destination gateway's session never loaded anything
(idle -> connected -> idle) and nothing in the share changed after the
kill (every path's type, size and mtime), the host file holding whole
lines seq=1..N in order with N the guest's last answered append (or one
more, in flight at the kill); and a gateway restarted on the same socket
serves cleanly: a new guest mounts the share and runs the same appends,
read-backs and directory passes without an error, its phases
idle -> connected -> running."""

import os
import time

import vgw_e2e as e2e
import fsmig


def scenario(run):
    s = fsmig.Setup(run, 'fss')
    s.wait_ready_to_migrate()
    dst = s.start_destination()
    # a precopy of seconds (at 1 GiB/s it takes 0.5-1.3 s here: the kill
    # 0.5 s into it could find it over on a fast machine)
    t_mig = s.start_migration(bandwidth=16 << 20)
    s.wait_phase(s.src_w, 'fs1', 'logging', 30, 'source gateway')
    time.sleep(0.5)                     # into the precopy
    e2e.expect(s.src.qmp.cmd('query-migrate').get('status') == 'active',
               'the migration is not in its precopy when the source gateway is killed')
    t_kill = time.monotonic()
    s.src_gw.kill()
    snap = fsmig.share_snapshot(s.shared)
    last_ok = max((x.seq for x in fsmig.steps(s.src) if x.ok), default=0)
    r = s.wait_migration(t_mig, want='failed')
    t_failed = time.monotonic()
    err = r.get('error-desc', '')
    qlog = fsmig.qemu_log(s.src)
    e2e.log('migration failed %.2f s after the kill: %s' % (t_failed - t_kill, err))
    e2e.expect('vhost-user-fs-backend' in err + qlog,
               'the migration did not fail on the vhost-user-fs back-end state: %r; '
               'source QEMU:\n%s' % (err, s.src.proc.tail()))
    st = s.src.qmp.cmd('query-status')['status']
    e2e.expect(st == 'running', 'source VM %s after the failed migration, not running' % st)

    # the destination QEMU gives up on the cut stream; its gateway's session
    # ends without a load
    end = time.monotonic() + 30
    while dst.proc.alive():
        e2e.expect(time.monotonic() < end, 'the destination QEMU still runs after the '
                   'migration failed')
        time.sleep(0.1)
    dst_evs = s.dst_w.expect_sequence('fs1', ['idle->connected', 'connected->idle'],
                                      timeout=10, what='destination, migration never loaded')
    e2e.log('destination fs1: ' + s.dst_w.fmt(dst_evs, t_mig))
    time.sleep(1.0)
    after = fsmig.share_snapshot(s.shared)
    changed = sorted(k for k in set(snap) | set(after) if snap.get(k) != after.get(k))
    e2e.expect(not changed, 'the share changed after the source gateway was killed: %s'
               % ', '.join('%s %s -> %s' % (k, snap.get(k), after.get(k)) for k in changed[:5]))
    n = fsmig.check_host_log(s.shared, last_ok, extra_ok=1)
    src_after = [x for x in fsmig.steps(s.src) if x.t > t_kill + 0.5]
    bad = [x for x in fsmig.steps(s.src) if not x.ok]
    e2e.expect(not bad, 'failed steps on the source: %r' % bad[:5])

    # a gateway restarted on the same socket serves a new front-end cleanly
    t_restart = time.monotonic()
    s.src_gw.start()
    w2 = e2e.Watch(s.src_gw)
    g2 = run.guest('g2', [], fs=[s.fs_spec(s.src_gw)], scenario='fsmig', mount=fsmig.TAG,
                   log='after', dir='dir2', entries=50, interval_ms=fsmig.INTERVAL_MS)
    fsmig.wait_steps(g2, 20, 0.0, 90, 'new guest on the restarted gateway')
    end = time.monotonic() + 30
    while not (fsmig.passes(g2, 'a') and fsmig.passes(g2, 'b')):
        e2e.expect(time.monotonic() < end, 'no directory passes on the restarted gateway')
        time.sleep(0.2)
    bad = [p for p in fsmig.passes(g2) if not p.ok or p.entries != 50]
    e2e.expect(not bad, 'directory passes on the restarted gateway: %r' % bad[:5])
    evs2 = w2.expect_sequence('fs1', ['idle->connected', 'connected->running'], timeout=10,
                              what='restarted gateway, new guest')
    t_stop = time.monotonic()
    g2.qmp.cmd('stop')
    time.sleep(0.3)
    g2_steps = fsmig.steps(g2)
    e2e.expect(all(x.ok for x in g2_steps), 'failed steps on the restarted gateway')
    n2 = fsmig.check_host_log(s.shared, g2_steps[-1].seq, extra_ok=1, name='after')
    e2e.expect(fsmig.host_lines(s.shared) == ['seq=%d' % i for i in range(1, n + 1)] + [''],
               'the old host file changed while the new guest ran')
    st2 = {d['name']: d for d in s.src_gw.ctl('stats')['devices']}['fs1']
    e2e.expect(st2['malformed'] == 0, 'restarted gateway fs1 counters: %s' % st2)
    g2.qmp.cmd('cont')
    fsmig.wait_steps(g2, 5, time.monotonic(), 30, 'new guest after stop/cont')
    w2.expect_sequence('fs1', ['running->suspended', 'suspended->running'], since=t_stop,
                       timeout=10, what='restarted gateway, QMP stop/cont')
    e2e.log('restarted gateway fs1: ' + w2.fmt(evs2, t_restart))
    e2e.expect(os.path.isdir(os.path.join(s.shared, 'dir2')), 'dir2 not on the host')
    run.result(failed_after_kill=t_failed - t_kill, migration=r['elapsed'],
               last_ok_before_kill=last_ok, host_lines=n, src_steps_after_kill=len(src_after),
               new_guest_steps=len(g2_steps), new_guest_host_lines=n2,
               error='"%s"' % err)
    w2.stop()
    s.dst_w.stop()


if __name__ == '__main__':
    e2e.main('fs_migrate_srckill', scenario)
