#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs: a guest mounts a host directory served by vhostgw and runs
file operations (write and read back, mkdir, rename, link, symlink, chmod,
truncate, unlink, rmdir, a directory of many entries, concurrent writers);
their effects are checked on the host, and a host file is read in the
guest."""

import hashlib
import os
import stat

import vgw_e2e as e2e

FILES = 10000


def scenario(run):
    shared = os.path.join(run.workdir, 'shared')
    os.makedirs(shared)
    with open(os.path.join(shared, 'from-host'), 'w') as f:
        f.write('written on the host\n')
    ns = run.netns('fs')
    gw = run.gateway('gw', ns, [e2e.fs('fs1', shared, 'myfs')], [])
    g = run.guest('g1', [], fs=[{'socket': gw.socket('fs1'), 'tag': 'myfs'}],
                  scenario='fsops', mount='myfs', files=FILES)
    t_ready = g.wait_line(r'VGW-FS tag=', 120, what='virtio-fs mounted')[1]
    m = g.wait(r'VGW-FS md5=(\w+)', 120, what='write and read back')
    t_data = g.wait_line(r'VGW-FS md5=', 1)[1]
    r = g.wait(r'VGW-FS readdir=(\d+)', 300, what='directory of many entries')
    t_many = g.wait_line(r'VGW-FS readdir=', 1)[1]
    g.wait(r'VGW-FS ops=ok', 60, what='the remaining operations')
    with open(os.path.join(shared, 'data'), 'rb') as f:
        host_md5 = hashlib.md5(f.read()).hexdigest()
    e2e.expect(host_md5 == m.group(1), 'the host sees md5 %s, the guest wrote %s'
               % (host_md5, m.group(1)))
    e2e.expect(int(r.group(1)) == FILES and len(os.listdir(os.path.join(shared, 'many')))
               == FILES, 'many: %s entries' % r.group(1))
    d2 = os.path.join(shared, 'd2')
    e2e.expect(not os.path.exists(os.path.join(shared, 'd1')) and os.path.isdir(d2),
               'rename d1 -> d2 not visible on the host')
    with open(os.path.join(d2, 'f')) as f:
        e2e.expect(f.read() == 'hel', 'd2/f content on the host')
    e2e.expect(stat.S_IMODE(os.stat(os.path.join(d2, 'f')).st_mode) == 0o640, 'chmod 640')
    e2e.expect(os.readlink(os.path.join(d2, 'sym')) == 'f', 'symlink target')
    e2e.expect(not os.path.exists(os.path.join(d2, 'hard')), 'unlink')
    e2e.expect(not os.path.exists(os.path.join(shared, 'd3')), 'rmdir')
    for n, c in (('conc1', 'a\n'), ('conc2', 'b\n')):
        with open(os.path.join(shared, n)) as f:
            e2e.expect(f.read() == c, 'concurrent writer %s' % n)
    st = {d['name']: d for d in gw.ctl('stats')['devices']}['fs1']
    gw.save('stats.json', st)
    # the guest's driver takes EVENT_IDX: it says when it wants an
    # interrupt (used_event), and everything above ran that way
    feat = gw.ctl('device', device='fs1')['device']['features']
    e2e.expect(feat & (1 << 29), 'VIRTIO_RING_F_EVENT_IDX not negotiated: features %#x' % feat)
    run.result(mount=t_ready - g.t_start, data_4mib=t_data - t_ready,
               create_and_list=t_many - t_data, requests=st['requests'],
               errors=st['errors'])
    e2e.expect(st['requests'] > FILES and st['malformed'] == 0,
               'gateway fs counters: %s' % st)


if __name__ == '__main__':
    e2e.main('fs', scenario)
