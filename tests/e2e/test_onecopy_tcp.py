#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two guests on a one-copy xconnect (one_copy on: each frame moved from one
guest's transmit buffers into the other's receive buffers by the gateway's
own ring walker, lib/net/net_oc.c). Each guest serves 16 MiB of random data
over HTTP (busybox httpd) and downloads the other's 3 times at once, both
ways over TCP: every download's md5 equals what the peer served, no
transfer fails, the guests' kernels log no virtio error, both devices show
copy "one", their counters moved at least the bytes downloaded and no
descriptor chain was refused. Linux's virtio-net driver brings what
testpmd's does not: indirect descriptors, the event index, and the
offloads (on by default on a one-copy link): both guests negotiate
checksum and TSO both ways, and TCP segments of more than one MTU go guest
to guest whole (the gso_passed counter moved, the mean frame is larger
than an MTU), with no checksum or segmentation done in the gateway."""

import time

import vgw_e2e as e2e
import test_migrate_load as ml

SIZE_MIB = 16
COUNT = 3
# virtio-net feature bits both guests must have negotiated
OFFLOADS = [('CSUM', 0), ('GUEST_CSUM', 1), ('GUEST_TSO4', 7), ('GUEST_TSO6', 8),
            ('HOST_TSO4', 11), ('HOST_TSO6', 12)]


def scenario(run, vm2_offloads=True, queues=1):
    """vm2_offloads False: vm2 is offered no offload, so every TSO frame
    vm1 sends is segmented and checksummed in the gateway
    (test_onecopy_tcpsw.py). queues: queue pairs of both devices and NICs
    (test_onecopy_tcpmq.py): a guest of one vCPU enables one, the
    frames go on pair 0 only."""
    ns = run.netns('oc')
    vm2 = e2e.net('vm2', queues=queues)
    if not vm2_offloads:
        vm2['offloads'] = False
    gw = run.gateway('gw', ns, [e2e.net('vm1', queues=queues), vm2],
                     [e2e.xconnect('vm1', 'vm2', one_copy=True)], lcores='0@0,1@1')
    ips = ['10.77.9.2', '10.77.9.3']
    guests = [run.guest('g%d' % (i + 1), [gw.nic('vm%d' % (i + 1), e2e.mac(0x60 + i))],
                        kernel_args='loglevel=5', scenario='httpload',
                        ip=ips[i] + '/24', peer=ips[1 - i], size=SIZE_MIB, get=1, count=COUNT)
              for i in range(2)]
    md5 = [ml.served_md5(g, 150, SIZE_MIB) for g in guests]
    for d in ('vm1', 'vm2'):
        dev = gw.ctl('device', device=d)['device']
        e2e.expect(dev.get('copy') == 'one', '%s: copy %r, not one' % (d, dev.get('copy')))
        on = d == 'vm1' or vm2_offloads
        e2e.expect(dev.get('offloads') is on, '%s: offloads %r' % (d, dev.get('offloads')))
        if queues > 1:
            # the NIC has the pairs (VIRTIO_NET_F_MQ, 22), the gateway a task each
            e2e.expect((dev['features'] >> 22) & 1 and dev['active_queues'] == queues,
                       '%s: features 0x%x, %d active queues: not a NIC of %d pairs'
                       % (d, dev['features'], dev['active_queues'], queues))
        missing = [n for n, b in OFFLOADS if not (dev['features'] >> b) & 1]
        e2e.expect(not missing if on else len(missing) == len(OFFLOADS),
                   '%s: features 0x%x lack %s' % (d, dev['features'], missing))
    t0 = time.monotonic()
    end = t0 + 240
    while True:
        done = [ml.transfers(g) for g in guests]
        for i, xs in enumerate(done):
            bad = [x for x in xs if x.t_end is not None and
                   (x.rc != 0 or x.md5 != md5[1 - i] or x.klog != 0)]
            e2e.expect(not bad, '%s: downloads that failed or differ from what %s served '
                       '(%s): %r' % (guests[i].name, guests[1 - i].name, md5[1 - i], bad))
            err = ml.klog_bad(guests[i])
            if err:
                raise err
        if all(len([x for x in xs if x.t_end is not None]) >= COUNT for xs in done):
            break
        e2e.expect(time.monotonic() < end, 'downloads not done within 240 s: %r' % done)
        for g in guests:
            g.proc.check_alive()
        time.sleep(0.5)
    secs = [x.secs for xs in done for x in xs]
    st = {d['name']: d for d in gw.ctl('stats')['devices']}
    want = COUNT * (SIZE_MIB << 20)
    for d in ('vm1', 'vm2'):
        e2e.expect(st[d]['tx_bytes'] >= want and st[d]['rx_bytes'] >= want,
                   '%s counted rx %d tx %d bytes, fewer than %d downloaded each way'
                   % (d, st[d]['rx_bytes'], st[d]['tx_bytes'], want))
        e2e.expect(st[d].get('malformed') == 0, '%s: %s chains refused' %
                   (d, st[d].get('malformed')))
        qs = [(q['rx_bytes'], q['tx_bytes']) for q in st[d]['queues']]
        e2e.expect(len(qs) == queues and qs[0][0] >= want and qs[0][1] >= want and
                   all(q == (0, 0) for q in qs[1:]),
                   '%s: bytes per queue pair (rx, tx) %r: expected all on pair 0 of %d'
                   % (d, qs, queues))
        ol = st[d]['offload']
        mean = st[d]['rx_bytes'] / max(st[d]['rx_packets'], 1)
        if vm2_offloads:
            e2e.expect(ol['gso_passed'] > 0 and ol['gso_segmented'] == 0 and
                       ol['csum_done'] == 0, '%s: offload counters %r: TSO frames not passed '
                       'whole, or work done in the gateway' % (d, ol))
        elif d == 'vm1':
            # vm1's TSO frames reach vm2 as segments made here
            e2e.expect(ol['gso_passed'] == 0 and ol['gso_segmented'] > 0 and
                       ol['segments'] > ol['gso_segmented'],
                       'vm1: offload counters %r: its TSO frames not segmented here' % ol)
        else:
            e2e.expect(ol == {k: 0 for k in ol}, 'vm2 asked for offloads: %r' % ol)
        if d == 'vm1' or vm2_offloads:
            e2e.expect(mean > 1514, '%s sent %d frames of %.0f bytes on average: no TSO'
                       % (d, st[d]['rx_packets'], mean))
    run.result(transfers=2 * COUNT, mib_each=SIZE_MIB, secs_median=sorted(secs)[len(secs) // 2],
               drops=st['vm1']['drops'] + st['vm2']['drops'],
               gso_passed=st['vm1']['offload']['gso_passed'] + st['vm2']['offload']['gso_passed'],
               gso_segmented=st['vm1']['offload']['gso_segmented'],
               segments=st['vm1']['offload']['segments'],
               mean_frame=round((st['vm1']['rx_bytes'] + st['vm2']['rx_bytes']) /
                                max(st['vm1']['rx_packets'] + st['vm2']['rx_packets'], 1)))


if __name__ == '__main__':
    e2e.main('onecopy_tcp', scenario)
