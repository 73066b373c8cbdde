# SPDX-License-Identifier: BSD-3-Clause
"""vhostgw-bench recovery: how long net traffic stops when the gateway is
killed with SIGKILL under vhostgw-keeper, with a hot standby (the keeper's
default) and with cold restarts (--no-standby), measured in the same run.

Each arm is one keeper and one front-end:
  keeper    vhostgw-keeper --stable-ms 200 [--no-standby] -- vhostgw
            (lcores 0@0,1@1, -m 256), net devices a and b, xconnect a<->b
  front-end dpdk-testpmd (lcores 0@0,1@0), io forwarding, ports paired:
            an endless pcap source -> virtio_user(a) ... gateway a->b ...
            virtio_user(b) -> a null sink

Both arms are set up once and take turns, the order flipping every round;
the idle arm is stopped with SIGSTOP (its process groups), as in the net
benchmark's interleaved mode. Per kill:

  replay   until both devices are replayed to the next gateway: the later
           of the keeper's two replay lines, which give the time since the
           keeper reaped the dead gateway (its SIGCHLD wakes the keeper)
  traffic  from the kill, on the host clock, until the next gateway answers
           `stats` for b with tx_packets > 0 (its counters start at 0); its
           control socket is polled every millisecond

Before a standby kill the standby is ready (its "standby: EAL up" line after
the keeper's last "standby gateway started"), plus 0.5 s; a cold kill
follows 1.5 s after traffic came back. Kills meeting no ready standby, or
replaced without "(the standby took over)", are reported.

Python 3 standard library only; processes, locking and clean-up come from
vhostgw-bench. Not a pass/fail test. Exit status 0 when every kill was
measured, 1 on an error, 130 on Ctrl-C.
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
COLD_GAP = 1.5          # s after traffic is back, before the next cold kill
STANDBY_GAP = 0.5       # s after the standby is ready
SETTLE = 0.5            # s after resuming an arm
READY_LINE = "standby: EAL up, waiting for the keeper"


def write_pcap(path, size=256, count=64):
    """count frames of size bytes (no FCS) from ...:0a to ...:0b."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(count):
            fr = (bytes.fromhex("02000000000b02000000000a88b5") + struct.pack("!I", i) +
                  bytes((i * 7 + j * 13) & 0xFF for j in range(size - 18)))
            f.write(struct.pack("<IIII", 1, i, len(fr), len(fr)) + fr)


def b_stats(path):
    """(restarts, b's tx_packets) from a control socket, None if none answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(path)
        s.sendall(b'{"cmd":"stats","device":"b"}\n')
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
    return r.get("restarts", 0), r["devices"][0]["tx_packets"]


def signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


class Arm:
    """One keeper with its gateways, and its own front-end."""

    def __init__(self, name, args, wd, pcap):
        self.name = name
        self.wd = os.path.join(wd, name)
        os.mkdir(self.wd)
        self.prefix = f"vgwr{os.getpid()}{name[0]}"
        self.ctl_path = os.path.join(self.wd, "gw.ctl")
        self.kills = []
        self.paused = False
        self.tp = None
        socks = {d: os.path.join(self.wd, f"{d}.sock") for d in ("a", "b")}
        cfg = {"runtime_dir": self.wd,
               "devices": [{"name": d, "type": "net", "socket": s} for d, s in socks.items()],
               "links": [{"xconnect": ["a", "b"]}]}
        cfg_path = os.path.join(self.wd, "gw.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=1)
        argv = ([args.keeper, "--dir", os.path.join(self.wd, "keeper"),
                 "--stable-ms", str(STABLE_MS)] +
                (["--no-standby"] if name == "cold" else []) +
                ["--", args.vhostgw, "--no-pci", f"--file-prefix={self.prefix}",
                 "-m", str(MEM), "--lcores=0@0,1@1",
                 "--", "--config", cfg_path, "--control-socket", self.ctl_path])
        self.keeper = vb.Proc(f"keeper-{name}", argv, self.wd, self.prefix)
        try:
            self.start_front_end(args, socks, pcap)
        except BaseException:
            self.stop()
            raise

    def start_front_end(self, args, socks, pcap):
        if not self.keeper.wait_output(r"gateway 1 started", 20) or \
                not all(os.path.exists(s) for s in socks.values()):
            raise BenchError(f"{self.name}: the keeper did not start:\n{self.keeper.tail()}")
        eal = ["--single-file-segments", "--lcores=0@0,1@0",
               "--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
               "--vdev", f"net_virtio_user0,path={socks['a']}",
               "--vdev", f"net_virtio_user1,path={socks['b']}",
               "--vdev", "net_null0,no-rx=1"]
        app = ["--nb-cores=1", "--no-flush-rx", "--forward-mode=io", "--port-topology=paired"]
        self.tp = vb.Testpmd(f"testpmd-{self.name}", args.testpmd, self.wd, self.prefix + "f",
                             eal, app, MEM)
        self.tp.cmd("start")
        self.wait_traffic(0, 30)
        self.wait_ready()

    def out(self):
        return self.keeper.output()

    def gateways(self):
        """[(generation, pid, took over)] of every gateway the keeper started."""
        return [(int(g), int(p), bool(s)) for g, p, s in re.findall(
            r"gateway (\d+) started: pid (\d+)( \(the standby took over\))?", self.out())]

    def standby_ready(self):
        if self.name != "standby":
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

    def wait_traffic(self, restarts, timeout, since=None):
        """Until a gateway with this many restarts forwards on b; the time."""
        deadline = time.monotonic() + timeout
        while True:
            r = b_stats(self.ctl_path)
            now = time.monotonic()
            if r is not None and r[0] >= restarts and r[1] > 0:
                return now
            if now > deadline or not self.keeper.alive():
                raise BenchError(f"{self.name}: no traffic on b after "
                                 f"{timeout if since is None else now - since:.1f} s "
                                 f"(last answer {r}):\n{self.keeper.tail()}")
            time.sleep(0.001)

    def replays(self, gen):
        """{device: the keeper's ms from the death to its replay to gateway gen}."""
        # not anchored to the keeper's "vhostgw-keeper[time]: " prefix: it is
        # written apart from the message, and a gateway's line may come between
        return {m.group(1): float(m.group(2)) for m in re.finditer(
            rf"device (a|b): \d+ message\(s\) replayed to gateway {gen}, ([\d.]+) ms after",
            self.out())}

    def pause(self):
        for pid in (self.tp.proc.pid, self.keeper.pid):
            signal_group(pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        for pid in (self.keeper.pid, self.tp.proc.pid):
            signal_group(pid, signal.SIGCONT)
        self.paused = False

    def kill(self, i):
        """One SIGKILL of the running gateway, measured; then the gap."""
        gen, pid, _ = self.gateways()[-1]
        r0 = b_stats(self.ctl_path)
        if r0 is None or not self.tp.proc.alive():
            raise BenchError(f"{self.name}: gateway {gen} does not answer before kill {i}")
        ready = self.standby_ready()
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        t_fwd = self.wait_traffic(gen, 10, since=t0)
        deadline = time.monotonic() + 5
        while len(self.replays(gen + 1)) < 2:
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: gateway {gen + 1} not replayed:\n"
                                 f"{self.keeper.tail()}")
            time.sleep(0.01)
        rep = self.replays(gen + 1)
        new = [g for g in self.gateways() if g[0] == gen + 1][0]
        k = dict(arm=self.name, kill=i, pid=pid, next_pid=new[1], took_over=new[2],
                 standby_ready=ready if self.name == "standby" else None,
                 replay_ms=max(rep.values()), replays=rep,
                 traffic_ms=round((t_fwd - t0) * 1000, 1))
        self.kills.append(k)
        note = ""
        if self.name == "standby" and not (ready and new[2]):
            note = f"  (standby {'ready' if ready else 'NOT ready'}, " \
                   f"{'took over' if new[2] else 'cold start'})"
        log(f"{self.name:>7} kill {i + 1:2}: replay {k['replay_ms']:6.1f} ms, traffic "
            f"{k['traffic_ms']:6.1f} ms{note}")
        if self.name == "standby":
            self.wait_ready()
            time.sleep(STANDBY_GAP)
        else:
            time.sleep(COLD_GAP)

    def stop(self):
        if self.paused:
            self.resume()
        if self.tp is not None:
            self.tp.quit()
        rc = self.keeper.stop()
        for p in (self.prefix, self.prefix + "-k0", self.prefix + "-k1"):
            vb.remove_dpdk_files(p)
        if rc != 0:
            log(f"warning: keeper ({self.name}) exited with {rc}:\n{self.keeper.tail(1000)}")


def run(args, wd, arms):
    """Both arms set up, then args.kills rounds of one kill each."""
    pcap = os.path.join(wd, "in.pcap")
    write_pcap(pcap)
    try:
        for name in ARMS:
            arms[name] = Arm(name, args, wd, pcap)
            arms[name].pause()
            log(f"{name}: keeper pid {arms[name].keeper.pid}, front-end pid "
                f"{arms[name].tp.proc.pid}, forwarding")
        for i in range(args.kills):
            for name in (ARMS if i % 2 == 0 else ARMS[::-1]):
                arm = arms[name]
                arm.resume()
                time.sleep(SETTLE)
                arm.kill(i)
                arm.pause()
    finally:
        for arm in arms.values():
            arm.stop()


def quantile(v, q):
    """Nearest rank."""
    s = sorted(v)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def summarize(arms):
    out = {}
    for name, arm in arms.items():
        s = dict(kills=len(arm.kills))
        for key in ("replay_ms", "traffic_ms"):
            v = [k[key] for k in arm.kills]
            s[key] = dict(median=statistics.median(v), p90=quantile(v, 0.9), max=max(v)) \
                if v else None
        s["not_ready"] = [k["kill"] + 1 for k in arm.kills if k["standby_ready"] is False]
        s["cold_starts"] = [k["kill"] + 1 for k in arm.kills
                            if name == "standby" and not k["took_over"]]
        out[name] = s
    ratio = {}
    for key in ("replay_ms", "traffic_ms"):
        sb, cd = out["standby"][key], out["cold"][key]
        ratio[key] = round(cd["median"] / sb["median"], 2) if sb and cd and sb["median"] else None
    return out, ratio


def print_table(summary, ratio, args):
    print(f"vhostgw-bench recovery: SIGKILL of the gateway under vhostgw-keeper "
          f"--stable-ms {STABLE_MS},\n{args.kills} kills per arm, interleaved; "
          f"net xconnect a<->b, testpmd pcap source at full rate")
    print(f"vhostgw: {args.vhostgw}\nkeeper:  {args.keeper}\n")
    print(f"{'arm':<8} {'kills':>5}   {'kill -> replay ms':^23}   "
          f"{'kill -> traffic ms':^23}".rstrip())
    print(f"{'':<8} {'':>5}   {'median':>7} {'p90':>7} {'max':>7}   "
          f"{'median':>7} {'p90':>7} {'max':>7}")
    for name, s in summary.items():
        cols = []
        for key in ("replay_ms", "traffic_ms"):
            d = s[key]
            cols.append(" ".join(vb.fmt(d and d[f], "7.1f") for f in ("median", "p90", "max")))
        print(f"{name:<8} {s['kills']:>5}   {cols[0]}   {cols[1]}")
    print(f"{'cold/standby':<14}   {vb.fmt(ratio['replay_ms'], '7.2f')}x{'':18}"
          f"{vb.fmt(ratio['traffic_ms'], '7.2f')}x  (ratios of the medians)")
    sb = summary["standby"]
    if sb["not_ready"] or sb["cold_starts"]:
        print(f"\nstandby arm: no ready standby at kill(s) {sb['not_ready'] or '-'}; "
              f"cold start instead of a take-over at kill(s) {sb['cold_starts'] or '-'}")


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="vhostgw-bench recovery",
        description="Time from a SIGKILL of the gateway under vhostgw-keeper to the replay "
        "and to traffic again, hot standby vs. cold restart, interleaved.")
    ap.add_argument("--kills", type=int, default=20, help="kills per arm (default 20)")
    ap.add_argument("--vhostgw", help="the vhostgw binary (default: build/app/vhostgw/"
                    "vhostgw under the repository root, then PATH)")
    ap.add_argument("--keeper", help="the vhostgw-keeper binary (default: build/app/"
                    "vhostgw-keeper/vhostgw-keeper under the repository root, then PATH)")
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd") or "dpdk-testpmd",
                    help="dpdk-testpmd binary (default: from PATH)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log command lines")
    args = ap.parse_args(argv)
    if args.kills < 1:
        ap.error("--kills must be positive")
    return args


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
        if shutil.which(args.testpmd) is None:
            raise BenchError("dpdk-testpmd not found (apt-get install dpdk)")
        if not os.path.ismount(vb.HUGE_DIR):
            raise BenchError(f"{vb.HUGE_DIR} is not a hugetlbfs mount")
        lock = vb.machine_lock(vb.LOCK_PATH)  # noqa: F841 (held until exit)
        need = 5 * MEM  # standby arm: gateway, standby, testpmd; cold: gateway, testpmd
        if vb.hugepages_free() < need:
            raise BenchError(f"{vb.hugepages_free()} MiB of hugepages free, {need} MiB needed")
        wd = tempfile.mkdtemp(prefix="vgw-bench-recovery-")
        os.chmod(wd, 0o755)
        log(f"work directory {wd}; {args.kills} kills per arm")
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
    if rc == 130 or not arms or not all(a.kills for a in arms.values()):
        return rc or 1
    summary, ratio = summarize(arms)
    if args.json:
        json.dump(dict(config=dict(kills=args.kills, stable_ms=STABLE_MS, mem=MEM,
                                   vhostgw=args.vhostgw, keeper=args.keeper,
                                   testpmd=args.testpmd),
                       summary=summary, ratio_cold_standby=ratio,
                       kills=[k for a in arms.values() for k in a.kills],
                       complete=rc == 0), sys.stdout, indent=1)
        print()
    else:
        print_table(summary, ratio, args)
        if rc != 0:
            print("\nincomplete: the run stopped on an error (see the log above)")
    return rc
