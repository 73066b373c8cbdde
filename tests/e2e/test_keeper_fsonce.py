#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs under vhostgw-keeper, operations that must not be done twice:
the guest runs 40 rounds of mkdir, create, link, symlink, rename, chmod,
unlink and rmdir, each checked, while the gateway kills itself after every
23rd recorded outcome, after the host operation and before its used entry
(VHOSTGW_TEST_FAULT=fs-crash-every=23, tests only). Every new gateway takes
the request left in flight again and answers it with the recorded reply
instead of doing it again: no operation fails in the guest (a MKDIR done
twice would be EEXIST, an UNLINK ENOENT), the host tree is what the
operations make, once each, and the guest was not reset."""

import os
import re
import stat
import time

import vgw_e2e as e2e

ROUNDS = 40
EVERY = 23


def check_tree(shared):
    want = {'d%d' % i for i in range(1, ROUNDS + 1)}
    got = set(os.listdir(shared))
    e2e.expect(got == want, 'share holds %s' % sorted(got ^ want)[:10])
    for i in range(1, ROUNDS + 1):
        d = os.path.join(shared, 'd%d' % i)
        names = sorted(os.listdir(d))
        e2e.expect(names == ['g'], '%s holds %s, not [g]' % (d, names))
        g = os.path.join(d, 'g')
        st = os.lstat(g)
        e2e.expect(stat.S_IMODE(st.st_mode) == 0o600 and st.st_nlink == 1,
                   '%s: mode %o, %d links' % (g, stat.S_IMODE(st.st_mode), st.st_nlink))
        with open(g) as f:
            data = f.read()
        e2e.expect(data == 'r%d\n' % i, '%s holds %r' % (g, data))


def scenario(run):
    shared = os.path.join(run.workdir, 'shared')
    os.makedirs(shared)
    ns = run.netns('ko')
    gw = run.gateway('gw', ns, [e2e.fs('fs1', shared, 'myfs')], [],
                     keeper=['--stable-ms', '0'],
                     env={'VHOSTGW_TEST_FAULT': 'fs-crash-every=%d' % EVERY})
    g = run.guest('g1', [], fs=[{'socket': gw.socket('fs1'), 'tag': 'myfs'}],
                  scenario='fsonce', mount='myfs', count=ROUNDS)
    m = g.wait(r'VGW-FSONCE done=(\d+) fails=(\d+)', 150, what='the operations')
    fails = [x.group(0) for _, _, x in g.console.find(r'VGW-FSONCE-FAIL op=\S+ i=\d+')]
    out = gw.keeper_log()
    crashes = len(re.findall(r'gateway \d+ \(pid \d+\) killed by signal 9', out))
    resubmitted = sum(int(x) for x in re.findall(r'(\d+) request\(s\) left in flight', out))
    e2e.log('%d crashes, %d request(s) taken again; guest failures: %s'
            % (crashes, resubmitted, fails[:10]))
    e2e.expect(crashes >= 5, 'only %d crashes: the fault did not fire' % crashes)
    e2e.expect(resubmitted >= crashes - 1, 'requests taken again: %d for %d crashes'
               % (resubmitted, crashes))
    e2e.expect(int(m.group(1)) == ROUNDS and int(m.group(2)) == 0 and not fails,
               'operations failed in the guest: %s' % fails[:10])
    g.qmp.cmd('stop')
    time.sleep(0.3)
    check_tree(shared)
    e2e.expect(g.init_count() == 1, 'the guest was reset')
    e2e.expect(out.count('device fs1: front-end connected (') == 1 and
               'front-end connection closed' not in out, 'the front-end connection was not kept')
    run.result(crashes=crashes, resubmitted=resubmitted, rounds=ROUNDS)


if __name__ == '__main__':
    e2e.main('keeper_fsonce', scenario)
