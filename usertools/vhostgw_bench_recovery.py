# SPDX-License-Identifier: BSD-3-Clause
"""vhostgw-bench recovery: how long a device stops when the gateway is
killed with SIGKILL under vhostgw-keeper, with a hot standby (the keeper's
default) and with cold restarts (--no-standby), measured in the same run;
net traffic, virtio-fs requests, or both (--device net|fs|both, default both).

Each arm is one keeper and one front-end:
  keeper    vhostgw-keeper --stable-ms 200 [--no-standby] -- vhostgw
            (lcores 0@0,1@1, -m 256), with
  net       net devices a and b, xconnect a<->b; front-end dpdk-testpmd
            (lcores 0@0,1@0), io forwarding, ports paired: an endless pcap
            source -> virtio_user(a) ... gateway a->b ... virtio_user(b) ->
            a null sink
  fs        one fs device fs1 sharing a temporary directory; front-end
            vufront-fs (build/tests/lib) --scenario churn --pace-ms 0, on
            core 0: rounds of MKDIR, CREATE, WRITE, ... FORGET, every reply
            checked, until "stop" on its stdin

The two arms of a device (standby, cold) are set up once and take turns,
the order flipping every round; the idle arm is stopped with SIGSTOP (its
process groups), as in the net benchmark's interleaved mode. With --device
both, the net arms run first, then the fs arms (not the four interleaved:
cold and standby are compared within a device, and four keepers at once
would need 2 GiB of hugepages and twice the front-ends on 2 cores). Per kill:

  replay   until every device is replayed to the next gateway: the latest
           of the keeper's replay lines, which give the time since the
           keeper reaped the dead gateway (its SIGCHLD wakes the keeper)
  traffic  net: from the kill, on the host clock, until the next gateway
           answers `stats` for b with tx_packets > 0 (its counters start at 0)
  served   fs: the same for fs1's `requests` (requests the next gateway
           handed to its fs engine, taken-again ones included)

The control socket is polled every millisecond. Before a standby kill the
standby is ready (its "standby: EAL up" line after the keeper's last
"standby gateway started"), plus 0.5 s; a cold kill follows 1.5 s after the
device is back. Kills meeting no ready standby, or replaced without "(the
standby took over)", are reported.

The fs front-end must not notice the kills: after each one it finishes two
more rounds with no failed check, and at the end it reports failed=0,
"RESULT ok" and one connection, which the keeper kept (one "device fs1:
front-end connected (", no "front-end connection closed"); otherwise the
run stops on an error. vufront-fs runs with --timeout-ms 60000: its request
timeout (10 s by default) also runs while its arm is stopped.

Python 3 standard library only; processes, locking and clean-up come from
vhostgw-bench. Not a pass/fail test. Exit status 0 when every kill was
measured (and the fs front-end saw no failure), 1 on an error, 130 on Ctrl-C.
"""

import argparse
import importlib.machinery
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time


def _bench_module():
    """vhostgw-bench itself (it registers itself when it dispatches here)."""
    mod = sys.modules.get("vhostgw_bench")
    if mod is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vhostgw-bench")
        loader = importlib.machinery.SourceFileLoader("vhostgw_bench", path)
        mod = importlib.util.module_from_spec(
            importlib.util.spec_from_loader("vhostgw_bench", loader))
        loader.exec_module(mod)
        sys.modules["vhostgw_bench"] = mod
    return mod


vb = _bench_module()
BenchError, log = vb.BenchError, vb.log

ARMS = ("standby", "cold")
MEM = 256
STABLE_MS = 200
COLD_GAP = 1.5          # s after the device is back, before the next cold kill
STANDBY_GAP = 0.5       # s after the standby is ready
SETTLE = 0.5            # s after resuming an arm
READY_LINE = "standby: EAL up, waiting for the keeper"
FE_TIMEOUT_MS = 60000   # vufront-fs request timeout (runs on while stopped)
FE_ROUNDS_AFTER = 2     # churn rounds the fs front-end completes after a kill


def write_pcap(path, size=256, count=64):
    """count frames of size bytes (no FCS) from ...:0a to ...:0b."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(count):
            fr = (bytes.fromhex("02000000000b02000000000a88b5") + struct.pack("!I", i) +
                  bytes((i * 7 + j * 13) & 0xFF for j in range(size - 18)))
            f.write(struct.pack("<IIII", 1, i, len(fr), len(fr)) + fr)


def dev_counter(path, device, field):
    """(restarts, the device's counter) from a control socket, None if none answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(path)
        s.sendall((json.dumps(dict(cmd="stats", device=device)) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
    except OSError:
        return None
    finally:
        s.close()
    r = json.loads(buf.split(b"\n")[0])
    if not r.get("ok") or not r.get("devices"):
        return None
    return r.get("restarts", 0), r["devices"][0][field]


def signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


class Arm:
    """One keeper with its gateways, and its own front-end. A subclass gives
    the devices, the front-end, and the counter that shows the device served
    again: PROBE (device, counter), METRIC (its key per kill)."""

    LABEL = ""              # arm name prefix
    DEVICE = PROBE = METRIC = WHAT = DESCRIPTION = None
    rounds = None           # fs: churn rounds done, once finished

    def __init__(self, kind, args, wd):
        self.kind = kind
        self.name = self.LABEL + kind
        self.wd = os.path.join(wd, self.name)
        os.mkdir(self.wd)
        self.prefix = f"vgwr{os.getpid()}{self.LABEL[:1]}{kind[0]}"
        self.ctl_path = os.path.join(self.wd, "gw.ctl")
        self.kills = []
        self.paused = False
        self.fe = None
        cfg = dict(runtime_dir=self.wd, **self.devices())
        self.names = [d["name"] for d in cfg["devices"]]
        cfg_path = os.path.join(self.wd, "gw.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=1)
        argv = ([args.keeper, "--dir", os.path.join(self.wd, "keeper"),
                 "--stable-ms", str(STABLE_MS)] +
                (["--no-standby"] if kind == "cold" else []) +
                ["--", args.vhostgw, "--no-pci", f"--file-prefix={self.prefix}",
                 "-m", str(MEM), "--lcores=0@0,1@1",
                 "--", "--config", cfg_path, "--control-socket", self.ctl_path])
        self.keeper = vb.Proc(f"keeper-{self.name}", argv, self.wd, self.prefix)
        try:
            self.start(args)
        except BaseException:
            self.stop()
            raise

    def sock(self, device):
        return os.path.join(self.wd, f"{device}.sock")

    def start(self, args):
        if not self.keeper.wait_output(r"gateway 1 started", 20) or \
                not all(os.path.exists(self.sock(d)) for d in self.names):
            raise BenchError(f"{self.name}: the keeper did not start:\n{self.keeper.tail()}")
        self.start_front_end(args)   # sets self.fe, its Proc
        self.wait_probe(0, 30)
        self.wait_ready()

    def out(self):
        return self.keeper.output()

    def gateways(self):
        """[(generation, pid, took over)] of every gateway the keeper started."""
        return [(int(g), int(p), bool(s)) for g, p, s in re.findall(
            r"gateway (\d+) started: pid (\d+)( \(the standby took over\))?", self.out())]

    def standby_ready(self):
        if self.kind != "standby":
            return True
        out = self.out()
        i = out.rfind("standby gateway started: pid")
        return i >= 0 and READY_LINE in out[i:]

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.standby_ready():
            if time.monotonic() > deadline or not self.keeper.alive():
                raise BenchError(f"{self.name}: no standby ready:\n{self.keeper.tail()}")
            time.sleep(0.01)

    def probe(self):
        return dev_counter(self.ctl_path, *self.PROBE)

    def wait_probe(self, restarts, timeout, since=None):
        """Until a gateway with this many restarts shows PROBE > 0; the time."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.probe()
            now = time.monotonic()
            if r is not None and r[0] >= restarts and r[1] > 0:
                return now
            if now > deadline or not self.keeper.alive():
                raise BenchError(f"{self.name}: no {self.WHAT} after "
                                 f"{timeout if since is None else now - since:.1f} s "
                                 f"(last answer {r}):\n{self.keeper.tail()}")
            time.sleep(0.001)

    def replays(self, gen):
        """{device: the keeper's ms from the death to its replay to gateway gen}."""
        # not anchored to the keeper's "vhostgw-keeper[time]: " prefix: it is
        # written apart from the message, and a gateway's line may come between
        names = "|".join(re.escape(n) for n in self.names)
        return {m.group(1): float(m.group(2)) for m in re.finditer(
            rf"device ({names}): \d+ message\(s\) replayed to gateway {gen}, ([\d.]+) ms after",
            self.out())}

    def wait_replays(self, gen, timeout=5):
        deadline = time.monotonic() + timeout
        while len(self.replays(gen)) < len(self.names):
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: gateway {gen} not replayed:\n"
                                 f"{self.keeper.tail()}")
            time.sleep(0.01)
        return self.replays(gen)

    def pause(self):
        for pid in (self.fe.pid, self.keeper.pid):
            signal_group(pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        for pid in (self.keeper.pid, self.fe.pid):
            signal_group(pid, signal.SIGCONT)
        self.paused = False

    def kill(self, i):
        """One SIGKILL of the running gateway, measured and checked; then the gap."""
        gen, pid, _ = self.gateways()[-1]
        if self.probe() is None or not self.fe.alive():
            raise BenchError(f"{self.name}: gateway {gen} does not answer before kill {i}")
        ready = self.standby_ready()
        mark = os.path.getsize(self.fe.logpath)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        t_back = self.wait_probe(gen, 10, since=t0)
        rep = self.wait_replays(gen + 1)
        self.check_front_end(i, mark)
        self.record(i, gen, pid, ready, rep, t_back - t0)
        if self.kind == "standby":
            self.wait_ready()
            time.sleep(STANDBY_GAP)
        else:
            time.sleep(COLD_GAP)

    def record(self, i, gen, pid, ready, rep, dt):
        new = [g for g in self.gateways() if g[0] == gen + 1][0]
        standby = self.kind == "standby"
        k = dict(device=self.DEVICE, arm=self.name, kill=i, pid=pid, next_pid=new[1],
                 took_over=new[2], standby_ready=ready if standby else None,
                 replay_ms=max(rep.values()), replays=rep)
        k[self.METRIC] = round(dt * 1000, 1)
        self.kills.append(k)
        note = ""
        if standby and not (ready and new[2]):
            note = f"  (standby {'ready' if ready else 'NOT ready'}, " \
                   f"{'took over' if new[2] else 'cold start'})"
        log(f"{self.name:>10} kill {i + 1:2}: replay {k['replay_ms']:6.1f} ms, "
            f"{self.METRIC[:-3]} {k[self.METRIC]:6.1f} ms{note}")

    def check_front_end(self, i, mark):
        """After kill i: the front-end noticed nothing (mark: its log's size at the kill)."""

    def finish(self):
        """After the last kill, the arm resumed: the front-end's verdict."""

    def stop(self):
        if self.paused:
            self.resume()
        if self.fe is not None:
            self.stop_front_end()
        rc = self.keeper.stop()
        for p in (self.prefix, self.prefix + "-k0", self.prefix + "-k1"):
            vb.remove_dpdk_files(p)
        if rc != 0:
            log(f"warning: keeper ({self.name}) exited with {rc}:\n{self.keeper.tail(1000)}")


class NetArm(Arm):
    """Net devices a and b cross-connected; testpmd forwards a pcap source through them."""

    DEVICE, PROBE, METRIC, WHAT = "net", ("b", "tx_packets"), "traffic_ms", "traffic on b"
    DESCRIPTION = "net xconnect a<->b, testpmd pcap source at full rate"
    tp = None

    def devices(self):
        return {"devices": [{"name": d, "type": "net", "socket": self.sock(d)} for d in "ab"],
                "links": [{"xconnect": ["a", "b"]}]}

    def start_front_end(self, args):
        pcap = os.path.join(self.wd, "in.pcap")
        write_pcap(pcap)
        eal = ["--single-file-segments", "--lcores=0@0,1@0",
               "--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
               "--vdev", f"net_virtio_user0,path={self.sock('a')}",
               "--vdev", f"net_virtio_user1,path={self.sock('b')}",
               "--vdev", "net_null0,no-rx=1"]
        app = ["--nb-cores=1", "--no-flush-rx", "--forward-mode=io", "--port-topology=paired"]
        self.tp = vb.Testpmd(f"testpmd-{self.name}", args.testpmd, self.wd, self.prefix + "f",
                             eal, app, MEM)
        self.fe = self.tp.proc
        self.tp.cmd("start")

    def stop_front_end(self):
        self.tp.quit()


class FsArm(Arm):
    """One fs device; vufront-fs churns on it and checks every reply."""

    LABEL = "fs-"
    DEVICE, PROBE, METRIC, WHAT = "fs", ("fs1", "requests"), "served_ms", "request served for fs1"
    DESCRIPTION = "fs: one fs device, vufront-fs churn --pace-ms 0"

    def devices(self):
        share = os.path.join(self.wd, "share")
        os.mkdir(share)
        return {"devices": [{"name": "fs1", "type": "fs", "socket": self.sock("fs1"),
                             "shared_dir": share, "tag": "myfs", "queues": 1}]}

    def start_front_end(self, args):
        argv = [args.vufront_fs, "--socket", self.sock("fs1"), "--scenario", "churn",
                "--pace-ms", "0", "--timeout-ms", str(FE_TIMEOUT_MS)]
        self.fe = vb.Proc(f"vufront-fs-{self.name}", argv, self.wd, self.prefix + "f",
                          stdin=subprocess.PIPE)
        os.sched_setaffinity(self.fe.pid, {0})   # core 0, as the net arm's testpmd

    def fe_log(self, mark=0):
        with open(self.fe.logpath, "rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def fail(self, what):
        """An error naming its failed checks and verdict lines, and its last lines."""
        out = self.fe_log()
        said = [ln for ln in out.splitlines() if re.search(
            r": FAIL|^info (churn rounds=|connections|the back-end)|^RESULT", ln)]
        raise BenchError(f"{self.name}: {what}; vufront-fs ({self.fe.logpath}) said:\n" +
                         "\n".join(said[:20]) + f"\nits last lines:\n{out[-600:]}")

    def connection_kept(self):
        out = self.out()
        if out.count("device fs1: front-end connected (") != 1 or \
                "front-end connection closed" in out:
            self.fail("the keeper did not keep the front-end's one connection:\n" +
                      "\n".join(ln for ln in out.splitlines() if "device fs1: front-end" in ln))

    def check_front_end(self, i, mark):
        deadline = time.monotonic() + 10
        while True:
            out = self.fe_log(mark)
            if ": FAIL" in out or "SYNC done" in out or not self.fe.alive():
                self.fail(f"THE FRONT-END FAILED after kill {i + 1}")
            if len(re.findall(r"(?m)^info churn round=\d+ done$", out)) >= FE_ROUNDS_AFTER:
                return self.connection_kept()
            if time.monotonic() > deadline:
                self.fail(f"no churn round done in 10 s after kill {i + 1}")
            time.sleep(0.005)

    def send(self, line):
        try:
            self.fe.p.stdin.write(line)
            self.fe.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            self.fail("vufront-fs exited")

    def finish(self):
        """Ends the churn ("stop"); at its "SYNC done" the keeper must have kept
        the connection; after "GO" it must end with failed=0, one connection
        and RESULT ok."""
        self.resume()
        self.send(b"stop\n")
        if not self.fe.wait_output(r"(?m)^SYNC done$", 60):
            self.fail("the churn did not end")
        self.connection_kept()
        self.send(b"GO\n")
        rc = self.fe.wait(20)
        out = self.fe_log()
        m = re.search(r"(?m)^info churn rounds=(\d+) failed=(\d+)$", out)
        if rc != 0 or m is None or m.group(2) != "0" or ": FAIL" in out or \
                "\ninfo connections 1\n" not in out or not out.endswith("RESULT ok\n"):
            self.fail(f"THE FRONT-END FAILED (exit status {rc})")
        self.rounds = int(m.group(1))
        log(f"{self.name}: vufront-fs ended: {self.rounds} churn rounds, failed=0, "
            f"one connection, RESULT ok")

    def stop_front_end(self):
        self.fe.stop()


DEVICES = {"net": NetArm, "fs": FsArm}


def run_device(args, wd, cls, arms):
    """The two arms of one device set up, args.kills rounds of one kill each,
    the front-ends' verdicts, the arms stopped."""
    pair = []
    try:
        for kind in ARMS:
            arm = cls(kind, args, wd)
            pair.append(arm)
            arms[arm.name] = arm
            arm.pause()
            log(f"{arm.name}: keeper pid {arm.keeper.pid}, front-end pid {arm.fe.pid}, "
                f"{'forwarding' if cls is NetArm else 'churning'}")
        for i in range(args.kills):
            for arm in (pair if i % 2 == 0 else pair[::-1]):
                arm.resume()
                time.sleep(SETTLE)
                arm.kill(i)
                arm.pause()
        for arm in pair:
            arm.finish()
    finally:
        for arm in pair:
            arm.stop()


def run(args, wd, arms):
    for dev in args.devices:
        run_device(args, wd, DEVICES[dev], arms)


def quantile(v, q):
    """Nearest rank."""
    s = sorted(v)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def arm_summary(arm):
    s = dict(kills=len(arm.kills))
    for key in ("replay_ms", arm.METRIC):
        v = [k[key] for k in arm.kills]
        s[key] = dict(median=statistics.median(v), p90=quantile(v, 0.9), max=max(v)) \
            if v else None
    s["not_ready"] = [k["kill"] + 1 for k in arm.kills if k["standby_ready"] is False]
    s["cold_starts"] = [k["kill"] + 1 for k in arm.kills
                        if arm.kind == "standby" and not k["took_over"]]
    if arm.rounds is not None:
        s["churn_rounds"] = arm.rounds
    return s


def summarize(arms, devices):
    """Per arm its summary; per device, cold/standby of the medians."""
    out = {name: arm_summary(arm) for name, arm in arms.items()}
    ratio = {}
    for dev in devices:
        cls = DEVICES[dev]
        sb, cd = (out.get(cls.LABEL + kind) for kind in ARMS)
        ratio[dev] = {key: round(cd[key]["median"] / sb[key]["median"], 2)
                      if sb and cd and sb[key] and cd[key] and sb[key]["median"] else None
                      for key in ("replay_ms", cls.METRIC)}
    return out, ratio


def print_device(summary, ratio, cls):
    names = [cls.LABEL + kind for kind in ARMS if cls.LABEL + kind in summary]
    if not names:
        return
    w = max([8] + [len(n) for n in names])
    print()
    title = f"kill -> {cls.METRIC[:-3]} ms"
    print(f"{'arm':<{w}} {'kills':>5}   {'kill -> replay ms':^23}   {title:^23}".rstrip())
    print(f"{'':<{w}} {'':>5}   {'median':>7} {'p90':>7} {'max':>7}   "
          f"{'median':>7} {'p90':>7} {'max':>7}")
    for name in names:
        s = summary[name]
        cols = []
        for key in ("replay_ms", cls.METRIC):
            d = s[key]
            cols.append(" ".join(vb.fmt(d and d[f], "7.1f") for f in ("median", "p90", "max")))
        print(f"{name:<{w}} {s['kills']:>5}   {cols[0]}   {cols[1]}")
    print(f"{'cold/standby':<{w + 6}}   {vb.fmt(ratio['replay_ms'], '7.2f')}x{'':18}"
          f"{vb.fmt(ratio[cls.METRIC], '7.2f')}x  (ratios of the medians)")
    sb = summary.get(cls.LABEL + "standby")
    if sb and (sb["not_ready"] or sb["cold_starts"]):
        print(f"\n{cls.LABEL}standby arm: no ready standby at kill(s) {sb['not_ready'] or '-'}; "
              f"cold start instead of a take-over at kill(s) {sb['cold_starts'] or '-'}")
    done = [f"{n} {summary[n]['churn_rounds']}" for n in names if "churn_rounds" in summary[n]]
    if done:
        print(f"\nvufront-fs churn rounds: {', '.join(done)}; each with no failed check "
              f"and one front-end connection")


def print_table(summary, ratio, args):
    print(f"vhostgw-bench recovery: SIGKILL of the gateway under vhostgw-keeper "
          f"--stable-ms {STABLE_MS},\n{args.kills} kills per arm, interleaved; " +
          ";\n".join(DEVICES[dev].DESCRIPTION for dev in args.devices))
    print(f"vhostgw: {args.vhostgw}\nkeeper:  {args.keeper}")
    if "fs" in args.devices:
        print(f"vufront-fs: {args.vufront_fs}")
    for dev in args.devices:
        print_device(summary, ratio[dev], DEVICES[dev])


def find_vufront_fs(arg):
    """arg, else build/tests/lib/vufront-fs under the repository root."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = arg or os.path.join(root, "build", "tests", "lib", "vufront-fs")
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path}: not an executable (ninja -C build builds it, "
                         f"or give --vufront-fs)")
    return os.path.abspath(path)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="vhostgw-bench recovery",
        description="Time from a SIGKILL of the gateway under vhostgw-keeper to the replay "
        "and to the device served again (net traffic, fs requests), hot standby vs. cold "
        "restart, interleaved.")
    ap.add_argument("--device", choices=("net", "fs", "both"), default="both",
                    help="net: net traffic (testpmd); fs: fs requests (vufront-fs churn); "
                    "both (default): the net arms, then the fs arms")
    ap.add_argument("--kills", type=int, default=20, help="kills per arm (default 20)")
    ap.add_argument("--vhostgw", help="the vhostgw binary (default: build/app/vhostgw/"
                    "vhostgw under the repository root, then PATH)")
    ap.add_argument("--keeper", help="the vhostgw-keeper binary (default: build/app/"
                    "vhostgw-keeper/vhostgw-keeper under the repository root, then PATH)")
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd") or "dpdk-testpmd",
                    help="dpdk-testpmd binary (default: from PATH)")
    ap.add_argument("--vufront-fs", help="the vufront-fs binary (default: build/tests/lib/"
                    "vufront-fs under the repository root)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log command lines")
    args = ap.parse_args(argv)
    if args.kills < 1:
        ap.error("--kills must be positive")
    args.devices = ["net", "fs"] if args.device == "both" else [args.device]
    return args


def print_json(summary, ratio, arms, args, rc):
    """net as before (summary "standby", "cold", ratio_cold_standby); fs arms
    "fs-standby", "fs-cold" in summary, their ratios in ratio_cold_standby_fs."""
    out = dict(config=dict(kills=args.kills, stable_ms=STABLE_MS, mem=MEM,
                           vhostgw=args.vhostgw, keeper=args.keeper, testpmd=args.testpmd,
                           device=args.device, vufront_fs=args.vufront_fs),
               summary=summary)
    for dev in args.devices:
        out["ratio_cold_standby" + ("" if dev == "net" else "_" + dev)] = ratio[dev]
    out.update(kills=[k for a in arms.values() for k in a.kills], complete=rc == 0)
    json.dump(out, sys.stdout, indent=1)
    print()


def main(argv):
    args = parse_args(argv)
    vb.VERBOSE = args.verbose

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    wd, arms, rc = None, {}, 0
    try:
        args.vhostgw = vb.find_vhostgw(args.vhostgw)
        args.keeper = vb.find_vhostgw(args.keeper, "vhostgw-keeper", "--keeper")
        if "net" in args.devices and shutil.which(args.testpmd) is None:
            raise BenchError("dpdk-testpmd not found (apt-get install dpdk)")
        if "fs" in args.devices:
            args.vufront_fs = find_vufront_fs(args.vufront_fs)
        if not os.path.ismount(vb.HUGE_DIR):
            raise BenchError(f"{vb.HUGE_DIR} is not a hugetlbfs mount")
        lock = vb.machine_lock(vb.LOCK_PATH)  # noqa: F841 (held until exit)
        # net: standby arm gateway, standby, testpmd; cold arm gateway, testpmd
        # fs: standby arm gateway, standby; cold arm gateway (vufront-fs: memfd)
        need = (5 if "net" in args.devices else 3) * MEM
        if vb.hugepages_free() < need:
            raise BenchError(f"{vb.hugepages_free()} MiB of hugepages free, {need} MiB needed")
        wd = tempfile.mkdtemp(prefix="vgw-bench-recovery-")
        os.chmod(wd, 0o755)
        log(f"work directory {wd}; {args.kills} kills per arm; {' then '.join(args.devices)}")
        run(args, wd, arms)
    except KeyboardInterrupt:
        log("interrupted: stopping")
        rc = 130
    except BenchError as e:
        log(f"error: {e}")
        rc = 1
    finally:
        vb.cleanup_all()
        if wd and (args.keep or rc == 1):
            log(f"logs kept in {wd}")
        elif wd:
            shutil.rmtree(wd, ignore_errors=True)
    if rc == 130 or not any(a.kills for a in arms.values()):
        return rc or 1
    summary, ratio = summarize(arms, args.devices)
    if args.json:
        print_json(summary, ratio, arms, args, rc)
    else:
        print_table(summary, ratio, args)
        if rc != 0:
            print("\nincomplete: the run stopped on an error (see the log above)")
    return rc
