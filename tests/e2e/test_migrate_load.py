#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Live migration under load: a guest receiving and sending bulk
TCP streams is migrated mid-stream between two gateways.

Guest A (not migrated) and guest B each serve SIZE_MIB of random data over
HTTP (busybox httpd) and download the other's in a loop (busybox wget), the
md5 of every transfer printed: B receives one stream and sends the other.
A and B start on gateway gw1, one vhostgw bridge [vmA, vmB, up0]; gateway
gw2 has [vmB, up0]; both up0 are net_tap ports in one Linux bridge of the
test's namespace, so after the migration A's and B's frames go gw1 -> tap
-> Linux bridge -> tap -> gw2. B migrates (QMP migrate to a QEMU started
with -incoming on gw2) while both streams are running, once its
uptime reached 15 s (QEMU 7.2 under TCG corrupts freshly booted migrated
guests whatever the back-end; see test_migrate.py and doc/e2e.rst).

Passes when: every transfer of both streams, before, across and after the
switch-over, completes with the md5 its server printed; a transfer was in
progress at the switch-over (B's download by timing: the migration starts
0.5 s into one, and a transfer takes about as long as a migration or
longer; A's download from B too unless it fell in the ~0.1 s between two,
which is logged); on each stream at least MORE_AFTER more transfers
started after the migration completed and completed with the right md5; no guest's console (kernel messages of
level warning and worse, loglevel=5) shows anything matching KLOG_BAD
(virtio, "not a head", soft lockup, BUG, Oops, general protection, Kernel
panic, WARNING), and the destination's own count of such lines in dmesg did
not grow; the destination did not boot; the phases of vmB on both gateways
are those of test_migrate.py.

test_onecopy_migrate.py runs it on one gateway whose bridge [vmA, vmB,
vmB2] has one_copy on: B migrates from vmB to vmB2 of the same gateway, and
every frame between A and B goes guest to guest in one copy, so the bytes B
receives are written into its memory by the gateway's own ring walker while
QEMU migrates it: a write missing from the dirty log corrupts a download.

Two knobs for usertools/vhostgw-migrate-soak, whose arms tell faults apart
(the CI test uses neither): VGW_MIGLOAD_TOPOLOGY=per-guest gives each guest
NIC a back-end of its own, its vhost-user port cross-connected to a net_tap
port in the namespace's Linux bridge (A on gwa, B on gw1 then gw2), the one
topology dpdk-testpmd's vhost PMD can stand in for (--backend testpmd: io
forwarding between its two ports, no phases watched);
VGW_MIGLOAD_NO_STATUS=1 has the gateways not offer F_STATUS (protocol
feature 16, disable_protocol_features: ["status"])."""

import os
import time

import vgw_e2e as e2e

SIZE_MIB = 32           # per transfer; a few seconds each under TCG
MORE_AFTER = 2          # transfers per stream started after the switch-over
MIGRATE_AFTER_UPTIME = 15.0
# kernel messages that fail the scenario wherever they appear: virtio_net's
# "output.0:id N is not a head!", lockups, BUG:, oopses, warnings
KLOG_BAD = (r'virtio|not a head|soft lockup|BUG|Oops|general protection|'
            r'Kernel panic|WARNING')
GET = r'VGW-GET seq=(\d+) rc=(\d+) md5=(\S+) secs=([\d.]+) klog=(\d+) up=([\d.]+)'
GET_START = r'VGW-GET-START seq=(\d+) up=([\d.]+)'


class Transfer:
    """One download: seq, host times of its start and end lines (None while
    running), rc, md5, the guest's own duration, klog count."""

    def __init__(self, seq, t_start):
        self.seq, self.t_start = seq, t_start
        self.t_end = self.rc = self.md5 = self.secs = self.klog = None

    def __repr__(self):
        return 'GET %d %s' % (self.seq, 'running' if self.t_end is None else
                              'rc=%s md5=%s %.1f s' % (self.rc, self.md5, self.secs))


def transfers(*guests):
    """The downloads of one guest (its consoles in order: source then
    destination), by seq."""
    out = {}
    for g in guests:
        for _, t, m in g.console.find(GET_START):
            out[int(m.group(1))] = Transfer(int(m.group(1)), t)
        for _, t, m in g.console.find(GET):
            x = out.setdefault(int(m.group(1)), Transfer(int(m.group(1)), None))
            x.t_end, x.rc, x.md5 = t, int(m.group(2)), m.group(3)
            x.secs, x.klog = float(m.group(4)), int(m.group(5))
    return [out[k] for k in sorted(out)]


def served_md5(g, timeout, size_mib=SIZE_MIB):
    m = g.wait(r'VGW-SERVE md5=(\S+) bytes=(\d+)', timeout, what='%s: SERVE' % g.name)
    e2e.expect(int(m.group(2)) == size_mib << 20, '%s serves %s bytes' % (g.name, m.group(2)))
    return m.group(1)


def klog_bad(g):
    """E2EError for the first bad kernel line on g's console, or None."""
    bad = g.console.find(KLOG_BAD)
    if not bad:
        return None
    i = bad[0][0]
    with g.console._cond:
        lines = [l for _, l in g.console.lines[i:i + 12]]
    return e2e.E2EError('%s guest kernel: %r%s; console from there:\n%s'
                        % (g.name, bad[0][2].string.strip(),
                           ' (QEMU %s exited: %s)' % (g.proc.name, g.proc.p.returncode)
                           if not g.proc.alive() else '',
                           '\n'.join('    | ' + l for l in lines)))


def expect_running(g):
    """g's kernel said nothing bad and QEMU runs it (query-status)."""
    time.sleep(0.3)
    err = klog_bad(g)
    if err:
        raise err
    try:
        st = g.qmp.cmd('query-status')['status']
    except (e2e.E2EError, OSError) as e:
        time.sleep(0.5)
        raise klog_bad(g) or e2e.E2EError('%s: QMP query-status: %s; QEMU log:\n%s\nconsole:\n%s'
                                          % (g.name, e, g.proc.tail(), g.console.tail()))
    e2e.expect(st == 'running', '%s is %s after the migration' % (g.name, st))


def check_stream(name, xs, md5):
    """Every completed transfer of the stream has rc 0 and the right md5."""
    for x in xs:
        if x.t_end is not None:
            e2e.expect(x.rc == 0 and x.md5 == md5,
                       '%s: transfer %d: rc=%s md5=%s, served md5=%s'
                       % (name, x.seq, x.rc, x.md5, md5))


def vnet(name):
    d = e2e.net(name)
    if os.environ.get('VGW_MIGLOAD_NO_STATUS') == '1':
        d['disable_protocol_features'] = ['status']
    return d


def scenario(run, topology=None):
    ns = run.netns('l')
    ns.bridge('br0', '10.77.5.1/24')
    topology = topology or os.environ.get('VGW_MIGLOAD_TOPOLOGY', 'bridge')
    e2e.expect(topology in ('bridge', 'per-guest', 'onecopy'),
               'VGW_MIGLOAD_TOPOLOGY=%s: bridge or per-guest' % topology)
    e2e.expect(topology == 'per-guest' or run.args.backend == 'vhostgw',
               'the %s stand-in needs VGW_MIGLOAD_TOPOLOGY=per-guest' % run.args.backend)
    e2e.log('topology %s, F_STATUS %s' % (
        topology, 'not offered' if os.environ.get('VGW_MIGLOAD_NO_STATUS') == '1'
        else 'offered'))
    # every worker on core 1, every control thread on core 0
    dst_dev = 'vmB'
    if topology == 'onecopy':
        # one gateway: B moves from its port vmB to vmB2 of the same
        # one-copy bridge; the bridge learns B's address there from its
        # first frame (its announce, or an ACK)
        gw1 = run.gateway('gw1', ns, [vnet('vmA'), vnet('vmB'), vnet('vmB2')],
                          [e2e.bridge('br1', ['vmA', 'vmB', 'vmB2'], one_copy=True)],
                          lcores='0@0,1@1')
        gwa = gw2 = gw1
        dst_dev = 'vmB2'
        for d in ('vmA', 'vmB', 'vmB2'):
            c = gw1.ctl('device', device=d)['device'].get('copy')
            e2e.expect(c == 'one', 'gw1 %s: copy %r, expected one' % (d, c))
    elif topology == 'bridge':
        gw1 = run.gateway('gw1', ns, [vnet('vmA'), vnet('vmB'), e2e.tap('up0', 'vgwtap0')],
                          [e2e.bridge('br1', ['vmA', 'vmB', 'up0'])], lcores='0@0,1@1')
        ns.enslave('vgwtap0', 'br0')
        gwa = gw1
        gw2 = run.gateway('gw2', ns, [vnet('vmB'), e2e.tap('up0', 'vgwtap1')],
                          [e2e.bridge('br2', ['vmB', 'up0'])], lcores='0@0,1@1')
        ns.enslave('vgwtap1', 'br0')
        # one copy is a bridge's default: guests and tap uplinks
        for g, devs in ((gw1, ('vmA', 'vmB', 'up0')), (gw2, ('vmB', 'up0'))):
            for d in devs:
                c = g.ctl('device', device=d)['device'].get('copy')
                e2e.expect(c == 'one', '%s %s: copy %r, expected one' % (g.name, d, c))
    else:
        gws = []
        for i, (name, dev) in enumerate((('gwa', 'vmA'), ('gw1', 'vmB'), ('gw2', 'vmB'))):
            gws.append(run.gateway(name, ns, [vnet(dev), e2e.tap('up0', 'vgwtap%d' % i)],
                                   [e2e.xconnect(dev, 'up0')], lcores='0@0,1@1'))
            ns.enslave('vgwtap%d' % i, 'br0')
        gwa, gw1, gw2 = gws
    w1 = e2e.Watch(gw1)                         # before any QEMU
    w2 = w1 if gw2 is gw1 else e2e.Watch(gw2)

    # kernel warnings and worse on the console (virtio_net's "not a head"
    # is an error, level 3)
    ka = 'loglevel=5'
    pa = dict(scenario='httpload', ip='10.77.5.2/24', peer='10.77.5.3', size=SIZE_MIB, get=1)
    pb = dict(scenario='httpload', ip='10.77.5.3/24', peer='10.77.5.2', size=SIZE_MIB, get=1)
    a = run.guest('a', [gwa.nic('vmA', e2e.mac(0x50))], kernel_args=ka, **pa)
    src = run.guest('src', [gw1.nic('vmB', e2e.mac(0x51))], kernel_args=ka, **pb)
    md5_a, md5_b = served_md5(a, 150), served_md5(src, 150)
    if run.args.backend == 'vhostgw':
        # what the knob asked for is what was negotiated (F_STATUS: bit 16)
        pf = gw1.ctl('device', device='vmB')['device']['protocol_features']
        want = os.environ.get('VGW_MIGLOAD_NO_STATUS') != '1'
        e2e.expect(bool(pf & (1 << 16)) == want, 'gw1 vmB negotiated protocol features %#x: '
                   'F_STATUS %s, want %s' % (pf, bool(pf & (1 << 16)), want))
        run.result(protocol_features='%#x' % pf)

    # wait for a completed transfer each way and B's uptime; then migrate
    # 0.5 s into B's next download, so that it usually spans the switch-over
    # (a transfer takes 4-14 s, a migration 2-5 s; else the next one does);
    # A's download from B is in progress too, unless it is in the ~0.1 s
    # between two
    end = time.monotonic() + 120
    armed = None
    while True:
        xa, xb = transfers(a), transfers(src)
        check_stream('B->A', xa, md5_b)
        check_stream('A->B', xb, md5_a)
        ups = [float(m.group(2)) for _, _, m in src.console.find(GET_START)]
        now = time.monotonic()
        if armed is None and any(x.t_end for x in xa) and any(x.t_end for x in xb) and \
                ups and ups[-1] >= MIGRATE_AFTER_UPTIME:
            armed = xb[-1].seq
        if armed is not None and xb[-1].seq > armed and now - xb[-1].t_start >= 0.5:
            break
        if now > end:
            raise e2e.E2EError('no download started after 15 s of uptime and a transfer each '
                               'way within 120 s: A %s, B %s' % (xa, xb))
        a.proc.check_alive()
        src.proc.check_alive()
        time.sleep(0.05)
    done = [x for x in xa + xb if x.t_end]
    e2e.log('before migration: A %s; B %s' % (xa, xb))
    run.result(transfer_s=max(x.secs for x in done),
               mbit_s=SIZE_MIB * 8.388608 / max(x.secs for x in done))

    uri = os.path.join(run.workdir, 'migrate.sock')
    dst = run.guest('dst', [gw2.nic(dst_dev, e2e.mac(0x51))], incoming=uri, kernel_args=ka,
                    **pb)
    t_mig = time.monotonic()
    r = e2e.migrate(src, dst, uri)
    t_done = time.monotonic()
    downtime = r.get('downtime', 0) / 1000.0
    e2e.log('migration completed: %.2f s, downtime %.0f ms' % (r['elapsed'], downtime * 1000))
    expect_running(dst)

    # the transfers in progress at the switch-over, and MORE_AFTER more
    t_switch = t_done - downtime - 0.2
    end = time.monotonic() + 30 + 40 * (MORE_AFTER + 1)
    while True:
        xa, xb = transfers(a), transfers(src, dst)
        for g in (dst, a):
            err = klog_bad(g)
            if err:
                raise err
        check_stream('B->A', xa, md5_b)
        check_stream('A->B', xb, md5_a)
        ok = True
        for xs in (xa, xb):
            after = [x for x in xs if x.t_start is not None and x.t_start > t_done and
                     x.t_end is not None]
            ok = ok and len(after) >= MORE_AFTER
        if ok:
            break
        if time.monotonic() > end:
            raise e2e.E2EError('transfers did not go on after the switch-over: A %s; B %s;\n'
                               'destination console:\n%s' % (xa, xb, dst.console.tail()))
        for g in (a, dst):
            if not g.proc.alive():
                time.sleep(0.5)         # the console's last lines
                raise klog_bad(g) or e2e.E2EError(
                    '%s: QEMU exited (%s); log:\n%s\nconsole:\n%s'
                    % (g.name, g.proc.p.returncode, g.proc.tail(), g.console.tail()))
        time.sleep(0.2)
    e2e.log('after migration: A %s; B %s' % (xa, xb))
    # the transfers in progress at the switch-over: B's download began on
    # the source's console and ended on the destination's; A's (from B)
    # began before the switch-over and ended after it (it had to end after
    # the migration completed: 1 soak run of 30 on QEMU 10.0 found no
    # transfer spanning, every transfer intact)
    src_seqs = [x.seq for x in transfers(src) if x.t_end is not None]
    span_ab = [x for x in xb if x.t_start < t_switch and x.seq not in src_seqs]
    span_ba = [x for x in xa if x.t_start < t_switch and x.t_end > t_switch]
    for name, span in (('A->B', span_ab), ('B->A', span_ba)):
        e2e.log('%s: %s' % (name, 'transfer %d (%.1f s) spans the switch-over'
                            % (span[0].seq, span[0].secs) if span else
                            'between two transfers at the switch-over'))
    e2e.expect(span_ab or span_ba, 'no transfer in progress at the switch-over: '
               'A %s; B %s' % (xa, xb))
    klog_before = max([x.klog for x in transfers(src) if x.t_end] or [0])
    klog_after = max(x.klog for x in transfers(dst) if x.t_end)
    e2e.expect(klog_after == klog_before, 'destination guest kernel log: %d lines matching %s, '
               '%d before the migration' % (klog_after, KLOG_BAD, klog_before))
    e2e.expect(dst.init_count() == 0, 'the destination guest booted instead of migrating')
    run.result(migration=r['elapsed'], downtime_ms=r.get('downtime', -1),
               span_ab=span_ab[0].seq if span_ab else 0, span_ba=span_ba[0].seq if span_ba else 0,
               transfers_ba=len([x for x in xa if x.t_end]),
               transfers_ab=len([x for x in xb if x.t_end]), klog=klog_after)

    t_quit = time.monotonic()
    src.quit()
    w1.expect_sequence('vmB', ['running->logging', 'logging->suspended', 'suspended->completed'],
                       since=t_mig, timeout=10, what='source, migration and quit')
    w2.expect_sequence(dst_dev, ['idle->connected', 'connected->running'],
                       timeout=10, what='destination, whole life')
    e2e.log('gw1 vmB: ' + w1.fmt(w1.events('vmB', since=t_mig), t_mig) +
            '; %s %s: ' % (gw2.name, dst_dev) + w2.fmt(w2.events(dst_dev), t_mig) +
            ' (relative to migrate; source quit at %+.2f s)' % (t_quit - t_mig))
    for g in (dst, a, src):
        err = klog_bad(g)
        if err:
            raise err
    if topology == 'onecopy':
        # B's frames went through the one-copy bridge on both sides of the
        # switch-over, and not one chain was refused
        st = {d: gw1.ctl('stats', device=d)['devices'][0] for d in ('vmA', 'vmB', 'vmB2')}
        for d in ('vmB', 'vmB2'):
            e2e.expect(st[d]['tx_packets'] > 0 and st[d]['rx_packets'] > 0,
                       'gw1 %s: tx_packets %d rx_packets %d, expected both to move'
                       % (d, st[d]['tx_packets'], st[d]['rx_packets']))
        bad = {d: s['malformed'] for d, s in st.items() if s['malformed']}
        e2e.expect(not bad, 'chains refused as malformed: %s' % bad)
        run.result(vmB_rx=st['vmB']['tx_packets'], vmB2_rx=st['vmB2']['tx_packets'],
                   drops_vmB=st['vmB']['drops'])
    w1.stop()
    if w2 is not w1:
        w2.stop()


if __name__ == '__main__':
    e2e.main('migrate_load', scenario)
