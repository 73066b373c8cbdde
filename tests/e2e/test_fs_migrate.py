#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs live migration between two gateways sharing the host directory
(QEMU 10.0: DEVICE_STATE). The guest appends numbered lines through one
descriptor held open, reads the whole file back through another and checks
its checksum, and iterates a directory through two more, a few entries per
step, while it migrates. Passes when the migration completes, no step
failed, the steps and directory passes continue on the destination (one
pass spanning the switch-over), the host file holds every line once and in
order, and the phases are, on the source, running -> logging -> suspended
-> saving -> saved (and -> completed when the source QEMU quits), on the
destination, its whole life, idle -> connected -> loading -> loaded ->
resumed, the load ending before the rings run there."""

import time

import vgw_e2e as e2e
import fsmig


def scenario(run):
    s = fsmig.Setup(run, 'fsm')
    s.wait_ready_to_migrate()
    dst = s.start_destination()
    t_mig = s.start_migration()
    r = s.wait_migration(t_mig, want='completed')
    t_done = time.monotonic()
    e2e.expect(dst.qmp.cmd('query-status')['status'] == 'running',
               'destination not running after migration')
    e2e.expect(s.src.qmp.cmd('query-status')['status'] == 'postmigrate',
               'source not in postmigrate')
    fsmig.wait_steps(dst, 30, t_done, 60, 'on the destination')
    e2e.expect(dst.init_count() == 0, 'the destination guest booted instead of migrating')
    # a whole pass of each descriptor on the destination
    end = time.monotonic() + 30
    while len(fsmig.passes(dst, 'a')) < 2 or len(fsmig.passes(dst, 'b')) < 2:
        e2e.expect(time.monotonic() < end, 'directory passes stopped on the destination')
        time.sleep(0.2)
    last_src, first_dst, spans = fsmig.check_continuity(s.src, dst)

    dst_evs = s.dst_w.expect_sequence('fs1', ['idle->connected', 'connected->loading',
                                              'loading->loaded', 'loaded->resumed'],
                                      timeout=10, what='destination, whole life')

    dev = s.dst_gw.ctl('device', device='fs1')['device']     # rings running
    s.dst_gw.save('device.json', dev)

    # the host file, with the guest stopped (its last write answered)
    t_stop = time.monotonic()
    dst.qmp.cmd('stop')
    time.sleep(0.3)
    all_steps = fsmig.steps(s.src) + fsmig.steps(dst)
    n = fsmig.check_host_log(s.shared, all_steps[-1].seq, extra_ok=1)
    dst_st = {d['name']: d for d in s.dst_gw.ctl('stats')['devices']}['fs1']
    e2e.expect(dst_st['errors'] == 0 and dst_st['malformed'] == 0,
               'destination fs1 counters: %s' % dst_st)
    dst.qmp.cmd('cont')
    fsmig.wait_steps(dst, 5, time.monotonic(), 30, 'on the destination after stop/cont')
    s.dst_w.expect_sequence('fs1', ['resumed->suspended', 'suspended->running'],
                            since=t_stop, timeout=10, what='destination, QMP stop/cont')

    t_quit = time.monotonic()
    s.src.quit()
    src_evs = s.src_w.expect_sequence('fs1', ['running->logging', 'logging->suspended',
                                              'suspended->saving', 'saving->saved',
                                              'saved->completed'],
                                      since=t_mig, timeout=10, what='source, migration and quit')
    e2e.log('source fs1: ' + s.src_w.fmt(src_evs, t_mig))
    e2e.log('destination fs1: ' + s.dst_w.fmt(dst_evs, t_mig))
    logging, suspended, saving, saved, completed = src_evs
    connected, loading, loaded, resumed = dst_evs
    e2e.expect(suspended['t'] <= saving['t'] <= saved['t'] <= loading['t'] + 5,
               'source phases out of order')
    e2e.expect(saved['t'] <= loaded['t'] <= resumed['t'],
               'destination loaded before the source saved, or ran before it loaded: %s / %s'
               % (s.src_w.fmt(src_evs, t_mig), s.dst_w.fmt(dst_evs, t_mig)))
    e2e.expect(completed['t'] >= t_quit, 'source completed before its QEMU quit')
    gaps = [b.t - a.t for a, b in zip(all_steps, all_steps[1:])]
    run.result(migration=r['elapsed'], total_time_ms=r.get('total-time', -1),
               downtime_ms=r.get('downtime', -1), steps=len(all_steps), host_lines=n,
               last_src_step=last_src, first_dst_step=first_dst,
               spanning=','.join('%s%d:%d' % sp for sp in spans), gap=max(gaps),
               dst_requests=dst_st['requests'], features='0x%x' % dev.get('features', 0),
               protocol_features='0x%x' % dev.get('protocol_features', 0),
               src_saved=saved['t'] - t_mig, dst_loaded=loaded['t'] - t_mig,
               dst_resumed=resumed['t'] - t_mig)
    s.src_w.stop()
    s.dst_w.stop()


if __name__ == '__main__':
    e2e.main('fs_migrate', scenario)
