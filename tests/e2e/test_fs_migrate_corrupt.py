#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs live migration with a corrupted device state (QEMU 10.0:
DEVICE_STATE). The destination gateway runs with the test-only
VHOSTGW_TEST_FAULT=state-corrupt: it flips one byte in the middle of the
incoming state stream after reading it and before parsing it. The
migration runs with the return-path capability, so that the source hears
the destination's failure. Passes when the destination refuses the load
(its log names the damage; CHECK_DEVICE_STATE answered with an error), the
migration fails, the source VM runs again with its mount working (the
guest's appends, checksummed read-backs and directory passes go on, none
failed, the host file holds every line once and in order), nothing of the
refused session stays on the destination, and the phases are, on the
source, running -> logging -> suspended -> saving -> saved -> running, on
the destination idle -> connected -> loading -> failed -> idle."""

import re
import time

import vgw_e2e as e2e
import fsmig


def scenario(run):
    s = fsmig.Setup(run, 'fsc', dst_env={'VHOSTGW_TEST_FAULT': 'state-corrupt'})
    s.wait_ready_to_migrate()
    dst = s.start_destination()
    t_mig = s.start_migration(return_path=True)
    r = s.wait_migration(t_mig, want='failed')
    t_failed = time.monotonic()
    e2e.log('migration failed: %s' % r.get('error-desc'))
    s.source_goes_on(t_failed)

    # the destination QEMU gives up on a failed load and exits
    end = time.monotonic() + 20
    while dst.proc.alive():
        e2e.expect(time.monotonic() < end, 'the destination QEMU still runs after a failed load')
        time.sleep(0.1)
    src_evs = s.src_w.expect_sequence('fs1', ['running->logging', 'logging->suspended',
                                              'suspended->saving', 'saving->saved',
                                              'saved->running'],
                                      since=t_mig, timeout=10,
                                      what='source, failed migration')
    dst_evs = s.dst_w.expect_sequence('fs1', ['idle->connected', 'connected->loading',
                                              'loading->failed', 'failed->idle'],
                                      timeout=10, what='destination, state refused')
    e2e.log('source fs1: ' + s.src_w.fmt(src_evs, t_mig))
    e2e.log('destination fs1: ' + s.dst_w.fmt(dst_evs, t_mig))
    e2e.log('destination fs1 history:\n' + s.dst_w.history('fs1', t_mig))
    fail_ev = dst_evs[2]
    e2e.expect(fail_ev.get('input') == 'check-fail',
               'destination failed on %r, not on CHECK_DEVICE_STATE' % fail_ev.get('input'))
    e2e.expect('migration failed' in (src_evs[4].get('reason') or ''),
               'source saved -> running without the failure in its reason: %r'
               % src_evs[4].get('reason'))
    with open(s.dst_gw.proc.log_path, errors='replace') as f:
        gwlog = f.read()
    m = re.search(r'fs1: device state load failed: (.*)', gwlog)
    e2e.expect(m and 'test fault: byte' in gwlog,
               'the destination gateway does not say why it refused the state:\n%s'
               % s.dst_gw.proc.tail(30))
    e2e.expect(re.search(r'fs1: device state check: (?!ok)', gwlog),
               'the destination did not answer CHECK_DEVICE_STATE with an error')
    dev = s.dst_gw.ctl('device', device='fs1')['device']
    e2e.expect(not dev['connected'] and dev['phase'] == 'idle',
               'destination fs1 after the refused load: %s' % dev)

    s.src.qmp.cmd('stop')
    time.sleep(0.3)
    steps = fsmig.steps(s.src)
    n = fsmig.check_host_log(s.shared, steps[-1].seq, extra_ok=1)
    s.expect_no_new_errors(s.src_gw, s.src_st0, 'source')
    s.src.qmp.cmd('cont')
    run.result(migration=r['elapsed'], steps=len(steps), host_lines=n,
               dst_failed=fail_ev['t'] - t_mig, src_running_again=src_evs[4]['t'] - t_mig,
               reason='"%s"' % m.group(1).strip(), error='"%s"' % r.get('error-desc', ''))
    s.src_w.stop()
    s.dst_w.stop()


if __name__ == '__main__':
    e2e.main('fs_migrate_corrupt', scenario)
