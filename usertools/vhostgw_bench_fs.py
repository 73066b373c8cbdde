# SPDX-License-Identifier: BSD-3-Clause
"""vhostgw-bench fs: the virtio-fs benchmark.

The same real guest (QEMU 7.2, TCG, the e2e harness's busybox initramfs)
runs the same workloads against vhostgw and its peers, one back-end at a
time; every round measures every back-end, the order rotated by one per
round; every measurement gets a fresh share, back-end and guest. Back-ends
(usertools/vhostgw_bench_fsbackend.py, shared with fs-ring):

  vhostgw  one fs device (cache auto, the gateway's defaults; --gw-fs-opt),
           EAL --lcores 0@B,1@B: its control thread and its worker on CPU B
  c        /usr/lib/qemu/virtiofsd --socket-path=S -o source=DIR -o cache=auto
  rust     the Rust virtiofsd 1.13 (`vhostgw-setup virtiofsd-rs`), trixie's
           loader: --socket-path=S --shared-dir=DIR --cache=auto --sandbox=none

--peers picks the peers (default c,rust).

Same CPU budget: each back-end is started under taskset -c B (--backend-cpu,
default 1), so it and every thread it starts (vhostgw's worker lcore and
io_uring io-wq workers, virtiofsd's thread pools) may run on CPU B only; the
Cpus_allowed_list of every back-end thread is read every 0.1 s of the
measurement, and a thread allowed anywhere else fails it. QEMU's threads are
pinned to the other CPUs (--qemu-cpus, default: every online CPU but B) with
taskset -a right after QEMU starts, and checked the same way.

Workloads (guest-init.sh's scenario_fsbench; /bin/vgw-fsbench is a small
static C program built here with gcc -static -O2 and added to the initramfs):

  write     dd if=/dev/zero of=/mnt/seq bs=1M count=SIZE          MiB/s
  read      the same file after drop_caches, dd of=/dev/null bs=1M  MiB/s
  randread  4 KiB preads at random 4 KiB-aligned offsets of a
            RAND MiB file for SECONDS                               ops/s
            (default: buffered, POSIX_FADV_RANDOM and a DONTNEED of
            each page after its read, so that every read is one 4 KiB
            FUSE READ; --rand-mode direct: O_DIRECT)
  create    open(O_CREAT|O_EXCL) + close of FILES files             s
  stat      stat() of each (after drop_caches: one LOOKUP each)     s
  unlink    unlink() of each (after drop_caches)                    s
  guestcpu  (first; no file system) dd /dev/zero to /dev/null in the
            guest: how fast the guest itself runs next to this
            back-end                                                MiB/s

Before each phase the guest syncs, drops its caches and waits for a go file
that the host creates after a syncfs(2) of the share and a reading of the
counters; each phase is bracketed by "VGW-BENCH-T NAME.begin" / ".end"
console lines, and its duration is the difference of their host arrival
times (the harness timestamps console lines on the host clock; the guest's
own clock is kept in the JSON as a cross-check).

Controlled conditions: the share is a fresh ext4 (with journal, on a
loop-mounted image) per measurement, so no measurement inherits another's
file system state (the work directory's own file system may not have a
journal: ext4 then scans recently deleted inodes on every create, which
slows creates down run after run).

Per phase it also records: the back-end's and QEMU's CPU time by thread
name, the gateway's fs1 counters (requests, requests by FUSE opcode, errors,
bytes, busy share of the worker) and the guest's virtio interrupts (--json /
--save).

Ratios, per peer: vhostgw / peer for MiB/s and ops/s, peer / vhostgw for
seconds, so > 1.0 means vhostgw is better; the median of the per-round
ratios per workload is the headline.

Python 3 standard library only; tests/e2e/vgw_e2e.py does guest build,
boot, processes and clean-up. Holds /tmp/vhostgw-machine.lock for the whole
run. Exit status 0 when every measurement was made, 1 otherwise.
"""

import argparse
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import vgw_e2e as e2e  # noqa: E402
import vhostgw_bench_common as common  # noqa: E402
import vhostgw_bench_fsbackend as fsbe  # noqa: E402
from vhostgw_bench_fsbackend import BenchError  # noqa: E402,F401

VIRTIOFSD = fsbe.VIRTIOFSD_C
TAG = 'benchfs'
KINDS = ('vhostgw',) + fsbe.PEERS
# key, column title, unit, higher is better
WORKLOADS = (
    ('write', 'write', 'MiB/s', True),
    ('read', 'read', 'MiB/s', True),
    ('randread', 'rand4k', 'ops/s', True),
    ('create', 'create', 's', False),
    ('stat', 'stat', 's', False),
    ('unlink', 'unlink', 's', False),
    # not a file system workload: the guest's own speed (dd /dev/zero to
    # /dev/null) while the back-end runs, to tell a slower guest from a
    # slower back-end
    ('cpu', 'guestcpu', 'MiB/s', True),
)
PHASES = ['cpu'] + [w[0] for w in WORKLOADS if w[0] != 'cpu']
CLK_TCK = os.sysconf('SC_CLK_TCK')

FSBENCH_C = r'''
/* vgw-fsbench: guest side of usertools/vhostgw-bench fs (built static). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
	char b[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(b) - 2)
		n = sizeof(b) - 2;
	b[n++] = '\n';
	if (write(1, b, n) < 0)
		exit(3);
}

static void die(const char *what)
{
	say("VGW-ERROR vgw-fsbench: %s: %s", what, strerror(errno));
	exit(1);
}

/* Interrupts of the virtio devices so far. */
static unsigned long long irqs(void)
{
	unsigned long long n = 0;
	char line[1024];
	FILE *f = fopen("/proc/interrupts", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, ':');

		if (p == NULL || strstr(line, "virtio") == NULL)
			continue;
		for (p++;;) {
			char *e;
			unsigned long long v = strtoull(p, &e, 10);

			if (e == p)
				break;
			n += v;
			p = e;
		}
	}
	fclose(f);
	return n;
}

/* Begin and end of a timed phase; the interrupt counts are read outside. */
static double mark(const char *what)
{
	double t;
	int end = strstr(what, ".end") != NULL;

	if (!end)
		say("VGW-BENCH-IRQ %s n=%llu", what, irqs());
	t = now();
	say("VGW-BENCH-T %s up=%.6f", what, t);
	if (end)
		say("VGW-BENCH-IRQ %s n=%llu", what, irqs());
	return t;
}

/* Sync, drop the caches, then wait for the host's go file (it flushes
 * the share and reads its counters meanwhile). */
static void go(const char *prefix, const char *phase)
{
	char p[4096];
	struct stat st;
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3", 1) != 1)
		die("drop_caches");
	close(fd);
	snprintf(p, sizeof(p), "%s%s", prefix, phase);
	say("VGW-BENCH-WAIT %s", phase);
	for (int i = 0; stat(p, &st) < 0; i++) {
		if (i > 1200)
			die(p);
		usleep(50000);
	}
}

static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static unsigned long long next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int randread(const char *file, double secs, int direct)
{
	const size_t bs = 4096;
	unsigned long long ops = 0, n;
	struct stat st;
	double t0, t1, end;
	void *buf;
	int fd;

	fd = open(file, O_RDONLY | (direct ? O_DIRECT : 0));
	if (fd < 0)
		die(file);
	if (fstat(fd, &st) < 0)
		die("fstat");
	n = st.st_size / bs;
	if (n == 0) {
		errno = EINVAL;
		die("file smaller than 4 KiB");
	}
	if (posix_memalign(&buf, 4096, bs))
		die("posix_memalign");
	if (!direct)
		posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	t0 = mark("randread.begin");
	end = t0 + secs;
	do {
		for (int i = 0; i < 32; i++) {
			off_t off = (off_t)(next() % n) * bs;

			if (pread(fd, buf, bs, off) != (ssize_t)bs)
				die("pread");
			if (!direct)
				posix_fadvise(fd, off, bs, POSIX_FADV_DONTNEED);
			ops++;
		}
	} while (now() < end);
	t1 = mark("randread.end");
	close(fd);
	say("VGW-BENCH randread ops=%llu secs=%.6f ops_s=%.1f mode=%s", ops, t1 - t0,
	    ops / (t1 - t0), direct ? "direct" : "buffered");
	return 0;
}

static int meta(const char *dir, int files, const char *goprefix)
{
	char p[4096];
	struct stat st;
	double t0;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		die(dir);
	go(goprefix, "create");
	t0 = mark("create.begin");
	for (int i = 0; i < files; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/f%d", dir, i);
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die(p);
		close(fd);
	}
	say("VGW-BENCH create secs=%.6f", mark("create.end") - t0);
	go(goprefix, "stat");
	t0 = mark("stat.begin");
	for (int i = 0; i < files; i++) {
		snprintf(p, sizeof(p), "%s/f%d", dir, i);
		if (stat(p, &st) < 0)
			die(p);
	}
	say("VGW-BENCH stat secs=%.6f", mark("stat.end") - t0);
	go(goprefix, "unlink");
	t0 = mark("unlink.begin");
	for (int i = 0; i < files; i++) {
		snprintf(p, sizeof(p), "%s/f%d", dir, i);
		if (unlink(p) < 0)
			die(p);
	}
	say("VGW-BENCH unlink secs=%.6f", mark("unlink.end") - t0);
	if (rmdir(dir) < 0)
		die("rmdir");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "randread"))
		return randread(argv[2], atof(argv[3]), !strcmp(argv[4], "direct"));
	if (argc == 5 && !strcmp(argv[1], "meta"))
		return meta(argv[2], atoi(argv[3]), argv[4]);
	fprintf(stderr, "usage: vgw-fsbench randread FILE SECONDS direct|buffered\n"
		"       vgw-fsbench meta DIR FILES GO-PREFIX\n");
	return 2;
}
'''


def log(msg):
    """Progress on stderr: stdout carries the table or the JSON."""
    print('[%7.2f] %s' % (time.monotonic() - e2e.T0, msg), file=sys.stderr, flush=True)


e2e.log = log       # the harness's progress lines go to stderr too


# ---------------------------------------------------------------------------
# The guest program

def build_fsbench(cache_dir):
    """Path of vgw-fsbench built with gcc -static -O2 (cached by source)."""
    gcc = shutil.which('gcc')
    if not gcc:
        raise BenchError('gcc not found (apt-get install gcc libc6-dev)')
    h = hashlib.sha256(FSBENCH_C.encode()).hexdigest()[:16]
    os.makedirs(cache_dir, exist_ok=True)
    out = os.path.join(cache_dir, 'vgw-fsbench-%s' % h)
    if os.path.exists(out):
        return out
    src = out + '.c'
    with open(src, 'w') as f:
        f.write(FSBENCH_C)
    r = subprocess.run([gcc, '-static', '-O2', '-Wall', '-o', out + '.tmp', src],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode:
        raise BenchError('gcc -static failed:\n%s' % r.stdout.decode(errors='replace'))
    if not e2e._is_static_elf(out + '.tmp'):
        raise BenchError('%s is not static' % (out + '.tmp'))
    os.replace(out + '.tmp', out)
    log('built %s' % out)
    return out


# ---------------------------------------------------------------------------
# CPU accounting (host)

def _stat_ticks(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            st = f.read()
    except OSError:
        return 0
    fields = st[st.rfind(')') + 2:].split()
    return int(fields[11]) + int(fields[12])


def tree_ticks(pid):
    """utime + stime of pid and its live descendants (virtiofsd forks into
    its sandbox)."""
    return sum(_stat_ticks(p) for p in fsbe.tree_pids(pid))


thread_ticks = fsbe.thread_ticks

_libc = ctypes.CDLL(None, use_errno=True)


def syncfs(path):
    """syncfs(2) of the file system holding path."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            log('syncfs %s: %s' % (path, os.strerror(ctypes.get_errno())))
    finally:
        os.close(fd)


def share_mib(a):
    """Size of a share file system that holds every workload's files."""
    return max(1024, a.size_mib + a.rand_mib + 512)


def machine_busy():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)


# ---------------------------------------------------------------------------
# One measurement: a back-end, a guest, the workloads

class Measurement:
    """A fresh share, back-end and guest; the workloads; everything stopped."""

    def __init__(self, run, args, kind, rnd, pinning):
        self.run, self.args, self.kind, self.rnd = run, args, kind, rnd
        self.pinning = pinning
        self.gw = self.be = self.guest = None
        self.watch = self.qemu_watch = None
        self.share = self.share_fs = None
        self.snaps = {}
        self.perf = None

    # --- the shared directory -------------------------------------------

    def make_share(self):
        self.share_fs = fsbe.Share(self.run.workdir, 'share-%s-%d' % (self.kind, self.rnd),
                                   self.args.share_fs, share_mib(self.args))
        self.share = self.share_fs.make()

    def remove_share(self):
        if self.share_fs is not None:
            self.share_fs.remove()

    # --- back-ends -------------------------------------------------------

    def start_backend(self):
        """The back-end under taskset -c --backend-cpu; its socket."""
        self.be = fsbe.Backend(self.run, self.args, self.kind, self.rnd, self.share, tag=TAG)
        sock = self.be.start()
        if self.kind == 'vhostgw':
            self.gw = self.be
        self.watch = fsbe.PinWatch(self.be.pid)
        return sock

    def check_pinning(self):
        """Stop watching; every back-end thread seen on --backend-cpu only,
        every QEMU thread on --qemu-cpus only."""
        a = self.args
        self.watch.stop().check(self.kind, {a.backend_cpu})
        self.watch.record(self.pinning, self.kind)
        if self.qemu_watch is not None:
            self.qemu_watch.stop().check('QEMU (%s)' % self.kind, _cpu_list(a.qemu_cpus))
            self.qemu_watch.record(self.pinning, 'qemu')

    # --- perf and counters -------------------------------------------------

    def _perf_start(self, ph):
        if ph not in self.args.perf:
            return
        out = os.path.join(self.run.logdir, 'perf-%s-%d-%s.data' % (self.kind, self.rnd, ph))
        self.perf = subprocess.Popen(['perf', 'record', '-q', '-g', '-p', str(self.be.pid),
                                      '-o', out], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.3)             # perf attaches before the guest is let go
        log('perf record pid %d -> %s' % (self.perf.pid, out))

    def _perf_stop(self):
        if self.perf is None:
            return
        if self.perf.poll() is None:
            os.kill(self.perf.pid, signal.SIGINT)
        try:
            self.perf.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(self.perf.pid, signal.SIGKILL)
            self.perf.wait()
        self.perf = None

    def _snap(self, label, t):
        s = dict(t=t, be=tree_ticks(self.be.pid), qemu=tree_ticks(self.guest.proc.pid),
                 me=tree_ticks(os.getpid()), busy=machine_busy(),
                 threads=thread_ticks(self.be.pid),
                 qemu_threads=thread_ticks(self.guest.proc.pid))
        if self.gw is not None:
            try:
                reply = self.gw.ctl('stats')
                st = {d['name']: d for d in reply['devices']}['fs1']
                s['tsc_hz'] = reply.get('tsc_hz')
                s['gw'] = {k: st.get(k, 0) for k in
                           ('requests', 'errors', 'malformed', 'bytes_read',
                            'bytes_written', 'drops', 'inodes', 'handles')}
                s['gw']['busy_cycles'] = sum(q.get('busy_cycles', 0)
                                             for q in st.get('queues', []))
                s['gw_ops'] = dict(st.get('ops', {}))
            except (e2e.E2EError, OSError, KeyError, ValueError) as e:
                s['gw_error'] = str(e)
        self.snaps[label] = s

    # --- the run ----------------------------------------------------------

    def measure(self):
        a = self.args
        try:
            self.make_share()
            sock = self.start_backend()
            self.guest = g = self.run.guest(
                'g-%s-%d' % (self.kind, self.rnd), [],
                fs=[{'socket': sock, 'tag': TAG}], scenario='fsbench', mount=TAG,
                size=a.size_mib, seconds=a.seconds, files=a.files,
                randsize=a.rand_mib, randmode=a.rand_mode, cpumib=a.cpu_mib,
                qemu_args=('-name', 'g-%s-%d,debug-threads=on' % (self.kind, self.rnd)))
            if a.qemu_cpus:
                e2e.sh(['taskset', '-a', '-p', '-c', a.qemu_cpus, str(g.proc.pid)])
                self.qemu_watch = fsbe.PinWatch(g.proc.pid)
            res = self._collect(g)
            self.check_pinning()
            return res
        finally:
            self.stop()
            self.remove_share()

    def _collect(self, g):
        a = self.args
        _, t_mount, _ = g.wait_line(r'VGW-FS tag=', 180, what='virtio-fs mounted')
        res = dict(backend=self.kind, round=self.rnd, boot_to_mount=t_mount - g.t_start,
                   phases={})
        idx = 0
        budgets = dict(cpu=60 + a.cpu_mib / 10.0, write=60 + a.size_mib / 2.0, read=60 + a.size_mib / 2.0,
                       randread=60 + a.seconds, create=60 + a.files / 20.0,
                       stat=60 + a.files / 20.0, unlink=60 + a.files / 20.0)
        waits = dict(cpu=120, write=60, read=120 + a.size_mib / 4.0,
                     randread=120 + a.rand_mib / 2.0, create=60, stat=60, unlink=60)
        for ph in PHASES:
            idx, _, _ = g.wait_line(r'VGW-BENCH-WAIT %s$' % ph, waits[ph], idx,
                                    what='the guest ready for %s' % ph)
            i_wait = idx
            t = time.monotonic()
            syncfs(self.share)      # the previous phase's data reaches the disk now
            t_sync = time.monotonic() - t
            self._snap(ph + '.pre', time.monotonic())
            self._perf_start(ph)
            open(os.path.join(self.share, '.vgw-go-' + ph), 'w').close()
            idx, t0, m0 = g.wait_line(r'VGW-BENCH-T %s\.begin up=([\d.]+)' % ph, 30, idx,
                                      what='%s begins' % ph)
            self._snap(ph + '.begin', t0)
            idx, t1, m1 = g.wait_line(r'VGW-BENCH-T %s\.end up=([\d.]+)' % ph,
                                      budgets[ph], idx, what='%s ends' % ph)
            self._perf_stop()
            self._snap(ph + '.end', t1)
            res['phases'][ph] = self._phase(ph, t0, t1, float(m1.group(1)) - float(m0.group(1)))
            res['phases'][ph]['host_syncfs_s'] = round(t_sync, 3)
            idx, _, mi = g.wait_line(r'VGW-BENCH-IRQ %s\.end n=(\d+)' % ph, 30, idx,
                                     what='%s interrupt count' % ph)
            mb = g.console.find(r'VGW-BENCH-IRQ %s\.begin n=(\d+)' % ph, i_wait)
            if mb:
                res['phases'][ph]['guest_irqs'] = int(mi.group(1)) - int(mb[0][2].group(1))
        m = g.wait(r'VGW-BENCH randread ops=(\d+) secs=([\d.]+) ops_s=([\d.]+) mode=(\w+)',
                   30, what='randread summary')
        ops = int(m.group(1))
        rr = res['phases']['randread']
        rr.update(ops=ops, mode=m.group(4), guest_ops_s=float(m.group(3)))
        g.wait(r'VGW-DONE rc=0', 60, what='VGW-DONE rc=0')
        for ph in PHASES:
            p = res['phases'][ph]
            if ph == 'cpu':
                p['value'] = per_s(a.cpu_mib, p['host_s'])
                p['guest_value'] = a.cpu_mib / p['guest_s'] if p['guest_s'] > 0 else None
            elif ph in ('write', 'read'):
                p['value'] = per_s(a.size_mib, p['host_s'])
                p['guest_value'] = a.size_mib / p['guest_s'] if p['guest_s'] > 0 else None
            elif ph == 'randread':
                p['value'] = per_s(ops, p['host_s'])
                p['guest_value'] = p['guest_ops_s']
            else:
                p['value'] = p['host_s']
                p['guest_value'] = p['guest_s']
        return res

    def _phase(self, ph, t0, t1, guest_s):
        """Figures of one phase: CPU from the begin marker to the end marker,
        the gateway's counters from before the go file to the end marker."""
        s0, s1, sp = self.snaps[ph + '.begin'], self.snaps[ph + '.end'], self.snaps[ph + '.pre']
        dt = t1 - t0
        span = max(s1['t'] - s0['t'], 1e-3)
        be = (s1['be'] - s0['be']) / CLK_TCK
        qemu = (s1['qemu'] - s0['qemu']) / CLK_TCK
        me = (s1['me'] - s0['me']) / CLK_TCK
        other = (s1['busy'] - s0['busy']) / CLK_TCK - be - qemu - me
        p = dict(host_s=dt, guest_s=guest_s, backend_cpu_s=round(be, 3),
                 qemu_cpu_s=round(qemu, 3), other_cores=round(max(other, 0.0) / span, 3),
                 t_begin=round(t0 - e2e.T0, 3))
        th = {k: round((v - s0['threads'].get(k, 0)) / CLK_TCK, 3)
              for k, v in s1['threads'].items()}
        gone = be - sum(th.values())        # threads that exited meanwhile
        if gone > 0.005:
            th['(exited)'] = round(gone, 3)
        p['backend_threads'] = {k: v for k, v in th.items() if v > 0}
        qt = {k: round((v - s0['qemu_threads'].get(k, 0)) / CLK_TCK, 3)
              for k, v in s1['qemu_threads'].items()}
        p['qemu_threads'] = {k: v for k, v in qt.items() if v > 0}
        if 'gw' in sp and 'gw' in s1:
            p['gw'] = {k: s1['gw'][k] - sp['gw'][k] for k in sp['gw']
                       if k not in ('inodes', 'handles')}
            p['gw']['inodes_end'] = s1['gw']['inodes']
            ops = {k: v - sp.get('gw_ops', {}).get(k, 0) for k, v in s1.get('gw_ops', {}).items()}
            p['gw_ops'] = {k: v for k, v in ops.items() if v}
            if s1.get('tsc_hz') and 'gw' in s0:
                # share of the phase the worker spent in polls that did work
                p['gw']['worker_busy'] = round((s1['gw']['busy_cycles'] - s0['gw']['busy_cycles'])
                                               / (s1['tsc_hz'] * span), 3)
        return p

    def stop(self):
        """Guest first, then the back-end, by PID."""
        self._perf_stop()
        for w in (self.watch, self.qemu_watch):
            if w is not None:
                w.stop()
        if self.guest is not None:
            self.guest.quit()
        if self.be is not None:
            rc = self.be.stop()
            if self.kind != 'vhostgw' and rc not in (0, None, -signal.SIGTERM):
                log('note: %s exited with status %s' % (fsbe.NAMES[self.kind], rc))


# ---------------------------------------------------------------------------
# Summary

def ratio(key, higher_better, g, v):
    if g is None or v is None:
        return None
    a, b = (g, v) if higher_better else (v, g)
    return a / b if b > 0 else None


def summarize(results, rounds, kinds):
    """Rows per round and, per workload, the medians per back-end and the
    vhostgw / peer ratios per peer (median, range, per round)."""
    by = {(r['round'], r['backend']): r for r in results}
    peers = [k for k in kinds if k != 'vhostgw'] if 'vhostgw' in kinds else []
    rows, summary = [], {}
    for key, _, unit, hb in WORKLOADS:
        vals = {k: [r['phases'][key]['value'] for r in results
                    if r['backend'] == k and r['phases'][key]['value'] is not None]
                for k in kinds}
        s = dict(unit=unit, higher_is_better=hb, median={}, ratios={})
        for k in kinds:
            s['median'][k] = statistics.median(vals[k]) if vals[k] else None
        for peer in peers:
            per_round = []
            for rnd in range(1, rounds + 1):
                g, v = by.get((rnd, 'vhostgw')), by.get((rnd, peer))
                rt = ratio(key, hb, g and g['phases'][key]['value'],
                           v and v['phases'][key]['value'])
                if rt is not None:
                    per_round.append(rt)
            if per_round:
                s['ratios'][peer] = dict(median=statistics.median(per_round),
                                         min=min(per_round), max=max(per_round),
                                         rounds=[round(x, 3) for x in per_round])
        summary[key] = s
    for rnd in range(1, rounds + 1):
        row = dict(round=rnd, order=[r['backend'] for r in results if r['round'] == rnd],
                   ratio={})
        for k in kinds:
            r = by.get((rnd, k))
            row[k] = {w[0]: r['phases'][w[0]]['value'] for w in WORKLOADS} if r else None
        for peer in peers:
            row['ratio'][peer] = {w[0]: ratio(w[0], w[3], row['vhostgw'] and row['vhostgw'][w[0]],
                                              row[peer] and row[peer][w[0]])
                                  for w in WORKLOADS}
        rows.append(row)
    return rows, summary


def per_s(n, secs):
    """n per second, None for a phase too short to time (a few files end
    between two readings of the host clock)."""
    return n / secs if secs > 0 else None


def _f(v, unit=None, width=12):
    if v is None:
        return '%*s' % (width, '-')
    if unit == 'int':
        return '%*.0f' % (width, v)
    if unit == 's':
        return '%*.3f' % (width, v)
    if unit == 'ratio':
        return '%*.2fx' % (width - 1, v)
    return '%*.1f' % (width, v)


def print_table(rows, summary, results, args, kinds, pinning):
    peers = [k for k in kinds if k != 'vhostgw'] if 'vhostgw' in kinds else []
    print('vhostgw-bench fs: %d rounds, order rotated per round; write/read %d MiB (dd bs=1M), '
          'randread 4 KiB %s on %d MiB for %g s, create/stat/unlink %d files'
          % (args.rounds, args.size_mib, args.rand_mode, args.rand_mib, args.seconds,
             args.files))
    print('guest: QEMU 7.2 TCG, 1 vCPU, %s; times between console markers on the host clock'
          % e2e.GUEST_MEM)
    print('share: %s%s, fresh per measurement; host syncfs before each phase' % (
        fsbe.SHARE_FS_NAMES[args.share_fs],
        ' of %s' % e2e.tempfile.gettempdir() if args.share_fs == 'dir' else ''))
    b = args.backend_cpu
    if 'vhostgw' in kinds:
        print('vhostgw: %s (lcores 0@%d,1@%d)%s' % (args.vhostgw, b, b, ''.join(
            ' %s=%s' % (k, json.dumps(v)) for k, v in args.gw_fs_opts.items())))
    if 'c' in kinds:
        print('c:       %s -o cache=auto %s' % (args.virtiofsd, ' '.join(args.virtiofsd_opt)))
    if 'rust' in kinds:
        print('rust:    %s (%s) --cache=auto --sandbox=none %s' % (
            args.virtiofsd_rs_dir, args.virtiofsd_rs_version, ' '.join(args.virtiofsd_rs_opt)))
    print('same CPU budget: every back-end thread on CPU %d (taskset), QEMU on CPUs %s; '
          'Cpus_allowed_list of every thread seen (every 0.1 s):'
          % (b, args.qemu_cpus or 'any: not pinned'))
    for k in list(kinds) + ['qemu']:
        p = pinning.get(k)
        if p:
            print('  %-8s %s: %s' % (k, '/'.join(sorted(p['cpus'])),
                                     ', '.join(sorted(p['threads']))))
    print()
    head = '%-5s %-11s' % ('round', 'backend') + ''.join(
        ' %13s' % ('%s %s' % (t, u)) for _, t, u, _ in WORKLOADS)
    print(head)
    for row in rows:
        for k in row['order'] or kinds:
            line = '%-5d %-11s' % (row['round'], k)
            for key, _, unit, _ in WORKLOADS:
                line += ' ' + _f(row[k][key] if row[k] else None, unit, 13)
            print(line)
        for peer in peers:
            line = '%-5d %-11s' % (row['round'], 'gw/' + peer)
            for key, _, _, _ in WORKLOADS:
                line += ' ' + _f(row['ratio'][peer][key], 'ratio', 13)
            print(line)
    print()
    for peer in peers:
        line = '%-17s' % ('median gw/' + peer)
        for key, _, _, _ in WORKLOADS:
            r = summary[key]['ratios'].get(peer)
            line += ' ' + _f(r and r['median'], 'ratio', 13)
        print(line)
    for k in kinds:
        line = '%-17s' % ('median ' + k)
        for key, _, unit, _ in WORKLOADS:
            line += ' ' + _f(summary[key]['median'][k], unit, 13)
        print(line)
    print()
    print('ratio gw/PEER: vhostgw / PEER for MiB/s and ops/s, PEER / vhostgw for seconds: '
          '> 1.0 means vhostgw is better (c: the C virtiofsd, rust: the Rust virtiofsd)')
    print('guestcpu is no file system workload: the guest copies /dev/zero to /dev/null while '
          'the back-end runs; its ratio < 1.0 means the guest itself ran slower next to vhostgw')
    disturbed = [(r['round'], r['backend'], ph) for r in results
                 for ph, p in r['phases'].items() if p['other_cores'] > args.max_other_load]
    if disturbed:
        print('note: other processes used more than %g cores during: %s'
              % (args.max_other_load, ', '.join('round %d %s %s' % d for d in disturbed)))
    res = {k: [r for r in results if r['backend'] == k] for k in kinds}
    gwres = res.get('vhostgw', [])

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    print()
    print('per phase (median over rounds): vhostgw fs1 counters (control socket), guest '
          'interrupts of the virtio devices per back-end')
    print('%-9s %9s %8s %7s %7s %7s %7s' % (
        'phase', 'requests', 'req/s', 'errors', 'MiB rd', 'MiB wr', 'busy') +
        ''.join(' %9s' % ('IRQ ' + k[:5]) for k in kinds))
    for ph in PHASES:
        ps = [r['phases'][ph] for r in gwres if 'gw' in r['phases'][ph]]
        req = med([p['gw']['requests'] for p in ps])
        busy = med([p['gw'].get('worker_busy') for p in ps])
        line = '%-9s %9s %8s %7s %7s %7s %7s' % (
            ph, '-' if req is None else '%d' % req,
            _f(med([per_s(p['gw']['requests'], p['host_s']) for p in ps]), 'int', 8).strip(),
            '-' if not ps else '%d' % med([p['gw']['errors'] for p in ps]),
            '-' if not ps else '%.1f' % (med([p['gw']['bytes_read'] for p in ps]) / 1048576.0),
            '-' if not ps else '%.1f' % (med([p['gw']['bytes_written'] for p in ps])
                                         / 1048576.0),
            '-' if busy is None else '%.0f %%' % (100 * busy))
        for k in kinds:
            irq = med([r['phases'][ph].get('guest_irqs') for r in res[k]])
            line += ' %9s' % ('-' if irq is None else '%d' % irq)
        print(line)
        names = sorted({n for p in ps for n in p.get('gw_ops', {})})
        if names:
            print('%-9s by opcode: %s' % ('', ', '.join(
                '%s %d' % (n, med([p.get('gw_ops', {}).get(n, 0) for p in ps]))
                for n in names)))
    print()
    print('CPU seconds per phase (median over rounds; back-end threads by name):')
    for ph in PHASES:
        parts = []
        for k in kinds:
            rs = res[k]
            if not rs:
                continue
            names = sorted({n for r in rs for n in r['phases'][ph]['backend_threads']})
            th = ' '.join('%s %.2f' % (n, med([r['phases'][ph]['backend_threads'].get(n, 0)
                                               for r in rs])) for n in names)
            qn = sorted({n for r in rs for n in r['phases'][ph].get('qemu_threads', {})})
            qth = ' '.join('%s %.2f' % (n, med([r['phases'][ph]['qemu_threads'].get(n, 0)
                                                for r in rs])) for n in qn)
            parts.append('%s %.2f (%s), its QEMU %.2f (%s)' % (
                k, med([r['phases'][ph]['backend_cpu_s'] for r in rs]), th or '-',
                med([r['phases'][ph]['qemu_cpu_s'] for r in rs]), qth or '-'))
        print('%-9s %s' % (ph, '\n          '.join(parts)))


# ---------------------------------------------------------------------------
# Driver

def find_vhostgw(arg):
    if arg:
        if not os.access(arg, os.X_OK):
            raise BenchError('--vhostgw %s: not an executable' % arg)
        return os.path.abspath(arg)
    cand = os.path.join(ROOT, 'build', 'app', 'vhostgw', 'vhostgw')
    if os.access(cand, os.X_OK):
        return cand
    p = shutil.which('vhostgw')
    if p:
        return p
    raise BenchError('vhostgw not found (%s nor in PATH): build it or give --vhostgw' % cand)


_cpu_list = fsbe.cpu_list


def worker_cpus(lcores):
    """CPUs of the worker lcores in an EAL --lcores value: every lcore but
    the main one (the lowest lcore id) -- '0@0,1@1' -> {1}."""
    groups = {}
    for m in re.finditer(r'(\([\d,\-]+\)|[\d\-]+)(?:@(\([\d,\-]+\)|[\d\-]+))?(?:,|$)', lcores):
        ids = _cpu_list(m.group(1).strip('()'))
        cpus = _cpu_list(m.group(2).strip('()')) if m.group(2) else None
        for i in ids:
            groups[i] = cpus if cpus is not None else {i}
    if not groups:
        return set()
    main = min(groups)
    return set().union(*[c for i, c in groups.items() if i != main])


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog='vhostgw-bench fs',
        description='virtio-fs: the same QEMU 7.2 (TCG) guest and workloads against '
        'vhostgw (one fs device), the C virtiofsd (QEMU 7.2) and the Rust virtiofsd 1.13 '
        '(cache=auto), each back-end and all its threads on one CPU, the order rotated '
        'per round.')
    ap.add_argument('--vhostgw', help='the vhostgw binary (default: build/app/vhostgw/'
                    'vhostgw under the repository root, then PATH)')
    ap.add_argument('--virtiofsd', default=VIRTIOFSD, help='default ' + VIRTIOFSD)
    ap.add_argument('--virtiofsd-opt', action='append', default=[], metavar='OPT',
                    help='extra argument of the C virtiofsd (repeatable), e.g. -o=xattr')
    ap.add_argument('--virtiofsd-rs-dir', default=fsbe.VIRTIOFSD_RS_DIR,
                    help='where `vhostgw-setup virtiofsd-rs` unpacked the Rust virtiofsd '
                    '(default %s)' % fsbe.VIRTIOFSD_RS_DIR)
    ap.add_argument('--virtiofsd-rs-opt', action='append', default=[], metavar='OPT',
                    help='extra argument of the Rust virtiofsd (repeatable), e.g. --xattr')
    ap.add_argument('--peers', default='c,rust',
                    help='peers beside vhostgw: c (the C virtiofsd), rust (the Rust '
                    'virtiofsd) or c,rust (default c,rust)')
    ap.add_argument('--backend-cpu', type=int, default=1,
                    help='the one CPU of every back-end and of every thread it starts '
                    '(default 1)')
    ap.add_argument('--rounds', type=int, default=3, help='rounds (default 3)')
    ap.add_argument('--size-mib', type=int, default=256,
                    help='sequential write/read size in MiB (default 256)')
    ap.add_argument('--seconds', type=float, default=10.0,
                    help='random-read duration in seconds (default 10)')
    ap.add_argument('--rand-mib', type=int, default=64,
                    help='random-read file size in MiB (default 64)')
    ap.add_argument('--rand-mode', choices=('buffered', 'direct'), default='buffered',
                    help='buffered (default): POSIX_FADV_RANDOM and a DONTNEED of each '
                    'page after its read, every read one 4 KiB FUSE READ; direct: O_DIRECT '
                    '(virtiofsd drops O_DIRECT on the host, vhostgw keeps it)')
    ap.add_argument('--cpu-mib', type=int, default=1024,
                    help='guest CPU probe: MiB copied from /dev/zero to /dev/null in the '
                    'guest before the workloads (default 1024)')
    ap.add_argument('--files', type=int, default=2000,
                    help='files created, stat()ed and unlinked (default 2000)')
    ap.add_argument('--share-fs', choices=fsbe.SHARE_FS, default='ext4',
                    help='what the shared directory is: ext4 (default): a fresh ext4 '
                    '(journal, loop-mounted image) per measurement, so no measurement '
                    'inherits the state of another; dir: a directory on the host file '
                    'system of the work directory; tmpfs: a fresh tmpfs')
    ap.add_argument('--gw-fs-opt', action='append', default=[], metavar='KEY=JSON',
                    help='extra key of the vhostgw fs device, e.g. xattr=false (repeatable)')
    ap.add_argument('--qemu-cpus', default='auto', metavar='LIST',
                    help='CPUs of every QEMU thread (taskset -a -p -c LIST right after it '
                    'starts; checked every 0.1 s), the same for every back-end. auto '
                    '(default): every online CPU but --backend-cpu; none: not pinned')
    ap.add_argument('--only', choices=KINDS, help='measure one back-end only')
    ap.add_argument('--build-dir', default='/tmp/vhostgw-bench-fs',
                    help='initramfs and program cache, logs (e2e-logs/fsbench); '
                    'default /tmp/vhostgw-bench-fs')
    ap.add_argument('--max-other-load', type=float, default=0.3, metavar='CORES',
                    help='flag phases during which other processes used more CPU '
                    '(default 0.3 cores)')
    ap.add_argument('--perf', default='', metavar='PHASES',
                    help='perf record -g the back-end during these phases (comma-separated, '
                    'or all); perf-BACKEND-ROUND-PHASE.data in the log directory. '
                    'Disturbs the figures: for investigation')
    ap.add_argument('--json', action='store_true', help='print JSON instead of the table')
    ap.add_argument('--save', metavar='FILE', help='also write the JSON to FILE')
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.size_mib < 1 or args.seconds <= 0 or args.files < 1 \
            or args.rand_mib < 1:
        ap.error('--rounds, --size-mib, --seconds, --rand-mib and --files must be positive')
    args.perf = PHASES if args.perf == 'all' else [x for x in args.perf.split(',') if x]
    if any(x not in PHASES for x in args.perf):
        ap.error('--perf: phases are %s or all' % ','.join(PHASES))
    if args.perf and not shutil.which('perf'):
        ap.error('--perf: perf not found')
    args.peers = fsbe.parse_peers(ap, args.peers)
    online = fsbe.online_cpus()
    if args.backend_cpu not in online:
        ap.error('--backend-cpu %d is not online (%s)' % (args.backend_cpu, sorted(online)))
    if args.qemu_cpus == 'auto':
        free = sorted(online - {args.backend_cpu})
        args.qemu_cpus = ','.join(map(str, free)) if free else None
    elif args.qemu_cpus == 'none':
        args.qemu_cpus = None
    elif args.backend_cpu in _cpu_list(args.qemu_cpus):
        ap.error('--qemu-cpus must not include --backend-cpu')
    args.gw_fs_opts = {}
    for o in args.gw_fs_opt:
        k, _, v = o.partition('=')
        try:
            args.gw_fs_opts[k] = json.loads(v)
        except ValueError:
            args.gw_fs_opts[k] = v
    args.virtiofsd_opt = [x for o in args.virtiofsd_opt for x in
                          (o.split('=', 1) if o.startswith('-o=') else [o])]
    return args


def main(argv):
    args = parse_args(argv)
    common.catch_signals()

    results, failures, pinning = [], [], {}
    kinds = [args.only] if args.only else ['vhostgw'] + args.peers
    if args.only and args.only != 'vhostgw':
        args.peers = [args.only]
    elif args.only:
        args.peers = []
    run = None
    rc = 0
    t_start = time.monotonic()
    try:
        args.vhostgw = find_vhostgw(args.vhostgw)
        fsbe.check_peers(args)
        build = os.path.abspath(args.build_dir)
        prog = build_fsbench(os.path.join(build, 'fsbench-cache'))
        run = e2e.Run('fsbench', argparse.Namespace(build_dir=build, backend='vhostgw',
                                                    vhostgw=args.vhostgw))
        run.preflight()
        with open(prog, 'rb') as f:
            run._initramfs = e2e.build_initramfs(run.cache_dir, run.kver,
                                                 extra={'bin/vgw-fsbench': f.read()})
        run.lock_machine()
        t_start = time.monotonic()
        for rnd, kind, res in common.rounds(
                args.rounds, kinds,
                lambda kind, rnd: Measurement(run, args, kind, rnd, pinning).measure(),
                (e2e.E2EError, BenchError), failures, log, order=fsbe.rotated):
            results.append(res)
            log('round %d, %-9s: ' % (rnd, kind) + ', '.join(
                '%s %s %s' % (k, _f(res['phases'][k]['value'], u, 0), u)
                for k, _, u, _ in WORKLOADS))
    except (KeyboardInterrupt, e2e.E2EError, BenchError) as e:
        rc = common.stopped(e, log)
    finally:
        common.cleanup(run, log)
    if failures and rc == 0:
        rc = 1
    if not results:
        return rc or 1
    rows, summary = summarize(results, args.rounds, kinds)
    b = args.backend_cpu
    doc = dict(config=dict(rounds=args.rounds, size_mib=args.size_mib,
                           seconds=args.seconds, rand_mib=args.rand_mib,
                           rand_mode=args.rand_mode, files=args.files,
                           cpu_mib=args.cpu_mib, backends=kinds, peers=args.peers,
                           vhostgw=args.vhostgw, gw_lcores='0@%d,1@%d' % (b, b),
                           gw_fs_opts=args.gw_fs_opts,
                           virtiofsd=args.virtiofsd if 'c' in kinds else None,
                           virtiofsd_opt=args.virtiofsd_opt,
                           virtiofsd_rs=args.virtiofsd_rs_version,
                           virtiofsd_rs_opt=args.virtiofsd_rs_opt,
                           share_fs=args.share_fs, backend_cpu=b, qemu_cpus=args.qemu_cpus,
                           guest_mem=e2e.GUEST_MEM),
               pinning=fsbe.pinning_json(pinning),
               rounds=rows, summary=summary, measurements=results,
               failures=failures, seconds=round(time.monotonic() - t_start, 1),
               complete=rc == 0)

    def table():
        print_table(rows, summary, results, args, kinds, pinning)
        print('\n%d measurements in %.0f s' % (len(results), time.monotonic() - t_start))
    common.output(args, doc, table)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
