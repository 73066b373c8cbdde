#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs live migration whose destination gateway is killed (SIGKILL)
in the middle of the device-state load (QEMU 10.0: DEVICE_STATE). The
destination gateway runs with the test-only VHOSTGW_TEST_FAULT=
load-delay-ms=5000 (it waits 5 s before it reads the incoming state), and
the test kills it as soon as its fs1 enters `loading`. The migration runs
with the return-path capability, so that the source hears the
destination's failure. Passes when the migration fails, the source VM runs
again (query-status running) with its mount working (the guest's appends,
checksummed read-backs and directory passes go on on the source, none
failed, the host file holds every line once and in order), and the
phases are, on the source, running -> logging -> suspended -> saving ->
saved -> running, and on the destination idle -> connected -> loading,
nothing after (it was killed)."""

import time

import vgw_e2e as e2e
import fsmig

LOAD_DELAY_MS = 5000


def scenario(run):
    s = fsmig.Setup(run, 'fsk',
                    dst_env={'VHOSTGW_TEST_FAULT': 'load-delay-ms=%d' % LOAD_DELAY_MS})
    s.wait_ready_to_migrate()
    dst = s.start_destination()
    t_mig = s.start_migration(return_path=True)
    t_loading = s.wait_phase(s.dst_w, 'fs1', 'loading', 60, 'destination gateway')
    t_kill = time.monotonic()
    s.dst_gw.kill()
    e2e.log('destination gateway killed %.3f s after its fs1 entered loading' % (t_kill - t_loading))
    r = s.wait_migration(t_mig, want='failed')
    t_failed = time.monotonic()
    e2e.log('migration failed: %s' % r.get('error-desc'))
    e2e.expect(t_kill < t_failed, 'the migration ended before the kill')
    # the mount works on: appends, read-backs, directory passes
    s.source_goes_on(t_failed)
    dst_alive = dst.proc.alive()
    e2e.expect(not dst_alive or dst.qmp.cmd('query-status')['status'] != 'running',
               'the destination VM runs')

    src_evs = s.src_w.expect_sequence('fs1', ['running->logging', 'logging->suspended',
                                              'suspended->saving', 'saving->saved',
                                              'saved->running'],
                                      since=t_mig, timeout=10,
                                      what='source, failed migration')
    dst_evs = s.dst_w.expect_sequence('fs1', ['idle->connected', 'connected->loading'],
                                      timeout=5, what='destination, killed while loading')
    e2e.log('source fs1: ' + s.src_w.fmt(src_evs, t_mig))
    e2e.log('source fs1 history:\n' + s.src_w.history('fs1', t_mig))
    e2e.log('destination fs1: ' + s.dst_w.fmt(dst_evs, t_mig))
    saved, back = src_evs[3], src_evs[4]
    e2e.expect('migration failed' in (back.get('reason') or ''),
               'source saved -> running without the failure in its reason: %r'
               % back.get('reason'))
    e2e.expect(saved['t'] <= t_kill + 0.5, 'source saved only after the kill')

    s.src.qmp.cmd('stop')
    time.sleep(0.3)
    steps = fsmig.steps(s.src)
    n = fsmig.check_host_log(s.shared, steps[-1].seq, extra_ok=1)
    s.expect_no_new_errors(s.src_gw, s.src_st0, 'source')
    s.src.qmp.cmd('cont')
    gaps = [b.t - a.t for a, b in zip(steps, steps[1:])]
    run.result(kill_after_loading=t_kill - t_loading, failed_after_kill=t_failed - t_kill,
               migration=r['elapsed'], steps=len(steps), host_lines=n, gap=max(gaps),
               src_running_again=back['t'] - t_mig,
               error='"%s"' % r.get('error-desc', ''))
    s.src_w.stop()


if __name__ == '__main__':
    e2e.main('fs_migrate_dstkill', scenario)
