# SPDX-License-Identifier: BSD-3-Clause
"""What the fs_migrate* scenarios share: two gateways serving one host
directory as fs1 (tag myfs), a guest on the source running vgw-fsmig on the
mount (guest-init.sh's scenario_fsmig: appends through a held descriptor,
checksummed read-backs, a held directory iterated a few entries per step),
a destination QEMU started with -incoming, the migration, and the checks of
the guest's steps and of the host file.

QEMU >= 8.2 migrates vhost-user-fs only through DEVICE_STATE (protocol
feature 19): these scenarios run on QEMU 10.0 only (tests/e2e/meson.build)."""

import os
import re
import time

import vgw_e2e as e2e

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = 'myfs'
ENTRIES = 200                   # files in the directory held open
INTERVAL_MS = 100
MIGRATE_AFTER_UPTIME = 15.0     # as test_migrate.py (fresh TCG guests)
STEP = re.compile(r'VGW-FSMIG seq=(\d+) ok=([01]) bytes=(-?\d+) sum=(\w+) want=(\w+) '
                  r'err=(\S+) up=([\d.]+)')
PASS = re.compile(r'VGW-FSMIG-DIR fd=(\w) pass=(\d+) ok=([01]) entries=(\d+) steps=(\d+) '
                  r'err=(\S+) up=([\d.]+)')


class Step:
    __slots__ = ('seq', 'ok', 'nbytes', 'sum', 'want', 'err', 'up', 't', 'who')

    def __init__(self, m, t, who):
        self.seq, self.ok, self.nbytes = int(m.group(1)), m.group(2) == '1', int(m.group(3))
        self.sum, self.want, self.err = m.group(4), m.group(5), m.group(6)
        self.up, self.t, self.who = float(m.group(7)), t, who

    def __repr__(self):
        return '%s seq=%d ok=%d err=%s t=%.2f' % (self.who, self.seq, self.ok, self.err,
                                                  self.t - e2e.T0)


def steps(g, who=None):
    return [Step(m, t, who or g.name) for _, t, m in g.console.find(STEP.pattern)]


class Pass:
    __slots__ = ('fd', 'n', 'ok', 'entries', 'steps', 'err', 't', 'line', 'who')

    def __init__(self, i, t, m, who):
        self.fd, self.n, self.ok = m.group(1), int(m.group(2)), m.group(3) == '1'
        self.entries, self.steps, self.err = int(m.group(4)), int(m.group(5)), m.group(6)
        self.t, self.line, self.who = t, i, who

    def __repr__(self):
        return '%s fd=%s pass=%d ok=%d entries=%d steps=%d err=%s' % (
            self.who, self.fd, self.n, self.ok, self.entries, self.steps, self.err)


def passes(g, fd=None):
    """Directory passes (of descriptor fd, a or b) printed on g's console."""
    return [p for p in (Pass(i, t, m, g.name) for i, t, m in g.console.find(PASS.pattern))
            if fd is None or p.fd == fd]


def wait_steps(g, n, after, timeout, what):
    """n good steps with host time > after."""
    end = time.monotonic() + timeout
    while True:
        good = [s for s in steps(g) if s.ok and s.t > after]
        if len(good) >= n:
            return good
        bad = [s for s in steps(g) if not s.ok]
        if bad:
            raise e2e.E2EError('%s: failed step(s) %r' % (what, bad[:5]))
        if time.monotonic() > end:
            raise e2e.E2EError('%s: %d/%d good steps within %.0f s; console:\n%s'
                               % (what, len(good), n, timeout, g.console.tail()))
        g.proc.check_alive()
        time.sleep(0.1)


def wait_uptime(g, uptime, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ups = [s.up for s in steps(g) if s.ok]
        if ups and max(ups) >= uptime:
            return max(ups)
        time.sleep(0.2)
    raise e2e.E2EError('%s: guest uptime below %.0f s after %.0f s' % (g.name, uptime, timeout))


def host_lines(shared, name='log'):
    with open(os.path.join(shared, name), 'rb') as f:
        return f.read().decode(errors='replace').split('\n')


def check_host_log(shared, last_ok, extra_ok=0, name='log'):
    """The host file holds seq=1..N in order, each once, whole lines, with
    last_ok <= N <= last_ok + extra_ok: a write in flight when a back-end
    died may have reached the file without its reply, and a guest stopped
    with QMP stop may have written a line and not yet printed its step.
    Returns N."""
    lines = host_lines(shared, name)
    e2e.expect(lines[-1] == '', 'host file %s ends in a partial line: %r' % (name, lines[-1]))
    lines = lines[:-1]
    want = ['seq=%d' % i for i in range(1, len(lines) + 1)]
    first = next(((i + 1, a, b) for i, (a, b) in enumerate(zip(lines, want)) if a != b), None)
    e2e.expect(first is None, 'host file %s: line %s is %r, not %r (%d lines)'
               % (name, first and first[0], first and first[1], first and first[2], len(lines)))
    e2e.expect(last_ok <= len(lines) <= last_ok + extra_ok,
               'host file %s holds seq=1..%d; the guest saw writes up to %d succeed%s'
               % (name, len(lines), last_ok,
                  ' (+%d in flight allowed)' % extra_ok if extra_ok else ''))
    return len(lines)


def share_snapshot(shared):
    """{relative path: (type, size, mtime_ns)} of everything in the share."""
    snap = {}
    for dirpath, dirs, files in os.walk(shared):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            snap[os.path.relpath(p, shared)] = (st.st_mode >> 12, st.st_size, st.st_mtime_ns)
    return snap


class Setup:
    """Two gateways (gwsrc, gwdst) serving one directory as fs1, each
    watched from its start; the source guest running vgw-fsmig."""

    def __init__(self, run, tag, dst_env=None, src_env=None, src_keeper=None):
        """src_keeper: vhostgw-keeper options to run the source gateway
        under the keeper (Gateway's keeper)."""
        e2e.expect(run.qemu_version >= (8, 2), 'QEMU %s cannot migrate vhost-user-fs '
                   '(DEVICE_STATE arrived in 8.2): run with --qemu 10.0' % run.qemu_full)
        self.run = run
        run.add_guest_program('vgw-fsmig', os.path.join(HERE, 'vgw-fsmig.c'))
        self.shared = os.path.join(run.workdir, 'shared')
        os.makedirs(self.shared)
        self.ns = run.netns(tag)
        # both workers on core 1, the control threads and QEMU on core 0
        self.src_gw = run.gateway('gwsrc', self.ns, [e2e.fs('fs1', self.shared, TAG)], [],
                                  lcores='0@0,1@1', env=src_env, keeper=src_keeper)
        self.dst_gw = run.gateway('gwdst', self.ns, [e2e.fs('fs1', self.shared, TAG)], [],
                                  lcores='0@0,1@1', env=dst_env)
        self.src_w, self.dst_w = e2e.Watch(self.src_gw), e2e.Watch(self.dst_gw)
        self.params = dict(scenario='fsmig', mount=TAG, entries=ENTRIES,
                           interval_ms=INTERVAL_MS)
        self.src = run.guest('src', [], fs=[self.fs_spec(self.src_gw)], **self.params)
        self.dst = None
        self.uri = os.path.join(run.workdir, 'migrate.sock')

    @staticmethod
    def fs_spec(gw):
        return {'socket': gw.socket('fs1'), 'tag': TAG}

    def wait_ready_to_migrate(self):
        wait_steps(self.src, 20, 0.0, 120, 'before migration')
        up = wait_uptime(self.src, MIGRATE_AFTER_UPTIME, 60)
        # a pass of each held directory descriptor done
        end = time.monotonic() + 30
        while not (passes(self.src, 'a') and passes(self.src, 'b')):
            e2e.expect(time.monotonic() < end, 'no directory pass of both descriptors '
                       'before migration')
            time.sleep(0.1)
        e2e.log('migrating at guest uptime %.1f s' % up)
        # (the guest's LOOKUPs of names it then creates answer ENOENT:
        # errors before the migration are the guest's business)
        self.src_st0 = self.stats(self.src_gw)
        return up

    @staticmethod
    def stats(gw):
        return {d['name']: d for d in gw.ctl('stats')['devices']}['fs1']

    def expect_no_new_errors(self, gw, st0, what):
        st = self.stats(gw)
        e2e.expect(st['errors'] == st0['errors'] and st['malformed'] == 0,
                   '%s fs1: errors %d -> %d, malformed %d (%s)'
                   % (what, st0['errors'], st['errors'], st['malformed'], st))
        return st

    def start_destination(self):
        self.dst = self.run.guest('dst', [], fs=[self.fs_spec(self.dst_gw)],
                                  incoming=self.uri, **self.params)
        self.dst.qmp            # listening, QMP up
        return self.dst

    def start_migration(self, return_path=False, bandwidth=1 << 30):
        """migrate-set-capabilities (return-path: the source waits for the
        destination's verdict, so that a destination that fails to load
        fails the migration and the source VM resumes) and migrate, at
        most bandwidth bytes/s."""
        src = self.src
        if return_path:
            src.qmp.cmd('migrate-set-capabilities',
                        capabilities=[{'capability': 'return-path', 'state': True}])
        src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': bandwidth})
        t = time.monotonic()
        src.qmp.cmd('migrate', uri='unix:' + self.uri)
        e2e.log('migrate issued%s' % (' (return-path on)' if return_path else ''))
        return t

    def wait_migration(self, t0, timeout=90.0, want=None):
        """Poll query-migrate until completed or failed; the final reply
        with 'elapsed'. want: the end state required."""
        last = None
        end = t0 + timeout
        while True:
            r = self.src.qmp.cmd('query-migrate')
            st = r.get('status')
            if st != last:
                e2e.log('migration: %s (%.2f s)' % (st, time.monotonic() - t0))
                last = st
            if st in ('completed', 'failed', 'cancelled'):
                r['elapsed'] = time.monotonic() - t0
                if want and st != want:
                    raise e2e.E2EError('migration %s, expected %s: %s\nsrc qemu:\n%s\n'
                                       'dst qemu:\n%s' % (st, want, r.get('error-desc', r),
                                                          self.src.proc.tail(),
                                                          self.dst.proc.tail() if self.dst
                                                          else '-'))
                return r
            self.src.proc.check_alive()
            if time.monotonic() > end:
                raise e2e.E2EError('migration neither completed nor failed within %.0f s: %s'
                                   % (timeout, r))
            time.sleep(0.1)

    def wait_phase(self, w, device, phase, timeout, what):
        """Host time of device's first event into phase on watch w."""
        end = time.monotonic() + timeout
        while True:
            evs = [e for e in w.events(device) if e.get('phase') == phase]
            if evs:
                return evs[0]['t']
            if time.monotonic() > end:
                raise e2e.E2EError('%s: %s never reached %s within %.0f s:\n%s'
                                   % (what, device, phase, timeout, w.history(device, e2e.T0)))
            time.sleep(0.01)

    def dir_passes_ok(self, g):
        bad = [p for p in passes(g) if not p.ok or p.entries != ENTRIES]
        e2e.expect(not bad, '%s: directory passes that failed: %r' % (g.name, bad[:5]))
        return len(passes(g))

    def source_goes_on(self, t_failed):
        """After a failed migration: the source VM runs, its mount works on
        (20 more appends with read-backs, a directory pass), no step failed,
        steps 1..N, the guest did not reboot."""
        st = self.src.qmp.cmd('query-status')['status']
        e2e.expect(st == 'running', 'source VM %s after the failed migration, not running' % st)
        wait_steps(self.src, 20, t_failed, 60, 'on the source after the failed migration')
        end = time.monotonic() + 30
        while not [p for p in passes(self.src) if p.t > t_failed]:
            e2e.expect(time.monotonic() < end, 'no directory pass after the failed migration')
            time.sleep(0.2)
        got = steps(self.src)
        bad = [x for x in got if not x.ok]
        e2e.expect(not bad, 'failed steps: %r' % bad[:5])
        e2e.expect([x.seq for x in got] == list(range(1, len(got) + 1)), 'steps not 1..N')
        self.dir_passes_ok(self.src)
        e2e.expect(self.src.init_count() == 1, 'the source guest rebooted')
        return got


def check_continuity(src, dst):
    """The guest's steps and directory passes go on across the switch-over
    from src's console to dst's: no step lost or repeated, every pass of
    both held directories whole, and at least one pass that began on the
    source and ended on the destination. Returns (last source step, first
    destination step, [(fd, pass, steps on the source)] of spanning passes)."""
    s_steps, d_steps = steps(src), steps(dst)
    e2e.expect(s_steps and d_steps, 'no steps on the source or the destination')
    seqs = [s.seq for s in s_steps + d_steps]
    e2e.expect(seqs == list(range(1, len(seqs) + 1)),
               'steps not 1..N in order across the switch-over: source ends %r, '
               'destination starts %r' % ([s.seq for s in s_steps[-3:]],
                                          [s.seq for s in d_steps[:3]]))
    bad = [s for s in s_steps + d_steps if not s.ok]
    e2e.expect(not bad, 'failed steps: %r' % bad[:5])
    spans = []
    d_step_lines = [i for i, _, _ in dst.console.find(STEP.pattern)]
    for fd in 'ab':
        sp, dp = passes(src, fd), passes(dst, fd)
        e2e.expect(sp and dp, 'descriptor %s: no pass on the source or the destination' % fd)
        ns = [p.n for p in sp + dp]
        e2e.expect(ns == list(range(1, len(ns) + 1)), 'descriptor %s: passes %r'
                   % (fd, ns))
        bad = [p for p in sp + dp if not p.ok or p.entries != ENTRIES]
        e2e.expect(not bad, 'descriptor %s: directory passes that failed: %r' % (fd, bad[:5]))
        first = dp[0]
        on_dst = sum(1 for i in d_step_lines if i < first.line)
        if first.steps > on_dst:
            spans.append((fd, first.n, first.steps - on_dst))
    e2e.expect(spans, 'no directory pass spanned the switch-over (both held descriptors '
               'ended a pass exactly there: the guest helper staggers them)')
    return s_steps[-1].seq, d_steps[0].seq, spans


def qemu_log(g):
    try:
        with open(g.proc.log_path, errors='replace') as f:
            return f.read()
    except OSError:
        return ''
