#!/usr/bin/env python3
"""The virtio-fs ring path of the real gateway, driven from the guest
driver's side by vufront-fs (the project's vhost-user front-end speaking
FUSE on the rings itself: no kernel, no mount).

One fs device, one request queue. Each scenario is one vufront-fs run (one
front-end connection, so one FUSE session):
  basic      INIT, LOOKUP, OPEN, READ, CREATE + WRITE + RELEASE (the file is
             checked here, byte for byte), GETATTR, READDIR, FORGET on hiprio,
             64 READs in flight at once;
  malformed  chains the ring walker must refuse and requests the engine must
             refuse, one at a time, each followed by a GETATTR that works:
             the gateway counts them and the device stays ready;
  suspend    suspend through the control socket: no used entry appears while
             suspended, the requests complete on resume (twice);
  remap      SET_MEM_TABLE while the device runs, with requests in flight;
             dirty logging (SET_LOG_BASE, LOG_ALL, the rings' log flag): the
             replies and used rings are logged, also after a second
             SET_LOG_BASE under requests in flight;
  inflight   INFLIGHT_SHMFD: the gateway's region (GET_INFLIGHT_FD, handed
             back by SET_INFLIGHT_FD) tracks bursts of requests in flight and
             settles when they complete; the device reports the region;
  resubmit   the rings and region as a crashed back-end left them, three
             requests in flight: the gateway finishes them in counter order
             without a kick and counts them (inflight_resubmitted);
  resubmit-used  the same, and one request returned but not cleared in the
             region, which must not be taken again;
  resubmit-late  resubmit, the region handed over after the rings' addresses,
             just before their kicks;
  inflight-lie  a region whose header lies (desc_num, last_inflight_io,
             used_idx), written after SET_INFLIGHT_FD too: the device serves,
             nothing is taken again;
  inflight-bad  GET/SET_INFLIGHT_FD payloads the gateway must refuse, then a
             normal bring-up on a new connection;
  shrink     the front-end truncates its guest memory file under the running
             rings: the gateway lives, logs it once, stops that device
             (memory_fault) until a new connection, which is served.
  slowstop   (a gateway of its own, not under the keeper) a READ 22 s late
             in flight when the front-end stops the device: GET_VRING_BASE
             answers only after the READ's reply, the rings serve again.
vufront-fs stops at "SYNC <tag>" lines and goes on when we write a line: we
read the gateway's counters while it is still connected.
"""
import json
import os
import re
import resource
import select
import socket
import subprocess
import sys
import time

import vgwtest as t
from test_telemetry import Telemetry

READ_FILE, READ_SIZE, READ_SEED = "read.bin", 200000, 1
WRITE_FILE, WRITE_SIZE, WRITE_SEED = "written.bin", 150000, 2
M64 = (1 << 64) - 1


def pattern(seed, n):
    """Byte i of a vufront-fs test file (fs_pattern() in vufront_fs_ring.c)."""
    out = bytearray(n)
    s = (seed * 0xbf58476d1ce4e5b9) & M64
    for i in range(n):
        x = ((i + 1) * 0x9e3779b97f4a7c15 + s) & M64
        x ^= x >> 29
        x = (x * 0x94d049bb133111eb) & M64
        x ^= x >> 32
        out[i] = x & 0xFF
    return bytes(out)


class Front:
    """One vufront-fs run, stepped through its SYNC points."""

    def __init__(self, tool, sock, scenario, wd, extra=()):
        self.scenario = scenario
        argv = [tool, "--socket", sock, "--scenario", scenario, *extra,
                "--read-file", READ_FILE, "--read-size", str(READ_SIZE),
                "--read-seed", str(READ_SEED),
                "--write-file", WRITE_FILE, "--write-size", str(WRITE_SIZE),
                "--write-seed", str(WRITE_SEED),
                "--expect", READ_FILE, "--expect", WRITE_FILE, "--expect", "subdir",
                "--expect", "other.txt"]
        self.errpath = os.path.join(wd, f"vufront-fs-{scenario}.err")
        self.errf = open(self.errpath, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.errf, cwd=wd)
        self.lines = []
        self.buf = b""

    def _read_line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        line = line.decode(errors="replace")
        self.lines.append(line)
        print(f"    [{self.scenario}] {line}", flush=True)
        return line

    def until(self, prefix, timeout=60):
        """Read lines until one starts with prefix; return it."""
        deadline = time.time() + timeout
        while True:
            line = self._read_line(deadline)
            if line is None:
                self.fail(f"no '{prefix}' within {timeout} s")
            if line.startswith(prefix):
                return line
            if line.startswith(("SYNC ", "RESULT")):
                # it went another way (a failure made it skip a step)
                self.fail(f"'{line}' while waiting for '{prefix}'")

    def sync(self, tag, timeout=60):
        self.until(f"SYNC {tag}", timeout)

    def go(self):
        self.p.stdin.write(b"GO\n")
        self.p.stdin.flush()

    def info(self, key):
        for line in self.lines:
            if line.startswith(f"info {key}"):
                return line[len(f"info {key}"):].strip()
        return None

    def finish(self, timeout=60):
        """After the last GO: the result line and a zero exit status."""
        line = self.until("RESULT", timeout)
        rc = self.p.wait(timeout)
        self.errf.close()
        t.check_sanitizer(f"vufront-fs {self.scenario}", self.stderr())
        failed = [x for x in self.lines if x.startswith("check ") and not x.endswith(": ok")]
        t.check(line == "RESULT ok" and rc == 0 and not failed,
                f"vufront-fs {self.scenario}: {line}, exit {rc}; failed checks: {failed}\n"
                f"stderr: {self.stderr()[-2000:]}")
        n = sum(1 for x in self.lines if x.startswith("check "))
        t.log(f"{self.scenario}: {n} checks passed")

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def fail(self, msg):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(5)
        t.check_sanitizer(f"vufront-fs {self.scenario}", self.stderr())
        raise t.TestFailure(f"vufront-fs {self.scenario}: {msg} (exit {self.p.returncode})\n"
                            f"output: {self.lines[-20:]}\nstderr: {self.stderr()[-2000:]}")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)


def prepare_share(share):
    os.makedirs(os.path.join(share, "subdir"))
    with open(os.path.join(share, READ_FILE), "wb") as f:
        f.write(pattern(READ_SEED, READ_SIZE))
    with open(os.path.join(share, "other.txt"), "w") as f:
        f.write("hello from the host\n")
    with open(os.path.join(share, "subdir", "inner.txt"), "w") as f:
        f.write("inner\n")


def check_alive(gw, name, what):
    t.check(gw.proc.alive(), f"the gateway died ({what}):\n{gw.proc.output()[-3000:]}")
    d = gw.device(name)
    t.check(d["ready"] and d["connected"], f"{what}: device not ready: {d}")
    return d


def wait_phase(gw, name, phase, timeout=10):
    deadline = time.time() + timeout
    d = None
    while time.time() < deadline:
        d = gw.device(name)
        if d["phase"] == phase:
            return d
        time.sleep(0.05)
    raise t.TestFailure(f"{name}: phase {d['phase'] if d else None}, expected {phase}: {d}")


def wait_disconnected(gw, name, disconnects, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = gw.device(name)
        if not d["connected"] and d["disconnects"] >= disconnects:
            return d
        time.sleep(0.05)
    raise t.TestFailure(f"{name} still connected: {gw.device(name)}")


def check_fs_counters(gw, st):
    """The first front-end's run, idle at its SYNC point: the request
    queue's own counters agree with the session's, and rte_telemetry
    (dpdk-telemetry.py) lists the fs device with the same counters."""
    qs = st["queues"]
    t.check(len(qs) == 1 and qs[0]["queue"] == 0, f"queues: {qs}")
    q = qs[0]
    t.check(q["requests"] + st["hiprio_requests"] == st["requests"],
            f"queue 0 requests {q['requests']} + hiprio {st['hiprio_requests']}, "
            f"session {st['requests']}")
    t.check(st["hiprio_requests"] >= 1, f"no FORGET on hiprio: {st['hiprio_requests']}")
    t.check(q["replies"] == q["requests"], f"queue 0: {q}")
    for k in ("bytes_read", "bytes_written", "errors"):
        t.check(q[k] == st[k], f"queue 0 {k} {q[k]}, session {st[k]}")
    t.check(q["rx_packets"] == q["requests"] and q["tx_packets"] == q["replies"] and
            st["tx_bytes"] >= q["bytes_read"] + 16 * q["replies"],
            f"generic counters: {st}")
    tel = Telemetry(gw)
    devices, dev, stats = tel.query("/vhostgw/devices", "/vhostgw/device,fs1",
                                    "/vhostgw/stats")
    t.check(devices == ["fs1"], f"/vhostgw/devices = {devices}")
    t.check(dev.get("type") == "fs" and dev.get("phase") == "running" and
            dev.get("connected") == 1, f"/vhostgw/device,fs1: {dev}")
    for k in ("requests", "replies", "bytes_read", "bytes_written", "errors"):
        t.check(dev.get("q0", {}).get(k) == q[k],
                f"/vhostgw/device,fs1 q0.{k} = {dev.get('q0', {}).get(k)}, control {q[k]}")
    for k in ("requests", "bytes_read", "bytes_written", "errors", "hiprio_requests",
              "rx_packets", "tx_packets", "tx_bytes", "drops", "inodes"):
        t.check(dev.get(k) == st[k] and stats.get("fs1", {}).get(k) == st[k],
                f"telemetry {k}: device {dev.get(k)}, stats "
                f"{stats.get('fs1', {}).get(k)}, control {st[k]}")
    t.log(f"telemetry lists fs1: q0 requests {q['requests']}, replies {q['replies']}, "
          f"bytes_read {q['bytes_read']}, bytes_written {q['bytes_written']}")


def check_fs_ops(st):
    """The requests by opcode (stats "ops") of the basic run: every request
    under its opcode's name, the ones the scenario sends a known number of
    times exactly."""
    ops = st.get("ops")
    t.check(isinstance(ops, dict) and sum(ops.values()) == st["requests"],
            f"ops {ops} do not add up to requests {st['requests']}")
    for name, n in (("INIT", 1), ("OPEN", 1), ("CREATE", 1), ("WRITE", 1), ("OPENDIR", 1),
                    ("RELEASEDIR", 1), ("RELEASE", 2), ("STATFS", 4)):
        t.check(ops.get(name) == n, f"ops {name}: {ops.get(name)}, expected {n}: {ops}")
    t.check(ops.get("READ", 0) >= 65 and ops.get("LOOKUP", 0) >= 2 and
            ops.get("FORGET", 0) >= 1 and ops.get("GETATTR", 0) >= 6 and "other" not in ops,
            f"ops: {ops}")
    t.check(st["uring_ops"] > 0 and st["helper_ops"] >= 0, f"uring_ops {st['uring_ops']}, "
            f"helper_ops {st['helper_ops']}")
    t.log(f"basic: requests by opcode {ops}")


def run_basic(gw, tool, sock, wd, share):
    fe = Front(tool, sock, "basic", wd)
    try:
        fe.sync("done")
        d = check_alive(gw, "fs1", "basic")
        t.check(d["active_queues"] == 2, f"active rings: {d}")
        # INFLIGHT_SHMFD not negotiated, no region given
        t.check(d.get("inflight", False) is False, f"an inflight region reported: {d}")
        st = gw.stats("fs1")
        t.log(f"basic: stats {st}")
        # INIT, 2 LOOKUP, OPEN, 4 READ, 1 READ past EOF, 60 READ + 4 STATFS in
        # flight, RELEASE, CREATE, WRITE, RELEASE, 4 GETATTR, OPENDIR, READDIRs,
        # RELEASEDIR, FORGET, 2 GETATTR
        t.check(st["requests"] > 80, f"requests {st['requests']}, expected > 80")
        t.check(st["malformed"] == 0, f"malformed {st['malformed']} in a clean run")
        t.check(st["bytes_read"] == READ_SIZE + 60 * 3000,
                f"bytes_read {st['bytes_read']}, expected {READ_SIZE + 60 * 3000}")
        t.check(st["bytes_written"] == WRITE_SIZE, f"bytes_written {st['bytes_written']}")
        t.check(st["handles"] == 0, f"open handles left: {st['handles']}")
        check_fs_counters(gw, st)
        check_fs_ops(st)
        fe.go()
        fe.finish()
    finally:
        fe.kill()

    with open(os.path.join(share, WRITE_FILE), "rb") as f:
        data = f.read()
    want = pattern(WRITE_SEED, WRITE_SIZE)
    t.check(len(data) == len(want), f"{WRITE_FILE}: {len(data)} bytes, expected {len(want)}")
    first = next((i for i in range(len(want)) if data[i] != want[i]), None)
    t.check(first is None, f"{WRITE_FILE}: first wrong byte at {first}")
    mode = os.stat(os.path.join(share, WRITE_FILE)).st_mode & 0o777
    t.check(mode == 0o644, f"{WRITE_FILE}: mode {oct(mode)}")
    t.log(f"basic: {WRITE_FILE} on the host has the {len(data)} bytes written")


def run_malformed(gw, tool, sock, wd):
    before = gw.stats("fs1")
    fe = Front(tool, sock, "malformed", wd)
    try:
        fe.sync("done")
        d = check_alive(gw, "fs1", "malformed")
        st = gw.stats("fs1")
        t.log(f"malformed: stats {st}")
        expected = int(fe.info("malformed-expected") or -1)
        t.check(st["malformed"] == expected,
                f"malformed {st['malformed']}, vufront-fs posted {expected}")
        # the ring walker's refusals are also the device's drops
        t.check(st["drops"] - before["drops"] >= 11,
                f"drops {before['drops']} -> {st['drops']}")
        t.check(st["requests"] > 40, f"requests {st['requests']}")
        t.check(d["phase"] == "running", f"phase {d['phase']} after malformed chains")
        fe.go()
        fe.finish()
    finally:
        fe.kill()


def run_suspend(gw, tool, sock, wd):
    fe = Front(tool, sock, "suspend", wd)
    try:
        for rnd in ("", "-again"):
            fe.sync("running" if not rnd else "suspend-again")
            wait_phase(gw, "fs1", "running")
            r = gw.ctl("suspend", device="fs1")
            t.check(r.get("ok") and r.get("changed") is True, f"suspend: {r}")
            d = gw.device("fs1")
            t.check(d["suspended"] and d["phase"] == "suspended",
                    f"after suspend: {d}")
            r = gw.ctl("suspend", device="fs1")
            t.check(r.get("ok") and r.get("changed") is False, f"second suspend: {r}")
            req0 = gw.stats("fs1")["requests"]
            fe.go()
            fe.sync("posted" + rnd)
            d = gw.device("fs1")
            st = gw.stats("fs1")
            t.check(d["phase"] == "suspended" and d["ready"], f"while suspended: {d}")
            t.check(st["requests"] == req0,
                    f"requests {req0} -> {st['requests']} while suspended")
            r = gw.ctl("resume", device="fs1")
            t.check(r.get("ok") and r.get("changed") is True, f"resume: {r}")
            d = wait_phase(gw, "fs1", "running")
            t.check(not d["suspended"], f"after resume: {d}")
            t.log(f"suspend{rnd}: nothing served while suspended ({req0} requests), "
                  f"phase {d['phase']} after resume")
            fe.go()
        fe.sync("done")
        check_alive(gw, "fs1", "suspend")
        st = gw.stats("fs1")
        t.check(st["requests"] >= 2 + 41 + 8 + 1, f"requests {st['requests']}")
        fe.go()
        fe.finish()
    finally:
        fe.kill()


def run_remap(gw, tool, sock, wd):
    fe = Front(tool, sock, "remap", wd)
    try:
        # the memory table changed 6 times under requests in flight; then
        # dirty logging started (SET_LOG_BASE, LOG_ALL)
        fe.sync("logging")
        check_alive(gw, "fs1", "remap")
        wait_phase(gw, "fs1", "logging")
        fe.go()
        fe.sync("done")
        check_alive(gw, "fs1", "remap")
        wait_phase(gw, "fs1", "running")
        t.log(f"remap: stats {gw.stats('fs1')}")
        fe.go()
        fe.finish()
    finally:
        fe.kill()


def inflight_fields(gw, name):
    """The device's inflight fields, None where the gateway has none."""
    d = gw.device(name)
    return d.get("inflight"), d.get("inflight_resubmitted")


def run_front_once(gw, tool, sock, wd, scenario):
    """Run one vufront-fs scenario to its "done" point; the device and its
    stats as they were while it was connected, after its own verdict."""
    fe = Front(tool, sock, scenario, wd)
    try:
        fe.sync("done")
        d = check_alive(gw, "fs1", scenario)
        st = gw.stats("fs1")
        fe.go()
        fe.finish()
    finally:
        fe.kill()
    return fe, d, st


def run_inflight(gw, tool, sock, wd):
    _, res0 = inflight_fields(gw, "fs1")
    # read while it is connected; vufront-fs's own verdict comes first
    _, d, st = run_front_once(gw, tool, sock, wd, "inflight")
    t.log(f"inflight: stats {st}")
    # INIT, LOOKUP, OPEN, 2 x (60 READ + 4 STATFS), RELEASE; FORGET on hiprio
    t.check(st["requests"] >= 4 + 2 * 64, f"requests {st['requests']}")
    t.check(st["malformed"] == 0, f"malformed {st['malformed']} in a clean run")
    t.check(d["protocol_features"] & (1 << 12),
            f"INFLIGHT_SHMFD not negotiated: protocol features {d['protocol_features']:#x}")
    t.check(d.get("inflight") is True, f"the region is not reported: {d}")
    t.check(d.get("inflight_resubmitted") == res0,
            f"inflight_resubmitted {res0} -> {d.get('inflight_resubmitted')} "
            f"with nothing left in flight")
    return 1


def run_resubmit(gw, tool, sock, wd, scenario):
    _, res0 = inflight_fields(gw, "fs1")
    _, d, st = run_front_once(gw, tool, sock, wd, scenario)
    t.log(f"{scenario}: device {d}")
    t.log(f"{scenario}: stats {st}")
    t.check(d.get("inflight") is True, f"the region is not reported: {d}")
    t.check(d.get("inflight_resubmitted", -1) - (res0 or 0) == 3,
            f"inflight_resubmitted {res0} -> {d.get('inflight_resubmitted')}, expected 3 more")
    # INIT, LOOKUP, GETATTR resubmitted, GETATTR of the file, GETATTR of the root
    t.check(st["requests"] >= 5, f"requests {st['requests']}")
    t.check(st["malformed"] == 0, f"malformed {st['malformed']}")
    t.check(d["phase"] == "running", f"phase {d['phase']}")
    t.check("left in flight by the previous back-end" in gw.proc.output(),
            "the gateway did not log the resubmission")
    return 1


def inflight_refusals(gw):
    out = gw.proc.output()
    return out.count("INFLIGHT_FD refused") + len(re.findall(
        r"front-end message refused: [GS]ET_INFLIGHT_FD", out))


def run_inflight_bad(gw, tool, sock, wd):
    fds0 = t.fd_count(gw.proc.pid)
    refused0 = inflight_refusals(gw)
    fe, d, st = run_front_once(gw, tool, sock, wd, "inflight-bad")
    conns = int(fe.info("connections") or 0)
    t.log(f"inflight-bad: {conns} connections, stats {st}")
    t.check(conns >= 2, f"vufront-fs made {conns} connections")
    t.check(d.get("inflight") is True, f"the region is not reported: {d}")
    # 5 GETs and 9 SETs refused by the gateway; the SET of 0 queues is
    # refused by rte_vhost before the gateway sees it (through the keeper,
    # the SET without an fd is the keeper's)
    refused = inflight_refusals(gw) - refused0
    t.check(refused >= 14, f"the gateway logged {refused} refusals, expected >= 14")
    wait_disconnected(gw, "fs1", gw.device("fs1")["connects"])
    time.sleep(0.5)
    fds1 = t.fd_count(gw.proc.pid)
    t.log(f"inflight-bad: gateway fds {fds0} before, {fds1} after")
    # Every region fd the gateway refused was closed: a leak would be one per
    # refusal (14). One fd is rte_vhost 22.11's own: a SET_INFLIGHT_FD of 0
    # queues fails its ring allocation before any hook runs, and it returns
    # without closing the message's fd (vhost_user_msg_handler).
    t.check(fds1 - fds0 <= 1, f"gateway fds {fds0} -> {fds1} after the refused regions")
    return conns


def run_inflight_lie(gw, tool, sock, wd):
    _, res0 = inflight_fields(gw, "fs1")
    _, d, st = run_front_once(gw, tool, sock, wd, "inflight-lie")
    t.log(f"inflight-lie: stats {st}")
    t.check(d.get("inflight") is True, f"the region is not reported: {d}")
    t.check(d.get("inflight_resubmitted") == res0,
            f"inflight_resubmitted {res0} -> {d.get('inflight_resubmitted')}: a lying "
            f"header made the gateway take requests again")
    # INIT, 16 GETATTR; FORGET on hiprio
    t.check(st["requests"] >= 17, f"requests {st['requests']}")
    t.check(st["malformed"] == 0, f"malformed {st['malformed']}")
    return 1


def run_shrink(gw, tool, sock, wd):
    """The front-end truncates its guest memory under the running rings:
    the gateway lives, says so once, stops fs1 alone; a new connection
    (the next scenario) is served."""
    faults0 = gw.device("fs1").get("memory_faults", 0)
    fe = Front(tool, sock, "shrink", wd)
    try:
        fe.sync("shrunk")
        deadline = time.time() + 10
        d = gw.device("fs1")
        while time.time() < deadline and not d.get("memory_fault"):
            time.sleep(0.05)
            d = gw.device("fs1")
        t.check(gw.proc.alive(), f"the gateway died when guest memory shrank:\n"
                f"{gw.proc.output()[-3000:]}")
        t.log(f"shrink: device {d}")
        t.check(d.get("memory_fault") is True and d.get("memory_faults") == faults0 + 1,
                f"memory_fault {d.get('memory_fault')}, memory_faults "
                f"{faults0} -> {d.get('memory_faults')}")
        out = gw.proc.output()
        n = out.count("shrank the file of its guest memory")
        t.check(n == 1, f"the fault logged {n} times, expected once")
        fe.go()
        fe.sync("done")
        fe.go()
        fe.finish()
    finally:
        fe.kill()
    return 1


class PhaseEvents:
    """A control-socket subscription: the phase events, in order."""

    def __init__(self, gw):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(gw.ctl_path)
        self.s.sendall(b'{"cmd": "subscribe"}\n')
        self.buf = b""
        self.events = []

    def read(self, timeout=0.5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r, _, _ = select.select([self.s], [], [], max(0.0, deadline - time.time()))
            if not r:
                break
            chunk = self.s.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        lines, _, self.buf = self.buf.rpartition(b"\n")
        for line in lines.split(b"\n"):
            if line.strip():
                ev = json.loads(line)
                if ev.get("event") == "phase":
                    self.events.append(ev)
        return self.events

    def phases(self, device):
        return [e["phase"] for e in self.events if e["device"] == device]

    def close(self):
        self.s.close()


def run_migrate(gw, tool, sock, wd, share, via_ctl=False):
    """The FUSE session moves to a second gateway serving the same share:
    with DEVICE_STATE, the source saves it once its rings stopped and the
    destination loads it before its rings start (migrate); or the operator
    does it with state-save and state-load on the control sockets
    (migrate-ctl). The front-end goes on there without INIT, through the
    source's node ids and file handles."""
    scenario = "migrate-ctl" if via_ctl else "migrate"
    sock2 = os.path.join(wd, "fs2.sock")
    path = os.path.join(wd, "fs1.state")
    cfg2 = {"runtime_dir": wd,
            "devices": [{"name": "fs1", "type": "fs", "socket": sock2, "shared_dir": share,
                         "tag": "myfs", "queues": 1}]}
    gw2 = t.Gateway(gw.binary, wd, cfg2, name="gw2").start()
    ev1, ev2 = PhaseEvents(gw), PhaseEvents(gw2)
    try:
        fe = Front(tool, sock, scenario, wd, extra=("--socket2", sock2))
        try:
            if via_ctl:
                fe.sync("stopped")
                r = gw.ctl("state-load", device="fs1", path=path)
                t.check(not r["ok"] and "no front-end" not in r["error"],
                        f"state-load into a session that served requests: {r}")
                r = gw.ctl("state-save", device="fs1", path=path)
                t.check(r["ok"] and r["bytes"] == os.path.getsize(path) and
                        r["inodes"] == 2 and r["handles"] == 1, f"state-save: {r}")
                t.check(os.stat(path).st_mode & 0o777 == 0o600,
                        f"state file mode {os.stat(path).st_mode & 0o777:o}")
                fe.go()
            fe.sync("saved")
            d1 = gw.device("fs1")
            if not via_ctl:
                d1 = wait_phase(gw, "fs1", "saved")
                pf = int(fe.info("features").split("protocol ")[1].split()[0], 16)
                t.check(pf & (1 << 19), f"DEVICE_STATE not negotiated: {pf:#x}")
            t.check(d1["connected"] and not d1["ready"], f"source after the save: {d1}")
            fe.go()
            if via_ctl:
                fe.sync("connected")
                r = gw2.ctl("state-save", device="fs1", path=path + ".x")
                t.check(r["ok"], f"state-save of a fresh session: {r}")
                r = gw2.ctl("state-load", device="fs1", path=path)
                t.check(r["ok"] and r["inodes"] == 2 and r["handles"] == 1 and
                        r["stale"] == 0, f"state-load: {r}")
                r = gw2.ctl("state-load", device="fs1", path=path)
                t.check(not r["ok"] and "failed" in r["error"],
                        f"a second state-load into a loaded session: {r}")
                fe.go()
            fe.sync("loaded")
            gw2.wait_ready(["fs1"], timeout=10)  # a moment after the last message
            d2 = check_alive(gw2, "fs1", f"{scenario} destination")
            fe.go()
            fe.sync("done")
            st2 = gw2.stats("fs1")
            fe.go()
            fe.finish()
        finally:
            fe.kill()
        t.log(f"{scenario}: state {fe.info('state')}; destination {d2}; stats {st2}")
        wait_disconnected(gw2, "fs1", 1)
        p1 = ev1.read() and ev1.phases("fs1")
        p2 = ev2.read() and ev2.phases("fs1")
        t.log(f"{scenario}: source phases {p1}, destination phases {p2}")
        if via_ctl:
            # the operator's snapshots move no phase
            t.check("saving" not in p1 and "loading" not in p2,
                    f"phases {p1} / {p2}: state-save/load are no migration")
            t.check(p2[:2] == ["connected", "running"], f"destination phases {p2}")
        else:
            # the source: ... suspended (rings stopped), saving, saved; then
            # the front-end leaves a saved device: completed
            t.check(p1[-3:] == ["saving", "saved", "completed"],
                    f"source phases {p1}: expected ... saving, saved, completed")
            t.check(p2[:3] == ["connected", "loading", "loaded"] and
                    p2[3] in ("running", "resumed"),
                    f"destination phases {p2}: expected connected, loading, loaded, running")
        # READs of the second half, GETATTR, LOOKUP, RELEASE, GETATTR of the
        # root: no INIT on the destination
        t.check(st2["requests"] >= 5 and st2["errors"] == 0,
                f"destination stats {st2}")
        # the loaded table: the root and the source's read file, no new one
        t.check(st2["inodes"] == 2, f"destination inodes {st2['inodes']}, expected 2")
    finally:
        ev1.close()
        ev2.close()
        gw2.stop()
    return 1

SOFT_NOFILE = 4096


def run_many_files(gw, tool, sock, wd):
    """More files looked up at once than the open-file limit the gateway
    was started with (main() lowers it to SOFT_NOFILE, as a shell's 1,024
    would be): the gateway holds an fd per node, so it runs with the most
    it may have (EAL raises the soft limit to the hard one; as root vhostgw
    raises both toward fs.nr_open, where it has CAP_SYS_RESOURCE) and every
    CREATE succeeds; then every file is unlinked and forgotten."""
    n = SOFT_NOFILE + 2000
    pid = gw.gateway_pids()[-1] if isinstance(gw, t.Keeper) else gw.proc.pid
    limit = None
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                limit = int(line.split()[3])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    t.check(limit is not None and limit >= hard and limit > n,
            f"the gateway's open-file limit is {limit} (started with {SOFT_NOFILE}, "
            f"hard {hard})")
    r = subprocess.run([tool, "--socket", sock, "--scenario", "bench",
                        "--op", "create:16,unlink:16", "--max-files", str(n),
                        "--seconds", "200", "--name-prefix", f"many{os.getpid()}-"],
                       input="GO\n", capture_output=True, text=True, timeout=280, cwd=wd)
    ops = {}
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            j = json.loads(line)
            ops[j["op"]] = j
    t.check(r.returncode == 0 and ops.get("create", {}).get("ops") == n and
            ops.get("unlink", {}).get("ops") == n and
            not any(o["errors"] for o in ops.values()),
            f"vufront-fs bench create/unlink of {n} files: exit {r.returncode}, {ops}, "
            f"stderr {r.stderr[-600:]}")
    t.log(f"many-files: {n} files created and held, then unlinked "
          f"(open-file limit {limit})")


SLOW_READ_MS = 22000  # longer than the 20 s the stop waited before


def run_slowstop(binary, tool, wd, share):
    """A gateway of its own whose READs run 22 s late (the test-only
    VHOSTGW_TEST_FAULT=fs-slow-read-ms): the front-end stops the device
    (GET_VRING_BASE) with a READ in flight. The stop waits for it, however
    long (before, it gave up after 10 s twice, quiescing and stopping: the
    late READ then wrote into guest memory after the stop and completed a
    slot given out again): vufront-fs
    checks the READ was answered, its data right, before GET_VRING_BASE
    answered, and that the rings serve again after a restart. The gateway
    said it waited and lives on."""
    sock = os.path.join(wd, "slow.sock")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "slow", "type": "fs", "socket": sock, "shared_dir": share,
                        "tag": "slowfs", "queues": 1}]}
    os.environ["VHOSTGW_TEST_FAULT"] = f"fs-slow-read-ms={SLOW_READ_MS}"
    try:
        gw = t.Gateway(binary, wd, cfg, name="gwslow").start()
    finally:
        del os.environ["VHOSTGW_TEST_FAULT"]
    fe = Front(tool, sock, "slowstop", wd)
    try:
        fe.sync("done", timeout=120)
        d = check_alive(gw, "slow", "slowstop")
        t.check(d["connected"], f"slowstop: the device after the restart: {d}")
        out = gw.proc.output()
        t.check("READs run late" in out, "slowstop: the gateway did not take the test fault")
        t.check(re.search(r"slow: 1 request\(s\) still in flight after 1\d s: waiting", out),
                f"slowstop: no drain warning in the gateway's log:\n{out[-2000:]}")
        t.check("the requests in flight completed after" in out,
                f"slowstop: no end of the wait in the gateway's log:\n{out[-2000:]}")
        t.check("not started" not in out, f"slowstop: {out[-2000:]}")
        t.log(f"slowstop: GET_VRING_BASE answered after {fe.info('stop-ms')} ms, "
              f"READ delayed {SLOW_READ_MS} ms")
        fe.go()
        fe.finish()
    finally:
        fe.kill()
    t.check(gw.proc.alive(), "slowstop: the gateway died")
    gw.stop()


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    # a third argument: the same scenarios through vhostgw-keeper (the relay
    # and its journal must not change what a front-end sees)
    keeper = sys.argv[3] if len(sys.argv) > 3 else None
    wd = t.workdir("fs-ring")
    # the gateway starts with a low soft limit of open files (many-files)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT_NOFILE, hard))
    share = os.path.join(wd, "share")
    os.makedirs(share)
    prepare_share(share)
    sock = os.path.join(wd, "fs1.sock")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "fs1", "type": "fs", "socket": sock, "shared_dir": share,
                        "tag": "myfs", "queues": 1}]}
    # no standby: one gateway, its --file-prefix (dpdk-telemetry.py) as given
    gw = (t.Keeper(keeper, binary, wd, cfg, keeper_args=["--no-standby"]) if keeper
          else t.Gateway(binary, wd, cfg)).start()
    d = gw.device("fs1")
    t.check(d["type"] == "fs" and d["tag"] == "myfs" and not d["connected"], f"fs1: {d}")
    scenarios = [("basic", lambda: run_basic(gw, tool, sock, wd, share)),
                 ("malformed", lambda: run_malformed(gw, tool, sock, wd)),
                 ("suspend", lambda: run_suspend(gw, tool, sock, wd)),
                 ("remap", lambda: run_remap(gw, tool, sock, wd)),
                 ("inflight", lambda: run_inflight(gw, tool, sock, wd)),
                 ("resubmit", lambda: run_resubmit(gw, tool, sock, wd, "resubmit")),
                 ("resubmit-used", lambda: run_resubmit(gw, tool, sock, wd, "resubmit-used")),
                 ("resubmit-late", lambda: run_resubmit(gw, tool, sock, wd, "resubmit-late")),
                 ("inflight-bad", lambda: run_inflight_bad(gw, tool, sock, wd)),
                 ("inflight-lie", lambda: run_inflight_lie(gw, tool, sock, wd)),
                 ("migrate", lambda: run_migrate(gw, tool, sock, wd, share)),
                 ("migrate-ctl", lambda: run_migrate(gw, tool, sock, wd, share, via_ctl=True)),
                 ("shrink", lambda: run_shrink(gw, tool, sock, wd)),
                 # after shrink: a new connection is served
                 ("many-files", lambda: run_many_files(gw, tool, sock, wd))]
    only = os.environ.get("VGW_FS_RING_ONLY")
    for name, fn in scenarios:
        if only and name not in only.split(","):
            continue
        c0 = gw.device("fs1")["connects"]
        t.log(f"scenario {name}")
        conns = fn() or 1
        d = wait_disconnected(gw, "fs1", c0 + conns)
        t.check(d["connects"] == c0 + conns,
                f"{name}: connects {c0} -> {d['connects']}, {conns} expected")
        t.check(gw.proc.alive(), f"the gateway died after {name}")
    d = gw.device("fs1")
    t.check(d["connects"] == d["disconnects"], f"connects/disconnects: {d}")
    gw.stop()
    if keeper is None and (not only or "slowstop" in only.split(",")):
        t.log("scenario slowstop")
        run_slowstop(binary, tool, wd, share)


if __name__ == "__main__":
    t.run(main)
