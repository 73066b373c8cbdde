# SPDX-License-Identifier: BSD-3-Clause
"""vhostgw-bench tcp: guest-to-guest TCP throughput.

Two real Linux guests (QEMU 7.2, TCG, the e2e harness's busybox initramfs)
on one back-end; one streams into the other over TCP: guest-init.sh's
scenario httpload, the server guest (vgw.get=0) serves SIZE MiB of random
data with busybox httpd, the client guest downloads it COUNT times in a row.
--sink says where the timed downloads go:

  null (default)  one download checked by md5 first (wget -O - | md5sum,
                  untimed: the GET-CHECK line), then the COUNT timed ones
                  into /dev/null (wget -O /dev/null; wget fails on a body
                  shorter than its Content-Length): the figure is the
                  network path's, not the client guest's md5 speed
  md5             every timed download through md5sum (wget -O - | md5sum,
                  as e2e-onecopy_tcp), every md5 checked

Either way the md5 of what arrived is checked against what was served in
every measurement. Before the downloads the client guest also times SIZE
MiB of /dev/zero through a pipe into md5sum and straight into /dev/null
(vgw.calib, the CALIB line): what md5sum costs that guest without network.
Back-ends, one at a time, alternating (the order flips every round), every
measurement with a fresh back-end and two freshly booted guests:

  vhostgw      two net devices vm1, vm2, links [{"xconnect": ["vm1", "vm2"],
               "one_copy": true}] (the offloads are on by default on such a
               link: checksum and TSO pass guest to guest), --lcores 0@0,1@1
  testpmd      dpdk-testpmd, --vdev net_vhost0,iface=SOCK0,queues=1 --vdev
               net_vhost1,iface=SOCK1,queues=1, --forward-mode=io, its
               forwarding lcore on core 1 (--lcores 0@0,1@1)
  testpmd-tso  the same with tso=1 on both vhost ports (the vhost PMD offers
               HOST_TSO4/6 only with it; it always offers checksum and
               GUEST_TSO4/6)

Figure: MiB/s = COUNT x SIZE / (sum of the COUNT transfers' durations as the
guest timed them: uptime before wget to uptime after wget (null) or md5sum
(md5), the GET lines' secs=). The host-clock equivalent (console line
arrival times) is in the JSON. Ratios: vhostgw / testpmd and vhostgw / testpmd-tso per round (> 1.0:
vhostgw is faster), then their medians. This machine is shared: read the
same-run ratios, not the MiB/s.

Also reported: the virtio-net features the guests negotiated (vhostgw's
control socket `device`; testpmd's log), the gateway's offload counters
(`stats`: gso_passed ...), the mean frame the back-end forwarded (bytes /
frames, its counters), and the CPU the guests' vCPU threads and the
back-end used during the transfers.

Python 3 standard library only; tests/e2e/vgw_e2e.py does guest build,
boot, processes and clean-up. Holds /tmp/vhostgw-machine.lock for the whole
run. Exit status 0 when every measurement was made, 1 otherwise, 130 on
Ctrl-C.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import vgw_e2e as e2e  # noqa: E402
import test_migrate_load as ml  # noqa: E402  (transfers(), served_md5(), klog_bad())
import vhostgw_bench_common as common  # noqa: E402
# the helpers both benchmarks share (its log() also takes the harness's lines)
from vhostgw_bench_fs import (BenchError, _cpu_list, find_vhostgw, log,  # noqa: E402
                              machine_busy, worker_cpus)

BACKENDS = ('vhostgw', 'testpmd', 'testpmd-tso')
PROMPT = 'testpmd> '
SERVER_IP, CLIENT_IP = '10.77.9.2', '10.77.9.3'
HUGE_DIR = '/dev/hugepages'
CLK_TCK = os.sysconf('SC_CLK_TCK')
SINKS = ('null', 'md5')
CALIB = r'VGW-CALIB mib=(\d+) md5=([\d.]+) null=([\d.]+)'
GET_CHECK = r'VGW-GET-CHECK rc=(\d+) md5=(\S+) secs=([\d.]+) klog=(\d+)'
# virtio-net feature bits worth showing
FEATURE_BITS = (('CSUM', 0), ('GUEST_CSUM', 1), ('GUEST_TSO4', 7), ('GUEST_TSO6', 8),
                ('GUEST_ECN', 9), ('GUEST_UFO', 10), ('HOST_TSO4', 11), ('HOST_TSO6', 12),
                ('HOST_ECN', 13), ('HOST_UFO', 14), ('MRG_RXBUF', 15),
                ('INDIRECT_DESC', 28), ('EVENT_IDX', 29), ('VERSION_1', 32))
OFFLOAD_BITS = ('CSUM', 'GUEST_CSUM', 'GUEST_TSO4', 'GUEST_TSO6', 'HOST_TSO4', 'HOST_TSO6')



def feature_names(f):
    return [n for n, b in FEATURE_BITS if (f >> b) & 1]


def fmt_features(f):
    if f is None:
        return '-'
    return '%#x (%s)' % (f, ' '.join(feature_names(f)) or '-')


# ---------------------------------------------------------------------------
# CPU accounting (host)

def _stat_ticks(path):
    try:
        with open(path) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rfind(')') + 2:].split()
    return st[st.find('(') + 1:st.rfind(')')], int(fields[11]) + int(fields[12])


def proc_ticks(pid):
    """utime + stime of a process (all its threads)."""
    r = _stat_ticks('/proc/%d/stat' % pid)
    return r[1] if r else 0


def thread_ticks(pid):
    """{thread name: utime + stime} of one process."""
    out = {}
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return out
    for tid in tids:
        r = _stat_ticks('/proc/%d/task/%s/stat' % (pid, tid))
        if r:
            name = re.sub(r'-\d+$', '', r[0]) or '?'
            out[name] = out.get(name, 0) + r[1]
    return out


def vcpu_tids(pid):
    """Thread ids of a QEMU's vCPU threads (named with -name ...,debug-threads=on)."""
    out = []
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return out
    for tid in tids:
        r = _stat_ticks('/proc/%d/task/%s/stat' % (pid, tid))
        if r and ('TCG' in r[0] or r[0].startswith('CPU ')):
            out.append(int(tid))
    return out


def running_on(pid, tid):
    """The CPU a thread is running on now, None when it is not running."""
    try:
        with open('/proc/%d/task/%d/stat' % (pid, tid)) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rfind(')') + 2:].split()
    return int(fields[36]) if fields[0] == 'R' else None


# ---------------------------------------------------------------------------
# Back-ends

def remove_dpdk_files(prefix):
    """Hugepage files and the EAL runtime directory of one --file-prefix."""
    try:
        names = os.listdir(HUGE_DIR)
    except OSError:
        names = []
    for name in names:
        if name.startswith(prefix + 'map_') or name.startswith(prefix + '_'):
            try:
                os.unlink(os.path.join(HUGE_DIR, name))
            except OSError:
                pass
    for d in ('/var/run/dpdk', '/run/dpdk'):
        shutil.rmtree(os.path.join(d, prefix), ignore_errors=True)


class VhostgwBackend:
    """vhostgw: vm1 <-> vm2, one-copy xconnect (the e2e harness's Gateway)."""

    def __init__(self, run, ns, args, name):
        self.kind = 'vhostgw'
        self.gw = run.gateway(name, ns, [e2e.net('vm1'), e2e.net('vm2')],
                              [e2e.xconnect('vm1', 'vm2', one_copy=True)],
                              lcores=args.lcores, mem_mb=args.mem)
        self.proc = self.gw.proc
        self.sockets = [self.gw.socket('vm1'), self.gw.socket('vm2')]

    def features(self):
        out = {}
        for d in ('vm1', 'vm2'):
            dev = self.gw.ctl('device', device=d)['device']
            out[d] = dict(features=dev.get('features'), copy=dev.get('copy'),
                          offloads=dev.get('offloads'), ready=dev.get('ready'))
        return out

    def counters(self):
        st = {d['name']: d for d in self.gw.ctl('stats')['devices']}
        out = {}
        for d in ('vm1', 'vm2'):
            s = st[d]
            out[d] = {k: s.get(k) for k in ('rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes',
                                            'drops', 'malformed')}
            out[d]['offload'] = s.get('offload')
        return out

    def stop(self):
        rc = self.gw.stop()
        if rc not in (0, None):
            log('warning: %s exited with status %s' % (self.gw.name, rc))
        self.gw.cleanup_files()


class TestpmdBackend:
    """dpdk-testpmd, two net_vhost ports, io forwarding; interactive, driven
    through its stdin (as usertools/vhostgw-bench drives its baseline)."""

    def __init__(self, run, ns, args, name, tso):
        self.kind = 'testpmd-tso' if tso else 'testpmd'
        self.name = name
        self.prefix = 'vgwbt%d%s' % (os.getpid(), re.sub(r'[^a-z0-9]', '', name))
        rundir = os.path.join(run.workdir, name)
        os.makedirs(rundir, exist_ok=True)
        self.sockets = [os.path.join(rundir, 'vm1.sock'), os.path.join(rundir, 'vm2.sock')]
        free = e2e._meminfo().get('HugePages_Free', 0) * \
            e2e._meminfo().get('Hugepagesize', 2048) // 1024
        if free < args.mem:
            raise BenchError('%d MiB of hugepages free, testpmd -m %d needs more'
                             % (free, args.mem))
        vdevs = []
        for i, s in enumerate(self.sockets):
            vdevs += ['--vdev', 'net_vhost%d,iface=%s,queues=1%s' % (i, s, ',tso=1' if tso else '')]
        argv = ['ip', 'netns', 'exec', ns.name, 'stdbuf', '-o0', args.testpmd, '--no-pci',
                '--file-prefix=' + self.prefix, '-m', str(args.mem), '--lcores=' + args.lcores,
                '--huge-unlink'] + vdevs + ['--', '-i', '--nb-cores=1', '--forward-mode=io']
        self.proc = e2e.Proc(run, name, argv, os.path.join(run.logdir, name + '.log'),
                             stdin=subprocess.PIPE)
        try:
            self._wait(lambda out: PROMPT in out, 60, 'the first prompt')
            self.cmd('start')
            end = time.monotonic() + 10
            for s in self.sockets:
                while True:
                    self.proc.check_alive()
                    try:
                        if (os.stat(s).st_mode & 0o170000) == 0o140000:
                            break
                    except FileNotFoundError:
                        pass
                    if time.monotonic() > end:
                        raise BenchError('%s: no socket %s:\n%s' % (name, s, self.proc.tail()))
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def output(self):
        try:
            with open(self.proc.log_path, 'rb') as f:
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def _wait(self, cond, timeout, what, start=0):
        end = time.monotonic() + timeout
        while True:
            out = self.output()[start:]
            if cond(out):
                return out
            if not self.proc.alive():
                raise BenchError('%s exited (%s) waiting for %s:\n%s'
                                 % (self.name, self.proc.p.returncode, what, self.proc.tail()))
            if time.monotonic() > end:
                raise BenchError('%s: no %s within %.0f s:\n%s'
                                 % (self.name, what, timeout, self.proc.tail()))
            time.sleep(0.02)

    def cmd(self, line, timeout=30, expect=None):
        """One command; returns its output (up to the next prompt). The vhost
        library logs from its own thread: expect, a regex, says what the
        output must hold besides a prompt."""
        start = len(self.output())
        try:
            self.proc.p.stdin.write((line + '\n').encode())
            self.proc.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise BenchError('%s exited:\n%s' % (self.name, self.proc.tail()))
        rx = re.compile(expect, re.S) if expect else None
        return self._wait(lambda out: PROMPT in out and (rx is None or rx.search(out)),
                          timeout, "'%s' done" % line, start)

    def features(self):
        """Last 'negotiated Virtio features' logged per socket."""
        out = {}
        for i, s in enumerate(self.sockets):
            ms = re.findall(r'\(%s\) negotiated Virtio features: (0x[0-9a-fA-F]+)'
                            % re.escape(s), self.output())
            out['vm%d' % (i + 1)] = dict(features=int(ms[-1], 16) if ms else None)
        return out

    def counters(self):
        out = self.cmd('show port stats all',
                       expect=r'NIC statistics for port 1.*?TX-bytes:\s*\d+')
        res = {}
        for m in re.finditer(r'NIC statistics for port (\d+).*?RX-packets:\s*(\d+)\s+'
                             r'RX-missed:\s*(\d+)\s+RX-bytes:\s*(\d+).*?'
                             r'TX-packets:\s*(\d+)\s+TX-errors:\s*(\d+)\s+TX-bytes:\s*(\d+)',
                             out, re.S):
            # port N is vm(N+1); its RX is what that guest sent
            res['vm%d' % (int(m.group(1)) + 1)] = dict(
                rx_packets=int(m.group(2)), rx_bytes=int(m.group(4)),
                tx_packets=int(m.group(5)), tx_bytes=int(m.group(7)),
                drops=int(m.group(6)), rx_missed=int(m.group(3)))
        if len(res) < 2:
            raise BenchError('%s: cannot parse port stats:\n%s' % (self.name, out))
        return res

    def stop(self):
        if self.proc.alive():
            try:
                self.proc.p.stdin.write(b'stop\nquit\n')
                self.proc.p.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.p.wait(30)
            except subprocess.TimeoutExpired:
                log('%s (pid %d) did not quit' % (self.name, self.proc.pid))
        rc = self.proc.stop(10)
        if rc not in (0, None):
            log('warning: %s exited with status %s' % (self.name, rc))
        remove_dpdk_files(self.prefix)


# ---------------------------------------------------------------------------
# One measurement: a back-end, two guests, COUNT downloads

class Measurement:
    def __init__(self, run, ns, args, kind, rnd):
        self.run, self.ns, self.args, self.kind, self.rnd = run, ns, args, kind, rnd
        self.be = None
        self.guests = []

    def measure(self):
        a = self.args
        tag = '%s-%d' % (self.kind, self.rnd)
        try:
            if self.kind == 'vhostgw':
                self.be = VhostgwBackend(self.run, self.ns, a, 'gw-%d' % self.rnd)
            else:
                self.be = TestpmdBackend(self.run, self.ns, a, 'tp-' + tag,
                                         self.kind == 'testpmd-tso')
            common = dict(kernel_args='loglevel=5', scenario='httpload')
            srv = self.run.guest(
                'srv-' + tag, [{'socket': self.be.sockets[0], 'mac': e2e.mac(0x60),
                                'reconnect': False}],
                ip=SERVER_IP + '/24', peer=CLIENT_IP, size=a.size_mib, get=0,
                qemu_args=('-name', 'srv-%s,debug-threads=on' % tag), **common)
            self.guests.append(srv)
            cli = self.run.guest(
                'cli-' + tag, [{'socket': self.be.sockets[1], 'mac': e2e.mac(0x61),
                                'reconnect': False}],
                ip=CLIENT_IP + '/24', peer=SERVER_IP, size=1, get=1, count=a.count,
                sink=a.sink, calib=a.size_mib,
                qemu_args=('-name', 'cli-%s,debug-threads=on' % tag), **common)
            self.guests.append(cli)
            if a.qemu_cpus:
                for g in (srv, cli):
                    e2e.sh(['taskset', '-a', '-p', '-c', a.qemu_cpus, str(g.proc.pid)])
            return self._collect(srv, cli)
        finally:
            self.stop()

    def _snap(self, srv, cli):
        return dict(t=time.monotonic(), busy=machine_busy(), me=proc_ticks(os.getpid()),
                    be=proc_ticks(self.be.proc.pid),
                    srv=proc_ticks(srv.proc.pid), cli=proc_ticks(cli.proc.pid),
                    srv_th=thread_ticks(srv.proc.pid), cli_th=thread_ticks(cli.proc.pid))

    def _collect(self, srv, cli):
        a = self.args
        md5 = ml.served_md5(srv, 120 + a.size_mib, a.size_mib)
        _, t_up, _ = cli.wait_line(r'VGW-HTTP-UP ', 120, what='the client reaching the httpd')
        res = dict(backend=self.kind, round=self.rnd, boot_to_http_up=round(t_up - cli.t_start, 2),
                   size_mib=a.size_mib, count=a.count, md5=md5, sink=a.sink)
        res['features'] = self.be.features()
        # the client times md5sum without network before its downloads
        m = cli.wait(CALIB, 60 + 2 * a.size_mib, what='the client\'s md5sum calibration')
        res['calib'] = dict(mib=int(m.group(1)), md5_s=float(m.group(2)),
                            null_s=float(m.group(3)))
        if a.sink == 'null':
            # the download checked by md5 before the timed ones
            m = cli.wait(GET_CHECK, 60 + 2 * a.size_mib, what='the checked download')
            chk = dict(rc=int(m.group(1)), md5=m.group(2), secs=float(m.group(3)),
                       klog=int(m.group(4)))
            if chk['rc'] != 0 or chk['md5'] != md5:
                raise BenchError('the checked download failed or differs from what was served '
                                 '(md5 %s): %r' % (md5, chk))
            chk['mib_s'] = a.size_mib / max(chk['secs'], 1e-3)
            res['check'] = chk
        s0 = None
        # where the vCPU threads run during the transfers (sampled every
        # 0.1 s while runnable): with --qemu-cpus none, next to the
        # back-end's polling lcore or not
        tids = {k: (g.proc.pid, vcpu_tids(g.proc.pid)) for k, g in (('srv', srv), ('cli', cli))}
        on = {k: {} for k in tids}
        end = time.monotonic() + 60 + a.count * (30 + a.size_mib)
        while True:
            xs = ml.transfers(cli)
            if s0 is None and xs:
                s0 = self._snap(srv, cli)
            if s0 is not None:
                for k, (pid, ts) in tids.items():
                    for t in ts:
                        c = running_on(pid, t)
                        if c is not None:
                            on[k][c] = on[k].get(c, 0) + 1
            want = md5 if a.sink == 'md5' else '-'
            bad = [x for x in xs if x.t_end is not None and (x.rc != 0 or x.md5 != want)]
            if bad:
                raise BenchError('downloads failed or differ from what was served (md5 %s): %r'
                                 % (md5, bad))
            for g in (srv, cli):
                err = ml.klog_bad(g)
                if err:
                    raise BenchError(str(err))
                g.proc.check_alive()
            done = [x for x in xs if x.t_end is not None]
            if len(done) >= a.count:
                break
            if time.monotonic() > end:
                raise BenchError('%d of %d downloads done within %.0f s: %r'
                                 % (len(done), a.count, 60 + a.count * (30 + a.size_mib), xs))
            time.sleep(0.1)
        s1 = self._snap(srv, cli)
        xs = done[:a.count]
        secs = [x.secs for x in xs]
        host = [x.t_end - x.t_start for x in xs]
        mib = a.count * a.size_mib
        res.update(
            mib_s=mib / sum(secs),
            mib_s_median=statistics.median([a.size_mib / s for s in secs]),
            mib_s_host=mib / (xs[-1].t_end - xs[0].t_start),
            secs=[round(s, 3) for s in secs], host_secs=[round(s, 3) for s in host],
            klog=max(x.klog for x in xs))
        res['counters'] = self.be.counters()
        span = max(s1['t'] - s0['t'], 1e-3)

        def cores(k):
            return round((s1[k] - s0[k]) / CLK_TCK / span, 3)

        def vcpu(k):
            th0, th1 = s0[k + '_th'], s1[k + '_th']
            n = [t for t in th1 if 'TCG' in t or t.startswith('CPU ')]
            return round(sum(th1[t] - th0.get(t, 0) for t in n) / CLK_TCK / span, 3) if n else None

        ours = (s1['be'] - s0['be']) + (s1['srv'] - s0['srv']) + (s1['cli'] - s0['cli']) + \
            (s1['me'] - s0['me'])
        res['cpu'] = dict(window_s=round(span, 2), backend_cores=cores('be'),
                          server_qemu_cores=cores('srv'), client_qemu_cores=cores('cli'),
                          server_vcpu=vcpu('srv'), client_vcpu=vcpu('cli'),
                          server_vcpu_on={str(c): round(n / max(sum(on['srv'].values()), 1), 2)
                                          for c, n in sorted(on['srv'].items())},
                          client_vcpu_on={str(c): round(n / max(sum(on['cli'].values()), 1), 2)
                                          for c, n in sorted(on['cli'].items())},
                          other_cores=round(max(s1['busy'] - s0['busy'] - ours, 0)
                                            / CLK_TCK / span, 3))
        # e.g. 'TCP: eth0: Driver has suspect GRO implementation, TCP
        # performance may be compromised.': frames longer than the MSS
        # arrived without a segmentation size
        res['kernel_tcp_notes'] = {
            g.name.split('-')[0]: sorted({re.sub(r'^\[\s*[\d.]+\]\s*', '', m.string.strip())
                                          for _, _, m in g.console.find(r'\] TCP: ')})
            for g in (srv, cli)}
        c = res['counters'].get('vm1', {})
        if c.get('rx_packets'):
            res['mean_frame'] = round(c['rx_bytes'] / c['rx_packets'])
        return res

    def stop(self):
        """Guests first, then the back-end, by PID."""
        for g in reversed(self.guests):
            try:
                g.quit()
            except Exception as e:      # noqa: BLE001 (go on stopping the rest)
                log('warning: stopping %s: %s' % (g.name, e))
        if self.be is not None:
            self.be.stop()


# ---------------------------------------------------------------------------
# Summary

def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def guests_cores(r):
    """Both guests' QEMU processes during the timed downloads, in cores."""
    return r['cpu']['server_qemu_cores'] + r['cpu']['client_qemu_cores']


def md5_share(r):
    """What md5sum (and the pipe to it) costs the client guest, as a share
    of one timed download: (calibration through md5sum - into /dev/null) x
    size / calibration size, over the mean transfer time; with --sink null
    the share it would add to the transfer."""
    c = r['calib']
    extra = (c['md5_s'] - c['null_s']) * r['size_mib'] / c['mib']
    t = statistics.mean(r['secs'])
    return extra / t if r['sink'] == 'md5' else extra / (t + extra)


def summarize(results, rounds, kinds, max_other_load):
    by = {(r['round'], r['backend']): r for r in results}
    rows = []
    ratios = {k: [] for k in kinds if k != 'vhostgw'}
    for rnd in range(1, rounds + 1):
        row = dict(round=rnd)
        for k in kinds:
            r = by.get((rnd, k))
            row[k] = r['mib_s'] if r else None
        g = row.get('vhostgw')
        for k in ratios:
            v = row.get(k)
            row['vhostgw/' + k] = g / v if g is not None and v else None
            if row['vhostgw/' + k] is not None:
                ratios[k].append(row['vhostgw/' + k])
        row['boot_s'] = {k: by[(rnd, k)]['boot_to_http_up'] for k in kinds if by.get((rnd, k))}
        row['disturbed'] = [k for k in kinds if by.get((rnd, k)) and
                            by[(rnd, k)]['cpu']['other_cores'] > max_other_load]
        rows.append(row)
    summary = {}
    for k in kinds:
        rs = [r for r in results if r['backend'] == k]
        summary[k] = dict(
            median_mib_s=_med([r['mib_s'] for r in rs]),
            median_mean_frame=_med([r.get('mean_frame') for r in rs]),
            median_client_vcpu=_med([r['cpu']['client_vcpu'] for r in rs]),
            median_server_vcpu=_med([r['cpu']['server_vcpu'] for r in rs]),
            median_backend_cores=_med([r['cpu']['backend_cores'] for r in rs]),
            median_guests_cores=_med([guests_cores(r) for r in rs]),
            median_guests_ms_per_mib=_med([1000 * guests_cores(r) / r['mib_s'] for r in rs]),
            median_calib_md5_s=_med([r['calib']['md5_s'] for r in rs]),
            median_calib_null_s=_med([r['calib']['null_s'] for r in rs]),
            median_md5_share=_med([md5_share(r) for r in rs]),
            median_check_mib_s=_med([r['check']['mib_s'] for r in rs if 'check' in r]),
            measurements=len(rs))
    for k, rt in ratios.items():
        summary['vhostgw/' + k] = dict(median_ratio=_med(rt), min_ratio=min(rt) if rt else None,
                                       max_ratio=max(rt) if rt else None, ratios=rt)
    return rows, summary


def _f(v, spec, width):
    return '%*s' % (width, '-') if v is None else '%*s' % (width, format(v, spec))


def print_table(rows, summary, results, args, kinds):
    print('vhostgw-bench tcp: %d rounds, alternating; guest %s downloads %d MiB %d times '
          'from guest %s' % (args.rounds, CLIENT_IP, args.size_mib, args.count, SERVER_IP))
    if args.sink == 'md5':
        print('(busybox httpd -> wget -O - | md5sum, every md5 checked); QEMU 7.2 TCG, 1 vCPU, '
              '%s each; QEMU threads on CPUs %s' % (e2e.GUEST_MEM, args.qemu_cpus or
                                                    'any: not pinned'))
    else:
        print('(busybox httpd -> wget -O /dev/null, after one untimed download through md5sum, '
              'its md5 checked); QEMU 7.2 TCG, 1 vCPU, %s each; QEMU threads on CPUs %s'
              % (e2e.GUEST_MEM, args.qemu_cpus or 'any: not pinned'))
    print('MiB/s = %d x %d MiB / sum of the %d transfers\' durations (guest clock, wget start '
          'to %s end)' % (args.count, args.size_mib, args.count,
                          'md5sum' if args.sink == 'md5' else 'wget'))
    print('vhostgw: %s, one-copy xconnect, lcores %s; testpmd: %s, net_vhost x2, io, lcores %s, '
          '-m %d' % (args.vhostgw, args.lcores, args.testpmd, args.lcores, args.mem))
    print()
    others = [k for k in kinds if k != 'vhostgw']
    head = '%-6s' % 'round' + ''.join(' %13s' % (k + ' MiB/s') for k in kinds)
    if 'vhostgw' in kinds:
        head += ''.join(' %19s' % ('vhostgw/' + k) for k in others)
    print(head + '  boot s')
    for row in rows:
        line = '%-6d' % row['round'] + ''.join(' %13s' % _f(row[k], '.2f', 13) for k in kinds)
        if 'vhostgw' in kinds:
            line += ''.join(' %19s' % _f(row['vhostgw/' + k], '.3f', 19) for k in others)
        line += '  ' + '/'.join('%.0f' % row['boot_s'][k] if k in row['boot_s'] else '-'
                                for k in kinds)
        if row['disturbed']:
            line += '  (other load: %s)' % ','.join(row['disturbed'])
        print(line)
    print('(boot s: QEMU start to the client reaching the httpd, per back-end in the '
          'columns\' order; it moves with the machine\'s slow phases)')
    print()
    line = '%-6s' % 'median' + ''.join(' %13s' % _f(summary[k]['median_mib_s'], '.2f', 13)
                                      for k in kinds)
    if 'vhostgw' in kinds:
        line += ''.join(' %19s' % _f(summary['vhostgw/' + k]['median_ratio'], '.3f', 19)
                        for k in others)
    print(line)
    if 'vhostgw' in kinds:
        for k in others:
            s = summary['vhostgw/' + k]
            print('vhostgw/%s: median %s (min %s, max %s, %d rounds)'
                  % (k, _f(s['median_ratio'], '.3f', 0), _f(s['min_ratio'], '.3f', 0),
                     _f(s['max_ratio'], '.3f', 0), len(s['ratios'])))
    print()
    print('per back-end (medians): mean frame the sender put through (bytes), CPU during the '
          'transfers (cores; guests: both guests\' QEMU processes), guests\' CPU per MiB (ms)')
    print('%-12s %10s %12s %12s %12s %12s %12s' % ('backend', 'mean frame', 'client vCPU',
                                                   'server vCPU', 'guests', 'back-end',
                                                   'guests ms/MiB'))
    for k in kinds:
        s = summary[k]
        print('%-12s %10s %12s %12s %12s %12s %12s' % (
            k, _f(s['median_mean_frame'], '.0f', 10), _f(s['median_client_vcpu'], '.2f', 12),
            _f(s['median_server_vcpu'], '.2f', 12), _f(s['median_guests_cores'], '.2f', 12),
            _f(s['median_backend_cores'], '.2f', 12),
            _f(s['median_guests_ms_per_mib'], '.1f', 12)))
    print()
    print('md5sum in the client guest (medians): %d MiB of /dev/zero through a pipe into md5sum '
          'and into /dev/null, no network (s); md5 share: what md5sum and its pipe cost, as a '
          'share of %s' % (args.size_mib, 'a timed download' if args.sink == 'md5' else
                           'a timed download with them added'))
    print('%-12s %10s %10s %10s %s' % ('backend', 'md5sum s', 'null s', 'md5 share',
                                       '' if args.sink == 'md5' else
                                       ' checked download (md5sum) MiB/s'))
    for k in kinds:
        s = summary[k]
        print('%-12s %10s %10s %10s %s' % (
            k, _f(s['median_calib_md5_s'], '.2f', 10), _f(s['median_calib_null_s'], '.2f', 10),
            _f(s['median_md5_share'], '.2f', 10),
            '' if args.sink == 'md5' else _f(s['median_check_mib_s'], '.2f', 32)))
    print()
    print('negotiated virtio-net features (vm1: the server guest, sender; vm2: the client):')
    for k in kinds:
        rs = [r for r in results if r['backend'] == k]
        if not rs:
            continue
        seen = {}
        for r in rs:
            for d, f in r['features'].items():
                seen.setdefault(d, set()).add(f.get('features'))
        for d in sorted(seen):
            fs = sorted(seen[d], key=lambda x: -1 if x is None else x)
            print('  %-12s %s: %s' % (k, d, '; '.join(fmt_features(f) for f in fs)))
    gw = [r for r in results if r['backend'] == 'vhostgw']
    if gw:
        print()
        print('vhostgw stats per measurement (vm1 sends the stream, vm2 the ACKs):')
        for r in gw:
            c = r['counters']
            print('  round %d: %s' % (r['round'], '; '.join(
                '%s rx %d frames %.1f MiB, drops %s, malformed %s, offload %s'
                % (d, c[d]['rx_packets'], c[d]['rx_bytes'] / 1048576.0, c[d]['drops'],
                   c[d]['malformed'], json.dumps(c[d]['offload'], separators=(',', ':')))
                for d in ('vm1', 'vm2'))))
    notes = sorted({(r['backend'], g, n) for r in results
                    for g, ns in r.get('kernel_tcp_notes', {}).items() for n in ns})
    if notes:
        print()
        print('guest kernel TCP messages (measurements with it / of the back-end):')
        for k, g, n in notes:
            rs = [r for r in results if r['backend'] == k]
            hit = len([r for r in rs if n in r['kernel_tcp_notes'].get(g, [])])
            print('  %-12s %s: %s (%d/%d)' % (k, {'srv': 'server', 'cli': 'client'}.get(g, g),
                                             n, hit, len(rs)))
    disturbed = [(r['round'], r['backend'], r['cpu']['other_cores']) for r in results
                 if r['cpu']['other_cores'] > args.max_other_load]
    if disturbed:
        print()
        print('note: other processes used more than %g cores during: %s' % (
            args.max_other_load, ', '.join('round %d %s (%.2f)' % d for d in disturbed)))


# ---------------------------------------------------------------------------
# Driver

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog='vhostgw-bench tcp',
        description='Guest-to-guest TCP throughput (two QEMU 7.2 TCG guests, busybox httpd '
        '-> wget) through vhostgw (one-copy xconnect, offloads on) and through dpdk-testpmd\'s '
        'vhost PMD in io mode (without and with tso=1), alternating; prints the ratios.')
    ap.add_argument('--vhostgw', help='the vhostgw binary (default: build/app/vhostgw/'
                    'vhostgw under the repository root, then PATH)')
    ap.add_argument('--testpmd', default=shutil.which('dpdk-testpmd') or '/usr/bin/dpdk-testpmd',
                    help='dpdk-testpmd binary (default: from PATH)')
    ap.add_argument('--rounds', type=int, default=3, help='rounds (default 3)')
    ap.add_argument('--size-mib', type=int, default=64,
                    help='MiB the server guest serves, per download (default 64)')
    ap.add_argument('--count', type=int,
                    help='timed downloads per measurement, one after the other (default 10 '
                    'with --sink null, 3 with md5)')
    ap.add_argument('--sink', choices=SINKS, default='null',
                    help='where the timed downloads go: null (default; wget -O /dev/null, '
                    'after one download checked by md5) or md5 (wget -O - | md5sum, each '
                    'checked)')
    ap.add_argument('--backends', default=','.join(BACKENDS),
                    help='comma-separated subset of %s (default: all)' % ','.join(BACKENDS))
    ap.add_argument('--lcores', default='0@0,1@1',
                    help='EAL --lcores of both vhostgw and testpmd (default 0@0,1@1: the '
                    'polling lcore on core 1)')
    ap.add_argument('--mem', type=int, default=512, help='-m MiB of the back-end (default 512)')
    ap.add_argument('--qemu-cpus', default='auto', metavar='LIST',
                    help='CPUs of every QEMU thread (taskset -a), the same for every back-end. '
                    'auto (default): the CPUs the back-end\'s polling lcore does not use '
                    '(with --lcores 0@0,1@1: 0); none: not pinned')
    ap.add_argument('--build-dir', default='/tmp/vhostgw-bench-tcp',
                    help='initramfs cache and logs (e2e-logs/tcpbench); default '
                    '/tmp/vhostgw-bench-tcp')
    ap.add_argument('--max-other-load', type=float, default=0.3, metavar='CORES',
                    help='flag measurements during which other processes used more CPU '
                    '(default 0.3 cores)')
    ap.add_argument('--json', action='store_true', help='print JSON instead of the table')
    ap.add_argument('--save', metavar='FILE', help='also write the JSON to FILE')
    args = ap.parse_args(argv)
    if args.count is None:
        # into /dev/null a download takes under a second here
        args.count = 10 if args.sink == 'null' else 3
    if args.rounds < 1 or args.size_mib < 1 or args.count < 1:
        ap.error('--rounds, --size-mib and --count must be positive')
    args.kinds = [k.strip() for k in args.backends.split(',') if k.strip()]
    if not args.kinds or any(k not in BACKENDS for k in args.kinds):
        ap.error('--backends: a comma-separated subset of %s' % ','.join(BACKENDS))
    args.kinds = [k for k in BACKENDS if k in args.kinds]
    if args.qemu_cpus == 'auto':
        with open('/sys/devices/system/cpu/online') as f:
            online = _cpu_list(f.read().strip())
        free = sorted(online - worker_cpus(args.lcores))
        args.qemu_cpus = ','.join(map(str, free)) if free else None
    elif args.qemu_cpus == 'none':
        args.qemu_cpus = None
    return args


def main(argv):
    args = parse_args(argv)
    common.catch_signals()

    results, failures = [], []
    run = None
    rc = 0
    t_start = time.monotonic()
    try:
        args.vhostgw = find_vhostgw(args.vhostgw)
        if not shutil.which(args.testpmd):
            raise BenchError('%s not found (apt-get install dpdk)' % args.testpmd)
        if not shutil.which('stdbuf'):
            raise BenchError('stdbuf not found (coreutils)')
        if not os.path.ismount(HUGE_DIR):
            raise BenchError('%s is not a hugetlbfs mount' % HUGE_DIR)
        build = os.path.abspath(args.build_dir)
        run = e2e.Run('tcpbench', argparse.Namespace(build_dir=build, backend='vhostgw',
                                                     vhostgw=args.vhostgw))
        run.preflight()
        run.lock_machine()
        run.initramfs()
        t_start = time.monotonic()
        e2e._stale_netns_cleanup()
        ns = run.netns('tcp')
        for rnd, kind, res in common.rounds(
                args.rounds, args.kinds,
                lambda kind, rnd: Measurement(run, ns, args, kind, rnd).measure(),
                (e2e.E2EError, BenchError), failures, log):
            results.append(res)
            log('round %d, %-11s: %.2f MiB/s (transfers %s s; host clock %.2f MiB/s), '
                'mean frame %s B, client vCPU %s (on CPUs %s), server vCPU %s (on CPUs %s); '
                'calibration md5sum %.2f s, /dev/null %.2f s%s'
                % (rnd, kind, res['mib_s'], res['secs'], res['mib_s_host'],
                   res.get('mean_frame'), res['cpu']['client_vcpu'],
                   res['cpu']['client_vcpu_on'], res['cpu']['server_vcpu'],
                   res['cpu']['server_vcpu_on'], res['calib']['md5_s'], res['calib']['null_s'],
                   '; checked download %.2f MiB/s' % res['check']['mib_s']
                   if 'check' in res else ''))
    except (KeyboardInterrupt, e2e.E2EError, BenchError) as e:
        rc = common.stopped(e, log)
    finally:
        common.cleanup(run, log, hold_sigint=True)
    if failures and rc == 0:
        rc = 1
    if rc == 130 or not results:
        return rc or 1
    rows, summary = summarize(results, args.rounds, args.kinds, args.max_other_load)
    doc = dict(config=dict(rounds=args.rounds, size_mib=args.size_mib, count=args.count,
                           sink=args.sink,
                           backends=args.kinds, lcores=args.lcores, mem=args.mem,
                           vhostgw=args.vhostgw, testpmd=args.testpmd,
                           qemu_cpus=args.qemu_cpus, guest_mem=e2e.GUEST_MEM,
                           figure='count x size_mib / sum of the transfers\' guest-clock '
                           'durations'),
               rounds=rows, summary=summary, measurements=results, failures=failures,
               seconds=round(time.monotonic() - t_start, 1), complete=rc == 0)

    def table():
        print_table(rows, summary, results, args, args.kinds)
        print('\n%d measurements in %.0f s' % (len(results), time.monotonic() - t_start))
    common.output(args, doc, table)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
