# SPDX-License-Identifier: BSD-3-Clause
"""vhostgw-bench fs-ring: virtio-fs back-ends driven at the ring, no guest.

The project's own vhost-user front-end, vufront-fs (tests/lib, scenario
bench: it speaks FUSE on the rings itself), drives each back-end directly
with N requests in flight and polls the used ring, so that the back-end is
the bottleneck. Back-ends, one at a time, the order alternating per round:

  vhostgw  one fs device (cache auto, the gateway's defaults), EAL
           --lcores 0@CPU,1@CPU: its control thread and its worker on CPU
  c        /usr/lib/qemu/virtiofsd --socket-path=S -o source=DIR -o cache=auto
  rust     the Rust virtiofsd 1.13 unpacked by `vhostgw-setup virtiofsd-rs`:
           --socket-path=S --shared-dir=DIR --cache=auto --sandbox=none

Same CPU budget for each: the back-end is started under taskset -c CPU
(default 1), so it and every thread it starts (io_uring's workers and
virtiofsd's threads too) may run on that CPU only; vufront-fs runs on
another (default 0). Every thread's Cpus_allowed_list is read during each
measurement, and a thread allowed anywhere else fails the run.

Operations (one vufront-fs run per measurement does them in order, in one
FUSE session; see tests/lib/vufront_fs_bench.c), each for --seconds:
  lookup:16    LOOKUP + GETATTR of existing names (+ FORGET), 16 in flight
  create:16    CREATE + RELEASE of new files (at most --max-files, 10000)
  unlink:16    UNLINK of the files create made (until they run out)
  randread:D   4 KiB READs at random offsets of a --file-mib file, D = 1, 16, 64
  seqread:4    1 MiB READs in order (min(1 MiB, what INIT allows))
  seqwrite:4   1 MiB WRITEs in order into a new file (wrapping at --file-mib)

The share is a fresh file system per measurement (--share-fs ext4, the
default: an ext4 with a journal on a loop-mounted image made in
--share-dir, what users share), so no back-end pays for another's
deletions (ext4 skips the inodes freed in the last 30 s when it allocates
one); the read file and the lookup names are written through each
back-end before its timed operations. --share-fs tmpfs: a fresh tmpfs;
dir: one directory in --share-dir for the whole run, the read file and
the names written through the first back-end and found by the others. A
syncfs(2) of the share follows each measurement. Mounts and images are
removed on every exit (Ctrl-C, SIGTERM and errors too).

Figures per operation: ops/s and MiB/s, the median over rounds per back-end,
and the ratios vhostgw / C virtiofsd and vhostgw / Rust virtiofsd (medians of
the per-round ratios; > 1.0: vhostgw is faster). Exit status 0 when every
measurement was made with no error, 1 otherwise.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import vhostgw_bench_common as common
import vhostgw_bench_fs as fsb
import vhostgw_bench_fsbackend as fsbe
from vhostgw_bench_fsbackend import (GW_MEM_MB, VIRTIOFSD_C, VIRTIOFSD_RS_DIR, Backend,
                                     BenchError)

e2e = fsb.e2e
ROOT = fsb.ROOT
OPS = 'lookup:16,create:16,unlink:16,randread:1,randread:16,randread:64,seqread:4,seqwrite:4'
log = fsb.log


def share_mib(args):
    """Size of a share file system that holds the read file, seqwrite's
    file and create's files."""
    return max(1024, 2 * args.file_mib + 512)


def measure(run, args, kind, rnd, shares, pinning):
    """One back-end, one vufront-fs run, in the share of shares(kind, rnd):
    {op:depth: figures}."""
    share = shares(kind, rnd)
    be = Backend(run, args, kind, rnd, share.path)
    out_path = os.path.join(run.logdir, 'vufront-fs-%s-%d.log' % (kind, rnd))
    try:
        if not share.made:
            share.make()
        be.start()
        argv = ['taskset', '-c', str(args.frontend_cpu), args.vufront_fs,
                '--socket', be.sock, '--scenario', 'bench', '--op', args.ops,
                '--seconds', str(args.seconds), '--file-size', str(args.file_mib << 20),
                '--max-files', str(args.max_files),
                '--name-prefix', 'r%d-%s-%d' % (rnd, kind, os.getpid())]
        with open(out_path, 'wb') as out:
            fe = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out,
                                  stderr=subprocess.STDOUT)
            fe.stdin.write(b'GO\n')     # its "SYNC done" at the end
            fe.stdin.close()
            watch = fsbe.PinWatch(be.pid)
            budget = time.monotonic() + 120 + 4 * args.seconds * len(args.ops.split(','))
            try:
                while fe.poll() is None:
                    if time.monotonic() > budget:
                        os.kill(fe.pid, signal.SIGKILL)
                        fe.wait()
                        raise BenchError('%s: vufront-fs did not finish in time; log %s'
                                         % (kind, out_path))
                    time.sleep(0.1)
            finally:
                watch.stop()
        text = open(out_path, errors='replace').read()
        if fe.returncode != 0:
            raise BenchError('%s: vufront-fs exited with status %d; log %s:\n%s'
                             % (kind, fe.returncode, out_path,
                                '\n'.join(text.splitlines()[-15:])))
        watch.check(kind, {args.backend_cpu})
        watch.record(pinning, kind)
        # CPU seconds per thread name over the whole run (the last sample):
        # where the back-end's one CPU went
        res = {'_threads_cpu_s': {k: round(v / fsb.CLK_TCK, 2) for k, v in watch.ticks.items()
                                 if v}}
        for line in text.splitlines():
            if line.startswith('{'):
                r = json.loads(line)
                key = '%s:%d' % (r['op'], r['depth'])
                r['ops_s'] = r['ops'] / r['seconds'] if r['seconds'] > 0 else 0.0
                r['mib_s'] = r['bytes'] / r['seconds'] / (1 << 20) if r['seconds'] > 0 else 0.0
                res[key] = r
        return res
    finally:
        be.stop()
        if share.made:
            fsb.syncfs(share.path)
        if share.fs != 'dir':
            share.remove()


# ---------------------------------------------------------------------------
# Summary

def summarize(results, kinds, keys):
    """{op:depth: {backend: {ops_s, mib_s, ...medians}, ratios: {peer: ...}}}"""
    summary = {}
    for key in keys:
        s = {'backends': {}, 'ratios': {}}
        for k in kinds:
            rs = [r['ops'][key] for r in results if r['backend'] == k and key in r['ops']]
            if not rs:
                continue
            s['backends'][k] = dict(
                ops_s=statistics.median(r['ops_s'] for r in rs),
                mib_s=statistics.median(r['mib_s'] for r in rs),
                errors=sum(r['errors'] for r in rs), rounds=len(rs),
                req_size=rs[0]['req_size'])
        for peer in kinds:
            if peer == 'vhostgw':
                continue
            per_round = []
            for rnd in sorted({r['round'] for r in results}):
                g = [r for r in results if r['round'] == rnd and r['backend'] == 'vhostgw']
                p = [r for r in results if r['round'] == rnd and r['backend'] == peer]
                if g and p and key in g[0]['ops'] and key in p[0]['ops'] and \
                        p[0]['ops'][key]['ops_s'] > 0:
                    per_round.append(g[0]['ops'][key]['ops_s'] / p[0]['ops'][key]['ops_s'])
            if per_round:
                s['ratios'][peer] = dict(median=statistics.median(per_round),
                                         min=min(per_round), max=max(per_round),
                                         rounds=[round(x, 3) for x in per_round])
        summary[key] = s
    return summary


def print_table(doc, kinds):
    c = doc['config']
    print('# vhostgw-bench fs-ring: %d round(s) x %.1f s per operation, share: %s%s in %s (%s)'
          % (c['rounds'], c['seconds'], fsbe.SHARE_FS_NAMES[c['share_fs']],
             ', fresh per measurement' if c['share_fs'] != 'dir' else ', one per run',
             c['share'], c['share_dir_fs']))
    print('# back-end on CPU %d, vufront-fs on CPU %d; Cpus_allowed_list of every back-end '
          'thread seen:' % (doc['config']['backend_cpu'], doc['config']['frontend_cpu']))
    for k in kinds:
        p = doc['pinning'].get(k)
        if p:
            print('#   %-8s %s: %s' % (k, '/'.join(p['cpus']), ', '.join(p['threads'])))
    peers = [k for k in kinds if k != 'vhostgw']
    head = '%-12s %6s' % ('op:depth', 'size')
    for k in kinds:
        head += ' %12s %9s' % (k + ' ops/s', 'MiB/s')
    for p in peers:
        head += ' %9s' % ('gw/' + p)
    print(head)
    for key, s in doc['summary'].items():
        b = s['backends']
        size = next(iter(b.values()))['req_size'] if b else 0
        line = '%-12s %6s' % (key, ('%dK' % (size >> 10)) if size else '-')
        for k in kinds:
            if k in b:
                line += ' %12.0f %9.1f' % (b[k]['ops_s'], b[k]['mib_s'])
            else:
                line += ' %12s %9s' % ('-', '-')
        for p in peers:
            r = s['ratios'].get(p)
            line += ' %9s' % ('%.2f' % r['median'] if r else '-')
        print(line)
    print('ratios: vhostgw ops/s / peer ops/s, median of the per-round ratios (> 1.0: '
          'vhostgw faster)')


# ---------------------------------------------------------------------------
# Driver

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog='vhostgw-bench fs-ring',
        description='virtio-fs at the ring: vufront-fs drives vhostgw, the C virtiofsd '
        'and the Rust virtiofsd directly (no guest), each on one pinned CPU, alternating.')
    ap.add_argument('--rounds', type=int, default=3, help='rounds (default 3)')
    ap.add_argument('--seconds', type=float, default=5.0,
                    help='seconds per operation (default 5)')
    ap.add_argument('--ops', default=OPS,
                    help='vufront-fs --op list, OP:DEPTH comma-separated (default %s)' % OPS)
    ap.add_argument('--file-mib', type=int, default=256,
                    help='size of the read file, and where seqwrite wraps (default 256)')
    ap.add_argument('--max-files', type=int, default=10000,
                    help='create makes at most this many files (default 10000: vhostgw '
                    'holds an fd per node, and a new file stays looked up until unlink)')
    ap.add_argument('--peers', default='c,rust',
                    help='peers beside vhostgw: c, rust or c,rust (default c,rust)')
    ap.add_argument('--share-fs', choices=fsbe.SHARE_FS, default='ext4',
                    help='what the share is: ext4 (default): a fresh ext4 (journal, '
                    'loop-mounted image in --share-dir) per measurement, so no back-end '
                    "pays for another's deletions; tmpfs: a fresh tmpfs per measurement; "
                    'dir: one directory in --share-dir for the whole run')
    ap.add_argument('--share-dir', default='/var/tmp', metavar='DIR',
                    help='the share (or its image) is made in DIR (default /var/tmp: the '
                    'root file system)')
    ap.add_argument('--backend-cpu', type=int, default=1,
                    help='the one CPU of every back-end (default 1)')
    ap.add_argument('--frontend-cpu', type=int, default=0,
                    help="vufront-fs's CPU (default 0)")
    ap.add_argument('--vhostgw', help='the vhostgw binary (default build/app/vhostgw/vhostgw, '
                    'then PATH)')
    ap.add_argument('--vufront-fs', help='default build/tests/lib/vufront-fs')
    ap.add_argument('--virtiofsd', default=VIRTIOFSD_C, help='default ' + VIRTIOFSD_C)
    ap.add_argument('--virtiofsd-rs-dir', default=VIRTIOFSD_RS_DIR,
                    help='where `vhostgw-setup virtiofsd-rs` unpacked the Rust virtiofsd '
                    '(default %s)' % VIRTIOFSD_RS_DIR)
    ap.add_argument('--build-dir', default='/tmp/vhostgw-bench-fsring',
                    help='logs (e2e-logs/fsring); default /tmp/vhostgw-bench-fsring')
    ap.add_argument('--json', action='store_true', help='print JSON instead of the table')
    ap.add_argument('--save', metavar='FILE', help='also write the JSON to FILE')
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0 or args.file_mib < 2:
        ap.error('--rounds and --seconds must be positive, --file-mib at least 2')
    args.peers = fsbe.parse_peers(ap, args.peers)
    if args.backend_cpu == args.frontend_cpu:
        ap.error('--backend-cpu and --frontend-cpu must differ')
    return args


def check_tools(args):
    args.vhostgw = fsb.find_vhostgw(args.vhostgw)
    if not args.vufront_fs:
        args.vufront_fs = os.path.join(ROOT, 'build', 'tests', 'lib', 'vufront-fs')
    if not os.access(args.vufront_fs, os.X_OK):
        raise BenchError('%s not found: build it (ninja -C build) or give --vufront-fs'
                         % args.vufront_fs)
    fsbe.check_peers(args)
    online = fsb._cpu_list(open('/sys/devices/system/cpu/online').read().strip())
    for c in (args.backend_cpu, args.frontend_cpu):
        if c not in online:
            raise BenchError('CPU %d is not online (%s)' % (c, sorted(online)))


def fs_type(path):
    """The type of the file system holding path (the longest mount point
    above it in /proc/mounts): ext4, say."""
    path, best = os.path.realpath(path), ('', '?')
    with open('/proc/mounts') as f:
        for line in f:
            fields = line.split()
            mnt = fields[1].replace('\\040', ' ')
            if (path == mnt or path.startswith(mnt.rstrip('/') + '/')) and len(mnt) >= len(best[0]):
                best = (mnt, fields[2])
    return best[1]


def main(argv):
    args = parse_args(argv)
    common.catch_signals()

    kinds = ['vhostgw'] + args.peers
    results, failures, pinning = [], [], {}
    run, top, made = None, None, []
    rc = 0
    t_start = time.monotonic()
    try:
        check_tools(args)
        build = os.path.abspath(args.build_dir)
        run = e2e.Run('fsring', argparse.Namespace(build_dir=build, backend='vhostgw',
                                                   vhostgw=args.vhostgw))
        run.lock_machine()
        e2e.check_hugepages(GW_MEM_MB)
        top = tempfile.mkdtemp(prefix='vhostgw-bench-fsring-', dir=args.share_dir)
        log('shares in %s (%s): %s' % (top, fs_type(top), fsbe.SHARE_FS_NAMES[args.share_fs]))

        def shares(kind, rnd):
            """dir: the one share of the run; else a fresh one."""
            if args.share_fs == 'dir':
                if not made:
                    made.append(fsbe.Share(top, 'share', 'dir', 0))
                return made[0]
            made.append(fsbe.Share(top, 'share-%s-%d' % (kind, rnd), args.share_fs,
                                   share_mib(args)))
            return made[-1]

        t_start = time.monotonic()
        for rnd, kind, ops in common.rounds(
                args.rounds, kinds,
                lambda kind, rnd: measure(run, args, kind, rnd, shares, pinning),
                (e2e.E2EError, BenchError), failures, log):
            threads = ops.pop('_threads_cpu_s')
            results.append(dict(round=rnd, backend=kind, ops=ops, threads_cpu_s=threads))
            log('round %d, %-8s: ' % (rnd, kind) + ', '.join(
                '%s %.0f/s' % (k, v['ops_s']) for k, v in ops.items()))
    except (KeyboardInterrupt, e2e.E2EError, BenchError) as e:
        rc = common.stopped(e, log)
    finally:
        common.cleanup(run, log)
        signal.signal(signal.SIGINT, signal.SIG_IGN)     # the mounts go, Ctrl-C or not
        for share in made:
            share.remove()          # umount before the tree under it goes
        if top is not None:
            shutil.rmtree(top, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    keys = []
    for r in results:
        keys += [k for k in r['ops'] if k not in keys]
    errors = sum(o['errors'] for r in results for o in r['ops'].values())
    if (failures or errors) and rc == 0:
        rc = 1
    if not results:
        return rc or 1
    doc = dict(config=dict(rounds=args.rounds, seconds=args.seconds, ops=args.ops,
                           max_files=args.max_files,
                           file_mib=args.file_mib, peers=args.peers,
                           backend_cpu=args.backend_cpu, frontend_cpu=args.frontend_cpu,
                           share=args.share_dir, share_dir_fs=fs_type(args.share_dir),
                           share_fs=args.share_fs, share_mib=share_mib(args),
                           vhostgw=args.vhostgw, vufront_fs=args.vufront_fs,
                           virtiofsd=args.virtiofsd if 'c' in args.peers else None,
                           virtiofsd_rs=args.virtiofsd_rs_version),
               pinning=fsbe.pinning_json(pinning),
               summary=summarize(results, kinds, keys), measurements=results,
               failures=failures, errors=errors,
               seconds=round(time.monotonic() - t_start, 1), complete=rc == 0)
    common.output(args, doc, lambda: print_table(doc, kinds))
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
