#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""libvirt drives the VM: Debian 12's libvirt 9.0 defines and starts the
domain of config/libvirt-domain.xml (TCG, shared memfd memory, direct kernel
boot) with two vhost-user NICs and a virtio-fs share, all three served by
one vhostgw running under vhostgw-keeper:

- NIC 1 on vm1, vhostgw the server, QEMU the client with reconnect; NIC 2 on
  vm2, vhostgw the client of QEMU's socket; the share on fs1, vhostgw the
  server (libvirt's externally started virtio-fs back-end). Each NIC is
  cross-connected to a net_tap uplink in the test's namespace.
- QEMU runs as libvirt-qemu: it reaches vm1's and fs1's sockets only
  because the config gives them socket_group libvirt-qemu and socket_mode
  0660 (asserted on the socket files); nobody runs chmod.

The guest (guest-init.sh scenario netfs) checks a file the host put in the
share (md5), then steps forever: a ping on each NIC, a line appended to a
file of the share through one descriptor held open, the count read back.
`virsh suspend` / `virsh resume` show on the control socket as
running -> suspended -> running for all three devices; the gateway is
killed (SIGKILL) and restarted by the keeper with the domain untouched (no
reconnect, every device resumed in the new gateway); pings are lost only
inside those two windows, no share step ever fails, the guest is never
reset and logs no virtio error; `virsh destroy` ends it, the gateway keeps
running, and the host's copy of the guest's file holds every line once, in
order. libvirt's daemons are started here (foreground, stopped by PID at
the end) when none answer, as on a host without systemd."""

import grp
import hashlib
import os
import pwd
import re
import shutil
import string
import subprocess
import time
import types

import vgw_e2e as e2e

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN_XML = os.path.join(HERE, '..', '..', 'config', 'libvirt-domain.xml')
VIRSH = ['virsh', '-q', '-c', 'qemu:///system']
LIBVIRTD, VIRTLOGD = '/usr/sbin/libvirtd', '/usr/sbin/virtlogd'
QEMU_USER = 'libvirt-qemu'
QEMU_GROUP = 'libvirt-qemu'
TAG = 'lvshare'
IP1, PEER1 = '10.77.30.2/24', '10.77.30.1'
IP2, PEER2 = '10.77.31.2/24', '10.77.31.1'
PEER2_MAC = '02:77:00:00:00:02'
DEVICES = ('vm1', 'vm2', 'fs1')
SUSPEND_S = 3.0
SLACK_S = 3.0                   # a ping's timeout and a step's pause after
KLOG_BAD = r'virtio.*(error|not a head|id \d+ is not)|watchdog: BUG|Oops|Kernel panic'


def virsh(*args, check=True, timeout=60):
    r = subprocess.run(VIRSH + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    out = r.stdout.decode(errors='replace').strip()
    if check and r.returncode != 0:
        raise e2e.E2EError('virsh %s: exit %d: %s' % (' '.join(args), r.returncode, out))
    return r.returncode, out


def libvirt_up(run):
    """libvirt's daemons: those running, or started here in the foreground
    (the run stops them by PID)."""
    for p in ('virsh', LIBVIRTD, VIRTLOGD):
        if not shutil.which(p):
            raise e2e.E2EError('%s not found: libvirt is not installed '
                               '(usertools/vhostgw-setup installs libvirt-daemon-system)' % p)
    if virsh('version', check=False, timeout=20)[0] == 0:
        e2e.log('libvirt: daemons already running')
        return
    logd = e2e.Proc(run, 'virtlogd', [VIRTLOGD], os.path.join(run.logdir, 'virtlogd.log'))
    d = e2e.Proc(run, 'libvirtd', [LIBVIRTD], os.path.join(run.logdir, 'libvirtd.log'))
    end = time.monotonic() + 30
    while virsh('version', check=False, timeout=20)[0] != 0:
        logd.check_alive()
        d.check_alive()
        e2e.expect(time.monotonic() < end, 'libvirtd did not answer within 30 s:\n' + d.tail())
        time.sleep(0.3)
    e2e.log('libvirt: %s' % virsh('version')[1].replace('\n', '; '))


class DomainProc:
    """The QEMU that libvirt started, as far as Console and Guest need a
    process: alive while its pid lives; its log is libvirt's."""

    def __init__(self, dom):
        self.name = dom
        self.log_path = '/var/log/libvirt/qemu/%s.log' % dom
        with open('/run/libvirt/qemu/%s.pid' % dom) as f:
            self.pid = int(f.read().strip())
        self.p = types.SimpleNamespace(returncode=None)

    def alive(self):
        try:
            with open('/proc/%d/stat' % self.pid) as f:
                return f.read().split(') ')[-1][0] != 'Z'
        except OSError:
            return False

    def tail(self, n=25):
        return e2e.tail_file(self.log_path, n)

    def check_alive(self):
        if not self.alive():
            raise e2e.E2EError('QEMU of domain %s (pid %d) is gone; libvirt log %s:\n%s'
                               % (self.name, self.pid, self.log_path, self.tail()))


class DomainGuest(e2e.Guest):
    """A Guest whose QEMU libvirt started: console and pings as for others."""

    def __init__(self, run, name, console_path, proc):
        self.run, self.name, self.nics, self.params = run, name, [], {}
        self.incoming, self.serial_path = None, console_path
        self.proc = proc
        self.console = e2e.Console(console_path, proc)
        self.t_start = time.monotonic()
        self._qmp = None

    def steps(self, start=0):
        """(time, seq, p1, p2, fs, lines) of every VGW-NETFS line."""
        return [(t, int(m.group(1)), m.group(2) == '1', m.group(3) == '1', m.group(4) == '1',
                 int(m.group(5)))
                for _, t, m in self.console.find(
                    r'VGW-NETFS seq=(\d+) p1=([01]) p2=([01]) fs=([01]) lines=(\d+)', start)]

    def wait_steps(self, n, after, timeout, what):
        """n steps with both pings and the share step good, after `after`."""
        end = time.monotonic() + timeout
        while True:
            good = [s for s in self.steps() if s[0] > after and s[2] and s[3] and s[4]]
            if len(good) >= n:
                return good
            if time.monotonic() > end:
                raise e2e.E2EError('%s: %d/%d good steps %s within %.0f s; console:\n%s'
                                   % (self.name, len(good), n, what, timeout,
                                      self.console.tail()))
            self.proc.check_alive()
            time.sleep(0.1)


def owned(path, group, mode):
    st = os.stat(path)
    return grp.getgrgid(st.st_gid).gr_name == group and (st.st_mode & 0o777) == mode, \
        '%s: group %s mode %o' % (path, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o777)


def qemu_user(pid):
    with open('/proc/%d/status' % pid) as f:
        uid = int(re.search(r'(?m)^Uid:\s+(\d+)', f.read()).group(1))
    return pwd.getpwuid(uid).pw_name


def scenario(run):
    pw = pwd.getpwnam(QEMU_USER)
    ns = run.netns('lv')
    # QEMU (libvirt-qemu) must reach the sockets below the run's directory
    os.chmod(run.workdir, 0o711)
    share = os.path.join(run.workdir, 'share')
    os.makedirs(share)
    data = os.urandom(256 * 1024)
    with open(os.path.join(share, 'host-file'), 'wb') as f:
        f.write(data)
    qdir = os.path.join(run.workdir, 'qemu')       # QEMU's own socket (NIC 2)
    os.makedirs(qdir)
    os.chown(qdir, pw.pw_uid, pw.pw_gid)
    own = {'socket_group': QEMU_GROUP, 'socket_mode': '0660'}
    vm1 = dict(e2e.net('vm1'), **own)
    vm2 = e2e.net('vm2', mode='client', socket_path=os.path.join(qdir, 'vm2.sock'))
    fs1 = dict(e2e.fs('fs1', share, TAG), **own)
    gw = run.gateway('gw', ns, [vm1, vm2, fs1, e2e.tap('up1', 'vgwlv1'),
                                e2e.tap('up2', 'vgwlv2')],
                     [e2e.xconnect('vm1', 'up1'), e2e.xconnect('vm2', 'up2')],
                     keeper=['--stable-ms', '500'])
    ns.link_addr('vgwlv1', PEER1 + '/24', mac=e2e.PEER_MAC)
    ns.link_addr('vgwlv2', PEER2 + '/24', mac=PEER2_MAC)
    for d in ('vm1', 'fs1'):
        ok, what = owned(gw.socket(d), QEMU_GROUP, 0o660)
        e2e.expect(ok, 'socket ownership not applied: ' + what)
    w = e2e.Watch(gw)

    libvirt_up(run)
    dom = 'vgw-e2e-%d' % os.getpid()
    kernel = os.path.join(run.workdir, 'vmlinuz')
    initrd = os.path.join(run.workdir, 'initrd')
    shutil.copy(run.kernel, kernel)
    shutil.copy(run.initramfs(), initrd)
    console = os.path.join(run.logdir, 'g1.console.log')
    open(console, 'w').close()
    os.chown(console, pw.pw_uid, pw.pw_gid)
    mac1, mac2 = e2e.mac(0x61), e2e.mac(0x62)
    cmdline = ' '.join(['console=ttyS0', 'panic=-1', 'quiet', 'loglevel=3', 'mitigations=off',
                        'vgw.scenario=netfs', 'vgw.mount=' + TAG, 'vgw.mac=' + mac1,
                        'vgw.ip=' + IP1, 'vgw.peer=' + PEER1, 'vgw.mac2=' + mac2,
                        'vgw.ip2=' + IP2, 'vgw.peer2=' + PEER2,
                        'vgw.md5=' + hashlib.md5(data).hexdigest()])
    with open(DOMAIN_XML) as f:
        xml = string.Template(f.read()).substitute(
            name=dom, kernel=kernel, initrd=initrd, cmdline=cmdline, console=console,
            mac1=mac1, net1=gw.socket('vm1'), mac2=mac2, net2=gw.socket('vm2'),
            fs=gw.socket('fs1'), tag=TAG)
    xml_path = os.path.join(run.logdir, dom + '.xml')
    with open(xml_path, 'w') as f:
        f.write(xml)

    g = None
    try:
        virsh('define', xml_path)
        t_start = time.monotonic()
        virsh('start', dom, timeout=120)
        proc = DomainProc(dom)
        user = qemu_user(proc.pid)
        e2e.log('domain %s started in %.1f s: QEMU pid %d runs as %s'
                % (dom, time.monotonic() - t_start, proc.pid, user))
        e2e.expect(user == QEMU_USER, 'QEMU runs as %s, not %s: the socket ownership is not '
                   'what this scenario tests' % (user, QEMU_USER))
        g = DomainGuest(run, 'g1', console, proc)
        t_ready = g.wait_ready(180)
        m = g.wait(r'VGW-FSREAD ok=([01]) md5=(\S+)', 60, what='VGW-FSREAD')
        e2e.expect(m.group(1) == '1', 'the guest read the share file with md5 %s, not %s'
                   % (m.group(2), hashlib.md5(data).hexdigest()))
        g.wait_steps(10, 0, 90, 'after boot')
        for d in DEVICES:
            ph = gw.ctl('device', device=d)['device']['phase']
            e2e.expect(ph == 'running', '%s is %s with the guest running' % (d, ph))

        # virsh suspend / resume: phases on the control socket
        t_susp = time.monotonic()
        virsh('suspend', dom)
        e2e.expect('paused' in virsh('domstate', dom)[1], 'domain not paused')
        time.sleep(SUSPEND_S)
        t_res = time.monotonic()
        virsh('resume', dom)
        e2e.expect('running' in virsh('domstate', dom)[1], 'domain not running')
        g.wait_steps(10, t_res, 60, 'after resume')
        for d in DEVICES:
            evs = w.expect_sequence(d, ['running->suspended', 'suspended->running'],
                                    since=t_susp, timeout=10, what='virsh suspend, resume')
            e2e.log('%s phases: %s (resume at %+.2f s)'
                    % (d, w.fmt(evs, t_susp), t_res - t_susp))
            e2e.expect(evs[0]['t'] <= t_res and evs[1]['t'] >= t_res,
                       '%s: suspended/running not around the resume: %s'
                       % (d, w.fmt(evs, t_susp)))

        # the gateway killed, restarted by the keeper; the domain untouched
        n = {d: len(gw.replays(d)) for d in DEVICES}
        gw.kill_gateway()
        t_kill = time.monotonic()
        end = t_kill + 30
        while not all(len(gw.replays(d)) > n[d] for d in DEVICES):
            gw.proc.check_alive()
            e2e.expect(time.monotonic() < end, 'no replay of every device within 30 s; '
                       'keeper log:\n%s' % gw.proc.tail())
            time.sleep(0.05)
        # the new gateway made the net_tap uplinks anew: their host ends get
        # their addresses again (a physical uplink would not need this)
        for tap, peer, pmac in (('vgwlv1', PEER1, e2e.PEER_MAC), ('vgwlv2', PEER2, PEER2_MAC)):
            ns.wait_link(tap, 20, gw.proc)
            ns.link_addr(tap, peer + '/24', mac=pmac)
        t_replay = time.monotonic()
        g.wait_steps(10, t_replay, 60, 'after the gateway restart')
        rec = {d: gw.replays(d)[-1] for d in DEVICES}
        for d in DEVICES:
            ph = gw.ctl('device', device=d)['device']['phase']
            e2e.expect(ph == 'resumed', '%s is %s in the new gateway' % (d, ph))
        out = gw.keeper_log()
        e2e.expect('front-end connection closed' not in out,
                   'a front-end connection was not kept across the restart')

        # what the guest saw
        steps = g.steps()
        windows = [(t_susp, t_res + SLACK_S), (t_kill, t_replay + SLACK_S)]
        bad_fs = [s for s in steps if not s[4]]
        e2e.expect(not bad_fs, 'share steps failed: %r' % bad_fs[:5])
        stray = [s for s in steps if not (s[2] and s[3]) and
                 not any(a <= s[0] <= b for a, b in windows)]
        e2e.expect(not stray, 'pings lost outside the suspend and restart windows: %r'
                   % stray[:5])
        e2e.expect(g.init_count() == 1, 'the guest was reset')
        bad = g.console.find(KLOG_BAD)
        e2e.expect(not bad, 'guest console: %s' % (bad[0][2].group(0) if bad else ''))
        last = steps[-1][1]

        # virsh destroy: the domain goes, the gateway stays
        virsh('destroy', dom)
        e2e.expect('shut off' in virsh('domstate', dom)[1], 'domain not shut off')
        end = time.monotonic() + 10
        while proc.alive():
            e2e.expect(time.monotonic() < end, 'QEMU pid %d still alive after destroy'
                       % proc.pid)
            time.sleep(0.1)
        gw.proc.check_alive()
        with open(os.path.join(share, 'guest-log')) as f:
            lines = f.read().splitlines()
        e2e.expect(len(lines) >= last and lines == ['seq=%d' % i
                                                    for i in range(1, len(lines) + 1)],
                   'the share file holds %d lines (last step %d), not seq=1..N in order: %r'
                   % (len(lines), last, lines[:3] + ['...'] + lines[-3:]))
        run.result(boot_s=t_ready - t_start, steps=len(steps), lines=len(lines),
                   suspend_window=t_res - t_susp, recovery_ms_vm1=rec['vm1'],
                   recovery_ms_vm2=rec['vm2'], recovery_ms_fs1=rec['fs1'])
    finally:
        if virsh('domstate', dom, check=False)[0] == 0:
            virsh('destroy', dom, check=False)
            virsh('undefine', dom, check=False)
        if g is not None:
            g.console.close()
        w.stop()


if __name__ == '__main__':
    e2e.main('libvirt', scenario)
