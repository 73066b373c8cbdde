# SPDX-License-Identifier: BSD-3-Clause
"""vgw_e2e: boot real Linux guests in QEMU (TCG) against vhostgw.

The QEMU is a parameter of every scenario: --qemu 7.2 (the default: Debian
12's qemu-system-x86_64 in PATH) or --qemu 10.0 (bookworm-backports' build,
unpacked by `usertools/vhostgw-setup qemu10` into /opt/vhostgw/qemu10, or
VGW_E2E_QEMU10_DIR). A QEMU that is missing or reports another version
fails the scenario; nothing is skipped.

Python 3 standard library only. One Run owns everything a scenario starts
(network namespaces, gateways, QEMUs, temporary files) and takes it all down
again, by PID, on success, failure, exception or SIGTERM (meson's timeout).

A scenario is a function of a Run; a test file is a few lines:

    import vgw_e2e as e2e

    def scenario(run):
        ns = run.netns('up')
        gw = run.gateway('gw', ns, [e2e.net('vm1'), e2e.tap('up0', 'vgwtap0')],
                         [e2e.xconnect('vm1', 'up0')])
        ns.link_addr('vgwtap0', '10.77.0.1/24', mac=e2e.PEER_MAC)
        g = run.guest('g1', [gw.nic('vm1', e2e.mac(1))], ip='10.77.0.2/24',
                      peer='10.77.0.1', scenario='ping')
        sent, recv = map(int, g.wait(r'VGW-PING sent=(\\d+) recv=(\\d+)').groups())
        run.result(sent=sent, recv=recv)

    e2e.main('ping', scenario)

The guest side is guest-init.sh (/init of a busybox initramfs built here and
cached in the build directory); it reads vgw.* words of the kernel command
line (the keyword arguments of Run.guest) and prints VGW-* marker lines on
the serial console. Console lines get a host timestamp when they are read,
so gaps are measured on the host clock, which keeps running while a guest is
stopped or migrating.
"""

import argparse
import fcntl
import glob
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_INIT = os.path.join(HERE, 'guest-init.sh')
MACHINE_LOCK = '/tmp/vhostgw-machine.lock'
QEMU = 'qemu-system-x86_64'
QEMUS = ('7.2', '10.0')
QEMU10_DIR = '/opt/vhostgw/qemu10'     # usertools/vhostgw-setup qemu10
TESTPMD = 'dpdk-testpmd'
BUSYBOX = '/bin/busybox'
GUEST_MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev',
                 'virtio_pci_legacy_dev', 'virtio_pci', 'failover',
                 'net_failover', 'virtio_net', 'fuse', 'virtiofs']
INITRAMFS_FORMAT = 1            # bump when the layout below changes
GUEST_MEM = '512M'
GATEWAY_MEM_MB = 512
PEER_MAC = '02:77:00:00:00:01'  # host side of an uplink: fixed, so guests'
                                # ARP entries survive a gateway restart

T0 = time.monotonic()


class E2EError(Exception):
    """A scenario failed; the message says what and where."""


def log(msg):
    print('[%7.2f] %s' % (time.monotonic() - T0, msg), flush=True)


def mac(n):
    """Distinct guest MAC number n."""
    return '52:54:00:77:00:%02x' % n


# ---------------------------------------------------------------------------
# Gateway config helpers (vhostgw's JSON, see doc/)

def net(name, mode='server', queues=1, socket_path=None):
    d = {'name': name, 'type': 'net', 'mode': mode, 'queues': queues}
    if socket_path:
        d['socket'] = socket_path
    return d


def tap(name, iface, queues=1):
    return {'name': name, 'type': 'ethdev', 'queues': queues,
            'devargs': 'net_tap_%s,iface=%s' % (name, iface), 'iface': iface}


def fs(name, shared_dir, tag, mode='server', queues=1, socket_path=None):
    d = {'name': name, 'type': 'fs', 'mode': mode, 'queues': queues,
         'shared_dir': shared_dir, 'tag': tag}
    if socket_path:
        d['socket'] = socket_path
    return d


def xconnect(a, b, one_copy=None):
    x = {'xconnect': [a, b]}
    if one_copy is not None:
        x['one_copy'] = one_copy
    return x


def bridge(name, ports, one_copy=None):
    b = {'bridge': name, 'ports': list(ports)}
    if one_copy is not None:
        b['one_copy'] = one_copy
    return b


# ---------------------------------------------------------------------------
# Pre-flight checks: a scenario that cannot start fails, loudly.

def _meminfo():
    info = {}
    with open('/proc/meminfo') as f:
        for line in f:
            k, v = line.split(':', 1)
            info[k] = int(v.split()[0])
    return info


def check_hugepages(need_mb):
    info = _meminfo()
    total, free = info.get('HugePages_Total', 0), info.get('HugePages_Free', 0)
    size_kb = info.get('Hugepagesize', 2048)
    mounted = any(line.split()[2] == 'hugetlbfs'
                  for line in open('/proc/mounts'))
    setup = ('as root: echo 1024 > /proc/sys/vm/nr_hugepages; '
             'mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages')
    if total == 0 or not mounted:
        raise E2EError('no hugepages (HugePages_Total=%d, hugetlbfs mounted: %s); %s'
                       % (total, mounted, setup))
    if free * size_kb < need_mb * 1024:
        raise E2EError('only %d MiB of hugepages free, a gateway needs %d MiB'
                       % (free * size_kb // 1024, need_mb))


def _version_key(v):
    return [int(x) if x.isdigit() else x for x in re.split(r'(\d+)', v)]


def find_kernel():
    """(vmlinuz path, version) of the newest kernel that has its modules."""
    want = os.environ.get('VGW_E2E_KERNEL')
    cands = [want] if want else glob.glob('/boot/vmlinuz-*')
    found = []
    for k in cands:
        ver = os.path.basename(k)[len('vmlinuz-'):]
        if os.path.isfile(k) and os.path.isdir('/lib/modules/' + ver):
            found.append((ver, k))
    if not found:
        raise E2EError('no guest kernel: want /boot/vmlinuz-VER with /lib/modules/VER '
                       '(apt-get install linux-image-amd64)%s'
                       % (' (VGW_E2E_KERNEL=%s)' % want if want else ''))
    ver, k = max(found, key=lambda x: _version_key(x[0]))
    return k, ver


def _is_static_elf(path):
    with open(path, 'rb') as f:
        hdr = f.read(64)
        if hdr[:4] != b'\x7fELF' or hdr[4] != 2:
            return False
        phoff, = struct.unpack_from('<Q', hdr, 32)
        phentsize, phnum = struct.unpack_from('<HH', hdr, 54)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    return all(struct.unpack_from('<I', ph, i * phentsize)[0] != 3  # PT_INTERP
               for i in range(phnum))


def which(prog):
    p = shutil.which(prog)
    if not p:
        raise E2EError('%s not found in PATH' % prog)
    return p


def qemu_command(want):
    """argv prefix of the QEMU asked for ('7.2' or '10.0'), checked to run
    and to report that version: (argv, version it printed)."""
    if want == '7.2':
        argv = [which(QEMU)]
        how = 'apt-get install qemu-system-x86'
    elif want == '10.0':
        d = os.environ.get('VGW_E2E_QEMU10_DIR') or QEMU10_DIR
        exe = os.path.join(d, 'usr', 'bin', QEMU)
        how = 'usertools/vhostgw-setup qemu10'
        if not os.access(exe, os.X_OK):
            raise E2EError('QEMU 10.0 not found: no %s (%s)' % (exe, how))
        # its own firmware: -L for the data files, and seabios, which
        # QEMU would otherwise take from the system's /usr/share/seabios
        argv = [exe, '-L', os.path.join(d, 'usr', 'share', 'qemu'),
                '-L', os.path.join(d, 'usr', 'share', 'seabios')]
    else:
        raise E2EError('unknown QEMU %r (want one of %s)' % (want, ', '.join(QEMUS)))
    r = subprocess.run(argv + ['--version'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = r.stdout.decode(errors='replace')
    m = re.search(r'QEMU emulator version (\S+)', out)
    if r.returncode or not m:
        raise E2EError('%s --version: exit %d: %s (%s)'
                       % (' '.join(argv), r.returncode, out.strip(), how))
    if not m.group(1).startswith(want + '.'):
        raise E2EError('%s is QEMU %s, not %s' % (argv[0], m.group(1), want))
    return argv, m.group(1)


# ---------------------------------------------------------------------------
# Guest initramfs: newc cpio written here (so /dev/console can be a device
# node without mknod), cached in the build directory by input fingerprint.

class _Cpio:
    def __init__(self):
        self.out = bytearray()
        self.ino = 300000

    def _add(self, name, mode, data=b'', rdev=(0, 0)):
        self.ino += 1
        nb = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08x' % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
            len(nb), 0))
        self.out += hdr.encode() + nb
        self.out += b'\0' * (-len(self.out) % 4)
        self.out += data
        self.out += b'\0' * (-len(self.out) % 4)

    def dir(self, name):
        self._add(name, 0o040755)

    def file(self, name, data, perm=0o644):
        self._add(name, 0o100000 | perm, data)

    def chr(self, name, major, minor, perm=0o600):
        self._add(name, 0o020000 | perm, rdev=(major, minor))

    def bytes(self):
        self._add('TRAILER!!!', 0)
        return bytes(self.out)


def _module_files(kver):
    root = '/lib/modules/%s/kernel' % kver
    found = {}
    for dirpath, _, files in os.walk(root):
        for fn in files:
            m = re.match(r'(.+)\.ko(\.xz|\.gz|\.zst)?$', fn)
            if m:
                found.setdefault(m.group(1).replace('-', '_'),
                                 os.path.join(dirpath, fn))
    return found


def _module_bytes(path):
    if path.endswith('.ko'):
        return open(path, 'rb').read()
    if path.endswith('.xz'):
        return lzma.decompress(open(path, 'rb').read())
    if path.endswith('.gz'):
        return gzip.decompress(open(path, 'rb').read())
    if path.endswith('.zst'):
        zstd = shutil.which('zstd')
        if not zstd:
            raise E2EError('%s is zstd-compressed and zstd is not installed' % path)
        return subprocess.run([zstd, '-dc', path], check=True,
                              stdout=subprocess.PIPE).stdout
    raise E2EError('unknown module compression: ' + path)


def build_initramfs(cache_dir, kver, modules=GUEST_MODULES, init=GUEST_INIT,
                    extra=None):
    """Path of a cached initramfs for kernel kver. extra: {guest path: bytes}."""
    if not os.path.isfile(BUSYBOX) or not _is_static_elf(BUSYBOX):
        raise E2EError('%s is not a static busybox (apt-get install busybox-static)'
                       % BUSYBOX)
    files = _module_files(kver)
    missing = [m for m in modules if m not in files]
    if missing:
        raise E2EError('kernel %s lacks modules: %s' % (kver, ' '.join(missing)))
    init_data = open(init, 'rb').read()
    h = hashlib.sha256()
    h.update(json.dumps([INITRAMFS_FORMAT, kver, modules]).encode())
    h.update(init_data)
    for p in [BUSYBOX] + [files[m] for m in modules]:
        st = os.stat(p)
        h.update(('%s %d %d\n' % (p, st.st_size, st.st_mtime_ns)).encode())
    for k in sorted(extra or {}):
        h.update(k.encode() + b'\0' + extra[k])
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, 'initramfs-%s-%s.cpio' % (kver, h.hexdigest()[:16]))
    if os.path.exists(path):
        log('initramfs (cached): %s' % path)
        return path
    t = time.monotonic()
    c = _Cpio()
    for d in ('bin', 'dev', 'lib', 'lib/modules', 'proc', 'sys', 'tmp', 'mnt'):
        c.dir(d)
    c.chr('dev/console', 5, 1)
    c.file('bin/busybox', open(BUSYBOX, 'rb').read(), 0o755)
    c.file('init', init_data, 0o755)
    for m in modules:
        c.file('lib/modules/%s.ko' % m, _module_bytes(files[m]))
    for k in sorted(extra or {}):
        c.file(k.lstrip('/'), extra[k])
    tmp = path + '.tmp%d' % os.getpid()
    with open(tmp, 'wb') as f:
        f.write(c.bytes())
    os.replace(tmp, path)
    for old in glob.glob(os.path.join(cache_dir, 'initramfs-%s-*.cpio' % kver)):
        if old != path:
            os.unlink(old)
    log('initramfs built in %.1f s: %s' % (time.monotonic() - t, path))
    return path


def guest_program(cache_dir, src):
    """A guest program: the C file src built with gcc -static -O2, cached in
    cache_dir by its source; returns its bytes (for Run.add_guest_file)."""
    gcc = shutil.which('gcc')
    if not gcc:
        raise E2EError('gcc not found (apt-get install gcc libc6-dev): needed for %s' % src)
    data = open(src, 'rb').read()
    os.makedirs(cache_dir, exist_ok=True)
    out = os.path.join(cache_dir, '%s-%s' % (os.path.splitext(os.path.basename(src))[0],
                                             hashlib.sha256(data).hexdigest()[:16]))
    if not os.path.exists(out):
        tmp = out + '.tmp%d' % os.getpid()
        r = subprocess.run([gcc, '-static', '-O2', '-Wall', '-o', tmp, src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode or not _is_static_elf(tmp):
            raise E2EError('gcc -static %s failed:\n%s' % (src, r.stdout.decode(errors='replace')))
        os.replace(tmp, out)
        log('guest program built: %s' % out)
    return open(out, 'rb').read()


# ---------------------------------------------------------------------------
# Processes

def tail_file(path, n=25):
    """The last n lines of a log, indented for a failure message."""
    try:
        with open(path, 'rb') as f:
            lines = f.read().decode(errors='replace').splitlines()
    except OSError:
        return ''
    return '\n'.join('    | ' + l for l in lines[-n:])


class Proc:
    """A child process the Run owns; stopped by PID at clean-up."""

    def __init__(self, run, name, argv, log_path, stdin=subprocess.DEVNULL,
                 clean_exit=False, env=None):
        """clean_exit: at clean-up, SIGTERM must make it exit with status 0;
        env: variables added to this process's environment."""
        self.run, self.name, self.argv, self.log_path = run, name, argv, log_path
        self.clean_exit = clean_exit
        if os.path.exists(log_path):
            os.unlink(log_path)
        self._log = open(log_path, 'wb')
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=self._log,
                                  stderr=subprocess.STDOUT,
                                  env=dict(os.environ, **env) if env else None)
        self.pid = self.p.pid
        run._procs.append(self)
        log('started %s pid %d: %s%s' % (name, self.pid, ''.join(
            '%s=%s ' % kv for kv in sorted((env or {}).items())), ' '.join(argv)))

    def alive(self):
        return self.p.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=10.0, sig=signal.SIGTERM):
        """Signal, wait, then SIGKILL; returns the exit status."""
        if self.alive():
            self.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log('%s pid %d ignored signal %d, SIGKILL' % (self.name, self.pid, sig))
                self.send_signal(signal.SIGKILL)
                self.p.wait(10)
        if self.p.stdin:
            self.p.stdin.close()
        self._log.close()
        return self.p.returncode

    def tail(self, n=25):
        return tail_file(self.log_path, n)

    def check_alive(self):
        if not self.alive():
            raise E2EError('%s (pid %d) exited with status %s; log %s:\n%s'
                           % (self.name, self.pid, self.p.returncode,
                              self.log_path, self.tail()))


def sh(argv, check=True):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and r.returncode:
        raise E2EError('%s: exit %d: %s' % (' '.join(argv), r.returncode,
                                            r.stdout.decode(errors='replace').strip()))
    return r.stdout.decode(errors='replace')


# ---------------------------------------------------------------------------
# Network namespaces: all traffic and all addresses stay in here.

class Netns:
    def __init__(self, run, tag):
        self.run = run
        self.name = 'vgwe2e-%d-%s' % (os.getpid(), tag)
        sh(['ip', 'netns', 'add', self.name])
        run._netns.append(self)
        self.ip('link', 'set', 'lo', 'up')
        self.exec_(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'])
        self.exec_(['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1'])
        log('netns %s' % self.name)

    def ip(self, *args, check=True):
        return sh(['ip', '-n', self.name] + list(args), check)

    def exec_(self, argv, check=True):
        return sh(['ip', 'netns', 'exec', self.name] + argv, check)

    def wait_link(self, ifname, timeout=30.0, proc=None):
        end = time.monotonic() + timeout
        while self.ip('link', 'show', ifname, check=False).find(ifname + ':') < 0:
            if proc:
                proc.check_alive()
            if time.monotonic() > end:
                raise E2EError('interface %s did not appear in netns %s within %.0f s'
                               % (ifname, self.name, timeout))
            time.sleep(0.1)

    def link_addr(self, ifname, cidr, mac=None):
        """Fixed MAC, address and up: the host end of an uplink."""
        if mac:
            self.ip('link', 'set', ifname, 'address', mac)
        self.ip('addr', 'replace', cidr, 'dev', ifname)
        self.ip('link', 'set', ifname, 'up')

    def bridge(self, name, cidr, mac=PEER_MAC):
        self.ip('link', 'add', name, 'type', 'bridge', 'stp_state', '0',
                'forward_delay', '0')
        self.link_addr(name, cidr, mac)

    def enslave(self, ifname, br):
        self.ip('link', 'set', ifname, 'master', br)
        self.ip('link', 'set', ifname, 'up')

    def delete(self):
        sh(['ip', 'netns', 'del', self.name], check=False)


def _stale_netns_cleanup():
    """Delete namespaces of earlier runs of this harness whose PID is gone."""
    for line in sh(['ip', 'netns', 'list'], check=False).splitlines():
        m = re.match(r'(vgwe2e-(\d+)-\S*)', line)
        if m and not os.path.exists('/proc/' + m.group(2)):
            log('removing stale netns %s' % m.group(1))
            sh(['ip', 'netns', 'del', m.group(1)], check=False)


# ---------------------------------------------------------------------------
# The back-end: vhostgw, or dpdk-testpmd's vhost PMD as a stand-in.

class Gateway:
    def __init__(self, run, name, ns, devices, links, lcores='0@0,1@1',
                 mem_mb=GATEWAY_MEM_MB, extra_eal=(), extra_args=(), env=None,
                 keeper=None):
        """env: variables for the gateway process only (e.g. the test-only
        VHOSTGW_TEST_FAULT, see doc/e2e.rst); keeper: a list of
        vhostgw-keeper options to run the gateway under the keeper (--keeper
        on the command line gives its path), proc is then the keeper's."""
        self.run, self.name, self.ns = run, name, ns
        self.keeper = None if keeper is None else list(keeper)
        self.env = dict(env or {})
        self.backend = run.args.backend
        self.lcores, self.mem_mb = lcores, mem_mb
        self.extra_eal, self.extra_args = list(extra_eal), list(extra_args)
        self.prefix = 'vgwe2e%d%s' % (os.getpid(), name)
        self.rundir = os.path.join(run.workdir, name)
        os.makedirs(self.rundir, exist_ok=True)
        self.devices = []
        for d in devices:
            d = dict(d)
            if d['type'] in ('net', 'fs') and 'socket' not in d:
                d['socket'] = os.path.join(self.rundir, d['name'] + '.sock')
            self.devices.append(d)
        self.links = links
        self.config_path = os.path.join(run.logdir, name + '.json')
        conf = {'runtime_dir': self.rundir,
                'devices': [{k: v for k, v in d.items() if k != 'iface'}
                            for d in self.devices],
                'links': links}
        with open(self.config_path, 'w') as f:
            json.dump(conf, f, indent=1)
        self.proc = None
        self.starts = 0
        run._gateways.append(self)

    def dev(self, name):
        for d in self.devices:
            if d['name'] == name:
                return d
        raise KeyError(name)

    def socket(self, name):
        return self.dev(name)['socket']

    def nic(self, name, guest_mac, reconnect=False):
        """A guest NIC spec for Run.guest() on device `name` of this gateway."""
        return {'socket': self.socket(name), 'mac': guest_mac, 'reconnect': reconnect,
                'queues': self.dev(name).get('queues', 1)}

    def _eal(self):
        return ['--no-pci', '--file-prefix=' + self.prefix, '-m', str(self.mem_mb),
                '--lcores=' + self.lcores, '--huge-unlink'] + self.extra_eal

    @property
    def control_socket(self):
        return os.path.join(self.rundir, 'control.sock')

    def ctl(self, cmd, **args):
        """One request on the control socket; returns the reply (ok: true)."""
        if self.backend != 'vhostgw':
            raise E2EError('%s: no control socket with the %s stand-in' % (self.name, self.backend))
        with Ctl(self.control_socket) as c:
            return c.request(cmd, **args)

    def _argv(self):
        if self.backend == 'vhostgw':
            argv = [self.run.args.vhostgw] + self._eal() + \
                ['--', '--config', self.config_path,
                 '--control-socket', self.control_socket] + self.extra_args
            if self.keeper is None:
                return argv
            if not self.run.args.keeper:
                raise E2EError('%s: no --keeper (path of vhostgw-keeper) given' % self.name)
            return [self.run.args.keeper, '--dir', os.path.join(self.rundir, 'keeper')] + \
                self.keeper + ['--'] + argv
        # dpdk-testpmd stand-in: io forwarding pairs ports 0-1 (one link only)
        vdevs = []
        for i, d in enumerate(self.devices):
            if d['type'] == 'net':
                va = 'net_vhost%d,iface=%s,queues=%d' % (i, d['socket'], d['queues'])
                if d['mode'] == 'client':
                    va += ',client=1'
                vdevs += ['--vdev', va]
            elif d['type'] == 'ethdev':
                vdevs += ['--vdev', d['devargs']]
        return [which(TESTPMD)] + self._eal() + vdevs + \
            ['--', '--nb-cores=1', '--forward-mode=io']

    def start(self, timeout=30.0):
        """Start (or restart) and wait until its sockets and taps exist."""
        check_hugepages(self.mem_mb)
        old = {}
        for d in self.devices:
            if d.get('mode') == 'server' and 'socket' in d:
                try:
                    st = os.stat(d['socket'])
                    old[d['socket']] = (st.st_ino, st.st_ctime_ns)
                except FileNotFoundError:
                    pass
                if self.backend == 'testpmd' and d['socket'] in old:
                    os.unlink(d['socket'])      # rte_vhost will not bind over it
                    del old[d['socket']]
        self.starts += 1
        logname = self.name + ('' if self.starts == 1 else '-%d' % self.starts)
        argv = ['ip', 'netns', 'exec', self.ns.name] + self._argv()
        self.proc = Proc(self.run, logname, argv,
                         os.path.join(self.run.logdir, logname + '.log'),
                         stdin=subprocess.PIPE if self.backend == 'testpmd'
                         else subprocess.DEVNULL, clean_exit=True, env=self.env)
        t = time.monotonic()
        end = t + timeout
        for d in self.devices:
            if d.get('mode') == 'server' and 'socket' in d:
                while True:
                    self.proc.check_alive()
                    try:
                        st = os.stat(d['socket'])
                        if (st.st_ino, st.st_ctime_ns) != old.get(d['socket']) and \
                           (st.st_mode & 0o170000) == 0o140000:
                            break
                    except FileNotFoundError:
                        pass
                    if time.monotonic() > end:
                        raise E2EError('%s: socket %s not (re)created within %.0f s; log:\n%s'
                                       % (self.name, d['socket'], timeout, self.proc.tail()))
                    time.sleep(0.05)
            if 'iface' in d:
                self.ns.wait_link(d['iface'], max(1.0, end - time.monotonic()), self.proc)
        self.proc.check_alive()
        log('%s (%s) ready in %.2f s' % (self.name, self.backend, time.monotonic() - t))
        return self

    def save(self, fname, obj):
        """Keep a JSON object (a control reply) in the scenario's log dir."""
        path = os.path.join(self.run.logdir, '%s-%s' % (self.name, fname))
        with open(path, 'w') as f:
            json.dump(obj, f, indent=1)
        return path

    def keeper_log(self):
        with open(self.proc.log_path, 'rb') as f:
            return f.read().decode(errors='replace')

    def gateway_pids(self):
        """Under the keeper: the pid of every gateway it started, in order."""
        return [int(p) for p in re.findall(r'gateway \d+ started: pid (\d+)', self.keeper_log())]

    def replays(self, device):
        """Under the keeper: recovery times (ms) logged for a device."""
        return [float(m) for m in re.findall(
            r'device %s: \d+ message\(s\) replayed to gateway \d+, ([\d.]+) ms after'
            % re.escape(device), self.keeper_log())]

    def kill_gateway(self, sig=signal.SIGKILL):
        """Under the keeper: signal the gateway it runs now."""
        pid = self.gateway_pids()[-1]
        log('%s: signal %d to the gateway, pid %d' % (self.name, sig, pid))
        os.kill(pid, sig)
        return pid

    def kill(self, sig=signal.SIGKILL):
        log('%s: signal %d to pid %d' % (self.name, sig, self.proc.pid))
        self.proc.send_signal(sig)
        self.proc.p.wait(10)
        self.proc.stop()

    def stop(self):
        if self.proc:
            rc = self.proc.stop()
            if rc not in (0, None):
                log('%s exited with status %s' % (self.name, rc))
            return rc
        return None

    def cleanup_files(self):
        """Hugepage files and EAL runtime directories of the gateway's
        --file-prefix, and under the keeper of the gateways it ran
        (PREFIX-k0, PREFIX-k1); called once they have all exited."""
        for f in glob.glob('/dev/hugepages/%s*' % self.prefix):
            os.unlink(f)
        for p in [self.prefix] + ([] if self.keeper is None else
                                  [self.prefix + '-k0', self.prefix + '-k1']):
            shutil.rmtree('/var/run/dpdk/' + p, ignore_errors=True)


class Ctl:
    """vhostgw's control socket: one JSON object per line each way."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise E2EError('control socket %s: %s' % (path, e))
        self.f = self.sock.makefile('rb')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def read(self):
        """Next object (a reply, or an event after subscribe)."""
        line = self.f.readline()
        if not line:
            raise E2EError('control socket closed')
        return json.loads(line)

    def request(self, cmd, **args):
        msg = dict(args, cmd=cmd)
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        r = self.read()
        if not r.get('ok'):
            raise E2EError('control %s: %s' % (msg, r.get('error', r)))
        return r

    def close(self):
        self.f.close()
        self.sock.close()


# ---------------------------------------------------------------------------
# Phase events as an operator sees them: usertools/vhostgw-ctl watch --json

VHOSTGW_CTL = os.path.normpath(os.path.join(HERE, '..', '..', 'usertools', 'vhostgw-ctl'))


def _pair(p):
    """('running', 'suspended') from a tuple or 'running->suspended'."""
    if isinstance(p, str):
        a, b = p.split('->')
        return a.strip(), b.strip()
    return tuple(p)


class Watch:
    """`vhostgw-ctl -s SOCKET watch --json` on one gateway, a child process
    the Run owns; its stdout (one JSON event per line) goes to
    e2e-logs/NAME/GW-watch.log and is read as it arrives. Start it before the
    action; it lives as long as that gateway process (make a new one after
    gw.start() again).

        w = e2e.Watch(gw)                 # before the action
        t = time.monotonic()
        ... action ...
        evs = w.expect_sequence('vm1', ['running->suspended',
                                        'suspended->running'], since=t)
        e2e.log('vm1: ' + w.fmt(evs, t))  # vm1: suspended +0.01 s, running +5.03 s

    Every event gets 't': its 'ts' (the gateway's wall clock) on the host's
    monotonic clock, the clock of time.monotonic(), Ping.t and console lines.
    The watch proves it missed nothing: it records each device's phase right
    after the subscription and checks that every event's 'from' is the phase
    before it. With the testpmd stand-in (no control socket) it is disabled:
    expect_sequence logs that and returns []."""

    def __init__(self, gw, timeout=10.0):
        self.gw, self.run = gw, gw.run
        self.name = gw.name + '-watch'
        self.enabled = gw.backend == 'vhostgw'
        self.initial = {}           # device -> phase at the start of the watch
        self.proc = self.console = None
        self._errors = []
        self._parsed = 0
        self._events = []
        self.t_start = time.monotonic()
        if not self.enabled:
            log('%s: phase events not watched (%s stand-in)' % (self.name, gw.backend))
            return
        if not os.path.isfile(VHOSTGW_CTL):
            raise E2EError('%s not found' % VHOSTGW_CTL)
        self._wall = time.time() - time.monotonic()
        argv = [sys.executable, VHOSTGW_CTL, '-s', gw.control_socket, 'watch', '--json']
        self.proc = Proc(self.run, self.name, argv,
                         os.path.join(self.run.logdir, self.name + '.log'))
        self.console = Console(self.proc.log_path, self.proc)
        self.run._watches.append(self)
        self._wait_connected(timeout)
        self.initial = {d['name']: d.get('phase') for d in gw.ctl('devices')['devices']}
        log('%s: subscribed; phases %s' % (self.name, ' '.join(
            '%s=%s' % kv for kv in sorted(self.initial.items()))))

    def _connected(self):
        """The watcher has a connected unix socket (its control connection)."""
        pid = self.proc.pid
        inodes = set()
        try:
            for fd in os.listdir('/proc/%d/fd' % pid):
                try:
                    m = re.match(r'socket:\[(\d+)\]$', os.readlink('/proc/%d/fd/%s' % (pid, fd)))
                except OSError:
                    continue
                if m:
                    inodes.add(m.group(1))
            with open('/proc/%d/net/unix' % pid) as f:
                rows = [l.split() for l in f.readlines()[1:]]
        except OSError:
            return False
        # Num RefCount Protocol Flags Type St Inode [Path]; St 03: connected
        return any(len(r) >= 7 and r[6] in inodes and r[5] == '03' for r in rows)

    def _wait_connected(self, timeout):
        end = time.monotonic() + timeout
        while not self._connected():
            self._parse()
            if self._errors or not self.proc.alive():
                raise E2EError('%s: vhostgw-ctl watch failed (status %s):\n%s'
                               % (self.name, self.proc.p.poll(), self.proc.tail()))
            if time.monotonic() > end:
                raise E2EError('%s: vhostgw-ctl watch not connected to %s within %.0f s'
                               % (self.name, self.gw.control_socket, timeout))
            time.sleep(0.02)
        # it sends subscribe right after connecting: give the gateway's
        # control thread a moment to serve it (the 'from' chain checks it)
        time.sleep(0.1)

    def _parse(self):
        if self.console is None:
            return
        with self.console._cond:
            lines = self.console.lines[self._parsed:]
            self._parsed += len(lines)
        for t_arrival, text in lines:
            if not text.strip():
                continue
            try:
                ev = json.loads(text)
            except ValueError:
                ev = None
            if not isinstance(ev, dict) or 'event' not in ev:
                self._errors.append(text)
                continue
            ev['t'] = ev['ts'] - self._wall if isinstance(ev.get('ts'), (int, float)) \
                else t_arrival
            ev['t_arrival'] = t_arrival
            self._events.append(ev)

    def events(self, device=None, since=None):
        """Phase events seen so far (of device, with t >= since)."""
        self._parse()
        return [e for e in self._events if e.get('event') == 'phase' and
                (device is None or e.get('device') == device) and
                (since is None or e['t'] >= since)]

    def _chain_problem(self, device):
        """None, or what breaks 'from == the phase before'."""
        prev = self.initial.get(device)
        for e in self.events(device):
            if e.get('from') != prev:
                return ('event %s -> %s follows phase %r: the watch missed an event'
                        % (e.get('from'), e.get('phase'), prev))
            prev = e.get('phase')
        return None

    @staticmethod
    def fmt(evs, t0):
        """'suspended +0.01 s, running +5.03 s': each event's new phase, time
        relative to t0 (host monotonic)."""
        return ', '.join('%s %+.2f s' % (e['phase'], e['t'] - t0) for e in evs) or '(none)'

    def history(self, device, t0):
        """Every event of device so far, for logs: 'idle -> connected +0.1 s (input: reason)'."""
        return '\n'.join('    %s -> %s %+.2f s (%s: %s)' % (
            e.get('from'), e.get('phase'), e['t'] - t0, e.get('input'), e.get('reason'))
            for e in self.events(device)) or '    (no events)'

    def _failure(self, device, msg, t0):
        gwlog = ''
        if self.gw.proc:
            try:
                with open(self.gw.proc.log_path, errors='replace') as f:
                    gwlog = '\n'.join('    | ' + l.rstrip() for l in f
                                      if ': phase ' in l or 'inputs lost' in l)
            except OSError:
                pass
        return E2EError('%s: %s %s\n  events of %s (times relative to %.2f):\n%s%s\n'
                        '  gateway log, phase lines (%s):\n%s'
                        % (self.name, device, msg, device, t0 - T0, self.history(device, t0),
                           ('\n  vhostgw-ctl said:\n' + '\n'.join('    | ' + l for l in self._errors))
                           if self._errors else '',
                           self.gw.proc.log_path if self.gw.proc else '-', gwlog or '    (none)'))

    def expect_sequence(self, device, pairs, timeout=30.0, since=None, what=None):
        """Wait until device's events with t >= since are exactly pairs
        ([(from, phase)] or ['from->phase']), in order, nothing else in
        between, and the device's event chain has no hole. Returns the events.
        Fails at once on an unexpected event, after timeout if some are
        missing. It returns as soon as they match: call it once the scenario
        gave stray events time to come (it also does not wait when they are
        there already)."""
        if not self.enabled:
            log('%s: %s: phase sequence not checked (%s stand-in)'
                % (self.name, device, self.gw.backend))
            return []
        want = [_pair(p) for p in pairs]
        t0 = since if since is not None else self.t_start
        desc = ', '.join('%s -> %s' % p for p in want)
        end = time.monotonic() + timeout
        while True:
            evs = self.events(device, since)
            got = [(e.get('from'), e.get('phase')) for e in evs]
            if got[:len(want)] != want[:len(got)] or len(got) > len(want):
                raise self._failure(device, 'expected exactly [%s]%s, got [%s]'
                                    % (desc, ' (%s)' % what if what else '',
                                       ', '.join('%s -> %s' % p for p in got)), t0)
            if got == want:
                break
            if self._errors or not self.proc.alive():
                raise self._failure(device, 'vhostgw-ctl watch stopped (status %s) after [%s]'
                                    % (self.proc.p.poll(), ', '.join('%s -> %s' % p for p in got)),
                                    t0)
            if time.monotonic() > end:
                raise self._failure(device, 'expected [%s]%s within %.0f s, got only [%s]'
                                    % (desc, ' (%s)' % what if what else '', timeout,
                                       ', '.join('%s -> %s' % p for p in got)), t0)
            time.sleep(0.05)
        problem = self._chain_problem(device)
        if problem:
            raise self._failure(device, problem, t0)
        return evs

    def stop(self):
        """Stop vhostgw-ctl by PID; what it printed stays readable."""
        if self.proc:
            self._parse()
            alive = self.proc.alive()
            self.proc.stop(5)
            self.console.close()
            self._parse()
            log('%s: stopped pid %d%s; %d event(s) in %s'
                % (self.name, self.proc.pid, '' if alive else ' (had exited: %s)'
                   % self.proc.p.returncode, len(self._events), self.proc.log_path))


# ---------------------------------------------------------------------------
# Serial console with host timestamps

class Console:
    def __init__(self, path, proc):
        self.path, self.proc = path, proc
        self.lines = []         # (host monotonic time, text)
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        buf = b''
        f = None
        while not self._stop:
            if f is None:
                try:
                    f = open(self.path, 'rb')
                except FileNotFoundError:
                    time.sleep(0.05)
                    continue
            data = f.read()
            if data:
                now = time.monotonic()
                buf += data
                parts = buf.split(b'\n')
                buf = parts.pop()
                with self._cond:
                    for p in parts:
                        self.lines.append((now, p.decode(errors='replace').rstrip('\r')))
                    self._cond.notify_all()
            else:
                time.sleep(0.03)
        if f:
            f.close()

    def close(self):
        self._stop = True
        self._thread.join(2)

    def find(self, pattern, start=0):
        """All (index, time, match) of pattern from line index start."""
        rx = re.compile(pattern)
        with self._cond:
            lines = self.lines[start:]
        out = []
        for i, (t, text) in enumerate(lines, start):
            m = rx.search(text)
            if m:
                out.append((i, t, m))
        return out

    def wait(self, pattern, timeout, start=0, what=None):
        """First (index, time, match) of pattern at or after line `start`."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        i = start
        while True:
            with self._cond:
                while i < len(self.lines):
                    t, text = self.lines[i]
                    m = rx.search(text)
                    if m:
                        return i, t, m
                    if 'VGW-ERROR' in text:
                        raise E2EError('guest reported: %s\n%s' % (text, self.tail()))
                    i += 1
                left = end - time.monotonic()
                if left <= 0:
                    raise E2EError('timeout (%.0f s) waiting for %s on %s; console tail:\n%s'
                                   % (timeout, what or repr(pattern), self.path, self.tail()))
                self._cond.wait(min(left, 0.2))
            if not self.proc.alive():
                time.sleep(0.2)         # let the reader drain the file
                with self._cond:
                    if i < len(self.lines):
                        continue
                raise E2EError('QEMU %s (pid %d) exited (%s) while waiting for %s;\n'
                               'console:\n%s\nqemu log:\n%s'
                               % (self.proc.name, self.proc.pid, self.proc.p.returncode,
                                  what or repr(pattern), self.tail(), self.proc.tail()))

    def tail(self, n=30):
        with self._cond:
            return '\n'.join('    | ' + l for _, l in self.lines[-n:])


# ---------------------------------------------------------------------------
# QMP

class Qmp:
    def __init__(self, path, proc, timeout=30.0):
        end = time.monotonic() + timeout
        while True:
            proc.check_alive()
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > end:
                    raise E2EError('QMP socket %s did not come up' % path)
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.f = self.sock.makefile('rb')
        self.events = []
        greeting = self._read()
        if 'QMP' not in greeting:
            raise E2EError('bad QMP greeting: %r' % greeting)
        self.cmd('qmp_capabilities')

    def _read(self):
        line = self.f.readline()
        if not line:
            raise E2EError('QMP connection closed')
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            r = self._read()
            if 'event' in r:
                self.events.append(r)
                continue
            if 'error' in r:
                raise E2EError('QMP %s %s: %s' % (name, args, r['error']))
            return r.get('return')

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Guests

class Guest:
    def __init__(self, run, name, nics, fs=(), incoming=None, kernel_args='',
                 qemu_args=(), **params):
        """nics: [{'socket', 'mac', 'reconnect'}] (Gateway.nic());
        fs: [{'socket', 'tag'}] vhost-user-fs devices (mount one in the guest
        with mount=TAG); params: vgw.KEY=VALUE words for guest-init.sh."""
        self.run, self.name, self.nics = run, name, nics
        self.params = params
        self.incoming = incoming
        self.serial_path = os.path.join(run.logdir, name + '.console.log')
        self.qmp_path = os.path.join(run.workdir, name + '.qmp')
        append = ['console=ttyS0', 'panic=-1', 'quiet', 'loglevel=3',
                  'mitigations=off'] + kernel_args.split()
        append += ['vgw.%s=%s' % (k, v) for k, v in params.items()]
        argv = list(run.qemu)
        argv += ['-name', name, '-machine', 'pc', '-accel', 'tcg',
                 '-cpu', 'max', '-smp', '1', '-m', GUEST_MEM,
                 '-object', 'memory-backend-memfd,id=mem,size=%s,share=on' % GUEST_MEM,
                 '-numa', 'node,memdev=mem',
                 '-kernel', run.kernel, '-initrd', run.initramfs(),
                 '-append', ' '.join(append),
                 '-nographic', '-nodefaults', '-no-user-config', '-no-reboot',
                 '-serial', 'file:' + self.serial_path,
                 '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path]
        for i, n in enumerate(nics):
            chardev = 'socket,id=c%d,path=%s' % (i, n['socket'])
            if n.get('reconnect'):
                # 'reconnect' is deprecated since QEMU 9.2 for reconnect-ms
                chardev += ',reconnect=1' if run.qemu_version < (9, 2) \
                    else ',reconnect-ms=1000'
            # a device of several queue pairs: as many on the NIC (the
            # guest enables as many as it has vCPUs)
            mq = n.get('queues', 1)
            netdev = 'vhost-user,id=n%d,chardev=c%d' % (i, i)
            nic = 'virtio-net-pci,netdev=n%d,vectors=0,romfile=,mac=%s' % (i, n['mac'])
            if mq > 1:
                netdev += ',queues=%d' % mq
                nic += ',mq=on'
            argv += ['-chardev', chardev, '-netdev', netdev, '-device', nic]
        for i, f in enumerate(fs):
            argv += ['-chardev', 'socket,id=fs%d,path=%s' % (i, f['socket']),
                     '-device', 'vhost-user-fs-pci,chardev=fs%d,tag=%s' % (i, f['tag'])]
        if incoming:
            argv += ['-incoming', 'unix:' + incoming]
        argv += list(qemu_args)
        self.argv = argv
        for p in (self.serial_path, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        self.proc = Proc(run, name, argv, os.path.join(run.logdir, name + '.qemu.log'))
        self.console = Console(self.serial_path, self.proc)
        self.t_start = time.monotonic()
        self._qmp = None
        run._guests.append(self)

    @property
    def qmp(self):
        if self._qmp is None:
            self._qmp = Qmp(self.qmp_path, self.proc)
        return self._qmp

    def wait(self, pattern, timeout=120.0, start=0, what=None):
        """Wait for a console line; returns the re match (see wait_line)."""
        return self.wait_line(pattern, timeout, start, what)[2]

    def wait_line(self, pattern, timeout=120.0, start=0, what=None):
        return self.console.wait(pattern, timeout, start, what)

    def wait_ready(self, timeout=120.0):
        _, t, m = self.wait_line(r'VGW-READY .*up=([\d.]+)', timeout, what='VGW-READY')
        log('%s: VGW-READY %.1f s after start (guest uptime %s s)'
            % (self.name, t - self.t_start, m.group(1)))
        return t

    def pings(self, start=0):
        """Per-ping lines: list of Ping."""
        return [Ping(int(m.group(1)), m.group(2) == '1', float(m.group(3)), t)
                for _, t, m in self.console.find(
                    r'VGW-PING seq=(\d+) ok=([01]) up=([\d.]+)', start)]

    def wait_pings(self, n, timeout=60.0, after=None, what=None):
        """Wait until n successful pings arrived at host time > after."""
        after = after if after is not None else 0.0
        end = time.monotonic() + timeout
        while True:
            ok = [p for p in self.pings() if p.ok and p.t > after]
            if len(ok) >= n:
                return ok
            if time.monotonic() > end:
                raise E2EError('%s: %d/%d successful pings %s within %.0f s; console:\n%s'
                               % (self.name, len(ok), n, what or '', timeout,
                                  self.console.tail()))
            self.proc.check_alive()
            time.sleep(0.1)

    def init_count(self):
        return len(self.console.find(r'VGW-INIT '))

    def quit(self):
        if self._qmp:
            try:
                self._qmp.cmd('quit')
            except (E2EError, OSError):
                pass
            self._qmp.close()
            self._qmp = None
        self.proc.stop(5)
        self.console.close()


class Ping:
    __slots__ = ('seq', 'ok', 'up', 't')

    def __init__(self, seq, ok, up, t):
        self.seq, self.ok, self.up, self.t = seq, ok, up, t

    def __repr__(self):
        return 'Ping(seq=%d ok=%d up=%.2f t=%.2f)' % (self.seq, self.ok, self.up, self.t - T0)


def largest_gap(pings):
    """(gap seconds, ping before, ping after) between successive good pings,
    on host time; pings may come from several consoles (migration)."""
    ok = sorted((p for p in pings if p.ok), key=lambda p: p.t)
    best = (0.0, None, None)
    for a, b in zip(ok, ok[1:]):
        if b.t - a.t > best[0]:
            best = (b.t - a.t, a, b)
    return best


def migrate(src, dst, uri, timeout=120.0, bandwidth=1 << 30):
    """QMP migrate src -> dst (started with incoming=uri) until completed.
    Returns query-migrate's final reply, with 'elapsed' (host seconds)."""
    dst.qmp                     # destination listening and QMP up
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': bandwidth})
    t = time.monotonic()
    src.qmp.cmd('migrate', uri='unix:' + uri)
    end = t + timeout
    last = None
    while True:
        r = src.qmp.cmd('query-migrate')
        st = r.get('status')
        if st != last:
            log('migration: %s (%.2f s)' % (st, time.monotonic() - t))
            last = st
        if st == 'completed':
            r['elapsed'] = time.monotonic() - t
            return r
        if st in ('failed', 'cancelled'):
            raise E2EError('migration %s: %s; src qemu:\n%s\ndst qemu:\n%s'
                           % (st, r.get('error-desc', r), src.proc.tail(), dst.proc.tail()))
        src.proc.check_alive()
        dst.proc.check_alive()
        if time.monotonic() > end:
            raise E2EError('migration not completed within %.0f s: %s' % (timeout, r))
        time.sleep(0.1)


# ---------------------------------------------------------------------------
# The Run: resources, clean-up, results

class Run:
    def __init__(self, name, args):
        self.name, self.args = name, args
        self._procs, self._netns, self._gateways, self._guests = [], [], [], []
        self._watches = []
        self._lock = None
        self._initramfs = None
        self._guest_files = {}
        self.qemu_name = getattr(args, 'qemu', None) or '7.2'
        self.qemu = None            # argv prefix, once preflight() found it
        self.qemu_full = None       # the version it printed: '10.0.2'
        self.results = {}
        self.t0 = time.monotonic()
        build = os.path.abspath(args.build_dir)
        self.cache_dir = os.path.join(build, 'e2e-cache')
        self.logdir = os.path.join(build, 'e2e-logs', name)
        shutil.rmtree(self.logdir, ignore_errors=True)
        os.makedirs(self.logdir)
        self.workdir = tempfile.mkdtemp(prefix='vgw-e2e-%s-' % name)

    def preflight(self):
        if os.geteuid() != 0:
            raise E2EError('e2e tests need root (network namespaces, hugepages)')
        self.qemu, self.qemu_full = qemu_command(self.qemu_name)
        log('QEMU %s: %s' % (self.qemu_full, ' '.join(self.qemu)))
        which('ip')
        if self.args.backend == 'vhostgw':
            vg = self.args.vhostgw
            if not vg or not os.access(vg, os.X_OK):
                raise E2EError('vhostgw binary not found or not executable: %r '
                               '(ninja -C build)' % vg)
        else:
            which(TESTPMD)
        self.kernel, self.kver = find_kernel()
        check_hugepages(0)

    def lock_machine(self):
        self._lock = open(MACHINE_LOCK, 'a')
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log('waiting for %s' % MACHINE_LOCK)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        log('holding %s' % MACHINE_LOCK)

    @property
    def qemu_version(self):
        """(major, minor) of the QEMU in use."""
        return tuple(int(x) for x in (self.qemu_full or self.qemu_name).split('.')[:2])

    def initramfs(self):
        if self._initramfs is None:
            self._initramfs = build_initramfs(self.cache_dir, self.kver,
                                              extra=self._guest_files or None)
        return self._initramfs

    def add_guest_file(self, path, data):
        """Put a file in the guests' initramfs (before the first guest)."""
        if self._initramfs is not None:
            raise E2EError('add_guest_file(%s) after the initramfs was built' % path)
        self._guest_files[path.lstrip('/')] = data

    def add_guest_program(self, name, src):
        """/bin/NAME in the guests: the C program src (guest_program())."""
        self.add_guest_file('bin/' + name, guest_program(self.cache_dir, src))

    def netns(self, tag):
        return Netns(self, tag)

    def gateway(self, name, ns, devices, links, start=True, **kw):
        gw = Gateway(self, name, ns, devices, links, **kw)
        if start:
            gw.start()
        return gw

    def guest(self, name, nics, **kw):
        return Guest(self, name, nics, **kw)

    def result(self, **kv):
        """Record and print measured values (seconds as floats)."""
        self.results.update(kv)
        log('RESULT ' + _fmt(kv))

    def cleanup(self):
        """Stop every process this run started (guests first), by PID, and
        remove what it created. Returns problems found on the way: a gateway
        (clean_exit) that does not exit with status 0 on SIGTERM."""
        problems = []
        for g in reversed(self._guests):
            if g._qmp:
                g._qmp.close()
        guests = [g.proc for g in self._guests]
        for p in [p for p in reversed(self._procs) if p in guests] + \
                 [p for p in reversed(self._procs) if p not in guests]:
            if p.alive():
                log('stopping %s pid %d' % (p.name, p.pid))
                rc = p.stop(10)
                if p.clean_exit and rc != 0:
                    problems.append('%s (pid %d) exited with status %s on SIGTERM; log %s:\n%s'
                                    % (p.name, p.pid, rc, p.log_path, p.tail(10)))
            else:
                p.stop(5)
        for g in self._guests:
            g.console.close()
        for w in self._watches:
            w.console.close()
        for gw in self._gateways:
            gw.cleanup_files()
        for ns in reversed(self._netns):
            ns.delete()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self._lock:
            self._lock.close()
            self._lock = None
        return problems


def _fmt(kv):
    return ' '.join('%s=%s' % (k, ('%.3f' % v) if isinstance(v, float) else v)
                    for k, v in kv.items())


def expect(cond, msg):
    if not cond:
        raise E2EError(msg)


def _sigalrm(signum, frame):
    raise E2EError('scenario budget exceeded (SIGALRM)')


def _sigterm(signum, frame):
    raise E2EError('terminated by signal %d' % signum)


def main(name, scenario, argv=None):
    """Entry point of a test file: run `scenario(run)`, clean up, exit 0/1."""
    ap = argparse.ArgumentParser(description='vhostgw e2e scenario ' + name)
    ap.add_argument('--vhostgw', help='path of the vhostgw binary')
    ap.add_argument('--keeper', help='path of the vhostgw-keeper binary (keeper scenarios)')
    ap.add_argument('--build-dir', required=True, help='for caches and logs')
    ap.add_argument('--backend', choices=('vhostgw', 'testpmd'),
                    default=os.environ.get('VGW_E2E_BACKEND', 'vhostgw'),
                    help='testpmd: DPDK vhost PMD stand-in (development only)')
    ap.add_argument('--qemu', choices=QEMUS, default=os.environ.get('VGW_E2E_QEMU', '7.2'),
                    help='the front-end: 7.2 (qemu-system-x86_64 in PATH, the default) or '
                    '10.0 (%s, or VGW_E2E_QEMU10_DIR; usertools/vhostgw-setup qemu10); '
                    'the scenario\'s logs go to e2e-logs/NAME-q10 with 10.0' % QEMU10_DIR)
    ap.add_argument('--budget', type=int, default=180,
                    help='seconds the scenario may take once it holds the machine '
                    'lock (meson\'s timeout also covers waiting for the lock)')
    args = ap.parse_args(argv)
    if args.qemu != '7.2':
        name += '-q' + args.qemu.split('.')[0]
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGHUP, _sigterm)
    run = Run(name, args)
    ok = False
    try:
        log('e2e %s: backend %s, QEMU %s, logs in %s'
            % (name, args.backend, args.qemu, run.logdir))
        run.preflight()
        run.lock_machine()
        run.t0 = time.monotonic()
        signal.signal(signal.SIGALRM, _sigalrm)
        signal.alarm(args.budget)
        _stale_netns_cleanup()
        scenario(run)
        ok = True
    except E2EError as e:
        log('FAIL: %s' % e)
    except BaseException:
        log('FAIL: exception')
        traceback.print_exc()
        sys.stdout.flush()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            problems = run.cleanup()
            if ok and problems:
                ok = False
                for pb in problems:
                    log('FAIL: %s' % pb)
        except Exception:
            traceback.print_exc()
            ok = False
    dur = time.monotonic() - run.t0
    log('e2e %s: %s in %.1f s %s' % (name, 'PASS' if ok else 'FAIL', dur,
                                      _fmt(run.results)))
    sys.exit(0 if ok else 1)
