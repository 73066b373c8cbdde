#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-fs sandbox, from a real guest: the host puts symlinks in the share
that lead out of it (absolute, relative, /proc/self/root, a chain, a loop),
a secret directory and a canary directory next to it; the guest
(guest-init.sh scenario_fsescape) tries to read, create, link, rename and
make device nodes through them and through "..". The host then checks that
the secret token never reached the guest's console, that nothing outside
the share was created, changed or even read (names, sizes, times, link
counts, owners; atimes where the file system keeps them), that operations
on the links changed the links only, that the gateway refused the device
nodes (its error counter moved) and still serves the share."""

import os
import re
import secrets
import stat
import time

import vgw_e2e as e2e

PWNED = ('vgw-e2e-pwned', 'vgw-e2e-pwned2')
LINK_UID, LINK_GID = 4242, 4243
AFTER = 'written after the escape attempts\n'
OLD = 3600 * 24 * 365           # age of the atimes and mtimes set below, s


def _mkfile(path, data):
    with open(path, 'w') as f:
        f.write(data)


def _fields(path, atimes):
    """What lstat says of path (it reads nothing: atimes stay)."""
    st = os.lstat(path)
    d = {'mode': st.st_mode, 'ino': st.st_ino, 'nlink': st.st_nlink,
         'uid': st.st_uid, 'gid': st.st_gid, 'size': st.st_size,
         'mtime': st.st_mtime_ns, 'ctime': st.st_ctime_ns}
    if atimes:
        d['atime'] = st.st_atime_ns
    return d


def _atime_tracked(base):
    """Does this file system update the atime of a file read after its atime
    was set older than its mtime (relatime, strictatime)?"""
    p = os.path.join(base, 'atime-probe')
    _mkfile(p, 'probe\n')
    st = os.stat(p)
    os.utime(p, ns=(st.st_mtime_ns - OLD * 10**9, st.st_mtime_ns))
    before = os.stat(p).st_atime_ns
    with open(p) as f:
        f.read()
    return os.stat(p).st_atime_ns != before


def _remove_pwned(since):
    """What a successful escape made through procroot in the host's / or
    /tmp during this run goes, so that the next run starts clean."""
    for p in ('/', '/tmp'):
        for n in PWNED:
            f = os.path.join(p, n)
            try:
                if os.lstat(f).st_mtime >= since and not os.path.isdir(f):
                    e2e.log('removing %s, created on the host during the run' % f)
                    os.unlink(f)
            except FileNotFoundError:
                pass


def scenario(run):
    since = time.time() - 1
    try:
        _scenario(run)
    finally:
        _remove_pwned(since)


def _scenario(run):
    base = os.path.join(run.workdir, 'esc')
    shared = os.path.join(base, 'shared')
    token = secrets.token_hex(16)           # content of the secret file
    token_name = 'n' + secrets.token_hex(12)  # a name in the secret directory
    control = secrets.token_hex(16)         # content of a file in the share
    control_name = 'ctl-' + secrets.token_hex(8)
    secret = os.path.join(base, 'secret-' + secrets.token_hex(4))
    canary = os.path.join(base, 'canary-' + secrets.token_hex(4))
    os.makedirs(shared)
    os.makedirs(os.path.join(shared, 'sub'))
    for p in ('/', '/tmp', base):
        for n in PWNED:
            e2e.expect(not os.path.lexists(os.path.join(p, n)),
                       '%s exists before the run: a left-over of an earlier escape?'
                       % os.path.join(p, n))

    # outside the share: the secret, the canary
    os.makedirs(secret)
    _mkfile(os.path.join(secret, 'secret'), token + '\n')
    _mkfile(os.path.join(secret, token_name), 'x\n')
    os.makedirs(os.path.join(canary, 'sub'))
    canary_data = {'a': 'canary a\n', 'b': 'canary b\n', 'sub/c': 'canary c\n'}
    for n, data in canary_data.items():
        _mkfile(os.path.join(canary, n), data)
    outside_dirs = {secret: sorted(['secret', token_name]), canary: ['a', 'b', 'sub'],
                    os.path.join(canary, 'sub'): ['c']}
    outside_files = {os.path.join(secret, 'secret'): token + '\n',
                     os.path.join(secret, token_name): 'x\n'}
    outside_files.update({os.path.join(canary, n): d for n, d in canary_data.items()})

    # inside the share
    sf = lambda n: os.path.join(shared, n)  # noqa: E731
    _mkfile(sf('inside'), control + '\n')
    _mkfile(sf(control_name), '')
    _mkfile(sf('somefile'), 'some file\n')
    links = {'out': secret, 'rel': '../' + os.path.basename(secret),
             'procroot': '/proc/self/root', 'fsym': os.path.join(secret, 'secret'),
             'chain1': 'sub/chain2', 'sub/chain2': '../chain3', 'chain3': secret,
             'sub/up': '../../' + os.path.basename(secret), 'passwd': '/etc/passwd',
             'loop1': 'loop2', 'loop2': 'loop1', 'rmme': secret,
             'inlink': 'inlink2', 'inlink2': 'inside'}
    for n, t in links.items():
        os.symlink(t, sf(n))
    os.mkfifo(sf('hostfifo'))
    hostfifo = os.open(sf('hostfifo'), os.O_RDONLY | os.O_NONBLOCK)
    os.utime(sf('fsym'), ns=(0, 0), follow_symlinks=False)

    # old atimes on everything outside: a read or a listing moves them
    atimes = _atime_tracked(base)
    outside = [base] + sorted(outside_dirs) + sorted(outside_files)
    for p in outside[1:]:
        st = os.lstat(p)
        os.utime(p, ns=(st.st_mtime_ns - OLD * 10**9, st.st_mtime_ns),
                 follow_symlinks=False)
    before = {p: _fields(p, atimes and p != base) for p in outside}
    base_names = sorted(os.listdir(base))
    e2e.log('outside the share: %d paths, atimes %s' % (len(outside),
            'checked' if atimes else 'not kept by this file system: not checked'))

    ns = run.netns('fsesc')
    gw = run.gateway('gw', ns, [e2e.fs('fs1', shared, 'myfs')], [])
    g = run.guest('g1', [], fs=[{'socket': gw.socket('fs1'), 'tag': 'myfs'}],
                  scenario='fsescape', mount='myfs')
    t_mount = g.wait_line(r'VGW-FS tag=', 120, what='virtio-fs mounted')[1]

    def fs_stats():
        return {d['name']: d for d in gw.ctl('stats', device='fs1')['devices']}['fs1']

    # the error counter around two FIFOs made, then two device nodes refused
    counters = []
    for name, what in (('fifos', 'the attempts before mknod'), ('devices', 'mknod of FIFOs'),
                       ('devices-done', 'mknod of devices')):
        g.wait(r'VGW-ESC-WAIT %s$' % name, 120, what=what)
        counters.append(fs_stats())
        _mkfile(sf('.vgw-go-' + name), '')
    m = g.wait(r'VGW-ESC-SUMMARY attempts=(\d+) unexpected=(\d+)', 120,
               what='the end of the attempts')
    t_end = g.wait_line(r'VGW-ESC-SUMMARY', 1)[1]
    st_end = fs_stats()
    gw.save('stats.json', st_end)
    gw.proc.check_alive()

    # Every check below runs and adds what it found to problems, so that a
    # real escape is reported with all its effects.
    problems = []

    def check(cond, msg):
        if not cond:
            problems.append(msg)

    # what the guest printed: the console file itself, and the lines read
    with open(g.serial_path, 'rb') as f:
        raw = f.read().decode(errors='replace')
    with g.console._cond:
        lines = [text for _, text in g.console.lines]
    text = '\n'.join(lines)
    for what, tok in (('the secret token', token), ('a name in the secret directory',
                                                    token_name)):
        check(tok not in raw and tok not in text,
              '%s reached the guest; console: %s' % (what, g.serial_path))
    if 'root:x:0:0:' in open('/etc/passwd').read():
        check('root:x:0:0:' not in raw, 'the host /etc/passwd reached the guest')
    # the checks above look at real output: the share's own content and
    # names are in the same text
    check(text.count(control) >= 3 and raw.count(control) >= 3,
          'the control content of /mnt/inside is not in the console (%d times): '
          'the token check would see nothing' % text.count(control))
    check(control_name in text, 'the listing of /mnt is not in the console')

    rx = re.compile(r'VGW-ESC (\S+) want=(\S+) rc=(\d+) (ok|UNEXPECTED) out=(.*)$')
    tries = {}
    for l in lines:
        r = rx.search(l)
        if r:
            tries[r.group(1)] = r
    roots = [l for l in lines if 'VGW-ESC-LS ' in l]
    bad = [l for l in lines if re.search(r'VGW-ESC(-LS)? \S+ .*(UNEXPECTED|same=0)', l)]
    check(not bad and m.group(2) == '0', 'attempts with an unexpected outcome:\n' +
          '\n'.join('      ' + l for l in bad))
    check(int(m.group(1)) == len(tries) + len(roots),
          'the guest made %s attempts, the console shows %d'
          % (m.group(1), len(tries) + len(roots)))
    required = ['read-out', 'read-rel', 'read-fsym', 'read-chain', 'read-procroot',
                'read-dotdot', 'write-out', 'mkdir-rel', 'hardlink-out', 'mv-into-out',
                'mknod-fifo', 'mknod-chr', 'mknod-blk', 'fifo-roundtrip', 'hostfifo-roundtrip',
                'write-after'] + ['lstat-' + n for n in links
                                  if n not in ('loop2', 'inlink', 'inlink2')]
    missing = [k for k in required if k not in tries]
    check(not missing, 'attempts missing from the console: %s' % missing)
    # lstat and readlink through the gateway show the links as the host made them
    for n in links:
        if 'lstat-' + n in tries:
            got = tries['lstat-' + n].group(5).split('|')
            want = ['symbolic link %d' % len(links[n]), links[n]]
            check(got[:2] == want, 'the guest sees %s as %s, the host made %s'
                  % (n, got[:2], want))
    host_only = [os.path.basename(p) for p in (shared, secret, canary)]
    for l in roots:
        check(not any(n in l.split() for n in host_only),
              'a host directory listed as the guest root: %s' % l)

    # nothing outside the share changed, nor was read or listed
    after = {p: _fields(p, atimes and p != base) if os.path.lexists(p) else None
             for p in outside}
    for p in outside:
        if after[p] is None:
            check(False, 'outside the share: %s removed' % p)
        elif before[p] != after[p]:
            check(False, 'outside the share: %s: %s' % (p, ', '.join(
                '%s %s -> %s' % (k, before[p][k], after[p][k])
                for k in before[p] if before[p][k] != after[p][k])))
    check(sorted(os.listdir(base)) == base_names,
          'next to the share: %s, was %s' % (sorted(os.listdir(base)), base_names))
    for d, names in outside_dirs.items():
        if os.path.isdir(d):
            check(sorted(os.listdir(d)) == names, '%s: %s, was %s'
                  % (d, sorted(os.listdir(d)), names))
    for p, data in outside_files.items():
        if os.path.isfile(p):
            with open(p) as f:
                check(f.read() == data, '%s: content changed' % p)
    for p in ('/', '/tmp', base, secret, os.path.dirname(run.workdir)):
        for n in PWNED:
            check(not os.path.lexists(os.path.join(p, n)),
                  '%s created on the host' % os.path.join(p, n))
    for dirpath, dirs, files in os.walk(run.workdir):
        if dirpath == shared:
            dirs[:] = []
            continue
        check(not [n for n in dirs + files if 'pwned' in n],
              'created outside the share: %s %s' % (dirpath, dirs + files))

    # inside the share: operations on the links changed the links only
    def lst(n):
        try:
            return os.lstat(sf(n))
        except FileNotFoundError:
            return None

    for n in ('chr', 'blk'):
        check(lst(n) is None, 'device node %s created in the share' % n)
    check(lst('fifo') and stat.S_ISFIFO(lst('fifo').st_mode), 'fifo not a FIFO on the host')
    try:
        got = os.read(hostfifo, 64)
    except BlockingIOError:
        got = b''
    os.close(hostfifo)
    check(got == b'', 'the host end of hostfifo read %r' % got)
    fsym, out = lst('fsym'), lst('out')
    check(fsym and (fsym.st_uid, fsym.st_gid) == (LINK_UID, LINK_GID),
          'chown -h fsym: the link is %s' % ((fsym and (fsym.st_uid, fsym.st_gid)),))
    check(fsym and fsym.st_mtime > time.time() - 600,
          'touch -h fsym: the link\'s mtime is %s' % (fsym and fsym.st_mtime))
    check(out and (out.st_uid, out.st_gid) == (LINK_UID, LINK_GID),
          'chown -h out: the link is %s' % ((out and (out.st_uid, out.st_gid)),))
    for n, src in (('hardf', fsym), ('hardout', out)):
        h = lst(n)
        check(h and src and stat.S_ISLNK(h.st_mode) and h.st_ino == src.st_ino,
              'ln: %s is not a hard link of the symlink (mode %s)' % (n, h and oct(h.st_mode)))
    check(lst('chain3') is None and lst('chain3moved') and
          os.readlink(sf('chain3moved')) == secret, 'mv chain3 chain3moved')
    check(lst('rmme') is None, 'rm rmme')
    check(lst('somefile') is None, 'mv somefile out of the mount')
    check(lst('dotdot') and os.readlink(sf('dotdot')) == '../../../../etc/passwd',
          'symlink dotdot')
    x, c = lst('x..'), lst('.../..c..')
    check(x and c and os.path.isdir(sf('...')) and x.st_nlink == 2 and
          c.st_ino == x.st_ino and open(sf('x..')).read() == 'dots\n', 'names with dots')
    check(lst('after') and open(sf('after')).read() == AFTER,
          'the file written after the attempts')

    # the gateway refused the device nodes itself, and counted it: the same
    # requests (a failed lookup, then mknod) for two FIFOs and for two
    # devices; only the second two have errors of their own
    fifos, devices = (b['errors'] - a['errors'] for a, b in zip(counters, counters[1:]))
    check(devices - fifos >= 2, 'the gateway\'s error counter moved by %d for two mknods '
          'of FIFOs, by %d for two of device nodes (errors %s)'
          % (fifos, devices, [c['errors'] for c in counters]))
    check(st_end['malformed'] == 0, 'malformed requests: %s' % st_end)
    run.result(mount=t_mount - g.t_start, attempts=int(m.group(1)),
               attempts_time=t_end - t_mount, errors_fifos=fifos, errors_devices=devices,
               requests=st_end['requests'], errors=st_end['errors'], atimes=int(atimes))
    e2e.expect(not problems, '%d problem(s):\n' % len(problems) +
               '\n'.join('    - ' + p for p in problems))

if __name__ == '__main__':
    e2e.main('fs_escape', scenario)
