# SPDX-License-Identifier: BSD-3-Clause
"""The virtio-fs back-ends of `vhostgw-bench fs` and `vhostgw-bench fs-ring`.

  vhostgw  one fs device (cache auto, the gateway's defaults), EAL
           --lcores 0@CPU,1@CPU: its control thread and its worker on CPU
  c        /usr/lib/qemu/virtiofsd --socket-path=S -o source=DIR -o cache=auto
  rust     the Rust virtiofsd 1.13 unpacked by `vhostgw-setup virtiofsd-rs`,
           run with Debian trixie's loader: --socket-path=S --shared-dir=DIR
           --cache=auto --sandbox=none

Same CPU budget for each: a back-end is started under taskset -c CPU, so it
and every thread it starts (vhostgw's io_uring workers, virtiofsd's thread
pools) may run on that CPU only. PinWatch reads every back-end thread's
Cpus_allowed_list every 0.1 s while a measurement runs; a thread allowed
anywhere else fails the measurement.

Python 3 standard library only.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import vgw_e2e as e2e  # noqa: E402

VIRTIOFSD_C = '/usr/lib/qemu/virtiofsd'
VIRTIOFSD_RS_DIR = '/opt/vhostgw/virtiofsd-rs'
PEERS = ('c', 'rust')
NAMES = {'vhostgw': 'vhostgw', 'c': 'C virtiofsd', 'rust': 'Rust virtiofsd'}
GW_MEM_MB = 256
CLK_TCK = os.sysconf('SC_CLK_TCK')


class BenchError(Exception):
    pass


def log(msg):
    e2e.log(msg)        # the calling benchmark decides where progress goes


def cpu_list(text):
    """'0,2-3' -> {0, 2, 3}"""
    out = set()
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        a, _, b = part.partition('-')
        out.update(range(int(a), int(b or a) + 1))
    return out


def online_cpus():
    with open('/sys/devices/system/cpu/online') as f:
        return cpu_list(f.read().strip())


# ---------------------------------------------------------------------------
# The shared directory

SHARE_FS = ('ext4', 'dir', 'tmpfs')
SHARE_FS_NAMES = {'ext4': 'ext4 with journal on a loop-mounted image', 'tmpfs': 'tmpfs',
                  'dir': 'a directory on the host file system'}


class Share:
    """The shared directory of one measurement, PARENT/NAME, and what it is:
    ext4: a fresh ext4 with a journal on a loop-mounted image of mib MiB
    (made in PARENT and unlinked once mounted: the loop device keeps it
    until umount); tmpfs: a fresh tmpfs of mib MiB; dir: a directory on
    the file system of PARENT. A fresh file system per measurement means
    no measurement inherits another's state (ext4 skips the inodes freed
    in the last 30 s when it allocates one, say). remove() undoes what
    make() did, however far it got, and may be called again."""

    def __init__(self, parent, name, fs, mib):
        self.path = os.path.join(parent, name)
        self.img = self.path + '.img'
        self.fs, self.mib = fs, mib
        self.made = self.mounted = False

    def make(self):
        os.makedirs(self.path)
        self.made = True
        if self.fs == 'tmpfs':
            e2e.sh(['mount', '-t', 'tmpfs', '-o', 'size=%dm' % self.mib, 'vgwbench',
                    self.path])
            self.mounted = True
        elif self.fs == 'ext4':
            with open(self.img, 'wb') as f:
                f.truncate(self.mib << 20)
            e2e.sh(['mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0',
                    self.img])
            e2e.sh(['mount', '-o', 'loop', self.img, self.path])
            self.mounted = True
            os.unlink(self.img)
        return self.path

    def remove(self):
        # a mount point whatever the flag says: a SIGINT between mount(8)
        # finishing and make() noting it left the flag unset
        if self.mounted or (self.made and os.path.ismount(self.path)):
            if subprocess.run(['umount', self.path]).returncode != 0:
                log('umount %s failed: lazy umount' % self.path)
                subprocess.run(['umount', '-l', self.path])
            self.mounted = False
        if os.path.exists(self.img):
            os.unlink(self.img)
        if self.made:
            shutil.rmtree(self.path, ignore_errors=True)
            self.made = False


# ---------------------------------------------------------------------------
# Processes, threads, CPU time

def children(pid):
    kids = []
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def tree_pids(pid):
    """pid and its live descendants (the C virtiofsd forks into its sandbox)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo += children(p)
    return out


def tree_threads(pid, what):
    """(pid, tid, text of /proc/PID/task/TID/what) of every thread of pid's
    tree; threads that exited meanwhile (an io_uring worker, say) left out."""
    for p in tree_pids(pid):
        try:
            tids = os.listdir('/proc/%d/task' % p)
        except OSError:
            continue
        for tid in tids:
            try:
                with open('/proc/%d/task/%s/%s' % (p, tid, what)) as f:
                    yield p, int(tid), f.read()
            except OSError:
                continue


def thread_cpus(pid):
    """{(pid, tid, name): Cpus_allowed_list} of every thread of pid's tree."""
    out = {}
    for p, tid, text in tree_threads(pid, 'status'):
        st = dict(line.split(':', 1) for line in text.splitlines() if ':' in line)
        out[(p, tid, st['Name'].strip())] = st['Cpus_allowed_list'].strip()
    return out


def thread_ticks(pid, per_thread=False):
    """{thread name without its number: utime + stime} over pid's tree;
    per_thread: {(pid, tid): (name, utime + stime)}."""
    out = {}
    for p, tid, st in tree_threads(pid, 'stat'):
        name = re.sub(r'-\d+$', '', st[st.find('(') + 1:st.rfind(')')]) or '?'
        fields = st[st.rfind(')') + 2:].split()
        t = int(fields[11]) + int(fields[12])
        if per_thread:
            out[(p, tid)] = (name, t)
        else:
            out[name] = out.get(name, 0) + t
    return out


class PinWatch:
    """Every 0.1 s, from a thread of its own: the Cpus_allowed_list of every
    thread of a process tree (and its CPU time by thread name), until stop()."""

    def __init__(self, pid, period=0.1):
        self.pid, self.period = pid, period
        self.seen, self.samples = {}, 0
        self._ticks = {}        # (pid, tid): (name, ticks at its last sample)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self):
        self.seen.update(thread_cpus(self.pid))
        self._ticks.update(thread_ticks(self.pid, per_thread=True))
        self.samples += 1

    @property
    def ticks(self):
        """{thread name: utime + stime}, threads that exited meanwhile
        included (as of their last sample)."""
        out = {}
        for name, t in self._ticks.values():
            out[name] = out.get(name, 0) + t
        return out

    def _run(self):
        while True:
            self._sample()
            if self._stop.wait(self.period):
                return

    def stop(self):
        """Stop sampling (one last sample); returns self."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._sample()
        return self

    def violations(self, cpus):
        """Threads seen allowed on anything but the set cpus."""
        return {k: v for k, v in self.seen.items() if cpu_list(v) != set(cpus)}

    def check(self, kind, cpus):
        bad = self.violations(cpus)
        if bad:
            raise BenchError('%s: threads not pinned to CPU %s: %s' % (
                kind, ','.join(map(str, sorted(cpus))), ', '.join(
                    '%s (tid %d): %s' % (k[2], k[1], v) for k, v in sorted(bad.items()))))

    def record(self, pinning, kind):
        """Add what was seen to pinning[kind]: {'threads': {name}, 'cpus': {list}}."""
        p = pinning.setdefault(kind, {'threads': set(), 'cpus': set()})
        for (_, _, name), v in self.seen.items():
            p['threads'].add(re.sub(r'-\d+$', '', name))
            p['cpus'].add(v)


def pinning_json(pinning):
    return {k: dict(cpus=sorted(v['cpus']), threads=sorted(v['threads']))
            for k, v in pinning.items()}


# ---------------------------------------------------------------------------
# The back-ends

def virtiofsd_rs_argv(vdir):
    lib = os.path.join(vdir, 'usr', 'lib', 'x86_64-linux-gnu')
    return [os.path.join(lib, 'ld-linux-x86-64.so.2'), '--library-path', lib,
            os.path.join(vdir, 'usr', 'libexec', 'virtiofsd')]


def check_peers(args):
    """The peers' binaries exist (args.peers, args.virtiofsd,
    args.virtiofsd_rs_dir); sets args.virtiofsd_rs_version."""
    args.virtiofsd_rs_version = None
    if 'c' in args.peers and not os.access(args.virtiofsd, os.X_OK):
        raise BenchError('%s not found (apt-get install qemu-system-x86)' % args.virtiofsd)
    if 'rust' in args.peers:
        argv = virtiofsd_rs_argv(args.virtiofsd_rs_dir)
        r = None
        if all(os.access(p, os.X_OK) for p in (argv[0], argv[3])):
            r = subprocess.run(argv + ['--version'], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        if r is None or r.returncode != 0:
            raise BenchError('the Rust virtiofsd is not in %s: run `usertools/vhostgw-setup '
                             'virtiofsd-rs` (or give --peers c)' % args.virtiofsd_rs_dir)
        args.virtiofsd_rs_version = r.stdout.strip()


def parse_peers(ap, text):
    peers = [p for p in text.split(',') if p]
    if not peers or any(p not in PEERS for p in peers) or len(set(peers)) != len(peers):
        ap.error('--peers: a comma-separated list of %s' % ', '.join(PEERS))
    return peers


def rotated(kinds, rnd):
    """Round rnd's order (1-based): the list rotated by one per round, so
    that over len(kinds) rounds each back-end runs once in each place."""
    i = (rnd - 1) % len(kinds)
    return kinds[i:] + kinds[:i]


class Backend:
    """One back-end process started under taskset -c args.backend_cpu,
    stopped by PID. args: vhostgw, virtiofsd, virtiofsd_rs_dir, backend_cpu;
    gw_fs_opts, virtiofsd_opt, virtiofsd_rs_opt when present."""

    def __init__(self, run, args, kind, rnd, share, tag='bench', name=None):
        self.run, self.args, self.kind, self.rnd = run, args, kind, rnd
        self.share, self.tag = share, tag
        self.name = name or '%s-%d' % (kind, rnd)
        self.rundir = os.path.join(run.workdir, self.name)
        os.makedirs(self.rundir)
        self.sock = os.path.join(self.rundir, 'fs.sock')
        self.control_socket = os.path.join(self.rundir, 'control.sock')
        self.prefix = 'vgwfsb%d%s%d' % (os.getpid(), kind, rnd)
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def argv(self):
        a = self.args
        cpu = str(a.backend_cpu)
        if self.kind == 'vhostgw':
            conf = os.path.join(self.rundir, 'vhostgw.json')
            dev = dict(e2e.fs('fs1', self.share, self.tag, socket_path=self.sock),
                       cache='auto')
            dev.update(getattr(a, 'gw_fs_opts', None) or {})
            with open(conf, 'w') as f:
                json.dump({'runtime_dir': self.rundir, 'links': [], 'devices': [dev]},
                          f, indent=1)
            # the control thread (main lcore) and the fs worker lcore on one CPU
            return [a.vhostgw, '--no-pci', '--file-prefix=' + self.prefix,
                    '-m', str(GW_MEM_MB), '--lcores=0@%s,1@%s' % (cpu, cpu), '--huge-unlink',
                    '--', '--config', conf, '--control-socket', self.control_socket]
        if self.kind == 'c':
            return [a.virtiofsd, '--socket-path=' + self.sock, '-o', 'source=' + self.share,
                    '-o', 'cache=auto'] + list(getattr(a, 'virtiofsd_opt', None) or [])
        return virtiofsd_rs_argv(a.virtiofsd_rs_dir) + [
            '--socket-path=' + self.sock, '--shared-dir=' + self.share, '--cache=auto',
            '--sandbox=none'] + list(getattr(a, 'virtiofsd_rs_opt', None) or [])

    def start(self):
        if self.kind == 'vhostgw':
            e2e.check_hugepages(GW_MEM_MB)
        argv = ['taskset', '-c', str(self.args.backend_cpu)] + self.argv()
        self.proc = e2e.Proc(self.run, self.name, argv,
                             os.path.join(self.run.logdir, self.name + '.log'))
        end = time.monotonic() + 30
        while True:
            self.proc.check_alive()
            try:
                if (os.stat(self.sock).st_mode & 0o170000) == 0o140000:
                    return self.sock
            except FileNotFoundError:
                pass
            if time.monotonic() > end:
                raise BenchError('%s: no socket %s after 30 s:\n%s'
                                 % (self.kind, self.sock, self.proc.tail()))
            time.sleep(0.05)

    def ctl(self, cmd, **args):
        """One request on vhostgw's control socket; returns the reply."""
        with e2e.Ctl(self.control_socket) as c:
            return c.request(cmd, **args)

    def stop(self):
        """Stop it by PID; returns its exit status."""
        if self.proc is None:
            return None
        rc = self.proc.stop(10)
        if self.kind == 'vhostgw':
            if rc not in (0, None):
                log('warning: vhostgw exited with status %s' % rc)
            for f in glob.glob('/dev/hugepages/%s*' % self.prefix):
                os.unlink(f)
            shutil.rmtree('/var/run/dpdk/' + self.prefix, ignore_errors=True)
        return rc
